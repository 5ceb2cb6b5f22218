/*
 * test_job_scope: which jobs of one document may run side by side
 * (common/job_scope.c): the folder jobs the planner makes (mkdir, a folder's
 * rename or move, its delete, a merge's moves from another folder, a record
 * taking a freed place) never overlap anything; file jobs inside the folder
 * overlap unless they share a file, an attachment, or a plan version; and
 * what a file job locks. Odoo's Documents app (one lock per mapping over a
 * nested tree): which of its jobs are file jobs, and the folders they hold.
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

/*
 * Odoo's Documents app: one lock per mapping (its base) over a nested tree. A mkdir inside
 * the base is a file job (the base's own is not); jobs overlap unless one's entry is, or
 * lies in, the other's; a job holds the folders its entries live in shared.
 */
#define B "/Odoo/Documents"
static void test_documents(void)
{
    struct job j[6];
    const char *parents[2];
    char buf[256];
    int n = 0;

    mk(&j[n++], JOB_MKDIR, JOB_SIDE_CLOUD, B, B, NULL, 0);                         /* 0 */
    mk(&j[n++], JOB_MKDIR, JOB_SIDE_CLOUD, B, B "/A/S", NULL, 0);                  /* 1 */
    mk(&j[n++], JOB_UPLOAD, JOB_SIDE_CLOUD, B, B "/A/S/x.pdf", NULL, 3);           /* 2 */
    mk(&j[n++], JOB_MKDIR, JOB_SIDE_CLOUD, B, B "/C", NULL, 0);                    /* 3 */
    mk(&j[n++], JOB_RENAME, JOB_SIDE_CLOUD, B, B "/C/y.pdf", B "/A/S/y.pdf", 0);   /* 4 */
    mk(&j[n++], JOB_RENAME, JOB_SIDE_CLOUD, B, B "/A/S/z.pdf", B "/A/S/w.pdf", 0); /* 5 */
    for (int i = 0; i < n; i++)
        j[i].doc = strdup("documents.document,1");
    CHECK(&cc, !job_is_file_job(&j[0])); /* the base's mkdir */
    for (int i = 1; i < n; i++)
        CHECK_MSG(&cc, job_is_file_job(&j[i]), "Documents job %d is a file job", i);
    CHECK(&cc, !job_may_overlap(&j[1], &j[2])); /* a folder and a file in it */
    CHECK(&cc, job_may_overlap(&j[1], &j[3]));  /* two folders */
    CHECK(&cc, job_may_overlap(&j[2], &j[3]));
    CHECK(&cc, !job_may_overlap(&j[3], &j[4])); /* a move out of C */
    CHECK(&cc, !job_may_overlap(&j[1], &j[4])); /* a move into S */
    CHECK(&cc, job_may_overlap(&j[2], &j[4]));
    CHECK_INT(&cc, job_lock_parents(&j[0], parents, buf, sizeof(buf)), 0);
    CHECK_INT(&cc, job_lock_parents(&j[1], parents, buf, sizeof(buf)), 1);
    CHECK(&cc, strcmp(parents[0], B "/A") == 0);
    CHECK_INT(&cc, job_lock_parents(&j[3], parents, buf, sizeof(buf)), 0); /* in the base */
    CHECK_INT(&cc, job_lock_parents(&j[4], parents, buf, sizeof(buf)), 2);
    CHECK(&cc, strcmp(parents[0], B "/C") == 0 && strcmp(parents[1], B "/A/S") == 0);
    CHECK_INT(&cc, job_lock_parents(&j[5], parents, buf, sizeof(buf)), 1); /* one folder */
    CHECK(&cc, strcmp(parents[0], B "/A/S") == 0);
    CHECK_INT(&cc, job_lock_parents(&j[5], parents, buf, 8), 0); /* no room: none */
    free(j[2].doc);
    j[2].doc = NULL; /* not a Documents job: no parents */
    CHECK_INT(&cc, job_lock_parents(&j[2], parents, buf, sizeof(buf)), 0);
    j[1].doc = (free(j[1].doc), NULL); /* a record's mkdir: a folder job */
    CHECK(&cc, !job_is_file_job(&j[1]));
    for (int i = 0; i < n; i++)
        job_release(&j[i]);
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
    test_documents();
    return check_done(&cc);
}
