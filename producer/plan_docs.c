/*
 * plan_docs: the Documents planner, Odoo to the cloud (see plan_docs.h for the rules).
 *
 * Indexes: the cloud entries tagged {urn:odoosync}document, sorted by tag, and every
 * entry sorted by path (binary searches). Moves planned this pass are kept as (from, to)
 * prefixes, so an entry's path after its parents moved is known (eff_path), and the
 * places planned this pass are claimed (a names_set of paths), so two entries never aim
 * at one place. The jobs are collected here, then the deletions (when allowed) are
 * weighed, and everything is appended to the plan with its id.
 */
#include "plan_docs_int.h"

#include "banned.h"

static int push_str(struct pd *d, char ***v, size_t *n, size_t *cap, const char *s)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        char **nv = realloc(*v, ncap * sizeof *nv);
        if (!nv)
            return d->nomem = 1, ERR_NOMEM;
        *v = nv;
        *cap = ncap;
    }
    (*v)[*n] = dup_or_flag(d, s);
    if (!(*v)[*n])
        return ERR_NOMEM;
    (*n)++;
    return 0;
}

/* ---- indexes ---- */

static int cmp_tag(const void *a, const void *b)
{
    const struct snap_entry *x = *(const struct snap_entry *const *)a;
    const struct snap_entry *y = *(const struct snap_entry *const *)b;
    int r = strcmp(x->doc_tag, y->doc_tag);
    return r ? r : strcmp(x->path, y->path);
}

static int cmp_path(const void *a, const void *b)
{
    const struct snap_entry *x = *(const struct snap_entry *const *)a;
    const struct snap_entry *y = *(const struct snap_entry *const *)b;
    return strcmp(x->path, y->path);
}

/* How well en is the entry its tag names (higher is better): a file whose ETag is still
 * the one of its last sync (a copy gets another), then the one where the previous pass saw
 * the tag. */
static int tag_owner_score(const struct pd *d, const struct snap_entry *en)
{
    const struct plan_docs_prev *p =
        d->in->nprev ? bsearch(en->doc_tag, d->in->prev, d->in->nprev, sizeof *p, cmp_prev) : NULL;
    const char *sp = en->synced ? strchr(en->synced, ' ') : NULL;
    int score = 0;

    if (sp && en->etag && strcmp(etag_opaque(en->etag), etag_opaque(sp + 1)) == 0)
        score += 2;
    if (p && p->path && strcmp(p->path, en->path) == 0)
        score += 1;
    return score;
}

/*
 * Entries of one kind that carry the same Documents tag (WebDAV COPY takes dead properties
 * along: a user's copy of a synced file or folder): the best one (tag_owner_score, then
 * the first by path) is the record's entry, the others are copies (d->copies): new
 * entries, which become records of their own.
 */
static int find_copies(struct pd *d)
{
    for (size_t i = 0; i < d->ntags;) {
        size_t k = i + 1, best = i;

        while (k < d->ntags && strcmp(d->tags[k]->doc_tag, d->tags[i]->doc_tag) == 0)
            k++;
        for (int dir = 0; k - i > 1 && dir < 2; dir++) {
            size_t n = 0;

            best = d->ntags;
            for (size_t m = i; m < k; m++) {
                if (d->tags[m]->is_dir != dir)
                    continue;
                n++;
                if (best == d->ntags ||
                    tag_owner_score(d, d->tags[m]) > tag_owner_score(d, d->tags[best]))
                    best = m;
            }
            for (size_t m = i; n > 1 && m < k; m++) {
                if (d->tags[m]->is_dir != dir || m == best)
                    continue;
                if (!d->copies) {
                    d->copies = calloc(d->ntags, sizeof *d->copies);
                    if (!d->copies)
                        return d->nomem = 1, ERR_NOMEM;
                }
                d->copies[d->ncopies++] = d->tags[m];
            }
        }
        i = k;
    }
    if (d->ncopies)
        qsort(d->copies, d->ncopies, sizeof *d->copies, cmp_ptr);
    return 0;
}

