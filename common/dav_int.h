/*
 * dav_int: what dav.c and dav_xml.c share, not part of the public API.
 *
 * The multistatus parser pulls its input through a dav_pull_fn (libxml2's
 * xmlInputReadCallback shape): dav_multistatus_parse() pulls from memory,
 * dav_propfind() from the network transfer as it arrives.
 */
#ifndef ODOOSYNC_DAV_INT_H
#define ODOOSYNC_DAV_INT_H

#include "dav.h"

/* Copy up to len bytes into b; return the count, 0 at the end, -1 on error. */
typedef int (*dav_pull_fn)(void *ctx, char *b, int len);

/*
 * Parse a multistatus pulled from pull(ctx). *delivered counts the entries
 * passed to cb. A pull error makes the parse fail with ERR_PROTO unless the
 * caller overrides the code with what the transport saw.
 */
int dav_multistatus_parse_pull(dav_pull_fn pull, void *ctx, const char *base_path, dav_entry_fn cb,
                               void *ud, long *delivered, struct err *e);

/*
 * A response left out of the listing: its href decodes to a name with a
 * control character (struct dav_left_out in dav.h says what it is told).
 */
typedef dav_left_out_fn dav_skip_fn;

/* The same, calling skip (may be NULL) for each response left out. */
int dav_multistatus_parse_pull_skip(dav_pull_fn pull, void *ctx, const char *base_path,
                                    dav_entry_fn cb, void *ud, dav_skip_fn skip, void *skip_ud,
                                    long *delivered, struct err *e);

/* The PROPFIND request body asking for the properties of struct dav_entry. */
extern const char dav_propfind_body[];

#endif
