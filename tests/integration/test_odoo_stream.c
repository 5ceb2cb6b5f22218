/*
 * Integration: odoo_create_stream / odoo_write_stream (common/odoo_stream.c) against the
 * stack's Odoo emulator, on JSON-RPC and JSON-2: a binary field's content streamed into
 * the request, base64-encoded on the way, lands byte for byte (Odoo's checksum and
 * file_size); a request retried after a 503 sends the content again from its start; a
 * request over the limit (opts.max_request: Odoo's 128 MiB by default) is refused before
 * anything is sent, and a stream that gives fewer or more bytes than announced aborts
 * its request: nothing is written either way. On a private version-19 emulator (both
 * protocols, and its injected faults reach no other test).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check.h"
#include "emutest.h"
#include "odoo.h"
#include "sha.h"
#include "stackenv.h"

#include "banned.h"

static struct check_count cc = CHECK_INIT;
static char tag[64];

struct target {
    const char *url, *db, *user, *password, *api_key;
};

/* A stream over memory; gives `give` bytes (normally its size). */
struct mem {
    const unsigned char *p;
    size_t give, off;
    int rewinds;
};

static size_t mem_read(char *buf, size_t n, void *ud)
{
    struct mem *m = ud;
    size_t k = m->give - m->off < n ? m->give - m->off : n;

    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return k;
}

static int mem_rewind(void *ud)
{
    struct mem *m = ud;

    m->off = 0;
    m->rewinds++;
    return 0;
}

static struct odoo *open_odoo(const struct target *t, enum odoo_protocol p, size_t max_request,
                              struct err *e)
{
    struct odoo_opts opts;

    memset(&opts, 0, sizeof(opts));
    opts.url = t->url;
    opts.db = t->db;
    opts.login = t->user;
    opts.password = p == ODOO_PROTO_JSON2 ? NULL : t->password;
    opts.api_key = p == ODOO_PROTO_JSON2 ? t->api_key : NULL;
    opts.protocol = p;
    opts.timeout_ms = 20000;
    opts.retry_base_ms = 50;
    opts.max_request = max_request;
    return odoo_new(&opts, e);
}

/* The attachment's checksum and file_size are those of p[0..n). */
static void check_content(struct odoo *o, long id, const unsigned char *p, size_t n,
                          const char *what)
{
    static const char *const fields[] = {"checksum", "file_size", NULL};
    struct err e = ERR_INIT;
    char want[SHA1_HEX_SIZE];
    cJSON *rows = NULL;
    const cJSON *row;
    int rc = odoo_read(o, "ir.attachment", &id, 1, fields, &rows, &e);

    CHECK_MSG(&cc, rc == 0, "%s: read: %s", what, e.msg);
    row = cJSON_GetArrayItem(rows, 0);
    sha_hex_sha1(p, n, want);
    CHECK_STR(&cc, cJSON_GetStringValue(cJSON_GetObjectItem(row, "checksum")), want);
    CHECK_INT(&cc, (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(row, "file_size")),
              (long long)n);
    cJSON_Delete(rows);
}

static long count_named(struct odoo *o, const char *name)
{
    struct err e = ERR_INIT;
    cJSON *dom = cJSON_CreateArray(), *leaf = cJSON_CreateArray();
    long n = -1;

    cJSON_AddItemToArray(leaf, cJSON_CreateString("name"));
    cJSON_AddItemToArray(leaf, cJSON_CreateString("="));
    cJSON_AddItemToArray(leaf, cJSON_CreateString(name));
    cJSON_AddItemToArray(dom, leaf);
    if (odoo_search_count(o, "ir.attachment", dom, &n, &e) < 0)
        n = -1;
    cJSON_Delete(dom);
    return n;
}

