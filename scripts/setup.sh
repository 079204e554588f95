#!/usr/bin/env bash
# Installs the system packages dronewall builds, tests and demos with (Debian 12, as root).
# The Swift toolchain itself is expected at /opt/swift or on PATH.
set -euo pipefail
# The one list of system packages (also read by .ci/run).
read -r -a PACKAGES < "$(dirname "${BASH_SOURCE[0]}")/packages.txt"
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then echo "setup: need root to install: ${missing[*]}" >&2; exit 1; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null; then
    [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH" || { echo "setup: no swift toolchain" >&2; exit 1; }
fi
