/*
 * apply_batch: the attachment reads, deletes and url conversions of jobs
 * running at the same time, in one Odoo call each (a group commit). A job
 * queues its id and what it wants (its record, its record with the content,
 * its deletion, its conversion into a url attachment); when no call is in
 * flight it becomes the leader: it takes every id queued (at most BATCH_MAX,
 * BATCH_DATAS_MAX of them with their content), makes one call per kind with
 * its own connection (`read`, `read` with `datas`, `unlink`, `load`), hands
 * each job its answer, and wakes them. Ids queued meanwhile go in the next
 * call: no job waits on purpose, and with one job at a time nothing changes.
 *
 * Odoo's `read` leaves out ids that do not exist (a gone attachment: no record,
 * as for a read of one id); any error of a call of several ids (one forbidden
 * or already deleted attachment, a timeout) makes each of its jobs call for its
 * own id alone, so a job sees exactly the answer it would have had without the
 * batch. An `unlink` of several ids is one transaction: all or none.
 *
 * Each attachment's url is its own, and Odoo's `write` gives every id the same
 * values: the conversions of several attachments go in one `load` (Odoo's
 * import, rows of `.id`, type, url and an empty `datas`: a `write` of exactly
 * the values one conversion writes, per row, in one transaction). `load`
 * answers an error of any row (a gone or forbidden attachment) with no ids and
 * keeps nothing of any row: each job then writes its own, as without the batch.
 *
 * Small contents come with the record (`datas`, base64) when the job asks
 * (an upload of at most APPLY_SMALL_CONTENT bytes): its upload needs no download.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_int.h"

#include "banned.h"

#define BATCH_MAX 200
#define BATCH_DATAS_MAX 32 /* x 64 KiB, base64: a few MB per answer at most */

enum { OP_META, OP_DATAS, OP_UNLINK, OP_URL };

struct att_wait {
    long id;
    int op;
    const char *url; /* OP_URL: the url the attachment will hold */
    int done;
    int rc;
    cJSON *att;
    struct err e;
    struct att_wait *next;
};

struct att_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct att_wait *head, *tail;
    int busy;
    struct apply_stats st; /* under mu */
};

static const char *const fields_meta[] = {"id",        "name",      "type",       "url",
                                          "res_model", "res_id",    "write_date", "checksum",
                                          "file_size", "res_field", "public",     NULL};
static const char *const fields_datas[] = {
    "id",       "name",      "type",      "url",    "res_model", "res_id", "write_date",
    "checksum", "file_size", "res_field", "public", "datas",     NULL};

int apply_batch_new(struct att_batch **out)
{
    struct att_batch *b = calloc(1, sizeof(*b));

    *out = b;
    if (!b)
        return ERR_NOMEM;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    return 0;
}

