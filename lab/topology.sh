# Lab topology shared by the demo and the root tests. Source it; do not run it.
#
#   drone namespaces --veth--> station namespace (dronewall applies here) --veth--> cloud namespace
#
# Every address comes from the documentation ranges (RFC 5737, RFC 3849) and lives only
# inside namespaces this script creates; nothing leaves the machine. Names carry a random
# suffix so labs can run side by side; lab_down removes everything lab_up made.

LAB_ID="${LAB_ID:-$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
LAB_STATION="dw-st-$LAB_ID"
LAB_CLOUD="dw-cl-$LAB_ID"
LAB_NAMESPACES=()

# Fake vendor endpoints in the cloud namespace (see lab/vendors.d/lab.rules).
LAB_GEOFENCE4=203.0.113.10;  LAB_GEOFENCE6=2001:db8:c::10   # geofence
LAB_SHARED4=203.0.113.20;    LAB_SHARED6=2001:db8:c::20     # flight-logs firmware telemetry
LAB_FIRMWARE4=203.0.113.30;  LAB_FIRMWARE6=2001:db8:c::30   # firmware
LAB_VENDOR4=203.0.113.40;    LAB_VENDOR6=2001:db8:c::40     # other
LAB_PLAIN4=198.51.100.80;    LAB_PLAIN6=2001:db8:e::80      # not a vendor
LAB_BLOCKED4=198.51.100.99;  LAB_BLOCKED6=2001:db8:e::99    # not a vendor; block-host for alpha
LAB_PORT=443

lab_ns() { ip netns exec "$@"; }

# lab_drone NAME INDEX MAC: a drone namespace on station link dw-d<INDEX>.
lab_drone() {
    local name=$1 i=$2 mac=$3 ns="dw-$1-$LAB_ID"
    ip netns add "$ns"; LAB_NAMESPACES+=("$ns")
    ip link add "dw-d$i" netns "$LAB_STATION" type veth peer name eth0 netns "$ns"
    lab_ns "$ns" ip link set eth0 address "$mac"
    lab_ns "$ns" ip link set lo up
    lab_ns "$ns" ip link set eth0 up
    lab_ns "$ns" ip addr add "192.0.2.$((i * 16 + 2))/28" dev eth0
    lab_ns "$ns" ip -6 addr add "2001:db8:$i::2/64" dev eth0 nodad
    lab_ns "$ns" ip route add default via "192.0.2.$((i * 16 + 1))"
    lab_ns "$ns" ip -6 route add default via "2001:db8:$i::1"
    lab_ns "$LAB_STATION" ip link set "dw-d$i" up
    lab_ns "$LAB_STATION" ip addr add "192.0.2.$((i * 16 + 1))/28" dev "dw-d$i"
    lab_ns "$LAB_STATION" ip -6 addr add "2001:db8:$i::1/64" dev "dw-d$i" nodad
}

