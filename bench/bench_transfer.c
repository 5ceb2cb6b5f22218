/*
 * bench_transfer: upload and download throughput of one big file (default
 * 1 GiB) to the test stack's Apache WebDAV, dav_put() streamed from the file
 * and dav_get() streamed into a file, beside `curl -T` / `curl -o` of the same
 * file to the same server in the same run.
 *
 * The stack is given by its env file (--env, or $ODOOSYNC_STACK_ENV; bench/run
 * starts one). The source file is written first (pseudo-random bytes, so no
 * layer can compress it) and is in the page cache for both tools. Each round
 * does both PUTs then both GETs, ours first in even rounds and curl first in
 * odd ones (each PUT creates the file: the previous copy is deleted first);
 * the table shows the best of --repeat rounds (default 2). Downloads are
 * compared with the source byte for byte (outside the timing). The source's
 * dirty pages are synced before the first transfer. Peak RSS: ours is this
 * process's VmHWM (the transfers run here), curl's is its ru_maxrss from
 * wait4().
 *
 * --tls: the same over the stack's https:// vhost (DAV_TLS_URL, its self-signed
 * CA in DAV_TLS_CA), where both tools speak HTTP/2 (ALPN; curl --http2); the
 * table says the HTTP version our client used (dav_stats).
 *
 * usage: bench_transfer [--env FILE] [--size MiB] [--repeat R] [--dir TMPDIR] [--tls]
 * Not a test: it prints figures and ratios, it asserts nothing about speed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dav.h"
#include "err.h"

#include "banned.h"

#define DAV_DIRNAME "/bench-transfer"

struct env {
    char url[1024];
    char tls_url[1024];
    char tls_ca[1024];
    char user[256];
    char password[256];
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long proc_kb(const char *key)
{
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static void copy_value(char *dst, size_t n, const char *v)
{
    size_t l = strcspn(v, "\r\n");

    if (l >= n)
        l = n - 1;
    memcpy(dst, v, l);
    dst[l] = '\0';
}

static int load_env(const char *path, struct env *ev)
{
    char line[2048];
    FILE *f = fopen(path, "r");

    if (!f)
        return -1;
    memset(ev, 0, sizeof(*ev));
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "DAV_URL=", 8) == 0)
            copy_value(ev->url, sizeof(ev->url), line + 8);
        else if (strncmp(line, "DAV_TLS_URL=", 12) == 0)
            copy_value(ev->tls_url, sizeof(ev->tls_url), line + 12);
        else if (strncmp(line, "DAV_TLS_CA=", 11) == 0)
            copy_value(ev->tls_ca, sizeof(ev->tls_ca), line + 11);
        else if (strncmp(line, "DAV_USER=", 9) == 0)
            copy_value(ev->user, sizeof(ev->user), line + 9);
        else if (strncmp(line, "DAV_PASSWORD=", 13) == 0)
            copy_value(ev->password, sizeof(ev->password), line + 13);
    }
    fclose(f);
    return ev->url[0] ? 0 : -1;
}

/* size bytes of xorshift noise into path, 1 MiB at a time. */
static int make_source(const char *path, long long size)
{
    static unsigned long long blk[1 << 17]; /* 1 MiB */
    unsigned long long x = 0x9e3779b97f4a7c15ULL;
    FILE *f = fopen(path, "wb");
    long long left = size;

    if (!f)
        return -1;
    while (left > 0) {
        size_t n = left < (long long)sizeof(blk) ? (size_t)left : sizeof(blk);

        for (size_t i = 0; i < sizeof(blk) / sizeof(blk[0]); i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            blk[i] = x;
        }
        if (fwrite(blk, 1, n, f) != n) {
            fclose(f);
            return -1;
        }
        left -= (long long)n;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* 0 when both files hold the same bytes. */
static int same_file(const char *a, const char *b)
{
    static char ba[1 << 20], bb[1 << 20];
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int rc = -1;

    if (!fa || !fb)
        goto out;
    for (;;) {
        size_t na = fread(ba, 1, sizeof(ba), fa), nb = fread(bb, 1, sizeof(bb), fb);

        if (na != nb || memcmp(ba, bb, na) != 0)
            goto out;
        if (na == 0) {
            rc = 0;
            goto out;
        }
    }
out:
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return rc;
}

static size_t src_read(char *p, size_t n, void *ud)
{
    FILE *f = ud;
    size_t k = fread(p, 1, n, f);

    return (k == 0 && ferror(f)) ? DAV_READ_ABORT : k;
}

static int src_rewind(void *ud)
{
    return fseek((FILE *)ud, 0, SEEK_SET) == 0 ? 0 : -1;
}

static size_t dst_write(const char *p, size_t n, void *ud)
{
    return fwrite(p, 1, n, (FILE *)ud);
}

static int our_put(struct dav *d, const char *src, long long size, struct err *e)
{
    struct dav_put_req req;
    FILE *f = fopen(src, "rb");
    int rc;

    if (!f)
        return err_set(e, ERR_IO, "open %s", src);
    memset(&req, 0, sizeof(req));
    req.read = src_read;
    req.rewind = src_rewind;
    req.ud = f;
    req.size = size;
    req.create_only = 1;
    req.content_type = "application/octet-stream";
    rc = dav_put(d, DAV_DIRNAME "/big.bin", &req, NULL, e);
    fclose(f);
    return rc;
}

static int our_get(struct dav *d, const char *dst, struct err *e)
{
    FILE *f = fopen(dst, "wb");
    int rc;

    if (!f)
        return err_set(e, ERR_IO, "open %s", dst);
    rc = dav_get(d, DAV_DIRNAME "/big.bin", dst_write, f, NULL, e);
    if (fclose(f) != 0 && rc == 0)
        rc = err_set(e, ERR_IO, "close %s", dst);
    return rc;
}

/* Runs curl (argv), returns its exit status; *rss_kb gets its peak RSS. */
static int run_curl(char *const argv[], long *rss_kb)
{
    struct rusage ru;
    int status = 0;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR)
            return -1;
    }
    *rss_kb = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct best {
    double s;
    long rss_kb;
};

static void keep(struct best *b, double s, long rss)
{
    if (b->s == 0 || s < b->s)
        b->s = s;
    if (rss > b->rss_kb)
        b->rss_kb = rss;
}

int main(int argc, char **argv)
{
    const char *envfile = getenv("ODOOSYNC_STACK_ENV");
    const char *tmpdir = "/tmp";
    long long mib = 1024;
    int repeat = 2, tls = 0;
    struct env ev;
    struct dav_stats st;
    struct dav_opts o;
    struct dav *d = NULL;
    struct err e = ERR_INIT;
    char src[4096], dl_ours[4096], dl_curl[4096], cfg[4096], url[2048];
    struct best put_o = {0, 0}, put_c = {0, 0}, get_o = {0, 0}, get_c = {0, 0};
    long long size;
    long base_kb;
    int rc = 1;
    FILE *cf;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--env") == 0 && i + 1 < argc)
            envfile = argv[++i];
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            mib = strtoll(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            tmpdir = argv[++i];
        else if (strcmp(argv[i], "--tls") == 0)
            tls = 1;
        else {
            fprintf(stderr, "usage: bench_transfer [--env FILE] [--size MiB] [--repeat R] "
                            "[--dir TMPDIR] [--tls]\n");
            return 2;
        }
    }
    if (!envfile || load_env(envfile, &ev) < 0 || mib < 1 || repeat < 1) {
        fprintf(stderr, "bench_transfer: need a stack env file (--env or ODOOSYNC_STACK_ENV) "
                        "with DAV_URL\n");
        return 2;
    }
    if (tls) {
        if (!ev.tls_url[0] || !ev.tls_ca[0]) {
            fprintf(stderr, "bench_transfer: --tls: the stack env has no DAV_TLS_URL/CA\n");
            return 2;
        }
        memcpy(ev.url, ev.tls_url, sizeof(ev.url));
    }
    size = mib * 1024 * 1024;
    snprintf(src, sizeof(src), "%s/bench-transfer-%d.src", tmpdir, (int)getpid());
    snprintf(dl_ours, sizeof(dl_ours), "%s/bench-transfer-%d.ours", tmpdir, (int)getpid());
    snprintf(dl_curl, sizeof(dl_curl), "%s/bench-transfer-%d.curl", tmpdir, (int)getpid());
    snprintf(cfg, sizeof(cfg), "%s/bench-transfer-%d.curlrc", tmpdir, (int)getpid());
    snprintf(url, sizeof(url), "%s%sbench-transfer/big.bin", ev.url,
             ev.url[strlen(ev.url) - 1] == '/' ? "" : "/");
    /* curl reads the credentials from a 0600 file, not from its command line */
    {
        int fd = open(cfg, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        cf = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!cf) {
            fprintf(stderr, "bench_transfer: cannot write %s\n", cfg);
            return 1;
        }
        fprintf(cf, "user = \"%s:%s\"\nsilent\nshow-error\nfail\n", ev.user, ev.password);
        if (tls)
            fprintf(cf, "cacert = \"%s\"\nhttp2\n", ev.tls_ca);
        fclose(cf);
    }
    fprintf(stderr, "bench_transfer: writing a %lld MiB source file\n", mib);
    if (make_source(src, size) < 0) {
        fprintf(stderr, "bench_transfer: cannot write %s\n", src);
        goto out;
    }
    sync(); /* the source's dirty pages are not written back during the first transfer */
    if (dav_global_init(&e) < 0)
        goto fail;
    dav_opts_init(&o);
    o.url = ev.url;
    o.user = ev.user;
    o.password = ev.password;
    o.dialect = DAV_DIALECT_GENERIC;
    o.ca_file = tls ? ev.tls_ca : NULL;
    d = dav_new(&o, &e);
    if (!d)
        goto fail;
    dav_delete(d, DAV_DIRNAME, NULL, &e);
    if (dav_mkcol(d, DAV_DIRNAME, 1, NULL, &e) < 0)
        goto fail;
    base_kb = proc_kb("VmHWM");
    for (int r = 0; r < repeat; r++) {
        char a_curl[] = "curl", a_k[] = "-K", a_t[] = "-T", a_o[] = "-o";
        char a_null[] = "/dev/null";
        char *put_argv[] = {a_curl, a_k, cfg, a_t, src, a_o, a_null, url, NULL};
        char *get_argv[] = {a_curl, a_k, cfg, a_o, dl_curl, url, NULL};
        long rss = 0;
        double t0;

        fprintf(stderr, "bench_transfer: round %d/%d (%s first)\n", r + 1, repeat,
                r % 2 ? "curl" : "odoosync");
        for (int k = 0; k < 2; k++) {
            if ((k == 0) == (r % 2 == 0)) { /* ours first in even rounds */
                dav_delete(d, DAV_DIRNAME "/big.bin", NULL, &e);
                t0 = now_s();
                if (our_put(d, src, size, &e) < 0)
                    goto fail;
                keep(&put_o, now_s() - t0, 0);
            } else {
                dav_delete(d, DAV_DIRNAME "/big.bin", NULL, &e);
                t0 = now_s();
                if (run_curl(put_argv, &rss) != 0) {
                    fprintf(stderr, "bench_transfer: curl -T failed\n");
                    goto out;
                }
                keep(&put_c, now_s() - t0, rss);
            }
        }
        for (int k = 0; k < 2; k++) {
            if ((k == 0) == (r % 2 == 0)) {
                unlink(dl_ours);
                t0 = now_s();
                if (our_get(d, dl_ours, &e) < 0)
                    goto fail;
                keep(&get_o, now_s() - t0, 0);
            } else {
                unlink(dl_curl);
                t0 = now_s();
                if (run_curl(get_argv, &rss) != 0) {
                    fprintf(stderr, "bench_transfer: curl -o failed\n");
                    goto out;
                }
                keep(&get_c, now_s() - t0, rss);
            }
        }
        if (same_file(src, dl_ours) != 0 || same_file(src, dl_curl) != 0) {
            fprintf(stderr, "bench_transfer: a downloaded copy differs from the source\n");
            goto out;
        }
    }
    {
        long ours_kb = proc_kb("VmHWM");
        double mb = (double)size / 1e6;

        dav_stats(d, &st);
        printf("upload/download of a %lld MiB file to Apache mod_dav (%s, HTTP/%ld.%ld), best "
               "of %d\n",
               mib, ev.url, st.http_version / 10, st.http_version % 10, repeat);
        printf("%-10s %-24s %9s %10s %12s\n", "op", "tool", "seconds", "MB/s", "peak RSS");
        printf("%-10s %-24s %9.2f %10.1f %8.1f MiB\n", "upload", "odoosync dav_put", put_o.s,
               mb / put_o.s, (double)ours_kb / 1024.0);
        printf("%-10s %-24s %9.2f %10.1f %8.1f MiB\n", "upload", "curl -T (peer)", put_c.s,
               mb / put_c.s, (double)put_c.rss_kb / 1024.0);
        printf("%-10s %-24s %9.2f %10.1f %8.1f MiB\n", "download", "odoosync dav_get", get_o.s,
               mb / get_o.s, (double)ours_kb / 1024.0);
        printf("%-10s %-24s %9.2f %10.1f %8.1f MiB\n", "download", "curl -o (peer)", get_c.s,
               mb / get_c.s, (double)get_c.rss_kb / 1024.0);
        printf("\nratio odoosync/curl throughput (1.00 = as fast as curl): upload %.2f, "
               "download %.2f\n",
               put_c.s / put_o.s, get_c.s / get_o.s);
        printf("our peak RSS: %.1f MiB for the whole program (%.1f MiB before the first "
               "transfer); both downloads equal the source\n",
               (double)ours_kb / 1024.0, (double)base_kb / 1024.0);
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "bench_transfer: %s\n", e.msg);
out:
    if (d) {
        dav_delete(d, DAV_DIRNAME, NULL, &e);
        dav_free(d);
    }
    dav_global_cleanup();
    unlink(src);
    unlink(dl_ours);
    unlink(dl_curl);
    unlink(cfg);
    return rc;
}