void apply_batch_free(struct att_batch *b)
{
    if (!b)
        return;
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* A call of op for n ids: into st. */
static void count(struct apply_stats *st, int op, long n)
{
    long *calls = op == OP_META    ? &st->reads
                  : op == OP_DATAS ? &st->content_reads
                  : op == OP_URL   ? &st->url_writes
                                   : &st->unlinks;
    long *ids = op == OP_META    ? &st->read_ids
                : op == OP_DATAS ? &st->content_ids
                : op == OP_URL   ? &st->url_ids
                                 : &st->unlink_ids;

    (*calls)++;
    *ids += n;
}

/* Turn attachment id into a url one: the values every conversion writes. */
static int url_write_one(struct odoo *o, long id, const char *url, struct err *e)
{
    cJSON *vals = cJSON_CreateObject();
    int rc;

    if (!vals || !cJSON_AddStringToObject(vals, "type", "url") ||
        !cJSON_AddStringToObject(vals, "url", url) || !cJSON_AddFalseToObject(vals, "datas")) {
        cJSON_Delete(vals);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = odoo_write(o, "ir.attachment", &id, 1, vals, e);
    cJSON_Delete(vals);
    return rc;
}

/* The conversions of the OP_URL waiters of list (n distinct ids) in one `load`: 0 when Odoo
 * wrote every row, < 0 when it kept none (an error of any row, or of the call). */
static int url_load(struct odoo *o, struct att_wait *list, size_t n, struct err *e)
{
    static const char *const cols[] = {".id", "type", "url", "datas"};
    cJSON *params = cJSON_CreateObject(), *fields, *data, *res = NULL;
    const cJSON *ids, *msgs, *m;
    struct att_wait *w;
    char idbuf[32];
    int rc;

    fields = params ? cJSON_AddArrayToObject(params, "fields") : NULL;
    data = fields ? cJSON_AddArrayToObject(params, "data") : NULL;
    for (size_t k = 0; data && k < sizeof(cols) / sizeof(cols[0]); k++)
        if (!cJSON_AddItemToArray(fields, cJSON_CreateString(cols[k])))
            data = NULL;
    for (w = list; data && w; w = w->next) {
        cJSON *row;

        if (w->op != OP_URL)
            continue;
        snprintf(idbuf, sizeof(idbuf), "%ld", w->id);
        row = cJSON_CreateArray();
        if (!row || !cJSON_AddItemToArray(data, row) ||
            !cJSON_AddItemToArray(row, cJSON_CreateString(idbuf)) ||
            !cJSON_AddItemToArray(row, cJSON_CreateString("url")) ||
            !cJSON_AddItemToArray(row, cJSON_CreateString(w->url)) ||
            !cJSON_AddItemToArray(row, cJSON_CreateString("")))
            data = NULL;
    }
    if (!data) {
        cJSON_Delete(params);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = odoo_call(o, "ir.attachment", "load", NULL, params, &res, e);
    cJSON_Delete(params);
    if (rc < 0)
        return rc;
    ids = cJSON_GetObjectItemCaseSensitive(res, "ids");
    msgs = cJSON_GetObjectItemCaseSensitive(res, "messages");
    rc = cJSON_IsArray(ids) && (size_t)cJSON_GetArraySize(ids) == n ? 0 : -1;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "type");

        if (!cJSON_IsString(t) || strcmp(t->valuestring, "warning") != 0)
            rc = -1;
    }
    if (rc < 0) {
        const cJSON *first = cJSON_GetArrayItem(msgs, 0);
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(first, "message");

        rc = err_set(e, ERR_CONFLICT, "odoo ir.attachment.load of %zu urls: %s", n,
                     cJSON_IsString(mt) ? mt->valuestring : "no ids written");
    }
    cJSON_Delete(res);
    return rc;
}

/* One id alone: *att NULL when it is gone. */
static void read_one(struct odoo *o, struct att_wait *w)
{
    cJSON *recs = NULL;

    w->att = NULL;
    if (w->op == OP_UNLINK) {
        w->rc = odoo_unlink(o, "ir.attachment", &w->id, 1, &w->e);
        return;
    }
    if (w->op == OP_URL) {
        w->rc = url_write_one(o, w->id, w->url, &w->e);
        return;
    }
    w->rc = odoo_read(o, "ir.attachment", &w->id, 1, w->op == OP_DATAS ? fields_datas : fields_meta,
                      &recs, &w->e);
    if (w->rc == ERR_NOTFOUND) {
        err_clear(&w->e);
        w->rc = 0;
    }
    if (w->rc == 0 && cJSON_GetArraySize(recs) > 0)
        w->att = cJSON_DetachItemFromArray(recs, 0);
    cJSON_Delete(recs);
}

static size_t count_op(const struct att_wait *list, int op)
{
    size_t n = 0;

    for (; list; list = list->next)
        n += list->op == op;
    return n;
}

/* The waiters of list whose op is op, in one call (or each alone on an error); calls counted
 * into st. */
static void run_group(struct odoo *o, struct att_wait *list, int op, struct apply_stats *st)
{
    struct att_wait *w;
    long ids[BATCH_MAX];
    size_t n = 0;
    cJSON *recs = NULL;
    struct err e = ERR_INIT;
    int rc;

    for (w = list; w; w = w->next) {
        size_t k;

        if (w->op != op)
            continue;
        for (k = 0; k < n && ids[k] != w->id; k++)
            ;
        if (k == n)
            ids[n++] = w->id;
    }
    if (n == 0)
        return;
    if (n == 1 || (op == OP_URL && count_op(list, op) != n)) { /* (an id twice: each alone) */
        for (w = list; w; w = w->next) {
            if (w->op == op) {
                count(st, op, 1);
                read_one(o, w);
            }
        }
        return;
    }
    count(st, op, (long)n);
    if (op == OP_UNLINK)
        rc = odoo_unlink(o, "ir.attachment", ids, n, &e);
    else if (op == OP_URL) {
        rc = url_load(o, list, n, &e);
        st->url_loads_refused += rc < 0;
    } else
        rc = odoo_read(o, "ir.attachment", ids, n, op == OP_DATAS ? fields_datas : fields_meta,
                       &recs, &e);
    for (w = list; w; w = w->next) {
        const cJSON *r;

        if (w->op != op)
            continue;
        if (rc < 0) {
            count(st, op, 1);
            read_one(o, w);
            continue;
        }
        w->rc = 0;
        w->att = NULL;
        if (op == OP_UNLINK || op == OP_URL)
            continue;
        cJSON_ArrayForEach(r, recs)
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");

            if (cJSON_IsNumber(id) && (long)id->valuedouble == w->id) {
                w->att = cJSON_Duplicate(r, 1);
                if (!w->att)
                    w->rc = err_set(&w->e, ERR_NOMEM, "out of memory");
                break;
            }
        }
    }
    cJSON_Delete(recs);
}

