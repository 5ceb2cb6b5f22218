/*
 * test_pool_kill: at least once, nothing lost, exactly once in effect.
 *
 * 500 jobs (50 keys x 10) go to Kafka; a worker (this program re-run as
 * `worker ...`, a real pool in a child process) is killed with SIGKILL at a
 * random point while it applies them, and restarted, several times; the last
 * one runs until every job is applied and is stopped with SIGTERM (it must
 * exit 0: jobs in flight finished, offsets committed).
 *
 * The applier's effect is one atomic Redis script per job: add the job id to
 * a set (the effect: idempotent), count the apply, and count an order
 * violation when (key, seq) comes before (key, seq-1) was ever applied.
 * Checks: the set holds exactly the 500 ids, no order violation, and the
 * children really were killed mid-stream (applies happened in several runs).
 * The seed is printed; ODOOSYNC_TEST_SEED replays one.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "kq.h"
#include "lock.h"
#include "pool.h"
#include "pooltest.h"
#include "stackenv.h"

#include "../stack/kafkactl.c"

#include "banned.h"

#define NKEYS 50
#define NSEQ 10
#define NJOBS (NKEYS * NSEQ)
#define KILLS 4

static const char record_lua[] = "local m = tonumber(redis.call('hget', KEYS[1], ARGV[1]) or '-1') "
                                 "local s = tonumber(ARGV[2]) "
                                 "if s > m + 1 then redis.call('incr', KEYS[2]) end "
                                 "if s > m then redis.call('hset', KEYS[1], ARGV[1], ARGV[2]) end "
                                 "redis.call('incr', KEYS[3]) "
                                 "return redis.call('sadd', KEYS[4], ARGV[3])";

struct target {
    const char *host;
    int port;
    const char *prefix;
};

static redisContext *rconnect(const struct target *t)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(t->host, t->port, tv);

    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static int apply_record(const struct job *j, void *ud, struct err *e)
{
    const struct target *t = ud;
    char k1[128], k2[128], k3[128], k4[128], key[16], seq[16];
    redisContext *c;
    redisReply *r;
    int k, s, rc = 0;

    if (pt_job_parse(j, &k, &s) < 0)
        return err_set(e, ERR_INVALID, "not a test job");
    pt_sleep_ms(5 + (k * 13 + s * 7) % 20);
    c = rconnect(t);
    if (!c)
        return err_set(e, ERR_RETRY, "test redis unreachable");
    snprintf(k1, sizeof(k1), "%s:max", t->prefix);
    snprintf(k2, sizeof(k2), "%s:violations", t->prefix);
    snprintf(k3, sizeof(k3), "%s:applies", t->prefix);
    snprintf(k4, sizeof(k4), "%s:done", t->prefix);
    snprintf(key, sizeof(key), "%d", k);
    snprintf(seq, sizeof(seq), "%d", s);
    r = redisCommand(c, "EVAL %s 4 %s %s %s %s %s %s %s", record_lua, k1, k2, k3, k4, key, seq,
                     j->id);
    if (!r || r->type == REDIS_REPLY_ERROR)
        rc = err_set(e, ERR_RETRY, "test redis: %s", r ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* as pt_kafka_props, with a short session: a killed worker's partitions move on in 3 s */
static const struct kq_prop kill_props[] = {
    {"session.timeout.ms", "3000"},      {"heartbeat.interval.ms", "300"},
    {"auto.commit.interval.ms", "300"},  {"fetch.wait.max.ms", "50"},
    {"reconnect.backoff.max.ms", "500"}, {"retry.backoff.ms", "100"},
};

static volatile sig_atomic_t stop_flag;

