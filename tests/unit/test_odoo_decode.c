/*
 * test_odoo_decode: the Odoo answer decoder on canned bodies, as real Odoo sends them
 * (JSON-RPC envelopes and JSON-2 error objects): results, each kind of error with its
 * code and message, session expiry, garbage, truncation, deep nesting and a huge body.
 * Also the pure helpers of the handle (protocol names, option checks).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "odoo.h"

#include "banned.h"

static struct check_count cc = CHECK_INIT;

static int dec(enum odoo_protocol p, long status, const char *body, cJSON **res, int *expired,
               struct err *e)
{
    err_clear(e);
    return odoo_decode_response(p, status, body, body ? strlen(body) : 0, res, expired, e);
}

static void test_jsonrpc_results(void)
{
    struct err e = ERR_INIT;
    cJSON *res = NULL;
    int rc;

    rc = dec(ODOO_PROTO_JSONRPC, 200, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[1,2,3]}", &res,
             NULL, &e);
    CHECK_INT(&cc, rc, 0);
    CHECK(&cc, cJSON_IsArray(res) && cJSON_GetArraySize(res) == 3);
    cJSON_Delete(res);

    rc = dec(ODOO_PROTO_JSONRPC, 200, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":false}", &res, NULL,
             &e);
    CHECK_INT(&cc, rc, 0);
    CHECK(&cc, cJSON_IsFalse(res));
    cJSON_Delete(res);

    /* a method returning None */
    rc = dec(ODOO_PROTO_JSONRPC, 200, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}", &res, NULL,
             &e);
    CHECK_INT(&cc, rc, 0);
    CHECK(&cc, cJSON_IsNull(res));
    cJSON_Delete(res);

    /* a method returning None: real Odoo (odoo/http.py JsonRPCDispatcher._response)
     * leaves "result" out of the envelope altogether */
    res = (cJSON *)1;
    rc = dec(ODOO_PROTO_JSONRPC, 200, "{\"jsonrpc\": \"2.0\", \"id\": 1}", &res, NULL, &e);
    CHECK_INT(&cc, rc, 0);
    CHECK(&cc, res != NULL && res != (cJSON *)1 && cJSON_IsNull(res));
    if (res != (cJSON *)1)
        cJSON_Delete(res);
    res = NULL;

    /* "error": null next to a result is not an error */
    rc = dec(ODOO_PROTO_JSONRPC, 200, "{\"error\":null,\"result\":{\"server_version\":\"17.0\"}}",
             &res, NULL, &e);
    CHECK_INT(&cc, rc, 0);
    CHECK(&cc, cJSON_IsObject(res));
    cJSON_Delete(res);

    /* result not wanted */
    rc = dec(ODOO_PROTO_JSONRPC, 200, "{\"result\":7}", NULL, NULL, &e);
    CHECK_INT(&cc, rc, 0);
}

static const char *access_error_rpc =
    "{\"jsonrpc\": \"2.0\", \"id\": 3, \"error\": {\"code\": 200, \"message\": \"Odoo Server "
    "Error\", \"data\": {\"name\": \"odoo.exceptions.AccessError\", \"debug\": \"Traceback (most "
    "recent call last):\\n  File \\\"/odoo/http.py\\\", line 1\\nodoo.exceptions.AccessError: "
    "...\", \"message\": \"You are not allowed to access 'Contact' (res.partner) records.\\n\\n"
    "This operation is allowed for the following groups:\\n\\t- Role / User\", \"arguments\": "
    "[\"You are not allowed\"], \"context\": {}}}}";

