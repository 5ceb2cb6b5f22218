"""randomops: the convergence test of odoosync (tests/e2e/test_convergence*.py).

One seed = one private Odoo emulator and one cloud root (harness.SyncCase), a
starting population (customers, contacts, quotations, orders, attachments), a
first pass, then ROUNDS rounds of OPS seeded random operations on both sides
(WebDAV on the stack's Apache, JSON-RPC on the emulator), each round followed by
`odoosync run --once` passes until `odoosync plan --json` prints nothing, and the
invariants:

  (1) every attachment of a synced record (and every stand-alone attachment) is
      a url attachment whose url names exactly one entry directly in that
      record's folder (the folder carries the record tag), and the entry carries
      the attachment's id; the reverse: every entry directly in a document folder
      is the target of exactly one attachment of that record; every synced record
      has exactly one folder, under the type folder of the first type it
      matches, named after its display name; a record that still exists but
      matches no type and has a folder in a type folder (or the archive) has
      exactly one, in the archive folder (config "unmatched", default archive:
      its files are kept); records that are gone, or match no type and had no
      such folder, have none; type folders exist with their configured name and
      tag; an entry whose name holds a control character (a tab) is left out of
      the listings: it is the file of no attachment and stays where it is, under its
      name, with its bytes (it follows its folder), and a url attachment whose file
      is gone from a folder holding such a name keeps its url (its deletion in Odoo
      is withheld: the name left out could be that file, renamed);
  (2) no content is lost unless a rule deleted it, and nothing deleted comes
      back: right before the pass both sides are read (every cloud file's sha1,
      every binary attachment's checksum) and the rules (docs/design.md) are applied to that
      snapshot to predict where each content must be after convergence
      ("predict" below); after convergence every content is exactly there, once;
  (3) no duplicates: no two attachments name the same path, no two entries directly
      in document folders carry the tag of one live attachment (one outside them, e.g.
      a user's copy moved into a type folder, is left alone with its tags);
  (4) quiescence: after the pass right after the round, at most one more pass,
      then `plan --json` is empty;
  (5) every pass exits 0 (the safety share is set to 1.0: random type-folder
      deletions would otherwise trip it; test_rules covers the safety);
  (6) nothing lost: every url attachment of ours GETs its file (its bytes are the
      file's); a record that still exists but left every type (a quotation cancelled,
      a partner archived or un-flagged) keeps its content: each of its files is still
      reached from its attachment (url or back in Odoo), every other content under its
      folder is still somewhere; a deleted record takes its attachments and folder;
  (7) technical attachments (res_field set: a binary field's storage; binary ones
      with an Odoo url: asset bundles, the company's scss) are exactly as they were at
      setup, and have no cloud file.

The operations: cloud PUT (odd names, a tab in a name), overwrite, sub-folders, file
renames / moves / moves out and back, a user's COPY of a linked file (our tag goes
with it), deletes, document and type folder renames / moves / deletes; Odoo attach,
unlink, record renames (two records swapping display names too), order states
(write, action_cancel, action_draft), partners archived / unarchived (active) and
un-flagged / re-flagged (customer_rank), records created and deleted (their
attachments go with them), an attachment re-linked to another record (res_model /
res_id written). Setup adds technical attachments (res_field images on partners, an
asset bundle, res.company.scss).

Replay: every failure names the seed and prints the operation log; run one seed
with CONVERGENCE_SEED=N (CONVERGENCE_ROUNDS / CONVERGENCE_OPS change the shape;
CONVERGENCE_VERBOSE=1 prints the log and timings as it goes; CONVERGENCE_SKIP=op_put_tab,
technical,... leaves operations out, to tell one failure from another).
Targets are chosen from lists sorted by stable keys (paths, names, record ids),
so the same seed on the same binary replays the same operations.
"""
import base64
import hashlib
import os
import random
import sys
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import SyncCase, get_url  # noqa: E402

SA = "Stand Alone Attachments"
TYPE_NAMES = ["Customers", "Quotations", "Orders"]
ARCHIVE = "Archive"  # config "unmatched": the default policy and folder
ORDER_STATES = ["draft", "sent", "sale", "cancel"]

COMPANY_NAMES = ["Agrolait", "Azure Interior", "Deco Addict", "Gemini Furniture", "Lumber Inc",
                 "Ready Mat", "Wood Corner", "Jackson Group", "Acme", "Brandon Freeman"]
PERSON_NAMES = ["Michael Fletcher", "Anita Oliver", "Chester Reed", "Edwin Hansen",
                "Kim Snyder", "Tom Ruiz"]
FILE_STEMS = ["report", "scan", "photo", "invoice", "notes", "plan", "Contract", "offer",
              "drawing", "minutes"]
FILE_EXTS = [".pdf", ".txt", ".png", ".docx", ".csv", ""]
ODD_FILE_NAMES = ["a b c.txt", "caf\u00e9 menu.pdf", "50% off.txt", "R&D #2.txt",
                  "it's here.doc", "x+y=z.txt", "[draft] (v2).odt", "tab\u00e4.txt"]
ODD_ATT_NAMES = ["a:b?.txt", "what*ever.pdf", "<tag>.xml", "pipe|name.txt", " spaced .txt",
                 "semi;colon.txt", "..hidden.txt"]
TECH_FIELDS = ["name", "type", "url", "res_model", "res_id", "res_field", "checksum",
               "file_size", "mimetype", "public"]
ODD_RECORD_NAMES = ["SO/2024: rush", "Q*1?", "  padded  ", "A|B <c>", "100% done", "dots..."]


def sha1(b):
    return hashlib.sha1(b).hexdigest()


def parent(rel):
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def base(rel):
    return rel.rsplit("/", 1)[-1]


def depth(rel):
    return rel.count("/") + 1


def bad_name(rel):
    """The entry's own name holds a control character (a tab): no path of odoosync's
    can hold it, so it is left out of every listing, never linked, never touched."""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in base(rel))


def left_out_near(tree, rel):
    """An entry left out of the listing (bad_name) that could be rel renamed: one directly
    in rel's folder, or a folder with a bad name anywhere above rel's folder's level. The
    Odoo-side deletion of an attachment whose file rel was is withheld while it is there."""
    p = parent(rel)
    return sorted(e for e, t in tree.items() if bad_name(e) and (
        parent(e) == p or (t[0] and (p + "/").startswith(parent(e) + "/"))))


