/*
 * bench_jobs: jobs per second through the cluster transport, i.e. the real
 * worker pool (worker/pool.h) consuming from the test stack's Kafka-protocol
 * broker under Redis locks, with
 *   - a no-op applier (the framework's own overhead: Kafka, locks, versions,
 *     offsets), and
 *   - the real mkdir applier (apply_job of worker/apply.h: MKCOL, then the
 *     record tag PROPPATCH) against the stack's Apache WebDAV,
 * for 1 and 2 worker processes (forked from this program, each one pool with
 * --concurrency threads, exactly what `odoosync work` runs), beside the raw
 * ceiling measured in the same run: the same number of MKCOLs (and then the
 * same PROPPATCHes) sent by `curl --parallel --parallel-max C`.
 *
 * One scenario (mode x workers) uses its own topics (created with the
 * broker's control socket: `topic NAME PARTITIONS RF`), its own consumer
 * group and its own folder tree. The workers start and join the group; a
 * warm-up round of one job per key (which also creates the key folders)
 * runs until every worker has applied something (the group is settled);
 * then:
 *   burst: --jobs jobs spread over --keys keys are produced as fast as the
 *          idempotent producer takes them; throughput = jobs / (first
 *          produce .. last applied); latency = created_at -> applied, so it
 *          includes the time a job waited behind the backlog;
 *   paced: jobs/5 more jobs produced at half the burst throughput; latency
 *          under that steady load (no backlog).
 * Jobs of a key carry the same folder as key and lock, and one version per
 * phase (as one producer pass does), so the Redis version check and raise
 * run as in production. Every job is counted once (its index travels in
 * `reason`): redeliveries show as dups. Worker RSS is the ru_maxrss of the
 * worker processes (wait4), curl's too.
 *
 * The Kafka clients use librdkafka's defaults (as `odoosync work` without
 * kafka.props). This program, the broker, Redis, Apache and the workers share
 * the machine's cores: the figures are those of one box, not of a cluster.
 *
 * usage: bench_jobs [--env FILE] [--noop-jobs N] [--mkdir-jobs N] [--keys K]
 *                   [--workers 1,2] [--concurrency C] [--partitions P] [--rf R]
 *                   [--max-inflight N] [--prop KAFKA_PROP=VALUE]... [--no-paced]
 * --prop is given to every Kafka client (workers and producer), --max-inflight
 * to the pools (default 4 x concurrency: above it a pool pauses its
 * partitions, below half of it resumes them).
 * The stack is given by its env file (--env, or $ODOOSYNC_STACK_ENV;
 * bench/jobs.sh starts one). Not a test: it prints figures, asserts no speed;
 * exit 1 only if jobs went missing or something failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "buf.h"
#include "dav.h"
#include "err.h"
#include "job.h"
#include "jobmsg.h"
#include "kafkactl.h"
#include "kq.h"
#include "lock.h"
#include "odoo.h"
#include "pool.h"

#include "banned.h"

#define BJ_MAX_WORKERS 8
#define BJ_WARM_ROUNDS 6
#define BJ_ROOT "/bench-jobs"
#define BJ_MAX_PROPS 16

struct bj_opts {
    long noop_jobs, mkdir_jobs;
    int keys;
    int workers[BJ_MAX_WORKERS];
    int n_workers;
    int concurrency;
    int partitions, rf;
    int paced;
    int max_inflight;                   /* 0: the pool's default (4 x concurrency) */
    struct kq_prop props[BJ_MAX_PROPS]; /* --prop NAME=VALUE, to every Kafka client */
    size_t n_props;
    char run[64]; /* unique per run: topic, group and folder names */
};

/* What the worker processes report, in MAP_SHARED memory. */
struct bj_shm {
    atomic_long applied[BJ_MAX_WORKERS];
    atomic_long dups[BJ_MAX_WORKERS];
    atomic_long failed[BJ_MAX_WORKERS];
    atomic_long distinct;
    atomic_int err_taken;
    char last_error[512];
};

struct bj_mem {
    struct bj_shm *shm;
    atomic_uchar *seen; /* per job index */
    int *lat_ms;        /* created_at -> applied, first apply */
    long long *done_at; /* ms since the epoch, first apply */
    size_t n;           /* job indexes */
    size_t bytes;       /* of the one mapping */
};

struct bj_result {
    const char *what;
    int workers;
    long jobs;
    double secs;
    double rate;
    double p50, p99;   /* burst */
    double pp50, pp99; /* paced */
    long paced_jobs;
    double paced_rate;
    long rss_kb;
    long dups, failed;
    long split[BJ_MAX_WORKERS];
    int ok;
};

