#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""check_fleet_k8s.py FLEET PROXY TEMPLATE: the fleet's Kubernetes
manifests (deploy/kubernetes/hotrestart-fleet.yaml, twemproxy.yaml) say
what docs/fleet.md says, and the proxy runs the tested configuration:

- the StatefulSet updates no pod by itself (updateStrategy OnDelete: an
  image is updated in place, pod by pod, keeping each pod's emptyDir);
- its headless Service names each pod (clusterIP None, the StatefulSet's
  serviceName and labels, names published before readiness);
- twemproxy's nutcracker.yml has every setting of TEMPLATE
  (deploy/twemproxy/nutcracker.yml, the file tests/test_fleet.py runs)
  but listen and servers; its servers are the StatefulSet's pods, one
  each, in order, at the port the site holds (sysadm.ini's arun
  --listen), each named nodeN after its pod;
- the proxy's Deployment runs nutcracker -c on that ConfigMap, listens
  on a port of its container, and its Service targets that port.
(tests/check_k8s.py checks the pod of the StatefulSet.)  Each failure is
named; exit 1."""
import re
import sys

import yaml

from check_k8s import need, problems


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def one(docs, kind, path):
    found = [d for d in docs if d.get("kind") == kind]
    if need(len(found) == 1, f"{path}: not one {kind}"):
        return found[0]
    return None


def check_fleet(docs, path):
    """The StatefulSet and its Service: (pod names, held port)."""
    sts, svc = one(docs, "StatefulSet", path), one(docs, "Service", path)
    cm = one(docs, "ConfigMap", path)
    if not (sts and svc and cm):
        return [], None
    spec = sts["spec"]
    need(spec.get("updateStrategy", {}).get("type") == "OnDelete",
         "the StatefulSet's updateStrategy is not OnDelete: a template "
         "change would replace its pods (cold)")
    s = svc["spec"]
    need(svc["metadata"]["name"] == spec.get("serviceName"),
         "the Service is not the StatefulSet's serviceName")
    need(s.get("clusterIP") == "None", "the Service is not headless")
    need(s.get("publishNotReadyAddresses") is True,
         "the Service does not publish the pods' names before readiness")
    labels = spec["template"]["metadata"]["labels"]
    need(all(labels.get(k) == v for k, v in s.get("selector", {}).items())
         and s.get("selector"), "the Service does not select the pods")
    held = re.findall(r"--listen tcp:[^:\s]+:(\d+)",
                      cm["data"].get("sysadm.ini", ""))
    need(len(held) == 1, f"sysadm.ini holds not one port: {held}")
    name = sts["metadata"]["name"]
    pods = ["%s-%d.%s" % (name, i, spec.get("serviceName"))
            for i in range(spec.get("replicas", 1))]
    return pods, int(held[0]) if held else None


def check_proxy(docs, path, template, pods, port):
    cm, dep = one(docs, "ConfigMap", path), one(docs, "Deployment", path)
    svc = one(docs, "Service", path)
    if not (cm and dep and svc):
        return
    with open(template) as f:
        want = yaml.safe_load(f)
    have = yaml.safe_load(cm["data"].get("nutcracker.yml", "")) or {}
    need(list(have) == list(want),
         f"pools {list(have)}, the template has {list(want)}")
    for pool, w in want.items():
        h = have.get(pool, {})
        for k in sorted(set(w) | set(h)):
            if k not in ("listen", "servers"):
                need(h.get(k) == w.get(k), f"pool {pool}: {k} is "
                     f"{h.get(k)!r}, the tested configuration's "
                     f"{w.get(k)!r}")
        servers = h.get("servers", [])
        need(len(servers) == len(pods), f"pool {pool}: {len(servers)} "
             f"servers for {len(pods)} pods")
        for i, (srv, pod) in enumerate(zip(servers, pods)):
            need(srv == "%s:%s:1 node%d" % (pod, port, i),
                 f"pool {pool}: server {srv!r} is not "
                 f"'{pod}:{port}:1 node{i}'")
        listen = int(str(h.get("listen", ":0")).rsplit(":", 1)[-1])
        c = dep["spec"]["template"]["spec"]["containers"][0]
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        need(listen in ports.values(), f"pool {pool} listens on {listen}, "
             f"not a port of the container {list(ports.values())}")
        target = [p.get("targetPort") for p in svc["spec"].get("ports", [])]
        need(any(ports.get(t) == listen or t == listen for t in target),
             f"the proxy's Service targets {target}, not {listen}")
    pod = dep["spec"]["template"]["spec"]
    cmd = pod["containers"][0].get("command", [])
    need(cmd[:1] == ["nutcracker"] and "-c" in cmd,
         f"the proxy does not run nutcracker -c: {cmd}")
    conf = cmd[cmd.index("-c") + 1] if "-c" in cmd else ""
    mounts = {m["mountPath"].rstrip("/"): m["name"]
              for m in pod["containers"][0].get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    vol = vols.get(mounts.get(conf.rsplit("/", 1)[0]), {})
    need(vol.get("configMap", {}).get("name") == cm["metadata"]["name"]
         and conf.endswith("/nutcracker.yml"),
         f"-c {conf} is not the ConfigMap's nutcracker.yml")


def main(fleet, proxy, template):
    pods, port = check_fleet(load(fleet), fleet)
    check_proxy(load(proxy), proxy, template, pods, port)


if __name__ == "__main__":
    main(*sys.argv[1:4])
    for p in problems:
        print(f"check_fleet_k8s: {p}", file=sys.stderr)
    if not problems:
        print("check_fleet_k8s: the fleet's manifests agree with each "
              "other and with the tested nutcracker.yml")
    sys.exit(1 if problems else 0)
