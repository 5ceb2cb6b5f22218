/*
 * test_job_scope: which jobs of one document may run side by side
 * (common/job_scope.c): the folder jobs the planner makes (mkdir, a folder's
 * rename or move, its delete, a merge's moves from another folder, a record
 * taking a freed place) never overlap anything; file jobs inside the folder
 * overlap unless they share a file, an attachment, or a plan version; and
 * what a file job locks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "job.h"

#include "banned.h"

#define D "/Odoo/Orders/S1"

static struct check_count cc = CHECK_INIT;

static void mk(struct job *j, enum job_kind k, enum job_side s, const char *lock, const char *path,
               const char *to, long att)
{
    job_init(j);
    j->kind = k;
    j->side = s;
    j->version = 7;
    j->lock = lock ? strdup(lock) : NULL;
    j->path = path ? strdup(path) : NULL;
    j->to = to ? strdup(to) : NULL;
    j->att_id = att;
}

int main(void)
{

    struct job j[16];
    const char *files[2];
    char buf[40];
    int n = 0;

    /* folder jobs */
    mk(&j[n++], JOB_MKDIR, JOB_SIDE_CLOUD, D, D, NULL, 0);                               /* 0 */
    mk(&j[n++], JOB_RENAME, JOB_SIDE_CLOUD, D, "/Odoo/Quotations/S1", D, 0);             /* 1 */
    mk(&j[n++], JOB_DELETE, JOB_SIDE_CLOUD, D, D, NULL, 0);                              /* 2 */
    mk(&j[n++], JOB_RENAME, JOB_SIDE_CLOUD, D, "/Odoo/Orders/Old/a.txt", D "/a.txt", 0); /* 3 */
    mk(&j[n++], JOB_UPLOAD, JOB_SIDE_CLOUD, D, "/Odoo/Orders/S2/b.txt", NULL, 5);        /* 4 */
    mk(&j[n++], JOB_DELETE, JOB_SIDE_ODOO, D, NULL, NULL, 0);                            /* 5 */
    /* file jobs */
    mk(&j[n++], JOB_UPLOAD, JOB_SIDE_CLOUD, D, D "/a.txt", NULL, 11);      /* 6 */
    mk(&j[n++], JOB_UPLOAD, JOB_SIDE_CLOUD, D, D "/b.txt", NULL, 12);      /* 7 */
    mk(&j[n++], JOB_DELETE, JOB_SIDE_CLOUD, D, D "/sub", NULL, 0);         /* 8 */
    mk(&j[n++], JOB_RELINK, JOB_SIDE_ODOO, D, D "/sub/x.txt", NULL, 0);    /* 9 */
    mk(&j[n++], JOB_RENAME, JOB_SIDE_ODOO, D, D "/c.txt", NULL, 11);       /* 10 */
    mk(&j[n++], JOB_DELETE, JOB_SIDE_ODOO, D, NULL, NULL, 13);             /* 11 */
    mk(&j[n++], JOB_RENAME, JOB_SIDE_CLOUD, D, D "/d.txt", D "/b.txt", 0); /* 12 */
    mk(&j[n++], JOB_UPLOAD, JOB_SIDE_CLOUD, D, D "/e.txt", NULL, 14);      /* 13 */
    j[13].version = 8;                                                     /* a later plan */

    for (int i = 0; i < 6; i++)
        CHECK_MSG(&cc, !job_is_file_job(&j[i]), "job %d is a folder job", i);
    for (int i = 6; i < n; i++)
        CHECK_MSG(&cc, job_is_file_job(&j[i]), "job %d is a file job", i);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 6; k++)
            CHECK_MSG(&cc, !job_may_overlap(&j[i], &j[k]) && !job_may_overlap(&j[k], &j[i]),
                      "folder job %d overlaps %d", k, i);
    CHECK(&cc, job_may_overlap(&j[6], &j[7]));   /* two uploads */
    CHECK(&cc, job_may_overlap(&j[6], &j[8]));   /* an upload and a sub-folder's delete */
    CHECK(&cc, !job_may_overlap(&j[8], &j[9]));  /* a sub-folder and a file in it */
    CHECK(&cc, !job_may_overlap(&j[6], &j[10])); /* one attachment */
    CHECK(&cc, job_may_overlap(&j[10], &j[11]));
    CHECK(&cc, !job_may_overlap(&j[7], &j[12])); /* a rename onto b.txt */
    CHECK(&cc, job_may_overlap(&j[6], &j[12]));
    CHECK(&cc, !job_may_overlap(&j[6], &j[13])); /* another plan's */
    CHECK(&cc, !job_may_overlap(&j[6], &j[6]));

    CHECK_INT(&cc, job_lock_files(&j[12], files, buf, sizeof(buf)), 2);
    CHECK(&cc, strcmp(files[0], D "/d.txt") == 0 && strcmp(files[1], D "/b.txt") == 0);
    CHECK_INT(&cc, job_lock_files(&j[11], files, buf, sizeof(buf)), 1);
    CHECK(&cc, strcmp(files[0], "att:13") == 0);
    for (int i = 0; i < n; i++)
        job_release(&j[i]);
    return check_done(&cc);
}
