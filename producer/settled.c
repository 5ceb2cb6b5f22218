/*
 * settled: see settled.h.
 */
#include "settled.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "state.h"

#include "banned.h"

#define SETTLED_MAX_BYTES (1L << 20)

void settled_init(struct settled *s)
{
    memset(s, 0, sizeof(*s));
}

void settled_release(struct settled *s)
{
    free(s->root_etag);
    free(s->types);
    memset(s, 0, sizeof(*s));
}

/* ---- the configuration ---- */

/* One field into the digest: its bytes and a separator no field holds. */
static int put_field(struct sha1_ctx *h, const char *s, struct err *e)
{
    if (s && sha1_update(h, s, strlen(s), e) < 0)
        return e->code;
    return sha1_update(h, s ? "\x1f" : "\x1e", 1, e);
}

int settled_config(const struct cfg *c, char out[SHA1_HEX_SIZE], struct err *e)
{
    struct sha1_ctx h;
    char num[64];
    char *ok = state_odoo_key(c), *ck = state_cloud_key(c);
    int rc;

    if (!ok || !ck) {
        free(ok);
        free(ck);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = sha1_init(&h, e);
    if (rc == 0)
        rc = put_field(&h, ok, e);
    if (rc == 0)
        rc = put_field(&h, ck, e);
    /* another release may plan otherwise */
    snprintf(num, sizeof(num), "odoosync %s dialect %d standalone %d share %.6f", ODOOSYNC_VERSION,
             (int)c->cloud.dialect, c->standalone.enabled, c->safety.max_delete_share);
    if (rc == 0)
        rc = put_field(&h, num, e);
    if (rc == 0)
        rc = put_field(&h, c->standalone.folder, e);
    snprintf(num, sizeof(num), "unmatched %d link_form %d", c->unmatched.policy,
             (int)c->cloud.link_form);
    if (rc == 0)
        rc = put_field(&h, num, e);
    if (rc == 0)
        rc = put_field(&h, c->unmatched.folder, e);
    for (size_t i = 0; i < c->ntypes && rc == 0; i++) {
        const struct cfg_type *t = &c->types[i];

        if (!t->enabled)
            continue;
        snprintf(num, sizeof(num), "direction %d", (int)t->direction);
        rc = put_field(&h, t->folder, e);
        if (rc == 0)
            rc = put_field(&h, t->model, e);
        if (rc == 0)
            rc = put_field(&h, t->domain ? t->domain : "[]", e);
        if (rc == 0)
            rc = put_field(&h, num, e);
    }
    if (rc == 0)
        rc = sha1_final(&h, out, e);
    sha1_release(&h);
    free(ok);
    free(ck);
    return rc;
}

/* ---- the Odoo fingerprint ---- */

struct rows_digest {
    struct sha1_ctx h;
    struct err *e;
    int atts; /* attachment rows, else records */
};

static const char *str_or_false(const cJSON *rec, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int on_row(const cJSON *rec, void *ud)
{
    struct rows_digest *d = ud;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    char num[96];
    int rc;

    if (!cJSON_IsNumber(id))
        return err_set(d->e, ERR_PROTO, "a row without id");
    if (!d->atts) {
        snprintf(num, sizeof(num), "%ld", (long)id->valuedouble);
        rc = put_field(&d->h, num, d->e);
        if (rc == 0)
            rc = put_field(&d->h, str_or_false(rec, "display_name"), d->e);
        if (rc == 0)
            rc = put_field(&d->h, str_or_false(rec, "write_date"), d->e);
        return rc;
    }
    {
        struct snap_att a;

        scan_att_from_json(rec, &a);
        snprintf(num, sizeof(num), "%ld %d %ld %lld", a.id, (int)a.type, a.res_id, a.file_size);
        rc = put_field(&d->h, num, d->e);
        if (rc == 0)
            rc = put_field(&d->h, a.name, d->e);
        if (rc == 0)
            rc = put_field(&d->h, a.url, d->e);
        if (rc == 0)
            rc = put_field(&d->h, a.res_model, d->e);
        if (rc == 0)
            rc = put_field(&d->h, a.checksum, d->e);
        if (rc == 0)
            rc = put_field(&d->h, a.write_date, d->e);
        if (rc == 0)
            rc = put_field(&d->h, a.mimetype, d->e);
        return rc;
    }
}

/* records: the ids matching dom, their count and the digest of the ids in id order */
static int probe_ids(struct odoo *o, const char *model, const cJSON *dom, struct settled_fp *fp,
                     struct scan_stats *st, struct err *e)
{
    struct sha1_ctx h;
    long *ids = NULL;
    size_t n = 0;
    char num[32];
    int rc = scan_list_ids(o, model, dom, &ids, &n, st, e);

    if (rc == 0)
        rc = sha1_init(&h, e);
    if (rc == 0) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            snprintf(num, sizeof(num), "%ld", ids[i]);
            rc = put_field(&h, num, e);
        }
        if (rc == 0)
            rc = sha1_final(&h, fp->ids, e);
        sha1_release(&h);
    }
    fp->count = (long)n;
    free(ids);
    return rc;
}

