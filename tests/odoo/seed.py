#!/usr/bin/env python3
"""seed.py: put sample or benchmark data into an Odoo database over JSON-RPC.

It only uses /jsonrpc (common.authenticate, object.execute_kw with create/write/search), so
it works against real Odoo (16-19, with the sale, project and documents apps) as well as
against tests/odoo/emulator.py.

  seed.py --url URL [--db odoosync --user admin --password admin] --sample
      companies and contacts (customers: customer_rank, vendors: supplier_rank), quotations
      (draft / sent) and confirmed orders (sale), a project with tasks, binary attachments
      of assorted types and sizes (PDF-ish, PNG-ish, text; 300 KB at most) on some records,
      2 stand-alone attachments (res_model false), pictures on 2 partners (image_1920:
      attachments with res_field set) and Odoo's technical attachments (an asset bundle,
      res.company.scss, a /_custom/ SCSS, a media image of ir.ui.view) that odoosync must
      never touch.  Prints a JSON summary of the ids.

  seed.py --url URL --bulk --records N --attachments-per-record M --size BYTES
          [--model sale.order|res.partner|project.task] [--batch 500]
      benchmark data: N records (batched creates), each with M binary attachments of BYTES
      bytes, all different contents.
  seed.py --direct DIR [--odoo-version 17] --bulk ...
      the same, written straight into the emulator's SQLite database and filestore in DIR
      (no HTTP; for 100,000s of attachments).  DIR is the emulator's --data-dir; it may be
      running meanwhile.
"""

import argparse
import base64
import hashlib
import json
import os
import random
import sys
import urllib.request


class RpcError(Exception):
    pass


class Client:
    def __init__(self, url, db, user, password):
        self.url = url.rstrip("/") + "/jsonrpc"
        self.db = db
        self.password = password
        self.n = 0
        self.uid = self.call("common", "authenticate", db, user, password, {})
        if not self.uid:
            raise RpcError("authentication failed for %s on %s" % (user, db))

    def call(self, service, method, *args):
        self.n += 1
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": self.n,
                           "params": {"service": service, "method": method,
                                      "args": list(args)}}).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as resp:
            answer = json.loads(resp.read())
        if answer.get("error"):
            data = answer["error"].get("data") or {}
            raise RpcError("%s: %s" % (data.get("name"), data.get("message")))
        return answer.get("result")  # none when the method returned None

    def __call__(self, model, method, *args, **kwargs):
        return self.call("object", "execute_kw", self.db, self.uid, self.password, model, method,
                         list(args), kwargs)


class Direct:
    """The same calls, in-process against the emulator's data directory."""

    def __init__(self, data_dir, version):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import emulator
        self.em = emulator
        os.makedirs(data_dir, exist_ok=True)
        self.odoo = emulator.Odoo(data_dir, version, "")

    def __call__(self, model, method, *args, **kwargs):
        fn, _ = self.odoo.method_spec(self.odoo.models[model], method)
        m = self.odoo.models[model]
        return self.odoo.run(lambda env: fn(env, m, *args, **kwargs))


# ------------------------------------------------------------------------------------
# Content generators: deterministic, different per index