struct bj_worker_ctx {
    struct bj_mem *m;
    int idx;
    struct applier *ap;
};

static volatile sig_atomic_t bj_stop;

static void bj_on_term(int sig)
{
    (void)sig;
    bj_stop = 1;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* KEY=VALUE lines into the environment (KAFKA_CONTROL is read by kafkactl). */
static int load_env(const char *path)
{
    char line[4096];
    FILE *f = fopen(path, "r");
    int n = 0;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');

        line[strcspn(line, "\r\n")] = '\0';
        if (!eq || eq == line)
            continue;
        *eq = '\0';
        setenv(line, eq + 1, 1);
        n++;
    }
    fclose(f);
    return n > 0 ? 0 : -1;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v && *v ? v : dflt;
}

/* ---- shared memory ---- */

static int mem_map(struct bj_mem *m, size_t n)
{
    size_t off_seen = (sizeof(struct bj_shm) + 63) & ~(size_t)63;
    size_t off_lat = (off_seen + n + 63) & ~(size_t)63;
    size_t off_done = (off_lat + n * sizeof(int) + 63) & ~(size_t)63;
    size_t bytes = off_done + n * sizeof(long long);
    char *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (base == MAP_FAILED)
        return -1;
    memset(base, 0, bytes);
    m->shm = (struct bj_shm *)(void *)base;
    m->seen = (atomic_uchar *)(void *)(base + off_seen);
    m->lat_ms = (int *)(void *)(base + off_lat);
    m->done_at = (long long *)(void *)(base + off_done);
    m->n = n;
    m->bytes = bytes;
    return 0;
}

static void mem_unmap(struct bj_mem *m)
{
    if (m->shm)
        munmap(m->shm, m->bytes);
    memset(m, 0, sizeof(*m));
}

/* ---- the worker process ---- */

static int bj_apply(const struct job *j, void *ud, struct err *e)
{
    struct bj_worker_ctx *w = ud;
    struct bj_shm *s = w->m->shm;
    long long now;
    int idx = -1, rc = 0;

    if (w->ap)
        rc = apply_job(j, w->ap, e);
    if (rc < 0) {
        atomic_fetch_add(&s->failed[w->idx], 1);
        if (atomic_exchange(&s->err_taken, 1) == 0)
            snprintf(s->last_error, sizeof(s->last_error), "%s", e->msg);
        return rc;
    }
    now = job_now_ms();
    if (!j->reason || sscanf(j->reason, "bench %d", &idx) != 1 || idx < 0 || (size_t)idx >= w->m->n)
        return 0;
    atomic_fetch_add(&s->applied[w->idx], 1);
    if (atomic_exchange(&w->m->seen[idx], 1)) {
        atomic_fetch_add(&s->dups[w->idx], 1);
        return 0;
    }
    w->m->lat_ms[idx] = (int)(now - j->created_at);
    w->m->done_at[idx] = now;
    atomic_fetch_add(&s->distinct, 1);
    return 0;
}

static int worker_main(struct bj_mem *m, int idx, int mkdir_mode, const struct kq_conf *kc,
                       const struct lock_conf *lc, const struct bj_opts *o)
{
    struct bj_worker_ctx w = {m, idx, NULL};
    struct dav_opts dopts;
    struct odoo_opts oopts;
    struct apply_opts ao;
    struct kq_producer *prod = NULL;
    struct kq_consumer *cons = NULL;
    struct pool_opts po;
    struct pool *pool = NULL;
    struct sigaction sa;
    struct err e = ERR_INIT;
    int rc = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bj_on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)
        return 1;
    if (mkdir_mode) {
        rc = dav_global_init(&e);
        if (rc == 0) {
            dav_opts_init(&dopts);
            dopts.url = getenv("DAV_URL");
            dopts.user = getenv("DAV_USER");
            dopts.password = getenv("DAV_PASSWORD");
            memset(&oopts, 0, sizeof(oopts));
            oopts.url = getenv("ODOO_URL");
            oopts.db = getenv("ODOO_DB");
            oopts.login = getenv("ODOO_USER");
            oopts.password = getenv("ODOO_PASSWORD");
            memset(&ao, 0, sizeof(ao));
            ao.dav = &dopts;
            ao.odoo = &oopts;
            rc = apply_new(&w.ap, &ao, &e);
        }
    }
    if (rc == 0)
        rc = kq_producer_new(&prod, kc, &e);
    if (rc == 0)
        rc = kq_consumer_new(&cons, kc, &e);
    if (rc == 0) {
        pool_opts_init(&po);
        po.concurrency = o->concurrency;
        po.max_inflight = o->max_inflight;
        po.apply = bj_apply;
        po.apply_ud = &w;
        po.kq = kc;
        po.lock = lc;
        po.grace_ms = 10000;
        rc = pool_new(&pool, &po, cons, prod, &e);
    }
    if (rc == 0)
        rc = pool_run(pool, &bj_stop, &e);
    if (rc < 0)
        fprintf(stderr, "bench_jobs: worker %d: %s\n", idx, e.msg);
    pool_free(pool);
    kq_consumer_free(cons);
    kq_producer_free(prod);
    apply_free(w.ap);
    if (mkdir_mode)
        dav_global_cleanup();
    return rc < 0 ? 1 : 0;
}

