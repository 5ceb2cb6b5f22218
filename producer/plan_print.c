/*
 * plan_print: what a pass would do, for people (`odoosync plan`) or for
 * tools (`odoosync plan --json`, one job per line via job_encode).
 *
 * Human form: a summary line with the verdict, then one group per kind
 * (mkdir, upload, rename, relink, delete) with its count and one line per
 * job (side, what, reason), then the safety figures and the messages.
 */
#include "plan.h"

#include "buf.h"
#include "plural.h"

#include "banned.h"

#define LINE_MAX_BYTES (64 * 1024)

static const char *s_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

static void print_job(const struct job *j, FILE *f)
{
    const char *side = job_side_name(j->side);

    switch (j->kind) {
    case JOB_MKDIR:
        fprintf(f, "  %-5s %s", side, s_or(j->path, "?"));
        if (j->record)
            fprintf(f, "  [%s]", j->record);
        break;
    case JOB_UPLOAD:
        fprintf(f, "  %-5s attachment %ld -> %s", side, j->att_id, s_or(j->path, "?"));
        if (j->size >= 0)
            fprintf(f, " (%lld bytes)", j->size);
        break;
    case JOB_RENAME:
        if (j->side == JOB_SIDE_CLOUD)
            fprintf(f, "  %-5s %s -> %s", side, s_or(j->path, "?"), s_or(j->to, "?"));
        else
            fprintf(f, "  %-5s attachment %ld name \"%s\"", side, j->att_id, s_or(j->name, ""));
        break;
    case JOB_RELINK:
        if (j->att_id)
            fprintf(f, "  %-5s attachment %ld -> %s", side, j->att_id, s_or(j->path, "?"));
        else
            fprintf(f, "  %-5s new attachment \"%s\" -> %s", side, s_or(j->name, ""),
                    s_or(j->path, "?"));
        fprintf(f, "  [%s]", s_or(j->record, "stand-alone"));
        break;
    case JOB_DELETE:
        if (j->side == JOB_SIDE_CLOUD)
            fprintf(f, "  %-5s %s", side, s_or(j->path, "?"));
        else
            fprintf(f, "  %-5s attachment %ld \"%s\"", side, j->att_id, s_or(j->name, ""));
        break;
    case JOB_KIND_COUNT:
        break;
    }
    if (j->reason)
        fprintf(f, "  (%s)", j->reason);
    fputc('\n', f);
}

int plan_print(const struct plan *p, FILE *f, int json)
{
    struct buf b;
    struct err e = ERR_INIT;
    size_t i;
    int k, rc = 0;

    if (json) {
        buf_init(&b, LINE_MAX_BYTES);
        for (i = 0; i < p->njobs && rc == 0; i++) {
            buf_reset(&b);
            rc = job_encode(&p->jobs[i], &b, &e);
            if (rc == 0 && fprintf(f, "%s\n", buf_str(&b)) < 0)
                rc = ERR_IO;
        }
        buf_release(&b);
        return rc;
    }
    fprintf(f, "plan: %zu %s, verdict %s\n", p->njobs, PLURAL(p->njobs, "job", "jobs"),
            plan_verdict_name(p->verdict));
    for (k = 0; k < JOB_KIND_COUNT; k++) {
        size_t n = p->count[k][JOB_SIDE_CLOUD] + p->count[k][JOB_SIDE_ODOO];
        if (n == 0)
            continue;
        fprintf(f, "%s: %zu (cloud %zu, odoo %zu)\n", job_kind_name((enum job_kind)k), n,
                p->count[k][JOB_SIDE_CLOUD], p->count[k][JOB_SIDE_ODOO]);
        for (i = 0; i < p->njobs; i++)
            if ((int)p->jobs[i].kind == k)
                print_job(&p->jobs[i], f);
    }
    fprintf(f, "managed: %zu, deletions asked: %zu, deletions withheld: %zu\n", p->managed,
            p->delete_weight, p->deletes_dropped);
    for (i = 0; i < p->nmessages; i++)
        fprintf(f, "note: %s\n", p->messages[i]);
    if (ferror(f))
        rc = ERR_IO;
    return rc;
}
