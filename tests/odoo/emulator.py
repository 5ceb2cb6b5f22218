#!/usr/bin/env python3
"""Odoo emulator for the odoosync tests: the parts of Odoo 16-19 that odoosync touches.

No Odoo installs on the test machines, so this server stands in for it, over SQLite,
with Python's standard library only.  It aims to answer what real Odoo answers (same
result shapes, same refusals, same error names and messages), not to be an ORM.

Endpoints
  POST /jsonrpc                     JSON-RPC 2.0, services common / object / db
  POST /web/session/authenticate    login -> `session_id` cookie (password only, no API key)
  POST /web/session/get_session_info, /web/session/destroy, /web/dataset/call_kw[/..]
  POST /web/webclient/version_info
  POST /json/2/<model>/<method>     JSON-2 (Odoo 19 only; 404 before), bearer API key
  GET|HEAD /web/content/<id>[/<name>][?download=true]   streams ir.attachment content
  POST /__emulator__/control        test-only switches (loopback only): deny_model,
                                    allow_model, reset, fail_next, fail_call, delay_next,
                                    web_content_bearer, late_commit, sql_write
  GET  /__emulator__/stats          request counters (test-only)

Data
  DIR/odoo.sqlite3                  one table per model, ir_sequence, sessions
  DIR/filestore/odoosync/ab/ab...   attachment content, addressed by sha1 like Odoo

Concurrency: one SQLite connection behind one lock; each RPC call is one transaction
(rolled back on error, like Odoo's per-request cursor).  Downloads stream the filestore
file outside the lock, in 64 KiB chunks.
"""

import argparse
import socket
import base64
import binascii
import hashlib
import http.cookies
import json
import mimetypes
import os
import re
import secrets
import signal
import sqlite3
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import documents as odoo_documents  # noqa: E402  (the Documents app: documents.py)
import importer as odoo_import  # noqa: E402  (Odoo's import, `load`: importer.py)

THIS = sys.modules[__name__]  # handed to documents.py, which never imports this module
DOCUMENTS_MODELS = ("documents.document", "documents.folder")

DB_NAME = "odoosync"
SUPERUSER = 1
ADMIN = 2
PORTAL = 3
PUBLIC = 4
CHUNK = 64 * 1024
MAX_BODY = 128 * 1024 * 1024  # werkzeug/Odoo DEFAULT_MAX_CONTENT_LENGTH: 128 MiB

# --------------------------------------------------------------------------------------
# Errors, shaped like Odoo's


class OdooError(Exception):
    """An error that reaches the client; `name` is the Python class path Odoo reports."""

    name = "odoo.exceptions.UserError"
    status = 422  # JSON-2 HTTP status

    def __init__(self, message, name=None, status=None, arguments=None):
        super().__init__(message)
        self.message = message
        self.arguments = arguments
        if name:
            self.name = name
        if status:
            self.status = status


class UserError(OdooError):
    name = "odoo.exceptions.UserError"
    status = 422


class ValidationError(OdooError):
    name = "odoo.exceptions.ValidationError"
    status = 422


class AccessError(OdooError):
    name = "odoo.exceptions.AccessError"
    status = 403


class MissingError(OdooError):
    name = "odoo.exceptions.MissingError"
    status = 404


class AccessDenied(OdooError):
    name = "odoo.exceptions.AccessDenied"
    status = 401

    def __init__(self, message="Access Denied"):
        super().__init__(message)


def py_error(cls, message, status=422):
    return OdooError(message, name="builtins." + cls, status=status)


def serialize_error(exc):
    args = None
    if isinstance(exc, OdooError):
        name, msg, args = exc.name, exc.message, exc.arguments
    else:
        name, msg = "builtins." + type(exc).__name__, str(exc)
    debug = (
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3/dist-packages/odoo/http.py", line 1781, in _serve_db\n'
        "    return service_model.retrying(self._serve_ir_http, self.env)\n"
        '  File "/usr/lib/python3/dist-packages/odoo/service/model.py", line 133, in retrying\n'
        "    result = func()\n"
        "%s: %s\n" % (name, msg)
    )
    return {"name": name, "debug": debug, "message": msg,
            "arguments": args if args is not None else [msg], "context": {}}


# --------------------------------------------------------------------------------------
# Models


class Field:
    def __init__(self, type, string, required=False, readonly=False, comodel=None,
                 inverse=None, selection=None, default=None, ondelete=None, store=True,
                 related=None, column=None, magic=False):
        self.type = type
        self.string = string
        self.required = required
        self.readonly = readonly
        self.comodel = comodel
        self.inverse = inverse
        self.selection = selection
        self.default = default
        self.store = store
        self.related = related
        self.magic = magic
        self.column = column
        self.name = None
        if type == "many2one" and ondelete is None:
            ondelete = "restrict" if required else "set null"
        self.ondelete = ondelete


class Model:
    def __init__(self, name, description, fields, order, groups, rec_name="name",
                 parent_name=None):
        self.name = name
        self.table = name.replace(".", "_")
        self.description = description
        self.order = order
        self.groups = groups
        self.rec_name = rec_name
        self.parent_name = parent_name
        self.fields = {
            "id": Field("integer", "ID", readonly=True, magic=True),
            "display_name": Field("char", "Display Name", readonly=True, magic=True),
        }
        self.fields.update(fields)
        self.fields.update({
            "create_uid": Field("many2one", "Created by", comodel="res.users", readonly=True,
                                magic=True),
            "create_date": Field("datetime", "Created on", readonly=True, magic=True),
            "write_uid": Field("many2one", "Last Updated by", comodel="res.users",
                               readonly=True, magic=True),
            "write_date": Field("datetime", "Last Updated on", readonly=True, magic=True),
        })
        for fname, f in self.fields.items():
            f.name = fname
            if f.column is None and f.store and f.type not in ("one2many",) and not f.related:
                f.column = fname
        self.has_active = "active" in self.fields

    def columns(self):
        return [f for f in self.fields.values() if f.column == f.name and f.name != "id"]


def build_models(version, documents_app=True):
    F = Field
    sale_states = [["draft", "Quotation"], ["sent", "Quotation Sent"], ["sale", "Sales Order"]]
    if version <= 16:
        sale_states.append(["done", "Locked"])
    sale_states.append(["cancel", "Cancelled"])
    models = [
        Model("res.partner", "Contact", {
            "name": F("char", "Name"),
            "complete_name": F("char", "Complete Name", readonly=True, column="display_name",
                               store=True),
            "is_company": F("boolean", "Is a Company", default=False),
            "parent_id": F("many2one", "Related Company", comodel="res.partner"),
            "child_ids": F("one2many", "Contact", comodel="res.partner", inverse="parent_id",
                           store=False),
            "type": F("selection", "Address Type", default="contact", selection=[
                ["contact", "Contact"], ["invoice", "Invoice Address"],
                ["delivery", "Delivery Address"], ["other", "Other Address"]]),
            "customer_rank": F("integer", "Customer Rank", default=0),
            "supplier_rank": F("integer", "Supplier Rank", default=0),
            "email": F("char", "Email"),
            "phone": F("char", "Phone"),
            "ref": F("char", "Reference"),
            "vat": F("char", "Tax ID"),
            "company_name": F("char", "Company Name"),
            "active": F("boolean", "Active", default=True),
            # image.mixin: binary fields stored as attachments (see ATTACHMENT_FIELDS)
            "image_1920": F("binary", "Image", store=False),
            "image_128": F("binary", "Image 128", store=False, readonly=True),
        }, "display_name ASC, id DESC", "\t- Access Rights\n\t- Technical / Contact Creation",
            rec_name="display_name", parent_name="parent_id"),
        Model("res.users", "User", {
            "name": F("char", "Name", required=True),
            "login": F("char", "Login", required=True),
            "partner_id": F("many2one", "Related Partner", comodel="res.partner",
                            required=True),
            "active": F("boolean", "Active", default=True),
        }, "name, login", "\t- Administration / Access Rights"),
        Model("sale.order", "Sales Order", {
            "name": F("char", "Order Reference", required=True, default="New"),
            "partner_id": F("many2one", "Customer", comodel="res.partner", required=True),
            "state": F("selection", "Status", selection=sale_states, default="draft"),
            "amount_total": F("monetary", "Total", default=0.0),
            "date_order": F("datetime", "Order Date", required=True),
            "client_order_ref": F("char", "Customer Reference"),
            "note": F("text", "Terms and conditions"),
            "user_id": F("many2one", "Salesperson", comodel="res.users"),
        }, "date_order desc, id desc",
            "\t- Sales / User: Own Documents Only\n\t- Sales / User: All Documents"),
        Model("project.project", "Project", {
            "name": F("char", "Name", required=True),
            "sequence": F("integer", "Sequence", default=10),
            "partner_id": F("many2one", "Customer", comodel="res.partner"),
            "active": F("boolean", "Active", default=True),
        }, "sequence, name, id", "\t- Project / User"),
        Model("project.task.type", "Task Stage", {
            "name": F("char", "Name", required=True),
            "sequence": F("integer", "Sequence", default=1),
            "fold": F("boolean", "Folded in Kanban", default=False),
        }, "sequence, id", "\t- Project / User"),
        Model("project.task", "Task", {
            "name": F("char", "Title", required=True),
            "project_id": F("many2one", "Project", comodel="project.project",
                            ondelete="cascade"),
            "stage_id": F("many2one", "Stage", comodel="project.task.type", ondelete="restrict"),
            "partner_id": F("many2one", "Customer", comodel="res.partner"),
            "description": F("html", "Description"),
            "priority": F("selection", "Priority", selection=[["0", "Low"], ["1", "High"]],
                          default="0"),
            "sequence": F("integer", "Sequence", default=10),
            "active": F("boolean", "Active", default=True),
        }, "priority desc, sequence, id desc", "\t- Project / User"),
        Model("ir.attachment", "Attachment", {
            "name": F("char", "Name", required=True),
            "description": F("text", "Description"),
            "res_name": F("char", "Resource Name", readonly=True, store=False),
            "res_model": F("char", "Resource Model"),
            "res_field": F("char", "Resource Field"),
            "res_id": F("many2one_reference", "Resource ID"),
            "type": F("selection", "Type", required=True, default="binary",
                      selection=[["url", "URL"], ["binary", "File"]]),
            "url": F("char", "Url"),
            "public": F("boolean", "Is public document", default=False),
            "access_token": F("char", "Access Token"),
            "datas": F("binary", "File Content (base64)", store=False),
            "store_fname": F("char", "Stored Filename", readonly=True),
            "file_size": F("integer", "File Size", readonly=True),
            "checksum": F("char", "Checksum/SHA1", readonly=True),
            "mimetype": F("char", "Mime Type"),
        }, "id desc", "\t- Internal User"),
        ir_logging_model(),
    ]
    if documents_app:
        models += odoo_documents.models(version, Field, Model)  # tests/odoo/documents.py
    return {m.name: m for m in models}


def ir_logging_model():
    """base's ir.logging (odoo/addons/base/models/ir_logging.py): Settings > Technical >
    Logging. name, type, message, path, func and line are required (NOT NULL), level is a
    free char, the order is "id DESC", and its create_uid / write_uid are plain integers,
    not many2one (the rows may be written by SQL from another database)."""
    F = Field
    m = Model("ir.logging", "Logging", {
        "name": F("char", "Name", required=True),
        "type": F("selection", "Type", required=True,
                  selection=[["client", "Client"], ["server", "Server"]]),
        "dbname": F("char", "Database Name"),
        "level": F("char", "Level"),
        "message": F("text", "Message", required=True),
        "path": F("char", "Path", required=True),
        "func": F("char", "Function", required=True),
        "line": F("char", "Line", required=True),
    }, "id DESC", "\t- Administration / Settings")
    for fname, string in (("create_uid", "Created by"), ("write_uid", "Last Updated by")):
        f = Field("integer", string, readonly=True, magic=True)
        f.name = f.column = fname
        m.fields[fname] = f
    return m


