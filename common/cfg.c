/*
 * cfg: see cfg.h. One table of keys (after redis's config.c) drives
 * everything: the JSON walker finds each member's key in it, the environment
 * layer derives ODOOSYNC_* names from it, cfg_set looks keys up in it, the
 * defaults come from it and cfg_dump / cfg_describe print it. Two parts of
 * the file are not scalar keys and have their own small code: the "types"
 * array (with its own table of per-type keys) and "kafka.properties" (free
 * librdkafka names, passed through).
 *
 * Values arrive either as JSON (the file) or as text (environment, command
 * line); both end in the same typed setter, so bounds and enum names are
 * checked once. Every message says where the value came from (the file name,
 * "environment: ODOOSYNC_X", or the key given to cfg_set), the JSON path or
 * key, what was expected and what was found.
 *
 * Comments in the file are blanked out (replaced by spaces, newlines kept)
 * before cJSON sees the text, so cJSON's error offset still maps to the
 * line and column of the original.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "domain.h"
#include "log.h"

#include "banned.h"

extern char **environ;

/* log.level and log.format hold log.h's enums, indexed by the name tables below */
_Static_assert(LOG_ERROR == 0 && LOG_WARN == 1 && LOG_INFO == 2 && LOG_DEBUG == 3,
               "level_names follows enum log_level");
_Static_assert(LOG_FMT_AUTO == 0 && LOG_FMT_JSON == 1 && LOG_FMT_HUMAN == 2,
               "format_names follows enum log_format");

#define CFG_MAX_FILE (4 * 1024 * 1024)
#define CFG_MAX_SECRET (64 * 1024)
#define CFG_MAX_TYPES 1000
#define CFG_MAX_PROPS 1000
#define PATH_MAX_LEN 256

/* ---- the table ---- */

enum kt {
    KT_STR,    /* any string (flags say whether empty is allowed) */
    KT_URL,    /* a URL with one of the schemes in key.schemes */
    KT_NAME,   /* a single folder name: no '/', not "." or "..", no control chars */
    KT_PATH,   /* folder names separated by '/' */
    KT_HOSTS,  /* "host:port[,host:port...]" */
    KT_LISTEN, /* "" or "host:port" */
    KT_INT,
    KT_BOOL,
    KT_ENUM,
    KT_SHARE /* a number in 0..1 */
};

#define KF_EMPTY_OK 0x1    /* "" is a valid value */
#define KF_STRIP_SLASH 0x2 /* trailing '/' removed */
#define KF_SECRET_SRC 0x4  /* a *_env / *_file secret source; `sibling` is the other */

struct key {
    const char *name; /* dotted path, e.g. "odoo.url" */
    enum kt type;
    size_t off; /* offset of the field in struct cfg (or struct cfg_type) */
    long min, max;
    const char *def;          /* default as text; NULL: unset */
    const char *const *names; /* KT_ENUM: index = value */
    const char *schemes;      /* KT_URL: "http,https" */
    unsigned flags;
    const char *sibling; /* KF_SECRET_SRC: the other source's member name */
    const char *help;
};

