/*
 * err: the error convention of odoosync.
 *
 * Every function that can fail returns int: 0 on success, or one of the
 * negative codes below. The code says what the caller may do about it
 * (retry, re-read and re-plan, give up); the human detail goes into a
 * `struct err` passed by the caller, so library code never prints and
 * never exits. Only main() turns an error into a message and an exit code.
 *
 *     struct err e = ERR_INIT;
 *     if (dav_mkcol(d, path, &e) < 0)
 *         log_error(lg, "mkcol \"%s\": %s", path, e.msg);
 *
 * err_set() returns the code it stores, so library code reads
 * `return err_set(e, ERR_PROTO, "bad multistatus: %s", why);`.
 */
#ifndef ODOOSYNC_ERR_H
#define ODOOSYNC_ERR_H

#include <stddef.h>

enum err_code {
    ERR_OK = 0,
    ERR_RETRY = -1,     /* transient: network, 429/5xx, busy lock: try again later */
    ERR_CONFLICT = -2,  /* a condition was refused (HTTP 412, changed write_date): re-read */
    ERR_NOTFOUND = -3,  /* the object is not there (404, MissingError) */
    ERR_AUTH = -4,      /* wrong credentials (401, AccessDenied) */
    ERR_ACCESS = -5,    /* authenticated but not allowed (403, AccessError) */
    ERR_INVALID = -6,   /* bad input: config, job, domain, ValidationError */
    ERR_PROTO = -7,     /* the peer answered something we cannot understand */
    ERR_EXISTS = -8,    /* the target already exists (405 on MKCOL, 412 on create) */
    ERR_NOMEM = -9,     /* allocation failed */
    ERR_IO = -10,       /* local I/O */
    ERR_TOO_BIG = -11,  /* a capped buffer or response limit was exceeded */
    ERR_SERVER = -12,   /* the server failed permanently on this request (500 with a reason) */
    ERR_INTERNAL = -13, /* a bug of ours */
    ERR_STOPPED = -14,  /* a stop was asked (SIGINT/SIGTERM): the work was left undone */
    ERR_LOST = -15      /* the data is gone at its source (a file missing from Odoo's
                         * filestore): no retry can help, only the operator */
};

#define ERR_MSG_MAX 512

struct err {
    int code;
    char msg[ERR_MSG_MAX];
};

#define ERR_INIT                                                                                   \
    {                                                                                              \
        0,                                                                                         \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/* Store code and a formatted message in e (which may be NULL); return code. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix the message already in e with more context; return e->code. */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(struct err *e);

/* Short stable name of a code, e.g. "retry", "conflict". */
const char *err_name(int code);

/* Whether an operation that failed with this code may succeed if repeated as is. */
int err_retryable(int code);

#endif
