/*
 * odoo_int: what the pieces of the Odoo client share, not part of the public API
 * (odoo.h). odoo.c owns the handle, the HTTP layer, exchange() and call_kw();
 * odoo_calls.c builds the public model calls on call_kw(); odoo_download.c streams
 * /web/content (or reads `datas`) through the same handle.
 *
 * Everything here works on one struct odoo, which is never shared between threads.
 * Secrets (password, api key) stay in the handle and in request bodies or headers:
 * free what may hold one with odoo_free_body() / odoo_free_headers(), which wipe it.
 */
#ifndef ODOOSYNC_ODOO_INT_H
#define ODOOSYNC_ODOO_INT_H

#include <curl/curl.h>
#include <signal.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "log.h"
#include "odoo.h"

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
    char *ca_file; /* owned copy of opts.ca_file, NULL = the system's CAs */
    size_t max_response;
    size_t max_request;
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
    /* odoo_stream.c: while a streamed create / write runs, the placeholder string its
     * body carries in place of the content, and the content (borrowed) */
    const struct odoo_stream *stream;
    char stream_mark[64];
};
/* Sleep ms in slices of 100 ms while no stop is asked; 0, or -1 when one was. */
int odoo_sleep_ms(const volatile sig_atomic_t *stop, long ms);

/* The error of a failed curl_easy_perform: stopped, timed out (named) or a network error. */
int odoo_curl_failure(struct odoo *o, CURLcode cc, const char *what, long timeout_ms,
                      struct err *e);

/* The wait before retry attempt+1: Retry-After when given, else jittered exponential. */
long odoo_backoff_ms(struct odoo *o, int attempt, long retry_after_s);

/* Common options for a request to path (appended to the base URL). */
int odoo_http_setup(struct odoo *o, const char *path, struct err *e);

/* Frees a header list, wiping it first (it may hold the bearer key). */
void odoo_free_headers(struct curl_slist *h);

/* Adds the JSON-2 auth headers to *h (the caller frees it with odoo_free_headers). */
int odoo_bearer_headers(struct odoo *o, struct curl_slist **h);

/*
 * POST body (JSON) to path; decode the answer for proto. bearer: send the JSON-2 headers.
 * idempotent: may be retried after it could have reached the server. Retries are bounded
 * by o->retries; the result is the last attempt's.
 */
int odoo_exchange(struct odoo *o, enum odoo_protocol proto, const char *path, const char *body,
                  int bearer, int idempotent, cJSON **result, int *session_expired, struct err *e);

/*
 * A body carrying o->stream_mark (as a JSON string) sent with the stream's content,
 * base64, in its place (odoo_stream.c). 0 = sent (*status, the answer in resp); negative:
 * e set (ERR_TOO_BIG over max_request, before anything is sent). Only from
 * odoo_exchange().
 */
int odoo_stream_perform(struct odoo *o, const char *body, const char *mark, CURLcode *cc,
                        struct err *e);

/* Frees a serialised body that may hold a secret. */
void odoo_free_body(char *s);

/* odoo_connect() unless the handle is connected already. */
int odoo_ensure_connected(struct odoo *o, struct err *e);

/*
 * model.method: JSON-RPC execute_kw(db, uid, pw, model, method, pos, kw) or JSON-2
 * POST /json/2/model/method with named. Takes ownership of pos, kw and named (each may
 * be NULL; only those of the protocol in use are needed). Re-logs in once when the
 * session expired.
 */
int odoo_call_kw(struct odoo *o, const char *model, const char *method, cJSON *pos, cJSON *kw,
                 cJSON *named, int idempotent, cJSON **result, struct err *e);

/* odoo_call_kw for a method that answers a list (search_read, read): on 0, *records. */
int odoo_call_list(struct odoo *o, const char *model, const char *method, cJSON *pos, cJSON *kw,
                   cJSON *named, cJSON **records, struct err *e);

#endif
