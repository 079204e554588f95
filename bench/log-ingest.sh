#!/usr/bin/env bash
# Benchmark: NFLOG log ingest, dronewalld next to ulogd2 (Debian ulogd2 + ulogd2-sqlite3: NFLOG
# input, SQLite output), the same flood into each (issue 12 #5).
#
# In a network namespace of its own, a table `inet dwbench` logs every UDP datagram to
# 203.0.113.0/24 to NFLOG group 7140 under a dronewall prefix, with a counter and without the
# per-flow meter of dronewall's own log rules (the kernel limit bypassed, the same for both).
# The datagrams leave a veth whose peer drops them (wrong destination MAC): nothing leaves the
# namespace. Python senders (bench/udp_pace.py) flood at each rate step for SECONDS_PER_STEP,
# spread over FLOWS (destination, port) pairs; the same packets for both sides.
#
# A rate holds for a side when everything the rule counted ("sent") reaches its database and
# the kernel dropped nothing to its socket (/proc/net/netlink, Drops). "on time": in the database
# DEADLINE seconds after the flood stops (dronewalld writes once a second, ulogd2 commits each
# row); "late": what came in after that, while the side still drained its socket or writer (up to
# DRAIN seconds after the flood); "lost": never, counted once a side that misses events has been
# stopped (dronewalld writes all it received when stopped). Recorded events: for dronewalld the
# packets its flow records count (it folds events into one record per flow and minute), for
# ulogd2 its rows (one per packet). Late events show a logger slower than the rate that a buffer
# saved for now: ulogd2's receive buffer, dronewalld's receive buffer and its writer's queue.
#
# Rounds alternate the sides (dronewalld, then ulogd2), each with a fresh namespace, database and
# process. Both climb the same STEPS from the same start: FIRST in round 1, later the lower of
# the two rates held in the round before; a side whose start fails goes down (after a restart),
# and a side stops at its first loss. Per side and step it prints what was sent, on time, late,
# lost and dropped, its CPU (utime + stime, /proc/PID/stat, all threads), how long its threads
# waited runnable for a CPU ("wait s"), CPU per 10k events recorded, and what its database holds.
#
# Usage: log-ingest.sh [SAMPLES]  appends "KEY VALUE" samples for bench/summarize.py to SAMPLES:
#   dw-rate / ulogd-rate       highest rate held (zero loss) in the round (0 when none)
#   dw-ontime / ulogd-ontime   highest rate held with nothing late (when the climb passed one)
#   dw-cpu / ulogd-cpu         CPU seconds per 10k events at the highest rate both held
# Root only; installs ulogd2 and ulogd2-sqlite3 when missing (their system service is not started).
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLES_OUT="${1:-/dev/null}"
ROUNDS="${ROUNDS:-5}"
STEPS=(${STEPS:-10000 20000 30000 40000 60000 80000 120000 160000})
FIRST="${FIRST:-20000}"   # where round 1 starts (a side that fails there goes down)
SECONDS_PER_STEP="${SECONDS_PER_STEP:-2}"
DEADLINE="${DEADLINE:-1.5}"
DRAIN="${DRAIN:-10}"
DEADLINE_US=$(awk -v s="$DEADLINE" 'BEGIN {printf "%d", s * 1000000}')
FLOWS="${FLOWS:-50000}"
SENDERS="${SENDERS:-2}"
GROUP=7140
[ "$(id -u)" = 0 ] || { echo "bench needs root (network namespaces)"; exit 77; }

TMP=$(mktemp -d); NS="dw-ingest-$$"; POLICY_RC=; PID=
cleanup() {
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    [ -z "$POLICY_RC" ] || rm -f /usr/sbin/policy-rc.d
    rm -rf "$TMP"
}
trap cleanup EXIT; trap "exit 130" INT TERM

APT_INSTALLED=()
if ! command -v ulogd >/dev/null || ! dpkg -s ulogd2-sqlite3 >/dev/null 2>&1; then
    # The package would start the system's ulogd2 (its own config, the host's namespace): a
    # policy-rc.d that refuses (invoke-rc.d(8): exit 101, "action not allowed") keeps it stopped,
    # and the unit is left disabled. This benchmark runs its own ulogd2 only.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        POLICY_RC=1; printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ulogd2 ulogd2-sqlite3 >/dev/null
    [ -z "$POLICY_RC" ] || { rm -f /usr/sbin/policy-rc.d; POLICY_RC=; }
    command -v systemctl >/dev/null && systemctl disable ulogd2 >/dev/null 2>&1 || true
    APT_INSTALLED+=(ulogd2 ulogd2-sqlite3)
