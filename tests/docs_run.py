#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""docs_run.py - the docs are run, so that they cannot drift from the code.

    docs_run.py [--cflags FLAGS] [-v] SRC_DIR BUILD_DIR [PAGE...]

Reads the pages (default: SRC_DIR/README.md and SRC_DIR/docs/*.md) and
  - runs every fenced block whose info string is `sh runnable`, and writes
    every block whose info string carries `file=NAME` to NAME first: a
    page's blocks in their order, each in `bash` with `set -euo pipefail`,
    all of one page in one scratch directory that looks like the top of the
    tree (each top-level entry of SRC_DIR linked, `build-demo` linking
    BUILD_DIR), BUILD_DIR first on PATH, HR_SITE naming an empty throwaway
    directory; FLAGS (a sanitizer build's) are added to every `cc`;
  - checks every relative link: its file exists, its #anchor is a heading
    of the page it names (GitHub's rule for anchors).
A block fails when a command in it fails or it runs over BLOCK_SECONDS;
each failure is named by page and line.  Invariants: every process a block
starts in its own process group ends with the block; every site a block
named (its HR_SITE at exit, and the page's) is stopped after the page, and
a controller still running in the scratch directory is a failure.  The
default pages must hold a runnable block (the README's quick start).
-v prints what every block said, not only a failing one's.
Exit 0 when all ran and all links resolve, 1 otherwise.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

BLOCK_SECONDS = 120
FENCE = re.compile(r'^(\s*)(`{3,}|~{3,})\s*([^`]*)$')
HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')
LINK = re.compile(r'\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
CODE_SPAN = re.compile(r'(`+).*?\1')

failures = []
verbose = False


def fail(where, what):
    failures.append(where)
    print(f"docs_run: FAIL: {where}: {what}", flush=True)


def parse(path):
    """The page's fenced blocks (line, info words, text) and its other lines
    (line number, text), fences left out."""
    lines = open(path, encoding='utf-8').read().split('\n')
    blocks, prose = [], []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            prose.append((i + 1, lines[i]))
            i += 1
            continue
        indent, fence, info = m.group(1), m.group(2), m.group(3).split()
        body, j = [], i + 1
        close = re.compile(r'^\s*' + re.escape(fence[0]) + '{' +
                           str(len(fence)) + r',}\s*$')
        while j < len(lines) and not close.match(lines[j]):
            line = lines[j]
            body.append(line[len(indent):] if line.startswith(indent) else
                        line.lstrip())
            j += 1
        blocks.append((i + 1, info, '\n'.join(body) + '\n'))
        i = j + 1
    return blocks, prose


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped,
    spaces as hyphens."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # a link's text
    return re.sub(r'[^\w\- ]', '', text.strip().lower()).replace(' ', '-')


def anchors(path):
    seen, out = {}, set()
    for _, text in parse(path)[1]:
        m = HEADING.match(text)
        if m:
            s = slug(m.group(2))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


def check_links(page, rel):
    count = 0
    for line, text in parse(page)[1]:
        for target in LINK.findall(CODE_SPAN.sub('', text)):
            if re.match(r'^[a-z][a-z0-9+.-]*:', target):
                continue  # http:, https:, mailto:
            count += 1
            path, _, anchor = target.partition('#')
            dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) \
                if path else page
            if not os.path.exists(dest):
                fail(f"{rel}:{line}", f"link {target}: no such file")
            elif anchor and dest.endswith('.md') and anchor not in anchors(dest):
                fail(f"{rel}:{line}", f"link {target}: no heading "
                     f"'{anchor}' in {os.path.basename(dest)}")
    return count


def stop_site(site, env):
    e = dict(env, HR_SITE=site)
    subprocess.run(['hr', 'site', 'stop'], env=e, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=90)


def controllers_in(directory):
    """Controllers whose working directory is in `directory`."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/comm') as f:
                if f.read().strip() != 'hrd':
                    continue
            cwd = os.readlink(f'/proc/{pid}/cwd')
        except OSError:
            continue
        if cwd == directory or cwd.startswith(directory + '/'):
            found.append(int(pid))
    return found


def run_block(script, scratch, env, where):
    proc = subprocess.Popen(['bash', script], cwd=scratch, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=BLOCK_SECONDS)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # its EXIT trap still records
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        status = f"timeout ({BLOCK_SECONDS} s)"
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # what the block left running
    except ProcessLookupError:
        pass
    said = ''.join(f"    | {l}\n" for l in
                   out.decode(errors='replace').splitlines())
    if status != 0:
        fail(where, f"the block exited with status {status}; it said:\n{said}")
        return False
    print(f"docs_run: ok: {where}", flush=True)
    if verbose:
        print(said, end='', flush=True)
    return True


def run_page(page, rel, blocks, src, build, cflags, work):
    scratch = tempfile.mkdtemp(prefix='page.', dir=work)
    shm = '/dev/shm' if os.path.isdir('/dev/shm') else None
    site = tempfile.mkdtemp(prefix='hrdocs.', dir=shm)
    with open(site + '.test', 'w') as f:  # scripts/test.sh names leftovers so
        f.write(f"docs_run ({rel})\n")
    sites = os.path.join(scratch, '.docs_run_sites')
    for name in os.listdir(src):
        if name != '.git' and not name.startswith('build'):
            os.symlink(os.path.join(src, name), os.path.join(scratch, name))
    os.symlink(build, os.path.join(scratch, 'build-demo'))
    path = build + ':' + os.environ.get('PATH', '/usr/bin:/bin')
    if cflags:
        bindir = os.path.join(scratch, '.bin')
        os.mkdir(bindir)
        with open(os.path.join(bindir, 'cc'), 'w') as f:
            f.write(f'#!/bin/sh\nexec /usr/bin/cc "$@" {cflags}\n')
        os.chmod(os.path.join(bindir, 'cc'), 0o755)
        path = bindir + ':' + path
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('HR_', 'LISTEN_', 'NOTIFY_'))}
    env.update(PATH=path, HR_SITE=site)
    ran = 0
    try:
        for line, info, text in blocks:
            where = f"{rel}:{line}"
            files = [w[5:] for w in info if w.startswith('file=')]
            for name in files:
                with open(os.path.join(scratch, name), 'w') as f:
                    f.write(text)
            if 'runnable' not in info:
                continue
            if info[0] not in ('sh', 'bash'):
                fail(where, "only sh blocks are runnable")
                continue
            script = os.path.join(scratch, f'.block{line}.sh')
            with open(script, 'w') as f:
                f.write(f"trap 'echo \"${{HR_SITE:-}}\" >> {sites}' EXIT\n"
                        f"trap 'echo \"docs_run: {rel}:$((LINENO + {line - 3})):"
                        f" $BASH_COMMAND\" failed >&2' ERR\n"
                        f"set -euo pipefail\n{text}")
            ran += 1
            if not run_block(script, scratch, env, where):
                break  # the blocks after it stand on it
    finally:
        named = {site}
        if os.path.exists(sites):
            named |= {s for s in open(sites).read().split('\n') if s}
        for s in named:
            stop_site(s, env)
        left = controllers_in(scratch)
        if left:
            fail(rel, f"its blocks left controllers running: {left}")
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        for s in named:  # throwaway sites only
            if s == site or (shm and s.startswith(shm + '/')):
                shutil.rmtree(s, ignore_errors=True)
        os.unlink(site + '.test')
        shutil.rmtree(scratch, ignore_errors=True)
    return ran


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cflags', default='')
    ap.add_argument('-v', action='store_true')
    ap.add_argument('src')
    ap.add_argument('build')
    ap.add_argument('pages', nargs='*')
    a = ap.parse_args()
    global verbose
    verbose = a.v
    src, build = os.path.abspath(a.src), os.path.abspath(a.build)
    pages = [os.path.abspath(p) for p in a.pages]
    if not pages:
        docs = os.path.join(src, 'docs')
        pages = [os.path.join(src, 'README.md')] + sorted(
            os.path.join(docs, n) for n in os.listdir(docs) if n.endswith('.md'))
    work = os.path.join(build, 'docs_run')
    os.makedirs(work, exist_ok=True)
    links = ran = 0
    for page in pages:
        rel = os.path.relpath(page, src)
        blocks = parse(page)[0]
        links += check_links(page, rel)
        if not a.pages and rel == 'README.md' and \
                not any('runnable' in info for _, info, _ in blocks):
            fail(rel, "no runnable block: the quick start must be one")
        if any('runnable' in info for _, info, _ in blocks):
            ran += run_page(page, rel, blocks, src, build, a.cflags, work)
    print(f"docs_run: {ran} runnable blocks of {len(pages)} pages run, "
          f"{links} links checked, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
