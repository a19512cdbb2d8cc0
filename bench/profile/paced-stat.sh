#!/bin/bash
# The dispatcher under an equal, moderate load: a quick paced `./baton bench` of SYSTEM at 1 KiB
# (RATE new connections/s, default 200, 30 s), and 8 s after it is up and warm, 10 s of
# `perf stat` on the dispatcher process (task clock, context switches) with CPU 0's and CPU 1's
# busy time from /proc/stat beside it (bench/README.md, "What a handoff costs", item 27). Usage:
#   bench/profile/paced-stat.sh OUTPUT_DIR [RATE] [SYSTEM, default baton-relay]
# Needs perf (Debian package linux-perf); run it alone, from the repository root.
set -euo pipefail
out=${1:?usage: paced-stat.sh OUTPUT_DIR [RATE] [SYSTEM]}; rate=${2:-200}; sys=${3:-baton-relay}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/quick-run.sh"
mkdir -p "$out"
./baton bench --quick --systems "$sys" --sizes 1k --modes paced --paced-rate "$rate" --repeats 1 \
  --warmup 10 --duration 30 --latency-probe 0 --output "$out" > "$out/bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT
wait_for_bench "$out/bench.log" 'up and warm'
sleep 8
pid=$(pgrep -f 'java.*dispatcher --config' | head -1)
busy() { awk '$1 ~ /^cpu[01]$/ { print $1, $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
busy > "$out/cpu-before.txt"
perf stat -e task-clock,context-switches -p "$pid" -o "$out/stat.txt" -- sleep 10 > /dev/null 2>&1
busy > "$out/cpu-after.txt"
wait $bench || true
trap - EXIT
grep "$sys paced" "$out/bench.log" | tail -1
grep -E "task-clock|context-switches" "$out/stat.txt"
# USER_HZ ticks over 10 s: ms of busy time per second = ticks * 10 / 10.
paste "$out/cpu-before.txt" "$out/cpu-after.txt" | awk '{ printf "%s busy %.0f ms/s\n", $1, ($4 - $2) }'
echo "per handoff: divide the task clock and the context switches by $((rate * 10)) handoffs"
