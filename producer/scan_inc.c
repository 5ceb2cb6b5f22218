/*
 * scan_inc: the incremental Odoo scan (see scan.h), which must give exactly
 * the snapshot the full scan (scan_odoo) gives, while reading little when
 * little changed.
 *
 * What it reads, in the order of the full scan:
 *   0. the watermark of this pass: per model involved (each type's model and
 *      ir.attachment) the latest write_date, one row each (order write_date
 *      desc, limit 1). Odoo's clock had reached it before anything below was
 *      read, so every transaction that began after that carries a write_date
 *      >= it; one that began earlier and commits after this pass read its rows
 *      carries its start (Odoo's now() is the transaction's start): the next
 *      pass re-reads from the watermark minus the overlap (scan.h
 *      SCAN_WM_OVERLAP_S: odoo.watermark_overlap_s, by default 10 minutes,
 *      longer than Odoo lets a request run). Then, when asked, the
 *      settled fingerprint at that watermark (settled.h), over the same rows.
 *   1. per type, the matching ids (search, ids only: the cheap listing);
 *      then the ids changed since the previous watermark (search_read with
 *      domain + write_date >= watermark - overlap: id, display_name); ids
 *      neither known nor changed are read (display_name). Ids gone from the
 *      listing are deleted or no longer match.
 *   2. per type, right after its records, the ids of the attachments of the
 *      records it owns (a record matching two types of one model belongs to
 *      the first, as in scan_odoo), SCAN_INC_ATT_CHUNK record ids per
 *      search; then the stand-alone attachment ids (res_model = False).
 *   3. the attachments changed since the watermark, one search_read over
 *      res_model in <models> (or False); ids neither known nor changed are
 *      read. A re-linked attachment has a new write_date, so it is re-read.
 * Every attachment search carries a ["res_field", "=", False] term: Odoo
 * hides the storage of binary fields only from searches that name neither
 * id nor res_field, and these (keyset pages) name id. Both scans and the
 * settled fingerprint so read the same rows, documents only (att.h).
 *
 * The snapshot is then built in the full scan's order: records in id order;
 * per type, the attachments of each chunk of SCAN_ATT_CHUNK owned record ids
 * in id order; then the stand-alone ones.
 *
 * A previous state that does not match (another server or user, another
 * domain, no watermark, older than SCAN_FULL_EVERY_S) counts as empty: that
 * part is read in full through the same code. Per-type refusals (AccessError,
 * a bad domain) mark the type as scan_ok = 0 like scan_odoo; any other error
 * is returned and the caller falls back to scan_odoo.
 */
#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "settled.h"

#include "plural.h"

#include "banned.h"

#define SCAN_LIST_PAGE 50000
#define SCAN_INC_ATT_CHUNK 10000
#define SCAN_READ_CHUNK 500

struct lvec {
    long *v;
    size_t n, cap;
};

static int lvec_push(struct lvec *l, long x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        long *p = realloc(l->v, cap * sizeof(*p));

        if (!p)
            return ERR_NOMEM;
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return (x > y) - (x < y);
}

static int lvec_has(const struct lvec *l, long x)
{
    return l->n && bsearch(&x, l->v, l->n, sizeof(long), cmp_long) != NULL;
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- write_date arithmetic ---- */

static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    long long era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static void civil_from_days(long long z, int *y, unsigned *m, unsigned *d)
{
    long long era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)((long long)yoe + era * 400 + (*m <= 2));
}

long scan_wm_overlap(const struct cfg *c)
{
    return c->odoo.watermark_overlap_s > 0 ? c->odoo.watermark_overlap_s : SCAN_WM_OVERLAP_S;
}

int scan_wd_shift(const char *wd, long seconds, char out[20])
{
    unsigned y, mo, d, h, mi, s;
    char tail;
    long long t;
    int yy;
    unsigned mm, dd;

    if (!wd || strlen(wd) < 19 ||
        sscanf(wd, "%4u-%2u-%2u %2u:%2u:%2u%c", &y, &mo, &d, &h, &mi, &s, &tail) < 6 || mo < 1 ||
        mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return -1;
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s + seconds;
    civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &yy, &mm, &dd);
    t -= (t >= 0 ? t / 86400 : (t - 86399) / 86400) * 86400;
    if (yy < 1 || yy > 9999)
        return -1;
    snprintf(out, 20, "%04d-%02u-%02u %02d:%02d:%02d", yy, mm, dd, (int)(t / 3600),
             (int)(t / 60 % 60), (int)(t % 60));
    return 0;
}

