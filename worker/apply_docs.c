/*
 * apply_docs: the Odoo-side applier of Odoo's Documents app: a new cloud folder or file
 * under a mapped folder becomes a Documents folder or document (a relink odoo job with
 * att_id 0 and doc = the Documents folder it goes into, plan_docs.h).
 *
 * Under the lock it looks again: the entry gone (skipped) or already tagged {urn:odoosync}
 * document (done). A folder becomes a documents.folder (16/17: parent_folder_id) or a
 * documents.document of type folder (18/19: folder_id); a file a documents.document in
 * that folder with its content. The content is read from the cloud into a spool file
 * (unlinked at once; its sha1 on the way) and streamed from there into the create or
 * write, base64-encoded as Odoo's JSON API wants it (odoo_create_stream): neither the
 * bytes nor their base64 are held in memory. Odoo takes a request of at most 128 MiB by
 * default (odoo.max_request), so about 96 MiB of content: a larger file is refused with a
 * message before anything is read or sent, nothing half-written. Then the cloud entry is
 * tagged with the new record. A create whose tag
 * was lost (a worker killed between the two) is not repeated: a folder or document of
 * that name in that folder (a file: with the same sha1) is adopted and tagged. A file
 * gets {urn:odoosync}synced too (a tagged file found without it, after a kill between
 * the two, gets it when its bytes are its document's). apply_docs_update copies a file edited in
 * the cloud.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "apply.h"
#include "apply_int.h"
#include "buf.h"
#include "sha.h"

#include "banned.h"

/* A cloud file's content in an unlinked spool file, with its sha1. */
struct spool {
    FILE *f;
    long long n;
    struct sha1_ctx ctx;
    int hashing, failed;
};

static size_t spool_write(const char *p, size_t n, void *ud)
{
    struct spool *s = ud;
    struct err e = ERR_INIT;

    if (fwrite(p, 1, n, s->f) != n || sha1_update(&s->ctx, p, n, &e) < 0) {
        s->failed = 1;
        return 0;
    }
    s->n += (long long)n;
    return n;
}

static size_t spool_read(char *buf, size_t n, void *ud)
{
    struct spool *s = ud;
    size_t got = fread(buf, 1, n, s->f);

    return got == 0 && ferror(s->f) ? ODOO_READ_ABORT : got;
}

static int spool_rewind(void *ud)
{
    struct spool *s = ud;

    return fseek(s->f, 0, SEEK_SET) == 0 ? 0 : ERR_IO;
}

static void spool_close(struct spool *s)
{
    if (s->f)
        fclose(s->f);
    if (s->hashing)
        sha1_release(&s->ctx);
    memset(s, 0, sizeof(*s));
}

/* GET path into a new spool file; its sha1 into sha. */
static int spool_fetch(struct apply_conn *c, const char *path, struct spool *s,
                       char sha[SHA1_HEX_SIZE], struct err *e)
{
    const char *dir = c->a->o.tmpdir;
    char tmpl[4096];
    int fd, rc;

    memset(s, 0, sizeof(*s));
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(tmpl, sizeof(tmpl), "%s/odoosync-docs-XXXXXX", dir);
    fd = mkstemp(tmpl);
    if (fd < 0)
        return err_set(e, ERR_IO, "cannot create a spool file in \"%s\": %s", dir, strerror(errno));
    unlink(tmpl); /* nothing left behind, whatever happens next */
    s->f = fdopen(fd, "w+b");
    if (!s->f) {
        close(fd);
        return err_set(e, ERR_IO, "fdopen: %s", strerror(errno));
    }
    rc = sha1_init(&s->ctx, e);
    if (rc < 0)
        return rc;
    s->hashing = 1;
    rc = dav_get(c->dav, path, spool_write, s, NULL, e);
    if (rc == 0 && (s->failed || fflush(s->f) != 0))
        rc = err_set(e, ERR_IO, "spool file: %s", strerror(errno));
    if (rc == 0)
        rc = sha1_final(&s->ctx, sha, e);
    s->hashing = 0;
    return rc;
}

/* Whether a file of size bytes can go to Odoo in one request: else the message, ERR_TOO_BIG. */
static int fits(struct apply_conn *c, const char *path, long long size, const char *what,
                struct err *e)
{
    size_t limit;

