/*
 * synclog_odoo: see synclog_odoo.h. The queue is a cJSON array of ready
 * `ir.logging` vals (oldest first) under one mutex; the flusher takes the
 * whole array, writes it in chunks of `batch` with one create call each,
 * and puts back what a retryable failure left unwritten, in front of what
 * arrived meanwhile. Text from errors or paths is cleaned to valid UTF-8
 * first: one bad byte would make Odoo refuse the whole batch.
 */
#include "synclog_odoo.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"

#include "banned.h"

#define SYNCLOG_MSG_MAX (16 * 1024) /* one record's message */
#define SYNCLOG_ERR_MAX 1000        /* bytes of an error kept in a message */

struct synclog_odoo {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled on a full batch and on stop */
    cJSON *pending;    /* array of vals objects, oldest first */
    long npending;
    int stop;
    int thread_started;
    pthread_t thread;
    struct odoo *odoo; /* used by the flusher thread only */
    char *dbname;
    long batch, flush_ms, max_pending;
    struct log *log;
    struct synclog_odoo_stats st;
    int failing; /* in a failure streak: warned already */
};

int synclog_odoo_wants(enum job_result r)
{
    return r == JOB_APPLIED || r == JOB_FAILED || r == JOB_DEAD_LETTERED;
}

static const char *level_of(enum job_result r)
{
    return r == JOB_DEAD_LETTERED ? "ERROR" : r == JOB_FAILED ? "WARNING" : "INFO";
}

/* No overlong form, no surrogate, nothing over U+10FFFF (p holds n bytes). */
static int utf8_lead_ok(const unsigned char *p, size_t n)
{
    switch (n) {
    case 2:
        return p[0] >= 0xc2;
    case 3:
        return !(p[0] == 0xe0 && p[1] < 0xa0) && !(p[0] == 0xed && p[1] >= 0xa0);
    case 4:
        return p[0] <= 0xf4 && !(p[0] == 0xf0 && p[1] < 0x90) && !(p[0] == 0xf4 && p[1] >= 0x90);
    default:
        return 1;
    }
}

/* Append at most max bytes of s, as valid UTF-8 (a bad or cut sequence becomes '?'). */
static int put_utf8(struct buf *b, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t used = 0;
    int rc = 0;

    while (*p && rc == 0) {
        size_t n = *p < 0x80             ? 1
                   : (*p & 0xe0) == 0xc0 ? 2
                   : (*p & 0xf0) == 0xe0 ? 3
                   : (*p & 0xf8) == 0xf0 ? 4
                                         : 0;
        size_t i;

        for (i = 1; i < n && (p[i] & 0xc0) == 0x80; i++)
            ;
        if (used + (n ? n : 1) > max)
            return buf_puts(b, "...");
        if (n == 0 || i < n || !utf8_lead_ok(p, n)) {
            rc = buf_puts(b, "?");
            p++;
            used++;
            continue;
        }
        rc = buf_append(b, p, n);
        p += n;
        used += n;
    }
    return rc;
}

/* A cloud path for reading: without its leading '/'. */
static const char *shown(const char *path)
{
    if (!path || !*path)
        return "-";
    return path[0] == '/' && path[1] ? path + 1 : path;
}

static int build_message(const struct job *j, const struct job_event *je, struct buf *b)
{
    int rc = buf_printf(b, "%s ", job_kind_name(j->kind));

    if (rc == 0 && j->kind == JOB_RENAME && j->side == JOB_SIDE_ODOO) {
        rc = buf_puts(b, "\"");
        if (rc == 0)
            rc = put_utf8(b, je->old_value ? je->old_value : "?", 1024);
        if (rc == 0)
            rc = buf_puts(b, "\" -> \"");
        if (rc == 0)
            rc = put_utf8(b, je->new_value ? je->new_value : j->name ? j->name : "?", 1024);
        if (rc == 0)
            rc = buf_puts(b, "\" at ");
        if (rc == 0)
            rc = put_utf8(b, shown(j->path), 4096);
    } else if (rc == 0 && j->kind == JOB_RENAME) {
        rc = put_utf8(b, shown(je->old_value ? je->old_value : j->path), 4096);
        if (rc == 0)
            rc = buf_puts(b, " -> ");
        if (rc == 0)
            rc = put_utf8(b, shown(je->new_value ? je->new_value : j->to), 4096);
    } else if (rc == 0) {
        rc = put_utf8(b, shown(j->path), 4096);
    }
    if (rc == 0 && j->record) {
        rc = buf_puts(b, " [");
        if (rc == 0)
            rc = put_utf8(b, j->record, 256);
        if (rc == 0)
            rc = buf_puts(b, "]");
    }
    if (rc == 0 && j->side == JOB_SIDE_ODOO && (j->att_id > 0 || je->att_id > 0)) {
        rc = buf_printf(b, " (Odoo attachment %ld", je->att_id > 0 ? je->att_id : j->att_id);
        /* its name, unless a rename's message said it already */
        if (rc == 0 && j->name && j->kind != JOB_RENAME) {
            rc = buf_puts(b, " \"");
            if (rc == 0)
                rc = put_utf8(b, j->name, 1024);
            if (rc == 0)
                rc = buf_puts(b, "\"");
        }
        if (rc == 0)
            rc = buf_puts(b, ")");
    }
    if (rc == 0)
        rc = buf_printf(b, ": %s", job_result_name(je->result));
    if (rc == 0 && je->error) {
        rc = buf_printf(b, " (attempt %d): ", j->attempt + 1);
        if (rc == 0)
            rc = put_utf8(b, je->error, SYNCLOG_ERR_MAX);
    }
    return rc;
}

