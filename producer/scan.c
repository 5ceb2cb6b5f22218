/*
 * scan: see scan.h. This file reads Odoo: the enabled document types
 * (scan_types) and, for each, the records matching its domain and their
 * attachments, then the stand-alone attachments (scan_odoo). A record that
 * matches several types has its attachments read once, with the first type of
 * its model that listed it.
 *
 * The other pieces of the scan, sharing scan_int.h: scan_unmatched.c checks
 * the records tagged in the cloud that no type listed; scan_cloud.c walks the
 * cloud tree.
 */
#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "att.h"
#include "buf.h"
#include "plan.h"
#include "scan_int.h"

#include "plural.h"
#include "banned.h"

long long scan_mono_ms(void)
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

const char *scan_json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

long scan_json_long(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

static int on_record(const cJSON *rec, void *ud)
{
    struct scan_rec *r = ud;
    long id = scan_json_long(rec, "id");
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
    rc = odoo_snap_add_record(r->os, r->type, r->model, id, scan_json_str(rec, "display_name"),
                              r->e);
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
    const char *type = scan_json_str(rec, "type");
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(rec, "file_size");

    memset(a, 0, sizeof(*a));
    a->id = scan_json_long(rec, "id");
    a->name = snap_lend(scan_json_str(rec, "name"));
    a->type = type && strcmp(type, "url") == 0 ? SNAP_ATT_URL : SNAP_ATT_BINARY;
    a->url = snap_lend(scan_json_str(rec, "url"));
    a->res_model = snap_lend(scan_json_str(rec, "res_model"));
    a->res_id = scan_json_long(rec, "res_id");
    a->checksum = snap_lend(scan_json_str(rec, "checksum"));
    a->file_size = cJSON_IsNumber(fs) ? (long long)fs->valuedouble : -1;
    a->write_date = snap_lend(scan_json_str(rec, "write_date"));
    a->mimetype = snap_lend(scan_json_str(rec, "mimetype"));
    a->technical = att_technical(type, scan_json_str(rec, "url"), scan_json_str(rec, "res_model"),
                                 a->res_id, scan_json_str(rec, "res_field"),
                                 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "public")));
    if (!a->name)
        a->name = snap_lend("");
}

static int on_att(const cJSON *rec, void *ud)
{
    struct scan_rec *r = ud;
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
int scan_atts_of(struct odoo *o, struct scan_rec *r, const char *model, const long *ids, size_t n,
                 struct scan_stats *st, struct err *e)
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
    struct scan_rec r;
    struct idset *seen = calloc(ntypes ? ntypes : 1, sizeof(*seen));
    long long t0 = scan_mono_ms();
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
    st->odoo_ms = scan_mono_ms() - t0;
    for (size_t i = 0; i < ntypes; i++)
        free(seen[i].ids);
    free(seen);
    free(r.ids);
    return rc;
}
