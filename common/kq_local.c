/*
 * kq_local: the in-process queue of the local mode, with Kafka's semantics
 * where the worker pool relies on them.
 *
 * A struct kq_local holds named topics (created on first use), each of
 * `partitions` partitions. A message goes to the partition Kafka's murmur2
 * gives its key, so one key keeps one order. Each partition is an array of
 * messages from offset `base`; `committed` is the group's committed offset
 * (kq_local_store sets it: storing is committing here) and messages before
 * it are dropped. A topic holds at most `cap` uncommitted messages; a
 * producer waits for room (up to its wait time, then ERR_RETRY).
 *
 * One consumer at a time (one group, one member): it is assigned every
 * partition of the topics it subscribes to, from their committed offsets,
 * so a consumer freed without storing gets the same messages again (what a
 * crashed Kafka consumer gets). Pause flags are per partition. Its lag
 * (kq_local_lag) is, per subscribed topic, the messages not yet stored.
 *
 * Locking: one mutex for everything; `cond` is broadcast on every produce,
 * store and close (waiting consumers and producers re-check).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "kq.h"
#include "kq_int.h"

#include "banned.h"

struct lmsg {
    char *key; /* NULL if none */
    size_t key_len;
    char *value;
    size_t len;
    long long ts;
    struct kq_header *hdrs; /* n_hdrs, names and values heap copies */
    int n_hdrs;
};

struct lpart {
    struct lmsg *msgs; /* msgs[i] has offset base + i, for i < n */
    size_t n, alloc;
    long long base;
    long long committed;
    long long pos; /* consumer position */
    int paused;
};

struct ltopic {
    char *name;
    struct lpart *parts;
    int subscribed;
    struct ltopic *next;
};

struct kq_local {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int nparts;
    size_t cap;
    int closed;
    int has_consumer;
    struct ltopic *topics;
};

struct kq_local_consumer {
    struct kq_local *q;
    kq_rebalance_fn fn;
    void *ud;
    int announced; /* assignment callbacks done */
    unsigned rr;   /* round-robin cursor */
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void lmsg_release(struct lmsg *m)
{
    free(m->key);
    free(m->value);
    for (int i = 0; i < m->n_hdrs; i++) {
        free((char *)(uintptr_t)m->hdrs[i].name);
        free((char *)(uintptr_t)m->hdrs[i].value);
    }
    free(m->hdrs);
    memset(m, 0, sizeof(*m));
}

struct kq_local *kq_local_new(int partitions, size_t cap)
{
    struct kq_local *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    q->nparts = partitions < 1 ? 1 : partitions;
    q->cap = cap < 1 ? 1 : cap;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cond, NULL);
    return q;
}

