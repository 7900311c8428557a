#!/usr/bin/env bash
# Response latency (needs root, podman and the test image).
#
# 1. The in-kernel and enforcer measurements of bench/response-latency.rs (see its header):
#    kill before return to user space at open and exec, EPERM refusals, user-space
#    responses to a kernel-detected event.
# 2. Rule-triggered responses end to end: `vigil monitor --json -r RULES | vigil policy
#    respond POLICY` while a container runs the triggering program N times (`sleep 301`,
#    matched by a rule whose response is kill_process). Measured per response: the event's
#    time (the alert's `time`) → the process is dead (`alert_to_done_us`), which includes
#    the sensor, the rules engine, the alert pipeline and the responder. The first trigger
#    is reported apart (the monitor and the responder look the new container up once).
# Usage: [RULE_ONLY=1] bench/response-latency.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
# RULE_ONLY=1 skips part 1.
[ -n "${RULE_ONLY:-}" ] || cargo bench -q -p vigil-response --bench response-latency -- "$n" 2>&1 | grep -v '^\s*$'

cargo build --release -q -p vigil --bin vigil
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/vigil")
work=$(mktemp -d)
name=vigil-bench-rt
trap 'podman rm -f -t 0 $name >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cat > "$work/rules.yaml" <<'YAML'
- rule: bench trigger
  desc: benchmark trigger
  condition: evt.type in (execve, execveat) and evt.dir = < and container.id != host and proc.name = sleep and proc.args = "301"
  output: "trigger (%proc.cmdline)"
  priority: CRITICAL
YAML
cat > "$work/policy.yaml" <<YAML
responses:
  - rules: ["bench trigger"]
    scope: {names: [$name]}
    actions: [kill_process]
YAML
m=$(( n < 100 ? n : 100 ))
mkfifo "$work/alerts"
$bin monitor --json --no-metrics --stats-interval 0 -r "$work/rules.yaml" > "$work/alerts" 2> "$work/mon.err" &
mpid=$!
$bin policy respond "$work/policy.yaml" < "$work/alerts" > "$work/resp.jsonl" 2> "$work/resp.err" &
rpid=$!
for _ in $(seq 300); do grep -q monitoring "$work/mon.err" && break; sleep 0.1; done
podman rm -f -t 0 $name >/dev/null 2>&1 || true
t0=$(date +%s.%N)
podman run --rm --name $name --network=host localhost/vigil-test-debian bash -c \
  "for i in \$(seq $m); do timeout 5 sleep 301; echo \$?; sleep 0.1; done" > "$work/ctr.out" 2>/dev/null
t1=$(date +%s.%N)
sleep 1
kill -INT $mpid; wait $mpid || true
wait $rpid || true
killed=$(grep -c '^137$' "$work/ctr.out" || true)
echo "rule-triggered kill_process through monitor | respond: $killed/$m triggers killed (exit 137), $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
grep '"action":"kill_process"' "$work/resp.jsonl" | sed -E 's/.*"alert_to_done_us":([0-9]+).*/\1/' > "$work/lat"
head -1 "$work/lat" | awk '{printf "  first trigger (new container): event -> process dead %.1f ms\n", $1 / 1000}'
tail -n +2 "$work/lat" | sort -n | awk '{ v[NR] = $1 } END {
  if (NR == 0) { print "  no samples"; exit }
  i50 = int((NR - 1) * 0.5 + 0.5) + 1; i99 = int((NR - 1) * 0.99 + 0.5) + 1
  printf "  later triggers: event -> process dead  n=%d  p50=%.1f ms  p99=%.1f ms  max=%.1f ms\n", NR, v[i50] / 1000, v[i99] / 1000, v[NR] / 1000 }'
grep '"action":"kill_process"' "$work/resp.jsonl" | sed -E 's/.*"latency_us":([0-9]+).*/\1/' | sort -n | awk '{ v[NR] = $1 } END {
  if (NR == 0) exit
  i50 = int((NR - 1) * 0.5 + 0.5) + 1; i99 = int((NR - 1) * 0.99 + 0.5) + 1
  printf "  the kill itself (SIGKILL -> dead):      n=%d  p50=%.2f ms  p99=%.2f ms\n", NR, v[i50] / 1000, v[i99] / 1000 }'
