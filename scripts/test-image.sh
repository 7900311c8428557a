#!/usr/bin/env bash
# Builds the local Debian bookworm test image `localhost/vigil-test-debian` (idempotent).
# No registry is reachable here, so images are made with debootstrap and `podman import`.
# Usage: scripts/test-image.sh   (as root; prints the image name)
set -euo pipefail
IMAGE=localhost/vigil-test-debian:latest
if podman image exists "$IMAGE" 2>/dev/null; then echo "$IMAGE"; exit 0; fi
CACHE=${VIGIL_IMAGE_CACHE:-/var/cache/vigil-test}
ROOTFS=$CACHE/bookworm-minbase
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if podman image exists "$IMAGE" 2>/dev/null; then echo "$IMAGE"; exit 0; fi
if [ ! -x "$ROOTFS/bin/sh" ]; then
  rm -rf "$ROOTFS.tmp"
  debootstrap --variant=minbase --include=netcat-openbsd,procps,busybox,python3,gcc,libc6-dev,util-linux,strace \
    bookworm "$ROOTFS.tmp" >&2
  mv "$ROOTFS.tmp" "$ROOTFS"
fi
tar -C "$ROOTFS" -c . | podman import - "$IMAGE" >&2
echo "$IMAGE"
