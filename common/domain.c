/*
 * domain: a parser for Odoo domains in Odoo's own (Python literal) syntax,
 * and the structural checks and combinators the producer needs.
 *
 * The parser is a small recursive descent over the text that keeps the byte
 * offset of every fault. It knows exactly the Python literals a domain can
 * hold: lists [..] and tuples (..) (trailing commas, the one-element tuple
 * (x,) and plain parentheses (x) as Python reads them), strings in ' or "
 * with Python's escapes (\n \t \\ \' \xhh \uXXXX \UXXXXXXXX, octal, and the
 * u/r/b prefixes, adjacent literals concatenated), ints and floats (with
 * '_' separators, hex/octal/binary ints), True, False, None. Strings must be
 * valid UTF-8 and may not hold NUL. Nesting is capped (DOMAIN_MAX_DEPTH) so
 * hostile input cannot exhaust the stack.
 *
 * The structure check follows odoo/osv/expression.py: a domain is a list of
 * prefix-notation tokens; '&' and '|' take two operands, '!' one; a term
 * [field, op, value] is one operand; terms left over are joined by an
 * implicit '&' (normalize_domain). The true/false leaves (1, '=', 1) and
 * (0, '=', 1) are accepted.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "domain.h"

#include "banned.h"

#define DOMAIN_MAX_DEPTH 64
#define DOMAIN_MAX_STRING (1024 * 1024)

static const char *const operators[] = {
    "=",        "!=",        "<>",   "<=",       "<",     ">",         ">=", "=?",
    "=like",    "=ilike",    "like", "not like", "ilike", "not ilike", "in", "not in",
    "child_of", "parent_of", "any",  "not any",  "any!",  "not any!",  NULL};

int domain_is_operator(const char *op)
{
    for (size_t i = 0; operators[i]; i++)
        if (strcmp(op, operators[i]) == 0)
            return 1;
    return 0;
}

/* ---- the parser ---- */

struct dp {
    const char *s;
    size_t pos;
    size_t len;
    struct err *e;
};

static int fail(struct dp *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct dp *p, size_t at, const char *fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return err_set(p->e, ERR_INVALID, "domain: offset %zu: %s", at, what);
}

static void skip_ws(struct dp *p)
{
    while (p->pos < p->len) {
        char ch = p->s[p->pos];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v') {
            p->pos++;
        } else if (ch == '\\' && p->pos + 1 < p->len && p->s[p->pos + 1] == '\n') {
            p->pos += 2; /* explicit line joining */
        } else if (ch == '#') {
            while (p->pos < p->len && p->s[p->pos] != '\n')
                p->pos++;
        } else {
            break;
        }
    }
}

static int put_utf8(struct buf *b, unsigned long cp)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_append(b, u, n);
}

/* Length of the valid UTF-8 sequence at s (at most avail bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned long cp;
    size_t n;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2, cp = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3, cp = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Whether a string literal (with an optional prefix) starts at pos. */
static int at_string(const struct dp *p, size_t *prefix_len)
{
    size_t i = p->pos, n = 0;

    while (n < 2 && i + n < p->len && strchr("uUrRbB", p->s[i + n]) && p->s[i + n] != '\0')
        n++;
    for (size_t k = 0; k <= n; k++) {
        if (i + k < p->len && (p->s[i + k] == '\'' || p->s[i + k] == '"')) {
            /* all chars before the quote must be prefix letters: k of them */
            *prefix_len = k;
            return 1;
        }
    }
    return 0;
}

