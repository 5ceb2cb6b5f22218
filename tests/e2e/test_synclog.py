#!/usr/bin/env python3
"""End-to-end: the sync log written into Odoo's own ir.logging (config `sync_log.odoo`).

`odoosync run --once --events FILE` on a small scenario, against the stack's Apache
WebDAV and a private Odoo emulator:
  - option on: one ir.logging record per applied job, with the job's kind (func) and cloud
    path (path), a readable message (old -> new for renames), name "odoosync", type
    "server", level INFO, the database name and line "0"; written in batches (fewer create
    calls than records), and all written before `run --once` exits;
  - option off (the default): no ir.logging record at all;
  - Odoo refusing ir.logging (access rights): every job still applies, the pass exits 0,
    and the refusal is only a warning.
"""
import collections
import http.client
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SyncCase, binary, main  # noqa: E402

FIELDS = ["name", "type", "dbname", "level", "message", "path", "func", "line"]
ON = {"odoo": True, "odoo_batch": 3, "odoo_flush_ms": 60000}


class Base(SyncCase):
    def control(self, cmd):
        conn = http.client.HTTPConnection("127.0.0.1", self.odoo.port, timeout=30)
        try:
            conn.request("POST", "/__emulator__/control", json.dumps(cmd),
                         {"Content-Type": "application/json"})
            conn.getresponse().read()
        finally:
            conn.close()

    def stats(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.odoo.port, timeout=30)
        try:
            conn.request("GET", "/__emulator__/stats")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def scenario(self):
        c = self.odoo.create("res.partner", {"name": "Agrolait", "is_company": True,
                                             "customer_rank": 1})
        so = self.odoo.create("sale.order", {"name": "SO100", "partner_id": c})
        self.odoo.attach("res.partner", c, "card.txt", b"agrolait card")
        self.odoo.attach("sale.order", so, "quote.pdf", b"%PDF-1.4 quote")
        self.odoo.attach("sale.order", so, "devis \u00e9t\u00e9 \u2013 v2.txt", b"notes")
        return so

    def pass_events(self, n):
        """run --once; the applied events of that pass."""
        path = os.path.join(self.tmp, "events-%d.jsonl" % n)
        p = self.sync("--events", path)
        with open(path) as f:
            events = [json.loads(line) for line in f if line.strip()]
        return p, [e for e in events if e["result"] == "applied"]

    def logs(self):
        return self.odoo.call("ir.logging", "search_read", [[]],
                              {"fields": FIELDS, "order": "id"})


