/*
 * test_kq_local: the in-process transport of the local mode (kq_local +
 * lock_local) under the worker pool, showing the semantics the Kafka
 * transport has: per-key order with 8 jobs in flight, offsets stored only
 * when finished (a consumer freed early gets the unfinished jobs again),
 * retry with backoff then dead-letter, poison messages dead-lettered at
 * once, per-path versions, and lock ttl semantics.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jobmsg.h"
#include "kq.h"
#include "lock.h"
#include "pool.h"
#include "locktest.h"
#include "pooltest.h"

#include "banned.h"

#define NKEYS 20
#define NSEQ 40

struct app {
    struct pt_order ord;
    atomic_int fail_key;    /* key whose jobs fail retryably every time, -1 none */
    atomic_int invalid_key; /* key whose jobs fail permanently, -1 none */
    atomic_int slow_ms;
    unsigned seed;
};

static int apply_test(const struct job *j, void *ud, struct err *e)
{
    struct app *a = ud;
    int key, seq;

    if (pt_job_parse(j, &key, &seq) < 0)
        return err_set(e, ERR_INVALID, "not a test job");
    if (key == atomic_load(&a->fail_key))
        return err_set(e, ERR_RETRY, "test: key %d always fails", key);
    if (key == atomic_load(&a->invalid_key))
        return err_set(e, ERR_INVALID, "test: key %d is invalid", key);
    if (atomic_load(&a->slow_ms) > 0)
        pt_sleep_ms(rand() % (atomic_load(&a->slow_ms) + 1));
    pt_order_note(&a->ord, key, seq);
    return 0;
}

static int produce_all(struct kq_producer *prod, const char *topic, int nkeys, int nseq)
{
    struct err e = ERR_INIT;

    for (int s = 0; s < nseq; s++) {
        for (int k = 0; k < nkeys; k++) {
            struct buf b;
            char key[32];
            int rc;

            buf_init(&b, 1 << 16);
            snprintf(key, sizeof(key), "/Odoo/T/K%d", k);
            rc = pt_job_encode(&b, k, s, 0, NULL);
            if (rc == 0)
                rc = kq_produce(prod, topic, key, b.data, b.len, NULL, 0, &e);
            buf_release(&b);
            if (rc < 0) {
                fprintf(stderr, "produce: %s\n", e.msg);
                return rc;
            }
        }
    }
    return 0;
}

