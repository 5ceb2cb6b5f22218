/*
 * cfg_value: checks a value against its key and stores it; the one typed setter that
 * every layer ends in (see cfg.c).
 *
 * Text (environment, command line) goes through cfg_set_text, JSON (the file) through
 * cfg_set_json, which checks the JSON type and hands strings to cfg_set_text, so bounds,
 * enum names and the string forms (URL, folder name, path, host:port list) are checked
 * once. A bad value is ERR_INVALID with "<where>: expected <what the key takes>, got
 * <the value, cut to 60 characters>". Storing a *_env or *_file secret source unsets its
 * sibling, so a later layer naming one source replaces the other.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "cfg_int.h"

#include "banned.h"

static void enum_list(const char *const *names, char *out, size_t outsz)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; names[i] && used < outsz; i++)
        used += (size_t)snprintf(out + used, outsz - used, "%s\"%s\"", i ? ", " : "", names[i]);
}

int cfg_set_string(char **slot, const char *v, struct err *e)
{
    char *copy = NULL;

    if (v) {
        copy = strdup(v);
        if (!copy)
            return err_set(e, ERR_NOMEM, "config: out of memory");
    }
    free(*slot);
    *slot = copy;
    return 0;
}

/* A short description of a JSON value for "got ..." */
void cfg_json_got(const cJSON *v, char *out, size_t outsz)
{
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t len = strlen(s);
        if (len > 60)
            snprintf(out, outsz, "\"%.57s...\"", s);
        else
            snprintf(out, outsz, "\"%s\"", s);
    } else if (cJSON_IsNumber(v)) {
        snprintf(out, outsz, "%.17g", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        snprintf(out, outsz, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNull(v)) {
        snprintf(out, outsz, "null");
    } else if (cJSON_IsArray(v)) {
        snprintf(out, outsz, "an array");
    } else {
        snprintf(out, outsz, "an object");
    }
}

static void text_got(const char *s, char *out, size_t outsz)
{
    if (strlen(s) > 60)
        snprintf(out, outsz, "\"%.57s...\"", s);
    else
        snprintf(out, outsz, "\"%s\"", s);
}

/* ---- value checks (shared by JSON and text) ---- */

int cfg_has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int check_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 255 || strchr(s, '/') || strchr(s, '\\') || cfg_has_ctl(s))
        return 0;
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    if (s[0] == ' ' || s[n - 1] == ' ' || s[n - 1] == '.')
        return 0;
    return 1;
}

static int check_path(const char *s)
{
    char seg[256];
    const char *p = s;

    if (*s == '\0')
        return 0;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len >= sizeof(seg))
            return 0;
        memcpy(seg, p, len);
        seg[len] = '\0';
        if (!check_name(seg))
            return 0;
        p += len;
        if (*p == '/')
            p++;
        if (slash && *p == '\0')
            return 0;
    }
    return 1;
}

static int check_port(const char *s)
{
    char *end = NULL;
    long v;

    if (!isdigit((unsigned char)*s))
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    return errno == 0 && *end == '\0' && v >= 1 && v <= 65535;
}

static int check_hostport(const char *s, size_t len)
{
    char tmp[300];
    const char *colon;

    if (len == 0 || len >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    {
        /* an optional "proto://" as librdkafka allows */
        char *sep = strstr(tmp, "://");
        const char *hp = sep ? sep + 3 : tmp;
        colon = strrchr(hp, ':');
        if (!colon || colon == hp)
            return 0;
        for (const char *c = hp; c < colon; c++)
            if (isspace((unsigned char)*c) || (unsigned char)*c < 0x20)
                return 0;
        return check_port(colon + 1);
    }
}

static int check_hosts(const char *s)
{
    const char *p = s;

    if (*s == '\0')
        return 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!check_hostport(p, len))
            return 0;
        if (!comma)
            return 1;
        p = comma + 1;
    }
}

static int check_url(const char *s, const char *schemes)
{
    const char *sep = strstr(s, "://");
    const char *p = schemes;
    size_t slen;

    if (!sep || cfg_has_ctl(s) || strchr(s, ' '))
        return 0;
    slen = (size_t)(sep - s);
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == slen && strncasecmp(s, p, len) == 0)
            return sep[3] != '\0' && sep[3] != '/' && sep[3] != ':';
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* What a key expects, for messages. */
void cfg_expected(const struct cfg_key *k, char *out, size_t outsz)
{
    char list[256];

    switch (k->type) {
    case KT_STR:
        snprintf(out, outsz, (k->flags & KF_EMPTY_OK) ? "a string" : "a non-empty string");
        break;
    case KT_URL:
        snprintf(out, outsz, "a URL starting with %s://",
                 strcmp(k->schemes, "http,https") == 0     ? "http:// or https"
                 : strcmp(k->schemes, "redis,rediss") == 0 ? "redis:// or rediss"
                                                           : k->schemes);
        break;
    case KT_NAME:
        snprintf(out, outsz,
                 "a folder name (not empty, no '/' or '\\', not \".\" or \"..\", no leading "
                 "space, no trailing space or dot)");
        break;
    case KT_PATH:
        snprintf(out, outsz, "folder names separated by '/' (no empty, \".\" or \"..\" part)");
        break;
    case KT_HOSTS:
        snprintf(out, outsz, "host:port[,host:port...]");
        break;
    case KT_LISTEN:
        snprintf(out, outsz, "\"\" (off) or host:port");
        break;
    case KT_INT:
        snprintf(out, outsz, "an integer in %ld..%ld", k->min, k->max);
        break;
    case KT_BOOL:
        snprintf(out, outsz, "true or false");
        break;
    case KT_ENUM:
        enum_list(k->names, list, sizeof(list));
        snprintf(out, outsz, "one of %s", list);
        break;
    case KT_SHARE:
        snprintf(out, outsz, "a number in 0..1");
        break;
    }
}

