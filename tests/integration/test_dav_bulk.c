/*
 * Nextcloud's bulk upload (dav_bulk_upload) against
 * tests/integration/dav_fault_server.py, which implements POST
 * /remote.php/dav/bulk and the capabilities after Nextcloud's own
 * BulkUploadPlugin / MultipartRequestParser (no Nextcloud runs here):
 *  - the capabilities announce bulkupload: small files go in one POST,
 *    land with their exact content and mtime under the handle's base
 *    folder, each reports its etag and file id; a file over
 *    DAV_BULK_FILE_MAX goes by PUT; a file whose folder is missing fails
 *    alone, with the server's message, the others land;
 *  - 150 files take two POSTs (100 per request), every one lands;
 *  - a 503 on the POST is retried;
 *  - the capabilities announce it but POST answers 404: PUTs, remembered;
 *  - a server without bulk (--no-bulk): every file by PUT, a missing
 *    folder is ERR_NOTFOUND for that file only;
 *  - the generic dialect never posts.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dav.h"

struct server {
    pid_t pid;
    int port;
    char log[256];
};

static int start_server(struct server *s, int tag, int no_bulk, const char *rule)
{
    const char *src = getenv("ODOOSYNC_SOURCE_DIR");
    char script[1024], line[128];
    const char *argv[16];
    int fds[2], argc = 0;
    FILE *f;

    s->port = -1;
    snprintf(script, sizeof(script), "%s/tests/integration/dav_fault_server.py", src ? src : "..");
    snprintf(s->log, sizeof(s->log), "/tmp/dav-bulk-%ld-%d.log", (long)getpid(), tag);
    unlink(s->log);
    argv[argc++] = "/usr/bin/python3";
    argv[argc++] = script;
    argv[argc++] = "--log";
    argv[argc++] = s->log;
    if (no_bulk)
        argv[argc++] = "--no-bulk";
    if (rule) {
        argv[argc++] = "--rule";
        argv[argc++] = rule;
    }
    argv[argc] = NULL;
    if (pipe(fds) < 0)
        return -1;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    if (f && fgets(line, sizeof(line), f) && strncmp(line, "PORT ", 5) == 0)
        s->port = (int)strtol(line + 5, NULL, 10);
    if (f)
        fclose(f);
    return s->port;
}

static void stop_server(struct server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = -1;
    }
    unlink(s->log);
}

/* Logged requests with this method and path (and status when >= 0). */
static int count_log(const struct server *s, const char *method, const char *path, int status)
{
    char line[65536], m[64], p[600], st[32];
    FILE *f = fopen(s->log, "r");
    int n = 0;

    if (!f)
        return -1;
    snprintf(m, sizeof(m), "\"method\": \"%s\"", method);
    snprintf(p, sizeof(p), "\"path\": \"%s\"", path);
    snprintf(st, sizeof(st), "\"status\": %d", status);
    while (fgets(line, sizeof(line), f))
        if (strstr(line, m) && strstr(line, p) && (status < 0 || strstr(line, st)))
            n++;
    fclose(f);
    return n;
}

/* A handle on http://127.0.0.1:port/remote.php/dav/files/u<sub>. */
static struct dav *open_dav(const struct server *s, const char *sub, enum dav_dialect dl)
{
    struct dav_opts o;
    struct err e = ERR_INIT;
    char url[256];
    struct dav *d;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/remote.php/dav/files/u%s", s->port, sub);
    dav_opts_init(&o);
    o.url = url;
    o.user = "u";
    o.password = "p";
    o.dialect = dl;
    o.max_retries = 3;
    o.retry_base_ms = 10;
    o.retry_max_ms = 200;
    o.connect_timeout_ms = 2000;
    d = dav_new(&o, &e);
    if (!d)
        fprintf(stderr, "dav_new: %s\n", e.msg);
    return d;
}

static void set_item(struct dav_bulk_item *it, const char *path, const void *data, size_t len,
                     long long mtime)
{
    memset(it, 0, sizeof(*it));
    it->path = path;
    it->data = data;
    it->len = len;
    it->mtime = mtime;
}

