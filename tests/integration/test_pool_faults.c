/*
 * test_pool_faults: no job lost when the servers fail under a running pool.
 * 300 jobs are produced while a pool applies them; meanwhile broker 1 of the
 * stack's Kafka is taken down and brought back (KAFKA_CONTROL), then Redis
 * (our own redis-server on a free port, so the stack's is untouched) is
 * stopped and restarted. Checks: every produce acknowledged, every job
 * applied, per-key order kept, the pool noticed the lock backend was down
 * (and applied nothing without a lock), and it stops cleanly.
 *
 * Takes a broker down: run it alone (ctest RUN_SERIAL).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

#define NKEYS 20
#define NSEQ 15

struct app {
    struct pt_order ord;
    const struct lock_conf *lc;
    atomic_int unlocked; /* applies seen while Redis was down */
    atomic_int redis_down;
};

static int apply_rec(const struct job *j, void *ud, struct err *e)
{
    struct app *a = ud;
    int key, seq;

    if (pt_job_parse(j, &key, &seq) < 0)
        return err_set(e, ERR_INVALID, "not a test job");
    if (atomic_load(&a->redis_down))
        atomic_fetch_add(&a->unlocked, 1);
    pt_sleep_ms(5 + (key + seq) % 6);
    pt_order_note(&a->ord, key, seq);
    return 0;
}

static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static pid_t redis_start(int port, const struct lock_conf *lc)
{
    char p[16];
    pid_t pid;

    snprintf(p, sizeof(p), "%d", port);
    pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    /* wait until it answers */
    for (int i = 0; i < 100; i++) {
        struct lock *l = NULL;
        struct err e = ERR_INIT;
        int ok;

        pt_sleep_ms(50);
        if (lock_new(&l, lc, &e) < 0)
            continue;
        ok = lock_ping(l, &e) == 0;
        lock_free(l);
        if (ok)
            break;
    }
    return pid;
}

struct producer_arg {
    struct kq_producer *prod;
    const char *topic;
    atomic_int rounds; /* how many rounds of NKEYS jobs the test lets it produce so far */
    int rc;
};

