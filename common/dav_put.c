/*
 * dav_put: uploads by PUT, streamed from the caller's source.
 *
 * dav_put() sends the source as it reads it (never the whole file in
 * memory), with If-Match or If-None-Match: * as asked, and, on Nextcloud
 * or ownCloud, the checksum (OC-Checksum) and the mtime (X-OC-Mtime). The
 * upload is retried only when the source can rewind.
 *
 * On Nextcloud a file over opts.chunk_threshold goes by chunked upload v2:
 * MKCOL an upload folder under .../dav/uploads/<user>, PUT the chunks
 * (each a window of the one source; a retried chunk rewinds the source and
 * skips to its start), then MOVE .file to the target, which may take
 * minutes while the server assembles it. If-Match is checked by a stat
 * first, since the final MOVE cannot carry it. An upload folder left by a
 * failure is deleted.
 *
 * dav_put_buf() uploads a buffer through the same path (dav_mem_read /
 * dav_mem_rewind, which the bulk upload uses too).
 */
#include "dav.h"
#include "dav_int.h"
#include "log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"

/* --- chunked upload v2 (Nextcloud) ------------------------------------------------- */

/* "<root>/remote.php/dav/files/<user>/" -> "<root>/remote.php/dav/uploads/<user>"; -1 if not. */
static int uploads_url(const struct dav *d, struct buf *out)
{
    static const char files[] = "/remote.php/dav/files/";
    const char *p = strstr(d->url, files), *user, *end;

    if (!p)
        return -1;
    user = p + sizeof(files) - 1;
    end = strchr(user, '/');
    if (!end || end == user)
        return -1;
    return buf_printf(out, "%.*s/remote.php/dav/uploads/%.*s", (int)(p - d->url), d->url,
                      (int)(end - user), user);
}

/* One chunk of the caller's source: bytes [off, off + len). */
struct chunk_src {
    const struct dav_put_req *req;
    long long off, len, pos;
};

static size_t chunk_read(char *b, size_t n, void *ud)
{
    struct chunk_src *c = ud;
    long long left = c->len - c->pos;
    size_t r;

    if (left <= 0)
        return 0;
    if ((long long)n > left)
        n = (size_t)left;
    r = c->req->read(b, n, c->req->ud);
    if (r <= n)
        c->pos += (long long)r;
    return r;
}

/* Back to the chunk's first byte: rewind the source, skip what went before. */
static int chunk_rewind(void *ud)
{
    struct chunk_src *c = ud;
    char tmp[16384];
    long long skip = c->off;

    if (!c->req->rewind || c->req->rewind(c->req->ud) < 0)
        return -1;
    while (skip > 0) {
        size_t n = skip < (long long)sizeof(tmp) ? (size_t)skip : sizeof(tmp);
        size_t r = c->req->read(tmp, n, c->req->ud);

        if (r == 0 || r > n)
            return -1;
        skip -= (long long)r;
    }
    c->pos = 0;
    return 0;
}

/* A request on an absolute URL (what names it in messages); x holds the answer. */
static int raw(struct dav *d, const char *method, const char *what, const char *url,
               struct curl_slist *hdrs, const struct dav_put_req *put, struct dav_xfer *x,
               struct err *e)
{
    dav_xfer_init(x, d, method, what);
    x->put = put;
    /* Nextcloud assembles the chunks before it answers the final MOVE: minutes for a big
     * file, with no byte moving. That one wait gets 10 minutes at least. */
    if (strcmp(method, "MOVE") == 0)
        x->stall_ms = 600000;
    return dav_run(d, x, url, hdrs, e);
}

static int same_etag(const char *a, const char *b)
{
    return a && b && strcmp(dav_match_etag(a), dav_match_etag(b)) == 0;
}

static int put_chunked(struct dav *d, const char *path, const struct dav_put_req *req,
                       struct dav_result *out, struct err *e)
{
    struct buf dir, dest, url;
    struct curl_slist *hdrs = NULL, *mv = NULL;
    struct dav_xfer x;
    int ok = 1, rc, made = 0, n = 0;

