/*
 * test_stale_lock: two workers, one document (issue 4, "What it must show":
 * never both inside the lock; a lock held past its ttl by a stalled worker
 * cannot make the stale worker overwrite a newer file), with the real
 * appliers against the stack's Apache WebDAV, Odoo emulator and Redis.
 *
 * 1. exclusive: two pools (each its own queue, so both hold a job for the same
 *    document at the same moment) with Redis locks (ttl 3 s): an upload (a
 *    file job: the document's lock shared) and the document folder's mkdir (a
 *    folder job: its lock exclusive); each job stays inside 3.6 s, longer than
 *    the ttl, then applies for real. Never both inside; the lock is still there
 *    after the ttl (the heartbeat extends it, in its mode); the other job
 *    waited (lock busy); the file uploaded, the folder tagged.
 * 2. stale upload: a worker process (this program re-run as `stale-child`: a
 *    pool, Redis locks with ttl 1 s, the real applier) stops itself with
 *    SIGSTOP exactly between its re-read and its PUT (apply_opts.before_write),
 *    heartbeat included. Its lock expires; another worker takes the lock and
 *    uploads a newer attachment to the same file; SIGCONT: the stale PUT
 *    carries If-None-Match: *, Apache refuses it (412), the job reports
 *    superseded (skipped), the cloud keeps the newer file and its tag, and the
 *    stale attachment stays binary in Odoo (never points at the other file).
 * 3. stale delete and 4. stale move: the same with an If-Match DELETE / MOVE of
 *    a file changed in the cloud while the worker was stopped: refused (412),
 *    skipped, the newer content kept. The file is created just before, so the
 *    worker's re-read may well see Apache's weak ETag of that second: it must
 *    still send its condition.
 * 5. adopt: an upload killed between PUT and tag leaves an untagged file with
 *    the attachment's exact content: the next attempt adopts it (tags it, turns
 *    the attachment into a url one); an untagged file with other content is
 *    never overwritten (conflict, attachment stays binary).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "applytest.h"
#include "check.h"
#include "jobmsg.h"

#include "banned.h"

struct ctx {
    struct check_count *cc;
    struct at_env t;
    struct dav *dav;
    struct odoo *odoo;
    struct applier *ap;
    struct lock *lk;
    redisContext *rd;
    long partner;
    char root[128];
    char doc[192];
    pthread_mutex_t mu;
    int last_result; /* of the parent's applier */
};

static void on_parent_event(const struct job *j, const struct job_event *ev, void *ud)
{
    struct ctx *x = ud;

    (void)j;
    pthread_mutex_lock(&x->mu);
    x->last_result = (int)ev->result;
    pthread_mutex_unlock(&x->mu);
}

static int last_result(struct ctx *x)
{
    int r;

    pthread_mutex_lock(&x->mu);
    r = x->last_result;
    x->last_result = -1;
    pthread_mutex_unlock(&x->mu);
    return r;
}

/* ---- the stale worker: `stale-child JOB-JSON WHAT PREFIX` ---- */

struct child {
    const char *what;
    atomic_int stalled;
};

static void child_before_write(const struct job *j, const char *what, void *ud)
{
    struct child *c = ud;

    (void)j;
    if (strcmp(what, c->what) != 0 || atomic_exchange(&c->stalled, 1))
        return;
    printf("stalled %s\n", what);
    fflush(stdout);
    raise(SIGSTOP); /* the whole process: the heartbeat stops too */
}

static void child_event(const struct job *j, const struct job_event *ev, void *ud)
{
    (void)ud;
    printf("event %s %s %s\n", job_kind_name(j->kind), job_result_name(ev->result),
           ev->error ? ev->error : "");
    fflush(stdout);
}

