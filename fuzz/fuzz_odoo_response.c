/*
 * fuzz_odoo_response: libFuzzer target for the Odoo answer decoder (odoo_decode.c).
 *
 * The first input byte picks the protocol (JSON-RPC or JSON-2) and an HTTP status from a
 * small table; the rest is the body. The decoder must never crash, leak or read past the
 * given length; on success it hands back a tree we free, on failure a non-empty message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "odoo.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 201, 204, 400, 401, 403, 404, 422, 429, 500, 502, 503};
    struct err e = ERR_INIT;
    cJSON *res = NULL;
    int expired = 0;
    enum odoo_protocol proto;
    long status;
    char *body;
    int rc;

    if (size < 1)
        return 0;
    proto = (data[0] & 0x80) ? ODOO_PROTO_JSON2 : ODOO_PROTO_JSONRPC;
    status = statuses[(data[0] & 0x7f) % (sizeof(statuses) / sizeof(statuses[0]))];
    /* an exact-size copy, so ASan sees any read past the length */
    body = malloc(size - 1 ? size - 1 : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    rc = odoo_decode_response(proto, status, body, size - 1, &res, &expired, &e);
    if (rc == 0) {
        if (!res)
            abort();
        cJSON_Delete(res);
    } else {
        if (res || rc > 0 || e.msg[0] == '\0' || e.code != rc)
            abort();
    }
    free(body);
    return 0;
}