    memset(&x, 0, sizeof(x));
    buf_init(&dir, DAV_URL_MAX);
    buf_init(&dest, DAV_URL_MAX);
    buf_init(&url, DAV_URL_MAX);
    if (uploads_url(d, &dir) < 0 ||
        buf_printf(&dir, "/odoosync-%08x%08x", (unsigned)rand_r(&d->seed), (unsigned)time(NULL)) <
            0) {
        rc = err_set(e, ERR_INVALID, "PUT \"%.300s\": no chunked upload url", path);
        goto out;
    }
    rc = dav_path_to_url(d, path, &dest, e);
    if (rc < 0)
        goto out;
    if (req->if_match) {
        struct dav_stat st;

        rc = dav_stat(d, path, &st, e);
        if (rc == 0 && !same_etag(st.etag, req->if_match))
            rc = err_set(e, ERR_CONFLICT, "PUT \"%.300s\": the etag changed (If-Match)", path);
        else if (rc == ERR_NOTFOUND)
            rc = err_set(e, ERR_CONFLICT, "PUT \"%.300s\": the file is gone (If-Match)", path);
        dav_stat_release(&st);
        if (rc < 0)
            goto out;
    }
    hdrs = dav_add_header(hdrs, &ok, "Destination: %s", dest.data);
    hdrs = dav_add_header(hdrs, &ok, "OC-Total-Length: %lld", req->size);
    mv = dav_add_header(mv, &ok, "Destination: %s", dest.data);
    mv = dav_add_header(mv, &ok, "OC-Total-Length: %lld", req->size);
    mv = dav_add_header(mv, &ok, "Overwrite: %s", req->create_only ? "F" : "T");
    if (req->sha1_hex)
        mv = dav_add_header(mv, &ok, "OC-Checksum: SHA1:%s", req->sha1_hex);
    if (req->mtime > 0)
        mv = dav_add_header(mv, &ok, "X-OC-Mtime: %lld", req->mtime);
    if (!ok) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = raw(d, "MKCOL", path, dir.data, hdrs, NULL, &x, e);
    if (rc == 0)
        rc = dav_map_status(d, &x, ERR_CONFLICT, "precondition failed", e);
    dav_xfer_release(&x);
    if (rc < 0)
        goto out;
    made = 1;
    for (long long off = 0; off < req->size || (off == 0 && req->size == 0);) {
        long long len = req->size - off < d->o.chunk_size ? req->size - off : d->o.chunk_size;
        struct chunk_src c = {req, off, len, 0};
        struct dav_put_req sub;

        memset(&sub, 0, sizeof(sub));
        sub.read = chunk_read;
        sub.rewind = req->rewind ? chunk_rewind : NULL;
        sub.ud = &c;
        sub.size = len;
        buf_reset(&url);
        buf_printf(&url, "%s/%05d", dir.data, ++n);
        rc = raw(d, "PUT", path, url.data, hdrs, &sub, &x, e);
        if (rc == 0)
            rc = dav_map_status(d, &x, ERR_CONFLICT, "precondition failed", e);
        dav_xfer_release(&x);
        if (rc < 0) {
            err_prefix(e, "chunk %d", n);
            goto out;
        }
        off += len;
        if (len == 0)
            break;
    }
    buf_reset(&url);
    buf_printf(&url, "%s/.file", dir.data);
    rc = raw(d, "MOVE", path, url.data, mv, NULL, &x, e);
    if (rc == 0)
        rc = dav_map_status(d, &x, req->create_only ? ERR_EXISTS : ERR_CONFLICT,
                            req->create_only ? "the file exists" : "precondition failed", e);
    if (x.status)
        dav_fill_result(&x, out);
    dav_xfer_release(&x);
    if (rc == 0)
        made = 0; /* the server removed the upload folder */
out:
    if (made) {
        struct err e2 = ERR_INIT;

        if (raw(d, "DELETE", path, dir.data, NULL, NULL, &x, &e2) == 0)
            log_debug(d->o.log, "chunked upload of \"%s\" abandoned: %ld", path, x.status);
        dav_xfer_release(&x);
    }
    curl_slist_free_all(hdrs);
    curl_slist_free_all(mv);
    buf_release(&dir);
    buf_release(&dest);
    buf_release(&url);
    return rc;
}