static const char *const protocol_names[] = {"auto", "jsonrpc", "json2", NULL};
static const char *const dialect_names[] = {"auto", "generic", "nextcloud", "owncloud", NULL};
static const char *const direction_names[] = {"both", "to-cloud", "from-cloud", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const format_names[] = {"auto", "json", "human", NULL};
static const char *const unmatched_names[] = {"archive", "keep", NULL};

#define OFF(f) offsetof(struct cfg, f)
#define TOFF(f) offsetof(struct cfg_type, f)
#define MS_MAX 3600000L

/* clang-format off */
static const struct key keys[] = {
    {"odoo.url", KT_URL, OFF(odoo.url), 0, 0, NULL, NULL, "http,https", KF_STRIP_SLASH, NULL,
     "Odoo base URL"},
    {"odoo.database", KT_STR, OFF(odoo.database), 0, 0, NULL, NULL, NULL, 0, NULL,
     "Odoo database name"},
    {"odoo.protocol", KT_ENUM, OFF(odoo.protocol), 0, 0, "auto", protocol_names, NULL, 0, NULL,
     "API: auto (JSON-2 when an API key is set and Odoo >= 19, else JSON-RPC), jsonrpc, json2"},
    {"odoo.login", KT_STR, OFF(odoo.login), 0, 0, NULL, NULL, NULL, 0, NULL,
     "Odoo user login"},
    {"odoo.password_env", KT_STR, OFF(odoo.password_env), 0, 0, NULL, NULL, NULL,
     KF_SECRET_SRC, "password_file", "environment variable holding the Odoo password"},
    {"odoo.password_file", KT_STR, OFF(odoo.password_file), 0, 0, NULL, NULL, NULL,
     KF_SECRET_SRC, "password_env", "file holding the Odoo password"},
    {"odoo.api_key_env", KT_STR, OFF(odoo.api_key_env), 0, 0, NULL, NULL, NULL,
     KF_SECRET_SRC, "api_key_file", "environment variable holding the Odoo API key"},
    {"odoo.api_key_file", KT_STR, OFF(odoo.api_key_file), 0, 0, NULL, NULL, NULL,
     KF_SECRET_SRC, "api_key_env", "file holding the Odoo API key"},
    {"odoo.timeout_ms", KT_INT, OFF(odoo.timeout_ms), 100, MS_MAX, "30000", NULL, NULL, 0, NULL,
     "per-request timeout"},
    {"odoo.insecure", KT_BOOL, OFF(odoo.insecure), 0, 0, "false", NULL, NULL, 0, NULL,
     "do not verify TLS certificates"},
    {"odoo.watermark_overlap_s", KT_INT, OFF(odoo.watermark_overlap_s), 1, 86400, "600", NULL,
     NULL, 0, NULL,
     "seconds before the last pass' watermark that a pass reads again: longer than Odoo's "
     "longest writing transaction (write_date is the transaction's start)"},

    {"cloud.url", KT_URL, OFF(cloud.url), 0, 0, NULL, NULL, "http,https", 0, NULL,
     "WebDAV base URL"},
    {"cloud.user", KT_STR, OFF(cloud.user), 0, 0, NULL, NULL, NULL, 0, NULL,
     "WebDAV user"},
    {"cloud.password_env", KT_STR, OFF(cloud.password_env), 0, 0, NULL, NULL, NULL,
     KF_SECRET_SRC, "password_file", "environment variable holding the WebDAV password"},
    {"cloud.password_file", KT_STR, OFF(cloud.password_file), 0, 0, NULL, NULL, NULL,
     KF_SECRET_SRC, "password_env", "file holding the WebDAV password"},
    {"cloud.root", KT_PATH, OFF(cloud.root), 0, 0, "Odoo", NULL, NULL, 0, NULL,
     "top folder of the synced tree, under cloud.url"},
    {"cloud.dialect", KT_ENUM, OFF(cloud.dialect), 0, 0, "auto", dialect_names, NULL, 0, NULL,
     "server dialect: auto (detected), generic, nextcloud, owncloud"},
    {"cloud.timeout_ms", KT_INT, OFF(cloud.timeout_ms), 100, MS_MAX, "30000", NULL, NULL, 0,
     NULL, "per-request timeout"},
    {"cloud.insecure", KT_BOOL, OFF(cloud.insecure), 0, 0, "false", NULL, NULL, 0, NULL,
     "do not verify TLS certificates"},

    {"standalone.enabled", KT_BOOL, OFF(standalone.enabled), 0, 0, "true", NULL, NULL, 0, NULL,
     "sync attachments that belong to no record"},
    {"standalone.folder", KT_NAME, OFF(standalone.folder), 0, 0, "Stand Alone Attachments",
     NULL, NULL, 0, NULL, "their folder under the root"},

    {"unmatched.policy", KT_ENUM, OFF(unmatched.policy), 0, 0, "archive", unmatched_names, NULL,
     0, NULL,
     "a record that still exists but matches no type: archive (its folder moves to "
     "unmatched.folder) or keep (its folder stays where it is, untouched)"},
    {"unmatched.folder", KT_NAME, OFF(unmatched.folder), 0, 0, "Archive", NULL, NULL, 0, NULL,
     "the archive folder under the root"},

    {"safety.max_delete_share", KT_SHARE, OFF(safety.max_delete_share), 0, 1, "0.5", NULL,
     NULL, 0, NULL, "a pass deleting more than this share of what it manages stops"},

    {"kafka.bootstrap", KT_HOSTS, OFF(kafka.bootstrap), 0, 0, NULL, NULL, NULL, 0, NULL,
     "bootstrap.servers: host:port[,host:port]"},
    {"kafka.topics.jobs", KT_STR, OFF(kafka.topic_jobs), 0, 0, "odoosync.jobs", NULL, NULL, 0,
     NULL, "topic of the jobs"},
    {"kafka.topics.retry", KT_STR, OFF(kafka.topic_retry), 0, 0, "odoosync.retry", NULL, NULL,
     0, NULL, "topic of delayed retries"},
    {"kafka.topics.dlq", KT_STR, OFF(kafka.topic_dlq), 0, 0, "odoosync.dlq", NULL, NULL, 0,
     NULL, "dead-letter topic"},
    {"kafka.topics.events", KT_STR, OFF(kafka.topic_events), 0, 0, "odoosync.events", NULL,
     NULL, 0, NULL, "topic of the sync log"},
    {"kafka.group", KT_STR, OFF(kafka.group), 0, 0, "odoosync-workers", NULL, NULL, 0, NULL,
     "consumer group of the workers"},
    {"kafka.password_env", KT_STR, OFF(kafka.password_env), 0, 0, NULL, NULL, NULL,
     KF_SECRET_SRC, "password_file", "environment variable holding sasl.password"},
    {"kafka.password_file", KT_STR, OFF(kafka.password_file), 0, 0, NULL, NULL, NULL,
     KF_SECRET_SRC, "password_env", "file holding sasl.password"},

    {"redis.url", KT_URL, OFF(redis.url), 0, 0, NULL, NULL, "redis,rediss", 0, NULL,
     "redis://host:port[/db]"},
    {"redis.password_env", KT_STR, OFF(redis.password_env), 0, 0, NULL, NULL, NULL,
     KF_SECRET_SRC, "password_file", "environment variable holding the Redis password"},
    {"redis.password_file", KT_STR, OFF(redis.password_file), 0, 0, NULL, NULL, NULL,
     KF_SECRET_SRC, "password_env", "file holding the Redis password"},
    {"redis.lock_ttl_ms", KT_INT, OFF(redis.lock_ttl_ms), 1000, MS_MAX, "30000", NULL, NULL, 0,
     NULL, "lifetime of a document lock (renewed while held)"},

    {"worker.concurrency", KT_INT, OFF(worker.concurrency), 1, 256, "8", NULL, NULL, 0, NULL,
     "jobs applied at once per process"},
    {"worker.max_attempts", KT_INT, OFF(worker.max_attempts), 1, 100, "5", NULL, NULL, 0, NULL,
     "attempts before a job goes to the dead-letter topic"},
    {"worker.backoff_ms", KT_INT, OFF(worker.backoff_ms), 0, MS_MAX, "1000", NULL, NULL, 0,
     NULL, "first retry delay (doubles each attempt)"},
    {"worker.grace_ms", KT_INT, OFF(worker.grace_ms), 0, MS_MAX, "30000", NULL, NULL, 0, NULL,
     "time given to running jobs at shutdown"},

    {"state.file", KT_STR, OFF(state.file), 0, 0, ".odoosync-state.json", NULL, NULL, 0, NULL,
     "local mode state file (watermarks, ETags)"},

    {"log.level", KT_ENUM, OFF(log.level), 0, 0, "info", level_names, NULL, 0, NULL,
     "error, warn, info, debug"},
    {"log.format", KT_ENUM, OFF(log.format), 0, 0, "auto", format_names, NULL, 0, NULL,
     "auto (human on a terminal), json, human"},

    {"metrics.listen", KT_LISTEN, OFF(metrics.listen), 0, 0, "", NULL, NULL, KF_EMPTY_OK, NULL,
     "Prometheus endpoint address, \"\" = off"},

    {"sync_log.odoo", KT_BOOL, OFF(sync_log.odoo), 0, 0, "false", NULL, NULL, 0, NULL,
     "also write the sync log into Odoo's ir.logging (Settings > Technical > Logging)"},
    {"sync_log.odoo_batch", KT_INT, OFF(sync_log.odoo_batch), 1, 1000, "100", NULL, NULL, 0,
     NULL, "ir.logging records per create call"},
    {"sync_log.odoo_flush_ms", KT_INT, OFF(sync_log.odoo_flush_ms), 100, MS_MAX, "2000", NULL,
     NULL, 0, NULL, "longest wait before pending ir.logging records are written"},
    {"sync_log.odoo_max_pending", KT_INT, OFF(sync_log.odoo_max_pending), 10, 1000000, "10000",
     NULL, NULL, 0, NULL, "records held while Odoo refuses them; older ones are dropped past it"},
};

static const struct key type_keys[] = {
    {"folder", KT_NAME, TOFF(folder), 0, 0, NULL, NULL, NULL, 0, NULL,
     "folder name under the root (required, unique)"},
    {"model", KT_STR, TOFF(model), 0, 0, NULL, NULL, NULL, 0, NULL,
     "Odoo model, e.g. sale.order (required)"},
    {"domain", KT_STR, TOFF(domain), 0, 0, "[]", NULL, NULL, 0, NULL,
     "Odoo domain in Odoo's syntax"},
    {"direction", KT_ENUM, TOFF(direction), 0, 0, "both", direction_names, NULL, 0, NULL,
     "both, to-cloud, from-cloud"},
    {"enabled", KT_BOOL, TOFF(enabled), 0, 0, "true", NULL, NULL, 0, NULL,
     "false keeps the entry but does not sync it"},
};
/* clang-format on */

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
#define NTYPE_KEYS (sizeof(type_keys) / sizeof(type_keys[0]))

struct secret {
    const char *label; /* "odoo.password" */
    size_t off_env, off_file, off_val;
    const char *fallback; /* environment variable used when no source is named */
};

static const struct secret secrets[] = {
    {"odoo.password", OFF(odoo.password_env), OFF(odoo.password_file), OFF(odoo.password),
     "ODOOSYNC_ODOO_PASSWORD"},
    {"odoo.api_key", OFF(odoo.api_key_env), OFF(odoo.api_key_file), OFF(odoo.api_key),
     "ODOOSYNC_ODOO_API_KEY"},
    {"cloud.password", OFF(cloud.password_env), OFF(cloud.password_file), OFF(cloud.password),
     "ODOOSYNC_CLOUD_PASSWORD"},
    {"kafka.password", OFF(kafka.password_env), OFF(kafka.password_file), OFF(kafka.password),
     "ODOOSYNC_KAFKA_PASSWORD"},
    {"redis.password", OFF(redis.password_env), OFF(redis.password_file), OFF(redis.password),
     "ODOOSYNC_REDIS_PASSWORD"},
};

#define NSECRETS (sizeof(secrets) / sizeof(secrets[0]))

/* librdkafka properties that have a key of their own here */
static const struct {
    const char *prop;
    const char *use;
} reserved_props[] = {
    {"bootstrap.servers", "kafka.bootstrap"},
    {"metadata.broker.list", "kafka.bootstrap"},
    {"group.id", "kafka.group"},
    {"sasl.password", "kafka.password_env or kafka.password_file"},
};

/* ---- small helpers ---- */

static char **field_str(void *base, const struct key *k)
{
    return (char **)(void *)((char *)base + k->off);
}

static char *const *field_cstr(const void *base, const struct key *k)
{
    return (char *const *)(const void *)((const char *)base + k->off);
}

static const struct key *find_key(const struct key *tab, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].name, name) == 0)
            return &tab[i];
    return NULL;
}

