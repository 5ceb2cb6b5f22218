/*
 * kq: the part of the queue shared by both implementations: topic-name
 * defaults, messages (one allocation each), Kafka's murmur2 partitioner, and
 * the dispatch from the public kq_* calls to kq_kafka.c or kq_local.c.
 */
#include "kq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kq_int.h"

#include "banned.h"

const char *kq_conf_jobs(const struct kq_conf *c)
{
    return c && c->topic_jobs && *c->topic_jobs ? c->topic_jobs : KQ_TOPIC_JOBS;
}

const char *kq_conf_retry(const struct kq_conf *c)
{
    return c && c->topic_retry && *c->topic_retry ? c->topic_retry : KQ_TOPIC_RETRY;
}

const char *kq_conf_dlq(const struct kq_conf *c)
{
    return c && c->topic_dlq && *c->topic_dlq ? c->topic_dlq : KQ_TOPIC_DLQ;
}

const char *kq_conf_events(const struct kq_conf *c)
{
    return c && c->topic_events && *c->topic_events ? c->topic_events : KQ_TOPIC_EVENTS;
}

struct kq_msg *kq_msg_make(const char *topic, int partition, long long offset, const void *key,
                           size_t key_len, const void *value, size_t len, long long ts,
                           const struct kq_header *hdrs, int n_hdrs)
{
    size_t tlen = strlen(topic), hlen = 0, size;
    struct kq_msg *m;
    struct kq_hdrs_ *h;
    char *p;

    for (int i = 0; i < n_hdrs; i++)
        hlen += strlen(hdrs[i].name) + 1 + strlen(hdrs[i].value ? hdrs[i].value : "") + 1;
    size = sizeof(*m) + sizeof(*h) + tlen + 1 + key_len + 1 + len + 1 + hlen;
    m = calloc(1, size);
    if (!m)
        return NULL;
    h = (struct kq_hdrs_ *)(m + 1);
    p = (char *)(h + 1);
    memcpy(p, topic, tlen);
    m->topic = p;
    p += tlen + 1;
    if (key) {
        if (key_len)
            memcpy(p, key, key_len);
        m->key = p;
        m->key_len = key_len;
    }
    p += key_len + 1;
    if (len)
        memcpy(p, value, len);
    m->value = p;
    m->len = len;
    p += len + 1;
    h->n = n_hdrs;
    h->blob = p;
    for (int i = 0; i < n_hdrs; i++) {
        const char *v = hdrs[i].value ? hdrs[i].value : "";
        size_t a = strlen(hdrs[i].name), b = strlen(v);

        memcpy(p, hdrs[i].name, a + 1);
        p += a + 1;
        memcpy(p, v, b + 1);
        p += b + 1;
    }
    m->partition = partition;
    m->offset = offset;
    m->timestamp_ms = ts;
    m->priv_ = h;
    return m;
}

void kq_msg_free(struct kq_msg *m)
{
    free(m);
}

int kq_msg_header(const struct kq_msg *m, const char *name, char *out, size_t cap)
{
    const struct kq_hdrs_ *h = m ? m->priv_ : NULL;
    const char *p;
    int found = 0;

    if (!h)
        return ERR_NOTFOUND;
    p = h->blob;
    for (int i = 0; i < h->n; i++) {
        const char *v = p + strlen(p) + 1;

        /* the last header of that name wins, like Kafka's lastHeader */
        if (strcmp(p, name) == 0) {
            if (cap)
                snprintf(out, cap, "%s", v);
            found = 1;
        }
        p = v + strlen(v) + 1;
    }
    return found ? 0 : ERR_NOTFOUND;
}