# Who may do what: models absent for a user mean "no access".  Letters: r w c u(nlink).
ACL = {
    PORTAL: {"res.partner": "r", "res.users": "r", "project.project": "r",
             "project.task.type": "r", "project.task": "r", "ir.attachment": "rwcu"},
    PUBLIC: {"ir.attachment": "r"},
}
OP_LETTER = {"read": "r", "write": "w", "create": "c", "unlink": "u"}
OP_VERB = {"read": "access", "write": "modify", "create": "create", "unlink": "delete"}

USERS = {  # uid -> (login, password)
    ADMIN: ("admin", "admin"),
    PORTAL: ("portal", "portal"),
}

# --------------------------------------------------------------------------------------
# Helpers


# Odoo stamps create_date / write_date with its cursor's now(), PostgreSQL's now():
# the start of the transaction, not its commit. A transaction that ran for a while
# commits rows stamped before rows that other transactions committed meanwhile.
# The control {"late_commit": {"seconds": S, "count": N}} runs the next N writing
# calls (create, write, unlink, action_*) as if their transaction had begun S seconds
# before: their stamps are S seconds old, their rows appear now. _TXN.back is the
# running call's S (per thread: calls run one at a time under Odoo.lock).
_TXN = threading.local()


def now_str():
    return time.strftime("%Y-%m-%d %H:%M:%S",
                         time.gmtime(time.time() - getattr(_TXN, "back", 0)))


def is_writing_method(method):
    return method in ("create", "write", "unlink", "load") or method.startswith("action_")


def leaf_repr(leaf):
    return repr(tuple(leaf)) if isinstance(leaf, (list, tuple)) else repr(leaf)


_like_cache = {}


def like_to_regex(pattern, ci):
    key = (pattern, ci)
    rx = _like_cache.get(key)
    if rx is None:
        out, i = [], 0
        while i < len(pattern):
            c = pattern[i]
            if c == "\\" and i + 1 < len(pattern):
                out.append(re.escape(pattern[i + 1]))
                i += 2
                continue
            out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
            i += 1
        rx = re.compile("".join(out), re.S | (re.I if ci else 0))
        if len(_like_cache) > 2000:
            _like_cache.clear()
        _like_cache[key] = rx
    return rx


def sql_like(value, pattern, ci):
    if value is None or pattern is None:
        return None
    return 1 if like_to_regex(str(pattern), ci).fullmatch(str(value)) else 0


def odoo_collate(a, b):
    ka, kb = (a.casefold(), a), (b.casefold(), b)
    return (ka > kb) - (ka < kb)


def guess_mimetype(raw):
    if raw.startswith(b"%PDF"):
        return "application/pdf"
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if raw.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if raw.startswith(b"GIF87a") or raw.startswith(b"GIF89a"):
        return "image/gif"
    if raw.startswith(b"PK\x03\x04"):
        return "application/zip"
    head = raw[:1024]
    if b"\0" not in head:
        try:
            head.decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError:
            pass
    return "application/octet-stream"


def compute_mimetype(vals):
    mt = vals.get("mimetype") or None
    if not mt and vals.get("name"):
        mt = mimetypes.guess_type(str(vals["name"]))[0]
    if not mt and vals.get("url"):
        mt = mimetypes.guess_type(str(vals["url"]).split("?")[0])[0]
    if not mt or mt == "application/octet-stream":
        raw = vals.get("__raw")
        if raw:
            mt = guess_mimetype(raw)
    return (mt or "application/octet-stream").lower()


def human_size(sz):
    units = ("bytes", "Kb", "Mb", "Gb", "Tb")
    s, i = float(sz), 0
    while s >= 1024 and i < len(units) - 1:
        s /= 1024
        i += 1
    return "%0.2f %s" % (s, units[i])


DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d+)?)?$")
ORDER_RE = re.compile(r'^\s*("?)([a-z0-9_]+)\1(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$',
                      re.I)
TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)
OPERATORS = {"=", "!=", "<=", "<", ">", ">=", "=?", "=like", "=ilike", "like", "not like",
             "ilike", "not ilike", "in", "not in", "child_of", "parent_of"}
OPERATORS_17 = OPERATORS | {"any", "not any"}


# --------------------------------------------------------------------------------------
# The database


class Odoo:
    def __init__(self, data_dir, version, api_key, documents_app=True):
        self.version = version
        self.api_key = api_key
        self.data_dir = os.path.abspath(data_dir)
        self.filestore = os.path.join(self.data_dir, "filestore", DB_NAME)
        os.makedirs(self.filestore, exist_ok=True)
        self.models = build_models(version, documents_app)
        self.lock = threading.RLock()
        self.db = open_db(self.data_dir)
        self.control_lock = threading.Lock()
        self.denied = set()
        self.fail_rules = []  # [{"status":503,"count":n,"path":prefix}]
        self.call_fail_rules = []  # [{"call":"ir.attachment.write","count":n}]: any protocol
        self.delay_rules = []
        self.late_rules = []  # [{"seconds": s, "count": n}]: see now_str()
        self.stats = {}
        # Real Odoo authenticates /web/content by session cookie only; the bearer key is
        # accepted here unless a test turns it off ({"web_content_bearer": false}).
        self.content_bearer = True
        with self.lock:
            self._init_schema()

    # -- schema ------------------------------------------------------------------------
    def _init_schema(self):
        cur = self.db
        cur.execute("BEGIN")
        try:
            new = cur.execute("SELECT name FROM sqlite_master WHERE name='res_partner'"
                              ).fetchone() is None
            for m in self.models.values():
                cols = ["id INTEGER PRIMARY KEY AUTOINCREMENT"]
                for f in m.columns():
                    t = {"integer": "INTEGER", "boolean": "INTEGER", "many2one": "INTEGER",
                         "many2one_reference": "INTEGER", "float": "REAL",
                         "monetary": "REAL"}.get(f.type, "TEXT")
                    cols.append('"%s" %s' % (f.column, t))
                cur.execute('CREATE TABLE IF NOT EXISTS "%s" (%s)' % (m.table, ", ".join(cols)))
                # Odoo's own indexes (index=True), store_fname's among them: the garbage
                # collection of a file looks it up at every write that frees one; without
                # it, each url conversion read the whole ir_attachment table
                for f in m.columns():
                    if f.type == "many2one" or f.name in ("res_id", "active", "checksum",
                                                          "store_fname"):
                        cur.execute('CREATE INDEX IF NOT EXISTS "%s_%s_idx" ON "%s" ("%s")'
                                    % (m.table, f.column, m.table, f.column))
            cur.execute('CREATE INDEX IF NOT EXISTS ir_attachment_res_idx ON ir_attachment '
                        '(res_model, res_id)')
            cur.execute("CREATE TABLE IF NOT EXISTS ir_sequence (code TEXT PRIMARY KEY, "
                        "next INTEGER)")
            cur.execute("CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY, uid INTEGER,"
                        " created TEXT)")
            if new:
                self._seed_base()
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def _seed_base(self):
        ts = now_str()
        partners = [(1, "My Company", 1, 1), (2, "OdooBot", 0, 0), (3, "Administrator", 0, 1),
                    (4, "Public user", 0, 0), (5, "Portal User", 0, 1)]
        for pid, name, is_co, active in partners:
            self.db.execute(
                "INSERT INTO res_partner (id, name, display_name, is_company, type, "
                "customer_rank, supplier_rank, active, create_date, write_date, create_uid, "
                "write_uid) VALUES (?,?,?,?,'contact',0,0,?,?,?,1,1)",
                (pid, name, name, is_co, active, ts, ts))
        users = [(1, "OdooBot", "__system__", 2, 0), (2, "Administrator", "admin", 3, 1),
                 (3, "Portal User", "portal", 5, 1), (4, "Public user", "public", 4, 0)]
        for uid, name, login, pid, active in users:
            self.db.execute(
                "INSERT INTO res_users (id, name, display_name, login, partner_id, active, "
                "create_date, write_date, create_uid, write_uid) VALUES (?,?,?,?,?,?,?,?,1,1)",
                (uid, name, name, login, pid, active, ts, ts))
        self.db.execute("INSERT INTO project_task_type (name, display_name, sequence, fold, "
                        "create_date, write_date, create_uid, write_uid) VALUES "
                        "('New','New',1,0,?,?,1,1)", (ts, ts))

    # -- access rights -----------------------------------------------------------------
    def has_access(self, uid, model, op):
        if model in self.denied:
            return False
        if uid in (SUPERUSER, ADMIN):
            return True
        return OP_LETTER[op] in ACL.get(uid, {}).get(model, "")

    def check_access(self, env, model, op):
        if env.su:
            return
        if not self.has_access(env.uid, model.name, op):
            raise AccessError(
                "You are not allowed to %s '%s' (%s) records.\n\n"
                "This operation is allowed for the following groups:\n%s\n\n"
                "Contact your administrator to request access if necessary."
                % (OP_VERB[op], model.description, model.name, model.groups))

    # -- filestore ---------------------------------------------------------------------
    def file_path(self, store_fname):
        return os.path.join(self.filestore, store_fname)

    def file_write(self, raw):
        sha = hashlib.sha1(raw).hexdigest()
        fname = "%s/%s" % (sha[:2], sha)
        path = self.file_path(fname)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = "%s.%d.%d.tmp" % (path, os.getpid(), threading.get_ident())
            with open(tmp, "wb") as fh:
                fh.write(raw)
            os.replace(tmp, path)
        return sha, fname

    def file_gc(self, fnames):
        for fname in set(f for f in fnames if f):
            row = self.db.execute("SELECT 1 FROM ir_attachment WHERE store_fname=? LIMIT 1",
                                  (fname,)).fetchone()
            if row is None:
                try:
                    os.unlink(self.file_path(fname))
                except OSError:
                    pass

    # -- dispatch ----------------------------------------------------------------------
    def call(self, uid, model_name, method, args, kwargs, ids=None, json2=False):
        """Run one model method in one transaction; returns a JSON-able value."""
        self.count("%s.%s" % (model_name, method))
        with self.control_lock:
            for r in self.call_fail_rules:
                if r["count"] > 0 and r["call"] == "%s.%s" % (model_name, method):
                    r["count"] -= 1
                    raise OdooError("the emulator was told to fail %s" % r["call"],
                                    name="builtins.RuntimeError", status=500)
        model = self.models.get(model_name)
        if model is None:
            if json2:
                raise OdooError("the model '%s' does not exist" % model_name,
                                name="werkzeug.exceptions.NotFound", status=404)
            raise UserError("Object %s doesn't exist" % model_name)
        if not isinstance(method, str) or method.startswith("_"):
            raise AccessError("Private methods (such as %s) cannot be called remotely." % method)
        spec = self.method_spec(model, method)
        if spec is None:
            raise py_error("AttributeError", "The method '%s' does not exist on the model '%s'"
                           % (method, model_name), status=404)
        fn, on_records = spec
        kwargs = dict(kwargs or {})
        ctx = kwargs.pop("context", None) or {}
        if not isinstance(ctx, dict):
            raise py_error("TypeError", "context must be a dictionary")
        args = list(args or [])
        if on_records and not json2:
            if not args:
                raise py_error("IndexError", "list index out of range")
            ids, args = args[0], args[1:]
        if on_records:
            ids = normalize_ids(ids)
        env = Env(self, uid, ctx)
        try:
            bound = _signature(fn).bind(env, model, *(([ids] if on_records else []) + args),
                                        **kwargs)
        except TypeError as exc:
            raise py_error("TypeError", "%s() %s" % (method, exc))
        back = self.take_late_commit(method)
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")  # seed.py --direct may write meanwhile
            _TXN.back = back
            try:
                result = fn(*bound.args, **bound.kwargs)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            finally:
                _TXN.back = 0
            gc = env.gc
        if gc:
            with self.lock:
                self.file_gc(gc)
        return result

    def take_late_commit(self, method):
        """Seconds the transaction of this call began before now (late_commit rules)."""
        if not isinstance(method, str) or not is_writing_method(method):
            return 0
        with self.control_lock:
            for r in self.late_rules:
                if r["count"] > 0:
                    r["count"] -= 1
                    return r["seconds"]
        return 0

    def sql_write(self, model_name, ids, values):
        """An UPDATE behind the ORM's back, as Odoo modules do for hot counters (account's
        res.partner._increase_rank bumps customer_rank by SQL): no write_date, no
        write_uid, no recomputation."""
        model = self.models.get(model_name)
        if model is None:
            raise ValueError("no model %s" % model_name)
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids) or \
                not isinstance(values, dict) or not values:
            raise ValueError("sql_write: ids (list of int) and values (object) expected")
        cols, params = [], []
        for k, v in values.items():
            f = model.fields.get(k)
            if f is None or not f.store or not f.column or f.type in ("one2many", "many2many"):
                raise ValueError("sql_write: %s.%s is no column" % (model_name, k))
            cols.append('"%s" = ?' % f.column)
            params.append(int(v) if isinstance(v, bool) else v)
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                n = self.db.execute('UPDATE "%s" SET %s WHERE id IN (%s)' % (
                    model.table, ", ".join(cols), ",".join("?" * len(ids))),
                    params + ids).rowcount if ids else 0
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return n

    def method_spec(self, model, method):
        if method == "name_get" and self.version >= 18:
            return None
        if method == "search" and self.version <= 16:
            return (m_search16, False)
        if method == "search_count" and self.version <= 16:
            return (m_search_count16, False)
        spec = METHODS.get(method)
        if spec is None and model.name == "sale.order":
            spec = SALE_METHODS.get(method)
        if spec is None and model.name == "res.users" and method == "context_get":
            spec = (m_context_get, False)
        return spec

    def run(self, fn, uid=ADMIN, ctx=None):
        """In-process call (seed.py --direct, tests): fn(env) in one transaction."""
        env = Env(self, uid, ctx or {})
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(env)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.file_gc(env.gc)
        return result

    def close(self):
        with self.lock:
            self.db.close()

    def count(self, key):
        with self.control_lock:
            self.stats[key] = self.stats.get(key, 0) + 1

    # -- users -------------------------------------------------------------------------
    def authenticate(self, db, login, password, interactive=False):
        self.check_db(db)
        for uid, (ulogin, upw) in USERS.items():
            if login == ulogin:
                if password == upw:
                    return uid
                if uid == ADMIN and not interactive and self.api_key and password == self.api_key:
                    return uid
        return False

    def check_uid(self, db, uid, password):
        self.check_db(db)
        if not isinstance(uid, int) or uid not in USERS:
            raise AccessDenied()
        if password == USERS[uid][1]:
            return
        if uid == ADMIN and self.api_key and password == self.api_key:
            return
        raise AccessDenied()

    def check_db(self, db):
        if db != DB_NAME:
            raise OdooError('connection to server on socket "/var/run/postgresql/.s.PGSQL.5432"'
                            ' failed: FATAL:  database "%s" does not exist\n' % db,
                            name="psycopg2.OperationalError", status=404)

    def session_uid(self, sid):
        if not sid:
            return None
        with self.lock:
            row = self.db.execute("SELECT uid FROM sessions WHERE sid=?", (sid,)).fetchone()
        return row[0] if row else None

    def session_new(self, uid):
        sid = secrets.token_hex(20)
        with self.lock:
            self.db.execute("INSERT INTO sessions VALUES (?,?,?)", (sid, uid, now_str()))
        return sid

    def session_drop(self, sid):
        with self.lock:
            self.db.execute("DELETE FROM sessions WHERE sid=?", (sid,))


