#!/usr/bin/env python3
"""Splits one-at-a-time connections' time by where their packets were seen (timeline.sh).

For each client connection to the VIP captured whole: the request leaving the client, reaching lb,
the HANDOFF frame leaving lb on the fabric, reaching the server, the server's first packet of the
restored connection, its ACCEPTED, the relay's upstream connection (baton-relay: the request on
the server's loopback, its connection's SYN when it was opened after the HANDOFF rather than ahead,
nginx's answer) and the answer leaving the server and reaching the client. Prints the median and 90th percentile of each interval."""
import re
import statistics
import subprocess
import sys

VIP = '198.18.0.100.80'
FABRIC_PORT = '.7400'
SERVERS = {'198.18.1.11': 's1', '198.18.1.12': 's2', '198.18.1.13': 's3'}
LINE = re.compile(r'(\d+\.\d+) (\S+)\s+(In|Out)\s+IP (\S+) > (\S+): Flags \[([^\]]*)\].*length (\d+)')


def packets(path):
    text = subprocess.run(['tcpdump', '-r', path, '-tt', '-n'], capture_output=True, text=True).stdout
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            t, dev, way, src, dst, flags, length = m.groups()
            out.append((float(t), dev, way, src, dst.rstrip(':'), flags, int(length)))
    return out


def first(pkts, pred):
    return next((p[0] for p in pkts if pred(p)), None)


def main(d):
    client, lb = packets(f'{d}/client.pcap'), packets(f'{d}/lb.pcap')
    servers = {h: packets(f'{d}/{h}.pcap') for h in SERVERS.values()}
    conns = {}
    for t, dev, way, src, dst, flags, n in client:
        if dst == VIP and flags == 'S':
            conns[src] = {'syn': t}
        elif dst == VIP and n > 0 and src in conns and 'req' not in conns[src]:
            conns[src]['req'] = t
        elif src == VIP and n > 0 and dst in conns and 'resp' not in conns[dst]:
            conns[dst]['resp'] = t
    rows = []
    for c, v in conns.items():
        if not all(k in v for k in ('req', 'resp')):
            continue
        at_lb = first(lb, lambda p: p[3] == c and p[6] > 0 and p[2] == 'In')
        if at_lb is None:
            continue
        handoff = next((p for p in lb if p[0] >= at_lb and p[2] == 'Out'
                        and p[4].endswith(FABRIC_PORT) and p[6] > 100), None)
        if handoff is None:
            continue
        s = servers.get(SERVERS.get(handoff[4].rsplit('.', 1)[0]))
        if s is None:
            continue
        t_in = first(s, lambda p: p[0] >= handoff[0] - 1e-3 and p[2] == 'In'
                     and p[4].endswith(FABRIC_PORT) and p[6] == handoff[6])
        if t_in is None:
            continue
        restored = first(s, lambda p: p[3] == VIP and p[4] == c)
        accepted = first(s, lambda p: p[0] >= t_in and p[2] == 'Out'
                         and p[3].endswith(FABRIC_PORT) and p[6] > 0)
        answer = first(s, lambda p: p[3] == VIP and p[4] == c and p[6] > 0)
        # The relay's upstream connection is the one that carries the first loopback bytes after
        # the HANDOFF (the request: HTTP upstreams do not speak first). Its SYN may come before
        # the HANDOFF: a connection opened ahead (preconnect).
        up = next((p for p in s if p[0] >= t_in and p[1] == 'lo' and p[6] > 0), None)
        up_req = up and up[0]
        up_syn = up and first(s, lambda p: p[1] == 'lo' and p[5] == 'S' and p[3] == up[3])
        up_ans = up and first(s, lambda p: p[0] > up_req and p[1] == 'lo' and p[4] == up[3]
                              and p[6] > 0)
        if None in (restored, accepted, answer):
            continue
        row = {
            'request: client -> lb': at_lb - v['req'],
            'lb: request -> HANDOFF sent': handoff[0] - at_lb,
            'fabric: HANDOFF -> server': t_in - handoff[0],
            'server: HANDOFF -> restored (1st packet)': restored - t_in,
            'server: HANDOFF -> ACCEPTED sent': accepted - t_in,
        }
        if up_req and up_ans and up_req < answer:
            row['relay: HANDOFF -> request to upstream'] = up_req - t_in
            if up_syn and up_syn >= t_in:
                row['relay: HANDOFF -> upstream SYN (connected now)'] = up_syn - t_in
                row['relay: upstream SYN -> request (connected now)'] = up_req - up_syn
            row['upstream: request -> answer'] = up_ans - up_req
            row['relay: upstream answer -> client'] = answer - up_ans
            row['ahead'] = 1 if up_syn and up_syn < t_in else 0
        row['server: HANDOFF -> answer sent'] = answer - t_in
        row['answer: server -> client'] = v['resp'] - answer
        row['total: request sent -> answer received'] = v['resp'] - v['req']
        rows.append(row)
    if not rows:
        sys.exit('no whole connection in the captures')
    print(f'{len(rows)} connections')
    relayed = [r['ahead'] for r in rows if 'ahead' in r]
    if relayed:
        print(f'relayed on an upstream connection opened ahead: {sum(relayed)} of {len(relayed)}')
    keys = []
    for r in rows:  # every interval, in the order rows have them
        keys += [k for k in r if k not in keys and k != 'ahead']
    for key in keys:
        xs = sorted(r[key] for r in rows if key in r)
        print(f'{key:42s} p50 {statistics.median(xs) * 1e6:7.1f} us  '
              f'p90 {xs[int(len(xs) * 0.9)] * 1e6:7.1f} us')


if __name__ == '__main__':
    main(sys.argv[1])
