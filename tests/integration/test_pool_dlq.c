/*
 * test_pool_dlq: failures through Kafka. A poison message (not a job) goes
 * to the dead-letter topic at once with its raw bytes; a job failing
 * retryably every time goes through the retry topic with growing due times
 * (backoff) and ends in the dead-letter topic after max_attempts; a job
 * failing permanently goes there at once. Each envelope carries its reason.
 * Then the fault is "fixed" and replay re-emits them (dry run first: lists,
 * emits nothing; filters select), the pool applies the same job ids, and a
 * second replay changes nothing in effect. Last, a time range of the jobs
 * topic itself is replayed (by message timestamps): exactly its messages.
 */
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
#include "pooltest.h"
#include "replay.h"
#include "stackenv.h"

#include "../stack/kafkactl.c"

#include "banned.h"

#define MAX_ATTEMPTS 3

struct app {
    atomic_int fixed;
    pthread_mutex_t mu;
    char applied[32][80];
    int napplied;
};

static int apply_faulty(const struct job *j, void *ud, struct err *e)
{
    struct app *a = ud;
    int key, seq;

    if (pt_job_parse(j, &key, &seq) < 0)
        return err_set(e, ERR_INVALID, "not a test job");
    if (!atomic_load(&a->fixed) && key == 1)
        return err_set(e, ERR_RETRY, "test: the server is still failing");
    if (!atomic_load(&a->fixed) && key == 2)
        return err_set(e, ERR_INVALID, "test: the job is refused for good");
    fprintf(stderr, "applied %s (attempt %d)\n", j->id, j->attempt);
    pthread_mutex_lock(&a->mu);
    if (a->napplied < 32)
        snprintf(a->applied[a->napplied++], sizeof(a->applied[0]), "%s", j->id);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

struct seen {
    int n, poison, failing, refused;
    char ids[2][80];
    long long due[MAX_ATTEMPTS], ts[MAX_ATTEMPTS];
    int nretry;
};

static int on_dlq(const struct kq_msg *m, void *ud)
{
    struct seen *s = ud;
    struct job_dlq d;
    struct err e = ERR_INIT;

    job_dlq_init(&d);
    if (job_dlq_decode(&d, m->value, m->len, NULL, &e) < 0) {
        fprintf(stderr, "bad envelope: %s\n", e.msg);
    } else {
        s->n++;
        if (!d.has_job && d.raw_len == 11 && memcmp(d.raw, "not a job!!", 11) == 0 &&
            strstr(d.error, "undecodable"))
            s->poison++;
        if (d.has_job && d.attempts == MAX_ATTEMPTS && strstr(d.error, "still failing") &&
            strcmp(d.error_code, "retry") == 0) {
            s->failing++;
            snprintf(s->ids[0], sizeof(s->ids[0]), "%s", d.job.id);
        }
        if (d.has_job && d.attempts == 1 && strstr(d.error, "refused for good") &&
            strcmp(d.error_code, "invalid") == 0) {
            s->refused++;
            snprintf(s->ids[1], sizeof(s->ids[1]), "%s", d.job.id);
        }
    }
    job_dlq_release(&d);
    return 0;
}

static int on_retry(const struct kq_msg *m, void *ud)
{
    struct seen *s = ud;
    char v[32], *end;

    if (s->nretry < MAX_ATTEMPTS && kq_msg_header(m, KQ_HDR_DUE, v, sizeof(v)) == 0) {
        s->due[s->nretry] = strtoll(v, &end, 10);
        s->ts[s->nretry] = m->timestamp_ms;
        s->nretry++;
    }
    return 0;
}

static int applied_has(struct app *a, const char *id)
{
    int n = 0;

    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->napplied; i++)
        n += strcmp(a->applied[i], id) == 0;
    pthread_mutex_unlock(&a->mu);
    return n;
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct kq_conf kc;
    struct pt_topics t;
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct pool_opts o;
    struct pt_runner r = {0};
    struct app a;
    struct seen s;
    struct replay_filter f;
    struct replay_stats rs;
    struct pool_stats st;
    struct err e = ERR_INIT;
    struct log lg;
    long long t_first, t_last;
    char why[256], *end;
    long long t0;

    if (stackenv_load() < 0)
        return 1;
    pt_kafka_conf(&kc, &t, "dlq");
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 2 1", t.jobs) == 0, "%s", why);
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 2 1", t.retry) == 0, "%s", why);
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 1 1", t.dlq) == 0, "%s", why);
    lc.host = getenv("REDIS_HOST");
    lc.port = (int)strtol(stackenv_get("REDIS_PORT"), &end, 10);
    memset(&a, 0, sizeof(a));
    pthread_mutex_init(&a.mu, NULL);

    CHECK_INT(&cc, kq_producer_new(&prod, &kc, &e), 0);
    t_first = job_now_ms();
    {
        struct buf b;

        buf_init(&b, 1 << 16);
        CHECK_INT(&cc, pt_job_encode(&b, 0, 0, 0, NULL), 0); /* fine */
        kq_produce(prod, t.jobs, "/Odoo/T/K0", b.data, b.len, NULL, 0, &e);
        buf_reset(&b);
        CHECK_INT(&cc, pt_job_encode(&b, 1, 0, 0, NULL), 0); /* fails every attempt */
        kq_produce(prod, t.jobs, "/Odoo/T/K1", b.data, b.len, NULL, 0, &e);
        buf_reset(&b);
        CHECK_INT(&cc, pt_job_encode(&b, 2, 0, 0, NULL), 0); /* refused for good */
        kq_produce(prod, t.jobs, "/Odoo/T/K2", b.data, b.len, NULL, 0, &e);
        kq_produce(prod, t.jobs, "/Odoo/T/K9", "not a job!!", 11, NULL, 0, &e);
        buf_release(&b);
    }
    CHECK_MSG(&cc, kq_flush(prod, 20000, NULL, &e) == 0, "%s", e.msg);
    t_last = job_now_ms() + 1;
    pt_sleep_ms(20);

    log_init(&lg, stderr, LOG_WARN, LOG_FMT_HUMAN, "test");
    kc.log = &lg;
    pool_opts_init(&o);
    o.log = &lg;
    o.concurrency = 4;
    o.max_attempts = MAX_ATTEMPTS;
    o.backoff_ms = 300;
    o.apply = apply_faulty;
    o.apply_ud = &a;
    o.kq = &kc;
    o.lock = &lc;
    o.grace_ms = 5000;
    CHECK_INT(&cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_MSG(&cc, pool_new(&r.p, &o, c, prod, &e) == 0, "%s", e.msg);
    pthread_create(&r.th, NULL, pt_run_pool, &r);
    t0 = pt_now_ms();
    do {
        pt_sleep_ms(100);
        pool_get_stats(r.p, &st);
    } while (st.dead < 3 && pt_now_ms() - t0 < 40000);
    CHECK_INT(&cc, st.dead, 3);
    CHECK_INT(&cc, st.retried, MAX_ATTEMPTS - 1);
    CHECK_INT(&cc, st.applied, 1);

    /* the envelopes and their reasons */
    memset(&s, 0, sizeof(s));
    CHECK_MSG(&cc, kq_scan(&kc, t.dlq, 20000, on_dlq, &s, &e) == 0, "%s", e.msg);
    CHECK_INT(&cc, s.n, 3);
    CHECK_INT(&cc, s.poison, 1);
    CHECK_INT(&cc, s.failing, 1);
    CHECK_INT(&cc, s.refused, 1);
    /* the retry topic: due = produced + backoff * 2^(attempt-1) */
    CHECK_INT(&cc, kq_scan(&kc, t.retry, 20000, on_retry, &s, &e), 0);
    CHECK_INT(&cc, s.nretry, MAX_ATTEMPTS - 1);
    for (int i = 0; i < s.nretry; i++)
        CHECK_MSG(&cc, s.due[i] - s.ts[i] >= 300LL * (1 << i) - 50, "retry %d due in %lld ms", i,
                  s.due[i] - s.ts[i]);

    /* dry run: lists, emits nothing; filters select */
    memset(&f, 0, sizeof(f));
    CHECK_INT(&cc, replay_dlq(&kc, prod, &f, 1, NULL, stdout, &rs, &e), 0);
    CHECK_INT(&cc, rs.matched, 3);
    CHECK_INT(&cc, rs.emitted, 0);
    f.error = "still failing";
    CHECK_INT(&cc, replay_dlq(&kc, prod, &f, 1, NULL, NULL, &rs, &e), 0);
    CHECK_INT(&cc, rs.matched, 1);
    memset(&f, 0, sizeof(f));
    f.path_prefix = "/Odoo/T/K2";
    CHECK_INT(&cc, replay_dlq(&kc, prod, &f, 1, NULL, NULL, &rs, &e), 0);
    CHECK_INT(&cc, rs.matched, 1);
    memset(&f, 0, sizeof(f));
    f.kind = "mkdir";
    CHECK_INT(&cc, replay_dlq(&kc, prod, &f, 1, NULL, NULL, &rs, &e), 0);
    CHECK_INT(&cc, rs.matched, 2);
    memset(&f, 0, sizeof(f));
    f.since_ms = 4102444800000LL; /* 2100-01-01 */
    CHECK_INT(&cc, replay_dlq(&kc, prod, &f, 1, NULL, NULL, &rs, &e), 0);
    CHECK_INT(&cc, rs.matched, 0);

    /* fixed: replay them all; the same job ids get applied */
    atomic_store(&a.fixed, 1);
    memset(&f, 0, sizeof(f));
    CHECK_MSG(&cc, replay_dlq(&kc, prod, &f, 0, NULL, NULL, &rs, &e) == 0, "%s", e.msg);
    CHECK_INT(&cc, rs.emitted, 3);
    t0 = pt_now_ms();
    while ((!applied_has(&a, s.ids[0]) || !applied_has(&a, s.ids[1])) && pt_now_ms() - t0 < 20000)
        pt_sleep_ms(100);
    /* at least once: a rebalance may deliver one twice */
    CHECK(&cc, applied_has(&a, s.ids[0]) >= 1);
    CHECK(&cc, applied_has(&a, s.ids[1]) >= 1);
    /* the poison message is still poison: dead-lettered again, with its bytes */
    t0 = pt_now_ms();
    do {
        pt_sleep_ms(100);
        pool_get_stats(r.p, &st);
    } while (st.dead < 4 && pt_now_ms() - t0 < 20000);
    CHECK_INT(&cc, st.dead, 4);
    memset(&s, 0, sizeof(s));
    CHECK_INT(&cc, kq_scan(&kc, t.dlq, 20000, on_dlq, &s, &e), 0);
    CHECK_INT(&cc, s.poison, 2);

    /* replay again, jobs only: the same ids once more, harmless */
    memset(&f, 0, sizeof(f));
    f.kind = "mkdir";
    {
        int n0 = applied_has(&a, s.ids[0]), n1 = applied_has(&a, s.ids[1]);

        CHECK_INT(&cc, replay_dlq(&kc, prod, &f, 0, NULL, NULL, &rs, &e), 0);
        CHECK_INT(&cc, rs.emitted, 2);
        t0 = pt_now_ms();
        while ((applied_has(&a, s.ids[0]) == n0 || applied_has(&a, s.ids[1]) == n1) &&
               pt_now_ms() - t0 < 20000)
            pt_sleep_ms(100);
        CHECK(&cc, applied_has(&a, s.ids[0]) > n0);
        CHECK(&cc, applied_has(&a, s.ids[1]) > n1);
    }

    /* the jobs topic itself, by time: exactly the first four messages */
    CHECK_INT(&cc, replay_jobs_range(&kc, prod, t_first, t_last, 1, NULL, &rs, &e), 0);
    CHECK_INT(&cc, rs.matched, 4);
    CHECK(&cc, rs.scanned > 4);
    CHECK_INT(&cc, replay_jobs_range(&kc, prod, t_first, t_last, 0, NULL, &rs, &e), 0);
    CHECK_INT(&cc, rs.emitted, 4);
    t0 = pt_now_ms();
    do { /* the poison one, once more */
        pt_sleep_ms(100);
        pool_get_stats(r.p, &st);
    } while (st.dead < 5 && pt_now_ms() - t0 < 20000);
    CHECK_INT(&cc, st.dead, 5);

    pool_stop(r.p);
    pthread_join(r.th, NULL);
    CHECK_INT(&cc, r.rc, 0);
    pool_free(r.p);
    kq_consumer_free(c);
    kq_producer_free(prod);
    pthread_mutex_destroy(&a.mu);
    log_release(&lg);
    return check_done(&cc);
}
