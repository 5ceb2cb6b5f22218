/*
 * events: see events.h.
 */
#include "events.h"

#include <errno.h>
#include <string.h>

#include "buf.h"
#include "pass.h"

#include "banned.h"

int events_open(struct events *ev, const char *path, struct log *lg, struct err *e)
{
    memset(ev, 0, sizeof(*ev));
    pthread_mutex_init(&ev->mu, NULL);
    buf_init(&ev->lost, 1 << 20);
    ev->log = lg;
    if (!path)
        return 0;
    if (strcmp(path, "-") == 0) {
        ev->out = stdout;
        return 0;
    }
    ev->out = fopen(path, "a");
    if (!ev->out)
        return err_set(e, ERR_IO, "cannot open the events file \"%s\": %s", path, strerror(errno));
    ev->owns_out = 1;
    return 0;
}

void events_open_odoo(struct events *ev, const struct cfg *c)
{
    struct synclog_odoo_opts so;
    struct odoo_opts oo;
    struct err e = ERR_INIT;

    if (!c->sync_log.odoo || ev->odoo)
        return;
    pass_odoo_opts(c, ev->log, &oo);
    memset(&so, 0, sizeof(so));
    so.odoo = &oo;
    so.dbname = c->odoo.database;
    so.batch = c->sync_log.odoo_batch;
    so.flush_ms = c->sync_log.odoo_flush_ms;
    so.max_pending = c->sync_log.odoo_max_pending;
    so.log = ev->log;
    if (synclog_odoo_new(&ev->odoo, &so, &e) < 0)
        log_warn(ev->log, "sync log: not writing to Odoo's ir.logging: %s", e.msg);
}

void events_close(struct events *ev)
{
    synclog_odoo_free(ev->odoo);
    ev->odoo = NULL;
    if (ev->owns_out && ev->out)
        fclose(ev->out);
    ev->out = NULL;
    buf_release(&ev->lost);
    pthread_mutex_destroy(&ev->mu);
}

void events_reset_counts(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    memset(ev->count, 0, sizeof(ev->count));
    memset(ev->applied_by_kind, 0, sizeof(ev->applied_by_kind));
    buf_reset(&ev->lost);
    ev->nlost = 0;
    pthread_mutex_unlock(&ev->mu);
}

void events_on_job(const struct job *j, const struct job_event *je, void *ud)
{
    struct events *ev = ud;
    struct buf b;
    struct err e = ERR_INIT;

    buf_init(&b, 1 << 20);
    if ((ev->out || ev->kq) && job_event_encode(j, je, &b, &e) < 0)
        log_warn(ev->log, "cannot encode an event: %s", e.msg);
    /* The events topic is the cluster's sync log; a lost event never fails a job. */
    if (ev->kq && b.len &&
        kq_produce(ev->kq, ev->kq_topic, j->lock, b.data, b.len, NULL, 0, &e) < 0)
        log_warn(ev->log, "cannot emit an event to %s: %s", ev->kq_topic, e.msg);
    pthread_mutex_lock(&ev->mu);
    if ((int)je->result >= 0 && (int)je->result < 5)
        ev->count[je->result]++;
    if ((je->result == JOB_APPLIED || je->result == JOB_ALREADY_DONE) && j->kind < JOB_KIND_COUNT)
        ev->applied_by_kind[j->kind]++;
    if (je->result == JOB_FAILED && je->error_code == ERR_LOST && j->id) {
        ev->nlost++;
        buf_printf(&ev->lost, "%s\n", j->id);
    }
    if (ev->marks && je->result != JOB_FAILED && j->id && lock_unmark(ev->marks, j->id, &e) < 0)
        log_warn(ev->log, "cannot clear the queued mark of job %s: %s", j->id, e.msg);
    if (ev->out && b.len) {
        fwrite(b.data, 1, b.len, ev->out);
        fputc('\n', ev->out);
        fflush(ev->out);
    }
    pthread_mutex_unlock(&ev->mu);
    synclog_odoo_add(ev->odoo, j, je); /* queues only, never waits on Odoo */
    metrics_job_event(ev->metrics, j, je);
    buf_release(&b);
}
