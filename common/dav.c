/*
 * dav: the WebDAV client's handle (see dav.h for the API and the error
 * mapping, dav_int.h for how the pieces below fit together).
 *
 * This file owns the handle's life cycle: the options and their defaults,
 * curl's global init, dav_new()/dav_free() (owned copies of the strings,
 * the base URL split into its path and the server root), the shared
 * DNS/TLS cache, the counters dav_stats() reports, the server dialect
 * (configured, or asked once from status.php by dav_detect()) and the
 * URLs a path stands at (dav_path_to_url(), dav_web_link()).
 *
 * The rest of the client, one concept a file: dav_xfer.c runs every
 * request (transfer, pump, retries, error mapping); dav_props.c PROPFIND,
 * stat and PROPPATCH tags; dav_ops.c MKCOL, DELETE, MOVE/COPY and GET;
 * dav_put.c PUT streaming and Nextcloud's chunked upload; dav_bulk.c
 * Nextcloud's bulk upload; dav_xml.c the multistatus parser; dav_path.c
 * path normalising and encoding.
 *
 * A struct dav_share wraps a CURLSH (DNS + TLS sessions) with its own
 * mutexes, one per kind of data libcurl locks; dav_xfer_setup() attaches it
 * to every request of the handles that name it.
 */
#include "dav.h"
#include "dav_int.h"
#include "link.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "banned.h"

void dav_opts_init(struct dav_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    o->timeout_ms = 0;
    o->low_speed_secs = 60;
    o->max_retries = 4;
    o->retry_base_ms = 500;
    o->retry_max_ms = 30000;
    o->retry_total_ms = 120000;
    o->dialect = DAV_DIALECT_AUTO;
    o->max_response = 1024 * 1024;
    o->max_listing = 4ULL << 30;
    o->chunk_threshold = 100LL << 20;
    o->chunk_size = 16LL << 20;
}

int dav_global_init(struct err *e)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return err_set(e, ERR_INTERNAL, "curl_global_init failed");
    xmlInitParser();
    return 0;
}

void dav_global_cleanup(void)
{
    xmlCleanupParser();
    curl_global_cleanup();
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access acc, void *ud)
{
    struct dav_share *s = ud;

    (void)h;
    (void)acc;
    if ((int)data >= 0 && (int)data < s->nmu)
        pthread_mutex_lock(&s->mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    struct dav_share *s = ud;

    (void)h;
    if ((int)data >= 0 && (int)data < s->nmu)
        pthread_mutex_unlock(&s->mu[data]);
}

void dav_share_free(struct dav_share *s)
{
    if (!s)
        return;
    if (s->sh)
        curl_share_cleanup(s->sh);
    for (int i = 0; i < s->nmu; i++)
        pthread_mutex_destroy(&s->mu[i]);
    free(s);
}

struct dav_share *dav_share_new(struct err *e)
{
    struct dav_share *s = calloc(1, sizeof(*s));
    int ok = 1;

    if (!s) {
        err_set(e, ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (; s->nmu < CURL_LOCK_DATA_LAST; s->nmu++) {
        if (pthread_mutex_init(&s->mu[s->nmu], NULL) != 0) {
            err_set(e, ERR_INTERNAL, "dav share: cannot create a mutex");
            goto fail;
        }
    }
    s->sh = curl_share_init();
    if (!s->sh) {
        err_set(e, ERR_INTERNAL, "dav share: curl_share_init failed");
        goto fail;
    }
    ok &= curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock) == CURLSHE_OK;
    ok &= curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock) == CURLSHE_OK;
    ok &= curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s) == CURLSHE_OK;
    ok &= curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) == CURLSHE_OK;
    ok &= curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) == CURLSHE_OK;
    /* no CURL_LOCK_DATA_CONNECT: unsupported across concurrent threads (see dav.h) */
    if (!ok) {
        err_set(e, ERR_INTERNAL, "dav share: curl_share_setopt failed");
        goto fail;
    }
    return s;
fail:
    dav_share_free(s);
    return NULL;
}

void dav_stats(const struct dav *d, struct dav_stats *out)
{
    *out = d->stats;
}

const char *dav_dialect_name(enum dav_dialect dl)
{
    switch (dl) {
    case DAV_DIALECT_GENERIC:
        return "generic";
    case DAV_DIALECT_NEXTCLOUD:
        return "nextcloud";
    case DAV_DIALECT_OWNCLOUD:
        return "owncloud";
    default:
        return "auto";
    }
}

