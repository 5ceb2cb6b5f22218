/*
 * docs_ident: Documents tags resolved by file id (docs_ident.h). One index of the
 * previous pass's Documents entries by file id, then one walk over the cloud snapshot.
 */
#include "docs_ident.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

static int has_id(const char *s)
{
    return s && *s;
}

static int cmp_fileid(const void *a, const void *b)
{
    const struct plan_docs_prev *x = *(const struct plan_docs_prev *const *)a;
    const struct plan_docs_prev *y = *(const struct plan_docs_prev *const *)b;
    return strcmp(x->fileid, y->fileid);
}

static int cmp_tag(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct plan_docs_prev *)elem)->tag);
}

/* The previous pass's entry with this file id, when exactly one had it. */
static const struct plan_docs_prev *by_fileid(const struct plan_docs_prev *const *v, size_t n,
                                              const char *fileid)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v[mid]->fileid, fileid) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= n || strcmp(v[lo]->fileid, fileid) != 0)
        return NULL;
    if (lo + 1 < n && strcmp(v[lo + 1]->fileid, fileid) == 0)
        return NULL; /* two entries with one file id: no proof */
    return v[lo];
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp((*(const struct snap_entry *const *)a)->path,
                  (*(const struct snap_entry *const *)b)->path);
}

/* Whether en lies directly in a folder of the attachment rules (a type, record or linked
 * folder): an untagged file there is theirs (ident.c), not a Documents entry. */
static int in_att_folder(const struct snap_entry *const *byp, size_t n, const struct snap_entry *en)
{
    const char *slash = strrchr(en->path, '/');
    size_t lo = 0, hi = n, len;

    if (!slash)
        return 0;
    len = (size_t)(slash - en->path);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strncmp(byp[mid]->path, en->path, len);
        if (r == 0 && byp[mid]->path[len] != '\0')
            r = 1;
        if (r == 0) {
            const struct snap_entry *p = byp[mid];
            return p->att_tag > 0 || (p->record_tag && *p->record_tag) ||
                   (p->type_tag && *p->type_tag);
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* en takes p's tag and mark (p NULL: none). 0 or ERR_NOMEM. */
static int take(struct snap_entry *en, const struct plan_docs_prev *p)
{
    char *tag = p ? strdup(p->tag) : NULL;
    char *synced = p && p->synced && !en->is_dir ? strdup(p->synced) : NULL;

    if ((p && !tag) || (p && p->synced && !en->is_dir && !synced)) {
        free(tag);
        free(synced);
        return ERR_NOMEM;
    }
    free(en->doc_tag);
    en->doc_tag = tag;
    free(en->synced);
    en->synced = synced;
    en->doc_retag = p != NULL;
    return 0;
}

int docs_ident_resolve(struct cloud_snap *cs, const struct plan_docs_prev *prev, size_t nprev,
                       size_t *nfixed, struct err *e)
{
    const struct plan_docs_prev **ids;
    const struct snap_entry **byp;
    size_t nids = 0, fixed = 0, np = 0;
    int rc = 0;

    *nfixed = 0;
    if (!prev || !nprev)
        return 0;
    ids = malloc(nprev * sizeof *ids);
    byp = malloc((cs->n + 1) * sizeof *byp);
    if (!ids || !byp) {
        free(ids);
        free(byp);
        return err_set(e, ERR_NOMEM, "documents: out of memory");
    }
    for (size_t i = 0; i < cs->n; i++)
        if (cs->v[i].path)
            byp[np++] = &cs->v[i];
    qsort(byp, np, sizeof *byp, cmp_path);
    for (size_t i = 0; i < nprev; i++)
        if (has_id(prev[i].fileid))
            ids[nids++] = &prev[i];
    qsort(ids, nids, sizeof *ids, cmp_fileid);
    for (size_t i = 0; nids && i < cs->n && rc == 0; i++) {
        struct snap_entry *en = &cs->v[i];
        const struct plan_docs_prev *mine, *had;

        if (!en->path || !has_id(en->fileid) || en->att_tag > 0 ||
            (en->record_tag && *en->record_tag) || (en->type_tag && *en->type_tag) ||
            in_att_folder(byp, np, en))
            continue; /* not a Documents entry (ident.c's) */
        mine = by_fileid(ids, nids, en->fileid);
        if (en->doc_tag && *en->doc_tag) {
            had = bsearch(en->doc_tag, prev, nprev, sizeof *prev, cmp_tag);
            /* the tag is the entry's own, or nothing says otherwise: kept */
            if (!had || !has_id(had->fileid) || strcmp(had->fileid, en->fileid) == 0)
                continue;
            en->stale_doc = en->doc_tag;
            en->doc_tag = NULL;
            rc = take(en, mine);
            fixed++;
            continue;
        }
        if (!mine)
            continue;
        rc = take(en, mine);
        fixed++;
    }
    free(ids);
    free(byp);
    if (rc < 0)
        return err_set(e, ERR_NOMEM, "documents: out of memory");
    *nfixed = fixed;
    return 0;
}
