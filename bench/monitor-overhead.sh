#!/usr/bin/env bash
# Overhead of `vigil monitor` (default rules, or -r FILE given as $RULES) on syscall-heavy
# loops on both cores, measured like the Falco comparison: throughput with vigil running
# divided by throughput without, vigil's CPU (cores) and peak RSS, and drops.
# Usage (root): bench/monitor-overhead.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
cargo build --release -q -p vigil --bin vigil --example syscall_load
tgt=${CARGO_TARGET_DIR:-target}
bin=$tgt/release/vigil
load=$tgt/release/examples/syscall_load
rules_args=()
[ -n "${RULES:-}" ] && rules_args=(-r "$RULES")
printf '%-8s %12s %12s %7s %7s %8s %8s %8s\n' loop base_ops/s vigil_ops/s ratio cores rss_MB events dropped
for kind in open connect exec; do
  base=$($load "$kind" 2 "$secs" | awk '{print $3}')
  $bin monitor --no-metrics --stats-interval 0 "${rules_args[@]}" > /dev/null 2> /tmp/vigil-bench.err &
  vpid=$!
  for _ in $(seq 100); do grep -q monitoring /tmp/vigil-bench.err 2>/dev/null && break; sleep 0.1; done
  t0=$(awk '{print $14+$15}' /proc/$vpid/stat)
  with=$($load "$kind" 2 "$secs" | awk '{print $3}')
  t1=$(awk '{print $14+$15}' /proc/$vpid/stat)
  rss=$(awk '/VmHWM/{print $2}' /proc/$vpid/status)
  kill -TERM $vpid; wait $vpid || true
  final=$(grep 'final:' /tmp/vigil-bench.err)
  events=$(echo "$final" | sed -E 's/.*final: ([0-9]+) events.*/\1/')
  dropped=$(echo "$final" | sed -E 's/.*dropped ([0-9]+) .*/\1/')
  hz=$(getconf CLK_TCK)
  awk -v k="$kind" -v b="$base" -v w="$with" -v t="$((t1 - t0))" -v hz="$hz" -v s="$secs" -v r="$rss" -v e="$events" -v d="$dropped" \
    'BEGIN { printf "%-8s %12.0f %12.0f %7.3f %7.3f %8.1f %8d %8d\n", k, b, w, w / b, t / hz / s, r / 1024, e, d }'
done
