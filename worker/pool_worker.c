/*
 * pool_worker: the job threads of the worker engine (see pool.c) and the
 * lock heartbeat. A worker takes the ready task, takes its lock(s), skips
 * a job older than the version last applied, else applies it; a failure is
 * prepared once as a retry or dead-letter message and sent until the broker
 * acknowledges it (only the send is repeated). A task that cannot go on now
 * (busy lock, lock backend down, hand-off not acknowledged, stop) goes to
 * the delayed list, still holding back the tasks of its key that conflict
 * with it. A folder job takes its folder lock exclusively (and a move's
 * other document folder); a file job takes its folder shared and its files
 * exclusively (lockset_make). Each worker owns its lock
 * handle; the heartbeat thread owns its own and extends the locks the
 * workers list in their slots (hb_mu).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobmsg.h"
#include "pool_int.h"

#include "banned.h"

#define HANDOFF_DELAY_MS 1000
#define LOCKDOWN_DELAY_MS 500

static const char *task_id(const struct task *t)
{
    return t->decoded && t->job.id ? t->job.id : NULL;
}

static const char *task_path(const struct task *t)
{
    return t->decoded && t->job.lock ? t->job.lock : t->key;
}

/* ---- workers ---- */

/* The locks one task holds (or tries to): its folder(s), then its files. */
struct lockset {
    int n;
    const char *paths[TASK_LOCKS];
    int shared[TASK_LOCKS];
    struct lock_token toks[TASK_LOCKS];
    char *second;    /* owned: a move's other document folder */
    char attbuf[40]; /* "att:<id>" */
    char *parents;   /* owned: the folders a Documents job's entries live in */
};

static void hb_set(struct pool *p, int idx, const struct lockset *ls)
{
    pthread_mutex_lock(&p->hb_mu);
    p->slots[idx].n = ls ? ls->n : 0;
    for (int i = 0; ls && i < ls->n; i++) {
        p->slots[idx].paths[i] = ls->paths[i];
        p->slots[idx].toks[i] = ls->toks[i];
        p->slots[idx].shared[i] = ls->shared[i];
    }
    pthread_mutex_unlock(&p->hb_mu);
}

/* Whether worker idx still holds (path, tok): under hb_mu. */
static int hb_still_held(struct pool *p, int idx, const char *path, const struct lock_token *tok)
{
    for (int k = 0; k < p->slots[idx].n; k++)
        if (strcmp(p->slots[idx].paths[k], path) == 0 &&
            strcmp(p->slots[idx].toks[k].s, tok->s) == 0)
            return 1;
    return 0;
}

/*
 * Every lock_ttl_ms/3, extend the locks of the running jobs. The list is
 * copied under hb_mu and extended without it, so a slow or absent Redis
 * never holds up a worker that takes or drops a lock.
 */
