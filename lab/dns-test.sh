#!/usr/bin/env bash
# Root lab tests of the station resolver: drones resolve through the station (whatever server
# they address) against a real DNS server (dnsmasq) in the cloud namespace that serves vendor
# names at addresses no catalogue lists. Checks per-drone sinkholing, learning before
# answering, allow-host by name, names in reports, bypasses (DoT, public resolvers), re-apply,
# expiry and refresh, the resolve-then-connect race, malformed upstream answers, and answers too
# large for UDP (asked again over TCP upstream).
# Prints "dns: N passed, N failed" last; exits non-zero on any failure.
set -u
LAB_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$LAB_DIR/.." && pwd)"
DW="${DRONEWALL:-$ROOT/.build/debug/dronewall}"
DWD="${DRONEWALLD:-$(dirname "$DW")/dronewalld}"
# shellcheck source=checks.sh
. "$LAB_DIR/checks.sh"

if [ "$(id -u)" != 0 ]; then
    echo "dns lab tests skipped: they need root (network namespaces and nftables); CI runs them as root"
    echo "dns: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
for tool in ip nft python3 dnsmasq conntrack; do
    command -v "$tool" >/dev/null || { echo "dns lab tests need '$tool' (scripts/packages.txt)"; exit 1; }
done

. "$LAB_DIR/topology.sh"
TMP=$(mktemp -d /tmp/dw-dns-XXXXXX)
cleanup() {
    [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    lab_down
    ip netns delete "dw-fresh-$LAB_ID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
CAT=(--catalogue "$ROOT/rules/vendors" --catalogue "$LAB_DIR/vendors.d")
ANY_SERVER=203.0.113.53   # an address no DNS server has: the station must answer anyway

lab_up
BIG=$(for i in $(seq 0 59); do echo "198.51.100.$((130 + 2 * i))"; done)  # apart: no set merges them
# Vendor names at addresses in no catalogue network; the race names in two AnyIP ranges.
for a in 110 112 113 114 115 117 118 119; do lab_ns "$LAB_CLOUD" ip addr add "198.51.100.$a/24" dev eth0; done
lab_ns "$LAB_CLOUD" ip addr add 198.51.100.3/24 dev eth0
lab_ns "$LAB_CLOUD" ip -6 addr add 2001:db8:e::110/128 dev lo nodad
lab_ns "$LAB_CLOUD" ip -6 route add local 2001:db8:e::2:0/112 dev lo
lab_ns "$LAB_CLOUD" ip -6 route add local 2001:db8:e::3:0/112 dev lo
{
    echo "198.51.100.110 flysafe-api.dji.com"
    echo "2001:db8:e::110 flysafe-api.dji.com"
    echo "198.51.100.112 dl.djicdn.com"
    echo "198.51.100.113 tiles.example.org"
    echo "198.51.100.114 www.example.org"
    echo "198.51.100.115 dns.google"
    echo "198.51.100.117 mydjiflight.dji.com"
    echo "198.51.100.118 fw-cache.djicdn.com"
    echo "198.51.100.119 live.example.org"          # one address, two names: first seen as
    echo "198.51.100.119 telemetry-relay.dji.com"   # nobody's, later learned as DJI's
    for i in $(seq 500); do printf '2001:db8:e::2:%x race-%d.flysafe-api.dji.com\n' "$i" "$i"; done
    for i in $(seq 50); do printf '2001:db8:e::3:%x race-%d.example.org\n' "$i" "$i"; done
    for a in $BIG; do echo "$a big.example.org"; done  # an answer larger than 512 bytes
} > "$TMP/hosts"
ip netns exec "$LAB_CLOUD" dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$TMP/hosts" \
    --local-ttl=2 --listen-address=198.51.100.2 --bind-interfaces --user=root --pid-file="$TMP/dnsmasq.pid" \
    --log-queries --log-facility="$TMP/upstream-queries.log" \
    --cname=alias.example.net,flysafe-api.dji.com >"$TMP/dnsmasq.log" 2>&1 &
# DoT listener: something answers on 853, so only the station can make it fail.
ip netns exec "$LAB_CLOUD" python3 "$LAB_DIR/tcp_probe.py" listen 853 </dev/null >/dev/null 2>&1 &

start_daemon() { # start_daemon CONFIG: returns once this daemon (not an earlier one) resolves
    local before
    before=$(grep -c "resolving names" "$TMP/daemon.log" 2>/dev/null) || before=0
    # ip netns exec itself (not a shell function) in the background, so $! is the daemon.
    ip netns exec "$LAB_STATION" "$DWD" --config "$1" "${CAT[@]}" --db "$TMP/flows.db" --group root \
        >>"$TMP/daemon.log" 2>&1 &
    DAEMON=$!
    for _ in $(seq 100); do
        [ "$(grep -c "resolving names" "$TMP/daemon.log" 2>/dev/null)" -gt "$before" ] && return
        sleep 0.1
    done
    fail "dronewalld did not start its resolver: $(tail -3 "$TMP/daemon.log")"
}
stop_daemon() { kill -TERM "$DAEMON"; wait "$DAEMON"; DAEMON=; }
q() { # q DRONE NAME [TYPE] [tcp] [SERVER] -> "RCODE addr..."
    lab_ns "dw-$1-$LAB_ID" python3 "$LAB_DIR/dns_probe.py" query "${5:-$ANY_SERVER}" "$2" "${3:-A}" "${4:-}"
}
port_open() { lab_ns "dw-$1-$LAB_ID" python3 "$LAB_DIR/tcp_probe.py" connect "$2" "$3"; }
learned() { # learned SET: the global learned maps are maps, the drones' host sets are sets
    case $1 in learned_*) lab_ns "$LAB_STATION" nft list map inet dronewall "$1" ;;
               *) lab_ns "$LAB_STATION" nft list set inet dronewall "$1" ;; esac
}

