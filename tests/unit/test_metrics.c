/*
 * test_metrics: the registry's text exposition (exact output for counters,
 * gauges, histograms, label escaping, definition errors), thread safety of
 * updates, and the HTTP endpoint (/metrics, /healthz, /readyz with its
 * cache, 404) on a free loopback port, fetched with libcurl.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "check.h"
#include "metrics.h"

#include "banned.h"

static struct check_count cc = CHECK_INIT;

static void test_render_exact(void)
{
    static const double b[] = {0.1, 1, 10};
    struct metrics *m = metrics_new();
    struct err e = ERR_INIT;
    struct buf out;

    buf_init(&out, 1 << 16);
    CHECK(&cc, m != NULL);
    CHECK_INT(&cc,
              metrics_define(m, METRICS_COUNTER, "t_jobs_total", "Jobs \\ done\nby kind",
                             "kind,result", NULL, 0, &e),
              0);
    CHECK_INT(&cc, metrics_define(m, METRICS_GAUGE, "t_lag", "Lag", NULL, NULL, 0, &e), 0);
    CHECK_INT(&cc,
              metrics_define(m, METRICS_HISTOGRAM, "t_dur_seconds", "Durations", "kind", b, 3, &e),
              0);
    metrics_add(m, "t_jobs_total", METRICS_LV("upload", "applied"), 1);
    metrics_add(m, "t_jobs_total", METRICS_LV("upload", "applied"), 2);
    metrics_add(m, "t_jobs_total", METRICS_LV("mk\"dir\\", "fa\nil"), 1);
    metrics_add(m, "t_jobs_total", METRICS_LV("upload", "applied"), -5); /* ignored */
    metrics_set(m, "t_lag", NULL, 42);
    metrics_add(m, "t_lag", NULL, -2);
    metrics_observe(m, "t_dur_seconds", METRICS_LV("upload"), 0.05);
    metrics_observe(m, "t_dur_seconds", METRICS_LV("upload"), 0.1); /* le is inclusive */
    metrics_observe(m, "t_dur_seconds", METRICS_LV("upload"), 5);
    metrics_observe(m, "t_dur_seconds", METRICS_LV("upload"), 100);
    /* wrong type or unknown family: no-ops */
    metrics_observe(m, "t_lag", NULL, 1);
    metrics_set(m, "t_dur_seconds", METRICS_LV("upload"), 9);
    metrics_add(m, "nope", NULL, 1);
    metrics_set(m, "t_jobs_total", METRICS_LV("upload", "applied"), 2); /* mirrored counter */
    metrics_add(m, "t_jobs_total", METRICS_LV("upload", "applied"), 1);
    CHECK(&cc, metrics_get(m, "t_jobs_total", METRICS_LV("upload", "applied")) == 3);
    CHECK(&cc, metrics_get(m, "t_lag", NULL) == 40);
    CHECK_INT(&cc, metrics_render(m, &out, &e), 0);
    CHECK_STR(&cc, buf_str(&out),
              "# HELP t_jobs_total Jobs \\\\ done\\nby kind\n"
              "# TYPE t_jobs_total counter\n"
              "t_jobs_total{kind=\"upload\",result=\"applied\"} 3\n"
              "t_jobs_total{kind=\"mk\\\"dir\\\\\",result=\"fa\\nil\"} 1\n"
              "# HELP t_lag Lag\n"
              "# TYPE t_lag gauge\n"
              "t_lag 40\n"
              "# HELP t_dur_seconds Durations\n"
              "# TYPE t_dur_seconds histogram\n"
              "t_dur_seconds_bucket{kind=\"upload\",le=\"0.1\"} 2\n"
              "t_dur_seconds_bucket{kind=\"upload\",le=\"1\"} 2\n"
              "t_dur_seconds_bucket{kind=\"upload\",le=\"10\"} 3\n"
              "t_dur_seconds_bucket{kind=\"upload\",le=\"+Inf\"} 4\n"
              "t_dur_seconds_sum{kind=\"upload\"} 105.15\n"
              "t_dur_seconds_count{kind=\"upload\"} 4\n");
    buf_release(&out);
    metrics_free(m);
}

