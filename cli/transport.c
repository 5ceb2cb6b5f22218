/*
 * transport: see transport.h. redis.url is redis://[user:pass@]host[:port][/db]
 * (the password comes from redis.password_* only; one in the URL is refused
 * so that it never sits in a file or a log).
 */
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static int parse_redis_url(struct transport *t, const char *url, struct err *e)
{
    const char *p = url, *host, *colon, *slash, *at;
    char *end;
    size_t hl;

    if (strncmp(p, "redis://", 8) == 0)
        p += 8;
    else
        return err_set(e, ERR_INVALID, "redis.url: expected redis://host[:port][/db]");
    slash = strchr(p, '/');
    at = strchr(p, '@');
    if (at && (!slash || at < slash))
        return err_set(e, ERR_INVALID,
                       "redis.url: no credentials in the url; use redis.password_env or "
                       "redis.password_file");
    host = p;
    colon = strchr(p, ':');
    if (colon && slash && colon > slash)
        colon = NULL;
    hl = colon ? (size_t)(colon - host) : slash ? (size_t)(slash - host) : strlen(host);
    if (hl == 0 || hl >= sizeof(t->redis_host))
        return err_set(e, ERR_INVALID, "redis.url: bad host");
    memcpy(t->redis_host, host, hl);
    t->redis_host[hl] = '\0';
    t->lock.host = t->redis_host;
    t->lock.port = 6379;
    if (colon) {
        long port = strtol(colon + 1, &end, 10);

        if (end == colon + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
            return err_set(e, ERR_INVALID, "redis.url: bad port");
        t->lock.port = (int)port;
    }
    if (slash && slash[1]) {
        long db = strtol(slash + 1, &end, 10);

        if (*end || db < 0 || db > 1000)
            return err_set(e, ERR_INVALID, "redis.url: bad database number");
        t->lock.db = (int)db;
    }
    return 0;
}

int transport_init(struct transport *t, const struct cfg *c, struct log *lg, struct err *e)
{
    memset(t, 0, sizeof(*t));
    t->kq.bootstrap = c->kafka.bootstrap;
    t->kq.group = c->kafka.group;
    t->kq.topic_jobs = c->kafka.topic_jobs;
    t->kq.topic_retry = c->kafka.topic_retry;
    t->kq.topic_dlq = c->kafka.topic_dlq;
    t->kq.topic_events = c->kafka.topic_events;
    t->kq.sasl_password = c->kafka.password;
    t->kq.log = lg;
    if (c->kafka.nprops) {
        t->props = calloc(c->kafka.nprops, sizeof(*t->props));
        if (!t->props)
            return err_set(e, ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < c->kafka.nprops; i++) {
            t->props[i].name = c->kafka.props[i].name;
            t->props[i].value = c->kafka.props[i].value;
        }
        t->kq.props = t->props;
        t->kq.n_props = c->kafka.nprops;
    }
    t->lock.password = c->redis.password;
    if (c->redis.url && *c->redis.url)
        return parse_redis_url(t, c->redis.url, e);
    return 0;
}

void transport_release(struct transport *t)
{
    free(t->props);
    t->props = NULL;
}
