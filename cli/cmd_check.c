/*
 * cmd_check: `odoosync check`, connects to each configured part and prints
 * one line per part (and one per document type): Odoo (version, protocol,
 * user, latency, each type's domain tried with search_count), Odoo's Documents app
 * when documents.enabled (its shape, each mapping's folder: probe_docs.c), the cloud
 * (dialect, latency, can it create and delete a folder under the root),
 * then Kafka and Redis when configured (kafka.bootstrap / redis.url set).
 *
 * Every part is tried even after a failure, so one run shows everything;
 * the exit code and the last line name the first part that failed:
 * EXIT_CONNECT (3) when a server is unreachable or refuses the credentials,
 * EXIT_FAILED (1) when Odoo refuses a domain or the cloud refuses a write.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "probe.h"
#include "setup.h"

#include "banned.h"

static void check_usage(FILE *out)
{
    fprintf(out, "usage: odoosync check [options]\n\n"
                 "Connect to Odoo, the cloud, and Kafka and Redis when configured; print one\n"
                 "line per part (and per document type); change nothing but a temporary folder.\n\n"
                 "options:\n" SETUP_HELP "\n"
                 "exit: 0 all reachable, 2 config, 3 a part unreachable, not what it should be\n"
                 "      or refusing us, 4 Odoo refuses a type (model, domain), 130/143 stopped\n");
}

struct check_state {
    int rc;
    char first[64];
    char why[ERR_MSG_MAX];
};

static void check_part(struct check_state *cs, const char *part, int prc, struct buf *line,
                       const struct err *e)
{
    /* a type's failure has its "type FAIL" line in line already; a refused domain is Odoo
     * answering (4), a type not checked (no answer in time, credentials) is the part (3) */
    int type = strcmp(part, "odoo") == 0 && strncmp(e->msg, "type \"", 6) == 0;
    int domain = type && e->code == ERR_INVALID;
    /* a Documents mapping's failure has its "map FAIL" line likewise */
    int shown =
        type || (strcmp(part, "docs") == 0 && strncmp(e->msg, "documents.mappings[", 19) == 0);

    if (line->len)
        printf("%s\n", buf_str(line));
    if (prc < 0) {
        if (!shown)
            printf("%-6s FAIL  %s\n", part, e->msg);
        if (!cs->rc) {
            /* the same codes as every command (README: "Faults and exit codes"); a type
             * Odoo refuses is an incomplete scan for run, plan and produce: 4 */
            cs->rc = domain ? EXIT_SAFETY : cli_exit_for(prc);
            snprintf(cs->first, sizeof(cs->first), "%s", domain ? "odoo domain" : part);
            snprintf(cs->why, sizeof(cs->why), "%s", e->msg);
        }
    }
    fflush(stdout);
    buf_reset(line);
}

int cmd_check(int argc, char **argv, const volatile sig_atomic_t *stop)
{
    static const struct option longopts[] = {SETUP_LONGOPTS, {NULL, 0, NULL, 0}};
    struct setup s;
    struct check_state cs;
    struct buf line;
    struct err e = ERR_INIT;
    int opt, rc, prc;

    setup_init(&s);
    memset(&cs, 0, sizeof(cs));
    buf_init(&line, 1 << 22); /* up to 1000 types of a line each (probe_odoo) */
    optind = 1;
    while ((opt = getopt_long(argc, argv, SETUP_SHORTOPTS, longopts, NULL)) != -1) {
        if (opt == 'h') {
            check_usage(stdout);
            rc = EXIT_OK;
            goto out;
        }
        if (setup_option(&s, opt, optarg) != 1) {
            check_usage(stderr);
            rc = EXIT_USAGE;
            goto out;
        }
    }
    rc = setup_load(&s, CFG_NEED_ODOO | CFG_NEED_CLOUD, "check");
    if (rc)
        goto out;

    prc = probe_odoo(&s.cfg, &s.log, 0, stop, &line, &e);
    check_part(&cs, "odoo", prc, &line, &e);
    err_clear(&e);
    if (*stop)
        goto stopped;
    if (s.cfg.documents.enabled) {
        prc = probe_documents(&s.cfg, &s.log, stop, &line, &e);
        check_part(&cs, "docs", prc, &line, &e);
        err_clear(&e);
        if (*stop)
            goto stopped;
    }
    prc = probe_cloud(&s.cfg, &s.log, 0, stop, &line, &e);
    check_part(&cs, "cloud", prc, &line, &e);
    err_clear(&e);
    if (*stop)
        goto stopped;
    if (s.cfg.kafka.bootstrap && *s.cfg.kafka.bootstrap) {
        prc = probe_kafka(&s.cfg, &s.log, &line, &e);
        check_part(&cs, "kafka", prc, &line, &e);
        err_clear(&e);
    }
    if (s.cfg.redis.url && *s.cfg.redis.url) {
        prc = probe_redis(&s.cfg, &s.log, &line, &e);
        check_part(&cs, "redis", prc, &line, &e);
        err_clear(&e);
    }
    if (*stop) {
    stopped:
        printf("check: stopped\n");
        rc = EXIT_STOPPED;
    } else if (cs.rc) {
        printf("check: failed: %s: %s\n", cs.first, cs.why);
        fprintf(stderr, "odoosync check: %s failed: %s\n", cs.first, cs.why);
        rc = cs.rc;
    } else {
        printf("check: ok\n");
        rc = EXIT_OK;
    }
out:
    buf_release(&line);
    setup_release(&s);
    return rc;
}
