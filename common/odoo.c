/*
 * odoo: the Odoo client (see odoo.h for the API and the error mapping).
 *
 * Layers, bottom up:
 *   http_*      one libcurl easy handle per struct odoo, reset before each request
 *               (curl keeps live connections and cookies across a reset, so keep-alive
 *               and the web session survive); answers go into a capped buf.
 *   exchange()  one JSON POST with bounded retries and backoff (429/5xx/network);
 *               writes are retried only when the server cannot have applied them.
 *   call_kw()   one model method, marshalled for the protocol in use: JSON-RPC
 *               execute_kw with positional args + kwargs, or JSON-2 named params;
 *               re-logs in once on an expired session.
 *   odoo_*      the public calls, built on call_kw().
 *   download    GET /web/content/<id> streamed to the caller's callback through a
 *               SHA-1 context, with a session cookie (JSON-RPC) or the bearer key.
 *
 * Secrets (password, api key) live in the handle only, go out in request bodies or
 * headers, never into a log line or an error message, and are wiped on free.
 */
#include "odoo.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "sha.h"

#include "banned.h"

#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_RESPONSE ((size_t)64 << 20)
#define DEFAULT_RETRIES 2
#define DEFAULT_RETRY_BASE_MS 200L
#define MAX_BACKOFF_MS 30000L
#define ERROR_BODY_MAX ((size_t)64 << 10)
#define DEFAULT_PAGE_SIZE 500L

struct odoo {
    char *url; /* without trailing '/' */
    char *db;  /* may be "" */
    char *login;
    char *password; /* password or api key used as password (JSON-RPC), may be NULL */
    char *api_key;  /* may be NULL */
    enum odoo_protocol want;
    enum odoo_protocol used;
    long timeout_ms;
    long connect_timeout_ms;
    int insecure;
    size_t max_response;
    int retries;
    long retry_base_ms;
    enum odoo_download_mode dl_mode;
    int has_password; /* a real password, not an api key standing in for one */
    struct log *log;
    const volatile sig_atomic_t *stop; /* borrowed, may be NULL */

    CURL *curl;
    char curl_err[CURL_ERROR_SIZE];
    int connected;
    int web_session; /* a /web/session cookie is in the curl handle */
    long uid;
    int version_major;
    char version[64];
    unsigned int seed; /* backoff jitter */
    long next_id;
};

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
static int sleep_ms(const volatile sig_atomic_t *stop, long ms)
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
static int curl_failure(struct odoo *o, CURLcode cc, const char *what, long timeout_ms,
                        struct err *e)
{
    if (cc == CURLE_ABORTED_BY_CALLBACK && o->stop && *o->stop)
        return err_set(e, ERR_STOPPED, "odoo: %s: stopped (a stop was asked)", what);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return err_set(e, ERR_RETRY, "odoo: %s: no answer in %ld ms (odoo.timeout_ms, %.200s)",
                       what, timeout_ms, o->url);
    return err_set(e, ERR_RETRY, "odoo: %s: %s", what,
                   o->curl_err[0] ? o->curl_err : curl_easy_strerror(cc));
}

static long backoff_ms(struct odoo *o, int attempt, long retry_after_s)
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
 * http_setup() restores the per-request ones instead.
 */
