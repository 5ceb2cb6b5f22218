/*
 * plan: the brain of a pass. Compares the Odoo snapshot, the cloud snapshot
 * and the configuration (model.h) and produces the jobs (common/job.h) that
 * bring both sides in step, following docs/design.md "Rules" and "Identity".
 *
 * The planner is a pure function of its inputs: no I/O, no clock (the pass
 * timestamp comes in plan_input.version). Planning the same state twice
 * gives the same jobs with the same ids (job_make_id).
 *
 * Layout planned: <root>/<type folder>/<document folder>/<files>, and
 * <root>/<standalone folder>/<files> for attachments without a record.
 * Records that exist but match no type (odoo_snap.unmatched) are, under the
 * archive policy (plan_input.unmatched), the records of one more type folder,
 * the archive (<root>/<archive_folder>, tagged like a type folder with that
 * name, planned only when it exists or a record is archived), between the
 * types and the stand-alone folder: their folders move there from wherever
 * they are two levels under the root, and back when the record matches a
 * type again; one is created only for a record with attachments (its archived
 * folder was deleted in the cloud: its url attachments are then deleted, as
 * for any document folder deleted in the cloud).
 * Under the keep policy their folders stay where they are, and nothing is
 * planned for them.
 * Type folders are tagged {urn:odoosync}type = configured name, document
 * folders {urn:odoosync}record = "model,id", files and linked sub-folders
 * {urn:odoosync}attachment = id. A record lives under the first type that
 * matches it. Names are sanitised and made unique by names.h.
 *
 * Job order (plan.jobs): the list applies correctly when run in order, and
 * also when only the jobs of one lock keep their relative order (Kafka key =
 * lock), because every job that depends on another carries the same lock:
 *   1. type folders: rename back (cloud rename), create (mkdir, record NULL,
 *      name = type folder name); the stand-alone folder likewise
 *   2. document folders: rename / move (cloud rename, lock = the new path),
 *      create (mkdir, record = "model,id")
 *   3. files: uploads of binary attachments, deletes of cloud files whose
 *      attachment is gone
 *   4. Odoo side: attachment renames, relinks (new files, moved files,
 *      sub-folders, url updates after a folder move), attachment deletes
 *   5. document folders deleted (record deleted in Odoo)
 * mkdir creates missing parents, and a mkdir over an existing folder without
 * the tag adopts it (tags it), so type/document mkdirs commute.
 * A type folder that must be renamed back freezes its subtree for this pass
 * (only the rename is planned; the next pass plans its documents).
 * A record whose place is held by another document folder that leaves it in
 * the same pass (its record renamed or moved away, or a gone record's folder
 * deleted) is moved or created there in that pass, after the freeing job: the
 * freeing rename comes first in phase 2 (a gone folder's delete is planned in
 * phase 2, right before, instead of phase 5), and every job of the record
 * carries the lock of the freeing job, so the key keeps them in order (a
 * chain of freed names shares the first one's lock). A cycle of names (two or
 * more records swapping names) turns in one pass: the first record of the cycle
 * (record id order) moves its folder to a temporary name in the type folder it
 * is in, "~odoosync-swap <model,id>", the others move in turn, and it moves from
 * there to its place last; every job of the cycle carries the lock of its place.
 * A place that stays taken (by a file, by a folder that stays, or the temporary
 * names are taken too) leaves the record waiting, with a message.
 * An untagged folder at the place of a record whose tagged folder is elsewhere
 * (made by a user) is adopted and merged: mkdir (tags it), the old folder's
 * entries moved in one by one (rename, Overwrite: F; a name already there gets
 * a suffix, both kept), then the old folder deleted while empty; all under the
 * lock of the place, in phase 2; the record's attachments wait for the next pass
 * (they follow the moved files then). An empty second tagged folder of a live
 * record (a merge whose delete waited) is deleted while empty too (phase 5).
 * Workers never create a document folder on another job's behalf: an upload or
 * a merge move whose document folder is missing fails and is retried (its
 * mkdir or rename job, earlier under the same lock, makes and tags it).
 * When deletions are withheld (safety), the jobs waiting for a withheld delete
 * are withheld too.
 *
 * Every job: lock = the document folder path (the type folder path for type
 * folder jobs; the freeing job's lock for a record taking a freed place, see
 * above), version = created_at = plan_input.version, reason = the rule's
 * short name ("record renamed", "new cloud file", ...).
 *
 * Rules -> jobs (fields set besides kind, side, lock, version, reason, id):
 *   type folder missing / untagged   mkdir cloud   path, name = configured type name
 *   type folder renamed in cloud     rename cloud  path -> to, expect.etag
 *   record without folder            mkdir cloud   path, record
 *   record renamed / changed type,   rename cloud  path -> to, record, expect.etag
 *     folder renamed in cloud
 *   record matches no type (archive  rename cloud  path -> <root>/<archive folder>/<name>,
 *     policy; back when it matches)                record, expect.etag
 *   record deleted in Odoo           delete cloud  path, record, expect.etag
 *     (not when a live url attachment links into the folder: a message)
 *   untagged folder at the record's  mkdir cloud   path, record ("document folder adopted")
 *     place, its folder elsewhere    rename cloud  old/entry -> place/entry, record, expect.etag
 *                                    delete cloud  old, record, expect.checksum = JOB_SHA1_EMPTY
 *   names in a cycle                 rename cloud  path -> type/~odoosync-swap <record>, then
 *                                                  the others, then it -> its place
 *   empty second folder of a record  delete cloud  path, record, expect.checksum = JOB_SHA1_EMPTY
 *   binary attachment                upload cloud  att_id, path, url, name (file name),
 *                                                  record (NULL: stand-alone), size,
 *                                                  expect.checksum, expect.write_date
 *   attachment gone, file tagged     delete cloud  path, record, expect.etag
 *     and proven (below)
 *   new cloud file / sub-folder,     relink odoo   att_id 0, path, url, name, record
 *     or its tag is not proven
 *   attachment moved to another      rename cloud  path -> to, record, expect.etag
 *     record in Odoo (below)         relink odoo   att_id, path, url, name, record,
 *                                                  expect.write_date (lock: the new folder's)
 *   file moved to another document   relink odoo   att_id, path, url, name, record,
 *     (or url stale after a move,                  expect.write_date
 *     or file renamed)
 *   attachment name != file name     rename odoo   att_id, name, path, record,
 *     (url right)                                  expect.write_date
 *   file moved out / gone, folder    delete odoo   att_id, name, record,
 *     deleted                                      expect.write_date
 * A renamed file gives one relink (it carries the new name): an Odoo rename
 * plus a relink of one attachment would both expect the same write_date and
 * the second would be refused. Transient desktop files (names_is_transient)
 * are neither linked nor deleted.
 *
 * The previous pass (plan_input.prev, NULL when unknown) and this one
 * (plan.links, for the next): per attachment, the file it was linked to (path
 * after the pass, ETag, size, oc:fileid) and three records: the one the pass
 * left it with, the attachment's and the file's folder's as scanned; uploads
 * are named with path and size, files linked as new attachments by path (id 0).
 *   - A file tagged with an attachment that is gone is deleted only when it is
 *     the linked file: the same file id where both have one, else the same size
 *     and ETag at the same path or moved from a path where nothing is left (an
 *     upload: path and size; a sub-folder: its path). Else (a stale tag, a copy,
 *     no previous pass) it is linked as a new attachment, with a message.
 *   - A url attachment whose file sits in another record's folder: Odoo moved
 *     it when its record is neither the left one nor the scanned one, the cloud
 *     moved it when the file's folder is neither; Odoo alone (or a move planned
 *     last pass that did not happen): the file moves to the attachment's record
 *     (a source folder that moves this pass waits a pass); the cloud, both, or
 *     no link known: the attachment is re-linked to the file's folder.
 *
 * Delete safety: deletions are weighted (a folder counts 1 + the managed
 * entries in it). If the weight exceeds max_delete_share of what the pass
 * manages (type and document folders, the entries in them, and attachments
 * not yet in the cloud), or a snapshot is incomplete, every delete job is
 * dropped and plan.verdict says why, unless force_deletes. A type whose scan
 * failed (scan_ok = 0) gets no job under its folder at all, and a message.
 *
 * Names left out of the listing (cloud_snap.lo: a control character in the
 * name): the Odoo-side deletion of a url attachment whose url names a file
 * that was directly in such a folder (or anywhere below it, when the name left
 * out is a folder's) is withheld (counted in deletes_dropped, a message names
 * the folder; force_deletes overrides), since that name could be its file,
 * renamed; every other deletion goes ahead. A folder holding such a name is
 * never deleted as empty (a merged or second folder of a record).
 *
 * Ownership: struct plan owns its jobs and messages; plan_release() frees
 * them. Inputs are borrowed and not modified.
 */