    if (odoo_stream_fits(c->odoo, size, &limit))
        return 0;
    return err_set(e, ERR_TOO_BIG,
                   "\"%s\" holds %lld bytes: over what Odoo's JSON API takes (its content "
                   "goes base64-encoded in one request of at most %zu bytes); %s",
                   path, size, limit, what);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* An existing record of model in the parent called name (a file: with that sha1), or 0. */
static long find_existing(struct apply_conn *c, const char *model, const char *parent_field,
                          long parent, const char *name, const char *sha1, int folder18,
                          struct err *e)
{
    cJSON *dom = cJSON_CreateArray(), *rows = NULL;
    static const char *const fields[] = {"name", "checksum", NULL};
    static const char *const ffields[] = {"name", NULL};
    const cJSON *row;
    char leaf[512];
    long found = 0;
    int rc;

    if (!dom)
        return ERR_NOMEM;
    snprintf(leaf, sizeof(leaf), "[\"%s\", \"=\", %ld]", parent_field, parent);
    cJSON_AddItemToArray(dom, cJSON_Parse(leaf));
    {
        cJSON *l = cJSON_CreateArray();
        cJSON_AddItemToArray(l, cJSON_CreateString("name"));
        cJSON_AddItemToArray(l, cJSON_CreateString("="));
        cJSON_AddItemToArray(l, cJSON_CreateString(name));
        cJSON_AddItemToArray(dom, l);
    }
    if (folder18 >= 0 && strcmp(model, "documents.document") == 0) {
        cJSON *l = cJSON_CreateArray();
        cJSON_AddItemToArray(l, cJSON_CreateString("type"));
        cJSON_AddItemToArray(l, cJSON_CreateString(folder18 ? "=" : "!="));
        cJSON_AddItemToArray(l, cJSON_CreateString("folder"));
        cJSON_AddItemToArray(dom, l);
    }
    rc = odoo_search_read(c->odoo, model, dom, sha1 ? fields : ffields, 0, 20, "id", &rows, e);
    cJSON_Delete(dom);
    if (rc < 0)
        return rc;
    cJSON_ArrayForEach(row, rows)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(row, "id");
        if (!cJSON_IsNumber(id))
            continue;
        if (sha1 && !apply_streq(apply_jstr(row, "checksum"), sha1))
            continue;
        found = (long)id->valuedouble;
        break;
    }
    cJSON_Delete(rows);
    return found;
}

static const char *etag_opaque(const char *t)
{
    return t && t[0] == 'W' && t[1] == '/' ? t + 2 : t;
}

/*
 * A Documents file edited in the cloud (relink odoo, doc = the document, att_id > 0):
 * the cloud file must still be the version planned from (expect.etag) and the document's
 * content in Odoo still the one planned from (expect.checksum), else the job is skipped
 * (the next pass sees a conflict, or nothing to do); then the cloud's bytes are written
 * into the document, and the file marked synced. A document that already holds exactly
 * the cloud's bytes (an earlier attempt wrote them, then was killed before the mark) is
 * only marked: done.
 */
int apply_docs_update(struct apply_conn *c, const struct job *j, enum job_result *res,
                      struct err *e)
{
    struct dav_stat st;
    struct spool sp;
    const char *comma = j->doc ? strrchr(j->doc, ',') : NULL;
    static const char *const fields[] = {"checksum", "active", NULL};
    char sha[SHA1_HEX_SIZE];
    cJSON *rows = NULL, *vals = NULL;
    long id = comma ? strtol(comma + 1, NULL, 10) : 0;
    const char *odoo_sum;
    int rc;

