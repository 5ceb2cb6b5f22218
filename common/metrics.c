/*
 * metrics: see metrics.h. The registry is a list of families, each with a
 * list of series; one mutex guards all of it. The server is libmicrohttpd
 * with a thread per connection, so a slow readiness check never delays a
 * /metrics scrape.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "banned.h"

#define METRICS_RENDER_MAX (8u << 20)

struct series {
    char *lv[METRICS_MAX_LABELS];
    double value;                                   /* counter, gauge */
    unsigned long long bucket[METRICS_MAX_BUCKETS]; /* histogram: per bucket (not cumulative) */
    unsigned long long count;
    double sum;
    struct series *next;
};

struct family {
    enum metrics_type type;
    char *name, *help;
    int nlabels;
    char *label[METRICS_MAX_LABELS];
    double buckets[METRICS_MAX_BUCKETS];
    size_t nbuckets;
    struct series *series, *last;
    struct family *next;
};

struct metrics {
    pthread_mutex_t mu;
    struct family *families, *last;
};

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (m)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

static void series_free(struct series *s)
{
    for (int i = 0; i < METRICS_MAX_LABELS; i++)
        free(s->lv[i]);
    free(s);
}

static void family_free(struct family *f)
{
    struct series *s = f->series;

    while (s) {
        struct series *n = s->next;
        series_free(s);
        s = n;
    }
    for (int i = 0; i < METRICS_MAX_LABELS; i++)
        free(f->label[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(struct metrics *m)
{
    struct family *f;

    if (!m)
        return;
    f = m->families;
    while (f) {
        struct family *n = f->next;
        family_free(f);
        f = n;
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Prometheus metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':'). */
static int name_ok(const char *s, size_t n, int colon_ok)
{
    if (n == 0 || isdigit((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_' || (colon_ok && c == ':')))
            return 0;
    }
    return 1;
}

static struct family *family_find(struct metrics *m, const char *name)
{
    for (struct family *f = m->families; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static struct series *series_new(struct family *f, const char *const *lv)
{
    struct series *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    for (int i = 0; i < f->nlabels; i++) {
        s->lv[i] = strdup(lv && lv[i] ? lv[i] : "");
        if (!s->lv[i]) {
            series_free(s);
            return NULL;
        }
    }
    if (f->last)
        f->last->next = s;
    else
        f->series = s;
    f->last = s;
    return s;
}

/* The series of f with these label values, created when absent; NULL on OOM. */
static struct series *series_get(struct family *f, const char *const *lv)
{
    for (struct series *s = f->series; s; s = s->next) {
        int same = 1;
        for (int i = 0; i < f->nlabels && same; i++)
            same = strcmp(s->lv[i], lv && lv[i] ? lv[i] : "") == 0;
        if (same)
            return s;
    }
    return series_new(f, lv);
}

int metrics_define(struct metrics *m, enum metrics_type t, const char *name, const char *help,
                   const char *labels, const double *buckets, size_t nbuckets, struct err *e)
{
    struct family *f = NULL;
    int rc = 0;

    if (!m || !name || !name_ok(name, strlen(name), 1))
        return err_set(e, ERR_INVALID, "metrics: bad metric name \"%s\"", name ? name : "");
    if (t == METRICS_HISTOGRAM && (nbuckets == 0 || nbuckets > METRICS_MAX_BUCKETS))
        return err_set(e, ERR_INVALID, "metrics: \"%s\": 1..%d buckets", name, METRICS_MAX_BUCKETS);
    for (size_t i = 1; t == METRICS_HISTOGRAM && i < nbuckets; i++)
        if (!(buckets[i] > buckets[i - 1]))
            return err_set(e, ERR_INVALID, "metrics: \"%s\": buckets must increase", name);
    f = calloc(1, sizeof(*f));
    if (!f)
        return err_set(e, ERR_NOMEM, "out of memory");
    f->type = t;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (const char *p = labels; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);

        if (f->nlabels == METRICS_MAX_LABELS || !name_ok(p, n, 0) ||
            (n == 2 && memcmp(p, "le", 2) == 0)) {
            rc = err_set(e, ERR_INVALID, "metrics: \"%s\": bad or too many labels \"%s\"", name,
                         labels);
            goto out;
        }
        f->label[f->nlabels] = strndup(p, n);
        if (!f->label[f->nlabels++]) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
        p = comma ? comma + 1 : p + n;
    }
    if (t == METRICS_HISTOGRAM) {
        memcpy(f->buckets, buckets, nbuckets * sizeof(double));
        f->nbuckets = nbuckets;
    }
    /* a family without labels shows 0 from the start */
    if (f->nlabels == 0 && !series_new(f, NULL)) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    pthread_mutex_lock(&m->mu);
    if (family_find(m, name)) {
        pthread_mutex_unlock(&m->mu);
        rc = err_set(e, ERR_INVALID, "metrics: \"%s\" defined twice", name);
        goto out;
    }
    if (m->last)
        m->last->next = f;
    else
        m->families = f;
    m->last = f;
    pthread_mutex_unlock(&m->mu);
    f = NULL;
out:
    if (f)
        family_free(f);
    return rc;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static void update(struct metrics *m, const char *name, const char *const *lv, double v, enum op op)
{
    struct family *f;
    struct series *s;

    if (!m || !name || isnan(v))
        return;
    pthread_mutex_lock(&m->mu);
    f = family_find(m, name);
    if (!f || (op == OP_OBSERVE) != (f->type == METRICS_HISTOGRAM) ||
        (op == OP_SET && f->type == METRICS_HISTOGRAM) ||
        (op == OP_ADD && f->type == METRICS_COUNTER && v < 0))
        goto out;
    s = series_get(f, lv);
    if (!s)
        goto out;
    switch (op) {
    case OP_ADD:
        s->value += v;
        break;
    case OP_SET:
        s->value = v;
        break;
    case OP_OBSERVE: {
        size_t i = 0;
        while (i < f->nbuckets && v > f->buckets[i])
            i++;
        if (i < f->nbuckets)
            s->bucket[i]++;
        s->count++;
        s->sum += v;
        break;
    }
    }
out:
    pthread_mutex_unlock(&m->mu);
}

void metrics_add(struct metrics *m, const char *name, const char *const *lv, double v)
{
    update(m, name, lv, v, OP_ADD);
}

void metrics_set(struct metrics *m, const char *name, const char *const *lv, double v)
{
    update(m, name, lv, v, OP_SET);
}

void metrics_observe(struct metrics *m, const char *name, const char *const *lv, double v)
{
    update(m, name, lv, v, OP_OBSERVE);
}

double metrics_get(struct metrics *m, const char *name, const char *const *lv)
{
    struct family *f;
    double v = 0;

    if (!m || !name)
        return 0;
    pthread_mutex_lock(&m->mu);
    f = family_find(m, name);
    if (f && f->type != METRICS_HISTOGRAM) {
        for (struct series *s = f->series; s; s = s->next) {
            int same = 1;
            for (int i = 0; i < f->nlabels && same; i++)
                same = strcmp(s->lv[i], lv && lv[i] ? lv[i] : "") == 0;
            if (same) {
                v = s->value;
                break;
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
    return v;
}

/* --- rendering ---------------------------------------------------------- */

/* HELP text escapes '\' and newline; label values also '"'. */
static int put_escaped(struct buf *b, const char *s, int quote)
{
    int rc = 0;

    for (; *s && rc == 0; s++) {
        if (*s == '\\')
            rc = buf_puts(b, "\\\\");
        else if (*s == '\n')
            rc = buf_puts(b, "\\n");
        else if (quote && *s == '"')
            rc = buf_puts(b, "\\\"");
        else
            rc = buf_append(b, s, 1);
    }
    return rc;
}

static int put_number(struct buf *b, double v)
{
    if (isinf(v))
        return buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15)
        return buf_printf(b, "%.0f", v);
    /* the shortest form that reads back as the same double: 0.1, not 0.10000000000000001 */
    for (int prec = 15; prec < 17; prec++) {
        char tmp[40];
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            return buf_puts(b, tmp);
    }
    return buf_printf(b, "%.17g", v);
}

/* "{a="x",b="y"" plus extra (e.g. le="0.5"), then "}"; nothing when empty. */
static int put_labels(struct buf *b, const struct family *f, const struct series *s,
                      const char *extra_name, double extra_v)
{
    int rc = 0;

    if (f->nlabels == 0 && !extra_name)
        return 0;
    rc = buf_puts(b, "{");
    for (int i = 0; i < f->nlabels && rc == 0; i++) {
        rc = buf_printf(b, "%s%s=\"", i ? "," : "", f->label[i]);
        if (rc == 0)
            rc = put_escaped(b, s->lv[i], 1);
        if (rc == 0)
            rc = buf_puts(b, "\"");
    }
    if (extra_name && rc == 0) {
        rc = buf_printf(b, "%s%s=\"", f->nlabels ? "," : "", extra_name);
        if (rc == 0)
            rc = put_number(b, extra_v);
        if (rc == 0)
            rc = buf_puts(b, "\"");
    }
    if (rc == 0)
        rc = buf_puts(b, "}");
    return rc;
}

static int render_family(struct buf *b, const struct family *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    int rc;

    rc = buf_printf(b, "# HELP %s ", f->name);
    if (rc == 0)
        rc = put_escaped(b, f->help, 0);
    if (rc == 0)
        rc = buf_printf(b, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    for (const struct series *s = f->series; s && rc == 0; s = s->next) {
        if (f->type != METRICS_HISTOGRAM) {
            rc = buf_puts(b, f->name);
            if (rc == 0)
                rc = put_labels(b, f, s, NULL, 0);
            if (rc == 0)
                rc = buf_puts(b, " ");
            if (rc == 0)
                rc = put_number(b, s->value);
            if (rc == 0)
                rc = buf_puts(b, "\n");
            continue;
        }
        unsigned long long cum = 0;
        for (size_t i = 0; i <= f->nbuckets && rc == 0; i++) {
            cum = i < f->nbuckets ? cum + s->bucket[i] : s->count;
            rc = buf_printf(b, "%s_bucket", f->name);
            if (rc == 0)
                rc = put_labels(b, f, s, "le", i < f->nbuckets ? f->buckets[i] : INFINITY);
            if (rc == 0)
                rc = buf_printf(b, " %llu\n", cum);
        }
        if (rc == 0)
            rc = buf_printf(b, "%s_sum", f->name);
        if (rc == 0)
            rc = put_labels(b, f, s, NULL, 0);
        if (rc == 0)
            rc = buf_puts(b, " ");
        if (rc == 0)
            rc = put_number(b, s->sum);
        if (rc == 0)
            rc = buf_printf(b, "\n%s_count", f->name);
        if (rc == 0)
            rc = put_labels(b, f, s, NULL, 0);
        if (rc == 0)
            rc = buf_printf(b, " %llu\n", s->count);
    }
    return rc;
}

int metrics_render(struct metrics *m, struct buf *out, struct err *e)
{
    int rc = 0;

    if (!m)
        return 0;
    pthread_mutex_lock(&m->mu);
    for (const struct family *f = m->families; f && rc == 0; f = f->next)
        rc = render_family(out, f);
    pthread_mutex_unlock(&m->mu);
    if (rc < 0)
        return err_set(e, rc, "metrics: rendering: %s", err_name(rc));
    return 0;
}

/* --- the odoosync catalogue ---------------------------------------------- */

static const double job_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1,     2.5,  5,     10,   30,  60,   300};
static const double scan_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900};
static const double lock_buckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};

int metrics_define_odoosync(struct metrics *m, const char *version, struct err *e)
{
#define NB(a) (sizeof(a) / sizeof((a)[0]))
    static const struct {
        enum metrics_type t;
        const char *name, *help, *labels;
        const double *buckets;
        size_t nb;
    } defs[] = {
        {METRICS_GAUGE, "odoosync_build_info", "odoosync version, always 1", "version", NULL, 0},
        {METRICS_COUNTER, "odoosync_jobs_total", "Job attempts by kind, side and outcome",
         "kind,side,result", NULL, 0},
        {METRICS_HISTOGRAM, "odoosync_job_duration_seconds", "Time spent applying a job", "kind",
         job_buckets, NB(job_buckets)},
        {METRICS_COUNTER, "odoosync_bytes_uploaded_total", "Bytes uploaded to the cloud", NULL,
         NULL, 0},
        {METRICS_COUNTER, "odoosync_jobs_retried_total", "Jobs handed to the retry topic", NULL,
         NULL, 0},
        {METRICS_COUNTER, "odoosync_jobs_dead_lettered_total",
         "Jobs handed to the dead-letter topic", NULL, NULL, 0},
        {METRICS_COUNTER, "odoosync_lock_busy_total", "Jobs that found their lock busy", NULL, NULL,
         0},
        {METRICS_HISTOGRAM, "odoosync_lock_wait_seconds",
         "Time from a job's first attempt to take its lock(s) until it holds them", NULL,
         lock_buckets, NB(lock_buckets)},
        {METRICS_HISTOGRAM, "odoosync_scan_duration_seconds", "Duration of a scan of one side",
         "side", scan_buckets, NB(scan_buckets)},
        {METRICS_COUNTER, "odoosync_scan_requests_total", "Requests made by scans", "side", NULL,
         0},
        {METRICS_COUNTER, "odoosync_passes_total", "Planning passes by outcome", "result", NULL, 0},
        {METRICS_GAUGE, "odoosync_last_pass_timestamp_seconds", "Unix time the last pass ended",
         NULL, NULL, 0},
        {METRICS_GAUGE, "odoosync_consumer_lag",
         "Messages of a topic not yet finished by this process (its assigned partitions)", "topic",
         NULL, 0},
    };
#undef NB
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        int rc = metrics_define(m, defs[i].t, defs[i].name, defs[i].help, defs[i].labels,
                                defs[i].buckets, defs[i].nb, e);
        if (rc < 0)
            return rc;
    }
    metrics_set(m, "odoosync_build_info", METRICS_LV(version ? version : "unknown"), 1);
    return 0;
}

void metrics_job_event(struct metrics *m, const struct job *j, const struct job_event *ev)
{
    const char *kind, *side;

    if (!m || !j || !ev)
        return;
    kind = job_kind_name(j->kind);
    side = job_side_name(j->side);
    metrics_add(m, "odoosync_jobs_total", METRICS_LV(kind, side, job_result_name(ev->result)), 1);
    if (ev->result != JOB_SKIPPED)
        metrics_observe(m, "odoosync_job_duration_seconds", METRICS_LV(kind),
                        (double)ev->duration_ms / 1000.0);
    if (j->kind == JOB_UPLOAD && ev->result == JOB_APPLIED && j->size > 0)
        metrics_add(m, "odoosync_bytes_uploaded_total", NULL, (double)j->size);
}

/* --- the HTTP server ---------------------------------------------------- */

struct metrics_server {
    struct MHD_Daemon *d;
    struct metrics *m;
    metrics_ready_fn ready;
    void *ready_ud;
    void (*collect)(void *ud, struct metrics *m);
    void *collect_ud;
    long cache_ms;
    struct log *log;
    int port;
    pthread_mutex_t ready_mu; /* held while the callback runs: one check at a time */
    long long ready_at;       /* monotonic ms of the cached answer, 0 = none */
    int ready_rc;
    char ready_why[512];
};

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The readiness answer, from the cache when fresh. why gets a copy of the reason. */
static int server_ready(struct metrics_server *s, char *why, size_t whysz)
{
    int rc;

    pthread_mutex_lock(&s->ready_mu);
    if (!s->ready_at || mono_ms() - s->ready_at >= s->cache_ms) {
        struct buf b;

        buf_init(&b, sizeof(s->ready_why) - 1);
        s->ready_rc = s->ready ? s->ready(s->ready_ud, &b) : 0;
        snprintf(s->ready_why, sizeof(s->ready_why), "%s",
                 b.len ? buf_str(&b) : (s->ready_rc < 0 ? "not ready" : ""));
        buf_release(&b);
        s->ready_at = mono_ms();
        if (s->ready_rc < 0)
            log_warn(s->log, "readyz: not ready: %s", s->ready_why);
    }
    rc = s->ready_rc;
    snprintf(why, whysz, "%s", s->ready_why);
    pthread_mutex_unlock(&s->ready_mu);
    return rc;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype,
                             const char *body, size_t len)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    static const char text[] = "text/plain; charset=utf-8";
    struct metrics_server *s = cls;
    enum MHD_Result ret;

    (void)version;
    (void)upload_data;
    if (!*con_cls) { /* first call: headers only */
        *con_cls = s;
        return MHD_YES;
    }
    if (*upload_data_size) { /* ignore any body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "method not allowed\n", 19);
    if (strcmp(url, "/metrics") == 0) {
        struct buf b;
        struct err e = ERR_INIT;

        buf_init(&b, METRICS_RENDER_MAX);
        if (s->collect)
            s->collect(s->collect_ud, s->m);
        if (metrics_render(s->m, &b, &e) < 0) {
            buf_release(&b);
            return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "render failed\n", 14);
        }
        ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.len ? b.data : "",
                    b.len);
        buf_release(&b);
        return ret;
    }
    if (strcmp(url, "/healthz") == 0)
        return reply(c, MHD_HTTP_OK, text, "ok\n", 3);
    if (strcmp(url, "/readyz") == 0) {
        char why[512], body[600];
        int n;

        if (server_ready(s, why, sizeof(why)) == 0)
            return reply(c, MHD_HTTP_OK, text, "ready\n", 6);
        n = snprintf(body, sizeof(body), "not ready: %s\n", why);
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, text, body,
                     n < 0 ? 0 : ((size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1));
    }
    return reply(c, MHD_HTTP_NOT_FOUND, text, "not found\n", 10);
}

/* "host:port" or "[v6]:port" -> socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
                        struct err *e)
{
    char host[256];
    const char *colon, *h = listen;
    size_t hn;
    char *end = NULL;
    long port;
    struct addrinfo hints, *res = NULL;
    int gai;

    colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon)
        return err_set(e, ERR_INVALID, "metrics.listen: expected host:port, got \"%s\"",
                       listen ? listen : "");
    hn = (size_t)(colon - listen);
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    port = strtol(colon + 1, &end, 10);
    if (hn == 0 || hn >= sizeof(host) || !end || *end || end == colon + 1 || port < 0 ||
        port > 65535)
        return err_set(e, ERR_INVALID, "metrics.listen: expected host:port, got \"%s\"", listen);
    memcpy(host, h, hn);
    host[hn] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0 || !res)
        return err_set(e, ERR_INVALID, "metrics.listen: cannot resolve \"%s\": %s", host,
                       gai_strerror(gai));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    return 0;
}

int metrics_server_start(struct metrics_server **out, const struct metrics_server_opts *o,
                         struct err *e)
{
    struct metrics_server *s = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    int rc;

    *out = NULL;
    memset(&ss, 0, sizeof(ss));
    rc = parse_listen(o->listen, &ss, &sslen, e);
    if (rc < 0)
        return rc;
    s = calloc(1, sizeof(*s));
    if (!s)
        return err_set(e, ERR_NOMEM, "out of memory");
    s->m = o->m;
    s->ready = o->ready;
    s->ready_ud = o->ready_ud;
    s->collect = o->collect;
    s->collect_ud = o->collect_ud;
    s->cache_ms = o->ready_cache_ms > 0 ? o->ready_cache_ms : 1000;
    s->log = o->log;
    pthread_mutex_init(&s->ready_mu, NULL);
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!s->d) {
        rc = err_set(e, ERR_IO, "metrics: cannot listen on \"%s\" (address in use?)", o->listen);
        goto out;
    }
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? (int)info->port : 0;
    log_info(s->log, "metrics: listening on %s (port %d): /metrics /healthz /readyz", o->listen,
             s->port);
    *out = s;
    s = NULL;
out:
    if (s) {
        pthread_mutex_destroy(&s->ready_mu);
        free(s);
    }
    (void)sslen;
    return rc;
}

int metrics_server_port(const struct metrics_server *s)
{
    return s ? s->port : 0;
}

void metrics_server_stop(struct metrics_server *s)
{
    if (!s)
        return;
    if (s->d)
        MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->ready_mu);
    free(s);
}
