/*
 * kq: the job queue. One interface, two implementations:
 *
 *   Kafka (kq_kafka.c): an idempotent producer (enable.idempotence=true,
 *   acks=all, partitioner murmur2_random so a key always lands on the same
 *   partition, whichever client produced it) and a group consumer
 *   (cooperative-sticky assignment, enable.auto.offset.store=false: an offset
 *   is stored only when the caller says its work is finished; stored offsets
 *   are committed every second, on revoke and on close).
 *
 *   In-process (kq_local.c): a `struct kq_local` holds named topics of
 *   `partitions` partitions each, a key hashed to a partition exactly like
 *   Kafka does (so one key = one partition = one order), at most `cap`
 *   unfinished messages per topic (a producer blocks while a topic is full),
 *   one consumer group whose stored offsets are its committed offsets: a
 *   consumer freed without storing gets the same messages again.
 *
 * Both give the same semantics to the worker pool: messages of a partition
 * arrive in order; pause/resume per partition; kq_store(next_offset) marks
 * everything before next_offset finished; a rebalance callback tells which
 * partitions arrive and leave (Kafka: from inside kq_poll, in the polling
 * thread).
 *
 * Threads: a producer may be used from any thread (kq_send waits for its own
 * delivery report). A consumer belongs to the thread that polls it.
 *
 * Ownership: kq_*_new hand out handles freed with the matching _free. Strings
 * in struct kq_conf are borrowed and must outlive the handles made from it.
 * A struct kq_msg from kq_poll belongs to the caller (kq_msg_free).
 */
#ifndef ODOOSYNC_KQ_H
#define ODOOSYNC_KQ_H

#include <stddef.h>

#include "err.h"
#include "log.h"

#define KQ_TOPIC_JOBS "odoosync.jobs"
#define KQ_TOPIC_RETRY "odoosync.retry"
#define KQ_TOPIC_DLQ "odoosync.dlq"
#define KQ_TOPIC_EVENTS "odoosync.events"

/* Message headers the worker pool uses on the retry topic. */
#define KQ_HDR_DUE "odoosync-due"         /* ms since the epoch, decimal */
#define KQ_HDR_ATTEMPT "odoosync-attempt" /* decimal */

struct kq_local; /* the in-process broker */

struct kq_prop {
    const char *name;  /* e.g. "session.timeout.ms" */
    const char *value; /* e.g. "6000" */
};

struct kq_conf {
    const char *bootstrap;      /* "host:port,host:port" (Kafka) */
    const char *group;          /* consumer group id (default "odoosync-workers") */
    const char *group_instance; /* static membership (group.instance.id), or NULL */
    const char *topic_jobs;     /* NULL -> KQ_TOPIC_JOBS, and so on */
    const char *topic_retry;
    const char *topic_dlq;
    const char *topic_events;
    const struct kq_prop *props; /* librdkafka properties passed through, applied last */
    size_t n_props;
    const char *sasl_password; /* given to librdkafka as sasl.password, or NULL; never logged */
    struct kq_local *local;    /* non-NULL: use this in-process queue; Kafka fields ignored */
    struct log *log;           /* may be NULL */
};

/* Topic names with the defaults applied. */
const char *kq_conf_jobs(const struct kq_conf *c);
const char *kq_conf_retry(const struct kq_conf *c);
const char *kq_conf_dlq(const struct kq_conf *c);
const char *kq_conf_events(const struct kq_conf *c);

struct kq_header {
    const char *name;
    const char *value; /* NUL-terminated */
};

struct kq_msg {
    const char *topic;
    int partition;
    long long offset;
    const char *key; /* key_len bytes, NUL-terminated copy; NULL if none */
    size_t key_len;
    const char *value; /* len bytes, NUL-terminated copy */
    size_t len;
    long long timestamp_ms; /* producer time, 0 if unknown */
    void *priv_;            /* implementation detail */
};

