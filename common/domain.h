/*
 * domain: Odoo search domains written in Odoo's own syntax.
 *
 * Users write domains as Odoo shows them (a Python literal):
 *     [('state', 'in', ['draft', 'sent']), '|', ('a', '=', 1), ('b', '!=', False)]
 * domain_parse() turns that into the JSON array search_read takes (tuples
 * become arrays, True/False -> true/false, None -> null) and checks its
 * structure: each leaf is [field, operator, value] with a string field and
 * one of Odoo's operators, and the prefix operators '&' '|' (two operands)
 * and '!' (one) have enough operands; terms side by side are an implicit
 * '&', as in Odoo. Only literals are accepted: no names or calls
 * (context_today(), uid), since nothing evaluates them here.
 *
 * Errors give the byte offset of the fault in the text:
 *     domain: offset 17: expected ',' or ']'
 *
 * Ownership: returned cJSON trees belong to the caller (cJSON_Delete).
 */
#ifndef ODOOSYNC_DOMAIN_H
#define ODOOSYNC_DOMAIN_H

#include <cjson/cJSON.h>

#include "err.h"

/* Parse and validate text; on success *out is a new cJSON array. ERR_INVALID
 * (with the offset) on bad syntax or structure, ERR_NOMEM. */
int domain_parse(const char *text, cJSON **out, struct err *e);

/* Validate the structure of an already-built JSON domain (from domain_parse,
 * or any JSON array). ERR_INVALID naming the index of the bad term. */
int domain_validate(const cJSON *dom, struct err *e);

/* Normalised copy: explicit '&' inserted where terms were side by side, so
 * the result is one prefix expression (Odoo's normalize_domain). [] stays [].
 * NULL on a malformed domain or no memory. */
cJSON *domain_normalize(const cJSON *dom);

/* a AND b, as a new array: ['&', ...norm(a), ...norm(b)]; an empty side
 * yields a copy of the other. NULL on a malformed input or no memory. */
cJSON *domain_and(const cJSON *a, const cJSON *b);

/* Whether op is one of Odoo's term operators ("=", "in", "child_of", ...). */
int domain_is_operator(const char *op);

#endif
