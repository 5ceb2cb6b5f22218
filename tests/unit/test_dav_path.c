/*
 * Unit tests of the WebDAV path functions: normalisation, segment-wise
 * encoding, href decoding, and the round trip path -> href -> path for
 * awkward names (spaces, '#', '%', '?', quotes, non-ASCII, empty segments).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dav.h"

static void test_normalize(struct check_count *cc)
{
    struct buf b;
    struct err e = ERR_INIT;

    buf_init(&b, 4096);
    CHECK_INT(cc, dav_path_normalize("", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/");
    CHECK_INT(cc, dav_path_normalize("///", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/");
    CHECK_INT(cc, dav_path_normalize("a//b/./c/", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/a/b/c");
    CHECK_INT(cc, dav_path_normalize("/Odoo/Quotations/SO019/commercial offer.png", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/Odoo/Quotations/SO019/commercial offer.png");
    CHECK_INT(cc, dav_path_normalize("/a/../b", &b, &e), ERR_INVALID);
    CHECK(cc, strstr(e.msg, "..") != NULL);
    CHECK_INT(cc, dav_path_normalize("/a/\x01", &b, &e), ERR_INVALID);
    /* "..." and ".x" are names, not dot segments */
    CHECK_INT(cc, dav_path_normalize("/.../.x/..y", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/.../.x/..y");
    buf_release(&b);
}

static void test_encode(struct check_count *cc)
{
    struct buf b;
    struct err e = ERR_INIT;

    buf_init(&b, 4096);
    CHECK_INT(cc, dav_path_encode("/a b/c#d?e%f", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/a%20b/c%23d%3Fe%25f");
    CHECK_INT(cc, dav_path_encode("/\"q\" 'x'/+&=;:@", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/%22q%22%20%27x%27/%2B%26%3D%3B%3A%40");
    CHECK_INT(cc, dav_path_encode("/Devis/été 中文.pdf", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/Devis/%C3%A9t%C3%A9%20%E4%B8%AD%E6%96%87.pdf");
    CHECK_INT(cc, dav_path_encode("/", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/");
    CHECK_INT(cc, dav_path_encode("/A-z_0.9~", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/A-z_0.9~");
    /* a tiny cap is refused, not overrun */
    {
        struct buf small;

        buf_init(&small, 8);
        CHECK_INT(cc, dav_path_encode("/a b c d e f", &small, &e), ERR_TOO_BIG);
        buf_release(&small);
    }
    buf_release(&b);
}

static void test_href(struct check_count *cc)
{
    struct buf b;
    struct err e = ERR_INIT;

    buf_init(&b, 4096);
    CHECK_INT(cc, dav_href_decode("/dav/a%20b/", "/dav/", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/a b");
    CHECK_INT(cc, dav_href_decode("http://127.0.0.1:8080/dav/x/y%23z", "/dav/", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/x/y#z");
    CHECK_INT(cc, dav_href_decode("/dav/", "/dav/", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/");
    CHECK_INT(cc, dav_href_decode("/dav", "/dav/", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/");
    /* the base itself encoded differently by the server */
    CHECK_INT(
        cc,
        dav_href_decode("/remote.php/dav/files/j%2Edoe/f", "/remote.php/dav/files/j.doe/", &b, &e),
        0);
    CHECK_STR(cc, buf_str(&b), "/f");
    /* a literal '%' that is not an escape stays */
    CHECK_INT(cc, dav_href_decode("/dav/100%", "/dav/", &b, &e), 0);
    CHECK_STR(cc, buf_str(&b), "/100%");
    /* outside the base, or escaping it */
    CHECK_INT(cc, dav_href_decode("/other/a", "/dav/", &b, &e), ERR_PROTO);
    CHECK_INT(cc, dav_href_decode("/davx/a", "/dav/", &b, &e), ERR_PROTO);
    CHECK_INT(cc, dav_href_decode("/dav/a/%2E%2E/%2E%2E/etc", "/dav/", &b, &e), ERR_PROTO);
    CHECK_INT(cc, dav_href_decode("/dav/a%00b", "/dav/", &b, &e), ERR_PROTO);
    buf_release(&b);
}

static void test_round_trip(struct check_count *cc)
{
    static const char *const names[] = {
        "/Odoo/Quotations/SO019/commercial offer.png",
        "/a#b/c?d/e%f/%25/%2F",
        "/quotes \"double\" and 'single'",
        "/Clients/Agrolait, Michael Fletcher/devis n°1 (v2).pdf",
        "/日本語/ファイル.txt",
        "/emoji 😀/ünïcødé",
        "/+&=;:@!$,[]{}",
        "/ leading and trailing spaces ",
        "/tab\there",
    };
    struct buf enc, dec, href;
    struct err e = ERR_INIT;

    buf_init(&enc, 4096);
    buf_init(&dec, 4096);
    buf_init(&href, 4096);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int rc = dav_path_encode(names[i], &enc, &e);

        CHECK_INT(cc, rc, names[i][1] == 't' && strchr(names[i], '\t') ? ERR_INVALID : 0);
        if (rc < 0)
            continue;
        /* only unreserved characters, '/' and escapes on the wire */
        CHECK_MSG(cc,
                  strspn(enc.data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-._~/%") == enc.len,
                  "%s", enc.data);
        buf_reset(&href);
        buf_printf(&href, "http://h:1/base%%20dir/%s", enc.data + 1);
        CHECK_INT(cc, dav_href_decode(href.data, "/base%20dir/", &dec, &e), 0);
        CHECK_STR(cc, buf_str(&dec), names[i]);
    }
    buf_release(&enc);
    buf_release(&dec);
    buf_release(&href);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_normalize(&cc);
    test_encode(&cc);
    test_href(&cc);
    test_round_trip(&cc);
    return check_done(&cc);
}
