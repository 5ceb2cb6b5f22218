/*
 * Unit tests of the scan state (producer/state.h) and of the pure parts of the
 * incremental scans (producer/scan.h): save/load round trip, atomic replace,
 * missing / corrupt / foreign files (an empty state: a full pass, no crash),
 * configuration keys (a changed domain, server or user invalidates), the
 * write_date arithmetic of the watermark, and the ETag reuse decision of the
 * cloud walk on canned listings (no server).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "check.h"
#include "log.h"
#include "scan.h"
#include "state.h"

static void fill(struct scan_state *s, struct check_count *cc)
{
    struct err e = ERR_INIT;
    struct state_type *t;
    struct state_dir *d;
    struct snap_att a;
    struct snap_entry en;

    CHECK_INT(cc, state_set_str(&s->odoo_key, "http://odoo|db|admin", &e), 0);
    CHECK_INT(cc, state_set_str(&s->watermark, "2024-05-01 10:00:00", &e), 0);
    CHECK_INT(cc, state_set_str(&s->cloud_key, "http://dav/|u|Odoo", &e), 0);
    s->full_at = 1714557600;
    t = state_add_type(s, "Quotations\nsale.order\n[('state','=','draft')]", &e);
    CHECK(cc, t != NULL);
    if (!t)
        return;
    CHECK_INT(cc, state_type_add(t, 3, "SO003", &e), 0);
    CHECK_INT(cc, state_type_add(t, 19, NULL, &e), 0);
    CHECK_INT(cc, state_type_add(t, 20, "caf\xc3\xa9 \"quoted\"\n", &e), 0);
    memset(&a, 0, sizeof(a));
    a.id = 7;
    a.name = snap_lend("b.pdf");
    a.type = SNAP_ATT_URL;
    a.url = snap_lend("http://dav/Odoo/Quotations/SO003/b.pdf");
    a.res_model = snap_lend("sale.order");
    a.res_id = 3;
    a.file_size = -1;
    a.write_date = snap_lend("2024-05-01 09:00:00");
    CHECK_INT(cc, state_add_att(s, &a, &e), 0);
    memset(&a, 0, sizeof(a));
    a.id = 5;
    a.name = snap_lend("a.txt");
    a.checksum = snap_lend("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
    a.file_size = 5;
    a.write_date = snap_lend("2024-05-01 08:00:00");
    a.mimetype = snap_lend("text/plain");
    CHECK_INT(cc, state_add_att(s, &a, &e), 0);
    s->have_atts = 1;
    d = state_add_dir(s, "/Odoo", "\"root-1\"", &e);
    CHECK(cc, d != NULL);
    if (!d)
        return;
    memset(&en, 0, sizeof(en));
    en.path = snap_lend("/Odoo/Quotations");
    en.is_dir = 1;
    en.etag = snap_lend("\"q-1\"");
    en.size = -1;
    en.type_tag = snap_lend("Quotations");
    en.fileid = snap_lend("00000042ocinstance");
    en.doc_tag = snap_lend("documents.folder,3");
    en.mtime = 1764676220;
    CHECK_INT(cc, state_dir_add_kid(d, &en, &e), 0);
    CHECK_INT(cc,
              state_add_doc(s, "documents.document,12",
                            "da39a3ee5e6b4b0d3255bfef95601890afd80709 \"e-1\"",
                            "/Odoo/Documents/a.txt", "00000043ocinstance", &e),
              0);
    {
        struct snap_link l;

        memset(&l, 0, sizeof(l));
        l.att_id = 9;
        l.path = snap_lend("/Odoo/Quotations/SO003/c.pdf");
        l.size = 12;
        l.rec = snap_lend("sale.order,3");
        l.file_rec = snap_lend("sale.order,3");
        l.mtime = 1764676221; /* an upload's */
        CHECK_INT(cc, snap_links_add(&s->links, &l), 0);
        l.mtime = 0;
        l.att_id = 7;
        l.path = snap_lend("/Odoo/Quotations/SO003/b.pdf");
        l.etag = snap_lend("W/\"b-1\"");
        l.fileid = snap_lend("77");
        l.att_rec = snap_lend("sale.order,4");
        CHECK_INT(cc, snap_links_add(&s->links, &l), 0);
        snap_links_sort(&s->links);
    }
    state_sort(s);
}