#ifndef ODOOSYNC_PLAN_H
#define ODOOSYNC_PLAN_H

#include <stdio.h>

#include "err.h"
#include "job.h"
#include "model.h"

enum plan_verdict {
    PLAN_VERDICT_OK = 0,          /* everything planned (deletes included, maybe forced) */
    PLAN_VERDICT_DELETES_REFUSED, /* deletes over max_delete_share: none planned */
    PLAN_VERDICT_SCAN_INCOMPLETE  /* a snapshot is incomplete (no delete planned), or a type was
                                   * refused by Odoo (nothing under its folder) */
};

struct plan {
    struct job *jobs; /* in apply order, see above */
    size_t njobs, cap;
    size_t count[JOB_KIND_COUNT][2]; /* jobs per kind and side (JOB_SIDE_CLOUD / JOB_SIDE_ODOO) */
    enum plan_verdict verdict;
    size_t managed;         /* what the pass manages (the base of the delete share) */
    size_t delete_weight;   /* weighted deletions the rules asked for */
    size_t deletes_dropped; /* delete jobs withheld: by the safety, or for a name left out */
    size_t types_failed;    /* types with scan_ok = 0 (nothing planned under their folder) */
    char **messages;        /* human notes: withheld deletions, failed types, conflicts */
    size_t nmessages, cap_messages;
    struct snap_links links; /* what this pass saw linked, for the next one (plan_input.prev) */
};

