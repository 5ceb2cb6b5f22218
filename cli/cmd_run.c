/*
 * cmd_run: `odoosync run`, the local mode. One process scans, plans and
 * applies, pass after pass: the jobs go through the in-process queue to the
 * same worker pool and appliers `odoosync work` uses with Kafka, with an
 * in-process lock table instead of Redis. No Kafka, no Redis.
 *
 * Each pass ends with a summary (jobs by kind, errors, duration). With
 * --once the exit code tells how the pass went; otherwise passes repeat
 * every --interval seconds until SIGINT/SIGTERM (the handler only sets the
 * stop flag).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "cli.h"
#include "cmds.h"
#include "events.h"
#include "kq.h"
#include "lock.h"
#include "metrics.h"
#include "pass.h"
#include "pool.h"
#include "progress.h"
#include "probe.h"
#include "setup.h"

#include "plural.h"

#include "banned.h"

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: odoosync run [options]\n\n"
            "Local mode: scan, plan and apply in this process, with no Kafka and no Redis.\n\n"
            "options:\n" SETUP_HELP "      --once            one pass, then exit with its status\n"
            "      --interval SECS   seconds between passes (default 300)\n"
            "      --events FILE     append the sync log (JSON lines) to FILE ('-': stdout)\n"
            "      --force-deletes   apply deletions even over the safety share\n"
            "      --full-scan       read everything, ignore and keep the saved scan state\n"
            "                        and the settled mark (see README: Operating it)\n"
            "      --dry-run         plan and print, apply nothing (same as `odoosync plan`)\n"
            "metrics: -X metrics.listen=127.0.0.1:9464 serves /metrics, /healthz, /readyz\n\n"
            "exit (--once): 0 all applied, 1 some jobs failed, 2 config, 3 server unreachable,\n"
            "               4 deletions withheld by the safety, 5 internal error\n");
}

/*
 * What /metrics observes of the passes: the consumer of the pass in
 * progress (NULL between passes), for the lag of the in-process queue
 * (topics "odoosync.jobs" and "odoosync.retry", as in Kafka), and the
 * registry for lock waits (NULL when metrics are off).
 */
struct run_obs {
    pthread_mutex_t mu;
    struct kq_consumer *cons; /* under mu */
    struct metrics *m;
};

static void run_obs_consumer(struct run_obs *o, struct kq_consumer *c)
{
    pthread_mutex_lock(&o->mu);
    o->cons = c;
    pthread_mutex_unlock(&o->mu);
}

/* Before each scrape: the lag of the pass in progress, 0 between passes. */
static void run_collect(void *ud, struct metrics *m)
{
    struct run_obs *o = ud;
    struct kq_lag lag[4];
    struct err e = ERR_INIT;
    size_t n = 0;

    metrics_set(m, "odoosync_consumer_lag", METRICS_LV(KQ_TOPIC_JOBS), 0);
    metrics_set(m, "odoosync_consumer_lag", METRICS_LV(KQ_TOPIC_RETRY), 0);
    pthread_mutex_lock(&o->mu);
    if (o->cons && kq_consumer_lag(o->cons, lag, sizeof(lag) / sizeof(lag[0]), &n, &e) < 0)
        n = 0;
    pthread_mutex_unlock(&o->mu);
    for (size_t i = 0; i < n; i++)
        metrics_set(m, "odoosync_consumer_lag", METRICS_LV(lag[i].topic), (double)lag[i].lag);
}

/* A job holds its lock: how long it waited for it. */
static void run_lock_wait(const struct job *j, double seconds, void *ud)
{
    struct run_obs *o = ud;

    (void)j;
    metrics_observe(o->m, "odoosync_lock_wait_seconds", NULL, seconds);
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Jobs that cannot succeed (ERR_LOST: their data is gone at its source) are given up at
 * their first failure, reported then with what the operator can do, and their ids kept in
 * <state.file>.lost: later passes skip them with one warning line, so they neither fail
 * every pass nor hide the other jobs' outcome. The ids digest the job's expectations: an
 * attachment fixed in Odoo (re-uploaded, restored) gives a new job, which runs. The
 * list keeps only the ids the last plan still held (plus the new ones).
 */
static char *lost_path(const struct setup *s)
{
    struct buf b;
    char *out;

    if (!s->cfg.state.file || !*s->cfg.state.file)
        return NULL;
    buf_init(&b, 8192);
    if (buf_printf(&b, "%s.lost", s->cfg.state.file) < 0) {
        buf_release(&b);
        return NULL;
    }
    out = strdup(buf_str(&b));
    buf_release(&b);
    return out;
}

/* Whether id is a line of the lost list (NULL or empty: no). */
static int lost_has(const struct buf *list, const char *id)
{
    size_t n = strlen(id);
    const char *p = list->data, *end = list->data ? list->data + list->len : NULL;

    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

        if (len == n && memcmp(p, id, n) == 0)
            return 1;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static void lost_load(const char *path, struct buf *list)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    char chunk[4096];
    size_t n;

    if (!f)
        return;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(list, chunk, n) < 0)
            break;
    fclose(f);
}

