/*
 * cmd_work: `odoosync work`, the cluster worker. Consumes jobs from Kafka
 * (the configured group), applies them with the appliers under Redis locks
 * through the worker pool, until SIGTERM/SIGINT (the handler only sets a
 * flag). Then it takes no more jobs, gives those in flight worker.grace_ms
 * to finish, commits the offsets of what finished and leaves the group.
 * With metrics.listen: /metrics (the pool's counters and lock waits, the
 * consumer lag of its partitions), /healthz, /readyz.
 *
 * Exit codes: 0 stopped cleanly; 1 jobs were still running at the end of
 * the grace period (they were not committed: another worker gets them
 * again); 2 configuration; 3 Kafka refused us (fatal consumer error);
 * 5 internal error.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "cli.h"
#include "cmds.h"
#include "events.h"
#include "metrics.h"
#include "probe.h"
#include "kq.h"
#include "lock.h"
#include "pass.h"
#include "pool.h"
#include "setup.h"
#include "transport.h"

#include "banned.h"

/* also in cmds.h once the command is listed there */
int cmd_work(int argc, char **argv, const volatile sig_atomic_t *stop);

/* What the metrics observe: the pool, its consumer, the registry (NULL when off). */
struct work_obs {
    struct pool *pool;
    struct kq_consumer *cons;
    struct metrics *m; /* set before pool_run, read by worker threads after */
};

