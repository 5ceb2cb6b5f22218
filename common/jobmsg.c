/*
 * jobmsg: events and dead-letter envelopes (see jobmsg.h), and the time and
 * JSON-string helpers the job codec shares.
 *
 * Times are kept as ms since the epoch and written as RFC 3339 UTC with
 * milliseconds; the civil-date arithmetic is Howard Hinnant's (days from
 * 1970-01-01 in the proleptic Gregorian calendar), so no timegm() or TZ.
 *
 * Encoders write keys in a fixed order, so equal inputs give equal bytes
 * (tests compare them with the examples under tests/jobs/).
 */
#include "jobmsg.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "job_int.h"

#include "banned.h"

#define DLQ_WIRE_MAX (4u * 1024 * 1024) /* an envelope of a 1 MiB message fits */
#define DLQ_RAW_MAX (2u * 1024 * 1024)  /* raw bytes kept in an envelope */

/* ---- time ---- */

static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    long long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
    long long era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int job_time_format(long long ms, char out[JOB_TIME_SIZE])
{
    const long long day_ms = 86400000LL;
    long long days, rem, y;
    unsigned m, d;

    /* years 0000..9999 */
    if (ms < -62167219200000LL || ms > 253402300799999LL)
        return ERR_INVALID;
    days = ms / day_ms;
    rem = ms % day_ms;
    if (rem < 0) {
        rem += day_ms;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    snprintf(out, JOB_TIME_SIZE, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", y, m, d,
             rem / 3600000, rem / 60000 % 60, rem / 1000 % 60, rem % 1000);
    return 0;
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int job_time_parse(const char *s, long long *ms)
{
    static const unsigned char mdays[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, frac = 0, fdig = 0, oh = 0, om = 0, sign = 0, dim;
    const char *p;

    if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    p = s + 19;
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, fdig++)
            if (fdig < 3)
                frac = frac * 10 + (*p - '0');
        if (fdig < 1 || fdig > 9)
            return -1;
        for (int k = fdig; k < 3; k++)
            frac *= 10;
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
            return -1;
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 || oh > 23 || om > 59)
        return -1;
    dim = mdays[mo];
    if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        dim = 29;
    if (d > dim)
        return -1;
    *ms = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60000LL +
          sec * 1000LL + frac - sign * (oh * 60 + om) * 60000LL;
    return 0;
}

long long job_odoo_time_s(const char *s)
{
    char rfc[24];
    long long ms;

    if (!s || strlen(s) < 19 || (s[19] && s[19] != '.'))
        return 0;
    memcpy(rfc, s, 19);
    rfc[10] = rfc[10] == ' ' || rfc[10] == 'T' ? 'T' : '?';
    memcpy(rfc + 19, "Z", 2);
    return job_time_parse(rfc, &ms) == 0 && ms > 0 ? ms / 1000 : 0;
}

long long job_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int job_json_str(struct buf *out, const char *s)
{
    size_t mark = out->len;
    const char *run = s;
    int rc = buf_puts(out, "\"");

    for (; rc == 0 && *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = NULL;
        char u[8];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\r')
            esc = "\\r";
        else if (c < 0x20 || c == 0x7f) {
            snprintf(u, sizeof(u), "\\u%04x", c);
            esc = u;
        }
        if (!esc)
            continue;
        rc = buf_append(out, run, (size_t)(s - run));
        if (rc == 0)
            rc = buf_puts(out, esc);
        run = s + 1;
    }
    if (rc == 0)
        rc = buf_append(out, run, (size_t)(s - run));
    if (rc == 0)
        rc = buf_puts(out, "\"");
    if (rc < 0 && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

/* ---- events ---- */

static const char *const result_names[] = {"applied", "already-done", "skipped", "failed",
                                           "dead-lettered"};

const char *job_result_name(enum job_result r)
{
    if ((int)r < 0 || (size_t)r >= sizeof(result_names) / sizeof(result_names[0]))
        return "unknown";
    return result_names[r];
}

static int put_key_str(struct buf *b, const char *key, const char *s)
{
    int rc;

    if (!s)
        return 0;
    rc = buf_printf(b, ",\"%s\":", key);
    return rc < 0 ? rc : job_json_str(b, s);
}

int job_event_encode(const struct job *j, const struct job_event *ev, struct buf *out,
                     struct err *e)
{
    size_t mark = out->len;
    char when[JOB_TIME_SIZE];
    int rc;

    if (!j->id)
        return err_set(e, ERR_INVALID, "job_event_encode: the job has no id");
    if ((int)ev->result < JOB_APPLIED || ev->result > JOB_DEAD_LETTERED)
        return err_set(e, ERR_INVALID, "job_event_encode: unknown result %d", (int)ev->result);
    if ((ev->result == JOB_FAILED || ev->result == JOB_DEAD_LETTERED) && !ev->error)
        return err_set(e, ERR_INVALID, "job_event_encode: a %s event needs an error",
                       job_result_name(ev->result));
    if (ev->duration_ms < 0 || j->attempt < 0)
        return err_set(e, ERR_INVALID, "job_event_encode: negative duration or attempt");
    if (job_time_format(ev->time ? ev->time : job_now_ms(), when) < 0)
        return err_set(e, ERR_INVALID, "job_event_encode: time %lld out of range", ev->time);

    rc = buf_printf(out, "{\"schema\":1,\"time\":\"%s\",\"job\":", when);
    if (rc == 0)
        rc = job_json_str(out, j->id);
    if (rc == 0)
        rc = buf_printf(out,
                        ",\"kind\":\"%s\",\"side\":\"%s\",\"attempt\":%d,\"result\":\"%s\","
                        "\"duration_ms\":%lld",
                        job_kind_name(j->kind), job_side_name(j->side), j->attempt,
                        job_result_name(ev->result), ev->duration_ms);
    if (rc == 0)
        rc = put_key_str(out, "record", j->record);
    if (rc == 0)
        rc = put_key_str(out, "path", j->path);
    if (rc == 0 && (ev->att_id > 0 || j->att_id > 0))
        rc = buf_printf(out, ",\"att_id\":%ld", ev->att_id > 0 ? ev->att_id : j->att_id);
    if (rc == 0)
        rc = put_key_str(out, "name", ev->name ? ev->name : j->name);
    if (rc == 0)
        rc = put_key_str(out, "fileid", ev->fileid ? ev->fileid : j->fileid);
    if (rc == 0)
        rc = put_key_str(out, "old", ev->old_value);
    if (rc == 0)
        rc = put_key_str(out, "new", ev->new_value);
    if (rc == 0)
        rc = put_key_str(out, "error", ev->error);
    if (rc == 0 && ev->error_code)
        rc = buf_printf(out, ",\"error_code\":\"%s\"", err_name(ev->error_code));
    if (rc == 0)
        rc = buf_puts(out, "}");
    if (rc < 0) {
        if (out->data) {
            out->len = mark;
            out->data[mark] = '\0';
        }
        return err_set(e, rc, "job_event_encode: %s", err_name(rc));
    }
    return 0;
}

/* ---- dead-letter envelopes ---- */

static int is_topic(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!(isalnum((unsigned char)s[n]) || s[n] == '.' || s[n] == '_' || s[n] == '-'))
            return 0;
    return n >= 1 && n <= 249;
}

static int is_code_name(const char *s)
{
    size_t n = 0;

    if (!(*s >= 'a' && *s <= 'z'))
        return 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '-'))
            return 0;
    return n <= 32;
}

