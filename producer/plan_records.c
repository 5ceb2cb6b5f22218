/*
 * plan_records: step 3 of plan_build() (plan.c), the records. The first type
 * matching a record owns it; folder names are sanitised display names made
 * unique per type folder in record id order; each record's tagged folder is
 * found wherever it is (two levels under the root) and renamed / moved to its
 * place, or created. A place held by another document folder that leaves it
 * this pass is taken after it, in the same pass and under its lock
 * (resolve_pending), a cycle of names through a temporary name (park_cycle);
 * an untagged folder at a record's place is adopted and the old folder merged
 * into it (plan_merge). A record that exists but matches no type
 * (odoo_snap.unmatched) is a record of the archive folder under the archive
 * policy: it is moved there like a change of type (its folder is created only
 * when it has attachments, i.e. its archived folder was deleted in the cloud).
 *
 * The document folders placed here (ctx.df) are what steps 5 and 6 work in:
 * plan_df_of_entry() finds the one an entry sits directly in.
 */
#include "plan_int.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "banned.h"

/* ---------- records ---------- */

static int cmp_rec_key(const struct rec *a, const char *model, long id)
{
    int r = strcmp(a->r->model, model);

    if (r)
        return r;
    return a->r->id < id ? -1 : a->r->id > id ? 1 : 0;
}

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    int r = cmp_rec_key(x, y->r->model, y->r->id);

    if (r)
        return r;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

struct rec *plan_find_rec(const struct ctx *c, const char *model, long id)
{
    size_t lo = 0, hi = c->nrecs, mid;
    int r;

