/*
 * test_apply_guards: what the appliers (worker/apply.c) re-read under the lock
 * before they write to Odoo, against the stack's Apache WebDAV and Odoo emulator.
 *
 * 1. relink of an existing attachment planned against a write_date that has
 *    changed since (someone edited the attachment in Odoo): superseded
 *    (skipped), the attachment keeps its values; planned against the current
 *    write_date: applied; run again (its own write moved the write_date):
 *    already done, not superseded.
 * 2. attachments that are not documents (common/att.h): a partner's picture
 *    (image_1920, stored as an attachment with res_field set) and a binary
 *    attachment with a url (an asset): upload, rename, relink and delete jobs
 *    naming them are skipped and change nothing, in Odoo or in the cloud.
 * 3. Odoo's Documents app: an upload of a document's new content (expect.etag: the
 *    version it replaces) whose cloud file is gone since planned (moved with its
 *    folder, deleted) is skipped and creates nothing; an upload of a new document whose
 *    folder is gone is skipped and does not make the folder (an untagged folder would
 *    become a new Documents folder): the next pass decides.
 * 4. an upload whose path holds a file tagged with its attachment (its earlier
 *    upload, whose url conversion failed) is done only when that file holds what
 *    Odoo holds now. An older content (the attachment was edited in Odoo since)
 *    is not taken for it: both stay, the attachment binary with its new content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applytest.h"
#include "check.h"

struct ctx {
    struct check_count *cc;
    struct at_env t;
    struct dav *dav;
    struct odoo *odoo;
    struct applier *ap;
    char root[128];
    long partner;
    int last;
};

static void on_event(const struct job *j, const struct job_event *ev, void *ud)
{
    struct ctx *x = ud;

    (void)j;
    x->last = (int)ev->result;
}

/* Run j; its outcome (JOB_*), or -1 when apply_job failed. */
static int run(struct ctx *x, struct job *j)
{
    struct err e = ERR_INIT;
    int rc;

    x->last = -1;
    rc = apply_job(j, x->ap, &e);
    if (rc < 0) {
        fprintf(stderr, "  apply_job: %s\n", e.msg);
        return -1;
    }
    return x->last;
}

/* One field of attachment id as a string into out ("" when False or gone). */
static void att_field(struct ctx *x, long id, const char *field, char *out, size_t cap)
{
    const char *fields[] = {field, NULL};
    cJSON *recs = NULL;
    const cJSON *v;
    struct err e = ERR_INIT;

    out[0] = '\0';
    if (odoo_read(x->odoo, "ir.attachment", &id, 1, fields, &recs, &e) < 0)
        return;
    v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(recs, 0), field);
    if (cJSON_IsString(v))
        snprintf(out, cap, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(out, cap, "%ld", (long)v->valuedouble);
    cJSON_Delete(recs);
}

static void relink_job(struct ctx *x, struct job *j, long att, const char *path, const char *name,
                       const char *write_date)
{
    char rec[64];
    struct buf u;
    struct err e = ERR_INIT;

    at_job_base(j, JOB_RELINK, JOB_SIDE_ODOO, path, path, 1);
    j->att_id = att;
    j->name = strdup(name);
    snprintf(rec, sizeof(rec), "res.partner,%ld", x->partner);
    j->record = strdup(rec);
    buf_init(&u, 8192);
    if (dav_path_to_url(x->dav, path, &u, &e) == 0)
        j->url = strndup(u.data, u.len);
    buf_release(&u);
    if (write_date)
        j->expect.write_date = strdup(write_date);
    job_make_id(j);
}

