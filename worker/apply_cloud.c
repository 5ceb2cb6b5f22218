/*
 * apply_cloud: the appliers that change the cloud's tree: mkdir, rename
 * (MOVE) and delete (see apply.h for the conditions every write carries).
 *
 * A rename or delete first re-reads its source under the job's lock
 * (guard_source): a folder must still carry the record the job names, a file
 * must still be the version planned from, compared weakly (a weak ETag is
 * waited out once, since If-Match never matches one; a server whose ETags stay
 * weak is remembered). The write then goes with If-Match on the strong ETag,
 * and a MOVE never overwrites. A folder is deleted only while no live url
 * attachment links into it (linked_into, under the lock) and, when the job
 * expects it empty, only while it is (folder_empty: a listing whose ETag
 * becomes the delete's condition). A MOVE or PUT that finds no parent folder
 * creates it (apply_ensure_parent, shared with the upload). Jobs of Odoo's Documents
 * app (j->doc) are matched by their {urn:odoosync}document tag instead.
 */
#include "apply.h"
#include "apply_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

/*
 * Create the parent folder of path (and its own missing parents). Used when a
 * MOVE or PUT found no parent: the job that creates it (another lock, so it may
 * run in parallel) has not run yet, or the folder was deleted meanwhile.
 */
int apply_ensure_parent(struct apply_conn *c, const char *path, struct err *e)
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

int apply_mkdir(struct apply_conn *c, const struct job *j, enum job_result *res, struct err *e)
{
    struct dav_result r;
    /* its tag: the Documents app's, the record's, or the type's */
    const char *tag = j->doc ? "document" : j->record ? "record" : j->name ? "type" : NULL;
    const char *val = j->doc ? j->doc : j->record ? j->record : j->name;
    int rc, tagged = 0;

    memset(&r, 0, sizeof(r));
    /*
     * Sibling jobs (other locks) may create the same missing parents at the same
     * moment; Apache then refuses the loser's MKCOL of the parent (403/409). The
     * parent exists afterwards, so try again a few times before giving up.
     */
    for (int tries = 0;; tries++) {
        /* made with its tag in the same request where the server can (Nextcloud) */
        rc = tag ? dav_mkcol_tagged(c->dav, j->path, 1, tag, val, &r, &tagged, e)
                 : dav_mkcol(c->dav, j->path, 1, &r, e);
        if (rc == 0 || tries == 3 || (rc != ERR_ACCESS && rc != ERR_CONFLICT && rc != ERR_NOTFOUND))
            break;
        usleep(20000 * (tries + 1));
    }
    if (rc == 0 && r.status == 405 && j->doc) {
        /* Odoo's Documents app: the same, by the document tag (an untagged folder is
         * adopted) */
        struct dav_stat st;
        int mine = 0;

        memset(&st, 0, sizeof(st));
        rc = dav_stat(c->dav, j->path, &st, e);
        if (rc == 0 && st.document_tag && *st.document_tag) {
            mine = strcmp(st.document_tag, j->doc) == 0;
            if (!mine)
                rc = err_set(e, ERR_CONFLICT, "\"%s\" is %s's folder", j->path, st.document_tag);
        }
        dav_stat_release(&st);
        if (rc == 0 && mine) {
            *res = JOB_ALREADY_DONE;
            return 0;
        }
    } else if (rc == 0 && r.status == 405 && j->record) {
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
    if (rc < 0 || tagged || !tag)
        return rc;
    return apply_tag(c->dav, j->path, tag, val, e);
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
        apply_streq(etag_opaque(st->etag), etag_opaque(j->expect.etag)) &&
        !atomic_load(&a->weak_etags_stay)) {
        usleep(1100000);
        dav_stat_release(st);
        rc = dav_stat(c->dav, j->path, st, e);
        if (rc == 0 && st->etag && st->etag[0] == 'W' &&
            apply_streq(etag_opaque(st->etag), etag_opaque(j->expect.etag)))
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
    if (j->doc && !apply_is_doc(st, j)) {
        /* Odoo's Documents app: the entry must still be that folder or document */
        *res = JOB_SKIPPED;
        return 0;
    }
    if (st->is_dir) {
        /* a document folder must still be that record's; a sub-folder (no record tag)
         * is matched like a file, by the attachment tag it got when it was linked */
        if (st->record_tag && j->record && !apply_streq(st->record_tag, j->record)) {
            *res = JOB_SKIPPED; /* another record's folder took the place */
            return 0;
        }
        return 1;
    }
    if (j->expect.etag && st->etag) {
        if (!apply_streq(etag_opaque(st->etag), etag_opaque(j->expect.etag))) {
            *res = JOB_SKIPPED; /* changed in the cloud since planned: the next pass decides */
            return 0;
        }
        if (st->etag[0] != 'W')
            *if_match = st->etag;
    }
    return 1;
}

int apply_rename_cloud(struct applier *a, struct apply_conn *c, const struct job *j,
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
                       !apply_streq(to.record_tag, j->record)) {
                *res = JOB_SKIPPED;
            }
        }
        goto out;
    }
    apply_before_write(a, j, "move");
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
        rc = apply_ensure_parent(c, j->to, e);
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
 * spelling (host, percent-encoding, "//" and "." segments do not matter) and in any
 * form (link.h): its id in *att_id, 0 when there is none. The candidates are the url
 * attachments whose url holds the folder's name, as is or percent-encoded (ilike),
 * each then decoded as a WebDAV address or a Files-app link by path; then those whose
 * web link names a file id of an entry in the folder (apply_linked_by_id).
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
        const char *url = apply_jstr(row, "url");
        struct err de = ERR_INIT;
        char id[LINK_FILEID_MAX], *wp = NULL;

        buf_reset(&dec);
        if (url && dav_href_decode(url, bp ? bp : "/", &dec, &de) == 0 &&
            path_under(buf_str(&dec), folder))
            *att_id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "id"));
        /* the Files app's link by path ("?dir=<folder>&scrollto=<name>") */
        else if (url && link_parse_web(base, url, id, &wp) == LINK_WEB_PATH &&
                 path_under(wp, folder))
            *att_id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(row, "id"));
        free(wp);
    }
    /* the server's web link names a file by its id, not by its path */
    if (rc == 0 && !*att_id)
        rc = apply_linked_by_id(a, c, folder, att_id, e);
