/*
 * Unit tests of identity by file id (producer/ident.h) on hand-made snapshots:
 * a file that lost its tag is told by the file id its link recorded, a tag its
 * link's file id contradicts is stale, links of files seen gone and ambiguous
 * file ids prove nothing, servers without file ids keep their tags; document
 * folders by the file id the previous pass listed them with (and the scan
 * state's "folders"), a record tag left behind is cleared; the state keeps
 * "folders" across a save and still reads a state without them. An upload (which
 * writes no tag there) is told by its path, size and the mtime it gave the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ident.h"
#include "state.h"

static void add_ent(struct check_count *cc, struct cloud_snap *cs, const char *path, int dir,
                    long att, const char *rec, const char *fileid)
{
    struct err e = ERR_INIT;
    struct snap_entry en;

    memset(&en, 0, sizeof en);
    en.path = snap_lend(path);
    en.is_dir = dir;
    en.size = 5;
    en.etag = snap_lend("\"e\"");
    en.att_tag = att;
    en.record_tag = snap_lend(rec);
    en.fileid = snap_lend(fileid);
    CHECK_INT(cc, cloud_snap_add(cs, &en, &e), 0);
}

static void add_link(struct check_count *cc, struct snap_links *l, long id, const char *path,
                     long long size, const char *fileid)
{
    struct snap_link k;

    memset(&k, 0, sizeof k);
    k.att_id = id;
    k.path = snap_lend(path);
    k.size = size;
    k.fileid = snap_lend(fileid);
    k.rec = snap_lend("sale.order,1");
    CHECK_INT(cc, snap_links_add(l, &k), 0);
}

/* A file of size 5 with modification time mtime, and the previous pass's upload of
 * attachment id to path (size, the mtime it gave; no file id seen yet). */
static void add_up_ent(struct check_count *cc, struct cloud_snap *cs, const char *path,
                       const char *fileid, long long mtime)
{
    struct err e = ERR_INIT;
    struct snap_entry en;

    memset(&en, 0, sizeof en);
    en.path = snap_lend(path);
    en.size = 5;
    en.etag = snap_lend("\"u\"");
    en.fileid = snap_lend(fileid);
    en.mtime = mtime;
    CHECK_INT(cc, cloud_snap_add(cs, &en, &e), 0);
}

static void add_upload(struct check_count *cc, struct snap_links *l, long id, const char *path,
                       long long size, long long mtime)
{
    struct snap_link k;

    memset(&k, 0, sizeof k);
    k.att_id = id;
    k.path = snap_lend(path);
    k.size = size;
    k.mtime = mtime;
    k.rec = snap_lend("sale.order,1");
    CHECK_INT(cc, snap_links_add(l, &k), 0);
}

static const struct snap_entry *ent(const struct cloud_snap *cs, const char *path)
{
    for (size_t i = 0; i < cs->n; i++)
        if (strcmp(cs->v[i].path, path) == 0)
            return &cs->v[i];
    return NULL;
}

/*
 * An upload of a server with file ids writes no tag: the pass after tells its file by the
 * path, the size and the modification time the upload gave it (the attachment's
 * write_date), and nothing less.
 */
