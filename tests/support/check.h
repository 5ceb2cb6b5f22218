/*
 * check: the assertions of our C tests. A failed CHECK prints where and
 * why, counts, and lets the test go on; check_done() prints the closing
 * line "N passed, N failed" and returns the exit code for main().
 */
#ifndef ODOOSYNC_CHECK_H
#define ODOOSYNC_CHECK_H

#include <stdio.h>
#include <string.h>

struct check_count {
    int passed;
    int failed;
};

#define CHECK_INIT                                                                                 \
    {                                                                                              \
        0, 0                                                                                       \
    }

#define CHECK(cc, cond)                                                                            \
    do {                                                                                           \
        if (cond) {                                                                                \
            (cc)->passed++;                                                                        \
        } else {                                                                                   \
            (cc)->failed++;                                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cc, cond, ...)                                                                   \
    do {                                                                                           \
        if (cond) {                                                                                \
            (cc)->passed++;                                                                        \
        } else {                                                                                   \
            (cc)->failed++;                                                                        \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_INT(cc, got, want)                                                                   \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        CHECK_MSG(cc, g_ == w_, "got %lld, want %lld", g_, w_);                                    \
    } while (0)

#define CHECK_STR(cc, got, want)                                                                   \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        CHECK_MSG(cc, g_ &&w_ &&strcmp(g_, w_) == 0, "got \"%s\", want \"%s\"",                    \
                  g_ ? g_ : "(null)", w_ ? w_ : "(null)");                                         \
    } while (0)

static inline int check_done(const struct check_count *cc)
{
    printf("%d passed, %d failed\n", cc->passed, cc->failed);
    return cc->failed ? 1 : 0;
}

#endif
