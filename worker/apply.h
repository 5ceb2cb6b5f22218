/*
 * apply: the appliers, one per job kind, shared by `odoosync work` (jobs
 * from Kafka) and `odoosync run` (jobs from the in-process queue).
 *
 * Every applier is idempotent and re-reads what it acts on before writing
 * (DESIGN.md "Safety", "Jobs"): applying a job twice, or after a newer job
 * for the same path, leaves the same result and reports "already done" or
 * "skipped". Writes carry conditions: MKCOL of an existing folder is fine,
 * PUT is create-only (If-None-Match: *), MOVE never overwrites, DELETE uses
 * If-Match when the job knows the etag, and Odoo values are re-read under
 * the job's lock before they are changed.
 *
 * Upload streams Odoo -> WebDAV through a temporary spool file (unlinked at
 * once, so nothing is left behind): memory stays flat whatever the size, the
 * sha1 is checked before a byte is sent to the cloud, and a retried PUT can
 * start again from the beginning. The attachment becomes a `url` one only
 * after the cloud confirmed the upload and the file carries its tag.
 *
 * Threads: apply_job() may be called from many threads at once. The applier
 * keeps a free list of connections (one WebDAV and one Odoo handle each);
 * a call borrows one for its duration, so handles are never shared.
 */
#ifndef ODOOSYNC_APPLY_H
#define ODOOSYNC_APPLY_H

#include "dav.h"
#include "err.h"
#include "job.h"
#include "jobmsg.h"
#include "log.h"
#include "odoo.h"

struct apply_opts {
    const struct dav_opts *dav;   /* borrowed for the life of the applier */
    const struct odoo_opts *odoo; /* borrowed for the life of the applier */
    const char *tmpdir;           /* spool directory for uploads; NULL = $TMPDIR or /tmp */
    struct log *log;              /* may be NULL */
    /* Called once per attempt with its outcome (the sync log); may be NULL. Any thread. */
    void (*on_event)(const struct job *j, const struct job_event *ev, void *ud);
    void *event_ud;
};

struct applier;

int apply_new(struct applier **out, const struct apply_opts *o, struct err *e);
void apply_free(struct applier *a);

/*
 * Apply one job. Returns 0 when the job is applied, already done, or
 * superseded (the event tells which); ERR_RETRY / ERR_CONFLICT when it may
 * succeed later; any other negative code when it never will. The signature
 * is the worker pool's `apply` callback (ud = the applier).
 */
int apply_job(const struct job *j, void *ud, struct err *e);

#endif