/* The ir.logging vals of one event, or NULL (no memory, or a message over its cap). */
static cJSON *make_vals(const struct synclog_odoo *s, const struct job *j,
                        const struct job_event *je)
{
    struct buf msg, path;
    cJSON *v = NULL;
    const char *p = j->path && *j->path ? j->path : j->lock && *j->lock ? j->lock : "-";

    buf_init(&msg, SYNCLOG_MSG_MAX);
    buf_init(&path, SYNCLOG_MSG_MAX);
    if (build_message(j, je, &msg) < 0 || put_utf8(&path, p, 8192) < 0)
        goto out;
    v = cJSON_CreateObject();
    if (!v || !cJSON_AddStringToObject(v, "name", "odoosync") ||
        !cJSON_AddStringToObject(v, "type", "server") ||
        !cJSON_AddStringToObject(v, "level", level_of(je->result)) ||
        !cJSON_AddStringToObject(v, "message", buf_str(&msg)) ||
        !cJSON_AddStringToObject(v, "path", buf_str(&path)) ||
        !cJSON_AddStringToObject(v, "func", job_kind_name(j->kind)) ||
        !cJSON_AddStringToObject(v, "line", "0") ||
        (s->dbname && !cJSON_AddStringToObject(v, "dbname", s->dbname))) {
        cJSON_Delete(v);
        v = NULL;
    }
out:
    buf_release(&msg);
    buf_release(&path);
    return v;
}

/* Under s->mu: drop the oldest records past max_pending. */
static void trim_locked(struct synclog_odoo *s)
{
    while (s->npending > s->max_pending) {
        cJSON *old = cJSON_DetachItemFromArray(s->pending, 0);

        cJSON_Delete(old);
        s->npending--;
        s->st.dropped++;
    }
}

