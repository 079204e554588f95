#!/usr/bin/env python3
"""Lab helper: a TCP listener on every address, and a connect probe.

listen PORT                 accept and close connections on all IPv4/IPv6 addresses
connect ADDR PORT [UID]     print "open" if a TCP connection succeeds within 1.5 s, else "closed"
                            (with UID, the probe first drops to that user id, to test `user =` drones)
"""
import os, socket, sys, threading

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

def main():
    if sys.argv[1] == "listen":
        port = int(sys.argv[2])
        threads = [threading.Thread(target=serve, args=(f, a, port), daemon=True)
                   for f, a in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elif sys.argv[1] == "connect":
        addr, port = sys.argv[2], int(sys.argv[3])
        if len(sys.argv) > 4 and sys.argv[4]:
            os.setgid(int(sys.argv[4]))
            os.setuid(int(sys.argv[4]))
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(1.5)
        try:
            s.connect((addr, port))
            print("open")
        except OSError:
            print("closed")
        finally:
            s.close()

if __name__ == "__main__":
    main()