    memset(&st, 0, sizeof(st));
    memset(&sp, 0, sizeof(sp));
    rc = dav_stat(c->dav, j->path, &st, e);
    if (rc == ERR_NOTFOUND ||
        (rc == 0 && (!apply_is_doc(&st, j) ||
                     !apply_streq(etag_opaque(st.etag), etag_opaque(j->expect.etag))))) {
        err_clear(e);
        *res = JOB_SKIPPED;
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    rc = odoo_read(c->odoo, "documents.document", &id, 1, fields, &rows, e);
    if (rc < 0)
        goto out;
    if (cJSON_GetArraySize(rows) != 1) {
        *res = JOB_SKIPPED; /* gone in Odoo meanwhile: the next pass decides */
        goto out;
    }
    odoo_sum = apply_jstr(cJSON_GetArrayItem(rows, 0), "checksum");
    if (!apply_streq(odoo_sum, j->expect.checksum) && st.size > odoo_stream_max(c->odoo)) {
        *res = JOB_SKIPPED; /* edited in Odoo meanwhile: the next pass decides */
        goto out;
    }
    rc = fits(c, j->path, st.size, "not copied to Odoo", e);
    if (rc == 0)
        rc = spool_fetch(c, j->path, &sp, sha, e);
    if (rc == 0)
        rc = fits(c, j->path, sp.n, "not copied to Odoo", e);
    if (rc < 0)
        goto out;
    if (!apply_streq(odoo_sum, j->expect.checksum)) {
        /* Odoo holds exactly the cloud's bytes: this job's earlier attempt wrote them and
         * was stopped (a SIGKILL) before the mark; else edited in Odoo meanwhile: the next
         * pass decides (a conflict) */
        if (apply_streq(odoo_sum, sha)) {
            rc = apply_mark_synced(c, j->path, sha, st.etag, e);
            *res = JOB_ALREADY_DONE;
        } else {
            *res = JOB_SKIPPED;
        }
        goto out;
    }
    vals = cJSON_CreateObject();
    if (!vals) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    {
        struct odoo_stream os = {spool_read, spool_rewind, &sp, sp.n};
        rc = odoo_write_stream(c->odoo, "documents.document", id, vals, "datas", &os, e);
    }
    if (rc == 0 && !apply_streq(st.document_tag, j->doc)) /* told by its file id */
        rc = apply_tag(c->dav, j->path, "document", j->doc, e);
    if (rc == 0)
        rc = apply_mark_synced(c, j->path, sha, st.etag, e);
out:
    cJSON_Delete(rows);
    cJSON_Delete(vals);
    spool_close(&sp);
    dav_stat_release(&st);
    return rc;
}

/*
 * Whether the Documents folder id (16/17: a documents.folder, else a documents.document of
 * type folder) holds an active document or sub-folder: 1, 0, or an error.
 */
static int docs_folder_busy(struct apply_conn *c, int folder16, long id, struct err *e)
{
    static const char *const what[][2] = {{"documents.document", "folder_id"},
                                          {"documents.folder", "parent_folder_id"}};
    char dom[96];

    for (int k = 0; k < (folder16 ? 2 : 1); k++) {
        cJSON *d;
        long n = 0;
        int rc;

        snprintf(dom, sizeof(dom), "[[\"%s\", \"=\", %ld]]", what[k][1], id);
        d = cJSON_Parse(dom);
        if (!d)
            return err_set(e, ERR_NOMEM, "out of memory");
        rc = odoo_search_count(c->odoo, what[k][0], d, &n, e);
        cJSON_Delete(d);
        if (rc < 0)
            return rc;
        if (n > 0)
            return 1;
    }
    return 0;
}

/*
 * A Documents file deleted in the cloud (delete odoo, doc = the document): the document is
 * archived (Odoo's trash: it can come back), only while its content is still the one the
 * plan saw (expect.checksum); an edit in Odoo since wins (skipped: the next pass uploads it
 * again). A Documents folder deleted in the cloud (doc = the folder, expect.checksum =
 * JOB_SHA1_EMPTY; the plan archives what it holds first): archived only while it holds
 * nothing active, else skipped (something came in meanwhile: the next pass decides).
 */
int apply_docs_archive(struct apply_conn *c, const struct job *j, enum job_result *res,
                       struct err *e)
{
    static const char *const fields[] = {"checksum", "active", "type", NULL};
    static const char *const ffields[] = {"active", NULL};
    const char *comma = j->doc ? strrchr(j->doc, ',') : NULL;
    int folder16 = j->doc && strncmp(j->doc, "documents.folder,", 17) == 0;
    const char *model = folder16 ? "documents.folder" : "documents.document";
    long id = comma ? strtol(comma + 1, NULL, 10) : 0;
    cJSON *rows = NULL, *vals = NULL;
    const cJSON *row;
    int rc = odoo_read(c->odoo, model, &id, 1, folder16 ? ffields : fields, &rows, e);

