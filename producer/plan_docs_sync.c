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
 * the cloud whose document Odoo deleted: the edit wins).
 */
static int pd_split(struct pd *d, const struct snap_entry *en, const char *folder_ref,
                    const char *old_tag, const char *name, const char *lock, const char *reason)
{
    struct job *j;

    if (pd_too_big(d, en, "not created in Odoo"))
        return 0;
    j = new_job(d, JOB_RELINK, lock, reason);
    if (!j)
        return ERR_NOMEM;
    j->side = JOB_SIDE_ODOO;
    j->path = dup_or_flag(d, en->path);
    j->url = plan_url_for_path(d->in->cfg->cloud.url, en->path);
    if (!j->url)
        d->nomem = 1;
    j->name = dup_or_flag(d, name);
    j->doc = dup_or_flag(d, folder_ref);
    j->record = dup_or_flag(d, old_tag);
    return d->nomem ? ERR_NOMEM : 0;
}

/* A synced file at its place: copy an edit to the other side; both edited: keep both. */
int pd_edits(struct pd *d, const struct docs_file *f, const struct snap_entry *en, const char *tag,
             const char *lock)
{
    int cloud, odoo;
    struct job *j;

    if (!pd_edits_of(en, f->checksum, &cloud, &odoo) || (!cloud && !odoo))
        return 0;
    if (odoo && !cloud) {
        if (!d->cloud_ok)
            return 0;
        j = new_job(d, JOB_UPLOAD, lock, "document edited in Odoo");
        if (!j)
            return ERR_NOMEM;
        j->path = dup_or_flag(d, en->path);
        j->att_id = f->att_id;
        j->size = f->size;
        j->name = dup_or_flag(d, f->name);
        j->url = plan_url_for_path(d->in->cfg->cloud.url, en->path);
        j->doc = dup_or_flag(d, tag);
        j->expect.etag = dup_or_flag(d, en->etag);
        j->expect.checksum = dup_or_flag(d, f->checksum);
        if (en->doc_retag) /* told by its file id: the applier finds it by that */
            j->fileid = dup_or_flag(d, en->fileid);
        if (!j->url)
            d->nomem = 1;
        return d->nomem ? ERR_NOMEM : 0;
    }
    if (cloud && !odoo) {
        if (!d->odoo_ok) {
            msg(d, "\"%s\" was edited in the cloud; this mapping is to-cloud: Odoo is not changed",
                en->path);
            return 0;
        }
        if (pd_too_big(d, en, "not copied to Odoo"))
            return 0;
        j = new_job(d, JOB_RELINK, lock, "document edited in the cloud");
        if (!j)
            return ERR_NOMEM;
        j->side = JOB_SIDE_ODOO;
        j->path = dup_or_flag(d, en->path);
        j->att_id = f->att_id;
        j->name = dup_or_flag(d, f->name);
        j->url = plan_url_for_path(d->in->cfg->cloud.url, en->path);
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
        msg(d, "\"%s\" was edited in the cloud and in Odoo (document %ld): left as is (%s)",
            en->path, f->id,
            f->folder <= 0 ? "it has no Documents folder" : "the mapping syncs one way");
        return 0;
    }
    {
        char ref[64];
        char *name = pd_conflict_name(d, en->path);
        int rc;

        if (!name)
            return ERR_NOMEM;
        snprintf(ref, sizeof ref, "%s,%ld", d->folder_model, f->folder);
        msg(d,
            "conflict: \"%s\" was edited in the cloud and in Odoo (document %ld): both kept, the "
            "cloud's version as the new document \"%s\"",
            en->path, f->id, name);
        rc = pd_split(d, en, ref, tag, name, lock, "edited on both sides: cloud version kept");
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
int pd_follow_file(struct pd *d, const struct docs_file *f, const struct snap_entry *en,
                   const char *cur, const char *want, const char *tag, const char *lock)
{
    const struct plan_docs_prev *p;
    const struct snap_entry *parent;
    const char *slash = strrchr(en->path, '/');
    char *ppath;
    struct job *j;

    if (!d->odoo_ok || !d->in->prev || strcmp(cur, en->path) != 0 || !slash)
        return 0;
    p = bsearch(tag, d->in->prev, d->in->nprev, sizeof *p, cmp_prev);
    if (!p || !p->path || strcmp(p->path, en->path) == 0 || strcmp(p->path, want) != 0)
        return 0;
    ppath = fmt_or_flag(d, "%.*s", (int)(slash - en->path), en->path);
    parent = ppath ? find_path(d, ppath) : NULL;
    free(ppath);
    if (!parent || !parent->is_dir || !parent->doc_tag ||
        strncmp(parent->doc_tag, d->folder_model, strlen(d->folder_model)) != 0 ||
        !live_folder(d, parent->doc_tag))
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
    char ref[64];

    if (!d->odoo_ok || !self || !self->is_dir)
        return 0;
    while (lo < hi) { /* the first entry after path itself */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(d->paths[mid]->path, path) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    snprintf(ref, sizeof ref, "%s,%ld", d->folder_model, fid);
    for (; lo < d->npaths; lo++) {
        const struct snap_entry *en = d->paths[lo];
        const char *rest = en->path + n;
        struct job *j;

        if (strncmp(en->path, path, n) != 0 || *rest != '/')
            break;
        rest++;
        if (strchr(rest, '/') || tagged(en) || names_is_transient(rest) ||
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
        /* a tag its file id disowned (docs_ident.h): the one the applier replaces */
        j->record = dup_or_flag(d, en->stale_doc);
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
            pd_split(d, en, parent->doc_tag, en->doc_tag, slash + 1, d->bases[b], reason);
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
 * edited on neither side: an upload, create-only, which finds the file there with the
 * document's bytes and tags it (and marks it synced) again. 1 when planned, 0 when not
 * (an edit: handled as any edit, by the file id).
 */
int pd_retag_file(struct pd *d, const struct docs_file *f, const struct snap_entry *en,
                  const char *tag, const char *lock)
{
    int cloud, odoo;
    struct job *j;

    if (!en->doc_retag || !d->cloud_ok || !is_sha1(f->checksum) ||
        !pd_edits_of(en, f->checksum, &cloud, &odoo) || cloud || odoo)
        return 0;
    j = new_job(d, JOB_UPLOAD, lock, "document told by its file id: tagged");
    if (!j)
        return ERR_NOMEM;
    j->path = dup_or_flag(d, en->path);
    j->att_id = f->att_id;
    j->size = f->size;
    j->name = dup_or_flag(d, f->name);
    j->url = plan_url_for_path(d->in->cfg->cloud.url, en->path);
    if (!j->url)
        d->nomem = 1;
    j->doc = dup_or_flag(d, tag);
    j->fileid = dup_or_flag(d, en->fileid);
    j->expect.checksum = dup_or_flag(d, f->checksum);
    return d->nomem ? ERR_NOMEM : 1;
}
