"""harness: what the end-to-end tests share.

Each test gets:
  - its own Odoo emulator (tests/odoo/emulator.py on a free loopback port, in a
    temporary directory), so records and attachments never leak between tests;
  - its own root folder on the stack's Apache WebDAV (DAV_URL from the stack env
    file named by ODOOSYNC_STACK_ENV), removed afterwards; a case with CLOUD = "NCDAV"
    uses the stack's Nextcloud-like server instead (NCDAV_URL: file ids, Nextcloud's
    dead property store), through the same DAV_* names (cloud_env());
  - a configuration file for odoosync pointing at both;
and helpers to change either side (JSON-RPC calls, WebDAV requests) and to run
`odoosync run --once` (local mode) or the cluster mode (produce + workers).

Python standard library only.
"""
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
EMULATOR = os.path.join(SRC, "tests", "odoo", "emulator.py")
KEY = "e2e-api-key-0123456789"


def load_env():
    path = os.environ.get("ODOOSYNC_STACK_ENV")
    if not path or not os.path.exists(path):
        raise unittest.SkipTest("no stack env (run under ctest with the stack fixture)")
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def cloud_env(env, cloud):
    """env with DAV_URL, DAV_USER, DAV_PASSWORD, DAV_ROOT_DIR taken from the server named
    by cloud ("DAV": the stack's Apache, "NCDAV": its Nextcloud-like ncdav.py)."""
    if cloud == "DAV":
        return env
    if cloud + "_URL" not in env:
        raise unittest.SkipTest("the stack has no %s_URL" % cloud)
    env = dict(env)
    for k in ("URL", "USER", "PASSWORD", "ROOT_DIR"):
        env["DAV_" + k] = env[cloud + "_" + k]
    return env


def binary():
    b = os.environ.get("ODOOSYNC_BIN")
    if not b:
        b = os.path.join(os.environ.get("ODOOSYNC_BINARY_DIR", os.path.join(SRC, "build")),
                         "odoosync")
    return b


