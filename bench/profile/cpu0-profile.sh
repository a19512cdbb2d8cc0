#!/bin/bash
# Profiles CPU 0 (the balancer node's CPU) during a quick baton-relay close-mode run and splits
# its samples by task and by softirq / system call / other (see bench/README.md, "CPU 0 as a
# whole"). Usage: bench/profile/cpu0-profile.sh OUTPUT_DIR [SIZE, default 1k]
# Needs perf (Debian package linux-perf) and python3; run it alone, from the repository root.
set -euo pipefail
out=${1:?usage: cpu0-profile.sh OUTPUT_DIR [SIZE]}; size=${2:-1k}
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
./baton bench --quick --systems baton-relay --sizes "$size" --modes close --repeats 1 --warmup 10 \
  --duration 12 --latency-probe 0 --output "$out" > "$out/bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT
deadline=$((SECONDS + 300))
until grep -q 'up and warm' "$out/bench.log" 2>/dev/null; do
  kill -0 $bench 2>/dev/null || { echo "the bench ended early: $out/bench.log" >&2; exit 1; }
  (( SECONDS < deadline )) || { echo "no 'up and warm' within 300 s" >&2; exit 1; }
  sleep 0.2
done
sleep 1.5
perf record -a -C 0 -g -F 1999 -o "$out/perf.data" -- sleep 8 > /dev/null 2>&1
wait $bench; trap - EXIT
line=$(cat "$out"/*.md 2>/dev/null | grep -E 'baton-relay \| close' | head -1 || true)
echo "$line"
rate=$(echo "$line" | awk -F'|' '{gsub(/ /,"",$6); print $6}')
perf script -i "$out/perf.data" -F comm,tid,ip,sym 2>/dev/null | python3 "$here/classify.py" --seconds 8 ${rate:+--rate "$rate"}
