/*
 * scan_unmatched: see scan_unmatched() in scan.h. Records tagged on cloud
 * document folders ("model,id" on a folder two levels under the root) that the
 * Odoo scan listed under no type, the records of url attachments pointing into
 * the archive folder and those of the previous pass's links: each is read by id
 * in batches per model, to tell a record that still exists (os->unmatched, with
 * its attachments) from one deleted in Odoo. Models of types whose scan failed
 * are left alone. Urls are read in any form (common/link.h); a web link names a
 * file id, not the archive folder, so those records come from the links.
 */
#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "link.h"
#include "plan.h"
#include "scan_int.h"

#include "banned.h"

struct mid {
    const char *model; /* borrowed from the plan types */
    long id;
};

static int cmp_mid(const void *a, const void *b)
{
    const struct mid *x = a, *y = b;
    int r = strcmp(x->model, y->model);

    return r ? r : (x->id > y->id) - (x->id < y->id);
}

/* The model of a "model,id" tag among the types whose scan went through (borrowed), or NULL
 * (not a configured model, or one of its types failed: its folders are left alone). */
static const char *tag_model(const struct plan_type *types, size_t ntypes, const char *tag,
                             long *id)
{
    const char *comma = strrchr(tag, ',');
    const char *found = NULL;
    char *end;

    if (!comma || comma == tag)
        return NULL;
    *id = strtol(comma + 1, &end, 10);
    if (*end != '\0' || end == comma + 1 || *id <= 0)
        return NULL;
    for (size_t k = 0; k < ntypes; k++) {
        if (strlen(types[k].model) != (size_t)(comma - tag) ||
            strncmp(types[k].model, tag, (size_t)(comma - tag)) != 0)
            continue;
        if (!types[k].scan_ok)
            return NULL;
        found = types[k].model;
    }
    return found;
}

/* Whether path is a folder two levels under root ("/Odoo"): "/Odoo/Type/Name". */
static int depth2(const char *path, const char *root)
{
    size_t n = strlen(root);
    const char *s;

    if (strncmp(path, root, n) != 0 || path[n] != '/')
        return 0;
    s = strchr(path + n + 1, '/');
    return s && s[1] && !strchr(s + 1, '/');
}

/*
 * The records of url attachments whose url points into the archive folder (archive: its
 * decoded path "/Odoo/Archive"), appended to want (cap entries) when one of types'
 * models and not listed: an archived record whose folder was deleted in the cloud has
 * no tag left to find it by, and its links must not stay dangling.
 */
static int archive_links(struct odoo *o, const struct cfg *c, const struct plan_type *types,
                         size_t ntypes, const char *archive, const struct mid *listed, size_t nl,
                         struct mid **want, size_t *nw, size_t *cap, struct scan_stats *st,
                         struct err *e)
{
    static const char *const fields[] = {"id", "url", "res_model", "res_id", NULL};
    char *enc = NULL, *dir = NULL;
    cJSON *dom = NULL, *rows = NULL;
    size_t n = strlen(archive);
    int rc = 0;