static void http_init(struct odoo *o)
{
    curl_easy_setopt(o->curl, CURLOPT_ERRORBUFFER, o->curl_err);
    curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(o->curl, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(o->curl, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    curl_easy_setopt(o->curl, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
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
static int http_setup(struct odoo *o, const char *path, struct err *e)
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
static void free_headers(struct curl_slist *h)
{
    struct curl_slist *it;

    for (it = h; it; it = it->next)
        if (it->data)
            explicit_bzero(it->data, strlen(it->data));
    curl_slist_free_all(h);
}

/* Adds the JSON-2 auth headers to *h. */
static int bearer_headers(struct odoo *o, struct curl_slist **h)
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
static int exchange(struct odoo *o, enum odoo_protocol proto, const char *path, const char *body,
                    int bearer, int idempotent, cJSON **result, int *session_expired, struct err *e)
{
    struct curl_slist *hdrs = NULL, *n;
    struct buf resp;
    struct sink sink;
    int attempt, rc = 0;

    buf_init(&resp, o->max_response);
    n = curl_slist_append(NULL, "Content-Type: application/json");
    if (n)
        hdrs = n;
    n = n ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
    if (!n) {
        rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
        goto out;
    }
    if (bearer) {
        rc = bearer_headers(o, &hdrs);
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
        rc = http_setup(o, path, e);
        if (rc < 0)
            goto out;
        curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(o->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, o->timeout_ms);
        curl_easy_setopt(o->curl, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, sink_write);
        curl_easy_setopt(o->curl, CURLOPT_WRITEDATA, &sink);
        cc = curl_easy_perform(o->curl);
        if (sink.overflow) {
            rc = err_set(e, ERR_TOO_BIG, "odoo: answer to %s larger than %zu bytes", path,
                         o->max_response);
            goto out;
        }
        if (cc != CURLE_OK) {
            rc = curl_failure(o, cc, path, o->timeout_ms, e);
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
        if (sleep_ms(o->stop, backoff_ms(o, attempt, (long)retry_after)) < 0) {
            rc = err_set(e, ERR_STOPPED, "odoo: %s: stopped (a stop was asked)", path);
            goto out;
        }
    }
out:
    free_headers(hdrs);
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
static void free_body(char *s)
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
    rc = exchange(o, ODOO_PROTO_JSONRPC, "/jsonrpc", body, 0, idempotent, result, session_expired,
                  e);
    free_body(body);
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
        rc = exchange(o, ODOO_PROTO_JSONRPC, "/web/webclient/version_info", body, 0, 1, &res, NULL,
                      e);
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

    rc = exchange(o, ODOO_PROTO_JSON2, "/json/2/res.users/context_get", "{}", 1, 1, &res, NULL, e);
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

static int ensure_connected(struct odoo *o, struct err *e)
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
static int call_kw(struct odoo *o, const char *model, const char *method, cJSON *pos, cJSON *kw,
                   cJSON *named, int idempotent, cJSON **result, struct err *e)
{
    char *body = NULL;
    struct buf path;
    int rc, expired = 0, again;

    buf_init(&path, 1024);
    rc = ensure_connected(o, e);
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
        rc = exchange(o, ODOO_PROTO_JSON2, buf_str(&path), body, 1, idempotent, result, NULL, e);
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
        rc = exchange(o, ODOO_PROTO_JSONRPC, "/jsonrpc", body, 0, idempotent, result, &expired, e);
        free_body(body);
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
    free_body(body);
    cJSON_Delete(pos);
    cJSON_Delete(kw);
    cJSON_Delete(named);
    buf_release(&path);
    return rc;
}

/* call_kw for a method that answers a list (search_read, read): on 0, *records. */
static int call_list(struct odoo *o, const char *model, const char *method, cJSON *pos, cJSON *kw,
                     cJSON *named, cJSON **records, struct err *e)
{
    cJSON *res = NULL;
    int rc = call_kw(o, model, method, pos, kw, named, 1, &res, e);

    if (rc == 0 && !cJSON_IsArray(res))
        rc = err_set(e, ERR_PROTO, "odoo %s.%s: not a list", model, method);
    if (rc == 0) {
        *records = res;
        res = NULL;
    }
    cJSON_Delete(res);
    return rc;
}

/* The arguments of a call that could not be built: freed, and ERR_NOMEM. */
static int args_nomem(cJSON *pos, cJSON *kw, cJSON *named, struct err *e)
{
    cJSON_Delete(pos);
    cJSON_Delete(kw);
    cJSON_Delete(named);
    return err_set(e, ERR_NOMEM, "odoo: out of memory");
}

static cJSON *ids_array(const long *ids, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    size_t i;

    for (i = 0; a && i < n; i++) {
        cJSON *v = cJSON_CreateNumber((double)ids[i]);
        if (!v) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, v);
    }
    return a;
}

static cJSON *fields_array(const char *const *fields, int add_id)
{
    cJSON *a = cJSON_CreateArray();
    int has_id = 0;
    size_t i;

    for (i = 0; a && fields && fields[i]; i++) {
        cJSON *v = cJSON_CreateString(fields[i]);
        if (!v) {
            cJSON_Delete(a);
            return NULL;
        }
        if (strcmp(fields[i], "id") == 0)
            has_id = 1;
        cJSON_AddItemToArray(a, v);
    }
    if (a && add_id && fields && !has_id) {
        cJSON *v = cJSON_CreateString("id");
        if (!v) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, v);
    }
    return a;
}

static cJSON *domain_copy(const cJSON *domain)
{
    return domain ? cJSON_Duplicate(domain, 1) : cJSON_CreateArray();
}

/* Adds the paging keys to obj (offset/limit 0 = not sent, order NULL = not sent). */
static int add_paging(cJSON *obj, long offset, long limit, const char *order)
{
    if (offset > 0 && !cJSON_AddNumberToObject(obj, "offset", (double)offset))
        return -1;
    if (limit > 0 && !cJSON_AddNumberToObject(obj, "limit", (double)limit))
        return -1;
    if (order && *order && !cJSON_AddStringToObject(obj, "order", order))
        return -1;
    return 0;
}

/* Adds item to obj under key, taking ownership; -1 when item is NULL (no memory). */
static int add_owned(cJSON *obj, const char *key, cJSON *item)
{
    if (!obj || !item) {
        cJSON_Delete(item);
        return -1;
    }
    cJSON_AddItemToObject(obj, key, item);
    return 0;
}

static int push_owned(cJSON *arr, cJSON *item)
{
    if (!arr || !item) {
        cJSON_Delete(item);
        return -1;
    }
    cJSON_AddItemToArray(arr, item);
    return 0;
}

static int check_domain(const cJSON *domain, struct err *e)
{
    if (domain && !cJSON_IsArray(domain))
        return err_set(e, ERR_INVALID, "odoo: a domain must be a JSON array");
    return 0;
}

static int ids_from_array(const cJSON *res, long **ids, size_t *n, struct err *e)
{
    const cJSON *it;
    size_t i = 0, count;
    long *out;

    *ids = NULL;
    *n = 0;
    if (!cJSON_IsArray(res))
        return err_set(e, ERR_PROTO, "odoo: expected a list of ids");
    count = (size_t)cJSON_GetArraySize(res);
    if (count == 0)
        return 0;
    out = calloc(count, sizeof(*out));
    if (!out)
        return err_set(e, ERR_NOMEM, "odoo: out of memory");
    cJSON_ArrayForEach(it, res)
    {
        if (!cJSON_IsNumber(it)) {
            free(out);
            return err_set(e, ERR_PROTO, "odoo: expected a list of ids");
        }
        out[i++] = (long)it->valuedouble;
    }
    *ids = out;
    *n = count;
    return 0;
}

int odoo_search(struct odoo *o, const char *model, const cJSON *domain, long offset, long limit,
                const char *order, long **ids, size_t *n, struct err *e)
{
    cJSON *pos = NULL, *kw = NULL, *named = NULL, *res = NULL;
    int rc;

    *ids = NULL;
    *n = 0;
    rc = check_domain(domain, e);
    if (rc < 0)
        return rc;
    rc = ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "domain", domain_copy(domain)) < 0 ||
            add_paging(named, offset, limit, order) < 0)
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        kw = cJSON_CreateObject();
        if (push_owned(pos, domain_copy(domain)) < 0 || !kw ||
            add_paging(kw, offset, limit, order) < 0)
            goto nomem;
    }
    rc = call_kw(o, model, "search", pos, kw, named, 1, &res, e);
    if (rc == 0)
        rc = ids_from_array(res, ids, n, e);
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, kw, named, e);
}

