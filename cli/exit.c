/*
 * exit: maps library error codes to the documented exit codes.
 */
#include "cli.h"
#include "err.h"

int cli_exit_for(int err_code)
{
    switch (err_code) {
    case ERR_OK:
        return EXIT_OK;
    case ERR_RETRY:    /* unreachable, no answer in time, 5xx */
    case ERR_AUTH:     /* credentials refused */
    case ERR_ACCESS:   /* authenticated, not allowed */
    case ERR_PROTO:    /* not the server the configuration names (not WebDAV, not Odoo, TLS) */
    case ERR_SERVER:   /* the server failed */
    case ERR_NOTFOUND: /* the base URL, the database: not there */
        return EXIT_CONNECT;
    case ERR_STOPPED:
        return EXIT_STOPPED;
    case ERR_INVALID:
        return EXIT_USAGE;
    case ERR_NOMEM:
    case ERR_INTERNAL:
        return EXIT_INTERNAL;
    default:
        return EXIT_FAILED;
    }
}
