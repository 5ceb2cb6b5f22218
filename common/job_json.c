/*
 * job_json: the strict JSON reading shared by the job codec (job.c) and the
 * messages around jobs (jobmsg.c): the JSON grammar checked before cJSON
 * parses (cJSON alone accepts "+1", "01" or raw control characters), and one
 * check per value rule of the schemas, each reporting its JSON path
 * (job_int.h).
 */
#include "job_int.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobmsg.h"

#include "banned.h"

void job_quote(const char *s, char *out, size_t size)
{
    size_t n = 0;

    if (!size)
        return;
    for (; s && *s && n + 1 < size && n < 60; s++)
        out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[n] = '\0';
}

/* JSON number grammar at p (outside strings); returns its length, 0 if malformed. */
static size_t json_number(const char *p, size_t left)
{
    size_t i = 0;

    if (i < left && p[i] == '-')
        i++;
    if (i < left && p[i] == '0') {
        i++;
    } else if (i < left && p[i] >= '1' && p[i] <= '9') {
        while (i < left && isdigit((unsigned char)p[i]))
            i++;
    } else {
        return 0;
    }
    if (i < left && p[i] == '.') {
        size_t d = ++i;
        while (i < left && isdigit((unsigned char)p[i]))
            i++;
        if (i == d)
            return 0;
    }
    if (i < left && (p[i] == 'e' || p[i] == 'E')) {
        size_t d;
        i++;
        if (i < left && (p[i] == '+' || p[i] == '-'))
            i++;
        d = i;
        while (i < left && isdigit((unsigned char)p[i]))
            i++;
        if (i == d)
            return 0;
    }
    /* "01", "1.2.3", "1e5e": what follows a number must not continue it */
    if (i < left && (isdigit((unsigned char)p[i]) || p[i] == '.' || p[i] == 'e' || p[i] == 'E' ||
                     p[i] == '+' || p[i] == '-'))
        return 0;
    return i;
}

/*
 * What cJSON lets through and JSON does not: control characters (raw, or
 * \u0000 which cJSON would cut a string at), number forms like "+1", "01",
 * ".5", "1.". Structure is left to cJSON.
 */
static int json_prescan(const char *d, size_t len, struct err *e)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char)d[i];
        if (c == '"') {
            for (i++;; i++) {
                if (i >= len)
                    return err_set(e, ERR_INVALID, "$: unterminated string");
                c = (unsigned char)d[i];
                if (c == '"')
                    break;
                if (c < 0x20)
                    return err_set(e, ERR_INVALID, "$: control character in a string at offset %zu",
                                   i);
                if (c == '\\') {
                    if (i + 1 >= len)
                        return err_set(e, ERR_INVALID, "$: unterminated string");
                    if (d[i + 1] == 'u' && i + 5 < len && memcmp(d + i + 2, "0000", 4) == 0)
                        return err_set(e, ERR_INVALID, "$: \\u0000 in a string at offset %zu", i);
                    i++;
                }
            }
            i++;
        } else if (c == '-' || c == '+' || c == '.' || isdigit(c)) {
            size_t n = json_number(d + i, len - i);
            if (!n)
                return err_set(e, ERR_INVALID, "$: malformed number at offset %zu", i);
            i += n;
        } else if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return err_set(e, ERR_INVALID, "$: control character at offset %zu", i);
        } else {
            i++;
        }
    }
    return 0;
}

int job_json_parse(const char *data, size_t len, size_t max, cJSON **out, struct err *e)
{
    const char *end = NULL;
    cJSON *doc;
    int rc;

    *out = NULL;
    if (len > max)
        return err_set(e, ERR_INVALID, "$: message of %zu bytes, more than %zu", len, max);
    if (!data || !len)
        return err_set(e, ERR_INVALID, "$: empty message");
    rc = json_prescan(data, len, e);
    if (rc < 0)
        return rc;
    doc = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!doc) {
        size_t at = end && end >= data ? (size_t)(end - data) : 0;
        return err_set(e, ERR_INVALID, "$: not valid JSON (near offset %zu)", at);
    }
    for (; end && (size_t)(end - data) < len; end++) {
        if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
            cJSON_Delete(doc);
            return err_set(e, ERR_INVALID, "$: not valid JSON (trailing data at offset %zu)",
                           (size_t)(end - data));
        }
    }
    *out = doc;
    return 0;
}

