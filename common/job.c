/*
 * job: the job codec (see job.h and schemas/job.schema.json).
 *
 * One table, `shapes`, says for each kind and side which fields a job must
 * carry and which it may carry; every other field is refused. The schema
 * says the same with one if/then per shape, and tests/jobs/ holds examples
 * both must agree on (tests/jobs/validate.mjs runs ajv, tests/unit/test_job.c
 * runs this codec on the same files).
 *
 * Decoding is strict on purpose: a job comes from the network, and a job
 * that was not understood must be dead-lettered, never half applied. The
 * JSON text is first checked against the JSON grammar (cJSON alone accepts
 * "+1", "01" or raw control characters), then parsed with cJSON, then every
 * field is checked in a fixed order; the first fault is reported with its
 * JSON path ("$.expect.checksum: expected 40 hex digits").
 *
 * The JSON grammar check and the value checks are job_json.c's (job_int.h).
 *
 * Encoding writes the fields in a fixed order, then decodes its own output:
 * what job_encode() produces, job_decode() accepts, or the encoder fails.
 *
 * Ids: SHA-256 over a versioned, length-prefixed list of kind, side and the
 * defining fields (path, to, record, att_id, name, url, expect.*), so the
 * same intended change planned twice gets the same id; attempt, created_at,
 * version, size, lock and reason do not take part.
 */
#include "job.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_int.h"
#include "jobmsg.h"
#include "sha.h"

#include "banned.h"

#define JOB_WIRE_MAX (256 * 1024) /* bigger than any valid job */
#define JOB_ID_HEX 64

static const char *const kind_names[JOB_KIND_COUNT] = {"mkdir", "upload", "rename", "relink",
                                                       "delete"};

/* Optional fields, and the members of "expect", as bits. */
enum {
    F_PATH = 1u << 0,
    F_TO = 1u << 1,
    F_RECORD = 1u << 2,
    F_ATT_ID = 1u << 3,
    F_NAME = 1u << 4,
    F_URL = 1u << 5,
    F_SIZE = 1u << 6,
    F_EXPECT = 1u << 7,
    X_ETAG = 1u << 8,
    X_CHECKSUM = 1u << 9,
    X_WRITE_DATE = 1u << 10,
    F_DOC = 1u << 11,
    F_FILEID = 1u << 12,
    F_COUNT = 13
};

static const char *const field_paths[F_COUNT] = {"$.path",
                                                 "$.to",
                                                 "$.record",
                                                 "$.att_id",
                                                 "$.name",
                                                 "$.url",
                                                 "$.size",
                                                 "$.expect",
                                                 "$.expect.etag",
                                                 "$.expect.checksum",
                                                 "$.expect.write_date",
                                                 "$.doc",
                                                 "$.fileid"};

struct shape {
    enum job_kind kind;
    enum job_side side;
    unsigned required;
    unsigned optional;
    long att_min; /* smallest att_id allowed */
};

/* The table of job.h's comment; keep in step with schemas/job.schema.json. */
static const struct shape shapes[] = {
    {JOB_MKDIR, JOB_SIDE_CLOUD, F_PATH, F_RECORD | F_NAME | F_DOC | F_FILEID, 0},
    {JOB_UPLOAD, JOB_SIDE_CLOUD, F_PATH | F_ATT_ID | F_URL | F_EXPECT | X_CHECKSUM,
     F_RECORD | F_SIZE | F_NAME | X_ETAG | X_WRITE_DATE | F_DOC | F_FILEID, 1},
    {JOB_RENAME, JOB_SIDE_CLOUD, F_PATH | F_TO,
     F_RECORD | F_EXPECT | X_ETAG | F_DOC | F_ATT_ID | F_NAME | F_FILEID, 0},
    {JOB_RENAME, JOB_SIDE_ODOO, F_ATT_ID | F_NAME | F_EXPECT | X_WRITE_DATE,
     F_RECORD | F_PATH | F_DOC | F_FILEID, 1},
    {JOB_RELINK, JOB_SIDE_ODOO, F_ATT_ID | F_URL | F_NAME | F_PATH,
     F_RECORD | F_EXPECT | X_WRITE_DATE | F_DOC | X_ETAG | X_CHECKSUM | F_FILEID, 0},
    {JOB_DELETE, JOB_SIDE_CLOUD, F_PATH,
     F_RECORD | F_EXPECT | X_ETAG | X_CHECKSUM | F_DOC | F_ATT_ID | F_NAME | F_FILEID, 0},
    {JOB_DELETE, JOB_SIDE_ODOO, F_ATT_ID,
     F_RECORD | F_PATH | F_NAME | F_EXPECT | X_WRITE_DATE | F_DOC | X_CHECKSUM | F_FILEID, 1},
};

