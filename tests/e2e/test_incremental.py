#!/usr/bin/env python3
"""End-to-end: the incremental Odoo scan (producer/scan_inc.c) against a private Odoo
emulator and the stack's Apache WebDAV.

  (1) equivalence: after seeded rounds of random changes in Odoo (renames, state
      changes, records and attachments created and deleted, attachments re-linked
      and renamed), `odoosync plan --json` with the saved scan state plans exactly
      the jobs (every field but the pass's timestamps) of a plan with a new, empty
      state file, and of a plan without any state (the original full scan);
  (2) cost: on 300 customers x 3 attachments, a pass with no change reads far less
      than a full one (the emulator's call counters, and odoosync's own count of
      rows read); the figures are printed;
  (2b) `produce` with redis.url keeps the state in Redis (read back by the next pass,
      no file written);
  (3) a lost or corrupt state file only costs a full pass: same plan;
  (4) the cloud's ETag reuse (Nextcloud/ownCloud only), forced on Apache with
      cloud.dialect=nextcloud: an unchanged tree costs one request and plans what a
      full walk plans, also right after a pass that tagged everything (folders that
      jobs touch are listed again); a change deep down is missed on Apache, whose
      folder ETags do not propagate: the reason the reuse is gated on the dialect;
  (5) the settled check (producer/settled.h), with the same forced dialect: after a
      pass that planned nothing, a pass with no change reads a few counts and rows and
      the root's ETag, scans nothing and plans nothing; each kind of change (a record
      renamed, deleted or leaving its domain, an attachment added or deleted, a type
      folder deleted in the cloud, another configuration) makes it scan again and plan
      exactly what a pass with a new state plans; (5b) `produce` keeps its mark in
      Redis, next to its state, and removes it after a pass that emitted jobs.

The state file lives in the test's temporary directory (-X state.file=...).
Renaming a company whose contacts are synced is left out of the random changes:
the emulator recomputes the contacts' display names without touching their
write_date, where Odoo (a stored computed complete_name) bumps it.
"""
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SyncCase, binary, create_topics, main  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("INCREMENTAL_SEEDS", "11,23,37").split(",")]
ROUNDS = int(os.environ.get("INCREMENTAL_ROUNDS", "4"))
OPS = int(os.environ.get("INCREMENTAL_OPS", "8"))
VOLATILE = ("version", "created_at", "attempt")
CLOUD_LINE = re.compile(r"cloud scan: (\d+) entries in \d+ ms, (\d+) requests")
SCAN_LINE = re.compile(r"odoo scan \(([^)]*)\): (\d+) records?, (\d+) attachments?; "
                       r"(?:(\d+) ids listed, )?(\d+) rows read, (\d+) requests")


