#!/usr/bin/env python3
"""peers: odoosync against rclone and curl on a real Odoo 17 and a real Nextcloud 27.

For each case (RECORDSxPER attachments of SIZE bytes, default 1x200 and 200x10), in one
command, each run on fresh records seeded into the real Odoo over JSON-RPC (partners
"bench <run> <k>", one configured type matching only them) and an empty root of the
Nextcloud user's files:

  local        `odoosync run --once` (worker.concurrency = --concurrency, default 16: an
               odoosync job waits on the requests it shares with others, so 16 jobs keep
               fewer Nextcloud requests in flight than rclone's or curl's 8 transfers:
               the "cloud req in flight" column, Nextcloud's busy time over the wall)
  cluster N    N `odoosync work` (Kafka and Redis of a CI stack, started for this) and
               `odoosync produce --once`, until every job has a final event
  rclone       `rclone copy --transfers 8` of the same files from a local folder
               (webdav, vendor nextcloud)
  curl         `curl -Z --parallel-max 8` PUTs of the same files (the server's ceiling
               for this many small files: one request per file, nothing else)

Per run: wall time, files/s, peak RSS, requests per file to Odoo (lines of the Odoo
log's werkzeug access lines during the run: JSON-RPC calls, downloads, logins, scans
included) and to Nextcloud (lines of its access log naming the user's files or the bulk
endpoint), the machine's load average before. Nothing asserts a speed.

usage: peers.py --odoo-url URL --odoo-db DB --odoo-log FILE --nc-url URL --nc-user U
                --nc-password P --nc-log FILE [--cases 1x200,200x10] [--size 4096]
                [--concurrency 16] [--workers 1,2] [--transfers 8]
"""
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import log, mib  # noqa: E402

sys.path.insert(0, os.path.join(benchlib.SRC, "tests", "odoo"))
import seed  # noqa: E402


class Odoo:
    def __init__(self, url, db, login, password):
        self.url, self.db, self.password = url, db, password
        self.uid = self.rpc("common", "login", [db, login, password])

    def rpc(self, service, method, args):
        body = json.dumps({"jsonrpc": "2.0", "method": "call",
                           "params": {"service": service, "method": method, "args": args}})
        req = urllib.request.Request(self.url + "/jsonrpc", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as r:
            answer = json.loads(r.read())
        if "error" in answer:
            raise SystemExit("odoo: %s" % json.dumps(answer["error"])[:2000])
        return answer["result"]

    def kw(self, model, method, args, kwargs=None):
        return self.rpc("object", "execute_kw", [self.db, self.uid, self.password, model,
                                                 method, args, kwargs or {}])


def blob(i, size, tag):
    b = seed.unique_blob(i, size)
    # unique per run too: the same content twice would be the same file to rclone/curl,
    # and Odoo dedupes the filestore by checksum
    t = ("%s/%d|" % (tag, i)).encode()
    return t + b[len(t):]


def seed_run(odoo, tag, records, per, size):
    """records partners "bench <tag> <k>" with per attachments each; the local copy's
    layout: {relative path: bytes}."""
    t0 = time.monotonic()
    pids = odoo.kw("res.partner", "create",
                   [[{"name": "bench %s %04d" % (tag, k)} for k in range(records)]])
    files = {}
    vals = []
    for k, pid in enumerate(pids):
        for j in range(per):
            name = "file-%04d-%03d.bin" % (k, j)
            data = blob(k * per + j, size, tag)
            files["bench %s %04d/%s" % (tag, k, name)] = data
            vals.append({"name": name, "res_model": "res.partner", "res_id": pid,
                         "datas": base64.b64encode(data).decode()})
    for i in range(0, len(vals), 500):
        odoo.kw("ir.attachment", "create", [vals[i:i + 500]])
    log("seeded %s: %d records x %d attachments in %.1f s" % (tag, records, per,
                                                              time.monotonic() - t0))
    return files


def write_local(files, dest):
    for rel, data in files.items():
        p = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


def config(args, path, tag, extra=None):
    cfg = {
        "odoo": {"url": args.odoo_url, "database": args.odoo_db, "login": "admin",
                 "password_env": "BENCH_ODOO_PASSWORD"},
        "cloud": {"url": "%s/remote.php/dav/files/%s" % (args.nc_url, args.nc_user),
                  "user": args.nc_user, "password_env": "BENCH_DAV_PASSWORD",
                  "root": "bench-%s" % tag},
        "types": [{"folder": "Partners", "model": "res.partner",
                   "domain": "[('name', '=like', 'bench %s %%')]" % tag}],
        "standalone": {"enabled": False},
        "worker": {"concurrency": args.concurrency, "backoff_ms": 200},
        "state": {"file": os.path.join(os.path.dirname(os.path.abspath(path)),
                                       "state-%s.json" % tag)},
    }
    cfg.update(extra or {})
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)


def lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


class Counter:
    """Requests logged to Odoo and to the Nextcloud user during a run (log lines added)."""

    def __init__(self, args):
        self.args = args
        self.o0, self.n0 = len(lines(args.odoo_log)), len(lines(args.nc_log))

    def odoo(self):
        new = lines(self.args.odoo_log)[self.o0:]
        return sum(1 for x in new if b"werkzeug" in x and b'HTTP/1.1"' in x)

    def _cloud_lines(self):
        new = lines(self.args.nc_log)[self.n0:]
        me = ("/files/%s/" % self.args.nc_user).encode()
        return [x for x in new if me in x or b"/remote.php/dav/bulk" in x]

    def cloud(self):
        return len(self._cloud_lines())

    def cloud_busy(self):
        """Seconds Nextcloud spent on those requests, summed (the log's last field, %D in
        microseconds): divided by the wall, the requests in flight on average."""
        total = 0
        for x in self._cloud_lines():
            last = x.rsplit(b" ", 1)[-1]
            total += int(last) if last.isdigit() else 0
        return total / 1e6


def env(args):
    return dict(os.environ, BENCH_ODOO_PASSWORD="admin", BENCH_DAV_PASSWORD=args.nc_password)


def row(name, wall, rss, files, cnt, note=""):
    r = {"name": name, "wall": wall, "rss": rss, "files": files,
         "odoo": cnt.odoo() if cnt else 0, "dav": cnt.cloud() if cnt else 0,
         "busy": cnt.cloud_busy() if cnt else 0, "note": note}
    # each row as soon as it is measured: a long run cut short still says something
    log("%s: %.1f s, %.2f files/s, %s, Odoo %d req, cloud %d req, load %.1f; %s" %
        (name, wall, files / wall if wall else 0, mib(rss), r["odoo"], r["dav"],
         os.getloadavg()[0], note))
    return r


def run_local(args, exe, tmp, tag, files):
    cfg = os.path.join(tmp, "%s.json" % tag)
    config(args, cfg, tag)
    cnt = Counter(args)
    log("%s: odoosync run --once" % tag)
    r = benchlib.measure([exe, "run", "--once", "--config", cfg, "-L", "warn"], env=env(args))
    note = "exit %d" % r.rc
    for line in r.stdout.splitlines():
        if line.startswith("pass:"):
            note += "; " + line[:220]
    if r.rc != 0:
        log("run --once exited %d:\n%s" % (r.rc, r.stderr[-3000:]))
    failed = [x for x in r.stderr.splitlines() if " failed: " in x]
    if failed:
        log("%d job attempts failed (then retried), the first: %s" % (len(failed), failed[0]))
    return row("odoosync run --once (local)", r.wall, r.maxrss_kb, len(files), cnt, note)


