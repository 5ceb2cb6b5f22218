/*
 * Fault tests of the WebDAV client against tests/integration/dav_fault_server.py,
 * started here on a free loopback port with a queue of faults per request:
 * 503 then success (retried), Retry-After honoured (measured), retries
 * exhausted (ERR_RETRY), a connection reset mid-upload (retried from the
 * first byte, never a half file), a listing cut mid-body, a malformed or
 * non-multistatus PROPFIND answer (ERR_PROTO), and a refused connection.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dav.h"
#include "link.h"
#include "sha.h"

static pid_t server_pid = -1;
static char log_path[256];

static const char *const rules[] = {
    "PUT /dav/retry.txt 503,502",
    "PUT /dav/after.txt 503ra1",
    "GET /dav/busy.txt 429,429,429,429,429",
    "PUT /dav/reset.bin reset",
    "PUT /dav/reset-norewind.bin reset",
    "PROPFIND /dav/bad malformed",
    "PROPFIND /dav/html html",
    "PROPFIND /dav/ 503",
    "PROPFIND /dav/cut cutlist,cutlist,cutlist,cutlist",
    "GET /dav/slow.txt 503ra100,503ra100",
    "PUT /remote.php/dav/uploads/u/odoosync-* ok,ok,reset",
    "MOVE /dav/locked-dir partial",
    "MKCOL /dav/mkbusy 423,423",
    "MKCOL /dav/mkstuck 423,423,423,423,423,423",
};

/* Start the fault server; returns its port or -1. */
static int start_server(void)
{
    const char *src = getenv("ODOOSYNC_SOURCE_DIR");
    char script[1024], line[128];
    const char *argv[64];
    int fds[2], argc = 0, port = -1;
    FILE *f;

    snprintf(script, sizeof(script), "%s/tests/integration/dav_fault_server.py", src ? src : "..");
    snprintf(log_path, sizeof(log_path), "/tmp/dav-faults-%ld.log", (long)getpid());
    unlink(log_path);
    argv[argc++] = "/usr/bin/python3";
    argv[argc++] = script;
    argv[argc++] = "--log";
    argv[argc++] = log_path;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        argv[argc++] = "--rule";
        argv[argc++] = rules[i];
    }
    argv[argc] = NULL;
    if (pipe(fds) < 0)
        return -1;
    server_pid = fork();
    if (server_pid < 0)
        return -1;
    if (server_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    if (f && fgets(line, sizeof(line), f) && strncmp(line, "PORT ", 5) == 0)
        port = (int)strtol(line + 5, NULL, 10);
    if (f)
        fclose(f);
    return port;
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = -1;
    }
    unlink(log_path);
}

/* How many logged requests match method, path and (when not NULL) fault. */
static int count_log(const char *method, const char *path, const char *fault, long *bytes)
{
    char line[2048], m[64], p[512];
    FILE *f = fopen(log_path, "r");
    int n = 0;

    if (!f)
        return -1;
    snprintf(m, sizeof(m), "\"method\": \"%s\"", method);
    snprintf(p, sizeof(p), "\"path\": \"%s\"", path);
    while (fgets(line, sizeof(line), f)) {
        char fl[128];

        snprintf(fl, sizeof(fl), "\"fault\": \"%s\"", fault ? fault : "");
        if (strstr(line, m) && strstr(line, p) && (!fault || strstr(line, fl))) {
            const char *b = strstr(line, "\"body_bytes\": ");

            if (b && bytes)
                *bytes = strtol(b + 14, NULL, 10);
            n++;
        }
    }
    fclose(f);
    return n;
}

