"""DNS scenarios: deliveries whose next hop is a mail domain, resolved through a real dnsmasq on
loopback (MX sets, implicit MX, null MX, NXDOMAIN, a silent server, CNAME, IPv6, TTL expiry, the
cache, loops back to myself, fallback relays) to smtp-sink processes on 127.0.0.x. Sinks listen
on port 25, as a domain's servers do, so these need root; otherwise they are skipped."""
import os
import re
import subprocess
import sys
import time

from harness import DnsServer, Sink, World, wait_for


def needs_root():
    if os.geteuid() != 0:
        print("needs root: the sinks listen on port 25")
        sys.exit(77)


def deliver(w, recipient, *extra):
    code, results, err = w.submit("-f", "s@example.org", "-r", recipient, *extra, w.message())
    assert len(results) == 1, (code, results, err)
    return results[0]


def scenario_dns_mx_delivers_to_best_preference(ringrelay):
    """Two MX hosts at preferences 10 and 20: mail goes to the better one, named in the result."""
    needs_root()
    with World(ringrelay) as w:
        best, backup = Sink(w, address="127.0.0.21", port=25), Sink(w, address="127.0.0.22", port=25)
        dns = DnsServer(w, ["mx-host=mx.test,mx1.mx.test,10", "mx-host=mx.test,mx2.mx.test,20",
                            "host-record=mx1.mx.test,127.0.0.21", "host-record=mx2.mx.test,127.0.0.22"])
        w.serve(**dns.settings())
        result = deliver(w, "user@mx.test")
        assert result["status"] == "sent", result
        assert result["relay"] == "mx1.mx.test[127.0.0.21]:25", result
        w.stop_serve()
        # The backup's one session is the harness's readiness probe.
        assert best.counter("mesg") == 1 and backup.sessions() <= 1, (best.counter("mesg"),
                                                                      backup.sessions())


def scenario_dns_next_mx_when_first_is_down(ringrelay):
    """The preferred MX host's address refuses connections: the recipient is delivered at the next
    MX host, and only that final result is reported."""
    needs_root()
    with World(ringrelay) as w:
        backup = Sink(w, address="127.0.0.24", port=25)  # nothing listens on 127.0.0.23:25
        dns = DnsServer(w, ["mx-host=down.test,mx1.down.test,10", "mx-host=down.test,mx2.down.test,20",
                            "host-record=mx1.down.test,127.0.0.23", "host-record=mx2.down.test,127.0.0.24"])
        w.serve(**dns.settings(debug_peer_list="down.test"))
        result = deliver(w, "user@down.test")
        assert result["status"] == "sent" and result["relay"] == "mx2.down.test[127.0.0.24]:25", result
        log = "\n".join(w.log_lines())
        assert "mx1.down.test[127.0.0.23]:25" in log and "Connection refused" in log, log


def scenario_dns_implicit_mx(ringrelay):
    """No MX record: the domain's own address is its mail exchanger."""
    needs_root()
    with World(ringrelay) as w:
        Sink(w, address="127.0.0.25", port=25)
        dns = DnsServer(w, ["host-record=bare.test,127.0.0.25"])
        w.serve(**dns.settings())
        result = deliver(w, "user@bare.test")
        assert result["status"] == "sent" and result["relay"] == "bare.test[127.0.0.25]:25", result
        assert dns.queries("bare.test", "MX") == 1 and dns.queries("bare.test", "A") == 1


def scenario_dns_cname_followed(ringrelay):
    """The mail domain is an alias (CNAME) of another whose MX is used."""
    needs_root()
    with World(ringrelay) as w:
        Sink(w, address="127.0.0.26", port=25)
        dns = DnsServer(w, ["mx-host=real.test,mx.real.test,10", "host-record=mx.real.test,127.0.0.26",
                            "cname=alias.test,real.test"])
        w.serve(**dns.settings())
        result = deliver(w, "user@alias.test")
        assert result["status"] == "sent" and result["relay"] == "mx.real.test[127.0.0.26]:25", result


