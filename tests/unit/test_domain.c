/*
 * test_domain: the Odoo domain parser and combinators (common/domain.c).
 *
 * Table-driven: each valid case gives the text and the JSON search_read
 * must receive; each invalid case gives the text and a piece of the message
 * that must appear (the offset of the fault, what was expected).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "domain.h"

#include "banned.h"

struct ok_case {
    const char *text;
    const char *json;
};

static const struct ok_case ok_cases[] = {
    {"[]", "[]"},
    {"  [ ]  ", "[]"},
    {"()", "[]"},
    {"[('state', '=', 'draft')]", "[[\"state\",\"=\",\"draft\"]]"},
    {"[(\"state\", \"=\", \"draft\")]", "[[\"state\",\"=\",\"draft\"]]"},
    {"[('state', 'in', ['draft', 'sent'])]", "[[\"state\",\"in\",[\"draft\",\"sent\"]]]"},
    {"[('state', 'in', ('draft', 'sent'))]", "[[\"state\",\"in\",[\"draft\",\"sent\"]]]"},
    {"[('state','in',['draft','sent',]),]", "[[\"state\",\"in\",[\"draft\",\"sent\"]]]"},
    {"[('customer_rank', '>', 0), ('is_company', '=', True)]",
     "[[\"customer_rank\",\">\",0],[\"is_company\",\"=\",true]]"},
    {"[('parent_id', '=', False)]", "[[\"parent_id\",\"=\",false]]"},
    {"[('date', '!=', None)]", "[[\"date\",\"!=\",null]]"},
    {"[('amount', '>=', 1.5)]", "[[\"amount\",\">=\",1.5]]"},
    {"[('amount', '<', -2)]", "[[\"amount\",\"<\",-2]]"},
    {"[('amount', '<', 1e3)]", "[[\"amount\",\"<\",1000]]"},
    {"[('amount', '<', .25)]", "[[\"amount\",\"<\",0.25]]"},
    {"[('amount', '<', 1_000)]", "[[\"amount\",\"<\",1000]]"},
    {"[('id', '=', 0x10)]", "[[\"id\",\"=\",16]]"},
    {"[('id', 'in', [])]", "[[\"id\",\"in\",[]]]"},
    {"[('id', 'in', (1,))]", "[[\"id\",\"in\",[1]]]"},
    {"[('id', 'in', (1))]", "[[\"id\",\"in\",1]]"}, /* (1) is 1 in Python */
    {"['|', ('a', '=', 1), ('b', '=', 2)]", "[\"|\",[\"a\",\"=\",1],[\"b\",\"=\",2]]"},
    {"['&', '|', ('a', '=', 1), ('b', '=', 2), '!', ('c', '=', 3)]",
     "[\"&\",\"|\",[\"a\",\"=\",1],[\"b\",\"=\",2],\"!\",[\"c\",\"=\",3]]"},
    {"[('a', '=', 1), '|', ('b', '=', 2), ('c', '=', 3)]",
     "[[\"a\",\"=\",1],\"|\",[\"b\",\"=\",2],[\"c\",\"=\",3]]"},
    {"[('name', 'ilike', 'caf\\u00e9')]", "[[\"name\",\"ilike\",\"café\"]]"},
    {"[('name', 'ilike', 'café')]", "[[\"name\",\"ilike\",\"café\"]]"},
    {"[('name', '=', '日本語')]", "[[\"name\",\"=\",\"日本語\"]]"},
    {"[('name', '=', '\\U0001F600')]", "[[\"name\",\"=\",\"\xF0\x9F\x98\x80\"]]"},
    {"[('name', '=', u'x')]", "[[\"name\",\"=\",\"x\"]]"},
    {"[('name', '=', r'a\\d')]", "[[\"name\",\"=\",\"a\\\\d\"]]"},
    {"[('name', '=', 'it\\'s')]", "[[\"name\",\"=\",\"it's\"]]"},
    {"[('name', '=', \"it's\")]", "[[\"name\",\"=\",\"it's\"]]"},
    {"[('name', '=', 'a\\tb\\nc\\\\')]", "[[\"name\",\"=\",\"a\\tb\\nc\\\\\"]]"},
    {"[('name', '=', '\\x41\\101')]", "[[\"name\",\"=\",\"AA\"]]"},
    {"[('name', '=', 'ab' 'cd')]", "[[\"name\",\"=\",\"abcd\"]]"},
    {"[('name', '=like', 'SO%')]", "[[\"name\",\"=like\",\"SO%\"]]"},
    {"[('name', 'not ilike', 'test')]", "[[\"name\",\"not ilike\",\"test\"]]"},
    {"[('partner_id', 'child_of', 7)]", "[[\"partner_id\",\"child_of\",7]]"},
    {"[('order_line', 'any', [('product_id', '=', 3)])]",
     "[[\"order_line\",\"any\",[[\"product_id\",\"=\",3]]]]"},
    {"[(1, '=', 1)]", "[[1,\"=\",1]]"},
    {"[('line_ids', 'not any!', [('x', '=', 1)])]",
     "[[\"line_ids\",\"not any!\",[[\"x\",\"=\",1]]]]"},
    {"[\n  # a comment\n  ('a', '=', 1),\n]", "[[\"a\",\"=\",1]]"},
    {"[('partner_id.country_id.code', '=', 'BE')]",
     "[[\"partner_id.country_id.code\",\"=\",\"BE\"]]"},
};

