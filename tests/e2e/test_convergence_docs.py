#!/usr/bin/env python3
"""End-to-end convergence of Odoo's Documents app (documents.enabled, mapping "*"), on
both model shapes (16/17: documents.folder; 18/19: folders are documents of type folder)
against the real Apache WebDAV and the emulator: seeded random operations on both sides
between passes, `odoosync run --once` until `plan --json` is empty, then:

  (1) both sides equal: Odoo's visible tree (active folders under active folders, and
      their active documents with a file, by name) is exactly the cloud tree under
      <root>/Documents: the same folders, the same files, the same bytes (the cloud
      file's sha1 is the document's checksum);
  (2) nothing lost, nothing back: every content that existed before the round or that
      the round's operations wrote is still there, unless an operation deleted it (a
      file deleted, a document archived or deleted, a folder deleted or archived with
      what it held) or replaced it (an edit); what an operation deleted is gone, unless
      a rule keeps it (an edit beats a delete); no content comes from nowhere;
  (3) folders: a folder deleted or archived is archived in Odoo with its sub-folders,
      unless a document under it was edited or added in Odoo in the same round (then
      the folders down to that document stay);
  (4) every pass exits 0, and the passes converge (at most MAX_PASSES before `plan` is
      empty).

The operations, each on a folder or document no other operation of the round touched
(and a deletion on a whole subtree no operation touched), so that each round has one
right answer:
  cloud: a new file, a new folder (with files), an edit, a file renamed, a file moved to
         another folder, a file deleted, a folder renamed, a folder moved, a folder
         deleted, a user's copy of a file or a folder (COPY takes our tags along);
  Odoo:  a new document, a new folder, an edit (datas), a document renamed, moved,
         archived or deleted (unlink), a folder renamed, moved, archived with what it
         holds;
  both:  an edit on both sides (a conflict: both versions kept), an edit in the cloud
         and a delete in Odoo, an edit in Odoo and a delete in the cloud (the edit wins),
         a folder deleted in the cloud while a document under it is edited or added in
         Odoo (they stay, with their folders), a file moved out of a folder the cloud then
         deletes (it follows its move, the folder goes).
Cloud renames and moves of folders stay below the top level (a top-level folder moved
in the cloud goes back: Odoo's place wins, test_documents covers it); new cloud entries
go into folders (directly in the "*" base they are not created in Odoo).

Replay one seed: DOCS_CONVERGENCE_SEED=N python3 tests/e2e/test_convergence_docs.py
(DOCS_CONVERGENCE_ROUNDS / _OPS change the shape; DOCS_CONVERGENCE_VERBOSE=1 prints the
operations as they go).
"""
import base64
import hashlib
import json
import os
import random
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_documents import DocsCase  # noqa: E402

MAX_PASSES = 5
STEMS = ["report", "scan", "invoice", "notes", "plan", "Contract", "offer", "minutes"]
EXTS = [".pdf", ".txt", ".docx", ".csv", ""]
ODD = ["caf\u00e9 menu", "R&D #", "a b c", "it's", "[draft] (v2)", "50% off"]
FOLDER_NAMES = ["Finance", "HR", "Legal", "Projects", "Archive 2024", "Scans", "Drafts",
                "Caf\u00e9", "Team A", "old"]


def sanitize(name):
    """The cloud name the planner gives an Odoo name (producer/names.c: forbidden
    characters and control characters become '-', spaces and dots at the ends go)."""
    out = "".join("-" if ch in '*?"\':<>|+%!@\\/' or ord(ch) < 32 else ch for ch in name)
    return out.strip(" .") or "-"


def with_suffix(name, n, keep_ext):
    """names_with_suffix(): " (n)" before a file's extension."""
    dot = name.rfind(".") if keep_ext else -1
    if dot <= 0 or len(name) - dot > 16:
        dot = -1
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    return stem.rstrip(" .") + " (%d)" % n + ext


def unique_names(folders, docs):
    """{("f"|"d", id): cloud name}: the planner's names per Odoo folder (made safe, then
    unique case-insensitively: sub-folders first, then files, each in id order)."""
    out, taken = {}, {}
    for kind, rows, key in (("f", folders, "parent"), ("d", docs, "folder")):
        for i in sorted(rows):
            t = taken.setdefault(rows[i][key], set())
            name = sanitize(rows[i]["name"])
            n = 2
            cand = name
            while cand.lower() in t:
                cand = with_suffix(name, n, kind == "d")
                n += 1
            t.add(cand.lower())
            out[(kind, i)] = cand
    return out


def sha1(b):
    return hashlib.sha1(b).hexdigest()