def open_db(data_dir):
    db = sqlite3.connect(os.path.join(data_dir, "odoo.sqlite3"), isolation_level=None,
                         check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=30000")
    db.create_function("odoo_like", 3, sql_like, deterministic=True)
    db.create_collation("odoo", odoo_collate)
    return db


_sig_cache = {}


def _signature(fn):
    import inspect
    s = _sig_cache.get(fn)
    if s is None:
        s = _sig_cache[fn] = inspect.signature(fn)
    return s


def normalize_ids(ids):
    if ids is None or ids is False:
        return []
    if isinstance(ids, bool):
        raise py_error("TypeError", "ids must be a list of integers")
    if isinstance(ids, int):
        return [ids]
    if isinstance(ids, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool)
                                              for i in ids):
        seen, out = set(), []
        for i in ids:
            if i not in seen:
                seen.add(i)
                out.append(i)
        return out
    raise py_error("TypeError", "ids must be a list of integers, not %r" % (ids,))


class Env:
    def __init__(self, odoo, uid, ctx, su=False):
        self.odoo = odoo
        self.db = odoo.db
        self.uid = uid
        self.ctx = ctx
        self.su = su
        self.gc = []

    def sudo(self):
        e = Env(self.odoo, self.uid, self.ctx, su=True)
        e.gc = self.gc
        return e

    def with_ctx(self, **kw):
        c = dict(self.ctx)
        c.update(kw)
        e = Env(self.odoo, self.uid, c, su=self.su)
        e.gc = self.gc
        return e

    @property
    def is_system(self):
        return self.su or self.uid in (SUPERUSER, ADMIN)

    def model(self, name):
        return self.odoo.models[name]


# --------------------------------------------------------------------------------------
# Domains -> SQL