struct bad_case {
    const char *text;
    const char *msg; /* must appear in the error */
};

static const struct bad_case bad_cases[] = {
    {"", "offset 0: expected '['"},
    {"('a', '=', 1)", "offset 0: expected a list of terms"},
    {"{'a': 1}", "offset 0: expected '['"},
    {"[('state', '=', 'draft') ('x', '=', 1)]", "offset 25: expected ',' or ']'"},
    {"[('state', '=' 'draft')]", "expected a term"}, /* adjacent strings: 2 items */
    {"[('state', '=', 'draft')", "offset 24: expected ']' to close the list at offset 0"},
    {"[('state', '=', 'draft']", "offset 23: expected ',' or ')'"},
    {"[('state', '=', 'draft)]", "offset 16: unterminated string"},
    {"[('state', '=', draft)]", "offset 16: expected a literal value, got the name 'draft'"},
    {"[('date', '<', context_today())]", "offset 15: expected a literal value"},
    {"[('a', '=', 1)] x", "offset 16: unexpected text after the domain"},
    {"[('a', '==', 1)]", "offset 1: unknown operator '=='"},
    {"[('a', '=')]", "offset 1: expected a term (field, operator, value) of 3 items"},
    {"[('a', '=', 1, 2)]", "offset 1: expected a term"},
    {"[(3, '=', 1)]", "offset 1: the field of a term must be a string"},
    {"[('', '=', 1)]", "the field of a term must be a non-empty string"},
    {"[('a', 7, 1)]", "the operator of a term must be a string"},
    {"['|', ('a', '=', 1)]", "offset 1: operator '|' lacks an operand"},
    {"['&']", "offset 1: operator '&' lacks an operand"},
    {"[('a', '=', 1), '!']", "offset 16: operator '!' lacks an operand"},
    {"['^', ('a', '=', 1)]", "offset 1: expected a term or one of '&', '|', '!', got '^'"},
    {"[1, ('a', '=', 1)]", "offset 1: expected a term (field, operator, value) or one of"},
    {"[('a', '=', 'x\\u12')]", "offset 14: truncated \\u escape"},
    {"[('a', '=', '\\x00')]", "NUL character"},
    {"[('a', '=', '\\ud800')]", "not a valid Unicode character"},
    {"[('a', '=', '\xff')]", "offset 13: invalid UTF-8"},
    {"[('a', '=', '\xc3')]", "invalid UTF-8"},
    {"[('a', '=', 99999999999999999999)]", "integer out of range"},
    {"[('a', '=', 12abc)]", "invalid character in a number"},
    {"[('a', '=', b'x')]", "bytes literals are not supported"},
    {"[('a', '=', '''x''')]", "triple-quoted strings are not supported"},
    {"[('a', 'any', 3)]", "the value of 'any' must be a domain"},
    {"[('a', 'any', [('b', '?', 1)])]", "in the value of 'any': term 0: unknown operator '?'"},
    {"[('a', '=', 1),, ]", "offset 15: expected a value, got ','"},
    {"[('a', '=', @)]", "offset 12: expected a value, got '@'"},
};

static void test_ok(struct check_count *cc)
{
    for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        struct err e = ERR_INIT;
        cJSON *d = NULL;
        char *s = NULL;
        int rc = domain_parse(ok_cases[i].text, &d, &e);

        CHECK_MSG(cc, rc == 0, "case %zu %s: %s", i, ok_cases[i].text, e.msg);
        if (rc == 0) {
            s = cJSON_PrintUnformatted(d);
            CHECK_STR(cc, s, ok_cases[i].json);
            CHECK_INT(cc, domain_validate(d, &e), 0);
        }
        free(s);
        cJSON_Delete(d);
    }
}

static void test_bad(struct check_count *cc)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct err e = ERR_INIT;
        cJSON *d = NULL;
        int rc = domain_parse(bad_cases[i].text, &d, &e);

        CHECK_MSG(cc, rc == ERR_INVALID, "case %zu %s: rc %d", i, bad_cases[i].text, rc);
        CHECK(cc, d == NULL);
        CHECK_MSG(cc, strstr(e.msg, bad_cases[i].msg) != NULL,
                  "case %zu %s: got \"%s\", want \"%s\"", i, bad_cases[i].text, e.msg,
                  bad_cases[i].msg);
        CHECK_MSG(cc, strncmp(e.msg, "domain: ", 8) == 0, "message %s", e.msg);
        cJSON_Delete(d);
    }
}

