#!/usr/bin/env python3
"""peers: every rule of docs/design.md "Rules" (tests/e2e/test_rules.py, with the
Nextcloud expectations of tests/e2e/test_rules_nc.py) against the real Odoo 17 and
Nextcloud 27 (peers.py), in local mode."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (puts tests/e2e on the path)
import test_rules_nc  # noqa: E402


class PeerRules(peers.PeerMixin, test_rules_nc.NcRules):
    SKIP_ON_PEERS = {
        "test_access_error_plans_no_deletion": "it needs the emulator's deny_model switch",
        "test_api_key_instead_of_password": "the emulator's key; test_api_key_of_the_peer "
                                            "uses the real one",
    }

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
