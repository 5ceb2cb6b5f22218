/*
 * test_apply_names: the appliers' part in names that are taken (plan.h), with
 * the real appliers against the stack's Apache WebDAV and Odoo emulator.
 *
 * 1. no worker makes a document folder on another job's behalf: an upload whose
 *    document folder is missing (its record's rename failed and waits for a
 *    retry) fails with ERR_RETRY and creates nothing (the attachment stays
 *    binary); a move of a merge into a missing document folder likewise;
 * 2. a delete that expects a folder empty (expect.checksum = JOB_SHA1_EMPTY, a
 *    folder a merge emptied) keeps a folder that is not (skipped, the file
 *    stays), and deletes it once it is;
 *    A folder whose only member has a control character in its name (left out of
 *    every listing, never touched) is not empty either;
 * 3. a MOVE of a folder with a file a client holds a WebDAV LOCK on (Apache
 *    answers 424 Failed Dependency) fails with ERR_RETRY, and succeeds after
 *    UNLOCK;
 * 4. a folder move whose source is gone and whose target is another record's
 *    folder (the last move of a swap whose first one waits) is skipped, not
 *    reported done.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "applytest.h"
#include "check.h"

#include "banned.h"

struct ctx {
    struct check_count *cc;
    struct at_env t;
    struct dav *dav;
    struct odoo *odoo;
    struct applier *ap;
    long partner;
    char root[128];
    enum job_result last;
};

static void on_event(const struct job *j, const struct job_event *ev, void *ud)
{
    struct ctx *x = ud;

    (void)j;
    x->last = ev->result;
}

static int exists(struct ctx *x, const char *path)
{
    struct dav_stat st;
    struct err e = ERR_INIT;
    int rc;

    memset(&st, 0, sizeof(st));
    rc = dav_stat(x->dav, path, &st, &e);
    dav_stat_release(&st);
    return rc == 0;
}

static void test_no_folder_made(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct err e = ERR_INIT;
    char doc[256], path[320], to[320], from[320], type[16];
    struct job j;
    long att = 0;
    int rc;

    snprintf(doc, sizeof(doc), "%s/Customers/Agrolait Group", x->root);
    snprintf(path, sizeof(path), "%s/b.txt", doc);
    CHECK_INT(cc, at_attach(x->odoo, x->partner, "b.txt", "two", &att, &e), 0);
    at_job_upload(&j, x->dav, doc, path, att, "two", 1);
    snprintf(to, sizeof(to), "res.partner,%ld", x->partner);
    j.record = strdup(to);
    job_make_id(&j);
    rc = apply_job(&j, x->ap, &e);
    CHECK_MSG(cc, rc == ERR_RETRY, "upload into a missing document folder: %d %s", rc, e.msg);
    CHECK_MSG(cc, !exists(x, doc), "the upload made \"%s\"", doc);
    CHECK_INT(cc, at_att_type(x->odoo, att, type, sizeof(type), &e), 0);
    CHECK_STR(cc, type, "binary");
    job_release(&j);

    /* a merge's move into the adopted folder, which is not there */
    snprintf(from, sizeof(from), "%s/Customers/Agrolait/a.txt", x->root);
    snprintf(to, sizeof(to), "%s/a.txt", doc);
    snprintf(path, sizeof(path), "%s/Customers/Agrolait", x->root);
    CHECK_MSG(cc, dav_mkcol(x->dav, path, 1, NULL, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, dav_put_buf(x->dav, from, "one", 3, NULL, 1, NULL, &e), 0);
    at_job_cloud(&j, JOB_RENAME, doc, from, to, NULL, 1);
    err_clear(&e);
    rc = apply_job(&j, x->ap, &e);
    CHECK_MSG(cc, rc == ERR_RETRY, "merge move into a missing folder: %d %s", rc, e.msg);
    CHECK_MSG(cc, !exists(x, doc), "the move made \"%s\"", doc);
    CHECK(cc, exists(x, from));
    job_release(&j);
}

