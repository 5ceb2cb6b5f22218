/*
 * pool_int: what the pieces of the worker engine share (pool.c, pool_queue.c,
 * pool_poll.c, pool_worker.c); not for other modules. The structs and who
 * owns or guards each field are described in pool.c's opening comment.
 */
#ifndef ODOOSYNC_POOL_INT_H
#define ODOOSYNC_POOL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "buf.h"
#include "pool.h"

#define KEY_BUCKETS 4096

enum tstate { T_HELD, T_KEYWAIT, T_READY, T_DELAYED, T_RUNNING, T_DONE };
enum toutcome { O_NONE, O_APPLIED, O_SKIPPED, O_RETRIED, O_DEAD };
enum handoff { H_NONE, H_RETRY, H_DLQ };

struct part;
struct keyent;

struct task {
    struct task *next; /* link in at most one list (held, ready, delayed, done) */
    struct keyent *ke;
    struct task *kprev, *knext; /* its key's queue, while ke is set */
    int started;                /* handed to the workers (ready, running or delayed) */
    struct part *part;
    unsigned long gen;
    long long offset;
    char *key;
    int state;
    int decoded;
    struct job job;
    char *raw; /* the message value */
    size_t raw_len;
    long long due_wall; /* retry topic: not before (ms since the epoch) */
    long long due_mono; /* delayed: not before (monotonic ms) */
    long long first_failed_at;
    long long lock_from; /* monotonic us of the first attempt to take its lock(s), 0 = none */
    int lock_waited;     /* that wait was reported */
    /* a hand-off prepared and not yet acknowledged: only the send is repeated */
    int handoff;
    struct buf out;
    char hdr_due[32], hdr_att[16];
    int outcome;
    int err_code;
    char err_msg[ERR_MSG_MAX];
};

struct part {
    struct part *next;
    char *topic;
    int partition;
    int is_retry;
    int assigned;
    unsigned long gen;
    int paused;      /* as set on the consumer by us */
    int running;     /* tasks of this generation running now (under mu) */
    int revoking;    /* under mu: tasks of it that come back delayed are dropped */
    long long *offs; /* unfinished offsets, ascending (ring-free: a compacted array) */
    unsigned char *done;
    size_t n, alloc;
    long long stored; /* last next-offset stored, -1 none */
    long long max_seen;
    struct task *held_head, *held_tail;
};

/*
 * A key's unfinished tasks, in partition order: the started ones (ready,
 * running, delayed) and the waiting ones (T_KEYWAIT). A task starts when
 * job_may_overlap() allows it with every earlier task of its key.
 */
struct keyent {
    struct keyent *next;
    char *key;
    struct task *head, *tail;
    int n;       /* tasks in the queue */
    int started; /* of which started */
};

#define TASK_LOCKS                                                                                 \
    5 /* two folders (a move between them), two files; or a Documents                              \
         job's lock, the two folders its entries live in, two entries */

struct hbslot {
    int n; /* locks held by this worker now */
    const char *paths[TASK_LOCKS];
    struct lock_token toks[TASK_LOCKS];
    int shared[TASK_LOCKS];
};

struct worker {
    struct pool *p;
    int idx;
    pthread_t th;
    int started;
    struct lock *lk;
};

struct pool {
    struct pool_opts o;
    struct kq_consumer *c;
    struct kq_producer *prod;
    const char *t_jobs, *t_retry, *t_dlq;
    struct log *lg;

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* ready/delayed changed, or quit */
    pthread_cond_t done_cv; /* a task finished */
    struct keyent *keys[KEY_BUCKETS];
    struct task *ready_head, *ready_tail;
    struct task *delayed; /* unsorted; short */
    struct task *done_head, *done_tail;
    int quit;
    int draining; /* stopping: start nothing more */
    struct pool_stats st;

    atomic_int stop;
    atomic_int lock_down;

    struct worker *w;
    pthread_t hb;
    int hb_started;
    pthread_mutex_t hb_mu;
    pthread_cond_t hb_cv;
    struct hbslot *slots;
    struct lock *hb_lk;

    /* polling thread only */
    struct part *parts;
    long inflight;
    int paused_all;
    int was_lock_down;
};

static inline long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline long long mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_REALTIME deadline for pthread_cond_timedwait, ms from now. */
static inline void deadline_in(struct timespec *ts, long long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    if (ms < 0)
        ms = 0;
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- pool_queue.c: under mu (pool_task_free: anywhere) ---- */

void pool_task_free(struct task *t);
void pool_ready_push(struct pool *p, struct task *t);
int pool_key_submit(struct pool *p, struct task *t);
void pool_key_advance(struct pool *p, struct task *t);
void pool_done_push(struct pool *p, struct task *t);
struct task *pool_purge_queued(struct pool *p, const struct part *pt);

/* ---- pool_poll.c: polling thread only ---- */

void pool_drop_tasks(struct pool *p, struct task *list);
void pool_drop_held(struct pool *p, struct part *pt);
/* The consumer's rebalance callback (ud: the pool). */
void pool_on_rebalance(void *ud, int assigned, int lost, const char *topic, int partition);

/* ---- pool_worker.c: thread bodies (arg: a struct worker; the pool) ---- */

void *pool_worker_main(void *arg);
void *pool_hb_main(void *arg);

#endif
