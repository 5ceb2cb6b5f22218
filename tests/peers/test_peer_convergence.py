#!/usr/bin/env python3
"""peers: a shortened convergence run (tests/e2e/randomops.py: seeded random
operations on both sides, passes until the plan is empty, and its invariants)
against the real Odoo 17 and Nextcloud 27 (peers.py): the operations go through
Odoo's JSON-RPC (order states by the workflow buttons) and Nextcloud's WebDAV.
Seeds: PEERS_CONVERGENCE_SEEDS (default 1,2), rounds x operations:
CONVERGENCE_ROUNDS x CONVERGENCE_OPS (default 2 x 6 here). Names with a tab are left
out: Nextcloud refuses them (PUT answers 400)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (puts tests/e2e on the path)
os.environ.setdefault("CONVERGENCE_ROUNDS", "2")
os.environ.setdefault("CONVERGENCE_OPS", "6")
# Nextcloud refuses names with control characters (PUT: 400): no user makes one there
os.environ.setdefault("CONVERGENCE_SKIP", "op_put_tab")
from randomops import ConvergenceCase, add_seed_tests  # noqa: E402


class PeerConvergence(peers.PeerMixin, ConvergenceCase):
    pass


add_seed_tests(PeerConvergence, [int(s) for s in os.environ.get(
    "PEERS_CONVERGENCE_SEEDS", "1,2").split(",") if s.strip()])

if __name__ == "__main__":
    peers.main()