static void test_round_trip(struct check_count *cc)
{
    struct scan_state s, r;
    struct err e = ERR_INIT;
    char *text = NULL, *text2 = NULL;
    const struct snap_att *a;
    const struct state_type *t;
    const struct state_dir *d;

    state_init(&s);
    state_init(&r);
    fill(&s, cc);
    CHECK_INT(cc, state_encode(&s, &text, &e), 0);
    CHECK(cc, text != NULL);
    if (!text)
        goto out;
    CHECK_INT(cc, state_decode(text, strlen(text), &r, &e), 0);
    CHECK_STR(cc, r.odoo_key, "http://odoo|db|admin");
    CHECK_STR(cc, r.watermark, "2024-05-01 10:00:00");
    CHECK_STR(cc, r.cloud_key, "http://dav/|u|Odoo");
    CHECK(cc, r.full_at == 1714557600);
    CHECK_INT(cc, r.have_atts, 1);
    t = state_find_type(&r, "Quotations\nsale.order\n[('state','=','draft')]");
    CHECK(cc, t != NULL && t->n == 3);
    if (t && t->n == 3) {
        CHECK(cc, t->v[0].id == 3 && t->v[1].id == 19 && t->v[2].id == 20);
        CHECK_STR(cc, t->v[0].name, "SO003");
        CHECK(cc, t->v[1].name == NULL);
        CHECK_STR(cc, t->v[2].name, "caf\xc3\xa9 \"quoted\"\n");
    }
    CHECK(cc, state_find_type(&r, "Quotations\nsale.order\n[]") == NULL);
    CHECK_INT(cc, (int)r.natts, 2);
    a = state_find_att(&r, 5);
    CHECK(cc, a && a->res_model == NULL && a->file_size == 5 && a->type == SNAP_ATT_BINARY);
    if (a) {
        CHECK_STR(cc, a->checksum, "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
        CHECK_STR(cc, a->mimetype, "text/plain");
    }
    a = state_find_att(&r, 7);
    CHECK(cc, a && a->type == SNAP_ATT_URL && a->res_id == 3 && a->file_size == -1);
    if (a)
        CHECK_STR(cc, a->res_model, "sale.order");
    CHECK(cc, state_find_att(&r, 6) == NULL);
    d = state_find_dir(&r, "/Odoo");
    CHECK(cc, d && d->n == 1 && d->kids[0].is_dir);
    if (d && d->n == 1) {
        CHECK_STR(cc, d->etag, "\"root-1\"");
        CHECK_STR(cc, d->kids[0].type_tag, "Quotations");
        CHECK(cc, d->kids[0].record_tag == NULL);
        CHECK_STR(cc, d->kids[0].fileid, "00000042ocinstance");
        CHECK_STR(cc, d->kids[0].doc_tag, "documents.folder,3");
        CHECK(cc, d->kids[0].mtime == 1764676220);
    }
    CHECK(cc, r.ndocs == 1);
    if (r.ndocs == 1) {
        CHECK_STR(cc, r.docs[0].tag, "documents.document,12");
        CHECK_STR(cc, r.docs[0].synced, "da39a3ee5e6b4b0d3255bfef95601890afd80709 \"e-1\"");
        CHECK_STR(cc, r.docs[0].path, "/Odoo/Documents/a.txt");
        CHECK_STR(cc, r.docs[0].fileid, "00000043ocinstance");
    }
    CHECK(cc, r.links.n == 2 && snap_links_find(&r.links, 8) == NULL);
    {
        const struct snap_link *l = snap_links_find(&r.links, 7);

        CHECK(cc, l && l->size == 12 && l->mtime == 0);
        if (l) {
            CHECK_STR(cc, l->path, "/Odoo/Quotations/SO003/b.pdf");
            CHECK_STR(cc, l->etag, "W/\"b-1\"");
            CHECK_STR(cc, l->fileid, "77");
            CHECK_STR(cc, l->rec, "sale.order,3");
            CHECK_STR(cc, l->att_rec, "sale.order,4");
            CHECK_STR(cc, l->file_rec, "sale.order,3");
        }
        l = snap_links_find(&r.links, 9);
        CHECK(cc, l && l->etag == NULL && l->fileid == NULL && l->att_rec == NULL &&
                      l->mtime == 1764676221);
    }
    /* encoding the decoded state gives the same text */
    CHECK_INT(cc, state_encode(&r, &text2, &e), 0);
    if (text2)
        CHECK_STR(cc, text2, text);
    /* a dropped folder is neither found nor saved */
    state_drop_dir(&r, "/Odoo");
    CHECK(cc, state_find_dir(&r, "/Odoo") == NULL);
    free(text2);
    text2 = NULL;
    CHECK_INT(cc, state_encode(&r, &text2, &e), 0);
    CHECK(cc, text2 && strstr(text2, "root-1") == NULL);
out:
    free(text);
    free(text2);
    state_release(&s);
    state_release(&r);
}

/*
 * The decoder reads the state file, which anyone could have edited: JSON
 * escapes and whitespace are read as JSON means them, and every truncation and
 * thousands of byte mutations of a real encoding either decode or fail with
 * ERR_PROTO and a message, never crash or leak (ASan/LSan run this).
 */
static void test_decode_robust(struct check_count *cc)
{
    static const char escaped[] =
        " { \"version\" : 2 ,\"odoo_key\":\"a\\u00e9\\ud83d\\ude00\\n\\/\\\"\" , "
        "\"watermark\":null,"
        "\"full_at\":1.7e9,\"types\":[ ],\"have_atts\":false,\"atts\":[],\"cloud_key\":\"c\","
        "\"dirs\":[],\"links\":[]}\n";
    static const char *const bad[] = {
        "",
        "{}",
        "[]",
        "{\"version\":3}",
        "{\"version\":2,\"version\":2}",
        "{\"version\":2,\"odoo_key\":\"\\u0000\"}",
        "{\"version\":2,\"odoo_key\":\"\\ud83d\"}",
        "{\"version\":2,\"odoo_key\":\"\\x\"}",
        "{\"version\":2,\"odoo_key\":\"a\nb\"}",
        "{\"version\":2,\"surprise\":1}",
    };
    struct scan_state s, r;
    struct err e = ERR_INIT;
    char *text = NULL, *copy = NULL;
    size_t len, i;
    unsigned seed = 12345;
    long ok = 0, refused = 0, wrong = 0;

    state_init(&s);
    state_init(&r);
    CHECK_INT(cc, state_decode(escaped, strlen(escaped), &r, &e), 0);
    CHECK_STR(cc, r.odoo_key, "a\xc3\xa9\xf0\x9f\x98\x80\n/\"");
    CHECK(cc, r.watermark == NULL && r.full_at == 1700000000 && !r.have_atts);
    CHECK_STR(cc, r.cloud_key, "c");
    {
        /* a state written before the Documents tag: cloud children of 8 slots */
        static const char old[] =
            "{\"version\":2,\"odoo_key\":\"a\",\"watermark\":null,\"full_at\":0,\"types\":[],"
            "\"have_atts\":false,\"atts\":[],\"cloud_key\":\"c\",\"dirs\":[{\"path\":\"/Odoo\","
            "\"etag\":\"\\\"r\\\"\",\"kids\":[[\"/Odoo/a.txt\",false,\"\\\"e\\\"\",3,7,null,null,"
            "null]]}],\"links\":[]}";
        struct scan_state o;
        const struct state_dir *od;

        state_init(&o);
        CHECK_MSG(cc, state_decode(old, strlen(old), &o, &e) == 0, "%s", e.msg);
        od = state_find_dir(&o, "/Odoo");
        CHECK(cc, od && od->n == 1 && od->kids[0].att_tag == 7 && od->kids[0].doc_tag == NULL);
        state_release(&o);
    }
    state_release(&r);
    state_init(&r);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&e);
        if (state_decode(bad[i], strlen(bad[i]), &r, &e) != ERR_PROTO || !e.msg[0])
            CHECK_MSG(cc, 0, "accepted or crashed on bad input %zu: %s", i, bad[i]);
        state_init(&r); /* a failed decode released it */
    }
    fill(&s, cc);
    CHECK_INT(cc, state_encode(&s, &text, &e), 0);
    if (!text)
        goto out;
    len = strlen(text);
    copy = malloc(len + 1);
    CHECK(cc, copy != NULL);
    if (!copy)
        goto out;
    for (i = 0; i < len; i++) { /* every truncation: a missing end is never whole */
        memcpy(copy, text, i);
        copy[i] = '\0';
        err_clear(&e);
        if (state_decode(copy, i, &r, &e) == 0)
            wrong++;
        state_release(&r);
        state_init(&r);
    }
    CHECK_INT(cc, (int)wrong, 0);
    for (i = 0; i < 20000; i++) { /* one to three random bytes changed */
        int rc;

        memcpy(copy, text, len + 1);
        for (int k = 0; k < 1 + (int)(i % 3); k++) {
            seed = seed * 1103515245u + 12345u;
            copy[(seed >> 8) % len] = (char)(seed >> 20);
        }
        err_clear(&e);
        rc = state_decode(copy, len, &r, &e);
        if (rc == 0)
            ok++;
        else if (rc == ERR_PROTO && e.msg[0])
            refused++;
        state_release(&r);
        state_init(&r);
    }
    CHECK_MSG(cc, ok + refused == 20000, "%ld decoded, %ld refused of 20000", ok, refused);
    CHECK(cc, refused > 10000);
