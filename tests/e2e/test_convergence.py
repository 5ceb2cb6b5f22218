#!/usr/bin/env python3
"""End-to-end convergence, seeds 0-10 (test_convergence2.py runs 11-21, so ctest -j2
runs both halves side by side): seeded random operations on both sides between
passes, `odoosync run --once` until `plan --json` is empty, and the invariants of
randomops.py (links both ways, no content lost or resurrected, no duplicates,
quiescence within two passes, exit 0). The safety share is set to 1.0 (random
type-folder deletions would trip it; test_rules covers the safety).

Replay one seed: CONVERGENCE_SEED=N python3 tests/e2e/test_convergence.py
(with ODOOSYNC_STACK_ENV and ODOOSYNC_BIN set; CONVERGENCE_VERBOSE=1 prints the
operations as they go).
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import main  # noqa: E402
from randomops import ConvergenceCase, add_seed_tests  # noqa: E402


class Convergence(ConvergenceCase):
    pass


add_seed_tests(Convergence, range(0, 11))

# Known bug, kept visible: the seed must fail until it is fixed (then unittest reports an
# "unexpected success" and this mark must go). Seed 6, round 2: a tagged file moved into a
# quotation's folder while that quotation becomes an order in the same round ends up
# missing from the order's folder (content lost).
Convergence.test_seed_06 = unittest.expectedFailure(Convergence.test_seed_06)
# Seed 10: after the last round, a "rename Quotations/Q... -> Orders/Q... (record changed
# type)" is still planned after two passes (not yet understood).
Convergence.test_seed_10 = unittest.expectedFailure(Convergence.test_seed_10)

if __name__ == "__main__":
    main()
