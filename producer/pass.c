/*
 * pass: see pass.h.
 */
#include "pass.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ident.h"
#include "docs.h"
#include "docs_ident.h"
#include "plan_docs.h"
#include "settled.h"

#include "plural.h"

#include "banned.h"

void pass_dav_opts(const struct cfg *c, struct log *lg, struct dav_opts *o)
{
    dav_opts_init(o);
    o->url = c->cloud.url;
    o->user = c->cloud.user;
    o->password = c->cloud.password;
    o->insecure = c->cloud.insecure;
    o->ca_file = c->cloud.ca_file;
    o->log = lg;
    o->dialect = c->cloud.dialect == CFG_DIALECT_GENERIC     ? DAV_DIALECT_GENERIC
                 : c->cloud.dialect == CFG_DIALECT_NEXTCLOUD ? DAV_DIALECT_NEXTCLOUD
                 : c->cloud.dialect == CFG_DIALECT_OWNCLOUD  ? DAV_DIALECT_OWNCLOUD
                                                             : DAV_DIALECT_AUTO;
    /* cloud.timeout_ms bounds the connection and any wait for a byte (the first one
     * or the next one of a stream); a stream that keeps moving may take longer */
    if (c->cloud.timeout_ms > 0) {
        o->connect_timeout_ms = c->cloud.timeout_ms;
        o->stall_ms = c->cloud.timeout_ms;
    }
}

void pass_odoo_opts(const struct cfg *c, struct log *lg, struct odoo_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->url = c->odoo.url;
    o->db = c->odoo.database;
    o->login = c->odoo.login;
    o->password = c->odoo.password;
    o->api_key = c->odoo.api_key;
    o->protocol = c->odoo.protocol == CFG_PROTO_JSONRPC ? ODOO_PROTO_JSONRPC
                  : c->odoo.protocol == CFG_PROTO_JSON2 ? ODOO_PROTO_JSON2
                                                        : ODOO_PROTO_AUTO;
    o->timeout_ms = c->odoo.timeout_ms;
    o->connect_timeout_ms = c->odoo.timeout_ms < 10000 ? c->odoo.timeout_ms : 10000;
    o->insecure = c->odoo.insecure;
    o->ca_file = c->odoo.ca_file;
    o->log = lg;
}

/* Forget the saved listings a job may change without changing an ETag (our tags). */
static void drop_touched(struct scan_state *next, const char *path)
{
    char *p;
    char *slash;

    if (!path || !next->ndirs)
        return;
    p = strdup(path);
    if (!p)
        return;
    state_drop_dir(next, p);
    slash = strrchr(p, '/');
    if (slash && slash != p) {
        *slash = '\0';
        state_drop_dir(next, p);
    }
    free(p);
}

static long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;

    return (x > y) - (x < y);
}

/*
 * Cloud files tagged with an attachment the Odoo scan did not list: the scan
 * reads the attachments of the records that match a type, so an attachment of
 * a record that stopped matching (or a stand-alone one when that folder is off)
 * would look deleted in Odoo, and its file would be deleted. Read those by id:
 * only the ones really gone stay missing. (A moved file keeps its content.)
 */
static int read_tagged(struct odoo *o, struct odoo_snap *os, const struct cloud_snap *cs,
                       struct scan_stats *st, struct log *lg, struct err *e)
{
    long *known = NULL, *want = NULL;
    size_t nk = 0, nw = 0;
    cJSON *recs = NULL;
    int rc = 0;