/* Queue id for op, lead or wait, until its answer is there. */
static int batched(struct apply_conn *c, long id, int op, const char *url, cJSON **att,
                   struct err *e)
{
    struct att_batch *b = c->a->batch;
    struct att_wait me;

    memset(&me, 0, sizeof(me));
    me.id = id;
    me.op = op;
    me.url = url;
    pthread_mutex_lock(&b->mu);
    if (b->tail)
        b->tail->next = &me;
    else
        b->head = &me;
    b->tail = &me;
    while (!me.done) {
        struct att_wait *mine = NULL, **mt = &mine, *w;
        struct apply_stats st;
        int n = 0, nd = 0;

        if (b->busy) {
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        /* lead: take what is queued (the rest waits for the next call) */
        b->busy = 1;
        for (struct att_wait **pp = &b->head; *pp && n < BATCH_MAX;) {
            w = *pp;
            if (w->op == OP_DATAS && nd >= BATCH_DATAS_MAX) {
                pp = &w->next;
                continue;
            }
            *pp = w->next;
            w->next = NULL;
            *mt = w;
            mt = &w->next;
            n++;
            nd += w->op == OP_DATAS;
        }
        b->tail = NULL;
        for (w = b->head; w; w = w->next)
            b->tail = w;
        pthread_mutex_unlock(&b->mu);
        memset(&st, 0, sizeof(st));
        run_group(c->odoo, mine, OP_META, &st);
        run_group(c->odoo, mine, OP_DATAS, &st);
        run_group(c->odoo, mine, OP_UNLINK, &st);
        run_group(c->odoo, mine, OP_URL, &st);
        pthread_mutex_lock(&b->mu);
        b->st.reads += st.reads;
        b->st.read_ids += st.read_ids;
        b->st.content_reads += st.content_reads;
        b->st.content_ids += st.content_ids;
        b->st.unlinks += st.unlinks;
        b->st.unlink_ids += st.unlink_ids;
        b->st.url_writes += st.url_writes;
        b->st.url_ids += st.url_ids;
        b->st.url_loads_refused += st.url_loads_refused;
        for (w = mine; w;) {
            struct att_wait *nx = w->next;

            w->next = NULL;
            w->done = 1;
            w = nx;
        }
        b->busy = 0;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    if (me.rc < 0) {
        *e = me.e;
        return me.rc;
    }
    if (att)
        *att = me.att;
    return 0;
}

int apply_att_read(struct apply_conn *c, long id, int with_datas, cJSON **att, struct err *e)
{
    *att = NULL;
    return batched(c, id, with_datas ? OP_DATAS : OP_META, NULL, att, e);
}

int apply_att_unlink(struct apply_conn *c, long id, struct err *e)
{
    return batched(c, id, OP_UNLINK, NULL, NULL, e);
}

int apply_att_to_url(struct apply_conn *c, long id, const char *url, struct err *e)
{
    return batched(c, id, OP_URL, url, NULL, e);
}

void apply_get_stats(struct applier *a, struct apply_stats *st)
{
    pthread_mutex_lock(&a->batch->mu);
    *st = a->batch->st;
    pthread_mutex_unlock(&a->batch->mu);
    apply_bulk_stats(a->bulk, &st->bulk_posts, &st->bulk_files, &st->bulk_alone);
}
