"""e2e faults: odoosync under servers that misbehave (issue "Operable under faults").

- A black hole (a listener that accepts connections and never answers) in place of
  Odoo or of the WebDAV server: `run --once`, `plan`, `produce --once` and `check`
  end within the configured timeout (2 s here) plus a margin, with exit 3 and a
  message naming the server's URL and the timeout; `work` with a job in flight on a
  black-hole cloud: SIGTERM ends it within a few seconds, exit 0, the job handed back.
- SIGTERM (and SIGINT) while a command waits on a black hole: it ends within a few
  seconds with 143 (130): no command waits for a server once asked to stop.
- A domain or a model Odoo rejects: `plan` and `run --once` exit 4 (incomplete scan),
  naming the type, the model and Odoo's message; the other types are still synced.
- An unreachable cloud port: the error comes first and once, no "cloud scan:" summary.

The bounds are generous (machines are noisy): the point is "does not hang".
"""
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

TIMEOUT_MS = 2000
BOUND_S = 30      # a command against a black hole ends before this
STOP_BOUND_S = 8  # after SIGTERM


class BlackHole:
    """Accepts every connection and never answers (keeps the sockets open)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.accepted = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.accepted += 1

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

free_port = harness.free_port


class FaultCase(harness.SyncCase):
    TYPES = [{"folder": "Customers", "model": "res.partner",
              "domain": "[('customer_rank', '>', 0)]"}]
    STANDALONE = False

    def setUp(self):
        super().setUp()
        self.hole = BlackHole()
        self.addCleanup(self.hole.close)
        self.hole_url = "http://127.0.0.1:%d" % self.hole.port

    def config_with(self, side, url=None, cluster=False, types=None):
        # side None: both real servers
        """The test's config with `side` ("odoo" or "cloud") at url (the black hole)."""
        extra = {}
        odoo = {"url": self.odoo.url, "database": "odoosync", "login": "admin",
                "password_env": "E2E_ODOO_PASSWORD", "timeout_ms": TIMEOUT_MS}
        cloud = {"url": self.env["DAV_URL"], "user": self.env["DAV_USER"],
                 "password_env": "E2E_DAV_PASSWORD", "root": self.root,
                 "timeout_ms": TIMEOUT_MS}
        url = url or (self.hole_url + ("/dav/" if side == "cloud" else ""))
        if side is None:
            url = None
        if side == "odoo":
            odoo["url"] = url
        elif side == "cloud":
            cloud["url"] = url
        extra["odoo"] = odoo
        extra["cloud"] = cloud
        if cluster:
            tag = self.root.replace("e2e-", "")
            self.topics = {t: "e2e.%s.%s" % (tag, t) for t in ("jobs", "retry", "dlq", "events")}
            extra["kafka"] = {"bootstrap": self.env["KAFKA_BOOTSTRAP"],
                              "group": "e2e-faults-%s" % tag, "topics": self.topics}
            extra["redis"] = {"url": self.env["REDIS_URL"]}
        self.write_config(types, **extra)
        return url

    def env_vars(self):
        return dict(os.environ, E2E_ODOO_PASSWORD="admin",
                    E2E_DAV_PASSWORD=self.env["DAV_PASSWORD"])

    def start(self, *args):
        out = open(os.path.join(self.tmp, "out-%d.txt" % time.monotonic_ns()), "w+")
        p = subprocess.Popen([harness.binary()] + list(args) + ["--config", self.config],
                             env=self.env_vars(), stdout=out, stderr=subprocess.STDOUT)

        def cleanup():
            if p.poll() is None:
                p.kill()
                p.wait()
            out.close()
        self.addCleanup(cleanup)
        return p, out

    def finish(self, p, out, bound):
        t0 = time.monotonic()
        try:
            code = p.wait(bound)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            out.seek(0)
            self.fail("still running after %d s (killed):\n%s" % (bound, out.read()))
        out.seek(0)
        return code, out.read(), time.monotonic() - t0

    def wait_accepted(self, n=1, timeout=20):
        deadline = time.monotonic() + timeout
        while self.hole.accepted < n:
            if time.monotonic() > deadline:
                self.fail("nothing connected to the black hole in %d s" % timeout)
            time.sleep(0.05)


