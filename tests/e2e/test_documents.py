#!/usr/bin/env python3
"""End-to-end: Odoo's Documents app (documents.enabled), on both model shapes (16/17:
documents.folder; 18/19: folders are documents of type folder) and both protocols
(JSON-RPC on every version, JSON-2 on 19), against the real Apache WebDAV and the
emulator (tests/odoo/documents.py).

Covered: `odoosync check` detects the shape with fields_get, reads the tree, resolves
each mapping (by path of names, by id, "*") and says what it holds, and fails precisely
on a missing app or a missing / ambiguous folder (CheckTable); `run` copies the tree from
Odoo to the cloud, follows renames and moves in Odoo as cloud moves of the same tagged
entries, deletes what Odoo archived or deleted, keeps a folder holding a file the cloud
added, and plans nothing on the next pass (SyncTable), with cloud to Odoo, edits and
conflicts. LargeFiles: a large cloud file goes into Odoo streamed, up to Odoo's request
limit; a larger one is reported, nothing written. NcIdentity: on the Nextcloud-like server,
entries are told by their file id where their tags did not follow a move, and a stale tag
deletes nothing.
"""

import json
import os
import time
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# (odoo version, protocol): every shape on JSON-RPC, and JSON-2 where Odoo has it
SHAPES = [(16, "jsonrpc"), (17, "jsonrpc"), (18, "jsonrpc"), (19, "jsonrpc"), (19, "json2")]
SHAPE_NAME = {16: "Odoo 16/17 shape (folders in documents.folder)",
              17: "Odoo 16/17 shape (folders in documents.folder)",
              18: "Odoo 18/19 shape (folders are documents of type folder)",
              19: "Odoo 18/19 shape (folders are documents of type folder)"}


def b64(raw):
    import base64
    return base64.b64encode(raw).decode()


