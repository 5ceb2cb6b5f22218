/*
 * cfg_check: the rules that tie several keys together, which no single key's check can see.
 *
 * cfg_cross_check runs after each layer (file, environment, each cfg_set): the folders
 * under the root must stay distinct, ignoring case (each type's folder, the stand-alone
 * folder when enabled, the archive folder when the unmatched policy archives), and the
 * Documents mappings' own rules (cfg_documents.c).
 * cfg_require runs once, when the command knows what it needs: the URLs, credentials and
 * document types without which that command cannot start; and, whatever the command, a
 * *.ca_file that is set must be a readable file holding a PEM certificate.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cfg.h"
#include "cfg_int.h"

#include "banned.h"

/* The cross-field checks, after each layer. */
int cfg_cross_check(struct cfg *c, const char *src, struct err *e)
{
    for (size_t i = 0; i < c->ntypes; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(c->types[i].folder, c->types[j].folder) == 0)
                return err_set(e, ERR_INVALID,
                               "%s: $.types[%zu].folder: duplicate folder \"%s\" (already used "
                               "by $.types[%zu]; folder names must be unique, ignoring case)",
                               src, i, c->types[i].folder, j);
        }
        if (c->standalone.enabled && c->standalone.folder &&
            strcasecmp(c->types[i].folder, c->standalone.folder) == 0)
            return err_set(e, ERR_INVALID,
                           "%s: $.types[%zu].folder: \"%s\" is the folder of the stand-alone "
                           "attachments ($.standalone.folder)",
                           src, i, c->types[i].folder);
        if (c->unmatched.policy == CFG_UNMATCHED_ARCHIVE && c->unmatched.folder &&
            strcasecmp(c->types[i].folder, c->unmatched.folder) == 0)
            return err_set(e, ERR_INVALID,
                           "%s: $.types[%zu].folder: \"%s\" is the archive folder of records "
                           "that match no type ($.unmatched.folder)",
                           src, i, c->types[i].folder);
    }
    if (c->unmatched.policy == CFG_UNMATCHED_ARCHIVE && c->unmatched.folder &&
        c->standalone.enabled && c->standalone.folder &&
        strcasecmp(c->unmatched.folder, c->standalone.folder) == 0)
        return err_set(e, ERR_INVALID,
                       "%s: $.unmatched.folder: \"%s\" is the folder of the stand-alone "
                       "attachments ($.standalone.folder)",
                       src, c->unmatched.folder);
    return cfg_docs_check(c, src, e);
}

#define CA_FILE_MAX (16L * 1024 * 1024)

/* key names the option (cloud.ca_file); path must be a readable file with a PEM certificate. */
static int check_ca_file(const char *key, const char *path, struct err *e)
{
    static const char mark[] = "-----BEGIN CERTIFICATE-----";
    FILE *f;
    struct stat st;
    char *data;
    size_t n;
    int rc = 0;

    if (!path)
        return 0;
    f = fopen(path, "rb");
    if (!f)
        return err_set(e, ERR_INVALID, "%s: cannot read \"%s\": %s", key, path, strerror(errno));
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CA_FILE_MAX) {
        fclose(f);
        return err_set(e, ERR_INVALID, "%s: \"%s\" is not a file of CA certificates", key, path);
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        fclose(f);
        return err_set(e, ERR_NOMEM, "config: out of memory");
    }
    n = fread(data, 1, (size_t)st.st_size, f);
    data[n] = '\0';
    if (ferror(f))
        rc = err_set(e, ERR_INVALID, "%s: cannot read \"%s\": %s", key, path, strerror(errno));
    else if (!strstr(data, mark))
        rc = err_set(e, ERR_INVALID, "%s: \"%s\" holds no PEM certificate (no \"%s\" line)", key,
                     path, mark);
    free(data);
    fclose(f);
    return rc;
}

int cfg_require(const struct cfg *c, unsigned need, struct err *e)
{
    int rc = check_ca_file("odoo.ca_file", c->odoo.ca_file, e);

    if (rc < 0 || (rc = check_ca_file("cloud.ca_file", c->cloud.ca_file, e)) < 0)
        return rc;
    if (need & CFG_NEED_ODOO) {
        if (!c->odoo.url)
            return err_set(e, ERR_INVALID,
                           "odoo.url is not set (in the file or ODOOSYNC_ODOO_URL)");
        if (!c->odoo.database)
            return err_set(e, ERR_INVALID,
                           "odoo.database is not set (in the file or ODOOSYNC_ODOO_DATABASE)");
        if (c->odoo.protocol == CFG_PROTO_JSON2 && !c->odoo.api_key)
            return err_set(e, ERR_INVALID,
                           "odoo.protocol \"json2\" needs an API key (odoo.api_key_env or "
                           "odoo.api_key_file)");
        if (c->odoo.protocol == CFG_PROTO_JSONRPC && !c->odoo.login)
            return err_set(e, ERR_INVALID, "odoo.protocol \"jsonrpc\" needs odoo.login");
        if (!c->odoo.api_key && !c->odoo.password)
            return err_set(e, ERR_INVALID,
                           "no Odoo credential: set odoo.api_key_env / odoo.api_key_file or "
                           "odoo.password_env / odoo.password_file");
        if (!c->odoo.api_key && !c->odoo.login)
            return err_set(e, ERR_INVALID, "odoo.login is needed to log in with a password");
    }
    if (need & CFG_NEED_CLOUD) {
        if (!c->cloud.url)
            return err_set(e, ERR_INVALID,
                           "cloud.url is not set (in the file or ODOOSYNC_CLOUD_URL)");
        if (c->cloud.user && !c->cloud.password)
            return err_set(e, ERR_INVALID,
                           "cloud.user is set but no password: set cloud.password_env or "
                           "cloud.password_file");
    }
    if ((need & CFG_NEED_KAFKA) && !c->kafka.bootstrap)
        return err_set(e, ERR_INVALID,
                       "kafka.bootstrap is not set (in the file or ODOOSYNC_KAFKA_BOOTSTRAP)");
    if ((need & CFG_NEED_REDIS) && !c->redis.url)
        return err_set(e, ERR_INVALID, "redis.url is not set (in the file or ODOOSYNC_REDIS_URL)");
    if (need & CFG_NEED_TYPES) {
        size_t n = 0;
        for (size_t i = 0; i < c->ntypes; i++)
            n += c->types[i].enabled ? 1 : 0;
        if (n == 0 && !c->documents.enabled)
            return err_set(e, ERR_INVALID,
                           "no enabled document type in $.types (nor documents.enabled)");
    }
    return 0;
}
