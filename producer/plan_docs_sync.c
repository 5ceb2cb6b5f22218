/*
 * plan_docs_sync: the Documents planner's two-way rules beyond placing Odoo's tree (see
 * plan_docs.h): edits on either side and conflicts (the {urn:odoosync}synced mark), files
 * and folders moved or deleted in the cloud (the previous pass's "docs"), new cloud
 * entries, and a file edited in the cloud whose document Odoo deleted.
 */
#include "plan_docs_int.h"

#include "banned.h"

/*
 * Whether the cloud file en changed since its last sync ({urn:odoosync}synced = "<sha1>
 * <etag>"): *cloud when its ETag moved, *odoo when the document's sha1 did. 0 when the
 * file carries no (readable) mark: then neither side is taken for edited.
 */
static int pd_edits_of(const struct snap_entry *en, const char *odoo_sum, int *cloud, int *odoo)
{
    const char *sp = en->synced ? strchr(en->synced, ' ') : NULL;

    *cloud = *odoo = 0;
    if (!sp || sp - en->synced != 40)
        return 0;
    *cloud = en->etag && strcmp(etag_opaque(en->etag), etag_opaque(sp + 1)) != 0;
    *odoo = odoo_sum && is_sha1(odoo_sum) && strncmp(odoo_sum, en->synced, 40) != 0;
    return 1;
}

/*
 * Whether the cloud file en is larger than Odoo's JSON API takes in one request (its
 * content goes base64-encoded in it: max_upload): then a message (what: what is not
 * done), and no job, so nothing is half-written and no job fails every pass.
 */
static int pd_too_big(struct pd *d, const struct snap_entry *en, const char *what)
{
    if (en->is_dir || d->in->max_upload <= 0 || en->size <= d->in->max_upload)
        return 0;
    msg(d,
        "\"%s\" holds %lld bytes: over what Odoo's JSON API takes in one request (%lld bytes "
        "of content at most); %s",
        en->path, en->size, d->in->max_upload, what);
    return 1;
}

/* "<stem> (conflict, cloud version).<ext>" for the file at path (malloc'd). */
static char *pd_conflict_name(struct pd *d, const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *dot = strrchr(base, '.');

    if (!dot || dot == base)
        return fmt_or_flag(d, "%s (conflict, cloud version)", base);
    return fmt_or_flag(d, "%.*s (conflict, cloud version)%s", (int)(dot - base), base, dot);
}

/*
 * A cloud file that becomes a document of its own in the Documents folder folder_ref,
 * replacing the tag old_tag it carries (a conflict's cloud version, or a file edited in
 * the cloud whose document Odoo deleted: the edit wins); path: where en is once the moves
 * planned before it are applied.
 */
static int pd_split(struct pd *d, const struct snap_entry *en, const char *path,
                    const char *folder_ref, const char *old_tag, const char *name, const char *lock,
                    const char *reason)
{
    struct job *j;

    if (pd_too_big(d, en, "not created in Odoo"))
        return 0;
    j = new_job(d, JOB_RELINK, lock, reason);
    if (!j)
        return ERR_NOMEM;
    j->side = JOB_SIDE_ODOO;
    j->path = dup_or_flag(d, path);
    j->url = plan_url_for_path(d->in->cfg->cloud.url, path);
    if (!j->url)
        d->nomem = 1;
    j->name = dup_or_flag(d, name);
    j->doc = dup_or_flag(d, folder_ref);
    j->record = dup_or_flag(d, old_tag);
    return d->nomem ? ERR_NOMEM : 0;
}

/* An upload of document f's content to path (tagged tag, checked against its checksum):
 * a new document, an edit in Odoo, a file told by its file id. NULL when out of memory. */
struct job *pd_upload_job(struct pd *d, const struct docs_file *f, const char *path,
                          const char *tag, const char *lock, const char *reason)
{
    struct job *j = new_job(d, JOB_UPLOAD, lock, reason);

    if (!j)
        return NULL;
    j->path = dup_or_flag(d, path);
    j->att_id = f->att_id;
    j->size = f->size;
    j->name = dup_or_flag(d, f->name);
    j->url = plan_url_for_path(d->in->cfg->cloud.url, path);
    if (!j->url)
        d->nomem = 1;
    j->doc = dup_or_flag(d, tag);
    j->expect.checksum = dup_or_flag(d, f->checksum);
    return j;
}