class DocsCase(harness.SyncCase):
    VERSION = 17
    PROTOCOL = "jsonrpc"
    EMULATOR_ARGS = ()
    STANDALONE = False

    def setUp(self):
        self.env = harness.cloud_env(harness.load_env(), self.CLOUD)
        self.odoo = harness.Emulator(self.VERSION, args=self.EMULATOR_ARGS)
        self.addCleanup(self.odoo.stop)
        self.dav = harness.Dav(self.env)
        self.root = "e2e-docs-%d-%d" % (os.getpid(), id(self) % 100000)
        self.addCleanup(self.dav.delete, "/" + self.root)
        self.tmp = tempfile.mkdtemp(prefix="odoosync-e2e-docs-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.config = os.path.join(self.tmp, "odoosync.json")

    def configure(self, documents):
        self.write_config(types=[], documents=documents)
        if self.PROTOCOL == "json2":
            with open(self.config) as f:
                cfg = json.load(f)
            cfg["odoo"] = {"url": self.odoo.url, "database": "odoosync", "protocol": "json2",
                           "api_key_env": "E2E_ODOO_KEY"}
            with open(self.config, "w") as f:
                json.dump(cfg, f)

    def run_cmd(self, *args, expect=0):
        os.environ["E2E_ODOO_KEY"] = harness.KEY  # JSON-2's bearer key (api_key_env)
        return super().run_cmd(*args, expect=expect)

    # -- Documents in either shape ----------------------------------------------------
    def folder(self, name, parent=False):
        if self.VERSION <= 17:
            return self.odoo.create("documents.folder", {"name": name,
                                                         "parent_folder_id": parent})
        return self.odoo.create("documents.document", {"name": name, "type": "folder",
                                                       "folder_id": parent})

    def doc(self, name, folder, content=None, url=None):
        vals = {"name": name, "folder_id": folder}
        if content is not None:
            vals["datas"] = b64(content)
        if url:
            vals["url"] = url
            if self.VERSION >= 18:
                vals["type"] = "url"
        return self.odoo.create("documents.document", vals)

    def seed(self):
        fin = self.folder("Finance")
        inv = self.folder("Invoices", fin)
        hr = self.folder("HR")
        self.doc("budget.xlsx", fin, b"budget")
        self.doc("inv-001.pdf", inv, b"%PDF-1.7 one")
        self.doc("inv-002.pdf", inv, b"%PDF-1.7 two")
        self.doc("odoo.com", fin, url="https://www.odoo.com/")
        self.doc("Signed contract", hr)  # a request: no file yet
        old = self.doc("old.txt", hr, b"old")
        self.odoo.write("documents.document", old, {"active": False})
        return fin, inv, hr


class CheckTable:
    """`check` on one shape and protocol (the classes below set VERSION / PROTOCOL)."""

    def test_check_reads_the_tree_and_resolves_mappings(self):
        fin, inv, hr = self.seed()
        self.configure({"enabled": True, "mappings": [
            {"odoo": "Finance"},
            {"odoo": hr, "cloud": "People", "direction": "to-cloud"},
            {"odoo": "Finance/Invoices", "enabled": False}]})
        p = self.run_cmd("check")
        out = p.stdout
        self.assertIn("docs   ok    Documents: %s, 3 folders, 3 files (1 url, 1 request: not "
                      "synced)" % SHAPE_NAME[self.VERSION], out)
        self.assertIn('map    ok    [0] "Finance" -> %s/Documents/Finance (both): folder %d, '
                      '1 sub-folder, 3 files (1 url, 0 requests: not synced)'
                      % (self.root, fin), out)
        self.assertIn('map    ok    [1] "#%d" -> %s/People (to-cloud): folder %d, 0 sub-folders, '
                      '0 files (0 url, 1 request: not synced)' % (hr, self.root, hr), out)
        self.assertNotIn("[2]", out)
        self.assertIn("check: ok", out)

    def test_check_all_folders(self):
        self.seed()
        self.configure({"enabled": True})
        out = self.run_cmd("check").stdout
        self.assertIn("map    ok    every folder -> %s/Documents (both)" % self.root, out)
        self.configure({"enabled": True, "folder": "Shared", "mappings": [{"odoo": "*"}]})
        out = self.run_cmd("check").stdout
        self.assertIn('map    ok    [0] "*" -> %s/Shared (both): every folder, 3 folders, 3 files'
                      % self.root, out)

    def test_check_missing_or_ambiguous_folder(self):
        fin, _, _ = self.seed()
        self.configure({"enabled": True, "mappings": [{"odoo": "Finance/Budget"},
                                                      {"odoo": "Legal"}]})
        p = self.run_cmd("check", expect=3)
        self.assertIn('map    FAIL  [0] "Finance/Budget": documents.mappings[0]: no Documents '
                      'folder "Budget" in "Finance/Budget" (the folders there: "Invoices")',
                      p.stdout)
        self.assertIn('map    FAIL  [1] "Legal": documents.mappings[1]: no Documents folder '
                      '"Legal" at the top (the folders there: "Finance", "HR")', p.stdout)
        self.assertIn("check: failed: docs: documents.mappings[0]", p.stdout)
        self.assertNotIn("docs   FAIL", p.stdout)
        twin = self.folder("Finance")
        self.configure({"enabled": True, "mappings": [{"odoo": "Finance"}]})
        p = self.run_cmd("check", expect=3)
        self.assertIn('two folders are called "Finance" there (ids %d and %d); map one by its id '
                      '("#%d")' % (fin, twin, fin), p.stdout)


class SyncTable:
    """Odoo to the cloud on one shape and protocol: the tree, the files' bytes, identity
    (renames and moves are moves), archive and delete, and a quiet second pass."""

    def tags(self):
        return {path: props for path, props in self.dav_props().items()}

    def dav_props(self):
        """path under the root -> {urn:odoosync}document tag (None when untagged)."""
        import xml.etree.ElementTree as ET
        body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:o="urn:odoosync">'
                '<d:prop><d:resourcetype/><o:document/></d:prop></d:propfind>')
        out = {}
        todo = ["/" + self.root]
        while todo:
            path = todo.pop()
            st, data = self.dav.req("PROPFIND", path, body.encode(),
                                    {"Depth": "1", "Content-Type": "application/xml"})
            self.assertEqual(st, 207, path)
            for r in ET.fromstring(data).findall("{DAV:}response"):
                href = harness.urllib.parse.unquote(r.find("{DAV:}href").text)
                rel = href.split("/" + self.root, 1)[1].strip("/")
                is_dir = r.find(".//{DAV:}collection") is not None
                tag = r.find(".//{urn:odoosync}document")
                if not rel:
                    continue
                key = rel + ("/" if is_dir else "")
                if key in out:
                    continue
                out[key] = tag.text if tag is not None else None
                if is_dir:
                    todo.append("/%s/%s" % (self.root, rel))
        return out

    def ref(self, fid):
        return "%s,%d" % ("documents.folder" if self.VERSION <= 17 else "documents.document",
                          fid)

    def test_odoo_to_cloud(self):
        fin, inv, hr = self.seed()
        self.configure({"enabled": True})
        self.sync()
        D = "Documents/"
        docs = self.odoo.call("documents.document", "search_read", [[]], {
            "fields": ["name", "folder_id"], "context": {"active_test": False}})
        did = {d["name"]: d["id"] for d in docs}
        self.assertEqual(self.dav_props(), {
            D: None,
            D + "Finance/": self.ref(fin),
            D + "Finance/Invoices/": self.ref(inv),
            D + "HR/": self.ref(hr),
            D + "Finance/budget.xlsx": "documents.document,%d" % did["budget.xlsx"],
            D + "Finance/Invoices/inv-001.pdf": "documents.document,%d" % did["inv-001.pdf"],
            D + "Finance/Invoices/inv-002.pdf": "documents.document,%d" % did["inv-002.pdf"],
        })
        self.assertEqual(self.dav.get(self.p(D + "Finance/Invoices/inv-002.pdf")),
                         b"%PDF-1.7 two")
        # the content stays in Odoo: the attachment is still a binary one
        att = self.odoo.call("documents.document", "read", [[did["budget.xlsx"]]],
                             {"fields": ["attachment_id"]})[0]["attachment_id"][0]
        self.assertEqual(self.odoo.call("ir.attachment", "read", [[att]], {"fields": ["type"]})
                         [0]["type"], "binary")
        self.assertQuiet()
        # renamed and moved in Odoo: moved in the cloud (the same file, its tag kept)
        self.odoo.write("documents.document", did["inv-001.pdf"], {"name": "inv-001-final.pdf"})
        self.odoo.write("documents.document", did["budget.xlsx"], {"folder_id": hr})
        if self.VERSION <= 17:
            self.odoo.write("documents.folder", inv, {"name": "Bills"})
        else:
            self.odoo.write("documents.document", inv, {"name": "Bills"})
        plan = self.plan_json()
        self.assertEqual(sorted((j["kind"], j.get("reason")) for j in plan), [
            ("rename", "Documents folder renamed or moved in Odoo"),
            ("rename", "document renamed or moved in Odoo"),
            ("rename", "document renamed or moved in Odoo")])
        self.sync()
        tree = self.dav_props()
        self.assertEqual(tree[D + "Finance/Bills/"], self.ref(inv))
        self.assertEqual(tree[D + "Finance/Bills/inv-001-final.pdf"],
                         "documents.document,%d" % did["inv-001.pdf"])
        self.assertEqual(tree[D + "HR/budget.xlsx"], "documents.document,%d" % did["budget.xlsx"])
        self.assertNotIn(D + "Finance/Invoices/", tree)
        self.assertEqual(self.dav.get(self.p(D + "Finance/Bills/inv-002.pdf")),
                         b"%PDF-1.7 two")
        self.assertQuiet()
        # archived or deleted in Odoo: gone from the cloud; a file a user put in a folder
        # that goes keeps that folder
        self.odoo.write("documents.document", did["inv-002.pdf"], {"active": False})
        self.odoo.unlink("documents.document", did["inv-001.pdf"])
        self.dav.put(self.p(D + "HR/notes.txt"), b"mine")
        self.odoo.unlink("documents.document", did["budget.xlsx"])
        if self.VERSION <= 17:
            # a workspace holding documents (archived ones too) cannot be deleted
            rest = self.odoo.call("documents.document", "search", [[("folder_id", "=", hr)]],
                                  {"context": {"active_test": False}})
            self.odoo.unlink("documents.document", rest)
            self.odoo.unlink("documents.folder", hr)
        else:
            self.odoo.unlink("documents.document", hr)
        self.sync("--force-deletes")
        tree = self.dav_props()
        self.assertNotIn(D + "Finance/Bills/inv-001-final.pdf", tree)
        self.assertNotIn(D + "Finance/Bills/inv-002.pdf", tree)
        self.assertNotIn(D + "HR/budget.xlsx", tree)
        self.assertEqual(tree[D + "HR/notes.txt"], None)
        self.assertEqual(tree[D + "Finance/Bills/"], self.ref(inv))


    def find_docs(self, domain):
        return self.odoo.call("documents.document", "search_read", [domain], {
            "fields": ["name", "folder_id", "datas", "type"]})

    def test_cloud_to_odoo_new_entries(self):
        fin, inv, hr = self.seed()
        self.configure({"enabled": True, "mappings": [
            {"odoo": "Finance"}, {"odoo": "HR", "direction": "from-cloud"}]})
        self.sync()
        tree = self.dav_props()
        self.assertIn("Documents/Finance/budget.xlsx", tree)
        self.assertNotIn("Documents/HR/", tree)  # from-cloud: Odoo is not copied out
        # new in the cloud: a file and a folder (its content follows once it is tagged),
        # and a desktop tool's lock file, which stays a cloud file
        self.dav.put(self.p("Documents/Finance/new.txt"), b"from the cloud")
        self.dav.put(self.p("Documents/Finance/~$budget.xlsx"), b"lock")
        self.dav.mkcol(self.p("Documents/Finance/Q3"))
        self.sync()
        new = self.find_docs([("name", "=", "new.txt")])
        self.assertEqual([(d["folder_id"][0], base64_of(d["datas"])) for d in new],
                         [(fin, b"from the cloud")])
        model = "documents.folder" if self.VERSION <= 17 else "documents.document"
        parent = "parent_folder_id" if self.VERSION <= 17 else "folder_id"
        q3 = self.odoo.call(model, "search", [[("name", "=", "Q3"), (parent, "=", fin)]])
        self.assertEqual(len(q3), 1)
        self.assertEqual(self.find_docs([("name", "=", "~$budget.xlsx")]), [])
        tree = self.dav_props()
        self.assertEqual(tree["Documents/Finance/new.txt"], "documents.document,%d" % new[0]["id"])
        self.assertEqual(tree["Documents/Finance/Q3/"], "%s,%d" % (model, q3[0]))
        self.dav.put(self.p("Documents/Finance/Q3/deep.txt"), b"deeper")
        # the from-cloud mapping: a new cloud folder there becomes an Odoo folder too
        self.dav.mkcol(self.p("Documents/HR"))
        self.dav.put(self.p("Documents/HR/cv.pdf"), b"%PDF cv")
        self.sync()
        deep = self.find_docs([("name", "=", "deep.txt")])
        self.assertEqual([(d["folder_id"][0], base64_of(d["datas"])) for d in deep],
                         [(q3[0], b"deeper")])
        cv = self.find_docs([("name", "=", "cv.pdf")])
        self.assertEqual([(d["folder_id"][0], base64_of(d["datas"])) for d in cv],
                         [(hr, b"%PDF cv")])
        self.assertQuiet()


    def test_edits_and_conflicts(self):
        fin, inv, hr = self.seed()
        self.configure({"enabled": True})
        self.sync()
        docs = {d["name"]: d["id"] for d in self.find_docs([])}
        path = lambda rel: self.p("Documents/Finance/" + rel)  # noqa: E731
        # edited in Odoo only: the cloud gets the new bytes
        self.odoo.write("documents.document", docs["budget.xlsx"], {"datas": b64(b"budget v2")})
        # edited in the cloud only: Odoo gets the new bytes
        time.sleep(1.1)  # (Apache's ETag has a one-second resolution)
        self.dav.put(path("Invoices/inv-001.pdf"), b"%PDF-1.7 one, signed")
        self.sync()
        self.assertEqual(self.dav.get(path("budget.xlsx")), b"budget v2")
        self.assertEqual(base64_of(self.find_docs([("id", "=", docs["inv-001.pdf"])])[0]["datas"]),
                         b"%PDF-1.7 one, signed")
        self.assertQuiet()
        # edited on both sides: neither version is lost
        self.odoo.write("documents.document", docs["inv-002.pdf"], {"datas": b64(b"odoo side")})
        time.sleep(1.1)
        self.dav.put(path("Invoices/inv-002.pdf"), b"cloud side")
        p = self.sync()
        for _ in range(2):  # the conflict copy takes its name, then Odoo's version its place
            self.sync()
        self.assertEqual(self.dav.get(path("Invoices/inv-002.pdf")), b"odoo side")
        self.assertEqual(self.dav.get(path("Invoices/inv-002 (conflict, cloud version).pdf")),
                         b"cloud side")
        copy = self.find_docs([("name", "=", "inv-002 (conflict, cloud version).pdf")])
        self.assertEqual([(d["folder_id"][0], base64_of(d["datas"])) for d in copy],
                         [(inv, b"cloud side")])
        self.assertEqual(base64_of(self.find_docs([("id", "=", docs["inv-002.pdf"])])[0]["datas"]),
                         b"odoo side")
        self.assertQuiet()
        # edited in the cloud, deleted in Odoo: the edit wins (a document again)
        time.sleep(1.1)
        self.dav.put(path("budget.xlsx"), b"budget v3")
        self.odoo.unlink("documents.document", docs["budget.xlsx"])
        self.sync()
        again = self.find_docs([("name", "=", "budget.xlsx")])
        self.assertEqual([(d["folder_id"][0], base64_of(d["datas"])) for d in again],
                         [(fin, b"budget v3")])
        self.assertEqual(self.dav.get(path("budget.xlsx")), b"budget v3")
        # edited in Odoo, deleted in the cloud: the edit wins (the file comes back)
        self.odoo.write("documents.document", again[0]["id"], {"datas": b64(b"budget v4")})
        self.dav.delete(path("budget.xlsx"))
        self.sync()
        self.assertEqual(self.dav.get(path("budget.xlsx")), b"budget v4")
        self.assertQuiet()


    def test_deleted_in_the_cloud(self):
        fin, inv, hr = self.seed()
        self.configure({"enabled": True})
        self.sync()
        self.sync()  # the folders filled by the first pass are listed (scan state) by this one
        docs = {d["name"]: d["id"] for d in self.find_docs([])}
        path = lambda rel: self.p("Documents/Finance/" + rel)  # noqa: E731
        # deleted in the cloud: archived in Odoo (it can come back from Odoo's trash)
        self.dav.delete(path("Invoices/inv-001.pdf"))
        # deleted in the cloud but edited in Odoo since: the edit wins, the file comes back
        self.dav.delete(path("Invoices/inv-002.pdf"))
        self.odoo.write("documents.document", docs["inv-002.pdf"], {"datas": b64(b"v2")})
        plan = self.plan_json()
        self.assertEqual(sorted((j["kind"], j["side"], j.get("doc")) for j in plan), [
            ("delete", "odoo", "documents.document,%d" % docs["inv-001.pdf"]),
            ("upload", "cloud", "documents.document,%d" % docs["inv-002.pdf"])])
        self.sync()
        gone = self.odoo.call("documents.document", "read", [[docs["inv-001.pdf"]]],
                              {"fields": ["active"]})
        self.assertEqual(gone, [{"id": docs["inv-001.pdf"], "active": False}])
        self.assertEqual(self.dav.get(path("Invoices/inv-002.pdf")), b"v2")
        self.assertIsNone(self.dav.get(path("Invoices/inv-001.pdf")))
        self.assertQuiet()


    def test_edits_in_a_folder_moved_in_odoo(self):
        """Found by the Documents convergence test: documents edited in a folder that Odoo
        moved in the same pass. The edits go to where the folder is now (the folder's
        move applies first); none makes a stray copy of the folder at its old place."""
        fin, inv, hr = self.seed()
        self.configure({"enabled": True})
        self.sync()
        self.sync()
        docs = {d["name"]: d["id"] for d in self.find_docs([])}
        D = "Documents/"
        if self.VERSION <= 17:
            self.odoo.write("documents.folder", inv, {"parent_folder_id": hr})
        else:
            self.odoo.write("documents.document", inv, {"folder_id": hr})
        # edited in Odoo, edited in the cloud, edited on both sides
        self.odoo.write("documents.document", docs["inv-001.pdf"], {"datas": b64(b"odoo v2")})
        self.dav.put(self.p(D + "Finance/Invoices/inv-002.pdf"), b"cloud v2, longer")
        self.sync()
        tree = self.dav_props()
        self.assertEqual(sorted(k for k in tree if k.startswith(D + "Finance/")),
                         [D + "Finance/", D + "Finance/budget.xlsx"])
        self.assertEqual(tree[D + "HR/Invoices/"], self.ref(inv))
        self.assertEqual(self.dav.get(self.p(D + "HR/Invoices/inv-001.pdf")), b"odoo v2")
        self.assertEqual(base64_of(self.find_docs([("id", "=", docs["inv-002.pdf"])])[0]["datas"]),
                         b"cloud v2, longer")
        self.assertQuiet()
        # edited on both sides in a folder Odoo moves back: both versions kept, there
        budget = self.doc("budget 2.xlsx", inv, b"b2")
        self.sync()
        self.sync()
        self.odoo.write("documents.document", budget, {"datas": b64(b"b2 odoo")})
        self.dav.put(self.p(D + "HR/Invoices/budget 2.xlsx"), b"b2 cloud, longer")
        if self.VERSION <= 17:
            self.odoo.write("documents.folder", inv, {"parent_folder_id": fin})
        else:
            self.odoo.write("documents.document", inv, {"folder_id": fin})
        for _ in range(3):  # the conflict copy takes its name, then Odoo's version its place
            self.sync()
        self.assertEqual(self.dav.get(self.p(D + "Finance/Invoices/budget 2.xlsx")), b"b2 odoo")
        self.assertEqual(self.dav.get(self.p(
            D + "Finance/Invoices/budget 2 (conflict, cloud version).xlsx")), b"b2 cloud, longer")
        self.assertEqual(sorted(k for k in self.dav_props() if k.startswith(D + "HR/")),
                         [D + "HR/"])
        self.assertQuiet()

    def test_new_in_a_folder_beside_a_longer_name(self):
        """Found by the Documents convergence test: new cloud entries in a folder that has
        a sibling whose name is its name and more ("Finance" and "Finance 2024", "Finance
        (old)", "Finance-old": these sort between "Finance" and "Finance/...") are created
        in Odoo like anywhere else."""
        fin, inv, hr = self.seed()
        for name in ("Finance 2024", "Finance (old)", "Finance-old"):
            self.folder(name)
        self.configure({"enabled": True})
        self.sync()
        self.dav.put(self.p("Documents/Finance/new.txt"), b"new in the cloud")
        self.dav.mkcol(self.p("Documents/Finance/Q4"))
        self.sync()
        new = self.find_docs([("name", "=", "new.txt")])
        self.assertEqual([(d["folder_id"][0], base64_of(d["datas"])) for d in new],
                         [(fin, b"new in the cloud")])
        model = "documents.folder" if self.VERSION <= 17 else "documents.document"
        parent = "parent_folder_id" if self.VERSION <= 17 else "folder_id"
        self.assertEqual(len(self.odoo.call(model, "search", [[("name", "=", "Q4"),
                                                                 (parent, "=", fin)]])), 1)
        self.assertQuiet()

    def test_copied_in_the_cloud(self):
        """A user's copy of a synced file or folder (WebDAV COPY takes our tag with it) is
        a new document or folder in Odoo, like any new cloud entry; the original stays
        the document it was."""
        import urllib.parse
        fin, inv, hr = self.seed()
        self.configure({"enabled": True})
        self.sync()
        self.sync()
        docs = {d["name"]: d["id"] for d in self.find_docs([])}
        D = "Documents/"

        def copy(src, dst):
            st, _ = self.dav.req("COPY", self.p(src), headers={
                "Destination": self.dav.url.rstrip("/") + urllib.parse.quote(self.p(dst)),
                "Overwrite": "F"})
            self.assertEqual(st, 201)
        copy(D + "Finance/budget.xlsx", D + "HR/budget copy.xlsx")
        copy(D + "Finance/Invoices", D + "HR/Invoices copy")
        for _ in range(3):  # a new folder's content follows once it is in Odoo
            self.sync()
        model = "documents.folder" if self.VERSION <= 17 else "documents.document"
        parent = "parent_folder_id" if self.VERSION <= 17 else "folder_id"
        icopy = self.odoo.call(model, "search", [[("name", "=", "Invoices copy"),
                                                  (parent, "=", hr)]])
        self.assertEqual(len(icopy), 1)
        rows = self.find_docs([("type", "!=", "folder")] if self.VERSION >= 18 else [])
        got = sorted((d["name"], d["folder_id"][0], base64_of(d["datas"]), d["id"] in
                      docs.values()) for d in rows if d["datas"])
        self.assertEqual(got, sorted([
            ("budget.xlsx", fin, b"budget", True), ("budget copy.xlsx", hr, b"budget", False),
            ("inv-001.pdf", inv, b"%PDF-1.7 one", True),
            ("inv-002.pdf", inv, b"%PDF-1.7 two", True),
            ("inv-001.pdf", icopy[0], b"%PDF-1.7 one", False),
            ("inv-002.pdf", icopy[0], b"%PDF-1.7 two", False)]))
        tree = self.dav_props()
        self.assertEqual(tree[D + "Finance/budget.xlsx"], "documents.document,%d"
                         % docs["budget.xlsx"])
        self.assertEqual(tree[D + "HR/Invoices copy/"], "%s,%d" % (model, icopy[0]))
        tags = [t for k, t in tree.items() if not k.endswith("/")]
        self.assertEqual(len(tags), len(set(tags)), tree)
        self.assertQuiet()

    def folder_rows(self, ids):
        model = "documents.folder" if self.VERSION <= 17 else "documents.document"
        return {r["id"]: r["active"] for r in self.odoo.call(
            model, "read", [ids], {"fields": ["active"], "context": {"active_test": False}})}

    def test_folder_deleted_in_the_cloud(self):
        """A folder deleted in the cloud is archived in Odoo with everything in it (its
        sub-folders, its documents; a file moved out of it first follows its move); a
        document in it edited or added in Odoo since the last pass is not lost: the folder
        comes back with it, the rest is archived."""
        fin, inv, hr = self.seed()
        q1 = self.folder("Q1", inv)
        self.doc("q1.pdf", q1, b"%PDF q1")
        self.doc("q1 link", q1, url="https://example.com/q1")
        rep = self.folder("Reports", fin)
        r1 = self.doc("r1.txt", rep, b"r1")
        r2 = self.doc("r2.txt", rep, b"r2")
        self.configure({"enabled": True})
        self.sync()
        self.sync()
        docs = {d["name"]: d["id"] for d in self.find_docs([])}
        D = "Documents/Finance/"
        # deleted in the cloud: Invoices, its sub-folder and their documents are archived;
        # a file moved out of it first follows its move
        self.dav.move(self.p(D + "Invoices/inv-002.pdf"), self.p("Documents/HR/inv-002.pdf"))
        self.dav.delete(self.p(D + "Invoices"))
        # deleted in the cloud, but a document in it edited in Odoo since, and one added:
        # nothing of Odoo's is lost, the folder comes back with those two
        self.dav.delete(self.p(D + "Reports"))
        self.odoo.write("documents.document", r2, {"datas": b64(b"r2 v2")})
        r3 = self.doc("r3.txt", rep, b"r3")
        plan = self.plan_json()
        self.assertEqual(sorted((j["kind"], j["side"], j.get("doc")) for j in plan), sorted([
            ("delete", "odoo", "documents.document,%d" % docs["inv-001.pdf"]),
            ("rename", "odoo", "documents.document,%d" % docs["inv-002.pdf"]),
            ("delete", "odoo", "documents.document,%d" % docs["q1.pdf"]),
            ("delete", "odoo", "documents.document,%d" % docs["q1 link"]),
            ("delete", "odoo", self.ref(q1)),
            ("delete", "odoo", self.ref(inv)),
            ("mkdir", "cloud", self.ref(rep)),
            ("delete", "odoo", "documents.document,%d" % r1),
            ("upload", "cloud", "documents.document,%d" % r2),
            ("upload", "cloud", "documents.document,%d" % r3)]))
        self.sync()
        self.assertEqual(self.folder_rows([inv, q1, rep]), {inv: False, q1: False, rep: True})
        gone = self.odoo.call("documents.document", "read", [[
            docs["inv-001.pdf"], docs["inv-002.pdf"], docs["q1.pdf"], docs["q1 link"], r1, r2,
            r3]], {"fields": ["active"], "context": {"active_test": False}})
        self.assertEqual([g["active"] for g in gone], [False, True] + [False] * 3 + [True] * 2)
        moved = self.find_docs([("id", "=", docs["inv-002.pdf"])])
        self.assertEqual([(d["name"], d["folder_id"][0]) for d in moved], [("inv-002.pdf", hr)])
        self.assertEqual(self.dav.get(self.p("Documents/HR/inv-002.pdf")), b"%PDF-1.7 two")
        tree = self.dav_props()
        self.assertNotIn(D + "Invoices/", tree)
        self.assertEqual(tree[D + "Reports/"], self.ref(rep))
        self.assertEqual(sorted(k for k in tree if k.startswith(D + "Reports/")),
                         [D + "Reports/", D + "Reports/r2.txt", D + "Reports/r3.txt"])
        self.assertEqual(self.dav.get(self.p(D + "Reports/r2.txt")), b"r2 v2")
        self.assertEqual(self.dav.get(self.p(D + "budget.xlsx")), b"budget")
        self.assertQuiet()

    def test_renamed_and_moved_in_the_cloud(self):
        fin, inv, hr = self.seed()
        self.configure({"enabled": True})
        self.sync()
        self.sync()
        docs = {d["name"]: d["id"] for d in self.find_docs([])}
        D = "Documents/"
        # renamed in the cloud, and moved to another folder: the documents follow
        self.dav.move(self.p(D + "Finance/Invoices/inv-001.pdf"),
                      self.p(D + "Finance/Invoices/inv-001 paid.pdf"))
        self.dav.move(self.p(D + "Finance/budget.xlsx"), self.p(D + "HR/budget 2027.xlsx"))
        plan = self.plan_json()
        self.assertEqual(sorted((j["kind"], j["side"], j.get("name"), j.get("record"))
                                for j in plan), [
            ("rename", "odoo", "budget 2027.xlsx", self.ref(hr)),
            ("rename", "odoo", "inv-001 paid.pdf", self.ref(inv))])
        self.sync()
        rows = self.odoo.call("documents.document", "read",
                              [[docs["inv-001.pdf"], docs["budget.xlsx"]]],
                              {"fields": ["name", "folder_id"]})
        self.assertEqual([(r["name"], r["folder_id"][0]) for r in rows],
                         [("inv-001 paid.pdf", inv), ("budget 2027.xlsx", hr)])
        self.assertEqual(self.dav.get(self.p(D + "HR/budget 2027.xlsx")), b"budget")
        self.assertQuiet()
        # renamed in Odoo after that: the cloud follows Odoo again
        self.odoo.write("documents.document", docs["budget.xlsx"], {"name": "budget-final.xlsx"})
        self.sync()
        self.assertEqual(self.dav.get(self.p(D + "HR/budget-final.xlsx")), b"budget")
        self.assertQuiet()
        # a folder renamed and moved in the cloud: the Documents folder follows, with its
        # files where they are
        self.dav.move(self.p(D + "Finance/Invoices"), self.p(D + "HR/Invoices 2026"))
        self.sync()
        model = "documents.folder" if self.VERSION <= 17 else "documents.document"
        parent = "parent_folder_id" if self.VERSION <= 17 else "folder_id"
        row = self.odoo.call(model, "read", [[inv]], {"fields": ["name", parent]})[0]
        self.assertEqual((row["name"], row[parent][0]), ("Invoices 2026", hr))
        self.assertEqual(self.dav.get(self.p(D + "HR/Invoices 2026/inv-002.pdf")),
                         b"%PDF-1.7 two")
        self.assertQuiet()