def make_tls_cert(d):
    """A throwaway self-signed certificate for 127.0.0.1 (its own CA) in d: (cert, key)."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"],
                   stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=60)
    return cert, key


class OdooHelpers:
    """The model calls the tests make, on top of call(model, method, args, kwargs): for the
    emulator and for a real Odoo (tests/peers) alike."""

    def create(self, model, vals):
        return self.call(model, "create", [vals])

    def write(self, model, ids, vals):
        return self.call(model, "write", [ids if isinstance(ids, list) else [ids], vals])

    def unlink(self, model, ids):
        return self.call(model, "unlink", [ids if isinstance(ids, list) else [ids]])

    def attach(self, model, res_id, name, content):
        return self.create("ir.attachment", {
            "name": name, "type": "binary", "datas": base64.b64encode(content).decode(),
            "res_model": model or False, "res_id": res_id or 0})

    def attachments(self, domain=None):
        return self.call("ir.attachment", "search_read", [domain or []], {
            "fields": ["name", "type", "url", "res_model", "res_id", "checksum"],
            "order": "id"})


class Emulator(OdooHelpers):
    database, login, password = "odoosync", "admin", "admin"

    def __init__(self, version=17, tls=False, args=()):
        self.tmp = tempfile.mkdtemp(prefix="odoosync-e2e-odoo-")
        port_file = os.path.join(self.tmp, "port")
        self.log = open(os.path.join(self.tmp, "emulator.log"), "w")
        extra = []
        self.ca = None
        if tls:  # https with its own certificate: self.ca is the CA to trust
            self.ca, key = make_tls_cert(self.tmp)
            extra = ["--tls-cert", self.ca, "--tls-key", key]
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", EMULATOR, "--host", "127.0.0.1", "--port", "0", "--data-dir",
             os.path.join(self.tmp, "data"), "--odoo-version", str(version), "--api-key", KEY,
             "--port-file", port_file] + extra + list(args), stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("emulator did not start")
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def call(self, model, method, args, kwargs=None):
        payload = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
            "service": "object", "method": "execute_kw",
            "args": ["odoosync", 2, "admin", model, method, args, kwargs or {}]}}
        if self.ca:
            import ssl
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=60,
                context=ssl.create_default_context(cafile=self.ca))
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("POST", "/jsonrpc", json.dumps(payload),
                         {"Content-Type": "application/json"})
            ans = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        if "error" in ans:
            raise RuntimeError("%s: %s" % (ans["error"]["data"].get("name"),
                                           ans["error"]["data"].get("message")))
        return ans.get("result")  # none when the method returned None


class Dav:
    # Depth of tree()'s PROPFINDs: "1" walks folder by folder (Apache refuses infinity);
    # "infinity" lists everything in one request (Nextcloud: the peers suite)
    DEPTH = "1"

    def __init__(self, env):
        u = urllib.parse.urlparse(env["DAV_URL"])
        self.host, self.port = u.hostname, u.port
        self.base = u.path.rstrip("/")
        self.url = env["DAV_URL"]
        self.auth = "Basic " + base64.b64encode(
            ("%s:%s" % (env["DAV_USER"], env["DAV_PASSWORD"])).encode()).decode()

    def req(self, method, path, body=None, headers=None):
        h = {"Authorization": self.auth}
        h.update(headers or {})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, self.base + urllib.parse.quote(path), body, h)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def mkcol(self, path):
        st, _ = self.req("MKCOL", path)
        assert st in (201, 405), "MKCOL %s: %d" % (path, st)

    def put(self, path, content):
        st, _ = self.req("PUT", path, content)
        assert st in (201, 204), "PUT %s: %d" % (path, st)

    def get(self, path):
        st, body = self.req("GET", path)
        return body if st == 200 else None

    def move(self, src, dst):
        st, _ = self.req("MOVE", src, headers={
            "Destination": self.url.rstrip("/") + urllib.parse.quote(dst), "Overwrite": "F"})
        assert st in (201, 204), "MOVE %s -> %s: %d" % (src, dst, st)

    def delete(self, path):
        st, _ = self.req("DELETE", path)
        assert st in (204, 404), "DELETE %s: %d" % (path, st)

    def tree(self, path, etags=None, fileids=None):
        """{relative path: (is_dir, size, {tag: value})} of everything under path
        (etags: a dict to fill with relative path -> getetag, "W/" stripped; fileids: one
        to fill with relative path -> oc:fileid, on servers that have them)."""
        out = {}
        todo = [path]
        while todo:
            p = todo.pop()
            body = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:o="urn:odoosync">'
                    b"<d:prop><d:resourcetype/><d:getcontentlength/><d:getetag/><o:attachment/><o:record/>"
                    b"<o:type/><oc:fileid xmlns:oc=\"http://owncloud.org/ns\"/>"
                    b"</d:prop></d:propfind>")
            st, data = self.req("PROPFIND", p, body, {"Depth": self.DEPTH,
                                                      "Content-Type": "application/xml"})
            if st == 404:
                continue
            assert st == 207, "PROPFIND %s: %d" % (p, st)
            for resp in ET.fromstring(data).findall("{DAV:}response"):
                href = urllib.parse.unquote(resp.find("{DAV:}href").text)
                q = href[len(self.base):] if href.startswith(self.base) else href
                q = q.rstrip("/")
                if q == p.rstrip("/"):
                    continue
                is_dir = resp.find(".//{DAV:}collection") is not None
                size = resp.find(".//{DAV:}getcontentlength")
                tags = {}
                for name in ("attachment", "record", "type"):
                    t = resp.find(".//{urn:odoosync}%s" % name)
                    if t is not None and t.text:
                        tags[name] = t.text
                rel = q[len(path.rstrip("/")) + 1:]
                et = resp.find(".//{DAV:}getetag")
                if etags is not None and et is not None and et.text:
                    etags[rel] = et.text[2:] if et.text.startswith("W/") else et.text
                fid = resp.find(".//{http://owncloud.org/ns}fileid")
                if fileids is not None and fid is not None and fid.text:
                    fileids[rel] = fid.text
                out[rel] = (is_dir, int(size.text) if size is not None and size.text else 0,
                            tags)
                if is_dir and self.DEPTH == "1":
                    todo.append(q)
        return out


class SyncCase(unittest.TestCase):
    """One emulator and one cloud root per test; run() runs a local pass."""

    TYPES = [
        {"folder": "Customers", "model": "res.partner", "domain": "[('customer_rank', '>', 0)]"},
        {"folder": "Quotations", "model": "sale.order",
         "domain": "[('state', 'in', ['draft', 'sent'])]"},
        {"folder": "Orders", "model": "sale.order", "domain": "[('state', 'in', ['sale', 'done'])]"},
    ]
    STANDALONE = True
    EXTRA = {}
    CLOUD = "DAV"  # "NCDAV": the stack's Nextcloud-like server (cloud_env)
    LINK_FORM = None  # cloud.link_form when set ("auto", "web", "dav")
    ROOT_PREFIX = "e2e"  # of each test's cloud root folder

    def setUp(self):
        self.env = self.stack_env()
        self.odoo = self.start_odoo()
        self.dav = self.make_dav()
        self.root = "%s-%s-%d-%d" % (self.ROOT_PREFIX, self._testMethodName[5:][:24], os.getpid(),
                                      int(time.time() * 1000) % 100000)
        self.addCleanup(self.dav.delete, "/" + self.root)
        self.tmp = tempfile.mkdtemp(prefix="odoosync-e2e-")
        if not os.environ.get("E2E_KEEP"):  # E2E_KEEP=1 keeps configs, logs and events
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.config = os.path.join(self.tmp, "odoosync.json")
        self.write_config()

    # The two sides: the stack's env (DAV_URL, ...) and a private emulator; the peers
    # suite (tests/peers) overrides both to run the same scenarios on a real Odoo and a
    # real Nextcloud.
    def stack_env(self):
        return cloud_env(load_env(), self.CLOUD)

    def start_odoo(self):
        odoo = Emulator()
        self.addCleanup(odoo.stop)
        return odoo

    def make_dav(self):
        return Dav(self.env)

    def control(self, cmd):
        """A test-only switch of the emulator (fail_next, fail_call, delay_next, reset...)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.odoo.port, timeout=30)
        try:
            conn.request("POST", "/__emulator__/control", json.dumps(cmd),
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
            self.assertEqual(resp.status, 200, body)
        finally:
            conn.close()

    def write_config(self, types=None, **extra):
        cfg = {
            "odoo": {"url": self.odoo.url, "database": self.odoo.database,
                     "login": self.odoo.login, "password_env": "E2E_ODOO_PASSWORD"},
            "cloud": {"url": self.env["DAV_URL"], "user": self.env["DAV_USER"],
                      "password_env": "E2E_DAV_PASSWORD", "root": self.root},
            "types": types if types is not None else self.TYPES,
            "standalone": {"enabled": self.STANDALONE},
            "worker": {"concurrency": 4, "backoff_ms": 100},
            "state": {"file": os.path.join(self.tmp, "odoosync-state.json")},
        }
        if self.LINK_FORM:
            cfg["cloud"]["link_form"] = self.LINK_FORM
        for k, v in dict(self.EXTRA, **extra).items():
            cfg[k] = v
        with open(self.config, "w") as f:
            json.dump(cfg, f, indent=1)

    def run_cmd(self, *args, expect=0):
        p = subprocess.run([binary()] + list(args) + ["--config", self.config, "-L", "warn"],
                           env=self.cmd_env(), capture_output=True, text=True, timeout=600)
        if expect is not None and p.returncode != expect:
            self.fail("odoosync %s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
                " ".join(args), p.returncode, expect, p.stdout, p.stderr))
        return p

    def cmd_env(self):
        """The environment of an odoosync process: the secrets its configuration names."""
        return dict(os.environ, E2E_ODOO_PASSWORD=self.odoo.password,
                    E2E_DAV_PASSWORD=self.env["DAV_PASSWORD"])

    def sync(self, *extra, expect=0):
        return self.run_cmd("run", "--once", *extra, expect=expect)

    def plan_json(self):
        p = self.run_cmd("plan", "--json", expect=None)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def tree(self, etags=None, fileids=None):
        return self.dav.tree("/" + self.root, etags, fileids)

    def p(self, rel):
        return "/%s/%s" % (self.root, rel)

    def assertQuiet(self):
        """A pass right after this one plans nothing (idempotence)."""
        jobs = self.plan_json()
        self.assertEqual(jobs, [], "a second pass still plans: %s" % json.dumps(jobs, indent=1))

    def dav_tag(self, path, aid):
        """What Nextcloud leaves on a later file at a deleted file's path: its tag."""
        body = ('<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" '
                'xmlns:o="urn:odoosync"><d:set><d:prop><o:attachment>%d</o:attachment>'
                '</d:prop></d:set></d:propertyupdate>' % aid)
        st, _ = self.dav.req("PROPPATCH", path, body.encode(),
                             {"Content-Type": "application/xml"})
        self.assertEqual(st, 207, "PROPPATCH %s" % path)

    def web_links(self):
        """Whether url attachments hold the server's web links here (a server with file
        ids, cloud.link_form not dav): they name files by id, so a folder move rewrites no
        url, and an upload writes no tag on its file (docs/design.md section 4.2)."""
        if self.LINK_FORM == "dav":
            return False
        if not hasattr(self, "_web_links"):
            body = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" '
                    b'xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop>'
                    b'</d:propfind>')
            st, data = self.dav.req("PROPFIND", "/", body, {"Depth": "0",
                                                            "Content-Type": "application/xml"})
            self.assertEqual(st, 207, "PROPFIND /")
            fid = ET.fromstring(data).find(".//{http://owncloud.org/ns}fileid")
            self._web_links = fid is not None and bool(fid.text)
        return self._web_links

    def moved_relinks(self, rows):
        """The relinks a folder move plans for its url attachments: rows where urls are
        WebDAV addresses (they name the path), none where they are web links (by id)."""
        return [] if self.web_links() else list(rows)

    def assertUploadTag(self, tags, aid):
        """An uploaded file's tags: the attachment id, or none where the url is a web
        link (it names the file by id)."""
        if self.web_links():
            self.assertNotIn("attachment", tags, "an upload wrote a tag beside its web link")
        else:
            self.assertEqual(tags.get("attachment"), str(aid))

    def url_of(self, rel):
        return self.env["DAV_URL"].rstrip("/") + urllib.parse.quote("/%s/%s" % (self.root, rel))

    # --- records, plans and links, as the rule tests write them -----------------------
    def customer(self, name, **kw):
        vals = {"name": name, "is_company": True, "customer_rank": 1}
        vals.update(kw)
        return self.odoo.create("res.partner", vals)

    def order(self, name, state="draft"):
        pid = self.customer("Buyer of %s" % name)
        return self.odoo.create("sale.order", {"name": name, "partner_id": pid, "state": state})

    def att_by_id(self, aid):
        rows = self.odoo.attachments([("id", "=", aid)])
        return rows[0] if rows else None

    def job_row(self, j):
        """(kind, side, path, to, attachment) of a planned job: paths relative to the
        root, the attachment id for jobs on an attachment, else None."""
        def rel(path):
            if not path:
                return None
            prefix = "/" + self.root + "/"
            return path[len(prefix):] if path.startswith(prefix) else path
        return (j["kind"], j["side"], rel(j.get("path")), rel(j.get("to")),
                j.get("att_id"))

    def assertPlan(self, expected):
        """The exact jobs `odoosync plan --json` plans for the next pass (issue 5's
        table of rules, on the real servers): compared as sorted lists of job_row."""
        got = sorted((self.job_row(j) for j in self.plan_json()), key=repr)
        if os.environ.get("E2E_PLAN_DUMP"):
            print("\nPLAN %s %r" % (self._testMethodName, got))
            return
        self.assertEqual(got, sorted(expected, key=repr))

    def assertLinked(self, aid, rel, model, res_id):
        """Attachment aid is a url attachment of (model, res_id) naming the file rel (its
        WebDAV address, or the server's web link to that file: link_target)."""
        a = self.att_by_id(aid)
        self.assertIsNotNone(a, "attachment %d is gone" % aid)
        self.assertEqual(a["type"], "url")
        self.assertTrue(link_target(self, a["url"]).endswith("/%s/%s" % (self.root, rel)),
                        "attachment %d url %s does not name %s" % (aid, a["url"], rel))
        self.assertEqual(a["res_model"], model)
        self.assertEqual(a["res_id"], res_id)

    def fetch_url(self, url):
        """GET the url an attachment holds, as a user following the link would."""
        return get_url(self, url)