int odoo_search_count(struct odoo *o, const char *model, const cJSON *domain, long *count,
                      struct err *e)
{
    cJSON *pos = NULL, *named = NULL, *res = NULL;
    int rc;

    *count = 0;
    rc = check_domain(domain, e);
    if (rc < 0)
        return rc;
    rc = ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "domain", domain_copy(domain)) < 0)
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        if (push_owned(pos, domain_copy(domain)) < 0)
            goto nomem;
    }
    rc = call_kw(o, model, "search_count", pos, NULL, named, 1, &res, e);
    if (rc == 0) {
        if (cJSON_IsNumber(res))
            *count = (long)res->valuedouble;
        else
            rc = err_set(e, ERR_PROTO, "odoo %s.search_count: not a number", model);
    }
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, NULL, named, e);
}

int odoo_search_read(struct odoo *o, const char *model, const cJSON *domain,
                     const char *const *fields, long offset, long limit, const char *order,
                     cJSON **records, struct err *e)
{
    cJSON *pos = NULL, *kw = NULL, *named = NULL;
    cJSON *target;
    int rc;

    *records = NULL;
    rc = check_domain(domain, e);
    if (rc < 0)
        return rc;
    rc = ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "domain", domain_copy(domain)) < 0)
            goto nomem;
        target = named;
    } else {
        pos = cJSON_CreateArray();
        kw = cJSON_CreateObject();
        if (push_owned(pos, domain_copy(domain)) < 0 || !kw)
            goto nomem;
        target = kw;
    }
    if ((fields && add_owned(target, "fields", fields_array(fields, 0)) < 0) ||
        add_paging(target, offset, limit, order) < 0)
        goto nomem;
    return call_list(o, model, "search_read", pos, kw, named, records, e);
