/*
 * err: see err.h. Formatting only; no allocation, no global state.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return code;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return code;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
    char head[ERR_MSG_MAX];
    char old[ERR_MSG_MAX];
    va_list ap;

    if (!e)
        return ERR_INTERNAL;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof(old));
    snprintf(e->msg, sizeof(e->msg), "%s: %s", head, old);
    return e->code;
}

void err_clear(struct err *e)
{
    if (!e)
        return;
    e->code = 0;
    e->msg[0] = '\0';
}

const char *err_name(int code)
{
    switch (code) {
    case ERR_OK:
        return "ok";
    case ERR_RETRY:
        return "retry";
    case ERR_CONFLICT:
        return "conflict";
    case ERR_NOTFOUND:
        return "not-found";
    case ERR_AUTH:
        return "auth";
    case ERR_ACCESS:
        return "access";
    case ERR_INVALID:
        return "invalid";
    case ERR_PROTO:
        return "protocol";
    case ERR_EXISTS:
        return "exists";
    case ERR_NOMEM:
        return "no-memory";
    case ERR_IO:
        return "io";
    case ERR_TOO_BIG:
        return "too-big";
    case ERR_SERVER:
        return "server";
    case ERR_STOPPED:
        return "stopped";
    case ERR_LOST:
        return "lost";
    default:
        return "internal";
    }
}

int err_retryable(int code)
{
    return code == ERR_RETRY || code == ERR_NOMEM;
}