static void test_define_errors(void)
{
    static const double bad[] = {1, 1};
    struct metrics *m = metrics_new();
    struct err e = ERR_INIT;

    CHECK_INT(&cc, metrics_define(m, METRICS_COUNTER, "9bad", "", NULL, NULL, 0, &e), ERR_INVALID);
    CHECK_INT(&cc, metrics_define(m, METRICS_COUNTER, "a-b", "", NULL, NULL, 0, &e), ERR_INVALID);
    CHECK_INT(&cc, metrics_define(m, METRICS_COUNTER, "ok", "", "a,b,c,d", NULL, 0, &e),
              ERR_INVALID);
    CHECK_INT(&cc, metrics_define(m, METRICS_COUNTER, "ok", "", "le", NULL, 0, &e), ERR_INVALID);
    CHECK_INT(&cc, metrics_define(m, METRICS_HISTOGRAM, "h", "", NULL, bad, 2, &e), ERR_INVALID);
    CHECK_INT(&cc, metrics_define(m, METRICS_HISTOGRAM, "h", "", NULL, NULL, 0, &e), ERR_INVALID);
    CHECK_INT(&cc, metrics_define(m, METRICS_COUNTER, "ok", "", "x", NULL, 0, &e), 0);
    CHECK_INT(&cc, metrics_define(m, METRICS_GAUGE, "ok", "", NULL, NULL, 0, &e), ERR_INVALID);
    CHECK(&cc, strstr(e.msg, "twice") != NULL);
    metrics_free(m);
    metrics_free(NULL);
    metrics_add(NULL, "x", NULL, 1); /* no-op */
}

static void test_catalogue(void)
{
    struct metrics *m = metrics_new();
    struct err e = ERR_INIT;
    struct buf out;
    struct job j;
    struct job_event ev;

    buf_init(&out, 1 << 20);
    CHECK_INT(&cc, metrics_define_odoosync(m, "1.2.3", &e), 0);
    job_init(&j);
    j.kind = JOB_UPLOAD;
    j.side = JOB_SIDE_CLOUD;
    j.size = 1000;
    memset(&ev, 0, sizeof(ev));
    ev.result = JOB_APPLIED;
    ev.duration_ms = 250;
    metrics_job_event(m, &j, &ev);
    metrics_job_event(m, &j, &ev);
    ev.result = JOB_FAILED;
    metrics_job_event(m, &j, &ev);
    CHECK_INT(&cc, metrics_render(m, &out, &e), 0);
    CHECK(&cc, strstr(buf_str(&out), "odoosync_build_info{version=\"1.2.3\"} 1\n") != NULL);
    CHECK(&cc, strstr(buf_str(&out), "odoosync_jobs_total{kind=\"upload\",side=\"cloud\","
                                     "result=\"applied\"} 2\n") != NULL);
    CHECK(&cc, strstr(buf_str(&out), "odoosync_jobs_total{kind=\"upload\",side=\"cloud\","
                                     "result=\"failed\"} 1\n") != NULL);
    CHECK(&cc, strstr(buf_str(&out), "odoosync_bytes_uploaded_total 2000\n") != NULL);
    CHECK(&cc, strstr(buf_str(&out), "odoosync_job_duration_seconds_count{kind=\"upload\"} 3\n") !=
                   NULL);
    CHECK(&cc, strstr(buf_str(&out), "odoosync_job_duration_seconds_bucket{kind=\"upload\","
                                     "le=\"0.25\"} 3\n") != NULL);
    metrics_set(m, "odoosync_consumer_lag", METRICS_LV("odoosync.jobs"), 7);
    CHECK(&cc, metrics_get(m, "odoosync_consumer_lag", METRICS_LV("odoosync.jobs")) == 7);
    CHECK_INT(&cc, metrics_define_odoosync(m, "1.2.3", &e), ERR_INVALID);
    job_release(&j);
    buf_release(&out);
    metrics_free(m);
}

struct hammer {
    struct metrics *m;
    const char *kind;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;

    for (int i = 0; i < 20000; i++) {
        metrics_add(h->m, "c_total", METRICS_LV(h->kind), 1);
        metrics_observe(h->m, "h_seconds", NULL, 0.5);
    }
    return NULL;
}