/* Before each scrape of /metrics: the pool's own counters, the consumer lag. */
static void work_collect(void *ud, struct metrics *m)
{
    struct work_obs *o = ud;
    struct pool_stats st;
    struct kq_lag lag[4];
    struct err e = ERR_INIT;
    size_t n = 0;

    pool_get_stats(o->pool, &st);
    metrics_set(m, "odoosync_jobs_retried_total", NULL, (double)st.retried);
    metrics_set(m, "odoosync_jobs_dead_lettered_total", NULL, (double)st.dead);
    metrics_set(m, "odoosync_lock_busy_total", NULL, (double)st.busy);
    if (kq_consumer_lag(o->cons, lag, sizeof(lag) / sizeof(lag[0]), &n, &e) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        metrics_set(m, "odoosync_consumer_lag", METRICS_LV(lag[i].topic), (double)lag[i].lag);
}

/* A job holds its lock(s): how long it waited for them. */
static void work_lock_wait(const struct job *j, double seconds, void *ud)
{
    struct work_obs *o = ud;

    (void)j;
    metrics_observe(o->m, "odoosync_lock_wait_seconds", NULL, seconds);
}

static void work_usage(FILE *out)
{
    fprintf(out,
            "usage: odoosync work [options]\n\n"
            "Cluster worker: applies the jobs of the Kafka jobs topic under Redis locks, until\n"
            "SIGTERM or SIGINT; then finishes the jobs in flight (worker.grace_ms), commits\n"
            "and leaves the consumer group.\n\n"
            "options:\n" SETUP_HELP
            "      --instance-id ID  static group membership (group.instance.id): a restarted\n"
            "                        pod with the same ID takes its partitions back without a\n"
            "                        rebalance; default $ODOOSYNC_WORKER_INSTANCE_ID, or none\n"
            "      --events FILE     append the sync log (JSON lines) to FILE ('-': stdout)\n\n"
            "exit: 0 stopped cleanly, 1 jobs still running after the grace period (not\n"
            "      committed: they will be applied again), 2 config, 3 Kafka/Redis refused us,\n"
            "      5 internal error\n");
}

int cmd_work(int argc, char **argv, const volatile sig_atomic_t *stop)
{
    static const struct option longopts[] = {SETUP_LONGOPTS,
                                             {"instance-id", required_argument, NULL, 'I'},
                                             {"events", required_argument, NULL, 'E'},
                                             {NULL, 0, NULL, 0}};
    struct setup s;
    struct transport tr;
    struct events ev;
    struct dav_opts dopts;
    struct dav_share *share = NULL;
    struct odoo_opts oopts;
    struct apply_opts ao;
    struct applier *ap = NULL;
    struct kq_producer *prod = NULL;
    struct lock *marks = NULL;
    struct metrics *m = NULL;
    struct metrics_server *ms = NULL;
    struct probe_ready pr;
    struct kq_consumer *cons = NULL;
    struct pool_opts po;
    struct pool *pool = NULL;
    struct pool_stats ps;
    struct work_obs obs;
    struct err e = ERR_INIT;
    const char *events_path = NULL, *instance = getenv("ODOOSYNC_WORKER_INSTANCE_ID");
    char root[4096];
    int opt, rc, ev_open = 0, tr_open = 0;

    setup_init(&s);
    memset(&obs, 0, sizeof(obs));
    optind = 1;
    while ((opt = getopt_long(argc, argv, SETUP_SHORTOPTS, longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            work_usage(stdout);
            return EXIT_OK;
        case 'I':
            instance = optarg;
            break;
        case 'E':
            events_path = optarg;
            break;
        default:
            if (setup_option(&s, opt, optarg) != 1) {
                work_usage(stderr);
                return EXIT_USAGE;
            }
        }
    }
    /* main() caught SIGTERM/SIGINT: they only set *stop; the pool then starts no job, hands
     * back the ones a stop interrupted (their transfers end at once) and leaves cleanly. */
    rc = setup_load(&s, CFG_NEED_ODOO | CFG_NEED_CLOUD | CFG_NEED_KAFKA | CFG_NEED_REDIS, "work");
    if (rc)
        goto out;
    if (transport_init(&tr, &s.cfg, &s.log, &e) < 0) {
        fprintf(stderr, "odoosync work: %s\n", e.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    tr_open = 1;
    if (instance && *instance)
        tr.kq.group_instance = instance;
    if (events_open(&ev, events_path, &s.log, &e) < 0) {
        fprintf(stderr, "odoosync work: %s\n", e.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    ev_open = 1;
    events_open_odoo(&ev, &s.cfg); /* sync_log.odoo: also into Odoo's ir.logging */
    snprintf(root, sizeof(root), "/%s",
             s.cfg.cloud.root[0] == '/' ? s.cfg.cloud.root + 1 : s.cfg.cloud.root);

    pass_dav_opts(&s.cfg, &s.log, &dopts);
    pass_odoo_opts(&s.cfg, &s.log, &oopts);
    dopts.stop = oopts.stop = stop;
    /* the job threads' WebDAV handles share DNS answers and TLS sessions */
    share = dav_share_new(&e);
    dopts.share = share;
    memset(&ao, 0, sizeof(ao));
    ao.dav = &dopts;
    ao.odoo = &oopts;
    ao.link_web = s.cfg.cloud.link_form != CFG_LINK_DAV;
    ao.log = &s.log;
    ao.on_event = events_on_job;
    ao.event_ud = &ev;
    rc = share ? apply_new(&ap, &ao, &e) : e.code;
    if (rc == 0)
        rc = kq_producer_new(&prod, &tr.kq, &e);
    if (rc == 0) {
        /* the sync log also goes to the events topic, through the same producer */
        ev.kq = prod;
        ev.kq_topic = kq_conf_events(&tr.kq);
        rc = lock_new(&marks, &tr.lock, &e);
        ev.marks = marks; /* used under the events mutex only */
    }
    if (rc == 0)
        rc = kq_consumer_new(&cons, &tr.kq, &e);
    if (rc == 0) {
        pool_opts_init(&po);
        po.concurrency = (int)s.cfg.worker.concurrency;
        po.max_attempts = (int)s.cfg.worker.max_attempts;
        po.backoff_ms = s.cfg.worker.backoff_ms;
        po.grace_ms = s.cfg.worker.grace_ms;
        po.lock_ttl_ms = s.cfg.redis.lock_ttl_ms;
        po.root = root;
        po.apply = apply_job;
        po.apply_ud = ap;
        po.kq = &tr.kq;
        po.lock = &tr.lock;
        po.log = &s.log;
        po.on_event = events_on_job;
        po.event_ud = &ev;
        po.on_lock_wait = work_lock_wait;
        po.lock_wait_ud = &obs;
        rc = pool_new(&pool, &po, cons, prod, &e);
    }
    if (rc < 0) {
        fprintf(stderr, "odoosync work: %s\n", e.msg);
        rc = rc == ERR_INVALID ? EXIT_USAGE : cli_exit_for(rc);
        goto out;
    }
    /* /metrics, /healthz, /readyz (Kafka, Redis, Odoo, cloud) when metrics.listen is set */
    memset(&pr, 0, sizeof(pr));
    obs.pool = pool;
    obs.cons = cons;
    if (probe_serve(&s.cfg, &s.log, PROBE_KAFKA | PROBE_REDIS | PROBE_ODOO | PROBE_CLOUD, &pr,
                    work_collect, &obs, &m, &ms, &e) < 0) {
        fprintf(stderr, "odoosync work: metrics: %s\n", e.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    ev.metrics = m;
    obs.m = m;
    rc = pool_run(pool, stop, &e);
    pool_get_stats(pool, &ps);
    log_info(&s.log,
             "work: stopped; consumed %ld, applied %ld, skipped %ld, retried %ld, "
             "dead-lettered %ld",
             ps.consumed, ps.applied, ps.skipped, ps.retried, ps.dead);
    if (rc == ERR_RETRY) {
        /* jobs still running: do not wait for them (pool_free would); they run again elsewhere */
        fprintf(stderr, "odoosync work: %s\n", e.msg);
        metrics_server_stop(ms); /* a scrape reads the consumer */
        ms = NULL;
        kq_consumer_free(cons); /* leave the group now */
        kq_flush(prod, 5000, NULL, NULL);
        fflush(NULL);
        _exit(EXIT_FAILED);
    }
    if (rc < 0) {
        fprintf(stderr, "odoosync work: %s\n", e.msg);
        rc = cli_exit_for(rc);
    } else {
        rc = EXIT_OK;
    }
out:
    metrics_server_stop(ms);
    pool_free(pool);
    kq_consumer_free(cons);
    kq_producer_free(prod);
    lock_free(marks);
    ev.metrics = NULL;
    metrics_free(m);
    apply_free(ap);
    dav_share_free(share); /* after every handle using it */
    if (ev_open)
        events_close(&ev);
    if (tr_open)
        transport_release(&tr);
    setup_release(&s);
    return rc;
}