    known = malloc((os->natts ? os->natts : 1) * sizeof(*known));
    want = malloc((cs->n ? cs->n : 1) * sizeof(*want));
    if (!known || !want) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < os->natts; i++)
        known[nk++] = os->atts[i].id;
    qsort(known, nk, sizeof(*known), cmp_long);
    for (size_t i = 0; i < cs->n; i++) {
        long id = cs->v[i].att_tag;

        if (id > 0 && !bsearch(&id, known, nk, sizeof(*known), cmp_long))
            want[nw++] = id;
    }
    qsort(want, nw, sizeof(*want), cmp_long);
    {
        size_t u = 0;

        for (size_t i = 0; i < nw; i++)
            if (u == 0 || want[u - 1] != want[i])
                want[u++] = want[i];
        nw = u;
    }
    for (size_t off = 0; off < nw; off += 200) {
        size_t k = nw - off < 200 ? nw - off : 200;

        rc = odoo_read(o, "ir.attachment", want + off, k, scan_att_fields(), &recs, e);
        st->odoo_requests++;
        if (rc == ERR_ACCESS || rc == ERR_INVALID) {
            /* cannot tell whether they still exist: plan no deletion this pass */
            log_warn(lg,
                     "reading %zu attachments tagged on cloud files (ir.attachment read): %s; "
                     "no deletion this pass",
                     k, e->msg);
            odoo_snap_incomplete(os, "reading the attachments tagged on cloud files", e->msg);
            err_clear(e);
            rc = 0;
            break;
        }
        if (rc < 0)
            goto out;
        for (int i = 0; i < cJSON_GetArraySize(recs); i++) {
            struct snap_att a;

            scan_att_from_json(cJSON_GetArrayItem(recs, i), &a);
            /* the same id may be tagged on two files: add it once */
            if (a.id > 0) {
                rc = odoo_snap_add_att(os, &a, e);
                if (rc < 0)
                    goto out;
            }
        }
        cJSON_Delete(recs);
        recs = NULL;
    }
out:
    cJSON_Delete(recs);
    free(known);
    free(want);
    return rc;
}

/*
 * The links of the previous pass (state.h), moved out of prev for the planner: only
 * when they are about this Odoo and this cloud (both keys match). *have = 0 otherwise:
 * the planner then knows nothing of the previous pass. 0 or ERR_NOMEM.
 */
static int take_links(const struct cfg *c, struct scan_state *prev, struct snap_links *links,
                      int *have, struct err *e)
{
    char *okey = state_odoo_key(c), *ckey = state_cloud_key(c);
    int rc = 0;

    *have = 0;
    if (!okey || !ckey)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else if (prev->odoo_key && prev->cloud_key && strcmp(prev->odoo_key, okey) == 0 &&
             strcmp(prev->cloud_key, ckey) == 0) {
        *links = prev->links;
        memset(&prev->links, 0, sizeof(prev->links));
        *have = 1;
    }
    free(okey);
    free(ckey);
    return rc;
}

/*
 * Whether nothing changed since the last settled pass (settled.h): 1 when the mark of
 * this configuration (config: its settled_config()) is there, recent enough, and Odoo
 * and the cloud root still give its fingerprint; 0 otherwise (the pass then scans).
 * Only ERR_NOMEM is an error.
 */
static int still_settled(const struct pass_opts *po, const char *spath, struct lock *l,
                         const char *config, struct odoo *o, const struct dav_opts *dopts,
                         struct settled *mark, struct scan_stats *st, struct err *e)
{
    const struct cfg *c = po->cfg;
    struct settled now;
    struct dav_stat rs;
    struct dav *d = NULL;
    struct buf root;
    struct err pe = ERR_INIT;
    long long now_s = (long long)time(NULL), t;
    int rc, same = 0;

    rc = settled_load(spath, l, c, mark, po->log, e);
    if (rc < 0 || !mark->ok)
        return rc;
    if (strcmp(config, mark->config) != 0 || now_s < mark->full_at ||
        now_s - mark->full_at >= SCAN_FULL_EVERY_S) {
        log_debug(po->log, "settled mark not used: %s",
                  strcmp(config, mark->config) != 0 ? "another configuration"
                                                    : "the last full scan is too old");
        return 0;
    }
    settled_init(&now);
    t = mono_ms();
    rc = settled_probe_odoo(o, c, mark->watermark, &now, st, &pe);
    st->odoo_ms = mono_ms() - t; /* the scans' figures are the check's */
    if (rc < 0)
        log_info(po->log, "settled check: %s; scanning", pe.msg);
    else if (!settled_same_odoo(mark, &now))
        log_info(po->log, "odoo changed since the last settled pass: scanning");
    else
        same = 1;
    settled_release(&now);
    if (!same)
        return 0;
    memset(&rs, 0, sizeof(rs));
    buf_init(&root, 1 << 16);
    same = 0;
    rc = scan_root_path(c->cloud.root, &root, &pe);
    if (rc == 0)
        d = dav_new(dopts, &pe);
    if (d) {
        t = mono_ms();
        rc = dav_stat(d, root.data, &rs, &pe);
        st->cloud_ms = mono_ms() - t;
        st->cloud_requests++;
        if (rc == 0 && rs.etag && strcmp(rs.etag, mark->root_etag) == 0)
            same = 1;
        else if (rc == 0)
            log_info(po->log, "the cloud changed since the last settled pass: scanning");
    }
    if (!d || rc < 0)
        log_info(po->log, "settled check of the cloud: %s; scanning", pe.msg);
    dav_stat_release(&rs);
    dav_free(d);
    buf_release(&root);
    return same;
}