int job_dlq_encode(const struct job *j, const void *raw, size_t raw_len,
                   const struct job_dlq_meta *m, struct buf *out, struct err *e)
{
    char first[JOB_TIME_SIZE], last[JOB_TIME_SIZE];
    size_t mark = out->len;
    unsigned char *b64 = NULL;
    int rc = 0;

    if (!m->error || !m->topic || !is_topic(m->topic) || m->attempts < 0 || m->partition < 0 ||
        m->offset < 0 || m->offset > JOB_INT_MAX)
        return err_set(e, ERR_INVALID,
                       "job_dlq_encode: incomplete envelope (error, topic, "
                       "attempts, partition, offset)");
    if (job_time_format(m->first_failed_at, first) < 0 ||
        job_time_format(m->last_failed_at, last) < 0)
        return err_set(e, ERR_INVALID, "job_dlq_encode: failure time out of range");
    if (!j && raw_len > DLQ_RAW_MAX)
        raw_len = DLQ_RAW_MAX; /* keep the envelope bounded; the error says what it was */

    rc = buf_printf(out, "{\"schema\":1,\"error\":");
    if (rc == 0)
        rc = job_json_str(out, m->error);
    if (rc == 0)
        rc = buf_printf(out,
                        ",\"error_code\":\"%s\",\"attempts\":%d,\"first_failed_at\":\"%s\","
                        "\"last_failed_at\":\"%s\",\"topic\":",
                        err_name(m->error_code), m->attempts, first, last);
    if (rc == 0)
        rc = job_json_str(out, m->topic);
    if (rc == 0)
        rc = buf_printf(out, ",\"partition\":%d,\"offset\":%lld", m->partition, m->offset);
    if (rc < 0)
        goto out;
    if (j) {
        rc = buf_puts(out, ",\"job\":");
        if (rc < 0)
            goto out;
        rc = job_encode(j, out, e);
        if (rc < 0) {
            err_prefix(e, "job_dlq_encode");
            goto out;
        }
    } else {
        b64 = malloc(4 * ((raw_len + 2) / 3) + 1);
        if (!b64) {
            rc = ERR_NOMEM;
            goto out;
        }
        EVP_EncodeBlock(b64, raw_len ? raw : (const void *)"", (int)raw_len);
        rc = buf_printf(out, ",\"raw\":\"%s\"", (const char *)b64);
    }
    if (rc == 0)
        rc = buf_puts(out, "}");
out:
    free(b64);
    if (rc < 0) {
        if (out->data) {
            out->len = mark;
            out->data[mark] = '\0';
        }
        if (!e || e->code != rc)
            err_set(e, rc, "job_dlq_encode: %s", err_name(rc));
    }
    return rc;
}

