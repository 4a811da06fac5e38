#!/usr/bin/env bash
# ringrelay's main job on one machine with no network: starts two Postfix smtp-sink servers on
# loopback (127.0.0.2 and 127.0.0.3) and a dnsmasq that publishes MX records for example.com and
# example.net pointing at them, runs `ringrelay serve` resolving through that DNS server, feeds it a
# batch of spool files through `ringrelay submit --batch`, and prints every recipient's result and
# the delivery log. Everything it starts, it stops. Usage (after the release build):
#   bash deploy/run-local-demo.sh [MESSAGES]      (default 200 messages, 3 recipients each)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ringrelay=${RINGRELAY:-$root/build/release/engine/ringrelay}
messages=${1:-200}
[ -x "$ringrelay" ] || { echo "run-local-demo: build first: cmake --preset release && cmake --build --preset release" >&2; exit 69; }
command -v smtp-sink >/dev/null || [ -x /usr/sbin/smtp-sink ] || { echo "run-local-demo: smtp-sink missing: bash deploy/setup-debian.sh" >&2; exit 69; }
[ -x /usr/sbin/dnsmasq ] || { echo "run-local-demo: dnsmasq missing: bash deploy/setup-debian.sh" >&2; exit 69; }

work=$(mktemp -d /tmp/ringrelay-demo.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket,sys; s=socket.socket(type=int(sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "${1:-1}"; }
port=$(free_port)       # both sinks listen on this port, at 127.0.0.2 and 127.0.0.3
dns_port=$(free_port 2) # UDP
metrics_port=$(free_port) # the Prometheus endpoint (docs/metrics.md)
# smtp-sink drops to "nobody" when started as root, and needs no privileges otherwise.
sink_user=()
[ "$(id -u)" -eq 0 ] && sink_user=(-u nobody)
/usr/sbin/smtp-sink "${sink_user[@]}" -c 127.0.0.2:"$port" 100 >"$work/sink-a.out" 2>&1 & pids+=($!)
/usr/sbin/smtp-sink "${sink_user[@]}" -c 127.0.0.3:"$port" 100 >"$work/sink-b.out" 2>&1 & pids+=($!)

# The DNS: example.com has two MX hosts (preference 10 on 127.0.0.2, 20 on 127.0.0.3),
# example.net one (127.0.0.3); answers live for a minute.
cat >"$work/dnsmasq.conf" <<DNS
port=$dns_port
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
user=$(id -un)
local=/example.com/
local=/example.net/
local-ttl=60
mx-host=example.com,mx1.example.com,10
mx-host=example.com,mx2.example.com,20
mx-host=example.net,mx.example.net,10
host-record=mx1.example.com,127.0.0.2
host-record=mx2.example.com,127.0.0.3
host-record=mx.example.net,127.0.0.3
DNS
/usr/sbin/dnsmasq --keep-in-foreground -C "$work/dnsmasq.conf" --pid-file="$work/dnsmasq.pid" \
  >"$work/dnsmasq.out" 2>&1 & pids+=($!)

# The mail domains are looked up in DNS (MX, then A); the transport map only names the sinks'
# port, as "domain:port" keeps the MX lookup.
cat >"$work/transport" <<TRANSPORT
example.com   smtp:example.com:$port
example.net   smtp:example.net:$port
TRANSPORT
cat >"$work/main.cf" <<CONF
feed_socket = $work/feed
spool_directories = $work/spool
results_journal = $work/journal
transport_maps = texthash:$work/transport
dns_servers = 127.0.0.1:$dns_port
maillog_file = $work/maillog
smtp_helo_name = relay.demo.test
metrics_listen = 127.0.0.1:$metrics_port
CONF
"$ringrelay" resolve -c "$work/main.cf" "example.com:$port" "example.net:$port" || true

# Spool files as a queue manager would leave them, and one request per message.
mkdir -p "$work/spool"
: >"$work/batch.jsonl"
for i in $(seq 1 "$messages"); do
  printf 'From: news@example.org\nTo: readers\nSubject: Issue %d\nMessage-ID: <%d@demo.test>\n\nHello, this is message %d.\n.A line that starts with a dot.\n' "$i" "$i" "$i" >"$work/spool/$i"
  size=$(stat -c %s "$work/spool/$i")
  printf '{"id":"DEMO%05d","sender":"news@example.org","recipients":["alice%d@example.com","bob%d@example.net","carol%d@example.com"],"body":{"path":"%s","size":%d}}\n' \
    "$i" "$i" "$i" "$i" "$work/spool/$i" "$size" >>"$work/batch.jsonl"
done

"$ringrelay" serve -c "$work/main.cf" >"$work/serve.out" 2>&1 & serve=$!
pids+=($serve)
for _ in $(seq 1 100); do [ -S "$work/feed" ] && break; sleep 0.05; done

set +e
"$ringrelay" submit -c "$work/main.cf" --batch "$work/batch.jsonl" >"$work/results.jsonl"
status=$?
set -e
# What a Prometheus scrape sees after the run (every recipient counted once, by status).
python3 - "$metrics_port" >"$work/metrics.txt" <<'PY' || true
import sys, urllib.request
print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10).read().decode())
PY
kill -TERM "$serve"; wait "$serve" 2>/dev/null || true

echo "== results (first 5 of $(wc -l <"$work/results.jsonl"), one JSON object per recipient)"
head -5 "$work/results.jsonl"
echo "== delivery log (first 5 lines, Postfix format)"
grep -m5 'status=' "$work/maillog"
echo "== metrics (GET http://127.0.0.1:$metrics_port/metrics, a few of them)"
grep -E '^ringrelay_(recipients_total\{status="sent"|feed_requests_total|connections_(opened|reused)_total)' "$work/metrics.txt" || true
echo "== summary"
python3 - "$work/results.jsonl" "$work/sink-a.out" "$work/sink-b.out" <<'PY'
import collections, json, sys
results = [json.loads(l) for l in open(sys.argv[1])]
by_status = collections.Counter(r["status"] for r in results)
reused = sum(1 for r in results if r["conn_use"] > 1)
relays = collections.Counter(r["relay"] for r in results)
sessions = 0
for path in sys.argv[2:]:
    reports = [l for l in open(path).read().replace("\r", "\n").split("\n") if "sess=" in l]
    if reports:
        sessions += int(dict(w.split("=") for w in reports[-1].split())["sess"])
print(f"{len(results)} recipient results: " + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())))
print("relays: " + ", ".join(f"{relay} {n}" for relay, n in sorted(relays.items())))
print(f"{reused} results over a reused connection; the sinks saw {sessions} connections in all")
PY
exit $status
