#!/usr/bin/python3
"""dav_fault_server: a small in-memory WebDAV server that misbehaves on cue.

Started by tests/integration/test_dav_faults.c on a free loopback port:

    dav_fault_server.py --log FILE [--no-bulk] [--rule 'METHOD PATH FAULT[,FAULT...]']...

It prints "PORT <n>" on stdout once it listens, then serves /dav/ with just
enough WebDAV for the client's fault tests: PUT (stored only once the whole
body arrived, like mod_dav_fs's temp file + rename), GET, DELETE, MKCOL and
PROPFIND (Depth 0/1 over the stored files). Each rule gives, for the
requests matching METHOD and PATH (the raw request path; a PATH ending in
'*' matches every path starting with what precedes it), a queue of
behaviours consumed one request at a time; when the queue is empty the
request is served normally ("ok" in a queue also means: serve normally).

Faults:
  503 | 429 | 502 | 504   that status, no Retry-After
  404                    404 Not Found (whatever the path)
  423                    423 Locked (Nextcloud, to a MKCOL of a folder another request is
                         making at that moment)
  503ra<N>               503 with Retry-After: N (seconds)
  reset                  read half of the request body, then reset the connection (RST)
  malformed              207 with a truncated multistatus body
  html                   200 text/html instead of a multistatus
  cutlist                207 headers and part of a listing, then reset
  partial                207 Multi-Status naming a member that failed with 423 Locked (what
                         mod_dav answers to a MOVE or DELETE of a folder with a locked child)

Nextcloud's chunked upload v2 works under /remote.php/dav/uploads/u/ (MKCOL,
PUT chunks, MOVE .file with Destination, OC-Total-Length, Overwrite), the
files under /remote.php/dav/files/u/. GET /status.php answers like Nextcloud, and a stored PUT answers with
OC-FileId and OC-ETag headers, for the client's Nextcloud dialect tests. X-OC-Mtime on a PUT
sets the file's getlastmodified.

Nextcloud's bulk upload (apps/dav/lib/BulkUpload/ in nextcloud/server, followed closely):
GET /ocs/v2.php/cloud/capabilities?format=json (and v1) announces dav.bulkupload "1.0"
unless --no-bulk; POST /remote.php/dav/bulk takes a multipart/related body, each part
"--B\r\n", headers (Content-Length and X-File-MD5 required, X-File-Path relative to the
user's files root, X-File-Mtime or X-OC-Mtime), "\r\n", the bytes, "\r\n", and
"--B--\r\n" last. A part whose MD5 does not match, or a malformed body, stops the parse:
400 with the JSON of the files written so far. A file that cannot be written (parent
missing, a folder there) is an entry {"error": true, "message"}; a written one
{"error": false, "etag", "fileid", "permissions"}; 200 with the JSON object keyed by
X-File-Path. Like Nextcloud, an existing file is replaced. With --no-bulk, POST /bulk is 404.

Every request is logged to FILE as one JSON line:
  {"method", "path", "fault", "body_bytes", "status", "checksum" (OC-Checksum)}
Only the Python standard library; loopback only.
"""

import argparse
import hashlib
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import urllib.parse
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "stack"))
import ncbulk  # noqa: E402  (the multipart body, as Nextcloud parses it)


class State:
    def __init__(self, rules, log_path):
        self.lock = threading.Lock()
        self.files = {}  # decoded path -> bytes
        self.dirs = {"/dav", "/remote.php/dav/files/u", "/remote.php/dav/uploads/u"}
        self.mtimes = {}  # decoded path -> unix seconds (X-OC-Mtime / X-File-Mtime)
        self.bulk = True
        self.next_id = 0
        self.rules = rules  # (method, path) -> list of faults
        self.log = open(log_path, "a", buffering=1)

    def next_fault(self, method, path):
        with self.lock:
            q = self.rules.get((method, path))
            if not q:
                for (m, p), rq in self.rules.items():
                    if m == method and p.endswith("*") and path.startswith(p[:-1]) and rq:
                        q = rq
                        break
            if q:
                return q.pop(0)
        return "ok"

    def record(self, **kw):
        with self.lock:
            self.log.write(json.dumps(kw) + "\n")