/* Kafka's murmur2 (the Java client's Utils.murmur2), seed 0x9747b28c. */
static uint32_t murmur2(const unsigned char *data, size_t len)
{
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t rem;

    while (len >= 4) {
        uint32_t k = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                     (uint32_t)data[3] << 24;

        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
        data += 4;
        len -= 4;
    }
    rem = len;
    if (rem == 3)
        h ^= (uint32_t)data[2] << 16;
    if (rem >= 2)
        h ^= (uint32_t)data[1] << 8;
    if (rem >= 1) {
        h ^= data[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int kq_partition_of(const char *key, size_t key_len, int partitions)
{
    if (partitions <= 1 || !key)
        return 0;
    return (int)((murmur2((const unsigned char *)key, key_len) & 0x7fffffff) %
                 (uint32_t)partitions);
}

int kq_producer_new(struct kq_producer **out, const struct kq_conf *c, struct err *e)
{
    struct kq_producer *p = calloc(1, sizeof(*p));
    int rc;

    *out = NULL;
    if (!p)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (c->local) {
        p->local = c->local;
    } else {
        rc = kq_kafka_producer_new(&p->kafka, c, e);
        if (rc < 0) {
            free(p);
            return rc;
        }
    }
    *out = p;
    return 0;
}

void kq_producer_free(struct kq_producer *p)
{
    if (!p)
        return;
    kq_kafka_producer_free(p->kafka);
    free(p);
}

int kq_produce(struct kq_producer *p, const char *topic, const char *key, const void *value,
               size_t len, const struct kq_header *hdrs, int n_hdrs, struct err *e)
{
    if (p->local)
        return kq_local_produce(p->local, topic, key, value, len, hdrs, n_hdrs, 5000, e);
    return kq_kafka_produce(p->kafka, topic, key, value, len, hdrs, n_hdrs, -1, e);
}

int kq_produce_tracked(struct kq_producer *p, const char *topic, const char *key, const void *value,
                       size_t len, const struct kq_header *hdrs, int n_hdrs,
                       struct kq_receipt **out, struct err *e)
{
    struct kq_receipt *r;
    int rc;

    *out = NULL;
    if (!p->local)
        return kq_kafka_produce_tracked(p->kafka, topic, key, value, len, hdrs, n_hdrs, out, e);
    r = calloc(1, sizeof(*r));
    if (!r)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = kq_local_produce(p->local, topic, key, value, len, hdrs, n_hdrs, 5000, e);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->refs = 1;
    r->done = 1;
    *out = r;
    return 0;
}

int kq_receipt_state(struct kq_producer *p, const struct kq_receipt *r)
{
    if (p->local)
        return 1;
    return kq_kafka_receipt_state(p->kafka, r);
}

void kq_receipt_free(struct kq_producer *p, struct kq_receipt *r)
{
    if (!r)
        return;
    if (p->local)
        free(r);
    else
        kq_kafka_receipt_free(p->kafka, r);
}

int kq_send(struct kq_producer *p, const char *topic, const char *key, const void *value,
            size_t len, const struct kq_header *hdrs, int n_hdrs, long timeout_ms, struct err *e)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (p->local)
        return kq_local_produce(p->local, topic, key, value, len, hdrs, n_hdrs, timeout_ms, e);
    return kq_kafka_produce(p->kafka, topic, key, value, len, hdrs, n_hdrs, timeout_ms, e);
}

int kq_flush(struct kq_producer *p, long timeout_ms, long *failed, struct err *e)
{
    if (p->local) {
        if (failed)
            *failed = 0;
        return 0;
    }
    return kq_kafka_flush(p->kafka, timeout_ms, failed, e);
}

int kq_consumer_new(struct kq_consumer **out, const struct kq_conf *c, struct err *e)
{
    struct kq_consumer *k = calloc(1, sizeof(*k));
    int rc;

    *out = NULL;
    if (!k)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (c->local) {
        k->local = c->local;
        rc = kq_local_consumer_new(&k->lc, c->local, e);
    } else {
        rc = kq_kafka_consumer_new(&k->kafka, c, e);
    }
    if (rc < 0) {
        free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void kq_consumer_free(struct kq_consumer *c)
{
    if (!c)
        return;
    if (c->lc)
        kq_local_consumer_free(c->lc);
    if (c->kafka)
        kq_kafka_consumer_free(c->kafka);
    free(c);
}

void kq_consumer_on_rebalance(struct kq_consumer *c, kq_rebalance_fn fn, void *ud)
{
    if (c->lc)
        kq_local_on_rebalance(c->lc, fn, ud);
    else
        kq_kafka_on_rebalance(c->kafka, fn, ud);
}

int kq_subscribe(struct kq_consumer *c, const char *const *topics, int n, struct err *e)
{
    if (c->lc)
        return kq_local_subscribe(c->lc, topics, n, e);
    return kq_kafka_subscribe(c->kafka, topics, n, e);
}

int kq_poll(struct kq_consumer *c, long timeout_ms, struct kq_msg **out, struct err *e)
{
    *out = NULL;
    if (c->lc)
        return kq_local_poll(c->lc, timeout_ms, out, e);
    return kq_kafka_poll(c->kafka, timeout_ms, out, e);
}

int kq_store(struct kq_consumer *c, const char *topic, int partition, long long next_offset,
             struct err *e)
{
    if (c->lc)
        return kq_local_store(c->lc, topic, partition, next_offset, e);
    return kq_kafka_store(c->kafka, topic, partition, next_offset, e);
}

int kq_commit(struct kq_consumer *c, struct err *e)
{
    if (c->lc)
        return 0; /* local: a stored offset is committed */
    return kq_kafka_commit(c->kafka, e);
}

int kq_pause(struct kq_consumer *c, const char *topic, int partition, struct err *e)
{
    if (c->lc)
        return kq_local_pause(c->lc, topic, partition, 1, e);
    return kq_kafka_pause(c->kafka, topic, partition, 1, e);
}

int kq_resume(struct kq_consumer *c, const char *topic, int partition, struct err *e)
{
    if (c->lc)
        return kq_local_pause(c->lc, topic, partition, 0, e);
    return kq_kafka_pause(c->kafka, topic, partition, 0, e);
}

int kq_consumer_lag(struct kq_consumer *c, struct kq_lag *out, size_t cap, size_t *n, struct err *e)
{
    *n = 0;
    if (c->lc)
        return kq_local_lag(c->lc, out, cap, n, e);
    return kq_kafka_lag(c->kafka, out, cap, n, e);
}

int kq_topics_create(const struct kq_conf *c, const char *const *names, int n, int partitions,
                     struct err *e)
{
    if (c->local)
        return 0;
    return kq_kafka_topics_create(c, names, n, partitions, e);
}

int kq_scan(const struct kq_conf *c, const char *topic, long timeout_ms,
            int (*fn)(const struct kq_msg *m, void *ud), void *ud, struct err *e)
{
    if (c->local)
        return kq_local_scan(c->local, topic, fn, ud, e);
    return kq_kafka_scan(c, topic, timeout_ms, fn, ud, e);
}
