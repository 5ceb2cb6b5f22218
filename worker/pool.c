/*
 * pool: the worker engine (see pool.h for the contract).
 *
 * Threads and who owns what:
 *   - the polling thread (pool_run) owns the partition table (struct part:
 *     unfinished offsets, pause state, retry messages held until due), the
 *     in-flight count and the consumer;
 *   - `mu` guards what workers share with it: the key table (per key: the
 *     active task and a FIFO of waiting ones), the ready queue, the delayed
 *     list (busy lock, lock backend down, failed hand-off), the done list,
 *     per-partition running counts, and the stats;
 *   - each worker thread owns its lock handle (one Redis connection);
 *   - the heartbeat thread owns its own lock handle and extends the locks
 *     listed in the workers' slots (hb_mu).
 *
 * Life of a task: message -> (retry topic, not due: held in its partition,
 * which stays paused) -> key FIFO -> ready -> running -> (delayed -> ready
 * ...) -> done -> the polling thread marks its offset finished and stores
 * the partition's offset up to the oldest unfinished one.
 *
 * A partition struct is never freed while the pool lives: a revoke bumps its
 * generation, so tasks that finish afterwards are recognised as stale and
 * their offsets ignored (the new owner has them again).
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "jobmsg.h"

#include "banned.h"

#define KEY_BUCKETS 4096
#define MSG_MAX (16 * 1024 * 1024)
#define HANDOFF_DELAY_MS 1000
#define LOCKDOWN_DELAY_MS 500

enum tstate { T_HELD, T_KEYWAIT, T_READY, T_DELAYED, T_RUNNING, T_DONE };
enum toutcome { O_NONE, O_APPLIED, O_SKIPPED, O_RETRIED, O_DEAD };
enum handoff { H_NONE, H_RETRY, H_DLQ };

struct part;
struct keyent;

struct task {
    struct task *next; /* link in exactly one list (held, key FIFO, ready, delayed, done) */
    struct keyent *ke;
    struct part *part;
    unsigned long gen;
    long long offset;
    char *key;
    int state;
    int decoded;
    struct job job;
    char *raw; /* the message value */
    size_t raw_len;
    long long due_wall; /* retry topic: not before (ms since the epoch) */
    long long due_mono; /* delayed: not before (monotonic ms) */
    long long first_failed_at;
    long long lock_from; /* monotonic us of the first attempt to take its lock(s), 0 = none */
    int lock_waited;     /* that wait was reported */
    /* a hand-off prepared and not yet acknowledged: only the send is repeated */
    int handoff;
    struct buf out;
    char hdr_due[32], hdr_att[16];
    int outcome;
    int err_code;
    char err_msg[ERR_MSG_MAX];
};

struct part {
    struct part *next;
    char *topic;
    int partition;
    int is_retry;
    int assigned;
    unsigned long gen;
    int paused;      /* as set on the consumer by us */
    int running;     /* tasks of this generation running now (under mu) */
    int revoking;    /* under mu: tasks of it that come back delayed are dropped */
    long long *offs; /* unfinished offsets, ascending (ring-free: a compacted array) */
    unsigned char *done;
    size_t n, alloc;
    long long stored; /* last next-offset stored, -1 none */
    long long max_seen;
    struct task *held_head, *held_tail;
};

struct keyent {
    struct keyent *next;
    char *key;
    struct task *active;
    struct task *fifo_head, *fifo_tail;
};

struct hbslot {
    int n; /* locks held by this worker now */
    char *paths[2];
    struct lock_token toks[2];
};

struct worker {
    struct pool *p;
    int idx;
    pthread_t th;
    int started;
    struct lock *lk;
};

struct pool {
    struct pool_opts o;
    struct kq_consumer *c;
    struct kq_producer *prod;
    const char *t_jobs, *t_retry, *t_dlq;
    struct log *lg;

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* ready/delayed changed, or quit */
    pthread_cond_t done_cv; /* a task finished */
    struct keyent *keys[KEY_BUCKETS];
    struct task *ready_head, *ready_tail;
    struct task *delayed; /* unsorted; short */
    struct task *done_head, *done_tail;
    int quit;
    int draining; /* stopping: start nothing more */
    struct pool_stats st;

    atomic_int stop;
    atomic_int lock_down;

