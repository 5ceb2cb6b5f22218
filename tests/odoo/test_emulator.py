#!/usr/bin/env python3
"""Faithfulness tests of the Odoo emulator (tests/odoo/emulator.py).

Each test class starts its own emulator (python3 emulator.py --port 0 --port-file ...) in a
temporary directory, talks to it over HTTP like odoosync does, and stops it with SIGTERM.
Run: python3 -m unittest -v test_emulator   (from tests/odoo/)
"""

import base64
import calendar
import hashlib
import http.client
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "emulator.py")
SEED = os.path.join(HERE, "seed.py")
KEY = "test-api-key-0123456789"


class RpcFailure(Exception):
    def __init__(self, error):
        super().__init__(error.get("data", {}).get("message"))
        self.error = error
        self.data = error.get("data", {})
        self.name = self.data.get("name")


class EmulatorCase(unittest.TestCase):
    VERSION = 17
    ARGS = []  # more emulator options

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="odoo-emu-test-")
        cls.data_dir = os.path.join(cls.tmp, "data")
        port_file = os.path.join(cls.tmp, "port")
        cls.proc = subprocess.Popen(
            [sys.executable, EMULATOR, "--host", "127.0.0.1", "--port", "0", "--data-dir",
             cls.data_dir, "--odoo-version", str(cls.VERSION), "--api-key", KEY,
             "--port-file", port_file] + cls.ARGS, stderr=subprocess.PIPE)
        deadline = time.time() + 15
        while not os.path.exists(port_file):
            if cls.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("emulator did not start: %s" % cls.proc.stderr.read())
            time.sleep(0.02)
        with open(port_file) as fh:
            cls.port = int(fh.read())
        cls.rids = itertools.count(1)

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        try:
            rc = cls.proc.wait(10)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            rc = cls.proc.wait()
        cls.proc.stderr.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, "emulator exited with %r" % rc

    # -- HTTP helpers ------------------------------------------------------------------
    def http(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body, headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data
        finally:
            conn.close()

    def jsonrpc(self, path, params, headers=None):
        rid = next(self.rids)  # atomic: tests call from several threads
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params, "id": rid})
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        status, hdrs, data = self.http("POST", path, body, h)
        self.assertEqual(status, 200)
        answer = json.loads(data)
        self.assertEqual(answer["jsonrpc"], "2.0")
        self.assertEqual(answer["id"], rid)
        return answer, hdrs

    def rpc(self, service, method, *args):
        answer, _ = self.jsonrpc("/jsonrpc", {"service": service, "method": method,
                                              "args": list(args)})
        if "error" in answer:
            raise RpcFailure(answer["error"])
        return answer.get("result")

    def kw(self, model, method, *args, uid=2, password="admin", **kwargs):
        return self.rpc("object", "execute_kw", "odoosync", uid, password, model, method,
                        list(args), kwargs)

    def assertOdooError(self, name, fn, *args, contains=None, **kwargs):
        with self.assertRaises(RpcFailure) as cm:
            fn(*args, **kwargs)
        err = cm.exception
        self.assertEqual(err.error["code"], 200)
        self.assertEqual(err.error["message"], "Odoo Server Error")
        self.assertEqual(err.name, name, err.data)
        for k in ("debug", "message", "arguments", "context"):
            self.assertIn(k, err.data)
        self.assertIn("Traceback", err.data["debug"])
        if contains:
            self.assertIn(contains, err.data["message"])
        return err

    def control(self, cmd):
        status, _, data = self.http("POST", "/__emulator__/control", json.dumps(cmd),
                                    {"Content-Type": "application/json"})
        self.assertEqual(status, 200, data)
        return json.loads(data)

    def json2(self, model, method, params, key=KEY, db="odoosync"):
        h = {"Content-Type": "application/json"}
        if key is not None:
            h["Authorization"] = "bearer %s" % key
        if db is not None:
            h["X-Odoo-Database"] = db
        status, hdrs, data = self.http("POST", "/json/2/%s/%s" % (model, method),
                                       json.dumps(params), h)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data