class SyncLogOdoo(Base):
    def test_records_match_applied_jobs(self):
        self.write_config(sync_log=ON)
        so = self.scenario()
        _, applied = self.pass_events(1)
        kinds = collections.Counter(e["kind"] for e in applied)
        self.assertGreaterEqual(kinds["mkdir"], 3, applied)
        self.assertEqual(kinds["upload"], 3, applied)
        self.assertIn("upload %s/Quotations/SO100/devis \u00e9t\u00e9 \u2013 v2.txt" % self.root,
                      [r["message"].split(" [")[0] for r in self.logs()])
        logs = self.logs()
        # one record per applied job, same kind and path
        self.assertEqual(len(logs), len(applied), json.dumps(logs, indent=1))
        self.assertEqual(collections.Counter((r["func"], r["path"]) for r in logs),
                         collections.Counter((e["kind"], e["path"]) for e in applied))
        by_key = {(e["kind"], e["path"]): e for e in applied}
        for r in logs:
            self.assertEqual((r["name"], r["type"], r["level"], r["dbname"], r["line"]),
                             ("odoosync", "server", "INFO", "odoosync", "0"), r)
            e = by_key[(r["func"], r["path"])]
            self.assertTrue(r["message"].startswith("%s %s" % (e["kind"], e["path"][1:])), r)
            self.assertTrue(r["message"].endswith(": applied"), r)
            if e.get("record"):
                self.assertIn("[%s]" % e["record"], r["message"])
        up = [r for r in logs if r["func"] == "upload" and r["path"].endswith("/quote.pdf")]
        self.assertEqual(len(up), 1)
        self.assertEqual(up[0]["message"], "upload %s/Quotations/SO100/quote.pdf "
                         "[sale.order,%d]: applied" % (self.root, so))
        # batched: fewer create calls than records (batches of 3, no timed flush)
        creates = self.stats().get("ir.logging.create", 0)
        self.assertGreaterEqual(creates, (len(logs) + 2) // 3)
        self.assertLess(creates, len(logs))

        # a rename: the record shows the old and the new path
        self.odoo.write("sale.order", so, {"name": "SO100-B"})
        _, applied2 = self.pass_events(2)
        renames = [e for e in applied2 if e["kind"] == "rename"]
        self.assertEqual(len(renames), 1, applied2)
        logs2 = self.logs()[len(logs):]
        self.assertEqual(collections.Counter((r["func"], r["path"]) for r in logs2),
                         collections.Counter((e["kind"], e["path"]) for e in applied2))
        rn = [r for r in logs2 if r["func"] == "rename"]
        self.assertEqual(len(rn), 1, logs2)
        self.assertIn("%s/Quotations/SO100 -> %s/Quotations/SO100-B" % (self.root, self.root),
                      rn[0]["message"])
        self.assertTrue(rn[0]["message"].endswith(": applied"), rn[0])

    def test_off_writes_nothing(self):
        self.scenario()
        _, applied = self.pass_events(1)
        self.assertGreaterEqual(len(applied), 6)
        self.assertEqual(self.odoo.call("ir.logging", "search_count", [[]]), 0)
        self.assertNotIn("ir.logging.create", self.stats())

    def test_refused_never_fails_jobs(self):
        self.write_config(sync_log=dict(ON, odoo_flush_ms=200))
        self.scenario()
        self.control({"deny_model": "ir.logging"})
        p, applied = self.pass_events(1)
        self.assertIn("cannot write to Odoo's ir.logging", p.stderr)
        self.assertIn("AccessError", p.stderr)
        self.assertEqual(len([e for e in applied if e["kind"] == "upload"]), 3)
        self.assertEqual(self.dav.get(self.p("Quotations/SO100/quote.pdf")), b"%PDF-1.4 quote")
        self.assertGreaterEqual(self.stats().get("ir.logging.create", 0), 1)
        self.control({"allow_model": "ir.logging"})
        self.assertEqual(self.odoo.call("ir.logging", "search_count", [[]]), 0)
        self.assertQuiet()


class SyncLogCluster(Base):
    def test_work_writes_records(self):
        env = self.env
        tag = self.root.replace("e2e-", "")
        topics = {k: "e2e.%s.%s" % (tag, k) for k in ("jobs", "retry", "dlq", "events")}
        ctl = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "stack", "stack")
        for name in topics.values():
            subprocess.run([ctl, "kafka", "--dir", env["STACK_DIR"], "topic", name, "6", "1"],
                           check=True, capture_output=True, timeout=30)
        self.write_config(
            kafka={"bootstrap": env["KAFKA_BOOTSTRAP"], "topics": topics,
                   "group": "e2e-%s" % tag,
                   "properties": {"reconnect.backoff.max.ms": "1000",
                                  "session.timeout.ms": "6000",
                                  "heartbeat.interval.ms": "500"}},
            redis={"url": env["REDIS_URL"]},
            sync_log={"odoo": True, "odoo_batch": 50, "odoo_flush_ms": 300})
        self.scenario()
        events = os.path.join(self.tmp, "worker-events.jsonl")
        log_path = os.path.join(self.tmp, "worker.log")
        with open(log_path, "w") as log:
            w = subprocess.Popen(
                [binary(), "work", "--config", self.config, "--events", events, "-L", "warn"],
                env=dict(os.environ, E2E_ODOO_PASSWORD="admin",
                         E2E_DAV_PASSWORD=env["DAV_PASSWORD"]), stdout=log, stderr=log)

        def worker_log():
            with open(log_path) as f:
                return f.read()[-3000:]

        def stop():
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                try:
                    return w.wait(60)
                except subprocess.TimeoutExpired:
                    w.kill()
            return w.wait()
        self.addCleanup(stop)
        p = self.run_cmd("produce", "--once")
        emitted = [int(line.split()[1]) for line in p.stdout.splitlines()
                   if line.startswith("produce:")]
        self.assertEqual(len(emitted), 1, p.stdout)
        self.assertGreaterEqual(emitted[0], 6)

        def final():
            if not os.path.exists(events):
                return []
            with open(events) as f:
                evs = [json.loads(line) for line in f if line.endswith("\n")]
            return [e for e in evs if e["result"] in ("applied", "already-done", "skipped",
                                                      "dead-lettered")]
        deadline = time.time() + 120
        while len({e["job"] for e in final()}) < emitted[0]:
            self.assertIsNone(w.poll(), "the worker died:\n%s" % worker_log())
            self.assertLess(time.time(), deadline, "jobs not finished:\n%s" % worker_log())
            time.sleep(0.1)
        applied = [e for e in final() if e["result"] == "applied"]
        # written by the worker's timed flushes, while it runs
        deadline = time.time() + 60
        while len(self.logs()) < len(applied):
            self.assertLess(time.time(), deadline, "ir.logging: %d of %d records\n%s" % (
                len(self.logs()), len(applied), worker_log()))
            time.sleep(0.2)
        self.assertIsNone(w.poll(), worker_log())
        logs = self.logs()
        self.assertEqual(collections.Counter((r["func"], r["path"]) for r in logs),
                         collections.Counter((e["kind"], e["path"]) for e in applied))
        code = stop()
        if code == -signal.SIGABRT and "rd_kafka_sticky_assignor_state_destroy" in worker_log():
            code = 0  # librdkafka < 2.3 abort at close (#4312), see test_cluster.py
        self.assertEqual(code, 0, worker_log())
        self.assertEqual(len(self.logs()), len(applied))


if __name__ == "__main__":
    main()
