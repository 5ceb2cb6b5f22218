/*
 * pool_poll: the polling thread of the worker engine (see pool.c), pool_run.
 * It alone owns the partition table: per partition the unfinished offsets
 * (stored up to the oldest unfinished one as tasks finish), the pause state,
 * and the retry messages held until due; and the in-flight count. It turns
 * messages into tasks, follows rebalances (a revoke drops what did not
 * start and gives running jobs grace_ms), pauses and resumes partitions,
 * and on stop drops what is queued, waits for what runs, and commits.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobmsg.h"
#include "pool_int.h"

#include "plural.h"
#include "banned.h"

#define MSG_MAX (16 * 1024 * 1024)

/* ---- partitions (polling thread) ---- */

static struct part *part_get(struct pool *p, const char *topic, int partition, int create)
{
    struct part *pt;

    for (pt = p->parts; pt; pt = pt->next)
        if (pt->partition == partition && strcmp(pt->topic, topic) == 0)
            return pt;
    if (!create)
        return NULL;
    pt = calloc(1, sizeof(*pt));
    if (!pt)
        return NULL;
    pt->topic = strdup(topic);
    if (!pt->topic) {
        free(pt);
        return NULL;
    }
    pt->partition = partition;
    pt->is_retry = strcmp(topic, p->t_retry) == 0;
    pt->stored = -1;
    pt->next = p->parts;
    p->parts = pt;
    return pt;
}

static int offs_add(struct part *pt, long long off)
{
    if (pt->n == pt->alloc) {
        size_t na = pt->alloc ? pt->alloc * 2 : 64;
        long long *o = realloc(pt->offs, na * sizeof(*o));
        unsigned char *d;

        if (!o)
            return ERR_NOMEM;
        pt->offs = o;
        d = realloc(pt->done, na);
        if (!d)
            return ERR_NOMEM;
        pt->done = d;
        pt->alloc = na;
    }
    pt->offs[pt->n] = off;
    pt->done[pt->n] = 0;
    pt->n++;
    if (off > pt->max_seen)
        pt->max_seen = off;
    return 0;
}

/* Mark off finished; store the offset up to the oldest unfinished one. */
static void offs_finish(struct pool *p, struct part *pt, long long off)
{
    size_t i, k = 0;
    long long next = -1;
    struct err e = ERR_INIT;

    for (i = 0; i < pt->n; i++) {
        if (pt->offs[i] == off) {
            pt->done[i] = 1;
            break;
        }
    }
    while (k < pt->n && pt->done[k])
        k++;
    if (k == 0)
        return;
    next = pt->offs[k - 1] + 1;
    memmove(pt->offs, pt->offs + k, (pt->n - k) * sizeof(*pt->offs));
    memmove(pt->done, pt->done + k, pt->n - k);
    pt->n -= k;
    if (next > pt->stored) {
        if (kq_store(p->c, pt->topic, pt->partition, next, &e) < 0)
            log_warn(p->lg, "store %s[%d]@%lld: %s", pt->topic, pt->partition, next, e.msg);
        else
            pt->stored = next;
    }
}

void pool_drop_tasks(struct pool *p, struct task *list)
{
    while (list) {
        struct task *t = list;

        list = t->next;
        p->inflight--;
        pool_task_free(t);
    }
}

void pool_drop_held(struct pool *p, struct part *pt)
{
    pool_drop_tasks(p, pt->held_head);
    pt->held_head = pt->held_tail = NULL;
}

/* Finished tasks: offsets, stats are already counted by the worker. */
static void process_done(struct pool *p)
{
    struct task *list;

    pthread_mutex_lock(&p->mu);
    list = p->done_head;
    p->done_head = p->done_tail = NULL;
    p->st.inflight = p->inflight;
    pthread_mutex_unlock(&p->mu);
    while (list) {
        struct task *t = list;

        list = t->next;
        if (t->outcome != O_NONE && t->part->assigned && t->gen == t->part->gen)
            offs_finish(p, t->part, t->offset);
        p->inflight--;
        pool_task_free(t);
    }
}

/* Wait (processing finished tasks) until nothing of pt (all if NULL) runs, or the deadline. */
static int wait_running(struct pool *p, const struct part *pt, long long deadline_mono)
{
    for (;;) {
        int running = 0;
        struct timespec dl;

        pthread_mutex_lock(&p->mu);
        for (struct part *x = p->parts; x; x = x->next)
            if (!pt || x == pt)
                running += x->running;
        if (running > 0 && !p->done_head && mono_ms() < deadline_mono) {
            deadline_in(&dl, 50);
            pthread_cond_timedwait(&p->done_cv, &p->mu, &dl);
        }
        pthread_mutex_unlock(&p->mu);
        process_done(p);
        if (running == 0)
            return 0;
        if (mono_ms() >= deadline_mono)
            return running;
    }
}

