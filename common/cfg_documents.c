/*
 * cfg_documents: the "documents" section's mappings (cfg.h, struct cfg_documents): the
 * $.documents.mappings array of the file, "documents.mappings[N].field" on the command
 * line, their dump and description, and the rules that tie them to the rest.
 *
 * documents.enabled and documents.folder are ordinary keys (cfg_keys.c). A mapping is
 * {"odoo": "*" | "Finance/Invoices" | "#12" | 12, "cloud": "<path under the root>",
 * "direction": "both" | "to-cloud" | "from-cloud", "enabled": true}; "odoo" is required.
 * The rules (cfg_docs_check, after each layer, when documents are enabled):
 *   - no two mappings name the same Odoo folder, and none names a folder inside another's
 *     ("*" takes every folder, so it stands alone);
 *   - no two cloud folders are the same or one inside the other (paths compare
 *     ASCII-case-insensitively, like names under the root);
 *   - a cloud folder's first component is none of the type folders, the stand-alone
 *     folder (when enabled) or the archive folder (when records are archived).
 * A mapping by id with no cloud folder takes its folder's name at run time: its place is
 * checked by the pass, not here.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "cfg_int.h"

#include "banned.h"

#define DOCS_MAX_MAPS 1000
#define DOCS_PATH_MAX 1024

static const char *const direction_names[] = {"both", "to-cloud", "from-cloud", NULL};

#define MOFF(f) offsetof(struct cfg_docmap, f)

/* clang-format off */
const struct cfg_key cfg_docmap_keys[] = {
    {"odoo", KT_STR, MOFF(odoo), 0, 0, NULL, NULL, NULL, 0, NULL,
     "the Documents folder: \"*\" (every top-level folder), a path of names "
     "(\"Finance/Invoices\") or \"#<id>\" (required)"},
    {"cloud", KT_PATH, MOFF(cloud), 0, 0, NULL, NULL, NULL, 0, NULL,
     "its cloud folder under the root (default documents.folder for \"*\", else "
     "documents.folder/<its name>)"},
    {"direction", KT_ENUM, MOFF(direction), 0, 0, "both", direction_names, NULL, 0, NULL,
     "both, to-cloud (Odoo is only read), from-cloud (the cloud is only read)"},
    {"enabled", KT_BOOL, MOFF(enabled), 0, 0, "true", NULL, NULL, 0, NULL,
     "false keeps the entry but does not sync it"},
};
/* clang-format on */

const size_t cfg_ndocmap_keys = sizeof(cfg_docmap_keys) / sizeof(cfg_docmap_keys[0]);

static void map_release(struct cfg_docmap *m)
{
    free(m->odoo);
    free(m->cloud);
    memset(m, 0, sizeof(*m));
}

void cfg_docs_free(struct cfg *c)
{
    for (size_t i = 0; i < c->documents.nmaps; i++)
        map_release(&c->documents.maps[i]);
    free(c->documents.maps);
    c->documents.maps = NULL;
    c->documents.nmaps = 0;
}

static int map_defaults(struct cfg_docmap *m, struct err *e)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < cfg_ndocmap_keys; i++) {
        if (!cfg_docmap_keys[i].def)
            continue;
        if (cfg_set_text(m, &cfg_docmap_keys[i], cfg_docmap_keys[i].def, cfg_docmap_keys[i].name,
                         e) < 0)
            return e ? e->code : ERR_INTERNAL;
    }
    return 0;
}

/* Parse m->odoo into m->sel / m->id; where names it for messages. */
static int map_parse_odoo(struct cfg_docmap *m, const char *where, struct err *e)
{
    static const char expected[] =
        "expected \"*\" (every folder), a folder path of names such as \"Finance/Invoices\", "
        "or \"#<id>\" such as \"#12\"";
    const char *s = m->odoo;

    if (!s || *s == '\0')
        return err_set(e, ERR_INVALID, "%s: %s, got \"\"", where, expected);
    if (strcmp(s, "*") == 0) {
        m->sel = CFG_DOCS_ALL;
        return 0;
    }
    if (s[0] == '#') {
        char *end = NULL;
        long id;

        errno = 0;
        id = strtol(s + 1, &end, 10);
        if (errno || end == s + 1 || *end != '\0' || id <= 0 || s[1] == '+' || s[1] == ' ')
            return err_set(e, ERR_INVALID, "%s: %s, got \"%.60s\" (an id is a positive number)",
                           where, expected, s);
        m->sel = CFG_DOCS_ID;
        m->id = id;
        return 0;
    }
    {
        /* a path of folder names: the same rules as cloud paths (no empty component, no
         * "." or "..", no control character, no leading or trailing space) */
        const struct cfg_key k = {"odoo", KT_PATH, MOFF(odoo), 0, 0, NULL, NULL, NULL, 0, NULL, ""};
        struct cfg_docmap probe;
        struct err pe = ERR_INIT;

        memset(&probe, 0, sizeof(probe));
        if (cfg_set_text(&probe, &k, s, where, &pe) < 0) {
            free(probe.odoo);
            return err_set(e, ERR_INVALID, "%s: %s, got \"%.60s\"", where, expected, s);
        }
        free(probe.odoo);
    }
    m->sel = CFG_DOCS_PATH;
    return 0;
}

