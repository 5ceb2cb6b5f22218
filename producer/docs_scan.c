/*
 * docs_scan: Odoo's Documents app read into a docs_snapshot (docs.h): the shape by
 * fields_get, then the folders and the documents by keyset pages, and the mappings of
 * the configuration resolved against the folders.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "docs.h"

#include "banned.h"

#define DOCS_PAGE 500

const char *docs_shape_name(enum docs_shape s)
{
    switch (s) {
    case DOCS_SHAPE_FOLDER_MODEL:
        return "Odoo 16/17 shape (folders in documents.folder)";
    case DOCS_SHAPE_FOLDER_TYPE:
        return "Odoo 18/19 shape (folders are documents of type folder)";
    default:
        return "not installed";
    }
}

static int selection_has(const cJSON *field, const char *value)
{
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(field, "selection"), *it;

    cJSON_ArrayForEach(it, sel)
    {
        const cJSON *v = cJSON_GetArrayItem(it, 0);
        if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0)
            return 1;
    }
    return 0;
}

int docs_detect_shape(struct odoo *o, enum docs_shape *shape, struct err *e)
{
    cJSON *params = cJSON_CreateObject(), *res = NULL, *fields, *attrs;
    const cJSON *folder, *type, *rel;
    struct err ce = ERR_INIT;
    int rc;

    *shape = DOCS_SHAPE_NONE;
    fields = cJSON_AddArrayToObject(params, "allfields");
    attrs = cJSON_AddArrayToObject(params, "attributes");
    if (!params || !fields || !attrs || !cJSON_AddItemToArray(fields, cJSON_CreateString("type")) ||
        !cJSON_AddItemToArray(fields, cJSON_CreateString("folder_id")) ||
        !cJSON_AddItemToArray(attrs, cJSON_CreateString("type")) ||
        !cJSON_AddItemToArray(attrs, cJSON_CreateString("relation")) ||
        !cJSON_AddItemToArray(attrs, cJSON_CreateString("selection"))) {
        cJSON_Delete(params);
        return err_set(e, ERR_NOMEM, "documents: out of memory");
    }
    rc = odoo_call(o, "documents.document", "fields_get", NULL, params, &res, &ce);
    cJSON_Delete(params);
    if (rc < 0) {
        /* JSON-RPC: UserError "Object documents.document doesn't exist"; JSON-2: 404 */
        if ((rc == ERR_INVALID || rc == ERR_NOTFOUND) &&
            (strstr(ce.msg, "doesn't exist") || strstr(ce.msg, "does not exist")))
            return 0;
        return err_set(e, rc, "documents: fields_get of documents.document: %s", ce.msg);
    }
    folder = cJSON_GetObjectItemCaseSensitive(res, "folder_id");
    type = cJSON_GetObjectItemCaseSensitive(res, "type");
    rel = cJSON_GetObjectItemCaseSensitive(folder, "relation");
    if (cJSON_IsString(rel) && strcmp(rel->valuestring, "documents.folder") == 0)
        *shape = DOCS_SHAPE_FOLDER_MODEL;
    else if (cJSON_IsString(rel) && strcmp(rel->valuestring, "documents.document") == 0 &&
             selection_has(type, "folder"))
        *shape = DOCS_SHAPE_FOLDER_TYPE;
    else
        rc = err_set(e, ERR_PROTO,
                     "documents: documents.document has no folder_id to documents.folder nor a "
                     "type 'folder': a Documents app odoosync does not know");
    cJSON_Delete(res);
    return rc;
}

/* ---- reading ---- */

struct scan_ud {
    struct docs_snapshot *s;
    enum docs_shape shape;
    size_t cap_folders, cap_files;
    struct err *e;
};

static long m2o_id(const cJSON *v)
{
    if (cJSON_IsArray(v))
        v = cJSON_GetArrayItem(v, 0);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

static const char *str_or(const cJSON *rec, const char *name, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    void *p;
    size_t nc;

    if (n < *cap)
        return 0;
    nc = *cap ? *cap * 2 : 64;
    p = realloc(*arr, nc * elem);
    if (!p)
        return ERR_NOMEM;
    memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return 0;
}

static int on_folder(const cJSON *rec, void *arg)
{
    struct scan_ud *u = arg;
    struct docs_snapshot *s = u->s;
    struct docs_folder *f;
    const char *parent = u->shape == DOCS_SHAPE_FOLDER_MODEL ? "parent_folder_id" : "folder_id";

    if (grow((void **)&s->folders, &u->cap_folders, s->nfolders, sizeof(*f)) < 0)
        return err_set(u->e, ERR_NOMEM, "documents: out of memory");
    f = &s->folders[s->nfolders];
    f->id = m2o_id(cJSON_GetObjectItemCaseSensitive(rec, "id"));
    f->parent = m2o_id(cJSON_GetObjectItemCaseSensitive(rec, parent));
    f->active = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "active"));
    snprintf(f->write_date, sizeof(f->write_date), "%s", str_or(rec, "write_date", ""));
    f->name = strdup(str_or(rec, "name", ""));
    if (!f->name)
        return err_set(u->e, ERR_NOMEM, "documents: out of memory");
    s->nfolders++;
    return 0;
}