class DomainTests(EmulatorCase):
    """Domain language, dotted paths, hierarchy, paging and the generic ORM errors."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        self = cls("run")
        P = "res.partner"
        cls.agro = self.kw(P, "create", {"name": "Agrolait", "is_company": True,
                                         "customer_rank": 2, "email": "info@agrolait.com"})
        cls.camp = self.kw(P, "create", {"name": "Camptocamp", "is_company": True,
                                         "supplier_rank": 1})
        cls.mike = self.kw(P, "create", {"name": "Michael Fletcher", "parent_id": cls.agro,
                                         "email": "Mike@Agrolait.com"})
        cls.sub = self.kw(P, "create", {"name": "Intern", "parent_id": cls.mike})
        cls.chao = self.kw(P, "create", {"name": "Chao Wang", "parent_id": cls.camp,
                                         "customer_rank": 1})
        cls.old = self.kw(P, "create", {"name": "Old Customer", "customer_rank": 5,
                                        "active": False})
        cls.mine = {cls.agro, cls.camp, cls.mike, cls.sub, cls.chao, cls.old}

    def ids(self, domain, model="res.partner", **kw):
        got = self.kw(model, "search", domain, **kw)
        return set(got) & self.mine if model == "res.partner" else set(got)

    def test_display_name_of_contacts(self):
        recs = self.kw("res.partner", "read", [self.agro, self.mike, self.sub],
                       ["display_name", "parent_id"])
        by = {r["id"]: r for r in recs}
        self.assertEqual(by[self.agro]["display_name"], "Agrolait")
        self.assertEqual(by[self.mike]["display_name"], "Agrolait, Michael Fletcher")
        # the commercial company names a contact of a contact, like Odoo
        self.assertEqual(by[self.sub]["display_name"], "Agrolait, Intern")
        self.assertEqual(by[self.mike]["parent_id"], [self.agro, "Agrolait"])
        self.assertIs(by[self.agro]["parent_id"], False)

    def test_rename_parent_renames_contacts(self):
        c = self.kw("res.partner", "create", {"name": "Tmp Co", "is_company": True})
        p = self.kw("res.partner", "create", {"name": "Bob", "parent_id": c})
        self.kw("res.partner", "write", [c], {"name": "Renamed Co"})
        self.assertEqual(self.kw("res.partner", "read", [p], ["display_name"])[0]
                         ["display_name"], "Renamed Co, Bob")
        self.kw("res.partner", "unlink", [c])
        r = self.kw("res.partner", "read", [p], ["display_name", "parent_id"])[0]
        self.assertEqual((r["display_name"], r["parent_id"]), ("Bob", False))
        self.kw("res.partner", "unlink", [p])

    def test_equality_operators(self):
        self.assertEqual(self.ids([("name", "=", "Agrolait")]), {self.agro})
        self.assertEqual(self.ids([("name", "!=", "Agrolait")]),
                         {self.camp, self.mike, self.sub, self.chao})
        self.assertEqual(self.ids([("email", "=", False)]), {self.camp, self.sub, self.chao})
        self.assertEqual(self.ids([("email", "!=", False)]), {self.agro, self.mike})
        self.assertEqual(self.ids([("parent_id", "=", None)]), {self.agro, self.camp})
        self.assertEqual(self.ids([("is_company", "=", True)]), {self.agro, self.camp})
        self.assertEqual(self.ids([("is_company", "=", False)]),
                         {self.mike, self.sub, self.chao})
        self.assertEqual(self.ids([("is_company", "!=", True)]),
                         {self.mike, self.sub, self.chao})
        # '<>' and '==' are accepted aliases, operators are case-insensitive
        self.assertEqual(self.ids([("name", "<>", "Agrolait"), ("name", "==", "Intern")]),
                         {self.sub})

    def test_comparison_operators(self):
        self.assertEqual(self.ids([("customer_rank", ">", 0)]), {self.agro, self.chao})
        self.assertEqual(self.ids([("customer_rank", ">=", 2)]), {self.agro})
        self.assertEqual(self.ids([("customer_rank", "<", 1)]),
                         {self.camp, self.mike, self.sub})
        self.assertEqual(self.ids([("customer_rank", "<=", 1), ("supplier_rank", ">", 0)]),
                         {self.camp})
        self.assertEqual(self.ids([("id", ">", self.chao)]), set())

    def test_in_not_in(self):
        self.assertEqual(self.ids([("id", "in", [self.agro, self.mike, 999999])]),
                         {self.agro, self.mike})
        self.assertEqual(self.ids([("id", "in", [])]), set())
        self.assertEqual(self.ids([("id", "not in", [self.agro, self.camp])]),
                         {self.mike, self.sub, self.chao})
        self.assertEqual(self.ids([("parent_id", "in", [self.agro, False])]),
                         {self.agro, self.camp, self.mike})
        self.assertEqual(self.ids([("parent_id", "not in", [self.agro])]),
                         {self.agro, self.camp, self.sub, self.chao})
        self.assertEqual(self.ids([("parent_id", "not in", [self.agro, False])]),
                         {self.sub, self.chao})
        # a list with '=' means 'in', a scalar with 'in' means '=' (Odoo normalizes)
        self.assertEqual(self.ids([("id", "=", [self.agro])]), {self.agro})
        self.assertEqual(self.ids([("id", "in", self.camp)]), {self.camp})

    def test_like_family(self):
        self.assertEqual(self.ids([("name", "like", "gro")]), {self.agro})
        self.assertEqual(self.ids([("name", "like", "GRO")]), set())
        self.assertEqual(self.ids([("name", "ilike", "GRO")]), {self.agro})
        self.assertEqual(self.ids([("email", "ilike", "agrolait")]), {self.agro, self.mike})
        self.assertEqual(self.ids([("email", "like", "agrolait")]), {self.agro})
        # negations include empty values, like SQL "NOT ILIKE ... OR IS NULL" in Odoo
        self.assertEqual(self.ids([("email", "not ilike", "agrolait")]),
                         {self.camp, self.sub, self.chao})
        self.assertEqual(self.ids([("email", "not like", "Mike")]),
                         {self.agro, self.camp, self.sub, self.chao})
        self.assertEqual(self.ids([("name", "=like", "C%")]), {self.camp, self.chao})
        self.assertEqual(self.ids([("name", "=like", "c%")]), set())
        self.assertEqual(self.ids([("name", "=ilike", "c%")]), {self.camp, self.chao})
        self.assertEqual(self.ids([("name", "=ilike", "intern")]), {self.sub})
        self.assertEqual(self.ids([("name", "=like", "Inter_")]), {self.sub})

    def test_eq_question_mark(self):
        # '=?' is true when the value is unset, '=' otherwise
        self.assertEqual(self.ids([("name", "=?", False), ("id", "=", self.agro)]), {self.agro})
        self.assertEqual(self.ids([("name", "=?", "Intern")]), {self.sub})
        self.assertEqual(self.ids([("write_date", ">", "2000-01-01 00:00:00"),
                                   ("create_date", "<=", "2999-01-01")]),
                         self.mine - {self.old})

    def test_logical_operators(self):
        self.assertEqual(self.ids(["|", ("name", "=", "Agrolait"), ("name", "=", "Intern")]),
                         {self.agro, self.sub})
        self.assertEqual(self.ids(["!", ("is_company", "=", True)]),
                         {self.mike, self.sub, self.chao})
        self.assertEqual(self.ids(["&", ("is_company", "=", True), ("customer_rank", ">", 0)]),
                         {self.agro})
        # implicit '&' between leaves, nested prefix operators
        self.assertEqual(self.ids([("is_company", "=", False), "|", ("customer_rank", ">", 0),
                                   ("email", "!=", False)]), {self.mike, self.chao})
        self.assertEqual(self.ids(["|", "&", ("is_company", "=", True),
                                   ("supplier_rank", ">", 0), "!", ("parent_id", "!=", False)]),
                         {self.agro, self.camp})
        self.assertEqual(self.ids(["!", "|", ("name", "ilike", "a"), ("name", "ilike", "i")]),
                         set())
        self.assertEqual(self.ids([(1, "=", 1)]), self.mine - {self.old})
        self.assertEqual(self.ids([(0, "=", 1)]), set())
        self.assertEqual(self.ids(["|", (0, "=", 1), ("id", "=", self.camp)]), {self.camp})

    def test_dotted_paths(self):
        self.assertEqual(self.ids([("parent_id.name", "=", "Agrolait")]), {self.mike})
        self.assertEqual(self.ids([("parent_id.parent_id.name", "=", "Agrolait")]), {self.sub})
        self.assertEqual(self.ids([("parent_id.is_company", "=", True)]),
                         {self.mike, self.chao})
        self.assertEqual(self.ids([("child_ids.name", "=", "Intern")]), {self.mike})
        self.assertEqual(self.ids([("parent_id.email", "ilike", "AGROLAIT")]),
                         {self.mike, self.sub})
        # many2one compared with a string searches the comodel's names
        self.assertEqual(self.ids([("parent_id", "ilike", "camp")]), {self.chao})
        self.assertEqual(self.ids([("parent_id", "=", "Agrolait")]), {self.mike})

    def test_child_of_parent_of(self):
        self.assertEqual(self.ids([("id", "child_of", self.agro)]),
                         {self.agro, self.mike, self.sub})
        self.assertEqual(self.ids([("id", "child_of", [self.mike, self.camp])]),
                         {self.mike, self.sub, self.camp, self.chao})
        self.assertEqual(self.ids([("parent_id", "child_of", self.agro)]), {self.mike, self.sub})
        self.assertEqual(self.ids([("id", "parent_of", self.sub)]),
                         {self.sub, self.mike, self.agro})
        self.assertEqual(self.ids([("id", "child_of", [])]), set())
        # sale orders of a company and its contacts: the classic Odoo use of child_of
        so1 = self.kw("sale.order", "create", {"partner_id": self.mike})
        so2 = self.kw("sale.order", "create", {"partner_id": self.chao})
        got = self.kw("sale.order", "search", [("partner_id", "child_of", self.agro)])
        self.assertEqual(got, [so1])
        self.kw("sale.order", "unlink", [so1, so2])

    def test_active_test(self):
        self.assertNotIn(self.old, self.ids([]))
        self.assertEqual(self.ids([("active", "=", False)]), {self.old})
        self.assertIn(self.old, self.ids([], context={"active_test": False}))
        self.assertEqual(self.ids([("active", "in", [True, False]),
                                   ("customer_rank", "=", 5)]), {self.old})
        # read does not filter archived records
        self.assertEqual(self.kw("res.partner", "read", [self.old], ["active"]),
                         [{"id": self.old, "active": False}])

    def test_bad_domains(self):
        e = self.assertOdooError("builtins.ValueError", self.kw, "res.partner", "search",
                                 [("nope", "=", 1)])
        self.assertIn("Invalid field res.partner.nope in leaf ('nope', '=', 1)",
                      e.data["message"])
        self.assertOdooError("builtins.ValueError", self.kw, "res.partner", "search",
                             [("name", "equals", "x")], contains="Invalid leaf")
        self.assertOdooError("builtins.ValueError", self.kw, "res.partner", "search",
                             [("name", "=")], contains="Invalid leaf")
        self.assertOdooError("builtins.ValueError", self.kw, "res.partner", "search",
                             ["&", ("name", "=", "x")], contains="syntactically not correct")
        self.assertOdooError("builtins.ValueError", self.kw, "res.partner", "search",
                             ["xor", ("name", "=", "x")])
        self.assertOdooError("builtins.ValueError", self.kw, "res.partner", "search",
                             [("parent_id.nope", "=", 1)], contains="Invalid field")

    def test_search_read_paging_is_stable(self):
        ids = self.kw("project.task", "create", [{"name": "task %02d" % (i % 7)}
                                                 for i in range(23)])
        dom = [("id", "in", ids)]
        for order in ("id", "id desc", "name desc, id", "name", None):
            kw = {"order": order} if order else {}
            full = [r["id"] for r in self.kw("project.task", "search_read", dom, ["name"], **kw)]
            self.assertEqual(sorted(full), sorted(ids))
            pages = []
            for off in range(0, 30, 5):
                pages += [r["id"] for r in self.kw("project.task", "search_read", dom, ["name"],
                                                   offset=off, limit=5, **kw)]
            self.assertEqual(pages, full, order)
        got = self.kw("project.task", "search_read", dom, ["name"], order="name desc, id asc",
                      limit=3)
        self.assertEqual([r["name"] for r in got], ["task 06"] * 3)
        self.assertEqual([r["id"] for r in got], sorted(r["id"] for r in got))
        self.assertEqual(self.kw("project.task", "search", dom, order="id desc", limit=3),
                         sorted(ids, reverse=True)[:3])
        self.assertEqual(self.kw("project.task", "search", dom, offset=20), sorted(ids)[20:]
                         if False else self.kw("project.task", "search", dom)[20:])
        self.assertEqual(self.kw("project.task", "search_count", dom), 23)
        self.assertEqual(self.kw("project.task", "search_count", dom, limit=10), 10)
        self.assertOdooError("builtins.ValueError", self.kw, "project.task", "search", dom,
                             order="name; drop table x", contains='Invalid "order"')
        self.assertOdooError("builtins.ValueError", self.kw, "project.task", "search", dom,
                             order="nope desc", contains="Invalid field")
        self.kw("project.task", "unlink", ids)

    def test_default_order_res_partner(self):
        got = self.kw("res.partner", "search_read", [("id", "in", list(self.mine))],
                      ["display_name"])
        names = [r["display_name"] for r in got]
        self.assertEqual(names, sorted(names, key=lambda n: n.casefold()))

    def test_read_write_unlink_semantics(self):
        pid = self.kw("res.partner", "create", {"name": "Temp"})
        # read skips ids that do not exist, like Odoo
        self.assertEqual([r["id"] for r in self.kw("res.partner", "read", [pid, 987654],
                                                   ["name"])], [pid])
        before = self.kw("res.partner", "read", [pid], ["write_date", "create_date"])[0]
        self.assertRegex(before["create_date"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        self.assertIs(self.kw("res.partner", "write", [pid], {"email": "t@x.org"}), True)
        e = self.assertOdooError("odoo.exceptions.MissingError", self.kw, "res.partner",
                                 "write", [pid, 987654], {"email": "x"})
        self.assertIn("has already been deleted", e.data["message"])
        self.assertEqual(self.kw("res.partner", "read", [pid], ["email"])[0]["email"],
                         "t@x.org")  # the failed write rolled back nothing of pid's
        self.assertIs(self.kw("res.partner", "unlink", [pid]), True)
        e = self.assertOdooError("odoo.exceptions.MissingError", self.kw, "res.partner",
                                 "unlink", [pid])
        self.assertIn("Record does not exist or has been deleted.", e.data["message"])
        self.assertEqual(self.kw("res.partner", "exists", [pid]), [])

    def test_generic_errors(self):
        self.assertOdooError("odoo.exceptions.UserError", self.kw, "no.such.model", "search",
                             [], contains="Object no.such.model doesn't exist")
        self.assertOdooError("builtins.AttributeError", self.kw, "res.partner", "frobnicate",
                             [], contains="The method 'frobnicate' does not exist")
        self.assertOdooError("odoo.exceptions.AccessError", self.kw, "res.partner",
                             "_read_group_raw", [], contains="Private methods")
        self.assertOdooError("builtins.ValueError", self.kw, "res.partner", "create",
                             {"name": "x", "nope": 1}, contains="Invalid field 'nope'")
        self.assertOdooError("builtins.ValueError", self.kw, "res.partner", "read", [self.agro],
                             ["nope"], contains="Invalid field 'nope' on model 'res.partner'")
        self.assertOdooError("builtins.TypeError", self.kw, "res.partner", "search_read", [],
                             bogus=1)
        self.assertOdooError("odoo.exceptions.ValidationError", self.kw, "sale.order", "create",
                             {"amount_total": 1.0}, contains="a mandatory field is not set")
        self.assertOdooError("builtins.ValueError", self.kw, "sale.order", "create",
                             {"partner_id": self.agro, "state": "bogus"},
                             contains="Wrong value for sale.order.state")

    def test_fields_get(self):
        fg = self.kw("ir.attachment", "fields_get", attributes=["type", "relation"])
        self.assertEqual(fg["datas"]["type"], "binary")
        self.assertEqual(fg["checksum"]["type"], "char")
        self.assertEqual(fg["create_uid"], {"type": "many2one", "relation": "res.users"})
        self.assertEqual(self.kw("res.partner", "fields_get", ["parent_id"])["parent_id"]
                         ["relation"], "res.partner")


class AccessTests(EmulatorCase):
    """Users, passwords, API keys, access rights and the fault switches."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        self = cls("run")
        cls.partner = self.kw("res.partner", "create", {"name": "Azure Interior",
                                                        "is_company": True})
        cls.so = self.kw("sale.order", "create", {"partner_id": cls.partner})
        cls.att_so = self.kw("ir.attachment", "create", {
            "name": "quote.txt", "res_model": "sale.order", "res_id": cls.so,
            "datas": base64.b64encode(b"quote").decode()})
        cls.att_p = self.kw("ir.attachment", "create", {
            "name": "card.txt", "res_model": "res.partner", "res_id": cls.partner,
            "datas": base64.b64encode(b"card").decode()})

    def setUp(self):
        self.control({"reset": True})

    def test_common_version_and_login(self):
        v = self.rpc("common", "version")
        self.assertEqual(v["server_version"], "17.0")
        self.assertEqual(v["server_version_info"], [17, 0, 0, "final", 0, ""])
        self.assertEqual(v["protocol_version"], 1)
        self.assertEqual(self.rpc("common", "login", "odoosync", "admin", "admin"), 2)
        self.assertEqual(self.rpc("common", "authenticate", "odoosync", "admin", "admin", {}), 2)
        self.assertEqual(self.rpc("common", "authenticate", "odoosync", "portal", "portal", {}),
                         3)
        # the API key works as a password over RPC, like real Odoo
        self.assertEqual(self.rpc("common", "authenticate", "odoosync", "admin", KEY, {}), 2)

    def test_wrong_password(self):
        self.assertIs(self.rpc("common", "login", "odoosync", "admin", "wrong"), False)
        self.assertIs(self.rpc("common", "authenticate", "odoosync", "admin", "wrong", {}),
                      False)
        self.assertIs(self.rpc("common", "authenticate", "odoosync", "nobody", "x", {}), False)
        e = self.assertOdooError("odoo.exceptions.AccessDenied", self.kw, "res.partner",
                                 "search", [], password="wrong")
        self.assertEqual(e.data["message"], "Access Denied")
        self.assertOdooError("odoo.exceptions.AccessDenied", self.kw, "res.partner", "search",
                             [], uid=3, password="admin")
        self.assertEqual(self.kw("res.partner", "search", [("id", "=", self.partner)],
                                 password=KEY), [self.partner])
        self.assertOdooError("psycopg2.OperationalError", self.rpc, "common", "login", "nodb",
                             "admin", "admin")

    def test_portal_cannot_read_sale_orders(self):
        e = self.assertOdooError("odoo.exceptions.AccessError", self.kw, "sale.order",
                                 "search_read", [], ["name"], uid=3, password="portal")
        self.assertTrue(e.data["message"].startswith(
            "You are not allowed to access 'Sales Order' (sale.order) records."), e.data)
        self.assertEqual(e.data["arguments"], [e.data["message"]])
        self.assertEqual(e.data["context"], {})
        self.assertOdooError("odoo.exceptions.AccessError", self.kw, "sale.order", "read",
                             [self.so], uid=3, password="portal")
        # portal reads contacts but may not modify them
        self.assertEqual(self.kw("res.partner", "read", [self.partner], ["name"], uid=3,
                                 password="portal")[0]["name"], "Azure Interior")
        self.assertOdooError("odoo.exceptions.AccessError", self.kw, "res.partner", "write",
                             [self.partner], {"name": "x"}, uid=3, password="portal",
                             contains="You are not allowed to modify 'Contact'")

    def test_portal_attachments_of_sale_orders(self):
        # search hides attachments of records the user cannot read (ir.attachment._search)
        seen = self.kw("ir.attachment", "search", [], uid=3, password="portal")
        self.assertIn(self.att_p, seen)
        self.assertNotIn(self.att_so, seen)
        self.assertEqual(self.kw("ir.attachment", "search_count",
                                 [("res_model", "=", "sale.order")], uid=3, password="portal"),
                         0)
        # reading one names the document model, like ir.attachment.check()
        self.assertOdooError("odoo.exceptions.AccessError", self.kw, "ir.attachment", "read",
                             [self.att_so], ["name"], uid=3, password="portal",
                             contains="'Sales Order' (sale.order)")
        # admin sees both
        self.assertIn(self.att_so, self.kw("ir.attachment", "search", []))

    def test_portal_standalone_and_rights_probe(self):
        # an attachment of no record is only for its creator (or a system user)
        aid = self.kw("ir.attachment", "create", {"name": "admin only.txt",
                                                  "datas": base64.b64encode(b"x").decode()})
        self.assertOdooError("odoo.exceptions.AccessError", self.kw, "ir.attachment", "read",
                             [aid], ["name"], uid=3, password="portal",
                             contains="Sorry, you are not allowed to access this document.")
        self.assertIs(self.kw("sale.order", "check_access_rights", "read",
                              raise_exception=False, uid=3, password="portal"), False)
        self.assertIs(self.kw("sale.order", "check_access_rights", "read"), True)
        self.kw("ir.attachment", "unlink", [aid])

    def test_deny_model_switch(self):
        state = self.control({"deny_model": "sale.order"})
        self.assertEqual(state["denied"], ["sale.order"])
        e = self.assertOdooError("odoo.exceptions.AccessError", self.kw, "sale.order",
                                 "search_read", [], ["name"])
        self.assertIn("(sale.order)", e.data["message"])
        self.assertOdooError("odoo.exceptions.AccessError", self.kw, "ir.attachment", "read",
                             [self.att_so], ["name"])
        self.assertNotIn(self.att_so, self.kw("ir.attachment", "search", []))
        self.control({"allow_model": "sale.order"})
        self.assertEqual(self.kw("sale.order", "search", [("id", "=", self.so)]), [self.so])

    def test_fail_next(self):
        self.control({"fail_next": {"status": 503, "count": 2}})
        for _ in range(2):
            status, _, _ = self.http("POST", "/jsonrpc", "{}", {"Content-Type":
                                                               "application/json"})
            self.assertEqual(status, 503)
        self.assertEqual(self.rpc("common", "login", "odoosync", "admin", "admin"), 2)
        self.control({"fail_next": {"status": 0, "count": 1}})
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            self.rpc("common", "version")
        self.assertEqual(self.rpc("common", "version")["server_version"], "17.0")
        self.control({"delay_next": {"seconds": 0.4, "count": 1, "path": "/jsonrpc"}})
        t0 = time.monotonic()
        self.rpc("common", "version")
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        t0 = time.monotonic()
        self.rpc("common", "version")
        self.assertLess(time.monotonic() - t0, 0.4)

    def test_stats(self):
        self.kw("res.partner", "search", [])
        status, _, data = self.http("GET", "/__emulator__/stats")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data).get("res.partner.search"), 1)

    def test_json2_absent_before_19(self):
        status, _ = self.json2("res.partner", "search_read", {"domain": []})
        self.assertEqual(status, 404)


