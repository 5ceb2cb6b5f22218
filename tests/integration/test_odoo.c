/*
 * test_odoo: the Odoo client against the test stack's Odoo emulator (JSON-RPC, version 17
 * by default) and against a version-19 emulator this test starts itself for JSON-2.
 *
 * Covers: connect and version detection; create / read / write / search / search_count /
 * display names / unlink round trip; keyset paging over more records than a page (every
 * record seen once, in id order) and early stop; an AccessError surfacing as ERR_ACCESS
 * with Odoo's message; a wrong password or key as ERR_AUTH; an unknown model or field;
 * attachment download with size + sha1 checked, and a wrong expected sha1 or size as
 * ERR_CONFLICT; JSON-RPC and JSON-2 giving the same results on the same data.
 * Every name carries a per-run tag, so runs and parallel tests never collide.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "buf.h"
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
    int version; /* expected major */
};

static struct odoo *open_odoo_dl(const struct target *t, enum odoo_protocol p, const char *password,
                                 const char *key, enum odoo_download_mode dl, struct err *e)
{
    struct odoo_opts opts;

    memset(&opts, 0, sizeof(opts));
    opts.url = t->url;
    opts.db = t->db;
    opts.login = t->user;
    opts.password = password;
    opts.api_key = key;
    opts.protocol = p;
    opts.timeout_ms = 20000;
    opts.retry_base_ms = 50;
    opts.download_mode = dl;
    return odoo_new(&opts, e);
}

static struct odoo *open_odoo(const struct target *t, enum odoo_protocol p, const char *password,
                              const char *key, struct err *e)
{
    struct odoo_opts opts;

    memset(&opts, 0, sizeof(opts));
    opts.url = t->url;
    opts.db = t->db;
    opts.login = t->user;
    opts.password = password;
    opts.api_key = key;
    opts.protocol = p;
    opts.timeout_ms = 20000;
    opts.retry_base_ms = 50;
    return odoo_new(&opts, e);
}

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s\n", s);
        abort();
    }
    return j;
}

/* [["name", op, value]] */
static cJSON *name_domain(const char *op, const char *value)
{
    cJSON *d = cJSON_CreateArray(), *t = cJSON_CreateArray();
    cJSON_AddItemToArray(t, cJSON_CreateString("name"));
    cJSON_AddItemToArray(t, cJSON_CreateString(op));
    cJSON_AddItemToArray(t, cJSON_CreateString(value));
    cJSON_AddItemToArray(d, t);
    return d;
}

static long create_partner(struct odoo *o, const char *name, struct err *e)
{
    cJSON *vals = cJSON_CreateObject();
    long id = 0;
    int rc;

    cJSON_AddStringToObject(vals, "name", name);
    rc = odoo_create(o, "res.partner", vals, &id, e);
    CHECK_MSG(&cc, rc == 0 && id > 0, "create %s: %d %s", name, rc, e->msg);
    cJSON_Delete(vals);
    return id;
}

/* ---- connect, round trip ------------------------------------------------------------- */

static void test_connect(const struct target *t)
{
    struct err e = ERR_INIT;
    struct odoo *o = open_odoo(t, ODOO_PROTO_AUTO, t->password, NULL, &e);
    int rc;

    CHECK(&cc, o != NULL);
    if (!o)
        return;
    rc = odoo_connect(o, &e);
    CHECK_MSG(&cc, rc == 0, "connect: %s", e.msg);
    CHECK_INT(&cc, odoo_version_major(o), t->version);
    CHECK_INT(&cc, odoo_protocol_used(o), ODOO_PROTO_JSONRPC);
    CHECK(&cc, odoo_uid(o) > 0);
    CHECK(&cc, strlen(odoo_server_version(o)) > 0);
    odoo_free(o);
}

