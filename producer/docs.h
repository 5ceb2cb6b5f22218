/*
 * docs: Odoo's Documents app (Enterprise) as plain data: which model shape the server
 * has, and its folder tree and files, read without content.
 *
 * Two shapes (detected with fields_get on documents.document, never by the version
 * number, so a customised or back-ported server is read by what it has):
 *   DOCS_SHAPE_FOLDER_MODEL  Odoo 16 and 17: folders are `documents.folder`
 *                            (parent_folder_id), a document's `folder_id` points there
 *                            (required); `type` is url / binary / empty ("Request").
 *   DOCS_SHAPE_FOLDER_TYPE   Odoo 18 and 19: folders are `documents.document` with
 *                            type = 'folder'; `folder_id` points at the parent
 *                            document (optional: NULL is the root).
 * fields_get on documents.document answering that the model does not exist (a UserError
 * on JSON-RPC, 404 on JSON-2) means the app is not installed: DOCS_SHAPE_NONE, no error.
 *
 * docs_scan() reads every folder and document the user can see, archived ones included
 * (a domain naming `active` turns Odoo's active_test off), in id order by keyset pages:
 * folders (id, name, parent, active), documents (id, name, folder, type, attachment,
 * checksum, size, mimetype, active, write_date). Only documents of type binary with an
 * attachment are files to sync; url documents and requests (16/17 `empty`, 18/19 binary
 * without attachment) are counted, to be listed in the log, not synced.
 *
 * docs_resolve() turns a configured mapping (cfg.h, struct cfg_docmap) into a folder id:
 * "*" is 0 (the top: every top-level folder), a path of names is looked up from the
 * top-level folders (names compared exactly, like Odoo; two active siblings with the
 * same name make the path ambiguous: an error naming both ids), "#<id>" must be a
 * folder the scan saw. Archived folders are not mapped.
 *
 * Ownership: a snapshot owns its strings; docs_snapshot_release() frees them.
 */
#ifndef ODOOSYNC_DOCS_H
#define ODOOSYNC_DOCS_H

#include <stddef.h>

#include "cfg.h"
#include "err.h"
#include "odoo.h"

enum docs_shape { DOCS_SHAPE_NONE = 0, DOCS_SHAPE_FOLDER_MODEL, DOCS_SHAPE_FOLDER_TYPE };

struct docs_folder {
    long id;
    long parent; /* 0: a top-level folder */
    char *name;
    int active;
    char write_date[20]; /* "YYYY-MM-DD HH:MM:SS" */
};

enum docs_kind { DOCS_FILE = 0, DOCS_URL, DOCS_REQUEST };

struct docs_file {
    long id;
    long folder; /* 0: at the root (18/19 only) */
    char *name;
    int kind;    /* enum docs_kind */
    long att_id; /* DOCS_FILE: its ir.attachment */
    char checksum[41];
    long long size;
    int active;
    char write_date[20]; /* "YYYY-MM-DD HH:MM:SS" */
};

struct docs_snapshot {
    enum docs_shape shape;
    struct docs_folder *folders; /* id order */
    size_t nfolders;
    struct docs_file *files; /* id order */
    size_t nfiles;
};

/* "Odoo 16/17 (documents.folder)", "Odoo 18/19 (folders are documents)", "not installed". */
const char *docs_shape_name(enum docs_shape s);

/* fields_get on documents.document -> *shape. ERR_* from Odoo otherwise (an AccessError is
 * ERR_ACCESS: the user is no Documents user). */
int docs_detect_shape(struct odoo *o, enum docs_shape *shape, struct err *e);

/* Read the whole tree (see above) into *out (zeroed first). shape must not be NONE. */
int docs_scan(struct odoo *o, enum docs_shape shape, struct docs_snapshot *out, struct err *e);
void docs_snapshot_release(struct docs_snapshot *s);

/* The folder with this id, or NULL. */
const struct docs_folder *docs_folder_by_id(const struct docs_snapshot *s, long id);

/* Mapping i of c -> *folder_id (0 for "*"). ERR_NOTFOUND naming the missing part (and the
 * names there are, to help) or for an ambiguous name (two siblings called so). */
int docs_resolve(const struct cfg *c, const struct docs_snapshot *s, size_t i, long *folder_id,
                 struct err *e);

/* What lies under a folder (0: everything), recursively, active entries only. */
struct docs_count {
    size_t folders, files, urls, requests;
};
void docs_count_under(const struct docs_snapshot *s, long folder, struct docs_count *out);

#endif
