/*
 * Unit tests of the server's web links (common/link.h): the file id as the link
 * takes it, the link odoosync writes, and every web form Nextcloud and ownCloud
 * give out read back to a file id or a path under the DAV base. The forms are
 * the ones a real Nextcloud 27.1 answers: "/index.php/f/16" redirects (303) to
 * "/index.php/apps/files/?dir=/h2-scratch/Sub%20dir&openfile=16&scrollto=a%20b.txt";
 * "/f/16" is 404 there (no rewrite of pretty URLs).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "link.h"

#define NC "https://cloud.example.com/remote.php/dav/files/odoo-sync"

static void test_fileid(struct check_count *cc)
{
    char id[LINK_FILEID_MAX];

    CHECK_INT(cc, link_fileid_norm("16", id), 1);
    CHECK_STR(cc, id, "16");
    /* Nextcloud's OC-FileId header: the id padded to 8 digits, then the instance id */
    CHECK_INT(cc, link_fileid_norm("00000016ocp23wgxev53", id), 1);
    CHECK_STR(cc, id, "16");
    CHECK_INT(cc, link_fileid_norm("0", id), 1);
    CHECK_STR(cc, id, "0");
    CHECK_INT(cc, link_fileid_norm("", id), 0);
    CHECK_INT(cc, link_fileid_norm(NULL, id), 0);
    CHECK_INT(cc, link_fileid_norm("abc", id), 0);
    CHECK_INT(cc, link_fileid_norm("123456789012345678901234567890123456", id), 0);
}

static void test_build(struct check_count *cc)
{
    char *s;

    s = link_server_root(NC);
    CHECK_STR(cc, s, "https://cloud.example.com");
    free(s);
    s = link_server_root("https://example.com/nextcloud/remote.php/webdav/");
    CHECK_STR(cc, s, "https://example.com/nextcloud");
    free(s);
    s = link_server_root("http://127.0.0.1:8080/dav/");
    CHECK_STR(cc, s, "http://127.0.0.1:8080");
    free(s);
    s = link_web("https://cloud.example.com", "00000016ocp23wgxev53");
    CHECK_STR(cc, s, "https://cloud.example.com/index.php/f/16");
    free(s);
    s = link_web("https://cloud.example.com/", "42");
    CHECK_STR(cc, s, "https://cloud.example.com/index.php/f/42");
    free(s);
    CHECK(cc, link_web("https://cloud.example.com", "") == NULL);
}

static void expect_id(struct check_count *cc, const char *base, const char *url, const char *want)
{
    char id[LINK_FILEID_MAX];
    char *path = NULL;
    int k = link_parse_web(base, url, id, &path);

    CHECK_MSG(cc, k == LINK_WEB_ID, "%s: %d", url, k);
    if (k == LINK_WEB_ID)
        CHECK_STR(cc, id, want);
    free(path);
}

static void expect_path(struct check_count *cc, const char *base, const char *url, const char *want)
{
    char id[LINK_FILEID_MAX];
    char *path = NULL;
    int k = link_parse_web(base, url, id, &path);

    CHECK_MSG(cc, k == LINK_WEB_PATH, "%s: %d", url, k);
    if (k == LINK_WEB_PATH)
        CHECK_STR(cc, path, want);
    free(path);
}

static void expect_none(struct check_count *cc, const char *base, const char *url)
{
    char id[LINK_FILEID_MAX];
    char *path = NULL;

    CHECK_MSG(cc, link_parse_web(base, url, id, &path) == LINK_NOT_WEB, "%s", url);
    CHECK(cc, path == NULL);
}

static void test_parse(struct check_count *cc)
{
    const char *sub = "https://cloud.example.com/remote.php/dav/files/odoo-sync/Shared/";

    /* the link odoosync writes, and the pretty one */
    expect_id(cc, NC, "https://cloud.example.com/index.php/f/16", "16");
    expect_id(cc, NC, "https://cloud.example.com/f/16", "16");
    expect_id(cc, NC, "https://cloud.example.com/f/16/", "16");
    expect_id(cc, NC, "https://cloud.example.com/f/16?x=1#y", "16");
    expect_id(cc, NC, "HTTPS://Cloud.Example.com/index.php/f/0016", "16");
    /* the Files app: Nextcloud 27's redirect target, 28's path form, fileid= */
    expect_id(cc, NC,
              "https://cloud.example.com/index.php/apps/files/?dir=/Odoo/Q&openfile=16&"
              "scrollto=a%20b.txt",
              "16");
    expect_id(cc, NC, "https://cloud.example.com/apps/files/files/16?dir=/Odoo&openfile=true",
              "16");
    expect_id(cc, NC, "https://cloud.example.com/apps/files/?dir=/Odoo/Q&fileid=16&openfile=true",
              "16");
    /* without an id: the path, relative to the sync account's files */
    expect_path(cc, NC,
                "https://cloud.example.com/index.php/apps/files/?dir=/Odoo/Quotations/S1&"
                "openfile=true&scrollto=a%20b.txt",
                "/Odoo/Quotations/S1/a b.txt");
    expect_path(cc, NC, "https://cloud.example.com/apps/files/?dir=/Odoo/My+Folder",
                "/Odoo/My Folder");
    expect_path(cc, NC, "https://cloud.example.com/apps/files/?dir=%2FOdoo%2FQ%2F", "/Odoo/Q");
    /* a DAV base below the account's files: a dir under it, else not ours */
    expect_path(cc, sub, "https://cloud.example.com/apps/files/?dir=/Shared/Odoo/Q", "/Odoo/Q");
    expect_none(cc, sub, "https://cloud.example.com/apps/files/?dir=/Other/Odoo/Q");
    /* not web links of this server */
    expect_none(cc, NC, "https://other.example.com/index.php/f/16");
    expect_none(cc, NC, "https://cloud.example.com/remote.php/dav/files/odoo-sync/Odoo/a.pdf");
    expect_none(cc, NC, "https://cloud.example.com/f/");
    expect_none(cc, NC, "https://cloud.example.com/f/16abc");
    expect_none(cc, NC, "https://cloud.example.com/index.php/s/AbCdEf");
    expect_none(cc, NC, "https://cloud.example.com/apps/files/?dir=relative");
    expect_none(cc, NC, "https://cloud.example.com/apps/files/?dir=/a%00b");
    expect_none(cc, NC, "https://cloud.example.comx/f/16");
    expect_none(cc, NC, NULL);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_fileid(&cc);
    test_build(&cc);
    test_parse(&cc);
    return check_done(&cc);
}