/* A synced file at its place (path: where it is once the moves planned before it are
 * applied, the jobs' path): copy an edit to the other side; both edited: keep both. */
int pd_edits(struct pd *d, const struct docs_file *f, const struct snap_entry *en, const char *path,
             const char *tag, const char *lock)
{
    int cloud, odoo;
    struct job *j;

    if (!pd_edits_of(en, f->checksum, &cloud, &odoo) || (!cloud && !odoo))
        return 0;
    if (odoo && !cloud) {
        if (!d->cloud_ok)
            return 0;
        j = pd_upload_job(d, f, path, tag, lock, "document edited in Odoo");
        if (!j)
            return ERR_NOMEM;
        j->expect.etag = dup_or_flag(d, en->etag);
        if (en->doc_retag) /* told by its file id: the applier finds it by that */
            j->fileid = dup_or_flag(d, en->fileid);
        return d->nomem ? ERR_NOMEM : 0;
    }
    if (cloud && !odoo) {
        if (!d->odoo_ok) {
            msg(d, "\"%s\" was edited in the cloud; this mapping is to-cloud: Odoo is not changed",
                path);
            return 0;
        }
        if (pd_too_big(d, en, "not copied to Odoo"))
            return 0;
        j = new_job(d, JOB_RELINK, lock, "document edited in the cloud");
        if (!j)
            return ERR_NOMEM;
        j->side = JOB_SIDE_ODOO;
        j->path = dup_or_flag(d, path);
        j->att_id = f->att_id;
        j->name = dup_or_flag(d, f->name);
        j->url = plan_url_for_path(d->in->cfg->cloud.url, path);
        j->doc = dup_or_flag(d, tag);
        j->expect.etag = dup_or_flag(d, en->etag);
        j->expect.checksum = dup_or_flag(d, f->checksum);
        if (en->doc_retag) /* told by its file id: the applier finds it by that */
            j->fileid = dup_or_flag(d, en->fileid);
        if (!j->url)
            d->nomem = 1;
        return d->nomem ? ERR_NOMEM : 0;
    }
    /* both: the cloud's version becomes a document of its own (and, on the next pass, a
     * file with a conflict suffix); Odoo's version comes back at the file's place */
    if (!d->odoo_ok || !d->cloud_ok || f->folder <= 0) {
        msg(d, "\"%s\" was edited in the cloud and in Odoo (document %ld): left as is (%s)", path,
            f->id, f->folder <= 0 ? "it has no Documents folder" : "the mapping syncs one way");
        return 0;
    }
    {
        char ref[64];
        char *name = pd_conflict_name(d, path);
        int rc;

        if (!name)
            return ERR_NOMEM;
        snprintf(ref, sizeof ref, "%s,%ld", d->folder_model, f->folder);
        msg(d,
            "conflict: \"%s\" was edited in the cloud and in Odoo (document %ld): both kept, the "
            "cloud's version as the new document \"%s\"",
            path, f->id, name);
        rc =
            pd_split(d, en, path, ref, tag, name, lock, "edited on both sides: cloud version kept");
        free(name);
        return rc;
    }
}

/*
 * Whether the document's file was deleted in the cloud: the previous pass listed it,
 * synced at the content Odoo still has (an edit in Odoo since wins: uploaded again), on a
 * mapping that changes Odoo.
 */
int pd_cloud_deleted(const struct pd *d, const struct docs_file *f, const char *tag)
{
    const struct plan_docs_prev *p;

    if (!d->odoo_ok || !d->in->prev || !d->in->nprev)
        return 0;
    p = bsearch(tag, d->in->prev, d->in->nprev, sizeof *p, cmp_prev);
    return p && p->synced && strlen(p->synced) > 40 && p->synced[40] == ' ' &&
           strncmp(p->synced, f->checksum, 40) == 0;
}