class AttachmentTests(EmulatorCase):
    """ir.attachment: checksum, filestore, cascade, /web/content, record-level refusals."""

    def b64(self, raw):
        return base64.b64encode(raw).decode()

    def filestore_files(self):
        out = set()
        root = os.path.join(self.data_dir, "filestore", "odoosync")
        for d, _, files in os.walk(root):
            out.update(os.path.join(d, f) for f in files)
        return out

    def test_checksum_size_mimetype(self):
        pid = self.kw("res.partner", "create", {"name": "Files Inc", "is_company": True})
        raw_pdf = b"%PDF-1.4\n" + os.urandom(3000)
        raw_png = b"\x89PNG\r\n\x1a\n" + os.urandom(100)
        a1 = self.kw("ir.attachment", "create", {"name": "offer.pdf", "datas": self.b64(raw_pdf),
                                                 "res_model": "res.partner", "res_id": pid})
        a2, a3 = self.kw("ir.attachment", "create", [
            {"name": "noext", "datas": self.b64(raw_png), "res_model": "res.partner",
             "res_id": pid},
            {"name": "link", "type": "url", "url": "https://cloud.example/f/1",
             "res_model": "res.partner", "res_id": pid}])
        recs = {r["id"]: r for r in self.kw("ir.attachment", "read", [a1, a2, a3], [
            "checksum", "file_size", "mimetype", "datas", "type", "store_fname", "res_name",
            "res_model", "res_id", "res_field"])}
        self.assertEqual(recs[a1]["checksum"], hashlib.sha1(raw_pdf).hexdigest())
        self.assertEqual(recs[a1]["file_size"], len(raw_pdf))
        self.assertEqual(recs[a1]["mimetype"], "application/pdf")
        self.assertEqual(base64.b64decode(recs[a1]["datas"]), raw_pdf)
        sha = recs[a1]["checksum"]
        self.assertEqual(recs[a1]["store_fname"], "%s/%s" % (sha[:2], sha))
        self.assertEqual(recs[a1]["res_name"], "Files Inc")
        self.assertIs(recs[a1]["res_field"], False)
        self.assertEqual(recs[a2]["mimetype"], "image/png")  # guessed from the content
        self.assertEqual(recs[a3]["type"], "url")
        self.assertIs(recs[a3]["datas"], False)
        self.assertIs(recs[a3]["checksum"], False)
        self.assertEqual(recs[a3]["file_size"], 0)
        # bin_size context gives a size instead of the content
        r = self.kw("ir.attachment", "read", [a1], ["datas"], context={"bin_size": True})
        self.assertTrue(r[0]["datas"].endswith("Kb"))
        # replacing the content recomputes checksum and frees the old file
        path = os.path.join(self.data_dir, "filestore", "odoosync", recs[a1]["store_fname"])
        self.assertTrue(os.path.exists(path))
        self.kw("ir.attachment", "write", [a1], {"datas": self.b64(b"plain text now")})
        r = self.kw("ir.attachment", "read", [a1], ["checksum", "file_size", "mimetype"])[0]
        self.assertEqual(r["checksum"], hashlib.sha1(b"plain text now").hexdigest())
        self.assertEqual(r["file_size"], 14)
        self.assertEqual(r["mimetype"], "text/plain")
        self.assertFalse(os.path.exists(path))
        # turning it into a url attachment, content dropped (what the sync does after upload)
        self.kw("ir.attachment", "write", [a1], {"type": "url", "url": "https://c/x",
                                                 "datas": False})
        r = self.kw("ir.attachment", "read", [a1], ["type", "datas", "store_fname",
                                                    "file_size"])[0]
        self.assertEqual((r["type"], r["datas"], r["store_fname"], r["file_size"]),
                         ("url", False, False, 0))
        # write_date moves on write
        self.kw("res.partner", "unlink", [pid])

    def test_binary_field_attachments_hidden_like_odoo(self):
        """image.mixin's image_1920 is stored as attachments with res_field set (image_1920,
        image_128). Like Odoo 17's ir_attachment._search, a search that names neither id
        nor res_field gets ('res_field', '=', False) prepended; one that names id (keyset
        paging: ('id', '>', n)) or res_field sees them; read by id always does."""
        pid = self.kw("res.partner", "create", {"name": "Pictured", "is_company": True})
        doc = self.kw("ir.attachment", "create", {"name": "doc.txt", "datas": self.b64(b"d"),
                                                  "res_model": "res.partner", "res_id": pid})
        raw = b"\x89PNG\r\n\x1a\n" + os.urandom(200)
        self.kw("res.partner", "write", [pid], {"image_1920": self.b64(raw)})
        mine = [("res_model", "=", "res.partner"), ("res_id", "=", pid)]
        self.assertEqual(self.kw("ir.attachment", "search", mine), [doc])
        self.assertEqual(self.kw("ir.attachment", "search_count", mine), 1)
        with_id = self.kw("ir.attachment", "search", mine + [("id", ">", 0)], order="id")
        self.assertEqual(len(with_id), 3)
        rows = self.kw("ir.attachment", "read", with_id, ["name", "res_field", "type", "datas"])
        self.assertEqual(sorted((r["name"], r["res_field"] or False) for r in rows),
                         [("doc.txt", False), ("image_128", "image_128"),
                          ("image_1920", "image_1920")])
        for r in rows:
            if r["res_field"]:
                self.assertEqual((r["type"], base64.b64decode(r["datas"])), ("binary", raw))
        named = self.kw("ir.attachment", "search", mine + [("res_field", "!=", False)])
        self.assertEqual(len(named), 2)
        self.assertEqual(self.kw("ir.attachment", "search",
                                 mine + [("res_field", "=", False), ("id", ">", 0)]), [doc])
        # an operator first ('|') does not count as naming id: hidden again
        self.assertEqual(self.kw("ir.attachment", "search",
                                 ["|", ("res_model", "=", "res.partner"),
                                  ("res_model", "=", "x")] + mine[1:]), [doc])
        # the field reads back from its attachment; False removes the attachments
        p = self.kw("res.partner", "read", [pid], ["image_1920", "image_128"])[0]
        self.assertEqual(base64.b64decode(p["image_1920"]), raw)
        self.assertEqual(base64.b64decode(p["image_128"]), raw)
        self.kw("res.partner", "write", [pid], {"image_1920": False})
        self.assertEqual(self.kw("ir.attachment", "search", mine + [("id", ">", 0)]), [doc])
        self.assertIs(self.kw("res.partner", "read", [pid], ["image_1920"])[0]["image_1920"],
                      False)
        self.kw("res.partner", "write", [pid], {"image_1920": self.b64(raw)})
        self.kw("res.partner", "unlink", [pid])
        self.assertEqual(self.kw("ir.attachment", "search", mine + [("id", ">", 0)]), [])

    def test_unlink_record_cascades_to_attachments(self):
        pid = self.kw("res.partner", "create", {"name": "Doomed"})
        raw = os.urandom(5000)
        aid = self.kw("ir.attachment", "create", {"name": "x.bin", "datas": self.b64(raw),
                                                  "res_model": "res.partner", "res_id": pid})
        keep = self.kw("ir.attachment", "create", {"name": "standalone.bin",
                                                   "datas": self.b64(os.urandom(100))})
        sha = hashlib.sha1(raw).hexdigest()
        path = os.path.join(self.data_dir, "filestore", "odoosync", sha[:2], sha)
        self.assertTrue(os.path.exists(path))
        self.kw("res.partner", "unlink", [pid])
        self.assertEqual(self.kw("ir.attachment", "search", [("id", "=", aid)]), [])
        self.assertEqual(self.kw("ir.attachment", "search", [("id", "=", keep)]), [keep])
        self.assertFalse(os.path.exists(path))
        # same content twice is stored once and survives until the last reference goes
        b1, b2 = self.kw("ir.attachment", "create", [{"name": "a", "datas": self.b64(raw)},
                                                     {"name": "b", "datas": self.b64(raw)}])
        self.kw("ir.attachment", "unlink", [b1])
        self.assertTrue(os.path.exists(path))
        self.kw("ir.attachment", "unlink", [b2, keep])
        self.assertFalse(os.path.exists(path))

    def test_business_refusals(self):
        pid = self.kw("res.partner", "create", {"name": "Buyer"})
        so = self.kw("sale.order", "create", {"partner_id": pid})
        self.assertRegex(self.kw("sale.order", "read", [so], ["name"])[0]["name"], r"^S\d{5}$")
        self.kw("sale.order", "action_confirm", [so])
        self.assertEqual(self.kw("sale.order", "read", [so], ["state"])[0]["state"], "sale")
        self.assertOdooError("odoo.exceptions.UserError", self.kw, "sale.order", "unlink", [so],
                             contains="You must first cancel it")
        e = self.assertOdooError("odoo.exceptions.ValidationError", self.kw, "res.partner",
                                 "unlink", [pid])
        self.assertIn("Sales Order (sale.order)", e.data["message"])
        self.kw("sale.order", "action_cancel", [so])
        self.kw("sale.order", "unlink", [so])
        self.kw("res.partner", "unlink", [pid])

    def test_web_content(self):
        raw = os.urandom(200000)
        aid = self.kw("ir.attachment", "create", {"name": "report 1.pdf",
                                                  "datas": self.b64(b"%PDF" + raw)})
        url_id = self.kw("ir.attachment", "create", {"name": "l", "type": "url",
                                                     "url": "https://cloud.example/x"})
        # no session, no key: Odoo answers 404 for what the public user cannot read
        status, _, _ = self.http("GET", "/web/content/%d" % aid)
        self.assertEqual(status, 404)
        answer, hdrs = self.jsonrpc("/web/session/authenticate", {
            "db": "odoosync", "login": "admin", "password": "admin"})
        self.assertEqual(answer["result"]["uid"], 2)
        cookie = hdrs["set-cookie"].split(";")[0]
        self.assertTrue(cookie.startswith("session_id="))
        status, h, body = self.http("GET", "/web/content/%d?download=true" % aid,
                                    headers={"Cookie": cookie})
        self.assertEqual(status, 200)
        self.assertEqual(body, b"%PDF" + raw)
        self.assertEqual(int(h["content-length"]), len(raw) + 4)
        self.assertEqual(h["content-type"], "application/pdf")
        self.assertEqual(h["content-disposition"], "attachment; filename*=UTF-8''report%201.pdf")
        etag = h["etag"]
        status, _, _ = self.http("GET", "/web/content/%d" % aid,
                                 headers={"Cookie": cookie, "If-None-Match": etag})
        self.assertEqual(status, 304)
        status, h, body = self.http("GET", "/web/content/%d" % aid,
                                    headers={"Authorization": "bearer " + KEY,
                                             "Range": "bytes=4-99"})
        self.assertEqual(status, 206)
        self.assertEqual(body, raw[:96])
        self.assertEqual(h["content-range"], "bytes 4-99/%d" % (len(raw) + 4))
        status, h, _ = self.http("GET", "/web/content/%d" % url_id,
                                 headers={"Authorization": "bearer " + KEY})
        self.assertEqual((status, h["location"]), (301, "https://cloud.example/x"))
        # like real Odoo, which only knows the session here
        self.control({"web_content_bearer": False})
        status, _, _ = self.http("GET", "/web/content/%d" % aid,
                                 headers={"Authorization": "bearer " + KEY})
        self.assertEqual(status, 404)
        self.control({"reset": True})
        status, _, _ = self.http("GET", "/web/content/99999999",
                                 headers={"Authorization": "bearer " + KEY})
        self.assertEqual(status, 404)
        # a session is not made with an API key (interactive login), like Odoo
        answer, _ = self.jsonrpc("/web/session/authenticate", {
            "db": "odoosync", "login": "admin", "password": KEY})
        self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.AccessDenied")
        # call_kw over the session
        answer, _ = self.jsonrpc("/web/dataset/call_kw", {
            "model": "ir.attachment", "method": "search", "args": [[("id", "=", aid)]],
            "kwargs": {}}, headers={"Cookie": cookie})
        self.assertEqual(answer["result"], [aid])

    def test_concurrent_clients(self):
        import threading
        errors, made = [], []

        def worker(n):
            try:
                for i in range(15):
                    made.append(self.kw("ir.attachment", "create", {
                        "name": "t%d-%d.txt" % (n, i),
                        "datas": self.b64(b"thread %d item %d" % (n, i))}))
                    self.kw("ir.attachment", "search_read", [("name", "=like", "t%d-%%" % n)],
                            ["checksum"], limit=5)
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(set(made)), 90)
        self.kw("ir.attachment", "unlink", made)

    def test_request_too_large(self):
        # werkzeug's (and Odoo's) 128 MiB request limit: Content-Length is enough to refuse
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.putrequest("POST", "/jsonrpc")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(129 * 1024 * 1024))
        conn.endheaders()
        resp = conn.getresponse()
        self.assertEqual(resp.status, 413)
        conn.close()


