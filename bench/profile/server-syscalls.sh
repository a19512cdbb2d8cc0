#!/bin/bash
# System calls per handed-off connection on a server's event loop: runs a quick `./baton bench` of
# SYSTEM (baton-relay or baton-embedded) with a one-connection-at-a-time latency probe, traces one
# server process's system calls for 3 s of the probe (`perf trace`) and divides the busiest event
# loop thread's calls, by name, by the HANDOFF frames it read (263-byte reads on the fabric
# socket). perf trace adds ~15-25 us to every call, so read the counts, not the times.
# Usage: bench/profile/server-syscalls.sh OUTPUT_DIR [SYSTEM, default baton-relay]
# Needs perf; run it alone, from the repository root.
set -uo pipefail
out=${1:?usage: server-syscalls.sh OUTPUT_DIR [SYSTEM]}; sys=${2:-baton-relay}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/quick-run.sh"
start_probe_bench "$out" "$sys"
sleep 5
pid=$(pgrep -f 'server --config' | head -1)
[[ -n $pid ]] || { echo "no server process found" >&2; exit 1; }
timeout 4 perf trace -p "$pid" -o "$out/trace.txt" -- sleep 3 > /dev/null 2>&1
wait $bench; trap - EXIT
grep "$sys close-c1" "$out/bench.log" | tail -1
# The event loop that reads the HANDOFFs: the thread with the most 263-byte fabric reads.
tid=$(grep -E 'recvfrom.*= 263$' "$out/trace.txt" | grep -oE '[A-Za-z-]+/[0-9]+' | sort | uniq -c \
  | sort -rn | awk 'NR == 1 {print $2}')
[[ -n $tid ]] || { echo "no HANDOFF read in the trace" >&2; exit 1; }
# A call the trace interrupted shows twice: begun ("...") and "[continued]"; count it once.
grep -F " $tid " "$out/trace.txt" | awk -v tid="$tid" '
  /recvfrom/ && / = 263$/ { handoffs++ }
  /continued\]/ { next }
  { for (i = 1; i <= NF; i++) if ($i ~ /^[a-z_0-9]+\(/) { sub(/\(.*/, "", $i); n[$i]++; all++; break } }
  END {
    printf "%s: %d handoffs, %.1f system calls each:", tid, handoffs, all / handoffs
    for (c in n) printf " %s %.2f", c, n[c] / handoffs
    print ""
  }'