/*
 * A file renamed or moved in the cloud since the previous pass, while Odoo kept it where
 * the previous pass left it: the document follows (rename odoo with doc, name = the
 * cloud's name, record = the tag of the Documents folder the file is in now). 1 when
 * planned, 0 when Odoo's place wins (no previous pass, Odoo moved it too, a parent moved
 * this pass, or the file's folder is no synced Documents folder).
 */
/* The live Documents folder a file the cloud moved is in now, when Odoo follows that move
 * (pd_follow_file), else NULL. */
static const struct snap_entry *pd_file_moved_to(struct pd *d, const struct snap_entry *en,
                                                 const char *cur, const char *want, const char *tag)
{
    const struct plan_docs_prev *p;
    const struct snap_entry *parent;
    const char *slash = strrchr(en->path, '/');
    char *ppath;

    if (!d->odoo_ok || !d->in->prev || strcmp(cur, en->path) != 0 || !slash)
        return NULL;
    p = bsearch(tag, d->in->prev, d->in->nprev, sizeof *p, cmp_prev);
    if (!p || !p->path || strcmp(p->path, en->path) == 0 || strcmp(p->path, want) != 0)
        return NULL;
    ppath = fmt_or_flag(d, "%.*s", (int)(slash - en->path), en->path);
    parent = ppath ? find_path(d, ppath) : NULL;
    free(ppath);
    if (!parent || !parent->is_dir || !parent->doc_tag ||
        strncmp(parent->doc_tag, d->folder_model, strlen(d->folder_model)) != 0 ||
        !live_folder(d, parent->doc_tag))
        return NULL;
    return parent;
}

int pd_follow_file(struct pd *d, const struct docs_file *f, const struct snap_entry *en,
                   const char *cur, const char *want, const char *tag, const char *lock)
{
    const struct snap_entry *parent = pd_file_moved_to(d, en, cur, want, tag);
    const char *slash = strrchr(en->path, '/');
    struct job *j;

    if (!parent)
        return 0;
    j = new_job(d, JOB_RENAME, lock, "document renamed or moved in the cloud");
    if (!j)
        return ERR_NOMEM;
    j->side = JOB_SIDE_ODOO;
    j->att_id = f->att_id;
    j->path = dup_or_flag(d, en->path);
    j->name = dup_or_flag(d, slash + 1);
    j->record = dup_or_flag(d, parent->doc_tag);
    j->doc = dup_or_flag(d, tag);
    j->expect.write_date = dup_or_flag(d, f->write_date[0] ? f->write_date : NULL);
    if (!j->expect.write_date)
        d->nomem = 1;
    return d->nomem ? ERR_NOMEM : 1;
}

/*
 * A folder renamed or moved in the cloud since the previous pass (found elsewhere than
 * prev says, while Odoo's place for it is still that one) into a live Documents folder:
 * Odoo follows (rename odoo with doc, att_id 0). 1 when planned, 0 when Odoo's place wins.
 */
int pd_follow_folder(struct pd *d, const struct docs_folder *f, const struct snap_entry *en,
                     const char *want, const char *tag, const char *lock)
{
    const struct plan_docs_prev *p;
    const struct snap_entry *parent;
    const char *slash = strrchr(en->path, '/');
    char *ppath;
    struct job *j;

    if (!d->odoo_ok || !d->in->prev || !slash)
        return 0;
    p = bsearch(tag, d->in->prev, d->in->nprev, sizeof *p, cmp_prev);
    if (!p || !p->path || strcmp(p->path, en->path) == 0 || strcmp(p->path, want) != 0)
        return 0;
    ppath = fmt_or_flag(d, "%.*s", (int)(slash - en->path), en->path);
    parent = ppath ? find_path(d, ppath) : NULL;
    free(ppath);
    if (!parent || !parent->is_dir || !parent->doc_tag || !live_folder(d, parent->doc_tag) ||
        strcmp(parent->doc_tag, tag) == 0)
        return 0;
    j = new_job(d, JOB_RENAME, lock, "Documents folder renamed or moved in the cloud");
    if (!j)
        return ERR_NOMEM;
    j->side = JOB_SIDE_ODOO;
    j->att_id = 0;
    j->path = dup_or_flag(d, en->path);
    j->name = dup_or_flag(d, slash + 1);
    j->record = dup_or_flag(d, parent->doc_tag);
    j->doc = dup_or_flag(d, tag);
    j->expect.write_date = dup_or_flag(d, f->write_date[0] ? f->write_date : NULL);
    if (!j->expect.write_date)
        d->nomem = 1;
    return d->nomem ? ERR_NOMEM : 1;
}