/* Whether some key lies under "prefix." (i.e. prefix is a section). */
static int is_section(const char *prefix)
{
    size_t n = strlen(prefix);

    for (size_t i = 0; i < NKEYS; i++)
        if (strncmp(keys[i].name, prefix, n) == 0 && keys[i].name[n] == '.')
            return 1;
    return strcmp(prefix, "types") == 0 || strcmp(prefix, "kafka.properties") == 0;
}

/* The names directly under prefix ("" = top level), for "expected one of" lists. */
static void child_names(const char *prefix, char *out, size_t outsz)
{
    size_t n = strlen(prefix), used = 0;
    const char *seen[64];
    size_t nseen = 0;
    const char *extra_top[] = {"types", NULL};
    const char *extra_kafka[] = {"properties", NULL};

    out[0] = '\0';
    for (size_t i = 0; i < NKEYS + 1; i++) {
        const char *name, *child, *dot;
        size_t clen;
        char tmp[64];
        int dup = 0;

        if (i < NKEYS) {
            name = keys[i].name;
            if (n > 0 && (strncmp(name, prefix, n) != 0 || name[n] != '.'))
                continue;
            child = n > 0 ? name + n + 1 : name;
        } else {
            const char **extra = n == 0                         ? extra_top
                                 : strcmp(prefix, "kafka") == 0 ? extra_kafka
                                                                : NULL;
            if (!extra)
                break;
            child = extra[0];
        }
        dot = strchr(child, '.');
        clen = dot ? (size_t)(dot - child) : strlen(child);
        if (clen >= sizeof(tmp))
            continue;
        memcpy(tmp, child, clen);
        tmp[clen] = '\0';
        for (size_t j = 0; j < nseen; j++)
            if (strncmp(seen[j], child, clen) == 0 &&
                (seen[j][clen] == '\0' || seen[j][clen] == '.'))
                dup = 1;
        if (dup || nseen == sizeof(seen) / sizeof(seen[0]))
            continue;
        seen[nseen++] = child;
        used += (size_t)snprintf(out + used, used < outsz ? outsz - used : 0, "%s\"%s\"",
                                 used ? ", " : "", tmp);
        if (used >= outsz)
            break;
    }
}

static void type_child_names(char *out, size_t outsz)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < NTYPE_KEYS && used < outsz; i++)
        used += (size_t)snprintf(out + used, outsz - used, "%s\"%s\"", i ? ", " : "",
                                 type_keys[i].name);
}

static void enum_list(const char *const *names, char *out, size_t outsz)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; names[i] && used < outsz; i++)
        used += (size_t)snprintf(out + used, outsz - used, "%s\"%s\"", i ? ", " : "", names[i]);
}

static int set_string(char **slot, const char *v, struct err *e)
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

static void free_secret(char **slot)
{
    if (*slot) {
        explicit_bzero(*slot, strlen(*slot));
        free(*slot);
        *slot = NULL;
    }
}