for _ in $(seq 50); do lab_ns "$LAB_STATION" python3 "$LAB_DIR/dns_probe.py" query 198.51.100.2 www.example.org \
    | grep -q NOERROR && break; sleep 0.1; done
cp "$LAB_DIR/dns.conf" "$TMP/dns.conf"   # a copy: the reload check below edits it
start_daemon "$TMP/dns.conf"

# --- names decide, per drone ---
expect "alpha (dns-strict) cannot reach an address the station never answered it" closed \
    "$(port_open alpha 198.51.100.114 443)"
expect "... delta (not strict) can" open "$(port_open delta 198.51.100.114 443)"
expect "alpha resolves a name no catalogue knows" "NOERROR 198.51.100.114" "$(q alpha www.example.org)"
expect "... and then reaches it" open "$(port_open alpha 198.51.100.114 443)"
learned drone_alpha_resolved_dns_v4 | grep -q '198.51.100.114 .*comment "www.example.org"' \
    && ok "the answer went into alpha's resolved set first" || fail "drone_alpha_resolved_dns_v4: $(learned drone_alpha_resolved_dns_v4)"
expect "alpha (local-data) gets NXDOMAIN for a geofence name" NXDOMAIN "$(q alpha flysafe-api.dji.com)"
learned learned_v4 | grep -q '198.51.100.110 .*comment "flysafe-api.dji.com"' \
    && ok "the sinkholed name's address was learned anyway, with its name" || fail "learned_v4: $(learned learned_v4)"
expect "alpha cannot reach the address behind the sinkholed name (cached or hard-coded)" closed \
    "$(port_open alpha 198.51.100.110 443)"
expect "alpha resolves an allowed firmware name" "NOERROR 198.51.100.112" "$(q alpha dl.djicdn.com)"
expect "... and reaches it" open "$(port_open alpha 198.51.100.112 443)"
expect "AAAA of a blocked name: NXDOMAIN too" NXDOMAIN "$(q alpha flysafe-api.dji.com AAAA)"
learned learned_v6 | grep -q '2001:db8:e::110' && ok "the IPv6 answer was learned" || fail "learned_v6: $(learned learned_v6)"
expect "a CNAME to a vendor name is sinkholed" NXDOMAIN "$(q alpha alias.example.net)"
expect "over TCP as over UDP" "NOERROR 198.51.100.114" "$(q alpha www.example.org A tcp)"
# 60 addresses: the upstream truncates its UDP answer (512 bytes without EDNS), so the station
# asks again over TCP and learns the whole answer, whoever asked.
sorted() { local rc rest; read -r rc rest <<<"$1"; echo "$rc${rest:+ $(tr ' ' '\n' <<<"$rest" | sort -V | paste -sd' ')}"; }
expect "a drone asking over TCP gets all 60 addresses of an answer too large for UDP" \
    "NOERROR $(paste -sd' ' <<<"$BIG")" "$(sorted "$(q alpha big.example.org A tcp)")"
