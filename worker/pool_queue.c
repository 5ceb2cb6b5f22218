/*
 * pool_queue: the per-key ordering of the worker engine (see pool.c). A
 * key (a document folder path) has at most one active task; the others of
 * that key wait in its FIFO, in partition order. The active task is on the
 * ready list (a worker takes it), running, or on the delayed list (busy
 * lock, lock backend down, hand-off not acknowledged) with its key still
 * blocked; when it is done, pool_key_advance starts the next one of its key
 * and the task goes to the done list for the polling thread. All of it is
 * under mu.
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
    if (!k->active) {
        k->active = t;
        pool_ready_push(p, t);
    } else {
        t->state = T_KEYWAIT;
        t->next = NULL;
        if (k->fifo_tail)
            k->fifo_tail->next = t;
        else
            k->fifo_head = t;
        k->fifo_tail = t;
    }
    return 0;
}

/* The active task of its key is gone: start the next one of that key. */
void pool_key_advance(struct pool *p, struct task *t)
{
    struct keyent *k = t->ke, **pp;
    struct task *n;

    t->ke = NULL;
    if (!k)
        return;
    if (k->active == t)
        k->active = NULL;
    if (k->active)
        return;
    n = k->fifo_head;
    if (n) {
        k->fifo_head = n->next;
        if (!k->fifo_head)
            k->fifo_tail = NULL;
        k->active = n;
        pool_ready_push(p, n);
        return;
    }
    for (pp = &p->keys[key_hash(k->key)]; *pp; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    }
    free(k->key);
    free(k);
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
            struct task *keep_h = NULL, *keep_t = NULL, *nx;

            for (t = k->fifo_head; t; t = nx) {
                nx = t->next;
                if (MATCH(t)) {
                    t->ke = NULL;
                    t->next = out;
                    out = t;
                } else {
                    t->next = NULL;
                    if (keep_t)
                        keep_t->next = t;
                    else
                        keep_h = t;
                    keep_t = t;
                }
            }
            k->fifo_head = keep_h;
            k->fifo_tail = keep_t;
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
    return out;
}
