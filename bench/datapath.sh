#!/usr/bin/env bash
# Benchmark: what a drone's traffic pays for crossing the station with dronewall in force.
#
#   drone ns (192.0.2.2) --veth-- station ns (forwards; the ruleset under test) --veth-- cloud ns
#                                                                  (198.51.100.2, 203.0.113.10)
#
# Two measurements per case, interleaved round by round (every case once per round, the
# starting case rotating): (a) small-packet UDP forwarding rate on established flows (SENDERS
# flows, each made established in conntrack by one answered datagram, then flooded with
# 18-byte datagrams by sendmmsg; counted where they arrive, at the cloud's prerouting hook,
# where a raw-priority rule drops them); (b) new TCP connections per second (WORKERS loops of
# connect + close with RST; each one a new flow through the station). Cases: no ruleset;
# conntrack only (one table, one `ct state established accept` rule: conntrack forced, no
# policy); the same plus an empty nat prerouting chain (dronewall's DNS redirect needs one, and a
# nat hook gives every new flow a NAT binding); dronewall with 1 drone and the shipped catalogue; dronewall with 1000 drones
# (bench/gen_config.py) plus the measured drone. Every address is a documentation address in
# namespaces this script creates and removes (also when it fails). Root only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-5}"
UDP_SECONDS="${UDP_SECONDS:-3}"
TCP_SECONDS="${TCP_SECONDS:-3}"
SENDERS="${SENDERS:-$(nproc)}"
WORKERS="${WORKERS:-4}"
CASES="${CASES:-none ct ctnat dw1 dw1000}"
[ "$(id -u)" = 0 ] || { echo "bench needs root (network namespaces)"; exit 77; }
APT_INSTALLED=()
command -v gcc >/dev/null || { apt-get install -y -qq gcc >/dev/null; APT_INSTALLED+=(gcc); }
command -v conntrack >/dev/null || { apt-get install -y -qq conntrack >/dev/null; APT_INSTALLED+=(conntrack); }
echo "apt installs by this benchmark: ${APT_INSTALLED[*]:-none}"
swift build -c release --product dronewall 2>&1 | tail -1 >&2
DW=$PWD/.build/release/dronewall
ID=$$; D="dwdp-d-$ID"; S="dwdp-s-$ID"; C="dwdp-c-$ID"; TMP=$(mktemp -d)
cleanup() {
    for ns in "$D" "$S" "$C"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT; trap "exit 130" INT TERM
gcc -O2 -Wall -o "$TMP/dpload" bench/dpload.c
LOAD="$TMP/dpload"

for ns in "$D" "$S" "$C"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add eth0 netns "$D" type veth peer name d0 netns "$S"
ip link add u0 netns "$S" type veth peer name eth0 netns "$C"
ip -n "$D" addr add 192.0.2.2/24 dev eth0; ip -n "$D" link set eth0 up
ip -n "$D" route add default via 192.0.2.1
ip -n "$S" addr add 192.0.2.1/24 dev d0; ip -n "$S" link set d0 up
ip -n "$S" addr add 198.51.100.1/24 dev u0; ip -n "$S" link set u0 up
ip -n "$S" route add 203.0.113.0/24 via 198.51.100.2
ip netns exec "$S" sysctl -qw net.ipv4.ip_forward=1
ip -n "$C" addr add 198.51.100.2/24 dev eth0; ip -n "$C" link set eth0 up
ip -n "$C" addr add 203.0.113.10/32 dev lo
ip -n "$C" route add 192.0.2.0/24 via 198.51.100.1
# Many short connections: all ephemeral ports, and a deep accept queue.
ip netns exec "$D" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
ip netns exec "$C" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192
# The cloud counts and drops the flood before its sockets (no conntrack there: no ct rule).
ip netns exec "$C" nft -f - <<'NFT'
table ip dwsink {
    counter rx { }
    chain pre { type filter hook prerouting priority -300; policy accept;
        udp dport 9000 udp length != 9 counter name rx drop
    }
}
NFT
TARGET=203.0.113.10
ip netns exec "$C" "$LOAD" echo "$TARGET" 9000 </dev/null >/dev/null 2>&1 & disown
ip netns exec "$C" "$LOAD" listen 8080 2 </dev/null >/dev/null 2>&1 & disown

# The posture `dronewall check` recommends: the uplink named, every other link drone territory.
cat > "$TMP/dw1.conf" <<'CONF'
[station]
uplink-interfaces = u0

[drone bench]
address = 192.0.2.2
policy = local-data
CONF
{ python3 bench/gen_config.py 1000 | sed 's/^drone-interfaces = .*/uplink-interfaces = u0/'
  sed '1,3d' "$TMP/dw1.conf"; } > "$TMP/dw1000.conf"

set_case() { # the station's ruleset for a case; conntrack emptied between cases
    ip netns exec "$S" nft flush ruleset
    case $1 in
        none) ;;
        ct) ip netns exec "$S" nft -f - <<'NFT' ;;
