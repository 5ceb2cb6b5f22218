/*
 * plan_gone: step 4 of plan_build() (plan.c), the tagged document folders that
 * no record chose this pass. The folder of a record deleted in Odoo is
 * deleted, but not when a live url attachment links into it, nor when whether
 * the record exists is unknown (the check failed), nor under a frozen or
 * unmanaged type folder. A live record's second folder (left by a merge whose
 * delete waited) goes only while empty. A record that exists but matches no
 * type (odoo_snap.unmatched) is not gone: under the archive policy it is a
 * record of the archive folder (plan_records.c), under the keep policy its
 * folder is left alone.
 *
 * plan_gone_folder() is the one test of "gone": the records step asks it
 * whether a folder that holds a record's place leaves it this pass, and the
 * attachments step whether a file was left behind in a folder that goes.
 */
#include "plan_int.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

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

/* os->unmatched by (model, id), for is_unmatched(). */
int plan_index_unmatched(struct ctx *c)
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
        p = plan_link_path(c, a->url, a->id);
        if (!p)
            continue; /* not a link into the cloud (or ENOMEM: then one link less is seen) */
        c->upaths[c->nupaths].path = p;
        c->upaths[c->nupaths++].att_id = a->id;
    }
    qsort(c->upaths, c->nupaths, sizeof *c->upaths, cmp_upath);
    return 0;
}

/* A live url attachment whose url names dir or something below it: its id, else 0. */
long plan_linked_into(struct ctx *c, const char *dir)
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
int plan_gone_folder(struct ctx *c, const struct snap_entry *en, int *why, long *att)
{
    const struct tfold *t = NULL;
    char model[256];
    const char *comma;
    size_t k;
    int known;

    *why = KEEP_NO;
    *att = 0;
    if (depth(c, en->path) != 2 || c->chosen[eidx(c, en)] || plan_under_frozen(c, en->path))
        return 0;
    for (k = 0; k < c->ntf; k++)
        if ((long)k != c->sa && !c->tf[k].frozen && c->tf[k].cur &&
            parent_is(en->path, c->tf[k].cur->path))
            t = &c->tf[k];
    if (!t)
        return 0; /* not under a managed type folder: left alone */
    if (plan_find_rec_tag(c, en->record_tag, model, sizeof model)) {
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
    *att = plan_linked_into(c, en->path);
    if (*att) {
        *why = KEEP_LINKED;
        return 0;
    }
    return 1;
}

int plan_gone_delete(struct ctx *c, const struct snap_entry *en, int ph)
{
    struct job *j;
    size_t lo, hi;

    j = plan_new_job(c, ph, JOB_DELETE, JOB_SIDE_CLOUD, en->path, "record deleted in Odoo");
    if (!j)
        return ERR_NOMEM;
    j->path = xdup(c, en->path);
    j->record = xdup(c, en->record_tag);
    j->fileid = xdup(c, en->fileid);
    j->expect.etag = xdup(c, en->etag);
    plan_range_under(c, en->path, &lo, &hi);
    c->del_weight += 1 + (hi - lo);
    return c->nomem ? ERR_NOMEM : 0;
}

/* A live record's second folder that holds nothing, in a type folder we write to. */
static int second_empty(const struct ctx *c, const struct snap_entry *en)
{
    size_t lo, hi, k;

    plan_range_under(c, en->path, &lo, &hi);
    if (hi > lo)
        return 0;
    for (k = 0; k < c->ntf; k++)
        if ((long)k != c->sa && c->tf[k].cur && parent_is(en->path, c->tf[k].cur->path))
            return c->tf[k].cloud_ok;
    return 0;
}

int plan_delete_gone_folders(struct ctx *c)
{
    size_t i;
    int why, rc;
    long att;

    for (i = 0; i < c->nrtag; i++) {
        const struct snap_entry *en = c->rtag[i];
        if (c->early[eidx(c, en)])
            continue; /* planned already, before the record that takes its name */
        if (plan_gone_folder(c, en, &why, &att)) {
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
            plan_add_msg(c, "\"%s\": a second folder of record %s, left alone", en->path,
                         en->record_tag);
        } else if (why == KEEP_UNKNOWN) {
            plan_add_msg(c, "\"%s\": whether record %s still exists is unknown: left alone",
                         en->path, en->record_tag);
        } else if (why == KEEP_LINKED) {
            plan_add_msg(
                c,
                "\"%s\": record %s is deleted in Odoo, but attachment %ld still links into "
                "the folder: not deleted",
                en->path, en->record_tag, att);
        }
    }
    return c->nomem ? ERR_NOMEM : 0;
}
