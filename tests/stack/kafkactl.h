/*
 * kafkactl: a test's handle on the stack's Kafka broker faults. The broker
 * (tests/stack/kafka_broker.c) listens on a unix socket whose path `stack up`
 * writes as KAFKA_CONTROL in the env file; each command is one line and gets
 * one reply line, "OK" or "ERR <why>", once the broker has applied it.
 * Commands: ping | down N | up N | rtt N MS | error APIKEY ERRCODE COUNT |
 * topic NAME PARTITIONS RF | leader TOPIC PARTITION N |
 * coordinator group|transaction KEY N | clear   (brokers are numbered 1..3).
 *
 * A test that takes brokers down disturbs every other test using Kafka: give
 * it the ctest property RUN_SERIAL.
 */
#ifndef ODOOSYNC_KAFKACTL_H
#define ODOOSYNC_KAFKACTL_H

#include <stddef.h>

/*
 * Sends one command (printf format, no newline) to the socket named by
 * getenv("KAFKA_CONTROL") (call stackenv_load() first). Returns 0 when the
 * broker answered OK, -1 otherwise with the reason in why (may be NULL).
 */
int kafkactl_send(char *why, size_t whycap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
