/*
 * HTTP/2 of the WebDAV client against the stack's real Apache over TLS
 * (DAV_TLS_URL: mod_ssl + mod_http2, "Protocols h2 http/1.1", ALPN; the
 * stack's self-signed certificate trusted through opts.ca_file):
 *  - MKCOL, PUT of a known size, PUT of an unknown size (no chunked
 *    encoding in h2), GET, MOVE, PROPFIND and DELETE all answer over
 *    HTTP/2 (dav_stats().http_version == 20, from CURLINFO_HTTP_VERSION)
 *    and Apache logs them as HTTP/2.0;
 *  - 24 MiB streamed up (dav_put) and down (dav_get) over h2, sha1 equal;
 *  - a PROPFIND of 1,500 entries streamed over h2 to a consumer that is
 *    slow now and then (the client may pause the stream) sees every entry;
 *  - the same handle on plain http:// speaks HTTP/1.1; opts.http1 keeps
 *    HTTP/1.1 over TLS too;
 *  - without the CA the certificate is refused (verification stays on).
 * Everything happens under /h2-<pid>-<time>, removed at the end.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dav.h"
#include "sha.h"
#include "stackenv.h"

#define LISTING 1500

static char root[128];

static const char *P(const char *rel)
{
    static char b[4][512];
    static int i;

    i = (i + 1) % 4;
    snprintf(b[i], sizeof(b[i]), "%s%s", root, rel);
    return b[i];
}

static struct dav *open_dav(const char *url, const char *ca, int http1)
{
    struct dav_opts o;
    struct err e = ERR_INIT;
    struct dav *d;

    dav_opts_init(&o);
    o.url = url;
    o.user = stackenv_get("DAV_USER");
    o.password = stackenv_get("DAV_PASSWORD");
    o.ca_file = ca;
    o.http1 = http1;
    o.retry_base_ms = 10;
    o.max_retries = 1;
    d = dav_new(&o, &e);
    if (!d)
        fprintf(stderr, "dav_new: %s\n", e.msg);
    return d;
}

static long version(struct dav *d)
{
    struct dav_stats st;

    dav_stats(d, &st);
    return st.http_version;
}

/* A source of unknown size: n bytes of a pattern. */
struct pat {
    size_t n, pos;
};

static size_t pat_read(char *b, size_t n, void *ud)
{
    struct pat *p = ud;
    size_t k = p->n - p->pos < n ? p->n - p->pos : n;

    for (size_t i = 0; i < k; i++)
        b[i] = (char)('a' + (p->pos + i) % 26);
    p->pos += k;
    return k;
}

static int pat_rewind(void *ud)
{
    ((struct pat *)ud)->pos = 0;
    return 0;
}

struct count {
    long files;
    long slow;
};

static int count_cb(const struct dav_entry *ent, void *ud)
{
    struct count *c = ud;

    if (!ent->is_dir)
        c->files++;
    /* a slow consumer now and then: the client pauses the h2 stream meanwhile */
    if (++c->slow % 300 == 0)
        usleep(20 * 1000);
    return 0;
}

/* How many lines of the TLS access log carry " HTTP/2.0 " and the path. */
static int log_h2(const char *method, const char *path)
{
    char line[2048], want[700];
    FILE *f = fopen(stackenv_get("DAV_TLS_LOG"), "r");
    int n = 0;

    if (!f)
        return -1;
    snprintf(want, sizeof(want), " HTTP/2.0 %s /dav%s ", method, path);
    while (fgets(line, sizeof(line), f))
        if (strstr(line, want))
            n++;
    fclose(f);
    return n;
}

