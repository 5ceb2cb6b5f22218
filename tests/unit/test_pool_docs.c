/*
 * test_pool_docs: the jobs of Odoo's Documents app (one lock per mapping, a
 * nested tree) run side by side on different entries, while a folder's
 * create, move or delete still orders everything under it (docs/design.md
 * "Order and locks"), through the real worker pool in local mode.
 *
 * One mapping ("/Odoo/Documents", every job's lock and Kafka key), NF top
 * folders, each with: its mkdir, a nested folder's mkdir, uploads into both,
 * the nested folder's move, cloud edits copied to Odoo at the new place, a
 * file moved into the moved folder, an Odoo archive (no path), the moved
 * folder's files deleted, then the folder itself. The jobs are queued step
 * by step across the folders (as a plan of several folders interleaves). The
 * applier checks:
 *   - order: a job starts only once every earlier job on the same entry, an
 *     entry inside it or a folder around it (or the same attachment) is done;
 *   - exclusion: no such pair ever runs at the same moment;
 *   - locks: while it runs, a Documents job holds the folder its entry lives
 *     in shared (an exclusive acquire of it is refused), and a nested
 *     folder's mkdir holds that folder exclusively (a shared acquire is
 *     refused);
 *   - concurrency: nested folders' mkdirs run beside other jobs (observed:
 *     the most jobs seen inside apply while a mkdir runs is at least 2), and
 *     at most the pool's concurrency run at once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kq.h"
#include "lock.h"
#include "pool.h"
#include "pooltest.h"

#include "banned.h"

#define BASE "/Odoo/Documents"
#define NF 4
#define NSTEP 20
#define CONC 8

struct tj {
    enum job_kind kind;
    enum job_side side;
    char path[128], to[128], doc[64];
    long att;
};

struct app {
    struct tj jobs[NF * NSTEP];
    int n;
    pthread_mutex_t mu;
    unsigned char running[NF * NSTEP], done[NF * NSTEP];
    int nrunning, max_running, max_with_mkdir, mkdirs_running;
    long order_bad, overlap_bad, lock_bad, applied;
    struct lock *lk; /* the test's own handle on the pool's lock table */
};

/* One entry is the other, or inside it. */
static int same_or_inside(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);

    if (!*a || !*b)
        return 0;
    if (na > nb)
        return strncmp(a, b, nb) == 0 && a[nb] == '/';
    if (nb > na)
        return strncmp(a, b, na) == 0 && b[na] == '/';
    return strcmp(a, b) == 0;
}

static int conflict(const struct tj *x, const struct tj *y)
{
    if (x->att > 0 && x->att == y->att)
        return 1;
    return same_or_inside(x->path, y->path) || same_or_inside(x->path, y->to) ||
           same_or_inside(x->to, y->path) || same_or_inside(x->to, y->to);
}

static void add(struct app *a, enum job_kind k, enum job_side s, const char *path, const char *to,
                const char *doc, long att)
{
    struct tj *t = &a->jobs[a->n++];

    memset(t, 0, sizeof(*t));
    t->kind = k;
    t->side = s;
    snprintf(t->path, sizeof(t->path), "%s", path ? path : "");
    snprintf(t->to, sizeof(t->to), "%s", to ? to : "");
    snprintf(t->doc, sizeof(t->doc), "%s", doc);
    t->att = att;
}

