/*
 * The DNS + TLS session share of the WebDAV client (struct dav_share)
 * against the stack's real Apache, over http:// (DAV_URL) and https:// with
 * HTTP/2 (DAV_TLS_URL, the stack's self-signed certificate as the CA):
 *  - several threads, each with its own handle, all on one share, run many
 *    PUT / GET / PROPFIND each: every call succeeds and each handle opens
 *    at most a couple of connections (keep-alive: CURLINFO_NUM_CONNECTS
 *    summed by dav_stats stays low), under ASan in CI;
 *  - TLS sessions really are shared: a second handle on the same share
 *    resumes the session the first one negotiated (Apache logs mod_ssl's
 *    SSL_SESSION_RESUMED = "Resumed"), a handle without the share does a
 *    full handshake ("Initial"). Over HTTP/1.1 (opts.http1): Apache's
 *    mod_http2 never resumes a session on an h2 connection (see dav.h).
 * Everything happens under /share-<pid>-<time>, removed at the end.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dav.h"
#include "stackenv.h"

#define THREADS 4
#define ITERS 20

static char root[128];

static struct dav *open_dav(const char *url, const char *ca, struct dav_share *share, int http1)
{
    struct dav_opts o;
    struct err e = ERR_INIT;
    struct dav *d;

    dav_opts_init(&o);
    o.url = url;
    o.user = stackenv_get("DAV_USER");
    o.password = stackenv_get("DAV_PASSWORD");
    o.ca_file = ca;
    o.share = share;
    o.http1 = http1;
    o.retry_base_ms = 10;
    o.max_retries = 2;
    d = dav_new(&o, &e);
    if (!d)
        fprintf(stderr, "dav_new: %s\n", e.msg);
    return d;
}

struct worker {
    pthread_t tid;
    const char *url, *ca, *tag;
    struct dav_share *share;
    int id;
    /* results */
    int done, fails;
    char err[600];
    struct dav_stats st;
};

static void fail(struct worker *w, const char *what, const struct err *e)
{
    if (!w->fails++)
        snprintf(w->err, sizeof(w->err), "%s: %s", what, e ? e->msg : "");
}

static void *work(void *ud)
{
    struct worker *w = ud;
    struct dav *d = open_dav(w->url, w->ca, w->share, 0);
    struct buf got;

    buf_init(&got, 4096);
    if (!d) {
        fail(w, "dav_new", NULL);
        goto out;
    }
    for (int j = 0; j < ITERS; j++) {
        char path[256], body[128];
        struct err e = ERR_INIT;
        struct dav_stat st;

        snprintf(path, sizeof(path), "%s/%s-%d-%d.txt", root, w->tag, w->id, j);
        snprintf(body, sizeof(body), "thread %d iteration %d over %s\n", w->id, j, w->tag);
        if (dav_put_buf(d, path, body, strlen(body), NULL, 0, NULL, &e) < 0) {
            fail(w, "put", &e);
            continue;
        }
        if (dav_get_buf(d, path, &got, &e) < 0) {
            fail(w, "get", &e);
            continue;
        }
        if (got.len != strlen(body) || memcmp(got.data, body, got.len) != 0)
            fail(w, "get: wrong content", NULL);
        memset(&st, 0, sizeof(st));
        if (dav_stat(d, path, &st, &e) < 0)
            fail(w, "stat", &e);
        else if (st.size != (long long)strlen(body) || !st.etag)
            fail(w, "stat: wrong size or no etag", NULL);
        dav_stat_release(&st);
        w->done++;
    }
    dav_stats(d, &w->st);
out:
    dav_free(d);
    buf_release(&got);
    return NULL;
}

