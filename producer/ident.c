/*
 * ident: tags resolved by file id (ident.h). Two sorted indexes of what the
 * previous pass saw (links by file id; document folders by file id and by
 * record), then one walk over the cloud snapshot.
 */
#include "ident.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

static int has_id(const char *s)
{
    return s && *s;
}

/* ---------- the previous pass's folders ---------- */

static int cmp_dir_fileid(const void *a, const void *b)
{
    return strcmp(((const struct ident_dir *)a)->fileid, ((const struct ident_dir *)b)->fileid);
}

int ident_dirs_from_state(const struct scan_state *prev, struct ident_dirs *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; prev && i < prev->ndirs; i++) {
        const struct state_dir *d = &prev->dirs[i];

        if (d->dropped)
            continue;
        for (size_t k = 0; k < d->n; k++) {
            const struct snap_entry *en = &d->kids[k];
            struct ident_dir *x;
            int ok = 1;

            if (!en->is_dir || !has_id(en->fileid) || !en->record_tag || !*en->record_tag)
                continue;
            if (snap_grow((void **)&out->v, &out->cap, out->n, sizeof *out->v) < 0)
                goto nomem;
            x = &out->v[out->n];
            x->fileid = snap_dup(en->fileid, &ok);
            x->record = snap_dup(en->record_tag, &ok);
            if (!ok) {
                free(x->fileid);
                free(x->record);
                goto nomem;
            }
            out->n++;
        }
    }
    for (size_t i = 0; prev && i < prev->nfolders; i++) {
        struct ident_dir *x;
        int ok = 1;

        if (snap_grow((void **)&out->v, &out->cap, out->n, sizeof *out->v) < 0)
            goto nomem;
        x = &out->v[out->n];
        x->fileid = snap_dup(prev->folders[i].fileid, &ok);
        x->record = snap_dup(prev->folders[i].record, &ok);
        if (!ok) {
            free(x->fileid);
            free(x->record);
            goto nomem;
        }
        out->n++;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_dir_fileid);
    return 0;
nomem:
    ident_dirs_release(out);
    return err_set(e, ERR_NOMEM, "out of memory");
}

void ident_dirs_release(struct ident_dirs *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].fileid);
        free(d->v[i].record);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}

/* ---------- indexes ---------- */

static int cmp_link_fileid(const void *a, const void *b)
{
    const struct snap_link *x = *(const struct snap_link *const *)a;
    const struct snap_link *y = *(const struct snap_link *const *)b;

    return strcmp(x->fileid, y->fileid);
}

static int cmp_dir_record(const void *a, const void *b)
{
    const struct ident_dir *x = *(const struct ident_dir *const *)a;
    const struct ident_dir *y = *(const struct ident_dir *const *)b;

    return strcmp(x->record, y->record);
}

static int cmp_ent_fileid(const void *a, const void *b)
{
    return strcmp((*(const struct snap_entry *const *)a)->fileid,
                  (*(const struct snap_entry *const *)b)->fileid);
}

struct idx {
    const struct snap_link **links; /* by file id: links with an attachment id and a file id */
    size_t nlinks;
    const struct snap_link **ups; /* by path: uploads not seen yet, with the mtime they gave */
    size_t nups;
    const struct ident_dir **recs; /* the folders by record */
    size_t nrecs;
    const struct snap_entry **ids; /* the entries of this snapshot with a file id, by it */
    size_t nids;
};

/*
 * The attachment the previous pass saw linked to file id `id`: 0 when none, or
 * when two links name it (nothing proven then).
 */