void kq_msg_free(struct kq_msg *m);
/* Copy header `name` (NUL-terminated, cut to cap) into out; 0, or ERR_NOTFOUND. */
int kq_msg_header(const struct kq_msg *m, const char *name, char *out, size_t cap);

/* ---- in-process broker ---- */

/* partitions per topic (>= 1), cap: max unfinished messages per topic (>= 1). NULL on OOM. */
struct kq_local *kq_local_new(int partitions, size_t cap);
/* Frees every message; all producers and consumers made from it must be gone. */
void kq_local_free(struct kq_local *q);
/*
 * The planner is done producing: once every message is delivered and the
 * consumer has nothing more, kq_poll returns ERR_NOTFOUND (end of input).
 * Producing (retries) stays allowed.
 */
void kq_local_close(struct kq_local *q);

/* ---- producer ---- */

struct kq_producer;

int kq_producer_new(struct kq_producer **out, const struct kq_conf *c, struct err *e);
/* Flushes (up to 10 s) then frees. NULL is fine. */
void kq_producer_free(struct kq_producer *p);

/*
 * Queue one message (asynchronous). key/value are copied. The delivery report
 * is counted; kq_flush tells whether all were acknowledged. ERR_RETRY when the
 * local queue is full (after waiting up to 5 s).
 */
int kq_produce(struct kq_producer *p, const char *topic, const char *key, const void *value,
               size_t len, const struct kq_header *hdrs, int n_hdrs, struct err *e);

/*
 * Delivery receipts, for a caller that must know which messages the broker
 * acknowledged (cmd_produce keeps a job's queued mark only then).
 * kq_produce_tracked queues one message like kq_produce and hands out
 * *out, its receipt (NULL on error). kq_receipt_state: 1 acknowledged
 * (acks=all), -1 delivery failed, 0 no report yet (e.g. after a kq_flush that
 * timed out). kq_receipt_free (NULL is fine) drops it, before
 * kq_producer_free; a report that comes later is still counted by kq_flush.
 * In-process queue: a message is acknowledged when it is queued.
 */
struct kq_receipt;

int kq_produce_tracked(struct kq_producer *p, const char *topic, const char *key, const void *value,
                       size_t len, const struct kq_header *hdrs, int n_hdrs,
                       struct kq_receipt **out, struct err *e);
int kq_receipt_state(struct kq_producer *p, const struct kq_receipt *r);
void kq_receipt_free(struct kq_producer *p, struct kq_receipt *r);

/*
 * Wait until every message queued so far has its delivery report, up to
 * timeout_ms. *failed (may be NULL) = messages that failed since the last
 * kq_flush. Returns 0 only if nothing is outstanding and nothing failed;
 * ERR_RETRY otherwise (e->msg says how many failed / are outstanding).
 */
int kq_flush(struct kq_producer *p, long timeout_ms, long *failed, struct err *e);

/*
 * Produce one message and wait for its own delivery report (up to timeout_ms):
 * 0 only when the broker acknowledged it (acks=all). Safe from any thread.
 */
int kq_send(struct kq_producer *p, const char *topic, const char *key, const void *value,
            size_t len, const struct kq_header *hdrs, int n_hdrs, long timeout_ms, struct err *e);

/* ---- consumer ---- */

struct kq_consumer;

/*
 * Rebalance callback, called from inside kq_poll (same thread). assigned=1:
 * partitions arrive; assigned=0: they leave (lost=1: taken away without a
 * chance to commit). When it returns from a revoke, kq commits the offsets
 * stored so far and unassigns. Pause state of the partitions is reset.
 */
typedef void (*kq_rebalance_fn)(void *ud, int assigned, int lost, const char *topic, int partition);

int kq_consumer_new(struct kq_consumer **out, const struct kq_conf *c, struct err *e);
/* Commit stored offsets, leave the group (revoke callbacks run), free. NULL is fine. */
void kq_consumer_free(struct kq_consumer *c);

