/*
 * odoo_stream: create and write with a binary field's content streamed into the request
 * (odoo.h, struct odoo_stream), for files too large to hold in memory twice (the bytes,
 * then their base64 in the JSON body).
 *
 * Odoo's JSON APIs (JSON-RPC and JSON-2) take a binary field only base64-encoded inside
 * the JSON body; its multipart upload routes (/web/binary/upload_attachment, the
 * Documents app's /documents/upload_attachment) want a browser session and a CSRF token,
 * and attach to a record rather than create or write one. So the body is serialised as
 * usual with a placeholder string in place of the content (o->stream_mark, a nonce), and
 * sent through a curl read callback: the JSON before the placeholder, the content read
 * from the stream and base64-encoded 12 KiB at a time, the JSON after it. The
 * Content-Length is known in advance (4 * ceil(size / 3) for the content), so a request
 * over Odoo's limit (werkzeug's max_content_length, 128 MiB by default: opts.max_request)
 * is refused before anything is sent, and a stream that gives another number of bytes
 * than announced aborts the request (Odoo then sees a short body and writes nothing).
 * Everything else (envelopes, retries, re-login) is odoo_call_kw()'s and
 * odoo_exchange()'s, which call odoo_stream_perform() for a body carrying the mark.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odoo_int.h"

#include "banned.h"

#define DEFAULT_MAX_REQUEST ((size_t)128 << 20)
#define ROOM (64 * 1024) /* the rest of a request: envelope, credentials, other values */
#define RAW_CHUNK (3 * 4096)

struct reader {
    const struct odoo_stream *s;
    const char *pre, *suf;
    size_t npre, nsuf, opre, osuf;
    long long raw; /* bytes read from the stream */
    int eof, failed;
    unsigned char in[RAW_CHUNK];
    char out[RAW_CHUNK / 3 * 4];
    size_t nout, oout;
};

static size_t b64_len(long long size)
{
    return (size_t)(4 * ((size + 2) / 3));
}