void pool_on_rebalance(void *ud, int assigned, int lost, const char *topic, int partition)
{
    struct pool *p = ud;
    struct part *pt = part_get(p, topic, partition, 1);
    struct task *gone;
    int left;

    if (!pt) {
        log_error(p->lg, "out of memory tracking %s[%d]", topic, partition);
        return;
    }
    if (assigned) {
        pthread_mutex_lock(&p->mu);
        pt->assigned = 1;
        pt->revoking = 0;
        pt->gen++;
        pthread_mutex_unlock(&p->mu);
        pt->paused = 0;
        pt->n = 0;
        pt->stored = -1;
        pt->max_seen = -1;
        log_debug(p->lg, "assigned %s[%d]", topic, partition);
        return;
    }
    /* leaving: drop what did not start, give running jobs the grace period, store */
    pool_drop_held(p, pt);
    pthread_mutex_lock(&p->mu);
    pt->revoking = 1;
    gone = pool_purge_queued(p, pt);
    pthread_mutex_unlock(&p->mu);
    pool_drop_tasks(p, gone);
    left = lost ? 0 : wait_running(p, pt, mono_ms() + p->o.grace_ms);
    if (left > 0)
        log_warn(p->lg, "%s[%d] revoked with %d %s still running: they will run again", topic,
                 partition, left, PLURAL(left, "job", "jobs"));
    pthread_mutex_lock(&p->mu);
    pt->assigned = 0;
    pt->revoking = 0;
    pt->gen++;
    gone = pool_purge_queued(p, pt); /* came back delayed meanwhile */
    pthread_mutex_unlock(&p->mu);
    pool_drop_tasks(p, gone);
    pt->paused = 0;
    pt->n = 0;
    log_debug(p->lg, "%s %s[%d]", lost ? "lost" : "revoked", topic, partition);
}

/* ---- messages (polling thread) ---- */

static long long hdr_ll(const struct kq_msg *m, const char *name, long long dflt)
{
    char v[32];
    char *end;
    long long x;

    if (kq_msg_header(m, name, v, sizeof(v)) < 0)
        return dflt;
    x = strtoll(v, &end, 10);
    return end == v ? dflt : x;
}

