/*
 * Unit tests of the multistatus parser (common/dav_xml.c) on canned bodies:
 * Apache mod_dav's and Nextcloud's shapes (the same files seed the fuzzer,
 * fuzz/corpus/multistatus/), our dead properties, 404 propstats, and
 * hostile or broken input (not a multistatus, truncated, entity bombs,
 * external entities, hrefs escaping the base) which must give ERR_PROTO
 * with a clear message. Then a generated 100,000-entry listing, streamed
 * through the pull interface, parsed with flat memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "dav.h"
#include "dav_int.h"

/* Under ASan, freed memory is held in a quarantine (256 MB by default), which
 * would make any RSS measurement meaningless. Keep it small in this test. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=1";
}

#define MAXE 8

struct got {
    int n;
    char path[MAXE][256];
    int is_dir[MAXE];
    char etag[MAXE][64];
    long long size[MAXE], mtime[MAXE];
    char ctype[MAXE][64], fileid[MAXE][32], checksum[MAXE][160], perms[MAXE][32];
    char att[MAXE][32], rec[MAXE][64];
    int has_att[MAXE], has_fileid[MAXE], has_ctype[MAXE];
};

#define CP(dst, src) snprintf(dst, sizeof(dst), "%s", (src) ? (src) : "")

static int collect(const struct dav_entry *ent, void *ud)
{
    struct got *g = ud;
    int i = g->n++;

    if (i >= MAXE)
        return 0;
    CP(g->path[i], ent->path);
    g->is_dir[i] = ent->is_dir;
    CP(g->etag[i], ent->etag);
    g->size[i] = ent->size;
    g->mtime[i] = ent->mtime;
    CP(g->ctype[i], ent->content_type);
    g->has_ctype[i] = ent->content_type != NULL;
    CP(g->fileid[i], ent->fileid);
    g->has_fileid[i] = ent->fileid != NULL;
    CP(g->checksum[i], ent->checksum);
    CP(g->perms[i], ent->permissions);
    CP(g->att[i], ent->attachment_tag);
    g->has_att[i] = ent->attachment_tag != NULL;
    CP(g->rec[i], ent->record_tag);
    return 0;
}

static char *slurp(const char *name, size_t *len)
{
    const char *src = getenv("ODOOSYNC_SOURCE_DIR");
    char path[4096];
    FILE *f;
    char *data = NULL;
    long n;

    snprintf(path, sizeof(path), "%s/fuzz/corpus/multistatus/%s", src ? src : "..", name);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    if (data)
        data[n] = '\0';
    *len = (size_t)n;
    fclose(f);
    return data;
}

static int parse_file(const char *name, const char *base, struct got *g, struct err *e)
{
    size_t len = 0;
    char *body = slurp(name, &len);
    int rc;

    memset(g, 0, sizeof(*g));
    if (!body)
        return -999;
    rc = dav_multistatus_parse(body, len, base, collect, g, e);
    free(body);
    return rc;
}

static void test_apache(struct check_count *cc)
{
    struct got g;
    struct err e = ERR_INIT;

    CHECK_INT(cc, parse_file("apache.xml", "/dav/", &g, &e), 0);
    CHECK_INT(cc, g.n, 3);
    CHECK_STR(cc, g.path[0], "/Odoo/Quotations/SO019");
    CHECK_INT(cc, g.is_dir[0], 1);
    CHECK_STR(cc, g.etag[0], "\"1000-5f0a1b2c3d4e5\"");
    CHECK_STR(cc, g.rec[0], "sale.order,19");
    CHECK_INT(cc, g.has_att[0], 0); /* in the 404 propstat: absent */
    CHECK_INT(cc, g.size[0], -1);
    CHECK_INT(cc, g.mtime[0], 1795489200LL); /* Tue, 24 Nov 2026 03:00:00 GMT */
    CHECK_STR(cc, g.path[1], "/Odoo/Quotations/SO019/commercial offer.png");
    CHECK_INT(cc, g.is_dir[1], 0);
    CHECK_INT(cc, g.size[1], 12345);
    CHECK_STR(cc, g.ctype[1], "image/png");
    CHECK_STR(cc, g.att[1], "42");
    CHECK_INT(cc, g.has_fileid[1], 0);
    CHECK_STR(cc, g.path[2], "/Odoo/Quotations/SO019/a#b?c%d \"q\" \xc3\xa9.txt");
    CHECK_INT(cc, g.size[2], 0);
    CHECK_INT(cc, g.mtime[2], -1);
}

