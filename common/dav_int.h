/*
 * dav_int: what the pieces of the WebDAV client share, not part of the public
 * API (dav.h).
 *
 * dav.c owns the handle (struct dav) and the shared cache (struct dav_share);
 * dav_xfer.c runs one request (struct dav_xfer): setup, the transfer on the
 * handle's CURLM, retries, the mapping of a status to a code. The methods
 * build on it: dav_props.c (PROPFIND, stat, PROPPATCH), dav_ops.c (MKCOL,
 * DELETE, MOVE/COPY, GET), dav_put.c (PUT, chunked upload), dav_bulk.c
 * (Nextcloud's bulk upload). dav_xml.c parses a multistatus, pulling its
 * input through a dav_pull_fn (libxml2's xmlInputReadCallback shape):
 * dav_multistatus_parse() pulls from memory, dav_propfind() from the network
 * transfer as it arrives.
 *
 * Everything here works on one struct dav, which is never shared between
 * threads; a struct dav_xfer lives on the caller's stack for one request.
 */
#ifndef ODOOSYNC_DAV_INT_H
#define ODOOSYNC_DAV_INT_H

#include <curl/curl.h>
#include <pthread.h>

#include "dav.h"

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

/* One request: what to send and what came back (a dav_xfer_init()ed struct, freed by
 * dav_xfer_release()). */
struct dav_xfer {
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

/* --- one request (dav_xfer.c) ------------------------------------------------------------- */

/* The request as a string for messages. */
#define DAV_REQ_FMT "%s \"%.300s\""
#define DAV_REQ_ARGS(x) (x)->method, (x)->path

void dav_xfer_init(struct dav_xfer *x, struct dav *d, const char *method, const char *path);
void dav_xfer_release(struct dav_xfer *x);
/* Forget what one attempt received. */
void dav_xfer_reset_attempt(struct dav_xfer *x);
/* Set the handle up for x on url with hdrs (may be NULL); 0 or ERR_INTERNAL. */
int dav_xfer_setup(struct dav *d, struct dav_xfer *x, const char *url, struct curl_slist *hdrs);
/*
 * Start the transfer on the multi handle and run it until the response's
 * first body byte (streaming) or its end. Returns 0 or ERR_INTERNAL.
 */
int dav_xfer_start(struct dav *d, struct dav_xfer *x);
/* One step of the transfer (see dav_xfer.c for the bounds it enforces). */
void dav_xfer_pump(struct dav *d, struct dav_xfer *x);
/* Run the transfer to its end, take it off the multi handle, count it. */
void dav_xfer_finish(struct dav *d, struct dav_xfer *x);
/* Take the transfer off the multi handle where it is, count it. */
void dav_xfer_stop(struct dav *d);
/*
 * The transfer ended (x->done): turn a transport failure into a code, or
 * 0 when an HTTP status came back (x->status set).
 */
int dav_xfer_result(struct dav *d, struct dav_xfer *x, struct err *e);
int dav_is_retry_status(long st);
/* After a failed attempt: whether to try again (sleeping first); *waited sums the waits. */
int dav_should_retry(struct dav *d, struct dav_xfer *x, int attempt, long long *waited);
/*
 * Run a non-streamed request with retries. Returns 0 with x->status set
 * (any HTTP status, the caller maps it) or a negative code.
 */
int dav_run(struct dav *d, struct dav_xfer *x, const char *url, struct curl_slist *hdrs,
            struct err *e);
/* Map a final HTTP status to 0 or an error. what412 is the code for 412. */
int dav_map_status(struct dav *d, struct dav_xfer *x, int what412, const char *why412,
                   struct err *e);
/* Whether the server is Nextcloud or ownCloud (its dialect: configured, else detected
 * now, once per handle). */
int dav_is_oc(struct dav *d);
/*
 * The XML body that sets odoosync's tag name=value (NULL: removes it): a PROPPATCH's
 * propertyupdate, or (mkcol) an extended MKCOL's (RFC 5689: the collection and the tag).
 * 0, ERR_INVALID (not an XML name, control characters), ERR_TOO_BIG.
 */
int dav_tag_body(struct buf *body, int mkcol, const char *name, const char *value, struct err *e);
/*
 * Run method on path (x is dav_xfer_init()ed here: release it after) with
 * headers and a small body (may be NULL); map the status (what412 for 412).
 */
int dav_simple(struct dav *d, const char *method, const char *path, struct curl_slist *hdrs,
               const char *body, struct dav_xfer *x, int what412, const char *why412,
               struct err *e);
/* Append a formatted header line to l; *ok cleared when it cannot. */
struct curl_slist *dav_add_header(struct curl_slist *l, int *ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A header value must not break the header: no CR/LF/NUL. */
int dav_header_safe(const char *v);
/* The etag to send in If-Match (without W/, see dav_xfer.c). */
const char *dav_match_etag(const char *etag);
/* Copy status, etag and fileid of x to out (may be NULL). */
void dav_fill_result(struct dav_xfer *x, struct dav_result *out);

/* --- a buffer as an upload source (dav_put.c) ------------------------------------------- */

struct dav_mem_src {
    const char *p;
    size_t len, pos;
};

size_t dav_mem_read(char *b, size_t n, void *ud);
int dav_mem_rewind(void *ud);

/* --- paths (dav_path.c) --------------------------------------------------------------- */

/* The value of the hex digit c (0-15), -1 when c is none: percent-decoding. */
int dav_hexval(int c);

/* --- the multistatus parser (dav_xml.c) --------------------------------------------------- */

/* Copy up to len bytes into b; return the count, 0 at the end, -1 on error. */
typedef int (*dav_pull_fn)(void *ctx, char *b, int len);

/*
 * Parse a multistatus pulled from pull(ctx). *delivered counts the entries
 * passed to cb. A pull error makes the parse fail with ERR_PROTO unless the
 * caller overrides the code with what the transport saw.
 */
int dav_multistatus_parse_pull(dav_pull_fn pull, void *ctx, const char *base_path, dav_entry_fn cb,
                               void *ud, long *delivered, struct err *e);

/*
 * A response left out of the listing: its href decodes to a name with a
 * control character (struct dav_left_out in dav.h says what it is told).
 */
typedef dav_left_out_fn dav_skip_fn;

/* The same, calling skip (may be NULL) for each response left out. */
int dav_multistatus_parse_pull_skip(dav_pull_fn pull, void *ctx, const char *base_path,
                                    dav_entry_fn cb, void *ud, dav_skip_fn skip, void *skip_ud,
                                    long *delivered, struct err *e);

/* The PROPFIND request body asking for the properties of struct dav_entry. */
extern const char dav_propfind_body[];

#endif