class Snap:
    """Both sides, read in full: the cloud tree under the root (tags, file sha1s)
    and Odoo's records and attachments."""

    def __init__(self, case, tech=None):
        self.etag = {}  # rel -> ETag (Apache: size and mtime; a MOVE keeps it, a COPY not)
        self.fileid = {}  # rel -> oc:fileid (Nextcloud-like servers: a move keeps it)
        self.tree = case.tree(self.etag, self.fileid)  # rel -> (is_dir, size, tags)
        self.sha = {}
        for rel, (is_dir, _size, _tags) in sorted(self.tree.items()):
            if not is_dir:
                body = case.dav.get(case.p(rel))
                if body is None:  # raced away? not between our own operations
                    raise AssertionError("GET %s failed right after PROPFIND listed it" % rel)
                self.sha[rel] = sha1(body)
        odoo = case.odoo
        # archived partners too (a plain search hides them): they still exist
        self.partners = {r["id"]: r for r in odoo.call(
            "res.partner", "search_read", [[["active", "in", [True, False]]]],
            {"fields": ["name", "display_name", "customer_rank", "is_company", "parent_id",
                        "active"], "order": "id"})}
        self.orders = {r["id"]: r for r in odoo.call(
            "sale.order", "search_read", [[]],
            {"fields": ["name", "display_name", "state", "partner_id"], "order": "id"})}
        self.case = case
        # every attachment: an ["id", ">", 0] term, else Odoo hides the res_field ones
        self.all_atts = {a["id"]: a for a in odoo.call(
            "ir.attachment", "search_read", [[["id", ">", 0]]],
            {"fields": TECH_FIELDS, "order": "id"})}
        # technical attachments (a binary field's storage, assets, ...): fixed at setup
        # (tech = {id: row} of that snapshot), never odoosync's to touch; `atts` is the rest
        if tech is None:
            tech = {i: a for i, a in self.all_atts.items() if self.is_technical(a)}
        self.tech = tech
        self.atts = {i: a for i, a in self.all_atts.items() if i not in tech}
        self.web_link_tags()

    def web_link_tags(self):
        """Identity as the product tells it where urls are web links: the link names its
        file by id, and an upload there writes no tag (docs/design.md 4.2). An untagged
        entry whose file id exactly one url attachment's web link names is modelled as
        tagged with that attachment, so the checks below read one notion of identity."""
        by_id = {}
        for aid, a in self.atts.items():
            m = harness.WEB_LINK.match(urllib.parse.urlparse(a["url"] or "").path) \
                if a["type"] == "url" else None
            if m:
                by_id.setdefault(int(m.group(1)), []).append(aid)
        for rel, fid in self.fileid.items():
            ids = by_id.get(int(fid)) if fid.isdigit() else None
            tags = self.tree[rel][2]
            if ids and len(ids) == 1 and "attachment" not in tags:
                tags["attachment"] = str(ids[0])

    def is_technical(self, a):
        """An attachment odoosync must never manage: it stores a binary field (res_field),
        or it is a binary one with a url that is not ours (an asset bundle, a company's
        scss)."""
        return bool(a["res_field"]) or (a["type"] == "binary" and bool(a["url"]) and
                                         self.url_rel(a["url"]) is None)

    # ---- records -------------------------------------------------------------------
    def type_of(self, key):
        """The type folder a record key lives under: its type, else the archive when it
        exists and has a folder in a type folder or the archive (moved there, never
        created), else None (gone, or matches nothing and has no such folder)."""
        t = self.matching_type(key)
        if t is not None or not self.exists(key):
            return t
        if getattr(self, "_archived", None) is None:
            tf = self.type_folders()
            self._archived = {k for rel, k in self.doc_folders().items()
                              if tf.get(parent(rel)) in TYPE_NAMES + [ARCHIVE]}
        return ARCHIVE if key in self._archived else None

    def matching_type(self, key):
        """The first type a record key matches, or None (gone / matches nothing)."""
        model, rid = key.split(",")
        rid = int(rid)
        if model == "res.partner":
            r = self.partners.get(rid)
            return "Customers" if r and r["active"] and r["customer_rank"] > 0 else None
        if model == "sale.order":
            r = self.orders.get(rid)
            if not r:
                return None
            if r["state"] in ("draft", "sent"):
                return "Quotations"
            if r["state"] in ("sale", "done"):
                return "Orders"
        return None

    def exists(self, key):
        """The record still exists in Odoo (archived, cancelled, un-flagged or not)."""
        if key == SA:
            return True
        model, rid = key.split(",")
        rows = self.partners if model == "res.partner" else self.orders
        return int(rid) in rows

    def display_name(self, key):
        model, rid = key.split(",")
        rows = self.partners if model == "res.partner" else self.orders
        return rows[int(rid)]["display_name"]

    def synced_keys(self):
        keys = ["res.partner,%d" % i for i in self.partners] + \
            ["sale.order,%d" % i for i in self.orders]
        return sorted(k for k in keys if self.type_of(k))

    def att_owner(self, a):
        """Record key of an attachment, SA for a stand-alone one."""
        if not a["res_model"]:
            return SA
        return "%s,%d" % (a["res_model"], a["res_id"])

    def owner_synced(self, owner):
        return owner == SA or self.type_of(owner) is not None

    # ---- cloud ---------------------------------------------------------------------
    def type_folders(self):
        """{current name at depth 1: type tag} for folders carrying a type tag."""
        return {rel: t[2]["type"] for rel, t in self.tree.items()
                if depth(rel) == 1 and t[0] and "type" in t[2]}

    def sa_folder(self):
        for rel, typ in self.type_folders().items():
            if typ == SA:
                return rel
        return None

    def doc_folders(self):
        """{rel: record key} of record-tagged folders two levels under the root."""
        return {rel: t[2]["record"] for rel, t in self.tree.items()
                if depth(rel) == 2 and t[0] and "record" in t[2]}

    def container(self, rel):
        """(doc folder rel, owner key) a path sits in (directly or deeper), or (None, None)."""
        comps = rel.split("/")
        docs = self.doc_folders()
        if len(comps) >= 3 and "/".join(comps[:2]) in docs:
            d = "/".join(comps[:2])
            return d, docs[d]
        sa = self.sa_folder()
        if sa and len(comps) >= 2 and comps[0] == sa:
            return sa, SA
        return None, None

    def record_folder(self, rel):
        """(folder rel, record key) of the nearest record-tagged folder above rel, at any
        depth (a document folder, or one a policy keeps or archives), or (None, None)."""
        comps = rel.split("/")
        for n in range(len(comps) - 1, 0, -1):
            up = "/".join(comps[:n])
            t = self.tree.get(up)
            if t and t[0] and "record" in t[2]:
                return up, t[2]["record"]
        return None, None

    def url_rel(self, url):
        return url_rel(self.case, url)


def url_rel(case, url):
    """The path under the root an attachment url names, or None (not one of ours)."""
    if not url:
        return None
    u = urllib.parse.urlparse(url)
    if u.scheme not in ("http", "https"):
        return None
    # the server's web link names a file by its id: where the server says it is
    path = harness.link_target(case, url)
    prefix = "%s/%s/" % (case.dav.base, case.root)
    if not path.startswith(prefix):
        return None
    return path[len(prefix):].rstrip("/")


def linked_rel(pre, last, a):
    """Where the file a url attachment names was linked: its WebDAV address's path. A web
    link names the file by its id and follows it wherever a user moves it, so for it the
    file's place in the last converged state (the entry tagged with it there); with no
    such state, where the link leads now."""
    if last is not None and harness.WEB_LINK.match(urllib.parse.urlparse(a["url"]).path):
        for q, (_is_dir, _size, tags) in last.tree.items():
            if tags.get("attachment") == str(a["id"]):
                return q
    return pre.url_rel(a["url"])


def ident_tag(pre, last, entry):
    """The attachment an entry is told to be, as the product tells it (docs/design.md
    "Identity by file id"): on a server with file ids, the attachment the last converged
    state linked to the entry's file id (a moved folder's children lose their tags on
    Nextcloud), and a tag that state had on another file id is stale (a tag left behind
    at a reused path); else its tag."""
    tag = pre.tree[entry][2].get("attachment")
    fid = pre.fileid.get(entry)
    if last is None or not fid:
        return tag
    stale = False
    for q, (_is_dir, _size, tags) in last.tree.items():
        t = tags.get("attachment")
        if t is None:
            continue
        if last.fileid.get(q) == fid:
            return t
        if t == tag and last.fileid.get(q):
            stale = True
    return None if stale else tag


def proven(pre, last, entry, aid):
    """Whether `entry` (directly in a document folder of `pre`, tagged with attachment aid,
    which is gone) is the entry the last converged state `last` had linked to aid: only
    then do the passes delete it (DESIGN "Identity": a tag can be stale or copied, the
    link of the last pass is the proof). A file: the same content and ETag (Apache's ETag
    is size and mtime: an overwrite changes it, a MOVE keeps it, a COPY makes another: a
    copy of a file whose original moved is not the linked file) at the same path, or moved
    from a path where nothing is left; a sub-folder: the same path. No last state:
    nothing is proven."""
    if last is None:
        return False
    for q, (is_dir, _size, tags) in sorted(last.tree.items()):
        d, _owner = last.container(q)
        if tags.get("attachment") != str(aid) or d is None or parent(q) != d:
            continue
        if pre.tree[entry][0]:
            if is_dir and last.fileid.get(q) and pre.fileid.get(entry):
                return last.fileid[q] == pre.fileid[entry]  # the same folder, moved or not
            return is_dir and q == entry
        if is_dir or last.sha.get(q) != pre.sha.get(entry) or \
                last.etag.get(q) != pre.etag.get(entry):
            return False
        if last.fileid.get(q) and pre.fileid.get(entry):
            return last.fileid[q] == pre.fileid[entry]  # the same file, wherever it went
        return q == entry or q not in pre.tree
    return False


