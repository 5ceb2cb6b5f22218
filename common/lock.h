/*
 * lock: advisory locks on document paths, and the per-path version store.
 *
 *   Redis (lock_redis.c): key "odoosync:lock:<path>" = a random token,
 *   `SET key token NX PX ttl`; release and extend are compare-and-delete /
 *   compare-and-pexpire Lua scripts (EVAL), so a holder whose lock expired
 *   and was taken by someone else can neither release nor extend it.
 *   Versions: "odoosync:ver:<path>", raised only (a Lua max).
 *   One redisContext per handle, connect and I/O timeouts, reconnect on the
 *   next call after an error.
 *
 *   In-process (lock_local.c): a `struct lock_table` (mutex + hash table)
 *   with the same semantics, ttl included.
 *
 * Two modes on one path: exclusive (lock_acquire: one holder, and no shared
 * holder) and shared (lock_acquire_shared: any number of shared holders, and
 * no exclusive one). A file job holds its document folder shared and its
 * files exclusive; a folder job holds its folder exclusive (docs/design.md
 * "Order and locks"). Redis keeps the shared holders of a path in a sorted
 * set <prefix>slock:<path> (token -> expiry in Redis server time, ms); the
 * acquire scripts drop the expired ones before they look.
 *
 * Locks are advisory: correctness comes from the conditions a job carries.
 *
 * Threads: a `struct lock` handle belongs to one thread (make one per
 * thread); a lock_table is shared by all.
 *
 * Return codes of every call: 0 ok; ERR_EXISTS the lock is held by someone
 * else (acquire); ERR_NOTFOUND we do not hold it (release/extend: expired or
 * taken over); ERR_RETRY the backend is unreachable (nothing was done, or
 * the outcome is unknown: an acquire that timed out may hold the lock until
 * its ttl ends).
 */
#ifndef ODOOSYNC_LOCK_H
#define ODOOSYNC_LOCK_H

#include "err.h"

#define LOCK_TOKEN_MAX 40 /* 32 hex digits + NUL, rounded */

struct lock_table;

struct lock_conf {
    const char *host;         /* Redis host (default 127.0.0.1) */
    int port;                 /* default 6379 */
    const char *password;     /* AUTH, or NULL */
    int db;                   /* SELECT, 0 = default */
    long connect_timeout_ms;  /* default 2000 */
    long io_timeout_ms;       /* default 2000 */
    const char *prefix;       /* key prefix, default "odoosync:" */
    struct lock_table *local; /* non-NULL: in-process table; Redis fields ignored */
};

struct lock_token {
    char s[LOCK_TOKEN_MAX];
};

struct lock;

struct lock_table *lock_table_new(void); /* NULL on OOM */
void lock_table_free(struct lock_table *t);

/* Never connects here (first call does), so it fails only on bad config/OOM. */
int lock_new(struct lock **out, const struct lock_conf *c, struct err *e);
void lock_free(struct lock *l); /* NULL is fine; does not release held locks */

/* Try once to take path for ttl_ms; on 0, tok holds our token. */
int lock_acquire(struct lock *l, const char *path, long ttl_ms, struct lock_token *tok,
                 struct err *e);
int lock_release(struct lock *l, const char *path, const struct lock_token *tok, struct err *e);
/* Set the remaining life of our lock to ttl_ms. */
int lock_extend(struct lock *l, const char *path, const struct lock_token *tok, long ttl_ms,
                struct err *e);

/* The same for a shared hold of path (see above). */
int lock_acquire_shared(struct lock *l, const char *path, long ttl_ms, struct lock_token *tok,
                        struct err *e);
int lock_release_shared(struct lock *l, const char *path, const struct lock_token *tok,
                        struct err *e);
int lock_extend_shared(struct lock *l, const char *path, const struct lock_token *tok, long ttl_ms,
                       struct err *e);

/* Last version applied to path (0 if none). */
int lock_ver_get(struct lock *l, const char *path, long long *ver, struct err *e);
/* Raise it to ver (kept if already >= ver). */
int lock_ver_raise(struct lock *l, const char *path, long long ver, struct err *e);

/*
 * Queued-job marks, so a producer does not emit again a job still waiting from
 * its previous pass: lock_mark sets <prefix>queued:<id> unless it exists
 * (*fresh = 1 when it was set, 0 when the job is still queued), expiring after
 * ttl_ms in case a worker never reports; a worker calls lock_unmark once the
 * job is finished (applied, skipped or dead-lettered). In-process tables have
 * nothing left between passes: *fresh is always 1.
 */
int lock_mark(struct lock *l, const char *id, long ttl_ms, int *fresh, struct err *e);
int lock_unmark(struct lock *l, const char *id, struct err *e);
/*
 * The mark of id, if it is still there, expires ttl_ms from now (a mark a
 * worker removed meanwhile stays removed). The producer sets a short-lived
 * mark before emitting a job and keeps it for long only once the broker has
 * acknowledged the job.
 */
int lock_mark_keep(struct lock *l, const char *id, long ttl_ms, struct err *e);

/*
 * Blobs: what the producer keeps between passes in cluster mode (its scan
 * state, producer/state.h), at <prefix>state:<name>, written whole by one SET
 * so a reader gets the old or the new value, never half of one.
 * lock_blob_get: *out (malloc'ed, NUL-terminated, *len bytes) or ERR_NOTFOUND
 * when there is none; ERR_TOO_BIG over cap bytes. An in-process table keeps
 * no blobs: both answer ERR_NOTFOUND / ERR_INVALID there.
 */
int lock_blob_get(struct lock *l, const char *name, size_t cap, char **out, size_t *len,
                  struct err *e);
int lock_blob_set(struct lock *l, const char *name, const char *data, size_t len, struct err *e);

/* 0 if the backend answers (Redis PING). */
int lock_ping(struct lock *l, struct err *e);

#endif