int job_json_props(const cJSON *obj, const char *path, const char *const *names, struct err *e)
{
    char q[64];

    for (const cJSON *it = obj->child; it; it = it->next) {
        size_t k;
        for (k = 0; names[k]; k++)
            if (it->string && strcmp(it->string, names[k]) == 0)
                break;
        job_quote(it->string, q, sizeof(q));
        if (!names[k])
            return err_set(e, ERR_INVALID, "%s.%s: unexpected property", path, q);
        for (const cJSON *o = obj->child; o != it; o = o->next)
            if (strcmp(o->string, it->string) == 0)
                return err_set(e, ERR_INVALID, "%s.%s: duplicate property", path, q);
    }
    return 0;
}

int job_json_int(const cJSON *it, const char *path, long long min, long long max, long long *out,
                 struct err *e)
{
    double d;

    if (!cJSON_IsNumber(it))
        return err_set(e, ERR_INVALID, "%s: expected an integer", path);
    d = it->valuedouble;
    if (!isfinite(d) || floor(d) != d)
        return err_set(e, ERR_INVALID, "%s: expected an integer", path);
    if (d < (double)min)
        return err_set(e, ERR_INVALID, "%s: must be >= %lld", path, min);
    if (d > (double)max)
        return err_set(e, ERR_INVALID, "%s: must be <= %lld", path, max);
    *out = (long long)d;
    return 0;
}

/* Valid UTF-8 (no overlong forms, surrogates or > U+10FFFF): code points, or -1. */
static long utf8_chars(const unsigned char *s)
{
    long n = 0;

    while (*s) {
        unsigned c = *s, cp, need;
        if (c < 0x80) {
            s++;
            n++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return -1;
        }
        s++;
        for (unsigned k = 0; k < need; k++, s++) {
            if ((*s & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (*s & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return -1;
        n++;
    }
    return n;
}

int job_json_text(const cJSON *it, const char *path, size_t minlen, size_t maxlen, const char **out,
                  struct err *e)
{
    const char *s;
    long n;

    if (!cJSON_IsString(it) || !it->valuestring)
        return err_set(e, ERR_INVALID, "%s: expected a string", path);
    s = it->valuestring;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return err_set(e, ERR_INVALID, "%s: contains a control character", path);
    n = utf8_chars((const unsigned char *)s);
    if (n < 0)
        return err_set(e, ERR_INVALID, "%s: not valid UTF-8", path);
    if ((size_t)n < minlen)
        return err_set(e, ERR_INVALID, "%s: must not be empty", path);
    if ((size_t)n > maxlen)
        return err_set(e, ERR_INVALID, "%s: longer than %zu characters", path, maxlen);
    *out = s;
    return 0;
}

int job_json_time(const cJSON *it, const char *path, long long *ms, struct err *e)
{
    const char *s = NULL;
    int rc = job_json_text(it, path, 1, 64, &s, e);

    if (rc < 0)
        return rc;
    if (job_time_parse(s, ms) < 0)
        return err_set(e, ERR_INVALID,
                       "%s: expected an RFC 3339 date-time (2026-01-31T12:00:00.000Z)", path);
    return 0;
}

static int has_dotdot_segment(const char *s)
{
    for (const char *p = s; (p = strstr(p, "..")) != NULL; p++)
        if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return 1;
    return 0;
}

int job_json_path(const cJSON *it, const char *path, const char *root, const char **out,
                  struct err *e)
{
    const char *s = NULL;
    int rc = job_json_text(it, path, 1, JOB_PATH_MAX, &s, e);

    if (rc < 0)
        return rc;
    if (s[0] != '/')
        return err_set(e, ERR_INVALID, "%s: must start with \"/\"", path);
    if (has_dotdot_segment(s))
        return err_set(e, ERR_INVALID, "%s: escapes the root (\"..\" segment)", path);
    if (root) {
        size_t rl = strlen(root);
        while (rl && root[rl - 1] == '/')
            rl--;
        if (rl && (strncmp(s, root, rl) != 0 || (s[rl] != '\0' && s[rl] != '/')))
            return err_set(e, ERR_INVALID, "%s: escapes the root", path);
    }
    *out = s;
    return 0;
}