/* Step s of top folder i (the plan's jobs, in plan order per folder). */
static void step(struct app *a, int i, int s)
{
    char f[64], sub[80], moved[80], p[128], q[128], doc[64];
    long att = 1000L * (i + 1) + s;

    snprintf(f, sizeof(f), BASE "/F%d", i);
    snprintf(sub, sizeof(sub), "%s/S", f);
    snprintf(moved, sizeof(moved), "%s/T", f);
    snprintf(doc, sizeof(doc), "documents.document,%ld", att);
    if (s == 0) {
        snprintf(doc, sizeof(doc), "documents.folder,%d", 10 * i + 1);
        add(a, JOB_MKDIR, JOB_SIDE_CLOUD, f, NULL, doc, 0);
    } else if (s == 1) {
        snprintf(doc, sizeof(doc), "documents.folder,%d", 10 * i + 2);
        add(a, JOB_MKDIR, JOB_SIDE_CLOUD, sub, NULL, doc, 0);
    } else if (s <= 4) { /* into the nested folder */
        snprintf(p, sizeof(p), "%s/d%d.pdf", sub, s);
        add(a, JOB_UPLOAD, JOB_SIDE_CLOUD, p, NULL, doc, att);
    } else if (s <= 7) { /* into the top folder */
        snprintf(p, sizeof(p), "%s/e%d.pdf", f, s);
        add(a, JOB_UPLOAD, JOB_SIDE_CLOUD, p, NULL, doc, att);
    } else if (s == 8) { /* the nested folder moves */
        snprintf(doc, sizeof(doc), "documents.folder,%d", 10 * i + 2);
        add(a, JOB_RENAME, JOB_SIDE_CLOUD, sub, moved, doc, 0);
    } else if (s <= 11) { /* cloud edits copied to Odoo, at the new place */
        snprintf(p, sizeof(p), "%s/d%d.pdf", moved, s - 7);
        add(a, JOB_RELINK, JOB_SIDE_ODOO, p, NULL, doc, 1000L * (i + 1) + s - 7);
    } else if (s == 12) { /* a file moved into the moved folder */
        snprintf(p, sizeof(p), "%s/e5.pdf", f);
        snprintf(q, sizeof(q), "%s/e5.pdf", moved);
        add(a, JOB_RENAME, JOB_SIDE_CLOUD, p, q, doc, 0);
    } else if (s == 13) { /* a document archived in Odoo (its file deleted in the cloud) */
        add(a, JOB_DELETE, JOB_SIDE_ODOO, NULL, NULL, doc, 1000L * (i + 1) + 6);
    } else if (s <= 17) { /* the moved folder's files deleted */
        if (s == 17)
            snprintf(p, sizeof(p), "%s/e5.pdf", moved);
        else
            snprintf(p, sizeof(p), "%s/d%d.pdf", moved, s - 12);
        add(a, JOB_DELETE, JOB_SIDE_CLOUD, p, NULL, doc, 0);
    } else if (s == 18) { /* then the folder */
        snprintf(doc, sizeof(doc), "documents.folder,%d", 10 * i + 2);
        add(a, JOB_DELETE, JOB_SIDE_CLOUD, moved, NULL, doc, 0);
    } else { /* a new cloud file becomes a document */
        snprintf(p, sizeof(p), "%s/new.txt", f);
        snprintf(doc, sizeof(doc), "documents.folder,%d", 10 * i + 1);
        add(a, JOB_RELINK, JOB_SIDE_ODOO, p, NULL, doc, 0);
    }
}

