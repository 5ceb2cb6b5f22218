/*
 * state_json: the scan state (state.h) as JSON text, the one form both
 * backends (state_store.c) keep.
 *
 * The text is one JSON object, compact: records as [id, name], attachments
 * as [id, name, type, url, res_model, res_id, checksum, file_size,
 * write_date, mimetype] (type: 0 binary, 1 url, + 2 when not a document,
 * att.h), cloud children as [path, is_dir, etag, size,
 * att_tag, record_tag, type_tag, fileid, doc_tag, synced, mtime] (doc_tag and synced, the
 * Documents app's tags, may be absent: a state written before them reads as null; mtime is
 * written when known), links as [att_id, path, etag, size, fileid, rec, att_rec, file_rec,
 * mtime] (mtime: an upload's, written when it has one), Documents files as [tag,
 * synced, path, fileid] ("docs", absent in a state written before them; fileid only where
 * the server gives one). A decoder that meets anything else
 * gives up on the whole file (a full pass), never on part of it.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jobmsg.h"
#include "model.h"
#include "state_int.h"

#include "banned.h"

/*
 * Encoding writes the JSON text straight into one buffer, and decoding reads
 * it straight into the structs (no cJSON tree: at 100,000 attachments a tree
 * costs a million small allocations, most of a no-change pass).
 */
static void w_raw(struct buf *b, const char *s, int *ok)
{
    if (*ok && buf_puts(b, s) < 0)
        *ok = 0;
}

static void w_str(struct buf *b, const char *s, int *ok)
{
    if (*ok && (s ? job_json_str(b, s) : buf_puts(b, "null")) < 0)
        *ok = 0;
}

static void w_num(struct buf *b, long long v, int *ok)
{
    if (*ok && buf_printf(b, "%lld", v) < 0)
        *ok = 0;
}