static int child_main(char **argv)
{
    struct at_env t;
    struct child c = {argv[3], 0};
    struct apply_opts ao;
    struct applier *ap = NULL;
    struct pool_opts po;
    struct at_pool pl;
    struct job j;
    struct err e = ERR_INIT;
    struct log lg;
    int rc;

    at_env_init(&t, "child");
    snprintf(t.prefix, sizeof(t.prefix), "%s", argv[4]);
    log_init(&lg, stderr, LOG_WARN, LOG_FMT_HUMAN, "stale-child");
    job_init(&j);
    memset(&pl, 0, sizeof(pl));
    rc = dav_global_init(&e);
    if (rc == 0)
        rc = job_decode(&j, argv[2], strlen(argv[2]), NULL, &e);
    memset(&ao, 0, sizeof(ao));
    ao.dav = &t.dav;
    ao.odoo = &t.odoo;
    ao.log = &lg;
    ao.on_event = child_event;
    ao.before_write = child_before_write;
    ao.before_write_ud = &c;
    if (rc == 0)
        rc = apply_new(&ap, &ao, &e);
    pool_opts_init(&po);
    po.concurrency = 2;
    po.lock_ttl_ms = 1000; /* expires soon once the process is stopped */
    po.max_attempts = 2;
    po.apply = apply_job;
    po.apply_ud = ap;
    po.on_event = child_event;
    po.log = &lg;
    if (rc == 0)
        rc = at_pool_new(&pl, &po, &t, &e);
    if (rc == 0)
        rc = at_pool_send(&pl, &j);
    if (rc == 0)
        rc = at_pool_start(&pl);
    if (rc == 0 && at_pool_wait(&pl, 60000) < 0)
        rc = err_set(&e, ERR_RETRY, "the pool did not drain");
    if (rc == 0 && pl.rc < 0)
        rc = err_set(&e, pl.rc, "%s", pl.e.msg);
    if (rc < 0)
        fprintf(stderr, "stale-child: %s\n", e.msg);
    at_pool_free(&pl);
    apply_free(ap);
    job_release(&j);
    log_release(&lg);
    dav_global_cleanup();
    return rc < 0 ? 1 : 0;
}

/*
 * Run `stale` in a stale-child, stopped at `what`; once its lock has expired,
 * newer(x, arg) makes the newer change; then the child goes on. Its output
 * (event lines) lands in out. 0 when everything went as staged.
 */
static int run_stale(struct ctx *x, const struct job *stale, const char *what,
                     int (*newer)(struct ctx *, void *), void *arg, char *out, size_t cap)
{
    struct check_count *cc = x->cc;
    struct buf b;
    struct err e = ERR_INIT;
    char what_buf[16], line[1024], self_arg[] = "stale-child", exe[] = "/proc/self/exe";
    char *args[6];
    int fds[2], status = 0, stopped = 0, expired = 0;
    size_t used = 0;
    FILE *f;
    pid_t pid;
    long long t0;

    out[0] = '\0';
    buf_init(&b, 1 << 20);
    CHECK_INT(cc, job_encode(stale, &b, &e), 0);
    CHECK_INT(cc, buf_append(&b, "", 1), 0);
    snprintf(what_buf, sizeof(what_buf), "%s", what);
    args[0] = exe;
    args[1] = self_arg;
    args[2] = b.data;
    args[3] = what_buf;
    args[4] = x->t.prefix;
    args[5] = NULL;
    if (pipe(fds) < 0) {
        buf_release(&b);
        return -1;
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv("/proc/self/exe", args);
        _exit(127);
    }
    close(fds[1]);
    buf_release(&b);
    f = fdopen(fds[0], "r");
    while (f && fgets(line, sizeof(line), f)) {
        used += (size_t)snprintf(out + used, cap - used, "%s", line);
        if (used >= cap)
            used = cap - 1;
        if (strncmp(line, "stalled", 7) == 0)
            break;
    }
    CHECK_MSG(cc, strstr(out, "stalled") != NULL, "the child never reached its write: %s", out);
    if (waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status))
        stopped = 1;
    CHECK_MSG(cc, stopped, "the child is not stopped (status %d)", status);
    /* the heartbeat is stopped with it: the lock must expire (ttl 1 s) */
    t0 = at_now_ms();
    while (at_now_ms() - t0 < 20000) {
        if (at_lock_exists(x->rd, &x->t, x->doc) == 0) {
            expired = 1;
            break;
        }
        at_sleep_ms(50);
    }
    CHECK_MSG(cc, expired, "the stopped worker's lock did not expire");
    if (stopped && expired)
        CHECK_INT(cc, newer(x, arg), 0);
    kill(pid, SIGCONT);
    while (f && fgets(line, sizeof(line), f)) {
        used += (size_t)snprintf(out + used, cap - used, "%s", line);
        if (used >= cap)
            used = cap - 1;
    }
    if (f)
        fclose(f);
    waitpid(pid, &status, 0);
    CHECK_MSG(cc, WIFEXITED(status) && WEXITSTATUS(status) == 0, "stale-child status %d", status);
    printf("stale %s: child said:\n%s", what, out);
    return 0;
}

