/*
 * apply: see apply.h. One static function per kind and side; apply_job()
 * borrows a connection, dispatches, reports the outcome as an event and
 * gives the connection back (or drops it when it failed at the transport
 * level, so the next job starts on a fresh one).
 */
#include "apply.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "att.h"
#include "sha.h"

#include "banned.h"

struct apply_conn {
    struct dav *dav;
    struct odoo *odoo;
    struct apply_conn *next;
};

struct applier {
    struct apply_opts o;
    pthread_mutex_t mu;
    struct apply_conn *free_list;
    atomic_int weak_etags_stay; /* the server's weak ETags did not turn strong: do not wait */
};

static const char *const att_fields[] = {"id",        "name",      "type",       "url",
                                         "res_model", "res_id",    "write_date", "checksum",
                                         "file_size", "res_field", "public",     NULL};

int apply_new(struct applier **out, const struct apply_opts *o, struct err *e)
{
    struct applier *a = calloc(1, sizeof(*a));

    if (!a)
        return err_set(e, ERR_NOMEM, "out of memory");
    a->o = *o;
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return 0;
}

static void conn_free(struct apply_conn *c)
{
    if (!c)
        return;
    dav_free(c->dav);
    odoo_free(c->odoo);
    free(c);
}

void apply_free(struct applier *a)
{
    if (!a)
        return;
    while (a->free_list) {
        struct apply_conn *c = a->free_list;

        a->free_list = c->next;
        conn_free(c);
    }
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static int conn_get(struct applier *a, struct apply_conn **out, struct err *e)
{
    struct apply_conn *c = NULL;
    int rc = 0;

    pthread_mutex_lock(&a->mu);
    c = a->free_list;
    if (c)
        a->free_list = c->next;
    pthread_mutex_unlock(&a->mu);
    if (c) {
        *out = c;
        return 0;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return err_set(e, ERR_NOMEM, "out of memory");
    c->dav = dav_new(a->o.dav, e);
    if (!c->dav) {
        rc = e->code ? e->code : ERR_INTERNAL;
        goto out;
    }
    c->odoo = odoo_new(a->o.odoo, e);
    if (!c->odoo) {
        rc = e->code ? e->code : ERR_INTERNAL;
        goto out;
    }
    rc = odoo_connect(c->odoo, e);
    if (rc < 0)
        goto out;
    *out = c;
    c = NULL;
out:
    conn_free(c);
    return rc;
}

static void conn_put(struct applier *a, struct apply_conn *c)
{
    pthread_mutex_lock(&a->mu);
    c->next = a->free_list;
    a->free_list = c;
    pthread_mutex_unlock(&a->mu);
}

/* ---- helpers ---- */

/* Reads one attachment; *att is NULL (and 0 returned) when it is gone. */
static int att_read(struct odoo *o, long id, cJSON **att, struct err *e)
{
    cJSON *recs = NULL;
    int rc;

    *att = NULL;
    rc = odoo_read(o, "ir.attachment", &id, 1, att_fields, &recs, e);
    if (rc == ERR_NOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (cJSON_GetArraySize(recs) > 0)
        *att = cJSON_DetachItemFromArray(recs, 0);
    cJSON_Delete(recs);
    return 0;
}

static const char *jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/*
 * Reads one attachment; *att is NULL (and 0 returned) when it is gone, and
 * also when it is not a document (att.h: a binary field's storage, an asset,
 * ...): a job never acts on those, *technical is then set.
 */
static int att_read_doc(struct odoo *o, long id, cJSON **att, int *technical, struct err *e)
{
    const cJSON *rid, *pub;
    int rc;

    *technical = 0;
    rc = att_read(o, id, att, e);
    if (rc < 0 || !*att)
        return rc;
    rid = cJSON_GetObjectItemCaseSensitive(*att, "res_id");
    pub = cJSON_GetObjectItemCaseSensitive(*att, "public");
    if (att_technical(jstr(*att, "type"), jstr(*att, "url"), jstr(*att, "res_model"),
                      cJSON_IsNumber(rid) ? (long)rid->valuedouble : 0, jstr(*att, "res_field"),
                      cJSON_IsTrue(pub))) {
        cJSON_Delete(*att);
        *att = NULL;
        *technical = 1;
    }
    return 0;
}

/* The attachment's sha1; an empty one may have none, and is the sha1 of nothing. */
static const char *att_checksum(const cJSON *att)
{
    const char *sum = jstr(att, "checksum");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(att, "file_size");

    if ((!sum || !*sum) && cJSON_IsNumber(size) && size->valuedouble == 0)
        return "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    return sum;
}

/* "sale.order,19" -> model (into buf) and id. */
static int split_record(const char *rec, char *model, size_t cap, long *id, struct err *e)
{
    const char *comma = rec ? strrchr(rec, ',') : NULL;
    char *end = NULL;
    size_t n;

    if (!comma || comma == rec)
        return err_set(e, ERR_INVALID, "record \"%s\" is not \"model,id\"", rec ? rec : "");
    n = (size_t)(comma - rec);
    if (n >= cap)
        return err_set(e, ERR_INVALID, "record model too long");
    memcpy(model, rec, n);
    model[n] = '\0';
    errno = 0;
    *id = strtol(comma + 1, &end, 10);
    if (errno || !end || *end || *id <= 0)
        return err_set(e, ERR_INVALID, "record \"%s\" has no valid id", rec);
    return 0;
}

static void before_write(const struct applier *a, const struct job *j, const char *what)
{
    if (a->o.before_write)
        a->o.before_write(j, what, a->o.before_write_ud);
}

static int tag(struct dav *d, const char *path, const char *name, const char *value, struct err *e)
{
    int rc = dav_proppatch(d, path, name, value, e);

    if (rc < 0)
        err_prefix(e, "tag \"%s\" %s=%s", path, name, value ? value : "(removed)");
    return rc;
}

/* ---- cloud side ---- */

/*
 * Create the parent folder of path (and its own missing parents). Used when a
 * MOVE or PUT found no parent: the job that creates it (another lock, so it may
 * run in parallel) has not run yet, or the folder was deleted meanwhile.
 */
static int ensure_parent(struct apply_conn *c, const char *path, struct err *e)
{
    char parent[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    struct dav_result r;
    int rc;

    if (n == 0 || n >= sizeof(parent))
        return err_set(e, ERR_NOTFOUND, "\"%s\" has no parent to create", path);
    memcpy(parent, path, n);
    parent[n] = '\0';
    memset(&r, 0, sizeof(r));
    /* the job that creates it may be running right now: Apache then refuses this MKCOL
     * (403/409) while the folder comes into being; it exists afterwards (as do_mkdir) */
    for (int tries = 0;; tries++) {
        rc = dav_mkcol(c->dav, parent, 1, &r, e);
        if (rc == 0 || tries == 3 || (rc != ERR_ACCESS && rc != ERR_CONFLICT && rc != ERR_NOTFOUND))
            break;
        err_clear(e);
        usleep(20000 * (tries + 1));
    }
    if (rc == ERR_EXISTS) {
        err_clear(e);
        rc = 0;
    }
    return rc;
}

static int do_mkdir(struct apply_conn *c, const struct job *j, enum job_result *res, struct err *e)
{
    struct dav_result r;
    int rc;

    memset(&r, 0, sizeof(r));
    /*
     * Sibling jobs (other locks) may create the same missing parents at the same
     * moment; Apache then refuses the loser's MKCOL of the parent (403/409). The
     * parent exists afterwards, so try again a few times before giving up.
     */
    for (int tries = 0;; tries++) {
        rc = dav_mkcol(c->dav, j->path, 1, &r, e);
        if (rc == 0 || tries == 3 || (rc != ERR_ACCESS && rc != ERR_CONFLICT && rc != ERR_NOTFOUND))
            break;
        usleep(20000 * (tries + 1));
    }
    if (rc == 0 && r.status == 405 && j->record) {
        /*
         * It was there already. Still another record's (the job that frees the name
         * for this one failed and waits for its retry)? Never take it over, or this
         * record's files would land in the other's folder: retry after it.
         */
        struct dav_stat st;

        int mine = 0;

        memset(&st, 0, sizeof(st));
        rc = dav_stat(c->dav, j->path, &st, e);
        if (rc == 0 && st.record_tag && *st.record_tag) {
            mine = strcmp(st.record_tag, j->record) == 0;
            if (!mine)
                rc = err_set(e, ERR_CONFLICT, "\"%s\" still belongs to %s", j->path, st.record_tag);
        }
        dav_stat_release(&st);
        if (rc == 0 && mine) {
            *res = JOB_ALREADY_DONE;
            return 0;
        }
    }
    if (rc < 0)
        return rc;
    if (j->record)
        return tag(c->dav, j->path, "record", j->record, e);
    if (j->name)
        return tag(c->dav, j->path, "type", j->name, e);
    return 0;
}

struct spool {
    FILE *f;
    long long written;
};

static int spool_write(const char *p, size_t n, void *ud)
{
    struct spool *s = ud;

    if (fwrite(p, 1, n, s->f) != n)
        return ERR_IO;
    s->written += (long long)n;
    return 0;
}

static size_t spool_read(char *buf, size_t n, void *ud)
{
    struct spool *s = ud;
    size_t got = fread(buf, 1, n, s->f);

    if (got == 0 && ferror(s->f))
        return DAV_READ_ABORT;
    return got;
}

static int spool_rewind(void *ud)
{
    struct spool *s = ud;

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

/* Turn the attachment into a url one, unless it already is. */
static int att_to_url(struct odoo *o, long id, const char *url, struct err *e)
{
    cJSON *vals = cJSON_CreateObject();
    int rc;

    if (!vals)
        return err_set(e, ERR_NOMEM, "out of memory");
    cJSON_AddStringToObject(vals, "type", "url");
    cJSON_AddStringToObject(vals, "url", url);
    cJSON_AddFalseToObject(vals, "datas");
    rc = odoo_write(o, "ir.attachment", &id, 1, vals, e);
    cJSON_Delete(vals);
    return rc;
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

/*
 * The upload's target exists (st, from a re-read). Whose file is it?
 *   - tagged with this attachment: an earlier attempt (or a worker that took
 *     over our expired lock) uploaded it: done, go on (0, ALREADY_DONE);
 *   - untagged, with exactly the attachment's size and sha1: an attempt killed
 *     between its PUT and its PROPPATCH: adopt it, tag it, go on (0);
 *   - tagged with another attachment, and it appeared after our re-read
 *     (`raced`: our create-only PUT was refused): a newer writer gave the place
 *     to another file: superseded (1, SKIPPED), nothing is written;
 *   - anything else (a folder, a stranger's file, another attachment's file
 *     that was there before us and may be on its way out): ERR_CONFLICT, retried.
 */
static int upload_occupied(struct applier *a, struct apply_conn *c, const struct job *j,
                           const cJSON *att, const struct dav_stat *st, const char *idbuf,
                           int raced, enum job_result *res, struct err *e)
{
    const cJSON *fsize = cJSON_GetObjectItemCaseSensitive(att, "file_size");
    const char *sum = j->expect.checksum ? j->expect.checksum : att_checksum(att);
    long long size = cJSON_IsNumber(fsize) ? (long long)fsize->valuedouble : j->size;
    int rc;

    if (!st->is_dir && streq(st->attachment_tag, idbuf)) {
        *res = JOB_ALREADY_DONE;
        return 0;
    }
    if (!st->is_dir && st->attachment_tag && *st->attachment_tag && raced) {
        *res = JOB_SKIPPED;
        log_job(a->o.log, LOG_INFO, j->id, j->lock,
                "superseded: \"%s\" became attachment %s's file", j->path, st->attachment_tag);
        return 1;
    }
    if (!st->is_dir && (!st->attachment_tag || !*st->attachment_tag) && sum && size >= 0 &&
        (st->size < 0 || st->size == size)) {
        rc = cloud_content_is(c, j->path, size, sum, e);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            rc = tag(c->dav, j->path, "attachment", idbuf, e);
            return rc < 0 ? rc : 0;
        }
    }
    return err_set(e, ERR_CONFLICT, "\"%s\" exists and is not attachment %ld's file", j->path,
                   j->att_id);
}

static int do_upload(struct applier *a, struct apply_conn *c, const struct job *j,
                     enum job_result *res, struct err *e)
{
    struct dav_stat st;
    struct dav_put_req req;
    struct dav_result r;
    struct spool sp = {NULL, 0};
    cJSON *att = NULL;
    char idbuf[32];
    char sha[SHA1_HEX_SIZE];
    const char *type;
    int technical;
    int rc;

    memset(&st, 0, sizeof(st));
    memset(&r, 0, sizeof(r));
    if (!j->url || !*j->url) {
        rc = err_set(e, ERR_INVALID, "upload job without the url the attachment will hold");
        goto out;
    }
    snprintf(idbuf, sizeof(idbuf), "%ld", j->att_id);
    /* Re-read the attachment under the lock: gone, changed or already done? */
    rc = att_read_doc(c->odoo, j->att_id, &att, &technical, e);
    if (rc < 0)
        goto out;
    if (!att) {
        /* deleted in Odoo meanwhile (the next pass cleans up), or not a document */
        *res = JOB_SKIPPED;
        goto out;
    }
    type = jstr(att, "type");
    if (streq(type, "url")) {
        *res = streq(jstr(att, "url"), j->url) ? JOB_ALREADY_DONE : JOB_SKIPPED;
        goto out;
    }
    if (j->expect.checksum && !streq(att_checksum(att), j->expect.checksum)) {
        *res = JOB_SKIPPED; /* content changed since planned: the next pass re-plans */
        goto out;
    }

    rc = dav_stat(c->dav, j->path, &st, e);
    if (rc == 0) {
        rc = upload_occupied(a, c, j, att, &st, idbuf, 0, res, e);
        if (rc != 0)
            goto out;
    } else if (rc == ERR_NOTFOUND) {
        err_clear(e);
        sp.f = spool_open(a->o.tmpdir, e);
        if (!sp.f) {
            rc = e->code;
            goto out;
        }
        rc = odoo_download(c->odoo, j->att_id, spool_write, &sp, j->size >= 0 ? j->size : -1,
                           j->expect.checksum, sha, e);
        if (rc < 0)
            goto out;
        if (fflush(sp.f) != 0 || fseek(sp.f, 0, SEEK_SET) != 0) {
            rc = err_set(e, ERR_IO, "spool file: %s", strerror(errno));
            goto out;
        }
        memset(&req, 0, sizeof(req));
        req.read = spool_read;
        req.rewind = spool_rewind;
        req.ud = &sp;
        req.size = sp.written;
        req.create_only = 1;
        req.sha1_hex = sha;
        before_write(a, j, "put");
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
        } else if (rc == ERR_NOTFOUND) {
            /* no stand-alone folder (409): create it and send the file again */
            err_clear(e);
            rc = ensure_parent(c, j->path, e);
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
            rc = tag(c->dav, j->path, "attachment", idbuf, e);
            if (rc < 0)
                goto out;
        }
    } else {
        goto out;
    }
    /* Confirmed in the cloud and tagged: only now does the content leave Odoo. */
    rc = att_to_url(c->odoo, j->att_id, j->url, e);
out:
    if (rc == 1)
        rc = 0; /* superseded: *res says so */
    if (sp.f)
        fclose(sp.f);
    dav_stat_release(&st);
    cJSON_Delete(att);
    return rc;
}

/* The opaque part of an ETag: W/"x" and "x" name the same version (weak comparison). */
static const char *etag_opaque(const char *t)
{
    if (t && t[0] == 'W' && t[1] == '/')
        return t + 2;
    return t;
}

/*
 * Re-read the source of a cloud rename or delete under the lock and decide
 * whether the job still applies. Folders are matched by their tag (a folder's
 * ETag changes with its content); files by their ETag, compared weakly, since
 * Apache and others hand out weak ETags for files changed in the last second.
 * *if_match is the current strong ETag to send as a condition, or NULL when
 * the server gave a weak one (If-Match compares strongly and would refuse it).
 * Returns 1 when the job applies, 0 when it is done or superseded (*res set).
 */
static int guard_source(struct applier *a, struct apply_conn *c, const struct job *j,
                        struct dav_stat *st, const char **if_match, enum job_result *res,
                        struct err *e)
{
    int rc = dav_stat(c->dav, j->path, st, e);

    /*
     * A weak ETag that matches: Apache calls it weak during the second its file
     * changed, and If-Match never matches a weak one, so the write would have to go
     * without a condition. Wait that second out once and look again; a server whose
     * ETags stay weak is remembered and not waited for again.
     */
    if (rc == 0 && !st->is_dir && j->expect.etag && st->etag && st->etag[0] == 'W' &&
        streq(etag_opaque(st->etag), etag_opaque(j->expect.etag)) &&
        !atomic_load(&a->weak_etags_stay)) {
        usleep(1100000);
        dav_stat_release(st);
        rc = dav_stat(c->dav, j->path, st, e);
        if (rc == 0 && st->etag && st->etag[0] == 'W' &&
            streq(etag_opaque(st->etag), etag_opaque(j->expect.etag)))
            atomic_store(&a->weak_etags_stay, 1); /* same version, still weak */
    }
    *if_match = NULL;
    if (rc == ERR_NOTFOUND) {
        err_clear(e);
        *res = JOB_ALREADY_DONE;
        return 0;
    }
    if (rc < 0)
        return rc;
    if (st->is_dir) {
        /* a document folder must still be that record's; a sub-folder (no record tag)
         * is matched like a file, by the attachment tag it got when it was linked */
        if (st->record_tag && j->record && !streq(st->record_tag, j->record)) {
            *res = JOB_SKIPPED; /* another record's folder took the place */
            return 0;
        }
        return 1;
    }
    if (j->expect.etag && st->etag) {
        if (!streq(etag_opaque(st->etag), etag_opaque(j->expect.etag))) {
            *res = JOB_SKIPPED; /* changed in the cloud since planned: the next pass decides */
            return 0;
        }
        if (st->etag[0] != 'W')
            *if_match = st->etag;
    }
    return 1;
}

static int do_rename_cloud(struct applier *a, struct apply_conn *c, const struct job *j,
                           enum job_result *res, struct err *e)
{
    struct dav_stat st, to;
    const char *if_match = NULL;
    int rc;

    memset(&st, 0, sizeof(st));
    memset(&to, 0, sizeof(to));
    rc = guard_source(a, c, j, &st, &if_match, res, e);
    if (rc <= 0) {
        if (rc == 0 && *res == JOB_ALREADY_DONE) {
            /* Source gone: done already if the target is there, superseded if not, or
             * if it is another record's folder (a swap whose first move waits) */
            rc = dav_stat(c->dav, j->to, &to, e);
            if (rc == ERR_NOTFOUND) {
                err_clear(e);
                rc = 0;
                *res = JOB_SKIPPED;
            } else if (rc == 0 && to.is_dir && to.record_tag && *to.record_tag && j->record &&
                       !streq(to.record_tag, j->record)) {
                *res = JOB_SKIPPED;
            }
        }
        goto out;
    }
    before_write(a, j, "move");
    rc = dav_move(c->dav, j->path, j->to, 0, if_match, e);
    if ((rc == ERR_NOTFOUND || rc == ERR_SERVER) && j->lock &&
        strncmp(j->to, j->lock, strlen(j->lock)) == 0 && j->to[strlen(j->lock)] == '/') {
        /* a file moved into a document folder (a merge) that is not there: its mkdir
         * job makes and tags it; never make it untagged here */
        rc = err_set(e, ERR_RETRY, "move \"%s\": the document folder of \"%s\" is missing", j->path,
                     j->to);
    } else if (rc == ERR_NOTFOUND || rc == ERR_SERVER) {
        /* the source is there (we just looked): the target's parent is not (Apache
         * answers 409 or 500); create it and try once more */
        err_clear(e);
        rc = ensure_parent(c, j->to, e);
        if (rc == 0)
            rc = dav_move(c->dav, j->path, j->to, 0, if_match, e);
    }
    if (rc == ERR_EXISTS) {
        rc = err_set(e, ERR_CONFLICT, "cannot move \"%s\": \"%s\" already exists", j->path, j->to);
    } else if (rc == ERR_CONFLICT && if_match) {
        err_clear(e);
        rc = 0;
        *res = JOB_SKIPPED; /* changed between our look and the move */
    }
out:
    dav_stat_release(&st);
    dav_stat_release(&to);
    return rc;
}

struct members {
    const char *path;
    size_t n;   /* entries of a Depth 1 listing other than the folder itself */
    char *etag; /* the folder's own ETag */
};

static int count_member(const struct dav_entry *ent, void *ud)
{
    struct members *m = ud;
    size_t pl = strlen(m->path), el = strlen(ent->path);

    while (pl > 1 && m->path[pl - 1] == '/')
        pl--;
    while (el > 1 && ent->path[el - 1] == '/')
        el--;
    if (el != pl || strncmp(ent->path, m->path, pl) != 0) {
        m->n++;
    } else if (ent->etag && !m->etag) {
        m->etag = strdup(ent->etag);
        if (!m->etag)
            return ERR_NOMEM;
    }
    return 0;
}

/* An entry the listing left out (a control character in its name): the folder is not empty. */
static void count_left_out(const struct dav_left_out *lo, void *ud)
{
    struct members *m = ud;

    (void)lo;
    m->n++;
}

/*
 * Whether a folder is empty (1) or not (0); *etag: its ETag with the listing, as an
 * If-Match condition for its delete (a file that comes in after it changes the
 * folder's ETag), or NULL when the server gave a weak one (then waited out once,
 * as in guard_source).
 */
static int folder_empty(struct applier *a, struct apply_conn *c, const char *path, char **etag,
                        struct err *e)
{
    struct members m = {path, 0, NULL};
    int rc;

    *etag = NULL;
    for (int tries = 0;; tries++) {
        m.n = 0;
        free(m.etag);
        m.etag = NULL;
        rc = dav_propfind_ex(c->dav, path, 1, count_member, &m, count_left_out, &m, e);
        if (rc < 0 || m.n > 0 || !m.etag || m.etag[0] != 'W')
            break;
        if (tries == 1 || atomic_load(&a->weak_etags_stay)) {
            free(m.etag); /* stays weak: If-Match would never match it */
            m.etag = NULL;
            break;
        }
        usleep(1100000);
    }
    if (rc < 0 || m.n > 0) {
        free(m.etag);
        return rc < 0 ? rc : 0;
    }
    *etag = m.etag;
    return 1;
}

/* Whether decoded path is dir itself or below it. */
static int path_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * A live url attachment whose url names the folder or something below it, in any
 * spelling (host, percent-encoding, "//" and "." segments do not matter): its id in
 * *att_id, 0 when there is none. The candidates are the url attachments whose url
 * holds the folder's name, as is or percent-encoded (ilike), each then decoded.
 */
static int linked_into(struct applier *a, struct apply_conn *c, const char *folder, long *att_id,
                       struct err *e)
{
    static const char *const fields[] = {"id", "url", NULL};
    const char *bn = strrchr(folder, '/'), *base = a->o.dav->url, *bp = NULL, *s;
    struct buf enc, dec;
    cJSON *dom = NULL, *rows = NULL, *ors[2] = {NULL, NULL};
    int rc;

    *att_id = 0;
    bn = bn ? bn + 1 : folder;
    s = base ? strstr(base, "://") : NULL;
    bp = s ? strchr(s + 3, '/') : NULL;
    buf_init(&enc, 64 * 1024);
    buf_init(&dec, 64 * 1024);
    rc = buf_puts(&dec, "/");
    if (rc == 0)
        rc = buf_puts(&dec, bn);
    if (rc == 0)
        rc = dav_path_encode(buf_str(&dec), &enc, e);
    if (rc < 0) {
        rc = e->code ? e->code : ERR_NOMEM;
        goto out;
    }
    dom = cJSON_CreateArray();
    for (int i = 0; i < 2; i++) {
        ors[i] = cJSON_CreateArray();
        cJSON_AddItemToArray(ors[i], cJSON_CreateString("url"));
        cJSON_AddItemToArray(ors[i], cJSON_CreateString("ilike"));
        cJSON_AddItemToArray(ors[i], cJSON_CreateString(i ? buf_str(&enc) + 1 : bn));
    }
    {
        cJSON *t = cJSON_CreateArray();
        cJSON_AddItemToArray(t, cJSON_CreateString("type"));
        cJSON_AddItemToArray(t, cJSON_CreateString("="));
        cJSON_AddItemToArray(t, cJSON_CreateString("url"));
        cJSON_AddItemToArray(dom, t);
    }
    cJSON_AddItemToArray(dom, cJSON_CreateString("|"));
    cJSON_AddItemToArray(dom, ors[0]);
    cJSON_AddItemToArray(dom, ors[1]);
    if (cJSON_GetArraySize(dom) != 4 || cJSON_GetArraySize(ors[0]) != 3 ||
        cJSON_GetArraySize(ors[1]) != 3 || cJSON_GetArraySize(cJSON_GetArrayItem(dom, 0)) != 3) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = odoo_search_read(c->odoo, "ir.attachment", dom, fields, 0, 0, NULL, &rows, e);
    if (rc < 0)
        goto out;
    for (int i = 0; i < cJSON_GetArraySize(rows) && !*att_id; i++) {
        const cJSON *row = cJSON_GetArrayItem(rows, i);
        const char *url = jstr(row, "url");
        struct err de = ERR_INIT;

        buf_reset(&dec);
        if (url && dav_href_decode(url, bp ? bp : "/", &dec, &de) == 0 &&
            path_under(buf_str(&dec), folder))
            *att_id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "id"));
    }
out:
    cJSON_Delete(dom);
    cJSON_Delete(rows);
    buf_release(&enc);
    buf_release(&dec);
    return rc;
}

/*
 * A file is deleted only if it is still the version planned from; a folder only
 * if it still carries the record the job names (see guard_source), never while a
 * live url attachment links into it (checked under the lock: its files are then
 * left alone, and the job is skipped with a note), and a folder whose job expects
 * it empty (JOB_SHA1_EMPTY) only while it is: a file that came in meanwhile (or a
 * move of the merge that failed) keeps it, the next pass decides.
 */
static int do_delete_cloud(struct applier *a, struct apply_conn *c, const struct job *j,
                           enum job_result *res, struct err *e)
{
    struct dav_stat st;
    const char *if_match = NULL;
    char *empty_etag = NULL;
    int rc;

    memset(&st, 0, sizeof(st));
    rc = guard_source(a, c, j, &st, &if_match, res, e);
    if (rc <= 0)
        goto out;
    if (st.is_dir && j->record && !streq(j->expect.checksum, JOB_SHA1_EMPTY)) {
        /* (an empty folder holds no content: a link into it is stale, it may go) */
        long att = 0;

        rc = linked_into(a, c, j->path, &att, e);
        if (rc < 0)
            goto out;
        if (att) {
            *res = JOB_SKIPPED;
            err_set(e, 0, "attachment %ld still links into \"%s\": the folder is not deleted", att,
                    j->path);
            goto out;
        }
    }
    if (st.is_dir && streq(j->expect.checksum, JOB_SHA1_EMPTY)) {
        rc = folder_empty(a, c, j->path, &empty_etag, e);
        if (rc < 0)
            goto out;
        if (rc == 0) {
            *res = JOB_SKIPPED;
            log_job(a->o.log, LOG_INFO, j->id, j->lock, "\"%s\" is not empty: not deleted",
                    j->path);
            goto out;
        }
        rc = 0;
        if_match = empty_etag;
    }
    before_write(a, j, "delete");
    rc = dav_delete(c->dav, j->path, if_match, e);
    if (rc == ERR_NOTFOUND) {
        err_clear(e);
        *res = JOB_ALREADY_DONE;
        rc = 0;
    } else if (rc == ERR_CONFLICT && if_match) {
        err_clear(e);
        rc = 0;
        *res = JOB_SKIPPED;
    }
out:
    free(empty_etag);
    dav_stat_release(&st);
    return rc;
}

/* ---- odoo side ---- */

static int do_rename_odoo(struct apply_conn *c, const struct job *j, enum job_result *res,
                          struct err *e)
{
    cJSON *att = NULL;
    cJSON *vals = NULL;
    int technical;
    int rc;

    rc = att_read_doc(c->odoo, j->att_id, &att, &technical, e);
    if (rc < 0)
        goto out;
    if (!att) {
        *res = JOB_SKIPPED; /* gone, or not a document (att.h) */
        goto out;
    }
    if (streq(jstr(att, "name"), j->name) && (!j->url || streq(jstr(att, "url"), j->url))) {
        *res = JOB_ALREADY_DONE;
        goto out;
    }
    if (j->expect.write_date && !streq(jstr(att, "write_date"), j->expect.write_date)) {
        rc = err_set(e, ERR_CONFLICT, "attachment %ld changed since planned", j->att_id);
        goto out;
    }
    vals = cJSON_CreateObject();
    if (!vals) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    cJSON_AddStringToObject(vals, "name", j->name ? j->name : "");
    if (j->url)
        cJSON_AddStringToObject(vals, "url", j->url);
    rc = odoo_write(c->odoo, "ir.attachment", &j->att_id, 1, vals, e);
out:
    cJSON_Delete(vals);
    cJSON_Delete(att);
    return rc;
}

/* Whether att already is what the relink j would make it (model "" = stand-alone). */
static int relink_done(const cJSON *att, const struct job *j, const char *model, long res_id)
{
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(att, "res_id");
    const char *m = jstr(att, "res_model");
    long id = cJSON_IsNumber(rid) ? (long)rid->valuedouble : 0;

    if (!streq(jstr(att, "type"), "url") || !streq(jstr(att, "url"), j->url ? j->url : ""))
        return 0;
    if (j->name && !streq(jstr(att, "name"), j->name))
        return 0;
    if (model[0])
        return streq(m, model) && id == res_id;
    return (!m || !*m) && id == 0;
}

static int do_relink(struct apply_conn *c, const struct job *j, enum job_result *res, struct err *e)
{
    char model[128];
    char idbuf[32];
    long res_id = 0;
    long att_id = j->att_id;
    cJSON *vals = NULL;
    cJSON *dom = NULL;
    long *ids = NULL;
    size_t n = 0;
    cJSON *att = NULL;
    int technical;
    int rc;

    if (j->record) {
        rc = split_record(j->record, model, sizeof(model), &res_id, e);
        if (rc < 0)
            goto out;
    } else {
        model[0] = '\0'; /* stand-alone attachment */
    }
    vals = cJSON_CreateObject();
    if (!vals) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    cJSON_AddStringToObject(vals, "type", "url");
    cJSON_AddStringToObject(vals, "url", j->url ? j->url : "");
    if (j->name)
        cJSON_AddStringToObject(vals, "name", j->name);
    if (model[0]) {
        cJSON_AddStringToObject(vals, "res_model", model);
        cJSON_AddNumberToObject(vals, "res_id", (double)res_id);
    } else {
        cJSON_AddFalseToObject(vals, "res_model");
        cJSON_AddNumberToObject(vals, "res_id", 0);
    }

    if (att_id == 0) {
        /* Create, unless an earlier attempt did: look for the same link first. */
        dom = cJSON_Parse("[]");
        if (!dom) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        {
            cJSON *l1 = cJSON_CreateArray(), *l2 = cJSON_CreateArray(), *l3 = cJSON_CreateArray();

            cJSON_AddItemToArray(l1, cJSON_CreateString("type"));
            cJSON_AddItemToArray(l1, cJSON_CreateString("="));
            cJSON_AddItemToArray(l1, cJSON_CreateString("url"));
            cJSON_AddItemToArray(l2, cJSON_CreateString("url"));
            cJSON_AddItemToArray(l2, cJSON_CreateString("="));
            cJSON_AddItemToArray(l2, cJSON_CreateString(j->url ? j->url : ""));
            cJSON_AddItemToArray(l3, cJSON_CreateString("res_model"));
            cJSON_AddItemToArray(l3, cJSON_CreateString("="));
            if (model[0])
                cJSON_AddItemToArray(l3, cJSON_CreateString(model));
            else
                cJSON_AddItemToArray(l3, cJSON_CreateFalse());
            cJSON_AddItemToArray(dom, l1);
            cJSON_AddItemToArray(dom, l2);
            cJSON_AddItemToArray(dom, l3);
        }
        rc = odoo_search(c->odoo, "ir.attachment", dom, 0, 1, "id", &ids, &n, e);
        if (rc < 0)
            goto out;
        if (n > 0) {
            att_id = ids[0];
            *res = JOB_ALREADY_DONE;
        } else {
            rc = odoo_create(c->odoo, "ir.attachment", vals, &att_id, e);
            if (rc < 0)
                goto out;
        }
    } else {
        rc = att_read_doc(c->odoo, att_id, &att, &technical, e);
        if (rc < 0)
            goto out;
        if (!att) {
            /* deleted meanwhile (the file is untagged next pass), or not a document */
            *res = JOB_SKIPPED;
            goto out;
        }
        /*
         * Changed in Odoo since planned: superseded, the next pass decides anew. Unless
         * an earlier attempt of this job made that change (the values are the job's).
         */
        if (j->expect.write_date && !streq(jstr(att, "write_date"), j->expect.write_date) &&
            !relink_done(att, j, model, res_id)) {
            *res = JOB_SKIPPED;
            goto out;
        }
        /* The file must be there (and carry the id) before the attachment points at it. */
        if (j->path) {
            snprintf(idbuf, sizeof(idbuf), "%ld", att_id);
            rc = tag(c->dav, j->path, "attachment", idbuf, e);
            if (rc == ERR_NOTFOUND)
                rc = err_set(e, ERR_CONFLICT, "\"%s\" is not there to link attachment %ld to",
                             j->path, att_id);
            if (rc < 0)
                goto out;
        }
        rc = odoo_write(c->odoo, "ir.attachment", &att_id, 1, vals, e);
        goto out;
    }
    /* Tag the cloud file or folder with its attachment: the link lives with the data. */
    if (j->path) {
        snprintf(idbuf, sizeof(idbuf), "%ld", att_id);
        rc = tag(c->dav, j->path, "attachment", idbuf, e);
        if (rc == ERR_NOTFOUND) {
            /* The new file went away after planning: undo the link we just made. */
            err_clear(e);
            rc = odoo_unlink(c->odoo, "ir.attachment", &att_id, 1, e);
            *res = JOB_SKIPPED;
        }
    }
out:
    cJSON_Delete(att);
    cJSON_Delete(dom);
    cJSON_Delete(vals);
    free(ids);
    return rc;
}

static int do_delete_odoo(struct apply_conn *c, const struct job *j, enum job_result *res,
                          struct err *e)
{
    cJSON *att = NULL;
    int technical;
    int rc;

    rc = att_read_doc(c->odoo, j->att_id, &att, &technical, e);
    if (rc < 0)
        goto out;
    if (!att) {
        /* gone: done; not a document (att.h): never deleted */
        *res = technical ? JOB_SKIPPED : JOB_ALREADY_DONE;
        goto out;
    }
    if (j->expect.write_date && !streq(jstr(att, "write_date"), j->expect.write_date)) {
        rc = err_set(e, ERR_CONFLICT, "attachment %ld changed since planned", j->att_id);
        goto out;
    }
    rc = odoo_unlink(c->odoo, "ir.attachment", &j->att_id, 1, e);
    if (rc == ERR_NOTFOUND) {
        err_clear(e);
        rc = 0;
        *res = JOB_ALREADY_DONE;
    }
out:
    cJSON_Delete(att);
    return rc;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int apply_job(const struct job *j, void *ud, struct err *e)
{
    struct applier *a = ud;
    struct apply_conn *c = NULL;
    struct job_event ev;
    enum job_result res = JOB_APPLIED;
    long long t0 = now_ms();
    int rc;

    rc = conn_get(a, &c, e);
    if (rc < 0)
        goto out;
    switch (j->kind) {
    case JOB_MKDIR:
        rc = do_mkdir(c, j, &res, e);
        break;
    case JOB_UPLOAD:
        rc = do_upload(a, c, j, &res, e);
        break;
    case JOB_RENAME:
        rc = j->side == JOB_SIDE_CLOUD ? do_rename_cloud(a, c, j, &res, e)
                                       : do_rename_odoo(c, j, &res, e);
        break;
    case JOB_RELINK:
        rc = do_relink(c, j, &res, e);
        break;
    case JOB_DELETE:
        rc = j->side == JOB_SIDE_CLOUD ? do_delete_cloud(a, c, j, &res, e)
                                       : do_delete_odoo(c, j, &res, e);
        break;
    default:
        rc = err_set(e, ERR_INVALID, "unknown job kind %d", (int)j->kind);
    }
out:
    if (c) {
        if (rc == ERR_RETRY || rc == ERR_AUTH) {
            conn_free(c); /* transport trouble: start the next job on a fresh connection */
        } else {
            conn_put(a, c);
        }
    }
    if (a->o.on_event) {
        memset(&ev, 0, sizeof(ev));
        ev.result = rc < 0 ? JOB_FAILED : res;
        ev.duration_ms = now_ms() - t0;
        if (j->kind == JOB_RENAME) {
            ev.old_value = j->side == JOB_SIDE_CLOUD ? j->path : NULL;
            ev.new_value = j->side == JOB_SIDE_CLOUD ? j->to : j->name;
        } else if (j->kind == JOB_RELINK || j->kind == JOB_UPLOAD) {
            ev.new_value = j->url;
        }
        if (rc < 0) {
            ev.error = e->msg;
            ev.error_code = rc;
        } else if (res == JOB_SKIPPED && e->code == 0 && e->msg[0]) {
            ev.error = e->msg; /* why it was skipped, when it says */
        }
        a->o.on_event(j, &ev, a->o.event_ud);
    }
    if (rc == 0 && res == JOB_SKIPPED && e->code == 0 && e->msg[0]) {
        log_job(a->o.log, LOG_WARN, j->id, j->lock, "%s %s skipped: %s", job_kind_name(j->kind),
                job_side_name(j->side), e->msg);
        err_clear(e);
    }
    if (rc < 0)
        log_job(a->o.log, LOG_WARN, j->id, j->lock, "%s %s failed: %s", job_kind_name(j->kind),
                job_side_name(j->side), e->msg);
    else
        log_job(a->o.log, LOG_DEBUG, j->id, j->lock, "%s %s: %s", job_kind_name(j->kind),
                job_side_name(j->side), job_result_name(res));
    return rc;
}
