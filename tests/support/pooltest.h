/*
 * pooltest: helpers shared by the transport tests (kq, lock, pool): build
 * numbered test jobs ("/Odoo/T/K<key>/f<seq>") and check per-key order of
 * what an applier saw. Header-only (static functions), test code only.
 *
 * Order invariant under at-least-once: a job (key, seq) may be applied only
 * when every seq' < seq of that key was applied before; a job may be applied
 * again (a redelivery), so the check is seq <= max_applied[key] + 1.
 */
#ifndef ODOOSYNC_POOLTEST_H
#define ODOOSYNC_POOLTEST_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "job.h"
#include "kq.h"
#include "pool.h"

/* Encoded job for (key, seq) under lock "/Odoo/T/K<key>"; 0 or a negative code. */
static inline int pt_job_encode(struct buf *out, int key, int seq, long long version,
                                const char *reason)
{
    struct job j;
    struct err e = ERR_INIT;
    char lock[64], path[96];
    int rc;

    job_init(&j);
    snprintf(lock, sizeof(lock), "/Odoo/T/K%d", key);
    snprintf(path, sizeof(path), "/Odoo/T/K%d/f%d", key, seq);
    j.schema = JOB_SCHEMA_VERSION;
    j.kind = JOB_MKDIR;
    j.side = JOB_SIDE_CLOUD;
    j.attempt = 0;
    j.created_at = (long long)time(NULL) * 1000;
    j.version = version;
    j.lock = strdup(lock);
    j.path = strdup(path);
    j.reason = strdup(reason ? reason : "test");
    rc = job_make_id(&j);
    if (rc == 0)
        rc = job_encode(&j, out, &e);
    if (rc < 0)
        fprintf(stderr, "pt_job_encode: %s\n", e.msg);
    job_release(&j);
    return rc;
}

/* (key, seq) of a test job, from its path; -1 if not one. */
static inline int pt_job_parse(const struct job *j, int *key, int *seq)
{
    if (!j->path || sscanf(j->path, "/Odoo/T/K%d/f%d", key, seq) != 2)
        return -1;
    return 0;
}

/*
 * Document jobs: seq % PT_DOC_EVERY == 0 is a folder job of document key (its
 * mkdir, its move into place, its delete, in turn), any other seq a file job
 * inside it (a cloud delete or an Odoo delete of "f<seq>"), all of one
 * version, lock "/Odoo/T/K<key>". reason = "doc <key> <seq>".
 */
#define PT_DOC_EVERY 9

static inline int pt_doc_job_encode(struct buf *out, int key, int seq)
{
    struct job j;
    struct err e = ERR_INIT;
    char lock[64], path[96], reason[64];
    int rc;

    job_init(&j);
    snprintf(lock, sizeof(lock), "/Odoo/T/K%d", key);
    snprintf(reason, sizeof(reason), "doc %d %d", key, seq);
    j.schema = JOB_SCHEMA_VERSION;
    j.side = JOB_SIDE_CLOUD;
    j.created_at = (long long)time(NULL) * 1000;
    j.version = 1;
    j.lock = strdup(lock);
    j.reason = strdup(reason);
    if (seq % PT_DOC_EVERY == 0) {
        int what = seq / PT_DOC_EVERY % 3;

        j.kind = what == 0 ? JOB_MKDIR : what == 1 ? JOB_RENAME : JOB_DELETE;
        if (what == 1) {
            snprintf(path, sizeof(path), "%s-was", lock);
            j.path = strdup(path);
            j.to = strdup(lock);
        } else {
            j.path = strdup(lock);
        }
    } else {
        snprintf(path, sizeof(path), "%s/f%d", lock, seq);
        j.path = strdup(path);
        j.kind = JOB_DELETE;
        if (seq % 2 == 0) {
            j.side = JOB_SIDE_ODOO;
            j.att_id = 1000L * key + seq;
        }
    }
    rc = job_make_id(&j);
    if (rc == 0)
        rc = job_encode(&j, out, &e);
    if (rc < 0)
        fprintf(stderr, "pt_doc_job_encode: %s\n", e.msg);
    job_release(&j);
    return rc;
}

/* (key, seq) of a document job; -1 if not one. */
static inline int pt_doc_parse(const struct job *j, int *key, int *seq)
{
    if (!j->reason || sscanf(j->reason, "doc %d %d", key, seq) != 2)
        return -1;
    return 0;
}