void *pool_hb_main(void *arg)
{
    struct pool *p = arg;
    long period = p->o.lock_ttl_ms / 3 > 0 ? p->o.lock_ttl_ms / 3 : 1;
    int cap = TASK_LOCKS * p->o.concurrency, n;
    char **paths = calloc((size_t)cap, sizeof(*paths));
    struct lock_token *toks = calloc((size_t)cap, sizeof(*toks));
    int *owner = calloc((size_t)cap, sizeof(*owner));
    int *shared = calloc((size_t)cap, sizeof(*shared));

    pthread_mutex_lock(&p->hb_mu);
    for (;;) {
        struct timespec dl;
        int quit;

        /* quit is checked under hb_mu before and after the wait: pool_free sets it, then
         * broadcasts under hb_mu, so the wake-up is never lost */
        pthread_mutex_lock(&p->mu);
        quit = p->quit;
        pthread_mutex_unlock(&p->mu);
        if (quit)
            break;
        deadline_in(&dl, period);
        pthread_cond_timedwait(&p->hb_cv, &p->hb_mu, &dl);
        pthread_mutex_lock(&p->mu);
        quit = p->quit;
        pthread_mutex_unlock(&p->mu);
        if (quit || !paths || !toks || !owner || !shared)
            break;
        n = 0;
        for (int i = 0; i < p->o.concurrency; i++) {
            for (int k = 0; k < p->slots[i].n && n < cap; k++) {
                paths[n] = strdup(p->slots[i].paths[k]);
                if (!paths[n])
                    continue;
                toks[n] = p->slots[i].toks[k];
                shared[n] = p->slots[i].shared[k];
                owner[n] = i;
                n++;
            }
        }
        pthread_mutex_unlock(&p->hb_mu);
        for (int x = 0; x < n; x++) {
            struct err e = ERR_INIT;
            int rc = shared[x]
                         ? lock_extend_shared(p->hb_lk, paths[x], &toks[x], p->o.lock_ttl_ms, &e)
                         : lock_extend(p->hb_lk, paths[x], &toks[x], p->o.lock_ttl_ms, &e);

            if (rc == ERR_NOTFOUND) {
                int held;

                pthread_mutex_lock(&p->hb_mu);
                held = hb_still_held(p, owner[x], paths[x], &toks[x]);
                pthread_mutex_unlock(&p->hb_mu);
                if (held) /* not just released by its job: really lost */
                    log_warn(p->lg, "lock \"%s\" lost while its job runs (conditions protect it)",
                             paths[x]);
            } else if (rc < 0) {
                log_warn(p->lg, "extending lock \"%s\": %s", paths[x], e.msg);
            }
        }
        for (int x = 0; x < n; x++)
            free(paths[x]);
        pthread_mutex_lock(&p->hb_mu);
    }
    pthread_mutex_unlock(&p->hb_mu);
    free(paths);
    free(toks);
    free(owner);
    free(shared);
    return NULL;
}

/* The document folder of `to` at the depth of `lock` ("/a/b/c" + "/a/x/c/f" -> "/a/x/c"). */
static char *second_lock(const struct job *j)
{
    int depth = 0;
    const char *s;
    char *r;

    if (j->kind != JOB_RENAME || j->side != JOB_SIDE_CLOUD || !j->to || !j->lock)
        return NULL;
    for (s = j->lock; *s; s++)
        depth += *s == '/';
    for (s = j->to; *s; s++) {
        if (*s == '/' && depth-- == 0)
            break;
    }
    r = strndup(j->to, (size_t)(s - j->to));
    if (r && strcmp(r, j->lock) == 0) {
        free(r);
        r = NULL;
    }
    return r;
}

static void backoff_due(const struct pool *p, int attempt, long long *due)
{
    long long d = p->o.backoff_ms;

    for (int i = 0; i < attempt && d < p->o.backoff_max_ms; i++)
        d *= 2;
    if (d > p->o.backoff_max_ms)
        d = p->o.backoff_max_ms;
    *due = wall_ms() + d;
}

/* Prepare the retry or dead-letter message of a failed task (once). */
static int prepare_handoff(struct pool *p, struct task *t, int code, const char *msg, struct err *e)
{
    struct job_dlq_meta meta;
    long long now = wall_ms();
    int rc;

    t->err_code = code;
    if (msg != t->err_msg)
        snprintf(t->err_msg, sizeof(t->err_msg), "%s", msg);
    if (!t->first_failed_at)
        t->first_failed_at = now;
    buf_reset(&t->out);
    if (t->decoded && (code == ERR_RETRY || code == ERR_CONFLICT || code == ERR_NOMEM) &&
        t->job.attempt + 1 < p->o.max_attempts) {
        long long due;
        int attempt = t->job.attempt;

        backoff_due(p, attempt, &due);
        t->job.attempt = attempt + 1;
        rc = job_encode(&t->job, &t->out, e);
        t->job.attempt = attempt;
        if (rc < 0)
            return rc;
        snprintf(t->hdr_due, sizeof(t->hdr_due), "%lld", due);
        snprintf(t->hdr_att, sizeof(t->hdr_att), "%d", attempt + 1);
        t->handoff = H_RETRY;
        return 0;
    }
    memset(&meta, 0, sizeof(meta));
    meta.error = t->err_msg;
    meta.error_code = code;
    meta.attempts = t->decoded ? t->job.attempt + 1 : 0;
    meta.first_failed_at = t->first_failed_at;
    meta.last_failed_at = now;
    meta.topic = t->part->topic;
    meta.partition = t->part->partition;
    meta.offset = t->offset;
    rc = job_dlq_encode(t->decoded ? &t->job : NULL, t->raw, t->raw_len, &meta, &t->out, e);
    if (rc < 0)
        return rc;
    t->handoff = H_DLQ;
    return 0;
}