def predict(pre, last=None):
    """Where every content of `pre` must be once the passes converged (`last`: the
    converged state before, whose links prove the tags of deleted attachments).

    Returns (expect, dead): expect maps sha1 -> a list of expectations, one per place the
    content is in now (a user's copy holds the same content twice):
      ("in", owner, path inside the owner's folder)   exactly there
      ("att", attachment id, owner)   the file of that attachment, directly in the owner's
                                      folder (a binary attachment uploaded, a file that
                                      follows its attachment re-linked in Odoo)
      ("at", path)                    a file outside document folders, left alone (a
                                      renamed type folder is renamed back)
      ("odoo", attachment id)         a binary attachment of a record that is not synced:
                                      stays in Odoo
      ("via", attachment id)          the file of an attachment of a record that still
                                      exists but matches no type (cancelled, archived,
                                      un-flagged): wherever the policy keeps it, its
                                      attachment still leads to it (its url GETs it, or
                                      it is back in Odoo as a binary)
      ("kept",)                       any other content under such a record's folder:
                                      somewhere, cloud or Odoo (nothing is lost)
      ("maybe",)                      such a file whose attachment is gone: either
    and dead is the set of sha1s a rule deletes.

    The rules (docs/design.md "Rules" and "Identity"): a document folder whose record is
    deleted is deleted with its files; one whose record still exists but matches no type
    loses nothing; an entry directly in a document folder (a file, or a sub-folder with
    everything in it) whose attachment tag names an attachment that is gone is deleted
    when proven (see proven());
    a file whose attachment was re-linked in Odoo to another record (its url still names
    the file, its record changed) follows it; any other entry stays, follows its folder
    (renamed / moved back) and is linked to that folder's record; a binary attachment of
    a synced record is uploaded; anything outside document folders is left alone.
    Technical attachments (Snap.tech) are none of this: check() compares them.
    """
    expect, dead = {}, set()

    def add(s, exp):
        expect.setdefault(s, []).append(exp)

    def entry_of(folder, rel):
        inner = rel[len(folder) + 1:]
        entry = folder + "/" + inner.split("/")[0]
        tag = ident_tag(pre, last, entry)
        return inner, entry, tag, (pre.atts.get(int(tag)) if tag is not None else None)

    def kept(rel, s, folder, key):
        _inner, entry, tag, a = entry_of(folder, rel)
        if tag is not None and a is None:
            add(s, ("maybe",))
        elif a is not None and entry == rel and pre.att_owner(a) == key:
            add(s, ("via", a["id"]))
        else:
            add(s, ("kept",))

    tfold = pre.type_folders()
    for rel, s in sorted(pre.sha.items()):
        d, owner = pre.container(rel)
        if d is None:
            rf, rkey = pre.record_folder(rel)
            if rf is not None and pre.exists(rkey):  # a folder kept or archived by a policy
                kept(rel, s, rf, rkey)
                continue
            first, _, rest = rel.partition("/")
            if first in tfold and rest:
                rel = tfold[first] + "/" + rest
            add(s, ("at", rel))
            continue
        inner, entry, tag, a = entry_of(d, rel)
        if a is not None and entry == rel and a["type"] == "url" and \
                linked_rel(pre, last, a) == rel and pre.att_owner(a) != owner:
            # re-linked in Odoo: the attachment's url names this file, its record changed
            o2 = pre.att_owner(a)
            add(s, ("att", a["id"], o2) if pre.owner_synced(o2) else ("via", a["id"]))
            continue
        if owner != SA and pre.type_of(owner) is None:
            if pre.exists(owner):
                kept(rel, s, d, owner)
            else:
                dead.add(s)
            continue
        if tag is not None and a is None and proven(pre, last, entry, int(tag)):
            dead.add(s)  # its attachment is gone and it is the file that was linked
            continue
        # a name with a control character (a tab) is left out, never linked, never
        # touched: it stays under its name in its folder, like any other unlinked entry
        add(s, ("in", owner, inner))
    for aid, a in sorted(pre.atts.items()):
        if a["type"] != "binary":
            continue
        owner = pre.att_owner(a)
        if pre.owner_synced(owner):
            add(a["checksum"], ("att", aid, owner))
        elif owner != SA and pre.exists(owner):
            # a record that matches no type: the archive may take it in (its folder is
            # made there when the product still knows the record: a tag, a link of the
            # last pass); either way its attachment leads to the content
            add(a["checksum"], ("via", aid))
        else:
            add(a["checksum"], ("odoo", aid))
    return expect, dead - set(expect)


def expected_folder_name(post, key):
    """The folder name a record must get when its display name is plain and unique
    among the records of its type (else None: any distinct name will do)."""
    dn = post.display_name(key)
    typ = post.type_of(key)
    if not dn or any(ch in dn for ch in '*?"\':<>|+%!@\\/') or dn != dn.strip(" .") \
            or len(dn.encode()) > 200:
        return None
    low = dn.lower()
    for k in post.synced_keys():
        if k != key and post.type_of(k) == typ and sanitize(post.display_name(k)).lower() == low:
            return None
    return dn


def sanitize(name):
    """What the naming rule (docs/design.md) makes of a name (enough to tell collisions)."""
    out = "".join("-" if ch in '*?"\':<>|+%!@\\/' or ord(ch) < 32 else ch for ch in name or "")
    return out.strip(" .") or "-"