/* One string literal at p->pos (prefix included), appended to b. */
static int parse_one_string(struct dp *p, struct buf *b)
{
    size_t start = p->pos, plen = 0;
    int raw = 0, bytes = 0;
    char q;
    int rc;

    at_string(p, &plen);
    for (size_t k = 0; k < plen; k++) {
        char ch = (char)tolower((unsigned char)p->s[p->pos + k]);
        if (ch == 'r')
            raw = 1;
        else if (ch == 'b')
            bytes = 1;
    }
    if (bytes)
        return fail(p, start, "bytes literals are not supported in a domain");
    p->pos += plen;
    q = p->s[p->pos++];
    if (p->pos + 1 < p->len && p->s[p->pos] == q && p->s[p->pos + 1] == q)
        return fail(p, start, "triple-quoted strings are not supported");
    for (;;) {
        size_t at = p->pos;
        unsigned char ch;

        if (p->pos >= p->len || p->s[p->pos] == '\n')
            return fail(p, start, "unterminated string");
        ch = (unsigned char)p->s[p->pos];
        if (ch == (unsigned char)q) {
            p->pos++;
            return 0;
        }
        if (ch < 0x20 && ch != '\t')
            return fail(p, at, "control character in a string");
        if (ch >= 0x80) {
            size_t n = utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
            if (n == 0)
                return fail(p, at, "invalid UTF-8 in a string");
            rc = buf_append(b, p->s + p->pos, n);
            if (rc < 0)
                goto toobig;
            p->pos += n;
            continue;
        }
        if (ch != '\\') {
            rc = buf_append(b, p->s + p->pos, 1);
            if (rc < 0)
                goto toobig;
            p->pos++;
            continue;
        }
        /* a backslash */
        if (p->pos + 1 >= p->len)
            return fail(p, start, "unterminated string");
        if (raw) {
            /* r'..': the backslash stays, and protects the next character */
            rc = buf_append(b, p->s + p->pos, 2);
            if (rc < 0)
                goto toobig;
            p->pos += 2;
            continue;
        }
        {
            static const char from[] = "\\'\"abfnrtv";
            static const char to[] = "\\'\"\a\b\f\n\r\t\v";
            char esc = p->s[p->pos + 1];
            unsigned long cp = 0;
            const char *simple = strchr(from, esc);

            if (esc != '\0' && simple) {
                char out = to[simple - from];
                rc = buf_append(b, &out, 1);
                if (rc < 0)
                    goto toobig;
                p->pos += 2;
                continue;
            }
            if (esc == '\n') {
                p->pos += 2;
                continue;
            }
            if (esc >= '0' && esc <= '7') {
                size_t k = p->pos + 1;
                int nd = 0;
                while (nd < 3 && k < p->len && p->s[k] >= '0' && p->s[k] <= '7') {
                    cp = cp * 8 + (unsigned long)(p->s[k] - '0');
                    k++, nd++;
                }
                if (cp == 0)
                    return fail(p, at, "NUL character in a string");
                rc = put_utf8(b, cp);
                if (rc < 0)
                    goto toobig;
                p->pos = k;
                continue;
            }
            if (esc == 'x' || esc == 'u' || esc == 'U') {
                int nd = esc == 'x' ? 2 : esc == 'u' ? 4 : 8;
                for (int k = 0; k < nd; k++) {
                    int h = p->pos + 2 + (size_t)k < p->len ? hexval(p->s[p->pos + 2 + k]) : -1;
                    if (h < 0)
                        return fail(p, at, "truncated \\%c escape", esc);
                    cp = cp * 16 + (unsigned long)h;
                }
                if (cp == 0)
                    return fail(p, at, "NUL character in a string");
                if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    return fail(p, at, "escape is not a valid Unicode character");
                rc = put_utf8(b, cp);
                if (rc < 0)
                    goto toobig;
                p->pos += 2 + (size_t)nd;
                continue;
            }
            if (esc == 'N')
                return fail(p, at, "\\N{...} escapes are not supported");
            /* Python keeps unknown escapes as they are */
            rc = buf_append(b, p->s + p->pos, 1);
            if (rc < 0)
                goto toobig;
            p->pos++;
        }
    }
toobig:
    if (rc == ERR_NOMEM)
        return err_set(p->e, ERR_NOMEM, "domain: out of memory");
    return fail(p, start, "string too long");
}

static int parse_string(struct dp *p, cJSON **out)
{
    struct buf b;
    size_t plen;
    int rc;

    buf_init(&b, DOMAIN_MAX_STRING);
    rc = parse_one_string(p, &b);
    /* adjacent literals concatenate: 'a' 'b' == 'ab' */
    for (;;) {
        size_t save;
        if (rc < 0)
            goto out;
        save = p->pos;
        skip_ws(p);
        if (!at_string(p, &plen)) {
            p->pos = save;
            break;
        }
        rc = parse_one_string(p, &b);
    }
    *out = cJSON_CreateString(buf_str(&b));
    if (!*out)
        rc = err_set(p->e, ERR_NOMEM, "domain: out of memory");
out:
    buf_release(&b);
    return rc;
}