void kq_local_free(struct kq_local *q)
{
    struct ltopic *t, *next;

    if (!q)
        return;
    for (t = q->topics; t; t = next) {
        next = t->next;
        for (int i = 0; i < q->nparts; i++) {
            for (size_t j = 0; j < t->parts[i].n; j++)
                lmsg_release(&t->parts[i].msgs[j]);
            free(t->parts[i].msgs);
        }
        free(t->parts);
        free(t->name);
        free(t);
    }
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

void kq_local_close(struct kq_local *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

/* Under q->mu. */
static struct ltopic *topic_get(struct kq_local *q, const char *name, int create)
{
    struct ltopic *t;

    for (t = q->topics; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    if (!create)
        return NULL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->name = strdup(name);
    t->parts = calloc((size_t)q->nparts, sizeof(*t->parts));
    if (!t->name || !t->parts) {
        free(t->name);
        free(t->parts);
        free(t);
        return NULL;
    }
    t->next = q->topics;
    q->topics = t;
    return t;
}

static size_t topic_unfinished(const struct kq_local *q, const struct ltopic *t)
{
    size_t n = 0;

    for (int i = 0; i < q->nparts; i++)
        n += (size_t)(t->parts[i].base + (long long)t->parts[i].n - t->parts[i].committed);
    return n;
}

static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);

    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int kq_local_produce(struct kq_local *q, const char *topic, const char *key, const void *value,
                     size_t len, const struct kq_header *hdrs, int n_hdrs, long wait_ms,
                     struct err *e)
{
    struct lmsg m;
    struct ltopic *t;
    struct lpart *pt;
    struct timespec dl;
    int rc = 0;

    memset(&m, 0, sizeof(m));
    if (key) {
        m.key_len = strlen(key);
        m.key = dup_bytes(key, m.key_len);
    }
    m.value = dup_bytes(value, len);
    m.len = len;
    m.ts = now_ms();
    if (n_hdrs > 0)
        m.hdrs = calloc((size_t)n_hdrs, sizeof(*m.hdrs));
    if ((key && !m.key) || !m.value || (n_hdrs > 0 && !m.hdrs)) {
        lmsg_release(&m);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n_hdrs; i++) {
        m.hdrs[i].name = strdup(hdrs[i].name);
        m.hdrs[i].value = strdup(hdrs[i].value ? hdrs[i].value : "");
        m.n_hdrs = i + 1;
        if (!m.hdrs[i].name || !m.hdrs[i].value) {
            lmsg_release(&m);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
    }
    deadline_in(&dl, wait_ms > 0 ? wait_ms : 0);
    pthread_mutex_lock(&q->mu);
    t = topic_get(q, topic, 1);
    if (!t) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    while (topic_unfinished(q, t) >= q->cap) {
        if (wait_ms <= 0 || pthread_cond_timedwait(&q->cond, &q->mu, &dl) == ETIMEDOUT) {
            if (topic_unfinished(q, t) < q->cap)
                break;
            rc = err_set(e, ERR_RETRY, "local queue \"%s\" is full (%zu messages)", topic, q->cap);
            goto out;
        }
    }
    pt = &t->parts[kq_partition_of(m.key, m.key_len, q->nparts)];
    if (pt->n == pt->alloc) {
        size_t na = pt->alloc ? pt->alloc * 2 : 16;
        struct lmsg *nm = realloc(pt->msgs, na * sizeof(*nm));

        if (!nm) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        pt->msgs = nm;
        pt->alloc = na;
    }
    pt->msgs[pt->n++] = m;
    memset(&m, 0, sizeof(m));
    pthread_cond_broadcast(&q->cond);
out:
    pthread_mutex_unlock(&q->mu);
    lmsg_release(&m);
    return rc;
}

int kq_local_consumer_new(struct kq_local_consumer **out, struct kq_local *q, struct err *e)
{
    struct kq_local_consumer *c;

    *out = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->has_consumer) {
        pthread_mutex_unlock(&q->mu);
        return err_set(e, ERR_INVALID, "the local queue already has a consumer");
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        pthread_mutex_unlock(&q->mu);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    q->has_consumer = 1;
    c->q = q;
    pthread_mutex_unlock(&q->mu);
    *out = c;
    return 0;
}

/* Tell the callback about every subscribed partition (assigned or revoked). */
static void announce(struct kq_local_consumer *c, int assigned)
{
    struct kq_local *q = c->q;
    struct ltopic *t;

    for (t = q->topics; t; t = t->next) {
        if (!t->subscribed)
            continue;
        for (int i = 0; i < q->nparts; i++) {
            t->parts[i].paused = 0;
            if (c->fn) {
                /* the callback may call store/pause: run it unlocked */
                pthread_mutex_unlock(&q->mu);
                c->fn(c->ud, assigned, 0, t->name, i);
                pthread_mutex_lock(&q->mu);
            }
        }
    }
}

void kq_local_consumer_free(struct kq_local_consumer *c)
{
    struct kq_local *q;

    if (!c)
        return;
    q = c->q;
    pthread_mutex_lock(&q->mu);
    if (c->announced)
        announce(c, 0);
    for (struct ltopic *t = q->topics; t; t = t->next)
        t->subscribed = 0;
    q->has_consumer = 0;
    pthread_mutex_unlock(&q->mu);
    free(c);
}

void kq_local_on_rebalance(struct kq_local_consumer *c, kq_rebalance_fn fn, void *ud)
{
    pthread_mutex_lock(&c->q->mu);
    c->fn = fn;
    c->ud = ud;
    pthread_mutex_unlock(&c->q->mu);
}

int kq_local_subscribe(struct kq_local_consumer *c, const char *const *topics, int n, struct err *e)
{
    struct kq_local *q = c->q;
    int rc = 0;

    pthread_mutex_lock(&q->mu);
    for (int i = 0; i < n; i++) {
        struct ltopic *t = topic_get(q, topics[i], 1);

        if (!t) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            break;
        }
        t->subscribed = 1;
        for (int p = 0; p < q->nparts; p++) {
            t->parts[p].pos = t->parts[p].committed;
            t->parts[p].paused = 0;
        }
    }
    c->announced = 0;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* Under mu: next deliverable message, or NULL; *drained = nothing left anywhere. */
static struct kq_msg *take(struct kq_local_consumer *c, int *drained, int *oom)
{
    struct kq_local *q = c->q;
    struct ltopic *t;
    int nsub = 0, slots;

    *drained = 1;
    *oom = 0;
    for (t = q->topics; t; t = t->next)
        nsub += t->subscribed;
    slots = nsub * q->nparts;
    for (int k = 0; k < slots; k++) {
        int idx = (int)((c->rr + (unsigned)k) % (unsigned)slots), s = 0;

        for (t = q->topics; t; t = t->next) {
            struct lpart *pt;

            if (!t->subscribed)
                continue;
            if (idx >= s + q->nparts) {
                s += q->nparts;
                continue;
            }
            pt = &t->parts[idx - s];
            if (pt->pos < pt->base + (long long)pt->n) {
                struct lmsg *m;
                struct kq_msg *out;

                *drained = 0;
                if (pt->paused)
                    break;
                m = &pt->msgs[pt->pos - pt->base];
                out = kq_msg_make(t->name, idx - s, pt->pos, m->key, m->key_len, m->value, m->len,
                                  m->ts, m->hdrs, m->n_hdrs);
                if (!out) {
                    *oom = 1;
                    return NULL;
                }
                pt->pos++;
                c->rr = (unsigned)idx + 1;
                return out;
            }
            break;
        }
    }
    return NULL;
}

int kq_local_poll(struct kq_local_consumer *c, long timeout_ms, struct kq_msg **out, struct err *e)
{
    struct kq_local *q = c->q;
    struct timespec dl;
    int drained, oom, rc = 0;

    *out = NULL;
    deadline_in(&dl, timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&q->mu);
    if (!c->announced) {
        c->announced = 1;
        announce(c, 1);
    }
    for (;;) {
        *out = take(c, &drained, &oom);
        if (oom) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            break;
        }
        if (*out)
            break;
        if (drained && q->closed) {
            rc = ERR_NOTFOUND;
            break;
        }
        if (timeout_ms <= 0 || pthread_cond_timedwait(&q->cond, &q->mu, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static struct lpart *part_get(struct kq_local *q, const char *topic, int partition)
{
    struct ltopic *t = topic_get(q, topic, 0);

    if (!t || partition < 0 || partition >= q->nparts)
        return NULL;
    return &t->parts[partition];
}

int kq_local_store(struct kq_local_consumer *c, const char *topic, int partition, long long next,
                   struct err *e)
{
    struct kq_local *q = c->q;
    struct lpart *pt;
    int rc = 0;

    pthread_mutex_lock(&q->mu);
    pt = part_get(q, topic, partition);
    if (!pt) {
        rc = err_set(e, ERR_NOTFOUND, "no partition %s[%d]", topic, partition);
        goto out;
    }
    if (next > pt->base + (long long)pt->n)
        next = pt->base + (long long)pt->n;
    if (next > pt->committed) {
        size_t drop = (size_t)(next - pt->base);

        pt->committed = next;
        for (size_t i = 0; i < drop; i++)
            lmsg_release(&pt->msgs[i]);
        memmove(pt->msgs, pt->msgs + drop, (pt->n - drop) * sizeof(*pt->msgs));
        pt->n -= drop;
        pt->base = next;
        pthread_cond_broadcast(&q->cond);
    }
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int kq_local_pause(struct kq_local_consumer *c, const char *topic, int partition, int pause,
                   struct err *e)
{
    struct kq_local *q = c->q;
    struct lpart *pt;
    int rc = 0;

    pthread_mutex_lock(&q->mu);
    pt = part_get(q, topic, partition);
    if (!pt)
        rc = err_set(e, ERR_NOTFOUND, "no partition %s[%d]", topic, partition);
    else
        pt->paused = pause;
    if (!pause)
        pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int kq_local_lag(struct kq_local_consumer *c, struct kq_lag *out, size_t cap, size_t *n,
                 struct err *e)
{
    struct kq_local *q = c->q;
    int rc = 0;

    *n = 0;
    pthread_mutex_lock(&q->mu);
    for (struct ltopic *t = q->topics; t; t = t->next) {
        if (!t->subscribed)
            continue;
        if (*n == cap) {
            rc = cap ? 0 : err_set(e, ERR_INVALID, "kq_consumer_lag: no room");
            break;
        }
        snprintf(out[*n].topic, sizeof(out[*n].topic), "%s", t->name);
        out[*n].lag = (long long)topic_unfinished(q, t);
        out[*n].partitions = q->nparts;
        (*n)++;
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int kq_local_scan(struct kq_local *q, const char *topic,
                  int (*fn)(const struct kq_msg *m, void *ud), void *ud, struct err *e)
{
    struct kq_msg **all = NULL;
    size_t n = 0, k = 0;
    struct ltopic *t;
    int rc = 0;

    /* copy under the lock, call fn without it (fn may produce) */
    pthread_mutex_lock(&q->mu);
    t = topic_get(q, topic, 0);
    if (t) {
        for (int i = 0; i < q->nparts; i++)
            n += t->parts[i].n;
        all = calloc(n ? n : 1, sizeof(*all));
        if (!all) {
            pthread_mutex_unlock(&q->mu);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        for (int i = 0; i < q->nparts; i++) {
            struct lpart *pt = &t->parts[i];

            for (size_t j = 0; j < pt->n; j++) {
                struct lmsg *m = &pt->msgs[j];

                all[k] = kq_msg_make(t->name, i, pt->base + (long long)j, m->key, m->key_len,
                                     m->value, m->len, m->ts, m->hdrs, m->n_hdrs);
                if (!all[k]) {
                    rc = err_set(e, ERR_NOMEM, "out of memory");
                    break;
                }
                k++;
            }
        }
    }
    pthread_mutex_unlock(&q->mu);
    for (size_t i = 0; i < k; i++) {
        if (rc == 0 && fn(all[i], ud) != 0)
            rc = 1;
        kq_msg_free(all[i]);
    }
    free(all);
    return rc < 0 ? rc : 0;
}
