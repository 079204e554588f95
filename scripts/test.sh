#!/usr/bin/env bash
# The test command: unit, golden and fake-netlink tests (swift test), the root lab tests in
# network namespaces (policy and flow log, then the station resolver; skipped with a reason when
# not root), the .deb package test and a bounded fuzz run of the DNS and config parsers. The last
# line sums all of them as "N passed, N failed".
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

# Totals: XCTest's last "Executed N tests, with M failures", Swift Testing's
# "Test run with N tests ... passed|failed ... with M issues", the lab's own line.
xc=$(grep -E '^\s*Executed [0-9]+ tests?' "$LOG" | tail -1 | sed -E 's/.*Executed ([0-9]+) tests?, with ([0-9]+) failures?.*/\1 \2/' || true)
st=$(grep -E 'Test run with [0-9]+ tests?' "$LOG" | tail -1 || true)
st_n=$(echo "$st" | sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/')
st_f=$(echo "$st" | grep -oE 'with [0-9]+ issues?' | grep -oE '[0-9]+' || true)
# Script suites (lab, deb) each end with "NAME: N passed, N failed".
lab_p=0; lab_f=0
while read -r _ p _ f _; do lab_p=$((lab_p + p)); lab_f=$((lab_f + f)); done \
    < <(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$LOG.lab")
read -r xc_n xc_f <<<"${xc:-0 0}"
failed=$(( xc_f + ${st_f:-0} + lab_f ))
passed=$(( xc_n - xc_f + ${st_n:-0} - ${st_f:-0} + lab_p ))
if [ "$unit" != 0 ] || [ "$lab" != 0 ]; then
    echo "tests failed (swift test exit $unit, lab exit $lab)"
    [ "$failed" = 0 ] && failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