int dav_put(struct dav *d, const char *path, const struct dav_put_req *req, struct dav_result *out,
            struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct buf url;
    struct dav_xfer x;
    int ok = 1, rc, nc = dav_is_oc(d);

    dav_xfer_init(&x, d, "PUT", path);
    buf_init(&url, DAV_URL_MAX);
    if (!req || !req->read) {
        rc = err_set(e, ERR_INVALID, "PUT \"%.300s\": no source", path);
        goto out;
    }
    if ((req->if_match && !dav_header_safe(req->if_match)) ||
        (req->content_type && !dav_header_safe(req->content_type)) ||
        (req->sha1_hex && (strlen(req->sha1_hex) != 40 || !dav_header_safe(req->sha1_hex)))) {
        rc = err_set(e, ERR_INVALID, "PUT \"%.300s\": bad etag, content type or sha1", path);
        goto out;
    }
    if (d->dialect == DAV_DIALECT_NEXTCLOUD && d->o.chunk_threshold > 0 && req->size >= 0 &&
        req->size > d->o.chunk_threshold && uploads_url(d, &url) == 0) {
        rc = put_chunked(d, path, req, out, e);
        goto out;
    }
    rc = dav_path_to_url(d, path, &url, e);
    if (rc < 0)
        goto out;
    x.put = req;
    if (req->if_match)
        hdrs = dav_add_header(hdrs, &ok, "If-Match: %s", dav_match_etag(req->if_match));
    if (req->create_only)
        hdrs = dav_add_header(hdrs, &ok, "If-None-Match: *");
    if (req->content_type)
        hdrs = dav_add_header(hdrs, &ok, "Content-Type: %s", req->content_type);
    if (nc && req->sha1_hex)
        hdrs = dav_add_header(hdrs, &ok, "OC-Checksum: SHA1:%s", req->sha1_hex);
    if (nc && req->mtime > 0)
        hdrs = dav_add_header(hdrs, &ok, "X-OC-Mtime: %lld", req->mtime);
    if (!ok) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = dav_run(d, &x, url.data, hdrs, e);
    if (rc == 0)
        rc = dav_map_status(d, &x, req->create_only ? ERR_EXISTS : ERR_CONFLICT,
                            req->create_only ? "the file exists (If-None-Match: *)"
                                             : "the etag changed (If-Match)",
                            e);
    if (x.status)
        dav_fill_result(&x, out);
out:
    curl_slist_free_all(hdrs);
    buf_release(&url);
    dav_xfer_release(&x);
    return rc;
}

size_t dav_mem_read(char *b, size_t n, void *ud)
{
    struct dav_mem_src *m = ud;
    size_t k = m->len - m->pos < n ? m->len - m->pos : n;

    memcpy(b, m->p + m->pos, k);
    m->pos += k;
    return k;
}

int dav_mem_rewind(void *ud)
{
    ((struct dav_mem_src *)ud)->pos = 0;
    return 0;
}

int dav_put_buf(struct dav *d, const char *path, const void *data, size_t len, const char *if_match,
                int create_only, struct dav_result *out, struct err *e)
{
    struct dav_mem_src m = {data, len, 0};
    struct dav_put_req req;

    memset(&req, 0, sizeof(req));
    req.read = dav_mem_read;
    req.rewind = dav_mem_rewind;
    req.ud = &m;
    req.size = (long long)len;
    req.if_match = if_match;
    req.create_only = create_only;
    return dav_put(d, path, &req, out, e);
}