/*
 * count of dom (records: and the digest of the matching ids), and the digest of
 * its rows with write_date >= wm (id order)
 */
static int probe_one(struct odoo *o, const char *model, const cJSON *dom, const char *wm,
                     const char *const *fields, int atts, struct settled_fp *fp,
                     struct scan_stats *st, struct err *e)
{
    struct rows_digest d;
    cJSON *since = scan_dom_with(dom, "write_date", ">=", cJSON_CreateString(wm));
    int rc;

    if (!since)
        return err_set(e, ERR_NOMEM, "out of memory");
    fp->ids[0] = 0;
    if (atts) {
        rc = odoo_search_count(o, model, dom, &fp->count, e);
        st->odoo_requests++;
    } else {
        rc = probe_ids(o, model, dom, fp, st, e);
    }
    if (rc == 0) {
        d.e = e;
        d.atts = atts;
        rc = sha1_init(&d.h, e);
        if (rc == 0)
            rc = odoo_search_read_each(o, model, since, fields, SCAN_PAGE, on_row, &d, e);
        st->odoo_requests++;
        if (rc == 0)
            rc = sha1_final(&d.h, fp->digest, e);
        sha1_release(&d.h);
    }
    cJSON_Delete(since);
    return rc;
}

/* the attachments the scans read, with an id term (as the scans: see scan_inc.c) */
static cJSON *atts_domain(const struct cfg *c)
{
    const char **models = NULL;
    size_t n = 0;
    cJSON *dom = NULL, *out = NULL;

    if (scan_models(c, &models, &n) == 0)
        dom = scan_atts_domain(models, n, c->standalone.enabled);
    if (dom)
        out = scan_dom_with(dom, "id", ">", cJSON_CreateNumber(0));
    cJSON_Delete(dom);
    free(models);
    return out;
}

int settled_probe_odoo(struct odoo *o, const struct cfg *c, const char *watermark,
                       struct settled *s, struct scan_stats *st, struct err *e)
{
    static const char *const rec_fields[] = {"id", "display_name", "write_date", NULL};
    char wm[20];
    cJSON *dom = NULL;
    size_t k = 0;
    int rc = 0;

    s->ok = 0;
    if (!watermark || strlen(watermark) != 19 ||
        scan_wd_shift(watermark, -scan_wm_overlap(c), wm) < 0)
        return err_set(e, ERR_INVALID, "no watermark");
    memcpy(s->watermark, watermark, 20);
    free(s->types);
    s->ntypes = 0;
    s->types = calloc(c->ntypes ? c->ntypes : 1, sizeof(*s->types));
    if (!s->types)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->ntypes && rc == 0; i++) {
        if (!c->types[i].enabled)
            continue;
        rc = probe_one(o, c->types[i].model, c->types[i].domain_json, wm, rec_fields, 0,
                       &s->types[k++], st, e);
    }
    s->ntypes = k;
    if (rc == 0) {
        dom = atts_domain(c);
        rc = dom ? probe_one(o, "ir.attachment", dom, wm, scan_att_fields(), 1, &s->atts, st, e)
                 : err_set(e, ERR_NOMEM, "out of memory");
    }
    cJSON_Delete(dom);
    s->ok = rc == 0;
    return rc;
}

static int same_fp(const struct settled_fp *a, const struct settled_fp *b)
{
    return a->count == b->count && strcmp(a->digest, b->digest) == 0 && strcmp(a->ids, b->ids) == 0;
}

int settled_same_odoo(const struct settled *a, const struct settled *b)
{
    if (!a->ok || !b->ok || a->ntypes != b->ntypes || strcmp(a->watermark, b->watermark) != 0 ||
        !same_fp(&a->atts, &b->atts))
        return 0;
    for (size_t i = 0; i < a->ntypes; i++)
        if (!same_fp(&a->types[i], &b->types[i]))
            return 0;
    return 1;
}

