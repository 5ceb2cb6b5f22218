#!/usr/bin/env python3
"""peers: the cluster mode with a SIGKILLed worker (tests/e2e/test_kill.py, a shorter
stream) against the real Odoo 17 and Nextcloud 27 (peers.py), with the Redis and
Kafka-protocol broker of the CI stack (ctest fixture `stack`): a first local pass,
then changes on both sides, `produce --once`, two `odoosync work` processes, one
SIGKILLed mid-stream and restarted; every job applied exactly once in effect, the
end state exact on both sides, and a new plan empty."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (puts tests/e2e on the path)
import test_kill  # noqa: E402


class PeerKillStream(peers.PeerMixin, test_kill.KillStream):
    NEEDS_STACK = True
    OLD, NEW, NEW_ATTS, MIN_JOBS, KILLS = 6, 4, 2, 20, 1
    STREAM_S = 1200


for _name in [n for n in dir(PeerKillStream) if n.startswith("test_seed_")]:
    setattr(PeerKillStream, _name, None)  # the e2e seeds: one here, shorter


def _test_seed_1(self):
    self.kill_stream(1)


PeerKillStream.test_seed_1 = _test_seed_1

if __name__ == "__main__":
    peers.main()