static void test_relink_write_date(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct err e = ERR_INIT;
    struct job j;
    char path[256], planned[32], now[32], v[512];
    long att = 0;
    cJSON *vals;

    snprintf(path, sizeof(path), "%s/moved.txt", x->root);
    CHECK_INT(cc, dav_put_buf(x->dav, path, "moved", 5, NULL, 0, NULL, &e), 0);
    CHECK_MSG(cc, at_attach(x->odoo, x->partner, "old name.txt", "moved", &att, &e) == 0, "%s",
              e.msg);
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "type", "url");
    cJSON_AddStringToObject(vals, "url", "https://elsewhere.example/old");
    CHECK_INT(cc, odoo_write(x->odoo, "ir.attachment", &att, 1, vals, &e), 0);
    cJSON_Delete(vals);
    att_field(x, att, "write_date", planned, sizeof(planned));
    /* the planner saw `planned`; then someone edits the attachment in Odoo */
    sleep(1); /* write_date has a second's resolution */
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "description", "edited in Odoo after planning");
    CHECK_INT(cc, odoo_write(x->odoo, "ir.attachment", &att, 1, vals, &e), 0);
    cJSON_Delete(vals);
    att_field(x, att, "write_date", now, sizeof(now));
    CHECK(cc, strcmp(planned, now) != 0);

    relink_job(x, &j, att, path, "moved.txt", planned);
    CHECK_INT(cc, run(x, &j), JOB_SKIPPED);
    job_release(&j);
    att_field(x, att, "url", v, sizeof(v));
    CHECK_STR(cc, v, "https://elsewhere.example/old");
    att_field(x, att, "name", v, sizeof(v));
    CHECK_STR(cc, v, "old name.txt");

    /* planned against what Odoo holds: applied; again (its own write moved it): done */
    relink_job(x, &j, att, path, "moved.txt", now);
    CHECK_INT(cc, run(x, &j), JOB_APPLIED);
    att_field(x, att, "name", v, sizeof(v));
    CHECK_STR(cc, v, "moved.txt");
    att_field(x, att, "url", v, sizeof(v));
    CHECK_STR(cc, v, j.url ? j.url : "?");
    sleep(1);
    CHECK(cc, run(x, &j) != JOB_SKIPPED);
    job_release(&j);
}

static void test_not_documents(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct err e = ERR_INIT;
    struct dav_stat st;
    struct job j;
    char path[256], v[512], wd[32];
    long *ids = NULL, asset = 0;
    size_t n = 0;
    cJSON *vals, *dom;

    /* a partner picture: image_1920 and image_128 attachments with res_field set */
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "image_1920",
                            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+"
                            "M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==");
    CHECK_INT(cc, odoo_write(x->odoo, "res.partner", &x->partner, 1, vals, &e), 0);
    cJSON_Delete(vals);
    dom = cJSON_Parse("[[\"res_model\", \"=\", \"res.partner\"], [\"res_field\", \"=\", "
                      "\"image_1920\"]]");
    cJSON_AddItemToArray(dom, cJSON_Parse("[\"res_id\", \"=\", 0]"));
    cJSON_SetNumberValue(cJSON_GetArrayItem(cJSON_GetArrayItem(dom, 2), 2), (double)x->partner);
    CHECK_INT(cc, odoo_search(x->odoo, "ir.attachment", dom, 0, 1, "id", &ids, &n, &e), 0);
    cJSON_Delete(dom);
    CHECK_INT(cc, (long)n, 1);
    if (n != 1)
        return;
    /* an asset: binary with a url */
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", "web.assets_frontend.min.css");
    cJSON_AddStringToObject(vals, "type", "binary");
    cJSON_AddStringToObject(vals, "datas", "Ym9keXt9");
    cJSON_AddStringToObject(vals, "url", "/web/assets/1/web.assets_frontend.min.css");
    cJSON_AddFalseToObject(vals, "res_model");
    CHECK_INT(cc, odoo_create(x->odoo, "ir.attachment", vals, &asset, &e), 0);
    cJSON_Delete(vals);

    for (int k = 0; k < 2; k++) {
        long att = k == 0 ? ids[0] : asset;
        char before_url[512], before_name[256];

        att_field(x, att, "url", before_url, sizeof(before_url));
        att_field(x, att, "name", before_name, sizeof(before_name));
        att_field(x, att, "write_date", wd, sizeof(wd));
        snprintf(path, sizeof(path), "%s/picture-%d.png", x->root, k);
        at_job_upload(&j, x->dav, path, path, att, "x", 1);
        free(j.expect.checksum);
        j.expect.checksum = NULL;
        CHECK_INT(cc, run(x, &j), JOB_SKIPPED);
        job_release(&j);
        CHECK_INT(cc, dav_stat(x->dav, path, &st, &e), ERR_NOTFOUND);
        dav_stat_release(&st);

        at_job_base(&j, JOB_RENAME, JOB_SIDE_ODOO, path, path, 1);
        j.att_id = att;
        j.name = strdup("renamed.png");
        j.expect.write_date = strdup(wd);
        job_make_id(&j);
        CHECK_INT(cc, run(x, &j), JOB_SKIPPED);
        job_release(&j);

        CHECK_INT(cc, dav_put_buf(x->dav, path, "png", 3, NULL, 0, NULL, &e), 0);
        relink_job(x, &j, att, path, "linked.png", wd);
        CHECK_INT(cc, run(x, &j), JOB_SKIPPED);
        job_release(&j);
        CHECK_INT(cc, dav_stat(x->dav, path, &st, &e), 0);
        CHECK(cc, st.attachment_tag == NULL);
        dav_stat_release(&st);

        at_job_base(&j, JOB_DELETE, JOB_SIDE_ODOO, path, path, 1);
        j.att_id = att;
        j.expect.write_date = strdup(wd);
        job_make_id(&j);
        CHECK_INT(cc, run(x, &j), JOB_SKIPPED);
        job_release(&j);

        att_field(x, att, "id", v, sizeof(v));
        CHECK_MSG(cc, atol(v) == att, "attachment %ld deleted", att);
        att_field(x, att, "type", v, sizeof(v));
        CHECK_STR(cc, v, "binary");
        att_field(x, att, "url", v, sizeof(v));
        CHECK_STR(cc, v, before_url);
        att_field(x, att, "name", v, sizeof(v));
        CHECK_STR(cc, v, before_name);
    }
    free(ids);
}