class StreamingTests(EmulatorCase):
    """/web/content streams a 50 MB attachment from the filestore without holding it."""

    SIZE = 50 * 1024 * 1024

    def rss_kb(self, field):
        with open("/proc/%d/status" % self.proc.pid) as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return None

    def test_stream_50mb(self):
        sys.path.insert(0, HERE)
        import emulator
        # write the attachment in-process (like seed.py --direct) so that the server never
        # holds the 50 MB; then measure the server while it streams it
        block = os.urandom(1 << 20)
        raw = b"".join(block[i:] + block[:i] for i in range(50))
        self.assertEqual(len(raw), self.SIZE)
        want = hashlib.sha1(raw).hexdigest()
        vals = {"name": "big.bin", "datas": base64.b64encode(raw),
                "mimetype": "application/octet-stream"}
        del raw
        odoo = emulator.Odoo(self.data_dir, self.VERSION, "")
        try:
            aid = odoo.run(lambda env: emulator.create_records(
                env, odoo.models["ir.attachment"], vals))
        finally:
            odoo.close()
        meta = self.kw("ir.attachment", "read", [aid], ["checksum", "file_size"])[0]
        self.assertEqual(meta, {"id": aid, "checksum": want, "file_size": self.SIZE})
        hwm_before = self.rss_kb("VmHWM")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", "/web/content/%d?download=true" % aid,
                     headers={"Authorization": "bearer " + KEY})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(int(resp.getheader("Content-Length")), self.SIZE)
        self.assertIsNone(resp.getheader("Transfer-Encoding"))
        h = hashlib.sha1()
        got = 0
        peak_during = 0
        while True:
            buf = resp.read(1 << 20)
            if not buf:
                break
            h.update(buf)
            got += len(buf)
            peak_during = max(peak_during, self.rss_kb("VmRSS") or 0)
        conn.close()
        self.assertEqual(got, self.SIZE)
        self.assertEqual(h.hexdigest(), want)
        hwm = self.rss_kb("VmHWM")
        if hwm is not None:
            # the download did not raise the server's peak memory by anything like the file
            # size (a server that loads the file would grow by >= 50 MiB, base64 by 67 MiB)
            grew = (hwm - hwm_before) * 1024
            self.assertLess(grew, self.SIZE // 5, "server peak RSS %d -> %d KiB"
                            % (hwm_before, hwm))
            self.assertLess(hwm * 1024, self.SIZE, "server peak RSS %d KiB" % hwm)
            sys.stderr.write("\n  server peak RSS %d -> %d KiB over a %d MiB download ... "
                             % (hwm_before, hwm, self.SIZE >> 20))


