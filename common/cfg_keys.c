/*
 * cfg_keys: the tables of keys (after redis's config.c) and what is derived from them.
 *
 * Each key has a dotted name, a type, bounds, a default (as text), its offset in struct
 * cfg, flags and a line of help; cfg_type_keys describes the members of one $.types[]
 * entry the same way, and cfg_secrets the secrets whose sources (*_env / *_file) are keys.
 * A key is added here only: the layers in cfg.c find it by name, the environment name
 * (ODOOSYNC_<SECTION>_<KEY>) is derived from it, and cfg_dump / cfg_describe print it.
 * Enum keys hold an index into their name table (log.level and log.format index
 * log.h's enums, which the asserts below pin).
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "cfg_int.h"
#include "log.h"

#include "banned.h"

/* log.level and log.format hold log.h's enums, indexed by the name tables below */
_Static_assert(LOG_ERROR == 0 && LOG_WARN == 1 && LOG_INFO == 2 && LOG_DEBUG == 3,
               "level_names follows enum log_level");
_Static_assert(LOG_FMT_AUTO == 0 && LOG_FMT_JSON == 1 && LOG_FMT_HUMAN == 2,
               "format_names follows enum log_format");

/* ---- the table ---- */

static const char *const protocol_names[] = {"auto", "jsonrpc", "json2", NULL};
static const char *const dialect_names[] = {"auto", "generic", "nextcloud", "owncloud", NULL};
static const char *const direction_names[] = {"both", "to-cloud", "from-cloud", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const format_names[] = {"auto", "json", "human", NULL};
static const char *const unmatched_names[] = {"archive", "keep", NULL};
static const char *const link_form_names[] = {"auto", "web", "dav", NULL};

#define OFF(f) offsetof(struct cfg, f)
#define TOFF(f) offsetof(struct cfg_type, f)
#define MS_MAX 3600000L

/* clang-format off */
const struct cfg_key cfg_keys[] = {
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
    {"odoo.ca_file", KT_STR, OFF(odoo.ca_file), 0, 0, NULL, NULL, NULL, 0, NULL,
     "PEM file of the CA certificates to trust for Odoo, instead of the system's"},
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
    {"cloud.link_form", KT_ENUM, OFF(cloud.link_form), 0, 0, "auto", link_form_names, NULL, 0,
     NULL,
     "the url of a url attachment: auto (the server's web link <root>/index.php/f/<file id> "
     "where files have ids, else the WebDAV address), web (the same, and a pass says when a "
     "file has no id), dav (the WebDAV address)"},
    {"cloud.timeout_ms", KT_INT, OFF(cloud.timeout_ms), 100, MS_MAX, "30000", NULL, NULL, 0,
     NULL, "per-request timeout"},
    {"cloud.insecure", KT_BOOL, OFF(cloud.insecure), 0, 0, "false", NULL, NULL, 0, NULL,
     "do not verify TLS certificates"},
    {"cloud.ca_file", KT_STR, OFF(cloud.ca_file), 0, 0, NULL, NULL, NULL, 0, NULL,
     "PEM file of the CA certificates to trust for the cloud, instead of the system's"},

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

    {"documents.enabled", KT_BOOL, OFF(documents.enabled), 0, 0, "false", NULL, NULL, 0, NULL,
     "sync Odoo's Documents app (folders and files, both ways) per documents.mappings"},
    {"documents.folder", KT_PATH, OFF(documents.folder), 0, 0, "Documents", NULL, NULL, 0, NULL,
     "the cloud folder under the root of the mappings that name none"},

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
    {"log.progress_s", KT_INT, OFF(log.progress_s), 0, 3600, "10", NULL, NULL, 0, NULL,
     "while run applies a pass' jobs: an info line (done/total, rate, ETA) every so many "
     "seconds; on a terminal a line updated in place instead; 0: neither"},

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

const struct cfg_key cfg_type_keys[] = {
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

const size_t cfg_nkeys = sizeof(cfg_keys) / sizeof(cfg_keys[0]);
const size_t cfg_ntype_keys = sizeof(cfg_type_keys) / sizeof(cfg_type_keys[0]);

const struct cfg_secret cfg_secrets[] = {
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

const size_t cfg_nsecrets = sizeof(cfg_secrets) / sizeof(cfg_secrets[0]);

/* ---- lookups ---- */

const struct cfg_key *cfg_find_key(const struct cfg_key *tab, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].name, name) == 0)
            return &tab[i];
    return NULL;
}

/* Whether some key lies under "prefix." (i.e. prefix is a section). */
int cfg_is_section(const char *prefix)
{
    size_t n = strlen(prefix);

    for (size_t i = 0; i < cfg_nkeys; i++)
        if (strncmp(cfg_keys[i].name, prefix, n) == 0 && cfg_keys[i].name[n] == '.')
            return 1;
    return strcmp(prefix, "types") == 0 || strcmp(prefix, "kafka.properties") == 0 ||
           strcmp(prefix, "documents.mappings") == 0;
}

/* The names directly under prefix ("" = top level), for "expected one of" lists. */
void cfg_child_names(const char *prefix, char *out, size_t outsz)
{
    size_t n = strlen(prefix), used = 0;
    const char *seen[64];
    size_t nseen = 0;
    const char *extra_top[] = {"types", NULL};
    const char *extra_kafka[] = {"properties", NULL};
    const char *extra_documents[] = {"mappings", NULL};

    out[0] = '\0';
    for (size_t i = 0; i < cfg_nkeys + 1; i++) {
        const char *name, *child, *dot;
        size_t clen;
        char tmp[64];
        int dup = 0;

        if (i < cfg_nkeys) {
            name = cfg_keys[i].name;
            if (n > 0 && (strncmp(name, prefix, n) != 0 || name[n] != '.'))
                continue;
            child = n > 0 ? name + n + 1 : name;
        } else {
            const char **extra = n == 0                             ? extra_top
                                 : strcmp(prefix, "kafka") == 0     ? extra_kafka
                                 : strcmp(prefix, "documents") == 0 ? extra_documents
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

void cfg_type_child_names(char *out, size_t outsz)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < cfg_ntype_keys && used < outsz; i++)
        used += (size_t)snprintf(out + used, outsz - used, "%s\"%s\"", i ? ", " : "",
                                 cfg_type_keys[i].name);
}

void cfg_env_name(const char *dotted, char *out, size_t outsz)
{
    size_t n = (size_t)snprintf(out, outsz, "ODOOSYNC_");

    for (const char *p = dotted; *p && n + 1 < outsz; p++)
        out[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    out[n < outsz ? n : outsz - 1] = '\0';
}

/* ---- printing the table ---- */

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

static int dump_key(struct buf *out, const char *prefix, const struct cfg_key *k, const void *base)
{
    const void *f = (const char *)base + k->off;
    int rc = buf_printf(out, "%s%s = ", prefix, k->name);

    if (rc < 0)
        return rc;
    if (cfg_is_string_type(k->type)) {
        const char *s = *cfg_field_cstr(base, k);
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

    for (size_t i = 0; i < cfg_nkeys && rc == 0; i++)
        rc = dump_key(out, "", &cfg_keys[i], c);
    for (size_t i = 0; i < cfg_nsecrets && rc == 0; i++) {
        const struct cfg_secret *sc = &cfg_secrets[i];
        const char *v = *(char *const *)(const void *)((const char *)c + sc->off_val);
        const char *fe = *(char *const *)(const void *)((const char *)c + sc->off_env);
        const char *ff = *(char *const *)(const void *)((const char *)c + sc->off_file);

        /* where it came from (cfg_resolve_secrets' order), never the value */
        if (!v)
            rc = buf_printf(out, "%s = (unset)\n", sc->label);
        else if (ff)
            rc = buf_printf(out, "%s = (set, from the file %s_file)\n", sc->label, sc->label);
        else
            rc = buf_printf(out, "%s = (set, from $%s)\n", sc->label, fe ? fe : sc->fallback);
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
        for (size_t j = 0; j < cfg_ntype_keys && rc == 0; j++)
            rc = dump_key(out, prefix, &cfg_type_keys[j], &c->types[i]);
    }
    return rc ? rc : cfg_docs_dump(c, out);
}

int cfg_describe(struct buf *out)
{
    char exp[512], env[128];
    int rc = 0;

    for (size_t i = 0; i < cfg_nkeys && rc == 0; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        cfg_expected(k, exp, sizeof(exp));
        cfg_env_name(k->name, env, sizeof(env));
        rc = buf_printf(out, "%-26s %s; default %s%s%s; env %s\n    %s\n", k->name, exp,
                        k->def ? "\"" : "", k->def ? k->def : "unset", k->def ? "\"" : "", env,
                        k->help);
    }
    for (size_t i = 0; i < cfg_ntype_keys && rc == 0; i++) {
        const struct cfg_key *k = &cfg_type_keys[i];
        cfg_expected(k, exp, sizeof(exp));
        rc = buf_printf(out, "types[].%-18s %s; default %s%s%s\n    %s\n", k->name, exp,
                        k->def ? "\"" : "", k->def ? k->def : "unset", k->def ? "\"" : "", k->help);
    }
    if (rc == 0)
        rc = cfg_docs_describe(out);
    if (rc == 0)
        rc = buf_printf(out, "%-26s %s\n", "kafka.properties.<name>",
                        "any librdkafka property, passed through as text");
    for (size_t i = 0; i < cfg_nsecrets && rc == 0; i++)
        rc = buf_printf(out, "%-26s from %s_env / %s_file, else $%s if set\n", cfg_secrets[i].label,
                        cfg_secrets[i].label, cfg_secrets[i].label, cfg_secrets[i].fallback);
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
