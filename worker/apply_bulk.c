/*
 * apply_bulk: the small new files of uploads running at the same time, in one
 * Nextcloud bulk request (POST .../remote.php/dav/bulk), a group commit like
 * apply_batch.c's Odoo calls.
 *
 * On Nextcloud every request pays the server's start-up, and a PUT (part file,
 * locks, file cache) costs it several times what a folder listing or a whole
 * bulk request costs: on the real Nextcloud 27 of bench/README.md §6e, under 16
 * jobs, a PUT kept the server busy 2.5 s, a listing 0.46 s, a bulk request of
 * about 7 files 0.56 s. A job queues its path and content; when no upload of the
 * batch is in flight it leads: it takes every file queued (at most
 * DAV_BULK_MAX_FILES). One file alone goes by its create-only PUT, made by the
 * leader (so that the files coming meanwhile queue for the next request).
 * Several: for the files of each folder (a file alone of its folder too) it
 * lists the folder (PROPFIND Depth 1, names only) and leaves out every file
 * whose name is taken there (compared without case, so that the create-only PUT decides any doubt),
 * then sends the rest in one bulk request, and hands each job its answer. Files queued meanwhile go
 * in the next request: nothing waits on purpose.
 *
 * The bulk endpoint writes unconditionally (Folder::newFile): it cannot say
 * "create only". Its files are new ones whose absence the listing saw just
 * before, under their jobs' locks; the window left is the one between the
 * listing and the POST, a few tenths of a second, in which only a person saving
 * a file of exactly that name into a folder odoosync manages could be replaced
 * (Nextcloud keeps the replaced content as a version). Everything else goes by
 * a create-only PUT, exactly as without this file: a file alone, a file whose
 * name is taken, a folder that could not be listed, a file the bulk answer marks
 * failed (its PUT then meets the file if the bulk wrote it: a 412, and the
 * untagged copy of its own content is adopted, as after a PUT killed before its
 * tag), and every file on a server without the bulk endpoint (WebDAV servers
 * other than Nextcloud).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apply_int.h"

#include "banned.h"

struct bulk_wait {
    const char *path;
    const char *data;
    size_t len;
    const char *sha1_hex;
    long long mtime; /* > 0: the modification time the file gets */
    int done;
    int rc; /* 0 written, APPLY_BULK_ALONE, or the code of its own create-only PUT */
    struct dav_result r;
    struct err e;
    struct bulk_wait *next;
};

struct memsrc {
    const struct bulk_wait *w;
    size_t off;
};

static size_t mem_read(char *buf, size_t n, void *ud)
{
    struct memsrc *m = ud;
    size_t left = m->w->len - m->off;

    if (n > left)
        n = left;
    if (n)
        memcpy(buf, m->w->data + m->off, n);
    m->off += n;
    return n;
}

static int mem_rewind(void *ud)
{
    ((struct memsrc *)ud)->off = 0;
    return 0;
}

/* The create-only PUT of w alone, as the job would make it (made here by the leader, so
 * that the uploads coming meanwhile queue for the next bulk request). */
static void put_one(struct dav *d, struct bulk_wait *w)
{
    struct memsrc m = {w, 0};
    struct dav_put_req req;

    memset(&req, 0, sizeof(req));
    req.read = mem_read;
    req.rewind = mem_rewind;
    req.ud = &m;
    req.size = (long long)w->len;
    req.create_only = 1;
    req.sha1_hex = w->sha1_hex;
    req.mtime = w->mtime;
    w->rc = dav_put(d, w->path, &req, &w->r, &w->e);
}

struct bulk_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct bulk_wait *head, *tail;
    int busy;
    long posts, files, alone; /* under mu */
};

int apply_bulk_new(struct bulk_batch **out)
{
    struct bulk_batch *b = calloc(1, sizeof(*b));

    *out = b;
    if (!b)
        return ERR_NOMEM;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    return 0;
}

