/*
 * model: construction and release of the snapshots (model.h).
 *
 * Arrays grow by doubling; every adder deep-copies its strings, so a scan
 * can hand in pointers into a cJSON tree it frees right after.
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* strdup that keeps NULL; *ok cleared on allocation failure. */
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
    if (ntypes == 0)
        return 0;
    s->types = calloc(ntypes, sizeof *s->types);
    if (!s->types)
        return err_set(e, ERR_NOMEM, "out of memory");
    s->ntypes = ntypes;
    return 0;
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
    for (i = 0; i < s->natts; i++)
        att_free(&s->atts[i]);
    free(s->atts);
    memset(s, 0, sizeof *s);
}

int odoo_snap_add_record(struct odoo_snap *s, size_t type, const char *model, long id,
                         const char *display_name, struct err *e)
{
    struct snap_record_list *l;
    struct snap_record r;
    int ok = 1;

    if (type >= s->ntypes || !model)
        return err_set(e, ERR_INVALID, "record %s,%ld: bad type index %zu", model ? model : "?", id,
                       type);
    l = &s->types[type];
    if (snap_grow((void **)&l->v, &l->cap, l->n, sizeof *l->v) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    r.model = dup_opt(model, &ok);
    r.id = id;
    r.display_name = dup_opt(display_name, &ok);
    if (!ok) {
        free(r.model);
        free(r.display_name);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    l->v[l->n++] = r;
    return 0;
}

int odoo_snap_add_att(struct odoo_snap *s, const struct snap_att *a, struct err *e)
{
    struct snap_att c;
    int ok = 1;

    if (snap_grow((void **)&s->atts, &s->cap_atts, s->natts, sizeof *s->atts) < 0)
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

void cloud_snap_init(struct cloud_snap *s)
{
    memset(s, 0, sizeof *s);
    s->complete = 1;
}

void cloud_snap_release(struct cloud_snap *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        free(s->v[i].path);
        free(s->v[i].etag);
        free(s->v[i].record_tag);
        free(s->v[i].type_tag);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

int cloud_snap_add(struct cloud_snap *s, const struct snap_entry *en, struct err *e)
{
    struct snap_entry c;
    size_t len;
    int ok = 1;

    if (!en->path || en->path[0] != '/')
        return err_set(e, ERR_INVALID, "cloud entry \"%s\": path must start with '/'",
                       en->path ? en->path : "(null)");
    if (snap_grow((void **)&s->v, &s->cap, s->n, sizeof *s->v) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    c = *en;
    c.path = dup_opt(en->path, &ok);
    c.etag = dup_opt(en->etag, &ok);
    c.record_tag = dup_opt(en->record_tag, &ok);
    c.type_tag = dup_opt(en->type_tag, &ok);
    if (!ok) {
        free(c.path);
        free(c.etag);
        free(c.record_tag);
        free(c.type_tag);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    len = strlen(c.path);
    while (len > 1 && c.path[len - 1] == '/')
        c.path[--len] = '\0';
    s->v[s->n++] = c;
    return 0;
}
