/*
 * kq_kafka: the queue on Kafka (librdkafka), after librdkafka's
 * examples/idempotent_producer.c and examples/consumer.c.
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
 *
 * Consumer: partition.assignment.strategy=cooperative-sticky (on librdkafka before
 * 2.3.0, a consumer waits for its first assignment before closing: see
 * kq_kafka_consumer_free),
 * enable.auto.offset.store=false (the caller stores an offset only after the
 * work is finished), enable.auto.commit=true every second (of stored offsets
 * only), auto.offset.reset=earliest. The rebalance callback handles the
 * cooperative and the eager protocols and lost assignments: it tells the
 * caller's callback, then (revoke, not lost) commits the stored offsets
 * synchronously before unassigning.
 *
 * Lag (kq_kafka_lag, any thread): the consumer keeps, under lag_mu, a table
 * of its assigned partitions (rebalance callback) with where the work
 * stands: the last stored offset, else the first offset polled since the
 * assignment, else the group's committed offset asked of the broker. The
 * partition ends are librdkafka's cached high watermarks; broker requests
 * (committed offsets, watermarks) happen only for what is unknown, at most
 * one round every 5 s, each bounded to 500 ms.
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

#include "banned.h"

/* Every opaque given to librdkafka starts with the log (see log_cb). */
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

/* Where the work on an assigned partition stands, for kq_kafka_lag. */
enum lagsrc { LAG_NONE, LAG_COMMITTED, LAG_POLLED, LAG_STORED };

struct lagpart {
    char *topic;
    int partition;
    long long done; /* work finished before this offset (valid unless LAG_NONE) */
    int src;        /* enum lagsrc: how done is known */
    long long hi_q; /* end of the partition as last asked of the broker, -1 none */
};

struct kq_kafka_consumer {
    struct log *log;
    rd_kafka_t *rk;
    kq_rebalance_fn fn;
    void *ud;
    int assigned_once; /* a first assignment arrived (see kq_kafka_consumer_free) */
    /* lag bookkeeping: written by the polling thread, read by kq_kafka_lag (any thread) */
    pthread_mutex_t lag_mu;
    struct lagpart *lp; /* the current assignment */
    size_t nlp, alp;
    size_t weak; /* entries with src < LAG_POLLED: poll looks them up */
    char **subs; /* subscribed topics */
    int nsubs;
    long long next_query; /* monotonic ms: no broker request for the lag before */
};

struct log_holder {
    struct log *log;
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

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, struct err *e)
{
    char errstr[512];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return err_set(e, ERR_INVALID, "kafka property \"%s\": %s", name, errstr);
    return 0;
}