static void test_jsonrpc_errors(void)
{
    struct err e = ERR_INIT;
    cJSON *res = (cJSON *)1;
    int expired = -1;
    int rc;

    rc = dec(ODOO_PROTO_JSONRPC, 200, access_error_rpc, &res, &expired, &e);
    CHECK_INT(&cc, rc, ERR_ACCESS);
    CHECK(&cc, res == NULL);
    CHECK_INT(&cc, expired, 0);
    CHECK_STR(&cc, e.msg,
              "odoo.exceptions.AccessError: You are not allowed to access 'Contact' "
              "(res.partner) records.");
    CHECK(&cc, strstr(e.msg, "Traceback") == NULL);

    rc = dec(ODOO_PROTO_JSONRPC, 200,
             "{\"error\":{\"code\":200,\"message\":\"Odoo Server Error\",\"data\":{\"name\":"
             "\"odoo.exceptions.AccessDenied\",\"message\":\"Access Denied\"}}}",
             &res, NULL, &e);
    CHECK_INT(&cc, rc, ERR_AUTH);
    CHECK_STR(&cc, e.msg, "odoo.exceptions.AccessDenied: Access Denied");

    rc = dec(ODOO_PROTO_JSONRPC, 200,
             "{\"error\":{\"code\":200,\"data\":{\"name\":\"odoo.exceptions.MissingError\","
             "\"message\":\"Record does not exist or has been deleted.\\n(Record: res.partner(9,),"
             " User: 2)\"}}}",
             &res, NULL, &e);
    CHECK_INT(&cc, rc, ERR_NOTFOUND);
    CHECK_STR(&cc, e.msg,
              "odoo.exceptions.MissingError: Record does not exist or has been deleted.");

    rc = dec(ODOO_PROTO_JSONRPC, 200,
             "{\"error\":{\"code\":200,\"data\":{\"name\":\"odoo.exceptions.ValidationError\","
             "\"message\":\"bad\"}}}",
             &res, NULL, &e);
    CHECK_INT(&cc, rc, ERR_INVALID);
    rc = dec(ODOO_PROTO_JSONRPC, 200,
             "{\"error\":{\"code\":200,\"data\":{\"name\":\"odoo.exceptions.UserError\","
             "\"message\":\"no\"}}}",
             &res, NULL, &e);
    CHECK_INT(&cc, rc, ERR_INVALID);
    rc = dec(ODOO_PROTO_JSONRPC, 200,
             "{\"error\":{\"code\":200,\"data\":{\"name\":\"builtins.ValueError\","
             "\"message\":\"Invalid field 'nope' on model 'res.partner'\"}}}",
             &res, NULL, &e);
    CHECK_INT(&cc, rc, ERR_INVALID);
    CHECK_STR(&cc, e.msg, "builtins.ValueError: Invalid field 'nope' on model 'res.partner'");

    /* an exception we do not know: a server error carrying its name */
    rc = dec(ODOO_PROTO_JSONRPC, 200,
             "{\"error\":{\"code\":200,\"message\":\"Odoo Server Error\",\"data\":{\"name\":"
             "\"builtins.KeyError\",\"message\":\"'x_foo'\"}}}",
             &res, NULL, &e);
    CHECK_INT(&cc, rc, ERR_SERVER);
    CHECK_STR(&cc, e.msg, "builtins.KeyError: 'x_foo'");

    /* serialization failure: retryable */
    rc = dec(ODOO_PROTO_JSONRPC, 200,
             "{\"error\":{\"code\":200,\"data\":{\"name\":\"psycopg2.errors.SerializationFailure\","
             "\"message\":\"could not serialize access due to concurrent update\"}}}",
             &res, NULL, &e);
    CHECK_INT(&cc, rc, ERR_RETRY);

    /* session expired: code 100 */
    rc = dec(ODOO_PROTO_JSONRPC, 200,
             "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":100,\"message\":\"Odoo Session "
             "Expired\",\"data\":{\"name\":\"odoo.http.SessionExpiredException\",\"message\":"
             "\"Session expired\"}}}",
             &res, &expired, &e);
    CHECK_INT(&cc, rc, ERR_AUTH);
    CHECK_INT(&cc, expired, 1);
    CHECK(&cc, strstr(e.msg, "session expired") != NULL);

    /* error without data: the outer message */
    rc = dec(ODOO_PROTO_JSONRPC, 200,
             "{\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}", &res, &expired, &e);
    CHECK_INT(&cc, rc, ERR_SERVER);
    CHECK_INT(&cc, expired, 0);
    CHECK(&cc, strstr(e.msg, "Method not found") != NULL);

    /* error that is not an object */
    rc = dec(ODOO_PROTO_JSONRPC, 200, "{\"error\":\"boom\"}", &res, NULL, &e);
    CHECK_INT(&cc, rc, ERR_SERVER);
}