static int has_dup_member(const cJSON *obj, const cJSON *m)
{
    for (const cJSON *o = obj->child; o && o != m; o = o->next)
        if (o->string && strcmp(o->string, m->string) == 0)
            return 1;
    return 0;
}

static void key_names(char *out, size_t outsz)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < cfg_ndocmap_keys && used < outsz; i++)
        used += (size_t)snprintf(out + used, outsz - used, "%s\"%s\"", i ? ", " : "",
                                 cfg_docmap_keys[i].name);
}

static int walk_map(const cJSON *obj, struct cfg_docmap *m, size_t idx, const char *src,
                    struct err *e)
{
    char where[512], got[128], names[128];
    const cJSON *v;
    int rc;

    if (!cJSON_IsObject(obj)) {
        cfg_json_got(obj, got, sizeof(got));
        return err_set(e, ERR_INVALID,
                       "%s: $.documents.mappings[%zu]: expected an object with \"odoo\", "
                       "\"cloud\", \"direction\", \"enabled\", got %s",
                       src, idx, got);
    }
    rc = map_defaults(m, e);
    if (rc < 0)
        return rc;
    cJSON_ArrayForEach(v, obj)
    {
        const struct cfg_key *k = cfg_find_key(cfg_docmap_keys, cfg_ndocmap_keys, v->string);

        snprintf(where, sizeof(where), "%s: $.documents.mappings[%zu].%.64s", src, idx, v->string);
        if (has_dup_member(obj, v))
            return err_set(e, ERR_INVALID, "%s: duplicate key", where);
        if (!k) {
            key_names(names, sizeof(names));
            return err_set(e, ERR_INVALID, "%s: unknown key (expected one of %s)", where, names);
        }
        if (k->off == MOFF(odoo) && cJSON_IsNumber(v)) {
            char idtext[32];
            if (v->valuedouble < 1 || v->valuedouble > 1e15 ||
                v->valuedouble != (double)(long)v->valuedouble) {
                cfg_json_got(v, got, sizeof(got));
                return err_set(e, ERR_INVALID,
                               "%s: expected a folder id (a positive whole number), got %s", where,
                               got);
            }
            snprintf(idtext, sizeof(idtext), "#%ld", (long)v->valuedouble);
            rc = cfg_set_string(&m->odoo, idtext, e);
        } else {
            rc = cfg_set_json(m, k, v, where, e);
        }
        if (rc < 0)
            return rc;
    }
    snprintf(where, sizeof(where), "%s: $.documents.mappings[%zu].odoo", src, idx);
    if (!m->odoo)
        return err_set(e, ERR_INVALID,
                       "%s: required (\"*\", a folder path such as \"Finance\", or \"#<id>\")",
                       where);
    return map_parse_odoo(m, where, e);
}

int cfg_docs_walk(struct cfg *c, const cJSON *arr, const char *src, struct err *e)
{
    char got[128];
    struct cfg_docmap *ms = NULL;
    size_t n, i = 0;
    int rc = 0;

    if (!cJSON_IsArray(arr)) {
        cfg_json_got(arr, got, sizeof(got));
        return err_set(e, ERR_INVALID,
                       "%s: $.documents.mappings: expected an array of mappings, got %s", src, got);
    }
    n = (size_t)cJSON_GetArraySize(arr);
    if (n > DOCS_MAX_MAPS)
        return err_set(e, ERR_INVALID, "%s: $.documents.mappings: more than %d mappings", src,
                       DOCS_MAX_MAPS);
    if (n > 0) {
        ms = calloc(n, sizeof(*ms));
        if (!ms)
            return err_set(e, ERR_NOMEM, "config: out of memory");
    }
    for (const cJSON *m = arr->child; m; m = m->next, i++) {
        rc = walk_map(m, &ms[i], i, src, e);
        if (rc < 0)
            goto out;
    }
    cfg_docs_free(c);
    c->documents.maps = ms;
    c->documents.nmaps = n;
    ms = NULL;
out:
    if (ms) {
        for (size_t j = 0; j < n; j++)
            map_release(&ms[j]);
        free(ms);
    }
    return rc;
}

