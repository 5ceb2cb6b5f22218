/*
 * names: sanitising of path components and per-folder uniqueness (names.h).
 *
 * names_sanitize works on bytes: it validates UTF-8 (an invalid byte becomes
 * '-'), maps the forbidden ASCII characters and control characters to '-',
 * trims spaces and dots at both ends, then cuts to NAMES_MAX_BYTES without
 * splitting a UTF-8 sequence (and trims again, since a cut may expose a
 * trailing space or dot).
 *
 * names_set is a small open-addressing hash set of lower-cased names; it
 * only grows, and is rebuilt at twice the size when half full.
 */
#include "names.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "banned.h"

static int forbidden(unsigned char c)
{
    if (c < 0x20 || c == 0x7f)
        return 1;
    return strchr("*?\"':<>|+%!@\\/", c) != NULL && c != '\0';
}

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len, i;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Trim spaces and dots at both ends of s[0..*n); returns the new start. */
static char *trim(char *s, size_t *n)
{
    size_t a = 0, b = *n;

    while (a < b && (s[a] == ' ' || s[a] == '.'))
        a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '.'))
        b--;
    *n = b - a;
    return s + a;
}

/* Largest length <= max that does not split a UTF-8 sequence of the valid string s. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

char *names_sanitize(const char *in)
{
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    size_t n = strlen((const char *)p), i = 0, o = 0, len;
    char *out = malloc(n + 2), *start;

    if (!out)
        return NULL;
    while (i < n) {
        len = utf8_len(p + i, n - i);
        if (len == 0) {
            out[o++] = '-';
            i++;
        } else if (len == 1) {
            out[o++] = forbidden(p[i]) ? '-' : (char)p[i];
            i++;
        } else {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        }
    }
    start = trim(out, &o);
    o = utf8_cut(start, o, NAMES_MAX_BYTES);
    start = trim(start, &o);
    if (o == 0) {
        out[0] = '-';
        out[1] = '\0';
        return out;
    }
    memmove(out, start, o);
    out[o] = '\0';
    return out;
}

char *names_with_suffix(const char *name, unsigned n, int keep_ext)
{
    char suffix[32];
    const char *dot = NULL;
    size_t stem, ext, slen, room, cut;
    char *out;

    snprintf(suffix, sizeof suffix, " (%u)", n);
    slen = strlen(suffix);
    if (keep_ext) {
        dot = strrchr(name, '.');
        /* a leading dot is not an extension; an extension is short */
        if (dot && (dot == name || strlen(dot) > 16))
            dot = NULL;
    }
    stem = dot ? (size_t)(dot - name) : strlen(name);
    ext = dot ? strlen(dot) : 0;
    room = NAMES_MAX_BYTES > slen + ext ? NAMES_MAX_BYTES - slen - ext : 0;
    cut = utf8_cut(name, stem, room);
    /* no trailing space or dot before the suffix */
    while (cut > 0 && (name[cut - 1] == ' ' || name[cut - 1] == '.'))
        cut--;
    out = malloc(cut + slen + ext + 1);
    if (!out)
        return NULL;
    memcpy(out, name, cut);
    memcpy(out + cut, suffix, slen);
    if (ext)
        memcpy(out + cut + slen, dot, ext);
    out[cut + slen + ext] = '\0';
    return out;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int names_is_transient(const char *name)
{
    size_t n = strlen(name);

    if (strncmp(name, ".~lock.", 7) == 0 && n > 7 && name[n - 1] == '#')
        return 1;
    if (strncmp(name, "~$", 2) == 0 || ends_with(name, ".part"))
        return 1;
    return strcmp(name, ".DS_Store") == 0 || strcmp(name, "Thumbs.db") == 0 ||
           strcmp(name, "desktop.ini") == 0;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int names_collide(const char *a, const char *b)
{
    while (*a && *b && lower((unsigned char)*a) == lower((unsigned char)*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h ^= (uint64_t)lower((unsigned char)*s);
        h *= 1099511628211ULL;
    }
    return h;
}

void names_set_init(struct names_set *s)
{
    s->slots = NULL;
    s->cap = 0;
    s->n = 0;
}

void names_set_release(struct names_set *s)
{
    size_t i;

    for (i = 0; i < s->cap; i++)
        free(s->slots[i]);
    free(s->slots);
    names_set_init(s);
}

static size_t find_slot(char **slots, size_t cap, const char *name)
{
    size_t i = (size_t)(hash_name(name) & (cap - 1));

    while (slots[i] && !names_collide(slots[i], name))
        i = (i + 1) & (cap - 1);
    return i;
}

int names_set_has(const struct names_set *s, const char *name)
{
    if (s->cap == 0)
        return 0;
    return s->slots[find_slot(s->slots, s->cap, name)] != NULL;
}

static int grow(struct names_set *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 16, i;
    char **ns = calloc(ncap, sizeof *ns);

    if (!ns)
        return ERR_NOMEM;
    for (i = 0; i < s->cap; i++)
        if (s->slots[i])
            ns[find_slot(ns, ncap, s->slots[i])] = s->slots[i];
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    return 0;
}

int names_set_add(struct names_set *s, const char *name)
{
    size_t i;
    char *copy;

    if (names_set_has(s, name))
        return 0;
    if ((s->n + 1) * 2 > s->cap && grow(s) < 0)
        return ERR_NOMEM;
    copy = strdup(name);
    if (!copy)
        return ERR_NOMEM;
    i = find_slot(s->slots, s->cap, name);
    s->slots[i] = copy;
    s->n++;
    return 0;
}

char *names_set_unique(struct names_set *s, const char *base, int keep_ext)
{
    char *cand = NULL;
    unsigned n;

    if (!names_set_has(s, base)) {
        cand = strdup(base);
    } else {
        for (n = 2;; n++) {
            cand = names_with_suffix(base, n, keep_ext);
            if (!cand || !names_set_has(s, cand))
                break;
            free(cand);
        }
    }
    if (cand && names_set_add(s, cand) < 0) {
        free(cand);
        cand = NULL;
    }
    return cand;
}
