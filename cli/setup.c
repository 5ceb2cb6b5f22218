/*
 * setup: see setup.h.
 */
#include "setup.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#include "banned.h"

void setup_init(struct setup *s)
{
    memset(s, 0, sizeof(*s));
}

int setup_option(struct setup *s, int opt, const char *arg)
{
    switch (opt) {
    case 'c':
        s->config_path = arg;
        return 1;
    case 'X':
        if (!strchr(arg, '=')) {
            fprintf(stderr, "odoosync: -X expects KEY=VALUE, got \"%s\"\n", arg);
            return -1;
        }
        if (s->nsets == SETUP_MAX_SETS) {
            fprintf(stderr, "odoosync: too many -X options (at most %d)\n", SETUP_MAX_SETS);
            return -1;
        }
        s->sets[s->nsets++] = arg;
        return 1;
    case 'L':
        if (log_level_parse(arg) < 0) {
            fprintf(stderr,
                    "odoosync: --log-level: expected error, warn, info or debug, got "
                    "\"%s\"\n",
                    arg);
            return -1;
        }
        s->log_level = arg;
        return 1;
    default:
        return 0;
    }
}

void setup_stop_signals(void (*fn)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void pass_loop_init(struct pass_loop *pl)
{
    memset(pl, 0, sizeof(*pl));
    pl->interval = 300;
}

int pass_loop_option(struct pass_loop *pl, int opt, const char *arg, const char *cmd)
{
    char *end = NULL;

    switch (opt) {
    case 'o':
        pl->once = 1;
        return 1;
    case 'F':
        pl->force_deletes = 1;
        return 1;
    case 'S':
        pl->full_scan = 1;
        return 1;
    case 'i':
        pl->interval = strtol(arg, &end, 10);
        if (!end || *end || pl->interval < 1 || pl->interval > 86400 * 7) {
            fprintf(stderr, "odoosync %s: --interval: expected 1..604800 seconds, got \"%s\"\n",
                    cmd, arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

int pass_loop_wait(const struct pass_loop *pl, const volatile sig_atomic_t *stop)
{
    for (long i = 0; i < pl->interval * 10 && !*stop; i++)
        usleep(100000);
    return *stop != 0;
}

int setup_load(struct setup *s, unsigned need, const char *component)
{
    struct err e = ERR_INIT;
    const char *path = s->config_path;
    char key[256];

    if (!path || !*path)
        path = getenv("ODOOSYNC_CONFIG");
    if (!path || !*path) {
        fprintf(stderr, "odoosync: no configuration: give --config FILE or set ODOOSYNC_CONFIG "
                        "(see examples/odoosync.example.json)\n");
        return EXIT_USAGE;
    }
    if (cfg_init(&s->cfg, &e) < 0) {
        fprintf(stderr, "odoosync: %s\n", e.msg);
        return EXIT_INTERNAL;
    }
    s->cfg_ready = 1;
    if (cfg_load(&s->cfg, path, &e) < 0 || cfg_apply_env(&s->cfg, NULL, &e) < 0)
        goto bad;
    for (int i = 0; i < s->nsets; i++) {
        const char *eq = strchr(s->sets[i], '=');
        size_t n = (size_t)(eq - s->sets[i]);

        if (n >= sizeof(key)) {
            err_set(&e, ERR_INVALID, "-X: key too long");
            goto bad;
        }
        memcpy(key, s->sets[i], n);
        key[n] = '\0';
        if (cfg_set(&s->cfg, key, eq + 1, &e) < 0)
            goto bad;
    }
    if (s->log_level && cfg_set(&s->cfg, "log.level", s->log_level, &e) < 0)
        goto bad;
    if (cfg_resolve_secrets(&s->cfg, &e) < 0 || cfg_require(&s->cfg, need, &e) < 0)
        goto bad;
    log_init(&s->log, stderr, s->cfg.log.level, (enum log_format)s->cfg.log.format, component);
    s->log_ready = 1;
    return 0;
bad:
    fprintf(stderr, "odoosync: %s\n", e.msg);
    return e.code == ERR_NOMEM ? EXIT_INTERNAL : EXIT_USAGE;
}

void setup_release(struct setup *s)
{
    if (s->log_ready)
        log_release(&s->log);
    if (s->cfg_ready)
        cfg_release(&s->cfg);
    s->log_ready = s->cfg_ready = 0;
}