    if (rc < 0)
        goto out;
    row = cJSON_GetArrayItem(rows, 0);
    if (!row || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "active"))) {
        *res = JOB_ALREADY_DONE;
        goto out;
    }
    if (folder16 || apply_streq(apply_jstr(row, "type"), "folder")) {
        rc = docs_folder_busy(c, folder16, id, e);
        if (rc != 0) {
            if (rc > 0)
                *res = JOB_SKIPPED;
            rc = rc < 0 ? rc : 0;
            goto out;
        }
    } else if (j->expect.checksum &&
               !apply_streq(apply_jstr(row, "checksum"), j->expect.checksum)) {
        *res = JOB_SKIPPED;
        goto out;
    }
    vals = cJSON_CreateObject();
    if (!vals || !cJSON_AddFalseToObject(vals, "active")) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = odoo_write(c->odoo, model, &id, 1, vals, e);
out:
    cJSON_Delete(rows);
    cJSON_Delete(vals);
    return rc;
}

/*
 * A Documents file or folder renamed or moved in the cloud (rename odoo, doc = the document
 * or folder, name = its new name, record = the Documents folder it is in now): it follows,
 * only while it is still as planned (expect.write_date): an edit in Odoo since wins.
 */
int apply_docs_move(struct apply_conn *c, const struct job *j, enum job_result *res, struct err *e)
{
    static const char *const ffields[] = {"write_date", "name", "parent_folder_id", NULL};
    static const char *const fields[] = {"write_date", "name", "folder_id", NULL};
    const char *comma = j->doc ? strrchr(j->doc, ',') : NULL;
    /* 16/17's folders are documents.folder (parent_folder_id); the rest documents.document */
    int folder16 = j->doc && strncmp(j->doc, "documents.folder,", 17) == 0;
    const char *model = folder16 ? "documents.folder" : "documents.document";
    const char *pfield = folder16 ? "parent_folder_id" : "folder_id";
    const char *pc = j->record ? strrchr(j->record, ',') : NULL;
    long id = comma ? strtol(comma + 1, NULL, 10) : 0;
    long folder = pc ? strtol(pc + 1, NULL, 10) : 0;
    cJSON *rows = NULL, *vals = NULL;
    const cJSON *row;
    int rc;

    if (!id || !folder || !j->name)
        return err_set(e, ERR_INVALID, "Documents move job without its document, folder or name");
    rc = odoo_read(c->odoo, model, &id, 1, folder16 ? ffields : fields, &rows, e);
    if (rc < 0)
        goto out;
    row = cJSON_GetArrayItem(rows, 0);
    if (!row) {
        *res = JOB_SKIPPED; /* deleted in Odoo meanwhile */
        goto out;
    }
    if (apply_streq(apply_jstr(row, "name"), j->name)) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(row, pfield);
        const cJSON *fid = cJSON_IsArray(f) ? cJSON_GetArrayItem(f, 0) : f;
        if (cJSON_IsNumber(fid) && (long)fid->valuedouble == folder) {
            *res = JOB_ALREADY_DONE;
            goto out;
        }
    }
    if (j->expect.write_date && !apply_streq(apply_jstr(row, "write_date"), j->expect.write_date)) {
        *res = JOB_SKIPPED; /* changed in Odoo since planned: the next pass decides */
        goto out;
    }
    vals = cJSON_CreateObject();
    if (!vals || !cJSON_AddStringToObject(vals, "name", j->name) ||
        !cJSON_AddNumberToObject(vals, pfield, (double)folder)) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = odoo_write(c->odoo, model, &id, 1, vals, e);
out:
    cJSON_Delete(rows);
    cJSON_Delete(vals);
    return rc;
}

/*
 * A tagged Documents file without its {urn:odoosync}synced mark (st: its stat): marked
 * synced when its bytes are exactly its document's content in Odoo; left as is otherwise
 * (a file larger than Odoo takes, odoo_stream_max, is not read).
 */
static int mark_if_same(struct apply_conn *c, const char *path, const struct dav_stat *st,
                        struct err *e)
{
    static const char *const fields[] = {"checksum", NULL};
    const char *comma = strrchr(st->document_tag, ',');
    long id = comma ? strtol(comma + 1, NULL, 10) : 0;
    char sha[SHA1_HEX_SIZE];
    struct spool sp;
    cJSON *rows = NULL;
    int rc;