/* The stale job reported superseded (or already done), never applied, never failed. */
static void check_stale_outcome(struct ctx *x, const char *out, const char *kind)
{
    char applied[64], skipped[64], done[64];

    snprintf(applied, sizeof(applied), "event %s applied", kind);
    snprintf(skipped, sizeof(skipped), "event %s skipped", kind);
    snprintf(done, sizeof(done), "event %s already-done", kind);
    CHECK_MSG(x->cc, strstr(out, skipped) || strstr(out, done), "no superseded report: %s", out);
    CHECK_MSG(x->cc, !strstr(out, applied), "the stale job says applied: %s", out);
    CHECK_MSG(x->cc, !strstr(out, " failed ") && !strstr(out, "dead-lettered"),
              "the stale job failed: %s", out);
}

static void check_content(struct ctx *x, const char *path, const char *want)
{
    struct buf b;
    struct err e = ERR_INIT;

    buf_init(&b, 1 << 20);
    CHECK_MSG(x->cc, dav_get_buf(x->dav, path, &b, &e) == 0, "GET %s: %s", path, e.msg);
    CHECK_MSG(x->cc, b.len == strlen(want) && memcmp(b.data, want, b.len) == 0,
              "%s holds \"%.*s\", want \"%s\"", path, (int)b.len, b.data ? b.data : "", want);
    buf_release(&b);
}

static void check_tag(struct ctx *x, const char *path, long att_id)
{
    struct dav_stat st;
    struct err e = ERR_INIT;
    char want[32];

    memset(&st, 0, sizeof(st));
    snprintf(want, sizeof(want), "%ld", att_id);
    CHECK_MSG(x->cc, dav_stat(x->dav, path, &st, &e) == 0, "stat %s: %s", path, e.msg);
    CHECK_MSG(x->cc, st.attachment_tag && strcmp(st.attachment_tag, want) == 0,
              "%s tagged %s, want %s", path, st.attachment_tag ? st.attachment_tag : "(none)",
              want);
    dav_stat_release(&st);
}

static void check_type(struct ctx *x, long att, const char *want)
{
    char type[32];
    struct err e = ERR_INIT;

    CHECK_INT(x->cc, at_att_type(x->odoo, att, type, sizeof(type), &e), 0);
    CHECK_MSG(x->cc, strcmp(type, want) == 0, "attachment %ld is %s, want %s", att, type, want);
}

static void pathf(char *out, size_t cap, const struct ctx *x, const char *name)
{
    snprintf(out, cap, "%s/%s", x->doc, name);
}

/* ---- 1. exclusive ---- */

#define EXCL_TTL_MS 3000
#define EXCL_HOLD_MS 3600

struct excl {
    struct ctx *x;
    atomic_int inside, max_inside, entered, extended;
};

static int excl_apply(const struct job *j, void *ud, struct err *e)
{
    struct excl *s = ud;
    int n = atomic_fetch_add(&s->inside, 1) + 1, m = atomic_load(&s->max_inside), rc;
    redisContext *rd;

    while (n > m && !atomic_compare_exchange_weak(&s->max_inside, &m, n))
        ;
    atomic_fetch_add(&s->entered, 1);
    at_sleep_ms(EXCL_HOLD_MS);
    rd = at_redis();
    if (rd && at_lock_exists(rd, &s->x->t, j->lock) == 1)
        atomic_fetch_add(&s->extended, 1); /* still ours after the ttl: the heartbeat works */
    if (rd)
        redisFree(rd);
    rc = apply_job(j, s->x->ap, e);
    atomic_fetch_sub(&s->inside, 1);
    return rc;
}