def run_cluster(args, exe, tmp, tag, files, n, stack):
    cfg = os.path.join(tmp, "%s.json" % tag)
    topics = {k: "%s.%s" % (tag, k) for k in ("jobs", "retry", "dlq", "events")}
    for name in topics.values():
        subprocess.run([benchlib.STACK, "kafka", "--dir", stack.dir, "topic", name, "6", "1"],
                       check=True, capture_output=True, timeout=30)
    config(args, cfg, tag, {
        "kafka": {"bootstrap": stack.env["KAFKA_BOOTSTRAP"], "topics": topics, "group": tag,
                  "properties": dict(benchlib.MOCK_KAFKA_PROPERTIES)},
        "redis": {"url": stack.env["REDIS_URL"]}})
    events = [os.path.join(tmp, "%s-events-%d.jsonl" % (tag, i)) for i in range(n)]
    workers, logs = [], []
    try:
        for i in range(n):
            lf = open(os.path.join(tmp, "%s-worker-%d.log" % (tag, i)), "w")
            logs.append(lf)
            workers.append(subprocess.Popen(
                [exe, "work", "--config", cfg, "--events", events[i], "-L", "warn"],
                env=env(args), stdout=lf, stderr=lf))
        time.sleep(6)
        cnt = Counter(args)
        log("%s: odoosync produce --once, %d worker(s)" % (tag, n))
        t0 = time.monotonic()
        p = subprocess.run([exe, "produce", "--once", "--config", cfg, "-L", "warn"],
                           env=env(args), capture_output=True, text=True, timeout=3600)
        emitted = None
        for line in p.stdout.splitlines():
            if line.startswith("produce:"):
                emitted = int(line.split()[1])
        if p.returncode != 0 or emitted is None:
            log("produce exited %d:\n%s\n%s" % (p.returncode, p.stdout[-2000:], p.stderr[-3000:]))
            return None
        produce_s = time.monotonic() - t0
        dead = benchlib.wait_final(events, emitted, workers, tag)
        if dead is None:
            return None
        wall = time.monotonic() - t0
        rss = max(vm_hwm_kb(w.pid) for w in workers)
        return row("odoosync cluster, %d worker%s" % (n, "s" if n > 1 else ""), wall, rss,
                   len(files), cnt, "produce %.1f s, %d jobs, %d dead-lettered" %
                   (produce_s, emitted, dead))
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


def vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def run_rclone(args, src, tag, nfiles):
    pw = subprocess.run(["rclone", "obscure", args.nc_password], capture_output=True,
                        text=True, check=True).stdout.strip()
    e = dict(os.environ, RCLONE_CONFIG_BENCHNC_TYPE="webdav",
             RCLONE_CONFIG_BENCHNC_URL="%s/remote.php/dav/files/%s" % (args.nc_url, args.nc_user),
             RCLONE_CONFIG_BENCHNC_VENDOR="nextcloud", RCLONE_CONFIG_BENCHNC_USER=args.nc_user,
             RCLONE_CONFIG_BENCHNC_PASS=pw)
    cnt = Counter(args)
    log("%s: rclone copy --transfers %d" % (tag, args.transfers))
    r = benchlib.measure(["rclone", "copy", "--transfers", str(args.transfers), src,
                          "benchnc:bench-%s" % tag], env=e)
    if r.rc != 0:
        log("rclone exited %d:\n%s" % (r.rc, r.stderr[-3000:]))
    return row("rclone copy --transfers %d" % args.transfers, r.wall, r.maxrss_kb, nfiles, cnt,
               "exit %d" % r.rc)


def run_curl(args, src, tag, nfiles):
    """The folders by MKCOL first (not timed), then every file by one PUT, 8 at a time."""
    base = "%s/remote.php/dav/files/%s/bench-%s" % (args.nc_url, args.nc_user, tag)
    auth = "%s:%s" % (args.nc_user, args.nc_password)
    dirs = sorted({os.path.dirname(rel) for rel in walk(src)})
    mk = ["curl", "-s", "-o", "/dev/null", "-u", auth, "-X", "MKCOL", base]
    for d in dirs:
        mk += ["-:", "-s", "-o", "/dev/null", "-u", auth, "-X", "MKCOL",
               base + "/" + urllib.request.quote(d)]
    subprocess.run(mk, check=False, capture_output=True)
    cfg = os.path.join(os.path.dirname(src), "curl-%s.cfg" % tag)
    with open(cfg, "w") as f:
        f.write('user = "%s"\nsilent\n' % auth)
        for rel in walk(src):
            f.write('upload-file = "%s"\nurl = "%s/%s"\noutput = "/dev/null"\n' %
                    (os.path.join(src, rel), base, urllib.request.quote(rel)))
    cnt = Counter(args)
    log("%s: curl -Z --parallel-max %d, %d PUTs" % (tag, args.transfers, nfiles))
    r = benchlib.measure(["curl", "-Z", "--parallel-max", str(args.transfers), "-K", cfg])
    return row("curl -Z --parallel-max %d (PUT only)" % args.transfers, r.wall, r.maxrss_kb,
               nfiles, cnt, "exit %d" % r.rc)


