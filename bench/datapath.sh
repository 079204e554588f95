#!/usr/bin/env bash
# Benchmark: what a drone's traffic pays for crossing the station with dronewall in force, next
# to conntrack alone and to iptables + ipset enforcing the same policy.
#
#   drone ns (192.0.2.2,        --veth-- station ns (forwards; the  --veth-- cloud ns (198.51.100.2,
#             2001:db8:fd00::2)           ruleset under test)                 203.0.113.10, 2001:db8:fc00::10)
#
# Each case gets its own three namespaces, set up once (so a 100k-element case is loaded once,
# not every round); the cases are then measured in turn, round by round, the starting case
# rotating, so load from other work falls on every case. Per case and round, with conntrack
# emptied first: (a) small-packet UDP forwarding rate on established flows (SENDERS flows, each
# made established in conntrack by one answered datagram, then flooded with 18-byte datagrams by
# sendmmsg; counted where they arrive, at the cloud's prerouting hook, where a raw-priority rule
# drops them); (b) new TCP connections per second (WORKERS loops of connect + close with RST;
# each one a new flow through the station); for the cases in UDP6_CASES, (a) and (b) over IPv6; for the
# cases in BULK_CASES, bulk TCP throughput of one iperf3 stream.
#
# Cases (CASES):
#   none      no ruleset
#   ct        conntrack only (one table, one `ct state established accept` rule)
#   ctnat     the same plus an empty nat prerouting chain (dronewall's DNS redirect needs one, and a
#             nat hook gives every new flow a NAT binding: the kernel's share)
#   dw1       dronewall, the measured drone alone (local-data), shipped catalogue
#   dw1g      dw1 with the drone's chain restructured by hand as a proposal for the compiler: one
#             guard rule per reason (reverse path, untracked, mapped, DNS bypass, blocked category
#             bits) going to a chain with that reason's log and drop rules, so an allowed new flow
#             passes ~8 rules of the drone's chain instead of ~50 (not in the defaults)
#   dw1000    dronewall, 1000 drones (bench/gen_config.py) with the measured drone among them
#             (the MEASURED_AT-th, default the middle), shipped catalogue
#   dwfleet   dw1000's config with a NETWORKS-network catalogue (bench/gen_catalogue.py, beside the
#             shipped one) and LEARNED addresses in learned_v4 (default 100k each): the measured
#             drone's lookups run against fleet-sized maps
#   ipt1000   iptables + ipset enforcing dwfleet's policy, written by hand (bench/ipt_policy.py
#             describes the design), through iptables-nft (what Debian's `iptables` alternative
#             points to by default: xtables rules translated into nf_tables)
#   ipt1000l  the same through iptables-legacy (the x_tables path sysadmins compare with)
# Every address is a documentation address in namespaces this script creates and removes (also
# when it fails); the generated catalogue's 10.x networks and the learned 172.16.x addresses
# are set elements only, never a destination. Root only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-5}"
UDP_SECONDS="${UDP_SECONDS:-1.5}"
TCP_SECONDS="${TCP_SECONDS:-1.5}"
BULK_SECONDS="${BULK_SECONDS:-1}"
SENDERS="${SENDERS:-$(nproc)}"
WORKERS="${WORKERS:-4}"
CASES="${CASES:-ct ctnat dw1 dwfleet ipt1000 ipt1000l}"
UDP6_CASES="${UDP6_CASES-ct dwfleet}"
BULK_CASES="${BULK_CASES-ct dw1 dwfleet}"
NETWORKS="${NETWORKS:-100000}"
LEARNED="${LEARNED:-100000}"
MEASURED_AT="${MEASURED_AT:-500}"
PROFILE="${PROFILE:-}"
[ "$(id -u)" = 0 ] || { echo "bench needs root (network namespaces)"; exit 77; }
has() { [[ " $1 " == *" $2 "* ]]; }
want() { has "$CASES" "$1"; }

