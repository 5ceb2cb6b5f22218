/*
 * unit.docs_ident: Documents tags resolved by file id (producer/docs_ident.h): an untagged
 * entry the previous pass saw under a tag takes it back (and its synced mark), a tag the
 * previous pass saw on another file id is stale (cleared, kept in stale_doc; the entry
 * takes the tag its own file id had, if any), two entries with one file id prove nothing,
 * the attachment rules' entries are left alone, and without a previous pass or file ids
 * nothing changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "docs_ident.h"

#include "banned.h"

static void add(struct cloud_snap *cs, const char *path, int is_dir, const char *fileid,
                const char *doc_tag, const char *synced, const char *record_tag,
                struct check_count *cc)
{
    struct snap_entry en;
    struct err e = ERR_INIT;

    memset(&en, 0, sizeof(en));
    en.path = snap_lend(path);
    en.is_dir = is_dir;
    en.size = is_dir ? -1 : 5;
    en.fileid = snap_lend(fileid);
    en.doc_tag = snap_lend(doc_tag);
    en.synced = snap_lend(synced);
    en.record_tag = snap_lend(record_tag);
    CHECK_INT(cc, cloud_snap_add(cs, &en, &e), 0);
}

static const struct snap_entry *at(const struct cloud_snap *cs, const char *path)
{
    for (size_t i = 0; i < cs->n; i++)
        if (strcmp(cs->v[i].path, path) == 0)
            return &cs->v[i];
    return NULL;
}

#define S1 "1111111111111111111111111111111111111111 \"e1\""
#define S2 "2222222222222222222222222222222222222222 \"e2\""

int main(void)
{
    struct check_count cc = CHECK_INIT;
    /* the previous pass, sorted by tag */
    struct plan_docs_prev prev[] = {
        {snap_lend("documents.document,1"), snap_lend(S1), snap_lend("/R/Documents/A/a.txt"),
         snap_lend("11")},
        {snap_lend("documents.document,2"), snap_lend(S2), snap_lend("/R/Documents/A/b.txt"),
         snap_lend("12")},
        {snap_lend("documents.document,3"), snap_lend(S1), snap_lend("/R/Documents/A/c.txt"),
         snap_lend("13")},
        {snap_lend("documents.document,4"), snap_lend(S1), snap_lend("/R/Documents/A/d.txt"),
         snap_lend("13")},
        {snap_lend("documents.document,5"), snap_lend(S1), snap_lend("/R/Documents/A/e.txt"), NULL},
        {snap_lend("documents.folder,7"), NULL, snap_lend("/R/Documents/A"), snap_lend("10")},
    };
    struct cloud_snap cs;
    struct err e = ERR_INIT;
    const struct snap_entry *en;
    size_t fixed = 0;

    cloud_snap_init(&cs);
    /* the folder, moved: it kept its tag; its files lost theirs */
    add(&cs, "/R/Documents/B", 1, "10", "documents.folder,7", NULL, NULL, &cc);
    add(&cs, "/R/Documents/B/a.txt", 0, "11", NULL, NULL, NULL, &cc);
    /* a later file at b.txt's old path took b's tag: stale; b itself is elsewhere */
    add(&cs, "/R/Documents/A/b.txt", 0, "99", "documents.document,2", S2, NULL, &cc);
    add(&cs, "/R/Documents/B/b.txt", 0, "12", NULL, NULL, NULL, &cc);
    /* a file that carries another's tag, but whose own file id was document 1's? no:
     * file id 13 was seen twice (c and d): it proves nothing */
    add(&cs, "/R/Documents/B/x.txt", 0, "13", NULL, NULL, NULL, &cc);
    /* a tag the previous pass saw without a file id: kept */
    add(&cs, "/R/Documents/B/e.txt", 0, "15", "documents.document,5", S1, NULL, &cc);
    /* an untagged file in a record folder whose file id a Documents file had: not ours */
    add(&cs, "/R/Quotations/SO1", 1, "20", NULL, NULL, "sale.order,1", &cc);
    add(&cs, "/R/Quotations/SO1/a.txt", 0, "11", NULL, NULL, NULL, &cc);

    CHECK_INT(&cc, docs_ident_resolve(&cs, NULL, 0, &fixed, &e), 0);
    CHECK_INT(&cc, fixed, 0);
    CHECK(&cc, at(&cs, "/R/Documents/B/a.txt")->doc_tag == NULL);

    CHECK_INT(&cc, docs_ident_resolve(&cs, prev, sizeof prev / sizeof prev[0], &fixed, &e), 0);
    CHECK_INT(&cc, fixed, 3);
    en = at(&cs, "/R/Documents/B");
    CHECK_STR(&cc, en->doc_tag, "documents.folder,7");
    CHECK_INT(&cc, en->doc_retag, 0);
    en = at(&cs, "/R/Documents/B/a.txt");
    CHECK_STR(&cc, en->doc_tag, "documents.document,1");
    CHECK_STR(&cc, en->synced, S1);
    CHECK_INT(&cc, en->doc_retag, 1);
    en = at(&cs, "/R/Documents/A/b.txt");
    CHECK(&cc, en->doc_tag == NULL && en->synced == NULL);
    CHECK_STR(&cc, en->stale_doc, "documents.document,2");
    CHECK_INT(&cc, en->doc_retag, 0);
    en = at(&cs, "/R/Documents/B/b.txt");
    CHECK_STR(&cc, en->doc_tag, "documents.document,2");
    CHECK_STR(&cc, en->synced, S2);
    CHECK(&cc, at(&cs, "/R/Documents/B/x.txt")->doc_tag == NULL);
    CHECK_STR(&cc, at(&cs, "/R/Documents/B/e.txt")->doc_tag, "documents.document,5");
    CHECK(&cc, at(&cs, "/R/Quotations/SO1/a.txt")->doc_tag == NULL);
    cloud_snap_release(&cs);
    return check_done(&cc);
}
