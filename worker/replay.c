/*
 * replay: see replay.h.
 */
#include "replay.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "job.h"
#include "jobmsg.h"

#include "banned.h"

struct ctx {
    const struct kq_conf *kc;
    struct kq_producer *prod;
    const struct replay_filter *f;
    int dry_run;
    const char *root;
    FILE *list;
    struct replay_stats *st;
    struct err *e;
    int rc;
};

static int starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int matches(const struct replay_filter *f, const struct job_dlq *d, const char *key)
{
    if (f->kind && (!d->has_job || strcmp(job_kind_name(d->job.kind), f->kind) != 0))
        return 0;
    if (f->path_prefix) {
        if (d->has_job) {
            if (!starts_with(d->job.lock, f->path_prefix) &&
                !starts_with(d->job.path, f->path_prefix))
                return 0;
        } else if (!starts_with(key, f->path_prefix)) {
            return 0;
        }
    }
    if (f->error && (!d->error || !strstr(d->error, f->error)))
        return 0;
    if (f->since_ms && d->last_failed_at < f->since_ms)
        return 0;
    if (f->until_ms && d->last_failed_at >= f->until_ms)
        return 0;
    return 1;
}

static int on_envelope(const struct kq_msg *m, void *ud)
{
    struct ctx *c = ud;
    struct job_dlq d;
    struct err de = ERR_INIT;
    struct buf b;
    int rc = 0;

    c->st->scanned++;
    job_dlq_init(&d);
    buf_init(&b, 16 * 1024 * 1024);
    if (job_dlq_decode(&d, m->value, m->len, c->root, &de) < 0) {
        c->st->bad++;
        log_warn(c->kc->log, "replay: %s[%d]@%lld is not an envelope: %s", m->topic, m->partition,
                 m->offset, de.msg);
        goto out;
    }
    if (!matches(c->f, &d, m->key))
        goto out;
    c->st->matched++;
    if (c->list)
        fprintf(c->list, "%s %s %s attempts=%d %s: %s\n", d.has_job ? d.job.id : "-",
                d.has_job ? job_kind_name(d.job.kind) : "raw",
                d.has_job ? d.job.lock : (m->key ? m->key : "-"), d.attempts,
                d.error_code ? d.error_code : "-", d.error ? d.error : "");
    if (c->dry_run)
        goto out;
    if (d.has_job) {
        d.job.attempt = 0;
        rc = job_encode(&d.job, &b, c->e);
        if (rc == 0)
            rc = kq_produce(c->prod, kq_conf_jobs(c->kc), d.job.lock, b.data, b.len, NULL, 0, c->e);
    } else {
        rc = kq_produce(c->prod, kq_conf_jobs(c->kc), m->key, d.raw, d.raw_len, NULL, 0, c->e);
    }
    if (rc < 0)
        c->rc = rc;
    else
        c->st->emitted++;
out:
    buf_release(&b);
    job_dlq_release(&d);
    return rc < 0 ? 1 : 0;
}

int replay_dlq(const struct kq_conf *kc, struct kq_producer *prod, const struct replay_filter *f,
               int dry_run, const char *root, FILE *list, struct replay_stats *st, struct err *e)
{
    struct replay_filter none;
    struct ctx c;
    long failed = 0;
    int rc;

    memset(&none, 0, sizeof(none));
    memset(st, 0, sizeof(*st));
    memset(&c, 0, sizeof(c));
    c.kc = kc;
    c.prod = prod;
    c.f = f ? f : &none;
    c.dry_run = dry_run;
    c.root = root;
    c.list = list;
    c.st = st;
    c.e = e;
    rc = kq_scan(kc, kq_conf_dlq(kc), 60000, on_envelope, &c, e);
    if (rc == 0)
        rc = c.rc;
    if (!dry_run && prod) {
        int frc = kq_flush(prod, 30000, &failed, rc < 0 ? NULL : e);

        if (rc == 0 && frc < 0)
            rc = frc;
        if (failed > 0 || frc < 0)
            st->emitted = 0; /* not confirmed: nothing counts as replayed */
    }
    return rc;
}

struct range_ctx {
    const struct kq_conf *kc;
    struct kq_producer *prod;
    long long since, until;
    int dry_run;
    FILE *list;
    struct replay_stats *st;
    struct err *e;
    int rc;
};

static int on_job_msg(const struct kq_msg *m, void *ud)
{
    struct range_ctx *c = ud;
    int rc;

    c->st->scanned++;
    if (m->timestamp_ms < c->since || m->timestamp_ms >= c->until)
        return 0;
    c->st->matched++;
    if (c->list)
        fprintf(c->list, "%d@%lld %s\n", m->partition, m->offset, m->key ? m->key : "-");
    if (c->dry_run)
        return 0;
    rc = kq_produce(c->prod, kq_conf_jobs(c->kc), m->key, m->value, m->len, NULL, 0, c->e);
    if (rc < 0) {
        c->rc = rc;
        return 1;
    }
    c->st->emitted++;
    return 0;
}

int replay_jobs_range(const struct kq_conf *kc, struct kq_producer *prod, long long since_ms,
                      long long until_ms, int dry_run, FILE *list, struct replay_stats *st,
                      struct err *e)
{
    struct range_ctx c;
    long failed = 0;
    int rc;

    memset(st, 0, sizeof(*st));
    memset(&c, 0, sizeof(c));
    c.kc = kc;
    c.prod = prod;
    c.since = since_ms;
    c.until = until_ms > 0 ? until_ms : job_now_ms() + 1;
    c.dry_run = dry_run;
    c.list = list;
    c.st = st;
    c.e = e;
    rc = kq_scan(kc, kq_conf_jobs(kc), 60000, on_job_msg, &c, e);
    if (rc == 0)
        rc = c.rc;
    if (!dry_run && prod) {
        int frc = kq_flush(prod, 30000, &failed, rc < 0 ? NULL : e);

        if (rc == 0 && frc < 0)
            rc = frc;
        if (failed > 0 || frc < 0)
            st->emitted = 0;
    }
    return rc;
}
