/*
 * events: the sync log sink of a command: one JSON object per line
 * (schemas/event.schema.json) to a file or stdout, written whole under a
 * mutex, with counts per result for the pass summary.
 */
#ifndef ODOOSYNC_EVENTS_H
#define ODOOSYNC_EVENTS_H

#include <pthread.h>
#include <stdio.h>

#include "job.h"
#include "kq.h"
#include "lock.h"
#include "jobmsg.h"
#include "log.h"
#include "metrics.h"

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
};

/* path: NULL (count only), "-" (stdout) or a file appended to. 0 or ERR_IO. */
int events_open(struct events *ev, const char *path, struct log *lg, struct err *e);
void events_close(struct events *ev);
void events_reset_counts(struct events *ev);
/* The apply_opts.on_event callback (ud = struct events *). */
void events_on_job(const struct job *j, const struct job_event *ev, void *ud);

#endif