static void test_exclusive(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct excl s;
    struct at_pool pl[2];
    struct pool_opts po;
    struct pool_stats st;
    struct err e = ERR_INIT;
    char path[256], name[32], content[64];
    long busy = 0, applied = 0;

    memset(&s, 0, sizeof(s));
    s.x = x;
    for (int i = 0; i < 2; i++) {
        struct job j;
        long att = 0;

        snprintf(name, sizeof(name), "excl-%d.txt", i);
        snprintf(content, sizeof(content), "exclusive content %d", i);
        pathf(path, sizeof(path), x, name);
        if (i == 0)
            CHECK_INT(cc, at_attach(x->odoo, x->partner, name, content, &att, &e), 0);
        pool_opts_init(&po);
        po.concurrency = 2;
        po.lock_ttl_ms = EXCL_TTL_MS;
        po.apply = excl_apply;
        po.apply_ud = &s;
        CHECK_MSG(cc, at_pool_new(&pl[i], &po, &x->t, &e) == 0, "%s", e.msg);
        if (i == 0) {
            at_job_upload(&j, x->dav, x->doc, path, att, content, 0);
        } else {
            char rec[64];

            snprintf(rec, sizeof(rec), "res.partner,%ld", x->partner);
            at_job_base(&j, JOB_MKDIR, JOB_SIDE_CLOUD, x->doc, x->doc, 0);
            j.record = strdup(rec);
            job_make_id(&j);
        }
        CHECK_INT(cc, at_pool_send(&pl[i], &j), 0);
        job_release(&j);
    }
    for (int i = 0; i < 2; i++)
        CHECK_INT(cc, at_pool_start(&pl[i]), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(cc, at_pool_wait(&pl[i], 60000), 0);
        CHECK_INT(cc, pl[i].rc, 0);
        pool_get_stats(pl[i].p, &st);
        busy += st.busy;
        applied += st.applied;
        at_pool_free(&pl[i]);
    }
    printf("exclusive: max inside %d, busy %ld, applied %ld, extended %d\n",
           atomic_load(&s.max_inside), busy, applied, atomic_load(&s.extended));
    CHECK_INT(cc, atomic_load(&s.entered), 2);
    CHECK_INT(cc, atomic_load(&s.max_inside), 1);
    CHECK_INT(cc, applied, 2);
    CHECK(cc, busy >= 1); /* the second one waited for the first */
    CHECK_INT(cc, atomic_load(&s.extended), 2);
    pathf(path, sizeof(path), x, "excl-0.txt");
    check_content(x, path, "exclusive content 0");
}

/* ---- 2. stale upload ---- */

struct newer_upload {
    long att;
    const char *path, *content;
    long long version;
};

/* Another worker: takes the (expired) lock, uploads a newer attachment to the same file. */
static int newer_upload(struct ctx *x, void *arg)
{
    struct newer_upload *n = arg;
    struct lock_token tok;
    struct job j;
    struct err e = ERR_INIT;
    int rc;

    rc = lock_acquire(x->lk, x->doc, 10000, &tok, &e);
    CHECK_MSG(x->cc, rc == 0, "the other worker cannot take the expired lock: %s", e.msg);
    if (rc < 0)
        return rc;
    at_job_upload(&j, x->dav, x->doc, n->path, n->att, n->content, n->version);
    rc = apply_job(&j, x->ap, &e);
    CHECK_MSG(x->cc, rc == 0, "newer upload: %s", e.msg);
    CHECK_INT(x->cc, last_result(x), JOB_APPLIED);
    if (rc == 0)
        rc = lock_ver_raise(x->lk, x->doc, n->version, &e);
    lock_release(x->lk, x->doc, &tok, &e);
    job_release(&j);
    return rc;
}

static void test_stale_upload(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct newer_upload n;
    struct job j;
    struct err e = ERR_INIT;
    char path[256], out[8192];
    long old_att = 0, new_att = 0;
    const char *old_content = "the old attachment, planned first";
    const char *new_content = "the NEWER attachment that took the name";

    pathf(path, sizeof(path), x, "contract.txt");
    CHECK_INT(cc, at_attach(x->odoo, x->partner, "contract.txt", old_content, &old_att, &e), 0);
    CHECK_INT(cc, at_attach(x->odoo, x->partner, "contract.txt", new_content, &new_att, &e), 0);
    at_job_upload(&j, x->dav, x->doc, path, old_att, old_content, 1);
    n.att = new_att;
    n.path = path;
    n.content = new_content;
    n.version = 2;
    CHECK_INT(cc, run_stale(x, &j, "put", newer_upload, &n, out, sizeof(out)), 0);
    job_release(&j);
    check_stale_outcome(x, out, "upload");
    check_content(x, path, new_content);
    check_tag(x, path, new_att);
    check_type(x, old_att, "binary"); /* never turned into a link to the other file */
    check_type(x, new_att, "url");
}

