/*
 * apply_int: what the pieces of the applier share, not part of the public API
 * (apply.h). apply.c owns the handle, the connections and the dispatch, and
 * the helpers below; each applier lives with its side: apply_cloud.c (mkdir,
 * rename and delete in the cloud), apply_upload.c (the upload), apply_odoo.c
 * (rename, relink and delete in Odoo).
 *
 * An applier runs in the calling worker thread on one borrowed struct
 * apply_conn, which no other thread touches meanwhile; the struct applier is
 * shared by all of them (its free list under mu, the rest read-only or
 * atomic). Each applier returns 0 with *res set (applied, already done,
 * skipped), or a negative code with e set.
 */
#ifndef ODOOSYNC_APPLY_INT_H
#define ODOOSYNC_APPLY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <cjson/cJSON.h>

#include "apply.h"
#include "link.h"

struct att_batch;
struct bulk_batch;

struct apply_conn {
    struct applier *a;
    struct dav *dav;
    struct odoo *odoo;
    struct apply_conn *next;
    /* what the job being applied learnt, for its event (reset by apply_job) */
    long made_att;                /* the attachment a relink created (or found created) */
    char *made_url;               /* the url an upload wrote, when not the job's (malloc'd) */
    char fileid[LINK_FILEID_MAX]; /* the file id of the entry it wrote, when known */
};

struct applier {
    struct apply_opts o;
    pthread_mutex_t mu;
    struct apply_conn *free_list;
    struct att_batch *batch;    /* apply_batch.c */
    struct bulk_batch *bulk;    /* apply_bulk.c */
    atomic_int weak_etags_stay; /* the server's weak ETags did not turn strong: do not wait */
};

/* --- shared helpers (apply.c) --------------------------------------------------------------- */

/* Uploads of at most this many bytes get their content with the attachment's record. */
#define APPLY_SMALL_CONTENT (64 * 1024)

/*
 * Reads one attachment; *att is NULL (and 0 returned) when it is gone, and
 * also when it is not a document (att.h: a binary field's storage, an asset,
 * ...): a job never acts on those, *technical is then set. with_datas: its
 * content too (base64 "datas"). The read is shared with the jobs reading at
 * the same time (apply_batch.c).
 */
int apply_att_read_doc(struct apply_conn *c, long id, int with_datas, cJSON **att, int *technical,
                       struct err *e);

/*
 * apply_bulk.c: the small new files of uploads running at the same time, in one Nextcloud
 * bulk request. apply_bulk_put: what a create-only PUT of path (with OC-Checksum sha1_hex,
 * and X-OC-Mtime mtime when > 0) would answer (0 written, r its etag and file id; ERR_NOTFOUND no
 * folder; the 412 codes when it exists; ...), or APPLY_BULK_ALONE when the caller makes that PUT
 * itself (its name is taken, no bulk endpoint, ...).
 */
#define APPLY_BULK_ALONE 1
int apply_bulk_new(struct bulk_batch **out);
void apply_bulk_free(struct bulk_batch *b);
/* Whether a file of len bytes may go in a bulk request on c's server (asked before its
 * content is read into memory: most servers have no bulk endpoint). */
int apply_bulk_usable(struct apply_conn *c, long long len);
int apply_bulk_put(struct apply_conn *c, const char *path, const char *data, size_t len,
                   const char *sha1_hex, long long mtime, struct dav_result *r, struct err *e);
void apply_bulk_stats(struct bulk_batch *b, long *posts, long *files, long *alone);

/* apply_batch.c: the reads of jobs running at the same time, in one call */
int apply_batch_new(struct att_batch **out);
void apply_batch_free(struct att_batch *b);
/* One attachment (fields of apply_att_read_doc); *att NULL when it is gone. */
int apply_att_read(struct apply_conn *c, long id, int with_datas, cJSON **att, struct err *e);
/* odoo_unlink of one attachment, in one call with those of the other jobs. */
int apply_att_unlink(struct apply_conn *c, long id, struct err *e);
/* Turn attachment id into a `url` one holding url, its content dropped (shared, like the
 * unlink: a gone or forbidden attachment is this job's error alone). */
int apply_att_to_url(struct apply_conn *c, long id, const char *url, struct err *e);
/* The attachment's sha1; an empty one may have none, and is the sha1 of nothing. */
const char *apply_att_checksum(const cJSON *att);
/* obj[key] when it is a string, else NULL. */
const char *apply_jstr(const cJSON *obj, const char *key);
/* Both set and equal. */
int apply_streq(const char *a, const char *b);
/* Odoo's Documents app: whether the cloud entry st is still job j's folder or document: it
 * carries j->doc, or no tag at all while its file id is j->fileid (the plan told it by its
 * file id: its tag did not follow a move, producer/docs_ident.h). */
int apply_is_doc(const struct dav_stat *st, const struct job *j);
/* The before_write test seam (apply_opts), when set: what = "put", "move" or "delete". */
void apply_before_write(const struct applier *a, const struct job *j, const char *what);
/* Set (value) or remove (NULL) our property name on the cloud entry at path. */
int apply_tag(struct dav *d, const char *path, const char *name, const char *value, struct err *e);

/* --- the appliers ------------------------------------------------------------------------- */

/* apply_cloud.c */
int apply_ensure_parent(struct apply_conn *c, const char *path, struct err *e);
int apply_mkdir(struct apply_conn *c, const struct job *j, enum job_result *res, struct err *e);
int apply_rename_cloud(struct applier *a, struct apply_conn *c, const struct job *j,
                       enum job_result *res, struct err *e);
int apply_delete_cloud(struct applier *a, struct apply_conn *c, const struct job *j,
                       enum job_result *res, struct err *e);
/* apply_upload.c */
int apply_upload(struct applier *a, struct apply_conn *c, const struct job *j, enum job_result *res,
                 struct err *e);
/* apply_upload.c: a Documents file's {urn:odoosync}synced = "<sha1> <etag>" (etag NULL: now) */
int apply_mark_synced(struct apply_conn *c, const char *path, const char *sha1, const char *etag,
                      struct err *e);
/* apply_docs.c: a new cloud entry of a Documents mapping becomes a Documents record */
int apply_docs_create(struct apply_conn *c, const struct job *j, enum job_result *res,
                      struct err *e);
int apply_docs_update(struct apply_conn *c, const struct job *j, enum job_result *res,
                      struct err *e);
int apply_docs_move(struct apply_conn *c, const struct job *j, enum job_result *res, struct err *e);
int apply_docs_archive(struct apply_conn *c, const struct job *j, enum job_result *res,
                       struct err *e);
/* apply_links.c: a url attachment links into folder (or below) by the server's web link
 * (link.h: by a file id of an entry there): its id in *att_id, else 0. */
int apply_linked_by_id(const struct applier *a, struct apply_conn *c, const char *folder,
                       long *att_id, struct err *e);
/* apply_odoo.c */
int apply_rename_odoo(struct apply_conn *c, const struct job *j, enum job_result *res,
                      struct err *e);
int apply_relink(struct apply_conn *c, const struct job *j, enum job_result *res, struct err *e);
int apply_delete_odoo(struct apply_conn *c, const struct job *j, enum job_result *res,
                      struct err *e);

#endif
