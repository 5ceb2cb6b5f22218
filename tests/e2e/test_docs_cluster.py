#!/usr/bin/env python3
"""e2e docs_cluster: Odoo's Documents app in cluster mode, with a worker SIGKILLed mid-run.

A producer (`odoosync produce --once`) and two `odoosync work` processes (one consumer
group, static membership, Redis locks with a 2 s ttl) on the stack's Kafka-protocol broker
and Redis, against the real Apache WebDAV and the emulator (both model shapes: 16/17 and
18/19). Six Documents folders ("Team 0".."Team 5"), each its own mapping (so its own Kafka
key: the jobs spread over both workers), are synced by a first local pass. Then both sides
change so that one `produce --once` emits ~200 jobs of every Documents kind:
  - Odoo: new nested folders with documents (mkdir, upload), a folder renamed (a folder
    move with its files), documents renamed, moved to another folder, edited and archived;
  - cloud: new files (new documents in Odoo), files edited (their content copied to Odoo),
    renamed (the document follows) and deleted (the document is archived).
While the workers apply the stream, the busier one is SIGKILLed, twice, and restarted at
once with its instance id. When every job has a final result, the workers get SIGTERM and
must exit 0; nothing may be dead-lettered; after one more pass (what a folder that moved
held new from the cloud becomes documents on the next pass, kill or not), the end state
must be exact: the cloud tree
is Odoo's tree (same folders, same files with the same bytes, each tagged with its
document), every cloud file Odoo got exists once as a document, and a new plan has nothing
left to do.

ODOOSYNC_TEST_SEED=a,b replays other seeds (the kill points and delays).
"""
import base64
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_documents  # noqa: E402

WORKERS = 2
KILLS = 2
TEAMS = 6


def seeds():
    env = os.environ.get("ODOOSYNC_TEST_SEED")
    if env:
        return [int(x) for x in env.split(",") if x.strip()]
    return [1]


def b64(raw):
    return base64.b64encode(raw).decode()