/* THREADS handles on one share, ITERS x (PUT, GET, PROPFIND) each. */
static void test_threads(struct check_count *cc, const char *url, const char *ca, const char *tag,
                         long want_version)
{
    struct worker w[THREADS];
    struct err e = ERR_INIT;
    struct dav_share *share = dav_share_new(&e);

    CHECK_MSG(cc, share != NULL, "dav_share_new: %s", e.msg);
    if (!share)
        return;
    memset(w, 0, sizeof(w));
    for (int i = 0; i < THREADS; i++) {
        w[i].url = url;
        w[i].ca = ca;
        w[i].tag = tag;
        w[i].share = share;
        w[i].id = i;
        CHECK_INT(cc, pthread_create(&w[i].tid, NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(w[i].tid, NULL);
        CHECK_MSG(cc, w[i].fails == 0, "%s thread %d: %d failures, first: %s", tag, i, w[i].fails,
                  w[i].err);
        CHECK_INT(cc, w[i].done, ITERS);
        CHECK_MSG(cc, w[i].st.requests >= 3 * ITERS, "%s thread %d: %ld requests", tag, i,
                  w[i].st.requests);
        /* keep-alive: one connection for all of them (two if the server closed one) */
        CHECK_MSG(cc, w[i].st.connects >= 1 && w[i].st.connects <= 2,
                  "%s thread %d: %ld connections for %ld requests", tag, i, w[i].st.connects,
                  w[i].st.requests);
        CHECK_MSG(cc, w[i].st.http_version == want_version, "%s thread %d: HTTP version %ld", tag,
                  i, w[i].st.http_version);
        printf("%s thread %d: %ld requests, %ld connections, HTTP %ld\n", tag, i, w[i].st.requests,
               w[i].st.connects, w[i].st.http_version);
    }
    dav_share_free(share);
}

/* The mod_ssl SSL_SESSION_RESUMED word Apache logged for the request on path, or "". */
static void tls_log_word(const char *path, char out[64])
{
    const char *logp = stackenv_get("DAV_TLS_LOG");
    char line[2048], want[600];

    out[0] = '\0';
    snprintf(want, sizeof(want), " %s ", path);
    for (int tries = 0; tries < 100 && !out[0]; tries++) {
        FILE *f = fopen(logp, "r");

        if (f) {
            while (fgets(line, sizeof(line), f))
                if (strstr(line, want))
                    sscanf(line, "%63s", out);
            fclose(f);
        }
        if (!out[0])
            usleep(50 * 1000);
    }
}

/* One request with a fresh handle; returns what Apache logged about its TLS session. */
static void probe(struct check_count *cc, struct dav_share *share, const char *name, char word[64])
{
    char path[256], urlpath[512];
    struct err e = ERR_INIT;
    struct dav *d = open_dav(stackenv_get("DAV_TLS_URL"), stackenv_get("DAV_TLS_CA"), share, 1);
    struct dav_stats st;

    word[0] = '\0';
    CHECK(cc, d != NULL);
    if (!d)
        return;
    snprintf(path, sizeof(path), "%s/%s", root, name);
    CHECK_MSG(cc, dav_put_buf(d, path, "x", 1, NULL, 0, NULL, &e) == 0, "put %s: %s", name, e.msg);
    dav_stats(d, &st);
    CHECK_INT(cc, st.connects, 1);
    CHECK_INT(cc, st.http_version, 11);
    dav_free(d);
    /* the request line Apache logs: %U is the decoded path */
    snprintf(urlpath, sizeof(urlpath), "/dav%s", path);
    tls_log_word(urlpath, word);
}

static void test_tls_sessions(struct check_count *cc)
{
    struct err e = ERR_INIT;
    struct dav_share *share = dav_share_new(&e);
    char a[64], b[64], c[64];

    CHECK(cc, share != NULL);
    if (!share)
        return;
    probe(cc, share, "first.txt", a);   /* full handshake, session kept in the share */
    probe(cc, share, "second.txt", b);  /* another handle: resumes it */
    probe(cc, NULL, "unshared.txt", c); /* no share: nothing to resume */
    CHECK_STR(cc, a, "Initial");
    CHECK_STR(cc, b, "Resumed");
    CHECK_STR(cc, c, "Initial");
    dav_share_free(share);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct err e = ERR_INIT;
    struct dav *d = NULL;

    if (stackenv_load() < 0 || !getenv("DAV_URL")) {
        fprintf(stderr, "no stack env (ODOOSYNC_STACK_ENV)\n");
        return 1;
    }
    if (!getenv("DAV_TLS_URL")) {
        fprintf(stderr, "the stack has no DAV_TLS_URL (mod_ssl, mod_http2, openssl missing?)\n");
        return 1;
    }
    CHECK_INT(&cc, dav_global_init(&e), 0);
    snprintf(root, sizeof(root), "/share-%ld-%ld", (long)getpid(), (long)time(NULL));
    d = open_dav(stackenv_get("DAV_URL"), NULL, NULL, 0);
    CHECK(&cc, d != NULL);
    if (!d)
        return check_done(&cc);
    CHECK_MSG(&cc, dav_mkcol(d, root, 0, NULL, &e) == 0, "mkcol: %s", e.msg);

    test_threads(&cc, stackenv_get("DAV_URL"), NULL, "http", 11);
    test_threads(&cc, stackenv_get("DAV_TLS_URL"), stackenv_get("DAV_TLS_CA"), "https", 20);
    test_tls_sessions(&cc);

    CHECK_MSG(&cc, dav_delete(d, root, NULL, &e) == 0, "cleanup: %s", e.msg);
    dav_free(d);
    dav_global_cleanup();
    return check_done(&cc);
}
