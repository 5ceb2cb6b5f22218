/*
 * test_odoo_corpus: replays the Odoo decoder's fuzz seed corpus (fuzz/corpus/odoo) through
 * odoo_decode_response() with the same rules as the fuzz target, so the seeds stay valid
 * and the decoder stays crash-free in every build, not only in -DODOOSYNC_FUZZ=ON ones.
 * Also checks what each named seed decodes to.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "odoo.h"

#include "banned.h"

static struct check_count cc = CHECK_INIT;

static const long statuses[] = {200, 201, 204, 400, 401, 403, 404, 422, 429, 500, 502, 503};

static const struct {
    const char *file;
    int code;
} expect[] = {
    {"rpc_result_ids", 0},
    {"rpc_version", 0},
    {"rpc_access_error", ERR_ACCESS},
    {"rpc_session_expired", ERR_AUTH},
    {"rpc_no_data", ERR_SERVER},
    {"rpc_502_html", ERR_RETRY},
    {"json2_records", 0},
    {"json2_true", 0},
    {"json2_403", ERR_ACCESS},
    {"json2_401", ERR_AUTH},
    {"json2_422", ERR_INVALID},
};

static int read_file(const char *path, struct buf *b)
{
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "rb");

    if (!f)
        return -1;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(b, chunk, n) < 0) {
            fclose(f);
            return -1;
        }
    fclose(f);
    return 0;
}

int main(void)
{
    const char *src = getenv("ODOOSYNC_SOURCE_DIR");
    char dir[1024], path[2048];
    struct dirent *de;
    DIR *d;
    int files = 0;
    size_t i;

    snprintf(dir, sizeof(dir), "%s/fuzz/corpus/odoo", src ? src : ".");
    d = opendir(dir);
    CHECK_MSG(&cc, d != NULL, "cannot open %s", dir);
    if (!d)
        return check_done(&cc);
    while ((de = readdir(d)) != NULL) {
        struct err e = ERR_INIT;
        struct buf b;
        cJSON *res = NULL;
        int rc, want = 1;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        buf_init(&b, (size_t)1 << 20);
        if (read_file(path, &b) < 0 || b.len < 1) {
            buf_release(&b);
            continue;
        }
        files++;
        rc = odoo_decode_response(
            ((unsigned char)b.data[0] & 0x80) ? ODOO_PROTO_JSON2 : ODOO_PROTO_JSONRPC,
            statuses[((unsigned char)b.data[0] & 0x7f) % (sizeof(statuses) / sizeof(statuses[0]))],
            b.data + 1, b.len - 1, &res, NULL, &e);
        if (rc == 0)
            CHECK_MSG(&cc, res != NULL, "%s: no result", de->d_name);
        else
            CHECK_MSG(&cc, res == NULL && e.msg[0] && e.code == rc, "%s: bad error", de->d_name);
        for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
            if (strcmp(expect[i].file, de->d_name) == 0) {
                want = expect[i].code;
                CHECK_MSG(&cc, rc == want, "%s: got %d want %d (%s)", de->d_name, rc, want, e.msg);
            }
        cJSON_Delete(res);
        buf_release(&b);
    }
    closedir(d);
    CHECK_MSG(&cc, files >= (int)(sizeof(expect) / sizeof(expect[0])), "only %d seeds", files);
    return check_done(&cc);
}