/* Common part: bootstrap, pass-through properties, SASL password. */
static int conf_common(rd_kafka_conf_t *conf, const struct kq_conf *c, struct err *e)
{
    int rc = 0;

    if (!c->bootstrap || !*c->bootstrap)
        return err_set(e, ERR_INVALID, "kafka: no bootstrap servers configured");
    rc = conf_set(conf, "bootstrap.servers", c->bootstrap, e);
    for (size_t i = 0; rc == 0 && i < c->n_props; i++)
        rc = conf_set(conf, c->props[i].name, c->props[i].value, e);
    if (rc == 0 && c->sasl_password)
        rc = conf_set(conf, "sasl.password", c->sasl_password, e);
    return rc;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct log_holder *h = rd_kafka_opaque(rk);
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

int kq_kafka_producer_new(struct kq_kafka_producer **out, const struct kq_conf *c, struct err *e)
{
    struct kq_kafka_producer *p = NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    int rc;

    *out = NULL;
    if (!conf)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = conf_common(conf, c, e);
    if (rc == 0)
        rc = conf_set(conf, "enable.idempotence", "true", e);
    if (rc == 0)
        rc = conf_set(conf, "acks", "all", e);
    if (rc == 0)
        rc = conf_set(conf, "partitioner", "murmur2_random", e);
    /* pass-through properties win over our defaults, but not over the three above */
    for (size_t i = 0; rc == 0 && i < c->n_props; i++)
        if (strcmp(c->props[i].name, "enable.idempotence") && strcmp(c->props[i].name, "acks") &&
            strcmp(c->props[i].name, "partitioner") && strcmp(c->props[i].name, "group.id"))
            rc = conf_set(conf, c->props[i].name, c->props[i].value, e);
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
    rd_kafka_conf_set_log_cb(conf, log_cb);
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

/* ---- consumer ---- */

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under lag_mu. */
static struct lagpart *lag_find(struct kq_kafka_consumer *c, const char *topic, int partition)
{
    for (size_t i = 0; i < c->nlp; i++)
        if (c->lp[i].partition == partition && strcmp(c->lp[i].topic, topic) == 0)
            return &c->lp[i];
    return NULL;
}

/* A partition arrives (assigned=1: its figures start unknown) or leaves. */
static void lag_track(struct kq_kafka_consumer *c, const char *topic, int partition, int assigned)
{
    struct lagpart *lp;

    pthread_mutex_lock(&c->lag_mu);
    lp = lag_find(c, topic, partition);
    if (lp) {
        if (lp->src >= LAG_POLLED)
            c->weak++;
        if (assigned) {
            lp->done = -1;
            lp->src = LAG_NONE;
            lp->hi_q = -1;
        } else {
            c->weak--;
            free(lp->topic);
            *lp = c->lp[--c->nlp];
        }
    } else if (assigned) {
        if (c->nlp == c->alp) {
            size_t na = c->alp ? c->alp * 2 : 16;
            struct lagpart *nl = realloc(c->lp, na * sizeof(*nl));

            if (!nl)
                goto out; /* the lag just leaves it out */
            c->lp = nl;
            c->alp = na;
        }
        lp = &c->lp[c->nlp];
        lp->topic = strdup(topic);
        if (!lp->topic)
            goto out;
        lp->partition = partition;
        lp->done = -1;
        lp->src = LAG_NONE;
        lp->hi_q = -1;
        c->nlp++;
        c->weak++;
    }
out:
    pthread_mutex_unlock(&c->lag_mu);
}

/* The work on topic[partition] is finished before `done`, known from src. */
static void lag_mark(struct kq_kafka_consumer *c, const char *topic, int partition, long long done,
                     int src)
{
    struct lagpart *lp;

    pthread_mutex_lock(&c->lag_mu);
    if (src == LAG_POLLED && c->weak == 0) /* the common case: nothing to learn */
        goto out;
    lp = lag_find(c, topic, partition);
    if (!lp || (src == LAG_POLLED && lp->src >= LAG_POLLED))
        goto out;
    if (lp->src < LAG_POLLED)
        c->weak--;
    lp->done = done;
    lp->src = src;
out:
    pthread_mutex_unlock(&c->lag_mu);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct kq_kafka_consumer *c = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *kerr = NULL;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        c->assigned_once = 1;
        for (int i = 0; i < parts->cnt; i++) {
            lag_track(c, parts->elems[i].topic, parts->elems[i].partition, 1);
            if (c->fn)
                c->fn(c->ud, 1, 0, parts->elems[i].topic, parts->elems[i].partition);
        }
        if (coop)
            kerr = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        /* a partition paused before it was revoked must not come back paused: the
         * caller's pause tracking starts from "running" on every assignment */
        rd_kafka_resume_partitions(rk, parts);
        log_info(c->log, "kafka: %d partition(s) assigned", parts->cnt);
    } else {
        int lost = rd_kafka_assignment_lost(rk);

        for (int i = 0; i < parts->cnt; i++) {
            lag_track(c, parts->elems[i].topic, parts->elems[i].partition, 0);
            if (c->fn)
                c->fn(c->ud, 0, lost, parts->elems[i].topic, parts->elems[i].partition);
        }
        if (!lost) {
            rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);

            if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
                log_warn(c->log, "kafka: commit on revoke: %s", rd_kafka_err2str(cerr));
        }
        if (coop)
            kerr = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
        if (lost)
            log_warn(c->log,
                     "kafka: %d partition(s) lost (group membership lost): their "
                     "uncommitted jobs will be delivered again",
                     parts->cnt);
        else
            log_info(c->log, "kafka: %d partition(s) revoked", parts->cnt);
    }
    if (kerr) {
        log_error(c->log, "kafka: rebalance: %s", rd_kafka_error_string(kerr));
        rd_kafka_error_destroy(kerr);
    }
}