class Compiler:
    def __init__(self, env):
        self.env = env
        self.odoo = env.odoo
        self.n = 0

    def alias(self):
        self.n += 1
        return "t%d" % self.n

    def where(self, model, alias, domain):
        if not isinstance(domain, (list, tuple)):
            raise py_error("ValueError", "Invalid domain: %r" % (domain,))
        tokens = normalize_domain(domain)
        params = []
        pos = [0]

        def parse():
            if pos[0] >= len(tokens):
                raise py_error("ValueError", "Domain %r is syntactically not correct." % (domain,))
            tok = tokens[pos[0]]
            pos[0] += 1
            if tok == "!":
                return "(NOT %s)" % parse()
            if tok in ("&", "|"):
                a = parse()
                b = parse()
                return "(%s %s %s)" % (a, "AND" if tok == "&" else "OR", b)
            return self.leaf(model, alias, tok, params)

        sql = parse() if tokens else "1=1"
        return sql, params

    def leaf(self, model, alias, leaf, params):
        if not isinstance(leaf, tuple) or len(leaf) != 3:
            raise py_error("ValueError", "Invalid leaf %s" % leaf_repr(leaf))
        if leaf == TRUE_LEAF:
            return "1=1"
        if leaf == FALSE_LEAF:
            return "1=0"
        left, op, right = leaf
        ops = OPERATORS_17 if self.odoo.version >= 17 else OPERATORS
        if not isinstance(left, str) or not isinstance(op, str):
            raise py_error("ValueError", "Invalid leaf %s" % leaf_repr(leaf))
        op = op.lower()
        op = {"<>": "!=", "==": "="}.get(op, op)
        if op not in ops:
            raise py_error("ValueError", "Invalid leaf %s" % leaf_repr(leaf))
        if op in ("in", "not in") and not isinstance(right, (list, tuple)):
            op = "=" if op == "in" else "!="
        elif op in ("=", "!=") and isinstance(right, (list, tuple)):
            op = "in" if op == "=" else "not in"
        path = left.split(".")
        field = model.fields.get(path[0])
        if field is None:
            raise py_error("ValueError", "Invalid field %s.%s in leaf %s"
                           % (model.name, path[0], leaf_repr(leaf)))
        if field.related:
            path = field.related.split(".") + path[1:]
            return self.leaf(model, alias, (".".join(path), op, right), params)
        col = '%s."%s"' % (alias, field.column or "id")
        if len(path) > 1:
            if field.type not in ("many2one", "one2many"):
                raise py_error("ValueError", "Invalid field %s.%s in leaf %s"
                               % (model.name, path[0], leaf_repr(leaf)))
            co = self.odoo.models[field.comodel]
            a2 = self.alias()
            sub = self.leaf(co, a2, (".".join(path[1:]), op, right), params)
            if field.type == "many2one":
                return '%s IN (SELECT %s.id FROM "%s" %s WHERE %s)' % (col, a2, co.table, a2, sub)
            inv = co.fields[field.inverse].column
            return '%s.id IN (SELECT %s."%s" FROM "%s" %s WHERE %s."%s" IS NOT NULL AND %s)' % (
                alias, a2, inv, co.table, a2, a2, inv, sub)
        if op in ("child_of", "parent_of"):
            return self.hierarchy(model, alias, field, col, op, right, params)
        if op in ("any", "not any"):
            if field.type not in ("many2one", "one2many"):
                raise py_error("ValueError", "Invalid leaf %s" % leaf_repr(leaf))
            co = self.odoo.models[field.comodel]
            a2 = self.alias()
            sub, p2 = self.where(co, a2, right)
            if field.type == "many2one":
                inner = '%s IN (SELECT %s.id FROM "%s" %s WHERE %s)' % (col, a2, co.table, a2, sub)
                params.extend(p2)
                return inner if op == "any" else "(%s IS NULL OR NOT %s)" % (col, inner)
            inv = co.fields[field.inverse].column
            inner = '%s.id IN (SELECT %s."%s" FROM "%s" %s WHERE %s)' % (
                alias, a2, inv, co.table, a2, sub)
            params.extend(p2)
            return inner if op == "any" else "NOT " + inner
        if field.type == "one2many":
            co = self.odoo.models[field.comodel]
            inv = co.fields[field.inverse].column
            a2 = self.alias()
            if right is False or right is None or right == []:
                ex = 'EXISTS (SELECT 1 FROM "%s" %s WHERE %s."%s" = %s.id)' % (
                    co.table, a2, a2, inv, alias)
                return ("NOT " + ex) if op in ("=", "in") else ex
            sub = self.leaf(co, a2, ("id" if not isinstance(right, str) else "display_name",
                                     op if op in ("in", "=", "ilike", "like") else op, right),
                            params)
            return '%s.id IN (SELECT %s."%s" FROM "%s" %s WHERE %s)' % (
                alias, a2, inv, co.table, a2, sub)
        if not field.store or field.column is None:
            # Like Odoo: a non-stored field without a search method is ignored (logged).
            sys.stderr.write("emulator: Non-stored field %s.%s cannot be searched.\n"
                             % (model.name, field.name))
            return "1=1"
        if field.type == "many2one" and op != "=?" and self._is_name_search(op, right):
            co = self.odoo.models[field.comodel]
            a2 = self.alias()
            neg = {"!=": "=", "not like": "like", "not ilike": "ilike", "not in": "in"}
            pos_op = neg.get(op, op)
            sub = self.leaf(co, a2, (co.rec_name, pos_op, right), params)
            inner = '%s IN (SELECT %s.id FROM "%s" %s WHERE %s)' % (col, a2, co.table, a2, sub)
            if op in neg:
                return "(%s IS NULL OR NOT %s)" % (col, inner)
            return inner
        return self.scalar(field, col, op, right, params)

    @staticmethod
    def _is_name_search(op, right):
        if op in ("like", "ilike", "not like", "not ilike", "=like", "=ilike"):
            return True
        if isinstance(right, str):
            return True
        if isinstance(right, (list, tuple)) and right and all(isinstance(v, str) for v in right):
            return True
        return False

    def value(self, field, v):
        if isinstance(v, bool) and field.type in ("boolean",):
            return 1 if v else 0
        if isinstance(v, (list, dict)):
            raise py_error("ValueError", "Invalid value %r for field %s" % (v, field.name))
        return v

    def scalar(self, field, col, op, right, params):
        is_bool = field.type == "boolean"
        is_text = field.type in ("char", "text", "html", "selection")
        if op == "=?":
            if right is False or right is None:
                return "1=1"
            op = "in" if isinstance(right, (list, tuple)) else "="
        if op in ("in", "not in"):
            vals = list(right)
            has_null = any(v is False or v is None for v in vals) and not is_bool
            if is_bool:
                vals = [1 if v else 0 for v in vals]
                if 0 in vals:
                    has_null = True
            vals = [self.value(field, v) for v in vals if v is not False and v is not None or
                    is_bool]
            if op == "in":
                parts = []
                if vals:
                    parts.append("%s IN (%s)" % (col, ",".join("?" * len(vals))))
                    params.extend(vals)
                if has_null:
                    parts.append("%s IS NULL" % col)
                return "(%s)" % " OR ".join(parts) if parts else "1=0"
            parts = []
            if vals:
                parts.append("%s NOT IN (%s)" % (col, ",".join("?" * len(vals))))
                params.extend(vals)
            if has_null:
                parts.append("%s IS NOT NULL" % col)
                return "(%s)" % " AND ".join(parts)
            return "(%s OR %s IS NULL)" % (parts[0], col) if parts else "1=1"
        if op in ("=", "!="):
            if is_bool and (right is False or right is None or right is True):
                truth = bool(right) == (op == "=")
                return "%s = 1" % col if truth else "(%s IS NULL OR %s = 0)" % (col, col)
            if right is False or right is None:
                if op == "=":
                    return ("(%s IS NULL OR %s = '')" % (col, col)) if is_text else \
                        "%s IS NULL" % col
                return ("(%s IS NOT NULL AND %s != '')" % (col, col)) if is_text else \
                    "%s IS NOT NULL" % col
            params.append(self.value(field, right))
            if op == "=":
                return "%s = ?" % col
            return "(%s != ? OR %s IS NULL)" % (col, col)
        if op in ("<", "<=", ">", ">="):
            if right is False or right is None:
                return "1=0"
            params.append(self.value(field, right))
            return "%s %s ?" % (col, op)
        # like family
        ci = "ilike" in op
        if op in ("like", "ilike", "not like", "not ilike"):
            if right is False or right is None:
                # Odoo: ('x', 'ilike', False) is "x is set" / negated "x is not set"
                return ("%s IS NOT NULL" % col) if not op.startswith("not") else \
                    "%s IS NULL" % col
            pat = "%%%s%%" % (right,)
        else:
            pat = "%s" % (right,)
        params.append(pat)
        expr = "odoo_like(%s, ?, %d) = 1" % (col, 1 if ci else 0)
        if op.startswith("not"):
            return "(NOT (%s) OR %s IS NULL)" % (expr, col)
        return expr

    def hierarchy(self, model, alias, field, col, op, right, params):
        co = self.odoo.models[field.comodel] if field.comodel else model
        if field.type not in ("many2one", "one2many") and field.name != "id":
            raise py_error("ValueError", "Invalid leaf %s" % leaf_repr((field.name, op, right)))
        ids = self.to_ids(co, right)
        if co.parent_name:
            ids = self.closure(co, ids, down=(op == "child_of"))
        if field.type == "one2many":
            inv = co.fields[field.inverse].column
            if not ids:
                return "1=0"
            params.extend(ids)
            return '%s.id IN (SELECT "%s" FROM "%s" WHERE id IN (%s))' % (
                alias, inv, co.table, ",".join("?" * len(ids)))
        if not ids:
            return "1=0"
        params.extend(ids)
        return "%s IN (%s)" % (col, ",".join("?" * len(ids)))

    def to_ids(self, co, right):
        if right is False or right is None:
            return []
        if isinstance(right, bool):
            return []
        if isinstance(right, int):
            return [right]
        if isinstance(right, str):
            rows = self.env.db.execute('SELECT id FROM "%s" WHERE odoo_like("%s", ?, 1) = 1'
                                       % (co.table, co.fields[co.rec_name].column),
                                       ("%%%s%%" % right,)).fetchall()
            return [r[0] for r in rows]
        if isinstance(right, (list, tuple)):
            out = []
            for v in right:
                out.extend(self.to_ids(co, v))
            return out
        raise py_error("ValueError", "Invalid value %r" % (right,))

    def closure(self, co, ids, down=True):
        if not ids:
            return []
        pcol = co.fields[co.parent_name].column
        qs = ",".join("?" * len(ids))
        if down:
            sql = ('WITH RECURSIVE h(id) AS (SELECT id FROM "{t}" WHERE id IN ({q}) UNION '
                   'SELECT c.id FROM "{t}" c JOIN h ON c."{p}" = h.id) SELECT id FROM h')
        else:
            sql = ('WITH RECURSIVE h(id) AS (SELECT id FROM "{t}" WHERE id IN ({q}) UNION '
                   'SELECT c."{p}" FROM "{t}" c JOIN h ON c.id = h.id WHERE c."{p}" IS NOT NULL) '
                   'SELECT id FROM h')
        rows = self.env.db.execute(sql.format(t=co.table, q=qs, p=pcol), ids).fetchall()
        return sorted(r[0] for r in rows)

    def order_by(self, model, alias, order):
        if order is None or order is False or order == "":
            order = model.order
        if not isinstance(order, str):
            raise py_error("ValueError", 'Invalid "order" specified (%r).' % (order,))
        terms, has_id = [], False
        for part in order.split(","):
            m = ORDER_RE.match(part)
            if not m:
                raise py_error(
                    "ValueError",
                    'Invalid "order" specified (%s). A valid "order" specification is a '
                    "comma-separated list of valid field names (optionally followed by asc/desc "
                    "for the direction)" % order)
            fname, direction, nulls = m.group(2), (m.group(3) or "asc").upper(), m.group(4)
            if fname == "display_name" and model.name != "res.partner":
                fname = model.rec_name if model.rec_name != "display_name" else fname
            field = model.fields.get(fname)
            if field is None:
                if fname == "display_name":
                    field = model.fields["display_name"]
                else:
                    raise py_error("ValueError", "Invalid field %r on model %r"
                                   % (fname, model.name))
            if field.type == "one2many" or not field.column:
                raise py_error("ValueError", "Cannot convert field %s.%s to SQL"
                               % (model.name, fname))
            if fname == "id":
                has_id = True
            expr = '%s."%s"' % (alias, field.column)
            if field.type == "many2one":
                co = self.odoo.models[field.comodel]
                expr = '(SELECT x.display_name FROM "%s" x WHERE x.id = %s)' % (co.table, expr)
            if field.type in ("char", "text", "html", "many2one", "selection"):
                expr += " COLLATE odoo"
            # PostgreSQL puts NULLs last ascending and first descending.
            nulls_first = (direction == "DESC") if nulls is None else nulls.lower() == "first"
            terms.append("(%s IS NULL) %s" % (expr.replace(" COLLATE odoo", ""),
                                              "DESC" if nulls_first else "ASC"))
            terms.append("%s %s" % (expr, direction))
        if not has_id:
            terms.append("%s.id ASC" % alias)
        return ", ".join(terms)


def normalize_domain(domain):
    if not domain:
        return []
    result, expected = [], 1
    arity = {"!": 1, "&": 2, "|": 2}
    for tok in domain:
        if expected == 0:
            result[0:0] = ["&"]
            expected = 1
        if isinstance(tok, (list, tuple)):
            expected -= 1
            tok = tuple(tok)
        elif tok in arity:
            expected += arity[tok] - 1
        else:
            raise py_error("ValueError", "Invalid leaf %s" % leaf_repr(tok))
        result.append(tok)
    if expected != 0:
        raise py_error("ValueError", "Domain %r is syntactically not correct." % (list(domain),))
    return result


# --------------------------------------------------------------------------------------
# ORM operations


def search_ids(env, model, domain, offset=0, limit=None, order=None, count=False):
    odoo = env.odoo
    odoo.check_access(env, model, "read")
    if domain is None or domain is False:
        domain = []
    if not isinstance(domain, (list, tuple)):
        raise py_error("ValueError", "Invalid domain: %r" % (domain,))
    domain = list(domain)
    if model.has_active and env.ctx.get("active_test", True):
        if not any(isinstance(t, (list, tuple)) and t and t[0] == "active" for t in domain):
            domain = [("active", "=", True)] + domain
    if model.name == "ir.attachment":
        if not any(isinstance(t, (list, tuple)) and t and t[0] in ("id", "res_field")
                   for t in domain):
            domain = [("res_field", "=", False)] + domain
    comp = Compiler(env)
    where, params = comp.where(model, "t0", domain)
    if model.name == "ir.attachment" and not env.su:
        where = "(%s) AND %s" % (where, attachment_visibility(env))
    if count:
        return env.db.execute('SELECT count(*) FROM "%s" t0 WHERE %s' % (model.table, where),
                              params).fetchone()[0]
    sql = 'SELECT t0.id FROM "%s" t0 WHERE %s ORDER BY %s' % (
        model.table, where, comp.order_by(model, "t0", order))
    if limit is not None and limit is not False:
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise py_error("TypeError", "limit must be an integer")
    if offset is not None and offset is not False:
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise py_error("TypeError", "offset must be an integer")
    if limit or offset:
        sql += " LIMIT %d OFFSET %d" % (limit if limit else -1, offset or 0)
    return [r[0] for r in env.db.execute(sql, params)]


def attachment_visibility(env):
    """Odoo's ir.attachment._search: hide attachments of records the user cannot read."""
    odoo = env.odoo
    parts = ["t0.res_model IS NULL", "t0.res_model = ''", "t0.public = 1"]
    for m in odoo.models.values():
        if odoo.has_access(env.uid, m.name, "read"):
            parts.append("(t0.res_model = '%s' AND t0.res_id IN (SELECT id FROM \"%s\"))"
                         % (m.name, m.table))
    parts.append("t0.res_model NOT IN (%s)" % ",".join("'%s'" % m for m in odoo.models))
    return "(%s)" % " OR ".join(parts)


def attachment_check(env, ids, mode, vals=None):
    """Odoo's ir.attachment.check(): the linked record's rights apply."""
    if env.su:
        return
    odoo = env.odoo
    model_ids = {}
    if ids:
        qs = ",".join("?" * len(ids))
        for res_model, res_id, cuid, public, res_field in env.db.execute(
                "SELECT res_model, res_id, create_uid, public, res_field FROM ir_attachment "
                "WHERE id IN (%s)" % qs, ids):
            if public and mode == "read":
                continue
            if not env.is_system and (res_field or (not res_id and cuid != env.uid)):
                raise AccessError("Sorry, you are not allowed to access this document.")
            if res_model and res_id:
                model_ids.setdefault(res_model, set()).add(res_id)
    if vals and vals.get("res_model") and vals.get("res_id"):
        model_ids.setdefault(vals["res_model"], set()).add(vals["res_id"])
    for res_model, res_ids in model_ids.items():
        m = odoo.models.get(res_model)
        if m is None:
            continue
        qs = ",".join("?" * len(res_ids))
        existing = env.db.execute('SELECT count(*) FROM "%s" WHERE id IN (%s)' % (m.table, qs),
                                  list(res_ids)).fetchone()[0]
        if not existing:
            continue
        odoo.check_access(env, m, "read" if mode == "read" else "write")


def existing_ids(env, model, ids):
    if not ids:
        return []
    out = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        out.update(r[0] for r in env.db.execute(
            'SELECT id FROM "%s" WHERE id IN (%s)' % (model.table, ",".join("?" * len(chunk))),
            chunk))
    return [i for i in ids if i in out]