/* 0 finished (outcome set); 1: come back after *delay_ms. */
static int send_handoff(struct pool *p, struct task *t, long *delay_ms)
{
    struct err e = ERR_INIT;
    struct kq_header h[2] = {{KQ_HDR_DUE, t->hdr_due}, {KQ_HDR_ATTEMPT, t->hdr_att}};
    int retry = t->handoff == H_RETRY;
    int rc = kq_send(p->prod, retry ? p->t_retry : p->t_dlq, t->key, t->out.data ? t->out.data : "",
                     t->out.len, retry ? h : NULL, retry ? 2 : 0, p->o.send_timeout_ms, &e);

    if (rc < 0) {
        log_job(p->lg, LOG_WARN, task_id(t), task_path(t),
                "hand-off to %s not acknowledged (%s): trying again", retry ? p->t_retry : p->t_dlq,
                e.msg);
        *delay_ms = HANDOFF_DELAY_MS;
        return 1;
    }
    t->outcome = retry ? O_RETRIED : O_DEAD;
    if (!retry && t->decoded && p->o.on_event) {
        struct job_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.result = JOB_DEAD_LETTERED;
        ev.error = t->err_msg;
        ev.error_code = t->err_code;
        p->o.on_event(&t->job, &ev, p->o.event_ud);
    }
    if (retry)
        log_job(p->lg, LOG_INFO, task_id(t), task_path(t), "attempt %d failed (%s): retry at %s",
                t->job.attempt + 1, t->err_msg, t->hdr_due);
    else if (t->err_code == ERR_LOST && p->o.kq && p->o.kq->local)
        /* said once already, with what to do (the failed attempt's line) */
        log_job(p->lg, LOG_ERROR, task_id(t), task_path(t),
                "given up for good: its data is gone at its source (see above)");
    else /* local mode keeps no dead letters: given up, the next pass plans it again */
        log_job(p->lg, LOG_ERROR, task_id(t), task_path(t), "%s: %s",
                p->o.kq && p->o.kq->local ? "failed, given up for this pass" : "dead-lettered",
                t->err_msg);
    return 0;
}

/* Release the first n locks of ls, last first. */
static void release_all(struct pool *p, struct worker *w, struct lockset *ls, int n, struct task *t)
{
    for (int i = n - 1; i >= 0; i--) {
        struct err e = ERR_INIT;
        int rc = ls->shared[i] ? lock_release_shared(w->lk, ls->paths[i], &ls->toks[i], &e)
                               : lock_release(w->lk, ls->paths[i], &ls->toks[i], &e);

        if (rc < 0 && e.code != ERR_RETRY)
            log_job(p->lg, LOG_WARN, task_id(t), task_path(t), "releasing lock: %s", e.msg);
    }
}

static void sort2(const char **a, const char **b)
{
    if (strcmp(*a, *b) > 0) {
        const char *x = *a;

        *a = *b;
        *b = x;
    }
}

/*
 * What t locks: a folder job its folder (and a move's other document folder)
 * exclusively; a file job its folder shared (a Documents job also the folders
 * its entries live in) and its files exclusively. Each group in strcmp order.
 * 0, or ERR_NOMEM.
 */