static void test_h2_ops(struct check_count *cc, struct dav *d)
{
    struct err e = ERR_INIT;
    struct dav_put_req req;
    struct dav_result res;
    struct pat src = {200000, 0};
    struct dav_stat st;
    struct buf b;
    char *big = malloc(300000);

    buf_init(&b, 1 << 20);
    CHECK_MSG(cc, dav_mkcol(d, root, 0, NULL, &e) == 0, "mkcol: %s", e.msg);
    CHECK_INT(cc, version(d), 20);
    for (int i = 0; i < 300000; i++)
        big[i] = (char)(i * 7);
    CHECK_MSG(cc, dav_put_buf(d, P("/known.bin"), big, 300000, NULL, 1, &res, &e) == 0, "put: %s",
              e.msg);
    CHECK_INT(cc, version(d), 20);
    CHECK_INT(cc, res.status, 201);

    memset(&req, 0, sizeof(req));
    req.read = pat_read;
    req.rewind = pat_rewind;
    req.ud = &src;
    req.size = -1;
    req.create_only = 1;
    CHECK_MSG(cc, dav_put(d, P("/unknown.txt"), &req, NULL, &e) == 0, "put -1: %s", e.msg);
    CHECK_INT(cc, version(d), 20);

    CHECK_MSG(cc, dav_get_buf(d, P("/known.bin"), &b, &e) == 0, "get: %s", e.msg);
    CHECK_INT(cc, version(d), 20);
    CHECK(cc, b.len == 300000 && memcmp(b.data, big, 300000) == 0);
    CHECK_MSG(cc, dav_get_buf(d, P("/unknown.txt"), &b, &e) == 0, "get: %s", e.msg);
    CHECK_INT(cc, b.len, 200000);
    CHECK(cc, b.len == 200000 && b.data[0] == 'a' && b.data[199999] == (char)('a' + 199999 % 26));

    CHECK_MSG(cc, dav_move(d, P("/unknown.txt"), P("/moved.txt"), 0, NULL, &e) == 0, "move: %s",
              e.msg);
    CHECK_INT(cc, version(d), 20);
    memset(&st, 0, sizeof(st));
    CHECK_MSG(cc, dav_stat(d, P("/moved.txt"), &st, &e) == 0, "stat: %s", e.msg);
    CHECK_INT(cc, st.size, 200000);
    dav_stat_release(&st);
    CHECK_INT(cc, version(d), 20);
    CHECK_MSG(cc, dav_delete(d, P("/moved.txt"), NULL, &e) == 0, "delete: %s", e.msg);
    CHECK_INT(cc, version(d), 20);

    /* the server's side of it */
    CHECK_INT(cc, log_h2("PUT", P("/known.bin")), 1);
    CHECK_INT(cc, log_h2("GET", P("/known.bin")), 1);
    CHECK_INT(cc, log_h2("PROPFIND", P("/moved.txt")), 1);
    buf_release(&b);
    free(big);
}

static size_t sha_sink(const char *p, size_t n, void *ud)
{
    struct err e = ERR_INIT;

    return sha1_update(ud, p, n, &e) == 0 ? n : 0;
}

/* 24 MiB streamed up and down over h2 (flow control both ways), sha1 compared. */
static void test_h2_big(struct check_count *cc, struct dav *d)
{
    struct pat src = {24u << 20, 0};
    struct err e = ERR_INIT;
    struct dav_put_req req;
    struct sha1_ctx up, down;
    char want[SHA1_HEX_SIZE], got[SHA1_HEX_SIZE], chunk[65536];
    size_t n;

    CHECK_INT(cc, sha1_init(&up, &e), 0);
    while ((n = pat_read(chunk, sizeof(chunk), &src)) > 0)
        sha1_update(&up, chunk, n, &e);
    CHECK_INT(cc, sha1_final(&up, want, &e), 0);
    src.pos = 0;
    memset(&req, 0, sizeof(req));
    req.read = pat_read;
    req.rewind = pat_rewind;
    req.ud = &src;
    req.size = (long long)src.n;
    CHECK_MSG(cc, dav_put(d, P("/big.bin"), &req, NULL, &e) == 0, "put big: %s", e.msg);
    CHECK_INT(cc, version(d), 20);
    CHECK_INT(cc, sha1_init(&down, &e), 0);
    CHECK_MSG(cc, dav_get(d, P("/big.bin"), sha_sink, &down, NULL, &e) == 0, "get big: %s", e.msg);
    CHECK_INT(cc, version(d), 20);
    CHECK_INT(cc, sha1_final(&down, got, &e), 0);
    CHECK_STR(cc, got, want);
    CHECK_MSG(cc, dav_delete(d, P("/big.bin"), NULL, &e) == 0, "delete: %s", e.msg);
}

