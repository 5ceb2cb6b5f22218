#!/usr/bin/env python3
"""peers: document folder names that are taken (tests/e2e/test_names.py, unchanged
scenario code: a WebDAV LOCK held on a file, a folder adopted, names swapped) against
the real Odoo 17 and Nextcloud 27 (peers.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (puts tests/e2e on the path)
import test_names  # noqa: E402


class PeerNames(peers.PeerMixin, test_names.Names):
    SKIP_ON_PEERS = {
        "test_locked_file_delays_the_rename_then_one_folder":
            "Nextcloud 27 answers LOCK with 501 (no WebDAV locks without an app)",
        "test_merge_held_by_a_lock_goes_on_next_pass":
            "Nextcloud 27 answers LOCK with 501 (no WebDAV locks without an app)",
    }


if __name__ == "__main__":
    peers.main()
