/*
 * model: the snapshots the planner compares, as plain data.
 *
 * A pass scans both sides into two snapshots, then plan_build() (plan.h)
 * compares them with the configuration (struct plan_input) and produces
 * jobs. The snapshots know nothing about HTTP or JSON: the scans fill them,
 * and tests build them by hand with the same adders.
 *
 *   struct odoo_snap   per document type (same index as plan_input.types),
 *                      the records matching its domain, in the order Odoo
 *                      gave them; the attachments of those records and the
 *                      stand-alone ones (res_model NULL), without content.
 *                      The scan may also add attachments it read because a
 *                      cloud file is tagged with their id (so a file moved
 *                      between folders is recognised); the planner handles
 *                      any attachment, whatever its record.
 *                      `unmatched`: records tagged on a cloud document
 *                      folder that match no type but still exist in Odoo
 *                      (un-flagged, cancelled, archived), with their
 *                      attachments among `atts`; every other record tagged
 *                      on a folder and listed nowhere is deleted in Odoo,
 *                      unless gone_known = 0 (the check failed: then none is
 *                      taken for deleted).
 *   struct cloud_snap  every entry under the root: path, folder or file,
 *                      ETag, size, the server's file id where it has one
 *                      (oc:fileid) and the three odoosync dead properties
 *                      ({urn:odoosync}attachment / record / type).
 *   struct snap_links  what the previous pass saw linked (optional, NULL when
 *                      unknown: first pass, lost state): per attachment, the
 *                      file it was linked to and the records on both sides.
 *
 * Paths: absolute under the DAV base, '/'-separated, decoded (not
 * percent-encoded), without a trailing slash: "/Odoo/Quotations/SO019/a.png".
 * The root entry itself may be present or not.
 *
 * `complete` flags: a scan that stopped early (error, timeout, cap) leaves
 * complete = 0; the planner then plans no deletion at all.
 *
 * Ownership: every string in a snapshot is owned by it (the adders copy
 * their arguments) and freed by *_release(). Structs on the stack:
 * *_init() then *_release().
 */
#ifndef ODOOSYNC_MODEL_H
#define ODOOSYNC_MODEL_H

#include <stddef.h>

#include "err.h"

/* Direction of a document type (config "direction"). */
enum plan_direction {
    PLAN_DIR_BOTH = 0,  /* both ways */
    PLAN_DIR_TO_CLOUD,  /* Odoo -> cloud only: never an Odoo-side job */
    PLAN_DIR_FROM_CLOUD /* cloud -> Odoo only: never a cloud-side job */
};

/* One configured document type; strings borrowed from the configuration. */
struct plan_type {
    const char
        *folder;       /* type folder name as configured ("Quotations"); sanitised by the planner */
    const char *model; /* "sale.order" */
    enum plan_direction direction;
    int scan_ok; /* 0 when Odoo answered an error (AccessError, bad domain) for this type */
};

/* A record that still exists but matches no type (odoo_snap.unmatched): config "unmatched". */
enum plan_unmatched {
    PLAN_UNMATCHED_KEEP = 0, /* its folder stays where it is, untouched */
    PLAN_UNMATCHED_ARCHIVE   /* its folder moves to <root>/<archive_folder> */
};
struct snap_links;

/* What a pass plans with, besides the two snapshots. Strings borrowed. */
struct plan_input {
    const char *root;              /* root folder: "Odoo" or a path "Shared/Odoo" */
    const char *standalone_folder; /* "Stand Alone Attachments" */
    int standalone_enabled;
    double max_delete_share; /* 0.5: refuse a pass deleting more than half of what it manages */
    int force_deletes;       /* --force-deletes: plan deletions even when refused */
    const char
        *url_base; /* DAV base of `url` attachments: "https://cloud/remote.php/dav/files/u" */
    const struct plan_type *types; /* in priority order (first matching type wins) */
    size_t ntypes;
    long long version; /* the pass's timestamp in ms: job.version and job.created_at */
    enum plan_unmatched unmatched;
    const char *archive_folder;    /* "Archive" (PLAN_UNMATCHED_ARCHIVE) */
    const struct snap_links *prev; /* what the previous pass saw linked (sorted by att_id);
                                      NULL: unknown (first pass, lost state) */
    /* cloud.link_form (common/link.h): 1 = a url attachment holds the server's web link
     * (<root>/index.php/f/<file id>) where its file has a file id, 0 = the DAV url;
     * link_web_warn: say when a file has no id (the web form was asked for) */
    int link_web, link_web_warn;
};

/* A record matching a type. */
struct snap_record {
    char *model;
    long id;
    char *display_name; /* may be NULL (Odoo's False): the folder is then named by the id */
};