static void test_jsonrpc_http(void)
{
    struct err e = ERR_INIT;
    cJSON *res = NULL;

    CHECK_INT(&cc, dec(ODOO_PROTO_JSONRPC, 502, "<html>Bad Gateway</html>", &res, NULL, &e),
              ERR_RETRY);
    CHECK(&cc, strstr(e.msg, "502") != NULL);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSONRPC, 503, "", &res, NULL, &e), ERR_RETRY);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSONRPC, 500, "Internal Server Error", &res, NULL, &e),
              ERR_RETRY);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSONRPC, 404, "<html>Not Found</html>", &res, NULL, &e),
              ERR_NOTFOUND);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSONRPC, 401, NULL, &res, NULL, &e), ERR_AUTH);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSONRPC, 403, "x", &res, NULL, &e), ERR_ACCESS);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSONRPC, 429, "slow down", &res, NULL, &e), ERR_RETRY);
    /* a JSON-RPC body on a non-200 still carries the error */
    CHECK_INT(&cc,
              dec(ODOO_PROTO_JSONRPC, 500,
                  "{\"error\":{\"code\":200,\"data\":{\"name\":\"odoo.exceptions.AccessError\","
                  "\"message\":\"no\"}}}",
                  &res, NULL, &e),
              ERR_ACCESS);
    /* a result on a non-200 is not trusted */
    CHECK_INT(&cc, dec(ODOO_PROTO_JSONRPC, 502, "{\"result\":1}", &res, NULL, &e), ERR_RETRY);
    CHECK(&cc, res == NULL);
}

static void test_garbage(void)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "<html><body>Odoo is down</body></html>",
        "{",
        "[1,2,3]",
        "\"str\"",
        "{\"id\":1}",
        "{\"jsonrpc\":\"1.0\",\"id\":1}",
        "{\"result\":",
        "nul",
        "{\"result\":[1,2,}",
    };
    struct err e = ERR_INIT;
    cJSON *res = NULL;
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        int rc = dec(ODOO_PROTO_JSONRPC, 200, bodies[i], &res, NULL, &e);
        CHECK_MSG(&cc, rc == ERR_PROTO, "body \"%s\": rc %d", bodies[i], rc);
        CHECK(&cc, res == NULL);
        CHECK(&cc, e.msg[0] != '\0');
    }
    /* binary bytes and an embedded NUL */
    {
        const char bin[] = {'{', '"', 'r', 0, '\xff', '\xfe', '}'};
        err_clear(&e);
        CHECK_INT(&cc,
                  odoo_decode_response(ODOO_PROTO_JSONRPC, 200, bin, sizeof(bin), &res, NULL, &e),
                  ERR_PROTO);
        CHECK_INT(&cc,
                  odoo_decode_response(ODOO_PROTO_JSON2, 200, bin, sizeof(bin), &res, NULL, &e),
                  ERR_PROTO);
    }
    /* JSON-2 success must be JSON */
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 200, "", &res, NULL, &e), ERR_PROTO);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 200, "<html>", &res, NULL, &e), ERR_PROTO);
    /* a length shorter than the string: only that prefix is parsed */
    err_clear(&e);
    CHECK_INT(&cc,
              odoo_decode_response(ODOO_PROTO_JSONRPC, 200, "{\"result\":1}", 5, &res, NULL, &e),
              ERR_PROTO);
}

