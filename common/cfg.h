/*
 * cfg: odoosync's configuration, one plain struct the rest of the code reads.
 *
 * Layers, each one overriding the one before (like kcat and redis):
 *   defaults (cfg_init) < JSON file (cfg_load / cfg_load_string)
 *     < environment (cfg_apply_env: ODOOSYNC_<SECTION>_<KEY>, e.g.
 *       ODOOSYNC_ODOO_URL, ODOOSYNC_WORKER_CONCURRENCY)
 *     < command line (cfg_set: `-X worker.concurrency=4`,
 *       `-X kafka.properties.<name>=<value>` passes through to librdkafka).
 *
 * One table of keys in cfg_keys.c (name, type, bounds, default, offset) drives
 * parsing, validation, defaults, environment names and cfg_dump, so a key is
 * added in one place. The file is JSON with `//` and block comments allowed
 * outside strings; unknown keys are errors; every error names where the bad
 * value came from and its JSON path, and what was expected:
 *   config.json: $.types[2].direction: expected one of "both", "to-cloud",
 *   "from-cloud", got "up"
 *
 * Secrets (Odoo password / API key, cloud password, Redis password, Kafka
 * SASL password) never appear inline: only their sources do
 * (`password_env` names an environment variable, `password_file` a file).
 * cfg_resolve_secrets() reads them into the *secret* fields below, which no
 * log line and no dump ever prints (cfg_dump shows "(set, from $VAR)" / "(unset)").
 *
 * Typical use (main only; library code is handed a const struct cfg *):
 *     struct cfg c;
 *     struct err e = ERR_INIT;
 *     if (cfg_init(&c, &e) < 0 || cfg_load(&c, path, &e) < 0 ||
 *         cfg_apply_env(&c, NULL, &e) < 0 || cfg_set(&c, "worker.concurrency", "4", &e) < 0 ||
 *         cfg_resolve_secrets(&c, &e) < 0 || cfg_require(&c, CFG_NEED_ODOO | CFG_NEED_CLOUD, &e) <
 * 0)
 *         ... report e.msg, exit 2 ...
 *     ...
 *     cfg_release(&c);
 *
 * Ownership: every char * and cJSON * in struct cfg is owned by the cfg (heap
 * or NULL) and freed by cfg_release(). Readers must not modify or free them.
 * A loaded cfg is read-only and may be shared by threads.
 */
#ifndef ODOOSYNC_CFG_H
#define ODOOSYNC_CFG_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "err.h"

enum cfg_protocol { CFG_PROTO_AUTO = 0, CFG_PROTO_JSONRPC, CFG_PROTO_JSON2 };
enum cfg_dialect {
    CFG_DIALECT_AUTO = 0,
    CFG_DIALECT_GENERIC,
    CFG_DIALECT_NEXTCLOUD,
    CFG_DIALECT_OWNCLOUD
};
enum cfg_direction { CFG_DIR_BOTH = 0, CFG_DIR_TO_CLOUD, CFG_DIR_FROM_CLOUD };
/* cloud.link_form: the url a url attachment holds (common/link.h, enum link_form) */
enum cfg_link_form { CFG_LINK_AUTO = 0, CFG_LINK_WEB, CFG_LINK_DAV };

struct cfg_odoo {
    char *url; /* http(s)://host[:port][/prefix], no trailing '/' kept */
    char *database;
    enum cfg_protocol protocol;
    char *login;
    char *password_env;  /* name of an environment variable holding the password */
    char *password_file; /* path of a file holding it (trailing newline stripped) */
    char *api_key_env;
    char *api_key_file;
    long timeout_ms; /* per request, default 30000 */
    int insecure;    /* 1: do not verify TLS certificates */
    char *ca_file;   /* PEM file of the CAs to trust instead of the system's; NULL: the system's */
    /* seconds before the watermark each pass reads again (producer/scan.h
     * SCAN_WM_OVERLAP_S: longer than Odoo's longest writing transaction), default 600 */
    long watermark_overlap_s;
    /* filled by cfg_resolve_secrets(); NULL when no source gave one; never log */
    char *password;
    char *api_key;
};

struct cfg_cloud {
    char *url; /* WebDAV base URL, e.g. https://cloud.example.com/remote.php/dav/files/odoo */
    char *user;
    char *password_env;
    char *password_file;
    char *root; /* top folder under url, default "Odoo" */
    enum cfg_dialect dialect;
    enum cfg_link_form link_form; /* auto (web link where files have ids), web, dav */
    long timeout_ms;
    int insecure;
    char *ca_file;  /* see cfg_odoo.ca_file */
    char *password; /* secret, see cfg_odoo.password */
};

