/*
 * dav: a WebDAV client for Nextcloud, ownCloud and any class-2 server
 * (Apache mod_dav), on libcurl and libxml2.
 *
 * Paths. Every path given to or returned by this API is decoded,
 * '/'-separated and relative to the base URL of the handle, with a leading
 * '/' and no trailing '/' ("/" is the base itself):
 *   "/Odoo/Quotations/SO019/commercial offer.png"
 * dav_path_encode() turns it into a URL path segment by segment (only RFC
 * 3986 unreserved characters and '/' kept, every other byte %XX, so '#',
 * '?', '%', quotes, spaces and UTF-8 are safe); dav_href_decode() turns a multistatus href
 * (absolute URL or absolute path) back into an API path, stripping the base path.
 *
 * Handles. One `struct dav` per thread: it owns a CURL easy handle and its
 * own CURLM (the connection cache), so keep-alive connections are reused
 * across calls, and is never shared. The handles made from one
 * configuration should share one `struct dav_share` (opts.share, borrowed):
 * a CURLSH holding the DNS cache and the TLS session cache, locked with
 * pthread mutexes it owns (one per kind of data), so a new thread's first
 * TLS handshake resumes a session another thread negotiated. Connections
 * themselves are NOT shared (CURL_LOCK_DATA_CONNECT: libcurl documents it
 * as unsupported across concurrent threads, 7.88 included): each handle
 * keeps its own, which is what "one handle per thread" wants anyway.
 * curl_global_init() is main()'s job (dav_global_init() does it, once,
 * before any thread starts).
 *
 * HTTP versions. Every request asks for HTTP/2 over TLS (ALPN, libcurl's
 * CURL_HTTP_VERSION_2TLS) and speaks HTTP/1.1 where the server does not
 * offer h2, or over plain http://. dav_stats() says what was used.
 * opts.http1 turns h2 off. Measured with the stack's Apache 2.4 (mod_ssl +
 * mod_http2) and libcurl 7.88: a handle's new connection did not resume the
 * TLS session another handle had used over h2 (full handshake, although
 * curl offered the cached session; `openssl s_client -alpn h2 -reconnect`
 * does resume, so it is about how an h2 connection ends), while sessions
 * used over HTTP/1.1 are resumed. Over h2 a handle needs one connection only.
 *
 * Errors (common/err.h), for every call: 0 or a negative code, details in
 * the struct err (method, path, HTTP status, the server's message):
 *   401 -> ERR_AUTH ("authentication failed for user \"x\"")
 *   403 -> ERR_ACCESS
 *   404 -> ERR_NOTFOUND
 *   409 -> ERR_NOTFOUND: on PUT/MKCOL/MOVE/COPY a 409 means "the parent
 *          collection is missing" (RFC 4918), the message says so
 *   412 -> ERR_CONFLICT (If-Match with a stale etag), except:
 *          PUT with create_only (If-None-Match: *) on an existing file -> ERR_EXISTS
 *          MOVE/COPY with overwrite=0 onto an existing target          -> ERR_EXISTS
 *   405 on MKCOL -> ERR_EXISTS (the collection, or a file, is already there)
 *   423 -> ERR_RETRY (locked), not retried inside
 *   429/502/503/504 and network errors -> retried inside (opts.max_retries,
 *          exponential backoff with jitter, Retry-After honoured, each wait
 *          capped by retry_max_ms and all waits of one call by
 *          retry_total_ms), then ERR_RETRY; a Retry-After longer than
 *          retry_max_ms is not waited for: ERR_RETRY at once, the caller
 *          schedules the retry (the worker's retry topic)
 *   507 -> ERR_SERVER (insufficient storage); other 5xx -> ERR_SERVER
 *   a PROPFIND answer that is not a well-formed multistatus -> ERR_PROTO
 *   a response larger than its cap -> ERR_TOO_BIG
 *   a read/write callback that aborts -> ERR_IO (never retried)
 *
 * Etags are returned as the server sent them. An If-Match value loses a
 * leading "W/": Apache calls an etag weak during the second its file
 * changed and then refuses every If-Match (a spurious ERR_CONFLICT, safe);
 * the same value, strong a second later, then matches.
 *
 * Uploads. dav_put() streams from a callback (the file is never held in
 * memory). A failed attempt is retried from the start only when the source
 * can rewind (req.rewind set). With Apache mod_dav_fs, Nextcloud and
 * ownCloud an interrupted PUT leaves no partial file under the final name
 * (the body goes to a temporary file renamed on completion): the
 * integration and fault tests check this.
 */
