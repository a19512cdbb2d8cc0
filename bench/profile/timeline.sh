#!/bin/bash
# Where a one-connection-at-a-time request's time goes: runs a quick close-mode `./baton bench` of
# SYSTEM (baton-relay or baton-embedded) with a latency probe, captures the headers of every TCP
# packet in the lab's client, lb and server namespaces for 2 s of the probe (tcpdump, 128 bytes per
# packet) and splits each connection's time by where its packets were seen (timeline.py). All
# namespaces share one clock. tcpdump runs on the lab's CPUs, so the figures are a little above the
# bench's own; compare them with each other, not with a bench run.
# Usage: bench/profile/timeline.sh OUTPUT_DIR [SYSTEM, default baton-relay]
# Needs tcpdump and python3; run it alone, from the repository root.
set -uo pipefail
out=${1:?usage: timeline.sh OUTPUT_DIR [SYSTEM]}; sys=${2:-baton-relay}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/quick-run.sh"
mkdir -p "$out"
./baton bench --quick --systems "$sys" --sizes 1k --modes close --repeats 1 --warmup 10 \
  --duration 2 --latency-probe 8 --output "$out" > "$out/bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT
# The measured run's line is printed when the probe starts.
wait_for_bench "$out/bench.log" "$sys close  "
sleep 2
lab=$(ip netns list | awk '{print $1}' | grep -- '-lb$' | head -1 | sed 's/-lb$//')
[[ -n $lab ]] || { echo "no bench lab namespaces found" >&2; exit 1; }
for h in client lb s1 s2 s3; do
  ip netns exec "$lab-$h" timeout 2 tcpdump -i any -s 128 -n -w "$out/$h.pcap" tcp > /dev/null 2>&1 &
done
wait $bench; trap - EXIT
grep "$sys close-c1" "$out/bench.log" | tail -1
python3 "$here/timeline.py" "$out"