class SeedTests(EmulatorCase):
    def test_seed_sample(self):
        out = subprocess.run([sys.executable, SEED, "--url", "http://127.0.0.1:%d" % self.port,
                              "--sample"], capture_output=True, check=True, timeout=60)
        s = json.loads(out.stdout)["sample"]
        self.assertEqual(len(s["standalone_attachments"]), 2)
        cust = self.kw("res.partner", "search_count", [("customer_rank", ">", 0)])
        vend = self.kw("res.partner", "search_count", [("supplier_rank", ">", 0)])
        self.assertGreaterEqual(cust, 3)
        self.assertGreaterEqual(vend, 3)
        states = {r["state"] for r in self.kw("sale.order", "search_read", [], ["state"])}
        self.assertEqual(states, {"draft", "sent", "sale"})
        atts = self.kw("ir.attachment", "search_read", [], ["mimetype", "file_size",
                                                            "res_model", "url"])
        self.assertTrue({"application/pdf", "image/png", "text/plain"} <=
                        {a["mimetype"] for a in atts})
        self.assertEqual(sum(1 for a in atts if not a["res_model"] and not a["url"]), 2)
        self.assertLessEqual(max(a["file_size"] for a in atts), 300 * 1024)
        # partner pictures: res_field attachments, hidden unless the domain names id
        pics = self.kw("ir.attachment", "search_read", [("res_field", "!=", False)],
                       ["res_model", "res_id", "res_field"])
        self.assertEqual(sorted((a["res_id"], a["res_field"]) for a in pics),
                         sorted((p, f) for p in s["partner_images"]
                                for f in ("image_1920", "image_128")))
        self.assertFalse({a["id"] for a in pics} & {a["id"] for a in atts})
        # Odoo's technical attachments: an asset bundle, res.company.scss, a /_custom/
        # SCSS, a media image of ir.ui.view
        tech = self.kw("ir.attachment", "read", s["technical_attachments"],
                       ["name", "type", "url", "res_model", "public"])
        self.assertEqual([(t["name"], t["type"], t["res_model"], t["public"]) for t in tech],
                         [("web.assets_frontend.min.css", "binary", "ir.ui.view", True),
                          ("res.company.scss", "binary", False, False),
                          ("/_custom/web.assets_frontend/website/static/src/scss/"
                           "user_values.scss", "binary", False, False),
                          ("banner.png", "binary", "ir.ui.view", True)])
        self.assertTrue(tech[1]["url"].startswith("/web/static/"))

    def test_seed_bulk_rpc_and_direct(self):
        out = subprocess.run([sys.executable, SEED, "--url", "http://127.0.0.1:%d" % self.port,
                              "--bulk", "--records", "30", "--attachments-per-record", "3",
                              "--size", "1000", "--model", "project.task", "--batch", "20"],
                             capture_output=True, check=True, timeout=60)
        b = json.loads(out.stdout)["bulk"]
        self.assertEqual((b["records"], b["attachments"]), (30, 90))
        out = subprocess.run([sys.executable, SEED, "--direct", self.data_dir, "--bulk",
                              "--records", "40", "--attachments-per-record", "2", "--size",
                              "500"], capture_output=True, check=True, timeout=60)
        b2 = json.loads(out.stdout)["bulk"]
        self.assertEqual(b2["attachments"], 80)
        # the running server sees what the direct path wrote
        n = self.kw("ir.attachment", "search_count", [("res_model", "=", "sale.order")])
        self.assertEqual(n, 80)
        sums = {a["checksum"] for a in self.kw("ir.attachment", "search_read",
                                               [("file_size", "=", 500)], ["checksum"])}
        self.assertEqual(len(sums), 80)