expect "... and all 60 went into alpha's resolved set" 60 \
    "$(learned drone_alpha_resolved_dns_v4 | grep -oE '198\.51\.100\.[0-9]+' | sort -u | grep -cxF "$BIG")"
expect "asking over UDP, it gets TC and no address (it asks again over TCP)" "NOERROR TC" "$(q alpha big.example.org)"
expect "queries to the real server's address are answered by the station too" NXDOMAIN \
    "$(q alpha flysafe-api.dji.com A "" 198.51.100.2)"

expect "bravo (allowlist) resolves its allow-host name" "NOERROR 198.51.100.113" "$(q bravo tiles.example.org)"
expect "... and reaches it: allowlist by name" open "$(port_open bravo 198.51.100.113 443)"
learned drone_bravo_allow_dns_v4 | grep -q 198.51.100.113 && ok "bravo's allow-host set learned the name's address" \
    || fail "drone_bravo_allow_dns_v4: $(learned drone_bravo_allow_dns_v4)"
expect "bravo (allowlist) gets NXDOMAIN for an unlisted name" NXDOMAIN "$(q bravo www.example.org)"
expect "... and cannot reach its address anyway" closed "$(port_open bravo 198.51.100.114 443)"
expect "bravo gets NXDOMAIN for a vendor name" NXDOMAIN "$(q bravo dl.djicdn.com)"

expect "delta (monitor) resolves a geofence name" "NOERROR 198.51.100.110" "$(q delta flysafe-api.dji.com)"
expect "... and reaches it" open "$(port_open delta 198.51.100.110 443)"

# --- a flow accepted before learning is examined again once its address is learned ---
# alpha (local-data: blocks DJI's cloud) and delta (monitor) stream to an address no one has
# classified yet; then a DJI name is answered with that address.
ip netns exec "$LAB_CLOUD" python3 "$LAB_DIR/tcp_probe.py" sink 9001 "$TMP/alpha-feed" </dev/null >/dev/null 2>&1 &
ip netns exec "$LAB_CLOUD" python3 "$LAB_DIR/tcp_probe.py" sink 9002 "$TMP/delta-feed" </dev/null >/dev/null 2>&1 &
lines() { wc -l < "$1" 2>/dev/null || echo 0; }
ct_marks() { # ct_marks SOURCE: the conntrack marks of SOURCE's flows to the feed address
    lab_ns "$LAB_STATION" conntrack -L -p tcp -s "$1" -d 198.51.100.119 2>/dev/null | grep -o 'mark=[0-9]*' | sort -u | tr '\n' ' '
}
gen_mark() { # the table's generation as conntrack prints a fast-path mark (decimal)
    echo "mark=$(( $(lab_ns "$LAB_STATION" nft list table inet dronewall | grep -o 'generation 0x[0-9a-f]*' | cut -d' ' -f2) << 16 ))"
}
expect "alpha resolves a name no catalogue knows yet" "NOERROR 198.51.100.119" "$(q alpha live.example.org)"
sleep 0.3
lab_ns "dw-alpha-$LAB_ID" python3 "$LAB_DIR/tcp_probe.py" stream 198.51.100.119 9001 12 &
lab_ns "dw-delta-$LAB_ID" python3 "$LAB_DIR/tcp_probe.py" stream 198.51.100.119 9002 12 &
sleep 2
expect "alpha's feed flows, accepted on the fast path (generation in the conntrack mark)" "$(gen_mark) " \
    "$(ct_marks 192.0.2.18)"