struct cfg_type {
    char *folder;       /* type folder name under the root, unique among types */
    char *model;        /* Odoo model, e.g. "sale.order" */
    char *domain;       /* the domain as written (Odoo syntax), default "[]" */
    cJSON *domain_json; /* parsed and validated (domain.h): a JSON array for search_read */
    enum cfg_direction direction;
    int enabled;
};

struct cfg_standalone {
    int enabled;  /* default 1 */
    char *folder; /* default "Stand Alone Attachments" */
};

/* A record that still exists but matches no type (un-flagged, cancelled, archived). */
enum cfg_unmatched_policy {
    CFG_UNMATCHED_ARCHIVE = 0, /* its folder moves to <root>/<folder> (default) */
    CFG_UNMATCHED_KEEP         /* its folder stays where it is, untouched */
};

struct cfg_unmatched {
    int policy;   /* enum cfg_unmatched_policy, default archive */
    char *folder; /* the archive folder under the root, default "Archive" */
};

/*
 * Odoo's Documents app (common/cfg_documents.c): which Documents folders map to which
 * cloud folder, both ways or one way. A mapping names its Odoo folder by
 *   "*"                 every top-level folder the user can see, each under the cloud
 *                       folder (default documents.folder): <root>/Documents/<folder>/...
 *   "Finance/Invoices"  a folder by its path of names (from a top-level folder)
 *   "#12" (or 12)       a folder by its id (documents.folder on 16/17, a documents.document
 *                       of type folder on 18/19)
 * and its cloud folder by a path under the root (default documents.folder for "*",
 * documents.folder/<the folder's name> otherwise).
 */
enum cfg_docs_sel { CFG_DOCS_ALL = 0, CFG_DOCS_PATH, CFG_DOCS_ID };

struct cfg_docmap {
    char *odoo;  /* as written ("*", a path of names, "#<id>") */
    int sel;     /* enum cfg_docs_sel, parsed from odoo */
    long id;     /* CFG_DOCS_ID: the folder's id */
    char *cloud; /* path under the root; NULL: the default above */
    enum cfg_direction direction;
    int enabled;
};

struct cfg_documents {
    int enabled;             /* default 0 */
    char *folder;            /* default "Documents": path under the root */
    struct cfg_docmap *maps; /* in the order given; none (when enabled): one "*" mapping */
    size_t nmaps;
};

struct cfg_safety {
    double max_delete_share; /* 0..1, default 0.5 */
};

struct cfg_kv {
    char *name;
    char *value;
};

struct cfg_kafka {
    char *bootstrap;    /* "host:port,host:port" (bootstrap.servers) */
    char *topic_jobs;   /* kafka.topics.jobs, default "odoosync.jobs" */
    char *topic_retry;  /* default "odoosync.retry" */
    char *topic_dlq;    /* default "odoosync.dlq" */
    char *topic_events; /* default "odoosync.events" */
    char *group;        /* consumer group, default "odoosync-workers" */
    /* librdkafka properties passed through as is, in the order given; a later
     * layer replaces a name set by an earlier one */
    struct cfg_kv *props;
    size_t nprops;
    char *password_env; /* SASL password source; given to librdkafka as sasl.password */
    char *password_file;
    char *password; /* secret */
};

struct cfg_redis {
    char *url; /* redis://host:port[/db] */
    char *password_env;
    char *password_file;
    long lock_ttl_ms; /* default 30000 */
    char *password;   /* secret */
};

struct cfg_worker {
    long concurrency;  /* 1..256, default 8 */
    long max_attempts; /* default 5 */
    long backoff_ms;   /* default 1000 */
    long grace_ms;     /* default 30000 */
};

struct cfg_state {
    char *file; /* local mode state file, default ".odoosync-state.json" */
};

struct cfg_log {
    int level;       /* enum log_level (log.h): "error" "warn" "info" "debug", default info */
    int format;      /* enum log_format (log.h): "auto" "json" "human", default auto */
    long progress_s; /* run: a progress line every so many seconds (0: none), default 10 */
};

struct cfg_metrics {
    char *listen; /* "" = off (default), or "127.0.0.1:9464" */
};

/* The sync log's optional Odoo sink (cli/synclog_odoo.h): events also become
 * ir.logging records, written in batches by a flusher thread. */
struct cfg_sync_log {
    int odoo;              /* 1: write the sync log into Odoo's ir.logging (default 0) */
    long odoo_batch;       /* records per create call, 1..1000, default 100 */
    long odoo_flush_ms;    /* longest wait before pending records are written, default 2000 */
    long odoo_max_pending; /* records held while Odoo refuses them; older ones dropped past it */
};

