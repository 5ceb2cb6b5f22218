/*
 * sha: hex digests over OpenSSL EVP (see sha.h).
 *
 * Both algorithms share one static core (md_init / md_update / md_final)
 * parametrised by the EVP_MD; the public sha1_* / sha256_* names are thin
 * typed wrappers so a caller cannot feed a SHA-1 context to SHA-256.
 */
#include "sha.h"

#include <openssl/evp.h>

#include "banned.h"

static void to_hex(const unsigned char *d, unsigned n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 0xf];
    }
    hex[2 * n] = '\0';
}

static int md_init(void **md, const EVP_MD *type, struct err *e)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    *md = NULL;
    if (!c)
        return err_set(e, ERR_NOMEM, "sha: out of memory");
    if (EVP_DigestInit_ex(c, type, NULL) != 1) {
        EVP_MD_CTX_free(c);
        return err_set(e, ERR_INTERNAL, "sha: digest init failed");
    }
    *md = c;
    return 0;
}

static int md_update(void *md, const void *data, size_t len, struct err *e)
{
    if (!md)
        return err_set(e, ERR_INTERNAL, "sha: context not initialised");
    if (len && EVP_DigestUpdate((EVP_MD_CTX *)md, data, len) != 1)
        return err_set(e, ERR_INTERNAL, "sha: digest update failed");
    return 0;
}

static int md_final(void **md, char *hex, struct err *e)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    int rc = 0;

    if (!*md)
        return err_set(e, ERR_INTERNAL, "sha: context not initialised");
    if (EVP_DigestFinal_ex((EVP_MD_CTX *)*md, d, &n) != 1) {
        rc = err_set(e, ERR_INTERNAL, "sha: digest final failed");
        goto out;
    }
    to_hex(d, n, hex);
out:
    EVP_MD_CTX_free((EVP_MD_CTX *)*md);
    *md = NULL;
    return rc;
}

static void md_release(void **md)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)*md);
    *md = NULL;
}

static int oneshot(const EVP_MD *type, const void *data, size_t len, char *hex)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    if (EVP_Digest(data, len, d, &n, type, NULL) != 1)
        return ERR_INTERNAL;
    to_hex(d, n, hex);
    return 0;
}

int sha_hex_sha1(const void *data, size_t len, char hex[SHA1_HEX_SIZE])
{
    return oneshot(EVP_sha1(), len ? data : "", len, hex);
}

int sha_hex_sha256(const void *data, size_t len, char hex[SHA256_HEX_SIZE])
{
    return oneshot(EVP_sha256(), len ? data : "", len, hex);
}

int sha1_init(struct sha1_ctx *c, struct err *e)
{
    return md_init(&c->md, EVP_sha1(), e);
}

int sha1_update(struct sha1_ctx *c, const void *data, size_t len, struct err *e)
{
    return md_update(c->md, data, len, e);
}

int sha1_final(struct sha1_ctx *c, char hex[SHA1_HEX_SIZE], struct err *e)
{
    return md_final(&c->md, hex, e);
}

void sha1_release(struct sha1_ctx *c)
{
    md_release(&c->md);
}

int sha256_init(struct sha256_ctx *c, struct err *e)
{
    return md_init(&c->md, EVP_sha256(), e);
}

int sha256_update(struct sha256_ctx *c, const void *data, size_t len, struct err *e)
{
    return md_update(c->md, data, len, e);
}

int sha256_final(struct sha256_ctx *c, char hex[SHA256_HEX_SIZE], struct err *e)
{
    return md_final(&c->md, hex, e);
}

void sha256_release(struct sha256_ctx *c)
{
    md_release(&c->md);
}
