/*
 * dav: the WebDAV client (see dav.h for the API and the error mapping).
 *
 * Every request goes through run(): it sets the handle up from scratch
 * (curl_easy_reset keeps the connection cache), drives the transfer on the
 * handle's own CURLM (so keep-alive connections are shared by every kind
 * of request, PROPFIND included), and retries what may be retried:
 * network errors and 429/502/503/504, with exponential backoff and jitter,
 * honouring Retry-After, each wait capped and all waits of one call
 * capped. An upload is retried only when its source can rewind; a
 * download only while no byte has reached the consumer; a listing only
 * before the first entry.
 *
 * PROPFIND streams: the write callback fills a small buffer (pausing the
 * transfer when it holds more than DAV_STREAM_HIGH bytes) and the
 * multistatus parser pulls from it, driving the transfer itself
 * (curl_multi_perform/poll) when the buffer is empty. Memory is flat.
 *
 * Response bodies that are not streamed (error pages, PROPPATCH answers,
 * status.php) are kept up to opts.max_response bytes, the rest dropped.
 *
 * A struct dav_share wraps a CURLSH (DNS + TLS sessions) with its own
 * mutexes; setup() attaches it to every request of the handles that name it.
 * count_request() sums CURLINFO_NUM_CONNECTS and keeps the HTTP version for
 * dav_stats().
 *
 * Bulk upload (Nextcloud): the capabilities are asked once per handle; each
 * POST carries up to DAV_BULK_MAX_FILES parts built in memory (small files
 * only, so the body stays under DAV_BULK_MAX_BYTES plus headers) and is
 * retried like any request (rewriting the same content is harmless).
 */
#include "dav.h"
#include "dav_int.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "banned.h"

#define DAV_STREAM_HIGH (256 * 1024)
#define DAV_URL_MAX (64 * 1024)

/*
 * The share: one mutex per kind of data libcurl locks (it asks for
 * CURL_LOCK_DATA_SHARE, DNS and SSL_SESSION here), as its docs require.
 */
struct dav_share {
    CURLSH *sh;
    pthread_mutex_t mu[CURL_LOCK_DATA_LAST];
    int nmu; /* how many of mu are initialised */
};

struct dav {
    CURL *curl;
    CURLM *multi;
    struct dav_stats stats;
    int bulk;        /* Nextcloud bulk upload: -1 not asked yet, 0 no, 1 yes */
    char *ca_file;   /* owned copy of opts.ca_file */
    char *url;       /* base URL, ending in '/' */
    char *base_path; /* its path, e.g. "/dav/" */
    char *root;      /* server root: scheme://host[:port][/prefix before /remote.php] */
    char *user, *password, *user_agent;
    struct dav_opts o; /* numbers only; the strings above are the owned copies */
    enum dav_dialect dialect;
    unsigned int seed;
    int busy; /* inside a PROPFIND callback: the handle may not start another request */
    char errbuf[CURL_ERROR_SIZE];
};

/* One request: what to send and what came back. */
struct xfer {
    struct dav *d;
    const char *method; /* for messages */
    const char *path;
    /* sent */
    const char *body; /* small request body, or NULL */
    size_t body_len;
    const struct dav_put_req *put;
    long long sent;
    int src_abort, src_short;
    /* received */
    long status;
    char etag[256];
    char fileid[64];
    long retry_after_ms; /* -1 when absent */
    struct buf resp;     /* capped copy of a non-streamed body */
    size_t (*write)(const char *p, size_t n, void *ud);
    void *wud;
    long long got;
    int sink_abort;
    /* PROPFIND stream */
    int streaming;
    struct buf sbuf;
    size_t spos;
    int paused;
    unsigned long long total;
    int too_big;
    /* transfer state */
    int done;
    CURLcode result;
    /* bounds: bytes moved either way, when they last moved, whether the last pump waited */
    long long moved, seen_moved, quiet_since;
    int waited_last;
    int stalled;   /* nothing moved for the stall bound */
    long stall_ms; /* this request's stall bound when longer than o.stall_ms, else 0 */
    int stopped;   /* *o.stop was set */
};

void dav_opts_init(struct dav_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    o->timeout_ms = 0;
    o->low_speed_secs = 60;
    o->max_retries = 4;
    o->retry_base_ms = 500;
    o->retry_max_ms = 30000;
    o->retry_total_ms = 120000;
    o->dialect = DAV_DIALECT_AUTO;
    o->max_response = 1024 * 1024;
    o->max_listing = 4ULL << 30;
    o->chunk_threshold = 100LL << 20;
    o->chunk_size = 16LL << 20;
}

int dav_global_init(struct err *e)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return err_set(e, ERR_INTERNAL, "curl_global_init failed");
    xmlInitParser();
    return 0;
}

void dav_global_cleanup(void)
{
    xmlCleanupParser();
    curl_global_cleanup();
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access acc, void *ud)
{
    struct dav_share *s = ud;

    (void)h;
    (void)acc;
    if ((int)data >= 0 && (int)data < s->nmu)
        pthread_mutex_lock(&s->mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    struct dav_share *s = ud;

    (void)h;
    if ((int)data >= 0 && (int)data < s->nmu)
        pthread_mutex_unlock(&s->mu[data]);
}

void dav_share_free(struct dav_share *s)
{
    if (!s)
        return;
    if (s->sh)
        curl_share_cleanup(s->sh);
    for (int i = 0; i < s->nmu; i++)
        pthread_mutex_destroy(&s->mu[i]);
    free(s);
}

struct dav_share *dav_share_new(struct err *e)
{
    struct dav_share *s = calloc(1, sizeof(*s));
    int ok = 1;

    if (!s) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (; s->nmu < CURL_LOCK_DATA_LAST; s->nmu++) {
        if (pthread_mutex_init(&s->mu[s->nmu], NULL) != 0) {
            err_set(e, ERR_INTERNAL, "dav share: cannot create a mutex");
            goto fail;
        }
    }
    s->sh = curl_share_init();
    if (!s->sh) {
        err_set(e, ERR_INTERNAL, "dav share: curl_share_init failed");
        goto fail;
    }
    ok &= curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock) == CURLSHE_OK;
    ok &= curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock) == CURLSHE_OK;
    ok &= curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s) == CURLSHE_OK;
    ok &= curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) == CURLSHE_OK;
    ok &= curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) == CURLSHE_OK;
    /* no CURL_LOCK_DATA_CONNECT: unsupported across concurrent threads (see dav.h) */
    if (!ok) {
        err_set(e, ERR_INTERNAL, "dav share: curl_share_setopt failed");
        goto fail;
    }
    return s;
fail:
    dav_share_free(s);
    return NULL;
}

void dav_stats(const struct dav *d, struct dav_stats *out)
{
    *out = d->stats;
}

const char *dav_dialect_name(enum dav_dialect dl)
{
    switch (dl) {
    case DAV_DIALECT_GENERIC:
        return "generic";
    case DAV_DIALECT_NEXTCLOUD:
        return "nextcloud";
    case DAV_DIALECT_OWNCLOUD:
        return "owncloud";
    default:
        return "auto";
    }
}

