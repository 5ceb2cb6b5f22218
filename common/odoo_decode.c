/*
 * odoo_decode: turns an Odoo answer body into a result or an ERR_* code (see odoo.h).
 *
 * Pure functions, no network and no handle, so the unit tests and the fuzzer call them
 * on canned bodies. Two shapes:
 *   JSON-RPC  HTTP 200 with {"jsonrpc":"2.0","id":..,"result":X} (no "result" when
 *             the method returned None: X is then JSON null) or
 *             {"error":{"code":200,"message":"Odoo Server Error",
 *                       "data":{"name":"odoo.exceptions.AccessError","message":"...",
 *                               "debug":"Traceback ..."}}}
 *             (code 100 = session expired). A non-200 without such a body is judged by
 *             its HTTP status alone.
 *   JSON-2    HTTP 2xx with the result as the whole body, or an error status with
 *             {"name":"odoo.exceptions.AccessError","message":"...","debug":"..."}.
 * The exception name decides the code when we know it; otherwise the HTTP status does.
 * Messages keep the exception name and the first line of Odoo's message, never the
 * traceback, cut to the size of struct err.
 */
#include "odoo.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

/* Longest message line we copy; struct err cuts further. */
#define LINE_MAX_COPY 300

static const struct {
    const char *name; /* last component of the exception's dotted name */
    int code;
} exception_codes[] = {
    {"AccessError", ERR_ACCESS},
    {"AccessDenied", ERR_AUTH},
    {"SessionExpiredException", ERR_AUTH},
    {"MissingError", ERR_NOTFOUND},
    {"ValidationError", ERR_INVALID},
    {"UserError", ERR_INVALID},
    {"RedirectWarning", ERR_INVALID},
    {"Warning", ERR_INVALID}, /* odoo.exceptions.Warning: UserError before 14 */
    {"except_orm", ERR_INVALID},
    {"ValueError", ERR_INVALID},
    {"ConcurrencyError", ERR_RETRY},
    {"SerializationFailure", ERR_RETRY},
    {"TransactionRollbackError", ERR_RETRY},
    {"LockNotAvailable", ERR_RETRY},
    {"Unauthorized", ERR_AUTH},  /* werkzeug, JSON-2 bad key */
    {"Forbidden", ERR_ACCESS},   /* werkzeug */
    {"NotFound", ERR_NOTFOUND},  /* werkzeug: unknown model or method */
    {"BadRequest", ERR_INVALID}, /* werkzeug */
    {"UnprocessableEntity", ERR_INVALID},
};

/* 0 when the name is unknown. */
static int code_of_name(const char *name)
{
    const char *last;
    size_t i;

    if (!name || !*name)
        return 0;
    last = strrchr(name, '.');
    last = last ? last + 1 : name;
    for (i = 0; i < sizeof(exception_codes) / sizeof(exception_codes[0]); i++)
        if (strcmp(last, exception_codes[i].name) == 0)
            return exception_codes[i].code;
    return 0;
}

int odoo_error_code(const char *exception_name)
{
    int code = code_of_name(exception_name);

    return code ? code : ERR_SERVER;
}

/* The code an HTTP status means when the body says nothing better; 0 for 2xx. */
static int code_of_status(long status, int has_reason)
{
    if (status >= 200 && status < 300)
        return 0;
    switch (status) {
    case 400:
    case 422:
        return ERR_INVALID;
    case 401:
        return ERR_AUTH;
    case 403:
        return ERR_ACCESS;
    case 404:
    case 410:
        return ERR_NOTFOUND;
    case 409:
    case 412:
        return ERR_CONFLICT;
    case 413:
        return ERR_TOO_BIG;
    case 408:
    case 425:
    case 429:
    case 502:
    case 503:
    case 504:
        return ERR_RETRY;
    default:
        break;
    }
    if (status >= 500)
        return has_reason ? ERR_SERVER : ERR_RETRY;
    return ERR_PROTO;
}

