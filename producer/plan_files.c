/*
 * plan_files: steps 5 and 6 of plan_build() (plan.c), the files.
 *
 *   5. attachments, by id: binary -> upload; url -> follow its tagged file
 *      (or its url): renamed, moved to another document folder (by the cloud:
 *      relink; by Odoo, told from the previous pass's links: move the file),
 *      moved out, gone;
 *   6. the remaining entries of each document folder: tagged with an
 *      attachment that is gone and proven the linked file (previous pass's
 *      links) -> delete the file, else a new file or sub-folder -> relink
 *      (create a url attachment); every link seen goes to plan.links, and the
 *      links under frozen folders are carried over unchanged.
 *
 * What the previous pass saw linked (cloud_snap links) is the proof that a
 * file is the one an attachment named: only a proven file is deleted or moved
 * for Odoo.
 */
#include "plan_int.h"

#include "jobmsg.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

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
    plan_range_under(c, d->cur_path, &lo, &hi);
    for (i = lo; i < hi; i++)
        if (parent_is(c->ents[i]->path, d->cur_path) &&
            names_set_add(&d->names, base_name(c->ents[i]->path)) < 0)
            return c->nomem = 1, ERR_NOMEM;
    return 0;
}

#define PLAN_EMPTY_SHA1 "da39a3ee5e6b4b0d3255bfef95601890afd80709"

/* One link for the next pass (model.h struct snap_link); en NULL: a file this pass
 * uploads, of `size` bytes, not seen yet, stamped with mtime. */
static int put_link(struct ctx *c, long id, const char *path, const struct snap_entry *en,
                    long long size, long long mtime, const char *rec, const char *att_rec,
                    const char *file_rec)
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
    l.mtime = mtime;
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
    j = path ? plan_new_job(c, PH_FILES, JOB_UPLOAD, JOB_SIDE_CLOUD, d->lock,
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
         * scan still deletes the file it was uploaded to (path and size prove it, and on a
         * server with file ids the modification time the upload gives it: ident.h) */
        put_link(c, a->id, j->path, NULL, a->file_size, job_odoo_time_s(a->write_date), d->key,
                 d->key, d->key);
    }
    free(path);
    free(fname);
    return c->nomem ? ERR_NOMEM : 0;
}

/*
 * Delete attachment a in Odoo. path: the cloud entry it links to (its file moved out
 * of document folders, or the path its url named), fileid: that entry's file id
 * (seen now, or by the previous pass), both for the sync log; either may be NULL.
 */
