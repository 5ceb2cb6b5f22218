#!/usr/bin/env python3
"""End-to-end: a record that stops matching every type never loses its files
(config "unmatched", README "Records that match no type"), in local mode
(`odoosync run --once`) against the real Apache WebDAV of the test stack and a
private Odoo emulator.

Once uploaded, an attachment's content lives only in the cloud (the attachment
becomes a `url` one). So a record that still exists but matches no type any
more (an un-flagged customer, a cancelled quotation, an archived partner) keeps
its folder: by default it moves to <root>/Archive, its url attachments follow
it, and it moves back, with the same attachments, when the record matches a
type again; with the `keep` policy it stays where it is, untouched. Only a
record deleted in Odoo (whose attachments Odoo deletes with it) loses its
folder, and never while a live url attachment still links into it.

Each test asserts the exact jobs `odoosync plan --json` plans (as
test_rules.py does), the cloud files with their bytes, the attachments (same
ids, urls naming the files, content fetched from the url itself), and ends
with a pass that plans nothing.
"""
import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SyncCase, link_target, main, mkdir  # noqa: E402


class Unmatched(SyncCase):
    # --- helpers (the records, plans and links ones are SyncCase's) ---------------
    def assertFile(self, aid, rel, model, res_id, content):
        """The cloud file rel holds content; attachment aid (same id) is a url one of
        model,res_id naming it, and its url gives the content back."""
        self.assertEqual(self.dav.get(self.p(rel)), content, "%s: not there or changed" % rel)
        a = self.att_by_id(aid)
        self.assertIsNotNone(a, "attachment %d is gone" % aid)
        self.assertEqual(a["type"], "url")
        self.assertTrue(link_target(self, a["url"]).endswith("/%s/%s" % (self.root, rel)),
                        "attachment %d url %s does not name %s" % (aid, a["url"], rel))
        self.assertEqual((a["res_model"], a["res_id"]), (model, res_id))
        self.assertEqual(self.fetch_url(a["url"]), content, "the url of %d gives 404" % aid)

    def synced_record(self, model, rid, rel, name="offer.pdf"):
        """A binary attachment on the record, synced: (attachment id, content)."""
        content = os.urandom(50000)
        aid = self.odoo.attach(model, rid, name, content)
        self.sync()
        self.assertFile(aid, "%s/%s" % (rel, name), model, rid, content)
        self.assertQuiet()
        return aid, content

    def leaves_and_comes_back(self, model, rid, rel, name, leave, back):
        """The round trip of one record's folder: archived on leave(), back on back()."""
        aid, content = self.synced_record(model, rid, "%s/%s" % (rel, name))
        leave()
        self.assertPlan([mkdir("Archive"),
                         ("rename", "cloud", "%s/%s" % (rel, name), "Archive/%s" % name, None)] +
                        self.moved_relinks([("relink", "odoo", "Archive/%s/offer.pdf" % name,
                                             None, aid)]))
        self.sync()
        t = self.tree()
        self.assertNotIn("%s/%s" % (rel, name), t)
        self.assertEqual(t["Archive"][2].get("type"), "Archive")
        self.assertEqual(t["Archive/%s" % name][2].get("record"), "%s,%d" % (model, rid))
        self.assertFile(aid, "Archive/%s/offer.pdf" % name, model, rid, content)
        self.assertQuiet()
        back()
        self.assertPlan([("rename", "cloud", "Archive/%s" % name, "%s/%s" % (rel, name), None)] +
                        self.moved_relinks([("relink", "odoo", "%s/%s/offer.pdf" % (rel, name),
                                             None, aid)]))
        self.sync()
        self.assertNotIn("Archive/%s" % name, self.tree())
        self.assertFile(aid, "%s/%s/offer.pdf" % (rel, name), model, rid, content)
        self.assertQuiet()

    # --- the archive policy (default) ----------------------------------------------
    def test_unflagged_customer_archived_then_back(self):
        c = self.customer("Agrolait")
        self.leaves_and_comes_back(
            "res.partner", c, "Customers", "Agrolait",
            lambda: self.odoo.write("res.partner", c, {"customer_rank": 0}),
            lambda: self.odoo.write("res.partner", c, {"customer_rank": 1}))

    def test_cancelled_quotation_archived_then_back(self):
        so = self.order("SO001")
        self.leaves_and_comes_back(
            "sale.order", so, "Quotations", "SO001",
            lambda: self.odoo.call("sale.order", "action_cancel", [[so]]),
            lambda: self.odoo.call("sale.order", "action_draft", [[so]]))

    def test_archived_partner_archived_then_back(self):
        c = self.customer("Agrolait")
        self.leaves_and_comes_back(
            "res.partner", c, "Customers", "Agrolait",
            lambda: self.odoo.write("res.partner", c, {"active": False}),
            lambda: self.odoo.write("res.partner", c, {"active": True}))

    def test_archived_record_keeps_syncing(self):
        """In the archive a record's folder is a document folder like any other: a new
        cloud file becomes its attachment, and a deleted record's folder goes."""
        c = self.customer("Agrolait")
        d = self.customer("Deco Addict")
        self.sync()
        self.odoo.write("res.partner", [c, d], {"customer_rank": 0})
        self.sync()
        self.dav.put(self.p("Archive/Agrolait/notes.txt"), b"kept")
        self.assertPlan([("relink", "odoo", "Archive/Agrolait/notes.txt", None, 0)])
        self.sync()
        rows = self.odoo.attachments([("res_model", "=", "res.partner"), ("res_id", "=", c)])
        self.assertEqual([(r["name"], r["type"]) for r in rows], [("notes.txt", "url")])
        self.odoo.unlink("res.partner", d)
        self.assertPlan([("delete", "cloud", "Archive/Deco Addict", None, None)])
        self.sync()
        t = self.tree()
        self.assertNotIn("Archive/Deco Addict", t)
        self.assertEqual(self.dav.get(self.p("Archive/Agrolait/notes.txt")), b"kept")
        self.assertQuiet()

    def test_archived_folder_deleted_in_the_cloud(self):
        """Deleting an archived folder in the cloud deletes its files' attachments, as for
        any document folder (no link is left pointing at nothing); the folder comes back."""
        c = self.customer("Agrolait")
        aid, _ = self.synced_record("res.partner", c, "Customers/Agrolait")
        self.odoo.write("res.partner", c, {"customer_rank": 0})
        self.sync()
        self.dav.delete(self.p("Archive/Agrolait"))
        self.assertPlan([mkdir("Archive/Agrolait"),
                         ("delete", "odoo", "Archive/Agrolait/offer.pdf", None, aid)])
        self.sync()
        self.assertIsNone(self.att_by_id(aid), "a link to a deleted file stays")
        self.assertEqual(self.tree()["Archive/Agrolait"][2].get("record"), "res.partner,%d" % c)
        self.assertQuiet()

    def test_folder_deleted_in_the_cloud_as_the_record_leaves(self):
        """The document folder deleted in the cloud in the same round as its record stops
        matching: no tag is left to find the record by, and its url does not point into
        the archive; the previous pass's links name it, so its attachments are read, the
        ones whose file is gone deleted (no link left pointing at nothing)."""
        c = self.customer("Agrolait")
        aid, _ = self.synced_record("res.partner", c, "Customers/Agrolait")
        self.dav.delete(self.p("Customers/Agrolait"))
        self.odoo.write("res.partner", c, {"customer_rank": 0})
        self.assertPlan([mkdir("Archive"), mkdir("Archive/Agrolait"),
                         ("delete", "odoo", "Customers/Agrolait/offer.pdf", None, aid)])
        self.sync()
        self.assertIsNone(self.att_by_id(aid), "a link to a deleted file stays")
        self.assertEqual(self.tree()["Archive/Agrolait"][2].get("record"), "res.partner,%d" % c)
        self.assertQuiet()

    # --- the keep policy -------------------------------------------------------------
    def test_keep_policy_leaves_the_folder_alone(self):
        self.write_config(unmatched={"policy": "keep"})
        c = self.customer("Agrolait")
        aid, content = self.synced_record("res.partner", c, "Customers/Agrolait")
        self.odoo.write("res.partner", c, {"customer_rank": 0})
        self.dav.put(self.p("Customers/Agrolait/later.txt"), b"later")
        self.assertPlan([])
        self.sync()
        t = self.tree()
        self.assertNotIn("Archive", t)
        self.assertIn("Customers/Agrolait/later.txt", t)
        self.assertFile(aid, "Customers/Agrolait/offer.pdf", "res.partner", c, content)
        self.assertQuiet()
        # matching again, it is a document folder again (the new file is linked)
        self.odoo.write("res.partner", c, {"customer_rank": 1})
        self.assertPlan([("relink", "odoo", "Customers/Agrolait/later.txt", None, 0)])
        self.sync()
        self.assertFile(aid, "Customers/Agrolait/offer.pdf", "res.partner", c, content)
        self.assertQuiet()

    # --- a record deleted in Odoo ----------------------------------------------------
    def test_deleted_record_folder_goes(self):
        c = self.customer("Agrolait")
        aid, _ = self.synced_record("res.partner", c, "Customers/Agrolait")
        self.odoo.unlink("res.partner", c)
        self.assertIsNone(self.att_by_id(aid), "Odoo's unlink keeps the record's attachments")
        self.assertPlan([("delete", "cloud", "Customers/Agrolait", None, None)])
        self.sync()
        self.assertNotIn("Customers/Agrolait", self.tree())
        self.assertQuiet()

    def test_deleted_record_folder_kept_while_linked(self):
        """Another record's url attachment links to a file in the deleted record's
        folder: the planner sees it and deletes nothing (with a message)."""
        c = self.customer("Agrolait")
        other = self.customer("Bravo")
        aid, content = self.synced_record("res.partner", c, "Customers/Agrolait")
        link = self.odoo.create("ir.attachment", {
            "name": "their offer.pdf", "type": "url", "res_model": "res.partner",
            "res_id": other, "url": self.url_of("Customers/Agrolait/offer.pdf")})
        self.odoo.unlink("res.partner", c)
        self.assertPlan([])
        p = self.sync()
        self.assertIn("still links into the folder", p.stdout + p.stderr)
        self.assertEqual(self.dav.get(self.p("Customers/Agrolait/offer.pdf")), content)
        a = self.att_by_id(link)
        self.assertEqual(self.fetch_url(a["url"]), content)

    def test_deleted_record_folder_kept_by_the_worker(self):
        """The link is one the planner does not read (a stand-alone attachment, the
        stand-alone folder off): the worker asks Odoo under the lock and skips."""
        self.write_config(standalone={"enabled": False})
        c = self.customer("Agrolait")
        aid, content = self.synced_record("res.partner", c, "Customers/Agrolait")
        # another spelling of the link: percent-encoding of an unreserved character
        url = self.url_of("Customers/Agrolait/offer.pdf").replace("offer", "%6Fffer")
        link = self.odoo.create("ir.attachment", {
            "name": "linked.pdf", "type": "url", "res_model": False, "res_id": 0, "url": url})
        self.odoo.unlink("res.partner", c)
        self.assertPlan([("delete", "cloud", "Customers/Agrolait", None, None)])
        events = os.path.join(self.tmp, "events.jsonl")
        self.sync("--events", events)
        self.assertEqual(self.dav.get(self.p("Customers/Agrolait/offer.pdf")), content)
        self.assertEqual(self.fetch_url(self.att_by_id(link)["url"]), content)
        with open(events) as f:
            text = f.read()
        self.assertIn('"skipped"', text)
        self.assertIn("attachment %d still links into" % link, text)


if __name__ == "__main__":
    sys.exit(main())
