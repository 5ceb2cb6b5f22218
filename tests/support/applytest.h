/*
 * applytest: helpers for tests that run the real appliers (worker/apply.c)
 * in worker pools against the stack's Apache WebDAV, Odoo emulator and
 * Redis: connection options from the stack env, Odoo attachments, job
 * builders, and a pool fed by its own in-process queue (so a test decides
 * exactly which pool gets which job) with Redis locks under a private prefix.
 * Header-only (static functions), test code only.
 */
#ifndef ODOOSYNC_APPLYTEST_H
#define ODOOSYNC_APPLYTEST_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "buf.h"
#include <cjson/cJSON.h>
#include "dav.h"
#include "job.h"
#include "kq.h"
#include "lock.h"
#include "odoo.h"
#include "pool.h"
#include "sha.h"
#include "stackenv.h"

struct at_env {
    struct dav_opts dav;
    struct odoo_opts odoo;
    struct lock_conf lock;
    char prefix[96]; /* Redis key prefix of this test's locks */
};

/* From the stack env (stackenv_load() first); prefix names this test's Redis keys. */
static inline void at_env_init(struct at_env *t, const char *tag)
{
    char *end = NULL;

    memset(t, 0, sizeof(*t));
    dav_opts_init(&t->dav);
    t->dav.url = getenv("DAV_URL");
    t->dav.user = getenv("DAV_USER");
    t->dav.password = getenv("DAV_PASSWORD");
    t->odoo.url = getenv("ODOO_URL");
    t->odoo.db = getenv("ODOO_DB");
    t->odoo.login = getenv("ODOO_USER");
    t->odoo.password = getenv("ODOO_PASSWORD");
    t->odoo.protocol = ODOO_PROTO_JSONRPC;
    t->odoo.timeout_ms = 30000;
    snprintf(t->prefix, sizeof(t->prefix), "odoosync-test:%s:%d:", tag, (int)getpid());
    t->lock.host = getenv("REDIS_HOST");
    t->lock.port = (int)strtol(stackenv_get("REDIS_PORT"), &end, 10);
    t->lock.prefix = t->prefix;
}

/*
 * The clients of an apply test on the stack of t: dav_global_init, a WebDAV handle, a
 * connected Odoo handle and an applier that reports its events to on_event (may be
 * NULL) and calls before_write (may be NULL) before each write of a job. 0, or the
 * failing step's code with e set; what was made stays in the pointers for
 * at_apply_close().
 */
static inline int at_apply_open_hooked(
    const struct at_env *t, struct dav **dav, struct odoo **odoo, struct applier **ap,
    void (*on_event)(const struct job *, const struct job_event *, void *), void *ud,
    void (*before_write)(const struct job *, const char *, void *), void *bw_ud, struct err *e)
{
    struct apply_opts ao;
    int rc = dav_global_init(e);

    if (rc < 0)
        return rc;
    *dav = dav_new(&t->dav, e);
    if (!*dav)
        return e->code ? e->code : ERR_NOMEM;
    *odoo = odoo_new(&t->odoo, e);
    if (!*odoo)
        return e->code ? e->code : ERR_NOMEM;
    rc = odoo_connect(*odoo, e);
    if (rc < 0)
        return rc;
    memset(&ao, 0, sizeof(ao));
    ao.dav = &t->dav;
    ao.odoo = &t->odoo;
    ao.on_event = on_event;
    ao.event_ud = ud;
    ao.before_write = before_write;
    ao.before_write_ud = bw_ud;
    return apply_new(ap, &ao, e);
}

static inline int
at_apply_open(const struct at_env *t, struct dav **dav, struct odoo **odoo, struct applier **ap,
              void (*on_event)(const struct job *, const struct job_event *, void *), void *ud,
              struct err *e)
{
    return at_apply_open_hooked(t, dav, odoo, ap, on_event, ud, NULL, NULL, e);
}

/* Frees what at_apply_open() made (NULLs allowed). */
static inline void at_apply_close(struct dav *dav, struct odoo *odoo, struct applier *ap)
{
    apply_free(ap);
    odoo_free(odoo);
    dav_free(dav);
    dav_global_cleanup();
}

static inline void at_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static inline long long at_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int at_b64(const unsigned char *p, size_t n, struct buf *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;

        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        if (buf_append(out, q, 4) < 0)
            return -1;
    }
    return buf_append(out, "", 1) < 0 ? -1 : 0; /* NUL, not counted below */
}

