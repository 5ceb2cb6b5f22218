/*
 * pool_queue: the per-key ordering of the worker engine (see pool.c). A
 * key (a document folder path) queues its unfinished tasks in partition
 * order. A task starts (goes to the ready list) when every earlier task of
 * its key may overlap it (job_may_overlap: file jobs of one plan on
 * different files), at most `concurrency` of one key at once, looking at most
 * lookahead() tasks deep: so a folder job (mkdir, the folder's rename or
 * delete) starts only once every earlier task of its key is done, and no
 * later one starts before it is done; file jobs of the folder run side by
 * side. A started task is on the ready list (a worker takes it), running, or
 * on the delayed list (busy lock, lock backend down, hand-off not
 * acknowledged), still holding back what conflicts with it; when it is done,
 * pool_key_advance takes it out of its key and starts what may start, and the
 * task goes to the done list for the polling thread. All of it is under mu.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pool_int.h"

#include "banned.h"

void pool_task_free(struct task *t)
{
    if (!t)
        return;
    job_release(&t->job);
    free(t->raw);
    free(t->key);
    buf_release(&t->out);
    free(t);
}

/* ---- key table, ready/delayed/done lists (under mu) ---- */

static unsigned key_hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % KEY_BUCKETS;
}

void pool_ready_push(struct pool *p, struct task *t)
{
    t->state = T_READY;
    t->next = NULL;
    if (p->ready_tail)
        p->ready_tail->next = t;
    else
        p->ready_head = t;
    p->ready_tail = t;
    pthread_cond_signal(&p->work_cv);
}

/* How far into a key's queue a task may start: the conflicts checked per start stay few. */
static int lookahead(const struct pool *p)
{
    return p->o.concurrency * 4 > 16 ? p->o.concurrency * 4 : 16;
}

static int may_overlap(const struct task *a, const struct task *b)
{
    return a->decoded && b->decoded && job_may_overlap(&a->job, &b->job);
}

/* Start t if every earlier task of its key allows it; 1 if started. */
static int try_start(struct pool *p, struct keyent *k, struct task *t)
{
    if (k->started >= p->o.concurrency)
        return 0;
    for (struct task *b = t->kprev; b; b = b->kprev)
        if (!may_overlap(b, t))
            return 0;
    t->started = 1;
    k->started++;
    pool_ready_push(p, t);
    return 1;
}

/* Start what may start now among the first tasks of k. */
static void key_schedule(struct pool *p, struct keyent *k)
{
    int i = 0, max = lookahead(p);

    for (struct task *t = k->head; t && i < max; t = t->knext, i++) {
        if (t->started) {
            if (!(t->decoded && job_is_file_job(&t->job)))
                return; /* a folder job runs alone */
            continue;
        }
        if (!try_start(p, k, t) && !(t->decoded && job_is_file_job(&t->job)))
            return; /* a folder job waits: so does everything after it */
    }
}

static void key_free_if_empty(struct pool *p, struct keyent *k)
{
    struct keyent **pp;

    if (k->head)
        return;
    for (pp = &p->keys[key_hash(k->key)]; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    free(k->key);
    free(k);
}

/* Take t out of its key's queue (not freeing the key). */
static void key_unlink(struct keyent *k, struct task *t)
{
    if (t->kprev)
        t->kprev->knext = t->knext;
    else
        k->head = t->knext;
    if (t->knext)
        t->knext->kprev = t->kprev;
    else
        k->tail = t->kprev;
    t->kprev = t->knext = NULL;
    k->n--;
    if (t->started)
        k->started--;
    t->started = 0;
    t->ke = NULL;
}

/* 0, or ERR_NOMEM (then the task was not queued). */
int pool_key_submit(struct pool *p, struct task *t)
{
    unsigned h = key_hash(t->key);
    struct keyent *k;

    for (k = p->keys[h]; k; k = k->next)
        if (strcmp(k->key, t->key) == 0)
            break;
    if (!k) {
        k = calloc(1, sizeof(*k));
        if (!k)
            return ERR_NOMEM;
        k->key = strdup(t->key);
        if (!k->key) {
            free(k);
            return ERR_NOMEM;
        }
        k->next = p->keys[h];
        p->keys[h] = k;
    }
    t->ke = k;
    t->started = 0;
    t->state = T_KEYWAIT;
    t->next = NULL;
    t->knext = NULL;
    t->kprev = k->tail;
    if (k->tail)
        k->tail->knext = t;
    else
        k->head = t;
    k->tail = t;
    k->n++;
    if (k->n <= lookahead(p))
        try_start(p, k, t);
    return 0;
}

/* A started task of its key is gone: start what it held back. */
void pool_key_advance(struct pool *p, struct task *t)
{
    struct keyent *k = t->ke;

    if (!k)
        return;
    key_unlink(k, t);
    key_schedule(p, k);
    key_free_if_empty(p, k);
}

void pool_done_push(struct pool *p, struct task *t)
{
    t->state = T_DONE;
    t->next = NULL;
    if (p->done_tail)
        p->done_tail->next = t;
    else
        p->done_head = t;
    p->done_tail = t;
    pthread_cond_broadcast(&p->done_cv);
}

/*
 * Take every task that is not running out of the queues, for partition pt
 * (or all when pt is NULL); the keys they held move on. Returns them as a list.
 */
struct task *pool_purge_queued(struct pool *p, const struct part *pt)
{
    struct task *out = NULL, *t, **pp, *adv = NULL;

#define MATCH(t) (!pt || (t)->part == pt)
    for (int i = 0; i < KEY_BUCKETS; i++) {
        for (struct keyent *k = p->keys[i]; k; k = k->next) {
            struct task *nx;

            for (t = k->head; t; t = nx) {
                nx = t->knext;
                if (MATCH(t) && !t->started) {
                    key_unlink(k, t);
                    t->next = out;
                    out = t;
                }
            }
        }
    }
    for (pp = &p->ready_head; *pp;) {
        t = *pp;
        if (MATCH(t)) {
            *pp = t->next;
            t->next = adv;
            adv = t;
        } else {
            pp = &t->next;
        }
    }
    p->ready_tail = NULL;
    for (t = p->ready_head; t; t = t->next)
        p->ready_tail = t;
    for (pp = &p->delayed; *pp;) {
        t = *pp;
        if (MATCH(t)) {
            *pp = t->next;
            t->next = adv;
            adv = t;
        } else {
            pp = &t->next;
        }
    }
#undef MATCH
    while (adv) {
        t = adv;
        adv = t->next;
        pool_key_advance(p, t); /* may start tasks of other partitions only */
        t->next = out;
        out = t;
    }
    /* keys left with no task (every one of them purged) */
    for (int i = 0; i < KEY_BUCKETS; i++) {
        struct keyent *k = p->keys[i], *nk;

        for (; k; k = nk) {
            nk = k->next;
            key_free_if_empty(p, k);
        }
    }
    return out;
}
