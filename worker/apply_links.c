/*
 * apply_links: whether a url attachment links into a cloud folder by the
 * server's web link (common/link.h: "<root>/index.php/f/<file id>" and the
 * Files app's forms), for the guard of a folder's delete (apply_cloud.c):
 * such a link names a file by its id, not by its path, so the folder's
 * entries are listed (depth 1, folder by folder) for their file ids, and Odoo
 * is asked for the url attachments whose url holds one of them; each
 * candidate is then read back exactly (link_parse_web). A server without file
 * ids (the folder itself has none) costs one listing and no Odoo request.
 */
#include "apply.h"
#include "apply_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define IDS_PER_SEARCH 25

struct walk {
    const char *at; /* the folder being listed */
    char **ids;     /* normalised file ids seen */
    size_t nids, capids;
    char **todo; /* folders left to list */
    size_t ntodo, captodo;
    int no_ids; /* the folder listed has no file id: the server gives none, stop */
};

static int push(char ***v, size_t *n, size_t *cap, const char *s)
{
    char *d;

    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, nc * sizeof(*nv));

        if (!nv)
            return ERR_NOMEM;
        *v = nv;
        *cap = nc;
    }
    d = strdup(s);
    if (!d)
        return ERR_NOMEM;
    (*v)[(*n)++] = d;
    return 0;
}

static int same_path(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);

    while (na > 1 && a[na - 1] == '/')
        na--;
    while (nb > 1 && b[nb - 1] == '/')
        nb--;
    return na == nb && strncmp(a, b, na) == 0;
}

static int on_entry(const struct dav_entry *ent, void *ud)
{
    struct walk *w = ud;
    char id[LINK_FILEID_MAX];
    int self = same_path(ent->path, w->at);

    if (!link_fileid_norm(ent->fileid, id)) {
        if (self)
            w->no_ids = 1;
    } else if (push(&w->ids, &w->nids, &w->capids, id) < 0) {
        return ERR_NOMEM;
    }
    if (ent->is_dir && !self && push(&w->todo, &w->ntodo, &w->captodo, ent->path) < 0)
        return ERR_NOMEM;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_all(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* [type = url, | ... | (url ilike <pattern id>) for each id and pattern] */
static cJSON *candidates_domain(char *const *ids, size_t n)
{
    static const char *const pats[] = {"/f/", "files/", "openfile=", "fileid="};
    const size_t np = sizeof(pats) / sizeof(pats[0]);
    cJSON *dom = cJSON_CreateArray(), *t;
    char pat[LINK_FILEID_MAX + 16];
    int ok = dom != NULL;

    t = cJSON_CreateArray();
    ok = ok && t && cJSON_AddItemToArray(dom, t);
    ok = ok && cJSON_AddItemToArray(t, cJSON_CreateString("type")) &&
         cJSON_AddItemToArray(t, cJSON_CreateString("=")) &&
         cJSON_AddItemToArray(t, cJSON_CreateString("url"));
    for (size_t k = 1; ok && k < n * np; k++)
        ok = cJSON_AddItemToArray(dom, cJSON_CreateString("|"));
    for (size_t i = 0; ok && i < n; i++)
        for (size_t p = 0; ok && p < np; p++) {
            snprintf(pat, sizeof(pat), "%s%s", pats[p], ids[i]);
            t = cJSON_CreateArray();
            ok = t && cJSON_AddItemToArray(dom, t) &&
                 cJSON_AddItemToArray(t, cJSON_CreateString("url")) &&
                 cJSON_AddItemToArray(t, cJSON_CreateString("ilike")) &&
                 cJSON_AddItemToArray(t, cJSON_CreateString(pat));
        }
    if (!ok) {
        cJSON_Delete(dom);
        return NULL;
    }
    return dom;
}

int apply_linked_by_id(const struct applier *a, struct apply_conn *c, const char *folder,
                       long *att_id, struct err *e)
{
    static const char *const fields[] = {"id", "url", NULL};
    struct walk w;
    cJSON *rows = NULL;
    int rc = 0;

    memset(&w, 0, sizeof(w));
    *att_id = 0;
    if (push(&w.todo, &w.ntodo, &w.captodo, folder) < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    while (rc == 0 && w.ntodo > 0 && !w.no_ids) {
        char *at = w.todo[--w.ntodo];

        w.at = at;
        rc = dav_propfind(c->dav, at, 1, on_entry, &w, e);
        if (rc == ERR_NOMEM)
            err_set(e, rc, "out of memory");
        if (rc == ERR_NOTFOUND) {
            /* gone meanwhile: nothing there links anything */
            err_clear(e);
            rc = 0;
        }
        free(at);
    }
    if (rc < 0)
        goto out;
    if (w.nids == 0)
        goto out; /* no file id there: no web link can name anything in it */
    qsort(w.ids, w.nids, sizeof(*w.ids), cmp_str);
    for (size_t off = 0; off < w.nids && !*att_id; off += IDS_PER_SEARCH) {
        size_t n = w.nids - off < IDS_PER_SEARCH ? w.nids - off : IDS_PER_SEARCH;
        cJSON *dom = candidates_domain(w.ids + off, n);

        if (!dom) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        rc = odoo_search_read(c->odoo, "ir.attachment", dom, fields, 0, 0, NULL, &rows, e);
        cJSON_Delete(dom);
        if (rc < 0)
            goto out;
        for (int i = 0; i < cJSON_GetArraySize(rows) && !*att_id; i++) {
            const cJSON *row = cJSON_GetArrayItem(rows, i);
            char id[LINK_FILEID_MAX], *path = NULL, *key = id;

            if (link_parse_web(a->o.dav->url, apply_jstr(row, "url"), id, &path) == LINK_WEB_ID &&
                bsearch(&key, w.ids, w.nids, sizeof(*w.ids), cmp_str))
                *att_id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "id"));
            free(path);
        }
        cJSON_Delete(rows);
        rows = NULL;
    }
out:
    cJSON_Delete(rows);
    free_all(w.ids, w.nids);
    free_all(w.todo, w.ntodo);
    return rc;
}