static void test_round_trip(struct odoo *o)
{
    static const char *const fields[] = {"name", "display_name", NULL};
    struct err e = ERR_INIT;
    char name[128], name2[128], key[32];
    cJSON *vals = NULL, *recs = NULL, *dom = NULL, *names = NULL;
    long id, count = -1, *ids = NULL;
    size_t n = 0;
    int rc;

    snprintf(name, sizeof(name), "%s-rt", tag);
    snprintf(name2, sizeof(name2), "%s-rt-renamed", tag);
    id = create_partner(o, name, &e);
    if (id <= 0)
        return;

    rc = odoo_read(o, "res.partner", &id, 1, fields, &recs, &e);
    CHECK_MSG(&cc, rc == 0, "read: %s", e.msg);
    CHECK_INT(&cc, cJSON_GetArraySize(recs), 1);
    CHECK_STR(&cc, cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 0), "name")),
              name);
    CHECK_INT(&cc, cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 0), "id")->valuedouble, id);
    cJSON_Delete(recs);
    recs = NULL;

    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", name2);
    rc = odoo_write(o, "res.partner", &id, 1, vals, &e);
    CHECK_MSG(&cc, rc == 0, "write: %s", e.msg);

    dom = name_domain("=", name2);
    rc = odoo_search(o, "res.partner", dom, 0, 0, "id", &ids, &n, &e);
    CHECK_MSG(&cc, rc == 0, "search: %s", e.msg);
    CHECK_INT(&cc, n, 1);
    CHECK(&cc, n == 1 && ids[0] == id);
    free(ids);
    ids = NULL;
    rc = odoo_search_count(o, "res.partner", dom, &count, &e);
    CHECK_MSG(&cc, rc == 0, "search_count: %s", e.msg);
    CHECK_INT(&cc, count, 1);

    rc = odoo_display_names(o, "res.partner", &id, 1, &names, &e);
    CHECK_MSG(&cc, rc == 0, "display_names: %s", e.msg);
    snprintf(key, sizeof(key), "%ld", id);
    CHECK_STR(&cc, cJSON_GetStringValue(cJSON_GetObjectItem(names, key)), name2);
    cJSON_Delete(names);
    names = NULL;

    /* a contact of a company: "Company, Contact" */
    {
        char cname[128], pname[128];
        cJSON *cv = cJSON_CreateObject();
        long cid = 0, both[2];

        snprintf(cname, sizeof(cname), "%s-contact", tag);
        cJSON_AddStringToObject(cv, "name", cname);
        cJSON_AddNumberToObject(cv, "parent_id", (double)id);
        rc = odoo_create(o, "res.partner", cv, &cid, &e);
        CHECK_MSG(&cc, rc == 0, "create contact: %s", e.msg);
        both[0] = id;
        both[1] = cid;
        rc = odoo_display_names(o, "res.partner", both, 2, &names, &e);
        CHECK_MSG(&cc, rc == 0, "display_names: %s", e.msg);
        snprintf(key, sizeof(key), "%ld", cid);
        snprintf(pname, sizeof(pname), "%s, %s", name2, cname);
        CHECK_STR(&cc, cJSON_GetStringValue(cJSON_GetObjectItem(names, key)), pname);
        cJSON_Delete(names);
        names = NULL;
        rc = odoo_unlink(o, "res.partner", &cid, 1, &e);
        CHECK_MSG(&cc, rc == 0, "unlink contact: %s", e.msg);
        cJSON_Delete(cv);
    }

    /* generic call: a model method with named params */
    {
        cJSON *p = cJSON_CreateObject(), *res = NULL;
        cJSON_AddItemToObject(p, "domain", cJSON_Duplicate(dom, 1));
        rc = odoo_call(o, "res.partner", "search_count", NULL, p, &res, &e);
        CHECK_MSG(&cc, rc == 0, "call search_count: %s", e.msg);
        CHECK(&cc, cJSON_IsNumber(res) && res->valueint == 1);
        cJSON_Delete(res);
        cJSON_Delete(p);
    }

    rc = odoo_unlink(o, "res.partner", &id, 1, &e);
    CHECK_MSG(&cc, rc == 0, "unlink: %s", e.msg);
    rc = odoo_search_count(o, "res.partner", dom, &count, &e);
    CHECK_INT(&cc, rc, 0);
    CHECK_INT(&cc, count, 0);
    /* the record is gone: writing to it is MissingError */
    rc = odoo_write(o, "res.partner", &id, 1, vals, &e);
    CHECK_MSG(&cc, rc == ERR_NOTFOUND, "write to deleted: %d %s", rc, e.msg);

    /* bad input: unknown model, unknown field */
    rc = odoo_search_count(o, "no.such.model", NULL, &count, &e);
    CHECK_MSG(&cc, rc < 0 && rc != ERR_RETRY, "unknown model: %d %s", rc, e.msg);
    {
        cJSON *bad = parse("{\"x_no_such_field\": 1}");
        long bid = 0;
        rc = odoo_create(o, "res.partner", bad, &bid, &e);
        CHECK_MSG(&cc, rc == ERR_INVALID || rc == ERR_SERVER, "unknown field: %d %s", rc, e.msg);
        if (rc == 0)
            odoo_unlink(o, "res.partner", &bid, 1, &e);
        cJSON_Delete(bad);
    }
    cJSON_Delete(vals);
    cJSON_Delete(dom);
}

/* ---- paging -------------------------------------------------------------------------- */

struct walk {
    long last_id;
    int count;
    int in_order;
    int stop_after;
    char prefix[96];
    int name_ok;
};

static int walk_cb(const cJSON *rec, void *ud)
{
    struct walk *w = ud;
    const cJSON *id = cJSON_GetObjectItem(rec, "id");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "name"));

    if (!cJSON_IsNumber(id) || (long)id->valuedouble <= w->last_id)
        w->in_order = 0;
    else
        w->last_id = (long)id->valuedouble;
    if (!name || strncmp(name, w->prefix, strlen(w->prefix)) != 0)
        w->name_ok = 0;
    w->count++;
    if (w->stop_after && w->count >= w->stop_after)
        return 1;
    return 0;
}

#define NPAGED 250

