#!/bin/bash
# Enforcement overhead (needs root): runs the syscall_load example (fork+exec and connect
# loops) inside a scratch cgroup v2, without and then with enforcement policies applied to
# that cgroup (the worst case: every exec and open is checked against the policy), and prints
# the throughput ratio. Usage: bench/response-latency.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p vigil --example syscall_load
cargo build -q -p vigil-response --example enforce
load=$CARGO_TARGET_DIR/release/examples/syscall_load
enf=$CARGO_TARGET_DIR/debug/examples/enforce
cg=/sys/fs/cgroup/unified/vigil-overhead
mkdir -p $cg
policy=$(mktemp --suffix=.yaml)
cat > "$policy" <<'YAML'
policies:
  - name: overhead
    mode: enforce
    exec:
      allow: ["/usr/bin/*", "/bin/*", "/usr/sbin/*", "/work/*", "/tmp/*"]
      deny: ["/usr/bin/nc*"]
    files:
      deny_read: [/etc/shadow, /root/.ssh/]
      deny_write: [/etc/, /usr/bin/]
    network:
      egress:
        deny: [{cidr: 169.254.169.254/32}, {cidr: 127.0.0.99/32, ports: [1]}]
YAML
run() { bash -c "echo \$\$ > $cg/cgroup.procs; exec $load $1 2 $secs" | awk '{print $3 " ops/s"}'; }
for kind in exec connect; do
  base=$(run $kind)
  log=$(mktemp)
  $enf "$policy" "cgroup:$cg" > "$log" 2>&1 &
  pid=$!
  until grep -q applied "$log"; do sleep 0.2; done
  with=$(run $kind)
  kill $pid; wait $pid 2>/dev/null || true
  echo "$kind: without policy: $base | with policy: $with"
  rm -f "$log"
done
rmdir $cg 2>/dev/null || true
rm -f "$policy"