void job_dlq_init(struct job_dlq *d)
{
    memset(d, 0, sizeof(*d));
    job_init(&d->job);
}

void job_dlq_release(struct job_dlq *d)
{
    job_release(&d->job);
    free(d->raw);
    free(d->error);
    free(d->error_code);
    free(d->topic);
    job_dlq_init(d);
}

/* ^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$ */
static int is_base64(const char *s, size_t *pad)
{
    size_t n = strlen(s), i;

    *pad = 0;
    if (n % 4)
        return 0;
    if (n && s[n - 1] == '=')
        *pad = (n >= 2 && s[n - 2] == '=') ? 2 : 1;
    for (i = 0; i < n - *pad; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '/'))
            return 0;
    return 1;
}

static const char *const dlq_props[] = {
    "schema",         "job",   "raw",       "error",  "error_code", "attempts", "first_failed_at",
    "last_failed_at", "topic", "partition", "offset", NULL};

static int dlq_string(const cJSON *doc, const char *name, char **dst, struct err *e)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, name);

    if (!it)
        return err_set(e, ERR_INVALID, "$.%s: missing", name);
    if (!cJSON_IsString(it) || !it->valuestring)
        return err_set(e, ERR_INVALID, "$.%s: expected a string", name);
    *dst = strdup(it->valuestring);
    return *dst ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static int dlq_int(const cJSON *doc, const char *name, long long max, long long *v, struct err *e)
{
    char path[64];
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, name);

    snprintf(path, sizeof(path), "$.%s", name);
    if (!it)
        return err_set(e, ERR_INVALID, "%s: missing", path);
    return job_json_int(it, path, 0, max, v, e);
}

static int dlq_time(const cJSON *doc, const char *name, long long *v, struct err *e)
{
    char path[64];
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, name);

    snprintf(path, sizeof(path), "$.%s", name);
    if (!it)
        return err_set(e, ERR_INVALID, "%s: missing", path);
    return job_json_time(it, path, v, e);
}