void apply_bulk_free(struct bulk_batch *b)
{
    if (!b)
        return;
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void apply_bulk_stats(struct bulk_batch *b, long *posts, long *files, long *alone)
{
    pthread_mutex_lock(&b->mu);
    *posts = b->posts;
    *files = b->files;
    *alone = b->alone;
    pthread_mutex_unlock(&b->mu);
}

/* The length of path's folder part ("/a/b" of "/a/b/c"; 0 for "/c"). */
static size_t parent_len(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? (size_t)(s - path) : 0;
}

struct listing {
    struct bulk_wait *list; /* the waiters of one folder: those whose rc is still 0 */
    const char *folder;
    size_t flen;
};

/* A folder's entry: the files of ours whose name it takes go alone. */
static int taken(const struct dav_entry *ent, void *ud)
{
    struct listing *l = ud;

    for (struct bulk_wait *w = l->list; w; w = w->next) {
        if (w->rc == 0 && parent_len(w->path) == l->flen &&
            strncmp(w->path, l->folder, l->flen) == 0 && strcasecmp(ent->path, w->path) == 0)
            w->rc = APPLY_BULK_ALONE;
    }
    return 0;
}

/* List each folder of mine (n waiters): a waiter whose name is taken, or whose folder could
 * not be listed, goes alone; one whose folder is missing gets ERR_NOTFOUND. */
static void look(struct dav *d, struct bulk_wait *mine)
{
    for (struct bulk_wait *w = mine; w; w = w->next) {
        struct listing l;
        struct err e = ERR_INIT;
        char *folder;
        int rc, seen = 0;

        if (w->rc != 0)
            continue; /* going alone already: its folder is not listed for it */
        for (struct bulk_wait *v = mine; v != w && !seen; v = v->next)
            seen = parent_len(v->path) == parent_len(w->path) &&
                   strncmp(v->path, w->path, parent_len(w->path)) == 0;
        if (seen)
            continue; /* its folder was listed with an earlier one's */
        l.list = mine;
        l.flen = parent_len(w->path);
        folder = strndup(w->path, l.flen ? l.flen : 1);
        if (!folder) {
            rc = ERR_NOMEM;
        } else {
            l.folder = w->path;
            rc = dav_list_names(d, folder, taken, &l, &e);
        }
        free(folder);
        if (rc == 0)
            continue;
        for (struct bulk_wait *v = w; v; v = v->next)
            if (v->rc == 0 && parent_len(v->path) == l.flen &&
                strncmp(v->path, w->path, l.flen) == 0)
                v->rc = rc == ERR_NOTFOUND ? ERR_NOTFOUND : APPLY_BULK_ALONE;
    }
}

/* The one waiter of mine whose rc is still 0 goes by its create-only PUT; 0 when there are
 * more (or none). */
static int one_left(struct dav *d, struct bulk_wait *mine)
{
    struct bulk_wait *w, *one = NULL;

    for (w = mine; w; w = w->next) {
        if (w->rc != 0)
            continue;
        if (one)
            return 0;
        one = w;
    }
    if (one)
        put_one(d, one);
    return 1;
}

/* Lead: the waiters of mine (n of them) into the cloud; 1 when a bulk request was sent. */
static long send(struct dav *d, struct bulk_wait *mine)
{
    struct dav_bulk_item *items;
    struct bulk_wait *w;
    struct err e = ERR_INIT;
    size_t k = 0;

    if (one_left(d, mine)) /* nothing to share: its PUT is one request, and no listing */
        return 0;
    look(d, mine);
    for (w = mine; w; w = w->next)
        k += w->rc == 0;
    if (k == 0)
        return 0; /* (one left, its folder listed: a bulk request still costs less than a PUT) */
    items = calloc(k, sizeof(*items));
    if (!items) {
        for (w = mine; w; w = w->next)
            if (w->rc == 0)
                w->rc = APPLY_BULK_ALONE;
        return 0;
    }
    k = 0;
    for (w = mine; w; w = w->next) {
        if (w->rc != 0)
            continue;
        items[k].path = w->path;
        items[k].data = w->data;
        items[k].len = w->len;
        items[k].mtime = w->mtime;
        k++;
    }
    dav_bulk_upload(d, items, k, &e); /* each item says how it went */
    k = 0;
    for (w = mine; w; w = w->next) {
        if (w->rc != 0)
            continue;
        if (items[k].rc == 0 && items[k].via_bulk) {
            w->r.status = 201;
            memcpy(w->r.etag, items[k].etag, sizeof(w->r.etag));
            memcpy(w->r.fileid, items[k].fileid, sizeof(w->r.fileid));
        } else {
            w->rc = APPLY_BULK_ALONE; /* its own PUT looks at what is there (a PUT fallback
                                         of dav_bulk_upload wrote it unconditionally) */
        }
        k++;
    }
    free(items);
    return 1;
}

int apply_bulk_usable(struct apply_conn *c, long long len)
{
    return c->a->bulk && len >= 0 && len <= DAV_BULK_FILE_MAX && dav_bulk_supported(c->dav);
}

int apply_bulk_put(struct apply_conn *c, const char *path, const char *data, size_t len,
                   const char *sha1_hex, long long mtime, struct dav_result *r, struct err *e)
{
    struct bulk_batch *b = c->a->bulk;
    struct bulk_wait me;

    memset(r, 0, sizeof(*r));
    if (!apply_bulk_usable(c, (long long)len))
        return APPLY_BULK_ALONE;
    memset(&me, 0, sizeof(me));
    me.path = path;
    me.data = data;
    me.len = len;
    me.sha1_hex = sha1_hex;
    me.mtime = mtime;
    err_clear(&me.e);
    pthread_mutex_lock(&b->mu);
    if (b->tail)
        b->tail->next = &me;
    else
        b->head = &me;
    b->tail = &me;
    while (!me.done) {
        struct bulk_wait *mine = NULL, **mt = &mine, *w;
        size_t n = 0;
        long posted, files = 0, alone = 0;

        if (b->busy) {
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        b->busy = 1;
        while (b->head && n < DAV_BULK_MAX_FILES) {
            w = b->head;
            b->head = w->next;
            w->next = NULL;
            *mt = w;
            mt = &w->next;
            n++;
        }
        if (!b->head)
            b->tail = NULL;
        pthread_mutex_unlock(&b->mu);
        posted = send(c->dav, mine);
        pthread_mutex_lock(&b->mu);
        for (w = mine; w;) {
            struct bulk_wait *nx = w->next;

            files += w->rc == 0 && posted;
            alone += w->rc == APPLY_BULK_ALONE;
            w->next = NULL;
            w->done = 1;
            w = nx;
        }
        b->posts += posted;
        b->files += files;
        b->alone += alone;
        b->busy = 0;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    *r = me.r;
    if (me.rc < 0)
        *e = me.e;
    return me.rc;
}