static void test_delete_if_empty(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct err e = ERR_INIT;
    char old[256], file[320];
    struct job j;
    int rc;

    snprintf(old, sizeof(old), "%s/Customers/Old", x->root);
    snprintf(file, sizeof(file), "%s/late.txt", old);
    CHECK_MSG(cc, dav_mkcol(x->dav, old, 1, NULL, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, dav_proppatch(x->dav, old, "record", "res.partner,1", &e), 0);
    CHECK_INT(cc, dav_put_buf(x->dav, file, "came in late", 12, NULL, 1, NULL, &e), 0);
    at_job_cloud(&j, JOB_DELETE, old, old, NULL, NULL, 1);
    j.record = strdup("res.partner,1");
    j.expect.checksum = strdup(JOB_SHA1_EMPTY);
    job_make_id(&j);
    x->last = JOB_APPLIED;
    rc = apply_job(&j, x->ap, &e);
    CHECK_MSG(cc, rc == 0, "%d %s", rc, e.msg);
    CHECK_INT(cc, x->last, JOB_SKIPPED);
    CHECK_MSG(cc, exists(x, file), "\"%s\" was deleted with its folder", file);

    CHECK_INT(cc, dav_delete(x->dav, file, NULL, &e), 0);
    rc = apply_job(&j, x->ap, &e);
    CHECK_MSG(cc, rc == 0, "%d %s", rc, e.msg);
    CHECK_INT(cc, x->last, JOB_APPLIED);
    CHECK(cc, !exists(x, old));
    job_release(&j);
}

static size_t keep_header(char *b, size_t size, size_t n, void *ud)
{
    char *token = ud;
    size_t len = size * n;

    if (len > 12 && strncasecmp(b, "Lock-Token:", 11) == 0) {
        size_t i = 11, k = 0;

        while (i < len && b[i] == ' ')
            i++;
        while (i < len && b[i] != '\r' && b[i] != '\n' && k < 255)
            token[k++] = b[i++];
        token[k] = '\0';
    }
    return len;
}

static size_t drop_body(char *b, size_t size, size_t n, void *ud)
{
    (void)b;
    (void)ud;
    return size * n;
}

/*
 * LOCK (exclusive, write; token: 256 bytes, "" when refused) or UNLOCK (token
 * given) of path, as another WebDAV client (a desktop client holding the file open).
 */
static long lock_req(struct ctx *x, const char *path, char *token, int unlock)
{
    static const char body[] = "<?xml version=\"1.0\"?><d:lockinfo xmlns:d=\"DAV:\">"
                               "<d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/>"
                               "</d:locktype><d:owner>a desktop client</d:owner></d:lockinfo>";
    struct curl_slist *h = NULL;
    struct buf url, hv;
    struct err e = ERR_INIT;
    long status = 0;
    CURL *cu = curl_easy_init();

    buf_init(&url, 8192);
    buf_init(&hv, 512);
    if (!cu || dav_path_to_url(x->dav, path, &url, &e) < 0) {
        curl_easy_cleanup(cu);
        buf_release(&url);
        return 0;
    }
    if (unlock) {
        buf_printf(&hv, "Lock-Token: %s", token);
        h = curl_slist_append(h, buf_str(&hv));
        curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, "UNLOCK");
    } else {
        token[0] = '\0';
        h = curl_slist_append(h, "Content-Type: application/xml");
        h = curl_slist_append(h, "Timeout: Second-600");
        curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, "LOCK");
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, keep_header);
        curl_easy_setopt(cu, CURLOPT_HEADERDATA, token);
    }
    curl_easy_setopt(cu, CURLOPT_URL, buf_str(&url));
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(cu, CURLOPT_USERNAME, x->t.dav.user);
    curl_easy_setopt(cu, CURLOPT_PASSWORD, x->t.dav.password);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, drop_body);
    if (curl_easy_perform(cu) == CURLE_OK)
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(cu);
    buf_release(&url);
    buf_release(&hv);
    return status;
}

/* A request on the member `enc` (already percent-encoded: "tab%09name.txt") of folder dir,
 * as another WebDAV client: our paths cannot hold a control character. The status, 0. */
static long raw_req(struct ctx *x, const char *dir, const char *enc, const char *method,
                    const char *body)
{
    struct buf url;
    struct err e = ERR_INIT;
    long status = 0;
    CURL *cu = curl_easy_init();

    buf_init(&url, 8192);
    if (!cu || dav_path_to_url(x->dav, dir, &url, &e) < 0 || buf_printf(&url, "/%s", enc) < 0) {
        curl_easy_cleanup(cu);
        buf_release(&url);
        return 0;
    }
    curl_easy_setopt(cu, CURLOPT_URL, buf_str(&url));
    curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(cu, CURLOPT_USERNAME, x->t.dav.user);
    curl_easy_setopt(cu, CURLOPT_PASSWORD, x->t.dav.password);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, drop_body);
    if (curl_easy_perform(cu) == CURLE_OK)
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(cu);
    buf_release(&url);
    return status;
}