fi
echo "apt installs by this benchmark: ${APT_INSTALLED[*]:-none}"
ULOGD=$(command -v ulogd)
PLUGINS=$(dirname "$(dpkg -L ulogd2-sqlite3 | grep '/ulogd_output_SQLITE3\.so$')")
# DRONEWALLD names another build to measure (default: this tree's release build).
if [ -z "${DRONEWALLD:-}" ]; then
    for p in dronewall dronewalld; do swift build -c release --product "$p" 2>&1 | tail -1 >&2; done  # one --product per build
fi
DWD=${DRONEWALLD:-$PWD/.build/release/dronewalld}

cat > "$TMP/dronewall.conf" <<CONF
[drone bench]
address = 192.0.2.10
policy = local-data
CONF

# ulogd2's side, written for this benchmark from ulogd2's documentation (ulogd.txt, `ulogd -i`
# of each plugin). Tuning, matched to what dronewalld asks of the kernel where ulogd2 has the knob:
# - netlink_socket_buffer_size 4 MiB, growing on ENOBUFS up to netlink_socket_buffer_maxsize
#   64 MiB: dronewalld's receive buffer starts at 4 MiB and doubles up to 64 MiB the same way;
# - netlink_qthreshold 64 packets / netlink_qtimeout 5 (1/100 s): the kernel batches as it does
#   for dronewalld. ulogd2 has no option for the kernel's batch buffer (nlbufsiz, dronewalld asks
#   for 128 KiB), nor for the copy range (it copies whole packets; these are 92 bytes, all of
#   which fit in dronewalld's 128-byte range too);
# - unbind=0: `log group N` needs no per-family logger binding (the default unbind=1 detaches
#   one), and seq_local=1 numbers packets as dronewalld asks the kernel to (stored, so gaps show);
# - SQLite: ulogd2 2.0.8's SQLITE3 plugin has only `db` and `table` (`ulogd -i` lists no other
#   option; the `buffer` of older releases batched nothing and is gone): every row is its own
#   transaction. The one SQLite tuning left to the user is the database file, set here to WAL
#   (journal_mode is kept in the file), as dronewalld's log is; with the default rollback journal
#   each row costs more (a journal file created and deleted per row).
# Stack: NFLOG -> BASE (IP and UDP fields) -> IP2STR (addresses as text) -> SQLITE3, whose columns
# name the keys it stores: the fields a dronewalld flow record keeps, per packet.
cat > "$TMP/ulogd.conf" <<CONF
[global]
logfile="$TMP/ulogd.log"
loglevel=3
plugin="$PLUGINS/ulogd_inppkt_NFLOG.so"
plugin="$PLUGINS/ulogd_raw2packet_BASE.so"
plugin="$PLUGINS/ulogd_filter_IP2STR.so"
plugin="$PLUGINS/ulogd_output_SQLITE3.so"
stack=nflog:NFLOG,base:BASE,text:IP2STR,db:SQLITE3

[nflog]
group=$GROUP
unbind=0
seq_local=1
netlink_socket_buffer_size=4194304
netlink_socket_buffer_maxsize=67108864
netlink_qthreshold=64
netlink_qtimeout=5

[db]
db="$TMP/ulogd.db"
table="blocked"
CONF
ULOGD_TABLE="PRAGMA journal_mode=WAL;
CREATE TABLE blocked (oob_time_sec INTEGER, oob_time_usec INTEGER, oob_prefix TEXT, oob_seq_local INTEGER,
                      ip_saddr_str TEXT, ip_daddr_str TEXT, ip_protocol INTEGER, udp_dport INTEGER,
                      ip_totlen INTEGER);"

sql() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0] or 0)' "$@"; }

setup_namespace() {
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ip -n "$NS" link add v0 type veth peer name v1
    ip -n "$NS" link set v0 up; ip -n "$NS" link set v1 up
    ip -n "$NS" addr add 198.51.100.1/24 dev v0
    ip -n "$NS" neigh add 198.51.100.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent
    ip -n "$NS" route add 203.0.113.0/24 via 198.51.100.2 dev v0
}

teardown_namespace() {
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
}

# Every datagram logged, no meter, under the prefix dronewall's rules write.
add_flood_rule() {
    ip netns exec "$NS" nft -f - <<NFT
table inet dwbench {
    chain out {
        type filter hook output priority 0;
        ip daddr 203.0.113.0/24 udp dport >= 1000 counter log prefix "dw drone=bench cat=telemetry " group $GROUP
    }
}
NFT
}

