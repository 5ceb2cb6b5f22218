#!/usr/bin/env python3
"""peers: Odoo's technical attachments are never synced, on the real Odoo 17
(peers.py). A partner's picture (image_1920) is stored by Odoo as several res_field
attachments (image_1920, image_1024, ... image_128: real Odoo resizes it, so the
picture must be a real image), hidden from every attachment search without an `id`
or `res_field` term. They are never uploaded, converted or deleted, on the full scan,
the incremental scan, --full-scan, the settled check and the read of an attachment a
cloud file is tagged with; the partner's document attachment is synced as usual.
(tests/e2e/test_technical.py covers the emulator's asset bundles and SCSS.)"""
import base64
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (puts tests/e2e on the path)
from harness import SyncCase  # noqa: E402

FIELDS = ["name", "type", "url", "res_model", "res_id", "res_field", "checksum"]


def png(w, h, salt):
    """A real w x h RGB PNG (Odoo decodes and resizes pictures)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xffffffff)
    rows = b"".join(b"\0" + bytes(((x * 7 + y * 3 + salt) % 256) for x in range(w * 3))
                    for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class PeerTechnical(peers.PeerMixin, SyncCase):
    def images(self, pid):
        return {r["id"]: r for r in self.odoo.call(
            "ir.attachment", "search_read",
            [[("res_model", "=", "res.partner"), ("res_id", "=", pid),
              ("res_field", "!=", False)]], {"fields": FIELDS})}

    def test_partner_pictures_never_synced(self):
        c = self.customer("Agrolait", image_1920=base64.b64encode(png(300, 200, 1)).decode())
        doc = self.odoo.attach("res.partner", c, "offer.pdf", b"%PDF-1.4 offer")
        before = self.images(c)
        self.assertGreaterEqual(len(before), 1, "no res_field attachment for the picture")
        self.sync()  # full scan
        self.assertEqual(self.att_by_id(doc)["type"], "url")
        self.odoo.write("res.partner", c, {"image_1920": base64.b64encode(
            png(320, 240, 2)).decode()})
        changed = self.images(c)
        self.sync()  # incremental scan
        self.sync("--full-scan")
        img = sorted(changed)[0]
        self.dav.put(self.p("Customers/Agrolait/picture.png"), b"not a document")
        body = ('<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:o="urn:odoosync">'
                '<d:set><d:prop><o:attachment>%d</o:attachment></d:prop></d:set>'
                '</d:propertyupdate>' % img).encode()
        st, _ = self.dav.req("PROPPATCH", self.p("Customers/Agrolait/picture.png"), body,
                             {"Content-Type": "application/xml"})
        self.assertEqual(st, 207)
        self.sync()  # tagged read
        self.sync()  # settled check
        after = self.images(c)
        self.assertEqual(sorted(after), sorted(changed))
        for i, r in after.items():
            self.assertEqual(r["type"], "binary", r)
            self.assertFalse(r["url"], r)
            self.assertEqual(r["checksum"], changed[i]["checksum"], r)
        files = sorted(k for k, v in self.tree().items() if not v[0])
        self.assertEqual(files, ["Customers/Agrolait/offer.pdf",
                                     "Customers/Agrolait/picture.png"])
        self.assertQuiet()


if __name__ == "__main__":
    peers.main()