static void test_paging(struct odoo *o)
{
    static const char *const fields[] = {"name", NULL};
    struct err e = ERR_INIT;
    long ids[NPAGED];
    char name[128], like[128];
    struct walk w;
    cJSON *dom, *page = NULL;
    size_t i, made = 0;
    int rc;

    /* one at a time for the first 10, then in batches of 80 */
    for (i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "%s-page-%03zu", tag, i);
        ids[i] = create_partner(o, name, &e);
        if (ids[i] <= 0)
            break;
        made++;
    }
    while (made == i && i < NPAGED) {
        cJSON *list = cJSON_CreateArray();
        long *got = NULL;
        size_t n = 0, k, batch = NPAGED - i < 80 ? NPAGED - i : 80;

        for (k = 0; k < batch; k++) {
            cJSON *v = cJSON_CreateObject();
            snprintf(name, sizeof(name), "%s-page-%03zu", tag, i + k);
            cJSON_AddStringToObject(v, "name", name);
            cJSON_AddItemToArray(list, v);
        }
        rc = odoo_create_multi(o, "res.partner", list, &got, &n, &e);
        CHECK_MSG(&cc, rc == 0 && n == batch, "create_multi: %d %s", rc, e.msg);
        for (k = 0; rc == 0 && k < n; k++) {
            ids[i + k] = got[k];
            if (k)
                CHECK(&cc, got[k] > got[k - 1]);
            made++;
        }
        i += batch;
        free(got);
        cJSON_Delete(list);
        if (rc < 0)
            break;
    }
    CHECK_INT(&cc, made, NPAGED);
    snprintf(like, sizeof(like), "%s-page-%%", tag);
    dom = name_domain("=like", like);

    memset(&w, 0, sizeof(w));
    w.in_order = 1;
    w.name_ok = 1;
    snprintf(w.prefix, sizeof(w.prefix), "%s-page-", tag);
    rc = odoo_search_read_each(o, "res.partner", dom, fields, 100, walk_cb, &w, &e);
    CHECK_MSG(&cc, rc == 0, "search_read_each: %s", e.msg);
    CHECK_INT(&cc, w.count, (long)made);
    CHECK(&cc, w.in_order);
    CHECK(&cc, w.name_ok);
    CHECK_INT(&cc, w.last_id, ids[made - 1]);

    /* exactly one page's worth (page size divides the count): no extra record, no loop */
    memset(&w, 0, sizeof(w));
    w.in_order = 1;
    w.name_ok = 1;
    snprintf(w.prefix, sizeof(w.prefix), "%s-page-", tag);
    rc = odoo_search_read_each(o, "res.partner", dom, fields, 50, walk_cb, &w, &e);
    CHECK_INT(&cc, rc, 0);
    CHECK_INT(&cc, w.count, (long)made);

    /* early stop: the callback's value comes back */
    memset(&w, 0, sizeof(w));
    w.in_order = 1;
    w.stop_after = 130;
    snprintf(w.prefix, sizeof(w.prefix), "%s-page-", tag);
    rc = odoo_search_read_each(o, "res.partner", dom, fields, 100, walk_cb, &w, &e);
    CHECK_INT(&cc, rc, 1);
    CHECK_INT(&cc, w.count, 130);

    /* offset/limit paging of search_read and search */
    rc = odoo_search_read(o, "res.partner", dom, fields, 200, 100, "id", &page, &e);
    CHECK_MSG(&cc, rc == 0, "search_read: %s", e.msg);
    CHECK_INT(&cc, cJSON_GetArraySize(page), (long)made - 200);
    if (cJSON_GetArraySize(page) > 0)
        CHECK_INT(&cc, cJSON_GetObjectItem(cJSON_GetArrayItem(page, 0), "id")->valuedouble,
                  ids[200]);
    cJSON_Delete(page);
    {
        long *found = NULL;
        size_t n = 0;
        rc = odoo_search(o, "res.partner", dom, 10, 5, "id desc", &found, &n, &e);
        CHECK_INT(&cc, rc, 0);
        CHECK_INT(&cc, n, 5);
        if (n == 5)
            CHECK_INT(&cc, found[0], ids[made - 11]);
        free(found);
    }

    rc = odoo_unlink(o, "res.partner", ids, made, &e);
    CHECK_MSG(&cc, rc == 0, "unlink %zu: %s", made, e.msg);
    {
        long count = -1;
        odoo_search_count(o, "res.partner", dom, &count, &e);
        CHECK_INT(&cc, count, 0);
    }
    cJSON_Delete(dom);
}

/* ---- errors -------------------------------------------------------------------------- */

static void test_wrong_password(const struct target *t)
{
    struct err e = ERR_INIT;
    struct odoo *o = open_odoo(t, ODOO_PROTO_JSONRPC, "definitely-wrong", NULL, &e);
    long count;
    int rc;

    rc = odoo_connect(o, &e);
    CHECK_MSG(&cc, rc == ERR_AUTH, "wrong password: %d %s", rc, e.msg);
    CHECK(&cc, strstr(e.msg, "definitely-wrong") == NULL);
    /* a call connects first, and fails the same way */
    rc = odoo_search_count(o, "res.partner", NULL, &count, &e);
    CHECK_INT(&cc, rc, ERR_AUTH);
    odoo_free(o);

    /* unknown login */
    {
        struct target t2 = *t;
        t2.user = "no-such-user@example.com";
        o = open_odoo(&t2, ODOO_PROTO_JSONRPC, t->password, NULL, &e);
        rc = odoo_connect(o, &e);
        CHECK_MSG(&cc, rc == ERR_AUTH, "unknown user: %d %s", rc, e.msg);
        odoo_free(o);
    }
}

/*
 * An AccessError from the server: the emulator's portal user may read partners but not
 * create or change them (like Odoo's portal group). The shared stack's emulator is used
 * by other tests at the same time, so no model is denied globally here.
 */
static void test_access_error(const struct target *t)
{
    struct err e = ERR_INIT;
    struct target pt = *t;
    struct odoo *o;
    char name[128];
    cJSON *vals;
    long id = 0, count = 0;
    int rc;

    pt.user = getenv("ODOO_PORTAL_USER") ? getenv("ODOO_PORTAL_USER") : "portal";
    o = open_odoo(&pt, ODOO_PROTO_JSONRPC,
                  getenv("ODOO_PORTAL_PASSWORD") ? getenv("ODOO_PORTAL_PASSWORD") : "portal", NULL,
                  &e);
    rc = odoo_connect(o, &e);
    CHECK_MSG(&cc, rc == 0, "portal connect: %d %s", rc, e.msg);
    rc = odoo_search_count(o, "res.partner", NULL, &count, &e);
    CHECK_MSG(&cc, rc == 0 && count > 0, "portal may read: %d %s", rc, e.msg);
    snprintf(name, sizeof(name), "%s-denied", tag);
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", name);
    rc = odoo_create(o, "res.partner", vals, &id, &e);
    CHECK_MSG(&cc, rc == ERR_ACCESS, "denied create: %d %s", rc, e.msg);
    CHECK_MSG(&cc, strstr(e.msg, "odoo.exceptions.AccessError") != NULL, "message: %s", e.msg);
    CHECK_MSG(&cc, strstr(e.msg, "You are not allowed to create") != NULL, "message: %s", e.msg);
    CHECK_MSG(&cc, strstr(e.msg, "(res.partner)") != NULL, "message: %s", e.msg);
    CHECK(&cc, strstr(e.msg, "Traceback") == NULL);
    CHECK(&cc, strchr(e.msg, '\n') == NULL);
    /* nothing was created */
    {
        cJSON *dom = name_domain("=", name);
        struct odoo *admin = open_odoo(t, ODOO_PROTO_JSONRPC, t->password, NULL, &e);
        count = -1;
        rc = odoo_search_count(admin, "res.partner", dom, &count, &e);
        CHECK_INT(&cc, rc, 0);
        CHECK_INT(&cc, count, 0);
        odoo_free(admin);
        cJSON_Delete(dom);
    }
    if (id > 0)
        odoo_unlink(o, "res.partner", &id, 1, &e);
    cJSON_Delete(vals);
    odoo_free(o);
}

