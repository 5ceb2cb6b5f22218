/*
 * cfg: see cfg.h. The layers and the loading: defaults (cfg_init), the JSON file
 * (cfg_load / cfg_load_string), the environment (cfg_apply_env), the command line
 * (cfg_set), then the secrets (cfg_resolve_secrets).
 *
 * One table of keys (cfg_keys.c, after redis's config.c) drives every layer: the JSON
 * walker finds each member's key in it, the environment layer derives ODOOSYNC_* names
 * from it, cfg_set looks keys up in it, the defaults come from it. Two parts of the file
 * are not scalar keys and have their own small code here: the "types" array (with its
 * own table of per-type keys) and "kafka.properties" (free librdkafka names, passed
 * through).
 *
 * Values arrive either as JSON (the file) or as text (environment, command line); both
 * end in the same typed setter (cfg_value.c), so bounds and enum names are checked once.
 * Every message says where the value came from (the file name, "environment: ODOOSYNC_X",
 * or the key given to cfg_set), the JSON path or key, what was expected and what was
 * found. After each layer the cross-field rules run (cfg_check.c).
 *
 * Comments in the file are blanked out (replaced by spaces, newlines kept) before cJSON
 * sees the text, so cJSON's error offset still maps to the line and column of the
 * original.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cfg_int.h"
#include "domain.h"

#include "banned.h"

extern char **environ;

#define CFG_MAX_FILE (4 * 1024 * 1024)
#define CFG_MAX_SECRET (64 * 1024)
#define CFG_MAX_TYPES 1000
#define CFG_MAX_PROPS 1000
#define PATH_MAX_LEN 256

/* kafka.properties: librdkafka properties that have a key of their own here */
static const struct {
    const char *prop;
    const char *use;
} reserved_props[] = {
    {"bootstrap.servers", "kafka.bootstrap"},
    {"metadata.broker.list", "kafka.bootstrap"},
    {"group.id", "kafka.group"},
    {"sasl.password", "kafka.password_env or kafka.password_file"},
};