    dir = malloc(n + 2);
    if (dir) {
        memcpy(dir, archive, n);
        memcpy(dir + n, "/", 2);
        enc = plan_url_for_path("", dir);
    }
    dom = cJSON_CreateArray();
    if (!dir || !enc || !dom ||
        !cJSON_AddItemToArray(dom, scan_leaf("type", "=", cJSON_CreateString("url"))) ||
        !cJSON_AddItemToArray(dom, cJSON_CreateString("|")) ||
        !cJSON_AddItemToArray(dom, scan_leaf("url", "ilike", cJSON_CreateString(enc))) ||
        !cJSON_AddItemToArray(dom, scan_leaf("url", "ilike", cJSON_CreateString(dir)))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = odoo_search_read(o, "ir.attachment", dom, fields, 0, 0, NULL, &rows, e);
    st->odoo_requests++;
    for (int i = 0; rc == 0 && i < cJSON_GetArraySize(rows); i++) {
        const cJSON *row = cJSON_GetArrayItem(rows, i);
        const char *model = scan_json_str(row, "res_model"), *url = scan_json_str(row, "url");
        char *path = url ? plan_path_for_url(c->cloud.url, url) : NULL;
        char tag[300], fid[LINK_FILEID_MAX];
        struct mid m;

        /* the Files app's link by path ("?dir=<folder>&scrollto=<name>"); a web link by
         * file id names no path: its record is found through the previous pass's links */
        if (!path && url && link_parse_web(c->cloud.url, url, fid, &path) != LINK_WEB_PATH) {
            free(path);
            path = NULL;
        }

        if (path && model && strncmp(path, dir, n + 1) == 0) {
            snprintf(tag, sizeof tag, "%s,%ld", model, scan_json_long(row, "res_id"));
            m.model = tag_model(types, ntypes, tag, &m.id);
            if (m.model && !bsearch(&m, listed, nl, sizeof(*listed), cmp_mid)) {
                if (*nw == *cap) {
                    size_t ncap = *cap ? *cap * 2 : 16;
                    struct mid *v = realloc(*want, ncap * sizeof(*v));

                    if (!v)
                        rc = err_set(e, ERR_NOMEM, "out of memory");
                    else
                        *want = v, *cap = ncap;
                }
                if (rc == 0)
                    (*want)[(*nw)++] = m;
            }
        }
        free(path);
    }
out:
    cJSON_Delete(dom);
    cJSON_Delete(rows);
    free(enc);
    free(dir);
    return rc;
}

/* Append the record of tag to want (cap entries) when it is one of types' models and not
 * listed. */
static int want_tag(const struct plan_type *types, size_t ntypes, const char *tag,
                    const struct mid *listed, size_t nl, struct mid **want, size_t *nw, size_t *cap,
                    struct err *e)
{
    struct mid m;

    if (!tag)
        return 0;
    m.model = tag_model(types, ntypes, tag, &m.id);
    if (!m.model || bsearch(&m, listed, nl, sizeof(*listed), cmp_mid))
        return 0;
    if (*nw == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct mid *v = realloc(*want, ncap * sizeof(*v));

        if (!v)
            return err_set(e, ERR_NOMEM, "out of memory");
        *want = v, *cap = ncap;
    }
    (*want)[(*nw)++] = m;
    return 0;
}

int scan_unmatched(struct odoo *o, const struct cfg *c, const struct plan_type *types,
                   size_t ntypes, struct odoo_snap *os, const struct cloud_snap *cs,
                   const struct snap_links *prev, struct scan_stats *st, struct log *lg,
                   struct err *e)
{
    static const char *const name_fields[] = {"id", "display_name", NULL};
    struct mid *listed = NULL, *want = NULL;
    size_t nl = 0, nw = 0, total = 0, capw;
    struct buf root;
    long *ids = NULL, *have = NULL;
    struct scan_rec r;
    cJSON *rows = NULL;
    int rc = 0;

