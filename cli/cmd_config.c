/*
 * cmd_config: `odoosync config keys` and `odoosync config dump`, the
 * configuration as odoosync sees it.
 *
 *   keys  every key (common/cfg_keys.c's tables through cfg_describe): what it
 *         expects, its default, its environment variable and a line of help;
 *         needs no configuration file.
 *   dump  the effective configuration, after every layer (defaults < file <
 *         environment < -X), one "key = value" line per key (cfg_dump). A
 *         secret is never printed: only its sources (*_env, *_file) and
 *         where it resolved from, "odoo.password = (set, from $ODOO_PASSWORD)".
 *         The file is loaded and checked like every command does (setup_load),
 *         so an unknown key or a named secret source that is missing is the
 *         same error, exit 2.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cfg.h"
#include "cli.h"
#include "cmds.h"
#include "setup.h"

#include "banned.h"

static void config_usage(FILE *out)
{
    fprintf(out, "usage: odoosync config keys\n"
                 "       odoosync config dump [options]\n\n"
                 "keys  print every configuration key: what it expects, its default, its\n"
                 "      environment variable (ODOOSYNC_<SECTION>_<KEY>) and what it does\n"
                 "dump  print the effective configuration (defaults < file < environment < -X),\n"
                 "      one \"key = value\" line per key; a secret is never printed, only its\n"
                 "      source: \"odoo.password = (set, from $ODOO_PASSWORD)\" or \"(unset)\"\n\n"
                 "options of dump:\n" SETUP_HELP "\n"
                 "exit: 0 printed, 2 usage or an invalid configuration (the key is named)\n");
}

static int print_buf(struct buf *b, int rc)
{
    if (rc < 0) {
        fprintf(stderr, "odoosync config: out of memory\n");
        return EXIT_INTERNAL;
    }
    fputs(buf_str(b), stdout);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
}

static int config_keys(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct buf out;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        config_usage(opt == 'h' ? stdout : stderr);
        return opt == 'h' ? EXIT_OK : EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "odoosync config keys: unexpected argument '%s'\n", argv[optind]);
        config_usage(stderr);
        return EXIT_USAGE;
    }
    buf_init(&out, 1 << 20);
    rc = print_buf(&out, cfg_describe(&out));
    buf_release(&out);
    return rc;
}

static int config_dump(int argc, char **argv)
{
    static const struct option longopts[] = {SETUP_LONGOPTS, {NULL, 0, NULL, 0}};
    struct setup s;
    struct buf out;
    int opt, rc;

    setup_init(&s);
    buf_init(&out, 1 << 24);
    optind = 1;
    while ((opt = getopt_long(argc, argv, SETUP_SHORTOPTS, longopts, NULL)) != -1) {
        if (opt == 'h') {
            config_usage(stdout);
            rc = EXIT_OK;
            goto out;
        }
        if (setup_option(&s, opt, optarg) != 1) {
            config_usage(stderr);
            rc = EXIT_USAGE;
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "odoosync config dump: unexpected argument '%s'\n", argv[optind]);
        config_usage(stderr);
        rc = EXIT_USAGE;
        goto out;
    }
    rc = setup_load(&s, 0, "config");
    if (rc)
        goto out;
    rc = print_buf(&out, cfg_dump(&s.cfg, &out));
out:
    buf_release(&out);
    setup_release(&s);
    return rc;
}

int cmd_config(int argc, char **argv, const volatile sig_atomic_t *stop)
{
    (void)stop;
    if (argc < 2) {
        fprintf(stderr, "odoosync config: say keys or dump\n");
        config_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "keys") == 0)
        return config_keys(argc - 1, argv + 1);
    if (strcmp(argv[1], "dump") == 0)
        return config_dump(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        config_usage(stdout);
        return EXIT_OK;
    }
    fprintf(stderr, "odoosync config: unknown subcommand or option '%s'\n", argv[1]);
    config_usage(stderr);
    return EXIT_USAGE;
}
