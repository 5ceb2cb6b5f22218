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
    case ERR_RETRY:
    case ERR_AUTH:
    case ERR_ACCESS:
        return EXIT_CONNECT;
    case ERR_INVALID:
        return EXIT_USAGE;
    case ERR_NOMEM:
    case ERR_INTERNAL:
        return EXIT_INTERNAL;
    default:
        return EXIT_FAILED;
    }
}
