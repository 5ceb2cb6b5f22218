/*
 * kq_int: what kq.c (the dispatch) shares with its two implementations,
 * kq_kafka.c (with kq_kafka_consumer.c, kq_kafka_lag.c) and kq_local.c. Not for use outside the kq
 * module.
 *
 * A kq_msg is one allocation made by kq_msg_make(): the struct, then the
 * topic, key, value (each NUL-terminated) and the headers as
 * "name\0value\0" pairs, so kq_msg_free is one free().
 */
#ifndef ODOOSYNC_KQ_INT_H
#define ODOOSYNC_KQ_INT_H

#include "kq.h"

struct kq_hdrs_ {
    int n;
    const char *blob; /* n pairs "name\0value\0" */
};

struct kq_msg *kq_msg_make(const char *topic, int partition, long long offset, const void *key,
                           size_t key_len, const void *value, size_t len, long long ts,
                           const struct kq_header *hdrs, int n_hdrs);

/*
 * A delivery receipt (kq_produce_tracked). Kafka: completed by the message's
 * delivery report; refs, done and err under the producer's mu, the last of
 * the two references (the caller's, the report's) frees it. Local queue: made
 * done (the message is in the queue when kq_local_produce returns), refs 1.
 */
struct kq_receipt {
    int refs;
    int done;
    int err; /* rd_kafka_resp_err_t of the report, 0 acknowledged */
};

struct kq_producer {
    struct kq_local *local;
    struct kq_kafka_producer *kafka;
};

struct kq_consumer {
    struct kq_local *local;
    struct kq_local_consumer *lc;
    struct kq_kafka_consumer *kafka;
};

/* kq_kafka.c, kq_kafka_consumer.c, kq_kafka_lag.c */
struct kq_kafka_producer;
struct kq_kafka_consumer;
int kq_kafka_producer_new(struct kq_kafka_producer **out, const struct kq_conf *c, struct err *e);
void kq_kafka_producer_free(struct kq_kafka_producer *p);
int kq_kafka_produce(struct kq_kafka_producer *p, const char *topic, const char *key,
                     const void *value, size_t len, const struct kq_header *hdrs, int n_hdrs,
                     long wait_ms, struct err *e);
/* Queue one message whose report completes *out (a new receipt with two references). */
int kq_kafka_produce_tracked(struct kq_kafka_producer *p, const char *topic, const char *key,
                             const void *value, size_t len, const struct kq_header *hdrs,
                             int n_hdrs, struct kq_receipt **out, struct err *e);
int kq_kafka_receipt_state(struct kq_kafka_producer *p, const struct kq_receipt *r);
void kq_kafka_receipt_free(struct kq_kafka_producer *p, struct kq_receipt *r);
int kq_kafka_flush(struct kq_kafka_producer *p, long timeout_ms, long *failed, struct err *e);
int kq_kafka_consumer_new(struct kq_kafka_consumer **out, const struct kq_conf *c, struct err *e);
void kq_kafka_consumer_free(struct kq_kafka_consumer *c);
void kq_kafka_on_rebalance(struct kq_kafka_consumer *c, kq_rebalance_fn fn, void *ud);
int kq_kafka_subscribe(struct kq_kafka_consumer *c, const char *const *topics, int n,
                       struct err *e);
int kq_kafka_poll(struct kq_kafka_consumer *c, long timeout_ms, struct kq_msg **out, struct err *e);
int kq_kafka_store(struct kq_kafka_consumer *c, const char *topic, int partition, long long next,
                   struct err *e);
int kq_kafka_commit(struct kq_kafka_consumer *c, struct err *e);
int kq_kafka_pause(struct kq_kafka_consumer *c, const char *topic, int partition, int pause,
                   struct err *e);
int kq_kafka_lag(struct kq_kafka_consumer *c, struct kq_lag *out, size_t cap, size_t *n,
                 struct err *e);
int kq_kafka_topics_create(const struct kq_conf *c, const char *const *names, int n, int partitions,
                           struct err *e);
int kq_kafka_scan(const struct kq_conf *c, const char *topic, long timeout_ms,
                  int (*fn)(const struct kq_msg *m, void *ud), void *ud, struct err *e);

/* kq_local.c */
struct kq_local_consumer;
/* wait_ms: how long to wait for room in a full topic; 0 = never block. */
int kq_local_produce(struct kq_local *q, const char *topic, const char *key, const void *value,
                     size_t len, const struct kq_header *hdrs, int n_hdrs, long wait_ms,
                     struct err *e);
int kq_local_consumer_new(struct kq_local_consumer **out, struct kq_local *q, struct err *e);
void kq_local_consumer_free(struct kq_local_consumer *c);
void kq_local_on_rebalance(struct kq_local_consumer *c, kq_rebalance_fn fn, void *ud);
int kq_local_subscribe(struct kq_local_consumer *c, const char *const *topics, int n,
                       struct err *e);
int kq_local_poll(struct kq_local_consumer *c, long timeout_ms, struct kq_msg **out, struct err *e);
int kq_local_store(struct kq_local_consumer *c, const char *topic, int partition, long long next,
                   struct err *e);
int kq_local_pause(struct kq_local_consumer *c, const char *topic, int partition, int pause,
                   struct err *e);
int kq_local_lag(struct kq_local_consumer *c, struct kq_lag *out, size_t cap, size_t *n,
                 struct err *e);
int kq_local_scan(struct kq_local *q, const char *topic,
                  int (*fn)(const struct kq_msg *m, void *ud), void *ud, struct err *e);

#endif
