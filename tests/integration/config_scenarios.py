"""Parameter scenarios: each smtp(8) parameter ringrelay acts on shows it on the wire or in the log
against a real peer (smtp-sink, a private Postfix smtpd), and one it refuses stops the start with
exit 78 and its reason."""
import os
import shutil
import signal
import subprocess

from harness import Sink, World, wait_for
from tls_scenarios import deliver, established, needs_root, pki, serve, tls_smtpd


def scenario_legacy_smtp_enforce_tls(ringrelay):
    """A migrated main.cf with smtp_enforce_tls = yes (no smtp_tls_security_level): TLS is
    mandatory, as in Postfix, so a server without STARTTLS gets nothing; smtp_use_tls = yes alone
    is opportunistic."""
    needs_root()
    with World(ringrelay) as w:
        sink = Sink(w)
        hop = f"[127.0.0.1]:{sink.port}"
        w.serve(smtp_enforce_tls="yes", smtp_tls_enforce_peername="no", inet_protocols="ipv4",
                smtp_tls_CAfile=f"{pki()}/ca.pem")
        r = deliver(w, hop)
        assert r["status"] == "deferred" and r["dsn"] == "4.7.4", r
        w.stop_serve()
        w.serve(smtp_use_tls="yes", inet_protocols="ipv4")
        assert deliver(w, hop)["status"] == "sent"


def scenario_tls_connection_reuse_no_and_loglevel_0(ringrelay):
    """smtp_tls_connection_reuse = no: every message over TLS gets its own connection (each a
    handshake at the server); smtp_tls_loglevel = 0: no "established" line, yet the result still
    says how the TLS went."""
    needs_root()
    with World(ringrelay) as w:
        smtpd = tls_smtpd(w)
        hop = f"[mx.test.example]:{smtpd.port}"
        serve(w, [(hop, "verify")], smtp_tls_connection_reuse="no", smtp_tls_loglevel="0",
              smtp_connection_cache_time_limit="10s")
        first = deliver(w, hop)
        second = deliver(w, hop, "b@example.com")
        assert first["status"] == second["status"] == "sent", (first, second)
        assert first["conn_use"] == 1 and second["conn_use"] == 1, (first, second)
        assert second["tls"]["verification"] == "Verified", second
        assert established(w) == [], established(w)
        assert smtpd.log_text().count("TLS connection established from") == 2


def scenario_tls_note_starttls_offer(ringrelay):
    """smtp_tls_note_starttls_offer = yes with TLS off for a server that offers STARTTLS: Postfix's
    "Host offered STARTTLS" line."""
    needs_root()
    with World(ringrelay) as w:
        smtpd = tls_smtpd(w)
        hop = f"[mx.test.example]:{smtpd.port}"
        serve(w, [(hop, "none")], smtp_tls_note_starttls_offer="yes")
        assert deliver(w, hop)["status"] == "sent"
        assert any("Host offered STARTTLS: [mx.test.example]" in l for l in w.log_lines()), \
            w.log_lines()[-5:]


def scenario_bind_address_not_enforced(ringrelay):
    """smtp_bind_address names an address this host does not have: with Postfix's default
    (smtp_bind_address_enforce = no) a warning and the kernel's choice; with yes, deferred."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", smtp_bind_address="192.0.2.77")
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com", w.message())
        assert results[0]["status"] == "sent", results
        assert any("warning: bind 192.0.2.77: " in l for l in w.log_lines()), w.log_lines()[-5:]
        w.stop_serve()
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", smtp_bind_address="192.0.2.77",
                smtp_bind_address_enforce="yes")
        code, results, err = w.submit("-f", "s@example.org", "-r", "b@example.com", w.message())
        assert results[0]["status"] == "deferred", results


def scenario_refused_parameter_stops_the_start(ringrelay):
    """smtp_tls_wrappermode = yes is not supported: serve exits 78 naming it and why; an ignored
    parameter is logged at start."""
    with World(ringrelay) as w:
        config = os.path.join(w.dir, "refused.cf")
        with open(config, "w") as f:
            f.write(f"feed_socket = {w.feed}\nsmtp_tls_wrappermode = yes\n")
        run = subprocess.run([ringrelay, "serve", "-c", config], capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 78, (run.returncode, run.stderr)
        assert "smtp_tls_wrappermode = yes: not supported by ringrelay" in run.stderr, run.stderr
        w.serve(smtp_tls_session_cache_database="btree:/var/lib/postfix/smtp_scache")
        assert any("smtp_tls_session_cache_database = btree:/var/lib/postfix/smtp_scache: ignored "
                   "by ringrelay" in l for l in w.log_lines()), w.log_lines()


def scenario_tls_files_reread_on_reload(ringrelay):
    """A CA file replaced at the same path (a renewal) is used after SIGHUP: before it, the
    server's chain is not trusted; after `systemctl reload`, it is."""
    needs_root()
    with World(ringrelay) as w:
        smtpd = tls_smtpd(w)
        hop = f"[mx.test.example]:{smtpd.port}"
        ca = os.path.join(w.dir, "ca.pem")
        shutil.copy(f"{pki()}/unknown-ca.pem", ca)
        serve(w, [(hop, "verify")], smtp_tls_CAfile=ca, smtp_connection_cache_on_demand="no")
        before = deliver(w, hop)
        assert before["status"] == "deferred", before
        assert before["text"] == "Server certificate not trusted", before
        shutil.copy(f"{pki()}/ca.pem", ca)
        w.serve_process.send_signal(signal.SIGHUP)
        wait_for(lambda: any("configuration reloaded" in l for l in w.log_lines()), 10, "reload")
        after = deliver(w, hop, "b@example.com")
        assert after["status"] == "sent" and after["tls"]["verification"] == "Verified", after
