/*
 * apply_upload: the upload applier, an Odoo attachment's content into the
 * cloud (see apply.h).
 *
 * A small content (APPLY_SMALL_CONTENT) comes with the attachment's record,
 * read together with those of the other jobs running (apply_batch.c); a larger
 * one is downloaded, streamed (odoo_download).
 * The content goes Odoo -> WebDAV through a spool: the sha1 is checked before a
 * byte is sent to the cloud, and a retried PUT can start again from the beginning.
 * A small content is already in memory (base64 in the record), and its spool is a
 * buffer; a downloaded one streams through a temporary file (unlinked at once, so
 * nothing is left behind): memory stays flat whatever the size. (A file per upload
 * cost a quarter of the worker's CPU on 4 KiB files: an inode made and freed in
 * TMPDIR each time.) The PUT is create-only; a target that
 * exists is judged by upload_occupied() (ours from an earlier attempt, an
 * untagged copy of exactly this content left by an attempt killed between its
 * PUT and its url conversion, which is adopted, or someone else's); small new files of
 * uploads running at the same time go to Nextcloud in one bulk request instead
 * (apply_bulk.c), after a listing of their folder saw their names free. An attachment's
 * file gets the attachment's write_date as its modification time, and its tag only
 * where the url will not name it: a web link names the file by its id, which is then
 * the file's identity (docs/design.md section 4.2), and the PROPPATCH of a tag costs
 * Nextcloud as much as the PUT. The attachment becomes a `url` one only after the
 * cloud confirmed the upload (in one Odoo call with the conversions of the other jobs
 * running, apply_batch.c). A document of Odoo's Documents app (doc) keeps its content in
 * Odoo; its new content replaces exactly the version planned from (If-Match), and
 * an upload whose file (a replacement) or folder is gone since planned is skipped:
 * neither is made again here.
 */
#include "apply.h"
#include "apply_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha.h"

#include "banned.h"

/* f: a temporary file, or NULL: then the content is in mem, read from pos */
struct spool {
    FILE *f;
    long long written;
    struct buf mem;
    size_t pos;
};

static int spool_write(const char *p, size_t n, void *ud)
{
    struct spool *s = ud;

    if (!s->f) {
        if (buf_append(&s->mem, p, n) < 0)
            return ERR_IO;
    } else if (fwrite(p, 1, n, s->f) != n) {
        return ERR_IO;
    }
    s->written += (long long)n;
    return 0;
}

static size_t spool_read(char *buf, size_t n, void *ud)
{
    struct spool *s = ud;
    size_t got;

    if (!s->f) {
        got = s->mem.len - s->pos < n ? s->mem.len - s->pos : n;
        if (got)
            memcpy(buf, s->mem.data + s->pos, got);
        s->pos += got;
        return got;
    }
    got = fread(buf, 1, n, s->f);
    if (got == 0 && ferror(s->f))
        return DAV_READ_ABORT;
    return got;
}

static int spool_rewind(void *ud)
{
    struct spool *s = ud;

    if (!s->f) {
        s->pos = 0;
        return 0;
    }
    return fseek(s->f, 0, SEEK_SET) == 0 ? 0 : ERR_IO;
}

static FILE *spool_open(const char *dir, struct err *e)
{
    char tmpl[4096];
    FILE *f;
    int fd;

    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(tmpl, sizeof(tmpl), "%s/odoosync-upload-XXXXXX", dir);
    fd = mkstemp(tmpl);
    if (fd < 0) {
        err_set(e, ERR_IO, "cannot create a spool file in \"%s\": %s", dir, strerror(errno));
        return NULL;
    }
    unlink(tmpl); /* nothing left behind, whatever happens next */
    f = fdopen(fd, "w+b");
    if (!f) {
        close(fd);
        err_set(e, ERR_IO, "fdopen: %s", strerror(errno));
    }
    return f;
}

struct hash_sink {
    struct sha1_ctx ctx;
    long long n, cap;
};

static size_t hash_write(const char *p, size_t n, void *ud)
{
    struct hash_sink *h = ud;
    struct err e = ERR_INIT;

    h->n += (long long)n;
    if (h->n > h->cap || sha1_update(&h->ctx, p, n, &e) < 0)
        return 0; /* larger than the attachment, or no digest: not ours */
    return n;
}

