#!/bin/bash
# Profiles CPU 0 (the balancer node's CPU) during a quick baton-relay close-mode run and splits
# its samples by task and by softirq / system call / other (see bench/README.md, "CPU 0 as a
# whole"). Usage: bench/profile/cpu0-profile.sh OUTPUT_DIR [SIZE, default 1k]
# Needs perf (Debian package linux-perf) and python3; run it alone, from the repository root.
set -euo pipefail
out=${1:?usage: cpu0-profile.sh OUTPUT_DIR [SIZE]}; size=${2:-1k}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/quick-run.sh"
profile_quick_run "$out" baton-relay "$size" 10 0
perf script -i "$out/perf.data" -F comm,tid,ip,sym 2>/dev/null | python3 "$here/classify.py" --seconds 8 ${rate:+--rate "$rate"}
