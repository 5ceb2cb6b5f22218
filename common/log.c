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

/* A line being built: text is always NUL-terminated, and what does not fit
 * is cut (the line stays one write, so threads and processes never interleave). */
struct line {
    char text[8192];
    size_t len;
};

static void put(struct line *ln, const char *s, size_t n)
{
    size_t room = sizeof(ln->text) - 1 - ln->len;

    if (n > room)
        n = room;
    memcpy(ln->text + ln->len, s, n);
    ln->len += n;
    ln->text[ln->len] = '\0';
}

static void puts_(struct line *ln, const char *s)
{
    put(ln, s, strlen(s));
}

static void putf(struct line *ln, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct line *ln, const char *fmt, ...)
{
    size_t room = sizeof(ln->text) - ln->len;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(ln->text + ln->len, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        ln->len += (size_t)n < room ? (size_t)n : room - 1;
}

static void put_json_string(struct line *ln, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    put(ln, "\"", 1);
    while (*p) {
        const unsigned char *run = p;

        while (*p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        put(ln, (const char *)run, (size_t)(p - run));
        switch (*p) {
        case '\0':
            break;
        case '"':
            puts_(ln, "\\\"");
            break;
        case '\\':
            puts_(ln, "\\\\");
            break;
        case '\n':
            puts_(ln, "\\n");
            break;
        case '\r':
            puts_(ln, "\\r");
            break;
        case '\t':
            puts_(ln, "\\t");
            break;
        default:
            putf(ln, "\\u%04x", *p);
        }
        if (*p)
            p++;
    }
    put(ln, "\"", 1);
}

void log_write(struct log *lg, int level, const char *job, const char *path, const char *fmt, ...)
{
    char msg[2048];
    char ts[40];
    struct line ln = {.len = 0};
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

    if (lg->json) {
        putf(&ln, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":", ts,
             (long)(tv.tv_usec / 1000), level_names[level]);
        put_json_string(&ln, lg->component);
        if (job) {
            puts_(&ln, ",\"job\":");
            put_json_string(&ln, job);
        }
        if (path) {
            puts_(&ln, ",\"path\":");
            put_json_string(&ln, path);
        }
        puts_(&ln, ",\"msg\":");
        put_json_string(&ln, msg);
        /* a cut line still ends as a line (its JSON is then incomplete) */
        if (ln.len > sizeof(ln.text) - 3)
            ln.len = sizeof(ln.text) - 3;
        ln.text[ln.len] = '\0';
        puts_(&ln, "}\n");
    } else {
        putf(&ln, "%s %-5s %s", ts + 11, level_names[level], msg);
        if (job)
            putf(&ln, " [job %.12s]", job);
        if (path)
            putf(&ln, " [%s]", path);
        if (ln.len > sizeof(ln.text) - 2)
            ln.len = sizeof(ln.text) - 2;
        ln.text[ln.len] = '\0';
        puts_(&ln, "\n");
    }
    pthread_mutex_lock(&lg->mu);
    fwrite(ln.text, 1, ln.len, lg->out);
    fflush(lg->out);
    pthread_mutex_unlock(&lg->mu);
}
