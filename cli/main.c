/*
 * main: odoosync's entry point. It only dispatches to a subcommand; all
 * work is done in cli/cmd_*.c through the common/, producer/ and worker/
 * libraries. Global library initialisation (curl, libxml2) happens here,
 * once, before any thread starts.
 */
#include <curl/curl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmds.h"
#include "setup.h"

#include "banned.h"

static const struct cli_cmd commands[] = {CLI_COMMANDS};

/* The one mutable global: the number of the stop signal received (0: none). Commands
 * read it through the pointer they are handed; the handler only sets it. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: odoosync <command> [options]\n\n"
                 "Keeps Odoo attachments and a Nextcloud / ownCloud / WebDAV tree in step.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'odoosync <command> --help' for the options of a command.\n\n"
                 "exit codes:\n"
                 "  0  done           1  some jobs or checks failed\n"
                 "  2  usage/config   3  a server is unreachable or refused us\n"
                 "  4  safety stop    5  internal error\n"
                 "  130/143  stopped by SIGINT/SIGTERM before it was done\n");
}

int main(int argc, char **argv)
{
    int rc;

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("odoosync %s\n", ODOOSYNC_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "odoosync: cannot initialise libcurl\n");
            return EXIT_INTERNAL;
        }
        xmlInitParser();
        if (commands[i].catch_stop)
            setup_stop_signals(on_stop);
        rc = commands[i].run(argc - 1, argv + 1, &stop_signal);
        if (rc == EXIT_STOPPED)
            rc = 128 + (stop_signal ? (int)stop_signal : SIGTERM);
        xmlCleanupParser();
        curl_global_cleanup();
        return rc;
    }
    fprintf(stderr, "odoosync: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
