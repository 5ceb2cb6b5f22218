/*
 * state: see state.h.
 *
 * The file is one JSON object, compact: records as [id, name], attachments
 * as [id, name, type, url, res_model, res_id, checksum, file_size,
 * write_date, mimetype], cloud children as [path, is_dir, etag, size,
 * att_tag, record_tag, type_tag]. A decoder that meets anything else gives
 * up on the whole file (a full pass), never on part of it.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "jobmsg.h"
#include "lock.h"
#include "model.h"
#include "sha.h"

#include "banned.h"

#define STATE_MAX_FILE (1024LL * 1024 * 1024)       /* 1 GiB: far above 1M attachments */
#define STATE_MAX_REDIS ((size_t)512 * 1024 * 1024) /* a Redis string's limit */

static char *dup_opt(const char *s, int *ok)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *ok = 0;
    return d;
}

static void att_free(struct snap_att *a)
{
    free(a->name);
    free(a->url);
    free(a->res_model);
    free(a->checksum);
    free(a->write_date);
    free(a->mimetype);
}

static void entry_free(struct snap_entry *en)
{
    free(en->path);
    free(en->etag);
    free(en->record_tag);
    free(en->type_tag);
}

void state_init(struct scan_state *s)
{
    memset(s, 0, sizeof(*s));
}

void state_release(struct scan_state *s)
{
    for (size_t i = 0; i < s->ntypes; i++) {
        for (size_t j = 0; j < s->types[i].n; j++)
            free(s->types[i].v[j].name);
        free(s->types[i].v);
        free(s->types[i].key);
    }
    free(s->types);
    for (size_t i = 0; i < s->natts; i++)
        att_free(&s->atts[i]);
    free(s->atts);
    state_clear_dirs(s);
    free(s->odoo_key);
    free(s->watermark);
    free(s->cloud_key);
    memset(s, 0, sizeof(*s));
}

int state_set_str(char **dst, const char *src, struct err *e)
{
    int ok = 1;
    char *d = dup_opt(src, &ok);

    if (!ok)
        return err_set(e, ERR_NOMEM, "out of memory");
    free(*dst);
    *dst = d;
    return 0;
}

static char *join3(const char *a, const char *b, const char *c, char sep)
{
    struct buf b3;
    char *out = NULL;

    buf_init(&b3, 1 << 20);
    if (buf_printf(&b3, "%s%c%s%c%s", a ? a : "", sep, b ? b : "", sep, c ? c : "") == 0)
        out = strdup(b3.data ? b3.data : "");
    buf_release(&b3);
    return out;
}

char *state_odoo_key(const struct cfg *c)
{
    return join3(c->odoo.url, c->odoo.database, c->odoo.login, '|');
}

char *state_type_key(const struct cfg_type *t)
{
    return join3(t->folder, t->model, t->domain ? t->domain : "[]", '\n');
}

char *state_cloud_key(const struct cfg *c)
{
    return join3(c->cloud.url, c->cloud.user, c->cloud.root, '|');
}

struct state_type *state_add_type(struct scan_state *s, const char *key, struct err *e)
{
    struct state_type *t;

    if (snap_grow((void **)&s->types, &s->cap_types, s->ntypes, sizeof(*s->types)) < 0) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    t = &s->types[s->ntypes];
    memset(t, 0, sizeof(*t));
    t->key = strdup(key);
    if (!t->key) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->ntypes++;
    return t;
}

