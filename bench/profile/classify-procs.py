#!/usr/bin/env python3
"""Splits `perf script -F comm,tid,pid,ip,sym` samples (with call chains) of one CPU by process
(named from a `ps -eo pid,comm,args` listing) and by what the stack is in: softirq, a system call
(named), or neither; prints microseconds per connection at the given rate.
Usage: perf script ... | classify-procs.py PS_LISTING RATE_PER_SECOND"""
import collections, sys

SOFTIRQ = ('handle_softirqs', '__do_softirq', 'net_rx_action')
names = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 2:
        names[f[0]] = f[1] + (' ' + f[-1][-40:] if f[1] == 'java' else '')
rate = float(sys.argv[2])
by_process, by_kind, by_call = collections.Counter(), collections.Counter(), collections.Counter()
total = 0

def flush(header, frames):
    global total
    if header is None:
        return
    total += 1
    comm, pid = header[0], header[1].split('/')[0]
    who = 'idle' if comm.startswith('swapper') else names.get(pid, comm)
    syms = [fr.split()[1] if len(fr.split()) > 1 else '' for fr in frames]
    if any(s in SOFTIRQ for s in syms):
        kind = 'softirq'
    elif any(s.startswith(('entry_SYSCALL', 'do_syscall_64')) for s in syms):
        kind = 'system call'
        call = next((s for s in reversed(syms) if s.startswith(('__x64_sys_', '__do_sys_'))), '?')
        by_call[(who, call)] += 1
    else:
        kind = 'other'
    by_process[who] += 1
    by_kind[(who, kind)] += 1

header, frames = None, []
for line in sys.stdin:
    if not line.strip():
        flush(header, frames); header, frames = None, []
    elif not line[0].isspace():
        flush(header, frames); header, frames = line.split(), []
    else:
        frames.append(line.strip())
flush(header, frames)
per = 1e6 / total / rate if total else 0  # the profile's samples span its length; rate is per second
print('samples', total)
for who, n in by_process.most_common(12):
    print('%-60s %6.1f%% %8.1f us/connection' % (who[:60], 100.0 * n / total, n * per * 1.0))
print()
for key, n in by_kind.most_common(20):
    print('%-80s %6.1f%% %8.1f' % (' / '.join(key)[:80], 100.0 * n / total, n * per))
print('system calls:')
for key, n in by_call.most_common(20):
    print('%-80s %6.1f%% %8.1f' % (' / '.join(key)[:80], 100.0 * n / total, n * per))
