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
    and the refusal is only a warning;
  - every event names what it touched: attachment id and name, record, cloud path (an
    Odoo-side delete included); an incomplete Odoo scan says which read failed, with the
    model, the call and Odoo's message.
"""
import collections
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SyncCase, binary, main  # noqa: E402

FIELDS = ["name", "type", "dbname", "level", "message", "path", "func", "line"]
ON = {"odoo": True, "odoo_batch": 3, "odoo_flush_ms": 60000}


class Base(SyncCase):

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

    def events(self, n):
        """run --once; every event of that pass."""
        path = os.path.join(self.tmp, "events-%d.jsonl" % n)
        self.sync("--events", path)
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

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


class SyncLogNames(Base):
    """Every event names what it touched: the attachment (id and name), the record, the
    cloud path (for an Odoo-side job, the file its url named) and, where the server gives
    file ids, the file id (test_links.py, on the Nextcloud-like server)."""

    def test_events_name_attachment_record_and_path(self):
        self.write_config(sync_log=ON)
        so = self.order("SO200")
        rec = "sale.order,%d" % so
        aid = self.odoo.attach("sale.order", so, "quote.pdf", b"%PDF-1.4 quote")
        gone = self.odoo.attach("sale.order", so, "gone.txt", b"gone in the cloud")
        dropped = self.odoo.attach("sale.order", so, "dropped.txt", b"gone in Odoo")
        evs = self.events(1)
        up = {e["att_id"]: e for e in evs if e["kind"] == "upload"}
        self.assertEqual(set(up), {aid, gone, dropped}, evs)
        self.assertEqual((up[aid]["name"], up[aid]["record"], up[aid]["path"]),
                         ("quote.pdf", rec, self.p("Quotations/SO200/quote.pdf")))

        # a file deleted in the cloud: the Odoo delete names the attachment, its name,
        # its record and the file its url named (it carried only the record)
        self.dav.delete(self.p("Quotations/SO200/gone.txt"))
        # an attachment deleted in Odoo: the cloud delete names the attachment it follows
        self.odoo.unlink("ir.attachment", dropped)
        # a new cloud file: the relink names the attachment it created
        self.dav.put(self.p("Quotations/SO200/new.txt"), b"new in the cloud")
        evs = self.events(2)
        dodoo = [e for e in evs if e["kind"] == "delete" and e["side"] == "odoo"]
        self.assertEqual(len(dodoo), 1, evs)
        self.assertEqual({k: dodoo[0].get(k) for k in ("att_id", "name", "record", "path")},
                         {"att_id": gone, "name": "gone.txt", "record": rec,
                          "path": self.p("Quotations/SO200/gone.txt")})
        dcloud = [e for e in evs if e["kind"] == "delete" and e["side"] == "cloud"]
        self.assertEqual(len(dcloud), 1, evs)
        self.assertEqual({k: dcloud[0].get(k) for k in ("att_id", "name", "record", "path")},
                         {"att_id": dropped, "name": "dropped.txt", "record": rec,
                          "path": self.p("Quotations/SO200/dropped.txt")})
        rl = [e for e in evs if e["kind"] == "relink"]
        self.assertEqual(len(rl), 1, evs)
        made = [a["id"] for a in self.odoo.attachments([("name", "=", "new.txt")])]
        self.assertEqual(len(made), 1)
        self.assertEqual({k: rl[0].get(k) for k in ("att_id", "name", "record", "path")},
                         {"att_id": made[0], "name": "new.txt", "record": rec,
                          "path": self.p("Quotations/SO200/new.txt")})
        self.assertIsNone(self.att_by_id(gone))
        # the record in Odoo's ir.logging says the same
        msgs = [r["message"] for r in self.logs() if r["func"] == "delete"]
        self.assertIn('delete %s/Quotations/SO200/gone.txt [%s] (Odoo attachment %d "gone.txt"): '
                      "applied" % (self.root, rec, gone), msgs)

    def test_incomplete_scan_names_the_read_the_model_and_odoos_message(self):
        so = self.order("SO201")
        self.odoo.attach("sale.order", so, "a.txt", b"a")
        self.sync()
        # a cloud file tagged with an attachment of a record we may not read: reading that
        # attachment by id is refused (ir.attachment's rights are its record's)
        proj = self.odoo.create("project.project", {"name": "Secret"})
        hidden = self.odoo.attach("project.project", proj, "h.txt", b"h")
        self.dav.put(self.p("Quotations/SO201/h.txt"), b"h")
        body = ('<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" '
                'xmlns:o="urn:odoosync"><d:set><d:prop><o:attachment>%d</o:attachment>'
                '</d:prop></d:set></d:propertyupdate>' % hidden)
        st, _ = self.dav.req("PROPPATCH", self.p("Quotations/SO201/h.txt"), body.encode(),
                             {"Content-Type": "application/xml"})
        self.assertEqual(st, 207)
        self.control({"deny_model": "project.project"})
        self.addCleanup(self.control, {"allow_model": "project.project"})
        p = self.run_cmd("plan", expect=4)
        out = p.stdout + p.stderr
        line = [ln for ln in out.splitlines() if "the Odoo scan is incomplete" in ln]
        self.assertTrue(line, out)
        # which read, which model and call, and Odoo's own message
        self.assertIn("reading the attachments tagged on cloud files", line[0])
        self.assertIn("ir.attachment.read", line[0])
        self.assertIn("AccessError", line[0])
        self.assertIn("project.project", line[0])
        # and the warning is logged at warn level, not only at debug
        self.assertIn("no deletion this pass", p.stderr)


class SyncLogFileIds(Base):
    """On a server with file ids (the Nextcloud-like ncdav.py), events name them too."""
    CLOUD = "NCDAV"

    def fileid(self, rel):
        body = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" '
                b'xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop></d:propfind>')
        st, data = self.dav.req("PROPFIND", self.p(rel), body,
                                {"Depth": "0", "Content-Type": "application/xml"})
        self.assertEqual(st, 207, rel)
        m = re.search(rb"<oc:fileid>(\d+)</oc:fileid>", data)
        return m.group(1).decode() if m else None

    def test_events_name_the_file_id(self):
        so = self.order("SO300")
        aid = self.odoo.attach("sale.order", so, "quote.pdf", b"%PDF-1.4 quote")
        up = [e for e in self.events(1) if e["kind"] == "upload"]
        fid = self.fileid("Quotations/SO300/quote.pdf")
        self.assertTrue(fid)
        self.assertEqual([(e["att_id"], e.get("fileid")) for e in up], [(aid, fid)])
        # "new": the url written, the server's web link
        u = urllib.parse.urlparse(self.env["DAV_URL"])
        self.assertEqual(up[0]["new"], "%s://%s/index.php/f/%s" % (u.scheme, u.netloc, fid))
        self.assertEqual(self.att_by_id(aid)["url"], up[0]["new"])
        self.events(2)  # a pass that sees the file: its link holds the file id
        self.dav.delete(self.p("Quotations/SO300/quote.pdf"))
        dodoo = [e for e in self.events(3) if e["kind"] == "delete"]
        self.assertEqual(len(dodoo), 1, dodoo)
        self.assertEqual({k: dodoo[0].get(k) for k in ("side", "att_id", "name", "path",
                                                        "fileid")},
                         {"side": "odoo", "att_id": aid, "name": "quote.pdf",
                          "path": self.p("Quotations/SO300/quote.pdf"), "fileid": fid})


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