static int parse_number(struct dp *p, cJSON **out)
{
    size_t start = p->pos, i = p->pos;
    char tok[128];
    size_t n = 0;
    int is_float = 0, base = 10;
    char *end = NULL;
    double v;

    if (i < p->len && (p->s[i] == '-' || p->s[i] == '+'))
        tok[n++] = p->s[i++];
    while (i < p->len && (p->s[i] == ' ' || p->s[i] == '\t'))
        i++; /* Python allows "- 1" */
    if (i + 1 < p->len && p->s[i] == '0' && strchr("xXoObB", p->s[i + 1]) && p->s[i + 1]) {
        char kind = (char)tolower((unsigned char)p->s[i + 1]);
        base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
        i += 2;
    }
    for (; i < p->len; i++) {
        char ch = p->s[i];
        if (ch == '_')
            continue;
        if (base == 16 ? isxdigit((unsigned char)ch) : isdigit((unsigned char)ch)) {
            /* digits */
        } else if (base == 10 && (ch == '.' || ch == 'e' || ch == 'E')) {
            is_float = 1;
        } else if (base == 10 && (ch == '+' || ch == '-') && n > 0 &&
                   (tok[n - 1] == 'e' || tok[n - 1] == 'E')) {
            /* exponent sign */
        } else {
            break;
        }
        if (n + 1 >= sizeof(tok))
            return fail(p, start, "number too long");
        tok[n++] = ch;
    }
    tok[n] = '\0';
    if (i < p->len && (isalpha((unsigned char)p->s[i]) || p->s[i] == '_'))
        return fail(p, i, "invalid character in a number");
    errno = 0;
    if (is_float) {
        v = strtod(tok, &end);
    } else {
        long long ll = strtoll(tok, &end, base);
        if (errno == ERANGE || ll > (1LL << 53) || ll < -(1LL << 53))
            return fail(p, start, "integer out of range (at most 2^53 in magnitude)");
        v = (double)ll;
    }
    if (!end || *end != '\0' || end == tok || ((tok[0] == '-' || tok[0] == '+') && end == tok + 1))
        return fail(p, start, "invalid number");
    if (!isfinite(v))
        return fail(p, start, "number out of range");
    p->pos = i;
    *out = cJSON_CreateNumber(v);
    if (!*out)
        return err_set(p->e, ERR_NOMEM, "domain: out of memory");
    return 0;
}

static int parse_value(struct dp *p, cJSON **out, int depth);

/* After '[' or '(' : elements up to close. For '(' a single element without a
 * comma is a parenthesised value, not a tuple. */
static int parse_seq(struct dp *p, cJSON **out, int depth, char close)
{
    cJSON *arr = NULL, *item = NULL;
    size_t open_at = p->pos;
    int n = 0, comma = 0, rc;

    p->pos++; /* the opening bracket */
    arr = cJSON_CreateArray();
    if (!arr)
        return err_set(p->e, ERR_NOMEM, "domain: out of memory");
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len) {
            rc = err_set(p->e, ERR_INVALID,
                         "domain: offset %zu: expected '%c' to close the %s at offset %zu", p->pos,
                         close, close == ']' ? "list" : "tuple", open_at);
            goto out;
        }
        if (p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        if (n > 0 && !comma) {
            rc = err_set(p->e, ERR_INVALID, "domain: offset %zu: expected ',' or '%c'", p->pos,
                         close);
            goto out;
        }
        rc = parse_value(p, &item, depth + 1);
        if (rc < 0)
            goto out;
        cJSON_AddItemToArray(arr, item);
        item = NULL;
        n++;
        skip_ws(p);
        comma = 0;
        if (p->pos < p->len && p->s[p->pos] == ',') {
            comma = 1;
            p->pos++;
        }
    }
    if (close == ')' && n == 1 && !comma) {
        /* (x) is x */
        *out = cJSON_DetachItemFromArray(arr, 0);
        cJSON_Delete(arr);
        return 0;
    }
    *out = arr;
    return 0;
out:
    cJSON_Delete(arr);
    return rc;
}