enum dav_dialect dav_dialect(const struct dav *d)
{
    return d->dialect;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void dav_free(struct dav *d)
{
    if (!d)
        return;
    if (d->curl)
        curl_easy_cleanup(d->curl);
    if (d->multi)
        curl_multi_cleanup(d->multi);
    free(d->url);
    free(d->base_path);
    free(d->root);
    free(d->user);
    if (d->password) {
        memset(d->password, 0, strlen(d->password));
        free(d->password);
    }
    free(d->user_agent);
    free(d->ca_file);
    free(d);
}

/* Split the base URL: path and server root (see struct dav). */
static int parse_base(struct dav *d, struct err *e)
{
    const char *u = d->url, *sch = strstr(u, "://"), *p, *rp;

    if (!sch || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
        return err_set(e, ERR_INVALID, "dav url \"%s\" is not http(s)://host/path", u);
    p = strchr(sch + 3, '/');
    if (!p)
        return err_set(e, ERR_INVALID, "dav url \"%s\" has no path", u);
    if (strchr(p, '?') || strchr(p, '#'))
        return err_set(e, ERR_INVALID, "dav url \"%s\" must not have a query or fragment", u);
    d->base_path = strdup(p);
    rp = strstr(p, "/remote.php");
    d->root = rp ? strndup(u, (size_t)(rp - u)) : strndup(u, (size_t)(p - u));
    if (!d->base_path || !d->root)
        return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

struct dav *dav_new(const struct dav_opts *o, struct err *e)
{
    struct dav *d = NULL;
    size_t n;

    if (!o || !o->url || !*o->url) {
        err_set(e, ERR_INVALID, "dav: no url configured");
        return NULL;
    }
    d = calloc(1, sizeof(*d));
    if (!d)
        goto nomem;
    d->o = *o;
    d->o.url = d->o.user = d->o.password = d->o.user_agent = d->o.ca_file = NULL;
    d->bulk = o->no_bulk ? 0 : -1;
    if (d->o.max_response == 0)
        d->o.max_response = 1024 * 1024;
    if (d->o.max_listing == 0)
        d->o.max_listing = 4ULL << 30;
    if (d->o.max_retries < 0)
        d->o.max_retries = 0;
    if (d->o.chunk_threshold == 0)
        d->o.chunk_threshold = 100LL << 20;
    if (d->o.chunk_size <= 0)
        d->o.chunk_size = 16LL << 20;
    n = strlen(o->url);
    d->url = malloc(n + 2);
    if (!d->url)
        goto nomem;
    memcpy(d->url, o->url, n + 1);
    if (o->url[n - 1] != '/') {
        d->url[n] = '/';
        d->url[n + 1] = '\0';
    }
    d->user = dup_or_null(o->user);
    d->password = dup_or_null(o->password);
    d->user_agent = strdup(o->user_agent ? o->user_agent : "odoosync/0.1");
    d->ca_file = dup_or_null(o->ca_file);
    if ((o->user && !d->user) || (o->password && !d->password) || !d->user_agent ||
        (o->ca_file && !d->ca_file))
        goto nomem;
    if (parse_base(d, e) < 0)
        goto fail;
    d->dialect = o->dialect;
    d->seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)d;
    d->curl = curl_easy_init();
    d->multi = curl_multi_init();
    if (!d->curl || !d->multi) {
        err_set(e, ERR_INTERNAL, "dav: cannot create a curl handle");
        goto fail;
    }
    return d;
nomem:
    err_set(e, ERR_NOMEM, "out of memory");
fail:
    dav_free(d);
    return NULL;
}

/* --- paths --------------------------------------------------------------- */

int dav_path_to_url(const struct dav *d, const char *path, struct buf *out, struct err *e)
{
    struct buf enc;
    size_t n = strlen(d->url);
    int rc;

    buf_init(&enc, DAV_URL_MAX);
    rc = dav_path_encode(path, &enc, e);
    if (rc < 0)
        goto out;
    buf_reset(out);
    /* base ends with '/', the encoded path starts with one */
    if (buf_append(out, d->url, n - 1) < 0 || buf_append(out, enc.data, enc.len) < 0)
        rc = err_set(e, ERR_TOO_BIG, "url too long");
out:
    buf_release(&enc);
    return rc;
}

int dav_web_link(const struct dav *d, const char *path, const char *fileid, struct buf *out,
                 struct err *e)
{
    if (fileid && *fileid &&
        (d->dialect == DAV_DIALECT_NEXTCLOUD || d->dialect == DAV_DIALECT_OWNCLOUD)) {
        buf_reset(out);
        if (buf_printf(out, "%s/f/%s", d->root, fileid) < 0)
            return err_set(e, ERR_TOO_BIG, "url too long");
        return 0;
    }
    return dav_path_to_url(d, path, out, e);
}

/* --- transfer callbacks --------------------------------------------------- */

static void copy_header_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int header_is(const char *h, size_t n, const char *name)
{
    size_t l = strlen(name);

    return n > l && h[l] == ':' && strncasecmp(h, name, l) == 0;
}

static size_t on_header(char *h, size_t sz, size_t nm, void *ud)
{
    struct xfer *x = ud;
    size_t n = sz * nm;
    char v[128];

    x->moved += (long long)n;
    if (n >= 5 && strncmp(h, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue or a redirect): forget the old headers */
        x->etag[0] = x->fileid[0] = '\0';
        x->retry_after_ms = -1;
    } else if (header_is(h, n, "ETag") && !x->etag[0]) {
        copy_header_value(x->etag, sizeof(x->etag), h + 5, n - 5);
    } else if (header_is(h, n, "OC-ETag")) {
        copy_header_value(x->etag, sizeof(x->etag), h + 8, n - 8);
    } else if (header_is(h, n, "OC-FileId")) {
        copy_header_value(x->fileid, sizeof(x->fileid), h + 10, n - 10);
    } else if (header_is(h, n, "Retry-After")) {
        char *end;
        long s;

        copy_header_value(v, sizeof(v), h + 12, n - 12);
        s = strtol(v, &end, 10);
        if (end != v && *end == '\0' && s >= 0) {
            x->retry_after_ms = s > 86400 ? 86400000L : s * 1000L;
        } else {
            time_t t = curl_getdate(v, NULL);

            if (t != (time_t)-1) {
                long long ms = ((long long)t - (long long)time(NULL)) * 1000LL;

                x->retry_after_ms = ms < 0 ? 0 : (ms > 86400000LL ? 86400000L : (long)ms);
            }
        }
    }
    return n;
}

static size_t keep_resp(struct xfer *x, const char *p, size_t n)
{
    size_t room = x->d->o.max_response - x->resp.len;

    if (room)
        buf_append(&x->resp, p, n < room ? n : room);
    return n;
}

static size_t on_write(char *p, size_t sz, size_t nm, void *ud)
{
    struct xfer *x = ud;
    size_t n = sz * nm;
    long st = 0;

    x->moved += (long long)n;
    curl_easy_getinfo(x->d->curl, CURLINFO_RESPONSE_CODE, &st);
    if (x->streaming && st == 207) {
        if (x->sbuf.len - x->spos >= DAV_STREAM_HIGH) {
            x->paused = 1;
            return CURL_WRITEFUNC_PAUSE;
        }
        x->total += n;
        if (x->total > x->d->o.max_listing) {
            x->too_big = 1;
            return 0;
        }
        if (x->spos && x->spos == x->sbuf.len) {
            buf_reset(&x->sbuf);
            x->spos = 0;
        }
        if (buf_append(&x->sbuf, p, n) < 0) {
            x->too_big = 1;
            return 0;
        }
        return n;
    }
    if (x->write && st >= 200 && st <= 299) {
        if (x->write(p, n, x->wud) != n) {
            x->sink_abort = 1;
            return 0;
        }
        x->got += (long long)n;
        return n;
    }
    return keep_resp(x, p, n);
}

static size_t on_read(char *b, size_t sz, size_t nm, void *ud)
{
    struct xfer *x = ud;
    size_t n = sz * nm, r;

    if (x->body) {
        size_t left = x->body_len - (size_t)x->sent;

        if (n > left)
            n = left;
        memcpy(b, x->body + x->sent, n);
        x->sent += (long long)n;
        x->moved += (long long)n;
        return n;
    }
    if (x->put->size >= 0) {
        long long left = x->put->size - x->sent;

        if (left <= 0)
            return 0;
        if ((long long)n > left)
            n = (size_t)left;
    }
    r = x->put->read(b, n, x->put->ud);
    if (r == DAV_READ_ABORT || r > n) {
        x->src_abort = 1;
        return CURL_READFUNC_ABORT;
    }
    if (r == 0 && x->put->size >= 0 && x->sent < x->put->size) {
        x->src_short = 1;
        return CURL_READFUNC_ABORT;
    }
    x->sent += (long long)r;
    x->moved += (long long)r;
    return r;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    struct xfer *x = ud;

    if (off != 0 || origin != SEEK_SET)
        return CURL_SEEKFUNC_CANTSEEK;
    if (x->body) {
        x->sent = 0;
        return CURL_SEEKFUNC_OK;
    }
    if (!x->put->rewind || x->put->rewind(x->put->ud) < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    x->sent = 0;
    return CURL_SEEKFUNC_OK;
}

/* --- requests -------------------------------------------------------------- */

static void xfer_init(struct xfer *x, struct dav *d, const char *method, const char *path)
{
    memset(x, 0, sizeof(*x));
    x->d = d;
    x->method = method;
    x->path = path;
    x->retry_after_ms = -1;
    buf_init(&x->resp, d->o.max_response + 1);
    buf_init(&x->sbuf, DAV_STREAM_HIGH + CURL_MAX_WRITE_SIZE * 4);
}

static void xfer_release(struct xfer *x)
{
    buf_release(&x->resp);
    buf_release(&x->sbuf);
}

/* Forget what one attempt received. */
static void xfer_reset_attempt(struct xfer *x)
{
    x->status = 0;
    x->etag[0] = x->fileid[0] = '\0';
    x->retry_after_ms = -1;
    buf_reset(&x->resp);
    buf_reset(&x->sbuf);
    x->spos = 0;
    x->paused = 0;
    x->total = 0;
    x->too_big = 0;
    x->done = 0;
    x->result = CURLE_OK;
    x->sent = 0;
    x->moved = x->seen_moved = 0;
    x->quiet_since = 0;
    x->waited_last = 0;
    x->stalled = 0;
}

static int setup(struct dav *d, struct xfer *x, const char *url, struct curl_slist *hdrs)
{
    CURL *c = d->curl;
    int ok = 1;

    curl_easy_reset(c);
    d->errbuf[0] = '\0';
    ok &= curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK;
    ok &= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, d->errbuf) == CURLE_OK;
    ok &= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok &= curl_easy_setopt(c, CURLOPT_USERAGENT, d->user_agent) == CURLE_OK;
    ok &= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, d->o.connect_timeout_ms) == CURLE_OK;
    if (d->o.timeout_ms > 0)
        ok &= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, d->o.timeout_ms) == CURLE_OK;
    if (d->o.low_speed_secs > 0) {
        ok &= curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK;
        ok &= curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, d->o.low_speed_secs) == CURLE_OK;
    }
    ok &= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                           d->o.http1 ? (long)CURL_HTTP_VERSION_1_1
                                      : (long)CURL_HTTP_VERSION_2TLS) == CURLE_OK;
    if (d->o.insecure) {
        ok &= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L) == CURLE_OK;
        ok &= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L) == CURLE_OK;
    }
    if (d->ca_file)
        ok &= curl_easy_setopt(c, CURLOPT_CAINFO, d->ca_file) == CURLE_OK;
    if (d->o.share)
        ok &= curl_easy_setopt(c, CURLOPT_SHARE, d->o.share->sh) == CURLE_OK;
    if (d->user) {
        ok &= curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) == CURLE_OK;
        ok &= curl_easy_setopt(c, CURLOPT_USERNAME, d->user) == CURLE_OK;
        ok &= curl_easy_setopt(c, CURLOPT_PASSWORD, d->password ? d->password : "") == CURLE_OK;
    }
    ok &= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
    ok &= curl_easy_setopt(c, CURLOPT_HEADERDATA, x) == CURLE_OK;
    ok &= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK;
    ok &= curl_easy_setopt(c, CURLOPT_WRITEDATA, x) == CURLE_OK;
    if (hdrs)
        ok &= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) == CURLE_OK;
    if (strcmp(x->method, "GET") == 0) {
        /* nothing: the default */
    } else if (x->put) {
        ok &= curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) == CURLE_OK;
        ok &= curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read) == CURLE_OK;
        ok &= curl_easy_setopt(c, CURLOPT_READDATA, x) == CURLE_OK;
        ok &= curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek) == CURLE_OK;
        ok &= curl_easy_setopt(c, CURLOPT_SEEKDATA, x) == CURLE_OK;
        if (x->put->size >= 0)
            ok &=
                curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->put->size) == CURLE_OK;
    } else {
        ok &= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method) == CURLE_OK;
        if (x->body) {
            ok &= curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body) == CURLE_OK;
            ok &= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len) ==
                  CURLE_OK;
        }
    }
    if (!ok)
        return ERR_INTERNAL;
    return 0;
}

