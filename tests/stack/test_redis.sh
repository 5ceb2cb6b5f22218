#!/usr/bin/env bash
# test_redis: the stack's redis-server answers on REDIS_HOST:REDIS_PORT and
# REDIS_URL: PING, SET/GET, SET NX PX (the shape of odoosync's locks) and
# expiry. Uses redis-cli (Debian's redis-tools). Prints "N passed, N failed".
set -uo pipefail

: "${ODOOSYNC_STACK_ENV:?run under ctest (ODOOSYNC_STACK_ENV unset)}"
set -a
# shellcheck disable=SC1090
. "$ODOOSYNC_STACK_ENV" || exit 1
set +a

passed=0
failed=0
expect() { # WHAT WANT GOT
  if [ "$2" = "$3" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "check failed: $1: got \"$3\", want \"$2\"" >&2
  fi
}
r() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; }

key="stacktest:$$:$(date +%s)"
expect "PING" PONG "$(r PING)"
expect "PING by URL" PONG "$(redis-cli -u "$REDIS_URL" PING)"
expect "SET" OK "$(r SET "$key" "value one")"
expect "GET" "value one" "$(r GET "$key")"
expect "SET NX on a taken key" "" "$(r SET "$key" other NX PX 5000)"
expect "SET NX PX" OK "$(r SET "$key:lock" owner NX PX 200)"
sleep 0.4
expect "lock expired" 0 "$(r EXISTS "$key:lock")"
expect "DEL" 1 "$(r DEL "$key")"
expect "only loopback" "127.0.0.1" "$(r CONFIG GET bind | tail -n 1)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
