/*
 * lock_local: the in-process lock table of the local mode, with the
 * semantics of lock_redis (see lock.h): a lock is a token with an expiry
 * (CLOCK_MONOTONIC); acquire succeeds when the path is free or its lock has
 * expired; release/extend only with the token that holds it, unexpired.
 * Shared holders (lock_local_acquire_shared) are a small array of tokens
 * with their own expiry in the same entry: a shared hold needs no unexpired
 * exclusive one, an exclusive hold no unexpired shared one.
 * Versions live in the same entries. One mutex guards the table; a chained
 * hash of fixed width; an entry that holds nothing any more and no version
 * (a file's) is freed at its release.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lock.h"
#include "lock_int.h"

#include "banned.h"

#define NBUCKETS 1024

struct holder {
    char token[LOCK_TOKEN_MAX];
    long long expires;
};

struct entry {
    char *path;
    char token[LOCK_TOKEN_MAX]; /* "" when free */
    long long expires;          /* monotonic ms */
    long long version;
    struct holder *sh; /* shared holders */
    int nsh, capsh;
    struct entry *next;
};

struct lock_table {
    pthread_mutex_t mu;
    struct entry *b[NBUCKETS];
};

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

struct lock_table *lock_table_new(void)
{
    struct lock_table *t = calloc(1, sizeof(*t));

    if (t)
        pthread_mutex_init(&t->mu, NULL);
    return t;
}

void lock_table_free(struct lock_table *t)
{
    if (!t)
        return;
    for (int i = 0; i < NBUCKETS; i++) {
        struct entry *x = t->b[i], *next;

        for (; x; x = next) {
            next = x->next;
            free(x->sh);
            free(x->path);
            free(x);
        }
    }
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* Under mu. */
static struct entry *find(struct lock_table *t, const char *path, int create)
{
    unsigned h = hash(path);
    struct entry *x;

    for (x = t->b[h]; x; x = x->next)
        if (strcmp(x->path, path) == 0)
            return x;
    if (!create)
        return NULL;
    x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->path = strdup(path);
    if (!x->path) {
        free(x);
        return NULL;
    }
    x->next = t->b[h];
    t->b[h] = x;
    return x;
}

/* Drop expired shared holders; the count of those left. Under mu. */
static int shared_live(struct entry *x, long long now)
{
    int k = 0;

    for (int i = 0; i < x->nsh; i++)
        if (x->sh[i].expires > now)
            x->sh[k++] = x->sh[i];
    x->nsh = k;
    return k;
}

/* Free x when it holds nothing and no version (a file's lock, released). Under mu. */
static void maybe_free(struct lock_table *t, struct entry *x, long long now)
{
    struct entry **pp;

    if (!x || x->version || (x->token[0] && x->expires > now) || shared_live(x, now))
        return;
    for (pp = &t->b[hash(x->path)]; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            free(x->sh);
            free(x->path);
            free(x);
            return;
        }
    }
}

static int held_by(const struct entry *x, const struct lock_token *tok, long long now)
{
    return x && x->token[0] && x->expires > now && strcmp(x->token, tok->s) == 0;
}

