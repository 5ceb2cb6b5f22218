#!/usr/bin/env python3
"""plan_scale: the planner at scale (issue 5's bench bullet).

On its own stack: the emulator seeded directly (tests/odoo/seed.py --direct, no HTTP)
with RECORDS quotations x PER attachments of SIZE bytes, an empty cloud root. Then:

  1. full plan       `odoosync plan --json` against the empty cloud
  2. apply           `odoosync run --once` (local mode: creates every folder, uploads
                     every file, tags them)
  3. full scan       `odoosync plan --json --full-scan`: what a pass costs that reads
                     everything (no scan state) once both sides hold the data
  3b. no-change plan `odoosync plan --json` again: nothing changed on either side
  4. one change      one file renamed in the cloud (a WebDAV MOVE: file names are the
                     cloud's, so the plan holds one rename of its attachment in
                     Odoo), then `odoosync plan --json`
  5, 6 ETag reuse    twice `odoosync plan --json -X cloud.dialect=nextcloud`: the
                     cost of a no-change pass where folder ETags propagate (Nextcloud,
                     ownCloud); the first walks and records the ETags, the second
                     reuses them (Apache's ETags do not propagate, but nothing changes
                     any more, so they answer what a Nextcloud would)

For each: wall time, Odoo requests (emulator's /__emulator__/stats, HTTP requests),
DAV requests (lines added to Apache's access log), peak RSS (/usr/bin/time -v) and the
number of jobs planned. Then the ratios full / no-change (issue 5 targets >= 20x).

usage: plan_scale.py [--records 4000] [--per 5] [--size 1024] [--concurrency 8]
"""
import argparse
import base64
import http.client
import json
import os
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import log, mib  # noqa: E402


def dav_move(stack, src, dst):
    u = urllib.parse.urlparse(stack.env["DAV_URL"])
    base = u.path.rstrip("/")
    auth = base64.b64encode(("%s:%s" % (stack.env["DAV_USER"],
                                        stack.env["DAV_PASSWORD"])).encode()).decode()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("MOVE", base + urllib.parse.quote(src), headers={
            "Authorization": "Basic " + auth, "Overwrite": "F",
            "Destination": stack.env["DAV_URL"].rstrip("/") + urllib.parse.quote(dst)})
        st = conn.getresponse().status
    finally:
        conn.close()
    if st not in (201, 204):
        raise SystemExit("bench: MOVE %s: HTTP %d" % (src, st))


