/*
 * test_kafka: the stack's Kafka broker behaves like Kafka for what odoosync
 * relies on. Two cases, chosen by argv[1]:
 *   group        an idempotent acks=all producer delivers N keyed messages
 *                (every delivery report checked); a consumer group of two
 *                members receives each exactly once, both members own
 *                partitions, and one key always lands in one partition.
 *   broker-down  broker 2 is taken down through the control socket: the
 *                messages for its partitions wait (none fails), the group
 *                consumes the rest meanwhile; broker 2 comes back, then every
 *                message is delivered and consumed exactly once.
 * Each run uses its own topic and group names (the broker has no
 * CreateTopics API: topics are made through the control socket).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "check.h"
#include "kafkactl.h"
#include "stackenv.h"

#include "banned.h"

#define N_GROUP 300
#define N_DOWN 120
#define N_KEYS 40
#define N_PARTITIONS 6
#define N_MAX 300

struct dr_count {
    int ok;
    int failed;
};

struct seen {
    int count[N_MAX];          /* times message i was consumed */
    int key_partition[N_KEYS]; /* partition of key k, -1 before the first */
    int by_member[2];
    int total; /* distinct messages consumed */
    int key_moved;
    int bad_payload;
};

static double t0;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct dr_count *dc = opaque;

    (void)rk;
    if (m->err) {
        dc->failed++;
        fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        dc->ok++;
    }
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char errstr[256];

    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "conf %s=%s: %s\n", k, v, errstr);
        return -1;
    }
    return 0;
}

static rd_kafka_t *producer_new(struct dr_count *dc)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_t *rk;

    if (conf_set(conf, "bootstrap.servers", stackenv_get("KAFKA_BOOTSTRAP")) ||
        conf_set(conf, "enable.idempotence", "true") || conf_set(conf, "acks", "all") ||
        conf_set(conf, "message.timeout.ms", "60000") || conf_set(conf, "linger.ms", "5") ||
        conf_set(conf, "reconnect.backoff.max.ms", "1000")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, dc);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "producer: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static rd_kafka_t *consumer_new(const char *group, const char *topic)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *sub = NULL;
    char errstr[256];
    rd_kafka_t *rk;
    rd_kafka_resp_err_t err;

    if (conf_set(conf, "bootstrap.servers", stackenv_get("KAFKA_BOOTSTRAP")) ||
        conf_set(conf, "group.id", group) || conf_set(conf, "auto.offset.reset", "earliest") ||
        conf_set(conf, "enable.auto.commit", "false") ||
        conf_set(conf, "session.timeout.ms", "10000") ||
        conf_set(conf, "heartbeat.interval.ms", "500") ||
        conf_set(conf, "reconnect.backoff.max.ms", "1000")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "consumer: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        fprintf(stderr, "subscribe: %s\n", rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

static void consumers_free(rd_kafka_t **c)
{
    int i;

    /* No auto-commit: both commit before either leaves (a leave starts a
     * rebalance, during which the mock refuses commits). */
    for (i = 0; i < 2; i++) {
        if (c[i])
            rd_kafka_commit(c[i], NULL, 0);
    }
    for (i = 0; i < 2; i++) {
        if (c[i]) {
            rd_kafka_consumer_close(c[i]);
            rd_kafka_destroy(c[i]);
            c[i] = NULL;
        }
    }
}

static int produce(struct check_count *cc, rd_kafka_t *p, const char *topic, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        char key[32], val[32];
        rd_kafka_resp_err_t err;

        snprintf(key, sizeof(key), "doc-%d", i % N_KEYS);
        snprintf(val, sizeof(val), "msg-%d", i);
        err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                RD_KAFKA_V_VALUE(val, strlen(val)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        CHECK_MSG(cc, err == RD_KAFKA_RESP_ERR_NO_ERROR, "produce %d: %s", i,
                  rd_kafka_err2str(err));
        if (err)
            return -1;
        rd_kafka_poll(p, 0);
    }
    return 0;
}

/* Polls both members for up to `seconds`, or until `until` messages are in. */
static void consume(rd_kafka_t **c, struct seen *s, int n, int until, double seconds)
{
    double end = now_s() + seconds;
    int i;

    while (now_s() < end && s->total < until) {
        for (i = 0; i < 2; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c[i], 50);
            char val[32];
            long idx;
            char *e = NULL;

            if (!m)
                continue;
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    fprintf(stderr, "consumer %d: %s\n", i, rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                continue;
            }
            snprintf(val, sizeof(val), "%.*s", (int)(m->len < 31 ? m->len : 31),
                     (const char *)m->payload);
            idx = strncmp(val, "msg-", 4) == 0 ? strtol(val + 4, &e, 10) : -1;
            if (idx < 0 || idx >= n || !e || *e) {
                s->bad_payload++;
            } else {
                int k = (int)(idx % N_KEYS);

                if (s->count[idx]++ == 0)
                    s->total++; /* distinct messages */
                s->by_member[i]++;
                if (s->key_partition[k] < 0)
                    s->key_partition[k] = m->partition;
                else if (s->key_partition[k] != m->partition)
                    s->key_moved++;
            }
            rd_kafka_message_destroy(m);
        }
    }
}