def check(post, expect, dead):
    """The invariants on a converged state; a list of problems (empty: all hold)."""
    bad = []
    tree = post.tree
    # type folders
    tf = post.type_folders()
    for name in TYPE_NAMES + [SA]:
        if tf.get(name) != name:
            bad.append("type folder %r missing or mis-tagged (type folders: %r)" % (name, tf))
    for rel, typ in tf.items():
        if rel != typ:
            bad.append("type folder %r carries type tag %r" % (rel, typ))
    # document folders
    docs = post.doc_folders()
    by_key = {}
    for rel, key in docs.items():
        by_key.setdefault(key, []).append(rel)
    folder_of = {SA: SA}
    for key in post.synced_keys():
        typ = post.type_of(key)
        rels = by_key.get(key, [])
        if len(rels) != 1:
            bad.append("record %s (%r, %s) has %d folders: %r" % (
                key, post.display_name(key), typ, len(rels), rels))
            continue
        rel = rels[0]
        folder_of[key] = rel
        if parent(rel) != typ:
            bad.append("record %s folder %r is not under %r" % (key, rel, typ))
        want = expected_folder_name(post, key)
        if want is not None and base(rel) != want:
            bad.append("record %s folder %r, expected name %r" % (key, rel, want))
    for key, rels in sorted(by_key.items()):
        # a record that still exists but matches no type may keep its folder (a policy
        # decides where; "nothing lost" below checks its content); a deleted one may not
        if post.type_of(key) is None and not post.exists(key):
            bad.append("record %s is gone, but has folders %r" % (key, rels))
    # any other folder with a record tag (deeper) is a moved document folder: not ours
    # attachments <-> entries
    linked = {}  # entry rel -> [attachment ids]
    url_users = {}
    for aid, a in sorted(post.atts.items()):
        if a["type"] == "url":
            r = post.url_rel(a["url"])
            if r is not None:
                url_users.setdefault(r, []).append(aid)
        owner = post.att_owner(a)
        if not post.owner_synced(owner):
            continue
        if a["type"] != "url":
            bad.append("attachment %d (%r) of synced %s is still %s" % (
                aid, a["name"], owner, a["type"]))
            continue
        r = post.url_rel(a["url"])
        if owner not in folder_of:
            continue  # already reported
        f = folder_of[owner]
        if r is not None and r not in tree and left_out_near(tree, r):
            # its deletion is withheld: a name left out of the listing next to where its
            # file was could be that file, renamed (until a user renames that one); its
            # url stays as it was, even when that folder has moved or changed hands since
            continue
        if r is None or parent(r) != f:
            bad.append("attachment %d (%r) of %s: url %r is not directly in its folder %r" % (
                aid, a["name"], owner, a["url"], f))
            continue
        if r not in tree:
            bad.append("attachment %d (%r) of %s: url names %r, which does not exist" % (
                aid, a["name"], owner, r))
            continue
        tag = tree[r][2].get("attachment")
        if tag != str(aid):
            bad.append("attachment %d (%r) of %s: its entry %r carries tag %r" % (
                aid, a["name"], owner, r, tag))
        linked.setdefault(r, []).append(aid)
    for r, ids in sorted(url_users.items()):
        if len(ids) > 1:
            bad.append("duplicate: attachments %r all name %r" % (ids, r))
    for key, f in sorted(folder_of.items()):
        if f not in tree:
            continue
        for rel in sorted(tree):
            if parent(rel) == f:
                ids = linked.get(rel, [])
                if bad_name(rel):
                    # left out of the listing: never linked (until a user renames it)
                    if ids or url_users.get(rel):
                        bad.append("entry %r in the folder of %s has a name with a control "
                                   "character, yet is the file of attachments %r" % (
                                       rel, key, sorted(set(ids + url_users.get(rel, [])))))
                    continue
                if len(ids) != 1:
                    bad.append("entry %r in the folder of %s is the file of %d attachments %r"
                               % (rel, key, len(ids), ids))
    # only among entries directly in a document folder (or the stand-alone folder): one
    # anywhere else (a user's copy moved into a type folder, the root, a sub-folder) is left
    # alone with the tags it carries (docs/design.md 3.2); moved back in, it is told from
    # the linked file by the identity proof
    tagged = {}
    for rel, (_d, _s, tags) in tree.items():
        if "attachment" in tags and int(tags["attachment"]) in post.atts and \
                post.container(rel)[0] == parent(rel):
            tagged.setdefault(tags["attachment"], []).append(rel)
    for t, rels in sorted(tagged.items()):
        if len(rels) > 1:
            bad.append("duplicate: entries %r all carry live attachment tag %s" % (rels, t))
        else:
            a = post.atts[int(t)]
            # an attachment of a record that is gone or matches no type is not managed:
            # its file may have moved anywhere meanwhile
            if post.owner_synced(post.att_owner(a)) and post.url_rel(a.get("url")) != rels[0]:
                bad.append("entry %r carries tag %s, but that attachment's url is %r" % (
                    rels[0], t, a.get("url")))
    # contents
    where = {}
    for rel, s in post.sha.items():
        where.setdefault(s, []).append(("cloud", rel))
    for aid, a in post.atts.items():
        if a["type"] == "binary":
            where.setdefault(a["checksum"], []).append(("odoo", aid))
    for s, exps in sorted(expect.items(), key=lambda kv: repr(kv[1])):
        got = sorted(where.get(s, []))
        exact, loose = [], []
        for exp in exps:
            if exp[0] in ("in", "att"):
                owner = exp[2] if exp[0] == "att" else exp[1]
                f = folder_of.get(owner)
                if f is None:
                    if not post.owner_synced(owner):  # else already reported
                        bad.append("content %s expected %r: its owner has no folder; found "
                                   "at %r" % (s[:10], exp, got))
                    continue
                if exp[0] == "in":
                    exact.append(("cloud", f + "/" + exp[2]))
                    continue
                hits = [g for g in got if g[0] == "cloud" and parent(g[1]) == f and
                        tree[g[1]][2].get("attachment") == str(exp[1])]
                if len(hits) != 1:
                    bad.append("content %s expected %r: the file of attachment %d directly "
                               "in %r, found at %r" % (s[:10], exp, exp[1], f, got))
                    continue
                exact.append(hits[0])
            elif exp[0] == "at":
                exact.append(("cloud", exp[1]))
            elif exp[0] == "odoo":
                exact.append(("odoo", exp[1]))
            else:
                loose.append(exp)
        if not loose:
            if got != sorted(exact):
                bad.append("content %s expected %r (%r), found at %r" % (s[:10], exps,
                                                                        sorted(exact), got))
            continue
        for w in exact:
            if w not in got:
                bad.append("content %s expected %r (%r), found at %r" % (s[:10], exps, w, got))
        for exp in loose:
            if exp[0] == "kept" and not got:
                bad.append("nothing lost: content %s, in the folder of a record that still "
                           "exists, is gone from both sides" % s[:10])
            elif exp[0] == "via":
                a = post.atts.get(exp[1])
                if a is None:
                    bad.append("nothing lost: content %s was the file of attachment %d of a "
                               "record that still exists; that attachment is gone (content "
                               "found at %r)" % (s[:10], exp[1], got))
                elif a["type"] == "binary":
                    if a["checksum"] != s:
                        bad.append("nothing lost: attachment %d (%r of %s) is binary with "
                                   "another content than %s" % (exp[1], a["name"],
                                                                 post.att_owner(a), s[:10]))
                else:
                    r = post.url_rel(a["url"])
                    if post.sha.get(r) != s:
                        bad.append("nothing lost: attachment %d (%r of %s, a record that "
                                   "still exists) no longer leads to its content %s: its url "
                                   "%r names %s (content found at %r)" % (
                                       exp[1], a["name"], post.att_owner(a), s[:10], a["url"],
                                       "nothing" if r not in tree else "another content",
                                       got))
    for s in sorted(dead):
        if s in where:
            bad.append("content %s should have been deleted by a rule, found at %r" % (
                s[:10], where[s]))
    for s, locs in sorted(where.items()):
        if s not in expect and s not in dead:
            bad.append("content %s at %r was not there before the pass" % (s[:10], locs))
    # nothing lost: every url attachment of ours GETs its file (records that match no
    # type included)
    for aid, a in sorted(post.atts.items()):
        r = post.url_rel(a["url"]) if a["type"] == "url" else None
        if r is None:
            continue
        if r not in tree:
            if left_out_near(tree, r):
                continue  # its deletion is withheld (above)
            bad.append("nothing lost: attachment %d (%r of %s): its url %r names nothing" % (
                aid, a["name"], post.att_owner(a), a["url"]))
        elif not tree[r][0]:
            body = get_url(post.case, a["url"])
            if body is None or sha1(body) != post.sha[r]:
                bad.append("nothing lost: attachment %d (%r of %s): GET %r %s" % (
                    aid, a["name"], post.att_owner(a), a["url"], "failed" if body is None
                    else "returned another content than the file %r" % r))
    # technical attachments (binary fields, assets): exactly as they were at setup
    for aid, row in sorted(post.tech.items()):
        now = post.all_atts.get(aid)
        if now is None:
            owner = "%s,%d" % (row["res_model"], row["res_id"]) if row["res_model"] else None
            if owner and row["res_model"] in ("res.partner", "sale.order") and \
                    not post.exists(owner):
                continue  # Odoo deleted it with its record (BaseModel.unlink)
            bad.append("technical attachment %d (%r, res_field %r, url %r) is gone" % (
                aid, row["name"], row["res_field"], row["url"]))
            continue
        for k in TECH_FIELDS:
            if now[k] != row[k]:
                bad.append("technical attachment %d (%r, res_field %r): %s was %r, is %r" % (
                    aid, row["name"], row["res_field"], k, row[k], now[k]))
    for rel, (_d, _s, tags) in sorted(tree.items()):
        if tags.get("attachment") and int(tags["attachment"]) in post.tech:
            bad.append("technical attachment %s has a cloud file %r" % (tags["attachment"], rel))
    return bad


def dump(snap):
    """Both sides of a snapshot, for failure messages."""
    out = []
    for rel, (is_dir, _size, tags) in sorted(snap.tree.items()):
        out.append("  %s%s  %s%s" % (rel, "/" if is_dir else "", "" if is_dir else
                                     snap.sha[rel][:10] + " ",
                                     " ".join("%s=%s" % kv for kv in sorted(tags.items()))))
    for i, r in sorted(snap.partners.items()):
        if i > 5:
            out.append("  res.partner,%d %r rank %d%s" % (i, r["display_name"], r["customer_rank"],
                                                         "" if r["active"] else " archived"))
    for i, r in sorted(snap.orders.items()):
        out.append("  sale.order,%d %r %s" % (i, r["display_name"], r["state"]))
    for aid, a in sorted(snap.atts.items()):
        out.append("  attachment %d %r %s of %s: %s" % (
            aid, a["name"], a["type"], snap.att_owner(a),
            snap.url_rel(a["url"]) if a["type"] == "url" else (a["checksum"] or "")[:10]))
    for aid, a in sorted(snap.tech.items()):
        out.append("  technical attachment %d %r res_field %r url %r of %s,%s" % (
            aid, a["name"], a["res_field"], a["url"], a["res_model"], a["res_id"]))
    return "\n".join(out)


