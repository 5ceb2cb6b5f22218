/*
 * test_move_locks: a move needs two document paths locked, taken in a fixed
 * order (worker/pool_worker.c second_lock(), strcmp order), with the real appliers
 * against the stack's Apache WebDAV and Redis locks (issue 4, "Locks").
 *
 * 1. both held: a cloud rename of folder A to B runs in a pool; while it is
 *    inside, Redis holds both locks (A and B), and a job queued meanwhile on the
 *    destination B (mkdir B/sub) is refused the lock (busy) and waits: it never
 *    runs while the move is inside, and runs after it (B/sub lands in the moved
 *    folder).
 * 2. opposite moves: A -> B in one pool and B -> A in another, submitted at the
 *    same moment, several rounds: each round ends (no deadlock, no livelock),
 *    never both inside, each inside holding both locks, no failure, and
 *    exactly one of A / B exists afterwards with the file intact.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applytest.h"
#include "check.h"

#include "banned.h"

#define ROUNDS 4

struct ctx {
    struct check_count *cc;
    struct at_env t;
    struct dav *dav;
    struct applier *ap;
    char a[192], b[192];
    /* shared by the wrapped appliers (any pool thread) */
    struct pool *watch; /* the pool whose busy count the move waits for */
    atomic_int move_inside, dest_entered, dest_during_move, both_held, dest_locked, saw_busy;
    atomic_int inside, max_inside, entries;
};

static void note_max(atomic_int *max, int n)
{
    int m = atomic_load(max);

    while (n > m && !atomic_compare_exchange_weak(max, &m, n))
        ;
}

static int both_locked(struct ctx *x)
{
    redisContext *rd = at_redis();
    int ok;

    if (!rd)
        return 0;
    ok = at_lock_exists(rd, &x->t, x->a) == 1 && at_lock_exists(rd, &x->t, x->b) == 1;
    redisFree(rd);
    return ok;
}

/* 1. The move waits, inside its locks, until the destination job was refused. */
static int apply_watch(const struct job *j, void *ud, struct err *e)
{
    struct ctx *x = ud;
    int rc;

    if (j->kind == JOB_RENAME) {
        long long t0 = at_now_ms();
        struct pool_stats st;

        atomic_store(&x->move_inside, 1);
        if (both_locked(x))
            atomic_store(&x->both_held, 1);
        while (at_now_ms() - t0 < 30000) {
            pool_get_stats(x->watch, &st);
            if (st.busy >= 1) {
                atomic_store(&x->saw_busy, 1);
                break;
            }
            at_sleep_ms(20);
        }
        at_sleep_ms(100); /* a little longer: the destination job must still wait */
        rc = apply_job(j, x->ap, e);
        atomic_store(&x->move_inside, 0);
        return rc;
    }
    atomic_store(&x->dest_entered, 1);
    if (atomic_load(&x->move_inside))
        atomic_store(&x->dest_during_move, 1);
    {
        redisContext *rd = at_redis();

        if (rd && at_lock_exists(rd, &x->t, x->b) == 1)
            atomic_store(&x->dest_locked, 1);
        if (rd)
            redisFree(rd);
    }
    return apply_job(j, x->ap, e);
}

