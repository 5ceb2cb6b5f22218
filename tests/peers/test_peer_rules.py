#!/usr/bin/env python3
"""peers: every rule of docs/design.md "Rules" (tests/e2e/test_rules.py, with the
Nextcloud expectations of tests/e2e/test_rules_nc.py) against the real Odoo 17 and
Nextcloud 27 (peers.py), in local mode."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (puts tests/e2e on the path)
import test_rules_nc  # noqa: E402


class PeerRules(peers.PeerMixin, test_rules_nc.NcRules):
    SKIP_ON_PEERS = {
        "test_access_error_plans_no_deletion": "it needs the emulator's deny_model switch",
    }

    def api_key(self):
        # the real Odoo's api key (a web session does not take one: the upload reads
        # over RPC), named by the peers' environment
        key = peers.api_key()
        if not key:
            self.skipTest("no ODOOSYNC_PEER_ODOO_API_KEY(_FILE)")
        return key


if __name__ == "__main__":
    peers.main()
