#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""check_k8s.py MANIFEST: the Kubernetes manifest of deploy/kubernetes/ is
well-formed YAML (python3-yaml) and says what docs/operating.md says it does
(of its one workload: a Deployment, or the StatefulSet of docs/fleet.md):
hrd is the entrypoint; the site is a directory inside a memory-backed
emptyDir whose sizeLimit covers the RAM bank of the ConfigMap's site.conf;
the configuration is that ConfigMap, mounted where --config points;
exec probes run `hr ps`; the port the controller holds (sysadm.ini's
arun --listen) is the container's; the heap of each hrcached that
sysadm.ini runs, with hrd's own blocks, fits the RAM bank.  Each failure
is named; exit 1."""
import re
import sys

import yaml

problems = []


def need(cond, what):
    if not cond:
        problems.append(what)
    return cond


def size(text):
    """Bytes of a site.conf size (256M: powers of 1024, as hrd reads it)."""
    m = re.fullmatch(r"(\d+)([KMGT]?)(i?)", text.strip())
    if not m:
        raise ValueError(f"not a size: {text!r}")
    shift = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2)]
    return int(m.group(1)) << shift


def quantity(text):
    """A Kubernetes quantity: Mi is 2^20, M is 10^6."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(text).strip())
    if not m:
        raise ValueError(f"not a quantity: {text!r}")
    unit = m.group(2) or ""
    mult = {"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30,
            "Ti": 1 << 40, "k": 10**3, "M": 10**6, "G": 10**9,
            "T": 10**12}[unit]
    return int(m.group(1)) * mult


