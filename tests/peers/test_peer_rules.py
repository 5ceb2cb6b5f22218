#!/usr/bin/env python3
"""peers: every rule of docs/design.md "Rules" (tests/e2e/test_rules.py, unchanged
scenario code) against the real Odoo 17 and Nextcloud 27 (peers.py), in local mode."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (puts tests/e2e on the path)
import test_rules  # noqa: E402


class PeerRules(peers.PeerMixin, test_rules.Rules):
    SKIP_ON_PEERS = {
        "test_access_error_plans_no_deletion": "it needs the emulator's deny_model switch",
        "test_api_key_instead_of_password": "the emulator's key; test_api_key_of_the_peer "
                                            "uses the real one",
    }

    def test_copy_of_linked_file_outlives_deleted_attachment(self):
        # Nextcloud's COPY does not copy dead properties (Apache's does): the user's copy
        # is an untagged file, linked as a new attachment from the first pass on
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.dav_copy(self.p("Quotations/SO019/a.txt"), self.p("Quotations/SO019/copy.txt"))
        self.assertIsNone(self.tree()["Quotations/SO019/copy.txt"][2].get("attachment"))
        self.odoo.unlink("ir.attachment", aid)
        self.assertPlan([("delete", "cloud", "Quotations/SO019/a.txt", None, None),
                         ("relink", "odoo", "Quotations/SO019/copy.txt", None, 0)])
        self.sync()
        tree = self.tree()
        self.assertNotIn("Quotations/SO019/a.txt", tree)
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/copy.txt")), b"hello")
        rows = self.odoo.attachments([("res_model", "=", "sale.order"), ("res_id", "=", so)])
        self.assertEqual(len(rows), 1, rows)
        self.assertNotEqual(rows[0]["id"], aid)
        self.assertLinked(rows[0]["id"], "Quotations/SO019/copy.txt", "sale.order", so)
        self.assertQuiet()

    def test_document_folder_rename_in_cloud_reverted(self):
        # renamed back, as on Apache; the user's move left the file's tag behind
        # (Nextcloud keeps dead properties per path), so the same attachment re-tags it,
        # told by its file id: nothing deleted, nothing created
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        self.sync()
        self.sync()  # the upload's file id is recorded by the pass after it
        self.dav.move(self.p("Quotations/SO019"), self.p("Quotations/My order"))
        self.assertPlan([("relink", "odoo", "Quotations/SO019/a.txt", None, aid),
                         ("rename", "cloud", "Quotations/My order", "Quotations/SO019", None)])
        self.sync()
        self.assertNotIn("Quotations/My order", self.tree())
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/a.txt")), b"hello")
        self.assertLinked(aid, "Quotations/SO019/a.txt", "sale.order", so)
        self.assertQuiet()

    def test_api_key_of_the_peer(self):
        # a web session does not take an api key: the upload reads over RPC
        key = peers.api_key()
        if not key:
            self.skipTest("no ODOOSYNC_PEER_ODOO_API_KEY(_FILE)")
        so = self.order("SO019")
        aid = self.odoo.attach("sale.order", so, "a.txt", b"hello")
        os.environ["E2E_ODOO_API_KEY"] = key
        self.addCleanup(os.environ.pop, "E2E_ODOO_API_KEY", None)
        with open(self.config) as f:
            cfg = json.load(f)
        cfg["odoo"]["password_env"] = "E2E_ODOO_API_KEY"
        with open(self.config, "w") as f:
            json.dump(cfg, f)
        self.sync()
        self.assertEqual(self.dav.get(self.p("Quotations/SO019/a.txt")), b"hello")
        self.assertLinked(aid, "Quotations/SO019/a.txt", "sale.order", so)


if __name__ == "__main__":
    peers.main()