static int lockset_make(struct lockset *ls, const struct task *t)
{
    int file = job_is_file_job(&t->job), nf, np;
    const char *files[2], *parents[2];
    size_t psize;

    memset(ls, 0, sizeof(*ls));
    ls->paths[ls->n++] = t->job.lock ? t->job.lock : t->key;
    if (!file) {
        ls->second = second_lock(&t->job);
        if (ls->second) {
            ls->paths[ls->n++] = ls->second;
            sort2(&ls->paths[0], &ls->paths[1]);
        }
        return 0;
    }
    ls->shared[0] = 1;
    psize = (t->job.path ? strlen(t->job.path) : 0) + (t->job.to ? strlen(t->job.to) : 0) + 2;
    ls->parents = t->job.doc ? malloc(psize) : NULL;
    if (t->job.doc && !ls->parents)
        return ERR_NOMEM;
    np = ls->parents ? job_lock_parents(&t->job, parents, ls->parents, psize) : 0;
    if (np == 2)
        sort2(&parents[0], &parents[1]);
    for (int i = 0; i < np; i++) {
        ls->shared[ls->n] = 1;
        ls->paths[ls->n++] = parents[i];
    }
    nf = job_lock_files(&t->job, files, ls->attbuf, sizeof(ls->attbuf));
    if (nf == 2)
        sort2(&files[0], &files[1]);
    for (int i = 0; i < nf; i++)
        ls->paths[ls->n++] = files[i];
    return 0;
}

static void lockset_free(struct lockset *ls)
{
    free(ls->second);
    free(ls->parents);
}

/* The task holds its lock(s) for the first time: how long since it first tried. */
static void report_lock_wait(struct pool *p, struct task *t)
{
    long long us = mono_us() - t->lock_from;
    double secs = (double)(us > 0 ? us : 0) / 1e6;

    t->lock_waited = 1;
    pthread_mutex_lock(&p->mu);
    p->st.lock_waits++;
    p->st.lock_wait_seconds += secs;
    pthread_mutex_unlock(&p->mu);
    if (p->o.on_lock_wait)
        p->o.on_lock_wait(&t->job, secs, p->o.lock_wait_ud);
}

/* Run one task. 0 finished; 1 delay it by *delay_ms (its key stays blocked). */
static int run_task(struct pool *p, struct worker *w, struct task *t, long *delay_ms)
{
    struct lockset ls;
    struct err e = ERR_INIT;
    int held = 0, rc, res = 0;
    long long last = 0;

    if (t->handoff != H_NONE)
        return send_handoff(p, t, delay_ms);
    if (!t->decoded) {
        if (prepare_handoff(p, t, t->err_code, t->err_msg, &e) < 0) {
            log_job(p->lg, LOG_ERROR, NULL, t->key, "cannot build dead-letter message: %s", e.msg);
            *delay_ms = HANDOFF_DELAY_MS;
            return 1;
        }
        return send_handoff(p, t, delay_ms);
    }
    if (lockset_make(&ls, t) < 0) {
        lockset_free(&ls);
        *delay_ms = LOCKDOWN_DELAY_MS; /* out of memory: later */
        return 1;
    }
    if (!t->lock_from)
        t->lock_from = mono_us();
    for (held = 0; held < ls.n; held++) {
        rc = ls.shared[held]
                 ? lock_acquire_shared(w->lk, ls.paths[held], p->o.lock_ttl_ms, &ls.toks[held], &e)
                 : lock_acquire(w->lk, ls.paths[held], p->o.lock_ttl_ms, &ls.toks[held], &e);
        if (rc == 0)
            continue;
        release_all(p, w, &ls, held, t);
        if (rc == ERR_EXISTS) {
            pthread_mutex_lock(&p->mu);
            p->st.busy++;
            pthread_mutex_unlock(&p->mu);
            *delay_ms = p->o.busy_delay_ms;
            log_job(p->lg, LOG_DEBUG, t->job.id, ls.paths[held], "lock busy: later");
        } else {
            if (!atomic_exchange(&p->lock_down, 1)) {
                pthread_mutex_lock(&p->mu);
                p->st.lock_down++;
                pthread_mutex_unlock(&p->mu);
            }
            log_job(p->lg, LOG_DEBUG, t->job.id, ls.paths[held], "lock: %s", e.msg);
            *delay_ms = LOCKDOWN_DELAY_MS;
        }
        lockset_free(&ls);
        return 1;
    }
    atomic_store(&p->lock_down, 0);
    if (!t->lock_waited)
        report_lock_wait(p, t);
    hb_set(p, w->idx, &ls);
    if (t->job.version > 0) {
        rc = lock_ver_get(w->lk, t->job.lock ? t->job.lock : t->key, &last, &e);
        if (rc < 0) {
            hb_set(p, w->idx, NULL);
            release_all(p, w, &ls, ls.n, t);
            atomic_store(&p->lock_down, 1);
            *delay_ms = LOCKDOWN_DELAY_MS;
            lockset_free(&ls);
            return 1;
        }
    }
    if (t->job.version > 0 && t->job.version < last) {
        t->outcome = O_SKIPPED;
        if (p->o.on_event) {
            struct job_event ev;

            memset(&ev, 0, sizeof(ev));
            ev.result = JOB_SKIPPED;
            p->o.on_event(&t->job, &ev, p->o.event_ud);
        }
        log_job(p->lg, LOG_INFO, t->job.id, t->job.lock,
                "skipped: version %lld is older than %lld, already applied", t->job.version, last);
    } else {
        err_clear(&e);
        rc = p->o.apply(&t->job, p->o.apply_ud, &e);
        if (rc == 0) {
            t->outcome = O_APPLIED;
            if (t->job.version > 0 &&
                lock_ver_raise(w->lk, t->job.lock ? t->job.lock : t->key, t->job.version, &e) < 0)
                log_job(p->lg, LOG_WARN, t->job.id, t->job.lock, "recording version: %s", e.msg);
        } else if (rc == ERR_STOPPED) {
            /* a stop was asked while it ran: not done, not failed; handed back (its offset
             * stays unstored, the next consumer or pass takes it again) */
            log_job(p->lg, LOG_INFO, t->job.id, t->job.lock,
                    "interrupted by the stop: handed back");
            *delay_ms = 100;
            res = 1;
        } else {
            struct err pe = ERR_INIT;

            if (prepare_handoff(p, t, rc, e.msg[0] ? e.msg : err_name(rc), &pe) < 0) {
                log_job(p->lg, LOG_ERROR, t->job.id, t->job.lock, "cannot build retry message: %s",
                        pe.msg);
                *delay_ms = HANDOFF_DELAY_MS;
                res = 1;
            }
        }
    }
    hb_set(p, w->idx, NULL);
    release_all(p, w, &ls, ls.n, t);
    lockset_free(&ls);
    if (res == 0 && t->handoff != H_NONE)
        return send_handoff(p, t, delay_ms);
    return res;
}

