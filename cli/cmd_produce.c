/*
 * cmd_produce: `odoosync produce`, the producer of the cluster mode. A pass
 * scans both sides and plans exactly as `run` does, then emits each job to
 * the jobs topic with the document folder as key (so a document's jobs keep
 * their order), through the idempotent producer, and succeeds only when the
 * broker acknowledged every job. Workers (`odoosync work`) apply them.
 *
 * With --once (the Kubernetes CronJob) one pass and its exit code; otherwise
 * a pass every --interval seconds until SIGINT/SIGTERM.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmds.h"
#include "kq.h"
#include "lock.h"
#include "metrics.h"
#include "probe.h"
#include "pass.h"
#include "setup.h"
#include "transport.h"

#include "plural.h"

#include "banned.h"

/*
 * A job's queued mark is set (unless it exists: then the job is still queued
 * and not emitted again) before the job is emitted, for PRODUCE_CLAIM_TTL_MS:
 * long enough for the pass to emit and flush, short enough that a producer
 * that dies before the broker's answer holds nothing back for long. Once the
 * broker acknowledged the job, its mark lives PRODUCE_MARK_TTL_MS (if no
 * worker clears it first); a job the broker did not acknowledge (produce
 * error, failed delivery, no report before the flush timeout) loses its mark,
 * so the next pass emits it again.
 */
#define PRODUCE_CLAIM_TTL_MS (10L * 60 * 1000)
#define PRODUCE_MARK_TTL_MS (6L * 3600 * 1000)

static void produce_usage(FILE *out)
{
    fprintf(out,
            "usage: odoosync produce [options]\n\n"
            "Cluster mode: scan and plan, then emit the jobs to Kafka for `odoosync work`.\n\n"
            "options:\n" SETUP_HELP
            "      --once            one pass, then exit with its status (for a CronJob)\n"
            "      --interval SECS   seconds between passes (default 300)\n"
            "      --force-deletes   emit deletions even over the safety share\n"
            "      --full-scan       read everything, ignore and keep the saved scan state\n"
            "                        and the settled mark (see README: Operating it)\n"
            "                        (kept in Redis when redis.url is set, else state.file)\n\n"
            "exit (--once): 0 every job acknowledged by Kafka, 1 some were not, 2 config,\n"
            "               3 a server is unreachable, 4 deletions withheld by the safety\n");
}

static int produce_pass(struct setup *s, struct transport *t, int force, int full,
                        struct metrics *m, const volatile sig_atomic_t *stop)
{
    struct pass_opts po;
    struct plan p;
    struct scan_stats st;
    struct kq_producer *prod = NULL;
    struct kq_receipt **rcpt = NULL;
    unsigned char *sent = NULL; /* per job: emitted by this pass */
    struct lock *marks = NULL;
    struct buf b;
    struct err e = ERR_INIT;
    long failed = 0, queued = 0, emitted = 0;
    int rc;

