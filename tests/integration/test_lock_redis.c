/*
 * test_lock_redis: the Redis locks against the stack's Redis. Two holders
 * (threads, each with its own connection) are never inside at once; a lock
 * held past its ttl is taken by another and the stale holder can neither
 * release nor extend it; extend keeps a lock alive past its first ttl;
 * versions only go up; an unreachable Redis gives ERR_RETRY, not a lock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lock.h"
#include "pooltest.h"
#include "locktest.h"
#include "stackenv.h"

#include "banned.h"

#define ROUNDS 150

struct contender {
    struct lock_conf *lc;
    const char *path;
    atomic_int *inside;
    atomic_int *overlaps;
    int entered, busy, errors;
};

static void *contend(void *arg)
{
    struct contender *c = arg;
    struct lock *l = NULL;
    struct err e = ERR_INIT;

    if (lock_new(&l, c->lc, &e) < 0) {
        c->errors++;
        return NULL;
    }
    while (c->entered < ROUNDS) {
        struct lock_token tok;
        int rc = lock_acquire(l, c->path, 5000, &tok, &e);

        if (rc == ERR_EXISTS) {
            c->busy++;
            continue;
        }
        if (rc < 0) {
            c->errors++;
            continue;
        }
        if (atomic_fetch_add(c->inside, 1) != 0)
            atomic_fetch_add(c->overlaps, 1);
        c->entered++;
        pt_sleep_ms(rand() % 2);
        atomic_fetch_sub(c->inside, 1);
        if (lock_release(l, c->path, &tok, &e) < 0)
            c->errors++;
    }
    lock_free(l);
    return NULL;
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct lock_conf lc = {0}, bad = {0};
    struct lock *a = NULL, *b = NULL, *x = NULL;
    struct lock_token ta, tb, tx;
    struct err e = ERR_INIT;
    char path[128];
    long long v = -1;
    atomic_int inside = 0, overlaps = 0;
    struct contender cs[2];
    pthread_t th[2];
    char *end;

    if (stackenv_load() < 0)
        return 1;
    lc.host = getenv("REDIS_HOST");
    lc.port = (int)strtol(stackenv_get("REDIS_PORT"), &end, 10);
    lc.io_timeout_ms = 1000;
    snprintf(path, sizeof(path), "/Odoo/Test/lock-%d", (int)getpid());

    /* mutual exclusion */
    for (int i = 0; i < 2; i++) {
        memset(&cs[i], 0, sizeof(cs[i]));
        cs[i].lc = &lc;
        cs[i].path = path;
        cs[i].inside = &inside;
        cs[i].overlaps = &overlaps;
        pthread_create(&th[i], NULL, contend, &cs[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(&cc, atomic_load(&overlaps), 0);
    CHECK_INT(&cc, cs[0].entered + cs[1].entered, 2 * ROUNDS);
    CHECK_INT(&cc, cs[0].errors + cs[1].errors, 0);
    CHECK(&cc, cs[0].busy + cs[1].busy > 0); /* they did contend */
    printf("contention: %d + %d entries, %d busy answers\n", cs[0].entered, cs[1].entered,
           cs[0].busy + cs[1].busy);

    /* ttl: a stale holder cannot release or extend what another took over */
    CHECK_INT(&cc, lock_new(&a, &lc, &e), 0);
    CHECK_INT(&cc, lock_new(&b, &lc, &e), 0);
    CHECK_INT(&cc, lock_acquire(a, path, 200, &ta, &e), 0);
    CHECK_INT(&cc, lock_acquire(b, path, 200, &tb, &e), ERR_EXISTS);
    CHECK_INT(&cc, lock_release(b, path, &tb, &e), ERR_NOTFOUND); /* b never held it */
    pt_sleep_ms(300);
    CHECK_INT(&cc, lock_acquire(b, path, 5000, &tb, &e), 0);
    CHECK_INT(&cc, lock_release(a, path, &ta, &e), ERR_NOTFOUND);
    CHECK_INT(&cc, lock_extend(a, path, &ta, 5000, &e), ERR_NOTFOUND);
    CHECK_INT(&cc, lock_acquire(a, path, 200, &ta, &e), ERR_EXISTS); /* still b's */
    CHECK_INT(&cc, lock_release(b, path, &tb, &e), 0);

    /* extend keeps it past the first ttl */
    CHECK_INT(&cc, lock_acquire(a, path, 300, &ta, &e), 0);
    for (int i = 0; i < 4; i++) {
        pt_sleep_ms(150);
        CHECK_INT(&cc, lock_extend(a, path, &ta, 300, &e), 0);
    }
    CHECK_INT(&cc, lock_acquire(b, path, 300, &tb, &e), ERR_EXISTS);
    CHECK_INT(&cc, lock_release(a, path, &ta, &e), 0);

    /* shared and exclusive holds of one path */
    lt_check_modes(&cc, a, b, path);

    /* versions */
    CHECK_INT(&cc, lock_ver_get(a, path, &v, &e), 0);
    CHECK_INT(&cc, v, 0);
    CHECK_INT(&cc, lock_ver_raise(a, path, 12, &e), 0);
    CHECK_INT(&cc, lock_ver_raise(b, path, 9, &e), 0);
    CHECK_INT(&cc, lock_ver_get(b, path, &v, &e), 0);
    CHECK_INT(&cc, v, 12);
    CHECK_INT(&cc, lock_ping(a, &e), 0);

    /* unreachable: a closed port answers ERR_RETRY, never a lock */
    bad.host = "127.0.0.1";
    bad.port = 1;
    bad.connect_timeout_ms = 300;
    CHECK_INT(&cc, lock_new(&x, &bad, &e), 0);
    CHECK_INT(&cc, lock_acquire(x, path, 1000, &tx, &e), ERR_RETRY);
    CHECK_INT(&cc, lock_ping(x, &e), ERR_RETRY);

    lock_free(a);
    lock_free(b);
    lock_free(x);
    return check_done(&cc);
}