lab_up() {
    ip netns add "$LAB_STATION"; LAB_NAMESPACES+=("$LAB_STATION")
    ip netns add "$LAB_CLOUD"; LAB_NAMESPACES+=("$LAB_CLOUD")
    lab_ns "$LAB_STATION" ip link set lo up
    lab_ns "$LAB_STATION" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    ip link add dw-up netns "$LAB_STATION" type veth peer name eth0 netns "$LAB_CLOUD"
    lab_ns "$LAB_STATION" ip link set dw-up up
    lab_ns "$LAB_STATION" ip addr add 198.51.100.1/24 dev dw-up
    lab_ns "$LAB_STATION" ip -6 addr add 2001:db8:f::1/64 dev dw-up nodad
    # The cloud is the station's upstream: everything not on a drone link goes there.
    lab_ns "$LAB_STATION" ip route add default via 198.51.100.2
    lab_ns "$LAB_STATION" ip -6 route add default via 2001:db8:f::2
    lab_ns "$LAB_CLOUD" ip link set lo up
    lab_ns "$LAB_CLOUD" ip link set eth0 up
    lab_ns "$LAB_CLOUD" ip addr add 198.51.100.2/24 dev eth0
    lab_ns "$LAB_CLOUD" ip -6 addr add 2001:db8:f::2/64 dev eth0 nodad
    lab_ns "$LAB_CLOUD" ip route add default via 198.51.100.1
    lab_ns "$LAB_CLOUD" ip -6 route add default via 2001:db8:f::1
    local a
    for a in $LAB_GEOFENCE4 $LAB_SHARED4 $LAB_FIRMWARE4 $LAB_VENDOR4; do
        lab_ns "$LAB_CLOUD" ip addr add "$a/32" dev lo
    done
    for a in $LAB_PLAIN4 $LAB_BLOCKED4; do lab_ns "$LAB_CLOUD" ip addr add "$a/24" dev eth0; done
    for a in $LAB_GEOFENCE6 $LAB_SHARED6 $LAB_FIRMWARE6 $LAB_VENDOR6 $LAB_PLAIN6 $LAB_BLOCKED6; do
        lab_ns "$LAB_CLOUD" ip -6 addr add "$a/128" dev lo nodad
    done
    # Drones: alpha (MAC), bravo (address), charlie (interface), delta (address, monitor),
    # and an unknown device on a drone interface.
    lab_drone alpha   1 02:00:00:00:00:01
    lab_drone bravo   2 02:00:00:00:00:02
    lab_drone charlie 3 02:00:00:00:00:03
    lab_drone delta   4 02:00:00:00:00:04
    lab_drone unknown 5 02:00:00:00:00:05
    # Link-local addresses stay tentative until duplicate detection ends; IPv6 neighbour
    # discovery needs them, so wait for that (at most ~5 s) instead of racing it.
    local ns _
    for ns in "${LAB_NAMESPACES[@]}"; do
        for _ in $(seq 50); do
            [ -z "$(lab_ns "$ns" ip -6 addr show tentative)" ] && break
            sleep 0.1
        done
    done
    # One TCP listener answers on every cloud address.
    ip netns exec "$LAB_CLOUD" python3 "$LAB_DIR/tcp_probe.py" listen "$LAB_PORT" </dev/null >/dev/null 2>&1 &
    # Wait until the listener answers, rather than sleeping a guess.
    for _ in $(seq 50); do
        lab_ns "$LAB_CLOUD" python3 "$LAB_DIR/tcp_probe.py" connect 127.0.0.1 "$LAB_PORT" | grep -q open && break
        sleep 0.1
    done
}

lab_down() {
    local ns
    for ns in "${LAB_NAMESPACES[@]}"; do
        # Processes started in a namespace (the listener) would outlive its name.
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    LAB_NAMESPACES=()
}

lab_drone_ns() { if [ "$1" = station ]; then echo "$LAB_STATION"; else echo "dw-$1-$LAB_ID"; fi; }

# lab_connect DRONE ADDRESS [UID] [SOURCE] -> prints "open" or "closed" (TCP connect within 1.5 s).
lab_connect() {
    lab_ns "$(lab_drone_ns "$1")" python3 "$LAB_DIR/tcp_probe.py" connect "$2" "$LAB_PORT" "${3:-}" "${4:-}"
}

# lab_udp_reaches DRONE ADDRESS SRC -> how many of 3 UDP datagrams sent from SRC the cloud saw.
lab_udp_reaches() {
    local out="/tmp/dw-sniff-$LAB_ID" n
    lab_ns "$LAB_CLOUD" python3 "$LAB_DIR/tcp_probe.py" sniff eth0 2 > "$out" &
    local sniffer=$!
    sleep 0.5
    lab_ns "$(lab_drone_ns "$1")" python3 "$LAB_DIR/tcp_probe.py" udp "$2" "$LAB_PORT" "$3"
    wait "$sniffer"
    n=$(cat "$out"); rm -f "$out"
    echo "$n"
}

# lab_invalid_reaches DRONE ADDRESS -> prints how many of 3 invalid (SYN|FIN) probes the cloud saw.
lab_invalid_reaches() {
    local out="/tmp/dw-sniff-$LAB_ID" n
    lab_ns "$LAB_CLOUD" python3 "$LAB_DIR/tcp_probe.py" sniff eth0 2 > "$out" &
    local sniffer=$!
    sleep 0.5
    lab_ns "$(lab_drone_ns "$1")" python3 "$LAB_DIR/tcp_probe.py" invalid "$2" "$LAB_PORT"
    wait "$sniffer"
    n=$(cat "$out"); rm -f "$out"
    echo "$n"
}