def b64(b):
    return base64.b64encode(b).decode()


class World:
    """Both sides as one tree (they are equal after convergence): folders and documents
    by Odoo id (new cloud entries get negative ids until the passes create them), each
    with Odoo's name and parent and the cloud's (cname, cparent / cfolder): an operation
    on one side changes that side's view only, until the passes."""

    def __init__(self):
        self.folders = {}  # id -> {"name", "parent", "cname", "cparent"} (parent 0: the top)
        self.docs = {}  # id -> {"name", "folder", "cname", "cfolder", "sha"}
        self.next_tmp = -1

    def tmp_id(self):
        self.next_tmp -= 1
        return self.next_tmp

    # cname: the cloud's name; Odoo's made safe (sanitize) unless a user gave it there
    def add_folder(self, fid, name, parent, cname=None):
        self.folders[fid] = {"name": name, "parent": parent, "cname": cname or sanitize(name),
                             "cparent": parent}

    def add_doc(self, did, name, folder, sha, cname=None):
        self.docs[did] = {"name": name, "folder": folder, "cname": cname or sanitize(name),
                          "cfolder": folder, "sha": sha}

    def path(self, fid, cloud=False):
        parts = []
        while fid:
            f = self.folders[fid]
            parts.append(f["cname"] if cloud else sanitize(f["name"]))
            fid = f["cparent"] if cloud else f["parent"]
        return "/".join(reversed(parts))

    def doc_path(self, did, cloud=False):
        d = self.docs[did]
        if cloud:
            return self.path(d["cfolder"], True) + "/" + d["cname"]
        return self.path(d["folder"]) + "/" + sanitize(d["name"])

    def names_in(self, fid):
        out = set()
        for f in list(self.folders.values()) + list(self.docs.values()):
            p = f.get("parent", f.get("folder"))
            cp = f.get("cparent", f.get("cfolder"))
            if p == fid:
                out |= {f["name"].lower(), sanitize(f["name"]).lower()}
            if cp == fid:
                out.add(f["cname"].lower())
        return out

    def ancestors(self, fid):
        out = []
        for key in ("parent", "cparent"):
            x = fid
            while x:
                out.append(x)
                x = self.folders[x][key]
        return sorted(set(out))

    def subtree(self, fid):
        """(folder ids, doc ids) at and under fid, on either side."""
        fs, todo = set(), [fid]
        while todo:
            x = todo.pop()
            if x in fs:
                continue
            fs.add(x)
            todo += [i for i, f in self.folders.items() if x in (f["parent"], f["cparent"])]
        ds = sorted(i for i, d in self.docs.items() if d["folder"] in fs or d["cfolder"] in fs)
        return sorted(fs), ds


class DocsConvergenceCase(DocsCase):
    ROUNDS = int(os.environ.get("DOCS_CONVERGENCE_ROUNDS", "4"))
    OPS = int(os.environ.get("DOCS_CONVERGENCE_OPS", "12"))

    def configure_sync(self):
        self.write_config(types=[], documents={"enabled": True},
                          safety={"max_delete_share": 1.0},
                          state={"file": os.path.join(self.tmp, "state.json")},
                          worker={"concurrency": 1, "backoff_ms": 100})
        if self.PROTOCOL == "json2":
            with open(self.config) as f:
                cfg = json.load(f)
            cfg["odoo"] = {"url": self.odoo.url, "database": "odoosync", "protocol": "json2",
                           "api_key_env": "E2E_ODOO_KEY"}
            with open(self.config, "w") as f:
                json.dump(cfg, f)

    def run_seed(self, seed):
        Runner(self, seed).run()