def scenario_dns_failures_each_get_their_status(ringrelay):
    """Every DNS failure class ends in its status and Postfix's words: null MX bounced 5.1.0,
    NXDOMAIN bounced 5.4.4, a server that does not answer deferred 4.4.3, an MX host without an
    address bounced 5.4.4 (deferred 4.4.4 with smtp_defer_if_no_mx_address_found), an MX set
    pointing at this host bounced 5.4.6."""
    needs_root()
    with World(ringrelay) as w:
        dns = DnsServer(w, ["mx-host=null.test,.,0",
                            "server=/silent.test/127.0.0.1#9",  # forwarded to nobody: no answer
                            "mx-host=noaddr.test,mx.nowhere.test,10",
                            "mx-host=self.test,mx.self.test,10", "host-record=mx.self.test,127.0.0.1"])
        w.serve(**dns.settings())
        expected = {
            "null.test": ("bounced", "5.1.0", "Domain null.test does not accept mail (nullMX)"),
            "nx.test": ("bounced", "5.4.4", "Host or domain name not found. Name service error for "
                        "name=nx.test type=MX: Host not found"),
            "silent.test": ("deferred", "4.4.3", "Host or domain name not found. Name service error "
                            "for name=silent.test type=MX: Host not found, try again"),
            "noaddr.test": ("bounced", "5.4.4", "Host or domain name not found. Name service error "
                            "for name=mx.nowhere.test type=A: Host not found"),
            "self.test": ("bounced", "5.4.6", "mail for self.test loops back to myself"),
        }
        for domain, (status, dsn, text) in expected.items():
            result = deliver(w, f"user@{domain}")
            assert (result["status"], result["dsn"], result["text"]) == (status, dsn, text), result
            category = {"null.test": "invalid_recipient", "self.test": "routing"}.get(domain, "dns_failure")
            assert result["category"] == category, result
            lines = [l for l in w.log_lines() if f"to=<user@{domain}>" in l]
            assert len(lines) == 1 and f"dsn={dsn}, status={status} ({text})" in lines[0], lines
        w.stop_serve()
        w.serve(**dns.settings(smtp_defer_if_no_mx_address_found="yes"))
        result = deliver(w, "user@noaddr.test")
        assert (result["status"], result["dsn"]) == ("deferred", "4.4.4"), result


def scenario_dns_ipv6_address(ringrelay):
    """An MX host with only an AAAA record (::1): delivered over IPv6. The next hop names a port
    other than 25, where this host's own addresses are not a mail loop."""
    needs_root()
    with World(ringrelay) as w:
        sink = Sink(w, address="::1")
        dns = DnsServer(w, ["mx-host=six.test,mx.six.test,10", "host-record=mx.six.test,::1"])
        w.serve(**dns.settings())
        result = deliver(w, "user@six.test", "--nexthop", f"six.test:{sink.port}")
        assert result["status"] == "sent" and result["relay"] == f"mx.six.test[::1]:{sink.port}", result
        assert dns.queries("mx.six.test", "AAAA") == 1


