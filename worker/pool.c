/*
 * pool: the worker engine (see pool.h for the contract). This file holds
 * its life cycle (options, pool_new, pool_free); the rest is in pieces that
 * share pool_int.h:
 *   pool_queue.c   tasks and the per-key ordering: the key table (which
 *                  tasks of a key may run side by side), the ready,
 *                  delayed and done lists;
 *   pool_poll.c    the polling thread: partitions and their offsets,
 *                  rebalances, messages, held retries, pauses (pool_run);
 *   pool_worker.c  the job threads (locks, apply, retry and dead-letter
 *                  hand-offs) and the lock heartbeat.
 *
 * Threads and who owns what:
 *   - the polling thread (pool_run) owns the partition table (struct part:
 *     unfinished offsets, pause state, retry messages held until due), the
 *     in-flight count and the consumer;
 *   - `mu` guards what workers share with it: the key table (per key: its
 *     unfinished tasks in order, started or waiting), the ready queue, the delayed
 *     list (busy lock, lock backend down, failed hand-off), the done list,
 *     per-partition running counts, and the stats;
 *   - each worker thread owns its lock handle (one Redis connection);
 *   - the heartbeat thread owns its own lock handle and extends the locks
 *     listed in the workers' slots (hb_mu).
 *
 * Life of a task: message -> (retry topic, not due: held in its partition,
 * which stays paused) -> key queue -> ready -> running -> (delayed -> ready
 * ...) -> done -> the polling thread marks its offset finished and stores
 * the partition's offset up to the oldest unfinished one.
 *
 * A partition struct is never freed while the pool lives: a revoke bumps its
 * generation, so tasks that finish afterwards are recognised as stale and
 * their offsets ignored (the new owner has them again).
 */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pool_int.h"

#include "banned.h"

static void fill_defaults(struct pool_opts *o)
{
    if (o->concurrency <= 0)
        o->concurrency = 8;
    /*
     * Pausing and resuming costs a fetch round trip (librdkafka drops what it had
     * fetched), so the bound is wide: a job is ~1 KB, 1000 of them are nothing,
     * and a narrow bound (4 x concurrency) held a worker to ~50 jobs/s under a
     * backlog (bench/jobs.sh).
     */
    if (o->max_inflight <= 0)
        o->max_inflight = 64 * o->concurrency > 1000 ? 64 * o->concurrency : 1000;
    if (o->max_attempts <= 0)
        o->max_attempts = 5;
    if (o->backoff_ms <= 0)
        o->backoff_ms = 1000;
    if (o->backoff_max_ms <= 0)
        o->backoff_max_ms = 60000;
    if (o->grace_ms <= 0)
        o->grace_ms = 30000;
    if (o->lock_ttl_ms <= 0)
        o->lock_ttl_ms = 30000;
    if (o->busy_delay_ms <= 0)
        o->busy_delay_ms = 100;
    if (o->send_timeout_ms <= 0)
        o->send_timeout_ms = 30000;
}

void pool_opts_init(struct pool_opts *o)
{
    memset(o, 0, sizeof(*o));
    fill_defaults(o);
}

/* ---- lifecycle ---- */

int pool_new(struct pool **out, const struct pool_opts *o, struct kq_consumer *c,
             struct kq_producer *prod, struct err *e)
{
    struct pool *p = NULL;
    const char *topics[2];
    int rc = 0;

    *out = NULL;
    if (!o->apply || !o->lock)
        return err_set(e, ERR_INVALID, "pool: apply and lock configuration are required");
    p = calloc(1, sizeof(*p));
    if (!p)
        return err_set(e, ERR_NOMEM, "out of memory");
    p->o = *o;
    fill_defaults(&p->o);
    p->c = c;
    p->prod = prod;
    p->lg = o->log;
    p->t_jobs = kq_conf_jobs(o->kq);
    p->t_retry = kq_conf_retry(o->kq);
    p->t_dlq = kq_conf_dlq(o->kq);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    pthread_mutex_init(&p->hb_mu, NULL);
    pthread_cond_init(&p->hb_cv, NULL);
    p->w = calloc((size_t)p->o.concurrency, sizeof(*p->w));
    p->slots = calloc((size_t)p->o.concurrency, sizeof(*p->slots));
    if (!p->w || !p->slots) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = lock_new(&p->hb_lk, o->lock, e);
    for (int i = 0; rc == 0 && i < p->o.concurrency; i++) {
        p->w[i].p = p;
        p->w[i].idx = i;
        rc = lock_new(&p->w[i].lk, o->lock, e);
    }
    if (rc < 0)
        goto out;
    topics[0] = p->t_jobs;
    topics[1] = p->t_retry;
    kq_consumer_on_rebalance(c, pool_on_rebalance, p);
    rc = kq_subscribe(c, topics, 2, e);
    if (rc < 0)
        goto out;
    for (int i = 0; i < p->o.concurrency; i++) {
        if (pthread_create(&p->w[i].th, NULL, pool_worker_main, &p->w[i]) != 0) {
            rc = err_set(e, ERR_INTERNAL, "pool: cannot start worker thread %d", i);
            goto out;
        }
        p->w[i].started = 1;
    }
    if (pthread_create(&p->hb, NULL, pool_hb_main, p) != 0) {
        rc = err_set(e, ERR_INTERNAL, "pool: cannot start the heartbeat thread");
        goto out;
    }
    p->hb_started = 1;
out:
    if (rc < 0) {
        pool_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void pool_stop(struct pool *p)
{
    atomic_store(&p->stop, 1);
}

void pool_get_stats(struct pool *p, struct pool_stats *s)
{
    pthread_mutex_lock(&p->mu);
    *s = p->st; /* st.inflight is copied from the polling thread's count in process_done */
    pthread_mutex_unlock(&p->mu);
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; p->w && i < p->o.concurrency; i++)
        if (p->w[i].started)
            pthread_join(p->w[i].th, NULL);
    if (p->hb_started) {
        pthread_mutex_lock(&p->hb_mu);
        pthread_cond_broadcast(&p->hb_cv);
        pthread_mutex_unlock(&p->hb_mu);
        pthread_join(p->hb, NULL);
    }
    if (p->c)
        kq_consumer_on_rebalance(p->c, NULL, NULL);
    /* whatever is left was never finished: free it */
    {
        struct task *gone = pool_purge_queued(p, NULL);

        pool_drop_tasks(p, gone);
    }
    pool_drop_tasks(p, p->done_head);
    while (p->parts) {
        struct part *pt = p->parts;

        p->parts = pt->next;
        pool_drop_held(p, pt);
        free(pt->offs);
        free(pt->done);
        free(pt->topic);
        free(pt);
    }
    for (int i = 0; p->w && i < p->o.concurrency; i++)
        lock_free(p->w[i].lk);
    lock_free(p->hb_lk);
    free(p->w);
    free(p->slots);
    pthread_cond_destroy(&p->hb_cv);
    pthread_mutex_destroy(&p->hb_mu);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
