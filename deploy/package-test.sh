#!/usr/bin/env bash
# The Debian package, tested as an operator uses it: builds it from the release build (cpack),
# installs it with dpkg, checks what it put where, starts the installed binary as root with the
# installed main.cf (plus a feed socket, a relayhost and a spool directory of this test), checks
# that it dropped to the ringrelay user the package created, delivers one message through it to a
# local smtp-sink, stops it, and purges the package. Needs root.
#   bash deploy/package-test.sh [BUILD_DIR]    (default build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
[ "$(id -u)" -eq 0 ] || { echo "package-test: needs root (dpkg -i)"; exit 1; }

(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls -t "$build"/ringrelay_*.deb | head -1)
work=$(mktemp -d /tmp/ringrelay-package-XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  dpkg --purge ringrelay >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "package-test: FAILED: $*"; exit 1; }
# Never beside the DIGEST-MD5 plugin that overflows a heap buffer (CVE-2026-107161).
dpkg-deb -f "$deb" Breaks | grep -q 'libsasl2-modules (<< 2.1.28+dfsg-10+deb12u1)' ||
  fail "the package does not refuse the vulnerable libsasl2-modules"
dpkg -i "$deb" >/dev/null
test -x /usr/sbin/ringrelay || fail "no /usr/sbin/ringrelay"
unit=$(ls /lib/systemd/system/ringrelay.service /usr/lib/systemd/system/ringrelay.service 2>/dev/null | head -1)
grep -q '^ExecStart=/usr/sbin/ringrelay serve' "$unit" || fail "the unit does not start /usr/sbin/ringrelay"
grep -q '^Type=notify' "$unit" || fail "the unit is not Type=notify"
for f in /etc/ringrelay/main.cf /etc/ringrelay/reply-rules.pcre /etc/logrotate.d/ringrelay \
         /usr/share/man/man8/ringrelay.8 /usr/share/man/man5/ringrelay.conf.5 \
         /usr/share/doc/ringrelay/metrics.md /usr/share/doc/ringrelay/ringrelay-dashboard.json; do
  test -f "$f" || fail "$f missing"
done
getent passwd ringrelay >/dev/null || fail "no ringrelay user"
[ "$(stat -c %U /var/lib/ringrelay)" = ringrelay ] || fail "/var/lib/ringrelay not owned by ringrelay"
/usr/sbin/ringrelay config -c /etc/ringrelay/main.cf -n >/dev/null || fail "the installed main.cf does not load"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/sbin/smtp-sink -u nobody -c 127.0.0.1:"$port" 100 >"$work/sink.out" 2>&1 & pids+=($!)
mkdir "$work/spool"
printf 'From: a@example.org\nTo: b@example.com\nSubject: package test\n\nHello.\n' >"$work/spool/message"
chmod 644 "$work/spool/message"
{ cat /etc/ringrelay/main.cf
  echo "feed_socket = $work/feed"
  echo "relayhost = [127.0.0.1]:$port"
  echo "spool_directories = $work/spool"
  echo "maillog_file = /var/log/ringrelay/mail.log"
} >"$work/main.cf"
/usr/sbin/ringrelay serve -c "$work/main.cf" >"$work/serve.out" 2>&1 & serve=$!
pids+=($serve)
for _ in $(seq 1 100); do grep -q " started: feed on " /var/log/ringrelay/mail.log 2>/dev/null && break; sleep 0.1; done
grep -q " started: feed on " /var/log/ringrelay/mail.log || fail "serve did not start: $(cat "$work/serve.out")"
uid=$(awk '/^Uid:/ {print $2}' /proc/$serve/status)
[ "$uid" = "$(id -u ringrelay)" ] || fail "serve runs as uid $uid, not ringrelay's"
result=$(/usr/sbin/ringrelay submit -c "$work/main.cf" -f a@example.org -r b@example.com "$work/spool/message")
echo "$result" | grep -q '"status":"sent"' || fail "not delivered: $result"
kill -TERM "$serve"; wait "$serve" || fail "serve did not stop cleanly"
echo "package-test: $(basename "$deb") installed; the installed serve ran as ringrelay and delivered one message; purged"
