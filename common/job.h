/*
 * job: one intended change, the unit of work between producer and worker.
 *
 * The producer plans jobs; the transport (Kafka or the in-process queue)
 * carries them as JSON (schemas/job.schema.json); a worker applies them
 * idempotently. A job names the side it acts on, the document folder path
 * it locks, and what it expects to find there, so a late or repeated job
 * is refused by a condition instead of doing harm.
 *
 * Kinds and fields used (see docs/design.md "Jobs"):
 *   mkdir   cloud  path; record (tag "model,id", NULL for type/root folders)
 *   upload  cloud  att_id -> path; record; expect.checksum (sha1 of the content), size
 *   rename  cloud  path -> to (MOVE, Overwrite: F); expect.etag
 *           odoo   att_id gets name; expect.write_date
 *   relink  odoo   att_id (0 = create a url attachment) gets url, name, record; path is
 *                  the cloud file it points at
 *   (cloud mkdir, upload, rename and delete may carry doc: an entry of Odoo's Documents app,
 *   tagged {urn:odoosync}document = doc instead of record / attachment; an upload with doc
 *   leaves the attachment as it is: Documents keep their content in Odoo; a relink odoo
 *   with att_id 0 and doc creates the cloud entry at path in Odoo, in the Documents
 *   folder doc names, and tags the entry; a delete odoo with doc archives that document,
 *   guarded by expect.checksum, or that folder, only while it holds nothing active:
 *   expect.checksum = JOB_SHA1_EMPTY)
 *   delete  cloud  path; expect.etag (If-Match) when known; a folder with
 *                  expect.checksum = JOB_SHA1_EMPTY is deleted only while empty
 *                  (a folder emptied by the moves of a merge)
 *           odoo   att_id; expect.write_date when known
 * Any job may also carry what it touches for the sync log: att_id and name of
 * the attachment (a cloud rename or delete of a linked file), path (an Odoo
 * delete: the file its url named), fileid (the server's file id of the entry,
 * oc:fileid, when known; not part of the id).
 *
 * Ownership: every char * in a job is owned by the job (heap, or NULL) and
 * freed by job_release(). job_init() gives an empty job (all NULL / 0).
 */
#ifndef ODOOSYNC_JOB_H
#define ODOOSYNC_JOB_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define JOB_SCHEMA_VERSION 1

/* SHA-1 of nothing: on a folder's delete, "only while it is empty". */
#define JOB_SHA1_EMPTY "da39a3ee5e6b4b0d3255bfef95601890afd80709"

enum job_kind { JOB_MKDIR = 0, JOB_UPLOAD, JOB_RENAME, JOB_RELINK, JOB_DELETE, JOB_KIND_COUNT };
enum job_side { JOB_SIDE_CLOUD = 0, JOB_SIDE_ODOO };

struct job_expect {
    char *etag;       /* cloud: the ETag the target must still have (If-Match) */
    char *checksum;   /* sha1 hex of the content expected (upload, delete) */
    char *write_date; /* odoo: the attachment's write_date we planned from */
};

struct job {
    int schema; /* JOB_SCHEMA_VERSION */
    char *id;   /* stable id: same intended change -> same id (hex) */
    enum job_kind kind;
    enum job_side side;
    int attempt;          /* 0 for the first try; incremented by retry */
    long long created_at; /* ms since the epoch; RFC 3339 on the wire */
    long long version;    /* per-lock ordering: newer plans carry larger versions */
    char *lock;     /* document folder path locked while applying ("/Odoo/Quotations/SO019") */
    char *path;     /* cloud path acted on (absolute under the DAV base, '/'-separated) */
    char *to;       /* rename (cloud): the target path */
    char *record;   /* "model,id" of the document, e.g. "sale.order,19" */
    char *doc;      /* Odoo's Documents app: the folder or document this cloud entry is,
                       "documents.folder,3" / "documents.document,12" (the {urn:odoosync}document
                       tag); NULL for every other job (optional in mkdir, upload, rename and
                       delete on the cloud side) */
    long att_id;    /* ir.attachment id, 0 if none */
    char *name;     /* attachment name (odoo rename, relink) */
    char *url;      /* relink: the url the attachment must hold */
    char *fileid;   /* the server's id of the cloud entry acted on (oc:fileid), when known:
                       for the sync log, not part of the id */
    long long size; /* upload: content size in bytes, -1 if unknown */
    struct job_expect expect;
    char *reason; /* which rule planned it, for logs and plan output */
};

void job_init(struct job *j);
void job_release(struct job *j);
/* Deep copy; 0 or ERR_NOMEM. */
int job_copy(struct job *dst, const struct job *src);

const char *job_kind_name(enum job_kind k); /* "mkdir", ... */
int job_kind_parse(const char *s);          /* -1 if unknown */
const char *job_side_name(enum job_side s); /* "cloud" / "odoo" */

/*
 * Stable id: a hex digest of kind, side and the fields that define the intended
 * change (not attempt, created_at, version). Sets j->id (freeing any previous).
 */
int job_make_id(struct job *j);

/*
 * Lock scope (common/job_scope.c, docs/design.md "Order and locks"). A file job
 * acts on files inside its lock folder: it holds the folder shared and its
 * files exclusively, and runs alongside the other file jobs of that folder. A
 * folder job changes the folder itself (mkdir; a cloud rename or delete of the
 * folder, or of anything not strictly inside its lock): it holds the folder
 * exclusively, and runs after every earlier job of its lock and before every
 * later one. A file job: not a mkdir, path (and `to`, if any) strictly inside
 * lock; an Odoo job may have no path when it names an attachment. A mkdir of
 * Odoo's Documents app (doc set) strictly inside its lock is a file job too.
 */
int job_is_file_job(const struct job *j);
/*
 * Whether two jobs of one lock may run at the same time, in either order: both
 * file jobs of the same version (one plan) that touch no file or attachment in
 * common (a path and a path inside it count as one).
 */
int job_may_overlap(const struct job *a, const struct job *b);
/*
 * The files a file job locks exclusively: path and `to` when set, else
 * "att:<id>" written into buf. Returns how many (0..2) it put in files[].
 */
int job_lock_files(const struct job *j, const char *files[2], char *buf, size_t size);
/*
 * The folders a Documents file job (doc set) holds shared besides its lock: the
 * folder each of path and `to` lives in, when strictly inside the lock (the
 * mapping's base), each once, written into buf (size: room for both paths).
 * Returns how many (0..2); 0 for any other job.
 */
int job_lock_parents(const struct job *j, const char *parents[2], char *buf, size_t size);

/* Encode as one JSON object (no newline) appended to out. */
int job_encode(const struct job *j, struct buf *out, struct err *e);

/*
 * Decode and validate (same rules as schemas/job.schema.json). On failure
 * returns ERR_INVALID and e->msg names the JSON path of the fault, e.g.
 * "$.expect.etag: expected a string". root: the cloud root path every path
 * must stay under (e.g. "/Odoo"), or NULL to only check for "..".
 */
int job_decode(struct job *j, const char *data, size_t len, const char *root, struct err *e);

#endif
