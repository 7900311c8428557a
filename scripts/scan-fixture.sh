#!/usr/bin/env bash
# Builds the image fixtures for the `vigil scan` tests (idempotent; cached under
# /var/cache/vigil-test/scan-fixture). Prints the fixture directory.
#
# Contents: a Debian bookworm minbase rootfs (copied from scripts/test-image.sh's cache when
# present, else debootstrap) plus python3-venv, a virtualenv with old vulnerable packages
# installed by pip inside a chroot, a Cargo.lock, and a few planted test secrets; imported into
# podman as localhost/vigil-scan-fixture:latest and saved as
#   docker-archive.tar   (podman save --format docker-archive)
#   oci-archive.tar      (podman save --format oci-archive)
#   oci/                 (the OCI archive extracted: an OCI image layout directory)
#   oci-zstd/            (the same image with its layer recompressed with zstd)
#   rootfs/              (the root filesystem itself)
# Usage: scripts/scan-fixture.sh   (as root)
set -euo pipefail
CACHE=${VIGIL_IMAGE_CACHE:-/var/cache/vigil-test}
OUT=$CACHE/scan-fixture
STAMP=$OUT/.done-v1
IMAGE=localhost/vigil-scan-fixture:latest
if [ -f "$STAMP" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.scan-fixture.lock"
flock 9
if [ -f "$STAMP" ]; then echo "$OUT"; exit 0; fi

TMP=$OUT.tmp
ROOT=$TMP/rootfs
cleanup() { umount "$ROOT/proc" 2>/dev/null || true; }
trap cleanup EXIT
rm -rf "$TMP"
mkdir -p "$TMP"
if [ -x "$CACHE/bookworm-minbase/bin/sh" ]; then
  cp -a "$CACHE/bookworm-minbase" "$ROOT"
else
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$ROOT" >&2
fi

# python3-venv and a virtualenv populated by pip, inside the chroot.
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$ROOT/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/vigil-host-ca.crt"
fi
mount -t proc proc "$ROOT/proc"
# A clean environment: the host's CA-bundle variables name files that do not exist inside.
CENV=(/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)
chroot "$ROOT" "${CENV[@]}" DEBIAN_FRONTEND=noninteractive sh -ec '
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends python3-venv >&2
  apt-get clean
  rm -rf /var/lib/apt/lists/*
'
chroot "$ROOT" "${CENV[@]}" python3 -m venv /opt/app/venv
PIP=("${CENV[@]}" PIP_CERT=/etc/ssl/certs/vigil-host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1
  /opt/app/venv/bin/pip install --no-cache-dir --no-build-isolation)
chroot "$ROOT" "${PIP[@]}" requests==2.19.1 jinja2==2.10 pyyaml==5.3 >&2
# requests 2.19.1 pins urllib3<1.24, so urllib3 1.24.1 goes in on its own (as in real images
# where a later `pip install -U` breaks the pin).
chroot "$ROOT" "${PIP[@]}" --no-deps urllib3==1.24.1 >&2
umount "$ROOT/proc"
rm -f "$ROOT/etc/resolv.conf" "$ROOT/etc/ssl/certs/vigil-host-ca.crt"
chroot "$ROOT" "${CENV[@]}" /opt/app/venv/bin/pip freeze > "$TMP/pip-freeze.txt" 2>/dev/null || true

# A Rust lock file with a known-vulnerable crate (smallvec 1.6.0: RUSTSEC-2021-0003).
mkdir -p "$ROOT/opt/rustapp"
cat > "$ROOT/opt/rustapp/Cargo.lock" <<'LOCK'
version = 3

[[package]]
name = "rustapp"
version = "0.1.0"
dependencies = ["smallvec"]

[[package]]
name = "smallvec"
version = "1.6.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
LOCK

# Planted test secrets (fake, high-entropy values; never real credentials).
mkdir -p "$ROOT/opt/app/config"
cat > "$ROOT/opt/app/config/.env" <<'ENVF'
AWS_ACCESS_KEY_ID=AKIAZ5T3MXQ7RJ2KLW4P
aws_secret_access_key=Zr8f3kQ9xL2mN7vB4cT1wY6uE0iO5pA3sD8gH2jK
ENVF
cat > "$ROOT/opt/app/config/db.yaml" <<'YAML'
database:
  host: db
  password: "Hq7kL2p9Wz!x"
YAML

# podman import with config settings the image checks look at.
podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
tar -C "$ROOT" -c . | podman import \
  --change 'EXPOSE 22' \
  --change 'ENV API_TOKEN=ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8' \
  --change 'CMD ["/bin/sh"]' \
  - "$IMAGE" >&2
podman save --format docker-archive -o "$TMP/docker-archive.tar" "$IMAGE" >&2
podman save --format oci-archive -o "$TMP/oci-archive.tar" "$IMAGE" >&2
mkdir -p "$TMP/oci"
tar -C "$TMP/oci" -xf "$TMP/oci-archive.tar"

# The same image with a zstd-compressed layer (exercises the zstd path).
python3 - "$TMP/oci" "$TMP/oci-zstd" <<'PY'
import hashlib, json, os, shutil, subprocess, sys
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
def blob(d): return os.path.join(dst, "blobs", *d.split(":"))
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(os.path.join(dst, "blobs", "sha256", h), "wb").write(data)
    return "sha256:" + h, len(data)
idx = json.load(open(os.path.join(dst, "index.json")))
m = idx["manifests"][0]
man = json.load(open(blob(m["digest"])))
for l in man["layers"]:
    raw = open(blob(l["digest"]), "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = subprocess.run(["gzip", "-dc"], input=raw, capture_output=True, check=True).stdout
    z = subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, capture_output=True, check=True).stdout
    l["digest"], l["size"] = put(z)
    l["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd"
m["digest"], m["size"] = put(json.dumps(man).encode())
json.dump(idx, open(os.path.join(dst, "index.json"), "w"))
PY

rm -rf "$OUT"
mv "$TMP" "$OUT"
touch "$STAMP"
echo "$OUT"
