#!/usr/bin/env python3
"""e2e kill: `odoosync work` killed with SIGKILL at random points of a stream of
~500 real jobs; after restarts every job is applied exactly once in effect, in
the cloud and in Odoo (issue 4, "What it must show").

Per seed (printed; ODOOSYNC_TEST_SEED=a,b replays): a private Odoo emulator and
cloud root; a first local pass (`run --once`) syncs 30 customers; then both
sides change so that one `produce --once` emits ~500 jobs of every kind:
  - 60 new customers with 6 attachments each (mkdir + upload),
  - 15 old customers get 2 new cloud files each (relink: new url attachments)
    and 1 new Odoo attachment each (upload),
  - 8 old customers are renamed in Odoo (folder MOVE with two locks, relinks),
  - 7 old customers' files are renamed in the cloud (Odoo rename, relink).
Two `odoosync work` processes (static membership, lock ttl 2 s) apply them;
three times, when the stream has reached a random share (seeded), one worker
picked at random (seeded) gets SIGKILL after a random delay and is restarted at
once with the same instance id. When every job has a final result, the workers
get SIGTERM and must exit 0, and the end state must be exact:
  - cloud: one folder per customer (current name), exactly the expected files,
    no duplicate ("x (2).txt"), no half file: each file has its full content
    (sha1) and carries its attachment's id;
  - Odoo: every binary attachment turned into a url attachment pointing at its
    file, every cloud file linked by exactly one url attachment, no other
    attachment; renamed cloud files renamed in Odoo;
  - nothing dead-lettered, and a new plan has nothing left to do.
"""
import os
import random
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

WORKERS = 2
KILLS = 3
OLD = 30       # customers synced before the stream
NEW = 64       # new customers in the stream (with the rest: >= 500 jobs)
NEW_ATTS = 6   # attachments per new customer


def seeds():
    env = os.environ.get("ODOOSYNC_TEST_SEED")
    if env:
        return [int(x) for x in env.split(",") if x.strip()]
    # Fixed in CI, so a failure replays as it happened; ODOOSYNC_TEST_SEED explores others.
    return [1, 2]


SEEDS = seeds()


