/*
 * lock_local: the in-process lock table of the local mode, with the
 * semantics of lock_redis (see lock.h): a lock is a token with an expiry
 * (CLOCK_MONOTONIC); acquire succeeds when the path is free or its lock has
 * expired; release/extend only with the token that holds it, unexpired.
 * Versions live in the same entries. One mutex guards the table; a chained
 * hash of fixed width (entries are few: one per path in flight or versioned).
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

struct entry {
    char *path;
    char token[LOCK_TOKEN_MAX]; /* "" when free */
    long long expires;          /* monotonic ms */
    long long version;
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
    else if (x->token[0] && x->expires > now)
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
    else
        x->token[0] = '\0';
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