/* A real answer of the stack's Apache 2.4 to our PROPFIND (weak etags, g0/g1/g2 prefixes). */
static void test_apache_real(struct check_count *cc)
{
    struct got g;
    struct err e = ERR_INIT;

    CHECK_INT(cc, parse_file("apache-real.xml", "/dav/", &g, &e), 0);
    CHECK_INT(cc, g.n, 2);
    CHECK_STR(cc, g.path[0], "/cap");
    CHECK_INT(cc, g.is_dir[0], 1);
    CHECK_STR(cc, g.etag[0], "W/\"1000-660fd69bbe122\"");
    CHECK_INT(cc, g.has_att[0], 0);
    CHECK_STR(cc, g.path[1], "/cap/a b.txt");
    CHECK_INT(cc, g.size[1], 3);
    CHECK_STR(cc, g.att[1], "42");
    CHECK_STR(cc, g.ctype[1], "text/plain");
    CHECK_INT(cc, g.has_fileid[1], 0);
}

static void test_nextcloud(struct check_count *cc)
{
    struct got g;
    struct err e = ERR_INIT;

    CHECK_INT(cc, parse_file("nextcloud.xml", "/remote.php/dav/files/admin/", &g, &e), 0);
    CHECK_INT(cc, g.n, 3);
    CHECK_STR(cc, g.path[0], "/Odoo");
    CHECK_INT(cc, g.is_dir[0], 1);
    CHECK_STR(cc, g.etag[0], "\"6565f0a1b2c3d\"");
    CHECK_STR(cc, g.fileid[0], "187");
    CHECK_INT(cc, g.size[0], 2048576); /* oc:size for a folder */
    CHECK_STR(cc, g.perms[0], "RGDNVCK");
    CHECK_INT(cc, g.has_ctype[0], 0);
    CHECK_STR(cc, g.path[1], "/Odoo/Customers & Co");
    CHECK_STR(cc, g.rec[1], "res.partner,7");
    CHECK_STR(cc, g.path[2], "/Odoo/offer.pdf");
    CHECK_STR(cc, g.checksum[2],
              "SHA1:da39a3ee5e6b4b0d3255bfef95601890afd80709 MD5:d41d8cd98f00b204e9800998ecf8427e");
    CHECK_STR(cc, g.att[2], "77");
    CHECK_STR(cc, g.fileid[2], "190");
    CHECK_INT(cc, g.size[2], 2048576);
}

static void test_bad(struct check_count *cc)
{
    static const struct {
        const char *file;
        const char *words;
    } cases[] = {
        {"not-multistatus.html", "DTD"}, /* an HTML page with a DOCTYPE */
        {"wrong-root.xml", "not a WebDAV multistatus"},
        {"truncated.xml", "malformed XML"},
        {"billion-laughs.xml", "not allowed"},
        {"xxe.xml", "not allowed"},
        {"escape-base.xml", ".."},
    };
    struct got g;
    struct err e = ERR_INIT;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = parse_file(cases[i].file, "/dav/", &g, &e);

        CHECK_MSG(cc, rc == ERR_PROTO, "%s: rc %d (%s)", cases[i].file, rc, e.msg);
        CHECK_MSG(cc, strstr(e.msg, cases[i].words) != NULL, "%s: \"%s\"", cases[i].file, e.msg);
    }
    /* plain HTML without a DOCTYPE, empty body, garbage, an href outside the base */
    CHECK_INT(cc, dav_multistatus_parse("<html><p>hi</p></html>", 22, "/dav/", collect, &g, &e),
              ERR_PROTO);
    CHECK(cc, strstr(e.msg, "<html>") != NULL);
    CHECK_INT(cc, dav_multistatus_parse("", 0, "/dav/", collect, &g, &e), ERR_PROTO);
    CHECK_INT(cc, dav_multistatus_parse("\x00\xff\xfe garbage", 11, "/dav/", collect, &g, &e),
              ERR_PROTO);
    {
        const char *b = "<m:multistatus xmlns:m=\"DAV:\"><m:response><m:href>/elsewhere/x</m:href>"
                        "</m:response></m:multistatus>";

        CHECK_INT(cc, dav_multistatus_parse(b, strlen(b), "/dav/", collect, &g, &e), ERR_PROTO);
        CHECK(cc, strstr(e.msg, "not under the base") != NULL);
    }
    /* a response without href */
    {
        const char *b = "<m:multistatus xmlns:m=\"DAV:\"><m:response/></m:multistatus>";

        CHECK_INT(cc, dav_multistatus_parse(b, strlen(b), "/dav/", collect, &g, &e), ERR_PROTO);
    }
    /* an empty multistatus is fine: no entries */
    {
        const char *b = "<multistatus xmlns=\"DAV:\"/>";

        memset(&g, 0, sizeof(g));
        CHECK_INT(cc, dav_multistatus_parse(b, strlen(b), "/dav/", collect, &g, &e), 0);
        CHECK_INT(cc, g.n, 0);
    }
}

