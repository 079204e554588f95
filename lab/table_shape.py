#!/usr/bin/env python3
"""The shape of `nft -j list table`: what a table enforces, written so that two tables that
enforce the same compare equal as text. Sets, maps and chains are sorted by name (a change adds
new ones at the end of the kernel's lists, a replace in the ruleset's order); rule handles,
counter values and elements that come and go at run time (timeout and dynamic sets: learned
addresses, log meters) and the table's owner flags are left out. Rules keep their order within a chain."""
import json
import sys


def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items()
                if k not in ("handle", "packets", "bytes", "expires")}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def main():
    objects = json.load(sys.stdin)["nftables"]
    blocks, rules = {}, {}
    for o in objects:
        kind, body = next(iter(o.items()))
        if kind in ("set", "map"):
            body = strip(body)
            if set(body.get("flags", [])) & {"timeout", "dynamic"}:
                body.pop("elem", None)
            elif "elem" in body:
                body["elem"] = sorted(body["elem"], key=lambda e: json.dumps(e, sort_keys=True))
            blocks[(kind, body["name"])] = body
        elif kind == "chain":
            blocks[("chain", body["name"])] = strip(body)
        elif kind == "rule":
            rules.setdefault(body["chain"], []).append(strip(body)["expr"])
        elif kind == "table":
            # Who owns the table (the daemon's socket, or no one after a plain apply) is not
            # what it enforces.
            body = strip(body)
            body.pop("flags", None)
            blocks[("table", "")] = body
    for key in sorted(blocks):
        print(key[0], key[1], json.dumps(blocks[key], sort_keys=True))
        for r in rules.get(key[1], []) if key[0] == "chain" else []:
            print("  rule", json.dumps(r, sort_keys=True))


main()