/* A res.partner named name; *id set. */
static inline int at_partner(struct odoo *o, const char *name, long *id, struct err *e)
{
    cJSON *vals = cJSON_CreateObject();
    int rc;

    if (!vals || !cJSON_AddStringToObject(vals, "name", name)) {
        cJSON_Delete(vals);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    rc = odoo_create(o, "res.partner", vals, id, e);
    cJSON_Delete(vals);
    return rc;
}

/* A binary attachment of res.partner,res_id with this content; *id set. */
static inline int at_attach(struct odoo *o, long res_id, const char *name, const char *content,
                            long *id, struct err *e)
{
    struct buf b;
    cJSON *vals = cJSON_CreateObject();
    int rc;

    buf_init(&b, 1 << 20);
    if (!vals || at_b64((const unsigned char *)content, strlen(content), &b) < 0) {
        cJSON_Delete(vals);
        buf_release(&b);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    cJSON_AddStringToObject(vals, "name", name);
    cJSON_AddStringToObject(vals, "type", "binary");
    cJSON_AddStringToObject(vals, "datas", b.data);
    cJSON_AddStringToObject(vals, "res_model", "res.partner");
    cJSON_AddNumberToObject(vals, "res_id", (double)res_id);
    rc = odoo_create(o, "ir.attachment", vals, id, e);
    cJSON_Delete(vals);
    buf_release(&b);
    return rc;
}

/* The attachment's "type" ("binary" / "url") into out; "" when gone. */
static inline int at_att_type(struct odoo *o, long id, char *out, size_t cap, struct err *e)
{
    static const char *const fields[] = {"type", NULL};
    cJSON *recs = NULL;
    const cJSON *t;
    int rc = odoo_read(o, "ir.attachment", &id, 1, fields, &recs, e);

    out[0] = '\0';
    if (rc < 0)
        return rc;
    t = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(recs, 0), "type");
    if (cJSON_IsString(t))
        snprintf(out, cap, "%s", t->valuestring);
    cJSON_Delete(recs);
    return 0;
}

static inline void at_job_base(struct job *j, enum job_kind kind, enum job_side side,
                               const char *lock, const char *path, long long version)
{
    job_init(j);
    j->schema = JOB_SCHEMA_VERSION;
    j->kind = kind;
    j->side = side;
    j->created_at = (long long)time(NULL) * 1000;
    j->version = version;
    j->lock = strdup(lock);
    j->path = strdup(path);
    j->reason = strdup("test");
    j->size = -1;
}

/* upload att_id (content) to path; the attachment's url becomes the file's DAV URL. */
static inline void at_job_upload(struct job *j, const struct dav *d, const char *lock,
                                 const char *path, long att_id, const char *content,
                                 long long version)
{
    char sum[SHA1_HEX_SIZE];
    struct buf u;
    struct err e = ERR_INIT;

    at_job_base(j, JOB_UPLOAD, JOB_SIDE_CLOUD, lock, path, version);
    j->att_id = att_id;
    j->size = (long long)strlen(content);
    sha_hex_sha1(content, strlen(content), sum);
    j->expect.checksum = strdup(sum);
    buf_init(&u, 8192);
    if (dav_path_to_url(d, path, &u, &e) == 0)
        j->url = strndup(u.data, u.len);
    buf_release(&u);
    job_make_id(j);
}

/* cloud rename (MOVE) or delete of path, guarded by etag when not NULL. */
static inline void at_job_cloud(struct job *j, enum job_kind kind, const char *lock,
                                const char *path, const char *to, const char *etag,
                                long long version)
{
    at_job_base(j, kind, JOB_SIDE_CLOUD, lock, path, version);
    if (to)
        j->to = strdup(to);
    if (etag)
        j->expect.etag = strdup(etag);
    job_make_id(j);
}

/* ---- a pool on its own in-process queue, Redis locks ---- */

struct at_pool {
    struct kq_local *q;
    struct kq_conf kc;
    struct kq_producer *prod;
    struct kq_consumer *c;
    struct pool *p;
    pthread_t th;
    int started;
    atomic_int done; /* pool_run returned */
    int rc;
    struct err e;
};

/* Queue a job for this pool (before or after at_pool_start). */
static inline int at_pool_send(struct at_pool *ap, const struct job *j)
{
    struct buf b;
    struct err e = ERR_INIT;
    int rc;

    buf_init(&b, 1 << 20);
    rc = job_encode(j, &b, &e);
    if (rc == 0)
        rc = kq_send(ap->prod, kq_conf_jobs(&ap->kc), j->lock, b.data, b.len, NULL, 0, 10000, &e);
    if (rc < 0)
        fprintf(stderr, "at_pool_send: %s\n", e.msg);
    buf_release(&b);
    return rc;
}

/* o: apply, apply_ud, on_event, lock_ttl_ms, concurrency set by the caller. */
static inline int at_pool_new(struct at_pool *ap, struct pool_opts *o, const struct at_env *t,
                              struct err *e)
{
    int rc;

    memset(ap, 0, sizeof(*ap));
    ap->q = kq_local_new(4, 1024);
    if (!ap->q)
        return err_set(e, ERR_NOMEM, "out of memory");
    ap->kc.local = ap->q;
    o->kq = &ap->kc;
    o->lock = &t->lock;
    if (o->backoff_ms <= 0)
        o->backoff_ms = 100;
    if (o->busy_delay_ms <= 0)
        o->busy_delay_ms = 50;
    rc = kq_producer_new(&ap->prod, &ap->kc, e);
    if (rc == 0)
        rc = kq_consumer_new(&ap->c, &ap->kc, e);
    if (rc == 0)
        rc = pool_new(&ap->p, o, ap->c, ap->prod, e);
    return rc;
}

static inline void *at_pool_main(void *arg)
{
    struct at_pool *ap = arg;

    ap->rc = pool_run(ap->p, NULL, &ap->e);
    atomic_store(&ap->done, 1);
    return NULL;
}

/* Run the pool in a thread; it drains and ends once at_pool_close() was called. */
static inline int at_pool_start_open(struct at_pool *ap)
{
    ap->e = (struct err)ERR_INIT;
    atomic_store(&ap->done, 0);
    if (pthread_create(&ap->th, NULL, at_pool_main, ap) != 0)
        return -1;
    ap->started = 1;
    return 0;
}

/* No more jobs (but retries): the pool ends when it has drained. */
static inline void at_pool_close(struct at_pool *ap)
{
    kq_local_close(ap->q);
}

/* Close the queue and run the pool in a thread until drained. */
static inline int at_pool_start(struct at_pool *ap)
{
    at_pool_close(ap);
    return at_pool_start_open(ap);
}

/* Wait until the pool drained (0), or timeout_ms passed (-1: then it is stopped). */
static inline int at_pool_wait(struct at_pool *ap, long timeout_ms)
{
    long long t0 = at_now_ms();
    struct pool_stats st;
    int rc = 0;

    if (!ap->started)
        return 0;
    for (;;) {
        if (atomic_load(&ap->done)) {
            pthread_join(ap->th, NULL);
            break;
        }
        if (at_now_ms() - t0 > timeout_ms) {
            pool_get_stats(ap->p, &st);
            fprintf(stderr, "pool not drained after %ld ms: %ld applied, %ld busy, %ld inflight\n",
                    timeout_ms, st.applied, st.busy, st.inflight);
            pool_stop(ap->p);
            pthread_join(ap->th, NULL);
            rc = -1;
            break;
        }
        at_sleep_ms(20);
    }
    ap->started = 0;
    return rc;
}

static inline void at_pool_free(struct at_pool *ap)
{
    if (ap->started) {
        pool_stop(ap->p);
        pthread_join(ap->th, NULL);
    }
    pool_free(ap->p);
    kq_consumer_free(ap->c);
    kq_producer_free(ap->prod);
    kq_local_free(ap->q);
    memset(ap, 0, sizeof(*ap));
}

/* A pool of 8 applying jobs with ap, each of jobs[0..n) sent; -1 with e set when not made. */
static inline int at_pool_of(struct at_pool *pl, struct applier *ap, const struct at_env *t,
                             const struct job *jobs, int n, struct err *e)
{
    struct pool_opts po;

    pool_opts_init(&po);
    po.concurrency = 8;
    po.apply = apply_job;
    po.apply_ud = ap;
    if (at_pool_new(pl, &po, t, e) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (at_pool_send(pl, &jobs[i]) < 0) {
            err_set(e, ERR_INTERNAL, "job %d not sent", i);
            return -1;
        }
    }
    return 0;
}

/*
 * After a test made the shared emulator's calls slow (its delay_next control): the
 * delays left are used up with cheap calls, so that they slow no other test.
 */
static inline void at_use_up_delays(struct odoo *o, int max)
{
    struct err e = ERR_INIT;

    for (int i = 0; i < max; i++) {
        long long t0 = at_now_ms();
        long n = 0;

        odoo_search_count(o, "res.partner", NULL, &n, &e);
        if (at_now_ms() - t0 < 150)
            break;
    }
}

/* ---- Redis ---- */

static inline redisContext *at_redis(void)
{
    struct timeval tv = {2, 0};
    char *end = NULL;
    redisContext *c = redisConnectWithTimeout(
        getenv("REDIS_HOST"), (int)strtol(stackenv_get("REDIS_PORT"), &end, 10), tv);

    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/*
 * Whether this test's lock on path is held in Redis now, exclusively or shared (1/0), -1
 * on error. A shared hold's key lives as long as its longest holder (lock_redis.c).
 */
static inline int at_lock_exists(redisContext *c, const struct at_env *t, const char *path)
{
    redisReply *r =
        redisCommand(c, "EXISTS %slock:%s %sslock:%s", t->prefix, path, t->prefix, path);
    int v = r && r->type == REDIS_REPLY_INTEGER ? (r->integer > 0) : -1;

    freeReplyObject(r);
    return v;
}

#endif
