/*
 * test_apply_batch: the Odoo calls of jobs running side by side are shared
 * (worker/apply_batch.c), with the real appliers in a pool of 8 against the
 * stack's Apache WebDAV and Odoo emulator.
 *
 * Every JSON-RPC call to the emulator is made to take 0.2 s here (its control
 * "delay_next"), as a real Odoo's do, so jobs meet while a call is in flight.
 *
 * 1. NUP small uploads of one document: every one is applied (the file is
 *    there with its content, the attachment became a url one); their
 *    attachments were read, content included, in fewer calls than jobs (each
 *    id once), so no upload downloaded its content on its own.
 * 2. NDEL Odoo deletes of one document: every attachment is gone, in fewer
 *    unlink calls than jobs (each id once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applytest.h"
#include "check.h"
#include "emutest.h"

#include "banned.h"

#define NUP 16
#define NDEL 12

int main(void)
{
    struct check_count cc = CHECK_INIT;
    struct at_env t;
    struct dav *dav = NULL;
    struct odoo *odoo = NULL;
    struct applier *ap = NULL;
    struct at_pool pl;
    struct pool_opts po;
    struct pool_stats ps;
    struct apply_stats st;
    struct job jobs[NUP + NDEL];
    long ids[NUP + NDEL], partner = 0;
    char root[128], path[256], content[128], type[16];
    struct err e = ERR_INIT;
    cJSON *vals;

    if (stackenv_load() < 0)
        return 1;
    at_env_init(&t, "batch");
    snprintf(root, sizeof(root), "/odoosync-test-batch-%d", (int)getpid());
    CHECK_MSG(&cc, at_apply_open(&t, &dav, &odoo, &ap, NULL, NULL, &e) == 0, "%s", e.msg);
    if (!dav || !odoo || !ap) {
        at_apply_close(dav, odoo, ap);
        return check_done(&cc);
    }
    vals = cJSON_CreateObject();
    cJSON_AddStringToObject(vals, "name", "Batched Partner");
    CHECK_MSG(&cc, odoo_create(odoo, "res.partner", vals, &partner, &e) == 0, "%s", e.msg);
    cJSON_Delete(vals);
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

    pool_opts_init(&po);
    po.concurrency = 8;
    po.apply = apply_job;
    po.apply_ud = ap;
    CHECK_MSG(&cc, at_pool_new(&pl, &po, &t, &e) == 0, "%s", e.msg);
    for (int i = 0; i < NUP + NDEL; i++)
        CHECK_INT(&cc, at_pool_send(&pl, &jobs[i]), 0);
    CHECK_INT(&cc,
              emu_control(getenv("ODOO_URL"), "{\"delay_next\": {\"seconds\": 0.2, \"count\": 60, "
                                              "\"path\": \"/jsonrpc\"}}"),
              200);
    CHECK_INT(&cc, at_pool_start(&pl), 0);
    CHECK_INT(&cc, at_pool_wait(&pl, 120000), 0);
    pool_get_stats(pl.p, &ps);
    apply_get_stats(ap, &st);
    printf("applied %ld of %d; reads %ld for %ld ids, with content %ld for %ld ids, unlinks %ld "
           "for %ld ids\n",
           ps.applied, NUP + NDEL, st.reads, st.read_ids, st.content_reads, st.content_ids,
           st.unlinks, st.unlink_ids);
    CHECK_INT(&cc, ps.applied, NUP + NDEL);
    CHECK_INT(&cc, ps.retried + ps.dead, 0);

    /* 1. uploads: done, their contents read with their records, in shared calls */
    for (int i = 0; i < NUP; i++) {
        struct dav_stat ds;

        memset(&ds, 0, sizeof(ds));
        CHECK_INT(&cc, at_att_type(odoo, ids[i], type, sizeof(type), &e), 0);
        CHECK_MSG(&cc, strcmp(type, "url") == 0, "attachment %ld is %s", ids[i], type);
        CHECK_INT(&cc, dav_stat(dav, jobs[i].path, &ds, &e), 0);
        CHECK(&cc, ds.size == jobs[i].size);
        dav_stat_release(&ds);
    }
    CHECK_INT(&cc, st.content_ids, NUP);
    CHECK(&cc, st.content_reads < NUP);
    CHECK(&cc, st.reads < st.read_ids);
    /* 2. deletes: gone, in shared unlinks (their re-reads shared too) */
    for (int i = NUP; i < NUP + NDEL; i++) {
        CHECK_INT(&cc, at_att_type(odoo, ids[i], type, sizeof(type), &e), 0);
        CHECK_MSG(&cc, type[0] == '\0', "attachment %ld is still there", ids[i]);
    }
    CHECK_INT(&cc, st.unlink_ids, NDEL);
    CHECK(&cc, st.unlinks < NDEL);
    CHECK_INT(&cc, st.read_ids, NDEL);

    /* the delays left over would slow other tests: use them up */
    for (int i = 0; i < 80; i++) {
        long long t0 = at_now_ms();
        long n = 0;

        odoo_search_count(odoo, "res.partner", NULL, &n, &e);
        if (at_now_ms() - t0 < 150)
            break;
    }
    at_pool_free(&pl);
    for (int i = 0; i < NUP + NDEL; i++)
        job_release(&jobs[i]);
    dav_delete(dav, root, NULL, &e);
    at_apply_close(dav, odoo, ap);
    return check_done(&cc);
}
