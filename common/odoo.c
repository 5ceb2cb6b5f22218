/*
 * odoo: the Odoo client's handle and transport (see odoo.h for the API and the error
 * mapping, odoo_int.h for what the other pieces of the client use from here).
 *
 * Layers, bottom up:
 *   http_*      one libcurl easy handle per struct odoo, reset before each request
 *               (curl keeps live connections and cookies across a reset, so keep-alive
 *               and the web session survive); answers go into a capped buf.
 *   exchange()  one JSON POST with bounded retries and backoff (429/5xx/network);
 *               writes are retried only when the server cannot have applied them.
 *   connect     version detection, then a JSON-RPC login or a JSON-2 probe.
 *   call_kw()   one model method, marshalled for the protocol in use: JSON-RPC
 *               execute_kw with positional args + kwargs, or JSON-2 named params;
 *               re-logs in once on an expired session.
 * Built on them, in files of their own:
 *   odoo_calls.c     the public odoo_* model calls (search, read, create, write, ...).
 *   odoo_download.c  GET /web/content/<id> streamed to the caller's callback through a
 *                    SHA-1 context, with a session cookie (JSON-RPC) or the bearer key.
 *   odoo_decode.c    answer bodies to results or ERR_* codes (pure functions).
 *   odoo_stream.c    create / write with a binary field's content streamed into the
 *                    request body, base64 on the way (exchange() sends such a body).
 *
 * Secrets (password, api key) live in the handle only, go out in request bodies or
 * headers, never into a log line or an error message, and are wiped on free.
 */
#include "odoo.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "odoo_int.h"

#include "banned.h"

#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_RESPONSE ((size_t)64 << 20)
#define DEFAULT_RETRIES 2
#define DEFAULT_RETRY_BASE_MS 200L
#define MAX_BACKOFF_MS 30000L

/* ---- small helpers ------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Sleep ms in slices of 100 ms while no stop is asked; 0, or -1 when one was. */
int odoo_sleep_ms(const volatile sig_atomic_t *stop, long ms)
{
    while (ms > 0) {
        long step = ms < 100 ? ms : 100;
        struct timespec ts = {0, step * 1000000L};

        if (stop && *stop)
            return -1;
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        ms -= step;
    }
    return stop && *stop ? -1 : 0;
}

/* libcurl's progress callback (at least once a second): abort when a stop is asked. */
static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    const struct odoo *o = ud;

    (void)dlt;
    (void)dln;
    (void)ult;
    (void)uln;
    return o->stop && *o->stop ? 1 : 0;
}

/* The error of a failed curl_easy_perform: stopped, timed out (named) or a network error. */
int odoo_curl_failure(struct odoo *o, CURLcode cc, const char *what, long timeout_ms, struct err *e)
{
    if (cc == CURLE_ABORTED_BY_CALLBACK && o->stop && *o->stop)
        return err_set(e, ERR_STOPPED, "odoo: %s: stopped (a stop was asked)", what);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return err_set(e, ERR_RETRY, "odoo: %s: no answer in %ld ms (odoo.timeout_ms, %.200s)",
                       what, timeout_ms, o->url);
    /* no retry: the same certificate comes back */
    if (cc == CURLE_PEER_FAILED_VERIFICATION)
        return err_set(e, ERR_PROTO,
                       "odoo: %s: the server's certificate is not trusted (set odoo.ca_file to its "
                       "CA, or odoo.insecure: true to skip the check)%s%s",
                       what, o->curl_err[0] ? ": " : "", o->curl_err);
    if (cc == CURLE_SSL_CACERT_BADFILE)
        return err_set(
            e, ERR_PROTO,
            "odoo: %s: the CA certificates of odoo.ca_file (%.200s) cannot be loaded%s%s", what,
            o->ca_file ? o->ca_file : "the system's", o->curl_err[0] ? ": " : "", o->curl_err);
    return err_set(e, ERR_RETRY, "odoo: %s: %s", what,
                   o->curl_err[0] ? o->curl_err : curl_easy_strerror(cc));
}