static int produce(struct app *a, struct kq_producer *prod, struct err *e)
{
    for (int s = 0; s < NSTEP; s++) {
        for (int i = 0; i < NF; i++) {
            struct tj *t;
            struct job j;
            struct buf b;
            char reason[32];
            int rc;

            step(a, i, s);
            t = &a->jobs[a->n - 1];
            job_init(&j);
            snprintf(reason, sizeof(reason), "docjob %d", a->n - 1);
            j.schema = JOB_SCHEMA_VERSION;
            j.kind = t->kind;
            j.side = t->side;
            j.created_at = j.version = 5;
            j.lock = strdup(BASE);
            j.path = *t->path ? strdup(t->path) : NULL;
            j.to = *t->to ? strdup(t->to) : NULL;
            j.doc = strdup(t->doc);
            j.att_id = t->att;
            j.reason = strdup(reason);
            if (t->kind == JOB_UPLOAD) {
                j.url = strdup("https://cloud.example/x");
                j.name = strdup("x");
                j.size = 4;
                j.expect.checksum = strdup("0123456789012345678901234567890123456789");
            } else if (t->kind == JOB_RELINK) {
                j.url = strdup("https://cloud.example/x");
                j.name = strdup("x");
            }
            buf_init(&b, 1 << 12);
            rc = job_make_id(&j);
            if (rc == 0)
                rc = job_encode(&j, &b, e);
            if (rc == 0)
                rc = kq_produce(prod, KQ_TOPIC_JOBS, BASE, b.data, b.len, NULL, 0, e);
            buf_release(&b);
            job_release(&j);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* The folder path lives in, when strictly inside the base; "" else. */
static void parent_of(const char *path, char *out, size_t size)
{
    const char *s = strrchr(path, '/');

    out[0] = '\0';
    if (s && (size_t)(s - path) > strlen(BASE))
        snprintf(out, size, "%.*s", (int)(s - path), path);
}

/* What the pool's locks must say while job t runs: 0 when they say it. */
static int check_locks(struct app *a, const struct tj *t)
{
    struct lock_token tok;
    struct err e = ERR_INIT;
    char parent[128];
    int bad = 0;

    if (t->kind == JOB_MKDIR && strlen(t->path) > strlen(BASE)) {
        if (lock_acquire_shared(a->lk, t->path, 5000, &tok, &e) == 0) {
            fprintf(stderr, "lock: mkdir \"%s\" does not hold its folder exclusively\n", t->path);
            lock_release_shared(a->lk, t->path, &tok, &e);
            bad = 1;
        }
    }
    parent_of(t->path, parent, sizeof(parent));
    if (*parent && lock_acquire(a->lk, parent, 5000, &tok, &e) == 0) {
        fprintf(stderr, "lock: \"%s\" does not hold \"%s\" shared\n", t->path, parent);
        lock_release(a->lk, parent, &tok, &e);
        bad = 1;
    }
    parent_of(t->to, parent, sizeof(parent));
    if (*t->to && *parent && lock_acquire(a->lk, parent, 5000, &tok, &e) == 0) {
        fprintf(stderr, "lock: \"%s\" does not hold \"%s\" shared\n", t->to, parent);
        lock_release(a->lk, parent, &tok, &e);
        bad = 1;
    }
    return bad;
}

static int apply_doc(const struct job *j, void *ud, struct err *e)
{
    struct app *a = ud;
    const struct tj *t;
    int idx, mk;

    if (!j->reason || sscanf(j->reason, "docjob %d", &idx) != 1 || idx < 0 || idx >= a->n)
        return err_set(e, ERR_INVALID, "not a test job");
    t = &a->jobs[idx];
    mk = t->kind == JOB_MKDIR;
    pthread_mutex_lock(&a->mu);
    for (int k = 0; k < a->n; k++) {
        if (k < idx && !a->done[k] && conflict(&a->jobs[k], t)) {
            a->order_bad++;
            fprintf(stderr, "order: job %d (%s) before job %d (%s)\n", idx, t->path, k,
                    a->jobs[k].path);
        }
        if (k != idx && a->running[k] && conflict(&a->jobs[k], t)) {
            a->overlap_bad++;
            fprintf(stderr, "overlap: job %d (%s) beside job %d (%s)\n", idx, t->path, k,
                    a->jobs[k].path);
        }
    }
    a->running[idx] = 1;
    a->nrunning++;
    a->mkdirs_running += mk;
    if (a->nrunning > a->max_running)
        a->max_running = a->nrunning;
    if (a->mkdirs_running > 0 && a->nrunning > a->max_with_mkdir)
        a->max_with_mkdir = a->nrunning;
    pthread_mutex_unlock(&a->mu);
    if (check_locks(a, t)) {
        pthread_mutex_lock(&a->mu);
        a->lock_bad++;
        pthread_mutex_unlock(&a->mu);
    }
    pt_sleep_ms(5 + (idx * 7) % 11);
    pthread_mutex_lock(&a->mu);
    a->running[idx] = 0;
    a->done[idx] = 1;
    a->nrunning--;
    a->mkdirs_running -= mk;
    a->applied++;
    pthread_mutex_unlock(&a->mu);
    return 0;
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct kq_local *q = kq_local_new(4, 10000);
    struct lock_table *lt = lock_table_new();
    struct kq_conf kc = {0};
    struct lock_conf lc = {0};
    struct kq_producer *prod = NULL;
    struct kq_consumer *c = NULL;
    struct pool_opts o;
    struct pool *p = NULL;
    struct pool_stats st;
    struct err e = ERR_INIT;
    static struct app a;

    memset(&a, 0, sizeof(a));
    pthread_mutex_init(&a.mu, NULL);
    kc.local = q;
    lc.local = lt;
    CHECK_INT(&cc, lock_new(&a.lk, &lc, &e), 0);
    CHECK_INT(&cc, kq_producer_new(&prod, &kc, &e), 0);
    CHECK_MSG(&cc, produce(&a, prod, &e) == 0, "%s", e.msg);
    kq_local_close(q);
    pool_opts_init(&o);
    o.concurrency = CONC;
    o.apply = apply_doc;
    o.apply_ud = &a;
    o.kq = &kc;
    o.lock = &lc;
    CHECK_INT(&cc, kq_consumer_new(&c, &kc, &e), 0);
    CHECK_MSG(&cc, pool_new(&p, &o, c, prod, &e) == 0, "%s", e.msg);
    CHECK_MSG(&cc, pool_run(p, NULL, &e) == 0, "%s", e.msg);
    pool_get_stats(p, &st);
    printf("applied %ld, busy %ld, at most %d jobs at once, %d while a mkdir ran\n", st.applied,
           st.busy, a.max_running, a.max_with_mkdir);
    CHECK_INT(&cc, st.applied, NF * NSTEP);
    CHECK_INT(&cc, st.retried + st.dead, 0);
    CHECK_INT(&cc, a.applied, NF * NSTEP);
    CHECK_INT(&cc, a.order_bad, 0);
    CHECK_INT(&cc, a.overlap_bad, 0);
    CHECK_INT(&cc, a.lock_bad, 0);
    CHECK(&cc, a.max_with_mkdir >= 2);
    CHECK(&cc, a.max_running >= 2 && a.max_running <= CONC);
    pool_free(p);
    kq_consumer_free(c);
    kq_producer_free(prod);
    kq_local_free(q);
    lock_free(a.lk);
    lock_table_free(lt);
    pthread_mutex_destroy(&a.mu);
    return check_done(&cc);
}
