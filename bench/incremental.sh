#!/usr/bin/env bash
# Benchmark (issue 12 #3): one drone's policy changed in a DRONES-drone station with a NETWORKS-
# network catalogue. dronewalld holds the table; `dronewall reload` makes it apply the changed
# config, which it sends as a change (only what differs). Next to it, the peer: `nft -f` of the
# whole new ruleset (`dronewall show` text after `delete table`) into a namespace holding the old
# one. ROUNDS interleaved rounds (A B A B ...). Prints one sample a line, "KEY VALUE", for
# bench/run.sh (keys: change, reload, compile, nft), progress on stderr. Root only.
# The generated catalogue's networks (10.0.0.0/24 upwards) only fill sets inside the benchmark's
# own namespaces; no packet is sent anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-5}"; DRONES="${DRONES:-1000}"; NETWORKS="${NETWORKS:-100000}"
[ "$(id -u)" = 0 ] || { echo "bench needs root (network namespaces)"; exit 77; }
swift build -c release --product dronewall >&2 && swift build -c release --product dronewalld >&2
BIN=.build/release
TMP=$(mktemp -d); NS="dw-inc-$$"; PEER="dw-incpeer-$$"; DAEMON=
cleanup() {
    [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    ip netns del "$NS" 2>/dev/null; ip netns del "$PEER" 2>/dev/null; rm -rf "$TMP"
}
trap cleanup EXIT
mkdir "$TMP/vendors"
python3 bench/gen_catalogue.py "$NETWORKS" > "$TMP/vendors/bench.rules"
python3 bench/gen_config.py "$DRONES" | sed 's/^\[station\]$/&\ndns-resolver = off/' > "$TMP/a.conf"
# The changed drone: the one in the middle, from its policy to monitor (isolate if it is
# monitor already), and back the next round.
mid=$(printf 'd%04d' $((DRONES / 2)))
awk -v d="[drone $mid]" '$0 == d {hit = 1}
     hit && /^policy = / {$0 = ($0 == "policy = monitor") ? "policy = isolate" : "policy = monitor"; hit = 0} {print}' \
    "$TMP/a.conf" > "$TMP/b.conf"
CAT=(--catalogue "$TMP/vendors")
for c in a b; do
    { echo "delete table inet dronewall"; "$BIN/dronewall" show --config "$TMP/$c.conf" "${CAT[@]}" 2>/dev/null; } > "$TMP/$c.nft"
done
echo "$DRONES drones, $NETWORKS catalogue networks: $(grep -c '' "$TMP/a.nft") lines of nft text;" \
     "drone $mid changes policy each round" >&2

ip netns add "$NS"; ip netns add "$PEER"
cp "$TMP/a.conf" "$TMP/live.conf"
ip netns exec "$NS" "$BIN/dronewalld" --config "$TMP/live.conf" "${CAT[@]}" --db "$TMP/flows.db" --group root \
    > "$TMP/daemon.log" 2>&1 &
DAEMON=$!
for _ in $(seq 3000); do grep -q "applied table inet dronewall" "$TMP/daemon.log" && break; sleep 0.1; done
grep -q "applied table inet dronewall" "$TMP/daemon.log" || { echo "dronewalld did not start: $(tail -3 "$TMP/daemon.log")" >&2; exit 1; }
ip netns exec "$PEER" nft -f - <<< "table inet dronewall {}"
ip netns exec "$PEER" nft -f "$TMP/a.nft"

ms() { local s e; s=$(date +%s%N); "$@" > "$TMP/out" 2>&1 || { cat "$TMP/out" >&2; return 1; }; e=$(date +%s%N)
       echo "$(( (e - s) / 1000 ))" | awk '{printf "%.1f", $1 / 1000}'; }
to_ms() { awk '{v = $1; if ($2 == "ms") print v; else print v * 1000}'; }
next=b
for r in $(seq "$ROUNDS"); do
    cp "$TMP/$next.conf" "$TMP/live.conf"
    wall=$(ms ip netns exec "$NS" "$BIN/dronewall" reload)
    grep -q "changed in place" "$TMP/out" || { echo "round $r: the daemon did not change in place: $(cat "$TMP/out")" >&2; exit 1; }
    kernel=$(sed -n 's/.*; in force \([0-9.]* ms\) later.*/\1/p' "$TMP/out" | to_ms)
    compile=$(sed -n 's/^read and compiled in \([0-9.]* ms\).*/\1/p' "$TMP/out" | to_ms)
    nft=$(ms ip netns exec "$PEER" nft -f "$TMP/$next.nft")
    printf 'change %s\nreload %s\ncompile %s\nnft %s\n' "$kernel" "$wall" "$compile" "$nft"
    echo "round $r: change $kernel ms (reload $wall ms, of which read+compile $compile ms); nft -f $nft ms" >&2
    next=$([ "$next" = b ] && echo a || echo b)
done
