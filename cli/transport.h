/*
 * transport: the configuration of the cluster transport (Kafka queue and
 * Redis locks) taken from struct cfg, for `odoosync work` and `replay`.
 * The structs filled here borrow strings from the cfg (keep it alive);
 * *props is allocated and freed with transport_release().
 */
#ifndef ODOOSYNC_TRANSPORT_H
#define ODOOSYNC_TRANSPORT_H

#include "cfg.h"
#include "kq.h"
#include "lock.h"
#include "log.h"

struct transport {
    struct kq_conf kq;
    struct lock_conf lock;
    struct kq_prop *props;
    char redis_host[256];
};

/* 0, or ERR_INVALID (a redis.url we cannot use) / ERR_NOMEM. */
int transport_init(struct transport *t, const struct cfg *c, struct log *lg, struct err *e);
void transport_release(struct transport *t);

#endif