static void test_threads(void)
{
    static const double b[] = {1};
    static const char *const kinds[] = {"a", "b", "a", "b"};
    struct metrics *m = metrics_new();
    struct err e = ERR_INIT;
    pthread_t t[4];
    struct hammer h[4];
    struct buf out;

    buf_init(&out, 1 << 16);
    metrics_define(m, METRICS_COUNTER, "c_total", "", "kind", NULL, 0, &e);
    metrics_define(m, METRICS_HISTOGRAM, "h_seconds", "", NULL, b, 1, &e);
    for (int i = 0; i < 4; i++) {
        h[i].m = m;
        h[i].kind = kinds[i];
        pthread_create(&t[i], NULL, hammer_run, &h[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(&cc, metrics_get(m, "c_total", METRICS_LV("a")) == 40000);
    CHECK(&cc, metrics_get(m, "c_total", METRICS_LV("b")) == 40000);
    metrics_render(m, &out, &e);
    CHECK(&cc, strstr(buf_str(&out), "h_seconds_count 80000\n") != NULL);
    buf_release(&out);
    metrics_free(m);
}

/* --- server ---------------------------------------------------------- */

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    buf_append(ud, p, sz * n);
    return sz * n;
}

static long fetch(int port, const char *path, struct buf *body)
{
    CURL *c = curl_easy_init();
    char url[128];
    long code = -1;

    buf_reset(body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

struct readiness {
    int up;
    int calls;
};

static int ready_cb(void *ud, struct buf *why)
{
    struct readiness *r = ud;

    r->calls++;
    if (r->up)
        return 0;
    buf_puts(why, "redis: connection refused");
    return ERR_RETRY;
}

static void collect_cb(void *ud, struct metrics *m)
{
    int *calls = ud;

    (*calls)++;
    metrics_set(m, "odoosync_consumer_lag", METRICS_LV("odoosync.jobs"), 40 + *calls);
}

static void test_server(void)
{
    struct metrics *m = metrics_new();
    struct metrics_server *srv = NULL;
    struct metrics_server_opts o;
    struct readiness r = {1, 0};
    int collected = 0;
    struct err e = ERR_INIT;
    struct buf body;
    int port;

    buf_init(&body, 1 << 20);
    metrics_define_odoosync(m, "9.9", &e);
    memset(&o, 0, sizeof(o));
    o.m = m;
    o.ready = ready_cb;
    o.ready_ud = &r;
    o.ready_cache_ms = 300;
    o.collect = collect_cb;
    o.collect_ud = &collected;
    o.listen = "127.0.0.1";
    CHECK_INT(&cc, metrics_server_start(&srv, &o, &e), ERR_INVALID);
    o.listen = "127.0.0.1:99999";
    CHECK_INT(&cc, metrics_server_start(&srv, &o, &e), ERR_INVALID);
    o.listen = "127.0.0.1:0";
    CHECK_INT(&cc, metrics_server_start(&srv, &o, &e), 0);
    port = metrics_server_port(srv);
    CHECK(&cc, port > 0);
    CHECK_INT(&cc, fetch(port, "/healthz", &body), 200);
    CHECK_INT(&cc, fetch(port, "/metrics", &body), 200);
    CHECK(&cc, strstr(buf_str(&body), "odoosync_build_info{version=\"9.9\"} 1") != NULL);
    metrics_add(m, "odoosync_passes_total", METRICS_LV("ok"), 1);
    CHECK_INT(&cc, fetch(port, "/metrics", &body), 200);
    CHECK(&cc, strstr(buf_str(&body), "odoosync_passes_total{result=\"ok\"} 1\n") != NULL);
    CHECK(&cc,
          strstr(buf_str(&body), "odoosync_consumer_lag{topic=\"odoosync.jobs\"} 42\n") != NULL);
    CHECK_INT(&cc, collected, 2);
    CHECK_INT(&cc, fetch(port, "/readyz", &body), 200);
    CHECK_INT(&cc, fetch(port, "/readyz", &body), 200);
    CHECK_INT(&cc, r.calls, 1); /* cached */
    r.up = 0;
    {
        struct timespec ts = {0, 350 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CHECK_INT(&cc, fetch(port, "/readyz", &body), 503);
    CHECK(&cc, strstr(buf_str(&body), "redis: connection refused") != NULL);
    CHECK_INT(&cc, fetch(port, "/nope", &body), 404);
    {
        /* a second server on the same port fails cleanly */
        struct metrics_server *dup = NULL;
        char listen[64];

        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        o.listen = listen;
        CHECK_INT(&cc, metrics_server_start(&dup, &o, &e), ERR_IO);
        CHECK(&cc, dup == NULL);
    }
    metrics_server_stop(srv);
    metrics_server_stop(NULL);
    buf_release(&body);
    metrics_free(m);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    test_render_exact();
    test_define_errors();
    test_catalogue();
    test_threads();
    test_server();
    curl_global_cleanup();
    return check_done(&cc);
}