APT_INSTALLED=()
need() { # need COMMAND PACKAGE: installs PACKAGE when COMMAND is missing
    command -v "$1" >/dev/null || { apt-get install -y -qq "$2" >/dev/null; APT_INSTALLED+=("$2"); }
}
need gcc gcc; need conntrack conntrack
[ -z "$BULK_CASES" ] || need iperf3 iperf3
[ -z "$PROFILE" ] || need perf linux-perf
if want ipt1000 || want ipt1000l; then need iptables-nft-restore iptables; need ipset ipset; fi
echo "apt installs by this benchmark: ${APT_INSTALLED[*]:-none}"
if want ipt1000 || want ipt1000l; then
    echo "iptables: $(iptables-nft --version); Debian's iptables alternative points to $(readlink -f "$(command -v iptables)")"
fi
# DRONEWALL=path measures another build of dronewall (default: this tree's release build).
if [ -z "${DRONEWALL:-}" ]; then swift build -c release --product dronewall 2>&1 | tail -1 >&2; fi
DW=${DRONEWALL:-$PWD/.build/release/dronewall}
ID=$$; TMP=$(mktemp -d); NAMESPACES=(); IPT_NAMESPACES=()
cleanup() {
    # Rules before sets (a set a rule refers to cannot be destroyed); the namespace's end would
    # free both, this says so.
    for ns in "${IPT_NAMESPACES[@]}"; do
        for tb in filter nat mangle; do
            for t in iptables-nft iptables-legacy; do ip netns exec "$ns" $t -t $tb -F 2>/dev/null; ip netns exec "$ns" $t -t $tb -X 2>/dev/null; done
        done
        ip netns exec "$ns" ipset destroy 2>/dev/null
    done
    for ns in "${NAMESPACES[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
        ip netns exec "$ns" nft flush ruleset 2>/dev/null
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT; trap "exit 130" INT TERM
gcc -O2 -Wall -o "$TMP/dpload" bench/dpload.c
LOAD="$TMP/dpload"
TARGET=203.0.113.10; TARGET6=2001:db8:fc00::10

d_ns() { echo "dwdp-d-$1-$ID"; }; s_ns() { echo "dwdp-s-$1-$ID"; }; c_ns() { echo "dwdp-c-$1-$ID"; }

lab() { # the three namespaces of case $1, with the cloud's sink and servers
    local D S C; D=$(d_ns "$1"); S=$(s_ns "$1"); C=$(c_ns "$1")
    for ns in "$D" "$S" "$C"; do ip netns add "$ns"; NAMESPACES+=("$ns"); ip -n "$ns" link set lo up; done
    ip link add eth0 netns "$D" type veth peer name d0 netns "$S"
    ip link add u0 netns "$S" type veth peer name eth0 netns "$C"
    ip -n "$D" addr add 192.0.2.2/24 dev eth0; ip -n "$D" addr add 2001:db8:fd00::2/64 dev eth0 nodad
    ip -n "$D" link set eth0 up
    ip -n "$D" route add default via 192.0.2.1; ip -n "$D" -6 route add default via 2001:db8:fd00::1
    ip -n "$S" addr add 192.0.2.1/24 dev d0; ip -n "$S" addr add 2001:db8:fd00::1/64 dev d0 nodad
    ip -n "$S" addr add 198.51.100.1/24 dev u0; ip -n "$S" addr add 2001:db8:fe00::1/64 dev u0 nodad
    ip -n "$S" link set d0 up; ip -n "$S" link set u0 up
    ip -n "$S" route add 203.0.113.0/24 via 198.51.100.2; ip -n "$S" -6 route add 2001:db8:fc00::/64 via 2001:db8:fe00::2
    ip netns exec "$S" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    ip -n "$C" addr add 198.51.100.2/24 dev eth0; ip -n "$C" addr add 2001:db8:fe00::2/64 dev eth0 nodad
    ip -n "$C" link set eth0 up
    ip -n "$C" addr add 203.0.113.10/32 dev lo; ip -n "$C" addr add 2001:db8:fc00::10/128 dev lo
    ip -n "$C" route add 192.0.2.0/24 via 198.51.100.1; ip -n "$C" -6 route add 2001:db8:fd00::/64 via 2001:db8:fe00::1
    # Many short connections: all ephemeral ports, and a deep accept queue.
    ip netns exec "$D" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
    ip netns exec "$C" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192
    # The cloud counts and drops the flood before its sockets (no conntrack there: no ct rule).
    ip netns exec "$C" nft -f - <<'NFT'
table inet dwsink {
    counter rx { }
    chain pre { type filter hook prerouting priority -300; policy accept;
        udp dport 9000 udp length != 9 counter name rx drop
    }
}
NFT
    ip netns exec "$C" "$LOAD" echo "$TARGET" 9000 </dev/null >/dev/null 2>&1 & disown
    ip netns exec "$C" "$LOAD" echo "$TARGET6" 9000 </dev/null >/dev/null 2>&1 & disown
    ip netns exec "$C" "$LOAD" listen 8080 2 </dev/null >/dev/null 2>&1 & disown
    if has "$BULK_CASES" "$1"; then ip netns exec "$C" iperf3 -s -B "$TARGET" -p 5201 -D >/dev/null 2>&1 || true; fi
}

# The posture `dronewall check` recommends: the uplink named, every other link drone territory.
cat > "$TMP/bench-drone.conf" <<'CONF'
[drone bench]
address = 192.0.2.2 2001:db8:fd00::2
policy = local-data

CONF
printf '[station]\nuplink-interfaces = u0\n\n' | cat - "$TMP/bench-drone.conf" > "$TMP/dw1.conf"
# 1000 generated drones with the measured one the MEASURED_AT-th: dronewall's cost does not
# depend on the place, iptables' dispatch walks the drones before it.
python3 bench/gen_config.py 1000 | sed 's/^drone-interfaces = .*/uplink-interfaces = u0/' |
    awk -v at="$(printf 'd%04d' "$MEASURED_AT")" -v f="$TMP/bench-drone.conf" \
        '$0 == "[drone " at "]" { while ((getline l < f) > 0) print l } { print }' > "$TMP/fleet.conf"
grep -q '^\[drone bench\]' "$TMP/fleet.conf" || cat "$TMP/bench-drone.conf" >> "$TMP/fleet.conf"
if want dwfleet || want ipt1000 || want ipt1000l; then
    mkdir -p "$TMP/catalogue"
    python3 bench/gen_catalogue.py "$NETWORKS" > "$TMP/catalogue/bench.rules"
    python3 bench/ipt_policy.py learned "$LEARNED" > "$TMP/learned.nft"
fi

dw_apply() { # dw_apply NS CONFIG CATALOGUE-DIR...: gen_config's drones draw one warning each (an
             # allow with no effect), shown only on failure
    local ns=$1 conf=$2; shift 2
    local args=() dir; for dir in "$@"; do args+=(--catalogue "$dir"); done
    ip netns exec "$ns" "$DW" apply --config "$conf" "${args[@]}" >/dev/null 2>"$TMP/apply.err" ||
        { tail -20 "$TMP/apply.err"; exit 1; }
}
endpoints_json() { # the big catalogue's endpoints_v4 as dronewall compiles it, once, for the ipsets
    [ -s "$TMP/endpoints.json" ] && return
    local ns=$1
    if ! ip netns exec "$ns" nft list table inet dronewall >/dev/null 2>&1; then
        dw_apply "$ns" "$TMP/dw1.conf" "$TMP/catalogue" rules/vendors
        ip netns exec "$ns" nft -j list map inet dronewall endpoints_v4 > "$TMP/endpoints.json"
        ip netns exec "$ns" nft delete table inet dronewall
    else
        ip netns exec "$ns" nft -j list map inet dronewall endpoints_v4 > "$TMP/endpoints.json"
    fi
}

guard_drone_chain() { # guard_drone_chain NS DRONE: dw1g's restructure of a local-data drone's chain
    local ns=$1 d=$2 chain="drone_$2" blocked
    ip netns exec "$ns" nft list chain inet dronewall "$chain" > "$TMP/chain.nft"
    blocked=$(awk '/ct mark & 0x[0-9a-f]+ != 0x00000000 drop/ {print $4}' "$TMP/chain.nft")
    { # each reason's log rules move, as they are, into a chain of their own, followed by the drop
      for r in reverse-path untracked mapped-address dns-bypass category; do
          echo "add chain inet dronewall ${d}_$r"
          if [ $r = category ]; then grep 'log prefix' "$TMP/chain.nft" | grep -vE 'cat=(reverse-path|untracked|mapped-address|dns-bypass) '
          else grep "cat=$r " "$TMP/chain.nft"; fi | sed "s/^[[:space:]]*/add rule inet dronewall ${d}_$r /"
          echo "add rule inet dronewall ${d}_$r drop"
      done
      echo "flush chain inet dronewall $chain"
      for rule in "fib saddr . iif oif missing goto ${d}_reverse-path" "ct state invalid,untracked goto ${d}_untracked" \
                  "ip6 daddr ::ffff:0:0/96 goto ${d}_mapped-address" "jump classify" \
                  "meta l4proto . th dport { udp . 53, tcp . 53, tcp . 853, udp . 853 } goto ${d}_dns-bypass" \
                  "ct mark & 0x00000800 == 0x00000800 goto ${d}_dns-bypass" \
                  "ct mark & $blocked != 0 goto ${d}_category" "goto accept_flow"; do
          echo "add rule inet dronewall $chain $rule"
      done; } > "$TMP/guarded.nft"
    ip netns exec "$ns" nft -f "$TMP/guarded.nft"
}

set_case() { # the station's ruleset for case $1, once
    local S; S=$(s_ns "$1")
    case $1 in
        none) ;;
        ct) ip netns exec "$S" nft -f - <<'NFT' ;;