out:
    free(copy);
    free(text);
    state_release(&s);
    state_release(&r);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_files(struct check_count *cc)
{
    char dir[] = "/tmp/odoosync-test-state-XXXXXX";
    char path[256], tmp[300];
    struct scan_state s, r;
    struct err e = ERR_INIT;
    struct log lg;

    if (!mkdtemp(dir)) {
        CHECK(cc, 0);
        return;
    }
    log_init(&lg, stderr, LOG_INFO, LOG_FMT_HUMAN, "test"); /* shows the messages */
    snprintf(path, sizeof(path), "%s/state.json", dir);
    state_init(&s);
    state_init(&r);
    fill(&s, cc);

    /* missing: empty, not an error */
    CHECK_INT(cc, state_load(path, &r, &lg, &e), 0);
    CHECK(cc, r.odoo_key == NULL && r.ntypes == 0 && r.natts == 0);

    /* save then load */
    CHECK_INT(cc, state_save(path, &s, &e), 0);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    CHECK(cc, access(tmp, F_OK) != 0);
    CHECK_INT(cc, state_load(path, &r, &lg, &e), 0);
    CHECK_STR(cc, r.watermark, "2024-05-01 10:00:00");
    CHECK_INT(cc, (int)r.ntypes, 1);
    CHECK_INT(cc, (int)r.natts, 2);
    state_release(&r);

    /* saving again replaces it whole */
    CHECK_INT(cc, state_set_str(&s.watermark, "2024-06-01 00:00:00", &e), 0);
    CHECK_INT(cc, state_save(path, &s, &e), 0);
    CHECK_INT(cc, state_load(path, &r, &lg, &e), 0);
    CHECK_STR(cc, r.watermark, "2024-06-01 00:00:00");
    state_release(&r);

    /* corrupt, truncated, another version, wrong shapes: empty, rc 0 */
    {
        static const char *const bad[] = {
            "", "{", "garbage", "[]", "{\"version\": 3, \"odoo_key\": \"x\"}",
            "{\"version\": 2, \"odoo_key\": 3, \"watermark\": null, \"full_at\": 0, "
            "\"cloud_key\": null, \"have_atts\": false, \"types\": [], \"atts\": [], "
            "\"dirs\": [], \"links\": []}",
            "{\"version\": 2, \"odoo_key\": \"k\", \"watermark\": null, \"full_at\": 0, "
            "\"cloud_key\": null, \"have_atts\": true, \"types\": [{\"key\": \"t\", \"recs\": "
            "[[2, \"b\"], [1, \"a\"]]}], \"atts\": [], \"dirs\": [], \"links\": []}",
            "{\"version\": 2, \"odoo_key\": \"k\", \"watermark\": null, \"full_at\": 0, "
            "\"cloud_key\": null, \"have_atts\": true, \"types\": [], \"atts\": [[1, \"a\"]], "
            "\"dirs\": [], \"links\": []}",
            "{\"version\": 2, \"odoo_key\": \"k\", \"watermark\": null, \"full_at\": 0, "
            "\"cloud_key\": null, \"have_atts\": true, \"types\": [], \"atts\": [], "
            "\"dirs\": [{\"path\": \"/a\", \"etag\": \"1\", \"kids\": []}, {\"path\": \"/a\", "
            "\"etag\": \"2\", \"kids\": []}], \"links\": []}",
            /* version 1 (before links and file ids): a full pass */
            "{\"version\": 1, \"odoo_key\": \"k\", \"watermark\": null, \"full_at\": 0, "
            "\"cloud_key\": null, \"have_atts\": false, \"types\": [], \"atts\": [], "
            "\"dirs\": []}",
            /* links out of order, or with a relative path */
            "{\"version\": 2, \"odoo_key\": \"k\", \"watermark\": null, \"full_at\": 0, "
            "\"cloud_key\": null, \"have_atts\": false, \"types\": [], \"atts\": [], "
            "\"dirs\": [], \"links\": [[2, \"/a\", null, 1, null, null, null, null], "
            "[1, \"/b\", null, 1, null, null, null, null]]}",
            "{\"version\": 2, \"odoo_key\": \"k\", \"watermark\": null, \"full_at\": 0, "
            "\"cloud_key\": null, \"have_atts\": false, \"types\": [], \"atts\": [], "
            "\"dirs\": [], \"links\": [[2, \"a\", null, 1, null, null, null, null]]}",
            NULL};

        for (size_t i = 0; bad[i]; i++) {
            write_file(path, bad[i]);
            CHECK_INT(cc, state_load(path, &r, &lg, &e), 0);
            CHECK_MSG(cc, r.odoo_key == NULL && r.ntypes == 0 && r.natts == 0 && r.ndirs == 0,
                      "bad state %zu was accepted", i);
            state_release(&r);
        }
    }
    /* a well-formed minimal state is accepted */
    write_file(path, "{\"version\": 2, \"odoo_key\": \"k\", \"watermark\": null, \"full_at\": 0, "
                     "\"cloud_key\": null, \"have_atts\": false, \"types\": [], \"atts\": [], "
                     "\"dirs\": [], \"links\": []}");
    CHECK_INT(cc, state_load(path, &r, &lg, &e), 0);
    CHECK_STR(cc, r.odoo_key, "k");
    state_release(&r);

    /* an unwritable place: ERR_IO, the old file stays */
    {
        char nodir[300];

        snprintf(nodir, sizeof(nodir), "%s/missing/state.json", dir);
        CHECK_INT(cc, state_save(nodir, &s, &e), ERR_IO);
    }
    unlink(path);
    rmdir(dir);
    state_release(&s);
    log_release(&lg);
}

