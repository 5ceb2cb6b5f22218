/*
 * test_kq_kafka: the Kafka transport against the stack's broker: every
 * produced message acknowledged (kq_flush), keys on murmur2 partitions (the
 * same as kq_partition_of), headers carried, offsets stored only when told
 * (a new consumer of the group gets exactly the unstored messages), pause
 * holds a partition back, kq_scan reads a topic whole without
 * committing, kq_consumer_lag counts what is not finished (polled
 * but unstored messages included) and drops to 0 once all is stored, and a
 * delivery receipt (kq_produce_tracked) says its message was acknowledged.
 * (A failed delivery: e2e.produce_faults, which takes the brokers down.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kq.h"
#include "pooltest.h"
#include "stackenv.h"

#include "../stack/kafkactl.c"

#include "banned.h"

#define N 120
#define NPART 4

static int count_scan(const struct kq_msg *m, void *ud)
{
    (void)m;
    (*(int *)ud)++;
    return 0;
}

/*
 * Poll c (dropping messages: this is used once everything was consumed)
 * until its lag on topic is want, up to 15 s; the last lag seen.
 */
static long long lag_wait(struct kq_consumer *c, const char *topic, long long want, int *parts)
{
    long long t0 = pt_now_ms(), got = -1;

    while (pt_now_ms() - t0 < 15000) {
        struct kq_lag l[2];
        struct kq_msg *m = NULL;
        struct err e = ERR_INIT;
        size_t n = 0;

        if (kq_consumer_lag(c, l, 2, &n, &e) == 0 && n == 1 && strcmp(l[0].topic, topic) == 0) {
            got = l[0].lag;
            *parts = l[0].partitions;
            if (got == want)
                break;
        }
        if (kq_poll(c, 100, &m, &e) == 0 && m)
            kq_msg_free(m);
    }
    return got;
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct kq_conf kc;
    struct pt_topics t;
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct err e = ERR_INIT;
    char why[256];
    long failed = -1;
    long long last_off[NPART];
    int got = 0, stored_upto[NPART], per_part[NPART], again = 0, scanned = 0;
    const char *topics[1];
    long long t0;

    if (stackenv_load() < 0)
        return 1;
    pt_kafka_conf(&kc, &t, "kq");
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s %d 1", t.jobs, NPART) == 0, "%s", why);
    topics[0] = t.jobs;

    CHECK_INT(&cc, kq_producer_new(&prod, &kc, &e), 0);
    for (int i = 0; i < N; i++) {
        char key[32], val[64], att[16];
        struct kq_header h[1] = {{KQ_HDR_ATTEMPT, att}};

        snprintf(key, sizeof(key), "/Odoo/T/K%d", i % 10);
        snprintf(val, sizeof(val), "message %d", i);
        snprintf(att, sizeof(att), "%d", i);
        CHECK_INT(&cc, kq_produce(prod, t.jobs, key, val, strlen(val), h, 1, &e), 0);
    }
    CHECK_MSG(&cc, kq_flush(prod, 20000, &failed, &e) == 0, "%s", e.msg);
    CHECK_INT(&cc, failed, 0);
    CHECK_MSG(&cc, kq_send(prod, t.jobs, "/Odoo/T/K0", "sync", 4, NULL, 0, 10000, &e) == 0, "%s",
              e.msg);

    /* consume all; store only the first half of each partition */
    for (int i = 0; i < NPART; i++) {
        last_off[i] = -1;
        per_part[i] = 0;
        stored_upto[i] = 0;
    }
    CHECK_INT(&cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_INT(&cc, kq_subscribe(c, topics, 1, &e), 0);
    t0 = pt_now_ms();
    while (got < N + 1 && pt_now_ms() - t0 < 30000) {
        struct kq_msg *m = NULL;
        char att[16];

        if (kq_poll(c, 100, &m, &e) < 0 || !m)
            continue;
        got++;
        CHECK_INT(&cc, m->partition, kq_partition_of(m->key, m->key_len, NPART));
        CHECK(&cc, m->offset > last_off[m->partition]);
        last_off[m->partition] = m->offset;
        per_part[m->partition]++;
        if (strcmp(m->value, "sync") != 0) {
            CHECK_INT(&cc, kq_msg_header(m, KQ_HDR_ATTEMPT, att, sizeof(att)), 0);
            CHECK_STR(&cc, m->value + 8, att); /* "message <i>" */
        }
        kq_msg_free(m);
    }
    CHECK_INT(&cc, got, N + 1);
    {
        int parts = 0;
        long long want = 0;

        /* everything polled, nothing stored: all of it is lag */
        CHECK_INT(&cc, lag_wait(c, t.jobs, N + 1, &parts), N + 1);
        CHECK_INT(&cc, parts, NPART);
        for (int i = 0; i < NPART; i++) {
            stored_upto[i] = per_part[i] / 2; /* offsets 0 .. n/2-1 finished */
            want += per_part[i] - stored_upto[i];
            if (stored_upto[i] > 0)
                CHECK_INT(&cc, kq_store(c, t.jobs, i, stored_upto[i], &e), 0);
        }
        CHECK_INT(&cc, lag_wait(c, t.jobs, want, &parts), want);
    }
    kq_consumer_free(c); /* commits the stored offsets, leaves the group */

    /* same group: exactly the unstored messages come again */
    CHECK_INT(&cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_INT(&cc, kq_subscribe(c, topics, 1, &e), 0);
    {
        int want = 0;

        for (int i = 0; i < NPART; i++)
            want += per_part[i] - stored_upto[i];
        t0 = pt_now_ms();
        while (again < want && pt_now_ms() - t0 < 30000) {
            struct kq_msg *m = NULL;

            if (kq_poll(c, 100, &m, &e) < 0 || !m)
                continue;
            CHECK(&cc, m->offset >= stored_upto[m->partition]);
            again++;
            kq_msg_free(m);
        }
        CHECK_INT(&cc, again, want);
        {
            int parts = 0;

            /* a new member starts from the commit: the unstored half is its lag, until stored */
            CHECK_INT(&cc, lag_wait(c, t.jobs, want, &parts), want);
            for (int i = 0; i < NPART; i++)
                CHECK_INT(&cc, kq_store(c, t.jobs, i, per_part[i], &e), 0);
            CHECK_INT(&cc, lag_wait(c, t.jobs, 0, &parts), 0);
            CHECK_INT(&cc, parts, NPART);
        }
    }
    kq_consumer_free(c);

    /* pause: a paused partition delivers nothing until resumed */
    {
        struct pt_topics t2;
        struct kq_conf kc2;
        int p0 = kq_partition_of("/p", 2, NPART), during = 0, after = 0, assigned = 0;

        pt_kafka_conf(&kc2, &t2, "kqpause");
        kc2.topic_jobs = t.jobs;
        CHECK_INT(&cc, kq_consumer_new(&c, &kc2, &e), 0);
        CHECK_INT(&cc, kq_subscribe(c, topics, 1, &e), 0);
        /* consume everything once to be assigned, then pause p0 */
        t0 = pt_now_ms();
        while (assigned < N + 1 && pt_now_ms() - t0 < 30000) {
            struct kq_msg *m = NULL;

            if (kq_poll(c, 100, &m, &e) == 0 && m) {
                assigned++;
                kq_msg_free(m);
            }
        }
        CHECK_INT(&cc, kq_pause(c, t.jobs, p0, &e), 0);
        for (int i = 0; i < 5; i++)
            kq_produce(prod, t.jobs, "/p", "x", 1, NULL, 0, &e);
        kq_flush(prod, 10000, NULL, &e);
        t0 = pt_now_ms();
        while (pt_now_ms() - t0 < 1500) {
            struct kq_msg *m = NULL;

            if (kq_poll(c, 100, &m, &e) == 0 && m) {
                during++;
                kq_msg_free(m);
            }
        }
        CHECK_INT(&cc, during, 0);
        CHECK_INT(&cc, kq_resume(c, t.jobs, p0, &e), 0);
        t0 = pt_now_ms();
        while (after < 5 && pt_now_ms() - t0 < 10000) {
            struct kq_msg *m = NULL;

            if (kq_poll(c, 100, &m, &e) == 0 && m) {
                after++;
                kq_msg_free(m);
            }
        }
        CHECK_INT(&cc, after, 5);
        kq_consumer_free(c);
    }

    /* scan: the whole topic, no commit */
    CHECK_MSG(&cc, kq_scan(&kc, t.jobs, 20000, count_scan, &scanned, &e) == 0, "%s", e.msg);
    CHECK_INT(&cc, scanned, N + 1 + 5);
    scanned = 0;
    CHECK_INT(&cc, kq_scan(&kc, t.jobs, 20000, count_scan, &scanned, &e), 0);
    CHECK_INT(&cc, scanned, N + 1 + 5);

    /* delivery receipts: each message's own acknowledgement, kept after the flush */
    {
        struct kq_receipt *r[3] = {NULL, NULL, NULL};

        for (int i = 0; i < 3; i++) {
            CHECK_INT(&cc, kq_produce_tracked(prod, t.retry, "/r", "r", 1, NULL, 0, &r[i], &e), 0);
            CHECK(&cc, r[i] != NULL);
        }
        CHECK_MSG(&cc, kq_flush(prod, 20000, NULL, &e) == 0, "%s", e.msg);
        for (int i = 0; i < 3; i++) {
            CHECK_INT(&cc, r[i] ? kq_receipt_state(prod, r[i]) : 0, 1);
            kq_receipt_free(prod, r[i]);
        }
        kq_receipt_free(prod, NULL);
    }

    kq_producer_free(prod);
    return check_done(&cc);
}