class Version16Tests(EmulatorCase):
    VERSION = 16

    def test_version_16(self):
        self.assertEqual(self.rpc("common", "version")["server_version_info"][0], 16)
        pid = self.kw("res.partner", "create", {"name": "Sixteen", "is_company": True})
        self.assertEqual(self.kw("res.partner", "name_get", [pid]), [[pid, "Sixteen"]])
        self.assertEqual(self.kw("res.partner", "read", [pid], ["display_name"])[0]
                         ["display_name"], "Sixteen")
        self.assertEqual(self.kw("res.partner", "search", [("id", "=", pid)], count=True), 1)
        so = self.kw("sale.order", "create", {"partner_id": pid, "state": "done"})
        self.assertEqual(self.kw("sale.order", "read", [so], ["state"])[0]["state"], "done")
        self.assertOdooError("builtins.ValueError", self.kw, "res.partner", "search",
                             [("child_ids", "any", [])], contains="Invalid leaf")
        status, _ = self.json2("res.partner", "search", {"domain": []})
        self.assertEqual(status, 404)


class Version17Tests(EmulatorCase):
    VERSION = 17

    def test_version_17(self):
        pid = self.kw("res.partner", "create", {"name": "Seventeen"})
        # name_get is deprecated in 17.0 but still there; it is gone in 18.0
        self.assertEqual(self.kw("res.partner", "name_get", [pid]), [[pid, "Seventeen"]])
        self.assertOdooError("builtins.TypeError", self.kw, "res.partner", "search", [],
                             count=True)
        self.assertOdooError("builtins.ValueError", self.kw, "sale.order", "create",
                             {"partner_id": pid, "state": "done"})
        c = self.kw("res.partner", "create", {"name": "Parent", "child_ids": False,
                                              "is_company": True})
        self.kw("res.partner", "write", [pid], {"parent_id": c})
        self.assertEqual(self.kw("res.partner", "search",
                                 [("child_ids", "any", [("name", "=", "Seventeen")])]), [c])


