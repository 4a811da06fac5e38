"""SASL scenarios: ringrelay authenticating to a real Postfix smtpd on loopback that checks logins
with Cyrus SASL against a throw-away sasldb (saslpasswd2). Mechanisms over STARTTLS and over
plaintext, wrong passwords (soft and hard bounce), no common mechanism, AUTH offered only over
TLS, sender-dependent credentials proven at the server's log, the connection cache never mixing
logins, the failed-login cache, and a password table reloaded on SIGHUP."""
import os
import re
import subprocess

from harness import PostfixServer, World, wait_for

REALM = "relay.test"
USERS = {"relayuser": "s3cret", "alice": "alice-pw", "bob": "bob-pw"}
MECHANISMS = "PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256"


def sasl_smtpd(w, tls=False, auth_only=False, mechanisms=MECHANISMS, **more):
    """A private Postfix smtpd that relays only for authenticated clients, checking logins with
    Cyrus against a sasldb of USERS in REALM. `tls`: offers STARTTLS (test PKI); `auth_only`: AUTH
    is offered only after STARTTLS (smtpd_tls_auth_only)."""
    sasl_dir = os.path.join(w.dir, f"sasl-{len(w.cleanups)}")
    os.makedirs(sasl_dir)
    db = os.path.join(sasl_dir, "sasldb2")
    for user, password in USERS.items():
        subprocess.run(["saslpasswd2", "-c", "-p", "-f", db, "-u", REALM, user],
                       input=password, text=True, check=True)
    subprocess.run(["chown", "postfix", db], check=True)
    os.chmod(sasl_dir, 0o755)

    def write_cyrus_config(server):
        # Debian's smtpd reads $config_directory/sasl/smtpd.conf (cyrus_sasl_config_path is
        # patched out).
        os.makedirs(os.path.join(server.conf, "sasl"))
        with open(os.path.join(server.conf, "sasl", "smtpd.conf"), "w") as f:
            f.write(f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {db}\n"
                    f"mech_list: {mechanisms}\n")
    settings = {
        "smtpd_sasl_auth_enable": "yes", "smtpd_sasl_type": "cyrus", "smtpd_sasl_path": "smtpd",
        "smtpd_sasl_local_domain": REALM,
        "smtpd_sasl_security_options": "noanonymous",
        # Loopback is not trusted: only a login relays.
        "mynetworks": "192.0.2.0/24",
        "smtpd_recipient_restrictions": "permit_sasl_authenticated, reject",
        "smtpd_relay_restrictions": "permit_sasl_authenticated, reject",
    }
    if tls:
        from tls_scenarios import pki
        p = pki()
        settings.update({"smtpd_tls_security_level": "may", "smtpd_tls_cert_file": f"{p}/good.pem",
                         "smtpd_tls_key_file": f"{p}/good.key"})
    if auth_only:
        settings["smtpd_tls_auth_only"] = "yes"
    settings.update(more)
    return PostfixServer(w, main_cf=settings.items(), chroot=False,
                         before_start=write_cyrus_config)


def password_table(w, entries, name="sasl_passwd", mode=0o600):
    path = os.path.join(w.dir, name)
    with open(path, "w") as f:
        for key, value in entries:
            f.write(f"{key} {value}\n")
    os.chmod(path, mode)
    return path


def serve(w, server, table, **parameters):
    settings = {"relayhost": f"[127.0.0.1]:{server.port}", "smtp_sasl_auth_enable": "yes",
                "smtp_sasl_password_maps": f"texthash:{table}", "inet_protocols": "ipv4",
                "shards": 1}
    settings.update(parameters)
    w.serve(**settings)


def deliver(w, sender="s@example.org", recipient="a@example.com"):
    code, results, err = w.submit("-f", sender, "-r", recipient, w.message())
    assert len(results) == 1, (code, results, err)
    return results[0]


def logins(server):
    """(method, user) of every message the server took, in order (smtpd logs the login with each
    message's client= line)."""
    return re.findall(r"sasl_method=([A-Z0-9-]+), sasl_username=(\S+)", server.log_text())