static int consumer_make(rd_kafka_t **out, const struct kq_conf *c, const char *group, int scan,
                         void *opaque, struct err *e)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    int rc;

    *out = NULL;
    if (!conf)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = conf_set(conf, "group.id", group, e);
    if (rc == 0)
        rc = conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", e);
    if (rc == 0)
        rc = conf_set(conf, "enable.auto.offset.store", "false", e);
    if (rc == 0)
        rc = conf_set(conf, "enable.auto.commit", scan ? "false" : "true", e);
    if (rc == 0)
        rc = conf_set(conf, "auto.commit.interval.ms", "1000", e);
    if (rc == 0)
        rc = conf_set(conf, "auto.offset.reset", "earliest", e);
    if (rc == 0 && !scan && c->group_instance && *c->group_instance)
        rc = conf_set(conf, "group.instance.id", c->group_instance, e);
    if (rc == 0)
        rc = conf_common(conf, c, e);
    if (rc == 0 && scan) /* a scan must never commit, whatever the properties say */
        rc = conf_set(conf, "enable.auto.commit", "false", e);
    if (rc == 0 && !scan) {
        rc = conf_set(conf, "enable.auto.offset.store", "false", e);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    }
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    *out = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!*out)
        return err_set(e, ERR_INVALID, "kafka consumer: %s", errstr); /* conf freed by it */
    rd_kafka_poll_set_consumer(*out);
    return 0;
}

int kq_kafka_consumer_new(struct kq_kafka_consumer **out, const struct kq_conf *c, struct err *e)
{
    struct kq_kafka_consumer *k = calloc(1, sizeof(*k));
    int rc;

    *out = NULL;
    if (!k)
        return err_set(e, ERR_NOMEM, "out of memory");
    k->log = c->log;
    pthread_mutex_init(&k->lag_mu, NULL);
    rc = consumer_make(&k->rk, c, c->group && *c->group ? c->group : "odoosync-workers", 0, k, e);
    if (rc < 0) {
        pthread_mutex_destroy(&k->lag_mu);
        free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void kq_kafka_consumer_free(struct kq_kafka_consumer *c)
{
    rd_kafka_resp_err_t err;

    if (!c)
        return;
    /*
     * librdkafka before 2.3.0 aborts in rd_kafka_sticky_assignor_state_destroy when a
     * cooperative-sticky consumer is destroyed before its first assignment (issue
     * #4312, fixed by PR #4381). Give the group up to 10 s to hand it one; messages
     * polled meanwhile are dropped unstored, so they are delivered again.
     */
    if (!c->assigned_once && rd_kafka_version() < 0x020300ff) {
        for (int i = 0; i < 100 && !c->assigned_once; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);

            if (m)
                rd_kafka_message_destroy(m);
        }
    }
    err = rd_kafka_commit(c->rk, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn(c->log, "kafka: final commit: %s", rd_kafka_err2str(err));
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    for (size_t i = 0; i < c->nlp; i++)
        free(c->lp[i].topic);
    free(c->lp);
    for (int i = 0; i < c->nsubs; i++)
        free(c->subs[i]);
    free(c->subs);
    pthread_mutex_destroy(&c->lag_mu);
    free(c);
}

void kq_kafka_on_rebalance(struct kq_kafka_consumer *c, kq_rebalance_fn fn, void *ud)
{
    c->fn = fn;
    c->ud = ud;
}

/* Remember the subscribed topics: kq_kafka_lag reports each of them. */
static int lag_subscribed(struct kq_kafka_consumer *c, const char *const *topics, int n,
                          struct err *e)
{
    char **subs = calloc((size_t)(n > 0 ? n : 1), sizeof(*subs));
    int rc = 0;

    if (!subs)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && rc == 0; i++) {
        subs[i] = strdup(topics[i]);
        if (!subs[i])
            rc = err_set(e, ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&c->lag_mu);
    if (rc == 0) { /* swap: subs now holds the old list, freed below */
        char **old = c->subs;
        int nold = c->nsubs;

        c->subs = subs;
        c->nsubs = n;
        subs = old;
        n = nold;
    }
    pthread_mutex_unlock(&c->lag_mu);
    for (int i = 0; subs && i < n; i++)
        free(subs[i]);
    free(subs);
    return rc;
}

int kq_kafka_subscribe(struct kq_kafka_consumer *c, const char *const *topics, int n, struct err *e)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    rd_kafka_resp_err_t err;

    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        return err_set(e, ERR_INVALID, "kafka subscribe: %s", rd_kafka_err2str(err));
    return lag_subscribed(c, topics, n, e);
}

static struct kq_msg *msg_of(rd_kafka_message_t *m)
{
    rd_kafka_headers_t *kh = NULL;
    struct kq_header hs[16];
    char vals[16][128];
    int n = 0;
    rd_kafka_timestamp_type_t tt;
    long long ts;

    if (rd_kafka_message_headers(m, &kh) == RD_KAFKA_RESP_ERR_NO_ERROR && kh) {
        const char *name;
        const void *val;
        size_t sz;

        for (size_t i = 0; n < 16 && rd_kafka_header_get_all(kh, i, &name, &val, &sz) ==
                                         RD_KAFKA_RESP_ERR_NO_ERROR;
             i++) {
            if (sz >= sizeof(vals[n]))
                continue; /* our headers are short numbers; ignore anything else */
            if (sz)
                memcpy(vals[n], val, sz);
            vals[n][sz] = '\0';
            hs[n].name = name;
            hs[n].value = vals[n];
            n++;
        }
    }
    ts = rd_kafka_message_timestamp(m, &tt);
    return kq_msg_make(rd_kafka_topic_name(m->rkt), m->partition, m->offset, m->key, m->key_len,
                       m->payload, m->len, ts > 0 ? ts : 0, hs, n);
}

int kq_kafka_poll(struct kq_kafka_consumer *c, long timeout_ms, struct kq_msg **out, struct err *e)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, (int)timeout_ms);
    char errstr[512];
    int rc = 0;

    *out = NULL;
    if (!m)
        return 0;
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn(c->log, "kafka consumer: %s", rd_kafka_message_errstr(m));
        if (rd_kafka_fatal_error(c->rk, errstr, sizeof(errstr)))
            rc = err_set(e, ERR_INTERNAL, "kafka consumer: fatal: %s", errstr);
        rd_kafka_message_destroy(m);
        return rc;
    }
    /* the first message of a partition since its assignment: where the work starts */
    lag_mark(c, rd_kafka_topic_name(m->rkt), m->partition, m->offset, LAG_POLLED);
    *out = msg_of(m);
    rd_kafka_message_destroy(m);
    if (!*out)
        return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

