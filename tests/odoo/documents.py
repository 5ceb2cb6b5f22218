"""Odoo's Documents app (Enterprise) for the emulator: its two model shapes.

Documents is not in Odoo's public code, so no real server runs on the test machines.
This module gives emulator.py the models and the few behaviours odoosync relies on, for
the two shapes the app has had (README.md, "Documents", says what is known and what is
a guess):

  16 and 17  folders are `documents.folder` (a "workspace": name, parent_folder_id,
             active, sequence, display name "Parent / Child"); documents are
             `documents.document` with `folder_id` -> documents.folder (required,
             ondelete restrict) and `type` url / binary / empty ("Request"), computed
             from attachment_id and url.
  18 and 19  one model: `documents.document` with `type` folder / binary / url (default
             binary) and `folder_id` -> documents.document (the parent folder, ondelete
             set null, NULL = the root); a folder is a document of type folder.

Both: `attachment_id` -> ir.attachment (cascade; its res_model/res_id name the
document), `datas` / `mimetype` related to it (writable: they write the attachment or
create it), `checksum`, `file_size` read from it, `url`, `owner_id` (the creating user),
`active` (archived documents are hidden from searches like every `active` model).

emulator.py imports this module and calls: models(version, Field, Model) from
build_models(); after_create() / before_write() / after_write() from the ORM
operations. This module never imports emulator.py (run as a script, it is `__main__`;
a second import would make a second set of exception classes): the callers pass it.
"""

FOLDER_MODEL_VERSIONS = (16, 17)  # documents.folder exists; from 18, folders are documents
GROUPS = "\t- Documents / User\n\t- Documents / Administrator"


def has_folder_model(version):
    return version in FOLDER_MODEL_VERSIONS


def models(version, F, Model):
    """The Documents models of this version (a list of emulator Model)."""
    doc_fields = {
        "name": F("char", "Name"),
        "folder_id": None,  # below
        "attachment_id": F("many2one", "Attachment", comodel="ir.attachment",
                           ondelete="cascade"),
        "attachment_name": F("char", "Attachment Name", store=False,
                             related="attachment_id.name"),
        "datas": F("binary", "File Content (base64)", store=False,
                   related="attachment_id.datas"),
        "mimetype": F("char", "Mime Type", store=False, related="attachment_id.mimetype"),
        "file_size": F("integer", "File Size", store=False, readonly=True,
                       related="attachment_id.file_size"),
        "checksum": F("char", "Checksum/SHA1", store=False, readonly=True,
                      related="attachment_id.checksum"),
        "url": F("char", "URL"),
        "owner_id": F("many2one", "Owner", comodel="res.users"),
        "partner_id": F("many2one", "Contact", comodel="res.partner"),
        "active": F("boolean", "Active", default=True),
    }
    if has_folder_model(version):
        doc_fields["type"] = F("selection", "Type", default="empty", selection=[
            ["url", "URL"], ["binary", "File"], ["empty", "Request"]])
        doc_fields["folder_id"] = F("many2one", "Workspace", comodel="documents.folder",
                                    required=True, ondelete="restrict")
        folder = Model("documents.folder", "Documents Workspace", {
            "name": F("char", "Name", required=True),
            "parent_folder_id": F("many2one", "Parent Workspace", comodel="documents.folder",
                                  ondelete="cascade"),
            "children_folder_ids": F("one2many", "Sub workspaces", comodel="documents.folder",
                                     inverse="parent_folder_id", store=False),
            "document_ids": F("one2many", "Documents", comodel="documents.document",
                              inverse="folder_id", store=False),
            "description": F("html", "Description"),
            "sequence": F("integer", "Sequence", default=10),
            "active": F("boolean", "Active", default=True),
        }, "sequence, create_date DESC, id" if version >= 17 else "sequence", GROUPS,
            parent_name="parent_folder_id")
        document = Model("documents.document", "Document", doc_fields, "id desc", GROUPS)
        return [folder, document]
    doc_fields["type"] = F("selection", "Type", required=True, default="binary", selection=[
        ["url", "URL"], ["binary", "File"], ["folder", "Folder"]])
    doc_fields["folder_id"] = F("many2one", "Folder", comodel="documents.document",
                                ondelete="set null")
    doc_fields["children_ids"] = F("one2many", "Children", comodel="documents.document",
                                   inverse="folder_id", store=False)
    doc_fields["sequence"] = F("integer", "Sequence", default=10)
    doc_fields["access_internal"] = F("selection", "Internal Users Rights", default="none",
                                      selection=[["view", "Viewer"], ["edit", "Editor"],
                                                 ["none", "None"]])
    order = "sequence, id desc" if version >= 19 else "id desc"
    return [Model("documents.document", "Document", doc_fields, order, GROUPS,
                  parent_name="folder_id")]


