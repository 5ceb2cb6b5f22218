/*
 * model: construction and release of the snapshots (model.h).
 *
 * Arrays grow by doubling; every adder deep-copies its strings, so a scan
 * can hand in pointers into a cJSON tree it frees right after.
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

char *snap_dup(const char *s, int *ok)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *ok = 0;
    return d;
}

int snap_grow(void **v, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *nv;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 16;
    nv = realloc(*v, ncap * size);
    if (!nv)
        return ERR_NOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}

int odoo_snap_init(struct odoo_snap *s, size_t ntypes, struct err *e)
{
    memset(s, 0, sizeof *s);
    s->complete = 1;
    s->gone_known = 1;
    if (ntypes == 0)
        return 0;
    s->types = calloc(ntypes, sizeof *s->types);
    if (!s->types)
        return err_set(e, ERR_NOMEM, "out of memory");
    s->ntypes = ntypes;
    return 0;
}

void snap_att_free(struct snap_att *a)
{
    free(a->name);
    free(a->url);
    free(a->res_model);
    free(a->checksum);
    free(a->write_date);
    free(a->mimetype);
}

void snap_entry_free(struct snap_entry *en)
{
    free(en->path);
    free(en->etag);
    free(en->record_tag);
    free(en->type_tag);
    free(en->doc_tag);
    free(en->synced);
    free(en->fileid);
    free(en->stale_doc);
}

void snap_link_free(struct snap_link *l)
{
    free(l->path);
    free(l->etag);
    free(l->fileid);
    free(l->rec);
    free(l->att_rec);
    free(l->file_rec);
}

int snap_link_copy(struct snap_link *dst, const struct snap_link *src)
{
    int ok = 1;

    *dst = *src;
    dst->path = snap_dup(src->path, &ok);
    dst->etag = snap_dup(src->etag, &ok);
    dst->fileid = snap_dup(src->fileid, &ok);
    dst->rec = snap_dup(src->rec, &ok);
    dst->att_rec = snap_dup(src->att_rec, &ok);
    dst->file_rec = snap_dup(src->file_rec, &ok);
    if (ok)
        return 0;
    snap_link_free(dst);
    return ERR_NOMEM;
}

int snap_links_add(struct snap_links *s, const struct snap_link *l)
{
    if (snap_grow((void **)&s->v, &s->cap, s->n, sizeof *s->v) < 0 ||
        snap_link_copy(&s->v[s->n], l) < 0)
        return ERR_NOMEM;
    s->n++;
    return 0;
}

static int cmp_link_id(const void *a, const void *b)
{
    long x = ((const struct snap_link *)a)->att_id, y = ((const struct snap_link *)b)->att_id;

    return (x > y) - (x < y);
}

int snap_link_cmp(const struct snap_link *a, const struct snap_link *b)
{
    int r = cmp_link_id(a, b);

    return r ? r : strcmp(a->path ? a->path : "", b->path ? b->path : "");
}

static int cmp_link(const void *a, const void *b)
{
    return snap_link_cmp(a, b);
}

void snap_links_sort(struct snap_links *s)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, cmp_link);
}

const struct snap_link *snap_links_find(const struct snap_links *s, long att_id)
{
    struct snap_link key;

    if (!s || !s->n || att_id <= 0)
        return NULL;
    memset(&key, 0, sizeof key);
    key.att_id = att_id;
    return bsearch(&key, s->v, s->n, sizeof *s->v, cmp_link_id);
}

const struct snap_link *snap_links_find_new(const struct snap_links *s, const char *path)
{
    struct snap_link key;

    if (!s || !s->n || !path)
        return NULL;
    memset(&key, 0, sizeof key);
    key.path = snap_lend(path);
    return bsearch(&key, s->v, s->n, sizeof *s->v, cmp_link);
}

void snap_links_release(struct snap_links *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        snap_link_free(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

int snap_att_copy(struct snap_att *dst, const struct snap_att *src)
{
    int ok = 1;

    *dst = *src;
    dst->name = snap_dup(src->name, &ok);
    dst->url = snap_dup(src->url, &ok);
    dst->res_model = snap_dup(src->res_model, &ok);
    dst->checksum = snap_dup(src->checksum, &ok);
    dst->write_date = snap_dup(src->write_date, &ok);
    dst->mimetype = snap_dup(src->mimetype, &ok);
    if (ok)
        return 0;
    snap_att_free(dst);
    return ERR_NOMEM;
}

int snap_entry_copy(struct snap_entry *dst, const struct snap_entry *src)
{
    int ok = 1;

    *dst = *src;
    dst->path = snap_dup(src->path, &ok);
    dst->etag = snap_dup(src->etag, &ok);
    dst->record_tag = snap_dup(src->record_tag, &ok);
    dst->type_tag = snap_dup(src->type_tag, &ok);
    dst->doc_tag = snap_dup(src->doc_tag, &ok);
    dst->synced = snap_dup(src->synced, &ok);
    dst->fileid = snap_dup(src->fileid, &ok);
    dst->stale_doc = snap_dup(src->stale_doc, &ok);
    if (ok)
        return 0;
    snap_entry_free(dst);
    return ERR_NOMEM;
}

void odoo_snap_release(struct odoo_snap *s)
{
    size_t i, j;

    for (i = 0; i < s->ntypes; i++) {
        for (j = 0; j < s->types[i].n; j++) {
            free(s->types[i].v[j].model);
            free(s->types[i].v[j].display_name);
        }
        free(s->types[i].v);
    }
    free(s->types);
    for (j = 0; j < s->unmatched.n; j++) {
        free(s->unmatched.v[j].model);
        free(s->unmatched.v[j].display_name);
    }
    free(s->unmatched.v);
    for (i = 0; i < s->natts; i++)
        snap_att_free(&s->atts[i]);
    free(s->atts);
    free(s->incomplete_why);
    memset(s, 0, sizeof *s);
}

void odoo_snap_incomplete(struct odoo_snap *s, const char *what, const char *why)
{
    size_t n;

    s->complete = 0;
    if (s->incomplete_why || !what)
        return;
    n = strlen(what) + (why ? strlen(why) : 0) + 3;
    s->incomplete_why = malloc(n);
    if (s->incomplete_why)
        snprintf(s->incomplete_why, n, "%s%s%s", what, why ? ": " : "", why ? why : "");
}

static int list_add(struct snap_record_list *l, const char *model, long id,
                    const char *display_name, struct err *e)
{
    struct snap_record r;
    int ok = 1;

    if (snap_grow((void **)&l->v, &l->cap, l->n, sizeof *l->v) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    r.model = snap_dup(model, &ok);
    r.id = id;
    r.display_name = snap_dup(display_name, &ok);
    if (!ok) {
        free(r.model);
        free(r.display_name);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    l->v[l->n++] = r;
    return 0;
}

int odoo_snap_add_record(struct odoo_snap *s, size_t type, const char *model, long id,
                         const char *display_name, struct err *e)
{
    if (type >= s->ntypes || !model)
        return err_set(e, ERR_INVALID, "record %s,%ld: bad type index %zu", model ? model : "?", id,
                       type);
    return list_add(&s->types[type], model, id, display_name, e);
}

int odoo_snap_add_unmatched(struct odoo_snap *s, const char *model, long id,
                            const char *display_name, struct err *e)
{
    if (!model)
        return err_set(e, ERR_INVALID, "unmatched record without model");
    return list_add(&s->unmatched, model, id, display_name, e);
}

int odoo_snap_add_att(struct odoo_snap *s, const struct snap_att *a, struct err *e)
{
    if (snap_grow((void **)&s->atts, &s->cap_atts, s->natts, sizeof *s->atts) < 0 ||
        snap_att_copy(&s->atts[s->natts], a) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    s->natts++;
    return 0;
}

void cloud_snap_init(struct cloud_snap *s)
{
    memset(s, 0, sizeof *s);
    s->complete = 1;
}

void cloud_snap_release(struct cloud_snap *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        snap_entry_free(&s->v[i]);
    free(s->v);
    for (i = 0; i < s->nlo; i++)
        free(s->lo[i].folder);
    free(s->lo);
    memset(s, 0, sizeof *s);
}

int cloud_snap_add_left_out(struct cloud_snap *s, const char *folder, int below, struct err *e)
{
    size_t i, len;
    char *f;

    if (!folder || folder[0] != '/')
        return err_set(e, ERR_INVALID, "left-out folder \"%s\": path must start with '/'",
                       folder ? folder : "(null)");
    len = strlen(folder);
    while (len > 1 && folder[len - 1] == '/')
        len--;
    for (i = 0; i < s->nlo; i++)
        if (strlen(s->lo[i].folder) == len && strncmp(s->lo[i].folder, folder, len) == 0) {
            s->lo[i].below |= below ? 1 : 0;
            return 0;
        }
    if (snap_grow((void **)&s->lo, &s->cap_lo, s->nlo, sizeof *s->lo) < 0 ||
        !(f = strndup(folder, len)))
        return err_set(e, ERR_NOMEM, "out of memory");
    s->lo[s->nlo].folder = f;
    s->lo[s->nlo].below = below ? 1 : 0;
    s->nlo++;
    return 0;
}

int cloud_snap_add(struct cloud_snap *s, const struct snap_entry *en, struct err *e)
{
    struct snap_entry c;
    size_t len;

    if (!en->path || en->path[0] != '/')
        return err_set(e, ERR_INVALID, "cloud entry \"%s\": path must start with '/'",
                       en->path ? en->path : "(null)");
    if (snap_grow((void **)&s->v, &s->cap, s->n, sizeof *s->v) < 0 || snap_entry_copy(&c, en) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    len = strlen(c.path);
    while (len > 1 && c.path[len - 1] == '/')
        c.path[--len] = '\0';
    s->v[s->n++] = c;
    return 0;
}
