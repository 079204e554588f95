#!/usr/bin/env bash
# Benchmark (issue 12 #2, "apply at scale"): `dronewall apply` next to `nft -f` of the same ruleset
# (what `dronewall show` prints), for DRONES drones (bench/gen_config.py) x catalogues of NETWORKS
# generated /24 networks (bench/gen_catalogue.py), each run in a fresh network namespace, the
# sides interleaved (apply, nft, replay) for SCALE_ROUNDS rounds. Per run: wall time and peak RSS
# (/usr/bin/time %e %M) and user/system CPU. "replay" is the kernel's own share: the batch
# dronewall sent (DRONEWALL_BATCH_DUMP) sent again on a raw netlink socket by bench/batch_replay.c,
# timed from the write to the last ack, in a fresh namespace too.
# Prints one table: medians, ratios, targets (at >= 10k catalogue networks: wall <= 0.5x nft -f,
# peak memory <= 0.5x nft -f, userspace <= 25% of apply's wall), held/MISSED. Figures, not a test.
# Env: DRONES ("10 1000"; the full grid "10 100 1000"), NETWORKS ("1000 10000 100000"),
# SCALE_ROUNDS (3). The catalogue networks are set elements only (10.0.0.0/8 up, never assigned
# to a link); no packet is sent. Root only.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
DRONES="${DRONES:-10 1000}"; NETWORKS="${NETWORKS:-1000 10000 100000}"; ROUNDS="${SCALE_ROUNDS:-3}"
[ "$(id -u)" = 0 ] || { echo "bench needs root (network namespaces)"; exit 77; }
for tool in gcc:gcc nft:nftables /usr/bin/time:time; do
    command -v "${tool%%:*}" >/dev/null || apt-get install -y -qq "${tool#*:}" >/dev/null
done
swift build -c release --product dronewall 2>&1 | tail -1 >&2
DW=$PWD/.build/release/dronewall
TMP=$(mktemp -d); NS="dw-scale-$$"
trap 'ip netns del "$NS" 2>/dev/null || true; rm -rf "$TMP"' EXIT
gcc -O2 -Wall -o "$TMP/replay" bench/batch_replay.c

# One run of "$@" in a fresh namespace: prints "wall_ms user_s sys_s maxrss_kb" (the command's
# own stdout is dropped; its stderr is kept for a failure).
run() {
    ip netns add "$NS"
    if ! ip netns exec "$NS" /usr/bin/time -f '%e %U %S %M' -o "$TMP/time" "$@" > "$TMP/out" 2> "$TMP/err"; then
        ip netns del "$NS"; echo "failed: $*" >&2; cat "$TMP/err" >&2; return 1
    fi
    ip netns del "$NS"
    awk '{printf "%d %s %s %s\n", $1 * 1000, $2, $3, $4}' "$TMP/time"
}

SAMPLES="$TMP/samples"; : > "$SAMPLES"
for n in $NETWORKS; do
    mkdir -p "$TMP/cat-$n"; python3 bench/gen_catalogue.py "$n" > "$TMP/cat-$n/bench.rules"
    for d in $DRONES; do
        cell="$d/$n"
        python3 bench/gen_config.py "$d" > "$TMP/dw.conf"
        "$DW" show --config "$TMP/dw.conf" --catalogue "$TMP/cat-$n" > "$TMP/ruleset.nft" 2>/dev/null
        for r in $(seq "$ROUNDS"); do
            read -r aw au as am < <(run env DRONEWALL_BATCH_DUMP="$TMP/batch" "$DW" apply --config "$TMP/dw.conf" --catalogue "$TMP/cat-$n")
            read -r nw nu ns nm < <(run nft -f "$TMP/ruleset.nft")
            ip netns add "$NS"; rw=$(ip netns exec "$NS" "$TMP/replay" "$TMP/batch"); ip netns del "$NS"
            echo "$cell $aw $au $as $am $nw $nu $ns $nm $rw" >> "$SAMPLES"
            echo "  . $cell round $r: apply $aw ms ${am} KB, nft -f $nw ms ${nm} KB, replay $rw ms" >&2
        done
    done
done

python3 - "$SAMPLES" "$ROUNDS" <<'EOF'
import sys
from statistics import median
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(f[0], []).append([float(x) for x in f[1:]])
print(f"{sys.argv[2]} rounds per cell of (dronewall apply, nft -f of its show output, raw replay of its batch), "
      "each in a fresh namespace; medians")
print("targets at >= 10k catalogue networks: wall <= 0.5x nft -f, peak RSS <= 0.5x nft -f, userspace <= 25% of apply's wall")
print()
print(f"| {'drones/networks':<15} | {'apply ms':>8} | {'nft ms':>8} | {'ratio':>5} | {'apply MB':>8} | {'nft MB':>7} | {'ratio':>5} "
      f"| {'replay ms':>9} | {'user %':>6} | {'cpu u/s':>9} | result")
print(f"|{'-' * 17}|{'-' * 10}|{'-' * 10}|{'-' * 7}|{'-' * 10}|{'-' * 9}|{'-' * 7}|{'-' * 11}|{'-' * 8}|{'-' * 11}|-------")
for cell, samples in rows.items():
    col = lambda i: median(s[i] for s in samples)
    aw, au, as_, am, nw, nm, rw = col(0), col(1), col(2), col(3), col(4), col(7), col(8)
    # Userspace share of an apply: its wall time less the kernel's (the replay of the same batch),
    # per round (the two ran next to each other), then the median.
    user = median(max(0.0, (s[0] - s[8]) / s[0] * 100) if s[0] else 0 for s in samples)
    wr, mr = aw / nw if nw else float("nan"), am / nm if nm else float("nan")
    if int(cell.split("/")[1]) >= 10000:
        verdicts = [("wall", wr <= 0.5), ("memory", mr <= 0.5), ("userspace", user <= 25)]
        result = " ".join(f"{name} {'held' if ok else 'MISSED'}" for name, ok in verdicts)
    else:
        result = "- (targets from 10k)"
    print(f"| {cell:<15} | {aw:>8,.0f} | {nw:>8,.0f} | {wr:>5.2f} | {am / 1024:>8,.1f} | {nm / 1024:>7,.1f} | {mr:>5.2f} "
          f"| {rw:>9,.0f} | {user:>6.0f} | {au:>4.2f}/{as_:<4.2f} | {result}")
print()
print("user %: (apply wall - replay) / apply wall, per round; cpu u/s: apply's user and system CPU seconds "
      "(the kernel runs the batch in apply's own system time)")
EOF