void kq_consumer_on_rebalance(struct kq_consumer *c, kq_rebalance_fn fn, void *ud);
int kq_subscribe(struct kq_consumer *c, const char *const *topics, int n, struct err *e);

/*
 * Wait up to timeout_ms for one message. 0 with *out = message or NULL (timeout);
 * ERR_NOTFOUND at the end of input (local queue closed and drained); another
 * negative code on a fatal consumer error.
 */
int kq_poll(struct kq_consumer *c, long timeout_ms, struct kq_msg **out, struct err *e);

/* Everything of topic/partition before next_offset is finished. */
int kq_store(struct kq_consumer *c, const char *topic, int partition, long long next_offset,
             struct err *e);
/* Commit the stored offsets now, synchronously. */
int kq_commit(struct kq_consumer *c, struct err *e);
/*
 * Hold a partition back (it delivers nothing) until kq_resume. Every assignment
 * starts running: a partition paused when it was revoked comes back running.
 * On Kafka, pause only a partition that has delivered a message since its
 * assignment: librdkafka before 2.4 drops the fetch start of an assignment
 * that a pause overtakes, and that partition is then never fetched.
 */
int kq_pause(struct kq_consumer *c, const char *topic, int partition, struct err *e);
int kq_resume(struct kq_consumer *c, const char *topic, int partition, struct err *e);

/* ---- consumer lag ---- */

#define KQ_TOPIC_NAME_MAX 256 /* Kafka allows 249 characters */

struct kq_lag {
    char topic[KQ_TOPIC_NAME_MAX];
    long long lag;  /* messages of the topic this consumer has not finished yet */
    int partitions; /* partitions counted in lag (assigned, with known figures) */
};

/*
 * Lag of the consumer, one entry per subscribed topic (at most cap, *n = how
 * many filled; a topic with no partition assigned here has lag 0). For each
 * partition assigned to this consumer: end of the partition (high watermark)
 * minus the offset before which the work is finished, i.e. the last offset
 * given to kq_store (committed within a second), or before any store since
 * the assignment, where consumption started (the first message polled, else
 * the group's committed offset, else the partition's start). Jobs polled but
 * still running therefore count: the figure is what the group lag
 * (Kafka's, KEDA's) becomes once the commits land; summed over the workers of
 * a group it is the group's lag.
 *
 * Kafka: from librdkafka's cached figures (the watermarks of the last fetch:
 * a paused partition's end may be stale); when one is unknown, a short broker
 * request (<= 500 ms each, at most one round every 5 s), or the partition is
 * left out until known. Local queue: messages produced and not yet stored
 * (the whole queue is assigned to its one consumer).
 *
 * Unlike the other consumer calls, this one may be called from any thread
 * (e.g. a /metrics scrape) while another polls; not concurrently with
 * kq_consumer_free. 0, or ERR_NOMEM / ERR_INVALID (cap 0 with topics).
 */
int kq_consumer_lag(struct kq_consumer *c, struct kq_lag *out, size_t cap, size_t *n,
                    struct err *e);

/* ---- admin and scans ---- */

/* Create topics (existing ones are fine). Local: topics are created on first use. */
int kq_topics_create(const struct kq_conf *c, const char *const *names, int n, int partitions,
                     struct err *e);

/*
 * Read topic from its beginning to its current end (every partition), calling
 * fn for each message (fn returns 0 to go on, non-zero to stop; the message
 * is freed after fn returns). Uses group "<group>.scan", assigns partitions
 * itself and never commits, so consumers of the group are undisturbed.
 */
int kq_scan(const struct kq_conf *c, const char *topic, long timeout_ms,
            int (*fn)(const struct kq_msg *m, void *ud), void *ud, struct err *e);

/* Kafka's murmur2 partitioner (what murmur2_random uses for a non-empty key). */
int kq_partition_of(const char *key, size_t key_len, int partitions);

#endif
