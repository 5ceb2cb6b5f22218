/*
 * lock: the dispatch from the public lock_* calls to lock_redis.c or
 * lock_local.c, and the random tokens both use.
 */
#include "lock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lock_int.h"

#include "banned.h"

void lock_token_make(struct lock_token *tok)
{
    unsigned char r[16];
    ssize_t got = getrandom(r, sizeof(r), 0);

    if (got != (ssize_t)sizeof(r)) {
        /* never expected; still unique enough per process and instant */
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < sizeof(r); i++)
            r[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^ (long)(uintptr_t)tok ^ (long)i);
    }
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(tok->s + 2 * i, 3, "%02x", r[i]);
}

int lock_new(struct lock **out, const struct lock_conf *c, struct err *e)
{
    struct lock *l = calloc(1, sizeof(*l));
    int rc;

    *out = NULL;
    if (!l)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (c->local) {
        l->local = c->local;
    } else {
        rc = lock_redis_new(&l->redis, c, e);
        if (rc < 0) {
            free(l);
            return rc;
        }
    }
    *out = l;
    return 0;
}

void lock_free(struct lock *l)
{
    if (!l)
        return;
    lock_redis_free(l->redis);
    free(l);
}

int lock_acquire(struct lock *l, const char *path, long ttl_ms, struct lock_token *tok,
                 struct err *e)
{
    lock_token_make(tok);
    if (l->local)
        return lock_local_acquire(l->local, path, ttl_ms, tok, e);
    return lock_redis_acquire(l->redis, path, ttl_ms, tok, e);
}

int lock_release(struct lock *l, const char *path, const struct lock_token *tok, struct err *e)
{
    if (l->local)
        return lock_local_release(l->local, path, tok, e);
    return lock_redis_release(l->redis, path, tok, e);
}

int lock_extend(struct lock *l, const char *path, const struct lock_token *tok, long ttl_ms,
                struct err *e)
{
    if (l->local)
        return lock_local_extend(l->local, path, tok, ttl_ms, e);
    return lock_redis_extend(l->redis, path, tok, ttl_ms, e);
}

int lock_acquire_shared(struct lock *l, const char *path, long ttl_ms, struct lock_token *tok,
                        struct err *e)
{
    lock_token_make(tok);
    if (l->local)
        return lock_local_acquire_shared(l->local, path, ttl_ms, tok, e);
    return lock_redis_acquire_shared(l->redis, path, ttl_ms, tok, e);
}

int lock_release_shared(struct lock *l, const char *path, const struct lock_token *tok,
                        struct err *e)
{
    if (l->local)
        return lock_local_release_shared(l->local, path, tok, e);
    return lock_redis_release_shared(l->redis, path, tok, e);
}

int lock_extend_shared(struct lock *l, const char *path, const struct lock_token *tok, long ttl_ms,
                       struct err *e)
{
    if (l->local)
        return lock_local_extend_shared(l->local, path, tok, ttl_ms, e);
    return lock_redis_extend_shared(l->redis, path, tok, ttl_ms, e);
}

int lock_ver_get(struct lock *l, const char *path, long long *ver, struct err *e)
{
    if (l->local)
        return lock_local_ver_get(l->local, path, ver, e);
    return lock_redis_ver_get(l->redis, path, ver, e);
}

int lock_ver_raise(struct lock *l, const char *path, long long ver, struct err *e)
{
    if (l->local)
        return lock_local_ver_raise(l->local, path, ver, e);
    return lock_redis_ver_raise(l->redis, path, ver, e);
}

int lock_mark(struct lock *l, const char *id, long ttl_ms, int *fresh, struct err *e)
{
    if (l->local) {
        *fresh = 1; /* one process plans and applies: nothing is left from a pass */
        return 0;
    }
    return lock_redis_mark(l->redis, id, ttl_ms, fresh, e);
}

int lock_unmark(struct lock *l, const char *id, struct err *e)
{
    if (l->local)
        return 0;
    return lock_redis_unmark(l->redis, id, e);
}

int lock_mark_keep(struct lock *l, const char *id, long ttl_ms, struct err *e)
{
    if (l->local)
        return 0;
    return lock_redis_mark_keep(l->redis, id, ttl_ms, e);
}

int lock_blob_get(struct lock *l, const char *name, size_t cap, char **out, size_t *len,
                  struct err *e)
{
    *out = NULL;
    *len = 0;
    if (l->local)
        return err_set(e, ERR_NOTFOUND, "no blob \"%s\" in an in-process table", name);
    return lock_redis_blob_get(l->redis, name, cap, out, len, e);
}

int lock_blob_set(struct lock *l, const char *name, const char *data, size_t len, struct err *e)
{
    if (l->local)
        return err_set(e, ERR_INVALID, "an in-process table keeps no blobs");
    return lock_redis_blob_set(l->redis, name, data, len, e);
}

int lock_ping(struct lock *l, struct err *e)
{
    if (l->local)
        return 0;
    return lock_redis_ping(l->redis, e);
}