/* After a complete pass: leave the settled mark when it planned nothing at all, else
 * remove it (failures only cost the next pass its shortcut: logged). */
static void mark_pass(const struct pass_opts *po, const char *spath, struct lock *l,
                      const struct plan *p, const struct cloud_snap *cs,
                      const struct scan_state *next, struct settled *cap,
                      const struct scan_stats *st)
{
    const struct cfg *c = po->cfg;
    const struct state_dir *rd = NULL;
    struct buf root;
    struct err e = ERR_INIT;
    int rc;

    buf_init(&root, 1 << 16);
    if (scan_root_path(c->cloud.root, &root, &e) == 0)
        rd = state_find_dir(next, root.data);
    /* a listing that left entries out is listed (and said) again by the next pass */
    if (cap->ok && cs->complete && cs->skipped == 0 && p->njobs == 0 &&
        p->verdict == PLAN_VERDICT_OK && p->types_failed == 0 && p->nmessages == 0 && rd &&
        rd->etag && *rd->etag) {
        cap->full_at = next->full_at;
        cap->records = st->records;
        cap->attachments = st->attachments;
        cap->managed = (long)p->managed;
        rc = state_set_str(&cap->root_etag, rd->etag, &e);
        if (rc == 0)
            rc = settled_save(spath, l, c, cap, &e);
        if (rc == 0)
            log_info(po->log, "settled: nothing to do; the next pass checks for changes first");
    } else {
        rc = settled_clear(spath, l, c, &e);
    }
    if (rc < 0)
        log_warn(po->log, "settled mark: %s", e.msg);
    buf_release(&root);
}

/*
 * Odoo's Documents app (documents.enabled): its shape, its tree, and its jobs appended to
 * p (plan_docs.h). An Odoo without the app, or one refusing it, gets a message and an
 * incomplete verdict; the document types are planned as usual.
 */
static int cmp_docs_prev(const void *a, const void *b)
{
    return strcmp(((const struct plan_docs_prev *)a)->tag, ((const struct plan_docs_prev *)b)->tag);
}

static void docs_prev_free(struct plan_docs_prev *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].tag);
        free(v[i].synced);
        free(v[i].path);
        free(v[i].fileid);
    }
    free(v);
}

/* The Documents files the previous pass saw (its "docs", else its saved cloud listing:
 * a state written before "docs"), by tag. */
static int docs_prev_take(const struct scan_state *prev, struct plan_docs_prev **out, size_t *n,
                          struct err *e)
{
    struct plan_docs_prev *v = NULL;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < prev->ndocs; i++) {
        const struct state_doc *sd = &prev->docs[i];

        if (*n == cap) {
            struct plan_docs_prev *nv = realloc(v, (cap ? cap * 2 : 64) * sizeof *nv);
            if (!nv) {
                docs_prev_free(v, *n);
                return err_set(e, ERR_NOMEM, "documents: out of memory");
            }
            v = nv;
            cap = cap ? cap * 2 : 64;
        }
        v[*n].tag = strdup(sd->tag);
        v[*n].synced = sd->synced ? strdup(sd->synced) : NULL;
        v[*n].path = sd->path ? strdup(sd->path) : NULL;
        v[*n].fileid = sd->fileid ? strdup(sd->fileid) : NULL;
        (*n)++;
        if (!v[*n - 1].tag || (sd->synced && !v[*n - 1].synced) || (sd->path && !v[*n - 1].path) ||
            (sd->fileid && !v[*n - 1].fileid)) {
            docs_prev_free(v, *n);
            return err_set(e, ERR_NOMEM, "documents: out of memory");
        }
    }
    for (size_t i = 0; *n == 0 && i < prev->ndirs; i++) {
        const struct state_dir *d = &prev->dirs[i];
        for (size_t k = 0; !d->dropped && k < d->n; k++) {
            const struct snap_entry *en = &d->kids[k];
            if (en->is_dir || !en->doc_tag)
                continue;
            if (*n == cap) {
                struct plan_docs_prev *nv = realloc(v, (cap ? cap * 2 : 64) * sizeof *nv);
                if (!nv) {
                    docs_prev_free(v, *n);
                    return err_set(e, ERR_NOMEM, "documents: out of memory");
                }
                v = nv;
                cap = cap ? cap * 2 : 64;
            }
            v[*n].tag = strdup(en->doc_tag);
            v[*n].synced = en->synced ? strdup(en->synced) : NULL;
            v[*n].path = strdup(en->path);
            v[*n].fileid = en->fileid && *en->fileid ? strdup(en->fileid) : NULL;
            (*n)++;
            if (!v[*n - 1].tag || (en->synced && !v[*n - 1].synced) || !v[*n - 1].path ||
                (en->fileid && *en->fileid && !v[*n - 1].fileid)) {
                docs_prev_free(v, *n);
                return err_set(e, ERR_NOMEM, "documents: out of memory");
            }
        }
    }
    if (*n)
        qsort(v, *n, sizeof *v, cmp_docs_prev);
    *out = v;
    return 0;
}

