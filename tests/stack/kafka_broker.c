/*
 * kafka_broker: the Kafka of the test stack. No Kafka installs here, so we
 * run librdkafka's own broker implementation (rdkafka_mock.h): a cluster
 * of N brokers (default 3) on 127.0.0.1, ephemeral ports, that speaks the
 * Kafka protocol to any client (produce, fetch, consumer groups, offsets,
 * idempotent producer). It creates our topics, prints one line
 * `BOOTSTRAP=host:port,...` on stdout, then serves until SIGTERM/SIGINT.
 *
 * Faults are injected through a control socket (--control PATH, a unix
 * stream socket this program creates, mode 0600). One command per line;
 * each gets one reply line, "OK" or "ERR <why>", sent once the mock has
 * applied it (the mock calls are synchronous), so a test can rely on it:
 *   ping                          -> OK
 *   down N | up N                 broker N (1..count) refuses / accepts again
 *   rtt N MS                      broker N answers MS milliseconds late
 *   error APIKEY ERRCODE COUNT    the next COUNT requests of APIKEY (any
 *                                 broker) fail with ERRCODE (librdkafka's
 *                                 numbering, e.g. 0 Produce, 6 NOT_LEADER)
 *   topic NAME PARTITIONS RF      create a topic (the mock has no
 *                                 CreateTopics API; auto-create gives 4),
 *                                 partition P led by broker P % count + 1
 *   leader TOPIC PARTITION N      move a partition's leadership to broker N
 *   coordinator TYPE KEY N        TYPE group|transaction
 *   clear                         drop pushed errors, zero RTTs, all brokers up
 *
 * The signal handler only sets a flag; the main loop polls the control
 * socket with a short timeout and checks it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "banned.h"

#define KB_MAX_CLIENTS 16
#define KB_LINE_CAP 1024
#define KB_MAX_APIKEY 100

struct kb_client {
    int fd;
    size_t len;
    char line[KB_LINE_CAP];
};

struct kb {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    int broker_cnt;
    int listen_fd;
    const char *control_path;
    struct kb_client clients[KB_MAX_CLIENTS];
};

static volatile sig_atomic_t kb_stop;

static void kb_on_signal(int sig)
{
    (void)sig;
    kb_stop = 1;
}

static int kb_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Splits line in place on blanks; returns the number of words (at most cap). */
static int kb_split(char *line, char **words, int cap)
{
    int n = 0;
    char *p = line;

    while (*p) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        if (n == cap)
            return cap + 1;
        words[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    return n;
}

static void kb_reply(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static int kb_broker_arg(const struct kb *kb, const char *s, long *id)
{
    return kb_parse_long(s, 1, kb->broker_cnt, id);
}

/* Runs one command; writes the reply line (without newline) into out. */
/* Creates a topic with its partition leaders spread round-robin over the
 * brokers (partition P on broker P % count + 1). The mock otherwise picks each
 * leader at random, and a test that takes one broker down must know it leads
 * some partitions. */
static rd_kafka_resp_err_t kb_topic_create(const struct kb *kb, const char *name, int parts, int rf)
{
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(kb->mc, name, parts, rf);
    int p;

    for (p = 0; !err && p < parts; p++)
        err = rd_kafka_mock_partition_set_leader(kb->mc, name, p, p % kb->broker_cnt + 1);
    return err;
}

static void kb_command(struct kb *kb, char *line, char *out, size_t cap)
{
    char *w[6];
    int n = kb_split(line, w, 5);
    long a = 0, b = 0, c = 0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (n == 0) {
        kb_reply(out, cap, "ERR empty command");
        return;
    }
    if (!strcmp(w[0], "ping") && n == 1) {
        kb_reply(out, cap, "OK");
        return;
    }
    if ((!strcmp(w[0], "down") || !strcmp(w[0], "up")) && n == 2) {
        if (kb_broker_arg(kb, w[1], &a)) {
            kb_reply(out, cap, "ERR broker id must be 1..%d", kb->broker_cnt);
            return;
        }
        if (w[0][0] == 'd')
            err = rd_kafka_mock_broker_set_down(kb->mc, (int32_t)a);
        else
            err = rd_kafka_mock_broker_set_up(kb->mc, (int32_t)a);
    } else if (!strcmp(w[0], "rtt") && n == 3) {
        if (kb_broker_arg(kb, w[1], &a) || kb_parse_long(w[2], 0, 600000, &b)) {
            kb_reply(out, cap, "ERR usage: rtt BROKER MS");
            return;
        }
        err = rd_kafka_mock_broker_set_rtt(kb->mc, (int32_t)a, (int)b);
    } else if (!strcmp(w[0], "error") && n == 4) {
        rd_kafka_resp_err_t *errs = NULL;
        long i;

        if (kb_parse_long(w[1], 0, KB_MAX_APIKEY, &a) || kb_parse_long(w[2], -200, 200, &b) ||
            kb_parse_long(w[3], 1, 10000, &c)) {
            kb_reply(out, cap, "ERR usage: error APIKEY ERRCODE COUNT");
            return;
        }
        errs = calloc((size_t)c, sizeof(*errs));
        if (!errs) {
            kb_reply(out, cap, "ERR out of memory");
            return;
        }
        for (i = 0; i < c; i++)
            errs[i] = (rd_kafka_resp_err_t)b;
        rd_kafka_mock_push_request_errors_array(kb->mc, (int16_t)a, (size_t)c, errs);
        free(errs);
    } else if (!strcmp(w[0], "topic") && n == 4) {
        if (kb_parse_long(w[2], 1, 1000, &a) || kb_parse_long(w[3], 1, kb->broker_cnt, &b)) {
            kb_reply(out, cap, "ERR usage: topic NAME PARTITIONS RF (RF <= %d)", kb->broker_cnt);
            return;
        }
        err = kb_topic_create(kb, w[1], (int)a, (int)b);
    } else if (!strcmp(w[0], "leader") && n == 4) {
        if (kb_parse_long(w[2], 0, 999, &a) || kb_broker_arg(kb, w[3], &b)) {
            kb_reply(out, cap, "ERR usage: leader TOPIC PARTITION BROKER");
            return;
        }
        err = rd_kafka_mock_partition_set_leader(kb->mc, w[1], (int32_t)a, (int32_t)b);
    } else if (!strcmp(w[0], "coordinator") && n == 4) {
        if ((strcmp(w[1], "group") && strcmp(w[1], "transaction")) || kb_broker_arg(kb, w[3], &a)) {
            kb_reply(out, cap, "ERR usage: coordinator group|transaction KEY BROKER");
            return;
        }
        err = rd_kafka_mock_coordinator_set(kb->mc, w[1], w[2], (int32_t)a);
    } else if (!strcmp(w[0], "clear") && n == 1) {
        int i;

        for (i = 0; i <= KB_MAX_APIKEY; i++)
            rd_kafka_mock_clear_request_errors(kb->mc, (int16_t)i);
        for (i = 1; i <= kb->broker_cnt && !err; i++) {
            err = rd_kafka_mock_broker_set_rtt(kb->mc, i, 0);
            if (!err)
                err = rd_kafka_mock_broker_set_up(kb->mc, i);
        }
    } else {
        kb_reply(out, cap, "ERR unknown command or wrong arguments: \"%s\"", w[0]);
        return;
    }
    if (err)
        kb_reply(out, cap, "ERR %s", rd_kafka_err2str(err));
    else
        kb_reply(out, cap, "OK");
}

static void kb_client_close(struct kb_client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    cl->fd = -1;
    cl->len = 0;
}

static void kb_send_line(struct kb_client *cl, const char *text)
{
    char buf[KB_LINE_CAP + 2];
    int n = snprintf(buf, sizeof(buf), "%s\n", text);
    size_t off = 0;

    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = (int)sizeof(buf) - 1;
    while (off < (size_t)n) {
        ssize_t w = send(cl->fd, buf + off, (size_t)n - off, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            kb_client_close(cl);
            return;
        }
        off += (size_t)w;
    }
}

/* Reads what the client sent; runs each complete line. */
static void kb_client_read(struct kb *kb, struct kb_client *cl)
{
    ssize_t r = read(cl->fd, cl->line + cl->len, sizeof(cl->line) - 1 - cl->len);
    char *nl;

    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r <= 0) {
        kb_client_close(cl);
        return;
    }
    cl->len += (size_t)r;
    cl->line[cl->len] = '\0';
    while (cl->fd >= 0 && (nl = memchr(cl->line, '\n', cl->len)) != NULL) {
        char reply[KB_LINE_CAP];
        char cmd[KB_LINE_CAP];
        size_t used = (size_t)(nl - cl->line) + 1;

        *nl = '\0';
        if (nl > cl->line && nl[-1] == '\r')
            nl[-1] = '\0';
        snprintf(cmd, sizeof(cmd), "%s", cl->line);
        kb_command(kb, cl->line, reply, sizeof(reply));
        fprintf(stderr, "kafka_broker: control \"%s\": %s\n", cmd, reply);
        kb_send_line(cl, reply);
        if (cl->fd < 0)
            return;
        memmove(cl->line, cl->line + used, cl->len - used);
        cl->len -= used;
        cl->line[cl->len] = '\0';
    }
    if (cl->len == sizeof(cl->line) - 1) {
        kb_send_line(cl, "ERR line too long");
        kb_client_close(cl);
    }
}

static void kb_accept(struct kb *kb)
{
    int fd = accept(kb->listen_fd, NULL, NULL);
    int i;

    if (fd < 0)
        return;
    for (i = 0; i < KB_MAX_CLIENTS; i++) {
        if (kb->clients[i].fd < 0) {
            kb->clients[i].fd = fd;
            kb->clients[i].len = 0;
            return;
        }
    }
    (void)!write(fd, "ERR too many control clients\n", 29);
    close(fd);
}

static int kb_listen(struct kb *kb)
{
    struct sockaddr_un sa;
    size_t len = strlen(kb->control_path);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (len >= sizeof(sa.sun_path)) {
        fprintf(stderr, "kafka_broker: control path \"%s\" is too long for a unix socket\n",
                kb->control_path);
        return -1;
    }
    memcpy(sa.sun_path, kb->control_path, len + 1);
    kb->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (kb->listen_fd < 0) {
        perror("kafka_broker: socket");
        return -1;
    }
    unlink(kb->control_path);
    if (bind(kb->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(kb->control_path, 0600) < 0 || listen(kb->listen_fd, 8) < 0) {
        fprintf(stderr, "kafka_broker: control socket \"%s\": %s\n", kb->control_path,
                strerror(errno));
        return -1;
    }
    return 0;
}

static void kb_serve(struct kb *kb)
{
    while (!kb_stop) {
        struct pollfd pfd[KB_MAX_CLIENTS + 1];
        int idx[KB_MAX_CLIENTS + 1];
        int n = 0, i, r;

        if (kb->listen_fd >= 0) {
            pfd[n].fd = kb->listen_fd;
            pfd[n].events = POLLIN;
            idx[n++] = -1;
        }
        for (i = 0; i < KB_MAX_CLIENTS; i++) {
            if (kb->clients[i].fd >= 0) {
                pfd[n].fd = kb->clients[i].fd;
                pfd[n].events = POLLIN;
                idx[n++] = i;
            }
        }
        r = poll(pfd, (nfds_t)n, 200);
        if (r <= 0)
            continue;
        for (i = 0; i < n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (idx[i] < 0)
                kb_accept(kb);
            else
                kb_client_read(kb, &kb->clients[idx[i]]);
        }
    }
}

static const char *const kb_topics[][2] = {
    {"odoosync.jobs", "6"},
    {"odoosync.retry", "6"},
    {"odoosync.dlq", "1"},
    {"odoosync.events", "3"},
};

static void kb_usage(void)
{
    fprintf(stderr, "usage: kafka_broker [--brokers N] [--control SOCKET_PATH]\n"
                    "prints BOOTSTRAP=<servers> once ready; serves until SIGTERM/SIGINT\n");
}

int main(int argc, char **argv)
{
    struct kb kb;
    struct sigaction sa;
    rd_kafka_conf_t *conf = NULL;
    char errstr[512];
    long brokers = 3;
    int i, rc = 1;

    memset(&kb, 0, sizeof(kb));
    kb.listen_fd = -1;
    for (i = 0; i < KB_MAX_CLIENTS; i++)
        kb.clients[i].fd = -1;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--control") && i + 1 < argc) {
            kb.control_path = argv[++i];
        } else if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            if (kb_parse_long(argv[++i], 1, 16, &brokers)) {
                kb_usage();
                return 2;
            }
        } else {
            kb_usage();
            return 2;
        }
    }
    kb.broker_cnt = (int)brokers;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kb_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The handle only hosts the mock cluster; it never produces. */
    conf = rd_kafka_conf_new();
    /* log_level 4: no notice that the hosting handle has no bootstrap.servers. */
    if (rd_kafka_conf_set(conf, "client.id", "odoosync-kafka-broker", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_broker: %s\n", errstr);
        goto out;
    }
    kb.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!kb.rk) {
        fprintf(stderr, "kafka_broker: rd_kafka_new: %s\n", errstr);
        goto out; /* conf is still ours */
    }
    conf = NULL; /* owned by kb.rk now */
    kb.mc = rd_kafka_mock_cluster_new(kb.rk, kb.broker_cnt);
    if (!kb.mc) {
        fprintf(stderr, "kafka_broker: cannot create the mock cluster\n");
        goto out;
    }
    for (i = 0; i < (int)(sizeof(kb_topics) / sizeof(kb_topics[0])); i++) {
        long parts = 0;
        rd_kafka_resp_err_t err;

        (void)kb_parse_long(kb_topics[i][1], 1, 1000, &parts);
        err = kb_topic_create(&kb, kb_topics[i][0], (int)parts, kb.broker_cnt);
        if (err) {
            fprintf(stderr, "kafka_broker: topic \"%s\": %s\n", kb_topics[i][0],
                    rd_kafka_err2str(err));
            goto out;
        }
    }
    if (kb.control_path && kb_listen(&kb) < 0)
        goto out;

    printf("BOOTSTRAP=%s\n", rd_kafka_mock_cluster_bootstraps(kb.mc));
    fflush(stdout);
    fprintf(stderr, "kafka_broker: %d brokers at %s, control %s\n", kb.broker_cnt,
            rd_kafka_mock_cluster_bootstraps(kb.mc), kb.control_path ? kb.control_path : "none");

    kb_serve(&kb);
    fprintf(stderr, "kafka_broker: stopping\n");
    rc = 0;
out:
    for (i = 0; i < KB_MAX_CLIENTS; i++)
        kb_client_close(&kb.clients[i]);
    if (kb.listen_fd >= 0) {
        close(kb.listen_fd);
        unlink(kb.control_path);
    }
    if (kb.mc)
        rd_kafka_mock_cluster_destroy(kb.mc);
    if (kb.rk)
        rd_kafka_destroy(kb.rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rc;
}