int lock_local_acquire(struct lock_table *t, const char *path, long ttl_ms,
                       const struct lock_token *tok, struct err *e)
{
    long long now = mono_ms();
    struct entry *x;
    int rc = 0;

    pthread_mutex_lock(&t->mu);
    x = find(t, path, 1);
    if (!x)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else if ((x->token[0] && x->expires > now) || shared_live(x, now))
        rc = err_set(e, ERR_EXISTS, "lock \"%s\" is busy", path);
    else {
        snprintf(x->token, sizeof(x->token), "%s", tok->s);
        x->expires = now + ttl_ms;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int lock_local_release(struct lock_table *t, const char *path, const struct lock_token *tok,
                       struct err *e)
{
    struct entry *x;
    int rc = 0;

    pthread_mutex_lock(&t->mu);
    x = find(t, path, 0);
    if (!held_by(x, tok, mono_ms()))
        rc = err_set(e, ERR_NOTFOUND, "lock \"%s\" is not ours (expired or taken)", path);
    else {
        x->token[0] = '\0';
        maybe_free(t, x, mono_ms());
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int lock_local_extend(struct lock_table *t, const char *path, const struct lock_token *tok,
                      long ttl_ms, struct err *e)
{
    long long now = mono_ms();
    struct entry *x;
    int rc = 0;

    pthread_mutex_lock(&t->mu);
    x = find(t, path, 0);
    if (!held_by(x, tok, now))
        rc = err_set(e, ERR_NOTFOUND, "lock \"%s\" is not ours (expired or taken)", path);
    else
        x->expires = now + ttl_ms;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int lock_local_acquire_shared(struct lock_table *t, const char *path, long ttl_ms,
                              const struct lock_token *tok, struct err *e)
{
    long long now = mono_ms();
    struct entry *x;
    int rc = 0;

    pthread_mutex_lock(&t->mu);
    x = find(t, path, 1);
    if (!x) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
    } else if (x->token[0] && x->expires > now) {
        rc = err_set(e, ERR_EXISTS, "lock \"%s\" is held exclusively", path);
    } else {
        shared_live(x, now);
        if (x->nsh == x->capsh) {
            int cap = x->capsh ? 2 * x->capsh : 4;
            struct holder *n = realloc(x->sh, (size_t)cap * sizeof(*n));

            if (!n) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            x->sh = n;
            x->capsh = cap;
        }
        snprintf(x->sh[x->nsh].token, sizeof(x->sh[x->nsh].token), "%s", tok->s);
        x->sh[x->nsh].expires = now + ttl_ms;
        x->nsh++;
    }
out:
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* Index of tok among x's unexpired shared holders, or -1. Under mu. */
static int shared_find(struct entry *x, const struct lock_token *tok, long long now)
{
    if (!x)
        return -1;
    shared_live(x, now);
    for (int i = 0; i < x->nsh; i++)
        if (strcmp(x->sh[i].token, tok->s) == 0)
            return i;
    return -1;
}

int lock_local_release_shared(struct lock_table *t, const char *path, const struct lock_token *tok,
                              struct err *e)
{
    long long now = mono_ms();
    struct entry *x;
    int rc = 0, i;

    pthread_mutex_lock(&t->mu);
    x = find(t, path, 0);
    i = shared_find(x, tok, now);
    if (i < 0) {
        rc = err_set(e, ERR_NOTFOUND, "shared lock \"%s\" is not ours (expired)", path);
    } else {
        x->sh[i] = x->sh[x->nsh - 1];
        x->nsh--;
        maybe_free(t, x, now);
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int lock_local_extend_shared(struct lock_table *t, const char *path, const struct lock_token *tok,
                             long ttl_ms, struct err *e)
{
    long long now = mono_ms();
    struct entry *x;
    int rc = 0, i;

    pthread_mutex_lock(&t->mu);
    x = find(t, path, 0);
    i = shared_find(x, tok, now);
    if (i < 0)
        rc = err_set(e, ERR_NOTFOUND, "shared lock \"%s\" is not ours (expired)", path);
    else
        x->sh[i].expires = now + ttl_ms;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int lock_local_ver_get(struct lock_table *t, const char *path, long long *ver, struct err *e)
{
    struct entry *x;

    (void)e;
    pthread_mutex_lock(&t->mu);
    x = find(t, path, 0);
    *ver = x ? x->version : 0;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

int lock_local_ver_raise(struct lock_table *t, const char *path, long long ver, struct err *e)
{
    struct entry *x;
    int rc = 0;

    pthread_mutex_lock(&t->mu);
    x = find(t, path, 1);
    if (!x)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else if (ver > x->version)
        x->version = ver;
    pthread_mutex_unlock(&t->mu);
    return rc;
}
