/*
 * kq_kafka_int: what the pieces of the Kafka queue share, not part of the kq
 * module's interface (kq_int.h). kq_kafka.c owns the configuration helpers and
 * the producer; kq_kafka_consumer.c the consumer handle and the admin calls;
 * kq_kafka_lag.c the consumer's lag table (the fields under lag_mu) and
 * kq_kafka_lag().
 */
#ifndef ODOOSYNC_KQ_KAFKA_INT_H
#define ODOOSYNC_KQ_KAFKA_INT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stddef.h>

#include "err.h"
#include "kq.h"
#include "kq_int.h"
#include "log.h"

/* Where the work on an assigned partition stands, for kq_kafka_lag. */
enum kq_kafka_lagsrc { KQ_LAG_NONE, KQ_LAG_COMMITTED, KQ_LAG_POLLED, KQ_LAG_STORED };

struct kq_kafka_lagpart {
    char *topic;
    int partition;
    long long done; /* work finished before this offset (valid unless KQ_LAG_NONE) */
    int src;        /* enum kq_kafka_lagsrc: how done is known */
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
    struct kq_kafka_lagpart *lp; /* the current assignment */
    size_t nlp, alp;
    size_t weak; /* entries with src < KQ_LAG_POLLED: poll looks them up */
    char **subs; /* subscribed topics */
    int nsubs;
    long long next_query; /* monotonic ms: no broker request for the lag before */
};

/* Every opaque given to librdkafka starts with the log (see kq_kafka_log_cb). */
struct kq_kafka_log_holder {
    struct log *log;
};

int kq_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, struct err *e);
/* Common part: bootstrap, pass-through properties, SASL password. */
int kq_kafka_conf_common(rd_kafka_conf_t *conf, const struct kq_conf *c, struct err *e);
/* librdkafka's log, into the log of the handle's opaque (a kq_kafka_log_holder). */
void kq_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* The lag table (kq_kafka_lag.c), each call takes lag_mu: a partition arrives
 * (assigned=1: its figures start unknown) or leaves; the work on topic[partition]
 * is finished before done, known from src (enum kq_kafka_lagsrc); the subscribed topics,
 * which kq_kafka_lag reports each of. */
void kq_kafka_lag_track(struct kq_kafka_consumer *c, const char *topic, int partition,
                        int assigned);
void kq_kafka_lag_mark(struct kq_kafka_consumer *c, const char *topic, int partition,
                       long long done, int src);
int kq_kafka_lag_subscribed(struct kq_kafka_consumer *c, const char *const *topics, int n,
                            struct err *e);

#endif