class NoneResultTests(EmulatorCase):
    """A method that returns None: Odoo 17's JSON-RPC answer has no "result" at all
    (odoo/http.py JsonRPCDispatcher._response), e.g. sale.order.action_quotation_sent,
    which marks only draft quotations as sent."""

    def test_none_result_left_out(self):
        pid = self.kw("res.partner", "create", {"name": "Buyer"})
        so = self.kw("sale.order", "create", {"partner_id": pid})
        answer, _ = self.jsonrpc("/jsonrpc", {"service": "object", "method": "execute_kw",
                                              "args": ["odoosync", 2, "admin", "sale.order",
                                                       "action_quotation_sent", [[so]], {}]})
        self.assertNotIn("error", answer)
        self.assertNotIn("result", answer)
        self.assertEqual(self.kw("sale.order", "read", [so], ["state"])[0]["state"], "sent")
        self.assertOdooError("odoo.exceptions.UserError", self.kw, "sale.order",
                             "action_quotation_sent", [so],
                             contains="Only draft orders can be marked as sent directly.")


class Version18Tests(EmulatorCase):
    VERSION = 18

    def test_version_18(self):
        self.assertEqual(self.rpc("common", "version")["server_version"], "18.0")
        pid = self.kw("res.partner", "create", {"name": "Eighteen"})
        self.assertOdooError("builtins.AttributeError", self.kw, "res.partner", "name_get",
                             [pid], contains="The method 'name_get' does not exist")
        self.assertEqual(self.kw("res.partner", "read", [pid], ["display_name"])[0]
                         ["display_name"], "Eighteen")
        status, _ = self.json2("res.partner", "search", {"domain": []})
        self.assertEqual(status, 404)


class Version19Json2Tests(EmulatorCase):
    VERSION = 19

    def test_json2_crud(self):
        status, ids = self.json2("res.partner", "create", {"vals_list": [
            {"name": "Nineteen", "is_company": True}, {"name": "Contact"}]})
        self.assertEqual(status, 200)
        self.assertEqual(len(ids), 2)
        status, res = self.json2("res.partner", "write", {"ids": [ids[1]],
                                                          "vals": {"parent_id": ids[0]}})
        self.assertEqual((status, res), (200, True))
        status, rows = self.json2("res.partner", "search_read", {
            "domain": [("id", "in", ids)], "fields": ["display_name", "parent_id"],
            "order": "id", "limit": 10, "offset": 0})
        self.assertEqual(status, 200)
        self.assertEqual(rows[1]["display_name"], "Nineteen, Contact")
        self.assertEqual(rows[1]["parent_id"], [ids[0], "Nineteen"])
        status, rows = self.json2("res.partner", "read", {"ids": ids[:1], "fields": ["name"]})
        self.assertEqual((status, rows), (200, [{"id": ids[0], "name": "Nineteen"}]))
        status, ctx = self.json2("res.users", "context_get", {})
        self.assertEqual((status, ctx["uid"]), (200, 2))
        status, n = self.json2("res.partner", "search_count", {"domain": [("id", "in", ids)]})
        self.assertEqual((status, n), (200, 2))
        status, res = self.json2("res.partner", "unlink", {"ids": ids})
        self.assertEqual((status, res), (200, True))

    def test_json2_errors(self):
        status, body = self.json2("res.partner", "search", {"domain": []}, key="wrong")
        self.assertEqual(status, 401)
        self.assertEqual(body["name"], "werkzeug.exceptions.Unauthorized")
        self.assertEqual(body["arguments"], ["Invalid apikey", 401])
        status, _ = self.json2("res.partner", "search", {"domain": []}, key=None)
        self.assertEqual(status, 401)
        status, body = self.json2("no.model", "search", {"domain": []})
        self.assertEqual(status, 404)
        status, body = self.json2("res.partner", "write", {"ids": [987654],
                                                           "vals": {"name": "x"}})
        self.assertEqual((status, body["name"]), (404, "odoo.exceptions.MissingError"))
        for k in ("name", "message", "arguments", "context", "debug"):
            self.assertIn(k, body)
        status, body = self.json2("res.partner", "search", {"domain": [("nope", "=", 1)]})
        self.assertEqual((status, body["name"]), (422, "builtins.ValueError"))
        status, body = self.json2("res.partner", "search", {"domain": [], "bogus": 1})
        self.assertEqual(status, 422)
        self.control({"deny_model": "res.partner"})
        status, body = self.json2("res.partner", "search", {"domain": []})
        self.assertEqual((status, body["name"]), (403, "odoo.exceptions.AccessError"))
        self.control({"reset": True})
        status, body = self.json2("res.partner", "search", {"domain": []}, db="other")
        self.assertEqual(status, 404)
        # name_get does not exist any more
        status, body = self.json2("res.partner", "name_get", {"ids": [1]})
        self.assertEqual(status, 404)
        self.assertEqual(self.rpc("common", "version")["server_version_info"],
                         [19, 0, 0, "final", 0, ""])


