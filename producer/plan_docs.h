/*
 * plan_docs: the planner of Odoo's Documents app (docs.h), from Odoo to the cloud.
 *
 * Run after plan_build() on the same pass, it appends its jobs to the plan. Per enabled
 * mapping whose direction is not from-cloud (cfg.h, struct cfg_docmap), with base =
 * /<root>/<the mapping's cloud folder>:
 *   - the mapped folder is the base (for "*", every top-level folder lies in the base);
 *     its active sub-folders become cloud folders and its active documents with a file
 *     (type binary with an attachment) cloud files, at <parent's path>/<name>, names made
 *     safe and unique per folder by names.h (sub-folders first, then files, each in id
 *     order: the same state gives the same names);
 *   - identity is the tag {urn:odoosync}document = "documents.folder,<id>" (16/17's
 *     folders), "documents.document,<id>" (18/19's folders, and every document): a tagged
 *     entry found anywhere under the root is the folder or document, so a rename or a
 *     move in Odoo is a cloud rename (parents before children; a child's path follows
 *     its parent's move), never a delete and a create. Where the server gives file ids,
 *     docs_ident.h has resolved the tags by them first: an entry told by its file id
 *     (doc_retag) at its place is tagged again (a mkdir or a create-only upload that
 *     adopts it), and a file whose document is gone is deleted only when the previous
 *     pass saw its tag on that file id (else it becomes a document of its own);
 *   - missing: a mkdir (tags it; adopts an untagged folder at the place), or an upload
 *     (the attachment's content, streamed, create-only, tagged; the attachment stays as
 *     it is: Documents keep their content in Odoo);
 *   - a tagged entry under a base whose folder or document is gone, archived, or no
 *     longer mapped: deleted in the cloud, files by their ETag, folders only while empty
 *     (after their tagged files; a file the cloud added keeps the folder); never when a
 *     scan is incomplete, and counted for the delete guard with what the mappings hold;
 *   - a place taken by something else (a user's file or folder) leaves the entry
 *     waiting, with a message; url documents and requests are counted in a message, not
 *     synced.
 * From the cloud (mappings both and from-cloud): an untagged, non-transient entry directly
 * in a cloud folder that is a synced Documents folder where the snapshot saw it becomes a
 * folder or document there (relink odoo, att_id 0, doc = that folder: apply_docs.c creates
 * it and tags the entry; a new folder's content follows on the next pass). Untagged
 * entries directly in a "*" base have no Documents folder to go into: a message. Entries
 * of one kind carrying the same tag (a WebDAV COPY takes dead properties along): the one
 * whose ETag is still its last sync's (else the one where the previous pass saw the tag,
 * else the first by path) is the record's, the others are copies, new entries (their
 * relink carries record = the tag they replace). A
 * from-cloud mapping changes nothing in the cloud: its base is the mapped folder, tagged
 * or not, and only folders tagged where Odoo has them are walked.
 * Every job carries doc and the lock of its mapping's base, so a mapping's jobs apply in
 * plan order (the folder before what goes in it).
 *
 * Edits: a synced file carries {urn:odoosync}synced = "<sha1> <etag>" (set by the
 * workers after each copy). The document's sha1 moved: an upload replacing exactly the
 * ETag seen (expect.etag); the file's ETag moved: a relink odoo with doc and att_id > 0
 * (Odoo gets the cloud's bytes, only while its content is still expect.checksum). Both
 * moved: a conflict, both kept: the cloud's version becomes a new document in the same
 * folder named "<stem> (conflict, cloud version).<ext>" (relink odoo, att_id 0, record =
 * the tag it replaces), and the next passes give it that name in the cloud and bring
 * Odoo's version back to the place. A file whose document is gone from Odoo but which the
 * cloud edited is not deleted: it becomes a new document (the edit wins); a file the cloud
 * deleted whose document Odoo edited is uploaded again (as any missing file).
 *
 * Deleted in the cloud: a document with a file whose tagged cloud file the previous pass
 * saw (prev: the scan state's "docs"), synced at the content Odoo still has, is
 * archived in Odoo (delete odoo with doc: only while its content is still that one); with
 * no previous listing, or content edited in Odoo since, the file is uploaded again.
 *
 * Renamed or moved in the cloud: a file found elsewhere than the previous pass saw it
 * (prev), while Odoo's place for it is still that one, is followed in Odoo (rename odoo
 * with doc: name = its cloud name, record = the tag of the active Documents folder it is
 * in now; only while the document's write_date is the one planned from). Odoo moved it
 * too, no previous pass, or a folder that is not a synced Documents folder: Odoo's place
 * wins (the file is moved back).
 *
 * A folder renamed or moved in the cloud is followed the same way (rename odoo with doc,
 * att_id 0, expect.write_date = the folder's), and its content is then looked for where
 * the cloud put it.
 *
 * A folder deleted in the cloud (not a mapping's own: that one is made again), on a
 * mapping that changes Odoo, with both scans complete: when the previous pass listed it
 * and everything active under it in Odoo is gone from the cloud as that pass saw it (its
 * sub-folders likewise, its files deleted at the content Odoo still has), it is archived
 * in Odoo with all it holds (delete odoo with doc: documents first, url documents and
 * requests included, then sub-folders, then the folder, each folder only while it holds
 * nothing active: expect.checksum = JOB_SHA1_EMPTY); a file the cloud moved out of it
 * first, into another synced Documents folder, follows its move (as above). A document
 * edited or added in Odoo since, or a sub-folder moved elsewhere in the cloud, keeps it:
 * the folder is made again and what the cloud deleted in it is archived piece by piece.
 * Counted by the delete guard.
 */
#ifndef ODOOSYNC_PLAN_DOCS_H
#define ODOOSYNC_PLAN_DOCS_H

#include "cfg.h"
#include "docs.h"
#include "err.h"
#include "model.h"
#include "plan.h"

/* A Documents file the previous pass listed in the cloud (from the scan state). */
struct plan_docs_prev {
    char *tag;    /* "documents.document,12" */
    char *synced; /* its {urn:odoosync}synced then, may be NULL */
    char *path;   /* where it was, may be NULL */
    char *fileid; /* its oc:fileid then, NULL where the server has none */
};

struct plan_docs_input {
    const struct cfg *cfg;
    const struct docs_snapshot *ds; /* complete = 1 only when every page was read */
    int ds_complete;
    const struct cloud_snap *cs;
    const struct plan_docs_prev *prev; /* sorted by tag; NULL / 0 when unknown */
    size_t nprev;
    long long version; /* as plan_input.version */
    int force_deletes;
    long long max_upload; /* the largest file Odoo's JSON API takes in one request
                             (odoo_stream_max): a larger one is a message, not a job; 0 = any */
};

/* Append the Documents jobs and messages to p (built by plan_build). 0 or ERR_NOMEM;
 * a mapping that cannot be resolved is a message, not an error (its jobs wait). */
int plan_docs(const struct plan_docs_input *in, struct plan *p, struct err *e);

#endif
