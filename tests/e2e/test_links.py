#!/usr/bin/env python3
"""End-to-end: links people can open (cloud.link_form, common/link.h).

On a server with file ids (the stack's Nextcloud-like ncdav.py, which answers
/index.php/f/<id> with a 303 to the Files app as Nextcloud 27 does), a url attachment
odoosync makes holds the server's web link, <root>/index.php/f/<file id>, not the sync
account's WebDAV address (which a colleague the folder is shared with cannot open):
  - an uploaded attachment and a new cloud file are linked with their web links;
  - an attachment linked by its WebDAV address (an older release, or link_form dav) is
    rewritten to the web link by the next pass, keeping its id; link_form dav rewrites
    web links back;
  - a link in any form (web link, pretty /f/<id>, the Files app's ?dir=&openfile=<id>,
    its path form ?dir=&scrollto=, the WebDAV address) names its file: no second
    attachment, no delete;
  - a folder moved keeps its web links as they are (the file id does not change);
  - the folder of a record deleted in Odoo is kept while a url attachment links into it
    by web link (the planner, and the worker under the lock).
On Apache (no file ids) links stay WebDAV addresses, and the Files app's link by path
still keeps a deleted record's folder.
"""
import os
import sys
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SyncCase, main  # noqa: E402


class Base(SyncCase):
    def fileid(self, rel):
        body = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" '
                b'xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop></d:propfind>')
        st, data = self.dav.req("PROPFIND", self.p(rel), body,
                                {"Depth": "0", "Content-Type": "application/xml"})
        self.assertEqual(st, 207, rel)
        el = ET.fromstring(data).find(".//{http://owncloud.org/ns}fileid")
        return el.text if el is not None else None

    def server(self):
        u = urllib.parse.urlparse(self.env["DAV_URL"])
        return "%s://%s" % (u.scheme, u.netloc)

    def web(self, rel):
        return "%s/index.php/f/%s" % (self.server(), self.fileid(rel))

    def atts_of(self, model, res_id):
        return self.odoo.attachments([("res_model", "=", model), ("res_id", "=", res_id)])


