/*
 * locktest: the shared / exclusive semantics every lock backend has (lock.h),
 * checked the same way on Redis (test_lock_redis) and on the in-process table
 * (test_kq_local). Header-only, test code only.
 */
#ifndef ODOOSYNC_LOCKTEST_H
#define ODOOSYNC_LOCKTEST_H

#include <time.h>

#include "check.h"
#include "lock.h"

static inline void lt_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* a and b: two handles on one backend; path free on entry, and on return. */
static inline void lt_check_modes(struct check_count *cc, struct lock *a, struct lock *b,
                                  const char *path)
{
    struct lock_token s1, s2, x;
    struct err e = ERR_INIT;

    /* shared holders share; an exclusive one waits for the last of them */
    CHECK_INT(cc, lock_acquire_shared(a, path, 5000, &s1, &e), 0);
    CHECK_INT(cc, lock_acquire_shared(b, path, 5000, &s2, &e), 0);
    CHECK_INT(cc, lock_acquire(b, path, 5000, &x, &e), ERR_EXISTS);
    CHECK_INT(cc, lock_release_shared(a, path, &s1, &e), 0);
    CHECK_INT(cc, lock_release_shared(a, path, &s1, &e), ERR_NOTFOUND); /* once */
    CHECK_INT(cc, lock_acquire(a, path, 5000, &x, &e), ERR_EXISTS);
    CHECK_INT(cc, lock_extend_shared(b, path, &s2, 5000, &e), 0);
    CHECK_INT(cc, lock_release_shared(b, path, &s2, &e), 0);
    /* an exclusive holder keeps shared ones out */
    CHECK_INT(cc, lock_acquire(a, path, 5000, &x, &e), 0);
    CHECK_INT(cc, lock_acquire_shared(b, path, 5000, &s2, &e), ERR_EXISTS);
    CHECK_INT(cc, lock_release_shared(b, path, &s2, &e), ERR_NOTFOUND);
    CHECK_INT(cc, lock_release(a, path, &x, &e), 0);
    /* a shared holder that stopped extending expires: it holds nothing back */
    CHECK_INT(cc, lock_acquire_shared(a, path, 200, &s1, &e), 0);
    CHECK_INT(cc, lock_acquire_shared(b, path, 5000, &s2, &e), 0);
    CHECK_INT(cc, lock_release_shared(b, path, &s2, &e), 0);
    lt_sleep_ms(300);
    CHECK_INT(cc, lock_extend_shared(a, path, &s1, 5000, &e), ERR_NOTFOUND);
    CHECK_INT(cc, lock_acquire(b, path, 5000, &x, &e), 0);
    CHECK_INT(cc, lock_release_shared(a, path, &s1, &e), ERR_NOTFOUND);
    CHECK_INT(cc, lock_release(b, path, &x, &e), 0);
}

#endif