static void test_uploads(struct check_count *cc)
{
    const long long t = 1764676220; /* 2025-12-02 11:50:20 */
    struct err e = ERR_INIT;
    struct cloud_snap cs;
    struct snap_links prev;
    size_t n = 0;
    const struct snap_entry *x;

    cloud_snap_init(&cs);
    memset(&prev, 0, sizeof prev);
    add_up_ent(cc, &cs, "/Odoo/Q/SO1/a.txt", "100", t);     /* the upload's file */
    add_up_ent(cc, &cs, "/Odoo/Q/SO2/b.txt", "101", t + 1); /* written another second */
    add_up_ent(cc, &cs, "/Odoo/Q/SO3/c.txt", "102", t);     /* the upload was of 6 bytes */
    add_up_ent(cc, &cs, "/Odoo/Q/SO4/d.txt", "103", 0);     /* no modification time known */
    add_up_ent(cc, &cs, "/Odoo/Q/SO5/e.txt", "104", t);     /* two uploads named that path */
    add_up_ent(cc, &cs, "/Odoo/Q/SO6/f.txt", "105", t);     /* an upload that gave no mtime */
    add_up_ent(cc, &cs, "/Odoo/Q/SO7/g.txt", NULL, t);      /* no file id: the tags decide */
    add_up_ent(cc, &cs, "/Odoo/Q/SO8/h.txt", "107", t);     /* its upload was seen gone */
    add_upload(cc, &prev, 1, "/Odoo/Q/SO1/a.txt", 5, t);
    add_upload(cc, &prev, 2, "/Odoo/Q/SO2/b.txt", 5, t);
    add_upload(cc, &prev, 3, "/Odoo/Q/SO3/c.txt", 6, t);
    add_upload(cc, &prev, 4, "/Odoo/Q/SO4/d.txt", 5, t);
    add_upload(cc, &prev, 5, "/Odoo/Q/SO5/e.txt", 5, t);
    add_upload(cc, &prev, 15, "/Odoo/Q/SO5/e.txt", 5, t);
    add_upload(cc, &prev, 6, "/Odoo/Q/SO6/f.txt", 5, 0);
    add_upload(cc, &prev, 7, "/Odoo/Q/SO7/g.txt", 5, t);
    add_upload(cc, &prev, 8, "/Odoo/Q/SO8/h.txt", SNAP_LINK_GONE, t);
    snap_links_sort(&prev);

    CHECK_INT(cc, ident_resolve(&cs, &prev, NULL, &n, &e), 0);
    CHECK(cc, n == 1);
    x = ent(&cs, "/Odoo/Q/SO1/a.txt");
    CHECK(cc, x && x->att_tag == 1 && x->retag == 0 && x->stale_att == 0);
    for (int k = 2; k <= 8; k++) {
        char path[64];

        snprintf(path, sizeof path, "/Odoo/Q/SO%d/%c.txt", k, 'a' + k - 1);
        x = ent(&cs, path);
        CHECK(cc, x && x->att_tag == 0 && x->retag == 0);
    }
    snap_links_release(&prev);
    cloud_snap_release(&cs);
}

