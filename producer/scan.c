/*
 * scan: see scan.h.
 *
 * The cloud walk is a small work queue: folders still to list, a count of
 * listings in flight, and N threads with a WebDAV handle each. A thread
 * takes a folder, lists it with Depth 1, adds its entries to the snapshot
 * and its sub-folders to the queue. The walk ends when the queue is empty
 * and nothing is in flight, or at the first error (the snapshot is then
 * marked incomplete and the error returned).
 */
#include "scan.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "att.h"
#include "buf.h"
#include "plan.h"

#include "plural.h"
#include "banned.h"

#define SCAN_PROGRESS_MS 3000

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int scan_types(const struct cfg *c, struct plan_type **out, size_t *n, struct err *e)
{
    struct plan_type *t = calloc(c->ntypes ? c->ntypes : 1, sizeof(*t));
    size_t k = 0;

    if (!t)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->ntypes; i++) {
        if (!c->types[i].enabled)
            continue;
        t[k].folder = c->types[i].folder;
        t[k].model = c->types[i].model;
        t[k].direction = c->types[i].direction == CFG_DIR_TO_CLOUD     ? PLAN_DIR_TO_CLOUD
                         : c->types[i].direction == CFG_DIR_FROM_CLOUD ? PLAN_DIR_FROM_CLOUD
                                                                       : PLAN_DIR_BOTH;
        t[k].scan_ok = 1;
        k++;
    }
    *out = t;
    *n = k;
    return 0;
}

/* ---- Odoo ---- */

struct rec_ctx {
    struct odoo_snap *os;
    size_t type;
    const char *model;
    long *ids;
    size_t nids, cap;
    struct err *e;
};

static const char *json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long json_long(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

static int on_record(const cJSON *rec, void *ud)
{
    struct rec_ctx *r = ud;
    long id = json_long(rec, "id");
    int rc;

    if (r->nids == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        long *p = realloc(r->ids, cap * sizeof(*p));

        if (!p)
            return err_set(r->e, ERR_NOMEM, "out of memory");
        r->ids = p;
        r->cap = cap;
    }
    r->ids[r->nids++] = id;
    rc = odoo_snap_add_record(r->os, r->type, r->model, id, json_str(rec, "display_name"), r->e);
    return rc;
}

static const char *const att_fields[] = {
    "id",        "name",       "type",     "url",       "res_model", "res_id", "checksum",
    "file_size", "write_date", "mimetype", "res_field", "public",    NULL};

const char *const *scan_att_fields(void)
{
    return att_fields;
}

void scan_att_from_json(const cJSON *rec, struct snap_att *a)
{
    const char *type = json_str(rec, "type");
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(rec, "file_size");

    memset(a, 0, sizeof(*a));
    a->id = json_long(rec, "id");
    a->name = snap_lend(json_str(rec, "name"));
    a->type = type && strcmp(type, "url") == 0 ? SNAP_ATT_URL : SNAP_ATT_BINARY;
    a->url = snap_lend(json_str(rec, "url"));
    a->res_model = snap_lend(json_str(rec, "res_model"));
    a->res_id = json_long(rec, "res_id");
    a->checksum = snap_lend(json_str(rec, "checksum"));
    a->file_size = cJSON_IsNumber(fs) ? (long long)fs->valuedouble : -1;
    a->write_date = snap_lend(json_str(rec, "write_date"));
    a->mimetype = snap_lend(json_str(rec, "mimetype"));
    a->technical = att_technical(type, json_str(rec, "url"), json_str(rec, "res_model"), a->res_id,
                                 json_str(rec, "res_field"),
                                 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "public")));
    if (!a->name)
        a->name = snap_lend("");
}

static int on_att(const cJSON *rec, void *ud)
{
    struct rec_ctx *r = ud;
    struct snap_att a;

    scan_att_from_json(rec, &a);
    return odoo_snap_add_att(r->os, &a, r->e);
}

cJSON *scan_leaf(const char *field, const char *op, cJSON *value)
{
    cJSON *l = cJSON_CreateArray();

    if (!l || !value) {
        cJSON_Delete(l);
        cJSON_Delete(value);
        return NULL;
    }
    cJSON_AddItemToArray(l, cJSON_CreateString(field));
    cJSON_AddItemToArray(l, cJSON_CreateString(op));
    cJSON_AddItemToArray(l, value);
    return l;
}

