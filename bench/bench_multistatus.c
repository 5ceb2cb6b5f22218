/*
 * bench_multistatus: how fast, and in how much memory, dav_multistatus_parse()
 * reads a big PROPFIND answer, beside libxml2's DOM parser (xmlReadMemory)
 * on the same bytes in the same run.
 *
 * The body is generated here: N responses (default 100,000), one folder for
 * every five files, in two dialects:
 *   apache     what mod_dav_fs answers (a copy of a real answer of the test
 *              stack: lp1:/ns1: prefixes, a 200 and a 404 propstat per
 *              response, our dead properties)
 *   nextcloud  d:/oc:/nc: prefixes, /remote.php/dav/files/<user>/ hrefs,
 *              oc:fileid, oc:permissions, oc:checksums, oc:size
 * Names are percent-encoded (spaces, '#', UTF-8) like real listings.
 *
 * Each parser runs in its own forked child, so its peak RSS is its own: the
 * child resets its high-water mark (/proc/self/clear_refs "5") once the body
 * is resident, parses it --repeat times, and reports the best time, the
 * entries seen, the peak RSS (VmHWM) and the peak above the body (VmHWM -
 * VmRSS before parsing). --write-dir DIR also saves both bodies for other peers
 * (bench/run feeds it to python's xml.etree).
 *
 * usage: bench_multistatus [--entries N] [--repeat R] [--write-dir DIR]
 * Not a test: it prints figures and ratios, it asserts nothing about speed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "buf.h"
#include "dav.h"
#include "err.h"

#include "banned.h"

struct figures {
    double best_s; /* best wall time of one parse */
    long entries;  /* responses seen (last repeat) */
    long hwm_kb;   /* VmHWM after parsing */
    long base_kb;  /* VmRSS before parsing (body resident) */
    int ok;        /* 1 when every parse succeeded */
    char msg[200]; /* error, if any */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends formatted text to b; exits on failure (a benchmark, not a library). */
static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp) || buf_append(b, tmp, (size_t)n) < 0) {
        fprintf(stderr, "bench_multistatus: out of memory generating the body\n");
        exit(2);
    }
}

/* The i-th resource: every sixth one a document folder, the others its files. */
static void name_of(long i, int *is_dir, char *folder, size_t fl, char *file, size_t nl)
{
    long rec = i / 6;

    *is_dir = (i % 6) == 0;
    snprintf(folder, fl, "Quotations/S%06ld%%20Agrolait%%2C%%20Michael", rec);
    if ((i % 6) == 3)
        snprintf(file, nl, "offer%%20%%23%ld%%20%%C3%%A9t%%C3%%A9.pdf", i);
    else
        snprintf(file, nl, "file-%06ld-%02ld.bin", rec, i % 6);
}

static void gen_apache(struct buf *b, long n)
{
    char folder[256], file[256];
    int dir;

    put(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
           "<D:multistatus xmlns:D=\"DAV:\" xmlns:ns1=\"urn:odoosync\" xmlns:ns0=\"DAV:\">\n");
    for (long i = 0; i < n; i++) {
        name_of(i, &dir, folder, sizeof(folder), file, sizeof(file));
        put(b, "<D:response xmlns:lp1=\"DAV:\" xmlns:lp2=\"http://apache.org/dav/props/\" "
               "xmlns:ns0=\"DAV:\" xmlns:ns1=\"urn:odoosync\" xmlns:g0=\"DAV:\" "
               "xmlns:g1=\"urn:odoosync\">\n");
        if (dir) {
            put(b,
                "<D:href>/dav/bench/%s/</D:href>\n<D:propstat>\n<D:prop>\n"
                "<lp1:resourcetype><D:collection/></lp1:resourcetype>\n"
                "<lp1:getetag>\"1000-660fdb82e%04lx\"</lp1:getetag>\n"
                "<lp1:getlastmodified>Tue, 24 Nov 2026 03:58:13 GMT</lp1:getlastmodified>\n"
                "<D:getcontenttype>httpd/unix-directory</D:getcontenttype>\n"
                "<ns1:record>sale.order,%ld</ns1:record>\n</D:prop>\n"
                "<D:status>HTTP/1.1 200 OK</D:status>\n</D:propstat>\n<D:propstat>\n<D:prop>\n"
                "<g0:getcontentlength/>\n<g1:attachment/>\n<ns1:type/>\n</D:prop>\n"
                "<D:status>HTTP/1.1 404 Not Found</D:status>\n</D:propstat>\n</D:response>\n",
                folder, i & 0xffff, i / 6 + 1);
        } else {
            put(b,
                "<D:href>/dav/bench/%s/%s</D:href>\n<D:propstat>\n<D:prop>\n"
                "<lp1:resourcetype/>\n"
                "<lp1:getetag>\"%lx-660fdb82d%04lx\"</lp1:getetag>\n"
                "<lp1:getcontentlength>%ld</lp1:getcontentlength>\n"
                "<lp1:getlastmodified>Tue, 24 Nov 2026 03:58:13 GMT</lp1:getlastmodified>\n"
                "<D:getcontenttype>application/octet-stream</D:getcontenttype>\n"
                "<ns1:attachment>%ld</ns1:attachment>\n</D:prop>\n"
                "<D:status>HTTP/1.1 200 OK</D:status>\n</D:propstat>\n<D:propstat>\n<D:prop>\n"
                "<ns1:record/>\n<ns1:type/>\n</D:prop>\n"
                "<D:status>HTTP/1.1 404 Not Found</D:status>\n</D:propstat>\n</D:response>\n",
                folder, file, 1000 + i, i & 0xffff, 1000 + i, i + 1);
        }
    }
    put(b, "</D:multistatus>\n");
}