static void test_deep(struct check_count *cc)
{
    char text[1000];
    size_t n = 0;
    struct err e = ERR_INIT;
    cJSON *d = NULL;

    n += (size_t)snprintf(text + n, sizeof(text) - n, "[('a', 'in', ");
    for (int i = 0; i < 200; i++)
        text[n++] = '[';
    for (int i = 0; i < 200; i++)
        text[n++] = ']';
    n += (size_t)snprintf(text + n, sizeof(text) - n, ")]");
    CHECK_INT(cc, domain_parse(text, &d, &e), ERR_INVALID);
    CHECK(cc, strstr(e.msg, "nested too deeply") != NULL);
    cJSON_Delete(d);
}

static char *parse_print(const char *text, cJSON **keep)
{
    struct err e = ERR_INIT;
    cJSON *d = NULL;

    if (domain_parse(text, &d, &e) < 0)
        return NULL;
    *keep = d;
    return cJSON_PrintUnformatted(d);
}

static void check_and(struct check_count *cc, const char *a, const char *b, const char *want)
{
    cJSON *da = NULL, *db = NULL, *r = NULL;
    char *sa = parse_print(a, &da), *sb = parse_print(b, &db), *sr = NULL;

    CHECK(cc, sa && sb);
    r = domain_and(da, db);
    CHECK(cc, r != NULL);
    if (r) {
        struct err e = ERR_INIT;
        sr = cJSON_PrintUnformatted(r);
        CHECK_STR(cc, sr, want);
        CHECK_MSG(cc, domain_validate(r, &e) == 0, "%s", e.msg);
    }
    free(sa);
    free(sb);
    free(sr);
    cJSON_Delete(da);
    cJSON_Delete(db);
    cJSON_Delete(r);
}

static void test_and(struct check_count *cc)
{
    cJSON *bad = NULL, *norm = NULL, *dn = NULL;
    char *s = NULL;

    check_and(cc, "[]", "[]", "[]");
    check_and(cc, "[]", "[('a','=',1)]", "[[\"a\",\"=\",1]]");
    check_and(cc, "[('a','=',1)]", "[]", "[[\"a\",\"=\",1]]");
    check_and(cc, "[('a','=',1)]", "[('b','=',2)]", "[\"&\",[\"a\",\"=\",1],[\"b\",\"=\",2]]");
    /* implicit ands are made explicit on each side before joining */
    check_and(cc, "[('a','=',1),('b','=',2)]", "[('c','=',3)]",
              "[\"&\",\"&\",[\"a\",\"=\",1],[\"b\",\"=\",2],[\"c\",\"=\",3]]");
    check_and(cc, "['|',('a','=',1),('b','=',2)]", "[('c','=',3),('d','=',4)]",
              "[\"&\",\"|\",[\"a\",\"=\",1],[\"b\",\"=\",2],\"&\",[\"c\",\"=\",3],[\"d\",\"=\","
              "4]]");
    check_and(cc, "[('a','=',1),'|',('b','=',2),('c','=',3)]", "['!',('d','=',4)]",
              "[\"&\",\"&\",[\"a\",\"=\",1],\"|\",[\"b\",\"=\",2],[\"c\",\"=\",3],\"!\",[\"d\","
              "\"=\",4]]");

    /* normalize: three terms side by side */
    s = parse_print("[('a','=',1),('b','=',2),('c','=',3)]", &dn);
    free(s);
    norm = domain_normalize(dn);
    s = cJSON_PrintUnformatted(norm);
    CHECK_STR(cc, s, "[\"&\",\"&\",[\"a\",\"=\",1],[\"b\",\"=\",2],[\"c\",\"=\",3]]");
    free(s);
    cJSON_Delete(norm);
    cJSON_Delete(dn);

    /* malformed input: NULL, not a crash */
    bad = cJSON_Parse("[\"|\"]");
    CHECK(cc, domain_and(bad, bad) == NULL);
    CHECK(cc, domain_normalize(bad) == NULL);
    cJSON_Delete(bad);
}

static void test_validate_json(struct check_count *cc)
{
    struct err e = ERR_INIT;
    cJSON *j = cJSON_Parse("[[\"a\",\"=\",1],\"x\"]");

    CHECK_INT(cc, domain_validate(j, &e), ERR_INVALID);
    CHECK_MSG(cc, strstr(e.msg, "domain: term 1:") != NULL, "%s", e.msg);
    cJSON_Delete(j);
    j = cJSON_Parse("{}");
    CHECK_INT(cc, domain_validate(j, &e), ERR_INVALID);
    cJSON_Delete(j);
    CHECK(cc, domain_is_operator("not in"));
    CHECK(cc, domain_is_operator("=?"));
    CHECK(cc, !domain_is_operator("between"));
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_ok(&cc);
    test_bad(&cc);
    test_deep(&cc);
    test_and(&cc);
    test_validate_json(&cc);
    return check_done(&cc);
}
