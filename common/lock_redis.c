/*
 * lock_redis: document-path locks and per-path versions in Redis (hiredis).
 *
 *   acquire  EVAL: SET <prefix>lock:<path> <token> NX PX <ttl>, unless a shared
 *            holder of <prefix>slock:<path> is unexpired
 *   shared   EVAL: ZADD <prefix>slock:<path> <now+ttl> <token>, unless
 *            <prefix>lock:<path> is held; release ZREM, extend ZADD XX
 *            (now: the server's TIME, so workers' clocks do not matter)
 *   release  EVAL "if get == token then del"         (never by a non-holder)
 *   extend   EVAL "if get == token then pexpire ttl"
 *   versions GET / EVAL "set if greater" on <prefix>ver:<path>
 *
 * One redisContext per handle (so per thread), opened lazily with connect
 * and I/O timeouts, AUTH and SELECT when configured. Any I/O or protocol
 * error frees the context and returns ERR_RETRY; the next call reconnects.
 */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "lock.h"
#include "lock_int.h"

#include "banned.h"

#define KEY_MAX 4096

static const char release_lua[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";
static const char extend_lua[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], "
    "ARGV[2]) else return 0 end";
#define NOW_LUA                                                                                    \
    "local t = redis.call('time') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) "  \
    "/ 1000) "
/* KEYS: lock, slock; ARGV: token, ttl */
static const char acquire_lua[] =
    NOW_LUA "if redis.call('exists', KEYS[1]) == 1 then return 0 end "
            "redis.call('zremrangebyscore', KEYS[2], '-inf', now) "
            "if redis.call('zcard', KEYS[2]) > 0 then return 0 end "
            "redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";
/* the sorted set lives as long as its longest holder */
#define SLOCK_TTL_LUA                                                                              \
    "if redis.call('pttl', KEYS[2]) < tonumber(ARGV[2]) then redis.call('pexpire', KEYS[2], "      \
    "ARGV[2]) end "
static const char acquire_shared_lua[] = NOW_LUA
    "if redis.call('exists', KEYS[1]) == 1 then return 0 end "
    "redis.call('zremrangebyscore', KEYS[2], '-inf', now) "
    "redis.call('zadd', KEYS[2], now + tonumber(ARGV[2]), ARGV[1]) " SLOCK_TTL_LUA "return 1";
static const char release_shared_lua[] =
    NOW_LUA "local s = redis.call('zscore', KEYS[2], ARGV[1]) "
            "if not s then return 0 end redis.call('zrem', KEYS[2], ARGV[1]) "
            "if tonumber(s) <= now then return 0 end return 1";
static const char extend_shared_lua[] = NOW_LUA
    "local s = redis.call('zscore', KEYS[2], ARGV[1]) "
    "if not s or tonumber(s) <= now then return 0 end "
    "redis.call('zadd', KEYS[2], 'XX', now + tonumber(ARGV[2]), ARGV[1]) " SLOCK_TTL_LUA "return 1";
static const char raise_lua[] =
    "local c = tonumber(redis.call('get', KEYS[1]) or '0') or 0 "
    "if tonumber(ARGV[1]) > c then redis.call('set', KEYS[1], ARGV[1]) return 1 end return 0";

struct lock_redis {
    char *host;
    int port;
    char *password;
    int db;
    long connect_timeout_ms;
    long io_timeout_ms;
    char *prefix;
    redisContext *rc;
};

static struct timeval tv_of(long ms)
{
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

int lock_redis_new(struct lock_redis **out, const struct lock_conf *c, struct err *e)
{
    struct lock_redis *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (!r)
        return err_set(e, ERR_NOMEM, "out of memory");
    r->host = strdup(c->host && *c->host ? c->host : "127.0.0.1");
    r->port = c->port > 0 ? c->port : 6379;
    r->password = c->password && *c->password ? strdup(c->password) : NULL;
    r->db = c->db;
    r->connect_timeout_ms = c->connect_timeout_ms > 0 ? c->connect_timeout_ms : 2000;
    r->io_timeout_ms = c->io_timeout_ms > 0 ? c->io_timeout_ms : 2000;
    r->prefix = strdup(c->prefix ? c->prefix : "odoosync:");
    if (!r->host || !r->prefix || (c->password && *c->password && !r->password)) {
        lock_redis_free(r);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    *out = r;
    return 0;
}

void lock_redis_free(struct lock_redis *r)
{
    if (!r)
        return;
    if (r->rc)
        redisFree(r->rc);
    free(r->host);
    free(r->password);
    free(r->prefix);
    free(r);
}

static void drop(struct lock_redis *r)
{
    if (r->rc) {
        redisFree(r->rc);
        r->rc = NULL;
    }
}

/* Run one command; on success *reply is set (caller frees), else the context is dropped. */
static int command(struct lock_redis *r, redisReply **reply, struct err *e, const char *fmt, ...)
{
    va_list ap;
    void *v;

    *reply = NULL;
    if (!r->rc) {
        struct timeval ct = tv_of(r->connect_timeout_ms);

        r->rc = redisConnectWithTimeout(r->host, r->port, ct);
        if (!r->rc)
            return err_set(e, ERR_RETRY, "redis %s:%d: out of memory", r->host, r->port);
        if (r->rc->err) {
            err_set(e, ERR_RETRY, "redis %s:%d: %s", r->host, r->port, r->rc->errstr);
            drop(r);
            return ERR_RETRY;
        }
        redisSetTimeout(r->rc, tv_of(r->io_timeout_ms));
        if (r->password) {
            redisReply *a = redisCommand(r->rc, "AUTH %s", r->password);
            int bad = !a || a->type == REDIS_REPLY_ERROR;

            freeReplyObject(a);
            if (bad) {
                drop(r);
                return err_set(e, ERR_RETRY, "redis %s:%d: AUTH failed", r->host, r->port);
            }
        }
        if (r->db) {
            redisReply *s = redisCommand(r->rc, "SELECT %d", r->db);
            int bad = !s || s->type == REDIS_REPLY_ERROR;

            freeReplyObject(s);
            if (bad) {
                drop(r);
                return err_set(e, ERR_RETRY, "redis %s:%d: SELECT %d failed", r->host, r->port,
                               r->db);
            }
        }
    }
    va_start(ap, fmt);
    v = redisvCommand(r->rc, fmt, ap);
    va_end(ap);
    if (!v) {
        err_set(e, ERR_RETRY, "redis %s:%d: %s", r->host, r->port,
                r->rc->errstr[0] ? r->rc->errstr : "connection lost");
        drop(r);
        return ERR_RETRY;
    }
    *reply = v;
    if ((*reply)->type == REDIS_REPLY_ERROR) {
        /* LOADING, MISCONF, READONLY...: the server is there but not usable now */
        err_set(e, ERR_RETRY, "redis %s:%d: %s", r->host, r->port, (*reply)->str);
        freeReplyObject(*reply);
        *reply = NULL;
        return ERR_RETRY;
    }
    return 0;
}

static int make_key(const struct lock_redis *r, char *key, const char *kind, const char *path,
                    struct err *e)
{
    int n = snprintf(key, KEY_MAX, "%s%s:%s", r->prefix, kind, path);

    if (n < 0 || n >= KEY_MAX)
        return err_set(e, ERR_TOO_BIG, "lock path too long (%zu bytes)", strlen(path));
    return 0;
}

static int script_int(struct lock_redis *r, const char *lua, const char *key, const char *a1,
                      const char *a2, long long *res, struct err *e)
{
    redisReply *rep = NULL;
    int rc;

    if (a2)
        rc = command(r, &rep, e, "EVAL %s 1 %s %s %s", lua, key, a1, a2);
    else
        rc = command(r, &rep, e, "EVAL %s 1 %s %s", lua, key, a1);
    if (rc < 0)
        return rc;
    if (rep->type != REDIS_REPLY_INTEGER)
        rc = err_set(e, ERR_PROTO, "redis EVAL answered type %d", rep->type);
    else
        *res = rep->integer;
    freeReplyObject(rep);
    return rc;
}

/* A script on <prefix>lock:<path> and <prefix>slock:<path> (ARGV: token, ttl). */
static int script_pair(struct lock_redis *r, const char *lua, const char *path,
                       const struct lock_token *tok, long ttl_ms, long long *res, struct err *e)
{
    char key[KEY_MAX], skey[KEY_MAX], ttl[32];
    redisReply *rep = NULL;
    int rc;

    snprintf(ttl, sizeof(ttl), "%ld", ttl_ms > 0 ? ttl_ms : 1);
    rc = make_key(r, key, "lock", path, e);
    if (rc == 0)
        rc = make_key(r, skey, "slock", path, e);
    if (rc == 0)
        rc = command(r, &rep, e, "EVAL %s 2 %s %s %s %s", lua, key, skey, tok->s, ttl);
    if (rc < 0)
        return rc;
    if (rep->type != REDIS_REPLY_INTEGER)
        rc = err_set(e, ERR_PROTO, "redis EVAL answered type %d", rep->type);
    else
        *res = rep->integer;
    freeReplyObject(rep);
    return rc;
}

int lock_redis_acquire(struct lock_redis *r, const char *path, long ttl_ms,
                       const struct lock_token *tok, struct err *e)
{
    long long n = 0;
    int rc = script_pair(r, acquire_lua, path, tok, ttl_ms, &n, e);

    if (rc == 0 && n != 1)
        rc = err_set(e, ERR_EXISTS, "lock \"%s\" is busy", path);
    return rc;
}

int lock_redis_acquire_shared(struct lock_redis *r, const char *path, long ttl_ms,
                              const struct lock_token *tok, struct err *e)
{
    long long n = 0;
    int rc = script_pair(r, acquire_shared_lua, path, tok, ttl_ms, &n, e);

    if (rc == 0 && n != 1)
        rc = err_set(e, ERR_EXISTS, "lock \"%s\" is held exclusively", path);
    return rc;
}

int lock_redis_release_shared(struct lock_redis *r, const char *path, const struct lock_token *tok,
                              struct err *e)
{
    long long n = 0;
    int rc = script_pair(r, release_shared_lua, path, tok, 1, &n, e);

    if (rc == 0 && n != 1)
        rc = err_set(e, ERR_NOTFOUND, "shared lock \"%s\" is not ours (expired)", path);
    return rc;
}

int lock_redis_extend_shared(struct lock_redis *r, const char *path, const struct lock_token *tok,
                             long ttl_ms, struct err *e)
{
    long long n = 0;
    int rc = script_pair(r, extend_shared_lua, path, tok, ttl_ms, &n, e);

    if (rc == 0 && n != 1)
        rc = err_set(e, ERR_NOTFOUND, "shared lock \"%s\" is not ours (expired)", path);
    return rc;
}

int lock_redis_release(struct lock_redis *r, const char *path, const struct lock_token *tok,
                       struct err *e)
{
    char key[KEY_MAX];
    long long n = 0;
    int rc;

    rc = make_key(r, key, "lock", path, e);
    if (rc == 0)
        rc = script_int(r, release_lua, key, tok->s, NULL, &n, e);
    if (rc == 0 && n != 1)
        rc = err_set(e, ERR_NOTFOUND, "lock \"%s\" is not ours (expired or taken)", path);
    return rc;
}

int lock_redis_extend(struct lock_redis *r, const char *path, const struct lock_token *tok,
                      long ttl_ms, struct err *e)
{
    char key[KEY_MAX], ttl[32];
    long long n = 0;
    int rc;

    snprintf(ttl, sizeof(ttl), "%ld", ttl_ms > 0 ? ttl_ms : 1);
    rc = make_key(r, key, "lock", path, e);
    if (rc == 0)
        rc = script_int(r, extend_lua, key, tok->s, ttl, &n, e);
    if (rc == 0 && n != 1)
        rc = err_set(e, ERR_NOTFOUND, "lock \"%s\" is not ours (expired or taken)", path);
    return rc;
}

int lock_redis_ver_get(struct lock_redis *r, const char *path, long long *ver, struct err *e)
{
    char key[KEY_MAX];
    redisReply *rep = NULL;
    int rc;

    *ver = 0;
    rc = make_key(r, key, "ver", path, e);
    if (rc < 0)
        return rc;
    rc = command(r, &rep, e, "GET %s", key);
    if (rc < 0)
        return rc;
    if (rep->type == REDIS_REPLY_STRING) {
        char *end;

        *ver = strtoll(rep->str, &end, 10);
        if (end == rep->str)
            *ver = 0;
    } else if (rep->type != REDIS_REPLY_NIL) {
        rc = err_set(e, ERR_PROTO, "redis GET answered type %d", rep->type);
    }
    freeReplyObject(rep);
    return rc;
}

int lock_redis_ver_raise(struct lock_redis *r, const char *path, long long ver, struct err *e)
{
    char key[KEY_MAX], v[32];
    long long n = 0;
    int rc;

    snprintf(v, sizeof(v), "%lld", ver);
    rc = make_key(r, key, "ver", path, e);
    if (rc == 0)
        rc = script_int(r, raise_lua, key, v, NULL, &n, e);
    return rc;
}

int lock_redis_mark(struct lock_redis *r, const char *id, long ttl_ms, int *fresh, struct err *e)
{
    char key[KEY_MAX];
    redisReply *rep = NULL;
    int rc;

    *fresh = 0;
    rc = make_key(r, key, "queued", id, e);
    if (rc == 0)
        rc = command(r, &rep, e, "SET %s 1 NX PX %ld", key, ttl_ms);
    if (rc == 0)
        *fresh = rep && rep->type == REDIS_REPLY_STATUS; /* "OK"; nil when it was there */
    freeReplyObject(rep);
    return rc;
}

int lock_redis_unmark(struct lock_redis *r, const char *id, struct err *e)
{
    char key[KEY_MAX];
    redisReply *rep = NULL;
    int rc;

    rc = make_key(r, key, "queued", id, e);
    if (rc == 0)
        rc = command(r, &rep, e, "DEL %s", key);
    freeReplyObject(rep);
    return rc;
}

int lock_redis_mark_keep(struct lock_redis *r, const char *id, long ttl_ms, struct err *e)
{
    char key[KEY_MAX];
    redisReply *rep = NULL;
    int rc;

    rc = make_key(r, key, "queued", id, e);
    if (rc == 0)
        rc = command(r, &rep, e, "PEXPIRE %s %ld", key, ttl_ms); /* 0 when it is gone */
    freeReplyObject(rep);
    return rc;
}

int lock_redis_blob_get(struct lock_redis *r, const char *name, size_t cap, char **out, size_t *len,
                        struct err *e)
{
    char key[KEY_MAX];
    redisReply *rep = NULL;
    int rc;

    *out = NULL;
    *len = 0;
    rc = make_key(r, key, "state", name, e);
    if (rc == 0)
        rc = command(r, &rep, e, "GET %s", key);
    if (rc < 0)
        return rc;
    if (rep->type == REDIS_REPLY_NIL) {
        rc = err_set(e, ERR_NOTFOUND, "no %s in redis", key);
    } else if (rep->type != REDIS_REPLY_STRING) {
        rc = err_set(e, ERR_PROTO, "redis GET %s answered type %d", key, rep->type);
    } else if (rep->len > cap) {
        rc = err_set(e, ERR_TOO_BIG, "redis %s holds %zu bytes, more than %zu", key, rep->len, cap);
    } else {
        *out = malloc(rep->len + 1);
        if (!*out) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
        } else {
            memcpy(*out, rep->str, rep->len);
            (*out)[rep->len] = '\0';
            *len = rep->len;
        }
    }
    freeReplyObject(rep);
    return rc;
}

int lock_redis_blob_set(struct lock_redis *r, const char *name, const char *data, size_t len,
                        struct err *e)
{
    char key[KEY_MAX];
    redisReply *rep = NULL;
    int rc;

    rc = make_key(r, key, "state", name, e);
    if (rc == 0)
        rc = command(r, &rep, e, "SET %s %b", key, data, len);
    freeReplyObject(rep);
    return rc;
}

int lock_redis_ping(struct lock_redis *r, struct err *e)
{
    redisReply *rep = NULL;
    int rc = command(r, &rep, e, "PING");

    freeReplyObject(rep);
    return rc;
}