/* ---- download ------------------------------------------------------------------------ */

struct sinkbuf {
    struct buf b;
    int calls;
};

static int sink_cb(const char *p, size_t n, void *ud)
{
    struct sinkbuf *s = ud;
    s->calls++;
    return buf_append(&s->b, p, n);
}

static int refuse_cb(const char *p, size_t n, void *ud)
{
    (void)p;
    (void)n;
    (void)ud;
    return ERR_IO;
}

/* Creates a binary attachment of size bytes on res_id; returns its id. */
static long make_attachment(struct odoo *o, long res_id, size_t size, unsigned char **content,
                            struct err *e)
{
    unsigned char *data = malloc(size ? size : 1);
    char *b64 = malloc(4 * ((size + 2) / 3) + 1);
    char name[128];
    cJSON *vals = cJSON_CreateObject();
    long id = 0;
    size_t i;
    unsigned int x = (unsigned int)getpid();

    for (i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)(x >> 16);
    }
    EVP_EncodeBlock((unsigned char *)b64, data, (int)size);
    snprintf(name, sizeof(name), "%s-file.bin", tag);
    cJSON_AddStringToObject(vals, "name", name);
    cJSON_AddStringToObject(vals, "datas", b64);
    cJSON_AddStringToObject(vals, "res_model", "res.partner");
    cJSON_AddNumberToObject(vals, "res_id", (double)res_id);
    if (odoo_create(o, "ir.attachment", vals, &id, e) < 0)
        id = 0;
    CHECK_MSG(&cc, id > 0, "create attachment: %s", e->msg);
    cJSON_Delete(vals);
    free(b64);
    *content = data;
    return id;
}

static void test_download(struct odoo *o)
{
    static const char *const fields[] = {"checksum", "file_size", "type", NULL};
    const size_t size = 300 * 1024 + 7;
    struct err e = ERR_INIT;
    struct sinkbuf s;
    unsigned char *content = NULL;
    char want_sha[SHA1_HEX_SIZE], got_sha[SHA1_HEX_SIZE], name[128];
    const char *checksum;
    cJSON *recs = NULL;
    long pid, att;
    long long file_size;
    int rc;

    snprintf(name, sizeof(name), "%s-dl", tag);
    pid = create_partner(o, name, &e);
    att = make_attachment(o, pid, size, &content, &e);
    if (att <= 0)
        goto out;
    sha_hex_sha1(content, size, want_sha);
    rc = odoo_read(o, "ir.attachment", &att, 1, fields, &recs, &e);
    CHECK_MSG(&cc, rc == 0, "read attachment: %s", e.msg);
    checksum = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 0), "checksum"));
    file_size =
        (long long)cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 0), "file_size")->valuedouble;
    CHECK_STR(&cc, checksum, want_sha);
    CHECK_INT(&cc, file_size, (long long)size);

    buf_init(&s.b, (size_t)1 << 20);
    s.calls = 0;
    rc = odoo_download(o, att, sink_cb, &s, file_size, checksum, got_sha, &e);
    CHECK_MSG(&cc, rc == 0, "download: %d %s", rc, e.msg);
    CHECK_INT(&cc, s.b.len, size);
    CHECK(&cc, s.b.len == size && memcmp(s.b.data, content, size) == 0);
    CHECK_STR(&cc, got_sha, want_sha);
    CHECK(&cc, s.calls > 1); /* streamed in pieces, not one blob */

    /* no expectations: still the sha1 */
    buf_reset(&s.b);
    rc = odoo_download(o, att, sink_cb, &s, -1, NULL, got_sha, &e);
    CHECK_INT(&cc, rc, 0);
    CHECK_STR(&cc, got_sha, want_sha);

    /* the content changed since planned: wrong sha1, wrong size */
    buf_reset(&s.b);
    rc = odoo_download(o, att, sink_cb, &s, file_size, "0000000000000000000000000000000000000000",
                       NULL, &e);
    CHECK_MSG(&cc, rc == ERR_CONFLICT, "wrong sha1: %d %s", rc, e.msg);
    buf_reset(&s.b);
    rc = odoo_download(o, att, sink_cb, &s, file_size + 1, NULL, NULL, &e);
    CHECK_MSG(&cc, rc == ERR_CONFLICT, "wrong size: %d %s", rc, e.msg);
    buf_reset(&s.b);
    rc = odoo_download(o, att, sink_cb, &s, 1000, NULL, NULL, &e);
    CHECK_MSG(&cc, rc == ERR_CONFLICT, "smaller size: %d %s", rc, e.msg);
    CHECK(&cc, s.b.len <= 1000); /* stopped early, not read to the end */

    /* the consumer refuses */
    rc = odoo_download(o, att, refuse_cb, NULL, -1, NULL, NULL, &e);
    CHECK_MSG(&cc, rc == ERR_IO, "refused: %d %s", rc, e.msg);

    /* a url attachment has no content to download */
    {
        cJSON *uv = cJSON_CreateObject();
        long uid_att = 0;
        cJSON_AddStringToObject(uv, "name", "link");
        cJSON_AddStringToObject(uv, "type", "url");
        cJSON_AddStringToObject(uv, "url", "https://cloud.example.com/f/42");
        cJSON_AddStringToObject(uv, "res_model", "res.partner");
        cJSON_AddNumberToObject(uv, "res_id", (double)pid);
        rc = odoo_create(o, "ir.attachment", uv, &uid_att, &e);
        CHECK_MSG(&cc, rc == 0, "create url attachment: %s", e.msg);
        buf_reset(&s.b);
        rc = odoo_download(o, uid_att, sink_cb, &s, -1, NULL, NULL, &e);
        CHECK_MSG(&cc, rc == ERR_INVALID, "url attachment: %d %s", rc, e.msg);
        CHECK_INT(&cc, s.b.len, 0);
        odoo_unlink(o, "ir.attachment", &uid_att, 1, &e);
        cJSON_Delete(uv);
    }

    /* a missing attachment */
    buf_reset(&s.b);
    {
        long gone = att;
        odoo_unlink(o, "ir.attachment", &gone, 1, &e);
        rc = odoo_download(o, gone, sink_cb, &s, -1, NULL, NULL, &e);
        CHECK_MSG(&cc, rc == ERR_NOTFOUND, "missing: %d %s", rc, e.msg);
        CHECK_INT(&cc, s.b.len, 0);
    }
    buf_release(&s.b);