table inet dwbench {
    chain forward { type filter hook forward priority 0; policy accept;
        ct state established accept
    }
}
NFT
        ctnat) ip netns exec "$S" nft -f - <<'NFT' ;;
table inet dwbench {
    chain forward { type filter hook forward priority 0; policy accept;
        ct state established accept
    }
    chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
}
NFT
        dw1) dw_apply "$S" "$TMP/dw1.conf" rules/vendors ;;
        dw1g) dw_apply "$S" "$TMP/dw1.conf" rules/vendors; guard_drone_chain "$S" bench ;;
        dw1000) dw_apply "$S" "$TMP/fleet.conf" rules/vendors ;;
        dwfleet)
            dw_apply "$S" "$TMP/fleet.conf" "$TMP/catalogue" rules/vendors
            ip netns exec "$S" nft -f "$TMP/learned.nft"
            endpoints_json "$S" ;;
        ipt1000|ipt1000l)
            endpoints_json "$S"; IPT_NAMESPACES+=("$S")
            [ -s "$TMP/ipt.rules" ] || python3 bench/ipt_policy.py write "$TMP/fleet.conf" "$TMP/endpoints.json" \
                "$LEARNED" "$TMP/ipsets" "$TMP/ipt.rules"
            ip netns exec "$S" ipset restore < "$TMP/ipsets"
            local restore=iptables-nft-restore; [ "$1" = ipt1000l ] && restore=iptables-legacy-restore
            ip netns exec "$S" $restore < "$TMP/ipt.rules" ;;
        *) echo "unknown case $1"; exit 1 ;;
    esac
}
check_path() { # one connection of the measured drone must have passed its own chain's accept
    local S; S=$(s_ns "$1")
    ip netns exec "$(d_ns "$1")" "$LOAD" conn "$TARGET" 8080 0.2 1 >/dev/null
    case $1 in
        dw*) # accept_flow stamps the generation into the upper half of the conntrack mark
            ip netns exec "$S" conntrack -L -p tcp --dport 8080 2>/dev/null |
                awk '{for (i = 1; i <= NF; i++) if ($i ~ /^mark=/ && substr($i, 6) + 0 >= 65536) ok = 1} END {exit !ok}' ;;
        ipt*) ip netns exec "$S" iptables-nft -L dw-bench -v -x -n 2>/dev/null | awk '$3 == "ACCEPT" && $1 > 0 {ok = 1} END {exit !ok}' ||
              ip netns exec "$S" iptables-legacy -L dw-bench -v -x -n 2>/dev/null | awk '$3 == "ACCEPT" && $1 > 0 {ok = 1} END {exit !ok}' ;;
        *) true ;;
    esac || { echo "datapath: in case $1 the measured drone's flow did not pass its chain; the benchmark is broken"; exit 1; }
}
per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%d\n", n / s }'; }
rx() { ip netns exec "$(c_ns "$1")" nft list counter inet dwsink rx | awk '/packets/ {print $2}'; }
udp_rate() { # udp_rate CASE TARGET: datagrams/s that reached the cloud
    local before; before=$(rx "$1")
    ip netns exec "$(d_ns "$1")" "$LOAD" udp "$2" 9000 "$UDP_SECONDS" "$SENDERS" >/dev/null
    per_second $(( $(rx "$1") - before )) "$UDP_SECONDS"
}
flush_ct() { ip netns exec "$(s_ns "$1")" conntrack -F >/dev/null 2>&1 || true; }

