/*
 * pool: the worker engine. Consumes jobs from a kq consumer (Kafka or the
 * in-process queue), applies them with N threads, and stores offsets so that
 * nothing is lost when the process dies at any instant (at least once; the
 * appliers are idempotent).
 *
 * The calling thread (pool_run) only polls, dispatches and books:
 *   - it keeps polling while jobs run (Kafka's max.poll.interval.ms holds
 *     however long a job takes);
 *   - per key (document folder path) jobs run strictly one after another, in
 *     partition order; different keys run in parallel;
 *   - a partition's offset is stored only up to its oldest unfinished job;
 *     a job is finished when applied/skipped, or handed to the retry or
 *     dead-letter topic and that hand-off acknowledged by the broker;
 *   - above max_inflight unfinished jobs every partition is paused (tracked
 *     here), and resumed below a quarter of it; polling goes on;
 *   - retry topic messages carry a due time (header KQ_HDR_DUE): the partition
 *     is paused until the head message is due, no thread ever sleeps on it;
 *   - on revoke, jobs of the leaving partitions get up to grace_ms to finish,
 *     their offsets are stored and committed; queued ones are dropped (the
 *     new owner gets them again).
 *
 * A worker thread, for one job: takes the lock(s) (job->lock, and for a cloud
 * rename whose target is in another document folder, that folder too, in
 * strcmp order); a busy lock re-queues the job locally after busy_delay_ms
 * (its key stays blocked, nothing else waits); lock backend down -> the pool
 * stops taking jobs (pauses everything), says so, retries, and resumes when it
 * answers; nothing is applied without the lock. Under the lock: a job whose
 * version (> 0) is older than the last version applied to job->lock is
 * skipped; else apply(); success raises that version. The locks are extended
 * every lock_ttl_ms/3 by a heartbeat thread while apply runs. The time from
 * a job's first attempt to take its lock(s) until it holds them is reported
 * (on_lock_wait, and the lock_wait* stats).
 *
 * apply() result: 0 applied or already done; ERR_RETRY / ERR_CONFLICT ->
 * re-produced to the retry topic with attempt+1 and due = now +
 * backoff_ms * 2^attempt (capped at backoff_max_ms), until max_attempts
 * attempts were made -> dead-letter topic; any other negative code ->
 * dead-letter topic at once. A message job_decode rejects goes to the
 * dead-letter topic at once with its raw bytes.
 *
 * Dead-letter envelope: job_dlq_encode() of jobmsg.h (schemas/dlq.schema.json):
 * the job (or the raw bytes in base64), the last error and its code, the
 * attempts, first/last failure times, and the topic/partition/offset it was
 * consumed from; message key = the job's key.
 *
 * Ownership: the consumer and producer given to pool_new are borrowed (the
 * caller frees them after pool_free; the consumer is closed by the caller
 * with kq_consumer_free, which commits and leaves the group).
 */
#ifndef ODOOSYNC_POOL_H
#define ODOOSYNC_POOL_H

#include <signal.h>

#include "err.h"
#include "job.h"
#include "jobmsg.h"
#include "kq.h"
#include "lock.h"
#include "log.h"

#define POOL_ENVELOPE_SCHEMA 1

struct pool_opts {
    int concurrency;      /* worker threads (default 8) */
    int max_inflight;     /* unfinished jobs before pausing (default max(1000, 64 x concurrency)) */
    int max_attempts;     /* attempts before the dead-letter topic (default 5) */
    long backoff_ms;      /* first retry delay (default 1000), doubled per attempt */
    long backoff_max_ms;  /* cap on the retry delay (default 60000) */
    long grace_ms;        /* on stop/revoke: time for jobs in flight (default 30000) */
    long lock_ttl_ms;     /* default 30000 */
    long busy_delay_ms;   /* re-queue delay of a job whose lock is busy (default 100) */
    long send_timeout_ms; /* wait for a retry/DLQ delivery report (default 30000) */
    const char *root;     /* cloud root for job_decode, or NULL */
    /* 0 applied or already done; negative ERR_* otherwise (see above). Called in worker threads. */
    int (*apply)(const struct job *j, void *ud, struct err *e);
    void *apply_ud;
    /*
     * Sync-log events the pool decides itself (the applier reports its own):
     * JOB_SKIPPED for a job older than the last applied version (apply not
     * called), JOB_DEAD_LETTERED once its hand-off to the dead-letter topic is
     * acknowledged (not for undecodable messages: no job). May be NULL. Any thread.
     */
    void (*on_event)(const struct job *j, const struct job_event *ev, void *ud);
    void *event_ud;
    /*
     * Lock waits: called once per job (task) when it holds its lock(s), with
     * the seconds since its first attempt to take them (busy re-tries and lock
     * backend outages included). May be NULL. Called in worker threads.
     */
    void (*on_lock_wait)(const struct job *j, double seconds, void *ud);
    void *lock_wait_ud;
    const struct kq_conf *kq;     /* topic names (jobs, retry, dlq); borrowed */
    const struct lock_conf *lock; /* one lock handle per worker thread is made from it; borrowed */
    struct log *log;              /* may be NULL */
};

struct pool_stats {
    long consumed;            /* messages taken from the jobs and retry topics */
    long applied;             /* apply() returned 0 */
    long skipped;             /* older version than the last applied */
    long retried;             /* handed to the retry topic */
    long dead;                /* handed to the dead-letter topic */
    long busy;                /* lock busy, re-queued locally */
    long lock_down;           /* lock backend unreachable events */
    long lock_waits;          /* jobs that got their lock(s) (see on_lock_wait) */
    double lock_wait_seconds; /* their total wait */
    long inflight;            /* unfinished now */
};

struct pool;

/* Zeroes o and sets every default; pool_new also applies defaults to fields left 0. */
void pool_opts_init(struct pool_opts *o);

/* Subscribes c to the jobs and retry topics. c and p are borrowed. */
int pool_new(struct pool **out, const struct pool_opts *o, struct kq_consumer *c,
             struct kq_producer *p, struct err *e);

/*
 * Run until *stop becomes non-zero (stop may be NULL), pool_stop() is called,
 * or the in-process queue reports end of input with nothing in flight. Then
 * stops taking jobs, gives those in flight grace_ms, stores and commits.
 * 0 on a clean stop; ERR_RETRY if jobs were still running at the end of the
 * grace period (they were not committed and will be delivered again);
 * another negative code on a fatal consumer error.
 */
int pool_run(struct pool *p, const volatile sig_atomic_t *stop, struct err *e);

/* Ask pool_run to stop (any thread, async-signal-safe). */
void pool_stop(struct pool *p);

void pool_get_stats(struct pool *p, struct pool_stats *s);

/* Joins the threads; the pool must not be running. NULL is fine. */
void pool_free(struct pool *p);

#endif
