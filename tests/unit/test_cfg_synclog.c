/*
 * test_cfg_synclog: the sync_log section of the configuration (common/cfg.c),
 * which turns on the sync log's Odoo sink (cli/synclog_odoo.h):
 * - defaults: off, batches of 100, 2 s, at most 10000 held;
 * - tests/cfg/valid/04_sync_log.json reads back as written;
 * - every layer reaches it (file < ODOOSYNC_SYNC_LOG_* < cfg_set) and bad
 *   values are refused with the key and the expected range;
 * - cfg_dump and cfg_describe list the keys.
 * (tests/cfg/invalid/3[1-5]_sync_log_*.json are checked by test_cfg.c, and
 * by cfg.schema against schemas/config.schema.json.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "check.h"

#include "banned.h"

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
    CHECK_INT(cc, c.sync_log.odoo, 0);
    CHECK_INT(cc, c.sync_log.odoo_batch, 100);
    CHECK_INT(cc, c.sync_log.odoo_flush_ms, 2000);
    CHECK_INT(cc, c.sync_log.odoo_max_pending, 10000);
    cfg_release(&c);
}

static void test_file(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;
    char path[1200];

    snprintf(path, sizeof(path), "%s/tests/cfg/valid/04_sync_log.json", srcdir());
    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_MSG(cc, cfg_load(&c, path, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.sync_log.odoo, 1);
    CHECK_INT(cc, c.sync_log.odoo_batch, 20);
    CHECK_INT(cc, c.sync_log.odoo_flush_ms, 500);
    CHECK_INT(cc, c.sync_log.odoo_max_pending, 1000);
    cfg_release(&c);

    /* the example ships with the sink off */
    snprintf(path, sizeof(path), "%s/examples/odoosync.example.json", srcdir());
    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_MSG(cc, cfg_load(&c, path, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, c.sync_log.odoo, 0);
    CHECK_INT(cc, c.sync_log.odoo_batch, 100);
    cfg_release(&c);
}

static void test_layers(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;
    char env1[] = "ODOOSYNC_SYNC_LOG_ODOO=true";
    char env2[] = "ODOOSYNC_SYNC_LOG_ODOO_BATCH=7";
    char env3[] = "ODOOSYNC_SYNC_LOG_ODOO_FLUSH_MS=nope";
    char *env_ok[] = {env1, env2, NULL};
    char *env_bad[] = {env3, NULL};

    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_INT(cc,
              cfg_load_string(&c, "{\"sync_log\": {\"odoo_batch\": 50, \"odoo_max_pending\": 10}}",
                              "t.json", &e),
              0);
    CHECK_INT(cc, c.sync_log.odoo_batch, 50);
    CHECK_INT(cc, c.sync_log.odoo_max_pending, 10);
    CHECK_INT(cc, cfg_apply_env(&c, env_ok, &e), 0);
    CHECK_INT(cc, c.sync_log.odoo, 1);
    CHECK_INT(cc, c.sync_log.odoo_batch, 7);
    CHECK_INT(cc, cfg_set(&c, "sync_log.odoo", "off", &e), 0);
    CHECK_INT(cc, c.sync_log.odoo, 0);
    CHECK_INT(cc, cfg_set(&c, "sync_log.odoo_flush_ms", "250", &e), 0);
    CHECK_INT(cc, c.sync_log.odoo_flush_ms, 250);

    CHECK_INT(cc, cfg_apply_env(&c, env_bad, &e), ERR_INVALID);
    CHECK_MSG(cc, strstr(e.msg, "ODOOSYNC_SYNC_LOG_ODOO_FLUSH_MS") != NULL, "%s", e.msg);
    CHECK_INT(cc, cfg_set(&c, "sync_log.odoo_batch", "0", &e), ERR_INVALID);
    CHECK_MSG(cc, strstr(e.msg, "sync_log.odoo_batch") && strstr(e.msg, "1..1000"), "%s", e.msg);
    CHECK_INT(cc, cfg_set(&c, "sync_log.odoo_max_pending", "9", &e), ERR_INVALID);
    CHECK_INT(cc, cfg_set(&c, "sync_log.table", "x", &e), ERR_INVALID);
    CHECK_INT(cc, cfg_load_string(&c, "{\"sync_log\": {\"odoo\": 1}}", "t.json", &e), ERR_INVALID);
    CHECK_MSG(cc, strstr(e.msg, "$.sync_log.odoo: expected true or false, got 1") != NULL, "%s",
              e.msg);
    CHECK_INT(cc, cfg_load_string(&c, "{\"sync_log\": {\"odoo_batch\": 2.5}}", "t.json", &e),
              ERR_INVALID);
    cfg_release(&c);
}

static void test_dump_describe(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;
    struct buf b;

    buf_init(&b, 1 << 20);
    CHECK_INT(cc, cfg_init(&c, &e), 0);
    CHECK_INT(cc, cfg_set(&c, "sync_log.odoo", "true", &e), 0);
    CHECK_INT(cc, cfg_dump(&c, &b), 0);
    CHECK_MSG(cc, strstr(buf_str(&b), "sync_log.odoo = true") != NULL, "%s", buf_str(&b));
    CHECK_MSG(cc, strstr(buf_str(&b), "sync_log.odoo_batch = 100") != NULL, "%s", buf_str(&b));
    buf_reset(&b);
    CHECK_INT(cc, cfg_describe(&b), 0);
    CHECK(cc, strstr(buf_str(&b), "sync_log.odoo_flush_ms") != NULL);
    CHECK(cc, strstr(buf_str(&b), "ODOOSYNC_SYNC_LOG_ODOO_MAX_PENDING") != NULL);
    CHECK(cc, strstr(buf_str(&b), "ir.logging") != NULL);
    buf_release(&b);
    cfg_release(&c);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_defaults(&cc);
    test_file(&cc);
    test_layers(&cc);
    test_dump_describe(&cc);
    return check_done(&cc);
}
