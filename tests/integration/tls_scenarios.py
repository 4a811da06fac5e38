"""TLS scenarios: STARTTLS against real peers on loopback with a throw-away PKI made by
tests/tls/make-test-pki.sh — a private Postfix smtpd offering STARTTLS, smtp-sink (no STARTTLS),
and openssl s_server behind a small plaintext SMTP front. Each security level, good and bad
chains, wrong and wildcard names, fingerprints, a failing handshake at "may", resumption, and
cached TLS connections (reused, and refused to a stricter policy). Server names come from a
private /etc/hosts (mount namespace), so these need root; otherwise they are skipped."""
import os
import socket
import subprocess
import sys
import threading

from harness import PostfixServer, Sink, World, free_port, port_open, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTS = "".join(f"127.0.0.1 {name}\n" for name in (
    "localhost", "mx.test.example", "mail.test.example", "other.test.example",
    "mx1.wild.test.example", "wild.test.example"))


def needs_root():
    if os.geteuid() != 0:
        print("needs root: server names come from a private /etc/hosts")
        sys.exit(77)


def pki():
    path = f"/tmp/ringrelay-it-pki-{os.getuid()}"
    subprocess.run(["bash", os.path.join(HERE, "..", "tls", "make-test-pki.sh"), path], check=True)
    return path


def tls_smtpd(w, cert="good", **more):
    """A private Postfix smtpd that offers STARTTLS with `cert` from the test PKI."""
    p = pki()
    settings = {"smtpd_tls_security_level": "may", "smtpd_tls_cert_file": f"{p}/{cert}.pem",
                "smtpd_tls_key_file": f"{p}/{cert}.key", "smtpd_tls_loglevel": "1"}
    settings.update(more)
    return PostfixServer(w, main_cf=settings.items())


def serve(w, policies=(), **parameters):
    """ringrelay serve trusting the test CA, with a TLS policy table of (next hop, policy)."""
    table = os.path.join(w.dir, "tls_policy")
    with open(table, "w") as f:
        for hop, policy in policies:
            f.write(f"{hop} {policy}\n")
    settings = {"smtp_tls_CAfile": f"{pki()}/ca.pem", "smtp_tls_policy_maps": f"texthash:{table}",
                "smtp_host_lookup": "native", "inet_protocols": "ipv4", "shards": 1}
    settings.update(parameters)
    w.serve(hosts=HOSTS, **settings)


def deliver(w, hop, recipient="a@example.com"):
    code, results, err = w.submit("-f", "s@example.org", "-r", recipient, "--nexthop", hop,
                                  w.message())
    assert len(results) == 1, (code, results, err)
    return results[0]


def scraped(port):
    """The metrics endpoint's samples, {'name{labels}': value}."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {k: float(v) for k, _, v in (line.rpartition(" ") for line in text.splitlines()
                                         if line and not line.startswith("#"))}


def established(w):
    return [line for line in w.log_lines() if "TLS connection established to" in line]


def scenario_tls_levels_without_starttls(ringrelay):
    """smtp-sink offers no STARTTLS: none and may deliver in plaintext; encrypt and verify defer
    with Postfix's words. The plaintext connection cached for "may" is never handed to them."""
    needs_root()
    with World(ringrelay) as w:
        sink = Sink(w)
        p = sink.port
        serve(w, [(f"[127.0.0.1]:{p}", "none"), (f"[localhost]:{p}", "may"),
                  (f"[mx.test.example]:{p}", "encrypt"), (f"[other.test.example]:{p}", "verify")],
              smtp_connection_cache_time_limit="10s")
        assert deliver(w, f"[127.0.0.1]:{p}")["status"] == "sent"
        may = deliver(w, f"[localhost]:{p}")
        assert may["status"] == "sent" and "tls" not in may, may
        for hop, host in ((f"[mx.test.example]:{p}", "mx.test.example"),
                          (f"[other.test.example]:{p}", "other.test.example")):
            r = deliver(w, hop)
            assert r["status"] == "deferred" and r["dsn"] == "4.7.4", r
            assert r["text"] == f"TLS is required, but was not offered by host {host}[127.0.0.1]", r


