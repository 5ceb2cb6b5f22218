/*
 * Unit tests of the planner's url forms (cloud.link_form, common/link.h): on a server
 * whose files have ids, a url attachment holds the server's web link
 * (<root>/index.php/f/<id>), a DAV-address link is rewritten to it once (the same
 * attachment), and a link in either form (or Nextcloud's Files-app forms) names its
 * file: nothing duplicated, nothing deleted. A web link names the file by its id, which
 * is its identity (it needs no tag, and decides over one): a folder move leaves it right; the file
 * deleted in the cloud deletes the attachment when the previous pass saw that file with that id,
 * and nothing without a previous pass. With link_form dav, web links are rewritten to DAV urls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "plan.h"

#define BASE "http://dav.test/remote.php/dav/files/sync/"
#define WEB "http://dav.test/index.php/f/"
#define Q "/Odoo/Quotations"

static const struct plan_type types[] = {
    {"Quotations", "sale.order", PLAN_DIR_BOTH, 1},
    {"Customers", "res.partner", PLAN_DIR_BOTH, 1},
};

struct fent {
    const char *path;
    int dir;
    long att;
    const char *rec;
    const char *fileid;
};

struct fatt {
    long id;
    const char *name;
    const char *path; /* its url is the DAV url of this path, or: */
    const char *url;  /* this url */
};

struct fcase {
    const char *name;
    int link_web, link_web_warn; /* cloud.link_form auto: 1, 0; web: 1, 1; dav: 0, 0 */
    const char *want_msg;        /* a substring of one of the plan's messages */
    const char *dn;              /* SO1's display name: "SO1" when NULL */
    struct fent ents[4];
    struct fatt atts[3];
    struct {
        long att;
        const char *path, *fileid;
    } prev;                  /* the previous pass's link, when att is set */
    const char *want[4];     /* render(): kind side path #att "name" */
    const char *want_url[4]; /* the url of each job that has one, in order */
};

static char *uc(const char *s)
{
    return (char *)(size_t)s;
}