nomem:
    return args_nomem(pos, kw, named, e);
}

int odoo_search_read_each(struct odoo *o, const char *model, const cJSON *domain,
                          const char *const *fields, long page_size,
                          int (*cb)(const cJSON *record, void *ud), void *ud, struct err *e)
{
    const char **fl = NULL;
    cJSON *dom = NULL, *page = NULL, *term, *last_val;
    long last_id = 0;
    size_t nf = 0, i;
    int rc = 0;

    if (page_size <= 0)
        page_size = DEFAULT_PAGE_SIZE;
    rc = check_domain(domain, e);
    if (rc < 0)
        return rc;
    /* fields + "id" (NULL stays NULL: all fields, id included) */
    if (fields) {
        int has_id = 0;
        while (fields[nf]) {
            if (strcmp(fields[nf], "id") == 0)
                has_id = 1;
            nf++;
        }
        fl = calloc(nf + 2, sizeof(*fl));
        if (!fl) {
            rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
            goto out;
        }
        for (i = 0; i < nf; i++)
            fl[i] = fields[i];
        if (!has_id)
            fl[nf++] = "id";
    }
    /* domain + [["id", ">", last_id]]; the last term is updated in place per page. */
    dom = domain_copy(domain);
    term = cJSON_CreateArray();
    if (push_owned(term, cJSON_CreateString("id")) < 0 ||
        push_owned(term, cJSON_CreateString(">")) < 0 ||
        push_owned(term, cJSON_CreateNumber(0)) < 0 || push_owned(dom, term) < 0) {
        if (!dom)
            cJSON_Delete(term);
        rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
        goto out;
    }
    last_val = cJSON_GetArrayItem(term, 2);
    for (;;) {
        const cJSON *rec;
        int count = 0;

        cJSON_SetNumberValue(last_val, (double)last_id);
        rc = odoo_search_read(o, model, dom, fl, 0, page_size, "id", &page, e);
        if (rc < 0)
            goto out;
        cJSON_ArrayForEach(rec, page)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
            long idv;

            if (!cJSON_IsNumber(id)) {
                rc = err_set(e, ERR_PROTO, "odoo %s.search_read: a record without id", model);
                goto out;
            }
            idv = (long)id->valuedouble;
            if (idv <= last_id) {
                rc = err_set(e, ERR_PROTO, "odoo %s.search_read: ids not ascending (%ld)", model,
                             idv);
                goto out;
            }
            last_id = idv;
            count++;
            rc = cb(rec, ud);
            if (rc != 0)
                goto out;
        }
        cJSON_Delete(page);
        page = NULL;
        if (count < page_size)
            break;
    }
out:
    cJSON_Delete(page);
    cJSON_Delete(dom);
    free(fl);
    return rc;
}

int odoo_read(struct odoo *o, const char *model, const long *ids, size_t n,
              const char *const *fields, cJSON **records, struct err *e)
{
    cJSON *pos = NULL, *kw = NULL, *named = NULL;
    int rc;

    *records = NULL;
    if (n == 0) {
        *records = cJSON_CreateArray();
        return *records ? 0 : err_set(e, ERR_NOMEM, "odoo: out of memory");
    }
    rc = ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "ids", ids_array(ids, n)) < 0 ||
            (fields && add_owned(named, "fields", fields_array(fields, 0)) < 0))
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        kw = cJSON_CreateObject();
        if (push_owned(pos, ids_array(ids, n)) < 0 || !kw ||
            (fields && add_owned(kw, "fields", fields_array(fields, 0)) < 0))
            goto nomem;
    }
    return call_list(o, model, "read", pos, kw, named, records, e);
