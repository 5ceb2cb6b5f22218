#!/usr/bin/env python3
"""End-to-end: the summary lines people read count in English: "1 job planned",
"plan: 1 job", "scanned 1 record, 1 attachment", not "1 jobs" (and still "0 jobs",
"2 jobs")."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SyncCase, binary, main  # noqa: E402


class Summary(SyncCase):
    TYPES = [{"folder": "Customers", "model": "res.partner",
              "domain": "[('customer_rank', '>', 0)]"}]
    STANDALONE = False

    def odoosync(self, *args):
        env = dict(os.environ, E2E_ODOO_PASSWORD="admin",
                   E2E_DAV_PASSWORD=self.env["DAV_PASSWORD"])
        p = subprocess.run([binary()] + list(args) + ["--config", self.config, "-L", "info"],
                           env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def test_one_of_each_is_singular(self):
        c = self.odoo.create("res.partner", {"name": "Agrolait", "is_company": True,
                                             "customer_rank": 1})
        a = self.odoo.attach("res.partner", c, "offer.pdf", b"%PDF-1.4 offer")
        p = self.odoosync("run", "--once", "--full-scan")
        self.assertIn("scanned 1 record, 1 attachment, ", p.stderr)
        self.assertRegex(p.stderr, r"odoo scan \([^)]*\): 1 record, 1 attachment;")
        self.assertRegex(p.stdout, r"(?m)^pass: [2-9]\d* jobs planned")
        # one rename in Odoo: one job
        self.odoo.write("ir.attachment", [a], {"name": "offer 2.pdf"})
        p = self.odoosync("plan")
        self.assertRegex(p.stdout, r"(?m)^plan: 1 job, verdict ok$")
        p = self.odoosync("run", "--once")
        self.assertRegex(p.stdout, r"(?m)^pass: 1 job planned \(")
        self.assertNotRegex(p.stdout + p.stderr, r"\b1 (jobs|records|attachments)\b")
        p = self.odoosync("run", "--once")
        self.assertRegex(p.stdout, r"(?m)^pass: 0 jobs planned \(")


if __name__ == "__main__":
    main()