    memset(&r, 0, sizeof(r));
    buf_init(&root, 1 << 16);
    if (!os->complete) {
        os->gone_known = 0; /* a record missing from an incomplete scan may well match */
        return 0;
    }
    rc = scan_root_path(c->cloud.root, &root, e);
    if (rc < 0)
        goto out;
    for (size_t k = 0; k < os->ntypes; k++)
        total += os->types[k].n;
    listed = malloc((total ? total : 1) * sizeof(*listed));
    capw = cs->n ? cs->n : 1;
    want = malloc(capw * sizeof(*want));
    ids = malloc(SCAN_ATT_CHUNK * sizeof(*ids));
    have = malloc(SCAN_ATT_CHUNK * sizeof(*have));
    if (!listed || !want || !ids || !have) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < os->ntypes; k++)
        for (size_t i = 0; i < os->types[k].n; i++) {
            listed[nl].model = os->types[k].v[i].model;
            listed[nl++].id = os->types[k].v[i].id;
        }
    qsort(listed, nl, sizeof(*listed), cmp_mid);
    for (size_t i = 0; rc == 0 && i < cs->n; i++) {
        const struct snap_entry *en = &cs->v[i];

        /* a document folder is two levels under the root */
        if (en->is_dir && depth2(en->path, root.data))
            rc = want_tag(types, ntypes, en->record_tag, listed, nl, &want, &nw, &capw, e);
    }
    /* the records the previous pass linked files to: a document folder deleted in the
     * cloud as its record stops matching leaves no tag, and its url attachments (which
     * point into a type folder, not the archive) must not stay dangling */
    for (size_t i = 0; rc == 0 && prev && i < prev->n; i++) {
        rc = want_tag(types, ntypes, prev->v[i].rec, listed, nl, &want, &nw, &capw, e);
        if (rc == 0)
            rc = want_tag(types, ntypes, prev->v[i].att_rec, listed, nl, &want, &nw, &capw, e);
    }
    if (rc < 0)
        goto out;
    if (c->unmatched.policy == CFG_UNMATCHED_ARCHIVE && c->unmatched.folder) {
        size_t rl = root.len;

        rc = buf_puts(&root, "/");
        if (rc == 0)
            rc = buf_puts(&root, c->unmatched.folder);
        if (rc == 0)
            rc =
                archive_links(o, c, types, ntypes, root.data, listed, nl, &want, &nw, &capw, st, e);
        if (rc == ERR_ACCESS || rc == ERR_INVALID || rc == ERR_NOTFOUND) {
            log_warn(lg, "looking for links into the archive folder: %s; no deletion this pass",
                     e->msg);
            odoo_snap_incomplete(os, "looking for links into the archive folder", e->msg);
            err_clear(e);
            rc = 0;
        }
        if (rc < 0)
            goto out;
        root.len = rl;
        root.data[rl] = '\0';
    }
    qsort(want, nw, sizeof(*want), cmp_mid);
    r.os = os;
    r.e = e;
    for (size_t i = 0; i < nw;) {
        const char *model = want[i].model;
        size_t n = 0, nh = 0;

        /* one model, up to SCAN_ATT_CHUNK distinct ids */
        for (; i < nw && strcmp(want[i].model, model) == 0 && n < SCAN_ATT_CHUNK; i++)
            if (n == 0 || ids[n - 1] != want[i].id)
                ids[n++] = want[i].id;
        /* read ignores active_test (an archived record is read) and leaves deleted ids out */
        rc = odoo_read(o, model, ids, n, name_fields, &rows, e);
        st->odoo_requests++;
        if (rc == 0) {
            for (int j = 0; j < cJSON_GetArraySize(rows) && rc == 0; j++) {
                const cJSON *row = cJSON_GetArrayItem(rows, j);
                long id = scan_json_long(row, "id");

                if (id <= 0 || nh == SCAN_ATT_CHUNK)
                    continue;
                have[nh++] = id;
                rc = odoo_snap_add_unmatched(os, model, id, scan_json_str(row, "display_name"), e);
            }
            cJSON_Delete(rows);
            rows = NULL;
            if (rc < 0)
                goto out;
            st->rows_read += (long)nh;
            /* their attachments, as the scan reads those of matching records */
            rc = scan_atts_of(o, &r, model, have, nh, st, e);
            if (rc == ERR_ACCESS || rc == ERR_INVALID || rc == ERR_NOTFOUND) {
                char what[300];

                snprintf(what, sizeof what,
                         "reading the attachments of %s records that match "
                         "no type",
                         model);
                log_warn(lg, "%s: %s; no deletion this pass", what, e->msg);
                odoo_snap_incomplete(os, what, e->msg);
                err_clear(e);
                rc = 0;
            }
        } else if (rc == ERR_ACCESS || rc == ERR_INVALID || rc == ERR_NOTFOUND) {
            log_warn(lg,
                     "checking whether %s records that match no type still exist: %s; "
                     "their folders are left alone this pass",
                     model, e->msg);
            os->gone_known = 0;
            err_clear(e);
            rc = 0;
        }
        if (rc < 0)
            goto out;
    }
    if (os->unmatched.n)
        log_info(lg, "%zu records tagged on cloud folders match no type but still exist",
                 os->unmatched.n);
out:
    free(r.ids);
    cJSON_Delete(rows);
    free(listed);
    free(want);
    free(ids);
    free(have);
    buf_release(&root);
    return rc;
}