static void gen_nextcloud(struct buf *b, long n)
{
    char folder[256], file[256];
    int dir;

    put(b, "<?xml version=\"1.0\"?>\n<d:multistatus xmlns:d=\"DAV:\" "
           "xmlns:s=\"http://sabredav.org/ns\" xmlns:oc=\"http://owncloud.org/ns\" "
           "xmlns:nc=\"http://nextcloud.org/ns\" xmlns:o=\"urn:odoosync\">");
    for (long i = 0; i < n; i++) {
        name_of(i, &dir, folder, sizeof(folder), file, sizeof(file));
        if (dir) {
            put(b,
                "<d:response><d:href>/remote.php/dav/files/admin/bench/%s/</d:href>"
                "<d:propstat><d:prop><d:getlastmodified>Tue, 24 Nov 2026 03:58:13 GMT"
                "</d:getlastmodified><d:resourcetype><d:collection/></d:resourcetype>"
                "<d:getetag>&quot;6742a1f5%08lx&quot;</d:getetag><oc:fileid>%ld</oc:fileid>"
                "<oc:permissions>RGDNVCK</oc:permissions><oc:size>%ld</oc:size>"
                "<o:record>sale.order,%ld</o:record></d:prop>"
                "<d:status>HTTP/1.1 200 OK</d:status></d:propstat><d:propstat><d:prop>"
                "<d:getcontentlength/><d:getcontenttype/><oc:checksums/><o:attachment/>"
                "<o:type/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>"
                "</d:response>",
                folder, i, 100000 + i, 5 * (1000 + i), i / 6 + 1);
        } else {
            put(b,
                "<d:response><d:href>/remote.php/dav/files/admin/bench/%s/%s</d:href>"
                "<d:propstat><d:prop><d:getlastmodified>Tue, 24 Nov 2026 03:58:13 GMT"
                "</d:getlastmodified><d:getcontentlength>%ld</d:getcontentlength>"
                "<d:resourcetype/><d:getetag>&quot;3f1a%08lx&quot;</d:getetag>"
                "<d:getcontenttype>application/octet-stream</d:getcontenttype>"
                "<oc:fileid>%ld</oc:fileid><oc:permissions>RGDNVW</oc:permissions>"
                "<oc:checksums><oc:checksum>SHA1:%040lx MD5:%032lx ADLER32:%08lx"
                "</oc:checksum></oc:checksums><o:attachment>%ld</o:attachment></d:prop>"
                "<d:status>HTTP/1.1 200 OK</d:status></d:propstat><d:propstat><d:prop>"
                "<oc:size/><o:record/><o:type/></d:prop>"
                "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>",
                folder, file, 1000 + i, i, 100000 + i, i * 7919, i * 104729, i, i + 1);
        }
    }
    put(b, "</d:multistatus>\n");
}

/* VmHWM or VmRSS from /proc/self/status, in KiB (-1 when unknown). */
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

static void reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");

    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

struct counter {
    long n;
    long dirs;
    long tagged;
};

static int count_entry(const struct dav_entry *ent, void *ud)
{
    struct counter *c = ud;

    c->n++;
    c->dirs += ent->is_dir;
    c->tagged += ent->attachment_tag != NULL || ent->record_tag != NULL;
    return 0;
}

static int run_odoosync(const struct buf *body, const char *base, long *entries, char *msg,
                        size_t ml)
{
    struct counter c = {0, 0, 0};
    struct err e = ERR_INIT;
    int rc = dav_multistatus_parse(body->data, body->len, base, count_entry, &c, &e);

    if (rc < 0)
        snprintf(msg, ml, "%s", e.msg);
    *entries = c.n;
    return rc;
}

static long count_responses(xmlNode *n)
{
    long k = 0;

    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
            strcmp((const char *)n->ns->href, "DAV:") == 0 &&
            strcmp((const char *)n->name, "response") == 0)
            k++;
    }
    return k;
}

