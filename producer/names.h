/*
 * names: file and folder names that are safe in any cloud, and unique.
 *
 * names_sanitize() turns a display name or an attachment name into one path
 * component: the characters * ? " ' : < > | + % ! @ \ / and control
 * characters become '-', invalid UTF-8 bytes become '-', leading and
 * trailing spaces and dots are dropped (so "." and ".." cannot happen), the
 * result is cut to NAMES_MAX_BYTES on a UTF-8 boundary, and an empty result
 * becomes "-".
 *
 * A names_set holds the names already taken in one folder; names compare
 * ASCII-case-insensitively (two names differing only in case collide on
 * Windows and macOS sync clients). names_set_unique() takes `base` if free,
 * else "base (2)", "base (3)", ... (for files the suffix goes before the
 * extension: "offer (2).pdf"), still within NAMES_MAX_BYTES. Callers feed
 * the candidates in a deterministic order (record id, attachment id), so the
 * same state always gives the same names.
 *
 * Ownership: returned strings are malloc'd, the caller frees them. A set
 * copies what it holds; names_set_release() frees it.
 */
#ifndef ODOOSYNC_NAMES_H
#define ODOOSYNC_NAMES_H

#include <stddef.h>

#define NAMES_MAX_BYTES 200

/* Safe component for `in` (NULL is taken as ""). NULL only on ENOMEM. */
char *names_sanitize(const char *in);

/* The n-th variant (n >= 2) of name: "name (n)", or "stem (n).ext" when keep_ext. NULL on ENOMEM.
 */
char *names_with_suffix(const char *name, unsigned n, int keep_ext);

/* Whether two names collide (ASCII case-insensitive equality). */
int names_collide(const char *a, const char *b);

/*
 * Whether a cloud file name is a transient of desktop tools that must not
 * become an attachment: LibreOffice locks ".~lock.*#", Office owner files
 * "~$*", partial uploads "*.part", and ".DS_Store", "Thumbs.db",
 * "desktop.ini". The planner neither links nor deletes such files.
 */
int names_is_transient(const char *name);

struct names_set {
    char **slots; /* open addressing, lower-cased keys */
    size_t cap, n;
};

void names_set_init(struct names_set *s);
void names_set_release(struct names_set *s);
/* 1 if a colliding name is in the set. */
int names_set_has(const struct names_set *s, const char *name);
/* Add name (no-op if present). 0 or ERR_NOMEM. */
int names_set_add(struct names_set *s, const char *name);
/* First free variant of base (base itself, then suffixes), added to the set. NULL on ENOMEM. */
char *names_set_unique(struct names_set *s, const char *base, int keep_ext);

#endif