static void on_term(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* worker JOBS RETRY DLQ GROUP PREFIX: one pool until SIGTERM. */
static int worker_main(char **argv)
{
    struct kq_conf kc;
    struct pt_topics t;
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct pool *p = NULL;
    struct pool_opts o = {0};
    struct target tg;
    struct err e = ERR_INIT;
    struct sigaction sa;
    struct log lg;
    char *end;
    int rc;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    pt_kafka_conf(&kc, &t, "kill");
    kc.topic_jobs = argv[2];
    kc.topic_retry = argv[3];
    kc.topic_dlq = argv[4];
    kc.group = argv[5];
    kc.group_instance = argv[6];
    kc.props = kill_props;
    kc.n_props = sizeof(kill_props) / sizeof(kill_props[0]);
    lc.host = getenv("REDIS_HOST");
    lc.port = (int)strtol(stackenv_get("REDIS_PORT"), &end, 10);
    tg.host = lc.host;
    tg.port = lc.port;
    tg.prefix = argv[7];
    log_init(&lg, stderr, getenv("PT_LOG") ? LOG_DEBUG : LOG_WARN, LOG_FMT_HUMAN, "worker");
    kc.log = &lg;
    o.log = &lg;
    o.concurrency = 8;
    o.apply = apply_record;
    o.apply_ud = &tg;
    o.lock_ttl_ms = 2000; /* a killed worker's locks free up quickly */
    o.kq = &kc;
    o.lock = &lc;
    o.grace_ms = 10000;
    o.backoff_ms = 100;
    if (kq_producer_new(&prod, &kc, &e) < 0 || kq_consumer_new(&c, &kc, &e) < 0 ||
        pool_new(&p, &o, c, prod, &e) < 0) {
        fprintf(stderr, "worker: %s\n", e.msg);
        return 3;
    }
    rc = pool_run(p, &stop_flag, &e);
    if (rc < 0)
        fprintf(stderr, "worker: %s\n", e.msg);
    pool_free(p);
    kq_consumer_free(c);
    kq_producer_free(prod);
    log_release(&lg);
    return rc < 0 ? 1 : 0;
}

static long long rget(redisContext *c, const char *cmd, const char *key)
{
    redisReply *r = redisCommand(c, "%s %s", cmd, key);
    long long v = -1;

    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r && r->type == REDIS_REPLY_STRING)
        v = strtoll(r->str, NULL, 10);
    else if (r && r->type == REDIS_REPLY_NIL)
        v = 0;
    freeReplyObject(r);
    return v;
}

static pid_t spawn(char **args)
{
    pid_t pid = fork();

    if (pid == 0) {
        execv("/proc/self/exe", args);
        _exit(127);
    }
    return pid;
}

/* Until process pid catches SIGTERM (its SigCgt mask in /proc), at most 10 s. */
static void wait_sigterm_handler(pid_t pid)
{
    char path[64], line[256];
    long long t0 = pt_now_ms();

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    while (pt_now_ms() - t0 < 10000) {
        FILE *f = fopen(path, "r");
        int caught = 0;

        while (f && fgets(line, sizeof(line), f))
            if (strncmp(line, "SigCgt:", 7) == 0)
                caught = (strtoull(line + 7, NULL, 16) >> (SIGTERM - 1)) & 1;
        if (f)
            fclose(f);
        if (caught)
            return;
        pt_sleep_ms(20);
    }
}

