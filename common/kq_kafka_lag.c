/*
 * kq_kafka_lag: how far the Kafka consumer (kq_kafka_consumer.c) is behind.
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
#include "kq_kafka_int.h"

#include "banned.h"

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under lag_mu. */
static struct kq_kafka_lagpart *lag_find(struct kq_kafka_consumer *c, const char *topic,
                                         int partition)
{
    for (size_t i = 0; i < c->nlp; i++)
        if (c->lp[i].partition == partition && strcmp(c->lp[i].topic, topic) == 0)
            return &c->lp[i];
    return NULL;
}

/* A partition arrives (assigned=1: its figures start unknown) or leaves. */
void kq_kafka_lag_track(struct kq_kafka_consumer *c, const char *topic, int partition, int assigned)
{
    struct kq_kafka_lagpart *lp;

    pthread_mutex_lock(&c->lag_mu);
    lp = lag_find(c, topic, partition);
    if (lp) {
        if (lp->src >= KQ_LAG_POLLED)
            c->weak++;
        if (assigned) {
            lp->done = -1;
            lp->src = KQ_LAG_NONE;
            lp->hi_q = -1;
        } else {
            c->weak--;
            free(lp->topic);
            *lp = c->lp[--c->nlp];
        }
    } else if (assigned) {
        if (c->nlp == c->alp) {
            size_t na = c->alp ? c->alp * 2 : 16;
            struct kq_kafka_lagpart *nl = realloc(c->lp, na * sizeof(*nl));

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
        lp->src = KQ_LAG_NONE;
        lp->hi_q = -1;
        c->nlp++;
        c->weak++;
    }
out:
    pthread_mutex_unlock(&c->lag_mu);
}

/* The work on topic[partition] is finished before `done`, known from src. */
void kq_kafka_lag_mark(struct kq_kafka_consumer *c, const char *topic, int partition,
                       long long done, int src)
{
    struct kq_kafka_lagpart *lp;

    pthread_mutex_lock(&c->lag_mu);
    if (src == KQ_LAG_POLLED && c->weak == 0) /* the common case: nothing to learn */
        goto out;
    lp = lag_find(c, topic, partition);
    if (!lp || (src == KQ_LAG_POLLED && lp->src >= KQ_LAG_POLLED))
        goto out;
    if (lp->src < KQ_LAG_POLLED)
        c->weak--;
    lp->done = done;
    lp->src = src;
out:
    pthread_mutex_unlock(&c->lag_mu);
}

/* Remember the subscribed topics: kq_kafka_lag reports each of them. */
int kq_kafka_lag_subscribed(struct kq_kafka_consumer *c, const char *const *topics, int n,
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
            c->lp[i].src == KQ_LAG_NONE ? -1 : c->lp[i].done;
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
        if (src[i] != KQ_LAG_NONE)
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
            struct kq_kafka_lagpart *lp = lag_find(c, ask->elems[i].topic, ask->elems[i].partition);

            if (ask->elems[i].offset >= 0 && lp && lp->src == KQ_LAG_NONE) {
                lp->done = ask->elems[i].offset;
                lp->src = KQ_LAG_COMMITTED;
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
                    struct kq_kafka_lagpart *lp;

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
