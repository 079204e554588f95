#!/usr/bin/env bash
# Benchmark: `dronewall apply` of a 500-drone config (one netlink batch via libnftnl/libmnl)
# next to `nft -f` of the same ruleset as printed by `dronewall show`, each in its own fresh
# network namespace, in one run. Prints the median of RUNS runs of each. Root only.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-7}"
DRONES="${DRONES:-500}"
[ "$(id -u)" = 0 ] || { echo "bench needs root (network namespaces)"; exit 77; }
swift build -c release --product dronewall 2>&1 | tail -1
DW=.build/release/dronewall
TMP=$(mktemp -d); NS="dw-bench-$$"
trap 'ip netns del "$NS" 2>/dev/null || true; rm -rf "$TMP"' EXIT
python3 bench/gen_config.py "$DRONES" > "$TMP/dronewall.conf"
"$DW" show --config "$TMP/dronewall.conf" --catalogue rules/vendors > "$TMP/ruleset.nft" 2>/dev/null
echo "config: $DRONES drones, ruleset $(wc -l < "$TMP/ruleset.nft") lines of nft text"

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run_label() { local label=$1; shift; local t=()
    for _ in $(seq "$RUNS"); do ip netns add "$NS"; t+=("$(ms ip netns exec "$NS" "$@")"); ip netns del "$NS"; done
    printf '%-44s median %5s ms   (runs: %s)\n' "$label" "$(printf '%s\n' "${t[@]}" | median)" "${t[*]}"
}
run_label "dronewall apply (compile + netlink batch)" "$DW" apply --config "$TMP/dronewall.conf" --catalogue rules/vendors
run_label "nft -f of dronewall show output" nft -f "$TMP/ruleset.nft"
run_label "dronewall show (compile + render only)" "$DW" show --config "$TMP/dronewall.conf" --catalogue rules/vendors
