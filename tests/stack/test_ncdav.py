#!/usr/bin/python3
"""stack.ncdav: the stack's Nextcloud-like WebDAV server (tests/stack/ncdav.py) behaves
as Nextcloud 27.1 does where odoosync depends on it. Each expectation here was seen on a
real Nextcloud 27.1 with curl (the same requests, the same answers up to the id values).

Runs against NCDAV_URL of the stack env file (ODOOSYNC_STACK_ENV), in its own folder.
"""
import base64
import http.client
import json
import os
import re
import sys
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

OC = "{http://owncloud.org/ns}"
O = "{urn:odoosync}"
PROPS = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" '
         b'xmlns:o="urn:odoosync"><d:prop><d:resourcetype/><d:getetag/><d:getcontentlength/>'
         b'<oc:fileid/><oc:id/><oc:checksums/><oc:permissions/><oc:size/><o:attachment/>'
         b'<o:record/><o:type/></d:prop></d:propfind>')


def load_env():
    path = os.environ.get("ODOOSYNC_STACK_ENV")
    if not path or not os.path.exists(path):
        raise unittest.SkipTest("no stack env (run under ctest with the stack fixture)")
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                env[k] = v
    if "NCDAV_URL" not in env:
        raise unittest.SkipTest("the stack has no NCDAV_URL")
    return env


