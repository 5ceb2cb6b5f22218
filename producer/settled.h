/*
 * settled: the cheap check that nothing changed since a settled pass.
 *
 * A pass is settled when it planned no job at all (nothing to do, nothing still
 * queued, no deletion withheld, every type and both scans complete). Such a pass
 * leaves a settled mark: a fingerprint of what it saw, taken right after it fixed
 * its watermark and before it read anything else. The next pass first takes the
 * same fingerprint again; when it is identical, nothing either side holds has
 * changed since a pass that had nothing to do, so this pass has nothing to do
 * either and plans nothing, without scanning (a few requests instead of one per
 * folder and a listing of every id).
 *
 * The fingerprint:
 *   config      sha1 of everything that shapes a plan: this release of odoosync,
 *               the Odoo and cloud identity, root, dialect, each enabled type's folder,
 *               model, domain and direction, the stand-alone folder, the delete
 *               share): another configuration never reuses a mark.
 *   per type    the ids matching domain (search, ids only, as the incremental
 *               scan lists them): their count and sha1; and the sha1 of the rows (id,
 *               display_name, write_date) matching domain with write_date >=
 *               watermark - overlap.
 *   attachments search_count over ir.attachment of the types' models (and the
 *               stand-alone ones when that folder is on), and the sha1 of the rows
 *               since the watermark as above, every field the scans read.
 *   root_etag   the root folder's ETag. Only where folder ETags propagate
 *               (Nextcloud, ownCloud): a pass whose cloud walk kept no folder
 *               ETags leaves no mark, so on Apache & co every pass scans.
 *
 * Why equal fingerprints mean no change: every write after the mark's watermark
 * carries a write_date >= it minus the overlap (scan_inc.c), so a changed, created
 * or re-linked row shows in the rows read (a different digest); a deleted
 * attachment lowers the count unless a new row, which shows, makes up for it. A
 * record enters or leaves a type's domain also without a write of its own (a
 * domain on a related field such as partner_id.customer_rank, a column Odoo
 * writes by SQL such as customer_rank): the set of matching ids says so, as the
 * incremental scan's listing of the ids does. What write_date cannot see (a
 * display name computed from another record without a write) is what the
 * incremental scan cannot see either: the daily full scan bounds it, and a mark
 * older than SCAN_FULL_EVERY_S is not used.
 *
 * Storage: next to the scan state, a file "<state file>.settled" (local mode) or
 * the blob "<state name>.settled" in Redis (cluster mode); a pass that is not
 * settled removes it. A stale mark is still a true statement about the past, so
 * a crash between the state and the mark loses nothing.
 *
 * Ownership: struct settled owns its strings and arrays (settled_init/release).
 */
#ifndef ODOOSYNC_SETTLED_H
#define ODOOSYNC_SETTLED_H

#include "cfg.h"
#include "err.h"
#include "lock.h"
#include "log.h"
#include "odoo.h"
#include "scan.h"
#include "sha.h"

#define SETTLED_VERSION 2

struct settled_fp {
    long count;
    char digest[SHA1_HEX_SIZE];
    char ids[SHA1_HEX_SIZE]; /* records: sha1 of the matching ids; attachments: "" */
};

struct settled {
    int ok; /* a complete fingerprint (probe succeeded) */
    char config[SHA1_HEX_SIZE];
    char watermark[20];
    long long full_at;
    char *root_etag;
    long records, attachments; /* what the settled pass held (for its report) */
    long managed;              /* its plan's managed count */
    struct settled_fp *types;  /* one per enabled type, in configuration order */
    size_t ntypes;
    struct settled_fp atts;
};

void settled_init(struct settled *s);
void settled_release(struct settled *s);

/* sha1 of what in c shapes a plan (see above). 0, ERR_NOMEM. */
int settled_config(const struct cfg *c, char out[SHA1_HEX_SIZE], struct err *e);

/*
 * Take the Odoo fingerprint at watermark into s (types, atts, watermark; s->ok = 1 on
 * success). Counts its requests in st. Any Odoo error is returned (the caller then
 * does without a mark).
 */
int settled_probe_odoo(struct odoo *o, const struct cfg *c, const char *watermark,
                       struct settled *s, struct scan_stats *st, struct err *e);
/* 1 when a and b hold the same Odoo fingerprint. */
int settled_same_odoo(const struct settled *a, const struct settled *b);

/* The small JSON text of s (malloc'd) / back. ERR_NOMEM; decode: ERR_PROTO. */
int settled_encode(const struct settled *s, char **out, struct err *e);
int settled_decode(const char *text, size_t len, struct settled *s, struct err *e);

/*
 * The mark of this configuration: from "<state_file>.settled", or from Redis when l
 * is not NULL. Missing or unreadable is not an error (s->ok stays 0, logged at debug
 * or warn). save replaces it; clear removes it (a missing one is fine). 0 or ERR_*.
 */
int settled_load(const char *state_file, struct lock *l, const struct cfg *c, struct settled *s,
                 struct log *lg, struct err *e);
int settled_save(const char *state_file, struct lock *l, const struct cfg *c,
                 const struct settled *s, struct err *e);
int settled_clear(const char *state_file, struct lock *l, const struct cfg *c, struct err *e);

#endif