def scenario_tls_levels_with_postfix_starttls(ringrelay):
    """A real Postfix smtpd with a certificate from the test CA: each level delivers, and the log
    and the result say how far the peer was checked."""
    needs_root()
    with World(ringrelay) as w:
        smtpd = tls_smtpd(w)
        p = smtpd.port
        fingerprint = open(f"{pki()}/good.cert-sha256").read().strip()
        serve(w, [(f"[localhost]:{p}", "may"), (f"[127.0.0.1]:{p}", "encrypt"),
                  (f"[mx.test.example]:{p}", "verify"), (f"[mail.test.example]:{p}", "secure"),
                  (f"[other.test.example]:{p}", f"fingerprint match={fingerprint}")],
              smtp_connection_cache_on_demand="no")
        expected = {f"[localhost]:{p}": "Trusted", f"[127.0.0.1]:{p}": "Trusted",
                    f"[mx.test.example]:{p}": "Verified", f"[mail.test.example]:{p}": "Verified",
                    f"[other.test.example]:{p}": "Verified"}
        for hop, trust in expected.items():
            r = deliver(w, hop)
            assert r["status"] == "sent", (hop, r)
            assert r["tls"]["verification"] == trust, (hop, r)
            assert r["tls"]["protocol"] == "TLSv1.3" and r["tls"]["cipher"], r
        lines = established(w)
        assert len(lines) == 5, lines
        assert any(f"Verified TLS connection established to mx.test.example[127.0.0.1]:{p}: TLSv1.3 "
                   "with cipher TLS_AES_" in line for line in lines), lines
        wait_for(lambda: smtpd.log_text().count("status=sent") >= 5, 20, "Postfix to take the mail")
        assert "TLS connection established from" in smtpd.log_text()


def scenario_tls_bad_chains_and_names(ringrelay):
    """Unknown CA, expired certificate, wrong host name: "verify" defers (4.7.5, Postfix's words)
    while "may" delivers and logs the peer as Untrusted."""
    needs_root()
    with World(ringrelay) as w:
        unknown, expired, good = tls_smtpd(w, "unknown"), tls_smtpd(w, "expired"), tls_smtpd(w)
        policies = []
        for server in (unknown, expired):
            policies += [(f"[mx.test.example]:{server.port}", "verify"),
                         (f"[localhost]:{server.port}", "may")]
        policies.append((f"[other.test.example]:{good.port}", "verify"))
        serve(w, policies, smtp_connection_cache_on_demand="no")
        for server in (unknown, expired):
            r = deliver(w, f"[mx.test.example]:{server.port}")
            assert r["status"] == "deferred" and r["dsn"] == "4.7.5", r
            assert r["text"] == "Server certificate not trusted", r
            ok = deliver(w, f"[localhost]:{server.port}")
            assert ok["status"] == "sent" and ok["tls"]["verification"] == "Untrusted", ok
        wrong = deliver(w, f"[other.test.example]:{good.port}")
        assert wrong["status"] == "deferred" and wrong["text"] == "Server certificate not verified", wrong
        log = "\n".join(w.log_lines())
        assert "server certificate verification failed for mx.test.example[127.0.0.1]" in log, log
        assert "expired" in log, log
        assert "match none of other.test.example" in log, log


def scenario_tls_trust_anchor_files(ringrelay):
    """smtp_tls_trust_anchor_file and tafile=: at verify, only the anchors count, not
    smtp_tls_CAfile. main.cf's anchor (an unknown CA) does not anchor the server's chain: deferred,
    though the CA file would trust it; a policy's own tafile= with the test CA: Verified, and the
    result says the server was authenticated by a trust anchor."""
    needs_root()
    with World(ringrelay) as w:
        good = tls_smtpd(w)
        p = pki()
        serve(w, [(f"[mx.test.example]:{good.port}", "verify"),
                  (f"[mail.test.example]:{good.port}", f"verify tafile={p}/ca.pem")],
              smtp_tls_trust_anchor_file=f"{p}/unknown-ca.pem",
              smtp_connection_cache_on_demand="no")
        refused = deliver(w, f"[mx.test.example]:{good.port}")
        assert refused["status"] == "deferred" and refused["dsn"] == "4.7.5", refused
        assert refused["text"] == "Server certificate not verified", refused
        ok = deliver(w, f"[mail.test.example]:{good.port}")
        assert ok["status"] == "sent", ok
        assert ok["tls"]["verification"] == "Verified", ok
        assert ok["tls"]["authentication"] == "trust-anchor", ok
        log = "\n".join(w.log_lines())
        assert "trust anchors: chain below the DANE-TA 2 0 0" in log, log


