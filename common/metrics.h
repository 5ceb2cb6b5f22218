/*
 * metrics: a small Prometheus registry and the HTTP endpoint that serves it.
 *
 * Registry. No global state: a command makes one `struct metrics` with
 * metrics_new(), defines its families (metrics_define, or the whole odoosync
 * catalogue with metrics_define_odoosync), passes the handle to whatever
 * counts, and frees it at exit. Families are counters, gauges or histograms
 * with up to METRICS_MAX_LABELS label names; a series (one set of label
 * values) is created on first use. Every update and the rendering take one
 * mutex, so any thread may update at any time; updates are a lookup in a
 * short list, cheap next to the network calls they count.
 *
 * Updates name the family and give the label values in the order of the
 * definition (METRICS_LV("upload", "cloud", "applied"), or NULL for a family
 * without labels). A NULL registry, an unknown family or a wrong type is a
 * silent no-op: metrics never break the work they observe.
 *
 * metrics_render() writes the text exposition format 0.0.4 (# HELP, # TYPE,
 * samples; histograms as cumulative _bucket{le=...}, _sum and _count), in
 * definition order, series in creation order, label values escaped.
 *
 * Server. metrics_server_start() listens on "host:port" (port 0 = a free
 * one, see metrics_server_port) with libmicrohttpd, one thread per
 * connection (at most 16), and answers GET:
 *   /metrics  the registry, text/plain; version=0.0.4
 *   /healthz  200 "ok" while the process runs
 *   /readyz   200 "ready", or 503 with the reason, from the ready callback
 *             given by the command (connected to Kafka, Redis, Odoo, the
 *             cloud...). The answer is cached for ready_cache_ms so probes
 *             and scrapes never hammer the servers.
 * Anything else is 404; methods other than GET/HEAD 405.
 */
#ifndef ODOOSYNC_METRICS_H
#define ODOOSYNC_METRICS_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "job.h"
#include "jobmsg.h"
#include "log.h"

#define METRICS_MAX_LABELS 3
#define METRICS_MAX_BUCKETS 24

enum metrics_type { METRICS_COUNTER = 0, METRICS_GAUGE, METRICS_HISTOGRAM };

/* Label values for an update: METRICS_LV("a", "b"). */
#define METRICS_LV(...) ((const char *const[]){__VA_ARGS__})

struct metrics;

struct metrics *metrics_new(void);    /* NULL on OOM */
void metrics_free(struct metrics *m); /* NULL is fine */

/*
 * Define a family. labels: comma-separated label names ("kind,side,result"),
 * "" or NULL for none. buckets: histogram upper bounds, increasing (+Inf is
 * implicit), NULL for other types. ERR_INVALID on a bad name, a duplicate or
 * too many labels/buckets; ERR_NOMEM.
 */
int metrics_define(struct metrics *m, enum metrics_type t, const char *name, const char *help,
                   const char *labels, const double *buckets, size_t nbuckets, struct err *e);

/* Counter or gauge += v (a counter ignores v < 0). */
void metrics_add(struct metrics *m, const char *name, const char *const *lv, double v);
/* Gauge = v; or a counter mirrored from a cumulative count kept elsewhere
 * (e.g. struct pool_stats, in a collect callback): never make it go down. */
void metrics_set(struct metrics *m, const char *name, const char *const *lv, double v);
/* Histogram: one observation. */
void metrics_observe(struct metrics *m, const char *name, const char *const *lv, double v);
/* Current value of a counter or gauge series (0 when absent); for tests and summaries. */
double metrics_get(struct metrics *m, const char *name, const char *const *lv);

/* Append the text exposition of every family to out. 0, or ERR_TOO_BIG / ERR_NOMEM. */
int metrics_render(struct metrics *m, struct buf *out, struct err *e);

/*
 * The odoosync catalogue, the same names in every command:
 *   odoosync_build_info{version}                 gauge, 1
 *   odoosync_jobs_total{kind,side,result}        counter, one per job attempt
 *   odoosync_job_duration_seconds{kind}          histogram
 *   odoosync_bytes_uploaded_total                counter (uploads applied)
 *   odoosync_jobs_retried_total                  counter (handed to the retry topic)
 *   odoosync_jobs_dead_lettered_total            counter (handed to the dead-letter topic)
 *   odoosync_lock_busy_total                     counter (job found its lock busy)
 *   odoosync_lock_wait_seconds                   histogram (per job: from its first attempt to
 *                                                take its lock(s) until it holds them, busy
 *                                                re-tries and lock outages included; `work`
 *                                                and `run`, from pool_opts.on_lock_wait)
 *   odoosync_scan_duration_seconds{side}         histogram (side: odoo, cloud)
 *   odoosync_scan_requests_total{side}           counter
 *   odoosync_passes_total{result}                counter (ok, failed, safety, error)
 *   odoosync_last_pass_timestamp_seconds         gauge (end of the last pass, unix time)
 *   odoosync_consumer_lag{topic}                 gauge (messages of the topic not yet
 *                                                finished by this process: kq_consumer_lag,
 *                                                set before each scrape. `work`: its assigned
 *                                                partitions of the jobs and retry topics, the
 *                                                topic label is the Kafka topic name; summed
 *                                                over the workers = the group's lag. `run`:
 *                                                the in-process queue of the pass in progress,
 *                                                labels "odoosync.jobs" and "odoosync.retry",
 *                                                0 between passes)
 */
int metrics_define_odoosync(struct metrics *m, const char *version, struct err *e);

/* Count one job attempt (the events callback): jobs_total, duration, bytes. */
void metrics_job_event(struct metrics *m, const struct job *j, const struct job_event *ev);

/* --- the HTTP endpoint ------------------------------------------------- */

/* 0 when every part is reachable; otherwise negative with why filled ("redis: ..."). */
typedef int (*metrics_ready_fn)(void *ud, struct buf *why);

struct metrics_server_opts {
    const char *listen;     /* "127.0.0.1:9464", "[::]:9464", port 0 = any free port */
    struct metrics *m;      /* borrowed; outlives the server */
    metrics_ready_fn ready; /* NULL: always ready */
    void *ready_ud;
    long ready_cache_ms; /* 0 = 1000 */
    /* Called (under no lock of ours) before each /metrics render, to copy in
     * figures kept elsewhere (pool stats, consumer lag); may be NULL. */
    void (*collect)(void *ud, struct metrics *m);
    void *collect_ud;
    struct log *log; /* may be NULL */
};

struct metrics_server;

/* Binds and starts serving. ERR_INVALID (bad listen), ERR_IO (cannot bind). */
int metrics_server_start(struct metrics_server **out, const struct metrics_server_opts *o,
                         struct err *e);
/* The port actually bound. */
int metrics_server_port(const struct metrics_server *s);
/* Stops and frees (waits for requests in progress). NULL is fine. */
void metrics_server_stop(struct metrics_server *s);

#endif
