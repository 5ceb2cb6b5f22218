/*
 * sha: SHA-1 and SHA-256 digests as lowercase hex, over OpenSSL's EVP API.
 *
 * SHA-1 is what Odoo stores as an attachment's checksum, so comparing
 * content with Odoo needs it; SHA-256 names jobs (job_make_id). The
 * one-shot helpers digest a buffer; the incremental context digests a
 * stream (an upload or download) without holding it in memory.
 *
 *     char hex[SHA1_HEX_SIZE];
 *     sha_hex_sha1(data, len, hex);
 *
 *     struct sha1_ctx c;
 *     if (sha1_init(&c, &e) < 0) ...;
 *     sha1_update(&c, chunk, n, &e); ...
 *     sha1_final(&c, hex, &e);      (frees the context; call sha1_release on abort)
 *
 * Ownership: a sha1_ctx holds an EVP_MD_CTX from sha1_init() until
 * sha1_final() or sha1_release(); both may be called on a context that was
 * never initialised successfully (ctx is NULL then). A context is not shared
 * between threads.
 */
#ifndef ODOOSYNC_SHA_H
#define ODOOSYNC_SHA_H

#include <stddef.h>

#include "err.h"

#define SHA1_HEX_SIZE 41   /* 40 hex digits + '\0' */
#define SHA256_HEX_SIZE 65 /* 64 hex digits + '\0' */

/* hex gets SHA1_HEX_SIZE / SHA256_HEX_SIZE bytes. 0 or ERR_INTERNAL. */
int sha_hex_sha1(const void *data, size_t len, char hex[SHA1_HEX_SIZE]);
int sha_hex_sha256(const void *data, size_t len, char hex[SHA256_HEX_SIZE]);

struct sha1_ctx {
    void *md; /* EVP_MD_CTX *, NULL when not initialised */
};

int sha1_init(struct sha1_ctx *c, struct err *e);
int sha1_update(struct sha1_ctx *c, const void *data, size_t len, struct err *e);
/* Writes the hex digest and releases the context. */
int sha1_final(struct sha1_ctx *c, char hex[SHA1_HEX_SIZE], struct err *e);
/* Frees the context without a digest (safe to call twice or after final). */
void sha1_release(struct sha1_ctx *c);

/* Same for SHA-256 (used for job ids over several fields). */
struct sha256_ctx {
    void *md;
};

int sha256_init(struct sha256_ctx *c, struct err *e);
int sha256_update(struct sha256_ctx *c, const void *data, size_t len, struct err *e);
int sha256_final(struct sha256_ctx *c, char hex[SHA256_HEX_SIZE], struct err *e);
void sha256_release(struct sha256_ctx *c);

#endif