static void free_secret(char **slot)
{
    if (*slot) {
        explicit_bzero(*slot, strlen(*slot));
        free(*slot);
        *slot = NULL;
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
    for (size_t i = 0; i < cfg_ntype_keys; i++) {
        if (!cfg_type_keys[i].def)
            continue;
        if (cfg_set_text(t, &cfg_type_keys[i], cfg_type_keys[i].def, cfg_type_keys[i].name, e) < 0)
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
    return cfg_find_key(cfg_keys, cfg_nkeys, probe) != NULL;
}

static int prop_check(const char *name, const char *where, struct err *e)
{
    if (*name == '\0' || cfg_has_ctl(name) || strchr(name, ' '))
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
            return cfg_set_string(&c->kafka.props[i].value, value, e);
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
        cfg_json_got(obj, got, sizeof(got));
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
            cfg_json_got(m, got, sizeof(got));
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
        cfg_json_got(obj, got, sizeof(got));
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
        const struct cfg_key *k = cfg_find_key(cfg_type_keys, cfg_ntype_keys, m->string);
        snprintf(where, sizeof(where), "%s: $.types[%zu].%s", w->src, idx, m->string);
        if (dup_member(obj, m))
            return err_set(w->e, ERR_INVALID, "%s: duplicate key", where);
        if (!k) {
            cfg_type_child_names(names, sizeof(names));
            return err_set(w->e, ERR_INVALID, "%s: unknown key (expected one of %s)", where, names);
        }
        rc = cfg_set_json(t, k, m, where, w->e);
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
        cfg_json_got(arr, got, sizeof(got));
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
        cfg_json_got(obj, got, sizeof(got));
        return err_set(w->e, ERR_INVALID, "%s: %s: expected an object, got %s", w->src, jpath, got);
    }
    cJSON_ArrayForEach(m, obj)
    {
        const struct cfg_key *k = NULL;
        const char *name = m->string;

        if (strlen(name) > 64 || cfg_has_ctl(name))
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
            k = cfg_find_key(cfg_keys, cfg_nkeys, full);
        if (strcmp(full, "types") == 0) {
            rc = walk_types(w, m);
        } else if (strcmp(full, "documents.mappings") == 0) {
            rc = cfg_docs_walk(w->c, m, w->src, w->e);
        } else if (strcmp(full, "kafka.properties") == 0) {
            rc = walk_props(w, m, jp);
        } else if (k) {
            if ((k->flags & KF_SECRET_SRC) && cJSON_GetObjectItemCaseSensitive(obj, k->sibling))
                return err_set(w->e, ERR_INVALID, "%s: set only one of \"%s\" and \"%s\"", where,
                               name, k->sibling);
            rc = cfg_set_json(w->c, k, m, where, w->e);
        } else if (cfg_is_section(full)) {
            rc = walk_object(w, m, full, jp);
        } else if (secret_inline(dotted, name)) {
            return err_set(w->e, ERR_INVALID,
                           "%s: secrets are not accepted inline; name their source with "
                           "\"%s_env\" (an environment variable) or \"%s_file\" (a file)",
                           where, name, name);
        } else {
            cfg_child_names(dotted, names, sizeof(names));
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
    for (size_t i = 0; i < cfg_nkeys; i++) {
        if (!cfg_keys[i].def)
            continue;
        rc = cfg_set_text(c, &cfg_keys[i], cfg_keys[i].def, cfg_keys[i].name, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void cfg_release(struct cfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < cfg_nkeys; i++) {
        if (cfg_is_string_type(cfg_keys[i].type)) {
            char **slot = cfg_field_str(c, &cfg_keys[i]);
            free(*slot);
            *slot = NULL;
        }
    }
    for (size_t i = 0; i < cfg_nsecrets; i++)
        free_secret((char **)(void *)((char *)c + cfg_secrets[i].off_val));
    types_free(c);
    cfg_docs_free(c);
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
    rc = cfg_cross_check(c, w.src, e);
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
    for (size_t i = 0; i < cfg_nkeys; i++) {
        const char *v;
        cfg_env_name(cfg_keys[i].name, name, sizeof(name));
        v = env_lookup(env, name);
        if (!v)
            continue;
        snprintf(where, sizeof(where), "environment: %s", name);
        rc = cfg_set_text(c, &cfg_keys[i], v, where, e);
        if (rc < 0)
            return rc;
    }
    return cfg_cross_check(c, "environment", e);
}

int cfg_set(struct cfg *c, const char *key, const char *value, struct err *e)
{
    const struct cfg_key *k;
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
    if (strncmp(key, "documents.mappings[", 19) == 0) {
        rc = cfg_docs_set(c, key, value, e);
        return rc < 0 ? rc : cfg_cross_check(c, "command line", e);
    }
    if (strncmp(key, "types[", 6) == 0) {
        char *end = NULL;
        long idx;
        const struct cfg_key *tk;
        struct cfg_type *t;

        errno = 0;
        idx = strtol(key + 6, &end, 10);
        if (errno || end == key + 6 || idx < 0 || end[0] != ']' || end[1] != '.')
            return err_set(e, ERR_INVALID, "%s: expected types[N].field", key);
        if ((size_t)idx >= c->ntypes)
            return err_set(e, ERR_INVALID, "%s: there are %zu document types", key, c->ntypes);
        tk = cfg_find_key(cfg_type_keys, cfg_ntype_keys, end + 2);
        if (!tk)
            return err_set(e, ERR_INVALID, "%s: unknown key", key);
        t = &c->types[idx];
        rc = cfg_set_text(t, tk, value, where, e);
        if (rc < 0)
            return rc;
        if (tk->off == offsetof(struct cfg_type, domain)) {
            rc = type_parse_domain(t, where, e);
            if (rc < 0)
                return rc;
        }
        return cfg_cross_check(c, "command line", e);
    }
    k = cfg_find_key(cfg_keys, cfg_nkeys, key);
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
    rc = cfg_set_text(c, k, value, where, e);
    if (rc < 0)
        return rc;
    return cfg_cross_check(c, "command line", e);
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

    for (size_t i = 0; i < cfg_nsecrets; i++) {
        const struct cfg_secret *s = &cfg_secrets[i];
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

const struct cfg_type *cfg_type_by_folder(const struct cfg *c, const char *folder)
{
    for (size_t i = 0; i < c->ntypes; i++)
        if (c->types[i].enabled && strcmp(c->types[i].folder, folder) == 0)
            return &c->types[i];
    return NULL;
}
