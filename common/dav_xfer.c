/*
 * dav_xfer: one request, from setup to a mapped status (see dav_int.h).
 *
 * Every request goes through dav_run() (or, for a streamed PROPFIND, the
 * same steps driven by dav_propfind_ex()): dav_xfer_setup() sets the handle
 * up from scratch (curl_easy_reset keeps the connection cache), the
 * transfer runs on the handle's own CURLM (so keep-alive connections are
 * shared by every kind of request, PROPFIND included), and what may be
 * retried is retried: network errors and 429/502/503/504, with exponential
 * backoff and jitter, honouring Retry-After, each wait capped and all
 * waits of one call capped. An upload is retried only when its source can
 * rewind; a download only while no byte has reached the consumer; a
 * listing only before the first entry.
 *
 * dav_xfer_pump() is one step of a transfer and holds its bounds: a stop
 * asked ends it at once, nothing moving for o.stall_ms ends it too. For a
 * PROPFIND the write callback fills a small buffer (pausing the transfer
 * when it holds more than DAV_STREAM_HIGH bytes) that the parser drains.
 * Response bodies that are not streamed (error pages, PROPPATCH answers,
 * status.php) are kept up to opts.max_response bytes, the rest dropped.
 *
 * dav_map_status() turns a final HTTP status into 0 or one of our codes,
 * with the server's own words when its error page has some;
 * count_request() sums CURLINFO_NUM_CONNECTS
 * and keeps the HTTP version for dav_stats().
 */
#include "dav.h"
#include "dav_int.h"
#include "log.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "banned.h"

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
    struct dav_xfer *x = ud;
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

static size_t keep_resp(struct dav_xfer *x, const char *p, size_t n)
{
    size_t room = x->d->o.max_response - x->resp.len;

    if (room)
        buf_append(&x->resp, p, n < room ? n : room);
    return n;
}