/* A short description of a JSON value for "got ..." */
static void json_got(const cJSON *v, char *out, size_t outsz)
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

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int check_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 255 || strchr(s, '/') || strchr(s, '\\') || has_ctl(s))
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

    if (!sep || has_ctl(s) || strchr(s, ' '))
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
static void expected(const struct key *k, char *out, size_t outsz)
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
static int string_ok(const struct key *k, const char *s)
{
    switch (k->type) {
    case KT_STR:
        return (*s != '\0' || (k->flags & KF_EMPTY_OK)) && !has_ctl(s);
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

static int is_string_type(enum kt t)
{
    return t == KT_STR || t == KT_URL || t == KT_NAME || t == KT_PATH || t == KT_HOSTS ||
           t == KT_LISTEN;
}

/* Store a checked string; handles KF_STRIP_SLASH and the secret siblings. */
static int store_string(void *base, const struct key *k, const char *s, struct err *e)
{
    char **slot = field_str(base, k);
    int rc = set_string(slot, s, e);

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
        const struct key *ok;
        snprintf(other, sizeof(other), "%.*s.%s", (int)(dot - k->name), k->name, k->sibling);
        ok = find_key(keys, NKEYS, other);
        if (ok)
            set_string(field_str(base, ok), NULL, e);
    }
    return 0;
}

/* Set key k of base from text; where names the source for messages. */
static int set_text(void *base, const struct key *k, const char *v, const char *where,
                    struct err *e)
{
    char exp[512], got[128];
    char *end = NULL;

    text_got(v, got, sizeof(got));
    expected(k, exp, sizeof(exp));
    if (is_string_type(k->type)) {
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
static int set_json(void *base, const struct key *k, const cJSON *v, const char *where,
                    struct err *e)
{
    char exp[512], got[128];

    json_got(v, got, sizeof(got));
    expected(k, exp, sizeof(exp));
    if (is_string_type(k->type) || k->type == KT_ENUM) {
        if (!cJSON_IsString(v))
            return err_set(e, ERR_INVALID, "%s: expected %s, got %s", where, exp, got);
        return set_text(base, k, v->valuestring, where, e);
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

/* ---- types ---- */

static void type_release(struct cfg_type *t)
{
    free(t->folder);
    free(t->model);
    free(t->domain);
    cJSON_Delete(t->domain_json);
    memset(t, 0, sizeof(*t));
}

static void types_free(struct cfg *c)
{
    for (size_t i = 0; i < c->ntypes; i++)
        type_release(&c->types[i]);
    free(c->types);
    c->types = NULL;
    c->ntypes = 0;
}

static int type_defaults(struct cfg_type *t, struct err *e)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < NTYPE_KEYS; i++) {
        if (!type_keys[i].def)
            continue;
        if (set_text(t, &type_keys[i], type_keys[i].def, type_keys[i].name, e) < 0)
            return e ? e->code : ERR_INTERNAL;
    }
    return 0;
}

/* (Re)parse t->domain into t->domain_json. */
static int type_parse_domain(struct cfg_type *t, const char *where, struct err *e)
{
    struct err de = ERR_INIT;
    cJSON *dom = NULL;
    int rc = domain_parse(t->domain, &dom, &de);

    if (rc < 0) {
        const char *m = strncmp(de.msg, "domain: ", 8) == 0 ? de.msg + 8 : de.msg;
        return err_set(e, rc, "%s: %s", where, m);
    }
    cJSON_Delete(t->domain_json);
    t->domain_json = dom;
    return 0;
}

/* ---- cross-field checks, after each layer ---- */

static int finish(struct cfg *c, const char *src, struct err *e)
{
    for (size_t i = 0; i < c->ntypes; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(c->types[i].folder, c->types[j].folder) == 0)
                return err_set(e, ERR_INVALID,
                               "%s: $.types[%zu].folder: duplicate folder \"%s\" (already used "
                               "by $.types[%zu]; folder names must be unique, ignoring case)",
                               src, i, c->types[i].folder, j);
        }
        if (c->standalone.enabled && c->standalone.folder &&
            strcasecmp(c->types[i].folder, c->standalone.folder) == 0)
            return err_set(e, ERR_INVALID,
                           "%s: $.types[%zu].folder: \"%s\" is the folder of the stand-alone "
                           "attachments ($.standalone.folder)",
                           src, i, c->types[i].folder);
        if (c->unmatched.policy == CFG_UNMATCHED_ARCHIVE && c->unmatched.folder &&
            strcasecmp(c->types[i].folder, c->unmatched.folder) == 0)
            return err_set(e, ERR_INVALID,
                           "%s: $.types[%zu].folder: \"%s\" is the archive folder of records "
                           "that match no type ($.unmatched.folder)",
                           src, i, c->types[i].folder);
    }
    if (c->unmatched.policy == CFG_UNMATCHED_ARCHIVE && c->unmatched.folder &&
        c->standalone.enabled && c->standalone.folder &&
        strcasecmp(c->unmatched.folder, c->standalone.folder) == 0)
        return err_set(e, ERR_INVALID,
                       "%s: $.unmatched.folder: \"%s\" is the folder of the stand-alone "
                       "attachments ($.standalone.folder)",
                       src, c->unmatched.folder);
    return 0;
}

/* ---- the JSON walker ---- */

struct walk {
    struct cfg *c;
    const char *src; /* file name for messages */
    struct err *e;
};

static int dup_member(const cJSON *obj, const cJSON *m)
{
    for (const cJSON *o = obj->child; o && o != m; o = o->next)
        if (o->string && m->string && strcmp(o->string, m->string) == 0)
            return 1;
    return 0;
}

static int secret_inline(const char *dotted_parent, const char *member)
{
    char probe[128];

    if (strcmp(member, "password") != 0 && strcmp(member, "api_key") != 0)
        return 0;
    snprintf(probe, sizeof(probe), "%s%s%s_env", dotted_parent, *dotted_parent ? "." : "", member);
    return find_key(keys, NKEYS, probe) != NULL;
}

static int prop_check(const char *name, const char *where, struct err *e)
{
    if (*name == '\0' || has_ctl(name) || strchr(name, ' '))
        return err_set(e, ERR_INVALID, "%s: expected a librdkafka property name", where);
    for (size_t i = 0; i < sizeof(reserved_props) / sizeof(reserved_props[0]); i++)
        if (strcmp(name, reserved_props[i].prop) == 0)
            return err_set(e, ERR_INVALID, "%s: \"%s\" is set with %s", where, name,
                           reserved_props[i].use);
    if (strstr(name, "password") || strstr(name, "secret"))
        return err_set(e, ERR_INVALID,
                       "%s: secrets are not accepted inline; SASL's password comes from "
                       "kafka.password_env or kafka.password_file",
                       where);
    return 0;
}

static int prop_set(struct cfg *c, const char *name, const char *value, struct err *e)
{
    struct cfg_kv *grown;
    char *n = NULL, *v = NULL;

    for (size_t i = 0; i < c->kafka.nprops; i++) {
        if (strcmp(c->kafka.props[i].name, name) == 0)
            return set_string(&c->kafka.props[i].value, value, e);
    }
    if (c->kafka.nprops >= CFG_MAX_PROPS)
        return err_set(e, ERR_INVALID, "kafka.properties: more than %d properties", CFG_MAX_PROPS);
    n = strdup(name);
    v = strdup(value);
    grown = realloc(c->kafka.props, (c->kafka.nprops + 1) * sizeof(*grown));
    if (!n || !v || !grown) {
        free(n);
        free(v);
        if (grown)
            c->kafka.props = grown;
        return err_set(e, ERR_NOMEM, "config: out of memory");
    }
    c->kafka.props = grown;
    c->kafka.props[c->kafka.nprops].name = n;
    c->kafka.props[c->kafka.nprops].value = v;
    c->kafka.nprops++;
    return 0;
}

static int walk_props(struct walk *w, const cJSON *obj, const char *jpath)
{
    char where[PATH_MAX_LEN + 320], got[128];
    const cJSON *m;
    int rc;

    if (!cJSON_IsObject(obj)) {
        json_got(obj, got, sizeof(got));
        return err_set(w->e, ERR_INVALID,
                       "%s: %s: expected an object of librdkafka properties, got %s", w->src, jpath,
                       got);
    }
    cJSON_ArrayForEach(m, obj)
    {
        snprintf(where, sizeof(where), "%s: %s[\"%s\"]", w->src, jpath, m->string);
        if (dup_member(obj, m))
            return err_set(w->e, ERR_INVALID, "%s: duplicate key", where);
        rc = prop_check(m->string, where, w->e);
        if (rc < 0)
            return rc;
        if (!cJSON_IsString(m)) {
            json_got(m, got, sizeof(got));
            return err_set(w->e, ERR_INVALID,
                           "%s: expected a string (librdkafka takes every value as text), got %s",
                           where, got);
        }
        rc = prop_set(w->c, m->string, m->valuestring, w->e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int walk_type(struct walk *w, const cJSON *obj, struct cfg_type *t, size_t idx)
{
    char where[PATH_MAX_LEN + 320], got[128], names[256];
    const cJSON *m;
    int rc;

    if (!cJSON_IsObject(obj)) {
        json_got(obj, got, sizeof(got));
        return err_set(w->e, ERR_INVALID,
                       "%s: $.types[%zu]: expected an object with \"folder\", \"model\", ..., "
                       "got %s",
                       w->src, idx, got);
    }
    rc = type_defaults(t, w->e);
    if (rc < 0)
        return rc;
    cJSON_ArrayForEach(m, obj)
    {
        const struct key *k = find_key(type_keys, NTYPE_KEYS, m->string);
        snprintf(where, sizeof(where), "%s: $.types[%zu].%s", w->src, idx, m->string);
        if (dup_member(obj, m))
            return err_set(w->e, ERR_INVALID, "%s: duplicate key", where);
        if (!k) {
            type_child_names(names, sizeof(names));
            return err_set(w->e, ERR_INVALID, "%s: unknown key (expected one of %s)", where, names);
        }
        rc = set_json(t, k, m, where, w->e);
        if (rc < 0)
            return rc;
    }
    if (!t->folder)
        return err_set(w->e, ERR_INVALID, "%s: $.types[%zu].folder: required (the folder name)",
                       w->src, idx);
    if (!t->model)
        return err_set(w->e, ERR_INVALID,
                       "%s: $.types[%zu].model: required (an Odoo model, e.g. \"sale.order\")",
                       w->src, idx);
    for (const char *p = t->model; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '.'))
            return err_set(w->e, ERR_INVALID,
                           "%s: $.types[%zu].model: expected an Odoo model name (lower-case "
                           "letters, digits, '_' and '.'), got \"%s\"",
                           w->src, idx, t->model);
    snprintf(where, sizeof(where), "%s: $.types[%zu].domain", w->src, idx);
    return type_parse_domain(t, where, w->e);
}

static int walk_types(struct walk *w, const cJSON *arr)
{
    char got[128];
    struct cfg_type *ts = NULL;
    size_t n, i = 0;
    int rc = 0;

    if (!cJSON_IsArray(arr)) {
        json_got(arr, got, sizeof(got));
        return err_set(w->e, ERR_INVALID,
                       "%s: $.types: expected an array of document types, got %s", w->src, got);
    }
    n = (size_t)cJSON_GetArraySize(arr);
    if (n > CFG_MAX_TYPES)
        return err_set(w->e, ERR_INVALID, "%s: $.types: more than %d document types", w->src,
                       CFG_MAX_TYPES);
    if (n > 0) {
        ts = calloc(n, sizeof(*ts));
        if (!ts)
            return err_set(w->e, ERR_NOMEM, "config: out of memory");
    }
    for (const cJSON *t = arr->child; t; t = t->next, i++) {
        rc = walk_type(w, t, &ts[i], i);
        if (rc < 0)
            goto out;
    }
    types_free(w->c);
    w->c->types = ts;
    w->c->ntypes = n;
    ts = NULL;
out:
    if (ts) {
        for (size_t j = 0; j < n; j++)
            type_release(&ts[j]);
        free(ts);
    }
    return rc;
}

/* obj is at dotted path `dotted` ("" for the root) and JSON path `jpath`. */
static int walk_object(struct walk *w, const cJSON *obj, const char *dotted, const char *jpath)
{
    char full[PATH_MAX_LEN], jp[PATH_MAX_LEN], where[PATH_MAX_LEN + 64], got[128], names[512];
    const cJSON *m;
    int rc;

    if (!cJSON_IsObject(obj)) {
        json_got(obj, got, sizeof(got));
        return err_set(w->e, ERR_INVALID, "%s: %s: expected an object, got %s", w->src, jpath, got);
    }
    cJSON_ArrayForEach(m, obj)
    {
        const struct key *k = NULL;
        const char *name = m->string;

        if (strlen(name) > 64 || has_ctl(name))
            return err_set(w->e, ERR_INVALID, "%s: %s: unknown key", w->src, jpath);
        snprintf(full, sizeof(full), "%s%s%s", dotted, *dotted ? "." : "", name);
        snprintf(jp, sizeof(jp), "%s.%s", jpath, name);
        snprintf(where, sizeof(where), "%s: %s", w->src, jp);
        if (dup_member(obj, m))
            return err_set(w->e, ERR_INVALID, "%s: duplicate key", where);
        if (*dotted == '\0' && strcmp(name, "$schema") == 0) {
            if (!cJSON_IsString(m))
                return err_set(w->e, ERR_INVALID, "%s: expected a string (a schema URI)", where);
            continue;
        }
        if (strcmp(full, "types") != 0 && strcmp(full, "kafka.properties") != 0)
            k = find_key(keys, NKEYS, full);
        if (strcmp(full, "types") == 0) {
            rc = walk_types(w, m);
        } else if (strcmp(full, "kafka.properties") == 0) {
            rc = walk_props(w, m, jp);
        } else if (k) {
            if ((k->flags & KF_SECRET_SRC) && cJSON_GetObjectItemCaseSensitive(obj, k->sibling))
                return err_set(w->e, ERR_INVALID, "%s: set only one of \"%s\" and \"%s\"", where,
                               name, k->sibling);
            rc = set_json(w->c, k, m, where, w->e);
        } else if (is_section(full)) {
            rc = walk_object(w, m, full, jp);
        } else if (secret_inline(dotted, name)) {
            return err_set(w->e, ERR_INVALID,
                           "%s: secrets are not accepted inline; name their source with "
                           "\"%s_env\" (an environment variable) or \"%s_file\" (a file)",
                           where, name, name);
        } else {
            child_names(dotted, names, sizeof(names));
            return err_set(w->e, ERR_INVALID, "%s: unknown key (expected one of %s)", where, names);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- comments ---- */

/* Blank out // and block comments outside strings, in place; keep newlines. */
static int strip_comments(char *s, size_t len, const char *name, struct err *e)
{
    size_t i = 0, line = 1, start_line = 0;

    while (i < len) {
        char ch = s[i];
        if (ch == '\n') {
            line++;
            i++;
        } else if (ch == '"') {
            i++;
            while (i < len && s[i] != '"' && s[i] != '\n') {
                if (s[i] == '\\' && i + 1 < len && s[i + 1] != '\n')
                    i++;
                i++;
            }
            if (i < len && s[i] == '"')
                i++;
        } else if (ch == '/' && i + 1 < len && s[i + 1] == '/') {
            while (i < len && s[i] != '\n')
                s[i++] = ' ';
        } else if (ch == '/' && i + 1 < len && s[i + 1] == '*') {
            start_line = line;
            s[i] = s[i + 1] = ' ';
            i += 2;
            for (;;) {
                if (i >= len)
                    return err_set(e, ERR_INVALID, "%s:%zu: unterminated /* comment", name,
                                   start_line);
                if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
                    s[i] = s[i + 1] = ' ';
                    i += 2;
                    break;
                }
                if (s[i] == '\n')
                    line++;
                else
                    s[i] = ' ';
                i++;
            }
        } else {
            i++;
        }
    }
    return 0;
}

/* ---- public ---- */

int cfg_init(struct cfg *c, struct err *e)
{
    int rc;

    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NKEYS; i++) {
        if (!keys[i].def)
            continue;
        rc = set_text(c, &keys[i], keys[i].def, keys[i].name, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void cfg_release(struct cfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        if (is_string_type(keys[i].type)) {
            char **slot = field_str(c, &keys[i]);
            free(*slot);
            *slot = NULL;
        }
    }
    for (size_t i = 0; i < NSECRETS; i++)
        free_secret((char **)(void *)((char *)c + secrets[i].off_val));
    types_free(c);
    for (size_t i = 0; i < c->kafka.nprops; i++) {
        free(c->kafka.props[i].name);
        free(c->kafka.props[i].value);
    }
    free(c->kafka.props);
    memset(c, 0, sizeof(*c));
}

int cfg_load_string(struct cfg *c, const char *json, const char *name, struct err *e)
{
    struct walk w = {c, name ? name : "config", e};
    char *text = NULL;
    const char *end = NULL;
    cJSON *root = NULL;
    size_t len;
    int rc;

    if (!json)
        return err_set(e, ERR_INVALID, "%s: no content", w.src);
    len = strlen(json);
    if (len > CFG_MAX_FILE)
        return err_set(e, ERR_TOO_BIG, "%s: larger than %d bytes", w.src, CFG_MAX_FILE);
    text = malloc(len + 1);
    if (!text)
        return err_set(e, ERR_NOMEM, "config: out of memory");
    memcpy(text, json, len + 1);
    rc = strip_comments(text, len, w.src, e);
    if (rc < 0)
        goto out;
    root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!root) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0, line = 1, col = 1;
        if (off > len)
            off = len;
        for (size_t i = 0; i < off; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        {
            /* cJSON's position is approximate: show the line around it */
            size_t ls = off, le = off, from;
            char near[48];
            while (ls > 0 && text[ls - 1] != '\n')
                ls--;
            while (le < len && text[le] != '\n')
                le++;
            from = off > ls + 20 ? off - 20 : ls;
            while (from < le && (text[from] == ' ' || text[from] == '\t'))
                from++;
            snprintf(near, sizeof(near), "%.*s", (int)(le - from < 40 ? le - from : 40),
                     text + from);
            rc = err_set(e, ERR_INVALID,
                         "%s:%zu:%zu: invalid JSON near \"%s\" (a missing or extra ',', an "
                         "unquoted key, an unclosed string or bracket?)",
                         w.src, line, col, near);
        }
        goto out;
    }
    rc = walk_object(&w, root, "", "$");
    if (rc < 0)
        goto out;
    rc = finish(c, w.src, e);
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

static int read_file(const char *path, size_t max, char **out, size_t *outlen, struct err *e)
{
    FILE *f = NULL;
    char *data = NULL;
    size_t n = 0, cap = 4096;
    int rc = 0;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f)
        return err_set(e, ERR_IO, "cannot open \"%s\": %s", path, strerror(errno));
    data = malloc(cap);
    if (!data) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        size_t got;
        if (n + 1 >= cap) {
            char *grown;
            if (cap > max) {
                rc = err_set(e, ERR_TOO_BIG, "\"%s\" is larger than %zu bytes", path, max);
                goto out;
            }
            grown = realloc(data, cap * 2);
            if (!grown) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto out;
            }
            data = grown;
            cap *= 2;
        }
        got = fread(data + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = err_set(e, ERR_IO, "cannot read \"%s\": %s", path, strerror(errno));
                goto out;
            }
            break;
        }
    }
    if (n > max) {
        rc = err_set(e, ERR_TOO_BIG, "\"%s\" is larger than %zu bytes", path, max);
        goto out;
    }
    data[n] = '\0';
    if (memchr(data, '\0', n)) {
        rc = err_set(e, ERR_INVALID, "\"%s\" holds a NUL byte", path);
        goto out;
    }
    *out = data;
    *outlen = n;
    data = NULL;
out:
    if (data) {
        explicit_bzero(data, cap);
        free(data);
    }
    if (f)
        fclose(f);
    return rc;
}

int cfg_load(struct cfg *c, const char *path, struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(path, CFG_MAX_FILE, &text, &len, e);

    if (rc < 0)
        return rc;
    rc = cfg_load_string(c, text, path, e);
    free(text);
    return rc;
}

static void env_name(const char *dotted, char *out, size_t outsz)
{
    size_t n = (size_t)snprintf(out, outsz, "ODOOSYNC_");

    for (const char *p = dotted; *p && n + 1 < outsz; p++)
        out[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    out[n < outsz ? n : outsz - 1] = '\0';
}

static const char *env_lookup(char **env, const char *name)
{
    size_t n = strlen(name);

    if (!env)
        return NULL;
    for (char **p = env; *p; p++)
        if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
            return *p + n + 1;
    return NULL;
}

int cfg_apply_env(struct cfg *c, char **env, struct err *e)
{
    char name[128], where[192];
    int rc;

    c->environ = env;
    if (!env)
        env = environ;
    for (size_t i = 0; i < NKEYS; i++) {
        const char *v;
        env_name(keys[i].name, name, sizeof(name));
        v = env_lookup(env, name);
        if (!v)
            continue;
        snprintf(where, sizeof(where), "environment: %s", name);
        rc = set_text(c, &keys[i], v, where, e);
        if (rc < 0)
            return rc;
    }
    return finish(c, "environment", e);
}

int cfg_set(struct cfg *c, const char *key, const char *value, struct err *e)
{
    const struct key *k;
    char where[320];
    int rc;

    if (!key || !value)
        return err_set(e, ERR_INVALID, "config: a key and a value are needed");
    snprintf(where, sizeof(where), "%s", key);
    if (strncmp(key, "kafka.properties.", 17) == 0) {
        rc = prop_check(key + 17, where, e);
        if (rc < 0)
            return rc;
        return prop_set(c, key + 17, value, e);
    }
    if (strncmp(key, "types[", 6) == 0) {
        char *end = NULL;
        long idx;
        const struct key *tk;
        struct cfg_type *t;

        errno = 0;
        idx = strtol(key + 6, &end, 10);
        if (errno || end == key + 6 || idx < 0 || end[0] != ']' || end[1] != '.')
            return err_set(e, ERR_INVALID, "%s: expected types[N].field", key);
        if ((size_t)idx >= c->ntypes)
            return err_set(e, ERR_INVALID, "%s: there are %zu document types", key, c->ntypes);
        tk = find_key(type_keys, NTYPE_KEYS, end + 2);
        if (!tk)
            return err_set(e, ERR_INVALID, "%s: unknown key", key);
        t = &c->types[idx];
        rc = set_text(t, tk, value, where, e);
        if (rc < 0)
            return rc;
        if (tk->off == offsetof(struct cfg_type, domain)) {
            rc = type_parse_domain(t, where, e);
            if (rc < 0)
                return rc;
        }
        return finish(c, "command line", e);
    }
    k = find_key(keys, NKEYS, key);
    if (!k) {
        const char *dot = strrchr(key, '.');
        char parent[128];
        if (dot && (size_t)(dot - key) < sizeof(parent)) {
            snprintf(parent, sizeof(parent), "%.*s", (int)(dot - key), key);
            if (secret_inline(parent, dot + 1))
                return err_set(e, ERR_INVALID,
                               "%s: secrets are not accepted on the command line; use %s_env or "
                               "%s_file",
                               key, key, key);
        }
        return err_set(e, ERR_INVALID, "%s: unknown key", key);
    }
    rc = set_text(c, k, value, where, e);
    if (rc < 0)
        return rc;
    return finish(c, "command line", e);
}

static int read_secret_file(const char *label, const char *path, char **out, struct err *e)
{
    struct err fe = ERR_INIT;
    char *data = NULL;
    size_t len = 0;
    int rc = read_file(path, CFG_MAX_SECRET, &data, &len, &fe);

    if (rc < 0)
        return err_set(e, ERR_INVALID, "%s_file: %s", label, fe.msg);
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    if (len == 0) {
        free(data);
        return err_set(e, ERR_INVALID, "%s_file: \"%s\" is empty", label, path);
    }
    *out = data;
    return 0;
}

int cfg_resolve_secrets(struct cfg *c, struct err *e)
{
    char **env = c->environ ? c->environ : environ;

    for (size_t i = 0; i < NSECRETS; i++) {
        const struct secret *s = &secrets[i];
        const char *src_env = *(char **)(void *)((char *)c + s->off_env);
        const char *src_file = *(char **)(void *)((char *)c + s->off_file);
        char **val = (char **)(void *)((char *)c + s->off_val);
        const char *v;
        int rc;

        free_secret(val);
        if (src_file) {
            rc = read_secret_file(s->label, src_file, val, e);
            if (rc < 0)
                return rc;
            continue;
        }
        if (src_env) {
            v = env_lookup(env, src_env);
            if (!v)
                return err_set(e, ERR_INVALID, "%s_env: the environment variable \"%s\" is not set",
                               s->label, src_env);
            if (*v == '\0')
                return err_set(e, ERR_INVALID, "%s_env: the environment variable \"%s\" is empty",
                               s->label, src_env);
        } else {
            v = env_lookup(env, s->fallback);
            if (!v || *v == '\0')
                continue;
        }
        *val = strdup(v);
        if (!*val)
            return err_set(e, ERR_NOMEM, "config: out of memory");
    }
    return 0;
}

int cfg_require(const struct cfg *c, unsigned need, struct err *e)
{
    if (need & CFG_NEED_ODOO) {
        if (!c->odoo.url)
            return err_set(e, ERR_INVALID,
                           "odoo.url is not set (in the file or ODOOSYNC_ODOO_URL)");
        if (!c->odoo.database)
            return err_set(e, ERR_INVALID,
                           "odoo.database is not set (in the file or ODOOSYNC_ODOO_DATABASE)");
        if (c->odoo.protocol == CFG_PROTO_JSON2 && !c->odoo.api_key)
            return err_set(e, ERR_INVALID,
                           "odoo.protocol \"json2\" needs an API key (odoo.api_key_env or "
                           "odoo.api_key_file)");
        if (c->odoo.protocol == CFG_PROTO_JSONRPC && !c->odoo.login)
            return err_set(e, ERR_INVALID, "odoo.protocol \"jsonrpc\" needs odoo.login");
        if (!c->odoo.api_key && !c->odoo.password)
            return err_set(e, ERR_INVALID,
                           "no Odoo credential: set odoo.api_key_env / odoo.api_key_file or "
                           "odoo.password_env / odoo.password_file");
        if (!c->odoo.api_key && !c->odoo.login)
            return err_set(e, ERR_INVALID, "odoo.login is needed to log in with a password");
    }
    if (need & CFG_NEED_CLOUD) {
        if (!c->cloud.url)
            return err_set(e, ERR_INVALID,
                           "cloud.url is not set (in the file or ODOOSYNC_CLOUD_URL)");
        if (c->cloud.user && !c->cloud.password)
            return err_set(e, ERR_INVALID,
                           "cloud.user is set but no password: set cloud.password_env or "
                           "cloud.password_file");
    }
    if ((need & CFG_NEED_KAFKA) && !c->kafka.bootstrap)
        return err_set(e, ERR_INVALID,
                       "kafka.bootstrap is not set (in the file or ODOOSYNC_KAFKA_BOOTSTRAP)");
    if ((need & CFG_NEED_REDIS) && !c->redis.url)
        return err_set(e, ERR_INVALID, "redis.url is not set (in the file or ODOOSYNC_REDIS_URL)");
    if (need & CFG_NEED_TYPES) {
        size_t n = 0;
        for (size_t i = 0; i < c->ntypes; i++)
            n += c->types[i].enabled ? 1 : 0;
        if (n == 0)
            return err_set(e, ERR_INVALID, "no enabled document type in $.types");
    }
    return 0;
}

static int dump_quoted(struct buf *out, const char *s)
{
    int rc = buf_puts(out, "\"");

    for (; rc == 0 && *s; s++) {
        if (*s == '"' || *s == '\\')
            rc = buf_printf(out, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            rc = buf_printf(out, "\\u%04x", (unsigned char)*s);
        else
            rc = buf_append(out, s, 1);
    }
    return rc ? rc : buf_puts(out, "\"");
}

static int dump_key(struct buf *out, const char *prefix, const struct key *k, const void *base)
{
    const void *f = (const char *)base + k->off;
    int rc = buf_printf(out, "%s%s = ", prefix, k->name);

    if (rc < 0)
        return rc;
    if (is_string_type(k->type)) {
        const char *s = *field_cstr(base, k);
        rc = s ? dump_quoted(out, s) : buf_puts(out, "(unset)");
    } else if (k->type == KT_INT) {
        rc = buf_printf(out, "%ld", *(const long *)f);
    } else if (k->type == KT_BOOL) {
        rc = buf_puts(out, *(const int *)f ? "true" : "false");
    } else if (k->type == KT_ENUM) {
        rc = dump_quoted(out, k->names[*(const int *)f]);
    } else {
        rc = buf_printf(out, "%g", *(const double *)f);
    }
    return rc ? rc : buf_puts(out, "\n");
}

int cfg_dump(const struct cfg *c, struct buf *out)
{
    int rc = 0;

    for (size_t i = 0; i < NKEYS && rc == 0; i++)
        rc = dump_key(out, "", &keys[i], c);
    for (size_t i = 0; i < NSECRETS && rc == 0; i++) {
        const char *v = *(char *const *)(const void *)((const char *)c + secrets[i].off_val);
        rc = buf_printf(out, "%s = %s\n", secrets[i].label, v ? "(set)" : "(unset)");
    }
    for (size_t i = 0; i < c->kafka.nprops && rc == 0; i++) {
        rc = buf_printf(out, "kafka.properties.%s = ", c->kafka.props[i].name);
        if (rc == 0)
            rc = dump_quoted(out, c->kafka.props[i].value);
        if (rc == 0)
            rc = buf_puts(out, "\n");
    }
    for (size_t i = 0; i < c->ntypes && rc == 0; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "types[%zu].", i);
        for (size_t j = 0; j < NTYPE_KEYS && rc == 0; j++)
            rc = dump_key(out, prefix, &type_keys[j], &c->types[i]);
    }
    return rc;
}

int cfg_describe(struct buf *out)
{
    char exp[512], env[128];
    int rc = 0;

    for (size_t i = 0; i < NKEYS && rc == 0; i++) {
        const struct key *k = &keys[i];
        expected(k, exp, sizeof(exp));
        env_name(k->name, env, sizeof(env));
        rc = buf_printf(out, "%-26s %s; default %s%s%s; env %s\n    %s\n", k->name, exp,
                        k->def ? "\"" : "", k->def ? k->def : "unset", k->def ? "\"" : "", env,
                        k->help);
    }
    for (size_t i = 0; i < NTYPE_KEYS && rc == 0; i++) {
        const struct key *k = &type_keys[i];
        expected(k, exp, sizeof(exp));
        rc = buf_printf(out, "types[].%-18s %s; default %s%s%s\n    %s\n", k->name, exp,
                        k->def ? "\"" : "", k->def ? k->def : "unset", k->def ? "\"" : "", k->help);
    }
    if (rc == 0)
        rc = buf_printf(out, "%-26s %s\n", "kafka.properties.<name>",
                        "any librdkafka property, passed through as text");
    for (size_t i = 0; i < NSECRETS && rc == 0; i++)
        rc = buf_printf(out, "%-26s from %s_env / %s_file, else $%s if set\n", secrets[i].label,
                        secrets[i].label, secrets[i].label, secrets[i].fallback);
    return rc;
}

const char *cfg_direction_name(enum cfg_direction d)
{
    return (unsigned)d < 3 ? direction_names[d] : "?";
}

const char *cfg_protocol_name(enum cfg_protocol p)
{
    return (unsigned)p < 3 ? protocol_names[p] : "?";
}

const char *cfg_dialect_name(enum cfg_dialect d)
{
    return (unsigned)d < 4 ? dialect_names[d] : "?";
}

const struct cfg_type *cfg_type_by_folder(const struct cfg *c, const char *folder)
{
    for (size_t i = 0; i < c->ntypes; i++)
        if (c->types[i].enabled && strcmp(c->types[i].folder, folder) == 0)
            return &c->types[i];
    return NULL;
}