/*
 * From the cloud: the untagged entries directly in the cloud folder path (which Odoo's
 * folder fid is, and which is where the snapshot saw it) become Documents folders and
 * documents in fid (a relink odoo job each, att_id 0, doc = the folder). A new cloud
 * folder's own content follows on the next pass, once it is tagged.
 */
int pd_new_from_cloud(struct pd *d, long fid, const char *path, const char *lock)
{
    const struct snap_entry *self = find_path(d, path);
    size_t n = strlen(path), lo = 0, hi = d->npaths;
    char ref[64], *prefix;

    if (!d->odoo_ok || !self || !self->is_dir)
        return 0;
    /* the first entry under "path/" (a sibling "path 2" or "path-old" sorts between path
     * and "path/...": entries under path are those with the prefix "path/") */
    prefix = fmt_or_flag(d, "%s/", path);
    if (!prefix)
        return ERR_NOMEM;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(d->paths[mid]->path, prefix) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    free(prefix);
    snprintf(ref, sizeof ref, "%s,%ld", d->folder_model, fid);
    for (; lo < d->npaths; lo++) {
        const struct snap_entry *en = d->paths[lo];
        const char *rest = en->path + n;
        struct job *j;

        if (strncmp(en->path, path, n) != 0 || *rest != '/')
            break;
        rest++;
        if (strchr(rest, '/') || (tagged(en) && !is_copy(d, en)) || names_is_transient(rest) ||
            names_set_has(&d->claimed, en->path))
            continue;
        if (fid == 0) {
            if (!d->root_note)
                msg(d,
                    "\"%s\": new cloud entries directly in the base of a \"*\" mapping are "
                    "not created in Odoo (put them in a folder)",
                    en->path);
            d->root_note = 1;
            continue;
        }
        if (pd_too_big(d, en, "not created in Odoo"))
            continue;
        j = new_job(d, JOB_RELINK, lock,
                    en->is_dir ? "new cloud folder (Documents)" : "new cloud file (Documents)");
        if (!j)
            return ERR_NOMEM;
        j->side = JOB_SIDE_ODOO;
        j->att_id = 0;
        j->path = dup_or_flag(d, en->path);
        j->name = dup_or_flag(d, rest);
        j->url = plan_url_for_path(d->in->cfg->cloud.url, en->path);
        if (!j->url)
            d->nomem = 1;
        j->doc = dup_or_flag(d, ref);
        /* a tag its file id disowned (docs_ident.h), or a copy's (the tag it took along):
         * the one the applier replaces by its own record's */
        j->record = dup_or_flag(d, en->stale_doc    ? en->stale_doc
                                   : is_copy(d, en) ? en->doc_tag
                                                    : NULL);
        j->fileid = dup_or_flag(d, en->fileid);
        d->managed++;
    }
    return d->nomem ? ERR_NOMEM : 0;
}

/*
 * A file whose document is gone from Odoo but which was edited in the cloud since its last
 * sync: the edit wins, the file becomes a document of its own in its folder (when that
 * folder stays). 1 when it is kept (and planned so), 0 when it may be deleted.
 */
/* A file whose document is gone, kept as a document of its own in its folder when that
 * folder stays (why: the message's end). Always 1. */
