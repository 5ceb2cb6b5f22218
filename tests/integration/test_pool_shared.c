/*
 * test_pool_shared: file jobs of one document run side by side, folder jobs
 * of that document stay in order with them (docs/design.md "Order and
 * locks"), in local mode and in cluster mode under SIGKILL.
 *
 * Each document (key) gets PT_DOC_EVERY*3 jobs (pooltest.h pt_doc_job_encode):
 * a folder job (mkdir, the folder's move into place, its delete), then file
 * jobs inside the folder, then the next folder job, and so on. The applier
 * checks, per key:
 *   - order: a folder job is applied only once every earlier job of its key
 *     was, a file job only once the folder job before it was;
 *   - exclusion, by counting who is inside apply at the same moment: a folder
 *     job never runs while any other job of its key runs, and no job runs
 *     while a folder job of its key does;
 *   - overlap: the most file jobs of one key seen inside apply at once is at
 *     least 2 (observed, not timed), and at most the pool's concurrency.
 * 1. local: kq_local + lock_table, one pool of 8, in process.
 * 2. cluster: Kafka + Redis locks; a worker (this program re-run as `worker
 *    ...`) is killed with SIGKILL at random points and restarted, the last one
 *    stopped with SIGTERM; the order check is one atomic Redis script per
 *    apply (it survives the kills), every job is applied.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdatomic.h>
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

#define NKEYS 6
#define NSEQ (PT_DOC_EVERY * 3)
#define NJOBS (NKEYS * NSEQ)
#define CONC 8
#define KILLS 3

/* folder job: every earlier seq applied; file job: its folder job applied */
static const char order_lua[] =
    "local s = tonumber(ARGV[1]) local ev = tonumber(ARGV[3]) local ok = true "
    "if ARGV[2] == '1' then for i = 0, s - 1 do "
    "if redis.call('sismember', KEYS[1], i) == 0 then ok = false end end "
    "elseif redis.call('sismember', KEYS[1], s - s % ev) == 0 then ok = false end "
    "if not ok then redis.call('incr', KEYS[2]) end "
    "redis.call('sadd', KEYS[1], s) redis.call('incr', KEYS[3]) "
    "return redis.call('sadd', KEYS[4], ARGV[4])";
static const char max_lua[] =
    "local c = tonumber(redis.call('get', KEYS[1]) or '0') "
    "if tonumber(ARGV[1]) > c then redis.call('set', KEYS[1], ARGV[1]) end return 0";

struct app {
    atomic_int files[NKEYS], folders[NKEYS];
    atomic_int max_files, overlap_bad;
    /* local mode: the order check in process */
    pthread_mutex_t mu;
    unsigned char seen[NKEYS][NSEQ];
    long order_bad, applied;
    /* cluster mode: the order check in Redis */
    const char *host;
    int port;
    const char *prefix;
};