static int index_cloud(struct pd *d)
{
    const struct cloud_snap *cs = d->in->cs;

    d->tags = calloc(cs->n ? cs->n : 1, sizeof *d->tags);
    d->paths = calloc(cs->n ? cs->n : 1, sizeof *d->paths);
    if (!d->tags || !d->paths)
        return d->nomem = 1, ERR_NOMEM;
    for (size_t i = 0; i < cs->n; i++) {
        const struct snap_entry *en = &cs->v[i];
        if (!en->path)
            continue;
        d->paths[d->npaths++] = en;
        if (en->fileid && *en->fileid)
            d->fileids = 1;
        if (en->doc_tag && *en->doc_tag)
            d->tags[d->ntags++] = en;
    }
    qsort(d->tags, d->ntags, sizeof *d->tags, cmp_tag);
    qsort(d->paths, d->npaths, sizeof *d->paths, cmp_path);
    return find_copies(d);
}

/* The first entry tagged tag (of the wanted kind), or NULL. */
const struct snap_entry *find_tag(const struct pd *d, const char *tag, int is_dir)
{
    size_t lo = 0, hi = d->ntags;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(d->tags[mid]->doc_tag, tag) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < d->ntags && strcmp(d->tags[lo]->doc_tag, tag) == 0; lo++)
        if (d->tags[lo]->is_dir == is_dir && !is_copy(d, d->tags[lo]))
            return d->tags[lo];
    return NULL;
}

/* path after the moves planned so far (malloc'd). */
char *eff_path(struct pd *d, const char *path)
{
    char *cur = dup_or_flag(d, path);

    for (size_t i = 0; cur && i < d->nmoves; i++) {
        const struct move *m = &d->moves[i];
        if (under(cur, m->from)) {
            char *next = fmt_or_flag(d, "%s%s", m->to, cur + strlen(m->from));
            free(cur);
            cur = next;
        }
    }
    return cur;
}

static int add_move(struct pd *d, const char *from, const char *to)
{
    if (d->nmoves == d->capm) {
        size_t ncap = d->capm ? d->capm * 2 : 16;
        struct move *nv = realloc(d->moves, ncap * sizeof *nv);
        if (!nv)
            return d->nomem = 1, ERR_NOMEM;
        d->moves = nv;
        d->capm = ncap;
    }
    d->moves[d->nmoves].from = dup_or_flag(d, from);
    d->moves[d->nmoves].to = dup_or_flag(d, to);
    d->nmoves++;
    return d->nomem ? ERR_NOMEM : 0;
}

/*
 * Whether the place want is free for an entry arriving there: not claimed this pass, and
 * whatever is there in the cloud (self excepted) has moved away with a parent.
 * *occ gets what is there (NULL when nothing).
 */
static int place_free(struct pd *d, const char *want, const struct snap_entry *self,
                      const struct snap_entry **occ)
{
    const struct snap_entry *o = find_path(d, want);
    char *eff;
    int free_;

    *occ = NULL;
    if (names_set_has(&d->claimed, want))
        return 0;
    if (!o || o == self)
        return 1;
    eff = eff_path(d, o->path);
    free_ = eff && strcmp(eff, want) != 0;
    free(eff);
    if (!free_)
        *occ = o;
    return free_;
}

int claim(struct pd *d, const char *path)
{
    if (names_set_add(&d->claimed, path) < 0)
        return d->nomem = 1, ERR_NOMEM;
    return 0;
}

int pd_keep(struct pd *d, const char *tag)
{
    return push_str(d, &d->keep, &d->nkeep, &d->capk, tag);
}

/* ---- placing ---- */

/*
 * The tagged cloud entry en (at cur, malloc'd: taken over) moves to want, where Odoo's
 * tree puts it: a rename job (*out), or none while want is taken, which waits (the plan's
 * message names it: kind, ident and name). 1 when planned, 0 when it waits, ERR_NOMEM.
 */
static int move_to_place(struct pd *d, const struct snap_entry *en, char *cur, const char *want,
                         const char *tag, const char *lock, const char *reason, const char *kind,
                         const char *ident, const char *name, struct job **out)
{
    const struct snap_entry *occ;
    struct job *j;

    if (!place_free(d, want, en, &occ)) {
        msg(d, "%s %s (\"%s\") should move from \"%s\" to \"%s\", which is taken: it waits", kind,
            ident, name, cur, want);
        free(cur);
        return 0;
    }
    j = new_job(d, JOB_RENAME, lock, reason);
    if (!j) {
        free(cur);
        return ERR_NOMEM;
    }
    j->path = cur;
    j->to = dup_or_flag(d, want);
    j->doc = dup_or_flag(d, tag);
    if (en->doc_retag) /* told by its file id: the applier finds it by that */
        j->fileid = dup_or_flag(d, en->fileid);
    *out = j;
    return 1;
}