    struct worker *w;
    pthread_t hb;
    int hb_started;
    pthread_mutex_t hb_mu;
    pthread_cond_t hb_cv;
    struct hbslot *slots;
    struct lock *hb_lk;

    /* polling thread only */
    struct part *parts;
    long inflight;
    int paused_all;
    int was_lock_down;
};

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_REALTIME deadline for pthread_cond_timedwait, ms from now. */
static void deadline_in(struct timespec *ts, long long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    if (ms < 0)
        ms = 0;
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

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

static void task_free(struct task *t)
{
    if (!t)
        return;
    job_release(&t->job);
    free(t->raw);
    free(t->key);
    buf_release(&t->out);
    free(t);
}

static const char *task_id(const struct task *t)
{
    return t->decoded && t->job.id ? t->job.id : NULL;
}

static const char *task_path(const struct task *t)
{
    return t->decoded && t->job.lock ? t->job.lock : t->key;
}

/* ---- key table, ready/delayed/done lists (under mu) ---- */

static unsigned key_hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % KEY_BUCKETS;
}

static void ready_push(struct pool *p, struct task *t)
{
    t->state = T_READY;
    t->next = NULL;
    if (p->ready_tail)
        p->ready_tail->next = t;
    else
        p->ready_head = t;
    p->ready_tail = t;
    pthread_cond_signal(&p->work_cv);
}

/* 0, or ERR_NOMEM (then the task was not queued). */
static int key_submit(struct pool *p, struct task *t)
{
    unsigned h = key_hash(t->key);
    struct keyent *k;

    for (k = p->keys[h]; k; k = k->next)
        if (strcmp(k->key, t->key) == 0)
            break;
    if (!k) {
        k = calloc(1, sizeof(*k));
        if (!k)
            return ERR_NOMEM;
        k->key = strdup(t->key);
        if (!k->key) {
            free(k);
            return ERR_NOMEM;
        }
        k->next = p->keys[h];
        p->keys[h] = k;
    }
    t->ke = k;
    if (!k->active) {
        k->active = t;
        ready_push(p, t);
    } else {
        t->state = T_KEYWAIT;
        t->next = NULL;
        if (k->fifo_tail)
            k->fifo_tail->next = t;
        else
            k->fifo_head = t;
        k->fifo_tail = t;
    }
    return 0;
}