echo "cases: $CASES; $ROUNDS rounds; UDP: $SENDERS flows, ${UDP_SECONDS}s (UDP and new TCP over IPv6 too: $UDP6_CASES);" \
     "TCP: $WORKERS connect loops, ${TCP_SECONDS}s; bulk TCP (iperf3, 1 stream, ${BULK_SECONDS}s): $BULK_CASES"
echo "1000 drones: the measured drone is number $((MEASURED_AT + 1)) of 1001. dronewall fleet: 1000 drones, $NETWORKS generated"
echo "catalogue networks, $LEARNED learned addresses; iptables + ipset: the same policy and sets, by hand (ipt_policy.py)"
cases=($CASES)
# dwfleet first: the iptables cases take their ipsets from its endpoint map.
for c in dwfleet "${cases[@]}"; do
    want "$c" && [ ! -e "$TMP/set-$c" ] || continue
    start=$(date +%s); lab "$c"; set_case "$c"; check_path "$c"; touch "$TMP/set-$c"
    echo "  set up $c in $(( $(date +%s) - start )) s" >&2
done
if [ -n "${VERBOSE:-}" ] && want dw1; then ip netns exec "$(s_ns dw1)" nft list table inet dronewall | head -40; fi
for round in $(seq "$ROUNDS"); do
    for k in "${!cases[@]}"; do
        c=${cases[$(( (k + round) % ${#cases[@]} ))]}
        flush_ct "$c"; pps=$(udp_rate "$c" "$TARGET")
        cps=$(per_second "$(ip netns exec "$(d_ns "$c")" "$LOAD" conn "$TARGET" 8080 "$TCP_SECONDS" "$WORKERS")" "$TCP_SECONDS")
        echo "udp-$c $pps" >> "$TMP/samples"; echo "tcp-$c $cps" >> "$TMP/samples"
        more=""
        if has "$UDP6_CASES" "$c"; then
            flush_ct "$c"; pps6=$(udp_rate "$c" "$TARGET6")
            echo "udp6-$c $pps6" >> "$TMP/samples"; more+=" $pps6 IPv6 datagrams/s"
            flush_ct "$c"
            cps6=$(per_second "$(ip netns exec "$(d_ns "$c")" "$LOAD" conn "$TARGET6" 8080 "$TCP_SECONDS" "$WORKERS")" "$TCP_SECONDS")
            echo "tcp6-$c $cps6" >> "$TMP/samples"; more+=" $cps6 IPv6 connections/s"
            if [ "$pps6" = 0 ] || [ "$cps6" = 0 ]; then
                echo "datapath: case $c forwarded no IPv6; the benchmark is broken, not slow"; exit 1
            fi
        fi
        if has "$BULK_CASES" "$c"; then
            flush_ct "$c"
            mbps=$(ip netns exec "$(d_ns "$c")" iperf3 -c "$TARGET" -p 5201 -t "$BULK_SECONDS" -J |
                   python3 -c 'import json, sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))')
            echo "bulk-$c $mbps" >> "$TMP/samples"; more+=" $mbps Mbit/s bulk"
        fi
        printf '  round %s %-8s %10s datagrams/s %8s connections/s%s\n' "$round" "$c" "$pps" "$cps" "$more" >&2
        if [ "$pps" = 0 ] || [ "$cps" = 0 ]; then
            echo "datapath: case $c forwarded nothing; the benchmark is broken, not slow"; exit 1
        fi
    done
done

# PROFILE="case ...": after the rounds, each case's UDP flood, new-TCP load and (BULK_CASES) bulk
# TCP once more under `perf record -a` (cpu-clock samples where the machine has no hardware
# counters), and the CPU time per datagram, per connection and per megabyte of the load's
# processes (sender, servers, and the station's forwarding, which veth runs in the sender's
# softirq), by where it goes: conntrack, NAT, the ruleset (nf_tables or x_tables with their
# matches and sets), the rest.
# CPU time per packet is less moved by other work on the machine than packets per second.
# PROFILE_DIR=dir keeps the perf reports.
profile() { # profile CASE udp|tcp|bulk
    local c=$1 kind=$2 hz=2000 n before scale
    flush_ct "$c"
    if [ "$kind" = bulk ]; then
        n=$(perf record -q -a -F $hz -o "$TMP/perf.data" -- ip netns exec "$(d_ns "$c")" \
            iperf3 -c "$TARGET" -p 5201 -t "$BULK_SECONDS" -J 2>/dev/null |
            python3 -c 'import json, sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bytes"] / 1e6))')
        scale=1e6   # µs per megabyte
    elif [ "$kind" = tcp ]; then
        n=$(perf record -q -a -F $hz -o "$TMP/perf.data" -- \
            ip netns exec "$(d_ns "$c")" "$LOAD" conn "$TARGET" 8080 "$TCP_SECONDS" "$WORKERS" 2>/dev/null)
        scale=1e6   # µs per connection
    else
        before=$(rx "$c")
        perf record -q -a -F $hz -o "$TMP/perf.data" -- \
            ip netns exec "$(d_ns "$c")" "$LOAD" udp "$TARGET" 9000 "$UDP_SECONDS" "$SENDERS" >/dev/null 2>&1
        n=$(( $(rx "$c") - before )); scale=1e9   # ns per datagram
    fi
    perf report -i "$TMP/perf.data" --stdio -n --no-children --sort sym --comms dpload,iperf3,ksoftirqd/0,ksoftirqd/1 \
        2>/dev/null > "$TMP/perf-$kind-$c.txt"
    awk -v per="$scale / $hz / $n" -v n="$n" -v label="$c" '
        BEGIN { split(per, p, " / "); per = p[1] / p[2] / p[3] }
        /^ +[0-9.]+%/ { k = $2; sym = $NF; total += k
            if (sym ~ /^(nf_nat|nft_nat|__nf_nat|nf_conntrack_tuple_taken|redirect)/) nat += k
            else if (sym ~ /^(nf_conntrack|__nf_conntrack|nf_ct_|__nf_ct|hash_conntrack|ipv4_confirm|nf_confirm|tcp_in_window|nf_tcp_)/) ct += k
            else if (sym ~ /^(nft_|__nft_|nf_tables|ipt_do_table|ip_packet_match|xt_|ip_set|hash_net|hash_ip|mac_mt|conntrack_mt|set_match|rpfilter|hashlimit|nf_log|nfulnl|mtype_)/) {
                rules += k; if (k > top_n) { top_n = k; top = sym } }
            else rest += k }
        END { printf "| %-8s | %9d | %9.1f | %9.1f | %9.1f | %9.1f | %9.1f | %s\n",
                     label, n, total * per, ct * per, nat * per, rules * per, rest * per, top }' "$TMP/perf-$kind-$c.txt"
    if [ -n "${PROFILE_DIR:-}" ]; then mkdir -p "$PROFILE_DIR"; cp "$TMP/perf-$kind-$c.txt" "$PROFILE_DIR/"; fi
}

# Only the series and comparisons of the cases that ran.
label_none="no ruleset"; label_ct="conntrack only"; label_ctnat="conntrack + empty nat chain"
label_dw1="dronewall 1 drone"; label_dw1g="dronewall 1 drone, guarded chain"; label_dw1000="dronewall 1000 drones"
label_dwfleet="dronewall fleet"; label_ipt1000="iptables-nft + ipset"; label_ipt1000l="iptables-legacy + ipset"
args=()
measured() { grep -q "^$1 " "$TMP/samples"; }
label() { local kind=${1%%-*} c=${1#*-} v; v="label_$c"
    case $kind in udp) echo "UDP, ${!v}" ;; udp6) echo "UDP/IPv6, ${!v}" ;; tcp) echo "new TCP, ${!v}" ;;
                  tcp6) echo "new TCP/IPv6, ${!v}" ;; bulk) echo "bulk TCP, ${!v}" ;; esac; }
for kind in udp:datagrams/s udp6:datagrams/s tcp:conn/s tcp6:conn/s bulk:Mbit/s; do
    for c in none ct ctnat dw1 dw1g dw1000 dwfleet ipt1000 ipt1000l; do
        measured "${kind%%:*}-$c" && args+=(--series "${kind%%:*}-$c" "$(label "${kind%%:*}-$c")" "${kind#*:}")
    done
done
compare() { # compare A B TARGET NOTE, for each kind of measurement both sides have
    for kind in udp udp6 tcp tcp6 bulk; do
        local t=$3
        # New connections have their own target (>= 0.8x conntrack only); the rest are per packet.
        [ "${kind%6}" = tcp ] && [ "$t" = ">=0.95" ] && t=">=0.8"
        measured "$kind-$1" && measured "$kind-$2" && args+=(--compare "$kind-$1" "$kind-$2" "$t" "$4")
    done
    return 0
}
compare dw1 ct ">=0.95" "(dronewall vs conntrack only)"
compare dwfleet ct ">=0.95" "(dronewall vs conntrack only)"
compare dwfleet dw1 "~0.05" "(flat in drones and endpoints)"
compare dwfleet ipt1000 ">=1.0" "(never slower than iptables + ipset)"
compare dwfleet ipt1000l ">=1.0" "(never slower than iptables + ipset)"
compare dw1g dw1 "-" "(the drone chain restructured by hand)"
compare dw1000 dw1 "-" "(drones alone)"
compare dwfleet dw1000 "-" "(networks and learned addresses alone)"
compare dw1 ctnat "-" "(ours beyond the nat hook)"
compare ctnat ct "-" "(the nat hook's own cost)"
compare ct none "-" "(conntrack's own cost)"
compare ipt1000 ipt1000l "-" "(iptables-nft vs legacy)"
echo
python3 bench/summarize.py "$TMP/samples" "${args[@]}"
if [ -n "$PROFILE" ]; then
    for kind in udp tcp bulk; do
        if [ $kind = bulk ]; then # only the cases that run iperf3
            any=; for c in $PROFILE; do has "$BULK_CASES" "$c" && any=1; done; [ -n "$any" ] || continue
        fi
        echo
        case $kind in
            udp) echo "CPU time per UDP datagram on an established flow (ns; perf samples at 2 kHz over ${UDP_SECONDS}s):" ;;
            tcp) echo "CPU time per new TCP connection (µs; perf samples at 2 kHz over ${TCP_SECONDS}s):" ;;
            bulk) echo "CPU time per megabyte of bulk TCP (µs; count in MB; perf samples at 2 kHz over ${BULK_SECONDS}s):" ;;
        esac
        echo "| case     |     count |     total | conntrack |       nat |   ruleset |      rest | ruleset's top symbol"
        echo "|----------|-----------|-----------|-----------|-----------|-----------|-----------|---------------------"
        for c in $PROFILE; do
            [ $kind != bulk ] || has "$BULK_CASES" "$c" || continue
            profile "$c" $kind
        done
    done
fi
