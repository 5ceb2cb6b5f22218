/*
 * cmd_version: prints odoosync's version and those of the libraries it
 * was linked with, for bug reports.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <libxml/xmlversion.h>
#include <stdio.h>

#include "cli.h"
#include "cmds.h"

#include "banned.h"

int cmd_version(int argc, char **argv, const volatile sig_atomic_t *stop)
{
    (void)stop;
    (void)argc;
    (void)argv;
    printf("odoosync %s\n", ODOOSYNC_VERSION);
    printf("  librdkafka %s\n", rd_kafka_version_str());
    printf("  %s\n", curl_version());
    printf("  cJSON %s\n", cJSON_Version());
    printf("  hiredis %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    printf("  libxml2 %s\n", LIBXML_DOTTED_VERSION);
    return EXIT_OK;
}
