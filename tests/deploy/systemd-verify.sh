#!/usr/bin/env bash
# deploy.systemd: deploy/systemd/odoosync.service passes `systemd-analyze verify`
# with no warning (verify exits 0 on unknown keys and bad values, so its output is
# read too), with the hardening we promise. Skipped (exit 77) without systemd-analyze.
set -uo pipefail
src=${ODOOSYNC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${ODOOSYNC_BIN:?ODOOSYNC_BIN names the odoosync binary}
unit=$src/deploy/systemd/odoosync.service
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd-analyze not found: deploy.systemd skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the unit names /usr/local/bin/odoosync; verify checks that it is executable
sed "s|/usr/local/bin/odoosync|$bin|g" "$unit" > "$tmp/odoosync.service"
out=$(systemd-analyze verify "$tmp/odoosync.service" 2>&1)
rc=$?
if [ $rc -eq 0 ] && ! grep -q "odoosync.service" <<<"$out"; then ok; else bad "systemd-analyze verify (rc $rc): $out"; fi

for want in 'ExecStart=/usr/local/bin/odoosync run --config /etc/odoosync/odoosync.json --interval 300' \
    'DynamicUser=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'NoNewPrivileges=yes' \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'SystemCallFilter=@system-service' \
    'CapabilityBoundingSet=' 'ReadWritePaths=/var/lib/odoosync' 'LoadCredential=odoo-api-key:' \
    'LoadCredential=cloud-password:' 'EnvironmentFile=-/etc/odoosync/odoosync.env'; do
  if grep -qxF -- "$want" "$unit" || grep -q "^$(printf '%s' "$want" | sed 's/[][\.*^$]/\\&/g')" "$unit"; then
    ok
  else
    bad "odoosync.service lacks: $want"
  fi
done
grep -q '^Environment=.*PASSWORD\|^Environment=.*KEY' "$unit" && bad "a secret in Environment=" || ok

# TimeoutStopSec covers worker.grace_ms (30 s) plus a margin
t=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$unit")
if [ -n "$t" ] && [ "$t" -ge 40 ]; then ok; else bad "TimeoutStopSec ($t) below grace_ms + 10 s"; fi

# the example configuration loads: with the credential files given and the servers
# pointed at a closed local port, `check` passes the configuration (not exit 2)
# and fails to connect (exit 3)
printf 'k-test\n' > "$tmp/odoo-api-key"
printf 'p-test\n' > "$tmp/cloud-password"
out=$("$bin" check --config "$src/deploy/systemd/odoosync.json.example" \
  -X "odoo.api_key_file=$tmp/odoo-api-key" -X "cloud.password_file=$tmp/cloud-password" \
  -X odoo.url=http://127.0.0.1:9 -X cloud.url=http://127.0.0.1:9/dav/ 2>&1)
rc=$?
if [ $rc -eq 3 ]; then ok; else bad "odoosync.json.example: check exited $rc, want 3: $out"; fi
if grep -q 'k-test\|p-test' <<<"$out"; then bad "a secret in check's output"; else ok; fi
# every variable of the env example names a real key: the loader ignores unknown
# ODOOSYNC_ variables, so each one is tried as `-X key=value`, which refuses them
while IFS='=' read -r k v; do
  case $k in ''|\#*) continue ;; esac
  key=$(printf '%s' "${k#ODOOSYNC_}" | tr 'A-Z_' 'a-z.')
  out=$("$bin" check --config "$src/deploy/systemd/odoosync.json.example" -X "$key=$v" \
    -X "odoo.api_key_file=$tmp/odoo-api-key" -X "cloud.password_file=$tmp/cloud-password" \
    -X odoo.url=http://127.0.0.1:9 -X cloud.url=http://127.0.0.1:9/dav/ 2>&1)
  rc=$?
  if [ $rc -eq 3 ]; then ok; else bad "odoosync.env.example: $k ($key) refused (exit $rc): $out"; fi
done < "$src/deploy/systemd/odoosync.env.example"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
