/*
 * plan_int: what the pieces of the planner share, not part of the public API
 * (plan.h). plan.c owns the pass's context (struct ctx) and the helpers below
 * it, steps 1, 2 and 7 of plan_build(); plan_records.c places the records'
 * document folders (step 3), plan_gone.c deletes those of records that are
 * gone (step 4), plan_files.c plans the attachments and the remaining entries
 * of document folders (steps 5 and 6).
 *
 * Everything here works on one struct ctx, which lives for one plan_build()
 * call. Functions that allocate set ctx.nomem when out of memory.
 */
#ifndef ODOOSYNC_PLAN_INT_H
#define ODOOSYNC_PLAN_INT_H

#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "plan.h"

enum { PH_TYPES = 0, PH_DOCS, PH_FILES, PH_ODOO, PH_DOC_DELETE, PH_COUNT };

#define URL_MAX (64 * 1024)

struct jlist {
    struct job *v;
    size_t n, cap;
};

/* A type folder, or the stand-alone folder (the last one when enabled). */
struct tfold {
    const char *raw;              /* configured name = the type tag */
    const char *model;            /* NULL for the stand-alone folder, "" for the archive */
    char *name;                   /* sanitised, unique among type folders */
    char *want;                   /* root + "/" + name */
    const struct snap_entry *cur; /* the folder that holds its documents now, if any */
    const char *tpath;            /* where its documents live after this pass */
    int frozen, cloud_ok, odoo_ok, scan_ok;
    int archive; /* the archive folder: its records are the unmatched ones (odoo_snap.unmatched) */
};

struct rec {
    const struct snap_record *r;
    char *key; /* "model,id" */
    size_t type;
    size_t order; /* position among the records of its type, for stable sorting */
    char *name;   /* unique folder name */
    int frozen;
    long folder; /* index in ctx.df, -1 if none */
    /*
     * pending: its place is held by another document folder (blocker) that may
     * leave it this pass; resolve_pending() plans it after that folder's job, or
     * freezes it. pick: its current folder (NULL: none); want: its place.
     */
    int pending;
    const struct snap_entry *pick, *blocker;
    char *want;
    /* parked: its folder waits at park (a temporary name) while a cycle of names turns */
    int parked;
    char *park;
};

/* A document folder managed this pass (or the stand-alone folder). */
struct dfold {
    const char *cur_path; /* the folder now (its children are read there), NULL if missing */
    char *post;           /* its path after this pass */
    const char *key;      /* record tag, NULL for the stand-alone folder */
    const char *lock;     /* lock (= key) of its jobs: post, or the lock of the job that
                             frees its name this pass (see resolve_pending) */
    int cloud_ok, odoo_ok;
    int names_ready;
    struct names_set names;
};

/* A url attachment and the decoded cloud path its url names. */
struct upath {
    char *path;
    long att_id;
};

struct ctx {
    const struct plan_input *in;
    const struct odoo_snap *os;
    const struct cloud_snap *cs;
    struct plan *p;
    int nomem;
    char *root;
    size_t root_len;
    const struct snap_entry **ents; /* by path */
    size_t nents;
    const struct snap_entry **rtag; /* folders with a record tag, by (tag, path) */
    size_t nrtag;
    const struct snap_entry **atag; /* entries with an attachment tag, by (tag, path) */
    size_t natag;
    unsigned char *claimed;   /* per cloud entry (index in cs->v): handled by an attachment */
    unsigned char *chosen;    /* per cloud entry: the current folder of a record */
    unsigned char *early;     /* per cloud entry: a gone folder deleted in phase 2 (a record
                                 takes its name this pass) */
    const char **early_paths; /* those folders' paths (borrowed from the snapshot) */
    size_t nearly;
    struct tfold *tf;
    size_t ntf;
    long sa; /* index of the stand-alone tfold, -1 */
    long ar; /* index of the archive tfold, -1 (keep policy, or nothing to archive) */
    const struct snap_record **unm; /* os->unmatched by (model, id) */
    struct upath *upaths;           /* url attachments by the decoded path they name (lazy) */
    size_t nupaths;
    int upaths_ready;
    struct rec *recs; /* by (model, id) */
    size_t nrecs;
    struct dfold *df;
    size_t ndf, capdf;
    size_t *df_by_cur; /* indices of df with a cur_path, by cur_path */
    size_t ndf_cur;
    long sa_df;                   /* index of the stand-alone dfold, -1 */
    const struct snap_att **atts; /* by id */
    char **frozen;
    size_t nfrozen, capfrozen;
    struct jlist ph[PH_COUNT];
    size_t managed, del_weight;
    size_t *lo_withheld; /* per cs->lo: Odoo-side deletions withheld for that folder (lazy) */
    char *web_root;      /* the server root web links start with (link.h) */
    const struct snap_entry **fid; /* entries with a file id, by normalised id (lazy) */
    size_t nfid;
    int fid_ready;
    unsigned char *webref; /* per cloud entry: url attachments whose web link names it (max 2) */
    size_t no_fileid;      /* links that had to be DAV urls: the file has no id (link_web_warn) */
    int fileids;           /* the server gives file ids (an entry carries one) */
};