out:
    cJSON_Delete(recs);
    free(content);
    if (pid > 0)
        odoo_unlink(o, "res.partner", &pid, 1, &e);
}

/*
 * Faults, on the private emulator only (its switches are global): 503 then 200 is retried;
 * a dropped connection is retried for a read; a write is not retried after a 502 (it may
 * have been applied) but is after a 503; too many 503s give ERR_RETRY; a stalled server
 * hits the timeout; an answer over max_response is ERR_TOO_BIG; a 503 on a download is
 * retried before any byte reached the consumer.
 */
static void test_faults(const struct target *t, const char *data_dir)
{
    struct err e = ERR_INIT;
    struct odoo_opts opts;
    struct odoo *rpc, *j2, *quick = NULL, *small = NULL;
    char name[128];
    cJSON *dom, *vals, *recs = NULL;
    long count = -1, id = 0, before = -1, after = -2;
    int rc;

    rpc = open_odoo(t, ODOO_PROTO_JSONRPC, t->password, NULL, &e);
    j2 = open_odoo(t, ODOO_PROTO_JSON2, NULL, t->api_key, &e);
    CHECK_INT(&cc, odoo_connect(rpc, &e), 0);
    CHECK_INT(&cc, odoo_connect(j2, &e), 0);

    CHECK_INT(&cc,
              emu_control(t->url, "{\"fail_next\": {\"status\": 503, \"count\": 1, "
                                  "\"path\": \"/json/2/\"}}"),
              200);
    rc = odoo_search_count(j2, "res.partner", NULL, &count, &e);
    CHECK_MSG(&cc, rc == 0 && count > 0, "503 then 200: %d %s", rc, e.msg);

    CHECK_INT(&cc,
              emu_control(t->url, "{\"fail_next\": {\"status\": 0, \"count\": 1, "
                                  "\"path\": \"/jsonrpc\"}}"),
              200);
    rc = odoo_search_count(rpc, "res.partner", NULL, &count, &e);
    CHECK_MSG(&cc, rc == 0, "dropped connection then 200: %d %s", rc, e.msg);

    CHECK_INT(&cc,
              emu_control(t->url, "{\"fail_next\": {\"status\": 503, \"count\": 50, "
                                  "\"path\": \"/json/2/\"}}"),
              200);
    rc = odoo_search_count(j2, "res.partner", NULL, &count, &e);
    CHECK_MSG(&cc, rc == ERR_RETRY, "503 forever: %d %s", rc, e.msg);
    CHECK_MSG(&cc, strstr(e.msg, "503") != NULL, "503 forever: %s", e.msg);
    CHECK_INT(&cc, emu_control(t->url, "{\"reset\": true}"), 200);

    /* writes */
    snprintf(name, sizeof(name), "%s-fault", tag);
    dom = name_domain("=", name);
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", name);
    odoo_search_count(rpc, "res.partner", dom, &before, &e);
    CHECK_INT(&cc,
              emu_control(t->url, "{\"fail_next\": {\"status\": 502, \"count\": 1, "
                                  "\"path\": \"/json/2/\"}}"),
              200);
    rc = odoo_create(j2, "res.partner", vals, &id, &e);
    CHECK_MSG(&cc, rc == ERR_RETRY, "create after 502 not retried: %d %s", rc, e.msg);
    CHECK_INT(&cc,
              emu_control(t->url, "{\"fail_next\": {\"status\": 503, \"count\": 1, "
                                  "\"path\": \"/json/2/\"}}"),
              200);
    rc = odoo_create(j2, "res.partner", vals, &id, &e);
    CHECK_MSG(&cc, rc == 0 && id > 0, "create after 503 retried: %d %s", rc, e.msg);
    odoo_search_count(rpc, "res.partner", dom, &after, &e);
    CHECK_INT(&cc, after, before + 1);
    if (id > 0)
        odoo_unlink(rpc, "res.partner", &id, 1, &e);
    CHECK_INT(&cc, emu_control(t->url, "{\"reset\": true}"), 200);

    /* a stalled server: the timeout fires */
    memset(&opts, 0, sizeof(opts));
    opts.url = t->url;
    opts.db = t->db;
    opts.login = t->user;
    opts.password = t->password;
    opts.protocol = ODOO_PROTO_JSONRPC;
    opts.timeout_ms = 400;
    opts.retries = -1;
    quick = odoo_new(&opts, &e);
    CHECK_INT(&cc, odoo_connect(quick, &e), 0);
    CHECK_INT(&cc,
              emu_control(t->url, "{\"delay_next\": {\"seconds\": 1.5, \"count\": 1, "
                                  "\"path\": \"/jsonrpc\"}}"),
              200);
    rc = odoo_search_count(quick, "res.partner", NULL, &count, &e);
    CHECK_MSG(&cc, rc == ERR_RETRY, "timeout: %d %s", rc, e.msg);
    usleep(1200000); /* let the delayed request finish before the next control call */
    CHECK_INT(&cc, emu_control(t->url, "{\"reset\": true}"), 200);

    /* the answer cap */
    opts.timeout_ms = 20000;
    opts.max_response = 300;
    small = odoo_new(&opts, &e);
    CHECK_INT(&cc, odoo_connect(small, &e), 0);
    rc = odoo_search_read(small, "res.partner", NULL, NULL, 0, 0, NULL, &recs, &e);
    CHECK_MSG(&cc, rc == ERR_TOO_BIG, "cap: %d %s", rc, e.msg);
    CHECK(&cc, recs == NULL);

    /* downloads: a 503 before the first byte; a session the server forgot */
    {
        unsigned char *content = NULL;
        char want[SHA1_HEX_SIZE], cmd[600];
        struct sinkbuf sb;
        long att = make_attachment(rpc, 0, 70000, &content, &e);

        sha_hex_sha1(content, 70000, want);
        buf_init(&sb.b, (size_t)1 << 20);
        rc = odoo_download(rpc, att, sink_cb, &sb, 70000, want, NULL, &e);
        CHECK_MSG(&cc, rc == 0, "download: %d %s", rc, e.msg);
        CHECK_INT(&cc,
                  emu_control(t->url, "{\"fail_next\": {\"status\": 503, \"count\": 1, "
                                      "\"path\": \"/web/content\"}}"),
                  200);
        buf_reset(&sb.b);
        rc = odoo_download(rpc, att, sink_cb, &sb, 70000, want, NULL, &e);
        CHECK_MSG(&cc, rc == 0, "download after 503: %d %s", rc, e.msg);
        CHECK_INT(&cc, sb.b.len, 70000);
        snprintf(cmd, sizeof(cmd),
                 "python3 -c \"import sqlite3; c = sqlite3.connect('%s/odoo.sqlite3'); "
                 "c.execute('DELETE FROM sessions'); c.commit()\"",
                 data_dir);
        CHECK_INT(&cc, system(cmd), 0);
        buf_reset(&sb.b);
        rc = odoo_download(rpc, att, sink_cb, &sb, 70000, want, NULL, &e);
        CHECK_MSG(&cc, rc == 0, "download after the session expired: %d %s", rc, e.msg);
        CHECK_INT(&cc, sb.b.len, 70000);
        if (att > 0)
            odoo_unlink(rpc, "ir.attachment", &att, 1, &e);
        buf_release(&sb.b);
        free(content);
    }

    cJSON_Delete(dom);
    cJSON_Delete(vals);
    odoo_free(rpc);
    odoo_free(j2);
    odoo_free(quick);
    odoo_free(small);
}