/* at (may be NULL: no following): where the folder's content is to be looked for, when
 * the cloud moved it and Odoo follows (malloc'd), else left NULL (at want). */
static int place_folder(struct pd *d, const struct docs_folder *f, const char *want,
                        const char *lock, char **at)
{
    char tag[64];
    const struct snap_entry *en, *occ;
    struct job *j;
    char *cur;
    int ok, rc;

    snprintf(tag, sizeof tag, "%s,%ld", d->folder_model, f->id);
    if (push_str(d, &d->keep, &d->nkeep, &d->capk, tag) < 0)
        return ERR_NOMEM;
    d->managed++;
    en = find_tag(d, tag, 1);
    if (en) {
        cur = eff_path(d, en->path);
        if (!cur)
            return ERR_NOMEM;
        if (strcmp(cur, want) == 0) {
            free(cur);
            if (en->doc_retag && d->cloud_ok) {
                /* told by its file id (docs_ident.h): the mkdir adopts it, tags it again */
                j = new_job(d, JOB_MKDIR, lock, "Documents folder told by its file id: tagged");
                if (!j)
                    return ERR_NOMEM;
                j->path = dup_or_flag(d, want);
                j->doc = dup_or_flag(d, tag);
                j->fileid = dup_or_flag(d, en->fileid);
            }
            return claim(d, want) < 0 ? ERR_NOMEM : 1;
        }
        if (at && strcmp(cur, en->path) == 0) {
            rc = pd_follow_folder(d, f, en, want, tag, lock);
            if (rc != 0) {
                if (rc < 0 || claim(d, cur) < 0) {
                    free(cur);
                    return ERR_NOMEM;
                }
                *at = cur; /* its content is where the cloud put it */
                return 1;
            }
        }
        if (!d->cloud_ok) {
            free(cur); /* from-cloud: the cloud's place is not changed */
            return 0;
        }
        rc = move_to_place(d, en, cur, want, tag, lock, "Documents folder renamed or moved in Odoo",
                           "Documents folder", tag, f->name, &j);
        if (rc <= 0)
            return rc;
        if (add_move(d, j->path, want) < 0 || claim(d, want) < 0)
            return ERR_NOMEM;
        return 1;
    }
    if (!d->cloud_ok)
        return 0;
    if (at) { /* not a mapping's own folder: one the cloud deleted goes in Odoo too */
        rc = pd_folder_deleted(d, f, want, lock);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    ok = place_free(d, want, NULL, &occ);
    if (!ok && occ && occ->is_dir && !occ->doc_tag && !occ->record_tag && !occ->type_tag &&
        !occ->att_tag && !names_set_has(&d->claimed, want)) {
        ok = 1; /* an untagged folder at the place: the mkdir adopts it (tags it) */
    }
    if (!ok) {
        msg(d, "Documents folder %s (\"%s\"): \"%s\" is taken by something else: it waits", tag,
            f->name, want);
        return 0;
    }
    j = new_job(d, JOB_MKDIR, lock, occ ? "Documents folder adopted" : "Documents folder missing");
    if (!j)
        return ERR_NOMEM;
    j->path = dup_or_flag(d, want);
    j->doc = dup_or_flag(d, tag);
    return claim(d, want) < 0 ? ERR_NOMEM : 1;
}

static int place_file(struct pd *d, const struct docs_file *f, const char *want, const char *lock)
{
    char tag[64], ident[32];
    const struct snap_entry *en, *occ;
    struct job *j;
    char *cur;
    int rc;

    snprintf(tag, sizeof tag, DOC_MODEL ",%ld", f->id);
    if (push_str(d, &d->keep, &d->nkeep, &d->capk, tag) < 0)
        return ERR_NOMEM;
    d->managed++;
    if (!d->cloud_ok) {
        en = find_tag(d, tag, 0);
        if (en && strcmp(en->path, want) != 0 &&
            pd_follow_file(d, f, en, en->path, want, tag, lock) < 0)
            return ERR_NOMEM;
        return en ? claim(d, en->path) : 0;
    }
    en = find_tag(d, tag, 0);
    if (en) {
        cur = eff_path(d, en->path);
        if (!cur)
            return ERR_NOMEM;
        if (strcmp(cur, want) == 0) {
            free(cur);
            rc = pd_retag_file(d, f, en, want, tag, lock);
            if (rc == 0)
                rc = pd_edits(d, f, en, want, tag, lock);
            if (rc < 0)
                return ERR_NOMEM;
            return claim(d, want);
        }
        rc = pd_follow_file(d, f, en, cur, want, tag, lock);
        if (rc != 0) {
            free(cur);
            return rc < 0 ? rc : claim(d, en->path);
        }
        snprintf(ident, sizeof ident, "%ld", f->id);
        rc = move_to_place(d, en, cur, want, tag, lock, "document renamed or moved in Odoo",
                           "document", ident, f->name, &j);
        if (rc <= 0)
            return rc;
        j->expect.etag = dup_or_flag(d, en->etag);
        return claim(d, want);
    }
    if (pd_cloud_deleted(d, f, tag)) {
        if (!d->in->ds_complete || !d->in->cs->complete)
            return 0; /* a file left out of an incomplete listing is not taken for deleted */
        j = new_job(d, JOB_DELETE, lock, "document deleted in the cloud");
        if (!j)
            return ERR_NOMEM;
        j->side = JOB_SIDE_ODOO;
        j->att_id = f->att_id;
        j->name = dup_or_flag(d, f->name);
        j->doc = dup_or_flag(d, tag);
        j->expect.checksum = dup_or_flag(d, f->checksum);
        d->odoo_deletes++;
        return 0;
    }
    if (!place_free(d, want, NULL, &occ) &&
        !(occ && !occ->is_dir && !tagged(occ) && occ->size == f->size &&
          !names_set_has(&d->claimed, want))) {
        /* (an untagged file of the document's size: the upload adopts it when its bytes
         * are the document's, e.g. an upload killed before its tag) */
        msg(d,
            "document %ld (\"%s\"): \"%s\" is taken by a file the cloud holds: not "
            "overwritten, it waits",
            f->id, f->name, want);
        return 0;
    }
    if (!is_sha1(f->checksum)) {
        msg(d, "document %ld (\"%s\"): Odoo gives no checksum for its content: not uploaded", f->id,
            f->name);
        return 0;
    }
    j = pd_upload_job(d, f, want, tag, lock, "new document in Odoo");
    if (!j)
        return ERR_NOMEM;
    return claim(d, want);
}

/* The active sub-folders and files of folder fid (0: the top) under path. */
static int place_children(struct pd *d, long fid, const char *path, const char *lock)
{
    const struct docs_snapshot *ds = d->in->ds;
    struct names_set ns;
    int rc = 0;

    names_set_init(&ns);
    for (size_t i = 0; rc >= 0 && i < ds->nfolders; i++) {
        const struct docs_folder *f = &ds->folders[i];
        char *safe, *name, *want;

        if (!f->active || f->parent != fid || f->id == fid)
            continue;
        safe = names_sanitize(f->name);
        name = safe ? names_set_unique(&ns, safe, 0) : NULL;
        want = name ? fmt_or_flag(d, "%s/%s", path, name) : NULL;
        if (!want) {
            d->nomem = 1;
            rc = ERR_NOMEM;
        } else {
            char *at = NULL;

            rc = place_folder(d, f, want, lock, &at);
            if (rc == 1)
                rc = place_children(d, f->id, at ? at : want, lock);
            free(at);
        }
        free(safe);
        free(name);
        free(want);
    }
    for (size_t i = 0; rc >= 0 && i < ds->nfiles; i++) {
        const struct docs_file *f = &ds->files[i];
        char *safe, *name, *want;

        if (!f->active || f->folder != fid || f->kind != DOCS_FILE)
            continue;
        safe = names_sanitize(f->name);
        name = safe ? names_set_unique(&ns, safe, 1) : NULL;
        want = name ? fmt_or_flag(d, "%s/%s", path, name) : NULL;
        if (!want) {
            d->nomem = 1;
            rc = ERR_NOMEM;
        } else {
            rc = place_file(d, f, want, lock);
        }
        free(safe);
        free(name);
        free(want);
    }
    names_set_release(&ns);
    if (rc >= 0)
        rc = pd_new_from_cloud(d, fid, path, lock);
    return rc < 0 ? rc : 0;
}

/* One mapping: its base folder, then what lies under its Odoo folder. */
static int plan_mapping(struct pd *d, long top, const char *cloud, const char *label)
{
    const struct cfg *c = d->in->cfg;
    const struct docs_folder *tf = top ? docs_folder_by_id(d->in->ds, top) : NULL;
    const struct snap_entry *occ;
    struct docs_count n;
    struct job *j;
    char *base = fmt_or_flag(d, "/%s/%s", c->cloud.root, cloud);
    int rc = 0;

    if (!base)
        return ERR_NOMEM;
    if (d->cloud_ok && push_str(d, &d->bases, &d->nbases, &d->capb, base) < 0) {
        free(base);
        return ERR_NOMEM;
    }
    if (tf) {
        rc = place_folder(d, tf, base, base, NULL);
        occ = find_path(d, base);
        if (rc == 0 && !d->cloud_ok && occ && occ->is_dir)
            rc = 1; /* from-cloud: the base folder is the mapped folder, tagged or not */
    } else if (!find_path(d, base) && !d->cloud_ok) {
        rc = 0;
    } else if (!find_path(d, base)) {
        j = new_job(d, JOB_MKDIR, base, "Documents folder missing");
        rc = j ? 1 : ERR_NOMEM;
        if (j)
            j->path = dup_or_flag(d, base);
    } else {
        rc = (place_free(d, base, NULL, &occ) || (occ && occ->is_dir)) ? 1 : 0;
        if (!rc)
            msg(d, "%s: \"%s\" is not a folder: nothing planned for it", label, base);
    }
    if (rc == 1)
        rc = place_children(d, top, base, base);
    docs_count_under(d->in->ds, top, &n);
    if (n.urls || n.requests)
        msg(d, "%s: %zu url %s and %zu %s without a file are not synced", label, n.urls,
            n.urls == 1 ? "document" : "documents", n.requests,
            n.requests == 1 ? "request" : "requests");
    free(base);
    return rc < 0 ? rc : 0;
}

/* deeper first, files before folders at the same depth */
static int cmp_delete(const void *a, const void *b)
{
    const struct snap_entry *x = *(const struct snap_entry *const *)a;
    const struct snap_entry *y = *(const struct snap_entry *const *)b;
    size_t dx = 0, dy = 0;

    for (const char *p = x->path; *p; p++)
        dx += *p == '/';
    for (const char *p = y->path; *p; p++)
        dy += *p == '/';
    if (x->is_dir != y->is_dir)
        return x->is_dir ? 1 : -1;
    if (dx != dy)
        return dx > dy ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* Tagged entries under a base whose folder or document is no longer placed. */
static int plan_deletes(struct pd *d, size_t *weight)
{
    const struct snap_entry **del = calloc(d->ntags ? d->ntags : 1, sizeof *del);
    size_t n = 0;

    *weight = 0;
    if (!del)
        return d->nomem = 1, ERR_NOMEM;
    qsort(d->keep, d->nkeep, sizeof *d->keep, cmp_str);
    for (size_t i = 0; i < d->ntags; i++) {
        const struct snap_entry *en = d->tags[i];
        int in_base = 0;

        for (size_t b = 0; b < d->nbases && !in_base; b++)
            in_base = under(en->path, d->bases[b]) && strcmp(en->path, d->bases[b]) != 0;
        if (in_base && !kept(d, en->doc_tag) && !pd_edited_gone(d, en) && !pd_unproven_gone(d, en))
            del[n++] = en;
    }
    qsort(del, n, sizeof *del, cmp_delete);
    for (size_t i = 0; i < n; i++) {
        const struct snap_entry *en = del[i];
        const char *lock = NULL;
        struct job *j;

        for (size_t b = 0; b < d->nbases && !lock; b++)
            if (under(en->path, d->bases[b]))
                lock = d->bases[b];
        j = new_job(d, JOB_DELETE, lock,
                    en->is_dir ? "Documents folder gone from Odoo" : "document gone from Odoo");
        if (!j)
            break;
        j->path = dup_or_flag(d, en->path);
        j->doc = dup_or_flag(d, en->doc_tag);
        if (en->doc_retag)
            j->fileid = dup_or_flag(d, en->fileid);
        /* a file: only the version planned from; a folder: only while empty (what the
         * cloud added to it since stays, and keeps it) */
        j->expect.etag = en->is_dir ? NULL : dup_or_flag(d, en->etag);
        j->expect.checksum = en->is_dir ? dup_or_flag(d, JOB_SHA1_EMPTY) : NULL;
        (*weight)++;
    }
    free(del);
    return d->nomem ? ERR_NOMEM : 0;
}

static int append_jobs(struct pd *d, int drop_deletes)
{
    struct plan *p = d->p;
    struct job *nv;

    if (d->njobs == 0)
        return 0;
    nv = realloc(p->jobs, (p->njobs + d->njobs) * sizeof *nv);
    if (!nv)
        return d->nomem = 1, ERR_NOMEM;
    p->jobs = nv;
    p->cap = p->njobs + d->njobs;
    for (size_t i = 0; i < d->njobs; i++) {
        struct job *j = &d->jobs[i];
        int dropped = drop_deletes && j->kind == JOB_DELETE;

        if (dropped || d->nomem || job_make_id(j) < 0) {
            if (dropped)
                p->deletes_dropped++;
            else
                d->nomem = 1;
            job_release(j);
            continue;
        }
        p->count[j->kind][j->side]++;
        p->jobs[p->njobs++] = *j;
    }
    d->njobs = 0;
    return d->nomem ? ERR_NOMEM : 0;
}

int plan_docs(const struct plan_docs_input *in, struct plan *p, struct err *e)
{
    const struct cfg *c = in->cfg;
    struct pd d;
    size_t weight = 0;
    int rc = 0, drop = 0;

    memset(&d, 0, sizeof d);
    d.in = in;
    d.p = p;
    d.folder_model =
        in->ds->shape == DOCS_SHAPE_FOLDER_MODEL ? "documents.folder" : "documents.document";
    names_set_init(&d.claimed);
    rc = index_cloud(&d);
    if (c->documents.nmaps == 0 && rc == 0) {
        d.cloud_ok = d.odoo_ok = 1;
        rc = plan_mapping(&d, 0, c->documents.folder, "Documents");
    }
    for (size_t i = 0; rc == 0 && i < c->documents.nmaps; i++) {
        const struct cfg_docmap *m = &c->documents.maps[i];
        const struct docs_folder *f;
        struct err me = ERR_INIT;
        char cloud[1024], label[64];
        long top = 0;

        if (!m->enabled)
            continue;
        d.cloud_ok = m->direction != CFG_DIR_FROM_CLOUD;
        d.odoo_ok = m->direction != CFG_DIR_TO_CLOUD;
        snprintf(label, sizeof label, "documents.mappings[%zu]", i);
        if (docs_resolve(c, in->ds, i, &top, &me) < 0) {
            msg(&d, "%s: nothing planned for it", me.msg);
            continue;
        }
        f = docs_folder_by_id(in->ds, top);
        if (cfg_docmap_cloud(c, i, f ? f->name : NULL, cloud, sizeof cloud, &me) < 0) {
            msg(&d, "%s: nothing planned for it", me.msg);
            continue;
        }
        rc = plan_mapping(&d, top, cloud, label);
    }
    if (rc == 0 && in->ds_complete && in->cs->complete)
        rc = plan_deletes(&d, &weight);
    weight += d.odoo_deletes;
    if (rc == 0 && weight > 0 && !in->force_deletes &&
        (double)weight > c->safety.max_delete_share * (double)(d.managed + weight)) {
        drop = 1;
        msg(&d,
            "Documents: this pass would delete %zu of %zu files and folders (over %.0f%%): no "
            "deletion planned (use --force-deletes to override)",
            weight, d.managed + weight, c->safety.max_delete_share * 100.0);
        if (p->verdict == PLAN_VERDICT_OK)
            p->verdict = PLAN_VERDICT_DELETES_REFUSED;
    }
    if (rc == 0)
        rc = append_jobs(&d, drop);
    p->managed += d.managed;
    p->delete_weight += drop ? 0 : weight;
    for (size_t i = 0; i < d.njobs; i++)
        job_release(&d.jobs[i]);
    free(d.jobs);
    for (size_t i = 0; i < d.nmoves; i++) {
        free(d.moves[i].from);
        free(d.moves[i].to);
    }
    free(d.moves);
    for (size_t i = 0; i < d.nkeep; i++)
        free(d.keep[i]);
    free(d.keep);
    for (size_t i = 0; i < d.nbases; i++)
        free(d.bases[i]);
    free(d.bases);
    names_set_release(&d.claimed);
    free(d.tags);
    free(d.paths);
    free(d.copies);
    if (rc == 0 && d.nomem)
        rc = ERR_NOMEM;
    return rc < 0 ? err_set(e, rc, "documents: planning: out of memory") : 0;
}