static int stop_at_second(const struct dav_entry *ent, void *ud)
{
    int *n = ud;

    (void)ent;
    return ++*n == 2 ? ERR_CONFLICT : 0;
}

static void test_callback_stop(struct check_count *cc)
{
    size_t len = 0;
    char *body = slurp("apache.xml", &len);
    struct err e = ERR_INIT;
    int n = 0;

    CHECK_INT(cc, dav_multistatus_parse(body, len, "/dav/", stop_at_second, &n, &e), ERR_CONFLICT);
    CHECK_INT(cc, n, 2);
    free(body);
}

/* A generated multistatus of `total` entries, pulled in small reads. */
struct gen {
    long i, total;
    char chunk[1024];
    size_t len, pos;
    int stage; /* 0 head, 1 entries, 2 tail, 3 end */
};

static void gen_next(struct gen *g)
{
    g->pos = 0;
    if (g->stage == 0) {
        g->len = (size_t)snprintf(g->chunk, sizeof(g->chunk),
                                  "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                                  "<D:multistatus xmlns:D=\"DAV:\" xmlns:o=\"urn:odoosync\" "
                                  "xmlns:oc=\"http://owncloud.org/ns\">\n");
        g->stage = 1;
    } else if (g->stage == 1 && g->i < g->total) {
        g->len = (size_t)snprintf(
            g->chunk, sizeof(g->chunk),
            "<D:response><D:href>/dav/big/doc%%20%06ld/file%%23%ld.pdf</D:href><D:propstat>"
            "<D:prop><D:resourcetype/><D:getcontentlength>%ld</D:getcontentlength>"
            "<D:getetag>\"%lx-5f0a1b2c3d4e5\"</D:getetag>"
            "<D:getlastmodified>Tue, 24 Nov 2026 03:00:00 GMT</D:getlastmodified>"
            "<D:getcontenttype>application/pdf</D:getcontenttype><oc:fileid>%ld</oc:fileid>"
            "<o:attachment>%ld</o:attachment></D:prop><D:status>HTTP/1.1 200 OK</D:status>"
            "</D:propstat></D:response>\n",
            g->i, g->i, g->i * 7, g->i, g->i + 1000, g->i);
        g->i++;
    } else if (g->stage == 1) {
        g->len = (size_t)snprintf(g->chunk, sizeof(g->chunk), "</D:multistatus>\n");
        g->stage = 2;
    } else {
        g->len = 0;
        g->stage = 3;
    }
}

static int gen_pull(void *ctx, char *b, int len)
{
    struct gen *g = ctx;
    size_t n;

    if (g->pos == g->len)
        gen_next(g);
    n = g->len - g->pos;
    if (n > (size_t)len)
        n = (size_t)len;
    memcpy(b, g->chunk + g->pos, n);
    g->pos += n;
    return (int)n;
}

struct big_check {
    long n, bad;
};

static int big_cb(const struct dav_entry *ent, void *ud)
{
    struct big_check *bc = ud;
    char want[64];

    snprintf(want, sizeof(want), "/big/doc %06ld/file#%ld.pdf", bc->n, bc->n);
    if (strcmp(ent->path, want) != 0 || ent->size != bc->n * 7 || !ent->attachment_tag ||
        strtol(ent->attachment_tag, NULL, 10) != bc->n)
        bc->bad++;
    bc->n++;
    return 0;
}

static long max_rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

struct mem_t {
    const char *p;
    size_t left;
};

static int mem_pull_t(void *ctx, char *b, int len)
{
    struct mem_t *s = ctx;
    size_t n = s->left < (size_t)len ? s->left : (size_t)len;

    memcpy(b, s->p, n);
    s->p += n;
    s->left -= n;
    return (int)n;
}

struct skips {
    int n;
    char shown[4][256];
    char folder[4][256];
    int is_dir[4], below[4];
};

static void on_skip(const struct dav_left_out *lo, void *ud)
{
    struct skips *s = ud;

    if (s->n < 4) {
        snprintf(s->shown[s->n], sizeof(s->shown[0]), "%s", lo->shown);
        snprintf(s->folder[s->n], sizeof(s->folder[0]), "%s", lo->folder ? lo->folder : "(null)");
        s->is_dir[s->n] = lo->is_dir;
        s->below[s->n] = lo->below;
    }
    s->n++;
}

/*
 * A name with a control character (a tab, created with a PUT of "tab%09name.txt")
 * cannot be one of our paths: that response is left out and reported, escaped; the
 * other responses of the same listing are delivered, and the parse succeeds.
 */
