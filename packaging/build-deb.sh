#!/usr/bin/env bash
# Builds dronewall_<version>_amd64.deb into ./dist: a release build with the Swift runtime
# linked statically, so the package runs on Debian 12 without the Swift toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${VERSION:-0.1.0}"
ARCH=amd64
swift build -c release --static-swift-stdlib --product dronewall
swift build -c release --static-swift-stdlib --product dronewalld
BIN=.build/release/dronewall
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
install -d "$ROOT/DEBIAN" "$ROOT/usr/sbin" "$ROOT/usr/share/dronewall/vendors" \
    "$ROOT/usr/share/dronewall/examples" "$ROOT/etc/dronewall/drones.d" "$ROOT/etc/dronewall/vendors.d" \
    "$ROOT/lib/systemd/system" "$ROOT/usr/share/man/man8" "$ROOT/usr/share/doc/dronewall"
install -m 0755 "$BIN" "$ROOT/usr/sbin/dronewall"
install -m 0755 .build/release/dronewalld "$ROOT/usr/sbin/dronewalld"
strip "$ROOT/usr/sbin/dronewall" "$ROOT/usr/sbin/dronewalld"
install -m 0644 rules/vendors/*.rules rules/vendors/VERSION "$ROOT/usr/share/dronewall/vendors/"
install -m 0644 rules/resolvers.rules "$ROOT/usr/share/dronewall/"
install -m 0644 rules/examples/dronewall.conf "$ROOT/usr/share/dronewall/examples/"
install -m 0644 rules/examples/dronewall.conf "$ROOT/etc/dronewall/dronewall.conf"
install -m 0644 packaging/dronewall.service packaging/dronewalld.service "$ROOT/lib/systemd/system/"
gzip -9n -c packaging/dronewall.8 > "$ROOT/usr/share/man/man8/dronewall.8.gz"
install -m 0644 README.md "$ROOT/usr/share/doc/dronewall/"
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" \
    -e "s/@SIZE@/$(du -sk "$ROOT" | cut -f1)/" packaging/debian/control > "$ROOT/DEBIAN/control"
install -m 0644 packaging/debian/conffiles "$ROOT/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst "$ROOT/DEBIAN/postinst"
mkdir -p dist
dpkg-deb --root-owner-group --build "$ROOT" "dist/dronewall_${VERSION}_${ARCH}.deb"