def filler(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(min(n, 4096))) * (n // 4096 + 1)


def pdf_bytes(rng, size):
    head = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
    tail = b"\n%%EOF\n"
    body = filler(rng, max(0, size - len(head) - len(tail)))[:max(0, size - len(head) - len(tail))]
    return head + body + tail


def png_bytes(rng, size):
    head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
    return (head + filler(rng, size))[:max(size, len(head))]


def text_bytes(rng, size, label):
    line = ("%s: the quick brown fox jumps over the lazy dog %d\n" % (label, rng.randint(0, 1 << 30)))
    return (line * (size // len(line) + 1)).encode()[:size]


def unique_blob(i, size, salt=b""):
    """BYTES bytes, different for every i, cheap to make."""
    seed = hashlib.sha256(b"odoosync-bulk-%d-" % i + salt).digest()
    block = hashlib.sha512(seed).digest() * 64  # 4 KiB
    reps = size // len(block) + 1
    return (seed + block * reps)[:size]


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


# ------------------------------------------------------------------------------------


def sample(x):
    rng = random.Random(20261124)
    out = {}
    companies = x("res.partner", "create", [
        {"name": "Agrolait", "is_company": True, "customer_rank": 1, "email": "info@agrolait.example"},
        {"name": "Camptocamp", "is_company": True, "supplier_rank": 1},
        {"name": "Deco Addict", "is_company": True, "customer_rank": 2, "supplier_rank": 1},
        {"name": "Wood Corner", "is_company": True, "customer_rank": 1},
        {"name": "Gemini Furniture", "is_company": True, "supplier_rank": 3},
    ])
    agrolait, camptocamp, deco, wood, gemini = companies
    contacts = x("res.partner", "create", [
        {"name": "Michael Fletcher", "parent_id": agrolait, "email": "michael@agrolait.example"},
        {"name": "Thomas Passot", "parent_id": agrolait},
        {"name": "Chao Wang", "parent_id": camptocamp},
        {"name": "Brandon Freeman", "parent_id": deco, "customer_rank": 1},
        {"name": "Jane Doe", "customer_rank": 1, "email": "jane@example.org"},
        {"name": "Oscar Morgan", "supplier_rank": 1},
    ])
    out["companies"] = companies
    out["contacts"] = contacts
    orders = x("sale.order", "create", [
        {"partner_id": agrolait, "amount_total": 1200.0},
        {"partner_id": contacts[0], "amount_total": 350.5},
        {"partner_id": deco, "amount_total": 99.0},
        {"partner_id": wood, "amount_total": 4999.99},
        {"partner_id": contacts[4], "amount_total": 15.0},
        {"partner_id": agrolait, "amount_total": 780.0},
    ])
    x("sale.order", "write", orders[2:3], {"state": "sent"})
    x("sale.order", "write", orders[3:6], {"state": "sale"})
    out["quotations"] = orders[:3]
    out["orders"] = orders[3:]
    project = x("project.project", "create", {"name": "Office Design"})
    tasks = x("project.task", "create", [
        {"name": "Measure the rooms", "project_id": project, "partner_id": agrolait},
        {"name": "Choose the furniture", "project_id": project},
        {"name": "Private note", "partner_id": deco},
    ])
    out["project"] = project
    out["tasks"] = tasks
    kinds = [
        ("commercial offer.pdf", lambda: pdf_bytes(rng, 120 * 1024)),
        ("logo.png", lambda: png_bytes(rng, 8 * 1024)),
        ("notes.txt", lambda: text_bytes(rng, 2000, "notes")),
        ("scan 2024-03.pdf", lambda: pdf_bytes(rng, 300 * 1024)),
        ("photo.png", lambda: png_bytes(rng, 60 * 1024)),
        ("README", lambda: text_bytes(rng, 300, "readme")),
        ("empty.txt", lambda: b""),
    ]
    targets = [("res.partner", agrolait), ("res.partner", contacts[0]), ("sale.order", orders[0]),
               ("sale.order", orders[3]), ("sale.order", orders[3]), ("project.task", tasks[0]),
               ("res.partner", camptocamp)]
    vals = []
    for (name, make), (model, rid) in zip(kinds, targets):
        raw = make()
        v = {"name": name, "res_model": model, "res_id": rid}
        if raw:
            v["datas"] = b64(raw)
        vals.append(v)
    vals.append({"name": "specs v2.pdf", "res_model": "sale.order", "res_id": orders[0],
                 "datas": b64(pdf_bytes(rng, 40 * 1024))})
    out["attachments"] = x("ir.attachment", "create", vals)
    out["standalone_attachments"] = x("ir.attachment", "create", [
        {"name": "image.png", "datas": b64(png_bytes(rng, 20 * 1024)), "res_model": False,
         "res_id": False},
        {"name": "price list.txt", "datas": b64(text_bytes(rng, 5000, "prices")),
         "res_model": False, "res_id": False},
    ])
    # Partner pictures: image.mixin stores image_1920 (and its resized copies) as
    # attachments with res_field set, hidden from searches without an id/res_field term.
    out["partner_images"] = [agrolait, contacts[0]]
    x("res.partner", "write", out["partner_images"], {"image_1920": b64(png_bytes(rng, 4096))})
    out["technical_attachments"] = technical(x, rng)
    return out


def technical(x, rng):
    """Attachments every Odoo database holds that are not documents: a compiled asset
    bundle (web's AssetsBundle.save_attachment), the company report stylesheet (web's
    data record res.company.scss), a website editor SCSS customisation (web_editor's
    save_asset, url /_custom/...) and a media-library image (res_model ir.ui.view)."""
    css = b"/* compiled */ body{color:#333}\n"
    scss = b"$o-company-primary-color: #875a7b;\n"
    return x("ir.attachment", "create", [
        {"name": "web.assets_frontend.min.css", "type": "binary", "datas": b64(css),
         "mimetype": "text/css", "url": "/web/assets/1a2b3c4/web.assets_frontend.min.css",
         "res_model": "ir.ui.view", "res_id": False, "public": True},
        {"name": "res.company.scss", "type": "binary", "datas": b64(scss),
         "mimetype": "text/scss", "url": "/web/static/asset_styles_company_report.scss",
         "res_model": False, "res_id": False},
        {"name": "/_custom/web.assets_frontend/website/static/src/scss/user_values.scss",
         "type": "binary", "datas": b64(scss), "mimetype": "text/scss",
         "url": "/_custom/web.assets_frontend/website/static/src/scss/user_values.scss",
         "res_model": False, "res_id": False},
        {"name": "banner.png", "type": "binary", "datas": b64(png_bytes(rng, 2048)),
         "res_model": "ir.ui.view", "res_id": False, "public": True},
    ])


def bulk(x, n, per, size, model, batch):
    partner = x("res.partner", "create", {"name": "Bulk Customer", "is_company": True,
                                          "customer_rank": 1})
    ids = []
    for start in range(0, n, batch):
        vals = []
        for i in range(start, min(n, start + batch)):
            if model == "sale.order":
                vals.append({"partner_id": partner, "amount_total": float(i)})
            elif model == "res.partner":
                vals.append({"name": "Bulk Company %06d" % i, "is_company": True,
                             "customer_rank": 1})
            else:
                vals.append({"name": "Bulk task %06d" % i, "partner_id": partner})
        ids.extend(x(model, "create", vals))
    natt = 0
    pending, pending_bytes = [], 0
    budget = 16 * 1024 * 1024
    for k, rid in enumerate(ids):
        for j in range(per):
            raw = unique_blob(k * per + j, size)
            pending.append({"name": "file-%06d-%02d.bin" % (k, j), "res_model": model,
                            "res_id": rid, "datas": b64(raw),
                            "mimetype": "application/octet-stream"})
            pending_bytes += size
            if len(pending) >= batch or pending_bytes >= budget:
                natt += len(x("ir.attachment", "create", pending))
                pending, pending_bytes = [], 0
    if pending:
        natt += len(x("ir.attachment", "create", pending))
    return {"model": model, "records": len(ids), "first_id": ids[0] if ids else None,
            "last_id": ids[-1] if ids else None, "attachments": natt, "partner": partner}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url")
    ap.add_argument("--db", default="odoosync")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="admin")
    ap.add_argument("--direct", metavar="DIR", help="write into the emulator data dir DIR")
    ap.add_argument("--odoo-version", type=int, default=17)
    ap.add_argument("--sample", action="store_true")
    ap.add_argument("--bulk", action="store_true")
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--attachments-per-record", type=int, default=1)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--model", default="sale.order",
                    choices=["sale.order", "res.partner", "project.task"])
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args(argv)
    if not args.sample and not args.bulk:
        ap.error("say --sample or --bulk")
    if args.direct:
        x = Direct(args.direct, args.odoo_version)
    elif args.url:
        x = Client(args.url, args.db, args.user, args.password)
    else:
        ap.error("--url or --direct is required")
    summary = {}
    try:
        if args.sample:
            summary["sample"] = sample(x)
        if args.bulk:
            summary["bulk"] = bulk(x, args.records, args.attachments_per_record, args.size,
                                   args.model, max(1, args.batch))
    except RpcError as exc:
        sys.stderr.write("seed: %s\n" % exc)
        return 1
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