int state_encode(const struct scan_state *s, char **out, struct err *e)
{
    struct buf b;
    int ok = 1, first = 1;

    *out = NULL;
    buf_init(&b, (size_t)STATE_MAX_FILE);
    w_raw(&b, "{\"version\":", &ok);
    w_num(&b, STATE_VERSION, &ok);
    w_raw(&b, ",\"odoo_key\":", &ok);
    w_str(&b, s->odoo_key, &ok);
    w_raw(&b, ",\"watermark\":", &ok);
    w_str(&b, s->watermark, &ok);
    w_raw(&b, ",\"full_at\":", &ok);
    w_num(&b, s->full_at, &ok);
    w_raw(&b, ",\"types\":[", &ok);
    for (size_t i = 0; ok && i < s->ntypes; i++) {
        w_raw(&b, i ? ",{\"key\":" : "{\"key\":", &ok);
        w_str(&b, s->types[i].key, &ok);
        w_raw(&b, ",\"recs\":[", &ok);
        for (size_t j = 0; ok && j < s->types[i].n; j++) {
            w_raw(&b, j ? ",[" : "[", &ok);
            w_num(&b, s->types[i].v[j].id, &ok);
            w_raw(&b, ",", &ok);
            w_str(&b, s->types[i].v[j].name, &ok);
            w_raw(&b, "]", &ok);
        }
        w_raw(&b, "]}", &ok);
    }
    w_raw(&b, s->have_atts ? "],\"have_atts\":true,\"atts\":[" : "],\"have_atts\":false,\"atts\":[",
          &ok);
    for (size_t i = 0; ok && i < s->natts; i++) {
        const struct snap_att *a = &s->atts[i];

        w_raw(&b, i ? ",[" : "[", &ok);
        w_num(&b, a->id, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, a->name, &ok);
        w_raw(&b, ",", &ok);
        w_num(&b, (a->type == SNAP_ATT_URL ? 1 : 0) | (a->technical ? 2 : 0), &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, a->url, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, a->res_model, &ok);
        w_raw(&b, ",", &ok);
        w_num(&b, a->res_id, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, a->checksum, &ok);
        w_raw(&b, ",", &ok);
        w_num(&b, a->file_size, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, a->write_date, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, a->mimetype, &ok);
        w_raw(&b, "]", &ok);
    }
    w_raw(&b, "],\"cloud_key\":", &ok);
    w_str(&b, s->cloud_key, &ok);
    w_raw(&b, ",\"dirs\":[", &ok);
    for (size_t i = 0; ok && i < s->ndirs; i++) {
        const struct state_dir *d = &s->dirs[i];

        if (d->dropped)
            continue;
        w_raw(&b, first ? "{\"path\":" : ",{\"path\":", &ok);
        first = 0;
        w_str(&b, d->path ? d->path : "", &ok);
        w_raw(&b, ",\"etag\":", &ok);
        w_str(&b, d->etag, &ok);
        w_raw(&b, ",\"kids\":[", &ok);
        for (size_t j = 0; ok && j < d->n; j++) {
            const struct snap_entry *k = &d->kids[j];

            w_raw(&b, j ? ",[" : "[", &ok);
            w_str(&b, k->path ? k->path : "", &ok);
            w_raw(&b, k->is_dir ? ",true," : ",false,", &ok);
            w_str(&b, k->etag, &ok);
            w_raw(&b, ",", &ok);
            w_num(&b, k->size, &ok);
            w_raw(&b, ",", &ok);
            w_num(&b, k->att_tag, &ok);
            w_raw(&b, ",", &ok);
            w_str(&b, k->record_tag, &ok);
            w_raw(&b, ",", &ok);
            w_str(&b, k->type_tag, &ok);
            w_raw(&b, ",", &ok);
            w_str(&b, k->fileid, &ok);
            w_raw(&b, ",", &ok);
            w_str(&b, k->doc_tag, &ok);
            w_raw(&b, ",", &ok);
            w_str(&b, k->synced, &ok);
            if (k->mtime > 0) {
                w_raw(&b, ",", &ok);
                w_num(&b, k->mtime, &ok);
            }
            w_raw(&b, "]", &ok);
        }
        w_raw(&b, "]}", &ok);
    }
    w_raw(&b, "],\"links\":[", &ok);
    for (size_t i = 0; ok && i < s->links.n; i++) {
        const struct snap_link *l = &s->links.v[i];

        w_raw(&b, i ? ",[" : "[", &ok);
        w_num(&b, l->att_id, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, l->path, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, l->etag, &ok);
        w_raw(&b, ",", &ok);
        w_num(&b, l->size, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, l->fileid, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, l->rec, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, l->att_rec, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, l->file_rec, &ok);
        if (l->mtime > 0) {
            w_raw(&b, ",", &ok);
            w_num(&b, l->mtime, &ok);
        }
        w_raw(&b, "]", &ok);
    }
    w_raw(&b, "],\"folders\":[", &ok);
    for (size_t i = 0; ok && i < s->nfolders; i++) {
        w_raw(&b, i ? ",[" : "[", &ok);
        w_str(&b, s->folders[i].fileid, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, s->folders[i].record, &ok);
        w_raw(&b, "]", &ok);
    }
    w_raw(&b, "],\"docs\":[", &ok);
    for (size_t i = 0; ok && i < s->ndocs; i++) {
        w_raw(&b, i ? ",[" : "[", &ok);
        w_str(&b, s->docs[i].tag, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, s->docs[i].synced, &ok);
        w_raw(&b, ",", &ok);
        w_str(&b, s->docs[i].path, &ok);
        if (s->docs[i].fileid) {
            w_raw(&b, ",", &ok);
            w_str(&b, s->docs[i].fileid, &ok);
        }
        w_raw(&b, "]", &ok);
    }
    w_raw(&b, "]}", &ok);
    if (!ok) {
        buf_release(&b);
        return err_set(e, ERR_NOMEM, "out of memory encoding the scan state");
    }
    *out = buf_detach(&b);
    return 0;
}

/*
 * Decoding: a strict reader of exactly the text state_encode writes (JSON,
 * any whitespace, keys in the order written), straight into the scan state:
 * no tree. Strings go to one scratch buffer per row, then state_add_* copy
 * them. Anything else is ERR_PROTO: the caller treats it as no state.
 */
#define RD_SLOTS 10

struct rd {
    const char *p, *end;
    struct buf sc;         /* the strings of the current row, NUL-separated */
    size_t off[RD_SLOTS];  /* where slot i starts in sc */
    char isnull[RD_SLOTS]; /* slot i was null */
};

static void rd_ws(struct rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* Consumes the literal s (after whitespace): 0, or -1 if it is not there. */
static int rd_lit(struct rd *r, const char *s)
{
    size_t n = strlen(s);

    rd_ws(r);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, s, n) != 0)
        return -1;
    r->p += n;
    return 0;
}

/* 1 and consumed if the next character is c, else 0. */
static int rd_opt(struct rd *r, char c)
{
    rd_ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return 1;
    }
    return 0;
}

