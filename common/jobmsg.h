/*
 * jobmsg: the messages around a job: sync-log events (odoosync.events,
 * schemas/event.schema.json) and dead-letter envelopes (odoosync.dlq,
 * schemas/dlq.schema.json), plus the small wire helpers the job codec
 * shares with them (RFC 3339 times, JSON strings).
 *
 * Encoders append one JSON object (no newline) to a struct buf and leave
 * it unchanged on failure. Inputs are borrowed; nothing is kept.
 *
 * The DLQ envelope holds either the job that failed every attempt
 * ("job") or, when the message could not be decoded at all, the original
 * bytes in base64 ("raw"). job_dlq_decode() is for `odoosync replay`.
 */
#ifndef ODOOSYNC_JOBMSG_H
#define ODOOSYNC_JOBMSG_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "job.h"

/* ---- wire helpers ---- */

#define JOB_TIME_SIZE 32 /* "YYYY-MM-DDTHH:MM:SS.mmmZ" + '\0', with room */

/* ms since the epoch -> "2026-11-24T03:28:21.123Z"; ERR_INVALID outside years 0..9999. */
int job_time_format(long long ms, char out[JOB_TIME_SIZE]);
/*
 * RFC 3339 date-time as the schemas accept it
 * (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), no leap second) -> ms
 * since the epoch (fraction truncated to ms). 0, or -1 if malformed.
 */
int job_time_parse(const char *s, long long *ms);
/*
 * An Odoo datetime ("2026-12-02 11:50:20", UTC, maybe with a fraction, as write_date is
 * read) -> seconds since the epoch; 0 when s is NULL or malformed. An upload stamps it as
 * the file's modification time (docs/design.md section 4.2).
 */
long long job_odoo_time_s(const char *s);
/* Current time, ms since the epoch (CLOCK_REALTIME). */
long long job_now_ms(void);
/* Append s as a JSON string literal (quoted, escaped; UTF-8 kept as is). */
int job_json_str(struct buf *out, const char *s);

/* ---- sync-log events ---- */

enum job_result {
    JOB_APPLIED = 0,
    JOB_ALREADY_DONE,
    JOB_SKIPPED, /* superseded (older version) or refused condition resolved as no-op */
    JOB_FAILED,  /* this attempt failed; handed to retry */
    JOB_DEAD_LETTERED
};

const char *job_result_name(enum job_result r); /* "applied", "already-done", ... */

struct job_event {
    long long time; /* ms since the epoch; 0 = now */
    enum job_result result;
    const char *old_value; /* rename: the old path (cloud) or name (odoo); else NULL */
    const char *new_value; /* rename: the new path or name; relink: the url; else NULL */
    const char *error;     /* required for failed / dead-lettered, NULL otherwise */
    int error_code;        /* ERR_* code of the failure, 0 if none */
    long long duration_ms; /* time spent applying */
    /* what the attempt learnt, over the job's own fields (0 / NULL: the job's) */
    long att_id;        /* the attachment a relink created */
    const char *name;   /* the attachment's name as read under the lock */
    const char *fileid; /* the entry's file id (a PUT's answer, a re-read) */
};

/*
 * Event of one job attempt: kind, side, id, attempt come from j; what it touched
 * (record, path, att_id, name, fileid) from ev where set, else from j.
 */
int job_event_encode(const struct job *j, const struct job_event *ev, struct buf *out,
                     struct err *e);

/* ---- dead-letter envelopes ---- */

struct job_dlq_meta {
    const char *error; /* the last error message */
    int error_code;    /* its ERR_* code (on the wire: err_name(), e.g. "conflict") */
    int attempts;      /* attempts made (0 for an undecodable message) */
    long long first_failed_at, last_failed_at; /* ms since the epoch */
    const char *topic;                         /* where the message was consumed from */
    int partition;
    long long offset;
};

/*
 * j: the job, or NULL when the message could not be decoded; then raw/raw_len
 * (the original bytes) go into "raw" as base64.
 */
int job_dlq_encode(const struct job *j, const void *raw, size_t raw_len,
                   const struct job_dlq_meta *m, struct buf *out, struct err *e);

/* A decoded envelope; every pointer owned, freed by job_dlq_release(). */
struct job_dlq {
    int has_job; /* 1: job is set; 0: raw is set */
    struct job job;
    unsigned char *raw; /* decoded bytes (NUL-terminated for convenience) */
    size_t raw_len;
    char *error;
    char *error_code; /* as on the wire, e.g. "conflict" */
    int attempts;
    long long first_failed_at, last_failed_at;
    char *topic;
    int partition;
    long long offset;
};

void job_dlq_init(struct job_dlq *d);
void job_dlq_release(struct job_dlq *d);
/*
 * Decode and validate an envelope (schemas/dlq.schema.json); the inner job is
 * checked by job_decode() with root. ERR_INVALID with the JSON path on a fault.
 * d is overwritten (not released first); release it after success or failure.
 */
int job_dlq_decode(struct job_dlq *d, const char *data, size_t len, const char *root,
                   struct err *e);

#endif
