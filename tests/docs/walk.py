#!/usr/bin/env python3
"""docs.walk: a walk through README.md and deploy/README.md as a new user takes it.

Every ```sh block of both files must be listed in WALK below, by its first command
line, with what happens to it here:
  - "run": the block runs, word for word, in a fresh copy of the repository (the
    files git knows, as a clone has them) with a clean environment; it must exit 0
    and leave what the page says (checked per block);
  - "test NAME": another test runs it word for word (the test named);
  - "not here: WHY": it cannot run on this machine (no Kubernetes cluster, no
    Docker daemon, no systemd): the reason is printed; what can be checked offline
    is checked by the test named in the reason.
Lines of a "run" block that cannot run here are listed with their reason and left
out (e.g. `scripts/test`: the suite itself, which runs this walk).
A new or changed block that WALK does not know fails the walk: decide what it is.

Environment: ODOOSYNC_SOURCE_DIR (the repository).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("ODOOSYNC_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NO_CLUSTER = ("not here: needs a Kubernetes cluster (the manifests it applies are "
              "rendered and validated offline by deploy.k8s)")

# (page, first command line of the block) -> what happens to it
WALK = {
    ("README.md", "scripts/demo"): "run",
    ("README.md", ".stack-demo/odoosync run --once --config .stack-demo/odoosync.json"):
        "test docs.demo_followup",
    ("README.md", "cmake -S . -B build && cmake --build build -j"): "run",
    ("deploy/README.md", "docker build -f deploy/Dockerfile -t registry.example.com/odoosync:0.1.0 ."):
        "not here: no Docker daemon (the same Dockerfile is built with buildah by image.build)",
    ("deploy/README.md", "deploy/debian-base"): "test image.build",
    ("deploy/README.md", "kubectl create namespace odoosync"): NO_CLUSTER,
    ("deploy/README.md", "read -rsp 'Odoo API key: ' ODOO_API_KEY; echo"): NO_CLUSTER,
    ("deploy/README.md", "kubectl -n odoosync delete job odoosync-check --ignore-not-found"):
        NO_CLUSTER,
    ("deploy/README.md", "kubectl apply -k deploy/k8s/overlays/production"): NO_CLUSTER,
    ("deploy/README.md", "kubectl -n odoosync delete job odoosync-replay --ignore-not-found"):
        NO_CLUSTER,
    ("deploy/README.md", "install -m 0755 build/odoosync /usr/local/bin/odoosync"):
        "not here: installs into /etc and /usr/local and needs systemd as PID 1 (the unit "
        "is checked by deploy.systemd, the example configuration by deploy.config)",
}

# Lines of "run" blocks that cannot run here.
SKIP_LINES = {
    "scripts/test": "the whole suite, which runs this walk",
}


def blocks(page):
    """[(first command line, block text)] of the ```sh/```bash blocks of page."""
    with open(os.path.join(SRC, page)) as f:
        text = f.read()
    out = []
    for m in re.finditer(r"^```(?:sh|bash)\n(.*?)^```$", text, re.S | re.M):
        body = m.group(1)
        first = next((ln.split(" #")[0].strip() for ln in body.splitlines()
                      if ln.strip() and not ln.lstrip().startswith("#")), "")
        out.append((first, body))
    return out


def fresh_copy(dest):
    """The files of the repository as a clone has them (tracked and new, not ignored)."""
    files = subprocess.run(["git", "-C", SRC, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, check=True).stdout
    for rel in files.decode().split("\0"):
        if not rel or not os.path.lexists(os.path.join(SRC, rel)):
            continue
        d = os.path.join(dest, os.path.dirname(rel))
        os.makedirs(d, exist_ok=True)
        shutil.copy2(os.path.join(SRC, rel), os.path.join(dest, rel), follow_symlinks=False)


def run_block(repo, body):
    lines = []
    for ln in body.splitlines():
        cmd = ln.split(" #")[0].strip()
        if cmd in SKIP_LINES:
            print("    not run: %s (%s)" % (cmd, SKIP_LINES[cmd]))
            continue
        lines.append(ln)
    script = "\n".join(lines) + "\n"
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    t0 = time.monotonic()
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=repo, env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return p, time.monotonic() - t0


# What each "run" block leaves, checked after it ran (repo: the copy).
def after_demo(repo, p):
    assert "both sides agree" in p.stdout, "scripts/demo did not end with both sides agreeing"
    assert not os.path.exists(os.path.join(repo, ".stack-demo")), "scripts/demo left its stack"


def after_build(repo, p):
    v = subprocess.run([os.path.join(repo, "build", "odoosync"), "--version"],
                       capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("odoosync "), "build/odoosync --version"


AFTER = {"scripts/demo": after_demo,
         "cmake -S . -B build && cmake --build build -j": after_build}


def main():
    fail = 0
    found = []
    for page in ("README.md", "deploy/README.md"):
        for first, body in blocks(page):
            found.append((page, first, body))
    unknown = [(p, f) for p, f, _ in found if (p, f) not in WALK]
    for p, f in unknown:
        print("FAIL: %s: a command block WALK does not know (tests/docs/walk.py): %s" % (p, f))
        fail = 1
    gone = [k for k in WALK if k not in {(p, f) for p, f, _ in found}]
    for p, f in gone:
        print("FAIL: %s: WALK lists a block the page no longer has: %s" % (p, f))
        fail = 1
    tmp = tempfile.mkdtemp(prefix="odoosync-walk-")
    os.chmod(tmp, 0o755)  # the demo's Apache (www-data) serves a directory under it
    repo = os.path.join(tmp, "odoosync")
    try:
        fresh_copy(repo)
        for page, first, body in found:
            what = WALK.get((page, first))
            if what is None:
                continue
            if what != "run":
                print("%s: %s: %s" % (page, first, what))
                continue
            print("%s: %s: runs" % (page, first))
            p, took = run_block(repo, body)
            if p.returncode != 0:
                print("FAIL: exit %d after %.0f s\n--- stdout\n%s\n--- stderr\n%s" % (
                    p.returncode, took, p.stdout[-4000:], p.stderr[-4000:]))
                fail = 1
                continue
            try:
                if first in AFTER:
                    AFTER[first](repo, p)
                print("    ok in %.0f s" % took)
            except AssertionError as e:
                print("FAIL: %s\n--- stdout\n%s\n--- stderr\n%s" % (e, p.stdout[-4000:],
                                                                   p.stderr[-4000:]))
                fail = 1
    finally:
        subprocess.run([os.path.join(repo, "tests", "stack", "stack"), "down", "--dir",
                        os.path.join(repo, ".stack-demo")], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok" if not fail else "walk failed")
    return fail


if __name__ == "__main__":
    sys.exit(main())