static long link_of_fileid(const struct idx *x, const char *id)
{
    size_t lo = 0, hi = x->nlinks, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (strcmp(x->links[mid]->fileid, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= x->nlinks || strcmp(x->links[lo]->fileid, id) != 0)
        return 0;
    if (lo + 1 < x->nlinks && strcmp(x->links[lo + 1]->fileid, id) == 0 &&
        x->links[lo + 1]->att_id != x->links[lo]->att_id)
        return 0;
    return x->links[lo]->att_id;
}

static const struct ident_dir *dir_of_fileid(const struct ident_dirs *d, const char *id)
{
    struct ident_dir key;

    if (!d || !d->n)
        return NULL;
    key.fileid = snap_lend(id);
    key.record = NULL;
    return bsearch(&key, d->v, d->n, sizeof *d->v, cmp_dir_fileid);
}

/* The file id the previous pass saw the folder of record `rec` with: NULL when none or
 * when it saw several. */
static const char *fileid_of_record(const struct idx *x, const char *rec)
{
    size_t lo = 0, hi = x->nrecs, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (strcmp(x->recs[mid]->record, rec) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= x->nrecs || strcmp(x->recs[lo]->record, rec) != 0)
        return NULL;
    if (lo + 1 < x->nrecs && strcmp(x->recs[lo + 1]->record, rec) == 0)
        return NULL;
    return x->recs[lo]->fileid;
}

static const struct snap_entry *entry_of_fileid(const struct idx *x, const char *id)
{
    struct snap_entry key;
    const struct snap_entry *kp = &key, *const * hit;

    if (!x->nids)
        return NULL;
    memset(&key, 0, sizeof key);
    key.fileid = snap_lend(id);
    hit = bsearch(&kp, x->ids, x->nids, sizeof *x->ids, cmp_ent_fileid);
    return hit ? *hit : NULL;
}

static int cmp_link_path(const void *a, const void *b)
{
    return strcmp((*(const struct snap_link *const *)a)->path,
                  (*(const struct snap_link *const *)b)->path);
}

/*
 * The attachment whose upload (planned by the previous pass, no file id seen yet) wrote
 * the file en: the same path and size, and the modification time the upload gave it
 * (the attachment's write_date, to the second). 0 when none, or when two uploads name
 * that path.
 */
static long upload_of(const struct idx *x, const struct snap_entry *en)
{
    size_t lo = 0, hi = x->nups, mid;

    if (en->is_dir || en->mtime <= 0)
        return 0;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (strcmp(x->ups[mid]->path, en->path) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= x->nups || strcmp(x->ups[lo]->path, en->path) != 0 ||
        (lo + 1 < x->nups && strcmp(x->ups[lo + 1]->path, en->path) == 0))
        return 0;
    if (x->ups[lo]->size != en->size || x->ups[lo]->mtime != en->mtime)
        return 0;
    return x->ups[lo]->att_id;
}

static void idx_release(struct idx *x)
{
    free(x->ups);
    free(x->links);
    free(x->recs);
    free(x->ids);
}

static int idx_build(struct idx *x, const struct cloud_snap *cs, const struct snap_links *prev,
                     const struct ident_dirs *dirs)
{
    memset(x, 0, sizeof *x);
    x->links = malloc(((prev ? prev->n : 0) + 1) * sizeof *x->links);
    x->ups = malloc(((prev ? prev->n : 0) + 1) * sizeof *x->ups);
    x->recs = malloc(((dirs ? dirs->n : 0) + 1) * sizeof *x->recs);
    x->ids = malloc((cs->n + 1) * sizeof *x->ids);
    if (!x->links || !x->ups || !x->recs || !x->ids)
        return ERR_NOMEM;
    for (size_t i = 0; prev && i < prev->n; i++) {
        const struct snap_link *l = &prev->v[i];

        if (l->att_id <= 0 || l->size == SNAP_LINK_GONE)
            continue;
        if (has_id(l->fileid))
            x->links[x->nlinks++] = l;
        else if (l->mtime > 0 && l->size >= 0 && l->path)
            x->ups[x->nups++] = l;
    }
    qsort(x->links, x->nlinks, sizeof *x->links, cmp_link_fileid);
    qsort(x->ups, x->nups, sizeof *x->ups, cmp_link_path);
    for (size_t i = 0; dirs && i < dirs->n; i++)
        x->recs[x->nrecs++] = &dirs->v[i];
    qsort(x->recs, x->nrecs, sizeof *x->recs, cmp_dir_record);
    for (size_t i = 0; i < cs->n; i++)
        if (has_id(cs->v[i].fileid))
            x->ids[x->nids++] = &cs->v[i];
    qsort(x->ids, x->nids, sizeof *x->ids, cmp_ent_fileid);
    return 0;
}

/* ---------- resolving ---------- */

/* A file or linked sub-folder: its attachment by file id (ident.h). 1 when changed. */
static int resolve_att(const struct idx *x, const struct snap_links *prev, struct snap_entry *en)
{
    long by_id = link_of_fileid(x, en->fileid);

    if (en->att_tag > 0) {
        const struct snap_link *l = snap_links_find(prev, en->att_tag);

        /* the tag is the file's own, or nothing says otherwise: kept */
        if (!l || !has_id(l->fileid) || strcmp(l->fileid, en->fileid) == 0)
            return 0;
        en->stale_att = en->att_tag;
        en->att_tag = by_id;
        en->retag = by_id > 0;
        return 1;
    }
    if (by_id <= 0) {
        /* no file id recorded yet: the previous pass's upload, told by what it wrote */
        long up = upload_of(x, en);

        if (up <= 0)
            return 0;
        en->att_tag = up;
        return 1;
    }
    en->att_tag = by_id;
    en->retag = 1;
    return 1;
}

/* A folder: its record by file id (ident.h). 1 when changed, ERR_NOMEM. */
static int resolve_rec(const struct idx *x, const struct ident_dirs *dirs, struct snap_entry *en)
{
    if (en->record_tag && *en->record_tag) {
        const char *had = fileid_of_record(x, en->record_tag);
        const struct snap_entry *real;

        /* the record's folder is another one, still there without its tag (told by its
         * file id): this tag was left behind. Two folders tagged alike are the planner's
         * (a merge under way) */
        if (!had || strcmp(had, en->fileid) == 0 || (real = entry_of_fileid(x, had)) == NULL ||
            !real->is_dir || (real->record_tag && !real->retag))
            return 0;
        free(en->record_tag);
        en->record_tag = NULL;
        return 1;
    }
    {
        const struct ident_dir *d = dir_of_fileid(dirs, en->fileid);
        char *r;

        if (!d || en->att_tag > 0 || (en->type_tag && *en->type_tag))
            return 0;
        r = strdup(d->record);
        if (!r)
            return ERR_NOMEM;
        free(en->record_tag);
        en->record_tag = r;
        en->retag = 1;
        return 1;
    }
}

int ident_resolve(struct cloud_snap *cs, const struct snap_links *prev,
                  const struct ident_dirs *dirs, size_t *nfixed, struct err *e)
{
    struct idx x;
    size_t fixed = 0;
    int rc = 0;

    if (nfixed)
        *nfixed = 0;
    if ((!prev || !prev->n) && (!dirs || !dirs->n))
        return 0;
    if (idx_build(&x, cs, prev, dirs) < 0) {
        idx_release(&x);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < cs->n && rc >= 0; i++) {
        struct snap_entry *en = &cs->v[i];

        if (!has_id(en->fileid))
            continue;
        if (en->is_dir && ((en->record_tag && *en->record_tag) || !en->att_tag)) {
            /* a document folder, or a folder that may be one: by record (a linked
             * sub-folder carries an attachment tag) */
            rc = resolve_rec(&x, dirs, en);
            if (rc == 0 && !en->record_tag && !en->type_tag)
                rc = resolve_att(&x, prev, en); /* a sub-folder that lost its tag */
        } else {
            rc = resolve_att(&x, prev, en);
        }
        if (rc > 0)
            fixed++;
    }
    idx_release(&x);
    if (rc < 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (nfixed)
        *nfixed = fixed;
    return 0;
}

void ident_note_state(struct scan_state *next, const struct cloud_snap *cs)
{
    struct err e2 = ERR_INIT;

    for (size_t i = 0; i < cs->n; i++) {
        const struct snap_entry *en = &cs->v[i];

        /* out of memory: the next pass knows less, nothing worse */
        if (en->is_dir && en->retag && en->record_tag && has_id(en->fileid) &&
            state_add_folder(next, en->fileid, en->record_tag, &e2) < 0)
            return;
    }
}
