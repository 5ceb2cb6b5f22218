/*
 * test_cfg: the configuration (common/cfg.c).
 *
 * - the commented example (examples/odoosync.example.json) loads and reads
 *   back as written;
 * - every file in tests/cfg/invalid/ fails, and the message holds the text
 *   given on its first line ("// expect: <text>"), which names the JSON path;
 * - layering: defaults < file < environment < cfg_set;
 * - secrets come from environment variables or files, never inline, and
 *   cfg_dump never shows them.
 * The source tree is found through ODOOSYNC_SOURCE_DIR (set by ctest).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "check.h"
#include "domain.h"

#include "banned.h"

/* An environment array for cfg_apply_env, built from literals. */
struct envset {
    char store[16][128];
    char *ptrs[17];
};

static char **envset_make(struct envset *es, ...)
{
    va_list ap;
    const char *v;
    size_t n = 0;

    va_start(ap, es);
    for (v = va_arg(ap, const char *); v && n < 16; v = va_arg(ap, const char *)) {
        snprintf(es->store[n], sizeof(es->store[n]), "%s", v);
        es->ptrs[n] = es->store[n];
        n++;
    }
    va_end(ap);
    es->ptrs[n] = NULL;
    return es->ptrs;
}

static const char *srcdir(void)
{
    const char *s = getenv("ODOOSYNC_SOURCE_DIR");
    return s ? s : ".";
}

static void test_defaults(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;

    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK(cc, c.odoo.url == NULL);
    CHECK_INT(cc, c.odoo.protocol, CFG_PROTO_AUTO);
    CHECK_INT(cc, c.odoo.timeout_ms, 30000);
    CHECK_INT(cc, c.odoo.watermark_overlap_s, 600);
    CHECK_STR(cc, c.cloud.root, "Odoo");
    CHECK_INT(cc, c.cloud.dialect, CFG_DIALECT_AUTO);
    CHECK_INT(cc, c.ntypes, 0);
    CHECK_INT(cc, c.standalone.enabled, 1);
    CHECK_STR(cc, c.standalone.folder, "Stand Alone Attachments");
    CHECK_INT(cc, c.unmatched.policy, CFG_UNMATCHED_ARCHIVE);
    CHECK_STR(cc, c.unmatched.folder, "Archive");
    CHECK(cc, c.safety.max_delete_share == 0.5);
    CHECK_STR(cc, c.kafka.topic_jobs, "odoosync.jobs");
    CHECK_STR(cc, c.kafka.topic_retry, "odoosync.retry");
    CHECK_STR(cc, c.kafka.topic_dlq, "odoosync.dlq");
    CHECK_STR(cc, c.kafka.topic_events, "odoosync.events");
    CHECK_STR(cc, c.kafka.group, "odoosync-workers");
    CHECK_INT(cc, c.redis.lock_ttl_ms, 30000);
    CHECK_INT(cc, c.worker.concurrency, 8);
    CHECK_INT(cc, c.worker.max_attempts, 5);
    CHECK_INT(cc, c.worker.backoff_ms, 1000);
    CHECK_INT(cc, c.worker.grace_ms, 30000);
    CHECK_STR(cc, c.state.file, ".odoosync-state.json");
    CHECK_INT(cc, c.log.level, 2); /* LOG_INFO */
    CHECK_INT(cc, c.log.format, 0);
    CHECK_STR(cc, c.metrics.listen, "");
    cfg_release(&c);
}