int cfg_docs_set(struct cfg *c, const char *key, const char *value, struct err *e)
{
    static const char prefix[] = "documents.mappings[";
    char *end = NULL;
    long idx;
    const struct cfg_key *k;
    struct cfg_docmap *m;
    int rc;

    errno = 0;
    idx = strtol(key + sizeof(prefix) - 1, &end, 10);
    if (errno || end == key + sizeof(prefix) - 1 || idx < 0 || end[0] != ']' || end[1] != '.')
        return err_set(e, ERR_INVALID, "%s: expected documents.mappings[N].field", key);
    if ((size_t)idx >= c->documents.nmaps)
        return err_set(e, ERR_INVALID, "%s: there %s %zu documents mapping%s", key,
                       c->documents.nmaps == 1 ? "is" : "are", c->documents.nmaps,
                       c->documents.nmaps == 1 ? "" : "s");
    k = cfg_find_key(cfg_docmap_keys, cfg_ndocmap_keys, end + 2);
    if (!k)
        return err_set(e, ERR_INVALID, "%s: unknown key", key);
    m = &c->documents.maps[idx];
    rc = cfg_set_text(m, k, value, key, e);
    if (rc == 0 && k->off == MOFF(odoo))
        rc = map_parse_odoo(m, key, e);
    return rc;
}

/* The last component of a path. */
static const char *last_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int cfg_docmap_cloud(const struct cfg *c, size_t i, const char *name, char *out, size_t outsz,
                     struct err *e)
{
    const struct cfg_docmap *m = &c->documents.maps[i];
    const char *base = c->documents.folder ? c->documents.folder : "Documents";
    int n;

    if (m->cloud)
        n = snprintf(out, outsz, "%s", m->cloud);
    else if (m->sel == CFG_DOCS_ALL)
        n = snprintf(out, outsz, "%s", base);
    else if (m->sel == CFG_DOCS_PATH)
        n = snprintf(out, outsz, "%s/%s", base, last_name(m->odoo));
    else if (name && *name)
        n = snprintf(out, outsz, "%s/%s", base, name);
    else
        return err_set(e, ERR_INVALID,
                       "documents.mappings[%zu]: the folder %s has no name to name its cloud "
                       "folder after; set documents.mappings[%zu].cloud",
                       i, m->odoo, i);
    if (n < 0 || (size_t)n >= outsz)
        return err_set(e, ERR_TOO_BIG, "documents.mappings[%zu]: cloud path too long", i);
    return 0;
}

/* Whether path a is b or inside b, or b inside a (ASCII case ignored). */
static int paths_overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;

    if (strncasecmp(a, b, n) != 0)
        return 0;
    return la == lb || (la > n ? a[n] : b[n]) == '/';
}

/* The first component of path, written into out. */
static void first_name(const char *path, char *out, size_t outsz)
{
    const char *slash = strchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : strlen(path);

    snprintf(out, outsz, "%.*s", (int)len, path);
}

static int check_top(const struct cfg *c, const char *cloud, const char *where, struct err *e)
{
    char top[256];

    first_name(cloud, top, sizeof(top));
    for (size_t t = 0; t < c->ntypes; t++)
        if (strcasecmp(top, c->types[t].folder) == 0)
            return err_set(e, ERR_INVALID,
                           "%s: the cloud folder \"%s\" is inside \"%s\", the folder of "
                           "$.types[%zu]; Documents need a folder of their own under the root",
                           where, cloud, top, t);
    if (c->standalone.enabled && c->standalone.folder && strcasecmp(top, c->standalone.folder) == 0)
        return err_set(e, ERR_INVALID,
                       "%s: the cloud folder \"%s\" is inside \"%s\", the folder of the "
                       "stand-alone attachments ($.standalone.folder)",
                       where, cloud, top);
    if (c->unmatched.policy == CFG_UNMATCHED_ARCHIVE && c->unmatched.folder &&
        strcasecmp(top, c->unmatched.folder) == 0)
        return err_set(e, ERR_INVALID,
                       "%s: the cloud folder \"%s\" is inside \"%s\", the archive folder of "
                       "records that match no type ($.unmatched.folder)",
                       where, cloud, top);
    return 0;
}

