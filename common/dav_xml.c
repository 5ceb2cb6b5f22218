/*
 * dav_xml: the streaming multistatus parser (RFC 4918 section 14.16).
 *
 * libxml2's xmlTextReader pulls the body through a callback, node by node,
 * and frees each subtree once passed, so memory stays flat whatever the
 * number of <response> elements. For each response we keep the href and
 * the properties of the propstat being read; a propstat's properties are
 * kept only when its <status> says 2xx (a 404 propstat lists what the
 * server does not have). At </response> the entry goes to the callback.
 *
 * Safety: the input may come from any server. No DTD is accepted at all
 * (a "<!DOCTYPE" or "<!ENTITY" in the stream is refused before libxml2
 * sees it, which rules out entity expansion bombs and external entities);
 * the reader runs with XML_PARSE_NONET and without XML_PARSE_NOENT /
 * DTDLOAD; each captured text is capped (DAV_XML_FIELD_MAX); libxml2's
 * own messages go to our err, never to stderr. A body that is not a
 * well-formed DAV:multistatus is ERR_PROTO with the reason.
 */
#include "dav_int.h"

#include <curl/curl.h>
#include <libxml/xmlreader.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define NS_DAV "DAV:"
#define NS_OC "http://owncloud.org/ns"
#define DAV_XML_FIELD_MAX (64 * 1024)
#define DAV_XML_HREF_MAX (16 * 1024)

