#!/usr/bin/env bash
# Builds dist/dronewall_<version>_amd64.deb with debhelper (packaging/debian, dh compat 13): a
# release build with the Swift runtime linked statically, so the package runs on Debian 12
# without the Swift toolchain. VERSION=x.y.z builds another version (a changelog entry is added
# to the scratch copy), as the package test does for its upgrade.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
CHANGELOG_VERSION=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
VERSION="${VERSION:-$CHANGELOG_VERSION}"
# dpkg-buildpackage wants debian/ at the top of the source tree and writes beside it: a scratch
# tree of symlinks to this one, with a copy of packaging/debian as debian/.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
TREE="$WORK/dronewall-$VERSION"
mkdir "$TREE"
for f in Package.swift rules packaging; do ln -s "$SRC/$f" "$TREE/$f"; done
cp README.md "$TREE/"
cp -r packaging/debian "$TREE/debian"
if [ "$VERSION" != "$CHANGELOG_VERSION" ]; then
    { printf 'dronewall (%s) unstable; urgency=medium\n\n  * Build of %s.\n\n -- %s  %s\n\n' \
        "$VERSION" "$VERSION" "dronewall developers <dronewall@example.org>" "$(date -R)"
      cat packaging/debian/changelog; } > "$TREE/debian/changelog"
fi
(cd "$TREE" && dpkg-buildpackage --build=binary --no-sign)
mkdir -p dist
mv "$WORK"/dronewall_"$VERSION"_*.deb dist/
ls dist/dronewall_"$VERSION"_*.deb
