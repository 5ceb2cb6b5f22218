/*
 * state: what a pass remembers for the next one, so that an incremental
 * scan (scan_inc.c) reads little when little changed. Nothing here is the
 * truth: losing the state (a missing, corrupt or foreign file) only costs a
 * full pass, and the scans never trust a part whose key does not match the
 * configuration of this pass.
 *
 *   odoo_key    "<odoo url>|<database>|<login>": another server, database or
 *               user (other access rights) invalidates everything Odoo.
 *   watermark   "YYYY-MM-DD HH:MM:SS", a write_date Odoo had reached when
 *               the previous pass started its scan: every change committed
 *               after that pass read a row has write_date >= watermark minus
 *               the longest transaction (Odoo stamps a transaction's start), so
 *               the scan re-reads from watermark - SCAN_WM_OVERLAP_S (10 min).
 *   full_at     Unix seconds of the last full Odoo scan (a periodic full scan
 *               bounds what a display name computed from other records could
 *               hide from write_date).
 *   types       per document type, keyed by "folder\nmodel\ndomain" (so an
 *               edited domain starts over): the matching records, id order.
 *   atts        the attachment rows of the last pass (struct snap_att, no
 *               content), sorted by id.
 *   cloud_key   "<cloud url>|<user>|<root>".
 *   dirs        per cloud folder path: its ETag and its children (Nextcloud /
 *               ownCloud only, where a folder's ETag changes when anything
 *               below it changes), sorted by path.
 *   folders     document folders told by their file id while their record tag is
 *               lost on the server (ident.h): file id and record.
 *   links       what the pass saw linked (struct snap_link, from the plan), by
 *               attachment id: the planner's view of the previous pass
 *               (plan_input.prev), trusted only when both keys match. Losing
 *               them costs no data: an unproven tag is never deleted on.
 *
 * Backends: a JSON file (local mode), written atomically (a temporary file
 * in the same directory, fsync, rename), so a crash leaves the old or the
 * new state, never half of one; or Redis (cluster mode: `produce` runs as a
 * CronJob whose pod keeps no file), the same JSON in one string key
 * <prefix>state:<sha1 of the Odoo and cloud keys> (lock_blob_get/set), so
 * two deployments sharing a Redis never read each other's state.
 *
 * Ownership: struct scan_state owns every string and array in it;
 * state_init() then state_release(). Adders copy their arguments.
 */
#ifndef ODOOSYNC_STATE_H
#define ODOOSYNC_STATE_H

#include <stddef.h>

#include "cfg.h"
#include "err.h"
#include "log.h"
#include "model.h"
#include "sha.h"

#define STATE_VERSION 2 /* 2: cloud children carry oc:fileid; links */

struct state_rec {
    long id;
    char *name; /* display_name, NULL for Odoo's False */
};

struct state_type {
    char *key;
    struct state_rec *v; /* id order */
    size_t n, cap;
};

struct state_dir {
    char *path;              /* "/Odoo/Quotations" */
    char *etag;              /* the folder's ETag when it was listed */
    struct snap_entry *kids; /* its direct children, as listed */
    size_t n, cap;
    int dropped; /* state_drop_dir(): ignored by lookups and not saved */
};

/* A document folder told by its file id while its record tag is lost (ident.h). */
struct state_folder {
    char *fileid;
    char *record; /* "model,id" */
};

/* A file of Odoo's Documents app the pass saw in the cloud, with its {urn:odoosync}synced
 * mark (plan_docs.h: a file gone the next time was deleted in the cloud). */
struct state_doc {
    char *tag;    /* "documents.document,12" */
    char *synced; /* "<sha1> <etag>", may be NULL */
    char *path;   /* where the pass saw it (or left it), may be NULL */
    char *fileid; /* its oc:fileid then, NULL where the server has none */
};

struct scan_state {
    char *odoo_key;
    char *watermark;
    long long full_at;
    struct state_type *types;
    size_t ntypes, cap_types;
    int have_atts; /* atts is meaningful (even when empty) */
    struct snap_att *atts;
    size_t natts, cap_atts;
    char *cloud_key;
    struct state_dir *dirs;
    size_t ndirs, cap_dirs;
    struct snap_links links;
    struct state_folder *folders; /* optional in the text form */
    size_t nfolders, cap_folders;
    struct state_doc *docs; /* optional in the text ("docs"): absent reads as none */
    size_t ndocs, cap_docs;
};

