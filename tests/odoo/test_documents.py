#!/usr/bin/env python3
"""Faithfulness tests of the emulator's Documents app (tests/odoo/documents.py): the
16/17 shape (documents.folder + documents.document) and the 18/19 shape (folders are
documents of type folder), JSON-RPC on each, JSON-2 on 19, and an Odoo without the app.
Run: python3 -m unittest -v test_documents   (from tests/odoo/)
"""

import base64
import hashlib
import unittest

from test_emulator import KEY, EmulatorCase, RpcFailure

DOC_FIELDS = ["name", "type", "folder_id", "attachment_id", "datas", "mimetype", "file_size",
              "checksum", "owner_id", "active", "url"]


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


class Common:
    """What both shapes share: a document with a file and its attachment."""

    def folder(self, name, parent=False):
        raise NotImplementedError

    def test_file_document_and_its_attachment(self):
        f = self.folder("Finance")
        doc = self.kw("documents.document", "create", {
            "name": "invoice.pdf", "folder_id": f, "datas": b64(b"%PDF-1.7 x")})
        r = self.kw("documents.document", "read", [doc], DOC_FIELDS)[0]
        self.assertEqual(r["folder_id"][0], f)
        self.assertEqual(r["type"], "binary")
        self.assertEqual(r["mimetype"], "application/pdf")
        self.assertEqual(r["file_size"], 10)
        self.assertEqual(r["checksum"], hashlib.sha1(b"%PDF-1.7 x").hexdigest())
        self.assertEqual(base64.b64decode(r["datas"]), b"%PDF-1.7 x")
        self.assertEqual(r["owner_id"][0], 2)
        aid = r["attachment_id"][0]
        att = self.kw("ir.attachment", "read", [aid], ["res_model", "res_id", "name", "datas"])
        self.assertEqual((att[0]["res_model"], att[0]["res_id"]), ("documents.document", doc))
        self.assertEqual(att[0]["name"], "invoice.pdf")
        # the content by the attachment's /web/content, as odoosync downloads it
        status, _, body = self.http("GET", "/web/content/%d" % aid,
                                    headers={"Authorization": "bearer %s" % KEY})
        self.assertEqual((status, body), (200, b"%PDF-1.7 x"))
        # new content: a new checksum; a rename renames the attachment too
        self.kw("documents.document", "write", [doc], {"datas": b64(b"%PDF-1.7 yy")})
        self.kw("documents.document", "write", [doc], {"name": "invoice-2.pdf"})
        r = self.kw("documents.document", "read", [doc], ["checksum", "file_size"])[0]
        self.assertEqual(r["checksum"], hashlib.sha1(b"%PDF-1.7 yy").hexdigest())
        self.assertEqual(r["file_size"], 11)
        self.assertEqual(self.kw("ir.attachment", "read", [aid], ["name"])[0]["name"],
                         "invoice-2.pdf")
        self.assertEqual(self.kw("documents.document", "search",
                                 [("folder_id", "=", f), ("name", "ilike", "INVOICE")]), [doc])
        # deleting the document deletes its attachment
        self.kw("documents.document", "unlink", [doc])
        self.assertEqual(self.kw("ir.attachment", "search", [("id", "=", aid)]), [])

    def test_archived_documents_are_hidden(self):
        f = self.folder("Archive test")
        doc = self.kw("documents.document", "create", {"name": "old.txt", "folder_id": f,
                                                       "datas": b64(b"old")})
        self.kw("documents.document", "write", [doc], {"active": False})
        self.assertEqual(self.kw("documents.document", "search", [("folder_id", "=", f)]), [])
        self.assertEqual(self.kw("documents.document", "search", [("folder_id", "=", f)],
                                 context={"active_test": False}), [doc])
        self.assertEqual(self.kw("documents.document", "read", [doc], ["active"])[0]["active"],
                         False)

    def test_access_errors(self):
        err = self.assertOdooError("odoo.exceptions.AccessError", self.kw, "documents.document",
                                   "search", [], uid=3, password="portal")
        self.assertIn("(documents.document)", err.data["message"])
        self.control({"deny_model": "documents.document"})
        try:
            self.assertOdooError("odoo.exceptions.AccessError", self.kw, "documents.document",
                                 "fields_get")
        finally:
            self.control({"reset": True})


