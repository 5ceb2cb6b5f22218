#!/usr/bin/env python3
"""End-to-end: `odoosync produce` when Kafka does not acknowledge its jobs.

A job's queued mark in Redis (the de-duplication of jobs "still queued from an
earlier pass") may only stay for a job the broker acknowledged: a job whose
delivery failed (brokers down, delivery timeout) must be emitted again by the next
pass, not suppressed for the mark's six hours. Acknowledged jobs keep their mark
(the next pass does not emit them again while no worker has finished them), and a
worker that finishes a job clears it.

The stack's Kafka-protocol broker is shared by every test: this one takes all its
brokers down, so it runs alone (RUN_SERIAL, tests/e2e/CMakeLists.txt).
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SRC, SyncCase, WorkProc, create_topics, main  # noqa: E402

PRODUCE_LINE = re.compile(r"produce: (\d+) jobs? emitted, (\d+) still queued from an earlier "
                          r"pass \(planned: [^)]*\), (\d+) not acknowledged")
BROKERS = 3


class ProduceFaults(SyncCase):
    def setUp(self):
        super().setUp()
        tag = self.root.replace("e2e-", "")
        self.topics = {"jobs": "e2e.%s.jobs" % tag, "retry": "e2e.%s.retry" % tag,
                       "dlq": "e2e.%s.dlq" % tag, "events": "e2e.%s.events" % tag}
        create_topics(self.env, self.topics.values(), 3)
        self.EXTRA = {
            "kafka": {"bootstrap": self.env["KAFKA_BOOTSTRAP"], "topics": self.topics,
                      "group": "e2e-%s" % tag,
                      "properties": {"reconnect.backoff.max.ms": "500",
                                     "message.timeout.ms": "3000"}},
            "redis": {"url": self.env["REDIS_URL"]},
        }
        self.write_config()
        self.addCleanup(self.kafka, "clear")

    def kafka(self, *cmd):
        ctl = os.path.join(SRC, "tests", "stack", "stack")
        subprocess.run([ctl, "kafka", "--dir", self.env["STACK_DIR"]] + [str(c) for c in cmd],
                       check=True, capture_output=True, timeout=30)

    def produce(self, expect):
        p = self.run_cmd("produce", "--once", expect=expect)
        m = PRODUCE_LINE.search(p.stdout)
        self.assertIsNotNone(m, "no summary line:\n%s\n%s" % (p.stdout, p.stderr))
        return tuple(int(x) for x in m.groups()), p

    def test_undelivered_jobs_are_emitted_again(self):
        planned = len(self.plan_json())
        self.assertGreater(planned, 0)
        for b in range(1, BROKERS + 1):
            self.kafka("down", b)
        (emitted, queued, failed), p = self.produce(expect=1)
        self.assertEqual((emitted, queued, failed), (planned, 0, planned), p.stderr)
        for b in range(1, BROKERS + 1):
            self.kafka("up", b)
        # nothing reached Kafka: every job is emitted again, none "still queued"
        (emitted, queued, failed), p = self.produce(expect=0)
        self.assertEqual((emitted, queued, failed), (planned, 0, 0), p.stderr)
        # acknowledged and not finished by any worker yet: kept back
        (emitted, queued, failed), p = self.produce(expect=0)
        self.assertEqual((emitted, queued, failed), (0, planned, 0), p.stderr)
        # a worker applies them (the queue holds them twice: the first pass' copies
        # were never delivered, so once) and clears their marks
        env = dict(os.environ, E2E_ODOO_PASSWORD="admin",
                   E2E_DAV_PASSWORD=self.env["DAV_PASSWORD"])
        w = WorkProc(self.config, env, os.path.join(self.tmp, "events.jsonl"),
                     os.path.join(self.tmp, "worker.log"))
        try:
            deadline = time.time() + 120
            while len({e.get("job") for e in w.events()
                       if e.get("result") in ("applied", "already-done")}) < planned:
                self.assertIsNone(w.proc.poll(), w.output())
                self.assertLess(time.time(), deadline, w.output()[-3000:])
                time.sleep(0.1)
        finally:
            code = w.stop()
        self.assertEqual(code, 0, w.output()[-3000:])
        self.assertEqual(self.plan_json(), [])
        (emitted, queued, failed), p = self.produce(expect=0)
        self.assertEqual((emitted, queued, failed), (0, 0, 0), p.stderr)


if __name__ == "__main__":
    main()
