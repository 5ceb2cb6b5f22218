#!/usr/bin/env python3
"""e2e docs_races: Odoo's Documents app, a cloud edit that lands while a worker copies the
previous one to Odoo (the real Apache WebDAV and the emulator, Odoo 19 on JSON-2, whose
per-method paths let the emulator hold exactly that write back).

The worker reads the cloud file (ETag E2, bytes v2), writes v2 into the document, then
marks the file synced. A user saves v3 (ETag E3) in between. The mark must name E2, the
version copied: then the next pass sees the cloud file edited and copies v3. A mark that
named E3 would hide v3 from every later pass (and the next edit in Odoo would overwrite it
in the cloud).
"""
import base64
import json
import os
import subprocess
import sys
import time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_documents  # noqa: E402


class CloudEditDuringCopy(test_documents.DocsCase):
    VERSION = 19
    PROTOCOL = "json2"


    def stats(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.odoo.port, timeout=30)
        try:
            conn.request("GET", "/__emulator__/stats")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def datas(self, did):
        row = self.odoo.call("documents.document", "read", [[did]], {"fields": ["datas"]})[0]
        return base64.b64decode(row["datas"])

    def test_cloud_edit_during_its_copy_to_odoo_is_not_absorbed(self):
        fin = self.folder("Finance")
        did = self.doc("budget.txt", fin, b"budget v1")
        self.configure({"enabled": True, "mappings": [{"odoo": "Finance"}]})
        self.sync()
        self.sync()
        self.assertQuiet()
        path = self.p("Documents/Finance/budget.txt")
        time.sleep(1.1)  # (Apache's ETag has a one-second resolution)
        self.dav.put(path, b"budget v2")
        plan = self.plan_json()
        self.assertEqual([(j["kind"], j["side"]) for j in plan], [("relink", "odoo")])
        reads = self.stats().get("documents.document.read", 0)
        self.control({"delay_next": {"path": "/json/2/documents.document/write", "seconds": 4,
                                     "count": 1}})
        os.environ["E2E_ODOO_KEY"] = harness.KEY
        p = subprocess.Popen([harness.binary(), "run", "--once", "--config", self.config,
                              "-L", "warn"], env=self.cmd_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            # the worker has read the document's checksum: it reads the file next, then
            # writes (held back 4 s)
            deadline = time.time() + 30
            while self.stats().get("documents.document.read", 0) <= reads:
                self.assertLess(time.time(), deadline, "the worker never read the document")
                self.assertIsNone(p.poll(), p.stdout.read() if p.poll() is not None else "")
                time.sleep(0.02)
            time.sleep(1.1)
            self.dav.put(path, b"budget v3")
            out, _ = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, out)
        self.assertEqual(self.datas(did), b"budget v2")
        self.sync()
        self.assertEqual(self.datas(did), b"budget v3")
        self.assertEqual(self.dav.get(path), b"budget v3")
        self.assertQuiet()


if __name__ == "__main__":
    harness.main()
