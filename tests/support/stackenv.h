/*
 * stackenv: lets a test find the servers of the test stack. `stack up`
 * writes KEY=VALUE lines to an env file; ctest passes its path in
 * ODOOSYNC_STACK_ENV; stackenv_load() puts each line into the process
 * environment (without overriding what is already set), then a test reads
 * getenv("DAV_URL") and so on.
 */
#ifndef ODOOSYNC_STACKENV_H
#define ODOOSYNC_STACKENV_H

/* 0 on success; -1 with a message on stderr when the file is missing. */
int stackenv_load(void);

/* getenv() that returns "" instead of NULL, for building test URLs. */
const char *stackenv_get(const char *name);

#endif