def display_names(env, model, ids):
    if not ids:
        return {}
    out = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for rid, dn in env.db.execute('SELECT id, display_name FROM "%s" WHERE id IN (%s)'
                                      % (model.table, ",".join("?" * len(chunk))), chunk):
            out[rid] = dn if dn is not None else False
    return out


def read_records(env, model, ids, fields=None, load="_classic_read"):
    odoo = env.odoo
    odoo.check_access(env, model, "read")
    if fields is None or fields is False or fields == []:
        fnames = [f for f in model.fields]
    else:
        if isinstance(fields, str):
            fields = [fields]
        if not isinstance(fields, (list, tuple)):
            raise py_error("TypeError", "fields must be a list of field names")
        fnames = []
        for f in fields:
            if not isinstance(f, str) or f not in model.fields:
                raise py_error("ValueError", "Invalid field %r on model %r" % (f, model.name))
            if f not in fnames:
                fnames.append(f)
    ids = existing_ids(env, model, ids)
    if model.name == "ir.attachment":
        attachment_check(env, ids, "read")
    if not ids:
        return []
    rows = {}
    cols = [f.column for f in model.columns()]
    collist = ", ".join('"%s"' % c for c in cols)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for row in env.db.execute('SELECT id, %s FROM "%s" WHERE id IN (%s)'
                                  % (collist, model.table, ",".join("?" * len(chunk))), chunk):
            rows[row[0]] = dict(zip(["id"] + cols, row))
    # many2one display names, batched per comodel
    m2o_names = {}
    for fname in fnames:
        f = model.fields[fname]
        if f.type == "many2one" and load == "_classic_read":
            co = odoo.models[f.comodel]
            want = {r[f.column] for r in rows.values() if r[f.column]}
            m2o_names.setdefault(co.name, {}).update(display_names(env, co, sorted(want)))
    result = []
    for rid in ids:
        row = rows[rid]
        rec = {"id": rid}
        for fname in fnames:
            if fname == "id":
                continue
            rec[fname] = field_value(env, model, model.fields[fname], row, load, m2o_names)
        result.append(rec)
    return result


def field_value(env, model, f, row, load, m2o_names):
    odoo = env.odoo
    if f.related:
        first, rest = f.related.split(".", 1)
        link = row[model.fields[first].column]
        if not link:
            return False if f.type != "integer" else 0
        co = odoo.models[model.fields[first].comodel]
        sub = read_records(env.sudo(), co, [link], [rest], load)
        return sub[0][rest] if sub else False
    if f.type == "one2many":
        co = odoo.models[f.comodel]
        dom = [(f.inverse, "=", row["id"])]
        return search_ids(env.sudo(), co, dom, order="id")
    if model.name == "ir.attachment" and f.name == "datas":
        if row["type"] != "binary" or not row["store_fname"]:
            return False
        if env.ctx.get("bin_size") or env.ctx.get("bin_size_datas"):
            return human_size(row["file_size"] or 0)
        try:
            with open(odoo.file_path(row["store_fname"]), "rb") as fh:
                return base64.b64encode(fh.read()).decode("ascii")
        except OSError:
            return False
    if (model.name, f.name) in ATTACHMENT_FIELDS:
        return attachment_field_value(env, model, f, row)
    if model.name == "ir.attachment" and f.name == "res_name":
        m = odoo.models.get(row["res_model"] or "")
        if m and row["res_id"]:
            return display_names(env, m, [row["res_id"]]).get(row["res_id"], False)
        return False
    v = row.get(f.column)
    if f.type == "boolean":
        return bool(v)
    if f.type in ("integer", "many2one_reference"):
        return v or 0
    if f.type in ("float", "monetary"):
        return float(v or 0.0)
    if f.type == "many2one":
        if not v:
            return False
        if load != "_classic_read":
            return v
        name = m2o_names.get(f.comodel, {}).get(v, False)
        return [v, name]
    if v is None:
        return False
    return v


def check_fields(model, vals):
    if not isinstance(vals, dict):
        raise py_error("ValueError", "Invalid values %r for %s" % (vals, model.name))
    for k in vals:
        if k not in model.fields:
            raise py_error("ValueError", "Invalid field %r on model %r" % (k, model.name))


def convert(env, model, f, value):
    """Value from the client -> column value (None for NULL)."""
    t = f.type
    if t == "boolean":
        return 1 if value else 0
    if value is False or value is None:
        if t in ("integer", "many2one_reference"):
            return 0
        if t in ("float", "monetary"):
            return 0.0
        return None
    if t in ("char", "text", "html"):
        if isinstance(value, (list, dict)):
            raise py_error("ValueError", "Wrong value for %s.%s: %r" % (model.name, f.name, value))
        return str(value)
    if t in ("integer", "many2one_reference"):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise py_error("ValueError", "invalid literal for int() with base 10: %r" % (value,))
    if t in ("float", "monetary"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise py_error("ValueError", "could not convert string to float: %r" % (value,))
    if t == "selection":
        if value not in [s[0] for s in f.selection]:
            raise py_error("ValueError", "Wrong value for %s.%s: %r" % (model.name, f.name, value))
        return value
    if t == "datetime":
        if not isinstance(value, str) or not DATETIME_RE.match(value):
            raise py_error("ValueError", "time data %r does not match format '%%Y-%%m-%%d "
                           "%%H:%%M:%%S'" % (value,))
        return value[:19] if len(value) > 10 else value + " 00:00:00"
    if t == "many2one":
        if isinstance(value, (list, tuple)) and value:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, int):
            raise py_error("ValueError", "Wrong value for %s.%s: %r" % (model.name, f.name, value))
        co = env.odoo.models[f.comodel]
        if not env.db.execute('SELECT 1 FROM "%s" WHERE id=?' % co.table, (value,)).fetchone():
            raise ValidationError(
                "The operation cannot be completed: another model requires the record being "
                "deleted. If possible, archive it instead.\n\nModel: %s (%s)\nConstraint: %s_%s_fkey\n"
                % (model.description, model.name, model.table, f.column))
        return value
    if t in ("one2many",):
        raise UserError("The emulator does not write one2many field %s.%s" % (model.name, f.name))
    return value


def not_null_error(model, f):
    return ValidationError(
        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n"
        "- Delete: another model requires the record being deleted. If possible, archive it "
        "instead.\n\nModel: %s (%s)\nField: %s (%s)\n"
        % (model.description, model.name, f.string, f.name))


IGNORED_ON_WRITE = {"id", "display_name", "create_date", "write_date", "create_uid", "write_uid",
                    "complete_name", "res_name", "store_fname", "file_size", "checksum"}


def create_records(env, model, vals_list):
    odoo = env.odoo
    single = isinstance(vals_list, dict)
    if single:
        vals_list = [vals_list]
    if not isinstance(vals_list, (list, tuple)):
        raise py_error("TypeError", "create() expects a dict or a list of dicts")
    odoo.check_access(env, model, "create")
    ids = []
    ts = now_str()
    for vals in vals_list:
        check_fields(model, vals)
        vals = {k: v for k, v in vals.items() if k not in IGNORED_ON_WRITE}
        related = {k: vals.pop(k) for k in list(vals) if model.fields[k].related}
        att_fields = pop_attachment_fields(model, vals)
        raw = None
        if model.name == "ir.attachment":
            attachment_check(env, [], "create", vals)
            datas = vals.pop("datas", None)
            if datas:
                raw = decode_b64(datas)
                vals["__raw"] = raw
            vals["mimetype"] = compute_mimetype(vals)
            vals.pop("__raw", None)
        row = {}
        for f in model.columns():
            if f.magic or f.readonly and f.name not in vals:
                continue
            if f.name in vals:
                row[f.column] = convert(env, model, f, vals[f.name])
            elif f.default is not None:
                row[f.column] = convert(env, model, f, f.default)
        for k, v in vals.items():
            f = model.fields[k]
            if f.type == "one2many":
                convert(env, model, f, v)
        if model.name == "sale.order":
            if not row.get("name") or row["name"] == "New":
                row["name"] = next_sequence(env, "sale.order")
            row.setdefault("date_order", ts)
            row.setdefault("user_id", env.uid)
        if model.name == "res.partner" and not row.get("name") and row.get("type") == "contact":
            raise ValidationError("The operation cannot be completed: Contacts require a name")
        for f in model.columns():
            if f.required and row.get(f.column) is None and not f.magic:
                raise not_null_error(model, f)
        if raw is not None:
            sha, fname = odoo.file_write(raw)
            row.update(store_fname=fname, checksum=sha, file_size=len(raw))
        elif model.name == "ir.attachment":
            row.update(file_size=0)
        row.update(create_date=ts, write_date=ts, create_uid=env.uid, write_uid=env.uid)
        row["display_name"] = row.get(model.fields[model.rec_name].column
                                      if model.rec_name != "display_name" else "name")
        cols = list(row)
        cur = env.db.execute('INSERT INTO "%s" (%s) VALUES (%s)' % (
            model.table, ", ".join('"%s"' % c for c in cols), ",".join("?" * len(cols))),
            [row[c] for c in cols])
        rid = cur.lastrowid
        ids.append(rid)
        if model.name == "res.partner":
            recompute_partner_names(env, [rid])
        if related:
            write_related(env, model, [rid], related)
        if att_fields:
            write_attachment_fields(env, model, [rid], att_fields)
    if model.name in DOCUMENTS_MODELS:
        odoo_documents.after_create(THIS, env, model, ids)
    return ids[0] if single else ids


def decode_b64(datas):
    if isinstance(datas, str):
        datas = datas.encode("ascii", "ignore")
    if not isinstance(datas, bytes):
        raise py_error("TypeError", "argument should be a bytes-like object or ASCII string")
    try:
        return base64.b64decode(datas)
    except binascii.Error as exc:
        raise OdooError(str(exc), name="binascii.Error")


def next_sequence(env, code):
    row = env.db.execute("SELECT next FROM ir_sequence WHERE code=?", (code,)).fetchone()
    n = row[0] if row else 1
    env.db.execute("INSERT OR REPLACE INTO ir_sequence (code, next) VALUES (?,?)", (code, n + 1))
    return "S%05d" % n


def recompute_partner_names(env, ids):
    comp = Compiler(env)
    m = env.odoo.models["res.partner"]
    allids = comp.closure(m, ids, down=True)
    for pid in allids:
        name, is_co, parent, ptype = env.db.execute(
            "SELECT name, is_company, parent_id, type FROM res_partner WHERE id=?",
            (pid,)).fetchone()
        dn = name or ""
        if parent and not is_co:
            # commercial partner: first company going up, else the top-most ancestor
            cur, commercial = parent, None
            seen = set()
            while cur and cur not in seen:
                seen.add(cur)
                cname, cco, cpar = env.db.execute(
                    "SELECT name, is_company, parent_id FROM res_partner WHERE id=?",
                    (cur,)).fetchone()
                commercial = (cname, cco)
                if cco:
                    break
                cur = cpar
            pname = env.db.execute("SELECT name FROM res_partner WHERE id=?",
                                   (parent,)).fetchone()[0]
            prefix = commercial[0] if commercial and commercial[1] else pname
            if not dn and ptype != "contact":
                dn = dict(m.fields["type"].selection)[ptype]
            dn = "%s, %s" % (prefix or "", dn)
        # A stored computed field: when it changes, Odoo writes the record, so its
        # write_date moves too (contacts of a renamed company change display name).
        env.db.execute("UPDATE res_partner SET write_date=? WHERE id=? AND display_name IS NOT ?",
                       (now_str(), pid, dn.strip()))
        env.db.execute("UPDATE res_partner SET display_name=? WHERE id=?", (dn.strip(), pid))


