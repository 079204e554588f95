#!/usr/bin/env python3
"""Lab helper: a TCP listener on every address, and a connect probe.

listen PORT                 accept and close connections on all IPv4/IPv6 addresses
connect ADDR PORT [UID] [SRC]
                            print "open" if a TCP connection succeeds within 1.5 s, else "closed"
                            (UID: drop to that user id first, to test `user =` drones; SRC: bind
                            this source address, to test spoofing)
invalid ADDR PORT           send 3 raw TCP segments with SYN and FIN set (conntrack calls them
                            invalid) carrying the marker DWPROBE
sniff IFACE SECONDS         count packets carrying the marker seen on IFACE for SECONDS; print it
udp ADDR PORT SRC           send 3 UDP datagrams carrying the marker from source address SRC (a
                            one-way channel needs no answer, so a borrowed address is enough)
flood ADDR PORT SECONDS     send UDP datagrams from one socket as fast as possible; print how many
sink PORT FILE              accept connections on PORT and append every line they send to FILE
attempts ADDR PORT SECONDS  start a TCP connection every 50 ms for SECONDS (each given 0.5 s); print
                            "tried N connected M"
stream ADDR PORT SECONDS    connect, then send a numbered line every 0.1 s for SECONDS (a telemetry
                            feed); stops quietly when the connection fails
"""
import os, socket, struct, sys, threading, time

MARKER = b"DWPROBE"


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def send_invalid(addr, port):
    """SYN|FIN with a payload: never part of a valid connection, so conntrack marks it invalid."""
    v6 = ":" in addr
    family = socket.AF_INET6 if v6 else socket.AF_INET
    # Learn the source address the kernel would use, for the checksum's pseudo-header.
    probe = socket.socket(family, socket.SOCK_DGRAM)
    probe.connect((addr, port))
    src = probe.getsockname()[0]
    probe.close()
    s = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_TCP)
    for i in range(3):
        header = struct.pack("!HHIIBBHHH", 40000 + i, port, 1000 + i, 0, 5 << 4, 0x03, 65535, 0, 0)
        segment = header + MARKER
        if v6:
            pseudo = socket.inet_pton(family, src) + socket.inet_pton(family, addr) + struct.pack("!I3xB", len(segment), 6)
        else:
            pseudo = socket.inet_pton(family, src) + socket.inet_pton(family, addr) + struct.pack("!BBH", 0, 6, len(segment))
        csum = checksum(pseudo + segment)
        segment = segment[:16] + struct.pack("!H", csum) + segment[18:]
        s.sendto(segment, (addr, 0))
        time.sleep(0.05)
    s.close()


def sniff(iface, seconds):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    s.settimeout(0.2)
    seen = 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            data, addr = s.recvfrom(65535)
            # Incoming only: an ICMP error the receiver sends back quotes the marker too.
            if MARKER in data and addr[2] != socket.PACKET_OUTGOING:
                seen += 1
        except socket.timeout:
            pass
    print(seen, flush=True)

def serve(family, addr, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    # Transparent bind is not needed: the cloud namespace owns every address it serves.
    s.bind((addr, port))
    s.listen(256)
    while True:
        c, _ = s.accept()
        try:
            c.sendall(b"hello from the lab cloud\n")
        finally:
            c.close()

def sink(port, path):
    out = open(path, "a", buffering=1)
    lock = threading.Lock()

    def drain(c):
        with c, c.makefile("r") as lines:
            for line in lines:
                with lock:
                    out.write(line)

    def accept(family, addr):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port))
        s.listen(16)
        while True:
            c, _ = s.accept()
            threading.Thread(target=drain, args=(c,), daemon=True).start()

    threads = [threading.Thread(target=accept, args=fa, daemon=True)
               for fa in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def stream(addr, port, seconds):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.5)
    try:
        s.connect((addr, port))
        end, n = time.time() + seconds, 0
        while time.time() < end:
            n += 1
            s.sendall(b"telemetry %d\n" % n)
            time.sleep(0.1)
    except OSError:
        pass
    finally:
        s.close()


def attempts(addr, port, seconds):
    results = []

    def one():
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect((addr, port))
            results.append(True)
        except OSError:
            results.append(False)
        finally:
            s.close()

    threads = []
    end = time.time() + seconds
    while time.time() < end:
        t = threading.Thread(target=one)
        t.start()
        threads.append(t)
        time.sleep(0.05)
    for t in threads:
        t.join()
    print("tried %d connected %d" % (len(results), sum(results)), flush=True)


def main():
    if sys.argv[1] == "attempts":
        attempts(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif sys.argv[1] == "sink":
        sink(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "stream":
        stream(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif sys.argv[1] == "listen":
        port = int(sys.argv[2])
        threads = [threading.Thread(target=serve, args=(f, a, port), daemon=True)
                   for f, a in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elif sys.argv[1] == "connect":
        addr, port = sys.argv[2], int(sys.argv[3])
        # Drop to the user first: a socket belongs to the user that creates it (meta skuid).
        if len(sys.argv) > 4 and sys.argv[4]:
            os.setgid(int(sys.argv[4]))
            os.setuid(int(sys.argv[4]))
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        if len(sys.argv) > 5 and sys.argv[5]:
            s.bind((sys.argv[5], 0))
        s.settimeout(1.5)
        try:
            s.connect((addr, port))
            print("open")
        except OSError:
            print("closed")
        finally:
            s.close()
    elif sys.argv[1] == "invalid":
        send_invalid(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "flood":
        addr, port, seconds = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
        sent, end = 0, time.time() + seconds
        while time.time() < end:
            for _ in range(100):
                try:
                    s.sendto(b"flight log chunk", (addr, port))
                    sent += 1
                except OSError:
                    pass
        print(sent)
    elif sys.argv[1] == "udp":
        addr, port, src = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        for _ in range(3):
            s.sendto(MARKER + b" flight log chunk", (addr, port))
            time.sleep(0.05)
        s.close()
    elif sys.argv[1] == "sniff":
        sniff(sys.argv[2], float(sys.argv[3]))

if __name__ == "__main__":
    main()