static size_t on_write(char *p, size_t sz, size_t nm, void *ud)
{
    struct dav_xfer *x = ud;
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
    struct dav_xfer *x = ud;
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
    struct dav_xfer *x = ud;

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

void dav_xfer_init(struct dav_xfer *x, struct dav *d, const char *method, const char *path)
{
    memset(x, 0, sizeof(*x));
    x->d = d;
    x->method = method;
    x->path = path;
    x->retry_after_ms = -1;
    buf_init(&x->resp, d->o.max_response + 1);
    buf_init(&x->sbuf, DAV_STREAM_HIGH + CURL_MAX_WRITE_SIZE * 4);
}

void dav_xfer_release(struct dav_xfer *x)
{
    buf_release(&x->resp);
    buf_release(&x->sbuf);
}

/* Forget what one attempt received. */
void dav_xfer_reset_attempt(struct dav_xfer *x)
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

int dav_xfer_setup(struct dav *d, struct dav_xfer *x, const char *url, struct curl_slist *hdrs)
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
    if (d->ca_file) {
        /* instead of the system's CAs: the bundle and the directory libcurl was built with */
        ok &= curl_easy_setopt(c, CURLOPT_CAINFO, d->ca_file) == CURLE_OK;
        ok &= curl_easy_setopt(c, CURLOPT_CAPATH, NULL) == CURLE_OK;
    }
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
void dav_xfer_pump(struct dav *d, struct dav_xfer *x)
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

int dav_is_retry_status(long st)
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

/*
 * Start the transfer on the multi handle and run it until the response's
 * first body byte (streaming) or its end. Returns 0 or ERR_INTERNAL.
 */
int dav_xfer_start(struct dav *d, struct dav_xfer *x)
{
    if (curl_multi_add_handle(d->multi, d->curl) != CURLM_OK)
        return ERR_INTERNAL;
    while (!x->done && !(x->streaming && x->sbuf.len > x->spos))
        dav_xfer_pump(d, x);
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

void dav_xfer_finish(struct dav *d, struct dav_xfer *x)
{
    while (!x->done)
        dav_xfer_pump(d, x);
    curl_multi_remove_handle(d->multi, d->curl);
    count_request(d);
}

void dav_xfer_stop(struct dav *d)
{
    curl_multi_remove_handle(d->multi, d->curl);
    count_request(d);
}

/*
 * The transfer ended (x->done): turn a transport failure into a code, or
 * 0 when an HTTP status came back (x->status set).
 */
int dav_xfer_result(struct dav *d, struct dav_xfer *x, struct err *e)
{
    if (x->src_abort)
        return err_set(e, ERR_IO, DAV_REQ_FMT ": the upload source failed", DAV_REQ_ARGS(x));
    if (x->src_short)
        return err_set(e, ERR_IO, DAV_REQ_FMT ": the upload source ended after %lld of %lld bytes",
                       DAV_REQ_ARGS(x), x->sent, x->put ? x->put->size : 0LL);
    if (x->sink_abort)
        return err_set(e, ERR_IO, DAV_REQ_FMT ": the download consumer stopped after %lld bytes",
                       DAV_REQ_ARGS(x), x->got);
    if (x->too_big)
        return err_set(e, ERR_TOO_BIG, DAV_REQ_FMT ": the response is over %llu bytes",
                       DAV_REQ_ARGS(x), d->o.max_listing);
    if (x->stopped)
        return err_set(e, ERR_STOPPED, DAV_REQ_FMT ": stopped (a stop was asked)", DAV_REQ_ARGS(x));
    if (x->stalled)
        return err_set(e, ERR_RETRY, DAV_REQ_FMT ": no answer from the server in %ld ms (%.200s)",
                       DAV_REQ_ARGS(x), d->o.stall_ms, d->root);
    if (x->result == CURLE_PEER_FAILED_VERIFICATION)
        return err_set(e, ERR_PROTO,
                       DAV_REQ_FMT
                       ": the server's certificate is not trusted (set cloud.ca_file to "
                       "its CA, or cloud.insecure: true to skip the check)%s%s",
                       DAV_REQ_ARGS(x), d->errbuf[0] ? ": " : "", d->errbuf);
    if (x->result == CURLE_SSL_CACERT_BADFILE)
        return err_set(e, ERR_PROTO,
                       DAV_REQ_FMT ": the CA certificates of cloud.ca_file (%.200s) cannot be "
                                   "loaded%s%s",
                       DAV_REQ_ARGS(x), d->ca_file ? d->ca_file : "the system's",
                       d->errbuf[0] ? ": " : "", d->errbuf);
    if (x->result != CURLE_OK)
        return err_set(e, is_network_error(x->result) ? ERR_RETRY : ERR_PROTO,
                       DAV_REQ_FMT ": %s%s%s", DAV_REQ_ARGS(x), curl_easy_strerror(x->result),
                       d->errbuf[0] ? ": " : "", d->errbuf);
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &x->status);
    return 0;
}

/* After a failed attempt: whether to try again (sleeping first). */
int dav_should_retry(struct dav *d, struct dav_xfer *x, int attempt, long long *waited)
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
    log_debug(d->o.log, DAV_REQ_FMT ": retrying in %ld ms (attempt %d)", DAV_REQ_ARGS(x), w,
              attempt + 2);
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
int dav_run(struct dav *d, struct dav_xfer *x, const char *url, struct curl_slist *hdrs,
            struct err *e)
{
    long long waited = 0, t0 = now_ms();
    int rc;

    if (d->busy)
        return err_set(e, ERR_INTERNAL, DAV_REQ_FMT ": the handle is busy with a listing",
                       DAV_REQ_ARGS(x));
    for (int attempt = 0;; attempt++) {
        dav_xfer_reset_attempt(x);
        rc = dav_xfer_setup(d, x, url, hdrs);
        if (rc == 0)
            rc = dav_xfer_start(d, x);
        if (rc < 0)
            return err_set(e, rc, DAV_REQ_FMT ": cannot set up the request", DAV_REQ_ARGS(x));
        dav_xfer_finish(d, x);
        rc = dav_xfer_result(d, x, e);
        if (rc == ERR_RETRY || (rc == 0 && dav_is_retry_status(x->status))) {
            if (dav_should_retry(d, x, attempt, &waited))
                continue;
            if (x->stopped)
                return err_set(e, ERR_STOPPED, DAV_REQ_FMT ": stopped (a stop was asked)",
                               DAV_REQ_ARGS(x));
        }
        if (rc == 0)
            log_debug(d->o.log, DAV_REQ_FMT ": %ld in %lld ms", DAV_REQ_ARGS(x), x->status,
                      now_ms() - t0);
        return rc;
    }
}

/* Map a final HTTP status to 0 or an error. what412 is the code for 412. */
int dav_map_status(struct dav *d, struct dav_xfer *x, int what412, const char *why412,
                   struct err *e)
{
    char msg[256];
    long st = x->status;

    if (st >= 200 && st <= 299)
        return 0;
    server_message(&x->resp, msg, sizeof(msg));
#define FAIL(code, ...)                                                                            \
    err_set(e, code, DAV_REQ_FMT ": HTTP %ld: %s%s%s", DAV_REQ_ARGS(x), st, __VA_ARGS__,           \
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

struct curl_slist *dav_add_header(struct curl_slist *l, int *ok, const char *fmt, ...)
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
int dav_header_safe(const char *v)
{
    return v && !strpbrk(v, "\r\n");
}

/*
 * The etag to send in If-Match. Apache marks an etag weak (W/"...") during
 * the second the file changed and refuses any If-Match while it is weak; the
 * value itself stays the same once strong, so we send it without W/.
 */
const char *dav_match_etag(const char *etag)
{
    return etag && strncmp(etag, "W/", 2) == 0 ? etag + 2 : etag;
}

void dav_fill_result(struct dav_xfer *x, struct dav_result *out)
{
    if (!out)
        return;
    out->status = x->status;
    snprintf(out->etag, sizeof(out->etag), "%s", x->etag);
    snprintf(out->fileid, sizeof(out->fileid), "%s", x->fileid);
}

/* Run method on path with headers; map the status (what412 for 412). */
int dav_simple(struct dav *d, const char *method, const char *path, struct curl_slist *hdrs,
               const char *body, struct dav_xfer *x, int what412, const char *why412, struct err *e)
{
    struct buf url;
    int rc;

    buf_init(&url, DAV_URL_MAX);
    dav_xfer_init(x, d, method, path);
    x->body = body;
    x->body_len = body ? strlen(body) : 0;
    rc = dav_path_to_url(d, path, &url, e);
    if (rc == 0)
        rc = dav_run(d, x, url.data, hdrs, e);
    if (rc == 0)
        rc = dav_map_status(d, x, what412, why412, e);
    buf_release(&url);
    return rc;
}
