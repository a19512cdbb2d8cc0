#!/bin/bash
# Profiles CPU 1 (the client's and servers' CPU in the bench lab) during a quick close-mode run of
# one system and splits its samples by process and by softirq / system call / other (see
# bench/README.md, "What a handoff costs", item 11). Usage:
#   bench/profile/cpu1-profile.sh OUTPUT_DIR [SIZE, default 1k] [SYSTEM, default baton-relay]
# Needs perf (Debian package linux-perf) and python3; run it alone, from the repository root.
set -euo pipefail
out=${1:?usage: cpu1-profile.sh OUTPUT_DIR [SIZE] [SYSTEM]}; size=${2:-1k}; sys=${3:-baton-relay}
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
./baton bench --quick --systems "$sys" --sizes "$size" --modes close --repeats 1 --warmup 15 \
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
ps -eo pid,comm,args --no-headers | grep -E 'java|nginx|wrk|haproxy' | cut -c1-200 > "$out/ps.txt" || true
perf record -a -C 1 -g -F 1999 -o "$out/perf.data" -- sleep 8 > /dev/null 2>&1
wait $bench; trap - EXIT
line=$(cat "$out"/*.md 2>/dev/null | grep -E "$sys \| close" | head -1 || true)
echo "$line"
rate=$(echo "$line" | awk -F'|' '{gsub(/ /,"",$6); print $6}')
perf script -i "$out/perf.data" -F comm,tid,pid,ip,sym 2>/dev/null \
  | python3 "$here/classify-procs.py" "$out/ps.txt" "${rate:-1}"
