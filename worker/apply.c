/*
 * apply: the applier (see apply.h for what every applier guarantees).
 *
 * This file owns the handle and the dispatch: apply_new()/apply_free(), the
 * free list of connections (one WebDAV and one Odoo handle each) that
 * apply_job() borrows for one job and gives back, or drops when the job failed
 * at the transport level so the next job starts on a fresh one; apply_job()
 * itself, which dispatches on the job's kind and side, reports the outcome as
 * an event and logs it; and the helpers the appliers share (apply_int.h):
 * reading an attachment that is a document, its checksum, tagging a cloud
 * entry, the before-write test seam.
 *
 * The appliers, one a job kind and side: apply_cloud.c (mkdir, rename and
 * delete in the cloud, with the guards they re-read under the lock),
 * apply_upload.c (the upload, Odoo -> cloud through a spool file) and
 * apply_odoo.c (rename, relink and delete in Odoo).
 */
#include "apply.h"
#include "apply_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "att.h"

#include "banned.h"

int apply_new(struct applier **out, const struct apply_opts *o, struct err *e)
{
    struct applier *a = calloc(1, sizeof(*a));

    if (!a)
        return err_set(e, ERR_NOMEM, "out of memory");
    a->o = *o;
    if (apply_batch_new(&a->batch) < 0 || apply_bulk_new(&a->bulk) < 0) {
        apply_batch_free(a->batch);
        free(a);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return 0;
}

static void conn_free(struct apply_conn *c)
{
    if (!c)
        return;
    free(c->made_url);
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
    apply_batch_free(a->batch);
    apply_bulk_free(a->bulk);
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
    c->a = a;
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

const char *apply_jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int apply_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

int apply_is_doc(const struct dav_stat *st, const struct job *j)
{
    char a[LINK_FILEID_MAX], b[LINK_FILEID_MAX];

    if (apply_streq(st->document_tag, j->doc))
        return 1;
    /* untagged, and the entry the plan told by its file id (its tag did not follow) */
    return (!st->document_tag || !*st->document_tag) && j->doc && j->fileid && st->fileid &&
           link_fileid_norm(st->fileid, a) && link_fileid_norm(j->fileid, b) && strcmp(a, b) == 0;
}

/*
 * Reads one attachment; *att is NULL (and 0 returned) when it is gone, and
 * also when it is not a document (att.h: a binary field's storage, an asset,
 * ...): a job never acts on those, *technical is then set.
 */
int apply_att_read_doc(struct apply_conn *c, long id, int with_datas, cJSON **att, int *technical,
                       struct err *e)
{
    const cJSON *rid, *pub;
    int rc;

    *technical = 0;
    rc = apply_att_read(c, id, with_datas, att, e);
    if (rc < 0 || !*att)
        return rc;
    rid = cJSON_GetObjectItemCaseSensitive(*att, "res_id");
    pub = cJSON_GetObjectItemCaseSensitive(*att, "public");
    if (att_technical(apply_jstr(*att, "type"), apply_jstr(*att, "url"),
                      apply_jstr(*att, "res_model"),
                      cJSON_IsNumber(rid) ? (long)rid->valuedouble : 0,
                      apply_jstr(*att, "res_field"), cJSON_IsTrue(pub))) {
        cJSON_Delete(*att);
        *att = NULL;
        *technical = 1;
    }
    return 0;
}

/* The attachment's sha1; an empty one may have none, and is the sha1 of nothing. */
const char *apply_att_checksum(const cJSON *att)
{
    const char *sum = apply_jstr(att, "checksum");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(att, "file_size");

    if ((!sum || !*sum) && cJSON_IsNumber(size) && size->valuedouble == 0)
        return "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    return sum;
}

void apply_before_write(const struct applier *a, const struct job *j, const char *what)
{
    if (a->o.before_write)
        a->o.before_write(j, what, a->o.before_write_ud);
}

int apply_tag(struct dav *d, const char *path, const char *name, const char *value, struct err *e)
{
    int rc = dav_proppatch(d, path, name, value, e);

    if (rc < 0)
        err_prefix(e, "tag \"%s\" %s=%s", path, name, value ? value : "(removed)");
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
    long made_att = 0;
    char fileid[LINK_FILEID_MAX] = "";
    char *made_url = NULL;
    long long t0 = now_ms();
    int rc;

    rc = conn_get(a, &c, e);
    if (rc < 0)
        goto out;
    if (!c) { /* conn_get() sets c on success; said for the optimiser's null check */
        rc = err_set(e, ERR_NOMEM, "no connection");
        goto out;
    }
    c->made_att = 0;
    c->fileid[0] = '\0';
    free(c->made_url);
    c->made_url = NULL;
    switch (j->kind) {
    case JOB_MKDIR:
        rc = apply_mkdir(c, j, &res, e);
        break;
    case JOB_UPLOAD:
        rc = apply_upload(a, c, j, &res, e);
        break;
    case JOB_RENAME:
        rc = j->side == JOB_SIDE_CLOUD ? apply_rename_cloud(a, c, j, &res, e)
                                       : apply_rename_odoo(c, j, &res, e);
        break;
    case JOB_RELINK:
        rc = apply_relink(c, j, &res, e);
        break;
    case JOB_DELETE:
        rc = j->side == JOB_SIDE_CLOUD ? apply_delete_cloud(a, c, j, &res, e)
                                       : apply_delete_odoo(c, j, &res, e);
        break;
    default:
        rc = err_set(e, ERR_INVALID, "unknown job kind %d", (int)j->kind);
    }
out:
    if (c) {
        made_att = c->made_att;
        memcpy(fileid, c->fileid, sizeof(fileid));
        made_url = c->made_url;
        c->made_url = NULL;
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
        ev.att_id = made_att;
        ev.fileid = fileid[0] ? fileid : NULL;
        if (j->kind == JOB_RENAME) {
            ev.old_value = j->side == JOB_SIDE_CLOUD ? j->path : NULL;
            ev.new_value = j->side == JOB_SIDE_CLOUD ? j->to : j->name;
        } else if (j->kind == JOB_RELINK || j->kind == JOB_UPLOAD) {
            ev.new_value = made_url ? made_url : j->url;
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
    free(made_url);
    return rc;
}
