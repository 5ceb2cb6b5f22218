/*
 * plan_url: the urls of url attachments for the planner (plan_int.h): the
 * form a pass writes (cloud.link_form: the server's web link where the file
 * has an id, else the DAV url) and what a url in any form names (common/link.h).
 *
 * A web link names a file id, which the cloud snapshot's entries carry
 * (oc:fileid): the entries are indexed by their normalised id the first time
 * one is looked up. A file id the snapshot does not hold (the file was deleted,
 * or moved out of the tree) names the path the previous pass saw the
 * attachment's file at, when it was that file (the same id, or an upload that
 * pass planned, whose id came later): so a file deleted in the cloud deletes its
 * attachment as with a DAV url, and without a previous pass such a link names
 * nothing (nothing is deleted on it).
 */
#include "plan_int.h"

#include <stdlib.h>
#include <string.h>

#include "link.h"

#include "banned.h"

static int cmp_fid(const void *a, const void *b)
{
    char x[LINK_FILEID_MAX], y[LINK_FILEID_MAX];

    link_fileid_norm((*(const struct snap_entry *const *)a)->fileid, x);
    link_fileid_norm((*(const struct snap_entry *const *)b)->fileid, y);
    return strlen(x) != strlen(y) ? (strlen(x) < strlen(y) ? -1 : 1) : strcmp(x, y);
}

static int index_fileids(struct ctx *c)
{
    char id[LINK_FILEID_MAX];

    c->fid_ready = 1;
    c->fid = calloc(c->nents ? c->nents : 1, sizeof *c->fid);
    if (!c->fid)
        return c->nomem = 1, ERR_NOMEM;
    for (size_t i = 0; i < c->nents; i++)
        if (link_fileid_norm(c->ents[i]->fileid, id))
            c->fid[c->nfid++] = c->ents[i];
    qsort(c->fid, c->nfid, sizeof *c->fid, cmp_fid);
    return 0;
}

/* The entry whose file id is id (normalised), or NULL. */
static const struct snap_entry *find_fileid(struct ctx *c, const char *id)
{
    size_t lo = 0, hi, mid;
    char x[LINK_FILEID_MAX];

    if (!c->fid_ready && index_fileids(c) < 0)
        return NULL;
    hi = c->nfid;
    while (lo < hi) {
        int r;

        mid = lo + (hi - lo) / 2;
        link_fileid_norm(c->fid[mid]->fileid, x);
        r = strlen(x) != strlen(id) ? (strlen(x) < strlen(id) ? -1 : 1) : strcmp(x, id);
        if (r == 0)
            return c->fid[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const char *web_root(struct ctx *c)
{
    if (!c->web_root) {
        c->web_root = link_server_root(c->in->url_base);
        if (!c->web_root)
            c->nomem = 1;
    }
    return c->web_root;
}

char *plan_link_for(struct ctx *c, const char *path, const char *fileid)
{
    char id[LINK_FILEID_MAX];
    char *u;

    if (c->in->link_web && link_fileid_norm(fileid, id)) {
        const char *root = web_root(c);

        u = root ? link_web(root, id) : NULL;
    } else {
        if (c->in->link_web)
            c->no_fileid++;
        u = plan_url_for_path(c->in->url_base, path);
    }
    if (!u)
        c->nomem = 1;
    return u;
}

char *plan_link_path(struct ctx *c, const char *url, long att_id)
{
    char id[LINK_FILEID_MAX], *path = plan_path_for_url(c->in->url_base, url);
    const struct snap_entry *en;
    const struct snap_link *l;
    int k;

    if (path)
        return path;
    k = link_parse_web(c->in->url_base, url, id, &path);
    if (k < 0)
        return c->nomem = 1, NULL;
    if (k == LINK_WEB_PATH)
        return path;
    if (k != LINK_WEB_ID)
        return NULL;
    en = find_fileid(c, id);
    if (en)
        return xdup(c, en->path);
    /* the file the previous pass linked: with that id, or an upload it made (a path and a
     * size: its id came with the PUT's answer, after the plan) */
    l = att_id > 0 ? snap_links_find(c->in->prev, att_id) : NULL;
    if (l && l->path) {
        char lid[LINK_FILEID_MAX];

        if (!link_fileid_norm(l->fileid, lid) || strcmp(lid, id) == 0)
            return xdup(c, l->path);
    }
    return NULL;
}

int plan_link_form_ok(struct ctx *c, const char *url, const char *fileid)
{
    char want[LINK_FILEID_MAX], id[LINK_FILEID_MAX];
    char *path = NULL;
    int k;

    if (!(c->in->link_web && link_fileid_norm(fileid, want))) {
        path = plan_path_for_url(c->in->url_base, url);
        free(path);
        return path != NULL;
    }
    k = link_parse_web(c->in->url_base, url, id, &path);
    free(path);
    if (k < 0)
        c->nomem = 1;
    return k == LINK_WEB_ID && strcmp(id, want) == 0;
}

const struct snap_entry *plan_link_entry(struct ctx *c, const char *url)
{
    char id[LINK_FILEID_MAX], *path = NULL;
    int k;

    if (!c->in->link_web || !url)
        return NULL;
    k = link_parse_web(c->in->url_base, url, id, &path);
    free(path);
    if (k < 0)
        c->nomem = 1;
    return k == LINK_WEB_ID ? find_fileid(c, id) : NULL;
}

/* Count, per entry, the url attachments whose web link names it (once per pass). */
static int count_webrefs(struct ctx *c)
{
    c->webref = calloc(c->cs->n ? c->cs->n : 1, 1);
    if (!c->webref)
        return c->nomem = 1, ERR_NOMEM;
    for (size_t i = 0; c->atts && i < c->os->natts; i++) {
        const struct snap_att *a = c->atts[i];
        const struct snap_entry *en;

        /* (c->atts: sorted by id; an id read twice counts once) */
        if (a->type != SNAP_ATT_URL || a->technical || (i > 0 && a->id == c->atts[i - 1]->id))
            continue;
        en = plan_link_entry(c, a->url);
        if (en && c->webref[eidx(c, en)] < 2)
            c->webref[eidx(c, en)]++;
    }
    return 0;
}

const struct snap_entry *plan_link_own(struct ctx *c, const struct snap_att *a)
{
    const struct snap_entry *en;

    if (a->type != SNAP_ATT_URL || !c->in->link_web)
        return NULL;
    if (!c->webref && count_webrefs(c) < 0)
        return NULL;
    en = plan_link_entry(c, a->url);
    if (!en || c->webref[eidx(c, en)] != 1 || (en->att_tag != 0 && en->att_tag != a->id))
        return NULL;
    return en;
}
