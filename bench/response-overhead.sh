#!/usr/bin/env bash
# Overhead of enforcement and of profile recording on the live-detection loops (needs root,
# podman and the test image). The loops of bench/monitor-overhead.sh (syscall_load: fork+exec
# of /bin/true, TCP connect to a loopback listener, open+close) run inside a podman container
# on both cores (two threads, as when the figures in docs/response.md were taken), under these configurations, interleaved round by round so that drift in the
# machine's load hits every configuration alike:
#
#   base        nothing running
#   monitor     vigil monitor (default rules)                  = the live-detection benchmark
#   mon+policy  vigil monitor --policy P (P applied to the container: exec allow-list, file
#               and network rules, so every exec, open and connect is checked in the kernel)
#   policy      vigil policy enforce P -c CONTAINER (enforcement alone)
#   record      vigil profile record -c CONTAINER (per-cgroup syscall bitmap + baseline events)
#   record-sc   vigil profile record --syscalls-only -c CONTAINER (the kernel bitmap alone;
#               not in the default set: CONFIGS="base monitor record record-sc")
#
# Per configuration and loop it prints the median over the rounds of: operations per second
# (wall clock), operations per CPU-second of the loop (its user+sys time including its
# children: the in-kernel cost of the eBPF programs is charged to the process making the
# syscall, and this figure is not disturbed by other processes competing for the cores),
# the loss of each against `base`, and the CPU (cores) the vigil process used.
#
# Throughput on a machine shared with other work is noisy, so the in-kernel cost is also
# measured directly: with kernel.bpf_stats_enabled=1 (restored afterwards) the kernel counts
# run time and runs of every eBPF program; per configuration the script prints the time
# vigil's programs ran per loop operation (enforcement: vigil_resp_*; sensor and recording:
# the other vigil_* programs). Programs run for every process on the machine, so this is an
# upper bound of what the loop paid; it is compared with the loop's CPU per operation at
# base.
# The raw measurements go to stderr (one line per run) and to $RAW if set;
# `bench/response-overhead.sh --summarize RAWFILE` prints the tables again from them.
# Usage: [KINDS="exec connect"] [CONFIGS="monitor mon+policy"] bench/response-overhead.sh
#        [SECONDS] [ROUNDS]   (the summary needs `base` among the configurations)
set -euo pipefail
cd "$(dirname "$0")/.."

summarize() {
  local raw=$1
  local secs rounds
  secs=$(awk 'NR == 1 && $1 == "#" { print $3 }' "$raw")
  rounds=$(awk '$1 ~ /^[0-9]+$/ { r = $1 } END { print r }' "$raw")
  echo
  echo "loops in a container on $(nproc) cores, ${secs}s per run, median of $rounds rounds"
  printf '%-8s %-11s %10s %7s %10s %7s %7s %11s %11s %s\n' loop config ops/s loss ops/cpu-s loss cores resp_ns/op sens_ns/op "in-kernel resp cost vs base CPU/op"
  med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  local kind cfg col bops bcpu ops cpu cores rns sns kinds cfgs
  kinds=$(awk '$1 ~ /^[0-9]+$/ && !seen[$3]++ { printf "%s ", $3 }' "$raw")
  cfgs=$(awk '$1 ~ /^[0-9]+$/ && !seen[$2]++ { printf "%s ", $2 }' "$raw")
  for kind in $kinds; do
    for cfg in $cfgs; do
      for col in 4 5 6 7 8; do
        awk -v c="$cfg" -v k="$kind" -v col=$col '$2 == c && $3 == k { print $col }' "$raw" | med
      done | tr '\n' ' ' > "$raw.m_$cfg"
      echo >> "$raw.m_$cfg"
    done
    read -r bops bcpu _ < "$raw.m_base"
    for cfg in $cfgs; do
      read -r ops cpu cores rns sns < "$raw.m_$cfg"
      awk -v k="$kind" -v c="$cfg" -v o="$ops" -v p="$cpu" -v bo="$bops" -v bp="$bcpu" -v u="$cores" -v rn="$rns" -v sn="$sns" \
        'BEGIN { if (rn < 0) rn = 0; if (sn < 0) sn = 0
                 printf "%-8s %-11s %10.0f %6.1f%% %10.0f %6.1f%% %7.3f %11.0f %11.0f %6.2f%%\n", k, c, o, 100 * (1 - o / bo), p, 100 * (1 - p / bp), u, rn, sn, 100 * rn * bp / 1e9 }'
    done
  done
  rm -f "$raw".m_*
  grep -q ' mon+policy ' "$raw" && grep -q ' monitor ' "$raw" || return 0
  echo
  echo "enforcement on top of live detection (mon+policy vs monitor, same round), extra loss:"
  for kind in $kinds; do
    awk -v k="$kind" '$2 == "monitor" && $3 == k { mo[$1] = $4; mc[$1] = $5 } $2 == "mon+policy" && $3 == k { po[$1] = $4; pc[$1] = $5 }
      END { for (r in mo) { n++; so += 1 - po[r] / mo[r]; sc += 1 - pc[r] / mc[r] }
            printf "  %-8s ops/s %+.1f%%   ops/cpu-s %+.1f%%   (mean over %d paired rounds)\n", k, 100 * so / n, 100 * sc / n, n }' "$raw"
  done
}