# the commands of item 1, with what they need
COMMANDS = {
    "run": (["run", "--once"], False),
    "plan": (["plan"], False),
    "produce": (["produce", "--once"], True),
    "check": (["check"], False),
}


class TestBlackHole(FaultCase):
    """Every command against a server that accepts and never answers."""

    def _bounded(self, side, name):
        args, cluster = COMMANDS[name]
        url = self.config_with(side, cluster=cluster)
        t0 = time.monotonic()
        p, out = self.start(*args)
        code, text, _ = self.finish(p, out, BOUND_S)
        took = time.monotonic() - t0
        self.assertEqual(code, 3, "%s with a black-hole %s: exit %d\n%s" % (name, side, code, text))
        self.assertLess(took, BOUND_S)
        self.assertIn("127.0.0.1:%d" % self.hole.port, text,
                      "%s: the message does not name the server %s:\n%s" % (name, url, text))
        self.assertRegex(text, r"%d ms" % TIMEOUT_MS,
                         "%s: the message does not name the timeout:\n%s" % (name, text))

    def _sigterm(self, side, name, sig=signal.SIGTERM):
        args, cluster = COMMANDS[name]
        self.config_with(side, cluster=cluster)
        # the timeout is long here: the signal, not the timeout, must end it
        self.write_config_timeout(60000)
        p, out = self.start(*args)
        self.wait_accepted()
        time.sleep(0.5)
        p.send_signal(sig)
        code, text, took = self.finish(p, out, STOP_BOUND_S)
        self.assertEqual(code, 128 + sig, "%s stopped by signal %d while waiting on a black-hole "
                         "%s: exit %d\n%s" % (name, sig, side, code, text))

    def write_config_timeout(self, ms):
        import json
        with open(self.config) as f:
            cfg = json.load(f)
        cfg["odoo"]["timeout_ms"] = ms
        cfg["cloud"]["timeout_ms"] = ms
        with open(self.config, "w") as f:
            json.dump(cfg, f)

    def test_odoo_run(self):
        self._bounded("odoo", "run")

    def test_odoo_plan(self):
        self._bounded("odoo", "plan")

    def test_odoo_produce(self):
        self._bounded("odoo", "produce")

    def test_odoo_check(self):
        self._bounded("odoo", "check")

    def test_cloud_run(self):
        self._bounded("cloud", "run")

    def test_cloud_plan(self):
        self._bounded("cloud", "plan")

    def test_cloud_produce(self):
        self._bounded("cloud", "produce")

    def test_cloud_check(self):
        self._bounded("cloud", "check")

    def test_sigterm_odoo_run(self):
        self._sigterm("odoo", "run")

    def test_sigint_odoo_plan(self):
        self._sigterm("odoo", "plan", signal.SIGINT)

    def test_sigterm_odoo_produce(self):
        self._sigterm("odoo", "produce")

    def test_sigterm_odoo_check(self):
        self._sigterm("odoo", "check")

    def test_sigterm_cloud_run(self):
        self._sigterm("cloud", "run")

    def test_sigterm_cloud_plan(self):
        self._sigterm("cloud", "plan")

    def test_sigint_cloud_produce(self):
        self._sigterm("cloud", "produce", signal.SIGINT)

    def test_sigterm_cloud_check(self):
        self._sigterm("cloud", "check")