static void test_keys(struct check_count *cc)
{
    struct cfg c;
    struct err e = ERR_INIT;
    char *k1, *k2, *o1, *o2, *c1, *c2;
    static const char *const conf =
        "{\"odoo\": {\"url\": \"http://odoo\", \"database\": \"db\", \"login\": \"admin\"},"
        " \"cloud\": {\"url\": \"http://dav/\", \"user\": \"u\"},"
        " \"types\": [{\"folder\": \"Quotations\", \"model\": \"sale.order\","
        " \"domain\": \"[('state', '=', 'draft')]\"}]}";

    if (cfg_init(&c, &e) < 0 || cfg_load_string(&c, conf, "test.json", &e) < 0) {
        CHECK_MSG(cc, 0, "config: %s", e.msg);
        cfg_release(&c);
        return;
    }
    k1 = state_type_key(&c.types[0]);
    o1 = state_odoo_key(&c);
    c1 = state_cloud_key(&c);
    CHECK(cc, cfg_set(&c, "types[0].domain", "[('state', '=', 'sent')]", &e) == 0);
    CHECK(cc, cfg_set(&c, "odoo.login", "portal", &e) == 0);
    CHECK(cc, cfg_set(&c, "cloud.root", "Elsewhere", &e) == 0);
    k2 = state_type_key(&c.types[0]);
    o2 = state_odoo_key(&c);
    c2 = state_cloud_key(&c);
    CHECK(cc, k1 && k2 && strcmp(k1, k2) != 0);
    CHECK(cc, o1 && o2 && strcmp(o1, o2) != 0);
    CHECK(cc, c1 && c2 && strcmp(c1, c2) != 0);
    if (k1)
        CHECK(cc, strstr(k1, "Quotations") && strstr(k1, "sale.order") && strstr(k1, "draft"));
    free(k1);
    free(k2);
    free(o1);
    free(o2);
    free(c1);
    free(c2);
    cfg_release(&c);
}