#ifndef ODOOSYNC_DAV_H
#define ODOOSYNC_DAV_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#include <signal.h>

struct log;
struct dav;

enum dav_dialect {
    DAV_DIALECT_AUTO = 0, /* dav_detect() decides (dav_new() leaves it AUTO) */
    DAV_DIALECT_GENERIC,  /* Apache mod_dav & co: path + dead property are the identity */
    DAV_DIALECT_NEXTCLOUD,
    DAV_DIALECT_OWNCLOUD
};

#define DAV_DEPTH_INFINITY (-1)

/* The XML namespace of our dead properties. */
#define DAV_NS_ODOOSYNC "urn:odoosync"

/* The read callback returns this to abort an upload (it is CURL_READFUNC_ABORT). */
#define DAV_READ_ABORT ((size_t)0x10000000)

struct dav_opts {
    const char *url;         /* base, e.g. "http://127.0.0.1:8080/dav/" (required; copied) */
    const char *user;        /* NULL: no auth (copied) */
    const char *password;    /* copied; never logged */
    long connect_timeout_ms; /* default 10000 */
    long timeout_ms;         /* whole request; 0 = none (default: none, see low_speed_*) */
    long low_speed_secs;     /* abort when under 1 byte/s for that long; default 60 */
    /* abort a request when nothing moves (no byte sent or received: no first byte, a
     * stall) for that long; ERR_RETRY naming the wait, not retried here. 0 = off (default) */
    long stall_ms;
    /* when *stop becomes non-zero (a signal handler sets it), every transfer and retry wait
     * ends within a poll interval with ERR_STOPPED; NULL = never (borrowed) */
    const volatile sig_atomic_t *stop;
    int insecure;             /* 1: do not verify TLS certificates (default 0) */
    int max_retries;          /* retries after the first attempt; default 4; 0 = none */
    long retry_base_ms;       /* first backoff; default 500, doubled each time, +-50% jitter */
    long retry_max_ms;        /* cap of one wait (also caps Retry-After); default 30000 */
    long retry_total_ms;      /* cap of all waits of one call; default 120000 */
    enum dav_dialect dialect; /* AUTO (default), or forced */
    size_t max_response;      /* cap of a response body held in memory; default 1 MiB */
    unsigned long long max_listing; /* cap of a PROPFIND body (streamed); default 4 GiB */
    struct dav_share *share;        /* optional, borrowed: outlives every handle using it */
    const char *ca_file;            /* PEM file of CAs to trust instead of the system's (copied) */
    int no_bulk;                    /* 1: never use Nextcloud's bulk upload (dav_bulk_upload) */
    int http1;                      /* 1: HTTP/1.1 only, never h2 (see "HTTP versions") */
    /* Nextcloud: a dav_put() of a known size above chunk_threshold uses chunked upload v2
     * (MKCOL uploads/<user>/<id>, PUT each chunk, MOVE .file). Default 100 MiB; -1: never.
     * chunk_size: default 16 MiB (Nextcloud wants 5 MiB..5 GiB per chunk but the last). */
    long long chunk_threshold;
    long long chunk_size;
    const char *user_agent; /* default "odoosync/<version>" */
    struct log *log;        /* optional, borrowed */
};

/* Fills o with the defaults above (url etc. NULL). */
void dav_opts_init(struct dav_opts *o);

/* curl_global_init() + libxml2 init, once in main() before threads. */
int dav_global_init(struct err *e);
void dav_global_cleanup(void);

/*
 * The DNS + TLS session caches shared by the handles of one configuration
 * (thread-safe). Free it after the last handle that uses it.
 */
struct dav_share;
struct dav_share *dav_share_new(struct err *e);
void dav_share_free(struct dav_share *s);

/* A new handle (copies what it needs from o). NULL with e filled on failure. */
struct dav *dav_new(const struct dav_opts *o, struct err *e);
void dav_free(struct dav *d);

/*
 * Asks <server>/status.php (and the capabilities for ownCloud/Nextcloud);
 * sets and returns the dialect (>= 0) or a negative code. A server without
 * status.php is GENERIC (not an error). Not needed when opts.dialect is set.
 */
int dav_detect(struct dav *d, struct err *e);
enum dav_dialect dav_dialect(const struct dav *d);
const char *dav_dialect_name(enum dav_dialect dl);

/* Counters of a handle since dav_new(), for metrics and tests. */
struct dav_stats {
    long requests;     /* HTTP requests sent (retries included) */
    long connects;     /* new connections opened for them (CURLINFO_NUM_CONNECTS summed) */
    long http_version; /* of the last response: 10, 11, 20 (HTTP/2), 30; 0 = none yet */
    long skipped;      /* listed entries left out: their names hold a control character */
};
void dav_stats(const struct dav *d, struct dav_stats *out);