def auth_commands(server):
    """Successful AUTH commands over the connections that ended, from smtpd's "disconnect from"
    statistics ("auth=1" or "auth=1/2")."""
    return sum(int(n) for n in re.findall(r"disconnect from .* auth=(\d+)", server.log_text()))


def failed_logins(server):
    return server.log_text().count("authentication failed")


def scenario_sasl_plain_over_starttls(ringrelay):
    """A smarthost that offers AUTH only after STARTTLS: PLAIN over TLS, the password never in
    the clear (Postfix's defaults refuse PLAIN in plaintext)."""
    with World(ringrelay) as w:
        server = sasl_smtpd(w, tls=True, auth_only=True)
        table = password_table(w, [(f"[127.0.0.1]:{server.port}", "relayuser:s3cret")])
        from tls_scenarios import pki
        serve(w, server, table, smtp_tls_security_level="encrypt",
              smtp_tls_CAfile=f"{pki()}/ca.pem", smtp_sasl_tls_security_options="noanonymous",
              smtp_sasl_mechanism_filter="plain")
        result = deliver(w)
        assert result["status"] == "sent", result
        wait_for(lambda: logins(server), 10, "the server's log of the login")
        assert logins(server) == [("PLAIN", f"relayuser@{REALM}")], logins(server)


def scenario_sasl_login_over_starttls(ringrelay):
    with World(ringrelay) as w:
        server = sasl_smtpd(w, tls=True, auth_only=True)
        table = password_table(w, [(f"[127.0.0.1]:{server.port}", "relayuser:s3cret")])
        from tls_scenarios import pki
        serve(w, server, table, smtp_tls_security_level="may", smtp_tls_CAfile=f"{pki()}/ca.pem",
              smtp_sasl_tls_security_options="noanonymous", smtp_sasl_mechanism_filter="login")
        result = deliver(w)
        assert result["status"] == "sent", result
        wait_for(lambda: logins(server), 10, "the server's log of the login")
        assert logins(server) == [("LOGIN", f"relayuser@{REALM}")], logins(server)


def scenario_sasl_cram_md5_and_scram_over_plaintext(ringrelay):
    """Without TLS, Postfix's default noplaintext still allows mechanisms that never send the
    password: CRAM-MD5, then SCRAM-SHA-256 (its server-final message comes as a 334)."""
    for mechanism in ("CRAM-MD5", "SCRAM-SHA-256", "DIGEST-MD5"):
        with World(ringrelay) as w:
            server = sasl_smtpd(w)
            table = password_table(w, [(f"[127.0.0.1]:{server.port}", "relayuser:s3cret")])
            serve(w, server, table, smtp_sasl_mechanism_filter=mechanism.lower())
            result = deliver(w)
            assert result["status"] == "sent", (mechanism, result)
            wait_for(lambda: logins(server), 10, "the server's log of the login")
            assert [(m, u.split("@")[0]) for m, u in logins(server)] == [(mechanism, "relayuser")], \
                logins(server)


def scenario_sasl_plaintext_password_never_sent_in_clear(ringrelay):
    """A server offering only PLAIN and LOGIN without TLS, Postfix's default options: deferred in
    Postfix's words, and the server saw no AUTH at all."""
    with World(ringrelay) as w:
        server = sasl_smtpd(w, mechanisms="PLAIN LOGIN")
        table = password_table(w, [(f"[127.0.0.1]:{server.port}", "relayuser:s3cret")])
        serve(w, server, table)
        result = deliver(w)
        assert result["status"] == "deferred" and result["dsn"] == "4.7.0", result
        assert "SASL authentication failed; cannot authenticate to server" in result["text"], result
        assert "no mechanism available" in result["text"], result
        assert "AUTH" not in server.log_text().split("connect from", 1)[-1] or not logins(server)
        assert failed_logins(server) == 0