/*
 * Where the next pass takes a Documents file to have been: where this pass saw it, unless
 * this pass planned Odoo to follow its move in the cloud (a rename odoo with doc: then
 * where it was before, so that a pass whose jobs are not applied, a `plan`, does not
 * forget that the cloud moved it). A cloud rename planned this pass is not recorded
 * either: if it is not applied, the next pass sees Odoo's move again.
 */
static const char *docs_next_path(const struct plan *p, const struct snap_entry *en,
                                  const struct plan_docs_prev *prev, size_t nprev)
{
    for (size_t i = 0; i < p->njobs; i++) {
        const struct job *j = &p->jobs[i];
        if (j->kind != JOB_RENAME || j->side != JOB_SIDE_ODOO || !j->doc ||
            strcmp(j->doc, en->doc_tag) != 0)
            continue;
        {
            const struct plan_docs_prev *pd =
                bsearch(&(struct plan_docs_prev){(char *)en->doc_tag, NULL, NULL, NULL}, prev,
                        nprev, sizeof *prev, cmp_docs_prev);
            return pd && pd->path ? pd->path : en->path;
        }
    }
    return en->path;
}

/*
 * Whether this pass planned the Documents entry en to become a record of its own (a
 * relink odoo job with doc replacing its tag: a user's copy, a conflict's cloud version,
 * or a tag that proves nothing). Such an entry is not recorded under its tag: the next
 * pass must not take it for the record its tag named, nor, if the job does not run, take
 * the record for a proof that the tag is that file's (docs_ident.h).
 */
static int docs_split_planned(const struct plan *p, const struct snap_entry *en)
{
    for (size_t i = 0; i < p->njobs; i++) {
        const struct job *j = &p->jobs[i];
        if (j->kind == JOB_RELINK && j->side == JOB_SIDE_ODOO && j->doc && j->att_id == 0 &&
            j->record && strcmp(j->record, en->doc_tag) == 0 && j->path &&
            strcmp(j->path, en->path) == 0)
            return 1;
    }
    return 0;
}

static int pass_documents(const struct pass_opts *po, struct odoo *o, const struct cloud_snap *cs,
                          const struct plan_docs_prev *prev, size_t nprev, long long version,
                          struct plan *p, struct err *e)
{
    struct docs_snapshot ds;
    struct plan_docs_input in;
    enum docs_shape shape = DOCS_SHAPE_NONE;
    struct err de = ERR_INIT;
    int rc = docs_detect_shape(o, &shape, &de);

