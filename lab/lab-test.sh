#!/usr/bin/env bash
# Root lab tests: build namespaces (drones -> station -> cloud), apply the lab policy with
# `dronewall apply` in the station, and check connection by connection (TCP, IPv4 and IPv6)
# what is open and what is closed; then the differential oracle, re-apply, foreign-table
# and flush checks. Prints "lab: N passed, N failed" last; exits non-zero on any failure.
set -u
LAB_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$LAB_DIR/.." && pwd)"
DW="${DRONEWALL:-$ROOT/.build/debug/dronewall}"
DWD="${DRONEWALLD:-$(dirname "$DW")/dronewalld}"

for tool in ip nft python3; do
    command -v "$tool" >/dev/null || { echo "lab tests need '$tool' (see .ci/run)"; exit 1; }
done

# shellcheck source=checks.sh
. "$LAB_DIR/checks.sh"

# --- CLI checks that need no root: explain and check, as a user sees them ---
VCAT=(--catalogue "$ROOT/rules/vendors")
expect "explain --format json of a shared DJI host" \
    '{"query": "mydjiflight.dji.com", "vendor": "dji", "categories": ["flight-logs", "telemetry", "firmware"], "entry": "mydjiflight.dji.com", "source": '"$("$DW" explain mydjiflight.dji.com --format json "${VCAT[@]}" | sed 's/.*"source": //')" \
    "$("$DW" explain mydjiflight.dji.com --format json "${VCAT[@]}")"
expect "explain matches a subdomain of a catalogued host" "geofence" \
    "$("$DW" explain a.b.flysafe-api.dji.com "${VCAT[@]}" | awk '/categories:/ {print $2}')"
"$DW" explain notdji.com "${VCAT[@]}" >/dev/null; rc=$?
expect "explain of an unknown name exits 1" 1 "$rc"
expect "explain json of an unknown name has vendor null" \
    "{\"query\": \"notdji.com\", \"vendor\": null, \"categories\": [], \"entry\": null, \"source\": null, \"catalogue\": \"$(cat "$ROOT/rules/vendors/VERSION")\"}" \
    "$("$DW" explain notdji.com --format json "${VCAT[@]}")"
# --- the catalogue command: vendors, a vendor's endpoints, what a drone's policy blocks ---
cat_out=$("$DW" catalogue "${VCAT[@]}")
echo "$cat_out" | head -1 | grep -q "^catalogue $(cat "$ROOT/rules/vendors/VERSION"): " \
    && ok "catalogue lists the dated version" || fail "catalogue header: $(echo "$cat_out" | head -1)"
for v in dji autel parrot skydio yuneec mapbox airmap; do
    echo "$cat_out" | grep -q "^$v " || fail "catalogue lacks vendor $v"
done
ok "catalogue lists the drone and SDK vendors"
"$DW" catalogue vendor dji --category geofence "${VCAT[@]}" | grep -q "^  flysafe-api.dji.com" \
    && ok "catalogue vendor lists a vendor's endpoints by category" || fail "catalogue vendor dji --category geofence"
