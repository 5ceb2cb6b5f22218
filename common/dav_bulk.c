/*
 * dav_bulk: Nextcloud's bulk upload (POST .../remote.php/dav/bulk).
 *
 * The capabilities are asked once per handle (dav_detect() first when the
 * dialect is still unknown); without the bulkupload capability, or when
 * the base URL is not under .../dav/files/<user>, every file goes by PUT.
 * Each POST carries up to DAV_BULK_MAX_FILES parts built in memory (small
 * files only, so the body stays under DAV_BULK_MAX_BYTES plus headers),
 * each with its X-File-Path (relative to the user's files root), MD5 and
 * mtime, and is retried like any request (rewriting the same content is
 * harmless). The JSON answer gives each file its etag and fileid or its
 * error. Files too big for a bulk request, or whose path a header cannot
 * carry, go by PUT; a server that answers 404/405/501 to the POST gets
 * the rest by PUT. An authentication failure or a server away stops the
 * batch: the files not sent carry its code.
 */
#include "dav.h"
#include "dav_int.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/*
 * X-File-Path is relative to the user's files root, while API paths are
 * relative to the base URL: the prefix is the decoded part of the base
 * path after ".../remote.php/dav/files/<user>" ("" for the root itself,
 * "/Odoo" for .../files/<user>/Odoo/). -1 when the base is not such a URL.
 */
static int bulk_prefix(const struct dav *d, struct buf *out)
{
    static const char files[] = "/remote.php/dav/files/";
    const char *p = strstr(d->base_path, files), *user, *sub;
    struct buf base;
    struct err e2 = ERR_INIT;
    int rc = -1;

    if (!p)
        return -1;
    user = p + sizeof(files) - 1;
    sub = strchr(user, '/');
    if (!sub || sub == user)
        return -1;
    buf_init(&base, DAV_URL_MAX);
    buf_reset(out);
    if (buf_append(&base, d->base_path, (size_t)(sub - d->base_path) + 1) < 0 ||
        dav_href_decode(d->base_path, buf_str(&base), out, &e2) < 0)
        goto out;
    if (out->len == 1) /* "/": the user's root */
        buf_reset(out);
    rc = 0;
out:
    buf_release(&base);
    return rc;
}

/* Asks the capabilities (once per handle) whether POST .../dav/bulk is there. */
static int bulk_probe(struct dav *d)
{
    struct curl_slist *hdrs = NULL;
    struct buf url, pre;
    struct err e2 = ERR_INIT;
    struct dav_xfer x;
    cJSON *j = NULL;
    const cJSON *v;
    int ok = 1;

    if (d->bulk >= 0)
        return d->bulk;
    memset(&x, 0, sizeof(x));
    buf_init(&url, DAV_URL_MAX);
    buf_init(&pre, DAV_URL_MAX);
    if (!dav_is_oc(d) || d->dialect != DAV_DIALECT_NEXTCLOUD || bulk_prefix(d, &pre) < 0) {
        d->bulk = 0;
        goto out;
    }
    hdrs = dav_add_header(hdrs, &ok, "OCS-APIRequest: true");
    hdrs = dav_add_header(hdrs, &ok, "Accept: application/json");
    if (!ok || buf_printf(&url, "%s/ocs/v2.php/cloud/capabilities?format=json", d->root) < 0)
        goto out;
    dav_xfer_init(&x, d, "GET", "capabilities");
    if (dav_run(d, &x, url.data, hdrs, &e2) < 0)
        goto out; /* unknown: asked again next time */
    d->bulk = 0;
    if (x.status == 200)
        j = cJSON_ParseWithLength(buf_str(&x.resp), x.resp.len);
    v = cJSON_GetObjectItemCaseSensitive(j, "ocs");
    v = cJSON_GetObjectItemCaseSensitive(v, "data");
    v = cJSON_GetObjectItemCaseSensitive(v, "capabilities");
    v = cJSON_GetObjectItemCaseSensitive(v, "dav");
    v = cJSON_GetObjectItemCaseSensitive(v, "bulkupload");
    if (cJSON_IsString(v) && v->valuestring[0])
        d->bulk = 1;
    log_debug(d->o.log, "dav: bulk upload %s (capabilities: %ld)",
              d->bulk ? "available" : "not offered", x.status);
out:
    cJSON_Delete(j);
    dav_xfer_release(&x);
    curl_slist_free_all(hdrs);
    buf_release(&url);
    buf_release(&pre);
    return d->bulk > 0;
}

