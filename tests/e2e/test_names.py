#!/usr/bin/env python3
"""End-to-end: document folder names that are taken, in local mode (`odoosync run
--once`) against the real Apache WebDAV of the test stack and a private Odoo emulator.

- a user holds a WebDAV LOCK on a file inside a record's folder while the record is
  renamed and gets a new attachment: Apache refuses the folder's MOVE (424 Failed
  Dependency). The rename is retried, never dead-lettered at once, and the upload
  behind it never creates the missing new folder itself (it waits for the rename);
  once the lock is released the next pass ends with one folder at the new name;
- an untagged folder a user made at a record's new place is adopted: the record's
  old folder is emptied into it file by file (a name clash keeps both files) and
  deleted, the attachments follow on the next pass; a merge a locked file holds
  back goes on on the next pass, from the record's second folder;
- two (and three) records that swap names: one folder waits under a temporary name
  while the others move, in one pass.
Every test ends by checking that one more pass plans nothing.
"""
import http.client
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SyncCase, link_target, main, read_events  # noqa: E402

LOCKINFO = (b'<?xml version="1.0" encoding="utf-8"?><d:lockinfo xmlns:d="DAV:">'
            b"<d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype>"
            b"<d:owner>a desktop client</d:owner></d:lockinfo>")


class Names(SyncCase):
    def lock(self, rel):
        """A WebDAV LOCK on a file (as a desktop client holding it open): the token."""
        h = {"Authorization": self.dav.auth, "Content-Type": "application/xml",
             "Timeout": "Second-600"}
        conn = http.client.HTTPConnection(self.dav.host, self.dav.port, timeout=60)
        try:
            conn.request("LOCK", self.dav.base + urllib.parse.quote(self.p(rel)), LOCKINFO, h)
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200, "LOCK %s" % rel)
            return r.getheader("Lock-Token")
        finally:
            conn.close()

    def unlock(self, rel, token):
        st, _ = self.dav.req("UNLOCK", self.p(rel), headers={"Lock-Token": token})
        self.assertIn(st, (204, 409))

    def folders(self, t, typ):
        """{folder name: record tag} of the document folders under a type folder."""
        return {k.split("/")[1]: v[2].get("record") for k, v in t.items()
                if k.startswith(typ + "/") and k.count("/") == 1 and v[0]}

    def test_locked_file_delays_the_rename_then_one_folder(self):
        pid = self.customer("Agrolait")
        a1 = self.odoo.attach("res.partner", pid, "a.txt", b"one")
        self.sync()
        tag = "res.partner,%d" % pid
        token = self.lock("Customers/Agrolait/a.txt")
        released = []
        self.addCleanup(lambda: released or self.unlock("Customers/Agrolait/a.txt", token))
        self.odoo.write("res.partner", pid, {"name": "Agrolait Group"})
        a2 = self.odoo.attach("res.partner", pid, "b.txt", b"two")

        # pass 1: the MOVE is refused (424); the rename is retried (not dead-lettered at
        # its first failure) and the upload waits for its folder instead of making it
        ev = os.path.join(self.tmp, "pass1.jsonl")
        p = self.sync("--events", ev, "-X", "worker.max_attempts=2", expect=None)
        self.assertEqual(p.returncode, 1, p.stderr)
        events = read_events(ev)
        ren = [e for e in events if e["kind"] == "rename" and e["side"] == "cloud"]
        self.assertTrue(ren, events)
        self.assertEqual(ren[0]["result"], "failed", ren[0])
        self.assertEqual(ren[0]["error_code"], "retry", ren[0])
        up = [e for e in events if e["kind"] == "upload"]
        self.assertTrue(up, events)
        self.assertEqual(up[0]["result"], "failed", up[0])
        t = self.tree()
        self.assertEqual(self.folders(t, "Customers"), {"Agrolait": tag})
        self.assertNotIn("Customers/Agrolait Group", t)

        self.unlock("Customers/Agrolait/a.txt", token)
        released.append(1)
        self.sync()  # pass 2 does it all
        t = self.tree()
        self.assertEqual(self.folders(t, "Customers"), {"Agrolait Group": tag})
        self.assertEqual(self.dav.get(self.p("Customers/Agrolait Group/a.txt")), b"one")
        self.assertEqual(self.dav.get(self.p("Customers/Agrolait Group/b.txt")), b"two")
        self.assertLinked(a1, "Customers/Agrolait Group/a.txt", "res.partner", pid)
        self.assertLinked(a2, "Customers/Agrolait Group/b.txt", "res.partner", pid)
        self.assertQuiet()

    def test_untagged_folder_at_the_new_place_adopted(self):
        pid = self.customer("Agrolait")
        a1 = self.odoo.attach("res.partner", pid, "a.txt", b"ours")
        self.sync()
        tag = "res.partner,%d" % pid
        # a user makes the new folder by hand, with files, one of the same name
        self.dav.mkcol(self.p("Customers/Agrolait Group"))
        self.dav.put(self.p("Customers/Agrolait Group/a.txt"), b"theirs")
        self.dav.put(self.p("Customers/Agrolait Group/notes.txt"), b"notes")
        self.odoo.write("res.partner", pid, {"name": "Agrolait Group"})
        a2 = self.odoo.attach("res.partner", pid, "b.txt", b"two")

        self.sync()  # pass 1: adopt, move the old folder's files in, delete it
        t = self.tree()
        self.assertEqual(self.folders(t, "Customers"), {"Agrolait Group": tag})
        g = "Customers/Agrolait Group/"
        self.assertEqual(self.dav.get(self.p(g + "a.txt")), b"theirs")
        self.assertEqual(self.dav.get(self.p(g + "a (2).txt")), b"ours")
        self.assertEqual(self.dav.get(self.p(g + "notes.txt")), b"notes")

        self.sync()  # pass 2: the attachments follow, the new files are linked
        self.assertLinked(a1, g + "a (2).txt", "res.partner", pid)
        self.assertLinked(a2, g + "b.txt", "res.partner", pid)
        linked = {link_target(self, a["url"]).rsplit("/", 1)[1]: a for a in self.odoo.attachments(
            [("res_model", "=", "res.partner"), ("res_id", "=", pid)])}
        self.assertEqual(sorted(linked), ["a (2).txt", "a.txt", "b.txt", "notes.txt"])
        self.assertTrue(all(a["type"] == "url" for a in linked.values()))
        self.assertQuiet()

    def test_merge_held_by_a_lock_goes_on_next_pass(self):
        pid = self.customer("Agrolait")
        a1 = self.odoo.attach("res.partner", pid, "a.txt", b"ours")
        a3 = self.odoo.attach("res.partner", pid, "c.txt", b"three")
        self.sync()
        tag = "res.partner,%d" % pid
        self.dav.mkcol(self.p("Customers/Agrolait Group"))
        self.dav.put(self.p("Customers/Agrolait Group/a.txt"), b"theirs")
        self.odoo.write("res.partner", pid, {"name": "Agrolait Group"})
        token = self.lock("Customers/Agrolait/a.txt")
        released = []
        self.addCleanup(lambda: released or self.unlock("Customers/Agrolait/a.txt", token))

        # pass 1: the locked file stays (its move is retried), so the old folder stays too
        p = self.sync("-X", "worker.max_attempts=2", expect=None)
        self.assertEqual(p.returncode, 1, p.stderr)
        t = self.tree()
        self.assertEqual(self.folders(t, "Customers"), {"Agrolait Group": tag, "Agrolait": tag})
        self.assertIn("Customers/Agrolait/a.txt", t)
        self.assertIn("Customers/Agrolait Group/c.txt", t)

        self.unlock("Customers/Agrolait/a.txt", token)
        released.append(1)
        self.sync()  # pass 2: the merge goes on from the record's second folder
        t = self.tree()
        g = "Customers/Agrolait Group/"
        self.assertEqual(self.folders(t, "Customers"), {"Agrolait Group": tag})
        self.assertEqual(self.dav.get(self.p(g + "a (2).txt")), b"ours")
        self.assertEqual(self.dav.get(self.p(g + "a.txt")), b"theirs")
        self.sync()  # pass 3: the attachments follow
        self.assertLinked(a1, g + "a (2).txt", "res.partner", pid)
        self.assertLinked(a3, g + "c.txt", "res.partner", pid)
        self.assertQuiet()

    def test_partners_swap_names(self):
        pa = self.customer("Alpha")
        pb = self.customer("Beta")
        pc = self.customer("Gamma")
        a = self.odoo.attach("res.partner", pa, "a.txt", b"alpha")
        b = self.odoo.attach("res.partner", pb, "b.txt", b"beta")
        c = self.odoo.attach("res.partner", pc, "c.txt", b"gamma")
        self.sync()
        self.odoo.write("res.partner", pa, {"name": "Beta"})
        self.odoo.write("res.partner", pb, {"name": "Alpha"})
        self.sync()  # one pass
        t = self.tree()
        self.assertEqual(self.folders(t, "Customers"),
                         {"Alpha": "res.partner,%d" % pb, "Beta": "res.partner,%d" % pa,
                          "Gamma": "res.partner,%d" % pc})
        self.assertEqual(self.dav.get(self.p("Customers/Beta/a.txt")), b"alpha")
        self.assertEqual(self.dav.get(self.p("Customers/Alpha/b.txt")), b"beta")
        self.assertLinked(a, "Customers/Beta/a.txt", "res.partner", pa)
        self.assertLinked(b, "Customers/Alpha/b.txt", "res.partner", pb)
        self.assertQuiet()
        # a cycle of three, in one pass too
        self.odoo.write("res.partner", pa, {"name": "Gamma"})
        self.odoo.write("res.partner", pb, {"name": "Beta"})
        self.odoo.write("res.partner", pc, {"name": "Alpha"})
        self.sync()
        t = self.tree()
        self.assertEqual(self.folders(t, "Customers"),
                         {"Alpha": "res.partner,%d" % pc, "Beta": "res.partner,%d" % pb,
                          "Gamma": "res.partner,%d" % pa})
        self.assertLinked(a, "Customers/Gamma/a.txt", "res.partner", pa)
        self.assertLinked(b, "Customers/Beta/b.txt", "res.partner", pb)
        self.assertLinked(c, "Customers/Alpha/c.txt", "res.partner", pc)
        self.assertQuiet()


if __name__ == "__main__":
    main()