class Model:
    """What the operations pick from: the cloud tree and Odoo's records and
    attachments, read after convergence and kept up to date by each operation."""

    def __init__(self, snap):
        self.tree = {rel: (t[0], dict(t[2])) for rel, t in snap.tree.items()}
        self.partners = {i: dict(r) for i, r in snap.partners.items()}
        self.orders = {i: dict(r) for i, r in snap.orders.items()}
        self.atts = {i: dict(a) for i, a in snap.atts.items()}
        self.frozen = set()  # files re-linked in Odoo this round: no cloud move touches them

    def frozen_under(self, rel):
        """A file re-linked in Odoo this round is rel or below it (moving it too would
        make the round ambiguous: who moved the file, the user or the re-link?)."""
        return any(f == rel or f.startswith(rel + "/") for f in self.frozen)

    def synced(self, key):
        """The record exists and matches a type (as far as this round's operations know)."""
        model, rid = key.split(",")
        r = (self.partners if model == "res.partner" else self.orders).get(int(rid))
        if r is None:
            return False
        if model == "res.partner":
            return r["customer_rank"] > 0 and r["active"]
        return r["state"] in ("draft", "sent", "sale")

    def docs(self):
        """Record-tagged folders two levels down plus the stand-alone folder, sorted. The
        folder of a record that left every type is not one: where its content goes is the
        policy's (the checks only ask that nothing is lost), users do not work in it."""
        out = [rel for rel, (d, tags) in self.tree.items()
               if d and depth(rel) == 2 and "record" in tags and self.synced(tags["record"])]
        out += [rel for rel, (d, tags) in self.tree.items()
                if d and depth(rel) == 1 and tags.get("type") == SA]
        return sorted(out)

    def type_dirs(self):
        return sorted(rel for rel, (d, tags) in self.tree.items()
                      if d and depth(rel) == 1 and tags.get("type") in TYPE_NAMES)

    def children(self, rel, dirs=None):
        return sorted(r for r, (d, _t) in self.tree.items()
                      if parent(r) == rel and (dirs is None or d == dirs))

    def files_in_docs(self):
        docs = set(self.docs())
        return sorted(r for r, (d, _t) in self.tree.items() if not d and parent(r) in docs)

    def subdirs_in_docs(self):
        docs = set(self.docs())
        return sorted(r for r, (d, _t) in self.tree.items() if d and parent(r) in docs)

    def outside_files(self):
        docs = self.docs()
        return sorted(r for r, (d, _t) in self.tree.items()
                      if not d and not any(r.startswith(x + "/") for x in docs))

    def put(self, rel):
        self.tree[rel] = (False, {})

    def mkcol(self, rel):
        self.tree[rel] = (True, {})

    def move(self, src, dst):
        for r in sorted(self.tree):
            if r == src or r.startswith(src + "/"):
                self.tree[dst + r[len(src):]] = self.tree.pop(r)

    def delete(self, rel):
        for r in sorted(self.tree):
            if r == rel or r.startswith(rel + "/"):
                del self.tree[r]


