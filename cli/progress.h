/*
 * progress: how far the jobs of a pass are while the pool applies them
 * (`odoosync run`), so a long pass is not minutes of silence.
 *
 * A thread wakes every interval and reads the pool's counters (pool_get_stats):
 * done = applied + skipped + failed for good, out of the jobs queued. On a
 * terminal (stderr a tty) it rewrites one line in place every half second,
 *     applying: 120/3000 jobs done, 41.3 jobs/s, ETA 70 s
 * and erases it when the jobs are done (the summary follows); in a log it is an
 * info line every log.progress_s seconds. log.progress_s = 0 turns both off.
 */
#ifndef ODOOSYNC_PROGRESS_H
#define ODOOSYNC_PROGRESS_H

#include <pthread.h>

#include "log.h"
#include "pool.h"

struct progress {
    struct pool *pool; /* borrowed */
    struct log *lg;    /* borrowed */
    long total;
    long interval_ms;
    int tty;
    long long t0_ms;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit, started;
};

/* Start reporting on pool's jobs (total of them) every progress_s seconds; 0 with
 * progress_s == 0 or total == 0 (nothing started). Errors are not fatal: no report. */
int progress_start(struct progress *pr, struct pool *pool, struct log *lg, long total,
                   long progress_s);
/* Stop the thread and erase the terminal line. Safe after a start that started nothing. */
void progress_stop(struct progress *pr);

#endif
