#!/usr/bin/env python3
"""Odoo's import (`load` with `.id` rows, importer.py), as odoosync uses it to turn many
attachments into url ones in one call (worker/apply_batch.c).

Against the emulator by default. With ODOOSYNC_PEER_ODOO_URL set (http://host:port of a
real Odoo whose database `odoosync` has admin/admin), the same assertions run against that
Odoo instead: they were written from, and pass on, a real Odoo 17.0.
"""
import base64
import os
import unittest
import urllib.parse

from test_emulator import EmulatorCase

PEER = os.environ.get("ODOOSYNC_PEER_ODOO_URL")
COLS = [".id", "type", "url", "datas"]
FIELDS = ["type", "url", "checksum", "file_size", "store_fname"]
EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"


class LoadTests(EmulatorCase):
    @classmethod
    def setUpClass(cls):
        if not PEER:
            return super().setUpClass()
        import itertools
        cls.port = urllib.parse.urlparse(PEER).port or 80
        cls.rids = itertools.count(1)
        cls.proc = None

    @classmethod
    def tearDownClass(cls):
        if cls.proc:
            super().tearDownClass()

    def setUp(self):
        self.partner = self.kw("res.partner", "create", {"name": "odoosync importer test"})
        self.addCleanup(self.kw, "res.partner", "unlink", [self.partner])
        self.ids = [self.kw("ir.attachment", "create", {
            "name": "f%d.txt" % i, "res_model": "res.partner", "res_id": self.partner,
            "datas": base64.b64encode(b"content %d" % i).decode()}) for i in range(3)]
        self.addCleanup(lambda: self.kw("ir.attachment", "unlink",
                                        self.kw("ir.attachment", "exists", self.ids)))
        self.before = self.read()

    def read(self):
        return {r["id"]: {k: r[k] for k in FIELDS}
                for r in self.kw("ir.attachment", "read", self.ids, ["id"] + FIELDS)}

    def load(self, rows):
        return self.kw("ir.attachment", "load", fields=COLS, data=rows)

    def test_each_row_gets_its_own_values_and_loses_its_content(self):
        a, b, c = self.ids
        res = self.load([[str(a), "url", "https://cloud/f/1", ""],
                         [str(b), "url", "https://cloud/f/2", ""]])
        self.assertEqual(res["ids"], [a, b])
        self.assertEqual([m for m in res["messages"] if m["type"] == "error"], [])
        after = self.read()
        for att, url in ((a, "https://cloud/f/1"), (b, "https://cloud/f/2")):
            self.assertEqual(after[att]["type"], "url")
            self.assertEqual(after[att]["url"], url)
            self.assertIs(after[att]["store_fname"], False)  # the content left Odoo
            self.assertEqual(after[att]["file_size"], 0)
            self.assertEqual(after[att]["checksum"], EMPTY_SHA1)
        self.assertEqual(after[c], self.before[c])  # a row not named: untouched

    def test_an_unknown_id_keeps_nothing_of_any_row(self):
        a, b, _ = self.ids
        res = self.load([[str(a), "url", "https://cloud/f/1", ""],
                         ["987654321", "url", "https://cloud/f/x", ""],
                         [str(b), "url", "https://cloud/f/2", ""]])
        self.assertIs(res["ids"], False)
        errors = [m for m in res["messages"] if m["type"] == "error"]
        self.assertIn("Unknown database identifier '987654321'", [m["message"] for m in errors])
        self.assertEqual(self.read(), self.before)  # a's and b's contents are still in Odoo
        # and still readable, byte for byte
        got = self.kw("ir.attachment", "read", [a], ["datas"])[0]["datas"]
        self.assertEqual(base64.b64decode(got), b"content 0")

    def test_a_deleted_attachment_keeps_nothing_of_any_row(self):
        a, b, c = self.ids
        self.kw("ir.attachment", "unlink", [c])
        res = self.load([[str(a), "url", "https://cloud/f/1", ""],
                         [str(c), "url", "https://cloud/f/3", ""]])
        self.assertIs(res["ids"], False)
        self.assertEqual(self.read()[a], self.before[a])
        self.assertNotIn(c, self.read())  # not made again by the load


if __name__ == "__main__":
    unittest.main()