int kq_kafka_store(struct kq_kafka_consumer *c, const char *topic, int partition, long long next,
                   struct err *e)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;

    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = next;
    err = rd_kafka_offsets_store(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    /* __STATE: the partition is no longer ours; the new owner re-reads from the commit */
    if (err && err != RD_KAFKA_RESP_ERR__STATE)
        return err_set(e, ERR_RETRY, "kafka offsets_store %s[%d]@%lld: %s", topic, partition, next,
                       rd_kafka_err2str(err));
    if (!err)
        lag_mark(c, topic, partition, next, LAG_STORED);
    return 0;
}

int kq_kafka_commit(struct kq_kafka_consumer *c, struct err *e)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, 0);

    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        return err_set(e, ERR_RETRY, "kafka commit: %s", rd_kafka_err2str(err));
    return 0;
}

int kq_kafka_pause(struct kq_kafka_consumer *c, const char *topic, int partition, int pause,
                   struct err *e)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;

    rd_kafka_topic_partition_list_add(l, topic, partition);
    err = pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
    if (!err)
        err = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        return err_set(e, ERR_RETRY, "kafka %s %s[%d]: %s", pause ? "pause" : "resume", topic,
                       partition, rd_kafka_err2str(err));
    return 0;
}

/* ---- lag ---- */

#define LAG_QUERY_MS 500
#define LAG_QUERY_EVERY_MS 5000

/*
 * Partitions of l (done unknown) whose start the broker knows: the group's
 * committed offset, or without one (auto.offset.reset=earliest) the
 * partition's low watermark. Results go to l's offsets (-1 unknown).
 */
static void lag_ask_committed(struct kq_kafka_consumer *c, rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_resp_err_t err = rd_kafka_committed(c->rk, l, LAG_QUERY_MS);

    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        int64_t lo = -1, hi = -1;

        if (err || tp->err) {
            tp->offset = -1;
        } else if (tp->offset < 0) {
            if (rd_kafka_query_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi,
                                                 LAG_QUERY_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
                lo = -1;
            tp->offset = lo;
        }
    }
    if (err)
        log_debug(c->log, "kafka: committed offsets for the lag: %s", rd_kafka_err2str(err));
}