/* 1 when the cloud file at path has exactly size bytes and this sha1; 0 when not. */
static int cloud_content_is(struct apply_conn *c, const char *path, long long size,
                            const char *sha1, struct err *e)
{
    struct hash_sink h;
    char hex[SHA1_HEX_SIZE];
    int rc;

    memset(&h, 0, sizeof(h));
    h.cap = size;
    rc = sha1_init(&h.ctx, e);
    if (rc < 0)
        return rc;
    rc = dav_get(c->dav, path, hash_write, &h, NULL, e);
    if (rc == ERR_IO && h.n > h.cap) {
        err_clear(e);
        sha1_release(&h.ctx);
        return 0;
    }
    if (rc < 0) {
        sha1_release(&h.ctx);
        return rc;
    }
    rc = sha1_final(&h.ctx, hex, e);
    if (rc < 0)
        return rc;
    return h.n == size && strcmp(hex, sha1) == 0;
}

/* 1 when the cloud file st (at path) holds size bytes with this sha1 (a size that differs
 * says no without reading it); 0 when not. */
static int target_holds(struct apply_conn *c, const char *path, const struct dav_stat *st,
                        long long size, const char *sha1, struct err *e)
{
    if (st->size >= 0 && st->size != size)
        return 0;
    return cloud_content_is(c, path, size, sha1, e);
}

/*
 * The upload's target exists (st, from a re-read). Whose file is it?
 *   - tagged with this attachment: an earlier attempt (or a worker that took
 *     over our expired lock) uploaded it: done, go on (0, ALREADY_DONE), when it
 *     holds the attachment's content; an older content (an earlier upload whose
 *     conversion failed, the attachment edited in Odoo since): ERR_CONFLICT, both kept;
 *   - untagged, with exactly the attachment's size and sha1: an attempt killed
 *     between its PUT and its PROPPATCH: adopt it, tag it, go on (0);
 *   - tagged with another attachment, and our create-only PUT was refused
 *     (`raced`: it appeared after our re-read, or a small content went straight
 *     to the PUT): a newer writer gave the place to another file, or the next
 *     pass plans another name: superseded (1, SKIPPED), nothing is written;
 *   - anything else (a folder, a stranger's file, another attachment's file
 *     that was there before us and may be on its way out): ERR_CONFLICT, retried.
 */
/*
 * Odoo's Documents app: {urn:odoosync}synced = "<sha1> <etag>", the content both sides
 * have now and the cloud file's ETag with it, so the next pass tells an edit in Odoo
 * (another sha1) from one in the cloud (another ETag). etag: the version whose bytes were
 * copied (read before the copy: an edit saved since must stay an edit); NULL: read back
 * now (right after our own PUT; PROPPATCH changes no ETag).
 */
int apply_mark_synced(struct apply_conn *c, const char *path, const char *sha1, const char *etag,
                      struct err *e)
{
    struct dav_stat st;
    char val[512];
    int rc = 0;

    memset(&st, 0, sizeof(st));
    if (!etag) {
        rc = dav_stat(c->dav, path, &st, e);
        etag = st.etag;
    }
    if (rc == 0 && etag && sha1) {
        snprintf(val, sizeof(val), "%s %s", sha1, etag[0] == 'W' ? etag + 2 : etag);
        rc = apply_tag(c->dav, path, "synced", val, e);
    }
    dav_stat_release(&st);
    return rc;
}

/* The tag an upload sets: the attachment's, or the Documents app's document. */
static const char *upload_tag(const struct job *j)
{
    return j->doc ? "document" : "attachment";
}

static int upload_occupied(struct applier *a, struct apply_conn *c, const struct job *j,
                           const cJSON *att, const struct dav_stat *st, const char *idbuf,
                           int raced, enum job_result *res, struct err *e)
{
    const cJSON *fsize = cJSON_GetObjectItemCaseSensitive(att, "file_size");
    const char *sum = j->expect.checksum ? j->expect.checksum : apply_att_checksum(att);
    long long size = cJSON_IsNumber(fsize) ? (long long)fsize->valuedouble : j->size;
    int rc;

    const char *mine = j->doc ? st->document_tag : st->attachment_tag;

    if (!st->is_dir && apply_streq(mine, idbuf)) {
        /* its earlier upload, whose url conversion failed: done only if it holds what Odoo
         * holds now (an edit in Odoo since would be lost by the conversion) */
        rc = !sum || size < 0 ? 1 : target_holds(c, j->path, st, size, sum, e);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return err_set(e, ERR_CONFLICT,
                           "\"%s\" holds an older upload of %s %ld (edited in Odoo since): "
                           "kept, and so is Odoo's content",
                           j->path, upload_tag(j), j->att_id);
        *res = JOB_ALREADY_DONE;
        return 0;
    }
    if (!st->is_dir && mine && *mine && raced) {
        *res = JOB_SKIPPED;
        log_job(a->o.log, LOG_INFO, j->id, j->lock, "superseded: \"%s\" became %s%s's file",
                j->path, j->doc ? "" : "attachment ", mine);
        return 1;
    }
    if (!st->is_dir && (!mine || !*mine) && sum && size >= 0) {
        rc = target_holds(c, j->path, st, size, sum, e);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            rc = apply_tag(c->dav, j->path, upload_tag(j), idbuf, e);
            return rc < 0 ? rc : 0;
        }
    }
    return err_set(e, ERR_CONFLICT, "\"%s\" exists and is not attachment %ld's file", j->path,
                   j->att_id);
}