/* The file holds exactly data (and, when mtime > 0, that mtime). */
static void check_file(struct check_count *cc, struct dav *d, const char *path, const void *data,
                       size_t len, long long mtime)
{
    struct err e = ERR_INIT;
    struct dav_stat st;
    struct buf b;

    buf_init(&b, 4 << 20);
    CHECK_MSG(cc, dav_get_buf(d, path, &b, &e) == 0, "get \"%s\": %s", path, e.msg);
    CHECK_MSG(cc, b.len == len && (len == 0 || memcmp(b.data, data, len) == 0),
              "\"%s\": %zu bytes, want %zu", path, b.len, len);
    if (mtime > 0) {
        memset(&st, 0, sizeof(st));
        CHECK_MSG(cc, dav_stat(d, path, &st, &e) == 0, "stat \"%s\": %s", path, e.msg);
        CHECK_MSG(cc, st.mtime == mtime, "\"%s\": mtime %lld, want %lld", path, st.mtime, mtime);
        dav_stat_release(&st);
    }
    buf_release(&b);
}

static void test_bulk(struct check_count *cc, struct server *s)
{
    struct err e = ERR_INIT;
    struct dav *top = open_dav(s, "/", DAV_DIALECT_NEXTCLOUD);
    struct dav *d = open_dav(s, "/Odoo/", DAV_DIALECT_NEXTCLOUD);
    struct dav_bulk_item it[6];
    static char big[DAV_BULK_FILE_MAX + 10];
    static const char unicode[] = "/SO019/caf\xc3\xa9 #1 100% 'quoted'.txt";

    if (!top || !d) {
        CHECK(cc, 0);
        goto out;
    }
    CHECK_MSG(cc, dav_mkcol(top, "/Odoo/SO019", 1, NULL, &e) == 0, "mkcol: %s", e.msg);
    CHECK_INT(cc, dav_bulk_supported(d), 1);
    CHECK_INT(cc, count_log(s, "GET", "/ocs/v2.php/cloud/capabilities?format=json", 200), 1);
    memset(big, 'B', sizeof(big));
    set_item(&it[0], "/SO019/offer.txt", "commercial offer\n", 17, 1700000000);
    set_item(&it[1], unicode, "unicode\r\nbytes\0here", 19, 1600000000);
    set_item(&it[2], "/SO019/empty", NULL, 0, 0);
    set_item(&it[3], "/Missing/x.txt", "nowhere", 7, 0);
    set_item(&it[4], "/SO019/big.bin", big, sizeof(big), 0);
    set_item(&it[5], "SO019//a/../b", "bad", 3, 0);
    CHECK_INT(cc, dav_bulk_upload(d, it, 6, &e), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(cc, it[i].rc == 0, "item %d: %d %s", i, it[i].rc, it[i].message);
        CHECK_INT(cc, it[i].via_bulk, 1);
        CHECK_MSG(cc, it[i].etag[0] == '"', "item %d etag \"%s\"", i, it[i].etag);
        CHECK_MSG(cc, strstr(it[i].fileid, "ocinstance") != NULL, "item %d fileid \"%s\"", i,
                  it[i].fileid);
    }
    /* the missing folder fails alone, with Nextcloud's words */
    CHECK_INT(cc, it[3].rc, ERR_SERVER);
    CHECK_INT(cc, it[3].via_bulk, 1);
    CHECK_MSG(cc, strstr(it[3].message, "Could not create path") != NULL, "message: %s",
              it[3].message);
    /* too big for a bulk part: a PUT */
    CHECK_INT(cc, it[4].rc, 0);
    CHECK_INT(cc, it[4].via_bulk, 0);
    CHECK(cc, it[4].fileid[0] != '\0');
    /* ".." is refused before anything is sent */
    CHECK_INT(cc, it[5].rc, ERR_INVALID);
    /* e carries the first failure */
    CHECK_MSG(cc, strstr(e.msg, "/Missing/x.txt") != NULL, "e: %s", e.msg);
    CHECK_INT(cc, count_log(s, "POST", "/remote.php/dav/bulk", 200), 1);
    CHECK_INT(cc, count_log(s, "PUT", "/remote.php/dav/files/u/Odoo/SO019/big.bin", -1), 1);
    CHECK_INT(cc, count_log(s, "PUT", "/remote.php/dav/files/u/Odoo/SO019/offer.txt", -1), 0);
    check_file(cc, d, "/SO019/offer.txt", "commercial offer\n", 17, 1700000000);
    check_file(cc, d, unicode, "unicode\r\nbytes\0here", 19, 1600000000);
    check_file(cc, d, "/SO019/empty", "", 0, 0);
    check_file(cc, d, "/SO019/big.bin", big, sizeof(big), 0);
    CHECK_INT(cc, dav_stat(d, "/Missing/x.txt", &(struct dav_stat){0}, &e), ERR_NOTFOUND);
    /* the capabilities were asked once for this handle */
    CHECK_INT(cc, count_log(s, "GET", "/ocs/v2.php/cloud/capabilities?format=json", -1), 1);
out:
    dav_free(top);
    dav_free(d);
}