static void check_shift(struct check_count *cc, const char *in, long by, const char *want)
{
    char out[20] = "";
    int rc = scan_wd_shift(in, by, out);

    if (!want) {
        CHECK_MSG(cc, rc < 0, "\"%s\" was accepted", in ? in : "(null)");
        return;
    }
    CHECK_INT(cc, rc, 0);
    CHECK_STR(cc, out, want);
}

static void test_write_dates(struct check_count *cc)
{
    check_shift(cc, "2024-05-01 10:00:00", -1, "2024-05-01 09:59:59");
    check_shift(cc, "2024-03-01 00:00:00", -1, "2024-02-29 23:59:59");
    check_shift(cc, "2023-03-01 00:00:00", -1, "2023-02-28 23:59:59");
    check_shift(cc, "2024-01-01 00:00:00", -1, "2023-12-31 23:59:59");
    check_shift(cc, "2023-12-31 23:59:59", 1, "2024-01-01 00:00:00");
    check_shift(cc, "2024-05-01 10:00:00.123456", -1, "2024-05-01 09:59:59");
    check_shift(cc, "1970-01-01 00:00:00", -86400, "1969-12-31 00:00:00");
    check_shift(cc, "2024-05-01", -1, NULL);
    check_shift(cc, "2024-13-01 00:00:00", -1, NULL);
    check_shift(cc, "not a date at all!!", -1, NULL);
    check_shift(cc, NULL, -1, NULL);
}

