/*
 * cli: the odoosync command line. main() parses the subcommand and calls
 * its run function; each run function parses its own options, does its
 * work through the libraries and returns one of the exit codes below.
 * Only code under cli/ may print for the user or choose an exit code.
 */
#ifndef ODOOSYNC_CLI_H
#define ODOOSYNC_CLI_H

#include <signal.h>

/* Exit codes, documented in --help and the README. */
enum cli_exit {
    EXIT_OK = 0,       /* everything asked for was done */
    EXIT_FAILED = 1,   /* ran, but some jobs failed or a check did not pass */
    EXIT_USAGE = 2,    /* bad command line or configuration */
    EXIT_CONNECT = 3,  /* a server could not be reached or refused our credentials */
    EXIT_SAFETY = 4,   /* refused to act: deletion safety or an incomplete scan */
    EXIT_INTERNAL = 5, /* a bug or an out-of-memory */
    /* stopped by SIGINT/SIGTERM before it was done: main() exits 128 + the signal's
     * number (130, 143), the shell's convention */
    EXIT_STOPPED = 128
};

/* The exit code for a failure of this ERR_* code (err.h). */
int cli_exit_for(int err_code);

struct cli_cmd {
    const char *name;
    const char *summary;
    /* stop: set (to the signal's number) by main's SIGINT/SIGTERM handler when the
     * command catches them (catch_stop), else always 0 */
    int (*run)(int argc, char **argv, const volatile sig_atomic_t *stop);
    int catch_stop;
};

#endif