out:
    cJSON_Delete(dom);
    cJSON_Delete(rows);
    buf_release(&enc);
    buf_release(&dec);
    return rc;
}

/*
 * The DELETE of an empty folder with If-Match: its ETag failed (412). SabreDAV
 * (Nextcloud, ownCloud) never matches If-Match on a collection, whatever ETag its
 * PROPFIND gave. Still empty with that very ETag: the server does not honour the
 * condition on folders, so delete without it (a file arriving in between is the
 * window every server without conditions has); anything else: ERR_CONFLICT.
 */
static int delete_empty_unguarded(struct apply_conn *c, const char *path, const char *etag,
                                  struct err *e)
{
    struct members m = {path, 0, NULL};
    int rc;

    err_clear(e);
    rc = dav_propfind_ex(c->dav, path, 1, count_member, &m, count_left_out, &m, e);
    if (rc == 0 && (m.n > 0 || !m.etag || strcmp(m.etag, etag) != 0))
        rc = err_set(e, ERR_CONFLICT, "\"%s\" changed since it was found empty", path);
    free(m.etag);
    if (rc < 0)
        return rc;
    return dav_delete(c->dav, path, NULL, e);
}

/*
 * A file is deleted only if it is still the version planned from; a folder only
 * if it still carries the record the job names (see guard_source), never while a
 * live url attachment links into it (checked under the lock: its files are then
 * left alone, and the job is skipped with a note), and a folder whose job expects
 * it empty (JOB_SHA1_EMPTY) only while it is: a file that came in meanwhile (or a
 * move of the merge that failed) keeps it, the next pass decides.
 */
int apply_delete_cloud(struct applier *a, struct apply_conn *c, const struct job *j,
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
    if (st.is_dir && j->record && !apply_streq(j->expect.checksum, JOB_SHA1_EMPTY)) {
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
    if (st.is_dir && apply_streq(j->expect.checksum, JOB_SHA1_EMPTY)) {
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
    apply_before_write(a, j, "delete");
    rc = dav_delete(c->dav, j->path, if_match, e);
    if (rc == ERR_CONFLICT && empty_etag)
        rc = delete_empty_unguarded(c, j->path, empty_etag, e);
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
