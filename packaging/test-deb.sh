#!/usr/bin/env bash
# Package test (root): builds the .deb with packaging/build-deb.sh and checks it with lintian
# (no error, no warning), then checks what a Debian 12 station without Swift gets: the binaries
# link no Swift runtime, the hardened dronewalld.service passes `systemd-analyze verify` with an
# exposure below 3.0, and an install -> upgrade -> remove -> purge cycle in a throwaway Debian 12
# root (debootstrap from the configured apt source, in a network namespace of its own, no
# systemd inside: systemctl and deb-systemd-invoke are stand-ins that record their calls) leaves
# the files, modes, conffile, group, service state and table inet dronewall where README says.
# Downloaded .debs are kept in /tmp/dronewall-debootstrap-cache; the root is removed, also on
# failure. Prints the time taken and "deb: N passed, N failed" last.
set -u
cd "$(dirname "$0")/.."
START=$(date +%s)
PASS=0; FAIL=0
ok()   { PASS=$((PASS + 1)); echo "ok   $*"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
lacks() { ! grep -q -- "$1" <<<"$2"; }
finish() {
    echo "deb test took $(( $(date +%s) - START )) s"
    echo "deb: $PASS passed, $FAIL failed"
    [ "$FAIL" = 0 ]; exit $?
}
X=$(mktemp -d /tmp/dronewall-debtest.XXXXXX)
ROOT="$X/root"
NS="dwdeb-$$-$RANDOM"
DPID=
cleanup() {
    [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
    for m in proc; do mountpoint -q "$ROOT/$m" 2>/dev/null && umount -l "$ROOT/$m"; done
    ip netns del "$NS" 2>/dev/null
    rm -rf "$X"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "deb test needs root (debootstrap, chroot, network namespace)"; fail "not root"; finish; }

if ! bash packaging/build-deb.sh >"$X/build.log" 2>&1; then
    tail -20 "$X/build.log"; fail "build-deb.sh"; finish
fi
VERSION=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
DEB=dist/dronewall_${VERSION}_amd64.deb
ok "built $DEB ($(du -h "$DEB" | cut -f1), $(stat -c %s "$DEB") bytes)"

# lintian: no error and no warning (informational tags are printed, not counted).
lintian --display-info "$DEB" >"$X/lintian" 2>&1
sed 's/^/    /' "$X/lintian"
check "lintian: $(grep -c '^E:' "$X/lintian") errors, $(grep -c '^W:' "$X/lintian") warnings" \
    bash -c "! grep -qE '^(E|W):' '$X/lintian'"

dpkg-deb -x "$DEB" "$X/pkg"
dpkg-deb -I "$DEB" control > "$X/control"
check "control depends on libnftnl11 and adduser" \
    bash -c "grep -q '^Depends:.*libnftnl11' '$X/control' && grep -q '^Depends:.*adduser' '$X/control'"
for b in dronewall dronewalld; do
    check "$b needs no Swift runtime" bash -c "! ldd '$X/pkg/usr/sbin/$b' | grep -qi swift"
done

# The units as shipped: verify against the package's own binaries and man pages (plus the
# host's units for the targets they name), and their exposure.
U="$X/pkg/lib/systemd/system"
cp -rn /lib/systemd/system/. "$U/"
if MANPATH="$X/pkg/usr/share/man" systemd-analyze verify --root="$X/pkg" "$U/dronewalld.service" "$U/dronewall.service" \
        >"$X/verify" 2>&1; then
    ok "systemd-analyze verify: clean"
else
    fail "systemd-analyze verify: $(cat "$X/verify")"
fi
for unit in dronewalld dronewall; do
    exposure=$(systemd-analyze security --offline=true "$U/$unit.service" 2>/dev/null \
               | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    check "$unit.service exposure ${exposure:-?} below 3.0" \
        python3 -c "import sys; sys.exit(0 if '$exposure' and float('$exposure') < 3.0 else 1)"
done

# The same package one version up, for the upgrade: repacked, not rebuilt.
UPVERSION="$VERSION.1"
dpkg-deb -R "$DEB" "$X/up"
sed -i "s/^Version: .*/Version: $UPVERSION/" "$X/up/DEBIAN/control"
dpkg-deb --root-owner-group -Znone -b "$X/up" "$X/up.deb" >/dev/null && rm -rf "$X/up"

# A Debian 12 root from the configured apt source, with the package's dependencies.
MIRROR=$(python3 - <<'EOF'
import glob, re
files = ['/etc/apt/sources.list'] + sorted(glob.glob('/etc/apt/sources.list.d/*.list')
                                           + glob.glob('/etc/apt/sources.list.d/*.sources'))
for f in files:
    try: text = open(f).read()
    except OSError: continue
    for stanza in re.split(r'\n\s*\n', text):            # deb822
        fields = dict((k.lower(), v.strip()) for k, v in re.findall(r'^([A-Za-z-]+):(.*)$', stanza, re.M))
        if 'deb' in fields.get('types', '').split() and 'bookworm' in fields.get('suites', '').split() \
                and fields.get('enabled', 'yes') != 'no':
            print(fields['uris'].split()[0]); raise SystemExit
    for line in text.splitlines():                       # one-line format
        m = re.match(r'\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s', line)
        if m: print(m.group(1)); raise SystemExit
EOF
)
[ -n "$MIRROR" ] || { fail "no bookworm source in /etc/apt/sources.list(.d)"; finish; }
CACHE=/tmp/dronewall-debootstrap-cache
mkdir -p "$CACHE"
T0=$(date +%s)
if ! debootstrap --variant=minbase --cache-dir="$CACHE" \
        --include=adduser,init-system-helpers,libnftnl11,libmnl0,libsqlite3-0,nftables \
        bookworm "$ROOT" "$MIRROR" >"$X/debootstrap.log" 2>&1; then
    tail -5 "$X/debootstrap.log"; fail "debootstrap bookworm from $MIRROR"; finish
fi
ok "debootstrap bookworm from $MIRROR ($(( $(date +%s) - T0 )) s)"
mount -t proc proc "$ROOT/proc"
ip netns add "$NS"
ip -n "$NS" link set lo up
cp "$DEB" "$ROOT/tmp/v1.deb"; cp "$X/up.deb" "$ROOT/tmp/v2.deb"
# Maintainer scripts see a running systemd (/run/systemd/system) and call these stand-ins.
mkdir -p "$ROOT/run/systemd/system" "$ROOT/usr/local/sbin"
for tool in systemctl deb-systemd-invoke; do
    printf '#!/bin/sh\necho "%s $*" >> /tmp/systemd-calls\n' "$tool" > "$ROOT/usr/local/sbin/$tool"
    chmod 0755 "$ROOT/usr/local/sbin/$tool"
done
in_root() { ip netns exec "$NS" chroot "$ROOT" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
calls() { cat "$ROOT/tmp/systemd-calls" 2>/dev/null; : > "$ROOT/tmp/systemd-calls"; }
WANTS=/etc/systemd/system/multi-user.target.wants/dronewalld.service
table() { ip netns exec "$NS" nft list table inet dronewall >/dev/null 2>&1; }
check "no Swift toolchain or runtime in the root" test -z "$(find "$ROOT" -xdev \( -name 'swift*' -o -name 'libswift*' -o -name 'libFoundation*' \) -print -quit)"

# A configuration that fails `dronewall check`: installed, but dronewalld not enabled nor started.
mkdir -p "$ROOT/etc/dronewall"
printf '[station]\nno-such-key = 1\n' > "$ROOT/etc/dronewall/dronewall.conf"
in_root dpkg -i --force-confold /tmp/v1.deb >"$X/dpkg.log" 2>&1
check "install with a failing config: not enabled" test ! -L "$ROOT$WANTS"
check "install with a failing config: not started" lacks "start dronewalld" "$(calls)"
check "install with a failing config: says why" grep -q "does not pass 'dronewall check'" "$X/dpkg.log"
in_root dpkg --purge dronewall >/dev/null 2>&1
calls >/dev/null

# Install with the shipped example config.
if in_root dpkg -i /tmp/v1.deb >"$X/dpkg.log" 2>&1; then ok "install $VERSION"; else fail "install: $(cat "$X/dpkg.log")"; fi
c=$(calls)
check "install enables dronewalld" test -L "$ROOT$WANTS"
check "install starts dronewalld" grep -q "deb-systemd-invoke start dronewalld.service" <<<"$c"
check "group dronewall exists" bash -c "grep -q '^dronewall:' '$ROOT/etc/group'"
check "/var/lib/dronewall is 0750 root:dronewall" test "$(in_root stat -c '%a %U:%G' /var/lib/dronewall)" = "750 root:dronewall"
for f in "/usr/sbin/dronewall 755" "/usr/sbin/dronewalld 755" "/etc/dronewall/dronewall.conf 644" \
         "/usr/share/dronewall/vendors/dji.rules 644" "/usr/share/dronewall/resolvers.rules 644" \
         "/lib/systemd/system/dronewalld.service 644" "/lib/systemd/system/dronewall.service 644" \
         "/usr/share/man/man8/dronewall.8.gz 644" "/usr/share/man/man8/dronewalld.8.gz 644" \
         "/usr/share/man/man5/dronewall.conf.5.gz 644" "/usr/share/man/man5/dronewall.rules.5.gz 644" \
         "/usr/share/bash-completion/completions/dronewall 644" "/usr/share/zsh/vendor-completions/_dronewall 644" \
         "/usr/share/fish/vendor_completions.d/dronewall.fish 644" "/usr/share/doc/dronewall/copyright 644"; do
    set -- $f
    check "$1 is mode $2, root:root" test "$(stat -c '%a %U:%G' "$ROOT$1" 2>/dev/null)" = "$2 root:root"
done
check "dronewall.conf is a conffile" grep -q /etc/dronewall/dronewall.conf <<<"$(in_root dpkg-query -W -f='${Conffiles}' dronewall)"
check "drones.d/ and vendors.d/ exist" test -d "$ROOT/etc/dronewall/drones.d" -a -d "$ROOT/etc/dronewall/vendors.d"
check "dronewall --help runs without the toolchain" grep -q 'USAGE: dronewall' <<<"$(in_root dronewall --help)"
check "dronewalld --help runs without the toolchain" grep -q 'USAGE: dronewalld' <<<"$(in_root dronewalld --help)"
check "dronewall check passes on the example config" in_root dronewall check
# The daemon as dronewalld.service confines it: CAP_NET_ADMIN only, no new privileges, group
# dronewall. It applies the table, writes its log and stops cleanly on SIGTERM.
GID=$(in_root getent group dronewall | cut -d: -f3)
ip netns exec "$NS" chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    setpriv --bounding-set=-all,+net_admin --inh-caps=-all --no-new-privs --regid="$GID" --clear-groups \
    dronewalld >"$X/daemon.log" 2>&1 &
DPID=$!
for _ in $(seq 50); do grep -q "resolving names" "$X/daemon.log" && break; sleep 0.2; done
sleep 1
kill -TERM "$DPID" 2>/dev/null; wait "$DPID"; rc=$?; DPID=
check "dronewalld with only CAP_NET_ADMIN and group dronewall runs and stops cleanly (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/    /' "$X/daemon.log"
check "dronewalld applied table inet dronewall" table
check "flows.db is 0640 root:dronewall" test "$(in_root stat -c '%a %U:%G' /var/lib/dronewall/flows.db 2>/dev/null)" = "640 root:dronewall"

# Upgrade with an edited conffile: the edit stays, the daemon is restarted.
echo "# local edit before the upgrade" >> "$ROOT/etc/dronewall/dronewall.conf"
if in_root dpkg -i /tmp/v2.deb >"$X/dpkg.log" 2>&1; then ok "upgrade to $UPVERSION"; else fail "upgrade: $(cat "$X/dpkg.log")"; fi
c=$(calls)
check "upgrade installed $UPVERSION" test "$(in_root dpkg-query -W -f='${Version}' dronewall)" = "$UPVERSION"
check "upgrade keeps the edited conffile" grep -q "local edit before the upgrade" "$ROOT/etc/dronewall/dronewall.conf"
check "upgrade restarts dronewalld" grep -q "deb-systemd-invoke restart.*dronewalld.service" <<<"$c"
check "upgrade keeps dronewalld enabled" test -L "$ROOT$WANTS"

# Remove: the daemon is stopped, the rules stay, state and config stay.
if in_root dpkg -r dronewall >"$X/dpkg.log" 2>&1; then ok "remove"; else fail "remove: $(cat "$X/dpkg.log")"; fi
c=$(calls)
check "remove stops dronewalld" grep -q "deb-systemd-invoke stop.*dronewalld.service" <<<"$c"
check "remove leaves table inet dronewall in force" table
check "remove takes the binaries" test ! -e "$ROOT/usr/sbin/dronewall" -a ! -e "$ROOT/usr/sbin/dronewalld"
check "remove keeps the conffile, the state and the group" \
    bash -c "test -f '$ROOT/etc/dronewall/dronewall.conf' && test -d '$ROOT/var/lib/dronewall' && grep -q '^dronewall:' '$ROOT/etc/group'"

# Purge: state, group, table and conffile go.
if in_root dpkg --purge dronewall >"$X/dpkg.log" 2>&1; then ok "purge"; else fail "purge: $(cat "$X/dpkg.log")"; fi
check "purge deletes table inet dronewall" bash -c "! ip netns exec '$NS' nft list table inet dronewall >/dev/null 2>&1"
check "purge removes /var/lib/dronewall" test ! -e "$ROOT/var/lib/dronewall"
check "purge removes group dronewall" bash -c "! grep -q '^dronewall:' '$ROOT/etc/group'"
check "purge removes /etc/dronewall and the enablement" test ! -e "$ROOT/etc/dronewall" -a ! -L "$ROOT$WANTS"
finish