/* Whether url is a web link (link.h) of the cloud a's handles talk to. */
static int is_web_link(const struct applier *a, const char *url)
{
    char id[LINK_FILEID_MAX], *path = NULL;
    int k = url ? link_parse_web(a->o.dav->url, url, id, &path) : LINK_NOT_WEB;

    free(path);
    return k == LINK_WEB_ID;
}

/*
 * A small new file (its content came with its record, nothing was looked at yet) in one
 * Nextcloud bulk request with the other uploads running (apply_bulk.c): the answer of its
 * create-only PUT, or APPLY_BULK_ALONE when the caller makes that PUT itself (also when
 * the content cannot be held in memory: the PUT streams it).
 */
static int upload_shared(struct apply_conn *c, const struct job *j, struct spool *sp,
                         const char *sha, long long mtime, struct dav_result *r, struct err *e)
{
    char *data;
    int rc;

    if (!apply_bulk_usable(c, sp->written))
        return APPLY_BULK_ALONE; /* (no bulk endpoint: nothing read into memory) */
    if (!sp->f)
        return apply_bulk_put(c, j->path, sp->mem.len ? sp->mem.data : "", sp->mem.len, sha, mtime,
                              r, e);
    data = malloc(sp->written ? (size_t)sp->written : 1);
    if (!data)
        return APPLY_BULK_ALONE;
    if (fread(data, 1, (size_t)sp->written, sp->f) != (size_t)sp->written) {
        free(data);
        return spool_rewind(sp) == 0 ? APPLY_BULK_ALONE
                                     : err_set(e, ERR_IO, "spool file: cannot rewind");
    }
    rc = apply_bulk_put(c, j->path, data, (size_t)sp->written, sha, mtime, r, e);
    free(data);
    if (spool_rewind(sp) != 0)
        return err_set(e, ERR_IO, "spool file: cannot rewind");
    return rc;
}

/*
 * The url the uploaded file's attachment gets: its web link when cloud.link_form
 * asks for one and the server gave the file an id (the PUT's OC-FileId, or the
 * oc:fileid of the file found there), else the job's url. *web: a malloc'd web
 * link to free, or NULL.
 */
static const char *upload_url(const struct applier *a, struct apply_conn *c, const struct job *j,
                              const char *fileid, char **web)
{
    *web = NULL;
    if (!link_fileid_norm(fileid, c->fileid))
        return j->url;
    if (a->o.link_web) {
        char *root = link_server_root(a->o.dav->url);

        *web = root ? link_web(root, c->fileid) : NULL;
        free(root);
    }
    return *web ? *web : j->url;
}

int apply_upload(struct applier *a, struct apply_conn *c, const struct job *j, enum job_result *res,
                 struct err *e)
{
    struct dav_stat st;
    struct dav_put_req req;
    struct dav_result r;
    struct spool sp = {NULL, 0, {NULL, 0, 0, 0}, 0};
    cJSON *att = NULL;
    char idbuf[64];
    /* sha: the content's sha1 as downloaded (set before any PUT) */
    char sha[SHA1_HEX_SIZE];
    char *web = NULL;
    const char *type;
    const char *replace = NULL; /* Documents: the ETag of the version replaced */
    int technical, looked;
    int rc;