/* --- paths (pure functions, no handle) ------------------------------ */

/*
 * Normalise an API path into out: leading '/', no trailing '/', empty
 * segments and "." removed. ".." is refused (ERR_INVALID), as are control
 * characters (NUL can't be passed anyway).
 */
int dav_path_normalize(const char *path, struct buf *out, struct err *e);
/* Percent-encode a normalised path, segment by segment ('/' kept). */
int dav_path_encode(const char *path, struct buf *out, struct err *e);
/*
 * Decode an href (absolute URL "http://h/dav/a%20b", or "/dav/a%20b") into
 * an API path relative to base_path (the base URL's path, e.g. "/dav/").
 * ERR_PROTO when the href is not under base_path or decodes to a NUL/"..".
 */
int dav_href_decode(const char *href, const char *base_path, struct buf *out, struct err *e);
/* Full URL of a path on this handle: base URL + dav_path_encode(path). */
int dav_path_to_url(const struct dav *d, const char *path, struct buf *out, struct err *e);

/*
 * The server's web link of a cloud file: on Nextcloud/ownCloud with a file id
 * (oc:fileid, or an OC-FileId header's), "<server root>/index.php/f/<id>"
 * (link.h: stable across renames, opens for any user who can see the file);
 * otherwise the file's DAV URL.
 */
int dav_web_link(const struct dav *d, const char *path, const char *fileid, struct buf *out,
                 struct err *e);

/* --- listing ------------------------------------------------------------ */

/*
 * One resource of a multistatus. Every pointer is valid only during the
 * callback (copy what you keep); a property the server did not return is
 * NULL (strings) or -1 (numbers).
 */
struct dav_entry {
    const char *path;           /* decoded API path, "/" for the base itself */
    int is_dir;                 /* resourcetype has <d:collection/> */
    const char *etag;           /* getetag, quotes included as the server sent it */
    long long size;             /* getcontentlength, or oc:size for a folder; -1 */
    long long mtime;            /* getlastmodified as Unix seconds; -1 */
    const char *content_type;   /* getcontenttype */
    const char *fileid;         /* oc:fileid (Nextcloud/ownCloud) */
    const char *checksum;       /* oc:checksums, e.g. "SHA1:ab12... MD5:..." */
    const char *permissions;    /* oc:permissions, e.g. "RGDNVW" */
    const char *attachment_tag; /* {urn:odoosync}attachment: Odoo attachment id */
    const char *record_tag;     /* {urn:odoosync}record: "sale.order,19" */
    const char *type_tag;       /* {urn:odoosync}type: the type folder's configured name */
    const char *document_tag;   /* {urn:odoosync}document: Odoo Documents "documents.folder,3" */
    const char *synced_tag;     /* {urn:odoosync}synced: "<sha1> <etag>" of a Documents file at
                                   its last sync (the content both sides had then) */
};

/* Return 0 to go on, or a negative ERR_* code to stop the listing with it. */
typedef int (*dav_entry_fn)(const struct dav_entry *ent, void *ud);

/*
 * PROPFIND path with Depth 0, 1 or DAV_DEPTH_INFINITY, asking only for the
 * properties of struct dav_entry. The body is parsed while it arrives
 * (libxml2 xmlTextReader on a pull stream), so memory stays flat whatever
 * the number of entries. cb is called once per response, the path itself
 * included (first, on every server we know). Retries happen only before
 * the first callback. The callback must not use the same handle (it is
 * busy with this transfer); a network failure after some entries is
 * ERR_RETRY, and the caller must treat what it got as incomplete.
 * An entry whose name holds a control character (a tab, say: no path of
 * ours can hold one) is left out with a warning naming it, escaped, and
 * counted in dav_stats().skipped; the other entries are delivered.
 */
int dav_propfind(struct dav *d, const char *path, int depth, dav_entry_fn cb, void *ud,
                 struct err *e);

/*
 * PROPFIND Depth 1 of the folder path asking only for the resource type: the names in
 * it (each entry's path and is_dir; nothing else is filled), at a fraction of a full
 * listing's cost on servers that compute every property (Nextcloud).
 */
int dav_list_names(struct dav *d, const char *path, dav_entry_fn cb, void *ud, struct err *e);

/*
 * An entry left out of a listing (a control character in its name, or in the
 * name of a folder above it). Valid only during the callback.
 */