class LoggingTests(EmulatorCase):
    """ir.logging as base defines it: what odoosync's sync log writes (sync_log.odoo)."""

    VALS = {"name": "odoosync", "type": "server", "dbname": "odoosync", "level": "INFO",
            "message": "upload Odoo/Quotations/SO1/a.pdf: applied",
            "path": "/Odoo/Quotations/SO1/a.pdf", "func": "upload", "line": "0"}

    def test_create_batch_and_read_back(self):
        vals = [dict(self.VALS, message="m%d" % i) for i in range(3)]
        ids = self.kw("ir.logging", "create", vals)
        self.assertEqual(len(ids), 3)
        self.assertEqual(ids, sorted(ids))
        rows = self.kw("ir.logging", "search_read", [("id", "in", ids)],
                       fields=["name", "type", "dbname", "level", "message", "path", "func",
                               "line", "create_uid", "create_date"])
        # _order = "id DESC": newest first
        self.assertEqual([r["id"] for r in rows], sorted(ids, reverse=True))
        self.assertEqual([r["message"] for r in rows], ["m2", "m1", "m0"])
        for r in rows:
            for k in ("name", "type", "dbname", "level", "path", "func", "line"):
                self.assertEqual(r[k], self.VALS[k])
            self.assertEqual(r["create_uid"], 2)  # an integer, not [id, name]
            self.assertRegex(r["create_date"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        got = self.kw("ir.logging", "search_read", [("func", "=", "upload"),
                                                    ("message", "=like", "m%")],
                      fields=["id"], order="id")
        self.assertEqual([r["id"] for r in got], ids)
        one = self.kw("ir.logging", "create", dict(self.VALS))
        self.assertIsInstance(one, int)

    def test_required_fields(self):
        before = self.kw("ir.logging", "search_count", [])
        for field, label in (("name", "Name"), ("type", "Type"), ("message", "Message"),
                             ("path", "Path"), ("func", "Function"), ("line", "Line")):
            vals = dict(self.VALS)
            del vals[field]
            e = self.assertOdooError("odoo.exceptions.ValidationError", self.kw, "ir.logging",
                                     "create", [dict(self.VALS), vals],
                                     contains="a mandatory field is not set")
            self.assertIn("Model: Logging (ir.logging)", e.data["message"])
            self.assertIn("Field: %s (%s)" % (label, field), e.data["message"])
            vals[field] = False
            self.assertOdooError("odoo.exceptions.ValidationError", self.kw, "ir.logging",
                                 "create", vals, contains="Field: %s (%s)" % (label, field))
        # one bad record refuses the whole call: nothing was created
        self.assertEqual(self.kw("ir.logging", "search_count", []), before)
        # dbname and level are optional
        vals = dict(self.VALS)
        del vals["dbname"], vals["level"]
        self.kw("ir.logging", "create", vals)
        self.assertOdooError("builtins.ValueError", self.kw, "ir.logging", "create",
                             dict(self.VALS, type="worker"), contains="ir.logging.type")
        self.assertOdooError("builtins.ValueError", self.kw, "ir.logging", "create",
                             dict(self.VALS, bogus=1), contains="Invalid field")

    def test_fields_and_access(self):
        fg = self.kw("ir.logging", "fields_get", attributes=["type", "required", "selection"])
        for k in ("name", "type", "message", "path", "func", "line"):
            self.assertTrue(fg[k]["required"], k)
        for k in ("dbname", "level"):
            self.assertFalse(fg[k]["required"], k)
        self.assertEqual(fg["type"]["selection"], [["client", "Client"], ["server", "Server"]])
        self.assertEqual(fg["message"]["type"], "text")
        self.assertEqual(fg["create_uid"]["type"], "integer")
        # only Administration / Settings may read or write it
        self.assertOdooError("odoo.exceptions.AccessError", self.kw, "ir.logging", "create",
                             dict(self.VALS), uid=3, password="portal",
                             contains="Administration / Settings")
        self.assertOdooError("odoo.exceptions.AccessError", self.kw, "ir.logging",
                             "search_read", [], uid=3, password="portal")


class TransactionStampTests(EmulatorCase):
    """Odoo stamps write_date with its transaction's start (PostgreSQL now()), and some
    modules write by SQL without stamping at all (account: customer_rank)."""

    def write_date(self, model, rid):
        return self.kw(model, "read", [rid], ["write_date"])[0]["write_date"]

    @staticmethod
    def age(stamp):
        return time.time() - calendar.timegm(time.strptime(stamp, "%Y-%m-%d %H:%M:%S"))

    def test_late_commit_stamps_the_transaction_start(self):
        state = self.control({"late_commit": {"seconds": 600, "count": 1}})
        self.assertEqual(state["late_commit"], [{"seconds": 600.0, "count": 1}])
        self.kw("res.partner", "search", [])  # reads do not take it
        pid = self.kw("res.partner", "create", {"name": "Late"})
        self.assertAlmostEqual(self.age(self.write_date("res.partner", pid)), 600, delta=5)
        # committed now, stamped 10 minutes ago: a search for recent rows misses it
        recent = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 60))
        self.assertNotIn(pid, self.kw("res.partner", "search", [("write_date", ">=", recent)]))
        self.assertEqual(self.control({})["late_commit"], [])
        self.kw("res.partner", "write", [pid], {"name": "On time"})
        self.assertLess(self.age(self.write_date("res.partner", pid)), 5)
        self.control({"late_commit": {"seconds": 120, "count": 1}})
        self.kw("res.partner", "write", [pid], {"name": "Late again"})
        self.assertAlmostEqual(self.age(self.write_date("res.partner", pid)), 120, delta=5)
        self.control({"late_commit": {"seconds": 120, "count": 5}, "reset": True})
        self.assertEqual(self.control({})["late_commit"], [{"seconds": 120.0, "count": 5}])
        self.control({"reset": True})
        self.assertEqual(self.control({})["late_commit"], [])

    def test_sql_write_leaves_write_date_alone(self):
        self.control({"late_commit": {"seconds": 3600, "count": 1}})
        pid = self.kw("res.partner", "create", {"name": "Buyer", "customer_rank": 0})
        so = self.kw("sale.order", "create", {"partner_id": pid})
        stamp = self.write_date("res.partner", pid)
        dom = [("partner_id.customer_rank", ">", 0)]
        self.assertNotIn(so, self.kw("sale.order", "search", dom))
        state = self.control({"sql_write": {"model": "res.partner", "ids": [pid],
                                            "values": {"customer_rank": 1}}})
        self.assertEqual(state["sql_write"], 1)
        self.assertEqual(self.kw("res.partner", "read", [pid], ["customer_rank"])[0]
                         ["customer_rank"], 1)
        self.assertEqual(self.write_date("res.partner", pid), stamp)
        # a domain through the related partner sees it at once
        self.assertIn(so, self.kw("sale.order", "search", dom))
        status, _, _ = self.http("POST", "/__emulator__/control", json.dumps(
            {"sql_write": {"model": "res.partner", "ids": [pid], "values": {"nope": 1}}}),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 400)


class TlsTests(EmulatorCase):
    """--tls-cert/--tls-key: the same server over https (for odoo.ca_file tests), with a
    certificate of its own: a client trusting that CA talks to it, one trusting only the
    system's store is refused the handshake."""

    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="odoo-emu-tls-")
        cls.cert = os.path.join(cls.certdir, "cert.pem")
        key = os.path.join(cls.certdir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                        cls.cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"],
                       stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=60)
        cls.ARGS = ["--tls-cert", cls.cert, "--tls-key", key]
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def http(self, method, path, body=None, headers=None):
        import ssl
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=60,
                                           context=ssl.create_default_context(cafile=self.cert))
        try:
            conn.request(method, path, body, headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data
        finally:
            conn.close()

    def test_https_with_its_ca(self):
        self.assertEqual(self.rpc("common", "version")["server_version_info"][0], 17)
        self.assertEqual(self.rpc("common", "authenticate", "odoosync", "admin", "admin", {}),
                         2)

    def test_untrusted_without_its_ca(self):
        import ssl
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=60,
                                           context=ssl.create_default_context())
        try:
            with self.assertRaises(ssl.SSLCertVerificationError):
                conn.request("GET", "/web/webclient/version_info")
        finally:
            conn.close()
        # and the server goes on serving the next client
        self.test_https_with_its_ca()


if __name__ == "__main__":
    unittest.main(verbosity=2)