class DocsCluster(harness.WorkerFleet, test_documents.DocsCase):
    WORKER_PREFIX = "docs"
    VERSION = 17

    def setUp(self):
        super().setUp()
        self.start_fleet(self.root.replace("e2e-docs-", "dc"))

    def cmd_env(self):
        return dict(super().cmd_env(), E2E_ODOO_KEY=harness.KEY)

    # -- Documents in either shape (test_documents.DocsCase: folder(), doc()) -----------
    def folder_model(self):
        return ("documents.folder", "parent_folder_id") if self.VERSION <= 17 else \
            ("documents.document", "folder_id")

    def ref(self, fid):
        return "%s,%d" % (self.folder_model()[0], fid)

    def rename_folder(self, fid, name):
        self.odoo.write(self.folder_model()[0], fid, {"name": name})

    def odoo_tree(self, tops):
        """{cloud path under the root: (tag, bytes or None)} of Odoo's mapped folders."""
        model, parent = self.folder_model()
        dom = [("type", "=", "folder")] if self.VERSION >= 18 else []
        folders = self.odoo.call(model, "search_read", [dom], {"fields": ["name", parent]})
        by_id = {f["id"]: f for f in folders}
        out = {}

        def path_of(fid):
            f = by_id[fid]
            if fid in tops:
                return "Documents/" + f["name"]
            return path_of(f[parent][0]) + "/" + f["name"]

        def mapped(fid):
            while fid:
                if fid in tops:
                    return True
                p = by_id[fid][parent]
                fid = p[0] if p else None
            return False

        for f in folders:
            if mapped(f["id"]):
                out[path_of(f["id"]) + "/"] = (self.ref(f["id"]), None)
        dom = [("type", "!=", "folder")] if self.VERSION >= 18 else []
        docs = self.odoo.call("documents.document", "search_read", [dom],
                              {"fields": ["name", "folder_id", "datas", "type"]})
        for d in docs:
            if d["folder_id"] and mapped(d["folder_id"][0]) and d.get("datas"):
                out[path_of(d["folder_id"][0]) + "/" + d["name"]] = (
                    "documents.document,%d" % d["id"], base64.b64decode(d["datas"]))
        return out

    def cloud_tree(self):
        tags = test_documents.SyncTable.dav_props(self)
        out = {}
        for rel, tag in tags.items():
            if rel == "Documents/":
                continue
            out[rel] = (tag, None if rel.endswith("/") else self.dav.get(self.p(rel)))
        return out

    # -- the scenario ---------------------------------------------------------------------
    def seed_state(self, rnd):
        teams = []
        for t in range(TEAMS):
            top = self.folder("Team %d" % t)
            sub = self.folder("Sub", top)
            for k in range(4):
                self.doc("t%d-top-%d.txt" % (t, k), top, b"top %d %d" % (t, k))
                self.doc("t%d-sub-%d.txt" % (t, k), sub, b"sub %d %d" % (t, k))
            teams.append((top, sub))
        self.configure({"enabled": True,
                        "mappings": [{"odoo": "Team %d" % t} for t in range(TEAMS)]})
        self.sync()
        self.sync()  # the files the first pass made are listed in the scan state by this one
        self.assertQuiet()
        docs = {d["name"]: d["id"] for d in self.odoo.call(
            "documents.document", "search_read", [[("type", "!=", "folder")]
                                                  if self.VERSION >= 18 else []],
            {"fields": ["name"]})}
        time.sleep(1.1)  # (Apache's ETag has a one-second resolution: edits below show)
        for t, (top, sub) in enumerate(teams):
            # Odoo: a new nested folder with documents
            new = self.folder("New %d" % t, top)
            deep = self.folder("Deep", new)
            for k in range(8):
                self.doc("n%d-%d.bin" % (t, k), new, bytes(rnd.getrandbits(8)
                                                           for _ in range(rnd.randint(1, 3000))))
                self.doc("d%d-%d.bin" % (t, k), deep, b"deep %d %d" % (t, k) * rnd.randint(1, 50))
            # the cloud: new files in the sub-folder
            for k in range(3):
                self.dav.put(self.p("Documents/Team %d/Sub/c%d-%d.txt" % (t, t, k)),
                             b"cloud %d %d" % (t, k))
            if t % 3 == 0:  # Odoo: the sub-folder renamed (moves with its files)
                self.rename_folder(sub, "Sub %d renamed" % t)
                subname = "Sub %d renamed" % t
            else:
                subname = "Sub"
            # Odoo: a document renamed, one moved to the top, one edited, one archived
            self.odoo.write("documents.document", docs["t%d-top-0.txt" % t],
                            {"name": "t%d-top-0 renamed.txt" % t})
            self.odoo.write("documents.document", docs["t%d-sub-0.txt" % t], {"folder_id": top})
            self.odoo.write("documents.document", docs["t%d-top-1.txt" % t],
                            {"datas": b64(b"edited in odoo %d" % t)})
            self.odoo.write("documents.document", docs["t%d-top-2.txt" % t], {"active": False})
            # the cloud: a file edited, one renamed, one deleted
            top_path = "Documents/Team %d/" % t
            self.dav.put(self.p(top_path + "t%d-top-3.txt" % t), b"edited in the cloud %d" % t)
            if subname == "Sub":
                self.dav.move(self.p(top_path + "Sub/t%d-sub-1.txt" % t),
                              self.p(top_path + "Sub/t%d-sub-1 cloud.txt" % t))
                self.dav.delete(self.p(top_path + "Sub/t%d-sub-2.txt" % t))
        return teams

    def produce(self):
        p = self.run_cmd("produce", "--once", "--force-deletes")
        for line in p.stdout.splitlines():
            if line.startswith("produce:"):
                return int(line.split()[1])
        self.fail("no count in produce's output:\n%s" % p.stdout)

    def run_stream(self, rnd, emitted):
        self.current = [self.start_worker(s) for s in range(WORKERS)]
        deadline = time.time() + 240
        points = sorted(rnd.uniform(0.15, 0.7) for _ in range(KILLS))
        for share in points:
            while len(self.finished()) < share * emitted:
                self.check_alive(deadline, emitted)
                time.sleep(0.02)
            time.sleep(rnd.uniform(0, 0.2))
            # the busier worker: it holds jobs of its keys right now
            slot = max(range(WORKERS), key=lambda s: len(self.current[s].events()))
            done = len(self.finished())
            code = self.current[slot].kill()
            self.assertEqual(code, -9)
            self.assertLess(done, emitted, "a kill came after the stream ended")
            print("kill at %.0f%% (%d/%d finished): worker slot %d" % (share * 100, done,
                                                                      emitted, slot))
            sys.stdout.flush()
            self.current[slot] = self.start_worker(slot)
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

    def check_alive(self, deadline, emitted):
        for w in self.current:
            if w.proc.poll() is not None:
                self.fail("a worker died (exit %s):\n%s" % (w.proc.returncode, self.logs()))
        if time.time() > deadline:
            self.fail("%d of %d jobs finished in time:\n%s" % (len(self.finished()), emitted,
                                                               self.logs()))

    def check_end_state(self, teams):
        tops = {top for top, _ in teams}
        odoo, cloud = self.odoo_tree(tops), self.cloud_tree()
        self.assertEqual((sorted(set(cloud) - set(odoo)), sorted(set(odoo) - set(cloud))),
                         ([], []), "the trees differ (only in the cloud, only in Odoo)")
        for rel in sorted(odoo):
            self.assertEqual(cloud[rel], odoo[rel], rel)
        names = [rel.rsplit("/", 1)[-1] for rel in odoo if not rel.endswith("/")]
        self.assertEqual(len(names), len(set(names)), "a document twice")
        for t, (top, sub) in enumerate(teams):
            base = "Documents/Team %d/" % t
            subname = "Sub %d renamed/" % t if t % 3 == 0 else "Sub/"
            for k in range(3):  # the cloud's new files: documents, once
                self.assertEqual(odoo[base + subname + "c%d-%d.txt" % (t, k)][1],
                                 b"cloud %d %d" % (t, k))
            self.assertEqual(odoo[base + "t%d-top-1.txt" % t][1], b"edited in odoo %d" % t)
            self.assertEqual(odoo[base + "t%d-top-3.txt" % t][1], b"edited in the cloud %d" % t)
            self.assertIn(base + "t%d-top-0 renamed.txt" % t, odoo)
            self.assertIn(base + "t%d-sub-0.txt" % t, odoo)
            self.assertNotIn(base + "t%d-top-2.txt" % t, odoo)
            self.assertEqual(len([r for r in odoo if r.startswith(base + "New %d/" % t)]), 18)
            if t % 3:
                self.assertIn(base + "Sub/t%d-sub-1 cloud.txt" % t, odoo)
                self.assertNotIn(base + "Sub/t%d-sub-2.txt" % t, odoo)

    def kill_stream(self, seed):
        print("seed %d (replay: ODOOSYNC_TEST_SEED=%d)" % (seed, seed))
        sys.stdout.flush()
        rnd = random.Random(seed)
        t0 = time.time()
        teams = self.seed_state(rnd)
        emitted = self.produce()
        print("produce: %d jobs (%.1f s)" % (emitted, time.time() - t0))
        self.assertGreaterEqual(emitted, 150)
        self.run_stream(rnd, emitted)
        dead = [e for w in self.procs for e in w.events() if e.get("result") == "dead-lettered"]
        self.assertEqual(dead, [], "dead-lettered jobs")
        # one more pass, as the next one would: the new cloud files in a folder that moved
        # this pass become documents on the next one (plan_docs: its new entries are looked
        # for where the snapshot saw the folder)
        self.cluster_pass(lambda plan: None)
        self.check_end_state(teams)
        self.assertQuiet()
        print("seed %d: %d jobs, %.1f s" % (seed, emitted, time.time() - t0))


    # -- a worker killed inside a job: its redelivery finds the first half done -----------
    # (Each first half is done by hand exactly as the worker does it, between `produce` and
    # the worker that gets the job: the state a SIGKILL at that point leaves.)

    def small_tree(self):
        fin = self.folder("Finance")
        did = self.doc("budget.txt", fin, b"budget v1")
        self.configure({"enabled": True, "mappings": [{"odoo": "Finance"}]})
        self.sync()
        self.sync()
        self.assertQuiet()
        return fin, did

    def cluster_pass(self, first_half):
        """produce --once; first_half(jobs); one worker applies the jobs; it is stopped."""
        plan = self.plan_json()
        emitted = self.produce()
        self.assertEqual(emitted, len(plan))
        first_half(plan)
        since = len(self.procs)
        ids = {j["id"] for j in plan}  # (jobs of the stream may come again: at least once)
        self.current = [self.start_worker(0)]
        deadline = time.time() + 60
        while len(self.finished(since) & ids) < emitted:
            self.check_alive(deadline, emitted)
            time.sleep(0.05)
        code = self.current[0].stop()
        if code != 0 and harness.known_librdkafka_abort(self.current[0].output()):
            code = 0
        self.assertEqual(code, 0, self.logs())
        return plan

    def datas(self, did):
        row = self.odoo.call("documents.document", "read", [[did]], {"fields": ["datas"]})[0]
        return base64.b64decode(row["datas"])

    def proppatch(self, rel, name, value):
        body = ('<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:o="urn:odoosync">'
                '<d:set><d:prop><o:%s>%s</o:%s></d:prop></d:set></d:propertyupdate>'
                % (name, value, name))
        st, _ = self.dav.req("PROPPATCH", self.p(rel), body.encode(),
                             {"Content-Type": "application/xml"})
        self.assertEqual(st, 207)

    def test_cloud_edit_killed_after_its_odoo_write(self):
        """An edit copied to Odoo, the worker killed before it marked the file synced: the
        redelivered job marks it (done), and no pass sees a conflict."""
        fin, did = self.small_tree()
        time.sleep(1.1)
        self.dav.put(self.p("Documents/Finance/budget.txt"), b"budget v2, cloud")

        def first_half(plan):
            self.assertEqual([(j["kind"], j["side"]) for j in plan], [("relink", "odoo")])
            self.odoo.write("documents.document", did, {"datas": b64(b"budget v2, cloud")})
        self.cluster_pass(first_half)
        self.sync()
        self.assertEqual(self.datas(did), b"budget v2, cloud")
        self.assertEqual(sorted(self.cloud_tree()), ["Documents/Finance/",
                                                     "Documents/Finance/budget.txt"])
        self.assertQuiet()

    def test_odoo_edit_killed_after_its_put(self):
        """An Odoo edit written to the cloud (PUT), the worker killed before it marked the file
        synced: the redelivered job marks it (done), and no pass sees a conflict."""
        fin, did = self.small_tree()
        self.odoo.write("documents.document", did, {"datas": b64(b"budget v2, odoo")})

        def first_half(plan):
            self.assertEqual([(j["kind"], j["side"]) for j in plan], [("upload", "cloud")])
            self.dav.put(self.p("Documents/Finance/budget.txt"), b"budget v2, odoo")
        self.cluster_pass(first_half)
        self.sync()
        self.assertEqual(self.dav.get(self.p("Documents/Finance/budget.txt")), b"budget v2, odoo")
        self.assertEqual(sorted(self.cloud_tree()), ["Documents/Finance/",
                                                     "Documents/Finance/budget.txt"])
        self.assertQuiet()

    def test_new_cloud_file_killed_after_its_tag(self):
        """A new cloud file made a document and tagged, the worker killed before it marked
        the file synced: the redelivered job marks it, so a later cloud edit reaches Odoo."""
        fin, did = self.small_tree()
        rel = "Documents/Finance/notes.txt"
        self.dav.put(self.p(rel), b"notes v1")

        def first_half(plan):
            self.assertEqual([(j["kind"], j["side"]) for j in plan], [("relink", "odoo")])
            new = self.doc("notes.txt", fin, b"notes v1")
            self.proppatch(rel, "document", "documents.document,%d" % new)
        self.cluster_pass(first_half)
        new = self.odoo.call("documents.document", "search", [[("name", "=", "notes.txt")]])
        self.assertEqual(len(new), 1)
        time.sleep(1.1)
        self.dav.put(self.p(rel), b"notes v2")
        self.sync()
        self.assertEqual(self.datas(new[0]), b"notes v2")
        self.assertQuiet()


class DocsCluster18(DocsCluster):
    VERSION = 18


def _make(seed):
    def test(self):
        self.kill_stream(seed)
    return test


for _s in seeds():
    setattr(DocsCluster, "test_seed_%d" % _s, _make(_s))


if __name__ == "__main__":
    harness.main()
