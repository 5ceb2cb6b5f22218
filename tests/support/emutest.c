/* emutest: see emutest.h. */
#include "emutest.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int emu_start(struct emu *m, const char *version, const char *key)
{
    const char *src = getenv("ODOOSYNC_SOURCE_DIR");
    char script[512], portfile[300], logfile[300];
    int i;

    memset(m, 0, sizeof(m[0]));
    snprintf(m->dir, sizeof(m->dir), "/tmp/odoo-testemu-XXXXXX");
    if (!mkdtemp(m->dir))
        return -1;
    snprintf(script, sizeof(script), "%s/tests/odoo/emulator.py", src ? src : ".");
    snprintf(portfile, sizeof(portfile), "%s/port", m->dir);
    snprintf(logfile, sizeof(logfile), "%s/log", m->dir);
    m->pid = fork();
    if (m->pid < 0)
        return -1;
    if (m->pid == 0) {
        FILE *lf = freopen(logfile, "w", stderr);
        (void)lf;
        execlp("python3", "python3", script, "--host", "127.0.0.1", "--port", "0", "--data-dir",
               m->dir, "--odoo-version", version, "--api-key", key, "--port-file", portfile,
               (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 200; i++) {
        FILE *f = fopen(portfile, "r");
        long port = 0;
        if (f) {
            if (fscanf(f, "%ld", &port) == 1 && port > 0) {
                fclose(f);
                snprintf(m->url, sizeof(m->url), "http://127.0.0.1:%ld", port);
                return 0;
            }
            fclose(f);
        }
        if (waitpid(m->pid, NULL, WNOHANG) == m->pid) {
            m->pid = 0;
            return -1;
        }
        usleep(50000);
    }
    return -1;
}

void emu_stop(struct emu *m)
{
    char cmd[300];
    int st;

    if (m->pid > 0) {
        kill(m->pid, SIGTERM);
        waitpid(m->pid, &st, 0);
    }
    if (strncmp(m->dir, "/tmp/odoo-testemu-", 18) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", m->dir);
    }
}

static size_t ignore_body(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p;
    (void)ud;
    return size * nmemb;
}

long emu_control(const char *url, const char *body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char u[512];
    long status = 0;

    if (c && h) {
        snprintf(u, sizeof(u), "%s/__emulator__/control", url ? url : "");
        curl_easy_setopt(c, CURLOPT_URL, u);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ignore_body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}