class Runner:
    def __init__(self, case, seed):
        self.case = case
        self.seed = seed
        self.rng = random.Random(seed)
        self.log = []
        self.outputs = []
        self.counter = 0
        self.verbose = bool(os.environ.get("DOCS_CONVERGENCE_VERBOSE"))
        v = case.VERSION
        self.fmodel = "documents.folder" if v <= 17 else "documents.document"
        self.fparent = "parent_folder_id" if v <= 17 else "folder_id"

    def note(self, line):
        self.log.append(line)
        if self.verbose:
            print("  " + line, file=sys.stderr)

    # ---- names and contents ------------------------------------------------------------
    def content(self, not_len=None):
        self.counter += 1
        while True:
            n = self.rng.randint(1, 3000)
            if n != not_len:
                break
        head = b"seed %d content %d\n" % (self.seed, self.counter)
        body = head + self.rng.randbytes(max(0, n - len(head)))
        if not_len is not None and len(body) == not_len:
            body += b"+"
        return body

    def file_name(self, taken):
        while True:
            self.counter += 1
            stem = self.rng.choice(ODD) if self.rng.random() < 0.15 else self.rng.choice(STEMS)
            name = "%s %d%s" % (stem, self.counter, self.rng.choice(EXTS))
            if name.lower() not in taken:
                return name

    def folder_name(self, taken):
        while True:
            self.counter += 1
            name = "%s %d" % (self.rng.choice(FOLDER_NAMES), self.counter)
            if name.lower() not in taken:
                return name

    # ---- the two sides --------------------------------------------------------------------
    def cpath(self, rel):
        return self.case.p("Documents/" + rel)

    def odoo(self, what, fn, *args):
        res = fn(*args)
        self.note("odoo  %s -> %r" % (what, res if not isinstance(res, bool) else "ok"))
        return res

    def read_odoo(self):
        """(folders {id: row}, docs {id: row}) with archived ones."""
        ctx = {"context": {"active_test": False}}
        folders = {r["id"]: r for r in self.case.odoo.call(
            self.fmodel, "search_read",
            [[("type", "=", "folder")] if self.fmodel == "documents.document" else []],
            dict(ctx, fields=["name", self.fparent, "active"]))}
        dom = [("type", "!=", "folder")] if self.fmodel == "documents.document" else []
        docs = {r["id"]: r for r in self.case.odoo.call(
            "documents.document", "search_read", [dom],
            dict(ctx, fields=["name", "folder_id", "active", "type", "attachment_id",
                              "checksum"]))}
        return folders, docs

    def snapshot(self):
        """The world as Odoo shows it, the cloud tree ({rel: sha or None}) and Odoo's
        visible tree in the same form, and the raw rows."""
        folders, docs = self.read_odoo()

        def m2o(v):
            return v[0] if v else 0

        def visible(fid):
            while fid:
                f = folders.get(fid)
                if f is None or not f["active"]:
                    return False
                fid = m2o(f[self.fparent])
            return True

        w = World()
        for i, f in folders.items():
            if visible(i):
                w.add_folder(i, f["name"], m2o(f[self.fparent]))
        for i, d in docs.items():
            if d["active"] and d["type"] == "binary" and d["attachment_id"] and \
                    m2o(d["folder_id"]) in w.folders:
                w.add_doc(i, d["name"], m2o(d["folder_id"]), d["checksum"])
        names = unique_names(w.folders, w.docs)
        for i in w.folders:
            w.folders[i]["cname"] = names[("f", i)]
        for i in w.docs:
            w.docs[i]["cname"] = names[("d", i)]
        odoo_tree = {w.path(i, True): None for i in w.folders}
        odoo_tree.update({w.doc_path(i, True): d["sha"] for i, d in w.docs.items()})
        cloud = {}
        for rel, (is_dir, _size, _tags) in self.case.dav.tree(
                "/%s/Documents" % self.case.root).items():
            if is_dir:
                cloud[rel] = None
            else:
                body = self.case.dav.get(self.cpath(rel))
                if body is None:
                    raise AssertionError("GET %s failed right after PROPFIND listed it" % rel)
                cloud[rel] = sha1(body)
        return w, cloud, odoo_tree, folders, docs

    # ---- passes ---------------------------------------------------------------------
    def run_pass(self, label):
        t0 = time.time()
        p = self.case.run_cmd("run", "--once", expect=None)
        summary = (p.stdout.strip().splitlines() or [""])[-1]
        self.outputs.append("%s: exit %d, %.2f s: %s%s" % (
            label, p.returncode, time.time() - t0, summary,
            ("\n  stderr: " + p.stderr.strip().replace("\n", "\n  stderr: "))
            if p.stderr.strip() else ""))
        if self.verbose:
            print("  " + self.outputs[-1], file=sys.stderr)
        if p.returncode != 0:
            raise AssertionError("invariant 4: odoosync run --once exited %d (%s)\nstdout:\n%s\n"
                                 "stderr:\n%s" % (p.returncode, label, p.stdout, p.stderr))

    def converge(self, label):
        for n in range(1, MAX_PASSES + 1):
            self.run_pass("%s pass %d" % (label, n))
            jobs = self.case.plan_json()
            if not jobs:
                return
            self.note("(%s: after pass %d the plan still has %d jobs: %s)" % (
                label, n, len(jobs), "; ".join("%s %s %s %s" % (
                    j.get("kind"), j.get("side"), j.get("path", ""), j.get("reason", ""))
                    for j in jobs)))
        raise AssertionError("invariant 4: %d passes after the last operation, the plan still "
                             "has jobs:\n  %s" % (MAX_PASSES, "\n  ".join(
                                 json.dumps(j) for j in jobs)))

    # ---- operations -----------------------------------------------------------------
    # self.touched: the folders and documents an operation of this round acted on (as its
    # subject, or a move's source or destination folder); self.alive / self.dead: the
    # contents that must be there / gone after the round; self.alive_f / dead_f: folder ids
    # that must be active / archived (or deleted).
    def free(self, key):
        return key not in self.touched

    def free_tree(self, w, fid):
        fs, ds = w.subtree(fid)
        return all(self.free(("f", f)) for f in fs) and all(self.free(("d", d)) for d in ds) \
            and all(self.free(("f", a)) for a in w.ancestors(w.folders[fid]["parent"]))

    def pick_doc(self, w):
        c = [i for i in sorted(w.docs) if i > 0 and self.free(("d", i))]
        return self.rng.choice(c) if c else None

    def pick_folder(self, w, nested=False, any_id=False):
        c = [i for i in sorted(w.folders) if (any_id or i > 0) and self.free(("f", i)) and
             (not nested or w.folders[i]["parent"] != 0)]
        return self.rng.choice(c) if c else None

    def drop(self, w, did):
        """Document did is deleted: its content is gone, unless another document (a
        user's copy) holds it too."""
        sha = w.docs.pop(did)["sha"]
        if not any(d["sha"] == sha for d in w.docs.values()):
            self.alive.discard(sha)
            self.dead.add(sha)

    def kill(self, w, fid):
        """fid and what it holds are deleted (a deletion's expectation)."""
        fs, ds = w.subtree(fid)
        for d in ds:
            self.drop(w, d)
        for f in fs:
            if f > 0:
                self.dead_f.add(f)
            self.touched.add(("f", f))
            del w.folders[f]

    def c_put(self, w):
        fid = self.pick_folder(w, any_id=True)
        if fid is None:
            return False
        name = self.file_name(w.names_in(fid))
        body = self.content()
        rel = w.path(fid, True) + "/" + name
        self.case.dav.put(self.cpath(rel), body)
        tid = w.tmp_id()
        w.add_doc(tid, name, fid, sha1(body), name)
        self.alive.add(sha1(body))
        self.touched |= {("f", fid), ("d", tid)}
        self.note("cloud PUT %s (%s)" % (rel, sha1(body)[:10]))
        return True

    def c_mkcol(self, w):
        fid = self.pick_folder(w, any_id=True)
        if fid is None:
            return False
        name = self.folder_name(w.names_in(fid))
        rel = w.path(fid, True) + "/" + name
        self.case.dav.mkcol(self.cpath(rel))
        nid = w.tmp_id()
        w.add_folder(nid, name, fid, name)
        self.touched |= {("f", fid), ("f", nid)}
        self.note("cloud MKCOL %s" % rel)
        for _ in range(self.rng.randint(0, 2)):
            fn = self.file_name(w.names_in(nid))
            body = self.content()
            self.case.dav.put(self.cpath(rel + "/" + fn), body)
            tid = w.tmp_id()
            w.add_doc(tid, fn, nid, sha1(body), fn)
            self.alive.add(sha1(body))
            self.touched.add(("d", tid))
            self.note("cloud PUT %s/%s (%s)" % (rel, fn, sha1(body)[:10]))
        return True

    def edit(self, w, did, side):
        old = w.docs[did]["sha"]
        rel = w.doc_path(did, side == "cloud")
        if side == "cloud":
            cur = self.case.dav.get(self.cpath(rel))
            body = self.content(not_len=len(cur))  # another size: another ETag
            self.case.dav.put(self.cpath(rel), body)
            self.note("cloud PUT over %s (%s)" % (rel, sha1(body)[:10]))
        else:
            body = self.content()
            self.odoo("write documents.document,%d datas (%s, %s)" % (did, rel, sha1(body)[:10]),
                      self.case.odoo.write, "documents.document", did, {"datas": b64(body)})
        w.docs[did]["sha"] = sha1(body)
        if not any(d["sha"] == old for d in w.docs.values()):  # (a copy keeps it)
            self.alive.discard(old)
            self.dead.add(old)
        self.alive.add(sha1(body))
        self.touched.add(("d", did))
        return sha1(body)

    def c_edit(self, w):
        did = self.pick_doc(w)
        if did is None:
            return False
        self.edit(w, did, "cloud")
        return True

    def o_edit(self, w):
        did = self.pick_doc(w)
        if did is None:
            return False
        self.edit(w, did, "odoo")
        return True

    def move_doc(self, w, side, rename):
        did = self.pick_doc(w)
        if did is None:
            return False
        src = w.docs[did]["cfolder" if side == "cloud" else "folder"]
        if rename:
            dst = src
        else:
            c = [i for i in sorted(w.folders) if i > 0 and i != src and self.free(("f", i))]
            if not c:
                return False
            dst = self.rng.choice(c)
        name = w.docs[did]["cname" if side == "cloud" else "name"]
        if rename or name.lower() in w.names_in(dst):
            name = self.file_name(w.names_in(dst) | {name.lower()})
        old = w.doc_path(did, side == "cloud")
        if side == "cloud":
            new = w.path(dst, True) + "/" + name
            self.case.dav.move(self.cpath(old), self.cpath(new))
            self.note("cloud MOVE %s -> %s" % (old, new))
        else:
            vals = {"name": name} if rename else {"folder_id": dst, "name": name}
            self.odoo("write documents.document,%d %r (was %s)" % (did, vals, old),
                      self.case.odoo.write, "documents.document", did, vals)
        if side == "cloud":
            w.docs[did].update(cname=name, cfolder=dst)
        else:
            w.docs[did].update(name=name, folder=dst)
        self.touched |= {("d", did), ("f", src), ("f", dst)}
        return True

    def c_rename(self, w):
        return self.move_doc(w, "cloud", True)

    def c_move(self, w):
        return self.move_doc(w, "cloud", False)

    def o_rename(self, w):
        return self.move_doc(w, "odoo", True)

    def o_move(self, w):
        return self.move_doc(w, "odoo", False)

    def delete_doc(self, w, side, did=None):
        did = self.pick_doc(w) if did is None else did
        if did is None:
            return False
        rel = w.doc_path(did, side == "cloud")
        if side == "cloud":
            self.case.dav.delete(self.cpath(rel))
            self.note("cloud DELETE %s" % rel)
        elif self.rng.random() < 0.5:
            self.odoo("archive documents.document,%d (%s)" % (did, rel), self.case.odoo.write,
                      "documents.document", did, {"active": False})
        else:
            self.odoo("unlink documents.document,%d (%s)" % (did, rel), self.case.odoo.unlink,
                      "documents.document", did)
        self.touched |= {("d", did), ("f", w.docs[did]["folder"])}
        self.drop(w, did)
        return True

    def c_delete(self, w):
        return self.delete_doc(w, "cloud")

    def o_delete(self, w):
        return self.delete_doc(w, "odoo")

    def c_copy(self, w):
        """A user's copy (WebDAV COPY: our tags go with it) of a file or a whole folder,
        into another folder: new documents and folders, the originals stay."""
        fid = None
        if self.rng.random() < 0.6:
            did = self.pick_doc(w)
            if did is None:
                return False
            src, items = w.doc_path(did, True), ([], [did])
            name = w.docs[did]["cname"]
        else:
            fid = self.pick_folder(w, nested=True)
            if fid is None or not self.free_tree(w, fid):
                return False
            src, items = w.path(fid, True), w.subtree(fid)
            name = w.folders[fid]["cname"]
        c = [i for i in sorted(w.folders) if i > 0 and self.free(("f", i)) and
             i not in items[0]]
        if not c:
            return False
        dst = self.rng.choice(c)
        if name.lower() in w.names_in(dst):
            name = (self.folder_name if items[0] else self.file_name)(
                w.names_in(dst) | {name.lower()})
        new = w.path(dst, True) + "/" + name
        st, _ = self.case.dav.req("COPY", self.cpath(src), headers={
            "Destination": self.case.dav.url.rstrip("/") + urllib.parse.quote(self.cpath(new)),
            "Overwrite": "F"})
        assert st == 201, "COPY %s -> %s: %d" % (src, new, st)
        self.note("cloud COPY %s%s -> %s (our tags go with it)" % (
            src, "/" if items[0] else "", new))
        ids = {}
        for f in items[0]:
            ids[f] = w.tmp_id()
        for f in items[0]:
            row = w.folders[f]
            nm = name if f == fid else row["cname"]
            w.add_folder(ids[f], nm, dst if f == fid else ids[row["cparent"]], nm)
        for d in items[1]:
            row = w.docs[d]
            fo = ids.get(row["cfolder"], dst)
            nm = name if not items[0] else row["cname"]
            w.add_doc(w.tmp_id(), nm, fo, row["sha"], nm)
            self.touched.add(("d", d))
        self.touched |= {("f", f) for f in items[0]} | {("f", dst)} | \
            {("f", f) for f in ids.values()}
        return True

    def o_create_doc(self, w):
        fid = self.pick_folder(w)
        if fid is None:
            return False
        name = self.file_name(w.names_in(fid))
        body = self.content()
        did = self.odoo("create documents.document %r in %s (%s)" % (name, w.path(fid),
                                                                    sha1(body)[:10]),
                        self.case.doc, name, fid, body)
        w.add_doc(did, name, fid, sha1(body))
        self.alive.add(sha1(body))
        self.touched |= {("f", fid), ("d", did)}
        return True

    def o_create_folder(self, w):
        if self.rng.random() < 0.25:
            fid = 0
        else:
            fid = self.pick_folder(w)
            if fid is None:
                return False
        name = self.folder_name(w.names_in(fid))
        nid = self.odoo("create folder %r in %r" % (name, w.path(fid) if fid else "/"),
                        self.case.folder, name, fid or False)
        w.add_folder(nid, name, fid)
        self.touched |= {("f", fid), ("f", nid)}
        return True

    def move_folder(self, w, side, rename):
        fid = self.pick_folder(w, nested=side == "cloud")
        if fid is None:
            return False
        src = w.folders[fid]["cparent" if side == "cloud" else "parent"]
        if rename:
            dst = src
        else:
            inside = set(w.subtree(fid)[0])
            c = [i for i in sorted(w.folders) if i > 0 and i not in inside and i != src and
                 self.free(("f", i))]
            if side == "odoo" and src != 0:
                c.append(0)  # to the top
            if not c:
                return False
            dst = self.rng.choice(c)
        name = w.folders[fid]["cname" if side == "cloud" else "name"]
        if rename or name.lower() in w.names_in(dst):
            name = self.folder_name(w.names_in(dst) | {name.lower()})
        old = w.path(fid, side == "cloud")
        if side == "cloud":
            new = w.path(dst, True) + "/" + name
            self.case.dav.move(self.cpath(old), self.cpath(new))
            self.note("cloud MOVE %s/ -> %s/" % (old, new))
        else:
            vals = {"name": name} if rename else {self.fparent: dst or False, "name": name}
            self.odoo("write %s,%d %r (was %s)" % (self.fmodel, fid, vals, old),
                      self.case.odoo.write, self.fmodel, fid, vals)
        if side == "cloud":
            w.folders[fid].update(cname=name, cparent=dst)
        else:
            w.folders[fid].update(name=name, parent=dst)
        self.touched |= {("f", fid), ("f", src), ("f", dst)}
        return True

    def c_rename_folder(self, w):
        return self.move_folder(w, "cloud", True)

    def c_move_folder(self, w):
        return self.move_folder(w, "cloud", False)

    def o_rename_folder(self, w):
        return self.move_folder(w, "odoo", True)

    def o_move_folder(self, w):
        return self.move_folder(w, "odoo", False)

    def pick_free_tree(self, w):
        c = [i for i in sorted(w.folders) if i > 0 and self.free_tree(w, i)]
        return self.rng.choice(c) if c else None

    def c_delete_folder(self, w):
        fid = self.pick_free_tree(w)
        if fid is None:
            return False
        rel = w.path(fid, True)
        self.case.dav.delete(self.cpath(rel))
        self.note("cloud DELETE %s/" % rel)
        self.touched.add(("f", w.folders[fid]["parent"]))
        self.kill(w, fid)
        return True

    def o_archive_folder(self, w):
        """A user archives a folder in Odoo with what it holds (its documents, then its
        sub-folders, deepest first)."""
        fid = self.pick_free_tree(w)
        if fid is None:
            return False
        fs, ds = w.subtree(fid)
        if ds:
            self.odoo("archive documents.document %r (in %s)" % (sorted(ds), w.path(fid)),
                      self.case.odoo.write, "documents.document", sorted(ds), {"active": False})
        for f in reversed(fs):
            self.odoo("archive %s,%d (%s)" % (self.fmodel, f, w.path(f)), self.case.odoo.write,
                      self.fmodel, f, {"active": False})
        self.touched.add(("f", w.folders[fid]["parent"]))
        self.kill(w, fid)
        return True

    # ---- both sides -----------------------------------------------------------------
    def b_edit_both(self, w):
        """A conflict: both versions are kept."""
        did = self.pick_doc(w)
        if did is None:
            return False
        self.edit(w, did, "odoo")
        a = w.docs[did]["sha"]
        self.edit(w, did, "cloud")
        self.alive.add(a)
        self.dead.discard(a)
        folder, name = w.docs[did]["folder"], w.docs[did]["name"]
        stem, dot, ext = name.rpartition(".")
        copy = ("%s (conflict, cloud version).%s" % (stem, ext)) if stem else \
            name + " (conflict, cloud version)"
        if copy.lower() in w.names_in(folder):
            return True  # (names are unique: cannot happen)
        w.add_doc(w.tmp_id(), copy, folder, w.docs[did]["sha"])
        w.docs[did]["sha"] = a
        return True

    def b_edit_delete(self, w):
        """An edit on one side, a delete on the other: the edit wins."""
        did = self.pick_doc(w)
        if did is None:
            return False
        edit_side = self.rng.choice(["cloud", "odoo"])
        s = self.edit(w, did, edit_side)
        row = dict(w.docs[did])
        self.delete_doc(w, "odoo" if edit_side == "cloud" else "cloud", did)
        w.docs[w.tmp_id()] = row  # it comes back (in the cloud's case as a new document)
        self.dead.discard(s)
        self.alive.add(s)
        return True

    def b_folder_delete_edit(self, w):
        """A folder deleted in the cloud while Odoo edits a document under it, or adds one:
        the folders down to that document stay, with it; the rest goes. Or the cloud moves
        a file out of it first: that file follows its move, the folder goes."""
        mode = self.rng.choice(["edit", "add", "move out"])
        c = [i for i in sorted(w.folders) if i > 0 and self.free_tree(w, i) and
             (mode == "add" or w.subtree(i)[1])]
        if not c:
            return False
        fid = self.rng.choice(c)
        fs, ds = w.subtree(fid)
        if mode == "move out":
            did = self.rng.choice(ds)
            outs = [i for i in sorted(w.folders) if i > 0 and i not in fs and
                    all(self.free(("f", a)) for a in w.ancestors(i))]
            if not outs:
                return False
            dst = self.rng.choice(outs)
            name = w.docs[did]["cname"]
            if name.lower() in w.names_in(dst):
                name = self.file_name(w.names_in(dst) | {name.lower()})
            old, new = w.doc_path(did, True), w.path(dst, True) + "/" + name
            self.case.dav.move(self.cpath(old), self.cpath(new))
            self.note("cloud MOVE %s -> %s (out of a folder deleted next)" % (old, new))
            row = dict(w.docs[did], name=name, cname=name, folder=dst, cfolder=dst)
            keep_f = []
            self.touched |= {("f", a) for a in w.ancestors(dst)}
        else:
            if mode == "edit":
                did = self.rng.choice(ds)
                s = self.edit(w, did, "odoo")
            else:
                g = self.rng.choice(fs)
                name = self.file_name(w.names_in(g))
                body = self.content()
                did = self.odoo("create documents.document %r in %s (%s; its folder is "
                                "deleted in the cloud next)" % (name, w.path(g), sha1(body)[:10]),
                                self.case.doc, name, g, body)
                w.add_doc(did, name, g, sha1(body))
                s = sha1(body)
            keep_f, x = [], w.docs[did]["folder"]
            while x != fid:
                keep_f.append(x)
                x = w.folders[x]["parent"]
            keep_f.append(fid)
            row = dict(w.docs[did])
        saved = {f: dict(w.folders[f]) for f in keep_f}
        s = row["sha"]
        rel = w.path(fid, True)
        self.case.dav.delete(self.cpath(rel))
        self.note("cloud DELETE %s/ (document %d: %s)" % (rel, did, mode))
        self.touched.add(("f", w.folders[fid]["parent"]))
        self.kill(w, fid)
        w.folders.update(saved)
        self.dead_f -= set(keep_f)
        self.alive_f |= set(keep_f)
        w.docs[did] = row
        self.touched.add(("d", did))
        self.dead.discard(s)
        self.alive.add(s)
        return True

    OPS = [(4, "c_put"), (1.5, "c_mkcol"), (3, "c_edit"), (2, "c_rename"), (2, "c_move"),
           (2, "c_delete"), (1, "c_rename_folder"), (1, "c_move_folder"), (1, "c_delete_folder"),
           (4, "o_create_doc"), (1.5, "o_create_folder"), (3, "o_edit"), (2, "o_rename"),
           (2, "o_move"), (2, "o_delete"), (1, "o_rename_folder"), (1, "o_move_folder"),
           (0.8, "o_archive_folder"), (1, "b_edit_both"), (1.5, "b_edit_delete"),
           (1, "b_folder_delete_edit"), (1, "c_copy")]

    def one_op(self, w):
        names = [n for _, n in self.OPS]
        weights = [x for x, _ in self.OPS]
        for _ in range(30):
            if getattr(self, self.rng.choices(names, weights)[0])(w):
                return
        self.note("(no operation applicable)")

    # ---- setup and checks -------------------------------------------------------------
    def populate(self):
        tops = [self.case.folder(n, False) for n in ("Finance", "HR", "Projects")]
        subs = [self.case.folder("Invoices", tops[0]), self.case.folder("Policies", tops[1]),
                self.case.folder("Alpha", tops[2])]
        subs.append(self.case.folder("2026", subs[0]))
        where = tops + subs
        for i in range(14):
            fid = where[i % len(where)]
            self.counter += 1
            body = self.content()
            self.case.doc("%s %d%s" % (STEMS[i % len(STEMS)], i, EXTS[i % len(EXTS)]), fid,
                          body)

    def check(self, label):
        w, cloud, odoo_tree, folders, _docs = self.snapshot()
        bad = []
        if cloud != odoo_tree:
            for k in sorted(set(cloud) | set(odoo_tree)):
                if cloud.get(k, "-") != odoo_tree.get(k, "-"):
                    bad.append("not equal: %r cloud %s, Odoo %s" % (
                        k, "missing" if k not in cloud else (cloud[k] or "folder")[:10],
                        "missing" if k not in odoo_tree else (odoo_tree[k] or "folder")[:10]))
        have = {s for s in cloud.values() if s} | {d["sha"] for d in w.docs.values()}
        for s in sorted(self.alive - have):
            bad.append("lost: content %s" % s[:10])
        for s in sorted(self.dead & have):
            bad.append("back: content %s was deleted by an operation" % s[:10])
        for s in sorted(have - self.alive):
            if s not in self.dead:
                bad.append("from nowhere: content %s" % s[:10])
        for f in sorted(self.dead_f):
            if f in folders and folders[f]["active"]:
                bad.append("folder %d (%r) should be archived" % (f, folders[f]["name"]))
        for f in sorted(self.alive_f):
            if f not in w.folders:
                bad.append("folder %d should be there" % f)
        if bad:
            raise AssertionError("invariants after %s:\n  %s\n\ncloud:\n  %s\nodoo:\n  %s" % (
                label, "\n  ".join(bad), "\n  ".join(
                    "%s %s" % (k, (v or "/")[:10]) for k, v in sorted(cloud.items())),
                "\n  ".join("%s %s" % (k, (v or "/")[:10]) for k, v in sorted(odoo_tree.items()))))
        return w

    def run(self):
        try:
            self.note("setup:")
            self.populate()
            self.alive, self.dead, self.dead_f, self.alive_f = set(), set(), set(), set()
            self.converge("setup")
            w = self.snapshot()[0]
            self.alive = {d["sha"] for d in w.docs.values()}
            w = self.check("setup")
            for r in range(1, self.case.ROUNDS + 1):
                self.touched = set()
                self.dead_f, self.alive_f = set(), set()
                for i in range(self.case.OPS):
                    self.note("round %d op %d:" % (r, i + 1))
                    self.one_op(w)
                self.converge("round %d" % r)
                w = self.check("round %d" % r)
                self.alive = {d["sha"] for d in w.docs.values()}
                self.dead = set()
        except Exception as ex:
            raise AssertionError(
                "DOCS CONVERGENCE FAILURE: seed %d, Odoo %d (%s)\n%s\n\noperation log (replay: "
                "DOCS_CONVERGENCE_SEED=%d python3 tests/e2e/test_convergence_docs.py %s):\n  "
                "%s\n\npasses:\n  %s" % (self.seed, self.case.VERSION, self.case.PROTOCOL, ex,
                                         self.seed, type(self.case).__name__,
                                         "\n  ".join(self.log), "\n  ".join(self.outputs))) \
                from None


def add_seeds(cls, seeds):
    one = os.environ.get("DOCS_CONVERGENCE_SEED")
    if one:
        seeds = [int(one)]
    for s in seeds:
        def test(self, s=s):
            self.configure_sync()
            self.run_seed(s)
        test.__name__ = "test_seed_%02d" % s
        setattr(cls, test.__name__, test)
    return cls


class DocsConvergence17(DocsConvergenceCase):
    VERSION = 17


class DocsConvergence19Json2(DocsConvergenceCase):
    VERSION = 19
    PROTOCOL = "json2"


add_seeds(DocsConvergence17, [0, 1])
add_seeds(DocsConvergence19Json2, [2, 3])

if __name__ == "__main__":
    unittest.main(verbosity=2)
