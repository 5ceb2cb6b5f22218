/*
 * link: the urls a url attachment may hold for a cloud file, besides its
 * WebDAV address (the DAV base + the percent-encoded path, plan.h and dav.h):
 * the server's web link. On Nextcloud and ownCloud a file has a file id
 * (oc:fileid), stable across renames and moves, and the web server answers
 * "<server root>/index.php/f/<fileid>" by opening the file in the Files app
 * for any user who can see it (the owner, or a colleague it is shared with),
 * where the WebDAV address of the sync account answers them 404 or a login
 * prompt. "/index.php/f/" works with and without Nextcloud's pretty URLs
 * ("/f/<id>" alone is 404 where the web server does not rewrite).
 *
 * Which form odoosync writes is cloud.link_form: auto (the web link where the
 * server gives file ids, else the WebDAV address), web (the same, and a pass
 * says when a file has no id to link to), dav (always the WebDAV address).
 * Whatever it writes, a url in any of these forms is recognised:
 *   - the WebDAV address (plan_path_for_url, dav_href_decode);
 *   - "<root>/f/<id>" and "<root>/index.php/f/<id>" (a trailing '/', a query or
 *     a fragment ignored), and Nextcloud's Files app links, "<root>[/index.php]
 *     /apps/files/files/<id>?..." and "<root>[/index.php]/apps/files/?dir=<dir>
 *     [&fileid=<id>|&openfile=<id>][&scrollto=<name>]": the file id when the
 *     link has one, else the path dir (+ "/" + scrollto), relative to the sync
 *     account's files (the DAV base's part below it is removed).
 *
 * Pure string functions: no I/O. Strings returned are malloc'd (NULL when
 * out of memory, or when there is nothing to return).
 */
#ifndef ODOOSYNC_LINK_H
#define ODOOSYNC_LINK_H

#include <stddef.h>

enum link_form { LINK_FORM_AUTO = 0, LINK_FORM_WEB, LINK_FORM_DAV };

#define LINK_FILEID_MAX 32

/*
 * A file id as the web link takes it: oc:fileid ("16") as is, Nextcloud's
 * OC-FileId header ("00000016ocp23wgxev53": the id padded to 8 digits and the
 * instance id) as its number ("16"). 1 with out set, 0 when in holds no id.
 */
int link_fileid_norm(const char *in, char out[LINK_FILEID_MAX]);

/* The server root of a DAV base url: what precedes "/remote.php", else scheme://host. */
char *link_server_root(const char *dav_base);

/* "<root>/index.php/f/<id>" for a file id (normalised); NULL if it holds no id. */
char *link_web(const char *root, const char *fileid);

enum link_web_kind {
    LINK_NOT_WEB = 0, /* not a web link of this server */
    LINK_WEB_ID,      /* names a file id (fileid set) */
    LINK_WEB_PATH     /* names a path (*path: decoded, under the DAV base, "/a/b") */
};

/* Percent-decodes s[0..n) ('+' is a space when query) into a new string; NULL when
 * malformed (a bad escape, %00) or out of memory (*nomem set). */
char *link_pct_decode(const char *s, size_t n, int query, int *nomem);

/*
 * What a web link of the server of dav_base names. fileid (LINK_FILEID_MAX
 * bytes) gets the file id; *path (LINK_WEB_PATH) is malloc'd. A url outside the
 * DAV base's tree, or malformed, is LINK_NOT_WEB. -1 when out of memory.
 */
int link_parse_web(const char *dav_base, const char *url, char *fileid, char **path);

#endif