def base64_of(datas):
    import base64
    return base64.b64decode(datas) if datas else None


class LargeFiles:
    """Cloud to Odoo, large files: the content is streamed into Odoo's JSON request (never
    held in memory with its base64), up to what Odoo takes in one request (werkzeug's
    max_content_length, 128 MiB by default, which the emulator enforces with a 413): a
    file whose base64 would not fit is reported and nothing is written."""

    dav_props = SyncTable.dav_props

    def test_large_file_from_the_cloud(self):
        import hashlib
        self.folder("Finance")
        self.configure({"enabled": True})
        self.sync()
        # 90 MiB: 120 MiB of base64, under the limit; 100 MiB: 133.3 MiB, over it
        big = os.urandom(90 * 1024 * 1024)
        self.dav.put(self.p("Documents/Finance/big.bin"), big)
        huge = os.path.join(self.tmp, "huge.bin")
        with open(huge, "wb") as f:
            f.write(b"\0" * (100 * 1024 * 1024))
        with open(huge, "rb") as f:
            self.dav.put(self.p("Documents/Finance/huge.bin"), f.read())
        p = self.sync()
        # the file that does not fit: a message, no job (nothing half-written, no job
        # failing every pass)
        self.assertRegex(p.stderr, r"Documents/Finance/huge\.bin\W+ holds 104857600 "
                         r"bytes: over what Odoo's JSON API takes .*not created in Odoo")
        rows = self.odoo.call("documents.document", "search_read",
                              [[("name", "in", ["big.bin", "huge.bin"])]],
                              {"fields": ["name", "checksum", "file_size"],
                               "context": {"active_test": False}})
        self.assertEqual([(r["name"], r["checksum"], r["file_size"]) for r in rows],
                         [("big.bin", hashlib.sha1(big).hexdigest(), len(big))])
        self.assertEqual(self.dav_props()["Documents/Finance/big.bin"],
                         "documents.document,%d" % rows[0]["id"])
        self.assertIsNone(self.dav_props()["Documents/Finance/huge.bin"])
        self.assertQuiet()


