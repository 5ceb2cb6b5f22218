/*
 * progress: see progress.h.
 */
#include "progress.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

#define TTY_REFRESH_MS 500

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(struct progress *pr)
{
    struct pool_stats st;
    double secs = (double)(mono_ms() - pr->t0_ms) / 1000.0, rate;
    long done;
    char eta[32];

    pool_get_stats(pr->pool, &st);
    done = st.applied + st.skipped + st.dead;
    if (done > pr->total)
        done = pr->total;
    rate = secs > 0 ? (double)done / secs : 0;
    if (done >= pr->total)
        snprintf(eta, sizeof(eta), "0 s");
    else if (done > 0 && rate > 0)
        snprintf(eta, sizeof(eta), "%.0f s", (double)(pr->total - done) / rate + 0.5);
    else
        snprintf(eta, sizeof(eta), "unknown");
    if (pr->tty) {
        fprintf(stderr, "\rapplying: %ld/%ld jobs done, %.1f jobs/s, ETA %s\x1b[K", done, pr->total,
                rate, eta);
        fflush(stderr);
    } else {
        log_info(pr->lg, "applying: %ld/%ld jobs done, %.1f jobs/s, ETA %s", done, pr->total, rate,
                 eta);
    }
}

static void *progress_main(void *arg)
{
    struct progress *pr = arg;
    long step = pr->tty ? TTY_REFRESH_MS : pr->interval_ms;

    pthread_mutex_lock(&pr->mu);
    while (!pr->quit) {
        struct timespec until;
        int rc = 0;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += step / 1000;
        until.tv_nsec += (step % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!pr->quit && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&pr->cv, &pr->mu, &until);
        if (pr->quit)
            break;
        pthread_mutex_unlock(&pr->mu);
        report(pr);
        pthread_mutex_lock(&pr->mu);
    }
    pthread_mutex_unlock(&pr->mu);
    return NULL;
}

int progress_start(struct progress *pr, struct pool *pool, struct log *lg, long total,
                   long progress_s)
{
    pthread_condattr_t ca;

    memset(pr, 0, sizeof(*pr));
    if (progress_s <= 0 || total <= 0 || !pool)
        return 0;
    pr->pool = pool;
    pr->lg = lg;
    pr->total = total;
    pr->interval_ms = progress_s * 1000;
    pr->tty = isatty(STDERR_FILENO);
    pr->t0_ms = mono_ms();
    if (pthread_condattr_init(&ca) != 0)
        return 0;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&pr->mu, NULL) != 0) {
        pthread_condattr_destroy(&ca);
        return 0;
    }
    if (pthread_cond_init(&pr->cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&pr->mu);
        return 0;
    }
    pthread_condattr_destroy(&ca);
    if (pthread_create(&pr->th, NULL, progress_main, pr) != 0) {
        pthread_cond_destroy(&pr->cv);
        pthread_mutex_destroy(&pr->mu);
        return 0;
    }
    pr->started = 1;
    return 0;
}

void progress_stop(struct progress *pr)
{
    if (!pr->started)
        return;
    pthread_mutex_lock(&pr->mu);
    pr->quit = 1;
    pthread_cond_signal(&pr->cv);
    pthread_mutex_unlock(&pr->mu);
    pthread_join(pr->th, NULL);
    pthread_cond_destroy(&pr->cv);
    pthread_mutex_destroy(&pr->mu);
    if (pr->tty) { /* the summary takes the line's place */
        fputs("\r\x1b[K", stderr);
        fflush(stderr);
    }
    pr->started = 0;
}