static void test_docs_upload_gone(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct err e = ERR_INIT;
    struct dav_stat st;
    struct job j;
    char path[256], dir[256], tag[64];
    long folder = 0, doc = 0, att = 0;
    const char *const fields[] = {"attachment_id", NULL};
    cJSON *vals, *rows = NULL;

    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", "Guarded folder");
    CHECK_MSG(cc, odoo_create(x->odoo, "documents.folder", vals, &folder, &e) == 0, "%s", e.msg);
    cJSON_Delete(vals);
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", "moved.txt");
    cJSON_AddNumberToObject(vals, "folder_id", (double)folder);
    cJSON_AddStringToObject(vals, "datas", "bW92ZWQ="); /* "moved" */
    CHECK_MSG(cc, odoo_create(x->odoo, "documents.document", vals, &doc, &e) == 0, "%s", e.msg);
    cJSON_Delete(vals);
    CHECK_INT(cc, odoo_read(x->odoo, "documents.document", &doc, 1, fields, &rows, &e), 0);
    {
        const cJSON *a =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, 0), "attachment_id");
        const cJSON *id = cJSON_IsArray(a) ? cJSON_GetArrayItem(a, 0) : a;
        att = cJSON_IsNumber(id) ? (long)id->valuedouble : 0;
    }
    cJSON_Delete(rows);
    CHECK(cc, att > 0);
    snprintf(tag, sizeof(tag), "documents.document,%ld", doc);
    for (int k = 0; k < 2; k++) {
        /* k = 0: the new content of a synced file, which the cloud moved away with its
         * folder; k = 1: a new document, whose folder the cloud deleted */
        snprintf(dir, sizeof(dir), "%s/Documents %d", x->root, k);
        snprintf(path, sizeof(path), "%s/moved.txt", dir);
        at_job_upload(&j, x->dav, x->root, path, att, "moved", 1);
        j.doc = strdup(tag);
        if (k == 0)
            j.expect.etag = strdup("\"5-6a1b2c3d4e5f6\"");
        job_make_id(&j);
        CHECK_INT(cc, run(x, &j), JOB_SKIPPED);
        job_release(&j);
        CHECK_INT(cc, dav_stat(x->dav, dir, &st, &e), ERR_NOTFOUND);
        dav_stat_release(&st);
    }
}