/* ---- producing ---- */

/* One mkdir job: index idx, key folder base/K<key>, leaf base/K<key>/f<idx> (or the folder). */
static int make_job(struct buf *out, const char *base, int key, long idx, int leaf,
                    long long version, struct err *e)
{
    struct job j;
    char lock[256], path[320], rec[64], why[64];
    int rc;

    job_init(&j);
    snprintf(lock, sizeof(lock), "%s/K%d", base, key);
    if (leaf)
        snprintf(path, sizeof(path), "%s/f%ld", lock, idx);
    else
        snprintf(path, sizeof(path), "%s", lock);
    snprintf(rec, sizeof(rec), "res.partner,%d", key + 1);
    snprintf(why, sizeof(why), "bench %ld", idx);
    j.schema = JOB_SCHEMA_VERSION;
    j.kind = JOB_MKDIR;
    j.side = JOB_SIDE_CLOUD;
    j.created_at = job_now_ms();
    j.version = version;
    j.lock = strdup(lock);
    j.path = strdup(path);
    j.record = strdup(rec);
    j.reason = strdup(why);
    if (!j.lock || !j.path || !j.record || !j.reason)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else
        rc = job_make_id(&j);
    if (rc == 0) {
        buf_reset(out);
        rc = job_encode(&j, out, e);
    }
    job_release(&j);
    return rc;
}

static int produce_one(struct kq_producer *p, const struct kq_conf *kc, struct buf *b,
                       const char *base, int key, long idx, int leaf, long long version,
                       struct err *e)
{
    char lock[256];
    int rc = make_job(b, base, key, idx, leaf, version, e);

    snprintf(lock, sizeof(lock), "%s/K%d", base, key);
    for (int tries = 0; rc == 0; tries++) {
        rc = kq_produce(p, kq_conf_jobs(kc), lock, b->data, b->len, NULL, 0, e);
        if (rc != ERR_RETRY || tries == 10)
            break;
        err_clear(e);
        rc = 0; /* local queue full: try again */
    }
    return rc;
}

/* ---- one scenario ---- */

static int any_worker_died(const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        int st;

        if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
            fprintf(stderr, "bench_jobs: worker %d (pid %d) exited early (status %d)\n", i,
                    (int)pids[i], st);
            return 1;
        }
    }
    return 0;
}