nomem:
    return args_nomem(pos, kw, named, e);
}

int odoo_create(struct odoo *o, const char *model, const cJSON *vals, long *id, struct err *e)
{
    cJSON *pos = NULL, *named = NULL, *res = NULL, *list = NULL;
    const cJSON *v;
    int rc;

    *id = 0;
    if (!cJSON_IsObject(vals))
        return err_set(e, ERR_INVALID, "odoo %s.create: values must be an object", model);
    rc = ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        list = cJSON_CreateArray();
        if (push_owned(list, cJSON_Duplicate(vals, 1)) < 0) {
            cJSON_Delete(list);
            goto nomem;
        }
        if (add_owned(named, "vals_list", list) < 0)
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        if (push_owned(pos, cJSON_Duplicate(vals, 1)) < 0)
            goto nomem;
    }
    rc = call_kw(o, model, "create", pos, NULL, named, 0, &res, e);
    if (rc < 0)
        goto out;
    v = cJSON_IsArray(res) ? cJSON_GetArrayItem(res, 0) : res;
    if (!cJSON_IsNumber(v) || v->valuedouble < 1) {
        rc = err_set(e, ERR_PROTO, "odoo %s.create: no id in the answer", model);
        goto out;
    }
    *id = (long)v->valuedouble;
out:
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, NULL, named, e);
}

int odoo_create_multi(struct odoo *o, const char *model, const cJSON *vals_list, long **ids,
                      size_t *n, struct err *e)
{
    cJSON *pos = NULL, *named = NULL, *res = NULL;
    const cJSON *it;
    int rc;

    *ids = NULL;
    *n = 0;
    if (!cJSON_IsArray(vals_list))
        return err_set(e, ERR_INVALID, "odoo %s.create: values must be a list", model);
    cJSON_ArrayForEach(it, vals_list)
    {
        if (!cJSON_IsObject(it))
            return err_set(e, ERR_INVALID, "odoo %s.create: each values must be an object", model);
    }
    if (cJSON_GetArraySize(vals_list) == 0)
        return 0;
    rc = ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "vals_list", cJSON_Duplicate(vals_list, 1)) < 0)
            goto nomem;
    } else {
        /* positionally: Odoo's RPC layer looks at args[0] to tell one from many */
        pos = cJSON_CreateArray();
        if (push_owned(pos, cJSON_Duplicate(vals_list, 1)) < 0)
            goto nomem;
    }
    rc = call_kw(o, model, "create", pos, NULL, named, 0, &res, e);
    if (rc == 0)
        rc = ids_from_array(res, ids, n, e);
    if (rc == 0 && *n != (size_t)cJSON_GetArraySize(vals_list)) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        rc = err_set(e, ERR_PROTO, "odoo %s.create: %d values but a different number of ids", model,
                     cJSON_GetArraySize(vals_list));
    }
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, NULL, named, e);
}

/* write or unlink: model.method(ids[, vals]) expecting true. */
static int ids_call(struct odoo *o, const char *model, const char *method, const long *ids,
                    size_t n, const cJSON *vals, struct err *e)
{
    cJSON *pos = NULL, *named = NULL, *res = NULL;
    int rc;

    if (n == 0)
        return 0;
    if (vals && !cJSON_IsObject(vals))
        return err_set(e, ERR_INVALID, "odoo %s.%s: values must be an object", model, method);
    rc = ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = cJSON_CreateObject();
        if (add_owned(named, "ids", ids_array(ids, n)) < 0 ||
            (vals && add_owned(named, "vals", cJSON_Duplicate(vals, 1)) < 0))
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        if (push_owned(pos, ids_array(ids, n)) < 0 ||
            (vals && push_owned(pos, cJSON_Duplicate(vals, 1)) < 0))
            goto nomem;
    }
    /* write and unlink of the same values are idempotent enough to retry */
    rc = call_kw(o, model, method, pos, NULL, named, 1, &res, e);
    if (rc == 0 && cJSON_IsFalse(res))
        rc = err_set(e, ERR_SERVER, "odoo %s.%s: the server answered false", model, method);
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, NULL, named, e);
}

