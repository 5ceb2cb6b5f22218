#!/usr/bin/env bash
# test_odoo: the stack's Odoo emulator answers at ODOO_URL with the env's
# credentials: common.version matches ODOO_VERSION, common.login gives a uid,
# object.execute_kw works with ODOO_PASSWORD and with ODOO_API_KEY as the
# password (as in real Odoo), and a wrong password is odoo.exceptions.AccessDenied.
# Only checks the stack's contract; tests/odoo/ tests the emulator itself.
set -uo pipefail

: "${ODOOSYNC_STACK_ENV:?run under ctest (ODOOSYNC_STACK_ENV unset)}"
set -a
# shellcheck disable=SC1090
. "$ODOOSYNC_STACK_ENV" || exit 1
set +a
if [ -z "${ODOO_URL:-}" ]; then
  echo "no ODOO_URL in $ODOOSYNC_STACK_ENV: the stack started without the emulator" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

passed=0
failed=0
expect() { # WHAT PATTERN TEXT
  if printf '%s' "$3" | grep -q -- "$2"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "check failed: $1: no \"$2\" in: $3" >&2
  fi
}
rpc() { # SERVICE METHOD ARGS_JSON
  curl -sS -X POST -H 'Content-Type: application/json' --data \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"call\",\"params\":{\"service\":\"$1\",\"method\":\"$2\",\"args\":$3}}" \
    "$ODOO_URL/jsonrpc"
}

expect "version" "\"server_version\": *\"$ODOO_VERSION\\.0" "$(rpc common version '[]')"
login=$(rpc common login "[\"$ODOO_DB\",\"$ODOO_USER\",\"$ODOO_PASSWORD\"]")
expect "login" '"result": *[0-9]' "$login"
uid=$(printf '%s' "$login" | sed -n 's/.*"result": *\([0-9]*\).*/\1/p')
for pw in "$ODOO_PASSWORD" "$ODOO_API_KEY"; do
  expect "execute_kw" '"result": *[0-9]' \
    "$(rpc object execute_kw "[\"$ODOO_DB\",${uid:-0},\"$pw\",\"ir.attachment\",\"search_count\",[[]]]")"
done
expect "wrong password" "odoo.exceptions.AccessDenied" \
  "$(rpc object execute_kw "[\"$ODOO_DB\",${uid:-0},\"wrong\",\"ir.attachment\",\"search_count\",[[]]]")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
