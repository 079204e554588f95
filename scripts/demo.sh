#!/usr/bin/env bash
# The demo: builds dronewall, creates a lab of network namespaces (drones -> station ->
# fake vendor cloud with a DNS server), runs dronewalld in the station (policy applied,
# resolver, flow log), shows which connections and names are blocked and allowed, prints the
# status and the blocked-flow report, and cleans up.
set -uo pipefail
cd "$(dirname "$0")/.."
# Setup runs in its own shell (its `set -e` must not end this script early); PATH for swift here.
bash scripts/setup.sh || exit 1
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 77; }
swift build 2>&1 | tail -1
DW="$PWD/.build/debug/dronewall"
LAB_DIR="$PWD/lab"
. lab/topology.sh
trap lab_down EXIT INT TERM
CAT=(--catalogue "$PWD/rules/vendors" --catalogue "$LAB_DIR/vendors.d")

echo; echo "== the policy (lab/lab.conf) =="
grep -vE '^\s*$' lab/lab.conf
echo; echo "== dronewall check =="
"$DW" check --config lab/lab.conf "${CAT[@]}"
echo; echo "== dronewall explain mydjiflight.dji.com =="
"$DW" explain mydjiflight.dji.com "${CAT[@]}"
lab_up
DB_DIR=$(mktemp -d)
# The cloud's DNS server (the station resolver's upstream): a vendor name at an address no
# catalogue network lists, so only the name can classify it.
lab_ns "$LAB_CLOUD" ip addr add 198.51.100.110/24 dev eth0
printf '198.51.100.110 flysafe-api.dji.com\n198.51.100.114 www.example.org\n' > "$DB_DIR/hosts"
lab_ns "$LAB_CLOUD" ip addr add 198.51.100.114/24 dev eth0
ip netns exec "$LAB_CLOUD" dnsmasq --keep-in-foreground --no-resolv --no-hosts --addn-hosts="$DB_DIR/hosts" \
    --listen-address=198.51.100.2 --bind-interfaces --user=root --pid-file="$DB_DIR/dnsmasq.pid" >/dev/null 2>&1 &
echo; echo "== dronewalld: apply, then log blocked flows (in the station namespace) =="
ip netns exec "$LAB_STATION" "$PWD/.build/debug/dronewalld" --config lab/lab.conf "${CAT[@]}" \
    --db "$DB_DIR/flows.db" 2> "$DB_DIR/daemon.log" &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null; lab_down; rm -rf "$DB_DIR"' EXIT INT TERM
for _ in $(seq 100); do grep -q "logging blocked flows" "$DB_DIR/daemon.log" && break; sleep 0.1; done
grep "^dronewalld:" "$DB_DIR/daemon.log"

echo; echo "== connections from each drone (TCP port $LAB_PORT, IPv4 / IPv6) =="
printf '%-22s' ""
for e in geofence shared firmware vendor-other plain block-host; do printf '%-16s' "$e"; done; echo
row() { # row LABEL DRONE [UID]
    printf '%-22s' "$1"
    local pair
    for pair in "$LAB_GEOFENCE4 $LAB_GEOFENCE6" "$LAB_SHARED4 $LAB_SHARED6" "$LAB_FIRMWARE4 $LAB_FIRMWARE6" \
                "$LAB_VENDOR4 $LAB_VENDOR6" "$LAB_PLAIN4 $LAB_PLAIN6" "$LAB_BLOCKED4 $LAB_BLOCKED6"; do
        set -- $pair
        printf '%-16s' "$(lab_connect "$DRONE" "$1" "$UIDARG")/$(lab_connect "$DRONE" "$2" "$UIDARG")"
    done
    echo
}
DRONE=alpha UIDARG= row "alpha (local-data)"
DRONE=bravo UIDARG= row "bravo (allowlist)"
DRONE=charlie UIDARG= row "charlie (isolate)"
DRONE=delta UIDARG= row "delta (monitor)"
DRONE=unknown UIDARG= row "unknown device"
DRONE=station UIDARG=4242 row "groundapp (uid 4242)"
DRONE=station UIDARG= row "station itself"
echo; echo "== names: drones ask any server (here 203.0.113.53); the station resolver answers =="
for d in alpha delta; do
    for n in flysafe-api.dji.com www.example.org; do
        printf '%-8s %-22s %s\n' "$d" "$n" "$(lab_ns "dw-$d-$LAB_ID" python3 lab/dns_probe.py query 203.0.113.53 "$n")"
    done
done
echo "alpha -> 198.51.100.110 (the sinkholed name's address, hard-coded): $(lab_connect alpha 198.51.100.110)"
echo; echo "== dronewall explain flysafe-api.dji.com (in the station: learned addresses) =="
lab_ns "$LAB_STATION" "$DW" explain flysafe-api.dji.com "${CAT[@]}"
echo; echo "== dronewall status =="
lab_ns "$LAB_STATION" "$DW" status
kill -TERM "$DAEMON"; wait "$DAEMON"
echo; echo "== dronewall report --by drone,category (what the drones tried) =="
"$DW" report --db "$DB_DIR/flows.db" --since 1h --by drone,category
echo; echo "== dronewall report (every flow) =="
"$DW" report --db "$DB_DIR/flows.db" --since 1h
echo; echo "demo done; removing the lab"
