#!/usr/bin/env bash
# image.build: the container image is built as deploy/README.md says. Runs the
# buildah block of step 1 ("Without a Docker daemon ...") word for word from the
# repository root: deploy/debian-base (debian:12-slim from Debian's mirror), `buildah
# build` of deploy/Dockerfile, `odoosync version` inside the image. What differs from
# a user's shell is only the environment: buildah's storage is private to this build
# tree ($ODOOSYNC_IMAGE_DIR, vfs driver: no overlayfs needed) and the base's root
# filesystem is cached a day (DEBIAN_BASE_CACHE, default ~/.cache/odoosync; see
# deploy/debian-base). On success it writes $ODOOSYNC_IMAGE_DIR/image (the tag) for
# image.run, which runs check and work from inside the image against the stack.
#
# Exit 77 (ctest: skipped), with the reason, where buildah cannot run: not
# installed (scripts/install-deps installs it), not root, or it cannot make a
# container here. A failing mirror, base or build is a failure.
set -euo pipefail
SRC=${ODOOSYNC_SOURCE_DIR:?}
DIR=${ODOOSYNC_IMAGE_DIR:?}
skip() { echo "SKIPPED: $*"; exit 77; }

for tool in buildah mmdebstrap; do
  command -v $tool >/dev/null || skip "$tool is not installed (scripts/install-deps installs it, as root)"
done
[ "$(id -u)" = 0 ] || skip "buildah builds here as root only (--isolation chroot); running as $(id -un)"

rm -rf "$DIR"
mkdir -p "$DIR"
cat > "$DIR/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$DIR/storage"
runroot = "$DIR/run"
CONF
export CONTAINERS_STORAGE_CONF=$DIR/storage.conf STORAGE_DRIVER=vfs
export DEBIAN_BASE_CACHE=${DEBIAN_BASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/odoosync}

if ! probe=$(buildah from scratch 2>&1); then
  skip "buildah cannot make a container here: $probe"
fi
buildah rm "$probe" >/dev/null

cd "$SRC"
block=$(awk '/^Without a Docker daemon, build the same image with/ {seen=1}
             seen && /^```sh$/ {on=1; next} on && /^```$/ {exit} on {print}' deploy/README.md)
[ -n "$block" ] || { echo "FAIL: no buildah \`\`\`sh block in deploy/README.md step 1"; exit 1; }
tag=$(printf '%s\n' "$block" | grep -o -- ' -t [^ ]*' | head -1 | cut -d' ' -f3)
[ -n "$tag" ] || { echo "FAIL: the buildah block names no -t TAG"; exit 1; }
echo "deploy/README.md's buildah block:"; printf '%s\n' "$block" | sed 's/^/  /'

log=$DIR/build.log
start=$(date +%s)
# -x with a time stamp on each command: how long each step took (the figures below)
# (PS4 set inside: bash running as root does not take it from the environment)
if ! bash -euo pipefail -c "PS4='+ @\$(date +%s) '; set -x; $block
times" >"$log" 2>&1; then
  tail -40 "$log"
  echo "FAIL: deploy/README.md's buildah block (log: $log)"
  exit 1
fi
took=$(($(date +%s) - start))
grep -E '^debian-base:' "$log" || true
awk '/^\+ @[0-9]+ / {t=substr($2, 2); if (cmd != "") printf "  %4d s  %s\n", t - t0, cmd;
                                          t0=t; cmd=substr($0, index($0, $3)); if (length(cmd) > 70) cmd=substr(cmd, 1, 70) "..."}' "$log"
echo "  CPU time (user, system) of the block's processes: $(tail -1 "$log")"
# the block ran `odoosync version` inside the image: the line after that command
version=$(awk '/^\+ @[0-9]+ buildah run .* -- odoosync version$/ {getline; print; exit}' "$log")
case "$version" in
  "odoosync "[0-9]*) echo "inside the image: $version" ;;
  *) tail -20 "$log"; echo "FAIL: no version from inside the image"; exit 1 ;;
esac
printf '%s\n' "$tag" > "$DIR/image"
echo "ok: image $tag built and run in ${took} s"