static int keep_as_new(struct pd *d, const struct snap_entry *en, const char *why,
                       const char *reason)
{
    const char *slash = strrchr(en->path, '/');
    const struct snap_entry *parent;
    char *ppath;

    ppath = fmt_or_flag(d, "%.*s", (int)(slash - en->path), en->path);
    parent = ppath ? find_path(d, ppath) : NULL;
    free(ppath);
    if (!parent || !parent->doc_tag || !kept(d, parent->doc_tag) || !d->nbases) {
        msg(d, "\"%s\": its document is gone from Odoo but %s: kept", en->path, why);
        return 1;
    }
    msg(d, "\"%s\": its document is gone from Odoo but %s: it becomes a new document", en->path,
        why);
    for (size_t b = 0; b < d->nbases; b++)
        if (under(en->path, d->bases[b])) {
            char *cur = eff_path(d, en->path); /* after its folder's moves */

            if (cur)
                pd_split(d, en, cur, parent->doc_tag, en->doc_tag, slash + 1, d->bases[b], reason);
            free(cur);
            break;
        }
    return 1;
}

/*
 * A file whose document is gone from Odoo but which was edited in the cloud since its last
 * sync: the edit wins, the file becomes a document of its own in its folder (when that
 * folder stays). 1 when it is kept (and planned so), 0 when it may be deleted.
 */
int pd_edited_gone(struct pd *d, const struct snap_entry *en)
{
    int cloud, odoo;

    if (en->is_dir || !pd_edits_of(en, NULL, &cloud, &odoo) || !cloud)
        return 0;
    return keep_as_new(d, en, "it was edited in the cloud",
                       "edited in the cloud, deleted in Odoo: the edit wins");
}

/*
 * On a server with file ids (docs_ident.h), a file whose document is gone is deleted only
 * when the previous pass saw its tag on that very file id: a tag the server left at a path
 * for a later file, or one no pass saw there, proves nothing. Such a file is kept, as a
 * document of its own. 1 when kept, 0 when it may be deleted.
 */
int pd_unproven_gone(struct pd *d, const struct snap_entry *en)
{
    const struct plan_docs_prev *p;

    if (en->is_dir || !d->fileids)
        return 0;
    p = d->in->prev ? bsearch(en->doc_tag, d->in->prev, d->in->nprev, sizeof *p, cmp_prev) : NULL;
    if (p && p->fileid && en->fileid && strcmp(p->fileid, en->fileid) == 0)
        return 0;
    return keep_as_new(d, en, "no pass saw it linked to this file (a tag left behind?)",
                       "a tag its file id does not prove: kept as a new document");
}

/*
 * A file at its place told by its file id (doc_retag: its tag did not follow a move), and
 * edited on neither side (path: where it is once the moves planned before it are applied):
 * an upload, create-only, which finds the file there with the
 * document's bytes and tags it (and marks it synced) again. 1 when planned, 0 when not
 * (an edit: handled as any edit, by the file id).
 */
int pd_retag_file(struct pd *d, const struct docs_file *f, const struct snap_entry *en,
                  const char *path, const char *tag, const char *lock)
{
    int cloud, odoo;
    struct job *j;

    if (!en->doc_retag || !d->cloud_ok || !is_sha1(f->checksum) ||
        !pd_edits_of(en, f->checksum, &cloud, &odoo) || cloud || odoo)
        return 0;
    j = pd_upload_job(d, f, path, tag, lock, "document told by its file id: tagged");
    if (!j)
        return ERR_NOMEM;
    j->fileid = dup_or_flag(d, en->fileid);
    return d->nomem ? ERR_NOMEM : 1;
}

static const struct plan_docs_prev *prev_of(const struct pd *d, const char *tag)
{
    if (!d->in->prev || !d->in->nprev)
        return NULL;
    return bsearch(tag, d->in->prev, d->in->nprev, sizeof *d->in->prev, cmp_prev);
}

/*
 * Where the planner puts child id (a sub-folder, or a file when is_file) of folder fid,
 * which is at path: the same safe, unique names as place_children() (sub-folders first,
 * then files, each in snapshot order). malloc'd, NULL when out of memory.
 */