table inet dwbench {
    chain forward { type filter hook forward priority 0; policy accept;
        ct state established accept
    }
}
NFT
        # conntrack plus an empty nat prerouting chain: what dronewall's DNS redirect (a nat
        # chain) costs by itself, the kernel's share of the difference to conntrack only.
        ctnat) ip netns exec "$S" nft -f - <<'NFT' ;;
table inet dwbench {
    chain forward { type filter hook forward priority 0; policy accept;
        ct state established accept
    }
    chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
}
NFT
        # gen_config's drones draw one warning each (an allow with no effect); shown only on failure.
        dw1|dw1000) ip netns exec "$S" "$DW" apply --config "$TMP/$1.conf" --catalogue rules/vendors \
                        >/dev/null 2>"$TMP/apply.err" || { tail -20 "$TMP/apply.err"; exit 1; } ;;
        *) echo "unknown case $1"; exit 1 ;;
    esac
    ip netns exec "$S" conntrack -F >/dev/null 2>&1 || true
}
rx() { ip netns exec "$C" nft list counter ip dwsink rx | awk '/packets/ {print $2}'; }

echo "cases: $CASES; $ROUNDS rounds; UDP: $SENDERS flows, ${UDP_SECONDS}s; TCP: $WORKERS connect loops, ${TCP_SECONDS}s"
if [ -n "${VERBOSE:-}" ]; then set_case dw1; ip netns exec "$S" nft list table inet dronewall | head -40; fi
cases=($CASES)
for round in $(seq "$ROUNDS"); do
    for k in "${!cases[@]}"; do
        c=${cases[$(( (k + round) % ${#cases[@]} ))]}
        set_case "$c"
        before=$(rx)
        ip netns exec "$D" "$LOAD" udp "$TARGET" 9000 "$UDP_SECONDS" "$SENDERS" >/dev/null
        pps=$(( ($(rx) - before) / UDP_SECONDS ))
        conns=$(ip netns exec "$D" "$LOAD" conn "$TARGET" 8080 "$TCP_SECONDS" "$WORKERS")
        cps=$(( conns / TCP_SECONDS ))
        echo "udp-$c $pps" >> "$TMP/samples"; echo "tcp-$c $cps" >> "$TMP/samples"
        printf '  round %s %-7s %10s datagrams/s %8s connections/s\n' "$round" "$c" "$pps" "$cps" >&2
        if [ "$pps" = 0 ] || [ "$cps" = 0 ]; then
            echo "datapath: case $c forwarded nothing; the benchmark is broken, not slow"; exit 1
        fi
    done
done

echo
python3 bench/summarize.py "$TMP/samples" \
    --series udp-none   "UDP, no ruleset"                    "datagrams/s" \
    --series udp-ct     "UDP, conntrack only"                "datagrams/s" \
    --series udp-ctnat  "UDP, conntrack + empty nat chain"   "datagrams/s" \
    --series udp-dw1    "UDP, dronewall 1 drone"             "datagrams/s" \
    --series udp-dw1000 "UDP, dronewall 1000 drones"         "datagrams/s" \
    --series tcp-none   "new TCP, no ruleset"                "conn/s" \
    --series tcp-ct     "new TCP, conntrack only"            "conn/s" \
    --series tcp-ctnat  "new TCP, conntrack + empty nat chain" "conn/s" \
    --series tcp-dw1    "new TCP, dronewall 1 drone"         "conn/s" \
    --series tcp-dw1000 "new TCP, dronewall 1000 drones"     "conn/s" \
    --compare udp-dw1 udp-ct ">=0.95" "(established flows)" \
    --compare tcp-dw1 tcp-ct ">=0.8" "(new connections)" \
    --compare udp-dw1000 udp-dw1 "~0.05" "(flat in drones)" \
    --compare tcp-dw1000 tcp-dw1 "~0.05" "(flat in drones)" \
    --compare udp-dw1 udp-ctnat "-" "(ours beyond the nat hook)" \
    --compare tcp-dw1 tcp-ctnat "-" "(ours beyond the nat hook)" \
    --compare udp-ctnat udp-ct "-" "(the nat hook's own cost)" \
    --compare tcp-ctnat tcp-ct "-" "(the nat hook's own cost)" \
    --compare udp-ct udp-none "-" "(conntrack's own cost)" \
    --compare tcp-ct tcp-none "-" "(conntrack's own cost)"
echo "not yet measured: iptables + ipset with the same 1000-drone policy (target: never slower);"
echo "the 1000-drone case without a 100k-network catalogue and 100k learned addresses (issue 12 #1)."
