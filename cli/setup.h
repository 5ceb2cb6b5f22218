/*
 * setup: what every command that reads a configuration does first, the
 * same way: parse the common options (--config, -X key=value, --log-level),
 * load defaults < file < environment < command line, resolve secrets, check
 * what the command needs, and open the logger. Errors are printed here with
 * the field's JSON path and give EXIT_USAGE.
 */
#ifndef ODOOSYNC_SETUP_H
#define ODOOSYNC_SETUP_H

#include <signal.h>
#include <stdio.h>

#include "cfg.h"
#include "log.h"

#define SETUP_MAX_SETS 64

struct setup {
    struct cfg cfg;
    struct log log;
    const char *config_path;
    const char *sets[SETUP_MAX_SETS]; /* "key=value" from -X, borrowed from argv */
    int nsets;
    const char *log_level; /* --log-level, or NULL */
    int cfg_ready, log_ready;
};

void setup_init(struct setup *s);

/*
 * Take a common option if opt is one (returns 1), 0 if not, or -1 on a bad
 * value (message printed). opt is the getopt character: 'c' --config, 'X', 'L'.
 */
int setup_option(struct setup *s, int opt, const char *arg);

/* The getopt_long entries of the common options, and their help text. */
#define SETUP_LONGOPTS                                                                             \
    {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 'X'},               \
        {"log-level", required_argument, NULL, 'L'},                                               \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }
#define SETUP_SHORTOPTS "c:X:L:h"
#define SETUP_HELP                                                                                 \
    "  -c, --config FILE     configuration file (JSON, comments allowed);\n"                       \
    "                        default: $ODOOSYNC_CONFIG\n"                                          \
    "  -X, --set KEY=VALUE   override one configuration key, e.g. -X worker.concurrency=4\n"       \
    "                        (kafka.properties.NAME=VALUE passes NAME to librdkafka)\n"            \
    "  -L, --log-level LVL   error, warn, info (default) or debug\n"                               \
    "  -h, --help            this help\n"

/*
 * The options of the commands that run passes (run, produce): --once, --interval,
 * --force-deletes, --full-scan, and the wait between passes.
 */
struct pass_loop {
    int once;
    int force_deletes;
    int full_scan;
    long interval; /* seconds, default 300 */
};

#define PASS_LOOP_LONGOPTS                                                                         \
    {"once", no_argument, NULL, 'o'}, {"interval", required_argument, NULL, 'i'},                  \
        {"force-deletes", no_argument, NULL, 'F'},                                                 \
    {                                                                                              \
        "full-scan", no_argument, NULL, 'S'                                                        \
    }

void pass_loop_init(struct pass_loop *pl);
/* Take a pass-loop option (1), not one (0), or a bad value (-1, message printed). */
int pass_loop_option(struct pass_loop *pl, int opt, const char *arg, const char *cmd);
/* Wait the interval in 100 ms steps; 1 when *stop became set (stop now), else 0. */
int pass_loop_wait(const struct pass_loop *pl, const volatile sig_atomic_t *stop);

/* SIGINT and SIGTERM call fn (which only sets its command's stop flag). */
void setup_stop_signals(void (*fn)(int));

/* Load and check; returns 0 or an exit code (message already printed). need: CFG_NEED_*. */
int setup_load(struct setup *s, unsigned need, const char *component);
void setup_release(struct setup *s);

#endif
