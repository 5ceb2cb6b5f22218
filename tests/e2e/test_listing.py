#!/usr/bin/env python3
"""End-to-end: a cloud name no path of ours can hold (a control character, e.g. a
tab, as a PUT of "tab%09name.txt" creates it on Apache) does not stop the listing:
that entry is left out with a warning naming it (escaped), every other file of the
same folder and of the other folders still syncs. The attachment of a linked file
gone from the folder that holds the bad name is not deleted in Odoo (the entry left
out could be that file, renamed); one whose file is gone from another folder is.
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
        c2 = self.odoo.create("res.partner", {"name": "Azure", "is_company": True,
                                              "customer_rank": 1})
        self.sync()  # the folders
        self.dav.put(self.p("Customers/Agrolait/tab\tname.txt"), b"tabbed")
        self.dav.put(self.p("Customers/Agrolait/good.txt"), b"good")
        self.dav.put(self.p("Stand Alone Attachments/other.txt"), b"other")
        self.dav.put(self.p("Customers/Azure/elsewhere.txt"), b"elsewhere")
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
        self.assertEqual((atts["elsewhere.txt"]["res_model"], atts["elsewhere.txt"]["res_id"]),
                         ("res.partner", c2))
        # linked files deleted in the cloud: the attachment of the one in the folder that
        # holds the name left out is kept (it could be that file, renamed); the one in
        # another folder is deleted in the same pass
        self.dav.delete(self.p("Customers/Agrolait/good.txt"))
        self.dav.delete(self.p("Customers/Azure/elsewhere.txt"))
        p = self.sync()
        names = {a["name"] for a in self.odoo.attachments()}
        self.assertIn("good.txt", names)
        self.assertNotIn("elsewhere.txt", names)
        self.assertIn('/Customers/Agrolait" holds a name left out of the listing',
                      p.stdout + p.stderr)
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
