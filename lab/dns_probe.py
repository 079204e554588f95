#!/usr/bin/env python3
"""DNS probes for the lab (drone side and a misbehaving upstream). Standard library only.

  query SERVER NAME [A|AAAA] [tcp] [PORT] [UID]
                                       -> "NOERROR addr ...", "NXDOMAIN", "SERVFAIL", "TIMEOUT";
                                          "NOERROR TC addr ..." when the answer is truncated
                                          (an empty tcp argument is UDP; PORT: 53 unless given;
                                          UID: ask as this user, as a `user =` drone does)
  race SERVER PREFIX DOMAIN COUNT PORT -> resolve PREFIX-i.DOMAIN (AAAA) and connect at once, COUNT
                                          times; prints "asked N answered A connected C"
  evil LISTEN UPSTREAM                 -> UDP DNS server on LISTEN:53: names starting with trunc-,
                                          loop- or huge- get malformed answers; the rest is relayed
                                          to UPSTREAM:53
Addresses are the lab's own (documentation ranges inside its namespaces)."""
import os, random, socket, struct, sys

TYPES = {"A": 1, "AAAA": 28}
RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED", 1: "FORMERR"}


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def build_query(name, qtype, qid=None):
    qid = random.randrange(65536) if qid is None else qid
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def skip_name(m, i):
    while True:
        n = m[i]
        if n & 0xC0 == 0xC0:
            return i + 2
        if n == 0:
            return i + 1
        i += n + 1


def parse(m):
    _, flags, qd, an = struct.unpack(">HHHH", m[:8])
    i = 12
    for _ in range(qd):
        i = skip_name(m, i) + 4
    addrs = []
    for _ in range(an):
        i = skip_name(m, i)
        rtype, _, _, rdlen = struct.unpack(">HHIH", m[i:i + 10])
        i += 10
        rdata = m[i:i + rdlen]
        i += rdlen
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28 and rdlen == 16:
            addrs.append(socket.inet_ntop(socket.AF_INET6, rdata))
    rcode = RCODES.get(flags & 0xF, str(flags & 0xF))
    return (rcode + " TC" if flags & 0x0200 else rcode), addrs


def query(server, name, qtype="A", tcp=False, timeout=2.0, port=53):
    q = build_query(name, TYPES[qtype])
    try:
        if tcp:
            s = socket.create_connection((server, port), timeout=timeout)
            s.sendall(struct.pack(">H", len(q)) + q)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            s.close()
            m = data[2:]
        else:
            s = socket.socket(family(server), socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.sendto(q, (server, port))
            m, _ = s.recvfrom(4096)
            s.close()
        if m[:2] != q[:2]:
            return "BADID", []
        return parse(m)
    except (socket.timeout, OSError):
        return "TIMEOUT", []


def connect(addr, port, timeout=1.0):
    try:
        s = socket.create_connection((addr, port), timeout=timeout)
        s.close()
        return True
    except OSError:
        return False


def race(server, prefix, domain, count, port):
    """Each cycle connects the moment its answer arrives; cycles run 50 at a time, since a
    blocked connect only ends at its timeout."""
    from concurrent.futures import ThreadPoolExecutor

    def cycle(i):
        rcode, addrs = query(server, f"{prefix}-{i}.{domain}", "AAAA")
        if rcode != "NOERROR" or not addrs:
            return (0, 0)
        return (1, 1 if connect(addrs[0], port, timeout=0.5) else 0)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(cycle, range(1, count + 1)))
    print(f"asked {count} answered {sum(a for a, _ in results)} connected {sum(c for _, c in results)}")


def evil(listen, upstream):
    s = socket.socket(family(listen), socket.SOCK_DGRAM)
    s.bind((listen, 53))
    while True:
        q, peer = s.recvfrom(4096)
        try:
            i, labels = 12, []
            while q[i]:
                labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
                i += q[i] + 1
            name = ".".join(labels)
            end = i + 5
        except IndexError:
            continue
        head = q[:2] + b"\x81\x80"
        if name.startswith("trunc-"):
            s.sendto(head + struct.pack(">HHHH", 1, 1, 0, 0) + q[12:end] + b"\xc0\x0c\x00", peer)
        elif name.startswith("loop-"):
            # An answer whose owner name is a pointer to itself.
            off = end
            s.sendto(head + struct.pack(">HHHH", 1, 1, 0, 0) + q[12:end] + struct.pack(">H", 0xC000 | off)
                     + struct.pack(">HHIH", 1, 1, 30, 4) + bytes([198, 51, 100, 7]), peer)
        elif name.startswith("huge-"):
            s.sendto(head + struct.pack(">HHHH", 1, 65535, 65535, 65535) + q[12:end], peer)
        else:
            u = socket.socket(family(upstream), socket.SOCK_DGRAM)
            u.settimeout(2)
            try:
                u.sendto(q, (upstream, 53))
                s.sendto(u.recvfrom(4096)[0], peer)
            except OSError:
                pass
            u.close()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "query":
        # Drop to the user first: a socket belongs to the user that creates it (meta skuid).
        if len(sys.argv) > 7 and sys.argv[7]:
            os.setgid(int(sys.argv[7]))
            os.setuid(int(sys.argv[7]))
        rcode, addrs = query(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "A",
                             tcp=len(sys.argv) > 5 and sys.argv[5] == "tcp",
                             port=int(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[6] else 53)
        print(" ".join([rcode] + addrs))
    elif cmd == "race":
        race(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    elif cmd == "evil":
        evil(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