def scenario_tls_wildcard_certificate(ringrelay):
    """A *.wild.test.example certificate verifies mx1.wild.test.example, not wild.test.example."""
    needs_root()
    with World(ringrelay) as w:
        smtpd = tls_smtpd(w, "wildcard")
        p = smtpd.port
        serve(w, [(f"[mx1.wild.test.example]:{p}", "verify"), (f"[wild.test.example]:{p}", "verify")],
              smtp_connection_cache_on_demand="no")
        r = deliver(w, f"[mx1.wild.test.example]:{p}")
        assert r["status"] == "sent" and r["tls"]["verification"] == "Verified", r
        r = deliver(w, f"[wild.test.example]:{p}")
        assert r["status"] == "deferred" and r["text"] == "Server certificate not verified", r


def scenario_tls_fingerprints(ringrelay):
    """fingerprint level: the certificate's or the public key's SHA-256 digest matches; a wrong
    one defers."""
    needs_root()
    with World(ringrelay) as w:
        smtpd = tls_smtpd(w)
        p = smtpd.port
        cert = open(f"{pki()}/good.cert-sha256").read().strip()
        pkey = open(f"{pki()}/good.pkey-sha256").read().strip()
        wrong = "00:" + cert[3:]
        serve(w, [(f"[127.0.0.1]:{p}", f"fingerprint match={cert}"),
                  (f"[localhost]:{p}", f"fingerprint match={wrong}|{pkey}"),
                  (f"[mx.test.example]:{p}", f"fingerprint match={wrong}")],
              smtp_connection_cache_on_demand="no")
        assert deliver(w, f"[127.0.0.1]:{p}")["tls"]["verification"] == "Verified"
        assert deliver(w, f"[localhost]:{p}")["status"] == "sent"
        r = deliver(w, f"[mx.test.example]:{p}")
        assert r["status"] == "deferred" and r["text"] == "Server certificate not verified", r


def scenario_tls_handshake_failure_may_retries_plaintext(ringrelay):
    """The server offers STARTTLS but shares no protocol with us: at "may" the message goes in
    plaintext on a second connection and the server is remembered as broken (later mail does not
    try again); at "encrypt" it is deferred."""
    needs_root()
    with World(ringrelay) as w:
        smtpd = tls_smtpd(w, smtpd_tls_protocols="<=TLSv1.2")
        p = smtpd.port
        metrics = free_port()
        serve(w, [(f"[localhost]:{p}", "may"), (f"[mx.test.example]:{p}", "encrypt")],
              smtp_tls_protocols=">=TLSv1.3", smtp_tls_mandatory_protocols=">=TLSv1.3",
              smtp_connection_cache_on_demand="no", metrics_listen=f"127.0.0.1:{metrics}")
        r = deliver(w, f"[localhost]:{p}")
        assert r["status"] == "sent" and "tls" not in r, r
        again = deliver(w, f"[localhost]:{p}", "b@example.com")
        assert again["status"] == "sent", again
        log = "\n".join(w.log_lines())
        assert log.count("retrying in plaintext; remembering the server as broken for 3600s") == 1, log
        strict = deliver(w, f"[mx.test.example]:{p}")
        assert strict["status"] == "deferred" and strict["dsn"] == "4.7.5", strict
        assert strict["text"].startswith("Cannot start TLS: handshake failure"), strict
        # One failed handshake where TLS was optional (then remembered); the encrypt one failed
        # its set-up.
        m = scraped(metrics)
        assert m["ringrelay_tls_handshake_failures_total"] == 1, m
        assert m['ringrelay_connection_failures_total{reason="session_setup"}'] >= 1, m


def scenario_tls_session_resumption(ringrelay):
    """Without the connection cache, the second connection resumes the first one's session: the
    log line and the result say so."""
    needs_root()
    with World(ringrelay) as w:
        smtpd = tls_smtpd(w)
        hop = f"[mx.test.example]:{smtpd.port}"
        metrics = free_port()
        serve(w, [(hop, "verify")], smtp_connection_cache_on_demand="no",
              metrics_listen=f"127.0.0.1:{metrics}")
        first, second = deliver(w, hop), deliver(w, hop, "b@example.com")
        assert first["status"] == "sent" and not first["tls"]["resumed"], first
        assert second["status"] == "sent" and second["tls"]["resumed"], second
        assert second["tls"]["verification"] == "Verified", second
        lines = established(w)
        assert len(lines) == 2 and lines[1].endswith("(session resumed)"), lines
        # The metrics saw one full and one resumed handshake, both verified.
        m = scraped(metrics)
        assert m['ringrelay_tls_handshakes_total{handshake="full",trust="verified"}'] == 1, m
        assert m['ringrelay_tls_handshakes_total{handshake="resumed",trust="verified"}'] == 1, m
        assert m["ringrelay_tls_handshake_seconds_count"] == 2, m
        assert m["ringrelay_connections_opened_total"] == 2, m