/* ---- the text ---- */

static cJSON *fp_json(const struct settled_fp *fp)
{
    cJSON *a = cJSON_CreateArray();

    if (a && (!cJSON_AddItemToArray(a, cJSON_CreateNumber((double)fp->count)) ||
              !cJSON_AddItemToArray(a, cJSON_CreateString(fp->digest)) ||
              (fp->ids[0] && !cJSON_AddItemToArray(a, cJSON_CreateString(fp->ids))))) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

int settled_encode(const struct settled *s, char **out, struct err *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *types = cJSON_CreateArray();
    int ok = o && types;

    *out = NULL;
    ok = ok && cJSON_AddNumberToObject(o, "version", SETTLED_VERSION);
    ok = ok && cJSON_AddStringToObject(o, "config", s->config);
    ok = ok && cJSON_AddStringToObject(o, "watermark", s->watermark);
    ok = ok && cJSON_AddNumberToObject(o, "full_at", (double)s->full_at);
    ok = ok && cJSON_AddStringToObject(o, "root_etag", s->root_etag ? s->root_etag : "");
    ok = ok && cJSON_AddNumberToObject(o, "records", (double)s->records);
    ok = ok && cJSON_AddNumberToObject(o, "attachments", (double)s->attachments);
    ok = ok && cJSON_AddNumberToObject(o, "managed", (double)s->managed);
    for (size_t i = 0; ok && i < s->ntypes; i++)
        ok = cJSON_AddItemToArray(types, fp_json(&s->types[i]));
    ok = ok && cJSON_AddItemToObject(o, "types", types);
    if (ok)
        types = NULL;
    ok = ok && cJSON_AddItemToObject(o, "atts", fp_json(&s->atts));
    if (ok)
        *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(types);
    cJSON_Delete(o);
    return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* [count, digest] (attachments) or [count, digest, ids digest] (records: with_ids) */
static int fp_from(const cJSON *a, int with_ids, struct settled_fp *fp)
{
    const cJSON *n = cJSON_GetArrayItem(a, 0), *d = cJSON_GetArrayItem(a, 1);
    const cJSON *ids = cJSON_GetArrayItem(a, 2);

    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 2 + with_ids || !cJSON_IsNumber(n) ||
        !cJSON_IsString(d) || strlen(d->valuestring) != SHA1_HEX_SIZE - 1 ||
        (with_ids && (!cJSON_IsString(ids) || strlen(ids->valuestring) != SHA1_HEX_SIZE - 1)))
        return -1;
    fp->count = (long)n->valuedouble;
    memcpy(fp->digest, d->valuestring, SHA1_HEX_SIZE);
    if (with_ids)
        memcpy(fp->ids, ids->valuestring, SHA1_HEX_SIZE);
    else
        fp->ids[0] = 0;
    return 0;
}

static const char *get_str(const cJSON *o, const char *k, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) && (!len || strlen(v->valuestring) == len) ? v->valuestring : NULL;
}

static int get_num(const cJSON *o, const char *k, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    if (!cJSON_IsNumber(v))
        return -1;
    *out = v->valuedouble;
    return 0;
}

int settled_decode(const char *text, size_t len, struct settled *s, struct err *e)
{
    cJSON *o = cJSON_ParseWithLength(text, len);
    const cJSON *types = o ? cJSON_GetObjectItemCaseSensitive(o, "types") : NULL;
    const char *config = get_str(o, "config", SHA1_HEX_SIZE - 1);
    const char *wm = get_str(o, "watermark", 19);
    const char *etag = get_str(o, "root_etag", 0);
    double version = 0, full_at = 0, records = 0, atts = 0, managed = 0;
    int rc = 0;

    settled_release(s);
    if (!o || get_num(o, "version", &version) < 0 || version != SETTLED_VERSION || !config || !wm ||
        !etag || !*etag || get_num(o, "full_at", &full_at) < 0 ||
        get_num(o, "records", &records) < 0 || get_num(o, "attachments", &atts) < 0 ||
        get_num(o, "managed", &managed) < 0 || !cJSON_IsArray(types) ||
        fp_from(cJSON_GetObjectItemCaseSensitive(o, "atts"), 0, &s->atts) < 0) {
        rc = err_set(e, ERR_PROTO, "not a settled mark of version %d", SETTLED_VERSION);
        goto out;
    }
    memcpy(s->config, config, SHA1_HEX_SIZE);
    memcpy(s->watermark, wm, 20);
    s->full_at = (long long)full_at;
    s->records = (long)records;
    s->attachments = (long)atts;
    s->managed = (long)managed;
    s->root_etag = strdup(etag);
    s->types = calloc((size_t)cJSON_GetArraySize(types) + 1, sizeof(*s->types));
    if (!s->root_etag || !s->types) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < cJSON_GetArraySize(types); i++)
        if (fp_from(cJSON_GetArrayItem(types, i), 1, &s->types[s->ntypes++]) < 0) {
            rc = err_set(e, ERR_PROTO, "a settled mark with a bad type entry");
            goto out;
        }
    s->ok = 1;