static redisContext *rconnect(const char *host, int port)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);

    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static int note_redis(struct app *a, const struct job *j, int k, int s, int folder, int maxf,
                      int bad, struct err *e)
{
    char k1[128], k2[128], k3[128], k4[128], k5[128], k6[128], seq[16], ev[16], mx[16];
    redisContext *c = rconnect(a->host, a->port);
    redisReply *r;
    int rc = 0;

    if (!c)
        return err_set(e, ERR_RETRY, "test redis unreachable");
    snprintf(k1, sizeof(k1), "%s:d:%d", a->prefix, k);
    snprintf(k2, sizeof(k2), "%s:violations", a->prefix);
    snprintf(k3, sizeof(k3), "%s:applies", a->prefix);
    snprintf(k4, sizeof(k4), "%s:done", a->prefix);
    snprintf(k5, sizeof(k5), "%s:maxfiles", a->prefix);
    snprintf(k6, sizeof(k6), "%s:overlap_bad", a->prefix);
    snprintf(seq, sizeof(seq), "%d", s);
    snprintf(ev, sizeof(ev), "%d", PT_DOC_EVERY);
    snprintf(mx, sizeof(mx), "%d", maxf);
    if (bad) {
        r = redisCommand(c, "INCR %s", k6);
        freeReplyObject(r);
    }
    r = redisCommand(c, "EVAL %s 1 %s %s", max_lua, k5, mx);
    freeReplyObject(r);
    r = redisCommand(c, "EVAL %s 4 %s %s %s %s %s %s %s %s", order_lua, k1, k2, k3, k4, seq,
                     folder ? "1" : "0", ev, j->id);
    if (!r || r->type == REDIS_REPLY_ERROR)
        rc = err_set(e, ERR_RETRY, "test redis: %s", r ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

static void note_local(struct app *a, int k, int s, int folder)
{
    int ok = 1;

    pthread_mutex_lock(&a->mu);
    if (folder) {
        for (int i = 0; i < s; i++)
            ok &= a->seen[k][i];
    } else {
        ok = a->seen[k][s - s % PT_DOC_EVERY];
    }
    if (!ok) {
        a->order_bad++;
        fprintf(stderr, "order violation: key %d seq %d\n", k, s);
    }
    a->seen[k][s] = 1;
    a->applied++;
    pthread_mutex_unlock(&a->mu);
}

static int apply_doc(const struct job *j, void *ud, struct err *e)
{
    struct app *a = ud;
    int k, s, folder, bad = 0, n, mx;

    if (pt_doc_parse(j, &k, &s) < 0 || k < 0 || k >= NKEYS || s < 0 || s >= NSEQ)
        return err_set(e, ERR_INVALID, "not a test job");
    folder = s % PT_DOC_EVERY == 0;
    if (folder) {
        n = atomic_fetch_add(&a->folders[k], 1) + 1;
        bad = n > 1 || atomic_load(&a->files[k]) > 0;
        n = 0;
    } else {
        n = atomic_fetch_add(&a->files[k], 1) + 1;
        bad = atomic_load(&a->folders[k]) > 0;
    }
    mx = atomic_load(&a->max_files);
    while (n > mx && !atomic_compare_exchange_weak(&a->max_files, &mx, n))
        ;
    if (bad) {
        atomic_fetch_add(&a->overlap_bad, 1);
        fprintf(stderr, "overlap violation: key %d seq %d\n", k, s);
    }
    pt_sleep_ms(3 + (k * 13 + s * 7) % 12);
    if (folder)
        atomic_fetch_sub(&a->folders[k], 1);
    else
        atomic_fetch_sub(&a->files[k], 1);
    if (a->prefix)
        return note_redis(a, j, k, s, folder, atomic_load(&a->max_files), bad, e);
    note_local(a, k, s, folder);
    return 0;
}

static void app_init(struct app *a)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    for (int k = 0; k < NKEYS; k++) {
        atomic_init(&a->files[k], 0);
        atomic_init(&a->folders[k], 0);
    }
    atomic_init(&a->max_files, 0);
    atomic_init(&a->overlap_bad, 0);
}

static int produce_docs(struct kq_producer *prod, const char *topic, struct err *e)
{
    for (int s = 0; s < NSEQ; s++) {
        for (int k = 0; k < NKEYS; k++) {
            struct buf b;
            char key[32];
            int rc;

            buf_init(&b, 1 << 16);
            snprintf(key, sizeof(key), "/Odoo/T/K%d", k);
            rc = pt_doc_job_encode(&b, k, s);
            if (rc == 0)
                rc = kq_produce(prod, topic, key, b.data, b.len, NULL, 0, e);
            buf_release(&b);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* 1. local mode */
static void test_local(struct check_count *cc)
{
    struct kq_local *q = kq_local_new(4, 10000);
    struct lock_table *lt = lock_table_new();
    struct kq_conf kc = {0};
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct pool_opts o;
    struct pool *p = NULL;
    struct pool_stats st;
    struct err e = ERR_INIT;
    struct app a;

    app_init(&a);
    kc.local = q;
    lc.local = lt;
    CHECK_INT(cc, kq_producer_new(&prod, &kc, &e), 0);
    CHECK_INT(cc, produce_docs(prod, KQ_TOPIC_JOBS, &e), 0);
    kq_local_close(q);
    pool_opts_init(&o);
    o.concurrency = CONC;
    o.apply = apply_doc;
    o.apply_ud = &a;
    o.kq = &kc;
    o.lock = &lc;
    CHECK_INT(cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_MSG(cc, pool_new(&p, &o, c, prod, &e) == 0, "%s", e.msg);
    CHECK_MSG(cc, pool_run(p, NULL, &e) == 0, "%s", e.msg);
    pool_get_stats(p, &st);
    printf("local: applied %ld, busy %ld, at most %d file jobs of one document at once\n",
           st.applied, st.busy, atomic_load(&a.max_files));
    CHECK_INT(cc, st.applied, NJOBS);
    CHECK_INT(cc, st.retried + st.dead, 0);
    CHECK_INT(cc, a.applied, NJOBS);
    CHECK_INT(cc, a.order_bad, 0);
    CHECK_INT(cc, atomic_load(&a.overlap_bad), 0);
    CHECK(cc, atomic_load(&a.max_files) >= 2);
    CHECK(cc, atomic_load(&a.max_files) <= CONC);
    pool_free(p);
    kq_consumer_free(c);
    kq_producer_free(prod);
    kq_local_free(q);
    lock_table_free(lt);
    pthread_mutex_destroy(&a.mu);
}

/* 2. cluster mode, under SIGKILL */

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

/* worker JOBS RETRY DLQ GROUP INSTANCE PREFIX: one pool until SIGTERM. */
static int worker_main(char **argv)
{
    struct kq_conf kc;
    struct pt_topics t;
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct pool *p = NULL;
    struct pool_opts o = {0};
    struct app a;
    struct err e = ERR_INIT;
    struct sigaction sa;
    struct log lg;
    char *end;
    int rc;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    app_init(&a);
    pt_kafka_conf(&kc, &t, "shared");
    kc.topic_jobs = argv[2];
    kc.topic_retry = argv[3];
    kc.topic_dlq = argv[4];
    kc.group = argv[5];
    kc.group_instance = argv[6];
    kc.props = kill_props;
    kc.n_props = sizeof(kill_props) / sizeof(kill_props[0]);
    lc.host = getenv("REDIS_HOST");
    lc.port = (int)strtol(stackenv_get("REDIS_PORT"), &end, 10);
    lc.prefix = argv[7]; /* this run's own lock keys */
    a.host = lc.host;
    a.port = lc.port;
    a.prefix = argv[7];
    log_init(&lg, stderr, getenv("PT_LOG") ? LOG_DEBUG : LOG_WARN, LOG_FMT_HUMAN, "worker");
    kc.log = &lg;
    o.log = &lg;
    o.concurrency = CONC;
    o.apply = apply_doc;
    o.apply_ud = &a;
    o.lock_ttl_ms = 2000; /* a killed worker's locks free up quickly */
    o.busy_delay_ms = 50;
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

static void test_cluster(struct check_count *cc, char *self)
{
    struct kq_conf kc;
    struct pt_topics t;
    struct kq_producer *prod = NULL;
    struct err e = ERR_INIT;
    char why[256], prefix[96], instance[64], k_done[128], k_app[128], k_vio[128], k_max[128];
    char k_ovl[128], *end, *args[9], worker_arg[] = "worker";
    redisContext *rc;
    long long t0, done;
    int status = 0, port;

    pt_kafka_conf(&kc, &t, "shared");
    CHECK_MSG(cc, kafkactl_send(why, sizeof(why), "topic %s 3 1", t.jobs) == 0, "%s", why);
    CHECK_MSG(cc, kafkactl_send(why, sizeof(why), "topic %s 2 1", t.retry) == 0, "%s", why);
    CHECK_MSG(cc, kafkactl_send(why, sizeof(why), "topic %s 1 1", t.dlq) == 0, "%s", why);
    snprintf(prefix, sizeof(prefix), "odoosync-test:shared:%d:", (int)getpid());
    snprintf(instance, sizeof(instance), "shared-%d", (int)getpid());
    snprintf(k_done, sizeof(k_done), "%s:done", prefix);
    snprintf(k_app, sizeof(k_app), "%s:applies", prefix);
    snprintf(k_vio, sizeof(k_vio), "%s:violations", prefix);
    snprintf(k_max, sizeof(k_max), "%s:maxfiles", prefix);
    snprintf(k_ovl, sizeof(k_ovl), "%s:overlap_bad", prefix);
    port = (int)strtol(stackenv_get("REDIS_PORT"), &end, 10);
    rc = rconnect(getenv("REDIS_HOST"), port);
    CHECK(cc, rc != NULL);
    if (!rc)
        return;
    CHECK_INT(cc, kq_producer_new(&prod, &kc, &e), 0);
    CHECK_INT(cc, produce_docs(prod, t.jobs, &e), 0);
    CHECK_MSG(cc, kq_flush(prod, 20000, NULL, &e) == 0, "%s", e.msg);
    kq_producer_free(prod);

    args[0] = self;
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
        long step = 10 + rand() % 30;
        pid_t pid = spawn(args);

        CHECK(cc, pid > 0);
        if (round < KILLS) {
            while (rget(rc, "SCARD", k_done) < before + step && pt_now_ms() - start < 20000)
                pt_sleep_ms(10);
            pt_sleep_ms(rand() % 60);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            CHECK(cc, WIFSIGNALED(status));
            printf("round %d: killed after %lld ms, %lld/%d done\n", round, pt_now_ms() - start,
                   rget(rc, "SCARD", k_done), NJOBS);
        } else {
            while (rget(rc, "SCARD", k_done) < NJOBS && pt_now_ms() - start < 60000)
                pt_sleep_ms(50);
            wait_sigterm_handler(pid);
            kill(pid, SIGTERM);
            waitpid(pid, &status, 0);
            CHECK_MSG(cc, WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
        }
    }
    done = rget(rc, "SCARD", k_done);
    printf("cluster: %lld distinct, %lld applies, at most %lld file jobs of one document at once, "
           "%lld ms\n",
           done, rget(rc, "GET", k_app), rget(rc, "GET", k_max), pt_now_ms() - t0);
    CHECK_INT(cc, done, NJOBS);
    CHECK_INT(cc, rget(rc, "GET", k_vio), 0);
    CHECK_INT(cc, rget(rc, "GET", k_ovl), 0);
    CHECK(cc, rget(rc, "GET", k_max) >= 2);
    CHECK(cc, rget(rc, "GET", k_max) <= CONC);
    redisFree(rc);
}

int main(int argc, char **argv)
{
    struct check_count cc = CHECK_INIT;
    unsigned seed;
    char *end;

    if (stackenv_load() < 0)
        return 1;
    if (argc >= 8 && strcmp(argv[1], "worker") == 0)
        return worker_main(argv);
    seed = getenv("ODOOSYNC_TEST_SEED") ? (unsigned)strtoul(getenv("ODOOSYNC_TEST_SEED"), &end, 10)
                                        : (unsigned)getpid() ^ (unsigned)time(NULL);
    srand(seed);
    printf("seed %u\n", seed);
    fflush(stdout);
    test_local(&cc);
    test_cluster(&cc, argv[0]);
    return check_done(&cc);
}
