#!/usr/bin/env python3
"""End-to-end: Odoo's Documents app (documents.enabled), on both model shapes (16/17:
documents.folder; 18/19: folders are documents of type folder) and both protocols
(JSON-RPC on every version, JSON-2 on 19), against the real Apache WebDAV and the
emulator (tests/odoo/documents.py).

What is covered today: `odoosync check` detects the shape with fields_get, reads the
tree, resolves each mapping (by path of names, by id, "*") and says what it holds, and
fails precisely on a missing app or a missing / ambiguous folder. The sync itself (Odoo
to cloud and back) is not built yet: see docs/design.md.
"""

import json
import os
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

    def setUp(self):
        self.env = harness.load_env()
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