def _rows(env, table, ids, cols):
    if not ids:
        return []
    return env.db.execute('SELECT id, %s FROM "%s" WHERE id IN (%s)' % (
        ", ".join('"%s"' % c for c in cols), table, ",".join("?" * len(ids))),
        list(ids)).fetchall()


def before_write(E, env, model, ids, row):
    """Checks of a write (row: the column values about to be written)."""
    if model.name == "documents.folder" and row.get("parent_folder_id"):
        if row["parent_folder_id"] in E.Compiler(env).closure(model, ids, down=True):
            # documents.folder._parent_store_update
            raise E.UserError("A workspace cannot have one of his child defined as Parent "
                              "Workspace in order to avoid a recursion issue.")
    if model.name == "documents.document" and row.get("folder_id") and model.parent_name:
        if row["folder_id"] in ids:
            # the SQL constraint check(folder_id <> id)
            raise E.ValidationError("A folder cannot be included in itself")
        if row["folder_id"] in E.Compiler(env).closure(model, ids, down=True):
            raise E.UserError("Recursion Detected.")


def after_create(E, env, model, ids):
    if model.name == "documents.document":
        env.db.execute('UPDATE documents_document SET owner_id=? WHERE owner_id IS NULL AND '
                       'id IN (%s)' % ",".join("?" * len(ids)), [env.uid] + list(ids))
    after_write(E, env, model, ids, None)


def after_write(E, env, model, ids, vals):
    """Stored computed fields: 16/17's document type, 17's folder display names; a
    document's name is its attachment's (the name's inverse writes it)."""
    if model.name == "documents.document" and vals and "name" in vals:
        att = env.odoo.models["ir.attachment"]
        for rid, aid in _rows(env, "documents_document", ids, ["attachment_id"]):
            if aid:
                E.write_records(env.sudo(), att, [aid], {"name": vals["name"]})
    if model.name == "documents.document" and "empty" in [
            s[0] for s in model.fields["type"].selection]:
        # always: the caller's vals lost their related fields (datas) already
        for rid, att, url in _rows(env, "documents_document", ids, ["attachment_id", "url"]):
            t = "binary" if att else ("url" if url else "empty")
            env.db.execute("UPDATE documents_document SET type=? WHERE id=?", (t, rid))
    if model.name == "documents.folder" and (vals is None or
                                             {"name", "parent_folder_id"} & set(vals)):
        for fid in E.Compiler(env).closure(model, ids, down=True):
            env.db.execute("UPDATE documents_folder SET display_name=? WHERE id=?",
                           (folder_display_name(env, fid), fid))


def folder_display_name(env, fid):
    """documents.folder._compute_display_name (17, hierarchical_naming): "Parent / Name",
    the parent by its own name only (one level)."""
    name, parent = env.db.execute("SELECT name, parent_folder_id FROM documents_folder "
                                  "WHERE id=?", (fid,)).fetchone()
    if not parent:
        return name
    pname = env.db.execute("SELECT name FROM documents_folder WHERE id=?", (parent,)).fetchone()
    return "%s / %s" % (pname[0] if pname else "", name)