def mkdir(rel):
    """A planned mkdir of the cloud folder rel (a job_row)."""
    return ("mkdir", "cloud", rel, None, None)


def url_path(url):
    return urllib.parse.unquote(urllib.parse.urlparse(url).path)


WEB_LINK = re.compile(r"^(?:/index\.php)?/f/(\d+)/?$")


def web_redirect(case, url):
    """The server's web link (<root>/index.php/f/<file id>, common/link.h) followed one
    step with the sync account's credentials: the Files app's location it answers (the
    file's folder, "dir", and name, "scrollto"), or None when it answers no 303."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("GET", u.path, headers={"Authorization": case.dav.auth})
        r = conn.getresponse()
        r.read()
        if r.status != 303:
            return None
        q = urllib.parse.parse_qs(urllib.parse.urlparse(r.getheader("Location")).query)
        return q.get("dir", ["/"])[0], q.get("scrollto", [""])[0]
    finally:
        conn.close()


def link_target(case, url):
    """The decoded path an attachment's url names: its WebDAV address's path, or for the
    server's web link, the sync account's DAV base path + the folder and name the server
    redirects to (as a user following the link lands on that file)."""
    if WEB_LINK.match(urllib.parse.urlparse(url).path):
        loc = web_redirect(case, url)
        if loc is None:
            return ""
        d, name = loc
        return "%s%s/%s" % (case.dav.base, d.rstrip("/"), name)
    return url_path(url)


def get_url(case, url):
    """GET an attachment's url as it is (no re-encoding): the body, or None. A web link
    is followed to the file it names (its content through WebDAV)."""
    u = urllib.parse.urlparse(url)
    if WEB_LINK.match(u.path):
        path = link_target(case, url)
        if not path.startswith(case.dav.base + "/"):
            return None
        return case.dav.get(path[len(case.dav.base):])
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("GET", u.path, headers={"Authorization": case.dav.auth})
        r = conn.getresponse()
        body = r.read()
        return body if r.status == 200 else None
    finally:
        conn.close()


def sha1(b):
    return hashlib.sha1(b).hexdigest()


# ---- cluster mode helpers (Kafka topics, `odoosync work` processes, sync-log events) ----

def create_topics(env, names, partitions):
    """Create Kafka topics on the stack's broker (tests/stack/stack kafka ... topic)."""
    ctl = os.path.join(SRC, "tests", "stack", "stack")
    for name in names:
        subprocess.run([ctl, "kafka", "--dir", env["STACK_DIR"], "topic", name, str(partitions),
                        "1"], check=True, capture_output=True, timeout=30)


