/*
 * cmds: the table of subcommands. To add one, write cli/cmd_NAME.c with
 * `int cmd_NAME(int argc, char **argv)`, declare it here and add it to
 * CLI_COMMANDS in the order --help should list it.
 */
#ifndef ODOOSYNC_CMDS_H
#define ODOOSYNC_CMDS_H

#include <signal.h>

int cmd_run(int argc, char **argv, const volatile sig_atomic_t *stop);
int cmd_plan(int argc, char **argv, const volatile sig_atomic_t *stop);
int cmd_produce(int argc, char **argv, const volatile sig_atomic_t *stop);
int cmd_work(int argc, char **argv, const volatile sig_atomic_t *stop);
int cmd_replay(int argc, char **argv, const volatile sig_atomic_t *stop);
int cmd_check(int argc, char **argv, const volatile sig_atomic_t *stop);
int cmd_config(int argc, char **argv, const volatile sig_atomic_t *stop);
int cmd_version(int argc, char **argv, const volatile sig_atomic_t *stop);

#define CLI_COMMANDS                                                                               \
    {"run", "local mode: scan, plan and apply in one process (no Kafka, no Redis)", cmd_run, 1},   \
        {"plan", "print what a pass would do, change nothing", cmd_plan, 1},                       \
        {"produce", "cluster mode: scan, plan and emit the jobs to Kafka", cmd_produce, 1},        \
        {"work", "cluster mode: apply jobs from Kafka, with Redis locks", cmd_work, 1},            \
        {"replay", "re-emit dead-lettered (or past) jobs to the jobs topic", cmd_replay, 0},       \
        {"check", "connect to each configured part and say how it answers", cmd_check, 1},         \
        {"config", "print the configuration keys (keys) or the effective configuration (dump)",    \
         cmd_config, 0},                                                                           \
        {"version", "print the version and the libraries in use", cmd_version, 0},

#endif