long odoo_backoff_ms(struct odoo *o, int attempt, long retry_after_s)
{
    long ms = o->retry_base_ms;
    int i;

    if (retry_after_s > 0)
        return retry_after_s * 1000 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : retry_after_s * 1000;
    for (i = 0; i < attempt && ms < MAX_BACKOFF_MS; i++)
        ms *= 2;
    if (ms > MAX_BACKOFF_MS)
        ms = MAX_BACKOFF_MS;
    /* full jitter in [ms/2, ms] */
    return ms / 2 + (long)(rand_r(&o->seed) % (unsigned)(ms / 2 + 1));
}

const char *odoo_protocol_name(enum odoo_protocol p)
{
    switch (p) {
    case ODOO_PROTO_JSONRPC:
        return "jsonrpc";
    case ODOO_PROTO_JSON2:
        return "json2";
    default:
        return "auto";
    }
}

int odoo_protocol_parse(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "auto") == 0)
        return ODOO_PROTO_AUTO;
    if (strcmp(name, "jsonrpc") == 0 || strcmp(name, "json-rpc") == 0)
        return ODOO_PROTO_JSONRPC;
    if (strcmp(name, "json2") == 0 || strcmp(name, "json-2") == 0)
        return ODOO_PROTO_JSON2;
    return -1;
}

int odoo_version_major(const struct odoo *o)
{
    return o ? o->version_major : 0;
}

const char *odoo_server_version(const struct odoo *o)
{
    return o ? o->version : "";
}

enum odoo_protocol odoo_protocol_used(const struct odoo *o)
{
    return o ? o->used : ODOO_PROTO_AUTO;
}

long odoo_uid(const struct odoo *o)
{
    return o ? o->uid : 0;
}

/* ---- handle -------------------------------------------------------------------------- */

/*
 * Options that never change for a handle. The handle is never reset (curl_easy_reset
 * would drop the cookie engine's setting and leak its list in some curl versions);
 * odoo_http_setup() restores the per-request ones instead.
 */
