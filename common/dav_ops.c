/*
 * dav_ops: the one-request methods on a path: MKCOL, DELETE, MOVE, COPY
 * and GET.
 *
 * Each is one dav_simple() or dav_run() with its own reading of the
 * status: MKCOL's 405 is "it exists" and, with parents, a 409 creates the
 * ancestors top-down (a 423, a folder being made by another request, is asked
 * again); on Nextcloud and ownCloud a MKCOL can carry the folder's tag (an
 * extended MKCOL, RFC 5689, which SabreDAV stores: one request instead of two); DELETE and MOVE
 * send If-Match (the etag without W/, see dav_match_etag()); a 412 on MOVE/COPY is the target
 * existing, or, when the target is not there (or overwrite was asked), the source's etag having
 * changed; a 207 on DELETE, MOVE or COPY is a partial failure (a locked member stayed behind). GET
 * streams the body to the caller's consumer; dav_get_buf() collects it in a capped buffer.
 */
#include "dav.h"
#include "dav_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

/* --- simple methods ------------------------------------------------------------- */

/*
 * Nextcloud answers 423 Locked to a MKCOL of a folder another request is creating at the
 * same moment (its file locking: seen on Nextcloud 27 when two jobs make the same missing
 * parent): asked again a moment later, it exists (405) or is made. A lock that lasts (a
 * client's WebDAV LOCK) stays ERR_RETRY after MKCOL_LOCKED_TRIES.
 */
#define MKCOL_LOCKED_TRIES 4

