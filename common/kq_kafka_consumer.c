/*
 * kq_kafka_consumer: the consumer side of the queue on Kafka (see kq_kafka.c),
 * after librdkafka's examples/consumer.c, and the admin calls (topic creation,
 * the scan of a topic by a consumer that never commits).
 *
 * Consumer: partition.assignment.strategy=cooperative-sticky (on librdkafka before
 * 2.3.0, a consumer waits for its first assignment before closing: see
 * kq_kafka_consumer_free),
 * enable.auto.offset.store=false (the caller stores an offset only after the
 * work is finished), enable.auto.commit=true every second (of stored offsets
 * only), auto.offset.reset=earliest. The rebalance callback handles the
 * cooperative and the eager protocols and lost assignments: it tells the
 * caller's callback, then (revoke) resumes what leaves and (not lost) commits
 * the stored offsets synchronously before unassigning.
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

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct kq_kafka_consumer *c = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *kerr = NULL;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        c->assigned_once = 1;
        for (int i = 0; i < parts->cnt; i++) {
            kq_kafka_lag_track(c, parts->elems[i].topic, parts->elems[i].partition, 1);
            if (c->fn)
                c->fn(c->ud, 1, 0, parts->elems[i].topic, parts->elems[i].partition);
        }
        /* No pause or resume here (see the revoke below): an assignment starts running. */
        if (coop)
            kerr = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        log_info(c->log, "kafka: %d partition(s) assigned", parts->cnt);
    } else {
        int lost = rd_kafka_assignment_lost(rk);

        for (int i = 0; i < parts->cnt; i++) {
            kq_kafka_lag_track(c, parts->elems[i].topic, parts->elems[i].partition, 0);
            if (c->fn)
                c->fn(c->ud, 0, lost, parts->elems[i].topic, parts->elems[i].partition);
        }
        /*
         * A partition the caller paused must not come back paused when it is
         * assigned again (the caller's pause tracking starts from "running" on
         * every assignment), and librdkafka keeps the pause of a partition across
         * its unassignment: resume what leaves, before the unassign. Never on the
         * assignment: on librdkafka before 2.4 a pause or resume raises the
         * partition's version at once, and the fetch start the assignment has just
         * queued, served after that, is dropped as outdated. The partition is then
         * never fetched, without a word (librdkafka issues 2190 and 4686); on a
         * loaded machine a worker left one partition's jobs untouched that way.
         */
        rd_kafka_resume_partitions(rk, parts);
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
    rc = kq_kafka_conf_set(conf, "group.id", group, e);
    if (rc == 0)
        rc = kq_kafka_conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", e);
    if (rc == 0)
        rc = kq_kafka_conf_set(conf, "enable.auto.offset.store", "false", e);
    if (rc == 0)
        rc = kq_kafka_conf_set(conf, "enable.auto.commit", scan ? "false" : "true", e);
    if (rc == 0)
        rc = kq_kafka_conf_set(conf, "auto.commit.interval.ms", "1000", e);
    if (rc == 0)
        rc = kq_kafka_conf_set(conf, "auto.offset.reset", "earliest", e);
    if (rc == 0 && !scan && c->group_instance && *c->group_instance)
        rc = kq_kafka_conf_set(conf, "group.instance.id", c->group_instance, e);
    if (rc == 0)
        rc = kq_kafka_conf_common(conf, c, e);
    if (rc == 0 && scan) /* a scan must never commit, whatever the properties say */
        rc = kq_kafka_conf_set(conf, "enable.auto.commit", "false", e);
    if (rc == 0 && !scan) {
        rc = kq_kafka_conf_set(conf, "enable.auto.offset.store", "false", e);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    }
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_log_cb(conf, kq_kafka_log_cb);
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
    return kq_kafka_lag_subscribed(c, topics, n, e);
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
    kq_kafka_lag_mark(c, rd_kafka_topic_name(m->rkt), m->partition, m->offset, KQ_LAG_POLLED);
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
        kq_kafka_lag_mark(c, topic, partition, next, KQ_LAG_STORED);
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

    rc = kq_kafka_conf_common(conf, c, e);
    if (rc < 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_log_cb(conf, kq_kafka_log_cb);
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
    struct kq_kafka_log_holder holder = {c->log};
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