static const struct fcase cases[] = {
    {.name = "a new cloud file is linked with its web link",
     .link_web = 1,
     .ents = {{Q "/SO1/new.pdf", 0, 0, NULL, "16"}},
     .want = {"relink odoo " Q "/SO1/new.pdf \"new.pdf\""},
     .want_url = {WEB "16"}},
    {.name = "a file without a file id is linked with its DAV url",
     .link_web = 1,
     .ents = {{Q "/SO1/new.pdf", 0, 0, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/new.pdf \"new.pdf\""},
     .want_url = {BASE "Odoo/Quotations/SO1/new.pdf"}},
    {.name = "link_form web: a file without a file id is linked with its DAV url, and said",
     .link_web = 1,
     .link_web_warn = 1,
     .ents = {{Q "/SO1/new.pdf", 0, 0, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/new.pdf \"new.pdf\""},
     .want_url = {BASE "Odoo/Quotations/SO1/new.pdf"},
     .want_msg = "1 url attachment links to the WebDAV address: the server gave no file id"},
    {.name = "link_form dav: a new cloud file is linked with its DAV url",
     .ents = {{Q "/SO1/new.pdf", 0, 0, NULL, "16"}},
     .want = {"relink odoo " Q "/SO1/new.pdf \"new.pdf\""},
     .want_url = {BASE "Odoo/Quotations/SO1/new.pdf"}},
    {.name = "a DAV-address link is rewritten to the web link, same attachment",
     .link_web = 1,
     .ents = {{Q "/SO1/a.pdf", 0, 12, NULL, "16"}},
     .atts = {{12, "a.pdf", Q "/SO1/a.pdf", NULL}},
     .want = {"relink odoo " Q "/SO1/a.pdf #12 \"a.pdf\""},
     .want_url = {WEB "16"}},
    {.name = "a web link is recognised: nothing to do",
     .link_web = 1,
     .ents = {{Q "/SO1/a.pdf", 0, 12, NULL, "16"}},
     .atts = {{12, "a.pdf", NULL, WEB "16"}}},
    {.name = "a pretty web link and the Files app's links are recognised too",
     .link_web = 1,
     .ents = {{Q "/SO1/a.pdf", 0, 12, NULL, "16"},
              {Q "/SO1/b.pdf", 0, 13, NULL, "17"},
              {Q "/SO1/c.pdf", 0, 14, NULL, "18"}},
     .atts = {{12, "a.pdf", NULL, "http://dav.test/f/16"},
              {13, "b.pdf", NULL,
               "http://dav.test/index.php/apps/files/?dir=/Odoo/Quotations/SO1&openfile=17&"
               "scrollto=b.pdf"},
              {14, "c.pdf", NULL, "http://dav.test/apps/files/files/18?dir=/x&openfile=true"}}},
    {.name = "a web link names its file by id: the untagged file is that attachment's, and "
             "needs no tag (nothing to do)",
     .link_web = 1,
     .ents = {{Q "/SO1/a.pdf", 0, 0, NULL, "16"}},
     .atts = {{12, "a.pdf", NULL, WEB "16"}}},
    {.name = "a web link decides over a tag: the file tagged with the attachment at another "
             "path (a later file where its tag was left) is a new file",
     .link_web = 1,
     .ents = {{Q "/SO1/a.pdf", 0, 12, NULL, "40"}, {Q "/SO1/b.pdf", 0, 0, NULL, "16"}},
     .atts = {{12, "b.pdf", NULL, WEB "16"}},
     .want = {"relink odoo " Q "/SO1/a.pdf \"a.pdf\""},
     .want_url = {WEB "40"}},
    {.name = "a web link's untagged file moved out of document folders: the attachment goes, "
             "as for a tagged one",
     .link_web = 1,
     .ents = {{"/Odoo/Elsewhere", 1, 0, NULL, "30"}, {"/Odoo/Elsewhere/a.pdf", 0, 0, NULL, "16"}},
     .atts = {{12, "a.pdf", NULL, WEB "16"}},
     .prev = {12, Q "/SO1/a.pdf", "16"},
     .want = {"delete odoo /Odoo/Elsewhere/a.pdf #12 \"a.pdf\""}},
    {.name = "a web link a person pointed at a file outside document folders: left alone",
     .link_web = 1,
     .ents = {{"/Odoo/Elsewhere", 1, 0, NULL, "30"}, {"/Odoo/Elsewhere/a.pdf", 0, 0, NULL, "16"}},
     .atts = {{12, "a.pdf", NULL, WEB "16"}}},
    {.name = "two web links name one untagged file: neither is proven its attachment by the id",
     .link_web = 1,
     .ents = {{Q "/SO1/a.pdf", 0, 0, NULL, "16"}},
     .atts = {{12, "a.pdf", NULL, WEB "16"}, {13, "a.pdf", NULL, WEB "16"}},
     .want = {"relink odoo " Q "/SO1/a.pdf #12 \"a.pdf\"",
              "relink odoo " Q "/SO1/a.pdf #13 \"a.pdf\""},
     .want_url = {WEB "16", WEB "16"}},
    {.name = "link_form dav: a web link is rewritten to the DAV url",
     .ents = {{Q "/SO1/a.pdf", 0, 12, NULL, "16"}},
     .atts = {{12, "a.pdf", NULL, WEB "16"}},
     .want = {"relink odoo " Q "/SO1/a.pdf #12 \"a.pdf\""},
     .want_url = {BASE "Odoo/Quotations/SO1/a.pdf"}},
    {.name = "a document folder moved: its web links stay right, and name the files by id "
             "(no relink to tag them again, though the move leaves their dead properties "
             "behind)",
     .link_web = 1,
     .dn = "SO1-B",
     .ents = {{Q "/SO1/a.pdf", 0, 12, NULL, "16"}},
     .atts = {{12, "a.pdf", NULL, WEB "16"}},
     .want = {"rename cloud " Q "/SO1 -> " Q "/SO1-B"}},
    {.name = "a document folder moved on a server whose links are DAV urls: relinked",
     .dn = "SO1-B",
     .ents = {{Q "/SO1/a.pdf", 0, 12, NULL, "16"}},
     .atts = {{12, "a.pdf", Q "/SO1/a.pdf", NULL}},
     .want = {"rename cloud " Q "/SO1 -> " Q "/SO1-B",
              "relink odoo " Q "/SO1-B/a.pdf #12 \"a.pdf\""},
     .want_url = {BASE "Odoo/Quotations/SO1-B/a.pdf"}},
    {.name = "a web link's file deleted in the cloud: the attachment goes (proven by the "
             "previous pass)",
     .link_web = 1,
     .atts = {{12, "a.pdf", NULL, WEB "16"}},
     .prev = {12, Q "/SO1/a.pdf", "16"},
     .want = {"delete odoo " Q "/SO1/a.pdf #12 \"a.pdf\""}},
    {.name = "an upload's web link, its file deleted before a scan saw it: the attachment goes",
     .link_web = 1,
     .atts = {{12, "a.pdf", NULL, WEB "16"}},
     .prev = {12, Q "/SO1/a.pdf", NULL},
     .want = {"delete odoo " Q "/SO1/a.pdf #12 \"a.pdf\""}},
    {.name = "a web link naming another file than the one last linked: nothing deleted",
     .link_web = 1,
     .atts = {{12, "a.pdf", NULL, WEB "16"}},
     .prev = {12, Q "/SO1/a.pdf", "99"}},
    {.name = "a web link naming no known file: nothing deleted without a previous pass",
     .link_web = 1,
     .atts = {{12, "a.pdf", NULL, WEB "16"}}},
};

static void render(const struct job *j, struct buf *b)
{
    buf_reset(b);
    buf_printf(b, "%s %s", job_kind_name(j->kind), job_side_name(j->side));
    if (j->path)
        buf_printf(b, " %s", j->path);
    if (j->to)
        buf_printf(b, " -> %s", j->to);
    if (j->att_id)
        buf_printf(b, " #%ld", j->att_id);
    if (j->name)
        buf_printf(b, " \"%s\"", j->name);
}

static int add_ent(struct cloud_snap *cs, const char *path, int dir, long att, const char *rec,
                   const char *type, const char *fileid, struct err *e)
{
    struct snap_entry en;
    char etag[64];

    memset(&en, 0, sizeof en);
    snprintf(etag, sizeof etag, "\"%zu\"", cs->n);
    en.path = uc(path);
    en.is_dir = dir;
    en.etag = etag;
    en.size = dir ? 0 : 100;
    en.att_tag = att;
    en.record_tag = uc(rec);
    en.type_tag = uc(type);
    en.fileid = uc(fileid);
    return cloud_snap_add(cs, &en, e);
}

static void run_case(struct check_count *cc, const struct fcase *tc)
{
    struct plan_input in;
    struct odoo_snap os;
    struct cloud_snap cs;
    struct snap_links links;
    struct plan p;
    struct err e = ERR_INIT;
    struct buf b;
    size_t nwant = 0, nurl = 0, i;
    int rc;

    memset(&in, 0, sizeof in);
    memset(&links, 0, sizeof links);
    in.root = "Odoo";
    in.standalone_folder = "Stand Alone Attachments";
    in.standalone_enabled = 1;
    in.max_delete_share = 1.0;
    in.url_base = BASE;
    in.types = types;
    in.ntypes = 2;
    in.version = 1700000000000LL;
    in.unmatched = PLAN_UNMATCHED_ARCHIVE;
    in.archive_folder = "Archive";
    in.link_web = tc->link_web;
    in.link_web_warn = tc->link_web_warn;
    plan_init(&p);
    buf_init(&b, 4096);
    cloud_snap_init(&cs);
    rc = odoo_snap_init(&os, 2, &e);
    if (rc == 0)
        rc = add_ent(&cs, "/Odoo", 1, 0, NULL, NULL, "1", &e);
    if (rc == 0)
        rc = add_ent(&cs, Q, 1, 0, NULL, "Quotations", "2", &e);
    if (rc == 0)
        rc = add_ent(&cs, "/Odoo/Customers", 1, 0, NULL, "Customers", "3", &e);
    if (rc == 0)
        rc = add_ent(&cs, "/Odoo/Stand Alone Attachments", 1, 0, NULL, "Stand Alone Attachments",
                     "4", &e);
    if (rc == 0)
        rc = add_ent(&cs, Q "/SO1", 1, 0, "sale.order,1", NULL, "5", &e);
    for (i = 0; rc == 0 && i < 4 && tc->ents[i].path; i++)
        rc = add_ent(&cs, tc->ents[i].path, tc->ents[i].dir, tc->ents[i].att, tc->ents[i].rec, NULL,
                     tc->ents[i].fileid, &e);
    if (rc == 0)
        rc = odoo_snap_add_record(&os, 0, "sale.order", 1, tc->dn ? tc->dn : "SO1", &e);
    for (i = 0; rc == 0 && i < 3 && tc->atts[i].id; i++) {
        struct snap_att a;
        char *url = tc->atts[i].path ? plan_url_for_path(BASE, tc->atts[i].path) : NULL;

        memset(&a, 0, sizeof a);
        a.id = tc->atts[i].id;
        a.name = uc(tc->atts[i].name);
        a.type = SNAP_ATT_URL;
        a.url = url ? url : uc(tc->atts[i].url);
        a.res_model = uc("sale.order");
        a.res_id = 1;
        a.write_date = uc("2026-01-01 10:00:00");
        rc = odoo_snap_add_att(&os, &a, &e);
        free(url);
    }
    if (rc == 0 && tc->prev.att) {
        struct snap_link l;

        memset(&l, 0, sizeof l);
        l.att_id = tc->prev.att;
        l.path = uc(tc->prev.path);
        l.etag = uc("\"x\"");
        l.size = 100;
        l.fileid = uc(tc->prev.fileid);
        l.rec = l.att_rec = l.file_rec = uc("sale.order,1");
        rc = snap_links_add(&links, &l);
        snap_links_sort(&links);
        in.prev = &links;
    }
    CHECK_MSG(cc, rc == 0, "%s: world: %s", tc->name, e.msg);
    if (rc == 0) {
        rc = plan_build(&in, &os, &cs, &p, &e);
        CHECK_MSG(cc, rc == 0, "%s: plan_build: %s", tc->name, e.msg);
    }
    while (nwant < 4 && tc->want[nwant])
        nwant++;
    CHECK_MSG(cc, p.njobs == nwant, "%s: %zu jobs, want %zu", tc->name, p.njobs, nwant);
    for (i = 0; i < p.njobs; i++) {
        render(&p.jobs[i], &b);
        if (i < nwant)
            CHECK_MSG(cc, strcmp(buf_str(&b), tc->want[i]) == 0, "%s: job %zu: %s, want %s",
                      tc->name, i, buf_str(&b), tc->want[i]);
        else
            CHECK_MSG(cc, 0, "%s: job %zu: %s (%s)", tc->name, i, buf_str(&b), p.jobs[i].reason);
        if (p.jobs[i].url) {
            CHECK_MSG(cc, nurl < 4 && tc->want_url[nurl], "%s: unexpected url %s", tc->name,
                      p.jobs[i].url);
            if (nurl < 4 && tc->want_url[nurl])
                CHECK_MSG(cc, strcmp(p.jobs[i].url, tc->want_url[nurl]) == 0, "%s: url %s, want %s",
                          tc->name, p.jobs[i].url, tc->want_url[nurl]);
            nurl++;
        }
    }
    if (tc->want_msg) {
        int found = 0;

        for (i = 0; i < p.nmessages; i++)
            found |= strstr(p.messages[i], tc->want_msg) != NULL;
        CHECK_MSG(cc, found, "%s: no message \"%s\"", tc->name, tc->want_msg);
    } else {
        for (i = 0; i < p.nmessages; i++)
            CHECK_MSG(cc, strstr(p.messages[i], "file id") == NULL, "%s: %s", tc->name,
                      p.messages[i]);
    }
    buf_release(&b);
    plan_release(&p);
    snap_links_release(&links);
    odoo_snap_release(&os);
    cloud_snap_release(&cs);
}

/* Another spelling of the same file id is right as it is: not rewritten each pass. */
static void test_migrated_is_quiet(struct check_count *cc)
{
    struct fcase tc;
    size_t i = 0;

    while (i < sizeof cases / sizeof cases[0] &&
           strcmp(cases[i].name, "a web link is recognised: nothing to do") != 0)
        i++;
    CHECK(cc, i < sizeof cases / sizeof cases[0]);
    if (i == sizeof cases / sizeof cases[0])
        return;
    tc = cases[i];
    tc.atts[0].url = "http://dav.test/index.php/f/0016"; /* another spelling of the same id */
    run_case(cc, &tc);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cc, &cases[i]);
    test_migrated_is_quiet(&cc);
    return check_done(&cc);
}
