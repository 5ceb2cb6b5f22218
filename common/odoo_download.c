/*
 * odoo_download: an attachment's content, streamed to the caller (odoo_download in odoo.h).
 *
 * Two ways, chosen by the download mode (odoo_opts) and what the credentials allow:
 *   /web/content  GET /web/content/<id>?download=true, with a web session cookie
 *                 (POST /web/session/authenticate, needs a real password) or the JSON-2
 *                 bearer key. No total timeout: a stalled stream is aborted instead.
 *   datas         ir.attachment.read(["datas"]) over RPC, base64-decoded 48 KiB at a time;
 *                 the answer is held once (capped by max_response), the content never is.
 * AUTO falls back from the first to the second when Odoo refuses the api key or gives no
 * web session. Every byte goes through a SHA-1 context and a size check before the
 * consumer's callback; once the consumer has seen bytes a failure is never silently
 * restarted. At the end the size and SHA-1 are checked against what the caller expected:
 * a difference is ERR_CONFLICT (the attachment changed), no content at all where bytes
 * were expected is ERR_LOST (the file is missing from Odoo's filestore).
 */
#include "odoo.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "odoo_int.h"
#include "sha.h"

#include "banned.h"

#define ERROR_BODY_MAX ((size_t)64 << 10)

/* ---- download ------------------------------------------------------------------------ */

/* POST /web/session/authenticate: puts a session cookie into the curl handle. */
static int web_login(struct odoo *o, struct err *e)
{
    cJSON *env = cJSON_CreateObject();
    cJSON *params = env ? cJSON_AddObjectToObject(env, "params") : NULL;
    cJSON *res = NULL;
    char *body = NULL;
    int rc;

    if (!params || !cJSON_AddStringToObject(env, "jsonrpc", "2.0") ||
        !cJSON_AddStringToObject(env, "method", "call") ||
        !cJSON_AddStringToObject(params, "db", o->db) ||
        !cJSON_AddStringToObject(params, "login", o->login) ||
        !cJSON_AddStringToObject(params, "password", o->password)) {
        rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
        goto out;
    }
    body = cJSON_PrintUnformatted(env);
    if (!body) {
        rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
        goto out;
    }
    rc = odoo_exchange(o, ODOO_PROTO_JSONRPC, "/web/session/authenticate", body, 0, 1, &res, NULL,
                       e);
    if (rc < 0) {
        err_prefix(e, "odoo: web session for \"%s\"", o->login);
        goto out;
    }
    {
        const cJSON *uid = cJSON_GetObjectItemCaseSensitive(res, "uid");
        if (!cJSON_IsNumber(uid) || uid->valuedouble < 1) {
            rc = err_set(e, ERR_AUTH, "odoo: web session for \"%s\" refused", o->login);
            goto out;
        }
    }
    o->web_session = 1;
out:
    cJSON_Delete(res);
    odoo_free_body(body);
    cJSON_Delete(env);
    return rc;
}

struct dl {
    struct odoo *o;
    int (*write_cb)(const char *p, size_t n, void *ud);
    void *ud;
    struct sha1_ctx sha;
    long long bytes;
    long long expected_size;
    long status;
    int cb_rc;    /* non-zero: the consumer stopped us */
    int too_long; /* more bytes than expected_size */
    struct buf errbody;
};

/* Content bytes: size check, sha1, then the consumer. -1 (flags set in d) to stop. */
static int dl_deliver(struct dl *d, const char *p, size_t n)
{
    int rc;

    if (d->expected_size >= 0 && d->bytes + (long long)n > d->expected_size) {
        d->too_long = 1;
        return -1;
    }
    if (sha1_update(&d->sha, p, n, NULL) < 0) {
        d->cb_rc = ERR_INTERNAL;
        return -1;
    }
    d->bytes += (long long)n;
    rc = d->write_cb(p, n, d->ud);
    if (rc != 0) {
        d->cb_rc = rc < 0 ? rc : ERR_IO;
        return -1;
    }
    return 0;
}

