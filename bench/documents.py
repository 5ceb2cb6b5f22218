#!/usr/bin/env python3
"""documents: Odoo's Documents app to an empty WebDAV root, against rclone (issue 16).

DOCS documents of SIZE bytes (default 10,000 x 4 KiB) spread over FOLDERS Documents
folders (default 500: 25 top-level folders of 19 sub-folders each, then round-robin),
written straight into a fresh emulator's database (the stack's Odoo version: 17 =
documents.folder, 18/19 = folders as documents), then:

  first pass   `odoosync run --once` with documents.enabled (mapping "*"), no types
  no change    the same command again (nothing to do: the scan and plan only)
  rclone       `rclone sync --transfers C` of the same tree (same names, same bytes) from a
               local folder to another root, then again with no change

Wall time, peak RSS, requests to Odoo (the emulator's counters) and to WebDAV (Apache's
access log), ratios odoosync/rclone. rclone compares sizes and modification times; it
cannot keep identity, so a rename on either side is a copy and a delete for it.

usage: documents.py [--docs 10000] [--folders 500] [--size 4096] [--concurrency 8]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import log, mib  # noqa: E402

sys.path.insert(0, os.path.join(benchlib.SRC, "tests", "odoo"))
import emulator  # noqa: E402
import seed  # noqa: E402


def tree_shape(nfolders):
    """[(index, parent index or None, name)]: 25 top folders, the rest below them."""
    tops = min(25, nfolders)
    out = [(i, None, "Folder %03d" % i) for i in range(tops)]
    for i in range(tops, nfolders):
        out.append((i, i % tops, "Sub %03d" % i))
    return out


def seed_documents(stack, ndocs, nfolders, size):
    """Folders and documents written into the emulator's database (it may be running)."""
    t0 = time.monotonic()
    version = int(stack.env.get("ODOO_VERSION", "17"))
    odoo = emulator.Odoo(stack.odoo_dir, version, "")
    fmodel = "documents.folder" if version <= 17 else "documents.document"
    parent = "parent_folder_id" if version <= 17 else "folder_id"
    ids = {}
    try:
        def folders(env):
            m = env.odoo.models[fmodel]
            for i, p, name in tree_shape(nfolders):
                vals = {"name": name, parent: ids[p] if p is not None else False}
                if version >= 18:
                    vals["type"] = "folder"
                ids[i] = emulator.create_records(env, m, vals)
        odoo.run(folders)
        for start in range(0, ndocs, 500):
            def docs(env, start=start):
                m = env.odoo.models["documents.document"]
                emulator.create_records(env, m, [
                    {"name": "doc-%06d.bin" % k, "folder_id": ids[k % nfolders],
                     "datas": seed.b64(seed.unique_blob(k, size, b"docs"))}
                    for k in range(start, min(ndocs, start + 500))])
            odoo.run(docs)
    finally:
        odoo.close()
    log("seeded %d folders and %d documents of %d bytes in %.1f s"
        % (nfolders, ndocs, size, time.monotonic() - t0))


def local_tree(dest, ndocs, nfolders, size):
    paths = {}
    for i, p, name in tree_shape(nfolders):
        paths[i] = os.path.join(paths[p], name) if p is not None else os.path.join(dest, name)
        os.makedirs(paths[i])
    for k in range(ndocs):
        with open(os.path.join(paths[k % nfolders], "doc-%06d.bin" % k), "wb") as f:
            f.write(seed.unique_blob(k, size, b"docs"))


def write_config(stack, path, root, concurrency):
    benchlib.write_config(stack, path, root, concurrency)
    with open(path) as f:
        cfg = json.load(f)
    cfg["types"] = []
    cfg["standalone"] = {"enabled": False}
    cfg["documents"] = {"enabled": True, "mappings": [{"odoo": "*"}]}
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)


def rclone(stack, src, transfers):
    pw = subprocess.run(["rclone", "obscure", stack.env["DAV_PASSWORD"]], capture_output=True,
                        text=True, check=True).stdout.strip()
    env = dict(os.environ, RCLONE_CONFIG_BENCHDAV_TYPE="webdav",
               RCLONE_CONFIG_BENCHDAV_URL=stack.env["DAV_URL"],
               RCLONE_CONFIG_BENCHDAV_VENDOR="other",
               RCLONE_CONFIG_BENCHDAV_USER=stack.env["DAV_USER"],
               RCLONE_CONFIG_BENCHDAV_PASS=pw)
    return benchlib.measure(["rclone", "sync", "--transfers", str(transfers), src,
                             "benchdav:bench-docs-rclone"], env=env)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10000)
    ap.add_argument("--folders", type=int, default=500)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()
    if not shutil.which("rclone"):
        raise SystemExit("bench: rclone is not installed (apt-get install rclone)")
    rows = []
    tmp = tempfile.mkdtemp(prefix="bench-docs-")
    try:
        with benchlib.Stack() as stack:
            seed_documents(stack, a.docs, a.folders, a.size)
            cfg = os.path.join(tmp, "odoosync.json")
            write_config(stack, cfg, "bench-docs", a.concurrency)
            argv = [benchlib.binary(), "run", "--once", "-c", cfg, "-L", "warn"]
            for label in ("odoosync first pass", "odoosync no change"):
                stack.odoo_reset_stats()
                d0 = stack.dav_requests()
                r = benchlib.measure(argv, env=benchlib.odoosync_env(stack))
                if r.rc != 0:
                    log("%s exited %d:\n%s" % (label, r.rc, r.stderr[-3000:]))
                rows.append([label, "%.1f s" % r.wall, mib(r.maxrss_kb),
                             stack.odoo_requests(), stack.dav_requests() - d0, r.rc])
            src = os.path.join(tmp, "tree")
            local_tree(src, a.docs, a.folders, a.size)
            for label in ("rclone sync", "rclone no change"):
                d0 = stack.dav_requests()
                r = rclone(stack, src, a.concurrency)
                rows.append([label, "%.1f s" % r.wall, mib(r.maxrss_kb), 0,
                             stack.dav_requests() - d0, r.rc])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    benchlib.table("documents: %d x %d B in %d folders, concurrency %d"
                   % (a.docs, a.size, a.folders, a.concurrency),
                   ["run", "wall", "peak RSS", "Odoo requests", "WebDAV requests", "exit"],
                   rows)
    for k in (0, 1):
        w_o = float(rows[k][1].split()[0])
        w_r = float(rows[k + 2][1].split()[0])
        print("%-20s odoosync/rclone wall %.2f" % (rows[k][0], w_o / w_r if w_r else 0))


if __name__ == "__main__":
    main()