static void *produce_slowly(void *arg)
{
    struct producer_arg *pa = arg;
    struct err e = ERR_INIT;

    for (int s = 0; s < NSEQ; s++) {
        while (atomic_load(&pa->rounds) <= s)
            pt_sleep_ms(20);
        for (int k = 0; k < NKEYS; k++) {
            struct buf b;
            char key[32];

            buf_init(&b, 1 << 16);
            snprintf(key, sizeof(key), "/Odoo/T/K%d", k);
            if (pt_job_encode(&b, k, s, 0, NULL) < 0 ||
                kq_produce(pa->prod, pa->topic, key, b.data, b.len, NULL, 0, &e) < 0)
                pa->rc = -1;
            buf_release(&b);
        }
        pt_sleep_ms(300);
    }
    if (kq_flush(pa->prod, 60000, NULL, &e) < 0) {
        fprintf(stderr, "flush: %s\n", e.msg);
        pa->rc = -1;
    }
    return NULL;
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct kq_conf kc;
    struct pt_topics t;
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct pool_opts o;
    struct pt_runner r = {0};
    struct producer_arg pa = {0};
    pthread_t pth;
    struct app a;
    struct pool_stats st;
    struct err e = ERR_INIT;
    char why[256];
    int port, status;
    pid_t redis;
    long long t0;

    if (stackenv_load() < 0)
        return 1;
    pt_kafka_conf(&kc, &t, "faults");
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 6 1", t.jobs) == 0, "%s", why);
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 2 1", t.retry) == 0, "%s", why);
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "topic %s 1 1", t.dlq) == 0, "%s", why);
    port = free_port();
    lc.host = "127.0.0.1";
    lc.port = port;
    lc.connect_timeout_ms = 500;
    lc.io_timeout_ms = 1000;
    redis = redis_start(port, &lc);
    CHECK(&cc, redis > 0);
    memset(&a, 0, sizeof(a));
    CHECK_INT(&cc, pt_order_init(&a.ord, NKEYS, NSEQ), 0);
    a.lc = &lc;

    CHECK_INT(&cc, kq_producer_new(&prod, &kc, &e), 0);
    pool_opts_init(&o);
    o.concurrency = 8;
    o.apply = apply_rec;
    o.apply_ud = &a;
    o.kq = &kc;
    o.lock = &lc;
    o.grace_ms = 10000;
    o.backoff_ms = 200;
    o.lock_ttl_ms = 3000;
    CHECK_INT(&cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_MSG(&cc, pool_new(&r.p, &o, c, prod, &e) == 0, "%s", e.msg);
    pthread_create(&r.th, NULL, pt_run_pool, &r);
    pa.prod = prod;
    pa.topic = t.jobs;
    atomic_store(&pa.rounds, 2);
    pthread_create(&pth, NULL, produce_slowly, &pa);

    /* The phases follow what the pool has applied, not the clock: a slow
     * group join must not let the jobs run out before the faults start. */
    t0 = pt_now_ms();
    while (pt_order_distinct(&a.ord) < 2 * NKEYS && pt_now_ms() - t0 < 30000)
        pt_sleep_ms(20);
    /* broker 1 down for 3 s while five more rounds are produced */
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "down 1") == 0, "%s", why);
    atomic_store(&pa.rounds, 7);
    pt_sleep_ms(3000);
    CHECK_MSG(&cc, kafkactl_send(why, sizeof(why), "up 1") == 0, "%s", why);
    printf("broker 1 was down 3 s; %ld applied\n", pt_order_distinct(&a.ord));

    /* Redis stopped for 1.5 s, restarted empty on the same port, while the
     * remaining rounds arrive */
    t0 = pt_now_ms();
    while (pt_order_distinct(&a.ord) < 7 * NKEYS && pt_now_ms() - t0 < 30000)
        pt_sleep_ms(20);
    kill(redis, SIGKILL);
    waitpid(redis, &status, 0);
    atomic_store(&a.redis_down, 1);
    atomic_store(&pa.rounds, NSEQ);
    pt_sleep_ms(1500);
    {
        long before = pt_order_distinct(&a.ord);

        pt_sleep_ms(500);
        /* jobs that held their lock before the stop may finish; nothing new starts */
        printf("redis down: %ld applied, %ld during the last 500 ms\n", before,
               pt_order_distinct(&a.ord) - before);
        CHECK_INT(&cc, pt_order_distinct(&a.ord) - before, 0);
    }
    atomic_store(&a.redis_down, 0);
    redis = redis_start(port, &lc);

    pthread_join(pth, NULL);
    CHECK_INT(&cc, pa.rc, 0);
    t0 = pt_now_ms();
    while (pt_order_distinct(&a.ord) < NKEYS * NSEQ && pt_now_ms() - t0 < 40000)
        pt_sleep_ms(50);
    pool_get_stats(r.p, &st);
    pool_stop(r.p);
    pthread_join(r.th, NULL);
    CHECK_INT(&cc, r.rc, 0);
    CHECK_INT(&cc, a.ord.distinct, NKEYS * NSEQ);
    CHECK_INT(&cc, a.ord.violations, 0);
    CHECK(&cc, st.lock_down > 0);
    CHECK_INT(&cc, st.dead, 0);
    printf("faults: %ld applies, %ld distinct, %ld redelivered, lock-down events %ld\n",
           a.ord.applies, a.ord.distinct, a.ord.dups, st.lock_down);
    pool_free(r.p);
    kq_consumer_free(c);
    kq_producer_free(prod);
    kill(redis, SIGTERM);
    waitpid(redis, &status, 0);
    pt_order_release(&a.ord);
    return check_done(&cc);
}
