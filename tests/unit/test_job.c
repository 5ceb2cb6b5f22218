/*
 * test_job: the job contract in C (common/job.h, common/jobmsg.h, common/sha.h).
 *
 * - encode/decode round trip for every kind and side;
 * - id stability: same intended change -> same id, attempt/created_at/version
 *   do not change it, a different path or checksum does; the ids written in
 *   tests/jobs/valid/ (computed by the documented recipe) are what job_make_id
 *   gives, so an accidental change of the recipe is caught;
 * - every example in tests/jobs/valid decodes, every one in tests/jobs/invalid is
 *   rejected at the JSON path invalid/FAULTS.tsv names (the same files ajv
 *   checks in jobs.schema), plus inputs only the codec sees (bad UTF-8,
 *   duplicate keys, non-JSON numbers);
 * - events and dead-letter envelopes against tests/jobs/event, tests/jobs/dlq;
 * - SHA-1 / SHA-256 against known vectors.
 * Example files are found through ODOOSYNC_SOURCE_DIR (set by ctest).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "job.h"
#include "jobmsg.h"
#include "sha.h"

#include "banned.h"

static struct check_count cc = CHECK_INIT;
static char jobs_dir[4096];

#define SUM "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long n;

    *len = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc((size_t)n + 1);
        if (data && fread(data, 1, (size_t)n, f) == (size_t)n) {
            data[n] = '\0';
            *len = (size_t)n;
        } else {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

static char *read_example(const char *rel, size_t *len)
{
    char path[8192];

    snprintf(path, sizeof(path), "%s/%s", jobs_dir, rel);
    return read_all(path, len);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.json names of dir (relative to jobs_dir); caller frees. */