def scenario_tls_cached_connection_reuse(ringrelay):
    """A TLS connection back in the cache carries the next request with no new handshake, and is
    refused to a request whose policy it does not satisfy (that one opens its own connection)."""
    needs_root()
    with World(ringrelay) as w:
        smtpd = tls_smtpd(w)
        p = smtpd.port
        serve(w, [(f"[mx.test.example]:{p}", "verify"), (f"[localhost]:{p}", "verify")],
              smtp_connection_cache_time_limit="10s")
        first = deliver(w, f"[mx.test.example]:{p}")
        second = deliver(w, f"[mx.test.example]:{p}", "b@example.com")
        assert first["conn_use"] == 1 and second["conn_use"] == 2, (first, second)
        assert second["tls"]["verification"] == "Verified", second
        assert len(established(w)) == 1, established(w)
        # Same server, but "localhost" is not a name in the certificate: the cached connection
        # does not satisfy that policy.
        stricter = deliver(w, f"[localhost]:{p}")
        assert stricter["conn_use"] == 1, stricter
        assert stricter["status"] == "deferred" and stricter["text"] == "Server certificate not verified"
        assert len(established(w)) == 2, established(w)


def scenario_tls_client_certificate(ringrelay):
    """smtp_tls_cert_file/smtp_tls_key_file: a Postfix smtpd that asks for client certificates
    and trusts the test CA logs ours as Trusted."""
    needs_root()
    with World(ringrelay) as w:
        p = pki()
        smtpd = tls_smtpd(w, smtpd_tls_ask_ccert="yes", smtpd_tls_CAfile=f"{p}/ca.pem")
        hop = f"[mx.test.example]:{smtpd.port}"
        serve(w, [(hop, "verify")], smtp_tls_cert_file=f"{p}/client.pem",
              smtp_tls_key_file=f"{p}/client.key")
        assert deliver(w, hop)["status"] == "sent"
        wait_for(lambda: "Trusted TLS connection established from" in smtpd.log_text(), 20,
                 "Postfix to log our certificate as trusted")


def scenario_tls_client_certificate_ec_pair_and_chain_file(ringrelay):
    """smtp_tls_eccert_file/smtp_tls_eckey_file alone, and smtp_tls_chain_files (one PEM file:
    the key, then the certificate and its CA): a Postfix smtpd that asks for client certificates
    logs ours as Trusted each time. Several chain files: the first is used and the rest said at
    start."""
    needs_root()
    with World(ringrelay) as w:
        p = pki()
        smtpd = tls_smtpd(w, smtpd_tls_ask_ccert="yes", smtpd_tls_CAfile=f"{p}/ca.pem")
        hop = f"[mx.test.example]:{smtpd.port}"
        serve(w, [(hop, "verify")], smtp_tls_eccert_file=f"{p}/client.pem",
              smtp_tls_eckey_file=f"{p}/client.key")
        assert deliver(w, hop)["status"] == "sent"
        wait_for(lambda: smtpd.log_text().count("Trusted TLS connection established from") == 1,
                 20, "Postfix to log the ECDSA pair as trusted")
        w.stop_serve()
        chain = os.path.join(w.dir, "client-chain.pem")
        with open(chain, "w") as f:
            for part in ("client.key", "client.pem", "ca.pem"):
                f.write(open(f"{p}/{part}").read())
        serve(w, [(hop, "verify")], smtp_tls_chain_files=f"{chain}, {p}/good.pem",
              smtp_connection_cache_on_demand="no")
        assert deliver(w, hop, "b@example.com")["status"] == "sent"
        wait_for(lambda: smtpd.log_text().count("Trusted TLS connection established from") == 2,
                 20, "Postfix to log the chain file's certificate as trusted")
        assert any(f"smtp_tls_chain_files: {p}/good.pem is not used" in line
                   for line in w.log_lines()), w.log_lines()[-5:]


