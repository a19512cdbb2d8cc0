#!/bin/bash
# CPU time per thread kind of the Baton JVMs (dispatcher and servers) during a measured run: a
# quick close-mode `./baton bench` of SYSTEM at 1 KiB, and over 8 s of its measured run the
# user + system time of every thread of every `baton dispatcher|server --config` JVM
# (/proc/PID/task/*/stat), summed by role and thread name (event loops, C1/C2 compiler threads,
# the drain watch, ...), in ms per second (bench/README.md, "What a handoff costs", item 31).
# Usage: bench/profile/jvm-threads.sh OUTPUT_DIR [SYSTEM, default baton-relay] [bench options...]
# e.g. `... /tmp/t baton-relay --warmup 30`; BATON_BENCH_JAVA_OPTIONS reaches the Baton JVMs.
# Run it alone, from the repository root.
set -euo pipefail
out=${1:?usage: jvm-threads.sh OUTPUT_DIR [SYSTEM] [bench options...]}; sys=${2:-baton-relay}
shift $(( $# < 2 ? $# : 2 ))
here=$(cd "$(dirname "$0")" && pwd)
source "$here/quick-run.sh"
mkdir -p "$out"
./baton bench --quick --systems "$sys" --sizes 1k --modes close --repeats 1 --warmup 10 \
  --duration 12 --latency-probe 0 --output "$out" "$@" > "$out/bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT
wait_for_bench "$out/bench.log" 'up and warm'
sleep 2 # into the measured run
python3 "$here/jvm-threads.py" > "$out/before"
sleep 8
python3 "$here/jvm-threads.py" > "$out/after"
wait $bench; trap - EXIT
grep -E "$sys close" "$out/bench.log" | head -1
join "$out/before" "$out/after" \
  | awk '{d = ($3 - $2) * 10 / 8; if (d >= 1) printf "  %-34s %7.1f ms/s\n", $1, d}' | sort -k2 -n -r
