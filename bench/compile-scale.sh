#!/usr/bin/env bash
# Benchmark: `dronewall show` (read config and catalogue, compile, render; no root) against
# generated catalogues of 1k, 10k and 100k /24 networks (bench/gen_catalogue.py), the dronewall
# of a base commit next to this tree's, side by side. Prints the median of RUNS runs; a run that
# passes LIMIT seconds is stopped and shown as >LIMIT. Where both finish, says whether their
# endpoint maps (what the flattening makes) are the same: the rest of the ruleset may differ
# with what else changed since the base. Prints figures; not a pass/fail test.
# Usage: bench/compile-scale.sh [BASE_REV]   (default 12bda75: before the sort-and-sweep flattening)
# Env: SIZES ("1000 10000 100000"), RUNS (3), LIMIT (120), NESTED=1 (also a /16 over every 256
# networks and a /28 inside every 16th, so networks are split around the ones inside them).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
BASE_REV=$(git rev-parse --short "${1:-12bda75}^{commit}")
SIZES="${SIZES:-1000 10000 100000}"; RUNS="${RUNS:-3}"; LIMIT="${LIMIT:-120}"

# The base is built once from `git archive` into an ignored directory and kept for later runs.
BASE_DIR=".build-bench/$BASE_REV"
if [ ! -x "$BASE_DIR/.build/release/dronewall" ]; then
    rm -rf "$BASE_DIR"; mkdir -p "$BASE_DIR"
    git archive "$BASE_REV" | tar -x -C "$BASE_DIR"
    swift build -c release --product dronewall --package-path "$BASE_DIR" 2>&1 | tail -1
fi
swift build -c release --product dronewall 2>&1 | tail -1
BEFORE="$BASE_DIR/.build/release/dronewall"; AFTER=.build/release/dronewall

TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
python3 bench/gen_config.py 4 > "$TMP/dronewall.conf"

# Milliseconds of one run, or ">LIMIT s" when it was stopped; the output goes to $2.
run_ms() { local dw=$1 out=$2 n=$3 s e
    s=$(date +%s%N)
    if ! timeout "$LIMIT" "$dw" show --config "$TMP/dronewall.conf" --catalogue "$TMP/cat-$n" > "$out" 2>/dev/null; then
        echo ">${LIMIT}000"; return
    fi
    e=$(date +%s%N); echo $(( (e - s) / 1000000 ))
}
# Median of RUNS runs; after one stopped run the rest are skipped.
median_ms() { local dw=$1 out=$2 n=$3 t=() r
    for _ in $(seq "$RUNS"); do
        r=$(run_ms "$dw" "$out" "$n"); t+=("$r")
        [[ $r == '>'* ]] && { echo "$r"; return; }
    done
    printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
# The endpoints_v4/v6 maps of a `show` output.
endpoint_maps() { awk '/^\tmap endpoints_v[46] \{/ {on = 1} on {print} on && /^\t\}/ {on = 0}' "$1"; }
secs() { [[ $1 == '>'* ]] && echo ">$(( ${1#>} / 1000 )) s" || awk -v m="$1" 'BEGIN {printf "%.3f s", m / 1000}'; }

echo "dronewall show, median of $RUNS; before = $BASE_REV, after = $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo '+changes')${NESTED:+, nested}"
printf '%-10s %12s %12s %9s  %s\n' networks before after speedup "endpoint maps"
for n in $SIZES; do
    mkdir -p "$TMP/cat-$n"
    python3 bench/gen_catalogue.py "$n" ${NESTED:+--nested} > "$TMP/cat-$n/bench.rules"
    b=$(median_ms "$BEFORE" "$TMP/before.nft" "$n"); a=$(median_ms "$AFTER" "$TMP/after.nft" "$n")
    if [[ $b == '>'* || $a == '>'* ]]; then same="-"; speedup="-"
    else
        cmp -s <(endpoint_maps "$TMP/before.nft") <(endpoint_maps "$TMP/after.nft") && same="same" || same="DIFFERENT"
        speedup=$(awk -v b="$b" -v a="$a" 'BEGIN {printf "%.1fx", b / (a > 0 ? a : 1)}')
    fi
    printf '%-10s %12s %12s %9s  %s\n' "$n" "$(secs "$b")" "$(secs "$a")" "$speedup" "$same"
done