class Shape1617(Common):
    def folder(self, name, parent=False):
        return self.kw("documents.folder", "create", {"name": name,
                                                      "parent_folder_id": parent})

    def test_fields_get(self):
        fd = self.kw("documents.document", "fields_get", attributes=["type", "relation",
                                                                      "required", "selection"])
        self.assertEqual(fd["folder_id"]["relation"], "documents.folder")
        self.assertTrue(fd["folder_id"]["required"])
        self.assertEqual([s[0] for s in fd["type"]["selection"]], ["url", "binary", "empty"])
        self.assertNotIn("children_ids", fd)
        ff = self.kw("documents.folder", "fields_get", attributes=["type", "relation"])
        self.assertEqual(ff["parent_folder_id"], {"type": "many2one",
                                                  "relation": "documents.folder"})
        self.assertIn("children_folder_ids", ff)

    def test_folder_tree(self):
        top = self.folder("Top")
        sub = self.folder("Sub", top)
        leaf = self.folder("Leaf", sub)
        rows = self.kw("documents.folder", "read", [top, sub, leaf],
                       ["display_name", "parent_folder_id", "children_folder_ids"])
        self.assertEqual([r["display_name"] for r in rows], ["Top", "Top / Sub", "Sub / Leaf"])
        self.assertEqual(rows[1]["parent_folder_id"], [top, "Top"])
        self.assertEqual(rows[0]["children_folder_ids"], [sub])
        self.kw("documents.folder", "write", [top], {"name": "Top2"})
        self.assertEqual(self.kw("documents.folder", "read", [sub], ["display_name"])[0]
                         ["display_name"], "Top2 / Sub")
        self.assertEqual(self.kw("documents.folder", "search", [("id", "child_of", top)],
                                 order="id"), [top, sub, leaf])
        self.assertOdooError("odoo.exceptions.UserError", self.kw, "documents.folder", "write",
                             [top], {"parent_folder_id": leaf}, contains="recursion")
        # a folder's name is required; a document needs a folder
        self.assertOdooError("odoo.exceptions.ValidationError", self.kw, "documents.folder",
                             "create", {"parent_folder_id": top})
        self.assertOdooError("odoo.exceptions.ValidationError", self.kw, "documents.document",
                             "create", {"name": "nowhere.txt", "datas": b64(b"x")},
                             contains="folder_id")
        # a workspace holding documents cannot be deleted (ondelete restrict) ...
        doc = self.kw("documents.document", "create", {"name": "a.txt", "folder_id": leaf,
                                                       "datas": b64(b"a")})
        self.assertOdooError("odoo.exceptions.ValidationError", self.kw, "documents.folder",
                             "unlink", [top])
        self.kw("documents.document", "unlink", [doc])
        # ... an empty one takes its sub-workspaces with it (ondelete cascade)
        self.kw("documents.folder", "unlink", [top])
        self.assertEqual(self.kw("documents.folder", "search", [("id", "in", [top, sub, leaf])],
                                 context={"active_test": False}), [])

    def test_type_follows_the_content(self):
        f = self.folder("Types")
        req = self.kw("documents.document", "create", {"name": "Send the contract",
                                                       "folder_id": f})
        url = self.kw("documents.document", "create", {"name": "site", "folder_id": f,
                                                       "url": "https://example.com/"})
        rows = self.kw("documents.document", "read", [req, url], ["type", "attachment_id"])
        self.assertEqual([(r["type"], r["attachment_id"]) for r in rows],
                         [("empty", False), ("url", False)])
        self.kw("documents.document", "write", [req], {"datas": b64(b"signed")})
        r = self.kw("documents.document", "read", [req], ["type", "attachment_id"])[0]
        self.assertEqual(r["type"], "binary")
        self.assertTrue(r["attachment_id"])