static void test_stream(const struct target *t, enum odoo_protocol proto)
{
    const char *pn = odoo_protocol_name(proto);
    struct err e = ERR_INIT;
    struct odoo *o = open_odoo(t, proto, 0, &e), *small = NULL;
    size_t n = 3 * 1024 * 1024 + 1; /* not a multiple of 3: base64 padding at the end */
    unsigned char *p = malloc(n);
    char name[128];
    cJSON *vals = cJSON_CreateObject();
    struct mem m;
    long id = 0, id2 = 0;
    int rc;

    CHECK(&cc, o != NULL && p != NULL && vals != NULL);
    if (!o || !p || !vals)
        goto out;
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 7 + i / 251) % 256);
    snprintf(name, sizeof(name), "%s-%s-stream", tag, pn);
    cJSON_AddStringToObject(vals, "name", name);
    cJSON_AddStringToObject(vals, "datas", "replaced by the stream");

    /* create, then write a smaller content */
    memset(&m, 0, sizeof(m));
    m.p = p;
    m.give = n;
    {
        struct odoo_stream s = {mem_read, mem_rewind, &m, (long long)n};
        rc = odoo_create_stream(o, "ir.attachment", vals, "datas", &s, &id, &e);
        CHECK_MSG(&cc, rc == 0 && id > 0, "%s: create_stream: %d %s", pn, rc, e.msg);
    }
    check_content(o, id, p, n, "created");
    memset(&m, 0, sizeof(m));
    m.p = p + 1000;
    m.give = 5;
    {
        struct odoo_stream s = {mem_read, mem_rewind, &m, 5};
        rc = odoo_write_stream(o, "ir.attachment", id, vals, "datas", &s, &e);
        CHECK_MSG(&cc, rc == 0, "%s: write_stream: %d %s", pn, rc, e.msg);
    }
    check_content(o, id, p + 1000, 5, "written");

    /* a 503 before the work: retried, the content sent again from its first byte */
    if (proto == ODOO_PROTO_JSON2) {
        CHECK_INT(&cc,
                  emu_control(t->url, "{\"fail_next\": {\"status\": 503, \"count\": 1, "
                                      "\"path\": \"/json/2/ir.attachment/write\"}}"),
                  200);
        memset(&m, 0, sizeof(m));
        m.p = p;
        m.give = 100000;
        {
            struct odoo_stream s = {mem_read, mem_rewind, &m, 100000};
            rc = odoo_write_stream(o, "ir.attachment", id, vals, "datas", &s, &e);
            CHECK_MSG(&cc, rc == 0, "%s: write_stream after a 503: %d %s", pn, rc, e.msg);
        }
        CHECK_INT(&cc, m.rewinds, 2);
        check_content(o, id, p, 100000, "written again after a 503");
        emu_control(t->url, "{\"reset\": true}");
    }

    /* over the request limit: refused before anything is sent */
    small = open_odoo(t, proto, 512 * 1024, &e);
    CHECK(&cc, small != NULL);
    CHECK_INT(&cc, odoo_stream_fits(small, 300 * 1024, NULL), 1);
    CHECK_INT(&cc, odoo_stream_fits(small, (long long)n, NULL), 0);
    snprintf(name, sizeof(name), "%s-%s-too-big", tag, pn);
    cJSON_ReplaceItemInObject(vals, "name", cJSON_CreateString(name));
    memset(&m, 0, sizeof(m));
    m.p = p;
    m.give = n;
    {
        struct odoo_stream s = {mem_read, mem_rewind, &m, (long long)n};
        rc = small ? odoo_create_stream(small, "ir.attachment", vals, "datas", &s, &id2, &e)
                   : ERR_NOMEM;
        CHECK_MSG(&cc, rc == ERR_TOO_BIG, "%s: over the limit: %d %s", pn, rc, e.msg);
        CHECK_MSG(&cc, strstr(e.msg, "over the 524288 bytes Odoo takes") != NULL, "%s", e.msg);
    }
    CHECK_INT(&cc, m.off, 0); /* nothing was read, nothing sent */
    CHECK_INT(&cc, count_named(o, name), 0);

    /* a stream shorter or longer than announced: the request is aborted, nothing written */
    snprintf(name, sizeof(name), "%s-%s-short", tag, pn);
    cJSON_ReplaceItemInObject(vals, "name", cJSON_CreateString(name));
    memset(&m, 0, sizeof(m));
    m.p = p;
    m.give = n - 10;
    {
        struct odoo_stream s = {mem_read, mem_rewind, &m, (long long)n};
        rc = odoo_create_stream(o, "ir.attachment", vals, "datas", &s, &id2, &e);
        CHECK_MSG(&cc, rc == ERR_IO, "%s: short stream: %d %s", pn, rc, e.msg);
    }
    m.off = 0;
    m.give = n;
    {
        struct odoo_stream s = {mem_read, mem_rewind, &m, (long long)n - 10};
        rc = odoo_create_stream(o, "ir.attachment", vals, "datas", &s, &id2, &e);
        CHECK_MSG(&cc, rc == ERR_IO, "%s: long stream: %d %s", pn, rc, e.msg);
    }
    CHECK_INT(&cc, count_named(o, name), 0);
    /* the handle still works for plain calls afterwards */
    CHECK_INT(&cc, count_named(o, "no such attachment, surely"), 0);
    if (id > 0)
        odoo_unlink(o, "ir.attachment", &id, 1, &e);
out:
    cJSON_Delete(vals);
    free(p);
    odoo_free(small);
    odoo_free(o);
}

int main(void)
{
    const char *key = "odoosync-test-key-19";
    struct target t;
    struct emu m;

    if (stackenv_load() < 0)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(tag, sizeof(tag), "odoostream-%ld-%ld", (long)getpid(), (long)time(NULL));
    memset(&t, 0, sizeof(t));
    if (emu_start(&m, "19", key) < 0) {
        CHECK_MSG(&cc, 0, "could not start a version-19 emulator (log in %s/log)", m.dir);
    } else {
        t.url = m.url;
        t.db = stackenv_get("ODOO_DB");
        t.user = stackenv_get("ODOO_USER");
        t.password = stackenv_get("ODOO_PASSWORD");
        t.api_key = key;
        test_stream(&t, ODOO_PROTO_JSONRPC);
        test_stream(&t, ODOO_PROTO_JSON2);
    }
    emu_stop(&m);
    curl_global_cleanup();
    return check_done(&cc);
}
