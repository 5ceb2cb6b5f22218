/*
 * log: see log.h. JSON strings are escaped here by hand (cJSON would
 * allocate a tree per line); the format is small and fixed.
 */
#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(struct log *lg, FILE *out, int level, enum log_format fmt, const char *component)
{
    lg->level = level;
    lg->out = out;
    lg->component = component ? component : "odoosync";
    if (fmt == LOG_FMT_AUTO)
        lg->json = !isatty(fileno(out));
    else
        lg->json = fmt == LOG_FMT_JSON;
    pthread_mutex_init(&lg->mu, NULL);
}

void log_release(struct log *lg)
{
    pthread_mutex_destroy(&lg->mu);
}

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void log_write(struct log *lg, int level, const char *job, const char *path, const char *fmt, ...)
{
    char msg[2048];
    char ts[40];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    if (level < 0)
        level = 0;
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    pthread_mutex_lock(&lg->mu);
    if (lg->json) {
        fprintf(lg->out, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":", ts,
                (long)(tv.tv_usec / 1000), level_names[level]);
        put_json_string(lg->out, lg->component);
        if (job) {
            fputs(",\"job\":", lg->out);
            put_json_string(lg->out, job);
        }
        if (path) {
            fputs(",\"path\":", lg->out);
            put_json_string(lg->out, path);
        }
        fputs(",\"msg\":", lg->out);
        put_json_string(lg->out, msg);
        fputs("}\n", lg->out);
    } else {
        fprintf(lg->out, "%s %-5s %s", ts + 11, level_names[level], msg);
        if (job)
            fprintf(lg->out, " [job %.12s]", job);
        if (path)
            fprintf(lg->out, " [%s]", path);
        fputc('\n', lg->out);
    }
    fflush(lg->out);
    pthread_mutex_unlock(&lg->mu);
}