int cfg_docs_check(const struct cfg *c, const char *src, struct err *e)
{
    const struct cfg_documents *d = &c->documents;
    char ci[DOCS_PATH_MAX], cj[DOCS_PATH_MAX], where[128];
    struct err ignore = ERR_INIT;
    int rc;

    if (!d->enabled)
        return 0;
    if (d->nmaps == 0) {
        snprintf(where, sizeof(where), "%s: $.documents.folder", src);
        return check_top(c, d->folder ? d->folder : "Documents", where, e);
    }
    for (size_t i = 0; i < d->nmaps; i++) {
        const struct cfg_docmap *mi = &d->maps[i];
        int known_i;

        if (!mi->enabled)
            continue;
        snprintf(where, sizeof(where), "%s: $.documents.mappings[%zu]", src, i);
        known_i = cfg_docmap_cloud(c, i, NULL, ci, sizeof(ci), &ignore) == 0;
        if (known_i && (rc = check_top(c, ci, where, e)) < 0)
            return rc;
        for (size_t j = 0; j < i; j++) {
            const struct cfg_docmap *mj = &d->maps[j];

            if (!mj->enabled)
                continue;
            if (mi->sel == CFG_DOCS_ALL || mj->sel == CFG_DOCS_ALL)
                return err_set(e, ERR_INVALID,
                               "%s: \"*\" maps every Documents folder, so it cannot be combined "
                               "with another mapping (here $.documents.mappings[%zu] and [%zu]); "
                               "list the folders one by one instead",
                               src, j, i);
            if (mi->sel == mj->sel && mi->sel == CFG_DOCS_ID && mi->id == mj->id)
                return err_set(e, ERR_INVALID,
                               "%s.odoo: the folder %s is already mapped by "
                               "$.documents.mappings[%zu]",
                               where, mi->odoo, j);
            if (mi->sel == CFG_DOCS_PATH && mj->sel == CFG_DOCS_PATH &&
                paths_overlap(mi->odoo, mj->odoo))
                return err_set(e, ERR_INVALID,
                               "%s.odoo: \"%s\" and \"%s\" ($.documents.mappings[%zu]) are the "
                               "same Documents folder or one holds the other; a folder is mapped "
                               "once, with its sub-folders",
                               where, mi->odoo, mj->odoo, j);
            if (known_i && cfg_docmap_cloud(c, j, NULL, cj, sizeof(cj), &ignore) == 0 &&
                paths_overlap(ci, cj))
                return err_set(e, ERR_INVALID,
                               "%s.cloud: the cloud folder \"%s\" and \"%s\" "
                               "($.documents.mappings[%zu]) are the same or one holds the other "
                               "(ignoring case); give each mapping a folder of its own",
                               where, ci, cj, j);
        }
    }
    return 0;
}

static int dump_str(struct buf *out, const char *prefix, const char *name, const char *v)
{
    int rc = buf_printf(out, "%s%s = ", prefix, name);

    if (rc < 0)
        return rc;
    if (!v)
        return buf_puts(out, "(unset)\n");
    rc = buf_puts(out, "\"");
    for (const char *p = v; rc == 0 && *p; p++) {
        if (*p == '"' || *p == '\\')
            rc = buf_printf(out, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            rc = buf_printf(out, "\\u%04x", (unsigned char)*p);
        else
            rc = buf_append(out, p, 1);
    }
    return rc ? rc : buf_puts(out, "\"\n");
}

int cfg_docs_dump(const struct cfg *c, struct buf *out)
{
    int rc = 0;

    for (size_t i = 0; i < c->documents.nmaps && rc == 0; i++) {
        const struct cfg_docmap *m = &c->documents.maps[i];
        char prefix[48];

        snprintf(prefix, sizeof(prefix), "documents.mappings[%zu].", i);
        rc = dump_str(out, prefix, "odoo", m->odoo);
        if (rc == 0)
            rc = dump_str(out, prefix, "cloud", m->cloud);
        if (rc == 0)
            rc =
                buf_printf(out, "%sdirection = \"%s\"\n%senabled = %s\n", prefix,
                           cfg_direction_name(m->direction), prefix, m->enabled ? "true" : "false");
    }
    return rc;
}

int cfg_docs_describe(struct buf *out)
{
    char exp[512];
    int rc = 0;

    for (size_t i = 0; i < cfg_ndocmap_keys && rc == 0; i++) {
        const struct cfg_key *k = &cfg_docmap_keys[i];
        if (k->off == MOFF(odoo))
            snprintf(exp, sizeof(exp), "\"*\", a folder path or \"#<id>\" (or an id)");
        else
            cfg_expected(k, exp, sizeof(exp));
        rc = buf_printf(out, "documents.mappings[].%-6s %s; default %s%s%s\n    %s\n", k->name, exp,
                        k->def ? "\"" : "", k->def ? k->def : "unset", k->def ? "\"" : "", k->help);
    }
    return rc;
}
