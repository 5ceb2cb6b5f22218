#!/usr/bin/env python3
"""End-to-end: records that leave every type and come back (tests/e2e/test_unmatched.py)
on the stack's Nextcloud-like server (tests/stack/ncdav.py): file ids, web links and
dead properties kept per exact path, as on Nextcloud 27."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_unmatched  # noqa: E402
from harness import main  # noqa: E402


class NcUnmatched(test_unmatched.Unmatched):
    CLOUD = "NCDAV"


if __name__ == "__main__":
    main()
