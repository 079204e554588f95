#!/usr/bin/env python3
"""Writes a station config with N drones (every policy and identity kind, documentation
and private addresses only) for benchmarks and scale tests.  Usage: gen_config.py N > file"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
policies = ["local-data", "allowlist", "isolate", "monitor"]
print("[station]\ndrone-interfaces = wlan0 usb0\nunknown-devices = isolate\n")
for i in range(n):
    print(f"[drone d{i:04d}]")
    print(f"mac = 02:00:00:00:{i >> 8:02x}:{i & 0xff:02x}")
    print(f"address = 10.{i >> 8}.{i & 0xff}.0/24 2001:db8:{i:x}::/64")
    print(f"policy = {policies[i % 4]}")
    if i % 4 in (0, 1):
        print("allow = firmware maps")
        print(f"allow-host = 198.51.{100 + (i % 3)}.{i % 250 + 1}")
    if i % 5 == 0:
        print("block-host = 203.0.113.0/24")
    print()
