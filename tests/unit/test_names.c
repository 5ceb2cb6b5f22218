/*
 * Unit tests of names: sanitising of cloud names and per-folder uniqueness.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "names.h"

static void check_sanitize(struct check_count *cc, const char *in, const char *want)
{
    char *got = names_sanitize(in);

    CHECK_STR(cc, got, want);
    free(got);
}

static void test_sanitize(struct check_count *cc)
{
    char big[512], want[NAMES_MAX_BYTES + 1];
    char *got;
    size_t i;

    check_sanitize(cc, "SO019", "SO019");
    check_sanitize(cc, "Agrolait, Michael Fletcher", "Agrolait, Michael Fletcher");
    check_sanitize(cc, "a*b?c\"d'e:f<g>h|i+j%k!l@m\\n/o", "a-b-c-d-e-f-g-h-i-j-k-l-m-n-o");
    check_sanitize(cc, ".", "-");
    check_sanitize(cc, "..", "-");
    check_sanitize(cc, "", "-");
    check_sanitize(cc, NULL, "-");
    check_sanitize(cc, "  . name .  ", "name");
    check_sanitize(cc, "../etc/passwd", "-etc-passwd");
    check_sanitize(cc, "a\tb\nc\x7f", "a-b-c-");
    check_sanitize(cc, "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"); /* café € kept */
    check_sanitize(cc, "bad\xff\xfe", "bad--");                                 /* invalid UTF-8 */
    check_sanitize(cc, "over\xc3", "over-");     /* truncated sequence */
    check_sanitize(cc, "\xed\xa0\x80x", "---x"); /* surrogate */
    check_sanitize(cc, "report.v2.pdf", "report.v2.pdf");

    /* over 200 bytes: cut on a UTF-8 boundary (é is 2 bytes) */
    memset(big, 'a', 199);
    memcpy(big + 199, "\xc3\xa9\xc3\xa9", 5);
    got = names_sanitize(big);
    CHECK(cc, got && strlen(got) == 199);
    free(got);
    for (i = 0; i < 300; i += 3)
        memcpy(big + i, "\xe2\x82\xac", 3);
    big[300] = '\0';
    got = names_sanitize(big);
    CHECK(cc, got && strlen(got) == 198 && strlen(got) % 3 == 0);
    free(got);
    /* a cut that exposes a trailing space is trimmed */
    memset(big, 'b', 199);
    big[199] = ' ';
    memset(big + 200, 'c', 10);
    big[210] = '\0';
    memset(want, 'b', 199);
    want[199] = '\0';
    check_sanitize(cc, big, want);
}

static void test_suffix(struct check_count *cc)
{
    char *s;
    char big[NAMES_MAX_BYTES + 1];

    s = names_with_suffix("Agrolait", 2, 0);
    CHECK_STR(cc, s, "Agrolait (2)");
    free(s);
    s = names_with_suffix("offer.pdf", 3, 1);
    CHECK_STR(cc, s, "offer (3).pdf");
    free(s);
    s = names_with_suffix("offer.pdf", 3, 0);
    CHECK_STR(cc, s, "offer.pdf (3)");
    free(s);
    s = names_with_suffix(".bashrc", 2, 1);
    CHECK_STR(cc, s, ".bashrc (2)");
    free(s);
    s = names_with_suffix("README", 2, 1);
    CHECK_STR(cc, s, "README (2)");
    free(s);
    /* stays within the cap */
    memset(big, 'x', NAMES_MAX_BYTES);
    big[NAMES_MAX_BYTES] = '\0';
    s = names_with_suffix(big, 12, 0);
    CHECK(cc, s && strlen(s) == NAMES_MAX_BYTES);
    CHECK(cc, s && strcmp(s + NAMES_MAX_BYTES - 5, " (12)") == 0);
    free(s);
}

static void test_set(struct check_count *cc)
{
    struct names_set ns;
    char *a, *b, *c, *d;
    char name[32];
    int i, all = 1;

    names_set_init(&ns);
    CHECK(cc, !names_set_has(&ns, "x"));
    a = names_set_unique(&ns, "scan.pdf", 1);
    b = names_set_unique(&ns, "scan.pdf", 1);
    c = names_set_unique(&ns, "SCAN.PDF", 1);
    CHECK_STR(cc, a, "scan.pdf");
    CHECK_STR(cc, b, "scan (2).pdf");
    CHECK_STR(cc, c, "SCAN (3).PDF");
    CHECK(cc, names_collide("Agrolait", "AGROLAIT"));
    CHECK(cc, !names_collide("Agrolait", "Agrolai"));
    /* "x (2)" already taken by another name: the next free one */
    CHECK_INT(cc, names_set_add(&ns, "Doc (2)"), 0);
    d = names_set_unique(&ns, "Doc", 0);
    free(d);
    d = names_set_unique(&ns, "Doc", 0);
    CHECK_STR(cc, d, "Doc (3)");
    free(a);
    free(b);
    free(c);
    free(d);
    /* growth keeps every name */
    for (i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "n%d", i);
        if (names_set_add(&ns, name) < 0)
            all = 0;
    }
    for (i = 0; i < 500; i++) {
        snprintf(name, sizeof name, "N%d", i);
        if (!names_set_has(&ns, name))
            all = 0;
    }
    CHECK(cc, all);
    names_set_release(&ns);
}

static void test_transient(struct check_count *cc)
{
    CHECK(cc, names_is_transient(".~lock.offer.odt#"));
    CHECK(cc, names_is_transient("~$report.docx"));
    CHECK(cc, names_is_transient("big.iso.part"));
    CHECK(cc, names_is_transient(".DS_Store"));
    CHECK(cc, names_is_transient("Thumbs.db"));
    CHECK(cc, names_is_transient("desktop.ini"));
    CHECK(cc, !names_is_transient("offer.odt"));
    CHECK(cc, !names_is_transient(".~lock.offer.odt"));
    CHECK(cc, !names_is_transient("partial"));
    CHECK(cc, !names_is_transient("a~$b"));
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_sanitize(&cc);
    test_suffix(&cc);
    test_set(&cc);
    test_transient(&cc);
    return check_done(&cc);
}