class Large17(LargeFiles, DocsCase):
    VERSION = 17


class Large19Json2(LargeFiles, DocsCase):
    VERSION = 19
    PROTOCOL = "json2"


class NcIdentity:
    """On a server with file ids (the stack's Nextcloud-like ncdav.py, which keeps dead
    properties per exact path as Nextcloud does): a Documents file or folder is told by its
    oc:fileid, as record attachments are, also where its {urn:odoosync}document tag did
    not follow (the files of a folder a user moved lose theirs): a move, never a delete and
    a create, and the document keeps its id; a tag left at a path for a later file proves
    nothing, and that file is never deleted on it."""

    CLOUD = "NCDAV"
    dav_props = SyncTable.dav_props
    ref = SyncTable.ref

    def ids(self):
        """name -> (id, folder id) of the active documents (18/19's folders left out)."""
        dom = [("type", "!=", "folder")] if self.VERSION >= 18 else []
        rows = self.odoo.call("documents.document", "search_read", [dom], {
            "fields": ["name", "folder_id"], "context": {"active_test": True}})
        return {r["name"]: (r["id"], r["folder_id"] and r["folder_id"][0]) for r in rows}

    def proppatch(self, rel, remove=(), set_=None):
        """Set or remove our dead properties on the entry rel (as a server leaves them)."""
        body = ['<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:o="urn:odoosync">']
        if set_:
            body.append("<d:set><d:prop>%s</d:prop></d:set>" % "".join(
                "<o:%s>%s</o:%s>" % (k, v, k) for k, v in set_.items()))
        if remove:
            body.append("<d:remove><d:prop>%s</d:prop></d:remove>" % "".join(
                "<o:%s/>" % k for k in remove))
        body.append("</d:propertyupdate>")
        st, _ = self.dav.req("PROPPATCH", self.p(rel), "".join(body).encode(),
                             {"Content-Type": "application/xml"})
        self.assertEqual(st, 207, "PROPPATCH %s" % rel)

    def start(self):
        fin, inv, hr = self.seed()
        self.configure({"enabled": True})
        self.sync()
        self.sync()  # the uploads' file ids are recorded by the pass after them
        return fin, inv, hr, self.ids()

    def test_nc_folder_moved_by_a_user(self):
        fin, inv, hr, before = self.start()
        D = "Documents/"
        self.dav.move(self.p(D + "Finance/Invoices"), self.p(D + "HR/Invoices 2026"))
        tree = self.dav_props()
        self.assertEqual(tree[D + "HR/Invoices 2026/"], self.ref(inv))
        self.assertIsNone(tree[D + "HR/Invoices 2026/inv-001.pdf"])  # lost on the move
        self.sync()
        self.sync()
        model = "documents.folder" if self.VERSION <= 17 else "documents.document"
        parent = "parent_folder_id" if self.VERSION <= 17 else "folder_id"
        row = self.odoo.call(model, "read", [[inv]], {"fields": ["name", parent]})[0]
        self.assertEqual((row["name"], row[parent][0]), ("Invoices 2026", hr))
        # the same documents, in the same folder: none archived, none made anew
        self.assertEqual(self.ids(), before)
        tree = self.dav_props()
        for name in ("inv-001.pdf", "inv-002.pdf"):
            self.assertEqual(tree[D + "HR/Invoices 2026/" + name],
                             "documents.document,%d" % before[name][0], name)
        self.assertEqual(self.dav.get(self.p(D + "HR/Invoices 2026/inv-002.pdf")),
                         b"%PDF-1.7 two")
        self.assertQuiet()

    def test_nc_sub_folder_of_a_moved_folder(self):
        fin, inv, hr = self.seed()
        y25 = self.folder("2025", inv)
        self.doc("old-inv.pdf", y25, b"%PDF old")
        self.configure({"enabled": True})
        self.sync()
        self.sync()
        before = self.ids()
        D = "Documents/"
        # the sub-folder 2025 and the files below lose their tags on the move
        self.dav.move(self.p(D + "Finance/Invoices"), self.p(D + "HR/Invoices"))
        self.assertIsNone(self.dav_props()[D + "HR/Invoices/2025/"])
        self.sync()
        self.sync()
        self.assertEqual(self.ids(), before)
        tree = self.dav_props()
        self.assertEqual(tree[D + "HR/Invoices/"], self.ref(inv))
        self.assertEqual(tree[D + "HR/Invoices/2025/"], self.ref(y25))
        self.assertEqual(tree[D + "HR/Invoices/2025/old-inv.pdf"],
                         "documents.document,%d" % before["old-inv.pdf"][0])
        self.assertQuiet()

    def test_nc_edits_of_files_told_by_file_id(self):
        fin, inv, hr, before = self.start()
        D = "Documents/"
        # a user moves the folder (its files lose their tags and synced marks), then edits
        # one file there; Odoo edits the other: both edits cross, to the same documents
        self.dav.move(self.p(D + "Finance/Invoices"), self.p(D + "HR/Invoices 2026"))
        time.sleep(1.1)  # (a new ETag)
        self.dav.put(self.p(D + "HR/Invoices 2026/inv-001.pdf"), b"%PDF-1.7 one, signed")
        self.odoo.write("documents.document", before["inv-002.pdf"][0],
                        {"datas": b64(b"%PDF-1.7 two, v2")})
        self.sync()
        self.sync()
        self.assertEqual(self.ids(), before)
        got = {r["id"]: base64_of(r["datas"]) for r in self.odoo.call(
            "documents.document", "read",
            [[before["inv-001.pdf"][0], before["inv-002.pdf"][0]]], {"fields": ["datas"]})}
        self.assertEqual(got[before["inv-001.pdf"][0]], b"%PDF-1.7 one, signed")
        self.assertEqual(self.dav.get(self.p(D + "HR/Invoices 2026/inv-002.pdf")),
                         b"%PDF-1.7 two, v2")
        tree = self.dav_props()
        for name in ("inv-001.pdf", "inv-002.pdf"):
            self.assertEqual(tree[D + "HR/Invoices 2026/" + name],
                             "documents.document,%d" % before[name][0], name)
        self.assertQuiet()

    def test_nc_file_moved_without_its_tag(self):
        fin, inv, hr, before = self.start()
        D = "Documents/"
        self.dav.move(self.p(D + "Finance/budget.xlsx"), self.p(D + "HR/budget 2027.xlsx"))
        self.proppatch(D + "HR/budget 2027.xlsx", remove=("document", "synced"))
        self.assertIsNone(self.dav_props()[D + "HR/budget 2027.xlsx"])
        self.sync()
        self.sync()
        after = self.ids()
        did = before.pop("budget.xlsx")[0]
        self.assertEqual(after.pop("budget 2027.xlsx"), (did, hr), "the same document, moved")
        self.assertEqual(after, before)
        self.assertEqual(self.dav_props()[D + "HR/budget 2027.xlsx"], "documents.document,%d" % did)
        self.assertEqual(self.dav.get(self.p(D + "HR/budget 2027.xlsx")), b"budget")
        self.assertQuiet()

    def test_nc_new_file_at_a_reused_path_with_a_stale_tag(self):
        fin, inv, hr, before = self.start()
        D = "Documents/"
        # gap: whether a pass runs between the delete and the new file (its state then
        # no longer lists the deleted document)
        for name, rel, gap in (("budget.xlsx", D + "Finance/budget.xlsx", False),
                               ("inv-002.pdf", D + "Finance/Invoices/inv-002.pdf", True)):
            old = self.dav_props()[rel]
            synced = self.dav.req("PROPFIND", self.p(rel), (
                '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:o="urn:odoosync">'
                '<d:prop><o:synced/></d:prop></d:propfind>').encode(), {"Depth": "0"})[1]
            synced = synced.decode().split("<o:synced>")[1].split("</o:synced>")[0] \
                if b"<o:synced>" in synced else None
            self.odoo.unlink("documents.document", before[name][0])
            self.sync("--force-deletes")
            self.assertIsNone(self.dav.get(self.p(rel)))
            if gap:
                self.sync()
            # a user puts a new file there; the old tag comes back with it (Nextcloud
            # leaves a deleted entry's properties to a later one at its path)
            self.dav.put(self.p(rel), b"mine!")
            self.proppatch(rel, set_=dict({"document": old}, **(
                {"synced": synced} if synced else {})))
            self.sync()
            self.sync()
            self.assertEqual(self.dav.get(self.p(rel)), b"mine!", rel)
            now = self.ids()
            self.assertIn(name, now, "the user's file becomes a document")
            self.assertNotEqual(now[name][0], before[name][0])
            self.assertEqual(self.dav_props()[rel], "documents.document,%d" % now[name][0])
            self.assertQuiet()