/* ---- domains ---- */

/* dom (may be NULL = []) duplicated; NULL on ENOMEM. */
static cJSON *dom_copy(const cJSON *dom)
{
    return dom ? cJSON_Duplicate(dom, 1) : cJSON_CreateArray();
}

static int dom_and(cJSON *dom, cJSON *leaf)
{
    if (!dom || !leaf || !cJSON_AddItemToArray(dom, leaf)) {
        cJSON_Delete(leaf);
        return ERR_NOMEM;
    }
    return 0;
}

cJSON *scan_dom_with(const cJSON *dom, const char *field, const char *op, cJSON *value)
{
    cJSON *d = dom_copy(dom);

    if (dom_and(d, scan_leaf(field, op, value)) < 0) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}

/*
 * Every id matching dom (borrowed), ascending, appended to out: keyset pages of
 * SCAN_LIST_PAGE ids with an ["id", ">", last] term.
 */
static int list_ids(struct odoo *o, const char *model, const cJSON *dom, struct lvec *out,
                    struct scan_stats *st, struct err *e)
{
    cJSON *d = dom_copy(dom);
    cJSON *term = scan_leaf("id", ">", cJSON_CreateNumber(0));
    cJSON *last_val;
    long last = 0;
    int rc = 0;

    if (dom_and(d, term) < 0) {
        cJSON_Delete(d);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    last_val = cJSON_GetArrayItem(term, 2);
    for (;;) {
        long *ids = NULL;
        size_t n = 0;

        cJSON_SetNumberValue(last_val, (double)last);
        rc = odoo_search(o, model, d, 0, SCAN_LIST_PAGE, "id", &ids, &n, e);
        st->odoo_requests++;
        if (rc < 0)
            break;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (ids[i] <= last) {
                rc = err_set(e, ERR_PROTO, "%s: search answered ids out of order", model);
                break;
            }
            last = ids[i];
            st->ids_listed++;
            if (lvec_push(out, ids[i]) < 0)
                rc = err_set(e, ERR_NOMEM, "out of memory");
        }
        free(ids);
        if (rc < 0 || n < SCAN_LIST_PAGE)
            break;
    }
    cJSON_Delete(d);
    return rc;
}

int scan_list_ids(struct odoo *o, const char *model, const cJSON *dom, long **ids, size_t *n,
                  struct scan_stats *st, struct err *e)
{
    struct lvec l;
    int rc;

    memset(&l, 0, sizeof(l));
    rc = list_ids(o, model, dom, &l, st, e);
    if (rc < 0) {
        free(l.v);
        l.v = NULL;
        l.n = 0;
    }
    *ids = l.v;
    *n = l.n;
    return rc;
}

/* ---- the watermark of this pass ---- */

static void max_wd(const char *wd, char best[20])
{
    if (wd && strlen(wd) >= 19 && strncmp(wd, best, 19) > 0) {
        memcpy(best, wd, 19);
        best[19] = '\0';
    }
}

/* The latest write_date of model into best (errors only lower the watermark: ignored). */
static void latest_write_date(struct odoo *o, const char *model, char best[20],
                              struct scan_stats *st, struct log *lg)
{
    static const char *const f[] = {"write_date", NULL};
    struct err e = ERR_INIT;
    cJSON *rows = NULL;
    const cJSON *r;

    st->odoo_requests++;
    if (odoo_search_read(o, model, NULL, f, 0, 1, "write_date desc", &rows, &e) < 0) {
        log_debug(lg, "watermark of %s: %s", model, e.msg);
        return;
    }
    cJSON_ArrayForEach(r, rows)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "write_date");

        if (cJSON_IsString(v))
            max_wd(v->valuestring, best);
    }
    cJSON_Delete(rows);
}

/* ---- records ---- */

struct named {
    long id;
    char *name; /* borrowed (from a state) or owned (names_owned) */
};

static int cmp_named(const void *a, const void *b)
{
    long x = ((const struct named *)a)->id, y = ((const struct named *)b)->id;

    return (x > y) - (x < y);
}

struct rows {
    struct named *v;
    size_t n, cap;
};

