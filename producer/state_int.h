/*
 * state_int: what the pieces of the scan state share (state_json.c,
 * state_store.c); not for other modules.
 */
#ifndef ODOOSYNC_STATE_INT_H
#define ODOOSYNC_STATE_INT_H

#define STATE_MAX_FILE (1024LL * 1024 * 1024)       /* 1 GiB: far above 1M attachments */
#define STATE_MAX_REDIS ((size_t)512 * 1024 * 1024) /* a Redis string's limit */

#endif