/* ---- 3./4. stale delete and move ---- */

struct newer_put {
    const char *path, *content;
};

/* The file changes in the cloud while the worker is stopped. */
static int newer_put(struct ctx *x, void *arg)
{
    struct newer_put *n = arg;
    struct err e = ERR_INIT;
    int rc = dav_put_buf(x->dav, n->path, n->content, strlen(n->content), NULL, 0, NULL, &e);

    CHECK_MSG(x->cc, rc == 0, "PUT %s: %s", n->path, e.msg);
    return rc;
}

static void test_stale_cloud(struct ctx *x, enum job_kind kind, long long version)
{
    struct check_count *cc = x->cc;
    struct newer_put n;
    struct dav_result r;
    struct dav_stat st;
    struct job j;
    struct err e = ERR_INIT;
    char path[256], to[256], out[8192];
    const char *what = kind == JOB_DELETE ? "delete" : "move";
    const char *newer = "changed in the cloud while the worker slept";

    pathf(path, sizeof(path), x, kind == JOB_DELETE ? "sheet.txt" : "memo.txt");
    pathf(to, sizeof(to), x, "memo-renamed.txt");
    memset(&r, 0, sizeof(r));
    memset(&st, 0, sizeof(st));
    CHECK_INT(cc, dav_put_buf(x->dav, path, "version one", 11, NULL, 1, &r, &e), 0);
    CHECK_INT(cc, dav_stat(x->dav, path, &st, &e), 0);
    CHECK(cc, st.etag != NULL);
    at_job_cloud(&j, kind, x->doc, path, kind == JOB_RENAME ? to : NULL, st.etag, version);
    printf("stale %s: planned from etag %s (%s)\n", what, st.etag ? st.etag : "-",
           st.etag && st.etag[0] == 'W' ? "weak: the worker must wait for a strong one" : "strong");
    dav_stat_release(&st);
    n.path = path;
    n.content = newer;
    CHECK_INT(cc, run_stale(x, &j, what, newer_put, &n, out, sizeof(out)), 0);
    check_stale_outcome(x, out, job_kind_name(kind));
    check_content(x, path, newer);
    if (kind == JOB_RENAME)
        CHECK_INT(cc, dav_stat(x->dav, to, &st, &e), ERR_NOTFOUND);
    dav_stat_release(&st);
    job_release(&j);
}

/* ---- 5. adopt ---- */

static void test_adopt(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct job j;
    struct err e = ERR_INIT;
    char path[256];
    long att = 0;
    const char *content = "uploaded, then the worker died before tagging it";
    const char *other = "a stranger's file of the same name";

    /* same content, untagged: adopted */
    pathf(path, sizeof(path), x, "adopt.txt");
    CHECK_INT(cc, at_attach(x->odoo, x->partner, "adopt.txt", content, &att, &e), 0);
    CHECK_INT(cc, dav_put_buf(x->dav, path, content, strlen(content), NULL, 1, NULL, &e), 0);
    at_job_upload(&j, x->dav, x->doc, path, att, content, 0);
    CHECK_MSG(cc, apply_job(&j, x->ap, &e) == 0, "adopt: %s", e.msg);
    CHECK_INT(cc, last_result(x), JOB_APPLIED);
    job_release(&j);
    check_tag(x, path, att);
    check_content(x, path, content);
    check_type(x, att, "url");

    /* other content, untagged: never overwritten */
    pathf(path, sizeof(path), x, "stranger.txt");
    CHECK_INT(cc, at_attach(x->odoo, x->partner, "stranger.txt", content, &att, &e), 0);
    CHECK_INT(cc, dav_put_buf(x->dav, path, other, strlen(other), NULL, 1, NULL, &e), 0);
    at_job_upload(&j, x->dav, x->doc, path, att, content, 0);
    err_clear(&e);
    CHECK_INT(cc, apply_job(&j, x->ap, &e), ERR_CONFLICT);
    job_release(&j);
    check_content(x, path, other);
    check_type(x, att, "binary");
}

