/*
 * scan_cloud: see scan_cloud() in scan.h. The cloud walk is a small work queue:
 * folders still to list, a count of listings in flight, and N threads with a
 * WebDAV handle each. A thread takes a folder, lists it with Depth 1, adds its
 * entries to the snapshot and its sub-folders to the queue. The walk ends when
 * the queue is empty and nothing is in flight, or at the first error (the
 * snapshot is then marked incomplete and the error returned).
 */
#include "scan.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "scan_int.h"

#include "banned.h"

#define SCAN_PROGRESS_MS 3000

struct walk {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **queue;
    size_t nq, capq;
    int busy;   /* listings in flight */
    int failed; /* first error stops everyone */
    struct err err;
    struct cloud_snap *cs;
    const char *root; /* "/Odoo" */
    struct scan_stats *st;
    struct log *lg;
    long long t0, last_progress;
    const struct dav_opts *opts;
    /* ETag reuse (Nextcloud/ownCloud): both NULL on other servers */
    const struct scan_state *prev;
    struct scan_state *next;
    const char *root_etag; /* from the stat of the root (its listing skips itself) */
};

struct walk_list {
    struct walk *w;
    const char *dir;  /* the folder being listed (skipped in its own listing) */
    int want_subdirs; /* queue sub-folders (Depth 1 walk) */
    struct err *e;
    char *self_etag;          /* the listed folder's own ETag (ETag reuse) */
    struct state_dir listing; /* its children as listed (ETag reuse) */
    int left_out_rc;          /* ERR_NOMEM when a left-out entry could not be noted */
};

static int walk_push(struct walk *w, const char *path)
{
    char *s = strdup(path);

    if (!s)
        return ERR_NOMEM;
    if (w->nq == w->capq) {
        size_t cap = w->capq ? w->capq * 2 : 64;
        char **q = realloc(w->queue, cap * sizeof(*q));

        if (!q) {
            free(s);
            return ERR_NOMEM;
        }
        w->queue = q;
        w->capq = cap;
    }
    w->queue[w->nq++] = s;
    return 0;
}

static int walk_need(const char *path, void *ud)
{
    return walk_push(ud, path);
}

static int parse_tag_id(const char *s)
{
    char *end = NULL;
    long v;

    if (!s || !*s)
        return 0;
    v = strtol(s, &end, 10);
    return (end && *end == '\0' && v > 0 && v < 0x7fffffff) ? (int)v : 0;
}

/* Called with w->mu NOT held; takes it to add to the snapshot. */
static int on_entry(const struct dav_entry *en, void *ud)
{
    struct walk_list *wl = ud;
    struct walk *w = wl->w;
    struct snap_entry s;
    size_t rl = strlen(w->root);
    int rc = 0;

    /* Only what is strictly under the root, and not the listed folder itself. */
    if (strncmp(en->path, w->root, rl) != 0 || en->path[rl] != '/' || en->path[rl + 1] == '\0')
        return 0;
    if (wl->dir && strcmp(en->path, wl->dir) == 0) {
        if (w->next && en->etag && !wl->self_etag) {
            wl->self_etag = strdup(en->etag);
            if (!wl->self_etag)
                return err_set(wl->e, ERR_NOMEM, "out of memory");
        }
        return 0;
    }
    memset(&s, 0, sizeof(s));
    s.path = snap_lend(en->path);
    s.is_dir = en->is_dir;
    s.etag = snap_lend(en->etag);
    s.size = en->size;
    s.att_tag = parse_tag_id(en->attachment_tag);
    s.record_tag = snap_lend(en->record_tag);
    s.type_tag = snap_lend(en->type_tag);
    s.doc_tag = snap_lend(en->document_tag);
    s.synced = snap_lend(en->synced_tag);
    s.fileid = snap_lend(en->fileid);
    s.mtime = en->mtime > 0 ? en->mtime : 0;
    if (w->next) {
        rc = state_dir_add_kid(&wl->listing, &s, wl->e);
        if (rc < 0)
            return rc;
    }
    pthread_mutex_lock(&w->mu);
    rc = cloud_snap_add(w->cs, &s, wl->e);
    if (rc == 0 && en->is_dir && wl->want_subdirs) {
        rc = w->prev ? scan_cloud_reuse(w->prev, en->path, en->etag, w->cs, w->next, walk_need, w,
                                        wl->e)
                     : 0;
        if (rc == 0)
            rc = walk_push(w, en->path);
        else if (rc > 0)
            rc = 0;
    }
    w->st->entries++;
    if (scan_mono_ms() - w->last_progress > SCAN_PROGRESS_MS) {
        double secs = (double)(scan_mono_ms() - w->t0) / 1000.0;

        w->last_progress = scan_mono_ms();
        log_info(w->lg, "cloud scan: %ld entries, %zu folders queued, %.0f entries/s",
                 w->st->entries, w->nq, secs > 0 ? (double)w->st->entries / secs : 0.0);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc == ERR_NOMEM)
        return err_set(wl->e, ERR_NOMEM, "out of memory");
    return rc;
}

