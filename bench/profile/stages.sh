#!/bin/bash
# The dispatcher's handoff stages one connection at a time: runs a quick keep-alive `./baton bench`
# of SYSTEM with a 16 s latency probe and, 13 s into the probe, reads the dispatcher's
# baton_dispatcher_handoff_stage_seconds gauges (median and p99 of the last 8192 handoffs: by then
# all of them the probe's).
# Usage: bench/profile/stages.sh OUTPUT_DIR [SYSTEM, default baton-relay]
# Run it alone, from the repository root.
set -uo pipefail
out=${1:?usage: stages.sh OUTPUT_DIR [SYSTEM]}; sys=${2:-baton-relay}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/quick-run.sh"
start_probe_bench "$out" "$sys"
sleep 13
lb=$(ip netns list | awk '{print $1}' | grep -- '-lb$' | head -1)
[[ -n $lb ]] || { echo "no bench lab namespaces found" >&2; exit 1; }
ip netns exec "$lb" curl -s 127.0.0.1:9400/metrics | grep '^baton_dispatcher_handoff_stage' \
  > "$out/stages.txt"
wait $bench; trap - EXIT
grep "$sys close-c1" "$out/bench.log" | tail -1
sed -E 's/baton_dispatcher_handoff_stage_seconds//' "$out/stages.txt" \
  | awk '{printf "%s %.1f us\n", $1, $2 * 1e6}'