/* Attachments of ids[0..n) of model, SCAN_ATT_CHUNK ids per request. */
static int scan_atts_of(struct odoo *o, struct rec_ctx *r, const char *model, const long *ids,
                        size_t n, struct scan_stats *st, struct err *e)
{
    int rc = 0;

    for (size_t off = 0; off < n; off += SCAN_ATT_CHUNK) {
        size_t k = n - off < SCAN_ATT_CHUNK ? n - off : SCAN_ATT_CHUNK;
        cJSON *dom = cJSON_CreateArray();
        cJSON *in = cJSON_CreateArray();

        if (!dom || !in) {
            cJSON_Delete(dom);
            cJSON_Delete(in);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < k; i++)
            cJSON_AddItemToArray(in, cJSON_CreateNumber((double)ids[off + i]));
        cJSON_AddItemToArray(dom, scan_leaf("res_model", "=", cJSON_CreateString(model)));
        cJSON_AddItemToArray(dom, scan_leaf("res_id", "in", in));
        cJSON_AddItemToArray(dom, scan_leaf("res_field", "=", cJSON_CreateFalse()));
        rc = odoo_search_read_each(o, "ir.attachment", dom, att_fields, SCAN_PAGE, on_att, r, e);
        st->odoo_requests += 1 + (long)(k / SCAN_PAGE);
        cJSON_Delete(dom);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The record ids of one scanned type, sorted, to read each record's attachments once. */
struct idset {
    long *ids;
    size_t n;
};

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return (x > y) - (x < y);
}

static int remember(struct idset *s, const long *ids, size_t n, struct err *e)
{
    s->ids = malloc((n ? n : 1) * sizeof(*ids));
    if (!s->ids)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (n)
        memcpy(s->ids, ids, n * sizeof(*ids));
    s->n = n;
    qsort(s->ids, n, sizeof(*ids), cmp_long);
    return 0;
}

/*
 * A record matching several types lives under the first (the planner decides); its
 * attachments are read once, with the first type of its model that listed it.
 */
static void drop_seen(const struct cfg *c, size_t cfg_index, const struct idset *seen, long *ids,
                      size_t *n)
{
    const char *model = c->types[cfg_index].model;
    size_t k = 0, kept = 0;

    for (size_t i = 0; i < cfg_index; i++) {
        if (!c->types[i].enabled)
            continue;
        if (strcmp(c->types[i].model, model) == 0 && seen[k].ids) {
            kept = 0;
            for (size_t j = 0; j < *n; j++)
                if (!bsearch(&ids[j], seen[k].ids, seen[k].n, sizeof(long), cmp_long))
                    ids[kept++] = ids[j];
            *n = kept;
        }
        k++;
    }
}

int scan_odoo(struct odoo *o, const struct cfg *c, struct plan_type *types, size_t ntypes,
              struct odoo_snap *os, struct scan_stats *st, struct log *lg, struct err *e)
{
    static const char *const rec_fields[] = {"id", "display_name", NULL};
    struct rec_ctx r;
    struct idset *seen = calloc(ntypes ? ntypes : 1, sizeof(*seen));
    long long t0 = mono_ms();
    size_t k = 0;
    int rc = 0;

    memset(&r, 0, sizeof(r));
    if (!seen)
        return err_set(e, ERR_NOMEM, "out of memory");
    r.os = os;
    r.e = e;
    for (size_t i = 0; i < c->ntypes && k < ntypes; i++) {
        const struct cfg_type *t = &c->types[i];
        size_t before = os->natts;

        if (!t->enabled)
            continue;
        r.type = k;
        r.model = t->model;
        r.nids = 0;
        rc = odoo_search_read_each(o, t->model, t->domain_json, rec_fields, SCAN_PAGE, on_record,
                                   &r, e);
        st->odoo_requests++;
        if (rc == 0) {
            drop_seen(c, i, seen, r.ids, &r.nids);
            rc = scan_atts_of(o, &r, t->model, r.ids, r.nids, st, e);
        }
        if (rc == 0)
            rc = remember(&seen[k], r.ids, r.nids, e);
        if (rc == ERR_ACCESS || rc == ERR_INVALID || rc == ERR_NOTFOUND) {
            /* This type only: Odoo refused its model or domain. Keep going. */
            log_error(lg,
                      "type \"%s\" (model %s, domain %s): Odoo refused its scan: %s; the type is "
                      "not synced this pass (exit 4)",
                      t->folder, t->model, t->domain ? t->domain : "[]", e->msg);
            types[k].scan_ok = 0;
            os->types[k].n = 0;
            os->natts = before;
            err_clear(e);
            rc = 0;
        } else if (rc < 0) {
            os->complete = 0;
            err_prefix(e, "scanning type \"%s\" (%s)", t->folder, t->model);
            goto out;
        }
        st->records += (long)os->types[k].n;
        log_info(lg, "scanned type \"%s\": %zu %s", t->folder, os->types[k].n,
                 PLURAL(os->types[k].n, "record", "records"));
        k++;
    }
    if (c->standalone.enabled) {
        cJSON *dom = cJSON_CreateArray();

        if (!dom) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        cJSON_AddItemToArray(dom, scan_leaf("res_model", "=", cJSON_CreateFalse()));
        cJSON_AddItemToArray(dom, scan_leaf("res_field", "=", cJSON_CreateFalse()));
        rc = odoo_search_read_each(o, "ir.attachment", dom, att_fields, SCAN_PAGE, on_att, &r, e);
        st->odoo_requests++;
        cJSON_Delete(dom);
        if (rc < 0) {
            os->complete = 0;
            err_prefix(e, "scanning stand-alone attachments");
            goto out;
        }
    }
    st->attachments = (long)os->natts;
    st->rows_read += st->records + st->attachments;
out:
    st->odoo_ms = mono_ms() - t0;
    for (size_t i = 0; i < ntypes; i++)
        free(seen[i].ids);
    free(seen);
    free(r.ids);
    return rc;
}

/* ---- records tagged on a cloud folder that match no type ---- */

struct mid {
    const char *model; /* borrowed from the plan types */
    long id;
};

static int cmp_mid(const void *a, const void *b)
{
    const struct mid *x = a, *y = b;
    int r = strcmp(x->model, y->model);

    return r ? r : (x->id > y->id) - (x->id < y->id);
}

/* The model of a "model,id" tag among the types whose scan went through (borrowed), or NULL
 * (not a configured model, or one of its types failed: its folders are left alone). */
static const char *tag_model(const struct plan_type *types, size_t ntypes, const char *tag,
                             long *id)
{
    const char *comma = strrchr(tag, ',');
    const char *found = NULL;
    char *end;

    if (!comma || comma == tag)
        return NULL;
    *id = strtol(comma + 1, &end, 10);
    if (*end != '\0' || end == comma + 1 || *id <= 0)
        return NULL;
    for (size_t k = 0; k < ntypes; k++) {
        if (strlen(types[k].model) != (size_t)(comma - tag) ||
            strncmp(types[k].model, tag, (size_t)(comma - tag)) != 0)
            continue;
        if (!types[k].scan_ok)
            return NULL;
        found = types[k].model;
    }
    return found;
}

/* Whether path is a folder two levels under root ("/Odoo"): "/Odoo/Type/Name". */
static int depth2(const char *path, const char *root)
{
    size_t n = strlen(root);
    const char *s;

    if (strncmp(path, root, n) != 0 || path[n] != '/')
        return 0;
    s = strchr(path + n + 1, '/');
    return s && s[1] && !strchr(s + 1, '/');
}

/*
 * The records of url attachments whose url points into the archive folder (archive: its
 * decoded path "/Odoo/Archive"), appended to want (cap entries) when one of types'
 * models and not listed: an archived record whose folder was deleted in the cloud has
 * no tag left to find it by, and its links must not stay dangling.
 */
static int archive_links(struct odoo *o, const struct cfg *c, const struct plan_type *types,
                         size_t ntypes, const char *archive, const struct mid *listed, size_t nl,
                         struct mid **want, size_t *nw, size_t *cap, struct scan_stats *st,
                         struct err *e)
{
    static const char *const fields[] = {"id", "url", "res_model", "res_id", NULL};
    char *enc = NULL, *dir = NULL;
    cJSON *dom = NULL, *rows = NULL;
    size_t n = strlen(archive);
    int rc = 0;

    dir = malloc(n + 2);
    if (dir) {
        memcpy(dir, archive, n);
        memcpy(dir + n, "/", 2);
        enc = plan_url_for_path("", dir);
    }
    dom = cJSON_CreateArray();
    if (!dir || !enc || !dom ||
        !cJSON_AddItemToArray(dom, scan_leaf("type", "=", cJSON_CreateString("url"))) ||
        !cJSON_AddItemToArray(dom, cJSON_CreateString("|")) ||
        !cJSON_AddItemToArray(dom, scan_leaf("url", "ilike", cJSON_CreateString(enc))) ||
        !cJSON_AddItemToArray(dom, scan_leaf("url", "ilike", cJSON_CreateString(dir)))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = odoo_search_read(o, "ir.attachment", dom, fields, 0, 0, NULL, &rows, e);
    st->odoo_requests++;
    for (int i = 0; rc == 0 && i < cJSON_GetArraySize(rows); i++) {
        const cJSON *row = cJSON_GetArrayItem(rows, i);
        const char *model = json_str(row, "res_model"), *url = json_str(row, "url");
        char *path = url ? plan_path_for_url(c->cloud.url, url) : NULL;
        char tag[300];
        struct mid m;

        if (path && model && strncmp(path, dir, n + 1) == 0) {
            snprintf(tag, sizeof tag, "%s,%ld", model, json_long(row, "res_id"));
            m.model = tag_model(types, ntypes, tag, &m.id);
            if (m.model && !bsearch(&m, listed, nl, sizeof(*listed), cmp_mid)) {
                if (*nw == *cap) {
                    size_t ncap = *cap ? *cap * 2 : 16;
                    struct mid *v = realloc(*want, ncap * sizeof(*v));

                    if (!v)
                        rc = err_set(e, ERR_NOMEM, "out of memory");
                    else
                        *want = v, *cap = ncap;
                }
                if (rc == 0)
                    (*want)[(*nw)++] = m;
            }
        }
        free(path);
    }
out:
    cJSON_Delete(dom);
    cJSON_Delete(rows);
    free(enc);
    free(dir);
    return rc;
}

/* Append the record of tag to want (cap entries) when it is one of types' models and not
 * listed. */
static int want_tag(const struct plan_type *types, size_t ntypes, const char *tag,
                    const struct mid *listed, size_t nl, struct mid **want, size_t *nw, size_t *cap,
                    struct err *e)
{
    struct mid m;

    if (!tag)
        return 0;
    m.model = tag_model(types, ntypes, tag, &m.id);
    if (!m.model || bsearch(&m, listed, nl, sizeof(*listed), cmp_mid))
        return 0;
    if (*nw == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct mid *v = realloc(*want, ncap * sizeof(*v));

        if (!v)
            return err_set(e, ERR_NOMEM, "out of memory");
        *want = v, *cap = ncap;
    }
    (*want)[(*nw)++] = m;
    return 0;
}

int scan_unmatched(struct odoo *o, const struct cfg *c, const struct plan_type *types,
                   size_t ntypes, struct odoo_snap *os, const struct cloud_snap *cs,
                   const struct snap_links *prev, struct scan_stats *st, struct log *lg,
                   struct err *e)
{
    static const char *const name_fields[] = {"id", "display_name", NULL};
    struct mid *listed = NULL, *want = NULL;
    size_t nl = 0, nw = 0, total = 0, capw;
    struct buf root;
    long *ids = NULL, *have = NULL;
    struct rec_ctx r;
    cJSON *rows = NULL;
    int rc = 0;

    memset(&r, 0, sizeof(r));
    buf_init(&root, 1 << 16);
    if (!os->complete) {
        os->gone_known = 0; /* a record missing from an incomplete scan may well match */
        return 0;
    }
    rc = scan_root_path(c->cloud.root, &root, e);
    if (rc < 0)
        goto out;
    for (size_t k = 0; k < os->ntypes; k++)
        total += os->types[k].n;
    listed = malloc((total ? total : 1) * sizeof(*listed));
    capw = cs->n ? cs->n : 1;
    want = malloc(capw * sizeof(*want));
    ids = malloc(SCAN_ATT_CHUNK * sizeof(*ids));
    have = malloc(SCAN_ATT_CHUNK * sizeof(*have));
    if (!listed || !want || !ids || !have) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < os->ntypes; k++)
        for (size_t i = 0; i < os->types[k].n; i++) {
            listed[nl].model = os->types[k].v[i].model;
            listed[nl++].id = os->types[k].v[i].id;
        }
    qsort(listed, nl, sizeof(*listed), cmp_mid);
    for (size_t i = 0; i < cs->n; i++) {
        const struct snap_entry *en = &cs->v[i];
        struct mid m;

        if (!en->is_dir || !en->record_tag || !depth2(en->path, root.data))
            continue; /* a document folder is two levels under the root */
        m.model = tag_model(types, ntypes, en->record_tag, &m.id);
        if (m.model && !bsearch(&m, listed, nl, sizeof(*listed), cmp_mid))
            want[nw++] = m;
    }
    /* the records the previous pass linked files to: a document folder deleted in the
     * cloud as its record stops matching leaves no tag, and its url attachments (which
     * point into a type folder, not the archive) must not stay dangling */
    for (size_t i = 0; rc == 0 && prev && i < prev->n; i++) {
        rc = want_tag(types, ntypes, prev->v[i].rec, listed, nl, &want, &nw, &capw, e);
        if (rc == 0)
            rc = want_tag(types, ntypes, prev->v[i].att_rec, listed, nl, &want, &nw, &capw, e);
    }
    if (rc < 0)
        goto out;
    if (c->unmatched.policy == CFG_UNMATCHED_ARCHIVE && c->unmatched.folder) {
        size_t rl = root.len;

        rc = buf_puts(&root, "/");
        if (rc == 0)
            rc = buf_puts(&root, c->unmatched.folder);
        if (rc == 0)
            rc =
                archive_links(o, c, types, ntypes, root.data, listed, nl, &want, &nw, &capw, st, e);
        if (rc == ERR_ACCESS || rc == ERR_INVALID || rc == ERR_NOTFOUND) {
            log_warn(lg, "looking for links into the archive folder: %s; no deletion this pass",
                     e->msg);
            os->complete = 0;
            err_clear(e);
            rc = 0;
        }
        if (rc < 0)
            goto out;
        root.len = rl;
        root.data[rl] = '\0';
    }
    qsort(want, nw, sizeof(*want), cmp_mid);
    r.os = os;
    r.e = e;
    for (size_t i = 0; i < nw;) {
        const char *model = want[i].model;
        size_t n = 0, nh = 0;

        /* one model, up to SCAN_ATT_CHUNK distinct ids */
        for (; i < nw && strcmp(want[i].model, model) == 0 && n < SCAN_ATT_CHUNK; i++)
            if (n == 0 || ids[n - 1] != want[i].id)
                ids[n++] = want[i].id;
        /* read ignores active_test (an archived record is read) and leaves deleted ids out */
        rc = odoo_read(o, model, ids, n, name_fields, &rows, e);
        st->odoo_requests++;
        if (rc == 0) {
            for (int j = 0; j < cJSON_GetArraySize(rows) && rc == 0; j++) {
                const cJSON *row = cJSON_GetArrayItem(rows, j);
                long id = json_long(row, "id");

                if (id <= 0 || nh == SCAN_ATT_CHUNK)
                    continue;
                have[nh++] = id;
                rc = odoo_snap_add_unmatched(os, model, id, json_str(row, "display_name"), e);
            }
            cJSON_Delete(rows);
            rows = NULL;
            if (rc < 0)
                goto out;
            st->rows_read += (long)nh;
            /* their attachments, as the scan reads those of matching records */
            rc = scan_atts_of(o, &r, model, have, nh, st, e);
            if (rc == ERR_ACCESS || rc == ERR_INVALID || rc == ERR_NOTFOUND) {
                log_warn(lg,
                         "reading the attachments of %s records that match no type: %s; "
                         "no deletion this pass",
                         model, e->msg);
                os->complete = 0;
                err_clear(e);
                rc = 0;
            }
        } else if (rc == ERR_ACCESS || rc == ERR_INVALID || rc == ERR_NOTFOUND) {
            log_warn(lg,
                     "checking whether %s records that match no type still exist: %s; "
                     "their folders are left alone this pass",
                     model, e->msg);
            os->gone_known = 0;
            err_clear(e);
            rc = 0;
        }
        if (rc < 0)
            goto out;
    }
    if (os->unmatched.n)
        log_info(lg, "%zu records tagged on cloud folders match no type but still exist",
                 os->unmatched.n);
out:
    free(r.ids);
    cJSON_Delete(rows);
    free(listed);
    free(want);
    free(ids);
    free(have);
    buf_release(&root);
    return rc;
}

/* ---- cloud ---- */

struct walk {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **queue;
    size_t nq, capq;
    int busy;   /* listings in flight */
    int failed; /* first error stops everyone */
    struct err err;
    struct cloud_snap *cs;
    const char *root; /* "/Odoo" */
    struct scan_stats *st;
    struct log *lg;
    long long t0, last_progress;
    const struct dav_opts *opts;
    /* ETag reuse (Nextcloud/ownCloud): both NULL on other servers */
    const struct scan_state *prev;
    struct scan_state *next;
    const char *root_etag; /* from the stat of the root (its listing skips itself) */
};

struct walk_list {
    struct walk *w;
    const char *dir;  /* the folder being listed (skipped in its own listing) */
    int want_subdirs; /* queue sub-folders (Depth 1 walk) */
    struct err *e;
    char *self_etag;          /* the listed folder's own ETag (ETag reuse) */
    struct state_dir listing; /* its children as listed (ETag reuse) */
    int left_out_rc;          /* ERR_NOMEM when a left-out entry could not be noted */
};

static int walk_push(struct walk *w, const char *path)
{
    char *s = strdup(path);

    if (!s)
        return ERR_NOMEM;
    if (w->nq == w->capq) {
        size_t cap = w->capq ? w->capq * 2 : 64;
        char **q = realloc(w->queue, cap * sizeof(*q));

        if (!q) {
            free(s);
            return ERR_NOMEM;
        }
        w->queue = q;
        w->capq = cap;
    }
    w->queue[w->nq++] = s;
    return 0;
}

static int walk_need(const char *path, void *ud)
{
    return walk_push(ud, path);
}

static int parse_tag_id(const char *s)
{
    char *end = NULL;
    long v;

    if (!s || !*s)
        return 0;
    v = strtol(s, &end, 10);
    return (end && *end == '\0' && v > 0 && v < 0x7fffffff) ? (int)v : 0;
}

/* Called with w->mu NOT held; takes it to add to the snapshot. */
static int on_entry(const struct dav_entry *en, void *ud)
{
    struct walk_list *wl = ud;
    struct walk *w = wl->w;
    struct snap_entry s;
    size_t rl = strlen(w->root);
    int rc = 0;

    /* Only what is strictly under the root, and not the listed folder itself. */
    if (strncmp(en->path, w->root, rl) != 0 || en->path[rl] != '/' || en->path[rl + 1] == '\0')
        return 0;
    if (wl->dir && strcmp(en->path, wl->dir) == 0) {
        if (w->next && en->etag && !wl->self_etag) {
            wl->self_etag = strdup(en->etag);
            if (!wl->self_etag)
                return err_set(wl->e, ERR_NOMEM, "out of memory");
        }
        return 0;
    }
    memset(&s, 0, sizeof(s));
    s.path = snap_lend(en->path);
    s.is_dir = en->is_dir;
    s.etag = snap_lend(en->etag);
    s.size = en->size;
    s.att_tag = parse_tag_id(en->attachment_tag);
    s.record_tag = snap_lend(en->record_tag);
    s.type_tag = snap_lend(en->type_tag);
    s.fileid = snap_lend(en->fileid);
    if (w->next) {
        rc = state_dir_add_kid(&wl->listing, &s, wl->e);
        if (rc < 0)
            return rc;
    }
    pthread_mutex_lock(&w->mu);
    rc = cloud_snap_add(w->cs, &s, wl->e);
    if (rc == 0 && en->is_dir && wl->want_subdirs) {
        rc = w->prev ? scan_cloud_reuse(w->prev, en->path, en->etag, w->cs, w->next, walk_need, w,
                                        wl->e)
                     : 0;
        if (rc == 0)
            rc = walk_push(w, en->path);
        else if (rc > 0)
            rc = 0;
    }
    w->st->entries++;
    if (mono_ms() - w->last_progress > SCAN_PROGRESS_MS) {
        double secs = (double)(mono_ms() - w->t0) / 1000.0;

        w->last_progress = mono_ms();
        log_info(w->lg, "cloud scan: %ld entries, %zu folders queued, %.0f entries/s",
                 w->st->entries, w->nq, secs > 0 ? (double)w->st->entries / secs : 0.0);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc == ERR_NOMEM)
        return err_set(wl->e, ERR_NOMEM, "out of memory");
    return rc;
}

/* An entry left out of the listing: the folder that held it goes into the snapshot. */
static void on_left_out(const struct dav_left_out *lo, void *ud)
{
    struct walk_list *wl = ud;
    struct walk *w = wl->w;
    struct err e = ERR_INIT;
    int rc;

    pthread_mutex_lock(&w->mu);
    /* where it lies is unknown: anything below the listed folder could be it */
    rc = lo->folder ? cloud_snap_add_left_out(w->cs, lo->folder, lo->is_dir || lo->below, &e)
                    : cloud_snap_add_left_out(w->cs, wl->dir, 1, &e);
    pthread_mutex_unlock(&w->mu);
    if (rc < 0 && wl->left_out_rc == 0)
        wl->left_out_rc = rc;
}

static void *walk_thread(void *arg)
{
    struct walk *w = arg;
    struct err e = ERR_INIT;
    struct dav *d = dav_new(w->opts, &e);

    pthread_mutex_lock(&w->mu);
    if (!d && !w->failed) {
        w->failed = 1;
        w->err = e;
        pthread_cond_broadcast(&w->cv);
    }
    while (d && !w->failed) {
        char *dir;
        struct walk_list wl;
        struct dav_stats ds;
        long skipped;
        int rc;

        if (w->nq == 0) {
            if (w->busy == 0)
                break;
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        dir = w->queue[--w->nq];
        w->busy++;
        w->st->cloud_requests++;
        pthread_mutex_unlock(&w->mu);

        memset(&wl, 0, sizeof(wl));
        wl.w = w;
        wl.dir = dir;
        wl.want_subdirs = 1;
        wl.e = &e;
        dav_stats(d, &ds);
        skipped = ds.skipped;
        rc = dav_propfind_ex(d, dir, 1, on_entry, &wl, on_left_out, &wl, &e);
        if (rc == 0 && wl.left_out_rc < 0)
            rc = err_set(&e, wl.left_out_rc, "out of memory");
        dav_stats(d, &ds);
        skipped = ds.skipped - skipped;
        if (rc == ERR_NOTFOUND && strcmp(dir, w->root) != 0) {
            rc = 0; /* vanished while we walked: the next pass sees it */
            free(wl.self_etag);
            wl.self_etag = NULL; /* and lists it again */
        }

        if (rc == 0 && w->next && !wl.self_etag && w->root_etag && strcmp(dir, w->root) == 0) {
            wl.self_etag = strdup(w->root_etag);
            if (!wl.self_etag)
                rc = err_set(&e, ERR_NOMEM, "out of memory");
        }
        pthread_mutex_lock(&w->mu);
        w->cs->skipped += skipped;
        /* a listing that left entries out is not kept: the next pass lists (and says) again */
        if (rc == 0 && w->next && wl.self_etag && skipped == 0) {
            /* remember this listing for the next pass (ownership of the kids moves) */
            struct state_dir *nd = state_add_dir(w->next, dir, wl.self_etag, &e);

            if (!nd) {
                rc = e.code;
            } else {
                nd->kids = wl.listing.kids;
                nd->n = wl.listing.n;
                nd->cap = wl.listing.cap;
                memset(&wl.listing, 0, sizeof(wl.listing));
            }
        }
        state_dir_release(&wl.listing);
        free(wl.self_etag);
        free(dir);
        w->busy--;
        if (rc < 0 && !w->failed) {
            w->failed = 1;
            w->err = e;
        }
        pthread_cond_broadcast(&w->cv);
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    dav_free(d);
    return NULL;
}

int scan_cloud_reuse(const struct scan_state *prev, const char *path, const char *etag,
                     struct cloud_snap *cs, struct scan_state *next,
                     int (*need)(const char *path, void *ud), void *ud, struct err *e)
{
    const struct state_dir *d = state_find_dir(prev, path);
    struct state_dir *nd;
    int rc;

    if (!d || !etag || !d->etag || strcmp(d->etag, etag) != 0)
        return 0;
    nd = state_add_dir(next, path, etag, e);
    if (!nd)
        return e->code;
    for (size_t i = 0; i < d->n; i++) {
        const struct snap_entry *k = &d->kids[i];

        rc = cloud_snap_add(cs, k, e);
        if (rc == 0)
            rc = state_dir_add_kid(nd, k, e);
        if (rc < 0)
            return rc;
    }
    /* nd may move when next grows: it is not used below */
    for (size_t i = 0; i < d->n; i++) {
        const struct snap_entry *k = &d->kids[i];

        if (!k->is_dir)
            continue;
        rc = scan_cloud_reuse(prev, k->path, k->etag, cs, next, need, ud, e);
        if (rc == 0) {
            rc = need(k->path, ud);
            if (rc < 0)
                return err_set(e, rc, "out of memory");
        }
        if (rc < 0)
            return rc;
    }
    return 1;
}

int scan_cloud(const struct dav_opts *opts, int parallel, const char *root, struct cloud_snap *cs,
               struct scan_stats *st, struct log *lg, struct err *e)
{
    return scan_cloud_state(opts, parallel, root, NULL, NULL, cs, st, lg, e);
}

int scan_root_path(const char *root, struct buf *out, struct err *e)
{
    int rc = buf_printf(out, "/%s", root[0] == '/' ? root + 1 : root);

    if (rc < 0)
        return err_set(e, rc, "root folder name too long");
    while (out->len > 1 && out->data[out->len - 1] == '/')
        out->data[--out->len] = '\0';
    return 0;
}

int scan_cloud_state(const struct dav_opts *opts, int parallel, const char *root,
                     const struct scan_state *prev, struct scan_state *next, struct cloud_snap *cs,
                     struct scan_stats *st, struct log *lg, struct err *e)
{
    struct walk w;
    struct buf rootp;
    struct dav *d = NULL;
    struct dav_stat rs;
    struct dav_opts own = *opts;
    struct dav_share *share = NULL;
    pthread_t th[16];
    int nth = 0;
    int rc;

    memset(&w, 0, sizeof(w));
    memset(&rs, 0, sizeof(rs));
    buf_init(&rootp, 4096);
    if (!own.share) {
        /* the walk's threads share DNS answers and TLS sessions (not connections) */
        share = dav_share_new(e);
        if (!share) {
            rc = e->code ? e->code : ERR_NOMEM;
            goto out;
        }
        own.share = share;
    }
    opts = &own;
    rc = scan_root_path(root, &rootp, e);
    if (rc < 0)
        goto out;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.cs = cs;
    w.root = rootp.data;
    w.st = st;
    w.lg = lg;
    w.opts = opts;
    w.t0 = w.last_progress = mono_ms();

    d = dav_new(opts, e);
    if (!d) {
        rc = e->code ? e->code : ERR_INTERNAL;
        goto destroy;
    }
    if (next) {
        /* ETags tell a changed subtree only where they propagate to the parents */
        enum dav_dialect dl = opts->dialect;

        if (dl == DAV_DIALECT_AUTO) {
            st->cloud_requests++;
            dl = dav_detect(d, e) < 0 ? DAV_DIALECT_GENERIC : dav_dialect(d);
            err_clear(e);
        }
        if (dl == DAV_DIALECT_NEXTCLOUD || dl == DAV_DIALECT_OWNCLOUD) {
            w.next = next;
            w.prev = prev;
        } else {
            log_debug(lg, "cloud scan: %s server, folder ETags do not propagate: full walk",
                      dav_dialect_name(dl));
        }
    }
    rc = dav_stat(d, w.root, &rs, e);
    st->cloud_requests++;
    if (rc == ERR_NOTFOUND) {
        struct dav_stat bs;

        /* a fresh cloud (nothing under the root yet), unless the base url itself is not
         * there: then every job would fail, say it once now */
        err_clear(e);
        memset(&bs, 0, sizeof(bs));
        rc = dav_stat(d, "/", &bs, e);
        st->cloud_requests++;
        dav_stat_release(&bs);
        if (rc == ERR_NOTFOUND)
            err_prefix(e, "the cloud url itself is not found (is cloud.url right?)");
        goto destroy;
    }
    if (rc < 0)
        goto destroy;
    w.root_etag = rs.etag;
    rc = w.prev ? scan_cloud_reuse(w.prev, w.root, rs.etag, cs, w.next, walk_need, &w, e) : 0;
    if (rc == 0)
        rc = walk_push(&w, w.root);
    else if (rc > 0)
        rc = 0;
    if (rc < 0) {
        if (!e->code)
            err_set(e, rc, "out of memory");
        goto destroy;
    }
    if (w.nq == 0)
        goto destroy; /* the whole tree was unchanged */
    if (parallel < 1)
        parallel = 1;
    if (parallel > (int)(sizeof(th) / sizeof(th[0])))
        parallel = (int)(sizeof(th) / sizeof(th[0]));
    for (nth = 0; nth < parallel; nth++)
        if (pthread_create(&th[nth], NULL, walk_thread, &w) != 0)
            break;
    if (nth == 0) {
        rc = err_set(e, ERR_INTERNAL, "cannot start the scan threads");
        goto destroy;
    }
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    if (w.failed) {
        *e = w.err;
        rc = e->code ? e->code : ERR_INTERNAL;
    }
destroy:
    for (size_t i = 0; i < w.nq; i++)
        free(w.queue[i]);
    free(w.queue);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
out:
    if (rc < 0)
        cs->complete = 0;
    st->entries = (long)cs->n; /* listed or reused */
    if (w.next) {
        state_sort(w.next);
        if (rc < 0 || !cs->complete)
            state_clear_dirs(w.next); /* never remember a partial walk */
    }
    st->cloud_ms = mono_ms() - w.t0;
    dav_stat_release(&rs);
    dav_free(d);
    dav_share_free(share); /* after every handle: the threads freed theirs before they ended */
    buf_release(&rootp);
    if (rc == 0) /* a failed scan has no figures to give: its error is the news */
        log_info(lg, "cloud scan: %ld entries in %lld ms, %ld requests", st->entries, st->cloud_ms,
                 st->cloud_requests);
    return rc;
}
