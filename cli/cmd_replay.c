/*
 * cmd_replay: `odoosync replay`, re-emits dead-lettered jobs to the jobs
 * topic (worker/replay.h): all, or those matching --kind, --path-prefix,
 * --error TEXT, --since/--until (RFC 3339, on the time of the last
 * failure). --dry-run lists them and emits nothing. With --jobs, replays
 * instead the jobs topic's own messages produced between --since and --until
 * (same bytes, same keys). Reads the dead-letter
 * topic through its own group ("<kafka.group>.scan") without committing,
 * so live workers are undisturbed. Replayed jobs keep their ids: replaying
 * twice is harmless.
 *
 * Exit codes: 0 done (every re-emitted job acknowledged); 1 some were not
 * acknowledged; 2 usage/config; 3 Kafka unreachable; 5 internal error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "jobmsg.h"
#include "kq.h"
#include "replay.h"
#include "setup.h"
#include "transport.h"

#include "plural.h"

#include "banned.h"

/* also in cmds.h once the command is listed there */
int cmd_replay(int argc, char **argv, const volatile sig_atomic_t *stop);

static void replay_usage(FILE *out)
{
    fprintf(out, "usage: odoosync replay [options]\n\n"
                 "Re-emit dead-lettered jobs (kafka.topics.dlq) to the jobs topic, as the same\n"
                 "jobs (same ids). Lists each one on stdout.\n\n"
                 "options:\n" SETUP_HELP
                 "      --kind KIND       only jobs of this kind (mkdir, upload, rename, relink,\n"
                 "                        delete); undecodable messages are then left out\n"
                 "      --path-prefix P   only jobs whose lock or path starts with P\n"
                 "      --error TEXT      only those whose last error contains TEXT\n"
                 "      --since TIME      last failure at or after TIME (RFC 3339)\n"
                 "      --until TIME      last failure before TIME (RFC 3339)\n"
                 "      --jobs            replay the jobs topic itself between --since and\n"
                 "                        --until (message times), instead of the DLQ\n"
                 "      --dry-run         list, emit nothing\n\n"
                 "exit: 0 done, 1 some not acknowledged, 2 usage/config, 3 Kafka unreachable,\n"
                 "      5 internal error\n");
}

int cmd_replay(int argc, char **argv, const volatile sig_atomic_t *stop)
{
    static const struct option longopts[] = {SETUP_LONGOPTS,
                                             {"kind", required_argument, NULL, 'k'},
                                             {"path-prefix", required_argument, NULL, 'p'},
                                             {"error", required_argument, NULL, 'e'},
                                             {"since", required_argument, NULL, 's'},
                                             {"until", required_argument, NULL, 'u'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"jobs", no_argument, NULL, 'J'},
                                             {NULL, 0, NULL, 0}};
    struct setup s;
    struct transport tr;
    struct replay_filter f;
    struct replay_stats st;
    struct kq_producer *prod = NULL;
    struct err e = ERR_INIT;
    char root[4096];
    int opt, rc, dry_run = 0, tr_open = 0, jobs = 0;

    (void)stop;
    memset(&f, 0, sizeof(f));
    setup_init(&s);
    optind = 1;
    while ((opt = getopt_long(argc, argv, SETUP_SHORTOPTS, longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            replay_usage(stdout);
            return EXIT_OK;
        case 'k':
            if (job_kind_parse(optarg) < 0) {
                fprintf(stderr, "odoosync replay: --kind: unknown kind \"%s\"\n", optarg);
                return EXIT_USAGE;
            }
            f.kind = optarg;
            break;
        case 'p':
            f.path_prefix = optarg;
            break;
        case 'e':
            f.error = optarg;
            break;
        case 's':
        case 'u':
            if (job_time_parse(optarg, opt == 's' ? &f.since_ms : &f.until_ms) < 0) {
                fprintf(stderr, "odoosync replay: --%s: expected an RFC 3339 time, got \"%s\"\n",
                        opt == 's' ? "since" : "until", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'n':
            dry_run = 1;
            break;
        case 'J':
            jobs = 1;
            break;
        default:
            if (setup_option(&s, opt, optarg) != 1) {
                replay_usage(stderr);
                return EXIT_USAGE;
            }
        }
    }
    if (jobs && (!f.since_ms || f.kind || f.path_prefix || f.error)) {
        fprintf(stderr, "odoosync replay: --jobs needs --since (and takes only --until)\n");
        return EXIT_USAGE;
    }
    rc = setup_load(&s, CFG_NEED_KAFKA, "replay");
    if (rc)
        goto out;
    if (transport_init(&tr, &s.cfg, &s.log, &e) < 0) {
        fprintf(stderr, "odoosync replay: %s\n", e.msg);
        rc = EXIT_USAGE;
        goto out;
    }
    tr_open = 1;
    snprintf(root, sizeof(root), "/%s",
             s.cfg.cloud.root[0] == '/' ? s.cfg.cloud.root + 1 : s.cfg.cloud.root);
    if (!dry_run && kq_producer_new(&prod, &tr.kq, &e) < 0) {
        fprintf(stderr, "odoosync replay: %s\n", e.msg);
        rc = cli_exit_for(e.code);
        goto out;
    }
    if (jobs)
        rc = replay_jobs_range(&tr.kq, prod, f.since_ms, f.until_ms, dry_run, stdout, &st, &e);
    else
        rc = replay_dlq(&tr.kq, prod, &f, dry_run, root, stdout, &st, &e);
    fflush(stdout);
    fprintf(stderr, "odoosync replay: %ld %s read, %ld matching, %ld %s%s\n", st.scanned,
            PLURAL(st.scanned, "message", "messages"), st.matched,
            dry_run ? st.matched : st.emitted, dry_run ? "would be re-emitted" : "re-emitted",
            st.bad ? " (some envelopes unreadable, see the log)" : "");
    if (rc < 0) {
        fprintf(stderr, "odoosync replay: %s\n", e.msg);
        rc = e.code == ERR_RETRY && st.scanned > 0 ? EXIT_FAILED : cli_exit_for(rc);
    } else {
        rc = EXIT_OK;
    }
out:
    kq_producer_free(prod);
    if (tr_open)
        transport_release(&tr);
    setup_release(&s);
    return rc;
}
