/*
 * buf: a growable byte buffer with a hard size cap (after curl's dynbuf).
 *
 * Invariants: data is NULL or points to cap bytes; len < cap whenever data
 * is not NULL, and data[len] == '\0', so the content is always a C string
 * too. Appending past max fails with ERR_TOO_BIG and leaves the buffer as
 * it was. Every buffer that holds network data is a buf with a max.
 *
 * Lifecycle: buf_init() on a struct on the stack (no allocation),
 * buf_release() frees the memory and re-initialises, buf_reset() keeps the
 * memory and empties it. buf_detach() hands the string to the caller, who
 * frees it with free().
 */
#ifndef ODOOSYNC_BUF_H
#define ODOOSYNC_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the content (never NULL: "" when empty) and re-initialises b. Caller frees. */
char *buf_detach(struct buf *b);
/* The content as a C string, "" when empty; owned by b. */
const char *buf_str(const struct buf *b);

#endif