/* Copies the first line of s (trimmed) into out. */
static void first_line(const char *s, char *out, size_t outsz)
{
    size_t n = 0;

    out[0] = '\0';
    if (!s)
        return;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    while (s[n] && s[n] != '\n' && s[n] != '\r' && n < LINE_MAX_COPY)
        n++;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* A short printable excerpt of a body, for "not JSON" messages. */
static void excerpt(const char *body, size_t len, char *out, size_t outsz)
{
    size_t i, j = 0;

    for (i = 0; i < len && j + 1 < outsz && i < 80; i++) {
        unsigned char c = (unsigned char)body[i];
        out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    out[j] = '\0';
}

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/*
 * Fills e from an Odoo error object: name (exception class), message, and for JSON-RPC
 * the outer code/message. Returns the code.
 */
static int odoo_error(long status, int rpc_code, const char *name, const char *message,
                      const char *outer, int *session_expired, struct err *e)
{
    char line[LINE_MAX_COPY + 1];
    int code;

    first_line(message && *message ? message : outer, line, sizeof(line));
    if (rpc_code == 100 || (name && strstr(name, "SessionExpired"))) {
        if (session_expired)
            *session_expired = 1;
        return err_set(e, ERR_AUTH, "odoo session expired%s%s", line[0] ? ": " : "", line);
    }
    code = code_of_name(name);
    if (!code)
        code = code_of_status(status, 1);
    if (!code || code == ERR_PROTO)
        code = ERR_SERVER;
    if (name && *name)
        return err_set(e, code, "%s: %s", name, line[0] ? line : "(no message)");
    return err_set(e, code, "odoo error%s%s", line[0] ? ": " : "", line);
}

static int decode_jsonrpc(long status, const char *body, size_t len, cJSON **result,
                          int *session_expired, struct err *e)
{
    cJSON *root = NULL;
    cJSON *err_obj, *res;
    char ex[96];
    int rc = 0;

    if (len)
        root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root)) {
        if (status != 200) {
            rc = code_of_status(status, 0);
            rc = err_set(e, rc ? rc : ERR_PROTO,
                         "HTTP %ld without a JSON body: not Odoo (is odoo.url right?)", status);
            goto out;
        }
        excerpt(body, len, ex, sizeof(ex));
        rc = err_set(e, ERR_PROTO, "odoo answer is not a JSON-RPC object: \"%s\"", ex);
        goto out;
    }
    err_obj = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (err_obj && !cJSON_IsNull(err_obj)) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(err_obj, "data");
        const cJSON *code =
            cJSON_IsObject(err_obj) ? cJSON_GetObjectItemCaseSensitive(err_obj, "code") : NULL;
        int rpc_code = cJSON_IsNumber(code) ? code->valueint : 0;

        rc = odoo_error(status == 200 ? 500 : status, rpc_code, str_of(data, "name"),
                        str_of(data, "message"), str_of(err_obj, "message"), session_expired, e);
        goto out;
    }
    if (status != 200) {
        rc = code_of_status(status, 0);
        rc = err_set(e, rc ? rc : ERR_PROTO, "odoo answered HTTP %ld", status);
        goto out;
    }
    res = cJSON_DetachItemFromObjectCaseSensitive(root, "result");
    if (!res) {
        /* Odoo leaves "result" out of a JSON-RPC 2.0 envelope when the method returned
         * None (odoo/http.py): a write or action of a customised model can */
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "jsonrpc");

        if (!cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0") != 0 ||
            !cJSON_HasObjectItem(root, "id")) {
            rc = err_set(e, ERR_PROTO, "odoo JSON-RPC answer has neither result nor error");
            goto out;
        }
        res = cJSON_CreateNull();
        if (!res) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (result)
        *result = res;
    else
        cJSON_Delete(res);
out:
    cJSON_Delete(root);
    return rc;
}

static int decode_json2(long status, const char *body, size_t len, cJSON **result,
                        int *session_expired, struct err *e)
{
    cJSON *root = NULL;
    char ex[96];
    int rc = 0;

    if (len)
        root = cJSON_ParseWithLength(body, len);
    if (status >= 200 && status < 300) {
        if (!root) {
            excerpt(body, len, ex, sizeof(ex));
            rc = err_set(e, ERR_PROTO, "odoo JSON-2 answer is not JSON: \"%s\"", ex);
            goto out;
        }
        if (result) {
            *result = root;
            root = NULL;
        }
        goto out;
    }
    if (cJSON_IsObject(root) && (str_of(root, "name") || str_of(root, "message"))) {
        rc = odoo_error(status, 0, str_of(root, "name"), str_of(root, "message"), NULL,
                        session_expired, e);
        goto out;
    }
    rc = code_of_status(status, 0);
    if (!root)
        rc = err_set(e, rc ? rc : ERR_PROTO,
                     "HTTP %ld without a JSON body: not Odoo (is odoo.url right?)", status);
    else
        rc = err_set(e, rc ? rc : ERR_PROTO, "odoo answered HTTP %ld", status);
out:
    cJSON_Delete(root);
    return rc;
}

int odoo_decode_response(enum odoo_protocol proto, long http_status, const char *body, size_t len,
                         cJSON **result, int *session_expired, struct err *e)
{
    if (result)
        *result = NULL;
    if (session_expired)
        *session_expired = 0;
    if (!body)
        len = 0;
    if (proto == ODOO_PROTO_JSON2)
        return decode_json2(http_status, body, len, result, session_expired, e);
    return decode_jsonrpc(http_status, body, len, result, session_expired, e);
}
