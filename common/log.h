/*
 * log: structured logging.
 *
 * One handle per process, made in main() and passed down (no global
 * logger). Each line is either one JSON object (time, level, component,
 * job, path, msg) or, on a terminal, a short human line. The macros check
 * the level before any formatting happens, so a debug call in a hot loop
 * costs a comparison. Lines are written whole under a mutex, so threads
 * never interleave. Never pass a credential to a log call.
 */
#ifndef ODOOSYNC_LOG_H
#define ODOOSYNC_LOG_H

#include <pthread.h>
#include <stdio.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum log_format { LOG_FMT_AUTO = 0, LOG_FMT_JSON, LOG_FMT_HUMAN };

struct log {
    int level;
    int json;
    FILE *out; /* not owned */
    const char *component;
    pthread_mutex_t mu;
};

/* out is borrowed (usually stderr). AUTO picks human on a terminal, JSON otherwise. */
void log_init(struct log *lg, FILE *out, int level, enum log_format fmt, const char *component);
void log_release(struct log *lg);
/* "error", "warn", "info", "debug" -> level; returns -1 on an unknown name. */
int log_level_parse(const char *name);

void log_write(struct log *lg, int level, const char *job, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define log_at(lg, lvl, job, path, ...)                                                            \
    do {                                                                                           \
        if ((lg) && (lvl) <= (lg)->level)                                                          \
            log_write((lg), (lvl), (job), (path), __VA_ARGS__);                                    \
    } while (0)

#define log_error(lg, ...) log_at(lg, LOG_ERROR, NULL, NULL, __VA_ARGS__)
#define log_warn(lg, ...) log_at(lg, LOG_WARN, NULL, NULL, __VA_ARGS__)
#define log_info(lg, ...) log_at(lg, LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_debug(lg, ...) log_at(lg, LOG_DEBUG, NULL, NULL, __VA_ARGS__)
/* A line about one job: carries its id and document path. */
#define log_job(lg, lvl, job, path, ...) log_at(lg, lvl, job, path, __VA_ARGS__)

#endif