static long long now_ms(void);

static int stop_asked(const struct dav *d)
{
    return d->o.stop && *d->o.stop;
}

/*
 * One step of the transfer: perform, collect the end, wait a little if idle.
 * The bounds live here: a stop asked ends the transfer at once (x->stopped);
 * nothing moving for o.stall_ms ends it too (x->stalled). The quiet clock
 * restarts when bytes move, while paused, and when the previous step did not
 * wait (the consumer was busy with what it had, not the server).
 */
static void pump(struct dav *d, struct xfer *x)
{
    int running = 0, q;
    CURLMsg *msg;
    long long now = now_ms();

    if (stop_asked(d)) {
        x->stopped = 1;
        x->done = 1;
        x->result = CURLE_ABORTED_BY_CALLBACK;
        return;
    }
    if (x->moved != x->seen_moved || x->paused || !x->waited_last || !x->quiet_since) {
        x->seen_moved = x->moved;
        x->quiet_since = now;
    } else if (d->o.stall_ms > 0 &&
               now - x->quiet_since > (x->stall_ms > d->o.stall_ms ? x->stall_ms : d->o.stall_ms)) {
        x->stalled = 1;
        x->done = 1;
        x->result = CURLE_OPERATION_TIMEDOUT;
        return;
    }

    if (x->paused && (!x->streaming || x->sbuf.len - x->spos < DAV_STREAM_HIGH)) {
        x->paused = 0;
        curl_easy_pause(d->curl, CURLPAUSE_CONT);
    }
    curl_multi_perform(d->multi, &running);
    while ((msg = curl_multi_info_read(d->multi, &q)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == d->curl) {
            x->done = 1;
            x->result = msg->data.result;
        }
    }
    x->waited_last = 0;
    if (!x->done && (!x->streaming || x->sbuf.len == x->spos) && !x->paused) {
        curl_multi_poll(d->multi, NULL, 0, 200, NULL);
        x->waited_last = 1;
    }
}

static int is_network_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_FAIL_REWIND:
        return 1;
    default:
        return 0;
    }
}

static int is_retry_status(long st)
{
    return st == 429 || st == 502 || st == 503 || st == 504;
}

/* The wait before attempt number `attempt` (1-based). */
static long backoff_ms(struct dav *d, int attempt, long retry_after_ms)
{
    long base = d->o.retry_base_ms > 0 ? d->o.retry_base_ms : 1;
    long long w = base;
    long jitter;

    for (int i = 1; i < attempt && w < d->o.retry_max_ms; i++)
        w *= 2;
    /* +-50% jitter */
    jitter = (long)(rand_r(&d->seed) % (unsigned int)(w + 1)) - (long)(w / 2);
    w += jitter;
    if (retry_after_ms >= 0 && w < retry_after_ms)
        w = retry_after_ms;
    if (d->o.retry_max_ms > 0 && w > d->o.retry_max_ms)
        w = d->o.retry_max_ms;
    return w < 0 ? 0 : (long)w;
}

/* Sleep ms, in slices of 100 ms while no stop is asked; 0, or -1 when one was. */
static int sleep_ms(const struct dav *d, long ms)
{
    while (ms > 0) {
        long step = ms < 100 ? ms : 100;
        struct timespec ts = {0, step * 1000000L};

        if (stop_asked(d))
            return -1;
        while (nanosleep(&ts, &ts) < 0)
            ;
        ms -= step;
    }
    return stop_asked(d) ? -1 : 0;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
}