/* Rewrite the list: the ids still planned (keep) and the new ones; none: no file. */
static void lost_remember(struct setup *s, const char *path, const struct buf *keep,
                          const struct buf *added)
{
    FILE *f;

    if (!path)
        return;
    if (!keep->len && !added->len) {
        remove(path);
        return;
    }
    f = fopen(path, "w");
    if (!f) {
        log_warn(&s->log, "cannot remember the jobs that cannot succeed in %s", path);
        return;
    }
    if (keep->len)
        fwrite(keep->data, 1, keep->len, f);
    if (added->len)
        fwrite(added->data, 1, added->len, f);
    fclose(f);
}

/* Apply the plan's jobs through the in-process queue and the worker pool. */
static int apply_plan(struct setup *s, const struct plan *p, struct events *ev, struct run_obs *obs,
                      struct pool_stats *ps, const volatile sig_atomic_t *stop, struct err *e)
{
    struct kq_local *q = NULL;
    struct kq_conf kc;
    struct kq_producer *prod = NULL;
    struct kq_consumer *cons = NULL;
    struct lock_table *lt = NULL;
    struct lock_conf lc;
    struct applier *ap = NULL;
    struct apply_opts ao;
    struct dav_opts dopts;
    struct dav_share *share = NULL;
    struct odoo_opts oopts;
    struct pool_opts po;
    struct pool *pool = NULL;
    struct progress prog;
    struct buf lost, keep;
    char *lpath = NULL;
    size_t nskip = 0;
    struct buf b;
    char root[4096];
    int rc = 0;

    buf_init(&lost, 16 << 20);
    buf_init(&keep, 16 << 20);
    buf_init(&b, 1 << 20);
    snprintf(root, sizeof(root), "/%s",
             s->cfg.cloud.root[0] == '/' ? s->cfg.cloud.root + 1 : s->cfg.cloud.root);
    memset(ps, 0, sizeof(*ps));
    q = kq_local_new(8, p->njobs + 1024);
    lt = lock_table_new();
    if (!q || !lt) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    memset(&kc, 0, sizeof(kc));
    kc.local = q;
    kc.log = &s->log;
    memset(&lc, 0, sizeof(lc));
    lc.local = lt;
    rc = kq_producer_new(&prod, &kc, e);
    if (rc < 0)
        goto out;
    lpath = lost_path(s);
    lost_load(lpath, &lost);
    for (size_t i = 0; i < p->njobs; i++) {
        if (lost.len && p->jobs[i].id && lost_has(&lost, p->jobs[i].id)) {
            nskip++;
            buf_printf(&keep, "%s\n", p->jobs[i].id);
            continue;
        }
        buf_reset(&b);
        rc = job_encode(&p->jobs[i], &b, e);
        if (rc < 0)
            goto out;
        rc = kq_produce(prod, kq_conf_jobs(&kc), p->jobs[i].lock, b.data, b.len, NULL, 0, e);
        if (rc < 0)
            goto out;
    }
    kq_local_close(q);
    if (nskip)
        log_warn(&s->log,
                 "%zu job(s) not tried: they failed for good on an earlier pass (their data is "
                 "gone, see that pass's error); once the cause is fixed, delete %s to try them "
                 "again",
                 nskip, lpath);