FINAL = {"applied", "already-done", "skipped", "dead-lettered"}  # a job's last results


class WorkerFleet:
    """A mixin for cluster tests that start, SIGKILL and restart `odoosync work`
    processes: start_fleet() makes fresh Kafka topics (4 partitions) named after tag and
    the configuration (short session and lock timeouts, so a killed worker's partitions
    and locks pass to another within seconds); procs holds every worker ever started
    (killed ones included), current the live one per slot."""
    WORKER_PREFIX = "w"

    def start_fleet(self, tag):
        topics = {"jobs": "e2e.%s.jobs" % tag, "retry": "e2e.%s.retry" % tag,
                  "dlq": "e2e.%s.dlq" % tag, "events": "e2e.%s.events" % tag}
        create_topics(self.env, topics.values(), 4)
        self.tag = tag
        self.EXTRA = {
            "kafka": {"bootstrap": self.env["KAFKA_BOOTSTRAP"], "topics": topics,
                      "group": "e2e-%s" % tag,
                      "properties": {"reconnect.backoff.max.ms": "500",
                                     "session.timeout.ms": "3000",
                                     "heartbeat.interval.ms": "300",
                                     "fetch.wait.max.ms": "50"}},
            "redis": {"url": self.env["REDIS_URL"], "lock_ttl_ms": 2000},
            "worker": {"concurrency": 4, "backoff_ms": 100, "grace_ms": 20000},
        }
        self.procs = []
        self.current = []
        self.addCleanup(self.cleanup_workers)

    def cleanup_workers(self):
        for w in self.current:
            if w.proc.poll() is None:
                w.kill()

    def start_worker(self, slot):
        n = len(self.procs)
        w = WorkProc(self.config, self.cmd_env(),
                     os.path.join(self.tmp, "events-%d.jsonl" % n),
                     os.path.join(self.tmp, "worker-%d.log" % n),
                     instance_id="%s-%s-%d" % (self.WORKER_PREFIX, self.tag, slot))
        self.procs.append(w)
        return w

    def finished(self, since=0):
        """The jobs with a final result in the events of the workers started since
        procs[since]."""
        ids = set()
        for w in self.procs[since:]:
            ids.update(e.get("job") for e in w.events() if e.get("result") in FINAL)
        return ids

    def logs(self):
        return "\n".join("--- worker process %d\n%s" % (i, w.output()[-2500:])
                         for i, w in enumerate(self.procs))