static void test_example(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;
    char path[1024];
    char *dom = NULL;

    snprintf(path, sizeof(path), "%s/examples/odoosync.example.json", srcdir());
    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_MSG(cc, cfg_load(&c, path, &e) == 0, "%s", e.msg);
    CHECK_STR(cc, c.odoo.url, "https://odoo.example.com");
    CHECK_STR(cc, c.odoo.database, "example");
    CHECK_STR(cc, c.odoo.api_key_env, "ODOO_API_KEY");
    CHECK_STR(cc, c.cloud.password_file, "/run/secrets/cloud-password");
    CHECK_INT(cc, c.cloud.dialect, CFG_DIALECT_NEXTCLOUD);
    CHECK_INT(cc, c.cloud.timeout_ms, 60000);
    CHECK_INT(cc, c.ntypes, 5);
    if (c.ntypes == 5) {
        CHECK_STR(cc, c.types[0].folder, "Customers");
        CHECK_STR(cc, c.types[1].folder, "Vendors");
        CHECK_STR(cc, c.types[2].model, "sale.order");
        CHECK_INT(cc, c.types[2].direction, CFG_DIR_BOTH);
        CHECK_STR(cc, c.types[4].folder, "Tasks");
        CHECK_INT(cc, c.types[4].enabled, 1);
        dom = cJSON_PrintUnformatted(c.types[2].domain_json);
        CHECK_STR(cc, dom, "[[\"state\",\"in\",[\"draft\",\"sent\"]]]");
        free(dom);
        dom = cJSON_PrintUnformatted(c.types[0].domain_json);
        CHECK_STR(cc, dom, "[[\"customer_rank\",\">\",0],[\"is_company\",\"=\",true]]");
        free(dom);
        CHECK(cc, cfg_type_by_folder(&c, "Orders") == &c.types[3]);
        CHECK(cc, cfg_type_by_folder(&c, "Nope") == NULL);
    }
    CHECK_INT(cc, c.kafka.nprops, 4);
    if (c.kafka.nprops == 4) {
        CHECK_STR(cc, c.kafka.props[0].name, "security.protocol");
        CHECK_STR(cc, c.kafka.props[0].value, "SASL_SSL");
    }
    CHECK_STR(cc, c.kafka.bootstrap, "kafka-0.kafka:9092,kafka-1.kafka:9092,kafka-2.kafka:9092");
    CHECK_STR(cc, c.redis.url, "redis://redis:6379/0");
    CHECK_INT(cc, c.worker.concurrency, 8);
    CHECK_INT(cc, c.documents.enabled, 0);
    CHECK_INT(cc, (int)c.documents.nmaps, 2);
    CHECK_STR(cc, c.documents.maps[1].odoo, "HR/Policies");
    CHECK_STR(cc, c.documents.maps[1].cloud, "Documents/Policies");
    CHECK_INT(cc, (int)c.documents.maps[1].direction, CFG_DIR_TO_CLOUD);
    cfg_release(&c);
}

