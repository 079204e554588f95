#!/usr/bin/env bash
# The test command: unit, golden and fake-netlink tests (swift test), the root lab tests in
# network namespaces (policy and flow log, then the station resolver; skipped with a reason when
# not root), the .deb package test and a bounded fuzz run of the DNS and config parsers. The last
# line sums all of them as "N passed, N failed" (and ", N skipped" when some were skipped).
set -uo pipefail
cd "$(dirname "$0")/.."
# Setup runs in its own shell (its `set -e` must not end this script early); PATH for swift here.
bash scripts/setup.sh || exit 1
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
LOG=$(mktemp)
trap 'rm -f "$LOG" "$LOG.lab" "$LOG.fuzz"' EXIT
swift build 2>&1 | tail -1
# Progress lines of the build are dropped; every test line is kept.
swift test 2>&1 | tee "$LOG" | grep -vE '^\[[0-9]+/[0-9]+\]'
unit=${PIPESTATUS[0]}
bash lab/lab-test.sh 2>&1 | tee "$LOG.lab"
lab=${PIPESTATUS[0]}
bash lab/dns-test.sh 2>&1 | tee -a "$LOG.lab"
[ "${PIPESTATUS[0]}" = 0 ] || lab=1
bash packaging/test-deb.sh 2>&1 | tee -a "$LOG.lab"
[ "${PIPESTATUS[0]}" = 0 ] || lab=1
# The DNS and config parsers under libFuzzer, for a bounded time each (FUZZ_SECONDS, default 30).
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}" 2>&1 | tee "$LOG.fuzz"
[ "${PIPESTATUS[0]}" = 0 ] || lab=1
echo "fuzz: $(grep -c -- '-fuzz: ok$' "$LOG.fuzz") passed, $(grep -c -- '-fuzz: FAILED' "$LOG.fuzz") failed" | tee -a "$LOG.lab"

# Totals. Swift Testing prints a line per test: "✔ Test NAME passed after ...", "✘ Test NAME failed
# after ...", "➜ Test NAME skipped: ..." or "➜ Test NAME was cancelled after ...". Its last line ("Test run
# with N tests ... passed") counts skipped tests too, so the sums come from the per-test lines, and a
# skipped or cancelled test (root suites when not root) is counted as skipped, never as passed.
tests=$(sed -E 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -E '^[^ ]+ Test ' | grep -vE '^[^ ]+ Test (run with|case )' || true)
unit_p=$(grep -c ' passed after ' <<<"$tests" || true)
unit_f=$(grep -c ' failed after ' <<<"$tests" || true)
unit_s=$(grep -cE ' skipped(:|\.|$)| was cancelled after ' <<<"$tests" || true)
echo "unit: $unit_p passed, $unit_f failed, $unit_s skipped"
# Script suites (lab, dns, deb, fuzz) each end with "NAME: N passed, N failed[, N skipped]".
lab_p=0; lab_f=0; lab_s=0
while read -r _ p _ f _ s _; do lab_p=$((lab_p + p)); lab_f=$((lab_f + f)); lab_s=$((lab_s + ${s:-0})); done \
    < <(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$LOG.lab" | tr -d ,)
failed=$(( unit_f + lab_f ))
passed=$(( unit_p + lab_p ))
skipped=$(( unit_s + lab_s ))
if [ "$unit" != 0 ] || [ "$lab" != 0 ]; then
    echo "tests failed (swift test exit $unit, lab exit $lab)"
    [ "$failed" = 0 ] && failed=1
fi
echo "$passed passed, $failed failed$([ "$skipped" = 0 ] || echo ", $skipped skipped")"
[ "$failed" = 0 ]