static int rd_num(struct rd *r, long long *v)
{
    char tmp[40];
    size_t n = 0;
    char *endp;
    double d;

    rd_ws(r);
    while (r->p < r->end && n < sizeof(tmp) - 1 &&
           (strchr("+-.eE", *r->p) || (*r->p >= '0' && *r->p <= '9')))
        tmp[n++] = *r->p++;
    tmp[n] = '\0';
    if (n == 0 || n == sizeof(tmp) - 1)
        return -1;
    if (!strpbrk(tmp, ".eE")) {
        *v = strtoll(tmp, &endp, 10);
        return *endp == '\0' ? 0 : -1;
    }
    d = strtod(tmp, &endp);
    if (*endp != '\0' || d != d || d > 9.2e18 || d < -9.2e18)
        return -1;
    *v = (long long)d;
    return 0;
}

static int rd_hex4(struct rd *r, unsigned *u)
{
    *u = 0;
    if (r->end - r->p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = *r->p++;

        *u <<= 4;
        if (c >= '0' && c <= '9')
            *u |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *u |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            *u |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    return 0;
}

static int rd_utf8(struct buf *b, unsigned cp)
{
    char o[4];
    size_t n;

    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        o[0] = (char)(0xf0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return buf_append(b, o, n);
}

/* A string (or null) into slot i of the scratch buffer. 0, -1 malformed, ERR_NOMEM/TOO_BIG. */
static int rd_str(struct rd *r, int i)
{
    const char *run;
    int rc = 0;

    rd_ws(r);
    if (rd_lit(r, "null") == 0) {
        r->isnull[i] = 1;
        return 0;
    }
    if (r->p >= r->end || *r->p != '"')
        return -1;
    r->p++;
    r->isnull[i] = 0;
    r->off[i] = r->sc.len;
    run = r->p;
    while (rc == 0) {
        unsigned char c;

        if (r->p >= r->end)
            return -1;
        c = (unsigned char)*r->p;
        if (c == '"' || c == '\\') {
            rc = buf_append(&r->sc, run, (size_t)(r->p - run));
            if (rc < 0)
                break;
            r->p++;
            if (c == '"')
                break;
            if (r->p >= r->end)
                return -1;
            c = (unsigned char)*r->p++;
            if (c == 'u') {
                unsigned cp, lo;

                if (rd_hex4(r, &cp) < 0 || cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
                    return -1;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (rd_lit(r, "\\u") < 0 || rd_hex4(r, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                        return -1;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                rc = rd_utf8(&r->sc, cp);
            } else {
                const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
                const char *at = c ? strchr(from, (char)c) : NULL;

                if (!at)
                    return -1;
                rc = buf_append(&r->sc, to + (at - from), 1);
            }
            run = r->p;
        } else if (c < 0x20) {
            return -1;
        } else {
            r->p++;
        }
    }
    if (rc == 0)
        rc = buf_append(&r->sc, "", 1); /* the NUL that ends the slot */
    return rc;
}

static const char *rd_slot(const struct rd *r, int i)
{
    return r->isnull[i] ? NULL : r->sc.data + r->off[i];
}

/* Starts a row: the scratch buffer is emptied. */
static void rd_row(struct rd *r)
{
    buf_reset(&r->sc);
}

/* [elem, ...]: calls one(r, s, e) per element. 0, -1 malformed, or one's error. */
static int rd_array(struct rd *r, struct scan_state *s, struct err *e,
                    int (*one)(struct rd *, struct scan_state *, void *, struct err *), void *ud)
{
    int rc;

    if (!rd_opt(r, '['))
        return -1;
    if (rd_opt(r, ']'))
        return 0;
    do {
        rc = one(r, s, ud, e);
        if (rc != 0)
            return rc;
    } while (rd_opt(r, ','));
    return rd_opt(r, ']') ? 0 : -1;
}

static int rd_rec(struct rd *r, struct scan_state *s, void *ud, struct err *e)
{
    struct state_type *t = ud;
    long long id;
    int rc;

    (void)s;
    rd_row(r);
    if (!rd_opt(r, '[') || rd_num(r, &id) < 0 || !rd_opt(r, ',') || (rc = rd_str(r, 0)) < 0 ||
        !rd_opt(r, ']'))
        return -1;
    if (t->n > 0 && id <= t->v[t->n - 1].id)
        return -1;
    return state_type_add(t, (long)id, rd_slot(r, 0), e);
}

static int rd_type(struct rd *r, struct scan_state *s, void *ud, struct err *e)
{
    struct state_type *t;
    int rc;

    (void)ud;
    rd_row(r);
    if (!rd_opt(r, '{') || rd_lit(r, "\"key\"") < 0 || !rd_opt(r, ':') || (rc = rd_str(r, 0)) < 0)
        return -1;
    if (!rd_slot(r, 0))
        return -1;
    t = state_add_type(s, rd_slot(r, 0), e);
    if (!t)
        return e->code ? e->code : ERR_NOMEM;
    if (rd_lit(r, ",") < 0 || rd_lit(r, "\"recs\"") < 0 || !rd_opt(r, ':'))
        return -1;
    rc = rd_array(r, s, e, rd_rec, t);
    if (rc != 0)
        return rc;
    return rd_opt(r, '}') ? 0 : -1;
}

static int rd_att(struct rd *r, struct scan_state *s, void *ud, struct err *e)
{
    struct snap_att a;
    long long id, type, res_id, size;
    int ok;

    (void)ud;
    rd_row(r);
    ok = rd_opt(r, '[') && rd_num(r, &id) == 0 && rd_opt(r, ',') && rd_str(r, 0) == 0 &&
         rd_opt(r, ',') && rd_num(r, &type) == 0 && rd_opt(r, ',') && rd_str(r, 1) == 0 &&
         rd_opt(r, ',') && rd_str(r, 2) == 0 && rd_opt(r, ',') && rd_num(r, &res_id) == 0 &&
         rd_opt(r, ',') && rd_str(r, 3) == 0 && rd_opt(r, ',') && rd_num(r, &size) == 0 &&
         rd_opt(r, ',') && rd_str(r, 4) == 0 && rd_opt(r, ',') && rd_str(r, 5) == 0 &&
         rd_opt(r, ']');
    if (!ok || !rd_slot(r, 0) || (s->natts > 0 && id <= s->atts[s->natts - 1].id))
        return -1;
    memset(&a, 0, sizeof(a));
    a.id = (long)id;
    if (type < 0 || type > 3)
        return -1;
    a.type = (type & 1) ? SNAP_ATT_URL : SNAP_ATT_BINARY;
    a.technical = (type & 2) != 0;
    a.res_id = (long)res_id;
    a.file_size = size;
    /* state_add_att copies: snap_lend() only lends the scratch strings. */
    a.name = snap_lend(rd_slot(r, 0));
    a.url = snap_lend(rd_slot(r, 1));
    a.res_model = snap_lend(rd_slot(r, 2));
    a.checksum = snap_lend(rd_slot(r, 3));
    a.write_date = snap_lend(rd_slot(r, 4));
    a.mimetype = snap_lend(rd_slot(r, 5));
    return state_add_att(s, &a, e);
}

static int rd_kid(struct rd *r, struct scan_state *s, void *ud, struct err *e)
{
    struct state_dir *d = ud;
    struct snap_entry en;
    long long size, att, mtime = 0;
    int is_dir, ok, has_doc, has_synced, has_mtime;

    (void)s;
    rd_row(r);
    ok = rd_opt(r, '[') && rd_str(r, 0) == 0 && rd_opt(r, ',');
    if (ok && rd_lit(r, "true") == 0)
        is_dir = 1;
    else if (ok && rd_lit(r, "false") == 0)
        is_dir = 0;
    else
        return -1;
    ok = rd_opt(r, ',') && rd_str(r, 1) == 0 && rd_opt(r, ',') && rd_num(r, &size) == 0 &&
         rd_opt(r, ',') && rd_num(r, &att) == 0 && rd_opt(r, ',') && rd_str(r, 2) == 0 &&
         rd_opt(r, ',') && rd_str(r, 3) == 0 && rd_opt(r, ',') && rd_str(r, 4) == 0;
    has_doc = ok && rd_opt(r, ',');
    ok = ok && (!has_doc || rd_str(r, 5) == 0);
    has_synced = ok && has_doc && rd_opt(r, ',');
    ok = ok && (!has_synced || rd_str(r, 6) == 0);
    has_mtime = ok && has_synced && rd_opt(r, ',');
    ok = ok && (!has_mtime || (rd_num(r, &mtime) == 0 && mtime > 0)) && rd_opt(r, ']');
    if (!ok || !rd_slot(r, 0) || rd_slot(r, 0)[0] != '/')
        return -1;
    memset(&en, 0, sizeof(en));
    en.path = snap_lend(rd_slot(r, 0));
    en.is_dir = is_dir;
    en.etag = snap_lend(rd_slot(r, 1));
    en.size = size;
    en.att_tag = (long)att;
    en.record_tag = snap_lend(rd_slot(r, 2));
    en.type_tag = snap_lend(rd_slot(r, 3));
    en.fileid = snap_lend(rd_slot(r, 4));
    en.doc_tag = has_doc ? snap_lend(rd_slot(r, 5)) : NULL;
    en.synced = has_synced ? snap_lend(rd_slot(r, 6)) : NULL;
    en.mtime = mtime;
    return state_dir_add_kid(d, &en, e);
}

/* [tag, synced, path(, fileid)]: a Documents file or folder seen in the cloud */
static int rd_doc(struct rd *r, struct scan_state *s, void *ud, struct err *e)
{
    int has_id;

    (void)ud;
    rd_row(r);
    if (!(rd_opt(r, '[') && rd_str(r, 0) == 0 && rd_opt(r, ',') && rd_str(r, 1) == 0 &&
          rd_opt(r, ',') && rd_str(r, 2) == 0) ||
        !rd_slot(r, 0))
        return -1;
    has_id = rd_opt(r, ',');
    if ((has_id && rd_str(r, 3) != 0) || !rd_opt(r, ']'))
        return -1;
    return state_add_doc(s, rd_slot(r, 0), rd_slot(r, 1), rd_slot(r, 2),
                         has_id ? rd_slot(r, 3) : NULL, e);
}

static int rd_link(struct rd *r, struct scan_state *s, void *ud, struct err *e)
{
    struct snap_link l;
    long long id, size, mtime = 0;
    int ok;

    (void)ud;
    rd_row(r);
    ok = rd_opt(r, '[') && rd_num(r, &id) == 0 && rd_opt(r, ',') && rd_str(r, 0) == 0 &&
         rd_opt(r, ',') && rd_str(r, 1) == 0 && rd_opt(r, ',') && rd_num(r, &size) == 0 &&
         rd_opt(r, ',') && rd_str(r, 2) == 0 && rd_opt(r, ',') && rd_str(r, 3) == 0 &&
         rd_opt(r, ',') && rd_str(r, 4) == 0 && rd_opt(r, ',') && rd_str(r, 5) == 0;
    if (ok && rd_opt(r, ','))
        ok = rd_num(r, &mtime) == 0 && mtime > 0;
    ok = ok && rd_opt(r, ']');
    if (!ok || id < 0 || !rd_slot(r, 0) || rd_slot(r, 0)[0] != '/')
        return -1;
    memset(&l, 0, sizeof(l));
    l.att_id = (long)id;
    l.path = snap_lend(rd_slot(r, 0));
    l.etag = snap_lend(rd_slot(r, 1));
    l.size = size;
    l.fileid = snap_lend(rd_slot(r, 2));
    l.rec = snap_lend(rd_slot(r, 3));
    l.att_rec = snap_lend(rd_slot(r, 4));
    l.file_rec = snap_lend(rd_slot(r, 5));
    l.mtime = mtime;
    /* in order, one per attachment (and per path for new ones) */
    if (s->links.n > 0 && (snap_link_cmp(&l, &s->links.v[s->links.n - 1]) <= 0 ||
                           (id > 0 && id == s->links.v[s->links.n - 1].att_id)))
        return -1;
    if (snap_links_add(&s->links, &l) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

static int rd_folder(struct rd *r, struct scan_state *s, void *ud, struct err *e)
{
    (void)ud;
    rd_row(r);
    if (!(rd_opt(r, '[') && rd_str(r, 0) == 0 && rd_opt(r, ',') && rd_str(r, 1) == 0 &&
          rd_opt(r, ']')) ||
        !rd_slot(r, 0) || !rd_slot(r, 1))
        return -1;
    return state_add_folder(s, rd_slot(r, 0), rd_slot(r, 1), e);
}

static int rd_dir(struct rd *r, struct scan_state *s, void *ud, struct err *e)
{
    struct state_dir *d;
    int rc;

    (void)ud;
    rd_row(r);
    if (!rd_opt(r, '{') || rd_lit(r, "\"path\"") < 0 || !rd_opt(r, ':') || rd_str(r, 0) < 0 ||
        rd_lit(r, ",") < 0 || rd_lit(r, "\"etag\"") < 0 || !rd_opt(r, ':') || rd_str(r, 1) < 0)
        return -1;
    if (!rd_slot(r, 0) || !rd_slot(r, 1))
        return -1;
    d = state_add_dir(s, rd_slot(r, 0), rd_slot(r, 1), e);
    if (!d)
        return e->code ? e->code : ERR_NOMEM;
    if (rd_lit(r, ",") < 0 || rd_lit(r, "\"kids\"") < 0 || !rd_opt(r, ':'))
        return -1;
    rc = rd_array(r, s, e, rd_kid, d);
    if (rc != 0)
        return rc;
    return rd_opt(r, '}') ? 0 : -1;
}

/* One "key": value of the top object. */
static int rd_member(struct rd *r, struct scan_state *s, unsigned *seen, struct err *e)
{
    static const char *const keys[] = {"version", "odoo_key",  "watermark", "full_at",
                                       "types",   "have_atts", "atts",      "cloud_key",
                                       "dirs",    "links",     "folders",   "docs"};
    long long v;
    int k, rc;

    rd_row(r);
    if (rd_str(r, 0) < 0 || !rd_slot(r, 0) || !rd_opt(r, ':'))
        return -1;
    for (k = 0; k < (int)(sizeof(keys) / sizeof(keys[0])); k++)
        if (strcmp(rd_slot(r, 0), keys[k]) == 0)
            break;
    if (k == (int)(sizeof(keys) / sizeof(keys[0])) || (*seen & (1u << k)))
        return -1;
    *seen |= 1u << k;
    switch (k) {
    case 0:
        return rd_num(r, &v) == 0 && v == STATE_VERSION ? 0 : -1;
    case 3:
        if (rd_num(r, &v) < 0)
            return -1;
        s->full_at = v;
        return 0;
    case 5:
        if (rd_lit(r, "true") == 0)
            s->have_atts = 1;
        else if (rd_lit(r, "false") == 0)
            s->have_atts = 0;
        else
            return -1;
        return 0;
    case 4:
        return rd_array(r, s, e, rd_type, NULL);
    case 6:
        return rd_array(r, s, e, rd_att, NULL);
    case 8:
        return rd_array(r, s, e, rd_dir, NULL);
    case 9:
        return rd_array(r, s, e, rd_link, NULL);
    case 10:
        return rd_array(r, s, e, rd_folder, NULL);
    case 11:
        return rd_array(r, s, e, rd_doc, NULL);
    default: /* the three keys */
        rd_row(r);
        rc = rd_str(r, 0);
        if (rc < 0)
            return rc;
        return state_set_str(k == 1   ? &s->odoo_key
                             : k == 2 ? &s->watermark
                                      : &s->cloud_key,
                             rd_slot(r, 0), e);
    }
}

int state_decode(const char *text, size_t len, struct scan_state *s, struct err *e)
{
    struct rd r;
    unsigned seen = 0;
    int rc = 0;

    memset(&r, 0, sizeof(r));
    r.p = text;
    r.end = text + len;
    buf_init(&r.sc, (size_t)STATE_MAX_FILE);
    if (!rd_opt(&r, '{'))
        rc = -1;
    while (rc == 0) {
        rc = rd_member(&r, s, &seen, e);
        if (rc == 0 && !rd_opt(&r, ','))
            break;
    }
    if (rc == 0 && !rd_opt(&r, '}'))
        rc = -1;
    rd_ws(&r);
    if (rc == 0 && r.p != r.end)
        rc = -1;
    /* "folders" (bit 10) and "docs" (bit 11) may be missing: a state written before
     * they existed */
    if (rc == 0 && (seen & ((1u << 10) - 1)) != (1u << 10) - 1)
        rc = err_set(e, ERR_PROTO, "a missing field");
    if (rc == -1)
        rc = err_set(e, ERR_PROTO, "malformed at byte %zu", (size_t)(r.p - text));
    else if (rc < 0 && !e->code)
        rc = err_set(e, rc, "out of memory decoding the scan state");
    if (rc == 0) {
        state_sort(s);
        for (size_t i = 1; i < s->ndirs; i++)
            if (strcmp(s->dirs[i - 1].path, s->dirs[i].path) == 0) {
                rc = err_set(e, ERR_PROTO, "folder \"%s\" twice", s->dirs[i].path);
                break;
            }
    }
    buf_release(&r.sc);
    if (rc < 0)
        state_release(s);
    return rc;
}
