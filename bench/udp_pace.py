#!/usr/bin/env python3
"""Sends UDP datagrams at a paced rate for the log-ingest benchmark.
Usage: udp_pace.py RATE SECONDS FLOWS. Destinations 203.0.113.1-254, ports 1000+, spread over FLOWS
(destination, port) pairs. Prints the number of datagrams sent."""
import socket, sys, time

rate, seconds, flows = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
targets = [(f"203.0.113.{1 + i % 254}", 1000 + i // 254) for i in range(flows)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
payload = b"x" * 64
sent, start, tick = 0, time.monotonic(), 0.001
end = start + seconds
while True:
    now = time.monotonic()
    if now >= end:
        break
    due = int((now - start) * rate)
    while sent < due:
        try:
            s.sendto(payload, targets[sent % flows])
        except OSError:
            pass  # the dummy link never refuses; a full buffer would only lower the rate
        sent += 1
    time.sleep(tick)
print(sent)