static char **list_json(const char *rel, size_t *count)
{
    char path[8192];
    char **names = NULL;
    size_t n = 0;
    DIR *d;
    struct dirent *de;

    snprintf(path, sizeof(path), "%s/%s", jobs_dir, rel);
    *count = 0;
    d = opendir(path);
    if (!d)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        char **grown;
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        grown = realloc(names, (n + 1) * sizeof(*names));
        if (!grown)
            break;
        names = grown;
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    *count = n;
    return names;
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int job_equal(const struct job *a, const struct job *b)
{
    return a->schema == b->schema && streq(a->id, b->id) && a->kind == b->kind &&
           a->side == b->side && a->attempt == b->attempt && a->created_at == b->created_at &&
           a->version == b->version && streq(a->lock, b->lock) && streq(a->path, b->path) &&
           streq(a->to, b->to) && streq(a->record, b->record) && a->att_id == b->att_id &&
           streq(a->name, b->name) && streq(a->url, b->url) && a->size == b->size &&
           streq(a->expect.etag, b->expect.etag) && streq(a->expect.checksum, b->expect.checksum) &&
           streq(a->expect.write_date, b->expect.write_date) && streq(a->reason, b->reason);
}

static char *dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A job of each shape, with every optional field it may carry. */
static void make_job(struct job *j, enum job_kind k, enum job_side s)
{
    job_init(j);
    j->kind = k;
    j->side = s;
    j->attempt = 0;
    j->created_at = 1795922901123LL; /* 2026-11-28T... */
    j->version = 3;
    j->lock = dup("/Odoo/Quotations/SO019");
    j->record = dup("sale.order,19");
    j->reason = dup("test");
    j->size = -1;
    switch (k) {
    case JOB_MKDIR:
        j->path = dup("/Odoo/Quotations/SO019");
        break;
    case JOB_UPLOAD:
        j->path = dup("/Odoo/Quotations/SO019/quote \"v1\".pdf");
        j->att_id = 42;
        j->name = dup("quote \"v1\".pdf");
        j->url = dup("http://cloud.example.com/dav/Odoo/Quotations/SO019/quote%20%22v1%22.pdf");
        j->size = 1234;
        j->expect.checksum = dup(SUM);
        j->expect.etag = dup("\"abc\"");
        j->expect.write_date = dup("2026-11-23 17:04:55");
        break;
    case JOB_RENAME:
        if (s == JOB_SIDE_CLOUD) {
            j->path = dup("/Odoo/Quotations/SO019");
            j->to = dup("/Odoo/Quotations/SO019 - Azure");
            j->expect.etag = dup("W/\"1-2\"");
        } else {
            j->att_id = 42;
            j->name = dup("renamed.pdf");
            j->path = dup("/Odoo/Quotations/SO019/renamed.pdf");
            j->expect.write_date = dup("2026-11-23 17:04:55.5");
        }
        break;
    case JOB_RELINK:
        j->att_id = 0;
        j->url = dup("https://cloud.example.com/f/12");
        j->name = dup("notes.txt");
        j->path = dup("/Odoo/Quotations/SO019/notes.txt");
        break;
    case JOB_DELETE:
        if (s == JOB_SIDE_CLOUD) {
            j->path = dup("/Odoo/Quotations/SO019/old.pdf");
            j->expect.etag = dup("\"x\"");
            j->expect.checksum = dup(SUM);
        } else {
            j->att_id = 7;
            j->path = dup("/Odoo/Quotations/SO019/old.pdf");
            j->name = dup("old.pdf");
            j->expect.write_date = dup("2026-11-23 17:04:55");
        }
        break;
    case JOB_KIND_COUNT:
        break;
    }
}

static void test_sha(void)
{
    char h1[SHA1_HEX_SIZE], h256[SHA256_HEX_SIZE], inc[SHA1_HEX_SIZE];
    const char *fox = "The quick brown fox jumps over the lazy dog";
    struct sha1_ctx c = {NULL};
    struct sha256_ctx c2 = {NULL};
    struct err e = ERR_INIT;

    CHECK_INT(&cc, sha_hex_sha1("abc", 3, h1), 0);
    CHECK_STR(&cc, h1, "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK_INT(&cc, sha_hex_sha1(NULL, 0, h1), 0);
    CHECK_STR(&cc, h1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK_INT(&cc, sha_hex_sha256("abc", 3, h256), 0);
    CHECK_STR(&cc, h256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    CHECK_INT(&cc, sha1_init(&c, &e), 0);
    for (size_t off = 0, len = strlen(fox); off < len; off += 5)
        CHECK_INT(&cc, sha1_update(&c, fox + off, len - off < 5 ? len - off : 5, &e), 0);
    CHECK_INT(&cc, sha1_final(&c, inc, &e), 0);
    CHECK_STR(&cc, inc, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
    CHECK(&cc, c.md == NULL);
    sha1_release(&c); /* harmless after final */
    CHECK_INT(&cc, sha1_update(&c, "x", 1, &e), ERR_INTERNAL);

    /* aborted stream: release without final must not leak (LSan) */
    CHECK_INT(&cc, sha256_init(&c2, &e), 0);
    CHECK_INT(&cc, sha256_update(&c2, "abc", 3, &e), 0);
    sha256_release(&c2);
    sha256_release(&c2);
    CHECK_INT(&cc, sha256_init(&c2, &e), 0);
    CHECK_INT(&cc, sha256_update(&c2, "ab", 2, &e), 0);
    CHECK_INT(&cc, sha256_update(&c2, "c", 1, &e), 0);
    CHECK_INT(&cc, sha256_final(&c2, h256, &e), 0);
    CHECK_STR(&cc, h256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_names(void)
{
    for (int k = 0; k < JOB_KIND_COUNT; k++)
        CHECK_INT(&cc, job_kind_parse(job_kind_name((enum job_kind)k)), k);
    CHECK_STR(&cc, job_kind_name(JOB_RELINK), "relink");
    CHECK_INT(&cc, job_kind_parse("mkdirs"), -1);
    CHECK_INT(&cc, job_kind_parse("MKDIR"), -1);
    CHECK_INT(&cc, job_kind_parse(NULL), -1);
    CHECK_STR(&cc, job_side_name(JOB_SIDE_CLOUD), "cloud");
    CHECK_STR(&cc, job_side_name(JOB_SIDE_ODOO), "odoo");
    CHECK_STR(&cc, job_result_name(JOB_ALREADY_DONE), "already-done");
    CHECK_STR(&cc, job_result_name(JOB_DEAD_LETTERED), "dead-lettered");
}

static void test_time(void)
{
    char t[JOB_TIME_SIZE];
    long long a = 0, b = 0;

    CHECK_INT(&cc, job_time_format(0, t), 0);
    CHECK_STR(&cc, t, "1970-01-01T00:00:00.000Z");
    CHECK_INT(&cc, job_time_format(-1, t), 0);
    CHECK_STR(&cc, t, "1969-12-31T23:59:59.999Z");
    CHECK_INT(&cc, job_time_format(951782400000LL, t), 0); /* leap day of a century year */
    CHECK_STR(&cc, t, "2000-02-29T00:00:00.000Z");
    CHECK_INT(&cc, job_time_format(253402300800000LL, t), ERR_INVALID);

    CHECK_INT(&cc, job_time_parse("2026-11-24T03:28:21.123Z", &a), 0);
    CHECK_INT(&cc, job_time_parse("2026-11-24T05:28:21.123456+02:00", &b), 0);
    CHECK_INT(&cc, a, b);
    CHECK_INT(&cc, job_time_parse("2026-11-23T22:58:21.1239-04:30", &b), 0);
    CHECK_INT(&cc, a, b);
    CHECK_INT(&cc, job_time_format(a, t), 0);
    CHECK_STR(&cc, t, "2026-11-24T03:28:21.123Z");
    CHECK_INT(&cc, job_time_parse("2024-02-29T00:00:00Z", &a), 0);
    CHECK_INT(&cc, job_time_parse("2100-02-29T00:00:00Z", &a), -1);
    CHECK_INT(&cc, job_time_parse("2026-04-31T00:00:00Z", &a), -1);
    CHECK_INT(&cc, job_time_parse("2026-11-24T24:00:00Z", &a), -1);
    CHECK_INT(&cc, job_time_parse("2026-12-31T23:59:60Z", &a), -1);
    CHECK_INT(&cc, job_time_parse("2026-11-24 03:28:21Z", &a), -1);
    CHECK_INT(&cc, job_time_parse("2026-11-24T03:28:21z", &a), -1);
    CHECK_INT(&cc, job_time_parse("2026-11-24T03:28:21.Z", &a), -1);
    CHECK_INT(&cc, job_time_parse("2026-11-24T03:28:21.1234567890Z", &a), -1);
    CHECK_INT(&cc, job_time_parse("2026-11-24T03:28:21+0200", &a), -1);
    CHECK_INT(&cc, job_time_parse("2026-11-24T03:28:21Z ", &a), -1);

    /* Odoo's datetimes (write_date, UTC): the mtime an upload stamps */
    CHECK(&cc, job_odoo_time_s("2026-11-24 03:28:21") == 1795490901LL);
    CHECK(&cc, job_odoo_time_s("2026-11-24 03:28:21.654321") == 1795490901LL);
    CHECK(&cc, job_odoo_time_s("2026-11-24T03:28:21") == 1795490901LL);
    CHECK(&cc, job_odoo_time_s(NULL) == 0);
    CHECK(&cc, job_odoo_time_s("") == 0);
    CHECK(&cc, job_odoo_time_s("2026-11-24") == 0);
    CHECK(&cc, job_odoo_time_s("2026-11-24 03:28:21Z") == 0);
    CHECK(&cc, job_odoo_time_s("2026-13-24 03:28:21") == 0);

    /* round trip over the whole range, in big odd steps */
    for (long long ms = -62167219200000LL; ms <= 253402300799999LL; ms += 7919LL * 86399999LL) {
        long long back = 0;
        if (job_time_format(ms, t) < 0 || job_time_parse(t, &back) < 0 || back != ms) {
            CHECK_MSG(&cc, 0, "time round trip of %lld: \"%s\" -> %lld", ms, t, back);
            return;
        }
    }
    cc.passed++;
}

static void test_round_trip(void)
{
    static const struct {
        enum job_kind k;
        enum job_side s;
    } shapes[] = {{JOB_MKDIR, JOB_SIDE_CLOUD},  {JOB_UPLOAD, JOB_SIDE_CLOUD},
                  {JOB_RENAME, JOB_SIDE_CLOUD}, {JOB_RENAME, JOB_SIDE_ODOO},
                  {JOB_RELINK, JOB_SIDE_ODOO},  {JOB_DELETE, JOB_SIDE_CLOUD},
                  {JOB_DELETE, JOB_SIDE_ODOO}};

    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        struct job j, back, copy;
        struct buf b1, b2;
        struct err e = ERR_INIT;
        const char *what = job_kind_name(shapes[i].k);

        buf_init(&b1, 1 << 16);
        buf_init(&b2, 1 << 16);
        make_job(&j, shapes[i].k, shapes[i].s);
        CHECK_INT(&cc, job_make_id(&j), 0);
        CHECK_MSG(&cc, job_encode(&j, &b1, &e) == 0, "%s: %s", what, e.msg);
        CHECK_MSG(&cc, job_decode(&back, b1.data, b1.len, "/Odoo", &e) == 0, "%s: %s: %s", what,
                  e.msg, buf_str(&b1));
        CHECK_MSG(&cc, job_equal(&j, &back), "%s: decoded job differs: %s", what, buf_str(&b1));
        CHECK_INT(&cc, job_encode(&back, &b2, &e), 0);
        CHECK_STR(&cc, buf_str(&b2), buf_str(&b1));
        CHECK_INT(&cc, job_copy(&copy, &j), 0);
        CHECK(&cc, job_equal(&copy, &j));
        CHECK(&cc, copy.path != j.path && copy.lock != j.lock && copy.id != j.id);
        job_release(&copy);
        job_release(&back);
        job_release(&j);
        buf_release(&b1);
        buf_release(&b2);
    }
}

static void id_of(struct job *j, char *out, size_t n)
{
    job_make_id(j);
    snprintf(out, n, "%s", j->id ? j->id : "");
}

static void test_ids(void)
{
    struct job a, b;
    char ia[80], ib[80];

    make_job(&a, JOB_UPLOAD, JOB_SIDE_CLOUD);
    make_job(&b, JOB_UPLOAD, JOB_SIDE_CLOUD);
    id_of(&a, ia, sizeof(ia));
    id_of(&b, ib, sizeof(ib));
    CHECK_INT(&cc, strlen(ia), 64);
    CHECK_STR(&cc, ia, ib);

    /* retries and re-plans of the same change keep the id */
    b.attempt = 5;
    b.created_at += 3600000;
    b.version = 99;
    b.size = 1;
    free(b.reason);
    b.reason = dup("another rule");
    free(b.lock);
    b.lock = dup("/Odoo");
    id_of(&b, ib, sizeof(ib));
    CHECK_STR(&cc, ib, ia);

    /* a different change gets another id */
    free(b.path);
    b.path = dup("/Odoo/Quotations/SO019/other.pdf");
    id_of(&b, ib, sizeof(ib));
    CHECK(&cc, strcmp(ia, ib) != 0);
    job_release(&b);
    make_job(&b, JOB_UPLOAD, JOB_SIDE_CLOUD);
    free(b.expect.checksum);
    b.expect.checksum = dup("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    id_of(&b, ib, sizeof(ib));
    CHECK(&cc, strcmp(ia, ib) != 0);
    job_release(&b);
    make_job(&b, JOB_UPLOAD, JOB_SIDE_CLOUD);
    b.att_id = 43;
    id_of(&b, ib, sizeof(ib));
    CHECK(&cc, strcmp(ia, ib) != 0);
    job_release(&b);

    /* fields are delimited: moving a value from one field to another changes the id */
    make_job(&b, JOB_RENAME, JOB_SIDE_CLOUD);
    job_release(&a);
    make_job(&a, JOB_RENAME, JOB_SIDE_CLOUD);
    free(b.to);
    b.to = dup("/x/y");
    free(b.path);
    b.path = dup("/x");
    free(a.to);
    a.to = dup("/y");
    free(a.path);
    a.path = dup("/x/");
    id_of(&a, ia, sizeof(ia));
    id_of(&b, ib, sizeof(ib));
    CHECK(&cc, strcmp(ia, ib) != 0);
    job_release(&a);
    job_release(&b);

    /* kind and side take part */
    make_job(&a, JOB_DELETE, JOB_SIDE_CLOUD);
    make_job(&b, JOB_DELETE, JOB_SIDE_CLOUD);
    b.side = JOB_SIDE_ODOO;
    id_of(&a, ia, sizeof(ia));
    id_of(&b, ib, sizeof(ib));
    CHECK(&cc, strcmp(ia, ib) != 0);
    job_release(&a);
    job_release(&b);

    /* job_encode fills in a missing id with job_make_id's */
    {
        struct job j, back;
        struct buf out;
        struct err e = ERR_INIT;
        buf_init(&out, 1 << 16);
        make_job(&j, JOB_MKDIR, JOB_SIDE_CLOUD);
        CHECK_INT(&cc, job_encode(&j, &out, &e), 0);
        CHECK_INT(&cc, job_decode(&back, out.data, out.len, NULL, &e), 0);
        job_make_id(&j);
        CHECK_STR(&cc, back.id, j.id);
        job_release(&back);
        job_release(&j);
        buf_release(&out);
    }
}

static void test_valid_examples(void)
{
    size_t n = 0;
    char **names = list_json("valid", &n);

    CHECK_MSG(&cc, n >= 8, "only %zu valid examples in %s/valid", n, jobs_dir);
    for (size_t i = 0; i < n; i++) {
        char rel[600], idhex[80];
        size_t len = 0;
        char *data;
        struct job j, again;
        struct buf out;
        struct err e = ERR_INIT;

        snprintf(rel, sizeof(rel), "valid/%s", names[i]);
        data = read_example(rel, &len);
        CHECK_MSG(&cc, data != NULL, "cannot read %s", rel);
        if (!data)
            continue;
        CHECK_MSG(&cc, job_decode(&j, data, len, NULL, &e) == 0, "%s: %s", rel, e.msg);
        job_release(&j);
        CHECK_MSG(&cc, job_decode(&j, data, len, "/Odoo", &e) == 0, "%s (root /Odoo): %s", rel,
                  e.msg);
        /* the id written in the example is the one the recipe gives */
        snprintf(idhex, sizeof(idhex), "%s", j.id ? j.id : "");
        CHECK_INT(&cc, job_make_id(&j), 0);
        CHECK_MSG(&cc, strcmp(idhex, j.id) == 0, "%s: id %s, job_make_id gives %s", rel, idhex,
                  j.id);
        /* and it survives encode -> decode unchanged */
        buf_init(&out, 1 << 16);
        CHECK_MSG(&cc, job_encode(&j, &out, &e) == 0, "%s: encode: %s", rel, e.msg);
        CHECK_MSG(&cc, job_decode(&again, out.data, out.len, "/Odoo", &e) == 0, "%s: %s", rel,
                  e.msg);
        CHECK_MSG(&cc, job_equal(&j, &again), "%s: re-encoded job differs", rel);
        job_release(&again);
        buf_release(&out);
        job_release(&j);
        free(data);
    }
    free_list(names, n);
}

/* invalid/FAULTS.tsv: "file<TAB>json path" lines */
static const char *fault_path(const char *faults, const char *file, char *out, size_t size)
{
    const char *p = faults;
    size_t fl = strlen(file);

    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > fl && strncmp(p, file, fl) == 0 && p[fl] == '\t') {
            snprintf(out, size, "%.*s", (int)(ll - fl - 1), p + fl + 1);
            return out;
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

static void test_invalid_examples(void)
{
    size_t n = 0, flen = 0;
    char **names = list_json("invalid", &n);
    char *faults = read_example("invalid/FAULTS.tsv", &flen);

    CHECK_MSG(&cc, n >= 15, "only %zu invalid examples", n);
    CHECK(&cc, faults != NULL);
    for (size_t i = 0; i < n; i++) {
        char rel[600], want[128], prefix[140];
        size_t len = 0;
        char *data;
        struct job j;
        struct err e = ERR_INIT;
        int rc;

        snprintf(rel, sizeof(rel), "invalid/%s", names[i]);
        data = read_example(rel, &len);
        if (!data) {
            CHECK_MSG(&cc, 0, "cannot read %s", rel);
            continue;
        }
        rc = job_decode(&j, data, len, NULL, &e);
        CHECK_MSG(&cc, rc == ERR_INVALID, "%s: accepted (rc %d)", rel, rc);
        if (!fault_path(faults, names[i], want, sizeof(want))) {
            CHECK_MSG(&cc, 0, "%s: not listed in invalid/FAULTS.tsv", rel);
        } else {
            snprintf(prefix, sizeof(prefix), "%s: ", want);
            CHECK_MSG(&cc, strncmp(e.msg, prefix, strlen(prefix)) == 0,
                      "%s: message \"%s\" does not start with \"%s\"", rel, e.msg, prefix);
        }
        job_release(&j); /* safe after a failure */
        CHECK_INT(&cc, job_decode(&j, data, len, "/Odoo", &e), ERR_INVALID);
        job_release(&j);
        free(data);
    }
    free(faults);
    free_list(names, n);
}

/* Decode text, expect ERR_INVALID with a message starting with want. */
static void reject(const char *text, size_t len, const char *root, const char *want)
{
    struct job j;
    struct err e = ERR_INIT;
    int rc = job_decode(&j, text, len, root, &e);

    CHECK_MSG(&cc, rc == ERR_INVALID && strncmp(e.msg, want, strlen(want)) == 0,
              "decode of %.80s: rc %d, \"%s\", want \"%s...\"", text, rc, e.msg, want);
    job_release(&j);
}

#define MK_HEAD                                                                                    \
    "{\"schema\":1,\"id\":\"0000000000000000000000000000000000000000000000000000000000000000\","   \
    "\"kind\":\"mkdir\",\"side\":\"cloud\",\"attempt\":0,\"created_at\":\"2026-11-24T03:28:21Z\"," \
    "\"version\":1,\"lock\":\"/Odoo/Q\""

static void test_codec_only(void)
{
    static const char ok[] = MK_HEAD ",\"path\":\"/Odoo/Q/A\"}";
    struct job j;
    struct err e = ERR_INIT;
    char *big;

    CHECK_MSG(&cc, job_decode(&j, ok, strlen(ok), "/Odoo", &e) == 0, "%s", e.msg);
    CHECK_INT(&cc, j.size, -1);
    CHECK_INT(&cc, j.created_at, 1795490901000LL);
    job_release(&j);
    /* root: a segment prefix, trailing slash ignored, "/" is everything */
    CHECK_INT(&cc, job_decode(&j, ok, strlen(ok), "/Odoo/", &e), 0);
    job_release(&j);
    CHECK_INT(&cc, job_decode(&j, ok, strlen(ok), "/", &e), 0);
    job_release(&j);
    reject(ok, strlen(ok), "/Od", "$.lock: escapes the root");
    reject(ok, strlen(ok), "/Other", "$.lock: escapes the root");
    {
        static const char p[] = "{\"schema\":1,\"id\":\"00000000000000000000000000000000000000000"
                                "00000000000000000000000\",\"kind\":\"mkdir\",\"side\":\"cloud\","
                                "\"attempt\":0,\"created_at\":\"2026-11-24T03:28:21Z\",\"version\":"
                                "1,\"lock\":\"/Odoo/Q\",\"path\":\"/Other/Q\"}";
        reject(p, strlen(p), "/Odoo", "$.path: escapes the root");
    }
    /* the length is honoured: a valid prefix of a longer buffer */
    CHECK_INT(&cc, job_decode(&j, ok, strlen(ok) - 1, NULL, &e), ERR_INVALID);
    job_release(&j);

    /* what JSON.parse would refuse, or read differently, and cJSON alone would take */
    {
        static const char s[] = MK_HEAD ",\"path\":\"/Odoo/Q\",\"path\":\"/Odoo/X\"}";
        reject(s, strlen(s), NULL, "$.path: duplicate property");
    }
    {
        static const char s[] = MK_HEAD ",\"path\":\"/Odoo/\\u0000x\"}";
        reject(s, strlen(s), NULL, "$: \\u0000");
    }
    {
        static const char s[] =
            MK_HEAD ",\"path\":\"/Odoo/\\\\u0000x\"}"; /* an escaped backslash */
        CHECK_INT(&cc, job_decode(&j, s, strlen(s), NULL, &e), 0);
        CHECK_STR(&cc, j.path, "/Odoo/\\u0000x");
        job_release(&j);
    }
    {
        static const char s[] = MK_HEAD ",\"path\":\"/Odoo/\xc3\x28\"}";
        reject(s, strlen(s), NULL, "$.path: not valid UTF-8");
    }
    {
        static const char s[] = MK_HEAD ",\"path\":\"/Odoo/\xed\xa0\x80\"}"; /* a surrogate */
        reject(s, strlen(s), NULL, "$.path: not valid UTF-8");
    }
    {
        static const char s[] = MK_HEAD ",\"path\":\"/Odoo/a\tb\"}";
        reject(s, strlen(s), NULL, "$: control character");
    }
    reject("{\"schema\":+1}", 13, NULL, "$: malformed number");
    reject("{\"schema\":01}", 13, NULL, "$: malformed number");
    reject("{\"schema\":1.}", 13, NULL, "$: malformed number");
    reject("{\"schema\":.5}", 13, NULL, "$: malformed number");
    reject("{\"schema\":1e400}", 16, NULL, "$.schema: expected an integer");
    reject("{\"schema\":1} x", 14, NULL, "$: not valid JSON");
    reject("{\"schema\":1", 11, NULL, "$: ");
    reject("", 0, NULL, "$: empty message");
    reject("\x01{}", 3, NULL, "$: control character");
    reject("{\"schema\":1.0e0,\"id\":1}", 23, NULL, "$.id: expected a string");
    reject("{\"schema\":true}", 15, NULL, "$.schema: expected an integer");
    big = calloc(1, 300 * 1024);
    if (big) {
        memset(big, ' ', 300 * 1024 - 1);
        reject(big, strlen(big), NULL, "$: message of");
        free(big);
    }
    /* 2^53 is past the largest integer both sides read exactly */
    {
        static const char s[] =
            "{\"schema\":1,\"id\":\"0000000000000000000000000000000000000000000000000000000000"
            "000000\",\"kind\":\"mkdir\",\"side\":\"cloud\",\"attempt\":0,\"created_at\":\"2026-"
            "11-24T03:28:21Z\",\"version\":9007199254740992,\"lock\":\"/Odoo/Q\",\"path\":\"/O\"}";
        reject(s, strlen(s), NULL, "$.version: must be <= 9007199254740991");
    }
}

static void test_encode_refuses(void)
{
    struct job j;
    struct buf out;
    struct err e = ERR_INIT;

    buf_init(&out, 1 << 16);
    buf_puts(&out, "prefix");
    make_job(&j, JOB_MKDIR, JOB_SIDE_CLOUD);
    j.to = dup("/Odoo/elsewhere");
    CHECK_INT(&cc, job_encode(&j, &out, &e), ERR_INVALID);
    CHECK_MSG(&cc, strstr(e.msg, "$.to: not allowed in a mkdir cloud job") != NULL, "%s", e.msg);
    CHECK_STR(&cc, buf_str(&out), "prefix");
    job_release(&j);

    make_job(&j, JOB_UPLOAD, JOB_SIDE_CLOUD);
    free(j.expect.checksum);
    j.expect.checksum = NULL;
    CHECK_INT(&cc, job_encode(&j, &out, &e), ERR_INVALID);
    CHECK_MSG(&cc, strstr(e.msg, "$.expect.checksum: missing") != NULL, "%s", e.msg);
    job_release(&j);

    make_job(&j, JOB_MKDIR, JOB_SIDE_ODOO);
    CHECK_INT(&cc, job_encode(&j, &out, &e), ERR_INVALID);
    CHECK_MSG(&cc, strstr(e.msg, "$.side: no mkdir job acts on the odoo side") != NULL, "%s",
              e.msg);
    job_release(&j);

    make_job(&j, JOB_MKDIR, JOB_SIDE_CLOUD);
    j.created_at = 300000000000000LL;
    CHECK_INT(&cc, job_encode(&j, &out, &e), ERR_INVALID);
    free(j.path);
    j.path = dup("/Odoo/a\nb");
    j.created_at = 0;
    CHECK_INT(&cc, job_encode(&j, &out, &e), ERR_INVALID);
    CHECK_MSG(&cc, strstr(e.msg, "$.path: contains a control character") != NULL, "%s", e.msg);
    CHECK_STR(&cc, buf_str(&out), "prefix");
    job_release(&j);

    /* a capped buffer: ERR_TOO_BIG, buffer unchanged */
    {
        struct buf small;
        buf_init(&small, 64);
        make_job(&j, JOB_MKDIR, JOB_SIDE_CLOUD);
        CHECK_INT(&cc, job_encode(&j, &small, &e), ERR_TOO_BIG);
        CHECK_INT(&cc, small.len, 0);
        job_release(&j);
        buf_release(&small);
    }
    buf_release(&out);
}

static int decode_example(const char *rel, struct job *j)
{
    size_t len = 0;
    char *data = read_example(rel, &len);
    struct err e = ERR_INIT;
    int rc = data ? job_decode(j, data, len, NULL, &e) : ERR_IO;

    free(data);
    return rc;
}

/* Same JSON value (any formatting) as the example file. */
static void same_as_example(const char *json, const char *rel)
{
    size_t len = 0;
    char *data = read_example(rel, &len);
    cJSON *a = cJSON_Parse(json), *b = data ? cJSON_Parse(data) : NULL;

    CHECK_MSG(&cc, a && b && cJSON_Compare(a, b, 1), "%s differs from:\n%s", rel, json);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(data);
}

static void test_events(void)
{
    static const struct {
        const char *file, *job;
        enum job_result result;
        long long duration;
        const char *old_value, *new_value, *error;
        int code;
        const char *time;
    } cases[] = {
        {"applied-mkdir", "mkdir-cloud-document", JOB_APPLIED, 12, NULL, NULL, NULL, 0,
         "2026-11-24T03:28:22.456Z"},
        {"already-done-upload", "upload-cloud", JOB_ALREADY_DONE, 3, NULL, NULL, NULL, 0,
         "2026-11-24T03:28:22.456Z"},
        {"applied-rename-cloud", "rename-cloud-folder", JOB_APPLIED, 12, "/Odoo/Quotations/SO019",
         "/Odoo/Quotations/SO019 - Azure Interior", NULL, 0, "2026-11-24T03:28:22.456Z"},
        {"failed-conflict", "rename-odoo", JOB_FAILED, 12, NULL, NULL,
         "write_date changed: 2026-11-23 17:04:55 -> 2026-11-23 18:00:00", ERR_CONFLICT,
         "2026-11-24T03:28:22.456Z"},
        {"dead-lettered", "delete-cloud", JOB_DEAD_LETTERED, 0, NULL, NULL,
         "DELETE /Odoo/Quotations/SO019/old.pdf: 403 Forbidden", ERR_ACCESS,
         "2026-11-24T03:28:22.456Z"},
        {"skipped-minimal", "delete-odoo-minimal", JOB_SKIPPED, 0, NULL, NULL, NULL, 0,
         "2026-11-24T03:28:22.000Z"},
        /* what an Odoo delete touched: the attachment, its name, record, file and file id */
        {"applied-delete-odoo", "delete-odoo", JOB_APPLIED, 5, NULL, NULL, NULL, 0,
         "2026-11-24T03:28:22.000Z"},
        /* a relink that created attachment 57: the event names it (ev.att_id) */
        {"applied-relink-created", "relink-odoo-web-link", JOB_APPLIED, 7, NULL,
         "https://cloud.example.com/index.php/f/1234", NULL, 0, "2026-11-24T03:28:22.000Z"},
    };
    struct err e = ERR_INIT;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char rel[256];
        struct job j;
        struct job_event ev = {0};
        struct buf out;

        snprintf(rel, sizeof(rel), "valid/%s.json", cases[i].job);
        CHECK_INT(&cc, decode_example(rel, &j), 0);
        job_time_parse(cases[i].time, &ev.time);
        ev.result = cases[i].result;
        ev.duration_ms = cases[i].duration;
        ev.old_value = cases[i].old_value;
        ev.new_value = cases[i].new_value;
        ev.error = cases[i].error;
        ev.error_code = cases[i].code;
        if (strcmp(cases[i].file, "applied-relink-created") == 0)
            ev.att_id = 57;
        buf_init(&out, 1 << 16);
        CHECK_MSG(&cc, job_event_encode(&j, &ev, &out, &e) == 0, "%s: %s", cases[i].file, e.msg);
        snprintf(rel, sizeof(rel), "event/valid/%s.json", cases[i].file);
        same_as_example(buf_str(&out), rel);
        buf_release(&out);
        job_release(&j);
    }

    {
        struct job j;
        struct job_event ev = {0};
        struct buf out;
        buf_init(&out, 1 << 16);
        CHECK_INT(&cc, decode_example("valid/delete-cloud.json", &j), 0);
        ev.result = JOB_FAILED;
        CHECK_INT(&cc, job_event_encode(&j, &ev, &out, &e), ERR_INVALID);
        ev.result = JOB_APPLIED;
        ev.duration_ms = -1;
        CHECK_INT(&cc, job_event_encode(&j, &ev, &out, &e), ERR_INVALID);
        CHECK_INT(&cc, out.len, 0);
        ev.duration_ms = 0; /* time 0: now */
        CHECK_INT(&cc, job_event_encode(&j, &ev, &out, &e), 0);
        CHECK(&cc, strstr(buf_str(&out), "\"time\":\"20") != NULL);
        job_release(&j);
        buf_release(&out);
    }
}

static void test_dlq(void)
{
    static const unsigned char raw[] = "{\"kind\":\"mkdirs\"}\n\x00\xff";
    struct job_dlq_meta m = {0};
    struct job_dlq d;
    struct job j;
    struct buf out;
    struct err e = ERR_INIT;
    size_t n = 0;
    char **names;

    /* an envelope with the job */
    buf_init(&out, 1 << 20);
    CHECK_INT(&cc, decode_example("valid/upload-cloud.json", &j), 0);
    j.attempt = 5;
    m.error = "PUT /Odoo/Quotations/SO019/quote.pdf: 507 Insufficient Storage";
    m.error_code = ERR_SERVER;
    m.attempts = 5;
    job_time_parse("2026-11-24T03:28:22.456Z", &m.first_failed_at);
    job_time_parse("2026-11-24T03:58:22.456Z", &m.last_failed_at);
    m.topic = "odoosync.retry";
    m.partition = 2;
    m.offset = 1234;
    CHECK_MSG(&cc, job_dlq_encode(&j, NULL, 0, &m, &out, &e) == 0, "%s", e.msg);
    same_as_example(buf_str(&out), "dlq/valid/job.json");
    CHECK_MSG(&cc, job_dlq_decode(&d, out.data, out.len, "/Odoo", &e) == 0, "%s", e.msg);
    CHECK_INT(&cc, d.has_job, 1);
    CHECK(&cc, job_equal(&d.job, &j));
    CHECK_STR(&cc, d.error_code, "server");
    CHECK_INT(&cc, d.attempts, 5);
    CHECK_INT(&cc, d.offset, 1234);
    CHECK_INT(&cc, d.last_failed_at, m.last_failed_at);
    job_dlq_release(&d);
    job_release(&j);

    /* an undecodable message: raw bytes, binary-safe */
    buf_reset(&out);
    m.error = "$.kind: unknown kind \"mkdirs\"";
    m.error_code = ERR_INVALID;
    m.attempts = 0;
    m.last_failed_at = m.first_failed_at;
    m.topic = "odoosync.jobs";
    m.partition = 0;
    m.offset = 7;
    CHECK_INT(&cc, job_dlq_encode(NULL, raw, sizeof(raw) - 1, &m, &out, &e), 0);
    same_as_example(buf_str(&out), "dlq/valid/raw.json");
    CHECK_MSG(&cc, job_dlq_decode(&d, out.data, out.len, NULL, &e) == 0, "%s", e.msg);
    CHECK_INT(&cc, d.has_job, 0);
    CHECK_INT(&cc, d.raw_len, sizeof(raw) - 1);
    CHECK(&cc, d.raw && memcmp(d.raw, raw, sizeof(raw) - 1) == 0);
    job_dlq_release(&d);
    /* 1, 2 and 3 byte tails decode to the right length */
    for (size_t len = 0; len <= 4; len++) {
        buf_reset(&out);
        CHECK_INT(&cc, job_dlq_encode(NULL, "abcd", len, &m, &out, &e), 0);
        CHECK_INT(&cc, job_dlq_decode(&d, out.data, out.len, NULL, &e), 0);
        CHECK_INT(&cc, d.raw_len, len);
        job_dlq_release(&d);
    }
    m.topic = "bad topic";
    CHECK_INT(&cc, job_dlq_encode(NULL, raw, 3, &m, &out, &e), ERR_INVALID);
    buf_release(&out);

    names = list_json("dlq/valid", &n);
    CHECK(&cc, n >= 3);
    for (size_t i = 0; i < n; i++) {
        char rel[600];
        size_t len = 0;
        char *data;
        snprintf(rel, sizeof(rel), "dlq/valid/%s", names[i]);
        data = read_example(rel, &len);
        CHECK_MSG(&cc, data && job_dlq_decode(&d, data, len, NULL, &e) == 0, "%s: %s", rel, e.msg);
        job_dlq_release(&d);
        free(data);
    }
    free_list(names, n);
    names = list_json("dlq/invalid", &n);
    CHECK(&cc, n >= 5);
    for (size_t i = 0; i < n; i++) {
        char rel[600];
        size_t len = 0;
        char *data;
        snprintf(rel, sizeof(rel), "dlq/invalid/%s", names[i]);
        data = read_example(rel, &len);
        CHECK_MSG(&cc, data && job_dlq_decode(&d, data, len, NULL, &e) == ERR_INVALID,
                  "%s: accepted", rel);
        if (strcmp(names[i], "job-invalid.json") == 0)
            CHECK_MSG(&cc, strncmp(e.msg, "$.job.kind: unknown kind", 24) == 0, "%s", e.msg);
        job_dlq_release(&d);
        free(data);
    }
    free_list(names, n);
}

static void test_json_str(void)
{
    struct buf b;

    buf_init(&b, 256);
    CHECK_INT(&cc, job_json_str(&b, "a\"b\\c\n\x01\x7f é"), 0);
    CHECK_STR(&cc, buf_str(&b), "\"a\\\"b\\\\c\\n\\u0001\\u007f é\"");
    buf_release(&b);
}

int main(void)
{
    const char *src = getenv("ODOOSYNC_SOURCE_DIR");

    snprintf(jobs_dir, sizeof(jobs_dir), "%s/tests/jobs", src ? src : ".");
    test_sha();
    test_names();
    test_time();
    test_json_str();
    test_round_trip();
    test_ids();
    test_valid_examples();
    test_invalid_examples();
    test_codec_only();
    test_encode_refuses();
    test_events();
    test_dlq();
    return check_done(&cc);
}
