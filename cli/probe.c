/*
 * probe: see probe.h.
 */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "dav.h"
#include "lock.h"
#include "metrics.h"
#include "odoo.h"
#include "pass.h"
#include "transport.h"

#include "banned.h"

#define QUICK_TIMEOUT_MS 3000
/* a longer domain (a list of 50,000 ids written out) is shown by its start and its size */
#define DOMAIN_SHOWN 160

static void domain_label(const char *domain, char *out, size_t outsz)
{
    size_t n;

    if (!domain)
        domain = "[]";
    n = strlen(domain);
    if (n <= DOMAIN_SHOWN)
        snprintf(out, outsz, "%s", domain);
    else
        snprintf(out, outsz, "%.*s... (%zu characters)", DOMAIN_SHOWN - 40, domain, n);
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int probe_odoo(const struct cfg *c, struct log *lg, int quick, const volatile sig_atomic_t *stop,
               struct buf *line, struct err *e)
{
    struct odoo_opts oo;
    struct odoo *o = NULL;
    long long t0 = mono_ms(), ms;
    int rc = 0, bad = 0;

    pass_odoo_opts(c, lg, &oo);
    oo.retries = -1; /* a diagnosis says what is wrong now, it does not wait it out */
    oo.stop = stop;
    if (quick) {
        oo.timeout_ms = QUICK_TIMEOUT_MS;
        oo.connect_timeout_ms = QUICK_TIMEOUT_MS;
    }
    o = odoo_new(&oo, e);
    if (!o) {
        rc = e->code ? e->code : ERR_NOMEM;
        goto out;
    }
    rc = odoo_connect(o, e);
    if (rc < 0) {
        err_prefix(e, "odoo at %s", c->odoo.url);
        goto out;
    }
    ms = mono_ms() - t0;
    buf_printf(line,
               "odoo   ok    Odoo %s at %s, database \"%s\", %s, user \"%s\" (uid %ld), %lld ms",
               odoo_server_version(o), c->odoo.url, c->odoo.database ? c->odoo.database : "",
               odoo_protocol_name(odoo_protocol_used(o)), c->odoo.login ? c->odoo.login : "",
               odoo_uid(o), ms);
    if (quick)
        goto out;
    for (size_t i = 0; i < c->ntypes; i++) {
        const struct cfg_type *t = &c->types[i];
        struct err te = ERR_INIT;
        char dom[DOMAIN_SHOWN + 64];
        long count = 0;
        int trc, src;

        if (!t->enabled)
            continue;
        t0 = mono_ms();
        domain_label(t->domain, dom, sizeof(dom));
        trc = odoo_search_count(o, t->model, t->domain_json, &count, &te);
        if (trc < 0) {
            /* Odoo answered no to the domain (unknown model or field, no read right): the
             * type is refused; no answer, credentials, a stop: the type could not be tried */
            int refused = trc != ERR_RETRY && trc != ERR_AUTH && trc != ERR_STOPPED &&
                          trc != ERR_NOMEM && trc != ERR_INTERNAL;
            src = buf_printf(line, "\ntype   FAIL  \"%s\" (%s, domain %s): %s: %s", t->folder,
                             t->model, dom, refused ? "Odoo refused it" : "not checked", te.msg);
            if (!bad) {
                bad = 1;
                rc = err_set(e, refused ? ERR_INVALID : trc, "type \"%s\" (%s, domain %s): %s",
                             t->folder, t->model, dom, te.msg);
            }
        } else {
            src =
                buf_printf(line, "\ntype   ok    \"%s\" (%s, domain %s): %ld record%s, %lld ms",
                           t->folder, t->model, dom, count, count == 1 ? "" : "s", mono_ms() - t0);
        }
        if (src < 0 && !bad) { /* never leave a type out silently */
            bad = 1;
            rc = err_set(e, src, "type \"%s\": its line does not fit the output", t->folder);
        }
    }
out:
    odoo_free(o);
    return rc;
}

int probe_cloud(const struct cfg *c, struct log *lg, int quick, const volatile sig_atomic_t *stop,
                struct buf *line, struct err *e)
{
    struct dav_opts dopts;
    struct dav *d = NULL;
    struct dav_stat st;
    struct buf root, tmp;
    long long t0 = mono_ms(), ms;
    int rc = 0, dl, have_root = 0, made = 0;

    memset(&st, 0, sizeof(st));
    buf_init(&root, 4096);
    buf_init(&tmp, 4096);
    pass_dav_opts(c, lg, &dopts);
    dopts.max_retries = 0; /* as for Odoo: no retries in a diagnosis */
    dopts.stop = stop;
    if (quick) {
        dopts.connect_timeout_ms = QUICK_TIMEOUT_MS;
        dopts.timeout_ms = QUICK_TIMEOUT_MS;
    }
    d = dav_new(&dopts, e);
    if (!d) {
        rc = e->code ? e->code : ERR_NOMEM;
        goto out;
    }
    buf_printf(&root, "/%s", c->cloud.root[0] == '/' ? c->cloud.root + 1 : c->cloud.root);
    if (quick) {
        /* the base must answer a PROPFIND with our credentials */
        rc = dav_stat(d, "/", &st, e);
        if (rc < 0)
            err_prefix(e, "cloud at %s", c->cloud.url);
        goto out;
    }
    dl = dav_detect(d, e);
    if (dl < 0) {
        rc = dl;
        err_prefix(e, "cloud at %s", c->cloud.url);
        goto out;
    }
    rc = dav_stat(d, "/", &st, e);
    if (rc < 0) {
        err_prefix(e, "cloud at %s", c->cloud.url);
        goto out;
    }
    ms = mono_ms() - t0;
    dav_stat_release(&st);
    rc = dav_stat(d, buf_str(&root), &st, e);
    if (rc == 0 && st.is_dir)
        have_root = 1;
    else if (rc == 0) {
        rc = err_set(e, ERR_INVALID, "cloud: the root \"%s\" is a file, not a folder",
                     buf_str(&root));
        goto out;
    } else if (rc != ERR_NOTFOUND) {
        err_prefix(e, "cloud: root \"%s\"", buf_str(&root));
        goto out;
    }
    rc = 0;
    buf_printf(&tmp, "%s/.odoosync-check-%ld-%lld", have_root ? buf_str(&root) : "", (long)getpid(),
               (long long)time(NULL));
    rc = dav_mkcol(d, buf_str(&tmp), 0, NULL, e);
    if (rc < 0) {
        err_prefix(e, "cloud: cannot create a folder (\"%s\")", buf_str(&tmp));
        goto out;
    }
    made = 1;
    rc = dav_delete(d, buf_str(&tmp), NULL, e);
    if (rc < 0) {
        err_prefix(e, "cloud: created \"%s\" but cannot delete it", buf_str(&tmp));
        goto out;
    }
    made = 0;
    buf_printf(line,
               "cloud  ok    %s WebDAV at %s, user \"%s\", %lld ms; root \"%s\" %s; created "
               "and deleted a folder under it",
               dav_dialect_name(dav_dialect(d)), c->cloud.url, c->cloud.user ? c->cloud.user : "",
               ms, buf_str(&root), have_root ? "present" : "missing (the first pass creates it)");
out:
    if (made) {
        struct err e2 = ERR_INIT;
        dav_delete(d, buf_str(&tmp), NULL, &e2);
    }
    dav_stat_release(&st);
    dav_free(d);
    buf_release(&root);
    buf_release(&tmp);
    return rc;
}

int probe_kafka(const struct cfg *c, struct log *lg, struct buf *line, struct err *e)
{
    struct transport t;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t kerr;
    char errstr[512];
    const char *jobs;
    long long t0 = mono_ms();
    int rc = 0, parts = -1;

    memset(&t, 0, sizeof(t));
    rc = transport_init(&t, c, lg, e);
    if (rc < 0)
        goto out;
    jobs = kq_conf_jobs(&t.kq);
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", t.kq.bootstrap, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "socket.timeout.ms", "5000", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        rc = err_set(e, ERR_INVALID, "kafka: %s", errstr);
        goto out;
    }
    for (size_t i = 0; i < t.kq.n_props; i++)
        if (rd_kafka_conf_set(conf, t.kq.props[i].name, t.kq.props[i].value, errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
            rc = err_set(e, ERR_INVALID, "kafka: property \"%s\": %s", t.kq.props[i].name, errstr);
            goto out;
        }
    if (t.kq.sasl_password && rd_kafka_conf_set(conf, "sasl.password", t.kq.sasl_password, errstr,
                                                sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        rc = err_set(e, ERR_INVALID, "kafka: sasl.password refused");
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rc = err_set(e, ERR_INVALID, "kafka: %s", errstr);
        goto out;
    }
    conf = NULL; /* owned by rk now */
    kerr = rd_kafka_metadata(rk, 1, NULL, &md, 5000);
    if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rc = err_set(e, ERR_RETRY, "kafka at %s: metadata request failed: %s", t.kq.bootstrap,
                     rd_kafka_err2str(kerr));
        goto out;
    }
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, jobs) == 0 && !md->topics[i].err)
            parts = md->topics[i].partition_cnt;
    if (line) {
        buf_printf(line, "kafka  ok    %d broker%s at %s, ", md->broker_cnt,
                   md->broker_cnt == 1 ? "" : "s", t.kq.bootstrap);
        if (parts >= 0)
            buf_printf(line, "topic %s: %d partitions", jobs, parts);
        else
            buf_printf(line, "topic %s missing (create the topics first)", jobs);
        buf_printf(line, ", %lld ms", mono_ms() - t0);
    }
    if (parts < 0)
        rc = err_set(e, ERR_NOTFOUND, "kafka: topic \"%s\" does not exist", jobs);
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    transport_release(&t);
    return rc;
}