static int parse_value(struct dp *p, cJSON **out, int depth)
{
    size_t plen, start;
    char ch;

    *out = NULL;
    if (depth > DOMAIN_MAX_DEPTH)
        return fail(p, p->pos, "nested too deeply");
    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, p->pos, "unexpected end, expected a value");
    ch = p->s[p->pos];
    if (ch == '[')
        return parse_seq(p, out, depth, ']');
    if (ch == '(')
        return parse_seq(p, out, depth, ')');
    if (at_string(p, &plen))
        return parse_string(p, out);
    if (isdigit((unsigned char)ch) || ch == '-' || ch == '+' ||
        (ch == '.' && p->pos + 1 < p->len && isdigit((unsigned char)p->s[p->pos + 1])))
        return parse_number(p, out);
    start = p->pos;
    if (isalpha((unsigned char)ch) || ch == '_') {
        char name[64];
        size_t n = 0;
        while (p->pos < p->len && (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_')) {
            if (n + 1 < sizeof(name))
                name[n++] = p->s[p->pos];
            p->pos++;
        }
        name[n] = '\0';
        if (strcmp(name, "True") == 0)
            *out = cJSON_CreateTrue();
        else if (strcmp(name, "False") == 0)
            *out = cJSON_CreateFalse();
        else if (strcmp(name, "None") == 0)
            *out = cJSON_CreateNull();
        else
            return fail(p, start,
                        "expected a literal value, got the name '%s' (only literals are allowed)",
                        name);
        if (!*out)
            return err_set(p->e, ERR_NOMEM, "domain: out of memory");
        return 0;
    }
    {
        char shown[8];
        if ((unsigned char)ch >= 0x20 && (unsigned char)ch < 0x7f)
            snprintf(shown, sizeof(shown), "'%c'", ch);
        else
            snprintf(shown, sizeof(shown), "0x%02x", (unsigned char)ch);
        return fail(p, start, "expected a value, got %s", shown);
    }
}

/* ---- structure ---- */

static int op_arity(const char *s)
{
    if (strcmp(s, "&") == 0 || strcmp(s, "|") == 0)
        return 2;
    if (strcmp(s, "!") == 0)
        return 1;
    return -1;
}