int odoo_write(struct odoo *o, const char *model, const long *ids, size_t n, const cJSON *vals,
               struct err *e)
{
    if (!vals)
        return err_set(e, ERR_INVALID, "odoo %s.write: no values", model);
    return ids_call(o, model, "write", ids, n, vals, e);
}

int odoo_unlink(struct odoo *o, const char *model, const long *ids, size_t n, struct err *e)
{
    return ids_call(o, model, "unlink", ids, n, NULL, e);
}

int odoo_display_names(struct odoo *o, const char *model, const long *ids, size_t n, cJSON **names,
                       struct err *e)
{
    static const char *const dn[] = {"display_name", NULL};
    cJSON *res = NULL, *map = NULL;
    const cJSON *it;
    char key[32];
    int rc;

    *names = NULL;
    map = cJSON_CreateObject();
    if (!map)
        return err_set(e, ERR_NOMEM, "odoo: out of memory");
    if (n == 0)
        goto done;
    rc = ensure_connected(o, e);
    if (rc < 0)
        goto fail;
    if (o->version_major >= 17 || o->version_major == 0) {
        rc = odoo_read(o, model, ids, n, dn, &res, e);
        if (rc < 0)
            goto fail;
        cJSON_ArrayForEach(it, res)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "display_name");

            if (!cJSON_IsNumber(id))
                continue;
            snprintf(key, sizeof(key), "%ld", (long)id->valuedouble);
            if (!cJSON_AddStringToObject(map, key, cJSON_IsString(name) ? name->valuestring : ""))
                goto nomem;
        }
    } else {
        cJSON *pos = cJSON_CreateArray();

        if (push_owned(pos, ids_array(ids, n)) < 0) {
            cJSON_Delete(pos);
            goto nomem;
        }
        rc = call_kw(o, model, "name_get", pos, NULL, NULL, 1, &res, e);
        if (rc < 0)
            goto fail;
        cJSON_ArrayForEach(it, res)
        {
            const cJSON *id = cJSON_GetArrayItem(it, 0);
            const cJSON *name = cJSON_GetArrayItem(it, 1);

            if (!cJSON_IsNumber(id))
                continue;
            snprintf(key, sizeof(key), "%ld", (long)id->valuedouble);
            if (!cJSON_AddStringToObject(map, key, cJSON_IsString(name) ? name->valuestring : ""))
                goto nomem;
        }
    }
done:
    cJSON_Delete(res);
    *names = map;
    return 0;
nomem:
    rc = err_set(e, ERR_NOMEM, "odoo: out of memory");
fail:
    cJSON_Delete(res);
    cJSON_Delete(map);
    return rc;
}

