#!/usr/bin/python3
"""ncdav: a Nextcloud-like WebDAV server for the test stack (standard library only).

    ncdav.py --data-dir DIR [--host 127.0.0.1] [--port 0] [--port-file F] [--user U]
    (the password comes from $NCDAV_PASSWORD)

It answers like Nextcloud 27.1 where odoosync cares (each behaviour below was checked
with curl against a real Nextcloud 27.1), so CI sees what the real server does:

  - /status.php says Nextcloud (odoosync's dialect detection); WebDAV at
    /remote.php/dav/files/<user>/ (and the legacy /remote.php/webdav/), Basic auth,
    401 with `WWW-Authenticate: Basic realm="Nextcloud"`.
  - every file and folder has an `oc:fileid` (an integer, never reused) that stays the
    same across renames and moves of the entry and of its parents; COPY and a PUT at a
    new path give new ids; a PUT over an existing file keeps its id. PUT answers
    `OC-FileId` (`%08d` + instance id), `ETag` and `OC-ETag`.
  - ETags: a file's is a 32-hex-digit value, new when its content changes, kept by a
    rename or move; a folder's is a 13-hex-digit value, new for every folder above an
    entry that is created, written, moved (both sides) or deleted, up to the user's root
    (one new value per change, the same for the whole chain). A moved folder keeps its
    own ETag. PROPPATCH changes no ETag.
  - dead properties (PROPPATCH, any namespace) are stored per exact path, as Nextcloud's
    custom-properties backend does: MOVE re-keys only the path moved, so the children
    of a moved folder lose theirs (their old properties stay behind at the old paths);
    DELETE forgets only the exact path deleted, so a deleted folder's children's
    properties stay behind; a new entry created later at such a path, or moved there,
    inherits them (an entry moved there keeps its own where both have a name).
    COPY copies none. A PUT over an existing file keeps them. PROPPATCH answers 207,
    200 per property set and 204 per property removed.
  - PROPFIND Depth 0, 1 and infinity: hrefs percent-encoded with lower-case hex
    (`%20`, `%2b`, `%c3%a9`; `( ) ' ` kept as Nextcloud does for parentheses), folders
    with a trailing '/'; found properties in a 200 propstat, the others asked for in a
    404 propstat (`oc:checksums` is always there: no checksum is stored); `oc:size` is a
    folder's total size; `d:getcontentlength` / `d:getcontenttype` 404 on folders.
  - status codes: MKCOL 201 (an extended MKCOL, RFC 5689, stores the properties it sets,
    as SabreDAV does), 405 if it exists, 409 without its parent; PUT 201 new /
    204 replaced, 404 without its parent, 412 on If-Match / If-None-Match: * failures;
    DELETE 204, 404, 412 (If-Match); MOVE/COPY 201 new / 204 replaced, 412 for
    Overwrite: F onto an existing entry or an If-Match failure, 409 without the
    destination's parent or into its own subtree, 403 onto itself, 404 without source.
  - bulk upload (apps/dav/lib/BulkUpload/ in Nextcloud 27, read in its source): the
    capabilities (/ocs/v[12].php/cloud/capabilities) announce dav.bulkupload "1.0"
    (unless --no-bulk); POST /remote.php/dav/bulk takes a multipart/related body
    (ncbulk.py), and writes each part at its X-File-Path under the user's root as
    Folder::newFile does: a file there is replaced (its id and properties kept, as by
    a PUT over it), a missing folder is {"error": true, "message": "Could not create
    path"}; the answer maps each path to its etag (unquoted) and `%08d` file id.
  - a MKCOL of a folder another MKCOL is making at that moment is 423 Locked
    (`Sabre\\DAV\\Exception\\FileLocked`, '"<name>" is locked'): Nextcloud's file locking,
    seen on Nextcloud 27 when two clients make the same missing folder; a MKCOL here
    holds its path for MKCOL_LOCK_S.
  - web links: /index.php/f/<fileid> (and /f/<fileid>, where pretty URLs are on)
    answer 303 to /index.php/apps/files/?dir=<folder>&openfile=<fileid>&scrollto=<name>.

Data: DIR/files/<user>/ holds the files; DIR/meta.sqlite the file cache (path ->
fileid, etag) and the property store (path, namespace, name -> value). An entry put on
disk directly is given an id and an ETag when a listing first sees it.
"""

import argparse
import base64
import email.utils
import hashlib
import http.server
import json
import mimetypes
import os
import secrets
import shutil
import socketserver
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncbulk  # noqa: E402  (the bulk upload's multipart body: ncbulk.py)
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

