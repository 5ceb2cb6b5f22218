#!/usr/bin/env python3
"""peers: identity and links where the real Nextcloud differs from Apache mod_dav.

Nextcloud keeps a dead property on the file a MOVE names, but not on the children
of a moved folder (their oc:fileid stays), and a deleted folder's children leave
their properties behind for a later file at the same path. Against the real
Nextcloud 27 and Odoo 17 (peers.py):
  - a record folder a user renamed is renamed back, and every attachment in it
    (uploaded ones and a user's file) keeps its id; a user's sub-folder stays;
  - a folder odoosync moves (the record renamed in Odoo) keeps its files' identity:
    same attachment ids, nothing re-uploaded or deleted, a later rename of one of
    its files in the cloud renames the attachment;
  - a new file at a reused path (the folder was deleted with its files, their
    properties left behind) becomes a new attachment, and is never deleted;
  - an upload writes no tag (the web link names the file by id); the attachment deleted
    in Odoo before the next pass still deletes its file (told by its path, size and the
    modification time the upload gave it, which Nextcloud keeps), and a person's file
    saved over it meanwhile is not deleted but linked anew;
  - a url attachment made by odoosync opens for a second Nextcloud user who has the
    folder shared, with that user's own credentials (a browser session).
"""
import base64
import http.client
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (puts tests/e2e on the path)
from harness import SyncCase  # noqa: E402

COLLEAGUE = peers.setting("DAV_USER2", "peers-colleague")
COLLEAGUE_PASSWORD = peers.setting("DAV_PASSWORD2", "Peers-colleague-pw-2718")