enum dav_dialect dav_dialect(const struct dav *d)
{
    return d->dialect;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void dav_free(struct dav *d)
{
    if (!d)
        return;
    if (d->curl)
        curl_easy_cleanup(d->curl);
    if (d->multi)
        curl_multi_cleanup(d->multi);
    free(d->url);
    free(d->base_path);
    free(d->root);
    free(d->user);
    if (d->password) {
        memset(d->password, 0, strlen(d->password));
        free(d->password);
    }
    free(d->user_agent);
    free(d->ca_file);
    free(d);
}

/* Split the base URL: path and server root (see struct dav). */
static int parse_base(struct dav *d, struct err *e)
{
    const char *u = d->url, *sch = strstr(u, "://"), *p, *rp;

    if (!sch || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
        return err_set(e, ERR_INVALID, "dav url \"%s\" is not http(s)://host/path", u);
    p = strchr(sch + 3, '/');
    if (!p)
        return err_set(e, ERR_INVALID, "dav url \"%s\" has no path", u);
    if (strchr(p, '?') || strchr(p, '#'))
        return err_set(e, ERR_INVALID, "dav url \"%s\" must not have a query or fragment", u);
    d->base_path = strdup(p);
    rp = strstr(p, "/remote.php");
    d->root = rp ? strndup(u, (size_t)(rp - u)) : strndup(u, (size_t)(p - u));
    if (!d->base_path || !d->root)
        return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

struct dav *dav_new(const struct dav_opts *o, struct err *e)
{
    struct dav *d = NULL;
    size_t n;

    if (!o || !o->url || !*o->url) {
        err_set(e, ERR_INVALID, "dav: no url configured");
        return NULL;
    }
    d = calloc(1, sizeof(*d));
    if (!d)
        goto nomem;
    d->o = *o;
    d->o.url = d->o.user = d->o.password = d->o.user_agent = d->o.ca_file = NULL;
    d->bulk = o->no_bulk ? 0 : -1;
    if (d->o.max_response == 0)
        d->o.max_response = 1024 * 1024;
    if (d->o.max_listing == 0)
        d->o.max_listing = 4ULL << 30;
    if (d->o.max_retries < 0)
        d->o.max_retries = 0;
    if (d->o.chunk_threshold == 0)
        d->o.chunk_threshold = 100LL << 20;
    if (d->o.chunk_size <= 0)
        d->o.chunk_size = 16LL << 20;
    n = strlen(o->url);
    d->url = malloc(n + 2);
    if (!d->url)
        goto nomem;
    memcpy(d->url, o->url, n + 1);
    if (o->url[n - 1] != '/') {
        d->url[n] = '/';
        d->url[n + 1] = '\0';
    }
    d->user = dup_or_null(o->user);
    d->password = dup_or_null(o->password);
    d->user_agent = strdup(o->user_agent ? o->user_agent : "odoosync/0.1");
    d->ca_file = dup_or_null(o->ca_file);
    if ((o->user && !d->user) || (o->password && !d->password) || !d->user_agent ||
        (o->ca_file && !d->ca_file))
        goto nomem;
    if (parse_base(d, e) < 0)
        goto fail;
    d->dialect = o->dialect;
    d->seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)d;
    d->curl = curl_easy_init();
    d->multi = curl_multi_init();
    if (!d->curl || !d->multi) {
        err_set(e, ERR_INTERNAL, "dav: cannot create a curl handle");
        goto fail;
    }
    return d;
nomem:
    err_set(e, ERR_NOMEM, "out of memory");
fail:
    dav_free(d);
    return NULL;
}

/* --- paths --------------------------------------------------------------- */

int dav_path_to_url(const struct dav *d, const char *path, struct buf *out, struct err *e)
{
    struct buf enc;
    size_t n = strlen(d->url);
    int rc;

    buf_init(&enc, DAV_URL_MAX);
    rc = dav_path_encode(path, &enc, e);
    if (rc < 0)
        goto out;
    buf_reset(out);
    /* base ends with '/', the encoded path starts with one */
    if (buf_append(out, d->url, n - 1) < 0 || buf_append(out, enc.data, enc.len) < 0)
        rc = err_set(e, ERR_TOO_BIG, "url too long");
out:
    buf_release(&enc);
    return rc;
}

int dav_web_link(const struct dav *d, const char *path, const char *fileid, struct buf *out,
                 struct err *e)
{
    char id[LINK_FILEID_MAX];

    if (link_fileid_norm(fileid, id) &&
        (d->dialect == DAV_DIALECT_NEXTCLOUD || d->dialect == DAV_DIALECT_OWNCLOUD)) {
        char *l = link_web(d->root, id);
        int rc;

        if (!l)
            return err_set(e, ERR_NOMEM, "out of memory");
        buf_reset(out);
        rc = buf_puts(out, l);
        free(l);
        return rc < 0 ? err_set(e, ERR_TOO_BIG, "url too long") : 0;
    }
    return dav_path_to_url(d, path, out, e);
}

/* --- detection -------------------------------------------------------------------- */

static int contains_ci(const char *s, const char *w)
{
    size_t n = strlen(w);

    for (; *s; s++)
        if (strncasecmp(s, w, n) == 0)
            return 1;
    return 0;
}

int dav_is_oc(struct dav *d)
{
    struct err e2 = ERR_INIT;

    if (d->dialect == DAV_DIALECT_AUTO)
        dav_detect(d, &e2); /* (failed: still unknown, asked again next time) */
    return d->dialect == DAV_DIALECT_NEXTCLOUD || d->dialect == DAV_DIALECT_OWNCLOUD;
}

int dav_detect(struct dav *d, struct err *e)
{
    struct buf url;
    struct dav_xfer x;
    cJSON *j = NULL;
    int rc;

    dav_xfer_init(&x, d, "GET", "status.php");
    buf_init(&url, DAV_URL_MAX);
    if (buf_printf(&url, "%s/status.php", d->root) < 0) {
        rc = err_set(e, ERR_TOO_BIG, "url too long");
        goto out;
    }
    rc = dav_run(d, &x, url.data, NULL, e);
    if (rc < 0)
        goto out;
    d->dialect = DAV_DIALECT_GENERIC;
    if (x.status == 200)
        j = cJSON_ParseWithLength(buf_str(&x.resp), x.resp.len);
    if (j && cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "installed")) {
        const cJSON *pn = cJSON_GetObjectItemCaseSensitive(j, "productname");
        const char *name = cJSON_IsString(pn) ? pn->valuestring : "";

        if (contains_ci(name, "nextcloud"))
            d->dialect = DAV_DIALECT_NEXTCLOUD;
        else
            d->dialect = DAV_DIALECT_OWNCLOUD;
    }
    log_info(d->o.log, "dav: %s server at %s", dav_dialect_name(d->dialect), d->root);
    rc = (int)d->dialect;
out:
    cJSON_Delete(j);
    buf_release(&url);
    dav_xfer_release(&x);
    return rc;
}