static int on_file(const cJSON *rec, void *arg)
{
    struct scan_ud *u = arg;
    struct docs_snapshot *s = u->s;
    struct docs_file *f;
    const char *type = str_or(rec, "type", "binary");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(rec, "file_size");

    if (grow((void **)&s->files, &u->cap_files, s->nfiles, sizeof(*f)) < 0)
        return err_set(u->e, ERR_NOMEM, "documents: out of memory");
    f = &s->files[s->nfiles];
    f->id = m2o_id(cJSON_GetObjectItemCaseSensitive(rec, "id"));
    f->folder = m2o_id(cJSON_GetObjectItemCaseSensitive(rec, "folder_id"));
    f->att_id = m2o_id(cJSON_GetObjectItemCaseSensitive(rec, "attachment_id"));
    f->active = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "active"));
    f->size = cJSON_IsNumber(size) ? (long long)size->valuedouble : 0;
    if (strcmp(type, "url") == 0)
        f->kind = DOCS_URL;
    else if (strcmp(type, "binary") == 0 && f->att_id > 0)
        f->kind = DOCS_FILE;
    else
        f->kind = DOCS_REQUEST; /* 16/17 'empty', or a binary document without a file */
    snprintf(f->checksum, sizeof(f->checksum), "%s", str_or(rec, "checksum", ""));
    snprintf(f->write_date, sizeof(f->write_date), "%s", str_or(rec, "write_date", ""));
    f->name = strdup(str_or(rec, "name", ""));
    if (!f->name)
        return err_set(u->e, ERR_NOMEM, "documents: out of memory");
    s->nfiles++;
    return 0;
}

/* [..., "|", ["active", "=", true], ["active", "=", false]]: archived rows too */
static cJSON *domain_with_archived(const char *type_op, const char *type_value)
{
    cJSON *d = cJSON_Parse("[\"|\", [\"active\", \"=\", true], [\"active\", \"=\", false]]");

    if (d && type_op) {
        cJSON *leaf = cJSON_CreateArray();
        if (!leaf || !cJSON_AddItemToArray(leaf, cJSON_CreateString("type")) ||
            !cJSON_AddItemToArray(leaf, cJSON_CreateString(type_op)) ||
            !cJSON_AddItemToArray(leaf, cJSON_CreateString(type_value)) ||
            !cJSON_InsertItemInArray(d, 0, leaf)) {
            cJSON_Delete(leaf);
            cJSON_Delete(d);
            return NULL;
        }
    }
    return d;
}

int docs_scan(struct odoo *o, enum docs_shape shape, struct docs_snapshot *out, struct err *e)
{
    static const char *const folder16[] = {"name", "parent_folder_id", "active", "write_date",
                                           NULL};
    static const char *const folder18[] = {"name", "folder_id", "active", "write_date", NULL};
    static const char *const file_fields[] = {"name",          "folder_id",  "type",
                                              "attachment_id", "checksum",   "file_size",
                                              "active",        "write_date", NULL};
    struct scan_ud u;
    cJSON *dom;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&u, 0, sizeof(u));
    out->shape = shape;
    u.s = out;
    u.shape = shape;
    u.e = e;
    if (shape == DOCS_SHAPE_NONE)
        return err_set(e, ERR_INVALID, "documents: the Documents app is not installed");
    dom = domain_with_archived(shape == DOCS_SHAPE_FOLDER_TYPE ? "=" : NULL, "folder");
    if (!dom)
        return err_set(e, ERR_NOMEM, "documents: out of memory");
    rc = odoo_search_read_each(
        o, shape == DOCS_SHAPE_FOLDER_MODEL ? "documents.folder" : "documents.document", dom,
        shape == DOCS_SHAPE_FOLDER_MODEL ? folder16 : folder18, DOCS_PAGE, on_folder, &u, e);
    cJSON_Delete(dom);
    if (rc < 0)
        return rc;
    dom = domain_with_archived(shape == DOCS_SHAPE_FOLDER_TYPE ? "!=" : NULL, "folder");
    if (!dom)
        return err_set(e, ERR_NOMEM, "documents: out of memory");
    rc =
        odoo_search_read_each(o, "documents.document", dom, file_fields, DOCS_PAGE, on_file, &u, e);
    cJSON_Delete(dom);
    return rc < 0 ? rc : 0;
}

