#!/usr/bin/env python3
"""End-to-end: a cloud name no path of ours can hold (a control character, e.g. a
tab, as a PUT of "tab%09name.txt" creates it on Apache) does not stop the listing:
that entry is left out with a warning naming it (escaped), every other file of the
same folder and of the other folders still syncs, and no attachment is deleted in
Odoo in such a pass (the entry left out could be a renamed, linked file).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SyncCase, main  # noqa: E402


class Listing(SyncCase):
    def test_control_character_name_skipped(self):
        c = self.odoo.create("res.partner", {"name": "Agrolait", "is_company": True,
                                             "customer_rank": 1})
        self.sync()  # the folders
        self.dav.put(self.p("Customers/Agrolait/tab\tname.txt"), b"tabbed")
        self.dav.put(self.p("Customers/Agrolait/good.txt"), b"good")
        self.dav.put(self.p("Stand Alone Attachments/other.txt"), b"other")
        up = self.odoo.attach("res.partner", c, "offer.pdf", b"%PDF-1.4 offer")
        p = self.sync()
        msgs = [json.loads(line)["msg"] for line in p.stderr.splitlines()
                if line.startswith("{")]
        self.assertTrue(any('/Customers/Agrolait/tab\\tname.txt" left out of the listing' in m
                            for m in msgs), msgs)
        atts = {a["name"]: a for a in self.odoo.attachments()}
        self.assertEqual(atts["good.txt"]["type"], "url")
        self.assertEqual((atts["good.txt"]["res_model"], atts["good.txt"]["res_id"]),
                         ("res.partner", c))
        self.assertEqual(atts["other.txt"]["type"], "url")
        self.assertFalse(atts["other.txt"]["res_model"])
        self.assertEqual(atts["offer.pdf"]["type"], "url")
        self.assertEqual(self.dav.get(self.p("Customers/Agrolait/offer.pdf")), b"%PDF-1.4 offer")
        self.assertNotIn("tab\tname.txt", atts)
        self.assertEqual(self.dav.get(self.p("Customers/Agrolait/tab\tname.txt")), b"tabbed")
        # a linked file deleted in the cloud: its attachment is not deleted while a name
        # is left out of the listing (it could be that file, renamed)
        self.dav.delete(self.p("Customers/Agrolait/good.txt"))
        p = self.sync()
        self.assertIn("no attachment is deleted in Odoo this pass", p.stdout + p.stderr)
        self.assertIn("good.txt", {a["name"] for a in self.odoo.attachments()})
        # once the name is fixed, everything syncs again
        self.dav.move(self.p("Customers/Agrolait/tab\tname.txt"),
                      self.p("Customers/Agrolait/tab name.txt"))
        self.sync()
        names = {a["name"] for a in self.odoo.attachments()}
        self.assertIn("tab name.txt", names)
        self.assertNotIn("good.txt", names)
        self.assertQuiet()


if __name__ == "__main__":
    main()