if [ "${1:-}" = --summarize ]; then
  summarize "$2"
  exit
fi
secs=${1:-4}
rounds=${2:-5}
image=localhost/vigil-test-debian
name=vigil-bench-overhead
cargo build --release -q -p vigil --bin vigil --example syscall_load
tgt=${CARGO_TARGET_DIR:-target}
bin=$(realpath "$tgt/release/vigil")
load=$(realpath "$tgt/release/examples/syscall_load")
work=$(mktemp -d)
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled=$stats_was; podman rm -f -t 0 $name >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
# prog_ns: "resp_ns sensor_ns" summed over loaded vigil programs (only ours are named vigil_*
# by this benchmark's agent; other engineers' sensors would be counted too, see above).
prog_ns() {
  bpftool prog show -j | python3 -c '
import json, sys
r = s = 0
for p in json.load(sys.stdin):
    n = p.get("name", "")
    if n.startswith("vigil_resp"):
        r += p.get("run_time_ns", 0)
    elif n.startswith("vigil_"):
        s += p.get("run_time_ns", 0)
print(r, s)'
}
cat > "$work/policy.yaml" <<'YAML'
policies:
  - name: overhead
    mode: enforce
    exec:
      allow: ["/usr/bin/*", "/bin/*", "/usr/sbin/*", "/load"]
      deny: ["/usr/bin/nc*"]
    files:
      deny_read: [/etc/shadow, /root/.ssh/]
      deny_write: [/etc/, /usr/bin/]
    network:
      egress:
        deny: [{cidr: 169.254.169.254/32}, {cidr: 127.0.0.99/32, ports: [1]}]
      unix_deny: [/run/podman/podman.sock]
YAML
podman rm -f -t 0 $name >/dev/null 2>&1 || true
podman run -d --name $name --network=host -v "$load:/load:ro" $image sleep infinity >/dev/null
hz=$(getconf CLK_TCK)

# start_agent CONFIG: starts vigil for CONFIG in the background, waits until it is ready,
# sets $apid (empty for base).
start_agent() {
  apid=""
  local log=$work/agent.err
  : > "$log"
  case $1 in
    base) return ;;
    monitor) $bin monitor --no-metrics --stats-interval 0 > /dev/null 2> "$log" & apid=$!
      ready="monitoring" ;;
    mon+policy) $bin monitor --no-metrics --stats-interval 0 --policy "$work/policy.yaml" > /dev/null 2> "$log" & apid=$!
      ready="applied to container $name" ;;
    policy) $bin policy enforce "$work/policy.yaml" -c $name > "$work/agent.out" 2> "$log" & apid=$!
      ready="" ;;
    record) $bin profile record -c $name -o "$work/profile.yaml" > /dev/null 2> "$log" & apid=$!
      ready="recording running container" ;;
    record-sc) $bin profile record --syscalls-only -c $name -o "$work/profile.yaml" > /dev/null 2> "$log" & apid=$!
      ready="recording running container" ;;
  esac
  for _ in $(seq 300); do
    if [ -n "$ready" ] && grep -q "$ready" "$log" 2>/dev/null; then return; fi
    if [ -z "$ready" ] && grep -q '"applied"' "$work/agent.out" 2>/dev/null; then return; fi
    sleep 0.1
  done
  echo "agent for $1 did not get ready:" >&2; cat "$log" >&2; exit 1
}

stop_agent() {
  [ -z "$apid" ] && return
  kill -INT "$apid"; wait "$apid" 2>/dev/null || true
}

agent_ticks() { [ -n "$apid" ] && awk '{print $14+$15}' /proc/$apid/stat || echo 0; }

raw=${RAW:-$work/raw}
printf '# secs %s rounds %s; round config kind ops_per_s ops_per_cpu_s agent_cores resp_ns_per_op sensor_ns_per_op\n' "$secs" "$rounds" > "$raw"
for r in $(seq "$rounds"); do
  for kind in ${KINDS:-exec connect open}; do
    for cfg in ${CONFIGS:-base monitor mon+policy policy record}; do
      start_agent $cfg
      t0=$(agent_ticks)
      read -r r0 s0 < <(prog_ns)
      out=$(podman exec $name bash -c "TIMEFORMAT='%U %S'; { time /load $kind 2 $secs threads; } 2>&1")
      read -r r1 s1 < <(prog_ns)
      t1=$(agent_ticks)
      stop_agent
      echo "$out" | awk -v r="$r" -v c="$cfg" -v k="$kind" -v a="$((t1 - t0))" -v hz="$hz" -v s="$secs" \
        -v rn="$((r1 - r0))" -v sn="$((s1 - s0))" '
        NR == 1 { ops = $3 } NR == 2 { cpu = $1 + $2 }
        END { n = ops * s; if (rn < 0) rn = 0; if (sn < 0) sn = 0
              printf "%s %s %s %.0f %.0f %.3f %.0f %.0f\n", r, c, k, ops, n / cpu, a / hz / s, rn / n, sn / n }' >> "$raw"
      tail -1 "$raw" >&2
    done
  done
done

summarize "$raw"