static void test_many(struct check_count *cc, struct server *s)
{
    enum { N = 150 };
    struct err e = ERR_INIT;
    struct dav *d = open_dav(s, "/", DAV_DIALECT_NEXTCLOUD);
    struct dav_bulk_item *it = calloc(N, sizeof(*it));
    static char paths[N][64], data[N][32];
    int ok = 0, posts_before = count_log(s, "POST", "/remote.php/dav/bulk", 200);

    if (!d || !it) {
        CHECK(cc, 0);
        goto out;
    }
    CHECK_MSG(cc, dav_mkcol(d, "/many", 0, NULL, &e) == 0, "mkcol: %s", e.msg);
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/many/f%03d.txt", i);
        snprintf(data[i], sizeof(data[i]), "file %d", i);
        set_item(&it[i], paths[i], data[i], strlen(data[i]), 0);
    }
    CHECK_INT(cc, dav_bulk_upload(d, it, N, &e), 0);
    for (int i = 0; i < N; i++)
        ok += it[i].rc == 0 && it[i].via_bulk == 1;
    CHECK_INT(cc, ok, N);
    CHECK_INT(cc, count_log(s, "POST", "/remote.php/dav/bulk", 200) - posts_before, 2);
    for (int i = 0; i < N; i += 37)
        check_file(cc, d, paths[i], data[i], strlen(data[i]), 0);
    check_file(cc, d, paths[N - 1], data[N - 1], strlen(data[N - 1]), 0);
out:
    free(it);
    dav_free(d);
}

/* The rule server answers the first POST 503 (retried), then serves. */
static void test_retry(struct check_count *cc, struct server *s)
{
    struct err e = ERR_INIT;
    struct dav *d = open_dav(s, "/", DAV_DIALECT_NEXTCLOUD);
    struct dav_bulk_item it[1];

    if (!d) {
        CHECK(cc, 0);
        return;
    }
    set_item(&it[0], "/retried.txt", "again", 5, 0);
    CHECK_MSG(cc, dav_bulk_upload(d, it, 1, &e) == 0 && it[0].rc == 0, "bulk: %s", e.msg);
    CHECK_INT(cc, it[0].via_bulk, 1);
    CHECK_INT(cc, count_log(s, "POST", "/remote.php/dav/bulk", 503), 1);
    CHECK_INT(cc, count_log(s, "POST", "/remote.php/dav/bulk", 200), 1);
    check_file(cc, d, "/retried.txt", "again", 5, 0);
    dav_free(d);
}