static void test_json2(void)
{
    struct err e = ERR_INIT;
    cJSON *res = NULL;
    int expired = 0;

    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 200, "[{\"id\":1,\"name\":\"A\"}]", &res, NULL, &e), 0);
    CHECK(&cc, cJSON_IsArray(res));
    cJSON_Delete(res);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 200, "true", &res, NULL, &e), 0);
    CHECK(&cc, cJSON_IsTrue(res));
    cJSON_Delete(res);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 200, "42", &res, NULL, &e), 0);
    CHECK(&cc, cJSON_IsNumber(res) && res->valueint == 42);
    cJSON_Delete(res);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 200, "null", &res, NULL, &e), 0);
    CHECK(&cc, cJSON_IsNull(res));
    cJSON_Delete(res);
    /* a JSON-2 answer that happens to have an "error" key is still a result */
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 200, "{\"error\":1}", &res, NULL, &e), 0);
    cJSON_Delete(res);
    res = NULL;

    CHECK_INT(&cc,
              dec(ODOO_PROTO_JSON2, 403,
                  "{\"name\": \"odoo.exceptions.AccessError\", \"message\": \"You are not "
                  "allowed to modify 'Contact' (res.partner) records.\\nmore\", \"arguments\": "
                  "[], \"context\": {}, \"debug\": \"Traceback...\"}",
                  &res, &expired, &e),
              ERR_ACCESS);
    CHECK_STR(&cc, e.msg,
              "odoo.exceptions.AccessError: You are not allowed to modify 'Contact' "
              "(res.partner) records.");
    CHECK(&cc, res == NULL);
    CHECK_INT(&cc,
              dec(ODOO_PROTO_JSON2, 401,
                  "{\"name\":\"werkzeug.exceptions.Unauthorized\",\"message\":\"Invalid apikey\"}",
                  &res, &expired, &e),
              ERR_AUTH);
    CHECK_STR(&cc, e.msg, "werkzeug.exceptions.Unauthorized: Invalid apikey");
    CHECK_INT(&cc, expired, 0);
    CHECK_INT(&cc,
              dec(ODOO_PROTO_JSON2, 404,
                  "{\"name\":\"odoo.exceptions.MissingError\",\"message\":\"gone\"}", &res, NULL,
                  &e),
              ERR_NOTFOUND);
    CHECK_INT(&cc,
              dec(ODOO_PROTO_JSON2, 422,
                  "{\"name\":\"odoo.exceptions.ValidationError\",\"message\":\"bad\"}", &res, NULL,
                  &e),
              ERR_INVALID);
    CHECK_INT(&cc,
              dec(ODOO_PROTO_JSON2, 422,
                  "{\"name\":\"odoo.exceptions.UserError\",\"message\":\"u\"}", &res, NULL, &e),
              ERR_INVALID);
    /* an unknown name: the status decides */
    CHECK_INT(
        &cc,
        dec(ODOO_PROTO_JSON2, 422, "{\"name\":\"some.Thing\",\"message\":\"m\"}", &res, NULL, &e),
        ERR_INVALID);
    CHECK_INT(&cc,
              dec(ODOO_PROTO_JSON2, 500, "{\"name\":\"builtins.KeyError\",\"message\":\"'x'\"}",
                  &res, NULL, &e),
              ERR_SERVER);
    CHECK_STR(&cc, e.msg, "builtins.KeyError: 'x'");
    /* no usable body: the status alone */
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 500, "oops", &res, NULL, &e), ERR_RETRY);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 503, "{\"x\":1}", &res, NULL, &e), ERR_RETRY);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 404, "<html>", &res, NULL, &e), ERR_NOTFOUND);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 401, "", &res, NULL, &e), ERR_AUTH);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 418, "", &res, NULL, &e), ERR_PROTO);
    CHECK_INT(&cc, dec(ODOO_PROTO_JSON2, 400, "[]", &res, NULL, &e), ERR_INVALID);
}

static void test_message_limits(void)
{
    struct err e = ERR_INIT;
    struct buf b;
    cJSON *res = NULL;
    size_t i;
    int rc;

    /* a 1 MB message in one line: cut, no overflow */
    buf_init(&b, (size_t)4 << 20);
    buf_puts(&b, "{\"error\":{\"code\":200,\"data\":{\"name\":\"odoo.exceptions.UserError\","
                 "\"message\":\"");
    for (i = 0; i < 100000; i++)
        buf_puts(&b, "0123456789");
    buf_puts(&b, "\"}}}");
    err_clear(&e);
    rc = odoo_decode_response(ODOO_PROTO_JSONRPC, 200, b.data, b.len, &res, NULL, &e);
    CHECK_INT(&cc, rc, ERR_INVALID);
    CHECK(&cc, strlen(e.msg) < ERR_MSG_MAX);
    CHECK(&cc, strncmp(e.msg, "odoo.exceptions.UserError: 0123456789", 37) == 0);
    buf_release(&b);

    /* a huge result (2 MB array of 200,000 numbers) decodes */
    buf_init(&b, (size_t)8 << 20);
    buf_puts(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":[");
    for (i = 0; i < 200000; i++)
        buf_printf(&b, "%s%zu", i ? "," : "", i + 1);
    buf_puts(&b, "]}");
    rc = odoo_decode_response(ODOO_PROTO_JSONRPC, 200, b.data, b.len, &res, NULL, &e);
    CHECK_INT(&cc, rc, 0);
    CHECK_INT(&cc, cJSON_GetArraySize(res), 200000);
    cJSON_Delete(res);
    res = NULL;
    buf_release(&b);

    /* nesting deeper than cJSON allows is refused, not a crash */
    buf_init(&b, (size_t)1 << 20);
    buf_puts(&b, "{\"result\":");
    for (i = 0; i < 5000; i++)
        buf_puts(&b, "[");
    for (i = 0; i < 5000; i++)
        buf_puts(&b, "]");
    buf_puts(&b, "}");
    rc = odoo_decode_response(ODOO_PROTO_JSONRPC, 200, b.data, b.len, &res, NULL, &e);
    CHECK_INT(&cc, rc, ERR_PROTO);
    CHECK(&cc, res == NULL);
    buf_release(&b);
}