static void test_both_held(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct at_pool pl;
    struct pool_opts po;
    struct pool_stats st;
    struct dav_stat ds;
    struct job m, d;
    struct err e = ERR_INIT;
    char sub[256], file[256];
    long long t0;

    memset(&ds, 0, sizeof(ds));
    snprintf(file, sizeof(file), "%s/f.txt", x->b);
    snprintf(sub, sizeof(sub), "%s/sub", x->b);
    pool_opts_init(&po);
    po.concurrency = 4;
    po.lock_ttl_ms = 5000;
    po.apply = apply_watch;
    po.apply_ud = x;
    CHECK_MSG(cc, at_pool_new(&pl, &po, &x->t, &e) == 0, "%s", e.msg);
    x->watch = pl.p;
    at_job_cloud(&m, JOB_RENAME, x->a, x->a, x->b, NULL, 0);
    at_job_base(&d, JOB_MKDIR, JOB_SIDE_CLOUD, x->b, sub, 0);
    job_make_id(&d);
    CHECK_INT(cc, at_pool_send(&pl, &m), 0);
    CHECK_INT(cc, at_pool_start_open(&pl), 0);
    t0 = at_now_ms();
    while (!atomic_load(&x->move_inside) && at_now_ms() - t0 < 30000)
        at_sleep_ms(10);
    CHECK_MSG(cc, atomic_load(&x->move_inside), "the move never started");
    CHECK_INT(cc, at_pool_send(&pl, &d), 0); /* on the destination, while the move is inside */
    at_pool_close(&pl);
    CHECK_INT(cc, at_pool_wait(&pl, 60000), 0);
    CHECK_INT(cc, pl.rc, 0);
    pool_get_stats(pl.p, &st);
    printf("both held: busy %ld, applied %ld\n", st.busy, st.applied);
    CHECK_INT(cc, atomic_load(&x->both_held), 1);
    CHECK_INT(cc, atomic_load(&x->saw_busy), 1);
    CHECK_INT(cc, atomic_load(&x->dest_entered), 1);
    CHECK_INT(cc, atomic_load(&x->dest_during_move), 0);
    CHECK_INT(cc, atomic_load(&x->dest_locked), 1);
    CHECK_INT(cc, st.applied, 2);
    CHECK_INT(cc, st.retried + st.dead, 0);
    at_pool_free(&pl);
    job_release(&m);
    job_release(&d);
    CHECK_INT(cc, dav_stat(x->dav, x->a, &ds, &e), ERR_NOTFOUND);
    dav_stat_release(&ds);
    CHECK_INT(cc, dav_stat(x->dav, file, &ds, &e), 0);
    dav_stat_release(&ds);
    CHECK_INT(cc, dav_stat(x->dav, sub, &ds, &e), 0);
    CHECK(cc, ds.is_dir);
    dav_stat_release(&ds);
}

/* 2. Never two moves inside at once; each inside holds both locks. */
static int apply_count(const struct job *j, void *ud, struct err *e)
{
    struct ctx *x = ud;
    int rc;

    note_max(&x->max_inside, atomic_fetch_add(&x->inside, 1) + 1);
    atomic_fetch_add(&x->entries, 1);
    if (both_locked(x))
        atomic_fetch_add(&x->both_held, 1);
    at_sleep_ms(100);
    rc = apply_job(j, x->ap, e);
    atomic_fetch_sub(&x->inside, 1);
    return rc;
}