static void http_init(struct odoo *o)
{
    curl_easy_setopt(o->curl, CURLOPT_ERRORBUFFER, o->curl_err);
    curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(o->curl, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(o->curl, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    curl_easy_setopt(o->curl, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    if (o->ca_file) {
        /* instead of the system's CAs: the bundle and the directory libcurl was built with */
        curl_easy_setopt(o->curl, CURLOPT_CAINFO, o->ca_file);
        curl_easy_setopt(o->curl, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(o->curl, CURLOPT_USERAGENT, "odoosync/0.1");
    curl_easy_setopt(o->curl, CURLOPT_COOKIEFILE, ""); /* cookie engine on, in memory */
    curl_easy_setopt(o->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(o->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(o->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(o->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(o->curl, CURLOPT_XFERINFODATA, o);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(o->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(o->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

struct odoo *odoo_new(const struct odoo_opts *opts, struct err *e)
{
    struct odoo *o = NULL;
    size_t n;

    if (!opts || !opts->url || !*opts->url) {
        err_set(e, ERR_INVALID, "odoo: no url");
        return NULL;
    }
    if (strncmp(opts->url, "http://", 7) != 0 && strncmp(opts->url, "https://", 8) != 0) {
        err_set(e, ERR_INVALID, "odoo: url \"%s\" is not http:// or https://", opts->url);
        return NULL;
    }
    {
        /* user:password@ in the URL would end up in logs and error messages */
        const char *auth = strstr(opts->url, "://") + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = memchr(auth, '@', alen);

        if (at) {
            err_set(e, ERR_INVALID, "odoo: credentials in the url are not supported");
            return NULL;
        }
    }
    if (opts->protocol == ODOO_PROTO_JSON2 && (!opts->api_key || !*opts->api_key)) {
        err_set(e, ERR_INVALID, "odoo: the JSON-2 protocol needs an api key");
        return NULL;
    }
    if ((!opts->password || !*opts->password) && (!opts->api_key || !*opts->api_key)) {
        err_set(e, ERR_INVALID, "odoo: neither a password nor an api key is set");
        return NULL;
    }
    o = calloc(1, sizeof(*o));
    if (!o)
        goto nomem;
    o->url = strdup(opts->url);
    o->db = strdup(opts->db ? opts->db : "");
    o->login = strdup(opts->login ? opts->login : "");
    o->password = dup_or_null(opts->password && *opts->password ? opts->password : opts->api_key);
    o->api_key = dup_or_null(opts->api_key && *opts->api_key ? opts->api_key : NULL);
    if (!o->url || !o->db || !o->login || !o->password)
        goto nomem;
    if (opts->api_key && *opts->api_key && !o->api_key)
        goto nomem;
    o->ca_file = dup_or_null(opts->ca_file);
    if (opts->ca_file && !o->ca_file)
        goto nomem;
    n = strlen(o->url);
    while (n > 0 && o->url[n - 1] == '/')
        o->url[--n] = '\0';
    o->want = opts->protocol;
    o->used = ODOO_PROTO_AUTO;
    o->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    o->connect_timeout_ms =
        opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    o->insecure = opts->insecure;
    o->max_response = opts->max_response ? opts->max_response : DEFAULT_MAX_RESPONSE;
    o->max_request = opts->max_request; /* 0: odoo_stream.c's default */
    o->retries = opts->retries == 0 ? DEFAULT_RETRIES : (opts->retries < 0 ? 0 : opts->retries);
    o->retry_base_ms = opts->retry_base_ms > 0 ? opts->retry_base_ms : DEFAULT_RETRY_BASE_MS;
    o->dl_mode = opts->download_mode;
    o->has_password = opts->password && *opts->password;
    o->log = opts->log;
    o->stop = opts->stop;
    o->seed = (unsigned int)time(NULL) ^ (unsigned int)(size_t)o;
    o->next_id = 1;
    o->curl = curl_easy_init();
    if (!o->curl)
        goto nomem;
    http_init(o);
    return o;
nomem:
    odoo_free(o);
    err_set(e, ERR_NOMEM, "odoo: out of memory");
    return NULL;
}

void odoo_free(struct odoo *o)
{
    if (!o)
        return;
    if (o->curl)
        curl_easy_cleanup(o->curl);
    free(o->url);
    free(o->db);
    free(o->login);
    free(o->ca_file);
    free_secret(o->password);
    free_secret(o->api_key);
    free(o);
}

/* ---- HTTP ---------------------------------------------------------------------------- */

struct sink {
    struct buf *b;
    int overflow;
};

static size_t sink_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;

    if (buf_append(s->b, p, n) < 0) {
        s->overflow = 1;
        return 0;
    }
    return n;
}

/* Common options for a request to path (appended to the base URL). */
int odoo_http_setup(struct odoo *o, const char *path, struct err *e)
{
    struct buf url;
    int rc;

    buf_init(&url, 8192);
    rc = buf_printf(&url, "%s%s", o->url, path);
    if (rc < 0) {
        buf_release(&url);
        return err_set(e, ERR_INVALID, "odoo: url too long");
    }
    o->curl_err[0] = '\0';
    curl_easy_setopt(o->curl, CURLOPT_URL, buf_str(&url));
    buf_release(&url);
    /* per-request options back to their defaults; callers set what they need */
    curl_easy_setopt(o->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(o->curl, CURLOPT_LOW_SPEED_LIMIT, 0L);
    curl_easy_setopt(o->curl, CURLOPT_LOW_SPEED_TIME, 0L);
    curl_easy_setopt(o->curl, CURLOPT_ACCEPT_ENCODING, (char *)NULL);
    return 0;
}

/* Frees a header list, wiping it first (it may hold the bearer key). */
void odoo_free_headers(struct curl_slist *h)
{
    struct curl_slist *it;

    for (it = h; it; it = it->next)
        if (it->data)
            explicit_bzero(it->data, strlen(it->data));
    curl_slist_free_all(h);
}

/* Adds the JSON-2 auth headers to *h. */
int odoo_bearer_headers(struct odoo *o, struct curl_slist **h)
{
    struct buf line;
    struct curl_slist *n;
    int rc = 0;

    buf_init(&line, 16384);
    if (buf_printf(&line, "Authorization: bearer %s", o->api_key ? o->api_key : "") < 0) {
        rc = ERR_TOO_BIG;
        goto out;
    }
    n = curl_slist_append(*h, buf_str(&line));
    if (!n) {
        rc = ERR_NOMEM;
        goto out;
    }
    *h = n;
    if (*o->db) {
        buf_reset(&line);
        if (buf_printf(&line, "X-Odoo-Database: %s", o->db) < 0) {
            rc = ERR_TOO_BIG;
            goto out;
        }
        n = curl_slist_append(*h, buf_str(&line));
        if (!n) {
            rc = ERR_NOMEM;
            goto out;
        }
        *h = n;
    }
out:
    if (line.data)
        explicit_bzero(line.data, line.cap);
    buf_release(&line);
    return rc;
}

/* Whether a curl failure happened before the request could reach the server. */
static int curl_not_sent(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
           cc == CURLE_COULDNT_RESOLVE_PROXY;
}

/*
 * POST body (JSON) to path; decode the answer for proto. bearer: send the JSON-2 headers.
 * idempotent: may be retried after it could have reached the server. Retries are bounded
 * by o->retries; the result is the last attempt's.
 */
int odoo_exchange(struct odoo *o, enum odoo_protocol proto, const char *path, const char *body,
                  int bearer, int idempotent, cJSON **result, int *session_expired, struct err *e)
{
    struct curl_slist *hdrs = NULL, *n;
    struct buf resp;
    struct sink sink;
    /* a streamed create / write (odoo_stream.c): the body carries the content's place */
    const char *mark = o->stream ? strstr(body, o->stream_mark) : NULL;
    int attempt, rc = 0;

    buf_init(&resp, o->max_response);
    n = curl_slist_append(NULL, "Content-Type: application/json");
    if (n)
        hdrs = n;
    n = n ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
    if (n && mark) /* no 100-continue round trip: the size was checked here */
        n = curl_slist_append(hdrs, "Expect:");
    if (!n) {
        rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
        goto out;
    }
    if (bearer) {
        rc = odoo_bearer_headers(o, &hdrs);
        if (rc < 0) {
            rc = err_set(e, rc, "odoo: cannot build auth headers");
            goto out;
        }
    }
    for (attempt = 0;; attempt++) {
        CURLcode cc;
        long status = 0;
        curl_off_t retry_after = 0;
        int may_retry;

        buf_reset(&resp);
        sink.b = &resp;
        sink.overflow = 0;
        rc = odoo_http_setup(o, path, e);
        if (rc < 0)
            goto out;
        curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, o->timeout_ms);
        curl_easy_setopt(o->curl, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, sink_write);
        curl_easy_setopt(o->curl, CURLOPT_WRITEDATA, &sink);
        if (mark) {
            rc = odoo_stream_perform(o, body, mark, &cc, e);
            if (rc < 0)
                goto out;
        } else {
            curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(o->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
            cc = curl_easy_perform(o->curl);
        }
        if (sink.overflow) {
            rc = err_set(e, ERR_TOO_BIG, "odoo: answer to %s larger than %zu bytes", path,
                         o->max_response);
            goto out;
        }
        if (cc != CURLE_OK) {
            rc = odoo_curl_failure(o, cc, path, o->timeout_ms, e);
            /* no answer within the timeout: the next pass tries again, not this call */
            may_retry = (idempotent || curl_not_sent(cc)) && cc != CURLE_OPERATION_TIMEDOUT;
        } else {
            curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(o->curl, CURLINFO_RETRY_AFTER, &retry_after);
            rc = odoo_decode_response(proto, status, resp.data, resp.len, result, session_expired,
                                      e);
            if (rc == 0)
                goto out;
            /* 429/503: refused before any work; an error body with a retryable name
             * (serialization failure): rolled back. */
            may_retry = idempotent || status == 429 || status == 503 ||
                        (status == 200 && proto == ODOO_PROTO_JSONRPC);
        }
        if (rc != ERR_RETRY || !may_retry || attempt >= o->retries)
            goto out;
        log_debug(o->log, "odoo: %s: %s; retrying (attempt %d of %d)", path, e ? e->msg : "",
                  attempt + 2, o->retries + 1);
        if (odoo_sleep_ms(o->stop, odoo_backoff_ms(o, attempt, (long)retry_after)) < 0) {
            rc = err_set(e, ERR_STOPPED, "odoo: %s: stopped (a stop was asked)", path);
            goto out;
        }
    }
out:
    odoo_free_headers(hdrs);
    buf_release(&resp);
    return rc;
}

/* ---- JSON-RPC envelopes -------------------------------------------------------------- */

/* Serialises a JSON-RPC call of service.method(args); takes ownership of args. */
static char *rpc_body(struct odoo *o, const char *service, const char *method, cJSON *args)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *params = cJSON_CreateObject();
    char *s = NULL;

    if (!root || !params || !args)
        goto out;
    if (!cJSON_AddStringToObject(root, "jsonrpc", "2.0") ||
        !cJSON_AddStringToObject(root, "method", "call") ||
        !cJSON_AddNumberToObject(root, "id", (double)o->next_id++))
        goto out;
    if (!cJSON_AddStringToObject(params, "service", service) ||
        !cJSON_AddStringToObject(params, "method", method))
        goto out;
    cJSON_AddItemToObject(params, "args", args);
    args = NULL;
    cJSON_AddItemToObject(root, "params", params);
    params = NULL;
    s = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(args);
    cJSON_Delete(params);
    cJSON_Delete(root);
    return s;
}

/* Frees a serialised body that may hold a secret. */
void odoo_free_body(char *s)
{
    free_secret(s);
}

/* service.method(args) over /jsonrpc; takes ownership of args. */
static int rpc_service(struct odoo *o, const char *service, const char *method, cJSON *args,
                       int idempotent, cJSON **result, int *session_expired, struct err *e)
{
    char *body = rpc_body(o, service, method, args);
    int rc;

    if (!body)
        return err_set(e, ERR_NOMEM, "odoo: out of memory");
    rc = odoo_exchange(o, ODOO_PROTO_JSONRPC, "/jsonrpc", body, 0, idempotent, result,
                       session_expired, e);
    odoo_free_body(body);
    return rc;
}

/* ---- connect ------------------------------------------------------------------------- */

static int parse_version(struct odoo *o, const cJSON *v)
{
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(v, "server_version");
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(v, "server_version_info");
    const cJSON *first = cJSON_IsArray(info) ? cJSON_GetArrayItem(info, 0) : NULL;
    const char *p;

    o->version[0] = '\0';
    o->version_major = 0;
    if (cJSON_IsString(sv))
        snprintf(o->version, sizeof(o->version), "%s", sv->valuestring);
    if (cJSON_IsNumber(first) && first->valuedouble > 0 && first->valuedouble < 1000) {
        o->version_major = first->valueint;
        return 0;
    }
    /* "saas~17.2", "17.0+e", or a string in server_version_info */
    p = cJSON_IsString(first) ? first->valuestring : o->version;
    while (*p && (*p < '0' || *p > '9'))
        p++;
    if (*p) {
        long m = strtol(p, NULL, 10);
        if (m > 0 && m < 1000)
            o->version_major = (int)m;
    }
    return o->version_major > 0 ? 0 : -1;
}

static int detect_version(struct odoo *o, struct err *e)
{
    cJSON *res = NULL;
    cJSON *args = cJSON_CreateArray();
    int rc;

    rc = rpc_service(o, "common", "version", args, 1, &res, NULL, e);
    if (rc == ERR_NOTFOUND) {
        /* /jsonrpc removed (Odoo 20+?): the web client's route still answers */
        char *body = NULL;
        cJSON *env = cJSON_CreateObject();

        if (env && cJSON_AddStringToObject(env, "jsonrpc", "2.0") &&
            cJSON_AddStringToObject(env, "method", "call") &&
            cJSON_AddObjectToObject(env, "params"))
            body = cJSON_PrintUnformatted(env);
        cJSON_Delete(env);
        if (!body)
            return err_set(e, ERR_NOMEM, "odoo: out of memory");
        rc = odoo_exchange(o, ODOO_PROTO_JSONRPC, "/web/webclient/version_info", body, 0, 1, &res,
                           NULL, e);
        free(body);
    }
    if (rc < 0)
        return err_prefix(e, "odoo: version of %s", o->url);
    if (!cJSON_IsObject(res) || parse_version(o, res) < 0) {
        cJSON_Delete(res);
        return err_set(e, ERR_PROTO, "odoo: %s: cannot read the server version", o->url);
    }
    cJSON_Delete(res);
    return 0;
}

/* JSON-RPC without a database name: take the only one the server lists. */
static int pick_db(struct odoo *o, struct err *e)
{
    cJSON *res = NULL;
    char *db;
    int rc;

    rc = rpc_service(o, "db", "list", cJSON_CreateArray(), 1, &res, NULL, e);
    if (rc < 0) {
        rc = err_prefix(e, "odoo: no database configured and the server does not list them");
        goto out;
    }
    if (!cJSON_IsArray(res) || cJSON_GetArraySize(res) != 1 ||
        !cJSON_IsString(cJSON_GetArrayItem(res, 0))) {
        rc = err_set(e, ERR_INVALID, "odoo: no database configured and the server has %d",
                     cJSON_IsArray(res) ? cJSON_GetArraySize(res) : 0);
        goto out;
    }
    db = strdup(cJSON_GetArrayItem(res, 0)->valuestring);
    if (!db) {
        rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
        goto out;
    }
    free(o->db);
    o->db = db;
out:
    cJSON_Delete(res);
    return rc;
}

static int rpc_login(struct odoo *o, struct err *e)
{
    cJSON *args = cJSON_CreateArray();
    cJSON *res = NULL;
    int rc;

    if (args) {
        cJSON_AddItemToArray(args, cJSON_CreateString(o->db));
        cJSON_AddItemToArray(args, cJSON_CreateString(o->login));
        cJSON_AddItemToArray(args, cJSON_CreateString(o->password));
        if (cJSON_GetArraySize(args) != 3) {
            cJSON_Delete(args);
            args = NULL;
        }
    }
    rc = rpc_service(o, "common", "login", args, 1, &res, NULL, e);
    if (rc < 0)
        goto out;
    if (!cJSON_IsNumber(res) || res->valuedouble < 1) {
        rc = err_set(e, ERR_AUTH, "odoo: login \"%s\" on database \"%s\" refused", o->login, o->db);
        goto out;
    }
    o->uid = (long)res->valuedouble;
out:
    cJSON_Delete(res);
    return rc;
}

static int json2_probe(struct odoo *o, struct err *e)
{
    cJSON *res = NULL;
    const cJSON *uid;
    int rc;

    rc = odoo_exchange(o, ODOO_PROTO_JSON2, "/json/2/res.users/context_get", "{}", 1, 1, &res, NULL,
                       e);
    if (rc == ERR_NOTFOUND) {
        /* The key was accepted (auth comes before dispatch), the method is not there. */
        o->uid = 0;
        return 0;
    }
    if (rc < 0)
        return err_prefix(e, "odoo: JSON-2 probe of %s", o->url);
    uid = cJSON_GetObjectItemCaseSensitive(res, "uid");
    o->uid = cJSON_IsNumber(uid) ? (long)uid->valuedouble : 0;
    cJSON_Delete(res);
    return 0;
}

int odoo_connect(struct odoo *o, struct err *e)
{
    int rc;

    o->connected = 0;
    rc = detect_version(o, e);
    if (rc < 0) {
        /* A JSON-2-only server may hide both version routes: go on when told to use it. */
        if (o->want != ODOO_PROTO_JSON2 || rc == ERR_RETRY)
            return rc;
        o->version_major = 0;
        o->version[0] = '\0';
    }
    if (o->want == ODOO_PROTO_AUTO)
        o->used = (o->version_major >= 19 && o->api_key) ? ODOO_PROTO_JSON2 : ODOO_PROTO_JSONRPC;
    else
        o->used = o->want;
    if (o->used == ODOO_PROTO_JSON2) {
        rc = json2_probe(o, e);
    } else {
        rc = *o->db ? 0 : pick_db(o, e);
        if (rc == 0)
            rc = rpc_login(o, e);
    }
    if (rc < 0)
        return rc;
    o->connected = 1;
    log_debug(o->log, "odoo: connected to %s (version %s, %s, uid %ld)", o->url, o->version,
              odoo_protocol_name(o->used), o->uid);
    return 0;
}

int odoo_ensure_connected(struct odoo *o, struct err *e)
{
    return o->connected ? 0 : odoo_connect(o, e);
}

/* ---- model calls --------------------------------------------------------------------- */

/*
 * model.method: JSON-RPC execute_kw(db, uid, pw, model, method, pos, kw) or JSON-2
 * POST /json/2/model/method with named. Takes ownership of pos, kw and named (each may
 * be NULL; only those of the protocol in use are needed). Re-logs in once when the
 * session expired.
 */
int odoo_call_kw(struct odoo *o, const char *model, const char *method, cJSON *pos, cJSON *kw,
                 cJSON *named, int idempotent, cJSON **result, struct err *e)
{
    char *body = NULL;
    struct buf path;
    int rc, expired = 0, again;

    buf_init(&path, 1024);
    rc = odoo_ensure_connected(o, e);
    if (rc < 0)
        goto out;
    log_debug(o->log, "odoo: %s.%s (%s)", model, method, odoo_protocol_name(o->used));
    if (o->used == ODOO_PROTO_JSON2) {
        if (buf_printf(&path, "/json/2/%s/%s", model, method) < 0) {
            rc = err_set(e, ERR_INVALID, "odoo: model or method name too long");
            goto out;
        }
        body = named ? cJSON_PrintUnformatted(named) : strdup("{}");
        if (!body) {
            rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
            goto out;
        }
        rc = odoo_exchange(o, ODOO_PROTO_JSON2, buf_str(&path), body, 1, idempotent, result, NULL,
                           e);
        goto out;
    }
    if (!pos)
        pos = cJSON_CreateArray();
    if (!kw)
        kw = cJSON_CreateObject();
    for (again = 0; again < 2; again++) {
        cJSON *args = cJSON_CreateArray();

        if (!args || !pos || !kw) {
            cJSON_Delete(args);
            rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
            goto out;
        }
        cJSON_AddItemToArray(args, cJSON_CreateString(o->db));
        cJSON_AddItemToArray(args, cJSON_CreateNumber((double)o->uid));
        cJSON_AddItemToArray(args, cJSON_CreateString(o->password));
        cJSON_AddItemToArray(args, cJSON_CreateString(model));
        cJSON_AddItemToArray(args, cJSON_CreateString(method));
        cJSON_AddItemReferenceToArray(args, pos);
        cJSON_AddItemReferenceToArray(args, kw);
        if (cJSON_GetArraySize(args) != 7) {
            cJSON_Delete(args);
            rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
            goto out;
        }
        body = rpc_body(o, "object", "execute_kw", args);
        if (!body) {
            rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
            goto out;
        }
        rc = odoo_exchange(o, ODOO_PROTO_JSONRPC, "/jsonrpc", body, 0, idempotent, result, &expired,
                           e);
        odoo_free_body(body);
        body = NULL;
        if (rc == 0 || !expired || again)
            break;
        log_info(o->log, "odoo: session expired, logging in again");
        o->web_session = 0;
        rc = rpc_login(o, e);
        if (rc < 0)
            break;
    }
out:
    if (rc < 0 && e && !strstr(e->msg, model))
        err_prefix(e, "odoo %s.%s", model, method);
    odoo_free_body(body);
    cJSON_Delete(pos);
    cJSON_Delete(kw);
    cJSON_Delete(named);
    buf_release(&path);
    return rc;
}

/* odoo_call_kw for a method that answers a list (search_read, read): on 0, *records. */
int odoo_call_list(struct odoo *o, const char *model, const char *method, cJSON *pos, cJSON *kw,
                   cJSON *named, cJSON **records, struct err *e)
{
    cJSON *res = NULL;
    int rc = odoo_call_kw(o, model, method, pos, kw, named, 1, &res, e);

    if (rc == 0 && !cJSON_IsArray(res))
        rc = err_set(e, ERR_PROTO, "odoo %s.%s: not a list", model, method);
    if (rc == 0) {
        *records = res;
        res = NULL;
    }
    cJSON_Delete(res);
    return rc;
}
