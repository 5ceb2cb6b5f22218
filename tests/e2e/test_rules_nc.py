#!/usr/bin/env python3
"""End-to-end: every rule of tests/e2e/test_rules.py on the stack's Nextcloud-like
server (tests/stack/ncdav.py) instead of Apache: file ids, web links, dead properties
kept per exact path, a COPY that copies none. The expectations that differ there are
overridden below, each saying why; tests/peers/test_peer_rules.py runs this class
against the real Nextcloud."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_rules  # noqa: E402
from harness import main  # noqa: E402


class NcRules(test_rules.Rules):
    CLOUD = "NCDAV"
    COPY_TAKES_TAGS = False

    def test_cloud_file_renamed_renames_attachment(self):
        # the web link names the file by its id, which a rename keeps: the attachment is
        # renamed, its url stays
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.sync()  # the upload's file id is recorded by the pass after it
        url = self.att_by_id(aid)["url"]
        self.dav.move(self.p("Quotations/SO019/a.txt"), self.p("Quotations/SO019/b.txt"))
        self.assertPlan([("rename", "odoo", "Quotations/SO019/b.txt", None, aid)])
        self.sync()
        a = self.att_by_id(aid)
        self.assertEqual(a["name"], "b.txt")
        self.assertEqual(a["url"], url)
        self.assertLinked(aid, "Quotations/SO019/b.txt", "sale.order", so)
        self.assertQuiet()

    def test_document_folder_rename_in_cloud_reverted(self):
        # renamed back, as on Apache; the user's move left the file's properties behind
        # (Nextcloud keeps dead properties per path), and the attachment's web link names
        # the file by id: nothing to relink, nothing deleted, nothing created
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.sync()  # the upload's file id is recorded by the pass after it
        self.dav.move(self.p("Quotations/SO019"), self.p("Quotations/My order"))
        self.assertPlan([("rename", "cloud", "Quotations/My order", "Quotations/SO019", None)])
        self.sync()
        self.assertNotIn("Quotations/My order", self.tree())
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/a.txt")), b"hello")
        self.assertLinked(aid, "Quotations/SO019/a.txt", "sale.order", so)
        self.assertQuiet()


if __name__ == "__main__":
    main()
