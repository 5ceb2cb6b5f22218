/*
 * Unit tests of the planner: one scenario per rule of docs/design.md "Rules" and
 * "Identity", each building both snapshots by hand, planning, and comparing
 * the exact list of jobs, in order, rendered one per line as
 *
 *     <kind> <side>[ <path>][ -> <to>][ #<att_id>][ [<record>]][ "<name>"]
 *
 * e.g. `upload cloud /Odoo/Quotations/SO1/offer.pdf #11 [sale.order,1] "offer.pdf"`.
 *
 * Unless a case says otherwise the configuration is: root "Odoo", types
 * "Quotations" (sale.order) then "Customers" (res.partner), both ways, the
 * stand-alone folder enabled, max_delete_share 1.0 (the safety has its own
 * cases). `base` adds the root, the tagged type folders and the stand-alone
 * folder to the cloud.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "check.h"
#include "job.h"
#include "model.h"
#include "names.h"
#include "plan.h"

#define URL_BASE "http://dav.test/dav/"
#define SA "/Odoo/Stand Alone Attachments"
#define Q "/Odoo/Quotations"
#define CU "/Odoo/Customers"

struct trec {
    int type; /* -1: exists in Odoo but matches no type (odoo_snap.unmatched) */
    const char *model;
    long id;
    const char *dn;
};

struct tatt {
    long id;
    const char *name;
    int url;             /* 1: url attachment */
    const char *urlpath; /* its url = URL_BASE + this path (or ext_url) */
    const char *model;   /* NULL: stand-alone */
    long res_id;
    const char *ext_url;
    long long size; /* its file_size; 0: 1234 (a cloud file's size is 100) */
};

struct tent {
    const char *path;
    int dir;
    long att;
    const char *rec;
    const char *type;
};

/* A link of the previous pass (model.h struct snap_link). etag NULL: the etag of the
 * entry at path in this case's cloud (the same file), "-": none (an upload); size 100. */
struct tlink {
    long att;
    const char *path;
    const char *etag;
    const char *fileid;
    const char *rec, *att_rec, *file_rec;
};

struct tfileid {
    const char *path;
    const char *fileid;
};

struct tcase {
    const char *name;
    int prev;              /* 1: the previous pass is known (links below, maybe none) */
    struct tlink links[4]; /* what it saw linked */
    struct tfileid fileids[4];
    size_t ntypes; /* 0: the default two types */
    struct plan_type types[3];
    int base;
    struct trec recs[8];
    struct tatt atts[8];
    struct tent ents[16];
    int odoo_incomplete, cloud_incomplete, no_standalone, force;
    int keep;         /* unmatched policy keep (default: archive into "Archive") */
    int gone_unknown; /* odoo_snap.gone_known = 0 */
    double share;     /* 0: 1.0 */
    const char *want[16];
    const char *locks[16]; /* when set: the lock of each wanted job, in order */
    enum plan_verdict verdict;
    const char *want_msg; /* a substring of one message, or NULL */
    long want_link;       /* an attachment the plan's links (for the next pass) name */
    struct {
        const char *folder; /* held an entry left out of the listing (cloud_snap.lo) */
        int below;          /* that entry is a folder */
    } left_out[2];
};

static const struct plan_type default_types[] = {
    {"Quotations", "sale.order", PLAN_DIR_BOTH, 1},
    {"Customers", "res.partner", PLAN_DIR_BOTH, 1},
};

