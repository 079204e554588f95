#!/usr/bin/env python3
"""The iptables + ipset side of bench/datapath.sh: a dronewall station config written by hand
the way a sysadmin without dronewall would enforce it, and the learned addresses both sides get.

Usage:
  ipt_policy.py learned N > file.nft
      `add element` commands putting N learned addresses into dronewall's learned_v4 map
  ipt_policy.py write CONFIG ENDPOINTS_JSON N IPSETS_OUT RULES_OUT
      ipset-restore and iptables-restore files for CONFIG's drones; the destination classes
      come from ENDPOINTS_JSON (`nft -j list map inet dronewall endpoints_v4` of a dronewall
      table compiled from the same catalogue), plus the same N learned addresses

Learned address i is 172.16.0.0 + 1 + i (RFC 1918 space: set elements only, never a
destination; no route in the benchmark's namespaces leads there), in category i mod 11, so both
sides hold the same addresses in the same classes.

The design (IPv4 only: the benchmark measures the drone's IPv4 traffic on this side):
  - mangle PREROUTING: new flows that fail the reverse-path check are logged and dropped
    (`-m rpfilter`, which the kernel allows only in raw and mangle: iptables-extensions(8));
    dronewall does the same check (`fib saddr . iif oif missing`) in each drone's chain.
  - nat PREROUTING: drones' DNS (port 53, from every link but the uplinks) is redirected to the
    station's resolver, one port for all, as with dnsmasq.
  - filter FORWARD: `--ctstate ESTABLISHED,RELATED -j ACCEPT` first; then, in the config's
    order, one rule per drone identity (`-m mac --mac-source`, then `-s` per IPv4 network),
    jumping to the drone's chain; then what arrives from a non-uplink link is an unknown device.
    xtables has no verdict map (a rule's target is fixed; ipset's skbinfo can set a mark, but a
    mark still picks a chain only through one rule per value: ipset(8), iptables-extensions(8)),
    so a new flow of the k-th drone walks the dispatch rules of the k-1 drones before it. Not a
    set per drone: a network namespace holds at most 256 ipsets unless the ip_set module's
    max_sets is raised (IP_SET_MAX, default 256: net/netfilter/ipset/Kconfig).
  - a drone's chain, what dronewall's drone chain tests, in its order: untracked and invalid
    packets; block-host; allow-host; DNS bypass (ports 53 and 853, public resolvers' addresses in
    ipset dw-resolvers); then per policy: isolate drops all; local-data and allowlist test one
    `hash:net` ipset per blocked category (catalogue networks and learned addresses together,
    the learned ones with a timeout, as dnsmasq's --ipset would add them); allowlist then accepts
    its allowed categories and drops the rest; monitor logs the would-block categories.
  - blocked and logged packets go to one chain per reason: NFLOG (group from the config,
    prefix naming the reason) rate-limited per source and destination by hashlimit, like
    dronewall's per-flow meter; then DROP (the log-only chains have no DROP).
"""
import ipaddress
import json
import sys

CATEGORIES = ["flight-logs", "telemetry", "media", "firmware", "app-update", "geofence", "maps",
              "account", "remote-config", "support", "other"]  # bit i = CATEGORIES[i] (Category.bitIndex)
RESOLVER_BIT = 1 << 11                                          # KernelLayout.resolverBit
LEARNED_BASE = int(ipaddress.IPv4Address("172.16.0.1"))


def learned(n):
    """(address, category index) of the n learned addresses."""
    return [(str(ipaddress.IPv4Address(LEARNED_BASE + i)), i % len(CATEGORIES)) for i in range(n)]


def write_learned_nft(n, out):
    items = learned(n)
    for start in range(0, len(items), 1000):
        chunk = ", ".join(f"{a} timeout 1h : 0x{1 << c:08x}" for a, c in items[start:start + 1000])
        out.write(f"add element inet dronewall learned_v4 {{ {chunk} }}\n")


def read_config(path):
    """[station] keys and the drones in file order, as {key: [words]} (values split on spaces)."""
    station, drones, cur = {}, [], None
    for raw in open(path):
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            head = line.strip("[]").split()
            cur = station if head[0] == "station" else {"name": [head[1]]}
            if cur is not station:
                drones.append(cur)
            continue
        key, _, value = line.partition("=")
        cur[key.strip()] = value.split()
    return station, drones


def endpoint_classes(path):
    """{bit: [IPv4 networks]} from nft's JSON listing of endpoints_v4 (prefixes, ranges, addresses)."""
    doc = json.load(open(path))
    elems = next(o["map"]["elem"] for o in doc["nftables"] if "map" in o)
    classes = {}
    for key, mark in elems:
        if isinstance(key, str):
            nets = [ipaddress.IPv4Network(key)]
        elif "prefix" in key:
            nets = [ipaddress.IPv4Network(f"{key['prefix']['addr']}/{key['prefix']['len']}")]
        else:
            lo, hi = (ipaddress.IPv4Address(a) for a in key["range"])
            nets = list(ipaddress.summarize_address_range(lo, hi))
        for bit in range(32):
            if mark & (1 << bit):
                classes.setdefault(bit, []).extend(nets)
    return classes