def write_records(env, model, ids, vals):
    odoo = env.odoo
    check_fields(model, vals)
    odoo.check_access(env, model, "write")
    if not ids:
        return True
    vals = {k: v for k, v in vals.items() if k not in IGNORED_ON_WRITE}
    have = existing_ids(env, model, ids)
    if len(have) != len(ids):
        missing = tuple(i for i in ids if i not in set(have))
        raise MissingError(
            "One of the records you are trying to modify has already been deleted (Document "
            "type: %s).\n\n(Records: %r, User: %d)" % (model.description, missing[:6], env.uid))
    related = {k: vals.pop(k) for k in list(vals) if model.fields[k].related}
    att_fields = pop_attachment_fields(model, vals)
    old_fnames = []
    if model.name == "ir.attachment":
        attachment_check(env, ids, "write", vals)
    row = {}
    for k, v in vals.items():
        f = model.fields[k]
        if f.type == "one2many":
            convert(env, model, f, v)
        if not f.column or k == "datas":
            continue
        row[f.column] = convert(env, model, f, v)
        if f.required and row[f.column] is None:
            raise not_null_error(model, f)
    if model.name == "res.partner" and "parent_id" in row and row["parent_id"]:
        comp = Compiler(env)
        if row["parent_id"] in comp.closure(model, ids, down=True):
            raise ValidationError("You cannot create recursive Partner hierarchies.")
    if model.name in DOCUMENTS_MODELS:
        odoo_documents.before_write(THIS, env, model, ids, row)
    row["write_date"] = now_str()
    row["write_uid"] = env.uid
    if model.rec_name == "name" and "name" in row:
        row["display_name"] = row["name"]
    cols = list(row)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        env.db.execute('UPDATE "%s" SET %s WHERE id IN (%s)' % (
            model.table, ", ".join('"%s" = ?' % c for c in cols), ",".join("?" * len(chunk))),
            [row[c] for c in cols] + chunk)
    if model.name == "ir.attachment" and ("datas" in vals or "mimetype" in vals):
        for aid in ids:
            old = env.db.execute("SELECT store_fname, name, url FROM ir_attachment WHERE id=?",
                                 (aid,)).fetchone()
            upd = {}
            if "datas" in vals:
                raw = decode_b64(vals["datas"] or b"")
                sha = hashlib.sha1(raw).hexdigest()
                fname = None
                if raw:
                    sha, fname = odoo.file_write(raw)
                upd.update(store_fname=fname, checksum=sha, file_size=len(raw))
                old_fnames.append(old[0])
            else:
                raw = None
            # like Odoo's _check_contents: only the written values count (not the old name)
            upd["mimetype"] = compute_mimetype({"mimetype": vals.get("mimetype"),
                                                "name": vals.get("name"), "url": vals.get("url"),
                                                "__raw": raw})
            env.db.execute("UPDATE ir_attachment SET %s WHERE id=?" % ", ".join(
                '"%s" = ?' % c for c in upd), list(upd.values()) + [aid])
        env.gc.extend(old_fnames)
    if model.name == "res.partner" and ({"name", "parent_id", "is_company", "type"} & set(row)):
        recompute_partner_names(env, ids)
    if related:
        write_related(env, model, ids, related)
    if att_fields:
        write_attachment_fields(env, model, ids, att_fields)
    if model.name in DOCUMENTS_MODELS:
        odoo_documents.after_write(THIS, env, model, ids, vals)
    return True


# Binary fields with attachment=True (Odoo's default for fields.Image / fields.Binary since
# 13): their value is an ir.attachment with res_model, res_id and res_field = the field,
# type binary, name = the field name. res.partner's image.mixin: writing image_1920 stores
# it and its resized copies (here only image_128, the same bytes). Such rows are hidden
# from searches that name neither id nor res_field (search_ids, like ir_attachment._search).
ATTACHMENT_FIELDS = {("res.partner", "image_1920"): ("image_1920", "image_128"),
                     ("res.partner", "image_128"): ()}


def pop_attachment_fields(model, vals):
    out = {}
    for k in list(vals):
        if (model.name, k) in ATTACHMENT_FIELDS:
            v = vals.pop(k)
            if model.fields[k].readonly:
                continue  # computed from image_1920: a written value is ignored
            out[k] = v
    return out


def write_attachment_fields(env, model, ids, vals):
    su = env.sudo()
    att = env.odoo.models["ir.attachment"]
    for fname, value in vals.items():
        for stored in ATTACHMENT_FIELDS[(model.name, fname)]:
            for rid in ids:
                old = [r[0] for r in env.db.execute(
                    "SELECT id FROM ir_attachment WHERE res_model=? AND res_id=? AND res_field=?",
                    (model.name, rid, stored))]
                if not value:
                    if old:
                        unlink_records(su, att, old)
                elif old:
                    write_records(su, att, old, {"datas": value})
                else:
                    create_records(su, att, {"name": stored, "res_model": model.name,
                                             "res_id": rid, "res_field": stored,
                                             "type": "binary", "datas": value})


def attachment_field_value(env, model, f, row):
    r = env.db.execute("SELECT store_fname FROM ir_attachment WHERE res_model=? AND res_id=? "
                       "AND res_field=? ORDER BY id LIMIT 1",
                       (model.name, row["id"], f.name)).fetchone()
    if not r or not r[0]:
        return False
    try:
        with open(env.odoo.file_path(r[0]), "rb") as fh:
            return base64.b64encode(fh.read()).decode("ascii")
    except OSError:
        return False


def write_related(env, model, ids, related):
    """documents.document datas/mimetype -> its ir.attachment (created when absent)."""
    att = env.odoo.models["ir.attachment"]
    for rid in ids:
        by_link = {}
        for k, v in related.items():
            f = model.fields[k]
            if f.readonly:
                continue
            first, rest = f.related.split(".", 1)
            by_link.setdefault(first, {})[rest] = v
        for first, vals in by_link.items():
            link = env.db.execute('SELECT "%s", name FROM "%s" WHERE id=?'
                                  % (model.fields[first].column, model.table), (rid,)).fetchone()
            if link[0]:
                write_records(env, att, [link[0]], vals)
            else:
                v2 = dict(vals, name=link[1] or "unnamed", res_model=model.name, res_id=rid)
                aid = create_records(env, att, v2)
                env.db.execute('UPDATE "%s" SET "%s"=? WHERE id=?'
                               % (model.table, model.fields[first].column), (aid, rid))


def unlink_records(env, model, ids, _seen=None):
    odoo = env.odoo
    odoo.check_access(env, model, "unlink")
    if not ids:
        return True
    have = existing_ids(env, model, ids)
    if len(have) != len(ids) and _seen is None:
        # The unlink() of these models reads fields of the records (ir.attachment reads
        # store_fname, sale.order its state, ...), which raises for a deleted record.
        missing = tuple(i for i in ids if i not in set(have))
        raise MissingError("Record does not exist or has been deleted.\n(Record: %s%r, User: %d)"
                           % (model.name, missing, env.uid))
    ids = have
    if not ids:
        return True
    if model.name == "ir.attachment":
        attachment_check(env, ids, "unlink")
    if model.name == "sale.order":
        qs = ",".join("?" * len(ids))
        if env.db.execute("SELECT 1 FROM sale_order WHERE id IN (%s) AND state NOT IN "
                          "('draft','cancel') LIMIT 1" % qs, ids).fetchone():
            raise UserError("You can not delete a sent quotation or a confirmed sales order. "
                            "You must first cancel it.")
    if model.name == "res.users":
        raise UserError("You can not remove the admin user as it is used internally for "
                        "resources created by Odoo (updates, module installation, ...)")
    _seen = _seen if _seen is not None else set()
    ids = [i for i in ids if (model.name, i) not in _seen]
    _seen.update((model.name, i) for i in ids)
    if not ids:
        return True
    su = env.sudo()
    # ondelete of the many2one fields pointing here
    for m in odoo.models.values():
        for f in m.fields.values():
            if f.type != "many2one" or f.comodel != model.name or f.magic:
                continue
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                qs = ",".join("?" * len(chunk))
                refs = [r[0] for r in env.db.execute('SELECT id FROM "%s" WHERE "%s" IN (%s)'
                                                     % (m.table, f.column, qs), chunk)]
                refs = [r for r in refs if not (m.name == model.name and r in ids)]
                if not refs:
                    continue
                if f.ondelete == "cascade":
                    unlink_records(su, m, refs, _seen)
                elif f.ondelete == "set null":
                    env.db.execute('UPDATE "%s" SET "%s" = NULL WHERE id IN (%s)'
                                   % (m.table, f.column, ",".join("?" * len(refs))), refs)
                    if m.name == "res.partner":
                        recompute_partner_names(env, refs)
                else:
                    raise ValidationError(
                        "The operation cannot be completed: another model requires the record "
                        "being deleted. If possible, archive it instead.\n\nModel: %s (%s)\n"
                        "Constraint: %s_%s_fkey\n" % (m.description, m.name, m.table, f.column))
    # magic fields (create_uid/write_uid) are "set null" in Odoo
    fnames = []
    if model.name == "ir.attachment":
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            fnames.extend(r[0] for r in env.db.execute(
                "SELECT store_fname FROM ir_attachment WHERE id IN (%s)"
                % ",".join("?" * len(chunk)), chunk))
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        env.db.execute('DELETE FROM "%s" WHERE id IN (%s)' % (model.table,
                                                             ",".join("?" * len(chunk))), chunk)
    env.gc.extend(fnames)
    if model.name != "ir.attachment":
        # like BaseModel.unlink: the records' attachments go too
        att = odoo.models["ir.attachment"]
        aids = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            aids.extend(r[0] for r in env.db.execute(
                "SELECT id FROM ir_attachment WHERE res_model=? AND res_id IN (%s)"
                % ",".join("?" * len(chunk)), [model.name] + chunk))
        if aids:
            unlink_records(su, att, aids, _seen)
    return True


# --------------------------------------------------------------------------------------
# Public methods (names and parameters as in Odoo)


def m_search(env, model, domain, offset=0, limit=None, order=None):
    return search_ids(env, model, domain, offset, limit, order)


def m_search16(env, model, args, offset=0, limit=None, order=None, count=False):
    return search_ids(env, model, args, offset, limit, order, count=bool(count))


def m_search_count(env, model, domain, limit=None):
    n = search_ids(env, model, domain, count=True)
    return min(n, limit) if limit else n


def m_search_count16(env, model, args, limit=None):
    return m_search_count(env, model, args, limit)


def m_search_read(env, model, domain=None, fields=None, offset=0, limit=None, order=None,
                  load="_classic_read"):
    ids = search_ids(env, model, domain, offset, limit, order)
    if not ids:
        return []
    return read_records(env, model, ids, fields, load)


def m_read(env, model, ids, fields=None, load="_classic_read"):
    return read_records(env, model, ids, fields, load)


def m_create(env, model, vals_list):
    return create_records(env, model, vals_list)


def m_write(env, model, ids, vals):
    return write_records(env, model, ids, vals)


def m_unlink(env, model, ids):
    return unlink_records(env, model, ids)


def m_load(env, model, fields, data):
    return odoo_import.load(THIS, env, model, fields, data)  # tests/odoo/importer.py


def m_exists(env, model, ids):
    return existing_ids(env, model, ids)


def m_name_get(env, model, ids):
    env.odoo.check_access(env, model, "read")
    names = display_names(env, model, existing_ids(env, model, ids))
    return [[i, names[i]] for i in ids if i in names]


def m_name_search(env, model, name="", domain=None, operator="ilike", limit=100, args=None):
    dom = list(domain or args or [])
    if name:
        dom = [(model.rec_name, operator, name)] + dom
    ids = search_ids(env, model, dom, limit=limit)
    names = display_names(env, model, ids)
    return [[i, names[i]] for i in ids]