void *pool_worker_main(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->p;

    pthread_mutex_lock(&p->mu);
    while (!p->quit) {
        long long now = mono_ms(), next_due = now + 100;
        struct task *t, **pp;

        for (pp = &p->delayed; *pp;) {
            t = *pp;
            if (t->due_mono <= now) {
                *pp = t->next;
                pool_ready_push(p, t);
            } else {
                if (t->due_mono < next_due)
                    next_due = t->due_mono;
                pp = &t->next;
            }
        }
        t = p->draining ? NULL : p->ready_head;
        if (!t) {
            struct timespec dl;

            deadline_in(&dl, next_due - now);
            pthread_cond_timedwait(&p->work_cv, &p->mu, &dl);
            continue;
        }
        p->ready_head = t->next;
        if (!p->ready_head)
            p->ready_tail = NULL;
        t->next = NULL;
        t->state = T_RUNNING;
        t->part->running++;
        pthread_mutex_unlock(&p->mu);
        {
            long delay = 0;
            int again = run_task(p, w, t, &delay);

            pthread_mutex_lock(&p->mu);
            t->part->running--;
            if (again && (p->draining || t->part->revoking || t->gen != t->part->gen)) {
                /* unfinished and not ours to finish now: dropped, its offset stays unstored */
                t->outcome = O_NONE;
                pool_key_advance(p, t);
                pool_done_push(p, t);
            } else if (again) {
                t->state = T_DELAYED;
                t->due_mono = mono_ms() + delay;
                t->next = p->delayed;
                p->delayed = t;
            } else {
                if (t->outcome == O_APPLIED)
                    p->st.applied++;
                else if (t->outcome == O_SKIPPED)
                    p->st.skipped++;
                else if (t->outcome == O_RETRIED)
                    p->st.retried++;
                else if (t->outcome == O_DEAD)
                    p->st.dead++;
                pool_key_advance(p, t);
                pool_done_push(p, t);
            }
            pthread_cond_broadcast(&p->done_cv);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