static void seen_init(struct seen *s)
{
    int i;

    memset(s, 0, sizeof(*s));
    for (i = 0; i < N_KEYS; i++)
        s->key_partition[i] = -1;
}

static void check_exactly_once(struct check_count *cc, const struct seen *s, int n)
{
    int i, missing = 0, dup = 0;

    for (i = 0; i < n; i++) {
        if (s->count[i] == 0)
            missing++;
        else if (s->count[i] > 1)
            dup++;
    }
    CHECK_MSG(cc, missing == 0, "%d of %d messages never consumed", missing, n);
    CHECK_MSG(cc, dup == 0, "%d messages consumed more than once", dup);
    CHECK_INT(cc, s->bad_payload, 0);
    CHECK_MSG(cc, s->key_moved == 0, "%d messages left their key's partition", s->key_moved);
}

static int assigned(rd_kafka_t *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int n;

    if (rd_kafka_assignment(c, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    n = parts->cnt;
    rd_kafka_topic_partition_list_destroy(parts);
    return n;
}

/*
 * Polls both members until each owns partitions and together they own all,
 * unchanged for 1.5 s. The mock broker refuses offset commits while a group
 * rebalances (real Kafka accepts them from the current generation), so
 * messages are produced only into a settled group.
 */
static int wait_stable(rd_kafka_t **c, double seconds)
{
    double end = now_s() + seconds, since = 0;
    int last0 = -1, last1 = -1;

    while (now_s() < end) {
        int i, a0, a1;

        for (i = 0; i < 2; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c[i], 50);

            if (m) {
                fprintf(stderr, "unexpected message before producing: %s\n",
                        m->err ? rd_kafka_message_errstr(m) : "(data)");
                rd_kafka_message_destroy(m);
            }
        }
        a0 = assigned(c[0]);
        a1 = assigned(c[1]);
        if (a0 != last0 || a1 != last1) {
            last0 = a0;
            last1 = a1;
            since = now_s();
        } else if (a0 > 0 && a1 > 0 && a0 + a1 == N_PARTITIONS && now_s() - since > 1.5) {
            return 0;
        }
    }
    fprintf(stderr, "group did not settle in %.0f s (%d + %d partitions)\n", seconds, last0, last1);
    return -1;
}

static void test_group(struct check_count *cc, const char *topic, const char *group)
{
    struct dr_count dc = {0, 0};
    rd_kafka_t *p = producer_new(&dc);
    rd_kafka_t *c[2] = {NULL, NULL};
    struct seen *s = malloc(sizeof(*s));
    int a0, a1;

    CHECK(cc, p != NULL && s != NULL);
    if (!p || !s)
        goto out;
    seen_init(s);
    c[0] = consumer_new(group, topic);
    c[1] = consumer_new(group, topic);
    CHECK(cc, c[0] && c[1]);
    if (!c[0] || !c[1])
        goto out;
    CHECK_INT(cc, wait_stable(c, 40.0), 0);
    if (produce(cc, p, topic, N_GROUP) < 0)
        goto out;
    CHECK_INT(cc, rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK_INT(cc, dc.ok, N_GROUP);
    CHECK_INT(cc, dc.failed, 0);
    consume(c, s, N_GROUP, N_GROUP, 60.0);
    consume(c, s, N_GROUP, N_GROUP + 1, 1.0); /* would catch a late duplicate */
    check_exactly_once(cc, s, N_GROUP);
    a0 = assigned(c[0]);
    a1 = assigned(c[1]);
    printf("group: member 0 owns %d partitions, consumed %d; member 1 owns %d, consumed %d\n", a0,
           s->by_member[0], a1, s->by_member[1]);
    CHECK_MSG(cc, a0 > 0 && a1 > 0, "both members own partitions (%d, %d)", a0, a1);
    CHECK_INT(cc, a0 + a1, N_PARTITIONS);
    CHECK(cc, s->by_member[0] > 0 && s->by_member[1] > 0);
out:
    consumers_free(c);
    if (p)
        rd_kafka_destroy(p);
    free(s);
}

static void test_broker_down(struct check_count *cc, const char *topic, const char *group)
{
    struct dr_count dc = {0, 0};
    rd_kafka_t *p = NULL;
    rd_kafka_t *c[2] = {NULL, NULL};
    struct seen *s = malloc(sizeof(*s));
    char why[512];
    int rc, during, down = 0;

    CHECK(cc, s != NULL);
    if (!s)
        goto out;
    seen_init(s);
    rc = kafkactl_send(why, sizeof(why), "coordinator group %s 1", group);
    CHECK_MSG(cc, rc == 0, "%s", why);
    c[0] = consumer_new(group, topic);
    c[1] = consumer_new(group, topic);
    CHECK(cc, c[0] && c[1]);
    if (!c[0] || !c[1])
        goto out;
    CHECK_INT(cc, wait_stable(c, 40.0), 0);
    rc = kafkactl_send(why, sizeof(why), "down 2");
    CHECK_MSG(cc, rc == 0, "%s", why);
    if (rc)
        goto out;
    down = 1;
    p = producer_new(&dc);
    CHECK(cc, p != NULL);
    if (!p || produce(cc, p, topic, N_DOWN) < 0)
        goto out;
    rd_kafka_flush(p, 3000); /* gives up after 3 s: broker 2's share must still wait */
    printf("broker-down: %.1f s: %d of %d delivered while broker 2 is down\n", now_s() - t0, dc.ok,
           N_DOWN);
    CHECK_MSG(cc, dc.ok > 0 && dc.ok < N_DOWN, "delivered %d of %d", dc.ok, N_DOWN);
    CHECK_INT(cc, dc.failed, 0);
    consume(c, s, N_DOWN, dc.ok, 20.0);
    during = s->total;
    printf("broker-down: %.1f s: %d consumed while broker 2 is down\n", now_s() - t0, during);
    CHECK_MSG(cc, during > 0 && during <= dc.ok, "consumed %d, delivered %d", during, dc.ok);

    rc = kafkactl_send(why, sizeof(why), "up 2");
    CHECK_MSG(cc, rc == 0, "%s", why);
    down = rc != 0;
    CHECK_INT(cc, rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK_INT(cc, dc.ok, N_DOWN);
    CHECK_INT(cc, dc.failed, 0);
    consume(c, s, N_DOWN, N_DOWN, 60.0);
    consume(c, s, N_DOWN, N_DOWN + 1, 1.0);
    check_exactly_once(cc, s, N_DOWN);
    printf("broker-down: %.1f s: %d consumed in all\n", now_s() - t0, s->total);
out:
    if (down && kafkactl_send(why, sizeof(why), "up 2") != 0)
        fprintf(stderr, "could not bring broker 2 back: %s\n", why);
    consumers_free(c);
    if (p)
        rd_kafka_destroy(p);
    free(s);
}

int main(int argc, char **argv)
{
    struct check_count cc = CHECK_INIT;
    const char *which = argc > 1 ? argv[1] : "group";
    char topic[128], group[128], why[512];
    unsigned long tag = (unsigned long)time(NULL) * 100000UL + (unsigned long)getpid();

    t0 = now_s();
    if (stackenv_load() != 0)
        return 1;
    snprintf(topic, sizeof(topic), "stacktest.%s.%lu", which, tag);
    snprintf(group, sizeof(group), "stacktest.%s.%lu.g", which, tag);
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s %d 3", topic, N_PARTITIONS) == 0, "%s",
              why);
    if (!strcmp(which, "group")) {
        test_group(&cc, topic, group);
    } else if (!strcmp(which, "broker-down")) {
        test_broker_down(&cc, topic, group);
    } else {
        fprintf(stderr, "usage: test_kafka group|broker-down\n");
        return 2;
    }
    return check_done(&cc);
}