/* Wait until `want` distinct jobs were applied; 0, or -1 on timeout / a dead worker. */
static int wait_distinct(struct bj_mem *m, long want, double timeout_s, const pid_t *pids, int n)
{
    double t0 = now_s(), last_report = t0;
    long have = 0;

    while ((have = atomic_load(&m->shm->distinct)) < want) {
        if (now_s() - t0 > timeout_s) {
            fprintf(stderr, "bench_jobs: timeout: %ld of %ld jobs applied after %.0f s\n", have,
                    want, timeout_s);
            return -1;
        }
        if (any_worker_died(pids, n))
            return -1;
        if (now_s() - last_report > 10) {
            fprintf(stderr, "bench_jobs:   ... %ld/%ld\n", have, want);
            last_report = now_s();
        }
        sleep_ms(2);
    }
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentiles of lat_ms[from, from+n). */
static void percentiles(const struct bj_mem *m, size_t from, size_t n, double *p50, double *p99)
{
    int *v = malloc((n ? n : 1) * sizeof(*v));

    *p50 = *p99 = -1;
    if (!v || n == 0) {
        free(v);
        return;
    }
    memcpy(v, m->lat_ms + from, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_int);
    *p50 = v[(n * 50 + 99) / 100 - 1];
    *p99 = v[(n * 99 + 99) / 100 - 1];
    free(v);
}

static int create_topics(const char *jobs, const char *retry, const char *dlq,
                         const struct bj_opts *o)
{
    char why[256];

    if (kafkactl_send(why, sizeof(why), "topic %s %d %d", jobs, o->partitions, o->rf) < 0 ||
        kafkactl_send(why, sizeof(why), "topic %s %d %d", retry, o->partitions, o->rf) < 0 ||
        kafkactl_send(why, sizeof(why), "topic %s 1 %d", dlq, o->rf) < 0) {
        fprintf(stderr, "bench_jobs: kafka control: %s\n", why);
        return -1;
    }
    return 0;
}

static int run_scenario(const struct bj_opts *o, int mkdir_mode, int nw, long njobs,
                        struct bj_result *r)
{
    const char *mode = mkdir_mode ? "mkdir" : "noop";
    char jobs[160], retry[160], dlq[160], events[160], group[160], base[256];
    struct kq_conf kc;
    struct lock_conf lc;
    struct bj_mem m;
    struct kq_producer *prod = NULL;
    struct err e = ERR_INIT;
    struct buf b;
    pid_t pids[BJ_MAX_WORKERS];
    long paced = o->paced ? njobs / 5 : 0;
    long warm_base = njobs + paced, warm_have = 0;
    long base_applied[BJ_MAX_WORKERS];
    long long version = job_now_ms();
    double t_start, t_prod, secs;
    long long first_ms, last_ms = 0;
    char *end = NULL;
    int rc = -1, rounds = 0;

    memset(r, 0, sizeof(*r));
    memset(&m, 0, sizeof(m));
    memset(pids, 0, sizeof(pids));
    buf_init(&b, 1 << 16);
    r->what = mkdir_mode ? "mkdir + tag (MKCOL+PROPPATCH)" : "no-op applier";
    r->workers = nw;
    r->jobs = njobs;
    snprintf(jobs, sizeof(jobs), "bench.%s.%s.w%d.jobs", o->run, mode, nw);
    snprintf(retry, sizeof(retry), "bench.%s.%s.w%d.retry", o->run, mode, nw);
    snprintf(dlq, sizeof(dlq), "bench.%s.%s.w%d.dlq", o->run, mode, nw);
    snprintf(events, sizeof(events), "bench.%s.%s.w%d.events", o->run, mode, nw);
    snprintf(group, sizeof(group), "bench.%s.%s.w%d", o->run, mode, nw);
    snprintf(base, sizeof(base), BJ_ROOT "/%s-%s-w%d", o->run, mode, nw);
    if (create_topics(jobs, retry, dlq, o) < 0)
        goto out;
    memset(&kc, 0, sizeof(kc));
    kc.bootstrap = getenv("KAFKA_BOOTSTRAP");
    kc.group = group;
    kc.topic_jobs = jobs;
    kc.topic_retry = retry;
    kc.topic_dlq = dlq;
    kc.topic_events = events;
    kc.props = o->props;
    kc.n_props = o->n_props;
    memset(&lc, 0, sizeof(lc));
    lc.host = env_or("REDIS_HOST", "127.0.0.1");
    lc.port = (int)strtol(env_or("REDIS_PORT", "6379"), &end, 10);
    if (mem_map(&m, (size_t)(warm_base + (long)o->keys * BJ_WARM_ROUNDS)) < 0) {
        fprintf(stderr, "bench_jobs: mmap: %s\n", strerror(errno));
        goto out;
    }

    /* the workers: forked before this process makes any Kafka or curl handle */
    fflush(NULL);
    for (int i = 0; i < nw; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            fprintf(stderr, "bench_jobs: fork: %s\n", strerror(errno));
            goto out;
        }
        if (pids[i] == 0)
            _exit(worker_main(&m, i, mkdir_mode, &kc, &lc, o));
    }
    if (kq_producer_new(&prod, &kc, &e) < 0) {
        fprintf(stderr, "bench_jobs: producer: %s\n", e.msg);
        goto out;
    }

    /* warm-up: one job per key (creates the key folders) until every worker took part */
    for (;;) {
        int all = 1;

        for (int k = 0; k < o->keys; k++)
            if (produce_one(prod, &kc, &b, base, k, warm_base + warm_have + k, 0, version, &e) <
                0) {
                fprintf(stderr, "bench_jobs: produce: %s\n", e.msg);
                goto out;
            }
        warm_have += o->keys;
        if (kq_flush(prod, 30000, NULL, &e) < 0) {
            fprintf(stderr, "bench_jobs: flush: %s\n", e.msg);
            goto out;
        }
        if (wait_distinct(&m, warm_have, 60, pids, nw) < 0)
            goto out;
        for (int i = 0; i < nw; i++)
            if (atomic_load(&m.shm->applied[i]) == 0)
                all = 0;
        if (all || ++rounds == BJ_WARM_ROUNDS)
            break;
        sleep_ms(1000);
    }
    for (int i = 0; i < nw; i++)
        base_applied[i] = atomic_load(&m.shm->applied[i]);

    /* burst */
    first_ms = job_now_ms();
    t_start = now_s();
    for (long i = 0; i < njobs; i++)
        if (produce_one(prod, &kc, &b, base, (int)(i % o->keys), i, 1, version + 1, &e) < 0) {
            fprintf(stderr, "bench_jobs: produce: %s\n", e.msg);
            goto out;
        }
    if (kq_flush(prod, 60000, NULL, &e) < 0) {
        fprintf(stderr, "bench_jobs: flush: %s\n", e.msg);
        goto out;
    }
    t_prod = now_s() - t_start;
    if (wait_distinct(&m, warm_have + njobs, 120 + (double)njobs / 10, pids, nw) < 0)
        goto out;
    for (long i = 0; i < njobs; i++)
        if (m.done_at[i] > last_ms)
            last_ms = m.done_at[i];
    secs = (double)(last_ms - first_ms) / 1000.0;
    r->secs = secs;
    r->rate = secs > 0 ? (double)njobs / secs : 0;
    percentiles(&m, 0, (size_t)njobs, &r->p50, &r->p99);
    for (int i = 0; i < nw; i++)
        r->split[i] = atomic_load(&m.shm->applied[i]) - base_applied[i];
    fprintf(stderr, "bench_jobs: %s, %d worker(s): %ld jobs in %.2f s (produced in %.2f s)\n", mode,
            nw, njobs, secs, t_prod);

    /* paced, at half the burst rate */
    r->pp50 = r->pp99 = -1;
    if (paced > 0 && r->rate > 0) {
        double rate = r->rate / 2, t0 = now_s();

        r->paced_jobs = paced;
        r->paced_rate = rate;
        for (long i = 0; i < paced; i++) {
            double due = t0 + (double)i / rate, left = due - now_s();

            if (left > 0.0005)
                sleep_ms((long)(left * 1000));
            if (produce_one(prod, &kc, &b, base, (int)(i % o->keys), njobs + i, 1, version + 2,
                            &e) < 0) {
                fprintf(stderr, "bench_jobs: produce: %s\n", e.msg);
                goto out;
            }
        }
        if (kq_flush(prod, 60000, NULL, &e) < 0) {
            fprintf(stderr, "bench_jobs: flush: %s\n", e.msg);
            goto out;
        }
        if (wait_distinct(&m, warm_have + njobs + paced, 120 + (double)paced / 10, pids, nw) < 0)
            goto out;
        percentiles(&m, (size_t)njobs, (size_t)paced, &r->pp50, &r->pp99);
    }
    rc = 0;
out:
    kq_producer_free(prod);
    for (int i = 0; i < nw; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    for (int i = 0; i < nw; i++) {
        struct rusage ru;
        int st = 0;

        if (pids[i] <= 0)
            continue;
        memset(&ru, 0, sizeof(ru));
        if (wait4(pids[i], &st, 0, &ru) == pids[i]) {
            if (ru.ru_maxrss > r->rss_kb)
                r->rss_kb = ru.ru_maxrss;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "bench_jobs: worker %d ended with status %d\n", i, st);
                rc = -1;
            }
        }
    }
    if (m.shm) {
        for (int i = 0; i < nw; i++) {
            r->dups += atomic_load(&m.shm->dups[i]);
            r->failed += atomic_load(&m.shm->failed[i]);
        }
        if (r->failed)
            fprintf(stderr, "bench_jobs: %ld failed attempts, e.g.: %s\n", r->failed,
                    m.shm->last_error);
    }
    mem_unmap(&m);
    buf_release(&b);
    r->ok = rc == 0;
    return rc;
}

