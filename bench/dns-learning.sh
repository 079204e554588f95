#!/usr/bin/env bash
# Benchmark: how fast answers reach the kernel's learned set, dronewalld next to dnsmasq's
# --nftset filling an equivalent set, on this machine in one run. Root only.
#
#   client ns --veth-- station ns (dnsmasq --nftset, or dronewalld) --veth-- upstream ns
#
# The upstream is a small authoritative stand-in that notes when each answer leaves it; a
# netlink listener in the station notes when each element appears in the set; the client
# notes when each answer arrives. Printed per resolver: answer-to-map latency (upstream answer
# sent -> element in the set) p50/p99 and learned elements per second, one query at a time and
# with many in flight. Both resolvers get the same names and the same upstream. (That no answer
# reaches a drone before its element is the lab's test, lab/dns-test.sh, not a benchmark.)
set -euo pipefail
cd "$(dirname "$0")/.."
LATENCY_COUNT="${LATENCY_COUNT:-1000}"
LOAD_COUNT="${LOAD_COUNT:-5000}"
LOAD_CONCURRENCY="${LOAD_CONCURRENCY:-64}"
[ "$(id -u)" = 0 ] || { echo "bench needs root (network namespaces)"; exit 77; }
command -v dnsmasq >/dev/null || { echo "bench needs dnsmasq (dnsmasq-base)"; exit 1; }
for p in dronewall dronewalld; do swift build -c release --product "$p" 2>&1 | tail -1; done  # one --product per build: with two, only the last is built
DWD=${DRONEWALLD:-$PWD/.build/release/dronewalld}  # DRONEWALLD: another build (e.g. a base commit's)
ID=$$; C="dwb-c-$ID"; S="dwb-s-$ID"; U="dwb-u-$ID"; TMP=$(mktemp -d)
cleanup() {
    for ns in "$C" "$S" "$U"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
for ns in "$C" "$S" "$U"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add c0 netns "$C" type veth peer name s0 netns "$S"
ip link add s1 netns "$S" type veth peer name u0 netns "$U"
ip -n "$C" addr add 192.0.2.2/24 dev c0; ip -n "$C" link set c0 up
ip -n "$S" addr add 192.0.2.1/24 dev s0; ip -n "$S" link set s0 up
ip -n "$S" addr add 198.51.100.1/24 dev s1; ip -n "$S" link set s1 up
ip -n "$U" addr add 198.51.100.2/24 dev u0; ip -n "$U" link set u0 up

bg() { # bg VAR NS CMD... : start CMD in NS in the background (a child of this shell); its pid in VAR
    local var=$1; shift
    ip netns exec "$@" </dev/null >/dev/null 2>>"$TMP/bg.err" &
    printf -v "$var" %s $!
}
stop() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }

# The two observers run first-in-first-out real-time (chrt -f), for both resolvers alike: their
# timestamps are the moments an answer left and an element's notification arrived, not the
# moments a busy 2-core machine got round to running them. As normal tasks their lag was most
# of what was measured: dnsmasq's answer-to-map p50 4-16 ms, p99 23-36 ms; real-time, p50
# 0.1-0.2 ms, p99 5-6 ms (two pairs of runs, 64 in flight, this shared machine). Both block in
# recv between events. What it costs: a real-time observer preempts the resolver at once, and
# dnsmasq (one transaction, so one notification, per element) wakes the monitor more often
# than dronewalld (one per batch), so its learned rate suffers more from it.
observer() { echo chrt -f 10 python3 bench/dns_bench.py "$@"; }

run() { # run LABEL LETTER LETTER START-RESOLVER: names a1..., then b1... (fresh names per phase)
    local label=$1 p=$2 q=$3
    bg UP "$U" $(observer upstream 198.51.100.2 "$TMP/up-$p.json")
    bg MON "$S" $(observer monitor "$TMP/mon-$p.json")
    $4
    sleep 1.5
    ip netns exec "$C" python3 bench/dns_bench.py client 192.0.2.1 "$p" "$LATENCY_COUNT" 1 "$TMP/lat-$p.json"
    stop "$UP"; stop "$MON"
    python3 bench/dns_bench.py report "$TMP/up-$p.json" "$TMP/mon-$p.json" "$TMP/lat-$p.json" "$label, 1 in flight"
    bg UP "$U" $(observer upstream 198.51.100.2 "$TMP/up-$q.json")
    bg MON "$S" $(observer monitor "$TMP/mon-$q.json")
    sleep 0.5
    ip netns exec "$C" python3 bench/dns_bench.py client 192.0.2.1 "$q" "$LOAD_COUNT" "$LOAD_CONCURRENCY" "$TMP/load-$q.json"
    stop "$UP"; stop "$MON"; stop "$RESOLVER"
    python3 bench/dns_bench.py report "$TMP/up-$q.json" "$TMP/mon-$q.json" "$TMP/load-$q.json" \
        "$label, $LOAD_CONCURRENCY in flight"
}

start_dnsmasq() {
    ip netns exec "$S" nft -f - <<'NFT'
table inet dwbench {
    set learned6 { type ipv6_addr; flags timeout; timeout 1h; }
}
NFT
    bg RESOLVER "$S" dnsmasq --keep-in-foreground --no-resolv --no-hosts --cache-size=0 --server=198.51.100.2 \
        --listen-address=192.0.2.1 --bind-interfaces --user=root --pid-file="$TMP/dnsmasq.pid" \
        --nftset=/flysafe-api.dji.com/6#inet#dwbench#learned6
}

start_dronewalld() {
    ip netns exec "$S" nft delete table inet dwbench 2>/dev/null || true
    cat > "$TMP/dronewall.conf" <<CONF
[station]
dns-upstream = 198.51.100.2
dns-sinkhole = off
[drone client]
address = 192.0.2.2
policy = local-data
CONF
    bg RESOLVER "$S" "$DWD" --config "$TMP/dronewall.conf" --catalogue rules/vendors --db "$TMP/flows.db" --group root
}

echo "machine: $(nproc) cores; names: ${LATENCY_COUNT} one at a time, then ${LOAD_COUNT} with ${LOAD_CONCURRENCY} in flight"
run "dnsmasq --nftset" a b start_dnsmasq
run "dronewalld" c d start_dronewalld
