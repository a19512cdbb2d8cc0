"""Clock ticks used so far per role and thread name by the JVMs of `baton dispatcher|server
--config` processes: one line "ROLE:THREAD TICKS" each (thread names without their numbers), for
jvm-threads.sh to difference."""
import os, re, collections, sys
acc = collections.Counter()
for p in os.listdir('/proc'):
    if not p.isdigit(): continue
    try:
        cmd = open(f'/proc/{p}/cmdline','rb').read().replace(b'\0',b' ').decode()
    except Exception: continue
    m = re.search(r'\b(server|dispatcher) --config', cmd)
    if not m or 'java' not in cmd: continue
    role = m.group(1)
    try: tasks = os.listdir(f'/proc/{p}/task')
    except Exception: continue
    for t in tasks:
        try:
            comm = open(f'/proc/{p}/task/{t}/comm').read().strip()
            st = open(f'/proc/{p}/task/{t}/stat').read()
        except Exception: continue
        f = st.rsplit(')',1)[1].split()
        name = re.sub(r'[0-9#]+$', '', comm.replace(' ', '_'))
        acc[f'{role}:{name}'] += int(f[11]) + int(f[12])
for k, v in sorted(acc.items()): print(k, v)