/* ---- cloud: ETag reuse on canned listings ---- */

struct need {
    char *v[16];
    size_t n;
};

static int on_need(const char *path, void *ud)
{
    struct need *n = ud;

    if (n->n >= 16)
        return ERR_NOMEM;
    n->v[n->n] = strdup(path);
    return n->v[n->n++] ? 0 : ERR_NOMEM;
}

static void need_free(struct need *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i]);
    n->n = 0;
}

static void kid(struct state_dir *d, const char *path, int is_dir, const char *etag)
{
    struct snap_entry en;
    struct err e = ERR_INIT;

    memset(&en, 0, sizeof(en));
    en.path = snap_lend(path);
    en.etag = snap_lend(etag);
    en.is_dir = is_dir;
    en.size = is_dir ? -1 : 10;
    en.att_tag = is_dir ? 0 : 42;
    state_dir_add_kid(d, &en, &e);
}

/*
 * /Odoo "r1": Quotations "q1" (SO1 "s1": a.txt), Orders "o1" (empty), x.txt
 */
static void canned(struct scan_state *s)
{
    struct err e = ERR_INIT;
    struct state_dir *d;

    d = state_add_dir(s, "/Odoo", "r1", &e);
    kid(d, "/Odoo/Quotations", 1, "q1");
    kid(d, "/Odoo/Orders", 1, "o1");
    kid(d, "/Odoo/x.txt", 0, "x1");
    d = state_add_dir(s, "/Odoo/Quotations", "q1", &e);
    kid(d, "/Odoo/Quotations/SO1", 1, "s1");
    d = state_add_dir(s, "/Odoo/Quotations/SO1", "s1", &e);
    kid(d, "/Odoo/Quotations/SO1/a.txt", 0, "a1");
    state_add_dir(s, "/Odoo/Orders", "o1", &e);
    state_sort(s);
}