class StartTlsFront:
    """A plaintext SMTP front that offers STARTTLS and, after "220", splices the connection to an
    `openssl s_server` (which does the TLS side). Enough for the checks made right after the
    handshake; s_server speaks no SMTP inside TLS."""

    def __init__(self, world, cert, stall=False):
        p = pki()
        self.stall = stall  # after "220" to STARTTLS, say nothing more (a hostile peer)
        self.accepted = 0   # messages taken in plaintext
        self.tls_port = free_port()
        self.server = subprocess.Popen(
            ["openssl", "s_server", "-quiet", "-accept", f"127.0.0.1:{self.tls_port}",
             "-cert", f"{p}/{cert}.pem", "-key", f"{p}/{cert}.key"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        world.cleanups.append(self.stop)
        wait_for(lambda: port_open(self.tls_port), 10, "openssl s_server")
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.talk, args=(client,), daemon=True).start()

    def talk(self, client):
        with client:
            client.sendall(b"220 front.test ESMTP\r\n")
            reader = client.makefile("rb")
            in_data = False
            for line in reader:
                verb = line[:8].upper()
                if in_data:
                    if line in (b".\r\n", b".\n"):
                        in_data = False
                        self.accepted += 1
                        client.sendall(b"250 2.0.0 taken in plaintext\r\n")
                elif verb.startswith(b"EHLO"):
                    client.sendall(b"250-front.test\r\n250 STARTTLS\r\n")
                elif verb.startswith(b"STARTTLS"):
                    client.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                    break
                elif verb.startswith(b"DATA"):
                    in_data = True
                    client.sendall(b"354 go ahead\r\n")
                elif verb.startswith(b"QUIT"):
                    client.sendall(b"221 bye\r\n")
                    return
                else:
                    client.sendall(b"250 2.0.0 ok\r\n")  # MAIL, RCPT, RSET
            else:
                return
            if self.stall:
                reader.read()  # until the client gives up and closes
                return
            upstream = socket.create_connection(("127.0.0.1", self.tls_port))
            pending = reader.peek(0) if hasattr(reader, "peek") else b""
            if pending:
                upstream.sendall(pending)

            def pipe(a, b):
                try:
                    while True:
                        data = a.recv(65536)
                        if not data:
                            break
                        b.sendall(data)
                except OSError:
                    pass
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

            t = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
            t.start()
            pipe(client, upstream)
            t.join(5)
            upstream.close()

    def stop(self):
        self.listener.close()
        self.server.kill()
        self.server.wait()


def scenario_tls_openssl_s_server_peer(ringrelay):
    """openssl s_server as the TLS peer: the handshake completes against another TLS stack, the
    peer is logged, and a wrong fingerprint or a wrong name defers the mail."""
    needs_root()
    with World(ringrelay) as w:
        front = StartTlsFront(w, "good")
        p = front.port
        serve(w, [(f"[mx.test.example]:{p}", "fingerprint match=00:11:22"),
                  (f"[other.test.example]:{p}", "verify")],
              smtp_connection_cache_on_demand="no")
        r = deliver(w, f"[mx.test.example]:{p}")
        assert r["status"] == "deferred" and r["text"] == "Server certificate not verified", r
        r = deliver(w, f"[other.test.example]:{p}")
        assert r["status"] == "deferred" and r["text"] == "Server certificate not verified", r
        lines = established(w)
        assert len(lines) == 2 and all("Trusted TLS connection established to" in l for l in lines), lines


def scenario_tls_handshake_that_stalls(ringrelay):
    """A hostile peer answers "220" to STARTTLS and then says nothing: after
    smtp_starttls_timeout the handshake has failed; at "may" the message goes in plaintext, at
    "encrypt" it is deferred with the reason."""
    needs_root()
    with World(ringrelay) as w:
        front = StartTlsFront(w, "good", stall=True)
        p = front.port
        serve(w, [(f"[localhost]:{p}", "may"), (f"[mx.test.example]:{p}", "encrypt")],
              smtp_starttls_timeout="2s", smtp_connection_cache_on_demand="no")
        r = deliver(w, f"[localhost]:{p}")
        assert r["status"] == "sent" and r["reply"].endswith("taken in plaintext"), r
        assert front.accepted == 1
        strict = deliver(w, f"[mx.test.example]:{p}")
        assert strict["status"] == "deferred" and strict["dsn"] == "4.7.5", strict
        assert "timed out during the TLS handshake" in strict["text"], strict
