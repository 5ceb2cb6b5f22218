/*
 * dav_props: PROPFIND, stat and PROPPATCH, the requests about properties.
 *
 * dav_propfind_ex() streams: it starts the transfer like dav_run() would
 * but stops at the response's first body byte, then hands the multistatus
 * parser (dav_xml.c) a pull function that drives the transfer itself
 * (dav_xfer_pump) whenever the buffer is empty, so memory stays flat
 * however long the listing. It is retried only while no entry has been
 * delivered; an entry whose name holds a control character is left out,
 * logged, counted and told to the caller. While the parser runs the handle
 * is busy: a callback may not start another request on it.
 *
 * dav_stat() is a Depth: 0 PROPFIND keeping the first entry (owned copies,
 * freed by dav_stat_release()). dav_proppatch() sets or removes one dead
 * property in our namespace (the tags that name an attachment, a record or
 * a type): the name must be an XML name, the value is escaped, and every
 * propstat of the 207 answer must be 2xx.
 */
#include "dav.h"
#include "dav_int.h"
#include "log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* --- PROPFIND ---------------------------------------------------------------- */

struct pull_ctx {
    struct dav *d;
    struct dav_xfer *x;
    struct err *e;
};

static int net_pull(void *ctx, char *b, int len)
{
    struct pull_ctx *pc = ctx;
    struct dav_xfer *x = pc->x;
    size_t n;

    while (x->sbuf.len == x->spos && !x->done)
        dav_xfer_pump(pc->d, x);
    n = x->sbuf.len - x->spos;
    if (n == 0) {
        if (x->result != CURLE_OK || x->too_big) {
            dav_xfer_result(pc->d, x, pc->e);
            return -1;
        }
        return 0;
    }
    if (n > (size_t)len)
        n = (size_t)len;
    memcpy(b, x->sbuf.data + x->spos, n);
    x->spos += n;
    return (int)n;
}

struct left_out_ctx {
    struct dav *d;
    dav_left_out_fn fn;
    void *ud;
};

/* A listed entry whose name holds a control character: left out, said, counted, told. */
static void on_skip(const struct dav_left_out *lo, void *ud)
{
    struct left_out_ctx *lc = ud;

    lc->d->stats.skipped++;
    log_warn(lc->d->o.log,
             "dav: \"%.500s\" left out of the listing: its name holds a control "
             "character (rename it in the cloud to sync it)",
             lo->shown);
    if (lc->fn)
        lc->fn(lo, lc->ud);
}

static int propfind(struct dav *d, const char *path, int depth, const char *body, dav_entry_fn cb,
                    void *ud, dav_left_out_fn left_out, void *left_out_ud, struct err *e);

int dav_propfind(struct dav *d, const char *path, int depth, dav_entry_fn cb, void *ud,
                 struct err *e)
{
    return propfind(d, path, depth, dav_propfind_body, cb, ud, NULL, NULL, e);
}

int dav_propfind_ex(struct dav *d, const char *path, int depth, dav_entry_fn cb, void *ud,
                    dav_left_out_fn left_out, void *left_out_ud, struct err *e)
{
    return propfind(d, path, depth, dav_propfind_body, cb, ud, left_out, left_out_ud, e);
}

