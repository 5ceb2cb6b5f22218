/*
 * plan: the planner (plan.h). One pass of plan_build():
 *
 *   1. index the cloud snapshot: entries sorted by path (children of a folder
 *      are one contiguous range), folders by record tag, entries by
 *      attachment tag;
 *   2. type folders (and the stand-alone folder): find the folder tagged with
 *      the type name, plan mkdir / rename back; a type whose folder is renamed
 *      back, or whose Odoo scan failed, is frozen (nothing planned under it);
 *   3. records: each record's document folder placed (plan_records.c);
 *   4. document folders of records deleted in Odoo or matching no type
 *      (plan_gone.c);
 *   5. attachments by id, and 6. the remaining entries of each document
 *      folder (plan_files.c);
 *   7. delete safety, job ids, and the phases concatenated in apply order.
 *
 * This file owns the pass's context (struct ctx, plan_int.h) and the helpers
 * the steps share (jobs, messages, frozen paths, lookups in the cloud index),
 * steps 1, 2 and 7, the plan's lifecycle, and the mapping between cloud
 * paths and attachment urls (plan_url_for_path, plan_path_for_url).
 *
 * Jobs are collected per phase (plan.h "Job order") and concatenated at the
 * end. Allocation failures set ctx.nomem and unwind to ERR_NOMEM.
 */
#include "plan_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "link.h"
#include "plural.h"
#include "banned.h"

/* ---------- helpers on the context (plan_int.h) ---------- */

void plan_add_msg(struct ctx *c, const char *fmt, ...)
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

int plan_freeze(struct ctx *c, const char *path)
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

int plan_under_frozen(const struct ctx *c, const char *path)
{
    size_t i;

    for (i = 0; i < c->nfrozen; i++)
        if (is_under(path, c->frozen[i]))
            return 1;
    return 0;
}

struct job *plan_new_job(struct ctx *c, int ph, enum job_kind k, enum job_side s, const char *lock,
                         const char *reason)
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

const struct snap_entry *plan_find_path(const struct ctx *c, const char *path)
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
void plan_range_under(const struct ctx *c, const char *dir, size_t *lo, size_t *hi)
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
void plan_range_atag(const struct ctx *c, long id, size_t *lo, size_t *hi)
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

void plan_range_rtag(const struct ctx *c, const char *key, size_t *lo, size_t *hi)
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
        if (en->fileid && *en->fileid)
            c->fileids = 1;
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
    w = plan_find_path(c, t->want);
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
            plan_add_msg(c,
                         "type folder \"%s\" was renamed to \"%s\" but \"%s\" is taken: left as is",
                         t->raw, tagged->path, t->want);
            t->frozen = 1;
            if (plan_freeze(c, tagged->path) < 0)
                return ERR_NOMEM;
        } else {
            j = plan_new_job(c, PH_TYPES, JOB_RENAME, JOB_SIDE_CLOUD, t->want,
                             t->model ? "type folder renamed in cloud"
                                      : "stand-alone folder renamed in cloud");
            if (!j)
                return ERR_NOMEM;
            j->path = xdup(c, tagged->path);
            j->to = xdup(c, t->want);
            j->expect.etag = xdup(c, tagged->etag);
            plan_add_msg(c,
                         "type folder \"%s\" is renamed back; its documents are planned next pass",
                         t->raw);
            t->frozen = 1;
            if (plan_freeze(c, tagged->path) < 0)
                return ERR_NOMEM;
        }
    } else if (w && !w->is_dir) {
        plan_add_msg(c, "type folder \"%s\": a file is in the way at \"%s\"", t->raw, t->want);
        t->frozen = 1;
    } else {
        /* missing, or there untagged (adopted: mkdir tags it) */
        t->cur = w;
        if (t->cloud_ok) {
            j = plan_new_job(
                c, PH_TYPES, JOB_MKDIR, JOB_SIDE_CLOUD, t->want,
                t->archive ? (w ? "archive folder adopted" : "archive folder missing")
                : t->model ? (w ? "type folder adopted" : "type folder missing")
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
        plan_add_msg(c,
                     "type \"%s\": the Odoo scan failed; nothing (and no deletion) is planned "
                     "under its folder this pass",
                     t->raw);
        t->frozen = 1;
        if (plan_freeze(c, t->want) < 0 || (t->cur && plan_freeze(c, t->cur->path) < 0))
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
            plan_range_under(c, t->cur->path, &lo, &hi);
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
        char odoo_why[768];
        const char *why = incomplete ? (!c->os->complete ? "the Odoo scan is incomplete"
                                                         : "the cloud scan is incomplete")
                                     : "too many deletions";

        if (!c->os->complete && c->os->incomplete_why) {
            /* say which read failed, and Odoo's message (its model and call) */
            snprintf(odoo_why, sizeof odoo_why, "the Odoo scan is incomplete (%s)",
                     c->os->incomplete_why);
            why = odoo_why;
        }
        if (in->force_deletes) {
            plan_add_msg(c, "%s, but deletions are forced (%zu of %zu managed)", why, c->del_weight,
                         c->managed);
        } else {
            drop = 1;
            p->verdict = incomplete ? PLAN_VERDICT_SCAN_INCOMPLETE : PLAN_VERDICT_DELETES_REFUSED;
            if (incomplete)
                plan_add_msg(c, "%s: no deletion planned (use --force-deletes to override)", why);
            else
                plan_add_msg(c,
                             "this pass would delete %zu of %zu managed files and folders (over "
                             "%.0f%%): no deletion planned (use --force-deletes to override)",
                             c->del_weight, c->managed, in->max_delete_share * 100.0);
        }
    }
    for (i = 0; c->lo_withheld && i < c->cs->nlo; i++)
        if (c->lo_withheld[i])
            plan_add_msg(
                c,
                "\"%.300s\" holds a name left out of the listing (a control character): "
                "%zu attachments whose file is gone from %s are not deleted in Odoo (rename "
                "it in the cloud)",
                c->cs->lo[i].folder, c->lo_withheld[i],
                c->cs->lo[i].below ? "it or below it" : "it");
    if (c->no_fileid && in->link_web_warn)
        plan_add_msg(c,
                     "%zu url %s to the WebDAV address: the server gave no file id to link to "
                     "(cloud.link_form web)",
                     c->no_fileid, c->no_fileid == 1 ? "attachment links" : "attachments link");
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
        plan_add_msg(c,
                     "%zu %s of records taking the place of a folder whose deletion is withheld "
                     "wait too",
                     waiting, PLURAL(waiting, "job", "jobs"));
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
    free(c->web_root);
    free(c->fid);
    free(c->webref);
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
        rc = plan_index_unmatched(&c);
    if (rc == 0)
        rc = plan_assign_records(&c, &byid);
    if (rc == 0)
        rc = plan_place_records(&c, byid);
    if (rc == 0)
        rc = plan_delete_gone_folders(&c);
    if (rc == 0)
        rc = plan_atts(&c);
    if (rc == 0)
        rc = plan_children(&c);
    if (rc == 0)
        rc = plan_carry_frozen_links(&c);
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

char *plan_path_for_url(const char *url_base, const char *url)
{
    size_t n = base_len(url_base), o;
    int nomem = 0;
    char *out;

    if (strncmp(url, url_base, n) != 0 || url[n] != '/')
        return NULL;
    url += n;
    out = link_pct_decode(url, strcspn(url, "?#"), 0, &nomem);
    if (!out)
        return NULL;
    o = strlen(out);
    while (o > 1 && out[o - 1] == '/')
        o--;
    out[o] = '\0';
    return out;
}