/* ---- 6. a folder another record still holds ---- */

static void test_mkdir_held(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct job j;
    struct dav_stat st;
    struct err e = ERR_INIT;
    char path[256];

    /* the name is still another record's (its freeing rename waits for a retry) */
    snprintf(path, sizeof(path), "%s/Customers/Held %d", x->root, (int)getpid());
    CHECK_INT(cc, dav_mkcol(x->dav, path, 1, NULL, &e), 0);
    CHECK_INT(cc, dav_proppatch(x->dav, path, "record", "res.partner,999999", &e), 0);
    at_job_base(&j, JOB_MKDIR, JOB_SIDE_CLOUD, path, path, 0);
    j.record = strdup("res.partner,42");
    job_make_id(&j);
    err_clear(&e);
    CHECK_INT(cc, apply_job(&j, x->ap, &e), ERR_CONFLICT); /* retried, not taken over */
    memset(&st, 0, sizeof(st));
    CHECK_INT(cc, dav_stat(x->dav, path, &st, &e), 0);
    CHECK_STR(cc, st.record_tag, "res.partner,999999");
    dav_stat_release(&st);

    /* tagged with this record: already done */
    CHECK_INT(cc, dav_proppatch(x->dav, path, "record", "res.partner,42", &e), 0);
    err_clear(&e);
    CHECK_MSG(cc, apply_job(&j, x->ap, &e) == 0, "mkdir: %s", e.msg);
    CHECK_INT(cc, last_result(x), JOB_ALREADY_DONE);
    job_release(&j);
}

int main(int argc, char **argv)
{
    struct check_count cc = CHECK_INIT;
    struct ctx x;
    struct apply_opts ao;
    struct err e = ERR_INIT;
    cJSON *vals = NULL;

    if (stackenv_load() < 0)
        return 1;
    if (argc >= 5 && strcmp(argv[1], "stale-child") == 0)
        return child_main(argv);
    memset(&x, 0, sizeof(x));
    x.cc = &cc;
    pthread_mutex_init(&x.mu, NULL);
    x.last_result = -1;
    at_env_init(&x.t, "stale");
    snprintf(x.root, sizeof(x.root), "/odoosync-test-stale-%d", (int)getpid());
    snprintf(x.doc, sizeof(x.doc), "%s/Customers/Stale %d", x.root, (int)getpid());
    CHECK_INT(&cc, dav_global_init(&e), 0);
    x.dav = dav_new(&x.t.dav, &e);
    x.odoo = odoo_new(&x.t.odoo, &e);
    x.rd = at_redis();
    CHECK(&cc, x.dav && x.odoo && x.rd);
    if (!x.dav || !x.odoo || !x.rd)
        return check_done(&cc);
    CHECK_MSG(&cc, odoo_connect(x.odoo, &e) == 0, "%s", e.msg);
    CHECK_INT(&cc, lock_new(&x.lk, &x.t.lock, &e), 0);
    memset(&ao, 0, sizeof(ao));
    ao.dav = &x.t.dav;
    ao.odoo = &x.t.odoo;
    ao.on_event = on_parent_event;
    ao.event_ud = &x;
    CHECK_INT(&cc, apply_new(&x.ap, &ao, &e), 0);
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", x.doc + strlen(x.root) + strlen("/Customers/"));
    cJSON_AddNumberToObject(vals, "customer_rank", 1);
    CHECK_MSG(&cc, odoo_create(x.odoo, "res.partner", vals, &x.partner, &e) == 0, "%s", e.msg);
    cJSON_Delete(vals);
    CHECK_MSG(&cc, dav_mkcol(x.dav, x.doc, 1, NULL, &e) == 0, "%s", e.msg);

    test_exclusive(&x);
    test_stale_upload(&x);
    test_stale_cloud(&x, JOB_DELETE, 3);
    test_stale_cloud(&x, JOB_RENAME, 4);
    test_adopt(&x);
    test_mkdir_held(&x);

    dav_delete(x.dav, x.root, NULL, &e);
    apply_free(x.ap);
    lock_free(x.lk);
    redisFree(x.rd);
    odoo_free(x.odoo);
    dav_free(x.dav);
    dav_global_cleanup();
    pthread_mutex_destroy(&x.mu);
    return check_done(&cc);
}
