/*
 * odoo: a client for Odoo's external APIs, JSON-RPC and JSON-2, behind one API.
 *
 * Protocols
 *   JSON-RPC  POST <url>/jsonrpc {"jsonrpc":"2.0","method":"call","params":
 *             {"service":"object","method":"execute_kw","args":[db,uid,pw,model,method,
 *             [positional...],{kwargs}]}}. Works from Odoo 8 to 19. Domains and ids are
 *             passed positionally (Odoo 16 names search's domain `args`, 17+ `domain`).
 *   JSON-2    POST <url>/json/2/<model>/<method> with named parameters in the body,
 *             `Authorization: bearer <api key>` and `X-Odoo-Database: <db>`. Odoo 19+.
 *   AUTO      odoo_connect() asks common.version; JSON-2 when the major version is >= 19
 *             and an api key is set, JSON-RPC otherwise.
 *
 * Handles: one `struct odoo` per thread. It owns one CURL easy handle, so the TCP/TLS
 * connection is kept alive across calls; it is never shared between threads. The global
 * curl_global_init() is main()'s job.
 *
 * Errors (common/err.h): every call returns 0 or a negative ERR_* code and fills the
 * `struct err`, whose message carries Odoo's error.data.name and the first line of
 * error.data.message (never the traceback):
 *   AccessError                          -> ERR_ACCESS
 *   AccessDenied, HTTP 401               -> ERR_AUTH
 *   MissingError, HTTP 404               -> ERR_NOTFOUND
 *   ValidationError, UserError,
 *   ValueError, HTTP 400/422             -> ERR_INVALID
 *   session expired (JSON-RPC code 100)  -> re-login once and retry, then ERR_AUTH
 *   HTTP 429/502/503/504, network        -> retried inside (opts.retries, backoff),
 *                                           then ERR_RETRY
 *   any other server error               -> ERR_SERVER
 *   an answer we cannot parse            -> ERR_PROTO;  over opts.max_response -> ERR_TOO_BIG
 * Writes (create, write, unlink, call) are not retried after the request may have reached
 * the server, except on 429/503 and connection failures before anything was sent.
 *
 * Secrets: password and api_key are copied into the handle, sent only in request bodies
 * or headers, never logged, and wiped on odoo_free().
 *
 * Values are cJSON. Ownership: parameters are borrowed; every `cJSON **` out-parameter
 * receives a new tree the caller frees with cJSON_Delete(); every `long **ids`
 * out-parameter receives a malloc'd array the caller frees with free().
 */
#ifndef ODOOSYNC_ODOO_H
#define ODOOSYNC_ODOO_H

#include <signal.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "err.h"

struct log;

enum odoo_protocol { ODOO_PROTO_AUTO = 0, ODOO_PROTO_JSONRPC, ODOO_PROTO_JSON2 };

/*
 * How odoo_download() gets content. WEB: GET /web/content/<id>, streamed. RPC: read the
 * attachment's `datas` field (base64 in one answer, so capped by max_response; decoded and
 * delivered in pieces). AUTO: WEB, and on JSON-2 RPC as well when /web/content does not take
 * the bearer key (real Odoo serves /web/content as the public user without a session) and
 * there is no password to open a session with.
 */
enum odoo_download_mode { ODOO_DL_AUTO = 0, ODOO_DL_WEB, ODOO_DL_RPC };

struct odoo_opts {
    const char *url;      /* base URL, e.g. "https://erp.example.com" (no trailing path) */
    const char *db;       /* database name; NULL/"" = let the server pick (JSON-2 only) */
    const char *login;    /* user login (JSON-RPC) */
    const char *password; /* password, or an api key usable as password (JSON-RPC) */
    const char *api_key;  /* bearer key for JSON-2; used as password when password is NULL */
    enum odoo_protocol protocol;
    long timeout_ms;         /* whole request, 0 = 60000; downloads: low-speed limit instead */
    long connect_timeout_ms; /* 0 = 10000 */
    int insecure;            /* 1 = do not verify TLS certificates (tests only) */
    const char *ca_file;     /* PEM file of CAs to trust instead of the system's (copied) */
    size_t max_response;     /* cap on a JSON answer, 0 = 64 MiB */
    size_t max_request; /* the largest request body Odoo takes: 0 = 128 MiB (Odoo's http.py sets
                         * werkzeug's max_content_length to DEFAULT_MAX_CONTENT_LENGTH) */
    int retries;        /* attempts after the first on ERR_RETRY; 0 = 2, -1 = none */
    long retry_base_ms; /* first backoff, doubled per attempt with jitter; 0 = 200 */
    enum odoo_download_mode download_mode; /* default AUTO */
    struct log *log;                       /* borrowed, may be NULL */
    /* when *stop becomes non-zero (a signal handler sets it), a request in flight and a
     * retry wait end within a second with ERR_STOPPED; NULL = never (borrowed) */
    const volatile sig_atomic_t *stop;
};

