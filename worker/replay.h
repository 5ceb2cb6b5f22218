/*
 * replay: re-emit dead-lettered jobs to the jobs topic (`odoosync replay`).
 *
 * Reads the whole dead-letter topic with kq_scan (its own group, assigned
 * partitions, never committing: live workers are undisturbed and replaying
 * twice sees the same envelopes), keeps the envelopes that match every
 * filter given, and for each: a job is re-produced as the same job (same id,
 * attempt back to 0) keyed by its lock path; an undecodable message is
 * re-produced as its original bytes with its original key. Nothing counts as
 * replayed until kq_flush confirms every message was acknowledged.
 * Replaying twice is harmless: the jobs are the same, and appliers are
 * idempotent.
 */
#ifndef ODOOSYNC_REPLAY_H
#define ODOOSYNC_REPLAY_H

#include <stdio.h>

#include "err.h"
#include "kq.h"

struct replay_filter {
    const char *kind;        /* job kind ("upload"), or NULL; excludes undecodable messages */
    const char *path_prefix; /* lock or path starts with it (undecodable: the key), or NULL */
    const char *error;       /* substring of the last error, or NULL */
    long long since_ms;      /* last failure at or after (ms since the epoch), 0 = any */
    long long until_ms;      /* last failure before, 0 = any */
};

struct replay_stats {
    long scanned; /* envelopes read */
    long bad;     /* envelopes that do not decode (skipped, logged) */
    long matched; /* matching every filter */
    long emitted; /* re-produced and acknowledged */
};

/*
 * list (may be NULL): one line per matching envelope,
 * "<id|-> <kind|raw> <lock|key> attempts=<n> <error_code>: <error>".
 * dry_run: list only. root: cloud root for job_decode (NULL: only "..").
 */
int replay_dlq(const struct kq_conf *kc, struct kq_producer *prod, const struct replay_filter *f,
               int dry_run, const char *root, FILE *list, struct replay_stats *st, struct err *e);

/*
 * Re-emit the messages of the jobs topic whose timestamp is in
 * [since_ms, until_ms) (until 0 = now), as they are: same bytes, same key, so
 * the same jobs. The whole topic is scanned by timestamp (the test broker
 * does not answer offsets_for_times; for a real cluster this only costs
 * reading the topic). The scan stops at the end the topic had when it began,
 * so what is re-emitted is not read again. list: "<partition>@<offset> <key>".
 */
int replay_jobs_range(const struct kq_conf *kc, struct kq_producer *prod, long long since_ms,
                      long long until_ms, int dry_run, FILE *list, struct replay_stats *st,
                      struct err *e);

#endif