start_side() { # start_side SIDE: sets PID
    local side=$1
    setup_namespace
    rm -f "$TMP"/side.db* "$TMP"/side.log
    case $side in
        dronewalld)
            ip netns exec "$NS" "$DWD" --config "$TMP/dronewall.conf" --catalogue rules/vendors \
                --db "$TMP/side.db" --group root 2>"$TMP/side.log" &
            PID=$!
            for _ in $(seq 100); do grep -qs "logging blocked flows" "$TMP/side.log" && break; sleep 0.1; done
            grep -qs "logging blocked flows" "$TMP/side.log" || { cat "$TMP/side.log" >&2; return 1; }
            ;;
        ulogd2)
            rm -f "$TMP"/ulogd.db* "$TMP/ulogd.log"
            python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).executescript(sys.argv[2])' "$TMP/ulogd.db" "$ULOGD_TABLE"
            ip netns exec "$NS" "$ULOGD" -c "$TMP/ulogd.conf" </dev/null >/dev/null 2>&1 &
            PID=$!
            for _ in $(seq 100); do grep -qs "entering main loop" "$TMP/ulogd.log" && break; sleep 0.1; done
            grep -qs "entering main loop" "$TMP/ulogd.log" || { cat "$TMP/ulogd.log" >&2; return 1; }
            ;;
    esac
    add_flood_rule
}

stop_side() { # again: nothing (the climb stops a side that a step stopped)
    [ -n "$PID" ] || return 0
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
    teardown_namespace
}

# Events in the side's database; what it stores for them (flow records or rows).
recorded() {
    case $1 in
        dronewalld) sql "$TMP/side.db" "select sum(packets) from flow" ;;
        ulogd2) sql "$TMP/ulogd.db" "select count(*) from blocked" ;;
    esac
}
stored() {
    case $1 in
        dronewalld) sql "$TMP/side.db" "select count(*) from flow" ;;
        ulogd2) sql "$TMP/ulogd.db" "select count(*) from blocked" ;;
    esac
}
logged() { ip netns exec "$NS" nft list chain inet dwbench out | grep -o 'packets [0-9]*' | cut -d' ' -f2; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# Nanoseconds each thread waited runnable for a CPU (/proc/PID/task/TID/schedstat, 2nd field): on
# a shared machine the share of CPU a logger gets, not only what it costs, sets when it loses.
run_waits() { for t in /proc/"$PID"/task/*; do echo "${t##*/} $(cut -d' ' -f2 "$t/schedstat" 2>/dev/null || echo 0)"; done; }
waited() { # waited BEFORE AFTER: seconds waited since BEFORE (threads started since: all of theirs)
    awk 'NR == FNR {b[$1] = $2; next} {s += $2 - ($1 in b ? b[$1] : 0)} END {printf "%.2f", s / 1e9}' <(echo "$1") <(echo "$2")
}
# Batches the kernel could not queue on the group's socket (netlink_overrun: sk_drops), from
# /proc/net/netlink (column Drops) of the socket nfnetlink_log names as the group's owner.
socket_drops() {
    local port
    port=$(awk -v g="$GROUP" '$1 == g {print $2}' "/proc/$PID/net/netfilter/nfnetlink_log")
    awk -v p="$port" '$2 == 12 && $3 == p {print $9}' "/proc/$PID/net/netlink"
}

HZ=$(getconf CLK_TCK)
declare -A CPU10K   # side:rate -> CPU s per 10k events in this round
step() { # step SIDE RATE: one flood; prints its line; returns 0 when the rate held; LATE: events late
    local side=$1 rate=$2 c0 r0 t0 d0 sent c1 r1 t1 d1 ontime= rec last still=0 lost drops cpu per10k senders=()
    local fin now deadline w0 w1
    c0=$(logged); r0=$(recorded "$side"); t0=$(cpu_ticks); d0=$(socket_drops); w0=$(run_waits)
    # SENDERS processes share the rate (one Python sender tops out near 130k datagrams/s).
    for _ in $(seq "$SENDERS"); do
        ip netns exec "$NS" python3 bench/udp_pace.py $((rate / SENDERS)) "$SECONDS_PER_STEP" "$FLOWS" >/dev/null &
        senders+=($!)
    done
    wait "${senders[@]}"
    c1=$(logged); sent=$((c1 - c0)); last=$r0
    fin=${EPOCHREALTIME/./}; deadline=$((fin + DEADLINE_US))
    # Until everything is in; what is not may still be queued (socket, writer): wait while the
    # count grows, DRAIN seconds at most.
    while [ $((last - r0)) -lt "$sent" ]; do
        sleep 0.25
        r1=$(recorded "$side"); now=${EPOCHREALTIME/./}
        if [ "$r1" -gt "$last" ]; then last=$r1; still=0; else still=$((still + 1)); fi
        [ "$now" -gt "$deadline" ] || ontime=$last
        [ "$now" -gt "$deadline" ] && [ "$still" -ge 4 ] && break
        [ "$now" -gt $((fin + DRAIN * 1000000)) ] && break
    done
    t1=$(cpu_ticks); d1=$(socket_drops); w1=$(run_waits)
    if [ $((last - r0)) -lt "$sent" ]; then
        # Missing: stop the side, which ends the climb. dronewalld on SIGTERM writes all it
        # received (a writer still busy with a large batch is not loss); ulogd2 writes each row
        # as it reads it, so a count that stopped growing is all it has.
        stop_side
        last=$(recorded "$side")
    fi
    rec=$((last - r0)); ontime=$(( ${ontime:-$last} - r0 )); lost=$((sent - rec)); drops=$((d1 - d0))
    LATE=$((rec - ontime))
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}')
    per10k=$(awk -v c="$cpu" -v n="$rec" 'BEGIN {printf "%.3f", (n > 0 ? c / n * 10000 : 0)}')
    CPU10K[$side:$rate]=$per10k
    printf '%5s %-10s %8s %9s %9s %8s %8s %6s %7s %7s %9s %9s\n' "$ROUND" "$side" "$rate" "$sent" "$ontime" \
        "$LATE" "$lost" "$drops" "$cpu" "$(waited "$w0" "$w1")" "$per10k" "$(stored "$side")"
    [ "$lost" = 0 ] && [ "$drops" = 0 ]
}