static const struct shape *shape_of(enum job_kind k, enum job_side s)
{
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        if (shapes[i].kind == k && shapes[i].side == s)
            return &shapes[i];
    return NULL;
}

/* ---- lifecycle and names ---- */

void job_init(struct job *j)
{
    memset(j, 0, sizeof(*j));
    j->schema = JOB_SCHEMA_VERSION;
}

void job_release(struct job *j)
{
    free(j->id);
    free(j->lock);
    free(j->path);
    free(j->to);
    free(j->record);
    free(j->doc);
    free(j->name);
    free(j->url);
    free(j->fileid);
    free(j->expect.etag);
    free(j->expect.checksum);
    free(j->expect.write_date);
    free(j->reason);
    job_init(j);
}

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : ERR_NOMEM;
}

int job_copy(struct job *dst, const struct job *src)
{
    job_init(dst);
    dst->schema = src->schema;
    dst->kind = src->kind;
    dst->side = src->side;
    dst->attempt = src->attempt;
    dst->created_at = src->created_at;
    dst->version = src->version;
    dst->att_id = src->att_id;
    dst->size = src->size;
    if (dup_str(&dst->id, src->id) < 0 || dup_str(&dst->lock, src->lock) < 0 ||
        dup_str(&dst->path, src->path) < 0 || dup_str(&dst->to, src->to) < 0 ||
        dup_str(&dst->record, src->record) < 0 || dup_str(&dst->doc, src->doc) < 0 ||
        dup_str(&dst->name, src->name) < 0 || dup_str(&dst->url, src->url) < 0 ||
        dup_str(&dst->fileid, src->fileid) < 0 ||
        dup_str(&dst->expect.etag, src->expect.etag) < 0 ||
        dup_str(&dst->expect.checksum, src->expect.checksum) < 0 ||
        dup_str(&dst->expect.write_date, src->expect.write_date) < 0 ||
        dup_str(&dst->reason, src->reason) < 0) {
        job_release(dst);
        return ERR_NOMEM;
    }
    return 0;
}

const char *job_kind_name(enum job_kind k)
{
    if ((int)k < 0 || k >= JOB_KIND_COUNT)
        return "unknown";
    return kind_names[k];
}

