#!/usr/bin/env bash
# Package test: builds the .deb, then checks what a Debian 12 station without Swift needs:
# the binary links no Swift runtime, every file lands where README and the man page say,
# and the packaged binary checks the packaged example config against the packaged catalogue.
# Prints "deb: N passed, N failed" last.
set -u
cd "$(dirname "$0")/.."
PASS=0; FAIL=0
ok()   { PASS=$((PASS + 1)); echo "ok   $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
X=$(mktemp -d); trap 'rm -rf "$X"' EXIT
if ! bash packaging/build-deb.sh >"$X/build.log" 2>&1; then
    tail -20 "$X/build.log"; fail "build-deb.sh"; echo "deb: $PASS passed, $FAIL failed"; exit 1
fi
DEB=$(ls -t dist/dronewall_*_amd64.deb | head -1)
ok "built $DEB ($(du -h "$DEB" | cut -f1))"
dpkg-deb -x "$DEB" "$X/root"
dpkg-deb -I "$DEB" control > "$X/control"
grep -q '^Depends:.*libnftnl11' "$X/control" && ok "control depends on libnftnl11" || fail "control: $(cat "$X/control")"
for b in dronewall dronewalld; do
    if ldd "$X/root/usr/sbin/$b" | grep -qi swift; then fail "$b links Swift libraries: $(ldd "$X/root/usr/sbin/$b" | grep -i swift)"
    else ok "$b needs no Swift runtime"; fi
done
dpkg-deb --ctrl-tarfile "$DEB" | tar -tf - | grep -q postinst && ok "postinst creates the dronewall group and log directory" \
    || fail "no postinst"
for f in usr/sbin/dronewall usr/sbin/dronewalld usr/share/dronewall/vendors/dji.rules etc/dronewall/dronewall.conf \
         lib/systemd/system/dronewall.service lib/systemd/system/dronewalld.service usr/share/man/man8/dronewall.8.gz; do
    [ -e "$X/root/$f" ] && ok "ships /$f" || fail "missing /$f"
done
# Run with a scrubbed environment, as on a station without the toolchain.
out=$(env -i "$X/root/usr/sbin/dronewall" check --config "$X/root/etc/dronewall/dronewall.conf" \
      --catalogue "$X/root/usr/share/dronewall/vendors" 2>/dev/null); rc=$?
[ "$rc" = 0 ] && ok "packaged binary checks the packaged config: $out" || fail "packaged check exited $rc"
echo "deb: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
