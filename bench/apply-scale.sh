#!/usr/bin/env bash
# Benchmark (issue 12 #2, "apply at scale"): `dronewall apply` next to `nft -f` of the same ruleset
# (what `dronewall show` prints), for DRONES drones (bench/gen_config.py) x catalogues of NETWORKS
# generated /24 networks (bench/gen_catalogue.py), each run in a fresh network namespace, the
# sides interleaved (apply, nft, replay) for SCALE_ROUNDS rounds. Per run: wall time and peak RSS
# (/usr/bin/time %e %M) and user/system CPU. "replay" is the kernel's own share: the batch
# dronewall sent (DRONEWALL_BATCH_DUMP) sent again on a raw netlink socket by bench/batch_replay.c,
# timed from the write to the last ack, in a fresh namespace too.
# Prints one table: medians, ratios, targets (at >= 10k catalogue networks: wall <= 0.5x nft -f,
# peak memory <= 0.5x nft -f, userspace <= 25% of the total), held/MISSED. Figures, not a test.
# On a shared machine a run's wall time includes waiting for a core, so CPU seconds are shown
# too, and the userspace share is taken from them: (apply's CPU - the replay's) / apply's CPU.
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
# own stdout goes to KEEP_OUT when set, else is dropped; its stderr is shown on a failure).
run() {
    ip netns add "$NS"
    if ! ip netns exec "$NS" /usr/bin/time -f '%e %U %S %M' -o "$TMP/time" "$@" > "$TMP/out" 2> "$TMP/err"; then
        ip netns del "$NS"; echo "failed: $*" >&2; cat "$TMP/err" >&2; return 1
    fi
    ip netns del "$NS"
    [ -z "${KEEP_OUT:-}" ] || cp "$TMP/out" "$KEEP_OUT" # before the line the caller waits for
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
            read -r _ ru rs _ < <(KEEP_OUT="$TMP/replay.ms" run "$TMP/replay" "$TMP/batch")
            rw=$(cat "$TMP/replay.ms")
            echo "$cell $aw $au $as $am $nw $nu $ns $nm $rw $ru $rs" >> "$SAMPLES"
            echo "  . $cell round $r: apply $aw ms ${am} KB cpu $au/$as s, nft -f $nw ms ${nm} KB cpu $nu/$ns s, replay $rw ms cpu $ru/$rs s" >&2
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
# Columns of a sample: apply wall ms, user s, sys s, KB; nft the same; replay ms (write to last
# ack), replay user s, sys s.
AW, AU, AS, AM, NW, NU, NS, NM, RW, RU, RS = range(11)
print(f"{sys.argv[2]} rounds per cell of (dronewall apply, nft -f of its show output, raw replay of its batch), "
      "each in a fresh namespace; medians")
print("targets at >= 10k catalogue networks: wall <= 0.5x nft -f, peak RSS <= 0.5x nft -f, userspace <= 25% of the total")
print()
print(f"| {'drones/networks':<15} | {'apply ms':>8} | {'nft ms':>8} | {'wall':>5} | {'apply s':>7} | {'nft s':>6} | {'cpu':>5} "
      f"| {'apply MB':>8} | {'nft MB':>7} | {'RSS':>5} | {'replay ms':>9} | {'user':>4} | result")
print(f"|{'-' * 17}|{'-' * 10}|{'-' * 10}|{'-' * 7}|{'-' * 9}|{'-' * 8}|{'-' * 7}|{'-' * 10}|{'-' * 9}|{'-' * 7}|{'-' * 11}|{'-' * 6}|-------")
for cell, samples in rows.items():
    col = lambda i: median(s[i] for s in samples)
    cpu = lambda s, u, k: s[u] + s[k]
    aw, nw, am, nm, rw = col(AW), col(NW), col(AM), col(NM), col(RW)
    ac, nc = median(cpu(s, AU, AS) for s in samples), median(cpu(s, NU, NS) for s in samples)
    # Userspace share: apply's CPU less the kernel's (the replay of the same batch), per round,
    # then the median.
    user = median(max(0.0, (cpu(s, AU, AS) - cpu(s, RU, RS)) / cpu(s, AU, AS) * 100) if cpu(s, AU, AS) else 0
                  for s in samples)
    ratio = lambda a, b: a / b if b else float("nan")
    wr, cr, mr = ratio(aw, nw), ratio(ac, nc), ratio(am, nm)
    if int(cell.split("/")[1]) >= 10000:
        verdicts = [("wall", wr <= 0.5), ("RSS", mr <= 0.5), ("user", user <= 25)]
        result = " ".join(f"{name} {'held' if ok else 'MISSED'}" for name, ok in verdicts)
    else:
        result = "- (targets from 10k)"
    print(f"| {cell:<15} | {aw:>8,.0f} | {nw:>8,.0f} | {wr:>5.2f} | {ac:>7.2f} | {nc:>6.2f} | {cr:>5.2f} "
          f"| {am / 1024:>8,.1f} | {nm / 1024:>7,.1f} | {mr:>5.2f} | {rw:>9,.0f} | {user:>3.0f}% | {result}")
print()
print("wall, cpu, RSS: apply / nft -f (medians); apply s, nft s: user + system CPU seconds; replay ms: the batch")
print("alone, write to last ack; user: (apply CPU - replay CPU) / apply CPU, per round (the kernel runs the batch")
print("in the sender's system time)")
EOF
