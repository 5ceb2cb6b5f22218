/*
 * docs_ident: which Documents folder or document a cloud entry is, where the server gives
 * file ids (oc:fileid: Nextcloud, ownCloud): ident.h's rule for Odoo's Documents app.
 *
 * The {urn:odoosync}document tag (and the {urn:odoosync}synced mark) are dead
 * properties, kept per exact path on Nextcloud: the files and folders inside a folder a
 * user moved lose theirs, and a deleted folder's children leave theirs behind for a later
 * entry at the same path. The scan state's "docs" remember each Documents entry's file
 * id (plan_docs_prev.fileid). So, where both have one, the file id decides:
 *
 *   - an entry without a tag whose file id the previous pass saw as document (or folder)
 *     T is T's: doc_tag becomes T, its synced mark the one seen then (when it has none),
 *     and doc_retag is set (the planner tags it again);
 *   - a tag T whose entry the previous pass saw with another file id is stale: the entry
 *     is the one its own file id was (doc_retag), else a new one (no tag: it becomes a
 *     document of its own, never deleted on T); stale_doc keeps T (the job that tags it
 *     replaces exactly that tag);
 *   - two entries of the previous pass sharing a file id prove nothing.
 *
 * Without file ids, or without a previous pass, nothing changes. The planner adds the
 * other half (plan_docs.c): on a server with file ids, a file whose document is gone is
 * deleted only when the previous pass saw that tag on that file id.
 */
#ifndef ODOOSYNC_DOCS_IDENT_H
#define ODOOSYNC_DOCS_IDENT_H

#include <stddef.h>

#include "err.h"
#include "model.h"
#include "plan_docs.h"

/* Resolves cs's Documents tags (prev: sorted by tag, as plan_docs_input.prev). *nfixed:
 * the entries changed. 0 or ERR_NOMEM. */
int docs_ident_resolve(struct cloud_snap *cs, const struct plan_docs_prev *prev, size_t nprev,
                       size_t *nfixed, struct err *e);

#endif
