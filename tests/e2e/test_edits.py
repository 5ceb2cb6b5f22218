#!/usr/bin/env python3
"""End-to-end: an attachment edited in Odoo while its upload waits for its url
conversion (the conversion failed: Odoo refused the write, timed out).

The upload's file is in the cloud, tagged with the attachment, and the attachment is
still binary in Odoo; then someone gives it a new content in Odoo. The next pass must
not take the older file for the attachment's upload (the conversion would drop Odoo's
new content): the new content goes to the cloud beside it, the attachment points at
it, and the older file stays as it is (and becomes an attachment of its own). On
Apache the upload is tagged; on the Nextcloud-like server it is not (the web link names
the file): both are checked.
"""
import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SyncCase, main  # noqa: E402


class EditedWhileUnconfirmed(SyncCase):

    def fail_conversions(self):
        for method in ("load", "write"):
            self.control({"fail_call": {"call": "ir.attachment." + method, "count": 1000}})

    def test_edited_after_a_failed_conversion_keeps_both(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"version 1")
        self.fail_conversions()
        self.sync(expect=None)
        self.control({"reset": True})
        t = self.tree()
        # its upload: tagged on Apache; untagged where the web link names files (ncdav)
        self.assertEqual(t["Quotations/SO019/a.txt"][2].get("attachment"),
                         None if self.CLOUD == "NCDAV" else str(aid))
        self.assertEqual(self.att_by_id(aid)["type"], "binary")
        new = b"version 2, edited in Odoo"
        self.odoo.write("ir.attachment", aid, {"datas": base64.b64encode(new).decode()})
        self.assertPlanHas("holds an older upload of attachment %d: kept" % aid)
        self.sync()
        att = self.att_by_id(aid)
        self.assertEqual(att["type"], "url")
        self.assertEqual(self.fetch_url(att["url"]), new)
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/a.txt")), b"version 1")
        # the older file is a file of the record like any other: an attachment of its own
        self.sync()
        atts = self.odoo.attachments([["res_model", "=", "sale.order"], ["res_id", "=", so]])
        self.assertEqual(len(atts), 2, atts)
        older = [a for a in atts if a["id"] != aid][0]
        self.assertEqual(self.fetch_url(older["url"]), b"version 1")
        self.assertEqual(self.fetch_url(self.att_by_id(aid)["url"]), new)
        self.assertQuiet()

    def assertPlanHas(self, text):
        p = self.run_cmd("plan", expect=None)
        self.assertIn(text, p.stdout + p.stderr)

class EditedWhileUnconfirmedNc(EditedWhileUnconfirmed):
    """The same on the stack's Nextcloud-like server, where the upload carries no tag:
    its path, size and modification time tell it (docs/design.md section 4.2)."""
    CLOUD = "NCDAV"


if __name__ == "__main__":
    main()
