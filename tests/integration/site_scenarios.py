"""Site scenarios: domains that share an MX host set are one site (one window, one connection
cache, one owner shard), checked with a real dnsmasq and smtp-sink, connections counted at the sink
and sampled with ss; and a server that limits messages per connection the way OpenSMTPD does
(a scripted peer: OpenSMTPD and Postfix cannot be installed side by side) or per transaction."""
import re
import socket
import subprocess
import threading
import time

from dns_scenarios import needs_root
from harness import DnsServer, Sink, World, free_port, one_result_per_recipient, wait_for
from throttling_sink import ThrottlingSink


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


def scenario_per_connection_message_limit_is_learnt(ringrelay):
    """A server that takes 10 messages per connection and refuses the 11th MAIL FROM the way
    OpenSMTPD does: every message is delivered (none deferred), the refused connection is closed,
    and the limit is learnt and logged, so later connections stop at 10 by themselves."""
    with World(ringrelay) as w:
        sink = ThrottlingSink(free_port(), per_connection=10)
        w.cleanups.append(sink.close)
        port = sink.port
        w.serve(smtp_destination_concurrency_limit="2", initial_destination_concurrency="2")
        requests = [{"id": f"m{i}", "recipients": [f"r{i}@example.com"],
                     "nexthop": f"[127.0.0.1]:{port}"} for i in range(200)]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=120)
        assert code == 0, (code, err)
        assert len(results) == 200 and len({r["id"] for r in results}) == 200, len(results)
        bad = [r for r in results if r["status"] != "sent"]
        assert not bad, bad[:3]
        assert sink.accepted() == 200 and sink.most_on_a_connection <= 10, sink.most_on_a_connection
        # Learnt on the first refusals (one per connection open then); later connections stop at 10.
        assert 1 <= sink.refused_messages <= 2, sink.refused_messages
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


def scenario_per_transaction_recipient_limit_is_learnt(ringrelay):
    """A server that takes 7 recipients per transaction and answers RCPT beyond with RFC 5321's
    "452 4.5.3 Too many recipients": a message to 30 recipients is delivered whole (the refused
    ones go in further transactions, none deferred though it is the only server), the limit is
    learnt and logged, and the next messages are split at 7 before they are sent."""
    with World(ringrelay) as w:
        sink = ThrottlingSink(free_port(), per_transaction=7)
        w.cleanups.append(sink.close)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        for round in range(2):
            requests = [{"id": f"m{round}-{i}", "recipients": [f"r{j}@example.com" for j in range(30)]}
                        for i in range(3)]
            code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=60)
            seen = one_result_per_recipient(
                results, [(r["id"], rcpt) for r in requests for rcpt in r["recipients"]])
            assert all(r["status"] == "sent" for r in seen.values()), [
                r for r in results if r["status"] != "sent"][:3]
            assert code == 0, (code, err)
            if round == 0:
                refused_first_round = sink.refused_recipients
        assert refused_first_round > 0, "the sink never refused a recipient"
        assert sink.refused_recipients == refused_first_round, "the limit was not learnt"
        assert sink.most_in_a_transaction == 7, sink.most_in_a_transaction
        w.stop_serve()
        log = "\n".join(w.log_lines())
        assert re.search(r"refused further recipients after 7 in one transaction; transactions to "
                         r"the site now carry at most 7 recipients", log), log[-2000:]
