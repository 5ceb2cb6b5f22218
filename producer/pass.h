/*
 * pass: one planning pass, shared by `plan`, `produce` and `run`: connect
 * to Odoo, scan both sides, build the plan. The caller applies or emits
 * the jobs. The options of the two clients are made from the configuration
 * here too, so every command talks to the servers the same way.
 */
#ifndef ODOOSYNC_PASS_H
#define ODOOSYNC_PASS_H

#include "cfg.h"
#include "dav.h"
#include "err.h"
#include "lock.h"
#include "log.h"
#include "odoo.h"
#include "plan.h"
#include "scan.h"

/* Client options pointing into c (borrowed: c must outlive them). */
void pass_dav_opts(const struct cfg *c, struct log *lg, struct dav_opts *o);
void pass_odoo_opts(const struct cfg *c, struct log *lg, struct odoo_opts *o);

struct pass_opts {
    const struct cfg *cfg;
    struct log *log;
    int force_deletes;
    int scan_parallel; /* PROPFINDs in flight during the cloud walk (default 4) */
    /* --full-scan: the full scan (scan_odoo), without using or writing the scan
     * state (left as it is, it stays valid for a later pass); only the links of the
     * previous pass in it are read, for the planner (state.h) */
    int full_scan;
    /* the scan state file (state.h); NULL = cfg->state.file; "" = no state at
     * all, like full_scan */
    const char *state_file;
    /* cluster mode: keep the scan state in Redis through this handle (borrowed)
     * instead of the file; NULL = the file. state_file "" still means none. */
    struct lock *state_lock;
    /* set by the command's signal handler: every request of the pass ends with
     * ERR_STOPPED soon after it becomes non-zero (borrowed, may be NULL) */
    const volatile sig_atomic_t *stop;
};

/*
 * Scan and plan. With a state file (see pass_opts), the Odoo scan is incremental
 * (scan_odoo_inc) and the state is saved after a pass whose scans were complete;
 * a failed incremental scan falls back to the full one. On 0, *p holds the plan (its verdict may
 * still refuse deletions) and st the scan figures. A scan that could not run at all returns its
 * error; a partial one yields an incomplete snapshot and a plan without deletions.
 */
int pass_plan(const struct pass_opts *po, struct plan *p, struct scan_stats *st, struct err *e);

#endif
