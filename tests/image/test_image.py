#!/usr/bin/env python3
"""image.run: odoosync from inside the container image, against the test stack.

image.build (tests/image/build.sh) built deploy/Dockerfile with buildah as
deploy/README.md says and wrote the tag to $ODOOSYNC_IMAGE_DIR/image. This test
makes a container of it and, with `buildah run --isolation chroot --network host`
(the stack listens on 127.0.0.1 of the host), runs the image's own binary, as
its own user (uid 10001):

  - `odoosync version`;
  - `odoosync check` with the cluster configuration (its own Odoo emulator, a root
    on the stack's Apache WebDAV, the stack's Kafka-protocol broker and Redis):
    every part answers, exit 0;
  - one `odoosync work`: `odoosync produce --once` (the host's binary) emits the
    jobs of a confirmed order with an attachment; the worker in the container
    applies them (the sync-log events it writes say so and the file is on the
    WebDAV server); SIGTERM to odoosync in the container (what Kubernetes sends
    to the entrypoint) ends it with exit 0.

Exit 77 (ctest: skipped) when image.build did not build the image (it says why).
"""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from harness import SyncCase, create_topics, read_events  # noqa: E402

DIR = os.environ.get("ODOOSYNC_IMAGE_DIR", "")
FINAL = {"applied", "already-done", "skipped", "dead-lettered"}


def buildah(*args, **kw):
    env = dict(os.environ, CONTAINERS_STORAGE_CONF=os.path.join(DIR, "storage.conf"),
               STORAGE_DRIVER="vfs")
    return subprocess.run(["buildah"] + list(args), env=env, capture_output=True, text=True,
                          **kw)


def descendants(pid):
    """Every process under pid (from /proc/PID/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir("/proc/%d/task" % p)
        except FileNotFoundError:
            continue
        for t in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    kids = [int(k) for k in f.read().split()]
            except FileNotFoundError:
                continue
            out += kids
            todo += kids
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


class Image(SyncCase):
    TYPES = [{"folder": "Orders", "model": "sale.order",
              "domain": "[('state', 'in', ['sale', 'done'])]"}]
    STANDALONE = False

    def setUp(self):
        super().setUp()
        with open(os.path.join(DIR, "image")) as f:
            self.tag = f.read().strip()
        name = "odoosync-image-test-%d" % os.getpid()
        p = buildah("from", "--pull=never", "--name", name, self.tag, timeout=300)
        self.assertEqual(p.returncode, 0, "buildah from %s: %s" % (self.tag, p.stderr))
        self.ctr = name
        self.addCleanup(buildah, "rm", name, timeout=120)
        # The container's user (uid 10001) reads the configuration and writes the
        # sync log in the test's directory, mounted at the same path.
        os.chmod(self.tmp, 0o777)
        tag = self.root.replace("e2e-", "img-")
        topics = {"jobs": "%s.jobs" % tag, "retry": "%s.retry" % tag,
                  "dlq": "%s.dlq" % tag, "events": "%s.events" % tag}
        create_topics(self.env, topics.values(), 3)
        self.EXTRA = {
            "kafka": {"bootstrap": self.env["KAFKA_BOOTSTRAP"], "topics": topics,
                      "group": "img-%s" % tag,
                      "properties": {"session.timeout.ms": "6000",
                                     "heartbeat.interval.ms": "500"}},
            "redis": {"url": self.env["REDIS_URL"]},
        }
        self.write_config()
        os.chmod(self.config, 0o644)

    def in_image(self, *args):
        """`buildah run` argv for odoosync ARGS inside the container, credentials
        from the environment as in a pod."""
        return ["buildah", "run", "--isolation", "chroot", "--network", "host",
                "-v", "%s:%s" % (self.tmp, self.tmp),
                "-e", "E2E_ODOO_PASSWORD=admin",
                "-e", "E2E_DAV_PASSWORD=%s" % self.env["DAV_PASSWORD"],
                self.ctr, "--", "odoosync"] + list(args)

    def run_in_image(self, *args, timeout=300):
        argv = self.in_image(*args)
        return buildah(*argv[1:], timeout=timeout)

    def test_version_check_work(self):
        # version: the image's binary, linked against the runtime stage's libraries
        p = self.run_in_image("version")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^odoosync \d+\.\d+\.\d+\n")
        self.assertIn("librdkafka", p.stdout)

        # check: every part of the cluster configuration answers from inside
        p = self.run_in_image("check", "--config", self.config)
        self.assertEqual(p.returncode, 0, "check in the image:\n%s\n%s" % (p.stdout, p.stderr))
        for part in ("odoo", "cloud", "kafka", "redis"):
            self.assertRegex(p.stdout, r"(?m)^%s\b" % part, p.stdout)
        self.assertIn("check: ok", p.stdout)

        # work: applies what produce emits, stops cleanly on SIGTERM
        oid = self.order("S-IMG-1", state="sale")
        self.odoo.attach("sale.order", oid, "contract.pdf", b"%PDF-1.4 from the image test\n")
        events = os.path.join(self.tmp, "events.jsonl")
        log_path = os.path.join(self.tmp, "work.log")
        env = dict(os.environ, CONTAINERS_STORAGE_CONF=os.path.join(DIR, "storage.conf"),
                   STORAGE_DRIVER="vfs")
        with open(log_path, "w") as log:
            work = subprocess.Popen(self.in_image("work", "--config", self.config, "--events",
                                                  events, "-L", "info", "-X",
                                                  "log.format=human"),
                                    env=env, stdout=log, stderr=log)

        def work_log():
            with open(log_path) as f:
                return f.read()[-4000:]

        try:
            p = self.run_cmd("produce", "--once")
            emitted = int(p.stdout.split("produce:", 1)[1].split()[0])
            self.assertGreater(emitted, 0, p.stdout)
            deadline = time.time() + 120
            while True:
                done = {e.get("job") for e in read_events(events) if e.get("result") in FINAL}
                if len(done) >= emitted:
                    break
                self.assertIsNone(work.poll(), "work in the image exited %s:\n%s" % (
                    work.returncode, work_log()))
                self.assertLess(time.time(), deadline, "work in the image applied %d of %d "
                                "jobs in 120 s:\n%s" % (len(done), emitted, work_log()))
                time.sleep(0.2)
            results = [e.get("result") for e in read_events(events) if e.get("result") in FINAL]
            self.assertNotIn("dead-lettered", results, work_log())
            self.assertEqual(self.dav.get(self.p("Orders/S-IMG-1/contract.pdf")),
                             b"%PDF-1.4 from the image test\n")
            # SIGTERM to odoosync itself, as Kubernetes signals the entrypoint
            # (buildah run does not forward signals to what it runs)
            pids = [q for q in descendants(work.pid) if comm(q) == "odoosync"]
            self.assertEqual(len(pids), 1, "odoosync under buildah run: %s" % pids)
            os.kill(pids[0], signal.SIGTERM)
            rc = work.wait(60)
            self.assertEqual(rc, 0, "work in the image after SIGTERM:\n%s" % work_log())
        finally:
            if work.poll() is None:
                for q in descendants(work.pid):
                    try:
                        os.kill(q, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                work.kill()
                work.wait()


if __name__ == "__main__":
    if not DIR or not os.path.exists(os.path.join(DIR, "image")):
        print("SKIPPED: no image (image.build did not build it: see its output)")
        sys.exit(77)
    r = unittest.main(verbosity=2, exit=False).result
    sys.exit(0 if r.wasSuccessful() else 1)
