#!/usr/bin/env bash
# Installs what vigil needs on a fresh Debian bookworm machine (idempotent).
# Build: clang (eBPF C), bpftool (vmlinux.h from the running kernel's BTF), libbpf headers.
# Tests: podman + runc (real containers), debootstrap (local images), nats-server,
# rsyslog-free syslog is provided by the tests themselves.
set -euo pipefail
need=()
for p in clang llvm bpftool libbpf-dev podman runc debootstrap nats-server uidmap fuse-overlayfs slirp4netns python3-venv jq zstd openssl; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# podman on this VM: crun fails on the hybrid cgroup layout, so use runc; ulimits cannot be raised.
mkdir -p /etc/containers
if ! grep -q 'runtime = "runc"' /etc/containers/containers.conf 2>/dev/null; then
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
CONF
fi
# The rules reference generator (scripts/gen-rules-doc.py) needs PyYAML.
python3 -c "import yaml" 2>/dev/null || pip install -q pyyaml
# tracefs is where tracepoint ids live.
if [ ! -d /sys/kernel/tracing/events ]; then
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