/* The server's own words from an error body, if any (Nextcloud's s:message, Apache's <p>). */
static void server_message(const struct buf *b, char *out, size_t cap)
{
    const char *s = buf_str(b), *p, *end;
    size_t n = 0;
    int in_tag = 0;

    out[0] = '\0';
    p = strstr(s, "<s:message>");
    if (p) {
        p += 11;
        end = strstr(p, "</s:message>");
    } else {
        p = strstr(s, "<p>");
        if (!p)
            return;
        p += 3;
        end = strstr(p, "</p>");
    }
    if (!end)
        return;
    for (; p < end && n + 1 < cap; p++) {
        if (*p == '<')
            in_tag = 1;
        else if (*p == '>')
            in_tag = 0;
        else if (!in_tag)
            out[n++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
    }
    out[n] = '\0';
}

/* The request as a string for messages. */
#define REQ_FMT "%s \"%.300s\""
#define REQ_ARGS(x) (x)->method, (x)->path

/*
 * Start the transfer on the multi handle and run it until the response's
 * first body byte (streaming) or its end. Returns 0 or ERR_INTERNAL.
 */
static int start(struct dav *d, struct xfer *x)
{
    if (curl_multi_add_handle(d->multi, d->curl) != CURLM_OK)
        return ERR_INTERNAL;
    while (!x->done && !(x->streaming && x->sbuf.len > x->spos))
        pump(d, x);
    return 0;
}

/* A transfer left the multi handle: count it. */
static void count_request(struct dav *d)
{
    long n = 0, v = 0;

    d->stats.requests++;
    if (curl_easy_getinfo(d->curl, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK && n > 0)
        d->stats.connects += n;
    if (curl_easy_getinfo(d->curl, CURLINFO_HTTP_VERSION, &v) == CURLE_OK && v) {
        switch (v) {
        case CURL_HTTP_VERSION_1_0:
            d->stats.http_version = 10;
            break;
        case CURL_HTTP_VERSION_1_1:
            d->stats.http_version = 11;
            break;
        case CURL_HTTP_VERSION_2_0:
            d->stats.http_version = 20;
            break;
        case CURL_HTTP_VERSION_3:
            d->stats.http_version = 30;
            break;
        default:
            break;
        }
    }
}

static void finish(struct dav *d, struct xfer *x)
{
    while (!x->done)
        pump(d, x);
    curl_multi_remove_handle(d->multi, d->curl);
    count_request(d);
}

static void stop(struct dav *d)
{
    curl_multi_remove_handle(d->multi, d->curl);
    count_request(d);
}

/*
 * The transfer ended (x->done): turn a transport failure into a code, or
 * 0 when an HTTP status came back (x->status set).
 */
static int transport_result(struct dav *d, struct xfer *x, struct err *e)
{
    if (x->src_abort)
        return err_set(e, ERR_IO, REQ_FMT ": the upload source failed", REQ_ARGS(x));
    if (x->src_short)
        return err_set(e, ERR_IO, REQ_FMT ": the upload source ended after %lld of %lld bytes",
                       REQ_ARGS(x), x->sent, x->put ? x->put->size : 0LL);
    if (x->sink_abort)
        return err_set(e, ERR_IO, REQ_FMT ": the download consumer stopped after %lld bytes",
                       REQ_ARGS(x), x->got);
    if (x->too_big)
        return err_set(e, ERR_TOO_BIG, REQ_FMT ": the response is over %llu bytes", REQ_ARGS(x),
                       d->o.max_listing);
    if (x->stopped)
        return err_set(e, ERR_STOPPED, REQ_FMT ": stopped (a stop was asked)", REQ_ARGS(x));
    if (x->stalled)
        return err_set(e, ERR_RETRY, REQ_FMT ": no answer from the server in %ld ms (%.200s)",
                       REQ_ARGS(x), d->o.stall_ms, d->root);
    if (x->result != CURLE_OK)
        return err_set(e, is_network_error(x->result) ? ERR_RETRY : ERR_PROTO, REQ_FMT ": %s%s%s",
                       REQ_ARGS(x), curl_easy_strerror(x->result), d->errbuf[0] ? ": " : "",
                       d->errbuf);
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &x->status);
    return 0;
}

/* After a failed attempt: whether to try again (sleeping first). */
static int should_retry(struct dav *d, struct xfer *x, int attempt, long long *waited)
{
    long w;

    if (attempt >= d->o.max_retries || x->stopped)
        return 0;
    /* the server had its whole timeout, or is not there at all (nothing listens, no such
     * name): say so now; the next pass (or the job's retry) tries again, not this call */
    if (x->stalled || x->result == CURLE_OPERATION_TIMEDOUT || x->result == CURLE_COULDNT_CONNECT ||
        x->result == CURLE_COULDNT_RESOLVE_HOST)
        return 0;
    if (x->put && x->sent > 0 && !x->put->rewind)
        return 0;
    if (x->got > 0)
        return 0;
    /* asked to come back later than we would wait: leave it to the caller's retry */
    if (x->retry_after_ms > d->o.retry_max_ms)
        return 0;
    w = backoff_ms(d, attempt + 1, x->retry_after_ms);
    if (*waited + w > d->o.retry_total_ms)
        return 0;
    if (x->put && x->sent > 0 && x->put->rewind(x->put->ud) < 0)
        return 0;
    log_debug(d->o.log, REQ_FMT ": retrying in %ld ms (attempt %d)", REQ_ARGS(x), w, attempt + 2);
    if (sleep_ms(d, w) < 0) {
        x->stopped = 1;
        return 0;
    }
    *waited += w;
    return 1;
}

/*
 * Run a non-streamed request with retries. Returns 0 with x->status set
 * (any HTTP status, the caller maps it) or a negative code.
 */
static int run(struct dav *d, struct xfer *x, const char *url, struct curl_slist *hdrs,
               struct err *e)
{
    long long waited = 0, t0 = now_ms();
    int rc;

    if (d->busy)
        return err_set(e, ERR_INTERNAL, REQ_FMT ": the handle is busy with a listing", REQ_ARGS(x));
    for (int attempt = 0;; attempt++) {
        xfer_reset_attempt(x);
        rc = setup(d, x, url, hdrs);
        if (rc == 0)
            rc = start(d, x);
        if (rc < 0)
            return err_set(e, rc, REQ_FMT ": cannot set up the request", REQ_ARGS(x));
        finish(d, x);
        rc = transport_result(d, x, e);
        if (rc == ERR_RETRY || (rc == 0 && is_retry_status(x->status))) {
            if (should_retry(d, x, attempt, &waited))
                continue;
            if (x->stopped)
                return err_set(e, ERR_STOPPED, REQ_FMT ": stopped (a stop was asked)", REQ_ARGS(x));
        }
        if (rc == 0)
            log_debug(d->o.log, REQ_FMT ": %ld in %lld ms", REQ_ARGS(x), x->status, now_ms() - t0);
        return rc;
    }
}

/* Map a final HTTP status to 0 or an error. what412 is the code for 412. */
static int map_status(struct dav *d, struct xfer *x, int what412, const char *why412, struct err *e)
{
    char msg[256];
    long st = x->status;

    if (st >= 200 && st <= 299)
        return 0;
    server_message(&x->resp, msg, sizeof(msg));
#define FAIL(code, ...)                                                                            \
    err_set(e, code, REQ_FMT ": HTTP %ld: %s%s%s", REQ_ARGS(x), st, __VA_ARGS__,                   \
            msg[0] ? ": " : "", msg)
    switch (st) {
    case 401:
        return FAIL(ERR_AUTH, d->user ? "authentication failed (wrong user or password?)"
                                      : "authentication required");
    case 403:
        return FAIL(ERR_ACCESS, "forbidden");
    case 404:
        return FAIL(ERR_NOTFOUND, "not found");
    case 409:
        return FAIL(ERR_NOTFOUND, "conflict: the parent folder is missing");
    case 412:
        return FAIL(what412, why412);
    case 423:
        return FAIL(ERR_RETRY, "locked");
    case 424:
        /* a MOVE or DELETE of a folder one of whose members a client holds a WebDAV
         * LOCK on (Apache: 424 with a 423 for the member): it goes once released */
        return FAIL(ERR_RETRY, "failed dependency (a file inside is locked)");
    case 429:
    case 502:
    case 503:
    case 504:
        if (x->retry_after_ms >= 0) {
            char ra[96];

            snprintf(ra, sizeof(ra), "server busy or unavailable (Retry-After: %ld s)",
                     x->retry_after_ms / 1000);
            return FAIL(ERR_RETRY, ra);
        }
        return FAIL(ERR_RETRY, "server busy or unavailable, retries exhausted");
    case 405:
    case 501:
        /* a method WebDAV defines, refused or unknown: the url is no WebDAV endpoint */
        return FAIL(ERR_PROTO, "not a WebDAV server (the method is not allowed or not "
                               "implemented here: is the url the WebDAV url?)");
    case 507:
        return FAIL(ERR_SERVER, "insufficient storage");
    default:
        if (st >= 500)
            return FAIL(ERR_SERVER, "server error");
        if (st >= 300 && st < 400)
            return FAIL(ERR_PROTO, "unexpected redirect (is the base url right?)");
        return FAIL(ERR_PROTO, "unexpected status");
    }
#undef FAIL
}

static struct curl_slist *add_header(struct curl_slist *l, int *ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct curl_slist *add_header(struct curl_slist *l, int *ok, const char *fmt, ...)
{
    char line[1024];
    struct curl_slist *n;
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof(line)) {
        *ok = 0;
        return l;
    }
    n = curl_slist_append(l, line);
    if (!n) {
        *ok = 0;
        return l;
    }
    return n;
}

/* A header value must not break the header: no CR/LF/NUL. */
static int header_safe(const char *v)
{
    return v && !strpbrk(v, "\r\n");
}

/*
 * The etag to send in If-Match. Apache marks an etag weak (W/"...") during
 * the second the file changed and refuses any If-Match while it is weak; the
 * value itself stays the same once strong, so we send it without W/.
 */
static const char *match_etag(const char *etag)
{
    return etag && strncmp(etag, "W/", 2) == 0 ? etag + 2 : etag;
}

static void fill_result(struct xfer *x, struct dav_result *out)
{
    if (!out)
        return;
    out->status = x->status;
    snprintf(out->etag, sizeof(out->etag), "%s", x->etag);
    snprintf(out->fileid, sizeof(out->fileid), "%s", x->fileid);
}

/* --- PROPFIND ---------------------------------------------------------------- */

struct pull_ctx {
    struct dav *d;
    struct xfer *x;
    struct err *e;
};

static int net_pull(void *ctx, char *b, int len)
{
    struct pull_ctx *pc = ctx;
    struct xfer *x = pc->x;
    size_t n;

    while (x->sbuf.len == x->spos && !x->done)
        pump(pc->d, x);
    n = x->sbuf.len - x->spos;
    if (n == 0) {
        if (x->result != CURLE_OK || x->too_big) {
            transport_result(pc->d, x, pc->e);
            return -1;
        }
        return 0;
    }
    if (n > (size_t)len)
        n = (size_t)len;
    memcpy(b, x->sbuf.data + x->spos, n);
    x->spos += n;
    return (int)n;
}

struct left_out_ctx {
    struct dav *d;
    dav_left_out_fn fn;
    void *ud;
};

/* A listed entry whose name holds a control character: left out, said, counted, told. */
static void on_skip(const struct dav_left_out *lo, void *ud)
{
    struct left_out_ctx *lc = ud;

    lc->d->stats.skipped++;
    log_warn(lc->d->o.log,
             "dav: \"%.500s\" left out of the listing: its name holds a control "
             "character (rename it in the cloud to sync it)",
             lo->shown);
    if (lc->fn)
        lc->fn(lo, lc->ud);
}

int dav_propfind(struct dav *d, const char *path, int depth, dav_entry_fn cb, void *ud,
                 struct err *e)
{
    return dav_propfind_ex(d, path, depth, cb, ud, NULL, NULL, e);
}

int dav_propfind_ex(struct dav *d, const char *path, int depth, dav_entry_fn cb, void *ud,
                    dav_left_out_fn left_out, void *left_out_ud, struct err *e)
{
    struct left_out_ctx lc = {d, left_out, left_out_ud};
    struct xfer x;
    struct buf url;
    struct curl_slist *hdrs = NULL;
    long long waited = 0;
    int rc, ok = 1;

    xfer_init(&x, d, "PROPFIND", path);
    buf_init(&url, DAV_URL_MAX);
    if (d->busy) {
        rc = err_set(e, ERR_INTERNAL, "PROPFIND \"%.300s\": the handle is busy with a listing",
                     path);
        goto out;
    }
    rc = dav_path_to_url(d, path, &url, e);
    if (rc < 0)
        goto out;
    hdrs = add_header(hdrs, &ok, "Depth: %s",
                      depth == DAV_DEPTH_INFINITY ? "infinity" : (depth == 0 ? "0" : "1"));
    hdrs = add_header(hdrs, &ok, "Content-Type: application/xml; charset=utf-8");
    hdrs = add_header(hdrs, &ok, "Expect:");
    if (!ok) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    x.body = dav_propfind_body;
    x.body_len = strlen(dav_propfind_body);
    x.streaming = 1;
    for (int attempt = 0;; attempt++) {
        struct pull_ctx pc = {d, &x, e};
        long delivered = 0;

        xfer_reset_attempt(&x);
        rc = setup(d, &x, url.data, hdrs);
        if (rc == 0)
            rc = start(d, &x);
        if (rc < 0) {
            rc = err_set(e, rc, "PROPFIND \"%.300s\": cannot set up the request", path);
            goto out;
        }
        if (x.done) {
            rc = transport_result(d, &x, e);
        } else {
            rc = 0;
            curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &x.status);
        }
        if (rc == 0 && x.status == 207) {
            d->busy = 1;
            rc = dav_multistatus_parse_pull_skip(net_pull, &pc, d->base_path, cb, ud, on_skip, &lc,
                                                 &delivered, e);
            d->busy = 0;
            if (rc < 0) {
                stop(d);
                if (rc == ERR_RETRY && delivered == 0 && should_retry(d, &x, attempt, &waited))
                    continue;
                if (x.stopped) {
                    rc = err_set(e, ERR_STOPPED, "PROPFIND \"%.300s\": stopped (a stop was asked)",
                                 path);
                    goto out;
                }
                /* transport failures already name the request */
                if (rc != ERR_RETRY && rc != ERR_TOO_BIG)
                    err_prefix(e, "PROPFIND \"%.300s\"", path);
                goto out;
            }
            x.streaming = 0; /* whatever follows the root element goes to resp */
            finish(d, &x);
            goto out;
        }
        if (rc == 0)
            finish(d, &x);
        else
            stop(d);
        if (rc == ERR_RETRY || (rc == 0 && is_retry_status(x.status))) {
            if (should_retry(d, &x, attempt, &waited))
                continue;
            if (x.stopped) {
                rc = err_set(e, ERR_STOPPED, "PROPFIND \"%.300s\": stopped (a stop was asked)",
                             path);
                goto out;
            }
        }
        if (rc == 0) {
            if (x.status >= 200 && x.status <= 299)
                rc = err_set(e, ERR_PROTO,
                             "PROPFIND \"%.300s\": HTTP %ld instead of 207 Multi-Status (is "
                             "this a WebDAV url?)",
                             path, x.status);
            else
                rc = map_status(d, &x, ERR_CONFLICT, "precondition failed", e);
        }
        goto out;
    }
out:
    curl_slist_free_all(hdrs);
    buf_release(&url);
    xfer_release(&x);
    return rc;
}

