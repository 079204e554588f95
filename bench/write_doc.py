#!/usr/bin/env python3
"""Writes docs/BENCHMARKS.md for `bench/run.sh --write`: the method, then each benchmark's
printed output. Benchmarks not run this time keep the section the file already had, and the
hand-written findings between <!-- findings --> and <!-- /findings --> are kept.
Usage: write_doc.py DOC OUTDIR NAME...  (OUTDIR/NAME.txt holds what run.sh printed for NAME)"""
import os, re, sys

ORDER = ["datapath", "apply-500", "apply-scale", "incremental", "dns-learning", "log-ingest", "flowlog"]

METHOD = """# Benchmarks

Every figure here is printed by one command, as root, on a Debian machine with the build
dependencies of `scripts/packages.txt`:

```sh
bench/run.sh [--write] [NAME...]     # names: datapath apply-500 apply-scale incremental dns-learning log-ingest flowlog
```

Method (issue 12):
- Each benchmark builds what it needs (`swift build -c release`; the data path's load generator
  `bench/dpload.c` with gcc) and runs in network namespaces it creates and removes, also when it
  fails. Only documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
  2001:db8::/32) are used, inside those namespaces; no benchmark traffic leaves the machine.
- The two sides of a comparison are interleaved, A B A B, for `ROUNDS` rounds (default 5), so
  that load from other work on a shared machine falls on both sides; medians are compared, and
  every sample is printed next to its median so the spread is visible.
- Each table gives the medians, the ratio of the medians (A / B), the target from issue 12 and
  whether it holds. A missed target is a finding to explain, not a failure: `run.sh` exits
  non-zero only when a benchmark itself broke.
- The machine line is printed with each result (cores, CPU, kernel, nft version, load average
  at the start): figures from different machines are not comparable.
- Nothing here is a pass/fail test; `scripts/test.sh` runs no timed test.

Benchmarks:
- **datapath**: drone namespace -> station namespace (forwarding, the ruleset under test) ->
  cloud namespace, over veth; each case in three namespaces of its own, set up once, the cases
  then measured in turn round by round. (a) 64-byte-frame UDP forwarding rate on established
  flows (one flow per core, made established by one answered datagram, then flooded with
  `sendmmsg`; counted at the cloud's prerouting hook, where they are dropped), over IPv6 too for
  conntrack only and the dronewall fleet; (b) new TCP connections per second (connect + close
  with RST in 4 loops; each a new flow through the station); (c) bulk TCP, one iperf3 stream,
  for conntrack only, dronewall 1 drone and the fleet. Cases: conntrack only (one
  `ct state established accept` rule); the same plus an empty nat prerouting chain (dronewall's
  DNS redirect needs a nat chain, and a nat hook gives every new flow a NAT binding: this case
  shows that share); dronewall with 1 drone and the shipped catalogue; the **dronewall fleet**:
  1000 drones (`bench/gen_config.py`, the measured drone the 501st), a 100k-network catalogue
  (`bench/gen_catalogue.py`) beside the shipped one, and 100k learned addresses in `learned_v4`;
  **iptables + ipset** enforcing the fleet's policy, written by hand (`bench/ipt_policy.py`
  describes the design: per-drone chains reached by one rule per identity in config order,
  a `hash:net` ipset per category holding the catalogue networks and the learned addresses),
  through iptables-nft (Debian's default `iptables`) and through iptables-legacy. `CASES` adds
  `none` (no ruleset), `dw1000` (1000 drones, shipped catalogue) and `dw1g` (dw1 with the drone
  chain restructured by hand, a proposal for the compiler). Defaults: 1.5 s per UDP and TCP
  sample, 1 s bulk. On veth the sender's CPU also does the forwarding, so the rate is the
  per-packet cost of the whole path on one core per flow, not a NIC's line rate.
  `PROFILE="ct dw1 ..."` adds, per case, the CPU time per datagram and per new connection from
  `perf record -a` samples, split into conntrack, NAT, ruleset and the rest: on a shared machine
  CPU time per packet moves much less than packets per second.
- **apply-500**: `dronewall apply` of 500 drones next to `nft -f` of the same ruleset (what
  `dronewall show` prints), each in a fresh namespace.
- **apply-scale**: `dronewall apply` next to `nft -f` of the same ruleset (its `dronewall show`
  output) for 10 and 1000 drones (`DRONES="10 100 1000"` for the full grid) x catalogues of 1k,
  10k and 100k generated /24 networks (`bench/gen_catalogue.py`), each run in a fresh namespace,
  interleaved for `SCALE_ROUNDS` rounds (default 3, to stay within ~3 minutes): wall time and peak
  RSS (`/usr/bin/time`), apply's user/system CPU, and the kernel's own share: the batch apply sent
  (written by `DRONEWALL_BATCH_DUMP=FILE`) replayed on a raw netlink socket by
  `bench/batch_replay.c`, timed from the write to the last ack. Targets at >= 10k networks: wall
  and peak memory <= 0.5x `nft -f`, userspace (apply's wall less the replay) <= 25% of the wall.
- **incremental**: one drone's policy changed in a 1000-drone station with a 100k-network
  catalogue (`INC_DRONES`, `INC_NETWORKS`): dronewalld holds the table, `dronewall reload` makes
  it apply the changed config, which it sends as a change; the daemon's answer says how long the
  apply took until the kernel had it in force and how long reading and compiling the config took
  before. Next to it, `nft -f` of the whole new ruleset (`delete table` + `dronewall show` text)
  into a namespace holding the old table. The drone flips between two policies round by round.
- **dns-learning**: answer-to-map latency and learned elements per second of dronewalld's
  resolver next to dnsmasq's `--nftset`, same names, same upstream.
- **log-ingest**: the same NFLOG flood (UDP datagrams logged by a rule without the per-flow
  meter, at rising rate steps) into dronewalld and into ulogd2 (Debian's ulogd2 +
  ulogd2-sqlite3: NFLOG input, SQLite output, its documented tuning; `bench/log-ingest.sh` says
  which and why): the highest rate each records with zero loss (every event the rule counted is
  in its database, none dropped at its socket) and CPU seconds per 10k events. dronewalld stores
  one flow record per flow and minute, ulogd2 one row per packet: the comparison is events
  received without loss. Replaces `daemon-pipeline` (dronewalld alone).
- **flowlog**: database bytes per flow record and `dronewall report` times over 1M records.

## Results
"""


