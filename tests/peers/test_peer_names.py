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
    pass


if __name__ == "__main__":
    peers.main()
