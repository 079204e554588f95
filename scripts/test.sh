#!/usr/bin/env bash
# The test command: unit, golden and fake-netlink tests (swift test), then the root lab
# tests in network namespaces (skipped with a reason when not root).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
swift build 2>&1 | tail -3
swift test 2>&1 | tee /tmp/dronewall-swift-test.log | grep -vE '^\[[0-9]+/[0-9]+\]|^(Test Case|Test Suite) .*(started|passed)' 
unit=${PIPESTATUS[0]}
bash lab/lab-test.sh
lab=$?
if [ "$unit" != 0 ] || [ "$lab" != 0 ]; then echo "tests failed (swift test: $unit, lab: $lab)"; exit 1; fi
