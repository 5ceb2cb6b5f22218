/*
 * synclog_odoo: the sync log's Odoo sink. Each event of interest becomes an
 * `ir.logging` record in the synced Odoo database, so an Odoo administrator
 * sees the history under Settings > Technical > Logging.
 *
 * What is written: applied jobs (level INFO), failed attempts (WARNING, will
 * be retried) and dead-lettered jobs (ERROR). Already-done and skipped jobs
 * are left out: they change nothing and would only repeat earlier records
 * (every redelivery, every replay). The JSON-lines log (--events) and the
 * events topic still carry every event.
 *
 * A record: name "odoosync", type "server", dbname, level, message (a
 * readable line: "upload Odoo/Quotations/SO019/offer.pdf [sale.order,19]:
 * applied", with old and new names for renames and the error for failures),
 * path (the cloud path), func (the job kind), line "0". Those are the fields
 * real Odoo requires (odoo/addons/base/models/ir_logging.py). The Odoo user
 * needs write access to ir.logging (Administration / Settings in Odoo).
 *
 * Threads: synclog_odoo_add() is called from any job thread; it only builds
 * the record and queues it under the sink's mutex (no network, never
 * blocks on Odoo). One flusher thread owns the Odoo handle and writes the
 * queue with one create call per `batch` records, when `batch` records are
 * waiting or `flush_ms` after the last write, and once more at
 * synclog_odoo_free(). A write that fails with a retryable error (Odoo down,
 * 503) is tried again after flush_ms; any other failure (access rights,
 * validation) drops the batch. At most max_pending records are held, the
 * oldest dropped first. Failures are logged once per streak and counted;
 * they never reach a job. A create that fails after it may have reached
 * Odoo can, when retried, write those records twice (the log is at least
 * once).
 *
 * No global state: each sink is a handle. Ownership: opts are copied;
 * log is borrowed and must outlive the sink; the job and event passed to
 * synclog_odoo_add() are borrowed for the call only.
 */
#ifndef ODOOSYNC_SYNCLOG_ODOO_H
#define ODOOSYNC_SYNCLOG_ODOO_H

#include "err.h"
#include "job.h"
#include "jobmsg.h"
#include "log.h"
#include "odoo.h"

struct synclog_odoo_opts {
    const struct odoo_opts *odoo; /* the connection (copied); its retries are turned off */
    const char *dbname;           /* ir.logging's dbname (copied), may be NULL */
    long batch;                   /* records per create call, 0 = 100 */
    long flush_ms;                /* longest wait before a write, 0 = 2000 */
    long max_pending;             /* records held at most, 0 = 10000 */
    struct log *log;              /* borrowed, may be NULL */
};

struct synclog_odoo_stats {
    long queued;       /* records accepted by synclog_odoo_add() */
    long written;      /* records Odoo created */
    long dropped;      /* records given up (refused, over max_pending, or at exit) */
    long failed_calls; /* create calls that failed */
};

struct synclog_odoo;

/* Starts the flusher thread. 0, or ERR_NOMEM / ERR_INTERNAL with e filled. */
int synclog_odoo_new(struct synclog_odoo **out, const struct synclog_odoo_opts *o, struct err *e);
/* Whether an event with this result is written (applied, failed, dead-lettered). */
int synclog_odoo_wants(enum job_result r);
/* Queue the record of one event (any thread). Never fails the caller: a record that cannot
 * be built or held is counted as dropped. */
void synclog_odoo_add(struct synclog_odoo *s, const struct job *j, const struct job_event *je);
void synclog_odoo_get_stats(struct synclog_odoo *s, struct synclog_odoo_stats *st);
/* Write what is queued (one try), stop the flusher, log the totals when records were
 * dropped, free everything. NULL is fine. */
void synclog_odoo_free(struct synclog_odoo *s);

#endif
