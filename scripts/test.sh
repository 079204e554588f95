#!/usr/bin/env bash
# The test command: unit, golden and fake-netlink tests (swift test), then the root lab
# tests in network namespaces (skipped with a reason when not root). The last line sums
# all of them as "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
LOG=$(mktemp)
trap 'rm -f "$LOG" "$LOG.lab"' EXIT
swift build 2>&1 | tail -1
# Progress lines of the build are dropped; every test line is kept.
swift test 2>&1 | tee "$LOG" | grep -vE '^\[[0-9]+/[0-9]+\]'
unit=${PIPESTATUS[0]}
bash lab/lab-test.sh 2>&1 | tee "$LOG.lab"
lab=${PIPESTATUS[0]}

# Totals: XCTest's last "Executed N tests, with M failures", Swift Testing's
# "Test run with N tests ... passed|failed ... with M issues", the lab's own line.
xc=$(grep -E '^\s*Executed [0-9]+ tests?' "$LOG" | tail -1 | sed -E 's/.*Executed ([0-9]+) tests?, with ([0-9]+) failures?.*/\1 \2/')
st=$(grep -E 'Test run with [0-9]+ tests?' "$LOG" | tail -1)
st_n=$(echo "$st" | sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/')
st_f=$(echo "$st" | grep -oE 'with [0-9]+ issues?' | grep -oE '[0-9]+' || true)
lab_line=$(grep -E '^lab: [0-9]+ passed, [0-9]+ failed' "$LOG.lab" | tail -1 | sed 's/^lab: //')
read -r xc_n xc_f <<<"${xc:-0 0}"
lab_p=$(echo "${lab_line:-0 passed, 0 failed}" | awk '{print $1}'); lab_f=$(echo "${lab_line:-0 passed, 0 failed}" | awk '{print $3}')
failed=$(( xc_f + ${st_f:-0} + lab_f ))
passed=$(( xc_n - xc_f + ${st_n:-0} - ${st_f:-0} + lab_p ))
if [ "$unit" != 0 ] || [ "$lab" != 0 ]; then
    echo "tests failed (swift test exit $unit, lab exit $lab)"
    [ "$failed" = 0 ] && failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