/* Capabilities say bulk, POST says 404: PUTs, and the handle stops posting. */
static void test_post_404(struct check_count *cc, struct server *s)
{
    struct err e = ERR_INIT;
    struct dav *d = open_dav(s, "/", DAV_DIALECT_NEXTCLOUD);
    struct dav_bulk_item it[2];

    if (!d) {
        CHECK(cc, 0);
        return;
    }
    set_item(&it[0], "/a404.txt", "aa", 2, 0);
    set_item(&it[1], "/b404.txt", "bbb", 3, 0);
    CHECK_INT(cc, dav_bulk_upload(d, it, 2, &e), 0);
    CHECK(cc, it[0].rc == 0 && it[1].rc == 0 && !it[0].via_bulk && !it[1].via_bulk);
    CHECK_INT(cc, count_log(s, "POST", "/remote.php/dav/bulk", 404), 1);
    CHECK_INT(cc, dav_bulk_supported(d), 0);
    set_item(&it[0], "/c404.txt", "c", 1, 0);
    CHECK_INT(cc, dav_bulk_upload(d, it, 1, &e), 0);
    CHECK_INT(cc, count_log(s, "POST", "/remote.php/dav/bulk", -1), 1);
    check_file(cc, d, "/a404.txt", "aa", 2, 0);
    check_file(cc, d, "/b404.txt", "bbb", 3, 0);
    check_file(cc, d, "/c404.txt", "c", 1, 0);
    dav_free(d);
}

/* No bulk in the capabilities: every file by PUT, errors per file. */
static void test_no_bulk(struct check_count *cc, struct server *s)
{
    struct err e = ERR_INIT;
    struct dav *d = open_dav(s, "/", DAV_DIALECT_NEXTCLOUD);
    struct dav *g = open_dav(s, "/", DAV_DIALECT_GENERIC);
    struct dav_bulk_item it[3];

    if (!d || !g) {
        CHECK(cc, 0);
        goto out;
    }
    CHECK_INT(cc, dav_bulk_supported(d), 0);
    CHECK_INT(cc, dav_bulk_supported(g), 0);
    set_item(&it[0], "/one.txt", "one", 3, 1650000000);
    set_item(&it[1], "/Nope/two.txt", "two", 3, 0);
    set_item(&it[2], "/three.txt", "three", 5, 0);
    CHECK_INT(cc, dav_bulk_upload(d, it, 3, &e), 0);
    CHECK(cc, it[0].rc == 0 && it[2].rc == 0);
    CHECK(cc, !it[0].via_bulk && !it[1].via_bulk && !it[2].via_bulk);
    CHECK_INT(cc, it[1].rc, ERR_NOTFOUND);
    CHECK(cc, it[0].fileid[0] != '\0');
    check_file(cc, d, "/one.txt", "one", 3, 1650000000);
    check_file(cc, d, "/three.txt", "three", 5, 0);
    set_item(&it[0], "/generic.txt", "g", 1, 0);
    CHECK_INT(cc, dav_bulk_upload(g, it, 1, &e), 0);
    CHECK_INT(cc, it[0].rc, 0);
    CHECK_INT(cc, count_log(s, "POST", "/remote.php/dav/bulk", -1), 0);
    CHECK_INT(cc, count_log(s, "PUT", "/remote.php/dav/files/u/generic.txt", 201), 1);
out:
    dav_free(d);
    dav_free(g);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct err e = ERR_INIT;
    struct server bulk = {-1, -1, ""}, plain = {-1, -1, ""}, flaky = {-1, -1, ""},
                  gone = {-1, -1, ""};

    CHECK_INT(&cc, dav_global_init(&e), 0);
    signal(SIGPIPE, SIG_IGN);
    CHECK(&cc, start_server(&bulk, 0, 0, NULL) > 0);
    CHECK(&cc, start_server(&plain, 1, 1, NULL) > 0);
    CHECK(&cc, start_server(&flaky, 2, 0, "POST /remote.php/dav/bulk 503") > 0);
    CHECK(&cc, start_server(&gone, 3, 0, "POST /remote.php/dav/bulk 404") > 0);
    if (bulk.port > 0 && plain.port > 0 && flaky.port > 0 && gone.port > 0) {
        test_bulk(&cc, &bulk);
        test_many(&cc, &bulk);
        test_retry(&cc, &flaky);
        test_post_404(&cc, &gone);
        test_no_bulk(&cc, &plain);
    }
    stop_server(&bulk);
    stop_server(&plain);
    stop_server(&flaky);
    stop_server(&gone);
    dav_global_cleanup();
    return check_done(&cc);
}
