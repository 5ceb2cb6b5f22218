/*
 * job_scope: which jobs of one lock (document folder) may run at the same
 * time, and what a file job locks (see job.h "Lock scope" and
 * docs/design.md "Order and locks"). Pure functions of the job's fields, so
 * a message planned before this existed is read the same way, and the
 * producer plans nothing new: the Kafka key stays the lock, which keeps
 * every job of a document in one partition, in plan order.
 *
 * Odoo's Documents app: every job of a mapping has the mapping's base folder as
 * its lock, and its tree is nested. A Documents job inside the base (a mkdir
 * too) is a file job: it runs beside the jobs on other entries, and after every
 * earlier job on the entry, an entry inside it or a folder around it (the path
 * overlap), so a folder's create, move or delete still orders everything under
 * it. It also holds the folder each entry lives in shared (job_lock_parents),
 * and the entry exclusively: a job on a folder excludes the jobs on what the
 * folder holds, across workers too.
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
    if (!j->lock)
        return 0;
    if (j->kind == JOB_MKDIR) /* a folder of Odoo's Documents app inside its mapping */
        return j->doc && j->path && inside(j->path, j->lock);
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

/* The folder p lives in, when it lies strictly inside lock: its length, else 0. */
static size_t parent_inside(const char *p, const char *lock)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    size_t n;

    if (!s || s == p)
        return 0;
    n = (size_t)(s - p);
    if (n >= strlen(p) || strlen(lock) >= n)
        return 0;
    return strncmp(p, lock, strlen(lock)) == 0 && p[strlen(lock)] == '/' ? n : 0;
}

int job_lock_parents(const struct job *j, const char *parents[2], char *buf, size_t size)
{
    const char *src[2] = {j->path, j->to};
    size_t used = 0;
    int n = 0;

    if (!j->doc || !job_is_file_job(j))
        return 0;
    for (int i = 0; i < 2; i++) {
        size_t len = src[i] ? parent_inside(src[i], j->lock) : 0;

        if (len == 0 || used + len + 1 > size)
            continue;
        if (n == 1 && strlen(parents[0]) == len && strncmp(parents[0], src[i], len) == 0)
            continue; /* one folder for both */
        memcpy(buf + used, src[i], len);
        buf[used + len] = '\0';
        parents[n++] = buf + used;
        used += len + 1;
    }
    return n;
}
