/*
 * scan: reads both sides into the snapshots the planner compares
 * (producer/model.h). Nothing here writes anywhere.
 *
 * Odoo: for each enabled document type, the records matching its domain
 * (id, display_name), page by page in id order; then the attachments of
 * those records, a few hundred ids per request, and the stand-alone ones
 * (res_model false), never their content. A type whose domain or access
 * rights make Odoo answer an error is marked scan_ok = 0 (the planner then
 * plans no deletion under its folder) and the pass goes on with the others;
 * a transport failure makes the whole snapshot incomplete.
 *
 * Cloud: the tree under the root folder, with the properties the planner
 * needs (etag, size, our tags). Depth: infinity where the server allows it
 * (one request), else a breadth-first walk with Depth 1 PROPFINDs spread
 * over several connections at once. A missing root is an empty tree.
 *
 * Progress: counts and rate are logged every few seconds on long scans.
 */
#ifndef ODOOSYNC_SCAN_H
#define ODOOSYNC_SCAN_H

#include "buf.h"
#include "cfg.h"
#include "dav.h"
#include "err.h"
#include "log.h"
#include "model.h"
#include "odoo.h"
#include "state.h"

/* Record ids per attachment request, and rows per page, of the full scan. */
#define SCAN_ATT_CHUNK 200
#define SCAN_PAGE 500

struct scan_stats {
    long odoo_requests;
    long cloud_requests;
    long records;
    long attachments;
    long entries;
    long ids_listed; /* ids read by the cheap listings of the incremental scan */
    long rows_read;  /* Odoo rows read in full (records with names, attachment rows) */
    long long odoo_ms;
    long long cloud_ms;
};

/*
 * Fill os (initialised by the caller with cfg's enabled type count, see
 * scan_types) from Odoo. types[i].scan_ok is set per type. Returns 0, or a
 * negative code when the scan could not run at all (os->complete = 0).
 */
int scan_odoo(struct odoo *o, const struct cfg *c, struct plan_type *types, size_t ntypes,
              struct odoo_snap *os, struct scan_stats *st, struct log *lg, struct err *e);

/*
 * Records tagged on cloud document folders (cs: two levels under the root) that the Odoo
 * scan listed under no type, and under the archive policy the records of url attachments
 * pointing into the archive folder (an archived folder deleted in the cloud leaves no
 * tag), and the records of the previous pass's links (prev, may be NULL: a folder deleted
 * in the cloud as its record stops matching leaves no tag either): whether they still exist (read
 * by id, which sees archived records too), in batches per model. Those that exist go to
 * os->unmatched and their attachments (res_model/res_id, as the scan reads them) to os->atts; the
 * others are deleted in Odoo. Only models of types whose scan went through are checked. When Odoo
 * refuses the check (or os is incomplete) os->gone_known is cleared: no record is then taken for
 * deleted. Returns 0, or a negative code for a failure of the transport (the pass stops, as for the
 * other scans).
 */
int scan_unmatched(struct odoo *o, const struct cfg *c, const struct plan_type *types,
                   size_t ntypes, struct odoo_snap *os, const struct cloud_snap *cs,
                   const struct snap_links *prev, struct scan_stats *st, struct log *lg,
                   struct err *e);

/*
 * Fill cs with everything under "/<root>" (root as in the config). opts: to open
 * more connections for a parallel walk (borrowed); parallel: how many (>= 1).
 */
int scan_cloud(const struct dav_opts *opts, int parallel, const char *root, struct cloud_snap *cs,
               struct scan_stats *st, struct log *lg, struct err *e);

/* "/<root>" (root as in the config), the path the cloud scans and the state name it by,
 * into out (appended). 0, or buf_printf's error. */
int scan_root_path(const char *root, struct buf *out, struct err *e);

/*
 * scan_cloud with ETag reuse. When next is not NULL and the server is Nextcloud or
 * ownCloud (opts->dialect, or dav_detect() when AUTO), where a folder's ETag
 * changes whenever anything below it changes, a folder whose ETag equals the one
 * saved in prev (may be NULL) is not listed: its saved subtree is used, so an
 * unchanged tree costs one request; every folder listed or reused is recorded in
 * next (the cloud part of the next state; emptied when the walk is incomplete).
 * Elsewhere (Apache & co: a folder's ETag ignores its content) it is scan_cloud.
 */
int scan_cloud_state(const struct dav_opts *opts, int parallel, const char *root,
                     const struct scan_state *prev, struct scan_state *next, struct cloud_snap *cs,
                     struct scan_stats *st, struct log *lg, struct err *e);

