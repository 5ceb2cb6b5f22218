/*
 * stackenv: see stackenv.h.
 */
#include "stackenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int stackenv_load(void)
{
    const char *path = getenv("ODOOSYNC_STACK_ENV");
    char line[4096];
    FILE *f;

    if (!path || !*path) {
        fprintf(stderr, "stackenv: ODOOSYNC_STACK_ENV is not set (run under ctest)\n");
        return -1;
    }
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "stackenv: cannot open \"%s\": is the stack up?\n", path);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');
        size_t n = strlen(line);

        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (!eq || line[0] == '#')
            continue;
        *eq = '\0';
        setenv(line, eq + 1, 0);
    }
    fclose(f);
    return 0;
}

const char *stackenv_get(const char *name)
{
    const char *v = getenv(name);

    return v ? v : "";
}
