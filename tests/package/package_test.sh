#!/bin/bash
# package_test.sh BUILD_DIR SOURCE_DIR VERSION — issue 13: pglive installs like a server.
#
# Builds the .deb the way `make package` does, checks its control data (Depends, Recommends,
# the conffile, the maintainer scripts), unpacks it into a scratch root with dpkg -x, runs the
# unpacked binary (--version, then `demo` on a free port until the dashboard answers from the
# scratch root's share/pglive/dashboard), checks the systemd unit (systemd-analyze verify, and
# a key-by-key syntax check of our own), runs the postinst against stand-in commands, and
# checks `cmake --install` with a DESTDIR and a non-/usr prefix. Every wait polls to a deadline.
set -euo pipefail

BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
VERSION=$3

TMP=$(mktemp -d /tmp/pglive-package-test.XXXXXX)
DEMO_PID=""
cleanup() {
    if [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
        kill -TERM "$DEMO_PID" 2>/dev/null || true
        for _ in $(seq 300); do kill -0 "$DEMO_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DEMO_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

step() { echo "package_test: $*"; }
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }
# poll SECONDS WHAT COMMAND...: runs COMMAND every 0.1 s until it succeeds or SECONDS pass.
poll() {
    local seconds=$1 what=$2; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# ---- the package, as `make package` builds it ----------------------------------------------
ARCH=$(dpkg --print-architecture)
DEB="$BUILD/pglive_${VERSION}_${ARCH}.deb"
rm -f "$DEB"
step "building the package (cmake --build --target package)"
cmake --build "$BUILD" --target package > "$TMP/package.log" 2>&1 || { cat "$TMP/package.log"; fail "cpack failed"; }
[ -f "$DEB" ] || { cat "$TMP/package.log"; fail "no $DEB"; }
step "built $(basename "$DEB") ($(stat -c %s "$DEB") bytes)"

# ---- control data ---------------------------------------------------------------------------
INFO=$(dpkg-deb -I "$DEB")
field() { dpkg-deb -f "$DEB" "$1"; }
[ "$(field Package)" = pglive ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$VERSION" ] || fail "Version: $(field Version), expected $VERSION"
DEPENDS=$(field Depends)
for dep in libpqxx-6.4 libssl3 libstdc++6 libc6 adduser; do
    case ", $DEPENDS," in *", $dep "* | *", $dep,"*) ;; *) fail "Depends lacks $dep: $DEPENDS" ;; esac
done
step "Depends: $DEPENDS"
[ "$(field Recommends)" = postgresql-15 ] || fail "Recommends: $(field Recommends), expected postgresql-15"
step "Recommends: postgresql-15"
CTRL="$TMP/control"
dpkg-deb -e "$DEB" "$CTRL"
[ "$(cat "$CTRL/conffiles")" = /etc/pglive/pglive.conf ] || fail "conffiles: $(cat "$CTRL/conffiles")"
grep -q conffiles <<<"$INFO" || fail "dpkg-deb -I does not list conffiles"
step "conffile: /etc/pglive/pglive.conf"
for s in postinst prerm postrm; do
    [ -x "$CTRL/$s" ] || fail "$s missing or not executable"
    sh -n "$CTRL/$s" || fail "$s: sh syntax error"
done
grep -v '^[[:space:]]*#' "$CTRL/postinst" | grep -Eq 'systemctl (start|restart|enable)|deb-systemd-invoke' && fail "postinst starts or enables the service"
step "maintainer scripts postinst, prerm, postrm: present, executable, sh -n clean"

# ---- the postinst, against stand-in commands ------------------------------------------------
# getent/adduser/chown/chmod/systemctl are replaced by scripts that log their arguments, so the
# real script runs without touching this machine's users.
SHIM="$TMP/shim"; mkdir -p "$SHIM"
for cmd in adduser chown chmod systemctl; do
    printf '#!/bin/sh\necho "%s $*" >> "%s/calls"\n' "$cmd" "$TMP" > "$SHIM/$cmd"
done
printf '#!/bin/sh\n[ -f "%s/user-exists" ]\n' "$TMP" > "$SHIM/getent"
chmod +x "$SHIM"/*
: > "$TMP/calls"
PATH="$SHIM:$PATH" sh "$CTRL/postinst" configure || fail "postinst configure failed (no user yet)"
grep -Eq '^adduser .*--system.* pglive$' "$TMP/calls" || fail "postinst did not create the pglive system user: $(cat "$TMP/calls")"
grep -Eq '^systemctl (start|restart|enable)' "$TMP/calls" && fail "postinst started the service"
touch "$TMP/user-exists"; : > "$TMP/calls"
PATH="$SHIM:$PATH" sh "$CTRL/postinst" configure || fail "postinst configure failed (user exists)"
grep -q '^adduser' "$TMP/calls" && fail "postinst re-created an existing user"
step "postinst: creates the pglive system user only if missing, starts nothing"

# ---- unpacked into a scratch root -----------------------------------------------------------
ROOT="$TMP/root"
dpkg -x "$DEB" "$ROOT"
for f in usr/bin/pglive usr/share/pglive/pglive.sql usr/share/pglive/dashboard/index.html \
         etc/pglive/pglive.conf usr/lib/systemd/system/pglive.service; do
    [ -f "$ROOT/$f" ] || fail "package lacks /$f"
done
cmp -s "$ROOT/usr/share/pglive/pglive.sql" "$SRC/sql/pglive.sql" || fail "pglive.sql differs from sql/pglive.sql"
cmp -s "$ROOT/etc/pglive/pglive.conf" "$SRC/config/pglive.conf" || fail "pglive.conf differs from config/pglive.conf"
diff -r "$ROOT/usr/share/pglive/dashboard" "$SRC/dashboard" > /dev/null || fail "installed dashboard differs from dashboard/"
step "dpkg -x: bin/pglive, share/pglive/{pglive.sql,dashboard/}, /etc/pglive/pglive.conf, the unit"

BIN="$ROOT/usr/bin/pglive"
OUT=$("$BIN" --version)
[ "$OUT" = "pglive $VERSION" ] || fail "--version said: $OUT"
step "installed binary: $OUT"

# ---- demo from the scratch root -------------------------------------------------------------
# A file only the scratch root's dashboard has: if it is served, the page comes from
# <root>/usr/share/pglive/dashboard, found through /proc/self/exe (not the source tree).
MARK="package-test-$$-$RANDOM.txt"
echo "served from the scratch root $ROOT" > "$ROOT/usr/share/pglive/dashboard/$MARK"
[ ! -e "$SRC/dashboard/$MARK" ] || fail "$MARK exists in the source tree"
# Run as a grandchild so its exit status lands in a file we can poll for.
( cd "$TMP" && { "$BIN" demo --listen 127.0.0.1:0 --traffic 0 > "$TMP/demo.log" 2>&1 & echo $! > "$TMP/demo.pid"; wait $!; echo $? > "$TMP/demo.rc"; } ) &
poll 5 "demo pid" test -s "$TMP/demo.pid" || fail "demo did not start"
DEMO_PID=$(cat "$TMP/demo.pid")
serving() { grep -Eq '^pglive: serving http://127\.0\.0\.1:[0-9]+' "$TMP/demo.log" || { [ -s "$TMP/demo.rc" ] && return 0; return 1; }; }
poll 90 "demo serving" serving || { cat "$TMP/demo.log"; fail "demo did not print its URL within 90 s"; }
[ -s "$TMP/demo.rc" ] && { cat "$TMP/demo.log"; fail "demo exited with $(cat "$TMP/demo.rc")"; }
URL=$(grep -Eo '^pglive: serving http://127\.0\.0\.1:[0-9]+' "$TMP/demo.log" | head -n1 | sed 's/^pglive: serving //')
step "demo serving at $URL"
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ]; }
poll 30 "healthz" healthy || { cat "$TMP/demo.log"; fail "/healthz did not answer 200 within 30 s"; }
curl -sf "$URL/" -o "$TMP/index.html" || fail "GET / failed"
cmp -s "$TMP/index.html" "$ROOT/usr/share/pglive/dashboard/index.html" || fail "GET / is not the installed index.html"
curl -sf "$URL/$MARK" -o "$TMP/mark" || fail "GET /$MARK failed: the dashboard is not served from the scratch root"
cmp -s "$TMP/mark" "$ROOT/usr/share/pglive/dashboard/$MARK" || fail "GET /$MARK differs"
step "/healthz 200; / is the installed index.html; /$MARK (only in the scratch root) served"
kill -TERM "$DEMO_PID"
poll 30 "demo exit" test -s "$TMP/demo.rc" || { cat "$TMP/demo.log"; fail "demo did not stop within 30 s of SIGTERM"; }
[ "$(cat "$TMP/demo.rc")" = 0 ] || { cat "$TMP/demo.log"; fail "demo exited with $(cat "$TMP/demo.rc") after SIGTERM"; }
grep -q "private PostgreSQL removed" "$TMP/demo.log" || { cat "$TMP/demo.log"; fail "demo did not remove its PostgreSQL"; }
DEMO_PID=""
step "demo stopped cleanly on SIGTERM (exit 0, private PostgreSQL removed)"

# ---- the systemd unit -----------------------------------------------------------------------
UNIT="$ROOT/usr/lib/systemd/system/pglive.service"
for line in 'ExecStart=/usr/bin/pglive serve --config /etc/pglive/pglive.conf' 'User=pglive' 'Group=pglive' \
            'Restart=on-failure' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
            'After=network-online.target postgresql.service' 'Wants=network-online.target' 'WantedBy=multi-user.target'; do
    grep -qxF "$line" "$UNIT" || fail "unit lacks: $line"
done
grep -Eq '^(Requires|Requisite|BindsTo)=' "$UNIT" && fail "unit requires other units (only After= and Wants= are meant)"

# Our own syntax check (always, whether or not systemd-analyze runs): every line is a comment,
# a known section or Key=Value with a key systemd knows in that section; no key twice.
awk '
    BEGIN {
        split("Description Documentation After Wants", a); for (i in a) ok["Unit", a[i]] = 1
        split("Type User Group ExecStart TimeoutStopSec Restart RestartSec NoNewPrivileges ProtectSystem ProtectHome PrivateTmp PrivateDevices ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectClock ProtectHostname ProtectProc RestrictAddressFamilies RestrictNamespaces RestrictRealtime RestrictSUIDSGID LockPersonality MemoryDenyWriteExecute SystemCallArchitectures CapabilityBoundingSet UMask", a)
        for (i in a) ok["Service", a[i]] = 1
        ok["Install", "WantedBy"] = 1
        split("yes no true false 1 0 on off", b); for (i in b) bool[b[i]] = 1
        split("NoNewPrivileges PrivateTmp PrivateDevices ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectClock ProtectHostname RestrictNamespaces RestrictRealtime RestrictSUIDSGID LockPersonality MemoryDenyWriteExecute", c)
        for (i in c) isbool[c[i]] = 1
        restart["no"]; restart["on-success"]; restart["on-failure"]; restart["on-abnormal"]; restart["on-watchdog"]; restart["on-abort"]; restart["always"]
    }
    /^[ \t]*([#;].*)?$/ { next }
    /^\[[A-Za-z]+\]$/ { sec = substr($0, 2, length($0) - 2); if (sec != "Unit" && sec != "Service" && sec != "Install") { print FILENAME ":" NR ": unknown section " $0; bad = 1 }; seen[sec] = 1; next }
    {
        eq = index($0, "=")
        if (sec == "" || eq < 2) { print FILENAME ":" NR ": not Key=Value in a section: " $0; bad = 1; next }
        key = substr($0, 1, eq - 1); val = substr($0, eq + 1)
        if (!((sec, key) in ok)) { print FILENAME ":" NR ": unknown key " key " in [" sec "]"; bad = 1 }
        if ((sec, key) in dup) { print FILENAME ":" NR ": " key " set twice"; bad = 1 }
        dup[sec, key] = 1
        if ((key in isbool) && !(val in bool)) { print FILENAME ":" NR ": " key " needs a boolean: " val; bad = 1 }
        if (key == "Restart" && !(val in restart)) { print FILENAME ":" NR ": bad Restart=" val; bad = 1 }
        if (key == "ProtectSystem" && val !~ /^(yes|no|full|strict)$/) { print FILENAME ":" NR ": bad ProtectSystem=" val; bad = 1 }
        if (key == "ProtectHome" && val !~ /^(yes|no|read-only|tmpfs)$/) { print FILENAME ":" NR ": bad ProtectHome=" val; bad = 1 }
        if (key == "Type" && val !~ /^(simple|exec|forking|oneshot|dbus|notify|idle)$/) { print FILENAME ":" NR ": bad Type=" val; bad = 1 }
        if (key == "ExecStart" && val !~ /^[-@:+!]*\//) { print FILENAME ":" NR ": ExecStart= needs an absolute path: " val; bad = 1 }
    }
    END {
        if (!seen["Unit"] || !seen["Service"] || !seen["Install"]) { print FILENAME ": needs [Unit], [Service] and [Install]"; bad = 1 }
        exit bad
    }' "$UNIT" || fail "the unit fails the syntax check"
step "unit: ExecStart, User=pglive, Restart=on-failure, hardening, After=/Wants= only; own syntax check passed"

# systemd-analyze verify: on a copy whose ExecStart= names the scratch root's binary (verify
# checks that the command exists). It exits 0 on mere warnings (an unknown key, a bad value),
# so any output at all is a failure.
mkdir -p "$TMP/unit"
sed "s|^ExecStart=/usr/bin/pglive |ExecStart=$BIN |" "$UNIT" > "$TMP/unit/pglive.service"
if ! command -v systemd-analyze > /dev/null; then
    step "systemd-analyze is not installed (Debian's systemd package; make deps installs it):" \
         "the unit was checked only by the syntax check above"
else
    set +e
    VERIFY=$(cd "$TMP/unit" && systemd-analyze verify "$TMP/unit/pglive.service" 2>&1)
    RC=$?
    set -e
    if [ $RC -eq 0 ] && [ -z "$VERIFY" ]; then
        step "systemd-analyze verify: clean"
    elif grep -Eqi 'Failed to (initialize|set up|create) manager|Failed to (initialize|connect)|Operation not permitted|cgroup' <<<"$VERIFY" \
         && ! grep -q 'pglive.service:' <<<"$VERIFY"; then
        # It could not run in this environment (no manager); the unit itself was not faulted.
        step "systemd-analyze verify could not run here (rc $RC: $(head -n1 <<<"$VERIFY"))." \
             "The unit was checked by the syntax check above instead"
    else
        echo "$VERIFY" >&2
        fail "systemd-analyze verify: rc $RC"
    fi
fi

# ---- make install's layout: DESTDIR and a prefix other than /usr ----------------------------
DEST="$TMP/destdir"
DESTDIR="$DEST" cmake --install "$BUILD" --prefix /opt/pglive > "$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; fail "cmake --install failed"; }
for f in opt/pglive/bin/pglive opt/pglive/share/pglive/pglive.sql opt/pglive/share/pglive/dashboard/index.html \
         opt/pglive/share/pglive/pglive.conf.example opt/pglive/lib/systemd/system/pglive.service; do
    [ -f "$DEST/$f" ] || fail "cmake --install --prefix /opt/pglive lacks /$f"
done
[ ! -e "$DEST/etc" ] || fail "a /opt/pglive install wrote outside its prefix: $(find "$DEST/etc")"
grep -qxF 'ExecStart=/opt/pglive/bin/pglive serve --config /etc/pglive/pglive.conf' "$DEST/opt/pglive/lib/systemd/system/pglive.service" \
    || fail "the /opt/pglive unit does not start /opt/pglive/bin/pglive"
step "cmake --install DESTDIR=… --prefix /opt/pglive: config as share/pglive/pglive.conf.example, nothing in /etc, unit starts /opt/pglive/bin/pglive"

step "PASS"
