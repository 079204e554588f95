#!/usr/bin/env bash
# Fuzzes the parsers that read untrusted or hand-written input, with libFuzzer:
#   dns-fuzz     DNSWire's message parser (+ encode/re-parse round trip, responses)
#   config-fuzz  DronewallConfig's INI parser, config reader (with drop-ins), catalogue reader
#
# usage: scripts/fuzz.sh [SECONDS]      each target runs SECONDS (default 60)
#
# Builds into .build-fuzz (release, with -sanitize=fuzzer -DFUZZING), so the normal .build is
# untouched. Seeds come from Fuzz/corpus/<target>/ (committed, never written); what the fuzzer
# finds goes to .build-fuzz/corpus/<target>/ and is reused by the next run. Exits non-zero if
# a target crashes, traps, times out (-timeout, an endless loop) or exceeds -rss_limit_mb
# (unbounded allocation), and prints the input that did it. Reproduce without the fuzzer:
#   swift build && .build/debug/dns-fuzz PATH
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
SECS=${1:-60}
case "$SECS" in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac

SCRATCH=.build-fuzz
# A Swift trap must reach libFuzzer's signal handler (which saves the input), not Swift's backtracer.
export SWIFT_BACKTRACE=enable=no

failed=0
for target in dns-fuzz config-fuzz; do
    echo "== building $target"
    mkdir -p "$SCRATCH"
    if ! swift build -c release --scratch-path "$SCRATCH" --product "$target" \
            -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING >"$SCRATCH/build-$target.log" 2>&1; then
        grep -vE '^\[[0-9]+/[0-9]+\]' "$SCRATCH/build-$target.log" | tail -30 >&2
        echo "$target: build failed" >&2
        exit 1
    fi
    tail -1 "$SCRATCH/build-$target.log"
done

for target in dns-fuzz config-fuzz; do
    name=${target%-fuzz}
    case "$name" in
        dns) max_len=1500 ;;    # above the 1232-byte EDNS payload the resolver announces
        config) max_len=4096 ;;
    esac
    work="$SCRATCH/corpus/$name"
    artifacts="$SCRATCH/artifacts/$name/"
    mkdir -p "$work" "$artifacts"
    log="$SCRATCH/$name.log"
    echo "== fuzzing $target for ${SECS}s (seeds Fuzz/corpus/$name, corpus $work)"
    "$SCRATCH/release/$target" "$work" "Fuzz/corpus/$name" \
        -max_total_time="$SECS" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    grep -E '^(INFO: seed|#[0-9]+[[:space:]]+(INITED|DONE))|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb|new_units_added)' "$log"
    if [ "$rc" != 0 ]; then
        failed=1
        echo "$target: FAILED (exit $rc); last lines of $log:" >&2
        grep -vE '^#[0-9]+ ' "$log" | tail -25 >&2
        input=$(grep -oE "Test unit written to .*" "$log" | tail -1 | sed 's/Test unit written to //')
        echo "$target: crashing input: ${input:-none saved, see $log}" >&2
    else
        echo "$target: ok"
    fi
done
exit "$failed"
