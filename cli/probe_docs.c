/*
 * probe_docs: `odoosync check`'s Documents lines (probe.h, probe_documents): the shape
 * the server has (fields_get), what the user sees of the app, and each enabled mapping
 * resolved to its folder, with what lies under it and where it goes in the cloud.
 *
 *   docs   ok    Documents: Odoo 16/17 shape (folders in documents.folder), 4 folders,
 *                7 files (1 url, 1 request: not synced), 35 ms
 *   map    ok    [0] "Finance" -> Odoo/Documents/Finance (both): folder 3, 2 sub-folders,
 *                5 files
 *   map    FAIL  [1] "Legal": documents.mappings[1]: no Documents folder "Legal" at the
 *                top (the folders there: "Finance", "HR")
 *
 * The first failure is returned (e names it): the app missing is ERR_PROTO (not what the
 * configuration says), a mapped folder missing ERR_NOTFOUND, Odoo's refusals as they come.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "docs.h"
#include "odoo.h"
#include "pass.h"
#include "probe.h"

#include "banned.h"

static long long docs_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int map_line(const struct cfg *c, const struct docs_snapshot *s, size_t i, struct buf *line,
                    struct err *e)
{
    const struct cfg_docmap *m = &c->documents.maps[i];
    const struct docs_folder *f;
    struct docs_count n;
    struct err me = ERR_INIT;
    char cloud[1024];
    long id = 0;
    int rc = docs_resolve(c, s, i, &id, &me);

    if (rc == 0) {
        f = docs_folder_by_id(s, id);
        rc = cfg_docmap_cloud(c, i, f ? f->name : NULL, cloud, sizeof(cloud), &me);
    }
    if (rc < 0) {
        buf_printf(line, "\nmap    FAIL  [%zu] \"%s\": %s", i, m->odoo, me.msg);
        return err_set(e, rc, "%s", me.msg);
    }
    docs_count_under(s, id, &n);
    buf_printf(line, "\nmap    ok    [%zu] \"%s\" -> %s/%s (%s): ", i, m->odoo, c->cloud.root,
               cloud, cfg_direction_name(m->direction));
    if (id)
        buf_printf(line, "folder %ld, %zu sub-folder%s", id, n.folders, n.folders == 1 ? "" : "s");
    else
        buf_printf(line, "every folder, %zu folder%s", n.folders, n.folders == 1 ? "" : "s");
    buf_printf(line, ", %zu file%s", n.files, n.files == 1 ? "" : "s");
    if (n.urls || n.requests)
        buf_printf(line, " (%zu url, %zu request%s: not synced)", n.urls, n.requests,
                   n.requests == 1 ? "" : "s");
    return 0;
}

int probe_documents(const struct cfg *c, struct log *lg, const volatile sig_atomic_t *stop,
                    struct buf *line, struct err *e)
{
    struct odoo_opts oo;
    struct odoo *o = NULL;
    struct docs_snapshot s;
    struct docs_count n;
    enum docs_shape shape = DOCS_SHAPE_NONE;
    long long t0 = docs_mono_ms();
    size_t nmaps = 0;
    int rc;

    memset(&s, 0, sizeof(s));
    pass_odoo_opts(c, lg, &oo);
    oo.retries = -1;
    oo.stop = stop;
    o = odoo_new(&oo, e);
    if (!o)
        return e->code ? e->code : ERR_NOMEM;
    rc = odoo_connect(o, e);
    if (rc < 0) {
        err_prefix(e, "odoo at %s", c->odoo.url);
        goto out;
    }
    rc = docs_detect_shape(o, &shape, e);
    if (rc == 0 && shape == DOCS_SHAPE_NONE)
        rc = err_set(e, ERR_PROTO,
                     "documents.enabled is true, but Odoo at %s has no Documents app "
                     "(documents.document does not exist)",
                     c->odoo.url);
    if (rc == 0)
        rc = docs_scan(o, shape, &s, e);
    if (rc < 0)
        goto out;
    docs_count_under(&s, 0, &n);
    buf_printf(line, "docs   ok    Documents: %s, %zu folder%s, %zu file%s", docs_shape_name(shape),
               n.folders, n.folders == 1 ? "" : "s", n.files, n.files == 1 ? "" : "s");
    if (n.urls || n.requests)
        buf_printf(line, " (%zu url, %zu request%s: not synced)", n.urls, n.requests,
                   n.requests == 1 ? "" : "s");
    buf_printf(line, ", %lld ms", docs_mono_ms() - t0);
    for (size_t i = 0; i < c->documents.nmaps; i++) {
        struct err me = ERR_INIT;
        int mrc;

        if (!c->documents.maps[i].enabled)
            continue;
        nmaps++;
        mrc = map_line(c, &s, i, line, &me);
        if (mrc < 0 && rc == 0)
            rc = err_set(e, mrc, "%s", me.msg);
    }
    if (nmaps == 0) {
        /* no mapping: every folder under documents.folder */
        buf_printf(line, "\nmap    ok    every folder -> %s/%s (both)", c->cloud.root,
                   c->documents.folder);
    }
out:
    docs_snapshot_release(&s);
    odoo_free(o);
    return rc;
}
