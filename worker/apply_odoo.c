/*
 * apply_odoo: the appliers that change Odoo's attachments: rename, relink
 * (point one at a cloud file or folder, under a record or stand-alone, creating
 * it when the job names none) and delete (see apply.h).
 *
 * Each re-reads the attachment under the job's lock before it writes: one that
 * is gone, or no longer a document (att.h), is not touched; one that already
 * is what the job would make it is "already done"; one whose write_date moved
 * since the plan is a conflict for a rename or delete (retried) and superseded
 * for a relink (unless an earlier attempt of the same job made the change). A
 * relink tags the cloud entry with the attachment's id first: the link lives
 * with the data, and an entry gone meanwhile undoes a link just created.
 */
#include "apply.h"
#include "apply_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

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

/* The attachment (re-read under the lock) is not at the write_date the job was planned
 * from: Odoo changed it since. */
static int changed_since_planned(const cJSON *att, const struct job *j)
{
    return j->expect.write_date &&
           !apply_streq(apply_jstr(att, "write_date"), j->expect.write_date);
}

int apply_rename_odoo(struct apply_conn *c, const struct job *j, enum job_result *res,
                      struct err *e)
{
    cJSON *att = NULL;
    cJSON *vals = NULL;
    int technical;
    int rc;

    if (j->doc) /* Odoo's Documents app: a file renamed or moved in the cloud */
        return apply_docs_move(c, j, res, e);

    rc = apply_att_read_doc(c, j->att_id, 0, &att, &technical, e);
    if (rc < 0)
        goto out;
    if (!att) {
        *res = JOB_SKIPPED; /* gone, or not a document (att.h) */
        goto out;
    }
    if (apply_streq(apply_jstr(att, "name"), j->name) &&
        (!j->url || apply_streq(apply_jstr(att, "url"), j->url))) {
        *res = JOB_ALREADY_DONE;
        goto out;
    }
    if (changed_since_planned(att, j)) {
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
    const char *m = apply_jstr(att, "res_model");
    long id = cJSON_IsNumber(rid) ? (long)rid->valuedouble : 0;

    if (!apply_streq(apply_jstr(att, "type"), "url") ||
        !apply_streq(apply_jstr(att, "url"), j->url ? j->url : ""))
        return 0;
    if (j->name && !apply_streq(apply_jstr(att, "name"), j->name))
        return 0;
    if (model[0])
        return apply_streq(m, model) && id == res_id;
    return (!m || !*m) && id == 0;
}

int apply_relink(struct apply_conn *c, const struct job *j, enum job_result *res, struct err *e)
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

    if (j->doc) /* Odoo's Documents app: new content of a document, or a new document */
        return j->att_id > 0 ? apply_docs_update(c, j, res, e) : apply_docs_create(c, j, res, e);
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
        rc = apply_att_read_doc(c, att_id, 0, &att, &technical, e);
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
        if (changed_since_planned(att, j) && !relink_done(att, j, model, res_id)) {
            *res = JOB_SKIPPED;
            goto out;
        }
        /* The file must be there (and carry the id) before the attachment points at it. */
        if (j->path) {
            snprintf(idbuf, sizeof(idbuf), "%ld", att_id);
            rc = apply_tag(c->dav, j->path, "attachment", idbuf, e);
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
        rc = apply_tag(c->dav, j->path, "attachment", idbuf, e);
        if (rc == ERR_NOTFOUND) {
            /* The new file went away after planning: undo the link we just made. */
            err_clear(e);
            rc = odoo_unlink(c->odoo, "ir.attachment", &att_id, 1, e);
            *res = JOB_SKIPPED;
        }
    }
out:
    if (rc == 0 && j->att_id == 0 && att_id > 0 && *res != JOB_SKIPPED)
        c->made_att = att_id;
    cJSON_Delete(att);
    cJSON_Delete(dom);
    cJSON_Delete(vals);
    free(ids);
    return rc;
}

int apply_delete_odoo(struct apply_conn *c, const struct job *j, enum job_result *res,
                      struct err *e)
{
    cJSON *att = NULL;
    int technical;
    int rc;

    if (j->doc) /* Odoo's Documents app: a file deleted in the cloud */
        return apply_docs_archive(c, j, res, e);
    rc = apply_att_read_doc(c, j->att_id, 0, &att, &technical, e);
    if (rc < 0)
        goto out;
    if (!att) {
        /* gone: done; not a document (att.h): never deleted */
        *res = technical ? JOB_SKIPPED : JOB_ALREADY_DONE;
        goto out;
    }
    if (changed_since_planned(att, j)) {
        rc = err_set(e, ERR_CONFLICT, "attachment %ld changed since planned", j->att_id);
        goto out;
    }
    rc = apply_att_unlink(c, j->att_id, e);
    if (rc == ERR_NOTFOUND) {
        err_clear(e);
        rc = 0;
        *res = JOB_ALREADY_DONE;
    }
out:
    cJSON_Delete(att);
    return rc;
}