struct odoo;

/* Copies everything it needs from opts. NULL with e filled on bad options / no memory. */
struct odoo *odoo_new(const struct odoo_opts *opts, struct err *e);
void odoo_free(struct odoo *o);

/*
 * common.version (server version detected), then login (JSON-RPC: common.login -> uid)
 * or a probe of JSON-2 (res.users context_get). Wrong credentials -> ERR_AUTH.
 * Every call below connects first if odoo_connect() was not called.
 */
int odoo_connect(struct odoo *o, struct err *e);

/* Major version (e.g. 17) once connected, 0 before. */
int odoo_version_major(const struct odoo *o);
/* The server's full version string ("17.0", "saas~18.3"), "" before connect. Owned by o. */
const char *odoo_server_version(const struct odoo *o);
/* Protocol in use after connect (AUTO before connect). */
enum odoo_protocol odoo_protocol_used(const struct odoo *o);
/* "auto", "jsonrpc", "json2". */
const char *odoo_protocol_name(enum odoo_protocol p);
/* "auto"/"jsonrpc"/"json-rpc"/"json2"/"json-2" -> protocol, -1 when unknown (for config). */
int odoo_protocol_parse(const char *name);
/* The uid logged in (JSON-RPC), or the one from context_get (JSON-2); 0 before connect. */
long odoo_uid(const struct odoo *o);

/*
 * Record calls. domain: a cJSON array in Odoo's list syntax ([["a","=",1],"|",...]),
 * NULL = []. fields: NULL-terminated list of names, NULL = all fields (avoid: binary
 * fields are huge). offset/limit: 0 = none. order: NULL = model default.
 */
int odoo_search(struct odoo *o, const char *model, const cJSON *domain, long offset, long limit,
                const char *order, long **ids, size_t *n, struct err *e);
int odoo_search_count(struct odoo *o, const char *model, const cJSON *domain, long *count,
                      struct err *e);
/* *records = array of objects. */
int odoo_search_read(struct odoo *o, const char *model, const cJSON *domain,
                     const char *const *fields, long offset, long limit, const char *order,
                     cJSON **records, struct err *e);

/*
 * Pages through every matching record in id order, page_size at a time (0 = 500), by
 * adding ["id", ">", last_id] to the domain (keyset paging: stable when records are
 * created or deleted meanwhile, and no page ever holds the whole table). "id" is always
 * read. cb sees each record (borrowed, valid during the call); a non-zero return from cb
 * stops the walk and is returned as is (use an ERR_* code and fill e yourself, or any
 * positive value to stop early without error).
 */
int odoo_search_read_each(struct odoo *o, const char *model, const cJSON *domain,
                          const char *const *fields, long page_size,
                          int (*cb)(const cJSON *record, void *ud), void *ud, struct err *e);

/* *records = array of objects, each with "id". Ids that no longer exist are left out (as
 * Odoo's read does). n == 0 gives an empty array without a request. */
int odoo_read(struct odoo *o, const char *model, const long *ids, size_t n,
              const char *const *fields, cJSON **records, struct err *e);
int odoo_create(struct odoo *o, const char *model, const cJSON *vals, long *id, struct err *e);
/* Several records in one request: vals_list = array of objects; *ids (n of them, in the
 * same order) is malloc'd, caller frees. Not retried after it may have reached Odoo. */
int odoo_create_multi(struct odoo *o, const char *model, const cJSON *vals_list, long **ids,
                      size_t *n, struct err *e);
int odoo_write(struct odoo *o, const char *model, const long *ids, size_t n, const cJSON *vals,
               struct err *e);
int odoo_unlink(struct odoo *o, const char *model, const long *ids, size_t n, struct err *e);

/*
 * Content streamed into a request (common/odoo_stream.c): `size` bytes that read()
 * delivers (at most n into buf; 0 at the end, ODOO_READ_ABORT on an error), sent
 * base64-encoded as one JSON string while the request goes out, so neither the bytes nor
 * their base64 are ever held in memory. rewind() starts over (a retried request).
 */