def main(doc, outdir, names):
    old = open(doc).read() if os.path.exists(doc) else ""
    parts = [METHOD]
    for name in ORDER:
        path = os.path.join(outdir, f"{name}.txt")
        if name in names and os.path.exists(path):
            body = open(path).read().rstrip()
            lines = body.splitlines()
            title = lines[0] if lines and lines[0].startswith("## ") else f"## {name}"
            text = "\n".join(l for l in lines if not l.startswith("## ")).strip()
            section = f"<!-- bench:{name} -->\n#{title}\n\n```text\n{text}\n```\n<!-- /bench:{name} -->\n"
        else:
            m = re.search(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->\n", old, re.S)
            section = m.group(0) if m else f"<!-- bench:{name} -->\n### {name}\n\nNot run yet.\n<!-- /bench:{name} -->\n"
        parts.append(section)
    # Hand-written notes on the figures (why a target is missed) survive a rewrite.
    m = re.search(r"<!-- findings -->.*?<!-- /findings -->\n", old, re.S)
    parts.append(m.group(0) if m else "<!-- findings -->\n## Findings\n\nNone written yet.\n<!-- /findings -->\n")
    os.makedirs(os.path.dirname(doc) or ".", exist_ok=True)
    open(doc, "w").write("\n".join(parts))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