static char *dup_opt(const char *s, int *ok)
{
    char *r;

    if (!s)
        return NULL;
    r = strdup(s);
    if (!r)
        *ok = 0;
    return r;
}

struct stat_ctx {
    struct dav_stat *st;
    int found;
};

static int stat_cb(const struct dav_entry *ent, void *ud)
{
    struct stat_ctx *sc = ud;
    struct dav_stat *st = sc->st;
    int ok = 1;

    if (sc->found)
        return 0;
    sc->found = 1;
    st->is_dir = ent->is_dir;
    st->size = ent->size;
    st->mtime = ent->mtime;
    st->etag = dup_opt(ent->etag, &ok);
    st->content_type = dup_opt(ent->content_type, &ok);
    st->fileid = dup_opt(ent->fileid, &ok);
    st->checksum = dup_opt(ent->checksum, &ok);
    st->permissions = dup_opt(ent->permissions, &ok);
    st->attachment_tag = dup_opt(ent->attachment_tag, &ok);
    st->record_tag = dup_opt(ent->record_tag, &ok);
    st->type_tag = dup_opt(ent->type_tag, &ok);
    return ok ? 0 : ERR_NOMEM;
}

void dav_stat_release(struct dav_stat *st)
{
    if (!st)
        return;
    free(st->etag);
    free(st->content_type);
    free(st->fileid);
    free(st->checksum);
    free(st->permissions);
    free(st->attachment_tag);
    free(st->record_tag);
    free(st->type_tag);
    memset(st, 0, sizeof(*st));
}

int dav_stat(struct dav *d, const char *path, struct dav_stat *out, struct err *e)
{
    struct stat_ctx sc = {out, 0};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = dav_propfind(d, path, 0, stat_cb, &sc, e);
    if (rc == 0 && !sc.found)
        rc = err_set(e, ERR_PROTO, "PROPFIND \"%.300s\": the answer lists nothing", path);
    if (rc < 0) {
        if (rc == ERR_NOMEM)
            err_set(e, rc, "out of memory");
        dav_stat_release(out);
    }
    return rc;
}

/* --- simple methods ------------------------------------------------------------- */

/* Run method on path with headers; map the status (what412 for 412). */
static int simple(struct dav *d, const char *method, const char *path, struct curl_slist *hdrs,
                  const char *body, struct xfer *x, int what412, const char *why412, struct err *e)
{
    struct buf url;
    int rc;

    buf_init(&url, DAV_URL_MAX);
    xfer_init(x, d, method, path);
    x->body = body;
    x->body_len = body ? strlen(body) : 0;
    rc = dav_path_to_url(d, path, &url, e);
    if (rc == 0)
        rc = run(d, x, url.data, hdrs, e);
    if (rc == 0)
        rc = map_status(d, x, what412, why412, e);
    buf_release(&url);
    return rc;
}

static int mkcol_one(struct dav *d, const char *path, struct dav_result *out, struct err *e)
{
    struct xfer x;
    int rc;

    rc = simple(d, "MKCOL", path, NULL, NULL, &x, ERR_CONFLICT, "precondition failed", e);
    if (rc < 0 && x.status == 405)
        rc = err_set(e, ERR_EXISTS, "MKCOL \"%.300s\": HTTP 405: it already exists", path);
    if (x.status)
        fill_result(&x, out);
    xfer_release(&x);
    return rc;
}

int dav_mkcol(struct dav *d, const char *path, int parents, struct dav_result *out, struct err *e)
{
    struct buf norm;
    int rc;

    buf_init(&norm, DAV_URL_MAX);
    rc = dav_path_normalize(path, &norm, e);
    if (rc < 0)
        goto out;
    rc = mkcol_one(d, norm.data, out, e);
    if (rc == ERR_EXISTS && parents) {
        rc = 0;
        goto out;
    }
    if (rc != ERR_NOTFOUND || !parents)
        goto out;
    /* 409: create the ancestors top-down, then the folder itself */
    for (char *p = norm.data + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        rc = mkcol_one(d, norm.data, NULL, e);
        *p = '/';
        if (rc < 0 && rc != ERR_EXISTS)
            goto out;
    }
    rc = mkcol_one(d, norm.data, out, e);
    if (rc == ERR_EXISTS)
        rc = 0;
out:
    buf_release(&norm);
    return rc;
}

