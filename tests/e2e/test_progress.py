#!/usr/bin/env python3
"""End-to-end: `odoosync run` says how far the jobs of a pass are while they are applied.

- in a log (stderr not a terminal): an info line every log.progress_s seconds,
  "applying: D/T jobs done, R jobs/s, ETA S s", with sane numbers (D never above T,
  never going back, T the jobs queued);
- on a terminal (a pty): one line updated in place ("\\r"), cleared before the summary;
- local mode's log does not talk about Kafka: no "topic", "kafka" or "dead-letter"
  wording in any line of `run` (the in-process queue has no topics).
"""
import os
import pty
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SyncCase, binary, main  # noqa: E402

N = 40
PROGRESS = re.compile(r"applying: (\d+)/(\d+) jobs done, ([\d.]+) jobs/s, ETA (\d+ s|unknown)")


class Progress(SyncCase):
    TYPES = [{"folder": "Customers", "model": "res.partner",
              "domain": "[('customer_rank', '>', 0)]"}]
    STANDALONE = False

    def setUp(self):
        super().setUp()
        c = self.odoo.create("res.partner", {"name": "Agrolait", "is_company": True,
                                             "customer_rank": 1})
        for i in range(N):
            # above the 64 KiB the worker takes inline from its shared read: each file is
            # downloaded from /web/content
            self.odoo.attach("res.partner", c, "doc-%02d.txt" % i,
                             (b"content %d " % i) * 8000)
        # every download of a file from Odoo takes 0.2 s: the pass lasts a few seconds
        self.control({"delay_next": {"path": "/web/content", "seconds": 0.2, "count": 10 * N}})


    def env_(self):
        return dict(os.environ, E2E_ODOO_PASSWORD="admin",
                    E2E_DAV_PASSWORD=self.env["DAV_PASSWORD"])

    def args(self, level):
        return [binary(), "run", "--once", "--config", self.config, "-L", level,
                "-X", "log.progress_s=1", "-X", "worker.concurrency=2"]

    def test_progress_lines_in_the_log(self):
        p = subprocess.run(self.args("debug"), env=self.env_(), capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        planned = int(re.search(r"(?m)^pass: (\d+) jobs planned", p.stdout).group(1))
        self.assertGreaterEqual(planned, N)
        lines = [ln for ln in p.stderr.splitlines() if PROGRESS.search(ln)]
        self.assertGreaterEqual(len(lines), 2, "no progress lines:\n" + p.stderr)
        last_done = -1
        for ln in lines:
            done, total, rate, eta = PROGRESS.search(ln).groups()
            done, total, rate = int(done), int(total), float(rate)
            self.assertTrue(done == 0 or eta != "unknown", ln)
            eta = int(eta[:-2]) if eta != "unknown" else 0
            self.assertEqual(total, planned, ln)  # the folders and the N files
            self.assertLessEqual(done, total, ln)
            self.assertGreaterEqual(done, last_done, ln)
            self.assertLess(eta, 3600, ln)
            if done:
                self.assertGreater(rate, 0, ln)
            last_done = done
        for ln in (p.stdout + p.stderr).splitlines():
            self.assertNotRegex(ln.lower(), r"topic|kafka|dead-letter|dead letter",
                                "local mode talks about Kafka: " + ln)

    def test_no_progress_line_when_off(self):
        args = [a.replace("log.progress_s=1", "log.progress_s=0") for a in self.args("info")]
        p = subprocess.run(args, env=self.env_(), capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotRegex(p.stderr, PROGRESS)

    def test_progress_on_a_terminal(self):
        master, slave = pty.openpty()
        p = subprocess.Popen(self.args("warn"), env=self.env_(), stdout=subprocess.PIPE,
                             stderr=slave, text=False)
        os.close(slave)
        out = b""
        deadline = time.time() + 300
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        stdout = p.communicate(timeout=60)[0].decode()
        os.close(master)
        self.assertEqual(p.returncode, 0, stdout + out.decode(errors="replace"))
        text = out.decode(errors="replace")
        updates = re.findall(r"\r\S*applying: \d+/\d+ jobs done", text)
        self.assertGreaterEqual(len(updates), 2, repr(text))
        self.assertIn("\r\x1b[K", text)  # the line is cleared at the end
        self.assertNotRegex(text, r"applying: [^\r]*\n")  # updated in place, no new lines
        self.assertRegex(stdout, r"(?m)^pass: \d+ jobs planned")


if __name__ == "__main__":
    main()