class Runner:
    """One seed: the operations, the passes, the checks."""

    def __init__(self, case, seed, rounds, ops):
        self.case = case
        self.seed = seed
        self.rounds = rounds
        self.nops = ops
        self.rng = random.Random(seed)
        self.log = []
        self.counter = 0
        self.outputs = []
        self.stats = {"passes": 0, "second_passes": 0, "pass_s": 0.0, "plan_s": 0.0,
                      "snap_s": 0.0, "ops_s": 0.0, "refused": 0, "jobs": 0}
        self.verbose = bool(os.environ.get("CONVERGENCE_VERBOSE"))
        self.tech = None  # the technical attachments, as the first snapshot saw them
        # diagnosis only (every operation is on by default): CONVERGENCE_SKIP=op_copy_file,
        # technical,... leaves those operations (and the technical attachments) out
        self.skip = {x.strip() for x in os.environ.get("CONVERGENCE_SKIP", "").split(",")
                     if x.strip()}

    # ---- log ------------------------------------------------------------------------
    def note(self, line):
        self.log.append(line)
        if self.verbose:
            print("  " + line, file=sys.stderr)

    def content(self):
        self.counter += 1
        r = self.rng.random()
        n = self.rng.randint(1, 4096) if r < 0.85 else self.rng.randint(4097, 65536)
        head = b"seed %d content %d\n" % (self.seed, self.counter)
        return head + self.rng.randbytes(max(0, n - len(head)))

    def file_name(self, taken=()):
        taken = {t.lower() for t in taken}
        for _ in range(20):
            if self.rng.random() < 0.12:
                name = self.rng.choice(ODD_FILE_NAMES)
            else:
                name = "%s %d%s" % (self.rng.choice(FILE_STEMS), self.rng.randint(1, 40),
                                    self.rng.choice(FILE_EXTS))
            if name.lower() not in taken:
                return name
        self.counter += 1
        return "file-%d.bin" % self.counter

    def att_name(self):
        r = self.rng.random()
        if r < 0.1:
            return self.rng.choice(ODD_ATT_NAMES)
        if r < 0.35:  # same-name attachments on one record get distinct files
            return self.rng.choice(["scan.pdf", "offer.pdf", "photo.png"])
        return "%s %d%s" % (self.rng.choice(FILE_STEMS), self.rng.randint(1, 99),
                            self.rng.choice(FILE_EXTS))

    # ---- Odoo helpers -----------------------------------------------------------------
    def odoo(self, what, fn, *args):
        try:
            res = fn(*args)
            self.note("odoo  %s -> %r" % (what, res if not isinstance(res, bool) else "ok"))
            return res
        except RuntimeError as ex:  # Odoo refused it (UserError, ValidationError, ...)
            self.stats["refused"] += 1
            self.note("odoo  %s -> refused: %s" % (what, str(ex).splitlines()[0][:120]))
            return None

    def keys(self, m, synced_only=False):
        out = []
        for i, r in sorted(m.partners.items()):
            if not synced_only or (r["customer_rank"] > 0 and r["active"]):
                out.append(("res.partner", i))
        for i, r in sorted(m.orders.items()):
            if not synced_only or r["state"] in ("draft", "sent", "sale"):
                out.append(("sale.order", i))
        return out

    # ---- the operations -------------------------------------------------------------
    def op_put(self, m):
        docs = m.docs()
        if not docs:
            return False
        d = self.rng.choice(docs)
        name = self.file_name([base(c) for c in m.children(d)])
        body = self.content()
        self.case.dav.put(self.case.p(d + "/" + name), body)
        m.put(d + "/" + name)
        self.note("cloud PUT %s/%s (%d bytes, %s)" % (d, name, len(body), sha1(body)[:10]))
        return True

    def op_overwrite(self, m):
        files = m.files_in_docs()
        if not files:
            return False
        f = self.rng.choice(files)
        body = self.content()
        self.case.dav.put(self.case.p(f), body)
        self.note("cloud PUT over %s (%d bytes, %s)" % (f, len(body), sha1(body)[:10]))
        return True

    def op_subfolder(self, m):
        docs = m.docs()
        if not docs:
            return False
        d = self.rng.choice(docs)
        name = self.rng.choice(["photos", "Drafts", "old", "scans %d" % self.rng.randint(1, 9)])
        if name.lower() in {base(c).lower() for c in m.children(d)}:
            return False
        sub = d + "/" + name
        self.case.dav.mkcol(self.case.p(sub))
        m.mkcol(sub)
        self.note("cloud MKCOL %s" % sub)
        for _ in range(self.rng.randint(0, 2)):
            fn = self.file_name([base(c) for c in m.children(sub)])
            body = self.content()
            self.case.dav.put(self.case.p(sub + "/" + fn), body)
            m.put(sub + "/" + fn)
            self.note("cloud PUT %s/%s (%d bytes, %s)" % (sub, fn, len(body), sha1(body)[:10]))
        return True

    def op_put_in_subfolder(self, m):
        subs = m.subdirs_in_docs()
        if not subs:
            return False
        sub = self.rng.choice(subs)
        fn = self.file_name([base(c) for c in m.children(sub)])
        body = self.content()
        self.case.dav.put(self.case.p(sub + "/" + fn), body)
        m.put(sub + "/" + fn)
        self.note("cloud PUT %s/%s (%d bytes, %s)" % (sub, fn, len(body), sha1(body)[:10]))
        return True

    def _move(self, m, src, dst_dir, keep_name=True):
        if m.frozen_under(src):
            return False
        taken = [base(c) for c in m.children(dst_dir)]
        name = base(src)
        if not keep_name or name.lower() in {t.lower() for t in taken}:
            name = self.file_name(taken + [base(src)])
        dst = (dst_dir + "/" + name) if dst_dir else name
        self.case.dav.move(self.case.p(src), self.case.p(dst))
        m.move(src, dst)
        self.note("cloud MOVE %s -> %s" % (src, dst))
        return True

    def op_rename_file(self, m):
        files = m.files_in_docs()
        if not files:
            return False
        f = self.rng.choice(files)
        return self._move(m, f, parent(f), keep_name=False)

    def op_move_file(self, m):
        files = m.files_in_docs()
        docs = m.docs()
        if not files or len(docs) < 2:
            return False
        f = self.rng.choice(files)
        dst = self.rng.choice([d for d in docs if d != parent(f)])
        return self._move(m, f, dst, keep_name=self.rng.random() < 0.8)

    def op_move_out(self, m):
        files = m.files_in_docs() + m.subdirs_in_docs()
        if not files:
            return False
        f = self.rng.choice(files)
        dst = self.rng.choice(m.type_dirs() + [""])
        return self._move(m, f, dst)

    def op_move_into_subfolder(self, m):
        files, subs = m.files_in_docs(), m.subdirs_in_docs()
        if not files or not subs:
            return False
        return self._move(m, self.rng.choice(files), self.rng.choice(subs))

    def op_move_back_in(self, m):
        files, docs = m.outside_files(), m.docs()
        if not files or not docs:
            return False
        return self._move(m, self.rng.choice(files), self.rng.choice(docs))

    def op_delete_file(self, m):
        files = m.files_in_docs()
        if not files:
            return False
        f = self.rng.choice(files)
        self.case.dav.delete(self.case.p(f))
        m.delete(f)
        self.note("cloud DELETE %s" % f)
        return True

    def op_delete_subfolder(self, m):
        subs = m.subdirs_in_docs()
        if not subs:
            return False
        f = self.rng.choice(subs)
        self.case.dav.delete(self.case.p(f))
        m.delete(f)
        self.note("cloud DELETE %s/" % f)
        return True

    def op_rename_doc(self, m):
        docs = [d for d in m.docs() if depth(d) == 2]
        if not docs:
            return False
        d = self.rng.choice(docs)
        if m.frozen_under(d):
            return False
        taken = {base(c).lower() for c in m.children(parent(d))}
        for _ in range(10):
            name = self.rng.choice(["My folder", "renamed", "Old stuff", "tmp"]) + \
                " %d" % self.rng.randint(1, 99)
            if name.lower() not in taken:
                break
        else:
            return False
        dst = parent(d) + "/" + name
        self.case.dav.move(self.case.p(d), self.case.p(dst))
        m.move(d, dst)
        self.note("cloud MOVE %s/ -> %s/" % (d, dst))
        return True

    def op_move_doc(self, m):
        docs = [d for d in m.docs() if depth(d) == 2]
        types = m.type_dirs()
        if not docs or len(types) < 2:
            return False
        d = self.rng.choice(docs)
        if m.frozen_under(d):
            return False
        dst_dir = self.rng.choice([t for t in types if t != parent(d)])
        if base(d).lower() in {base(c).lower() for c in m.children(dst_dir)}:
            return False
        dst = dst_dir + "/" + base(d)
        self.case.dav.move(self.case.p(d), self.case.p(dst))
        m.move(d, dst)
        self.note("cloud MOVE %s/ -> %s/" % (d, dst))
        return True

    def op_delete_doc(self, m):
        docs = m.docs()
        if not docs:
            return False
        d = self.rng.choice(docs)
        self.case.dav.delete(self.case.p(d))
        m.delete(d)
        self.note("cloud DELETE %s/" % d)
        return True

    def op_delete_type(self, m):
        types = m.type_dirs()
        if not types:
            return False
        t = self.rng.choice(types)
        self.case.dav.delete(self.case.p(t))
        m.delete(t)
        self.note("cloud DELETE %s/" % t)
        return True

    def op_rename_type(self, m):
        types = [rel for rel, (d, tags) in m.tree.items() if d and depth(rel) == 1 and
                 tags.get("type") in TYPE_NAMES + [SA]]
        if not types:
            return False
        t = self.rng.choice(sorted(types))
        if m.frozen_under(t):
            return False
        dst = t + " renamed %d" % self.rng.randint(1, 99)
        if dst in m.tree:
            return False
        self.case.dav.move(self.case.p(t), self.case.p(dst))
        m.move(t, dst)
        self.note("cloud MOVE %s/ -> %s/" % (t, dst))
        return True

    def op_attach(self, m):
        r = self.rng.random()
        body = self.content()
        name = self.att_name()
        if r < 0.1:
            model, rid = False, 0
        else:
            ks = self.keys(m, synced_only=self.rng.random() < 0.8)
            if not ks:
                return False
            model, rid = self.rng.choice(ks)
        aid = self.odoo("attach %r to %s,%s (%d bytes, %s)" % (name, model, rid, len(body),
                                                               sha1(body)[:10]),
                        self.case.odoo.attach, model or None, rid, name, body)
        if aid:
            m.atts[aid] = {"id": aid, "res_model": model, "res_id": rid, "name": name}
        return True

    def op_delete_att(self, m):
        if not m.atts:
            return False
        atts = sorted(m.atts.values(), key=lambda a: (str(a["res_model"]), a["res_id"],
                                                      str(a.get("url") or ""), a["name"] or ""))
        a = self.rng.choice(atts)
        self.odoo("unlink ir.attachment %d (%r of %s,%s)" % (a["id"], a["name"], a["res_model"],
                                                             a["res_id"]),
                  self.case.odoo.unlink, "ir.attachment", a["id"])
        m.atts.pop(a["id"], None)
        return True

    def _new_name(self, m, model):
        r = self.rng.random()
        rows = m.partners if model == "res.partner" else m.orders
        if r < 0.1 and rows:  # a name another record has: distinct folders
            return self.rng.choice(sorted(x["name"] for x in rows.values() if x["name"]))
        if r < 0.2:
            return self.rng.choice(ODD_RECORD_NAMES)
        if model == "res.partner":
            return "%s %d" % (self.rng.choice(COMPANY_NAMES), self.rng.randint(1, 999))
        return "%s%04d" % (self.rng.choice(["SO", "Q", "Order "]), self.rng.randint(1, 9999))

    def op_rename_record(self, m):
        ks = self.keys(m, synced_only=self.rng.random() < 0.9)
        ks = [k for k in ks if not (k[0] == "res.partner" and k[1] <= 5)]
        if not ks:
            return False
        model, rid = self.rng.choice(ks)
        name = self._new_name(m, model)
        if self.odoo("write %s,%d name=%r" % (model, rid, name), self.case.odoo.write, model,
                     rid, {"name": name}) is not None:
            (m.partners if model == "res.partner" else m.orders)[rid]["name"] = name
        return True

    def op_order_state(self, m):
        if not m.orders:
            return False
        rid = self.rng.choice(sorted(m.orders))
        state = self.rng.choice([s for s in ORDER_STATES if s != m.orders[rid]["state"]])
        if self.odoo("write sale.order,%d state=%s" % (rid, state), self.case.odoo.write,
                     "sale.order", rid, {"state": state}) is not None:
            m.orders[rid]["state"] = state
        return True

    def op_customer_rank(self, m):
        ps = [i for i in sorted(m.partners) if i > 5]
        if not ps:
            return False
        rid = self.rng.choice(ps)
        rank = 0 if m.partners[rid]["customer_rank"] > 0 else 1
        if self.odoo("write res.partner,%d customer_rank=%d" % (rid, rank), self.case.odoo.write,
                     "res.partner", rid, {"customer_rank": rank}) is not None:
            m.partners[rid]["customer_rank"] = rank
        return True

    def _drop_atts(self, m, model, rid):
        for aid in [a for a, v in m.atts.items() if v["res_model"] == model and
                    v["res_id"] == rid]:
            del m.atts[aid]

    def op_delete_record(self, m):
        if self.rng.random() < 0.7 and m.orders:
            cands = [i for i in sorted(m.orders) if m.orders[i]["state"] in ("draft", "cancel")]
            if not cands:
                return False
            rid = self.rng.choice(cands)
            if self.odoo("unlink sale.order,%d" % rid, self.case.odoo.unlink, "sale.order",
                         rid) is not None:
                del m.orders[rid]
                self._drop_atts(m, "sale.order", rid)
            return True
        used = {o["partner_id"][0] for o in m.orders.values() if o["partner_id"]}
        used |= {p["parent_id"][0] for p in m.partners.values() if p["parent_id"]}
        cands = [i for i in sorted(m.partners) if i > 5 and i not in used]
        if not cands:
            return False
        rid = self.rng.choice(cands)
        if self.odoo("unlink res.partner,%d" % rid, self.case.odoo.unlink, "res.partner",
                     rid) is not None:
            del m.partners[rid]
            self._drop_atts(m, "res.partner", rid)
        return True

    def op_create_record(self, m):
        r = self.rng.random()
        if r < 0.5 or not m.partners:
            companies = [i for i in sorted(m.partners) if i > 5 and m.partners[i]["is_company"]]
            if r < 0.15 and companies:
                par = self.rng.choice(companies)
                vals = {"name": self.rng.choice(PERSON_NAMES), "parent_id": par,
                        "customer_rank": 1}
            else:
                vals = {"name": self._new_name(m, "res.partner"), "is_company": True,
                        "customer_rank": 1 if self.rng.random() < 0.85 else 0}
            rid = self.odoo("create res.partner %r" % vals, self.case.odoo.create,
                            "res.partner", vals)
            if rid:
                m.partners[rid] = {"id": rid, "name": vals["name"], "active": True,
                                   "customer_rank": vals["customer_rank"],
                                   "is_company": vals.get("is_company", False),
                                   "parent_id": [vals["parent_id"], ""]
                                   if "parent_id" in vals else False}
            return True
        custs = [i for i in sorted(m.partners) if i > 5]
        if not custs:
            return False
        vals = {"partner_id": self.rng.choice(custs),
                "state": self.rng.choice(["draft", "draft", "sent", "sale", "cancel"])}
        if self.rng.random() < 0.3:
            vals["name"] = self._new_name(m, "sale.order")
        rid = self.odoo("create sale.order %r" % vals, self.case.odoo.create, "sale.order", vals)
        if rid:
            m.orders[rid] = {"id": rid, "name": vals.get("name", ""), "state": vals["state"],
                             "partner_id": [vals["partner_id"], ""]}
        return True

    # ---- records leaving every type and coming back (policy: nothing lost) ----------
    def op_cancel_order(self, m):
        ids = [i for i in sorted(m.orders) if m.orders[i]["state"] in ("draft", "sent", "sale")]
        if not ids:
            return False
        rid = self.rng.choice(ids)
        if self.odoo("sale.order,%d action_cancel (was %s)" % (rid, m.orders[rid]["state"]),
                     self.case.odoo.call, "sale.order", "action_cancel", [[rid]]) is not None:
            m.orders[rid]["state"] = "cancel"
        return True

    def op_draft_order(self, m):
        ids = [i for i in sorted(m.orders) if m.orders[i]["state"] == "cancel"]
        if not ids:
            return False
        rid = self.rng.choice(ids)
        if self.odoo("sale.order,%d action_draft" % rid, self.case.odoo.call, "sale.order",
                     "action_draft", [[rid]]) is not None:
            m.orders[rid]["state"] = "draft"
        return True

    def op_archive_partner(self, m):
        ps = [i for i in sorted(m.partners) if i > 5]
        if not ps:
            return False
        rid = self.rng.choice(ps)
        active = not m.partners[rid]["active"]
        if self.odoo("write res.partner,%d active=%s" % (rid, active), self.case.odoo.write,
                     "res.partner", rid, {"active": active}) is not None:
            m.partners[rid]["active"] = active
        return True

    def op_swap_names(self, m):
        """Two records of one type swap their display names in one round."""
        if self.rng.random() < 0.5:
            model, rows = "sale.order", m.orders
            groups = [[i for i in sorted(rows) if rows[i]["state"] in st]
                      for st in (("draft", "sent"), ("sale",))]
        else:
            model, rows = "res.partner", m.partners
            groups = [[i for i in sorted(rows) if i > 5 and rows[i]["active"] and
                       rows[i]["customer_rank"] > 0 and not rows[i]["parent_id"]]]
        groups = [g for g in groups if len(g) >= 2]
        if not groups:
            return False
        a, b = self.rng.sample(self.rng.choice(groups), 2)
        na, nb = rows[a]["name"], rows[b]["name"]
        if not na or not nb or na == nb:
            return False
        for rid, name in ((a, nb), (b, na)):
            if self.odoo("write %s,%d name=%r (swap)" % (model, rid, name), self.case.odoo.write,
                         model, rid, {"name": name}) is not None:
                rows[rid]["name"] = name
        return True

    def op_relink_att(self, m):
        """Odoo side: an attachment of a synced record moves to another synced record."""
        cands = []
        synced = set(self.keys(m, True))
        for aid, a in sorted(m.atts.items()):
            if not a["res_model"] or (a["res_model"], a["res_id"]) not in synced:
                continue
            if a.get("type") == "url":
                r = url_rel(self.case, a.get("url"))
                if r is None or r not in m.tree or m.tree[r][0] or m.frozen_under(r):
                    continue
            cands.append(aid)
        if not cands:
            return False
        aid = self.rng.choice(cands)
        a = m.atts[aid]
        synced = self.keys(m, True)
        targets = [k for k in synced if k != (a["res_model"], a["res_id"])]
        if not targets:
            return False
        model, rid = self.rng.choice(targets)
        if self.odoo("write ir.attachment,%d res_model=%s res_id=%d (was %s,%d, %s)" % (
                aid, model, rid, a["res_model"], a["res_id"], a.get("type", "binary")),
                self.case.odoo.write, "ir.attachment", aid,
                {"res_model": model, "res_id": rid}) is not None:
            a["res_model"], a["res_id"] = model, rid
            if a.get("type") == "url":
                m.frozen.add(url_rel(self.case, a["url"]))
        return True

    # ---- cloud: names no cloud should hold, users' copies ---------------------------
    def op_put_tab(self, m):
        docs = m.docs()
        if not docs:
            return False
        d = self.rng.choice(docs)
        name = "%s\t%d.txt" % (self.rng.choice(FILE_STEMS), self.rng.randint(1, 99))
        if name.lower() in {base(c).lower() for c in m.children(d)}:
            return False
        body = self.content()
        self.case.dav.put(self.case.p(d + "/" + name), body)
        m.put(d + "/" + name)
        self.note("cloud PUT %s/%r (a tab in the name; %d bytes, %s)" % (d, name, len(body),
                                                                       sha1(body)[:10]))
        return True

    def op_copy_file(self, m):
        """A user copies a linked file (its dead properties, our tag included, go with it)
        into its own folder under another name, or into another document folder."""
        files = [f for f in m.files_in_docs() if "attachment" in m.tree[f][1]]
        if not files:
            return False
        f = self.rng.choice(files)
        docs = [d for d in m.docs() if d != parent(f)]
        if docs and self.rng.random() < 0.5:
            d = self.rng.choice(docs)
            name = base(f)
            if name.lower() in {base(c).lower() for c in m.children(d)}:
                name = self.file_name([base(c) for c in m.children(d)])
        else:
            d = parent(f)
            stem, dot, ext = base(f).rpartition(".")
            name = ("%s (copy)%s%s" % (stem, dot, ext)) if stem else base(f) + " (copy)"
            if name.lower() in {base(c).lower() for c in m.children(d)}:
                return False
        dst = d + "/" + name
        st, _ = self.case.dav.req("COPY", self.case.p(f), headers={
            "Destination": self.case.dav.url.rstrip("/") + urllib.parse.quote(self.case.p(dst)),
            "Overwrite": "F"})
        assert st in (201, 204), "COPY %s -> %s: %d" % (f, dst, st)
        m.tree[dst] = (False, dict(m.tree[f][1]))
        self.note("cloud COPY %s -> %s (tag attachment=%s copied)" % (
            f, dst, m.tree[f][1].get("attachment")))
        return True

    OPS = [  # (weight, method)
        (10, "op_put"), (1.5, "op_overwrite"), (2.5, "op_subfolder"), (1, "op_put_in_subfolder"),
        (5, "op_rename_file"), (5, "op_move_file"), (2.5, "op_move_out"),
        (0.7, "op_move_into_subfolder"), (1.5, "op_move_back_in"), (4, "op_delete_file"),
        (0.8, "op_delete_subfolder"), (1.5, "op_rename_doc"), (0.8, "op_move_doc"),
        (1.2, "op_delete_doc"), (0.25, "op_delete_type"), (0.3, "op_rename_type"),
        (11, "op_attach"), (4, "op_delete_att"), (3, "op_rename_record"), (4, "op_order_state"),
        (1.2, "op_customer_rank"), (1.5, "op_delete_record"), (2.5, "op_create_record"),
        (1.5, "op_cancel_order"), (1, "op_draft_order"), (1.2, "op_archive_partner"),
        (1, "op_swap_names"), (2, "op_relink_att"), (1, "op_put_tab"), (1.5, "op_copy_file"),
    ]

    def one_op(self, m):
        ops = [(w, n) for w, n in self.OPS if n not in self.skip]
        weights = [w for w, _ in ops]
        for _ in range(20):
            name = self.rng.choices([n for _, n in ops], weights)[0]
            if getattr(self, name)(m):
                return
        self.note("(no operation applicable)")

    # ---- setup, passes, checks ---------------------------------------------------------
    def populate(self):
        o = self.case.odoo
        comps = []
        for i in range(4):
            vals = {"name": "%s %d" % (COMPANY_NAMES[(self.seed + i) % len(COMPANY_NAMES)], i),
                    "is_company": True, "customer_rank": 1 if i < 3 else 0}
            comps.append(self.odoo("create res.partner %r" % vals, o.create, "res.partner", vals))
        vals = {"name": PERSON_NAMES[self.seed % len(PERSON_NAMES)], "parent_id": comps[0],
                "customer_rank": 1}
        self.odoo("create res.partner %r" % vals, o.create, "res.partner", vals)
        orders = []
        for i, st in enumerate(["draft", "draft", "sent", "sale", "sale", "cancel"]):
            vals = {"partner_id": comps[i % 4], "state": st}
            orders.append(self.odoo("create sale.order %r" % vals, o.create, "sale.order", vals))
        for rid in orders[:4]:
            body = self.content()
            name = self.att_name()
            self.odoo("attach %r to sale.order,%d (%d bytes, %s)" % (name, rid, len(body),
                                                                     sha1(body)[:10]),
                      o.attach, "sale.order", rid, name, body)
        body = self.content()
        self.odoo("attach 'terms.txt' to res.partner,%d" % comps[0], o.attach, "res.partner",
                  comps[0], "terms.txt", body)
        # technical attachments, odoosync's to leave alone (check() compares them): a
        # binary field's storage on a customer (res_field), an asset bundle and the
        # company's scss (binary, stand-alone, with Odoo urls)
        for vals in (
                {"name": "image_1920", "res_model": "res.partner", "res_id": comps[0],
                 "res_field": "image_1920", "mimetype": "image/png"},
                {"name": "image_128", "res_model": "res.partner", "res_id": comps[1],
                 "res_field": "image_128", "mimetype": "image/png"},
                {"name": "web.assets_frontend.min.css", "res_model": "ir.ui.view", "res_id": 0,
                 "url": "/web/assets/%d/web.assets_frontend.min.css" % (1000 + self.seed),
                 "public": True, "mimetype": "text/css"},
                {"name": "res.company.scss", "url": "/web/static/asset_styles_company_report.scss",
                 "mimetype": "text/scss"}):
            if "technical" in self.skip:
                break
            body = self.content()
            vals = dict(vals, type="binary", datas=base64.b64encode(body).decode())
            self.odoo("create technical ir.attachment %r (%s)" % (vals["name"], sha1(body)[:10]),
                      o.create, "ir.attachment", vals)

    def run_pass(self, label):
        t0 = time.time()
        p = self.case.run_cmd("run", "--once", expect=None)
        dt = time.time() - t0
        self.stats["passes"] += 1
        self.stats["pass_s"] += dt
        summary = (p.stdout.strip().splitlines() or [""])[-1]
        self.outputs.append("%s: exit %d, %.2f s: %s%s" % (
            label, p.returncode, dt, summary, ("\n  stderr: " + p.stderr.strip().replace(
                "\n", "\n  stderr: ")) if p.stderr.strip() else ""))
        if self.verbose:
            print("  " + self.outputs[-1], file=sys.stderr)
        if p.returncode != 0:
            raise AssertionError("invariant 5: odoosync run --once exited %d (%s)\nstdout:\n%s\n"
                                 "stderr:\n%s" % (p.returncode, label, p.stdout, p.stderr))

    def plan(self):
        t0 = time.time()
        jobs = self.case.plan_json()
        self.stats["plan_s"] += time.time() - t0
        return jobs

    def converge(self, label):
        self.run_pass(label + " pass 1")
        jobs = self.plan()
        if jobs:
            self.stats["second_passes"] += 1
            self.note("(%s: after pass 1 the plan still had %d jobs: %s)" % (
                label, len(jobs), "; ".join("%s %s %s" % (j.get("kind"), j.get("path", ""),
                                                          j.get("reason", "")) for j in jobs)))
            self.run_pass(label + " pass 2")
            jobs = self.plan()
            if jobs:
                raise AssertionError(
                    "invariant 4 (quiescence): two passes after the last operation, the plan "
                    "still has %d jobs:\n  %s\n\nstate now:\n%s" % (len(jobs), "\n  ".join(
                        "%s %s %s %s (%s)" % (j.get("kind"), j.get("side", ""),
                                              j.get("path", j.get("att_id", "")),
                                              j.get("to", ""), j.get("reason", ""))
                        for j in jobs), dump(self.snap())))

    def snap(self):
        t0 = time.time()
        s = Snap(self.case, self.tech)
        if self.tech is None:
            self.tech = s.tech
        self.stats["snap_s"] += time.time() - t0
        return s

    def round(self, label, nops, model):
        t0 = time.time()
        for i in range(nops):
            self.note("%s op %d:" % (label, i + 1))
            self.one_op(model)
        self.stats["ops_s"] += time.time() - t0
        pre = self.snap()
        expect, dead = predict(pre, getattr(self, "last_post", None))
        self.converge(label)
        post = self.snap()
        self.last_post = post
        bad = check(post, expect, dead)
        if bad:
            raise AssertionError("invariants after %s:\n  %s\n\nbefore the pass:\n%s\n"
                                 "after convergence:\n%s" % (label, "\n  ".join(bad[:60]),
                                                              dump(pre), dump(post)))
        self.note("%s converged: %d records synced, %d attachments, %d cloud files; "
                  "%d contents kept, %d deleted by rules" % (
                      label, len(post.synced_keys()), len(post.atts), len(post.sha),
                      len(expect), len(dead)))
        return Model(post)

    def run(self):
        t0 = time.time()
        try:
            self.note("setup:")
            self.populate()
            model = self.round("round 0 (setup)", 0, Model(self.snap()))
            for r in range(1, self.rounds + 1):
                model = self.round("round %d" % r, self.nops, model)
        except Exception as ex:
            tb = traceback.format_exc() if not isinstance(ex, AssertionError) else ""
            msg = ("CONVERGENCE FAILURE: seed %d (%d rounds x %d ops)\n%s%s\n\n"
                   "operation log (replay: CONVERGENCE_SEED=%d CONVERGENCE_ROUNDS=%d "
                   "CONVERGENCE_OPS=%d python3 tests/e2e/test_convergence.py):\n  %s\n\n"
                   "passes:\n  %s\n" % (self.seed, self.rounds, self.nops, ex, tb, self.seed,
                                        self.rounds, self.nops, "\n  ".join(self.log),
                                        "\n  ".join(self.outputs)))
            raise AssertionError(msg) from None
        self.stats["total_s"] = time.time() - t0
        return self.stats


