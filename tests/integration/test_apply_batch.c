/*
 * test_apply_batch: the Odoo calls of jobs running side by side are shared
 * (worker/apply_batch.c), with the real appliers in a pool of 8 against the
 * stack's Apache WebDAV and Odoo emulator.
 *
 * Every JSON-RPC call to the emulator is made to take 0.2 s here (its control
 * "delay_next"), as a real Odoo's do, so jobs meet while a call is in flight.
 *
 * 1. NUP small uploads of one document: every one is applied (the file is
 *    there with its content, the attachment became a url one holding its own
 *    url); their attachments were read, content included, in fewer calls than
 *    jobs (each id once), so no upload downloaded its content on its own, and
 *    turned into url ones in fewer calls than jobs (`load`, each id once).
 *    TMPDIR names a directory that does not exist: a content read with its
 *    record is spooled in memory, never in a temporary file.
 *    One of them (VICTIM) is deleted in Odoo just before its PUT: its url
 *    conversion fails, and a shared conversion it was part of keeps nothing
 *    (Odoo's `load`), so each of the others writes its own: none of them is
 *    retried or fails, and no content is lost.
 * 2. NDEL Odoo deletes of one document: every attachment is gone, in fewer
 *    unlink calls than jobs (each id once).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "applytest.h"
#include "check.h"
#include "emutest.h"

#include "banned.h"

#define NUP 16
#define NDEL 12
#define VICTIM 5 /* the upload whose attachment Odoo deletes just before its PUT */

/*
 * The first BARRIER uploads wait for each other before their PUT, so their conversions
 * come together; the victim's attachment is deleted there, and it comes a little later,
 * so that it is not the first to lead (alone): its conversion is shared with others.
 */
#define BARRIER 8

struct victim {
    struct odoo *odoo; /* its own connection: the hook runs in a worker thread */
    long att_id;
    int deleted;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived;
};