def scenario_dns_equal_preferences_are_shuffled(ringrelay):
    """Two MX hosts at the same preference: over 400 lookups each comes first about half the time
    (ringrelay resolve uses serve's resolver); with smtp_randomize_addresses=no the order is fixed."""
    with World(ringrelay) as w:
        dns = DnsServer(w, ["mx-host=eq.test,a.eq.test,10", "mx-host=eq.test,b.eq.test,10",
                            "host-record=a.eq.test,127.0.0.27", "host-record=b.eq.test,127.0.0.28"],
                        ttl=300)
        with open(w.config, "w") as f:
            for name, value in dns.settings().items():
                f.write(f"{name} = {value}\n")
        run = subprocess.run([ringrelay, "resolve", "-c", w.config, "-n", "400", "eq.test"],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run
        firsts = [line.split()[1] for line in run.stdout.splitlines()]
        assert len(firsts) == 400, run.stdout[:500]
        a_first = sum(1 for f in firsts if f.startswith("a.eq.test[127.0.0.27]"))
        # Binomial(400, 0.5): mean 200, standard deviation 10; 140..260 is six deviations.
        assert 140 <= a_first <= 260, a_first
        assert dns.queries("eq.test", "MX") == 1, "the other 399 lookups come from the cache"
        with open(w.config, "a") as f:
            f.write("smtp_randomize_addresses = no\n")
        run = subprocess.run([ringrelay, "resolve", "-c", w.config, "-n", "20", "eq.test"],
                             capture_output=True, text=True, timeout=60)
        assert len(set(run.stdout.splitlines())) == 1, run.stdout


def scenario_dns_ttl_expiry_and_cache(ringrelay):
    """Answers are cached for their TTL: 40 messages to one domain cost one MX lookup; after the
    address record changes, mail keeps going to the old address until the TTL runs out, then to
    the new one. A failed lookup is remembered for dns_negative_cache_time."""
    needs_root()
    with World(ringrelay) as w:
        old, new = Sink(w, address="127.0.0.29", port=25), Sink(w, address="127.0.0.30", port=25)
        dns = DnsServer(w, ["mx-host=ttl.test,mx.ttl.test,10"], ttl=3)
        dns.set_hosts("127.0.0.29 mx.ttl.test\n")
        w.serve(**dns.settings(dns_negative_cache_time="60s"))
        batch = w.batch(({"id": f"t{i}", "recipients": [f"r{i}@ttl.test"]} for i in range(40)),
                        w.message())
        code, results, err = w.submit("--batch", batch, timeout=60)
        assert code == 0 and len(results) == 40, (code, err)
        assert {r["relay"] for r in results} == {"mx.ttl.test[127.0.0.29]:25"}, results[:2]
        assert dns.queries("ttl.test", "MX") == 1, dns.log_text()
        dns.set_hosts("127.0.0.30 mx.ttl.test\n")
        assert deliver(w, "again@ttl.test")["relay"] == "mx.ttl.test[127.0.0.29]:25"
        time.sleep(3.5)
        assert deliver(w, "later@ttl.test")["relay"] == "mx.ttl.test[127.0.0.30]:25"
        for _ in range(3):
            assert deliver(w, "x@nx.test")["status"] == "bounced"
        assert dns.queries("nx.test", "MX") == 1, dns.log_text()


def scenario_dns_fallback_relay(ringrelay):
    """The domain's only MX host refuses connections: smtp_fallback_relay takes the mail."""
    needs_root()
    with World(ringrelay) as w:
        relay = Sink(w)
        dns = DnsServer(w, ["mx-host=dead.test,mx.dead.test,10", "host-record=mx.dead.test,127.0.0.31",
                            "mx-host=self.test,mx.self.test,10", "host-record=mx.self.test,127.0.0.1"])
        w.serve(**dns.settings(smtp_fallback_relay=f"[127.0.0.1]:{relay.port}"))
        result = deliver(w, "user@dead.test")
        assert result["status"] == "sent" and result["relay"] == f"127.0.0.1[127.0.0.1]:{relay.port}", result
        # Mail that loops back to this host is not handed to the fallback relay (Postfix).
        result = deliver(w, "user@self.test")
        assert (result["status"], result["dsn"]) == ("bounced", "5.4.6"), result
        w.stop_serve()
        assert relay.counter("mesg") == 1



def scenario_dns_relayhost_failure_defers_and_lmtp_skips_mx(ringrelay):
    """A relayhost that does not exist is a configuration problem: deferred 4.3.5, not bounced
    (Postfix). An LMTP next hop is a host: its address is used, never its MX records."""
    with World(ringrelay) as w:
        dns = DnsServer(w, ["mx-host=lm.test,mx.lm.test,10", "host-record=mx.lm.test,127.0.0.50",
                            "host-record=lm.test,127.0.0.51"])
        with open(w.config, "w") as f:
            for name, value in dns.settings().items():
                f.write(f"{name} = {value}\n")
        run = subprocess.run([ringrelay, "resolve", "-c", w.config, "lmtp:inet:lm.test:2400",
                              "lm.test:2400"], capture_output=True, text=True, timeout=30)
        assert run.stdout == ("lmtp:inet:lm.test:2400: lm.test[127.0.0.51]:2400\n"
                              "lm.test:2400: mx.lm.test[127.0.0.50]:2400\n"), run
        w.serve(**dns.settings(relayhost="nx.test"))
        result = deliver(w, "user@example.com")
        assert (result["status"], result["dsn"]) == ("deferred", "4.3.5"), result
        assert result["text"] == ("Host or domain name not found. Name service error for "
                                  "name=nx.test type=MX: Host not found"), result
