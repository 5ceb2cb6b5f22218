/*
 * apply: the appliers, one per job kind, shared by `odoosync work` (jobs
 * from Kafka) and `odoosync run` (jobs from the in-process queue).
 *
 * Every applier is idempotent and re-reads what it acts on before writing
 * (docs/design.md "Safety", "Jobs"): applying a job twice, or after a newer job
 * for the same path, leaves the same result and reports "already done" or
 * "skipped". Writes carry conditions: MKCOL of an existing folder is fine,
 * PUT is create-only (If-None-Match: *), MOVE never overwrites, DELETE uses
 * If-Match when the job knows the etag, and Odoo values are re-read under
 * the job's lock before they are changed.
 *
 * A stalled worker whose lock expired meanwhile is refused by these
 * conditions, not by the lock: its create-only PUT of a file someone created
 * after its re-read gets 412, and the upload is then superseded (the file that
 * took the place is newer than the plan; nothing is written, the attachment
 * stays binary); its If-Match DELETE or MOVE of a changed file gets 412 and is
 * skipped. A weak ETag (Apache, during the second a file changed) cannot be
 * sent as If-Match, so the re-read waits that second out once rather than
 * writing without a condition.
 *
 * An upload killed between its PUT and its tag leaves an untagged file with
 * exactly the attachment's content: the next attempt adopts it (same size and
 * sha1, checked by reading it back) instead of failing on it forever.
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
    /* cloud.link_form is not dav: an uploaded file's attachment links to the server's web
     * link (common/link.h) when the server gives the file an id, else to the job's url */
    int link_web;
    struct log *log; /* may be NULL */
    /* Called once per attempt with its outcome (the sync log); may be NULL. Any thread. */
    void (*on_event)(const struct job *j, const struct job_event *ev, void *ud);
    void *event_ud;
    /*
     * Test seam, NULL in production: called in the worker thread once a job has
     * re-read what it acts on and is about to send its conditional write to the
     * cloud; what = "put" (upload), "move" (cloud rename) or "delete" (cloud
     * delete). Lets a test stall a worker exactly there (a stale lock holder).
     */
    void (*before_write)(const struct job *j, const char *what, void *ud);
    void *before_write_ud;
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

/*
 * The Odoo calls the appliers shared between jobs (worker/apply_batch.c) since
 * apply_new: calls made and the attachments they served, per kind.
 */
struct apply_stats {
    long reads, read_ids;            /* ir.attachment read (records) */
    long content_reads, content_ids; /* read with the content (small uploads) */
    long unlinks, unlink_ids;        /* ir.attachment unlink */
    long url_writes, url_ids;        /* url conversions (`load` of many, `write` of one) */
    long url_loads_refused;          /* `load`s that kept nothing: each job wrote its own */
    long bulk_posts, bulk_files;     /* Nextcloud bulk requests (apply_bulk.c), files in them */
    long bulk_alone;                 /* files that went by their own PUT after a listing */
};
void apply_get_stats(struct applier *a, struct apply_stats *st);

#endif