static int snap_has(const struct cloud_snap *cs, const char *path)
{
    for (size_t i = 0; i < cs->n; i++)
        if (strcmp(cs->v[i].path, path) == 0)
            return 1;
    return 0;
}

static void test_cloud_reuse(struct check_count *cc)
{
    struct scan_state prev, next;
    struct cloud_snap cs;
    struct need nd;
    struct err e = ERR_INIT;

    memset(&nd, 0, sizeof(nd));
    state_init(&prev);
    canned(&prev);

    /* root unchanged: the whole tree from the state, nothing to list */
    state_init(&next);
    cloud_snap_init(&cs);
    CHECK_INT(cc, scan_cloud_reuse(&prev, "/Odoo", "r1", &cs, &next, on_need, &nd, &e), 1);
    CHECK_INT(cc, (int)nd.n, 0);
    CHECK_INT(cc, (int)cs.n, 5);
    CHECK(cc, snap_has(&cs, "/Odoo/Quotations/SO1/a.txt") && snap_has(&cs, "/Odoo/x.txt"));
    CHECK_INT(cc, (int)next.ndirs, 4);
    cloud_snap_release(&cs);
    state_release(&next);

    /* root changed: list it (the caller does); nothing added */
    state_init(&next);
    cloud_snap_init(&cs);
    CHECK_INT(cc, scan_cloud_reuse(&prev, "/Odoo", "r2", &cs, &next, on_need, &nd, &e), 0);
    CHECK_INT(cc, (int)cs.n, 0);
    CHECK_INT(cc, (int)next.ndirs, 0);
    /* the caller listed /Odoo: Quotations still "q1", Orders now "o2" */
    CHECK_INT(cc, scan_cloud_reuse(&prev, "/Odoo/Quotations", "q1", &cs, &next, on_need, &nd, &e),
              1);
    CHECK_INT(cc, scan_cloud_reuse(&prev, "/Odoo/Orders", "o2", &cs, &next, on_need, &nd, &e), 0);
    CHECK(cc, snap_has(&cs, "/Odoo/Quotations/SO1") && snap_has(&cs, "/Odoo/Quotations/SO1/a.txt"));
    CHECK_INT(cc, (int)nd.n, 0);
    cloud_snap_release(&cs);
    state_release(&next);

    /* a folder whose listing was dropped (a job touched it): listed again even when
     * its parent is unchanged */
    state_drop_dir(&prev, "/Odoo/Quotations/SO1");
    state_init(&next);
    cloud_snap_init(&cs);
    CHECK_INT(cc, scan_cloud_reuse(&prev, "/Odoo", "r1", &cs, &next, on_need, &nd, &e), 1);
    CHECK_INT(cc, (int)nd.n, 1);
    if (nd.n == 1)
        CHECK_STR(cc, nd.v[0], "/Odoo/Quotations/SO1");
    CHECK(cc,
          snap_has(&cs, "/Odoo/Quotations/SO1") && !snap_has(&cs, "/Odoo/Quotations/SO1/a.txt"));
    need_free(&nd);
    cloud_snap_release(&cs);
    state_release(&next);

    /* no ETag from the server, or no state: never reused */
    state_init(&next);
    cloud_snap_init(&cs);
    CHECK_INT(cc, scan_cloud_reuse(&prev, "/Odoo", NULL, &cs, &next, on_need, &nd, &e), 0);
    CHECK_INT(cc, scan_cloud_reuse(&next, "/Odoo", "r1", &cs, &next, on_need, &nd, &e), 0);
    CHECK_INT(cc, (int)cs.n, 0);
    cloud_snap_release(&cs);
    state_release(&next);
    state_release(&prev);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_round_trip(&cc);
    test_decode_robust(&cc);
    test_files(&cc);
    test_keys(&cc);
    test_write_dates(&cc);
    test_cloud_reuse(&cc);
    return check_done(&cc);
}