def hrcached_heap(mem_mb):
    """Bytes of the heap hrcached makes for -m MEM_MB: the arithmetic of
    mc_store_heap_size() (hrcached/table.c) and mc_grow_max_buckets()
    (hrcached/grow.c, MC_TABLE_START 1024), which a change there must
    change here."""
    limit = mem_mb << 20
    buckets = 1024
    while buckets < limit // 256:
        buckets <<= 1
    arena = limit + limit // 8 + buckets * 8 * 2 + (1 << 20)
    log = min(arena // 7, 16 << 20)
    return (arena + log + (64 << 10) + 4095) & ~4095


# hrd's own blocks in the RAM bank beside the heaps (hr pmm ls): the
# registry (52 KiB), per actor its program's image (hrcached: 1 MiB
# unstripped), its arguments and its version, and while hr upgrade runs a
# trial image; in a huge-page bank a block of 2 MiB or more starts on a
# 2 MiB boundary, which may leave up to 2 MiB unused before it.
HRD_BLOCKS = 4 << 20


def hrcached_memory(argv):
    """MiB of hrcached's -m (--memory-limit), 64 when not given."""
    mem = "64"
    for i, a in enumerate(argv):
        if a in ("-m", "--memory-limit") and i + 1 < len(argv):
            mem = argv[i + 1]
        elif a.startswith("--memory-limit="):
            mem = a.split("=", 1)[1]
        elif a.startswith("-m") and len(a) > 2 and a[2:].isdigit():
            mem = a[2:]
    return int(mem)


def heaps_fit(conf, ini):
    """Each hrcached of sysadm.ini's arun lines makes its heap in the RAM
    bank at its first start (hrcached/main.c): the heaps and hrd's blocks
    must fit pmm.rambankSize, or hrcached exits ("no room for heap") and
    the site fails, hrd with it (a pod in CrashLoopBackOff)."""
    bank = re.search(r"^pmm\.rambankSize=(\S+)$", conf, re.M)
    runs = [line.split() for line in ini.splitlines()
            if re.match(r"\s*arun\b", line) and "hrcached" in line]
    if not bank or not runs:
        return
    argvs = [a[next(i for i, w in enumerate(a) if w.endswith("hrcached")):]
             for a in runs]
    want = sum(hrcached_heap(hrcached_memory(a)) for a in argvs) + HRD_BLOCKS
    mems = ", ".join(f"-m {hrcached_memory(a)}" for a in argvs)
    need_mib = (want + (1 << 20) - 1) >> 20
    need(size(bank.group(1)) >= want,
         f"hrcached {mems} needs {need_mib} MiB of the RAM bank (its heap "
         f"and hrd's blocks): pmm.rambankSize={bank.group(1)} cannot hold it")


def option(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


def main(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    kinds = {d.get("kind"): d for d in docs}
    for d in docs:
        need(d.get("apiVersion") and d.get("metadata", {}).get("name"),
             f"a {d.get('kind')} without apiVersion or name")
    work = kinds.get("Deployment") or kinds.get("StatefulSet")
    if not need(work, "no Deployment or StatefulSet") or \
       not need("ConfigMap" in kinds, "no ConfigMap"):
        return
    pod = work["spec"]["template"]["spec"]
    need(len(pod["containers"]) == 1, "not one container")
    c = pod["containers"][0]
    cmd = c.get("command", [])
    need(cmd and cmd[0].split("/")[-1] == "hrd",
         f"the entrypoint is not hrd: {cmd}")
    site, conf = option(cmd, "--site"), option(cmd, "--config")
    need(site, "hrd is given no --site")
    need(conf, "hrd is given no --config")
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    # the site: a directory inside a memory-backed emptyDir, not its root
    inside = [p for p in mounts if site and
              (site + "/").startswith(p.rstrip("/") + "/")]
    if need(inside, f"the site {site} is in no mounted volume"):
        vol = volumes[mounts[inside[0]]]
        empty = vol.get("emptyDir")
        host = vol.get("hostPath")
        if host is not None:  # the node's huge-page tmpfs (docs/huge-pages.md)
            need(host.get("type") == "Directory",
                 "the site's hostPath is not type Directory (the node's tmpfs)")
            need(site.rstrip("/") != inside[0].rstrip("/"),
                 "the site is the volume's root")
            empty = None
        else:
            need(empty is not None, f"the site's volume is not an emptyDir: {vol}")
    if inside and empty is not None:
        need(empty.get("medium") == "Memory",
             "the site's emptyDir is not memory-backed (medium: Memory)")
        need(site.rstrip("/") != inside[0].rstrip("/"),
             "the site is the volume's root (0777: refused)")
        limit = empty.get("sizeLimit")
        if need(limit, "the site's emptyDir has no sizeLimit"):
            text = kinds["ConfigMap"]["data"].get("site.conf", "")
            bank = re.search(r"^pmm\.rambankSize=(\S+)$", text, re.M)
            if need(bank, "site.conf sets no pmm.rambankSize"):
                need(quantity(limit) >= size(bank.group(1)),
                     f"sizeLimit {limit} does not cover the bank "
                     f"({bank.group(1)})")
    data = kinds["ConfigMap"]["data"]
    heaps_fit(data.get("site.conf", ""), data.get("sysadm.ini", ""))
    # the configuration: the ConfigMap, where --config points
    cm = [n for p, n in mounts.items() if p.rstrip("/") == (conf or "").rstrip("/")]
    if need(cm, f"nothing is mounted at --config {conf}"):
        src = volumes[cm[0]].get("configMap", {}).get("name")
        need(src == kinds["ConfigMap"]["metadata"]["name"],
             f"--config is not the ConfigMap: {volumes[cm[0]]}")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        exe = c.get(probe, {}).get("exec", {}).get("command", [])
        need(exe[:1] == ["hr"] and "ps" in exe,
             f"{probe} does not run hr ps: {exe}")
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    need(env.get("HR_SITE") == site, "HR_SITE (for the probes) is not the site")
    # the held port: arun --listen in sysadm.ini, the container's port
    ini = kinds["ConfigMap"]["data"].get("sysadm.ini", "")
    held = re.findall(r"--listen tcp:[^:\s]+:(\d+)", ini)
    ports = [p["containerPort"] for p in c.get("ports", [])]
    if need(held, "sysadm.ini holds no port (arun --listen)"):
        need(all(int(p) in ports for p in held),
             f"held ports {held} are not the container's {ports}")


if __name__ == "__main__":
    main(sys.argv[1])
    for p in problems:
        print(f"check_k8s: {p}", file=sys.stderr)
    if not problems:
        print(f"check_k8s: {sys.argv[1]}: well-formed, facts agree")
    sys.exit(1 if problems else 0)