    memset(&st, 0, sizeof(st));
    memset(&r, 0, sizeof(r));
    if (!j->doc && (!j->url || !*j->url)) {
        rc = err_set(e, ERR_INVALID, "upload job without the url the attachment will hold");
        goto out;
    }
    /* the tag: the attachment id, or for Odoo's Documents app the document */
    snprintf(idbuf, sizeof(idbuf), "%s", j->doc ? j->doc : "");
    if (!j->doc)
        snprintf(idbuf, sizeof(idbuf), "%ld", j->att_id);
    /* Re-read the attachment under the lock: gone, changed or already done? */
    rc = apply_att_read_doc(c, j->att_id, j->size >= 0 && j->size <= APPLY_SMALL_CONTENT, &att,
                            &technical, e);
    if (rc < 0)
        goto out;
    if (!att) {
        /* deleted in Odoo meanwhile (the next pass cleans up), or not a document */
        *res = JOB_SKIPPED;
        goto out;
    }
    type = apply_jstr(att, "type");
    if (apply_streq(type, "url") && j->doc) {
        *res = JOB_SKIPPED; /* no content to copy any more */
        goto out;
    }
    if (apply_streq(type, "url")) {
        const char *u = apply_jstr(att, "url");

        *res = apply_streq(u, j->url) || (a->o.link_web && is_web_link(a, u)) ? JOB_ALREADY_DONE
                                                                              : JOB_SKIPPED;
        goto out;
    }
    if (j->expect.checksum && !apply_streq(apply_att_checksum(att), j->expect.checksum)) {
        *res = JOB_SKIPPED; /* content changed since planned: the next pass re-plans */
        goto out;
    }

