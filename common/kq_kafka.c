/*
 * kq_kafka: the queue on Kafka (librdkafka), after librdkafka's
 * examples/idempotent_producer.c and examples/consumer.c. This file holds
 * what the producer and the consumer share (configuration, librdkafka's log)
 * and the producer; kq_kafka_consumer.c the consumer and the admin calls,
 * kq_kafka_lag.c the lag (both share kq_kafka_int.h).
 *
 * Producer: enable.idempotence=true, acks=all, partitioner=murmur2_random,
 * then the pass-through properties. A background thread serves delivery
 * reports (rd_kafka_poll) for the handle's lifetime. Every report is counted
 * (outstanding / failed); a message sent with kq_send or kq_produce_tracked
 * carries a receipt (kq_int.h) that its report completes. The receipt is
 * refcounted: a sender that gives up waiting drops its reference and the
 * report frees it later; a message still unreported when the producer is
 * freed is purged, so its report comes (and frees its receipt) before the
 * poll thread stops.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kq.h"
#include "kq_int.h"
#include "kq_kafka_int.h"

#include "banned.h"

/* Every opaque given to librdkafka starts with the log (see kq_kafka_log_cb). */
struct kq_kafka_producer {
    struct log *log;
    rd_kafka_t *rk;
    pthread_t poller;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    long outstanding;
    long failed;
    char last_err[256];
};

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

int kq_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, struct err *e)
{
    char errstr[512];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return err_set(e, ERR_INVALID, "kafka property \"%s\": %s", name, errstr);
    return 0;
}

/* Common part: bootstrap, pass-through properties, SASL password. */
int kq_kafka_conf_common(rd_kafka_conf_t *conf, const struct kq_conf *c, struct err *e)
{
    int rc = 0;

    if (!c->bootstrap || !*c->bootstrap)
        return err_set(e, ERR_INVALID, "kafka: no bootstrap servers configured");
    rc = kq_kafka_conf_set(conf, "bootstrap.servers", c->bootstrap, e);
    for (size_t i = 0; rc == 0 && i < c->n_props; i++)
        rc = kq_kafka_conf_set(conf, c->props[i].name, c->props[i].value, e);
    if (rc == 0 && c->sasl_password)
        rc = kq_kafka_conf_set(conf, "sasl.password", c->sasl_password, e);
    return rc;
}

void kq_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct kq_kafka_log_holder *h = rd_kafka_opaque(rk);
    struct log *lg = h ? h->log : NULL;
    int lvl = level <= 3 ? LOG_ERROR : level <= 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;

    /* librdkafka is chatty about brokers coming and going: one level down */
    if (lvl < LOG_DEBUG)
        lvl++;
    log_at(lg, lvl, NULL, NULL, "kafka %s: %s", fac, buf);
}

/* ---- producer ---- */

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct kq_kafka_producer *p = opaque;
    struct kq_receipt *w = m->_private;

    (void)rk;
    pthread_mutex_lock(&p->mu);
    p->outstanding--;
    if (m->err) {
        p->failed++;
        snprintf(p->last_err, sizeof(p->last_err), "%s", rd_kafka_err2str(m->err));
    }
    if (w) {
        w->done = 1;
        w->err = m->err;
        if (--w->refs == 0)
            free(w);
    }
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

static void *poller_main(void *arg)
{
    struct kq_kafka_producer *p = arg;

    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->rk, 100);
    return NULL;
}

/*
 * Asks for the jobs topic's partitions and leaders once, now, and waits (a bounded
 * time) for the answer. librdkafka 2.0.2 does not always ask at the first message to a
 * topic it does not know: when that message comes while its first metadata request
 * (the brokers') is under way, it waits for its once-a-second scan of unknown topics,
 * and every message waits with it (`debug=metadata`: "refresh unavailable topics" one
 * second after the producer started). Not knowing is not an error: the messages then
 * wait for librdkafka as before. The wait is capped at that one second it saves: longer
 * would only hold up the start of a worker whose broker is away.
 */
static void producer_warm(struct kq_kafka_producer *p, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t kerr;

    if (!rkt)
        return;
    kerr = rd_kafka_metadata(p->rk, 0, rkt, &md, 1000);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_debug(p->log, "kafka: no metadata for topic \"%s\" yet: %s", topic,
                  rd_kafka_err2str(kerr));
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
}

int kq_kafka_producer_new(struct kq_kafka_producer **out, const struct kq_conf *c, struct err *e)
{
    struct kq_kafka_producer *p = NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    int rc;

    *out = NULL;
    if (!conf)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = kq_kafka_conf_common(conf, c, e);
    if (rc == 0)
        rc = kq_kafka_conf_set(conf, "enable.idempotence", "true", e);
    if (rc == 0)
        rc = kq_kafka_conf_set(conf, "acks", "all", e);
    if (rc == 0)
        rc = kq_kafka_conf_set(conf, "partitioner", "murmur2_random", e);
    /* pass-through properties win over our defaults, but not over the three above */
    for (size_t i = 0; rc == 0 && i < c->n_props; i++)
        if (strcmp(c->props[i].name, "enable.idempotence") && strcmp(c->props[i].name, "acks") &&
            strcmp(c->props[i].name, "partitioner") && strcmp(c->props[i].name, "group.id"))
            rc = kq_kafka_conf_set(conf, c->props[i].name, c->props[i].value, e);
    if (rc < 0)
        goto out;
    p = calloc(1, sizeof(*p));
    if (!p) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    p->log = c->log;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_log_cb(conf, kq_kafka_log_cb);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!p->rk) {
        rc = err_set(e, ERR_INVALID, "kafka producer: %s", errstr);
        goto out;
    }
    conf = NULL; /* now owned by rk */
    if (pthread_create(&p->poller, NULL, poller_main, p) != 0) {
        rc = err_set(e, ERR_INTERNAL, "kafka producer: cannot start the poll thread");
        rd_kafka_destroy(p->rk);
        p->rk = NULL;
        goto out;
    }
    producer_warm(p, kq_conf_jobs(c));
    *out = p;
    p = NULL;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (p) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->mu);
        free(p);
    }
    return rc;
}