def ocs(env, method, path, fields=None, user=None, password=None):
    """An OCS API call to the Nextcloud serving env's DAV_URL: (status, data)."""
    u = urllib.parse.urlparse(peers.nextcloud_base(env))
    auth = base64.b64encode(("%s:%s" % (user or env["DAV_USER"],
                                        password or env["DAV_PASSWORD"])).encode()).decode()
    body = urllib.parse.urlencode(fields or {})
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request(method, path + ("&" if "?" in path else "?") + "format=json", body,
                     {"Authorization": "Basic " + auth, "OCS-APIRequest": "true",
                      "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        raw = r.read()
    finally:
        conn.close()
    try:
        return r.status, json.loads(raw)["ocs"]
    except ValueError:
        return r.status, raw


def browse(url, user, password, hops=8):
    """GET url as a browser would with that user's credentials, following redirects:
    (final status, final url, body)."""
    auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    for _ in range(hops):
        u = urllib.parse.urlparse(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        try:
            conn.request("GET", u.path + ("?" + u.query if u.query else ""),
                         headers={"Authorization": auth})
            r = conn.getresponse()
            body = r.read()
        finally:
            conn.close()
        if r.status in (301, 302, 303, 307, 308):
            url = urllib.parse.urljoin(url, r.getheader("Location"))
            continue
        return r.status, url, body
    return 0, url, b""


class PeerIdentity(peers.PeerMixin, SyncCase):
    def ids_of(self, model, rid):
        return {a["name"]: a["id"] for a in self.odoo.attachments(
            [("res_model", "=", model), ("res_id", "=", rid)])}

    def test_record_folder_renamed_by_a_user_reverted_same_ids(self):
        so = self.order("SO019")
        a1 = self.odoo.attach("sale.order", so, "offer.pdf", b"%PDF offer")
        a2 = self.odoo.attach("sale.order", so, "notes.txt", b"notes")
        self.sync()
        self.dav.put(self.p("Quotations/SO019/drawing.dxf"), b"lines")
        self.dav.mkcol(self.p("Quotations/SO019/photos"))
        self.dav.put(self.p("Quotations/SO019/photos/1.jpg"), b"jpg")
        self.sync()
        before = self.ids_of("sale.order", so)
        self.assertEqual(set(before), {"offer.pdf", "notes.txt", "drawing.dxf", "photos"})
        self.dav.move(self.p("Quotations/SO019"), self.p("Quotations/My order"))
        # renamed back; the user's move left the files' tags behind (Nextcloud keeps dead
        # properties per path), and the attachments' web links name the files by id, which
        # the move keeps: nothing to relink, no attachment deleted, none created
        self.assertPlan([("rename", "cloud", "Quotations/My order", "Quotations/SO019", None)])
        self.sync()
        self.sync()
        t = self.tree()
        self.assertNotIn("Quotations/My order", t)
        self.assertEqual(self.ids_of("sale.order", so), before,
                         "the revert changed the attachments' ids")
        self.assertEqual(before["offer.pdf"], a1)
        self.assertEqual(before["notes.txt"], a2)
        for name, body in (("offer.pdf", b"%PDF offer"), ("notes.txt", b"notes"),
                           ("drawing.dxf", b"lines"), ("photos/1.jpg", b"jpg")):
            self.assertEqual(self.dav.get(self.p("Quotations/SO019/" + name)), body, name)
        self.assertQuiet()

    def test_folder_moved_by_odoosync_keeps_identity(self):
        so = self.order("SO019")
        a1 = self.odoo.attach("sale.order", so, "offer.pdf", b"%PDF offer")
        self.sync()
        self.dav.put(self.p("Quotations/SO019/drawing.dxf"), b"lines")
        self.sync()
        before = self.ids_of("sale.order", so)
        self.odoo.write("sale.order", so, {"name": "SO019-B"})
        self.sync()  # odoosync moves the folder: Nextcloud drops its children's properties
        self.sync()
        self.assertEqual(self.ids_of("sale.order", so), before)
        t = self.tree()
        self.assertNotIn("Quotations/SO019", t)
        self.assertEqual(self.dav.get(self.p("Quotations/SO019-B/offer.pdf")), b"%PDF offer")
        self.assertEqual(self.dav.get(self.p("Quotations/SO019-B/drawing.dxf")), b"lines")
        self.assertLinked(a1, "Quotations/SO019-B/offer.pdf", "sale.order", so)
        self.assertQuiet()
        # a file of the moved folder renamed by a user: the same attachment follows
        self.dav.move(self.p("Quotations/SO019-B/offer.pdf"), self.p("Quotations/SO019-B/o2.pdf"))
        # its web link names the file by id, which the rename keeps: only the name follows
        self.assertPlan([("rename", "odoo", "Quotations/SO019-B/o2.pdf", None, a1)])
        self.sync()
        self.assertLinked(a1, "Quotations/SO019-B/o2.pdf", "sale.order", so)
        self.assertEqual(self.ids_of("sale.order", so),
                         {"o2.pdf": a1, "drawing.dxf": before["drawing.dxf"]})
        self.assertQuiet()

    def test_new_file_at_a_reused_path_is_a_new_attachment(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.dav.delete(self.p("Quotations/SO019"))  # its children's properties stay behind
        self.sync()
        self.assertIsNone(self.att_by_id(aid))
        time.sleep(1.1)
        self.dav.put(self.p("Quotations/SO019/a.txt"), b"mine!")
        self.assertPlan([("relink", "odoo", "Quotations/SO019/a.txt", None, 0)])
        self.sync()
        self.sync()
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/a.txt")), b"mine!",
                         "a user's new file was deleted")
        rows = self.odoo.attachments([("res_model", "=", "sale.order"), ("res_id", "=", so)])
        self.assertEqual(len(rows), 1, rows)
        self.assertNotEqual(rows[0]["id"], aid)
        self.assertLinked(rows[0]["id"], "Quotations/SO019/a.txt", "sale.order", so)
        self.assertQuiet()

    def test_upload_untagged_then_deleted_in_odoo(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        keep = self.odoo.attach("sale.order", so, "b.txt", b"world")
        self.sync()
        t = self.tree()
        self.assertNotIn("attachment", t["Quotations/SO019/a.txt"][2], "an upload wrote a tag")
        self.assertLinked(aid, "Quotations/SO019/a.txt", "sale.order", so)
        # a person saves their own five bytes over b.txt (their client sets its own time)
        st, _ = self.dav.req("PUT", self.p("Quotations/SO019/b.txt"), b"WORLD",
                             {"X-OC-Mtime": "1600000000"})
        self.assertIn(st, (201, 204))
        self.odoo.unlink("ir.attachment", [aid, keep])
        self.sync()
        t = self.tree()
        self.assertNotIn("Quotations/SO019/a.txt", t, "the deleted attachment's file stayed")
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/b.txt")), b"WORLD",
                         "a person's file was deleted")
        rows = self.odoo.attachments([("res_model", "=", "sale.order"), ("res_id", "=", so)])
        self.assertEqual([r["name"] for r in rows], ["b.txt"], rows)
        self.assertLinked(rows[0]["id"], "Quotations/SO019/b.txt", "sale.order", so)
        self.assertQuiet()

    def colleague(self):
        """A second Nextcloud user (created once), with the test's root shared to them."""
        def exists():
            _, data = ocs(self.env, "GET", "/ocs/v1.php/cloud/users/" + COLLEAGUE)
            return isinstance(data, dict) and data.get("meta", {}).get("statuscode") == 100

        if not exists():
            # (a Nextcloud without its fonts fails the new user's avatar with 996 after
            # creating the user: what counts is that the user exists)
            st, data = ocs(self.env, "POST", "/ocs/v1.php/cloud/users",
                           {"userid": COLLEAGUE, "password": COLLEAGUE_PASSWORD})
            self.assertTrue(exists(), "could not create the user %s: %s" % (COLLEAGUE, data))
        st, data = ocs(self.env, "POST", "/ocs/v2.php/apps/files_sharing/api/v1/shares",
                       {"path": "/" + self.root, "shareType": 0, "shareWith": COLLEAGUE,
                        "permissions": 31})
        self.assertEqual(st, 200, data)

    def test_url_opens_for_a_colleague_with_the_folder_shared(self):
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "offer.pdf", b"%PDF offer")
        self.sync()
        self.colleague()
        url = self.att_by_id(aid)["url"]
        st, final, body = browse(url, COLLEAGUE, COLLEAGUE_PASSWORD)
        self.assertEqual(st, 200, "the url %s gives %d to %s (ends at %s)" % (
            url, st, COLLEAGUE, final))
        self.assertNotIn("/login", urllib.parse.urlparse(final).path,
                         "the url %s asks %s to log in" % (url, COLLEAGUE))


if __name__ == "__main__":
    peers.main()
