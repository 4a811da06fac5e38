#!/usr/bin/env bash
# Captures what a real Postfix sends when it relays each message of tests/mime/corpus/ to a server
# that does not offer 8BITMIME (smtp-sink -8), so that ringrelay's 8BIT→7BIT conversion can be
# compared with Postfix's. Writes tests/mime/postfix/NAME.eml; the stored files are the golden
# input of the mime_cross_check test, so CI does not need to run Postfix. Run as root:
#   bash tests/mime/capture-postfix.sh
# It runs a private Postfix instance (its own config and queue under a temporary directory, no
# listening smtpd, relayhost on loopback) and stops it afterwards; the system's Postfix is untouched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/ringrelay-postfix.XXXXXX)
port=${PORT:-20025}
conf=$work/etc
dumps=$work/dumps
chmod 755 "$work"
mkdir -p "$conf" "$work/queue" "$work/data" "$dumps"
chown nobody "$dumps"
cp /etc/postfix/master.cf "$conf/master.cf"
cat >"$conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $work/queue
data_directory = $work/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.test
mydomain = test
myorigin = test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
master_service_disable = inet
relayhost = [127.0.0.1]:$port
smtp_tls_security_level = none
alias_maps =
alias_database =
maillog_file = $work/maillog
maillog_file_prefixes = /tmp
delay_warning_time = 0
# Compare conversion, not SMTPUTF8 policy: without this, Postfix (sendmail autodetection) bounces the
# message with an 8-bit Subject as "SMTPUTF8 is required"; ringrelay asks the queue manager instead.
smtputf8_enable = no
CF
chown postfix "$work/data"

cleanup() {
  postfix -c "$conf" stop >/dev/null 2>&1 || true
  if [ -n "${sink_pid:-}" ]; then kill "$sink_pid" 2>/dev/null || true; fi
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

smtp-sink -8 -u nobody -d "$dumps/%Y%m%d%H%M%S." 127.0.0.1:$port 10 &
sink_pid=$!
postfix -c "$conf" check
postfix -c "$conf" start

count=0
for message in "$here"/corpus/*.eml; do
  /usr/sbin/sendmail -i -C "$conf" -f sender@example.org rcpt@example.com <"$message"
  count=$((count + 1))
done
postqueue -c "$conf" -f

for _ in $(seq 1 60); do
  dumped=$(find "$dumps" -type f | wc -l)
  [ "$dumped" -ge "$count" ] && break
  sleep 1
done
if [ "$dumped" -lt "$count" ]; then
  echo "capture-postfix: only $dumped of $count messages arrived; see $work/maillog" >&2
  exit 1
fi

# Map each dump to its corpus message by Message-ID; keep what Postfix sent, minus smtp-sink's
# X- lines, Postfix's own Received: header and the empty line smtp-sink appends.
for message in "$here"/corpus/*.eml; do
  name=$(basename "$message" .eml)
  id=$(grep -m1 -i '^Message-ID:' "$message" | tr -d '\r')
  dump=$(grep -l -F -x -i "$id" $(grep -l -F "X-Mail-Args: <sender@example.org>" $(find "$dumps" -type f)) | head -1)
  python3 - "$dump" "$here/postfix/$name.eml" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
lines = data.split(b'\n')
i = 0
while i < len(lines) and lines[i].startswith(b'X-'):
    i += 1
# The Received: headers of smtp-sink and of Postfix, with their continuation lines.
while lines[i].startswith(b'Received:'):
    i += 1
    while i < len(lines) and lines[i][:1] in (b' ', b'\t'):
        i += 1
rest = b'\n'.join(lines[i:])
if rest.endswith(b'\n\n'):
    rest = rest[:-1]
open(sys.argv[2], 'wb').write(rest)
PY
  echo "captured $name"
done
grep -E 'status=' "$work/maillog" | sed 's/.*: to=/to=/' | sort | uniq -c