static void test_order_and_restart(struct check_count *cc)
{
    struct kq_local *q = kq_local_new(4, 10000);
    struct lock_table *lt = lock_table_new();
    struct kq_conf kc = {0};
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct pool_opts o = {0};
    struct pool *p = NULL;
    struct app a;
    struct err e = ERR_INIT;
    struct pt_runner r = {0};
    struct pool_stats st;

    kc.local = q;
    lc.local = lt;
    CHECK_INT(cc, pt_order_init(&a.ord, NKEYS, NSEQ), 0);
    atomic_store(&a.fail_key, -1);
    atomic_store(&a.invalid_key, -1);
    atomic_store(&a.slow_ms, 2);
    CHECK_INT(cc, kq_producer_new(&prod, &kc, &e), 0);
    CHECK_INT(cc, produce_all(prod, KQ_TOPIC_JOBS, NKEYS, NSEQ), 0);

    /* first pool: stopped early; the unfinished jobs must come back */
    o.concurrency = 8;
    o.apply = apply_test;
    o.apply_ud = &a;
    o.kq = &kc;
    o.lock = &lc;
    o.grace_ms = 5000;
    CHECK_INT(cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_INT(cc, pool_new(&p, &o, c, prod, &e), 0);
    r.p = p;
    pthread_create(&r.th, NULL, pt_run_pool, &r);
    while (pt_order_distinct(&a.ord) < NKEYS * NSEQ / 4)
        pt_sleep_ms(5);
    pool_stop(p);
    pthread_join(r.th, NULL);
    CHECK_INT(cc, r.rc, 0);
    pool_get_stats(p, &st);
    CHECK(cc, st.applied < NKEYS * NSEQ);
    pool_free(p);
    kq_consumer_free(c);

    /* second pool: input closed, runs to the end of input */
    kq_local_close(q);
    atomic_store(&a.slow_ms, 0);
    CHECK_INT(cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_INT(cc, pool_new(&p, &o, c, prod, &e), 0);
    CHECK_INT(cc, pool_run(p, NULL, &e), 0);
    pool_get_stats(p, &st);
    pool_free(p);
    kq_consumer_free(c);

    CHECK_INT(cc, a.ord.violations, 0);
    CHECK_INT(cc, a.ord.distinct, NKEYS * NSEQ);
    printf("order: %ld applies, %ld distinct, %ld redelivered\n", a.ord.applies, a.ord.distinct,
           a.ord.dups);
    pt_order_release(&a.ord);
    kq_producer_free(prod);
    kq_local_free(q);
    lock_table_free(lt);
}

struct dlq_seen {
    int n, poison, failed, invalid;
    char ids[3][80];
};

static int on_dlq(const struct kq_msg *m, void *ud)
{
    struct dlq_seen *s = ud;
    struct job_dlq d;
    struct err e = ERR_INIT;

    job_dlq_init(&d);
    if (job_dlq_decode(&d, m->value, m->len, NULL, &e) == 0) {
        s->n++;
        if (!d.has_job && strstr(d.error, "undecodable"))
            s->poison++;
        else if (d.has_job && d.attempts == 3 && strstr(d.error, "always fails"))
            s->failed++;
        else if (d.has_job && d.attempts == 1 && strcmp(d.error_code, "invalid") == 0)
            s->invalid++;
    } else {
        fprintf(stderr, "bad envelope: %s\n", e.msg);
    }
    job_dlq_release(&d);
    return 0;
}

static atomic_int ev_skipped, ev_dead;

static void on_event(const struct job *j, const struct job_event *ev, void *ud)
{
    (void)j;
    (void)ud;
    if (ev->result == JOB_SKIPPED)
        atomic_fetch_add(&ev_skipped, 1);
    if (ev->result == JOB_DEAD_LETTERED && ev->error && ev->error_code < 0)
        atomic_fetch_add(&ev_dead, 1);
}

static void test_retry_dlq_versions(struct check_count *cc)
{
    struct kq_local *q = kq_local_new(2, 1000);
    struct lock_table *lt = lock_table_new();
    struct kq_conf kc = {0};
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct pool_opts o = {0};
    struct pool *p = NULL;
    struct app a;
    struct err e = ERR_INIT;
    struct pool_stats st;
    struct dlq_seen seen = {0};
    struct buf b;
    long long t0;

    kc.local = q;
    lc.local = lt;
    pt_order_init(&a.ord, 10, 10);
    atomic_store(&a.fail_key, 1);
    atomic_store(&a.invalid_key, 2);
    atomic_store(&a.slow_ms, 0);
    kq_producer_new(&prod, &kc, &e);
    buf_init(&b, 1 << 16);
    /* key 0: versions 5 then 3 (older: skipped), key 1: fails always, key 2: invalid */
    pt_job_encode(&b, 0, 0, 5, NULL);
    kq_produce(prod, KQ_TOPIC_JOBS, "/Odoo/T/K0", b.data, b.len, NULL, 0, &e);
    buf_reset(&b);
    pt_job_encode(&b, 0, 1, 3, NULL);
    kq_produce(prod, KQ_TOPIC_JOBS, "/Odoo/T/K0", b.data, b.len, NULL, 0, &e);
    buf_reset(&b);
    pt_job_encode(&b, 1, 0, 0, NULL);
    kq_produce(prod, KQ_TOPIC_JOBS, "/Odoo/T/K1", b.data, b.len, NULL, 0, &e);
    buf_reset(&b);
    pt_job_encode(&b, 2, 0, 0, NULL);
    kq_produce(prod, KQ_TOPIC_JOBS, "/Odoo/T/K2", b.data, b.len, NULL, 0, &e);
    kq_produce(prod, KQ_TOPIC_JOBS, "/poison", "{not json", 9, NULL, 0, &e);
    buf_release(&b);
    kq_local_close(q);

    o.concurrency = 4;
    o.max_attempts = 3;
    o.backoff_ms = 50;
    o.on_event = on_event;
    o.apply = apply_test;
    o.apply_ud = &a;
    o.kq = &kc;
    o.lock = &lc;
    kq_consumer_new(&c, &kc, &e);
    CHECK_INT(cc, pool_new(&p, &o, c, prod, &e), 0);
    t0 = pt_now_ms();
    CHECK_INT(cc, pool_run(p, NULL, &e), 0);
    /* two backoffs of 50 and 100 ms at least */
    CHECK(cc, pt_now_ms() - t0 >= 150);
    pool_get_stats(p, &st);
    CHECK_INT(cc, st.applied, 1);
    CHECK_INT(cc, st.skipped, 1);
    CHECK_INT(cc, st.retried, 2);
    CHECK_INT(cc, st.dead, 3);
    CHECK_INT(cc, atomic_load(&ev_skipped), 1);
    CHECK_INT(cc, atomic_load(&ev_dead), 2); /* the poison message has no job: no event */
    pool_free(p);
    kq_consumer_free(c);
    CHECK_INT(cc, kq_scan(&kc, KQ_TOPIC_DLQ, 1000, on_dlq, &seen, &e), 0);
    CHECK_INT(cc, seen.n, 3);
    CHECK_INT(cc, seen.poison, 1);
    CHECK_INT(cc, seen.failed, 1);
    CHECK_INT(cc, seen.invalid, 1);
    pt_order_release(&a.ord);
    kq_producer_free(prod);
    kq_local_free(q);
    lock_table_free(lt);
}

static void test_lock_local(struct check_count *cc)
{
    struct lock_table *lt = lock_table_new();
    struct lock_conf lc = {0};
    struct lock *a = NULL, *b = NULL;
    struct lock_token ta, tb;
    struct err e = ERR_INIT;
    long long v = -1;

    lc.local = lt;
    CHECK_INT(cc, lock_new(&a, &lc, &e), 0);
    CHECK_INT(cc, lock_new(&b, &lc, &e), 0);
    CHECK_INT(cc, lock_acquire(a, "/x", 100, &ta, &e), 0);
    CHECK_INT(cc, lock_acquire(b, "/x", 100, &tb, &e), ERR_EXISTS);
    CHECK_INT(cc, lock_release(b, "/x", &tb, &e), ERR_NOTFOUND); /* not the holder */
    CHECK_INT(cc, lock_extend(a, "/x", &ta, 300, &e), 0);
    pt_sleep_ms(150);
    CHECK_INT(cc, lock_acquire(b, "/x", 100, &tb, &e), ERR_EXISTS); /* extended */
    pt_sleep_ms(200);
    CHECK_INT(cc, lock_acquire(b, "/x", 1000, &tb, &e), 0); /* a's expired */
    CHECK_INT(cc, lock_release(a, "/x", &ta, &e), ERR_NOTFOUND);
    CHECK_INT(cc, lock_extend(a, "/x", &ta, 1000, &e), ERR_NOTFOUND);
    CHECK_INT(cc, lock_release(b, "/x", &tb, &e), 0);
    CHECK_INT(cc, lock_ver_get(a, "/x", &v, &e), 0);
    CHECK_INT(cc, v, 0);
    CHECK_INT(cc, lock_ver_raise(a, "/x", 7, &e), 0);
    CHECK_INT(cc, lock_ver_raise(b, "/x", 4, &e), 0);
    CHECK_INT(cc, lock_ver_get(b, "/x", &v, &e), 0);
    CHECK_INT(cc, v, 7);
    lt_check_modes(cc, a, b, "/x");
    lt_check_modes(cc, a, b, "/y/file"); /* an entry that held no version */
    lock_free(a);
    lock_free(b);
    lock_table_free(lt);
}

static void test_queue_basics(struct check_count *cc)
{
    struct kq_local *q = kq_local_new(3, 4);
    struct kq_conf kc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct kq_msg *m = NULL;
    struct err e = ERR_INIT;
    struct kq_header h = {KQ_HDR_DUE, "12345"};
    const char *topics[1] = {"t"};
    char v[16];
    int got = 0;

    kc.local = q;
    kq_producer_new(&prod, &kc, &e);
    for (int i = 0; i < 4; i++)
        CHECK_INT(cc, kq_send(prod, "t", "k", "abc", 3, &h, 1, 0, &e), 0);
    /* full: a fifth waits, then gives up */
    CHECK_INT(cc, kq_send(prod, "t", "k", "abc", 3, NULL, 0, 50, &e), ERR_RETRY);
    CHECK_INT(cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_INT(cc, kq_subscribe(c, topics, 1, &e), 0);
    while (kq_poll(c, 10, &m, &e) == 0 && m) {
        CHECK_INT(cc, m->partition, kq_partition_of("k", 1, 3));
        CHECK_INT(cc, m->offset, got);
        CHECK_INT(cc, kq_msg_header(m, KQ_HDR_DUE, v, sizeof(v)), 0);
        CHECK_STR(cc, v, "12345");
        CHECK_INT(cc, kq_msg_header(m, "nope", v, sizeof(v)), ERR_NOTFOUND);
        kq_msg_free(m);
        got++;
    }
    CHECK_INT(cc, got, 4);
    /* nothing stored: a new consumer gets them all again */
    kq_consumer_free(c);
    kq_consumer_new(&c, &kc, &e);
    kq_subscribe(c, topics, 1, &e);
    CHECK_INT(cc, kq_poll(c, 10, &m, &e), 0);
    CHECK(cc, m && m->offset == 0);
    if (m)
        CHECK_INT(cc, kq_store(c, "t", m->partition, 3, &e), 0);
    kq_msg_free(m);
    kq_consumer_free(c);
    kq_consumer_new(&c, &kc, &e);
    kq_subscribe(c, topics, 1, &e);
    CHECK_INT(cc, kq_poll(c, 10, &m, &e), 0);
    CHECK(cc, m && m->offset == 3);
    kq_msg_free(m);
    /* room again after the store */
    CHECK_INT(cc, kq_send(prod, "t", "k", "abc", 3, NULL, 0, 50, &e), 0);
    /* a receipt: in the queue means acknowledged */
    {
        struct kq_receipt *r = NULL;

        CHECK_INT(cc, kq_produce_tracked(prod, "t", "k", "abc", 3, NULL, 0, &r, &e), 0);
        CHECK(cc, r != NULL);
        CHECK_INT(cc, r ? kq_receipt_state(prod, r) : 0, 1);
        kq_receipt_free(prod, r);
    }
    kq_consumer_free(c);
    kq_producer_free(prod);
    kq_local_free(q);
    /* the same partition as librdkafka's murmur2 partitioner, for any key */
    for (int i = 0; i < 200; i++) {
        char key[64];
        int n = snprintf(key, sizeof(key), "/Odoo/Quotations/SO%03d%.*s", i, i % 4, "xyz");

        CHECK_INT(cc, kq_partition_of(key, (size_t)n, 7),
                  rd_kafka_msg_partitioner_murmur2(NULL, key, (size_t)n, 7, NULL, NULL));
    }
}

/* A job longer than its lock's ttl keeps the lock: the heartbeat extends it. */
struct hb_app {
    struct lock_table *lt;
    atomic_int in_apply, stolen, probes;
};

static int apply_long(const struct job *j, void *ud, struct err *e)
{
    struct hb_app *h = ud;
    struct lock_conf lc = {0};
    struct lock *l = NULL;

    (void)j;
    lc.local = h->lt;
    if (lock_new(&l, &lc, e) < 0)
        return ERR_NOMEM;
    atomic_store(&h->in_apply, 1);
    for (int i = 0; i < 12; i++) { /* 1.2 s, the ttl is 300 ms */
        struct lock_token tok;
        struct err pe = ERR_INIT;

        pt_sleep_ms(100);
        atomic_fetch_add(&h->probes, 1);
        if (lock_acquire(l, "/Odoo/T/K5", 10000, &tok, &pe) == 0) {
            atomic_fetch_add(&h->stolen, 1);
            lock_release(l, "/Odoo/T/K5", &tok, &pe);
        }
    }
    lock_free(l);
    return 0;
}

static void test_heartbeat(struct check_count *cc)
{
    struct kq_local *q = kq_local_new(1, 10);
    struct hb_app h;
    struct kq_conf kc = {0};
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct pool_opts o;
    struct pool *p = NULL;
    struct err e = ERR_INIT;
    struct buf b;

    memset(&h, 0, sizeof(h));
    h.lt = lock_table_new();
    kc.local = q;
    lc.local = h.lt;
    kq_producer_new(&prod, &kc, &e);
    buf_init(&b, 1 << 16);
    pt_job_encode(&b, 5, 0, 0, NULL);
    kq_produce(prod, KQ_TOPIC_JOBS, "/Odoo/T/K5", b.data, b.len, NULL, 0, &e);
    buf_release(&b);
    kq_local_close(q);
    pool_opts_init(&o);
    o.concurrency = 2;
    o.lock_ttl_ms = 300;
    o.apply = apply_long;
    o.apply_ud = &h;
    o.kq = &kc;
    o.lock = &lc;
    kq_consumer_new(&c, &kc, &e);
    CHECK_INT(cc, pool_new(&p, &o, c, prod, &e), 0);
    CHECK_INT(cc, pool_run(p, NULL, &e), 0);
    CHECK_INT(cc, atomic_load(&h.probes), 12);
    CHECK_INT(cc, atomic_load(&h.stolen), 0);
    pool_free(p);
    kq_consumer_free(c);
    kq_producer_free(prod);
    kq_local_free(q);
    lock_table_free(h.lt);
}

/* A busy lock delays its job only: the other keys go on meanwhile. */
static void test_busy_lock(struct check_count *cc)
{
    struct kq_local *q = kq_local_new(2, 100);
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
    struct app a;
    struct err e = ERR_INIT;
    struct pt_runner r = {0};
    long long t0;

    kc.local = q;
    lc.local = lt;
    pt_order_init(&a.ord, 3, 5);
    atomic_store(&a.fail_key, -1);
    atomic_store(&a.invalid_key, -1);
    atomic_store(&a.slow_ms, 0);
    lock_new(&holder, &lc, &e);
    CHECK_INT(cc, lock_acquire(holder, "/Odoo/T/K1", 10000, &tok, &e), 0);
    kq_producer_new(&prod, &kc, &e);
    CHECK_INT(cc, produce_all(prod, KQ_TOPIC_JOBS, 3, 5), 0);
    pool_opts_init(&o);
    o.concurrency = 2;
    o.busy_delay_ms = 20;
    o.apply = apply_test;
    o.apply_ud = &a;
    o.kq = &kc;
    o.lock = &lc;
    kq_consumer_new(&c, &kc, &e);
    CHECK_INT(cc, pool_new(&p, &o, c, prod, &e), 0);
    r.p = p;
    pthread_create(&r.th, NULL, pt_run_pool, &r);
    t0 = pt_now_ms();
    while (pt_order_distinct(&a.ord) < 10 && pt_now_ms() - t0 < 5000)
        pt_sleep_ms(5);
    pt_sleep_ms(100);
    /* keys 0 and 2 done, key 1 waits for its lock, with no thread blocked on it */
    CHECK_INT(cc, pt_order_distinct(&a.ord), 10);
    CHECK_INT(cc, a.ord.maxs[1], -1);
    pool_get_stats(p, &st);
    CHECK(cc, st.busy > 0);
    lock_release(holder, "/Odoo/T/K1", &tok, &e);
    kq_local_close(q);
    pthread_join(r.th, NULL);
    CHECK_INT(cc, r.rc, 0);
    CHECK_INT(cc, pt_order_distinct(&a.ord), 15);
    CHECK_INT(cc, a.ord.violations, 0);
    pool_free(p);
    kq_consumer_free(c);
    kq_producer_free(prod);
    lock_free(holder);
    pt_order_release(&a.ord);
    kq_local_free(q);
    lock_table_free(lt);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_queue_basics(&cc);
    test_lock_local(&cc);
    test_heartbeat(&cc);
    test_busy_lock(&cc);
    test_retry_dlq_versions(&cc);
    test_order_and_restart(&cc);
    return check_done(&cc);
}
