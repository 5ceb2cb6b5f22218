/*
 * state: the scan state in memory (see state.h for what it holds and why):
 * init and release, the keys of a configuration, the adders (which copy
 * their arguments) and the lookups (binary searches over the sorted atts
 * and dirs). state_json.c turns it into JSON text and back; state_store.c
 * keeps that text in a file or in Redis.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "model.h"

#include "banned.h"

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
        snap_att_free(&s->atts[i]);
    free(s->atts);
    state_clear_dirs(s);
    snap_links_release(&s->links);
    for (size_t i = 0; i < s->nfolders; i++) {
        free(s->folders[i].fileid);
        free(s->folders[i].record);
    }
    free(s->folders);
    for (size_t i = 0; i < s->ndocs; i++) {
        free(s->docs[i].tag);
        free(s->docs[i].synced);
        free(s->docs[i].path);
        free(s->docs[i].fileid);
    }
    free(s->docs);
    free(s->odoo_key);
    free(s->watermark);
    free(s->cloud_key);
    memset(s, 0, sizeof(*s));
}

int state_set_str(char **dst, const char *src, struct err *e)
{
    int ok = 1;
    char *d = snap_dup(src, &ok);

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
    t->v[t->n].name = snap_dup(name, &ok);
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

int state_add_doc(struct scan_state *s, const char *tag, const char *synced, const char *path,
                  const char *fileid, struct err *e)
{
    struct state_doc *d;

    if (snap_grow((void **)&s->docs, &s->cap_docs, s->ndocs, sizeof(*s->docs)) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    d = &s->docs[s->ndocs];
    d->tag = tag ? strdup(tag) : NULL;
    d->synced = synced ? strdup(synced) : NULL;
    d->path = path ? strdup(path) : NULL;
    d->fileid = fileid && *fileid ? strdup(fileid) : NULL;
    if (!d->tag || (synced && !d->synced) || (path && !d->path) ||
        (fileid && *fileid && !d->fileid)) {
        free(d->tag);
        free(d->synced);
        free(d->path);
        free(d->fileid);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    s->ndocs++;
    return 0;
}

int state_add_att(struct scan_state *s, const struct snap_att *a, struct err *e)
{
    if (snap_grow((void **)&s->atts, &s->cap_atts, s->natts, sizeof(*s->atts)) < 0 ||
        snap_att_copy(&s->atts[s->natts], a) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    s->natts++;
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
    d->path = snap_dup(path, &ok);
    d->etag = snap_dup(etag, &ok);
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
    if (!en->path)
        return err_set(e, ERR_INVALID, "a folder child without a path");
    if (snap_grow((void **)&d->kids, &d->cap, d->n, sizeof(*d->kids)) < 0 ||
        snap_entry_copy(&d->kids[d->n], en) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    d->n++;
    return 0;
}

void state_dir_release(struct state_dir *d)
{
    for (size_t j = 0; j < d->n; j++)
        snap_entry_free(&d->kids[j]);
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

int state_add_folder(struct scan_state *s, const char *fileid, const char *record, struct err *e)
{
    struct state_folder *f;
    int ok = 1;

    if (snap_grow((void **)&s->folders, &s->cap_folders, s->nfolders, sizeof *s->folders) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    f = &s->folders[s->nfolders];
    f->fileid = snap_dup(fileid, &ok);
    f->record = snap_dup(record, &ok);
    if (!ok || !f->fileid || !f->record) {
        free(f->fileid);
        free(f->record);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    s->nfolders++;
    return 0;
}
