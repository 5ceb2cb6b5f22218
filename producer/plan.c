/*
 * plan: the planner (plan.h). One pass of plan_build():
 *
 *   1. index the cloud snapshot: entries sorted by path (children of a folder
 *      are one contiguous range), folders by record tag, entries by
 *      attachment tag;
 *   2. type folders (and the stand-alone folder): find the folder tagged with
 *      the type name, plan mkdir / rename back; a type whose folder is renamed
 *      back, or whose Odoo scan failed, is frozen (nothing planned under it);
 *   3. records: the first type matching a record owns it; folder names are
 *      sanitised display names made unique per type folder in record id
 *      order; each record's tagged folder is found wherever it is (two levels
 *      under the root) and renamed / moved to its place, or created; a place
 *      held by another document folder that leaves it this pass is taken
 *      after it, in the same pass and under its lock (resolve_pending), a
 *      cycle of names through a temporary name (park_cycle); an untagged folder
 *      at a record's place is adopted and the old folder merged into it
 *      (plan_merge);
 *   4. tagged document folders of records deleted in Odoo are deleted (not
 *      when a live url attachment links into one, or when whether the record
 *      exists is unknown); a record that exists but matches no type
 *      (odoo_snap.unmatched) is a record of the archive folder under the
 *      archive policy (moved there in step 3, like a change of type; its
 *      folder is created only when it has attachments, i.e. its archived
 *      folder was deleted in the cloud), and its folder is left alone under
 *      the keep policy;
 *   5. attachments, by id: binary -> upload; url -> follow its tagged file
 *      (or its url): renamed, moved to another document folder (by the cloud:
 *      relink; by Odoo, told from the previous pass's links: move the file),
 *      moved out, gone;
 *   6. the remaining entries of each document folder: tagged with an
 *      attachment that is gone and proven the linked file (previous pass's
 *      links) -> delete the file, else a new file or sub-folder -> relink
 *      (create a url attachment); every link seen goes to plan.links;
 *   7. delete safety, job ids, and the phases concatenated in apply order.
 *
 * Jobs are collected per phase (plan.h "Job order") and concatenated at the
 * end. Allocation failures set ctx.nomem and unwind to ERR_NOMEM.
 */
#include "plan.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "names.h"
#include "banned.h"

enum { PH_TYPES = 0, PH_DOCS, PH_FILES, PH_ODOO, PH_DOC_DELETE, PH_COUNT };

#define URL_MAX (64 * 1024)

struct jlist {
    struct job *v;
    size_t n, cap;
};

/* A type folder, or the stand-alone folder (the last one when enabled). */
struct tfold {
    const char *raw;              /* configured name = the type tag */
    const char *model;            /* NULL for the stand-alone folder, "" for the archive */
    char *name;                   /* sanitised, unique among type folders */
    char *want;                   /* root + "/" + name */
    const struct snap_entry *cur; /* the folder that holds its documents now, if any */
    const char *tpath;            /* where its documents live after this pass */
    int frozen, cloud_ok, odoo_ok, scan_ok;
    int archive; /* the archive folder: its records are the unmatched ones (odoo_snap.unmatched) */
};

struct rec {
    const struct snap_record *r;
    char *key; /* "model,id" */
    size_t type;
    size_t order; /* position among the records of its type, for stable sorting */
    char *name;   /* unique folder name */
    int frozen;
    long folder; /* index in ctx.df, -1 if none */
    /*
     * pending: its place is held by another document folder (blocker) that may
     * leave it this pass; resolve_pending() plans it after that folder's job, or
     * freezes it. pick: its current folder (NULL: none); want: its place.
     */
    int pending;
    const struct snap_entry *pick, *blocker;
    char *want;
    /* parked: its folder waits at park (a temporary name) while a cycle of names turns */
    int parked;
    char *park;
};

/* A document folder managed this pass (or the stand-alone folder). */
struct dfold {
    const char *cur_path; /* the folder now (its children are read there), NULL if missing */
    char *post;           /* its path after this pass */
    const char *key;      /* record tag, NULL for the stand-alone folder */
    const char *lock;     /* lock (= key) of its jobs: post, or the lock of the job that
                             frees its name this pass (see resolve_pending) */
    int cloud_ok, odoo_ok;
    int names_ready;
    struct names_set names;
};

/* A url attachment and the decoded cloud path its url names. */
struct upath {
    char *path;
    long att_id;
};

struct ctx {
    const struct plan_input *in;
    const struct odoo_snap *os;
    const struct cloud_snap *cs;
    struct plan *p;
    int nomem;
    char *root;
    size_t root_len;
    const struct snap_entry **ents; /* by path */
    size_t nents;
    const struct snap_entry **rtag; /* folders with a record tag, by (tag, path) */
    size_t nrtag;
    const struct snap_entry **atag; /* entries with an attachment tag, by (tag, path) */
    size_t natag;
    unsigned char *claimed;   /* per cloud entry (index in cs->v): handled by an attachment */
    unsigned char *chosen;    /* per cloud entry: the current folder of a record */
    unsigned char *early;     /* per cloud entry: a gone folder deleted in phase 2 (a record
                                 takes its name this pass) */
    const char **early_paths; /* those folders' paths (borrowed from the snapshot) */
    size_t nearly;
    struct tfold *tf;
    size_t ntf;
    long sa; /* index of the stand-alone tfold, -1 */
    long ar; /* index of the archive tfold, -1 (keep policy, or nothing to archive) */
    const struct snap_record **unm; /* os->unmatched by (model, id) */
    struct upath *upaths;           /* url attachments by the decoded path they name (lazy) */
    size_t nupaths;
    int upaths_ready;
    struct rec *recs; /* by (model, id) */
    size_t nrecs;
    struct dfold *df;
    size_t ndf, capdf;
    size_t *df_by_cur; /* indices of df with a cur_path, by cur_path */
    size_t ndf_cur;
    long sa_df;                   /* index of the stand-alone dfold, -1 */
    const struct snap_att **atts; /* by id */
    char **frozen;
    size_t nfrozen, capfrozen;
    struct jlist ph[PH_COUNT];
    size_t managed, del_weight;
    size_t *lo_withheld; /* per cs->lo: Odoo-side deletions withheld for that folder (lazy) */
};

/* ---------- small helpers ---------- */

static char *xdup(struct ctx *c, const char *s)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        c->nomem = 1;
    return d;
}

static char *join(struct ctx *c, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);

    if (!s) {
        c->nomem = 1;
        return NULL;
    }
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

/* Whether path is dir itself or below it. */
static int is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether path's parent folder is exactly dir. */
static int parent_is(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0' &&
           strchr(path + n + 1, '/') == NULL;
}

/* Components below the root (0 for the root, -1 when outside). */
static int depth(const struct ctx *c, const char *path)
{
    const char *s;
    int d = 1;

    if (strcmp(path, c->root) == 0)
        return 0;
    if (strncmp(path, c->root, c->root_len) != 0 || path[c->root_len] != '/')
        return -1;
    for (s = path + c->root_len + 1; *s; s++)
        if (*s == '/')
            d++;
    return d;
}

static void add_msg(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_msg(struct ctx *c, const char *fmt, ...)
{
    struct plan *p = c->p;
    struct buf b;
    va_list ap;
    char **nv;
    char tmp[1024];

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (p->nmessages == p->cap_messages) {
        size_t ncap = p->cap_messages ? p->cap_messages * 2 : 8;
        nv = realloc(p->messages, ncap * sizeof *nv);
        if (!nv) {
            c->nomem = 1;
            return;
        }
        p->messages = nv;
        p->cap_messages = ncap;
    }
    buf_init(&b, sizeof tmp + 1);
    if (buf_puts(&b, tmp) < 0) {
        c->nomem = 1;
        return;
    }
    p->messages[p->nmessages++] = buf_detach(&b);
}

static int freeze(struct ctx *c, const char *path)
{
    char **nv;

    if (c->nfrozen == c->capfrozen) {
        size_t ncap = c->capfrozen ? c->capfrozen * 2 : 8;
        nv = realloc(c->frozen, ncap * sizeof *nv);
        if (!nv) {
            c->nomem = 1;
            return ERR_NOMEM;
        }
        c->frozen = nv;
        c->capfrozen = ncap;
    }
    c->frozen[c->nfrozen] = xdup(c, path);
    if (!c->frozen[c->nfrozen])
        return ERR_NOMEM;
    c->nfrozen++;
    return 0;
}

static int under_frozen(const struct ctx *c, const char *path)
{
    size_t i;

    for (i = 0; i < c->nfrozen; i++)
        if (is_under(path, c->frozen[i]))
            return 1;
    return 0;
}

static size_t eidx(const struct ctx *c, const struct snap_entry *en)
{
    return (size_t)(en - c->cs->v);
}

static struct job *new_job(struct ctx *c, int ph, enum job_kind k, enum job_side s,
                           const char *lock, const char *reason)
{
    struct jlist *l = &c->ph[ph];
    struct job *j;

    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        struct job *nv = realloc(l->v, ncap * sizeof *nv);
        if (!nv) {
            c->nomem = 1;
            return NULL;
        }
        l->v = nv;
        l->cap = ncap;
    }
    j = &l->v[l->n++];
    job_init(j);
    j->schema = JOB_SCHEMA_VERSION;
    j->kind = k;
    j->side = s;
    j->version = c->in->version;
    j->created_at = c->in->version;
    j->size = -1;
    j->lock = xdup(c, lock);
    j->reason = xdup(c, reason);
    return j;
}

