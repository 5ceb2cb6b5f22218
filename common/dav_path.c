/*
 * dav_path: API paths <-> URL paths for the WebDAV client (see dav.h).
 *
 * An API path is what a user sees: decoded bytes (UTF-8), segments joined
 * by '/', a leading '/', no trailing '/', no empty, "." or ".." segment.
 * On the wire each byte that is not an RFC 3986 unreserved character is
 * %XX-encoded, segment by segment, so a name may hold '#', '?', '%', ' ',
 * quotes or any UTF-8 and still round-trip. Hrefs coming back from a
 * server are decoded whole (servers differ in what they encode) and then
 * compared with the decoded base path.
 */
#include "dav.h"
#include "dav_int.h"

#include <string.h>

#include "banned.h"

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int dav_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int dav_path_normalize(const char *path, struct buf *out, struct err *e)
{
    const char *p = path;

    buf_reset(out);
    if (!path)
        return err_set(e, ERR_INVALID, "path is NULL");
    while (*p) {
        const char *s;
        size_t n;

        while (*p == '/')
            p++;
        if (!*p)
            break;
        s = p;
        while (*p && *p != '/')
            p++;
        n = (size_t)(p - s);
        if (n == 1 && s[0] == '.')
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return err_set(e, ERR_INVALID, "path \"%s\" has a \"..\" segment", path);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];

            if (c < 0x20 || c == 0x7f)
                return err_set(e, ERR_INVALID, "path \"%s\" has a control character", path);
        }
        if (buf_append(out, "/", 1) < 0 || buf_append(out, s, n) < 0)
            return err_set(e, ERR_TOO_BIG, "path \"%.64s...\" is too long", path);
    }
    if (out->len == 0 && buf_append(out, "/", 1) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

int dav_path_encode(const char *path, struct buf *out, struct err *e)
{
    static const char hex[] = "0123456789ABCDEF";
    struct buf norm;
    int rc;

    buf_init(&norm, out->max);
    rc = dav_path_normalize(path, &norm, e);
    if (rc < 0)
        goto out;
    buf_reset(out);
    for (size_t i = 0; i < norm.len; i++) {
        unsigned char c = (unsigned char)norm.data[i];
        char enc[3];

        if (c == '/' || is_unreserved(c)) {
            rc = buf_append(out, &norm.data[i], 1);
        } else {
            enc[0] = '%';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 15];
            rc = buf_append(out, enc, 3);
        }
        if (rc < 0) {
            rc = err_set(e, ERR_TOO_BIG, "encoded path is too long");
            goto out;
        }
    }
    rc = 0;
out:
    buf_release(&norm);
    return rc;
}

/* Percent-decode s[0..n) into out. A '%' not followed by two hex digits stays literal. */
static int pct_decode(const char *s, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int rc;

        if (c == '%' && i + 2 < n && dav_hexval(s[i + 1]) >= 0 && dav_hexval(s[i + 2]) >= 0) {
            c = (char)(dav_hexval(s[i + 1]) * 16 + dav_hexval(s[i + 2]));
            if (c == '\0')
                return ERR_PROTO;
            i += 2;
        }
        rc = buf_append(out, &c, 1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int dav_href_decode(const char *href, const char *base_path, struct buf *out, struct err *e)
{
    struct buf dh, db;
    const char *p = href, *q, *rest;
    size_t blen;
    int rc;

    buf_init(&dh, out->max);
    buf_init(&db, out->max);
    if (!href || !base_path) {
        rc = err_set(e, ERR_PROTO, "empty href");
        goto out;
    }
    q = strstr(href, "://");
    if (q && (size_t)(q - href) < 16) {
        p = strchr(q + 3, '/');
        if (!p)
            p = "/";
    }
    if (pct_decode(p, strlen(p), &dh) < 0 || pct_decode(base_path, strlen(base_path), &db) < 0) {
        rc = err_set(e, ERR_PROTO, "bad href \"%.200s\"", href);
        goto out;
    }
    blen = db.len;
    while (blen && db.data[blen - 1] == '/')
        blen--;
    if (dh.len < blen || memcmp(dh.data, db.data, blen) != 0 ||
        (dh.len > blen && dh.data[blen] != '/')) {
        rc = err_set(e, ERR_PROTO, "href \"%.200s\" is not under the base path \"%.200s\"", href,
                     base_path);
        goto out;
    }
    rest = dh.data ? dh.data + blen : "";
    rc = dav_path_normalize(rest, out, e);
    if (rc < 0) {
        if (e)
            e->code = ERR_PROTO;
        err_prefix(e, "bad href \"%.200s\"", href);
        rc = ERR_PROTO;
    }
out:
    buf_release(&dh);
    buf_release(&db);
    return rc;
}