    memset(&ds, 0, sizeof(ds));
    if (rc == 0 && shape == DOCS_SHAPE_NONE)
        rc = err_set(&de, ERR_PROTO,
                     "Odoo has no Documents app (documents.document does not exist)");
    if (rc == 0)
        rc = docs_scan(o, shape, &ds, &de);
    if (rc == ERR_NOMEM || rc == ERR_STOPPED) {
        docs_snapshot_release(&ds);
        return err_set(e, rc, "%s", de.msg);
    }
    if (rc < 0) {
        char **nv = realloc(p->messages, (p->nmessages + 1) * sizeof *nv);

        log_warn(po->log, "documents: nothing planned: %s", de.msg);
        docs_snapshot_release(&ds);
        if (!nv)
            return err_set(e, ERR_NOMEM, "documents: out of memory");
        p->messages = nv;
        p->cap_messages = p->nmessages + 1;
        p->messages[p->nmessages] = strdup(de.msg);
        if (!p->messages[p->nmessages])
            return err_set(e, ERR_NOMEM, "documents: out of memory");
        p->nmessages++;
        if (p->verdict == PLAN_VERDICT_OK)
            p->verdict = PLAN_VERDICT_SCAN_INCOMPLETE;
        return 0;
    }
    log_info(po->log, "documents: %s, %zu folders, %zu documents", docs_shape_name(shape),
             ds.nfolders, ds.nfiles);
    memset(&in, 0, sizeof(in));
    in.cfg = po->cfg;
    in.ds = &ds;
    in.ds_complete = 1;
    in.cs = cs;
    in.prev = prev;
    in.nprev = nprev;
    in.version = version;
    in.force_deletes = po->force_deletes;
    in.max_upload = odoo_stream_max(o);
    rc = plan_docs(&in, p, e);
    docs_snapshot_release(&ds);
    return rc;
}