a1=$(lines "$TMP/alpha-feed"); d1=$(lines "$TMP/delta-feed")
[ "$a1" -gt 5 ] && [ "$d1" -gt 5 ] && ok "both feeds deliver ($a1 and $d1 lines)" || fail "feeds: alpha $a1, delta $d1 lines"
expect "then a DJI name answers with the feed's address (NXDOMAIN for alpha)" NXDOMAIN "$(q alpha telemetry-relay.dji.com)"
sleep 1
a2=$(lines "$TMP/alpha-feed"); d2=$(lines "$TMP/delta-feed")
sleep 2
a3=$(lines "$TMP/alpha-feed"); d3=$(lines "$TMP/delta-feed")
expect "alpha's feed stops once the address is learned as DJI's (lines after learning)" 0 "$((a3 - a2))"
[ "$((d3 - d2))" -gt 10 ] && ok "delta's feed (monitor) goes on: re-examined, not cut ($((d3 - d2)) lines)" \
    || fail "delta's feed: $((d3 - d2)) lines in 2 s"
marks=$(ct_marks 192.0.2.18)
[ -n "$marks" ] && [ "$marks" != "$(gen_mark) " ] && ok "conntrack: alpha's flow lost the generation from its mark ($marks)" \
    || fail "conntrack marks of alpha's flow: '$marks', generation $(gen_mark)"

# --- no way around ---
expect "alpha: DNS over TLS to port 853 fails" closed "$(port_open alpha 198.51.100.2 853)"
expect "bravo: DNS over TLS to port 853 fails" closed "$(port_open bravo 198.51.100.2 853)"
expect "a public DoH resolver's name is sinkholed" NXDOMAIN "$(q alpha dns.google)"
expect "... for monitor drones it resolves (recorded as would-block)" "NOERROR 198.51.100.115" "$(q delta dns.google)"
expect "the unknown device's DNS goes to the station too" NXDOMAIN "$(q unknown flysafe-api.dji.com)"
expect "an app on the station (user =) resolves through the station too (nat output path)" "NOERROR 198.51.100.114" \
    "$(lab_ns "$LAB_STATION" python3 "$LAB_DIR/dns_probe.py" query "$ANY_SERVER" www.example.org A "" "" 4242)"

# --- the resolver answers only dronewall's own redirect: another table's port forward from the
# uplink to a drone's resolver port (a DNAT, like the redirect) must not get answers as that drone ---
alpha_port=$(lab_ns "$LAB_STATION" nft list chain inet dronewall dns_drone_alpha | grep -o 'redirect to :[0-9]*' \
    | head -1 | cut -d: -f2)
lab_ns "$LAB_STATION" nft -f - <<NFT
table inet dw_portfwd {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "dw-up" udp dport 5300 counter dnat ip to 198.51.100.1:$alpha_port
        iifname "dw-up" tcp dport 5300 counter dnat ip to 198.51.100.1:$alpha_port
    }
}
NFT
fwd() { lab_ns "$LAB_CLOUD" python3 "$LAB_DIR/dns_probe.py" query 198.51.100.1 www.example.org A "${1:-}" 5300; }
expect "a query the uplink port-forwards to alpha's resolver port (UDP) gets no answer" TIMEOUT "$(fwd)"
expect "... nor over TCP" TIMEOUT "$(fwd tcp)"
fwd_packets=$(lab_ns "$LAB_STATION" nft list chain inet dw_portfwd prerouting | grep -o 'packets [0-9]*' \
    | awk '{ n += $2 } END { print n + 0 }')
[ "$fwd_packets" -ge 2 ] && ok "... though the port forward did forward them ($fwd_packets packets)" \
    || fail "the port forward counted $fwd_packets packets: the check above proves nothing"
lab_ns "$LAB_STATION" nft delete table inet dw_portfwd
expect "alpha's own queries are still answered" "NOERROR 198.51.100.114" "$(q alpha www.example.org)"