static void test_h2_listing(struct check_count *cc, struct dav *d)
{
    const char *dir = stackenv_get("DAV_ROOT_DIR");
    struct err e = ERR_INIT;
    struct count c = {0, 0};
    char path[1024];
    int made = 0;

    /* written straight into the served folder: much faster than 1,500 PUTs */
    snprintf(path, sizeof(path), "%s%s/many", dir, root);
    CHECK_INT(cc, mkdir(path, 0775), 0);
    for (int i = 0; i < LISTING; i++) {
        int fd;

        snprintf(path, sizeof(path), "%s%s/many/file with a longish name %05d.txt", dir, root, i);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0664);
        if (fd >= 0) {
            made++;
            close(fd);
        }
    }
    CHECK_INT(cc, made, LISTING);
    CHECK_MSG(cc, dav_propfind(d, P("/many"), 1, count_cb, &c, &e) == 0, "propfind: %s", e.msg);
    CHECK_INT(cc, c.files, LISTING);
    CHECK_INT(cc, version(d), 20);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct err e = ERR_INIT;
    struct dav *d = NULL, *plain = NULL, *h1 = NULL, *noca = NULL;
    struct dav_stats st;

    if (stackenv_load() < 0 || !getenv("DAV_URL")) {
        fprintf(stderr, "no stack env (ODOOSYNC_STACK_ENV)\n");
        return 1;
    }
    if (!getenv("DAV_TLS_URL")) {
        fprintf(stderr, "the stack has no DAV_TLS_URL (mod_ssl, mod_http2, openssl missing?)\n");
        return 1;
    }
    CHECK_INT(&cc, dav_global_init(&e), 0);
    snprintf(root, sizeof(root), "/h2-%ld-%ld", (long)getpid(), (long)time(NULL));
    d = open_dav(stackenv_get("DAV_TLS_URL"), stackenv_get("DAV_TLS_CA"), 0);
    plain = open_dav(stackenv_get("DAV_URL"), NULL, 0);
    h1 = open_dav(stackenv_get("DAV_TLS_URL"), stackenv_get("DAV_TLS_CA"), 1);
    noca = open_dav(stackenv_get("DAV_TLS_URL"), NULL, 0);
    CHECK(&cc, d && plain && h1 && noca);
    if (!d || !plain || !h1 || !noca)
        goto out;

    test_h2_ops(&cc, d);
    test_h2_big(&cc, d);
    test_h2_listing(&cc, d);
    dav_stats(d, &st);
    CHECK_MSG(&cc, st.connects == 1, "%ld connections for %ld requests over h2", st.connects,
              st.requests);

    /* plain http:// and opts.http1: HTTP/1.1 */
    CHECK_MSG(&cc, dav_put_buf(plain, P("/plain.txt"), "p", 1, NULL, 1, NULL, &e) == 0, "put: %s",
              e.msg);
    CHECK_INT(&cc, version(plain), 11);
    CHECK_MSG(&cc, dav_put_buf(h1, P("/h1.txt"), "h", 1, NULL, 1, NULL, &e) == 0, "put: %s", e.msg);
    CHECK_INT(&cc, version(h1), 11);

    /* no CA: the self-signed certificate is refused, not retried into a success */
    CHECK(&cc, dav_put_buf(noca, P("/noca.txt"), "n", 1, NULL, 1, NULL, &e) < 0);
    CHECK_MSG(&cc, strstr(e.msg, "certificate") != NULL, "no-CA error: %s", e.msg);

    CHECK_MSG(&cc, dav_delete(d, root, NULL, &e) == 0, "cleanup: %s", e.msg);
out:
    dav_free(d);
    dav_free(plain);
    dav_free(h1);
    dav_free(noca);
    dav_global_cleanup();
    return check_done(&cc);
}