static void delete_before_put(const struct job *j, const char *what, void *ud)
{
    struct victim *v = ud;
    struct err e = ERR_INIT;
    struct timespec until;
    int me = j->att_id == v->att_id && !v->deleted;

    if (strcmp(what, "put") != 0)
        return;
    if (me) { /* after its re-read, before its PUT */
        if (odoo_unlink(v->odoo, "ir.attachment", &v->att_id, 1, &e) == 0)
            v->deleted = 1;
        else
            fprintf(stderr, "deleting the victim's attachment: %s\n", e.msg);
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&v->mu);
    if (v->arrived < BARRIER && ++v->arrived == BARRIER)
        pthread_cond_broadcast(&v->cv);
    while (v->arrived < BARRIER && pthread_cond_timedwait(&v->cv, &v->mu, &until) == 0)
        ;
    pthread_mutex_unlock(&v->mu);
    if (me)
        usleep(50000); /* not the first conversion, which leads alone */
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
    struct victim victim;
    struct job jobs[NUP + NDEL];
    long ids[NUP + NDEL], partner = 0;
    char root[128], path[256], content[128], type[16];
    struct err e = ERR_INIT;

    if (stackenv_load() < 0)
        return 1;
    /* no temporary file can be made: small uploads need none (the applier's tmpdir
     * option is NULL here, so the spool would go to $TMPDIR) */
    if (setenv("TMPDIR", "/nonexistent/odoosync-test-batch", 1) != 0)
        return 1;
    at_env_init(&t, "batch");
    memset(&victim, 0, sizeof(victim));
    pthread_mutex_init(&victim.mu, NULL);
    pthread_cond_init(&victim.cv, NULL);
    snprintf(root, sizeof(root), "/odoosync-test-batch-%d", (int)getpid());
    CHECK_MSG(
        &cc,
        at_apply_open_hooked(&t, &dav, &odoo, &ap, NULL, NULL, delete_before_put, &victim, &e) == 0,
        "%s", e.msg);
    victim.odoo = odoo_new(&t.odoo, &e);
    CHECK_MSG(&cc, victim.odoo && odoo_connect(victim.odoo, &e) == 0, "%s", e.msg);
    if (!dav || !odoo || !ap || !victim.odoo) {
        odoo_free(victim.odoo);
        at_apply_close(dav, odoo, ap);
        return check_done(&cc);
    }
    CHECK_MSG(&cc, at_partner(odoo, "Batched Partner", &partner, &e) == 0, "%s", e.msg);
    CHECK_MSG(&cc, dav_mkcol(dav, root, 1, NULL, &e) == 0, "%s", e.msg);
    for (int i = 0; i < NUP + NDEL; i++) {
        snprintf(content, sizeof(content), "content of file %d of %s\n", i, root);
        snprintf(path, sizeof(path), "%s/f%02d.txt", root, i);
        CHECK_MSG(&cc, at_attach(odoo, partner, path + strlen(root) + 1, content, &ids[i], &e) == 0,
                  "%s", e.msg);
        if (i < NUP) {
            at_job_upload(&jobs[i], dav, root, path, ids[i], content, 1);
        } else {
            at_job_base(&jobs[i], JOB_DELETE, JOB_SIDE_ODOO, root, path, 1);
            jobs[i].att_id = ids[i];
            job_make_id(&jobs[i]);
        }
    }

    victim.att_id = ids[VICTIM];
    CHECK_MSG(&cc, at_pool_of(&pl, ap, &t, jobs, NUP + NDEL, &e) == 0, "%s", e.msg);
    CHECK_INT(&cc,
              emu_control(getenv("ODOO_URL"), "{\"delay_next\": {\"seconds\": 0.2, \"count\": 60, "
                                              "\"path\": \"/jsonrpc\"}}"),
              200);
    CHECK_INT(&cc, at_pool_start(&pl), 0);
    CHECK_INT(&cc, at_pool_wait(&pl, 120000), 0);
    pool_get_stats(pl.p, &ps);
    apply_get_stats(ap, &st);
    printf("applied %ld of %d, retried %ld, dead %ld; reads %ld for %ld ids, with content %ld for "
           "%ld ids, unlinks %ld for %ld ids, url conversions %ld for %ld ids (%ld loads "
           "refused)\n",
           ps.applied, NUP + NDEL, ps.retried, ps.dead, st.reads, st.read_ids, st.content_reads,
           st.content_ids, st.unlinks, st.unlink_ids, st.url_writes, st.url_ids,
           st.url_loads_refused);
    CHECK_INT(&cc, ps.applied, NUP + NDEL);
    CHECK_INT(&cc, ps.dead, 0);
    CHECK_INT(&cc, victim.deleted, 1);
    CHECK(&cc, ps.retried <= 1); /* the victim's job alone: its conversion failed */

    /* 1. uploads: done, their contents read with their records, in shared calls; each
     * attachment holds its own url */
    for (int i = 0; i < NUP; i++) {
        struct dav_stat ds;
        cJSON *recs = NULL;
        static const char *const url_field[] = {"url", NULL};

        memset(&ds, 0, sizeof(ds));
        CHECK_INT(&cc, dav_stat(dav, jobs[i].path, &ds, &e), 0);
        CHECK(&cc, ds.size == jobs[i].size);
        dav_stat_release(&ds);
        CHECK_INT(&cc, at_att_type(odoo, ids[i], type, sizeof(type), &e), 0);
        if (i == VICTIM) {
            CHECK_MSG(&cc, type[0] == '\0', "the victim's attachment %ld is back", ids[i]);
            continue;
        }
        CHECK_MSG(&cc, strcmp(type, "url") == 0, "attachment %ld is %s", ids[i], type);
        CHECK_INT(&cc, odoo_read(odoo, "ir.attachment", &ids[i], 1, url_field, &recs, &e), 0);
        {
            const cJSON *u = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(recs, 0), "url");

            CHECK_MSG(&cc, cJSON_IsString(u) && strcmp(u->valuestring, jobs[i].url) == 0,
                      "attachment %ld holds %s, not %s", ids[i],
                      cJSON_IsString(u) ? u->valuestring : "(none)", jobs[i].url);
        }
        cJSON_Delete(recs);
    }
    CHECK(&cc, st.content_ids >= NUP);
    CHECK(&cc, st.content_reads < NUP);
    CHECK(&cc, st.reads < st.read_ids);
    CHECK(&cc, st.url_ids >= NUP - 1);
    CHECK(&cc, st.url_writes < NUP - 1);
    /* the victim's conversion was shared, and the `load` it was in kept nothing (then the
     * others wrote their own: none retried, above) */
    CHECK_INT(&cc, st.url_loads_refused, 1);
    /* 2. deletes: gone, in shared unlinks (their re-reads shared too) */
    for (int i = NUP; i < NUP + NDEL; i++) {
        CHECK_INT(&cc, at_att_type(odoo, ids[i], type, sizeof(type), &e), 0);
        CHECK_MSG(&cc, type[0] == '\0', "attachment %ld is still there", ids[i]);
    }
    CHECK_INT(&cc, st.unlink_ids, NDEL);
    CHECK(&cc, st.unlinks < NDEL);
    CHECK_INT(&cc, st.read_ids, NDEL);

    at_use_up_delays(odoo, 80);
    at_pool_free(&pl);
    for (int i = 0; i < NUP + NDEL; i++)
        job_release(&jobs[i]);
    dav_delete(dav, root, NULL, &e);
    odoo_free(victim.odoo);
    pthread_cond_destroy(&victim.cv);
    pthread_mutex_destroy(&victim.mu);
    at_apply_close(dav, odoo, ap);
    return check_done(&cc);
}