class NcDav(unittest.TestCase):
    def setUp(self):
        env = load_env()
        u = urllib.parse.urlparse(env["NCDAV_URL"])
        self.host, self.port, self.base = u.hostname, u.port, u.path.rstrip("/")
        self.url = env["NCDAV_URL"].rstrip("/")
        self.auth = "Basic " + base64.b64encode(
            ("%s:%s" % (env["NCDAV_USER"], env["NCDAV_PASSWORD"])).encode()).decode()
        self.dir = "/ncdav-%s-%d" % (self._testMethodName, os.getpid())
        self.assertEqual(self.req("MKCOL", self.dir)[0], 201)
        self.addCleanup(self.req, "DELETE", self.dir)

    def req(self, method, path, body=None, headers=None, auth=True, raw_path=False):
        h = {"Authorization": self.auth} if auth else {}
        h.update(headers or {})
        c = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            c.request(method, path if raw_path else self.base + urllib.parse.quote(path),
                      body, h)
            r = c.getresponse()
            return r.status, r.read(), dict((k.lower(), v) for k, v in r.getheaders())
        finally:
            c.close()

    def p(self, rel):
        return self.dir + "/" + rel

    def dest(self, rel):
        return {"Destination": self.url + urllib.parse.quote(self.p(rel))}

    def put(self, rel, data=b"x", headers=None):
        st, _, h = self.req("PUT", self.p(rel), data, headers)
        self.assertIn(st, (201, 204), "PUT %s" % rel)
        return h

    def tag(self, rel, name, value):
        body = ('<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:o="urn:odoosync">'
                '<d:set><d:prop><o:%s>%s</o:%s></d:prop></d:set></d:propertyupdate>'
                % (name, value, name))
        st, data, _ = self.req("PROPPATCH", self.p(rel), body.encode())
        self.assertEqual(st, 207)
        self.assertIn(b"HTTP/1.1 200 OK", data)

    def listing(self, rel, depth="1"):
        """{relative href: {prop: value}} with the 200 properties; '' for the folder."""
        st, data, _ = self.req("PROPFIND", self.p(rel), PROPS, {"Depth": depth})
        self.assertEqual(st, 207)
        out = {}
        for r in ET.fromstring(data).findall("{DAV:}response"):
            href = r.find("{DAV:}href").text
            key = urllib.parse.unquote(href)[len(self.base + self.p(rel)):].strip("/")
            props = {}
            for ps in r.findall("{DAV:}propstat"):
                if "200" in ps.find("{DAV:}status").text:
                    for el in ps.find("{DAV:}prop"):
                        props[el.tag] = el.text or ("<collection>" if len(el) else "")
            out[key] = props
        return out

    def props(self, rel):
        return self.listing(rel, "0")[""]

    # ------------------------------------------------------------------ identity
    def test_mkcol_of_a_folder_being_made_is_locked(self):
        import threading
        got = []
        ts = [threading.Thread(target=lambda: got.append(self.req("MKCOL", self.p("m"))[0]))
              for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(sorted(got), [201, 423])
        self.assertEqual(self.req("MKCOL", self.p("m"))[0], 405)  # made, once

    def test_extended_mkcol_sets_properties_like_sabredav(self):
        body = ('<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:o="urn:odoosync"><d:set>'
                '<d:prop><d:resourcetype><d:collection/></d:resourcetype>'
                '<o:record>sale.order,19</o:record></d:prop></d:set></d:mkcol>').encode()
        xml = {"Content-Type": "application/xml; charset=utf-8"}
        self.assertEqual(self.req("MKCOL", self.p("x"), body, xml)[0], 201)
        self.assertEqual(self.props("x").get("{urn:odoosync}record"), "sale.order,19")
        self.assertEqual(self.req("MKCOL", self.p("x"), body, xml)[0], 405)
        # SabreDAV: an xml Content-Type, and a {DAV:}resourcetype of just a collection
        self.assertEqual(self.req("MKCOL", self.p("y"), body, {"Content-Type": "text/plain"})[0],
                         415)
        no_type = body.replace(b"<d:resourcetype><d:collection/></d:resourcetype>", b"")
        self.assertEqual(self.req("MKCOL", self.p("y"), no_type, xml)[0], 400)
        self.assertEqual(self.req("PROPFIND", self.p("y"), PROPS, {"Depth": "0"})[0], 404)

    def test_bulk_upload_like_nextcloud(self):
        import hashlib
        import json
        st, data, _ = self.req("GET", "/ocs/v2.php/cloud/capabilities?format=json",
                               headers={"OCS-APIRequest": "true"}, raw_path=True)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(data)["ocs"]["data"]["capabilities"]["dav"]["bulkupload"],
                         "1.0")
        self.put("old.txt", b"old content")
        self.tag("old.txt", "attachment", "7")
        fid_old = self.props("old.txt")["{http://owncloud.org/ns}fileid"]
        root = self.base[len("/remote.php/dav/files/odoosync"):]
        parts, files = [], {"new.txt": b"new", "old.txt": b"replaced", "nodir/x.txt": b"x"}
        for name, content in files.items():
            parts.append(("--B\r\nX-File-Path: %s\r\nX-File-MD5: %s\r\n"
                          "Content-Length: %d\r\n\r\n" % (root + self.p(name),
                                                          hashlib.md5(content).hexdigest(),
                                                          len(content))).encode()
                         + content + b"\r\n")
        body = b"".join(parts) + b"--B--\r\n"
        st, data, _ = self.req("POST", "/remote.php/dav/bulk", body,
                               {"Content-Type": "multipart/related; boundary=B"}, raw_path=True)
        self.assertEqual(st, 200)
        ans = json.loads(data)
        self.assertFalse(ans[root + self.p("new.txt")]["error"])
        self.assertTrue(ans[root + self.p("nodir/x.txt")]["error"])
        self.assertEqual(ans[root + self.p("nodir/x.txt")]["message"], "Could not create path")
        # an existing file is replaced, unconditionally, keeping its id and properties
        self.assertEqual(self.req("GET", self.p("old.txt"))[1], b"replaced")
        props = self.props("old.txt")
        self.assertEqual(props["{http://owncloud.org/ns}fileid"], fid_old)
        self.assertEqual(props.get("{urn:odoosync}attachment"), "7")
        self.assertTrue(ans[root + self.p("old.txt")]["fileid"].startswith(
            "%08d" % int(fid_old)))
        self.assertEqual(self.req("GET", self.p("new.txt"))[1], b"new")

    def test_status_says_nextcloud(self):
        st, data, _ = self.req("GET", "/status.php", auth=False, raw_path=True)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(data)["productname"], "Nextcloud")
        self.assertEqual(self.req("PROPFIND", self.dir, auth=False)[0], 401)

    def test_put_answers_fileid_and_etag(self):
        h = self.put("f.txt", b"hello")
        p = self.props("f.txt")
        self.assertRegex(h["oc-fileid"], r"^0*%s[a-z0-9]+$" % p[OC + "fileid"])
        self.assertEqual(h["etag"], p["{DAV:}getetag"])
        self.assertEqual(p[OC + "id"], h["oc-fileid"])
        self.assertEqual(p["{DAV:}getcontentlength"], "5")
        self.assertEqual(p[OC + "size"], "5")
        self.assertEqual(p[OC + "permissions"], "RGDNVW")
        self.assertNotIn(OC + "checksums", p)  # asked for, 404: none stored
        st, _, h2 = self.req("PUT", self.p("f.txt"), b"again")
        self.assertEqual(st, 204)
        self.assertEqual(h2["oc-fileid"], h["oc-fileid"], "a PUT over a file keeps its id")
        self.assertNotEqual(h2["etag"], h["etag"])

    def test_move_of_folder_drops_children_properties_keeps_fileids(self):
        self.req("MKCOL", self.p("a"))
        self.put("a/f.txt")
        self.tag("a", "record", "sale.order,1")
        self.tag("a/f.txt", "attachment", "42")
        before = self.listing("")
        fid = self.props("a/f.txt")[OC + "fileid"]
        own_etag = before["a"]["{DAV:}getetag"]
        st, _, _ = self.req("MOVE", self.p("a"), headers=self.dest("b"))
        self.assertEqual(st, 201)
        after = self.listing("b")
        self.assertEqual(after[""][O + "record"], "sale.order,1", "the moved folder keeps its own")
        self.assertNotIn(O + "attachment", after["f.txt"], "a child's property stays behind")
        self.assertEqual(after[""][OC + "fileid"], before["a"][OC + "fileid"])
        self.assertEqual(after["f.txt"][OC + "fileid"], fid)
        self.assertEqual(after[""]["{DAV:}getetag"], own_etag, "a moved folder keeps its ETag")
        # ... and a new file at the old path inherits the property left behind
        self.req("MKCOL", self.p("a"))
        self.put("a/f.txt", b"new")
        self.assertEqual(self.props("a/f.txt").get(O + "attachment"), "42")
        self.assertNotIn(O + "record", self.props("a"), "the folder's own moved with it")
        # a folder moved onto a path with properties left behind inherits them, its own win
        self.req("MKCOL", self.p("a/s"))
        self.tag("a/s", "record", "sale.order,9")
        self.tag("a/s", "type", "T")
        self.assertEqual(self.req("MOVE", self.p("a"), headers=self.dest("a2"))[0], 201)
        self.req("MKCOL", self.p("a"))
        self.req("MKCOL", self.p("y"))
        self.tag("y", "record", "sale.order,10")
        self.assertEqual(self.req("MOVE", self.p("y"), headers=self.dest("a/s"))[0], 201)
        now = self.props("a/s")
        self.assertEqual((now.get(O + "record"), now.get(O + "type")), ("sale.order,10", "T"))

    def test_move_of_file_keeps_its_properties_id_and_etag(self):
        self.put("f.txt")
        self.tag("f.txt", "attachment", "7")
        before = self.props("f.txt")
        self.assertEqual(self.req("MOVE", self.p("f.txt"), headers=self.dest("g.txt"))[0], 201)
        after = self.props("g.txt")
        for k in (OC + "fileid", "{DAV:}getetag", O + "attachment"):
            self.assertEqual(after[k], before[k], k)

    def test_delete_of_folder_leaves_children_properties(self):
        self.req("MKCOL", self.p("b"))
        self.put("b/f.txt")
        self.tag("b", "record", "sale.order,2")
        self.tag("b/f.txt", "attachment", "43")
        old = self.props("b/f.txt")[OC + "fileid"]
        self.assertEqual(self.req("DELETE", self.p("b"))[0], 204)
        self.assertEqual(self.req("MKCOL", self.p("b"))[0], 201)
        self.put("b/f.txt", b"someone else's")
        now = self.listing("b")
        self.assertNotIn(O + "record", now[""], "the deleted path's own properties went")
        self.assertEqual(now["f.txt"].get(O + "attachment"), "43", "the child's stayed")
        self.assertNotEqual(now["f.txt"][OC + "fileid"], old, "a new file, a new id")

    def test_delete_of_file_forgets_its_properties(self):
        self.put("f.txt")
        self.tag("f.txt", "attachment", "9")
        self.assertEqual(self.req("DELETE", self.p("f.txt"))[0], 204)
        self.put("f.txt")
        self.assertNotIn(O + "attachment", self.props("f.txt"))

    def test_copy_gives_new_ids_and_no_properties(self):
        self.req("MKCOL", self.p("b"))
        self.put("b/f.txt")
        self.tag("b/f.txt", "attachment", "44")
        self.tag("b", "record", "sale.order,3")
        self.assertEqual(self.req("COPY", self.p("b/f.txt"), headers=self.dest("b/g.txt"))[0], 201)
        self.assertEqual(self.req("COPY", self.p("b"), headers=self.dest("c"))[0], 201)
        src, c = self.listing("b"), self.listing("c")
        self.assertEqual(sorted(k for k in c if k), ["f.txt", "g.txt"])
        ids = {src[k][OC + "fileid"] for k in src} | {c[k][OC + "fileid"] for k in c}
        self.assertEqual(len(ids), 6, "every copy has its own id")
        self.assertNotIn(O + "attachment", src["g.txt"])
        self.assertNotIn(O + "record", c[""])
        self.assertNotIn(O + "attachment", c["f.txt"])

    def test_etags_propagate_but_not_for_proppatch(self):
        self.req("MKCOL", self.p("a"))
        self.req("MKCOL", self.p("a/s"))
        self.put("a/s/f.txt")
        e0 = self.listing("")
        self.tag("a/s/f.txt", "attachment", "1")
        self.assertEqual(self.listing(""), e0, "PROPPATCH changes no ETag")
        self.put("a/s/f.txt", b"changed")
        e1 = self.listing("")
        self.assertNotEqual(e1[""]["{DAV:}getetag"], e0[""]["{DAV:}getetag"])
        self.assertNotEqual(e1["a"]["{DAV:}getetag"], e0["a"]["{DAV:}getetag"])
        self.assertNotEqual(self.props("")["{DAV:}getetag"], e0[""]["{DAV:}getetag"])
        self.assertEqual(e1["a"][OC + "size"], "7", "a folder's oc:size is its total")

    # ------------------------------------------------------------------ status codes
    def test_status_codes(self):
        self.req("MKCOL", self.p("b"))
        self.put("b/f.txt")
        self.put("b/g.txt")
        d = self.dest
        cases = [
            ("MOVE", "b/f.txt", dict(d("b/g.txt"), Overwrite="F"), 412),
            ("MOVE", "b/f.txt", d("zz/g.txt"), 409),
            ("MOVE", "b/f.txt", dict(d("b/h.txt"), **{"If-Match": '"xx"'}), 412),
            ("MOVE", "b", d("b/x"), 409),
            ("MOVE", "b", d("b"), 403),
            ("MOVE", "nope", d("b/h.txt"), 404),
            ("MKCOL", "b", {}, 405),
            ("MKCOL", "zz/y", {}, 409),
            ("PUT", "zz/y.txt", {}, 404),
            ("PUT", "b/f.txt", {"If-None-Match": "*"}, 412),
            ("PUT", "b/f.txt", {"If-Match": '"xx"'}, 412),
            ("DELETE", "nope", {}, 404),
            ("DELETE", "b/f.txt", {"If-Match": '"xx"'}, 412),
            ("PROPFIND", "nope", {"Depth": "0"}, 404),
            ("GET", "nope", {}, 404),
        ]
        for method, rel, headers, code in cases:
            body = b"x" if method == "PUT" else None
            st = self.req(method, self.p(rel), body, headers)[0]
            self.assertEqual(st, code, "%s %s %s" % (method, rel, headers))
        # MOVE over an existing entry: 204, the destination's id and properties are gone
        self.tag("b/f.txt", "attachment", "50")
        gid = self.props("b/g.txt")[OC + "fileid"]
        self.assertEqual(self.req("MOVE", self.p("b/g.txt"), headers=d("b/f.txt"))[0], 204)
        now = self.props("b/f.txt")
        self.assertEqual(now[OC + "fileid"], gid)
        self.assertNotIn(O + "attachment", now)
        etag = now["{DAV:}getetag"]
        st, _, _ = self.req("DELETE", self.p("b/f.txt"), headers={"If-Match": etag})
        self.assertEqual(st, 204)

    def test_hrefs_depth_and_web_link(self):
        self.req("MKCOL", self.p("d"))
        self.req("MKCOL", self.p("d/e"))
        name = "a b&c'(1)+\u00e9.txt"
        self.put("d/e/" + name, b"12")
        st, data, _ = self.req("PROPFIND", self.p("d"), PROPS, {"Depth": "infinity"})
        self.assertEqual(st, 207)
        hrefs = re.findall(r"<d:href>([^<]*)</d:href>", data.decode())
        enc = urllib.parse.quote(self.p("d"))
        self.assertEqual(hrefs, [self.base + enc + "/", self.base + enc + "/e/",
                                 self.base + enc + "/e/a%20b%26c%27(1)%2b%c3%a9.txt"])
        fid = self.props("d/e/" + name)[OC + "fileid"]
        st, _, h = self.req("GET", "/index.php/f/%s" % fid, raw_path=True)
        self.assertEqual(st, 303)
        self.assertIn("openfile=%s" % fid, h["location"])
        self.assertIn("dir=%s" % urllib.parse.quote(self.p("d/e")), h["location"])
        st, body, _ = self.req("GET", self.p("d/e/" + name))
        self.assertEqual((st, body), (200, b"12"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