DAV = "DAV:"
OC = "http://owncloud.org/ns"
NC = "http://nextcloud.org/ns"
STATUS = {"installed": True, "maintenance": False, "needsDbUpgrade": False,
          "version": "27.1.0.7", "versionstring": "27.1.0", "edition": "",
          "productname": "Nextcloud", "extendedSupport": False}
LIVE_ORDER = [(DAV, "resourcetype"), (DAV, "getetag"), (DAV, "getlastmodified"),
              (DAV, "getcontentlength"), (DAV, "getcontenttype"), (OC, "fileid"), (OC, "id"),
              (OC, "permissions"), (OC, "size")]
NC_SAFE = "-_.~()/"


def href_quote(path):
    """Sabre's encodePath as Nextcloud answers it: lower-case hex."""
    out = []
    for b in path.encode("utf-8"):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in NC_SAFE):
            out.append(c)
        else:
            out.append("%%%02x" % b)
    return "".join(out)


def parent_of(rel):
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def new_file_etag():
    return secrets.token_hex(16)


def new_dir_etag():
    return "%013x" % (int(time.time() * 1e6) ^ secrets.randbits(16))


MKCOL_LOCK_S = 0.02  # how long a MKCOL holds its path's lock here (Nextcloud: its run)


class Store:
    """The file cache and the property store; every call under self.lock."""

    def __init__(self, data_dir, user):
        self.root = os.path.join(data_dir, "files", user)
        os.makedirs(self.root, exist_ok=True)
        self.db = sqlite3.connect(os.path.join(data_dir, "meta.sqlite"),
                                  check_same_thread=False, isolation_level=None)
        self.db.executescript("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=OFF;
            CREATE TABLE IF NOT EXISTS filecache (path TEXT PRIMARY KEY, fileid INTEGER,
                etag TEXT, size INTEGER, mtime_ns INTEGER);
            CREATE TABLE IF NOT EXISTS props (path TEXT, ns TEXT, name TEXT, value TEXT,
                PRIMARY KEY (path, ns, name));
            CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
        """)
        row = self.db.execute("SELECT v FROM meta WHERE k='instance'").fetchone()
        if row:
            self.instance = row[0]
        else:
            self.instance = "oc" + secrets.token_hex(5)
            self.db.execute("INSERT INTO meta VALUES ('instance', ?)", (self.instance,))
            self.db.execute("INSERT INTO meta VALUES ('next_fileid', '2')")
        self.lock = threading.RLock()

    # --- disk ------------------------------------------------------------------------
    def disk(self, rel):
        return os.path.join(self.root, rel) if rel else self.root

    def exists(self, rel):
        return os.path.lexists(self.disk(rel))

    def is_dir(self, rel):
        return os.path.isdir(self.disk(rel))

    # --- file cache ------------------------------------------------------------------
    def _next_id(self):
        v = int(self.db.execute("SELECT v FROM meta WHERE k='next_fileid'").fetchone()[0])
        self.db.execute("UPDATE meta SET v=? WHERE k='next_fileid'", (str(v + 1),))
        return v

    def entry(self, rel):
        """(fileid, etag, size, mtime_ns, is_dir) of an existing entry, made on first sight;
        a file changed on disk behind our back gets a new ETag."""
        st = os.stat(self.disk(rel))
        is_dir = os.path.isdir(self.disk(rel))
        row = self.db.execute("SELECT fileid, etag, size, mtime_ns FROM filecache WHERE path=?",
                              (rel,)).fetchone()
        if row is None:
            fid = self._next_id()
            etag = new_dir_etag() if is_dir else new_file_etag()
            self.db.execute("INSERT INTO filecache VALUES (?,?,?,?,?)",
                            (rel, fid, etag, st.st_size, st.st_mtime_ns))
            return fid, etag, st.st_size, st.st_mtime_ns, is_dir
        fid, etag, size, mtime = row
        if not is_dir and (size != st.st_size or mtime != st.st_mtime_ns):
            etag = new_file_etag()
            self.db.execute("UPDATE filecache SET etag=?, size=?, mtime_ns=? WHERE path=?",
                            (etag, st.st_size, st.st_mtime_ns, rel))
        return fid, etag, st.st_size, st.st_mtime_ns, is_dir

    def new_entry(self, rel, keep_id=False):
        """rel was just created or rewritten on disk: a new ETag (and id unless kept)."""
        st = os.stat(self.disk(rel))
        is_dir = os.path.isdir(self.disk(rel))
        etag = new_dir_etag() if is_dir else new_file_etag()
        row = self.db.execute("SELECT fileid FROM filecache WHERE path=?", (rel,)).fetchone()
        fid = row[0] if (row and keep_id) else self._next_id()
        self.db.execute("INSERT OR REPLACE INTO filecache VALUES (?,?,?,?,?)",
                        (rel, fid, etag, st.st_size, st.st_mtime_ns))
        return fid, etag

    def forget_tree(self, rel):
        """The cache rows of rel and everything below (the properties stay)."""
        if rel:
            self.db.execute("DELETE FROM filecache WHERE path=? OR substr(path,1,?)=?",
                            (rel, len(rel) + 1, rel + "/"))
        else:
            self.db.execute("DELETE FROM filecache")

    def propagate(self, rel):
        """Every folder above rel (the user's root included) gets one new ETag."""
        etag = new_dir_etag()
        p = rel
        while p:
            p = parent_of(p)
            if self.exists(p):
                self.entry(p)
                self.db.execute("UPDATE filecache SET etag=? WHERE path=?", (etag, p))

    def tree_size(self, rel):
        total = 0
        for dirpath, _, files in os.walk(self.disk(rel)):
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_size
                except OSError:
                    pass
        return total

    def children(self, rel):
        """The entries in folder rel (cache rows of entries gone from disk are dropped)."""
        try:
            names = sorted(os.listdir(self.disk(rel)))
        except OSError:
            return []
        out = [(rel + "/" + n) if rel else n for n in names]
        present = set(out)
        if rel:
            rows = self.db.execute("SELECT path FROM filecache WHERE substr(path,1,?)=?",
                                   (len(rel) + 1, rel + "/")).fetchall()
        else:
            rows = self.db.execute("SELECT path FROM filecache").fetchall()
        for (p,) in rows:
            if p and parent_of(p) == rel and p not in present:
                self.forget_tree(p)
        return out

    # --- properties ------------------------------------------------------------------
    def props(self, rel):
        return {(ns, name): value for ns, name, value in self.db.execute(
            "SELECT ns, name, value FROM props WHERE path=?", (rel,))}

    def set_prop(self, rel, ns, name, value):
        self.db.execute("INSERT OR REPLACE INTO props VALUES (?,?,?,?)", (rel, ns, name, value))

    def remove_prop(self, rel, ns, name):
        self.db.execute("DELETE FROM props WHERE path=? AND ns=? AND name=?", (rel, ns, name))

    def forget_props(self, rel):
        """Only the exact path (Nextcloud's CustomPropertiesBackend::delete)."""
        self.db.execute("DELETE FROM props WHERE path=?", (rel,))

    def move_props(self, src, dst):
        """Only the exact path (CustomPropertiesBackend::move): children keep theirs
        at their old paths. Properties left behind at dst stay (the entry moved there
        inherits them), except those the moved entry has itself: its own win."""
        self.db.execute("DELETE FROM props WHERE path=? AND (ns, name) IN "
                        "(SELECT ns, name FROM props WHERE path=?)", (dst, src))
        self.db.execute("UPDATE props SET path=? WHERE path=?", (dst, src))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ncdav"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    @property
    def st(self):
        return self.server.store

    # --- answers ---------------------------------------------------------------------
    def answer(self, code, body=b"", ctype="application/xml; charset=utf-8", headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body or code not in (204, 304):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, code, exc, message, headers=None):
        body = ('<?xml version="1.0" encoding="utf-8"?>\n'
                '<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n'
                '  <s:exception>Sabre\\DAV\\Exception\\%s</s:exception>\n'
                '  <s:message>%s</s:message>\n</d:error>\n' % (exc, escape(message)))
        self.answer(code, body, headers=headers)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def body_to_file(self, fh):
        """Stream the request body into fh (a PUT)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            fh.write(self.read_body())
            return
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 20))
            if not chunk:
                raise ConnectionError("body cut short")
            fh.write(chunk)
            n -= len(chunk)

    # --- dispatch --------------------------------------------------------------------
    def authorized(self):
        h = self.headers.get("Authorization", "")
        if h.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(h[6:]).decode("utf-8").partition(":")
            except ValueError:
                return False
            return user == self.server.user and secrets.compare_digest(pw, self.server.password)
        return False

    def dav_rel(self, url_path):
        """The path under the user's root of a request path, or None if not a file URL."""
        p = urllib.parse.unquote(url_path.split("?", 1)[0])
        for prefix in (self.server.files_prefix, "/remote.php/webdav"):
            if p == prefix or p.startswith(prefix + "/"):
                rel = p[len(prefix):].strip("/")
                parts = [s for s in rel.split("/") if s]
                if any(s in (".", "..") for s in parts):
                    return None
                return "/".join(parts)
        return None

    def handle_any(self):
        try:
            self.dispatch()
        except (BrokenPipeError, ConnectionResetError, ConnectionError):
            self.close_connection = True
        except Exception as e:  # a test server: say it, and answer 500
            sys.stderr.write("ncdav: %s %s: %r\n" % (self.command, self.path, e))
            try:
                self.error(500, "ServiceUnavailable", "internal error: %r" % e)
            except OSError:
                pass

    def dispatch(self):
        path = self.path.split("?", 1)[0]
        if path == "/status.php" and self.command in ("GET", "HEAD"):
            return self.answer(200, json.dumps(STATUS), "application/json; charset=utf-8")
        if not self.authorized():
            self.read_body_discard()
            return self.error(401, "NotAuthenticated", "No public access to this resource., "
                              "No 'Authorization: Basic' header found.",
                              headers={"WWW-Authenticate":
                                       'Basic realm="Nextcloud", charset="UTF-8"'})
        for prefix in ("/index.php/f/", "/f/"):
            if path.startswith(prefix) and self.command in ("GET", "HEAD"):
                return self.web_link(path[len(prefix):])
        if path.startswith("/index.php/apps/files") and self.command in ("GET", "HEAD"):
            return self.answer(200, "<!DOCTYPE html><html><body>Files</body></html>",
                               "text/html; charset=UTF-8")
        if path in ("/ocs/v1.php/cloud/capabilities", "/ocs/v2.php/cloud/capabilities") \
                and self.command == "GET":
            dav = {"chunking": "1.0"}
            if self.server.bulk:
                dav["bulkupload"] = "1.0"
            return self.answer(200, json.dumps({"ocs": {
                "meta": {"status": "ok", "statuscode": 100 if "/v1." in path else 200},
                "data": {"capabilities": {"dav": dav}}}}), "application/json; charset=utf-8")
        if path == "/remote.php/dav/bulk" and self.command == "POST" and self.server.bulk:
            return self.bulk()
        rel = self.dav_rel(path)
        if rel is None:
            self.read_body_discard()
            return self.error(404, "NotFound", "File not found: %s" % path)
        fn = getattr(self, "dav_" + self.command, None)
        if fn is None:
            self.read_body_discard()
            return self.error(405, "MethodNotAllowed", "%s is not allowed" % self.command,
                              headers={"Allow": "OPTIONS, GET, HEAD, DELETE, PROPFIND, PUT, "
                                       "PROPPATCH, COPY, MOVE, MKCOL"})
        return fn(rel)

    def read_body_discard(self):
        try:
            self.read_body()
        except (ValueError, OSError):
            self.close_connection = True

    def web_link(self, fid):
        fid = fid.strip("/")
        with self.st.lock:
            row = self.st.db.execute("SELECT path FROM filecache WHERE fileid=?",
                                     (int(fid) if fid.isdigit() else -1,)).fetchone()
            if not row or not self.st.exists(row[0]):
                return self.error(404, "NotFound", "file %s not found" % fid)
            rel = row[0]
        folder, name = ("/" + parent_of(rel)) if "/" in rel else "/", rel.rsplit("/", 1)[-1]
        loc = "/index.php/apps/files/?dir=%s&openfile=%s&scrollto=%s" % (
            urllib.parse.quote(folder), fid, urllib.parse.quote(name))
        return self.answer(303, b"", headers={"Location": loc})

    for _m in ("GET", "HEAD", "PUT", "DELETE", "MKCOL", "MOVE", "COPY", "PROPFIND",
               "PROPPATCH", "OPTIONS", "LOCK", "UNLOCK", "POST", "REPORT"):
        locals()["do_" + _m] = handle_any
    del _m

    # --- conditions --------------------------------------------------------------------
    def if_match_fails(self, rel):
        """412 condition of If-Match / If-None-Match on rel (which may not exist)."""
        im = self.headers.get("If-Match")
        inm = self.headers.get("If-None-Match")
        exists = self.st.exists(rel)
        if im is not None:
            if not exists:
                return "An If-Match header was specified and the resource did not exist"
            if im.strip() != "*":
                etag = self.st.entry(rel)[1]
                tags = [t.strip().removeprefix("W/").strip('"') for t in im.split(",")]
                if etag not in tags:
                    return "An If-Match header was specified, but none of the specified " \
                           "ETags matched."
        if inm is not None and exists:
            if inm.strip() == "*":
                return "An If-None-Match header was specified, but the resource exists"
            etag = self.st.entry(rel)[1]
            tags = [t.strip().removeprefix("W/").strip('"') for t in inm.split(",")]
            if etag in tags:
                return "An If-None-Match header was specified, but the ETag matched"
        return None

    # --- methods -------------------------------------------------------------------------
    def dav_OPTIONS(self, rel):
        self.read_body_discard()
        self.answer(200, b"", headers={
            "DAV": "1, 3, extended-mkcol, access-control, nextcloud-checksum-update",
            "MS-Author-Via": "DAV",
            "Allow": "OPTIONS, GET, HEAD, DELETE, PROPFIND, PUT, PROPPATCH, COPY, MOVE, MKCOL"})

    def dav_GET(self, rel):
        with self.st.lock:
            if not self.st.exists(rel):
                return self.error(404, "NotFound", "File with name %s could not be located" % rel)
            fid, etag, size, mtime, is_dir = self.st.entry(rel)
            if is_dir:
                return self.answer(200, b"", "text/html; charset=UTF-8")
            with open(self.st.disk(rel), "rb") as f:
                data = f.read()
        ctype = (mimetypes.guess_type(rel)[0] or "application/octet-stream")
        self.answer(200, data, ctype, headers={
            "ETag": '"%s"' % etag, "OC-ETag": '"%s"' % etag,
            "Last-Modified": email.utils.formatdate(mtime / 1e9, usegmt=True),
            "Content-Disposition": "attachment; filename*=UTF-8''%s" %
                                   urllib.parse.quote(rel.rsplit("/", 1)[-1])})

    dav_HEAD = dav_GET

    def dav_PUT(self, rel):
        if not rel:
            self.read_body_discard()
            return self.error(405, "MethodNotAllowed", "cannot PUT the root")
        fd, tmp = tempfile.mkstemp(dir=self.server.tmp_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                self.body_to_file(f)
            with self.st.lock:
                if not self.st.is_dir(parent_of(rel)):
                    return self.error(404, "NotFound", "File with name %s could not be located"
                                      % parent_of(rel))
                if self.st.is_dir(rel):
                    return self.error(409, "Conflict", "Could not write to a folder")
                why = self.if_match_fails(rel)
                if why:
                    return self.error(412, "PreconditionFailed", why)
                existed = self.st.exists(rel)
                if existed:
                    self.st.entry(rel)
                os.chmod(tmp, 0o644)
                os.replace(tmp, self.st.disk(rel))
                tmp = None
                mt = self.headers.get("X-OC-MTime")
                if mt and mt.isdigit():
                    os.utime(self.st.disk(rel), (int(mt), int(mt)))
                fid, etag = self.st.new_entry(rel, keep_id=existed)
                self.st.propagate(rel)
            hdrs = {"OC-FileId": "%08d%s" % (fid, self.st.instance), "ETag": '"%s"' % etag,
                    "OC-ETag": '"%s"' % etag}
            if mt:
                hdrs["X-OC-MTime"] = "accepted"
            self.answer(204 if existed else 201, b"", headers=hdrs)
        finally:
            if tmp:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def bulk(self):
        """Nextcloud's BulkUploadPlugin: each part is Folder::newFile(X-File-Path, content)
        under the user's root, which replaces a file there (keeping its id and properties,
        like a PUT over it) and fails with "Could not create path" without its folder."""
        status, parts = ncbulk.parse(self.headers.get("Content-Type"), self.read_body())
        written = {}
        for headers, content in parts:
            path = headers.get("x-file-path", "")
            rel = "/".join(s for s in path.split("/") if s)
            mt = headers.get("x-file-mtime") or headers.get("x-oc-mtime")
            with self.st.lock:
                if not path.startswith("/") or not rel or ".." in rel.split("/") or \
                        not self.st.is_dir(parent_of(rel)) or self.st.is_dir(rel):
                    written[path] = {"error": True, "message": "Could not create path"}
                    continue
                existed = self.st.exists(rel)
                if existed:
                    self.st.entry(rel)
                fd, tmp = tempfile.mkstemp(dir=self.server.tmp_dir)
                with os.fdopen(fd, "wb") as f:
                    f.write(content)
                os.chmod(tmp, 0o644)
                os.replace(tmp, self.st.disk(rel))
                if mt and mt.isdigit():
                    os.utime(self.st.disk(rel), (int(mt), int(mt)))
                fid, etag = self.st.new_entry(rel, keep_id=existed)
                self.st.propagate(rel)
            written[path] = {"error": False, "etag": etag,
                             "fileid": "%08d%s" % (fid, self.st.instance),
                             "permissions": "RGDNVW"}
        return self.answer(status, json.dumps(written), "application/json; charset=utf-8")

    def dav_MKCOL(self, rel):
        body = self.read_body()
        with self.st.lock:
            if rel in self.server.making:
                return self.error(423, "FileLocked", '"%s" is locked' % rel.rsplit("/", 1)[-1])
            if self.st.exists(rel):
                return self.error(405, "MethodNotAllowed", "The resource you tried to create "
                                  "already exists")
            if not self.st.is_dir(parent_of(rel)):
                return self.error(409, "Conflict", "Parent node does not exist")
            props = []
            if body:
                # an extended MKCOL (RFC 5689), as SabreDAV takes it: an XML body, a
                # {DAV:}mkcol whose set names a {DAV:}resourcetype of just a collection; the
                # other properties it sets are stored like a PROPPATCH's
                ctype = self.headers.get("Content-Type") or ""
                if "application/xml" not in ctype and "text/xml" not in ctype:
                    return self.error(415, "UnsupportedMediaType",
                                      "The request body for the MKCOL request must have an "
                                      "xml Content-Type")
                try:
                    root = ET.fromstring(body)
                except ET.ParseError as e:
                    return self.error(400, "BadRequest", "XML error: %s" % e)
                if root.tag != "{DAV:}mkcol":
                    return self.error(415, "UnsupportedMediaType",
                                      "The request body for the MKCOL request must be a "
                                      "{DAV:}mkcol request construct.")
                rtype = None
                for prop in root.iter("{DAV:}prop"):
                    for el in prop:
                        if el.tag == "{DAV:}resourcetype":
                            rtype = [c.tag for c in el]
                        else:
                            props.append(split_tag(el.tag) + (el.text or "",))
                if rtype is None:
                    return self.error(400, "BadRequest", "The mkcol request must include a "
                                      "{DAV:}resourcetype property")
                if rtype != ["{DAV:}collection"]:
                    return self.error(403, "InvalidResourceType", "The {DAV:}resourcetype "
                                      "you specified is not supported here.")
            self.server.making.add(rel)
        try:
            time.sleep(MKCOL_LOCK_S)  # Nextcloud holds the path's lock while it makes it
            with self.st.lock:
                os.mkdir(self.st.disk(rel))
                self.st.new_entry(rel)
                for ns, name, value in props:
                    self.st.set_prop(rel, ns, name, value)
                self.st.propagate(rel)
        finally:
            with self.st.lock:
                self.server.making.discard(rel)
        self.answer(201, b"")

    def dav_DELETE(self, rel):
        self.read_body_discard()
        with self.st.lock:
            if not self.st.exists(rel):
                return self.error(404, "NotFound", "File with name %s could not be located" % rel)
            if not rel:
                return self.error(403, "Forbidden", "cannot delete the root")
            why = self.if_match_fails(rel)
            if why:
                return self.error(412, "PreconditionFailed", why)
            self.remove(rel)
            self.st.propagate(rel)
        self.answer(204, b"")

    def remove(self, rel):
        """Delete rel from disk and the cache; its own properties only."""
        p = self.st.disk(rel)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
        self.st.forget_tree(rel)
        self.st.forget_props(rel)

    def destination(self):
        d = self.headers.get("Destination")
        if not d:
            return None, "The destination header was not supplied"
        u = urllib.parse.urlsplit(d)
        rel = self.dav_rel(u.path)
        if rel is None:
            return None, "The destination is not under this user's files"
        return rel, None

    def dav_MOVE(self, rel):
        return self.move_or_copy(rel, move=True)

    def dav_COPY(self, rel):
        return self.move_or_copy(rel, move=False)

    def move_or_copy(self, rel, move):
        self.read_body_discard()
        dst, why = self.destination()
        if dst is None:
            return self.error(400, "BadRequest", why)
        overwrite = self.headers.get("Overwrite", "T").strip().upper() != "F"
        with self.st.lock:
            if not self.st.exists(rel):
                return self.error(404, "NotFound", "File with name %s could not be located" % rel)
            if dst == rel:
                return self.error(403, "Forbidden", "Source and destination uri are identical.")
            if rel == "" or dst.startswith(rel + "/"):
                return self.error(409, "Conflict", "The destination may not be part of the "
                                  "same subtree as the source path.")
            why = self.if_match_fails(rel)
            if why:
                return self.error(412, "PreconditionFailed", why)
            existed = self.st.exists(dst)
            if existed and not overwrite:
                return self.error(412, "PreconditionFailed", "The destination node already "
                                  "exists, and the overwrite header is set to false",
                                  headers=None)
            if not self.st.is_dir(parent_of(dst)):
                return self.error(409, "Conflict", "The destination node is not found")
            if existed:
                self.remove(dst)
            if move:
                self.move_tree(rel, dst)
                self.st.propagate(rel)
            else:
                self.copy_tree(rel, dst)
            self.st.propagate(dst)
        self.answer(204 if existed else 201, b"")

    def move_tree(self, src, dst):
        """MOVE: ids and ETags travel with every entry; properties with src only."""
        self.st.entry(src)
        rows = self.st.db.execute(
            "SELECT path FROM filecache WHERE path=? OR substr(path,1,?)=?",
            (src, len(src) + 1, src + "/")).fetchall()
        os.rename(self.st.disk(src), self.st.disk(dst))
        for (p,) in rows:
            self.st.db.execute("UPDATE filecache SET path=? WHERE path=?",
                               (dst + p[len(src):], p))
        self.st.move_props(src, dst)

    def copy_tree(self, src, dst):
        """COPY: new ids and ETags, no properties (as Nextcloud 27)."""
        s = self.st.disk(src)
        if os.path.isdir(s):
            shutil.copytree(s, self.st.disk(dst))
            for dirpath, dirs, files in os.walk(self.st.disk(dst)):
                for n in [""] + dirs + files:
                    full = os.path.join(dirpath, n) if n else dirpath
                    self.st.new_entry(os.path.relpath(full, self.st.root).replace(os.sep, "/"))
        else:
            shutil.copyfile(s, self.st.disk(dst))
            self.st.new_entry(dst)

    # --- properties --------------------------------------------------------------------
    def dav_PROPFIND(self, rel):
        body = self.read_body()
        depth = self.headers.get("Depth", "infinity").strip().lower()
        want = None  # None: allprop
        if body.strip():
            try:
                root = ET.fromstring(body)
            except ET.ParseError as e:
                return self.error(400, "BadRequest", "XML error: %s" % e)
            prop = root.find("{DAV:}prop")
            if prop is not None:
                want = []
                for el in prop:
                    ns, name = split_tag(el.tag)
                    if ns == "":
                        return self.error(400, "BadRequest",
                                          "xmlns: Empty XML namespace is not allowed")
                    want.append((ns, name))
        out = ['<?xml version="1.0"?>\n<d:multistatus xmlns:d="DAV:" '
               'xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" '
               'xmlns:nc="http://nextcloud.org/ns">']
        with self.st.lock:
            if not self.st.exists(rel):
                return self.error(404, "NotFound", "File with name %s could not be located" % rel)
            todo = [(rel, 0)]
            while todo:
                p, level = todo.pop(0)
                out.append(self.response_xml(p, want))
                if self.st.is_dir(p) and (depth == "infinity" or (depth == "1" and level == 0)):
                    todo.extend((c, level + 1) for c in self.st.children(p))
        out.append("</d:multistatus>")
        self.answer(207, "".join(out), headers={"Vary": "Brief,Prefer",
                                                "DAV": "1, 3, extended-mkcol"})

    def live_props(self, rel):
        fid, etag, size, mtime, is_dir = self.st.entry(rel)
        v = {(DAV, "resourcetype"): "<d:collection/>" if is_dir else "",
             (DAV, "getetag"): escape('"%s"' % etag),
             (DAV, "getlastmodified"): email.utils.formatdate(mtime / 1e9, usegmt=True),
             (OC, "fileid"): str(fid),
             (OC, "id"): "%08d%s" % (fid, self.st.instance),
             (OC, "permissions"): "RGDNVCK" if is_dir else "RGDNVW",
             (OC, "size"): str(self.st.tree_size(rel) if is_dir else size)}
        if not is_dir:
            v[(DAV, "getcontentlength")] = str(size)
            v[(DAV, "getcontenttype")] = escape(mimetypes.guess_type(rel)[0]
                                                or "application/octet-stream")
        else:
            v[(DAV, "quota-used-bytes")] = v[(OC, "size")]
            v[(DAV, "quota-available-bytes")] = "-3"
        return v, is_dir

    def response_xml(self, rel, want):
        live, is_dir = self.live_props(rel)
        dead = self.st.props(rel)
        href = self.server.files_prefix + "/" + href_quote(rel)
        if is_dir and not href.endswith("/"):
            href += "/"
        found, missing = [], []
        if want is None:
            keys = [(DAV, "getlastmodified"), (DAV, "resourcetype")]
            keys += [(DAV, "quota-used-bytes"), (DAV, "quota-available-bytes")] if is_dir else \
                [(DAV, "getcontentlength")]
            keys += [(DAV, "getetag")] + ([] if is_dir else [(DAV, "getcontenttype")])
            keys += sorted(dead)
        else:
            keys = want
        for k in keys:
            if k in live:
                found.append(prop_xml(k, live[k], escaped=True))
            elif k in dead:
                found.append(prop_xml(k, dead[k]))
            elif want is not None:
                missing.append(prop_xml(k, ""))
        parts = ["<d:response><d:href>%s</d:href>" % escape(href)]
        if found:
            parts.append("<d:propstat><d:prop>%s</d:prop><d:status>HTTP/1.1 200 OK</d:status>"
                         "</d:propstat>" % "".join(found))
        if missing:
            parts.append("<d:propstat><d:prop>%s</d:prop><d:status>HTTP/1.1 404 Not Found"
                         "</d:status></d:propstat>" % "".join(missing))
        parts.append("</d:response>")
        return "".join(parts)

    def dav_PROPPATCH(self, rel):
        body = self.read_body()
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            return self.error(400, "BadRequest", "XML error: %s" % e)
        results = []
        with self.st.lock:
            if not self.st.exists(rel):
                return self.error(404, "NotFound", "File with name %s could not be located" % rel)
            self.st.entry(rel)
            for op in root:
                kind = split_tag(op.tag)[1]
                for prop in op.iter("{DAV:}prop"):
                    for el in prop:
                        ns, name = split_tag(el.tag)
                        if kind == "set":
                            self.st.set_prop(rel, ns, name, el.text or "")
                            results.append(((ns, name), "200 OK"))
                        elif kind == "remove":
                            self.st.remove_prop(rel, ns, name)
                            results.append(((ns, name), "204 No Content"))
        href = self.server.files_prefix + "/" + href_quote(rel)
        if self.st.is_dir(rel):
            href += "/"
        parts = ['<?xml version="1.0"?>\n<d:multistatus xmlns:d="DAV:" '
                 'xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" '
                 'xmlns:nc="http://nextcloud.org/ns"><d:response><d:href>%s</d:href>'
                 % escape(href)]
        for status in ("200 OK", "204 No Content"):
            ks = [k for k, s in results if s == status]
            if ks:
                parts.append("<d:propstat><d:prop>%s</d:prop><d:status>HTTP/1.1 %s</d:status>"
                             "</d:propstat>" % ("".join(prop_xml(k, "") for k in ks), status))
        parts.append("</d:response></d:multistatus>")
        self.answer(207, "".join(parts))


def split_tag(tag):
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def prop_xml(key, value, escaped=False):
    ns, name = key
    prefix = {DAV: "d", OC: "oc", NC: "nc"}.get(ns)
    if prefix:
        tag, decl = "%s:%s" % (prefix, name), ""
    else:
        tag, decl = "x1:%s" % name, ' xmlns:x1="%s"' % escape(ns, {'"': "&quot;"})
    text = value if escaped else escape(value)
    if not text:
        return "<%s%s/>" % (tag, decl)
    return "<%s%s>%s</%s>" % (tag, decl, text, tag)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--user", default="odoosync")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--no-bulk", action="store_true",
                    help="no bulk upload endpoint (capabilities without dav.bulkupload)")
    args = ap.parse_args()
    password = os.environ.get("NCDAV_PASSWORD")
    if not password:
        print("ncdav: set NCDAV_PASSWORD", file=sys.stderr)
        return 2
    os.makedirs(args.data_dir, exist_ok=True)
    srv = Server((args.host, args.port), Handler)
    srv.store = Store(args.data_dir, args.user)
    srv.user, srv.password, srv.verbose = args.user, password, args.verbose
    srv.files_prefix = "/remote.php/dav/files/%s" % args.user
    srv.bulk = not args.no_bulk
    srv.making = set()  # paths a MKCOL is making: another MKCOL of one meanwhile is 423
    srv.tmp_dir = os.path.join(args.data_dir, "tmp")
    os.makedirs(srv.tmp_dir, exist_ok=True)
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print("ncdav: http://%s:%d%s/ (data %s)" % (args.host, port, srv.files_prefix,
                                                 args.data_dir), file=sys.stderr, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
