/*
 * Unit tests of settled (producer/settled.h) that need no server: the mark's text
 * round trip, what a decoder refuses, the configuration digest, the comparison, and
 * the file storage (save, load, clear).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "check.h"
#include "settled.h"

static void sample(struct settled *s)
{
    settled_init(s);
    s->ok = 1;
    memset(s->config, 'c', SHA1_HEX_SIZE - 1);
    memcpy(s->watermark, "2026-11-24 10:00:00", 20);
    s->full_at = 1790000000;
    s->root_etag = strdup("\"abc\\\"def\"");
    s->records = 2001;
    s->attachments = 10000;
    s->ntypes = 2;
    s->types = calloc(2, sizeof(*s->types));
    s->types[0].count = 1;
    memset(s->types[0].digest, 'a', SHA1_HEX_SIZE - 1);
    memset(s->types[0].ids, '1', SHA1_HEX_SIZE - 1);
    s->types[1].count = 2000;
    memset(s->types[1].digest, 'b', SHA1_HEX_SIZE - 1);
    memset(s->types[1].ids, '2', SHA1_HEX_SIZE - 1);
    s->atts.count = 10000;
    memset(s->atts.digest, 'd', SHA1_HEX_SIZE - 1);
}

static void test_round_trip(struct check_count *cc)
{
    struct settled a, b;
    struct err e = ERR_INIT;
    char *text = NULL;

    sample(&a);
    settled_init(&b);
    CHECK_INT(cc, settled_encode(&a, &text, &e), 0);
    CHECK_INT(cc, settled_decode(text, strlen(text), &b, &e), 0);
    CHECK_INT(cc, b.ok, 1);
    CHECK(cc, settled_same_odoo(&a, &b));
    CHECK_STR(cc, b.config, a.config);
    CHECK_STR(cc, b.root_etag, a.root_etag);
    CHECK_INT(cc, b.full_at, a.full_at);
    CHECK_INT(cc, b.records, 2001);
    CHECK_INT(cc, b.attachments, 10000);
    /* any difference in a count, a digest, the matching ids or the watermark is a change */
    b.types[1].count++;
    CHECK(cc, !settled_same_odoo(&a, &b));
    b.types[1].count--;
    b.types[0].ids[5] = '3'; /* as many records, another set of them */
    CHECK(cc, !settled_same_odoo(&a, &b));
    b.types[0].ids[5] = '1';
    b.atts.digest[0] = 'e';
    CHECK(cc, !settled_same_odoo(&a, &b));
    b.atts.digest[0] = 'd';
    b.watermark[18] = '1';
    CHECK(cc, !settled_same_odoo(&a, &b));
    b.watermark[18] = '0';
    b.ntypes = 1;
    CHECK(cc, !settled_same_odoo(&a, &b));
    b.ntypes = 2;
    CHECK(cc, settled_same_odoo(&a, &b));
    b.ok = 0;
    CHECK(cc, !settled_same_odoo(&a, &b)); /* an incomplete fingerprint never matches */
    free(text);
    settled_release(&a);
    settled_release(&b);
}

static void test_refused(struct check_count *cc)
{
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"version\":1,\"config\":\"cccccccccccccccccccccccccccccccccccccccc\","
        "\"watermark\":\"2026-11-24 10:00:00\",\"full_at\":1,\"root_etag\":\"x\","
        "\"records\":1,\"attachments\":1,\"managed\":1,\"types\":[],\"atts\":[1,"
        "\"dddddddddddddddddddddddddddddddddddddddd\"]}",
        /* an empty root ETag: a mark only exists where the root had one */
        "{\"version\":2,\"config\":\"cccccccccccccccccccccccccccccccccccccccc\","
        "\"watermark\":\"2026-11-24 10:00:00\",\"full_at\":1,\"root_etag\":\"\","
        "\"records\":1,\"attachments\":1,\"managed\":1,\"types\":[],\"atts\":[1,"
        "\"dddddddddddddddddddddddddddddddddddddddd\"]}",
        /* a short digest */
        "{\"version\":2,\"config\":\"cccccccccccccccccccccccccccccccccccccccc\","
        "\"watermark\":\"2026-11-24 10:00:00\",\"full_at\":1,\"root_etag\":\"x\","
        "\"records\":1,\"attachments\":1,\"managed\":1,\"types\":[[1,\"ab\","
        "\"1111111111111111111111111111111111111111\"]],\"atts\":[1,"
        "\"dddddddddddddddddddddddddddddddddddddddd\"]}",
        /* a type without the digest of its ids (version 1's shape) */
        "{\"version\":2,\"config\":\"cccccccccccccccccccccccccccccccccccccccc\","
        "\"watermark\":\"2026-11-24 10:00:00\",\"full_at\":1,\"root_etag\":\"x\","
        "\"records\":1,\"attachments\":1,\"managed\":1,\"types\":[[1,"
        "\"abababababababababababababababababababab\"]],\"atts\":[1,"
        "\"dddddddddddddddddddddddddddddddddddddddd\"]}",
        /* no watermark */
        "{\"version\":2,\"config\":\"cccccccccccccccccccccccccccccccccccccccc\","
        "\"full_at\":1,\"root_etag\":\"x\",\"records\":1,\"attachments\":1,\"managed\":1,"
        "\"types\":[],"
        "\"atts\":[1,\"dddddddddddddddddddddddddddddddddddddddd\"]}",
    };
    struct settled s;
    char *good = NULL;
    struct settled a;
    struct err e = ERR_INIT;

    settled_init(&s);
    /* the bad ones below are this one with one thing wrong */
    {
        static const char ok[] =
            "{\"version\":2,\"config\":\"cccccccccccccccccccccccccccccccccccccccc\","
            "\"watermark\":\"2026-11-24 10:00:00\",\"full_at\":1,\"root_etag\":\"x\","
            "\"records\":1,\"attachments\":1,\"managed\":1,\"types\":[[1,"
            "\"abababababababababababababababababababab\","
            "\"1111111111111111111111111111111111111111\"]],\"atts\":[1,"
            "\"dddddddddddddddddddddddddddddddddddddddd\"]}";

        CHECK_INT(cc, settled_decode(ok, strlen(ok), &s, &e), 0);
        CHECK_INT(cc, s.ok, 1);
        CHECK_INT(cc, s.ntypes, 1);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        CHECK_INT(cc, settled_decode(bad[i], strlen(bad[i]), &s, &e), ERR_PROTO);
        CHECK_INT(cc, s.ok, 0);
    }
    /* every truncation of a good mark is refused, never half-read */
    sample(&a);
    CHECK_INT(cc, settled_encode(&a, &good, &e), 0);
    for (size_t n = 0; good && n < strlen(good); n++) {
        int rc = settled_decode(good, n, &s, &e);

        CHECK_MSG(cc, rc == ERR_PROTO && !s.ok, "a mark cut at %zu bytes was read", n);
    }
    free(good);
    settled_release(&a);
    settled_release(&s);
}

