#!/usr/bin/env python3
"""Writes a vendor catalogue with N generated /24 networks (10.0.0.0/24, 10.0.1.0/24, ... on
into 11.0.0.0/8 and beyond; for compiling only, never for a kernel) for compile-scale
benchmarks. With --nested, one /16 over every 256 of them and a /28 inside every 16th are
listed too, so the compiler splits networks around the ones inside them.
Usage: gen_catalogue.py N [--nested] > file.rules"""
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
n = int(args[0]) if args else 1000
nested = "--nested" in sys.argv[1:]
categories = ["flight-logs", "telemetry", "media", "firmware", "app-update", "geofence", "maps",
              "account", "remote-config", "support", "other"]

print("[vendor bench]\nname = Generated benchmark vendor\njurisdiction = XX\nsource = bench/gen_catalogue.py\n")


def endpoint(net, i):
    print(f"[endpoint {net}]\ncategories = {categories[i % len(categories)]}\nsource = generated\n")


for i in range(n):
    a, b, c = 10 + (i >> 16), (i >> 8) & 0xFF, i & 0xFF
    if nested and c == 0:
        endpoint(f"{a}.{b}.0.0/16", i + 1)
    endpoint(f"{a}.{b}.{c}.0/24", i)
    if nested and i % 16 == 0:
        endpoint(f"{a}.{b}.{c}.16/28", i + 2)