/* ---- curl's ceiling ---- */

struct bj_curl {
    double mkcol_s, proppatch_s;
    long mkcol_ok, proppatch_ok;
    long rss_kb;
    int ok;
};

/* Runs curl -K cfg (parallel if max > 0); counts status lines equal to want. */
static int run_curl(const char *cfg, int max, int want, double *secs, long *ok, long *rss_kb)
{
    char maxs[16], line[64];
    int fds[2], st = 0;
    struct rusage ru;
    double t0;
    pid_t pid;
    FILE *f;

    snprintf(maxs, sizeof(maxs), "%d", max);
    if (pipe(fds) < 0)
        return -1;
    fflush(NULL);
    t0 = now_s();
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (max > 0)
            execlp("curl", "curl", "--no-progress-meter", "--parallel", "--parallel-max", maxs,
                   "-K", cfg, (char *)NULL);
        else
            execlp("curl", "curl", "--no-progress-meter", "-K", cfg, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    *ok = 0;
    f = fdopen(fds[0], "r");
    if (!f) {
        close(fds[0]);
    } else {
        while (fgets(line, sizeof(line), f))
            if (strtol(line, NULL, 10) == want)
                (*ok)++;
        fclose(f);
    }
    memset(&ru, 0, sizeof(ru));
    if (wait4(pid, &st, 0, &ru) != pid)
        return -1;
    *secs = now_s() - t0;
    if (ru.ru_maxrss > *rss_kb)
        *rss_kb = ru.ru_maxrss;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Config file: common options, then one url/output pair per path. */
static int write_curl_cfg(const char *path, const char *method, const char *body_file,
                          const char *base, int keys, long from, long n, int leaf)
{
    const char *url = getenv("DAV_URL");
    size_t ul = strlen(url);
    FILE *f = fopen(path, "w");

    if (!f)
        return -1;
    fchmod(fileno(f), 0600);
    fprintf(f,
            "user = \"%s:%s\"\nrequest = \"%s\"\n"
            "write-out = \"%%{http_code}\\n\"\n",
            env_or("DAV_USER", ""), env_or("DAV_PASSWORD", ""), method);
    if (body_file)
        fprintf(f,
                "header = \"Content-Type: application/xml; charset=utf-8\"\nheader = "
                "\"Expect:\"\ndata-binary = \"@%s\"\n",
                body_file);
    for (long i = from; i < from + n; i++) {
        /* DAV_URL ends with '/', paths start with one */
        if (leaf)
            fprintf(f, "url = \"%.*s%s/K%ld/f%ld\"\noutput = \"/dev/null\"\n", (int)(ul - 1), url,
                    base, i % keys, i);
        else
            fprintf(f, "url = \"%.*s%s/K%ld\"\noutput = \"/dev/null\"\n", (int)(ul - 1), url, base,
                    i);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int curl_ceiling(const struct bj_opts *o, long n, struct bj_curl *c)
{
    char dir[] = "/tmp/bench-jobs-curl.XXXXXX";
    char cfg[128], body[128], base[256];
    double s = 0;
    long ok = 0;
    FILE *f;
    int rc = -1;

    memset(c, 0, sizeof(*c));
    if (!mkdtemp(dir))
        return -1;
    snprintf(cfg, sizeof(cfg), "%s/curl.cfg", dir);
    snprintf(body, sizeof(body), "%s/body.xml", dir);
    snprintf(base, sizeof(base), BJ_ROOT "/%s-curl", o->run);
    f = fopen(body, "w");
    if (!f)
        goto out;
    fprintf(f, "<d:propertyupdate xmlns:d=\"DAV:\" xmlns:o=\"" DAV_NS_ODOOSYNC
               "\"><d:set><d:prop><o:record>res.partner,1</o:record></d:prop></d:set>"
               "</d:propertyupdate>\n");
    fclose(f);
    /* untimed: the run folder, then the key folders (what the warm-up does for us) */
    f = fopen(cfg, "w");
    if (!f)
        goto out;
    fchmod(fileno(f), 0600);
    fprintf(f,
            "user = \"%s:%s\"\nrequest = \"MKCOL\"\n"
            "url = \"%.*s" BJ_ROOT "\"\noutput = \"/dev/null\"\nurl = \"%.*s%s\"\n"
            "output = \"/dev/null\"\n",
            env_or("DAV_USER", ""), env_or("DAV_PASSWORD", ""),
            (int)(strlen(getenv("DAV_URL")) - 1), getenv("DAV_URL"),
            (int)(strlen(getenv("DAV_URL")) - 1), getenv("DAV_URL"), base);
    fclose(f);
    run_curl(cfg, 0, 201, &s, &ok, &c->rss_kb); /* the root may exist already: 405 */
    if (write_curl_cfg(cfg, "MKCOL", NULL, base, o->keys, 0, o->keys, 0) < 0 ||
        run_curl(cfg, o->concurrency, 201, &s, &ok, &c->rss_kb) < 0 || ok != o->keys) {
        fprintf(stderr, "bench_jobs: curl: key folders: %ld of %d created\n", ok, o->keys);
        goto out;
    }
    /* timed: n MKCOLs of leaves, then n PROPPATCHes of them */
    if (write_curl_cfg(cfg, "MKCOL", NULL, base, o->keys, 0, n, 1) < 0 ||
        run_curl(cfg, o->concurrency, 201, &c->mkcol_s, &c->mkcol_ok, &c->rss_kb) < 0)
        goto out;
    if (write_curl_cfg(cfg, "PROPPATCH", body, base, o->keys, 0, n, 1) < 0 ||
        run_curl(cfg, o->concurrency, 207, &c->proppatch_s, &c->proppatch_ok, &c->rss_kb) < 0)
        goto out;
    rc = c->mkcol_ok == n && c->proppatch_ok == n ? 0 : -1;
    if (rc < 0)
        fprintf(stderr, "bench_jobs: curl: %ld MKCOL 201 and %ld PROPPATCH 207 of %ld\n",
                c->mkcol_ok, c->proppatch_ok, n);
out:
    unlink(cfg);
    unlink(body);
    rmdir(dir);
    c->ok = rc == 0;
    return rc;
}

/* ---- main ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_jobs [--env FILE] [--noop-jobs N] [--mkdir-jobs N] [--keys K]\n"
            "                  [--workers 1,2] [--concurrency C] [--partitions P] [--rf R]\n"
            "                  [--max-inflight N] [--prop KAFKA_PROP=VALUE]... [--no-paced]\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtol(s, &end, 10);
    return errno || !end || *end || end == s || *out < lo || *out > hi ? -1 : 0;
}

static int parse_args(int argc, char **argv, struct bj_opts *o, const char **env)
{
    long v;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--no-paced") == 0) {
            o->paced = 0;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (!val)
            return -1;
        i++;
        if (strcmp(a, "--env") == 0) {
            *env = val;
        } else if (strcmp(a, "--noop-jobs") == 0 && parse_long(val, 0, 10000000, &v) == 0) {
            o->noop_jobs = v;
        } else if (strcmp(a, "--mkdir-jobs") == 0 && parse_long(val, 0, 10000000, &v) == 0) {
            o->mkdir_jobs = v;
        } else if (strcmp(a, "--keys") == 0 && parse_long(val, 1, 100000, &v) == 0) {
            o->keys = (int)v;
        } else if (strcmp(a, "--concurrency") == 0 && parse_long(val, 1, 256, &v) == 0) {
            o->concurrency = (int)v;
        } else if (strcmp(a, "--partitions") == 0 && parse_long(val, 1, 256, &v) == 0) {
            o->partitions = (int)v;
        } else if (strcmp(a, "--rf") == 0 && parse_long(val, 1, 3, &v) == 0) {
            o->rf = (int)v;
        } else if (strcmp(a, "--max-inflight") == 0 && parse_long(val, 1, 100000, &v) == 0) {
            o->max_inflight = (int)v;
        } else if (strcmp(a, "--prop") == 0 && strchr(val, '=') && o->n_props < BJ_MAX_PROPS) {
            /* NAME=VALUE: argv is ours to cut */
            char *eq = strchr(argv[i], '=');

            *eq = '\0';
            o->props[o->n_props].name = argv[i];
            o->props[o->n_props].value = eq + 1;
            o->n_props++;
        } else if (strcmp(a, "--workers") == 0) {
            char tmp[128], *save = NULL;

            snprintf(tmp, sizeof(tmp), "%s", val);
            o->n_workers = 0;
            for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (o->n_workers == BJ_MAX_WORKERS || parse_long(t, 1, BJ_MAX_WORKERS, &v) < 0)
                    return -1;
                o->workers[o->n_workers++] = (int)v;
            }
            if (o->n_workers == 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

static void print_row(const struct bj_result *r, double curl_rate, double curl_both_rate)
{
    char split[64] = "", lat[48], plat[48];
    size_t off = 0;

    for (int i = 0; i < r->workers && off < sizeof(split); i++)
        off +=
            (size_t)snprintf(split + off, sizeof(split) - off, "%s%ld", i ? "/" : "", r->split[i]);
    if (!r->ok) {
        printf("%-31s %2d  FAILED (see the messages above)\n", r->what, r->workers);
        return;
    }
    snprintf(lat, sizeof(lat), "%.0f / %.0f", r->p50, r->p99);
    if (r->pp50 >= 0)
        snprintf(plat, sizeof(plat), "%.0f / %.0f", r->pp50, r->pp99);
    else
        snprintf(plat, sizeof(plat), "-");
    printf("%-31s %2d %6ld %7.2f %8.0f %15s %15s %7.1f %5ld %5ld  %-11s", r->what, r->workers,
           r->jobs, r->secs, r->rate, lat, plat, (double)r->rss_kb / 1024.0, r->dups, r->failed,
           split);
    if (curl_rate > 0)
        printf("  %.2f / %.2f", r->rate / curl_both_rate, r->rate / curl_rate);
    printf("\n");
}

int main(int argc, char **argv)
{
    struct bj_opts o;
    struct bj_result res[2 * BJ_MAX_WORKERS];
    struct bj_curl cu;
    const char *env = getenv("ODOOSYNC_STACK_ENV");
    double curl_rate = 0, curl_both = 0;
    int nres = 0, bad = 0;

    memset(&o, 0, sizeof(o));
    o.noop_jobs = 5000;
    o.mkdir_jobs = 2000;
    o.keys = 200;
    o.workers[0] = 1;
    o.workers[1] = 2;
    o.n_workers = 2;
    o.concurrency = 8;
    o.partitions = 6;
    o.rf = 3;
    o.paced = 1;
    if (parse_args(argc, argv, &o, &env) < 0) {
        usage(stderr);
        return 2;
    }
    if (!env || load_env(env) < 0 || !getenv("KAFKA_BOOTSTRAP") || !getenv("DAV_URL") ||
        !getenv("KAFKA_CONTROL")) {
        fprintf(stderr, "bench_jobs: no stack env (--env FILE or ODOOSYNC_STACK_ENV)\n");
        return 2;
    }
    snprintf(o.run, sizeof(o.run), "%ld-%d", (long)time(NULL), (int)getpid());

    for (int mode = 0; mode < 2; mode++) {
        long n = mode ? o.mkdir_jobs : o.noop_jobs;

        if (n <= 0)
            continue;
        for (int w = 0; w < o.n_workers; w++) {
            fprintf(stderr, "bench_jobs: %s, %d worker(s), %ld jobs over %d keys...\n",
                    mode ? "mkdir" : "no-op", o.workers[w], n, o.keys);
            if (run_scenario(&o, mode, o.workers[w], n, &res[nres]) < 0)
                bad = 1;
            nres++;
        }
    }
    if (o.mkdir_jobs > 0) {
        fprintf(stderr, "bench_jobs: curl --parallel --parallel-max %d: %ld MKCOL, %ld PROPPATCH\n",
                o.concurrency, o.mkdir_jobs, o.mkdir_jobs);
        if (curl_ceiling(&o, o.mkdir_jobs, &cu) < 0) {
            bad = 1;
        } else {
            curl_rate = (double)o.mkdir_jobs / cu.mkcol_s;
            curl_both = (double)o.mkdir_jobs / (cu.mkcol_s + cu.proppatch_s);
        }
    }

    printf("\njobs through Kafka (stack broker, %d partitions, rf %d) + Redis locks; "
           "%d keys, %d threads per worker\n",
           o.partitions, o.rf, o.keys, o.concurrency);
    printf("max in flight per worker: %d%s; Kafka client properties:",
           o.max_inflight ? o.max_inflight : 4 * o.concurrency, o.max_inflight ? "" : " (default)");
    for (size_t i = 0; i < o.n_props; i++)
        printf(" %s=%s", o.props[i].name, o.props[i].value);
    printf("%s\n", o.n_props ? "" : " librdkafka defaults");
    printf("latency = job created_at -> applied, ms; burst = all jobs produced at once "
           "(includes the backlog wait),\npaced = jobs/5 more at half the burst rate\n\n");
    printf("%-31s %2s %6s %7s %8s %15s %15s %7s %5s %5s  %-11s  %s\n", "applier", "w", "jobs",
           "seconds", "jobs/s", "burst p50/p99", "paced p50/p99", "RSS MB", "dups", "fail", "split",
           "vs curl (M+P / M)");
    for (int i = 0; i < nres; i++)
        print_row(&res[i], strncmp(res[i].what, "mkdir", 5) == 0 ? curl_rate : 0, curl_both);
    if (o.mkdir_jobs > 0 && cu.ok) {
        printf("%-31s %2s %6ld %7.2f %8.0f %15s %15s %7.1f\n", "curl --parallel MKCOL", "-",
               o.mkdir_jobs, cu.mkcol_s, curl_rate, "-", "-", (double)cu.rss_kb / 1024.0);
        printf("%-31s %2s %6ld %7.2f %8.0f %15s %15s %7.1f\n", "curl --parallel MKCOL+PROPPATCH",
               "-", o.mkdir_jobs, cu.mkcol_s + cu.proppatch_s, curl_both, "-", "-",
               (double)cu.rss_kb / 1024.0);
        printf("\ncurl: --parallel-max %d, one pass of MKCOLs then one of PROPPATCHes (the same\n"
               "requests a mkdir job makes); vs curl = odoosync jobs/s / curl's (MKCOL+PROPPATCH "
               "/ MKCOL only).\n",
               o.concurrency);
    }
    return bad ? 1 : 0;
}