static size_t b64_encode(const unsigned char *p, size_t n, char *s)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        s[o++] = tab[(v >> 18) & 63];
        s[o++] = tab[(v >> 12) & 63];
        s[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        s[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    return o;
}

/* Refills r->out with the next piece of content, base64; 0 at the end, -1 on an error. */
static int refill(struct reader *r)
{
    size_t got = 0;

    while (!r->eof && got < sizeof(r->in)) {
        size_t n = r->s->read((char *)r->in + got, sizeof(r->in) - got, r->s->ud);
        if (n == ODOO_READ_ABORT || n > sizeof(r->in) - got)
            return -1;
        if (n == 0)
            r->eof = 1;
        got += n;
    }
    r->raw += (long long)got;
    if (r->raw > r->s->size || (r->eof && r->raw != r->s->size))
        return -1; /* the announced length would be wrong: abort rather than send it */
    /* whole groups of 3 except at the end: the buffer is filled to its size (3 * k) */
    r->nout = b64_encode(r->in, got, r->out);
    r->oout = 0;
    return r->nout ? 1 : 0;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    struct reader *r = ud;
    size_t cap = size * nitems, n = 0;

    while (n < cap) {
        if (r->opre < r->npre) {
            size_t k = r->npre - r->opre < cap - n ? r->npre - r->opre : cap - n;
            memcpy(buf + n, r->pre + r->opre, k);
            r->opre += k;
            n += k;
        } else if (r->oout < r->nout) {
            size_t k = r->nout - r->oout < cap - n ? r->nout - r->oout : cap - n;
            memcpy(buf + n, r->out + r->oout, k);
            r->oout += k;
            n += k;
        } else if (!r->eof) {
            if (refill(r) < 0) {
                r->failed = 1;
                return CURL_READFUNC_ABORT;
            }
        } else if (r->osuf < r->nsuf) {
            size_t k = r->nsuf - r->osuf < cap - n ? r->nsuf - r->osuf : cap - n;
            memcpy(buf + n, r->suf + r->osuf, k);
            r->osuf += k;
            n += k;
        } else {
            break;
        }
    }
    return n;
}

int odoo_stream_fits(const struct odoo *o, long long size, size_t *limit)
{
    size_t max = o->max_request ? o->max_request : DEFAULT_MAX_REQUEST;

    if (limit)
        *limit = max;
    return size >= 0 && max > ROOM && b64_len(size) <= max - ROOM;
}

long long odoo_stream_max(const struct odoo *o)
{
    size_t max = o->max_request ? o->max_request : DEFAULT_MAX_REQUEST;

    return max > ROOM ? (long long)((max - ROOM) / 4) * 3 : 0;
}

int odoo_stream_perform(struct odoo *o, const char *body, const char *mark, CURLcode *cc,
                        struct err *e)
{
    struct reader *r;
    size_t max = o->max_request ? o->max_request : DEFAULT_MAX_REQUEST;
    size_t nmark = strlen(o->stream_mark);
    long long total;
    long secs = (o->timeout_ms + 999) / 1000;
    int rc = 0;

    r = calloc(1, sizeof(*r));
    if (!r)
        return err_set(e, ERR_NOMEM, "odoo: out of memory");
    r->s = o->stream;
    r->pre = body;
    r->npre = (size_t)(mark - body);
    r->suf = mark + nmark;
    r->nsuf = strlen(r->suf);
    total = (long long)r->npre + (long long)b64_len(r->s->size) + (long long)r->nsuf;
    if (r->s->size < 0 || total > (long long)max) {
        rc = err_set(e, ERR_TOO_BIG,
                     "odoo: %lld bytes of content make a request of %lld bytes (base64 in "
                     "JSON): over the %zu bytes Odoo takes in one request; not sent",
                     r->s->size, total, max);
        goto out;
    }
    if (r->s->rewind && r->s->rewind(r->s->ud) < 0) {
        rc = err_set(e, ERR_IO, "odoo: cannot rewind the content to send");
        goto out;
    }
    curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, (char *)NULL);
    curl_easy_setopt(o->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(o->curl, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(o->curl, CURLOPT_READDATA, r);
    curl_easy_setopt(o->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
    /* no whole-request timeout for a large body: a stall of timeout_ms instead */
    curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(o->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(o->curl, CURLOPT_LOW_SPEED_TIME, secs > 0 ? secs : 60L);
    *cc = curl_easy_perform(o->curl);
    curl_easy_setopt(o->curl, CURLOPT_READFUNCTION, (curl_read_callback)NULL);
    curl_easy_setopt(o->curl, CURLOPT_READDATA, (void *)NULL);
    if (r->failed)
        rc = err_set(e, ERR_IO,
                     "odoo: the content to send could not be read, or changed size (%lld "
                     "bytes announced); the request was aborted",
                     r->s->size);
out:
    free(r);
    return rc;
}

/* A copy of vals with field = the mark (a fresh nonce), and o set to stream s. */
static cJSON *marked(struct odoo *o, const cJSON *vals, const char *field,
                     const struct odoo_stream *s, struct err *e)
{
    cJSON *copy;

    if (!cJSON_IsObject(vals) || !field || !s || !s->read) {
        err_set(e, ERR_INVALID, "odoo: a streamed value needs values, a field and a stream");
        return NULL;
    }
    copy = cJSON_Duplicate(vals, 1);
    if (!copy) {
        err_set(e, ERR_NOMEM, "odoo: out of memory");
        return NULL;
    }
    snprintf(o->stream_mark, sizeof(o->stream_mark), "odoosync-stream-%08x%08x%08lx",
             (unsigned)rand_r(&o->seed), (unsigned)rand_r(&o->seed), (unsigned long)o->next_id);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, field);
    if (!cJSON_AddStringToObject(copy, field, o->stream_mark)) {
        cJSON_Delete(copy);
        err_set(e, ERR_NOMEM, "odoo: out of memory");
        return NULL;
    }
    o->stream = s;
    return copy;
}

int odoo_create_stream(struct odoo *o, const char *model, const cJSON *vals, const char *field,
                       const struct odoo_stream *s, long *id, struct err *e)
{
    cJSON *v = marked(o, vals, field, s, e);
    int rc;

    *id = 0;
    if (!v)
        return e && e->code ? e->code : ERR_NOMEM;
    rc = odoo_create(o, model, v, id, e);
    o->stream = NULL;
    cJSON_Delete(v);
    return rc;
}

int odoo_write_stream(struct odoo *o, const char *model, long id, const cJSON *vals,
                      const char *field, const struct odoo_stream *s, struct err *e)
{
    cJSON *v = marked(o, vals, field, s, e);
    int rc;

    if (!v)
        return e && e->code ? e->code : ERR_NOMEM;
    rc = odoo_write(o, model, &id, 1, v, e);
    o->stream = NULL;
    cJSON_Delete(v);
    return rc;
}