    /* A content that came with the record goes straight to the create-only PUT, which is
     * the existence check (412: looked at then): one request fewer per file. A larger one
     * (downloaded) or a Documents file is looked at first, so nothing is downloaded for a
     * target that is there already. */
    looked = j->doc || !cJSON_GetObjectItemCaseSensitive(att, "datas");
    rc = looked ? dav_stat(c->dav, j->path, &st, e) : ERR_NOTFOUND;
    if (rc == ERR_NOTFOUND && looked && j->doc && j->expect.etag) {
        /* Documents: the version to replace is gone since planned (moved with its folder,
         * deleted): never made again here, the next pass decides */
        err_clear(e);
        rc = 0;
        *res = JOB_SKIPPED;
        goto out;
    }
    if (rc == 0 && j->doc && j->expect.etag) {
        /* Odoo's Documents app, content edited in Odoo: replace exactly the version the
         * plan saw (If-Match), never another one */
        if (st.is_dir || !apply_is_doc(&st, j) || !st.etag ||
            strcmp(st.etag[0] == 'W' ? st.etag + 2 : st.etag,
                   j->expect.etag[0] == 'W' ? j->expect.etag + 2 : j->expect.etag) != 0) {
            /* changed in the cloud since planned: the next pass decides; unless it holds
             * exactly the document's content (this job's earlier attempt wrote it, then
             * was killed before the mark): marked, done */
            *res = JOB_SKIPPED;
            if (!st.is_dir && apply_streq(st.document_tag, j->doc) && j->expect.checksum &&
                j->size >= 0 && (st.size < 0 || st.size == j->size)) {
                rc = cloud_content_is(c, j->path, j->size, j->expect.checksum, e);
                if (rc == 1) {
                    *res = JOB_ALREADY_DONE;
                    rc = apply_mark_synced(c, j->path, j->expect.checksum, st.etag, e);
                }
            }
            goto out;
        }
        if (st.etag[0] == 'W') {
            rc = err_set(e, ERR_RETRY, "\"%s\" changed within the last second: retried", j->path);
            goto out;
        }
        replace = st.etag;
    }
    if (rc == 0 && !replace) {
        rc = upload_occupied(a, c, j, att, &st, idbuf, 0, res, e);
        if (rc == 0 && j->doc)
            rc = apply_mark_synced(
                c, j->path, j->expect.checksum ? j->expect.checksum : apply_att_checksum(att), NULL,
                e);
        if (rc != 0)
            goto out;
    } else if (rc == ERR_NOTFOUND || replace) {
        err_clear(e);
        if (cJSON_GetObjectItemCaseSensitive(att, "datas")) { /* read with the record */
            buf_init(&sp.mem, (size_t)APPLY_SMALL_CONTENT * 2);
            rc = odoo_deliver_datas(att, j->att_id, spool_write, &sp, j->size >= 0 ? j->size : -1,
                                    j->expect.checksum, sha, e);
        } else {
            sp.f = spool_open(a->o.tmpdir, e);
            if (!sp.f) {
                rc = e->code;
                goto out;
            }
            rc = odoo_download(c->odoo, j->att_id, spool_write, &sp, j->size >= 0 ? j->size : -1,
                               j->expect.checksum, sha, e);
        }
        cJSON_DeleteItemFromObjectCaseSensitive(att, "datas");
        if (rc < 0)
            goto out;
        if (sp.f && (fflush(sp.f) != 0 || fseek(sp.f, 0, SEEK_SET) != 0)) {
            rc = err_set(e, ERR_IO, "spool file: %s", strerror(errno));
            goto out;
        }
        memset(&req, 0, sizeof(req));
        req.read = spool_read;
        req.rewind = spool_rewind;
        req.ud = &sp;
        req.size = sp.written;
        req.create_only = replace ? 0 : 1;
        req.if_match = replace;
        req.sha1_hex = sha;
        /* an attachment's write_date: with its path and size, what tells the next pass
         * that the untagged file there is this upload's (ident.h) */
        req.mtime = j->doc ? 0 : job_odoo_time_s(j->expect.write_date);
        apply_before_write(a, j, "put");
        rc = looked || replace ? APPLY_BULK_ALONE : upload_shared(c, j, &sp, sha, req.mtime, &r, e);
        if (rc == APPLY_BULK_ALONE)
            rc = dav_put(c->dav, j->path, &req, &r, e);
        if (rc == ERR_NOTFOUND && j->record) {
            /*
             * No document folder (409): the mkdir or rename job of this record makes it
             * (it failed and waits for its retry, or the folder was deleted meanwhile).
             * Never make it here: an untagged folder would take the record's place.
             */
            rc = err_set(e, ERR_RETRY,
                         "upload \"%s\": its document folder is missing (made by "
                         "its mkdir or rename job)",
                         j->path);
        } else if (rc == ERR_NOTFOUND && j->doc) {
            /* Documents: no folder (409): its mkdir job makes it, or the cloud deleted it
             * since planned; never made here (an untagged folder would become a new
             * Documents folder): the next pass decides */
            err_clear(e);
            rc = 0;
            *res = JOB_SKIPPED;
            goto out;
        } else if (rc == ERR_NOTFOUND) {
            /* no stand-alone folder (409): create it and send the file again */
            err_clear(e);
            rc = apply_ensure_parent(c, j->path, e);
            if (rc == 0)
                rc = spool_rewind(&sp) == 0 ? dav_put(c->dav, j->path, &req, &r, e)
                                            : err_set(e, ERR_IO, "spool file: cannot rewind");
        }
        if (rc == ERR_CONFLICT || rc == ERR_EXISTS) {
            /*
             * 412: someone created it between our re-read and our PUT (a worker that
             * took over our expired lock, or the cloud): never overwrite; look again.
             */
            err_clear(e);
            dav_stat_release(&st);
            rc = dav_stat(c->dav, j->path, &st, e);
            if (rc == ERR_NOTFOUND)
                rc = err_set(e, ERR_CONFLICT, "\"%s\" appeared while uploading, then went away",
                             j->path);
            if (rc == 0)
                rc = upload_occupied(a, c, j, att, &st, idbuf, 1, res, e);
            if (rc != 0)
                goto out;
        } else if (rc < 0) {
            goto out;
        } else {
            /* a web link naming the new file's id needs no tag (it is the identity) */
            char id[LINK_FILEID_MAX];

            if (j->doc || !a->o.link_web || !link_fileid_norm(r.fileid, id))
                rc = apply_tag(c->dav, j->path, upload_tag(j), idbuf, e);
            if (rc == 0 && j->doc)
                rc = apply_mark_synced(c, j->path, sha, NULL, e);
            if (rc < 0)
                goto out;
        }
    } else {
        goto out;
    }
    /* Confirmed in the cloud: only now does the content leave Odoo (a
     * document of the Documents app keeps it: Odoo previews it there) */
    if (!j->doc) {
        rc = apply_att_to_url(c, j->att_id,
                              upload_url(a, c, j, r.fileid[0] ? r.fileid : st.fileid, &web), e);
        if (rc == 0 && web) {
            c->made_url = web; /* for the event: the url written */
            web = NULL;
        } else if (rc == ERR_NOTFOUND) {
            /* deleted in Odoo during the upload: as for one gone before it (the re-read
             * above), the next pass decides about the file */
            err_clear(e);
            rc = 0;
            *res = JOB_SKIPPED;
        }
    }
out:
    free(web);
    if (rc == 1)
        rc = 0; /* superseded: *res says so */
    if (sp.f)
        fclose(sp.f);
    buf_release(&sp.mem);
    dav_stat_release(&st);
    cJSON_Delete(att);
    return rc;
}