int job_kind_parse(const char *s)
{
    if (!s)
        return -1;
    for (int k = 0; k < JOB_KIND_COUNT; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return k;
    return -1;
}

const char *job_side_name(enum job_side s)
{
    switch (s) {
    case JOB_SIDE_CLOUD:
        return "cloud";
    case JOB_SIDE_ODOO:
        return "odoo";
    }
    return "unknown";
}

static int side_parse(const char *s)
{
    if (strcmp(s, "cloud") == 0)
        return JOB_SIDE_CLOUD;
    if (strcmp(s, "odoo") == 0)
        return JOB_SIDE_ODOO;
    return -1;
}

/* ---- ids ---- */

static int id_field(struct sha256_ctx *c, const char *tag, const char *s, struct err *e)
{
    char head[64];
    int n;

    if (!s)
        n = snprintf(head, sizeof(head), "%s!", tag);
    else
        n = snprintf(head, sizeof(head), "%s:%zu:", tag, strlen(s));
    if (sha256_update(c, head, (size_t)n, e) < 0)
        return e ? e->code : ERR_INTERNAL;
    if (s && sha256_update(c, s, strlen(s), e) < 0)
        return e ? e->code : ERR_INTERNAL;
    return 0;
}

static int make_id(const struct job *j, char hex[SHA256_HEX_SIZE], struct err *e)
{
    struct sha256_ctx c = {NULL};
    char att[32];
    int rc;

    snprintf(att, sizeof(att), "%ld", j->att_id);
    rc = sha256_init(&c, e);
    if (rc < 0)
        goto out;
    if ((rc = id_field(&c, "odoosync-job", "1", e)) < 0 ||
        (rc = id_field(&c, "kind", job_kind_name(j->kind), e)) < 0 ||
        (rc = id_field(&c, "side", job_side_name(j->side), e)) < 0 ||
        (rc = id_field(&c, "path", j->path, e)) < 0 || (rc = id_field(&c, "to", j->to, e)) < 0 ||
        (rc = id_field(&c, "record", j->record, e)) < 0 ||
        (j->doc && (rc = id_field(&c, "doc", j->doc, e)) < 0) ||
        (rc = id_field(&c, "att_id", att, e)) < 0 || (rc = id_field(&c, "name", j->name, e)) < 0 ||
        (rc = id_field(&c, "url", j->url, e)) < 0 ||
        (rc = id_field(&c, "etag", j->expect.etag, e)) < 0 ||
        (rc = id_field(&c, "checksum", j->expect.checksum, e)) < 0 ||
        (rc = id_field(&c, "write_date", j->expect.write_date, e)) < 0)
        goto out;
    rc = sha256_final(&c, hex, e);
out:
    sha256_release(&c);
    return rc;
}

int job_make_id(struct job *j)
{
    char hex[SHA256_HEX_SIZE];
    char *id;
    int rc = make_id(j, hex, NULL);

    if (rc < 0)
        return rc;
    id = strdup(hex);
    if (!id)
        return ERR_NOMEM;
    free(j->id);
    j->id = id;
    return 0;
}

/* ---- field formats ---- */

static int is_hex(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[i] == '\0';
}

/* "model,id": ^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*,[1-9][0-9]{0,15}$ */
static int is_record(const char *s)
{
    const char *p = s;
    size_t digits = 0;

#define WORD(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') || (c) == '_')
    if (!(*p >= 'a' && *p <= 'z'))
        return 0;
    for (p++; WORD(*p); p++)
        ;
    while (*p == '.') {
        p++;
        if (!WORD(*p))
            return 0;
        while (WORD(*p))
            p++;
    }
#undef WORD
    if (*p++ != ',')
        return 0;
    if (!(*p >= '1' && *p <= '9'))
        return 0;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    return *p == '\0' && digits <= 16;
}

/* Odoo's datetime: ^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?$ */
static int is_odoo_datetime(const char *s)
{
    static const char shape[] = "dddd-dd-dd dd:dd:dd";
    size_t i, f = 0;

    for (i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    }
    if (s[i] == '\0')
        return 1;
    if (s[i++] != '.')
        return 0;
    for (; isdigit((unsigned char)s[i]); i++)
        f++;
    return s[i] == '\0' && f >= 1 && f <= 6;
}

/* ^https?://[^ ]+$ */
static int is_url(const char *s)
{
    const char *p;

    if (strncmp(s, "http://", 7) == 0)
        p = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        p = s + 8;
    else
        return 0;
    return *p && !strchr(p, ' ');
}

/* ^[A-Za-z0-9]{1,64}$: oc:fileid ("16"), or Nextcloud's OC-FileId ("00000016oc...") */
static int is_fileid(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!isalnum((unsigned char)s[n]))
            return 0;
    return n >= 1 && n <= 64;
}