static int mkcol_one(struct dav *d, const char *path, const char *body, struct dav_result *out,
                     struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct dav_xfer x;
    int ok = 1, rc;

    if (body) {
        hdrs = dav_add_header(hdrs, &ok, "Content-Type: application/xml; charset=utf-8");
        hdrs = dav_add_header(hdrs, &ok, "Expect:");
        if (!ok) {
            curl_slist_free_all(hdrs);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
    }
    for (int attempt = 1;; attempt++) {
        rc = dav_simple(d, "MKCOL", path, hdrs, body, &x, ERR_CONFLICT, "precondition failed", e);
        if (x.status != 423 || attempt == MKCOL_LOCKED_TRIES)
            break;
        dav_xfer_release(&x);
        err_clear(e);
        usleep(100000 * attempt); /* 0.1, 0.2, 0.3 s */
    }
    if (rc < 0 && x.status == 405)
        rc = err_set(e, ERR_EXISTS, "MKCOL \"%.300s\": HTTP 405: it already exists", path);
    if (x.status)
        dav_fill_result(&x, out);
    dav_xfer_release(&x);
    curl_slist_free_all(hdrs);
    return rc;
}

/* dav_mkcol(), the final MKCOL carrying body (NULL: none). */
static int mkcol_body(struct dav *d, const char *path, int parents, const char *body,
                      struct dav_result *out, struct err *e)
{
    struct buf norm;
    int rc;

    buf_init(&norm, DAV_URL_MAX);
    rc = dav_path_normalize(path, &norm, e);
    if (rc < 0)
        goto out;
    rc = mkcol_one(d, norm.data, body, out, e);
    if (rc == ERR_EXISTS && parents) {
        rc = 0;
        goto out;
    }
    if (rc != ERR_NOTFOUND || !parents)
        goto out;
    /* 409: create the ancestors top-down, then the folder itself */
    for (char *p = norm.data + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        rc = mkcol_one(d, norm.data, NULL, NULL, e);
        *p = '/';
        if (rc < 0 && rc != ERR_EXISTS)
            goto out;
    }
    rc = mkcol_one(d, norm.data, body, out, e);
    if (rc == ERR_EXISTS)
        rc = 0;
out:
    buf_release(&norm);
    return rc;
}

int dav_mkcol(struct dav *d, const char *path, int parents, struct dav_result *out, struct err *e)
{
    return mkcol_body(d, path, parents, NULL, out, e);
}

int dav_mkcol_tagged(struct dav *d, const char *path, int parents, const char *name,
                     const char *value, struct dav_result *out, int *tagged, struct err *e)
{
    struct dav_result r;
    struct buf body;
    int rc;

    *tagged = 0;
    if (!value || !dav_is_oc(d))
        return dav_mkcol(d, path, parents, out, e);
    buf_init(&body, 64 * 1024);
    rc = dav_tag_body(&body, 1, name, value, e);
    if (rc == 0) {
        memset(&r, 0, sizeof(r));
        rc = mkcol_body(d, path, parents, body.data, &r, e);
        if (out)
            *out = r;
        /* 201: made, with the tag (SabreDAV answers 207 when a property was refused); a
         * server that takes no body (415, 400, 501) is asked the plain way */
        *tagged = rc == 0 && r.status == 201;
        if (rc < 0 && (r.status == 415 || r.status == 400 || r.status == 501)) {
            err_clear(e);
            rc = dav_mkcol(d, path, parents, out, e);
        }
    }
    buf_release(&body);
    return rc;
}

int dav_delete(struct dav *d, const char *path, const char *if_match, struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct dav_xfer x;
    int ok = 1, rc;

    if (if_match && !dav_header_safe(if_match))
        return err_set(e, ERR_INVALID, "bad etag");
    if (if_match)
        hdrs = dav_add_header(hdrs, &ok, "If-Match: %s", dav_match_etag(if_match));
    if (!ok) {
        curl_slist_free_all(hdrs);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = dav_simple(d, "DELETE", path, hdrs, NULL, &x, ERR_CONFLICT,
                    "precondition failed: the etag changed", e);
    if (rc == 0 && x.status == 207)
        rc = err_set(e, ERR_SERVER, "DELETE \"%.300s\": some members could not be deleted", path);
    dav_xfer_release(&x);
    curl_slist_free_all(hdrs);
    return rc;
}

static int move_or_copy(struct dav *d, const char *method, const char *from, const char *to,
                        int overwrite, const char *if_match, struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct buf dest;
    struct dav_xfer x;
    int ok = 1, rc;

    memset(&x, 0, sizeof(x));
    buf_init(&dest, DAV_URL_MAX);
    if (if_match && !dav_header_safe(if_match)) {
        rc = err_set(e, ERR_INVALID, "bad etag");
        goto out;
    }
    rc = dav_path_to_url(d, to, &dest, e);
    if (rc < 0)
        goto out;
    hdrs = dav_add_header(hdrs, &ok, "Destination: %s", dest.data);
    hdrs = dav_add_header(hdrs, &ok, "Overwrite: %s", overwrite ? "T" : "F");
    if (strcmp(method, "COPY") == 0)
        hdrs = dav_add_header(hdrs, &ok, "Depth: infinity");
    if (if_match)
        hdrs = dav_add_header(hdrs, &ok, "If-Match: %s", dav_match_etag(if_match));
    if (!ok) {
        rc = err_set(e, ERR_NOMEM, "out of memory or destination too long");
        goto out;
    }
    rc = dav_simple(d, method, from, hdrs, NULL, &x, ERR_EXISTS, "the target exists", e);
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
    dav_xfer_release(&x);
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

int dav_get(struct dav *d, const char *path, size_t (*write)(const char *p, size_t n, void *ud),
            void *ud, struct dav_result *out, struct err *e)
{
    struct buf url;
    struct dav_xfer x;
    int rc;

    dav_xfer_init(&x, d, "GET", path);
    buf_init(&url, DAV_URL_MAX);
    x.write = write;
    x.wud = ud;
    rc = dav_path_to_url(d, path, &url, e);
    if (rc == 0)
        rc = dav_run(d, &x, url.data, NULL, e);
    if (rc == 0)
        rc = dav_map_status(d, &x, ERR_CONFLICT, "precondition failed", e);
    if (x.status)
        dav_fill_result(&x, out);
    buf_release(&url);
    dav_xfer_release(&x);
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