/* The cloud file at path as a string into out ("" when unreadable). */
static void cloud_text(struct ctx *x, const char *path, char *out, size_t cap)
{
    struct buf b;
    struct err e = ERR_INIT;

    out[0] = '\0';
    buf_init(&b, 1 << 20);
    if (dav_get_buf(x->dav, path, &b, &e) == 0)
        snprintf(out, cap, "%.*s", (int)b.len, b.data ? b.data : "");
    buf_release(&b);
}

static void test_upload_tagged_older(struct ctx *x)
{
    static const char *const now = "version 2 of the report";
    struct check_count *cc = x->cc;
    struct err e = ERR_INIT;
    struct job j;
    char path[256], id[32], v[256];
    long att = 0;

    snprintf(path, sizeof(path), "%s/report.txt", x->root);
    CHECK_MSG(cc, at_attach(x->odoo, x->partner, "report.txt", now, &att, &e) == 0, "%s", e.msg);
    snprintf(id, sizeof(id), "%ld", att);
    /* its upload of version 1, tagged; the conversion failed; then edited in Odoo */
    CHECK_INT(cc, dav_put_buf(x->dav, path, "version 1", 9, NULL, 0, NULL, &e), 0);
    CHECK_INT(cc, dav_proppatch(x->dav, path, "attachment", id, &e), 0);
    at_job_upload(&j, x->dav, x->root, path, att, now, 1);
    CHECK(cc, run(x, &j) != JOB_ALREADY_DONE);
    job_release(&j);
    att_field(x, att, "type", v, sizeof(v));
    CHECK_STR(cc, v, "binary");
    att_field(x, att, "datas", v, sizeof(v));
    CHECK_STR(cc, v, "dmVyc2lvbiAyIG9mIHRoZSByZXBvcnQ="); /* version 2 of the report */
    cloud_text(x, path, v, sizeof(v));
    CHECK_STR(cc, v, "version 1");

    /* the file holds what Odoo holds: done, and the attachment points at it */
    CHECK_INT(cc, dav_put_buf(x->dav, path, now, strlen(now), NULL, 0, NULL, &e), 0);
    CHECK_INT(cc, dav_proppatch(x->dav, path, "attachment", id, &e), 0);
    at_job_upload(&j, x->dav, x->root, path, att, now, 1);
    CHECK_INT(cc, run(x, &j), JOB_ALREADY_DONE);
    job_release(&j);
    att_field(x, att, "type", v, sizeof(v));
    CHECK_STR(cc, v, "url");
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct ctx x;
    struct err e = ERR_INIT;
    cJSON *vals;

    if (stackenv_load() < 0)
        return 1;
    memset(&x, 0, sizeof(x));
    x.cc = &cc;
    at_env_init(&x.t, "guards");
    snprintf(x.root, sizeof(x.root), "/odoosync-test-guards-%d", (int)getpid());
    CHECK_MSG(&cc, at_apply_open(&x.t, &x.dav, &x.odoo, &x.ap, on_event, &x, &e) == 0, "%s", e.msg);
    if (!x.dav || !x.odoo || !x.ap) {
        at_apply_close(x.dav, x.odoo, x.ap);
        return check_done(&cc);
    }
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", "Guarded Partner");
    CHECK_MSG(&cc, odoo_create(x.odoo, "res.partner", vals, &x.partner, &e) == 0, "%s", e.msg);
    cJSON_Delete(vals);
    CHECK_MSG(&cc, dav_mkcol(x.dav, x.root, 1, NULL, &e) == 0, "%s", e.msg);

    test_relink_write_date(&x);
    test_not_documents(&x);
    test_docs_upload_gone(&x);
    test_upload_tagged_older(&x);

    dav_delete(x.dav, x.root, NULL, &e);
    at_apply_close(x.dav, x.odoo, x.ap);
    return check_done(&cc);
}