void plan_init(struct plan *p);
void plan_release(struct plan *p);

/*
 * Plan one pass. On success returns 0 and fills *out (which must be
 * plan_init'ed and empty); a refused deletion is not an error (see
 * out->verdict). Fails with ERR_NOMEM, or ERR_INVALID for a bad input (no
 * root, a type without folder or model); *out is then released.
 */
int plan_build(const struct plan_input *in, const struct odoo_snap *os, const struct cloud_snap *cs,
               struct plan *out, struct err *e);

/* "ok", "deletes-refused", "scan-incomplete". */
const char *plan_verdict_name(enum plan_verdict v);

/*
 * Human output grouped by kind with counts, the verdict and the messages;
 * json: one job per line (job_encode), nothing else. 0 or a negative ERR_*.
 */
int plan_print(const struct plan *p, FILE *f, int json);

/*
 * url attachments <-> cloud paths: url = <url_base without trailing '/'> +
 * percent-encoded path (RFC 3986 unreserved characters and '/' kept).
 * plan_url_for_path: malloc'd url, NULL on ENOMEM.
 * plan_path_for_url: malloc'd decoded path, NULL when the url is not under
 * url_base (or is malformed, or on ENOMEM).
 */
char *plan_url_for_path(const char *url_base, const char *path);
char *plan_path_for_url(const char *url_base, const char *url);

#endif