out:
    cJSON_Delete(o);
    if (rc < 0)
        settled_release(s);
    return rc;
}

/* ---- storage ---- */

static int mark_path(const char *state_file, struct buf *b, struct err *e)
{
    if (buf_printf(b, "%s.settled", state_file) < 0)
        return err_set(e, ERR_INVALID, "state file name too long");
    return 0;
}

static int mark_name(const struct cfg *c, char name[SHA1_HEX_SIZE + 8], struct err *e)
{
    char sha[SHA1_HEX_SIZE];
    int rc = state_redis_name(c, sha, e);

    if (rc == 0)
        snprintf(name, SHA1_HEX_SIZE + 8, "%s.settled", sha);
    return rc;
}

int settled_load(const char *state_file, struct lock *l, const struct cfg *c, struct settled *s,
                 struct log *lg, struct err *e)
{
    struct buf path;
    char name[SHA1_HEX_SIZE + 8];
    char *text = NULL;
    size_t len = 0;
    struct err de = ERR_INIT;
    int rc;

    buf_init(&path, 1 << 16);
    settled_release(s);
    if (l) {
        rc = mark_name(c, name, e);
        if (rc == 0) {
            rc = lock_blob_get(l, name, SETTLED_MAX_BYTES, &text, &len, &de);
            if (rc == ERR_NOMEM)
                *e = de;
            else if (rc < 0) {
                if (rc != ERR_NOTFOUND)
                    log_warn(lg, "cannot read the settled mark from redis: %s", de.msg);
                rc = 0;
            }
        }
    } else {
        rc = mark_path(state_file, &path, e);
        if (rc == 0) {
            rc = state_read_file(path.data, SETTLED_MAX_BYTES, &text, &len, &de);
            if (rc == ERR_NOMEM)
                *e = de;
            else if (rc < 0) {
                if (rc != ERR_NOTFOUND)
                    log_warn(lg, "cannot read \"%s\": %s", path.data, de.msg);
                rc = 0;
            }
        }
    }
    if (rc == 0 && text && len) {
        if (settled_decode(text, len, s, &de) == ERR_NOMEM)
            rc = err_set(e, ERR_NOMEM, "out of memory");
        else if (!s->ok)
            log_warn(lg, "settled mark ignored: %s", de.msg);
    }
    free(text);
    buf_release(&path);
    return rc;
}

int settled_save(const char *state_file, struct lock *l, const struct cfg *c,
                 const struct settled *s, struct err *e)
{
    struct buf path;
    char name[SHA1_HEX_SIZE + 8];
    char *text = NULL;
    int rc;

    buf_init(&path, 1 << 16);
    rc = settled_encode(s, &text, e);
    if (rc == 0 && l) {
        rc = mark_name(c, name, e);
        if (rc == 0)
            rc = lock_blob_set(l, name, text, strlen(text), e);
    } else if (rc == 0) {
        rc = mark_path(state_file, &path, e);
        if (rc == 0)
            rc = state_write_atomic(path.data, text, strlen(text), e);
    }
    free(text);
    buf_release(&path);
    return rc;
}

int settled_clear(const char *state_file, struct lock *l, const struct cfg *c, struct err *e)
{
    struct buf path;
    char name[SHA1_HEX_SIZE + 8];
    int rc;

    if (l) {
        rc = mark_name(c, name, e);
        return rc < 0 ? rc : lock_blob_set(l, name, "", 0, e); /* empty: no mark */
    }
    buf_init(&path, 1 << 16);
    rc = mark_path(state_file, &path, e);
    if (rc == 0 && unlink(path.data) != 0 && errno != ENOENT)
        rc = err_set(e, ERR_IO, "cannot remove \"%s\": %s", path.data, strerror(errno));
    buf_release(&path);
    return rc;
}