def scenario_sasl_wrong_password_soft_and_hard(ringrelay):
    with World(ringrelay) as w:
        server = sasl_smtpd(w)
        table = password_table(w, [(f"[127.0.0.1]:{server.port}", "relayuser:wrong")])
        serve(w, server, table, smtp_sasl_security_options="noanonymous")
        result = deliver(w)
        assert result["status"] == "deferred" and result["dsn"] == "4.7.8", result
        assert result["stage"] == "auth", result
        assert re.search(r"SASL authentication failed; server 127\.0\.0\.1\[127\.0\.0\.1\] said: "
                         r"535 5\.7\.8 ", result["text"]), result
        assert "wrong" not in result["text"] and "s3cret" not in open(w.log).read()
        w.stop_serve()
        serve(w, server, table, smtp_sasl_security_options="noanonymous",
              smtp_sasl_auth_soft_bounce="no")
        result = deliver(w)
        assert result["status"] == "bounced" and result["dsn"] == "5.7.8", result
        for line in open(w.log):
            assert ":wrong" not in line and " wrong" not in line, line


def scenario_sasl_no_common_mechanism(ringrelay):
    with World(ringrelay) as w:
        server = sasl_smtpd(w, mechanisms="PLAIN LOGIN")
        table = password_table(w, [(f"[127.0.0.1]:{server.port}", "relayuser:s3cret")])
        serve(w, server, table, smtp_sasl_security_options="noanonymous",
              smtp_sasl_mechanism_filter="cram-md5, scram-sha-256")
        result = deliver(w)
        assert result["status"] == "deferred" and result["dsn"] == "4.7.0", result
        assert "offered no compatible authentication mechanisms" in result["text"], result


def scenario_sasl_auth_not_offered_to_plaintext(ringrelay):
    """AUTH only after STARTTLS, ringrelay without TLS: it delivers as a stranger, says so in its
    log, and the server's refusal is the result (as in Postfix: a 554 bounces)."""
    with World(ringrelay) as w:
        server = sasl_smtpd(w, tls=True, auth_only=True)
        table = password_table(w, [(f"[127.0.0.1]:{server.port}", "relayuser:s3cret")])
        serve(w, server, table, smtp_tls_security_level="none",
              smtp_sasl_security_options="noanonymous")
        result = deliver(w)
        assert result["status"] == "bounced" and result["stage"] == "rcpt", result
        assert result["dsn"] == "5.7.1" and "Access denied" in result["text"], result
        wait_for(lambda: any("offered no AUTH" in l for l in w.log_lines()), 10, "the notice")


def scenario_sasl_sender_dependent_credentials(ringrelay):
    """Two senders, two logins on one smarthost (full address, then @domain); mail from a third
    sender uses the host's entry. Every message the server took was submitted by the login its
    sender maps to (queue id → sasl_username and from=)."""
    with World(ringrelay) as w:
        server = sasl_smtpd(w)
        hop = f"[127.0.0.1]:{server.port}"
        table = password_table(w, [("alice@one.example", "alice:alice-pw"),
                                   ("@two.example", "bob:bob-pw"), (hop, "relayuser:s3cret")])
        serve(w, server, table, smtp_sasl_security_options="noanonymous",
              smtp_sender_dependent_authentication="yes", smtp_connection_cache_time_limit="30s")
        senders = ["alice@one.example", "carol@two.example", "dave@three.example"] * 4
        requests = [{"id": f"m{i}", "sender": s, "recipients": [f"r{i}@example.com"]}
                    for i, s in enumerate(senders)]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()))
        assert code == 0 and len(results) == len(senders), (code, results, err)
        assert all(r["status"] == "sent" for r in results), results
        expected = {"alice@one.example": "alice", "carol@two.example": "bob",
                    "dave@three.example": "relayuser"}
        wait_for(lambda: len(queue_logins(server)) == len(senders), 20, "the server's log")
        for queue_id, (user, sender) in queue_logins(server).items():
            assert user.split("@")[0] == expected[sender], (queue_id, user, sender)
        # Connections were reused, but never across logins.
        w.stop_serve()
        wait_for(lambda: auth_commands(server) >= 3, 10, "the server's disconnect statistics")
        assert 3 <= auth_commands(server) < len(senders), auth_commands(server)


