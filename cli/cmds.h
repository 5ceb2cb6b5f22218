/*
 * cmds: the table of subcommands. To add one, write cli/cmd_NAME.c with
 * `int cmd_NAME(int argc, char **argv)`, declare it here and add it to
 * CLI_COMMANDS in the order --help should list it.
 */
#ifndef ODOOSYNC_CMDS_H
#define ODOOSYNC_CMDS_H

int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_produce(int argc, char **argv);
int cmd_work(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_version(int argc, char **argv);

#define CLI_COMMANDS                                                                               \
    {"run", "local mode: scan, plan and apply in one process (no Kafka, no Redis)", cmd_run},      \
        {"plan", "print what a pass would do, change nothing", cmd_plan},                          \
        {"produce", "cluster mode: scan, plan and emit the jobs to Kafka", cmd_produce},           \
        {"work", "cluster mode: apply jobs from Kafka, with Redis locks", cmd_work},               \
        {"replay", "re-emit dead-lettered (or past) jobs to the jobs topic", cmd_replay},          \
        {"check", "connect to each configured part and say how it answers", cmd_check},            \
        {"version", "print the version and the libraries in use", cmd_version},

#endif