static int handle_msg(struct pool *p, struct kq_msg *m, struct err *e)
{
    struct part *pt = part_get(p, m->topic, m->partition, 0);
    struct task *t = NULL;
    struct err de = ERR_INIT;
    int rc;

    if (!pt || !pt->assigned)
        return 0; /* not ours (any more): the owner reads it */
    if (m->offset <= pt->max_seen)
        return 0; /* already taken (a fetch repeated after pause/resume) */
    t = calloc(1, sizeof(*t));
    if (!t)
        return err_set(e, ERR_NOMEM, "out of memory");
    job_init(&t->job);
    buf_init(&t->out, MSG_MAX);
    t->part = pt;
    t->gen = pt->gen;
    t->offset = m->offset;
    t->raw = malloc(m->len + 1);
    if (!t->raw) {
        pool_task_free(t);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    memcpy(t->raw, m->value, m->len);
    t->raw[m->len] = '\0';
    t->raw_len = m->len;
    if (job_decode(&t->job, m->value, m->len, p->o.root, &de) == 0) {
        t->decoded = 1;
    } else {
        t->err_code = de.code ? de.code : ERR_INVALID;
        snprintf(t->err_msg, sizeof(t->err_msg), "undecodable job: %s", de.msg);
        job_release(&t->job);
        job_init(&t->job);
    }
    if (m->key && m->key_len)
        t->key = strdup(m->key);
    else
        t->key = strdup(t->decoded && t->job.lock ? t->job.lock : "");
    if (!t->key) {
        pool_task_free(t);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    if (pt->is_retry) {
        t->due_wall = hdr_ll(m, KQ_HDR_DUE, 0);
        t->first_failed_at = m->timestamp_ms;
    }
    rc = offs_add(pt, m->offset);
    if (rc < 0) {
        pool_task_free(t);
        return err_set(e, rc, "out of memory");
    }
    p->inflight++;
    pthread_mutex_lock(&p->mu);
    p->st.consumed++;
    pthread_mutex_unlock(&p->mu);
    if (pt->is_retry && (pt->held_head || t->due_wall > wall_ms())) {
        t->state = T_HELD;
        if (pt->held_tail)
            pt->held_tail->next = t;
        else
            pt->held_head = t;
        pt->held_tail = t;
        return 0;
    }
    pthread_mutex_lock(&p->mu);
    rc = pool_key_submit(p, t);
    pthread_mutex_unlock(&p->mu);
    if (rc < 0) {
        p->inflight--;
        pool_task_free(t);
        return err_set(e, rc, "out of memory");
    }
    return 0;
}

/* Retry messages whose time has come go to their key's queue. */
static void release_held(struct pool *p)
{
    long long now = wall_ms();

    for (struct part *pt = p->parts; pt; pt = pt->next) {
        while (pt->held_head && pt->held_head->due_wall <= now) {
            struct task *t = pt->held_head;
            int rc;

            pt->held_head = t->next;
            if (!pt->held_head)
                pt->held_tail = NULL;
            t->next = NULL;
            pthread_mutex_lock(&p->mu);
            rc = pool_key_submit(p, t);
            pthread_mutex_unlock(&p->mu);
            if (rc < 0) { /* out of memory: leave it unfinished, it comes back */
                p->inflight--;
                pool_task_free(t);
            }
        }
    }
}

/* Pause or resume each partition as the state requires; track it ourselves. */
static void update_pauses(struct pool *p, int stopping)
{
    int down = atomic_load(&p->lock_down);
    struct err e = ERR_INIT;

    if (down != p->was_lock_down) {
        if (down)
            log_error(p->lg, "lock backend unreachable: not taking jobs until it answers");
        else
            log_info(p->lg, "lock backend answers again: taking jobs");
        p->was_lock_down = down;
    }
    if (stopping || down || p->inflight >= p->o.max_inflight)
        p->paused_all = 1;
    else if (p->inflight <= p->o.max_inflight / 4)
        p->paused_all = 0;
    for (struct part *pt = p->parts; pt; pt = pt->next) {
        int want;

        if (!pt->assigned)
            continue;
        /* A partition that has delivered nothing since its assignment is left running
         * (kq_pause): one fetch more at most, before its first message pauses it. */
        want = (p->paused_all && pt->max_seen >= 0) || pt->held_head != NULL;
        if (want == pt->paused)
            continue;
        if ((want ? kq_pause(p->c, pt->topic, pt->partition, &e)
                  : kq_resume(p->c, pt->topic, pt->partition, &e)) < 0) {
            log_warn(p->lg, "%s", e.msg);
            continue;
        }
        pt->paused = want;
    }
}

int pool_run(struct pool *p, const volatile sig_atomic_t *stop, struct err *e)
{
    struct kq_msg *m = NULL;
    long long deadline = 0;
    int rc = 0, left, end = 0, idle;

    if (p->o.kq && p->o.kq->local) /* local mode: no Kafka, no topics to name */
        log_info(p->lg, "pool: %d workers on the in-process queue", p->o.concurrency);
    else
        log_info(p->lg, "pool: %d workers on %s and %s", p->o.concurrency, p->t_jobs, p->t_retry);
    for (;;) {
        struct err pe = ERR_INIT;
        int prc;

        if ((stop && *stop) || atomic_load(&p->stop) || end)
            break;
        /* idle is known before the poll: a finished job's retry message was produced
         * before it was reported done, so "end of input" after that is really the end */
        process_done(p);
        idle = p->inflight == 0;
        prc = kq_poll(p->c, 50, &m, &pe);
        if (prc == ERR_NOTFOUND) {
            if (idle) {
                end = 1;
            } else { /* nothing to poll: wait for a job to finish instead of spinning */
                struct timespec dl;

                deadline_in(&dl, 20);
                pthread_mutex_lock(&p->mu);
                if (!p->done_head)
                    pthread_cond_timedwait(&p->done_cv, &p->mu, &dl);
                pthread_mutex_unlock(&p->mu);
            }
        } else if (prc < 0) {
            rc = err_set(e, prc, "%s", pe.msg);
            break;
        }
        if (m) {
            prc = handle_msg(p, m, &pe);
            kq_msg_free(m);
            m = NULL;
            if (prc < 0) {
                rc = err_set(e, prc, "%s", pe.msg);
                break;
            }
        }
        process_done(p);
        release_held(p);
        update_pauses(p, 0);
    }
    /* stop taking jobs; queued ones are dropped (not stored: they come again) */
    log_info(p->lg, "pool: stopping, %ld %s unfinished", p->inflight,
             PLURAL(p->inflight, "job", "jobs"));
    update_pauses(p, 1);
    for (struct part *pt = p->parts; pt; pt = pt->next)
        pool_drop_held(p, pt);
    {
        struct task *gone;

        pthread_mutex_lock(&p->mu);
        p->draining = 1;
        gone = pool_purge_queued(p, NULL);
        pthread_mutex_unlock(&p->mu);
        pool_drop_tasks(p, gone);
    }
    deadline = mono_ms() + p->o.grace_ms;
    left = wait_running(p, NULL, deadline);
    if (left > 0 && rc == 0)
        rc = err_set(e, ERR_RETRY, "%d %s still running after %ld ms: not committed", left,
                     PLURAL(left, "job", "jobs"), p->o.grace_ms);
    {
        struct err ce = ERR_INIT;

        if (kq_commit(p->c, &ce) < 0)
            log_warn(p->lg, "pool: final commit: %s", ce.msg);
    }
    kq_consumer_on_rebalance(p->c, NULL, NULL);
    return rc;
}