static size_t dl_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct dl *d = ud;
    size_t n = size * nmemb;

    if (d->status == 0)
        curl_easy_getinfo(d->o->curl, CURLINFO_RESPONSE_CODE, &d->status);
    if (d->status != 200) {
        /* an error page: keep its start for the message, drop the rest */
        if (d->errbody.len < ERROR_BODY_MAX)
            buf_append(&d->errbody, p,
                       n < ERROR_BODY_MAX - d->errbody.len ? n : ERROR_BODY_MAX - d->errbody.len);
        return n;
    }
    return dl_deliver(d, p, n) < 0 ? 0 : n;
}

/* One GET of /web/content/<id>. *delivered: whether bytes reached the consumer. */
static int download_once(struct odoo *o, struct dl *d, long att_id, int bearer, long *status,
                         struct err *e)
{
    struct curl_slist *hdrs = NULL;
    char path[96];
    CURLcode cc;
    int rc;

    snprintf(path, sizeof(path), "/web/content/%ld?download=true", att_id);
    d->status = 0;
    d->cb_rc = 0;
    d->too_long = 0;
    buf_reset(&d->errbody);
    rc = odoo_http_setup(o, path, e);
    if (rc < 0)
        return rc;
    if (bearer) {
        rc = odoo_bearer_headers(o, &hdrs);
        if (rc < 0)
            return err_set(e, rc, "odoo: cannot build auth headers");
        curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, hdrs);
    }
    curl_easy_setopt(o->curl, CURLOPT_HTTPGET, 1L);
    /* no total timeout on a stream of any size: abort when it stalls instead */
    curl_easy_setopt(o->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(o->curl, CURLOPT_LOW_SPEED_TIME,
                     o->timeout_ms / 1000 > 0 ? o->timeout_ms / 1000 : 1L);
    curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, dl_write);
    curl_easy_setopt(o->curl, CURLOPT_WRITEDATA, d);
    cc = curl_easy_perform(o->curl);
    odoo_free_headers(hdrs);
    *status = 0;
    curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, status);
    if (d->cb_rc)
        return err_set(e, d->cb_rc, "odoo: download of attachment %ld stopped by the consumer",
                       att_id);
    if (d->too_long)
        return err_set(e, ERR_CONFLICT,
                       "odoo: attachment %ld is larger than the expected %lld bytes: it changed",
                       att_id, d->expected_size);
    if (cc != CURLE_OK) {
        char what[64];

        snprintf(what, sizeof(what), "download of attachment %ld", att_id);
        return odoo_curl_failure(o, cc, what, o->timeout_ms, e);
    }
    if (*status == 200)
        return 0;
    if (*status >= 300 && *status < 400) {
        char *loc = NULL;

        curl_easy_getinfo(o->curl, CURLINFO_REDIRECT_URL, &loc);
        if (loc && !strstr(loc, "/web/login"))
            /* a `url` attachment: /web/content redirects to what it points at */
            return err_set(e, ERR_INVALID,
                           "odoo: attachment %ld has no content here (HTTP %ld to another "
                           "location: a url attachment?)",
                           att_id, *status);
        return err_set(e, ERR_AUTH,
                       "odoo: download of attachment %ld: redirected (HTTP %ld): "
                       "not logged in",
                       att_id, *status);
    }
    rc = odoo_decode_response(ODOO_PROTO_JSON2, *status, d->errbody.data, d->errbody.len, NULL,
                              NULL, e);
    if (rc == 0 || rc == ERR_PROTO)
        rc = err_set(e, ERR_PROTO, "odoo: download answered HTTP %ld", *status);
    return err_prefix(e, "odoo: download of attachment %ld", att_id);
}

/* base64 digit value, -1 for anything else */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/*
 * Deliver a record's `datas` (base64, "type" beside it) decoded, 48 KiB at a time. The
 * answer is held once in memory (capped by max_response); the decoded content never is.
 */
