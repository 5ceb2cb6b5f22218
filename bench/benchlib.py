"""benchlib: what the scripted benchmarks (plan_scale.py, e2e.py) share.

- Stack: its own test stack (tests/stack/stack up --dir <parent>/bench-stack-<pid>, the parent
  from stack_parent(): /dev/shm where it can), stopped at exit, on SIGINT/SIGTERM too.
- Config: an odoosync configuration file pointing at that stack (the same shape as
  tests/e2e/harness.py writes), secrets in environment variables.
- Measure: wall time of a command (monotonic clock), its peak RSS (/usr/bin/time -v),
  the emulator's request counters (GET /__emulator__/stats, reset through
  /__emulator__/control) and the DAV requests (lines added to Apache's access log).
- Table: prints a small aligned table.

Python standard library only. Not a test: it measures, it prints, it asserts nothing
about speed.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
STACK = os.path.join(SRC, "tests", "stack", "stack")
SEED = os.path.join(SRC, "tests", "odoo", "seed.py")


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def binary():
    b = os.environ.get("ODOOSYNC_BIN") or os.path.join(SRC, "build-bench", "odoosync")
    if not os.path.exists(b):
        raise SystemExit("bench: %s not built (run bench/run, which builds it)" % b)
    return b


# librdkafka properties of the cluster runs against the stack's Kafka, librdkafka's own
# mock broker. The mock answers a fetch that finds nothing after the fetch's full MaxWait,
# even when a producer writes meanwhile (rdkafka_mock_handlers.c: "This isn't strictly
# correct since we should cut the wait short ... too much of a hassle"); a real broker
# answers once fetch.min.bytes (1) are there. With librdkafka's default MaxWait (500 ms) a
# worker idle when `produce` wrote its jobs started them up to half a second late,
# which is a third of a 200-file run. fetch.wait.max.ms 10 makes the mock behave about
# as Kafka does, for more (cheap, local) fetch requests.
MOCK_KAFKA_PROPERTIES = {"reconnect.backoff.max.ms": "1000", "session.timeout.ms": "6000",
                         "heartbeat.interval.ms": "500", "fetch.wait.max.ms": "10"}


FINAL = {"applied", "already-done", "skipped", "dead-lettered"}


def wait_final(paths, emitted, workers, label, timeout=3600):
    """Waits until the workers' sync logs (paths) hold a final result for emitted jobs,
    reading each file from where the last look stopped, every 20 ms: a cluster run's
    wall then ends within 20 ms of its last job. The number of jobs dead-lettered, or
    None when a worker stopped or timeout seconds went by first (said in the log)."""
    done, dead, deadline = 0, 0, time.monotonic() + timeout
    offsets, partial = [0] * len(paths), [b""] * len(paths)
    while True:
        for i, path in enumerate(paths):
            try:
                with open(path, "rb") as f:
                    f.seek(offsets[i])
                    chunk = f.read()
            except FileNotFoundError:
                continue
            offsets[i] += len(chunk)
            got = (partial[i] + chunk).split(b"\n")
            partial[i] = got.pop()
            for line in got:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("result") in FINAL:
                    done += 1
                    dead += ev.get("result") == "dead-lettered"
        if done >= emitted:
            return dead
        if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
            log("%s: workers stopped or timed out at %d/%d jobs" % (label, done, emitted))
            return None
        time.sleep(0.02)


def cpu_times():
    """(all, steal) jiffies of the machine so far (/proc/stat), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v[:8]), v[7] if len(v) > 7 else 0
    except (OSError, ValueError, IndexError):
        return None


def steal_since(t0):
    """The share of CPU time the hypervisor took from this machine since cpu_times() gave
    t0 ("steal"), as " steal N%", or "" where it cannot tell. On a shared virtual machine
    it is what makes one run of the same benchmark twice as slow as the next."""
    t1 = cpu_times()
    if not t0 or not t1 or t1[0] <= t0[0]:
        return ""
    return "; steal %d%%" % round(100.0 * (t1[1] - t0[1]) / (t1[0] - t0[0]))


def stack_parent():
    """Where a benchmark's stack lives: BENCH_STACK_PARENT, else /dev/shm (RAM) when it
    is there and writable, else /tmp. In RAM, the servers' files cost what they cost a
    server, not what this machine class's virtual disk makes them cost: on its ext4,
    Apache's PROPPATCH (two sdbm files made per file tagged) took 7-15 ms and its PUT
    5-7 ms, against 0.7 and 1.5 ms in RAM, and varied twofold from run to run
    (bench/README.md section 6g). BENCH_STACK_PARENT=/tmp measures the disk."""
    env = os.environ.get("BENCH_STACK_PARENT")
    if env:
        return env
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return "/dev/shm"
    return "/tmp"