int dav_list_names(struct dav *d, const char *path, dav_entry_fn cb, void *ud, struct err *e)
{
    static const char names[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                                "<d:propfind xmlns:d=\"DAV:\">\n"
                                "<d:prop><d:resourcetype/></d:prop>\n"
                                "</d:propfind>\n";

    return propfind(d, path, 1, names, cb, ud, NULL, NULL, e);
}

static int propfind(struct dav *d, const char *path, int depth, const char *body, dav_entry_fn cb,
                    void *ud, dav_left_out_fn left_out, void *left_out_ud, struct err *e)
{
    struct left_out_ctx lc = {d, left_out, left_out_ud};
    struct dav_xfer x;
    struct buf url;
    struct curl_slist *hdrs = NULL;
    long long waited = 0;
    int rc, ok = 1;

    dav_xfer_init(&x, d, "PROPFIND", path);
    buf_init(&url, DAV_URL_MAX);
    if (d->busy) {
        rc = err_set(e, ERR_INTERNAL, "PROPFIND \"%.300s\": the handle is busy with a listing",
                     path);
        goto out;
    }
    rc = dav_path_to_url(d, path, &url, e);
    if (rc < 0)
        goto out;
    hdrs = dav_add_header(hdrs, &ok, "Depth: %s",
                          depth == DAV_DEPTH_INFINITY ? "infinity" : (depth == 0 ? "0" : "1"));
    hdrs = dav_add_header(hdrs, &ok, "Content-Type: application/xml; charset=utf-8");
    hdrs = dav_add_header(hdrs, &ok, "Expect:");
    if (!ok) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    x.body = body;
    x.body_len = strlen(body);
    x.streaming = 1;
    for (int attempt = 0;; attempt++) {
        struct pull_ctx pc = {d, &x, e};
        long delivered = 0;

        dav_xfer_reset_attempt(&x);
        rc = dav_xfer_setup(d, &x, url.data, hdrs);
        if (rc == 0)
            rc = dav_xfer_start(d, &x);
        if (rc < 0) {
            rc = err_set(e, rc, "PROPFIND \"%.300s\": cannot set up the request", path);
            goto out;
        }
        if (x.done) {
            rc = dav_xfer_result(d, &x, e);
        } else {
            rc = 0;
            curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &x.status);
        }
        if (rc == 0 && x.status == 207) {
            d->busy = 1;
            rc = dav_multistatus_parse_pull_skip(net_pull, &pc, d->base_path, cb, ud, on_skip, &lc,
                                                 &delivered, e);
            d->busy = 0;
            if (rc < 0) {
                dav_xfer_stop(d);
                if (rc == ERR_RETRY && delivered == 0 && dav_should_retry(d, &x, attempt, &waited))
                    continue;
                if (x.stopped) {
                    rc = err_set(e, ERR_STOPPED, "PROPFIND \"%.300s\": stopped (a stop was asked)",
                                 path);
                    goto out;
                }
                /* transport failures already name the request */
                if (rc != ERR_RETRY && rc != ERR_TOO_BIG)
                    err_prefix(e, "PROPFIND \"%.300s\"", path);
                goto out;
            }
            x.streaming = 0; /* whatever follows the root element goes to resp */
            dav_xfer_finish(d, &x);
            goto out;
        }
        if (rc == 0)
            dav_xfer_finish(d, &x);
        else
            dav_xfer_stop(d);
        if (rc == ERR_RETRY || (rc == 0 && dav_is_retry_status(x.status))) {
            if (dav_should_retry(d, &x, attempt, &waited))
                continue;
            if (x.stopped) {
                rc = err_set(e, ERR_STOPPED, "PROPFIND \"%.300s\": stopped (a stop was asked)",
                             path);
                goto out;
            }
        }
        if (rc == 0) {
            if (x.status >= 200 && x.status <= 299)
                rc = err_set(e, ERR_PROTO,
                             "PROPFIND \"%.300s\": HTTP %ld instead of 207 Multi-Status (is "
                             "this a WebDAV url?)",
                             path, x.status);
            else
                rc = dav_map_status(d, &x, ERR_CONFLICT, "precondition failed", e);
        }
        goto out;
    }
out:
    curl_slist_free_all(hdrs);
    buf_release(&url);
    dav_xfer_release(&x);
    return rc;
}

static char *dup_opt(const char *s, int *ok)
{
    char *r;

    if (!s)
        return NULL;
    r = strdup(s);
    if (!r)
        *ok = 0;
    return r;
}

struct stat_ctx {
    struct dav_stat *st;
    int found;
};

static int stat_cb(const struct dav_entry *ent, void *ud)
{
    struct stat_ctx *sc = ud;
    struct dav_stat *st = sc->st;
    int ok = 1;

    if (sc->found)
        return 0;
    sc->found = 1;
    st->is_dir = ent->is_dir;
    st->size = ent->size;
    st->mtime = ent->mtime;
    st->etag = dup_opt(ent->etag, &ok);
    st->content_type = dup_opt(ent->content_type, &ok);
    st->fileid = dup_opt(ent->fileid, &ok);
    st->checksum = dup_opt(ent->checksum, &ok);
    st->permissions = dup_opt(ent->permissions, &ok);
    st->attachment_tag = dup_opt(ent->attachment_tag, &ok);
    st->record_tag = dup_opt(ent->record_tag, &ok);
    st->type_tag = dup_opt(ent->type_tag, &ok);
    st->document_tag = dup_opt(ent->document_tag, &ok);
    st->synced_tag = dup_opt(ent->synced_tag, &ok);
    return ok ? 0 : ERR_NOMEM;
}

