#!/usr/bin/env bash
# Overhead of `vigil monitor` (default rules, or -r FILE given as $RULES) on syscall-heavy
# loops on both cores, measured like the Falco comparison: throughput with vigil running
# divided by throughput without, vigil's CPU (cores) and peak RSS, events and drops.
#
# Each loop runs on two worker processes (syscall_load's default): two threads of one process
# would contend on their shared descriptor table's lock, which makes the base rate swing by
# tens of percent from run to run and hides the per-syscall cost.
#
# A VM's throughput drifts by 10-20% between runs, so each loop runs ROUNDS times (default 3),
# alternating without and with vigil, and the median of each is reported; the per-round
# ratios are printed too, so the spread is visible.
# FLOOR=1 also runs, in each round, a build whose sys_exit program returns at once (the hook
# alone) and prints its ratio as `floor`: the part of the overhead no program can avoid.
#
# Usage (root): [KINDS="open connect exec"] [WORKERS=procs|threads] [VIGIL_BIN=path] [FLOOR=1]
#               bench/monitor-overhead.sh [SECONDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-3}
cargo build --release -q -p vigil --bin vigil --example syscall_load
tgt=${CARGO_TARGET_DIR:-target}
bin=${VIGIL_BIN:-$tgt/release/vigil}
floor_bin=
if [ -n "${FLOOR:-}" ]; then
  # The same vigil with a sys_exit program that returns at once: what the tracepoint costs
  # by itself. Built in its own target directory.
  CARGO_TARGET_DIR=$tgt/floor VIGIL_BPF_CFLAGS=-DVG_CUT=1 \
    cargo build --release -q -p vigil --bin vigil
  floor_bin=$tgt/floor/release/vigil
fi
load=$tgt/release/examples/syscall_load
rules_args=()
[ -n "${RULES:-}" ] && rules_args=(-r "$RULES")
hz=$(getconf CLK_TCK)
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
printf '%-8s %12s %12s %7s %7s %7s %8s %9s %8s  %s\n' loop base_ops/s vigil_ops/s ratio floor cores rss_MB events dropped rounds
for kind in ${KINDS:-open connect exec}; do
  bases=() withs=() cores=() rsss=() ratios=() evs=() drops=() floors=()
  for _ in $(seq "$rounds"); do
    base=$($load "$kind" 2 "$secs" "${WORKERS:-procs}" | awk '{print $3}')
    if [ -n "$floor_bin" ]; then
      $floor_bin monitor --no-metrics --stats-interval 0 "${rules_args[@]}" > /dev/null 2> /tmp/vigil-bench-floor.err &
      fpid=$!
      for _ in $(seq 300); do grep -q monitoring /tmp/vigil-bench-floor.err 2>/dev/null && break; sleep 0.1; done
      fl=$($load "$kind" 2 "$secs" "${WORKERS:-procs}" | awk '{print $3}')
      kill -TERM $fpid; wait $fpid || true
      floors+=("$(awk -v b="$base" -v w="$fl" 'BEGIN{printf "%.3f", w/b}')")
    fi
    $bin monitor --no-metrics --stats-interval 0 "${rules_args[@]}" > /dev/null 2> /tmp/vigil-bench.err &
    vpid=$!
    for _ in $(seq 300); do grep -q monitoring /tmp/vigil-bench.err 2>/dev/null && break; sleep 0.1; done
    t0=$(awk '{print $14+$15}' /proc/$vpid/stat)
    with=$($load "$kind" 2 "$secs" "${WORKERS:-procs}" | awk '{print $3}')
    t1=$(awk '{print $14+$15}' /proc/$vpid/stat)
    rss=$(awk '/VmHWM/{print $2}' /proc/$vpid/status)
    kill -TERM $vpid; wait $vpid || true
    final=$(grep 'final:' /tmp/vigil-bench.err)
    evs+=("$(echo "$final" | sed -E 's/.*final: ([0-9]+) events.*/\1/')")
    drops+=("$(echo "$final" | sed -E 's/.*dropped ([0-9]+) .*/\1/')")
    bases+=("$base") withs+=("$with")
    cores+=("$(awk -v t="$((t1 - t0))" -v hz="$hz" -v s="$secs" 'BEGIN{print t/hz/s}')")
    rsss+=("$(awk -v r="$rss" 'BEGIN{print r/1024}')")
    ratios+=("$(awk -v b="$base" -v w="$with" 'BEGIN{printf "%.3f", w/b}')")
  done
  mb=$(printf '%s\n' "${bases[@]}" | median)
  mw=$(printf '%s\n' "${withs[@]}" | median)
  mc=$(printf '%s\n' "${cores[@]}" | median)
  mr=$(printf '%s\n' "${rsss[@]}" | sort -g | tail -1)
  me=$(printf '%s\n' "${evs[@]}" | median)
  md=$(printf '%s\n' "${drops[@]}" | sort -g | tail -1)
  mratio=$(printf '%s\n' "${ratios[@]}" | median)
  mfloor=-
  if [ -n "$floor_bin" ]; then mfloor=$(printf '%s\n' "${floors[@]}" | median); fi
  printf '%-8s %12.0f %12.0f %7.3f %7s %7.3f %8.1f %9.0f %8d  %s\n' "$kind" "$mb" "$mw" "$mratio" "$mfloor" "$mc" "$mr" "$me" "$md" "${ratios[*]}"
  if [ -n "$floor_bin" ]; then printf '%-8s %s\n' "" "floor rounds: ${floors[*]}"; fi
done