    if (id <= 0 || strncmp(st->document_tag, "documents.document,", 19) != 0 ||
        st->size > odoo_stream_max(c->odoo))
        return 0;
    memset(&sp, 0, sizeof(sp));
    rc = odoo_read(c->odoo, "documents.document", &id, 1, fields, &rows, e);
    if (rc == 0)
        rc = spool_fetch(c, path, &sp, sha, e);
    if (rc == 0 && cJSON_GetArraySize(rows) == 1 &&
        apply_streq(apply_jstr(cJSON_GetArrayItem(rows, 0), "checksum"), sha))
        rc = apply_mark_synced(c, path, sha, st->etag, e);
    cJSON_Delete(rows);
    spool_close(&sp);
    return rc;
}

int apply_docs_create(struct apply_conn *c, const struct job *j, enum job_result *res,
                      struct err *e)
{
    struct dav_stat st;
    struct spool sp;
    char pmodel[64], tag[96], sha[SHA1_HEX_SIZE];
    const char *comma = j->doc ? strrchr(j->doc, ',') : NULL;
    const char *model, *parent_field, *name;
    cJSON *vals = NULL;
    long parent, id = 0;
    int rc, shape16;

    memset(&st, 0, sizeof(st));
    memset(&sp, 0, sizeof(sp));
    if (!comma || (size_t)(comma - j->doc) >= sizeof(pmodel) || !j->path)
        return err_set(e, ERR_INVALID, "Documents create job without its folder (doc)");
    snprintf(pmodel, sizeof(pmodel), "%.*s", (int)(comma - j->doc), j->doc);
    parent = strtol(comma + 1, NULL, 10);
    shape16 = strcmp(pmodel, "documents.folder") == 0;
    name = j->name ? j->name : base_name(j->path);
    rc = dav_stat(c->dav, j->path, &st, e);
    if (rc == ERR_NOTFOUND) {
        err_clear(e);
        *res = JOB_SKIPPED; /* gone from the cloud meanwhile */
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    if (st.document_tag && *st.document_tag && !apply_streq(st.document_tag, j->record)) {
        /* tagged: done (j->record names a tag to replace: the file of a document that is
         * gone or in conflict, which becomes a document of its own); an attempt killed
         * between the tag and the mark left the file unmarked: marked now */
        *res = JOB_ALREADY_DONE;
        if (!st.is_dir && (!st.synced_tag || !*st.synced_tag))
            rc = mark_if_same(c, j->path, &st, e);
        goto out;
    }
    vals = cJSON_CreateObject();
    if (!vals) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    cJSON_AddStringToObject(vals, "name", name);
    if (st.is_dir) {
        model = shape16 ? "documents.folder" : "documents.document";
        parent_field = shape16 ? "parent_folder_id" : "folder_id";
        if (!shape16)
            cJSON_AddStringToObject(vals, "type", "folder");
        sha[0] = '\0';
    } else {
        model = "documents.document";
        parent_field = "folder_id";
        rc = fits(c, j->path, st.size, "not created in Odoo", e);
        if (rc == 0)
            rc = spool_fetch(c, j->path, &sp, sha, e);
        if (rc == 0)
            rc = fits(c, j->path, sp.n, "not created in Odoo", e);
        if (rc < 0)
            goto out;
    }
    cJSON_AddNumberToObject(vals, parent_field, (double)parent);
    id = find_existing(c, model, parent_field, parent, name, st.is_dir ? NULL : sha,
                       st.is_dir ? 1 : 0, e);
    if (id < 0) {
        rc = (int)id;
        goto out;
    }
    if (id == 0) {
        struct odoo_stream os = {spool_read, spool_rewind, &sp, sp.n};
        rc = st.is_dir ? odoo_create(c->odoo, model, vals, &id, e)
                       : odoo_create_stream(c->odoo, model, vals, "datas", &os, &id, e);
        if (rc < 0)
            goto out;
    }
    snprintf(tag, sizeof(tag), "%s,%ld", model, id);
    rc = apply_tag(c->dav, j->path, "document", tag, e);
    if (rc == 0 && !st.is_dir)
        rc = apply_mark_synced(c, j->path, sha, st.etag, e);
out:
    cJSON_Delete(vals);
    spool_close(&sp);
    dav_stat_release(&st);
    return rc;
}