climb() { # climb SIDE START: highest step index held (-1: none) in HELD, held with nothing late in ONTIME
    local side=$1 i=$2
    HELD=-1; ONTIME=-1
    start_side "$side"
    while [ "$i" -ge 0 ] && [ "$i" -lt ${#STEPS[@]} ]; do
        if step "$side" "${STEPS[$i]}"; then
            HELD=$i; i=$((i + 1))
            [ "$LATE" != 0 ] || ONTIME=$((i - 1))
        elif [ "$HELD" -ge 0 ] || [ "$i" = 0 ]; then
            break
        else
            # Even the start failed: what it left queued would count against the step below.
            stop_side; start_side "$side"; i=$((i - 1))
        fi
    done
    stop_side
}

printf 'same flood to both: %s (destination, port) pairs, %ss per step; on time: recorded within %ss after it; steps %s events/s, from %s\n' \
    "$FLOWS" "$SECONDS_PER_STEP" "$DEADLINE" "${STEPS[*]}" "$FIRST"
printf '%5s %-10s %8s %9s %9s %8s %8s %6s %7s %7s %9s %9s\n' round side rate/s sent "on time" late lost drops "CPU s" "wait s" "CPU/10k" stored
rate() { if [ "$1" -ge 0 ]; then echo "${STEPS[$1]}"; else echo 0; fi; }
START=0
for i in "${!STEPS[@]}"; do [ "${STEPS[$i]}" != "$FIRST" ] || START=$i; done
for ROUND in $(seq "$ROUNDS"); do
    CPU10K=()
    climb dronewalld "$START"; dw=$HELD; dw_ontime=$ONTIME
    climb ulogd2 "$START"; ul=$HELD; ul_ontime=$ONTIME
    echo "dw-rate $(rate "$dw")" >> "$SAMPLES_OUT"
    echo "ulogd-rate $(rate "$ul")" >> "$SAMPLES_OUT"
    # Known only when the climb passed a step on time (it may have started above that).
    [ "$dw_ontime" -lt 0 ] || echo "dw-ontime $(rate "$dw_ontime")" >> "$SAMPLES_OUT"
    [ "$ul_ontime" -lt 0 ] || echo "ulogd-ontime $(rate "$ul_ontime")" >> "$SAMPLES_OUT"
    both=$(( dw < ul ? dw : ul ))
    # Only when both ran that step (a side that went below the start did not).
    if [ "$both" -ge 0 ] && [ -n "${CPU10K[dronewalld:${STEPS[$both]}]:-}" ] && [ -n "${CPU10K[ulogd2:${STEPS[$both]}]:-}" ]; then
        echo "dw-cpu ${CPU10K[dronewalld:${STEPS[$both]}]:-}" >> "$SAMPLES_OUT"
        echo "ulogd-cpu ${CPU10K[ulogd2:${STEPS[$both]}]:-}" >> "$SAMPLES_OUT"
    fi
    START=$(( both > 0 ? both : 0 ))
done
echo "stored: dronewalld one flow record per (destination, port) and minute with its packet count;"\
     "ulogd2 one row per packet"