def step(stack, name, argv, env):
    stack.odoo_reset_stats()
    dav0 = stack.dav_requests()
    log("%s: %s" % (name, " ".join(argv[1:3])))
    r = benchlib.measure(argv, env=env)
    odoo = stack.odoo_requests()
    dav = stack.dav_requests() - dav0
    if r.rc not in (0,):
        log("%s exited %d\n%s\n%s" % (name, r.rc, r.stdout[-2000:], r.stderr[-4000:]))
    jobs = None
    if "--json" in argv:
        jobs = sum(1 for line in r.stdout.splitlines() if line.strip().startswith("{"))
    else:
        for line in r.stdout.splitlines():
            if line.startswith("pass:"):
                jobs = int(line.split()[1])
    return {"name": name, "rc": r.rc, "wall": r.wall, "odoo": odoo, "dav": dav,
            "req": odoo + dav, "rss": r.maxrss_kb, "jobs": jobs, "stdout": r.stdout}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=4000)
    ap.add_argument("--per", type=int, default=5, help="attachments per record")
    ap.add_argument("--size", type=int, default=1024, help="bytes per attachment")
    ap.add_argument("--concurrency", type=int, default=8, help="worker.concurrency for run")
    ap.add_argument("--plan-only", action="store_true",
                    help="only step 1 (the full plan against an empty cloud)")
    args = ap.parse_args()
    exe = benchlib.binary()
    tmp = tempfile.mkdtemp(prefix="bench-plan-")
    cfg = os.path.join(tmp, "odoosync.json")
    try:
        return run(args, exe, tmp, cfg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, exe, tmp, cfg):
    with benchlib.Stack() as stack:
        seeded = stack.seed_direct(args.records, args.per, args.size)
        natt = seeded["attachments"]
        benchlib.write_config(stack, cfg, "bench-plan", args.concurrency)
        env = benchlib.odoosync_env(stack)
        plan = [exe, "plan", "--json", "--config", cfg, "-L", "warn"]
        run_once = [exe, "run", "--once", "--config", cfg, "-L", "warn"]
        rows = [step(stack, "full plan (empty cloud)", plan, env)]
        if args.plan_only:
            benchlib.table(
                "full plan only: %d attachments of %d B on %d records (sale.order)" %
                (natt, args.size, args.records),
                ["step", "wall s", "Odoo req", "DAV req", "requests", "peak RSS", "jobs", "exit"],
                [[r["name"], "%.2f" % r["wall"], r["odoo"], r["dav"], r["req"], mib(r["rss"]),
                  r["jobs"], r["rc"]] for r in rows])
            return rows[0]["rc"]
        rows.append(step(stack, "apply (run --once)", run_once, env))
        if rows[-1]["rc"] != 0:
            log("the apply pass did not succeed: the figures below are for a partial tree")
        rows.append(step(stack, "full scan, synced tree", plan + ["--full-scan"], env))
        rescan = rows[-1]
        rows.append(step(stack, "no-change plan", plan, env))
        # one changed file: the first attachment's file renamed in the cloud
        src = "/bench-plan/Quotations/S00001/file-000000-00.bin"
        dav_move(stack, src, src.replace(".bin", " renamed.bin"))
        rows.append(step(stack, "one changed file", plan, env))
        one = rows[-1]
        changed_jobs = [line for line in one["stdout"].splitlines() if line.startswith("{")]
        # 5, 6: what a Nextcloud/ownCloud pass costs, whose folder ETags propagate:
        # the dialect forced on Apache (the tree does not change from here on, so
        # Apache's non-propagating ETags give the same answer a Nextcloud would);
        # the first pass walks and records every folder's ETag, the second reuses them
        nc = plan + ["-X", "cloud.dialect=nextcloud"]
        rows.append(step(stack, "no-change, ETag reuse, 1st", nc, env))
        rows.append(step(stack, "no-change, ETag reuse, 2nd", nc, env))
        reuse = rows[-1]

    head = ["step", "wall s", "Odoo req", "DAV req", "requests", "peak RSS", "jobs", "exit"]
    benchlib.table(
        "plan at scale: %d attachments of %d B on %d records (sale.order), concurrency %d" %
        (natt, args.size, args.records, args.concurrency), head,
        [[r["name"], "%.2f" % r["wall"], r["odoo"], r["dav"], r["req"], mib(r["rss"]),
          r["jobs"], r["rc"]] for r in rows])
    full, nochg = rows[0], rows[3]

    def ratio(a, b):
        return ("%.1fx" if a >= b else "%.3fx") % (a / b) if b else "inf"
    benchlib.table("ratios (issue 5 target: the no-change pass >= 20x cheaper than the full one)",
                   ["", "wall", "requests"],
                   [["full / no-change", ratio(full["wall"], nochg["wall"]),
                     ratio(full["req"], nochg["req"])],
                    ["full / one-change", ratio(full["wall"], one["wall"]),
                     ratio(full["req"], one["req"])],
                    ["full / no-change with ETag reuse (Nextcloud, ownCloud)",
                     ratio(full["wall"], reuse["wall"]), ratio(full["req"], reuse["req"])],
                    ["full scan of the synced tree / no-change (Apache)",
                     ratio(rescan["wall"], nochg["wall"]), ratio(rescan["req"], nochg["req"])],
                    ["full scan of the synced tree / no-change with ETag reuse",
                     ratio(rescan["wall"], reuse["wall"]), ratio(rescan["req"], reuse["req"])]])
    print("apply rate: %.0f uploads/s (%d jobs in %.1f s)" % (
        natt / rows[1]["wall"] if rows[1]["wall"] else 0, rows[1]["jobs"] or 0, rows[1]["wall"]))
    print("one-change plan jobs: %s" % (", ".join(
        "%s %s" % (json.loads(j).get("kind"), json.loads(j).get("path") or json.loads(j).get("to"))
        for j in changed_jobs[:5]) or "none"))
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