class Incremental(SyncCase):
    EXTRA = {"safety": {"max_delete_share": 1.0}}

    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.tmp, "state.json")
        self.fresh_n = 0

    # --- running odoosync -------------------------------------------------------------
    def odoosync(self, *args, state=None, expect=0, links=None):
        """odoosync with the given state file (None: the test's; "": no state, the
        original full scan, through --full-scan), log level info."""
        env = dict(os.environ, E2E_ODOO_PASSWORD="admin",
                   E2E_DAV_PASSWORD=self.env["DAV_PASSWORD"])
        st = self.state if state is None else state
        # --full-scan: the scans read no state; the planner still reads the links
        extra = ["--full-scan", "-X", "state.file=" + (links or self.fresh())] if st == "" else [
            "-X", "state.file=" + st]
        p = subprocess.run([binary()] + list(args) + extra + [
            "--config", self.config, "-X", "log.format=human",
            "-L", "info"], env=env, capture_output=True, text=True, timeout=600)
        if expect is not None and p.returncode != expect:
            self.fail("odoosync %s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
                " ".join(args), p.returncode, expect, p.stdout, p.stderr[-4000:]))
        return p

    def plan(self, state=None, extra=(), links=None):
        p = self.odoosync("plan", "--json", *extra, state=state, expect=None, links=links)
        self.assertIn(p.returncode, (0, 4), p.stderr[-4000:])
        jobs = set()
        for line in p.stdout.splitlines():
            if line.strip():
                j = json.loads(line)
                for k in VOLATILE:
                    j.pop(k, None)
                jobs.add(json.dumps(j, sort_keys=True))
        m = SCAN_LINE.search(p.stderr)
        self.assertIsNotNone(m, "no scan summary in the log:\n" + p.stderr[-4000:])
        return jobs, m, p

    def sync_settled(self):
        """run --once, then let Apache's ETags settle: during the second a file
        changed, Apache calls its ETag weak (W/"..."), a second later strong, and
        the planned jobs (their expect.etag, so their ids) would differ for a
        reason that has nothing to do with the scan state."""
        self.odoosync("run", "--once")
        time.sleep(1.1)

    @staticmethod
    def has_full_scan_flag():
        p = subprocess.run([binary(), "plan", "--help"], capture_output=True, text=True)
        return "--full-scan" in p.stdout + p.stderr

    def redis_strlen(self, key):
        """Redis' raw answer to STRLEN key (":<n>\\r\\n")."""
        host, port = self.env["REDIS_URL"].split("//")[1].split("/")[0].split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"*2\r\n$6\r\nSTRLEN\r\n$%d\r\n%s\r\n" % (len(key), key.encode()))
            return s.recv(64)

    def fresh(self, links=True):
        """A state file for a plan without the scan state: nothing of the scans (a full
        Odoo scan and a full cloud walk), only the links of the test's state. They are
        the planner's view of the previous pass (what it saw linked), not a scan
        shortcut: without them no tag of a deleted attachment is proven, and an
        attachment moved in Odoo could not be told from a file moved in the cloud."""
        self.fresh_n += 1
        path = os.path.join(self.tmp, "fresh-%d.json" % self.fresh_n)
        if links and os.path.exists(self.state):
            with open(self.state) as f:
                st = json.load(f)
            st.update(watermark=None, types=[], have_atts=False, atts=[], dirs=[])
            with open(path, "w") as f:
                json.dump(st, f)
        return path

    def stats(self, reset=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.odoo.port, timeout=30)
        try:
            if reset:
                conn.request("POST", "/__emulator__/control", json.dumps({"reset": True}),
                             {"Content-Type": "application/json"})
            else:
                conn.request("GET", "/__emulator__/stats")
            body = conn.getresponse().read()
        finally:
            conn.close()
        return {} if reset else json.loads(body)

    def assertSamePlans(self, label):
        # the links of the previous pass, before this plan saves its own
        fresh, links = self.fresh(), self.fresh()
        inc, m_inc, _ = self.plan()
        full, m_full, _ = self.plan(state=fresh)
        self.assertEqual(m_inc.group(1), "incremental", "%s: the state was not used" % label)
        self.assertEqual(m_full.group(1), "full")
        self.assertEqual(sorted(inc - full), [], "%s: planned only with the state" % label)
        self.assertEqual(sorted(full - inc), [], "%s: planned only without the state" % label)
        if self.has_full_scan_flag():
            legacy, m_legacy, _ = self.plan(state="", links=links)
            self.assertEqual(m_legacy.group(1), "full, no state")
            self.assertEqual(sorted(full ^ legacy), [],
                             "%s: a new state differs from no state" % label)
        return inc

    # --- Odoo population and random changes ------------------------------------------
    def bulk_customers(self, n, per):
        """n customers with per url attachments each, in two calls stamped an hour ago
        (as in a database whose rows are mostly old: the emulator's late_commit); then
        one more customer ("Latecomer"), so the watermark is now and the bulk load is
        out of the overlap (SCAN_WM_OVERLAP_S) that every pass reads again."""
        self.control({"late_commit": {"seconds": 3600, "count": 2}})
        ids = self.odoo.call("res.partner", "create", [[
            {"name": "Customer %03d" % i, "is_company": True, "customer_rank": 1}
            for i in range(n)]])
        self.odoo.call("ir.attachment", "create", [[
            {"name": "doc %d.txt" % j, "type": "url", "url": "https://example.com/%d/%d" % (i, j),
             "res_model": "res.partner", "res_id": pid}
            for i, pid in enumerate(ids) for j in range(per)]])
        self.customer("Latecomer")

    def populate(self, rnd):
        self.partners, self.orders = [], []
        for i in range(6):
            self.partners.append(self.customer("Company %d" % i))
        self.contacts = [self.customer("Person %d" % i, is_company=False,
                                       parent_id=self.partners[i]) for i in range(2)]
        for i in range(8):
            pid = rnd.choice(self.partners)
            self.orders.append(self.odoo.create("sale.order", {
                "name": "SO%03d" % i, "partner_id": pid,
                "state": rnd.choice(["draft", "sent", "sale", "cancel"])}))
        for i in range(10):
            self.new_attachment(rnd)

    def records(self):
        return ([("res.partner", p) for p in self.partners + self.contacts] +
                [("sale.order", o) for o in self.orders])

    def new_attachment(self, rnd):
        if rnd.random() < 0.2:
            model, rid = None, 0
        else:
            model, rid = rnd.choice(self.records())
        self.odoo.attach(model, rid, "file %d.txt" % rnd.randrange(1000),
                         os.urandom(rnd.randrange(1, 200)))

    def op(self, rnd, log):
        kind = rnd.choice(["rename", "state", "create_order", "create_customer", "delete",
                           "rank", "attach", "unattach", "relink", "rename_att", "contact"])
        atts = self.odoo.attachments()
        try:
            if kind == "rename":
                # not a company with contacts: see the module docstring
                pid = rnd.choice([p for p in self.partners if p not in self.partners[:2]])
                target = rnd.choice([("res.partner", pid)] +
                                    [("sale.order", o) for o in self.orders])
                self.odoo.write(target[0], target[1], {"name": "renamed %d" % rnd.randrange(999)})
            elif kind == "state":
                self.odoo.write("sale.order", rnd.choice(self.orders),
                                {"state": rnd.choice(["draft", "sent", "sale", "cancel"])})
            elif kind == "create_order":
                self.orders.append(self.odoo.create("sale.order", {
                    "name": "SO-new-%d" % rnd.randrange(999),
                    "partner_id": rnd.choice(self.partners)}))
            elif kind == "create_customer":
                self.partners.append(self.customer("New Co %d" % rnd.randrange(999)))
            elif kind == "delete":
                o = rnd.choice(self.orders)
                self.odoo.write("sale.order", o, {"state": "cancel"})
                self.odoo.unlink("sale.order", o)
                self.orders.remove(o)
            elif kind == "rank":
                pid = rnd.choice(self.partners[2:])
                self.odoo.write("res.partner", pid, {"customer_rank": rnd.choice([0, 1])})
            elif kind == "attach":
                self.new_attachment(rnd)
            elif kind == "unattach" and atts:
                self.odoo.unlink("ir.attachment", rnd.choice(atts)["id"])
            elif kind == "relink" and atts:
                a = rnd.choice(atts)
                model, rid = rnd.choice(self.records() + [(False, 0)])
                self.odoo.write("ir.attachment", a["id"], {"res_model": model, "res_id": rid})
            elif kind == "rename_att" and atts:
                a = rnd.choice(atts)
                self.odoo.write("ir.attachment", a["id"], {"name": "re %d.txt" % rnd.randrange(99)})
            elif kind == "contact":
                c = rnd.choice(self.contacts)
                self.odoo.write("res.partner", c, {"name": "Person %d" % rnd.randrange(999)})
            log.append(kind)
        except RuntimeError as exc:  # Odoo refused (a confirmed order, a used partner)
            log.append("%s refused: %s" % (kind, str(exc)[:60]))

    # --- (1) ----------------------------------------------------------------------------
    def test_equivalence_random_rounds(self):
        for seed in SEEDS:
            with self.subTest(seed=seed):
                self.odoo.stop()
                from harness import Emulator
                self.odoo = Emulator()
                self.addCleanup(self.odoo.stop)
                self.write_config()
                if os.path.exists(self.state):
                    os.unlink(self.state)
                rnd = random.Random(seed)
                self.populate(rnd)
                self.sync_settled()
                log = []
                for rnd_i in range(ROUNDS):
                    for _ in range(OPS):
                        self.op(rnd, log)
                    self.assertSamePlans("seed %d round %d (%s)" % (seed, rnd_i, ", ".join(log)))
                    # apply (the run's own changes in Odoo are then read back)
                    self.sync_settled()
                    self.assertSamePlans("seed %d round %d after run" % (seed, rnd_i))

    # --- (2) ----------------------------------------------------------------------------
    def test_no_change_pass_reads_little(self):
        n, per = 300, 3
        self.bulk_customers(n, per)

        def measured(state):
            self.stats(reset=True)
            jobs, m, _ = self.plan(state=state)
            calls = self.stats()
            reads = sum(v for k, v in calls.items()
                        if k.endswith(".search_read") or k.endswith(".read"))
            return jobs, m, calls, reads

        legacy = self.has_full_scan_flag()
        if legacy:
            legacy_jobs, m_legacy, calls_legacy, reads_legacy = measured("")
        full_jobs, m_full, calls_full, reads_full = measured(self.state)
        inc_jobs, m_inc, calls_inc, reads_inc = measured(self.state)
        self.assertEqual(m_full.group(1), "full")
        self.assertEqual(m_inc.group(1), "incremental")
        self.assertEqual(inc_jobs, full_jobs)
        rows = lambda m: int(m.group(5))  # noqa: E731
        reqs = lambda m: int(m.group(6))  # noqa: E731
        if legacy:
            self.assertEqual(full_jobs, legacy_jobs)
            print("\n--full-scan (no state): %d rows read, %d requests, %d search_read/read "
                  "calls %s" % (rows(m_legacy), reqs(m_legacy), reads_legacy, calls_legacy))
        print("\nfirst pass (fills the state): %d rows read, %d requests, %d search_read/read "
              "calls %s" % (rows(m_full), reqs(m_full), reads_full, calls_full))
        print("no-change incremental pass: %d rows read, %d ids listed, %d requests, "
              "%d search_read/read calls %s"
              % (rows(m_inc), int(m_inc.group(4)), reqs(m_inc), reads_inc, calls_inc))
        self.assertEqual(int(m_inc.group(2)), n + 1)
        self.assertEqual(int(m_inc.group(3)), n * per)
        self.assertGreaterEqual(rows(m_full), n * (per + 1))
        self.assertLess(rows(m_inc) * 20, rows(m_full))
        self.assertLess(reads_inc, reads_full)
        if legacy:
            self.assertGreaterEqual(rows(m_legacy), n * (per + 1))
            self.assertLess(rows(m_inc) * 20, rows(m_legacy))
            self.assertLess(reads_inc, reads_legacy)

    # --- (2b) the cluster mode keeps the state in Redis -------------------------------
    def test_produce_keeps_its_state_in_redis(self):
        """`produce` (a CronJob: no file survives between its pods) keeps the scan
        state in Redis when redis.url is set: the first pass scans in full and
        writes it, the next one reads it back and scans incrementally; no state
        file is written."""
        tag = self.root.replace("e2e-", "")
        topics = {"jobs": "e2e.%s.jobs" % tag, "retry": "e2e.%s.retry" % tag,
                  "dlq": "e2e.%s.dlq" % tag, "events": "e2e.%s.events" % tag}
        create_topics(self.env, topics.values(), 3)
        self.write_config(kafka={"bootstrap": self.env["KAFKA_BOOTSTRAP"], "topics": topics,
                                 "group": "e2e-%s" % tag},
                          redis={"url": self.env["REDIS_URL"]})
        n = 40
        self.bulk_customers(n, 2)

        first = self.odoosync("produce", "--once")
        self.assertIn("no scan state in redis", first.stderr)
        m1 = SCAN_LINE.search(first.stderr)
        self.assertIsNotNone(m1, first.stderr[-4000:])
        self.assertEqual(m1.group(1), "full")
        key = None
        second = self.odoosync("produce", "--once")
        m = re.search(r"scan state read from redis \(state:([0-9a-f]{40}), (\d+) bytes\)",
                      second.stderr)
        self.assertIsNotNone(m, second.stderr[-4000:])
        key, size = "odoosync:state:" + m.group(1), int(m.group(2))
        m2 = SCAN_LINE.search(second.stderr)
        self.assertEqual(m2.group(1), "incremental")
        self.assertEqual(int(m2.group(2)), n + 1)
        self.assertLess(int(m2.group(5)) * 10, int(m1.group(5)))
        self.assertFalse(os.path.exists(self.state), "produce wrote the state file too")
        # the key really is in Redis, whole
        self.assertEqual(self.redis_strlen(key), b":%d\r\n" % size)
        print("\nproduce: first pass %s rows read; second (state from redis, %d bytes) %s rows"
              % (m1.group(5), size, m2.group(5)))

    # --- (3) ----------------------------------------------------------------------------
    def test_lost_or_corrupt_state_costs_a_full_pass(self):
        rnd = random.Random(5)
        self.populate(rnd)
        self.sync_settled()
        for _ in range(OPS):
            self.op(rnd, [])
        # a lost state loses the links too: the plan of a first pass (a tag of a deleted
        # attachment is not proven, its file is linked anew)
        want, _, _ = self.plan(state=self.fresh(links=False))
        os.unlink(self.state)
        got, m, p = self.plan()
        self.assertEqual(m.group(1), "full")
        self.assertIn("no scan state", p.stderr)
        self.assertEqual(got, want)
        with open(self.state, "w") as f:
            f.write('{"version": 1, "odoo_key": "x", "types": [tru')
        got, m, p = self.plan()
        self.assertEqual(m.group(1), "full")
        self.assertIn("is corrupt", p.stderr)
        self.assertEqual(got, want)
        self.assertTrue(os.path.exists(self.state))
        got, m, _ = self.plan()
        self.assertEqual(m.group(1), "incremental")
        self.assertEqual(got, want)
        # another domain for a type: that type starts over, the plan is the same
        types = [dict(t) for t in self.TYPES]
        types[0]["domain"] = "[('customer_rank', '>=', 1)]"
        self.write_config(types=types)
        want, _, _ = self.plan(state=self.fresh())
        got, m, _ = self.plan()
        self.assertEqual(got, want)


    # --- (4) ----------------------------------------------------------------------------
    def test_cloud_etag_reuse_forced_on_apache(self):
        nc = ("-X", "cloud.dialect=nextcloud")

        def plan_nc(state=None):
            jobs, _, p = self.plan(state=state, extra=nc)
            m = CLOUD_LINE.findall(p.stderr)
            self.assertTrue(m, p.stderr[-4000:])
            return jobs, int(m[-1][0]), int(m[-1][1])

        rnd = random.Random(3)
        self.populate(rnd)
        self.odoosync("run", "--once", *nc)
        time.sleep(1.1)
        walked, entries, reqs_full = plan_nc(state=self.fresh())
        self.assertEqual(walked, set(), "the pass did not converge")
        self.assertGreater(reqs_full, 10)
        # right after the run (which saved its listings before tagging): listed again
        got, n, _ = plan_nc()
        self.assertEqual((got, n), (walked, entries))
        # that pass planned nothing, so the next one would only check its settled mark
        # (test (5)); without the mark, the walk itself reuses the folders
        self.assertTrue(os.path.exists(self.state + ".settled"))
        os.remove(self.state + ".settled")
        got, n, reqs = plan_nc()
        self.assertEqual((got, n), (walked, entries))
        self.assertLessEqual(reqs, 2, "an unchanged tree is one request (+ dialect probe)")
        # a type folder deleted: the root's ETag changes on Apache too
        self.dav.delete(self.p("Orders"))
        time.sleep(1.1)
        want, n_want, _ = plan_nc(state=self.fresh())
        got, n, _ = plan_nc()
        self.assertEqual((got, n), (want, n_want))
        self.assertTrue(any('"mkdir"' in j for j in got))
        # a file put into a document folder: Apache changes no ancestor's ETag
        self.odoosync("run", "--once", *nc)
        doc = sorted(k for k, v in self.tree().items()
                     if v[0] and k.count("/") == 1 and k.startswith("Quotations/"))[0]
        plan_nc()
        self.dav.put(self.p(doc + "/new file.txt"), b"x")
        time.sleep(1.1)
        want, n_want, _ = plan_nc(state=self.fresh())
        if os.path.exists(self.state + ".settled"):
            os.remove(self.state + ".settled")  # the walk, not the settled check
        got, n, _ = plan_nc()
        self.assertEqual(n, n_want - 1, "Apache propagated a folder ETag after all?")
        self.assertEqual(got, set())
        self.assertTrue(any("new file.txt" in j for j in want), want)


    # --- (5) ----------------------------------------------------------------------------
    def test_settled_pass_scans_only_after_a_change(self):
        nc = ("-X", "cloud.dialect=nextcloud")
        mark = self.state + ".settled"
        quiet = "nothing changed since the last settled pass"

        def plan_nc(state=None):
            p = self.odoosync("plan", "--json", *nc, state=state, expect=None)
            self.assertIn(p.returncode, (0, 4), p.stderr[-4000:])
            jobs = set()
            for line in p.stdout.splitlines():
                j = json.loads(line)
                for k in VOLATILE:
                    j.pop(k, None)
                jobs.add(json.dumps(j, sort_keys=True))
            return jobs, p

        def settle():
            self.odoosync("run", "--once", *nc)
            time.sleep(1.1)  # Apache's weak ETags turn strong
            for _ in range(3):
                jobs, p = plan_nc()
                if "settled: nothing to do" in p.stderr:
                    break
            self.assertEqual(jobs, set(), "did not converge")
            self.assertTrue(os.path.exists(mark), p.stderr[-4000:])

        def assert_quiet():
            self.stats(reset=True)
            jobs, p = plan_nc()
            calls = self.stats()
            self.assertIn(quiet, p.stderr)
            self.assertEqual(jobs, set())
            self.assertIsNone(SCAN_LINE.search(p.stderr), "it scanned")
            self.assertIsNone(CLOUD_LINE.search(p.stderr), "it walked the cloud")
            # per type one listing of the matching ids (ids only), one count of the
            # attachments, rows written since the watermark; nothing else is read
            self.assertEqual({k: v for k, v in calls.items() if k.endswith(".read")}, {})
            listed = sum(v for k, v in calls.items() if k.endswith(".search"))
            self.assertEqual(listed, len(self.TYPES), calls)
            counts = sum(v for k, v in calls.items() if k.endswith(".search_count"))
            self.assertEqual(counts, 1, calls)
            return p

        def assert_scans_after(change):
            want, _ = plan_nc(state=self.fresh())
            got, p = plan_nc()
            self.assertNotIn(quiet, p.stderr, change)
            self.assertIsNotNone(SCAN_LINE.search(p.stderr), change)
            self.assertEqual(got, want, change)
            if got:
                self.assertFalse(os.path.exists(mark), "%s: the mark outlived a plan" % change)
            return got

        rnd = random.Random(7)
        self.populate(rnd)
        settle()
        p = assert_quiet()
        print("\nsettled check: %s" % [ln for ln in p.stderr.splitlines() if quiet in ln])
        assert_quiet()  # a quiet pass leaves the mark as it was

        company = self.partners[3]
        self.odoo.write("res.partner", company, {"name": "Company renamed"})
        self.assertTrue(assert_scans_after("a record renamed"))
        settle()
        assert_quiet()

        self.odoo.attach("res.partner", company, "added.txt", b"added")
        self.assertTrue(assert_scans_after("an attachment added"))
        settle()
        assert_quiet()

        att = [a for a in self.odoo.attachments()
               if a.get("res_model") == "res.partner" and a.get("res_id") == company][0]
        self.odoo.unlink("ir.attachment", att["id"])
        self.assertTrue(assert_scans_after("an attachment deleted"))
        settle()
        assert_quiet()

        self.odoo.write("res.partner", company, {"customer_rank": 0})
        assert_scans_after("a record left its domain")
        settle()
        assert_quiet()

        order = self.orders[0]
        self.odoo.write("sale.order", order, {"state": "cancel"})
        self.odoo.unlink("sale.order", order)
        assert_scans_after("a record deleted")
        settle()
        assert_quiet()

        self.dav.delete(self.p("Customers"))
        time.sleep(1.1)
        self.assertTrue(assert_scans_after("a type folder deleted in the cloud"))
        settle()
        assert_quiet()

        types = [dict(t) for t in self.TYPES]
        types[0]["domain"] = "[('customer_rank', '>=', 1)]"
        self.write_config(types=types)
        assert_scans_after("another domain for a type")
        settle()
        assert_quiet()


    # --- (5c) records entering a domain without a write of their own ------------------

    def plan_nc(self, state=None):
        """plan --json with cloud.dialect=nextcloud (the settled check's condition)."""
        p = self.odoosync("plan", "--json", "-X", "cloud.dialect=nextcloud", state=state,
                          expect=None)
        self.assertIn(p.returncode, (0, 4), p.stderr[-4000:])
        jobs = set()
        for line in p.stdout.splitlines():
            j = json.loads(line)
            for k in VOLATILE:
                j.pop(k, None)
            jobs.add(json.dumps(j, sort_keys=True))
        return jobs, p

    def settle(self):
        """Sync, then plan until a pass leaves the settled mark."""
        self.odoosync("run", "--once", "-X", "cloud.dialect=nextcloud")
        time.sleep(1.1)  # Apache's weak ETags turn strong
        for _ in range(3):
            jobs, p = self.plan_nc()
            if "settled: nothing to do" in p.stderr:
                break
        self.assertEqual(jobs, set(), "did not converge")
        self.assertTrue(os.path.exists(self.state + ".settled"), p.stderr[-4000:])
        jobs, p = self.plan_nc()
        self.assertIn("nothing changed since the last settled pass", p.stderr)

    def assertSeen(self, change):
        """The settled check sees the change, and the incremental scan plans it as a
        pass with a new state does."""
        want, _ = self.plan_nc(state=self.fresh())
        self.assertTrue(want, "%s: nothing to plan" % change)
        got, p = self.plan_nc()
        self.assertNotIn("nothing changed since the last settled pass", p.stderr, change)
        self.assertEqual(sorted(got), sorted(want), change)
        m = SCAN_LINE.search(p.stderr)
        self.assertIsNotNone(m, change)
        self.assertEqual(m.group(1), "incremental", change)

    def test_settled_sees_records_entering_a_domain_without_a_write(self):
        # Odoo's account module bumps customer_rank by SQL (no write_date): the orders
        # of a partner enter a domain on the related field without any write.
        self.write_config(types=[
            {"folder": "Customer orders", "model": "sale.order",
             "domain": "[('partner_id.customer_rank', '>', 0)]"}])
        self.control({"late_commit": {"seconds": 3600, "count": 10}})  # an old database
        a = self.customer("Old customer")
        b = self.customer("Prospect", customer_rank=0)
        self.odoo.create("sale.order", {"name": "SO-A", "partner_id": a})
        self.odoo.create("sale.order", {"name": "SO-B", "partner_id": b})
        c = self.customer("Never buys", customer_rank=0)
        self.control({"reset": True})
        # a recent order out of the domain: the watermark is now, the others are old
        self.odoo.create("sale.order", {"name": "SO-C", "partner_id": c})
        self.settle()
        # b becomes a customer, a stops being one: the count stays, no write_date moves
        self.control({"sql_write": {"model": "res.partner", "ids": [b],
                                    "values": {"customer_rank": 1}}})
        self.control({"sql_write": {"model": "res.partner", "ids": [a],
                                    "values": {"customer_rank": 0}}})
        self.assertSeen("SO-B entered, SO-A left the domain")
        self.settle()
        self.assertIn("Customer orders/SO-B", self.tree())
        # one enters without another leaving: the count moves as well
        self.control({"sql_write": {"model": "res.partner", "ids": [a],
                                    "values": {"customer_rank": 1}}})
        self.assertSeen("SO-A entered again")

    # --- (5d) a late commit: stamped before the watermark of the pass before ----------
    def test_late_commit_is_read_again(self):
        # Odoo stamps write_date with its transaction's start: a transaction that began
        # before a pass took its watermark and committed after it writes rows stamped
        # before that watermark. The next pass must read them, settled mark or not.
        self.control({"late_commit": {"seconds": 3600, "count": 10}})  # an old database
        a = self.customer("Alpha")
        b = self.customer("Beta")
        self.control({"reset": True})
        self.customer("Latecomer")  # the watermark: now
        self.settle()
        self.control({"late_commit": {"seconds": 120, "count": 1}})
        self.odoo.write("res.partner", a, {"name": "Alpha renamed"})
        self.assertSeen("renamed by a transaction that began 2 minutes before")
        self.settle()
        os.unlink(self.state + ".settled")  # the incremental scan alone
        self.control({"late_commit": {"seconds": 240, "count": 1}})
        self.odoo.write("res.partner", b, {"name": "Beta renamed"})
        self.assertSeen("renamed by a transaction that began 4 minutes before, no mark")
        self.settle()
        self.assertIn("Customers/Alpha renamed", self.tree())
        self.assertIn("Customers/Beta renamed", self.tree())
        # the overlap is odoo.watermark_overlap_s: with 60 s, a commit stamped 2 minutes
        # back is left to the daily full scan (what a shorter overlap saves is reading)
        with open(self.config) as f:
            cfg = json.load(f)
        cfg["odoo"]["watermark_overlap_s"] = 60
        with open(self.config, "w") as f:
            json.dump(cfg, f)
        self.settle()
        self.control({"late_commit": {"seconds": 120, "count": 1}})
        self.odoo.write("res.partner", a, {"name": "Alpha again"})
        got, p = self.plan_nc()
        self.assertEqual(got, set(), p.stderr[-3000:])
        want, _ = self.plan_nc(state=self.fresh())
        self.assertTrue(want)

    # --- (5b) the settled mark of produce lives in Redis ----------------------------
    def test_produce_keeps_its_settled_mark_in_redis(self):
        tag = self.root.replace("e2e-", "")
        topics = {"jobs": "e2e.%s.jobs" % tag, "retry": "e2e.%s.retry" % tag,
                  "dlq": "e2e.%s.dlq" % tag, "events": "e2e.%s.events" % tag}
        create_topics(self.env, topics.values(), 3)
        self.write_config(kafka={"bootstrap": self.env["KAFKA_BOOTSTRAP"], "topics": topics,
                                 "group": "e2e-%s" % tag},
                          redis={"url": self.env["REDIS_URL"]})
        nc = ("-X", "cloud.dialect=nextcloud")
        self.bulk_customers(10, 1)
        self.odoosync("run", "--once", *nc)  # local mode applies; produce only plans
        time.sleep(1.1)
        for _ in range(3):
            p = self.odoosync("produce", "--once", *nc)
            if "settled: nothing to do" in p.stderr:
                break
        self.assertIn("settled: nothing to do", p.stderr)
        m = re.search(r"state:([0-9a-f]{40})", p.stderr)
        self.assertIsNotNone(m, p.stderr[-4000:])
        key = "odoosync:state:%s.settled" % m.group(1)

        def strlen():
            return int(self.redis_strlen(key)[1:].strip())

        self.assertGreater(strlen(), 0, "no settled mark in redis")
        p = self.odoosync("produce", "--once", *nc)
        self.assertIn("nothing changed since the last settled pass", p.stderr)
        self.assertIsNone(SCAN_LINE.search(p.stderr))
        self.assertFalse(os.path.exists(self.state + ".settled"), "produce wrote a file")
        self.odoo.write("res.partner", self.odoo.call("res.partner", "search", [[
            ["name", "=", "Customer 003"]]]), {"name": "Customer 003 renamed"})
        p = self.odoosync("produce", "--once", *nc)
        self.assertNotIn("nothing changed since the last settled pass", p.stderr)
        self.assertIsNotNone(SCAN_LINE.search(p.stderr))
        self.assertEqual(strlen(), 0, "the mark outlived a pass that emitted jobs")


if __name__ == "__main__":
    main()