class KillStream(harness.WorkerFleet, harness.SyncCase):
    WORKER_PREFIX = "kill"
    TYPES = [{"folder": "Customers", "model": "res.partner",
              "domain": "[('customer_rank', '>', 0)]"}]
    STANDALONE = False
    # the stream's shape (the peers suite runs a smaller one against a real Odoo)
    OLD, NEW, NEW_ATTS, MIN_JOBS, KILLS = OLD, NEW, NEW_ATTS, 500, KILLS
    STREAM_S = 240  # seconds the workers get to finish the stream

    def setUp(self):
        super().setUp()
        self.start_fleet(self.root.replace("e2e-", ""))
        self.write_config()

    # ---- the scenario ----

    def seed_state(self, rnd):
        """First pass (local), then the changes that make the stream. Returns what the
        end state must be: {rel path: (content, att id or None)}, renamed names."""
        expect = {}
        names = {}
        for i in range(self.OLD):
            pid = self.odoo.create("res.partner", {"name": "Old %02d" % i, "customer_rank": 1})
            body = ("old %d %d " % (i, rnd.randrange(10 ** 9))).encode() * rnd.randint(1, 40)
            aid = self.odoo.attach("res.partner", pid, "old-%02d.txt" % i, body)
            names[i] = (pid, "Old %02d" % i)
            expect["Customers/Old %02d/old-%02d.txt" % (i, i)] = [body, aid]
        self.sync()
        tree = self.tree()
        self.assertEqual(sum(1 for v in tree.values() if not v[0]), self.OLD, tree)

        q = self.OLD // 2  # 15 of 30: 2 new cloud files + 1 new Odoo attachment each
        r = q + self.OLD * 4 // 15  # 8 of 30 renamed in Odoo, the rest renamed in the cloud
        for i in range(0, q):       # 2 new cloud files + 1 new Odoo attachment
            for k in range(2):
                body = ("cloud %d %d %d " % (i, k, rnd.randrange(10 ** 9))).encode() * 7
                rel = "Customers/Old %02d/cloud-%d.txt" % (i, k)
                self.dav.put(self.p(rel), body)
                expect[rel] = [body, None]
            body = ("more %d %d " % (i, rnd.randrange(10 ** 9))).encode() * rnd.randint(1, 60)
            aid = self.odoo.attach("res.partner", names[i][0], "more-%02d.txt" % i, body)
            expect["Customers/Old %02d/more-%02d.txt" % (i, i)] = [body, aid]
        for i in range(q, r):       # renamed in Odoo: the folder moves
            self.odoo.write("res.partner", names[i][0], {"name": "Renamed %02d" % i})
            old = "Customers/Old %02d/old-%02d.txt" % (i, i)
            expect["Customers/Renamed %02d/old-%02d.txt" % (i, i)] = expect.pop(old)
        for i in range(r, self.OLD):  # file renamed in the cloud: the attachment follows
            old = "Customers/Old %02d/old-%02d.txt" % (i, i)
            new = "Customers/Old %02d/moved-%02d.txt" % (i, i)
            self.dav.move(self.p(old), self.p(new))
            expect[new] = expect.pop(old)
        for n in range(self.NEW):
            pid = self.odoo.create("res.partner", {"name": "New %02d" % n, "customer_rank": 1})
            for k in range(self.NEW_ATTS):
                size = rnd.choice([0, 1, 100, 3000, 20000]) if k == 0 else rnd.randint(10, 4000)
                body = bytes(rnd.getrandbits(8) for _ in range(size))
                aid = self.odoo.attach("res.partner", pid, "new-%02d-%d.bin" % (n, k), body)
                expect["Customers/New %02d/new-%02d-%d.bin" % (n, n, k)] = [body, aid]
        return expect

    def produce(self):
        p = self.run_cmd("produce", "--once", expect=0)
        for line in p.stdout.splitlines():
            if line.startswith("produce:"):
                return int(line.split()[1])
        self.fail("no count in produce's output:\n%s" % p.stdout)

    def run_stream(self, rnd, emitted):
        self.current = [self.start_worker(s) for s in range(WORKERS)]
        points = sorted(rnd.uniform(0.1, 0.8) for _ in range(self.KILLS))
        kills = []
        deadline = time.time() + self.STREAM_S
        for share in points:
            victim = rnd.randrange(WORKERS)
            delay = rnd.uniform(0, 0.25)
            own_min = rnd.randint(0, 20)  # 0: it may die while it starts or rebalances
            while True:
                done = len(self.finished())
                if done >= share * emitted and (len(self.current[victim].events()) >= own_min
                                                or done >= (share + 0.1) * emitted):
                    break
                self.check_alive(deadline, emitted)
                time.sleep(0.02)
            time.sleep(delay)
            w = self.current[victim]
            done_before = len(self.finished())
            own = len(w.events())
            code = w.kill()
            kills.append((share, victim, done_before, own, code))
            print("kill at %.0f%% (%d/%d finished): worker slot %d, %d events of its own, "
                  "exit %s" % (share * 100, done_before, emitted, victim, own, code))
            sys.stdout.flush()
            self.current[victim] = self.start_worker(victim)
        while len(self.finished()) < emitted:
            self.check_alive(deadline, emitted)
            time.sleep(0.1)
        codes = []
        for w in self.current:
            code = w.stop()
            if code != 0 and harness.known_librdkafka_abort(w.output()):
                sys.stderr.write("known librdkafka abort at close (#4312)\n")
                code = 0
            codes.append(code)
        self.assertEqual(codes, [0] * WORKERS, "workers did not stop cleanly:\n" + self.logs())
        for share, victim, done_before, own, code in kills:
            self.assertEqual(code, -9)
            self.assertLess(done_before, emitted, "a kill came after the stream ended")
        return kills

    def check_alive(self, deadline, emitted):
        for w in self.current:
            if w.proc.poll() is not None:
                self.fail("a worker died (exit %s):\n%s" % (w.proc.returncode, self.logs()))
        if time.time() > deadline:
            self.fail("%d of %d jobs finished in time:\n%s" % (len(self.finished()), emitted,
                                                               self.logs()))

    def check_end_state(self, expect):
        tree = self.tree()
        files = {rel: v for rel, v in tree.items() if not v[0]}
        dirs = {rel for rel, v in tree.items() if v[0]}
        want_dirs = {"Customers"} | {rel.rsplit("/", 1)[0] for rel in expect}
        self.assertEqual(dirs, want_dirs, "folders differ")
        self.assertEqual(sorted(files), sorted(expect), "files differ (missing or duplicated)")

        atts = self.odoo.call("ir.attachment", "search_read", [[]], {
            "fields": ["name", "type", "url", "res_model", "res_id"], "order": "id"})
        by_path = {}  # the path each url names, whatever its form (a WebDAV address or
        for a in atts:  # the server's web link)
            self.assertEqual(a["type"], "url", "attachment left binary: %s" % a)
            by_path.setdefault(harness.link_target(self, a["url"]), []).append(a)
        self.assertEqual(len(atts), len(expect),
                         "attachments: %d, files: %d (duplicates?)" % (len(atts), len(expect)))
        for rel, (body, aid) in sorted(expect.items()):
            linked = by_path.get(harness.url_path(self.url_of(rel)), [])
            self.assertEqual(len(linked), 1, "%s is linked by %d attachments" % (rel, len(linked)))
            a = linked[0]
            if aid is not None:
                self.assertEqual(a["id"], aid, "%s: linked by the wrong attachment" % rel)
            self.assertEqual(a["name"], rel.rsplit("/", 1)[1])
            self.assertEqual(a["res_model"], "res.partner")
            # (where urls are web links an upload writes no tag: the link names the file)
            self.assertIn(files[rel][2].get("attachment"),
                          (str(a["id"]), None) if self.web_links() else (str(a["id"]),),
                          "%s: tag %s" % (rel, files[rel][2]))
            got = self.dav.get(self.p(rel))
            self.assertIsNotNone(got, rel)
            self.assertEqual(harness.sha1(got), harness.sha1(body),
                             "%s: %d bytes, want %d" % (rel, len(got), len(body)))

    def kill_stream(self, seed):
        print("seed %d (replay: ODOOSYNC_TEST_SEED=%d)" % (seed, seed))
        sys.stdout.flush()
        rnd = random.Random(seed)
        t0 = time.time()
        expect = self.seed_state(rnd)
        emitted = self.produce()
        print("produce: %d jobs (%.1f s)" % (emitted, time.time() - t0))
        self.assertGreaterEqual(emitted, self.MIN_JOBS)
        kills = self.run_stream(rnd, emitted)
        print("stream done (%.1f s)" % (time.time() - t0))
        dead = [e for w in self.procs for e in w.events() if e.get("result") == "dead-lettered"]
        self.assertEqual(dead, [], "dead-lettered jobs")
        self.check_end_state(expect)
        self.assertQuiet()
        applied = sum(1 for w in self.procs for e in w.events() if e.get("result") == "applied")
        print("seed %d: %d jobs, %d kills, %d applied events, %.1f s" % (
            seed, emitted, len(kills), applied, time.time() - t0))


def _make(seed):
    def test(self):
        self.kill_stream(seed)
    return test


for _s in SEEDS:
    setattr(KillStream, "test_seed_%d" % _s, _make(_s))


if __name__ == "__main__":
    harness.main()