/* ---- JSON-2, on a version-19 emulator of this test's own (emutest.h) ----------------- */

static void test_json2_vs_jsonrpc(const struct target *base)
{
    static const char *const fields[] = {"name", "display_name", "parent_id", NULL};
    const char *key = "odoosync-test-key-19";
    struct err e = ERR_INIT;
    struct target t = *base;
    struct odoo *rpc = NULL, *j2 = NULL, *bad = NULL;
    struct emu m;
    long ids[5], *s1 = NULL, *s2 = NULL, c1 = -1, c2 = -2;
    size_t n1 = 0, n2 = 0, i;
    cJSON *dom = NULL, *r1 = NULL, *r2 = NULL, *d1 = NULL, *d2 = NULL;
    char name[128], like[128];
    int rc;

    if (emu_start(&m, "19", key) < 0) {
        CHECK_MSG(&cc, 0, "could not start a version-19 emulator (log in %s/log)", m.dir);
        emu_stop(&m);
        return;
    }
    t.url = m.url;
    t.api_key = key;
    t.version = 19;

    rpc = open_odoo(&t, ODOO_PROTO_JSONRPC, t.password, NULL, &e);
    j2 = open_odoo(&t, ODOO_PROTO_AUTO, NULL, key, &e);
    rc = odoo_connect(rpc, &e);
    CHECK_MSG(&cc, rc == 0, "connect jsonrpc 19: %s", e.msg);
    rc = odoo_connect(j2, &e);
    CHECK_MSG(&cc, rc == 0, "connect json2 19: %s", e.msg);
    CHECK_INT(&cc, odoo_version_major(j2), 19);
    CHECK_INT(&cc, odoo_protocol_used(j2), ODOO_PROTO_JSON2);
    CHECK_INT(&cc, odoo_protocol_used(rpc), ODOO_PROTO_JSONRPC);
    if (rc < 0)
        goto out;

    /* create_multi over JSON-2 */
    {
        cJSON *list = parse("[{\"name\": \"m1\"}, {\"name\": \"m2\"}]");
        long *got = NULL;
        size_t n = 0;
        rc = odoo_create_multi(j2, "res.partner", list, &got, &n, &e);
        CHECK_MSG(&cc, rc == 0 && n == 2, "json2 create_multi: %d %s", rc, e.msg);
        if (n == 2)
            CHECK_INT(&cc, odoo_unlink(j2, "res.partner", got, n, &e), 0);
        free(got);
        cJSON_Delete(list);
    }

    /* data made through both protocols */
    for (i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "%s-j2-%zu", tag, i);
        ids[i] = create_partner(i % 2 ? j2 : rpc, name, &e);
    }
    {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddNumberToObject(v, "parent_id", (double)ids[0]);
        rc = odoo_write(j2, "res.partner", &ids[1], 1, v, &e);
        CHECK_MSG(&cc, rc == 0, "json2 write: %s", e.msg);
        cJSON_Delete(v);
    }
    snprintf(like, sizeof(like), "%s-j2-%%", tag);
    dom = name_domain("=like", like);

    rc = odoo_search(rpc, "res.partner", dom, 0, 0, "id", &s1, &n1, &e);
    CHECK_INT(&cc, rc, 0);
    rc = odoo_search(j2, "res.partner", dom, 0, 0, "id", &s2, &n2, &e);
    CHECK_MSG(&cc, rc == 0, "json2 search: %s", e.msg);
    CHECK_INT(&cc, n1, 5);
    CHECK(&cc, n1 == n2 && n1 && memcmp(s1, s2, n1 * sizeof(long)) == 0);

    CHECK_INT(&cc, odoo_search_count(rpc, "res.partner", dom, &c1, &e), 0);
    CHECK_INT(&cc, odoo_search_count(j2, "res.partner", dom, &c2, &e), 0);
    CHECK_INT(&cc, c1, 5);
    CHECK_INT(&cc, c1, c2);

    CHECK_INT(&cc, odoo_search_read(rpc, "res.partner", dom, fields, 0, 0, "id", &r1, &e), 0);
    CHECK_INT(&cc, odoo_search_read(j2, "res.partner", dom, fields, 0, 0, "id", &r2, &e), 0);
    CHECK_INT(&cc, cJSON_GetArraySize(r1), 5);
    CHECK(&cc, cJSON_Compare(r1, r2, 1));
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    r1 = r2 = NULL;

    CHECK_INT(&cc, odoo_read(rpc, "res.partner", ids, 5, fields, &r1, &e), 0);
    CHECK_INT(&cc, odoo_read(j2, "res.partner", ids, 5, fields, &r2, &e), 0);
    CHECK(&cc, cJSON_GetArraySize(r1) == 5 && cJSON_Compare(r1, r2, 1));

    CHECK_INT(&cc, odoo_display_names(rpc, "res.partner", ids, 5, &d1, &e), 0);
    CHECK_INT(&cc, odoo_display_names(j2, "res.partner", ids, 5, &d2, &e), 0);
    CHECK(&cc, cJSON_GetArraySize(d1) == 5 && cJSON_Compare(d1, d2, 1));

    /* paging through JSON-2 */
    {
        struct walk w;
        memset(&w, 0, sizeof(w));
        w.in_order = 1;
        w.name_ok = 1;
        snprintf(w.prefix, sizeof(w.prefix), "%s-j2-", tag);
        rc = odoo_search_read_each(j2, "res.partner", dom, fields, 2, walk_cb, &w, &e);
        CHECK_MSG(&cc, rc == 0, "json2 each: %s", e.msg);
        CHECK_INT(&cc, w.count, 5);
        CHECK(&cc, w.in_order && w.name_ok);
    }

    /* the same errors */
    {
        long gone = 999999999, x;
        cJSON *v = parse("{\"name\": \"x\"}");
        int e1 = odoo_write(rpc, "res.partner", &gone, 1, v, &e);
        int e2 = odoo_write(j2, "res.partner", &gone, 1, v, &e);
        CHECK_INT(&cc, e1, ERR_NOTFOUND);
        CHECK_INT(&cc, e2, ERR_NOTFOUND);
        e1 = odoo_search_count(rpc, "no.such.model", NULL, &x, &e);
        e2 = odoo_search_count(j2, "no.such.model", NULL, &x, &e);
        /* JSON-RPC says UserError, JSON-2 says 404: both refuse, neither is "retry" */
        CHECK_MSG(&cc, e1 < 0 && e2 < 0 && e1 != ERR_RETRY && e2 != ERR_RETRY,
                  "unknown model: %d vs %d", e1, e2);
        cJSON_Delete(v);
        CHECK_INT(&cc, emu_control(t.url, "{\"deny_model\": \"res.partner\"}"), 200);
        e1 = odoo_search_count(rpc, "res.partner", NULL, &x, &e);
        e2 = odoo_search_count(j2, "res.partner", NULL, &x, &e);
        CHECK_INT(&cc, e1, ERR_ACCESS);
        CHECK_INT(&cc, e2, ERR_ACCESS);
        CHECK_MSG(&cc, strstr(e.msg, "AccessError") != NULL, "json2 access: %s", e.msg);
        CHECK_INT(&cc, emu_control(t.url, "{\"allow_model\": \"res.partner\"}"), 200);
    }

    /* a wrong key */
    bad = open_odoo(&t, ODOO_PROTO_JSON2, NULL, "wrong-key", &e);
    rc = odoo_connect(bad, &e);
    CHECK_MSG(&cc, rc == ERR_AUTH, "wrong key: %d %s", rc, e.msg);
    CHECK(&cc, strstr(e.msg, "wrong-key") == NULL);

    /* download with the bearer key, and a 503 before the first byte */
    test_download(j2);
    /* like real Odoo: /web/content knows only sessions; AUTO falls back to `datas` */
    CHECK_INT(&cc, emu_control(t.url, "{\"web_content_bearer\": false}"), 200);
    test_download(j2);
    CHECK_INT(&cc, emu_control(t.url, "{\"web_content_bearer\": true}"), 200);
    {
        struct odoo *j2rpc = open_odoo_dl(&t, ODOO_PROTO_JSON2, NULL, key, ODOO_DL_RPC, &e);
        test_download(j2rpc);
        odoo_free(j2rpc);
    }
    test_faults(&t, m.dir);

    odoo_unlink(j2, "res.partner", ids, 5, &e);