static int take(char **dst, const char *s)
{
    return dup_str(dst, s) < 0 ? ERR_NOMEM : 0;
}

static int set_nomem(struct err *e)
{
    return err_set(e, ERR_NOMEM, "job: out of memory");
}

static const char *const job_props[] = {
    "schema", "id",     "kind", "side", "attempt", "created_at", "version", "lock", "path",   "to",
    "record", "att_id", "name", "url",  "size",    "expect",     "reason",  "doc",  "fileid", NULL};
static const char *const expect_props[] = {"etag", "checksum", "write_date", NULL};

static int decode_expect(const cJSON *ex, struct job *j, unsigned *present, struct err *e)
{
    const cJSON *it;
    const char *s = NULL;
    int rc;

    if (!cJSON_IsObject(ex))
        return err_set(e, ERR_INVALID, "$.expect: expected an object");
    rc = job_json_props(ex, "$.expect", expect_props, e);
    if (rc < 0)
        return rc;
    it = cJSON_GetObjectItemCaseSensitive(ex, "etag");
    if (it) {
        if ((rc = job_json_text(it, "$.expect.etag", 1, 256, &s, e)) < 0)
            return rc;
        if (take(&j->expect.etag, s) < 0)
            return set_nomem(e);
        *present |= X_ETAG;
    }
    it = cJSON_GetObjectItemCaseSensitive(ex, "checksum");
    if (it) {
        if (!cJSON_IsString(it))
            return err_set(e, ERR_INVALID, "$.expect.checksum: expected a string");
        if (!is_hex(it->valuestring, 40))
            return err_set(e, ERR_INVALID,
                           "$.expect.checksum: expected 40 hex digits (lowercase sha1)");
        if (take(&j->expect.checksum, it->valuestring) < 0)
            return set_nomem(e);
        *present |= X_CHECKSUM;
    }
    it = cJSON_GetObjectItemCaseSensitive(ex, "write_date");
    if (it) {
        if (!cJSON_IsString(it))
            return err_set(e, ERR_INVALID, "$.expect.write_date: expected a string");
        if (!is_odoo_datetime(it->valuestring))
            return err_set(e, ERR_INVALID,
                           "$.expect.write_date: expected \"YYYY-MM-DD HH:MM:SS[.ffffff]\"");
        if (take(&j->expect.write_date, it->valuestring) < 0)
            return set_nomem(e);
        *present |= X_WRITE_DATE;
    }
    return 0;
}