int state_type_add(struct state_type *t, long id, const char *name, struct err *e)
{
    int ok = 1;

    if (snap_grow((void **)&t->v, &t->cap, t->n, sizeof(*t->v)) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    t->v[t->n].id = id;
    t->v[t->n].name = dup_opt(name, &ok);
    if (!ok)
        return err_set(e, ERR_NOMEM, "out of memory");
    t->n++;
    return 0;
}

const struct state_type *state_find_type(const struct scan_state *s, const char *key)
{
    for (size_t i = 0; i < s->ntypes; i++)
        if (strcmp(s->types[i].key, key) == 0)
            return &s->types[i];
    return NULL;
}

int state_add_att(struct scan_state *s, const struct snap_att *a, struct err *e)
{
    struct snap_att c;
    int ok = 1;

    if (snap_grow((void **)&s->atts, &s->cap_atts, s->natts, sizeof(*s->atts)) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    c = *a;
    c.name = dup_opt(a->name, &ok);
    c.url = dup_opt(a->url, &ok);
    c.res_model = dup_opt(a->res_model, &ok);
    c.checksum = dup_opt(a->checksum, &ok);
    c.write_date = dup_opt(a->write_date, &ok);
    c.mimetype = dup_opt(a->mimetype, &ok);
    if (!ok) {
        att_free(&c);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    s->atts[s->natts++] = c;
    return 0;
}

static int cmp_att(const void *a, const void *b)
{
    long x = ((const struct snap_att *)a)->id, y = ((const struct snap_att *)b)->id;

    return (x > y) - (x < y);
}

const struct snap_att *state_find_att(const struct scan_state *s, long id)
{
    struct snap_att key;

    if (!s->natts)
        return NULL;
    memset(&key, 0, sizeof(key));
    key.id = id;
    return bsearch(&key, s->atts, s->natts, sizeof(*s->atts), cmp_att);
}

struct state_dir *state_add_dir(struct scan_state *s, const char *path, const char *etag,
                                struct err *e)
{
    struct state_dir *d;
    int ok = 1;

    if (snap_grow((void **)&s->dirs, &s->cap_dirs, s->ndirs, sizeof(*s->dirs)) < 0) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    d = &s->dirs[s->ndirs];
    memset(d, 0, sizeof(*d));
    d->path = dup_opt(path, &ok);
    d->etag = dup_opt(etag, &ok);
    if (!ok || !d->path) {
        free(d->path);
        free(d->etag);
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->ndirs++;
    return d;
}

int state_dir_add_kid(struct state_dir *d, const struct snap_entry *en, struct err *e)
{
    struct snap_entry c;
    int ok = 1;

    if (snap_grow((void **)&d->kids, &d->cap, d->n, sizeof(*d->kids)) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    c = *en;
    c.path = dup_opt(en->path, &ok);
    c.etag = dup_opt(en->etag, &ok);
    c.record_tag = dup_opt(en->record_tag, &ok);
    c.type_tag = dup_opt(en->type_tag, &ok);
    if (!ok || !c.path) {
        entry_free(&c);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    d->kids[d->n++] = c;
    return 0;
}

void state_dir_release(struct state_dir *d)
{
    for (size_t j = 0; j < d->n; j++)
        entry_free(&d->kids[j]);
    free(d->kids);
    free(d->path);
    free(d->etag);
    memset(d, 0, sizeof(*d));
}

void state_clear_dirs(struct scan_state *s)
{
    for (size_t i = 0; i < s->ndirs; i++)
        state_dir_release(&s->dirs[i]);
    free(s->dirs);
    s->dirs = NULL;
    s->ndirs = s->cap_dirs = 0;
}

static int cmp_dir(const void *a, const void *b)
{
    return strcmp(((const struct state_dir *)a)->path, ((const struct state_dir *)b)->path);
}

static struct state_dir *find_dir(const struct scan_state *s, const char *path)
{
    struct state_dir key;
    union {
        const char *c;
        char *m;
    } u;

    if (!s->ndirs)
        return NULL;
    memset(&key, 0, sizeof(key));
    u.c = path;
    key.path = u.m;
    return bsearch(&key, s->dirs, s->ndirs, sizeof(*s->dirs), cmp_dir);
}

const struct state_dir *state_find_dir(const struct scan_state *s, const char *path)
{
    const struct state_dir *d = find_dir(s, path);

    return d && !d->dropped ? d : NULL;
}

void state_drop_dir(struct scan_state *s, const char *path)
{
    struct state_dir *d = find_dir(s, path);

    if (d)
        d->dropped = 1;
}

void state_sort(struct scan_state *s)
{
    if (s->natts > 1)
        qsort(s->atts, s->natts, sizeof(*s->atts), cmp_att);
    if (s->ndirs > 1)
        qsort(s->dirs, s->ndirs, sizeof(*s->dirs), cmp_dir);
}

/* ---- JSON ---- */

/*
 * Encoding writes the JSON text straight into one buffer (no cJSON tree: at
 * 100,000 attachments a tree costs a million small allocations); decoding
 * parses it with cJSON. The two agree on the format below.
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
        w_raw(&b, a->type == SNAP_ATT_URL ? ",1," : ",0,", &ok);
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
            w_raw(&b, "]", &ok);
        }
        w_raw(&b, "]}", &ok);
    }
    w_raw(&b, "]}", &ok);
    if (!ok) {
        buf_release(&b);
        return err_set(e, ERR_NOMEM, "out of memory encoding the scan state");
    }
    *out = buf_detach(&b);
    return 0;
}

/* Decoding helpers: each returns 0 when the value has the expected shape. */
static int get_str(const cJSON *v, const char **out)
{
    if (cJSON_IsNull(v)) {
        *out = NULL;
        return 0;
    }
    if (!cJSON_IsString(v))
        return -1;
    *out = v->valuestring;
    return 0;
}

static int get_num(const cJSON *v, double *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    *out = v->valuedouble;
    return 0;
}

static int decode_types(const cJSON *types, struct scan_state *s, struct err *e)
{
    const cJSON *t;

    if (!cJSON_IsArray(types))
        return err_set(e, ERR_PROTO, "\"types\" is not an array");
    cJSON_ArrayForEach(t, types)
    {
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(t, "key");
        const cJSON *recs = cJSON_GetObjectItemCaseSensitive(t, "recs");
        const cJSON *r;
        struct state_type *st;
        long last = 0;

        if (!cJSON_IsString(key) || !cJSON_IsArray(recs))
            return err_set(e, ERR_PROTO, "a type without key or records");
        st = state_add_type(s, key->valuestring, e);
        if (!st)
            return e->code;
        cJSON_ArrayForEach(r, recs)
        {
            const char *name;
            double id;
            int rc;

            if (cJSON_GetArraySize(r) != 2 || get_num(cJSON_GetArrayItem(r, 0), &id) < 0 ||
                get_str(cJSON_GetArrayItem(r, 1), &name) < 0 || (long)id <= last)
                return err_set(e, ERR_PROTO, "a bad record in type \"%s\"", key->valuestring);
            last = (long)id;
            rc = state_type_add(st, (long)id, name, e);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static char *lend(const char *s)
{
    union {
        const char *c;
        char *m;
    } u;

    u.c = s;
    return u.m;
}

static int decode_atts(const cJSON *atts, struct scan_state *s, struct err *e)
{
    const cJSON *r;
    long last = 0;

    if (!cJSON_IsArray(atts))
        return err_set(e, ERR_PROTO, "\"atts\" is not an array");
    cJSON_ArrayForEach(r, atts)
    {
        struct snap_att a;
        const char *name, *url, *res_model, *checksum, *write_date, *mimetype;
        double id, type, res_id, size;
        int rc;

        if (cJSON_GetArraySize(r) != 10 || get_num(cJSON_GetArrayItem(r, 0), &id) < 0 ||
            get_str(cJSON_GetArrayItem(r, 1), &name) < 0 ||
            get_num(cJSON_GetArrayItem(r, 2), &type) < 0 ||
            get_str(cJSON_GetArrayItem(r, 3), &url) < 0 ||
            get_str(cJSON_GetArrayItem(r, 4), &res_model) < 0 ||
            get_num(cJSON_GetArrayItem(r, 5), &res_id) < 0 ||
            get_str(cJSON_GetArrayItem(r, 6), &checksum) < 0 ||
            get_num(cJSON_GetArrayItem(r, 7), &size) < 0 ||
            get_str(cJSON_GetArrayItem(r, 8), &write_date) < 0 ||
            get_str(cJSON_GetArrayItem(r, 9), &mimetype) < 0 || (long)id <= last || !name)
            return err_set(e, ERR_PROTO, "a bad attachment row after id %ld", last);
        last = (long)id;
        memset(&a, 0, sizeof(a));
        a.id = (long)id;
        a.type = type == 1 ? SNAP_ATT_URL : SNAP_ATT_BINARY;
        a.res_id = (long)res_id;
        a.file_size = (long long)size;
        /* state_add_att copies: lend() only lends the parsed strings. */
        a.name = lend(name);
        a.url = lend(url);
        a.res_model = lend(res_model);
        a.checksum = lend(checksum);
        a.write_date = lend(write_date);
        a.mimetype = lend(mimetype);
        rc = state_add_att(s, &a, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int decode_dirs(const cJSON *dirs, struct scan_state *s, struct err *e)
{
    const cJSON *o;

    if (!cJSON_IsArray(dirs))
        return err_set(e, ERR_PROTO, "\"dirs\" is not an array");
    cJSON_ArrayForEach(o, dirs)
    {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(o, "path");
        const cJSON *kids = cJSON_GetObjectItemCaseSensitive(o, "kids");
        const char *etag;
        const cJSON *k;
        struct state_dir *d;

        if (!cJSON_IsString(path) || !cJSON_IsArray(kids) ||
            get_str(cJSON_GetObjectItemCaseSensitive(o, "etag"), &etag) < 0 || !etag)
            return err_set(e, ERR_PROTO, "a bad folder entry");
        d = state_add_dir(s, path->valuestring, etag, e);
        if (!d)
            return e->code;
        cJSON_ArrayForEach(k, kids)
        {
            struct snap_entry en;
            const char *kpath, *ketag, *rec, *typ;
            double size, att;
            const cJSON *isdir = cJSON_GetArrayItem(k, 1);
            int rc;

            if (cJSON_GetArraySize(k) != 7 || get_str(cJSON_GetArrayItem(k, 0), &kpath) < 0 ||
                !kpath || kpath[0] != '/' || !cJSON_IsBool(isdir) ||
                get_str(cJSON_GetArrayItem(k, 2), &ketag) < 0 ||
                get_num(cJSON_GetArrayItem(k, 3), &size) < 0 ||
                get_num(cJSON_GetArrayItem(k, 4), &att) < 0 ||
                get_str(cJSON_GetArrayItem(k, 5), &rec) < 0 ||
                get_str(cJSON_GetArrayItem(k, 6), &typ) < 0)
                return err_set(e, ERR_PROTO, "a bad child of folder \"%s\"", path->valuestring);
            memset(&en, 0, sizeof(en));
            en.path = lend(kpath);
            en.is_dir = cJSON_IsTrue(isdir);
            en.etag = lend(ketag);
            en.size = (long long)size;
            en.att_tag = (long)att;
            en.record_tag = lend(rec);
            en.type_tag = lend(typ);
            rc = state_dir_add_kid(d, &en, e);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int state_decode(const char *text, size_t len, struct scan_state *s, struct err *e)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *v;
    const char *str;
    double num;
    int rc = 0;

    if (!root || !cJSON_IsObject(root)) {
        rc = err_set(e, ERR_PROTO, "not a JSON object");
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (get_num(v, &num) < 0 || num != STATE_VERSION) {
        rc = err_set(e, ERR_PROTO, "not a version %d state", STATE_VERSION);
        goto out;
    }
    if (get_str(cJSON_GetObjectItemCaseSensitive(root, "odoo_key"), &str) < 0 ||
        (rc = state_set_str(&s->odoo_key, str, e)) < 0)
        goto bad;
    if (get_str(cJSON_GetObjectItemCaseSensitive(root, "watermark"), &str) < 0 ||
        (rc = state_set_str(&s->watermark, str, e)) < 0)
        goto bad;
    if (get_num(cJSON_GetObjectItemCaseSensitive(root, "full_at"), &num) < 0)
        goto bad;
    s->full_at = (long long)num;
    if (get_str(cJSON_GetObjectItemCaseSensitive(root, "cloud_key"), &str) < 0 ||
        (rc = state_set_str(&s->cloud_key, str, e)) < 0)
        goto bad;
    v = cJSON_GetObjectItemCaseSensitive(root, "have_atts");
    if (!cJSON_IsBool(v))
        goto bad;
    s->have_atts = cJSON_IsTrue(v);
    rc = decode_types(cJSON_GetObjectItemCaseSensitive(root, "types"), s, e);
    if (rc == 0)
        rc = decode_atts(cJSON_GetObjectItemCaseSensitive(root, "atts"), s, e);
    if (rc == 0)
        rc = decode_dirs(cJSON_GetObjectItemCaseSensitive(root, "dirs"), s, e);
    if (rc == 0) {
        state_sort(s);
        for (size_t i = 1; i < s->ndirs; i++)
            if (strcmp(s->dirs[i - 1].path, s->dirs[i].path) == 0) {
                rc = err_set(e, ERR_PROTO, "folder \"%s\" twice", s->dirs[i].path);
                break;
            }
    }
    goto out;
bad:
    if (rc == 0)
        rc = err_set(e, ERR_PROTO, "a missing or mistyped field");
out:
    cJSON_Delete(root);
    if (rc < 0)
        state_release(s);
    return rc;
}

int state_load(const char *path, struct scan_state *s, struct log *lg, struct err *e)
{
    FILE *f = NULL;
    char *text = NULL;
    struct stat sb;
    size_t got;
    int rc = 0;
    struct err de = ERR_INIT;

    f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            log_info(lg, "no scan state at \"%s\": this pass scans everything", path);
        else
            log_warn(lg, "cannot read the scan state \"%s\": %s; this pass scans everything", path,
                     strerror(errno));
        return 0;
    }
    if (fstat(fileno(f), &sb) < 0 || sb.st_size < 0 || sb.st_size > STATE_MAX_FILE) {
        log_warn(lg, "scan state \"%s\": unreadable or too large; this pass scans everything",
                 path);
        goto out;
    }
    text = malloc((size_t)sb.st_size + 1);
    if (!text) {
        rc = err_set(e, ERR_NOMEM, "out of memory reading \"%s\"", path);
        goto out;
    }
    got = fread(text, 1, (size_t)sb.st_size, f);
    if (got != (size_t)sb.st_size) {
        log_warn(lg, "scan state \"%s\": short read; this pass scans everything", path);
        goto out;
    }
    text[got] = '\0';
    rc = state_decode(text, got, s, &de);
    if (rc == ERR_NOMEM) {
        *e = de;
        goto out;
    }
    if (rc < 0) {
        log_warn(lg, "scan state \"%s\" is corrupt (%s): ignored, this pass scans everything", path,
                 de.msg);
        rc = 0;
    }
out:
    free(text);
    fclose(f);
    return rc;
}

int state_save(const char *path, const struct scan_state *s, struct err *e)
{
    struct buf tmp;
    char *text = NULL;
    FILE *f = NULL;
    size_t len;
    int rc;

    buf_init(&tmp, 8192);
    rc = state_encode(s, &text, e);
    if (rc < 0)
        goto out;
    rc = buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    if (rc < 0) {
        rc = err_set(e, ERR_INVALID, "state file name too long");
        goto out;
    }
    f = fopen(tmp.data, "wb");
    if (!f) {
        rc = err_set(e, ERR_IO, "cannot write \"%s\": %s", tmp.data, strerror(errno));
        goto out;
    }
    len = strlen(text);
    if (fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = err_set(e, ERR_IO, "cannot write \"%s\": %s", tmp.data, strerror(errno));
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        rc = err_set(e, ERR_IO, "cannot write \"%s\": %s", tmp.data, strerror(errno));
        goto out;
    }
    f = NULL;
    if (rename(tmp.data, path) != 0) {
        rc = err_set(e, ERR_IO, "cannot rename \"%s\" to \"%s\": %s", tmp.data, path,
                     strerror(errno));
        goto out;
    }
out:
    if (f)
        fclose(f);
    if (rc < 0 && tmp.data)
        unlink(tmp.data);
    free(text);
    buf_release(&tmp);
    return rc;
}

/* "<sha1 hex of odoo key NL cloud key>" */
static int redis_name(const struct cfg *c, char name[SHA1_HEX_SIZE], struct err *e)
{
    char *ok = state_odoo_key(c), *ck = state_cloud_key(c);
    struct buf b;
    int rc;

    buf_init(&b, 1 << 16);
    if (!ok || !ck || buf_printf(&b, "%s\n%s", ok, ck) < 0)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else
        rc = sha_hex_sha1(b.data, b.len, name);
    if (rc < 0 && !e->code)
        rc = err_set(e, rc, "cannot name the scan state");
    buf_release(&b);
    free(ok);
    free(ck);
    return rc;
}

int state_load_redis(struct lock *l, const struct cfg *c, struct scan_state *s, struct log *lg,
                     struct err *e)
{
    char name[SHA1_HEX_SIZE];
    char *text = NULL;
    size_t len = 0;
    struct err de = ERR_INIT;
    int rc;

    rc = redis_name(c, name, e);
    if (rc < 0)
        return rc;
    rc = lock_blob_get(l, name, STATE_MAX_REDIS, &text, &len, &de);
    if (rc == ERR_NOTFOUND) {
        log_info(lg, "no scan state in redis (state:%s): this pass scans everything", name);
        return 0;
    }
    if (rc == ERR_NOMEM) {
        *e = de;
        return rc;
    }
    if (rc < 0) {
        log_warn(lg, "cannot read the scan state from redis (%s): this pass scans everything",
                 de.msg);
        return 0;
    }
    rc = state_decode(text, len, s, &de);
    free(text);
    if (rc == ERR_NOMEM) {
        *e = de;
        return rc;
    }
    if (rc < 0)
        log_warn(lg,
                 "scan state in redis (state:%s) is corrupt (%s): ignored, this pass scans "
                 "everything",
                 name, de.msg);
    else
        log_info(lg, "scan state read from redis (state:%s, %zu bytes)", name, len);
    return 0;
}

int state_save_redis(struct lock *l, const struct cfg *c, const struct scan_state *s, struct err *e)
{
    char name[SHA1_HEX_SIZE];
    char *text = NULL;
    size_t len;
    int rc;

    rc = redis_name(c, name, e);
    if (rc == 0)
        rc = state_encode(s, &text, e);
    if (rc < 0)
        return rc;
    len = strlen(text);
    if (len > STATE_MAX_REDIS)
        rc = err_set(e, ERR_TOO_BIG, "scan state of %zu bytes is over redis' limit", len);
    else
        rc = lock_blob_set(l, name, text, len, e);
    free(text);
    return rc;
}