    pass_dav_opts(&s->cfg, &s->log, &dopts);
    pass_odoo_opts(&s->cfg, &s->log, &oopts);
    dopts.stop = oopts.stop = stop; /* a job interrupted by the stop is handed back */
    /* the job threads' WebDAV handles share DNS answers and TLS sessions */
    share = dav_share_new(e);
    if (!share) {
        rc = e->code ? e->code : ERR_NOMEM;
        goto out;
    }
    dopts.share = share;
    memset(&ao, 0, sizeof(ao));
    ao.dav = &dopts;
    ao.odoo = &oopts;
    ao.link_web = s->cfg.cloud.link_form != CFG_LINK_DAV;
    ao.log = &s->log;
    ao.on_event = events_on_job;
    ao.event_ud = ev;
    rc = apply_new(&ap, &ao, e);
    if (rc < 0)
        goto out;
    rc = kq_consumer_new(&cons, &kc, e);
    if (rc < 0)
        goto out;
    run_obs_consumer(obs, cons);
    pool_opts_init(&po);
    po.concurrency = (int)s->cfg.worker.concurrency;
    po.max_attempts = (int)s->cfg.worker.max_attempts;
    po.backoff_ms = s->cfg.worker.backoff_ms;
    po.grace_ms = s->cfg.worker.grace_ms;
    po.lock_ttl_ms = s->cfg.redis.lock_ttl_ms;
    po.root = root;
    po.apply = apply_job;
    po.apply_ud = ap;
    po.kq = &kc;
    po.lock = &lc;
    po.log = &s->log;
    po.on_lock_wait = run_lock_wait;
    po.lock_wait_ud = obs;
    rc = pool_new(&pool, &po, cons, prod, e);
    if (rc < 0)
        goto out;
    progress_start(&prog, pool, &s->log, (long)(p->njobs - nskip), s->cfg.log.progress_s);
    rc = pool_run(pool, stop, e);
    progress_stop(&prog);
    pool_get_stats(pool, ps);
    if (ev->nlost > 0) {
        log_error(&s->log,
                  "%ld job(s) cannot succeed: their data is gone at its source (see the errors "
                  "above for what to do); later passes skip them%s%s%s",
                  ev->nlost, lpath ? " (listed in " : "", lpath ? lpath : "", lpath ? ")" : "");
    }
    if (lost.len || ev->nlost > 0)
        lost_remember(s, lpath, &keep, &ev->lost);
out:
    buf_release(&lost);
    buf_release(&keep);
    free(lpath);
    pool_free(pool);
    run_obs_consumer(obs, NULL);
    kq_consumer_free(cons);
    kq_producer_free(prod);
    apply_free(ap);
    dav_share_free(share); /* after every handle using it */
    kq_local_free(q);
    lock_table_free(lt);
    buf_release(&b);
    return rc;
}

static void print_summary(const struct plan *p, const struct events *ev,
                          const struct pool_stats *ps, long long ms)
{
    printf("pass: %zu %s planned (", p->njobs, PLURAL(p->njobs, "job", "jobs"));
    for (int k = 0; k < JOB_KIND_COUNT; k++)
        printf("%s%s %zu", k ? ", " : "", job_kind_name((enum job_kind)k),
               p->count[k][JOB_SIDE_CLOUD] + p->count[k][JOB_SIDE_ODOO]);
    printf("); applied %ld, already done %ld, skipped %ld, retried %ld, failed %ld; %.1f s\n",
           ev->count[JOB_APPLIED], ev->count[JOB_ALREADY_DONE],
           ev->count[JOB_SKIPPED] + ps->skipped, ps->retried, ps->dead, (double)ms / 1000.0);
    fflush(stdout);
}

/* Metrics of a finished pass (m may be NULL). */
static void run_count_pass(struct metrics *m, int rc, const struct pool_stats *ps)
{
    const char *result = rc == EXIT_OK       ? "ok"
                         : rc == EXIT_FAILED ? "failed"
                         : rc == EXIT_SAFETY ? "safety"
                                             : "error";

    metrics_add(m, "odoosync_passes_total", METRICS_LV(result), 1);
    metrics_add(m, "odoosync_jobs_retried_total", NULL, (double)ps->retried);
    metrics_add(m, "odoosync_jobs_dead_lettered_total", NULL, (double)ps->dead);
    metrics_add(m, "odoosync_lock_busy_total", NULL, (double)ps->busy);
    metrics_set(m, "odoosync_last_pass_timestamp_seconds", NULL, (double)time(NULL));
}

/* One pass; returns its exit code. */
static int run_pass(struct setup *s, int force, int full, int dry_run, struct events *ev,
                    struct run_obs *obs, const volatile sig_atomic_t *stop)
{
    struct pass_opts po;
    struct plan p;
    struct scan_stats st;
    struct pool_stats ps;
    struct err e = ERR_INIT;
    long long t0 = mono_ms();
    int rc;

