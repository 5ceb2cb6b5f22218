/*
 * cfg_int: what the pieces of the configuration module share, not part of the public
 * API (cfg.h). cfg_keys.c owns the tables of keys and what is derived from them
 * (lookups, environment names, cfg_dump, cfg_describe); cfg_value.c checks a value
 * against its key and stores it (the one typed setter of every layer); cfg.c runs the
 * layers (defaults, the JSON file, the environment, cfg_set, the secrets); cfg_check.c
 * holds the cross-field rules.
 *
 * A key's value lives in struct cfg (or struct cfg_type) at key.off; string fields are
 * heap copies owned by the struct, as cfg.h says. Messages from the setters start with
 * the `where` their caller gives (the source, then the JSON path or key).
 */
#ifndef ODOOSYNC_CFG_INT_H
#define ODOOSYNC_CFG_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "cfg.h"
#include "err.h"

enum cfg_kt {
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

struct cfg_key {
    const char *name; /* dotted path, e.g. "odoo.url" */
    enum cfg_kt type;
    size_t off; /* offset of the field in struct cfg (or struct cfg_type) */
    long min, max;
    const char *def;          /* default as text; NULL: unset */
    const char *const *names; /* KT_ENUM: index = value */
    const char *schemes;      /* KT_URL: "http,https" */
    unsigned flags;
    const char *sibling; /* KF_SECRET_SRC: the other source's member name */
    const char *help;
};

struct cfg_secret {
    const char *label; /* "odoo.password" */
    size_t off_env, off_file, off_val;
    const char *fallback; /* environment variable used when no source is named */
};

static inline char **cfg_field_str(void *base, const struct cfg_key *k)
{
    return (char **)(void *)((char *)base + k->off);
}

static inline char *const *cfg_field_cstr(const void *base, const struct cfg_key *k)
{
    return (char *const *)(const void *)((const char *)base + k->off);
}

/* The tables (cfg_keys.c): top-level keys, per-type keys ($.types[]), secrets. */
extern const struct cfg_key cfg_keys[];
extern const size_t cfg_nkeys;
extern const struct cfg_key cfg_type_keys[];
extern const size_t cfg_ntype_keys;
extern const struct cfg_secret cfg_secrets[];
extern const size_t cfg_nsecrets;

/* ---- cfg_keys.c: lookups and names derived from the table ---- */

/* The key called name in tab[0..n), or NULL. */
const struct cfg_key *cfg_find_key(const struct cfg_key *tab, size_t n, const char *name);
/* Whether some key lies under "prefix." (i.e. prefix is a section). */
int cfg_is_section(const char *prefix);
/* The names directly under prefix ("" = top level), for "expected one of" lists. */
void cfg_child_names(const char *prefix, char *out, size_t outsz);
/* The per-type key names, for "expected one of" lists. */
void cfg_type_child_names(char *out, size_t outsz);
/* The environment variable of a dotted key: "odoo.url" -> "ODOOSYNC_ODOO_URL". */
void cfg_env_name(const char *dotted, char *out, size_t outsz);

/* ---- cfg_value.c: value checks and the typed setter ---- */

/* *slot = a copy of v (NULL: unset), freeing the old value. */
int cfg_set_string(char **slot, const char *v, struct err *e);
/* A short description of a JSON value for "got ..." */
void cfg_json_got(const cJSON *v, char *out, size_t outsz);
/* Whether s holds a control character. */
int cfg_has_ctl(const char *s);
/* What a key expects, for messages. */
void cfg_expected(const struct cfg_key *k, char *out, size_t outsz);
/* Whether values of type t are stored as strings (char *). */
int cfg_is_string_type(enum cfg_kt t);
/* Set key k of base from text; where names the source for messages. */
int cfg_set_text(void *base, const struct cfg_key *k, const char *v, const char *where,
                 struct err *e);
/* Set key k of base from a JSON value. */
int cfg_set_json(void *base, const struct cfg_key *k, const cJSON *v, const char *where,
                 struct err *e);

/* ---- cfg_documents.c: the documents.mappings array ---- */

extern const struct cfg_key cfg_docmap_keys[];
extern const size_t cfg_ndocmap_keys;
/* $.documents.mappings from the file: replaces c's mappings. */
int cfg_docs_walk(struct cfg *c, const cJSON *arr, const char *src, struct err *e);
/* "documents.mappings[N].field" = value from the command line. */
int cfg_docs_set(struct cfg *c, const char *key, const char *value, struct err *e);
void cfg_docs_free(struct cfg *c);
int cfg_docs_dump(const struct cfg *c, struct buf *out);
int cfg_docs_describe(struct buf *out);
/* The documents rules: mappings distinct and not nested on either side, and their cloud
 * folders apart from the type, stand-alone and archive folders. */
int cfg_docs_check(const struct cfg *c, const char *src, struct err *e);

/* ---- cfg_check.c ---- */

/* The cross-field rules, run after each layer; src names the layer for messages. */
int cfg_cross_check(struct cfg *c, const char *src, struct err *e);

#endif
