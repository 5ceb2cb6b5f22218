/*
 * plan_docs_int: what the Documents planner's two files share (not part of plan_docs.h):
 * the pass's planning context (struct pd), its small helpers, and the rules of
 * plan_docs_sync.c that plan_docs.c calls. plan_docs.c places Odoo's tree in the cloud
 * and plans deletions; plan_docs_sync.c the rest of the two-way sync: edits and
 * conflicts, moves and deletions made in the cloud, new cloud entries.
 */
#ifndef ODOOSYNC_PLAN_DOCS_INT_H
#define ODOOSYNC_PLAN_DOCS_INT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "plan_docs.h"

#define DOC_MODEL "documents.document"

struct move {
    char *from, *to;
};

struct pd {
    const struct plan_docs_input *in;
    struct plan *p;
    const char *folder_model;
    const struct snap_entry **tags; /* entries with a doc_tag, by tag */
    size_t ntags;
    const struct snap_entry **paths; /* every entry, by path */
    size_t npaths;
    const struct snap_entry **copies; /* entries whose tag another entry is (a user's
                                         copy took it along), by address */
    size_t ncopies;
    struct move *moves;
    size_t nmoves, capm;
    char **keep; /* tags placed this pass */
    size_t nkeep, capk;
    struct names_set claimed; /* paths planned this pass (case-insensitive) */
    struct job *jobs;
    size_t njobs, capj;
    char **bases; /* the bases planned (for deletions) */
    size_t nbases, capb;
    size_t managed;
    int cloud_ok;        /* this mapping changes the cloud (both, to-cloud) */
    int odoo_ok;         /* this mapping changes Odoo (both, from-cloud) */
    int root_note;       /* the "new entries at the top" message was given */
    size_t odoo_deletes; /* documents archived because the cloud deleted their file */
    int fileids;         /* the server gives file ids (an entry carries one): docs_ident.h */
    int nomem;
};