class TestWork(FaultCase):
    """`work` with a job on a black-hole Odoo or cloud: each attempt ends within the
    timeout, naming the server; SIGTERM while one waits ends it (exit 0), the job handed
    back, not dead-lettered."""

    def produce_one_upload(self):
        pid = self.odoo.create("res.partner", {"name": "Hole Corp", "customer_rank": 1})
        self.odoo.attach("res.partner", pid, "hole.txt", b"into the hole")
        self.config_with(None, cluster=True)
        harness.create_topics(self.env, list(self.topics.values()), 1)
        p, out = self.start("produce", "--once", "-L", "warn")
        code, text, _ = self.finish(p, out, 120)
        self.assertEqual(code, 0, text)

    def wait_output(self, out, what, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out.seek(0)
            text = out.read()
            if what in text:
                return text
            time.sleep(0.2)
        out.seek(0)
        self.fail("no %r in %d s:\n%s" % (what, timeout, out.read()))

    def _work(self, side, timeout_ms):
        self.produce_one_upload()
        self.config_with(side, cluster=True)
        self.write_config_timeout(timeout_ms)
        p, out = self.start("work", "-L", "info")
        return p, out

    def _bounded(self, side):
        p, out = self._work(side, TIMEOUT_MS)
        text = self.wait_output(out, "%d ms" % TIMEOUT_MS, BOUND_S)
        self.assertRegex(text, r"no answer[^\n]*%d ms[^\n]*127\.0\.0\.1:%d"
                         % (TIMEOUT_MS, self.hole.port))
        p.send_signal(signal.SIGTERM)
        code, text, _ = self.finish(p, out, STOP_BOUND_S)
        self.assertEqual(code, 0, text)

    def _sigterm(self, side):
        # a long timeout: the signal must end it
        p, out = self._work(side, 60000)
        self.wait_accepted(timeout=60)
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        code, text, _ = self.finish(p, out, STOP_BOUND_S)
        self.assertEqual(code, 0, "work stopped by SIGTERM with a job in flight: exit %d\n%s"
                         % (code, text))
        self.assertIn("handed back", text)
        self.assertNotIn("dead-lettered:", text)

    def test_work_cloud_bounded(self):
        self._bounded("cloud")

    def test_work_odoo_bounded(self):
        self._bounded("odoo")

    def test_sigterm_work_job_in_flight(self):
        self._sigterm("cloud")

    def test_sigterm_work_odoo_job_in_flight(self):
        self._sigterm("odoo")

    def write_config_timeout(self, ms):
        TestBlackHole.write_config_timeout(self, ms)


class TestRefusedType(FaultCase):
    """A type whose domain or model Odoo rejects: the pass is incomplete (4), loudly."""
    GOOD = {"folder": "Customers", "model": "res.partner",
            "domain": "[('customer_rank', '>', 0)]"}

    def _refused(self, bad, odoo_says):
        self.odoo.call("res.partner", "create", [{"name": "Good Corp", "customer_rank": 1}])
        self.config_with(None, types=[self.GOOD, bad])
        p = self.run_cmd("plan", expect=None)
        self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
        self.assertIn("verdict scan-incomplete", p.stdout + p.stderr)
        p = self.run_cmd("run", "--once", expect=None)
        self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
        err = p.stderr.replace('\\"', '"')  # the log lines are JSON
        self.assertIn('type "Broken" (model %s, domain %s): Odoo refused its scan'
                      % (bad["model"], bad["domain"]), err)
        self.assertRegex(err, odoo_says)
        # the other type was synced all the same
        self.assertIn("Customers/Good Corp", self.tree())

    def test_unknown_field(self):
        self._refused({"folder": "Broken", "model": "res.partner",
                       "domain": "[('no_such_field', '=', 1)]"}, r"Invalid field.*no_such_field")

    def test_unknown_model(self):
        self._refused({"folder": "Broken", "model": "sale.orderz", "domain": "[]"},
                      r"sale\.orderz")


class TestUnreachable(FaultCase):
    def test_cloud_port_closed(self):
        """The error first and once; no scan summary of a scan that did not happen."""
        self.config_with("cloud", url="http://127.0.0.1:%d/dav/" % free_port())
        t0 = time.monotonic()
        p = subprocess.run([harness.binary(), "run", "--once", "--config", self.config,
                            "-L", "info"], env=self.env_vars(), capture_output=True, text=True,
                           timeout=120)
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        text = p.stdout + p.stderr
        self.assertNotIn("cloud scan: 0 entries", text)
        lines = [ln for ln in text.splitlines() if "Couldn't connect" in ln]
        self.assertEqual(len(lines), 1, "the connection error is said more or less than once:\n"
                         + text)
        self.assertIn("cloud at http://127.0.0.1:", lines[0])
        # said at once: nothing retried for seconds before it
        self.assertLess(took, 10, text)



class TestLostContent(FaultCase):
    """An attachment whose file is gone from Odoo's filestore (Odoo serves 0 bytes): the
    upload can never succeed. Reported once with what to do; later passes skip it with a
    warning; the other jobs decide the exit code (0 here), every pass."""

    def test_lost_content_reported_once(self):
        pid = self.odoo.create("res.partner", {"name": "Lost Corp", "customer_rank": 1})
        lost = self.odoo.attach("res.partner", pid, "gone.pdf", b"x" * 702)
        self.odoo.attach("res.partner", pid, "fine.txt", b"fine")
        fname = self.odoo.call("ir.attachment", "read", [[lost], ["store_fname"]])[0][
            "store_fname"]
        os.unlink(os.path.join(self.odoo.tmp, "data", "filestore", "odoosync", fname))
        self.config_with(None)
        p = self.run_cmd("run", "--once", expect=None)
        err = p.stderr.replace('\\"', '"')
        self.assertEqual(p.returncode, 0, "the other jobs succeeded: exit 0\n" + err)
        self.assertIn("Customers/Lost Corp/fine.txt", self.tree())
        self.assertRegex(err, r"attachment %d has no content in Odoo \(0 of 702 bytes\).*"
                         r"restore the file.*or delete or re-upload the attachment" % lost)
        self.assertEqual(err.count("has no content in Odoo"), 1,
                         "reported once, not retried:\n" + err)
        for _ in range(2):
            p = self.run_cmd("run", "--once", expect=None)
            err = p.stderr.replace('\\"', '"')
            self.assertEqual(p.returncode, 0, err)
            self.assertNotIn("has no content in Odoo", err)
            self.assertIn("1 job(s) not tried: they failed for good", err)
        # fixed in Odoo (a new content): the next pass uploads it
        self.odoo.write("ir.attachment", lost, {"datas": __import__("base64").b64encode(
            b"y" * 10).decode()})
        p = self.run_cmd("run", "--once", expect=None)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Customers/Lost Corp/gone.pdf", self.tree())
        # and the list forgot it (it only keeps ids still planned)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "odoosync-state.json.lost")))


class TestCaFile(FaultCase):
    """cloud.ca_file / odoo.ca_file: a private CA is trusted (the stack's https Apache and
    an emulator serving https have their own CA);
    without it the certificate error names cloud.ca_file and cloud.insecure; a ca_file
    that cannot be read is a configuration error naming the key."""

    def test_cloud_ca_file(self):
        if not self.env.get("DAV_TLS_URL"):
            self.skipTest("the stack has no DAV_TLS_URL")
        self.config_with("cloud", url=self.env["DAV_TLS_URL"])
        ca = ["-X", "cloud.ca_file=" + self.env["DAV_TLS_CA"]]
        for args in (["check"], ["run", "--once"]):
            p = self.run_cmd(*(args + ca), expect=None)
            self.assertEqual(p.returncode, 0, "%s with cloud.ca_file: %s%s" % (
                args, p.stdout, p.stderr))
        self.assertIn("Customers", self.tree())
        for args in (["check"], ["run", "--once"]):
            p = self.run_cmd(*args, expect=None)
            text = (p.stdout + p.stderr).replace('\\"', '"')
            self.assertEqual(p.returncode, 3, text)
            self.assertRegex(text, r"cloud at %s.*not trusted \(set cloud\.ca_file to its CA, "
                             r"or cloud\.insecure: true" % re.escape(self.env["DAV_TLS_URL"]))
        missing = os.path.join(self.tmp, "no-such-ca.pem")
        for args in (["check"], ["run", "--once"]):
            p = self.run_cmd(*(args + ["-X", "cloud.ca_file=" + missing]), expect=None)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertRegex(p.stderr, r"cloud\.ca_file: cannot read \"%s\"" % re.escape(missing))

    def test_odoo_ca_file(self):
        """The same for Odoo (the emulator serving https with its own CA), a download
        included."""
        odoo = harness.Emulator(tls=True)
        self.addCleanup(odoo.stop)
        pid = odoo.create("res.partner", {"name": "Tls Corp", "customer_rank": 1})
        odoo.attach("res.partner", pid, "over-tls.txt", b"sent over https")
        self.config_with("odoo", url=odoo.url)
        ca = ["-X", "odoo.ca_file=" + odoo.ca]
        for args in (["check"], ["run", "--once"]):
            p = self.run_cmd(*(args + ca), expect=None)
            self.assertEqual(p.returncode, 0, "%s with odoo.ca_file: %s%s" % (
                args, p.stdout, p.stderr))
        self.assertIn("Customers/Tls Corp/over-tls.txt", self.tree())
        for args in (["check"], ["run", "--once"]):
            p = self.run_cmd(*args, expect=None)
            text = (p.stdout + p.stderr).replace('\\"', '"')
            self.assertEqual(p.returncode, 3, text)
            self.assertRegex(text, r"odoo at %s.*not trusted \(set odoo\.ca_file to its CA, "
                             r"or odoo\.insecure: true" % re.escape(odoo.url))
        missing = os.path.join(self.tmp, "no-such-ca.pem")
        for args in (["check"], ["run", "--once"]):
            p = self.run_cmd(*(args + ["-X", "odoo.ca_file=" + missing]), expect=None)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertRegex(p.stderr, r"odoo\.ca_file: cannot read \"%s\"" % re.escape(missing))


class TestFaultTable(FaultCase):
    """Every row of the README's table "Faults and exit codes" through check, plan and
    run --once: the same exit code and the same words from every command."""

    def rows(self):
        env = self.env
        dav = env["DAV_URL"]
        base = dav.split("/dav/")[0]
        return [
            # (name, config change, exit code, regex the output must match)
            ("odoo no answer", lambda c: c["odoo"].update(url=self.hole_url), 3,
             r"odoo at http://127\.0\.0\.1:\d+.*no answer in 2000 ms"),
            ("odoo port closed",
             lambda c: c["odoo"].update(url="http://127.0.0.1:%d" % free_port()), 3,
             r"odoo at http://127\.0\.0\.1:\d+.*(?i:connect)"),
            ("odoo wrong database", lambda c: c["odoo"].update(database="no_such_db"), 3,
             r"odoo at .*no_such_db"),
            ("odoo is not Odoo (Apache)", lambda c: c["odoo"].update(url=base), 3,
             r"odoo at %s.*not Odoo" % base),
            ("cloud no answer", lambda c: c["cloud"].update(url=self.hole_url + "/dav/"), 3,
             r"cloud at http://127\.0\.0\.1:\d+/dav/.*no answer from the server in 2000 ms"),
            ("cloud is not WebDAV", lambda c: c["cloud"].update(url=self.odoo.url + "/"), 3,
             r"cloud at %s/.*not a WebDAV server" % self.odoo.url),
            ("cloud base url not found", lambda c: c["cloud"].update(url=dav + "no-such-dir/"), 3,
             r"cloud at %sno-such-dir/.*HTTP 404" % dav),
            ("cloud wrong password", lambda c: c["cloud"].update(password_env="E2E_WRONG"), 3,
             r"cloud at .*HTTP 401"),
        ] + ([("cloud self-signed certificate",
               lambda c: c["cloud"].update(url=env["DAV_TLS_URL"]), 3,
               r"cloud at %s.*(?i:certificate)" % env["DAV_TLS_URL"])]
             if env.get("DAV_TLS_URL") else [])

    def test_every_row_every_command(self):
        import json
        self.config_with(None)
        with open(self.config) as f:
            good = json.load(f)
        bad = []
        for name, change, code, say in self.rows():
            cfg = json.loads(json.dumps(good))
            change(cfg)
            with open(self.config, "w") as f:
                json.dump(cfg, f)
            for args in (["check"], ["plan"], ["run", "--once"]):
                t0 = time.monotonic()
                try:
                    p = subprocess.run([harness.binary()] + args + ["--config", self.config],
                                       env=dict(self.env_vars(), E2E_WRONG="wrong-password-1"),
                                       capture_output=True, text=True, timeout=BOUND_S * 2)
                except subprocess.TimeoutExpired:
                    bad.append("%s / %s: still running after %d s" % (name, " ".join(args),
                                                                      BOUND_S * 2))
                    continue
                took = time.monotonic() - t0
                text = (p.stdout + p.stderr).replace('\\"', '"')
                if (p.returncode != code or not re.search(say, text) or took > BOUND_S
                        or "dead-lettered" in text):
                    bad.append("%s / %s: exit %d (want %d) in %.1f s, want /%s/:\n%s" % (
                        name, " ".join(args), p.returncode, code, took, say, text))
        self.assertEqual(bad, [], "\n\n".join(bad))


if __name__ == "__main__":
    harness.main()