class ConvergenceCase(SyncCase):
    # 5 x 41 = 205 operations per seed: a round costs two odoosync runs (a pass and a
    # plan) at least, so fewer, larger rounds than 8 x 25 keep 20 seeds (two files run
    # side by side by ctest -j2) within budget on 2 busy cores with ASan
    ROUNDS = int(os.environ.get("CONVERGENCE_ROUNDS", "5"))
    OPS_PER_ROUND = int(os.environ.get("CONVERGENCE_OPS", "41"))

    def setUp(self):
        super().setUp()
        # a state file of its own: the default (.odoosync-state.json in the working
        # directory) is shared by every test running from the same directory
        # One worker thread: a pass then applies its jobs in one order, so a seed gives
        # the same result on every run and a failure replays (parallel application is
        # covered by test_rules/test_cluster and the pool's integration tests).
        self.write_config(safety={"max_delete_share": 1.0},
                          state={"file": os.path.join(self.tmp, "state.json")},
                          worker={"concurrency": 1, "backoff_ms": 100})

    def run_seed(self, seed):
        st = Runner(self, seed, self.ROUNDS, self.OPS_PER_ROUND).run()
        print("\nseed %d: %d ops, %.1f s: %d passes (%d second passes, %.1f s), plans %.1f s, "
              "snapshots %.1f s, ops %.1f s, %d ops refused by Odoo" % (
                  seed, self.ROUNDS * self.OPS_PER_ROUND, st["total_s"], st["passes"],
                  st["second_passes"], st["pass_s"], st["plan_s"], st["snap_s"], st["ops_s"],
                  st["refused"]), file=sys.stderr)


def add_seed_tests(cls, seeds):
    """One test method per seed (each gets its own emulator and root); CONVERGENCE_SEED
    replaces the list with one seed."""
    one = os.environ.get("CONVERGENCE_SEED")
    if one is not None and one != "":
        seeds = [int(one)]

    for s in seeds:
        def test(self, s=s):
            self.run_seed(s)
        test.__name__ = "test_seed_%02d" % s
        setattr(cls, test.__name__, test)
    return cls