/* An entry left out of the listing: the folder that held it goes into the snapshot. */
static void on_left_out(const struct dav_left_out *lo, void *ud)
{
    struct walk_list *wl = ud;
    struct walk *w = wl->w;
    struct err e = ERR_INIT;
    int rc;

    pthread_mutex_lock(&w->mu);
    /* where it lies is unknown: anything below the listed folder could be it */
    rc = lo->folder ? cloud_snap_add_left_out(w->cs, lo->folder, lo->is_dir || lo->below, &e)
                    : cloud_snap_add_left_out(w->cs, wl->dir, 1, &e);
    pthread_mutex_unlock(&w->mu);
    if (rc < 0 && wl->left_out_rc == 0)
        wl->left_out_rc = rc;
}

static void *walk_thread(void *arg)
{
    struct walk *w = arg;
    struct err e = ERR_INIT;
    struct dav *d = dav_new(w->opts, &e);

    pthread_mutex_lock(&w->mu);
    if (!d && !w->failed) {
        w->failed = 1;
        w->err = e;
        pthread_cond_broadcast(&w->cv);
    }
    while (d && !w->failed) {
        char *dir;
        struct walk_list wl;
        struct dav_stats ds;
        long skipped;
        int rc;

        if (w->nq == 0) {
            if (w->busy == 0)
                break;
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        dir = w->queue[--w->nq];
        w->busy++;
        w->st->cloud_requests++;
        pthread_mutex_unlock(&w->mu);

        memset(&wl, 0, sizeof(wl));
        wl.w = w;
        wl.dir = dir;
        wl.want_subdirs = 1;
        wl.e = &e;
        dav_stats(d, &ds);
        skipped = ds.skipped;
        rc = dav_propfind_ex(d, dir, 1, on_entry, &wl, on_left_out, &wl, &e);
        if (rc == 0 && wl.left_out_rc < 0)
            rc = err_set(&e, wl.left_out_rc, "out of memory");
        dav_stats(d, &ds);
        skipped = ds.skipped - skipped;
        if (rc == ERR_NOTFOUND && strcmp(dir, w->root) != 0) {
            rc = 0; /* vanished while we walked: the next pass sees it */
            free(wl.self_etag);
            wl.self_etag = NULL; /* and lists it again */
        }

        if (rc == 0 && w->next && !wl.self_etag && w->root_etag && strcmp(dir, w->root) == 0) {
            wl.self_etag = strdup(w->root_etag);
            if (!wl.self_etag)
                rc = err_set(&e, ERR_NOMEM, "out of memory");
        }
        pthread_mutex_lock(&w->mu);
        w->cs->skipped += skipped;
        /* a listing that left entries out is not kept: the next pass lists (and says) again */
        if (rc == 0 && w->next && wl.self_etag && skipped == 0) {
            /* remember this listing for the next pass (ownership of the kids moves) */
            struct state_dir *nd = state_add_dir(w->next, dir, wl.self_etag, &e);

            if (!nd) {
                rc = e.code;
            } else {
                nd->kids = wl.listing.kids;
                nd->n = wl.listing.n;
                nd->cap = wl.listing.cap;
                memset(&wl.listing, 0, sizeof(wl.listing));
            }
        }
        state_dir_release(&wl.listing);
        free(wl.self_etag);
        free(dir);
        w->busy--;
        if (rc < 0 && !w->failed) {
            w->failed = 1;
            w->err = e;
        }
        pthread_cond_broadcast(&w->cv);
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    dav_free(d);
    return NULL;
}

int scan_cloud_reuse(const struct scan_state *prev, const char *path, const char *etag,
                     struct cloud_snap *cs, struct scan_state *next,
                     int (*need)(const char *path, void *ud), void *ud, struct err *e)
{
    const struct state_dir *d = state_find_dir(prev, path);
    struct state_dir *nd;
    int rc;

    if (!d || !etag || !d->etag || strcmp(d->etag, etag) != 0)
        return 0;
    nd = state_add_dir(next, path, etag, e);
    if (!nd)
        return e->code;
    for (size_t i = 0; i < d->n; i++) {
        const struct snap_entry *k = &d->kids[i];

        rc = cloud_snap_add(cs, k, e);
        if (rc == 0)
            rc = state_dir_add_kid(nd, k, e);
        if (rc < 0)
            return rc;
    }
    /* nd may move when next grows: it is not used below */
    for (size_t i = 0; i < d->n; i++) {
        const struct snap_entry *k = &d->kids[i];

        if (!k->is_dir)
            continue;
        rc = scan_cloud_reuse(prev, k->path, k->etag, cs, next, need, ud, e);
        if (rc == 0) {
            rc = need(k->path, ud);
            if (rc < 0)
                return err_set(e, rc, "out of memory");
        }
        if (rc < 0)
            return rc;
    }
    return 1;
}

int scan_cloud(const struct dav_opts *opts, int parallel, const char *root, struct cloud_snap *cs,
               struct scan_stats *st, struct log *lg, struct err *e)
{
    return scan_cloud_state(opts, parallel, root, NULL, NULL, cs, st, lg, e);
}

int scan_root_path(const char *root, struct buf *out, struct err *e)
{
    int rc = buf_printf(out, "/%s", root[0] == '/' ? root + 1 : root);

    if (rc < 0)
        return err_set(e, rc, "root folder name too long");
    while (out->len > 1 && out->data[out->len - 1] == '/')
        out->data[--out->len] = '\0';
    return 0;
}

int scan_cloud_state(const struct dav_opts *opts, int parallel, const char *root,
                     const struct scan_state *prev, struct scan_state *next, struct cloud_snap *cs,
                     struct scan_stats *st, struct log *lg, struct err *e)
{
    struct walk w;
    struct buf rootp;
    struct dav *d = NULL;
    struct dav_stat rs;
    struct dav_opts own = *opts;
    struct dav_share *share = NULL;
    pthread_t th[16];
    int nth = 0;
    int rc;

    memset(&w, 0, sizeof(w));
    memset(&rs, 0, sizeof(rs));
    buf_init(&rootp, 4096);
    if (!own.share) {
        /* the walk's threads share DNS answers and TLS sessions (not connections) */
        share = dav_share_new(e);
        if (!share) {
            rc = e->code ? e->code : ERR_NOMEM;
            goto out;
        }
        own.share = share;
    }
    opts = &own;
    rc = scan_root_path(root, &rootp, e);
    if (rc < 0)
        goto out;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.cs = cs;
    w.root = rootp.data;
    w.st = st;
    w.lg = lg;
    w.opts = opts;
    w.t0 = w.last_progress = scan_mono_ms();

    d = dav_new(opts, e);
    if (!d) {
        rc = e->code ? e->code : ERR_INTERNAL;
        goto destroy;
    }
    if (next) {
        /* ETags tell a changed subtree only where they propagate to the parents */
        enum dav_dialect dl = opts->dialect;

        if (dl == DAV_DIALECT_AUTO) {
            st->cloud_requests++;
            dl = dav_detect(d, e) < 0 ? DAV_DIALECT_GENERIC : dav_dialect(d);
            err_clear(e);
        }
        if (dl == DAV_DIALECT_NEXTCLOUD || dl == DAV_DIALECT_OWNCLOUD) {
            w.next = next;
            w.prev = prev;
        } else {
            log_debug(lg, "cloud scan: %s server, folder ETags do not propagate: full walk",
                      dav_dialect_name(dl));
        }
    }
    rc = dav_stat(d, w.root, &rs, e);
    st->cloud_requests++;
    if (rc == ERR_NOTFOUND) {
        struct dav_stat bs;

        /* a fresh cloud (nothing under the root yet), unless the base url itself is not
         * there: then every job would fail, say it once now */
        err_clear(e);
        memset(&bs, 0, sizeof(bs));
        rc = dav_stat(d, "/", &bs, e);
        st->cloud_requests++;
        dav_stat_release(&bs);
        if (rc == ERR_NOTFOUND)
            err_prefix(e, "the cloud url itself is not found (is cloud.url right?)");
        goto destroy;
    }
    if (rc < 0)
        goto destroy;
    w.root_etag = rs.etag;
    rc = w.prev ? scan_cloud_reuse(w.prev, w.root, rs.etag, cs, w.next, walk_need, &w, e) : 0;
    if (rc == 0)
        rc = walk_push(&w, w.root);
    else if (rc > 0)
        rc = 0;
    if (rc < 0) {
        if (!e->code)
            err_set(e, rc, "out of memory");
        goto destroy;
    }
    if (w.nq == 0)
        goto destroy; /* the whole tree was unchanged */
    if (parallel < 1)
        parallel = 1;
    if (parallel > (int)(sizeof(th) / sizeof(th[0])))
        parallel = (int)(sizeof(th) / sizeof(th[0]));
    for (nth = 0; nth < parallel; nth++)
        if (pthread_create(&th[nth], NULL, walk_thread, &w) != 0)
            break;
    if (nth == 0) {
        rc = err_set(e, ERR_INTERNAL, "cannot start the scan threads");
        goto destroy;
    }
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    if (w.failed) {
        *e = w.err;
        rc = e->code ? e->code : ERR_INTERNAL;
    }
destroy:
    for (size_t i = 0; i < w.nq; i++)
        free(w.queue[i]);
    free(w.queue);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
out:
    if (rc < 0)
        cs->complete = 0;
    st->entries = (long)cs->n; /* listed or reused */
    if (w.next) {
        state_sort(w.next);
        if (rc < 0 || !cs->complete)
            state_clear_dirs(w.next); /* never remember a partial walk */
    }
    st->cloud_ms = scan_mono_ms() - w.t0;
    dav_stat_release(&rs);
    dav_free(d);
    dav_share_free(share); /* after every handle: the threads freed theirs before they ended */
    buf_release(&rootp);
    if (rc == 0) /* a failed scan has no figures to give: its error is the news */
        log_info(lg, "cloud scan: %ld entries in %lld ms, %ld requests", st->entries, st->cloud_ms,
                 st->cloud_requests);
    return rc;
}