static struct dav *open_dav(int port, int retries)
{
    struct dav_opts o;
    struct err e = ERR_INIT;
    char url[128];
    struct dav *d;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/dav/", port);
    dav_opts_init(&o);
    o.url = url;
    o.user = "u";
    o.password = "p";
    o.max_retries = retries;
    o.retry_base_ms = 10;
    o.retry_max_ms = 3000;
    o.connect_timeout_ms = 2000;
    o.low_speed_secs = 10;
    d = dav_new(&o, &e);
    if (!d)
        fprintf(stderr, "dav_new: %s\n", e.msg);
    return d;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_503_then_ok(struct check_count *cc, struct dav *d)
{
    struct err e = ERR_INIT;
    struct buf b;

    CHECK_INT(cc, dav_put_buf(d, "/retry.txt", "hello", 5, NULL, 0, NULL, &e), 0);
    CHECK_INT(cc, count_log("PUT", "/dav/retry.txt", NULL, NULL), 3);
    buf_init(&b, 1024);
    CHECK_INT(cc, dav_get_buf(d, "/retry.txt", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "hello");
    buf_release(&b);
}

static void test_retry_after(struct check_count *cc, struct dav *d)
{
    struct err e = ERR_INIT;
    long long t0 = now_ms(), dt;

    CHECK_INT(cc, dav_put_buf(d, "/after.txt", "x", 1, NULL, 0, NULL, &e), 0);
    dt = now_ms() - t0;
    /* the backoff alone would be ~10 ms: Retry-After: 1 makes it a second */
    CHECK_MSG(cc, dt >= 900, "waited only %lld ms", dt);
    printf("Retry-After: 1 -> waited %lld ms\n", dt);
    CHECK_INT(cc, count_log("PUT", "/dav/after.txt", NULL, NULL), 2);
}

static void test_exhausted(struct check_count *cc, struct dav *d, struct dav *d0)
{
    struct err e = ERR_INIT;
    struct buf b;
    long long t0;

    buf_init(&b, 1024);
    CHECK_INT(cc, dav_get_buf(d, "/busy.txt", &b, &e), ERR_RETRY);
    CHECK_MSG(cc, strstr(e.msg, "429") != NULL, "%s", e.msg);
    CHECK_INT(cc, count_log("GET", "/dav/busy.txt", "429", NULL), 3); /* 1 + 2 retries */
    /* a Retry-After beyond the cap of all waits: give up at once, do not sleep 100 s */
    t0 = now_ms();
    CHECK_INT(cc, dav_get_buf(d0, "/slow.txt", &b, &e), ERR_RETRY);
    CHECK_MSG(cc, now_ms() - t0 < 2000, "took %lld ms", now_ms() - t0);
    CHECK_MSG(cc, strstr(e.msg, "Retry-After: 100") != NULL, "%s", e.msg);
    CHECK_INT(cc, count_log("GET", "/dav/slow.txt", NULL, NULL), 1);
    buf_release(&b);
}

struct gen {
    long long size, pos;
};

static unsigned char gen_byte(long long i)
{
    return (unsigned char)((i * 2654435761LL) >> 11);
}

static size_t gen_read(char *b, size_t n, void *ud)
{
    struct gen *g = ud;
    size_t k = 0;

    while (k < n && g->pos < g->size)
        b[k++] = (char)gen_byte(g->pos++);
    return k;
}

static int gen_rewind(void *ud)
{
    ((struct gen *)ud)->pos = 0;
    return 0;
}

static void test_reset_mid_upload(struct check_count *cc, struct dav *d)
{
    struct err e = ERR_INIT;
    struct dav_put_req req;
    struct gen g = {512 * 1024, 0};
    struct buf b;
    long bytes = -1;
    int bad = 0;

    memset(&req, 0, sizeof(req));
    req.read = gen_read;
    req.rewind = gen_rewind;
    req.ud = &g;
    req.size = g.size;
    CHECK_INT(cc, dav_put(d, "/reset.bin", &req, NULL, &e), 0);
    /* the first attempt was cut after half the body, the second sent it all */
    CHECK_INT(cc, count_log("PUT", "/dav/reset.bin", "reset", &bytes), 1);
    CHECK_MSG(cc, bytes > 0 && bytes < g.size, "first attempt got %ld bytes", bytes);
    CHECK_INT(cc, count_log("PUT", "/dav/reset.bin", "ok", &bytes), 1);
    CHECK_INT(cc, bytes, g.size);
    buf_init(&b, 1 << 20);
    CHECK_INT(cc, dav_get_buf(d, "/reset.bin", &b, &e), 0);
    CHECK_INT(cc, b.len, g.size);
    for (size_t i = 0; i < b.len; i++)
        if ((unsigned char)b.data[i] != gen_byte((long long)i))
            bad++;
    CHECK_INT(cc, bad, 0);
    /* a source that cannot rewind is not retried: an error, and no file */
    g.pos = 0;
    req.rewind = NULL;
    CHECK_INT(cc, dav_put(d, "/reset-norewind.bin", &req, NULL, &e), ERR_RETRY);
    CHECK_INT(cc, count_log("PUT", "/dav/reset-norewind.bin", NULL, NULL), 1);
    CHECK_INT(cc, dav_get_buf(d, "/reset-norewind.bin", &b, &e), ERR_NOTFOUND);
    buf_release(&b);
}

static int count_cb(const struct dav_entry *ent, void *ud)
{
    (void)ent;
    ++*(int *)ud;
    return 0;
}

static void test_propfind_faults(struct check_count *cc, struct dav *d)
{
    struct err e = ERR_INIT;
    int n = 0;

    CHECK_INT(cc, dav_propfind(d, "/bad", 1, count_cb, &n, &e), ERR_PROTO);
    CHECK_MSG(cc, strstr(e.msg, "malformed") != NULL, "%s", e.msg);
    CHECK_INT(cc, dav_propfind(d, "/html", 1, count_cb, &n, &e), ERR_PROTO);
    CHECK_MSG(cc, strstr(e.msg, "instead of 207") != NULL, "%s", e.msg);
    /* 503 then a real listing: /, retry.txt, after.txt, reset.bin */
    n = 0;
    CHECK_INT(cc, dav_propfind(d, "/", 1, count_cb, &n, &e), 0);
    CHECK_INT(cc, n, 4);
    CHECK_INT(cc, count_log("PROPFIND", "/dav/", NULL, NULL), 2);
    /* cut mid-body before any entry: retried, then ERR_RETRY */
    n = 0;
    CHECK_INT(cc, dav_propfind(d, "/cut", 1, count_cb, &n, &e), ERR_RETRY);
    CHECK_INT(cc, n, 0);
    CHECK_INT(cc, count_log("PROPFIND", "/dav/cut", "cutlist", NULL), 3);
}

/* Against a Nextcloud-like server: dialect, OC-Checksum sent, OC-FileId / OC-ETag kept. */
static void test_nextcloud_dialect(struct check_count *cc, int port)
{
    static const char sha[] = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"; /* sha1("test") */
    struct err e = ERR_INIT;
    struct dav *d = open_dav(port, 1);
    struct dav_put_req req;
    struct dav_result r;
    struct gen g = {4, 0};
    struct buf b;
    char want[128];

    if (!d)
        return;
    CHECK_INT(cc, dav_detect(d, &e), DAV_DIALECT_NEXTCLOUD);
    CHECK_STR(cc, dav_dialect_name(dav_dialect(d)), "nextcloud");
    memset(&req, 0, sizeof(req));
    memset(&r, 0, sizeof(r));
    req.read = gen_read;
    req.rewind = gen_rewind;
    req.ud = &g;
    req.size = g.size;
    req.sha1_hex = sha;
    CHECK_INT(cc, dav_put(d, "/nc.bin", &req, &r, &e), 0);
    CHECK(cc, r.fileid[0] != '\0' && strstr(r.fileid, "ocinstance") != NULL);
    CHECK_STR(cc, r.etag, "\"oc4\"");                              /* OC-ETag wins over ETag */
    CHECK_INT(cc, count_log("PUT", "/dav/nc.bin", NULL, NULL), 1); /* waits for the line */
    snprintf(want, sizeof(want), "\"checksum\": \"SHA1:%s\"", sha);
    {
        FILE *f = fopen(log_path, "r");
        char line[2048];
        int found = 0;

        while (f && fgets(line, sizeof(line), f))
            if (strstr(line, "/dav/nc.bin") && strstr(line, want))
                found = 1;
        if (f)
            fclose(f);
        CHECK_MSG(cc, found, "no OC-Checksum %s in the log", sha);
    }
    buf_init(&b, 1024);
    CHECK_INT(cc, dav_web_link(d, "/nc.bin", r.fileid, &b, &e), 0);
    {
        char id[LINK_FILEID_MAX];

        CHECK(cc, link_fileid_norm(r.fileid, id));
        snprintf(want, sizeof(want), "http://127.0.0.1:%d/index.php/f/%s", port, id);
    }
    CHECK_STR(cc, buf_str(&b), want);
    buf_release(&b);
    dav_free(d);
}

/* Requests whose path starts with prefix (and method), over the whole log. */
static int count_prefix(const char *method, const char *prefix, const char *also)
{
    char line[2048], m[64], p[512];
    FILE *f;
    int n = 0;

    f = fopen(log_path, "r");
    if (!f)
        return -1;
    snprintf(m, sizeof(m), "\"method\": \"%s\"", method);
    snprintf(p, sizeof(p), "\"path\": \"%s", prefix);
    while (fgets(line, sizeof(line), f))
        if (strstr(line, m) && strstr(line, p) && (!also || strstr(line, also)))
            n++;
    fclose(f);
    return n;
}

/* Nextcloud chunked upload v2, on the fault server's emulation of it. */
static void test_chunked(struct check_count *cc, int port)
{
    struct dav_opts o;
    struct err e = ERR_INIT;
    struct dav *d;
    struct dav_put_req req;
    struct dav_result r;
    struct gen g = {(1 << 20) + 12345, 0};
    struct sha1_ctx sc;
    char url[128], hex[SHA1_HEX_SIZE], want[128];
    struct buf b;
    int bad = 0;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/remote.php/dav/files/u/", port);
    dav_opts_init(&o);
    o.url = url;
    o.user = "u";
    o.password = "p";
    o.retry_base_ms = 10;
    o.dialect = DAV_DIALECT_NEXTCLOUD;
    o.chunk_threshold = 1 << 20;
    o.chunk_size = 256 * 1024;
    d = dav_new(&o, &e);
    if (!d)
        return;
    /* the sha1 of the generated content */
    buf_init(&b, 2 << 20);
    {
        char chunk[4096];
        size_t n;

        sha1_init(&sc, NULL);
        while ((n = gen_read(chunk, sizeof(chunk), &g)) > 0)
            sha1_update(&sc, chunk, n, NULL);
        sha1_final(&sc, hex, NULL);
        g.pos = 0;
    }
    memset(&req, 0, sizeof(req));
    memset(&r, 0, sizeof(r));
    req.read = gen_read;
    req.rewind = gen_rewind;
    req.ud = &g;
    req.size = g.size;
    req.sha1_hex = hex;
    req.create_only = 1;
    CHECK_MSG(cc, dav_put(d, "/big chunked.bin", &req, &r, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, count_prefix("MKCOL", "/remote.php/dav/uploads/u/odoosync-", NULL), 1);
    /* 5 chunks, the third one reset once and sent again from its own first byte */
    CHECK_INT(cc, count_prefix("PUT", "/remote.php/dav/uploads/u/odoosync-", NULL), 6);
    CHECK_INT(cc, count_prefix("PUT", "/remote.php/dav/uploads/u/odoosync-", "\"reset\""), 1);
    snprintf(want, sizeof(want), "\"checksum\": \"SHA1:%s\"", hex);
    CHECK_INT(cc, count_prefix("MOVE", "/remote.php/dav/uploads/u/odoosync-", want), 1);
    CHECK(cc, strstr(r.fileid, "ocinstance") != NULL);
    CHECK_INT(cc, r.status, 201);
    CHECK_INT(cc, dav_get_buf(d, "/big chunked.bin", &b, &e), 0);
    CHECK_INT(cc, b.len, g.size);
    for (size_t i = 0; i < b.len; i++)
        if ((unsigned char)b.data[i] != gen_byte((long long)i))
            bad++;
    CHECK_INT(cc, bad, 0);
    /* create-only onto the existing file: refused at the MOVE, upload folder deleted */
    g.pos = 0;
    CHECK_INT(cc, dav_put(d, "/big chunked.bin", &req, &r, &e), ERR_EXISTS);
    CHECK_INT(cc, count_prefix("DELETE", "/remote.php/dav/uploads/u/odoosync-", NULL), 1);
    /* a stale If-Match: refused before anything is sent */
    g.pos = 0;
    req.create_only = 0;
    req.if_match = "\"stale\"";
    CHECK_INT(cc, dav_put(d, "/big chunked.bin", &req, &r, &e), ERR_CONFLICT);
    CHECK_INT(cc, count_prefix("MKCOL", "/remote.php/dav/uploads/u/odoosync-", NULL), 2);
    buf_release(&b);
    dav_free(d);
}

/*
 * A MOVE answered 207 Multi-Status failed in part (mod_dav moves what it can and lists
 * the members it could not, e.g. a locked child): an error the job retries after a
 * re-read (ERR_CONFLICT), never a success.
 */
static void test_move_multistatus(struct check_count *cc, struct dav *d)
{
    struct err e = ERR_INIT;

    CHECK_INT(cc, dav_move(d, "/locked-dir", "/moved-dir", 0, NULL, &e), ERR_CONFLICT);
    CHECK(cc, strstr(e.msg, "207") != NULL);
    CHECK_INT(cc, count_log("MOVE", "/dav/locked-dir", "partial", NULL), 1);
}

/* A MKCOL answered 423 (Nextcloud: another request is making that folder) is asked again
 * a moment later; a lock that stays is ERR_RETRY. */
static void test_mkcol_locked(struct check_count *cc, struct dav *d)
{
    struct err e = ERR_INIT;

    CHECK_MSG(cc, dav_mkcol(d, "/mkbusy", 1, NULL, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, count_log("MKCOL", "/dav/mkbusy", "423", NULL), 2);
    CHECK_INT(cc, count_log("MKCOL", "/dav/mkbusy", "ok", NULL), 1);
    CHECK_INT(cc, dav_mkcol(d, "/mkstuck", 0, NULL, &e), ERR_RETRY);
    CHECK_MSG(cc, strstr(e.msg, "423") != NULL || strstr(e.msg, "locked") != NULL, "%s", e.msg);
    CHECK_INT(cc, count_log("MKCOL", "/dav/mkstuck", "423", NULL), 4);
}

static void test_refused(struct check_count *cc)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    struct err e = ERR_INIT;
    struct dav *d;
    struct buf b;
    int s = socket(AF_INET, SOCK_STREAM, 0), port;

    /* a port that was free a moment ago and has no listener */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(s, (struct sockaddr *)&sa, &sl);
    port = ntohs(sa.sin_port);
    close(s);
    d = open_dav(port, 1);
    buf_init(&b, 16);
    CHECK_INT(cc, dav_get_buf(d, "/x", &b, &e), ERR_RETRY);
    CHECK_MSG(cc, strstr(e.msg, "onnect") != NULL, "%s", e.msg);
    buf_release(&b);
    dav_free(d);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct err e = ERR_INIT;
    struct dav *d, *d0;
    int port;

    if (dav_global_init(&e) < 0)
        return 1;
    port = start_server();
    if (port <= 0) {
        fprintf(stderr, "cannot start dav_fault_server.py\n");
        stop_server();
        return 1;
    }
    d = open_dav(port, 2);
    d0 = open_dav(port, 3);
    if (!d || !d0) {
        stop_server();
        return 1;
    }
    test_503_then_ok(&cc, d);
    test_retry_after(&cc, d);
    test_exhausted(&cc, d, d0);
    test_reset_mid_upload(&cc, d);
    test_propfind_faults(&cc, d);
    test_nextcloud_dialect(&cc, port);
    test_chunked(&cc, port);
    test_move_multistatus(&cc, d);
    test_mkcol_locked(&cc, d);
    test_refused(&cc);
    dav_free(d);
    dav_free(d0);
    stop_server();
    dav_global_cleanup();
    return check_done(&cc);
}
