/*
 * scan_int: what the pieces of the scan share, not part of the public API
 * (scan.h). scan.c reads Odoo and owns the helpers below; scan_unmatched.c
 * reads the records tagged in the cloud that no type listed, and their
 * attachments, with scan_atts_of(); scan_cloud.c walks the cloud.
 */
#ifndef ODOOSYNC_SCAN_INT_H
#define ODOOSYNC_SCAN_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "model.h"
#include "odoo.h"
#include "scan.h"

/* Where the records and attachments of one request go (one scan's context). */
struct scan_rec {
    struct odoo_snap *os;
    size_t type;
    const char *model;
    long *ids;
    size_t nids, cap;
    struct err *e;
};

/* A monotonic clock in milliseconds, for durations and progress. */
long long scan_mono_ms(void);

/* o[k] as a string (borrowed, NULL when absent or not a string) or a number (0). */
const char *scan_json_str(const cJSON *o, const char *k);
long scan_json_long(const cJSON *o, const char *k);

/* Attachments of ids[0..n) of model into r->os, SCAN_ATT_CHUNK ids per request. */
int scan_atts_of(struct odoo *o, struct scan_rec *r, const char *model, const long *ids, size_t n,
                 struct scan_stats *st, struct err *e);

#endif
