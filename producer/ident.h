/*
 * ident: which attachment a cloud file is, and which record a folder is, where
 * the server gives file ids (oc:fileid: Nextcloud, ownCloud).
 *
 * The tags (dead properties, model.h) are kept by the server per path, and
 * servers differ in how: Nextcloud moves only the exact path moved, so the
 * files and folders inside a moved folder lose theirs (their properties stay
 * at the old paths), and a deleted folder's children's properties stay
 * behind for a later entry at the same path. The file id stays with the file
 * across renames and moves of it and of its parents. So, where both have one,
 * the file id decides and the tag is the fallback:
 *
 *   - a file (or linked sub-folder) without a tag whose file id is the one the
 *     previous pass saw linked to attachment A (plan.links) is A's file: its
 *     att_tag becomes A, and retag is set (the planner tags it again: the
 *     relink of the attachment carries the tag);
 *   - a file without a tag and without such a link, where the previous pass planned
 *     attachment A's upload (a link with no file id yet: the id came with the PUT's
 *     answer), is A's file when it has the upload's size and the modification time the
 *     upload gave it (A's write_date then, to the second): uploads to a server whose urls
 *     are web links write no tag (the url names the file id). retag stays 0;
 *   - a tag A whose link recorded another file id is stale (left behind, or
 *     copied): the file is another one. Its att_tag becomes the attachment its
 *     own file id was linked to (retag), else 0: a new file, linked as a new
 *     attachment, never deleted because of A. stale_att keeps A for messages;
 *   - a folder without a record tag whose file id is the one a document folder
 *     carried when the previous pass listed it (the scan state's folders) is
 *     that record's folder: record_tag is set, retag too; a record tag carried
 *     while the folder that had it then is still there without its tag (told by
 *     its file id) was left behind: it is cleared. Two folders that both carry
 *     the tag are left to the planner (a merge under way).
 *
 * Links that prove no file (SNAP_LINK_GONE) are not used. Without file ids (Apache, others), or
 * without a previous pass, nothing changes: the tags are all there is.
 *
 * ident_resolve() runs after the cloud scan and before the attachments tagged
 * in the cloud are read (pass.c), so those reads and the planner see the
 * resolved tags.
 */
#ifndef ODOOSYNC_IDENT_H
#define ODOOSYNC_IDENT_H

#include <stddef.h>

#include "err.h"
#include "model.h"
#include "state.h"

/* Document folders as the previous pass listed them: file id -> record. */
struct ident_dir {
    char *fileid;
    char *record; /* "model,id" */
};

struct ident_dirs {
    struct ident_dir *v; /* sorted by file id */
    size_t n, cap;
};

/* The record-tagged folders with a file id among the children of prev's folders, and
 * prev's folders told by file id (empty when prev holds none: not Nextcloud / ownCloud,
 * or no state). 0, ERR_NOMEM. */
int ident_dirs_from_state(const struct scan_state *prev, struct ident_dirs *out, struct err *e);
void ident_dirs_release(struct ident_dirs *d);

/*
 * Resolve the tags of cs in place (see above) from the previous pass's links
 * (NULL: unknown) and folders (NULL: none). *nfixed: the entries changed (may be
 * NULL). 0 or ERR_NOMEM.
 */
int ident_resolve(struct cloud_snap *cs, const struct snap_links *prev,
                  const struct ident_dirs *dirs, size_t *nfixed, struct err *e);

/*
 * Remember in next (the scan state this pass saves, its folders) every folder cs told
 * by its file id (retag): the next pass still knows it while the folder waits (a
 * frozen subtree) or until its tag is back.
 */
void ident_note_state(struct scan_state *next, const struct cloud_snap *cs);

#endif
