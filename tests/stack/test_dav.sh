#!/usr/bin/env bash
# test_dav: the stack's Apache WebDAV server does what odoosync relies on,
# checked with the curl command line tool: MKCOL, PUT (and a 20 MB one, byte
# for byte back), PROPFIND Depth 1 listing, PROPPATCH of a dead property in
# urn:odoosync then PROPFIND showing it, MOVE with Overwrite: F (201, then
# 412 onto an existing target), DELETE, 401 for a wrong password, and a file
# root writes straight into DAV_ROOT_DIR can be moved through WebDAV.
# Each run works in its own collection. Prints "N passed, N failed".
set -uo pipefail

: "${ODOOSYNC_STACK_ENV:?run under ctest (ODOOSYNC_STACK_ENV unset)}"
set -a
# shellcheck disable=SC1090
. "$ODOOSYNC_STACK_ENV" || exit 1
set +a

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "check failed: $*" >&2; }
expect_code() { # WHAT WANT GOT
  if [ "$2" = "$3" ]; then ok; else bad "$1: HTTP $3, want $2"; fi
}
expect_grep() { # WHAT PATTERN FILE
  if grep -q -- "$2" "$3"; then ok; else bad "$1: no \"$2\" in:"; cat "$3" >&2; fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
auth="$DAV_USER:$DAV_PASSWORD"
dav() { # METHOD PATH [curl args...]: prints the status code, body in $tmp/body
  local m=$1 p=$2
  shift 2
  curl -sS -o "$tmp/body" -w '%{http_code}' -u "$auth" -X "$m" "$@" "${DAV_URL}$p"
}

col="stacktest-$$-$(date +%s)"
expect_code "MKCOL" 201 "$(dav MKCOL "$col/")"
expect_code "MKCOL again" 405 "$(dav MKCOL "$col/")"
printf 'hello odoosync\n' >"$tmp/hello.txt"
expect_code "PUT" 201 "$(dav PUT "$col/hello.txt" -T "$tmp/hello.txt")"
expect_code "PUT overwrite" 204 "$(dav PUT "$col/hello.txt" -T "$tmp/hello.txt")"
expect_code "GET" 200 "$(dav GET "$col/hello.txt")"
if cmp -s "$tmp/body" "$tmp/hello.txt"; then ok; else bad "GET returned other bytes"; fi

expect_code "PROPFIND depth 1" 207 "$(dav PROPFIND "$col/" -H 'Depth: 1' \
  -H 'Content-Type: application/xml' --data '<?xml version="1.0"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getcontentlength/><D:resourcetype/></D:prop></D:propfind>')"
expect_grep "PROPFIND lists the file" "<D:href>/dav/$col/hello.txt</D:href>" "$tmp/body"
expect_grep "PROPFIND length" "<lp1:getcontentlength>15</lp1:getcontentlength>" "$tmp/body"
expect_grep "PROPFIND etag" "getetag>\\(W/\\)\\?\"" "$tmp/body"
if grep -q '\.DAV' "$tmp/body"; then bad "PROPFIND shows the .DAV store"; else ok; fi

expect_code "PROPPATCH" 207 "$(dav PROPPATCH "$col/hello.txt" -H 'Content-Type: application/xml' \
  --data '<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:o="urn:odoosync"><D:set><D:prop><o:attachment-id>4242</o:attachment-id></D:prop></D:set></D:propertyupdate>')"
expect_grep "PROPPATCH status" "HTTP/1.1 200 OK" "$tmp/body"
expect_code "PROPFIND dead property" 207 "$(dav PROPFIND "$col/hello.txt" -H 'Depth: 0' \
  -H 'Content-Type: application/xml' --data '<?xml version="1.0"?>
<D:propfind xmlns:D="DAV:" xmlns:o="urn:odoosync"><D:prop><o:attachment-id/></D:prop></D:propfind>')"
expect_grep "dead property value" ">4242</" "$tmp/body"
expect_grep "dead property namespace" 'xmlns:ns[0-9]*="urn:odoosync"' "$tmp/body"

expect_code "MOVE Overwrite F" 201 "$(dav MOVE "$col/hello.txt" -H "Destination: ${DAV_URL}$col/moved.txt" \
  -H 'Overwrite: F')"
expect_code "GET moved" 200 "$(dav GET "$col/moved.txt")"
expect_code "GET old name" 404 "$(dav GET "$col/hello.txt")"
expect_code "dead property follows MOVE" 207 "$(dav PROPFIND "$col/moved.txt" -H 'Depth: 0' \
  --data '<?xml version="1.0"?>
<D:propfind xmlns:D="DAV:" xmlns:o="urn:odoosync"><D:prop><o:attachment-id/></D:prop></D:propfind>')"
expect_grep "dead property after MOVE" ">4242</" "$tmp/body"
expect_code "PUT second" 201 "$(dav PUT "$col/other.txt" -T "$tmp/hello.txt")"
expect_code "MOVE onto existing, Overwrite F" 412 "$(dav MOVE "$col/other.txt" \
  -H "Destination: ${DAV_URL}$col/moved.txt" -H 'Overwrite: F')"
expect_code "source kept after 412" 200 "$(dav GET "$col/other.txt")"

# A big upload (LimitRequestBody 0), streamed back byte for byte.
head -c 20971520 /dev/urandom >"$tmp/big.bin"
expect_code "PUT 20 MB" 201 "$(dav PUT "$col/big.bin" -T "$tmp/big.bin")"
expect_code "GET 20 MB" 200 "$(dav GET "$col/big.bin")"
if cmp -s "$tmp/body" "$tmp/big.bin"; then ok; else bad "20 MB file came back different"; fi

# What a test writes straight into DAV_ROOT_DIR (as root) stays manageable over WebDAV.
mkdir "$DAV_ROOT_DIR/$col/fromdisk" && printf 'disk\n' >"$DAV_ROOT_DIR/$col/fromdisk/d.txt"
expect_code "MOVE a file written on disk" 201 "$(dav MOVE "$col/fromdisk/d.txt" \
  -H "Destination: ${DAV_URL}$col/fromdisk/e.txt")"
expect_code "PROPPATCH in a dir made on disk" 207 "$(dav PROPPATCH "$col/fromdisk/e.txt" \
  --data '<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:o="urn:odoosync"><D:set><D:prop><o:x>1</o:x></D:prop></D:set></D:propertyupdate>')"
expect_grep "PROPPATCH in a dir made on disk" "HTTP/1.1 200 OK" "$tmp/body"

code=$(curl -sS -o /dev/null -w '%{http_code}' -u "$DAV_USER:wrong-$DAV_PASSWORD" "${DAV_URL}$col/moved.txt")
expect_code "wrong password" 401 "$code"
code=$(curl -sS -o /dev/null -w '%{http_code}' "${DAV_URL}$col/moved.txt")
expect_code "no credentials" 401 "$code"

expect_code "DELETE file" 204 "$(dav DELETE "$col/moved.txt")"
expect_code "GET deleted" 404 "$(dav GET "$col/moved.txt")"
expect_code "DELETE collection" 204 "$(dav DELETE "$col/")"
expect_code "PROPFIND deleted collection" 404 "$(dav PROPFIND "$col/" -H 'Depth: 0')"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