out:
    cJSON_Delete(dom);
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    cJSON_Delete(d1);
    cJSON_Delete(d2);
    free(s1);
    free(s2);
    odoo_free(rpc);
    odoo_free(j2);
    odoo_free(bad);
    emu_stop(&m);
}

/*
 * Odoo 16 over JSON-RPC: search's domain is named `args` there (we pass it positionally),
 * and display names come from name_get.
 */
static void test_odoo16(const struct target *base)
{
    static const char *const fields[] = {"name", NULL};
    struct err e = ERR_INIT;
    struct target t = *base;
    struct odoo *o = NULL;
    struct emu m;
    char name[128], cname[128], want[300], key[32], like[128];
    long ids[2] = {0, 0}, *found = NULL;
    size_t n = 0;
    cJSON *vals = NULL, *names = NULL, *dom = NULL;
    struct walk w;
    int rc;

    if (emu_start(&m, "16", "") < 0) {
        CHECK_MSG(&cc, 0, "could not start a version-16 emulator (log in %s/log)", m.dir);
        emu_stop(&m);
        return;
    }
    t.url = m.url;
    o = open_odoo(&t, ODOO_PROTO_AUTO, t.password, NULL, &e);
    rc = odoo_connect(o, &e);
    CHECK_MSG(&cc, rc == 0, "connect 16: %s", e.msg);
    CHECK_INT(&cc, odoo_version_major(o), 16);
    CHECK_INT(&cc, odoo_protocol_used(o), ODOO_PROTO_JSONRPC);
    snprintf(name, sizeof(name), "%s-16co", tag);
    snprintf(cname, sizeof(cname), "%s-16ct", tag);
    ids[0] = create_partner(o, name, &e);
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", cname);
    cJSON_AddNumberToObject(vals, "parent_id", (double)ids[0]);
    rc = odoo_create(o, "res.partner", vals, &ids[1], &e);
    CHECK_MSG(&cc, rc == 0, "create 16: %s", e.msg);
    rc = odoo_display_names(o, "res.partner", ids, 2, &names, &e);
    CHECK_MSG(&cc, rc == 0, "name_get 16: %s", e.msg);
    snprintf(key, sizeof(key), "%ld", ids[1]);
    snprintf(want, sizeof(want), "%s, %s", name, cname);
    CHECK_STR(&cc, cJSON_GetStringValue(cJSON_GetObjectItem(names, key)), want);
    snprintf(like, sizeof(like), "%s-16%%", tag);
    dom = name_domain("=like", like);
    rc = odoo_search(o, "res.partner", dom, 0, 10, "id", &found, &n, &e);
    CHECK_MSG(&cc, rc == 0 && n == 2, "search 16: %d %zu %s", rc, n, e.msg);
    memset(&w, 0, sizeof(w));
    w.in_order = 1;
    w.name_ok = 1;
    snprintf(w.prefix, sizeof(w.prefix), "%s-16", tag);
    rc = odoo_search_read_each(o, "res.partner", dom, fields, 1, walk_cb, &w, &e);
    CHECK_MSG(&cc, rc == 0 && w.count == 2 && w.in_order, "each 16: %d %s", rc, e.msg);
    free(found);
    cJSON_Delete(dom);
    cJSON_Delete(names);
    cJSON_Delete(vals);
    odoo_free(o);
    emu_stop(&m);
}

