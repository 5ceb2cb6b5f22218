/*
 * fuzz_multistatus: libFuzzer target for the WebDAV multistatus parser (dav_xml.c).
 *
 * The first input byte picks the read size the parser pulls with (1..256 bytes,
 * so the DTD filter's boundary handling and libxml2's push buffering are
 * exercised as on a slow network); the rest is the body. The parser must never
 * crash, leak, expand entities or read past the input; it either lists entries
 * whose paths are normalised (no "..", under the base) or fails with ERR_PROTO
 * and a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dav.h"
#include "dav_int.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
    const uint8_t *p;
    size_t left;
    int step;
};

static int pull(void *ctx, char *b, int len)
{
    struct src *s = ctx;
    size_t n = s->left;

    if (n > (size_t)len)
        n = (size_t)len;
    if (n > (size_t)s->step)
        n = (size_t)s->step;
    memcpy(b, s->p, n);
    s->p += n;
    s->left -= n;
    return (int)n;
}

static int check_entry(const struct dav_entry *ent, void *ud)
{
    (void)ud;
    if (!ent->path || ent->path[0] != '/' || strstr(ent->path, "/../") || strstr(ent->path, "//") ||
        (strlen(ent->path) >= 3 && strcmp(ent->path + strlen(ent->path) - 3, "/..") == 0))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err e = ERR_INIT;
    struct src s;
    long n = 0;
    int rc;

    if (size < 1)
        return 0;
    s.step = 1 + data[0];
    s.p = data + 1;
    s.left = size - 1;
    rc = dav_multistatus_parse_pull(pull, &s, "/dav/", check_entry, NULL, &n, &e);
    if (rc < 0 && (rc != ERR_PROTO || !e.msg[0]))
        abort();
    return 0;
}
