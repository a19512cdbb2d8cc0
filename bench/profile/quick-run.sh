# Sourced by the cpuN-profile.sh scripts: profile_quick_run OUT SYSTEM SIZE WARMUP CPU [HOOK]
# runs a quick close-mode `./baton bench` of SYSTEM at SIZE, waits until it is up and warm, runs
# HOOK (if given), records `perf record -a -C CPU -g` for 8 s into OUT/perf.data, waits for the
# bench to end, prints its result line and sets `rate` (requests per second) from it.
# Also sourced by timeline.sh for wait_for_bench, and by stages.sh and server-syscalls.sh for
# start_probe_bench.

# wait_for_bench LOG PATTERN: waits (at most 300 s) until the bench started as $bench has written
# a line matching PATTERN to LOG; exits if the bench ends first.
wait_for_bench() {
  local log=$1 pattern=$2 deadline=$((SECONDS + 300))
  until grep -q "$pattern" "$log" 2>/dev/null; do
    kill -0 $bench 2>/dev/null || { echo "the bench ended early: $log" >&2; exit 1; }
    (( SECONDS < deadline )) || { echo "no '$pattern' within 300 s: $log" >&2; exit 1; }
    sleep 0.1
  done
}

# start_probe_bench OUT SYSTEM: starts a quick keep-alive `./baton bench` of SYSTEM at 1 KiB with
# a 16 s one-connection-at-a-time probe (as $bench, killed on exit) and waits until the keep-alive
# run's line is printed, which happens when the probe starts.
start_probe_bench() {
  local out=$1 sys=$2
  mkdir -p "$out"
  ./baton bench --quick --systems "$sys" --sizes 1k --modes keep-alive --repeats 1 --warmup 15 \
    --duration 4 --latency-probe 16 --output "$out" > "$out/bench.log" 2>&1 &
  bench=$!
  trap 'kill $bench 2>/dev/null || true' EXIT
  wait_for_bench "$out/bench.log" "$sys keep-alive"
}

profile_quick_run() {
  local out=$1 sys=$2 size=$3 warmup=$4 cpu=$5 hook=${6:-}
  mkdir -p "$out"
  ./baton bench --quick --systems "$sys" --sizes "$size" --modes close --repeats 1 --warmup "$warmup" \
    --duration 12 --latency-probe 0 --output "$out" > "$out/bench.log" 2>&1 &
  bench=$!
  trap 'kill $bench 2>/dev/null || true' EXIT
  wait_for_bench "$out/bench.log" 'up and warm'
  sleep 1.5
  if [[ -n $hook ]]; then $hook; fi
  perf record -a -C "$cpu" -g -F 1999 -o "$out/perf.data" -- sleep 8 > /dev/null 2>&1
  wait $bench; trap - EXIT
  local line
  line=$(cat "$out"/*.md 2>/dev/null | grep -E "$sys \| close" | head -1 || true)
  echo "$line"
  rate=$(echo "$line" | awk -F'|' '{gsub(/ /,"",$6); print $6}')
}