/* Optional fields: check each one present, record it in *present. */
static int decode_optional(const cJSON *doc, struct job *j, const char *root, unsigned *present,
                           struct err *e)
{
    const cJSON *it;
    const char *s = NULL;
    long long v = 0;
    int rc;

    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "path")) != NULL) {
        if ((rc = job_json_path(it, "$.path", root, &s, e)) < 0)
            return rc;
        if (take(&j->path, s) < 0)
            return set_nomem(e);
        *present |= F_PATH;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "to")) != NULL) {
        if ((rc = job_json_path(it, "$.to", root, &s, e)) < 0)
            return rc;
        if (take(&j->to, s) < 0)
            return set_nomem(e);
        *present |= F_TO;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "record")) != NULL) {
        if ((rc = job_json_text(it, "$.record", 1, 256, &s, e)) < 0)
            return rc;
        if (!is_record(s))
            return err_set(e, ERR_INVALID, "$.record: expected \"model,id\" (\"sale.order,19\")");
        if (take(&j->record, s) < 0)
            return set_nomem(e);
        *present |= F_RECORD;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "doc")) != NULL) {
        if ((rc = job_json_text(it, "$.doc", 1, 256, &s, e)) < 0)
            return rc;
        if (!is_record(s) || strncmp(s, "documents.", 10) != 0)
            return err_set(
                e, ERR_INVALID,
                "$.doc: expected \"documents.folder,<id>\" or \"documents.document,<id>\"");
        if (take(&j->doc, s) < 0)
            return set_nomem(e);
        *present |= F_DOC;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "att_id")) != NULL) {
        if ((rc = job_json_int(it, "$.att_id", 0, JOB_INT_MAX, &v, e)) < 0)
            return rc;
        j->att_id = (long)v;
        *present |= F_ATT_ID;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "name")) != NULL) {
        if ((rc = job_json_text(it, "$.name", 1, JOB_TEXT_MAX, &s, e)) < 0)
            return rc;
        if (take(&j->name, s) < 0)
            return set_nomem(e);
        *present |= F_NAME;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "url")) != NULL) {
        if ((rc = job_json_text(it, "$.url", 1, JOB_PATH_MAX, &s, e)) < 0)
            return rc;
        if (!is_url(s))
            return err_set(e, ERR_INVALID, "$.url: expected an http(s) URL without spaces");
        if (take(&j->url, s) < 0)
            return set_nomem(e);
        *present |= F_URL;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "fileid")) != NULL) {
        if ((rc = job_json_text(it, "$.fileid", 1, 64, &s, e)) < 0)
            return rc;
        if (!is_fileid(s))
            return err_set(e, ERR_INVALID, "$.fileid: expected letters and digits (oc:fileid)");
        if (take(&j->fileid, s) < 0)
            return set_nomem(e);
        *present |= F_FILEID;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "size")) != NULL) {
        if ((rc = job_json_int(it, "$.size", 0, JOB_INT_MAX, &v, e)) < 0)
            return rc;
        j->size = v;
        *present |= F_SIZE;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "expect")) != NULL) {
        if ((rc = decode_expect(it, j, present, e)) < 0)
            return rc;
        *present |= F_EXPECT;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(doc, "reason")) != NULL) {
        if ((rc = job_json_text(it, "$.reason", 0, JOB_TEXT_MAX, &s, e)) < 0)
            return rc;
        if (take(&j->reason, s) < 0)
            return set_nomem(e);
    }
    return 0;
}

static const cJSON *required(const cJSON *doc, const char *name, struct err *e)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, name);
    if (!it)
        err_set(e, ERR_INVALID, "$.%s: missing", name);
    return it;
}