int kq_kafka_lag(struct kq_kafka_consumer *c, struct kq_lag *out, size_t cap, size_t *n,
                 struct err *e)
{
    rd_kafka_topic_partition_list_t *all = NULL, *ask = NULL;
    long long *hi_q = NULL;
    int *src = NULL, may_query, queried = 0, rc = 0;
    long long now = mono_ms();

    *n = 0;
    /* snapshot the assignment and the subscribed topics */
    pthread_mutex_lock(&c->lag_mu);
    may_query = now >= c->next_query;
    all = rd_kafka_topic_partition_list_new((int)c->nlp);
    src = calloc(c->nlp ? c->nlp : 1, sizeof(*src));
    hi_q = calloc(c->nlp ? c->nlp : 1, sizeof(*hi_q));
    if (!all || !src || !hi_q) {
        pthread_mutex_unlock(&c->lag_mu);
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < c->nlp; i++) {
        rd_kafka_topic_partition_list_add(all, c->lp[i].topic, c->lp[i].partition)->offset =
            c->lp[i].src == LAG_NONE ? -1 : c->lp[i].done;
        src[i] = c->lp[i].src;
        hi_q[i] = c->lp[i].hi_q;
    }
    for (int i = 0; i < c->nsubs; i++) {
        if (*n == cap) {
            rc = cap ? 0 : err_set(e, ERR_INVALID, "kq_consumer_lag: no room");
            break;
        }
        snprintf(out[*n].topic, sizeof(out[*n].topic), "%s", c->subs[i]);
        out[*n].lag = 0;
        out[*n].partitions = 0;
        (*n)++;
    }
    pthread_mutex_unlock(&c->lag_mu);
    if (rc < 0)
        goto out;

    /* starts not known yet: ask the broker (rarely), and keep the answers */
    for (int i = 0; may_query && i < all->cnt; i++) {
        if (src[i] != LAG_NONE)
            continue;
        if (!ask)
            ask = rd_kafka_topic_partition_list_new(all->cnt);
        if (ask)
            rd_kafka_topic_partition_list_add(ask, all->elems[i].topic, all->elems[i].partition);
    }
    if (ask) {
        queried = 1;
        lag_ask_committed(c, ask);
        pthread_mutex_lock(&c->lag_mu);
        for (int i = 0; i < ask->cnt; i++) {
            struct lagpart *lp = lag_find(c, ask->elems[i].topic, ask->elems[i].partition);

            if (ask->elems[i].offset >= 0 && lp && lp->src == LAG_NONE) {
                lp->done = ask->elems[i].offset;
                lp->src = LAG_COMMITTED;
            }
        }
        pthread_mutex_unlock(&c->lag_mu);
        for (int i = 0; i < ask->cnt; i++) {
            rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
                all, ask->elems[i].topic, ask->elems[i].partition);

            if (tp)
                tp->offset = ask->elems[i].offset;
        }
    }

    /* lag = end of the partition - where the work stands, per subscribed topic */
    for (int i = 0; i < all->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &all->elems[i];
        int64_t lo = -1, hi = -1;
        size_t k;

        if (tp->offset < 0)
            continue; /* not known yet */
        /* librdkafka caches the end from fetched message sets: an empty partition has none */
        if (rd_kafka_get_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0) {
            hi = hi_q[i];
            if (may_query) {
                queried = 1;
                if (rd_kafka_query_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi,
                                                     LAG_QUERY_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    hi >= 0) {
                    struct lagpart *lp;

                    pthread_mutex_lock(&c->lag_mu);
                    lp = lag_find(c, tp->topic, tp->partition);
                    if (lp)
                        lp->hi_q = hi;
                    pthread_mutex_unlock(&c->lag_mu);
                } else {
                    hi = hi_q[i];
                }
            }
        }
        if (hi < 0)
            continue;
        for (k = 0; k < *n && strcmp(out[k].topic, tp->topic) != 0; k++)
            ;
        if (k == *n)
            continue; /* assigned but not subscribed: cannot happen */
        out[k].lag += hi > tp->offset ? hi - tp->offset : 0;
        out[k].partitions++;
    }
    if (queried) {
        pthread_mutex_lock(&c->lag_mu);
        c->next_query = mono_ms() + LAG_QUERY_EVERY_MS;
        pthread_mutex_unlock(&c->lag_mu);
    }
out:
    if (ask)
        rd_kafka_topic_partition_list_destroy(ask);
    if (all)
        rd_kafka_topic_partition_list_destroy(all);
    free(src);
    free(hi_q);
    return rc;
}

/* ---- admin ---- */

