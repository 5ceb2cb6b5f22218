/*
 * Unit tests of buf (capped growable buffer) and err (error codes).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "err.h"

static void test_buf_cap(struct check_count *cc)
{
    struct buf b;

    buf_init(&b, 10);
    CHECK_STR(cc, buf_str(&b), "");
    CHECK_INT(cc, buf_puts(&b, "hello"), 0);
    CHECK_INT(cc, buf_printf(&b, "%d", 1234), 0);
    CHECK_STR(cc, buf_str(&b), "hello1234");
    /* 9 + 2 > 10: refused, content unchanged */
    CHECK_INT(cc, buf_puts(&b, "ab"), ERR_TOO_BIG);
    CHECK_STR(cc, buf_str(&b), "hello1234");
    CHECK_INT(cc, buf_puts(&b, "a"), 0);
    CHECK_INT(cc, b.len, 10);
    CHECK_INT(cc, buf_printf(&b, "x"), ERR_TOO_BIG);
    buf_reset(&b);
    CHECK_INT(cc, b.len, 0);
    CHECK_STR(cc, buf_str(&b), "");
    buf_release(&b);
}

static void test_buf_grow_and_detach(struct check_count *cc)
{
    struct buf b;
    char *s;

    buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        CHECK(cc, buf_append(&b, "0123456789", 10) == 0 || 0);
    CHECK_INT(cc, b.len, 100000);
    CHECK(cc, b.data[b.len] == '\0');
    s = buf_detach(&b);
    CHECK_INT(cc, strlen(s), 100000);
    CHECK(cc, b.data == NULL && b.len == 0);
    free(s);
    s = buf_detach(&b);
    CHECK_STR(cc, s, "");
    free(s);
}

static void test_err(struct check_count *cc)
{
    struct err e = ERR_INIT;

    CHECK_INT(cc, err_set(&e, ERR_CONFLICT, "etag \"%s\" changed", "abc"), ERR_CONFLICT);
    CHECK_STR(cc, e.msg, "etag \"abc\" changed");
    err_prefix(&e, "put \"%s\"", "/a");
    CHECK_STR(cc, e.msg, "put \"/a\": etag \"abc\" changed");
    CHECK_STR(cc, err_name(ERR_CONFLICT), "conflict");
    CHECK(cc, err_retryable(ERR_RETRY));
    CHECK(cc, !err_retryable(ERR_ACCESS));
    CHECK_INT(cc, err_set(NULL, ERR_IO, "ignored"), ERR_IO);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_buf_cap(&cc);
    test_buf_grow_and_detach(&cc);
    test_err(&cc);
    return check_done(&cc);
}