def m_fields_get(env, model, allfields=None, attributes=None):
    env.odoo.check_access(env, model, "read")
    out = {}
    for fname, f in model.fields.items():
        if allfields and fname not in allfields:
            continue
        d = {"type": f.type,
             "string": f.string, "required": f.required,
             "readonly": f.readonly or f.magic, "store": bool(f.column),
             "searchable": bool(f.column) or bool(f.related) or f.type == "one2many",
             "sortable": bool(f.column) and f.type != "one2many", "name": fname}
        if f.type in ("many2one", "one2many"):
            d["relation"] = f.comodel
        if f.type == "one2many":
            d["relation_field"] = f.inverse
        if f.type == "selection":
            d["selection"] = [list(s) for s in f.selection]
        if f.related:
            d["related"] = f.related
        if attributes:
            d = {k: v for k, v in d.items() if k in attributes}
        out[fname] = d
    return out


def m_check_access_rights(env, model, operation, raise_exception=True):
    if operation not in OP_LETTER:
        raise py_error("ValueError", "Invalid access mode")
    try:
        env.odoo.check_access(env, model, operation)
        return True
    except AccessError:
        if raise_exception:
            raise
        return False


def _set_state(env, model, ids, allowed_from, to):
    ids = existing_ids(env, model, ids)
    if not ids:
        raise MissingError("Record does not exist or has been deleted.\n(Record: %s(), User: %d)"
                           % (model.name, env.uid))
    qs = ",".join("?" * len(ids))
    for (state,) in env.db.execute("SELECT state FROM sale_order WHERE id IN (%s)" % qs, ids):
        if allowed_from is not None and state not in allowed_from:
            raise UserError("Some orders are not in a state requiring confirmation.")
    return write_records(env, model, ids, {"state": to})


def m_action_confirm(env, model, ids):
    return _set_state(env, model, ids, ("draft", "sent"), "sale")


def m_action_cancel(env, model, ids):
    return _set_state(env, model, ids, None, "cancel")


def m_action_draft(env, model, ids):
    return _set_state(env, model, ids, ("cancel", "sent", "draft"), "draft")


def m_action_quotation_sent(env, model, ids):
    """Odoo 17: only from draft ("Only draft orders can be marked as sent directly."),
    and it returns None (its JSON-RPC answer has no "result")."""
    ids = existing_ids(env, model, ids) or ids  # none left: _set_state says so
    qs = ",".join("?" * len(ids))
    for (state,) in env.db.execute("SELECT state FROM sale_order WHERE id IN (%s)" % qs, ids):
        if state != "draft":
            raise UserError("Only draft orders can be marked as sent directly.")
    _set_state(env, model, ids, ("draft",), "sent")
    return None


def m_context_get(env, model):
    """res.users.context_get: the user's context (lang, tz, uid)."""
    return {"lang": "en_US", "tz": "UTC", "uid": env.uid}


METHODS = {
    "search": (m_search, False),
    "search_count": (m_search_count, False),
    "search_read": (m_search_read, False),
    "read": (m_read, True),
    "create": (m_create, False),
    "write": (m_write, True),
    "unlink": (m_unlink, True),
    "load": (m_load, False),
    "exists": (m_exists, True),
    "name_get": (m_name_get, True),
    "name_search": (m_name_search, False),
    "fields_get": (m_fields_get, False),
    "check_access_rights": (m_check_access_rights, False),
}
SALE_METHODS = {
    "action_confirm": (m_action_confirm, True),
    "action_cancel": (m_action_cancel, True),
    "action_draft": (m_action_draft, True),
    "action_quotation_sent": (m_action_quotation_sent, True),
}


# --------------------------------------------------------------------------------------
# HTTP


def version_info(version):
    return {"server_version": "%d.0" % version,
            "server_version_info": [version, 0, 0, "final", 0, ""],
            "server_serie": "%d.0" % version, "protocol_version": 1}


NOT_FOUND_HTML = (b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n"
                  b"<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you "
                  b"entered the URL manually please check your spelling and try again.</p>\n")


