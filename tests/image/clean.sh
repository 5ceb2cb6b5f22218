#!/usr/bin/env bash
# image.clean: removes the image tests' private buildah storage (several GB with the
# vfs driver); the cached base root filesystem (deploy/debian-base --cache) stays.
set -uo pipefail
DIR=${ODOOSYNC_IMAGE_DIR:?}
[ -d "$DIR" ] || exit 0
if [ -f "$DIR/storage.conf" ] && command -v buildah >/dev/null; then
  export CONTAINERS_STORAGE_CONF=$DIR/storage.conf STORAGE_DRIVER=vfs
  buildah rm --all >/dev/null 2>&1
  buildah rmi --all --force >/dev/null 2>&1
fi
rm -rf "$DIR"
echo "ok: removed $DIR"
