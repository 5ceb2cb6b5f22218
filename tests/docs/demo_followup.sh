#!/usr/bin/env bash
# README.md's follow-up after `scripts/demo --keep` works as written: runs the demo
# (with the binaries already built, ODOOSYNC_BIN and ODOOSYNC_KAFKA_BROKER), then
# the first ```sh block after the line naming `scripts/demo --keep`, exactly as
# README.md shows it, from the repository root, with a clean environment (no
# ODOO_PASSWORD & co. inherited); asserts exit 0; then stops the demo stack and
# checks that nothing of it is left. Uses the repository's .stack-demo.
set -euo pipefail
SRC=${ODOOSYNC_SOURCE_DIR:?}
cd "$SRC"
block=$(awk '/`scripts\/demo --keep` leaves/ {seen=1} seen && !on && /^#/ {exit} seen && /^```sh$/ {on=1; next}
             on && /^```$/ {exit} on {print}' README.md)
[ -n "$block" ] || { echo "FAIL: no \`\`\`sh block after scripts/demo --keep in README.md"; exit 1; }
echo "README.md's follow-up block:"; printf '  %s\n' "$block"
stop() { tests/stack/stack down --dir .stack-demo >/dev/null 2>&1 || true; }
trap stop EXIT
scripts/demo --keep >"${TMPDIR:-/tmp}/odoosync-demo-followup.log" 2>&1 ||
  { cat "${TMPDIR:-/tmp}/odoosync-demo-followup.log"; echo "FAIL: scripts/demo --keep"; exit 1; }
status=0
env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="${HOME:-/root}" bash -euo pipefail -c "$block" || status=$?
[ $status = 0 ] || { echo "FAIL: README.md's follow-up block exited $status"; exit 1; }
pids=$(cat .stack-demo.pids)
trap - EXIT
tests/stack/stack down --dir .stack-demo
[ ! -e .stack-demo ] && [ ! -e .stack-demo.pids ] || { echo "FAIL: .stack-demo left behind"; exit 1; }
for pid in $(printf '%s\n' "$pids" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p'); do
  st=$(ps -o stat= -p "$pid" || true)  # a zombie (Z) waits for init to reap it: stopped
  case "$st" in "" | Z*) ;; *) echo "FAIL: pid $pid of the demo stack still runs ($st)"; exit 1 ;; esac
done
echo "ok"