struct dav_left_out {
    const char *shown;  /* its decoded href, escaped (\t, \n, \xNN, \\), for messages */
    const char *folder; /* decoded API path of the nearest folder above it whose name is
                           clean: its parent, unless `below`; NULL when unknown */
    int is_dir;         /* resourcetype has <d:collection/> */
    int below;          /* the control character is in a folder above it: it lies somewhere
                           under `folder`, not directly in it */
};
typedef void (*dav_left_out_fn)(const struct dav_left_out *lo, void *ud);

/* dav_propfind, also calling left_out (may be NULL) for each entry left out. */
int dav_propfind_ex(struct dav *d, const char *path, int depth, dav_entry_fn cb, void *ud,
                    dav_left_out_fn left_out, void *left_out_ud, struct err *e);

/* The multistatus parser alone (unit tests, fuzzing). base_path as in dav_href_decode. */
int dav_multistatus_parse(const char *body, size_t len, const char *base_path, dav_entry_fn cb,
                          void *ud, struct err *e);

/* Depth-0 PROPFIND into an owned copy. ERR_NOTFOUND when absent. */
struct dav_stat {
    int is_dir;
    long long size, mtime;
    char *etag, *content_type, *fileid, *checksum, *permissions, *attachment_tag, *record_tag,
        *type_tag, *document_tag, *synced_tag;
};
int dav_stat(struct dav *d, const char *path, struct dav_stat *out, struct err *e);
/* Frees the strings of st and zeroes it (safe on a zeroed struct). */
void dav_stat_release(struct dav_stat *st);

/* --- changes ------------------------------------------------------------- */

/* What a write answered (fixed arrays: nothing to free). Empty string = not sent. */
struct dav_result {
    long status;     /* HTTP status of the final attempt */
    char etag[256];  /* ETag or OC-ETag response header */
    char fileid[64]; /* OC-FileId response header (Nextcloud/ownCloud) */
};

/*
 * MKCOL. parents=1 creates the missing parents first (and then an existing
 * final collection is not an error: returns 0 with out->status 405);
 * parents=0 gives ERR_EXISTS when it exists and ERR_NOTFOUND when the
 * parent is missing. out may be NULL.
 */
int dav_mkcol(struct dav *d, const char *path, int parents, struct dav_result *out, struct err *e);
/*
 * dav_mkcol() that sets the odoosync tag name=value on the folder it makes, in the same
 * request where the server takes an extended MKCOL (RFC 5689: Nextcloud and ownCloud):
 * *tagged = 1 when the folder was made with the tag (201). 0 otherwise (another server,
 * the folder was there already, a server that refused the body and was asked again
 * without it): the caller tags it. Returns as dav_mkcol().
 */
int dav_mkcol_tagged(struct dav *d, const char *path, int parents, const char *name,
                     const char *value, struct dav_result *out, int *tagged, struct err *e);

/* Upload source. read() fills up to n bytes and returns the count, 0 at the end, or
 * DAV_READ_ABORT. rewind() goes back to the first byte for a retry (0 or -1); NULL
 * means the upload is not retried once any byte was sent. */
struct dav_put_req {
    size_t (*read)(char *buf, size_t n, void *ud);
    int (*rewind)(void *ud);
    void *ud;
    long long size;           /* exact byte count; -1 = unknown (chunked encoding) */
    const char *if_match;     /* replace only this version (If-Match), or NULL */
    int create_only;          /* 1: If-None-Match: * (refused when the file exists) */
    const char *sha1_hex;     /* 40 hex: OC-Checksum: SHA1:<hex> on Nextcloud/ownCloud */
    const char *content_type; /* optional */
    long long mtime;          /* > 0: X-OC-Mtime on Nextcloud/ownCloud */
};

/*
 * PUT streamed. out (may be NULL) gets the new etag / fileid when the server sends them.
 * Chunked upload v2 (Nextcloud, size > opts.chunk_threshold, base URL
 * .../remote.php/dav/files/<user>/): each chunk is retried alone (the source is
 * rewound and skipped forward); the file appears only at the final MOVE;
 * create_only becomes Overwrite: F on that MOVE; if_match is checked with a
 * PROPFIND just before it (a small race window, unlike a plain PUT); a failed
 * upload deletes its upload folder.
 */
int dav_put(struct dav *d, const char *path, const struct dav_put_req *req, struct dav_result *out,
            struct err *e);
/* PUT of a buffer (small files, tests); rewinds by itself. */
int dav_put_buf(struct dav *d, const char *path, const void *data, size_t len, const char *if_match,
                int create_only, struct dav_result *out, struct err *e);