def walk(src):
    out = []
    for dirpath, _, filenames in os.walk(src):
        for n in filenames:
            out.append(os.path.relpath(os.path.join(dirpath, n), src))
    return sorted(out)


def per(n, files):
    return "%.2f" % (n / files) if files else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--odoo-url", default="http://127.0.0.1:8070")
    ap.add_argument("--odoo-db", default="odoosync_bench")
    ap.add_argument("--odoo-log", required=True)
    ap.add_argument("--nc-url", default="http://127.0.0.1:8080")
    ap.add_argument("--nc-user", default="bench")
    ap.add_argument("--nc-password", required=True)
    ap.add_argument("--nc-log", required=True)
    ap.add_argument("--cases", default="1x200,200x10")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--transfers", type=int, default=8)
    ap.add_argument("--runs", default="local,cluster,rclone,curl")
    args = ap.parse_args()
    exe = benchlib.binary()
    odoo = Odoo(args.odoo_url, args.odoo_db, "admin", "admin")
    runs = args.runs.split(",")
    tmp = tempfile.mkdtemp(prefix="bench-peers-")
    stamp = "%x" % int(time.time())
    try:
        with benchlib.Stack() as stack:  # Kafka and Redis for the cluster runs
            for case in args.cases.split(","):
                records, nper = (int(x) for x in case.split("x"))
                nfiles = records * nper
                rows = []
                load = os.getloadavg()
                if "local" in runs:
                    tag = "%s-%s-local" % (stamp, case)
                    rows.append(run_local(args, exe, tmp, tag,
                                          seed_run(odoo, tag, records, nper, args.size)))
                for n in ([int(x) for x in args.workers.split(",") if x]
                          if "cluster" in runs else []):
                    tag = "%s-%s-c%d" % (stamp, case, n)
                    r = run_cluster(args, exe, tmp, tag,
                                    seed_run(odoo, tag, records, nper, args.size), n, stack)
                    rows.append(r or {"name": "odoosync cluster, %d worker(s)" % n,
                                      "wall": float("nan"), "rss": -1, "files": nfiles,
                                      "odoo": 0, "dav": 0, "busy": 0,
                                      "note": "FAILED (see log above)"})
                files = None
                for peer, fn in (("rclone", run_rclone), ("curl", run_curl)):
                    if peer not in runs:
                        continue
                    tag = "%s-%s-%s" % (stamp, case, peer)
                    if files is None:
                        files = {}
                        for k in range(records):
                            for j in range(nper):
                                files["bench %04d/file-%04d-%03d.bin" % (k, k, j)] = \
                                    blob(k * nper + j, args.size, tag)
                    src = os.path.join(tmp, "src-%s" % tag)
                    write_local(files, src)
                    rows.append(fn(args, src, tag, nfiles))
                ref = {r["name"].split()[0]: r for r in rows}
                benchlib.table(
                    "real peers: %d attachments of %d B on %d record(s) -> Nextcloud "
                    "(load average before: %.1f %.1f %.1f)" % ((nfiles, args.size, records) + load),
                    ["run", "wall s", "files/s", "peak RSS", "Odoo req/file", "cloud req/file",
                     "cloud req in flight", "x rclone files/s", "x curl files/s", "note"],
                    [[r["name"], "%.1f" % r["wall"],
                      "%.2f" % (nfiles / r["wall"]) if r["wall"] == r["wall"] else "-",
                      mib(r["rss"]), per(r["odoo"], nfiles), per(r["dav"], nfiles),
                      "%.1f" % (r["busy"] / r["wall"]) if r["wall"] == r["wall"] else "-",
                      "%.2f" % (ref["rclone"]["wall"] / r["wall"]) if "rclone" in ref else "-",
                      "%.2f" % (ref["curl"]["wall"] / r["wall"]) if "curl" in ref else "-",
                      r["note"]] for r in rows])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