def free_port():
    """A TCP port on 127.0.0.1 free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_events(path):
    """The sync-log events (JSON lines) of one file; a torn last line (SIGKILL) is ignored."""
    evs = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        evs.append(json.loads(line))
                    except ValueError:
                        pass
    return evs


def known_librdkafka_abort(log_text):
    """librdkafka < 2.3.0 (Debian 12: 2.0.2) can abort in rd_kafka_destroy of a
    cooperative-sticky consumer closed during a rebalance (librdkafka #4312, fixed by
    PR #4381), after our final commit. True when log_text shows exactly that abort
    and the linked librdkafka is older than 2.3."""
    if "rd_kafka_sticky_assignor_state_destroy: Assertion `assignor_state' failed" not in log_text:
        return False
    out = subprocess.run([binary(), "version"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.strip().startswith("librdkafka "):
            v = tuple(int(x) for x in line.split()[1].split(".")[:2])
            return v < (2, 3)
    return False


class WorkProc:
    """One `odoosync work` process: its sync log in events_path, its output in log_path."""

    def __init__(self, config, env, events_path, log_path, instance_id=None, level="warn"):
        self.events_path = events_path
        self.log_path = log_path
        self.log = open(log_path, "w")
        args = [binary(), "work", "--config", config, "--events", events_path, "-L", level]
        if instance_id:
            args += ["--instance-id", instance_id]
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=self.log)

    def events(self):
        return read_events(self.events_path)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_sigterm_handler(self, timeout=20):
        """Until the process catches SIGTERM (SigCgt in /proc): a SIGTERM sent earlier
        would kill it before its handler is installed."""
        deadline = time.time() + timeout
        while time.time() < deadline and self.proc.poll() is None:
            try:
                with open("/proc/%d/status" % self.proc.pid) as f:
                    for line in f:
                        if line.startswith("SigCgt:") and \
                                (int(line.split()[1], 16) >> (signal.SIGTERM - 1)) & 1:
                            return
            except OSError:
                return
            time.sleep(0.05)

    def kill(self):
        """SIGKILL, reaped."""
        self.proc.kill()
        code = self.proc.wait()
        self.log.close()
        return code

    def stop(self, timeout=60):
        """SIGTERM (after the handler is in place); the exit code, or -9 if it hung."""
        if self.proc.poll() is None:
            self.wait_sigterm_handler()
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.close()
        return code


def main():
    unittest.main(verbosity=2)


if __name__ == "__main__":
    sys.exit(main())