/*
 * The decision of that walk for one folder `path` whose current ETag is etag: when
 * prev holds it with the same ETag, its saved children are added to cs and next,
 * and the same is decided for each child folder; a child folder that cannot be
 * reused is handed to need() (to be listed). Returns 1 (reused), 0 (list it), or a
 * negative code. Pure: no I/O (unit-tested with canned listings).
 */
int scan_cloud_reuse(const struct scan_state *prev, const char *path, const char *etag,
                     struct cloud_snap *cs, struct scan_state *next,
                     int (*need)(const char *path, void *ud), void *ud, struct err *e);

/*
 * The enabled types of the configuration as plan types, in priority order.
 * *out is malloc'd (caller frees); strings are borrowed from c.
 */
int scan_types(const struct cfg *c, struct plan_type **out, size_t *n, struct err *e);

/*
 * The incremental Odoo scan (scan_inc.c): the same snapshot as scan_odoo, reading
 * only what changed since the state prev (may be NULL or foreign: then everything
 * is read, through the same code). next (state_init'ed, empty) receives the Odoo
 * part of the state for the next pass; save it only when os->complete. *was_full
 * says whether prev was unusable. Per-type refusals set types[k].scan_ok = 0 as
 * scan_odoo does; any other failure returns its code (the caller then runs
 * scan_odoo on a fresh snapshot, which is never worse).
 */
/*
 * How far before the watermark the next pass re-reads (and the settled check
 * fingerprints), by default: the configuration's odoo.watermark_overlap_s
 * (scan_wm_overlap). Odoo stamps write_date with its transaction's start (PostgreSQL
 * now()), not its commit: a transaction that began before a pass took its
 * watermark and committed after that pass read its rows leaves rows stamped
 * before the watermark. The overlap must outlast the transactions that write what
 * the scans read: Odoo stops a request or a cron job after limit_time_real (120 s
 * by default) in multi-process mode, so 10 minutes leaves a wide margin. A longer
 * transaction (raised limits, threaded mode, an odoo-bin shell script) whose rows
 * are stamped more than this before the watermark is caught by the daily full
 * scan (SCAN_FULL_EVERY_S). The cost: the rows written in the 10 minutes before the
 * latest write are read again by every pass until a newer write moves the watermark.
 */
#define SCAN_WM_OVERLAP_S 600
/* The overlap of c in seconds (odoo.watermark_overlap_s; SCAN_WM_OVERLAP_S when unset). */
long scan_wm_overlap(const struct cfg *c);
#define SCAN_FULL_EVERY_S (24L * 3600) /* a full Odoo scan at least daily */
/* The distinct models of c's enabled types appended to *models (strings borrowed from c;
 * *models malloc'd, caller frees). 0 or ERR_NOMEM. */
int scan_models(const struct cfg *c, const char ***models, size_t *n);
/* The attachments of these models (res_model in models), or of none, or also the
 * stand-alone ones (res_model = False), none storing a binary field (res_field =
 * False), as the incremental scan and the settled check read them. NULL on ENOMEM. */
cJSON *scan_atts_domain(const char *const *models, size_t nmodels, int standalone);
/* dom (NULL = []) copied, with the leaf [field, op, value] ANDed (value taken); NULL on
 * ENOMEM. */
cJSON *scan_dom_with(const cJSON *dom, const char *field, const char *op, cJSON *value);
/* cap (may be NULL) receives the settled fingerprint (settled.h) taken right after the
 * watermark; cap->ok stays 0 when it could not be taken (the pass goes on). */
struct settled;
int scan_odoo_inc(struct odoo *o, const struct cfg *c, struct plan_type *types, size_t ntypes,
                  const struct scan_state *prev, struct scan_state *next, struct settled *cap,
                  int *was_full, struct odoo_snap *os, struct scan_stats *st, struct log *lg,
                  struct err *e);

/* The ids matching dom, ascending (keyset paging, ids only, as the incremental scan lists
 * them): *ids malloc'd (NULL when none). Counts its requests and ids in st. 0 or ERR_*. */
int scan_list_ids(struct odoo *o, const char *model, const cJSON *dom, long **ids, size_t *n,
                  struct scan_stats *st, struct err *e);

/* "YYYY-MM-DD HH:MM:SS" (more after it is ignored) shifted by seconds into out. 0 or -1. */
int scan_wd_shift(const char *wd, long seconds, char out[20]);

/* The ir.attachment fields the scans read (NULL-terminated). */
const char *const *scan_att_fields(void);
/* An ir.attachment row read with those fields into *a; a's strings are borrowed from rec. */
void scan_att_from_json(const cJSON *rec, struct snap_att *a);
/* The domain leaf [field, op, value], taking value; NULL (value freed) on ENOMEM. */
cJSON *scan_leaf(const char *field, const char *op, cJSON *value);

#endif