void dav_stat_release(struct dav_stat *st)
{
    if (!st)
        return;
    free(st->etag);
    free(st->content_type);
    free(st->fileid);
    free(st->checksum);
    free(st->permissions);
    free(st->attachment_tag);
    free(st->record_tag);
    free(st->type_tag);
    free(st->document_tag);
    free(st->synced_tag);
    memset(st, 0, sizeof(*st));
}

int dav_stat(struct dav *d, const char *path, struct dav_stat *out, struct err *e)
{
    struct stat_ctx sc = {out, 0};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = dav_propfind(d, path, 0, stat_cb, &sc, e);
    if (rc == 0 && !sc.found)
        rc = err_set(e, ERR_PROTO, "PROPFIND \"%.300s\": the answer lists nothing", path);
    if (rc < 0) {
        if (rc == ERR_NOMEM)
            err_set(e, rc, "out of memory");
        dav_stat_release(out);
    }
    return rc;
}

static int is_ncname(const char *s)
{
    if (!s || !*s)
        return 0;
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static int xml_escape(const char *v, struct buf *b)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        int rc;

        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return ERR_INVALID;
        switch (*p) {
        case '&':
            rc = buf_puts(b, "&amp;");
            break;
        case '<':
            rc = buf_puts(b, "&lt;");
            break;
        case '>':
            rc = buf_puts(b, "&gt;");
            break;
        case '"':
            rc = buf_puts(b, "&quot;");
            break;
        case '\r':
            rc = buf_puts(b, "&#13;");
            break;
        default:
            rc = buf_append(b, p, 1);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int dav_tag_body(struct buf *body, int mkcol, const char *name, const char *value, struct err *e)
{
    int rc;

    if (!is_ncname(name))
        return err_set(e, ERR_INVALID, "property name \"%.100s\" is not an XML name",
                       name ? name : "");
    if (mkcol && !value)
        return err_set(e, ERR_INVALID, "a MKCOL sets a property, it removes none");
    buf_printf(body,
               "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:%s xmlns:d=\"DAV:\" "
               "xmlns:o=\"" DAV_NS_ODOOSYNC "\">",
               mkcol ? "mkcol" : "propertyupdate");
    if (value) {
        buf_printf(body, "<d:set><d:prop>%s<o:%s>",
                   mkcol ? "<d:resourcetype><d:collection/></d:resourcetype>" : "", name);
        rc = xml_escape(value, body);
        if (rc < 0)
            return err_set(e, rc == ERR_INVALID ? ERR_INVALID : ERR_TOO_BIG,
                           "property \"%s\": value has control characters or is too long", name);
        buf_printf(body, "</o:%s></d:prop></d:set>", name);
    } else {
        buf_printf(body, "<d:remove><d:prop><o:%s/></d:prop></d:remove>", name);
    }
    if (buf_printf(body, "</d:%s>\n", mkcol ? "mkcol" : "propertyupdate") < 0)
        return err_set(e, ERR_TOO_BIG, "property \"%s\": value too long", name);
    return 0;
}

int dav_proppatch(struct dav *d, const char *path, const char *name, const char *value,
                  struct err *e)
{
    struct curl_slist *hdrs = NULL;
    struct buf body;
    struct dav_xfer x;
    int ok = 1, rc;
    const char *s;

    memset(&x, 0, sizeof(x));
    buf_init(&body, 64 * 1024);
    rc = dav_tag_body(&body, 0, name, value, e);
    if (rc < 0)
        goto out;
    hdrs = dav_add_header(hdrs, &ok, "Content-Type: application/xml; charset=utf-8");
    hdrs = dav_add_header(hdrs, &ok, "Expect:");
    if (!ok) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = dav_simple(d, "PROPPATCH", path, hdrs, body.data, &x, ERR_CONFLICT, "precondition failed",
                    e);
    if (rc < 0)
        goto out;
    if (x.status != 207) {
        rc = err_set(e, ERR_PROTO, "PROPPATCH \"%.300s\": HTTP %ld instead of 207", path, x.status);
        goto out;
    }
    /* every propstat status must be 2xx */
    for (s = buf_str(&x.resp); (s = strstr(s, "HTTP/1.")) != NULL; s += 7) {
        long st = strtol(s + 8, NULL, 10);

        if (st < 200 || st > 299) {
            rc = err_set(e, st == 403 ? ERR_ACCESS : ERR_SERVER,
                         "PROPPATCH \"%.300s\" {%s}%s: the server refused it (%ld)", path,
                         DAV_NS_ODOOSYNC, name, st);
            goto out;
        }
    }
out:
    dav_xfer_release(&x);
    buf_release(&body);
    curl_slist_free_all(hdrs);
    return rc;
}
