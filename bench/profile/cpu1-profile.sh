#!/bin/bash
# Profiles CPU 1 (the client's and servers' CPU in the bench lab) during a quick close-mode run of
# one system and splits its samples by process and by softirq / system call / other (see
# bench/README.md, "What a handoff costs", item 11). Usage:
#   bench/profile/cpu1-profile.sh OUTPUT_DIR [SIZE, default 1k] [SYSTEM, default baton-relay]
# Needs perf (Debian package linux-perf) and python3; run it alone, from the repository root.
set -euo pipefail
out=${1:?usage: cpu1-profile.sh OUTPUT_DIR [SIZE] [SYSTEM]}; size=${2:-1k}; sys=${3:-baton-relay}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/quick-run.sh"
list_processes() {
  ps -eo pid,comm,args --no-headers | grep -E 'java|nginx|wrk|haproxy' | cut -c1-200 > "$out/ps.txt" || true
}
profile_quick_run "$out" "$sys" "$size" 15 1 list_processes
perf script -i "$out/perf.data" -F comm,tid,pid,ip,sym 2>/dev/null \
  | python3 "$here/classify-procs.py" "$out/ps.txt" "${rate:-1}"