int main(int argc, char **argv)
{
    struct check_count cc = CHECK_INIT;
    struct kq_conf kc;
    struct pt_topics t;
    struct kq_producer *prod = NULL;
    struct target tg;
    struct err e = ERR_INIT;
    char why[256], prefix[96], instance[64], k_done[128], k_app[128], k_vio[128], *end;
    char *args[9], worker_arg[] = "worker";
    redisContext *rc;
    unsigned seed;
    long long t0, done = 0;
    int status = 0;

    if (stackenv_load() < 0)
        return 1;
    if (argc >= 8 && strcmp(argv[1], "worker") == 0)
        return worker_main(argv);
    seed = getenv("ODOOSYNC_TEST_SEED") ? (unsigned)strtoul(getenv("ODOOSYNC_TEST_SEED"), &end, 10)
                                        : (unsigned)getpid() ^ (unsigned)time(NULL);
    srand(seed);
    printf("seed %u\n", seed);
    fflush(stdout);
    pt_kafka_conf(&kc, &t, "kill");
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 4 1", t.jobs) == 0, "%s", why);
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 2 1", t.retry) == 0, "%s", why);
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 1 1", t.dlq) == 0, "%s", why);
    snprintf(prefix, sizeof(prefix), "odoosync-test:kill:%d", (int)getpid());
    snprintf(instance, sizeof(instance), "kill-%d", (int)getpid()); /* static membership */
    snprintf(k_done, sizeof(k_done), "%s:done", prefix);
    snprintf(k_app, sizeof(k_app), "%s:applies", prefix);
    snprintf(k_vio, sizeof(k_vio), "%s:violations", prefix);
    tg.host = getenv("REDIS_HOST");
    tg.port = (int)strtol(stackenv_get("REDIS_PORT"), &end, 10);
    tg.prefix = prefix;
    rc = rconnect(&tg);
    CHECK(&cc, rc != NULL);
    if (!rc)
        return check_done(&cc);

    CHECK_INT(&cc, kq_producer_new(&prod, &kc, &e), 0);
    for (int s = 0; s < NSEQ; s++) {
        for (int k = 0; k < NKEYS; k++) {
            struct buf b;
            char key[32];

            buf_init(&b, 1 << 16);
            snprintf(key, sizeof(key), "/Odoo/T/K%d", k);
            CHECK_INT(&cc, pt_job_encode(&b, k, s, 0, NULL), 0);
            CHECK_INT(&cc, kq_produce(prod, t.jobs, key, b.data, b.len, NULL, 0, &e), 0);
            buf_release(&b);
        }
    }
    CHECK_MSG(&cc, kq_flush(prod, 20000, NULL, &e) == 0, "%s", e.msg);
    kq_producer_free(prod);

    args[0] = argv[0];
    args[1] = worker_arg;
    args[2] = t.jobs;
    args[3] = t.retry;
    args[4] = t.dlq;
    args[5] = t.group;
    args[6] = instance;
    args[7] = prefix;
    args[8] = NULL;
    t0 = pt_now_ms();
    for (int round = 0; round <= KILLS; round++) {
        long long before = rget(rc, "SCARD", k_done), start = pt_now_ms();
        long step = 30 + rand() % 70;
        pid_t pid = spawn(args);

        CHECK(&cc, pid > 0);
        if (round < KILLS) {
            /* kill once it has made some progress, at a random instant */
            while (rget(rc, "SCARD", k_done) < before + step && pt_now_ms() - start < 20000)
                pt_sleep_ms(20);
            pt_sleep_ms(rand() % 150);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            CHECK(&cc, WIFSIGNALED(status));
            printf("round %d: killed after %lld ms, %lld/%d done\n", round, pt_now_ms() - start,
                   rget(rc, "SCARD", k_done), NJOBS);
        } else {
            while (rget(rc, "SCARD", k_done) < NJOBS && pt_now_ms() - start < 40000)
                pt_sleep_ms(50);
            /* a SIGTERM before the worker installs its handler would just kill it */
            wait_sigterm_handler(pid);
            kill(pid, SIGTERM);
            waitpid(pid, &status, 0);
            CHECK_MSG(&cc, WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
            printf("last round: %lld ms\n", pt_now_ms() - start);
        }
    }
    done = rget(rc, "SCARD", k_done);
    CHECK_INT(&cc, done, NJOBS);
    CHECK_INT(&cc, rget(rc, "GET", k_vio), 0);
    CHECK(&cc, rget(rc, "GET", k_app) >= NJOBS);
    printf("%lld distinct effects, %lld applies (%lld redelivered), %lld ms\n", done,
           rget(rc, "GET", k_app), rget(rc, "GET", k_app) - done, pt_now_ms() - t0);
    redisFree(rc);
    return check_done(&cc);
}