/* clang-format off */
static const struct tcase cases[] = {
    {.name = "type folders created",
     .want = {"mkdir cloud " Q " \"Quotations\"", "mkdir cloud " CU " \"Customers\"",
              "mkdir cloud " SA " \"Stand Alone Attachments\""}},
    {.name = "type folder re-created when deleted in the cloud",
     .ents = {{"/Odoo", 1, 0, NULL, NULL}, {CU, 1, 0, NULL, "Customers"},
              {SA, 1, 0, NULL, "Stand Alone Attachments"}},
     .want = {"mkdir cloud " Q " \"Quotations\""}},
    {.name = "type folder rename in the cloud reverted (subtree waits a pass)",
     .ents = {{"/Odoo", 1, 0, NULL, NULL}, {"/Odoo/Quotes", 1, 0, NULL, "Quotations"},
              {"/Odoo/Quotes/SO1", 1, 0, "sale.order,1", NULL}, {CU, 1, 0, NULL, "Customers"},
              {SA, 1, 0, NULL, "Stand Alone Attachments"}},
     .recs = {{0, "sale.order", 1, "SO1 renamed"}},
     .want = {"rename cloud /Odoo/Quotes -> " Q}, .want_msg = "renamed back"},
    {.name = "a subtree that waits a pass keeps the links of its gone attachments",
     .prev = 1,
     .links = {{12, Q "/SO1/old.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .ents = {{"/Odoo", 1, 0, NULL, NULL}, {"/Odoo/Quotes", 1, 0, NULL, "Quotations"},
              {"/Odoo/Quotes/SO1", 1, 0, "sale.order,1", NULL},
              {"/Odoo/Quotes/SO1/old.pdf", 0, 12, NULL, NULL}, {CU, 1, 0, NULL, "Customers"},
              {SA, 1, 0, NULL, "Stand Alone Attachments"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .want = {"rename cloud /Odoo/Quotes -> " Q}, .want_link = 12},
    {.name = "a pass's links name its uploads, linked files and new files", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{11, "b.pdf", 0, NULL, "sale.order", 1, NULL},
              {13, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/a.pdf", 0, 13, NULL, NULL},
              {Q "/SO1/new.txt", 0, 0, NULL, NULL}},
     .want = {"upload cloud " Q "/SO1/b.pdf #11 [sale.order,1] \"b.pdf\"",
              "relink odoo " Q "/SO1/new.txt [sale.order,1] \"new.txt\""},
     .want_link = 11},
    {.name = "type removed from the configuration leaves its folders alone", .base = 1,
     .ents = {{"/Odoo/Old", 1, 0, NULL, "Old"}, {"/Odoo/Old/X", 1, 0, "res.users,5", NULL},
              {"/Odoo/Old/X/f.txt", 0, 31, NULL, NULL}}},
    {.name = "document folder created for each matching record", .base = 1,
     .recs = {{0, "sale.order", 1, "SO001"}, {1, "res.partner", 7, "Agrolait, Michael Fletcher"}},
     .want = {"mkdir cloud " Q "/SO001 [sale.order,1]",
              "mkdir cloud " CU "/Agrolait, Michael Fletcher [res.partner,7]"}},
    {.name = "record renamed in Odoo renames its folder", .base = 1,
     .recs = {{0, "sale.order", 1, "SO001-v2"}},
     .ents = {{Q "/SO001", 1, 0, "sale.order,1", NULL}},
     .want = {"rename cloud " Q "/SO001 -> " Q "/SO001-v2 [sale.order,1]"}},
    {.name = "record changing type moves its folder", .base = 1, .ntypes = 2,
     .types = {{"Quotations", "sale.order", PLAN_DIR_BOTH, 1},
               {"Orders", "sale.order", PLAN_DIR_BOTH, 1}},
     .recs = {{1, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}},
     .want = {"rename cloud " Q "/SO1 -> /Odoo/Orders/SO1 [sale.order,1]"}},
    {.name = "priority: a record matching two types lives under the first", .base = 1,
     .ntypes = 2,
     .types = {{"Customers", "res.partner", PLAN_DIR_BOTH, 1},
               {"Vendors", "res.partner", PLAN_DIR_BOTH, 1}},
     .recs = {{1, "res.partner", 3, "Agrolait"}, {0, "res.partner", 3, "Agrolait"},
              {1, "res.partner", 4, "Wood Corner"}},
     .ents = {{"/Odoo/Vendors/Agrolait", 1, 0, "res.partner,3", NULL}},
     .want = {"rename cloud /Odoo/Vendors/Agrolait -> " CU "/Agrolait [res.partner,3]",
              "mkdir cloud /Odoo/Vendors/Wood Corner [res.partner,4]"}},
    {.name = "record deleted in Odoo deletes its folder", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO9", 1, 0, "sale.order,9", NULL},
              {Q "/SO9/a.pdf", 0, 40, NULL, NULL}},
     .want = {"delete cloud " Q "/SO9 [sale.order,9]"}},
    {.name = "a record listed nowhere (deleted in Odoo) loses its folder", .base = 1,
     .recs = {{1, "res.partner", 2, "Azure"}},
     .ents = {{CU "/Azure", 1, 0, "res.partner,2", NULL}, {CU "/Deco", 1, 0, "res.partner,3", NULL}},
     .want = {"delete cloud " CU "/Deco [res.partner,3]"}},
    {.name = "a record matching no type is archived: its folder moves, its urls follow",
     .base = 1,
     .recs = {{1, "res.partner", 2, "Azure"}, {-1, "res.partner", 3, "Deco"}},
     .ents = {{CU "/Azure", 1, 0, "res.partner,2", NULL}, {CU "/Deco", 1, 0, "res.partner,3", NULL},
              {CU "/Deco/a.pdf", 0, 40, NULL, NULL}},
     .atts = {{40, "a.pdf", 1, CU "/Deco/a.pdf", "res.partner", 3, NULL}},
     .want = {"mkdir cloud /Odoo/Archive \"Archive\"",
              "rename cloud " CU "/Deco -> /Odoo/Archive/Deco [res.partner,3]",
              "relink odoo /Odoo/Archive/Deco/a.pdf #40 [res.partner,3] \"a.pdf\""}},
    {.name = "an archived record that matches again moves back", .base = 1,
     .recs = {{1, "res.partner", 3, "Deco"}},
     .ents = {{"/Odoo/Archive", 1, 0, NULL, "Archive"},
              {"/Odoo/Archive/Deco", 1, 0, "res.partner,3", NULL},
              {"/Odoo/Archive/Deco/a.pdf", 0, 40, NULL, NULL}},
     .atts = {{40, "a.pdf", 1, "/Odoo/Archive/Deco/a.pdf", "res.partner", 3, NULL}},
     .want = {"rename cloud /Odoo/Archive/Deco -> " CU "/Deco [res.partner,3]",
              "relink odoo " CU "/Deco/a.pdf #40 [res.partner,3] \"a.pdf\""}},
    {.name = "archived records: new files linked, names unique, a deleted one's folder goes",
     .base = 1,
     .recs = {{-1, "res.partner", 3, "Deco"}, {-1, "sale.order", 4, "Deco"}},
     .ents = {{"/Odoo/Archive", 1, 0, NULL, "Archive"},
              {"/Odoo/Archive/Deco", 1, 0, "res.partner,3", NULL},
              {"/Odoo/Archive/Deco/new.txt", 0, 0, NULL, NULL},
              {Q "/Deco", 1, 0, "sale.order,4", NULL},
              {"/Odoo/Archive/Gone", 1, 0, "sale.order,9", NULL}},
     .want = {"rename cloud " Q "/Deco -> /Odoo/Archive/Deco (2) [sale.order,4]",
              "relink odoo /Odoo/Archive/Deco/new.txt [res.partner,3] \"new.txt\"",
              "delete cloud /Odoo/Archive/Gone [sale.order,9]"}},
    {.name = "an archived folder deleted in the cloud: re-created, its url attachments deleted",
     .base = 1, .recs = {{-1, "res.partner", 3, "Deco"}, {-1, "res.partner", 4, "Wood"}},
     .ents = {{"/Odoo/Archive", 1, 0, NULL, "Archive"}},
     .atts = {{40, "a.pdf", 1, "/Odoo/Archive/Deco/a.pdf", "res.partner", 3, NULL}},
     .want = {"mkdir cloud /Odoo/Archive/Deco [res.partner,3]",
              "delete odoo /Odoo/Archive/Deco/a.pdf #40 [res.partner,3] \"a.pdf\""}},
    {.name = "keep policy: the folder of a record matching no type stays, untouched", .base = 1,
     .keep = 1, .recs = {{-1, "res.partner", 3, "Deco"}},
     .ents = {{CU "/Deco", 1, 0, "res.partner,3", NULL}, {CU "/Deco/a.pdf", 0, 40, NULL, NULL},
              {CU "/Deco/new.txt", 0, 0, NULL, NULL}},
     .atts = {{40, "a.pdf", 1, CU "/Deco/a.pdf", "res.partner", 3, NULL}}},
    {.name = "existence unknown (the check failed): nothing deleted", .base = 1,
     .gone_unknown = 1, .ents = {{CU "/Deco", 1, 0, "res.partner,3", NULL}},
     .want_msg = "still exists is unknown"},
    {.name = "a deleted record's folder that a live url attachment links into stays", .base = 1,
     .recs = {{1, "res.partner", 2, "Azure"}},
     .ents = {{CU "/Azure", 1, 0, "res.partner,2", NULL}, {CU "/Deco", 1, 0, "res.partner,3", NULL},
              {CU "/Deco/shared.pdf", 0, 0, NULL, NULL}},
     .atts = {{41, "shared.pdf", 1, CU "/Deco/shared.pdf", "res.partner", 2, NULL}},
     .want_msg = "attachment 41 still links into the folder"},
    {.name = "document folder deleted in the cloud: re-created, its url attachments deleted",
     .base = 1, .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{10, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL},
              {11, "b.pdf", 0, NULL, "sale.order", 1, NULL}},
     .want = {"mkdir cloud " Q "/SO1 [sale.order,1]",
              "upload cloud " Q "/SO1/b.pdf #11 [sale.order,1] \"b.pdf\"",
              "delete odoo /Odoo/Quotations/SO1/a.pdf #10 [sale.order,1] \"a.pdf\""}},
    {.name = "document folder renamed in the cloud: rename reverted", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/My offer", 1, 0, "sale.order,1", NULL}},
     .want = {"rename cloud " Q "/My offer -> " Q "/SO1 [sale.order,1]"}},
    {.name = "cloud folder rename and Odoo record rename: the Odoo name wins, urls follow",
     .base = 1, .recs = {{0, "sale.order", 1, "SO1 (new)"}},
     .atts = {{10, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/user name", 1, 0, "sale.order,1", NULL},
              {Q "/user name/a.pdf", 0, 10, NULL, NULL}},
     .want = {"rename cloud " Q "/user name -> " Q "/SO1 (new) [sale.order,1]",
              "relink odoo " Q "/SO1 (new)/a.pdf #10 [sale.order,1] \"a.pdf\""}},
    {.name = "binary attachment uploaded into its folder", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{11, "offer:v1.pdf", 0, NULL, "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}},
     .want = {"upload cloud " Q "/SO1/offer-v1.pdf #11 [sale.order,1] \"offer-v1.pdf\""}},
    {.name = "upload whose confirmation was lost is re-planned on its file", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{11, "offer.pdf", 0, NULL, "sale.order", 1, NULL, 100}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/offer.pdf", 0, 11, NULL, NULL}},
     .want = {"upload cloud " Q "/SO1/offer.pdf #11 [sale.order,1] \"offer.pdf\""}},
    {.name = "upload whose confirmation was lost, then edited in Odoo (another size): the "
             "older file is kept, the new content goes beside it",
     .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{11, "offer.pdf", 0, NULL, "sale.order", 1, NULL, 1234}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/offer.pdf", 0, 11, NULL, NULL}},
     .want = {"upload cloud " Q "/SO1/offer (2).pdf #11 [sale.order,1] \"offer (2).pdf\""},
     .want_msg = "holds an older upload of attachment 11: kept"},
    {.name = "attachment deleted in Odoo deletes its cloud file", .base = 1,
     .prev = 1, .links = {{12, Q "/SO1/old.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/old.pdf", 0, 12, NULL, NULL}},
     .want = {"delete cloud " Q "/SO1/old.pdf #12 [sale.order,1] \"old.pdf\""}},
    {.name = "a copy of a linked file (COPY copies the tag) outlives the attachment: "
             "the original is deleted, the copy linked anew",
     .base = 1, .prev = 1,
     .links = {{12, Q "/SO1/old.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/copy of old.pdf", 0, 12, NULL, NULL},
              {Q "/SO1/old.pdf", 0, 12, NULL, NULL}},
     .want = {"delete cloud " Q "/SO1/old.pdf #12 [sale.order,1] \"old.pdf\"",
              "relink odoo " Q "/SO1/copy of old.pdf [sale.order,1] \"copy of old.pdf\""},
     .want_msg = "(another path): linked as a new file"},
    {.name = "uploaded by the last pass, deleted in Odoo before a scan saw the file: deleted",
     .base = 1, .prev = 1,
     .links = {{12, Q "/SO1/old.pdf", "-", NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/old.pdf", 0, 12, NULL, NULL}},
     .want = {"delete cloud " Q "/SO1/old.pdf #12 [sale.order,1] \"old.pdf\""}},
    {.name = "linked as a new attachment by the last pass, deleted in Odoo since: deleted",
     .base = 1, .prev = 1,
     .links = {{0, Q "/SO1/new.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/new.pdf", 0, 31, NULL, NULL}},
     .want = {"delete cloud " Q "/SO1/new.pdf #31 [sale.order,1] \"new.pdf\""}},
    {.name = "a linked file renamed since (same size and ETag, nothing left at its path): "
             "deleted with its attachment",
     .base = 1, .prev = 1,
     .links = {{12, Q "/SO1/old.pdf", "\"e1\"", NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/renamed.pdf", 0, 12, NULL, NULL}},
     .want = {"delete cloud " Q "/SO1/renamed.pdf #12 [sale.order,1] \"renamed.pdf\""}},
    {.name = "a linked sub-folder is proven by its path (its ETag follows its content)",
     .base = 1, .prev = 1,
     .links = {{12, Q "/SO1/Drafts", "\"before\"", NULL, "sale.order,1", "sale.order,1", "sale.order,1"},
               {13, Q "/SO1/Old", "\"e2\"", NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/Drafts", 1, 12, NULL, NULL},
              {Q "/SO1/Moved", 1, 13, NULL, NULL}},
     .want = {"delete cloud " Q "/SO1/Drafts #12 [sale.order,1] \"Drafts\"",
              "relink odoo " Q "/SO1/Moved [sale.order,1] \"Moved\""}},
    {.name = "a stale tag (another file at the deleted file's path) is never deleted on",
     .base = 1, .prev = 1,
     .links = {{12, Q "/SO1/old.pdf", "\"before\"", NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/old.pdf", 0, 12, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/old.pdf [sale.order,1] \"old.pdf\""},
     .want_msg = "(another ETag)"},
    {.name = "a tag of an attachment no pass saw linked is not deleted on", .base = 1, .prev = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/old.pdf", 0, 12, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/old.pdf [sale.order,1] \"old.pdf\""},
     .want_msg = "no file was linked to it when last seen"},
    {.name = "no previous pass known: a tag of a gone attachment is not deleted on", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/old.pdf", 0, 12, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/old.pdf [sale.order,1] \"old.pdf\""},
     .want_msg = "no previous pass is known"},
    {.name = "the file id contradicts the tag (Nextcloud: a new file at the same path): kept",
     .base = 1, .prev = 1,
     .links = {{12, Q "/SO1/old.pdf", NULL, "100", "sale.order,1", "sale.order,1", "sale.order,1"}},
     .fileids = {{Q "/SO1/old.pdf", "200"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/old.pdf", 0, 12, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/old.pdf [sale.order,1] \"old.pdf\""},
     .want_msg = "(another file id)"},
    /* (entry i's ETag is "e<i>": a rename keeps a file's ETag) */
    {.name = "the file id proves the linked file, even renamed since: deleted", .base = 1,
     .prev = 1,
     .links = {{12, Q "/SO1/old.pdf", "\"e1\"", "100", "sale.order,1", "sale.order,1",
                "sale.order,1"}},
     .fileids = {{Q "/SO1/renamed.pdf", "100"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/renamed.pdf", 0, 12, NULL, NULL}},
     .want = {"delete cloud " Q "/SO1/renamed.pdf #12 [sale.order,1] \"renamed.pdf\""}},
    {.name = "the file id proves the linked file, but written since: the edit wins", .base = 1,
     .prev = 1,
     .links = {{12, Q "/SO1/old.pdf", "\"x\"", "100", "sale.order,1", "sale.order,1",
                "sale.order,1"}},
     .fileids = {{Q "/SO1/renamed.pdf", "100"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/renamed.pdf", 0, 12, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/renamed.pdf [sale.order,1] \"renamed.pdf\""},
     .want_msg = "(it was written since it was linked)"},
    {.name = "attachment re-linked to another record in Odoo: its file moves there",
     .base = 1, .prev = 1,
     .links = {{14, Q "/SO1/a.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}, {0, "sale.order", 2, "SO2"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 2, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO1/a.pdf", 0, 14, NULL, NULL}, {Q "/SO2/a.pdf", 0, 0, NULL, NULL}},
     .want = {"rename cloud " Q "/SO1/a.pdf -> " Q "/SO2/a (2).pdf #14 [sale.order,2] \"a.pdf\"",
              "relink odoo " Q "/SO2/a (2).pdf #14 [sale.order,2] \"a.pdf\"",
              "relink odoo " Q "/SO2/a.pdf [sale.order,2] \"a.pdf\""},
     .locks = {Q "/SO2", Q "/SO2", Q "/SO2"}},
    {.name = "re-linked in Odoo out of a record deleted since: the file moves, not deleted",
     .base = 1, .prev = 1,
     .links = {{14, Q "/SO1/a.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 2, "SO2"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 2, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO1/a.pdf", 0, 14, NULL, NULL}, {Q "/SO1/old.txt", 0, 0, NULL, NULL}},
     .want = {"rename cloud " Q "/SO1/a.pdf -> " Q "/SO2/a.pdf #14 [sale.order,2] \"a.pdf\"",
              "relink odoo " Q "/SO2/a.pdf #14 [sale.order,2] \"a.pdf\""},
     .want_msg = "attachment 14 still links into the folder"},
    {.name = "file moved in the cloud since the last pass: the attachment follows",
     .base = 1, .prev = 1,
     .links = {{14, Q "/SO1/a.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}, {0, "sale.order", 2, "SO2"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO2/a.pdf", 0, 14, NULL, NULL}},
     .want = {"relink odoo " Q "/SO2/a.pdf #14 [sale.order,2] \"a.pdf\""}},
    {.name = "moved on both sides to different records: the cloud's move wins",
     .base = 1, .prev = 1,
     .links = {{14, Q "/SO1/a.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}, {0, "sale.order", 2, "SO2"}, {0, "sale.order", 3, "SO3"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 2, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO3", 1, 0, "sale.order,3", NULL}, {Q "/SO3/a.pdf", 0, 14, NULL, NULL}},
     .want = {"relink odoo " Q "/SO3/a.pdf #14 [sale.order,3] \"a.pdf\""},
     .want_msg = "the cloud's move wins"},
    {.name = "a file move planned by the last pass that did not happen is planned again",
     .base = 1, .prev = 1,
     .links = {{14, Q "/SO2/a.pdf", NULL, NULL, "sale.order,2", "sale.order,2", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}, {0, "sale.order", 2, "SO2"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 2, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO1/a.pdf", 0, 14, NULL, NULL}},
     .want = {"rename cloud " Q "/SO1/a.pdf -> " Q "/SO2/a.pdf #14 [sale.order,2] \"a.pdf\"",
              "relink odoo " Q "/SO2/a.pdf #14 [sale.order,2] \"a.pdf\""}},
    {.name = "a relink planned by the last pass that did not happen is planned again",
     .base = 1, .prev = 1,
     .links = {{14, Q "/SO2/a.pdf", NULL, NULL, "sale.order,2", "sale.order,1", "sale.order,2"}},
     .recs = {{0, "sale.order", 1, "SO1"}, {0, "sale.order", 2, "SO2"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO2/a.pdf", 0, 14, NULL, NULL}},
     .want = {"relink odoo " Q "/SO2/a.pdf #14 [sale.order,2] \"a.pdf\""}},
    {.name = "attachment made stand-alone in Odoo: its file moves to the stand-alone folder",
     .base = 1, .prev = 1,
     .links = {{14, Q "/SO1/a.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", NULL, 0, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/a.pdf", 0, 14, NULL, NULL}},
     .want = {"rename cloud " Q "/SO1/a.pdf -> " SA "/a.pdf #14 \"a.pdf\"",
              "relink odoo " SA "/a.pdf #14 \"a.pdf\""}},
    {.name = "new cloud file becomes a url attachment", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/new.docx", 0, 0, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/new.docx [sale.order,1] \"new.docx\""}},
    {.name = "desktop lock files and partial uploads are not linked", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/.~lock.offer.odt#", 0, 0, NULL, NULL},
              {Q "/SO1/~$offer.docx", 0, 0, NULL, NULL}, {Q "/SO1/big.iso.part", 0, 0, NULL, NULL},
              {Q "/SO1/offer.odt", 0, 0, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/offer.odt [sale.order,1] \"offer.odt\""}},
    {.name = "sub-folder becomes one url attachment", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/Drawings", 1, 0, NULL, NULL},
              {Q "/SO1/Drawings/x.png", 0, 0, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/Drawings [sale.order,1] \"Drawings\""}},
    {.name = "renamed cloud file renames its attachment", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{13, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/b.pdf", 0, 13, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/b.pdf #13 [sale.order,1] \"b.pdf\""}},
    {.name = "an attachment renamed in Odoo takes the cloud name back", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{13, "my offer", 1, Q "/SO1/offer.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/offer.pdf", 0, 13, NULL, NULL}},
     .want = {"rename odoo " Q "/SO1/offer.pdf #13 [sale.order,1] \"offer.pdf\""}},
    {.name = "file moved to another document folder relinks (no delete, no create)",
     .base = 1, .recs = {{0, "sale.order", 1, "SO1"}, {0, "sale.order", 2, "SO2"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO2/a.pdf", 0, 14, NULL, NULL}},
     .want = {"relink odoo " Q "/SO2/a.pdf #14 [sale.order,2] \"a.pdf\""}},
    {.name = "file moved to a document of another type relinks", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}, {1, "res.partner", 7, "Agrolait"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {CU "/Agrolait", 1, 0, "res.partner,7", NULL},
              {CU "/Agrolait/a.pdf", 0, 14, NULL, NULL}},
     .want = {"relink odoo " CU "/Agrolait/a.pdf #14 [res.partner,7] \"a.pdf\""}},
    {.name = "file moved outside any document folder deletes its attachment", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{15, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/a.pdf", 0, 15, NULL, NULL}},
     .want = {"delete odoo /Odoo/Quotations/a.pdf #15 [sale.order,1] \"a.pdf\""}},
    {.name = "url attachment whose file is gone is deleted", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{16, "gone.pdf", 1, Q "/SO1/gone.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}},
     .want = {"delete odoo /Odoo/Quotations/SO1/gone.pdf #16 [sale.order,1] \"gone.pdf\""}},
    {.name = "a name left out of a folder's listing withholds only that folder's deletions",
     .base = 1, .recs = {{0, "sale.order", 1, "SO1"}, {0, "sale.order", 2, "SO2"}},
     .atts = {{20, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL},
              {21, "b.pdf", 1, Q "/SO2/b.pdf", "sale.order", 2, NULL},
              {22, "c.pdf", 1, Q "/SO2/sub/c.pdf", "sale.order", 2, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL}},
     .left_out = {{Q "/SO1", 0}},
     .want = {"delete odoo /Odoo/Quotations/SO2/b.pdf #21 [sale.order,2] \"b.pdf\"",
              "delete odoo /Odoo/Quotations/SO2/sub/c.pdf #22 [sale.order,2] \"c.pdf\""},
     .want_msg = "\"" Q "/SO1\" holds a name left out of the listing"},
    {.name = "a folder name left out withholds the deletions below its parent", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}, {1, "res.partner", 7, "Agrolait"}},
     .atts = {{23, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL},
              {24, "b.pdf", 1, CU "/Agrolait/b.pdf", "res.partner", 7, NULL}},
     .ents = {{CU "/Agrolait", 1, 0, "res.partner,7", NULL}},
     .left_out = {{Q, 1}},
     .want = {"mkdir cloud " Q "/SO1 [sale.order,1]",
              "delete odoo /Odoo/Customers/Agrolait/b.pdf #24 [res.partner,7] \"b.pdf\""},
     .want_msg = "not deleted in Odoo"},
    {.name = "deleted type folder: folders come back, attachments of its files deleted",
     .ents = {{"/Odoo", 1, 0, NULL, NULL}, {CU, 1, 0, NULL, "Customers"},
              {SA, 1, 0, NULL, "Stand Alone Attachments"}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{17, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .want = {"mkdir cloud " Q " \"Quotations\"", "mkdir cloud " Q "/SO1 [sale.order,1]",
              "delete odoo /Odoo/Quotations/SO1/a.pdf #17 [sale.order,1] \"a.pdf\""}},
    {.name = "stand-alone attachments live in the stand-alone folder", .base = 1,
     .atts = {{18, "memo.txt", 0, NULL, NULL, 0, NULL},
              {19, "old.txt", 1, SA "/old.txt", NULL, 0, NULL}},
     .ents = {{SA "/old.txt", 0, 19, NULL, NULL}, {SA "/dropped.txt", 0, 0, NULL, NULL}},
     .want = {"upload cloud " SA "/memo.txt #18 \"memo.txt\"",
              "relink odoo " SA "/dropped.txt \"dropped.txt\""}},
    {.name = "stand-alone folder disabled: nothing planned for stand-alone attachments",
     .base = 1, .no_standalone = 1, .atts = {{18, "memo.txt", 0, NULL, NULL, 0, NULL}}},
    {.name = "two attachments with one name get distinct files, by id", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{22, "scan.pdf", 0, NULL, "sale.order", 1, NULL},
              {21, "scan.pdf", 0, NULL, "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}},
     .want = {"upload cloud " Q "/SO1/scan.pdf #21 [sale.order,1] \"scan.pdf\"",
              "upload cloud " Q "/SO1/scan (2).pdf #22 [sale.order,1] \"scan (2).pdf\""}},
    {.name = "colliding display names get distinct folders, by record id", .base = 1,
     .recs = {{1, "res.partner", 5, "Agrolait"}, {1, "res.partner", 3, "Agrolait"},
              {1, "res.partner", 7, "agrolait"}, {1, "res.partner", 9, "A/B: C*"}},
     .want = {"mkdir cloud " CU "/Agrolait [res.partner,3]",
              "mkdir cloud " CU "/Agrolait (2) [res.partner,5]",
              "mkdir cloud " CU "/agrolait (3) [res.partner,7]",
              "mkdir cloud " CU "/A-B- C- [res.partner,9]"}},
    {.name = "direction to-cloud: no Odoo-side job", .base = 1, .ntypes = 1,
     .prev = 1, .links = {{12, Q "/SO1/old.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .types = {{"Quotations", "sale.order", PLAN_DIR_TO_CLOUD, 1}},
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{11, "b.pdf", 0, NULL, "sale.order", 1, NULL},
              {16, "gone.pdf", 1, Q "/SO1/gone.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/new.docx", 0, 0, NULL, NULL},
              {Q "/SO1/old.pdf", 0, 12, NULL, NULL}},
     .want = {"upload cloud " Q "/SO1/b.pdf #11 [sale.order,1] \"b.pdf\"",
              "delete cloud " Q "/SO1/old.pdf #12 [sale.order,1] \"old.pdf\""}},
    {.name = "direction from-cloud: no cloud-side job", .ntypes = 1,
     .prev = 1, .links = {{12, "/Odoo/Q2/S/old.pdf", NULL, NULL, "sale.order,1", "sale.order,1", "sale.order,1"}},
     .types = {{"Quotations", "sale.order", PLAN_DIR_FROM_CLOUD, 1}},
     .ents = {{"/Odoo", 1, 0, NULL, NULL}, {SA, 1, 0, NULL, "Stand Alone Attachments"},
              {"/Odoo/Q2", 1, 0, NULL, "Quotations"}, {"/Odoo/Q2/S", 1, 0, "sale.order,1", NULL},
              {"/Odoo/Q2/S/new.docx", 0, 0, NULL, NULL}, {"/Odoo/Q2/S/old.pdf", 0, 12, NULL, NULL},
              {"/Odoo/Q2/S9", 1, 0, "sale.order,9", NULL}},
     .recs = {{0, "sale.order", 1, "SO1"}, {0, "sale.order", 2, "SO2"}},
     .atts = {{11, "b.pdf", 0, NULL, "sale.order", 1, NULL}},
     .want = {"relink odoo /Odoo/Q2/S/new.docx [sale.order,1] \"new.docx\""}},
    {.name = "type whose Odoo scan failed: no deletion for it, and a message", .base = 1,
     .ntypes = 2,
     .types = {{"Quotations", "sale.order", PLAN_DIR_BOTH, 0},
               {"Customers", "res.partner", PLAN_DIR_BOTH, 1}},
     .recs = {{1, "res.partner", 2, "Azure"}},
     .ents = {{Q "/SO9", 1, 0, "sale.order,9", NULL}, {Q "/SO9/a.pdf", 0, 20, NULL, NULL},
              {Q "/SO9/new.pdf", 0, 0, NULL, NULL}, {CU "/Azure", 1, 0, "res.partner,2", NULL},
              {CU "/Gone", 1, 0, "res.partner,3", NULL}},
     /* the refused type makes the pass incomplete (exit 4); the others still delete */
     .want = {"delete cloud " CU "/Gone [res.partner,3]"}, .want_msg = "scan failed",
     .verdict = PLAN_VERDICT_SCAN_INCOMPLETE},
    {.name = "scan failed for the higher-priority type: its records are not moved", .base = 1,
     .ntypes = 2,
     .types = {{"Customers", "res.partner", PLAN_DIR_BOTH, 0},
               {"Contacts", "res.partner", PLAN_DIR_BOTH, 1}},
     .recs = {{1, "res.partner", 3, "Agrolait"}},
     .ents = {{CU "/Agrolait", 1, 0, "res.partner,3", NULL}}, .want_msg = "scan failed",
     .verdict = PLAN_VERDICT_SCAN_INCOMPLETE},
    {.name = "deletions over the share are refused", .base = 1, .share = 0.5,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO2/a", 0, 0, NULL, NULL}, {Q "/SO2/b", 0, 0, NULL, NULL},
              {Q "/SO3", 1, 0, "sale.order,3", NULL}, {Q "/SO3/c", 0, 0, NULL, NULL},
              {Q "/SO3/d", 0, 0, NULL, NULL}},
     .verdict = PLAN_VERDICT_DELETES_REFUSED, .want_msg = "no deletion planned"},
    {.name = "deletions over the share pass when forced", .base = 1, .share = 0.5, .force = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO2/a", 0, 0, NULL, NULL}, {Q "/SO2/b", 0, 0, NULL, NULL},
              {Q "/SO3", 1, 0, "sale.order,3", NULL}, {Q "/SO3/c", 0, 0, NULL, NULL},
              {Q "/SO3/d", 0, 0, NULL, NULL}},
     .want = {"delete cloud " Q "/SO2 [sale.order,2]", "delete cloud " Q "/SO3 [sale.order,3]"},
     .want_msg = "forced"},
    {.name = "deletions under the share pass", .base = 1, .share = 0.5,
     .recs = {{0, "sale.order", 1, "SO1"}, {0, "sale.order", 2, "SO2"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO3", 1, 0, "sale.order,3", NULL}},
     .want = {"delete cloud " Q "/SO3 [sale.order,3]"}},
    {.name = "incomplete Odoo scan: no deletion, other jobs go on", .base = 1,
     .odoo_incomplete = 1, .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{16, "gone.pdf", 1, Q "/SO1/gone.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO2", 1, 0, "sale.order,2", NULL},
              {Q "/SO1/new.txt", 0, 0, NULL, NULL}},
     .want = {"relink odoo " Q "/SO1/new.txt [sale.order,1] \"new.txt\""},
     .verdict = PLAN_VERDICT_SCAN_INCOMPLETE, .want_msg = "Odoo scan is incomplete"},
    {.name = "incomplete cloud scan: no deletion", .base = 1, .cloud_incomplete = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{16, "gone.pdf", 1, Q "/SO1/gone.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}},
     .verdict = PLAN_VERDICT_SCAN_INCOMPLETE, .want_msg = "cloud scan is incomplete"},
    {.name = "url attachments pointing elsewhere are not ours", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{30, "video", 1, NULL, "sale.order", 1, "https://example.com/v?x=1"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}}},
    {.name = "an untagged folder at the right place is adopted, its files linked", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/SO1", 1, 0, NULL, NULL}, {Q "/SO1/x.txt", 0, 0, NULL, NULL}},
     .want = {"mkdir cloud " Q "/SO1 [sale.order,1]",
              "relink odoo " Q "/SO1/x.txt [sale.order,1] \"x.txt\""}},
    {.name = "a synced state plans nothing", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}, {1, "res.partner", 7, "Agrolait"}},
     .atts = {{10, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL},
              {11, "Plans", 1, CU "/Agrolait/Plans", "res.partner", 7, NULL},
              {12, "m.txt", 1, SA "/m.txt", NULL, 0, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/a.pdf", 0, 10, NULL, NULL},
              {CU "/Agrolait", 1, 0, "res.partner,7", NULL},
              {CU "/Agrolait/Plans", 1, 11, NULL, NULL},
              {CU "/Agrolait/Plans/p1.dwg", 0, 0, NULL, NULL}, {SA "/m.txt", 0, 12, NULL, NULL}}},
    {.name = "file moved into the stand-alone folder is unlinked from its record", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {SA "/a.pdf", 0, 14, NULL, NULL}},
     .want = {"relink odoo " SA "/a.pdf #14 \"a.pdf\""}},
    {.name = "another spelling of the same url is not rewritten", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{13, "a-b c.pdf", 1, NULL, "sale.order", 1,
               "http://dav.test/dav/Odoo/%51uotations/SO1/a%2db%20c.pdf"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/a-b c.pdf", 0, 13, NULL, NULL}}},
    {.name = "a record without a display name is named by its id", .base = 1,
     .recs = {{0, "sale.order", 42, NULL}},
     .want = {"mkdir cloud " Q "/42 [sale.order,42]"}},
    {.name = "a copy of a tagged file in another document is a new file there", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}, {0, "sale.order", 2, "SO2"}},
     .atts = {{14, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/a.pdf", 0, 14, NULL, NULL},
              {Q "/SO2", 1, 0, "sale.order,2", NULL}, {Q "/SO2/a.pdf", 0, 14, NULL, NULL}},
     .want = {"relink odoo " Q "/SO2/a.pdf [sale.order,2] \"a.pdf\""}},
    {.name = "file moved into a sub-folder of its document deletes its attachment", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{15, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL},
              {16, "Sub", 1, Q "/SO1/Sub", "sale.order", 1, NULL}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/Sub", 1, 16, NULL, NULL},
              {Q "/SO1/Sub/a.pdf", 0, 15, NULL, NULL}},
     .want = {"delete odoo /Odoo/Quotations/SO1/Sub/a.pdf #15 [sale.order,1] \"a.pdf\""}},
    {.name = "a record whose folder name is taken waits, and says so", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/Old", 1, 0, "sale.order,1", NULL}, {Q "/SO1", 0, 0, NULL, NULL}},
     .want_msg = "the name is taken"},
    /* a place freed in the same pass is taken in that pass, after the job that frees it
       (same lock, so the worker runs them in order; a cycle still waits) */
    {.name = "a name freed by a rename is taken in the same pass, after it", .base = 1,
     .recs = {{0, "sale.order", 1, "X"}, {0, "sale.order", 2, "Y"}},
     .ents = {{Q "/Old", 1, 0, "sale.order,1", NULL}, {Q "/Old/new.txt", 0, 0, NULL, NULL},
              {Q "/X", 1, 0, "sale.order,2", NULL}},
     .want = {"rename cloud " Q "/X -> " Q "/Y [sale.order,2]",
              "rename cloud " Q "/Old -> " Q "/X [sale.order,1]",
              "relink odoo " Q "/X/new.txt [sale.order,1] \"new.txt\""},
     .locks = {Q "/Y", Q "/Y", Q "/Y"}},
    {.name = "a record changing type takes the name its namesake leaves (seed 10)", .base = 1,
     .ntypes = 2,
     .types = {{"Quotations", "sale.order", PLAN_DIR_BOTH, 1},
               {"Orders", "sale.order", PLAN_DIR_BOTH, 1}},
     .recs = {{1, "sale.order", 7, "Q9777"}, {1, "sale.order", 6, "Q9777"}},
     .ents = {{Q "/Q9777", 1, 0, "sale.order,6", NULL}, {"/Odoo/Orders/Q9777", 1, 0, "sale.order,7", NULL}},
     .want = {"rename cloud /Odoo/Orders/Q9777 -> /Odoo/Orders/Q9777 (2) [sale.order,7]",
              "rename cloud " Q "/Q9777 -> /Odoo/Orders/Q9777 [sale.order,6]"},
     .locks = {"/Odoo/Orders/Q9777 (2)", "/Odoo/Orders/Q9777 (2)"}},
    {.name = "a chain of freed names resolves in order, under one lock", .base = 1,
     .recs = {{0, "sale.order", 1, "X"}, {0, "sale.order", 2, "Y"}, {0, "sale.order", 3, "Z"}},
     .ents = {{Q "/Old", 1, 0, "sale.order,1", NULL}, {Q "/X", 1, 0, "sale.order,2", NULL},
              {Q "/Y", 1, 0, "sale.order,3", NULL}},
     .want = {"rename cloud " Q "/Y -> " Q "/Z [sale.order,3]",
              "rename cloud " Q "/X -> " Q "/Y [sale.order,2]",
              "rename cloud " Q "/Old -> " Q "/X [sale.order,1]"},
     .locks = {Q "/Z", Q "/Z", Q "/Z"}},
    {.name = "a name freed by a gone record's folder: deleted first, then created", .base = 1,
     .recs = {{0, "sale.order", 2, "SO2"}},
     .atts = {{11, "b.pdf", 0, NULL, "sale.order", 2, NULL}},
     .ents = {{Q "/SO2", 1, 0, "sale.order,9", NULL}, {Q "/SO2/old.txt", 0, 0, NULL, NULL}},
     .want = {"delete cloud " Q "/SO2 [sale.order,9]", "mkdir cloud " Q "/SO2 [sale.order,2]",
              "upload cloud " Q "/SO2/b.pdf #11 [sale.order,2] \"b.pdf\""},
     .locks = {Q "/SO2", Q "/SO2", Q "/SO2"}},
    {.name = "a withheld deletion keeps the record that would take its place waiting",
     .base = 1, .share = 0.1,
     .recs = {{0, "sale.order", 2, "SO2"}, {0, "sale.order", 3, "SO3"}},
     .ents = {{Q "/SO2", 1, 0, "sale.order,9", NULL}, {Q "/SO2/old.txt", 0, 0, NULL, NULL},
              {Q "/SO2/old2.txt", 0, 0, NULL, NULL}},
     .want = {"mkdir cloud " Q "/SO3 [sale.order,3]"},
     .verdict = PLAN_VERDICT_DELETES_REFUSED, .want_msg = "wait too"},
    /* a cycle of names: the first record of the cycle waits under a temporary name in its
       type folder, the others move, then it takes its place; one lock for all, in order */
    {.name = "two records swapping names: one waits under a temporary name", .base = 1,
     .recs = {{0, "sale.order", 1, "Y"}, {0, "sale.order", 2, "X"}},
     .atts = {{11, "a.txt", 1, Q "/X/a.txt", "sale.order", 1, NULL}},
     .ents = {{Q "/X", 1, 0, "sale.order,1", NULL}, {Q "/X/a.txt", 0, 11, NULL, NULL},
              {Q "/Y", 1, 0, "sale.order,2", NULL}},
     .want = {"rename cloud " Q "/X -> " Q "/~odoosync-swap sale.order,1 [sale.order,1]",
              "rename cloud " Q "/Y -> " Q "/X [sale.order,2]",
              "rename cloud " Q "/~odoosync-swap sale.order,1 -> " Q "/Y [sale.order,1]",
              "relink odoo " Q "/Y/a.txt #11 [sale.order,1] \"a.txt\""},
     .locks = {Q "/Y", Q "/Y", Q "/Y", Q "/Y"}},
    {.name = "a cycle of three names", .base = 1,
     .recs = {{0, "sale.order", 1, "Y"}, {0, "sale.order", 2, "Z"}, {0, "sale.order", 3, "X"}},
     .ents = {{Q "/X", 1, 0, "sale.order,1", NULL}, {Q "/Y", 1, 0, "sale.order,2", NULL},
              {Q "/Z", 1, 0, "sale.order,3", NULL}},
     .want = {"rename cloud " Q "/X -> " Q "/~odoosync-swap sale.order,1 [sale.order,1]",
              "rename cloud " Q "/Z -> " Q "/X [sale.order,3]",
              "rename cloud " Q "/Y -> " Q "/Z [sale.order,2]",
              "rename cloud " Q "/~odoosync-swap sale.order,1 -> " Q "/Y [sale.order,1]"},
     .locks = {Q "/Y", Q "/Y", Q "/Y", Q "/Y"}},
    {.name = "a swap whose temporary names are taken waits, and says so", .base = 1,
     .recs = {{0, "sale.order", 1, "Y"}, {0, "sale.order", 2, "X"}},
     .ents = {{Q "/X", 1, 0, "sale.order,1", NULL}, {Q "/Y", 1, 0, "sale.order,2", NULL},
              {Q "/~odoosync-swap sale.order,1", 0, 0, NULL, NULL},
              {Q "/~odoosync-swap sale.order,2", 0, 0, NULL, NULL}},
     .want_msg = "the name is taken"},
    /* an untagged folder at a record's place (made by a user, or by an old worker's
       upload) is adopted; the record's old folder is emptied into it file by file (a
       clash keeps both names) and deleted once empty; its attachments follow next pass */
    {.name = "an untagged folder at a record's new place is adopted, the old one merged in",
     .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{11, "a.txt", 1, Q "/Old/a.txt", "sale.order", 1, NULL},
              {12, "b.pdf", 0, NULL, "sale.order", 1, NULL}},
     .ents = {{Q "/Old", 1, 0, "sale.order,1", NULL}, {Q "/Old/a.txt", 0, 11, NULL, NULL},
              {Q "/Old/n.txt", 0, 0, NULL, NULL}, {Q "/SO1", 1, 0, NULL, NULL},
              {Q "/SO1/A.txt", 0, 0, NULL, NULL}},
     .want = {"mkdir cloud " Q "/SO1 [sale.order,1]",
              "rename cloud " Q "/Old/a.txt -> " Q "/SO1/a (2).txt #11 [sale.order,1]",
              "rename cloud " Q "/Old/n.txt -> " Q "/SO1/n.txt [sale.order,1]",
              "delete cloud " Q "/Old [sale.order,1]"},
     .locks = {Q "/SO1", Q "/SO1", Q "/SO1", Q "/SO1"}, .want_msg = "adopted"},
    {.name = "a merge cut short (a locked file) goes on from the record's second folder",
     .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{11, "a.txt", 1, Q "/Old/a.txt", "sale.order", 1, NULL}},
     .ents = {{Q "/Old", 1, 0, "sale.order,1", NULL}, {Q "/Old/a.txt", 0, 11, NULL, NULL},
              {Q "/SO1", 1, 0, "sale.order,1", NULL}, {Q "/SO1/n.txt", 0, 0, NULL, NULL}},
     .want = {"rename cloud " Q "/Old/a.txt -> " Q "/SO1/a.txt #11 [sale.order,1]",
              "delete cloud " Q "/Old [sale.order,1]"},
     .locks = {Q "/SO1", Q "/SO1"}, .want_msg = "is its folder"},
    {.name = "an empty second folder of a record is deleted (only if still empty)", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/Old", 1, 0, "sale.order,1", NULL}, {Q "/SO1", 1, 0, "sale.order,1", NULL}},
     .want = {"delete cloud " Q "/Old [sale.order,1]"}},
    {.name = "a second folder holding a name left out of the listing is not deleted",
     .base = 1, .recs = {{0, "sale.order", 1, "SO1"}},
     .ents = {{Q "/Old", 1, 0, "sale.order,1", NULL}, {Q "/SO1", 1, 0, "sale.order,1", NULL}},
     .left_out = {{Q "/Old", 0}}, .want_msg = "\"" Q "/Old\" holds a name left out"},
    {.name = "a binary attachment without checksum is not uploaded", .base = 1,
     .recs = {{0, "sale.order", 1, "SO1"}},
     .atts = {{11, "empty.txt", 0, NULL, "sale.order", 1, "nochecksum"}},
     .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL}}, .want_msg = "no checksum"},
};
/* clang-format on */

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
    if (j->record)
        buf_printf(b, " [%s]", j->record);
    if (j->name)
        buf_printf(b, " \"%s\"", j->name);
}

/* The snapshot adders copy their arguments: dropping const here is harmless. */
static char *uc(const char *s)
{
    return (char *)(uintptr_t)s;
}

struct world {
    struct plan_input in;
    struct plan_type types[3];
    struct odoo_snap os;
    struct cloud_snap cs;
    struct snap_links links;
};

static int world_build(struct world *w, const struct tcase *tc, struct err *e)
{
    const struct plan_type *types = tc->ntypes ? tc->types : default_types;
    size_t ntypes = tc->ntypes ? tc->ntypes : 2, i;
    int rc;

    memset(w, 0, sizeof *w);
    memcpy(w->types, types, ntypes * sizeof *types);
    w->in.root = "Odoo";
    w->in.standalone_folder = "Stand Alone Attachments";
    w->in.standalone_enabled = !tc->no_standalone;
    w->in.max_delete_share = tc->share > 0 ? tc->share : 1.0;
    w->in.force_deletes = tc->force;
    w->in.url_base = URL_BASE;
    w->in.types = w->types;
    w->in.ntypes = ntypes;
    w->in.version = 1700000000000LL;
    w->in.unmatched = tc->keep ? PLAN_UNMATCHED_KEEP : PLAN_UNMATCHED_ARCHIVE;
    w->in.archive_folder = "Archive";
    cloud_snap_init(&w->cs);
    rc = odoo_snap_init(&w->os, ntypes, e);
    if (rc < 0)
        return rc;
    w->os.complete = !tc->odoo_incomplete;
    w->os.gone_known = !tc->gone_unknown;
    w->cs.complete = !tc->cloud_incomplete;
    if (tc->base) {
        struct snap_entry en = {NULL, 1,    NULL, 0, 0, NULL, NULL, NULL,
                                NULL, NULL, 0,    0, 0, 0,    NULL};
        char path[256];
        en.path = uc("/Odoo");
        rc = cloud_snap_add(&w->cs, &en, e);
        for (i = 0; rc == 0 && i < ntypes; i++) {
            snprintf(path, sizeof path, "/Odoo/%s", types[i].folder);
            en.path = path;
            en.type_tag = uc(types[i].folder);
            en.etag = uc("\"t\"");
            rc = cloud_snap_add(&w->cs, &en, e);
        }
        en.path = uc(SA);
        en.type_tag = uc("Stand Alone Attachments");
        if (rc == 0)
            rc = cloud_snap_add(&w->cs, &en, e);
        if (rc < 0)
            return rc;
    }
    for (i = 0; i < sizeof tc->ents / sizeof tc->ents[0] && tc->ents[i].path; i++) {
        const struct tent *t = &tc->ents[i];
        struct snap_entry en = {NULL, 0,    NULL, 0, 0, NULL, NULL, NULL,
                                NULL, NULL, 0,    0, 0, 0,    NULL};
        char etag[32];
        snprintf(etag, sizeof etag, "\"e%zu\"", i);
        en.path = uc(t->path);
        en.is_dir = t->dir;
        en.etag = etag;
        en.size = t->dir ? 0 : 100;
        en.att_tag = t->att;
        en.record_tag = uc(t->rec);
        en.type_tag = uc(t->type);
        for (size_t k = 0; k < sizeof tc->fileids / sizeof tc->fileids[0]; k++)
            if (tc->fileids[k].path && strcmp(tc->fileids[k].path, t->path) == 0)
                en.fileid = uc(tc->fileids[k].fileid);
        rc = cloud_snap_add(&w->cs, &en, e);
        if (rc < 0)
            return rc;
    }
    for (i = 0; i < sizeof tc->left_out / sizeof tc->left_out[0] && tc->left_out[i].folder; i++) {
        rc = cloud_snap_add_left_out(&w->cs, tc->left_out[i].folder, tc->left_out[i].below, e);
        if (rc < 0)
            return rc;
        w->cs.skipped++;
    }
    for (i = 0; i < sizeof tc->recs / sizeof tc->recs[0] && tc->recs[i].model; i++) {
        rc = tc->recs[i].type < 0
                 ? odoo_snap_add_unmatched(&w->os, tc->recs[i].model, tc->recs[i].id,
                                           tc->recs[i].dn, e)
                 : odoo_snap_add_record(&w->os, (size_t)tc->recs[i].type, tc->recs[i].model,
                                        tc->recs[i].id, tc->recs[i].dn, e);
        if (rc < 0)
            return rc;
    }
    for (i = 0; i < sizeof tc->atts / sizeof tc->atts[0] && tc->atts[i].id; i++) {
        const struct tatt *t = &tc->atts[i];
        struct snap_att a;
        char *url = NULL;
        memset(&a, 0, sizeof a);
        a.id = t->id;
        a.name = uc(t->name);
        a.type = t->url ? SNAP_ATT_URL : SNAP_ATT_BINARY;
        if (t->urlpath)
            url = plan_url_for_path(URL_BASE, t->urlpath);
        a.url = url ? url : uc(t->ext_url);
        a.res_model = uc(t->model);
        a.res_id = t->res_id;
        a.checksum = t->url || t->ext_url ? NULL : uc("0123456789abcdef0123456789abcdef01234567");
        if (!t->url && t->ext_url)
            a.url = NULL; /* ext_url on a binary one: "no checksum" marker */
        a.file_size = t->size ? t->size : 1234;
        a.write_date = uc("2026-01-01 10:00:00");
        a.mimetype = uc("application/pdf");
        rc = odoo_snap_add_att(&w->os, &a, e);
        free(url);
        if (rc < 0)
            return rc;
    }
    for (i = 0; i < sizeof tc->links / sizeof tc->links[0] && tc->links[i].path; i++) {
        const struct tlink *t = &tc->links[i];
        struct snap_link l;
        size_t k;
        memset(&l, 0, sizeof l);
        l.att_id = t->att;
        l.path = uc(t->path);
        l.etag = t->etag && strcmp(t->etag, "-") == 0 ? NULL : uc(t->etag);
        for (k = 0; !t->etag && k < w->cs.n; k++)
            if (strcmp(w->cs.v[k].path, t->path) == 0)
                l.etag = w->cs.v[k].etag;
        l.size = 100;
        l.fileid = uc(t->fileid);
        l.rec = uc(t->rec);
        l.att_rec = uc(t->att_rec);
        l.file_rec = uc(t->file_rec);
        if (snap_links_add(&w->links, &l) < 0)
            return err_set(e, ERR_NOMEM, "out of memory");
    }
    snap_links_sort(&w->links);
    w->in.prev = tc->prev ? &w->links : NULL;
    return 0;
}

static void world_release(struct world *w)
{
    odoo_snap_release(&w->os);
    cloud_snap_release(&w->cs);
    snap_links_release(&w->links);
}

static void run_case(struct check_count *cc, const struct tcase *tc)
{
    struct world w;
    struct plan p;
    struct err e = ERR_INIT;
    struct buf b;
    size_t nwant = 0, i;
    int rc, same = 1, found;

    plan_init(&p);
    buf_init(&b, 4096);
    rc = world_build(&w, tc, &e);
    CHECK_MSG(cc, rc == 0, "%s: world: %s", tc->name, e.msg);
    if (rc == 0) {
        rc = plan_build(&w.in, &w.os, &w.cs, &p, &e);
        CHECK_MSG(cc, rc == 0, "%s: plan_build: %s", tc->name, e.msg);
    }
    while (nwant < sizeof tc->want / sizeof tc->want[0] && tc->want[nwant])
        nwant++;
    if (p.njobs != nwant)
        same = 0;
    for (i = 0; same && i < nwant; i++) {
        render(&p.jobs[i], &b);
        if (strcmp(buf_str(&b), tc->want[i]) != 0)
            same = 0;
    }
    CHECK_MSG(cc, same, "%s: jobs differ", tc->name);
    for (i = 0; same && i < nwant && tc->locks[0]; i++)
        CHECK_MSG(cc, tc->locks[i] && p.jobs[i].lock && strcmp(p.jobs[i].lock, tc->locks[i]) == 0,
                  "%s: job %zu lock %s, want %s", tc->name, i, p.jobs[i].lock,
                  tc->locks[i] ? tc->locks[i] : "(none)");
    if (getenv("PLAN_DUMP")) { /* PLAN_DUMP=1 unit.plan: every plan, for reading */
        printf("== %s\n", tc->name);
        plan_print(&p, stdout, 0);
    }
    if (!same) {
        fprintf(stderr, "  want:\n");
        for (i = 0; i < nwant; i++)
            fprintf(stderr, "    %s\n", tc->want[i]);
        fprintf(stderr, "  got:\n");
        for (i = 0; i < p.njobs; i++) {
            render(&p.jobs[i], &b);
            fprintf(stderr, "    %s  (%s)\n", buf_str(&b), p.jobs[i].reason);
        }
        for (i = 0; i < p.nmessages; i++)
            fprintf(stderr, "  note: %s\n", p.messages[i]);
    }
    CHECK_MSG(cc, p.verdict == tc->verdict, "%s: verdict %s", tc->name,
              plan_verdict_name(p.verdict));
    if (tc->want_msg) {
        found = 0;
        for (i = 0; i < p.nmessages; i++)
            if (strstr(p.messages[i], tc->want_msg))
                found = 1;
        CHECK_MSG(cc, found, "%s: no message with \"%s\"", tc->name, tc->want_msg);
    }
    if (tc->want_link)
        CHECK_MSG(cc, snap_links_find(&p.links, tc->want_link) != NULL,
                  "%s: no link of attachment %ld for the next pass", tc->name, tc->want_link);
    /* every job: an id, the pass version, a lock and a reason; and it encodes */
    for (i = 0; i < p.njobs; i++) {
        const struct job *j = &p.jobs[i];
        CHECK_MSG(cc, j->id && strlen(j->id) == 64, "%s: job %zu has no id", tc->name, i);
        CHECK_MSG(cc, j->version == w.in.version && j->created_at == w.in.version,
                  "%s: job %zu version", tc->name, i);
        CHECK_MSG(cc, j->lock && j->reason, "%s: job %zu lock/reason", tc->name, i);
        buf_reset(&b);
        rc = job_encode(j, &b, &e);
        CHECK_MSG(cc, rc == 0, "%s: job %zu does not encode: %s", tc->name, i, e.msg);
    }
    buf_release(&b);
    plan_release(&p);
    world_release(&w);
}

/* Ids are stable across passes; version moves on. */
static void test_same_state_same_ids(struct check_count *cc)
{
    struct world w;
    struct plan a, b;
    struct err e = ERR_INIT;
    const struct tcase *tc = NULL;
    size_t i;
    int same = 1;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strstr(cases[i].name, "the Odoo name wins"))
            tc = &cases[i];
    CHECK(cc, tc != NULL);
    if (!tc)
        return;
    plan_init(&a);
    plan_init(&b);
    CHECK_INT(cc, world_build(&w, tc, &e), 0);
    CHECK_INT(cc, plan_build(&w.in, &w.os, &w.cs, &a, &e), 0);
    w.in.version += 60000;
    CHECK_INT(cc, plan_build(&w.in, &w.os, &w.cs, &b, &e), 0);
    CHECK_INT(cc, a.njobs, b.njobs);
    CHECK(cc, a.njobs > 0);
    for (i = 0; i < a.njobs && i < b.njobs; i++) {
        if (strcmp(a.jobs[i].id, b.jobs[i].id) != 0)
            same = 0;
        if (b.jobs[i].version != a.jobs[i].version + 60000)
            same = 0;
    }
    CHECK(cc, same);
    /* different jobs have different ids */
    if (a.njobs >= 2)
        CHECK(cc, strcmp(a.jobs[0].id, a.jobs[1].id) != 0);
    plan_release(&a);
    plan_release(&b);
    world_release(&w);
}

/* The url of a relinked file: the DAV base plus the percent-encoded path. */
static void test_urls(struct check_count *cc)
{
    struct world w;
    struct plan p;
    struct err e = ERR_INIT;
    const struct tcase *tc = NULL;
    char *u, *back;
    size_t i;

    u = plan_url_for_path("http://h/dav/", "/Odoo/Customers/Agrolait, Michael/a b%.pdf");
    CHECK_STR(cc, u, "http://h/dav/Odoo/Customers/Agrolait%2C%20Michael/a%20b%25.pdf");
    back = u ? plan_path_for_url("http://h/dav", u) : NULL;
    CHECK_STR(cc, back, "/Odoo/Customers/Agrolait, Michael/a b%.pdf");
    free(u);
    free(back);
    u = plan_url_for_path("http://h/dav", "/Odoo/caf\xc3\xa9");
    CHECK_STR(cc, u, "http://h/dav/Odoo/caf%C3%A9");
    free(u);
    CHECK(cc, plan_path_for_url("http://h/dav", "http://other/dav/Odoo/x") == NULL);
    CHECK(cc, plan_path_for_url("http://h/dav", "http://h/davx/Odoo") == NULL);
    CHECK(cc, plan_path_for_url("http://h/dav", "http://h/dav/Odoo/%zz") == NULL);
    CHECK(cc, plan_path_for_url("http://h/dav", "http://h/dav/Odoo/%00") == NULL);

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strstr(cases[i].name, "new cloud file becomes"))
            tc = &cases[i];
    CHECK(cc, tc != NULL);
    if (!tc)
        return;
    plan_init(&p);
    CHECK_INT(cc, world_build(&w, tc, &e), 0);
    CHECK_INT(cc, plan_build(&w.in, &w.os, &w.cs, &p, &e), 0);
    CHECK_INT(cc, p.njobs, 1);
    if (p.njobs == 1) {
        CHECK_STR(cc, p.jobs[0].url, "http://dav.test/dav/Odoo/Quotations/SO1/new.docx");
        CHECK_STR(cc, p.jobs[0].lock, "/Odoo/Quotations/SO1");
        CHECK_STR(cc, p.jobs[0].reason, "new cloud file");
        CHECK_INT(cc, p.jobs[0].att_id, 0);
    }
    plan_release(&p);
    world_release(&w);
}

/* What a pass leaves for the next one: an upload (path and size, no ETag yet), a linked
 * file as scanned (its path after the pass), a new file by path (id 0). */
static void test_links_recorded(struct check_count *cc)
{
    static const struct tcase tc = {
        .name = "links",
        .base = 1,
        .recs = {{0, "sale.order", 1, "SO1 renamed"}},
        .atts = {{11, "b.pdf", 0, NULL, "sale.order", 1, NULL},
                 {13, "a.pdf", 1, Q "/SO1/a.pdf", "sale.order", 1, NULL}},
        .ents = {{Q "/SO1", 1, 0, "sale.order,1", NULL},
                 {Q "/SO1/a.pdf", 0, 13, NULL, NULL},
                 {Q "/SO1/new.txt", 0, 0, NULL, NULL}},
    };
    struct world w;
    struct plan p;
    struct err e = ERR_INIT;
    const struct snap_link *l;

    plan_init(&p);
    CHECK_INT(cc, world_build(&w, &tc, &e), 0);
    CHECK_INT(cc, plan_build(&w.in, &w.os, &w.cs, &p, &e), 0);
    CHECK(cc, p.links.n == 3);
    l = snap_links_find(&p.links, 11);
    CHECK(cc, l && l->etag == NULL && l->size == 1234);
    if (l) {
        CHECK_STR(cc, l->path, Q "/SO1 renamed/b.pdf");
        CHECK_STR(cc, l->rec, "sale.order,1");
    }
    l = snap_links_find(&p.links, 13);
    CHECK(cc, l && l->size == 100);
    if (l) {
        CHECK_STR(cc, l->path, Q "/SO1 renamed/a.pdf");
        CHECK_STR(cc, l->etag, "\"e1\"");
        CHECK_STR(cc, l->att_rec, "sale.order,1");
        CHECK_STR(cc, l->file_rec, "sale.order,1");
    }
    l = snap_links_find_new(&p.links, Q "/SO1 renamed/new.txt");
    CHECK(cc, l && l->att_id == 0);
    plan_release(&p);
    world_release(&w);
}

/* Locks, expectations and the per-kind counts. */
static void test_fields(struct check_count *cc)
{
    struct world w;
    struct plan p;
    struct err e = ERR_INIT;
    const struct tcase *tc = NULL;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strstr(cases[i].name, "re-created, its url attachments deleted"))
            tc = &cases[i];
    CHECK(cc, tc != NULL);
    if (!tc)
        return;
    plan_init(&p);
    CHECK_INT(cc, world_build(&w, tc, &e), 0);
    CHECK_INT(cc, plan_build(&w.in, &w.os, &w.cs, &p, &e), 0);
    CHECK_INT(cc, p.njobs, 3);
    CHECK_INT(cc, p.count[JOB_MKDIR][JOB_SIDE_CLOUD], 1);
    CHECK_INT(cc, p.count[JOB_UPLOAD][JOB_SIDE_CLOUD], 1);
    CHECK_INT(cc, p.count[JOB_DELETE][JOB_SIDE_ODOO], 1);
    for (i = 0; i < p.njobs; i++)
        CHECK_STR(cc, p.jobs[i].lock, "/Odoo/Quotations/SO1");
    if (p.njobs == 3) {
        CHECK_STR(cc, p.jobs[1].expect.checksum, "0123456789abcdef0123456789abcdef01234567");
        CHECK_INT(cc, p.jobs[1].size, 1234);
        CHECK_STR(cc, p.jobs[2].expect.write_date, "2026-01-01 10:00:00");
        CHECK_STR(cc, p.jobs[2].reason, "document folder deleted in cloud");
    }
    plan_release(&p);
    world_release(&w);
}

/* plan_print: grouped human output, and one decodable JSON job per line. */
static void test_print(struct check_count *cc)
{
    struct world w;
    struct plan p;
    struct err e = ERR_INIT;
    const struct tcase *tc = NULL;
    char *text = NULL, *line, *save = NULL;
    size_t len = 0, i, n = 0;
    FILE *f;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strstr(cases[i].name, "re-created, its url attachments deleted"))
            tc = &cases[i];
    if (!tc)
        return;
    plan_init(&p);
    CHECK_INT(cc, world_build(&w, tc, &e), 0);
    CHECK_INT(cc, plan_build(&w.in, &w.os, &w.cs, &p, &e), 0);
    f = open_memstream(&text, &len);
    CHECK(cc, f != NULL);
    if (f) {
        CHECK_INT(cc, plan_print(&p, f, 0), 0);
        fclose(f);
        CHECK(cc, strstr(text, "plan: 3 jobs, verdict ok") != NULL);
        CHECK(cc, strstr(text, "mkdir: 1 (cloud 1, odoo 0)") != NULL);
        CHECK(cc, strstr(text, "delete: 1 (cloud 0, odoo 1)") != NULL);
        CHECK(cc, strstr(text, "attachment 11 -> /Odoo/Quotations/SO1/b.pdf") != NULL);
        free(text);
        text = NULL;
    }
    f = open_memstream(&text, &len);
    if (f) {
        CHECK_INT(cc, plan_print(&p, f, 1), 0);
        fclose(f);
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            struct job j;
            job_init(&j);
            CHECK_MSG(cc, job_decode(&j, line, strlen(line), "/Odoo", &e) == 0, "%s: %s", line,
                      e.msg);
            if (n < p.njobs)
                CHECK_STR(cc, j.id, p.jobs[n].id);
            job_release(&j);
            n++;
        }
        CHECK_INT(cc, n, p.njobs);
        free(text);
    }
    plan_release(&p);
    world_release(&w);
}

/*
 * Scale: 20,000 documents with 5 attachments each, all in step: nothing to do,
 * and fast; then one renamed file gives exactly one relink.
 */
static void test_scale(struct check_count *cc)
{
    struct world w;
    struct plan p;
    struct err e = ERR_INIT;
    struct timespec t0, t1;
    char path[128], name[32], key[48], *url;
    long r, k, id = 1;
    int rc = 0;
    double ms;

    memset(&w, 0, sizeof w);
    CHECK_INT(cc, world_build(&w, &cases[0], &e), 0);
    plan_init(&p);
    for (r = 1; rc == 0 && r <= 20000; r++) {
        struct snap_entry en = {NULL, 1,    uc("\"x\""), 0, 0, NULL, NULL, NULL,
                                NULL, NULL, 0,           0, 0, 0,    NULL};
        snprintf(name, sizeof name, "SO%05ld", r);
        snprintf(key, sizeof key, "sale.order,%ld", r);
        rc = odoo_snap_add_record(&w.os, 0, "sale.order", r, name, &e);
        snprintf(path, sizeof path, "/Odoo/Quotations/%s", name);
        en.path = path;
        en.record_tag = key;
        if (rc == 0)
            rc = cloud_snap_add(&w.cs, &en, &e);
        for (k = 0; rc == 0 && k < 5; k++, id++) {
            struct snap_att a;
            char fname[32];
            memset(&a, 0, sizeof a);
            snprintf(fname, sizeof fname, "file %ld.pdf", k);
            snprintf(path, sizeof path, "/Odoo/Quotations/%s/%s", name, fname);
            en.path = path;
            en.is_dir = 0;
            en.record_tag = NULL;
            en.att_tag = id;
            rc = cloud_snap_add(&w.cs, &en, &e);
            url = plan_url_for_path(URL_BASE, path);
            a.id = id;
            a.name = fname;
            a.type = SNAP_ATT_URL;
            a.url = url;
            a.res_model = uc("sale.order");
            a.res_id = r;
            if (rc == 0)
                rc = odoo_snap_add_att(&w.os, &a, &e);
            free(url);
        }
    }
    CHECK_INT(cc, rc, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(cc, plan_build(&w.in, &w.os, &w.cs, &p, &e), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("scale: %zu cloud entries, %zu attachments: %zu jobs in %.0f ms\n", w.cs.n, w.os.natts,
           p.njobs, ms);
    /* the type folders and the stand-alone folder are missing in this world */
    CHECK_INT(cc, p.njobs, 3);
    CHECK_INT(cc, p.count[JOB_MKDIR][JOB_SIDE_CLOUD], 3);
    CHECK_MSG(cc, ms < 20000, "plan took %.0f ms", ms);
    plan_release(&p);
    /* one file renamed in the cloud */
    free(w.cs.v[w.cs.n - 1].path);
    w.cs.v[w.cs.n - 1].path = strdup("/Odoo/Quotations/SO20000/renamed.pdf");
    CHECK_INT(cc, plan_build(&w.in, &w.os, &w.cs, &p, &e), 0);
    CHECK_INT(cc, p.count[JOB_RENAME][JOB_SIDE_ODOO], 0);
    CHECK_INT(cc, p.count[JOB_RELINK][JOB_SIDE_ODOO], 1);
    plan_release(&p);
    world_release(&w);
}

/* Bad inputs are refused with ERR_INVALID. */
static void test_invalid(struct check_count *cc)
{
    struct world w;
    struct plan p;
    struct err e = ERR_INIT;

    plan_init(&p);
    CHECK_INT(cc, world_build(&w, &cases[0], &e), 0);
    w.in.root = "/";
    CHECK_INT(cc, plan_build(&w.in, &w.os, &w.cs, &p, &e), ERR_INVALID);
    w.in.root = "Odoo";
    w.in.ntypes = 1;
    CHECK_INT(cc, plan_build(&w.in, &w.os, &w.cs, &p, &e), ERR_INVALID);
    CHECK_INT(cc, (long long)p.njobs, 0);
    world_release(&w);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cc, &cases[i]);
    printf("%zu scenarios\n", sizeof cases / sizeof cases[0]);
    test_same_state_same_ids(&cc);
    test_urls(&cc);
    test_fields(&cc);
    test_links_recorded(&cc);
    test_print(&cc);
    test_scale(&cc);
    test_invalid(&cc);
    return check_done(&cc);
}