static char *pd_child_path(struct pd *d, long fid, const char *path, int is_file, long id)
{
    const struct docs_snapshot *ds = d->in->ds;
    struct names_set ns;
    char *out = NULL;

    names_set_init(&ns);
    for (size_t i = 0; !out && i < ds->nfolders + ds->nfiles; i++) {
        int file = i >= ds->nfolders;
        const char *cname;
        long cid;
        char *safe, *name;

        if (file) {
            const struct docs_file *fi = &ds->files[i - ds->nfolders];
            if (!fi->active || fi->folder != fid || fi->kind != DOCS_FILE)
                continue;
            cname = fi->name;
            cid = fi->id;
        } else {
            const struct docs_folder *fo = &ds->folders[i];
            if (!fo->active || fo->parent != fid || fo->id == fid)
                continue;
            cname = fo->name;
            cid = fo->id;
        }
        safe = names_sanitize(cname);
        name = safe ? names_set_unique(&ns, safe, file) : NULL;
        free(safe);
        if (!name) {
            d->nomem = 1;
            break;
        }
        if (file == is_file && cid == id)
            out = fmt_or_flag(d, "%s/%s", path, name);
        free(name);
    }
    names_set_release(&ns);
    return out;
}

/* A file of a folder the cloud deleted, found elsewhere in the cloud: whether Odoo follows
 * its move (the cloud moved it out before deleting the folder). */
static int pd_moved_out(struct pd *d, const struct docs_file *f, const struct snap_entry *en,
                        long fid, const char *path, const char *tag)
{
    char *want = pd_child_path(d, fid, path, 1, f->id);
    char *cur = eff_path(d, en->path);
    int out = want && cur && pd_file_moved_to(d, en, cur, want, tag) != NULL;

    free(want);
    free(cur);
    return out;
}

/*
 * Whether folder fid (at path, where Odoo's tree puts it) and everything active in it is
 * gone from the cloud as the previous pass left it: the folder and its sub-folders found
 * nowhere in the cloud and listed by the previous pass, each of its documents with a file
 * found nowhere and deleted in the cloud at the content Odoo still has (pd_cloud_deleted),
 * or moved out by the cloud into a live Documents folder (Odoo follows it). A document
 * edited or added in Odoo since, or a sub-folder found elsewhere, makes it 0.
 */
static int pd_subtree_gone(struct pd *d, long fid, const char *path)
{
    const struct docs_snapshot *ds = d->in->ds;
    char tag[64];

    snprintf(tag, sizeof tag, "%s,%ld", d->folder_model, fid);
    if (find_tag(d, tag, 1) || !prev_of(d, tag))
        return 0;
    for (size_t i = 0; i < ds->nfiles; i++) {
        const struct docs_file *f = &ds->files[i];
        const struct snap_entry *en;

        if (!f->active || f->folder != fid || f->kind != DOCS_FILE)
            continue;
        snprintf(tag, sizeof tag, DOC_MODEL ",%ld", f->id);
        en = find_tag(d, tag, 0);
        if (en ? !pd_moved_out(d, f, en, fid, path, tag) : !pd_cloud_deleted(d, f, tag))
            return 0;
    }
    for (size_t i = 0; i < ds->nfolders; i++) {
        const struct docs_folder *f = &ds->folders[i];
        char *sub;
        int gone;

        if (!f->active || f->parent != fid || f->id == fid)
            continue;
        sub = pd_child_path(d, fid, path, 0, f->id);
        gone = sub && pd_subtree_gone(d, f->id, sub);
        free(sub);
        if (!gone)
            return 0;
    }
    return 1;
}

/* Archive jobs (delete odoo with doc) for folder's documents, then its sub-folders (each
 * after what it holds), then the folder itself (only while it holds nothing active:
 * JOB_SHA1_EMPTY). A file the cloud moved out first follows its move instead. Every job
 * takes the mapping's lock, so they apply in this order. */
