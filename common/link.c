/*
 * link: the server's web link of a cloud file (see link.h): building
 * "<root>/index.php/f/<id>" and reading back every web form Nextcloud and
 * ownCloud give out, to a file id or to a path under the DAV base.
 */
#include "link.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

#include "banned.h"

int link_fileid_norm(const char *in, char out[LINK_FILEID_MAX])
{
    size_t n = 0;

    if (!in)
        return 0;
    while (*in == '0' && in[1] >= '0' && in[1] <= '9')
        in++;
    for (; in[n] >= '0' && in[n] <= '9'; n++)
        if (n + 1 >= LINK_FILEID_MAX)
            return 0;
    if (n == 0)
        return 0;
    memcpy(out, in, n);
    out[n] = '\0';
    return 1;
}

/* Where the host ends in url (its first '/' after "://"), or NULL. */
static const char *path_start(const char *url)
{
    const char *s = strstr(url, "://");

    return s ? strchr(s + 3, '/') : NULL;
}

char *link_server_root(const char *dav_base)
{
    const char *p = dav_base ? path_start(dav_base) : NULL, *rp;

    if (!dav_base)
        return NULL;
    if (!p)
        return strdup(dav_base);
    rp = strstr(p, "/remote.php");
    return strndup(dav_base, (size_t)((rp ? rp : p) - dav_base));
}

char *link_web(const char *root, const char *fileid)
{
    char id[LINK_FILEID_MAX];
    struct buf b;
    size_t n;

    if (!root || !link_fileid_norm(fileid, id))
        return NULL;
    n = strlen(root);
    while (n > 0 && root[n - 1] == '/')
        n--;
    buf_init(&b, 64 * 1024);
    if (buf_append(&b, root, n) < 0 || buf_printf(&b, "/index.php/f/%s", id) < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *link_pct_decode(const char *s, size_t n, int query, int *nomem)
{
    char *out = malloc(n + 1);
    size_t o = 0;

    if (!out) {
        *nomem = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h = i + 2 < n + 1 ? hexval(s[i + 1]) : -1, l = h < 0 ? -1 : hexval(s[i + 2]);

            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[o++] = query && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Digits at s, then the end, '/', '?' or '#': the id into fileid. */
static int id_at(const char *s, char *fileid)
{
    size_t n = strspn(s, "0123456789");

    if (n == 0 || !(s[n] == '\0' || s[n] == '/' || s[n] == '?' || s[n] == '#'))
        return 0;
    return link_fileid_norm(s, fileid);
}

/*
 * The DAV base's path below the sync account's files, decoded, without a trailing
 * '/' ("" when the base is the files root itself, or not a Nextcloud / ownCloud url).
 */
static char *files_offset(const char *dav_base, int *nomem)
{
    const char *p = path_start(dav_base), *s;
    size_t n;

    if (p && (s = strstr(p, "/remote.php/dav/files/")) != NULL) {
        s += strlen("/remote.php/dav/files/");
        s += strcspn(s, "/");
    } else if (p && (s = strstr(p, "/remote.php/webdav")) != NULL) {
        s += strlen("/remote.php/webdav");
    } else {
        s = "";
    }
    n = strcspn(s, "?#");
    while (n > 0 && s[n - 1] == '/')
        n--;
    return link_pct_decode(s, n, 0, nomem);
}

/* The value of key in query q (up to '#'), decoded, or NULL. */
static char *param(const char *q, const char *key, int *nomem)
{
    size_t kn = strlen(key);

    while (*q && *q != '#') {
        size_t n = strcspn(q, "&#");

        if (n > kn && strncmp(q, key, kn) == 0 && q[kn] == '=')
            return link_pct_decode(q + kn + 1, n - kn - 1, 1, nomem);
        q += n;
        if (*q == '&')
            q++;
    }
    return NULL;
}

/* dir (+ "/" + name) relative to the DAV base, as a planner path ("/a/b"). */
static int dir_path(const char *dav_base, const char *dir, const char *name, char **path)
{
    int nomem = 0;
    char *off = files_offset(dav_base, &nomem);
    struct buf b;
    size_t on, n;
    int rc = LINK_NOT_WEB;

    if (!off)
        return nomem ? -1 : LINK_NOT_WEB;
    on = strlen(off);
    buf_init(&b, 64 * 1024);
    if (dir[0] != '/' || strncmp(dir, off, on) != 0 || (dir[on] != '\0' && dir[on] != '/'))
        goto out;
    dir += on;
    n = strlen(dir);
    while (n > 0 && dir[n - 1] == '/')
        n--;
    if (buf_puts(&b, "/") < 0 ||
        buf_append(&b, dir[0] == '/' ? dir + 1 : dir, n ? n - (dir[0] == '/') : 0) < 0) {
        rc = -1;
        goto out;
    }
    if (name && *name && !strchr(name, '/') &&
        ((b.len > 1 && buf_puts(&b, "/") < 0) || buf_puts(&b, name) < 0)) {
        rc = -1;
        goto out;
    }
    *path = buf_detach(&b);
    rc = *path ? LINK_WEB_PATH : -1;
out:
    buf_release(&b);
    free(off);
    return rc;
}

int link_parse_web(const char *dav_base, const char *url, char *fileid, char **path)
{
    char *root = link_server_root(dav_base), *v = NULL, *name = NULL;
    const char *r, *q;
    size_t n;
    int rc = LINK_NOT_WEB, nomem = 0;

    *path = NULL;
    fileid[0] = '\0';
    if (!root)
        return dav_base ? -1 : LINK_NOT_WEB;
    n = strlen(root);
    if (!url || strncasecmp(url, root, n) != 0 || url[n] != '/')
        goto out;
    r = url + n;
    if (strncmp(r, "/index.php/", 11) == 0)
        r += 10;
    if (strncmp(r, "/f/", 3) == 0) {
        rc = id_at(r + 3, fileid) ? LINK_WEB_ID : LINK_NOT_WEB;
        goto out;
    }
    if (strncmp(r, "/apps/files/files/", 18) == 0) {
        rc = id_at(r + 18, fileid) ? LINK_WEB_ID : LINK_NOT_WEB;
        goto out;
    }
    if (strncmp(r, "/apps/files", 11) != 0 || (r[11] != '/' && r[11] != '?'))
        goto out;
    q = strchr(r, '?');
    if (!q)
        goto out;
    q++;
    if (((v = param(q, "fileid", &nomem)) && id_at(v, fileid)) ||
        (free(v), (v = param(q, "openfile", &nomem)) && id_at(v, fileid))) {
        rc = LINK_WEB_ID;
        goto out;
    }
    free(v);
    v = param(q, "dir", &nomem);
    if (v) {
        name = param(q, "scrollto", &nomem);
        rc = nomem ? -1 : dir_path(dav_base, v, name, path);
    }
out:
    if (nomem)
        rc = -1;
    free(v);
    free(name);
    free(root);
    return rc;
}