    if (!model)
        return NULL;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        r = cmp_rec_key(&c->recs[mid], model, id);
        if (r == 0)
            return &c->recs[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Find a record from a "model,id" tag. */
struct rec *plan_find_rec_tag(const struct ctx *c, const char *tag, char *model, size_t msize)
{
    const char *comma = strrchr(tag, ',');
    char *end;
    long id;
    size_t n;

    model[0] = '\0';
    if (!comma || comma == tag)
        return NULL;
    n = (size_t)(comma - tag);
    if (n >= msize)
        return NULL;
    memcpy(model, tag, n);
    model[n] = '\0';
    id = strtol(comma + 1, &end, 10);
    if (*end != '\0' || end == comma + 1)
        return NULL;
    return plan_find_rec(c, model, id);
}

/* Sort helper: records of one type by id. */
static int cmp_rec_ptr_id(const void *a, const void *b)
{
    const struct rec *x = *(struct rec *const *)a, *y = *(struct rec *const *)b;

    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    if (x->r->id != y->r->id)
        return x->r->id < y->r->id ? -1 : 1;
    return strcmp(x->r->model, y->r->model);
}

int plan_assign_records(struct ctx *c, struct rec ***byid_out)
{
    const struct odoo_snap *os = c->os;
    struct rec **byid = NULL;
    size_t t, i, n = 0, w;
    char tmp[48];

    for (t = 0; t < c->in->ntypes; t++)
        if (c->tf[t].scan_ok)
            n += os->types[t].n;
    if (c->ar >= 0)
        n += os->unmatched.n;
    c->recs = calloc(n ? n : 1, sizeof *c->recs);
    if (!c->recs)
        return c->nomem = 1, ERR_NOMEM;
    for (t = 0; t < c->in->ntypes; t++) {
        if (!c->tf[t].scan_ok)
            continue;
        for (i = 0; i < os->types[t].n; i++) {
            struct rec *r = &c->recs[c->nrecs++];
            r->r = &os->types[t].v[i];
            r->type = t;
            r->order = i;
            r->folder = -1;
        }
    }
    /* the archive comes after every type: a record a type lists is never archived */
    for (i = 0; c->ar >= 0 && i < os->unmatched.n; i++) {
        struct rec *r = &c->recs[c->nrecs++];
        r->r = &os->unmatched.v[i];
        r->type = (size_t)c->ar;
        r->order = i;
        r->folder = -1;
    }
    qsort(c->recs, c->nrecs, sizeof *c->recs, cmp_rec);
    /* first type wins: keep the first of each (model, id) */
    for (i = 0, w = 0; i < c->nrecs; i++) {
        if (w > 0 && cmp_rec_key(&c->recs[w - 1], c->recs[i].r->model, c->recs[i].r->id) == 0)
            continue;
        c->recs[w++] = c->recs[i];
    }
    c->nrecs = w;
    byid = calloc(c->nrecs ? c->nrecs : 1, sizeof *byid);
    if (!byid)
        return c->nomem = 1, ERR_NOMEM;
    for (i = 0; i < c->nrecs; i++) {
        struct rec *r = &c->recs[i];
        size_t kl = strlen(r->r->model) + 32;
        r->key = malloc(kl);
        if (!r->key)
            return free(byid), c->nomem = 1, ERR_NOMEM;
        snprintf(r->key, kl, "%s,%ld", r->r->model, r->r->id);
        byid[i] = r;
    }
    qsort(byid, c->nrecs, sizeof *byid, cmp_rec_ptr_id);
    /* unique names per type folder, in record id order */
    for (i = 0; i < c->nrecs;) {
        struct names_set ns;
        size_t k;
        names_set_init(&ns);
        for (k = i; k < c->nrecs && byid[k]->type == byid[i]->type; k++) {
            const char *dn = byid[k]->r->display_name;
            char *s;
            if (!dn || !*dn) {
                snprintf(tmp, sizeof tmp, "%ld", byid[k]->r->id);
                dn = tmp;
            }
            s = names_sanitize(dn);
            byid[k]->name = s ? names_set_unique(&ns, s, 0) : NULL;
            free(s);
            if (!byid[k]->name) {
                names_set_release(&ns);
                free(byid);
                return c->nomem = 1, ERR_NOMEM;
            }
        }
        names_set_release(&ns);
        i = k;
    }
    *byid_out = byid;
    return 0;
}

static long add_dfold(struct ctx *c, const char *cur_path, char *post, const char *key,
                      int cloud_ok, int odoo_ok)
{
    struct dfold *d;

    if (c->ndf == c->capdf) {
        size_t ncap = c->capdf ? c->capdf * 2 : 16;
        struct dfold *nv = realloc(c->df, ncap * sizeof *nv);
        if (!nv) {
            free(post);
            c->nomem = 1;
            return -1;
        }
        c->df = nv;
        c->capdf = ncap;
    }
    d = &c->df[c->ndf];
    memset(d, 0, sizeof *d);
    d->cur_path = cur_path;
    d->post = post;
    d->key = key;
    d->lock = post;
    d->cloud_ok = cloud_ok;
    d->odoo_ok = odoo_ok;
    names_set_init(&d->names);
    return (long)c->ndf++;
}

static int is_type_folder_path(const struct ctx *c, const char *path)
{
    size_t i;

    for (i = 0; i < c->ntf; i++)
        if ((long)i != c->sa && !c->tf[i].frozen && c->tf[i].cur &&
            strcmp(c->tf[i].cur->path, path) == 0)
            return 1;
    return 0;
}

static int is_standalone_path(const struct ctx *c, const char *path)
{
    const struct tfold *t;

    if (c->sa < 0)
        return 0;
    t = &c->tf[c->sa];
    return strcmp(path, t->want) == 0 || (t->cur && strcmp(path, t->cur->path) == 0);
}

/*
 * Plan a record's folder at `want` (owned: handed to its dfold): move it there from
 * pick, or create it there (adopting w, an untagged folder already at its place).
 * lock: the lock of its jobs, NULL for want itself.
 */
static int emit_place(struct ctx *c, struct rec *r, const struct snap_entry *pick,
                      const struct snap_entry *w, char *want, const char *lock)
{
    struct tfold *t = &c->tf[r->type];
    const char *cur_path = NULL;
    struct job *j;

    if (pick) {
        cur_path = pick->path;
        if (t->cloud_ok && strcmp(pick->path, want) != 0) {
            const char *ps = strrchr(pick->path, '/');
            int same_parent = strncmp(pick->path, want, (size_t)(ps - pick->path) + 1) == 0 &&
                              strchr(want + (ps - pick->path) + 1, '/') == NULL;
            const char *why = same_parent ? "record renamed" : "record changed type";
            if (r->parked)
                why = "names swapped: back from its temporary name";
            else if (plan_linked_into(c, want) && !plan_linked_into(c, pick->path))
                /* Odoo's links still name the place: the cloud moved the folder */
                why = same_parent ? "folder renamed in the cloud: renamed back"
                                  : "folder moved in the cloud: moved back";
            else if (!same_parent && t->archive)
                why = "record matches no type: archived";
            else if (!same_parent && c->ar >= 0 && c->tf[c->ar].cur &&
                     parent_is(pick->path, c->tf[c->ar].cur->path))
                why = "record matches a type again";
            j = plan_new_job(c, PH_DOCS, JOB_RENAME, JOB_SIDE_CLOUD, lock ? lock : want, why);
            if (!j)
                return free(want), ERR_NOMEM;
            j->path = xdup(c, r->parked ? r->park : pick->path);
            j->to = xdup(c, want);
            j->record = xdup(c, r->key);
            j->fileid = xdup(c, pick->fileid);
            j->expect.etag = xdup(c, pick->etag);
        }
        if (t->cloud_ok && pick->retag && !r->parked) {
            /* told by its file id, its tag lost (ident.h): the mkdir tags it where it is
             * after this pass (it adopts an untagged folder) */
            j = plan_new_job(c, PH_DOCS, JOB_MKDIR, JOB_SIDE_CLOUD, lock ? lock : want,
                             "document folder lost its tag");
            if (!j)
                return free(want), ERR_NOMEM;
            j->path = xdup(c, want);
            j->record = xdup(c, r->key);
        }
    } else {
        if (w) {
            c->chosen[eidx(c, w)] = 1;
            cur_path = w->path;
        }
        if (t->cloud_ok) {
            j = plan_new_job(c, PH_DOCS, JOB_MKDIR, JOB_SIDE_CLOUD, lock ? lock : want,
                             w ? "document folder adopted" : "document folder missing");
            if (!j)
                return free(want), ERR_NOMEM;
            j->path = xdup(c, want);
            j->record = xdup(c, r->key);
        }
    }
    r->folder = add_dfold(c, cur_path, want, r->key, t->cloud_ok, t->odoo_ok);
    if (r->folder < 0)
        return ERR_NOMEM;
    if (lock)
        c->df[r->folder].lock = lock;
    return 0;
}

/* Its place is held by another document folder (w): decided once every record is placed. */
static int set_pending(struct rec *r, const struct snap_entry *pick, const struct snap_entry *w,
                       char *want)
{
    r->pending = 1;
    r->pick = pick;
    r->blocker = w;
    r->want = want;
    return 0;
}

/* Whether a name left out of the listing (cloud_snap.lo) lies in folder path or below it. */
static int holds_left_out(const struct ctx *c, const char *path)
{
    size_t n = strlen(path);

    for (size_t i = 0; i < c->cs->nlo; i++) {
        const char *f = c->cs->lo[i].folder;
        size_t fl = strlen(f);

        if (strncmp(f, path, n) == 0 && (f[n] == '\0' || f[n] == '/'))
            return 1; /* in it, or in a folder below it */
        if (c->cs->lo[i].below && strncmp(path, f, fl) == 0 && path[fl] == '/')
            return 1; /* a folder left out above it could hold anything below */
    }
    return 0;
}

/* Delete a folder only while it is empty (the worker looks first): nothing managed goes. */
int plan_delete_empty(struct ctx *c, int ph, const char *path, const char *key, const char *lock,
                      const char *reason)
{
    struct job *j;

    if (holds_left_out(c, path)) {
        /* not empty: it holds a name the listing left out, which is never touched */
        plan_add_msg(c,
                     "\"%.300s\" holds a name left out of the listing (a control character): "
                     "not deleted",
                     path);
        return 0;
    }
    j = plan_new_job(c, ph, JOB_DELETE, JOB_SIDE_CLOUD, lock, reason);
    if (!j)
        return ERR_NOMEM;
    j->path = xdup(c, path);
    j->record = xdup(c, key);
    j->expect.checksum = xdup(c, JOB_SHA1_EMPTY);
    return c->nomem ? ERR_NOMEM : 0;
}

/*
 * The record's place holds an untagged folder w (made by a user, or by an older
 * worker's upload that overtook the record's rename) while its own folder is
 * elsewhere (pick): w is adopted (adopt: the mkdir tags it) and pick is emptied
 * into it, entry by entry (rename jobs, Overwrite: F; a name w holds already gets
 * a suffix, so both are kept), then deleted while empty. All under the lock of
 * the place, in that order. The record is frozen for the rest of this pass (both
 * folders too): its attachments follow the moved files on the next pass. A merge
 * cut short (a locked file, a failed move) goes on from the record's second
 * folder on the next pass (adopt = 0: w is its tagged folder, in place).
 */
static int plan_merge(struct ctx *c, struct rec *r, const struct snap_entry *pick,
                      const struct snap_entry *w, char *want, int adopt)
{
    struct names_set ns;
    struct job *j;
    size_t lo, hi, i;
    int rc = 0;

    names_set_init(&ns);
    c->chosen[eidx(c, pick)] = 1;
    if (adopt) {
        j = plan_new_job(c, PH_DOCS, JOB_MKDIR, JOB_SIDE_CLOUD, want, "document folder adopted");
        if (j) {
            j->path = xdup(c, want);
            j->record = xdup(c, r->key);
        }
    }
    plan_range_under(c, w->path, &lo, &hi);
    for (i = lo; i < hi && !c->nomem; i++)
        if (parent_is(c->ents[i]->path, w->path) &&
            names_set_add(&ns, base_name(c->ents[i]->path)) < 0)
            c->nomem = 1;
    plan_range_under(c, pick->path, &lo, &hi);
    for (i = lo; i < hi && !c->nomem; i++) {
        const struct snap_entry *en = c->ents[i];
        char *name, *to;
        if (!parent_is(en->path, pick->path))
            continue;
        name = names_set_unique(&ns, base_name(en->path), !en->is_dir);
        to = name ? join(c, want, name) : NULL;
        free(name);
        if (!to) {
            c->nomem = 1;
            break;
        }
        j = plan_new_job(c, PH_DOCS, JOB_RENAME, JOB_SIDE_CLOUD, want,
                         "merged into the adopted folder");
        if (j) {
            j->path = xdup(c, en->path);
            j->to = to;
            to = NULL;
            j->record = xdup(c, r->key);
            j->att_id = en->att_tag > 0 ? en->att_tag : 0;
            j->fileid = xdup(c, en->fileid);
            j->expect.etag = xdup(c, en->etag);
        }
        free(to);
    }
    names_set_release(&ns);
    if (!c->nomem)
        rc = plan_delete_empty(c, PH_DOCS, pick->path, r->key, want, "emptied by the merge");
    if (!c->nomem)
        plan_add_msg(c,
                     "record %s: \"%s\" %s, the files of \"%s\" move into it (their "
                     "attachments follow on the next pass)",
                     r->key, want, adopt ? "adopted" : "is its folder", pick->path);
    r->frozen = 1;
    if (!c->nomem && rc == 0)
        rc = plan_freeze(c, pick->path);
    if (!c->nomem && rc == 0)
        rc = plan_freeze(c, w->path);
    free(want);
    return c->nomem ? ERR_NOMEM : rc;
}

/* Another folder of the record (rtag[lo, hi)) in a managed type folder, not empty. */
static const struct snap_entry *
second_with_entries(const struct ctx *c, const struct snap_entry *pick, size_t lo, size_t hi)
{
    char parent[4096];
    size_t i, a, b;

    for (i = lo; i < hi; i++) {
        const struct snap_entry *en = c->rtag[i];
        const char *slash = strrchr(en->path, '/');
        size_t pl = (size_t)(slash - en->path);
        if (en == pick || depth(c, en->path) != 2 || plan_under_frozen(c, en->path) ||
            pl >= sizeof parent)
            continue;
        memcpy(parent, en->path, pl);
        parent[pl] = '\0';
        plan_range_under(c, en->path, &a, &b);
        if (b > a && is_type_folder_path(c, parent))
            return en;
    }
    return NULL;
}

/* Whether the snapshot holds an attachment of r (a linear look: only for archived
 * records without a folder). */
static int has_atts(const struct ctx *c, const struct rec *r)
{
    size_t i;

    for (i = 0; i < c->os->natts; i++)
        if (c->os->atts[i].res_id == r->r->id && c->os->atts[i].res_model &&
            strcmp(c->os->atts[i].res_model, r->r->model) == 0)
            return 1;
    return 0;
}

static int place_record(struct ctx *c, struct rec *r)
{
    struct tfold *t = &c->tf[r->type];
    const struct snap_entry *pick = NULL, *first_managed = NULL, *first = NULL, *w;
    char *want, parent[4096];
    size_t lo, hi, i;

    if (t->frozen) {
        /*
         * Its type folder is being renamed back: nothing is planned for the record this
         * pass, and its folders elsewhere (it may have just changed type) are frozen too,
         * or the files in them would look moved out of every document folder.
         */
        r->frozen = 1;
        plan_range_rtag(c, r->key, &lo, &hi);
        for (i = lo; i < hi; i++)
            if (depth(c, c->rtag[i]->path) == 2 && plan_freeze(c, c->rtag[i]->path) < 0)
                return ERR_NOMEM;
        return 0;
    }
    want = join(c, t->tpath, r->name);
    if (!want)
        return ERR_NOMEM;
    plan_range_rtag(c, r->key, &lo, &hi);
    for (i = lo; i < hi; i++) {
        const struct snap_entry *en = c->rtag[i];
        const char *slash;
        size_t pl;
        if (depth(c, en->path) != 2 || plan_under_frozen(c, en->path))
            continue;
        slash = strrchr(en->path, '/');
        pl = (size_t)(slash - en->path);
        if (pl >= sizeof parent)
            continue;
        memcpy(parent, en->path, pl);
        parent[pl] = '\0';
        if (is_standalone_path(c, parent))
            continue;
        if (strcmp(en->path, want) == 0) {
            pick = en;
            break;
        }
        if (!first_managed && is_type_folder_path(c, parent))
            first_managed = en;
        if (!first)
            first = en;
    }
    if (!pick)
        pick = first_managed ? first_managed : first;
    if (t->archive && !pick && !has_atts(c, r)) {
        /*
         * No folder is created for a record that matches no type, unless it has
         * attachments (its archived folder was deleted in the cloud: the rule of a
         * deleted document folder applies, its links are not left dangling).
         */
        for (i = lo; i < hi; i++)
            if (depth(c, c->rtag[i]->path) == 2 && plan_under_frozen(c, c->rtag[i]->path))
                r->frozen = 1;
        free(want);
        return 0;
    }
    /* a record whose folder sits in a frozen subtree is left alone */
    if (!pick) {
        for (i = lo; i < hi; i++)
            if (depth(c, c->rtag[i]->path) == 2 && plan_under_frozen(c, c->rtag[i]->path)) {
                r->frozen = 1;
                free(want);
                return 0;
            }
    }
    w = plan_find_path(c, want);
    if (pick) {
        c->chosen[eidx(c, pick)] = 1;
        if (pick == w) {
            /* in place; a second folder with entries is what a merge cut short left */
            const struct snap_entry *o = t->cloud_ok ? second_with_entries(c, pick, lo, hi) : NULL;
            if (o)
                return plan_merge(c, r, o, pick, want, 0);
        } else if (!t->cloud_ok) {
            free(want);
            want = xdup(c, pick->path);
            if (!want)
                return ERR_NOMEM;
        } else if (w) {
            /* another document folder may leave the place this pass: see resolve_pending */
            if (w->is_dir && w->record_tag && *w->record_tag)
                return set_pending(r, pick, w, want);
            if (w->is_dir)
                return plan_merge(c, r, pick, w, want, 1);
            plan_add_msg(c, "record %s: cannot move \"%s\" to \"%s\", the name is taken", r->key,
                         pick->path, want);
            r->frozen = 1;
            free(want);
            return plan_freeze(c, pick->path);
        }
        return emit_place(c, r, pick, w, want, NULL);
    }
    if (w && (!w->is_dir || (w->record_tag && *w->record_tag))) {
        if (w->is_dir && t->cloud_ok)
            return set_pending(r, NULL, w, want);
        plan_add_msg(c, "record %s: \"%s\" is taken by another %s", r->key, want,
                     w->is_dir ? "document folder" : "file");
        r->frozen = 1;
        free(want);
        return 0;
    }
    return emit_place(c, r, NULL, w, want, NULL);
}

static int cmp_df_cur(const void *a, const void *b, const struct dfold *df)
{
    return strcmp(df[*(const size_t *)a].cur_path, df[*(const size_t *)b].cur_path);
}

/* qsort has no context argument: a small insertion-merge sort keyed on df. */
static void sort_df_by_cur(size_t *v, size_t n, const struct dfold *df, size_t *tmp)
{
    size_t mid, i, j, k;

    if (n < 2)
        return;
    mid = n / 2;
    sort_df_by_cur(v, mid, df, tmp);
    sort_df_by_cur(v + mid, n - mid, df, tmp);
    for (i = 0, j = mid, k = 0; i < mid || j < n;)
        if (j >= n || (i < mid && cmp_df_cur(&v[i], &v[j], df) <= 0))
            tmp[k++] = v[i++];
        else
            tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static long find_df_cur(const struct ctx *c, const char *path)
{
    size_t lo = 0, hi = c->ndf_cur, mid;
    int r;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        r = strcmp(c->df[c->df_by_cur[mid]].cur_path, path);
        if (r == 0)
            return (long)c->df_by_cur[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The managed document folder an entry sits directly in, or -1. */
long plan_df_of_entry(const struct ctx *c, const char *path)
{
    const char *slash = strrchr(path, '/');
    char parent[4096];
    size_t n;

    if (!slash)
        return -1;
    n = (size_t)(slash - path);
    if (n >= sizeof parent)
        return -1;
    memcpy(parent, path, n);
    parent[n] = '\0';
    return find_df_cur(c, parent);
}

/* ---------- names freed this pass ---------- */

/*
 * Whether the folder w at a pending record's place leaves it this pass: 1 yes
 * (*lock: the lock of the job that frees it; *del: that job is the deletion of
 * a gone folder, still to plan), 0 not known yet (its record is pending too),
 * -1 no (the place stays taken).
 */
static int blocker_leaves(struct ctx *c, const struct rec *r, const char **lock, int *del)
{
    const struct snap_entry *w = r->blocker;
    const struct dfold *d;
    const struct rec *b;
    char model[256];
    int why;
    long att;

    *del = 0;
    b = plan_find_rec_tag(c, w->record_tag, model, sizeof model);
    if (b) {
        if (b == r)
            return -1;
        if (b->pending && b->parked) {
            *lock = b->want; /* its folder went to its temporary name */
            return 1;
        }
        if (b->pending)
            return 0;
        if (b->frozen || b->folder < 0)
            return -1;
        d = &c->df[b->folder];
        if (!d->cur_path || strcmp(d->cur_path, w->path) != 0 || strcmp(d->post, w->path) == 0)
            return -1; /* not its record's folder, or it stays */
        *lock = d->lock;
        return 1;
    }
    if (!plan_gone_folder(c, w, &why, &att))
        return -1;
    *lock = w->path;
    *del = 1;
    return 1;
}

static int freeze_pending(struct ctx *c, struct rec *r)
{
    int rc = 0;

    if (r->pick)
        plan_add_msg(c, "record %s: cannot move \"%s\" to \"%s\", the name is taken", r->key,
                     r->pick->path, r->want);
    else
        plan_add_msg(c, "record %s: \"%s\" is taken by another document folder", r->key, r->want);
    r->frozen = 1;
    r->pending = 0;
    if (r->pick)
        rc = plan_freeze(c, r->pick->path);
    if (!r->parked) { /* a parked record's want is the lock of other jobs: kept till the end */
        free(r->want);
        r->want = NULL;
    }
    return rc;
}

/*
 * A cycle of names (two records swapping names, or more): every record of it waits
 * for the next one's folder. The first record of a cycle (record id order) moves
 * its folder to a temporary name in the type folder it is in ("~odoosync-swap "
 * + its record tag, a name no document folder gets), which frees its place: the
 * others move in turn, and it comes back to its own place last (emit_place). Every
 * job of the cycle carries its lock (its place), so the key keeps them in order. A
 * temporary name already taken leaves the cycle waiting. 1: one record parked, 0:
 * no cycle left, or ERR_NOMEM.
 */
static int park_cycle(struct ctx *c, struct rec **byid)
{
    char model[256];
    size_t i, n;

    for (i = 0; i < c->nrecs; i++) {
        struct rec *r = byid[i], *b = r;
        const char *slash;
        struct buf tmp;
        struct job *j;
        if (!r->pending || r->parked || !r->pick)
            continue;
        n = 0;
        do
            b = plan_find_rec_tag(c, b->blocker->record_tag, model, sizeof model);
        while (b && b != r && b->pending && !b->parked && b->pick && ++n < c->nrecs);
        if (b != r)
            continue;
        slash = strrchr(r->pick->path, '/');
        buf_init(&tmp, 64 * 1024);
        if (buf_append(&tmp, r->pick->path, (size_t)(slash - r->pick->path)) < 0 ||
            buf_printf(&tmp, "/~odoosync-swap %s", r->key) < 0) {
            buf_release(&tmp);
            return c->nomem = 1, ERR_NOMEM;
        }
        if (plan_find_path(c, buf_str(&tmp))) {
            buf_release(&tmp);
            continue;
        }
        j = plan_new_job(c, PH_DOCS, JOB_RENAME, JOB_SIDE_CLOUD, r->want,
                         "names swapped: waits under a temporary name");
        if (j) {
            j->path = xdup(c, r->pick->path);
            j->to = xdup(c, buf_str(&tmp));
            j->record = xdup(c, r->key);
            j->fileid = xdup(c, r->pick->fileid);
            j->expect.etag = xdup(c, r->pick->etag);
        }
        r->park = xdup(c, buf_str(&tmp));
        buf_release(&tmp);
        if (c->nomem)
            return ERR_NOMEM;
        r->parked = 1;
        return 1;
    }
    return 0;
}

/*
 * Records whose place is held by another document folder. When that folder
 * leaves this pass (its record moves or is renamed away, or it is deleted as
 * gone), the record is moved or created there in the same pass, after it: its
 * jobs carry the lock of the job that frees the place (so they run after it,
 * in the same key), and a gone folder's deletion is planned right before it in
 * phase 2 instead of phase 5. Chains resolve in order, cycles through a
 * temporary name (park_cycle); a place that stays taken leaves the record
 * waiting, with a message.
 */
static int resolve_pending(struct ctx *c, struct rec **byid)
{
    const char *lock = NULL;
    int progress = 1, st, del, rc;
    size_t i;

    while (progress) {
        progress = 0;
        for (i = 0; i < c->nrecs; i++) {
            struct rec *r = byid[i];
            char *want;
            if (!r->pending)
                continue;
            st = blocker_leaves(c, r, &lock, &del);
            if (st == 0)
                continue;
            progress = 1;
            if (st < 0) {
                rc = freeze_pending(c, r);
            } else {
                rc = 0;
                if (del && !c->early[eidx(c, r->blocker)]) {
                    rc = plan_gone_delete(c, r->blocker, PH_DOCS);
                    c->early[eidx(c, r->blocker)] = 1;
                    c->early_paths[c->nearly++] = r->blocker->path;
                }
                want = r->want;
                r->want = NULL;
                r->pending = 0;
                if (rc == 0)
                    rc = emit_place(c, r, r->pick, NULL, want, lock);
                else
                    free(want);
            }
            if (rc < 0)
                return rc;
        }
        /* stuck: a cycle of names? one of it waits under a temporary name, the rest turns */
        if (!progress && (progress = park_cycle(c, byid)) < 0)
            return progress;
    }
    for (i = 0; i < c->nrecs; i++)
        if (byid[i]->pending && (rc = freeze_pending(c, byid[i])) < 0)
            return rc;
    return 0;
}

int plan_place_records(struct ctx *c, struct rec **byid)
{
    size_t i, *tmp;
    int rc;

    for (i = 0; i < c->nrecs; i++) {
        rc = place_record(c, byid[i]);
        if (rc < 0)
            return rc;
    }
    rc = resolve_pending(c, byid);
    if (rc < 0)
        return rc;
    c->sa_df = -1;
    if (c->sa >= 0 && !c->tf[c->sa].frozen) {
        struct tfold *t = &c->tf[c->sa];
        char *post = xdup(c, t->tpath);
        if (!post)
            return ERR_NOMEM;
        c->sa_df = add_dfold(c, t->cur ? t->cur->path : NULL, post, NULL, 1, 1);
        if (c->sa_df < 0)
            return ERR_NOMEM;
    }
    c->df_by_cur = calloc(c->ndf ? c->ndf : 1, sizeof *c->df_by_cur);
    tmp = calloc(c->ndf ? c->ndf : 1, sizeof *tmp);
    if (!c->df_by_cur || !tmp) {
        free(tmp);
        return c->nomem = 1, ERR_NOMEM;
    }
    for (i = 0; i < c->ndf; i++)
        if (c->df[i].cur_path)
            c->df_by_cur[c->ndf_cur++] = i;
    sort_df_by_cur(c->df_by_cur, c->ndf_cur, c->df, tmp);
    free(tmp);
    return 0;
}