int odoo_call(struct odoo *o, const char *model, const char *method, const cJSON *ids_or_null,
              const cJSON *named_params, cJSON **result, struct err *e)
{
    cJSON *pos = NULL, *kw = NULL, *named = NULL, *res = NULL;
    int rc;

    if (result)
        *result = NULL;
    if (ids_or_null && !cJSON_IsArray(ids_or_null))
        return err_set(e, ERR_INVALID, "odoo %s.%s: ids must be an array", model, method);
    if (named_params && !cJSON_IsObject(named_params))
        return err_set(e, ERR_INVALID, "odoo %s.%s: params must be an object", model, method);
    rc = ensure_connected(o, e);
    if (rc < 0)
        return rc;
    if (o->used == ODOO_PROTO_JSON2) {
        named = named_params ? cJSON_Duplicate(named_params, 1) : cJSON_CreateObject();
        if (!named || (ids_or_null && !cJSON_GetObjectItemCaseSensitive(named, "ids") &&
                       add_owned(named, "ids", cJSON_Duplicate(ids_or_null, 1)) < 0))
            goto nomem;
    } else {
        pos = cJSON_CreateArray();
        kw = named_params ? cJSON_Duplicate(named_params, 1) : cJSON_CreateObject();
        if (!pos || !kw || (ids_or_null && push_owned(pos, cJSON_Duplicate(ids_or_null, 1)) < 0))
            goto nomem;
    }
    rc = call_kw(o, model, method, pos, kw, named, 0, &res, e);
    if (rc == 0 && result) {
        *result = res;
        res = NULL;
    }
    cJSON_Delete(res);
    return rc;
nomem:
    return args_nomem(pos, kw, named, e);
}

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
    rc = exchange(o, ODOO_PROTO_JSONRPC, "/web/session/authenticate", body, 0, 1, &res, NULL, e);
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
    free_body(body);
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
    rc = http_setup(o, path, e);
    if (rc < 0)
        return rc;
    if (bearer) {
        rc = bearer_headers(o, &hdrs);
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
    free_headers(hdrs);
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
        return curl_failure(o, cc, what, o->timeout_ms, e);
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
 * The RPC way: read `datas` (base64) and deliver it decoded, 48 KiB at a time. The answer
 * is held once in memory (capped by max_response); the decoded content never is.
 */
static int download_datas(struct odoo *o, struct dl *d, long att_id, struct err *e)
{
    static const char *const fields[] = {"datas", "type", NULL};
    unsigned char out[49152];
    cJSON *recs = NULL;
    const cJSON *datas;
    const unsigned char *p;
    unsigned long acc = 0;
    size_t nout = 0;
    int bits = 0, rc;

    rc = odoo_read(o, "ir.attachment", &att_id, 1, fields, &recs, e);
    if (rc < 0)
        goto out;
    if (cJSON_GetArraySize(recs) < 1) {
        rc = err_set(e, ERR_NOTFOUND, "odoo: attachment %ld does not exist", att_id);
        goto out;
    }
    {
        const char *type = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(recs, 0), "type"));
        if (type && strcmp(type, "binary") != 0) {
            rc =
                err_set(e, ERR_INVALID,
                        "odoo: attachment %ld has no content here (a %s attachment)", att_id, type);
            goto out;
        }
    }
    datas = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(recs, 0), "datas");
    if (cJSON_IsFalse(datas) || cJSON_IsNull(datas))
        goto out; /* empty content */
    if (!cJSON_IsString(datas)) {
        rc = err_set(e, ERR_PROTO, "odoo: attachment %ld: datas is not a string", att_id);
        goto out;
    }
    for (p = (const unsigned char *)datas->valuestring; *p; p++) {
        int v = b64_value(*p);

        if (v < 0) {
            if (*p == '=' || *p == '\n' || *p == '\r' || *p == ' ')
                continue;
            rc = err_set(e, ERR_PROTO, "odoo: attachment %ld: datas is not base64", att_id);
            goto out;
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
out:
    cJSON_Delete(recs);
    return rc;
}

int odoo_download(struct odoo *o, long att_id, int (*write_cb)(const char *p, size_t n, void *ud),
                  void *ud, long long expected_size, const char *expected_sha1, char *sha1_hex_out,
                  struct err *e)
{
    struct dl d;
    char hex[SHA1_HEX_SIZE];
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
    rc = ensure_connected(o, e);
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
        if (sleep_ms(o->stop, backoff_ms(o, attempt, 0)) < 0) {
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
    rc = sha1_final(&d.sha, hex, e);
    if (rc < 0)
        goto out;
    if (sha1_hex_out)
        memcpy(sha1_hex_out, hex, SHA1_HEX_SIZE);
    if (expected_size > 0 && d.bytes == 0) {
        /* what Odoo serves when the row is there and its file is not (_file_read logs
         * the missing file and returns nothing): retrying cannot bring it back */
        rc = err_set(e, ERR_LOST,
                     "odoo: attachment %ld has no content in Odoo (0 of %lld bytes): its file is "
                     "missing from Odoo's filestore; restore the file there, or delete or "
                     "re-upload the attachment in Odoo",
                     att_id, expected_size);
        goto out;
    }
    if (expected_size >= 0 && d.bytes != expected_size) {
        rc = err_set(e, ERR_CONFLICT,
                     "odoo: attachment %ld has %lld bytes, expected %lld: it changed", att_id,
                     d.bytes, expected_size);
        goto out;
    }
    if (expected_sha1 && *expected_sha1 && strcasecmp(expected_sha1, hex) != 0) {
        rc =
            err_set(e, ERR_CONFLICT, "odoo: attachment %ld has sha1 %s, expected %.40s: it changed",
                    att_id, hex, expected_sha1);
        goto out;
    }
    log_debug(o->log, "odoo: downloaded attachment %ld (%lld bytes)", att_id, d.bytes);
out:
    sha1_release(&d.sha);
    buf_release(&d.errbody);
    return rc;
}