static void test_names_and_opts(void)
{
    struct err e = ERR_INIT;
    struct odoo_opts opts;
    struct odoo *o;

    CHECK_INT(&cc, odoo_error_code("odoo.exceptions.AccessError"), ERR_ACCESS);
    CHECK_INT(&cc, odoo_error_code("AccessDenied"), ERR_AUTH);
    CHECK_INT(&cc, odoo_error_code("odoo.exceptions.MissingError"), ERR_NOTFOUND);
    CHECK_INT(&cc, odoo_error_code("odoo.exceptions.ValidationError"), ERR_INVALID);
    CHECK_INT(&cc, odoo_error_code("odoo.http.SessionExpiredException"), ERR_AUTH);
    CHECK_INT(&cc, odoo_error_code("builtins.ZeroDivisionError"), ERR_SERVER);
    CHECK_INT(&cc, odoo_error_code(""), ERR_SERVER);
    CHECK_INT(&cc, odoo_error_code(NULL), ERR_SERVER);
    /* "AccessErrorX" is not AccessError */
    CHECK_INT(&cc, odoo_error_code("odoo.exceptions.AccessErrorX"), ERR_SERVER);

    CHECK_STR(&cc, odoo_protocol_name(ODOO_PROTO_JSON2), "json2");
    CHECK_STR(&cc, odoo_protocol_name(ODOO_PROTO_JSONRPC), "jsonrpc");
    CHECK_STR(&cc, odoo_protocol_name(ODOO_PROTO_AUTO), "auto");
    CHECK_INT(&cc, odoo_protocol_parse("json-2"), ODOO_PROTO_JSON2);
    CHECK_INT(&cc, odoo_protocol_parse("jsonrpc"), ODOO_PROTO_JSONRPC);
    CHECK_INT(&cc, odoo_protocol_parse("auto"), ODOO_PROTO_AUTO);
    CHECK_INT(&cc, odoo_protocol_parse("xmlrpc"), -1);

    memset(&opts, 0, sizeof(opts));
    CHECK(&cc, odoo_new(&opts, &e) == NULL);
    CHECK_INT(&cc, e.code, ERR_INVALID);
    opts.url = "ftp://x";
    opts.password = "p";
    CHECK(&cc, odoo_new(&opts, &e) == NULL);
    CHECK_INT(&cc, e.code, ERR_INVALID);
    opts.url = "https://user:secret@odoo.example.com";
    CHECK(&cc, odoo_new(&opts, &e) == NULL);
    CHECK_INT(&cc, e.code, ERR_INVALID);
    CHECK(&cc, strstr(e.msg, "secret") == NULL);
    opts.url = "http://127.0.0.1:9/";
    opts.password = NULL;
    CHECK(&cc, odoo_new(&opts, &e) == NULL); /* no secret at all */
    opts.protocol = ODOO_PROTO_JSON2;
    opts.password = "secret-password";
    CHECK(&cc, odoo_new(&opts, &e) == NULL); /* JSON-2 without a key */
    CHECK_INT(&cc, e.code, ERR_INVALID);
    opts.protocol = ODOO_PROTO_AUTO;
    o = odoo_new(&opts, &e);
    CHECK(&cc, o != NULL);
    CHECK_INT(&cc, odoo_version_major(o), 0);
    CHECK_STR(&cc, odoo_server_version(o), "");
    CHECK_INT(&cc, odoo_protocol_used(o), ODOO_PROTO_AUTO);
    odoo_free(o);
    odoo_free(NULL);
}

int main(void)
{
    test_jsonrpc_results();
    test_jsonrpc_errors();
    test_jsonrpc_http();
    test_garbage();
    test_json2();
    test_message_limits();
    test_names_and_opts();
    return check_done(&cc);
}
