#!/usr/bin/env bash
# Benchmark: the whole dronewalld pipeline (NFLOG reader -> attribution -> per-minute flow
# aggregation -> SQLite) at rising event rates, with the kernel's per-flow log limit bypassed.
# In a private network namespace an extra table logs every UDP datagram to 203.0.113.0/24 under a
# dronewall prefix; the daemon must record every one of them (packets in the report == sent) and
# report zero lost events. Prints one line per rate. Root only.
set -euo pipefail
cd "$(dirname "$0")/.."
RATES="${RATES:-25000 50000 100000 150000 200000}"
SECONDS_PER_RATE="${SECONDS_PER_RATE:-4}"
FLOWS="${FLOWS:-50000}"
SENDERS="${SENDERS:-2}"
[ "$(id -u)" = 0 ] || { echo "bench needs root (network namespaces)"; exit 77; }
swift build -c release --product dronewall --product dronewalld 2>&1 | tail -1
DW=$PWD/.build/release/dronewall; DWD=$PWD/.build/release/dronewalld
TMP=$(mktemp -d); NS="dw-pipe-$$"
cleanup() { for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
            ip netns del "$NS" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
cat > "$TMP/dronewall.conf" <<CONF
[drone bench]
address = 192.0.2.10
policy = local-data
CONF
printf 'drones: 1, flows per rate: %s (destination, port) pairs, %ss per rate\n' "$FLOWS" "$SECONDS_PER_RATE"
printf '%10s %10s %10s %10s %8s %12s\n' "rate/s" "sent" "recorded" "records" "lost" "daemon CPU s"
for rate in $RATES; do
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    # A veth pair inside the namespace and a static neighbour: the datagrams leave v0 and are
    # dropped by v1 (wrong destination MAC), without ARP and without leaving the namespace.
    ip -n "$NS" link add v0 type veth peer name v1
    ip -n "$NS" link set v0 up; ip -n "$NS" link set v1 up
    ip -n "$NS" addr add 198.51.100.1/24 dev v0
    ip -n "$NS" neigh add 198.51.100.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent
    ip -n "$NS" route add 203.0.113.0/24 via 198.51.100.2 dev v0
    db="$TMP/flows-$rate.db"
    ip netns exec "$NS" "$DWD" --config "$TMP/dronewall.conf" --catalogue rules/vendors --db "$db" \
        --group root 2>"$TMP/daemon.log" &
    pid=$!
    for _ in $(seq 50); do grep -qs "logging blocked flows" "$TMP/daemon.log" && break; sleep 0.1; done
    # Unlimited logging under dronewall's prefix (the real ruleset limits it per flow).
    ip netns exec "$NS" nft -f - <<NFT
table inet dwbench {
    chain out { type filter hook output priority 0;
        ip daddr 203.0.113.0/24 udp dport >= 1000 log prefix "dw drone=bench cat=telemetry " group 7140
    }
}
NFT
    # SENDERS processes share the rate (one Python sender tops out near 130k datagrams/s).
    sent=$(for _ in $(seq "$SENDERS"); do
               ip netns exec "$NS" python3 bench/udp_pace.py $((rate / SENDERS)) "$SECONDS_PER_RATE" "$FLOWS" &
           done | awk '{s += $1} END {print s}')
    sleep 1.5
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat")
    kill -TERM "$pid"; wait "$pid" || true
    read -r recorded records < <("$DW" report --db "$db" --since 1h --format json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print(sum(r["packets"] for r in rows), len(rows))')
    lost=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select coalesce(sum(lost),0)+coalesce(sum(overruns),0) from loss").fetchone()[0])' "$db")
    printf '%10s %10s %10s %10s %8s %12s\n' "$rate" "$sent" "$recorded" "$records" "$lost" "$cpu"
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$NS"
done
