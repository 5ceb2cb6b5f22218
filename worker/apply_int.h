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

struct apply_conn {
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
    atomic_int weak_etags_stay; /* the server's weak ETags did not turn strong: do not wait */
};

/* --- shared helpers (apply.c) --------------------------------------------------------------- */

/*
 * Reads one attachment; *att is NULL (and 0 returned) when it is gone, and
 * also when it is not a document (att.h: a binary field's storage, an asset,
 * ...): a job never acts on those, *technical is then set.
 */
int apply_att_read_doc(struct odoo *o, long id, cJSON **att, int *technical, struct err *e);
/* The attachment's sha1; an empty one may have none, and is the sha1 of nothing. */
const char *apply_att_checksum(const cJSON *att);
/* obj[key] when it is a string, else NULL. */
const char *apply_jstr(const cJSON *obj, const char *key);
/* Both set and equal. */
int apply_streq(const char *a, const char *b);
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