# --- a query name is data: isolate and allowlist keep it on the station ---
leak="x$RANDOM$RANDOM.tunnel.example.org"
expect "an unknown device (isolate) gets a local NXDOMAIN for a name no one lists" NXDOMAIN "$(q unknown "u-$leak")"
expect "bravo (allowlist) gets a local NXDOMAIN for it too" NXDOMAIN "$(q bravo "b-$leak")"
expect "alpha (local-data) still resolves names through the upstream" "NOERROR 198.51.100.114" "$(q alpha www.example.org)"
sleep 0.5
grep -q "query\[A\] www.example.org" "$TMP/upstream-queries.log" && ok "the upstream logs the queries it gets" \
    || fail "no query log from the upstream: $(tail -3 "$TMP/upstream-queries.log" 2>&1)"
grep -q "$leak" "$TMP/upstream-queries.log" && fail "the upstream saw a name isolate or allowlist may not send: \
$(grep "$leak" "$TMP/upstream-queries.log")" || ok "the upstream never saw the names isolate and allowlist may not send"

# --- names in reports and in explain ---
sleep 2 # one flush
json=$("$DW" report --db "$TMP/flows.db" --since 1h --format json 2>/dev/null)
has() { echo "$json" | python3 -c "
import json, sys
rows = json.load(sys.stdin)
want = dict(a.split('=', 1) for a in sys.argv[1:])
sys.exit(0 if any(all(str(r.get(k)) == v for k, v in want.items()) for r in rows) else 1)" "$@"; }
has drone=alpha protocol=dns host=flysafe-api.dji.com category=geofence verdict=blocked vendor=dji \
    && ok "report: alpha's sinkholed query, with the name" || fail "report lacks alpha's dns flow: $json"
has drone=alpha protocol=tcp destination=198.51.100.110 host=flysafe-api.dji.com category=geofence vendor=dji \
    && ok "report: alpha's blocked connection names the host it was learned from" || fail "report lacks the named tcp flow: $json"
has drone=alpha protocol=tcp destination=198.51.100.119 host=telemetry-relay.dji.com category=other verdict=blocked \
    && ok "report: the feed cut after learning, with the name it was learned from" || fail "report lacks the cut feed: $json"
has drone=delta protocol=tcp destination=198.51.100.119 category=other verdict=would-block \
    && ok "report: delta's feed as would-block from then on" || fail "report lacks delta's feed: $json"
has drone=delta protocol=dns host=flysafe-api.dji.com verdict=would-block \
    && ok "report: monitor's query as would-block" || fail "report lacks delta's would-block: $json"
has drone=alpha protocol=dns host=dns.google category=dns-bypass \
    && ok "report: the DoH name attempt as dns-bypass" || fail "report lacks dns-bypass: $json"
has "drone=*" protocol=dns host="u-$leak" category=all verdict=blocked \
    && ok "report: the unknown device's refused query" || fail "report lacks the unknown device's query: $json"
has drone=bravo protocol=dns host="b-$leak" category=unlisted verdict=blocked \
    && ok "report: bravo's unlisted query" || fail "report lacks bravo's unlisted query: $json"
grep -q "blocked: drone alpha, dji geofence, tcp 198.51.100.110:443 (flysafe-api.dji.com)" "$TMP/daemon.log" \
    && ok "the log (journal) has a line for alpha's new blocked flow" || fail "no flow line: $(grep -c "blocked: drone" "$TMP/daemon.log")"
ex=$(lab_ns "$LAB_STATION" "$DW" explain flysafe-api.dji.com "${CAT[@]}")
echo "$ex" | grep -Eq "learned: +198.51.100.110 .*expires in" && ok "explain shows the learned address and its time left" \
    || fail "explain: $ex"

# --- re-apply keeps what was learned ---
lab_ns "$LAB_STATION" "$DW" apply --config "$TMP/dns.conf" "${CAT[@]}" >/dev/null 2>&1
learned learned_v4 | grep -q 198.51.100.110 && ok "re-apply carried the learned address over" \
    || fail "learned_v4 after apply: $(learned learned_v4)"
expect "no leak across the re-apply" closed "$(port_open alpha 198.51.100.110 443)"

# --- while the daemon runs it alone writes the table; apply asks it ---
gen() { lab_ns "$LAB_STATION" nft list table inet dronewall | grep -o 'generation 0x[0-9a-f]*'; }
before=$(gen)
lab_ns "$LAB_STATION" nft delete table inet dronewall >/dev/null 2>&1 && fail "nft deleted the daemon's table" \
    || ok "nft cannot delete the daemon's table (owned by its socket)"
lab_ns "$LAB_STATION" nft add rule inet dronewall forward accept >/dev/null 2>&1 && fail "nft added a rule to the daemon's table" \
    || ok "nft cannot add a rule to it"
lab_ns "$LAB_STATION" nft flush ruleset
expect "nft flush ruleset passes it by" "$before" "$(gen)"
expect "... and alpha is still kept from a sinkholed name's address" closed "$(port_open alpha 198.51.100.110 443)"
q bravo tiles.example.org >/dev/null  # learned again: TTL 2 s + grace 30 s may have passed since
expect "... bravo (allowlist) still reaches its allow-host name's address" open "$(port_open bravo 198.51.100.113 443)"
expect "... and not an unlisted one" closed "$(port_open bravo 198.51.100.114 443)"
expect "... delta (monitor) still reaches a geofence address" open "$(port_open delta 198.51.100.110 443)"
expect "... and the resolver still answers (the redirect is in place)" NXDOMAIN "$(q alpha flysafe-api.dji.com)"
lab_ns "$LAB_STATION" nft add table ip dw_other
lab_ns "$LAB_STATION" nft add chain ip dw_other pre '{ type nat hook prerouting priority -150; }'
lab_ns "$LAB_STATION" nft delete table ip dw_other
other="foreign change by nft (pid [0-9]*): new base chain ip dw_other pre at hook prerouting"
for _ in $(seq 30); do grep -q "$other" "$TMP/daemon.log" && break; sleep 0.1; done
grep -q "$other" "$TMP/daemon.log" && ok "the daemon logs another program's base chain, with its process" \
    || fail "no foreign change logged: $(grep "foreign change" "$TMP/daemon.log")"
lab_ns "$LAB_STATION" "$DW" status 2>/dev/null | grep -q "^foreign changes seen: [1-9].*new base chain ip dw_other pre" \
    && ok "... and status counts it" || fail "status: $(lab_ns "$LAB_STATION" "$DW" status 2>&1 | tail -3)"
st=$(lab_ns "$LAB_STATION" "$DW" status --format json --db "$TMP/flows.db" 2>/dev/null)
echo "$st" | python3 -c '
import json, sys
d = json.load(sys.stdin)
t, dm = d["table"], d["daemon"]
ok = t["generation"] and "alpha" in t["drones"] and dm["tableOwner"] == "dronewalld" and dm["pid"] > 0 \
    and dm["foreignChanges"] >= 1 and d["flowLog"]["lostEventsLast24h"] >= 0
sys.exit(0 if ok else 1)' && ok "status --format json: the table, the daemon (owner dronewalld) and the flow log" \
    || fail "status json: $st"
out=$(lab_ns "$LAB_STATION" setpriv --reuid 65534 --regid 65534 --clear-groups "$DW" reload 2>&1); rc=$?
expect "another user cannot ask the daemon anything (exit 77)" 77 "$rc"
echo "$out" | grep -q "only root may talk to the daemon" && ok "... and is told why" || fail "non-root reload said: $out"
sed 's/^policy = local-data$/policy = local-dat/' "$TMP/dns.conf" > "$TMP/broken.conf"
out=$(lab_ns "$LAB_STATION" "$DW" apply --config "$TMP/broken.conf" "${CAT[@]}" 2>&1); rc=$?
expect "a broken config applied while the daemon runs: exit 65" 65 "$rc"
echo "$out" | grep -q "broken.conf:[0-9]*:[0-9]*: error" && ok "... with the daemon's answer naming the place" \
    || fail "apply of a broken config said: $out"
expect "... and the running table unchanged" "$before" "$(gen)"
lab_ns "$LAB_STATION" "$DW" status 2>/dev/null | grep -q "^last refused: .*broken.conf:[0-9]*:[0-9]*: error" \
    && ok "... and status says what was refused" || fail "status: $(lab_ns "$LAB_STATION" "$DW" status 2>&1 | grep -i refused)"
sed -i 's/^allow-host = tiles.example.org$/&\nblock-host = www.example.org/' "$TMP/dns.conf"
out=$(lab_ns "$LAB_STATION" "$DW" apply --config "$TMP/dns.conf" "${CAT[@]}" 2>&1)
echo "$out" | grep -q "^applied table inet dronewall: 4 drone(s)" && ok "apply of a changed config, answered by the daemon" \
    || fail "apply said: $out"
[ "$(gen)" != "$before" ] && ok "... with a new generation" || fail "generation still $before"
echo "$out" | grep -q "changed in place" && ok "... sent as a change, the table kept (not replaced)" || fail "apply said: $out"
# The changed table enforces what a replace with the same config gives: compare with a fresh apply.
FRESH_NS="dw-fresh-$LAB_ID"; ip netns add "$FRESH_NS"
lab_ns "$FRESH_NS" "$DW" apply --config "$TMP/dns.conf" "${CAT[@]}" >/dev/null 2>&1
if diff <(lab_ns "$LAB_STATION" nft -j list table inet dronewall | python3 "$LAB_DIR/table_shape.py") \
        <(lab_ns "$FRESH_NS" nft -j list table inet dronewall | python3 "$LAB_DIR/table_shape.py") > "$TMP/shape.diff"; then
    ok "... and the changed table is the one a full apply of the new config gives (nft -j list, normalised)"
else
    fail "changed table differs from a full apply: $(head -20 "$TMP/shape.diff")"
fi
ip netns delete "$FRESH_NS"
expect "a name added to alpha's block-host is sinkholed without a restart" NXDOMAIN "$(q alpha www.example.org)"
expect "... and its address is closed to alpha" closed "$(port_open alpha 198.51.100.114 443)"
expect "... but not to delta" open "$(port_open delta 198.51.100.114 443)"
sed -i '/^block-host = www.example.org$/d' "$TMP/dns.conf"
kill -HUP "$DAEMON"
for _ in $(seq 50); do grep -q "SIGHUP: applied table" "$TMP/daemon.log" && break; sleep 0.1; done
grep -q "SIGHUP: applied table" "$TMP/daemon.log" && ok "SIGHUP: the daemon read its config again and applied it" \
    || fail "no reload on SIGHUP: $(tail -3 "$TMP/daemon.log")"
expect "... so alpha resolves the name again" "NOERROR 198.51.100.114" "$(q alpha www.example.org)"

# --- hold and expiry: TTL 2 s + grace 30 s; catalogued names are held for dns-hold (1 day) ---
q alpha mydjiflight.dji.com >/dev/null; q alpha tiles.example.org >/dev/null; t0=$(date +%s)
learned learned_v4 | grep -q 198.51.100.117 && learned drone_alpha_allow_dns_v4 | grep -q 198.51.100.113 \
    && ok "both names learned" || fail "learned: $(learned learned_v4) $(learned drone_alpha_allow_dns_v4)"
sleep $((t0 + 38 - $(date +%s)))
learned learned_v4 | grep -q 198.51.100.117 \
    && ok "a refused vendor name's address is still classified after TTL + grace (dns-hold)" \
    || fail "the vendor's 2 s TTL freed the address: $(learned learned_v4)"
expect "... so alpha still cannot reach it" closed "$(port_open alpha 198.51.100.117 443)"
learned learned_v4 | grep -Eq '198.51.100.117 .*expires (2[0-3]h|1d)' && ok "... held for about a day" \
    || fail "hold: $(learned learned_v4 | grep 198.51.100.117)"
learned drone_alpha_allow_dns_v4 | grep -q 198.51.100.113 && fail "an allow-host address outlived TTL + grace" \
    || ok "an allow-host name's address expired after TTL + grace (host sets are not held)"
st=$(lab_ns "$LAB_STATION" "$DW" status --db "$TMP/flows.db" 2>/dev/null)
echo "$st" | grep -Eq "^learned addresses \(held for catalogued names\): [1-9]" && ok "status counts the held addresses" \
    || fail "status: $(echo "$st" | head -5)"

# --- held addresses outlive a reboot: the table is gone, the state directory is not ---
stop_daemon
lab_ns "$LAB_STATION" nft delete table inet dronewall
start_daemon "$TMP/dns.conf"
learned learned_v4 | grep -q '198.51.100.117 .*comment "mydjiflight.dji.com"' \
    && ok "after a reboot the held address is classified again, with its name" \
    || fail "not restored: $(learned learned_v4); $(grep -i held "$TMP/daemon.log")"
expect "... so alpha still cannot reach it" closed "$(port_open alpha 198.51.100.117 443)"

# --- a reboot with a broken config: the last policy the kernel accepted, loudly ---
stop_daemon
good=$(gen)
expect "the table stays in force while no daemon runs" "$good" "$(gen)"
lab_ns "$LAB_STATION" nft delete table inet dronewall  # a reboot: the kernel forgets the table
cp "$TMP/dns.conf" "$TMP/dns.conf.good"
echo "policy = sometimes" >> "$TMP/dns.conf"
start_daemon "$TMP/dns.conf"
expect "a broken config at boot: the last-known-good policy is enforced" "$good" "$(gen)"
grep -q "enforcing the last-known-good policy" "$TMP/daemon.log" && ok "... and the daemon says so" \
    || fail "daemon log: $(tail -3 "$TMP/daemon.log")"
expect "... so alpha still cannot reach a sinkholed name's address" closed "$(port_open alpha 198.51.100.117 443)"
lab_ns "$LAB_STATION" "$DW" status --db "$TMP/flows.db" 2>/dev/null | grep -q "^applied: at start from the last-known-good" \
    && ok "status says how the table came to be" || fail "status: $(lab_ns "$LAB_STATION" "$DW" status 2>&1 | tail -4)"
cp "$TMP/dns.conf.good" "$TMP/dns.conf"
out=$(lab_ns "$LAB_STATION" "$DW" reload 2>&1)
echo "$out" | grep -q "^applied table inet dronewall" && ok "dronewall reload applies the fixed config" || fail "reload: $out"

# --- the race, and malformed upstream answers: answers not sinkholed, through a bad upstream ---
stop_daemon
ip netns exec "$LAB_CLOUD" python3 "$LAB_DIR/dns_probe.py" evil 198.51.100.3 198.51.100.2 >/dev/null 2>&1 &
for _ in $(seq 50); do lab_ns "$LAB_STATION" python3 "$LAB_DIR/dns_probe.py" query 198.51.100.3 www.example.org \
    | grep -q NOERROR && break; sleep 0.1; done
sed -e 's/^dns-upstream = .*/dns-upstream = 198.51.100.3/' -e 's/^dns-grace = .*/&\ndns-sinkhole = off/' \
    "$TMP/dns.conf" > "$TMP/off.conf"
start_daemon "$TMP/off.conf"
expect "with dns-sinkhole = off a blocked name resolves" "NOERROR 198.51.100.110" "$(q alpha flysafe-api.dji.com)"
race=$(lab_ns "dw-alpha-$LAB_ID" python3 "$LAB_DIR/dns_probe.py" race "$ANY_SERVER" race flysafe-api.dji.com 500 443)
expect "500 resolve-then-connect cycles to fresh blocked names: none connects" "asked 500 answered 500 connected 0" "$race"
control=$(lab_ns "dw-alpha-$LAB_ID" python3 "$LAB_DIR/dns_probe.py" race "$ANY_SERVER" race example.org 50 443)
expect "the same cycles to names no catalogue knows all connect" "asked 50 answered 50 connected 50" "$control"
for bad in trunc-1.example.org loop-1.example.org huge-1.example.org; do
    expect "a malformed upstream answer ($bad) becomes SERVFAIL" SERVFAIL "$(q alpha $bad)"
done
expect "the resolver still answers afterwards" "NOERROR 198.51.100.114" "$(q alpha www.example.org)"
stop_daemon
grep -q "dropped as malformed: 0 queries, 3 answers" "$TMP/daemon.log" \
    && ok "the daemon counted the malformed answers" || fail "daemon log: $(grep resolver: "$TMP/daemon.log")"
grep -Eq "[1-9][0-9]* truncated answers asked again over TCP, [1-9][0-9]* too large for their UDP client" "$TMP/daemon.log" \
    && ok "the daemon counted the truncated answers" || fail "daemon log: $(grep resolver: "$TMP/daemon.log")"

echo "dns: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