struct pt_order {
    pthread_mutex_t mu;
    int nkeys, nseq;
    int *maxs;           /* per key: highest seq applied, -1 none */
    unsigned char *seen; /* nkeys * nseq */
    long applies, distinct, violations, dups;
};

static inline int pt_order_init(struct pt_order *o, int nkeys, int nseq)
{
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->mu, NULL);
    o->nkeys = nkeys;
    o->nseq = nseq;
    o->maxs = malloc((size_t)nkeys * sizeof(*o->maxs));
    o->seen = calloc((size_t)nkeys * (size_t)nseq, 1);
    if (!o->maxs || !o->seen)
        return -1;
    for (int i = 0; i < nkeys; i++)
        o->maxs[i] = -1;
    return 0;
}

static inline void pt_order_release(struct pt_order *o)
{
    free(o->maxs);
    free(o->seen);
    pthread_mutex_destroy(&o->mu);
}

/* Record one apply; returns 0, or -1 on an order violation (printed). */
static inline int pt_order_note(struct pt_order *o, int key, int seq)
{
    int rc = 0;

    pthread_mutex_lock(&o->mu);
    o->applies++;
    if (key < 0 || key >= o->nkeys || seq < 0 || seq >= o->nseq) {
        o->violations++;
        rc = -1;
    } else {
        if (seq > o->maxs[key] + 1) {
            o->violations++;
            fprintf(stderr, "order violation: key %d seq %d applied after %d\n", key, seq,
                    o->maxs[key]);
            rc = -1;
        }
        if (seq > o->maxs[key])
            o->maxs[key] = seq;
        if (o->seen[key * o->nseq + seq])
            o->dups++;
        else
            o->distinct++;
        o->seen[key * o->nseq + seq] = 1;
    }
    pthread_mutex_unlock(&o->mu);
    return rc;
}

static inline long pt_order_distinct(struct pt_order *o)
{
    long n;

    pthread_mutex_lock(&o->mu);
    n = o->distinct;
    pthread_mutex_unlock(&o->mu);
    return n;
}

static inline void pt_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static inline long long pt_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Client properties that keep group tests short (dead members leave in 6 s). */
static const struct kq_prop pt_kafka_props[] = {
    {"session.timeout.ms", "6000"},
    {"heartbeat.interval.ms", "500"},
    {"auto.commit.interval.ms", "300"},
    {"fetch.wait.max.ms", "50"},
    {"topic.metadata.refresh.interval.ms", "2000"},
    {"reconnect.backoff.max.ms", "500"},
    {"retry.backoff.ms", "100"},
};

/* Topic names unique to this test run: "<base>.<name>.<pid>". */
struct pt_topics {
    char jobs[96], retry[96], dlq[96], events[96], group[96];
};

static inline void pt_kafka_conf(struct kq_conf *kc, struct pt_topics *t, const char *name)
{
    int pid = (int)getpid();

    snprintf(t->jobs, sizeof(t->jobs), "t.%s.jobs.%d", name, pid);
    snprintf(t->retry, sizeof(t->retry), "t.%s.retry.%d", name, pid);
    snprintf(t->dlq, sizeof(t->dlq), "t.%s.dlq.%d", name, pid);
    snprintf(t->events, sizeof(t->events), "t.%s.events.%d", name, pid);
    snprintf(t->group, sizeof(t->group), "g.%s.%d", name, pid);
    memset(kc, 0, sizeof(*kc));
    kc->bootstrap = getenv("KAFKA_BOOTSTRAP");
    kc->group = t->group;
    kc->topic_jobs = t->jobs;
    kc->topic_retry = t->retry;
    kc->topic_dlq = t->dlq;
    kc->topic_events = t->events;
    kc->props = pt_kafka_props;
    kc->n_props = sizeof(pt_kafka_props) / sizeof(pt_kafka_props[0]);
}

/* A pool run on its own thread: pthread_create(&r.th, NULL, pt_run_pool, &r); rc is
 * pool_run's (its message goes to stderr). c: a consumer the caller keeps with it. */
struct pt_runner {
    struct kq_consumer *c;
    struct pool *p;
    pthread_t th;
    int rc;
};

static inline void *pt_run_pool(void *arg)
{
    struct pt_runner *r = arg;
    struct err e = ERR_INIT;

    r->rc = pool_run(r->p, NULL, &e);
    if (r->rc < 0)
        fprintf(stderr, "pool_run: %s\n", e.msg);
    return NULL;
}

#endif
