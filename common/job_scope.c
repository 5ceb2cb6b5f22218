/*
 * job_scope: which jobs of one lock (document folder) may run at the same
 * time, and what a file job locks (see job.h "Lock scope" and
 * docs/design.md "Order and locks"). Pure functions of the job's fields, so
 * a message planned before this existed is read the same way, and the
 * producer plans nothing new: the Kafka key stays the lock, which keeps
 * every job of a document in one partition, in plan order.
 */
#include <stdio.h>
#include <string.h>

#include "job.h"

#include "banned.h"

/* Whether p lies strictly inside folder dir ("/a/b/c" inside "/a/b"). */
static int inside(const char *p, const char *dir)
{
    size_t n = strlen(dir);

    while (n > 0 && dir[n - 1] == '/')
        n--;
    return strncmp(p, dir, n) == 0 && p[n] == '/' && p[n + 1] != '\0';
}

int job_is_file_job(const struct job *j)
{
    if (j->kind == JOB_MKDIR || !j->lock)
        return 0;
    if (!j->path)
        return j->side == JOB_SIDE_ODOO && j->att_id > 0;
    if (!inside(j->path, j->lock))
        return 0;
    return !j->to || inside(j->to, j->lock);
}

/* One path is the other, or inside it. */
static int overlap(const char *a, const char *b)
{
    return a && b && (strcmp(a, b) == 0 || inside(a, b) || inside(b, a));
}

int job_may_overlap(const struct job *a, const struct job *b)
{
    if (!job_is_file_job(a) || !job_is_file_job(b) || a->version != b->version)
        return 0;
    if (a->att_id > 0 && a->att_id == b->att_id)
        return 0;
    return !overlap(a->path, b->path) && !overlap(a->path, b->to) && !overlap(a->to, b->path) &&
           !overlap(a->to, b->to);
}

int job_lock_files(const struct job *j, const char *files[2], char *buf, size_t size)
{
    int n = 0;

    if (j->path)
        files[n++] = j->path;
    if (j->to)
        files[n++] = j->to;
    if (n == 0 && j->att_id > 0 && size > 0) {
        snprintf(buf, size, "att:%ld", j->att_id);
        files[n++] = buf;
    }
    return n;
}
