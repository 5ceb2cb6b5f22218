/*
 * test_apply_bulk: small uploads running side by side go to a Nextcloud in
 * bulk requests (worker/apply_bulk.c), with the real appliers in a pool of 8
 * against the stack's Nextcloud-like server (ncdav.py, which implements the
 * bulk endpoint as Nextcloud 27 does: it replaces a file already there) and the
 * Odoo emulator, each of whose JSON-RPC calls is made to take 0.2 s so that
 * jobs meet.
 *
 * NUP uploads into one document folder:
 *  - every file lands with its content and its tag, every attachment becomes a
 *    url one (its web link names the file's id);
 *  - they went in fewer bulk requests than files;
 *  - a person saves a file of their own at the path of upload TAKEN just before
 *    its upload: the person's content is still there afterwards, and the
 *    attachment keeps its content in Odoo. When TAKEN shares a request (most
 *    runs: the printed "alone" count is then 1), the listing before it saw the
 *    name taken and left it out (the request would have replaced the person's
 *    file: without the listing this check fails); when it leads alone, its
 *    create-only PUT is refused (412). Either way it is judged someone else's
 *    file.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applytest.h"
#include "check.h"
#include "emutest.h"

#include "banned.h"

#define NUP 24
#define TAKEN 3
#define THEIRS "a person's own file, saved at this path meanwhile\n"

struct person {
    struct dav *dav; /* its own handle: the hook runs in a worker thread */
    const char *path;
    int saved;
};

static void save_before_put(const struct job *j, const char *what, void *ud)
{
    struct person *p = ud;
    struct err e = ERR_INIT;

    if (strcmp(what, "put") != 0 || strcmp(j->path, p->path) != 0 || p->saved)
        return;
    if (dav_put_buf(p->dav, p->path, THEIRS, strlen(THEIRS), NULL, 1, NULL, &e) == 0)
        p->saved = 1;
    else
        fprintf(stderr, "the person's save: %s\n", e.msg);
}

static char *get_all(struct dav *d, const char *path, struct err *e)
{
    struct buf b;
    char *out = NULL;

    buf_init(&b, 1 << 20);
    if (dav_get_buf(d, path, &b, e) == 0)
        out = strndup(b.data ? b.data : "", b.len);
    buf_release(&b);
    return out;
}

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct at_env t;
    struct dav *dav = NULL;
    struct odoo *odoo = NULL;
    struct applier *ap = NULL;
    struct at_pool pl;
    struct pool_stats ps;
    struct apply_stats st;
    struct person person = {NULL, NULL, 0};
    struct job jobs[NUP];
    long ids[NUP], partner = 0;
    char root[128], path[256], content[128], type[16];
    struct err e = ERR_INIT;

    if (stackenv_load() < 0)
        return 1;
    at_env_init(&t, "bulk");
    t.dav.url = getenv("NCDAV_URL");
    t.dav.user = getenv("NCDAV_USER");
    t.dav.password = getenv("NCDAV_PASSWORD");
    snprintf(root, sizeof(root), "/odoosync-test-bulk-%d", (int)getpid());
    CHECK_MSG(
        &cc,
        at_apply_open_hooked(&t, &dav, &odoo, &ap, NULL, NULL, save_before_put, &person, &e) == 0,
        "%s", e.msg);
    person.dav = dav_new(&t.dav, &e);
    if (!dav || !odoo || !ap || !person.dav) {
        dav_free(person.dav);
        at_apply_close(dav, odoo, ap);
        return check_done(&cc);
    }
    CHECK_MSG(&cc, at_partner(odoo, "Bulk Partner", &partner, &e) == 0, "%s", e.msg);
    CHECK_MSG(&cc, dav_mkcol(dav, root, 1, NULL, &e) == 0, "%s", e.msg);
    for (int i = 0; i < NUP; i++) {
        snprintf(content, sizeof(content), "content of file %d of %s\n", i, root);
        snprintf(path, sizeof(path), "%s/f%02d.txt", root, i);
        CHECK_MSG(&cc, at_attach(odoo, partner, path + strlen(root) + 1, content, &ids[i], &e) == 0,
                  "%s", e.msg);
        at_job_upload(&jobs[i], dav, root, path, ids[i], content, 1);
    }
    person.path = jobs[TAKEN].path;

    CHECK_MSG(&cc, at_pool_of(&pl, ap, &t, jobs, NUP, &e) == 0, "%s", e.msg);
    CHECK_INT(&cc,
              emu_control(getenv("ODOO_URL"), "{\"delay_next\": {\"seconds\": 0.2, \"count\": 80, "
                                              "\"path\": \"/jsonrpc\"}}"),
              200);
    CHECK_INT(&cc, at_pool_start(&pl), 0);
    CHECK_INT(&cc, at_pool_wait(&pl, 120000), 0);
    pool_get_stats(pl.p, &ps);
    apply_get_stats(ap, &st);
    printf("applied %ld of %d, retried %ld, dead %ld; bulk requests %ld for %ld files, %ld alone\n",
           ps.applied, NUP, ps.retried, ps.dead, st.bulk_posts, st.bulk_files, st.bulk_alone);
    CHECK_INT(&cc, person.saved, 1);

    for (int i = 0; i < NUP; i++) {
        struct dav_stat ds;
        char *got;

        memset(&ds, 0, sizeof(ds));
        snprintf(content, sizeof(content), "content of file %d of %s\n", i, root);
        got = get_all(dav, jobs[i].path, &e);
        CHECK_INT(&cc, at_att_type(odoo, ids[i], type, sizeof(type), &e), 0);
        if (i == TAKEN) { /* never replaced: the person's file, the content still in Odoo */
            CHECK_MSG(&cc, got && strcmp(got, THEIRS) == 0, "%s holds \"%s\"", jobs[i].path,
                      got ? got : "(nothing)");
            CHECK_MSG(&cc, strcmp(type, "binary") == 0, "attachment %ld is %s", ids[i], type);
            free(got);
            continue;
        }
        CHECK_MSG(&cc, got && strcmp(got, content) == 0, "%s holds \"%s\"", jobs[i].path,
                  got ? got : "(nothing)");
        free(got);
        CHECK_MSG(&cc, strcmp(type, "url") == 0, "attachment %ld is %s", ids[i], type);
        CHECK_INT(&cc, dav_stat(dav, jobs[i].path, &ds, &e), 0);
        snprintf(content, sizeof(content), "%ld", ids[i]);
        CHECK_MSG(&cc, ds.attachment_tag && strcmp(ds.attachment_tag, content) == 0,
                  "%s is tagged %s", jobs[i].path, ds.attachment_tag ? ds.attachment_tag : "-");
        dav_stat_release(&ds);
    }
    CHECK_INT(&cc, ps.dead + ps.retried > 0, 1); /* the taken one: someone else's file */
    CHECK(&cc, st.bulk_posts >= 1);
    CHECK(&cc, st.bulk_files > st.bulk_posts);

    at_use_up_delays(odoo, 100);
    at_pool_free(&pl);
    for (int i = 0; i < NUP; i++)
        job_release(&jobs[i]);
    dav_delete(dav, root, NULL, &e);
    dav_free(person.dav);
    at_apply_close(dav, odoo, ap);
    return check_done(&cc);
}