"$DW" catalogue vendor no-such-vendor "${VCAT[@]}" >/dev/null 2>&1; expect "catalogue vendor of an unknown id exits 1" 1 "$?"
alpha_v=$("$DW" catalogue drone alpha --config "$LAB_DIR/lab.conf" --catalogue "$ROOT/rules/vendors" \
          --catalogue "$LAB_DIR/vendors.d" --format json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
e = {x["entry"]: x for x in d["entries"]}
print(e["flysafe-api.dji.com"]["verdict"], e["203.0.113.40"]["verdict"], e["203.0.113.40"]["reason"].replace(" ", "_"))')
expect "catalogue drone: local-data blocks flysafe, allow-host overrides" "blocked allowed allow-host_203.0.113.40" "$alpha_v"
BAD=$(mktemp -d)
printf '[station]\ndrone-interfaces = wlan0\n[drone a]\nmac = 02:00:00:00:00:zz\npolicy = local-dta\n' > "$BAD/dronewall.conf"
err=$("$DW" check --config "$BAD/dronewall.conf" "${VCAT[@]}" 2>&1 >/dev/null); rc=$?
expect "check of a bad config exits 65" 65 "$rc"
expect "check names file:line:col and shows a caret" \
    "$BAD/dronewall.conf:4:7: error: bad MAC address '02:00:00:00:00:zz': expected six hex pairs like 60:60:1f:12:34:56|mac = 02:00:00:00:00:zz|      ^~~~~~~~~~~~~~~~~" \
    "$(echo "$err" | head -3 | paste -sd '|')"
echo "$err" | grep -q "5:10: error: unknown policy 'local-dta'; did you mean 'local-data'?" \
    && ok "check reports every error in one run" || fail "second error missing: $err"
rm -rf "$BAD"

if [ "$(id -u)" != 0 ]; then
    echo "lab tests skipped: they need root (network namespaces and nftables); CI runs them as root"
    echo "lab: $PASS passed, $FAIL failed, 1 skipped"
    [ "$FAIL" = 0 ]; exit
fi

. "$LAB_DIR/topology.sh"
ORACLE_NS="dw-or-$LAB_ID"
FOREIGN_NS="dw-fo-$LAB_ID"
FLOWS="/tmp/dw-flows-$LAB_ID"
OPS_GROUP="dwg$LAB_ID"; OP_IN="dwi$LAB_ID"; OP_OUT="dwo$LAB_ID"
cleanup() {
    lab_down; ip netns del "$ORACLE_NS" 2>/dev/null; ip netns del "$FOREIGN_NS" 2>/dev/null
    rm -rf "/etc/netns/$LAB_STATION"
    userdel "$OP_IN" 2>/dev/null; userdel "$OP_OUT" 2>/dev/null; groupdel "$OPS_GROUP" 2>/dev/null
    [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null
    rm -rf "$FLOWS" "$FLOWS.log" "$FLOWS.html" "$FLOWS.second" "$FLOWS.own"
}
trap cleanup EXIT INT TERM

CAT=(--catalogue "$ROOT/rules/vendors" --catalogue "$LAB_DIR/vendors.d")
CONF=(--config "$LAB_DIR/lab.conf")

lab_up
# NAT64: the cloud also answers at the images of two IPv4 endpoints under the lab's NAT64
# prefix (RFC 6052), as an IPv6-only uplink with 464XLAT would deliver them.
NAT64_GEOFENCE=2001:db8:64::cb00:710a   # 203.0.113.10
NAT64_FIRMWARE=2001:db8:64::cb00:711e   # 203.0.113.30
for a in $NAT64_GEOFENCE $NAT64_FIRMWARE; do lab_ns "$LAB_CLOUD" ip -6 addr add "$a/128" dev lo nodad; done

# --- positive control: before any policy every drone reaches every endpoint, so a
#     "closed" below can only come from dronewall ---
for d in alpha bravo charlie delta unknown station; do
    for a in $LAB_GEOFENCE4 $LAB_GEOFENCE6 $LAB_SHARED4 $LAB_SHARED6 $LAB_FIRMWARE4 $LAB_FIRMWARE6 \
             $LAB_VENDOR4 $LAB_VENDOR6 $LAB_PLAIN4 $LAB_PLAIN6 $LAB_BLOCKED4 $LAB_BLOCKED6 \
             $NAT64_GEOFENCE $NAT64_FIRMWARE; do
        r=$(lab_connect "$d" "$a")
        [ "$r" = open ] || fail "control: $d -> $a is $r before any policy (lab broken)"
    done
done
[ "$FAIL" = 0 ] && ok "control: every drone reaches every endpoint before apply"

# A station whose own resolver is systemd-resolved's stub: `check` says what that means for the
# `user =` drone (ip netns exec mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf).
mkdir -p "/etc/netns/$LAB_STATION" && echo "nameserver 127.0.0.53" > "/etc/netns/$LAB_STATION/resolv.conf"
warn=$(lab_ns "$LAB_STATION" "$DW" check "${CONF[@]}" "${CAT[@]}" 2>&1 >/dev/null)
echo "$warn" | grep -q "lab.conf:[0-9]*:[0-9]*: warning: the station resolves through systemd-resolved" \
    && ok "check warns that groundapp's lookups go through systemd-resolved" || fail "no relay warning: $warn"
rm -rf "/etc/netns/$LAB_STATION"

out=$(lab_ns "$LAB_STATION" "$DW" apply "${CONF[@]}" "${CAT[@]}" 2>/dev/null); rc=$?
expect "dronewall apply succeeds ($out)" 0 "$rc"

# --- connection matrix: drone x endpoint, IPv4 and IPv6 ---
check() { # check DRONE ENDPOINT-LABEL V4 V6 EXPECTED [UID]
    expect "$1 -> $2 (IPv4 $3)" "$5" "$(lab_connect "$1" "$3" "${6:-}")"
    expect "$1 -> $2 (IPv6 $4)" "$5" "$(lab_connect "$1" "$4" "${6:-}")"
}
matrix() { # matrix DRONE GEOFENCE SHARED FIRMWARE VENDOR PLAIN BLOCKED [UID]
    check "$1" geofence   $LAB_GEOFENCE4 $LAB_GEOFENCE6 "$2" "${8:-}"
    check "$1" shared     $LAB_SHARED4   $LAB_SHARED6   "$3" "${8:-}"
    check "$1" firmware   $LAB_FIRMWARE4 $LAB_FIRMWARE6 "$4" "${8:-}"
    check "$1" vendor     $LAB_VENDOR4   $LAB_VENDOR6   "$5" "${8:-}"
    check "$1" plain      $LAB_PLAIN4    $LAB_PLAIN6    "$6" "${8:-}"
    check "$1" block-host $LAB_BLOCKED4  $LAB_BLOCKED6  "$7" "${8:-}"
}
#              geofence shared firmware vendor plain  blocked
matrix alpha   closed   closed open     open   open   closed   # MAC, local-data, allow firmware; shared host stays blocked
matrix bravo   closed   closed open     closed closed closed   # address, allowlist firmware
matrix charlie closed   closed closed   closed closed closed   # interface, isolate
matrix delta   open     open   open     open   open   open     # address, monitor
matrix unknown closed   closed closed   closed closed closed   # no drone: unknown-devices = isolate
matrix station closed   closed closed   closed open   open   4242  # user drone in output, local-data
matrix station open     open   open     open   open   open     # the station's own traffic is not a drone

# --- NAT64: an IPv4 endpoint reached at its image under the uplink's prefix is the same endpoint ---
expect "alpha -> geofence through NAT64 ($NAT64_GEOFENCE)" closed "$(lab_connect alpha $NAT64_GEOFENCE)"
expect "alpha -> firmware through NAT64 ($NAT64_FIRMWARE)" open "$(lab_connect alpha $NAT64_FIRMWARE)"
expect "bravo (allowlist) -> geofence through NAT64" closed "$(lab_connect bravo $NAT64_GEOFENCE)"
expect "delta (monitor) -> geofence through NAT64" open "$(lab_connect delta $NAT64_GEOFENCE)"
lab_ns "$LAB_STATION" nft list map inet dronewall endpoints_v6 | grep -q "64:ff9b::cb00:710a" \
    && ok "the well-known prefix 64:ff9b::/96 carries the images too" || fail "no 64:ff9b:: images in endpoints_v6"

# --- packets conntrack cannot track (SYN|FIN) must not slip past the category tests ---
for a in $LAB_GEOFENCE4 $LAB_GEOFENCE6; do
    expect "invalid packets from alpha to geofence $a are dropped" 0 "$(lab_invalid_reaches alpha "$a")"
done
expect "invalid packets from bravo (allowlist) to a plain host are dropped" 0 "$(lab_invalid_reaches bravo "$LAB_PLAIN4")"
# Control: the station itself is no drone, so its invalid probes do arrive (the probe works).
expect "control: the station's own invalid probes arrive" 3 "$(lab_invalid_reaches station "$LAB_GEOFENCE4")"

# --- spoofing: a device on charlie's link (interface identity, isolate) borrowing delta's
#     address (monitor) still gets charlie's policy ---
lab_ns "dw-charlie-$LAB_ID" ip addr add 192.0.2.66/32 dev eth0
expect "charlie spoofing delta's address stays isolated" closed "$(lab_connect charlie "$LAB_PLAIN4" "" 192.0.2.66)"
# ... and an unknown device on its own drone link (isolate) borrowing delta's addresses (monitor)
# gets no one-way channel out: strict reverse-path check (delta's addresses route to dw-d4).
lab_ns "dw-unknown-$LAB_ID" ip addr add 192.0.2.66/32 dev eth0
lab_ns "dw-unknown-$LAB_ID" ip -6 addr add 2001:db8:4::2/128 dev eth0 nodad
expect "control: delta's own datagrams arrive" 3 "$(lab_udp_reaches delta "$LAB_PLAIN4" 192.0.2.66)"
expect "an unknown device sending as delta (IPv4) reaches nothing" 0 "$(lab_udp_reaches unknown "$LAB_PLAIN4" 192.0.2.66)"
expect "an unknown device sending as delta (IPv6) reaches nothing" 0 "$(lab_udp_reaches unknown "$LAB_PLAIN6" 2001:db8:4::2)"

# --- a drone that changes its MAC does not walk out: with uplink-interfaces, alpha's link
#     (outside drone-interfaces) is drone territory, so the new MAC is an unknown device (isolate) ---
expect "control: alpha's own datagrams to a plain host arrive" 3 "$(lab_udp_reaches alpha "$LAB_PLAIN4" 192.0.2.18)"
lab_ns "dw-alpha-$LAB_ID" ip link set eth0 address 02:00:00:00:0a:01
expect "alpha with a new MAC reaches nothing (IPv4)" 0 "$(lab_udp_reaches alpha "$LAB_PLAIN4" 192.0.2.18)"
expect "alpha with a new MAC reaches nothing (IPv6)" 0 "$(lab_udp_reaches alpha "$LAB_PLAIN6" 2001:db8:1::2)"
lab_ns "dw-alpha-$LAB_ID" ip link set eth0 address 02:00:00:00:00:01
# ... and a device on another link copying alpha's MAC (with its own address, so the
#     reverse-path check passes) does not get alpha's policy: alpha's MAC counts on dw-d1 only.
lab_ns "dw-unknown-$LAB_ID" ip link set eth0 address 02:00:00:00:00:01
expect "a copy of alpha's MAC on another link reaches nothing" 0 "$(lab_udp_reaches unknown "$LAB_PLAIN4" 192.0.2.82)"
lab_ns "dw-unknown-$LAB_ID" ip link set eth0 address 02:00:00:00:00:05
posture=$("$DW" check "${CONF[@]}" "${CAT[@]}" 2>/dev/null | grep '^posture:')
expect "check explains the posture it compiled" "posture: every link but dw-up is drone territory" \
    "$(echo "$posture" | cut -d: -f1-2)"

# --- kernel counters saw the blocks ---
listing=$(lab_ns "$LAB_STATION" nft list table inet dronewall)
counted=$(echo "$listing" | grep -c 'counter packets [1-9][0-9]* .* log prefix "dw drone=')
[ "$counted" -ge 10 ] && ok "blocking rules counted packets ($counted rules)" || fail "rule counters: only $counted non-zero"
echo "$listing" | grep -q 'packets [1-9][0-9]* .*cat=geofence would-block' \
    && ok "monitor drone delta counted would-block geofence packets" || fail "no would-block count for delta"

# --- differential oracle: our netlink batch == nft -f of `dronewall show` ---
ip netns add "$ORACLE_NS"
"$DW" show "${CONF[@]}" "${CAT[@]}" > "/tmp/dw-show-$LAB_ID.nft" 2>/dev/null
lab_ns "$ORACLE_NS" nft -f "/tmp/dw-show-$LAB_ID.nft"; rc=$?
expect "nft -f accepts dronewall show" 0 "$rc"
rm -f "/tmp/dw-show-$LAB_ID.nft"
strip() { sed -E 's/ # handle [0-9]+//; s/counter packets [0-9]+ bytes [0-9]+/counter/'; }
lab_ns "$LAB_STATION" "$DW" apply "${CONF[@]}" "${CAT[@]}" >/dev/null 2>&1
a=$(lab_ns "$LAB_STATION" nft list table inet dronewall | strip)
b=$(lab_ns "$ORACLE_NS" nft list table inet dronewall | strip)
if [ "$a" = "$b" ]; then ok "netlink apply and nft -f give identical tables"; else
    fail "netlink apply and nft -f differ:"; diff <(echo "$a") <(echo "$b") | head -40; fi

# --- apply twice leaves one table; a foreign table is untouched by apply and flush ---
ip netns add "$FOREIGN_NS"
lab_ns "$FOREIGN_NS" nft -f - <<'NFT'
table inet other {
    set keep { type ipv4_addr; elements = { 192.0.2.200 } }
    chain c { type filter hook input priority 10; policy accept; ip saddr @keep accept; }
}
NFT
before=$(lab_ns "$FOREIGN_NS" nft list table inet other)
lab_ns "$FOREIGN_NS" "$DW" apply "${CONF[@]}" "${CAT[@]}" >/dev/null 2>&1
lab_ns "$FOREIGN_NS" "$DW" apply "${CONF[@]}" "${CAT[@]}" >/dev/null 2>&1
expect "apply twice leaves one dronewall table" 1 "$(lab_ns "$FOREIGN_NS" nft list tables | grep -c 'inet dronewall')"
expect "foreign table unchanged by apply" "$before" "$(lab_ns "$FOREIGN_NS" nft list table inet other)"
lab_ns "$FOREIGN_NS" "$DW" flush >/dev/null 2>&1
expect "flush removes our table" 0 "$(lab_ns "$FOREIGN_NS" nft list tables | grep -c 'inet dronewall')"
expect "foreign table unchanged by flush" "$before" "$(lab_ns "$FOREIGN_NS" nft list table inet other)"

# --- a bad config changes nothing ---
before=$(lab_ns "$LAB_STATION" nft list table inet dronewall | strip)
printf '[drone x]\nmac = 02:00:00:00:00:09\npolicy = bogus\n' > "/tmp/dw-bad-$LAB_ID.conf"
lab_ns "$LAB_STATION" "$DW" apply --config "/tmp/dw-bad-$LAB_ID.conf" "${CAT[@]}" >/dev/null 2>&1; rc=$?
rm -f "/tmp/dw-bad-$LAB_ID.conf"
expect "apply of a bad config exits 65" 65 "$rc"
expect "bad config leaves the running table as it was" "$before" "$(lab_ns "$LAB_STATION" nft list table inet dronewall | strip)"

# --- status reports what is enforced ---
st=$(lab_ns "$LAB_STATION" "$DW" status 2>&1); rc=$?
expect "status exits 0" 0 "$rc"
echo "$st" | grep -q "drone_alpha" && ok "status lists drone chains" || fail "status output: $st"
label=$("$DW" explain "${CAT[@]}" --format json unknown.example | python3 -c 'import json, sys; print(json.load(sys.stdin)["catalogue"])')
echo "$st" | grep -qxF "catalogue: $label" && ok "status shows the applied catalogue version ($label)" \
    || fail "status has no 'catalogue: $label' line: $st"

# --- without CAP_NET_ADMIN: exit 77 ---
if command -v setpriv >/dev/null; then
    lab_ns "$LAB_STATION" setpriv --reuid 65534 --regid 65534 --clear-groups "$DW" flush >/dev/null 2>&1; rc=$?
    expect "flush without CAP_NET_ADMIN exits 77" 77 "$rc"
fi

# --- the flow log: dronewalld records blocked and would-block attempts, nothing allowed ---
groupadd "$OPS_GROUP"
useradd -M -N -g "$OPS_GROUP" "$OP_IN"
useradd -M -N "$OP_OUT"
start_daemon() {
    # ip netns exec execs the daemon, so $! is the daemon itself (SIGTERM must reach it).
    ip netns exec "$LAB_STATION" "$DWD" "${CONF[@]}" "${CAT[@]}" --db "$FLOWS/flows.db" --group "$OPS_GROUP" \
        2>"$FLOWS.log" &
    DAEMON=$!
    for _ in $(seq 100); do grep -q "logging blocked flows" "$FLOWS.log" 2>/dev/null && return 0; sleep 0.1; done
    fail "dronewalld did not start: $(cat "$FLOWS.log")"
}
# Not in $(...): only this shell can wait for the daemon it started.
stop_daemon() { kill -TERM "$DAEMON"; wait "$DAEMON"; DAEMON_RC=$?; }
start_daemon
lab_connect alpha $LAB_GEOFENCE4 >/dev/null   # blocked: geofence
lab_connect alpha $LAB_FIRMWARE4 >/dev/null   # allowed: no record
lab_connect bravo $LAB_PLAIN6 >/dev/null      # blocked: not on bravo's allowlist
expect "monitor drone's connection succeeds while logged" open "$(lab_connect delta $LAB_GEOFENCE4)"
stop_daemon
expect "dronewalld exits 0 on SIGTERM, after writing what it received" 0 "$DAEMON_RC"
# Summed over minute windows: a SYN retry may cross into the next one (a second row, 0 attempts).
flows() { "$DW" report --db "$FLOWS/flows.db" --since 1h --format json "$@" | python3 -c '
import json, sys
attempts = {}
for f in json.load(sys.stdin):
    k = (f["drone"], f["verdict"], f["category"], str(f["vendor"]), f["protocol"], f["destination"], str(f["port"]))
    attempts[k] = attempts.get(k, 0) + f["attempts"]
for k in sorted(attempts, key=lambda k: (k[0], k[5])):
    print(*k, attempts[k])'; }
expect "report lists exactly the blocked and would-block attempts" \
"alpha blocked geofence dji tcp 203.0.113.10 443 1
bravo blocked unlisted None tcp 2001:db8:e::80 443 1
delta would-block geofence dji tcp 203.0.113.10 443 1" "$(flows)"
start_daemon
lab_connect alpha $LAB_GEOFENCE4 >/dev/null
stop_daemon
expect "a restarted dronewalld continues the same log" 0 "$DAEMON_RC"
expect "attempts add up across restarts" "2" \
    "$("$DW" report --db "$FLOWS/flows.db" --since 1h --format csv --drone alpha --by drone | tail -1 | cut -d, -f3 | tr -d '\r')"
table=$("$DW" report --db "$FLOWS/flows.db" --since 1h)
counted=$(echo "$table" | sed -n 's/^kernel counted: \([0-9]*\) packet(s) blocked, \([0-9]*\) would-block.*/\1 \2/p')
logged=$("$DW" report --db "$FLOWS/flows.db" --since 1h --format json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print(sum(r["packets"] for r in rows if r["verdict"] == "blocked"), sum(r["packets"] for r in rows if r["verdict"] == "would-block"))')
expect "kernel totals in the report match the logged packets (no flood, nothing sampled away)" "$logged" "$counted"
echo "$table" | tail -1 | grep -q "lost events: 0" && ok "table report ends with totals and the lost-event count" \
    || fail "table report tail: $(echo "$table" | tail -1)"
"$DW" report --db "$FLOWS/flows.db" --since 1h --format html > "$FLOWS.html"
grep -q "<svg" "$FLOWS.html" && ! grep -qE 'src=|<link' "$FLOWS.html" && ok "html report is one self-contained page with a chart" \
    || fail "html report"
summary=$("$DW" report --db "$FLOWS/flows.db" --since 1h --format json 2>&1 >/dev/null)
echo "$summary" | grep -q "lost events: 0; kernel counted: " && ok "json report states loss and kernel totals on stderr" \
    || fail "json report summary: $summary"
# A flood: one drone retrying as fast as it can. The log stays bounded (rate-limited per flow in
# the kernel), enforcement holds, and the kernel counters in the report count every packet.
start_daemon
sent=$(lab_ns "dw-alpha-$LAB_ID" python3 "$LAB_DIR/tcp_probe.py" flood $LAB_GEOFENCE4 8883 3)
expect "enforcement holds after the flood" closed "$(lab_connect alpha $LAB_GEOFENCE4)"
stop_daemon
rate=$(( sent / 3 ))
flood=$("$DW" report --db "$FLOWS/flows.db" --since 1h --drone alpha --category geofence --format json | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["protocol"] == "udp"]
print(len(rows), sum(r["packets"] for r in rows))')
read -r flood_rows flood_logged <<<"$flood"
kernel=$("$DW" report --db "$FLOWS/flows.db" --since 1h --drone alpha --category geofence | sed -n 's/^kernel counted: \([0-9]*\) .*/\1/p')
echo "flood: $sent packets sent ($rate/s), $flood_logged logged in $flood_rows flow record(s), kernel counted $kernel (incl. earlier TCP)"
[ "$sent" -ge 3000 ] && ok "the flood sent thousands of packets per second ($rate/s)" || fail "flood too small: $sent"
[ "$flood_rows" -le 2 ] && ok "flood folded into at most 2 flow records (one per minute window)" || fail "flood rows: $flood_rows"
[ "$flood_logged" -le 80 ] && ok "flood logging bounded by the per-flow limit ($flood_logged logged)" || fail "logged $flood_logged"
[ "$kernel" -ge "$sent" ] && ok "kernel totals in the report count every flooded packet" || fail "kernel $kernel < sent $sent"
"$DW" report --db "$FLOWS/flows.db" --since 1h | grep -q "^lost events: 0" && ok "no events lost under the bounded log rate" \
    || fail "lost events after flood: $("$DW" report --db "$FLOWS/flows.db" --since 1h | sed -n 2p)"

# Operators: a member of the group reads reports; anyone else gets a clear refusal.
# (csv rows on stdout; the summary line goes to stderr)
out=$(setpriv --reuid "$OP_IN" --regid "$OPS_GROUP" --init-groups "$DW" report --db "$FLOWS/flows.db" --since 1h --format csv 2>/dev/null); rc=$?
expect "a group member reads the report (exit 0)" 0 "$rc"
expect "a group member sees the flows" "$("$DW" report --db "$FLOWS/flows.db" --since 1h --format csv)" "$out"
members_view=$out
out=$(setpriv --reuid "$OP_OUT" --regid "$(id -g "$OP_OUT")" --init-groups "$DW" report --db "$FLOWS/flows.db" 2>&1); rc=$?
expect "a non-member is refused with exit 77" 77 "$rc"
echo "$out" | grep -q "permission denied" && ok "the refusal says why" || fail "refusal text: $out"
before=$(md5sum < "$FLOWS/flows.db")
setpriv --reuid "$OP_IN" --regid "$OPS_GROUP" --init-groups sh -c "echo x >> '$FLOWS/flows.db'" 2>/dev/null
expect "a group member cannot change the log" "$before" "$(md5sum < "$FLOWS/flows.db")"
lab_ns "$LAB_STATION" "$DW" status --db "$FLOWS/flows.db" | grep -q "0 lost event(s) in the last 24h" \
    && ok "status shows the flow log's lost-event count" || fail "status: no lost-event line"

# Readers after another tool closed the log: root's sqlite3 (a backup) was the last to close it and
# removed -wal and -shm, which a group member cannot create in the 0750 directory.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("select count(*) from flow").fetchall(); c.close()' \
    "$FLOWS/flows.db"
[ ! -e "$FLOWS/flows.db-wal" ] && [ ! -e "$FLOWS/flows.db-shm" ] && ok "closing the log with sqlite3 removed -wal and -shm" \
    || fail "sqlite3 left -wal/-shm behind; the next check proves nothing"
out=$(setpriv --reuid "$OP_IN" --regid "$OPS_GROUP" --init-groups "$DW" report --db "$FLOWS/flows.db" --since 1h --format csv 2>/dev/null); rc=$?
expect "a group member reads the report without -wal and -shm (exit 0)" 0 "$rc"
expect "... and sees the same flows" "$members_view" "$out"

# Kernel counters keep counting while the daemon is down; the next start stores that before it
# replaces the table (which resets them).
kernel_total() { "$DW" report --db "$FLOWS/flows.db" --since 1h --drone alpha --category geofence \
    | sed -n 's/^kernel counted: \([0-9]*\) .*/\1/p'; }
before=$(kernel_total)
down=$(lab_ns "dw-alpha-$LAB_ID" python3 "$LAB_DIR/tcp_probe.py" flood $LAB_GEOFENCE4 8883 0.5)
start_daemon
stop_daemon
after=$(kernel_total)
[ "$((after - before))" -ge "$down" ] && ok "packets blocked while dronewalld was down are in the kernel totals ($down sent)" \
    || fail "kernel totals grew by $((after - before)) after $down packets were blocked while the daemon was down"

# A second daemon must not start: not on the same log (lock), not on the same NFLOG group.
table_handle() { lab_ns "$LAB_STATION" nft -a list table inet dronewall | grep -o 'handle [0-9]*' | head -1; }
start_daemon
handle=$(table_handle)
lab_ns "$LAB_STATION" timeout 20 "$DWD" "${CONF[@]}" "${CAT[@]}" --db "$FLOWS/flows.db" --group "$OPS_GROUP" \
    >/dev/null 2>"$FLOWS.second"; rc=$?
expect "a second dronewalld on the same log exits 1" 1 "$rc"
grep -q "another dronewalld is running" "$FLOWS.second" && ok "... saying another dronewalld is running" \
    || fail "second daemon's message: $(cat "$FLOWS.second")"
mkdir -p "$FLOWS/other"
lab_ns "$LAB_STATION" timeout 20 "$DWD" "${CONF[@]}" "${CAT[@]}" --db "$FLOWS/other/flows.db" --group "$OPS_GROUP" \
    >/dev/null 2>"$FLOWS.second"; rc=$?
expect "a second dronewalld on another log but the same NFLOG group exits 1" 1 "$rc"
grep -q "NFLOG" "$FLOWS.second" && ok "... naming the NFLOG group" || fail "second daemon's message: $(cat "$FLOWS.second")"
expect "neither second daemon replaced the table (the first one's counters live on)" "$handle" "$(table_handle)"

# SIGHUP reloads: the daemon reads its config again, applies it and goes on.
kill -HUP "$DAEMON"
for _ in $(seq 50); do grep -q "SIGHUP: applied table" "$FLOWS.log" && break; sleep 0.1; done
grep -q "SIGHUP: applied table" "$FLOWS.log" && ok "SIGHUP: dronewalld read its config again and applied it" \
    || fail "no reload on SIGHUP: $(tail -3 "$FLOWS.log")"
kill -0 "$DAEMON" 2>/dev/null && ok "... and keeps running" || fail "dronewalld ended on SIGHUP"
# SIGTERM writes everything received first.
lab_ns "dw-alpha-$LAB_ID" python3 "$LAB_DIR/tcp_probe.py" flood $LAB_GEOFENCE4 9999 0.2 >/dev/null
stop_daemon
expect "dronewalld exits 0 on SIGTERM" 0 "$DAEMON_RC"
expect "what arrived just before SIGTERM is written" 1 \
    "$("$DW" report --db "$FLOWS/flows.db" --since 1h --format csv | grep -c ',9999,')"

# kill -9 and a restart (what a package upgrade does) under traffic: the rules never leave the
# kernel, so no blocked connection gets through; the next daemon adopts the table.
start_daemon
generation() { lab_ns "$LAB_STATION" nft list table inet dronewall | grep -o 'generation 0x[0-9a-f]*'; }
before=$(generation)
lab_ns "dw-alpha-$LAB_ID" python3 "$LAB_DIR/tcp_probe.py" attempts $LAB_GEOFENCE4 443 6 > "$FLOWS.probe" &
probe=$!
lab_ns "dw-delta-$LAB_ID" python3 "$LAB_DIR/tcp_probe.py" attempts $LAB_GEOFENCE4 443 6 > "$FLOWS.control" &
control=$!
sleep 1.5
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null
expect "killed (-9), the daemon leaves its table in force" "$before" "$(generation)"
sleep 1.5
start_daemon
wait "$probe" "$control"
read -r _ tried _ connected < "$FLOWS.probe"
[ "$tried" -ge 60 ] && [ "$connected" = 0 ] && ok "no blocked connection got through kill -9 and restart ($tried tried, $connected connected)" \
    || fail "during kill -9 and restart: tried $tried, connected $connected"
read -r _ ctried _ cconnected < "$FLOWS.control"
[ "$cconnected" -ge $((ctried * 9 / 10)) ] && ok "... while the monitor drone's connections went on ($cconnected of $ctried)" \
    || fail "monitor drone: $cconnected of $ctried connected"
expect "the restarted daemon adopted the table: one table, the same policy" "1 $before" \
    "$(lab_ns "$LAB_STATION" nft list tables | grep -c 'inet dronewall') $(generation)"
grep -q "the table is this daemon's own\|cannot keep a table owned" "$FLOWS.log" && ok "... and says whether it owns it" \
    || fail "start log: $(head -3 "$FLOWS.log")"
stop_daemon

# --db in a directory the operator made: dronewalld leaves its owner and modes, and says when the
# group cannot get in.
mkdir -m 0755 "$FLOWS/own"
ip netns exec "$LAB_STATION" "$DWD" "${CONF[@]}" "${CAT[@]}" --db "$FLOWS/own/flows.db" --group "$OPS_GROUP" 2>"$FLOWS.own" &
DAEMON=$!
for _ in $(seq 100); do grep -q "logging blocked flows" "$FLOWS.own" && break; sleep 0.1; done
stop_daemon
expect "an operator's --db directory keeps its owner and mode" "root:root 755" "$(stat -c '%U:%G %a' "$FLOWS/own")"
mkdir -m 0700 "$FLOWS/closed"
ip netns exec "$LAB_STATION" "$DWD" "${CONF[@]}" "${CAT[@]}" --db "$FLOWS/closed/flows.db" --group "$OPS_GROUP" 2>"$FLOWS.own" &
DAEMON=$!
for _ in $(seq 100); do grep -q "logging blocked flows" "$FLOWS.own" && break; sleep 0.1; done
stop_daemon
expect "... also a closed one (0700)" "root:root 700" "$(stat -c '%U:%G %a' "$FLOWS/closed")"
grep -q "cannot enter $FLOWS/closed" "$FLOWS.own" && ok "dronewalld warns that the group cannot reach the log" \
    || fail "no warning about $FLOWS/closed: $(cat "$FLOWS.own")"

echo "lab: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