int dav_delete(struct dav *d, const char *path, const char *if_match, struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct xfer x;
    int ok = 1, rc;

    if (if_match && !header_safe(if_match))
        return err_set(e, ERR_INVALID, "bad etag");
    if (if_match)
        hdrs = add_header(hdrs, &ok, "If-Match: %s", match_etag(if_match));
    if (!ok) {
        curl_slist_free_all(hdrs);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = simple(d, "DELETE", path, hdrs, NULL, &x, ERR_CONFLICT,
                "precondition failed: the etag changed", e);
    if (rc == 0 && x.status == 207)
        rc = err_set(e, ERR_SERVER, "DELETE \"%.300s\": some members could not be deleted", path);
    xfer_release(&x);
    curl_slist_free_all(hdrs);
    return rc;
}

static int move_or_copy(struct dav *d, const char *method, const char *from, const char *to,
                        int overwrite, const char *if_match, struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct buf dest;
    struct xfer x;
    int ok = 1, rc;

    memset(&x, 0, sizeof(x));
    buf_init(&dest, DAV_URL_MAX);
    if (if_match && !header_safe(if_match)) {
        rc = err_set(e, ERR_INVALID, "bad etag");
        goto out;
    }
    rc = dav_path_to_url(d, to, &dest, e);
    if (rc < 0)
        goto out;
    hdrs = add_header(hdrs, &ok, "Destination: %s", dest.data);
    hdrs = add_header(hdrs, &ok, "Overwrite: %s", overwrite ? "T" : "F");
    if (strcmp(method, "COPY") == 0)
        hdrs = add_header(hdrs, &ok, "Depth: infinity");
    if (if_match)
        hdrs = add_header(hdrs, &ok, "If-Match: %s", match_etag(if_match));
    if (!ok) {
        rc = err_set(e, ERR_NOMEM, "out of memory or destination too long");
        goto out;
    }
    rc = simple(d, method, from, hdrs, NULL, &x, ERR_EXISTS, "the target exists", e);
    if (rc == ERR_EXISTS && if_match) {
        /* 412 is either the etag or the target: look at the target */
        struct dav_stat st;
        struct err e2 = ERR_INIT;
        int src = dav_stat(d, to, &st, &e2);

        dav_stat_release(&st);
        if (src == ERR_NOTFOUND || overwrite)
            rc = err_set(e, ERR_CONFLICT, "%s \"%.300s\": HTTP 412: the source etag changed",
                         method, from);
    }
    if (rc == ERR_EXISTS && x.status == 412)
        err_set(e, ERR_EXISTS, "%s \"%.300s\" -> \"%.300s\": HTTP 412: the target exists", method,
                from, to);
    if (rc == 0 && x.status == 207)
        /* a partial failure (e.g. a locked member stayed behind): re-read, then retry */
        rc = err_set(e, ERR_CONFLICT,
                     "%s \"%.300s\" -> \"%.300s\": HTTP 207 Multi-Status: some members were not "
                     "moved (locked?)",
                     method, from, to);
out:
    xfer_release(&x);
    buf_release(&dest);
    curl_slist_free_all(hdrs);
    return rc;
}

int dav_move(struct dav *d, const char *from, const char *to, int overwrite, const char *if_match,
             struct err *e)
{
    return move_or_copy(d, "MOVE", from, to, overwrite, if_match, e);
}

int dav_copy(struct dav *d, const char *from, const char *to, int overwrite, struct err *e)
{
    return move_or_copy(d, "COPY", from, to, overwrite, NULL, e);
}

static int is_ncname(const char *s)
{
    if (!s || !*s)
        return 0;
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static int xml_escape(const char *v, struct buf *b)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        int rc;

        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return ERR_INVALID;
        switch (*p) {
        case '&':
            rc = buf_puts(b, "&amp;");
            break;
        case '<':
            rc = buf_puts(b, "&lt;");
            break;
        case '>':
            rc = buf_puts(b, "&gt;");
            break;
        case '"':
            rc = buf_puts(b, "&quot;");
            break;
        case '\r':
            rc = buf_puts(b, "&#13;");
            break;
        default:
            rc = buf_append(b, p, 1);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int dav_proppatch(struct dav *d, const char *path, const char *name, const char *value,
                  struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct buf body;
    struct xfer x;
    int ok = 1, rc;
    const char *s;

    memset(&x, 0, sizeof(x));
    buf_init(&body, 64 * 1024);
    if (!is_ncname(name)) {
        rc = err_set(e, ERR_INVALID, "property name \"%.100s\" is not an XML name",
                     name ? name : "");
        goto out;
    }
    buf_puts(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                    "<d:propertyupdate xmlns:d=\"DAV:\" xmlns:o=\"" DAV_NS_ODOOSYNC "\">");
    if (value) {
        buf_printf(&body, "<d:set><d:prop><o:%s>", name);
        rc = xml_escape(value, &body);
        if (rc < 0) {
            rc = err_set(e, rc == ERR_INVALID ? ERR_INVALID : ERR_TOO_BIG,
                         "property \"%s\": value has control characters or is too long", name);
            goto out;
        }
        buf_printf(&body, "</o:%s></d:prop></d:set>", name);
    } else {
        buf_printf(&body, "<d:remove><d:prop><o:%s/></d:prop></d:remove>", name);
    }
    if (buf_puts(&body, "</d:propertyupdate>\n") < 0) {
        rc = err_set(e, ERR_TOO_BIG, "property \"%s\": value too long", name);
        goto out;
    }
    hdrs = add_header(hdrs, &ok, "Content-Type: application/xml; charset=utf-8");
    hdrs = add_header(hdrs, &ok, "Expect:");
    if (!ok) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = simple(d, "PROPPATCH", path, hdrs, body.data, &x, ERR_CONFLICT, "precondition failed", e);
    if (rc < 0)
        goto out;
    if (x.status != 207) {
        rc = err_set(e, ERR_PROTO, "PROPPATCH \"%.300s\": HTTP %ld instead of 207", path, x.status);
        goto out;
    }
    /* every propstat status must be 2xx */
    for (s = buf_str(&x.resp); (s = strstr(s, "HTTP/1.")) != NULL; s += 7) {
        long st = strtol(s + 8, NULL, 10);

        if (st < 200 || st > 299) {
            rc = err_set(e, st == 403 ? ERR_ACCESS : ERR_SERVER,
                         "PROPPATCH \"%.300s\" {%s}%s: the server refused it (%ld)", path,
                         DAV_NS_ODOOSYNC, name, st);
            goto out;
        }
    }
out:
    xfer_release(&x);
    buf_release(&body);
    curl_slist_free_all(hdrs);
    return rc;
}

/* --- PUT / GET ------------------------------------------------------------------ */

/* --- chunked upload v2 (Nextcloud) ------------------------------------------------- */

/* "<root>/remote.php/dav/files/<user>/" -> "<root>/remote.php/dav/uploads/<user>"; -1 if not. */
static int uploads_url(const struct dav *d, struct buf *out)
{
    static const char files[] = "/remote.php/dav/files/";
    const char *p = strstr(d->url, files), *user, *end;

    if (!p)
        return -1;
    user = p + sizeof(files) - 1;
    end = strchr(user, '/');
    if (!end || end == user)
        return -1;
    return buf_printf(out, "%.*s/remote.php/dav/uploads/%.*s", (int)(p - d->url), d->url,
                      (int)(end - user), user);
}

/* One chunk of the caller's source: bytes [off, off + len). */
struct chunk_src {
    const struct dav_put_req *req;
    long long off, len, pos;
};

static size_t chunk_read(char *b, size_t n, void *ud)
{
    struct chunk_src *c = ud;
    long long left = c->len - c->pos;
    size_t r;

    if (left <= 0)
        return 0;
    if ((long long)n > left)
        n = (size_t)left;
    r = c->req->read(b, n, c->req->ud);
    if (r <= n)
        c->pos += (long long)r;
    return r;
}

/* Back to the chunk's first byte: rewind the source, skip what went before. */
static int chunk_rewind(void *ud)
{
    struct chunk_src *c = ud;
    char tmp[16384];
    long long skip = c->off;

    if (!c->req->rewind || c->req->rewind(c->req->ud) < 0)
        return -1;
    while (skip > 0) {
        size_t n = skip < (long long)sizeof(tmp) ? (size_t)skip : sizeof(tmp);
        size_t r = c->req->read(tmp, n, c->req->ud);

        if (r == 0 || r > n)
            return -1;
        skip -= (long long)r;
    }
    c->pos = 0;
    return 0;
}

/* A request on an absolute URL (what names it in messages); x holds the answer. */
static int raw(struct dav *d, const char *method, const char *what, const char *url,
               struct curl_slist *hdrs, const struct dav_put_req *put, struct xfer *x,
               struct err *e)
{
    xfer_init(x, d, method, what);
    x->put = put;
    /* Nextcloud assembles the chunks before it answers the final MOVE: minutes for a big
     * file, with no byte moving. That one wait gets 10 minutes at least. */
    if (strcmp(method, "MOVE") == 0)
        x->stall_ms = 600000;
    return run(d, x, url, hdrs, e);
}

static int same_etag(const char *a, const char *b)
{
    return a && b && strcmp(match_etag(a), match_etag(b)) == 0;
}

static int put_chunked(struct dav *d, const char *path, const struct dav_put_req *req,
                       struct dav_result *out, struct err *e)
{
    struct buf dir, dest, url;
    struct curl_slist *hdrs = NULL, *mv = NULL;
    struct xfer x;
    int ok = 1, rc, made = 0, n = 0;

    memset(&x, 0, sizeof(x));
    buf_init(&dir, DAV_URL_MAX);
    buf_init(&dest, DAV_URL_MAX);
    buf_init(&url, DAV_URL_MAX);
    if (uploads_url(d, &dir) < 0 ||
        buf_printf(&dir, "/odoosync-%08x%08x", (unsigned)rand_r(&d->seed), (unsigned)time(NULL)) <
            0) {
        rc = err_set(e, ERR_INVALID, "PUT \"%.300s\": no chunked upload url", path);
        goto out;
    }
    rc = dav_path_to_url(d, path, &dest, e);
    if (rc < 0)
        goto out;
    if (req->if_match) {
        struct dav_stat st;

        rc = dav_stat(d, path, &st, e);
        if (rc == 0 && !same_etag(st.etag, req->if_match))
            rc = err_set(e, ERR_CONFLICT, "PUT \"%.300s\": the etag changed (If-Match)", path);
        else if (rc == ERR_NOTFOUND)
            rc = err_set(e, ERR_CONFLICT, "PUT \"%.300s\": the file is gone (If-Match)", path);
        dav_stat_release(&st);
        if (rc < 0)
            goto out;
    }
    hdrs = add_header(hdrs, &ok, "Destination: %s", dest.data);
    hdrs = add_header(hdrs, &ok, "OC-Total-Length: %lld", req->size);
    mv = add_header(mv, &ok, "Destination: %s", dest.data);
    mv = add_header(mv, &ok, "OC-Total-Length: %lld", req->size);
    mv = add_header(mv, &ok, "Overwrite: %s", req->create_only ? "F" : "T");
    if (req->sha1_hex)
        mv = add_header(mv, &ok, "OC-Checksum: SHA1:%s", req->sha1_hex);
    if (req->mtime > 0)
        mv = add_header(mv, &ok, "X-OC-Mtime: %lld", req->mtime);
    if (!ok) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = raw(d, "MKCOL", path, dir.data, hdrs, NULL, &x, e);
    if (rc == 0)
        rc = map_status(d, &x, ERR_CONFLICT, "precondition failed", e);
    xfer_release(&x);
    if (rc < 0)
        goto out;
    made = 1;
    for (long long off = 0; off < req->size || (off == 0 && req->size == 0);) {
        long long len = req->size - off < d->o.chunk_size ? req->size - off : d->o.chunk_size;
        struct chunk_src c = {req, off, len, 0};
        struct dav_put_req sub;

        memset(&sub, 0, sizeof(sub));
        sub.read = chunk_read;
        sub.rewind = req->rewind ? chunk_rewind : NULL;
        sub.ud = &c;
        sub.size = len;
        buf_reset(&url);
        buf_printf(&url, "%s/%05d", dir.data, ++n);
        rc = raw(d, "PUT", path, url.data, hdrs, &sub, &x, e);
        if (rc == 0)
            rc = map_status(d, &x, ERR_CONFLICT, "precondition failed", e);
        xfer_release(&x);
        if (rc < 0) {
            err_prefix(e, "chunk %d", n);
            goto out;
        }
        off += len;
        if (len == 0)
            break;
    }
    buf_reset(&url);
    buf_printf(&url, "%s/.file", dir.data);
    rc = raw(d, "MOVE", path, url.data, mv, NULL, &x, e);
    if (rc == 0)
        rc = map_status(d, &x, req->create_only ? ERR_EXISTS : ERR_CONFLICT,
                        req->create_only ? "the file exists" : "precondition failed", e);
    if (x.status)
        fill_result(&x, out);
    xfer_release(&x);
    if (rc == 0)
        made = 0; /* the server removed the upload folder */
out:
    if (made) {
        struct err e2 = ERR_INIT;

        if (raw(d, "DELETE", path, dir.data, NULL, NULL, &x, &e2) == 0)
            log_debug(d->o.log, "chunked upload of \"%s\" abandoned: %ld", path, x.status);
        xfer_release(&x);
    }
    curl_slist_free_all(hdrs);
    curl_slist_free_all(mv);
    buf_release(&dir);
    buf_release(&dest);
    buf_release(&url);
    return rc;
}

int dav_put(struct dav *d, const char *path, const struct dav_put_req *req, struct dav_result *out,
            struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct buf url;
    struct xfer x;
    int ok = 1, rc, nc = d->dialect == DAV_DIALECT_NEXTCLOUD || d->dialect == DAV_DIALECT_OWNCLOUD;

    xfer_init(&x, d, "PUT", path);
    buf_init(&url, DAV_URL_MAX);
    if (!req || !req->read) {
        rc = err_set(e, ERR_INVALID, "PUT \"%.300s\": no source", path);
        goto out;
    }
    if ((req->if_match && !header_safe(req->if_match)) ||
        (req->content_type && !header_safe(req->content_type)) ||
        (req->sha1_hex && (strlen(req->sha1_hex) != 40 || !header_safe(req->sha1_hex)))) {
        rc = err_set(e, ERR_INVALID, "PUT \"%.300s\": bad etag, content type or sha1", path);
        goto out;
    }
    if (d->dialect == DAV_DIALECT_NEXTCLOUD && d->o.chunk_threshold > 0 && req->size >= 0 &&
        req->size > d->o.chunk_threshold && uploads_url(d, &url) == 0) {
        rc = put_chunked(d, path, req, out, e);
        goto out;
    }
    rc = dav_path_to_url(d, path, &url, e);
    if (rc < 0)
        goto out;
    x.put = req;
    if (req->if_match)
        hdrs = add_header(hdrs, &ok, "If-Match: %s", match_etag(req->if_match));
    if (req->create_only)
        hdrs = add_header(hdrs, &ok, "If-None-Match: *");
    if (req->content_type)
        hdrs = add_header(hdrs, &ok, "Content-Type: %s", req->content_type);
    if (nc && req->sha1_hex)
        hdrs = add_header(hdrs, &ok, "OC-Checksum: SHA1:%s", req->sha1_hex);
    if (nc && req->mtime > 0)
        hdrs = add_header(hdrs, &ok, "X-OC-Mtime: %lld", req->mtime);
    if (!ok) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = run(d, &x, url.data, hdrs, e);
    if (rc == 0)
        rc = map_status(d, &x, req->create_only ? ERR_EXISTS : ERR_CONFLICT,
                        req->create_only ? "the file exists (If-None-Match: *)"
                                         : "the etag changed (If-Match)",
                        e);
    if (x.status)
        fill_result(&x, out);
out:
    curl_slist_free_all(hdrs);
    buf_release(&url);
    xfer_release(&x);
    return rc;
}

struct mem_put {
    const char *p;
    size_t len, pos;
};

static size_t mem_read(char *b, size_t n, void *ud)
{
    struct mem_put *m = ud;
    size_t k = m->len - m->pos < n ? m->len - m->pos : n;

    memcpy(b, m->p + m->pos, k);
    m->pos += k;
    return k;
}

static int mem_rewind(void *ud)
{
    ((struct mem_put *)ud)->pos = 0;
    return 0;
}

int dav_put_buf(struct dav *d, const char *path, const void *data, size_t len, const char *if_match,
                int create_only, struct dav_result *out, struct err *e)
{
    struct mem_put m = {data, len, 0};
    struct dav_put_req req;

    memset(&req, 0, sizeof(req));
    req.read = mem_read;
    req.rewind = mem_rewind;
    req.ud = &m;
    req.size = (long long)len;
    req.if_match = if_match;
    req.create_only = create_only;
    return dav_put(d, path, &req, out, e);
}

int dav_get(struct dav *d, const char *path, size_t (*write)(const char *p, size_t n, void *ud),
            void *ud, struct dav_result *out, struct err *e)
{
    struct buf url;
    struct xfer x;
    int rc;

    xfer_init(&x, d, "GET", path);
    buf_init(&url, DAV_URL_MAX);
    x.write = write;
    x.wud = ud;
    rc = dav_path_to_url(d, path, &url, e);
    if (rc == 0)
        rc = run(d, &x, url.data, NULL, e);
    if (rc == 0)
        rc = map_status(d, &x, ERR_CONFLICT, "precondition failed", e);
    if (x.status)
        fill_result(&x, out);
    buf_release(&url);
    xfer_release(&x);
    return rc;
}

struct buf_sink {
    struct buf *b;
    int too_big;
};

static size_t buf_write(const char *p, size_t n, void *ud)
{
    struct buf_sink *s = ud;

    if (buf_append(s->b, p, n) < 0) {
        s->too_big = 1;
        return 0;
    }
    return n;
}

int dav_get_buf(struct dav *d, const char *path, struct buf *b, struct err *e)
{
    struct buf_sink s = {b, 0};
    int rc;

    buf_reset(b);
    rc = dav_get(d, path, buf_write, &s, NULL, e);
    if (rc < 0 && s.too_big)
        rc = err_set(e, ERR_TOO_BIG, "GET \"%.300s\": the file is over %zu bytes", path, b->max);
    return rc;
}

/* --- detection -------------------------------------------------------------------- */

static int contains_ci(const char *s, const char *w)
{
    size_t n = strlen(w);

    for (; *s; s++)
        if (strncasecmp(s, w, n) == 0)
            return 1;
    return 0;
}

int dav_detect(struct dav *d, struct err *e)
{
    struct buf url;
    struct xfer x;
    cJSON *j = NULL;
    int rc;

    xfer_init(&x, d, "GET", "status.php");
    buf_init(&url, DAV_URL_MAX);
    if (buf_printf(&url, "%s/status.php", d->root) < 0) {
        rc = err_set(e, ERR_TOO_BIG, "url too long");
        goto out;
    }
    rc = run(d, &x, url.data, NULL, e);
    if (rc < 0)
        goto out;
    d->dialect = DAV_DIALECT_GENERIC;
    if (x.status == 200)
        j = cJSON_ParseWithLength(buf_str(&x.resp), x.resp.len);
    if (j && cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "installed")) {
        const cJSON *pn = cJSON_GetObjectItemCaseSensitive(j, "productname");
        const char *name = cJSON_IsString(pn) ? pn->valuestring : "";

        if (contains_ci(name, "nextcloud"))
            d->dialect = DAV_DIALECT_NEXTCLOUD;
        else
            d->dialect = DAV_DIALECT_OWNCLOUD;
    }
    log_info(d->o.log, "dav: %s server at %s", dav_dialect_name(d->dialect), d->root);
    rc = (int)d->dialect;
out:
    cJSON_Delete(j);
    buf_release(&url);
    xfer_release(&x);
    return rc;
}

/* --- bulk upload (Nextcloud) ------------------------------------------------------ */

/*
 * X-File-Path is relative to the user's files root, while API paths are
 * relative to the base URL: the prefix is the decoded part of the base
 * path after ".../remote.php/dav/files/<user>" ("" for the root itself,
 * "/Odoo" for .../files/<user>/Odoo/). -1 when the base is not such a URL.
 */
static int bulk_prefix(const struct dav *d, struct buf *out)
{
    static const char files[] = "/remote.php/dav/files/";
    const char *p = strstr(d->base_path, files), *user, *sub;
    struct buf base;
    struct err e2 = ERR_INIT;
    int rc = -1;

    if (!p)
        return -1;
    user = p + sizeof(files) - 1;
    sub = strchr(user, '/');
    if (!sub || sub == user)
        return -1;
    buf_init(&base, DAV_URL_MAX);
    buf_reset(out);
    if (buf_append(&base, d->base_path, (size_t)(sub - d->base_path) + 1) < 0 ||
        dav_href_decode(d->base_path, buf_str(&base), out, &e2) < 0)
        goto out;
    if (out->len == 1) /* "/": the user's root */
        buf_reset(out);
    rc = 0;
out:
    buf_release(&base);
    return rc;
}

/* Asks the capabilities (once per handle) whether POST .../dav/bulk is there. */
static int bulk_probe(struct dav *d)
{
    struct curl_slist *hdrs = NULL;
    struct buf url, pre;
    struct err e2 = ERR_INIT;
    struct xfer x;
    cJSON *j = NULL;
    const cJSON *v;
    int ok = 1;

    if (d->bulk >= 0)
        return d->bulk;
    if (d->dialect == DAV_DIALECT_AUTO)
        dav_detect(d, &e2);
    memset(&x, 0, sizeof(x));
    buf_init(&url, DAV_URL_MAX);
    buf_init(&pre, DAV_URL_MAX);
    if (d->dialect != DAV_DIALECT_NEXTCLOUD || bulk_prefix(d, &pre) < 0) {
        d->bulk = 0;
        goto out;
    }
    hdrs = add_header(hdrs, &ok, "OCS-APIRequest: true");
    hdrs = add_header(hdrs, &ok, "Accept: application/json");
    if (!ok || buf_printf(&url, "%s/ocs/v2.php/cloud/capabilities?format=json", d->root) < 0)
        goto out;
    xfer_init(&x, d, "GET", "capabilities");
    if (run(d, &x, url.data, hdrs, &e2) < 0)
        goto out; /* unknown: asked again next time */
    d->bulk = 0;
    if (x.status == 200)
        j = cJSON_ParseWithLength(buf_str(&x.resp), x.resp.len);
    v = cJSON_GetObjectItemCaseSensitive(j, "ocs");
    v = cJSON_GetObjectItemCaseSensitive(v, "data");
    v = cJSON_GetObjectItemCaseSensitive(v, "capabilities");
    v = cJSON_GetObjectItemCaseSensitive(v, "dav");
    v = cJSON_GetObjectItemCaseSensitive(v, "bulkupload");
    if (cJSON_IsString(v) && v->valuestring[0])
        d->bulk = 1;
    log_debug(d->o.log, "dav: bulk upload %s (capabilities: %ld)",
              d->bulk ? "available" : "not offered", x.status);
out:
    cJSON_Delete(j);
    xfer_release(&x);
    curl_slist_free_all(hdrs);
    buf_release(&url);
    buf_release(&pre);
    return d->bulk > 0;
}

int dav_bulk_supported(struct dav *d)
{
    return bulk_probe(d) > 0;
}

static void item_reset(struct dav_bulk_item *it)
{
    it->rc = 0;
    it->via_bulk = 0;
    it->etag[0] = it->fileid[0] = it->message[0] = '\0';
}

static int item_fail(struct dav_bulk_item *it, int code, const char *msg)
{
    it->rc = code;
    snprintf(it->message, sizeof(it->message), "%s", msg);
    return code;
}

/* One file by PUT (the fallback, and files too big for a bulk request). */
static int bulk_put_one(struct dav *d, struct dav_bulk_item *it)
{
    struct mem_put m = {it->data ? it->data : "", it->len, 0};
    struct dav_put_req req;
    struct dav_result res;
    struct err e2 = ERR_INIT;
    int rc;

    memset(&req, 0, sizeof(req));
    memset(&res, 0, sizeof(res));
    req.read = mem_read;
    req.rewind = mem_rewind;
    req.ud = &m;
    req.size = (long long)it->len;
    req.content_type = it->content_type;
    req.mtime = it->mtime;
    rc = dav_put(d, it->path, &req, &res, &e2);
    it->via_bulk = 0;
    if (rc < 0)
        return item_fail(it, rc, e2.msg);
    it->rc = 0;
    snprintf(it->etag, sizeof(it->etag), "%s", res.etag);
    snprintf(it->fileid, sizeof(it->fileid), "%s", res.fileid);
    return 0;
}

static void md5_hex(const void *p, size_t n, char hex[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    hex[0] = '\0';
    if (EVP_Digest(p, n, md, &len, EVP_md5(), NULL) != 1 || len != 16)
        return;
    for (unsigned int i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* A header value cannot carry what PHP's trim() would strip. */
static int bulk_path_ok(const char *p, size_t n)
{
    return n > 1 && p[n - 1] != ' ' && p[n - 1] != '\t' && !strpbrk(p, "\r\n");
}

/* Append one part of the multipart body; xpath is its X-File-Path. */
static int bulk_part(struct buf *body, const char *boundary, const char *xpath,
                     const struct dav_bulk_item *it)
{
    char md5[33];
    int rc;

    md5_hex(it->data ? it->data : "", it->len, md5);
    if (!md5[0])
        return ERR_INTERNAL;
    rc = buf_printf(body, "--%s\r\nX-File-Path: %s\r\nX-File-MD5: %s\r\n", boundary, xpath, md5);
    if (rc == 0 && it->mtime > 0)
        rc = buf_printf(body, "X-File-Mtime: %lld\r\n", it->mtime);
    if (rc == 0)
        rc = buf_printf(body, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                        it->content_type ? it->content_type : "application/octet-stream", it->len);
    if (rc == 0 && it->len)
        rc = buf_append(body, it->data, it->len);
    if (rc == 0)
        rc = buf_puts(body, "\r\n");
    return rc < 0 ? ERR_TOO_BIG : 0;
}

/* Nextcloud sends the etag bare; PROPFIND and the headers quote it: quote it too. */
static void copy_etag(char *dst, size_t cap, const char *v)
{
    if (v[0] == '"' || strncmp(v, "W/", 2) == 0)
        snprintf(dst, cap, "%s", v);
    else
        snprintf(dst, cap, "\"%s\"", v);
}

/*
 * One POST of items[idx[0..k)] whose X-File-Paths are xp[0..k). Returns 0
 * (each item's rc set), 1 when the server has no bulk endpoint (nothing
 * written, d->bulk cleared), or a negative code for the whole request.
 */
static int bulk_post(struct dav *d, struct dav_bulk_item *items, const size_t *idx, char **xp,
                     size_t k, struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct buf body, url;
    struct xfer x;
    char boundary[64];
    cJSON *j = NULL;
    int ok = 1, rc = 0;

    memset(&x, 0, sizeof(x));
    buf_init(&body, DAV_BULK_MAX_BYTES + DAV_BULK_FILE_MAX + (size_t)DAV_BULK_MAX_FILES * 1024);
    buf_init(&url, DAV_URL_MAX);
    snprintf(boundary, sizeof(boundary), "odoosync_bulk_%08x%08x", (unsigned)rand_r(&d->seed),
             (unsigned)rand_r(&d->seed));
    for (size_t i = 0; i < k && rc == 0; i++)
        rc = bulk_part(&body, boundary, xp[i], &items[idx[i]]);
    if (rc == 0 && buf_printf(&body, "--%s--\r\n", boundary) < 0)
        rc = ERR_TOO_BIG;
    if (rc < 0) {
        rc = err_set(e, rc, "bulk upload: cannot build the request (%zu files)", k);
        goto out;
    }
    hdrs = add_header(hdrs, &ok, "Content-Type: multipart/related; boundary=%s", boundary);
    hdrs = add_header(hdrs, &ok, "Accept: application/json");
    hdrs = add_header(hdrs, &ok, "Expect:");
    if (!ok || buf_printf(&url, "%s/remote.php/dav/bulk", d->root) < 0) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    xfer_init(&x, d, "POST", "/remote.php/dav/bulk");
    x.body = body.data;
    x.body_len = body.len;
    rc = run(d, &x, url.data, hdrs, e);
    if (rc < 0)
        goto out;
    if (x.status == 404 || x.status == 405 || x.status == 501) {
        log_info(d->o.log, "dav: POST bulk answered %ld: uploading file by file", x.status);
        d->bulk = 0;
        rc = 1;
        goto out;
    }
    if (x.status == 200 || x.status == 400)
        j = cJSON_ParseWithLength(buf_str(&x.resp), x.resp.len);
    if (x.status != 200 && x.status != 400) {
        rc = map_status(d, &x, ERR_CONFLICT, "precondition failed", e);
        if (rc == 0)
            rc = err_set(e, ERR_PROTO, "POST bulk: HTTP %ld instead of 200", x.status);
        goto out;
    }
    if (!cJSON_IsObject(j)) {
        rc =
            err_set(e, ERR_PROTO, "POST bulk: HTTP %ld and no JSON object in the answer", x.status);
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        struct dav_bulk_item *it = &items[idx[i]];
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, xp[i]);
        const cJSON *er = cJSON_GetObjectItemCaseSensitive(r, "error");
        const cJSON *v;

        it->via_bulk = 1;
        if (!cJSON_IsObject(r)) {
            item_fail(it, ERR_PROTO,
                      x.status == 400 ? "the server refused the bulk request (HTTP 400)"
                                      : "the bulk answer does not mention this file");
            continue;
        }
        if (!cJSON_IsFalse(er)) {
            v = cJSON_GetObjectItemCaseSensitive(r, "message");
            item_fail(it, ERR_SERVER,
                      cJSON_IsString(v) ? v->valuestring : "the server could not write it");
            continue;
        }
        it->rc = 0;
        v = cJSON_GetObjectItemCaseSensitive(r, "etag");
        if (cJSON_IsString(v))
            copy_etag(it->etag, sizeof(it->etag), v->valuestring);
        v = cJSON_GetObjectItemCaseSensitive(r, "fileid");
        if (cJSON_IsString(v))
            snprintf(it->fileid, sizeof(it->fileid), "%s", v->valuestring);
        else if (cJSON_IsNumber(v))
            snprintf(it->fileid, sizeof(it->fileid), "%.0f", v->valuedouble);
    }
out:
    cJSON_Delete(j);
    xfer_release(&x);
    curl_slist_free_all(hdrs);
    buf_release(&body);
    buf_release(&url);
    return rc;
}

int dav_bulk_upload(struct dav *d, struct dav_bulk_item *items, size_t n, struct err *e)
{
    size_t idx[DAV_BULK_MAX_FILES];
    char *xp[DAV_BULK_MAX_FILES];
    struct buf pre, norm;
    size_t i = 0, k = 0, bytes = 0;
    int rc = 0, first = 0;

    buf_init(&pre, DAV_URL_MAX);
    buf_init(&norm, DAV_URL_MAX);
    for (size_t t = 0; t < n; t++)
        item_reset(&items[t]);
    if (bulk_probe(d) > 0 && bulk_prefix(d, &pre) < 0)
        d->bulk = 0;
    while (i < n || k > 0) {
        /* gather the next request's files */
        while (i < n && k < DAV_BULK_MAX_FILES && d->bulk > 0) {
            struct dav_bulk_item *it = &items[i];
            struct err e2 = ERR_INIT;

            if (it->len > DAV_BULK_FILE_MAX)
                break;
            if (k > 0 && bytes + it->len > DAV_BULK_MAX_BYTES)
                break;
            if (dav_path_normalize(it->path, &norm, &e2) < 0) {
                item_fail(it, e2.code, e2.msg);
                i++;
                continue;
            }
            if (!bulk_path_ok(norm.data, norm.len) ||
                (it->content_type && !header_safe(it->content_type)))
                break; /* this one goes by PUT */
            xp[k] = malloc(pre.len + norm.len + 1);
            if (!xp[k]) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            memcpy(xp[k], pre.data ? pre.data : "", pre.len);
            memcpy(xp[k] + pre.len, norm.data, norm.len + 1);
            idx[k++] = i++;
            bytes += it->len;
        }
        if (k > 0) {
            struct err e2 = ERR_INIT;
            int r = bulk_post(d, items, idx, xp, k, &e2);

            if (r == 1) {
                i = idx[0]; /* no bulk endpoint: these go by PUT below */
            } else if (r < 0) {
                /* the whole request failed: this batch and the rest carry the code */
                for (size_t t = idx[0]; t < n; t++)
                    if (items[t].rc == 0)
                        item_fail(&items[t], r, e2.msg);
                rc = r;
                if (e)
                    *e = e2;
            }
            for (size_t t = 0; t < k; t++)
                free(xp[t]);
            k = bytes = 0;
            if (rc < 0)
                goto out;
            continue;
        }
        if (i < n) {
            if (items[i].rc == 0)
                bulk_put_one(d, &items[i]);
            if (items[i].rc == ERR_AUTH || items[i].rc == ERR_RETRY) {
                /* the server is refusing or away: do not hammer it with the rest */
                for (size_t t = i + 1; t < n; t++)
                    item_fail(&items[t], items[i].rc, items[i].message);
                rc = items[i].rc;
                if (e)
                    err_set(e, rc, "%s", items[i].message);
                goto out;
            }
            i++;
        }
    }
    for (size_t t = 0; t < n; t++) {
        if (items[t].rc < 0 && !first) {
            first = 1;
            err_set(e, items[t].rc, "\"%.300s\": %s", items[t].path ? items[t].path : "",
                    items[t].message);
        }
    }
out:
    for (size_t t = 0; t < k; t++)
        free(xp[t]);
    buf_release(&pre);
    buf_release(&norm);
    return rc;
}