int kq_kafka_topics_create(const struct kq_conf *c, const char *const *names, int n, int partitions,
                           struct err *e)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;
    rd_kafka_NewTopic_t **nt = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    char errstr[512];
    int rc;

    rc = conf_common(conf, c, e);
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_opaque(conf, NULL);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk)
        return err_set(e, ERR_INVALID, "kafka admin: %s", errstr);
    nt = calloc((size_t)n, sizeof(*nt));
    if (!nt) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        nt[i] = rd_kafka_NewTopic_new(names[i], partitions, -1, errstr, sizeof(errstr));
        if (!nt[i]) {
            rc = err_set(e, ERR_INVALID, "kafka topic \"%s\": %s", names[i], errstr);
            goto out;
        }
    }
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, (size_t)n, NULL, q);
    ev = rd_kafka_queue_poll(q, 15000);
    if (!ev) {
        rc = err_set(e, ERR_RETRY, "kafka CreateTopics: no answer within 15 s");
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        rc = err_set(e, ERR_RETRY, "kafka CreateTopics: %s", rd_kafka_event_error_string(ev));
        goto out;
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);

        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(tr[i]);

            if (terr && terr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                rc = err_set(e, ERR_RETRY, "kafka topic \"%s\": %s",
                             rd_kafka_topic_result_name(tr[i]),
                             rd_kafka_topic_result_error_string(tr[i])
                                 ? rd_kafka_topic_result_error_string(tr[i])
                                 : rd_kafka_err2str(terr));
                goto out;
            }
        }
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    if (nt) {
        for (int i = 0; i < n; i++)
            if (nt[i])
                rd_kafka_NewTopic_destroy(nt[i]);
        free(nt);
    }
    rd_kafka_destroy(rk);
    return rc;
}

int kq_kafka_scan(const struct kq_conf *c, const char *topic, long timeout_ms,
                  int (*fn)(const struct kq_msg *m, void *ud), void *ud, struct err *e)
{
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *l = NULL;
    long long *hi = NULL;
    int nparts = 0, left = 0, rc;
    char group[256];
    struct log_holder holder = {c->log};
    struct timespec t0, t1;
    rd_kafka_resp_err_t err;

    snprintf(group, sizeof(group), "%s.scan", c->group && *c->group ? c->group : "odoosync");
    rc = consumer_make(&rk, c, group, 1, &holder, e);
    if (rc < 0)
        return rc;
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    err = rd_kafka_metadata(rk, 0, rkt, &md, (int)(timeout_ms > 0 ? timeout_ms : 10000));
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        rc = err_set(e, ERR_RETRY, "kafka metadata for \"%s\": %s", topic,
                     rd_kafka_err2str(err             ? err
                                      : md->topic_cnt ? md->topics[0].err
                                                      : err));
        goto out;
    }
    nparts = md->topics[0].partition_cnt;
    hi = calloc((size_t)(nparts ? nparts : 1), sizeof(*hi));
    l = rd_kafka_topic_partition_list_new(nparts);
    if (!hi || !l) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < nparts; i++) {
        int p = md->topics[0].partitions[i].id;
        int64_t lo = 0, h = 0;

        err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &h, 10000);
        if (err) {
            rc = err_set(e, ERR_RETRY, "kafka watermarks %s[%d]: %s", topic, p,
                         rd_kafka_err2str(err));
            goto out;
        }
        hi[p < nparts ? p : 0] = h;
        if (h > lo) {
            rd_kafka_topic_partition_list_add(l, topic, p)->offset = lo;
            left++;
        }
    }
    if (left == 0)
        goto out;
    err = rd_kafka_assign(rk, l);
    if (err) {
        rc = err_set(e, ERR_RETRY, "kafka assign: %s", rd_kafka_err2str(err));
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (left > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        struct kq_msg *km;
        int stop;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (timeout_ms > 0 &&
            (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms) {
            rc = err_set(e, ERR_RETRY, "kafka scan of \"%s\": not at the end after %ld ms", topic,
                         timeout_ms);
            break;
        }
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        km = msg_of(m);
        if (m->partition >= 0 && m->partition < nparts && m->offset + 1 >= hi[m->partition])
            left--;
        rd_kafka_message_destroy(m);
        if (!km) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            break;
        }
        stop = fn(km, ud);
        kq_msg_free(km);
        if (stop)
            break;
    }
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    free(hi);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