class Shape1819(Common):
    def folder(self, name, parent=False):
        return self.kw("documents.document", "create", {"name": name, "type": "folder",
                                                        "folder_id": parent})

    def test_fields_get(self):
        fd = self.kw("documents.document", "fields_get", attributes=["type", "relation",
                                                                      "required", "selection"])
        self.assertEqual(fd["folder_id"]["relation"], "documents.document")
        self.assertFalse(fd["folder_id"]["required"])
        self.assertEqual([s[0] for s in fd["type"]["selection"]], ["url", "binary", "folder"])
        self.assertEqual(fd["children_ids"]["relation"], "documents.document")
        self.assertOdooError("odoo.exceptions.UserError", self.kw, "documents.folder",
                             "fields_get", contains="Object documents.folder doesn't exist")

    def test_folder_tree(self):
        top = self.folder("Top")
        sub = self.folder("Sub", top)
        doc = self.kw("documents.document", "create", {"name": "a.txt", "folder_id": sub,
                                                       "datas": b64(b"a")})
        root_doc = self.kw("documents.document", "create", {"name": "loose.txt",
                                                            "datas": b64(b"b")})
        rows = self.kw("documents.document", "read", [top, sub, doc, root_doc],
                       ["display_name", "type", "folder_id", "children_ids", "attachment_id"])
        self.assertEqual([r["type"] for r in rows], ["folder", "folder", "binary", "binary"])
        self.assertEqual([r["display_name"] for r in rows], ["Top", "Sub", "a.txt", "loose.txt"])
        self.assertEqual(rows[1]["folder_id"], [top, "Top"])
        self.assertEqual(rows[1]["children_ids"], [doc])
        self.assertEqual(rows[3]["folder_id"], False)
        self.assertEqual((rows[0]["attachment_id"], rows[1]["attachment_id"]), (False, False))
        self.assertEqual(self.kw("documents.document", "search",
                                 [("type", "=", "folder"), ("id", "child_of", top)],
                                 order="id"), [top, sub])
        self.assertOdooError("odoo.exceptions.ValidationError", self.kw, "documents.document",
                             "write", [sub], {"folder_id": sub}, contains="itself")
        self.assertOdooError("odoo.exceptions.UserError", self.kw, "documents.document",
                             "write", [top], {"folder_id": sub}, contains="Recursion")
        # folder_id is ondelete set null: a deleted folder's children move to the root
        self.kw("documents.document", "unlink", [sub])
        self.assertEqual(self.kw("documents.document", "read", [doc], ["folder_id"])[0]
                         ["folder_id"], False)


class Documents16(Shape1617, EmulatorCase):
    VERSION = 16


class Documents17(Shape1617, EmulatorCase):
    VERSION = 17


class Documents18(Shape1819, EmulatorCase):
    VERSION = 18


class Documents19(Shape1819, EmulatorCase):
    VERSION = 19

    def test_json2(self):
        status, fid = self.json2("documents.document", "create", {
            "vals_list": [{"name": "Shared", "type": "folder"}]})
        self.assertEqual(status, 200)
        status, ids = self.json2("documents.document", "create", {"vals_list": [
            {"name": "n.txt", "folder_id": fid[0], "datas": b64(b"nineteen")}]})
        self.assertEqual(status, 200)
        status, rows = self.json2("documents.document", "search_read", {
            "domain": [("folder_id", "=", fid[0])],
            "fields": ["name", "type", "checksum", "file_size", "attachment_id"],
            "order": "write_date desc", "limit": 50, "offset": 0})
        self.assertEqual(status, 200)
        self.assertEqual([(r["name"], r["type"], r["file_size"]) for r in rows],
                         [("n.txt", "binary", 8)])
        self.assertEqual(rows[0]["checksum"], hashlib.sha1(b"nineteen").hexdigest())
        status, fg = self.json2("documents.document", "fields_get",
                                {"attributes": ["selection"]})
        self.assertEqual(status, 200)
        self.assertIn(["folder", "Folder"], fg["type"]["selection"])
        status, body = self.json2("documents.folder", "fields_get", {})
        self.assertEqual(status, 404)
        status, res = self.json2("documents.document", "write",
                                 {"ids": ids, "vals": {"active": False}})
        self.assertEqual((status, res), (200, True))
        status, n = self.json2("documents.document", "search_count",
                               {"domain": [("folder_id", "=", fid[0])]})
        self.assertEqual((status, n), (200, 0))


class WithoutDocuments(EmulatorCase):
    """An Odoo without the Documents app: the models do not exist."""
    ARGS = ["--without-documents"]

    def test_no_documents_models(self):
        for model in ("documents.document", "documents.folder"):
            with self.assertRaises(RpcFailure) as cm:
                self.kw(model, "fields_get")
            self.assertIn("Object %s doesn't exist" % model, cm.exception.data["message"])


if __name__ == "__main__":
    unittest.main()