class Stack:
    """tests/stack/stack up/down around a benchmark (a context manager)."""

    def __init__(self):
        self.dir = os.path.join(stack_parent(), "bench-stack-%d" % os.getpid())
        self.env = {}
        self.up = False

    def __enter__(self):
        def on_signal(sig, frame):
            raise KeyboardInterrupt("signal %d" % sig)
        signal.signal(signal.SIGTERM, on_signal)
        log("stack up --dir %s" % self.dir)
        p = subprocess.run([STACK, "up", "--dir", self.dir], capture_output=True, text=True)
        self.up = True
        if p.returncode != 0:
            self.__exit__(None, None, None)
            raise SystemExit("bench: stack up failed:\n%s%s" % (p.stdout, p.stderr))
        with open(os.path.join(self.dir, "env")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    self.env[k] = v
        return self

    def __exit__(self, *exc):
        if self.up and os.environ.get("BENCH_KEEP"):  # its logs, for a look at what was slow
            keep = tempfile.mkdtemp(prefix="bench-stack-logs-")
            shutil.copytree(os.path.join(self.dir, "logs"), keep, dirs_exist_ok=True)
            log("kept the stack's logs in %s" % keep)
        if self.up:
            log("stack down --dir %s" % self.dir)
            subprocess.run([STACK, "down", "--dir", self.dir], capture_output=True)
            self.up = False
        return False

    @property
    def odoo_dir(self):
        return os.path.join(self.dir, "odoo")

    @property
    def access_log(self):
        return os.path.join(self.dir, "logs", "apache-access.log")

    def dav_requests(self):
        """Lines in Apache's access log so far (one per request)."""
        try:
            with open(self.access_log, "rb") as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def odoo_control(self, cmd):
        req = urllib.request.Request(self.env["ODOO_URL"] + "/__emulator__/control",
                                     data=json.dumps(cmd).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def odoo_stats(self):
        with urllib.request.urlopen(self.env["ODOO_URL"] + "/__emulator__/stats",
                                    timeout=30) as r:
            return json.loads(r.read())

    def odoo_reset_stats(self):
        self.odoo_control({"reset": True})

    def odoo_requests(self):
        """HTTP requests the emulator served since the last reset (not counting stats
        and control calls themselves)."""
        st = self.odoo_stats()
        return sum(v for k, v in st.items()
                   if k.startswith("http ") and k != "http __emulator__")

    def seed_direct(self, records, per, size, model="sale.order"):
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, SEED, "--direct", self.odoo_dir, "--bulk",
                            "--records", str(records), "--attachments-per-record", str(per),
                            "--size", str(size), "--model", model, "--batch", "2000"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit("bench: seed failed:\n%s%s" % (p.stdout, p.stderr))
        log("seeded %d records x %d attachments of %d bytes in %.1f s" %
            (records, per, size, time.monotonic() - t0))
        return json.loads(p.stdout)["bulk"]


TYPES = [
    {"folder": "Customers", "model": "res.partner", "domain": "[('customer_rank', '>', 0)]"},
    {"folder": "Quotations", "model": "sale.order",
     "domain": "[('state', 'in', ['draft', 'sent'])]"},
    {"folder": "Orders", "model": "sale.order", "domain": "[('state', 'in', ['sale', 'done'])]"},
]


def write_config(stack, path, root, concurrency=4):
    cfg = {
        "odoo": {"url": stack.env["ODOO_URL"], "database": "odoosync", "login": "admin",
                 "password_env": "BENCH_ODOO_PASSWORD"},
        "cloud": {"url": stack.env["DAV_URL"], "user": stack.env["DAV_USER"],
                  "password_env": "BENCH_DAV_PASSWORD", "root": root},
        "types": TYPES,
        "standalone": {"enabled": True},
        "worker": {"concurrency": concurrency, "backoff_ms": 100},
        # local mode's scan state (watermarks, last-seen etags) next to the config,
        # never in the current directory
        "state": {"file": os.path.join(os.path.dirname(os.path.abspath(path)),
                                       "odoosync-state.json")},
    }
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)


class Result:
    def __init__(self, rc, wall, maxrss_kb, stdout, stderr):
        self.rc, self.wall, self.maxrss_kb = rc, wall, maxrss_kb
        self.stdout, self.stderr = stdout, stderr


def measure(argv, env=None, timeout=7200):
    """Runs argv under /usr/bin/time -v: wall seconds (our clock), peak RSS in KiB."""
    fd, tfile = tempfile.mkstemp(prefix="bench-time-")
    os.close(fd)
    try:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tfile] + list(argv), env=env,
                           capture_output=True, text=True, timeout=timeout)
        wall = time.monotonic() - t0
        with open(tfile) as f:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read())
        return Result(p.returncode, wall, int(m.group(1)) if m else -1, p.stdout, p.stderr)
    finally:
        os.unlink(tfile)


def odoosync_env(stack):
    return dict(os.environ, BENCH_ODOO_PASSWORD="admin",
                BENCH_DAV_PASSWORD=stack.env["DAV_PASSWORD"])


def table(title, header, rows):
    cols = [header] + [[str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cols) for i in range(len(header))]
    print()
    print(title)
    line = "  ".join("-" * x for x in w)
    print(line)
    for k, r in enumerate(cols):
        print("  ".join(c.ljust(w[i]) if i in (0, len(r) - 1) else c.rjust(w[i])
                        for i, c in enumerate(r)).rstrip())
        if k == 0:
            print(line)
    print(line)
    sys.stdout.flush()


def mib(kb):
    return "%.1f MiB" % (kb / 1024.0) if kb >= 0 else "?"
