/*
 * kafkactl: see kafkactl.h. One short-lived connection per command, so a
 * test never shares a socket between threads.
 */
#include "kafkactl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "banned.h"

#define KAFKACTL_LINE_CAP 1024

static int kafkactl_fail(char *why, size_t whycap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int kafkactl_fail(char *why, size_t whycap, const char *fmt, ...)
{
    va_list ap;

    if (why && whycap) {
        va_start(ap, fmt);
        vsnprintf(why, whycap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int kafkactl_send(char *why, size_t whycap, const char *fmt, ...)
{
    const char *path = getenv("KAFKA_CONTROL");
    struct sockaddr_un sa;
    struct timeval tv = {10, 0};
    char line[KAFKACTL_LINE_CAP];
    char reply[KAFKACTL_LINE_CAP];
    size_t got = 0, sent = 0, len;
    va_list ap;
    int fd = -1, rc = -1, n;

    if (!path || !*path)
        return kafkactl_fail(why, whycap, "KAFKA_CONTROL is not set (stackenv_load() first)");
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line) - 1)
        return kafkactl_fail(why, whycap, "command too long");
    line[n] = '\n';
    len = (size_t)n + 1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path))
        return kafkactl_fail(why, whycap, "control path \"%s\" too long", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        rc = kafkactl_fail(why, whycap, "socket: %s", strerror(errno));
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = kafkactl_fail(why, whycap, "connect \"%s\": %s", path, strerror(errno));
        goto out;
    }
    while (sent < len) {
        ssize_t w = send(fd, line + sent, len - sent, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = kafkactl_fail(why, whycap, "send: %s", strerror(errno));
            goto out;
        }
        sent += (size_t)w;
    }
    while (got < sizeof(reply) - 1 && !memchr(reply, '\n', got)) {
        ssize_t r = read(fd, reply + got, sizeof(reply) - 1 - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = kafkactl_fail(why, whycap, "no reply from the broker: %s",
                               r < 0 ? strerror(errno) : "connection closed");
            goto out;
        }
        got += (size_t)r;
    }
    reply[got] = '\0';
    reply[strcspn(reply, "\r\n")] = '\0';
    if (strcmp(reply, "OK") != 0) {
        rc = kafkactl_fail(why, whycap, "\"%.*s\": %s", n, line, reply);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}
