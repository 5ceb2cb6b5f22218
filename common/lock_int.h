/*
 * lock_int: what lock.c (the dispatch) shares with lock_redis.c and
 * lock_local.c. Not for use outside the lock module.
 */
#ifndef ODOOSYNC_LOCK_INT_H
#define ODOOSYNC_LOCK_INT_H

#include "lock.h"

struct lock_redis;

struct lock {
    struct lock_table *local;
    struct lock_redis *redis;
};

/* A fresh random token (32 hex digits). */
void lock_token_make(struct lock_token *tok);

int lock_redis_new(struct lock_redis **out, const struct lock_conf *c, struct err *e);
void lock_redis_free(struct lock_redis *r);
int lock_redis_acquire(struct lock_redis *r, const char *path, long ttl_ms,
                       const struct lock_token *tok, struct err *e);
int lock_redis_release(struct lock_redis *r, const char *path, const struct lock_token *tok,
                       struct err *e);
int lock_redis_extend(struct lock_redis *r, const char *path, const struct lock_token *tok,
                      long ttl_ms, struct err *e);
int lock_redis_acquire_shared(struct lock_redis *r, const char *path, long ttl_ms,
                              const struct lock_token *tok, struct err *e);
int lock_redis_release_shared(struct lock_redis *r, const char *path, const struct lock_token *tok,
                              struct err *e);
int lock_redis_extend_shared(struct lock_redis *r, const char *path, const struct lock_token *tok,
                             long ttl_ms, struct err *e);
int lock_redis_ver_get(struct lock_redis *r, const char *path, long long *ver, struct err *e);
int lock_redis_ver_raise(struct lock_redis *r, const char *path, long long ver, struct err *e);
int lock_redis_ping(struct lock_redis *r, struct err *e);
int lock_redis_mark(struct lock_redis *r, const char *id, long ttl_ms, int *fresh, struct err *e);
int lock_redis_unmark(struct lock_redis *r, const char *id, struct err *e);
int lock_redis_mark_keep(struct lock_redis *r, const char *id, long ttl_ms, struct err *e);
int lock_redis_blob_get(struct lock_redis *r, const char *name, size_t cap, char **out, size_t *len,
                        struct err *e);
int lock_redis_blob_set(struct lock_redis *r, const char *name, const char *data, size_t len,
                        struct err *e);

int lock_local_acquire(struct lock_table *t, const char *path, long ttl_ms,
                       const struct lock_token *tok, struct err *e);
int lock_local_release(struct lock_table *t, const char *path, const struct lock_token *tok,
                       struct err *e);
int lock_local_extend(struct lock_table *t, const char *path, const struct lock_token *tok,
                      long ttl_ms, struct err *e);
int lock_local_acquire_shared(struct lock_table *t, const char *path, long ttl_ms,
                              const struct lock_token *tok, struct err *e);
int lock_local_release_shared(struct lock_table *t, const char *path, const struct lock_token *tok,
                              struct err *e);
int lock_local_extend_shared(struct lock_table *t, const char *path, const struct lock_token *tok,
                             long ttl_ms, struct err *e);
int lock_local_ver_get(struct lock_table *t, const char *path, long long *ver, struct err *e);
int lock_local_ver_raise(struct lock_table *t, const char *path, long long ver, struct err *e);

#endif