static int pd_archive_subtree(struct pd *d, const struct docs_folder *folder, const char *path,
                              const char *lock)
{
    const struct docs_snapshot *ds = d->in->ds;
    const struct plan_docs_prev *p;
    char tag[64];
    struct job *j;

    for (size_t i = 0; i < ds->nfiles; i++) {
        const struct docs_file *f = &ds->files[i];
        const struct snap_entry *en;

        if (!f->active || f->folder != folder->id)
            continue;
        snprintf(tag, sizeof tag, DOC_MODEL ",%ld", f->id);
        en = f->kind == DOCS_FILE ? find_tag(d, tag, 0) : NULL;
        if (en) { /* moved out by the cloud (pd_subtree_gone): Odoo follows */
            char *want = pd_child_path(d, folder->id, path, 1, f->id);
            char *cur = eff_path(d, en->path);
            int rc = want && cur ? pd_follow_file(d, f, en, cur, want, tag, lock) : ERR_NOMEM;

            free(want);
            free(cur);
            if (rc < 0 || pd_keep(d, tag) < 0 || claim(d, en->path) < 0)
                return ERR_NOMEM;
            d->managed++;
            continue;
        }
        j = new_job(d, JOB_DELETE, lock, "document in a folder deleted in the cloud");
        if (!j)
            return ERR_NOMEM;
        j->side = JOB_SIDE_ODOO;
        j->att_id = f->att_id;
        j->name = dup_or_flag(d, f->name);
        j->doc = dup_or_flag(d, tag);
        p = prev_of(d, tag);
        j->path = dup_or_flag(d, p ? p->path : NULL);
        /* a file: only while Odoo's content is still the one the cloud deleted; url
         * documents and requests (never in the cloud) go with their folder */
        j->expect.checksum = dup_or_flag(d, f->kind == DOCS_FILE ? f->checksum : NULL);
        d->odoo_deletes++;
    }
    for (size_t i = 0; i < ds->nfolders; i++) {
        const struct docs_folder *f = &ds->folders[i];
        char *sub;
        int rc;

        if (!f->active || f->parent != folder->id || f->id == folder->id)
            continue;
        sub = pd_child_path(d, folder->id, path, 0, f->id);
        rc = sub ? pd_archive_subtree(d, f, sub, lock) : ERR_NOMEM;
        free(sub);
        if (rc < 0)
            return ERR_NOMEM;
    }
    snprintf(tag, sizeof tag, "%s,%ld", d->folder_model, folder->id);
    j = new_job(d, JOB_DELETE, lock, "Documents folder deleted in the cloud");
    if (!j)
        return ERR_NOMEM;
    j->side = JOB_SIDE_ODOO;
    j->name = dup_or_flag(d, folder->name);
    j->doc = dup_or_flag(d, tag);
    p = prev_of(d, tag);
    j->path = dup_or_flag(d, p ? p->path : NULL);
    j->expect.checksum = dup_or_flag(d, JOB_SHA1_EMPTY);
    d->odoo_deletes++;
    return d->nomem ? ERR_NOMEM : 0;
}

/*
 * A Documents folder (not a mapping's own) at want in Odoo's tree, whose tagged cloud
 * folder the previous pass saw and which is now gone from the cloud, on a mapping that
 * changes Odoo, with both scans complete: the users deleted it, so Odoo archives it with
 * its sub-folders and documents (Odoo's trash: they can come back); a file the cloud moved
 * out of it first into another synced folder follows that move. Nothing of Odoo's is lost:
 * when anything under it changed in Odoo since (a document edited or added, a folder
 * added), or a sub-folder was moved elsewhere in the cloud, it is not archived: it is made
 * again in the cloud (0), and then what the cloud deleted in it is archived piece by piece
 * (files by pd_cloud_deleted, sub-folders by this rule). 1 when archived.
 */
int pd_folder_deleted(struct pd *d, const struct docs_folder *f, const char *want, const char *lock)
{
    if (!d->odoo_ok || !d->in->ds_complete || !d->in->cs->complete ||
        !pd_subtree_gone(d, f->id, want))
        return d->nomem ? ERR_NOMEM : 0;
    msg(d,
        "Documents folder %s,%ld (\"%s\") was deleted in the cloud: archived in Odoo with what "
        "it holds",
        d->folder_model, f->id, f->name);
    return pd_archive_subtree(d, f, want, lock) < 0 ? ERR_NOMEM : 1;
}