static inline void msg(struct pd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline char *fmt_or_flag(struct pd *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void msg(struct pd *d, const char *fmt, ...)
{
    struct plan *p = d->p;
    char tmp[1024], *s;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (p->nmessages == p->cap_messages) {
        size_t ncap = p->cap_messages ? p->cap_messages * 2 : 8;
        char **nv = realloc(p->messages, ncap * sizeof *nv);
        if (!nv) {
            d->nomem = 1;
            return;
        }
        p->messages = nv;
        p->cap_messages = ncap;
    }
    s = strdup(tmp);
    if (!s) {
        d->nomem = 1;
        return;
    }
    p->messages[p->nmessages++] = s;
}

static inline char *dup_or_flag(struct pd *d, const char *s)
{
    char *r;

    if (!s)
        return NULL;
    r = strdup(s);
    if (!r)
        d->nomem = 1;
    return r;
}

static inline char *fmt_or_flag(struct pd *d, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        d->nomem = 1;
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static inline struct job *new_job(struct pd *d, enum job_kind k, const char *lock,
                                  const char *reason)
{
    struct job *j;

    if (d->njobs == d->capj) {
        size_t ncap = d->capj ? d->capj * 2 : 64;
        struct job *nv = realloc(d->jobs, ncap * sizeof *nv);
        if (!nv) {
            d->nomem = 1;
            return NULL;
        }
        d->jobs = nv;
        d->capj = ncap;
    }
    j = &d->jobs[d->njobs++];
    job_init(j);
    j->kind = k;
    j->side = JOB_SIDE_CLOUD;
    j->created_at = j->version = d->in->version;
    j->size = -1;
    j->lock = dup_or_flag(d, lock);
    j->reason = dup_or_flag(d, reason);
    return j;
}

static inline const struct snap_entry *find_path(const struct pd *d, const char *path)
{
    size_t lo = 0, hi = d->npaths;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(d->paths[mid]->path, path);
        if (r == 0)
            return d->paths[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static inline int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static inline int is_sha1(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 40;
}

static inline const char *etag_opaque(const char *t)
{
    return t && t[0] == 'W' && t[1] == '/' ? t + 2 : t;
}

/* Whether tag ("<folder model>,<id>") names an active Documents folder. */
static inline int live_folder(const struct pd *d, const char *tag)
{
    const char *comma = strrchr(tag, ',');
    const struct docs_folder *f;

    if (!comma || (size_t)(comma - tag) != strlen(d->folder_model))
        return 0;
    f = docs_folder_by_id(d->in->ds, strtol(comma + 1, NULL, 10));
    return f && f->active;
}

static inline int cmp_prev(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct plan_docs_prev *)elem)->tag);
}

static inline int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline int kept(const struct pd *d, const char *tag)
{
    return bsearch(&tag, d->keep, d->nkeep, sizeof *d->keep, cmp_str) != NULL;
}

static inline int cmp_ptr(const void *a, const void *b)
{
    const void *x = *(const void *const *)a, *y = *(const void *const *)b;
    return x < y ? -1 : x > y;
}

/* Whether en carries a Documents tag that another entry is: a copy, a new entry. */
static inline int is_copy(const struct pd *d, const struct snap_entry *en)
{
    return d->ncopies && bsearch(&en, d->copies, d->ncopies, sizeof *d->copies, cmp_ptr);
}

/* Whether en carries any odoosync tag. */
static inline int tagged(const struct snap_entry *en)
{
    return (en->doc_tag && *en->doc_tag) || (en->record_tag && *en->record_tag) ||
           (en->type_tag && *en->type_tag) || en->att_tag > 0;
}

/* ---- plan_docs.c ---- */

/* The first cloud entry tagged tag (of the wanted kind), or NULL. */
const struct snap_entry *find_tag(const struct pd *d, const char *tag, int is_dir);
/* path after the moves planned so far (malloc'd; NULL and d->nomem when out of memory). */
char *eff_path(struct pd *d, const char *path);
/* path is planned this pass (no other entry aims at it). 0 or ERR_NOMEM. */
int claim(struct pd *d, const char *path);
/* tag is placed this pass (its cloud entry is not deleted). 0 or ERR_NOMEM. */
int pd_keep(struct pd *d, const char *tag);

/* ---- plan_docs_sync.c ---- */

/* A synced file at its place: copy an edit to the other side; both edited: keep both. */
int pd_edits(struct pd *d, const struct docs_file *f, const struct snap_entry *en, const char *path,
             const char *tag, const char *lock);
/* Whether the document's file was deleted in the cloud (the previous pass saw it). */
int pd_cloud_deleted(const struct pd *d, const struct docs_file *f, const char *tag);
/* A file / folder the cloud moved while Odoo did not: Odoo follows (1), or not (0). */
int pd_follow_file(struct pd *d, const struct docs_file *f, const struct snap_entry *en,
                   const char *cur, const char *want, const char *tag, const char *lock);
int pd_follow_folder(struct pd *d, const struct docs_folder *f, const struct snap_entry *en,
                     const char *want, const char *tag, const char *lock);
/* The untagged entries in the cloud folder path become Documents records in folder fid. */
int pd_new_from_cloud(struct pd *d, long fid, const char *path, const char *lock);
/* A file whose document is gone but which the cloud edited: kept (1), planned as new. */
int pd_edited_gone(struct pd *d, const struct snap_entry *en);
/* On a server with file ids, a file whose document is gone and whose tag the previous pass
 * did not see on its file id: kept (1), planned as new; 0 when it may be deleted. */
int pd_unproven_gone(struct pd *d, const struct snap_entry *en);
/* An upload of document f's content to path (tagged tag, checked against its checksum).
 * NULL when out of memory. */
struct job *pd_upload_job(struct pd *d, const struct docs_file *f, const char *path,
                          const char *tag, const char *lock, const char *reason);
/* A file at its place told by its file id (doc_retag), unedited: tagged again (an upload
 * that adopts it, create-only). 1 when planned. */
int pd_retag_file(struct pd *d, const struct docs_file *f, const struct snap_entry *en,
                  const char *path, const char *tag, const char *lock);
/* A Documents folder the cloud deleted: archived in Odoo with what it holds (1), or kept
 * (0: it is made again) when something in it changed in Odoo since the previous pass. */
int pd_folder_deleted(struct pd *d, const struct docs_folder *f, const char *want,
                      const char *lock);

#endif
