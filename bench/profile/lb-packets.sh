#!/bin/bash
# Packets, inter-processor interrupts and receive softirqs per request on the balancer node:
# runs a quick close-mode `./baton bench` of SYSTEM at SIZE, and over 8 s of the measured run
# reads the packet counters of lb's interfaces (/proc/net/dev in lb's namespace), the machine's
# function-call IPIs (CAL) and rescheduling IPIs (RES) per CPU (/proc/interrupts), the NET_RX
# softirqs per CPU (/proc/softirqs) and lb's TCP segments in and out (nstat), each divided by the
# requests of those 8 s. Compare one system with another: the same packets per request at a
# lower rate cost an idle CPU more wake-ups (bench/README.md, "What a handoff costs", item 25).
# Usage: bench/profile/lb-packets.sh OUTPUT_DIR [SYSTEM, default baton-relay] [SIZE, default 1k]
# Run it alone, from the repository root.
set -euo pipefail
out=${1:?usage: lb-packets.sh OUTPUT_DIR [SYSTEM] [SIZE]}; sys=${2:-baton-relay}; size=${3:-1k}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/quick-run.sh"
mkdir -p "$out"
./baton bench --quick --systems "$sys" --sizes "$size" --modes close --repeats 1 --warmup 10 \
  --duration 12 --latency-probe 0 --output "$out" > "$out/bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT
wait_for_bench "$out/bench.log" "up and warm"
sleep 2 # into the measured run
ns=$(ip netns list | awk '{print $1}' | grep -- '-lb$' | head -1)
[[ -n $ns ]] || { echo "no lb namespace found" >&2; exit 1; }
# One line per counter: NAME value [value]; interfaces give received then sent packets.
snapshot() {
  ip netns exec "$ns" cat /proc/net/dev | tail -n +3 \
    | awk '{sub(":", "", $1); print $1 "(rx,tx)", $3, $11}'
  grep -E '^ *(CAL|RES):' /proc/interrupts | awk '{print $1 "(cpu0,cpu1)", $2, $3}'
  grep -E '^ *NET_RX:' /proc/softirqs | awk '{print $1 "(cpu0,cpu1)", $2, $3}'
  ip netns exec "$ns" nstat -az TcpInSegs TcpOutSegs | awk 'NR > 1 {print $1, $2}'
}
snapshot > "$out/before"
sleep 8
snapshot > "$out/after"
wait $bench; trap - EXIT
line=$(grep "$sys close" "$out/bench.log" | tail -1)
echo "$line"
rate=$(echo "$line" | awk '{for (i = 2; i <= NF; i++) if ($i == "req/s") print $(i - 1)}')
[[ -n $rate && $rate != 0 ]] || { echo "no request rate in the bench's output" >&2; exit 1; }
echo "per request ($rate req/s, 8 s):"
paste "$out/before" "$out/after" | awk -v r="$rate" '{
  n = NF / 2; printf "  %-18s", $1
  for (i = 2; i <= n; i++) printf " %7.2f", ($(i + n) - $i) / (r * 8)
  print ""
}'