    plan_init(&p);
    buf_init(&b, 1 << 20);
    memset(&po, 0, sizeof(po));
    po.cfg = &s->cfg;
    po.log = &s->log;
    po.force_deletes = force;
    po.full_scan = full;
    po.stop = stop;
    /*
     * With Redis configured, the scan state lives there (a CronJob's pod keeps no
     * file between passes), and a job still queued from an earlier pass (its mark
     * set by us once the broker acknowledged the job, not yet cleared by the worker
     * that finishes it) is not emitted again. Without Redis, or when it does not
     * answer, the state is the file and every job is emitted: the appliers are
     * idempotent, so a repeat costs time, not correctness.
     */
    if (s->cfg.redis.url && *s->cfg.redis.url && lock_new(&marks, &t->lock, &e) < 0) {
        log_warn(&s->log, "redis off for this pass (scan state, queued-job marks): %s", e.msg);
        marks = NULL;
    }
    po.state_lock = marks;
    if (pass_plan(&po, &p, &st, &e) < 0) {
        fprintf(stderr, "odoosync produce: %s\n", e.msg);
        rc = cli_exit_for(e.code);
        goto out;
    }
    for (size_t i = 0; i < p.nmessages; i++)
        fprintf(stderr, "odoosync produce: %s\n", p.messages[i]);
    metrics_observe(m, "odoosync_scan_duration_seconds", METRICS_LV("odoo"),
                    (double)st.odoo_ms / 1000.0);
    metrics_observe(m, "odoosync_scan_duration_seconds", METRICS_LV("cloud"),
                    (double)st.cloud_ms / 1000.0);
    metrics_add(m, "odoosync_scan_requests_total", METRICS_LV("odoo"), (double)st.odoo_requests);
    metrics_add(m, "odoosync_scan_requests_total", METRICS_LV("cloud"), (double)st.cloud_requests);
    if (kq_producer_new(&prod, &t->kq, &e) < 0) {
        fprintf(stderr, "odoosync produce: kafka: %s\n", e.msg);
        rc = EXIT_CONNECT;
        goto out;
    }
    rcpt = calloc(p.njobs ? p.njobs : 1, sizeof(*rcpt));
    sent = calloc(p.njobs ? p.njobs : 1, 1);
    if (!rcpt || !sent) {
        fprintf(stderr, "odoosync produce: out of memory\n");
        rc = EXIT_INTERNAL;
        goto out;
    }
    for (size_t i = 0; i < p.njobs; i++) {
        int fresh = 1;

        if (marks && lock_mark(marks, p.jobs[i].id, PRODUCE_CLAIM_TTL_MS, &fresh, &e) < 0) {
            log_warn(&s->log, "queued-job marks off: %s", e.msg);
            lock_free(marks);
            marks = NULL;
            fresh = 1;
        }
        if (!fresh) {
            queued++;
            continue;
        }
        emitted++;
        sent[i] = 1;
        buf_reset(&b);
        if (job_encode(&p.jobs[i], &b, &e) < 0 ||
            kq_produce_tracked(prod, kq_conf_jobs(&t->kq), p.jobs[i].lock, b.data, b.len, NULL, 0,
                               &rcpt[i], &e) < 0)
            fprintf(stderr, "odoosync produce: job %s: %s\n", p.jobs[i].id, e.msg);
    }
    if (kq_flush(prod, 60000, NULL, &e) < 0)
        fprintf(stderr, "odoosync produce: %s\n", e.msg);
    /* keep the marks of what the broker acknowledged, drop the others' */
    for (size_t i = 0; i < p.njobs; i++) {
        int acked;

        if (!sent[i])
            continue;
        acked = rcpt[i] && kq_receipt_state(prod, rcpt[i]) == 1;
        if (!acked)
            failed++;
        /* on a Redis error the claim expires by itself (PRODUCE_CLAIM_TTL_MS) */
        if (marks && (acked ? lock_mark_keep(marks, p.jobs[i].id, PRODUCE_MARK_TTL_MS, &e)
                            : lock_unmark(marks, p.jobs[i].id, &e)) < 0)
            log_warn(&s->log, "queued-job mark of job %s: %s", p.jobs[i].id, e.msg);
    }
    printf("produce: %ld %s emitted, %ld still queued from an earlier pass (planned: ", emitted,
           PLURAL(emitted, "job", "jobs"), queued);
    for (int k = 0; k < JOB_KIND_COUNT; k++)
        printf("%s%s %zu", k ? ", " : "", job_kind_name((enum job_kind)k),
               p.count[k][JOB_SIDE_CLOUD] + p.count[k][JOB_SIDE_ODOO]);
    printf("), %ld not acknowledged; scanned %ld %s, %ld %s, %ld cloud %s\n", failed, st.records,
           PLURAL(st.records, "record", "records"), st.attachments,
           PLURAL(st.attachments, "attachment", "attachments"), st.entries,
           PLURAL(st.entries, "entry", "entries"));
    fflush(stdout);
    if (failed > 0)
        rc = EXIT_FAILED;
    else if (p.verdict != PLAN_VERDICT_OK)
        rc = EXIT_SAFETY;
    else
        rc = EXIT_OK;
    metrics_add(m, "odoosync_passes_total",
                METRICS_LV(rc == EXIT_OK       ? "ok"
                           : rc == EXIT_SAFETY ? "safety"
                                               : "failed"),
                1);
    metrics_set(m, "odoosync_last_pass_timestamp_seconds", NULL, (double)time(NULL));
out:
    for (size_t i = 0; rcpt && i < p.njobs; i++)
        kq_receipt_free(prod, rcpt[i]);
    free(rcpt);
    free(sent);
    lock_free(marks);
    kq_producer_free(prod);
    buf_release(&b);
    plan_release(&p);
    return rc;
}

int cmd_produce(int argc, char **argv, const volatile sig_atomic_t *stop)
{
    static const struct option longopts[] = {
        SETUP_LONGOPTS, PASS_LOOP_LONGOPTS, {NULL, 0, NULL, 0}};
    struct setup s;
    struct transport t;
    struct err e = ERR_INIT;
    struct metrics *m = NULL;
    struct metrics_server *ms = NULL;
    struct probe_ready pr;
    struct pass_loop pl;
    int t_ready = 0;
    int opt, rc;

    setup_init(&s);
    pass_loop_init(&pl);
    optind = 1;
    while ((opt = getopt_long(argc, argv, SETUP_SHORTOPTS, longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            produce_usage(stdout);
            return EXIT_OK;
        default:
            rc = pass_loop_option(&pl, opt, optarg, "produce");
            if (rc == 0)
                rc = setup_option(&s, opt, optarg);
            if (rc != 1) {
                produce_usage(stderr);
                return EXIT_USAGE;
            }
        }
    }
    rc =
        setup_load(&s, CFG_NEED_ODOO | CFG_NEED_CLOUD | CFG_NEED_TYPES | CFG_NEED_KAFKA, "produce");
    if (rc)
        goto out;
    if (transport_init(&t, &s.cfg, &s.log, &e) < 0) {
        fprintf(stderr, "odoosync produce: %s\n", e.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    t_ready = 1;
    memset(&pr, 0, sizeof(pr));
    if (probe_serve(&s.cfg, &s.log, PROBE_ODOO | PROBE_CLOUD | PROBE_KAFKA, &pr, NULL, NULL, &m,
                    &ms, &e) < 0) {
        fprintf(stderr, "odoosync produce: metrics: %s\n", e.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    for (;;) {
        rc = produce_pass(&s, &t, pl.force_deletes, pl.full_scan, m, stop);
        if (pl.once || *stop || pass_loop_wait(&pl, stop))
            break;
    }
    if (*stop)
        rc = pl.once ? EXIT_STOPPED : EXIT_OK;
out:
    metrics_server_stop(ms);
    metrics_free(m);
    if (t_ready)
        transport_release(&t);
    setup_release(&s);
    return rc;
}
