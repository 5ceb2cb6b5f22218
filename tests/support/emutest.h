/*
 * emutest: a private Odoo emulator (tests/odoo/emulator.py) for one C test, on a port of
 * its own with a data directory of its own, so its faults and versions disturb no one;
 * and the control requests that set any emulator's faults.
 * ODOOSYNC_SOURCE_DIR names the source tree (the script's place).
 */
#ifndef ODOOSYNC_EMUTEST_H
#define ODOOSYNC_EMUTEST_H

#include <sys/types.h>

struct emu {
    pid_t pid;
    char dir[256];
    char url[128];
};

/* Starts an emulator of Odoo `version` ("17", "19", ...) taking api key `key`; m->url is
 * its base url. 0, or -1 when it could not start. */
int emu_start(struct emu *m, const char *version, const char *key);
/* Stops it (SIGTERM, waited for) and removes its data directory. */
void emu_stop(struct emu *m);
/* POSTs body to the control endpoint of the emulator at url (its fault switches:
 * fail_next, delay_next, deny_model, reset, ...); the HTTP status, 0 when unreachable. */
long emu_control(const char *url, const char *body);

#endif
