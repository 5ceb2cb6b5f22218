#!/usr/bin/env python3
"""peers: records that leave every type and come back (tests/e2e/test_unmatched.py,
unchanged scenario code) against the real Odoo 17 and Nextcloud 27 (peers.py):
a quotation cancelled with action_cancel and set back with action_draft, a partner
archived (active) or un-flagged (customer_rank), records deleted in Odoo."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (puts tests/e2e on the path)
import test_unmatched_nc  # noqa: E402


class PeerUnmatched(peers.PeerMixin, test_unmatched_nc.NcUnmatched):
    pass


if __name__ == "__main__":
    peers.main()