static void test_files(struct check_count *cc)
{
    struct err e = ERR_INIT;
    struct cloud_snap cs;
    struct snap_links prev;
    size_t n = 0;
    const struct snap_entry *x;

    cloud_snap_init(&cs);
    memset(&prev, 0, sizeof prev);
    /* moved with its folder: no tag, file id 10 was attachment 1's */
    add_ent(cc, &cs, "/Odoo/Q/My order/a.txt", 0, 0, NULL, "10");
    /* a new file at an old path, with the tag left there: attachment 2 was file 20 */
    add_ent(cc, &cs, "/Odoo/Q/SO2/b.txt", 0, 2, NULL, "21");
    /* file 20 itself, moved with its folder: attachment 2 */
    add_ent(cc, &cs, "/Odoo/Q/Other/b.txt", 0, 0, NULL, "20");
    /* its own tag, the same file id: kept */
    add_ent(cc, &cs, "/Odoo/Q/SO3/c.txt", 0, 3, NULL, "30");
    /* a tag whose link has no file id (an upload): kept */
    add_ent(cc, &cs, "/Odoo/Q/SO4/d.txt", 0, 4, NULL, "40");
    /* a tag without any link: kept */
    add_ent(cc, &cs, "/Odoo/Q/SO5/e.txt", 0, 5, NULL, "50");
    /* no file id (Apache): kept, even untagged */
    add_ent(cc, &cs, "/Odoo/Q/SO6/f.txt", 0, 0, NULL, NULL);
    /* a link that proves no file (SNAP_LINK_GONE) */
    add_ent(cc, &cs, "/Odoo/Q/SO7/g.txt", 0, 0, NULL, "70");
    /* two links name file id 80: nothing proven */
    add_ent(cc, &cs, "/Odoo/Q/SO8/h.txt", 0, 0, NULL, "80");
    /* a stale tag, and its own file id was linked to nothing: a new file */
    add_ent(cc, &cs, "/Odoo/Q/SO9/i.txt", 0, 9, NULL, "91");
    add_link(cc, &prev, 1, "/Odoo/Q/SO1/a.txt", 5, "10");
    add_link(cc, &prev, 2, "/Odoo/Q/SO2/b.txt", 5, "20");
    add_link(cc, &prev, 3, "/Odoo/Q/SO3/c.txt", 5, "30");
    add_link(cc, &prev, 4, "/Odoo/Q/SO4/d.txt", 5, NULL);
    add_link(cc, &prev, 7, "/Odoo/Q/SO7/g.txt", SNAP_LINK_GONE, "70");
    add_link(cc, &prev, 8, "/Odoo/Q/SO8/h.txt", 5, "80");
    add_link(cc, &prev, 9, "/Odoo/Q/SO9/i.txt", 5, "90");
    add_link(cc, &prev, 18, "/Odoo/Q/SO8/h2.txt", 5, "80");
    snap_links_sort(&prev);

    CHECK_INT(cc, ident_resolve(&cs, &prev, NULL, &n, &e), 0);
    CHECK(cc, n == 4);
    x = ent(&cs, "/Odoo/Q/My order/a.txt");
    CHECK(cc, x && x->att_tag == 1 && x->retag == 1 && x->stale_att == 0);
    x = ent(&cs, "/Odoo/Q/SO2/b.txt");
    CHECK(cc, x && x->att_tag == 0 && x->retag == 0 && x->stale_att == 2);
    x = ent(&cs, "/Odoo/Q/Other/b.txt");
    CHECK(cc, x && x->att_tag == 2 && x->retag == 1);
    x = ent(&cs, "/Odoo/Q/SO3/c.txt");
    CHECK(cc, x && x->att_tag == 3 && x->retag == 0 && x->stale_att == 0);
    x = ent(&cs, "/Odoo/Q/SO4/d.txt");
    CHECK(cc, x && x->att_tag == 4 && x->retag == 0);
    x = ent(&cs, "/Odoo/Q/SO5/e.txt");
    CHECK(cc, x && x->att_tag == 5 && x->retag == 0);
    x = ent(&cs, "/Odoo/Q/SO6/f.txt");
    CHECK(cc, x && x->att_tag == 0 && x->retag == 0);
    x = ent(&cs, "/Odoo/Q/SO7/g.txt");
    CHECK(cc, x && x->att_tag == 0 && x->retag == 0);
    x = ent(&cs, "/Odoo/Q/SO8/h.txt");
    CHECK(cc, x && x->att_tag == 0 && x->retag == 0);
    x = ent(&cs, "/Odoo/Q/SO9/i.txt");
    CHECK(cc, x && x->att_tag == 0 && x->stale_att == 9);

    /* no previous pass: nothing changes */
    {
        struct cloud_snap c2;

        cloud_snap_init(&c2);
        add_ent(cc, &c2, "/Odoo/Q/SO2/b.txt", 0, 2, NULL, "21");
        CHECK_INT(cc, ident_resolve(&c2, NULL, NULL, &n, &e), 0);
        CHECK(cc, n == 0 && c2.v[0].att_tag == 2);
        cloud_snap_release(&c2);
    }
    snap_links_release(&prev);
    cloud_snap_release(&cs);
}