    plan_init(&p);
    memset(&ps, 0, sizeof(ps));
    events_reset_counts(ev);
    memset(&po, 0, sizeof(po));
    po.cfg = &s->cfg;
    po.log = &s->log;
    po.force_deletes = force;
    po.full_scan = full;
    po.stop = stop;
    if (pass_plan(&po, &p, &st, &e) < 0) {
        fprintf(stderr, "odoosync run: %s\n", e.msg);
        rc = cli_exit_for(e.code);
        goto out;
    }
    log_info(&s->log, "scanned %ld %s, %ld %s, %ld cloud %s (%ld + %ld requests)", st.records,
             PLURAL(st.records, "record", "records"), st.attachments,
             PLURAL(st.attachments, "attachment", "attachments"), st.entries,
             PLURAL(st.entries, "entry", "entries"), st.odoo_requests, st.cloud_requests);
    metrics_observe(ev->metrics, "odoosync_scan_duration_seconds", METRICS_LV("odoo"),
                    (double)st.odoo_ms / 1000.0);
    metrics_observe(ev->metrics, "odoosync_scan_duration_seconds", METRICS_LV("cloud"),
                    (double)st.cloud_ms / 1000.0);
    metrics_add(ev->metrics, "odoosync_scan_requests_total", METRICS_LV("odoo"),
                (double)st.odoo_requests);
    metrics_add(ev->metrics, "odoosync_scan_requests_total", METRICS_LV("cloud"),
                (double)st.cloud_requests);
    for (size_t i = 0; i < p.nmessages; i++)
        fprintf(stderr, "odoosync run: %s\n", p.messages[i]);
    if (dry_run) {
        plan_print(&p, stdout, 0);
        rc = p.verdict == PLAN_VERDICT_OK ? EXIT_OK : EXIT_SAFETY;
        goto out;
    }
    if (p.njobs > 0 && apply_plan(s, &p, ev, obs, &ps, stop, &e) < 0) {
        fprintf(stderr, "odoosync run: applying: %s\n", e.msg);
        print_summary(&p, ev, &ps, mono_ms() - t0);
        rc = cli_exit_for(e.code);
        if (rc == EXIT_OK)
            rc = EXIT_FAILED;
        goto out;
    }
    print_summary(&p, ev, &ps, mono_ms() - t0);
    /* jobs whose data is gone were reported once and are skipped from now on: the other
     * jobs decide the exit code */
    if (ps.dead - ev->nlost > 0)
        rc = EXIT_FAILED;
    else if (p.verdict != PLAN_VERDICT_OK)
        rc = EXIT_SAFETY;
    else
        rc = EXIT_OK;
out:
    run_count_pass(ev->metrics, rc, &ps);
    plan_release(&p);
    return rc;
}

int cmd_run(int argc, char **argv, const volatile sig_atomic_t *stop)
{
    static const struct option longopts[] = {SETUP_LONGOPTS,
                                             PASS_LOOP_LONGOPTS,
                                             {"events", required_argument, NULL, 'E'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    struct setup s;
    struct events ev;
    struct err e = ERR_INIT;
    struct metrics *m = NULL;
    struct metrics_server *ms = NULL;
    struct probe_ready pr;
    const char *events_path = NULL;
    struct pass_loop pl;
    struct run_obs obs;
    int dry_run = 0, ev_open = 0;
    int opt, rc;

    setup_init(&s);
    pass_loop_init(&pl);
    optind = 1;
    while ((opt = getopt_long(argc, argv, SETUP_SHORTOPTS, longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            run_usage(stdout);
            return EXIT_OK;
        case 'E':
            events_path = optarg;
            break;
        case 'n':
            dry_run = 1;
            break;
        default:
            rc = pass_loop_option(&pl, opt, optarg, "run");
            if (rc == 0)
                rc = setup_option(&s, opt, optarg);
            if (rc != 1) {
                run_usage(stderr);
                return EXIT_USAGE;
            }
        }
    }
    memset(&obs, 0, sizeof(obs));
    pthread_mutex_init(&obs.mu, NULL); /* destroyed at out: */
    rc = setup_load(&s, CFG_NEED_ODOO | CFG_NEED_CLOUD | CFG_NEED_TYPES, "run");
    if (rc)
        goto out;
    if (events_open(&ev, events_path, &s.log, &e) < 0) {
        fprintf(stderr, "odoosync run: %s\n", e.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    ev_open = 1;
    events_open_odoo(&ev, &s.cfg); /* sync_log.odoo: also into Odoo's ir.logging */
    if (probe_serve(&s.cfg, &s.log, PROBE_ODOO | PROBE_CLOUD, &pr, run_collect, &obs, &m, &ms, &e) <
        0) {
        fprintf(stderr, "odoosync run: metrics: %s\n", e.msg);
        rc = e.code == ERR_NOMEM ? EXIT_INTERNAL : EXIT_USAGE;
        goto out;
    }
    ev.metrics = m;
    obs.m = m;
    for (;;) {
        rc = run_pass(&s, pl.force_deletes, pl.full_scan, dry_run, &ev, &obs, stop);
        if (pl.once || *stop || pass_loop_wait(&pl, stop))
            break;
    }
    /* a service asked to stop stops cleanly (0); a single pass interrupted says so */
    if (*stop)
        rc = pl.once ? EXIT_STOPPED : EXIT_OK;
out:
    metrics_server_stop(ms);
    metrics_free(m);
    if (ev_open)
        events_close(&ev);
    setup_release(&s);
    pthread_mutex_destroy(&obs.mu);
    return rc;
}