static int odoo_delete(struct ctx *c, const struct snap_att *a, long of, const char *reason,
                       const char *path, const char *fileid)
{
    struct dfold *d = &c->df[of];
    struct job *j;

    if (!d->odoo_ok)
        return 0;
    j = plan_new_job(c, PH_ODOO, JOB_DELETE, JOB_SIDE_ODOO, d->lock, reason);
    if (!j)
        return ERR_NOMEM;
    j->att_id = a->id;
    j->record = xdup(c, d->key);
    j->name = xdup(c, a->name);
    j->path = xdup(c, path);
    j->fileid = xdup(c, fileid);
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

    if (l->size == SNAP_LINK_GONE) {
        *why = "its upload was gone before a pass saw its file id";
        return 0;
    }
    if (l->fileid && *l->fileid && en->fileid && *en->fileid) {
        *why = "another file id";
        return strcmp(l->fileid, en->fileid) == 0;
    }
    here = l->path && strcmp(l->path, en->path) == 0;
    *why = "another path";
    if (en->is_dir)
        return here;
    if (!here && (!l->etag || !l->path || plan_find_path(c, l->path)))
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
    return put_link(c, id, path, en, en->size, 0, rec, att_rec, file_rec);
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
 * Keep the link of id, whose file is gone. Where the server gives file ids, a link
 * without one (an upload no pass saw: path and size only) is kept for its records only
 * (SNAP_LINK_GONE): a later file of that size at its path (Nextcloud gives it the old tag) is
 * not proven the uploaded one. Any other link keeps proving its file, should it be back.
 */
static int carry_gone_link(struct ctx *c, long id)
{
    const struct snap_link *l = snap_links_find(c->in->prev, id);
    struct snap_link g;

    if (!l || !c->fileids || (l->fileid && *l->fileid))
        return carry_link(c, id);
    g = *l;
    g.size = SNAP_LINK_GONE;
    g.etag = NULL;
    if (snap_links_add(&c->p->links, &g) < 0)
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
        plan_add_msg(c,
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
        plan_add_msg(c,
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
    j = plan_new_job(c, PH_FILES, JOB_RENAME, JOB_SIDE_CLOUD, t->lock,
                     "attachment moved to another record in Odoo");
    if (j) {
        j->path = xdup(c, primary->path);
        j->to = xdup(c, to);
        j->record = xdup(c, t->key);
        j->att_id = a->id;
        j->name = xdup(c, a->name);
        j->fileid = xdup(c, primary->fileid);
        j->expect.etag = xdup(c, primary->etag);
    }
    j = plan_new_job(c, PH_ODOO, JOB_RELINK, JOB_SIDE_ODOO, t->lock,
                     "attachment moved to another record in Odoo");
    if (j) {
        j->att_id = a->id;
        j->url = plan_link_for(c, to, primary->fileid);
        j->name = xdup(c, a->name ? a->name : base_name(to));
        j->record = xdup(c, t->key);
        j->path = xdup(c, to);
        j->fileid = xdup(c, primary->fileid);
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
 * (plan_gone_folder(): KEEP_LINKED): Odoo moved the attachment to another record
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

    if (!upath || (en = plan_find_path(c, upath)) == NULL || en->att_tag != a->id ||
        (slash = strrchr(upath, '/')) == NULL)
        return NULL;
    pp = strndup(upath, (size_t)(slash - upath));
    if (!pp)
        return c->nomem = 1, NULL;
    dir = plan_find_path(c, pp);
    free(pp);
    if (!dir || !dir->is_dir || !dir->record_tag || plan_gone_folder(c, dir, &why, &att) ||
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

/* Url attachment a (by: the entry its web link names by file id alone, or NULL). */
static int plan_url_att(struct ctx *c, const struct snap_att *a, long of,
                        const struct snap_entry *primary, long pdf, int tagged_elsewhere,
                        const char *upath, const struct snap_entry *by)
{
    char akbuf[300];
    const char *now_att = att_key(a, akbuf, sizeof akbuf);
    const struct snap_entry *gone;
    const struct snap_link *prev;
    const char *src_key;
    struct job *j;

    if (primary) {
        struct dfold *d = &c->df[pdf];
        const char *bn = base_name(primary->path);
        char *pp, *url;
        int renamed, url_stale, untagged, form_ok, moved, refolded, by_id;
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
        url = plan_link_for(c, pp, primary->fileid);
        if (!url) {
            free(pp);
            return ERR_NOMEM;
        }
        renamed = !name_matches(c, a->name, bn);
        /*
         * Compared decoded, so another spelling of the same url is not rewritten each
         * pass. A web link names the file by its id, which a move keeps: it is stale
         * only when it names another file, or when it is not in the configured form
         * (a DAV url where a web link is written, or the reverse: rewritten once).
         */
        form_ok = plan_link_form_ok(c, a->url, primary->fileid);
        moved = !upath || strcmp(upath, pp) != 0;
        url_stale = !form_ok ||
                    (moved && !(c->in->link_web && primary->fileid && *primary->fileid && form_ok));
        /* named by its web link, by file id: that is its identity, no tag is written or
         * needed (ident.h); unless it still carries another attachment's stale tag */
        by_id = by == primary && !primary->stale_att;
        /* adopted by its url (a file replaced in place loses its dead properties), or told
         * by its file id (a parent folder moved on Nextcloud, ident.h): tag it */
        untagged = (primary->att_tag != a->id || primary->retag) && !by_id;
        /* its folder moves this pass on a server with file ids (Nextcloud, ownCloud): the
         * move leaves the files' dead properties behind, and its url stays right: relinked
         * all the same, to tag it at its new place in this pass, unless the url names it by
         * id (then no tag is needed) */
        refolded = moved && !url_stale && primary->fileid && *primary->fileid && !by_id;
        if (!d->odoo_ok) {
            /* to-cloud: Odoo is not written */
        } else if (pdf == of) {
            /*
             * One job per attachment: a relink carries the name too, and two
             * jobs expecting the same write_date would refuse each other.
             */
            if (renamed && !url_stale && !untagged && !refolded) {
                j = plan_new_job(c, PH_ODOO, JOB_RENAME, JOB_SIDE_ODOO, d->lock,
                                 "cloud file renamed");
                if (j) {
                    j->att_id = a->id;
                    j->name = xdup(c, bn);
                    j->record = xdup(c, d->key);
                    j->path = xdup(c, pp);
                    j->fileid = xdup(c, primary->fileid);
                    j->expect.write_date = xdup(c, a->write_date);
                }
            }
            if (url_stale || untagged || refolded) {
                j = plan_new_job(c, PH_ODOO, JOB_RELINK, JOB_SIDE_ODOO, d->lock,
                                 renamed                 ? "cloud file renamed"
                                 : url_stale && !form_ok ? "link in another form"
                                 : url_stale || refolded ? "document folder moved"
                                                         : "replaced file lost its tag");
                if (j) {
                    j->att_id = a->id;
                    j->url = xdup(c, url);
                    j->name = xdup(c, renamed || !a->name ? bn : a->name);
                    j->record = xdup(c, d->key);
                    j->path = xdup(c, pp);
                    j->fileid = xdup(c, primary->fileid);
                    j->expect.write_date = xdup(c, a->write_date);
                }
            }
        } else {
            j = plan_new_job(c, PH_ODOO, JOB_RELINK, JOB_SIDE_ODOO, d->lock,
                             "cloud file moved to another document");
            if (j) {
                j->att_id = a->id;
                j->url = xdup(c, url);
                j->name = xdup(c, bn);
                j->record = xdup(c, d->key);
                j->path = xdup(c, pp);
                j->fileid = xdup(c, primary->fileid);
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
    if (tagged_elsewhere) {
        size_t lo, hi;

        /* kept until the delete happened: where the file's tag did not follow it (a moved
         * folder's children on Nextcloud), the link's file id is what tells it next pass */
        if (carry_link(c, a->id) < 0)
            return ERR_NOMEM;
        plan_range_atag(c, a->id, &lo, &hi);
        return odoo_delete(c, a, of, "cloud file moved out of document folders",
                           lo < hi ? c->atag[lo]->path : upath,
                           lo < hi ? c->atag[lo]->fileid : NULL);
    }
    if (!upath)
        return 0; /* not a link into our tree */
    if (plan_find_path(c, upath) || plan_under_frozen(c, upath))
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
     * folder is gone too (scan_unmatched); as gone, so a later file at that path is new */
    if (carry_gone_link(c, a->id) < 0)
        return ERR_NOMEM;
    prev = snap_links_find(c->in->prev, a->id);
    return odoo_delete(
        c, a, of, c->df[of].cur_path ? "cloud file deleted" : "document folder deleted in cloud",
        upath, prev ? prev->fileid : NULL);
}

/* Whether the previous pass linked attachment id to en: by its file id, or an upload
 * (its file id came after the plan). */
static int prev_links_file(const struct ctx *c, long id, const struct snap_entry *en)
{
    const struct snap_link *l = snap_links_find(c->in->prev, id);

    if (!l || l->size == SNAP_LINK_GONE)
        return 0;
    return !l->fileid || !*l->fileid || (en->fileid && strcmp(l->fileid, en->fileid) == 0);
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
    /* by: the entry its web link names by file id alone (plan_link_own), or NULL */
    const struct snap_entry *primary = NULL, *by = NULL;
    const struct snap_link *prev;
    size_t lo, hi, i;
    int tagged_elsewhere = 0, rc = 0;
    char *upath = NULL;

    plan_range_atag(c, a->id, &lo, &hi);
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
        struct rec *r = plan_find_rec(c, a->res_model, a->res_id);
        if (r && r->frozen) {
            claim_range(c, lo, hi);
            return carry_link(c, a->id);
        }
        if (r)
            of = r->folder;
    }
    for (i = lo; i < hi; i++)
        if (plan_under_frozen(c, c->atag[i]->path)) {
            claim_range(c, lo, hi);
            return carry_link(c, a->id);
        }
    /* the primary entry: tagged, directly in a managed document folder, its own first */
    for (i = lo; i < hi; i++) {
        const struct snap_entry *en = c->atag[i];
        long d = plan_df_of_entry(c, en->path);
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
            long d = plan_df_of_entry(c, c->atag[i]->path);
            if (d >= 0 && same_file(c, prev, c->atag[i], &why)) {
                primary = c->atag[i];
                pdf = d;
                break;
            }
        }
    }
    if (a->type == SNAP_ATT_URL && a->url) {
        upath = plan_link_path(c, a->url, a->id);
        if (upath && depth(c, upath) < 1) {
            free(upath);
            upath = NULL;
        }
        /* a web link names its file by the file id, which decides over tags (ident.h): an
         * entry tagged with this attachment elsewhere is a later file at a path that had
         * its tag (Nextcloud keeps dead properties per path) */
        by = plan_link_own(c, a);
        if (by) {
            long d = plan_df_of_entry(c, by->path);

            if (plan_under_frozen(c, by->path)) {
                claim_range(c, lo, hi);
                free(upath);
                return carry_link(c, a->id);
            }
            if (d >= 0) {
                primary = by;
                pdf = d;
                tagged_elsewhere = 0;
            } else if (!primary && depth(c, by->path) >= 1 && prev_links_file(c, a->id, by)) {
                /* the file the previous pass linked, moved out of document folders: as a
                 * tagged file (an attachment a person pointed there stays as it is) */
                tagged_elsewhere = 1;
            }
        }
        /* an untagged file the url names */
        if (!primary && hi == lo && upath) {
            const struct snap_entry *en = plan_find_path(c, upath);
            long d = en ? plan_df_of_entry(c, en->path) : -1;
            if (en && d >= 0 && (en->att_tag == 0 || en->att_tag == a->id)) {
                primary = en;
                pdf = d;
            }
        }
    }
    if (primary)
        c->claimed[eidx(c, primary)] = 1;
    for (i = lo; i < hi; i++)
        if (plan_df_of_entry(c, c->atag[i]->path) < 0)
            c->claimed[eidx(c, c->atag[i])] = 1;

    ownerdf = of;
    if (a->type == SNAP_ATT_BINARY) {
        if (of < 0 || !c->df[of].cloud_ok)
            goto out;
        if ((!a->checksum || !*a->checksum) && a->file_size != 0) {
            /* an upload is checked against the checksum: without one, nothing to compare */
            plan_add_msg(c, "attachment %ld \"%s\" has no checksum (empty?): not uploaded", a->id,
                         a->name ? a->name : "");
            goto out;
        }
        if (primary && pdf != of)
            primary = NULL; /* its old upload sits elsewhere: upload anew here */
        if (primary && primary->size >= 0 && a->file_size >= 0 && primary->size != a->file_size) {
            /* an older upload (its url conversion failed, then the attachment was edited in
             * Odoo): kept as it is; the new content goes beside it (a worker refuses to take
             * a file of another content for the upload, apply_upload.c) */
            plan_add_msg(c,
                         "\"%s\" holds an older upload of attachment %ld: kept; its new "
                         "content goes beside it",
                         primary->path, a->id);
            primary = NULL;
        }
        if (!primary)
            c->managed++;
        rc = plan_upload(c, a, of, primary);
    } else {
        rc = plan_url_att(c, a, ownerdf, primary, pdf, tagged_elsewhere && !primary, upath, by);
    }
out:
    free(upath);
    return rc;
}

int plan_atts(struct ctx *c)
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
    if (!same_file(c, l, en, why))
        return 0;
    /* the same file (its file id says so), but written since it was linked: the edit
     * wins over Odoo's delete (a rename or move keeps a file's ETag, on Nextcloud too) */
    if (!en->is_dir && l->etag &&
        (!en->etag || strcmp(etag_opaque(l->etag), etag_opaque(en->etag)) != 0)) {
        *why = "it was written since it was linked";
        return 0;
    }
    return 1;
}

int plan_children(struct ctx *c)
{
    size_t f, i, lo, hi;

    for (f = 0; f < c->ndf; f++) {
        struct dfold *d = &c->df[f];
        if (!d->cur_path)
            continue;
        plan_range_under(c, d->cur_path, &lo, &hi);
        for (i = lo; i < hi; i++) {
            const struct snap_entry *en = c->ents[i];
            const char *bn = base_name(en->path);
            const char *why = NULL;
            const struct snap_link *pl = NULL;
            struct job *j;
            char *pp;
            int gone, stale;
            if (!parent_is(en->path, d->cur_path) || c->claimed[eidx(c, en)] ||
                plan_under_frozen(c, en->path) || (!en->att_tag && names_is_transient(bn)))
                continue;
            pp = join(c, d->post, bn);
            if (!pp)
                return ERR_NOMEM;
            gone = en->att_tag > 0 && !find_att(c, en->att_tag);
            stale = gone && !proven_gone(c, en, &why, &pl);
            if (gone && !stale) {
                if (d->cloud_ok) {
                    j = plan_new_job(c, PH_FILES, JOB_DELETE, JOB_SIDE_CLOUD, d->lock,
                                     "attachment deleted in Odoo");
                    if (j) {
                        j->path = xdup(c, pp);
                        j->record = xdup(c, d->key);
                        j->att_id = en->att_tag;
                        j->name = xdup(c, bn);
                        j->fileid = xdup(c, en->fileid);
                        j->expect.etag = xdup(c, en->etag);
                        c->del_weight++;
                    }
                    /* kept, as seen now: a delete that does not happen this pass is still
                     * proven next pass, and a later file at its path is not */
                    add_link(c, en->att_tag, pp, en, pl->rec, pl->att_rec, pl->file_rec);
                }
            } else if (d->odoo_ok) {
                if (!en->att_tag && en->stale_att > 0) {
                    stale = 1;
                    plan_add_msg(c,
                                 "\"%s\" carries the tag of attachment %ld, which was linked to "
                                 "another file (file id %s is not that one's): linked as a new "
                                 "file",
                                 en->path, en->stale_att, en->fileid ? en->fileid : "");
                } else if (stale)
                    plan_add_msg(c,
                                 "\"%s\" carries the tag of deleted attachment %ld but is not the "
                                 "file that was linked to it (%s): linked as a new file",
                                 en->path, en->att_tag, why);
                j = plan_new_job(c, PH_ODOO, JOB_RELINK, JOB_SIDE_ODOO, d->lock,
                                 stale        ? "stale attachment tag"
                                 : en->is_dir ? "new cloud sub-folder"
                                              : "new cloud file");
                if (j) {
                    j->path = xdup(c, pp);
                    j->name = xdup(c, bn);
                    j->record = xdup(c, d->key);
                    j->fileid = xdup(c, en->fileid);
                    j->url = plan_link_for(c, pp, en->fileid);
                    /* the id it gets is the tag it carries next pass. A stale tag it had
                     * already is not (nor one its file id disowned): a job that failed, or
                     * a `plan`, would leave it, and this link would prove it next pass */
                    if (!en->att_tag && en->stale_att <= 0)
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
int plan_carry_frozen_links(struct ctx *c)
{
    const struct snap_links *prev = c->in->prev;
    size_t i, k, lo, hi;

    for (i = 0; prev && c->nfrozen && i < prev->n; i++) {
        if (prev->v[i].att_id <= 0 || find_att(c, prev->v[i].att_id))
            continue;
        plan_range_atag(c, prev->v[i].att_id, &lo, &hi);
        for (k = lo; k < hi; k++)
            if (plan_under_frozen(c, c->atag[k]->path)) {
                if (snap_links_add(&c->p->links, &prev->v[i]) < 0)
                    return c->nomem = 1, ERR_NOMEM;
                break;
            }
    }
    return 0;
}