static int datas_deliver(struct dl *d, const cJSON *rec, long att_id, struct err *e)
{
    unsigned char out[49152];
    const cJSON *datas;
    const unsigned char *p;
    unsigned long acc = 0;
    size_t nout = 0;
    int bits = 0, rc = 0;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "type"));

    if (type && strcmp(type, "binary") != 0)
        return err_set(e, ERR_INVALID, "odoo: attachment %ld has no content here (a %s attachment)",
                       att_id, type);
    datas = cJSON_GetObjectItemCaseSensitive(rec, "datas");
    if (cJSON_IsFalse(datas) || cJSON_IsNull(datas))
        return 0; /* empty content */
    if (!cJSON_IsString(datas))
        return err_set(e, ERR_PROTO, "odoo: attachment %ld: datas is not a string", att_id);
    for (p = (const unsigned char *)datas->valuestring; *p; p++) {
        int v = b64_value(*p);

        if (v < 0) {
            if (*p == '=' || *p == '\n' || *p == '\r' || *p == ' ')
                continue;
            return err_set(e, ERR_PROTO, "odoo: attachment %ld: datas is not base64", att_id);
        }
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[nout++] = (unsigned char)(acc >> bits);
            acc &= (1UL << bits) - 1;
        }
        if (nout == sizeof(out)) {
            if (dl_deliver(d, (const char *)out, nout) < 0)
                break;
            nout = 0;
        }
    }
    if (!d->cb_rc && !d->too_long && nout)
        dl_deliver(d, (const char *)out, nout);
    if (d->cb_rc)
        rc = err_set(e, d->cb_rc, "odoo: download of attachment %ld stopped by the consumer",
                     att_id);
    else if (d->too_long)
        rc = err_set(e, ERR_CONFLICT,
                     "odoo: attachment %ld is larger than the expected %lld bytes: it changed",
                     att_id, d->expected_size);
    return rc;
}

/* The RPC way: read `datas` and deliver it. */
static int download_datas(struct odoo *o, struct dl *d, long att_id, struct err *e)
{
    static const char *const fields[] = {"datas", "type", NULL};
    cJSON *recs = NULL;
    int rc;

    rc = odoo_read(o, "ir.attachment", &att_id, 1, fields, &recs, e);
    if (rc == 0 && cJSON_GetArraySize(recs) < 1)
        rc = err_set(e, ERR_NOTFOUND, "odoo: attachment %ld does not exist", att_id);
    if (rc == 0)
        rc = datas_deliver(d, cJSON_GetArrayItem(recs, 0), att_id, e);
    cJSON_Delete(recs);
    return rc;
}

/* After the content: size and sha1 against what the caller expected. */
static int dl_check(struct dl *d, struct log *lg, long att_id, long long expected_size,
                    const char *expected_sha1, char *sha1_hex_out, struct err *e)
{
    char hex[SHA1_HEX_SIZE];
    int rc = sha1_final(&d->sha, hex, e);

    if (rc < 0)
        return rc;
    if (sha1_hex_out)
        memcpy(sha1_hex_out, hex, SHA1_HEX_SIZE);
    if (expected_size > 0 && d->bytes == 0) {
        /* what Odoo serves when the row is there and its file is not (_file_read logs
         * the missing file and returns nothing): retrying cannot bring it back */
        return err_set(e, ERR_LOST,
                       "odoo: attachment %ld has no content in Odoo (0 of %lld bytes): its file "
                       "is missing from Odoo's filestore; restore the file there, or delete or "
                       "re-upload the attachment in Odoo",
                       att_id, expected_size);
    }
    if (expected_size >= 0 && d->bytes != expected_size)
        return err_set(e, ERR_CONFLICT,
                       "odoo: attachment %ld has %lld bytes, expected %lld: it changed", att_id,
                       d->bytes, expected_size);
    if (expected_sha1 && *expected_sha1 && strcasecmp(expected_sha1, hex) != 0)
        return err_set(e, ERR_CONFLICT,
                       "odoo: attachment %ld has sha1 %s, expected %.40s: it changed", att_id, hex,
                       expected_sha1);
    log_debug(lg, "odoo: downloaded attachment %ld (%lld bytes)", att_id, d->bytes);
    return 0;
}

int odoo_deliver_datas(const cJSON *rec, long att_id,
                       int (*write_cb)(const char *p, size_t n, void *ud), void *ud,
                       long long expected_size, const char *expected_sha1, char *sha1_hex_out,
                       struct err *e)
{
    struct dl d;
    int rc;