static void test_opposite(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct err e = ERR_INIT;
    char fa[256], fb[256];
    struct dav_stat sa, sb;

    snprintf(fa, sizeof(fa), "%s/f.txt", x->a);
    snprintf(fb, sizeof(fb), "%s/f.txt", x->b);
    atomic_store(&x->both_held, 0);
    for (int round = 0; round < ROUNDS; round++) {
        struct at_pool pl[2];
        struct pool_opts po;
        struct pool_stats st;
        struct job j[2];
        long applied = 0, failed = 0;
        int ea, eb;

        atomic_store(&x->inside, 0);
        atomic_store(&x->entries, 0);
        for (int i = 0; i < 2; i++) {
            pool_opts_init(&po);
            po.concurrency = 2;
            po.lock_ttl_ms = 5000;
            po.busy_delay_ms = 20 + 15 * i;
            po.apply = apply_count;
            po.apply_ud = x;
            CHECK_MSG(cc, at_pool_new(&pl[i], &po, &x->t, &e) == 0, "%s", e.msg);
        }
        at_job_cloud(&j[0], JOB_RENAME, x->a, x->a, x->b, NULL, 0);
        at_job_cloud(&j[1], JOB_RENAME, x->b, x->b, x->a, NULL, 0);
        for (int i = 0; i < 2; i++)
            CHECK_INT(cc, at_pool_send(&pl[i], &j[i]), 0);
        for (int i = 0; i < 2; i++)
            CHECK_INT(cc, at_pool_start(&pl[i]), 0);
        for (int i = 0; i < 2; i++) {
            CHECK_MSG(cc, at_pool_wait(&pl[i], 60000) == 0, "round %d: pool %d stuck", round, i);
            pool_get_stats(pl[i].p, &st);
            applied += st.applied;
            failed += st.retried + st.dead;
            at_pool_free(&pl[i]);
            job_release(&j[i]);
        }
        memset(&sa, 0, sizeof(sa));
        memset(&sb, 0, sizeof(sb));
        ea = dav_stat(x->dav, fa, &sa, &e) == 0;
        eb = dav_stat(x->dav, fb, &sb, &e) == 0;
        dav_stat_release(&sa);
        dav_stat_release(&sb);
        printf("round %d: %s, max inside %d\n", round,
               ea   ? "A"
               : eb ? "B"
                    : "none",
               atomic_load(&x->max_inside));
        CHECK_INT(cc, applied, 2);
        CHECK_INT(cc, failed, 0);
        CHECK_INT(cc, atomic_load(&x->entries), 2);
        CHECK_MSG(cc, ea + eb == 1, "round %d: A has the file %d, B %d", round, ea, eb);
    }
    CHECK_INT(cc, atomic_load(&x->max_inside), 1);
    CHECK_INT(cc, atomic_load(&x->both_held), 2 * ROUNDS);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct ctx x;
    struct apply_opts ao;
    struct err e = ERR_INIT;
    char root[128], file[256];
    struct buf b;

    if (stackenv_load() < 0)
        return 1;
    memset(&x, 0, sizeof(x));
    x.cc = &cc;
    at_env_init(&x.t, "move");
    snprintf(root, sizeof(root), "/odoosync-test-move-%d", (int)getpid());
    snprintf(x.a, sizeof(x.a), "%s/T/Doc A", root);
    snprintf(x.b, sizeof(x.b), "%s/T/Doc B", root);
    snprintf(file, sizeof(file), "%s/f.txt", x.a);
    CHECK_INT(&cc, dav_global_init(&e), 0);
    x.dav = dav_new(&x.t.dav, &e);
    CHECK(&cc, x.dav != NULL);
    if (!x.dav)
        return check_done(&cc);
    memset(&ao, 0, sizeof(ao));
    ao.dav = &x.t.dav;
    ao.odoo = &x.t.odoo;
    CHECK_INT(&cc, apply_new(&x.ap, &ao, &e), 0);
    CHECK_MSG(&cc, dav_mkcol(x.dav, x.a, 1, NULL, &e) == 0, "%s", e.msg);
    CHECK_INT(&cc, dav_put_buf(x.dav, file, "moved around", 12, NULL, 1, NULL, &e), 0);

    test_both_held(&x);
    /* the file is in B now: put it back in A for the opposite moves */
    CHECK_INT(&cc, dav_delete(x.dav, x.b, NULL, &e), 0);
    CHECK_MSG(&cc, dav_mkcol(x.dav, x.a, 1, NULL, &e) == 0, "%s", e.msg);
    CHECK_INT(&cc, dav_put_buf(x.dav, file, "moved around", 12, NULL, 1, NULL, &e), 0);
    test_opposite(&x);

    /* whichever folder holds it, the file is intact */
    buf_init(&b, 4096);
    snprintf(file, sizeof(file), "%s/f.txt", x.a);
    if (dav_get_buf(x.dav, file, &b, &e) < 0) {
        buf_reset(&b);
        snprintf(file, sizeof(file), "%s/f.txt", x.b);
        CHECK_INT(&cc, dav_get_buf(x.dav, file, &b, &e), 0);
    }
    CHECK(&cc, b.len == 12 && memcmp(b.data, "moved around", 12) == 0);
    buf_release(&b);

    dav_delete(x.dav, root, NULL, &e);
    apply_free(x.ap);
    dav_free(x.dav);
    dav_global_cleanup();
    return check_done(&cc);
}