int probe_redis(const struct cfg *c, struct log *lg, struct buf *line, struct err *e)
{
    struct transport t;
    struct lock *l = NULL;
    long long t0 = mono_ms();
    int rc;

    memset(&t, 0, sizeof(t));
    rc = transport_init(&t, c, lg, e);
    if (rc < 0)
        goto out;
    t.lock.connect_timeout_ms = QUICK_TIMEOUT_MS;
    t.lock.io_timeout_ms = QUICK_TIMEOUT_MS;
    rc = lock_new(&l, &t.lock, e);
    if (rc == 0)
        rc = lock_ping(l, e);
    if (rc < 0) {
        err_prefix(e, "redis at %s:%d", t.lock.host ? t.lock.host : "127.0.0.1", t.lock.port);
        goto out;
    }
    if (line)
        buf_printf(line, "redis  ok    PING at %s:%d, %lld ms", t.lock.host, t.lock.port,
                   mono_ms() - t0);
out:
    lock_free(l);
    transport_release(&t);
    return rc;
}

int probe_ready(void *ud, struct buf *why)
{
    const struct probe_ready *pr = ud;
    struct err e = ERR_INIT;
    struct buf scratch;
    int rc = 0;

    buf_init(&scratch, 4096);
    if ((pr->parts & PROBE_ODOO) && rc == 0)
        rc = probe_odoo(pr->cfg, pr->log, 1, NULL, &scratch, &e);
    if ((pr->parts & PROBE_CLOUD) && rc == 0)
        rc = probe_cloud(pr->cfg, pr->log, 1, NULL, &scratch, &e);
    if ((pr->parts & PROBE_KAFKA) && rc == 0)
        rc = probe_kafka(pr->cfg, pr->log, NULL, &e);
    if ((pr->parts & PROBE_REDIS) && rc == 0)
        rc = probe_redis(pr->cfg, pr->log, NULL, &e);
    if (rc < 0)
        buf_puts(why, e.msg);
    buf_release(&scratch);
    return rc;
}

int probe_serve(const struct cfg *c, struct log *lg, unsigned parts, struct probe_ready *pr,
                void (*collect)(void *ud, struct metrics *m), void *collect_ud, struct metrics **m,
                struct metrics_server **srv, struct err *e)
{
    struct metrics_server_opts mo;
    int rc;

    *m = NULL;
    *srv = NULL;
    if (!c->metrics.listen || !*c->metrics.listen)
        return 0;
    *m = metrics_new();
    if (!*m)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = metrics_define_odoosync(*m, ODOOSYNC_VERSION, e);
    if (rc < 0)
        goto fail;
    memset(pr, 0, sizeof(*pr));
    pr->cfg = c;
    pr->log = lg;
    pr->parts = parts;
    memset(&mo, 0, sizeof(mo));
    mo.listen = c->metrics.listen;
    mo.m = *m;
    mo.ready = probe_ready;
    mo.ready_ud = pr;
    mo.collect = collect;
    mo.collect_ud = collect_ud;
    mo.log = lg;
    rc = metrics_server_start(srv, &mo, e);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    metrics_free(*m);
    *m = NULL;
    return rc;
}