static int rows_add(struct rows *r, long id, const char *name)
{
    char *copy = NULL;

    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct named *p = realloc(r->v, cap * sizeof(*p));

        if (!p)
            return ERR_NOMEM;
        r->v = p;
        r->cap = cap;
    }
    if (name) {
        copy = strdup(name);
        if (!copy)
            return ERR_NOMEM;
    }
    r->v[r->n].id = id;
    r->v[r->n].name = copy;
    r->n++;
    return 0;
}

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].name);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static const struct named *rows_find(const struct rows *r, long id)
{
    struct named key;

    if (!r->n)
        return NULL;
    key.id = id;
    key.name = NULL;
    return bsearch(&key, r->v, r->n, sizeof(*r->v), cmp_named);
}

static const struct state_rec *prev_find(const struct state_type *pt, long id)
{
    size_t lo = 0, hi = pt ? pt->n : 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (pt->v[mid].id == id)
            return &pt->v[mid];
        if (pt->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int on_named(const cJSON *rec, void *ud)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(rec, "display_name");

    if (!cJSON_IsNumber(id))
        return ERR_PROTO;
    return rows_add(ud, (long)id->valuedouble, cJSON_IsString(dn) ? dn->valuestring : NULL);
}

/* display_name of ids (SCAN_READ_CHUNK per request) into got (then sorted). */
static int read_names(struct odoo *o, const char *model, const long *ids, size_t n,
                      struct rows *got, struct scan_stats *st, struct err *e)
{
    static const char *const f[] = {"display_name", NULL};

    for (size_t off = 0; off < n; off += SCAN_READ_CHUNK) {
        size_t k = n - off < SCAN_READ_CHUNK ? n - off : SCAN_READ_CHUNK;
        cJSON *recs = NULL;
        const cJSON *r;
        int rc = odoo_read(o, model, ids + off, k, f, &recs, e);

        st->odoo_requests++;
        if (rc < 0)
            return rc;
        st->rows_read += cJSON_GetArraySize(recs);
        cJSON_ArrayForEach(r, recs)
        {
            rc = on_named(r, got);
            if (rc < 0) {
                cJSON_Delete(recs);
                return rc == ERR_NOMEM
                           ? err_set(e, rc, "out of memory")
                           : err_set(e, rc, "%s: read answered a row without id", model);
            }
        }
        cJSON_Delete(recs);
    }
    if (got->n > 1)
        qsort(got->v, got->n, sizeof(*got->v), cmp_named);
    return 0;
}

/*
 * One type: its records into os->types[k] and next (entry `key`). pt: the
 * previous entry or NULL (then everything is read); wm: watermark - overlap.
 */
static int scan_type(struct odoo *o, const struct cfg_type *t, size_t k, const char *key,
                     const struct state_type *pt, const char *wm, struct odoo_snap *os,
                     struct scan_state *next, struct lvec *ids, struct scan_stats *st,
                     struct err *e)
{
    static const char *const f[] = {"id", "display_name", NULL};
    struct rows changed, got;
    struct lvec need;
    struct state_type *nt = NULL;
    int rc;

    memset(&changed, 0, sizeof(changed));
    memset(&got, 0, sizeof(got));
    memset(&need, 0, sizeof(need));
    ids->n = 0;
    rc = list_ids(o, t->model, t->domain_json, ids, st, e);
    if (rc < 0)
        goto out;
    if (pt && ids->n) {
        cJSON *d = dom_copy(t->domain_json);

        if (dom_and(d, scan_leaf("write_date", ">=", cJSON_CreateString(wm))) < 0) {
            cJSON_Delete(d);
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        rc = odoo_search_read_each(o, t->model, d, f, SCAN_PAGE, on_named, &changed, e);
        st->odoo_requests++;
        st->rows_read += (long)changed.n;
        cJSON_Delete(d);
        if (rc == ERR_NOMEM || rc == ERR_PROTO)
            rc = err_set(e, rc, "%s: reading changed records", t->model);
        if (rc < 0)
            goto out;
    }
    for (size_t i = 0; i < ids->n; i++)
        if (!rows_find(&changed, ids->v[i]) && !prev_find(pt, ids->v[i]) &&
            lvec_push(&need, ids->v[i]) < 0) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
    rc = read_names(o, t->model, need.v, need.n, &got, st, e);
    if (rc < 0)
        goto out;
    nt = state_add_type(next, key, e);
    if (!nt) {
        rc = e->code;
        goto out;
    }
    {
        size_t kept = 0;

        for (size_t i = 0; i < ids->n; i++) {
            long id = ids->v[i];
            const struct named *c = rows_find(&changed, id);
            const struct state_rec *p = c ? NULL : prev_find(pt, id);
            const struct named *g = c || p ? NULL : rows_find(&got, id);
            const char *name;

            if (c)
                name = c->name;
            else if (p)
                name = p->name;
            else if (g)
                name = g->name;
            else
                continue; /* deleted between the listing and the read */
            rc = odoo_snap_add_record(os, k, t->model, id, name, e);
            if (rc == 0)
                rc = state_type_add(nt, id, name, e);
            if (rc < 0)
                goto out;
            ids->v[kept++] = id;
        }
        ids->n = kept;
    }
out:
    rows_free(&changed);
    rows_free(&got);
    free(need.v);
    return rc;
}

/* ---- attachments ---- */

/* A record matching several types of one model belongs to the first (as scan_odoo). */
struct owned {
    struct lvec recs; /* owned record ids, ascending */
    struct lvec atts; /* attachment ids listed for them */
    int ok;
};

static void drop_owned(const struct cfg *c, size_t cfg_index, const struct owned *own,
                       struct lvec *ids)
{
    size_t k = 0;

    for (size_t i = 0; i < cfg_index; i++) {
        if (!c->types[i].enabled)
            continue;
        if (own[k].ok && strcmp(c->types[i].model, c->types[cfg_index].model) == 0) {
            size_t kept = 0;

            for (size_t j = 0; j < ids->n; j++)
                if (!lvec_has(&own[k].recs, ids->v[j]))
                    ids->v[kept++] = ids->v[j];
            ids->n = kept;
        }
        k++;
    }
}

static int list_atts_of(struct odoo *o, const char *model, const struct lvec *recs,
                        struct lvec *out, struct scan_stats *st, struct err *e)
{
    for (size_t off = 0; off < recs->n; off += SCAN_INC_ATT_CHUNK) {
        size_t k = recs->n - off < SCAN_INC_ATT_CHUNK ? recs->n - off : SCAN_INC_ATT_CHUNK;
        cJSON *dom = cJSON_CreateArray();
        cJSON *in = cJSON_CreateArray();
        int rc;

        if (!dom || !in) {
            cJSON_Delete(dom);
            cJSON_Delete(in);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < k; i++)
            cJSON_AddItemToArray(in, cJSON_CreateNumber((double)recs->v[off + i]));
        if (dom_and(dom, scan_leaf("res_model", "=", cJSON_CreateString(model))) < 0 ||
            dom_and(dom, scan_leaf("res_id", "in", in)) < 0 ||
            dom_and(dom, scan_leaf("res_field", "=", cJSON_CreateFalse())) < 0) {
            cJSON_Delete(dom);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        rc = list_ids(o, "ir.attachment", dom, out, st, e);
        cJSON_Delete(dom);
        if (rc < 0)
            return rc;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(long), cmp_long);
    return 0;
}

static int on_att_row(const cJSON *rec, void *ud)
{
    struct scan_state *rows = ud;
    struct snap_att a;
    struct err e = ERR_INIT;

    scan_att_from_json(rec, &a);
    return state_add_att(rows, &a, &e);
}

/* The row of attachment id: changed, else previous, else read. */
static const struct snap_att *att_row(const struct scan_state *changed,
                                      const struct scan_state *prev, const struct scan_state *got,
                                      long id)
{
    const struct snap_att *a = state_find_att(changed, id);

    if (!a && prev)
        a = state_find_att(prev, id);
    if (!a)
        a = state_find_att(got, id);
    return a;
}

struct placed {
    const struct snap_att *a;
    size_t chunk;
};

static int cmp_placed(const void *x, const void *y)
{
    const struct placed *a = x, *b = y;

    if (a->chunk != b->chunk)
        return a->chunk < b->chunk ? -1 : 1;
    return (a->a->id > b->a->id) - (a->a->id < b->a->id);
}

/* Add the attachments ids (rows found) to os in the full scan's order, and to next. */
static int place_atts(const struct lvec *recs, const struct lvec *atts,
                      const struct scan_state *changed, const struct scan_state *prev,
                      const struct scan_state *got, struct odoo_snap *os, struct scan_state *next,
                      struct err *e)
{
    struct placed *p = calloc(atts->n ? atts->n : 1, sizeof(*p));
    size_t np = 0;
    int rc = 0;

    if (!p)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < atts->n; i++) {
        const struct snap_att *a = att_row(changed, prev, got, atts->v[i]);
        const long *at;

        if (!a)
            continue; /* deleted between the listing and the read */
        p[np].a = a;
        p[np].chunk = 0;
        if (recs) {
            at = recs->n ? bsearch(&a->res_id, recs->v, recs->n, sizeof(long), cmp_long) : NULL;
            p[np].chunk = at ? (size_t)(at - recs->v) / SCAN_ATT_CHUNK : (size_t)-1;
        }
        np++;
    }
    qsort(p, np, sizeof(*p), cmp_placed);
    for (size_t i = 0; i < np && rc == 0; i++) {
        rc = odoo_snap_add_att(os, p[i].a, e);
        if (rc == 0)
            rc = state_add_att(next, p[i].a, e);
    }
    free(p);
    return rc;
}

static int add_model(const char ***models, size_t *n, const char *m)
{
    const char **v;

    for (size_t i = 0; i < *n; i++)
        if (strcmp((*models)[i], m) == 0)
            return 0;
    v = realloc(*models, (*n + 1) * sizeof(*v));
    if (!v)
        return ERR_NOMEM;
    v[(*n)++] = m;
    *models = v;
    return 0;
}

int scan_models(const struct cfg *c, const char ***models, size_t *n)
{
    for (size_t i = 0; i < c->ntypes; i++)
        if (c->types[i].enabled && add_model(models, n, c->types[i].model) < 0)
            return ERR_NOMEM;
    return 0;
}

cJSON *scan_atts_domain(const char *const *models, size_t nmodels, int standalone)
{
    cJSON *dom = cJSON_CreateArray();
    cJSON *in = cJSON_CreateArray();

    if (!dom || !in)
        goto nomem;
    for (size_t i = 0; i < nmodels; i++)
        if (!cJSON_AddItemToArray(in, cJSON_CreateString(models[i])))
            goto nomem;
    if (nmodels && standalone) {
        if (!cJSON_AddItemToArray(dom, cJSON_CreateString("|")))
            goto nomem;
        if (dom_and(dom, scan_leaf("res_model", "in", in)) < 0 ||
            dom_and(dom, scan_leaf("res_model", "=", cJSON_CreateFalse())) < 0)
            goto nomem_in_owned;
    } else if (nmodels) {
        if (dom_and(dom, scan_leaf("res_model", "in", in)) < 0)
            goto nomem_in_owned;
    } else {
        cJSON_Delete(in);
        if (dom_and(dom, scan_leaf("res_model", "=", cJSON_CreateFalse())) < 0)
            goto nomem_in_owned;
    }
    if (dom_and(dom, scan_leaf("res_field", "=", cJSON_CreateFalse())) < 0)
        goto nomem_in_owned;
    return dom;
nomem:
    cJSON_Delete(in);
nomem_in_owned:
    cJSON_Delete(dom);
    return NULL;
}

/* Attachments changed since wm among res_model in models (or False), into changed. */
static int read_changed_atts(struct odoo *o, const char *const *models, size_t nmodels,
                             int standalone, const char *wm, struct scan_state *changed,
                             struct scan_stats *st, struct err *e)
{
    cJSON *dom = scan_atts_domain(models, nmodels, standalone);
    int rc;

    if (dom_and(dom, scan_leaf("write_date", ">=", cJSON_CreateString(wm))) < 0) {
        cJSON_Delete(dom);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = odoo_search_read_each(o, "ir.attachment", dom, scan_att_fields(), SCAN_PAGE, on_att_row,
                               changed, e);
    st->odoo_requests++;
    st->rows_read += (long)changed->natts;
    if (rc == ERR_NOMEM)
        rc = err_set(e, rc, "out of memory");
    cJSON_Delete(dom);
    state_sort(changed);
    return rc;
}

static int read_atts(struct odoo *o, const long *ids, size_t n, struct scan_state *got,
                     struct scan_stats *st, struct err *e)
{
    for (size_t off = 0; off < n; off += SCAN_READ_CHUNK) {
        size_t k = n - off < SCAN_READ_CHUNK ? n - off : SCAN_READ_CHUNK;
        cJSON *recs = NULL;
        const cJSON *r;
        int rc = odoo_read(o, "ir.attachment", ids + off, k, scan_att_fields(), &recs, e);

        st->odoo_requests++;
        if (rc < 0)
            return rc;
        st->rows_read += cJSON_GetArraySize(recs);
        cJSON_ArrayForEach(r, recs)
        {
            if (on_att_row(r, got) < 0) {
                cJSON_Delete(recs);
                return err_set(e, ERR_NOMEM, "out of memory");
            }
        }
        cJSON_Delete(recs);
    }
    state_sort(got);
    return 0;
}

int scan_odoo_inc(struct odoo *o, const struct cfg *c, struct plan_type *types, size_t ntypes,
                  const struct scan_state *prev_in, struct scan_state *next, struct settled *cap,
                  int *was_full, struct odoo_snap *os, struct scan_stats *st, struct log *lg,
                  struct err *e)
{
    struct owned *own = calloc(ntypes ? ntypes : 1, sizeof(*own));
    struct scan_state changed, got;
    struct lvec standalone, need, ids;
    const struct scan_state *prev = NULL;
    const char **models = NULL;
    size_t nmodels = 0;
    char *okey = state_odoo_key(c);
    char wm_next[20] = "";
    char wm[20] = "";
    long long t0 = mono_ms();
    long long now = (long long)time(NULL);
    size_t k = 0;
    int rc = 0;

    state_init(&changed);
    state_init(&got);
    memset(&standalone, 0, sizeof(standalone));
    memset(&need, 0, sizeof(need));
    memset(&ids, 0, sizeof(ids));
    if (!own || !okey) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    /* Is the previous state usable at all? */
    if (prev_in && prev_in->odoo_key && strcmp(prev_in->odoo_key, okey) == 0 &&
        prev_in->watermark && scan_wd_shift(prev_in->watermark, -scan_wm_overlap(c), wm) == 0 &&
        now - prev_in->full_at < SCAN_FULL_EVERY_S && now >= prev_in->full_at)
        prev = prev_in;
    else if (prev_in && prev_in->odoo_key)
        log_info(lg, "scan state: %s; Odoo is scanned in full",
                 strcmp(prev_in->odoo_key, okey) != 0 ? "another server, database or user"
                 : !prev_in->watermark                ? "no watermark"
                                                      : "last full scan too old");
    *was_full = prev == NULL;
    rc = state_set_str(&next->odoo_key, okey, e);
    if (rc < 0)
        goto out;
    next->full_at = prev ? prev->full_at : now;

    /* 0. the watermark for the next pass, before anything is read */
    if (scan_models(c, &models, &nmodels) < 0) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nmodels; i++)
        latest_write_date(o, models[i], wm_next, st, lg);
    latest_write_date(o, "ir.attachment", wm_next, st, lg);
    nmodels = 0;
    if (cap && wm_next[0]) {
        /* the settled fingerprint now: whatever changes from here on shows in the next one */
        struct err pe = ERR_INIT;

        if (settled_probe_odoo(o, c, wm_next, cap, st, &pe) < 0)
            log_debug(lg, "no settled fingerprint this pass: %s", pe.msg);
    }

    /* 1 + 2. per type: records, then the ids of its attachments */
    for (size_t i = 0; i < c->ntypes && k < ntypes; i++) {
        const struct cfg_type *t = &c->types[i];
        char *key;
        const struct state_type *pt;
        size_t ntypes_before = next->ntypes;

        if (!t->enabled)
            continue;
        key = state_type_key(t);
        if (!key) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        pt = prev ? state_find_type(prev, key) : NULL;
        rc = scan_type(o, t, k, key, pt, wm, os, next, &ids, st, e);
        free(key);
        if (rc == 0) {
            own[k].recs = ids;
            memset(&ids, 0, sizeof(ids));
            drop_owned(c, i, own, &own[k].recs);
            rc = list_atts_of(o, t->model, &own[k].recs, &own[k].atts, st, e);
        }
        if (rc == ERR_ACCESS || rc == ERR_INVALID || rc == ERR_NOTFOUND) {
            log_error(lg,
                      "type \"%s\" (model %s, domain %s): Odoo refused its scan: %s; the type is "
                      "not synced this pass (exit 4)",
                      t->folder, t->model, t->domain ? t->domain : "[]", e->msg);
            types[k].scan_ok = 0;
            for (size_t j = 0; j < os->types[k].n; j++) {
                free(os->types[k].v[j].model);
                free(os->types[k].v[j].display_name);
            }
            os->types[k].n = 0;
            /* its state entry (if added) is dropped: the next pass reads it in full */
            while (next->ntypes > ntypes_before) {
                struct state_type *nt = &next->types[--next->ntypes];

                for (size_t j = 0; j < nt->n; j++)
                    free(nt->v[j].name);
                free(nt->v);
                free(nt->key);
            }
            free(own[k].recs.v);
            free(own[k].atts.v);
            memset(&own[k], 0, sizeof(own[k]));
            err_clear(e);
            rc = 0;
        } else if (rc < 0) {
            err_prefix(e, "scanning type \"%s\" (%s)", t->folder, t->model);
            goto out;
        } else {
            own[k].ok = 1;
            if (add_model(&models, &nmodels, t->model) < 0) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        st->records += (long)os->types[k].n;
        log_info(lg, "scanned type \"%s\": %zu %s", t->folder, os->types[k].n,
                 PLURAL(os->types[k].n, "record", "records"));
        k++;
    }
    if (c->standalone.enabled) {
        cJSON *dom = cJSON_CreateArray();

        if (dom_and(dom, scan_leaf("res_model", "=", cJSON_CreateFalse())) < 0 ||
            dom_and(dom, scan_leaf("res_field", "=", cJSON_CreateFalse())) < 0) {
            cJSON_Delete(dom);
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        rc = list_ids(o, "ir.attachment", dom, &standalone, st, e);
        cJSON_Delete(dom);
        if (rc < 0) {
            err_prefix(e, "scanning stand-alone attachments");
            goto out;
        }
    }

    /* 3. attachment rows: changed since the watermark, else known, else read */
    if (prev && prev->have_atts && (nmodels || c->standalone.enabled)) {
        rc = read_changed_atts(o, models, nmodels, c->standalone.enabled, wm, &changed, st, e);
        if (rc < 0) {
            err_prefix(e, "scanning changed attachments");
            goto out;
        }
    } else {
        prev = NULL; /* no usable attachment rows: read them all */
    }
    for (size_t j = 0; j <= k; j++) {
        const struct lvec *l = j < k ? &own[j].atts : &standalone;

        for (size_t i = 0; i < l->n; i++)
            if (!att_row(&changed, prev, &got, l->v[i]) && lvec_push(&need, l->v[i]) < 0) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
    }
    rc = read_atts(o, need.v, need.n, &got, st, e);
    if (rc < 0) {
        err_prefix(e, "reading attachments");
        goto out;
    }
    for (size_t j = 0; j < k && rc == 0; j++)
        if (own[j].ok)
            rc = place_atts(&own[j].recs, &own[j].atts, &changed, prev, &got, os, next, e);
    if (rc == 0)
        rc = place_atts(NULL, &standalone, &changed, prev, &got, os, next, e);
    if (rc < 0)
        goto out;
    state_sort(next);
    next->have_atts = 1;
    if (wm_next[0])
        rc = state_set_str(&next->watermark, wm_next, e);
    st->attachments = (long)os->natts;
    log_info(lg, "odoo scan (%s): %ld %s, %ld %s; %ld ids listed, %ld rows read, %ld requests",
             *was_full ? "full" : "incremental", st->records,
             PLURAL(st->records, "record", "records"), st->attachments,
             PLURAL(st->attachments, "attachment", "attachments"), st->ids_listed, st->rows_read,
             st->odoo_requests);
out:
    if (rc < 0)
        os->complete = 0;
    st->odoo_ms = mono_ms() - t0;
    for (size_t i = 0; own && i < ntypes; i++) {
        free(own[i].recs.v);
        free(own[i].atts.v);
    }
    free(own);
    free(models);
    free(okey);
    free(standalone.v);
    free(need.v);
    free(ids.v);
    state_release(&changed);
    state_release(&got);
    return rc;
}
