/*
 * job_int: helpers shared by the job codec (job.c) and the messages around
 * jobs (jobmsg.c); not for other modules. Each checks one cJSON value
 * against a rule of the schemas and, on a fault, fills e with
 * "<json path>: <what is wrong>" and returns ERR_INVALID.
 */
#ifndef ODOOSYNC_JOB_INT_H
#define ODOOSYNC_JOB_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "err.h"

#define JOB_INT_MAX 9007199254740991LL /* 2^53 - 1: exact in a double and in JavaScript */
#define JOB_PATH_MAX 4096              /* characters of a path (and of a url) */
#define JOB_TEXT_MAX 1024              /* characters of a name, a reason, an error */

/*
 * Strict JSON syntax check (what JSON.parse accepts, minus invalid UTF-8),
 * then cJSON parse. The whole of data[0..len) must be one value.
 */
int job_json_parse(const char *data, size_t len, size_t max, cJSON **out, struct err *e);

/* Every member of obj is one of names (NULL-terminated), at most once. */
int job_json_props(const cJSON *obj, const char *path, const char *const *names, struct err *e);

int job_json_int(const cJSON *it, const char *path, long long min, long long max, long long *out,
                 struct err *e);
/* A string of valid UTF-8 without control characters, minlen..maxlen characters. */
int job_json_text(const cJSON *it, const char *path, size_t minlen, size_t maxlen, const char **out,
                  struct err *e);
/* An RFC 3339 date-time string (see job_time_parse). */
int job_json_time(const cJSON *it, const char *path, long long *ms, struct err *e);
/* A path: text starting with "/", no ".." segment, under root (if not NULL). */
int job_json_path(const cJSON *it, const char *path, const char *root, const char **out,
                  struct err *e);

/* Copy of s for a message: at most 60 bytes, non-printable bytes as '?'. */
void job_quote(const char *s, char *out, size_t size);

#endif
