/*
 * test_pool_order: per-key order through Kafka with three pools in one
 * process (one consumer each, same group), 8 jobs in flight per pool, Redis
 * locks. The second and third pools join while the first has jobs in
 * flight, so partitions move (cooperative rebalance) under running jobs.
 * The applier records (key, seq): a job is never applied before the
 * previous job of its key (redeliveries after a rebalance are allowed, see
 * pooltest.h), every job is applied, each pool got work, and 8 jobs really
 * ran at once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "kq.h"
#include "lock.h"
#include "pool.h"
#include "pooltest.h"
#include "stackenv.h"

#include "../stack/kafkactl.c"

#include "banned.h"

#define NKEYS 40
#define NSEQ 15
#define NPOOLS 3

struct app {
    struct pt_order ord;
    atomic_int running, max_running;
};

static int apply_order(const struct job *j, void *ud, struct err *e)
{
    struct app *a = ud;
    int key, seq, now, mx;

    if (pt_job_parse(j, &key, &seq) < 0)
        return err_set(e, ERR_INVALID, "not a test job");
    now = atomic_fetch_add(&a->running, 1) + 1;
    mx = atomic_load(&a->max_running);
    while (now > mx && !atomic_compare_exchange_weak(&a->max_running, &mx, now))
        ;
    pt_sleep_ms(1 + (seq * 7 + key) % 4);
    pt_order_note(&a->ord, key, seq);
    atomic_fetch_sub(&a->running, 1);
    return 0;
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct kq_conf kc;
    struct pt_topics t;
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct pool_opts o = {0};
    struct pt_runner r[NPOOLS];
    struct app a;
    struct err e = ERR_INIT;
    char why[256], *end;
    long long t0;
    long consumed_by[NPOOLS];

    if (stackenv_load() < 0)
        return 1;
    pt_kafka_conf(&kc, &t, "order");
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 6 1", t.jobs) == 0, "%s", why);
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 2 1", t.retry) == 0, "%s", why);
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 1 1", t.dlq) == 0, "%s", why);
    lc.host = getenv("REDIS_HOST");
    lc.port = (int)strtol(stackenv_get("REDIS_PORT"), &end, 10);
    CHECK_INT(&cc, pt_order_init(&a.ord, NKEYS, NSEQ), 0);
    atomic_store(&a.running, 0);
    atomic_store(&a.max_running, 0);

    CHECK_INT(&cc, kq_producer_new(&prod, &kc, &e), 0);
    o.concurrency = 8;
    o.apply = apply_order;
    o.apply_ud = &a;
    o.kq = &kc;
    o.lock = &lc;
    o.grace_ms = 10000;
    o.backoff_ms = 100;
    /* one pool first; the two others join while it has jobs in flight, so partitions
     * are revoked from under running jobs (cooperative rebalance) */
    for (int i = 0; i < NPOOLS; i++)
        memset(&r[i], 0, sizeof(r[i]));
    CHECK_INT(&cc, kq_consumer_new(&r[0].c, &kc, &e), 0);
    CHECK_MSG(&cc, pool_new(&r[0].p, &o, r[0].c, prod, &e) == 0, "%s", e.msg);
    pthread_create(&r[0].th, NULL, pt_run_pool, &r[0]);
    for (int s = 0; s < NSEQ; s++) {
        for (int k = 0; k < NKEYS; k++) {
            struct buf b;
            char key[32];

            buf_init(&b, 1 << 16);
            snprintf(key, sizeof(key), "/Odoo/T/K%d", k);
            CHECK_INT(&cc, pt_job_encode(&b, k, s, 0, NULL), 0);
            CHECK_INT(&cc, kq_produce(prod, t.jobs, key, b.data, b.len, NULL, 0, &e), 0);
            buf_release(&b);
        }
        if (s == NSEQ / 3) {
            CHECK_MSG(&cc, kq_flush(prod, 20000, NULL, &e) == 0, "%s", e.msg);
            t0 = pt_now_ms();
            while (pt_order_distinct(&a.ord) < 60 && pt_now_ms() - t0 < 20000)
                pt_sleep_ms(10);
            for (int i = 1; i < NPOOLS; i++) {
                CHECK_INT(&cc, kq_consumer_new(&r[i].c, &kc, &e), 0);
                CHECK_MSG(&cc, pool_new(&r[i].p, &o, r[i].c, prod, &e) == 0, "%s", e.msg);
                pthread_create(&r[i].th, NULL, pt_run_pool, &r[i]);
            }
        }
        if (s > NSEQ / 3)
            pt_sleep_ms(700); /* a steady stream while the group rebalances */
    }
    CHECK_MSG(&cc, kq_flush(prod, 20000, NULL, &e) == 0, "%s", e.msg);
    t0 = pt_now_ms();
    while (pt_order_distinct(&a.ord) < NKEYS * NSEQ && pt_now_ms() - t0 < 45000)
        pt_sleep_ms(50);
    for (int i = 0; i < NPOOLS; i++)
        pool_stop(r[i].p);
    for (int i = 0; i < NPOOLS; i++) {
        struct pool_stats st;

        pthread_join(r[i].th, NULL);
        CHECK_INT(&cc, r[i].rc, 0);
        pool_get_stats(r[i].p, &st);
        consumed_by[i] = st.consumed;
        CHECK_INT(&cc, st.dead, 0);
        pool_free(r[i].p);
        kq_consumer_free(r[i].c);
    }
    CHECK_INT(&cc, a.ord.violations, 0);
    CHECK_INT(&cc, a.ord.distinct, NKEYS * NSEQ);
    /* the first pool alone had a backlog: all its 8 threads ran at once */
    CHECK(&cc, atomic_load(&a.max_running) >= 8);
    CHECK(&cc, atomic_load(&a.max_running) <= 8 * NPOOLS);
    printf("order: %ld applies, %ld distinct, %ld redelivered, max %d at once, "
           "consumed %ld/%ld/%ld, %lld ms\n",
           a.ord.applies, a.ord.distinct, a.ord.dups, atomic_load(&a.max_running), consumed_by[0],
           consumed_by[1], consumed_by[2], pt_now_ms() - t0);
    for (int i = 0; i < NPOOLS; i++)
        CHECK(&cc, consumed_by[i] > 0);
    pt_order_release(&a.ord);
    kq_producer_free(prod);
    return check_done(&cc);
}
