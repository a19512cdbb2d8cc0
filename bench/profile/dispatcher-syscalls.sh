#!/bin/bash
# System calls per handoff in the dispatcher process, under load: runs a quick close-mode
# `./baton bench` of baton-relay at 1 KiB (one request per connection, so one handoff per
# accept4), attaches `strace -c -f` to the dispatcher for 6 s once the measured run has started,
# and divides each call's count by the number of connections accepted. strace slows every call, so read the counts,
# not the times. Prints one line per call, most frequent first, and the total.
# Usage: bench/profile/dispatcher-syscalls.sh OUTPUT_DIR
# Needs strace; run it alone, from the repository root.
set -uo pipefail
out=${1:?usage: dispatcher-syscalls.sh OUTPUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/quick-run.sh"
mkdir -p "$out"
./baton bench --quick --systems baton-relay --sizes 1k --modes close --repeats 1 --warmup 10 \
  --duration 12 --output "$out" > "$out/bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT
wait_for_bench "$out/bench.log" "up and warm"
sleep 2 # into the measured run
pid=$(pgrep -f 'dispatcher --config' | head -1)
[[ -n $pid ]] || { echo "no dispatcher process found" >&2; exit 1; }
timeout -s INT 6 strace -c -f -p "$pid" -o "$out/strace.txt" > /dev/null 2>&1
wait $bench; trap - EXIT
grep "baton-relay close" "$out/bench.log" | tail -1
# strace -c: "% time, seconds, usecs/call, calls, [errors,] syscall"; the calls are field 4. The
# handoffs are the accept4 calls that succeeded (a listener's last accept4 of a wake-up finds
# nothing: EAGAIN, counted among the errors).
awk '
  NF >= 5 && $4 ~ /^[0-9]+$/ && $NF ~ /^[a-z_0-9]+$/ && $NF != "total" {
    n[$NF] = $4; if ($NF == "accept4") accepts = $4 - (NF == 6 ? $5 : 0)
  }
  END {
    if (!accepts) { print "no accept4 in the trace"; exit 1 }
    for (c in n) { printf "%-16s %6.2f\n", c, n[c] / accepts; all += n[c] }
    printf "%-16s %6.2f  (%d handoffs)\n", "all", all / accepts, accepts
  }' "$out/strace.txt" | sort -k2 -rn