static void test_config_digest(struct check_count *cc)
{
    static const char *json = "{\"odoo\":{\"url\":\"http://"
                              "o\",\"database\":\"db\",\"login\":\"u\",\"password_env\":\"HOME\"},"
                              "\"cloud\":{\"url\":\"http://d/"
                              "\",\"user\":\"u\",\"password_env\":\"HOME\",\"root\":\"Odoo\"},"
                              "\"types\":[{\"folder\":\"Customers\",\"model\":\"res.partner\","
                              "\"domain\":\"[('customer_rank', '>', 0)]\"}]}";
    struct cfg c;
    struct err e = ERR_INIT;
    char d1[SHA1_HEX_SIZE], d2[SHA1_HEX_SIZE], d3[SHA1_HEX_SIZE];
    char other[] = "[('customer_rank', '>=', 1)]";
    char *domain;

    if (cfg_init(&c, &e) < 0 || cfg_load_string(&c, json, "test", &e) < 0) {
        CHECK_MSG(cc, 0, "config: %s", e.msg);
        cfg_release(&c);
        return;
    }
    CHECK_INT(cc, settled_config(&c, d1, &e), 0);
    CHECK_INT(cc, settled_config(&c, d2, &e), 0);
    CHECK_STR(cc, d1, d2);
    domain = c.types[0].domain;
    c.types[0].domain = other;
    CHECK_INT(cc, settled_config(&c, d3, &e), 0);
    CHECK(cc, strcmp(d1, d3) != 0); /* another domain */
    c.types[0].domain = domain;
    c.types[0].direction = CFG_DIR_TO_CLOUD;
    CHECK_INT(cc, settled_config(&c, d3, &e), 0);
    CHECK(cc, strcmp(d1, d3) != 0); /* another direction */
    c.types[0].direction = CFG_DIR_BOTH;
    c.standalone.enabled = !c.standalone.enabled;
    CHECK_INT(cc, settled_config(&c, d3, &e), 0);
    CHECK(cc, strcmp(d1, d3) != 0);
    c.standalone.enabled = !c.standalone.enabled;
    c.cloud.dialect = CFG_DIALECT_NEXTCLOUD;
    CHECK_INT(cc, settled_config(&c, d3, &e), 0);
    CHECK(cc, strcmp(d1, d3) != 0);
    cfg_release(&c);
}

static void test_file_storage(struct check_count *cc)
{
    char dir[] = "/tmp/test-settled-XXXXXX";
    char state[128], path[160];
    struct settled a, b;
    struct cfg c;
    struct err e = ERR_INIT;

    memset(&c, 0, sizeof(c));
    if (!mkdtemp(dir)) {
        CHECK_MSG(cc, 0, "mkdtemp failed");
        return;
    }
    snprintf(state, sizeof(state), "%s/state.json", dir);
    snprintf(path, sizeof(path), "%s.settled", state);
    settled_init(&b);
    /* none yet: not an error, no mark */
    CHECK_INT(cc, settled_load(state, NULL, &c, &b, NULL, &e), 0);
    CHECK_INT(cc, b.ok, 0);
    sample(&a);
    CHECK_INT(cc, settled_save(state, NULL, &c, &a, &e), 0);
    CHECK_INT(cc, access(path, F_OK), 0);
    CHECK_INT(cc, settled_load(state, NULL, &c, &b, NULL, &e), 0);
    CHECK_INT(cc, b.ok, 1);
    CHECK(cc, settled_same_odoo(&a, &b));
    CHECK_STR(cc, b.root_etag, a.root_etag);
    /* a corrupt mark is no mark */
    {
        FILE *f = fopen(path, "w");

        if (f) {
            fputs("{\"version\":2,", f);
            fclose(f);
        }
    }
    CHECK_INT(cc, settled_load(state, NULL, &c, &b, NULL, &e), 0);
    CHECK_INT(cc, b.ok, 0);
    CHECK_INT(cc, settled_clear(state, NULL, &c, &e), 0);
    CHECK(cc, access(path, F_OK) != 0);
    CHECK_INT(cc, settled_clear(state, NULL, &c, &e), 0); /* clearing none is fine */
    settled_release(&a);
    settled_release(&b);
    rmdir(dir);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_round_trip(&cc);
    test_refused(&cc);
    test_config_digest(&cc);
    test_file_storage(&cc);
    return check_done(&cc);
}