/* A folder whose only member's name holds a tab is not empty: that file is never touched. */
static void test_delete_if_empty_left_out(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct err e = ERR_INIT;
    char old[256];
    struct job j;
    long st;
    int rc;

    snprintf(old, sizeof(old), "%s/Customers/Older", x->root);
    CHECK_MSG(cc, dav_mkcol(x->dav, old, 1, NULL, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, dav_proppatch(x->dav, old, "record", "res.partner,1", &e), 0);
    st = raw_req(x, old, "tab%09name.txt", "PUT", "tabbed");
    CHECK_MSG(cc, st == 201 || st == 204, "PUT tab%%09name.txt: %ld", st);
    at_job_cloud(&j, JOB_DELETE, old, old, NULL, NULL, 1);
    j.record = strdup("res.partner,1");
    j.expect.checksum = strdup(JOB_SHA1_EMPTY);
    job_make_id(&j);
    x->last = JOB_APPLIED;
    rc = apply_job(&j, x->ap, &e);
    CHECK_MSG(cc, rc == 0, "%d %s", rc, e.msg);
    CHECK_INT(cc, x->last, JOB_SKIPPED);
    CHECK_INT(cc, raw_req(x, old, "tab%09name.txt", "HEAD", NULL), 200);
    job_release(&j);
}

static void test_locked_member(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct err e = ERR_INIT;
    char a[256], b[256], file[320], token[256];
    struct job j;
    int rc;

    snprintf(a, sizeof(a), "%s/Customers/Wood Corner", x->root);
    snprintf(b, sizeof(b), "%s/Customers/Wood Corner Group", x->root);
    snprintf(file, sizeof(file), "%s/open.txt", a);
    CHECK_MSG(cc, dav_mkcol(x->dav, a, 1, NULL, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, dav_put_buf(x->dav, file, "open", 4, NULL, 1, NULL, &e), 0);
    CHECK_INT(cc, lock_req(x, file, token, 0), 200);
    CHECK_MSG(cc, token[0] == '<', "LOCK \"%s\": no token", file);
    at_job_cloud(&j, JOB_RENAME, b, a, b, NULL, 1);
    rc = apply_job(&j, x->ap, &e);
    CHECK_MSG(cc, rc == ERR_RETRY, "MOVE of a folder with a locked file: %d %s", rc, e.msg);
    CHECK(cc, exists(x, a) && !exists(x, b));
    CHECK_INT(cc, lock_req(x, file, token, 1), 204);
    err_clear(&e);
    rc = apply_job(&j, x->ap, &e);
    CHECK_MSG(cc, rc == 0, "after UNLOCK: %d %s", rc, e.msg);
    CHECK(cc, !exists(x, a) && exists(x, b));
    job_release(&j);
}

/*
 * The last move of a swap (temporary name -> its place) whose first move waits for
 * a retry: its source is not there yet and its target is still the other record's
 * folder. Superseded (skipped), not "already done".
 */
static void test_swap_target_not_yet_free(struct ctx *x)
{
    struct check_count *cc = x->cc;
    struct err e = ERR_INIT;
    char tmp[256], y[256];
    struct job j;
    int rc;

    snprintf(tmp, sizeof(tmp), "%s/Customers/~odoosync-swap res.partner,1", x->root);
    snprintf(y, sizeof(y), "%s/Customers/Y", x->root);
    CHECK_MSG(cc, dav_mkcol(x->dav, y, 1, NULL, &e) == 0, "%s", e.msg);
    CHECK_INT(cc, dav_proppatch(x->dav, y, "record", "res.partner,2", &e), 0);
    at_job_cloud(&j, JOB_RENAME, y, tmp, y, NULL, 1);
    j.record = strdup("res.partner,1");
    job_make_id(&j);
    x->last = JOB_APPLIED;
    rc = apply_job(&j, x->ap, &e);
    CHECK_MSG(cc, rc == 0, "%d %s", rc, e.msg);
    CHECK_INT(cc, x->last, JOB_SKIPPED);
    job_release(&j);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct ctx x;
    struct err e = ERR_INIT;
    cJSON *vals;

    if (stackenv_load() < 0)
        return 1;
    memset(&x, 0, sizeof(x));
    x.cc = &cc;
    at_env_init(&x.t, "names");
    snprintf(x.root, sizeof(x.root), "/odoosync-test-names-%d", (int)getpid());
    CHECK_MSG(&cc, at_apply_open(&x.t, &x.dav, &x.odoo, &x.ap, on_event, &x, &e) == 0, "%s", e.msg);
    if (!x.dav || !x.odoo || !x.ap) {
        at_apply_close(x.dav, x.odoo, x.ap);
        return check_done(&cc);
    }
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", "Agrolait Group");
    cJSON_AddNumberToObject(vals, "customer_rank", 1);
    CHECK_MSG(&cc, odoo_create(x.odoo, "res.partner", vals, &x.partner, &e) == 0, "%s", e.msg);
    cJSON_Delete(vals);
    CHECK_MSG(&cc, dav_mkcol(x.dav, x.root, 1, NULL, &e) == 0, "%s", e.msg);

    test_no_folder_made(&x);
    test_delete_if_empty(&x);
    test_delete_if_empty_left_out(&x);
    test_locked_member(&x);
    test_swap_target_not_yet_free(&x);

    dav_delete(x.dav, x.root, NULL, &e);
    at_apply_close(x.dav, x.odoo, x.ap);
    return check_done(&cc);
}