def parse_rule(text):
    parts = text.split(None, 2)
    if len(parts) != 3:
        raise SystemExit("bad rule: %r" % text)
    return (parts[0], parts[1]), [f for f in parts[2].split(",") if f]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dav-fault-server/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    @property
    def st(self):
        return self.server.state

    def _path(self):
        p = urllib.parse.unquote(self.path.split("?", 1)[0])
        return p.rstrip("/") or "/"

    def _log(self, status):
        # logged before the answer goes out, so a client reading the log after
        # its call returned always finds the line
        if not self.logged:
            self.logged = True
            self.st.record(method=self.command, path=self.path, fault=self.cur_fault,
                           body_bytes=self.cur_bytes, status=status,
                           checksum=self.headers.get("OC-Checksum", ""),
                           files=self.bulk_files)

    def _reply(self, status, body=b"", ctype="text/plain", headers=None):
        self._log(status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _reset(self):
        # SO_LINGER 0: close sends RST, the client sees a reset, not a clean end
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(min(65536, n - len(data)))
            if not chunk:
                break
            data += chunk
        return data

    def _handle(self):
        fault = self.st.next_fault(self.command, self.path)
        self.cur_fault = fault
        self.cur_bytes = 0
        self.logged = False
        self.bulk_files = None
        try:
            if fault == "404":
                self.cur_bytes = len(self._read_body())
                self._reply(404, b"not found\n")
                return
            if fault == "423":
                self.cur_bytes = len(self._read_body())
                self._reply(423, b"locked\n")
                return
            if fault in ("503", "429", "502", "504") or fault.startswith("503ra"):
                body = self._read_body()
                self.cur_bytes = len(body)
                status = int(fault[:3])
                headers = {}
                if fault.startswith("503ra"):
                    headers["Retry-After"] = fault[5:]
                self._reply(status, b"busy, try later\n", headers=headers)
                return
            if fault == "reset":
                n = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Expect", "").lower() == "100-continue":
                    self.send_response_only(100)
                    self.end_headers()
                got = self.rfile.read(n // 2) if n else b""
                self.cur_bytes = len(got)
                self._log(0)
                self._reset()
                return
            if fault == "malformed":
                self._read_body()
                self._reply(207, b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">'
                            b"<d:response><d:href>/dav/x</d:href><d:propst",
                            "application/xml; charset=utf-8")
                return
            if fault == "html":
                self._read_body()
                self._reply(200, b"<html><body><p>Welcome to nginx!</p></body></html>",
                            "text/html")
                return
            if fault == "partial":
                self._read_body()
                href = self.path.rstrip("/") + "/locked.txt"
                self._reply(207, ('<?xml version="1.0" encoding="utf-8"?>\n'
                                  '<D:multistatus xmlns:D="DAV:"><D:response><D:href>%s'
                                  '</D:href><D:status>HTTP/1.1 423 Locked</D:status>'
                                  '</D:response></D:multistatus>' % href).encode(),
                            "text/xml; charset=utf-8")
                return
            if fault == "cutlist":
                self._read_body()
                self._log(207)
                part = (b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response>'
                        b"<d:href>/dav/a</d:hr")
                self.send_response(207)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(part)
                self.wfile.flush()
                self._reset()
                return
            self._serve()
        finally:
            self._log(0)

    def _serve(self):
        p = self._path()
        m = self.command
        st = self.st
        if m == "PUT":
            body = self._read_body()
            self.cur_bytes = len(body)
            parent = p.rsplit("/", 1)[0] or "/"
            mtime = self.headers.get("X-OC-Mtime")
            with st.lock:
                if parent not in st.dirs:
                    code = 409
                else:
                    code = 204 if p in st.files else 201
                    st.files[p] = body  # stored only once complete
                    if mtime and mtime.isdigit():
                        st.mtimes[p] = int(mtime)
                    else:
                        st.mtimes.pop(p, None)
            headers = None
            if code < 300:
                # Nextcloud/ownCloud send the new file's id and etag with the answer
                with st.lock:
                    st.next_id += 1
                    fid = "%08docinstance" % st.next_id
                headers = {"ETag": '"%x"' % len(body), "OC-ETag": '"oc%x"' % len(body),
                           "OC-FileId": fid}
            self._reply(code, headers=headers)
            return code
        if m == "GET" and p in ("/ocs/v1.php/cloud/capabilities",
                                "/ocs/v2.php/cloud/capabilities"):
            if self.headers.get("OCS-APIRequest", "").lower() != "true":
                self._reply(412, b'{"message":"CSRF check failed"}', "application/json")
                return 412
            dav = {"chunking": "1.0"}
            if st.bulk:
                dav["bulkupload"] = "1.0"
            body = json.dumps({"ocs": {"meta": {"status": "ok", "statuscode": 200,
                                                "message": "OK"},
                                       "data": {"version": {"major": 28, "string": "28.0.1"},
                                                "capabilities": {"dav": dav}}}}).encode()
            self._reply(200, body, "application/json; charset=utf-8")
            return 200
        if m == "POST" and p == "/remote.php/dav/bulk":
            return self._bulk()
        if m == "GET" and p == "/status.php":
            body = json.dumps({"installed": True, "maintenance": False, "needsDbUpgrade": False,
                               "version": "28.0.1.1", "versionstring": "28.0.1",
                               "edition": "", "productname": "Nextcloud",
                               "extendedSupport": False}).encode()
            self._reply(200, body, "application/json")
            return 200
        if m == "GET":
            with st.lock:
                data = st.files.get(p)
            if data is None:
                self._reply(404, b"not found\n")
                return 404
            self._reply(200, data, "application/octet-stream", {"ETag": '"%x"' % len(data)})
            return 200
        if m == "MKCOL":
            self._read_body()
            with st.lock:
                exists = p in st.dirs or p in st.files
                if not exists:
                    st.dirs.add(p)
            self._reply(405 if exists else 201)
            return 405 if exists else 201
        if m == "DELETE":
            with st.lock:
                found = st.files.pop(p, None) is not None
                if p in st.dirs:
                    found = True
                    st.dirs.discard(p)
                    for f in [f for f in st.files if f.startswith(p + "/")]:
                        del st.files[f]
            self._reply(204 if found else 404)
            return 204 if found else 404
        if m == "MOVE" and p.endswith("/.file"):
            # Nextcloud chunked upload v2: assemble the chunks at Destination
            updir = p[: -len("/.file")]
            dest = urllib.parse.unquote(urllib.parse.urlsplit(self.headers["Destination"]).path)
            dest = dest.rstrip("/")
            total = int(self.headers.get("OC-Total-Length", "-1"))
            with st.lock:
                if updir not in st.dirs:
                    code = 404
                elif self.headers.get("Overwrite", "T") == "F" and dest in st.files:
                    code = 412
                else:
                    names = sorted(f for f in st.files if f.rsplit("/", 1)[0] == updir)
                    data = b"".join(st.files[f] for f in names)
                    if total >= 0 and total != len(data):
                        code = 400
                    else:
                        code = 204 if dest in st.files else 201
                        st.files[dest] = data
                        for f in names:
                            del st.files[f]
                        st.dirs.discard(updir)
                        st.next_id += 1
                        fid = "%08docinstance" % st.next_id
            headers = None
            if code < 300:
                headers = {"OC-ETag": '"oc%x"' % len(data), "OC-FileId": fid}
            self._reply(code, headers=headers)
            return code
        if m == "PROPFIND":
            self._read_body()
            depth = self.headers.get("Depth", "1")
            with st.lock:
                if p in st.files:
                    items = [(p, False, len(st.files[p]))]
                elif p in st.dirs:
                    items = [(p, True, 0)]
                    if depth != "0":
                        for f, data in sorted(st.files.items()):
                            if f.rsplit("/", 1)[0] == p:
                                items.append((f, False, len(data)))
                        for dname in sorted(st.dirs):
                            if dname != p and dname.rsplit("/", 1)[0] == p:
                                items.append((dname, True, 0))
                else:
                    items = None
            if items is None:
                self._reply(404, b"not found\n")
                return 404
            out = ['<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">']
            for path, is_dir, size in items:
                href = urllib.parse.quote(path + ("/" if is_dir else ""))
                with st.lock:
                    mt = st.mtimes.get(path)
                rt = "<D:collection/>" if is_dir else ""
                out.append("<D:response><D:href>%s</D:href><D:propstat><D:prop>"
                           "<D:resourcetype>%s</D:resourcetype><D:getcontentlength>%d"
                           "</D:getcontentlength><D:getetag>\"%x\"</D:getetag>"
                           "<D:getlastmodified>%s</D:getlastmodified></D:prop>"
                           "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
                           % (href, rt, size, size, formatdate(mt, usegmt=True)))
            out.append("</D:multistatus>\n")
            self._reply(207, "".join(out).encode(), "application/xml; charset=utf-8")
            return 207
        self._reply(405)
        return 405

    def _bulk(self):
        """Nextcloud's BulkUploadPlugin::httpPost + MultipartRequestParser."""
        st = self.st
        body = self._read_body()
        self.cur_bytes = len(body)
        written = {}
        self.bulk_files = []

        def answer(code):
            self._reply(code, json.dumps(written).encode(), "application/json; charset=utf-8")
            return code

        if not st.bulk:
            self._reply(404, b"not found\n")
            return 404
        status, parts = ncbulk.parse(self.headers.get("Content-Type"), body)
        for headers, content in parts:
            path = headers.get("x-file-path", "")
            mtime = headers.get("x-file-mtime") or headers.get("x-oc-mtime")
            full = "/remote.php/dav/files/u" + path
            parent = full.rsplit("/", 1)[0] or "/"
            with st.lock:
                if not path.startswith("/") or parent not in st.dirs or full in st.dirs:
                    written[path] = {"error": True, "message": "Could not create path"}
                    continue
                st.files[full] = content
                if mtime and mtime.isdigit():
                    st.mtimes[full] = int(mtime)
                else:
                    st.mtimes.pop(full, None)
                st.next_id += 1
                fid = "%08docinstance" % st.next_id
            self.bulk_files.append(path)
            written[path] = {"error": False, "etag": hashlib.md5(content + fid.encode()).hexdigest(),
                             "fileid": fid, "permissions": "RGDNVW"}
        return answer(status)

    do_PUT = do_GET = do_MKCOL = do_DELETE = do_PROPFIND = do_HEAD = do_MOVE = _handle
    do_POST = _handle


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--rule", action="append", default=[])
    ap.add_argument("--no-bulk", action="store_true", help="no Nextcloud bulk upload endpoint")
    args = ap.parse_args()
    rules = {}
    for r in args.rule:
        k, q = parse_rule(r)
        rules.setdefault(k, []).extend(q)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(rules, args.log)
    srv.state.bulk = not args.no_bulk
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
