/*
 * Unit tests of log: every line is one valid JSON object (or one human line), with
 * the fields escaped, a message too long for a line cut but still ending the line,
 * and the lines of concurrent threads never mixed.
 */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"

/* Everything written to f so far, from the start, NUL-terminated; NULL on failure. */
static char *slurp(FILE *f)
{
    long n;
    char *s;

    fflush(f);
    n = ftell(f);
    if (n < 0 || !(s = malloc((size_t)n + 1)))
        return NULL;
    rewind(f);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    return s;
}

static void test_json_fields(struct check_count *cc)
{
    FILE *f = tmpfile();
    struct log lg_, *lg = &lg_;
    char *out;
    cJSON *o;

    CHECK(cc, f != NULL);
    if (!f)
        return;
    log_init(lg, f, LOG_INFO, LOG_FMT_JSON, "pl\"an");
    log_job(lg, LOG_WARN, "job\\1", "/Cust\tomers/é", "quote \" back \\ nl \n cr \r bell \a %d",
            42);
    log_debug(lg, "not written: below the level");
    out = slurp(f);
    CHECK(cc, out != NULL);
    if (out) {
        CHECK_INT(cc, strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
        o = cJSON_Parse(out);
        CHECK_MSG(cc, o != NULL, "not JSON: %s", out);
        if (o) {
            CHECK_STR(cc, cJSON_GetStringValue(cJSON_GetObjectItem(o, "level")), "warn");
            CHECK_STR(cc, cJSON_GetStringValue(cJSON_GetObjectItem(o, "component")), "pl\"an");
            CHECK_STR(cc, cJSON_GetStringValue(cJSON_GetObjectItem(o, "job")), "job\\1");
            CHECK_STR(cc, cJSON_GetStringValue(cJSON_GetObjectItem(o, "path")), "/Cust\tomers/é");
            CHECK_STR(cc, cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg")),
                      "quote \" back \\ nl \n cr \r bell \a 42");
            CHECK(cc, strlen(cJSON_GetStringValue(cJSON_GetObjectItem(o, "time"))) == 24);
            cJSON_Delete(o);
        }
        free(out);
    }
    log_release(lg);
    fclose(f);
}

static void test_long_line_cut(struct check_count *cc)
{
    FILE *f = tmpfile();
    struct log lg_, *lg = &lg_;
    char *out, *big, *nl;

    big = malloc(20000);
    CHECK(cc, f != NULL && big != NULL);
    if (!f || !big) {
        free(big);
        if (f)
            fclose(f);
        return;
    }
    memset(big, '\x01', 19999); /* each byte escapes to six */
    big[19999] = '\0';
    log_init(lg, f, LOG_INFO, LOG_FMT_JSON, "c");
    log_job(lg, LOG_ERROR, "j", big, "%s", big);
    log_info(lg, "after");
    out = slurp(f);
    CHECK(cc, out != NULL);
    if (out) {
        nl = strchr(out, '\n');
        CHECK(cc, nl != NULL && nl - out < 8192); /* cut, and the line still ends */
        if (nl) {
            cJSON *o = cJSON_Parse(nl + 1); /* the next line is whole */

            CHECK(cc, o != NULL);
            if (o)
                CHECK_STR(cc, cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg")), "after");
            cJSON_Delete(o);
        }
        free(out);
    }
    log_release(lg);
    fclose(f);
    free(big);
}

static void test_human(struct check_count *cc)
{
    FILE *f = tmpfile();
    struct log lg_, *lg = &lg_;
    char *out;

    CHECK(cc, f != NULL);
    if (!f)
        return;
    log_init(lg, f, LOG_DEBUG, LOG_FMT_HUMAN, "c");
    log_job(lg, LOG_INFO, "0123456789abcdef", "/A/b", "applied %s", "upload");
    out = slurp(f);
    CHECK(cc, out != NULL);
    if (out) {
        /* "HH:MM:SS info  applied upload [job 0123456789ab] [/A/b]\n" */
        CHECK_STR(cc, out + 9, "info  applied upload [job 0123456789ab] [/A/b]\n");
        free(out);
    }
    log_release(lg);
    fclose(f);
}

struct writer {
    struct log *lg;
    int id;
};

static void *write_lines(void *arg)
{
    const struct writer *w = arg;

    for (int i = 0; i < 2000; i++)
        log_job(w->lg, LOG_INFO, "job", "/p", "writer %d line %d %s", w->id, i,
                "padding padding padding padding padding padding padding padding");
    return NULL;
}

static void test_threads_never_mix(struct check_count *cc)
{
    FILE *f = tmpfile();
    struct log lg_, *lg = &lg_;
    struct writer w[4];
    pthread_t t[4];
    int seen[4] = {0, 0, 0, 0}, bad = 0;
    char *out, *line, *save = NULL;

    CHECK(cc, f != NULL);
    if (!f)
        return;
    log_init(lg, f, LOG_INFO, LOG_FMT_JSON, "c");
    for (int i = 0; i < 4; i++) {
        w[i] = (struct writer){lg, i};
        pthread_create(&t[i], NULL, write_lines, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    out = slurp(f);
    CHECK(cc, out != NULL);
    for (line = out ? strtok_r(out, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        int id, n;

        if (o &&
            sscanf(cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg")), "writer %d line %d", &id,
                   &n) == 2 &&
            id >= 0 && id < 4 && n == seen[id])
            seen[id]++; /* each writer's lines whole and in its order */
        else
            bad++;
        cJSON_Delete(o);
    }
    CHECK_INT(cc, bad, 0);
    for (int i = 0; i < 4; i++)
        CHECK_INT(cc, seen[i], 2000);
    free(out);
    log_release(lg);
    fclose(f);
}

int main(void)
{
    struct check_count cc = CHECK_INIT;

    test_json_fields(&cc);
    test_long_line_cut(&cc);
    test_human(&cc);
    test_threads_never_mix(&cc);
    return check_done(&cc);
}
