#!/usr/bin/env python3
"""End-to-end: odoosync manages documents only (common/att.h). Odoo's other
attachments -- the storage of binary fields (res_field: partner pictures), asset
bundles, res.company.scss, /_custom/ SCSS, website media of ir.ui.view -- are never
uploaded, converted, renamed or deleted, on every path: the first (full) scan, the
incremental scan, --full-scan, the settled check and the read of attachments a
cloud file is tagged with.
"""
import base64
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "odoo"))
from harness import SyncCase, main  # noqa: E402
import seed  # noqa: E402

FIELDS = ["name", "type", "url", "res_model", "res_id", "res_field", "checksum", "public",
          "datas"]


def png(n, salt):
    return b"\x89PNG\r\n\x1a\n" + bytes((i * 7 + salt) % 256 for i in range(n))


class Technical(SyncCase):
    def rows(self, ids):
        rows = self.odoo.call("ir.attachment", "read", [ids], {"fields": FIELDS})
        return {r["id"]: r for r in rows}

    def proppatch_tag(self, rel, att_id):
        body = ('<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:o="urn:odoosync">'
                '<d:set><d:prop><o:attachment>%d</o:attachment></d:prop></d:set>'
                '</d:propertyupdate>' % att_id).encode()
        st, _ = self.dav.req("PROPPATCH", self.p(rel), body,
                             {"Content-Type": "application/xml"})
        self.assertEqual(st, 207)

    def test_binary_field_storage_never_synced(self):
        c = self.odoo.create("res.partner", {"name": "Agrolait", "is_company": True,
                                             "customer_rank": 1})
        doc = self.odoo.attach("res.partner", c, "offer.pdf", b"%PDF-1.4 offer")
        self.odoo.write("res.partner", [c], {"image_1920": base64.b64encode(png(3000, 1))
                                             .decode()})
        imgs = self.odoo.call("ir.attachment", "search", [[("res_field", "!=", False)]])
        self.assertEqual(len(imgs), 2)  # image_1920 and image_128
        self.sync()  # first pass: a full scan
        self.assertEqual(self.rows([doc])[doc]["type"], "url")
        # the picture changes: the incremental scan reads the changed attachments
        self.odoo.write("res.partner", [c], {"image_1920": base64.b64encode(png(3500, 2))
                                             .decode()})
        self.sync()
        self.sync("--full-scan")
        # a cloud file that carries a picture's id: read by id (tagged read), left alone
        self.dav.put(self.p("Customers/Agrolait/picture.png"), b"not a document")
        self.proppatch_tag("Customers/Agrolait/picture.png", imgs[0])
        self.sync()
        self.sync()  # settled check
        after = self.rows(imgs)
        for i in imgs:
            self.assertEqual(after[i]["type"], "binary", after[i])
            self.assertFalse(after[i]["url"], after[i])
            self.assertEqual(base64.b64decode(after[i]["datas"]), png(3500, 2))
        self.assertEqual(sorted(k for k, v in self.tree().items() if not v[0]),
                         ["Customers/Agrolait/offer.pdf", "Customers/Agrolait/picture.png"])
        self.assertEqual(self.tree()["Customers/Agrolait/picture.png"][2].get("attachment"),
                         str(imgs[0]))
        self.assertQuiet()

    def test_technical_attachments_never_touched(self):
        x = lambda model, method, *args, **kw: self.odoo.call(model, method, list(args), kw)
        tech = seed.technical(x, random.Random(7))
        before = self.rows(tech)
        sa = self.odoo.attach(None, 0, "price list.txt", b"prices")
        self.sync()  # full scan
        self.assertEqual(self.rows([sa])[sa]["type"], "url")
        # change them: the incremental scan and the settled check see the new write_date
        for i in tech:
            self.odoo.write("ir.attachment", [i], {"description": "touched by Odoo"})
        self.sync()
        self.sync("--full-scan")
        # a cloud file tagged with the scss attachment (tagged read)
        self.dav.put(self.p("Stand Alone Attachments/styles.scss"), b"$x: 1;")
        self.proppatch_tag("Stand Alone Attachments/styles.scss", tech[1])
        self.sync()
        self.sync()
        after = self.rows(tech)
        for i in tech:
            for f in ("type", "url", "datas", "res_model", "res_id", "name", "public"):
                self.assertEqual(after[i][f], before[i][f], "%s of %s" % (f, before[i]["name"]))
        self.assertEqual(sorted(k for k, v in self.tree().items() if not v[0]),
                         ["Stand Alone Attachments/price list.txt",
                          "Stand Alone Attachments/styles.scss"])
        self.assertQuiet()


if __name__ == "__main__":
    main()
