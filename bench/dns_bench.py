#!/usr/bin/env python3
"""Parts of bench/dns-learning.sh (standard library only):

  upstream LISTEN OUT          authoritative stand-in: answers AAAA for <p><i>.flysafe-api.dji.com with
                               2001:db8:e:<p>::<i>, noting when each answer left; writes OUT on SIGTERM
  monitor OUT                  listens to nf_tables netlink events and notes when each set element
                               was added (any table); writes OUT on SIGTERM
  client SERVER P COUNT CONC OUT   asks COUNT names (CONC in flight), notes when each answer arrived
  report UP MON CLIENT LABEL   prints answer-to-map latency and learned elements per second"""
import json, os, selectors, signal, socket, struct, sys, time

now = time.monotonic_ns


def name_of(q):
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode())
        i += q[i] + 1
    return ".".join(labels).lower(), i + 5


def dump_on_term(path, data):
    def handler(*_):
        with open(path, "w") as f:
            json.dump(data, f)
        os._exit(0)
    signal.signal(signal.SIGTERM, handler)


def upstream(listen, out):
    sent = {}
    dump_on_term(out, sent)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((listen, 53))
    while True:
        q, peer = s.recvfrom(4096)
        name, end = name_of(q)
        first = name.split(".")[0]
        p, i = first[0], int(first[1:])
        addr = socket.inet_pton(socket.AF_INET6, f"2001:db8:e:{ord(p):x}::{i:x}")
        ans = (q[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0) + q[12:end]
               + b"\xc0\x0c" + struct.pack(">HHIH", 28, 1, 300, 16) + addr)
        s.sendto(ans, peer)
        sent[addr.hex()] = now()


def monitor(out):
    seen = {}
    dump_on_term(out, seen)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.bind((0, 0))
    s.setsockopt(270, 1, 7)  # SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES
    NEWSETELEM = (10 << 8) | 12

    def attrs(b, i, end):
        while i + 4 <= end:
            ln, ty = struct.unpack_from("=HH", b, i)
            if ln < 4:
                return
            yield ty & 0x3FFF, i + 4, i + ln
            i += (ln + 3) & ~3

    while True:
        b = s.recv(1 << 20)
        t = now()
        i = 0
        while i + 16 <= len(b):
            ln, ty = struct.unpack_from("=IH", b, i)
            if ln < 16:
                break
            if ty == NEWSETELEM:
                for a, s0, e0 in attrs(b, i + 20, i + ln):
                    if a != 3:
                        continue
                    for _, s1, e1 in attrs(b, s0, e0):
                        for k, s2, e2 in attrs(b, s1, e1):
                            if k == 1:
                                for v, s3, e3 in attrs(b, s2, e2):
                                    if v == 1:
                                        seen.setdefault(b[s3:e3].hex(), t)
            i += (ln + 3) & ~3


def client(server, p, count, conc, out):
    # One thread, CONC queries in flight, each from a new socket (a new source port, as stub
    # resolvers do). Not a thread per query: 64 Python threads contend for the GIL, so answers
    # wait for a thread to run and the client, not the resolver, set the pace (and took CPU
    # from it on a 2-core machine).
    got = {}
    sel = selectors.DefaultSelector()
    nxt, wait = 1, 3 * 10**9

    def ask(i):
        labels = [f"{p}{i}", "flysafe-api", "dji", "com"]
        q = (struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0)
             + b"".join(bytes([len(x)]) + x.encode() for x in labels) + b"\0" + struct.pack(">HH", 28, 1))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        try:
            s.sendto(q, (server, 53))
        except OSError:
            s.close()
            return
        sel.register(s, selectors.EVENT_READ, now() + wait)

    def done(key):
        sel.unregister(key.fileobj)
        key.fileobj.close()

    start = checked = now()
    while nxt <= count or sel.get_map():
        while nxt <= count and len(sel.get_map()) < conc:
            ask(nxt)
            nxt += 1
        for key, _ in sel.select(timeout=0.1):
            try:
                m = key.fileobj.recv(4096)
                t = now()
                if m[3] & 0xF == 0 and len(m) >= 16:
                    got[m[-16:].hex()] = t
            except OSError:
                pass
            done(key)
        if now() - checked > 10**8:  # unanswered within `wait`: given up
            checked = now()
            for key in [k for k in sel.get_map().values() if k.data < checked]:
                done(key)
    with open(out, "w") as f:
        json.dump({"answers": got, "seconds": (now() - start) / 1e9}, f)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


def report(up, mon, cli, label):
    up, mon, cli = (json.load(open(x)) for x in (up, mon, cli))
    answers = cli["answers"]
    keys = [k for k in answers if k in up]
    in_map = [k for k in keys if k in mon]
    # Upstream answer sent -> the kernel's notification of the new element read by the monitor.
    # The notification itself lags the commit a little (the same for both resolvers), so this is
    # not a race oracle; lab/dns-test.sh's resolve-then-connect cycles are.
    lat = [(mon[k] - up[k]) / 1e6 for k in in_map]
    span = (max(mon[k] for k in in_map) - min(up[k] for k in in_map)) / 1e9 if in_map else float("nan")
    print(f"{label:<26} answers {len(keys):>5}  in map {len(in_map):>5}  answer-to-map p50 {pct(lat, 50):7.3f} ms "
          f"p99 {pct(lat, 99):7.3f} ms  learned {len(in_map) / span if span else 0:8.0f} elements/s")


if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    {"upstream": lambda: upstream(a[0], a[1]), "monitor": lambda: monitor(a[0]),
     "client": lambda: client(a[0], a[1], int(a[2]), int(a[3]), a[4]),
     "report": lambda: report(a[0], a[1], a[2], a[3])}[cmd]()