/* ---------- small helpers ---------- */

static inline char *xdup(struct ctx *c, const char *s)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        c->nomem = 1;
    return d;
}

static inline char *join(struct ctx *c, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);

    if (!s) {
        c->nomem = 1;
        return NULL;
    }
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

static inline const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

/* Whether path is dir itself or below it. */
static inline int is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether path's parent folder is exactly dir. */
static inline int parent_is(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0' &&
           strchr(path + n + 1, '/') == NULL;
}

/* Components below the root (0 for the root, -1 when outside). */
static inline int depth(const struct ctx *c, const char *path)
{
    const char *s;
    int d = 1;

    if (strcmp(path, c->root) == 0)
        return 0;
    if (strncmp(path, c->root, c->root_len) != 0 || path[c->root_len] != '/')
        return -1;
    for (s = path + c->root_len + 1; *s; s++)
        if (*s == '/')
            d++;
    return d;
}

static inline size_t eidx(const struct ctx *c, const struct snap_entry *en)
{
    return (size_t)(en - c->cs->v);
}

/* ---------- plan.c: helpers on the context, cloud index ---------- */

/* Append a message to plan.messages (plan_print shows them). */
void plan_add_msg(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Nothing is planned under path this pass (plan_under_frozen). */
int plan_freeze(struct ctx *c, const char *path);
int plan_under_frozen(const struct ctx *c, const char *path);
/* A new job in phase ph (PH_*), owned by c->ph[ph]; NULL when out of memory. */
struct job *plan_new_job(struct ctx *c, int ph, enum job_kind k, enum job_side s, const char *lock,
                         const char *reason);
/* The cloud entry at path, or NULL. */
const struct snap_entry *plan_find_path(const struct ctx *c, const char *path);
/*
 * Range [*lo, *hi) of entries strictly below dir. Entries are in strcmp order,
 * where a sibling such as "dir, x" or "dir-2" sorts between "dir" and "dir/...":
 * the entries below dir are the contiguous run that starts at "dir/".
 */
void plan_range_under(const struct ctx *c, const char *dir, size_t *lo, size_t *hi);
/* Range of att-tagged entries for one attachment id. */
void plan_range_atag(const struct ctx *c, long id, size_t *lo, size_t *hi);
/* Range of record-tagged folders for one record tag ("model,id"). */
void plan_range_rtag(const struct ctx *c, const char *key, size_t *lo, size_t *hi);

/* ---------- plan_url.c: the urls of url attachments ---------- */

/*
 * The url a url attachment should hold for the cloud entry at path (fileid: its
 * server file id, may be NULL): its web link when in->link_web and it has an id,
 * else its DAV url. malloc'd; NULL (c->nomem set) when out of memory.
 */
char *plan_link_for(struct ctx *c, const char *path, const char *fileid);
/*
 * The decoded cloud path url names, in any form (link.h): a DAV url, a web link
 * with a path, or one with a file id (the entry of the snapshot with that id, else
 * the path the previous pass saw attachment att_id's file at, when it had that id).
 * malloc'd; NULL when it names nothing of ours (or out of memory: c->nomem).
 */
char *plan_link_path(struct ctx *c, const char *url, long att_id);
/*
 * Whether url is in the form the pass writes for a file with id fileid (may be
 * NULL): the web link naming that id (any spelling), or a DAV url.
 */
int plan_link_form_ok(struct ctx *c, const char *url, const char *fileid);
/*
 * The entry of the snapshot a web link names by its file id, where the pass writes web
 * links (in->link_web): that file id is the entry's identity, no tag is needed (the
 * uploads of such a server write none: docs/design.md section 4.2). NULL otherwise.
 */
const struct snap_entry *plan_link_entry(struct ctx *c, const char *url);
/*
 * plan_link_entry() for url attachment a, when that is a's file by its id alone: no other
 * url attachment's web link names it, and it is untagged or tagged with a. NULL otherwise
 * (two attachments naming one file prove nothing: the tags and links decide).
 */
const struct snap_entry *plan_link_own(struct ctx *c, const struct snap_att *a);

/* ---------- plan_records.c: step 3 ---------- */

/* The record of model,id this pass, or NULL. */
struct rec *plan_find_rec(const struct ctx *c, const char *model, long id);
/* Find a record from a "model,id" tag. */
struct rec *plan_find_rec_tag(const struct ctx *c, const char *tag, char *model, size_t msize);
/* Give each record its type and folder name; *byid_out: the records by type and id. */
int plan_assign_records(struct ctx *c, struct rec ***byid_out);
/* Delete a folder only while it is empty (the worker looks first): nothing managed goes. */
int plan_delete_empty(struct ctx *c, int ph, const char *path, const char *key, const char *lock,
                      const char *reason);
/* The managed document folder an entry sits directly in, or -1. */
long plan_df_of_entry(const struct ctx *c, const char *path);
/*
 * Place every record's document folder, then those whose place is freed this pass;
 * index the document folders (ctx.df) by their current path.
 */
int plan_place_records(struct ctx *c, struct rec **byid);

/* ---------- plan_gone.c: step 4 ---------- */

/* Why a record-tagged folder is not deleted (plan_gone_folder). */
enum keep_why {
    KEEP_NO = 0,    /* not a document folder of a gone record, or not ours to delete */
    KEEP_SECOND,    /* a live record's second folder */
    KEEP_UNMATCHED, /* its record exists but matches no type (keep policy) */
    KEEP_UNKNOWN,   /* whether its record exists is unknown (the check failed) */
    KEEP_LINKED     /* a live url attachment points into it (*att: which) */
};

/* os->unmatched by (model, id), for telling a gone record from an unmatched one. */
int plan_index_unmatched(struct ctx *c);
/*
 * Whether a record-tagged folder is deleted as gone: two levels under the root,
 * chosen by no record, in a managed type folder (or the archive), and its record
 * is deleted in Odoo. Else *why says why it stays (KEEP_NO: not ours to say);
 * *att: the live url attachment that points into it (KEEP_LINKED).
 */
int plan_gone_folder(struct ctx *c, const struct snap_entry *en, int *why, long *att);
/* Plan the delete of a gone folder en in phase ph. */
int plan_gone_delete(struct ctx *c, const struct snap_entry *en, int ph);
/* A live url attachment whose url names dir or something below it: its id, else 0. */
long plan_linked_into(struct ctx *c, const char *dir);
/* Step 4: delete the gone folders; plan.messages says why the others stay. */
int plan_delete_gone_folders(struct ctx *c);

/* ---------- plan_files.c: steps 5 and 6 ---------- */

/* Step 5: every attachment, by id. */
int plan_atts(struct ctx *c);
/* Step 6: the remaining entries of each document folder. */
int plan_children(struct ctx *c);
/*
 * Links of attachments that are gone, whose tagged files sit where nothing is planned
 * this pass (a frozen subtree: a type folder renamed back, a record waiting for its
 * place): kept, so the pass that plans there still has its proof.
 */
int plan_carry_frozen_links(struct ctx *c);

#endif