struct cfg {
    struct cfg_odoo odoo;
    struct cfg_cloud cloud;
    struct cfg_type *types; /* in priority order (first match wins) */
    size_t ntypes;
    struct cfg_standalone standalone;
    struct cfg_unmatched unmatched;
    struct cfg_documents documents;
    struct cfg_safety safety;
    struct cfg_kafka kafka;
    struct cfg_redis redis;
    struct cfg_worker worker;
    struct cfg_state state;
    struct cfg_log log;
    struct cfg_metrics metrics;
    struct cfg_sync_log sync_log;
    /* borrowed: the environment array given to cfg_apply_env (NULL = the
     * process environment); cfg_resolve_secrets looks *_env names up in it */
    char **environ;
};

/* Every function that fails leaves c valid (cfg_release() is safe) but
 * possibly half-applied: the caller reports the error and stops. */

/* Fill c with the defaults. Returns 0 or ERR_NOMEM. cfg_release() always safe after. */
int cfg_init(struct cfg *c, struct err *e);
void cfg_release(struct cfg *c);

/* Read the JSON file at path (comments allowed) and apply it over c. Errors are
 * prefixed with path; a syntax error also names line and column. ERR_INVALID
 * for bad content, ERR_IO when the file cannot be read. The file's "types"
 * array replaces any types c had. */
int cfg_load(struct cfg *c, const char *path, struct err *e);
/* Same from a string; name_for_errors prefixes messages ("config.json"). */
int cfg_load_string(struct cfg *c, const char *json, const char *name_for_errors, struct err *e);

/* Apply ODOOSYNC_* variables from env (a NULL-terminated "K=V" array, or NULL
 * for the process environment). Every scalar key has one: its dotted name in
 * upper case with '.' -> '_' after ODOOSYNC_ (ODOOSYNC_KAFKA_TOPICS_JOBS,
 * ODOOSYNC_ODOO_PASSWORD_ENV, ...). Variables not naming a key are ignored
 * (ODOOSYNC_STACK_ENV and friends live there too). Keeps env for
 * cfg_resolve_secrets. */
int cfg_apply_env(struct cfg *c, char **env, struct err *e);

/* Set one key from text, the command-line layer: "worker.concurrency" "4",
 * "types[1].enabled" "false", "kafka.properties.linger.ms" "5". */
int cfg_set(struct cfg *c, const char *key, const char *value, struct err *e);

/* Read every secret from its source: *_file wins over *_env; with neither set,
 * the fallback variables ODOOSYNC_ODOO_PASSWORD, ODOOSYNC_ODOO_API_KEY,
 * ODOOSYNC_CLOUD_PASSWORD, ODOOSYNC_REDIS_PASSWORD, ODOOSYNC_KAFKA_PASSWORD are
 * used when present. A named source that is missing or empty is an error. */
int cfg_resolve_secrets(struct cfg *c, struct err *e);

/* What a command needs, checked after all layers and after
 * cfg_resolve_secrets() (credentials count only once resolved). */
#define CFG_NEED_ODOO 0x1   /* odoo.url, odoo.database, odoo.login */
#define CFG_NEED_CLOUD 0x2  /* cloud.url */
#define CFG_NEED_KAFKA 0x4  /* kafka.bootstrap */
#define CFG_NEED_REDIS 0x8  /* redis.url */
#define CFG_NEED_TYPES 0x10 /* at least one enabled type */
int cfg_require(const struct cfg *c, unsigned need, struct err *e);

/* Append the effective configuration to out, one "key = value" line per key
 * (types as types[i].field, properties as kafka.properties.<name>); secrets
 * are shown by their source, "(set, from $VAR)", "(set, from the file odoo.password_file)",
 * or "(unset)", never their value. */
int cfg_dump(const struct cfg *c, struct buf *out);

/* Append the table of keys: name, what is expected, default, environment
 * variable and a one-line help, for `odoosync config keys` and the docs. */
int cfg_describe(struct buf *out);

/* Names for the enums, for logs and dumps. */
const char *cfg_direction_name(enum cfg_direction d);
const char *cfg_protocol_name(enum cfg_protocol p);
const char *cfg_dialect_name(enum cfg_dialect d);

/*
 * The cloud folder of documents mapping i (a path under the root), for a mapping whose
 * Odoo folder is called name (used only when the mapping names a folder by id and sets
 * no cloud folder; may be NULL otherwise). Written into out; ERR_TOO_BIG when it does
 * not fit, ERR_INVALID when the name is needed and missing.
 */
int cfg_docmap_cloud(const struct cfg *c, size_t i, const char *name, char *out, size_t outsz,
                     struct err *e);

/* The enabled type with this folder name, or NULL. */
const struct cfg_type *cfg_type_by_folder(const struct cfg *c, const char *folder);

#endif