void state_init(struct scan_state *s);
void state_release(struct scan_state *s);

/* Replace *dst with a copy of src (NULL allowed). 0 or ERR_NOMEM. */
int state_set_str(char **dst, const char *src, struct err *e);

/* Keys of this configuration (malloc'd, caller frees; NULL on ENOMEM). */
char *state_odoo_key(const struct cfg *c);
char *state_type_key(const struct cfg_type *t);
char *state_cloud_key(const struct cfg *c);

/* A new empty type entry (key copied), NULL with e set on ENOMEM. */
struct state_type *state_add_type(struct scan_state *s, const char *key, struct err *e);
int state_type_add(struct state_type *t, long id, const char *name, struct err *e);
/* The entry with this key, NULL when absent. */
const struct state_type *state_find_type(const struct scan_state *s, const char *key);

/* Append a Documents file or folder (copies). 0 or ERR_NOMEM. */
int state_add_doc(struct scan_state *s, const char *tag, const char *synced, const char *path,
                  const char *fileid, struct err *e);

/* Append a deep copy of *a (keep ids ascending, or call state_sort). */
int state_add_att(struct scan_state *s, const struct snap_att *a, struct err *e);
/* Binary search by id: atts must be sorted (state_sort, state_decode do it). */
const struct snap_att *state_find_att(const struct scan_state *s, long id);

struct state_dir *state_add_dir(struct scan_state *s, const char *path, const char *etag,
                                struct err *e);
int state_dir_add_kid(struct state_dir *d, const struct snap_entry *en, struct err *e);
/* Frees a state_dir's strings and children and zeroes it (for one built aside). */
void state_dir_release(struct state_dir *d);
/* Forget every folder (the cloud part). */
void state_clear_dirs(struct scan_state *s);
/* Binary search by path (dirs sorted); NULL when absent or dropped. */
const struct state_dir *state_find_dir(const struct scan_state *s, const char *path);
/* Forget one folder's listing (its subtree will be listed again). */
void state_drop_dir(struct scan_state *s, const char *path);

/* Append a document folder told by its file id (copies). 0 or ERR_NOMEM. */
int state_add_folder(struct scan_state *s, const char *fileid, const char *record, struct err *e);

/* Sort atts by id and dirs by path (after adding out of order). */
void state_sort(struct scan_state *s);

/* JSON text of s (malloc'd). 0, ERR_NOMEM. */
int state_encode(const struct scan_state *s, char **out, struct err *e);
/* Parse JSON text into s (state_init'ed, empty). ERR_PROTO on anything unexpected
 * (s is then released back to empty), ERR_NOMEM. */
int state_decode(const char *text, size_t len, struct scan_state *s, struct err *e);

/*
 * Read the state file at path into s (state_init'ed, empty). A missing file,
 * an unreadable or corrupt one, or another version leaves s empty and is not
 * an error: it is logged (info for missing, warn otherwise) and the pass is a
 * full one. Returns 0, or ERR_NOMEM.
 */
int state_load(const char *path, struct scan_state *s, struct log *lg, struct err *e);
/* The whole file at path (at most cap bytes) into *text (malloc'd, NUL-terminated, *len
 * bytes). ERR_NOTFOUND when missing; ERR_IO (e says why) when unreadable, too large or
 * short; ERR_NOMEM. */
int state_read_file(const char *path, long long cap, char **text, size_t *len, struct err *e);
/* Write s to path atomically (path.tmp.<pid> + fsync + rename). 0, ERR_IO, ERR_NOMEM. */
int state_save(const char *path, const struct scan_state *s, struct err *e);
/* text to path the same way (a crash leaves the old or the new file). 0, ERR_IO, ERR_INVALID. */
int state_write_atomic(const char *path, const char *text, size_t len, struct err *e);

/* The Redis backend: the same contract as state_load / state_save (a missing,
 * unreadable or corrupt state, or Redis down, is a full pass, not an error),
 * the key named after c (see above). */
struct lock;
/* The name of c's state in Redis: "<sha1 hex of odoo key NL cloud key>". 0, ERR_NOMEM. */
int state_redis_name(const struct cfg *c, char name[SHA1_HEX_SIZE], struct err *e);
int state_load_redis(struct lock *l, const struct cfg *c, struct scan_state *s, struct log *lg,
                     struct err *e);
int state_save_redis(struct lock *l, const struct cfg *c, const struct scan_state *s,
                     struct err *e);

#endif