#define ODOO_READ_ABORT ((size_t)-1)
struct odoo_stream {
    size_t (*read)(char *buf, size_t n, void *ud);
    int (*rewind)(void *ud);
    void *ud;
    long long size;
};

/*
 * odoo_create / odoo_write(one id) with vals[field] = the stream's bytes, base64 (a binary
 * field: `datas`). Odoo takes a request of at most opts.max_request bytes: a larger one is
 * ERR_TOO_BIG before anything is sent (nothing half-written). A stream that gives another
 * number of bytes than its size aborts the request (ERR_IO).
 */
int odoo_create_stream(struct odoo *o, const char *model, const cJSON *vals, const char *field,
                       const struct odoo_stream *s, long *id, struct err *e);
int odoo_write_stream(struct odoo *o, const char *model, long id, const cJSON *vals,
                      const char *field, const struct odoo_stream *s, struct err *e);
/* Whether size bytes of content, base64-encoded, fit in one request with room to spare
 * for the rest of it (64 KiB); *limit (may be NULL) gets the request limit. */
int odoo_stream_fits(const struct odoo *o, long long size, size_t *limit);
/* The largest content that fits so (about 96 MiB of Odoo's default 128 MiB). */
long long odoo_stream_max(const struct odoo *o);

/*
 * Display names of ids: *names = object {"<id>": "<display name>", ...} (read of
 * display_name on 17+, name_get before). Missing ids are absent from the object.
 */
int odoo_display_names(struct odoo *o, const char *model, const long *ids, size_t n, cJSON **names,
                       struct err *e);

/*
 * Anything else: model.method(ids?, **named_params). ids_or_null: a cJSON array of ids for
 * a record method (JSON-RPC: the first positional argument; JSON-2: "ids"), NULL for a
 * model method. named_params: an object, may be NULL. *result: the method's return value.
 */
int odoo_call(struct odoo *o, const char *model, const char *method, const cJSON *ids_or_null,
              const cJSON *named_params, cJSON **result, struct err *e);

/*
 * Streams attachment att_id's content (GET /web/content/<id>?download=true, with a session
 * cookie from /web/session/authenticate, opened once with the password and kept in the
 * handle, or the bearer key for JSON-2; see enum odoo_download_mode for the `datas`
 * fallback) to write_cb, which returns 0 to go on or non-zero to abort (returned as ERR_IO
 * unless it is a negative ERR_* code). A session the server forgot is re-opened once. A
 * `url` attachment has no content here: ERR_INVALID. Missing: ERR_NOTFOUND. Computes the sha1 on
 * the fly; at the end, when expected_size >= 0 and/or expected_sha1 (40 hex, any case) are given
 * and differ -> ERR_CONFLICT (the content changed since it was planned). Bytes already passed to
 * write_cb are not taken back: the consumer must write to a temporary place and commit only on
 * success. Not retried once bytes were delivered. sha1_hex_out (41 bytes, may be NULL) receives the
 * actual sha1.
 */
int odoo_download(struct odoo *o, long att_id, int (*write_cb)(const char *p, size_t n, void *ud),
                  void *ud, long long expected_size, const char *expected_sha1, char *sha1_hex_out,
                  struct err *e);

/*
 * The same delivery and checks as odoo_download, from an ir.attachment record already read
 * with its "type" and "datas" (base64) fields: small contents read in one call with the
 * record (worker/apply_batch.c) need no download of their own.
 */
int odoo_deliver_datas(const cJSON *rec, long att_id,
                       int (*write_cb)(const char *p, size_t n, void *ud), void *ud,
                       long long expected_size, const char *expected_sha1, char *sha1_hex_out,
                       struct err *e);

/* --- exposed for tests and the fuzzer: pure, no network ---------------------------------- */

/*
 * Decode an answer body. proto JSONRPC: a JSON-RPC 2.0 envelope ({"result":...} or
 * {"error":{"code","message","data":{"name","message"}}}); http_status is also checked.
 * JSON2: status 2xx -> the body is the result; otherwise the body is {"name","message",...}.
 * On success *result gets the result (a new tree). *session_expired (may be NULL) is set to
 * 1 when the error is an expired session (code 100 / SessionExpiredException).
 */
int odoo_decode_response(enum odoo_protocol proto, long http_status, const char *body, size_t len,
                         cJSON **result, int *session_expired, struct err *e);

/* Odoo exception name ("odoo.exceptions.AccessError", or just "AccessError") -> ERR_* code. */
int odoo_error_code(const char *exception_name);

#endif