int pass_plan(const struct pass_opts *po, struct plan *p, struct scan_stats *st, struct err *e)
{
    const struct cfg *c = po->cfg;
    struct dav_opts dopts;
    struct odoo_opts oopts;
    struct odoo *o = NULL;
    struct plan_type *types = NULL;
    size_t ntypes = 0;
    struct odoo_snap os;
    struct cloud_snap cs;
    struct plan_input in;
    int os_ready = 0;
    const char *spath = po->state_file ? po->state_file : c->state.file;
    int use_redis = po->state_lock && !(po->state_file && !*po->state_file);
    int use_state = !po->full_scan && (use_redis || (spath && *spath));
    struct scan_state prev, next;
    struct snap_links links; /* the previous pass's links: the planner's view of it */
    int have_links = 0;
    struct settled mark, cap;
    struct plan_docs_prev *docs_prev = NULL;
    size_t ndocs_prev = 0;
    int next_ok = 0;
    long long t0 = mono_ms(), t_state = 0, t_odoo = 0, t_cloud = 0, t_plan = 0, t_save = 0;
    int rc;

    memset(st, 0, sizeof(*st));
    memset(&links, 0, sizeof(links));
    state_init(&prev);
    state_init(&next);
    settled_init(&mark);
    settled_init(&cap);
    cloud_snap_init(&cs);
    pass_dav_opts(c, po->log, &dopts);
    pass_odoo_opts(c, po->log, &oopts);
    dopts.stop = oopts.stop = po->stop;
    rc = scan_types(c, &types, &ntypes, e);
    if (rc < 0)
        goto out;
    rc = odoo_snap_init(&os, ntypes, e);
    if (rc < 0)
        goto out;
    os_ready = 1;
    o = odoo_new(&oopts, e);
    if (!o) {
        rc = e->code ? e->code : ERR_INTERNAL;
        goto out;
    }
    rc = odoo_connect(o, e);
    if (rc < 0) {
        err_prefix(e, "odoo at %s", c->odoo.url);
        goto out;
    }
    if (use_state && !c->documents.enabled) {
        /* the configuration's digest: what a mark is checked against and saved with
         * (not with Documents: the fingerprint does not cover them) */
        rc = settled_config(c, cap.config, e);
        if (rc == 0)
            rc = still_settled(po, spath, use_redis ? po->state_lock : NULL, cap.config, o, &dopts,
                               &mark, st, e);
        if (rc < 0)
            goto out;
        if (rc == 1) {
            rc = 0;
            st->records = mark.records;
            st->attachments = mark.attachments;
            p->managed = (size_t)mark.managed;
            log_info(po->log,
                     "nothing changed since the last settled pass (%ld Odoo and %ld cloud "
                     "requests): nothing to plan",
                     st->odoo_requests, st->cloud_requests);
            goto out;
        }
        rc = use_redis ? state_load_redis(po->state_lock, c, &prev, po->log, e)
                       : state_load(spath, &prev, po->log, e);
        if (rc < 0)
            goto out;
    } else if (use_redis || (spath && *spath)) {
        /* --full-scan: the scans ignore the state, the planner still reads its links */
        rc = use_redis ? state_load_redis(po->state_lock, c, &prev, po->log, e)
                       : state_load(spath, &prev, po->log, e);
        if (rc < 0)
            goto out;
    }
    rc = take_links(c, &prev, &links, &have_links, e);
    if (rc < 0)
        goto out;
    t_state = mono_ms();
    if (use_state) {
        int was_full = 1;
        /* a settled mark needs the root's ETag to mean the whole tree: only where folder
         * ETags propagate (configured, or seen by the last walk), else no fingerprint */
        int propagates = c->cloud.dialect == CFG_DIALECT_NEXTCLOUD ||
                         c->cloud.dialect == CFG_DIALECT_OWNCLOUD ||
                         (c->cloud.dialect == CFG_DIALECT_AUTO && prev.ndirs > 0);

        rc = scan_odoo_inc(o, c, types, ntypes, &prev, &next, propagates ? &cap : NULL, &was_full,
                           &os, st, po->log, e);
        if (rc < 0) {
            /* never worse than a full scan: do one, and keep the old state file */
            log_warn(po->log, "incremental Odoo scan failed (%s); scanning Odoo in full", e->msg);
            err_clear(e);
            odoo_snap_release(&os);
            os_ready = 0;
            rc = odoo_snap_init(&os, ntypes, e);
            if (rc < 0)
                goto out;
            os_ready = 1;
            for (size_t i = 0; i < ntypes; i++)
                types[i].scan_ok = 1;
            st->records = st->attachments = 0;
            rc = scan_odoo(o, c, types, ntypes, &os, st, po->log, e);
        } else {
            next_ok = os.complete;
        }
    } else {
        rc = scan_odoo(o, c, types, ntypes, &os, st, po->log, e);
    }
    if (rc < 0)
        goto out;
    t_odoo = mono_ms();
    if (!next_ok)
        log_info(po->log, "odoo scan (full, no state): %ld %s, %ld %s; %ld rows read, %ld requests",
                 st->records, PLURAL(st->records, "record", "records"), st->attachments,
                 PLURAL(st->attachments, "attachment", "attachments"), st->rows_read,
                 st->odoo_requests);
    {
        char *ckey = use_state ? state_cloud_key(c) : NULL;
        int cloud_prev = ckey && prev.cloud_key && strcmp(prev.cloud_key, ckey) == 0;

        if (ckey && state_set_str(&next.cloud_key, ckey, e) < 0) {
            free(ckey);
            rc = e->code;
            goto out;
        }
        free(ckey);
        rc = scan_cloud_state(&dopts, po->scan_parallel > 0 ? po->scan_parallel : 4, c->cloud.root,
                              cloud_prev ? &prev : NULL, use_state ? &next : NULL, &cs, st, po->log,
                              e);
    }
    if (rc < 0) {
        err_prefix(e, "cloud at %s", c->cloud.url);
        goto out;
    }
    /* identity by file id (ident.h), from the previous pass's links and folders, before
     * the attachments tagged in the cloud are read */
    {
        struct ident_dirs idirs;
        size_t nfixed = 0;

        memset(&idirs, 0, sizeof(idirs));
        rc = have_links ? ident_dirs_from_state(&prev, &idirs, e) : 0;
        if (rc == 0)
            rc = ident_resolve(&cs, have_links ? &links : NULL, &idirs, &nfixed, e);
        ident_dirs_release(&idirs);
        if (rc < 0)
            goto out;
        if (nfixed)
            log_info(po->log, "cloud: %zu %s told by file id, not by tag", nfixed,
                     PLURAL(nfixed, "entry", "entries"));
    }
    /* both scans are done: the previous state (copied where reused) is not needed while
     * planning, which holds the snapshots, the next state and the jobs (the Documents
     * files it listed excepted: they tell a file deleted in the cloud) */
    if (c->documents.enabled && (rc = docs_prev_take(&prev, &docs_prev, &ndocs_prev, e)) < 0)
        goto out;
    state_release(&prev);
    /* before read_tagged: the attachments of records that match no type are read with them */
    rc = scan_unmatched(o, c, types, ntypes, &os, &cs, have_links ? &links : NULL, st, po->log, e);
    if (rc == 0)
        rc = read_tagged(o, &os, &cs, st, po->log, e);
    if (rc < 0)
        goto out;
    t_cloud = mono_ms();
    memset(&in, 0, sizeof(in));
    in.root = c->cloud.root;
    in.standalone_folder = c->standalone.folder;
    in.standalone_enabled = c->standalone.enabled;
    in.max_delete_share = c->safety.max_delete_share;
    in.unmatched =
        c->unmatched.policy == CFG_UNMATCHED_KEEP ? PLAN_UNMATCHED_KEEP : PLAN_UNMATCHED_ARCHIVE;
    in.archive_folder = c->unmatched.folder;
    in.force_deletes = po->force_deletes;
    in.url_base = c->cloud.url;
    in.link_web = c->cloud.link_form != CFG_LINK_DAV;
    in.link_web_warn = c->cloud.link_form == CFG_LINK_WEB;
    in.types = types;
    in.ntypes = ntypes;
    in.version = wall_ms();
    in.prev = have_links ? &links : NULL;
    rc = plan_build(&in, &os, &cs, p, e);
    if (rc == 0 && c->documents.enabled) {
        /* Documents entries told by file id (docs_ident.h), before their planner */
        size_t nfixed = 0;

        rc = docs_ident_resolve(&cs, docs_prev, ndocs_prev, &nfixed, e);
        if (rc == 0 && nfixed)
            log_info(po->log, "documents: %zu cloud %s told by file id, not by tag", nfixed,
                     PLURAL(nfixed, "entry", "entries"));
        if (rc == 0)
            rc = pass_documents(po, o, &cs, docs_prev, ndocs_prev, in.version, p, e);
    }
    t_plan = mono_ms();
    if (rc == 0 && next_ok) {
        struct err se = ERR_INIT;

        /* Our workers tag files and folders with PROPPATCH, which changes no ETag:
         * every folder a planned job touches is listed again next time. */
        for (size_t i = 0; i < p->njobs; i++) {
            drop_touched(&next, p->jobs[i].path);
            drop_touched(&next, p->jobs[i].to);
            drop_touched(&next, p->jobs[i].lock);
        }
        ident_note_state(&next, &cs);
        /* the Documents files this pass saw: the next one tells those the cloud deleted;
         * and those this pass found deleted, until their archive is applied (a `plan`
         * saves its state too, and applies nothing) */
        for (size_t i = 0; c->documents.enabled && i < cs.n && rc == 0; i++)
            if (cs.v[i].doc_tag && (cs.v[i].is_dir || cs.v[i].synced) &&
                !docs_split_planned(p, &cs.v[i]))
                rc = state_add_doc(&next, cs.v[i].doc_tag, cs.v[i].synced,
                                   docs_next_path(p, &cs.v[i], docs_prev, ndocs_prev),
                                   cs.v[i].fileid, e);
        for (size_t i = 0; c->documents.enabled && i < p->njobs && rc == 0; i++) {
            const struct job *j = &p->jobs[i];
            const struct plan_docs_prev *pd;
            if (j->kind != JOB_DELETE || j->side != JOB_SIDE_ODOO || !j->doc)
                continue;
            pd = bsearch(&(struct plan_docs_prev){(char *)j->doc, NULL, NULL, NULL}, docs_prev,
                         ndocs_prev, sizeof *docs_prev, cmp_docs_prev);
            if (pd)
                rc = state_add_doc(&next, pd->tag, pd->synced, pd->path, pd->fileid, e);
        }
        /* what this pass saw linked: the next pass's view of this one */
        snap_links_release(&next.links);
        next.links = p->links;
        memset(&p->links, 0, sizeof(p->links));
        if ((use_redis ? state_save_redis(po->state_lock, c, &next, &se)
                       : state_save(spath, &next, &se)) < 0)
            log_warn(po->log, "scan state not saved (the next pass scans everything): %s", se.msg);
        if (!c->documents.enabled)
            mark_pass(po, spath, use_redis ? po->state_lock : NULL, p, &cs, &next, &cap, st);
    }
    if (rc == 0) {
        t_save = mono_ms();
        log_debug(po->log,
                  "pass took %lld ms: connect and state load %lld, odoo scan %lld, cloud scan "
                  "%lld, plan %lld, state save %lld",
                  t_save - t0, t_state - t0, t_odoo - t_state, t_cloud - t_odoo, t_plan - t_cloud,
                  t_save - t_plan);
    }
out:
    docs_prev_free(docs_prev, ndocs_prev);
    snap_links_release(&links);
    state_release(&prev);
    state_release(&next);
    settled_release(&mark);
    settled_release(&cap);
    odoo_free(o);
    if (os_ready)
        odoo_snap_release(&os);
    cloud_snap_release(&cs);
    free(types);
    return rc;
}
