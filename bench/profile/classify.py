#!/usr/bin/env python3
"""Splits `perf script -F comm,tid,ip,sym` samples (with call chains) by task and by what the
stack is in: softirq, a system call (named), or neither. With --rate (handoffs/s) and
--seconds, also prints microseconds per handoff."""
import argparse, collections, sys

ap = argparse.ArgumentParser()
ap.add_argument('--rate', type=float, help='handoffs (requests) per second during the profile')
ap.add_argument('--seconds', type=float, default=8.0, help='length of the profile')
args = ap.parse_args()

SOFTIRQ = ('handle_softirqs', '__do_softirq', 'net_rx_action')
SYSCALL = ('entry_SYSCALL', 'do_syscall_64')
by_kind, by_syscall = collections.Counter(), collections.Counter()
total = 0

def task(comm):
    if comm.startswith('swapper'):
        return 'idle'
    if comm.startswith('multiThreadIoEv'):
        return 'event loop'
    return comm

def flush(comm, frames):
    global total
    if comm is None:
        return
    total += 1
    syms = [f.split()[1] if len(f.split()) > 1 else '' for f in frames]
    who = task(comm)
    if any(s in SOFTIRQ for s in syms):
        kind = 'softirq'
    elif any(s.startswith(SYSCALL) for s in syms):
        kind = 'system call'
        name = next((s for s in reversed(syms) if s.startswith(('__x64_sys_', '__do_sys_'))), '?')
        by_syscall[(who, name)] += 1
    elif who == 'idle':
        kind = 'idle'
    else:
        kind = 'other (user or kernel)'
    by_kind[(who, kind)] += 1

comm, frames = None, []
for line in sys.stdin:
    if not line.strip():
        flush(comm, frames); comm, frames = None, []
    elif not line[0].isspace():
        flush(comm, frames); comm, frames = line.split()[0], []
    else:
        frames.append(line.strip())
flush(comm, frames)

per = (args.seconds * 1e6 / total) / (args.rate * args.seconds) if args.rate and total else None
def row(key, n):
    us = '%8.1f µs/handoff' % (n * per) if per else ''
    return '%-50s %7d %6.1f%% %s' % (' / '.join(key), n, 100.0 * n / total, us)
print('samples', total)
for k, n in by_kind.most_common(12):
    print(row(k, n))
print('system calls:')
for k, n in by_syscall.most_common(15):
    print(row(k, n))
