#!/usr/bin/env python3
"""End-to-end convergence, seeds 11-21: the second half of test_convergence.py (see
there and randomops.py). With CONVERGENCE_SEED set this file runs nothing: replay a
seed with test_convergence.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import main  # noqa: E402
from randomops import ConvergenceCase, add_seed_tests  # noqa: E402


class Convergence2(ConvergenceCase):
    pass


if os.environ.get("CONVERGENCE_SEED"):
    def test_replay_elsewhere(self):
        self.skipTest("CONVERGENCE_SEED is set: test_convergence.py replays it")
    Convergence2.setUp = lambda self: None
    Convergence2.test_replay_elsewhere = test_replay_elsewhere
else:
    add_seed_tests(Convergence2, range(11, 22))

if __name__ == "__main__":
    main()