static int decode_doc(const cJSON *doc, struct job *j, const char *root, struct err *e)
{
    const struct shape *sh;
    const cJSON *it;
    const char *s = NULL;
    char q[64];
    unsigned present = 0, allowed;
    long long v = 0;
    int rc, k;

    if (!cJSON_IsObject(doc))
        return err_set(e, ERR_INVALID, "$: expected an object");
    if ((rc = job_json_props(doc, "$", job_props, e)) < 0)
        return rc;

    if (!(it = required(doc, "schema", e)))
        return ERR_INVALID;
    if ((rc = job_json_int(it, "$.schema", LLONG_MIN / 2, LLONG_MAX / 2, &v, e)) < 0)
        return rc;
    if (v != JOB_SCHEMA_VERSION)
        return err_set(e, ERR_INVALID, "$.schema: unsupported version %lld (expected %d)", v,
                       JOB_SCHEMA_VERSION);
    j->schema = (int)v;

    if (!(it = required(doc, "id", e)))
        return ERR_INVALID;
    if (!cJSON_IsString(it))
        return err_set(e, ERR_INVALID, "$.id: expected a string");
    if (!is_hex(it->valuestring, JOB_ID_HEX))
        return err_set(e, ERR_INVALID, "$.id: expected %d lowercase hex digits", JOB_ID_HEX);
    if (take(&j->id, it->valuestring) < 0)
        return set_nomem(e);

    if (!(it = required(doc, "kind", e)))
        return ERR_INVALID;
    if (!cJSON_IsString(it))
        return err_set(e, ERR_INVALID, "$.kind: expected a string");
    if ((k = job_kind_parse(it->valuestring)) < 0) {
        job_quote(it->valuestring, q, sizeof(q));
        return err_set(e, ERR_INVALID, "$.kind: unknown kind \"%s\"", q);
    }
    j->kind = (enum job_kind)k;

    if (!(it = required(doc, "side", e)))
        return ERR_INVALID;
    if (!cJSON_IsString(it))
        return err_set(e, ERR_INVALID, "$.side: expected a string");
    if ((k = side_parse(it->valuestring)) < 0) {
        job_quote(it->valuestring, q, sizeof(q));
        return err_set(e, ERR_INVALID, "$.side: unknown side \"%s\" (cloud or odoo)", q);
    }
    j->side = (enum job_side)k;

    if (!(it = required(doc, "attempt", e)))
        return ERR_INVALID;
    if ((rc = job_json_int(it, "$.attempt", 0, INT_MAX, &v, e)) < 0)
        return rc;
    j->attempt = (int)v;

    if (!(it = required(doc, "created_at", e)))
        return ERR_INVALID;
    if ((rc = job_json_time(it, "$.created_at", &j->created_at, e)) < 0)
        return rc;

    if (!(it = required(doc, "version", e)))
        return ERR_INVALID;
    if ((rc = job_json_int(it, "$.version", 0, JOB_INT_MAX, &v, e)) < 0)
        return rc;
    j->version = v;

    if (!(it = required(doc, "lock", e)))
        return ERR_INVALID;
    if ((rc = job_json_path(it, "$.lock", root, &s, e)) < 0)
        return rc;
    if (take(&j->lock, s) < 0)
        return set_nomem(e);

    sh = shape_of(j->kind, j->side);
    if (!sh)
        return err_set(e, ERR_INVALID, "$.side: no %s job acts on the %s side",
                       job_kind_name(j->kind), job_side_name(j->side));

    j->size = -1;
    if ((rc = decode_optional(doc, j, root, &present, e)) < 0)
        return rc;

    allowed = sh->required | sh->optional;
    for (unsigned b = 0; b < F_COUNT; b++) {
        unsigned bit = 1u << b;
        if ((present & bit) && !(allowed & bit))
            return err_set(e, ERR_INVALID, "%s: not allowed in a %s %s job", field_paths[b],
                           job_kind_name(j->kind), job_side_name(j->side));
        if ((sh->required & bit) && !(present & bit) && (bit < X_ETAG || (present & F_EXPECT)))
            return err_set(e, ERR_INVALID, "%s: missing (required in a %s %s job)", field_paths[b],
                           job_kind_name(j->kind), job_side_name(j->side));
    }
    /* a relink of Odoo's Documents app (doc) compares the cloud file (etag) and Odoo's
     * content (checksum); an attachment's relink compares write_date only */
    if (j->kind == JOB_DELETE && j->side == JOB_SIDE_ODOO && !(present & F_DOC) &&
        (present & X_CHECKSUM))
        return err_set(e, ERR_INVALID,
                       "$.expect.checksum: not allowed in a delete odoo job without doc");
    if (j->kind == JOB_RELINK && !(present & F_DOC) && (present & (X_ETAG | X_CHECKSUM)))
        return err_set(e, ERR_INVALID, "%s: not allowed in a relink odoo job without doc",
                       (present & X_ETAG) ? "$.expect.etag" : "$.expect.checksum");
    /* (a Documents folder has no attachment: a rename odoo with doc may carry att_id 0) */
    if ((present & F_ATT_ID) && j->att_id < sh->att_min && !(present & F_DOC))
        return err_set(e, ERR_INVALID, "$.att_id: must be >= %ld in a %s %s job", sh->att_min,
                       job_kind_name(j->kind), job_side_name(j->side));
    return 0;
}

int job_decode(struct job *j, const char *data, size_t len, const char *root, struct err *e)
{
    cJSON *doc = NULL;
    int rc;

    job_init(j);
    rc = job_json_parse(data, len, JOB_WIRE_MAX, &doc, e);
    if (rc < 0)
        goto out;
    rc = decode_doc(doc, j, root, e);
out:
    cJSON_Delete(doc);
    if (rc < 0)
        job_release(j);
    return rc;
}