void docs_snapshot_release(struct docs_snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfolders; i++)
        free(s->folders[i].name);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i].name);
    free(s->folders);
    free(s->files);
    memset(s, 0, sizeof(*s));
}

const struct docs_folder *docs_folder_by_id(const struct docs_snapshot *s, long id)
{
    size_t lo = 0, hi = s->nfolders;

    while (lo < hi) { /* id order (keyset pages) */
        size_t mid = lo + (hi - lo) / 2;
        if (s->folders[mid].id == id)
            return &s->folders[mid];
        if (s->folders[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The names of the active children of parent, "A", "B", ... into out (for messages). */
static void child_names(const struct docs_snapshot *s, long parent, char *out, size_t outsz)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < s->nfolders && used < outsz; i++) {
        const struct docs_folder *f = &s->folders[i];
        if (f->active && f->parent == parent)
            used +=
                (size_t)snprintf(out + used, outsz - used, "%s\"%s\"", used ? ", " : "", f->name);
    }
    if (used == 0)
        snprintf(out, outsz, "none");
    else if (used >= outsz && outsz > 4)
        memcpy(out + outsz - 4, "...", 4);
}

int docs_resolve(const struct cfg *c, const struct docs_snapshot *s, size_t i, long *folder_id,
                 struct err *e)
{
    const struct cfg_docmap *m = &c->documents.maps[i];
    char names[512], part[256];
    const char *p;
    long cur = 0;

    *folder_id = 0;
    if (m->sel == CFG_DOCS_ALL)
        return 0;
    if (m->sel == CFG_DOCS_ID) {
        const struct docs_folder *f = docs_folder_by_id(s, m->id);
        if (!f || !f->active)
            return err_set(e, ERR_NOTFOUND,
                           "documents.mappings[%zu]: no %sDocuments folder with id %ld", i,
                           f ? "active " : "", m->id);
        *folder_id = f->id;
        return 0;
    }
    for (p = m->odoo; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        long found = 0;

        snprintf(part, sizeof(part), "%.*s", (int)len, p);
        for (size_t k = 0; k < s->nfolders; k++) {
            const struct docs_folder *f = &s->folders[k];
            if (!f->active || f->parent != cur || strcmp(f->name, part) != 0)
                continue;
            if (found)
                return err_set(e, ERR_NOTFOUND,
                               "documents.mappings[%zu]: \"%s\": two folders are called \"%s\" "
                               "there (ids %ld and %ld); map one by its id (\"#%ld\")",
                               i, m->odoo, part, found, f->id, found);
            found = f->id;
        }
        if (!found) {
            child_names(s, cur, names, sizeof(names));
            return err_set(e, ERR_NOTFOUND,
                           "documents.mappings[%zu]: no Documents folder \"%s\" %s%s%s (the "
                           "folders there: %s)",
                           i, part, cur ? "in \"" : "at the top", cur ? m->odoo : "",
                           cur ? "\"" : "", names);
        }
        cur = found;
        p += len;
        if (*p == '/')
            p++;
    }
    *folder_id = cur;
    return 0;
}

/* Whether folder id lies under top (0: everything), following parents. */
static int under(const struct docs_snapshot *s, long id, long top)
{
    size_t guard = 0;

    if (top == 0)
        return 1;
    while (id && guard++ <= s->nfolders) {
        const struct docs_folder *f;
        if (id == top)
            return 1;
        f = docs_folder_by_id(s, id);
        if (!f || !f->active)
            return 0;
        id = f->parent;
    }
    return 0;
}

void docs_count_under(const struct docs_snapshot *s, long folder, struct docs_count *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < s->nfolders; i++) {
        const struct docs_folder *f = &s->folders[i];
        if (f->active && f->id != folder && under(s, f->parent, folder))
            out->folders++;
    }
    for (size_t i = 0; i < s->nfiles; i++) {
        const struct docs_file *f = &s->files[i];
        if (!f->active || !under(s, f->folder, folder))
            continue;
        if (f->folder == 0 && folder != 0)
            continue;
        if (f->kind == DOCS_FILE)
            out->files++;
        else if (f->kind == DOCS_URL)
            out->urls++;
        else
            out->requests++;
    }
}