class WebLinks(Base):
    CLOUD = "NCDAV"

    def test_upload_and_new_file_link_to_the_web_link(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "offer.pdf", b"%PDF offer")
        self.sync()
        a = self.att_by_id(aid)
        self.assertEqual(a["url"], self.web("Quotations/SO019/offer.pdf"))
        self.assertLinked(aid, "Quotations/SO019/offer.pdf", "sale.order", so)
        self.assertEqual(self.fetch_url(a["url"]), b"%PDF offer")
        self.dav.put(self.p("Quotations/SO019/notes.txt"), b"the user's")
        self.sync()
        new = [r for r in self.atts_of("sale.order", so) if r["name"] == "notes.txt"]
        self.assertEqual(len(new), 1, new)
        self.assertEqual(new[0]["url"], self.web("Quotations/SO019/notes.txt"))
        self.assertEqual(self.fetch_url(new[0]["url"]), b"the user's")
        self.assertQuiet()

    def test_dav_link_migrated_to_the_web_link_keeping_its_id(self):
        so = self.order("SO019")
        self.LINK_FORM = "dav"
        self.write_config()
        aid = self.odoo.attach("sale.order", so, "offer.pdf", b"%PDF offer")
        self.sync()
        self.assertEqual(self.att_by_id(aid)["url"], self.url_of("Quotations/SO019/offer.pdf"))
        self.assertQuiet()
        # the default form: the next pass rewrites the link, the same attachment
        self.LINK_FORM = None
        self.write_config()
        self.assertPlan([("relink", "odoo", "Quotations/SO019/offer.pdf", None, aid)])
        self.sync()
        self.assertEqual([r["id"] for r in self.atts_of("sale.order", so)], [aid])
        self.assertEqual(self.att_by_id(aid)["url"], self.web("Quotations/SO019/offer.pdf"))
        self.assertEqual(self.tree()["Quotations/SO019/offer.pdf"][2].get("attachment"),
                         str(aid))
        self.assertQuiet()
        # and back: link_form dav rewrites web links to WebDAV addresses
        self.LINK_FORM = "dav"
        self.write_config()
        self.assertPlan([("relink", "odoo", "Quotations/SO019/offer.pdf", None, aid)])
        self.sync()
        self.assertEqual(self.att_by_id(aid)["url"], self.url_of("Quotations/SO019/offer.pdf"))
        self.assertQuiet()

    def test_a_link_in_any_form_is_recognised(self):
        so = self.order("SO019")
        names = ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]
        ids = [self.odoo.attach("sale.order", so, n, n.encode()) for n in names]
        self.sync()
        srv = self.server()
        forms = {
            "a.txt": "%s/f/%s" % (srv, self.fileid("Quotations/SO019/a.txt")),
            "b.txt": "%s/index.php/apps/files/?dir=%s&openfile=%s&scrollto=b.txt" % (
                srv, urllib.parse.quote("/%s/Quotations/SO019" % self.root),
                self.fileid("Quotations/SO019/b.txt")),
            "c.txt": "%s/index.php/apps/files/?dir=%s&openfile=true&scrollto=c.txt" % (
                srv, urllib.parse.quote("/%s/Quotations/SO019" % self.root)),
            "d.txt": self.url_of("Quotations/SO019/d.txt").replace("d.txt", "%64.txt"),
            "e.txt": self.web("Quotations/SO019/e.txt"),
        }
        for aid, n in zip(ids, names):
            self.odoo.write("ir.attachment", aid, {"url": forms[n]})
        jobs = self.plan_json()
        self.assertFalse([j for j in jobs if j["kind"] == "delete"], jobs)
        self.assertFalse([j for j in jobs if j["kind"] == "relink" and not j["att_id"]], jobs)
        # a link that names the file by its id is right in any spelling; the others (by
        # path) are rewritten once to the web link
        self.assertEqual(sorted(j["att_id"] for j in jobs), sorted(ids[2:4]), jobs)
        self.sync()
        rows = self.atts_of("sale.order", so)
        self.assertEqual(sorted(r["id"] for r in rows), sorted(ids), "no second attachment")
        for aid, n in zip(ids, names):
            want = forms[n] if n in ("a.txt", "b.txt") else self.web("Quotations/SO019/" + n)
            self.assertEqual(self.att_by_id(aid)["url"], want)
            self.assertEqual(self.dav.get(self.p("Quotations/SO019/" + n)), n.encode())
        self.assertQuiet()

    def test_folder_moved_keeps_its_web_links(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        url = self.att_by_id(aid)["url"]
        self.odoo.write("sale.order", so, {"name": "SO019-B"})
        # the web link names the file by id, which the move keeps: nothing to write on the
        # file (Nextcloud leaves the dead properties of a moved folder's files behind, and
        # the upload wrote none), nor on the attachment
        self.assertPlan([("rename", "cloud", "Quotations/SO019", "Quotations/SO019-B", None)])
        self.sync()
        self.assertEqual(self.att_by_id(aid)["url"], url, "the web link names the file id")
        self.assertNotIn("attachment", self.tree()["Quotations/SO019-B/a.txt"][2])
        self.assertLinked(aid, "Quotations/SO019-B/a.txt", "sale.order", so)
        self.assertEqual(self.fetch_url(url), b"hello")
        self.assertQuiet()

    def test_deleted_records_folder_kept_while_a_web_link_links_into_it(self):
        """Another record's attachment links to a file in the deleted record's folder by
        its web link: the planner resolves the file id and deletes nothing."""
        c = self.customer("Agrolait")
        other = self.customer("Bravo")
        aid = self.odoo.attach("res.partner", c, "offer.pdf", b"offer")
        self.sync()
        link = self.odoo.create("ir.attachment", {
            "name": "their offer.pdf", "type": "url", "res_model": "res.partner",
            "res_id": other, "url": self.web("Customers/Agrolait/offer.pdf")})
        self.odoo.unlink("res.partner", c)
        self.assertPlan([])
        p = self.sync()
        self.assertIn("still links into the folder", p.stdout + p.stderr)
        self.assertEqual(self.fetch_url(self.att_by_id(link)["url"]), b"offer")
        self.assertIsNone(self.att_by_id(aid))

    def test_deleted_records_folder_kept_by_the_worker_for_a_web_link(self):
        """The link is one the planner does not read (stand-alone, the stand-alone folder
        off): the worker lists the folder's file ids under the lock, finds the attachment
        whose web link names one, and skips the delete."""
        self.write_config(standalone={"enabled": False})
        c = self.customer("Agrolait")
        self.odoo.attach("res.partner", c, "offer.pdf", b"offer")
        self.sync()
        link = self.odoo.create("ir.attachment", {
            "name": "linked.pdf", "type": "url", "res_model": False, "res_id": 0,
            "url": self.web("Customers/Agrolait/offer.pdf")})
        self.odoo.unlink("res.partner", c)
        self.assertPlan([("delete", "cloud", "Customers/Agrolait", None, None)])
        events = os.path.join(self.tmp, "events.jsonl")
        self.sync("--events", events)
        self.assertEqual(self.dav.get(self.p("Customers/Agrolait/offer.pdf")), b"offer")
        self.assertEqual(self.fetch_url(self.att_by_id(link)["url"]), b"offer")
        with open(events) as f:
            text = f.read()
        self.assertIn('"skipped"', text)
        self.assertIn("attachment %d still links into" % link, text)


class DavLinks(Base):
    """Apache: no file ids, so WebDAV addresses; a Files-app link by path is still read."""

    def test_without_file_ids_links_are_webdav_addresses(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.assertEqual(self.att_by_id(aid)["url"], self.url_of("Quotations/SO019/a.txt"))
        self.assertQuiet()

    def test_files_app_link_by_path_keeps_a_deleted_records_folder(self):
        self.write_config(standalone={"enabled": False})
        c = self.customer("Agrolait")
        self.odoo.attach("res.partner", c, "offer.pdf", b"offer")
        self.sync()
        base = urllib.parse.urlparse(self.env["DAV_URL"])
        url = "%s://%s/index.php/apps/files/?dir=%s&openfile=true&scrollto=offer.pdf" % (
            base.scheme, base.netloc, urllib.parse.quote("/%s/Customers/Agrolait" % self.root))
        link = self.odoo.create("ir.attachment", {
            "name": "linked.pdf", "type": "url", "res_model": False, "res_id": 0, "url": url})
        self.odoo.unlink("res.partner", c)
        events = os.path.join(self.tmp, "events.jsonl")
        self.sync("--events", events)
        self.assertEqual(self.dav.get(self.p("Customers/Agrolait/offer.pdf")), b"offer")
        with open(events) as f:
            self.assertIn("attachment %d still links into" % link, f.read())


if __name__ == "__main__":
    sys.exit(main())