/* The active task of its key is gone: start the next one of that key. */
static void key_advance(struct pool *p, struct task *t)
{
    struct keyent *k = t->ke, **pp;
    struct task *n;

    t->ke = NULL;
    if (!k)
        return;
    if (k->active == t)
        k->active = NULL;
    if (k->active)
        return;
    n = k->fifo_head;
    if (n) {
        k->fifo_head = n->next;
        if (!k->fifo_head)
            k->fifo_tail = NULL;
        k->active = n;
        ready_push(p, n);
        return;
    }
    for (pp = &p->keys[key_hash(k->key)]; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    free(k->key);
    free(k);
}

static void done_push(struct pool *p, struct task *t)
{
    t->state = T_DONE;
    t->next = NULL;
    if (p->done_tail)
        p->done_tail->next = t;
    else
        p->done_head = t;
    p->done_tail = t;
    pthread_cond_broadcast(&p->done_cv);
}

/*
 * Take every task that is not running out of the queues, for partition pt
 * (or all when pt is NULL); the keys they held move on. Returns them as a list.
 */
static struct task *purge_queued(struct pool *p, const struct part *pt)
{
    struct task *out = NULL, *t, **pp, *adv = NULL;

#define MATCH(t) (!pt || (t)->part == pt)
    for (int i = 0; i < KEY_BUCKETS; i++) {
        for (struct keyent *k = p->keys[i]; k; k = k->next) {
            struct task *keep_h = NULL, *keep_t = NULL, *nx;

            for (t = k->fifo_head; t; t = nx) {
                nx = t->next;
                if (MATCH(t)) {
                    t->ke = NULL;
                    t->next = out;
                    out = t;
                } else {
                    t->next = NULL;
                    if (keep_t)
                        keep_t->next = t;
                    else
                        keep_h = t;
                    keep_t = t;
                }
            }
            k->fifo_head = keep_h;
            k->fifo_tail = keep_t;
        }
    }
    for (pp = &p->ready_head; *pp;) {
        t = *pp;
        if (MATCH(t)) {
            *pp = t->next;
            t->next = adv;
            adv = t;
        } else {
            pp = &t->next;
        }
    }
    p->ready_tail = NULL;
    for (t = p->ready_head; t; t = t->next)
        p->ready_tail = t;
    for (pp = &p->delayed; *pp;) {
        t = *pp;
        if (MATCH(t)) {
            *pp = t->next;
            t->next = adv;
            adv = t;
        } else {
            pp = &t->next;
        }
    }
#undef MATCH
    while (adv) {
        t = adv;
        adv = t->next;
        key_advance(p, t); /* may start tasks of other partitions only */
        t->next = out;
        out = t;
    }
    return out;
}

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

static void drop_tasks(struct pool *p, struct task *list)
{
    while (list) {
        struct task *t = list;

        list = t->next;
        p->inflight--;
        task_free(t);
    }
}

static void drop_held(struct pool *p, struct part *pt)
{
    drop_tasks(p, pt->held_head);
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
        task_free(t);
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

static void on_rebalance(void *ud, int assigned, int lost, const char *topic, int partition)
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
    drop_held(p, pt);
    pthread_mutex_lock(&p->mu);
    pt->revoking = 1;
    gone = purge_queued(p, pt);
    pthread_mutex_unlock(&p->mu);
    drop_tasks(p, gone);
    left = lost ? 0 : wait_running(p, pt, mono_ms() + p->o.grace_ms);
    if (left > 0)
        log_warn(p->lg, "%s[%d] revoked with %d job(s) still running: they will run again", topic,
                 partition, left);
    pthread_mutex_lock(&p->mu);
    pt->assigned = 0;
    pt->revoking = 0;
    pt->gen++;
    gone = purge_queued(p, pt); /* came back delayed meanwhile */
    pthread_mutex_unlock(&p->mu);
    drop_tasks(p, gone);
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
        task_free(t);
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
        task_free(t);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    if (pt->is_retry) {
        t->due_wall = hdr_ll(m, KQ_HDR_DUE, 0);
        t->first_failed_at = m->timestamp_ms;
    }
    rc = offs_add(pt, m->offset);
    if (rc < 0) {
        task_free(t);
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
    rc = key_submit(p, t);
    pthread_mutex_unlock(&p->mu);
    if (rc < 0) {
        p->inflight--;
        task_free(t);
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
            rc = key_submit(p, t);
            pthread_mutex_unlock(&p->mu);
            if (rc < 0) { /* out of memory: leave it unfinished, it comes back */
                p->inflight--;
                task_free(t);
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
        want = p->paused_all || pt->held_head != NULL;
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

/* ---- workers ---- */

static void hb_set(struct pool *p, int idx, int n, char *const *paths,
                   const struct lock_token *toks)
{
    pthread_mutex_lock(&p->hb_mu);
    p->slots[idx].n = n;
    for (int i = 0; i < n; i++) {
        p->slots[idx].paths[i] = paths[i];
        p->slots[idx].toks[i] = toks[i];
    }
    pthread_mutex_unlock(&p->hb_mu);
}

/* Whether worker idx still holds (path, tok): under hb_mu. */
static int hb_still_held(struct pool *p, int idx, const char *path, const struct lock_token *tok)
{
    for (int k = 0; k < p->slots[idx].n; k++)
        if (strcmp(p->slots[idx].paths[k], path) == 0 &&
            strcmp(p->slots[idx].toks[k].s, tok->s) == 0)
            return 1;
    return 0;
}

/*
 * Every lock_ttl_ms/3, extend the locks of the running jobs. The list is
 * copied under hb_mu and extended without it, so a slow or absent Redis
 * never holds up a worker that takes or drops a lock.
 */
static void *hb_main(void *arg)
{
    struct pool *p = arg;
    long period = p->o.lock_ttl_ms / 3 > 0 ? p->o.lock_ttl_ms / 3 : 1;
    int cap = 2 * p->o.concurrency, n;
    char **paths = calloc((size_t)cap, sizeof(*paths));
    struct lock_token *toks = calloc((size_t)cap, sizeof(*toks));
    int *owner = calloc((size_t)cap, sizeof(*owner));

    pthread_mutex_lock(&p->hb_mu);
    for (;;) {
        struct timespec dl;
        int quit;

        /* quit is checked under hb_mu before and after the wait: pool_free sets it, then
         * broadcasts under hb_mu, so the wake-up is never lost */
        pthread_mutex_lock(&p->mu);
        quit = p->quit;
        pthread_mutex_unlock(&p->mu);
        if (quit)
            break;
        deadline_in(&dl, period);
        pthread_cond_timedwait(&p->hb_cv, &p->hb_mu, &dl);
        pthread_mutex_lock(&p->mu);
        quit = p->quit;
        pthread_mutex_unlock(&p->mu);
        if (quit || !paths || !toks || !owner)
            break;
        n = 0;
        for (int i = 0; i < p->o.concurrency; i++) {
            for (int k = 0; k < p->slots[i].n && n < cap; k++) {
                paths[n] = strdup(p->slots[i].paths[k]);
                if (!paths[n])
                    continue;
                toks[n] = p->slots[i].toks[k];
                owner[n] = i;
                n++;
            }
        }
        pthread_mutex_unlock(&p->hb_mu);
        for (int x = 0; x < n; x++) {
            struct err e = ERR_INIT;
            int rc = lock_extend(p->hb_lk, paths[x], &toks[x], p->o.lock_ttl_ms, &e);

            if (rc == ERR_NOTFOUND) {
                int held;

                pthread_mutex_lock(&p->hb_mu);
                held = hb_still_held(p, owner[x], paths[x], &toks[x]);
                pthread_mutex_unlock(&p->hb_mu);
                if (held) /* not just released by its job: really lost */
                    log_warn(p->lg, "lock \"%s\" lost while its job runs (conditions protect it)",
                             paths[x]);
            } else if (rc < 0) {
                log_warn(p->lg, "extending lock \"%s\": %s", paths[x], e.msg);
            }
        }
        for (int x = 0; x < n; x++)
            free(paths[x]);
        pthread_mutex_lock(&p->hb_mu);
    }
    pthread_mutex_unlock(&p->hb_mu);
    free(paths);
    free(toks);
    free(owner);
    return NULL;
}

/* The document folder of `to` at the depth of `lock` ("/a/b/c" + "/a/x/c/f" -> "/a/x/c"). */
static char *second_lock(const struct job *j)
{
    int depth = 0;
    const char *s;
    char *r;

    if (j->kind != JOB_RENAME || j->side != JOB_SIDE_CLOUD || !j->to || !j->lock)
        return NULL;
    for (s = j->lock; *s; s++)
        depth += *s == '/';
    for (s = j->to; *s; s++) {
        if (*s == '/' && depth-- == 0)
            break;
    }
    r = strndup(j->to, (size_t)(s - j->to));
    if (r && strcmp(r, j->lock) == 0) {
        free(r);
        r = NULL;
    }
    return r;
}

static void backoff_due(const struct pool *p, int attempt, long long *due)
{
    long long d = p->o.backoff_ms;

    for (int i = 0; i < attempt && d < p->o.backoff_max_ms; i++)
        d *= 2;
    if (d > p->o.backoff_max_ms)
        d = p->o.backoff_max_ms;
    *due = wall_ms() + d;
}

/* Prepare the retry or dead-letter message of a failed task (once). */
static int prepare_handoff(struct pool *p, struct task *t, int code, const char *msg, struct err *e)
{
    struct job_dlq_meta meta;
    long long now = wall_ms();
    int rc;

    t->err_code = code;
    if (msg != t->err_msg)
        snprintf(t->err_msg, sizeof(t->err_msg), "%s", msg);
    if (!t->first_failed_at)
        t->first_failed_at = now;
    buf_reset(&t->out);
    if (t->decoded && (code == ERR_RETRY || code == ERR_CONFLICT || code == ERR_NOMEM) &&
        t->job.attempt + 1 < p->o.max_attempts) {
        long long due;
        int attempt = t->job.attempt;

        backoff_due(p, attempt, &due);
        t->job.attempt = attempt + 1;
        rc = job_encode(&t->job, &t->out, e);
        t->job.attempt = attempt;
        if (rc < 0)
            return rc;
        snprintf(t->hdr_due, sizeof(t->hdr_due), "%lld", due);
        snprintf(t->hdr_att, sizeof(t->hdr_att), "%d", attempt + 1);
        t->handoff = H_RETRY;
        return 0;
    }
    memset(&meta, 0, sizeof(meta));
    meta.error = t->err_msg;
    meta.error_code = code;
    meta.attempts = t->decoded ? t->job.attempt + 1 : 0;
    meta.first_failed_at = t->first_failed_at;
    meta.last_failed_at = now;
    meta.topic = t->part->topic;
    meta.partition = t->part->partition;
    meta.offset = t->offset;
    rc = job_dlq_encode(t->decoded ? &t->job : NULL, t->raw, t->raw_len, &meta, &t->out, e);
    if (rc < 0)
        return rc;
    t->handoff = H_DLQ;
    return 0;
}

/* 0 finished (outcome set); 1: come back after *delay_ms. */
static int send_handoff(struct pool *p, struct task *t, long *delay_ms)
{
    struct err e = ERR_INIT;
    struct kq_header h[2] = {{KQ_HDR_DUE, t->hdr_due}, {KQ_HDR_ATTEMPT, t->hdr_att}};
    int retry = t->handoff == H_RETRY;
    int rc = kq_send(p->prod, retry ? p->t_retry : p->t_dlq, t->key, t->out.data ? t->out.data : "",
                     t->out.len, retry ? h : NULL, retry ? 2 : 0, p->o.send_timeout_ms, &e);

    if (rc < 0) {
        log_job(p->lg, LOG_WARN, task_id(t), task_path(t),
                "hand-off to %s not acknowledged (%s): trying again", retry ? p->t_retry : p->t_dlq,
                e.msg);
        *delay_ms = HANDOFF_DELAY_MS;
        return 1;
    }
    t->outcome = retry ? O_RETRIED : O_DEAD;
    if (!retry && t->decoded && p->o.on_event) {
        struct job_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.result = JOB_DEAD_LETTERED;
        ev.error = t->err_msg;
        ev.error_code = t->err_code;
        p->o.on_event(&t->job, &ev, p->o.event_ud);
    }
    if (retry)
        log_job(p->lg, LOG_INFO, task_id(t), task_path(t), "attempt %d failed (%s): retry at %s",
                t->job.attempt + 1, t->err_msg, t->hdr_due);
    else if (t->err_code == ERR_LOST && p->o.kq && p->o.kq->local)
        /* said once already, with what to do (the failed attempt's line) */
        log_job(p->lg, LOG_ERROR, task_id(t), task_path(t),
                "given up for good: its data is gone at its source (see above)");
    else /* local mode keeps no dead letters: given up, the next pass plans it again */
        log_job(p->lg, LOG_ERROR, task_id(t), task_path(t), "%s: %s",
                p->o.kq && p->o.kq->local ? "failed, given up for this pass" : "dead-lettered",
                t->err_msg);
    return 0;
}

static void release_all(struct pool *p, struct worker *w, int n, char *const *paths,
                        const struct lock_token *toks, struct task *t)
{
    for (int i = n - 1; i >= 0; i--) {
        struct err e = ERR_INIT;

        if (lock_release(w->lk, paths[i], &toks[i], &e) < 0 && e.code != ERR_RETRY)
            log_job(p->lg, LOG_WARN, task_id(t), task_path(t), "releasing lock: %s", e.msg);
    }
}

/* The task holds its lock(s) for the first time: how long since it first tried. */
static void report_lock_wait(struct pool *p, struct task *t)
{
    long long us = mono_us() - t->lock_from;
    double secs = (double)(us > 0 ? us : 0) / 1e6;

    t->lock_waited = 1;
    pthread_mutex_lock(&p->mu);
    p->st.lock_waits++;
    p->st.lock_wait_seconds += secs;
    pthread_mutex_unlock(&p->mu);
    if (p->o.on_lock_wait)
        p->o.on_lock_wait(&t->job, secs, p->o.lock_wait_ud);
}

/* Run one task. 0 finished; 1 delay it by *delay_ms (its key stays blocked). */
static int run_task(struct pool *p, struct worker *w, struct task *t, long *delay_ms)
{
    char *paths[2] = {NULL, NULL};
    struct lock_token toks[2];
    struct err e = ERR_INIT;
    char *second = NULL;
    int n = 0, held = 0, rc, res = 0;
    long long last = 0;

    if (t->handoff != H_NONE)
        return send_handoff(p, t, delay_ms);
    if (!t->decoded) {
        if (prepare_handoff(p, t, t->err_code, t->err_msg, &e) < 0) {
            log_job(p->lg, LOG_ERROR, NULL, t->key, "cannot build dead-letter message: %s", e.msg);
            *delay_ms = HANDOFF_DELAY_MS;
            return 1;
        }
        return send_handoff(p, t, delay_ms);
    }
    paths[n++] = t->job.lock ? t->job.lock : t->key;
    second = second_lock(&t->job);
    if (second) {
        paths[n++] = second;
        if (strcmp(paths[0], paths[1]) > 0) {
            paths[1] = paths[0];
            paths[0] = second;
        }
    }
    if (!t->lock_from)
        t->lock_from = mono_us();
    for (held = 0; held < n; held++) {
        rc = lock_acquire(w->lk, paths[held], p->o.lock_ttl_ms, &toks[held], &e);
        if (rc == 0)
            continue;
        release_all(p, w, held, paths, toks, t);
        if (rc == ERR_EXISTS) {
            pthread_mutex_lock(&p->mu);
            p->st.busy++;
            pthread_mutex_unlock(&p->mu);
            *delay_ms = p->o.busy_delay_ms;
            log_job(p->lg, LOG_DEBUG, t->job.id, paths[held], "lock busy: later");
        } else {
            if (!atomic_exchange(&p->lock_down, 1)) {
                pthread_mutex_lock(&p->mu);
                p->st.lock_down++;
                pthread_mutex_unlock(&p->mu);
            }
            log_job(p->lg, LOG_DEBUG, t->job.id, paths[held], "lock: %s", e.msg);
            *delay_ms = LOCKDOWN_DELAY_MS;
        }
        free(second);
        return 1;
    }
    atomic_store(&p->lock_down, 0);
    if (!t->lock_waited)
        report_lock_wait(p, t);
    hb_set(p, w->idx, n, paths, toks);
    if (t->job.version > 0) {
        rc = lock_ver_get(w->lk, t->job.lock ? t->job.lock : t->key, &last, &e);
        if (rc < 0) {
            hb_set(p, w->idx, 0, NULL, NULL);
            release_all(p, w, n, paths, toks, t);
            atomic_store(&p->lock_down, 1);
            *delay_ms = LOCKDOWN_DELAY_MS;
            free(second);
            return 1;
        }
    }
    if (t->job.version > 0 && t->job.version < last) {
        t->outcome = O_SKIPPED;
        if (p->o.on_event) {
            struct job_event ev;

            memset(&ev, 0, sizeof(ev));
            ev.result = JOB_SKIPPED;
            p->o.on_event(&t->job, &ev, p->o.event_ud);
        }
        log_job(p->lg, LOG_INFO, t->job.id, t->job.lock,
                "skipped: version %lld is older than %lld, already applied", t->job.version, last);
    } else {
        err_clear(&e);
        rc = p->o.apply(&t->job, p->o.apply_ud, &e);
        if (rc == 0) {
            t->outcome = O_APPLIED;
            if (t->job.version > 0 &&
                lock_ver_raise(w->lk, t->job.lock ? t->job.lock : t->key, t->job.version, &e) < 0)
                log_job(p->lg, LOG_WARN, t->job.id, t->job.lock, "recording version: %s", e.msg);
        } else if (rc == ERR_STOPPED) {
            /* a stop was asked while it ran: not done, not failed; handed back (its offset
             * stays unstored, the next consumer or pass takes it again) */
            log_job(p->lg, LOG_INFO, t->job.id, t->job.lock,
                    "interrupted by the stop: handed back");
            *delay_ms = 100;
            res = 1;
        } else {
            struct err pe = ERR_INIT;

            if (prepare_handoff(p, t, rc, e.msg[0] ? e.msg : err_name(rc), &pe) < 0) {
                log_job(p->lg, LOG_ERROR, t->job.id, t->job.lock, "cannot build retry message: %s",
                        pe.msg);
                *delay_ms = HANDOFF_DELAY_MS;
                res = 1;
            }
        }
    }
    hb_set(p, w->idx, 0, NULL, NULL);
    release_all(p, w, n, paths, toks, t);
    free(second);
    if (res == 0 && t->handoff != H_NONE)
        return send_handoff(p, t, delay_ms);
    return res;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->p;

    pthread_mutex_lock(&p->mu);
    while (!p->quit) {
        long long now = mono_ms(), next_due = now + 100;
        struct task *t, **pp;

        for (pp = &p->delayed; *pp;) {
            t = *pp;
            if (t->due_mono <= now) {
                *pp = t->next;
                ready_push(p, t);
            } else {
                if (t->due_mono < next_due)
                    next_due = t->due_mono;
                pp = &t->next;
            }
        }
        t = p->draining ? NULL : p->ready_head;
        if (!t) {
            struct timespec dl;

            deadline_in(&dl, next_due - now);
            pthread_cond_timedwait(&p->work_cv, &p->mu, &dl);
            continue;
        }
        p->ready_head = t->next;
        if (!p->ready_head)
            p->ready_tail = NULL;
        t->next = NULL;
        t->state = T_RUNNING;
        t->part->running++;
        pthread_mutex_unlock(&p->mu);
        {
            long delay = 0;
            int again = run_task(p, w, t, &delay);

            pthread_mutex_lock(&p->mu);
            t->part->running--;
            if (again && (p->draining || t->part->revoking || t->gen != t->part->gen)) {
                /* unfinished and not ours to finish now: dropped, its offset stays unstored */
                t->outcome = O_NONE;
                key_advance(p, t);
                done_push(p, t);
            } else if (again) {
                t->state = T_DELAYED;
                t->due_mono = mono_ms() + delay;
                t->next = p->delayed;
                p->delayed = t;
            } else {
                if (t->outcome == O_APPLIED)
                    p->st.applied++;
                else if (t->outcome == O_SKIPPED)
                    p->st.skipped++;
                else if (t->outcome == O_RETRIED)
                    p->st.retried++;
                else if (t->outcome == O_DEAD)
                    p->st.dead++;
                key_advance(p, t);
                done_push(p, t);
            }
            pthread_cond_broadcast(&p->done_cv);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
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
    kq_consumer_on_rebalance(c, on_rebalance, p);
    rc = kq_subscribe(c, topics, 2, e);
    if (rc < 0)
        goto out;
    for (int i = 0; i < p->o.concurrency; i++) {
        if (pthread_create(&p->w[i].th, NULL, worker_main, &p->w[i]) != 0) {
            rc = err_set(e, ERR_INTERNAL, "pool: cannot start worker thread %d", i);
            goto out;
        }
        p->w[i].started = 1;
    }
    if (pthread_create(&p->hb, NULL, hb_main, p) != 0) {
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

int pool_run(struct pool *p, const volatile sig_atomic_t *stop, struct err *e)
{
    struct kq_msg *m = NULL;
    long long deadline = 0;
    int rc = 0, left, end = 0, idle;

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
    log_info(p->lg, "pool: stopping, %ld job(s) unfinished", p->inflight);
    update_pauses(p, 1);
    for (struct part *pt = p->parts; pt; pt = pt->next)
        drop_held(p, pt);
    {
        struct task *gone;

        pthread_mutex_lock(&p->mu);
        p->draining = 1;
        gone = purge_queued(p, NULL);
        pthread_mutex_unlock(&p->mu);
        drop_tasks(p, gone);
    }
    deadline = mono_ms() + p->o.grace_ms;
    left = wait_running(p, NULL, deadline);
    if (left > 0 && rc == 0)
        rc = err_set(e, ERR_RETRY, "%d job(s) still running after %ld ms: not committed", left,
                     p->o.grace_ms);
    {
        struct err ce = ERR_INIT;

        if (kq_commit(p->c, &ce) < 0)
            log_warn(p->lg, "pool: final commit: %s", ce.msg);
    }
    kq_consumer_on_rebalance(p->c, NULL, NULL);
    return rc;
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
        struct task *gone = purge_queued(p, NULL);

        drop_tasks(p, gone);
    }
    drop_tasks(p, p->done_head);
    while (p->parts) {
        struct part *pt = p->parts;

        p->parts = pt->next;
        drop_held(p, pt);
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