    memset(&d, 0, sizeof(d));
    d.write_cb = write_cb;
    d.ud = ud;
    d.expected_size = expected_size;
    if (sha1_hex_out)
        sha1_hex_out[0] = '\0';
    rc = sha1_init(&d.sha, e);
    if (rc < 0)
        return rc;
    rc = datas_deliver(&d, rec, att_id, e);
    if (rc == 0)
        rc = dl_check(&d, NULL, att_id, expected_size, expected_sha1, sha1_hex_out, e);
    sha1_release(&d.sha);
    return rc;
}

int odoo_download(struct odoo *o, long att_id, int (*write_cb)(const char *p, size_t n, void *ud),
                  void *ud, long long expected_size, const char *expected_sha1, char *sha1_hex_out,
                  struct err *e)
{
    struct dl d;
    int rc, attempt, relogged = 0;
    long status = 0;

    memset(&d, 0, sizeof(d));
    d.o = o;
    d.write_cb = write_cb;
    d.ud = ud;
    d.expected_size = expected_size;
    buf_init(&d.errbody, ERROR_BODY_MAX);
    if (sha1_hex_out)
        sha1_hex_out[0] = '\0';
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        goto out;
    if (o->dl_mode == ODOO_DL_RPC)
        goto rpc;
    for (attempt = 0;; attempt++) {
        int bearer = o->used == ODOO_PROTO_JSON2 && !o->web_session;
        int fresh = 0;

        if (!bearer && !o->web_session) {
            /* Odoo opens no web session with an api key: without a password, AUTO reads
             * the content over RPC instead */
            if (!o->has_password && o->dl_mode == ODOO_DL_AUTO)
                goto rpc;
            rc = web_login(o, e);
            if (rc == ERR_AUTH && o->dl_mode == ODOO_DL_AUTO) {
                /* the "password" is an api key: JSON-RPC takes it, a web login does not */
                log_debug(o->log, "odoo: no web session (%s); reading attachment %ld's datas",
                          e->msg, att_id);
                err_clear(e);
                goto rpc;
            }
            if (rc < 0)
                goto out;
            fresh = 1;
        }
        rc = sha1_init(&d.sha, e);
        if (rc < 0)
            goto out;
        d.bytes = 0;
        rc = download_once(o, &d, att_id, bearer, &status, e);
        if (rc == 0)
            break;
        sha1_release(&d.sha);
        if (d.bytes > 0)
            goto out; /* the consumer saw bytes: no silent restart */
        /* An expired session makes Odoo serve /web/content as the public user, who gets a
         * 404 (or 403) for a private attachment; real Odoo also serves it that way to a
         * bearer key. Log in (again) once when we have a password. */
        if (!relogged && o->has_password && *o->login &&
            (rc == ERR_AUTH || (!fresh && (rc == ERR_NOTFOUND || rc == ERR_ACCESS)))) {
            relogged = 1;
            o->web_session = 0;
            rc = web_login(o, e);
            if (rc < 0)
                goto out;
            attempt--;
            continue;
        }
        if (bearer && o->dl_mode == ODOO_DL_AUTO &&
            (rc == ERR_NOTFOUND || rc == ERR_ACCESS || rc == ERR_AUTH)) {
            log_debug(o->log,
                      "odoo: /web/content refused the api key for attachment %ld; "
                      "reading its datas instead",
                      att_id);
            goto rpc;
        }
        if (rc != ERR_RETRY || attempt >= o->retries)
            goto out;
        if (odoo_sleep_ms(o->stop, odoo_backoff_ms(o, attempt, 0)) < 0) {
            rc = err_set(e, ERR_STOPPED, "odoo: download of attachment %ld: stopped", att_id);
            goto out;
        }
    }
    goto check;
rpc:
    rc = sha1_init(&d.sha, e);
    if (rc < 0)
        goto out;
    d.bytes = 0;
    rc = download_datas(o, &d, att_id, e);
    if (rc < 0)
        goto out;
check:
    rc = dl_check(&d, o->log, att_id, expected_size, expected_sha1, sha1_hex_out, e);
out:
    sha1_release(&d.sha);
    buf_release(&d.errbody);
    return rc;
}
