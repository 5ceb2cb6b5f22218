#!/usr/bin/env python3
"""End-to-end: identity on a Nextcloud-like server (tests/stack/ncdav.py), where dead
properties are kept per exact path as Nextcloud 27 keeps them: the files of a moved
folder lose their tags, a deleted folder's files leave theirs behind for a later file
at the same path, and every entry has an `oc:fileid` that a rename or a move keeps.
odoosync must tell its files by that file id: the same attachments after a folder
moves, whoever moved it, and never a delete on a tag left behind. Its uploads write no
tag there (the attachment's web link names the file id): the pass after an upload tells
the file by its path, size and the modification time the upload gave it.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import SyncCase, main, mkdir  # noqa: E402


class NcIdentity(SyncCase):
    CLOUD = "NCDAV"

    def atts_of(self, model, res_id):
        return self.odoo.attachments([("res_model", "=", model), ("res_id", "=", res_id)])

    def test_record_folder_renamed_by_user_reverted_same_attachments(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.sync()  # a pass that sees the uploaded file: its link holds the file id
        self.dav.put(self.p("Quotations/SO019/notes.txt"), b"the user's")
        self.sync()
        nid = [a["id"] for a in self.atts_of("sale.order", so) if a["name"] == "notes.txt"][0]
        self.sync()
        # a user renames the record's folder: its files lose their tags on Nextcloud
        self.dav.move(self.p("Quotations/SO019"), self.p("Quotations/My order"))
        t = self.tree()
        self.assertNotIn("attachment", t["Quotations/My order/a.txt"][2])
        # both attachments' web links name their files by id: nothing to relink
        self.assertPlan([("rename", "cloud", "Quotations/My order", "Quotations/SO019", None)])
        self.sync()
        t = self.tree()
        self.assertNotIn("Quotations/My order", t)
        self.assertEqual(sorted(a["id"] for a in self.atts_of("sale.order", so)),
                         sorted([aid, nid]), "the same attachments, none deleted or made anew")
        self.assertLinked(aid, "Quotations/SO019/a.txt", "sale.order", so)
        self.assertLinked(nid, "Quotations/SO019/notes.txt", "sale.order", so)
        self.assertNotIn("attachment", t["Quotations/SO019/a.txt"][2], "uploads write no tag")
        self.assertQuiet()

    def test_record_folder_that_lost_its_tag_is_told_by_file_id(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.sync()
        # a user renames the type folder (its record folders lose their tags on Nextcloud)
        # and the record's folder in it
        self.dav.move(self.p("Quotations"), self.p("Quotes"))
        self.dav.move(self.p("Quotes/SO019"), self.p("Quotes/My order"))
        self.assertNotIn("record", self.tree()["Quotes/My order"][2])
        self.assertPlan([("rename", "cloud", "Quotes", "Quotations", None)])
        self.sync()  # the type folder is renamed back; what is under it waits a pass
        self.assertPlan([("rename", "cloud", "Quotations/My order", "Quotations/SO019", None),
                         mkdir("Quotations/SO019")])
        self.sync()
        t = self.tree()
        self.assertNotIn("Quotations/My order", t)
        self.assertEqual(t["Quotations/SO019"][2].get("record"), "sale.order,%d" % so)
        self.assertEqual([a["id"] for a in self.atts_of("sale.order", so)], [aid])
        self.assertLinked(aid, "Quotations/SO019/a.txt", "sale.order", so)
        self.assertQuiet()


    def test_folder_moved_by_odoosync_keeps_file_identity(self):
        # Odoo 19 (JSON-2: one path per method), so the workers' reads can be made to fail
        self.odoo.stop()
        self.odoo = harness.Emulator(version=19)
        self.addCleanup(self.odoo.stop)
        os.environ["E2E_ODOO_API_KEY"] = harness.KEY
        # WebDAV addresses: a folder move makes them stale (a web link, which names the
        # file id, stays right: test_links.py)
        self.LINK_FORM = "dav"
        self.write_config(odoo={"url": self.odoo.url, "database": "odoosync", "login": "admin",
                                "password_env": "E2E_ODOO_PASSWORD",
                                "api_key_env": "E2E_ODOO_API_KEY"})
        so = self.order("SO019")
        other = self.order("SO020", "sale")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        bid = self.odoo.attach("sale.order", so, "b.txt", b"world")
        self.sync()
        self.sync()
        # the record changes type: odoosync moves its folder (Nextcloud drops the files'
        # tags), and the relinks of that pass do not happen (a worker killed after the
        # MOVE, Odoo failing): the urls still name the old place
        self.odoo.write("sale.order", so, {"state": "sale"})
        self.control({"fail_next": {"path": "/json/2/ir.attachment/read", "status": 503,
                                    "count": 1000}})
        self.sync("--full-scan", expect=1)
        self.control({"reset": True})
        t = self.tree()
        self.assertIn("Orders/SO019/a.txt", t)
        self.assertNotIn("attachment", t["Orders/SO019/a.txt"][2], "Nextcloud dropped the tag")
        self.assertTrue(harness.link_target(self, self.att_by_id(aid)["url"]).endswith(
            "Quotations/SO019/a.txt"))
        # ... and a user renames one file and moves the other to another record
        self.dav.move(self.p("Orders/SO019/a.txt"), self.p("Orders/SO019/renamed.txt"))
        self.dav.move(self.p("Orders/SO019/b.txt"), self.p("Orders/SO020/b.txt"))
        self.assertPlan([("relink", "odoo", "Orders/SO019/renamed.txt", None, aid),
                         ("relink", "odoo", "Orders/SO020/b.txt", None, bid)])
        self.sync()
        self.assertLinked(aid, "Orders/SO019/renamed.txt", "sale.order", so)
        self.assertEqual(self.att_by_id(aid)["name"], "renamed.txt")
        self.assertLinked(bid, "Orders/SO020/b.txt", "sale.order", other)
        self.assertEqual([a["id"] for a in self.atts_of("sale.order", so)], [aid])
        self.assertEqual([a["id"] for a in self.atts_of("sale.order", other)], [bid])
        self.assertEqual(self.fetch_url(self.att_by_id(aid)["url"]), b"hello")
        self.assertEqual(self.fetch_url(self.att_by_id(bid)["url"]), b"world")
        t = self.tree()
        self.assertEqual(t["Orders/SO019/renamed.txt"][2].get("attachment"), str(aid))
        self.assertEqual(t["Orders/SO020/b.txt"][2].get("attachment"), str(bid))
        self.assertQuiet()

    def test_new_file_at_reused_path_is_new_and_never_deleted(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        # a user deletes the record's folder right after the upload: the attachment goes,
        # the folder comes back, and Nextcloud keeps a.txt's tag for that path
        self.dav.delete(self.p("Quotations/SO019"))
        self.sync()
        self.assertIsNone(self.att_by_id(aid))
        self.assertIn("Quotations/SO019", self.tree())
        # ... then puts the file back (the same content); a tag the server kept for that
        # path (an upload where links are DAV urls writes one) comes with it
        self.dav.put(self.p("Quotations/SO019/a.txt"), b"hello")
        self.dav_tag(self.p("Quotations/SO019/a.txt"), aid)
        self.assertPlan([("relink", "odoo", "Quotations/SO019/a.txt", None, 0)])
        self.sync()
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/a.txt")), b"hello")
        rows = self.atts_of("sale.order", so)
        self.assertEqual(len(rows), 1, rows)
        self.assertNotEqual(rows[0]["id"], aid)
        self.assertLinked(rows[0]["id"], "Quotations/SO019/a.txt", "sale.order", so)
        self.assertEqual(self.tree()["Quotations/SO019/a.txt"][2].get("attachment"),
                         str(rows[0]["id"]))
        self.assertQuiet()

    def test_stale_tag_of_a_deleted_file_is_never_deleted_on(self):
        # Odoo deletes the attachment, odoosync deletes its file; a user puts a new file at
        # that path and the old tag comes back with it. A `plan` (which saves its state,
        # as a pass whose relink fails does) must not turn that new file into the one
        # "last seen linked": the pass after it deleted the user's file (real Nextcloud)
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.sync()  # the upload's file id is recorded by the pass after it
        self.odoo.unlink("ir.attachment", aid)
        self.sync()
        self.assertNotIn("Quotations/SO019/a.txt", self.tree())
        self.dav.put(self.p("Quotations/SO019/a.txt"), b"mine!")
        self.dav_tag(self.p("Quotations/SO019/a.txt"), aid)
        for _ in range(2):
            self.assertPlan([("relink", "odoo", "Quotations/SO019/a.txt", None, 0)])
        self.sync()
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/a.txt")), b"mine!")
        rows = self.atts_of("sale.order", so)
        self.assertEqual(len(rows), 1, rows)
        self.assertNotEqual(rows[0]["id"], aid)
        self.assertLinked(rows[0]["id"], "Quotations/SO019/a.txt", "sale.order", so)
        self.assertQuiet()

    def test_file_moved_into_a_sub_folder_leaves_its_attachment(self):
        # the rule of Apache (a file moved anywhere but a document folder's top level
        # leaves its attachment, its content stays in the cloud), also when its tag did not
        # follow it (a moved folder's children lose theirs on Nextcloud) and its web link
        # still opens it there: a link the previous pass made is not a url a user wrote
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.sync()  # the upload's file id is recorded by the pass after it
        self.dav.mkcol(self.p("Quotations/SO019/old"))
        self.dav.move(self.p("Quotations/SO019/a.txt"), self.p("Quotations/SO019/old/a.txt"))
        self.dav.move(self.p("Quotations/SO019/old"), self.p("Quotations/SO019/older"))
        self.assertIsNone(self.tree()["Quotations/SO019/older/a.txt"][2].get("attachment"))
        for _ in range(2):  # a plan saves its state: the one after it plans the same
            self.assertPlan([("delete", "odoo", "Quotations/SO019/older/a.txt", None, aid),
                             ("relink", "odoo", "Quotations/SO019/older", None, 0)])
        self.sync()
        self.assertIsNone(self.att_by_id(aid))
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/older/a.txt")), b"hello")
        rows = self.atts_of("sale.order", so)
        self.assertEqual(len(rows), 1, rows)
        self.assertLinked(rows[0]["id"], "Quotations/SO019/older", "sale.order", so)
        self.assertQuiet()

    def test_file_edited_in_cloud_outlives_its_deleted_attachment(self):
        # the file id proves the file is the linked one, but a user wrote new content
        # into it since: the edit wins over Odoo's delete (kept, linked anew)
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.sync()  # the upload's file id is recorded by the pass after it
        self.dav.put(self.p("Quotations/SO019/a.txt"), b"edited by a user")
        self.odoo.unlink("ir.attachment", aid)
        self.assertPlan([("relink", "odoo", "Quotations/SO019/a.txt", None, 0)])
        self.sync()
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/a.txt")), b"edited by a user")
        rows = self.atts_of("sale.order", so)
        self.assertEqual(len(rows), 1, rows)
        self.assertNotEqual(rows[0]["id"], aid)
        self.assertLinked(rows[0]["id"], "Quotations/SO019/a.txt", "sale.order", so)
        self.assertQuiet()

    # --- uploads write no tag where the web link names the file -------------------------
    def test_upload_writes_no_tag_and_needs_none(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        t = self.tree()
        self.assertNotIn("attachment", t["Quotations/SO019/a.txt"][2],
                         "the web link names the file by id: no tag is written")
        self.assertLinked(aid, "Quotations/SO019/a.txt", "sale.order", so)
        for _ in range(2):  # told by its upload, then by the file id the pass after records
            self.assertQuiet()
        self.sync()
        self.assertNotIn("attachment", self.tree()["Quotations/SO019/a.txt"][2])
        self.assertLinked(aid, "Quotations/SO019/a.txt", "sale.order", so)

    def test_attachment_deleted_right_after_its_upload_deletes_the_file(self):
        # no pass has seen the file's id yet, and it carries no tag: its path, size and the
        # modification time the upload gave it (the attachment's write_date) tell it
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.assertNotIn("attachment", self.tree()["Quotations/SO019/a.txt"][2])
        self.odoo.unlink("ir.attachment", aid)
        self.sync()
        self.assertNotIn("Quotations/SO019/a.txt", self.tree())
        self.assertEqual(self.atts_of("sale.order", so), [])
        self.assertQuiet()

    def test_file_replaced_right_after_its_upload_outlives_the_attachment(self):
        # a person saves their own five bytes over the upload (their client gives it its own
        # modification time) and Odoo deletes the attachment before a pass saw the file: not
        # proven the upload's, so kept and linked anew (with a tag, the path and size alone
        # used to prove it, and the person's file was deleted)
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        st, _ = self.dav.req("PUT", self.p("Quotations/SO019/a.txt"), b"HELLO",
                             {"X-OC-Mtime": "1600000000"})
        self.assertIn(st, (201, 204))
        self.odoo.unlink("ir.attachment", aid)
        self.sync()
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/a.txt")), b"HELLO")
        rows = self.atts_of("sale.order", so)
        self.assertEqual(len(rows), 1, rows)
        self.assertNotEqual(rows[0]["id"], aid)
        self.assertLinked(rows[0]["id"], "Quotations/SO019/a.txt", "sale.order", so)
        self.assertQuiet()


if __name__ == "__main__":
    main()
