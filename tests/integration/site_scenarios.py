"""Site scenarios: domains that share an MX host set are one site (one window, one connection
cache, one owner shard), checked with a real dnsmasq and smtp-sink, connections counted at the sink
and sampled with ss; and a server that limits messages per connection the way OpenSMTPD does
(a scripted peer: OpenSMTPD and Postfix cannot be installed side by side)."""
import re
import socket
import socketserver
import subprocess
import threading
import time

from dns_scenarios import needs_root
from harness import DnsServer, Sink, World, free_port, one_result_per_recipient, wait_for


def established_to(address, port):
    """TCP connections to address:port in state ESTABLISHED, as the kernel sees them now."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"dst {address}:{port}"],
                         capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())


class ConnectionSampler:
    """Samples established connections to address:port every 10 ms; `most` is the peak seen."""

    def __init__(self, address, port):
        self.address, self.port, self.most, self.running = address, port, 0, True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            self.most = max(self.most, established_to(self.address, self.port))
            time.sleep(0.01)

    def stop(self):
        self.running = False
        self.thread.join()


def scenario_domains_sharing_mx_hosts_are_one_site(ringrelay):
    """2,000 domains whose MX records name one host, over two shards: one window (the sink never
    has more than smtp_destination_concurrency_limit connections), connections reused across the
    domains, results naming the site; a domain with another MX host is its own site."""
    needs_root()
    with World(ringrelay) as w:
        shared = Sink(w, address="127.0.0.30", port=25)
        other = Sink(w, address="127.0.0.31", port=25)
        wait_for(lambda: shared.sessions() >= 1 and other.sessions() >= 1, 10, "the probes")
        lines = ["host-record=mx.shared.test,127.0.0.30", "host-record=mx.other.test,127.0.0.31",
                 "mx-host=other.test,mx.other.test,10"]
        lines += [f"mx-host=d{i}.test,mx.shared.test,10" for i in range(2000)]
        dns = DnsServer(w, lines, ttl=300)  # the MX host's address is cached, as in the world
        w.serve(**dns.settings(shards="2", smtp_connection_cache_time_limit="30s",
                               dns_timeout="5s", dns_tries="3"))
        sampler = ConnectionSampler("127.0.0.30", 25)
        requests = [{"id": f"s{i}", "recipients": [f"u{i}@d{i}.test"]} for i in range(2000)]
        requests += [{"id": f"o{i}", "recipients": [f"u{i}@other.test"]} for i in range(100)]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=150)
        sampler.stop()
        assert code == 0, (code, err, [r for r in results if r["status"] != "sent"][:3])
        by_id = {}
        for r in results:
            assert r["id"] not in by_id, r
            by_id[r["id"]] = r
        assert len(by_id) == 2100, len(by_id)
        bad = [r for r in results if r["status"] != "sent"]
        assert not bad, bad[:3]
        assert all(by_id[f"s{i}"]["site"] == "mx.shared.test" for i in range(2000))
        assert all("site" not in by_id[f"o{i}"] or by_id[f"o{i}"]["site"] == "mx.other.test"
                   for i in range(100))
        w.stop_serve()
        sessions = shared.sessions() - 1  # less the probe
        # As 2,000 destinations it would be at least 2,000 connections.
        assert sessions <= 60, f"{sessions} connections for 2000 domains of one site"
        assert sampler.most <= 20, f"{sampler.most} connections at once to one site"
        assert other.counter("mesg") == 100
        print(f"2000 domains, one site: {sessions} connections, at most {sampler.most} at once")


class LimitedSmtpHandler(socketserver.StreamRequestHandler):
    """SMTP that refuses MAIL FROM after `limit` messages on one connection with OpenSMTPD's words
    ("452 4.5.3 Too many recipients: Too many messages sent"), answering pipelined commands."""
    limit = 10
    stats = None

    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())

    def handle(self):
        messages, in_data = 0, False
        self.reply("220 limited.test ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            line = line.decode(errors="replace").rstrip("\r\n")
            if in_data:
                if line == ".":
                    in_data = False
                    messages += 1
                    with self.stats["lock"]:
                        self.stats["messages"] += 1
                        self.stats["most"] = max(self.stats["most"], messages)
                    self.reply("250 2.0.0 Ok: queued")
                continue
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250-limited.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
            elif verb == "MAIL":
                if messages >= self.limit:
                    with self.stats["lock"]:
                        self.stats["refused"] += 1
                    self.reply("452 4.5.3 Too many recipients: Too many messages sent")
                    mail = False
                else:
                    mail = True
                    self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                self.reply("250 2.1.5 Ok" if mail else "503 5.5.1 Error: need MAIL command")
            elif verb == "DATA":
                if mail:
                    in_data = True
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                else:
                    self.reply("503 5.5.1 Error: need RCPT command")
            elif verb == "RSET":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Error: command not recognized")


def scenario_per_connection_message_limit_is_learnt(ringrelay):
    """A server that takes 10 messages per connection and refuses the 11th MAIL FROM the way
    OpenSMTPD does: every message is delivered (none deferred), the refused connection is closed,
    and the limit is learnt and logged, so later connections stop at 10 by themselves."""
    with World(ringrelay) as w:
        stats = {"lock": threading.Lock(), "messages": 0, "most": 0, "refused": 0}
        handler = type("Handler", (LimitedSmtpHandler,), {"stats": stats, "limit": 10})
        port = free_port()
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer(("127.0.0.1", port), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        w.cleanups.append(server.shutdown)
        w.serve(smtp_destination_concurrency_limit="2", initial_destination_concurrency="2")
        requests = [{"id": f"m{i}", "recipients": [f"r{i}@example.com"],
                     "nexthop": f"[127.0.0.1]:{port}"} for i in range(200)]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=120)
        assert code == 0, (code, err)
        assert len(results) == 200 and len({r["id"] for r in results}) == 200, len(results)
        bad = [r for r in results if r["status"] != "sent"]
        assert not bad, bad[:3]
        assert stats["messages"] == 200 and stats["most"] <= 10, stats
        # Learnt on the first refusals (one per connection open then); later connections stop at 10.
        assert 1 <= stats["refused"] <= 2, stats
        w.stop_serve()
        log = "\n".join(w.log_lines())
        assert re.search(r"refused another message after 10 on one connection; connections to the "
                         r"site now carry at most 10 messages", log), log[-2000:]


def scenario_priority_overtakes_a_queued_campaign(ringrelay):
    """A site that takes one message at a time (a sink answering DATA after a second, concurrency
    1): five campaign requests at priority 0 are queued, then two at priority 9; once the first
    campaign message is on its way, the two urgent ones go next. Every recipient has one result."""
    with World(ringrelay) as w:
        sink = Sink(w, ["-w", "1"])
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", initial_destination_concurrency="1",
                default_destination_concurrency_limit="1")
        requests = [{"id": f"campaign{i}", "recipients": [f"c{i}@example.com"], "priority": 0}
                    for i in range(5)]
        requests += [{"id": f"reset{i}", "recipients": [f"r{i}@example.com"], "priority": 9}
                     for i in range(2)]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=60)
        expected = [(r["id"], r["recipients"][0]) for r in requests]
        seen = one_result_per_recipient(results, expected)
        assert all(r["status"] == "sent" for r in seen.values()), results
        order = [r["id"] for r in results]
        # The first campaign message may already be on the connection when the resets arrive.
        assert {order[0], order[1], order[2]} >= {"reset0", "reset1"}, order
        assert code == 0, (code, err)


def scenario_rate_delay_paces_a_site(ringrelay):
    """smtp_destination_rate_delay = 1s against smtp-sink: three messages to one site go one at a
    time, a second apart (at least two seconds in all), on one reused connection (conn_use 1, 2,
    3); without the delay the same three take well under a second."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", smtp_destination_rate_delay="1s")
        requests = [{"id": f"paced{i}", "recipients": [f"p{i}@example.com"]} for i in range(3)]
        started = time.time()
        code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=60)
        elapsed = time.time() - started
        seen = one_result_per_recipient(results, [(r["id"], r["recipients"][0]) for r in requests])
        assert all(r["status"] == "sent" for r in seen.values()), results
        assert elapsed >= 2.0, elapsed
        assert sorted(r["conn_use"] for r in results) == [1, 2, 3], results
        assert code == 0, (code, err)