/* ---------- cloud index ---------- */

static int cmp_ent_path(const void *a, const void *b)
{
    const struct snap_entry *x = *(const struct snap_entry *const *)a;
    const struct snap_entry *y = *(const struct snap_entry *const *)b;

    return strcmp(x->path, y->path);
}

static int cmp_ent_rtag(const void *a, const void *b)
{
    const struct snap_entry *x = *(const struct snap_entry *const *)a;
    const struct snap_entry *y = *(const struct snap_entry *const *)b;
    int r = strcmp(x->record_tag, y->record_tag);

    return r ? r : strcmp(x->path, y->path);
}

static int cmp_ent_atag(const void *a, const void *b)
{
    const struct snap_entry *x = *(const struct snap_entry *const *)a;
    const struct snap_entry *y = *(const struct snap_entry *const *)b;

    if (x->att_tag != y->att_tag)
        return x->att_tag < y->att_tag ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* First index in c->ents whose path is >= s. */
static size_t lower_bound(const struct ctx *c, const char *s)
{
    size_t lo = 0, hi = c->nents, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (strcmp(c->ents[mid]->path, s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct snap_entry *find_path(const struct ctx *c, const char *path)
{
    size_t i = lower_bound(c, path);

    if (i < c->nents && strcmp(c->ents[i]->path, path) == 0)
        return c->ents[i];
    return NULL;
}

/*
 * Range [*lo, *hi) of entries strictly below dir. Entries are in strcmp order,
 * where a sibling such as "dir, x" or "dir-2" sorts between "dir" and "dir/...":
 * the entries below dir are the contiguous run that starts at "dir/".
 */
static void range_under(const struct ctx *c, const char *dir, size_t *lo, size_t *hi)
{
    size_t n = strlen(dir), i, a = 0, b = c->nents, mid;
    int cmp;

    /* lower bound of dir + "/" without building it */
    while (a < b) {
        mid = a + (b - a) / 2;
        cmp = strncmp(c->ents[mid]->path, dir, n);
        if (cmp == 0)
            cmp = (unsigned char)c->ents[mid]->path[n] < (unsigned char)'/' ? -1 : 1;
        if (cmp < 0)
            a = mid + 1;
        else
            b = mid;
    }
    i = a;
    *lo = i;
    while (i < c->nents && strncmp(c->ents[i]->path, dir, n) == 0 && c->ents[i]->path[n] == '/')
        i++;
    *hi = i;
}

/* Range of att-tagged entries for one attachment id. */
static void range_atag(const struct ctx *c, long id, size_t *lo, size_t *hi)
{
    size_t a = 0, b = c->natag, mid;

    while (a < b) {
        mid = a + (b - a) / 2;
        if (c->atag[mid]->att_tag < id)
            a = mid + 1;
        else
            b = mid;
    }
    *lo = a;
    while (a < c->natag && c->atag[a]->att_tag == id)
        a++;
    *hi = a;
}

static void range_rtag(const struct ctx *c, const char *key, size_t *lo, size_t *hi)
{
    size_t a = 0, b = c->nrtag, mid;

    while (a < b) {
        mid = a + (b - a) / 2;
        if (strcmp(c->rtag[mid]->record_tag, key) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    *lo = a;
    while (a < c->nrtag && strcmp(c->rtag[a]->record_tag, key) == 0)
        a++;
    *hi = a;
}

static int index_cloud(struct ctx *c)
{
    const struct cloud_snap *cs = c->cs;
    size_t i, n = cs->n ? cs->n : 1;

    c->ents = calloc(n, sizeof *c->ents);
    c->rtag = calloc(n, sizeof *c->rtag);
    c->atag = calloc(n, sizeof *c->atag);
    c->claimed = calloc(n, 1);
    c->chosen = calloc(n, 1);
    c->early = calloc(n, 1);
    c->early_paths = calloc(n, sizeof *c->early_paths);
    if (!c->ents || !c->rtag || !c->atag || !c->claimed || !c->chosen || !c->early ||
        !c->early_paths) {
        c->nomem = 1;
        return ERR_NOMEM;
    }
    for (i = 0; i < cs->n; i++) {
        const struct snap_entry *en = &cs->v[i];
        if (depth(c, en->path) < 0)
            continue;
        c->ents[c->nents++] = en;
        if (en->is_dir && en->record_tag && *en->record_tag)
            c->rtag[c->nrtag++] = en;
        if (en->att_tag > 0)
            c->atag[c->natag++] = en;
    }
    qsort(c->ents, c->nents, sizeof *c->ents, cmp_ent_path);
    qsort(c->rtag, c->nrtag, sizeof *c->rtag, cmp_ent_rtag);
    qsort(c->atag, c->natag, sizeof *c->atag, cmp_ent_atag);
    return 0;
}

/* ---------- type folders ---------- */

static int setup_type_folder(struct ctx *c, struct tfold *t, unsigned char *tclaimed,
                             struct names_set *tn)
{
    const struct snap_entry *w, *tagged = NULL;
    char *s;
    size_t i;
    struct job *j;

    s = names_sanitize(t->raw);
    if (!s)
        return c->nomem = 1, ERR_NOMEM;
    t->name = names_set_unique(tn, s, 0);
    free(s);
    if (!t->name)
        return c->nomem = 1, ERR_NOMEM;
    t->want = join(c, c->root, t->name);
    if (!t->want)
        return ERR_NOMEM;
    t->tpath = t->want;

    /* the folder tagged with this type: at its place first, else the first by path */
    w = find_path(c, t->want);
    if (w && w->is_dir && w->type_tag && strcmp(w->type_tag, t->raw) == 0 && !tclaimed[eidx(c, w)])
        tagged = w;
    for (i = 0; !tagged && i < c->nents; i++) {
        const struct snap_entry *en = c->ents[i];
        if (en->is_dir && depth(c, en->path) == 1 && en->type_tag &&
            strcmp(en->type_tag, t->raw) == 0 && !tclaimed[eidx(c, en)])
            tagged = en;
    }

    if (tagged == w && w) {
        t->cur = w;
    } else if (tagged) {
        /* renamed in the cloud */
        if (!t->cloud_ok) {
            t->cur = tagged;
            t->tpath = tagged->path;
        } else if (w) {
            add_msg(c, "type folder \"%s\" was renamed to \"%s\" but \"%s\" is taken: left as is",
                    t->raw, tagged->path, t->want);
            t->frozen = 1;
            if (freeze(c, tagged->path) < 0)
                return ERR_NOMEM;
        } else {
            j = new_job(c, PH_TYPES, JOB_RENAME, JOB_SIDE_CLOUD, t->want,
                        t->model ? "type folder renamed in cloud"
                                 : "stand-alone folder renamed in cloud");
            if (!j)
                return ERR_NOMEM;
            j->path = xdup(c, tagged->path);
            j->to = xdup(c, t->want);
            j->expect.etag = xdup(c, tagged->etag);
            add_msg(c, "type folder \"%s\" is renamed back; its documents are planned next pass",
                    t->raw);
            t->frozen = 1;
            if (freeze(c, tagged->path) < 0)
                return ERR_NOMEM;
        }
    } else if (w && !w->is_dir) {
        add_msg(c, "type folder \"%s\": a file is in the way at \"%s\"", t->raw, t->want);
        t->frozen = 1;
    } else {
        /* missing, or there untagged (adopted: mkdir tags it) */
        t->cur = w;
        if (t->cloud_ok) {
            j = new_job(c, PH_TYPES, JOB_MKDIR, JOB_SIDE_CLOUD, t->want,
                        t->archive ? (w ? "archive folder adopted" : "archive folder missing")
                        : t->model
                            ? (w ? "type folder adopted" : "type folder missing")
                            : (w ? "stand-alone folder adopted" : "stand-alone folder missing"));
            if (!j)
                return ERR_NOMEM;
            j->path = xdup(c, t->want);
            j->name = xdup(c, t->raw);
        }
    }
    if (tagged)
        tclaimed[eidx(c, tagged)] = 1;
    if (w && t->cur == w)
        tclaimed[eidx(c, w)] = 1;
    if (!t->scan_ok) {
        c->p->types_failed++;
        add_msg(c,
                "type \"%s\": the Odoo scan failed; nothing (and no deletion) is planned "
                "under its folder this pass",
                t->raw);
        t->frozen = 1;
        if (freeze(c, t->want) < 0 || (t->cur && freeze(c, t->cur->path) < 0))
            return ERR_NOMEM;
    }
    return 0;
}

/*
 * Whether the archive folder takes part in this pass: the archive policy, and a record
 * to archive or an archive folder already there (so it is not created for nothing).
 */
static int archive_wanted(const struct ctx *c)
{
    const struct plan_input *in = c->in;
    size_t i;

    if (in->unmatched != PLAN_UNMATCHED_ARCHIVE || !in->archive_folder || !*in->archive_folder)
        return 0;
    if (c->os->unmatched.n > 0)
        return 1;
    for (i = 0; i < c->nents; i++)
        if (c->ents[i]->is_dir && depth(c, c->ents[i]->path) == 1 && c->ents[i]->type_tag &&
            strcmp(c->ents[i]->type_tag, in->archive_folder) == 0)
            return 1;
    return 0;
}

static int setup_types(struct ctx *c)
{
    const struct plan_input *in = c->in;
    unsigned char *tclaimed = calloc(c->cs->n ? c->cs->n : 1, 1);
    struct names_set tn;
    size_t i;
    int rc = 0;

    names_set_init(&tn);
    c->ntf = in->ntypes + (in->standalone_enabled ? 1 : 0) + (archive_wanted(c) ? 1 : 0);
    c->tf = calloc(c->ntf ? c->ntf : 1, sizeof *c->tf);
    if (!tclaimed || !c->tf) {
        c->nomem = 1;
        rc = ERR_NOMEM;
        goto out;
    }
    c->sa = -1;
    c->ar = -1;
    for (i = 0; i < c->ntf; i++) {
        struct tfold *t = &c->tf[i];
        if (i < in->ntypes) {
            t->raw = in->types[i].folder;
            t->model = in->types[i].model;
            t->cloud_ok = in->types[i].direction != PLAN_DIR_FROM_CLOUD;
            t->odoo_ok = in->types[i].direction != PLAN_DIR_TO_CLOUD;
            t->scan_ok = in->types[i].scan_ok;
        } else if (i == in->ntypes && archive_wanted(c)) {
            t->raw = in->archive_folder;
            t->model = "";
            t->archive = 1;
            t->cloud_ok = t->odoo_ok = t->scan_ok = 1;
            c->ar = (long)i;
        } else {
            t->raw = in->standalone_folder;
            t->cloud_ok = t->odoo_ok = t->scan_ok = 1;
            c->sa = (long)i;
        }
        rc = setup_type_folder(c, t, tclaimed, &tn);
        if (rc < 0)
            goto out;
        if (!t->frozen && t->cur) {
            size_t lo, hi, k;
            int maxd = t->model ? 2 : 1, base = depth(c, t->cur->path);
            c->managed++;
            range_under(c, t->cur->path, &lo, &hi);
            for (k = lo; k < hi; k++)
                if (depth(c, c->ents[k]->path) - base <= maxd)
                    c->managed++;
        }
    }
out:
    names_set_release(&tn);
    free(tclaimed);
    return rc;
}

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

static struct rec *find_rec(const struct ctx *c, const char *model, long id)
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
static struct rec *find_rec_tag(const struct ctx *c, const char *tag, char *model, size_t msize)
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
    return find_rec(c, model, id);
}

static int cmp_mid_rec(const void *a, const void *b);

/* os->unmatched by (model, id), for is_unmatched(). */
static int index_unmatched(struct ctx *c)
{
    size_t i, n = c->os->unmatched.n;

    c->unm = calloc(n ? n : 1, sizeof *c->unm);
    if (!c->unm)
        return c->nomem = 1, ERR_NOMEM;
    for (i = 0; i < n; i++)
        c->unm[i] = &c->os->unmatched.v[i];
    qsort(c->unm, n, sizeof *c->unm, cmp_mid_rec);
    return 0;
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

static int assign_records(struct ctx *c, struct rec ***byid_out)
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
            else if (!same_parent && t->archive)
                why = "record matches no type: archived";
            else if (!same_parent && c->ar >= 0 && c->tf[c->ar].cur &&
                     parent_is(pick->path, c->tf[c->ar].cur->path))
                why = "record matches a type again";
            j = new_job(c, PH_DOCS, JOB_RENAME, JOB_SIDE_CLOUD, lock ? lock : want, why);
            if (!j)
                return free(want), ERR_NOMEM;
            j->path = xdup(c, r->parked ? r->park : pick->path);
            j->to = xdup(c, want);
            j->record = xdup(c, r->key);
            j->expect.etag = xdup(c, pick->etag);
        }
    } else {
        if (w) {
            c->chosen[eidx(c, w)] = 1;
            cur_path = w->path;
        }
        if (t->cloud_ok) {
            j = new_job(c, PH_DOCS, JOB_MKDIR, JOB_SIDE_CLOUD, lock ? lock : want,
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
static int plan_delete_empty(struct ctx *c, int ph, const char *path, const char *key,
                             const char *lock, const char *reason)
{
    struct job *j;

    if (holds_left_out(c, path)) {
        /* not empty: it holds a name the listing left out, which is never touched */
        add_msg(c,
                "\"%.300s\" holds a name left out of the listing (a control character): "
                "not deleted",
                path);
        return 0;
    }
    j = new_job(c, ph, JOB_DELETE, JOB_SIDE_CLOUD, lock, reason);
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
        j = new_job(c, PH_DOCS, JOB_MKDIR, JOB_SIDE_CLOUD, want, "document folder adopted");
        if (j) {
            j->path = xdup(c, want);
            j->record = xdup(c, r->key);
        }
    }
    range_under(c, w->path, &lo, &hi);
    for (i = lo; i < hi && !c->nomem; i++)
        if (parent_is(c->ents[i]->path, w->path) &&
            names_set_add(&ns, base_name(c->ents[i]->path)) < 0)
            c->nomem = 1;
    range_under(c, pick->path, &lo, &hi);
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
        j = new_job(c, PH_DOCS, JOB_RENAME, JOB_SIDE_CLOUD, want, "merged into the adopted folder");
        if (j) {
            j->path = xdup(c, en->path);
            j->to = to;
            to = NULL;
            j->record = xdup(c, r->key);
            j->expect.etag = xdup(c, en->etag);
        }
        free(to);
    }
    names_set_release(&ns);
    if (!c->nomem)
        rc = plan_delete_empty(c, PH_DOCS, pick->path, r->key, want, "emptied by the merge");
    if (!c->nomem)
        add_msg(c,
                "record %s: \"%s\" %s, the files of \"%s\" move into it (their "
                "attachments follow on the next pass)",
                r->key, want, adopt ? "adopted" : "is its folder", pick->path);
    r->frozen = 1;
    if (!c->nomem && rc == 0)
        rc = freeze(c, pick->path);
    if (!c->nomem && rc == 0)
        rc = freeze(c, w->path);
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
        if (en == pick || depth(c, en->path) != 2 || under_frozen(c, en->path) ||
            pl >= sizeof parent)
            continue;
        memcpy(parent, en->path, pl);
        parent[pl] = '\0';
        range_under(c, en->path, &a, &b);
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
        range_rtag(c, r->key, &lo, &hi);
        for (i = lo; i < hi; i++)
            if (depth(c, c->rtag[i]->path) == 2 && freeze(c, c->rtag[i]->path) < 0)
                return ERR_NOMEM;
        return 0;
    }
    want = join(c, t->tpath, r->name);
    if (!want)
        return ERR_NOMEM;
    range_rtag(c, r->key, &lo, &hi);
    for (i = lo; i < hi; i++) {
        const struct snap_entry *en = c->rtag[i];
        const char *slash;
        size_t pl;
        if (depth(c, en->path) != 2 || under_frozen(c, en->path))
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
            if (depth(c, c->rtag[i]->path) == 2 && under_frozen(c, c->rtag[i]->path))
                r->frozen = 1;
        free(want);
        return 0;
    }
    /* a record whose folder sits in a frozen subtree is left alone */
    if (!pick) {
        for (i = lo; i < hi; i++)
            if (depth(c, c->rtag[i]->path) == 2 && under_frozen(c, c->rtag[i]->path)) {
                r->frozen = 1;
                free(want);
                return 0;
            }
    }
    w = find_path(c, want);
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
            add_msg(c, "record %s: cannot move \"%s\" to \"%s\", the name is taken", r->key,
                    pick->path, want);
            r->frozen = 1;
            free(want);
            return freeze(c, pick->path);
        }
        return emit_place(c, r, pick, w, want, NULL);
    }
    if (w && (!w->is_dir || (w->record_tag && *w->record_tag))) {
        if (w->is_dir && t->cloud_ok)
            return set_pending(r, NULL, w, want);
        add_msg(c, "record %s: \"%s\" is taken by another %s", r->key, want,
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
static long df_of_entry(const struct ctx *c, const char *path)
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

/* ---------- document folders of records that are gone ---------- */

static int model_known_ok(const struct ctx *c, const char *model, int *known)
{
    size_t i;
    int ok = 1;

    *known = 0;
    for (i = 0; i < c->in->ntypes; i++)
        if (strcmp(c->in->types[i].model, model) == 0) {
            *known = 1;
            if (!c->in->types[i].scan_ok)
                ok = 0;
        }
    return ok;
}

/* Why a record-tagged folder is not deleted (gone_folder). */
enum keep_why {
    KEEP_NO = 0,    /* not a document folder of a gone record, or not ours to delete */
    KEEP_SECOND,    /* a live record's second folder */
    KEEP_UNMATCHED, /* its record exists but matches no type (keep policy) */
    KEEP_UNKNOWN,   /* whether its record exists is unknown (the check failed) */
    KEEP_LINKED     /* a live url attachment points into it (*att: which) */
};

static int cmp_mid_rec(const void *a, const void *b)
{
    const struct snap_record *x = *(const struct snap_record *const *)a;
    const struct snap_record *y = *(const struct snap_record *const *)b;
    int r = strcmp(x->model, y->model);

    return r ? r : (x->id > y->id) - (x->id < y->id);
}

/* Whether model,id is in os->unmatched (the keep policy: not records of the archive). */
static int is_unmatched(const struct ctx *c, const char *model, long id)
{
    struct snap_record k, *kp = &k;

    if (!c->unm)
        return 0;
    k.model = snap_lend(model);
    k.id = id;
    return bsearch(&kp, c->unm, c->os->unmatched.n, sizeof *c->unm, cmp_mid_rec) != NULL;
}

static int cmp_upath(const void *a, const void *b)
{
    return strcmp(((const struct upath *)a)->path, ((const struct upath *)b)->path);
}

/* The url attachments by the cloud path their url names, built on first use. */
static int index_upaths(struct ctx *c)
{
    size_t i;

    if (c->upaths_ready)
        return 0;
    c->upaths_ready = 1;
    c->upaths = calloc(c->os->natts ? c->os->natts : 1, sizeof *c->upaths);
    if (!c->upaths)
        return c->nomem = 1, ERR_NOMEM;
    for (i = 0; i < c->os->natts; i++) {
        const struct snap_att *a = &c->os->atts[i];
        char *p;
        if (a->type != SNAP_ATT_URL || !a->url)
            continue;
        p = plan_path_for_url(c->in->url_base, a->url);
        if (!p)
            continue; /* not a link into the cloud (or ENOMEM: then one link less is seen) */
        c->upaths[c->nupaths].path = p;
        c->upaths[c->nupaths++].att_id = a->id;
    }
    qsort(c->upaths, c->nupaths, sizeof *c->upaths, cmp_upath);
    return 0;
}

/* A live url attachment whose url names dir or something below it: its id, else 0. */
static long linked_into(struct ctx *c, const char *dir)
{
    size_t lo = 0, hi, mid, n = strlen(dir);
    char *slash;

    if (index_upaths(c) < 0)
        return 0;
    /* dir itself, then the contiguous run of paths starting with dir + "/" */
    slash = malloc(n + 2);
    if (!slash)
        return c->nomem = 1, 0;
    memcpy(slash, dir, n);
    memcpy(slash + n, "/", 2);
    for (int pass = 0; pass < 2; pass++) {
        const char *key = pass ? slash : dir;
        lo = 0;
        hi = c->nupaths;
        while (lo < hi) {
            mid = lo + (hi - lo) / 2;
            if (strcmp(c->upaths[mid].path, key) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < c->nupaths && is_under(c->upaths[lo].path, dir)) {
            free(slash);
            return c->upaths[lo].att_id;
        }
    }
    free(slash);
    return 0;
}

/*
 * Whether a record-tagged folder is deleted as gone: two levels under the root,
 * chosen by no record, in a managed type folder (or the archive), and its record
 * is deleted in Odoo. Else *why says why it stays (KEEP_NO: not ours to say);
 * *att: the live url attachment that points into it (KEEP_LINKED).
 */
static int gone_folder(struct ctx *c, const struct snap_entry *en, int *why, long *att)
{
    const struct tfold *t = NULL;
    char model[256];
    const char *comma;
    size_t k;
    int known;

    *why = KEEP_NO;
    *att = 0;
    if (depth(c, en->path) != 2 || c->chosen[eidx(c, en)] || under_frozen(c, en->path))
        return 0;
    for (k = 0; k < c->ntf; k++)
        if ((long)k != c->sa && !c->tf[k].frozen && c->tf[k].cur &&
            parent_is(en->path, c->tf[k].cur->path))
            t = &c->tf[k];
    if (!t)
        return 0; /* not under a managed type folder: left alone */
    if (find_rec_tag(c, en->record_tag, model, sizeof model)) {
        *why = KEEP_SECOND;
        return 0;
    }
    if (!model[0] || !model_known_ok(c, model, &known) || !known || !t->cloud_ok)
        return 0;
    comma = strrchr(en->record_tag, ',');
    if (is_unmatched(c, model, strtol(comma + 1, NULL, 10))) {
        *why = KEEP_UNMATCHED;
        return 0;
    }
    if (!c->os->gone_known) {
        *why = KEEP_UNKNOWN;
        return 0;
    }
    *att = linked_into(c, en->path);
    if (*att) {
        *why = KEEP_LINKED;
        return 0;
    }
    return 1;
}

static int plan_gone_delete(struct ctx *c, const struct snap_entry *en, int ph)
{
    struct job *j;
    size_t lo, hi;

    j = new_job(c, ph, JOB_DELETE, JOB_SIDE_CLOUD, en->path, "record deleted in Odoo");
    if (!j)
        return ERR_NOMEM;
    j->path = xdup(c, en->path);
    j->record = xdup(c, en->record_tag);
    j->expect.etag = xdup(c, en->etag);
    range_under(c, en->path, &lo, &hi);
    c->del_weight += 1 + (hi - lo);
    return c->nomem ? ERR_NOMEM : 0;
}

/* A live record's second folder that holds nothing, in a type folder we write to. */
static int second_empty(const struct ctx *c, const struct snap_entry *en)
{
    size_t lo, hi, k;

    range_under(c, en->path, &lo, &hi);
    if (hi > lo)
        return 0;
    for (k = 0; k < c->ntf; k++)
        if ((long)k != c->sa && c->tf[k].cur && parent_is(en->path, c->tf[k].cur->path))
            return c->tf[k].cloud_ok;
    return 0;
}

static int delete_gone_folders(struct ctx *c)
{
    size_t i;
    int why, rc;
    long att;

    for (i = 0; i < c->nrtag; i++) {
        const struct snap_entry *en = c->rtag[i];
        if (c->early[eidx(c, en)])
            continue; /* planned already, before the record that takes its name */
        if (gone_folder(c, en, &why, &att)) {
            rc = plan_gone_delete(c, en, PH_DOC_DELETE);
            if (rc < 0)
                return rc;
        } else if (why == KEEP_SECOND && second_empty(c, en)) {
            /* left by a merge whose delete waited (safety, a failed move): goes if empty */
            rc = plan_delete_empty(c, PH_DOC_DELETE, en->path, en->record_tag, en->path,
                                   "an empty second folder of the record");
            if (rc < 0)
                return rc;
        } else if (why == KEEP_SECOND) {
            add_msg(c, "\"%s\": a second folder of record %s, left alone", en->path,
                    en->record_tag);
        } else if (why == KEEP_UNKNOWN) {
            add_msg(c, "\"%s\": whether record %s still exists is unknown: left alone", en->path,
                    en->record_tag);
        } else if (why == KEEP_LINKED) {
            add_msg(c,
                    "\"%s\": record %s is deleted in Odoo, but attachment %ld still links into "
                    "the folder: not deleted",
                    en->path, en->record_tag, att);
        }
    }
    return c->nomem ? ERR_NOMEM : 0;
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
    b = find_rec_tag(c, w->record_tag, model, sizeof model);
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
    if (!gone_folder(c, w, &why, &att))
        return -1;
    *lock = w->path;
    *del = 1;
    return 1;
}

static int freeze_pending(struct ctx *c, struct rec *r)
{
    int rc = 0;

    if (r->pick)
        add_msg(c, "record %s: cannot move \"%s\" to \"%s\", the name is taken", r->key,
                r->pick->path, r->want);
    else
        add_msg(c, "record %s: \"%s\" is taken by another document folder", r->key, r->want);
    r->frozen = 1;
    r->pending = 0;
    if (r->pick)
        rc = freeze(c, r->pick->path);
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
            b = find_rec_tag(c, b->blocker->record_tag, model, sizeof model);
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
        if (find_path(c, buf_str(&tmp))) {
            buf_release(&tmp);
            continue;
        }
        j = new_job(c, PH_DOCS, JOB_RENAME, JOB_SIDE_CLOUD, r->want,
                    "names swapped: waits under a temporary name");
        if (j) {
            j->path = xdup(c, r->pick->path);
            j->to = xdup(c, buf_str(&tmp));
            j->record = xdup(c, r->key);
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

static int place_records(struct ctx *c, struct rec **byid)
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

/* ---------- attachments ---------- */

static int cmp_att_ptr(const void *a, const void *b)
{
    const struct snap_att *x = *(const struct snap_att *const *)a;
    const struct snap_att *y = *(const struct snap_att *const *)b;

    return x->id < y->id ? -1 : x->id > y->id;
}

static const struct snap_att *find_att(const struct ctx *c, long id)
{
    size_t lo = 0, hi = c->os->natts, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (c->atts[mid]->id == id)
            return c->atts[mid];
        if (c->atts[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int ensure_names(struct ctx *c, struct dfold *d)
{
    size_t lo, hi, i;

    if (d->names_ready)
        return 0;
    d->names_ready = 1;
    if (!d->cur_path)
        return 0;
    range_under(c, d->cur_path, &lo, &hi);
    for (i = lo; i < hi; i++)
        if (parent_is(c->ents[i]->path, d->cur_path) &&
            names_set_add(&d->names, base_name(c->ents[i]->path)) < 0)
            return c->nomem = 1, ERR_NOMEM;
    return 0;
}

#define PLAN_EMPTY_SHA1 "da39a3ee5e6b4b0d3255bfef95601890afd80709"

/* One link for the next pass (model.h struct snap_link); en NULL: a file this pass
 * uploads, of `size` bytes, not seen yet. */
static int put_link(struct ctx *c, long id, const char *path, const struct snap_entry *en,
                    long long size, const char *rec, const char *att_rec, const char *file_rec)
{
    struct snap_link l;

    memset(&l, 0, sizeof l);
    l.att_id = id;
    l.path = snap_lend(path);
    l.etag = en ? en->etag : NULL;
    l.size = size;
    l.fileid = en ? en->fileid : NULL;
    l.rec = snap_lend(rec);
    l.att_rec = snap_lend(att_rec);
    l.file_rec = snap_lend(file_rec);
    if (snap_links_add(&c->p->links, &l) < 0)
        return c->nomem = 1, ERR_NOMEM;
    return 0;
}

static int plan_upload(struct ctx *c, const struct snap_att *a, long of,
                       const struct snap_entry *primary)
{
    struct dfold *d = &c->df[of];
    char *fname = NULL, *path = NULL, *s;
    struct job *j;

    if (primary) {
        fname = xdup(c, base_name(primary->path));
    } else {
        if (ensure_names(c, d) < 0)
            return ERR_NOMEM;
        s = names_sanitize(a->name);
        fname = s ? names_set_unique(&d->names, s, 1) : NULL;
        free(s);
        if (!fname)
            c->nomem = 1;
    }
    if (!fname)
        return ERR_NOMEM;
    path = join(c, d->post, fname);
    j = path ? new_job(c, PH_FILES, JOB_UPLOAD, JOB_SIDE_CLOUD, d->lock,
                       primary ? "upload not confirmed" : "binary attachment")
             : NULL;
    if (j) {
        j->att_id = a->id;
        j->path = path;
        path = NULL;
        j->record = xdup(c, d->key);
        j->name = xdup(c, fname);
        j->url = plan_url_for_path(c->in->url_base, j->path);
        if (!j->url)
            c->nomem = 1;
        j->size = a->file_size;
        /* an empty attachment may come without a checksum: it is the sha1 of nothing */
        j->expect.checksum = xdup(c, a->checksum && *a->checksum ? a->checksum : PLAN_EMPTY_SHA1);
        j->expect.write_date = xdup(c, a->write_date);
        /* the file the next scan should find: an attachment deleted in Odoo before that
         * scan still deletes the file it was uploaded to (path and size prove it) */
        put_link(c, a->id, j->path, NULL, a->file_size, d->key, d->key, d->key);
    }
    free(path);
    free(fname);
    return c->nomem ? ERR_NOMEM : 0;
}

static int odoo_delete(struct ctx *c, const struct snap_att *a, long of, const char *reason)
{
    struct dfold *d = &c->df[of];
    struct job *j;

    if (!d->odoo_ok)
        return 0;
    j = new_job(c, PH_ODOO, JOB_DELETE, JOB_SIDE_ODOO, d->lock, reason);
    if (!j)
        return ERR_NOMEM;
    j->att_id = a->id;
    j->record = xdup(c, d->key);
    j->name = xdup(c, a->name);
    j->expect.write_date = xdup(c, a->write_date);
    c->del_weight++;
    return 0;
}

/*
 * Whether file name bn is what attachment name `name` becomes in the cloud:
 * sanitised, maybe with the " (n)" suffix that sets apart same-named
 * attachments of one record. Only a different name is a rename in the cloud.
 */
static int name_matches(struct ctx *c, const char *name, const char *bn)
{
    char *s = names_sanitize(name ? name : "");
    int same = 0;

    if (!s) {
        c->nomem = 1;
        return 1;
    }
    /* a name given in the cloud is kept as is, whatever the sanitiser would make of it */
    same = strcmp(name ? name : "", bn) == 0 || strcmp(s, bn) == 0;
    for (unsigned n = 2; !same && n < 100; n++) {
        char *v = names_with_suffix(s, n, 1);

        if (!v) {
            c->nomem = 1;
            break;
        }
        same = strcmp(v, bn) == 0;
        free(v);
    }
    free(s);
    return same;
}

/* ---------- what the previous pass saw linked ---------- */

/* Record keys ("model,id"), NULL for the stand-alone folder / attachment. */
static int keq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* "model,id" of an attachment's record in buf, NULL for a stand-alone one. */
static const char *att_key(const struct snap_att *a, char *buf, size_t n)
{
    if (!a->res_model || !*a->res_model)
        return NULL;
    snprintf(buf, n, "%s,%ld", a->res_model, a->res_id);
    return buf;
}

static const char *etag_opaque(const char *t)
{
    return t && t[0] == 'W' && t[1] == '/' ? t + 2 : t;
}

/*
 * Whether en is the file the previous pass saw linked (l). The server's file id
 * where both have one. Else a file: the same size and ETag (a rename or move
 * keeps Apache's ETag, made of size and mtime; a copy or a new upload gets
 * another one), at the same path or moved from a path where nothing is left (a
 * copy leaves its original: on a server whose ETags are content hashes the copy
 * is not the linked file); a file the pass uploaded (no ETag yet): the same path
 * and size. A linked sub-folder (its ETag changes with its content): the same
 * path. *why: why not.
 */
static int same_file(const struct ctx *c, const struct snap_link *l, const struct snap_entry *en,
                     const char **why)
{
    int here;

    if (l->fileid && *l->fileid && en->fileid && *en->fileid) {
        *why = "another file id";
        return strcmp(l->fileid, en->fileid) == 0;
    }
    here = l->path && strcmp(l->path, en->path) == 0;
    *why = "another path";
    if (en->is_dir)
        return here;
    if (!here && (!l->etag || !l->path || find_path(c, l->path)))
        return 0;
    *why = "another size";
    if (l->size != en->size)
        return 0;
    *why = "another ETag";
    return !l->etag || (en->etag && strcmp(etag_opaque(l->etag), etag_opaque(en->etag)) == 0);
}

/* Remember for the next pass: attachment id (0: a new one) is linked to en, at path
 * after this pass. */
static int add_link(struct ctx *c, long id, const char *path, const struct snap_entry *en,
                    const char *rec, const char *att_rec, const char *file_rec)
{
    return put_link(c, id, path, en, en->size, rec, att_rec, file_rec);
}

/* Keep the previous pass's link of id (nothing was decided about it this pass). */
static int carry_link(struct ctx *c, long id)
{
    const struct snap_link *l = snap_links_find(c->in->prev, id);

    if (l && snap_links_add(&c->p->links, l) < 0)
        return c->nomem = 1, ERR_NOMEM;
    return 0;
}

/*
 * A url attachment of the record of folder `of` whose file sits in another
 * document folder (pdf): who moved? From the previous pass's link (its
 * intended record rec, and the records the attachment and the file had then):
 * Odoo moved when the attachment's record is neither; the cloud moved when the
 * file's folder is neither. Returns 1 when the file follows the attachment
 * (Odoo moved, or a move planned by the previous pass did not happen), 0 when
 * the attachment follows the file (the cloud moved, both moved, or no link
 * known: as without a previous pass).
 */
static int odoo_moved_att(struct ctx *c, const struct snap_att *a, long of, long pdf,
                          const char *now_att)
{
    const struct snap_link *l = snap_links_find(c->in->prev, a->id);
    const char *now_file;
    int om, cm;

    if (!l || of < 0 || !c->df[of].cloud_ok || !c->df[of].odoo_ok || !c->df[pdf].cloud_ok)
        return 0;
    now_file = c->df[pdf].key;
    om = !keq(now_att, l->rec) && !keq(now_att, l->att_rec);
    cm = !keq(now_file, l->rec) && !keq(now_file, l->file_rec);
    if (om && cm) {
        add_msg(c,
                "attachment %ld was moved to another record in Odoo and its file to \"%s\" in "
                "the cloud: the cloud's move wins",
                a->id, c->df[pdf].post);
        return 0;
    }
    return om || (!cm && keq(l->rec, now_att));
}

/*
 * Odoo moved the attachment to the record of folder `of`: move its file there
 * (a cloud rename into the record's folder, then the url re-pointed), under the
 * lock of the target folder, so after its mkdir or move. A source folder that
 * moves this pass waits for the next one.
 */
static int plan_move_file(struct ctx *c, const struct snap_att *a, long of, const char *src_key,
                          int src_settled, const struct snap_entry *primary, const char *now_att)
{
    struct dfold *t = &c->df[of];
    char *fname, *to;
    struct job *j;

    if (!src_settled) {
        add_msg(c,
                "attachment %ld was moved to another record in Odoo: its file \"%s\" follows "
                "once its folder has moved",
                a->id, primary->path);
        return add_link(c, a->id, primary->path, primary, now_att, now_att, src_key);
    }
    if (ensure_names(c, t) < 0)
        return ERR_NOMEM;
    fname = names_set_unique(&t->names, base_name(primary->path), 1);
    if (!fname)
        return c->nomem = 1, ERR_NOMEM;
    to = join(c, t->post, fname);
    free(fname);
    if (!to)
        return ERR_NOMEM;
    j = new_job(c, PH_FILES, JOB_RENAME, JOB_SIDE_CLOUD, t->lock,
                "attachment moved to another record in Odoo");
    if (j) {
        j->path = xdup(c, primary->path);
        j->to = xdup(c, to);
        j->record = xdup(c, t->key);
        j->expect.etag = xdup(c, primary->etag);
    }
    j = new_job(c, PH_ODOO, JOB_RELINK, JOB_SIDE_ODOO, t->lock,
                "attachment moved to another record in Odoo");
    if (j) {
        j->att_id = a->id;
        j->url = plan_url_for_path(c->in->url_base, to);
        if (!j->url)
            c->nomem = 1;
        j->name = xdup(c, a->name ? a->name : base_name(to));
        j->record = xdup(c, t->key);
        j->path = xdup(c, to);
        j->expect.write_date = xdup(c, a->write_date);
    }
    if (!c->nomem)
        add_link(c, a->id, to, primary, t->key, now_att, src_key);
    free(to);
    return c->nomem ? ERR_NOMEM : 0;
}

/*
 * The file of url attachment a (tagged with it, at the path its url names) left
 * directly in the folder of a record deleted in Odoo, which that link keeps
 * (gone_folder(): KEEP_LINKED): Odoo moved the attachment to another record
 * before deleting the old one. The file follows the attachment, as from a live
 * record's folder; deleting the attachment ("moved out of document folders")
 * would let the next pass delete the folder with the only copy of the file.
 * Returns the file (*src_key: the folder's record tag) or NULL.
 */
static const struct snap_entry *left_in_gone_folder(struct ctx *c, const struct snap_att *a,
                                                    const char *upath, const char **src_key)
{
    const struct snap_entry *en, *dir;
    const char *slash;
    char *pp;
    int why;
    long att;

    if (!upath || (en = find_path(c, upath)) == NULL || en->att_tag != a->id ||
        (slash = strrchr(upath, '/')) == NULL)
        return NULL;
    pp = strndup(upath, (size_t)(slash - upath));
    if (!pp)
        return c->nomem = 1, NULL;
    dir = find_path(c, pp);
    free(pp);
    if (!dir || !dir->is_dir || !dir->record_tag || gone_folder(c, dir, &why, &att) ||
        why != KEEP_LINKED)
        return NULL;
    *src_key = dir->record_tag;
    return en;
}

/*
 * The index in cs->lo of a folder that held an entry left out of the listing and
 * could have held the file at path (directly, or anywhere below when the entry
 * left out is a folder), or -1.
 */
static long left_out_at(const struct ctx *c, const char *path)
{
    for (size_t i = 0; i < c->cs->nlo; i++) {
        const struct snap_left_out *lo = &c->cs->lo[i];
        size_t n = strlen(lo->folder);
        const char *rest;

        if (n == 1 && lo->folder[0] == '/')
            n = 0; /* the base itself */
        if (strncmp(path, lo->folder, n) != 0 || path[n] != '/')
            continue;
        rest = path + n + 1;
        if (lo->below || !strchr(rest, '/'))
            return (long)i;
    }
    return -1;
}

static int plan_url_att(struct ctx *c, const struct snap_att *a, long of,
                        const struct snap_entry *primary, long pdf, int tagged_elsewhere,
                        const char *upath)
{
    char akbuf[300];
    const char *now_att = att_key(a, akbuf, sizeof akbuf);
    const struct snap_entry *gone;
    const char *src_key;
    struct job *j;

    if (primary) {
        struct dfold *d = &c->df[pdf];
        const char *bn = base_name(primary->path);
        char *pp, *url;
        int renamed, url_stale, untagged;
        if (pdf != of && odoo_moved_att(c, a, of, pdf, now_att))
            return plan_move_file(c, a, of, d->key,
                                  d->cur_path && strcmp(d->cur_path, d->post) == 0, primary,
                                  now_att);
        pp = join(c, d->post, bn);
        if (!pp)
            return ERR_NOMEM;
        if (add_link(c, a->id, pp, primary, d->key, now_att, d->key) < 0) {
            free(pp);
            return ERR_NOMEM;
        }
        url = plan_url_for_path(c->in->url_base, pp);
        if (!url) {
            free(pp);
            return c->nomem = 1, ERR_NOMEM;
        }
        renamed = !name_matches(c, a->name, bn);
        /* compared decoded, so another spelling of the same url is not rewritten each pass */
        url_stale = !upath || strcmp(upath, pp) != 0;
        /* adopted by its url (a file replaced in place loses its dead properties): tag it */
        untagged = primary->att_tag != a->id;
        if (!d->odoo_ok) {
            /* to-cloud: Odoo is not written */
        } else if (pdf == of) {
            /*
             * One job per attachment: a relink carries the name too, and two
             * jobs expecting the same write_date would refuse each other.
             */
            if (renamed && !url_stale && !untagged) {
                j = new_job(c, PH_ODOO, JOB_RENAME, JOB_SIDE_ODOO, d->lock, "cloud file renamed");
                if (j) {
                    j->att_id = a->id;
                    j->name = xdup(c, bn);
                    j->record = xdup(c, d->key);
                    j->path = xdup(c, pp);
                    j->expect.write_date = xdup(c, a->write_date);
                }
            }
            if (url_stale || untagged) {
                j = new_job(c, PH_ODOO, JOB_RELINK, JOB_SIDE_ODOO, d->lock,
                            renamed     ? "cloud file renamed"
                            : url_stale ? "document folder moved"
                                        : "replaced file lost its tag");
                if (j) {
                    j->att_id = a->id;
                    j->url = xdup(c, url);
                    j->name = xdup(c, renamed || !a->name ? bn : a->name);
                    j->record = xdup(c, d->key);
                    j->path = xdup(c, pp);
                    j->expect.write_date = xdup(c, a->write_date);
                }
            }
        } else {
            j = new_job(c, PH_ODOO, JOB_RELINK, JOB_SIDE_ODOO, d->lock,
                        "cloud file moved to another document");
            if (j) {
                j->att_id = a->id;
                j->url = xdup(c, url);
                j->name = xdup(c, bn);
                j->record = xdup(c, d->key);
                j->path = xdup(c, pp);
                j->expect.write_date = xdup(c, a->write_date);
            }
        }
        free(pp);
        free(url);
        return c->nomem ? ERR_NOMEM : 0;
    }
    if (of < 0)
        return 0;
    if (tagged_elsewhere && c->df[of].cloud_ok && c->df[of].odoo_ok &&
        (gone = left_in_gone_folder(c, a, upath, &src_key)) != NULL)
        return plan_move_file(c, a, of, src_key, 1, gone, now_att);
    if (tagged_elsewhere)
        return odoo_delete(c, a, of, "cloud file moved out of document folders");
    if (!upath)
        return 0; /* not a link into our tree */
    if (find_path(c, upath) || under_frozen(c, upath))
        return 0; /* the url names something that exists outside document folders: left alone */
    c->managed++;
    if (!c->in->force_deletes && c->cs->nlo) {
        /* its folder held a name left out of the listing: that could be this file, renamed */
        long k = left_out_at(c, upath);

        if (k >= 0) {
            if (!c->lo_withheld) {
                c->lo_withheld = calloc(c->cs->nlo, sizeof *c->lo_withheld);
                if (!c->lo_withheld)
                    return c->nomem = 1, ERR_NOMEM;
            }
            c->lo_withheld[k]++;
            c->p->deletes_dropped++;
            return carry_link(c, a->id);
        }
    }
    /* kept until the delete happened: the next pass still finds the record by it when its
     * folder is gone too (scan_unmatched) */
    if (carry_link(c, a->id) < 0)
        return ERR_NOMEM;
    return odoo_delete(
        c, a, of, c->df[of].cur_path ? "cloud file deleted" : "document folder deleted in cloud");
}

static void claim_range(struct ctx *c, size_t lo, size_t hi)
{
    size_t i;

    for (i = lo; i < hi; i++)
        c->claimed[eidx(c, c->atag[i])] = 1;
}

static int plan_att(struct ctx *c, const struct snap_att *a)
{
    long of = -1, pdf = -1, ownerdf;
    const struct snap_entry *primary = NULL;
    const struct snap_link *prev;
    size_t lo, hi, i;
    int tagged_elsewhere = 0, rc = 0;
    char *upath = NULL;

    range_atag(c, a->id, &lo, &hi);
    if (a->technical) {
        /* not a document (att.h): it and any file tagged with it are left alone */
        claim_range(c, lo, hi);
        return 0;
    }
    if (!a->res_model || !*a->res_model) {
        if (c->sa_df < 0) {
            claim_range(c, lo, hi);
            return carry_link(c, a->id);
        }
        of = c->sa_df;
    } else {
        struct rec *r = find_rec(c, a->res_model, a->res_id);
        if (r && r->frozen) {
            claim_range(c, lo, hi);
            return carry_link(c, a->id);
        }
        if (r)
            of = r->folder;
    }
    for (i = lo; i < hi; i++)
        if (under_frozen(c, c->atag[i]->path)) {
            claim_range(c, lo, hi);
            return carry_link(c, a->id);
        }
    /* the primary entry: tagged, directly in a managed document folder, its own first */
    for (i = lo; i < hi; i++) {
        const struct snap_entry *en = c->atag[i];
        long d = df_of_entry(c, en->path);
        if (d < 0) {
            tagged_elsewhere = 1;
            continue;
        }
        if (d == of) {
            primary = en;
            pdf = d;
            break;
        }
        if (!primary) {
            primary = en;
            pdf = d;
        }
    }
    /* several files carry its tag (a copy carries the dead properties along): the one the
     * previous pass saw linked is the attachment's, the others are new files */
    if (hi - lo > 1 && (prev = snap_links_find(c->in->prev, a->id)) != NULL) {
        const char *why;
        for (i = lo; i < hi; i++) {
            long d = df_of_entry(c, c->atag[i]->path);
            if (d >= 0 && same_file(c, prev, c->atag[i], &why)) {
                primary = c->atag[i];
                pdf = d;
                break;
            }
        }
    }
    if (a->type == SNAP_ATT_URL && a->url) {
        upath = plan_path_for_url(c->in->url_base, a->url);
        if (upath && depth(c, upath) < 1) {
            free(upath);
            upath = NULL;
        }
        /* an untagged file the url names */
        if (!primary && hi == lo && upath) {
            const struct snap_entry *en = find_path(c, upath);
            long d = en ? df_of_entry(c, en->path) : -1;
            if (en && d >= 0 && (en->att_tag == 0 || en->att_tag == a->id)) {
                primary = en;
                pdf = d;
            }
        }
    }
    if (primary)
        c->claimed[eidx(c, primary)] = 1;
    for (i = lo; i < hi; i++)
        if (df_of_entry(c, c->atag[i]->path) < 0)
            c->claimed[eidx(c, c->atag[i])] = 1;

    ownerdf = of;
    if (a->type == SNAP_ATT_BINARY) {
        if (of < 0 || !c->df[of].cloud_ok)
            goto out;
        if ((!a->checksum || !*a->checksum) && a->file_size != 0) {
            /* an upload is checked against the checksum: without one, nothing to compare */
            add_msg(c, "attachment %ld \"%s\" has no checksum (empty?): not uploaded", a->id,
                    a->name ? a->name : "");
            goto out;
        }
        if (primary && pdf != of)
            primary = NULL; /* its old upload sits elsewhere: upload anew here */
        if (!primary)
            c->managed++;
        rc = plan_upload(c, a, of, primary);
    } else {
        rc = plan_url_att(c, a, ownerdf, primary, pdf, tagged_elsewhere && !primary, upath);
    }
out:
    free(upath);
    return rc;
}

static int plan_atts(struct ctx *c)
{
    size_t i;
    int rc;

    c->atts = calloc(c->os->natts ? c->os->natts : 1, sizeof *c->atts);
    if (!c->atts)
        return c->nomem = 1, ERR_NOMEM;
    for (i = 0; i < c->os->natts; i++)
        c->atts[i] = &c->os->atts[i];
    qsort(c->atts, c->os->natts, sizeof *c->atts, cmp_att_ptr);
    for (i = 0; i < c->os->natts; i++) {
        if (i > 0 && c->atts[i]->id == c->atts[i - 1]->id)
            continue;
        rc = plan_att(c, c->atts[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---------- what is left in document folders ---------- */

/*
 * A file tagged with an attachment that is gone is deleted only when it is the
 * file the previous pass saw linked to that attachment (same_file): a tag can
 * be stale (Nextcloud leaves a deleted folder's children's properties to a
 * later file at the same path) or copied (a WebDAV COPY copies dead
 * properties). Not proven (no previous pass, no link, another file): *why.
 */
static int proven_gone(const struct ctx *c, const struct snap_entry *en, const char **why,
                       const struct snap_link **out)
{
    const struct snap_link *l = snap_links_find(c->in->prev, en->att_tag);

    /* a file the previous pass linked as a new attachment: the tag is the one it got */
    if (!l)
        l = snap_links_find_new(c->in->prev, en->path);
    if (!l) {
        *why =
            c->in->prev ? "no file was linked to it when last seen" : "no previous pass is known";
        return 0;
    }
    *out = l;
    return same_file(c, l, en, why);
}

static int plan_children(struct ctx *c)
{
    size_t f, i, lo, hi;

    for (f = 0; f < c->ndf; f++) {
        struct dfold *d = &c->df[f];
        if (!d->cur_path)
            continue;
        range_under(c, d->cur_path, &lo, &hi);
        for (i = lo; i < hi; i++) {
            const struct snap_entry *en = c->ents[i];
            const char *bn = base_name(en->path);
            const char *why = NULL;
            const struct snap_link *pl = NULL;
            struct job *j;
            char *pp;
            int gone, stale;
            if (!parent_is(en->path, d->cur_path) || c->claimed[eidx(c, en)] ||
                under_frozen(c, en->path) || (!en->att_tag && names_is_transient(bn)))
                continue;
            pp = join(c, d->post, bn);
            if (!pp)
                return ERR_NOMEM;
            gone = en->att_tag > 0 && !find_att(c, en->att_tag);
            stale = gone && !proven_gone(c, en, &why, &pl);
            if (gone && !stale) {
                if (d->cloud_ok) {
                    j = new_job(c, PH_FILES, JOB_DELETE, JOB_SIDE_CLOUD, d->lock,
                                "attachment deleted in Odoo");
                    if (j) {
                        j->path = xdup(c, pp);
                        j->record = xdup(c, d->key);
                        j->expect.etag = xdup(c, en->etag);
                        c->del_weight++;
                    }
                    /* kept, as seen now: a delete that does not happen this pass is still
                     * proven next pass, and a later file at its path is not */
                    add_link(c, en->att_tag, pp, en, pl->rec, pl->att_rec, pl->file_rec);
                }
            } else if (d->odoo_ok) {
                if (stale)
                    add_msg(c,
                            "\"%s\" carries the tag of deleted attachment %ld but is not the "
                            "file that was linked to it (%s): linked as a new file",
                            en->path, en->att_tag, why);
                j = new_job(c, PH_ODOO, JOB_RELINK, JOB_SIDE_ODOO, d->lock,
                            stale        ? "stale attachment tag"
                            : en->is_dir ? "new cloud sub-folder"
                                         : "new cloud file");
                if (j) {
                    j->path = xdup(c, pp);
                    j->name = xdup(c, bn);
                    j->record = xdup(c, d->key);
                    j->url = plan_url_for_path(c->in->url_base, pp);
                    if (!j->url)
                        c->nomem = 1;
                    /* the id it gets is the tag it carries next pass (a stale tag it had
                     * already is not: a job that failed would leave it, unproven) */
                    if (!en->att_tag)
                        add_link(c, 0, pp, en, d->key, d->key, d->key);
                }
            }
            free(pp);
            if (c->nomem)
                return ERR_NOMEM;
        }
    }
    return 0;
}

/*
 * Links of attachments that are gone, whose tagged files sit where nothing is planned
 * this pass (a frozen subtree: a type folder renamed back, a record waiting for its
 * place): kept, so the pass that plans there still has its proof.
 */
static int carry_frozen_links(struct ctx *c)
{
    const struct snap_links *prev = c->in->prev;
    size_t i, k, lo, hi;

    for (i = 0; prev && c->nfrozen && i < prev->n; i++) {
        if (prev->v[i].att_id <= 0 || find_att(c, prev->v[i].att_id))
            continue;
        range_atag(c, prev->v[i].att_id, &lo, &hi);
        for (k = lo; k < hi; k++)
            if (under_frozen(c, c->atag[k]->path)) {
                if (snap_links_add(&c->p->links, &prev->v[i]) < 0)
                    return c->nomem = 1, ERR_NOMEM;
                break;
            }
    }
    return 0;
}

/* ---------- safety, ids, output ---------- */

/* The links in order (model.h), one per attachment and per new file's path. */
static void sort_links(struct snap_links *l)
{
    size_t i, w = 0;

    snap_links_sort(l);
    for (i = 0; i < l->n; i++) {
        if (w > 0 && (snap_link_cmp(&l->v[w - 1], &l->v[i]) == 0 ||
                      (l->v[i].att_id > 0 && l->v[w - 1].att_id == l->v[i].att_id))) {
            snap_link_free(&l->v[i]);
            continue;
        }
        l->v[w++] = l->v[i];
    }
    l->n = w;
}

/* Whether lock is the path of a gone folder deleted early (its name is taken this pass). */
static int early_lock(const struct ctx *c, const char *lock)
{
    size_t i;

    for (i = 0; lock && i < c->nearly; i++)
        if (strcmp(lock, c->early_paths[i]) == 0)
            return 1;
    return 0;
}

static int finish(struct ctx *c)
{
    struct plan *p = c->p;
    const struct plan_input *in = c->in;
    int incomplete = !c->os->complete || !c->cs->complete;
    int over, drop = 0;
    size_t ph, i, total = 0, waiting = 0;

    p->managed = c->managed;
    p->delete_weight = c->del_weight;
    over = c->del_weight > 0 && (double)c->del_weight > in->max_delete_share * (double)c->managed;
    if (incomplete || over) {
        const char *why = incomplete ? (!c->os->complete ? "the Odoo scan is incomplete"
                                                         : "the cloud scan is incomplete")
                                     : "too many deletions";
        if (in->force_deletes) {
            add_msg(c, "%s, but deletions are forced (%zu of %zu managed)", why, c->del_weight,
                    c->managed);
        } else {
            drop = 1;
            p->verdict = incomplete ? PLAN_VERDICT_SCAN_INCOMPLETE : PLAN_VERDICT_DELETES_REFUSED;
            if (incomplete)
                add_msg(c, "%s: no deletion planned (use --force-deletes to override)", why);
            else
                add_msg(c,
                        "this pass would delete %zu of %zu managed files and folders (over "
                        "%.0f%%): no deletion planned (use --force-deletes to override)",
                        c->del_weight, c->managed, in->max_delete_share * 100.0);
        }
    }
    for (i = 0; c->lo_withheld && i < c->cs->nlo; i++)
        if (c->lo_withheld[i])
            add_msg(c,
                    "\"%.300s\" holds a name left out of the listing (a control character): "
                    "%zu attachments whose file is gone from %s are not deleted in Odoo (rename "
                    "it in the cloud)",
                    c->cs->lo[i].folder, c->lo_withheld[i],
                    c->cs->lo[i].below ? "it or below it" : "it");
    /* a type Odoo refused (its model, its domain, its rights) was not scanned: the
     * pass is incomplete even though the other types are planned */
    if (p->types_failed && p->verdict == PLAN_VERDICT_OK)
        p->verdict = PLAN_VERDICT_SCAN_INCOMPLETE;
    for (ph = 0; ph < PH_COUNT; ph++)
        total += c->ph[ph].n;
    p->jobs = calloc(total ? total : 1, sizeof *p->jobs);
    if (!p->jobs)
        return c->nomem = 1, ERR_NOMEM;
    p->cap = total ? total : 1;
    for (ph = 0; ph < PH_COUNT; ph++) {
        struct jlist *l = &c->ph[ph];
        for (i = 0; i < l->n; i++) {
            struct job *j = &l->v[i];
            if (j->kind == JOB_DELETE && drop) {
                p->deletes_dropped++;
                job_release(j);
                continue;
            }
            if (drop && early_lock(c, j->lock)) {
                /* it waits for a withheld deletion: it would find the place still taken */
                waiting++;
                job_release(j);
                continue;
            }
            if (job_make_id(j) < 0) {
                c->nomem = 1;
                job_release(j);
                continue;
            }
            p->count[j->kind][j->side]++;
            p->jobs[p->njobs++] = *j;
        }
        l->n = 0;
    }
    if (waiting)
        add_msg(c,
                "%zu jobs of records taking the place of a folder whose deletion is withheld "
                "wait too",
                waiting);
    return c->nomem ? ERR_NOMEM : 0;
}

static void ctx_release(struct ctx *c)
{
    size_t i, ph;

    free(c->root);
    free(c->ents);
    free(c->rtag);
    free(c->atag);
    free(c->claimed);
    free(c->chosen);
    free(c->early);
    free(c->early_paths);
    for (i = 0; i < c->ntf; i++) {
        free(c->tf[i].name);
        free(c->tf[i].want);
    }
    free(c->tf);
    for (i = 0; i < c->nrecs; i++) {
        free(c->recs[i].key);
        free(c->recs[i].name);
        free(c->recs[i].want);
        free(c->recs[i].park);
    }
    free(c->recs);
    for (i = 0; i < c->ndf; i++) {
        free(c->df[i].post);
        names_set_release(&c->df[i].names);
    }
    free(c->df);
    free(c->df_by_cur);
    free(c->atts);
    free(c->unm);
    free(c->lo_withheld);
    for (i = 0; i < c->nupaths; i++)
        free(c->upaths[i].path);
    free(c->upaths);
    for (i = 0; i < c->nfrozen; i++)
        free(c->frozen[i]);
    free(c->frozen);
    for (ph = 0; ph < PH_COUNT; ph++) {
        for (i = 0; i < c->ph[ph].n; i++)
            job_release(&c->ph[ph].v[i]);
        free(c->ph[ph].v);
    }
}

static int setup_root(struct ctx *c, struct err *e)
{
    const char *r = c->in->root;
    size_t n;

    while (*r == '/')
        r++;
    n = strlen(r);
    while (n > 0 && r[n - 1] == '/')
        n--;
    if (n == 0)
        return err_set(e, ERR_INVALID, "plan: the root folder is empty");
    c->root = malloc(n + 2);
    if (!c->root)
        return err_set(e, ERR_NOMEM, "out of memory");
    c->root[0] = '/';
    memcpy(c->root + 1, r, n);
    c->root[n + 1] = '\0';
    c->root_len = n + 1;
    return 0;
}

int plan_build(const struct plan_input *in, const struct odoo_snap *os, const struct cloud_snap *cs,
               struct plan *out, struct err *e)
{
    struct ctx c;
    struct rec **byid = NULL;
    size_t i;
    int rc;

    memset(&c, 0, sizeof c);
    c.in = in;
    c.os = os;
    c.cs = cs;
    c.p = out;
    c.sa = -1;
    c.ar = -1;
    c.sa_df = -1;
    if (!in->root)
        return err_set(e, ERR_INVALID, "plan: no root folder");
    if (os->ntypes != in->ntypes)
        return err_set(e, ERR_INVALID, "plan: the Odoo snapshot has %zu types, the config %zu",
                       os->ntypes, in->ntypes);
    if (in->standalone_enabled && (!in->standalone_folder || !*in->standalone_folder))
        return err_set(e, ERR_INVALID, "plan: the stand-alone folder has no name");
    for (i = 0; i < in->ntypes; i++)
        if (!in->types[i].folder || !*in->types[i].folder || !in->types[i].model)
            return err_set(e, ERR_INVALID, "plan: type %zu has no folder or model", i);
    if (!in->url_base)
        return err_set(e, ERR_INVALID, "plan: no url base");
    rc = setup_root(&c, e);
    if (rc < 0)
        goto out;
    rc = index_cloud(&c);
    if (rc == 0)
        rc = setup_types(&c);
    if (rc == 0)
        rc = index_unmatched(&c);
    if (rc == 0)
        rc = assign_records(&c, &byid);
    if (rc == 0)
        rc = place_records(&c, byid);
    if (rc == 0)
        rc = delete_gone_folders(&c);
    if (rc == 0)
        rc = plan_atts(&c);
    if (rc == 0)
        rc = plan_children(&c);
    if (rc == 0)
        rc = carry_frozen_links(&c);
    if (rc == 0)
        sort_links(&out->links);
    if (rc == 0 && c.nomem)
        rc = ERR_NOMEM;
    if (rc == 0)
        rc = finish(&c);
    if (rc < 0)
        err_set(e, rc, "plan: %s", rc == ERR_NOMEM ? "out of memory" : err_name(rc));
out:
    free(byid);
    ctx_release(&c);
    if (rc < 0)
        plan_release(out);
    return rc;
}

/* ---------- plan lifecycle, urls ---------- */

void plan_init(struct plan *p)
{
    memset(p, 0, sizeof *p);
}

void plan_release(struct plan *p)
{
    size_t i;

    for (i = 0; i < p->njobs; i++)
        job_release(&p->jobs[i]);
    free(p->jobs);
    for (i = 0; i < p->nmessages; i++)
        free(p->messages[i]);
    free(p->messages);
    snap_links_release(&p->links);
    plan_init(p);
}

const char *plan_verdict_name(enum plan_verdict v)
{
    switch (v) {
    case PLAN_VERDICT_OK:
        return "ok";
    case PLAN_VERDICT_DELETES_REFUSED:
        return "deletes-refused";
    case PLAN_VERDICT_SCAN_INCOMPLETE:
        return "scan-incomplete";
    }
    return "?";
}

static int unreserved(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '/';
}

static size_t base_len(const char *base)
{
    size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/')
        n--;
    return n;
}

char *plan_url_for_path(const char *url_base, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    struct buf b;
    const unsigned char *s;
    int rc;

    buf_init(&b, URL_MAX);
    rc = buf_append(&b, url_base, base_len(url_base));
    if (rc == 0 && path[0] != '/')
        rc = buf_puts(&b, "/");
    for (s = (const unsigned char *)path; rc == 0 && *s; s++) {
        if (unreserved(*s)) {
            rc = buf_append(&b, s, 1);
        } else {
            char enc[3] = {'%', hex[*s >> 4], hex[*s & 15]};
            rc = buf_append(&b, enc, 3);
        }
    }
    if (rc < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

char *plan_path_for_url(const char *url_base, const char *url)
{
    size_t n = base_len(url_base), i, o = 0;
    char *out;

    if (strncmp(url, url_base, n) != 0 || url[n] != '/')
        return NULL;
    url += n;
    out = malloc(strlen(url) + 1);
    if (!out)
        return NULL;
    for (i = 0; url[i] && url[i] != '?' && url[i] != '#'; i++) {
        if (url[i] == '%') {
            int h = hexval(url[i + 1]), l = h < 0 ? -1 : hexval(url[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[o++] = url[i];
        }
    }
    while (o > 1 && out[o - 1] == '/')
        o--;
    out[o] = '\0';
    return out;
}