static void test_control_character_skipped(struct check_count *cc)
{
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<D:multistatus xmlns:D=\"DAV:\">"
        "<D:response><D:href>/dav/Odoo/A/</D:href><D:propstat><D:prop><D:resourcetype>"
        "<D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status>"
        "</D:propstat></D:response>"
        "<D:response><D:href>/dav/Odoo/A/tab%09name.txt</D:href><D:propstat><D:prop>"
        "<D:getcontentlength>3</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK"
        "</D:status></D:propstat></D:response>"
        "<D:response><D:href>/dav/Odoo/A/ok.txt</D:href><D:propstat><D:prop>"
        "<D:getcontentlength>5</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK"
        "</D:status></D:propstat></D:response>"
        "<D:response><D:href>/dav/Odoo/A/bell%07and%5cslash%0A.txt</D:href><D:propstat>"
        "<D:prop><D:getcontentlength>1</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 "
        "OK</D:status></D:propstat></D:response>"
        "<D:response><D:href>/dav/Odoo/A/dir%09tab/</D:href><D:propstat><D:prop>"
        "<D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 "
        "OK</D:status></D:propstat></D:response>"
        "<D:response><D:href>http://h/dav/Odoo/A/dir%09tab/in%20it.txt</D:href><D:propstat>"
        "<D:prop><D:getcontentlength>1</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 "
        "OK</D:status></D:propstat></D:response>"
        "</D:multistatus>";
    struct mem_t src = {body, sizeof(body) - 1};
    struct got g;
    struct skips s;
    struct err e = ERR_INIT;
    long delivered = 0;

    memset(&g, 0, sizeof(g));
    memset(&s, 0, sizeof(s));
    CHECK_INT(cc, dav_multistatus_parse(body, strlen(body), "/dav/", collect, &g, &e), 0);
    CHECK_INT(cc, g.n, 2);
    CHECK_STR(cc, g.path[0], "/Odoo/A");
    CHECK_STR(cc, g.path[1], "/Odoo/A/ok.txt");
    CHECK_INT(cc, g.size[1], 5);
    /* through the pull interface dav_propfind uses, with the report */
    memset(&g, 0, sizeof(g));
    CHECK_INT(cc,
              dav_multistatus_parse_pull_skip(mem_pull_t, &src, "/dav/", collect, &g, on_skip, &s,
                                              &delivered, &e),
              0);
    CHECK_INT(cc, delivered, 2);
    CHECK_INT(cc, s.n, 4);
    CHECK_STR(cc, s.shown[0], "/dav/Odoo/A/tab\\tname.txt");
    CHECK_STR(cc, s.shown[1], "/dav/Odoo/A/bell\\x07and\\\\slash\\n.txt");
    /* each is told the folder that holds it, decoded: a folder's children lie below it */
    CHECK_STR(cc, s.folder[0], "/Odoo/A");
    CHECK_INT(cc, s.is_dir[0] + s.below[0], 0);
    CHECK_STR(cc, s.folder[1], "/Odoo/A");
    CHECK_STR(cc, s.folder[2], "/Odoo/A");
    CHECK_INT(cc, s.is_dir[2], 1);
    CHECK_INT(cc, s.below[2], 0);
    CHECK_STR(cc, s.folder[3], "/Odoo/A");
    CHECK_INT(cc, s.is_dir[3], 0);
    CHECK_INT(cc, s.below[3], 1);
}

static void test_big_flat(struct check_count *cc)
{
    struct gen g;
    struct big_check bc = {0, 0};
    struct err e = ERR_INIT;
    long before, after, delivered = 0;
    struct timespec t0, t1;
    double secs;

    memset(&g, 0, sizeof(g));
    g.total = 100000;
    before = max_rss_kb();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(cc, dav_multistatus_parse_pull(gen_pull, &g, "/dav/", big_cb, &bc, &delivered, &e),
              0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    after = max_rss_kb();
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK_INT(cc, bc.n, 100000);
    CHECK_INT(cc, delivered, 100000);
    CHECK_INT(cc, bc.bad, 0);
    /* roughly 60 MB of XML went through: the parser must not have kept it */
    CHECK_MSG(cc, after - before < 20 * 1024, "max RSS grew by %ld kB", after - before);
    printf("100000 entries in %.2f s (%.0f entries/s, this build), max RSS %ld kB -> %ld kB\n",
           secs, secs > 0 ? 100000 / secs : 0.0, before, after);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_apache(&cc);
    test_apache_real(&cc);
    test_nextcloud(&cc);
    test_bad(&cc);
    test_callback_stop(&cc);
    test_control_character_skipped(&cc);
    test_big_flat(&cc);
    return check_done(&cc);
}
