/*
 * state_store: the two backends of the scan state (see state.h): a JSON file
 * written atomically (local mode), or one Redis string named after the
 * configuration's keys (cluster mode). Reading never fails a pass: a missing,
 * unreadable or corrupt state is logged and the pass is a full one.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "lock.h"
#include "sha.h"
#include "state_int.h"

#include "banned.h"

int state_read_file(const char *path, long long cap, char **text, size_t *len, struct err *e)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    int rc = 0;

    *text = NULL;
    *len = 0;
    if (!f)
        return err_set(e, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s", strerror(errno));
    if (fstat(fileno(f), &sb) < 0 || sb.st_size < 0 || sb.st_size > cap) {
        rc = err_set(e, ERR_IO, "unreadable or too large");
        goto out;
    }
    *text = malloc((size_t)sb.st_size + 1);
    if (!*text) {
        rc = err_set(e, ERR_NOMEM, "out of memory reading \"%s\"", path);
        goto out;
    }
    *len = fread(*text, 1, (size_t)sb.st_size, f);
    (*text)[*len] = '\0';
    if (*len != (size_t)sb.st_size) {
        rc = err_set(e, ERR_IO, "short read");
        free(*text);
        *text = NULL;
        *len = 0;
    }
out:
    fclose(f);
    return rc;
}

int state_load(const char *path, struct scan_state *s, struct log *lg, struct err *e)
{
    char *text = NULL;
    size_t got = 0;
    struct err de = ERR_INIT;
    int rc = state_read_file(path, STATE_MAX_FILE, &text, &got, &de);

    if (rc == ERR_NOTFOUND) {
        log_info(lg, "no scan state at \"%s\": this pass scans everything", path);
        return 0;
    }
    if (rc == ERR_NOMEM) {
        *e = de;
        return rc;
    }
    if (rc < 0) {
        log_warn(lg, "cannot read the scan state \"%s\": %s; this pass scans everything", path,
                 de.msg);
        return 0;
    }
    rc = state_decode(text, got, s, &de);
    if (rc == ERR_NOMEM)
        *e = de;
    else if (rc < 0) {
        log_warn(lg, "scan state \"%s\" is corrupt (%s): ignored, this pass scans everything", path,
                 de.msg);
        rc = 0;
    }
    free(text);
    return rc;
}

int state_write_atomic(const char *path, const char *text, size_t len, struct err *e)
{
    struct buf tmp;
    FILE *f = NULL;
    int rc;

    buf_init(&tmp, 8192);
    rc = buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    if (rc < 0) {
        rc = err_set(e, ERR_INVALID, "state file name too long");
        goto out;
    }
    f = fopen(tmp.data, "wb");
    if (!f) {
        rc = err_set(e, ERR_IO, "cannot write \"%s\": %s", tmp.data, strerror(errno));
        goto out;
    }
    if (fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = err_set(e, ERR_IO, "cannot write \"%s\": %s", tmp.data, strerror(errno));
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        rc = err_set(e, ERR_IO, "cannot write \"%s\": %s", tmp.data, strerror(errno));
        goto out;
    }
    f = NULL;
    if (rename(tmp.data, path) != 0) {
        rc = err_set(e, ERR_IO, "cannot rename \"%s\" to \"%s\": %s", tmp.data, path,
                     strerror(errno));
        goto out;
    }
out:
    if (f)
        fclose(f);
    if (rc < 0 && tmp.data)
        unlink(tmp.data);
    buf_release(&tmp);
    return rc;
}

int state_save(const char *path, const struct scan_state *s, struct err *e)
{
    char *text = NULL;
    int rc = state_encode(s, &text, e);

    if (rc == 0)
        rc = state_write_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

int state_redis_name(const struct cfg *c, char name[SHA1_HEX_SIZE], struct err *e)
{
    char *ok = state_odoo_key(c), *ck = state_cloud_key(c);
    struct buf b;
    int rc;

    buf_init(&b, 1 << 16);
    if (!ok || !ck || buf_printf(&b, "%s\n%s", ok, ck) < 0)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else
        rc = sha_hex_sha1(b.data, b.len, name);
    if (rc < 0 && !e->code)
        rc = err_set(e, rc, "cannot name the scan state");
    buf_release(&b);
    free(ok);
    free(ck);
    return rc;
}

int state_load_redis(struct lock *l, const struct cfg *c, struct scan_state *s, struct log *lg,
                     struct err *e)
{
    char name[SHA1_HEX_SIZE];
    char *text = NULL;
    size_t len = 0;
    struct err de = ERR_INIT;
    int rc;

    rc = state_redis_name(c, name, e);
    if (rc < 0)
        return rc;
    rc = lock_blob_get(l, name, STATE_MAX_REDIS, &text, &len, &de);
    if (rc == ERR_NOTFOUND) {
        log_info(lg, "no scan state in redis (state:%s): this pass scans everything", name);
        return 0;
    }
    if (rc == ERR_NOMEM) {
        *e = de;
        return rc;
    }
    if (rc < 0) {
        log_warn(lg, "cannot read the scan state from redis (%s): this pass scans everything",
                 de.msg);
        return 0;
    }
    rc = state_decode(text, len, s, &de);
    free(text);
    if (rc == ERR_NOMEM) {
        *e = de;
        return rc;
    }
    if (rc < 0)
        log_warn(lg,
                 "scan state in redis (state:%s) is corrupt (%s): ignored, this pass scans "
                 "everything",
                 name, de.msg);
    else
        log_info(lg, "scan state read from redis (state:%s, %zu bytes)", name, len);
    return 0;
}

int state_save_redis(struct lock *l, const struct cfg *c, const struct scan_state *s, struct err *e)
{
    char name[SHA1_HEX_SIZE];
    char *text = NULL;
    size_t len;
    int rc;

    rc = state_redis_name(c, name, e);
    if (rc == 0)
        rc = state_encode(s, &text, e);
    if (rc < 0)
        return rc;
    len = strlen(text);
    if (len > STATE_MAX_REDIS)
        rc = err_set(e, ERR_TOO_BIG, "scan state of %zu bytes is over redis' limit", len);
    else
        rc = lock_blob_set(l, name, text, len, e);
    free(text);
    return rc;
}