static int dlq_job(const cJSON *it, struct job_dlq *d, const char *root, struct err *e)
{
    char *text = NULL;
    int rc;

    if (!cJSON_IsObject(it))
        return err_set(e, ERR_INVALID, "$.job: expected an object");
    text = cJSON_PrintUnformatted(it);
    if (!text)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = job_decode(&d->job, text, strlen(text), root, e);
    free(text);
    if (rc < 0) {
        if (e && e->msg[0] == '$') {
            char tmp[ERR_MSG_MAX];
            snprintf(tmp, sizeof(tmp), "%s", e->msg + 1);
            snprintf(e->msg, sizeof(e->msg), "$.job%s", tmp);
        }
        return rc;
    }
    d->has_job = 1;
    return 0;
}

static int dlq_raw(const cJSON *it, struct job_dlq *d, struct err *e)
{
    size_t n, pad = 0;
    int got;

    if (!cJSON_IsString(it) || !it->valuestring)
        return err_set(e, ERR_INVALID, "$.raw: expected a string");
    if (!is_base64(it->valuestring, &pad))
        return err_set(e, ERR_INVALID, "$.raw: expected base64");
    n = strlen(it->valuestring);
    d->raw = malloc(n / 4 * 3 + 1);
    if (!d->raw)
        return err_set(e, ERR_NOMEM, "out of memory");
    got = n ? EVP_DecodeBlock(d->raw, (const unsigned char *)it->valuestring, (int)n) : 0;
    if (got < 0)
        return err_set(e, ERR_INVALID, "$.raw: expected base64");
    d->raw_len = (size_t)got - pad;
    d->raw[d->raw_len] = '\0';
    return 0;
}

int job_dlq_decode(struct job_dlq *d, const char *data, size_t len, const char *root, struct err *e)
{
    cJSON *doc = NULL;
    const cJSON *it, *job, *raw;
    long long v = 0;
    int rc;

    job_dlq_init(d);
    if ((rc = job_json_parse(data, len, DLQ_WIRE_MAX, &doc, e)) < 0)
        goto out;
    if (!cJSON_IsObject(doc)) {
        rc = err_set(e, ERR_INVALID, "$: expected an object");
        goto out;
    }
    if ((rc = job_json_props(doc, "$", dlq_props, e)) < 0)
        goto out;
    it = cJSON_GetObjectItemCaseSensitive(doc, "schema");
    if (!it) {
        rc = err_set(e, ERR_INVALID, "$.schema: missing");
        goto out;
    }
    if ((rc = job_json_int(it, "$.schema", 0, JOB_INT_MAX, &v, e)) < 0)
        goto out;
    if (v != 1) {
        rc = err_set(e, ERR_INVALID, "$.schema: unsupported version %lld (expected 1)", v);
        goto out;
    }
    if ((rc = dlq_string(doc, "error", &d->error, e)) < 0 ||
        (rc = dlq_string(doc, "error_code", &d->error_code, e)) < 0)
        goto out;
    if (!is_code_name(d->error_code)) {
        rc = err_set(e, ERR_INVALID, "$.error_code: expected an error name (\"conflict\")");
        goto out;
    }
    if ((rc = dlq_int(doc, "attempts", INT_MAX, &v, e)) < 0)
        goto out;
    d->attempts = (int)v;
    if ((rc = dlq_time(doc, "first_failed_at", &d->first_failed_at, e)) < 0 ||
        (rc = dlq_time(doc, "last_failed_at", &d->last_failed_at, e)) < 0 ||
        (rc = dlq_string(doc, "topic", &d->topic, e)) < 0)
        goto out;
    if (!is_topic(d->topic)) {
        rc = err_set(e, ERR_INVALID, "$.topic: expected a Kafka topic name");
        goto out;
    }
    if ((rc = dlq_int(doc, "partition", INT_MAX, &v, e)) < 0)
        goto out;
    d->partition = (int)v;
    if ((rc = dlq_int(doc, "offset", JOB_INT_MAX, &d->offset, e)) < 0)
        goto out;
    job = cJSON_GetObjectItemCaseSensitive(doc, "job");
    raw = cJSON_GetObjectItemCaseSensitive(doc, "raw");
    if ((job != NULL) == (raw != NULL)) {
        rc = err_set(e, ERR_INVALID, "$: expected exactly one of \"job\" and \"raw\"");
        goto out;
    }
    rc = job ? dlq_job(job, d, root, e) : dlq_raw(raw, d, e);
out:
    cJSON_Delete(doc);
    return rc;
}
