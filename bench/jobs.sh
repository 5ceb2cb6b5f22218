#!/usr/bin/env bash
# bench/jobs.sh: the transport benchmark (bench/bench_jobs.c). Builds the
# libraries and the Kafka-protocol broker in Release (build-benchjobs/, or
# $ODOOSYNC_BENCH_BUILD), links bench_jobs against them, starts its own stack
# (tests/stack/stack up --dir /tmp/bench-jobs-<pid>), runs bench_jobs, and
# stops the stack on exit (also on Ctrl-C).
#
#   bench/jobs.sh [--no-build] [bench_jobs options]
#     --noop-jobs N (5000)  --mkdir-jobs N (2000)  --keys K (200)  --workers 1,2
#     --concurrency C (8)   --partitions P (6)     --rf R (3)      --no-paced
#     --max-inflight N (4 x C)  --prop KAFKA_PROP=VALUE (to every Kafka client; repeatable)
#
# Not a test: it prints a table (jobs/s, latency, RSS, ratio to curl) and
# asserts no speed. Exit 1 only when jobs went missing or failed.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(realpath -m "${ODOOSYNC_BENCH_BUILD:-$SRC/build-benchjobs}")
BIN=$BUILD/bench/bench_jobs

say() { printf 'bench jobs: %s\n' "$*" >&2; }

build() {
    say "building (Release) in $BUILD"
    mkdir -p "$BUILD"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DODOOSYNC_SANITIZE=OFF \
        >"$BUILD/jobs-build.log" 2>&1 || { cat "$BUILD/jobs-build.log" >&2; exit 1; }
    cmake --build "$BUILD" -j2 --target odoosync_worker odoosync_common odoosync_kafkactl \
        kafka_broker >>"$BUILD/jobs-build.log" 2>&1 || { tail -40 "$BUILD/jobs-build.log" >&2; exit 1; }
    mkdir -p "$BUILD/bench"
    local pkgs="rdkafka libcurl libcjson hiredis libxml-2.0 libcrypto"
    local kafkactl
    kafkactl=$(find "$BUILD/tests" -name libodoosync_kafkactl.a | head -1)
    # shellcheck disable=SC2046,SC2086
    cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wshadow \
        -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wpointer-arith -Wcast-qual \
        -Wwrite-strings -Wvla -Wundef -Wnull-dereference -Wno-format-truncation -Werror \
        -I"$SRC/common" -I"$SRC/worker" -I"$SRC/tests/stack" $(pkg-config --cflags $pkgs) \
        "$SRC/bench/bench_jobs.c" "$BUILD/libodoosync_worker.a" "$BUILD/libodoosync_common.a" \
        "$kafkactl" $(pkg-config --libs $pkgs) -lpthread -lm -o "$BIN"
}

STACK_DIR=
stack_down() {
    if [ -n "$STACK_DIR" ] && [ -d "$STACK_DIR" ]; then
        say "stack down --dir $STACK_DIR"
        "$SRC/tests/stack/stack" down --dir "$STACK_DIR" >/dev/null 2>&1 || true
    fi
    STACK_DIR=
}

case "${1:-}" in -h | --help)
    sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
esac
if [ "${1:-}" = "--no-build" ]; then
    shift
else
    build
fi

STACK_DIR=/tmp/bench-jobs-$$
trap stack_down EXIT
trap 'stack_down; exit 130' INT TERM
say "stack up --dir $STACK_DIR"
"$SRC/tests/stack/stack" up --dir "$STACK_DIR" --kafka-broker "$BUILD/tests/stack/kafka_broker" \
    >"$STACK_DIR.log" 2>&1 || { cat "$STACK_DIR.log" >&2; rm -f "$STACK_DIR.log"; exit 1; }
rm -f "$STACK_DIR.log"

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== bench/jobs.sh $*"
"$BIN" --env "$STACK_DIR/env" "$@"