int dav_bulk_supported(struct dav *d)
{
    return bulk_probe(d) > 0;
}

static void item_reset(struct dav_bulk_item *it)
{
    it->rc = 0;
    it->via_bulk = 0;
    it->etag[0] = it->fileid[0] = it->message[0] = '\0';
}

static int item_fail(struct dav_bulk_item *it, int code, const char *msg)
{
    it->rc = code;
    snprintf(it->message, sizeof(it->message), "%s", msg);
    return code;
}

/* One file by PUT (the fallback, and files too big for a bulk request). */
static int bulk_put_one(struct dav *d, struct dav_bulk_item *it)
{
    struct dav_mem_src m = {it->data ? it->data : "", it->len, 0};
    struct dav_put_req req;
    struct dav_result res;
    struct err e2 = ERR_INIT;
    int rc;

    memset(&req, 0, sizeof(req));
    memset(&res, 0, sizeof(res));
    req.read = dav_mem_read;
    req.rewind = dav_mem_rewind;
    req.ud = &m;
    req.size = (long long)it->len;
    req.content_type = it->content_type;
    req.mtime = it->mtime;
    rc = dav_put(d, it->path, &req, &res, &e2);
    it->via_bulk = 0;
    if (rc < 0)
        return item_fail(it, rc, e2.msg);
    it->rc = 0;
    snprintf(it->etag, sizeof(it->etag), "%s", res.etag);
    snprintf(it->fileid, sizeof(it->fileid), "%s", res.fileid);
    return 0;
}