void synclog_odoo_add(struct synclog_odoo *s, const struct job *j, const struct job_event *je)
{
    cJSON *v;

    if (!s || !synclog_odoo_wants(je->result))
        return;
    v = make_vals(s, j, je);
    pthread_mutex_lock(&s->mu);
    s->st.queued++;
    if (!v || s->stop) {
        s->st.dropped++;
        pthread_mutex_unlock(&s->mu);
        cJSON_Delete(v);
        return;
    }
    cJSON_AddItemToArray(s->pending, v);
    s->npending++;
    trim_locked(s);
    if (s->npending >= s->batch)
        pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void synclog_odoo_get_stats(struct synclog_odoo *s, struct synclog_odoo_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    *st = s->st;
    pthread_mutex_unlock(&s->mu);
}

/* Move every item of from (emptied) to the end of to. */
static void move_all(cJSON *to, cJSON *from)
{
    cJSON *it;

    while ((it = cJSON_DetachItemFromArray(from, 0)) != NULL)
        cJSON_AddItemToArray(to, it);
}

/*
 * Write the records of take (emptied) in chunks of s->batch. On a retryable failure when
 * not final, the unwritten ones go back in front of the queue; otherwise they are dropped.
 */
static void flush(struct synclog_odoo *s, cJSON *take, int final)
{
    struct err e = ERR_INIT;
    cJSON *chunk = NULL;
    long n = cJSON_GetArraySize(take), unwritten;
    int rc = 0;

    while (n > 0) {
        long *ids = NULL;
        size_t nids = 0;
        long k = n < s->batch ? n : s->batch;

        chunk = cJSON_CreateArray();
        if (!chunk) {
            rc = err_set(&e, ERR_NOMEM, "out of memory");
            break;
        }
        for (long i = 0; i < k; i++)
            cJSON_AddItemToArray(chunk, cJSON_DetachItemFromArray(take, 0));
        rc = odoo_create_multi(s->odoo, "ir.logging", chunk, &ids, &nids, &e);
        free(ids);
        if (rc < 0)
            break;
        n -= k;
        pthread_mutex_lock(&s->mu);
        s->st.written += k;
        pthread_mutex_unlock(&s->mu);
        cJSON_Delete(chunk);
        chunk = NULL;
    }
    if (rc == 0) {
        if (s->failing)
            log_info(s->log, "sync log: writing to Odoo's ir.logging again");
        s->failing = 0;
        return;
    }
    unwritten = n; /* the failed chunk (if any) and the rest of take */
    pthread_mutex_lock(&s->mu);
    s->st.failed_calls++;
    if (chunk && rc == ERR_RETRY && !final) {
        /* the failed chunk, the rest of take, then what arrived meanwhile */
        move_all(chunk, take);
        move_all(chunk, s->pending);
        cJSON_Delete(s->pending);
        s->pending = chunk;
        s->npending += unwritten;
        chunk = NULL;
        trim_locked(s);
    } else {
        s->st.dropped += unwritten;
    }
    pthread_mutex_unlock(&s->mu);
    if (!s->failing)
        log_warn(s->log, "sync log: cannot write to Odoo's ir.logging (%s): %s", err_name(rc),
                 e.msg);
    else
        log_debug(s->log, "sync log: cannot write to Odoo's ir.logging: %s", e.msg);
    s->failing = 1;
    cJSON_Delete(chunk);
}

static void deadline_after(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *flusher(void *ud)
{
    struct synclog_odoo *s = ud;
    struct timespec dl;
    int stop = 0;

    while (!stop) {
        cJSON *take, *fresh;

        pthread_mutex_lock(&s->mu);
        deadline_after(&dl, s->flush_ms);
        /* after a failure, wait the whole interval even when a batch is waiting */
        while (!s->stop && (s->failing || s->npending < s->batch) &&
               pthread_cond_timedwait(&s->cv, &s->mu, &dl) != ETIMEDOUT)
            ;
        stop = s->stop;
        fresh = s->npending ? cJSON_CreateArray() : NULL;
        take = NULL;
        if (fresh) {
            take = s->pending;
            s->pending = fresh;
            s->npending = 0;
        }
        pthread_mutex_unlock(&s->mu);
        if (take)
            flush(s, take, stop);
        cJSON_Delete(take);
    }
    return NULL;
}

int synclog_odoo_new(struct synclog_odoo **out, const struct synclog_odoo_opts *o, struct err *e)
{
    struct synclog_odoo *s = NULL;
    struct odoo_opts oo = *o->odoo;
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc = 0, started;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(e, ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->batch = o->batch > 0 ? o->batch : 100;
    s->flush_ms = o->flush_ms > 0 ? o->flush_ms : 2000;
    s->max_pending = o->max_pending > 0 ? o->max_pending : 10000;
    s->log = o->log;
    s->pending = cJSON_CreateArray();
    s->dbname = o->dbname ? strdup(o->dbname) : NULL;
    if (!s->pending || (o->dbname && !s->dbname)) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    oo.retries = -1; /* a failed write is queued again here, after flush_ms */
    s->odoo = odoo_new(&oo, e);
    if (!s->odoo) {
        rc = e->code ? e->code : ERR_INTERNAL;
        goto out;
    }
    /* the thread starts with every signal blocked: SIGINT/SIGTERM go to the command's threads */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    started = pthread_create(&s->thread, NULL, flusher, s) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        rc = err_set(e, ERR_INTERNAL, "sync log: cannot start the ir.logging writer thread");
        goto out;
    }
    s->thread_started = 1;
out:
    if (rc < 0) {
        synclog_odoo_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void synclog_odoo_free(struct synclog_odoo *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        if (s->st.dropped > 0)
            log_warn(s->log,
                     "sync log: %ld of %ld ir.logging records were not written to Odoo "
                     "(%ld failed calls)",
                     s->st.dropped, s->st.queued, s->st.failed_calls);
        else
            log_debug(s->log, "sync log: %ld ir.logging records written to Odoo", s->st.written);
    }
    odoo_free(s->odoo);
    cJSON_Delete(s->pending);
    free(s->dbname);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