int main(void)
{
    struct target t;
    struct err e = ERR_INIT;
    struct odoo *o;
    const char *v;

    if (stackenv_load() < 0)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(tag, sizeof(tag), "odootest-%ld-%ld", (long)getpid(), (long)time(NULL));
    memset(&t, 0, sizeof(t));
    t.url = stackenv_get("ODOO_URL");
    t.db = stackenv_get("ODOO_DB");
    t.user = stackenv_get("ODOO_USER");
    t.password = stackenv_get("ODOO_PASSWORD");
    t.api_key = stackenv_get("ODOO_API_KEY");
    v = getenv("ODOO_VERSION");
    t.version = v ? (int)strtol(v, NULL, 10) : 17;

    test_connect(&t);
    o = open_odoo(&t, ODOO_PROTO_JSONRPC, t.password, NULL, &e);
    if (o && odoo_connect(o, &e) == 0) {
        test_round_trip(o);
        test_paging(o);
        test_access_error(&t);
        test_download(o);
    } else {
        CHECK_MSG(&cc, 0, "connect: %s", e.msg);
    }
    odoo_free(o);
    /* an api key standing in for the password over JSON-RPC: no web session is possible
     * (Odoo refuses keys for interactive logins), so AUTO reads `datas` instead */
    o = open_odoo_dl(&t, ODOO_PROTO_JSONRPC, NULL, t.api_key, ODOO_DL_AUTO, &e);
    if (o && odoo_connect(o, &e) == 0)
        test_download(o);
    else
        CHECK_MSG(&cc, 0, "connect with the api key: %s", e.msg);
    odoo_free(o);
    test_wrong_password(&t);
    test_json2_vs_jsonrpc(&t);
    test_odoo16(&t);
    curl_global_cleanup();
    return check_done(&cc);
}
