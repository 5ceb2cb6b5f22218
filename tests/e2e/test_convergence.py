#!/usr/bin/env python3
"""End-to-end convergence, seeds 0-10 (test_convergence2.py runs 11-21, so ctest -j2
runs both halves side by side): seeded random operations on both sides between
passes, `odoosync run --once` until `plan --json` is empty, and the invariants of
randomops.py (links both ways, no content lost or resurrected, no duplicates,
quiescence within two passes, exit 0, nothing lost,
technical attachments untouched). The safety share is set to 1.0 (random
type-folder deletions would trip it; test_rules covers the safety).

Replay one seed: CONVERGENCE_SEED=N python3 tests/e2e/test_convergence.py
(with ODOOSYNC_STACK_ENV and ODOOSYNC_BIN set; CONVERGENCE_VERBOSE=1 prints the
operations as they go).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import main  # noqa: E402
from randomops import ConvergenceCase, add_seed_tests  # noqa: E402


class Convergence(ConvergenceCase):
    pass


add_seed_tests(Convergence, range(0, 11))

if __name__ == "__main__":
    main()