enum snap_att_type { SNAP_ATT_BINARY = 0, SNAP_ATT_URL };

/* An ir.attachment, without its content. */
struct snap_att {
    long id;
    char *name;
    enum snap_att_type type;
    char *url;       /* url attachments; NULL otherwise */
    char *res_model; /* NULL for a stand-alone attachment */
    long res_id;
    char *checksum; /* sha1 hex of the content (binary), may be NULL */
    long long file_size;
    char *write_date; /* "2024-05-01 10:00:00" as Odoo gives it */
    char *mimetype;
    int technical; /* not a document (att.h): never uploaded, converted, renamed or deleted */
};

struct snap_record_list {
    struct snap_record *v;
    size_t n, cap;
};

struct odoo_snap {
    struct snap_record_list *types; /* ntypes lists, index = plan_input.types index */
    size_t ntypes;
    struct snap_att *atts;
    size_t natts, cap_atts;
    int complete;         /* 1 when every page of every scan was read */
    char *incomplete_why; /* complete = 0: why (the first reason: the read, the model and
                             Odoo's message), said with the plan's verdict; may be NULL */
    struct snap_record_list unmatched; /* exist in Odoo, tagged on a folder, match no type */
    int gone_known; /* 1 (default): a tagged record listed nowhere is deleted in Odoo;
                       0: unknown (the existence check failed), none is taken for deleted */
};

/* One entry of the cloud tree. */
struct snap_entry {
    char *path; /* "/Odoo/Quotations/SO019/a.png" */
    int is_dir;
    char *etag; /* may be NULL */
    long long size;
    long att_tag;     /* {urn:odoosync}attachment, 0 if none */
    char *record_tag; /* {urn:odoosync}record "sale.order,19", NULL if none */
    char *type_tag;   /* {urn:odoosync}type = type folder name, NULL if none */
    char *fileid;     /* oc:fileid (Nextcloud / ownCloud): the server's identity of the
                         file, stable across renames and moves; NULL where there is none */
    char *doc_tag;    /* {urn:odoosync}document "documents.document,12" (Odoo's Documents
                         app, producer/plan_docs.c), NULL if none */
    char *synced;     /* {urn:odoosync}synced "<sha1> <etag>": a Documents file's content and
                         ETag when both sides last had the same bytes, NULL if none */
    long long mtime;  /* getlastmodified, Unix seconds; 0 unknown */
    /* set by ident_resolve() (ident.h), where the server gives file ids: */
    int retag;      /* att_tag / record_tag is the one its file id proves, not the server's
                       (lost when a parent folder moved): the entry is to be tagged again */
    long stale_att; /* the attachment tag the server gave, cleared: another file's (0: none) */
    /* set by docs_ident_resolve() (docs_ident.h), for Odoo's Documents app: */
    int doc_retag;   /* doc_tag (and synced) is the one its file id proves, not the server's */
    char *stale_doc; /* the document tag the server gave, cleared: another entry's (NULL) */
};

/*
 * A folder that held an entry left out of a listing (a control character in its
 * name): the entry could be a linked file renamed, so the Odoo-side deletions of
 * url attachments whose file was in that folder are withheld (plan.h).
 */
struct snap_left_out {
    char *folder; /* decoded path, as entry paths: "/Odoo/Quotations/SO019" */
    int below;    /* the entry left out is a folder (or lies under one): a file anywhere
                     below `folder` could be in it */
};

struct cloud_snap {
    struct snap_entry *v;
    size_t n, cap;
    int complete;
    long skipped;             /* entries left out of listings (a control character in the name) */
    struct snap_left_out *lo; /* the folders that held them, each once */
    size_t nlo, cap_lo;
};

/*
 * One link as a pass saw it: attachment att_id and the cloud file (or linked
 * sub-folder) it was linked to. The next pass reads it back to tell
 *   - whether a file tagged with an attachment that is gone is the file that
 *     was linked to it (its file id, else its path, size and ETag): only then
 *     is it deleted (a tag can be stale, or copied along with the file);
 *   - which side moved an attachment whose file sits in another record's
 *     folder: Odoo (res_model/res_id changed since) or the cloud (the file
 *     changed folders since).
 * Records are "model,id", NULL for the stand-alone folder / attachment.
 */