def blocked_categories(drone):
    """(blocked, allowed) category names, as DronePolicy reads `policy`, `allow` and `block`."""
    policy = drone["policy"][0]
    allow, block = set(drone.get("allow", [])), set(drone.get("block", []))
    if policy == "local-data":
        return [c for c in CATEGORIES if c not in allow or c in block], []
    if policy == "allowlist":
        return [c for c in CATEGORIES if c not in allow or c in block], [c for c in CATEGORIES if c in allow and c not in block]
    return [], []


def write(config, endpoints_json, n_learned, ipsets_out, rules_out):
    station, drones = read_config(config)
    group = station.get("log-group", ["7140"])[0]
    uplinks = station.get("uplink-interfaces", [])
    classes = endpoint_classes(endpoints_json)

    with open(ipsets_out, "w") as s:
        for i, c in enumerate(CATEGORIES):
            nets = classes.get(i, [])
            size = max(1024, 1 << (len(nets) + n_learned // len(CATEGORIES)).bit_length())
            s.write(f"create dw-cat-{c} hash:net family inet hashsize {size} maxelem {4 * size} timeout 3600\n")
            for net in nets:
                s.write(f"add dw-cat-{c} {net} timeout 0\n")  # catalogue: permanent
        for a, c in learned(n_learned):
            s.write(f"add dw-cat-{CATEGORIES[c]} {a}\n")       # learned: the set's timeout
        s.write("create dw-resolvers hash:net family inet\n")
        for net in classes.get(RESOLVER_BIT.bit_length() - 1, []):
            s.write(f"add dw-resolvers {net}\n")

    reasons = ["rpf", "untracked", "host", "dns", "all", "unlisted"] + CATEGORIES
    limit = "-m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 20 --hashlimit-mode srcip,dstip"

    def log_chain(table_lines, chain, reason, index, drop):
        table_lines.append(f":{chain} - [0:0]")
        rules.append(f"-A {chain} {limit} --hashlimit-name dwl{index}{'d' if drop else 'w'} "
                     f"-j NFLOG --nflog-group {group} --nflog-prefix \"dw cat={reason}\"")
        if drop:
            rules.append(f"-A {chain} -j DROP")

    out = ["*mangle", ":PREROUTING ACCEPT [0:0]"]
    rules = []
    log_chain(out, "dwblk-rpf", "rpf", 0, True)
    out += rules + ["-A PREROUTING -m conntrack --ctstate NEW -m rpfilter --invert -j dwblk-rpf", "COMMIT"]

    out += ["*nat", ":PREROUTING ACCEPT [0:0]"]
    not_uplink = " ".join(f"! -i {u}" for u in uplinks)
    for proto in ["udp", "tcp"]:
        out.append(f"-A PREROUTING {not_uplink} -p {proto} --dport 53 -j REDIRECT --to-ports 53")
    out.append("COMMIT")

    out += ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    rules = []
    for i, r in enumerate(reasons):
        log_chain(out, f"dwblk-{r}", r, i, True)
        log_chain(out, f"dwlog-{r}", r, i, False)  # monitor: would-block, logged only
    rules.append("-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
    unknown = station.get("unknown-devices", ["isolate"])[0]
    for d in drones + [{"name": ["unknown"], "policy": [unknown]}]:
        name = d["name"][0]
        chain = f"dw-{name}"
        out.append(f":{chain} - [0:0]")
        if name == "unknown":
            rules.append(f"-A FORWARD {not_uplink} -j {chain}")
        else:
            for m in d.get("mac", []):
                rules.append(f"-A FORWARD -m mac --mac-source {m} -j {chain}")
            for a in d.get("address", []):
                if ":" not in a:
                    rules.append(f"-A FORWARD -s {a} -j {chain}")
        policy = d["policy"][0]
        monitor = policy == "monitor"
        rules.append(f"-A {chain} -m conntrack --ctstate INVALID,UNTRACKED -j dwblk-untracked")
        for h in d.get("block-host", []):
            if ":" not in h:
                rules.append(f"-A {chain} -d {h} -j dwblk-host")
        for h in d.get("allow-host", []):
            if ":" not in h:
                rules.append(f"-A {chain} -d {h} -j ACCEPT")
        dns = "dwlog-dns" if monitor else "dwblk-dns"
        for proto, port in [("udp", 53), ("tcp", 53), ("tcp", 853), ("udp", 853)]:
            rules.append(f"-A {chain} -p {proto} --dport {port} -j {dns}")
        rules.append(f"-A {chain} -m set --match-set dw-resolvers dst -j {dns}")
        blocked, allowed = blocked_categories(d)
        if policy == "isolate":
            rules.append(f"-A {chain} -j dwblk-all")
            continue
        for c in blocked:
            rules.append(f"-A {chain} -m set --match-set dw-cat-{c} dst -j dwblk-{c}")
        if policy == "allowlist":
            for c in allowed:
                rules.append(f"-A {chain} -m set --match-set dw-cat-{c} dst -j ACCEPT")
            rules.append(f"-A {chain} -j dwblk-unlisted")
        if monitor:
            for c in CATEGORIES:
                if c not in d.get("allow", []):
                    rules.append(f"-A {chain} -m set --match-set dw-cat-{c} dst -j dwlog-{c}")
        rules.append(f"-A {chain} -j ACCEPT")
    out += rules + ["COMMIT"]
    with open(rules_out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["learned"]:
        write_learned_nft(int(sys.argv[2]), sys.stdout)
    elif sys.argv[1:2] == ["write"] and len(sys.argv) == 7:
        write(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6])
    else:
        sys.exit(__doc__)
