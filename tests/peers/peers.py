"""peers: the end-to-end scenarios against a real Odoo 17 and a real Nextcloud 27.

The e2e suite (tests/e2e) runs odoosync against the CI stack: Apache mod_dav and
the Odoo emulator. This suite runs the same scenario code against real servers,
where the stand-ins can differ. It is opt-in: `scripts/test-peers` (ctest label
`peers`, registered only with -DODOOSYNC_PEERS=ON); a test exits 77 (ctest: skipped)
with a message naming what did not answer when no peer is reachable.

The peers are named by environment variables (defaults: the loopback servers of a
test machine):

  ODOOSYNC_PEER_ODOO_URL       http://127.0.0.1:8069
  ODOOSYNC_PEER_ODOO_DB        odoosync
  ODOOSYNC_PEER_ODOO_LOGIN     admin
  ODOOSYNC_PEER_ODOO_PASSWORD  admin
  ODOOSYNC_PEER_ODOO_API_KEY   (or ODOOSYNC_PEER_ODOO_API_KEY_FILE) an API key of that
                               login; the API-key scenario is skipped without one
  ODOOSYNC_PEER_DAV_URL        http://127.0.0.1:8080/remote.php/dav/files/admin
  ODOOSYNC_PEER_DAV_USER / ODOOSYNC_PEER_DAV_PASSWORD   admin / admin (a Nextcloud
                               admin: the sharing scenario creates a second user,
                               ODOOSYNC_PEER_DAV_USER2 / _DAV_PASSWORD2, default
                               peers-colleague, through the OCS API, once)

Isolation without resetting Odoo: each test marks the records it creates (res.partner
`ref`, sale.order `client_order_ref` = a mark of its own), its types' domains require
that mark, and PeerOdoo shows the scenario only its own records and their attachments
(searches on res.partner, sale.order and ir.attachment get the restriction added), so
Odoo's demo data and earlier runs stay out of sight; stand-alone attachments (which every
scenario's stand-alone folder takes) are unlinked after each test, and the tests run one
at a time (RUN_SERIAL). Each test has its own cloud root
`peers-<test>-<pid>-<ms>` in the Nextcloud user's files, deleted afterwards.

Real workflows: a sale.order's `state` is never written; create/write with a state go
through the buttons a user presses (action_confirm, action_cancel without its
wizard, action_draft, action_quotation_sent).
"""
import http.client
import json
import os
import sys
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(os.path.dirname(HERE), "e2e")
sys.path.insert(0, E2E)
import harness  # noqa: E402

SKIP = 77  # ctest SKIP_RETURN_CODE


def setting(name, default=None):
    return os.environ.get("ODOOSYNC_PEER_" + name, default)


def api_key():
    key = setting("ODOO_API_KEY")
    path = setting("ODOO_API_KEY_FILE")
    if not key and path and os.path.exists(path):
        with open(path) as f:
            key = f.read().strip()
    return key or None


def dav_env():
    """The Nextcloud side, in the e2e harness's env keys (DAV_URL, DAV_USER, ...)."""
    return {"DAV_URL": setting("DAV_URL", "http://127.0.0.1:8080/remote.php/dav/files/admin"),
            "DAV_USER": setting("DAV_USER", "admin"),
            "DAV_PASSWORD": setting("DAV_PASSWORD", "admin")}


def nextcloud_base(env=None):
    """http://host:port of the Nextcloud serving DAV_URL (its /remote.php/... prefix cut)."""
    u = urllib.parse.urlparse((env or dav_env())["DAV_URL"])
    return "%s://%s" % (u.scheme, u.netloc)