/* ---- encoding ---- */

static int put_str(struct buf *b, const char *key, const char *s)
{
    int rc;

    if (!s)
        return 0;
    if ((rc = buf_printf(b, ",\"%s\":", key)) < 0)
        return rc;
    return job_json_str(b, s);
}

static int encode_fields(const struct job *j, const char *id, struct buf *b)
{
    const struct shape *sh = shape_of(j->kind, j->side);
    unsigned allowed = sh ? sh->required | sh->optional : 0;
    char when[JOB_TIME_SIZE];
    int rc;

    if (job_time_format(j->created_at, when) < 0)
        return ERR_INVALID;
    if ((rc = buf_printf(b, "{\"schema\":%d,\"id\":", j->schema)) < 0 ||
        (rc = job_json_str(b, id)) < 0 ||
        (rc = buf_printf(b, ",\"kind\":\"%s\",\"side\":\"%s\",\"attempt\":%d",
                         job_kind_name(j->kind), job_side_name(j->side), j->attempt)) < 0 ||
        (rc = buf_printf(b, ",\"created_at\":\"%s\",\"version\":%lld", when, j->version)) < 0 ||
        (rc = put_str(b, "lock", j->lock)) < 0 || (rc = put_str(b, "path", j->path)) < 0 ||
        (rc = put_str(b, "to", j->to)) < 0 || (rc = put_str(b, "record", j->record)) < 0 ||
        (rc = put_str(b, "doc", j->doc)) < 0)
        return rc;
    if ((j->att_id || (sh && (sh->required & F_ATT_ID))) &&
        (rc = buf_printf(b, ",\"att_id\":%ld", j->att_id)) < 0)
        return rc;
    if ((rc = put_str(b, "name", j->name)) < 0 || (rc = put_str(b, "url", j->url)) < 0 ||
        (rc = put_str(b, "fileid", j->fileid)) < 0)
        return rc;
    if ((allowed & F_SIZE) && j->size >= 0 && (rc = buf_printf(b, ",\"size\":%lld", j->size)) < 0)
        return rc;
    if (j->expect.etag || j->expect.checksum || j->expect.write_date) {
        struct buf x;
        buf_init(&x, 4096);
        rc = put_str(&x, "etag", j->expect.etag);
        if (rc == 0)
            rc = put_str(&x, "checksum", j->expect.checksum);
        if (rc == 0)
            rc = put_str(&x, "write_date", j->expect.write_date);
        if (rc == 0)
            rc = buf_printf(b, ",\"expect\":{%s}", buf_str(&x) + 1);
        buf_release(&x);
        if (rc < 0)
            return rc;
    }
    if ((rc = put_str(b, "reason", j->reason)) < 0)
        return rc;
    return buf_puts(b, "}");
}

int job_encode(const struct job *j, struct buf *out, struct err *e)
{
    char hex[SHA256_HEX_SIZE];
    const char *id = j->id;
    size_t mark = out->len;
    struct job check;
    int rc;

    job_init(&check);
    if (!id) {
        if ((rc = make_id(j, hex, e)) < 0)
            goto out;
        id = hex;
    }
    rc = encode_fields(j, id, out);
    if (rc == ERR_INVALID) {
        rc = err_set(e, ERR_INVALID, "job_encode: $.created_at: %lld ms is out of range",
                     j->created_at);
        goto out;
    }
    if (rc < 0) {
        rc = err_set(e, rc, "job_encode: %s", rc == ERR_TOO_BIG ? "buffer full" : "out of memory");
        goto out;
    }
    /* What we write must be what we read. */
    rc = job_decode(&check, out->data + mark, out->len - mark, NULL, e);
    if (rc < 0)
        err_prefix(e, "job_encode: invalid job");
out:
    job_release(&check);
    if (rc < 0 && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}