static void test_folders(struct check_count *cc)
{
    struct err e = ERR_INIT;
    struct scan_state prev, back;
    struct state_dir *d;
    struct ident_dirs dirs;
    struct cloud_snap cs;
    struct snap_entry kid;
    const struct snap_entry *x;
    size_t n = 0;
    char *text = NULL;

    state_init(&prev);
    d = state_add_dir(&prev, "/Odoo/Q", "\"q\"", &e);
    CHECK(cc, d != NULL);
    if (!d)
        return;
    memset(&kid, 0, sizeof kid);
    kid.is_dir = 1;
    kid.path = snap_lend("/Odoo/Q/SO1");
    kid.record_tag = snap_lend("sale.order,1");
    kid.fileid = snap_lend("100");
    CHECK_INT(cc, state_dir_add_kid(d, &kid, &e), 0);
    kid.path = snap_lend("/Odoo/Q/SO4 old");
    kid.record_tag = snap_lend("sale.order,4");
    kid.fileid = snap_lend("400");
    CHECK_INT(cc, state_dir_add_kid(d, &kid, &e), 0);
    kid.path = snap_lend("/Odoo/Q/SO2");
    kid.record_tag = snap_lend("sale.order,2");
    kid.fileid = snap_lend("200");
    CHECK_INT(cc, state_dir_add_kid(d, &kid, &e), 0);
    /* a folder told by its file id last pass, still without its tag */
    CHECK_INT(cc, state_add_folder(&prev, "300", "sale.order,3", &e), 0);
    CHECK_INT(cc, ident_dirs_from_state(&prev, &dirs, &e), 0);
    CHECK(cc, dirs.n == 4);

    cloud_snap_init(&cs);
    /* SO1 renamed inside a moved type folder: no tag */
    add_ent(cc, &cs, "/Odoo/Q/My order", 1, 0, NULL, "100");
    /* a new folder at SO1's old path, with the tag left there */
    add_ent(cc, &cs, "/Odoo/Q/SO1", 1, 0, "sale.order,1", "101");
    /* SO2's folder is gone; a new one carries its tag: kept (nothing else is SO2's) */
    add_ent(cc, &cs, "/Odoo/Q/SO2", 1, 0, "sale.order,2", "201");
    add_ent(cc, &cs, "/Odoo/Q/Third", 1, 0, NULL, "300");
    /* SO4 merging: its old folder and the adopted one both carry the tag: left alone */
    add_ent(cc, &cs, "/Odoo/Q/SO4 old", 1, 0, "sale.order,4", "400");
    add_ent(cc, &cs, "/Odoo/Q/SO4", 1, 0, "sale.order,4", "401");
    CHECK_INT(cc, ident_resolve(&cs, NULL, &dirs, &n, &e), 0);
    CHECK(cc, n == 3);
    x = ent(&cs, "/Odoo/Q/My order");
    CHECK(cc, x && x->record_tag && strcmp(x->record_tag, "sale.order,1") == 0 && x->retag);
    x = ent(&cs, "/Odoo/Q/SO1");
    CHECK(cc, x && x->record_tag == NULL);
    x = ent(&cs, "/Odoo/Q/SO2");
    CHECK(cc, x && x->record_tag && strcmp(x->record_tag, "sale.order,2") == 0 && !x->retag);
    x = ent(&cs, "/Odoo/Q/SO4");
    CHECK(cc, x && x->record_tag && strcmp(x->record_tag, "sale.order,4") == 0 && !x->retag);
    x = ent(&cs, "/Odoo/Q/Third");
    CHECK(cc, x && x->record_tag && strcmp(x->record_tag, "sale.order,3") == 0 && x->retag);

    /* the next state keeps the folders told by file id, through its text form */
    {
        struct scan_state next;
        size_t len;

        state_init(&next);
        ident_note_state(&next, &cs);
        CHECK(cc, next.nfolders == 2);
        CHECK_INT(cc, state_encode(&next, &text, &e), 0);
        state_init(&back);
        len = text ? strlen(text) : 0;
        CHECK_INT(cc, state_decode(text, len, &back, &e), 0);
        CHECK(cc, back.nfolders == 2 && strcmp(back.folders[0].fileid, "100") == 0 &&
                      strcmp(back.folders[1].record, "sale.order,3") == 0);
        state_release(&back);
        state_release(&next);
        free(text);
    }
    /* a state written before "folders" existed still reads */
    {
        static const char old[] = "{\"version\":2,\"odoo_key\":null,\"watermark\":null,"
                                  "\"full_at\":0,\"types\":[],\"have_atts\":false,\"atts\":[],"
                                  "\"cloud_key\":null,\"dirs\":[],\"links\":[]}";

        state_init(&back);
        CHECK_INT(cc, state_decode(old, sizeof old - 1, &back, &e), 0);
        CHECK(cc, back.nfolders == 0);
        state_release(&back);
    }
    ident_dirs_release(&dirs);
    cloud_snap_release(&cs);
    state_release(&prev);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_files(&cc);
    test_uploads(&cc);
    test_folders(&cc);
    return check_done(&cc);
}