def queue_logins(server):
    """queue id → (sasl_username, envelope sender) from the server's log."""
    text = server.log_text()
    users = dict(re.findall(r" ([0-9A-F]{6,}): client=\S+, sasl_method=\S+, sasl_username=(\S+)",
                            text))
    senders = dict(re.findall(r" ([0-9A-F]{6,}): from=<([^>]*)>", text))
    return {q: (u, senders.get(q, "?")) for q, u in users.items()}


def scenario_sasl_failed_login_is_remembered(ringrelay):
    """smtp_sasl_auth_cache_name set: one 535, then the following messages are deferred with
    "SASL [CACHED] authentication failed" without a new AUTH at the server."""
    with World(ringrelay) as w:
        server = sasl_smtpd(w)
        table = password_table(w, [(f"[127.0.0.1]:{server.port}", "relayuser:wrong")])
        serve(w, server, table, smtp_sasl_security_options="noanonymous",
              smtp_sasl_auth_cache_name="proxy:btree:/var/lib/postfix/sasl_auth_cache")
        first = deliver(w)
        assert first["status"] == "deferred" and "[CACHED]" not in first["text"], first
        for _ in range(5):
            result = deliver(w)
            assert result["status"] == "deferred" and result["dsn"] == "4.7.8", result
            assert result["text"].startswith("SASL [CACHED] authentication failed; server "), result
        wait_for(lambda: failed_logins(server) >= 1, 10, "the server's log of the failed login")
        assert failed_logins(server) == 1, server.log_text()[-2000:]


def scenario_sasl_password_table_reloaded_on_sighup(ringrelay):
    """A wrong password fixed in the table and `systemctl reload`: the next message logs in. A
    table others can read is warned about at start."""
    with World(ringrelay) as w:
        server = sasl_smtpd(w)
        hop = f"[127.0.0.1]:{server.port}"
        table = password_table(w, [(hop, "relayuser:wrong")], mode=0o644)
        serve(w, server, table, smtp_sasl_security_options="noanonymous")
        assert any("readable by others than its owner" in l for l in w.log_lines()), w.log_lines()
        assert deliver(w)["status"] == "deferred"
        password_table(w, [(hop, "relayuser:s3cret")])
        w.serve_process.send_signal(1)
        wait_for(lambda: any("configuration reloaded" in l for l in w.log_lines()), 10, "reload")
        result = deliver(w)
        assert result["status"] == "sent", result


def scenario_sasl_connections_never_mix_logins(ringrelay):
    """Interleaved mail from two senders with two logins to one relay, with cached connections:
    each connection the server saw logged in once, and carried only its own login's mail."""
    with World(ringrelay) as w:
        server = sasl_smtpd(w)
        table = password_table(w, [("a@one.example", "alice:alice-pw"),
                                   ("b@two.example", "bob:bob-pw")])
        serve(w, server, table, smtp_sasl_security_options="noanonymous",
              smtp_sender_dependent_authentication="yes", smtp_connection_cache_time_limit="30s")
        for i in range(6):
            sender = "a@one.example" if i % 2 == 0 else "b@two.example"
            assert deliver(w, sender=sender, recipient=f"r{i}@example.com")["status"] == "sent"
        wait_for(lambda: len(queue_logins(server)) == 6, 20, "the server's log")
        for queue_id, (user, sender) in queue_logins(server).items():
            assert user.split("@")[0] == ("alice" if sender == "a@one.example" else "bob"), \
                (queue_id, user, sender)
        # One connection per login, reused: two AUTHs for six messages.
        w.stop_serve()
        wait_for(lambda: auth_commands(server) >= 2, 10, "the server's disconnect statistics")
        assert auth_commands(server) == 2, server.log_text()[-3000:]