class PeerOdoo(harness.OdooHelpers):
    """A real Odoo over JSON-RPC, with the Emulator's interface (call, create, write,
    unlink, attach, attachments), seeing only the records of one scenario (mark)."""

    MARK_FIELD = {"res.partner": "ref", "sale.order": "client_order_ref"}

    def __init__(self, mark):
        self.url = setting("ODOO_URL", "http://127.0.0.1:8069").rstrip("/")
        u = urllib.parse.urlparse(self.url)
        self.host, self.port = u.hostname, u.port or (443 if u.scheme == "https" else 80)
        self.https = u.scheme == "https"
        self.database = setting("ODOO_DB", "odoosync")
        self.login = setting("ODOO_LOGIN", "admin")
        self.password = setting("ODOO_PASSWORD", "admin")
        self.ca = None
        self.mark = mark
        self.since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 2))
        self.mine = {"res.partner": set(), "sale.order": set()}
        self.uid = self.rpc("common", "authenticate", [self.database, self.login,
                                                        self.password, {}])
        if not self.uid:
            raise RuntimeError("Odoo %s: login %s refused" % (self.url, self.login))

    def stop(self):
        """Unlink the stand-alone attachments the scenario made: they are the only
        rows every scenario sees (the stand-alone folder takes them all)."""
        try:
            ids = self.raw("ir.attachment", "search", [[["res_model", "=", False],
                                                        ["create_date", ">=", self.since],
                                                        ["create_uid", "=", self.uid]]])
            if ids:
                self.raw("ir.attachment", "unlink", [ids])
        except RuntimeError:
            pass

    def rpc(self, service, method, args):
        payload = {"jsonrpc": "2.0", "method": "call", "id": 1,
                   "params": {"service": service, "method": method, "args": args}}
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=120)
        try:
            conn.request("POST", "/jsonrpc", json.dumps(payload),
                         {"Content-Type": "application/json"})
            ans = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        if "error" in ans:
            d = ans["error"].get("data") or {}
            raise RuntimeError("%s: %s" % (d.get("name"), d.get("message")))
        return ans.get("result")  # Odoo leaves "result" out when the method returns None

    def raw(self, model, method, args, kwargs=None):
        """execute_kw as it is: no restriction, no workflow."""
        return self.rpc("object", "execute_kw", [self.database, self.uid, self.password,
                                                 model, method, args, kwargs or {}])

    # --- the scenario's view: its own records and their attachments -------------------
    def restrict(self, model, domain):
        domain = list(domain)
        if model in self.MARK_FIELD:
            return domain + [[self.MARK_FIELD[model], "=", self.mark]]
        if model == "ir.attachment":
            # no `id` term (it would make Odoo show res_field attachments too)
            return domain + ["|", "|",
                             "&", ["res_model", "=", "res.partner"],
                             ["res_id", "in", sorted(self.mine["res.partner"]) or [0]],
                             "&", ["res_model", "=", "sale.order"],
                             ["res_id", "in", sorted(self.mine["sale.order"]) or [0]],
                             "&", ["res_model", "=", False], ["create_date", ">=", self.since]]
        return domain

    def call(self, model, method, args, kwargs=None):
        args = list(args)
        if method in ("search", "search_read", "search_count") and args:
            args[0] = self.restrict(model, args[0])
        elif method in ("search", "search_read", "search_count"):
            kwargs = dict(kwargs or {})
            kwargs["domain"] = self.restrict(model, kwargs.get("domain", []))
        if model == "sale.order" and method == "action_cancel":
            # the user confirms the cancel wizard a confirmed order opens
            kwargs = dict(kwargs or {})
            kwargs["context"] = dict(kwargs.get("context", {}), disable_cancel_warning=True)
        if model == "sale.order" and method == "write" and "state" in args[1]:
            vals = dict(args[1])
            state = vals.pop("state")
            if vals:
                self.raw(model, "write", [args[0], vals], kwargs)
            for rid in args[0]:
                self.set_state(rid, state)
            return True
        if model == "sale.order" and method == "create" and "state" in args[0]:
            vals = dict(args[0])
            state = vals.pop("state")
            rid = self.call(model, "create", [vals], kwargs)
            self.set_state(rid, state)
            return rid
        if method == "create" and model in self.MARK_FIELD:
            vals = dict(args[0])
            vals.setdefault(self.MARK_FIELD[model], self.mark)
            rid = self.raw(model, "create", [vals], kwargs)
            self.mine[model].add(rid)
            return rid
        return self.raw(model, method, args, kwargs)

    def set_state(self, rid, state):
        """A sale order into state, by the buttons a user presses (not a write)."""
        cur = self.raw("sale.order", "read", [[rid]], {"fields": ["state"]})[0]["state"]
        if cur == state:
            return
        if state == "cancel":
            self.call("sale.order", "action_cancel", [[rid]])
            return
        if cur == "cancel" or (cur == "sent" and state == "draft"):
            self.raw("sale.order", "action_draft", [[rid]])
            cur = "draft"
        if state == "sent" and cur == "draft":
            self.raw("sale.order", "action_quotation_sent", [[rid]])
        elif state == "sale" and cur in ("draft", "sent"):
            self.raw("sale.order", "action_confirm", [[rid]])
        elif state != cur:
            raise RuntimeError("UserError: no workflow from %s to %s" % (cur, state))