/*
 * GET streamed into write(), which returns n to go on (anything else aborts:
 * ERR_IO). Retried inside only while no byte was delivered. out may be NULL.
 */
int dav_get(struct dav *d, const char *path, size_t (*write)(const char *p, size_t n, void *ud),
            void *ud, struct dav_result *out, struct err *e);
/* GET into b (b->max is the cap: ERR_TOO_BIG beyond). */
int dav_get_buf(struct dav *d, const char *path, struct buf *b, struct err *e);

/*
 * MOVE / COPY (Depth infinity). overwrite=0 sends Overwrite: F and an
 * existing target gives ERR_EXISTS; if_match (or NULL) guards the source.
 */
int dav_move(struct dav *d, const char *from, const char *to, int overwrite, const char *if_match,
             struct err *e);
int dav_copy(struct dav *d, const char *from, const char *to, int overwrite, struct err *e);

/* DELETE (a collection with its content), guarded by if_match when not NULL. */
int dav_delete(struct dav *d, const char *path, const char *if_match, struct err *e);

/*
 * PROPPATCH of one dead property {urn:odoosync}name: set to value, or
 * removed when value is NULL. name must be an XML NCName (letters, digits,
 * '-', '_', '.'); value is escaped.
 */
int dav_proppatch(struct dav *d, const char *path, const char *name, const char *value,
                  struct err *e);

/* --- bulk upload (Nextcloud) --------------------------------------------------- */

/*
 * One small file of a batch: its content in memory, and what happened to it.
 */
struct dav_bulk_item {
    const char *path; /* API path (as for dav_put) */
    const void *data; /* content, len bytes (NULL allowed when len is 0) */
    size_t len;
    long long mtime;          /* > 0: X-File-Mtime (bulk) / X-OC-Mtime (PUT fallback) */
    const char *content_type; /* optional */
    /* filled by dav_bulk_upload() */
    int rc;            /* 0, or the negative ERR_* code of this file */
    int via_bulk;      /* 1: written by the bulk request, 0: by a PUT */
    char etag[256];    /* the new etag, when the server said it */
    char fileid[64];   /* Nextcloud's file id (as OC-FileId), when it said it */
    char message[256]; /* why this file failed: the server's words */
};

/*
 * Upload a batch of small files. On Nextcloud whose capabilities announce
 * dav.bulkupload (asked once per handle, on first use) and a base URL
 * .../remote.php/dav/files/<user>/..., files of up to DAV_BULK_FILE_MAX
 * bytes go in POST <server>/remote.php/dav/bulk requests (multipart/related,
 * one part per file with X-File-Path, X-File-MD5, X-File-Mtime,
 * Content-Length; at most DAV_BULK_MAX_FILES files and about
 * DAV_BULK_MAX_BYTES per request); the server answers a JSON object per
 * path ({"error": false, "etag", "fileid"} or {"error": true, "message"}).
 * Everything else, and every file when the server has no bulk endpoint
 * (other dialects, opts.no_bulk, or a 404/405/501 on the first POST, then
 * remembered), goes by dav_put_buf().
 *
 * Semantics: like Nextcloud's bulk endpoint, an unconditional write: an
 * existing file is replaced (no If-Match / If-None-Match), missing parent
 * folders are NOT created (that file fails). Use it for files the caller
 * knows are new, or may be replaced: the bulk endpoint cannot express
 * If-None-Match / If-Match. The worker (worker/apply_bulk.c) sends only
 * files whose absence a listing saw just before, under their jobs' locks.
 *
 * Returns 0 when every file was attempted (look at each item's rc; the
 * first failure is also in e), or a negative code when the batch stopped
 * early (network, authentication: the items not attempted carry that code).
 * Per file: a path that does not normalise is ERR_INVALID (nothing sent);
 * a file the bulk answer marks {"error": true} is ERR_SERVER with the
 * server's message (Nextcloud says "Could not create path" for a missing
 * folder; a PUT of it would say ERR_NOTFOUND); a file missing from the
 * answer, or left unparsed by a 400, is ERR_PROTO; PUT errors as dav_put.
 * A bulk POST is retried like any request (429/5xx, network).
 */
#define DAV_BULK_MAX_FILES 100
#define DAV_BULK_MAX_BYTES (16 * 1024 * 1024)
#define DAV_BULK_FILE_MAX (1024 * 1024)
int dav_bulk_upload(struct dav *d, struct dav_bulk_item *items, size_t n, struct err *e);

/* Whether this handle would use the bulk endpoint (asks the capabilities once). */
int dav_bulk_supported(struct dav *d);

#endif