const char dav_propfind_body[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<d:propfind xmlns:d=\"DAV:\" xmlns:oc=\"http://owncloud.org/ns\" "
    "xmlns:o=\"" DAV_NS_ODOOSYNC "\">\n"
    "<d:prop><d:resourcetype/><d:getetag/><d:getlastmodified/><d:getcontentlength/>"
    "<d:getcontenttype/><oc:fileid/><oc:checksums/><oc:permissions/><oc:size/>"
    "<o:attachment/><o:record/><o:type/><o:document/><o:synced/></d:prop>\n"
    "</d:propfind>\n";

enum prop {
    P_NONE = -1,
    P_RESOURCETYPE = 0,
    P_ETAG,
    P_LENGTH,
    P_MTIME,
    P_CTYPE,
    P_FILEID,
    P_CHECKSUMS,
    P_PERMS,
    P_OCSIZE,
    P_ATT,
    P_REC,
    P_TYPE,
    P_DOC,
    P_SYNCED,
    P_COUNT
};

struct propset {
    struct buf v[P_COUNT];
    unsigned char has[P_COUNT];
    int is_dir;
};

struct ms {
    const char *base_path;
    dav_entry_fn cb;
    void *ud;
    dav_skip_fn skip;
    void *skip_ud;
    long delivered;
    struct err *e;
    /* the pull source, filtered for DTDs */
    dav_pull_fn pull;
    void *pctx;
    char tail[8]; /* last bytes seen, to find "<!DOCTYPE" across reads */
    size_t tail_len;
    int refused; /* a DTD was seen */
    char xml_err[256];
    /* per response */
    int in_response, in_propstat, in_prop;
    enum prop cur;
    struct buf href, status, rstatus, path;
    struct buf *capture; /* where text goes, NULL = nowhere */
    int capture_depth;
    struct propset pending, kept;
};

static void propset_init(struct propset *ps)
{
    for (int i = 0; i < P_COUNT; i++) {
        buf_init(&ps->v[i], DAV_XML_FIELD_MAX);
        ps->has[i] = 0;
    }
    ps->is_dir = 0;
}

static void propset_reset(struct propset *ps)
{
    for (int i = 0; i < P_COUNT; i++) {
        buf_reset(&ps->v[i]);
        ps->has[i] = 0;
    }
    ps->is_dir = 0;
}

static void propset_release(struct propset *ps)
{
    for (int i = 0; i < P_COUNT; i++)
        buf_release(&ps->v[i]);
}

/* Which property an element of <prop> is. */
static enum prop prop_of(const char *ns, const char *name)
{
    if (!ns || !name)
        return P_NONE;
    if (strcmp(ns, NS_DAV) == 0) {
        if (strcmp(name, "resourcetype") == 0)
            return P_RESOURCETYPE;
        if (strcmp(name, "getetag") == 0)
            return P_ETAG;
        if (strcmp(name, "getcontentlength") == 0)
            return P_LENGTH;
        if (strcmp(name, "getlastmodified") == 0)
            return P_MTIME;
        if (strcmp(name, "getcontenttype") == 0)
            return P_CTYPE;
    } else if (strcmp(ns, NS_OC) == 0) {
        if (strcmp(name, "fileid") == 0)
            return P_FILEID;
        if (strcmp(name, "checksums") == 0)
            return P_CHECKSUMS;
        if (strcmp(name, "permissions") == 0)
            return P_PERMS;
        if (strcmp(name, "size") == 0)
            return P_OCSIZE;
    } else if (strcmp(ns, DAV_NS_ODOOSYNC) == 0) {
        if (strcmp(name, "attachment") == 0)
            return P_ATT;
        if (strcmp(name, "record") == 0)
            return P_REC;
        if (strcmp(name, "type") == 0)
            return P_TYPE;
        if (strcmp(name, "document") == 0)
            return P_DOC;
        if (strcmp(name, "synced") == 0)
            return P_SYNCED;
    }
    return P_NONE;
}

/* "HTTP/1.1 200 OK" -> 200; 0 when unreadable. */
static int status_code(const char *s)
{
    const char *sp = strchr(s, ' ');
    long v;
    char *end;

    if (!sp)
        return 0;
    v = strtol(sp + 1, &end, 10);
    if (end == sp + 1 || v < 100 || v > 999)
        return 0;
    return (int)v;
}

static long long parse_ll(const struct buf *b)
{
    char *end;
    long long v;
    const char *s = buf_str(b);

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (!*s)
        return -1;
    v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    return v;
}

/* Trim XML whitespace around a captured value, in place. */
static const char *trimmed(struct buf *b)
{
    size_t s = 0, n = b->len;

    if (!b->data)
        return "";
    while (n && (b->data[n - 1] == ' ' || b->data[n - 1] == '\n' || b->data[n - 1] == '\r' ||
                 b->data[n - 1] == '\t'))
        n--;
    b->data[n] = '\0';
    b->len = n;
    while (s < n &&
           (b->data[s] == ' ' || b->data[s] == '\n' || b->data[s] == '\r' || b->data[s] == '\t'))
        s++;
    return b->data + s;
}

static const char *opt(struct propset *ps, enum prop p)
{
    return ps->has[p] ? trimmed(&ps->v[p]) : NULL;
}

/*
 * 1 when href decodes to a name with a control character (none of our paths
 * holds one: dav_path_normalize refuses them), with the decoded href escaped
 * into shown (for the warning), *cut the length of the href up to the last '/'
 * before the first such character (-1: none), *below 1 when a segment follows
 * the one holding it (that one is a folder above the entry); 0 otherwise;
 * ERR_NOMEM.
 */
static int href_has_ctrl(const char *href, struct buf *shown, long *cut, int *below)
{
    int ctrl = 0, slash_after = 0;
    long last_slash = -1;

    buf_reset(shown);
    *cut = -1;
    *below = 0;
    for (size_t i = 0; href[i]; i++) {
        unsigned char c = (unsigned char)href[i];
        char tmp[8];
        int rc;

        if (c == '/') {
            if (ctrl)
                slash_after = 1;
            else
                last_slash = (long)i;
        } else if (slash_after) {
            *below = 1;
        }
        if (c == '%' && dav_hexval(href[i + 1]) >= 0 && dav_hexval(href[i + 2]) >= 0) {
            c = (unsigned char)(dav_hexval(href[i + 1]) * 16 + dav_hexval(href[i + 2]));
            i += 2;
        }
        if (c == 0)
            return 0; /* %00: a bad href (dav_href_decode says so), not a name */
        if (c < 0x20 || c == 0x7f) {
            if (!ctrl)
                *cut = last_slash >= 0 ? last_slash + 1 : -1;
            ctrl = 1;
            if (c == '\t' || c == '\n' || c == '\r')
                snprintf(tmp, sizeof(tmp), "\\%c", c == '\t' ? 't' : c == '\n' ? 'n' : 'r');
            else
                snprintf(tmp, sizeof(tmp), "\\x%02x", c);
        } else if (c == '\\') {
            snprintf(tmp, sizeof(tmp), "\\\\");
        } else {
            tmp[0] = (char)c;
            tmp[1] = '\0';
        }
        rc = buf_puts(shown, tmp);
        if (rc < 0)
            return rc;
    }
    return ctrl;
}

static int emit(struct ms *m)
{
    struct dav_entry ent;
    struct propset *k = &m->kept;
    long cut;
    int rc, rs, below;

    if (m->href.len == 0)
        return err_set(m->e, ERR_PROTO, "bad multistatus: a <response> has no <href>");
    rs = m->rstatus.len ? status_code(trimmed(&m->rstatus)) : 200;
    if (rs < 200 || rs > 299)
        return 0; /* a response-level error status: no resource to report */
    rc = href_has_ctrl(trimmed(&m->href), &m->path, &cut, &below);
    if (rc != 0) {
        if (rc < 0)
            return err_set(m->e, ERR_NOMEM, "out of memory");
        /* a name no path of ours can hold: left out, reported, the rest goes on */
        if (m->skip) {
            struct dav_left_out lo;
            struct buf raw, folder;
            struct err e2 = ERR_INIT;

            buf_init(&raw, DAV_XML_HREF_MAX);
            buf_init(&folder, DAV_XML_HREF_MAX);
            memset(&lo, 0, sizeof(lo));
            lo.shown = buf_str(&m->path);
            lo.is_dir = k->is_dir;
            lo.below = below;
            /* the folder holding it: the href up to the bad segment, decoded */
            if (cut > 0 && buf_append(&raw, trimmed(&m->href), (size_t)cut) == 0 &&
                dav_href_decode(buf_str(&raw), m->base_path, &folder, &e2) == 0)
                lo.folder = buf_str(&folder);
            m->skip(&lo, m->skip_ud);
            buf_release(&raw);
            buf_release(&folder);
        }
        return 0;
    }
    rc = dav_href_decode(trimmed(&m->href), m->base_path, &m->path, m->e);
    if (rc < 0)
        return rc;
    memset(&ent, 0, sizeof(ent));
    ent.path = buf_str(&m->path);
    ent.is_dir = k->is_dir;
    ent.etag = opt(k, P_ETAG);
    ent.size = k->has[P_LENGTH] ? parse_ll(&k->v[P_LENGTH]) : -1;
    if (ent.size < 0 && k->has[P_OCSIZE])
        ent.size = parse_ll(&k->v[P_OCSIZE]);
    ent.mtime = -1;
    if (k->has[P_MTIME]) {
        time_t t = curl_getdate(trimmed(&k->v[P_MTIME]), NULL);

        ent.mtime = t == (time_t)-1 ? -1 : (long long)t;
    }
    ent.content_type = opt(k, P_CTYPE);
    ent.fileid = opt(k, P_FILEID);
    ent.checksum = opt(k, P_CHECKSUMS);
    ent.permissions = opt(k, P_PERMS);
    ent.attachment_tag = opt(k, P_ATT);
    ent.record_tag = opt(k, P_REC);
    ent.type_tag = opt(k, P_TYPE);
    ent.document_tag = opt(k, P_DOC);
    ent.synced_tag = opt(k, P_SYNCED);
    rc = m->cb ? m->cb(&ent, m->ud) : 0;
    if (rc < 0) {
        if (m->e && m->e->code != rc)
            err_set(m->e, rc, "listing stopped by its consumer at \"%.200s\"", ent.path);
        return rc;
    }
    m->delivered++;
    return 0;
}

/* Keep the properties of the propstat just closed when its status is 2xx. */
static void commit_propstat(struct ms *m)
{
    int st = status_code(trimmed(&m->status));

    if (st >= 200 && st <= 299) {
        for (int i = 0; i < P_COUNT; i++) {
            if (!m->pending.has[i])
                continue;
            buf_reset(&m->kept.v[i]);
            if (m->pending.v[i].len)
                buf_append(&m->kept.v[i], m->pending.v[i].data, m->pending.v[i].len);
            m->kept.has[i] = 1;
        }
        if (m->pending.has[P_RESOURCETYPE])
            m->kept.is_dir = m->pending.is_dir;
    }
    propset_reset(&m->pending);
    buf_reset(&m->status);
}

static void start_capture(struct ms *m, struct buf *b, int depth)
{
    buf_reset(b);
    m->capture = b;
    m->capture_depth = depth;
}

static int on_start(struct ms *m, const char *ns, const char *name, int depth)
{
    int dav = ns && strcmp(ns, NS_DAV) == 0;

    if (depth == 0) {
        if (!dav || strcmp(name, "multistatus") != 0)
            return err_set(m->e, ERR_PROTO,
                           "not a WebDAV multistatus: the root element is <%.64s> in \"%.64s\"",
                           name, ns ? ns : "no namespace");
        return 0;
    }
    if (depth == 1) {
        if (dav && strcmp(name, "response") == 0) {
            m->in_response = 1;
            buf_reset(&m->href);
            buf_reset(&m->rstatus);
            propset_reset(&m->kept);
            propset_reset(&m->pending);
        }
        return 0;
    }
    if (!m->in_response)
        return 0;
    if (depth == 2) {
        if (dav && strcmp(name, "href") == 0)
            start_capture(m, &m->href, depth);
        else if (dav && strcmp(name, "status") == 0)
            start_capture(m, &m->rstatus, depth);
        else if (dav && strcmp(name, "propstat") == 0) {
            m->in_propstat = 1;
            propset_reset(&m->pending);
            buf_reset(&m->status);
        }
        return 0;
    }
    if (!m->in_propstat)
        return 0;
    if (depth == 3) {
        if (dav && strcmp(name, "prop") == 0)
            m->in_prop = 1;
        else if (dav && strcmp(name, "status") == 0)
            start_capture(m, &m->status, depth);
        return 0;
    }
    if (!m->in_prop)
        return 0;
    if (depth == 4) {
        m->cur = prop_of(ns, name);
        if (m->cur != P_NONE) {
            m->pending.has[m->cur] = 1;
            if (m->cur != P_RESOURCETYPE)
                start_capture(m, &m->pending.v[m->cur], depth);
        }
        return 0;
    }
    if (m->cur == P_RESOURCETYPE && depth == 5 && dav && strcmp(name, "collection") == 0)
        m->pending.is_dir = 1;
    /* oc:checksums/oc:checksum: several values, space-separated */
    if (m->cur == P_CHECKSUMS && m->capture && m->capture->len)
        buf_append(m->capture, " ", 1);
    return 0;
}

static int on_end(struct ms *m, int depth)
{
    if (m->capture && depth == m->capture_depth)
        m->capture = NULL;
    if (depth == 4 && m->in_prop)
        m->cur = P_NONE;
    else if (depth == 3 && m->in_prop && !m->capture)
        m->in_prop = 0; /* </prop> (or </status>, harmless) */
    else if (depth == 2 && m->in_propstat) {
        m->in_propstat = 0;
        m->in_prop = 0;
        commit_propstat(m);
    } else if (depth == 1 && m->in_response) {
        m->in_response = 0;
        return emit(m);
    }
    return 0;
}

/* libxml2 pulls through here: refuse any DTD before the parser sees it. */
static int is_dtd_start(const char *p)
{
    return p[0] == '<' && p[1] == '!' && (p[2] == 'D' || p[2] == 'E');
}

static int filtered_read(void *ctx, char *b, int len)
{
    struct ms *m = ctx;
    char win[4];
    size_t wl;
    int n;

    if (m->refused)
        return -1;
    n = m->pull(m->pctx, b, len);
    if (n <= 0)
        return n;
    /* sequences across the previous read and this one */
    memcpy(win, m->tail, m->tail_len);
    wl = m->tail_len;
    for (int i = 0; i < n && wl < sizeof(win); i++)
        win[wl++] = b[i];
    for (size_t i = 0; i + 3 <= wl; i++)
        if (is_dtd_start(win + i))
            m->refused = 1;
    for (int i = 0; i + 3 <= n; i++)
        if (is_dtd_start(b + i))
            m->refused = 1;
    m->tail_len = n >= 2 ? 2 : (size_t)n;
    if (n == 1 && m->tail_len == 1 && wl >= 2) {
        /* keep the last two bytes of the stream, not just this one */
        m->tail[0] = win[wl - 2];
        m->tail[1] = win[wl - 1];
        m->tail_len = 2;
    } else {
        memcpy(m->tail, b + n - (int)m->tail_len, m->tail_len);
    }
    if (m->refused)
        return -1;
    return n;
}

static int no_close(void *ctx)
{
    (void)ctx;
    return 0;
}

static void on_xml_error(void *arg, xmlErrorPtr err)
{
    struct ms *m = arg;
    size_t n;

    if (!err || m->xml_err[0] || err->level < XML_ERR_ERROR)
        return;
    snprintf(m->xml_err, sizeof(m->xml_err), "line %d: %s", err->line,
             err->message ? err->message : "error");
    n = strlen(m->xml_err);
    while (n && m->xml_err[n - 1] == '\n')
        m->xml_err[--n] = '\0';
}

int dav_multistatus_parse_pull(dav_pull_fn pull, void *ctx, const char *base_path, dav_entry_fn cb,
                               void *ud, long *delivered, struct err *e)
{
    return dav_multistatus_parse_pull_skip(pull, ctx, base_path, cb, ud, NULL, NULL, delivered, e);
}

int dav_multistatus_parse_pull_skip(dav_pull_fn pull, void *ctx, const char *base_path,
                                    dav_entry_fn cb, void *ud, dav_skip_fn skip, void *skip_ud,
                                    long *delivered, struct err *e)
{
    struct ms m;
    xmlTextReaderPtr rd = NULL;
    int rc = 0, r, seen_root = 0;

    memset(&m, 0, sizeof(m));
    m.base_path = base_path;
    m.cb = cb;
    m.ud = ud;
    m.skip = skip;
    m.skip_ud = skip_ud;
    m.e = e;
    m.pull = pull;
    m.pctx = ctx;
    m.cur = P_NONE;
    buf_init(&m.href, DAV_XML_HREF_MAX);
    buf_init(&m.status, 1024);
    buf_init(&m.rstatus, 1024);
    buf_init(&m.path, DAV_XML_HREF_MAX);
    propset_init(&m.pending);
    propset_init(&m.kept);
    if (e)
        err_clear(e);

    rd = xmlReaderForIO(filtered_read, no_close, &m, NULL, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                            XML_PARSE_NOCDATA | XML_PARSE_COMPACT);
    if (!rd) {
        /* xmlReaderForIO reads the first bytes at once: an empty body lands here */
        rc = err_set(e, ERR_PROTO,
                     m.refused ? "bad multistatus: a DTD is not allowed"
                               : "bad multistatus: empty or unreadable body");
        goto out;
    }
    xmlTextReaderSetStructuredErrorHandler(rd, on_xml_error, &m);
    while ((r = xmlTextReaderRead(rd)) == 1) {
        int type = xmlTextReaderNodeType(rd);
        int depth = xmlTextReaderDepth(rd);

        switch (type) {
        case XML_READER_TYPE_ELEMENT: {
            const char *ns = (const char *)xmlTextReaderConstNamespaceUri(rd);
            const char *name = (const char *)xmlTextReaderConstLocalName(rd);

            seen_root = 1;
            rc = on_start(&m, ns, name ? name : "", depth);
            if (rc == 0 && xmlTextReaderIsEmptyElement(rd))
                rc = on_end(&m, depth);
            break;
        }
        case XML_READER_TYPE_END_ELEMENT:
            rc = on_end(&m, depth);
            break;
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_CDATA:
        case XML_READER_TYPE_WHITESPACE:
        case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
            if (m.capture) {
                const char *v = (const char *)xmlTextReaderConstValue(rd);

                if (v && buf_puts(m.capture, v) < 0)
                    rc = err_set(e, ERR_PROTO, "bad multistatus: a value is over %d bytes",
                                 DAV_XML_FIELD_MAX);
            }
            break;
        case XML_READER_TYPE_DOCUMENT_TYPE:
        case XML_READER_TYPE_ENTITY_REFERENCE:
        case XML_READER_TYPE_ENTITY:
            rc = err_set(e, ERR_PROTO, "bad multistatus: DTDs and entities are not allowed");
            break;
        default:
            break;
        }
        if (rc < 0)
            goto out;
    }
    if (r < 0 || m.refused) {
        if (m.refused)
            rc = err_set(e, ERR_PROTO, "bad multistatus: DTDs and entities are not allowed");
        else if (e && e->code < 0)
            rc = e->code; /* the transport said why */
        else
            rc = err_set(e, ERR_PROTO, "bad multistatus: malformed XML (%s)",
                         m.xml_err[0] ? m.xml_err : "parse error");
        goto out;
    }
    if (!seen_root)
        rc = err_set(e, ERR_PROTO, "bad multistatus: empty body");
out:
    if (rd)
        xmlFreeTextReader(rd);
    if (delivered)
        *delivered = m.delivered;
    buf_release(&m.href);
    buf_release(&m.status);
    buf_release(&m.rstatus);
    buf_release(&m.path);
    propset_release(&m.pending);
    propset_release(&m.kept);
    return rc;
}

struct mem_src {
    const char *p;
    size_t left;
};

static int mem_pull(void *ctx, char *b, int len)
{
    struct mem_src *s = ctx;
    size_t n = s->left < (size_t)len ? s->left : (size_t)len;

    memcpy(b, s->p, n);
    s->p += n;
    s->left -= n;
    return (int)n;
}

int dav_multistatus_parse(const char *body, size_t len, const char *base_path, dav_entry_fn cb,
                          void *ud, struct err *e)
{
    struct mem_src s = {body, body ? len : 0};

    return dav_multistatus_parse_pull(mem_pull, &s, base_path, cb, ud, NULL, e);
}
