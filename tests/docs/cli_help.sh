#!/usr/bin/env bash
# Every command answers `--help` the same way: its usage ("usage: odoosync
# <command>") on stdout, exit 0, and nothing else done; an unknown option prints
# the usage on stderr and exits 2. The commands are the ones `odoosync --help` lists.
set -uo pipefail
BIN=${ODOOSYNC_BIN:?}
fail=0
cmds=$("$BIN" --help | awk '/^commands:/ {on=1; next} on && /^$/ {exit} on {print $1}')
[ -n "$cmds" ] || { echo "FAIL: odoosync --help lists no command"; exit 1; }
for c in $cmds; do
  out=$("$BIN" "$c" --help 2>/dev/null); rc=$?
  if [ $rc != 0 ] || ! printf '%s\n' "$out" | head -1 | grep -q "^usage: odoosync $c\b"; then
    echo "FAIL: odoosync $c --help: exit $rc, first line: $(printf '%s\n' "$out" | head -1)"
    fail=1
  fi
  err=$("$BIN" "$c" --no-such-option 2>&1 >/dev/null); rc=$?
  # a here-string, not a pipe: grep -q stops reading at its match, and with pipefail a
  # writer still writing (SIGPIPE) would fail the check though the usage was there
  if [ $rc != 2 ] || ! grep -q "usage: odoosync $c\b" <<<"$err"; then
    echo "FAIL: odoosync $c --no-such-option: exit $rc (want 2 and the usage on stderr)"
    fail=1
  fi
done
# the version command's help names what it prints
grep -qi "version" <<<"$("$BIN" version --help)" || { echo "FAIL: odoosync version --help"; fail=1; }
[ $fail = 0 ] && echo "ok: $(echo $cmds)"
exit $fail