class Nc17(NcIdentity, DocsCase):
    VERSION = 17


class Nc18(NcIdentity, DocsCase):
    VERSION = 18


class Sync16(SyncTable, DocsCase):
    VERSION = 16


class Sync17(SyncTable, DocsCase):
    VERSION = 17


class Sync18(SyncTable, DocsCase):
    VERSION = 18


class Sync19Json2(SyncTable, DocsCase):
    VERSION = 19
    PROTOCOL = "json2"


class Check16(CheckTable, DocsCase):
    VERSION = 16


class Check17(CheckTable, DocsCase):
    VERSION = 17


class Check18(CheckTable, DocsCase):
    VERSION = 18


class Check19(CheckTable, DocsCase):
    VERSION = 19


class Check19Json2(CheckTable, DocsCase):
    VERSION = 19
    PROTOCOL = "json2"


class CheckWithoutApp(DocsCase):
    EMULATOR_ARGS = ("--without-documents",)

    def test_check_says_the_app_is_missing(self):
        self.configure({"enabled": True})
        p = self.run_cmd("check", expect=3)
        self.assertIn("docs   FAIL  documents.enabled is true, but Odoo at %s has no Documents "
                      "app (documents.document does not exist)" % self.odoo.url, p.stdout)
        # without documents.enabled, check does not look
        self.configure({"enabled": False})
        self.assertNotIn("docs   ", self.run_cmd("check").stdout)


if __name__ == "__main__":
    unittest.main()