static int term_fail(struct err *e, const size_t *offs, int i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int term_fail(struct err *e, const size_t *offs, int i, const char *fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (offs)
        return err_set(e, ERR_INVALID, "domain: offset %zu: %s", offs[i], what);
    return err_set(e, ERR_INVALID, "domain: term %d: %s", i, what);
}

static int check_leaf(const cJSON *t, struct err *e, const size_t *offs, int i, int depth)
{
    const cJSON *f, *op, *v;

    if (cJSON_GetArraySize(t) != 3)
        return term_fail(e, offs, i, "expected a term (field, operator, value) of 3 items");
    f = cJSON_GetArrayItem(t, 0);
    op = cJSON_GetArrayItem(t, 1);
    v = cJSON_GetArrayItem(t, 2);
    if (cJSON_IsNumber(f)) {
        /* TRUE_LEAF (1, '=', 1) and FALSE_LEAF (0, '=', 1) */
        if ((f->valuedouble == 1 || f->valuedouble == 0) && cJSON_IsString(op) &&
            strcmp(op->valuestring, "=") == 0 && cJSON_IsNumber(v) && v->valuedouble == 1)
            return 0;
        return term_fail(e, offs, i, "the field of a term must be a string");
    }
    if (!cJSON_IsString(f) || f->valuestring[0] == '\0')
        return term_fail(e, offs, i, "the field of a term must be a non-empty string");
    if (!cJSON_IsString(op))
        return term_fail(e, offs, i, "the operator of a term must be a string");
    if (!domain_is_operator(op->valuestring))
        return term_fail(e, offs, i, "unknown operator '%s'", op->valuestring);
    if ((strncmp(op->valuestring, "any", 3) == 0 || strncmp(op->valuestring, "not any", 7) == 0) &&
        !cJSON_IsArray(v))
        return term_fail(e, offs, i, "the value of '%s' must be a domain", op->valuestring);
    (void)depth;
    return 0;
}

static int validate(const cJSON *dom, struct err *e, const size_t *offs, int depth);

static int check_token(const cJSON *t, struct err *e, const size_t *offs, int i, int depth,
                       int *arity)
{
    int rc;

    if (cJSON_IsString(t)) {
        *arity = op_arity(t->valuestring);
        if (*arity < 0)
            return term_fail(e, offs, i, "expected a term or one of '&', '|', '!', got '%s'",
                             t->valuestring);
        return 0;
    }
    *arity = 0;
    if (!cJSON_IsArray(t))
        return term_fail(e, offs, i,
                         "expected a term (field, operator, value) or one of '&', '|', '!'");
    rc = check_leaf(t, e, offs, i, depth);
    if (rc < 0)
        return rc;
    {
        const cJSON *op = cJSON_GetArrayItem(t, 1);
        const cJSON *v = cJSON_GetArrayItem(t, 2);
        if (cJSON_IsString(op) && (strncmp(op->valuestring, "any", 3) == 0 ||
                                   strncmp(op->valuestring, "not any", 7) == 0)) {
            struct err sub = ERR_INIT;
            rc = validate(v, &sub, NULL, depth + 1);
            if (rc < 0)
                return term_fail(e, offs, i, "in the value of 'any': %s",
                                 strncmp(sub.msg, "domain: ", 8) == 0 ? sub.msg + 8 : sub.msg);
        }
    }
    return 0;
}

static int validate(const cJSON *dom, struct err *e, const size_t *offs, int depth)
{
    int n, rc = 0;
    int *need = NULL, *opidx = NULL; /* a stack of pending operators */
    int sp = 0;

    if (!cJSON_IsArray(dom))
        return err_set(e, ERR_INVALID, "domain: expected a list");
    if (depth > DOMAIN_MAX_DEPTH)
        return err_set(e, ERR_INVALID, "domain: nested too deeply");
    n = cJSON_GetArraySize(dom);
    if (n == 0)
        return 0;
    need = calloc((size_t)n, sizeof(*need));
    opidx = calloc((size_t)n, sizeof(*opidx));
    if (!need || !opidx) {
        rc = err_set(e, ERR_NOMEM, "domain: out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int arity;
        rc = check_token(cJSON_GetArrayItem(dom, i), e, offs, i, depth, &arity);
        if (rc < 0)
            goto out;
        if (arity > 0) {
            need[sp] = arity;
            opidx[sp] = i;
            sp++;
            continue;
        }
        /* one complete operand: feeds the pending operators */
        while (sp > 0) {
            if (--need[sp - 1] > 0)
                break;
            sp--;
        }
    }
    if (sp > 0) {
        const cJSON *op = cJSON_GetArrayItem(dom, opidx[sp - 1]);
        rc = term_fail(e, offs, opidx[sp - 1], "operator '%s' lacks an operand", op->valuestring);
        goto out;
    }
out:
    free(need);
    free(opidx);
    return rc;
}

int domain_validate(const cJSON *dom, struct err *e)
{
    return validate(dom, e, NULL, 0);
}

int domain_parse(const char *text, cJSON **out, struct err *e)
{
    struct dp p = {text, 0, 0, e};
    cJSON *dom = NULL;
    size_t *offs = NULL;
    int rc, n;

    *out = NULL;
    if (!text)
        return err_set(e, ERR_INVALID, "domain: missing");
    p.len = strlen(text);
    skip_ws(&p);
    if (p.pos >= p.len)
        return err_set(e, ERR_INVALID, "domain: offset %zu: expected '['", p.pos);
    if (text[p.pos] != '[' && text[p.pos] != '(')
        return err_set(e, ERR_INVALID, "domain: offset %zu: expected '[' (a domain is a list)",
                       p.pos);
    /* parse the outer list by hand to record the offset of each top-level term */
    {
        char close = text[p.pos] == '[' ? ']' : ')';
        size_t open_at = p.pos;
        size_t cap = 16;
        int comma = 0;
        cJSON *item = NULL;

        n = 0;
        p.pos++;
        dom = cJSON_CreateArray();
        offs = malloc(cap * sizeof(*offs));
        if (!dom || !offs) {
            rc = err_set(e, ERR_NOMEM, "domain: out of memory");
            goto out;
        }
        for (;;) {
            skip_ws(&p);
            if (p.pos >= p.len) {
                rc = err_set(e, ERR_INVALID,
                             "domain: offset %zu: expected '%c' to close the %s at offset %zu",
                             p.pos, close, close == ']' ? "list" : "tuple", open_at);
                goto out;
            }
            if (text[p.pos] == close) {
                p.pos++;
                break;
            }
            if (n > 0 && !comma) {
                rc = err_set(e, ERR_INVALID, "domain: offset %zu: expected ',' or '%c'", p.pos,
                             close);
                goto out;
            }
            if ((size_t)n == cap) {
                size_t *grown = realloc(offs, 2 * cap * sizeof(*offs));
                if (!grown) {
                    rc = err_set(e, ERR_NOMEM, "domain: out of memory");
                    goto out;
                }
                offs = grown;
                cap *= 2;
            }
            offs[n] = p.pos;
            rc = parse_value(&p, &item, 1);
            if (rc < 0)
                goto out;
            cJSON_AddItemToArray(dom, item);
            n++;
            skip_ws(&p);
            comma = 0;
            if (p.pos < p.len && text[p.pos] == ',') {
                comma = 1;
                p.pos++;
            }
        }
        if (close == ')' && n == 1 && !comma) {
            rc = err_set(
                e, ERR_INVALID,
                "domain: offset %zu: expected a list of terms, got a single value in parentheses",
                open_at);
            goto out;
        }
    }
    skip_ws(&p);
    if (p.pos < p.len) {
        rc = err_set(e, ERR_INVALID, "domain: offset %zu: unexpected text after the domain", p.pos);
        goto out;
    }
    /* a common slip: a single term without the list around it */
    if (n == 3 && cJSON_IsString(cJSON_GetArrayItem(dom, 0)) &&
        op_arity(cJSON_GetArrayItem(dom, 0)->valuestring) < 0 &&
        cJSON_IsString(cJSON_GetArrayItem(dom, 1)) &&
        domain_is_operator(cJSON_GetArrayItem(dom, 1)->valuestring)) {
        rc = err_set(e, ERR_INVALID,
                     "domain: offset 0: expected a list of terms, got a single term (write "
                     "[(field, operator, value)])");
        goto out;
    }
    rc = validate(dom, e, offs, 0);
    if (rc < 0)
        goto out;
    *out = dom;
    dom = NULL;
out:
    cJSON_Delete(dom);
    free(offs);
    return rc;
}

/* ---- combinators ---- */

cJSON *domain_normalize(const cJSON *dom)
{
    cJSON *res = NULL, *copy = NULL;
    const cJSON *t;
    int expected = 1;
    struct err e = ERR_INIT;

    if (domain_validate(dom, &e) < 0)
        return NULL;
    res = cJSON_CreateArray();
    if (!res)
        return NULL;
    if (cJSON_GetArraySize(dom) == 0)
        return res;
    cJSON_ArrayForEach(t, dom)
    {
        if (expected == 0) {
            cJSON *amp = cJSON_CreateString("&");
            if (!amp)
                goto fail;
            cJSON_InsertItemInArray(res, 0, amp);
            expected = 1;
        }
        if (cJSON_IsArray(t))
            expected -= 1;
        else
            expected += op_arity(t->valuestring) - 1;
        copy = cJSON_Duplicate(t, 1);
        if (!copy)
            goto fail;
        cJSON_AddItemToArray(res, copy);
    }
    return res;
fail:
    cJSON_Delete(res);
    return NULL;
}

static int append_all(cJSON *to, const cJSON *from)
{
    const cJSON *t;

    cJSON_ArrayForEach(t, from)
    {
        cJSON *c = cJSON_Duplicate(t, 1);
        if (!c)
            return -1;
        cJSON_AddItemToArray(to, c);
    }
    return 0;
}

cJSON *domain_and(const cJSON *a, const cJSON *b)
{
    cJSON *na = NULL, *nb = NULL, *res = NULL, *amp;

    na = domain_normalize(a);
    nb = domain_normalize(b);
    if (!na || !nb)
        goto out;
    if (cJSON_GetArraySize(na) == 0) {
        res = nb;
        nb = NULL;
        goto out;
    }
    if (cJSON_GetArraySize(nb) == 0) {
        res = na;
        na = NULL;
        goto out;
    }
    res = cJSON_CreateArray();
    amp = cJSON_CreateString("&");
    if (!res || !amp) {
        cJSON_Delete(amp);
        goto fail;
    }
    cJSON_AddItemToArray(res, amp);
    if (append_all(res, na) < 0 || append_all(res, nb) < 0)
        goto fail;
    goto out;
fail:
    cJSON_Delete(res);
    res = NULL;
out:
    cJSON_Delete(na);
    cJSON_Delete(nb);
    return res;
}
