#!/usr/bin/env python3
"""peers_verify: after `bench/run peers`, check what one odoosync run left on the real peers.

    peers_verify.py RUN [--odoo-url URL] [--odoo-db DB] [--nc-url URL] [--nc-user U]
                        --nc-password P [--limit N]

RUN is a run's tag as the benchmark logs it ("6b0fddbd-1x200-local"). For every
attachment of that run's partners: it is a `url` one whose web link names a Nextcloud
file id (/f/<id>); Nextcloud finds exactly one file with that id (WebDAV SEARCH); the
file carries no odoosync tag but the attachment's id (uploads to Nextcloud write none: the
web link is the identity); its bytes are the ones the benchmark seeded. Prints the bad ones and a count; exit 1 when any is bad.
"""
import argparse
import base64
import os
import re
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--odoo-url", default="http://127.0.0.1:8069")
    ap.add_argument("--odoo-db", default="odoosync_bench")
    ap.add_argument("--nc-url", default="http://127.0.0.1:8080")
    ap.add_argument("--nc-user", default="bench")
    ap.add_argument("--nc-password", required=True)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--limit", type=int, default=0, help="check only the first N attachments")
    args = ap.parse_args()
    m = re.match(r"^[0-9a-f]+-(\d+)x(\d+)-", args.run)
    if not m:
        ap.error("RUN looks like 6b0fddbd-1x200-local")
    per = int(m.group(2))
    o = peers.Odoo(args.odoo_url, args.odoo_db, "admin", "admin")

    def x(model, method, a, kw=None):
        return o.rpc("object", "execute_kw", [args.odoo_db, o.uid, "admin", model, method, a,
                                              kw or {}])

    auth = "Basic " + base64.b64encode(("%s:%s" % (args.nc_user, args.nc_password))
                                       .encode()).decode()

    def dav(method, url, body=None, headers=None):
        h = {"Authorization": auth}
        h.update(headers or {})
        req = urllib.request.Request(url, data=body, method=method, headers=h)
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.read()

    ids = [p["id"] for p in x("res.partner", "search_read",
                               [[["name", "like", "bench %s " % args.run]]], {"fields": ["id"]})]
    atts = x("ir.attachment", "search_read",
             [[["res_model", "=", "res.partner"], ["res_id", "in", ids]]],
             {"fields": ["id", "name", "type", "url"], "order": "id"})
    if args.limit:
        atts = atts[:args.limit]
    bad = 0
    for a in atts:
        fid = re.search(r"/f/(\d+)$", a["url"] or "")
        if a["type"] != "url" or not fid:
            print("attachment %d (%s): not a web link: %s %s" % (a["id"], a["name"], a["type"],
                                                                a["url"]))
            bad += 1
            continue
        search = (
            '<?xml version="1.0"?><d:searchrequest xmlns:d="DAV:" '
            'xmlns:oc="http://owncloud.org/ns"><d:basicsearch><d:select><d:prop><oc:fileid/>'
            '</d:prop></d:select><d:from><d:scope><d:href>/files/%s</d:href><d:depth>infinity'
            '</d:depth></d:scope></d:from><d:where><d:eq><d:prop><oc:fileid/></d:prop>'
            '<d:literal>%s</d:literal></d:eq></d:where></d:basicsearch></d:searchrequest>'
            % (args.nc_user, fid.group(1)))
        hrefs = re.findall(r"<d:href>([^<]*)</d:href>",
                           dav("SEARCH", args.nc_url + "/remote.php/dav/", search.encode(),
                               {"Content-Type": "text/xml"}).decode())
        if len(hrefs) != 1:
            print("attachment %d: file id %s is %r" % (a["id"], fid.group(1), hrefs))
            bad += 1
            continue
        props = dav("PROPFIND", args.nc_url + hrefs[0],
                    b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:o="urn:odoosync">'
                    b'<d:prop><o:attachment/></d:prop></d:propfind>', {"Depth": "0"}).decode()
        tag = re.findall(r"<[a-z0-9]+:attachment[^>/]*>([^<]*)</", props)
        k, j = map(int, re.search(r"file-(\d+)-(\d+)", a["name"]).groups())
        want = peers.blob(k * per + j, args.size, args.run)
        got = dav("GET", args.nc_url + hrefs[0])
        if tag not in ([], [""], [str(a["id"])]) or got != want:
            print("attachment %d (%s): tag %r, content %s" % (
                a["id"], a["name"], tag, "as seeded" if got == want else "DIFFERS"))
            bad += 1
    print("%d attachments of %d partners checked, %d bad" % (len(atts), len(ids), bad))
    return 1 if bad or not atts else 0


if __name__ == "__main__":
    sys.exit(main())