class PeerDav(harness.Dav):
    DEPTH = "infinity"  # one request for a tree: each costs up to seconds on a busy Nextcloud


def probe():
    """None when both peers answer, else why not (for the skip message)."""
    try:
        PeerOdoo("probe")
    except Exception as ex:  # noqa: BLE001 -- any failure means: no peer
        return "no Odoo answers at %s (%s)" % (setting("ODOO_URL", "http://127.0.0.1:8069"), ex)
    env = dav_env()
    try:
        d = harness.Dav(env)
        st, _ = d.req("PROPFIND", "/", b"", {"Depth": "0"})
        if st != 207:
            return "the WebDAV server at %s answers %d to PROPFIND" % (env["DAV_URL"], st)
    except Exception as ex:  # noqa: BLE001
        return "no WebDAV server answers at %s (%s)" % (env["DAV_URL"], ex)
    return None


class PeerMixin:
    """Put before an e2e SyncCase class: the same scenarios on the real peers.
    SKIP_ON_PEERS: {test name: why it cannot run there} (the emulator's switches, a
    request the real server does not implement)."""

    SKIP_ON_PEERS = {}
    ROOT_PREFIX = "peers"
    NEEDS_STACK = False  # Redis + Kafka of the CI stack (the cluster tests)

    def setUp(self):
        why = self.SKIP_ON_PEERS.get(self._testMethodName)
        if why:
            self.skipTest("not on the peers: " + why)
        self.mark = "peers-%d-%d" % (os.getpid(), int(time.time() * 1000) % 10 ** 8)
        super().setUp()

    def stack_env(self):
        env = {}
        if self.NEEDS_STACK:
            env.update(harness.load_env())
        env.update(dav_env())
        return env

    def start_odoo(self):
        odoo = PeerOdoo(self.mark)
        self.addCleanup(odoo.stop)
        return odoo

    def make_dav(self):
        return PeerDav(self.env)

    def write_config(self, types=None, **extra):
        types = types if types is not None else self.TYPES
        marked = []
        for t in types:
            t = dict(t)
            f = PeerOdoo.MARK_FIELD.get(t["model"])
            if f:
                dom = (t.get("domain") or "[]").strip()
                inner = dom[1:-1].strip()
                term = "('%s', '=', '%s')" % (f, self.mark)
                t["domain"] = "[%s%s]" % (inner + ", " if inner else "", term)
            marked.append(t)
        super().write_config(marked, **extra)


def main():
    why = probe()
    if why:
        print("peers: skipped: %s. Start a real Odoo 17 and Nextcloud and name them with "
              "ODOOSYNC_PEER_* (tests/peers/peers.py)." % why)
        sys.exit(SKIP)
    prog = unittest.main(verbosity=2, exit=False)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
