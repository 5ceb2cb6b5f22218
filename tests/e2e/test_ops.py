"""e2e ops: what an operator sees of odoosync.

- `odoosync run --interval 1` with metrics.listen: /metrics answers in the
  Prometheus text format and its counters move when a pass applies jobs;
  /healthz 200; /readyz 200, then 503 naming the cloud while the cloud is
  unreachable (a TCP relay in front of the stack's Apache that we close) and
  200 again once it is back; SIGTERM ends it with exit 0.
- `odoosync check` passes against the stack (Odoo, cloud, Kafka, Redis);
  names the cloud with a wrong cloud password, Redis when Redis is not
  there, and the type and Odoo's message for a domain Odoo refuses; every
  type gets its line: a domain of 50,000 ids written out (shown shortened),
  a type Odoo counts too slowly ("not checked", exit 3, not "check: ok").
- no password or API key ever appears in stdout/stderr of run and check,
  even at debug level.
- consumer lag and lock waits: `run` shows both; jobs produced to Kafka
  while no worker runs show as odoosync_consumer_lag{topic=<jobs topic>} of
  a `work` started with its Redis down (it takes the jobs but cannot lock
  them: exactly the number emitted, no lock wait yet); once Redis is back,
  the jobs are applied, the lag drops to 0 and odoosync_lock_wait_seconds
  counts every job, their wait (the outage) in its sum.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

UPLOADED = 'odoosync_jobs_total{kind="upload",side="cloud",result="applied"}'
ODOO_SECRET = harness.KEY  # configured as odoo.api_key_env (the password is "admin": not greppable)

free_port = harness.free_port


def http_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def parse_metrics(text):
    """{'name{labels}': value} of every sample; checks the exposition syntax."""
    out = {}
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = sample.match(line)
        assert m, "not a sample line: %r" % line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


class Relay:
    """A TCP relay 127.0.0.1:port -> target that can be closed and reopened on the same port."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.srv = None
        self.thread = None
        self.conns = []
        self.lock = threading.Lock()
        self.up()

    def up(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for _ in range(50):
            try:
                s.bind(("127.0.0.1", self.port))
                break
            except OSError:
                time.sleep(0.1)
        s.listen(16)
        self.srv = s
        self.thread = threading.Thread(target=self._accept, args=(s,), daemon=True)
        self.thread.start()

    def down(self):
        s, self.srv = self.srv, None
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
        self.thread.join(5)
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self.conns = []

    def _accept(self, s):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            try:
                t = socket.create_connection(self.target, timeout=10)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, t]
            for a, b in ((c, t), (t, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class OpsCase(harness.SyncCase):
    TYPES = [{"folder": "Customers", "model": "res.partner",
              "domain": "[('customer_rank', '>', 0)]"}]

    def setUp(self):
        super().setUp()
        self.outputs = []
        self.addCleanup(self.assert_no_secret)

    def write_config(self, types=None, **extra):
        extra.setdefault("odoo", {"url": self.odoo.url, "database": "odoosync", "login": "admin",
                                  "password_env": "E2E_ODOO_PASSWORD",
                                  "api_key_env": "E2E_ODOO_API_KEY"})
        # keep run's state file out of the working directory
        extra.setdefault("state", {"file": os.path.join(self.tmp, "state.json")})
        super().write_config(types, **extra)

    def cmd_env(self, dav_password=None):
        return dict(os.environ, E2E_ODOO_PASSWORD="admin", E2E_ODOO_API_KEY=ODOO_SECRET,
                    E2E_DAV_PASSWORD=dav_password or self.env["DAV_PASSWORD"])

    def odoosync(self, *args, dav_password=None, timeout=120):
        p = subprocess.run([harness.binary()] + list(args) + ["--config", self.config],
                           env=self.cmd_env(dav_password), capture_output=True, text=True,
                           timeout=timeout)
        self.outputs += [p.stdout, p.stderr]
        return p

    def assert_no_secret(self):
        for secret in (ODOO_SECRET, self.env["DAV_PASSWORD"]):
            for text in self.outputs:
                self.assertNotIn(secret, text, "a secret leaked into the output:\n" + text)

    def start_run(self, listen_port, *extra):
        out = open(os.path.join(self.tmp, "run-%d.out" % len(self.outputs)), "w+")
        p = subprocess.Popen(
            [harness.binary(), "run", "--config", self.config, "--interval", "1", "-L", "debug",
             "-X", "metrics.listen=127.0.0.1:%d" % listen_port] + list(extra),
            env=self.cmd_env(), stdout=out, stderr=subprocess.STDOUT)

        def cleanup():
            if p.poll() is None:
                p.kill()
                p.wait()
            out.seek(0)
            self.outputs.append(out.read())
            out.close()
        self.addCleanup(cleanup)
        self.wait_healthz(p, out, listen_port)
        return p, out

    def wait_healthz(self, p, out, port):
        """Until the process p (its output in out) serves /healthz on port."""
        deadline = time.time() + 30
        while True:
            try:
                if http_get(port, "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if p.poll() is not None or time.time() > deadline:
                out.seek(0)
                self.fail("odoosync did not serve /healthz (exit %s):\n%s" % (p.poll(),
                                                                               out.read()))
            time.sleep(0.1)

    def wait_metric(self, port, key, pred, timeout=60):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            st, body = http_get(port, "/metrics")
            self.assertEqual(st, 200)
            last = parse_metrics(body)
            if pred(last.get(key, 0)):
                return last
            time.sleep(0.2)
        self.fail("metric %s never satisfied the condition; last scrape: %s" % (key, last))

    def wait_ready(self, port, want, timeout=30):
        deadline = time.time() + timeout
        st = body = None
        while time.time() < deadline:
            st, body = http_get(port, "/readyz")
            if st == want:
                return body
            time.sleep(0.3)
        self.fail("/readyz stayed %s (want %d): %s" % (st, want, body))

    def stop_run(self, p):
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(60), 0, "odoosync run did not exit 0 on SIGTERM")

    def start_redis(self, port):
        d = os.path.join(self.tmp, "redis")
        os.makedirs(d, exist_ok=True)
        p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", d],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return p
            except OSError:
                time.sleep(0.05)
        p.kill()
        self.fail("redis-server did not start")

    def stop_redis(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(10)

    def cluster_config(self, kind, redis_port):
        """Topics and group of this test (created, 2 partitions), Redis on redis_port.
        Returns the topic names."""
        tag = self.root.replace("e2e-", "")
        topics = {t: "e2e.%s.%s" % (tag, t) for t in ("jobs", "retry", "dlq", "events")}
        self.write_config(kafka={"bootstrap": self.env["KAFKA_BOOTSTRAP"],
                                 "group": "e2e-%s-%s" % (kind, tag), "topics": topics},
                          redis={"url": "redis://127.0.0.1:%d" % redis_port})
        ctl = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "stack", "stack")
        for name in topics.values():
            subprocess.run([ctl, "kafka", "--dir", self.env["STACK_DIR"], "topic", name, "2", "1"],
                           check=True, capture_output=True, timeout=30)
        return topics

    def start_work(self, port):
        out = open(os.path.join(self.tmp, "work.out"), "w+")
        w = subprocess.Popen([harness.binary(), "work", "--config", self.config, "-L", "info",
                              "-X", "metrics.listen=127.0.0.1:%d" % port],
                             env=self.cmd_env(), stdout=out, stderr=subprocess.STDOUT)

        def cleanup():
            if w.poll() is None:
                w.kill()
                w.wait()
            out.seek(0)
            self.outputs.append(out.read())
            out.close()
        self.addCleanup(cleanup)
        self.wait_healthz(w, out, port)
        return w


class TestRunMetrics(OpsCase):
    def test_metrics_move_and_ready(self):
        pid = self.odoo.create("res.partner", {"name": "Metrics Corp", "customer_rank": 1})
        self.odoo.attach("res.partner", pid, "m1.txt", b"metrics one")
        port = free_port()
        p, _ = self.start_run(port)
        after1 = self.wait_metric(port, 'odoosync_passes_total{result="ok"}', lambda v: v >= 1)
        upload = 'odoosync_jobs_total{kind="upload",side="cloud",result="applied"}'
        mkdir = 'odoosync_jobs_total{kind="mkdir",side="cloud",result="applied"}'
        self.assertGreaterEqual(after1.get(mkdir, 0), 2, after1)  # root/type/document folders
        self.assertEqual(after1.get(upload, 0), 1, after1)
        self.assertEqual(after1["odoosync_bytes_uploaded_total"], len(b"metrics one"))
        self.assertGreaterEqual(after1['odoosync_job_duration_seconds_count{kind="upload"}'], 1)
        self.assertGreaterEqual(after1['odoosync_scan_requests_total{side="cloud"}'], 1)
        self.assertGreaterEqual(after1['odoosync_scan_duration_seconds_count{side="odoo"}'], 1)
        # every applied job waited for its lock first (an uncontended wait: short, >= 0)
        applied1 = sum(v for k, v in after1.items()
                       if k.startswith("odoosync_jobs_total{") and 'result="applied"' in k)
        self.assertGreaterEqual(after1["odoosync_lock_wait_seconds_count"], applied1)
        self.assertGreaterEqual(after1["odoosync_lock_wait_seconds_sum"], 0)
        # the in-process queue's lag: shown for both topics, 0 once a pass has applied all
        lag = 'odoosync_consumer_lag{topic="odoosync.jobs"}'
        self.assertIn(lag, self.wait_metric(port, lag, lambda v: v == 0))
        self.assertIn('odoosync_consumer_lag{topic="odoosync.retry"}', after1)
        self.assertEqual(after1['odoosync_build_info{version="%s"}' % self.version()], 1)
        st, body = http_get(port, "/metrics")
        self.assertIn("# TYPE odoosync_job_duration_seconds histogram", body)
        self.assertIn('odoosync_job_duration_seconds_bucket{kind="upload",le="+Inf"}', body)
        self.assertEqual(http_get(port, "/healthz")[0], 200)
        self.assertEqual(http_get(port, "/readyz")[0], 200)
        self.assertEqual(http_get(port, "/nope")[0], 404)

        # a new attachment: the next passes upload it and the counters move
        self.odoo.attach("res.partner", pid, "m2.txt", b"metrics number two")
        self.wait_metric(port, upload, lambda v: v >= 2)
        # a pass is counted when it ends, after its uploads: wait for it rather than race it
        ok1 = after1['odoosync_passes_total{result="ok"}']
        after2 = self.wait_metric(port, 'odoosync_passes_total{result="ok"}', lambda v: v > ok1)
        self.assertEqual(after2[upload], 2)
        self.assertEqual(after2["odoosync_bytes_uploaded_total"],
                         len(b"metrics one") + len(b"metrics number two"))
        self.assertIn("Customers/Metrics Corp/m2.txt", self.tree())
        self.stop_run(p)

    def version(self):
        out = subprocess.run([harness.binary(), "--version"], capture_output=True, text=True)
        return out.stdout.split()[-1]

    def test_readyz_follows_the_cloud(self):
        relay = Relay(self.dav.host, self.dav.port)
        self.addCleanup(lambda: relay.srv and relay.down())
        url = "http://127.0.0.1:%d%s/" % (relay.port, self.dav.base)
        self.write_config(cloud={"url": url, "user": self.env["DAV_USER"],
                                 "password_env": "E2E_DAV_PASSWORD", "root": self.root})
        port = free_port()
        p, _ = self.start_run(port)
        self.wait_ready(port, 200)
        # Let the first pass (it creates the type folders) finish first: a cloud lost in
        # the middle of its jobs fails them (result "failed", after their retries), while
        # a pass that starts with the cloud gone cannot scan (result "error").
        self.wait_metric(port, 'odoosync_passes_total{result="ok"}', lambda v: v >= 1)
        relay.down()
        body = self.wait_ready(port, 503)
        self.assertIn("cloud", body)
        self.assertEqual(http_get(port, "/healthz")[0], 200)  # alive all the same
        self.wait_metric(port, 'odoosync_passes_total{result="error"}', lambda v: v >= 1)
        relay.up()
        self.wait_ready(port, 200)
        self.stop_run(p)

    def test_readyz_odoo_down(self):
        port = free_port()
        p, _ = self.start_run(port)
        self.wait_ready(port, 200)
        self.odoo.proc.send_signal(signal.SIGTERM)
        self.odoo.proc.wait(10)
        body = self.wait_ready(port, 503)
        self.assertIn("odoo", body)
        self.stop_run(p)

    def test_listen_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        self.addCleanup(s.close)
        p = self.odoosync("run", "--once", "-X", "metrics.listen=127.0.0.1:%d" %
                          s.getsockname()[1])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("metrics", p.stderr)


class TestWorkReadiness(OpsCase):
    """`odoosync work` serves /readyz from Kafka, Redis, Odoo and the cloud: with its
    Redis stopped it goes unready (and applies nothing), and ready again when Redis is
    back. The worker gets a redis-server of its own, so stopping it disturbs no one."""

    def test_readyz_follows_redis(self):
        rport = free_port()
        redis = self.start_redis(rport)
        self.addCleanup(lambda: self.stop_redis(redis))
        self.cluster_config("ready", rport)
        port = free_port()
        w = self.start_work(port)
        self.wait_ready(port, 200)
        self.stop_redis(redis)
        body = self.wait_ready(port, 503)
        self.assertIn("redis", body.lower())
        self.assertEqual(http_get(port, "/healthz")[0], 200)  # alive, just not ready
        redis = self.start_redis(rport)
        self.wait_ready(port, 200)
        w.send_signal(signal.SIGTERM)
        self.assertEqual(w.wait(60), 0, "odoosync work did not exit 0 on SIGTERM")


class TestWorkLag(OpsCase):
    """Consumer lag and lock waits of `odoosync work` (see the module comment)."""

    def test_lag_then_lock_waits(self):
        rport = free_port()
        redis = [self.start_redis(rport)]
        self.addCleanup(lambda: self.stop_redis(redis[0]))
        topics = self.cluster_config("lag", rport)
        pid = self.odoo.create("res.partner", {"name": "Lag Corp", "customer_rank": 1})
        for i in range(3):
            self.odoo.attach("res.partner", pid, "lag%d.txt" % i, b"lag number %d" % i)
        p = self.odoosync("produce", "--once")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        emitted = int(re.search(r"(?m)^produce: (\d+) jobs? emitted", p.stdout).group(1))
        self.assertGreaterEqual(emitted, 4, p.stdout)  # folders and three uploads

        # no worker ran: the worker starts with its Redis down, takes the jobs, locks none
        self.stop_redis(redis[0])
        port = free_port()
        w = self.start_work(port)
        lag = 'odoosync_consumer_lag{topic="%s"}' % topics["jobs"]
        before = self.wait_metric(port, lag, lambda v: v == emitted)
        self.assertEqual(before['odoosync_consumer_lag{topic="%s"}' % topics["retry"]], 0)
        self.assertEqual(before["odoosync_lock_wait_seconds_count"], 0)
        self.assertEqual(before.get(UPLOADED, 0), 0)  # nothing applied without a lock

        # Redis back: every job gets its lock, is applied, and the lag drains
        redis[0] = self.start_redis(rport)
        self.wait_metric(port, "odoosync_lock_wait_seconds_count", lambda v: v >= emitted)
        self.wait_metric(port, lag, lambda v: v == 0)
        after = self.wait_metric(port, 'odoosync_consumer_lag{topic="%s"}' % topics["retry"],
                                 lambda v: v == 0)
        self.assertEqual(after[lag], 0)
        self.assertGreaterEqual(after["odoosync_lock_wait_seconds_count"], emitted)
        self.assertGreater(after["odoosync_lock_wait_seconds_sum"], 0)  # they waited out the outage
        self.assertGreaterEqual(after.get(UPLOADED, 0), 3)
        tree = self.tree()
        for i in range(3):
            self.assertIn("Customers/Lag Corp/lag%d.txt" % i, tree)
        w.send_signal(signal.SIGTERM)
        self.assertEqual(w.wait(60), 0, "odoosync work did not exit 0 on SIGTERM")


class TestCheck(OpsCase):
    def setUp(self):
        super().setUp()
        self.write_config(kafka={"bootstrap": self.env["KAFKA_BOOTSTRAP"]},
                          redis={"url": self.env["REDIS_URL"]})

    def test_check_ok(self):
        p = self.odoosync("check", "-L", "debug")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        lines = p.stdout.splitlines()
        for part in ("odoo", "type", "cloud", "kafka", "redis"):
            self.assertTrue(any(re.match(r"%s\s+ok\s" % part, ln) for ln in lines),
                            "no ok line for %s:\n%s" % (part, p.stdout))
        self.assertIn("Odoo 17", p.stdout)
        self.assertIn("created and deleted", p.stdout)
        self.assertEqual(lines[-1], "check: ok")
        # the temporary folder is gone (the root does not exist yet: it was made in the base)
        st, body = self.dav.req("PROPFIND", "/", None, {"Depth": "1"})
        self.assertEqual(st, 207)
        self.assertNotIn(b".odoosync-check-", body)

    def test_check_wrong_cloud_password(self):
        p = self.odoosync("check", "-L", "debug", dav_password="not-the-password-42")
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"(?m)^cloud\s+FAIL\s.*401")
        self.assertIn("check: failed: cloud", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^odoo\s+ok\s")
        for o in self.outputs:
            self.assertNotIn("not-the-password-42", o)

    def test_check_bad_domain(self):
        types = self.TYPES + [{"folder": "Broken", "model": "res.partner",
                               "domain": "[('no_such_field', '=', 1)]"}]
        self.write_config(types=types, kafka={"bootstrap": self.env["KAFKA_BOOTSTRAP"]},
                          redis={"url": self.env["REDIS_URL"]})
        p = self.odoosync("check")
        # 4 like run and plan: a type Odoo refuses makes every pass incomplete
        self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r'(?m)^type\s+FAIL\s+"Broken".*Invalid field.*no_such_field')
        self.assertRegex(p.stdout, r'(?m)^type\s+ok\s+"Customers"')
        self.assertRegex(p.stdout, r"(?m)^cloud\s+ok\s")  # the other parts are still checked
        self.assertIn('check: failed: odoo domain: type "Broken"', p.stdout)

    def test_check_large_domain(self):
        # a domain written out with 50,000 ids (about 300 kB): its type still gets its line
        # (the domain shortened), and check says ok only when every type was checked
        ids = ", ".join(str(i) for i in range(1, 50001))
        types = self.TYPES + [{"folder": "Many", "model": "res.partner",
                               "domain": "[('id', 'in', [%s])]" % ids}]
        self.write_config(types=types, kafka={"bootstrap": self.env["KAFKA_BOOTSTRAP"]},
                          redis={"url": self.env["REDIS_URL"]})
        p = self.odoosync("check")
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        self.assertRegex(p.stdout, r'(?m)^type\s+ok\s+"Customers"')
        m = re.search(r'(?m)^type\s+ok\s+"Many" \(res\.partner, domain (.*)\): (\d+) records?, \d+ ms$',
                      p.stdout)
        self.assertTrue(m, "no line for the type Many:\n" + p.stdout[-3000:])
        self.assertLess(len(m.group(1)), 400, "the domain is shortened on the line")
        self.assertRegex(m.group(1), r"^\[\('id', 'in', \[1, 2, 3, .*\.\.\. \(\d+ characters\)$")
        self.assertGreater(int(m.group(2)), 0)
        self.assertEqual(p.stdout.splitlines()[-1], "check: ok")

    def test_check_type_times_out(self):
        # Odoo (19, JSON-2: one path per method) counts a type too slowly: the type's line
        # says it was not checked and why, and check fails like any request without an
        # answer (3, README "Faults and exit codes"), not like a refused domain (4)
        self.odoo.stop()
        self.odoo = harness.Emulator(version=19)
        self.addCleanup(self.odoo.stop)
        self.write_config(odoo={"url": self.odoo.url, "database": "odoosync", "login": "admin",
                                "password_env": "E2E_ODOO_PASSWORD",
                                "api_key_env": "E2E_ODOO_API_KEY", "timeout_ms": 1000},
                          kafka={"bootstrap": self.env["KAFKA_BOOTSTRAP"]},
                          redis={"url": self.env["REDIS_URL"]})
        conn = http.client.HTTPConnection("127.0.0.1", self.odoo.port, timeout=30)
        conn.request("POST", "/__emulator__/control", json.dumps(
            {"delay_next": {"path": "/json/2/res.partner/search_count", "seconds": 3,
                            "count": 5}}), {"Content-Type": "application/json"})
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()
        p = self.odoosync("check")
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r'(?m)^type\s+FAIL\s+"Customers" .*: not checked: .*1000 ms')
        self.assertNotIn("refused", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^cloud\s+ok\s")
        self.assertIn('check: failed: odoo: type "Customers"', p.stdout)

    def test_check_redis_down(self):
        self.write_config(kafka={"bootstrap": self.env["KAFKA_BOOTSTRAP"]},
                          redis={"url": "redis://127.0.0.1:%d" % free_port()})
        p = self.odoosync("check")
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"(?m)^redis\s+FAIL\s")
        self.assertIn("check: failed: redis", p.stdout)

    def test_check_odoo_down(self):
        self.odoo.proc.send_signal(signal.SIGTERM)
        self.odoo.proc.wait(10)
        p = self.odoosync("check")
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertIn("check: failed: odoo", p.stdout)


if __name__ == "__main__":
    harness.main()
