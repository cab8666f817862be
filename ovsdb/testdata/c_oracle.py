#!/usr/bin/env python3
"""Runs cases.json against the real C ovsdb-server and writes expected.json
with UUIDs normalised. Usage: c_oracle.py (from ovsdb/testdata)."""
import json, os, re, socket, subprocess, sys, tempfile, time

UUID_RE = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')

def normalize(text, names):
    def rep(m):
        u = m.group(0)
        if len(set(u[:8])) == 1:  # fixed test UUIDs
            return u
        if u not in names:
            names[u] = '<%d>' % len(names)
        return names[u]
    return UUID_RE.sub(rep, text)

def rpc(sock, buf, method, params, id_):
    sock.sendall(json.dumps({"method": method, "params": params, "id": id_}).encode())
    dec = json.JSONDecoder()
    while True:
        try:
            obj, end = dec.raw_decode(buf[0])
            buf[0] = buf[0][end:].lstrip()
            return obj
        except ValueError:
            buf[0] += sock.recv(65536).decode()

def main():
    cases = json.load(open('cases.json'))
    out = {}
    for case in cases:
        d = tempfile.mkdtemp()
        db = os.path.join(d, 'db')
        subprocess.check_call(['ovsdb-tool', 'create', db, 'test.ovsschema'])
        sockp = os.path.join(d, 'sock')
        p = subprocess.Popen(['ovsdb-server', '--remote=punix:' + sockp, '--no-chdir',
                              '--unixctl=' + os.path.join(d, 'ctl'), db])
        for _ in range(100):
            if os.path.exists(sockp):
                break
            time.sleep(0.05)
        s = socket.socket(socket.AF_UNIX)
        s.connect(sockp)
        buf = ['']
        names = {}
        res = []
        for i, step in enumerate(case['steps']):
            r = rpc(s, buf, 'transact', ['T'] + step, i)
            res.append(normalize(json.dumps(r['result'], sort_keys=True, separators=(',', ':')), names))
        out[case['name']] = res
        s.close()
        p.terminate()
        p.wait()
    json.dump(out, open('expected.json', 'w'), indent=1, sort_keys=True)

main()