void kq_kafka_producer_free(struct kq_kafka_producer *p)
{
    if (!p)
        return;
    if (rd_kafka_flush(p->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* still unreported: fail them now, so their reports free their receipts */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(p->rk, 1000);
    }
    atomic_store(&p->stop, 1);
    pthread_join(p->poller, NULL);
    rd_kafka_destroy(p->rk);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Queue one message carrying w (may be NULL); on error, w is freed. */
static int produce_w(struct kq_kafka_producer *p, const char *topic, const char *key,
                     const void *value, size_t len, const struct kq_header *hdrs, int n_hdrs,
                     struct kq_receipt *w, struct err *e)
{
    rd_kafka_headers_t *h = NULL;
    rd_kafka_resp_err_t kerr;
    int tries = 0;

    for (;;) {
        h = rd_kafka_headers_new((size_t)(n_hdrs > 0 ? n_hdrs : 1));
        for (int i = 0; i < n_hdrs; i++)
            rd_kafka_header_add(h, hdrs[i].name, -1, hdrs[i].value ? hdrs[i].value : "", -1);
        pthread_mutex_lock(&p->mu);
        p->outstanding++;
        pthread_mutex_unlock(&p->mu);
        kerr = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
                                 RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                 RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                                 RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
        if (kerr == RD_KAFKA_RESP_ERR_NO_ERROR)
            break; /* h is owned by the message now */
        rd_kafka_headers_destroy(h);
        pthread_mutex_lock(&p->mu);
        p->outstanding--;
        pthread_mutex_unlock(&p->mu);
        if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL && tries++ < 50) {
            struct timespec ts = {0, 100000000L};

            nanosleep(&ts, NULL); /* the poll thread drains the queue */
            continue;
        }
        free(w);
        return err_set(e, kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL ? ERR_RETRY : ERR_INVALID,
                       "kafka produce to \"%s\": %s", topic, rd_kafka_err2str(kerr));
    }
    return 0;
}

int kq_kafka_produce(struct kq_kafka_producer *p, const char *topic, const char *key,
                     const void *value, size_t len, const struct kq_header *hdrs, int n_hdrs,
                     long wait_ms, struct err *e)
{
    struct kq_receipt *w = NULL;
    struct timespec dl;
    int rc = 0;

    if (wait_ms >= 0) {
        w = calloc(1, sizeof(*w));
        if (!w)
            return err_set(e, ERR_NOMEM, "out of memory");
        w->refs = 2;
    }
    rc = produce_w(p, topic, key, value, len, hdrs, n_hdrs, w, e);
    if (rc < 0 || !w)
        return rc;
    deadline_in(&dl, wait_ms);
    pthread_mutex_lock(&p->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&p->cond, &p->mu, &dl) == ETIMEDOUT)
            break;
    if (!w->done)
        rc = err_set(e, ERR_RETRY, "kafka produce to \"%s\": no delivery report within %ld ms",
                     topic, wait_ms);
    else if (w->err)
        rc = err_set(e, ERR_RETRY, "kafka produce to \"%s\": %s", topic,
                     rd_kafka_err2str((rd_kafka_resp_err_t)w->err));
    if (--w->refs == 0)
        free(w);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int kq_kafka_produce_tracked(struct kq_kafka_producer *p, const char *topic, const char *key,
                             const void *value, size_t len, const struct kq_header *hdrs,
                             int n_hdrs, struct kq_receipt **out, struct err *e)
{
    struct kq_receipt *w = calloc(1, sizeof(*w));
    int rc;

    *out = NULL;
    if (!w)
        return err_set(e, ERR_NOMEM, "out of memory");
    w->refs = 2;
    rc = produce_w(p, topic, key, value, len, hdrs, n_hdrs, w, e);
    if (rc == 0)
        *out = w;
    return rc;
}

int kq_kafka_receipt_state(struct kq_kafka_producer *p, const struct kq_receipt *r)
{
    int st;

    pthread_mutex_lock(&p->mu);
    st = !r->done ? 0 : r->err ? -1 : 1;
    pthread_mutex_unlock(&p->mu);
    return st;
}

void kq_kafka_receipt_free(struct kq_kafka_producer *p, struct kq_receipt *r)
{
    pthread_mutex_lock(&p->mu);
    if (--r->refs == 0)
        free(r);
    pthread_mutex_unlock(&p->mu);
}

int kq_kafka_flush(struct kq_kafka_producer *p, long timeout_ms, long *failed, struct err *e)
{
    struct timespec dl;
    long out, f;
    int rc = 0;

    rd_kafka_flush(p->rk, (int)timeout_ms);
    deadline_in(&dl, 200);
    pthread_mutex_lock(&p->mu);
    /* the last reports may still be in the poll thread's hands */
    while (p->outstanding > 0)
        if (pthread_cond_timedwait(&p->cond, &p->mu, &dl) == ETIMEDOUT)
            break;
    out = p->outstanding;
    f = p->failed;
    p->failed = 0;
    if (f > 0)
        rc = err_set(e, ERR_RETRY, "kafka: %ld message(s) not delivered (last error: %s)", f,
                     p->last_err);
    else if (out > 0)
        rc = err_set(e, ERR_RETRY, "kafka: %ld message(s) still unacknowledged after %ld ms", out,
                     timeout_ms);
    pthread_mutex_unlock(&p->mu);
    if (failed)
        *failed = f;
    return rc;
}
