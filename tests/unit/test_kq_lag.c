/*
 * test_kq_lag: the two figures /metrics takes from the queue and the pool,
 * on the in-process transport (no server):
 *   - kq_consumer_lag of the local queue: per subscribed topic, the messages
 *     not yet stored (polled ones included), 0 once stored;
 *   - pool_opts.on_lock_wait: once per job, when it holds its lock; a job
 *     whose lock another holder keeps busy reports a wait that lasts at
 *     least its busy re-tries' delays (a lower bound, never an upper one).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kq.h"
#include "lock.h"
#include "pool.h"
#include "pooltest.h"

#include "banned.h"

#define NJOBS 12

static long long lag_of(struct kq_consumer *c, const char *topic)
{
    struct kq_lag l[4];
    struct err e = ERR_INIT;
    size_t n = 0;

    if (kq_consumer_lag(c, l, 4, &n, &e) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].topic, topic) == 0)
            return l[i].lag;
    return -2; /* not reported */
}

/* n jobs, job s under key s (folder /Odoo/T/K<s>). */
static int produce_jobs(struct kq_producer *prod, int n)
{
    struct err e = ERR_INIT;

    for (int s = 0; s < n; s++) {
        struct buf b;
        char key[32];
        int rc;

        buf_init(&b, 1 << 16);
        snprintf(key, sizeof(key), "/Odoo/T/K%d", s);
        rc = pt_job_encode(&b, s, 0, 0, NULL);
        if (rc == 0)
            rc = kq_produce(prod, KQ_TOPIC_JOBS, key, b.data, b.len, NULL, 0, &e);
        buf_release(&b);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void test_local_lag(struct check_count *cc)
{
    struct kq_local *q = kq_local_new(3, 100);
    struct kq_conf kc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct kq_msg *m = NULL;
    struct kq_lag l[1];
    struct err e = ERR_INIT;
    const char *topics[2] = {KQ_TOPIC_JOBS, KQ_TOPIC_RETRY};
    size_t n = 0;
    int got = 0;

    kc.local = q;
    CHECK_INT(cc, kq_producer_new(&prod, &kc, &e), 0);
    CHECK_INT(cc, produce_jobs(prod, 5), 0);
    CHECK_INT(cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_INT(cc, kq_subscribe(c, topics, 2, &e), 0);
    CHECK_INT(cc, lag_of(c, KQ_TOPIC_JOBS), 5);
    CHECK_INT(cc, lag_of(c, KQ_TOPIC_RETRY), 0);
    CHECK(cc, kq_consumer_lag(c, l, 0, &n, &e) < 0); /* no room */
    CHECK_INT(cc, kq_consumer_lag(c, l, 1, &n, &e), 0);
    CHECK_INT(cc, n, 1);
    /* polled but not stored: still lag; stored: gone */
    while (got < 5 && kq_poll(c, 1000, &m, &e) == 0 && m) {
        got++;
        CHECK_INT(cc, lag_of(c, KQ_TOPIC_JOBS), 5 - (got - 1));
        CHECK_INT(cc, kq_store(c, m->topic, m->partition, m->offset + 1, &e), 0);
        kq_msg_free(m);
        m = NULL;
        CHECK_INT(cc, lag_of(c, KQ_TOPIC_JOBS), 5 - got);
    }
    CHECK_INT(cc, got, 5);
    CHECK_INT(cc, lag_of(c, KQ_TOPIC_JOBS), 0);
    kq_consumer_free(c);
    kq_producer_free(prod);
    kq_local_free(q);
}

struct waits {
    atomic_int n;
    pthread_mutex_t mu;
    double key0_wait; /* the wait of the job of key 0, -1 not seen */
};

static void on_wait(const struct job *j, double seconds, void *ud)
{
    struct waits *w = ud;
    int key = -1, seq = -1;

    atomic_fetch_add(&w->n, 1);
    if (pt_job_parse(j, &key, &seq) == 0 && key == 0) {
        pthread_mutex_lock(&w->mu);
        w->key0_wait = seconds;
        pthread_mutex_unlock(&w->mu);
    }
}

static int apply_ok(const struct job *j, void *ud, struct err *e)
{
    (void)j;
    (void)ud;
    (void)e;
    return 0;
}

static void test_lock_waits(struct check_count *cc)
{
    struct kq_local *q = kq_local_new(3, 100);
    struct lock_table *lt = lock_table_new();
    struct kq_conf kc = {0};
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct lock *holder = NULL;
    struct lock_token tok;
    struct pool_opts o;
    struct pool *p = NULL;
    struct pool_stats st;
    struct pt_runner r = {0};
    struct waits w;
    struct err e = ERR_INIT;
    long long t0, held_ms;

    kc.local = q;
    lc.local = lt;
    atomic_store(&w.n, 0);
    pthread_mutex_init(&w.mu, NULL);
    w.key0_wait = -1;
    /* someone else holds the lock of key 0's folder before the pool starts */
    CHECK_INT(cc, lock_new(&holder, &lc, &e), 0);
    CHECK_INT(cc, lock_acquire(holder, "/Odoo/T/K0", 60000, &tok, &e), 0);
    CHECK_INT(cc, kq_producer_new(&prod, &kc, &e), 0);
    CHECK_INT(cc, produce_jobs(prod, NJOBS), 0);
    kq_local_close(q);

    pool_opts_init(&o);
    o.concurrency = 4;
    o.busy_delay_ms = 20;
    o.apply = apply_ok;
    o.kq = &kc;
    o.lock = &lc;
    o.on_lock_wait = on_wait;
    o.lock_wait_ud = &w;
    CHECK_INT(cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_INT(cc, pool_new(&p, &o, c, prod, &e), 0);
    r.p = p;
    t0 = pt_now_ms();
    pthread_create(&r.th, NULL, pt_run_pool, &r);
    /* the other jobs get their locks; key 0's stays busy while we hold it */
    do {
        pool_get_stats(p, &st);
        if (st.busy >= 3 && atomic_load(&w.n) >= NJOBS - 1)
            break;
        pt_sleep_ms(10);
    } while (pt_now_ms() - t0 < 30000);
    CHECK(cc, st.busy >= 3);
    CHECK_INT(cc, atomic_load(&w.n), NJOBS - 1);
    held_ms = pt_now_ms() - t0; /* key 0's job first tried after t0 and waits at least until now */
    CHECK_INT(cc, lock_release(holder, "/Odoo/T/K0", &tok, &e), 0);
    pthread_join(r.th, NULL);
    CHECK_INT(cc, r.rc, 0);
    pool_get_stats(p, &st);
    CHECK_INT(cc, atomic_load(&w.n), NJOBS);
    CHECK_INT(cc, st.lock_waits, NJOBS);
    CHECK_INT(cc, st.applied, NJOBS);
    pthread_mutex_lock(&w.mu);
    /* the job of key 0 first tried after t0 and waited until the release (after held_ms):
     * its wait is some positive time, and the total wait includes it */
    CHECK(cc, w.key0_wait > 0);
    CHECK(cc, w.key0_wait >= 0.05); /* >= 3 busy re-tries, each after busy_delay_ms (20) */
    CHECK(cc, st.lock_wait_seconds >= w.key0_wait);
    pthread_mutex_unlock(&w.mu);
    printf("lock waits: %ld jobs, %.3f s in all (held %lld ms)\n", st.lock_waits,
           st.lock_wait_seconds, held_ms);
    pool_free(p);
    kq_consumer_free(c);
    kq_producer_free(prod);
    lock_free(holder);
    kq_local_free(q);
    lock_table_free(lt);
    pthread_mutex_destroy(&w.mu);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_local_lag(&cc);
    test_lock_waits(&cc);
    return check_done(&cc);
}