struct snap_link {
    long att_id;
    char *path;      /* where the file is after the pass's jobs (its folder renamed or moved) */
    char *etag;      /* as scanned (a rename keeps it), may be NULL */
    long long size;  /* SNAP_LINK_GONE: an upload whose file was gone before a pass saw its
                        file id (a server with file ids): kept for its records only, proves
                        no file; -1 for a folder */
    char *fileid;    /* oc:fileid, NULL where the server has none */
    char *rec;       /* the record whose folder holds the file after the pass (the link's
                        intended record: both sides agree on it once the jobs are applied) */
    char *att_rec;   /* the attachment's record as scanned */
    char *file_rec;  /* the record of the folder the file was scanned in */
    long long mtime; /* an upload: the modification time it gives the file (the
                        attachment's write_date, Unix seconds), 0 none */
};

#define SNAP_LINK_GONE (-2LL)

/* Links sorted by (att_id, path): one per attachment, and att_id 0 for files linked
 * as new attachments by the pass (their id is given by Odoo when the job runs), by path. */
struct snap_links {
    struct snap_link *v;
    size_t n, cap;
};

/*
 * Make room for element n of the array *v (capacity *cap, elements of size bytes),
 * doubling it when full: 0 or ERR_NOMEM (*v unchanged then). Shared by the
 * snapshot and scan-state arrays.
 */
int snap_grow(void **v, size_t *cap, size_t n, size_t size);

/* The rows hold char * and their adders copy: this only lends a const string to a row
 * that is passed to an adder (never freed, never written through). */
static inline char *snap_lend(const char *s)
{
    union {
        const char *c;
        char *m;
    } u;

    u.c = s;
    return u.m;
}

/* strdup that keeps NULL; *ok cleared on allocation failure. */
char *snap_dup(const char *s, int *ok);
/* Deep copies (every string duplicated, NULLs kept): 0, or ERR_NOMEM with nothing
 * left to free. Shared by the snapshots and the scan state. */
int snap_att_copy(struct snap_att *dst, const struct snap_att *src);
int snap_entry_copy(struct snap_entry *dst, const struct snap_entry *src);
int snap_link_copy(struct snap_link *dst, const struct snap_link *src);
/* Free the strings of one row (not the row itself). */
void snap_att_free(struct snap_att *a);
void snap_entry_free(struct snap_entry *en);
void snap_link_free(struct snap_link *l);

/* Append a deep copy of *l (keep the order, or call snap_links_sort). 0 or ERR_NOMEM. */
int snap_links_add(struct snap_links *s, const struct snap_link *l);
/* The order of links: att_id, then path. */
int snap_link_cmp(const struct snap_link *a, const struct snap_link *b);
void snap_links_sort(struct snap_links *s);
/* Binary search (s sorted) of att_id > 0; NULL when absent or s is NULL. */
const struct snap_link *snap_links_find(const struct snap_links *s, long att_id);
/* The att_id 0 link at path (a file the pass linked as a new attachment), or NULL. */
const struct snap_link *snap_links_find_new(const struct snap_links *s, const char *path);
void snap_links_release(struct snap_links *s);

/* ntypes empty record lists, no attachment, complete = 1, gone_known = 1. 0 or ERR_NOMEM. */
int odoo_snap_init(struct odoo_snap *s, size_t ntypes, struct err *e);
void odoo_snap_release(struct odoo_snap *s);
/* Append a record to type `type` (copies the strings). 0, ERR_INVALID (bad index), ERR_NOMEM. */
int odoo_snap_add_record(struct odoo_snap *s, size_t type, const char *model, long id,
                         const char *display_name, struct err *e);
/* Append a record to `unmatched` (copies the strings). 0, ERR_INVALID, ERR_NOMEM. */
int odoo_snap_add_unmatched(struct odoo_snap *s, const char *model, long id,
                            const char *display_name, struct err *e);
/* Append a deep copy of *a. 0 or ERR_NOMEM. */
int odoo_snap_add_att(struct odoo_snap *s, const struct snap_att *a, struct err *e);
/*
 * The scan is incomplete (complete = 0): what (the read that failed) and why (Odoo's
 * message, which names the model and the call), kept as "<what>: <why>" when it is the
 * first reason (out of memory: only complete = 0).
 */
void odoo_snap_incomplete(struct odoo_snap *s, const char *what, const char *why);

/* Empty snapshot, complete = 1. */
void cloud_snap_init(struct cloud_snap *s);
void cloud_snap_release(struct cloud_snap *s);
/* Append a deep copy of *en (a trailing '/' of the path is dropped). 0, ERR_INVALID, ERR_NOMEM. */
int cloud_snap_add(struct cloud_snap *s, const struct snap_entry *en, struct err *e);
/* Note that folder held an entry left out (once per folder; below is or-ed). 0, ERR_INVALID,
 * ERR_NOMEM. */
int cloud_snap_add_left_out(struct cloud_snap *s, const char *folder, int below, struct err *e);

#endif
