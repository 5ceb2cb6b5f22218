/*
 * setup: what every command that reads a configuration does first, the
 * same way: parse the common options (--config, -X key=value, --log-level),
 * load defaults < file < environment < command line, resolve secrets, check
 * what the command needs, and open the logger. Errors are printed here with
 * the field's JSON path and give EXIT_USAGE.
 */
#ifndef ODOOSYNC_SETUP_H
#define ODOOSYNC_SETUP_H

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

/* Load and check; returns 0 or an exit code (message already printed). need: CFG_NEED_*. */
int setup_load(struct setup *s, unsigned need, const char *component);
void setup_release(struct setup *s);

#endif