/* The text after "// expect: " on the first line of a file. */
static int read_expect(const char *path, char *out, size_t outsz)
{
    FILE *f = fopen(path, "r");
    char line[512];
    size_t n;

    if (!f)
        return -1;
    if (!fgets(line, sizeof(line), f)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    if (strncmp(line, "// expect: ", 11) != 0)
        return -1;
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    snprintf(out, outsz, "%s", line + 11);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The unmatched policy: tests/cfg/valid/05_unmatched.json, and the layers above it. */
static void test_unmatched(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;
    char path[1200];

    snprintf(path, sizeof(path), "%s/tests/cfg/valid/05_unmatched.json", srcdir());
    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_MSG(cc, cfg_load(&c, path, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.unmatched.policy, CFG_UNMATCHED_KEEP);
    CHECK_STR(cc, c.unmatched.folder, "Old records");
    CHECK_MSG(cc, cfg_set(&c, "unmatched.policy", "archive", &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.unmatched.policy, CFG_UNMATCHED_ARCHIVE);
    cfg_release(&c);
}

static void test_documents(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;
    char path[1200], cloud[256];

    snprintf(path, sizeof(path), "%s/tests/cfg/valid/06_documents.json", srcdir());
    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_INT(cc, c.documents.enabled, 0);
    CHECK_STR(cc, c.documents.folder, "Documents");
    CHECK_MSG(cc, cfg_load(&c, path, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.documents.enabled, 1);
    CHECK_STR(cc, c.documents.folder, "Shared/Documents");
    CHECK_INT(cc, (int)c.documents.nmaps, 4);
    CHECK_INT(cc, c.documents.maps[0].sel, CFG_DOCS_PATH);
    CHECK_INT(cc, (int)c.documents.maps[0].direction, CFG_DIR_BOTH);
    CHECK_INT(cc, c.documents.maps[1].sel, CFG_DOCS_PATH);
    CHECK_INT(cc, (int)c.documents.maps[1].direction, CFG_DIR_FROM_CLOUD);
    CHECK_INT(cc, c.documents.maps[2].sel, CFG_DOCS_ID);
    CHECK_INT(cc, (int)c.documents.maps[2].id, 12);
    CHECK_STR(cc, c.documents.maps[2].odoo, "#12");
    CHECK_INT(cc, (int)c.documents.maps[2].direction, CFG_DIR_TO_CLOUD);
    CHECK_INT(cc, c.documents.maps[3].enabled, 0);
    /* cloud folders: the default under documents.folder, or the mapping's own */
    CHECK_INT(cc, cfg_docmap_cloud(&c, 0, NULL, cloud, sizeof(cloud), &e), 0);
    CHECK_STR(cc, cloud, "Shared/Documents/Finance");
    CHECK_INT(cc, cfg_docmap_cloud(&c, 1, NULL, cloud, sizeof(cloud), &e), 0);
    CHECK_STR(cc, cloud, "Contracts");
    CHECK_INT(cc, cfg_docmap_cloud(&c, 2, NULL, cloud, sizeof(cloud), &e), ERR_INVALID);
    CHECK_INT(cc, cfg_docmap_cloud(&c, 2, "Board", cloud, sizeof(cloud), &e), 0);
    CHECK_STR(cc, cloud, "Shared/Documents/Board");
    /* the command line layer, with the same rules */
    CHECK_MSG(cc, cfg_set(&c, "documents.mappings[2].cloud", "Board", &e) == 0, "%s", e.msg);
    CHECK_STR(cc, c.documents.maps[2].cloud, "Board");
    CHECK_INT(cc, cfg_set(&c, "documents.mappings[2].cloud", "contracts/x", &e), ERR_INVALID);
    CHECK_MSG(cc, strstr(e.msg, "are the same or one holds the other") != NULL, "%s", e.msg);
    /* a refused value stays set (cfg.h: the caller stops): put the good one back */
    CHECK_MSG(cc, cfg_set(&c, "documents.mappings[2].cloud", "Board", &e) == 0, "%s", e.msg);
    CHECK_INT(cc, cfg_set(&c, "documents.mappings[9].odoo", "x", &e), ERR_INVALID);
    CHECK_MSG(cc, strstr(e.msg, "there are 4 documents mappings") != NULL, "%s", e.msg);
    CHECK_INT(cc, cfg_set(&c, "documents.mappings[0].odoo", "#-1", &e), ERR_INVALID);
    CHECK_MSG(cc, cfg_set(&c, "documents.mappings[3].odoo", "*", &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.documents.maps[3].sel, CFG_DOCS_ALL);
    CHECK_INT(cc, cfg_set(&c, "documents.mappings[3].enabled", "true", &e), ERR_INVALID);
    CHECK_MSG(cc, strstr(e.msg, "cannot be combined") != NULL, "%s", e.msg);
    cfg_release(&c);
    /* enabled with no mapping: every folder under documents.folder */
    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_INT(cc, cfg_load_string(&c, "{\"documents\": {\"enabled\": true}}", "d.json", &e), 0);
    CHECK_INT(cc, (int)c.documents.nmaps, 0);
    CHECK_INT(cc, cfg_set(&c, "documents.folder", "Stand Alone Attachments", &e), ERR_INVALID);
    cfg_release(&c);
}

static void test_invalid(struct check_count *cc)
{
    char dir[1024], path[1400], want[512];
    char *names[200];
    size_t n = 0;
    DIR *d;
    struct dirent *de;

    snprintf(dir, sizeof(dir), "%s/tests/cfg/invalid", srcdir());
    d = opendir(dir);
    CHECK_MSG(cc, d != NULL, "cannot open %s", dir);
    if (!d)
        return;
    for (de = readdir(d); de && n < 200; de = readdir(d)) {
        size_t len = strlen(de->d_name);
        if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);
    CHECK_MSG(cc, n >= 15, "only %zu invalid configs", n);
    for (size_t i = 0; i < n; i++) {
        struct cfg c;
        struct err e = ERR_INIT;
        int rc;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        CHECK_MSG(cc, read_expect(path, want, sizeof(want)) == 0, "%s: no // expect: line",
                  names[i]);
        CHECK_INT(cc, cfg_init(&c, &e), 0);
        rc = cfg_load(&c, path, &e);
        CHECK_MSG(cc, rc == ERR_INVALID, "%s: rc %d (%s)", names[i], rc, e.msg);
        CHECK_MSG(cc, strstr(e.msg, want) != NULL, "%s:\n   got  %s\n   want %s", names[i], e.msg,
                  want);
        /* every message starts with the file it is about */
        CHECK_MSG(cc, strncmp(e.msg, path, strlen(path)) == 0, "%s: %s", names[i], e.msg);
        cfg_release(&c);
        free(names[i]);
    }
}

static void test_valid(struct check_count *cc)
{
    const char *names[] = {"01_empty.json", "02_local.json", "03_comments.json"};
    struct cfg c[3];
    char path[1200];

    for (size_t i = 0; i < 3; i++) {
        struct err e = ERR_INIT;
        snprintf(path, sizeof(path), "%s/tests/cfg/valid/%s", srcdir(), names[i]);
        CHECK_INT(cc, cfg_init(&c[i], &e), 0);
        CHECK_MSG(cc, cfg_load(&c[i], path, &e) == 0, "%s", e.msg);
    }
    CHECK(cc, c[0].odoo.url == NULL);
    CHECK_STR(cc, c[1].odoo.url, "http://127.0.0.1:8069");
    CHECK_INT(cc, c[1].odoo.protocol, CFG_PROTO_JSONRPC);
    CHECK_STR(cc, c[1].cloud.url, "http://127.0.0.1:8080/dav/");
    CHECK_STR(cc, c[1].cloud.root, "Shared/Odoo");
    CHECK_INT(cc, c[1].cloud.insecure, 1);
    CHECK_INT(cc, c[1].ntypes, 2);
    if (c[1].ntypes == 2) {
        char *d = cJSON_PrintUnformatted(c[1].types[0].domain_json);
        CHECK_STR(cc, c[1].types[0].folder, "Opportunités");
        CHECK_STR(cc, d,
                  "[\"|\",[\"type\",\"=\",\"opportunity\"],[\"stage_id.name\",\"ilike\","
                  "\"gagné\"]]");
        free(d);
        CHECK_INT(cc, c[1].types[0].direction, CFG_DIR_TO_CLOUD);
        CHECK_INT(cc, c[1].types[1].direction, CFG_DIR_FROM_CLOUD);
        CHECK_INT(cc, c[1].types[1].enabled, 0);
        CHECK(cc, cfg_type_by_folder(&c[1], "Employees") == NULL); /* disabled */
    }
    CHECK_INT(cc, c[1].standalone.enabled, 0);
    CHECK(cc, c[1].safety.max_delete_share == 0);
    CHECK_INT(cc, c[1].log.format, 1); /* LOG_FMT_JSON */
    CHECK_STR(cc, c[2].state.file, "/var/lib/odoosync//state /* x */ // y.json");
    CHECK_STR(cc, c[2].kafka.bootstrap, "PLAINTEXT://k1:9092,k2:9093");
    CHECK_STR(cc, c[2].kafka.topic_jobs, "a.jobs");
    CHECK_STR(cc, c[2].kafka.topic_dlq, "odoosync.dlq");
    CHECK_INT(cc, c[2].kafka.nprops, 1);
    if (c[2].kafka.nprops == 1)
        CHECK_STR(cc, c[2].kafka.props[0].value, "odoosync \"quoted\" // not a comment");
    for (size_t i = 0; i < 3; i++)
        cfg_release(&c[i]);
}

static void test_layers(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;
    struct envset es_env;
    char **env = envset_make(&es_env, "ODOOSYNC_WORKER_CONCURRENCY=16",
                             "ODOOSYNC_ODOO_URL=https://env.example.com/",
                             "ODOOSYNC_KAFKA_TOPICS_JOBS=t.jobs", "ODOOSYNC_CLOUD_INSECURE=true",
                             "ODOOSYNC_SAFETY_MAX_DELETE_SHARE=0.25", "ODOOSYNC_LOG_LEVEL=debug",
                             "ODOOSYNC_STACK_ENV=/somewhere/env", /* not a key: ignored */
                             "PATH=/usr/bin", (const char *)NULL);
    struct envset es_bad_env;
    char **bad_env =
        envset_make(&es_bad_env, "ODOOSYNC_WORKER_CONCURRENCY=many", (const char *)NULL);
    const char *json =
        "{ // a comment\n"
        "  \"odoo\": {\"url\": \"https://file.example.com\", \"database\": \"db\"},\n"
        "  /* block\n comment */ \"worker\": {\"concurrency\": 4, \"grace_ms\": 5},\n"
        "  \"state\": {\"file\": \"/tmp/x//y /* not a comment */\"},\n"
        "  \"types\": [{\"folder\": \"A\", \"model\": \"res.partner\"},\n"
        "            {\"folder\": \"B\", \"model\": \"sale.order\", \"domain\": "
        "\"[('state', '=', 'sale')]\"}],\n"
        "  \"kafka\": {\"properties\": {\"linger.ms\": \"5\"}}\n"
        "}\n";

    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_MSG(cc, cfg_load_string(&c, json, "t.json", &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.worker.concurrency, 4);
    CHECK_INT(cc, c.worker.grace_ms, 5);
    CHECK_STR(cc, c.odoo.url, "https://file.example.com");
    CHECK_STR(cc, c.state.file, "/tmp/x//y /* not a comment */");
    CHECK_INT(cc, c.ntypes, 2);
    CHECK_STR(cc, c.types[0].domain, "[]");
    CHECK_INT(cc, cJSON_GetArraySize(c.types[0].domain_json), 0);

    /* environment beats the file */
    CHECK_MSG(cc, cfg_apply_env(&c, env, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.worker.concurrency, 16);
    CHECK_STR(cc, c.odoo.url, "https://env.example.com"); /* trailing '/' dropped */
    CHECK_STR(cc, c.odoo.database, "db");                 /* untouched */
    CHECK_STR(cc, c.kafka.topic_jobs, "t.jobs");
    CHECK_INT(cc, c.cloud.insecure, 1);
    CHECK(cc, c.safety.max_delete_share == 0.25);
    CHECK_INT(cc, c.log.level, 3);

    /* the command line beats the environment */
    CHECK_MSG(cc, cfg_set(&c, "worker.concurrency", "2", &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.worker.concurrency, 2);
    CHECK_MSG(cc, cfg_set(&c, "kafka.properties.linger.ms", "50", &e) == 0, "%s", e.msg);
    CHECK_MSG(cc, cfg_set(&c, "kafka.properties.acks", "all", &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.kafka.nprops, 2);
    CHECK_STR(cc, c.kafka.props[0].value, "50");
    CHECK_STR(cc, c.kafka.props[1].name, "acks");
    CHECK_MSG(cc, cfg_set(&c, "types[1].enabled", "false", &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.types[1].enabled, 0);
    CHECK_MSG(cc, cfg_set(&c, "types[0].domain", "[('x', '=', 1)]", &e) == 0, "%s", e.msg);
    CHECK_INT(cc, cJSON_GetArraySize(c.types[0].domain_json), 1);

    /* errors name the key and what was expected */
    CHECK_INT(cc, cfg_set(&c, "worker.concurrency", "0", &e), ERR_INVALID);
    CHECK_STR(cc, e.msg, "worker.concurrency: expected an integer in 1..256, got \"0\"");
    CHECK_INT(cc, c.worker.concurrency, 2);
    CHECK_INT(cc, cfg_set(&c, "odoo.watermark_overlap_s", "0", &e), ERR_INVALID);
    CHECK_STR(cc, e.msg, "odoo.watermark_overlap_s: expected an integer in 1..86400, got \"0\"");
    CHECK_MSG(cc, cfg_set(&c, "odoo.watermark_overlap_s", "60", &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.odoo.watermark_overlap_s, 60);
    CHECK_INT(cc, cfg_set(&c, "worker.speed", "1", &e), ERR_INVALID);
    CHECK_STR(cc, e.msg, "worker.speed: unknown key");
    CHECK_INT(cc, cfg_set(&c, "odoo.password", "x", &e), ERR_INVALID);
    CHECK(cc, strstr(e.msg, "secrets are not accepted") != NULL);
    CHECK_INT(cc, cfg_set(&c, "kafka.properties.sasl.password", "x", &e), ERR_INVALID);
    CHECK_INT(cc, cfg_set(&c, "kafka.properties.bootstrap.servers", "h:1", &e), ERR_INVALID);
    CHECK(cc, strstr(e.msg, "kafka.bootstrap") != NULL);
    CHECK_INT(cc, cfg_set(&c, "types[5].enabled", "true", &e), ERR_INVALID);
    CHECK_INT(cc, cfg_set(&c, "types[0].domain", "[('x' '=', 1)]", &e), ERR_INVALID);
    CHECK_MSG(cc, strstr(e.msg, "types[0].domain: offset") != NULL, "%s", e.msg);
    CHECK_INT(cc, cfg_set(&c, "types[1].folder", "a", &e), ERR_INVALID);
    CHECK(cc, strstr(e.msg, "duplicate folder") != NULL);
    CHECK_INT(cc, cfg_set(&c, "log.format", "xml", &e), ERR_INVALID);
    CHECK_STR(cc, e.msg, "log.format: expected one of \"auto\", \"json\", \"human\", got \"xml\"");

    CHECK_INT(cc, cfg_apply_env(&c, bad_env, &e), ERR_INVALID);
    CHECK_STR(cc, e.msg,
              "environment: ODOOSYNC_WORKER_CONCURRENCY: expected an integer in "
              "1..256, got \"many\"");
    cfg_release(&c);

    /* a second file layers over the first; its types replace the first's */
    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_INT(cc, cfg_load_string(&c, json, "a.json", &e), 0);
    CHECK_MSG(cc,
              cfg_load_string(&c,
                              "{\"types\": [{\"folder\": \"Z\", \"model\": \"x.y\"}], "
                              "\"worker\": {\"concurrency\": 3}}",
                              "b.json", &e) == 0,
              "%s", e.msg);
    CHECK_INT(cc, c.ntypes, 1);
    CHECK_STR(cc, c.types[0].folder, "Z");
    CHECK_INT(cc, c.worker.concurrency, 3);
    CHECK_INT(cc, c.worker.grace_ms, 5);
    cfg_release(&c);
}

static void test_secrets(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;
    struct buf out;
    char tmpl[] = "/tmp/odoosync-test-cfg-XXXXXX";
    char json[512];
    int fd = mkstemp(tmpl);
    struct envset es_env;
    char **env =
        envset_make(&es_env, "MY_ODOO_PW=s3cret-odoo", "ODOOSYNC_REDIS_PASSWORD=s3cret-redis",
                    "ODOOSYNC_ODOO_API_KEY=s3cret-key", (const char *)NULL);
    struct envset es_env2;
    char **env2 = envset_make(&es_env2, "ODOOSYNC_CLOUD_PASSWORD_ENV=CLOUD_PW",
                              "CLOUD_PW=s3cret-env-cloud", (const char *)NULL);
    struct envset es_env3;
    char **env3 = envset_make(&es_env3, (const char *)NULL);

    CHECK(cc, fd >= 0);
    if (fd < 0)
        return;
    CHECK_INT(cc, write(fd, "s3cret-cloud\n", 13), 13);
    close(fd);
    snprintf(json, sizeof(json),
             "{\"odoo\": {\"url\": \"http://o\", \"database\": \"d\", \"login\": \"admin\", "
             "\"password_env\": \"MY_ODOO_PW\"},"
             " \"cloud\": {\"url\": \"http://c/dav/\", \"user\": \"u\", \"password_file\": "
             "\"%s\"}}",
             tmpl);

    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_MSG(cc, cfg_load_string(&c, json, "s.json", &e) == 0, "%s", e.msg);
    /* before resolving, the credential checks fail */
    CHECK_INT(cc, cfg_require(&c, CFG_NEED_ODOO, &e), ERR_INVALID);
    CHECK_INT(cc, cfg_apply_env(&c, env, &e), 0);
    CHECK_MSG(cc, cfg_resolve_secrets(&c, &e) == 0, "%s", e.msg);
    CHECK_STR(cc, c.odoo.password, "s3cret-odoo");
    CHECK_STR(cc, c.odoo.api_key, "s3cret-key");     /* fallback variable */
    CHECK_STR(cc, c.cloud.password, "s3cret-cloud"); /* newline stripped */
    CHECK_STR(cc, c.redis.password, "s3cret-redis"); /* fallback variable */
    CHECK(cc, c.kafka.password == NULL);
    CHECK_MSG(cc, cfg_require(&c, CFG_NEED_ODOO | CFG_NEED_CLOUD, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, cfg_require(&c, CFG_NEED_KAFKA, &e), ERR_INVALID);
    CHECK(cc, strstr(e.msg, "kafka.bootstrap") != NULL);
    CHECK_INT(cc, cfg_require(&c, CFG_NEED_TYPES, &e), ERR_INVALID);

    /* the dump shows the sources and hides the secrets */
    buf_init(&out, 1 << 20);
    CHECK_INT(cc, cfg_dump(&c, &out), 0);
    CHECK(cc, strstr(buf_str(&out), "s3cret") == NULL);
    CHECK(cc, strstr(buf_str(&out), "odoo.password = (set, from $MY_ODOO_PW)\n") != NULL);
    CHECK(cc, strstr(buf_str(&out), "odoo.api_key = (set, from $ODOOSYNC_ODOO_API_KEY)\n") != NULL);
    CHECK(cc, strstr(buf_str(&out),
                     "cloud.password = (set, from the file cloud.password_file)\n") != NULL);
    CHECK(cc, strstr(buf_str(&out), "kafka.password = (unset)\n") != NULL);
    CHECK(cc, strstr(buf_str(&out), "odoo.password_env = \"MY_ODOO_PW\"\n") != NULL);
    CHECK(cc, strstr(buf_str(&out), "worker.concurrency = 8\n") != NULL);
    CHECK(cc, strstr(buf_str(&out), "cloud.dialect = \"auto\"\n") != NULL);
    CHECK(cc, strstr(buf_str(&out), "safety.max_delete_share = 0.5\n") != NULL);
    buf_release(&out);

    /* a later layer naming the env source replaces the file source */
    CHECK_INT(cc, cfg_apply_env(&c, env2, &e), 0);
    CHECK(cc, c.cloud.password_file == NULL);
    CHECK_STR(cc, c.cloud.password_env, "CLOUD_PW");
    /* env2 lacks MY_ODOO_PW now: a named source that is missing is an error */
    CHECK_INT(cc, cfg_resolve_secrets(&c, &e), ERR_INVALID);
    CHECK_STR(cc, e.msg, "odoo.password_env: the environment variable \"MY_ODOO_PW\" is not set");
    CHECK_INT(cc, cfg_set(&c, "odoo.password_env", "CLOUD_PW", &e), 0);
    CHECK_MSG(cc, cfg_resolve_secrets(&c, &e) == 0, "%s", e.msg);
    CHECK_STR(cc, c.cloud.password, "s3cret-env-cloud");
    CHECK(cc, c.redis.password == NULL); /* not in env2 */

    /* a missing or empty secret file */
    CHECK_INT(cc, cfg_set(&c, "redis.password_file", "/nonexistent/odoosync-pw", &e), 0);
    CHECK_INT(cc, cfg_resolve_secrets(&c, &e), ERR_INVALID);
    CHECK(cc, strncmp(e.msg, "redis.password_file: cannot open", 32) == 0);
    fd = open(tmpl, O_WRONLY | O_TRUNC);
    if (fd >= 0) {
        CHECK_INT(cc, write(fd, "\n", 1), 1);
        close(fd);
    }
    CHECK_INT(cc, cfg_set(&c, "redis.password_file", tmpl, &e), 0);
    CHECK_INT(cc, cfg_resolve_secrets(&c, &e), ERR_INVALID);
    CHECK(cc, strstr(e.msg, "is empty") != NULL);
    CHECK_INT(cc, cfg_apply_env(&c, env3, &e), 0);
    cfg_release(&c);
    unlink(tmpl);
}

static void test_misc(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;
    struct buf out;

    buf_init(&out, 1 << 20);
    CHECK_INT(cc, cfg_describe(&out), 0);
    CHECK(cc, strstr(buf_str(&out), "ODOOSYNC_WORKER_CONCURRENCY") != NULL);
    CHECK(cc, strstr(buf_str(&out), "an integer in 1..256") != NULL);
    buf_release(&out);

    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_INT(cc, cfg_load(&c, "/nonexistent/odoosync.json", &e), ERR_IO);
    CHECK_INT(cc, cfg_load_string(&c, "", "empty.json", &e), ERR_INVALID);
    CHECK(cc, strstr(e.msg, "empty.json:1:1: invalid JSON") != NULL);
    CHECK_INT(cc, cfg_load_string(&c, "{}", "empty.json", &e), 0);
    CHECK_INT(cc, cfg_load_string(&c, "{\"$schema\": \"x\"}", "s.json", &e), 0);
    CHECK_INT(cc,
              cfg_load_string(&c, "{\"metrics\": {\"listen\": \"127.0.0.1:9464\"}}", "m.json", &e),
              0);
    CHECK_STR(cc, c.metrics.listen, "127.0.0.1:9464");
    CHECK_INT(cc, cfg_load_string(&c, "{\"cloud\": {\"root\": \"Shared/Odoo\"}}", "r.json", &e), 0);
    CHECK_STR(cc, c.cloud.root, "Shared/Odoo");
    CHECK_INT(cc, cfg_load_string(&c, "{\"cloud\": {\"root\": \"../x\"}}", "r.json", &e),
              ERR_INVALID);
    CHECK_STR(cc, cfg_direction_name(CFG_DIR_FROM_CLOUD), "from-cloud");
    CHECK_STR(cc, cfg_protocol_name(CFG_PROTO_JSON2), "json2");
    CHECK_STR(cc, cfg_dialect_name(CFG_DIALECT_OWNCLOUD), "owncloud");
    cfg_release(&c);
    cfg_release(&c); /* twice is harmless */
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_defaults(&cc);
    test_example(&cc);
    test_invalid(&cc);
    test_unmatched(&cc);
    test_documents(&cc);
    test_valid(&cc);
    test_layers(&cc);
    test_secrets(&cc);
    test_misc(&cc);
    return check_done(&cc);
}