static int run_dom(const struct buf *body, long *entries, char *msg, size_t ml)
{
    xmlDoc *doc = xmlReadMemory(body->data, (int)body->len, "multistatus.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_HUGE);
    xmlNode *root;

    if (!doc) {
        snprintf(msg, ml, "xmlReadMemory failed");
        return -1;
    }
    root = xmlDocGetRootElement(doc);
    *entries = root ? count_responses(root->children) : 0;
    xmlFreeDoc(doc);
    return 0;
}

/* Runs one parser in a child; fills f. which: 0 odoosync, 1 libxml2 DOM. */
static int measure(int which, const struct buf *body, const char *base, int repeat,
                   struct figures *f)
{
    int fds[2];
    pid_t pid;
    int status;

    memset(f, 0, sizeof(*f));
    if (pipe(fds) < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        struct figures r;

        close(fds[0]);
        memset(&r, 0, sizeof(r));
        r.best_s = 1e30;
        r.ok = 1;
        /* the body is inherited: touch it so it is resident in this child */
        {
            volatile unsigned char sum = 0;
            for (size_t i = 0; i < body->len; i += 4096)
                sum = (unsigned char)(sum + (unsigned char)body->data[i]);
            (void)sum;
        }
        r.base_kb = proc_kb("VmRSS");
        reset_hwm();
        for (int k = 0; k < repeat; k++) {
            double t0 = now_s(), dt;
            int rc = which == 0 ? run_odoosync(body, base, &r.entries, r.msg, sizeof(r.msg))
                                : run_dom(body, &r.entries, r.msg, sizeof(r.msg));

            dt = now_s() - t0;
            if (rc < 0)
                r.ok = 0;
            if (dt < r.best_s)
                r.best_s = dt;
        }
        r.hwm_kb = proc_kb("VmHWM");
        if (write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], f, sizeof(*f)) != (ssize_t)sizeof(*f))
        f->ok = 0;
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

static int write_file(const char *dir, const char *name, const struct buf *b)
{
    char path[4096];
    FILE *f;
    size_t w;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f)
        return -1;
    w = fwrite(b->data, 1, b->len, f);
    return (fclose(f) == 0 && w == b->len) ? 0 : -1;
}

int main(int argc, char **argv)
{
    long n = 100000;
    int repeat = 3;
    const char *write_dir = NULL;
    static const char *const dialects[] = {"apache", "nextcloud"};
    static const char *const bases[] = {"/dav/", "/remote.php/dav/files/admin/"};
    struct figures fig[2][2];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc)
            n = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--write-dir") == 0 && i + 1 < argc)
            write_dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench_multistatus [--entries N] [--repeat R] "
                            "[--write-dir DIR]\n");
            return 2;
        }
    }
    if (n < 1 || repeat < 1)
        return 2;
    xmlInitParser();
    printf("multistatus parse: %ld entries per body, best of %d runs, each parser in its own "
           "process\n",
           n, repeat);
    printf("%-10s %-22s %9s %10s %13s %11s %13s\n", "dialect", "parser", "MB", "best s",
           "entries/s", "peak RSS", "RSS - body");
    for (int d = 0; d < 2; d++) {
        struct buf body;

        buf_init(&body, (size_t)4 << 30);
        if (d == 0)
            gen_apache(&body, n);
        else
            gen_nextcloud(&body, n);
        if (write_dir && write_file(write_dir, d == 0 ? "apache.xml" : "nextcloud.xml", &body))
            fprintf(stderr, "bench_multistatus: could not write into %s\n", write_dir);
        for (int p = 0; p < 2; p++) {
            struct figures *f = &fig[d][p];

            if (measure(p, &body, bases[d], repeat, f) < 0 || !f->ok) {
                printf("%-10s %-22s FAILED %s\n", dialects[d],
                       p ? "libxml2 xmlReadMemory" : "dav_multistatus_parse", f->msg);
                continue;
            }
            printf("%-10s %-22s %9.1f %10.3f %13.0f %7.1f MiB %9.1f MiB\n", dialects[d],
                   p ? "libxml2 DOM (peer)" : "dav_multistatus_parse", (double)body.len / 1e6,
                   f->best_s, (double)f->entries / f->best_s, (double)f->hwm_kb / 1024.0,
                   (double)(f->hwm_kb - f->base_kb) / 1024.0);
            if (f->entries != n)
                printf("  !! %ld entries seen, %ld expected\n", f->entries, n);
        }
        buf_release(&body);
    }
    printf("\nratios odoosync / libxml2 DOM (speed > 1: we are faster; memory < 1: we use "
           "less)\n");
    for (int d = 0; d < 2; d++) {
        if (!fig[d][0].ok || !fig[d][1].ok)
            continue;
        printf("%-10s speed %.2fx   peak RSS above the body %.3fx (%.1f vs %.1f MiB)\n",
               dialects[d], fig[d][1].best_s / fig[d][0].best_s,
               (double)(fig[d][0].hwm_kb - fig[d][0].base_kb) /
                   (double)(fig[d][1].hwm_kb - fig[d][1].base_kb),
               (double)(fig[d][0].hwm_kb - fig[d][0].base_kb) / 1024.0,
               (double)(fig[d][1].hwm_kb - fig[d][1].base_kb) / 1024.0);
    }
    xmlCleanupParser();
    return 0;
}