static void md5_hex(const void *p, size_t n, char hex[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    hex[0] = '\0';
    if (EVP_Digest(p, n, md, &len, EVP_md5(), NULL) != 1 || len != 16)
        return;
    for (unsigned int i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* A header value cannot carry what PHP's trim() would strip. */
static int bulk_path_ok(const char *p, size_t n)
{
    return n > 1 && p[n - 1] != ' ' && p[n - 1] != '\t' && !strpbrk(p, "\r\n");
}

/* Append one part of the multipart body; xpath is its X-File-Path. */
static int bulk_part(struct buf *body, const char *boundary, const char *xpath,
                     const struct dav_bulk_item *it)
{
    char md5[33];
    int rc;

    md5_hex(it->data ? it->data : "", it->len, md5);
    if (!md5[0])
        return ERR_INTERNAL;
    rc = buf_printf(body, "--%s\r\nX-File-Path: %s\r\nX-File-MD5: %s\r\n", boundary, xpath, md5);
    if (rc == 0 && it->mtime > 0)
        rc = buf_printf(body, "X-File-Mtime: %lld\r\n", it->mtime);
    if (rc == 0)
        rc = buf_printf(body, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                        it->content_type ? it->content_type : "application/octet-stream", it->len);
    if (rc == 0 && it->len)
        rc = buf_append(body, it->data, it->len);
    if (rc == 0)
        rc = buf_puts(body, "\r\n");
    return rc < 0 ? ERR_TOO_BIG : 0;
}

/* Nextcloud sends the etag bare; PROPFIND and the headers quote it: quote it too. */
static void copy_etag(char *dst, size_t cap, const char *v)
{
    if (v[0] == '"' || strncmp(v, "W/", 2) == 0)
        snprintf(dst, cap, "%s", v);
    else
        snprintf(dst, cap, "\"%s\"", v);
}

/*
 * One POST of items[idx[0..k)] whose X-File-Paths are xp[0..k). Returns 0
 * (each item's rc set), 1 when the server has no bulk endpoint (nothing
 * written, d->bulk cleared), or a negative code for the whole request.
 */
static int bulk_post(struct dav *d, struct dav_bulk_item *items, const size_t *idx, char **xp,
                     size_t k, struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct buf body, url;
    struct dav_xfer x;
    char boundary[64];
    cJSON *j = NULL;
    int ok = 1, rc = 0;

    memset(&x, 0, sizeof(x));
    buf_init(&body, DAV_BULK_MAX_BYTES + DAV_BULK_FILE_MAX + (size_t)DAV_BULK_MAX_FILES * 1024);
    buf_init(&url, DAV_URL_MAX);
    snprintf(boundary, sizeof(boundary), "odoosync_bulk_%08x%08x", (unsigned)rand_r(&d->seed),
             (unsigned)rand_r(&d->seed));
    for (size_t i = 0; i < k && rc == 0; i++)
        rc = bulk_part(&body, boundary, xp[i], &items[idx[i]]);
    if (rc == 0 && buf_printf(&body, "--%s--\r\n", boundary) < 0)
        rc = ERR_TOO_BIG;
    if (rc < 0) {
        rc = err_set(e, rc, "bulk upload: cannot build the request (%zu files)", k);
        goto out;
    }
    hdrs = dav_add_header(hdrs, &ok, "Content-Type: multipart/related; boundary=%s", boundary);
    hdrs = dav_add_header(hdrs, &ok, "Accept: application/json");
    hdrs = dav_add_header(hdrs, &ok, "Expect:");
    if (!ok || buf_printf(&url, "%s/remote.php/dav/bulk", d->root) < 0) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    dav_xfer_init(&x, d, "POST", "/remote.php/dav/bulk");
    x.body = body.data;
    x.body_len = body.len;
    rc = dav_run(d, &x, url.data, hdrs, e);
    if (rc < 0)
        goto out;
    if (x.status == 404 || x.status == 405 || x.status == 501) {
        log_info(d->o.log, "dav: POST bulk answered %ld: uploading file by file", x.status);
        d->bulk = 0;
        rc = 1;
        goto out;
    }
    if (x.status == 200 || x.status == 400)
        j = cJSON_ParseWithLength(buf_str(&x.resp), x.resp.len);
    if (x.status != 200 && x.status != 400) {
        rc = dav_map_status(d, &x, ERR_CONFLICT, "precondition failed", e);
        if (rc == 0)
            rc = err_set(e, ERR_PROTO, "POST bulk: HTTP %ld instead of 200", x.status);
        goto out;
    }
    if (!cJSON_IsObject(j)) {
        rc =
            err_set(e, ERR_PROTO, "POST bulk: HTTP %ld and no JSON object in the answer", x.status);
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        struct dav_bulk_item *it = &items[idx[i]];
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, xp[i]);
        const cJSON *er = cJSON_GetObjectItemCaseSensitive(r, "error");
        const cJSON *v;

        it->via_bulk = 1;
        if (!cJSON_IsObject(r)) {
            item_fail(it, ERR_PROTO,
                      x.status == 400 ? "the server refused the bulk request (HTTP 400)"
                                      : "the bulk answer does not mention this file");
            continue;
        }
        if (!cJSON_IsFalse(er)) {
            v = cJSON_GetObjectItemCaseSensitive(r, "message");
            item_fail(it, ERR_SERVER,
                      cJSON_IsString(v) ? v->valuestring : "the server could not write it");
            continue;
        }
        it->rc = 0;
        v = cJSON_GetObjectItemCaseSensitive(r, "etag");
        if (cJSON_IsString(v))
            copy_etag(it->etag, sizeof(it->etag), v->valuestring);
        v = cJSON_GetObjectItemCaseSensitive(r, "fileid");
        if (cJSON_IsString(v))
            snprintf(it->fileid, sizeof(it->fileid), "%s", v->valuestring);
        else if (cJSON_IsNumber(v))
            snprintf(it->fileid, sizeof(it->fileid), "%.0f", v->valuedouble);
    }
out:
    cJSON_Delete(j);
    dav_xfer_release(&x);
    curl_slist_free_all(hdrs);
    buf_release(&body);
    buf_release(&url);
    return rc;
}

int dav_bulk_upload(struct dav *d, struct dav_bulk_item *items, size_t n, struct err *e)
{
    size_t idx[DAV_BULK_MAX_FILES];
    char *xp[DAV_BULK_MAX_FILES];
    struct buf pre, norm;
    size_t i = 0, k = 0, bytes = 0;
    int rc = 0, first = 0;

    buf_init(&pre, DAV_URL_MAX);
    buf_init(&norm, DAV_URL_MAX);
    for (size_t t = 0; t < n; t++)
        item_reset(&items[t]);
    if (bulk_probe(d) > 0 && bulk_prefix(d, &pre) < 0)
        d->bulk = 0;
    while (i < n || k > 0) {
        /* gather the next request's files */
        while (i < n && k < DAV_BULK_MAX_FILES && d->bulk > 0) {
            struct dav_bulk_item *it = &items[i];
            struct err e2 = ERR_INIT;

            if (it->len > DAV_BULK_FILE_MAX)
                break;
            if (k > 0 && bytes + it->len > DAV_BULK_MAX_BYTES)
                break;
            if (dav_path_normalize(it->path, &norm, &e2) < 0) {
                item_fail(it, e2.code, e2.msg);
                i++;
                continue;
            }
            if (!bulk_path_ok(norm.data, norm.len) ||
                (it->content_type && !dav_header_safe(it->content_type)))
                break; /* this one goes by PUT */
            xp[k] = malloc(pre.len + norm.len + 1);
            if (!xp[k]) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            memcpy(xp[k], pre.data ? pre.data : "", pre.len);
            memcpy(xp[k] + pre.len, norm.data, norm.len + 1);
            idx[k++] = i++;
            bytes += it->len;
        }
        if (k > 0) {
            struct err e2 = ERR_INIT;
            int r = bulk_post(d, items, idx, xp, k, &e2);

            if (r == 1) {
                i = idx[0]; /* no bulk endpoint: these go by PUT below */
            } else if (r < 0) {
                /* the whole request failed: this batch and the rest carry the code */
                for (size_t t = idx[0]; t < n; t++)
                    if (items[t].rc == 0)
                        item_fail(&items[t], r, e2.msg);
                rc = r;
                if (e)
                    *e = e2;
            }
            for (size_t t = 0; t < k; t++)
                free(xp[t]);
            k = bytes = 0;
            if (rc < 0)
                goto out;
            continue;
        }
        if (i < n) {
            if (items[i].rc == 0)
                bulk_put_one(d, &items[i]);
            if (items[i].rc == ERR_AUTH || items[i].rc == ERR_RETRY) {
                /* the server is refusing or away: do not hammer it with the rest */
                for (size_t t = i + 1; t < n; t++)
                    item_fail(&items[t], items[i].rc, items[i].message);
                rc = items[i].rc;
                if (e)
                    err_set(e, rc, "%s", items[i].message);
                goto out;
            }
            i++;
        }
    }
    for (size_t t = 0; t < n; t++) {
        if (items[t].rc < 0 && !first) {
            first = 1;
            err_set(e, items[t].rc, "\"%.300s\": %s", items[t].path ? items[t].path : "",
                    items[t].message);
        }
    }
out:
    for (size_t t = 0; t < k; t++)
        free(xp[t]);
    buf_release(&pre);
    buf_release(&norm);
    return rc;
}