class TooLarge(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
        # algorithm and the client's delayed ACK add ~40 ms to every answer on a
        # kept-alive connection (real Odoo's werkzeug/gevent servers set it too).
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
    server_version = "Werkzeug/2.2.2"
    sys_version = "Python/3.11"

    @property
    def odoo(self):
        return self.server.odoo

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("emulator: %s %s\n" % (self.address_string(), fmt % args))

    # -- plumbing ----------------------------------------------------------------------
    def send(self, status, body=b"", ctype="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or []):
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        self.send(status, json.dumps(obj).encode(), "application/json; charset=utf-8", headers)

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise TooLarge()
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise TooLarge()
        return self.rfile.read(n) if n else b""

    def cookie_sid(self):
        c = http.cookies.SimpleCookie()
        try:
            c.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            return None
        return c["session_id"].value if "session_id" in c else None

    def fault(self, path):
        """Test-only fault injection; True when the request was answered here."""
        odoo = self.odoo
        delay = 0.0
        rule = None
        with odoo.control_lock:
            for r in odoo.delay_rules:
                if r["count"] > 0 and path.startswith(r.get("path", "/")):
                    r["count"] -= 1
                    delay = r["seconds"]
                    break
            for r in odoo.fail_rules:
                if r["count"] > 0 and path.startswith(r.get("path", "/")):
                    r["count"] -= 1
                    rule = r
                    break
        if delay:
            time.sleep(delay)
        if rule is None:
            return False
        status = int(rule.get("status", 503))
        if status == 0:  # drop the connection without an answer
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return True
        body = ("<html><head><title>%d</title></head><body><h1>%d</h1>Injected by the Odoo "
                "emulator</body></html>" % (status, status)).encode()
        self.read_body_quietly()
        self.send(status, body, "text/html; charset=utf-8")
        return True

    def read_body_quietly(self):
        try:
            if self.command in ("POST", "PUT"):
                self.read_body()
        except (ValueError, OSError, TooLarge):
            self.close_connection = True

    # -- verbs -------------------------------------------------------------------------
    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def do_POST(self):
        self.route()

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        self.odoo.count("http " + path.split("/")[1] if "/" in path else path)
        try:
            if path.startswith("/__emulator__/"):
                return self.control(path)
            if self.fault(path):
                return
            if self.command == "POST":
                if path == "/jsonrpc":
                    return self.jsonrpc()
                if path.startswith("/json/2/"):
                    return self.json2(path)
                if path in ("/web/session/authenticate", "/web/session/get_session_info",
                            "/web/session/destroy", "/web/webclient/version_info") or \
                        path.startswith("/web/dataset/call_kw"):
                    return self.web_json(path)
            if self.command in ("GET", "HEAD") and (path.startswith("/web/content")):
                return self.content(path, urllib.parse.parse_qs(url.query))
            self.read_body_quietly()
            self.send(404, NOT_FOUND_HTML, "text/html; charset=utf-8")
        except TooLarge:
            # like werkzeug: 413, and the unread body makes the connection unusable
            self.close_connection = True
            self.send(413, b"<!doctype html>\n<html lang=en>\n<title>413 Request Entity Too "
                      b"Large</title>\n<h1>Request Entity Too Large</h1>\n<p>The data value "
                      b"transmitted exceeds the capacity limit.</p>\n",
                      "text/html; charset=utf-8", [("Connection", "close")])
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- JSON-RPC ----------------------------------------------------------------------
    def parse_jsonrpc(self):
        try:
            req = json.loads(self.read_body() or b"null")
        except (ValueError, UnicodeDecodeError):
            req = None
        if not isinstance(req, dict):
            err = OdooError("400 Bad Request: Invalid JSON data",
                            name="werkzeug.exceptions.BadRequest")
            self.send_json(200, {"jsonrpc": "2.0", "id": None, "error": {
                "code": 200, "message": "Odoo Server Error", "data": serialize_error(err)}})
            return None
        return req

    def rpc_reply(self, req, fn, headers=None):
        try:
            result = fn(req.get("params") or {})
            answer = {"jsonrpc": "2.0", "id": req.get("id")}
            if result is not None:  # Odoo (http.py _response) leaves None out
                answer["result"] = result
            self.send_json(200, answer, headers)
        except OdooError as exc:
            self.send_json(200, {"jsonrpc": "2.0", "id": req.get("id"), "error": {
                "code": 200, "message": "Odoo Server Error", "data": serialize_error(exc)}})
        except Exception as exc:  # a bug here still answers like Odoo would
            sys.stderr.write("emulator: internal error: %r\n" % (exc,))
            import traceback
            traceback.print_exc()
            self.send_json(200, {"jsonrpc": "2.0", "id": req.get("id"), "error": {
                "code": 200, "message": "Odoo Server Error", "data": serialize_error(exc)}})

    def jsonrpc(self):
        req = self.parse_jsonrpc()
        if req is not None:
            self.rpc_reply(req, self.dispatch_rpc)

    def dispatch_rpc(self, params):
        odoo = self.odoo
        service, method, args = params.get("service"), params.get("method"), params.get("args")
        if args is None:
            args = []
        if not isinstance(args, list):
            raise py_error("TypeError", "args must be a list")
        odoo.count("rpc %s.%s" % (service, method))
        if service == "common":
            if method == "version":
                return version_info(odoo.version)
            if method == "about":
                return "See http://openerp.com"
            if method in ("login", "authenticate"):
                need = 3 if method == "login" else 4
                if len(args) < need:
                    raise py_error("TypeError", "exp_%s() missing required positional arguments"
                                   % method)
                return odoo.authenticate(args[0], args[1], args[2])
            raise py_error("KeyError", repr(method))
        if service == "db":
            if method == "list":
                return [DB_NAME]
            if method == "server_version":
                return "%d.0" % odoo.version
            raise py_error("KeyError", repr(method))
        if service == "object":
            if method not in ("execute_kw", "execute"):
                raise py_error("NameError", "Method not available %s" % method)
            if len(args) < 5:
                raise py_error("TypeError", "%s() missing required positional arguments" % method)
            db, uid, pw, model, meth = args[:5]
            odoo.check_uid(db, uid, pw)
            if method == "execute_kw":
                margs = args[5] if len(args) > 5 else []
                mkw = args[6] if len(args) > 6 else {}
                if not isinstance(margs, list) or not isinstance(mkw or {}, dict):
                    raise py_error("TypeError", "execute_kw() expects a list and a dict")
                return odoo.call(uid, model, meth, margs, mkw)
            return odoo.call(uid, model, meth, list(args[5:]), {})
        raise py_error("KeyError", repr(service))

    def web_json(self, path):
        req = self.parse_jsonrpc()
        if req is None:
            return
        odoo = self.odoo
        sid = self.cookie_sid()
        if path == "/web/session/authenticate":
            box = {}

            def auth(params):
                uid = odoo.authenticate(params.get("db"), params.get("login"),
                                        params.get("password"), interactive=True)
                if not uid:
                    raise AccessDenied()
                box["sid"] = odoo.session_new(uid)
                return self.session_info(uid)

            try:
                params = req.get("params") or {}
                result = auth(params)
            except OdooError as exc:
                return self.send_json(200, {"jsonrpc": "2.0", "id": req.get("id"), "error": {
                    "code": 200, "message": "Odoo Server Error", "data": serialize_error(exc)}})
            cookie = ("session_id=%s; Expires=%s; Max-Age=604800; HttpOnly; Path=/"
                      % (box["sid"], time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                   time.gmtime(time.time() + 604800))))
            return self.send_json(200, {"jsonrpc": "2.0", "id": req.get("id"), "result": result},
                                  [("Set-Cookie", cookie)])
        if path == "/web/webclient/version_info":
            return self.rpc_reply(req, lambda p: version_info(odoo.version))
        uid = odoo.session_uid(sid)
        if path == "/web/session/get_session_info":
            def info(p):
                if not uid:
                    raise OdooError("Session expired", name="odoo.http.SessionExpiredException")
                return self.session_info(uid)
            return self.rpc_reply(req, info)
        if path == "/web/session/destroy":
            if sid:
                odoo.session_drop(sid)
            return self.rpc_reply(req, lambda p: None)
        # /web/dataset/call_kw
        if not uid:
            return self.send_json(200, {"jsonrpc": "2.0", "id": req.get("id"), "error": {
                "code": 100, "message": "Odoo Session Expired", "data": serialize_error(
                    OdooError("Session expired", name="odoo.http.SessionExpiredException"))}})
        self.rpc_reply(req, lambda p: odoo.call(uid, p.get("model"), p.get("method"),
                                                p.get("args") or [], p.get("kwargs") or {}))

    def session_info(self, uid):
        login = USERS[uid][0]
        return {"uid": uid, "is_system": uid == ADMIN, "is_admin": uid == ADMIN,
                "user_context": {"lang": "en_US", "tz": "UTC", "uid": uid}, "db": DB_NAME,
                "server_version": "%d.0" % self.odoo.version,
                "server_version_info": version_info(self.odoo.version)["server_version_info"],
                "name": "Administrator" if uid == ADMIN else "Portal User",
                "username": login, "partner_display_name": "Administrator"
                if uid == ADMIN else "Portal User", "partner_id": 3 if uid == ADMIN else 5,
                "web.base.url": "http://%s:%d" % self.server.server_address[:2]}

    # -- JSON-2 ------------------------------------------------------------------------
    def json2(self, path):
        odoo = self.odoo
        if odoo.version < 19:
            self.read_body_quietly()
            return self.send(404, NOT_FOUND_HTML, "text/html; charset=utf-8")

        ctx = {}

        def fail(exc):
            d = serialize_error(exc)
            d["context"] = ctx  # Odoo 19 reports the request's context
            self.send_json(exc.status if isinstance(exc, OdooError) else 500, d)

        body = self.read_body()
        auth = self.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not odoo.api_key or key.strip() != odoo.api_key:
            return fail(OdooError("Invalid apikey", name="werkzeug.exceptions.Unauthorized",
                                  status=401, arguments=["Invalid apikey", 401]))
        dbh = self.headers.get("X-Odoo-Database")
        if dbh is not None and dbh != DB_NAME:
            return fail(OdooError("Database %s not found." % dbh,
                                  name="werkzeug.exceptions.NotFound", status=404))
        parts = path[len("/json/2/"):].split("/")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            return self.send(404, NOT_FOUND_HTML, "text/html; charset=utf-8")
        model, method = parts
        try:
            params = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return fail(OdooError("Invalid JSON data", name="werkzeug.exceptions.BadRequest",
                                  status=400))
        if not isinstance(params, dict):
            return fail(OdooError("Invalid JSON data", name="werkzeug.exceptions.BadRequest",
                                  status=400))
        ids = params.pop("ids", None)
        if isinstance(params.get("context"), dict):
            ctx = params["context"]
        try:
            if model in odoo.models:
                spec = odoo.method_spec(odoo.models[model], method)
                if spec and not spec[1] and ids:
                    pass  # model methods ignore ids, like @api.model
            result = odoo.call(ADMIN, model, method, [], params, ids=ids, json2=True)
        except OdooError as exc:
            return fail(exc)
        except Exception as exc:
            import traceback
            traceback.print_exc()
            return fail(exc)
        self.send_json(200, result)

    # -- /web/content ------------------------------------------------------------------
    def content(self, path, query):
        odoo = self.odoo
        parts = [p for p in path.split("/") if p]
        aid = None
        if len(parts) >= 3 and parts[2].isdigit():
            aid = int(parts[2])
        elif len(parts) >= 3 and parts[2].split("-")[0].isdigit():
            aid = int(parts[2].split("-")[0])
        elif "id" in query and query["id"][0].isdigit():
            aid = int(query["id"][0])
        if aid is None:
            return self.send(404, NOT_FOUND_HTML, "text/html; charset=utf-8")
        uid = odoo.session_uid(self.cookie_sid())
        if uid is None:
            auth = self.headers.get("Authorization", "")
            scheme, _, key = auth.partition(" ")
            if scheme.lower() == "bearer" and odoo.api_key and key.strip() == odoo.api_key \
                    and odoo.content_bearer:
                uid = ADMIN
        if uid is None:
            uid = PUBLIC
        env = Env(odoo, uid, {})
        att = odoo.models["ir.attachment"]
        try:
            with odoo.lock:
                recs = read_records(env, att, [aid], ["name", "type", "url", "store_fname",
                                                      "mimetype", "checksum", "file_size",
                                                      "write_date"])
        except OdooError:
            recs = []  # Odoo answers 404 for AccessError / MissingError here
        if not recs:
            return self.send(404, NOT_FOUND_HTML, "text/html; charset=utf-8")
        rec = recs[0]
        if rec["type"] == "url":
            return self.send(301, b"", "text/html; charset=utf-8",
                             [("Location", rec["url"] or "/")])
        fh = None
        size = 0
        if rec["store_fname"]:
            try:
                fh = open(odoo.file_path(rec["store_fname"]), "rb")
                size = os.fstat(fh.fileno()).st_size
            except OSError:
                fh = None
        try:
            name = query.get("filename", [rec["name"]])[0]
            disp = "attachment" if query.get("download", ["false"])[0].lower() in (
                "true", "1") else "inline"
            etag = '"%s"' % (rec["checksum"] or "")
            headers = [
                ("Content-Disposition", "%s; filename*=UTF-8''%s"
                 % (disp, urllib.parse.quote(name, safe=""))),
                ("X-Content-Type-Options", "nosniff"),
                ("Cache-Control", "no-cache"),
                ("Accept-Ranges", "bytes"),
            ]
            if rec["checksum"]:
                headers.append(("ETag", etag))
            inm = self.headers.get("If-None-Match")
            if inm and rec["checksum"] and etag in [t.strip() for t in inm.split(",")]:
                self.send_response(304)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end, status = 0, size - 1, 200
            rng = self.headers.get("Range", "")
            m = re.match(r"^bytes=(\d*)-(\d*)$", rng.strip())
            if m and (m.group(1) or m.group(2)) and size > 0:
                if m.group(1):
                    start = int(m.group(1))
                    end = int(m.group(2)) if m.group(2) else size - 1
                else:
                    start = max(0, size - int(m.group(2)))
                end = min(end, size - 1)
                if start > end:
                    return self.send(416, b"", "text/plain",
                                     [("Content-Range", "bytes */%d" % size)])
                status = 206
                headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, size)))
            length = max(0, end - start + 1)
            self.send_response(status)
            self.send_header("Content-Type", rec["mimetype"] or "application/octet-stream")
            self.send_header("Content-Length", str(length))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command == "HEAD" or fh is None:
                return
            fh.seek(start)
            left = length
            while left > 0:
                buf = fh.read(min(CHUNK, left))
                if not buf:
                    break
                self.wfile.write(buf)
                left -= len(buf)
        finally:
            if fh:
                fh.close()

    # -- test control ------------------------------------------------------------------
    def control(self, path):
        odoo = self.odoo
        if self.client_address[0] not in ("127.0.0.1", "::1") and \
                not self.client_address[0].startswith("127."):
            return self.send(403, b"loopback only", "text/plain")
        if path == "/__emulator__/stats":
            with odoo.control_lock:
                return self.send_json(200, dict(odoo.stats))
        if path != "/__emulator__/control" or self.command != "POST":
            return self.send(404, NOT_FOUND_HTML, "text/html; charset=utf-8")
        try:
            cmd = json.loads(self.read_body() or b"{}")
            if not isinstance(cmd, dict):
                raise ValueError("expected a JSON object")
            sql_rows = None
            if "sql_write" in cmd:  # takes odoo.lock: before control_lock (see call)
                w = dict(cmd["sql_write"])
                sql_rows = odoo.sql_write(w.get("model"), w.get("ids"), w.get("values"))
            with odoo.control_lock:
                if cmd.get("reset"):
                    odoo.content_bearer = True
                    odoo.denied.clear()
                    odoo.fail_rules.clear()
                    odoo.call_fail_rules.clear()
                    odoo.delay_rules.clear()
                    odoo.late_rules.clear()
                    odoo.stats.clear()
                if "web_content_bearer" in cmd:
                    odoo.content_bearer = bool(cmd["web_content_bearer"])
                if "deny_model" in cmd:
                    odoo.denied.add(str(cmd["deny_model"]))
                if "allow_model" in cmd:
                    odoo.denied.discard(str(cmd["allow_model"]))
                if "fail_next" in cmd:
                    r = dict(cmd["fail_next"])
                    r["status"] = int(r.get("status", 503))
                    r["count"] = int(r.get("count", 1))
                    odoo.fail_rules.append(r)
                if "fail_call" in cmd:  # one model method, whichever protocol calls it
                    r = dict(cmd["fail_call"])
                    r = {"call": str(r["call"]), "count": int(r.get("count", 1))}
                    odoo.call_fail_rules.append(r)
                if "delay_next" in cmd:
                    r = dict(cmd["delay_next"])
                    r["seconds"] = float(r.get("seconds", 1))
                    r["count"] = int(r.get("count", 1))
                    odoo.delay_rules.append(r)
                if "late_commit" in cmd:
                    r = dict(cmd["late_commit"])
                    r = {"seconds": float(r.get("seconds", 60)), "count": int(r.get("count", 1))}
                    odoo.late_rules.append(r)
                odoo.late_rules[:] = [r for r in odoo.late_rules if r["count"] > 0]
                state = {"denied": sorted(odoo.denied), "fail_next": odoo.fail_rules,
                         "web_content_bearer": odoo.content_bearer,
                         "delay_next": odoo.delay_rules, "odoo_version": odoo.version,
                         "late_commit": odoo.late_rules}
                if sql_rows is not None:
                    state["sql_write"] = sql_rows
            self.send_json(200, state)
        except (ValueError, TypeError, sqlite3.Error) as exc:
            self.send_json(400, {"error": str(exc)})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def serve_tls(httpd, cert, key):
    """--tls-cert/--tls-key: serve https (a test of odoo.ca_file): the listening socket is
    wrapped, each connection's handshake runs in its own handler thread (on first read)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                   do_handshake_on_connect=False)


def serve(args):
    odoo = Odoo(args.data_dir, args.odoo_version, args.api_key,
                documents_app=not args.without_documents)
    httpd = Server((args.host, args.port), Handler)
    if args.tls_cert:
        serve_tls(httpd, args.tls_cert, args.tls_key)
    httpd.odoo = odoo
    httpd.verbose = args.verbose
    port = httpd.server_address[1]
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    sys.stderr.write("emulator: Odoo %d.0 emulator on %s://%s:%d (data %s)\n"
                     % (args.odoo_version, "https" if args.tls_cert else "http", args.host,
                        port, odoo.data_dir))
    sys.stderr.flush()
    while not stop.wait(0.1):
        pass
    httpd.shutdown()
    httpd.server_close()
    with odoo.lock:
        odoo.db.close()
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="Odoo emulator for the odoosync tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--odoo-version", type=int, default=17, choices=[16, 17, 18, 19])
    ap.add_argument("--api-key", default="")
    ap.add_argument("--port-file")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--tls-cert", help="serve https with this PEM certificate (and --tls-key)")
    ap.add_argument("--tls-key")
    ap.add_argument("--without-documents", action="store_true",
                    help="an Odoo without the Documents app (no documents.* model)")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    os.makedirs(args.data_dir, exist_ok=True)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
