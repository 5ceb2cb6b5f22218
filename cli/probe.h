/*
 * probe: reach each part odoosync talks to, once, and say how it went in
 * one line. `odoosync check` prints these lines; /readyz (metrics.h) asks
 * the quick variants through probe_ready().
 *
 * Each probe opens its own connection (so it may run in any thread), with
 * short timeouts and no retries in quick mode, and closes it. Messages
 * carry what the server said, never a credential.
 */
#ifndef ODOOSYNC_PROBE_H
#define ODOOSYNC_PROBE_H

#include "buf.h"
#include "cfg.h"
#include "err.h"
#include "log.h"

#include <signal.h>

#define PROBE_ODOO 0x1
#define PROBE_CLOUD 0x2
#define PROBE_KAFKA 0x4
#define PROBE_REDIS 0x8

/*
 * Odoo: log in, report version, protocol, user and latency into line.
 * quick=0 also tests each enabled type's domain with search_count: the first
 * type Odoo refuses gives ERR_INVALID with e naming the type and Odoo's
 * message (and line gets one "type" line per type).
 */
int probe_odoo(const struct cfg *c, struct log *lg, int quick, const volatile sig_atomic_t *stop,
               struct buf *line, struct err *e);

/*
 * Odoo's Documents app (probe_docs.c), when documents.enabled: the model shape, what the
 * user sees, one "map" line per enabled mapping; the first failure in e (ERR_PROTO: the
 * app is missing; ERR_NOTFOUND: a mapped folder missing or ambiguous).
 */
int probe_documents(const struct cfg *c, struct log *lg, const volatile sig_atomic_t *stop,
                    struct buf *line, struct err *e);

/* Cloud: dialect, latency, the root; quick=0 also creates and deletes a unique
 * temporary folder under the root (or under the base when the root is missing). */
int probe_cloud(const struct cfg *c, struct log *lg, int quick, const volatile sig_atomic_t *stop,
                struct buf *line, struct err *e);

/* Kafka: a metadata request (brokers, the jobs topic's partitions). */
int probe_kafka(const struct cfg *c, struct log *lg, struct buf *line, struct err *e);

/* Redis: PING (with AUTH/SELECT as configured). */
int probe_redis(const struct cfg *c, struct log *lg, struct buf *line, struct err *e);

/* The readiness callback of metrics_server_opts: ud = struct probe_ready. */
struct probe_ready {
    const struct cfg *cfg;
    struct log *log;
    unsigned parts; /* PROBE_* */
};
int probe_ready(void *ud, struct buf *why);

/*
 * What every long-running command does for its metrics: when c->metrics.listen
 * is set, make a registry with the odoosync catalogue (*m) and serve it (*srv),
 * with /readyz checking `parts` through probe_ready (pr is filled here and must
 * outlive the server) and collect (may be NULL) called before each scrape.
 * When listen is "", *m and *srv stay NULL (every metrics_* call is then a
 * no-op). Stop with metrics_server_stop(*srv), then metrics_free(*m).
 * 0, or ERR_INVALID / ERR_IO (cannot listen) / ERR_NOMEM.
 */
struct metrics;
struct metrics_server;
int probe_serve(const struct cfg *c, struct log *lg, unsigned parts, struct probe_ready *pr,
                void (*collect)(void *ud, struct metrics *m), void *collect_ud, struct metrics **m,
                struct metrics_server **srv, struct err *e);

#endif
