/*
 * cmd_version: prints odoosync's version and those of the libraries it
 * was linked with, for bug reports.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <libxml/xmlversion.h>
#include <stdio.h>

#include "cli.h"
#include "cmds.h"

#include "banned.h"

static void version_usage(FILE *out)
{
    fprintf(out, "usage: odoosync version\n\n"
                 "Print odoosync's version and those of the libraries it was linked with\n"
                 "(librdkafka, libcurl, cJSON, hiredis, libxml2), for bug reports.\n"
                 "odoosync --version prints odoosync's version alone.\n\n"
                 "exit: 0\n");
}

int cmd_version(int argc, char **argv, const volatile sig_atomic_t *stop)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt;

    (void)stop;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            version_usage(stdout);
            return EXIT_OK;
        }
        version_usage(stderr);
        return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "odoosync version: unexpected argument '%s'\n", argv[optind]);
        version_usage(stderr);
        return EXIT_USAGE;
    }
    printf("odoosync %s\n", ODOOSYNC_VERSION);
    printf("  librdkafka %s\n", rd_kafka_version_str());
    printf("  %s\n", curl_version());
    printf("  cJSON %s\n", cJSON_Version());
    printf("  hiredis %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    printf("  libxml2 %s\n", LIBXML_DOTTED_VERSION);
    return EXIT_OK;
}