/* Check a string value for a string-typed key; 1 if fine. */
static int string_ok(const struct cfg_key *k, const char *s)
{
    switch (k->type) {
    case KT_STR:
        return (*s != '\0' || (k->flags & KF_EMPTY_OK)) && !cfg_has_ctl(s);
    case KT_URL:
        return check_url(s, k->schemes);
    case KT_NAME:
        return check_name(s);
    case KT_PATH:
        return check_path(s);
    case KT_HOSTS:
        return check_hosts(s);
    case KT_LISTEN:
        return *s == '\0' || check_hostport(s, strlen(s));
    default:
        return 0;
    }
}

int cfg_is_string_type(enum cfg_kt t)
{
    return t == KT_STR || t == KT_URL || t == KT_NAME || t == KT_PATH || t == KT_HOSTS ||
           t == KT_LISTEN;
}

/* ---- the typed setter ---- */

/* Store a checked string; handles KF_STRIP_SLASH and the secret siblings. */
static int store_string(void *base, const struct cfg_key *k, const char *s, struct err *e)
{
    char **slot = cfg_field_str(base, k);
    int rc = cfg_set_string(slot, s, e);

    if (rc < 0)
        return rc;
    if ((k->flags & KF_STRIP_SLASH) && *slot) {
        size_t n = strlen(*slot);
        while (n > 0 && (*slot)[n - 1] == '/' && !(n >= 3 && (*slot)[n - 2] == '/'))
            (*slot)[--n] = '\0';
    }
    if (k->flags & KF_SECRET_SRC) {
        /* a later layer naming one source replaces the other */
        char other[64];
        const char *dot = strrchr(k->name, '.');
        const struct cfg_key *ok;
        snprintf(other, sizeof(other), "%.*s.%s", (int)(dot - k->name), k->name, k->sibling);
        ok = cfg_find_key(cfg_keys, cfg_nkeys, other);
        if (ok)
            cfg_set_string(cfg_field_str(base, ok), NULL, e);
    }
    return 0;
}

/* Set key k of base from text; where names the source for messages. */
int cfg_set_text(void *base, const struct cfg_key *k, const char *v, const char *where,
                 struct err *e)
{
    char exp[512], got[128];
    char *end = NULL;

    text_got(v, got, sizeof(got));
    cfg_expected(k, exp, sizeof(exp));
    if (cfg_is_string_type(k->type)) {
        if (!string_ok(k, v))
            return err_set(e, ERR_INVALID, "%s: expected %s, got %s", where, exp, got);
        return store_string(base, k, v, e);
    }
    switch (k->type) {
    case KT_INT: {
        long x;
        errno = 0;
        x = strtol(v, &end, 10);
        if (errno || end == v || *end != '\0' || x < k->min || x > k->max)
            return err_set(e, ERR_INVALID, "%s: expected %s, got %s", where, exp, got);
        *(long *)(void *)((char *)base + k->off) = x;
        return 0;
    }
    case KT_BOOL: {
        int b;
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 ||
            strcmp(v, "on") == 0)
            b = 1;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0 ||
                 strcmp(v, "off") == 0)
            b = 0;
        else
            return err_set(e, ERR_INVALID, "%s: expected %s, got %s", where, exp, got);
        *(int *)(void *)((char *)base + k->off) = b;
        return 0;
    }
    case KT_ENUM:
        for (int i = 0; k->names[i]; i++) {
            if (strcmp(k->names[i], v) == 0) {
                *(int *)(void *)((char *)base + k->off) = i;
                return 0;
            }
        }
        return err_set(e, ERR_INVALID, "%s: expected %s, got %s", where, exp, got);
    case KT_SHARE: {
        double d;
        errno = 0;
        d = strtod(v, &end);
        if (errno || end == v || *end != '\0' || !(d >= 0 && d <= 1))
            return err_set(e, ERR_INVALID, "%s: expected %s, got %s", where, exp, got);
        *(double *)(void *)((char *)base + k->off) = d;
        return 0;
    }
    default:
        return err_set(e, ERR_INTERNAL, "%s: bad key type", where);
    }
}

/* Set key k of base from a JSON value. */
int cfg_set_json(void *base, const struct cfg_key *k, const cJSON *v, const char *where,
                 struct err *e)
{
    char exp[512], got[128];

    cfg_json_got(v, got, sizeof(got));
    cfg_expected(k, exp, sizeof(exp));
    if (cfg_is_string_type(k->type) || k->type == KT_ENUM) {
        if (!cJSON_IsString(v))
            return err_set(e, ERR_INVALID, "%s: expected %s, got %s", where, exp, got);
        return cfg_set_text(base, k, v->valuestring, where, e);
    }
    switch (k->type) {
    case KT_INT: {
        double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
        if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)k->min || d > (double)k->max)
            return err_set(e, ERR_INVALID, "%s: expected %s, got %s", where, exp, got);
        *(long *)(void *)((char *)base + k->off) = (long)d;
        return 0;
    }
    case KT_BOOL:
        if (!cJSON_IsBool(v))
            return err_set(e, ERR_INVALID, "%s: expected %s, got %s", where, exp, got);
        *(int *)(void *)((char *)base + k->off) = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    case KT_SHARE:
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1))
            return err_set(e, ERR_INVALID, "%s: expected %s, got %s", where, exp, got);
        *(double *)(void *)((char *)base + k->off) = v->valuedouble;
        return 0;
    default:
        return err_set(e, ERR_INTERNAL, "%s: bad key type", where);
    }
}
