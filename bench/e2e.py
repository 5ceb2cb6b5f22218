#!/usr/bin/env python3
"""e2e: end to end, odoosync against rclone (issue 6's bench bullet).

RECORDS quotations x PER attachments of SIZE bytes (default 2,000 x 5 x 4 KiB = 10,000
files), seeded directly into a fresh emulator (tests/odoo/seed.py --direct), to an empty
cloud root on the stack's Apache WebDAV:

  local        `odoosync run --once` (worker.concurrency = --concurrency, default 8)
  rclone       `rclone copy --transfers 8` of the same 10,000 files (same names, same
               bytes, one folder per record) from a local folder to another root on the
               same WebDAV (a webdav remote with vendor=other, from RCLONE_CONFIG_* env)
  cluster N    when `odoosync produce` and `odoosync work` exist: a fresh stack, N
               `odoosync work` processes (each worker.concurrency threads) started and
               given 6 s to join their group, then the clock runs from `odoosync produce
               --once` until the workers have reported a final event for every job

Wall time, peak RSS, files found on the server afterwards (counted on Apache's disk),
requests per file to Odoo (HTTP requests the emulator served: RPCs, downloads, logins;
scans and planning included) and to the cloud (lines of Apache's access log), ratios
odoosync/rclone (wall: > 1 means odoosync is slower).

usage: e2e.py [--records 2000] [--per 5] [--size 4096] [--concurrency 8]
              [--workers 1,2 | --workers none]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import log, mib  # noqa: E402

sys.path.insert(0, os.path.join(benchlib.SRC, "tests", "odoo"))
import seed  # noqa: E402


def count_files(root):
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".DAV"]
        n += len(filenames)
    return n


def local_tree(dest, records, per, size):
    """The files seed.py --bulk puts in Odoo, as a local folder (one folder per record)."""
    for k in range(records):
        d = os.path.join(dest, "S%05d" % (k + 1))
        os.makedirs(d)
        for j in range(per):
            with open(os.path.join(d, "file-%06d-%02d.bin" % (k, j)), "wb") as f:
                f.write(seed.unique_blob(k * per + j, size))


def run_local(stack, cfg, env, exe):
    log("local: odoosync run --once")
    r = benchlib.measure([exe, "run", "--once", "--config", cfg, "-L", "warn"], env=env)
    jobs = None
    for line in r.stdout.splitlines():
        if line.startswith("pass:"):
            jobs = int(line.split()[1])
            log(line)
    if r.rc != 0:
        log("run --once exited %d:\n%s" % (r.rc, r.stderr[-3000:]))
    return r, jobs


def run_rclone(stack, src, transfers):
    pw = subprocess.run(["rclone", "obscure", stack.env["DAV_PASSWORD"]], capture_output=True,
                        text=True, check=True).stdout.strip()
    env = dict(os.environ, RCLONE_CONFIG_BENCHDAV_TYPE="webdav",
               RCLONE_CONFIG_BENCHDAV_URL=stack.env["DAV_URL"],
               RCLONE_CONFIG_BENCHDAV_VENDOR="other",
               RCLONE_CONFIG_BENCHDAV_USER=stack.env["DAV_USER"],
               RCLONE_CONFIG_BENCHDAV_PASS=pw)
    log("rclone copy --transfers %d" % transfers)
    r = benchlib.measure(["rclone", "copy", "--transfers", str(transfers), src,
                          "benchdav:bench-rclone"], env=env)
    if r.rc != 0:
        log("rclone exited %d:\n%s" % (r.rc, r.stderr[-3000:]))
    return r


def rpc_counts(stack):
    """The emulator's counts of model.method calls and downloads since its last reset."""
    st = stack.odoo_stats()
    return {k: v for k, v in st.items() if not k.startswith(("http ", "rpc "))}


def per_file(n, files):
    return "%.2f" % (n / files) if isinstance(n, int) and files else "-"


def vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def run_cluster(args, nworkers, exe, tmp):
    """A fresh stack and emulator, N workers, produce --once; returns a row."""
    with benchlib.Stack() as stack:
        stack.seed_direct(args.records, args.per, args.size)
        cfg = os.path.join(tmp, "cluster-%d.json" % nworkers)
        benchlib.write_config(stack, cfg, "bench-e2e", args.concurrency)
        tag = "bench%d" % nworkers
        topics = {k: "%s.%s" % (tag, k) for k in ("jobs", "retry", "dlq", "events")}
        for name in topics.values():
            subprocess.run([benchlib.STACK, "kafka", "--dir", stack.dir, "topic", name, "6", "1"],
                           check=True, capture_output=True, timeout=30)
        with open(cfg) as f:
            c = json.load(f)
        c["kafka"] = {"bootstrap": stack.env["KAFKA_BOOTSTRAP"], "topics": topics,
                      "group": tag, "properties": dict(benchlib.MOCK_KAFKA_PROPERTIES)}
        c["redis"] = {"url": stack.env["REDIS_URL"]}
        with open(cfg, "w") as f:
            json.dump(c, f, indent=1)
        env = benchlib.odoosync_env(stack)
        events = [os.path.join(tmp, "events-%d-%d.jsonl" % (nworkers, i))
                  for i in range(nworkers)]
        workers, logs = [], []
        try:
            for i in range(nworkers):
                lf = open(os.path.join(tmp, "worker-%d-%d.log" % (nworkers, i)), "w")
                logs.append(lf)
                workers.append(subprocess.Popen(
                    [exe, "work", "--config", cfg, "--events", events[i], "-L", "warn"],
                    env=env, stdout=lf, stderr=lf))
            time.sleep(6)  # group join (the broker delays a first join by 3 s)
            stack.odoo_reset_stats()
            dav0 = stack.dav_requests()
            log("cluster %d: odoosync produce --once" % nworkers)
            t0 = time.monotonic()
            c0 = benchlib.cpu_times()
            p = subprocess.run([exe, "produce", "--once", "--config", cfg, "-L", "warn"],
                               env=env, capture_output=True, text=True, timeout=3600)
            emitted = None
            for line in p.stdout.splitlines():
                if line.startswith("produce:"):
                    emitted = int(line.split()[1])
            if p.returncode != 0 or emitted is None:
                log("produce exited %d:\n%s\n%s" % (p.returncode, p.stdout[-2000:],
                                                    p.stderr[-3000:]))
                return None
            produce_s = time.monotonic() - t0
            dead = benchlib.wait_final(events, emitted, workers, "cluster %d" % nworkers)
            if dead is None:
                return None
            wall = time.monotonic() - t0
            steal = benchlib.steal_since(c0)
            rss = max(vm_hwm_kb(w.pid) for w in workers)
            odoo, dav, rpc = stack.odoo_requests(), stack.dav_requests() - dav0, rpc_counts(stack)
        finally:
            for w in workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGTERM)
            for w in workers:
                try:
                    w.wait(60)
                except subprocess.TimeoutExpired:
                    w.kill()
                    w.wait()
            for lf in logs:
                lf.close()
        files = count_files(os.path.join(stack.env["DAV_ROOT_DIR"], "bench-e2e"))
        return {"name": "odoosync cluster, %d worker%s" % (nworkers, "s" if nworkers > 1 else ""),
                "wall": wall, "rss": rss, "files": files, "jobs": emitted,
                "odoo": odoo, "dav": dav, "rpc": rpc,
                "note": "produce %.1f s; %d dead-lettered%s" % (produce_s, dead, steal)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--per", type=int, default=5)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--transfers", type=int, default=8)
    ap.add_argument("--workers", default="1,2", help="cluster runs, e.g. 1,2; none to skip")
    args = ap.parse_args()
    exe = benchlib.binary()
    if not shutil.which("rclone"):
        raise SystemExit("bench: rclone is not installed (apt-get install rclone)")
    tmp = tempfile.mkdtemp(prefix="bench-e2e-")
    rows = []
    try:
        src = os.path.join(tmp, "files")
        local_tree(src, args.records, args.per, args.size)
        with benchlib.Stack() as stack:
            stack.seed_direct(args.records, args.per, args.size)
            cfg = os.path.join(tmp, "local.json")
            benchlib.write_config(stack, cfg, "bench-e2e", args.concurrency)
            stack.odoo_reset_stats()
            dav0 = stack.dav_requests()
            c0 = benchlib.cpu_times()
            r, jobs = run_local(stack, cfg, benchlib.odoosync_env(stack), exe)
            steal = benchlib.steal_since(c0)
            rows.append({"name": "odoosync run --once (local)", "wall": r.wall,
                         "rss": r.maxrss_kb, "jobs": jobs,
                         "files": count_files(os.path.join(stack.env["DAV_ROOT_DIR"],
                                                           "bench-e2e")),
                         "odoo": stack.odoo_requests(), "dav": stack.dav_requests() - dav0,
                         "rpc": rpc_counts(stack),
                         "note": "exit %d, concurrency %d%s" % (r.rc, args.concurrency, steal)})
            dav0 = stack.dav_requests()
            c0 = benchlib.cpu_times()
            rr = run_rclone(stack, src, args.transfers)
            steal = benchlib.steal_since(c0)
            rclone = {"name": "rclone copy --transfers %d" % args.transfers, "wall": rr.wall,
                      "rss": rr.maxrss_kb, "jobs": "-",
                      "files": count_files(os.path.join(stack.env["DAV_ROOT_DIR"],
                                                        "bench-rclone")),
                      "odoo": 0, "dav": stack.dav_requests() - dav0,
                      "note": "exit %d%s" % (rr.rc, steal)}
        help_out = subprocess.run([exe, "--help"], capture_output=True, text=True)
        has_cluster = "produce" in help_out.stdout + help_out.stderr and \
            "work" in help_out.stdout + help_out.stderr
        if args.workers != "none":
            if not has_cluster:
                log("cluster mode skipped: no `odoosync produce` / `odoosync work`")
            else:
                for n in [int(x) for x in args.workers.split(",") if x]:
                    row = run_cluster(args, n, exe, tmp)
                    rows.append(row or {"name": "odoosync cluster, %d worker(s)" % n,
                                        "wall": float("nan"), "rss": -1, "jobs": "-",
                                        "files": "-", "note": "FAILED (see log above)"})
    finally:
        if not os.environ.get("BENCH_KEEP"):  # BENCH_KEEP=1 keeps configs, logs and events
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("kept %s" % tmp)
    rows.append(rclone)
    natt = args.records * args.per
    benchlib.table(
        "end to end: %d attachments of %d B on %d records -> empty WebDAV root (Apache; "
        "stack in %s)" % (natt, args.size, args.records, benchlib.stack_parent()),
        ["run", "wall s", "files/s", "peak RSS", "jobs", "files on server", "Odoo req/file",
         "cloud req/file", "odoosync/rclone wall", "note"],
        [[r["name"], "%.2f" % r["wall"], "%.0f" % (natt / r["wall"]) if r["wall"] else "-",
          mib(r["rss"]), r["jobs"], r["files"], per_file(r.get("odoo"), natt),
          per_file(r.get("dav"), natt),
          "%.2fx" % (r["wall"] / rclone["wall"]) if r is not rclone else "1.00x", r["note"]]
         for r in rows])
    for r in rows:
        if r.get("rpc"):
            print("%s: Odoo calls per file: %s" % (r["name"], ", ".join(
                "%s %.2f" % (k, v / natt) for k, v in sorted(r["rpc"].items()))))
    print("(wall > 1.00x: odoosync slower than rclone. odoosync also reads each file from "
          "Odoo's /web/content, tags it (PROPPATCH) and rewrites its attachment in Odoo; "
          "rclone reads a local disk.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
