/*
 * events: the sync log sink of a command: one JSON object per line
 * (schemas/event.schema.json) to a file or stdout, written whole under a
 * mutex, with counts per result for the pass summary; in cluster mode also
 * to the events topic; and, when the configuration says sync_log.odoo, into
 * Odoo's ir.logging through a batching writer (synclog_odoo.h).
 */
#ifndef ODOOSYNC_EVENTS_H
#define ODOOSYNC_EVENTS_H

#include <pthread.h>
#include <stdio.h>

#include "buf.h"
#include "cfg.h"
#include "job.h"
#include "kq.h"
#include "lock.h"
#include "jobmsg.h"
#include "log.h"
#include "metrics.h"
#include "synclog_odoo.h"

struct events {
    pthread_mutex_t mu;
    FILE *out;    /* NULL: count only */
    int owns_out; /* opened by events_open */
    struct log *log;
    struct kq_producer *kq; /* cluster mode: also emit each event here (borrowed), or NULL */
    const char *kq_topic;   /* the events topic */
    struct lock *marks;     /* cluster mode: clear the job's queued mark when it is finished */
    long count[5];          /* per enum job_result */
    long applied_by_kind[JOB_KIND_COUNT]; /* applied or already done */
    struct metrics *metrics;              /* borrowed, may be NULL: counts every event */
    struct synclog_odoo *odoo;            /* owned, or NULL: the ir.logging writer */
    /* ids of the jobs given up because their data is gone (ERR_LOST), one per line,
     * since events_reset_counts */
    struct buf lost;
    long nlost;
};

/* path: NULL (count only), "-" (stdout) or a file appended to. 0 or ERR_IO. */
int events_open(struct events *ev, const char *path, struct log *lg, struct err *e);
/*
 * When c->sync_log.odoo is set, also write the events into Odoo's ir.logging (after
 * events_open, before jobs run). A writer that cannot start is logged and left out: the
 * sync log in Odoo never stops the sync. c is read during the call only.
 */
void events_open_odoo(struct events *ev, const struct cfg *c);
/* Writes what the Odoo writer still holds (one try), then closes. */
void events_close(struct events *ev);
void events_reset_counts(struct events *ev);
/* The apply_opts.on_event callback (ud = struct events *). */
void events_on_job(const struct job *j, const struct job_event *ev, void *ud);

#endif
