/*
 * cmd_plan: `odoosync plan` scans both sides and prints the jobs a pass
 * would emit, grouped by kind (or --json, one job per line), and changes
 * nothing anywhere (but the scan state, which it reads and leaves like a
 * pass). With a cluster configuration (Kafka and Redis) the scan state is the
 * one `produce` keeps in Redis: its links are the planner's view of the
 * previous pass (plan.h), so the preview plans what the producer would.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "lock.h"
#include "pass.h"
#include "setup.h"
#include "transport.h"

#include "banned.h"

static void plan_usage(FILE *out)
{
    fprintf(out, "usage: odoosync plan [options]\n\n"
                 "Scan Odoo and the cloud, and print what a pass would do. Changes nothing.\n\n"
                 "options:\n" SETUP_HELP
                 "      --json            one job per line (JSON), nothing else on stdout\n"
                 "      --force-deletes   plan deletions even over the safety share\n"
                 "      --full-scan       read everything, ignore and keep the saved scan state\n"
                 "                        and the settled mark (see README: Operating it)\n\n"
                 "exit: 0 planned (maybe nothing), 2 config, 3 server unreachable, 4 deletions "
                 "withheld by the safety\n");
}

int cmd_plan(int argc, char **argv, const volatile sig_atomic_t *stop)
{
    static const struct option longopts[] = {SETUP_LONGOPTS,
                                             {"json", no_argument, NULL, 'j'},
                                             {"force-deletes", no_argument, NULL, 'F'},
                                             {"full-scan", no_argument, NULL, 'S'},
                                             {NULL, 0, NULL, 0}};
    struct setup s;
    struct plan p;
    struct scan_stats st;
    struct pass_opts po;
    struct err e = ERR_INIT;
    struct transport t;
    struct lock *state_lock = NULL;
    int json = 0, force = 0, full = 0, t_ready = 0;
    int opt, rc;

    setup_init(&s);
    plan_init(&p);
    optind = 1;
    while ((opt = getopt_long(argc, argv, SETUP_SHORTOPTS, longopts, NULL)) != -1) {
        if (opt == 'h') {
            plan_usage(stdout);
            return EXIT_OK;
        }
        if (opt == 'j') {
            json = 1;
            continue;
        }
        if (opt == 'F') {
            force = 1;
            continue;
        }
        if (opt == 'S') {
            full = 1;
            continue;
        }
        if (setup_option(&s, opt, optarg) != 1) {
            plan_usage(stderr);
            return EXIT_USAGE;
        }
    }
    rc = setup_load(&s, CFG_NEED_ODOO | CFG_NEED_CLOUD | CFG_NEED_TYPES, "plan");
    if (rc)
        goto out;
    memset(&po, 0, sizeof(po));
    po.cfg = &s.cfg;
    po.log = &s.log;
    po.force_deletes = force;
    po.full_scan = full;
    if (s.cfg.kafka.bootstrap && *s.cfg.kafka.bootstrap && s.cfg.redis.url && *s.cfg.redis.url) {
        if (transport_init(&t, &s.cfg, &s.log, &e) < 0) {
            fprintf(stderr, "odoosync plan: %s\n", e.msg);
            rc = EXIT_USAGE;
            goto out;
        }
        t_ready = 1;
        if (lock_new(&state_lock, &t.lock, &e) < 0) {
            log_warn(&s.log, "redis off for this plan (the scan state is the file's): %s", e.msg);
            err_clear(&e);
            state_lock = NULL;
        }
        po.state_lock = state_lock;
    }
    po.stop = stop;
    if (pass_plan(&po, &p, &st, &e) < 0) {
        fprintf(stderr, "odoosync plan: %s\n", e.msg);
        rc = cli_exit_for(e.code);
        goto out;
    }
    plan_print(&p, stdout, json);
    rc = p.verdict == PLAN_VERDICT_OK ? EXIT_OK : EXIT_SAFETY;
out:
    lock_free(state_lock);
    if (t_ready)
        transport_release(&t);
    plan_release(&p);
    setup_release(&s);
    return rc;
}
