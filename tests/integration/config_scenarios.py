"""Parameter scenarios: each smtp(8) parameter ringrelay acts on shows it on the wire or in the log
against a real peer (smtp-sink, a private Postfix smtpd), and one it refuses stops the start with
exit 78 and its reason."""
import os
import shutil
import signal
import subprocess

from harness import (PostfixServer, Sink, TricklingServer, World, free_port,
                     one_result_per_recipient,
                     wait_for)
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
        assert len(results) == 1 and results[0]["status"] == "sent", results
        assert any("warning: bind 192.0.2.77: " in l for l in w.log_lines()), w.log_lines()[-5:]
        w.stop_serve()
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", smtp_bind_address="192.0.2.77",
                smtp_bind_address_enforce="yes")
        code, results, err = w.submit("-f", "s@example.org", "-r", "b@example.com", w.message())
        assert len(results) == 1 and results[0]["status"] == "deferred", results


def scenario_refused_parameter_stops_the_start(ringrelay):
    """smtp_tcp_port = 2525 is refused (next hops name their port): serve exits 78 naming it and
    why; an ignored
    parameter is logged at start."""
    with World(ringrelay) as w:
        config = os.path.join(w.dir, "refused.cf")
        with open(config, "w") as f:
            f.write(f"feed_socket = {w.feed}\nsmtp_tcp_port = 2525\n")
        run = subprocess.run([ringrelay, "serve", "-c", config], capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 78, (run.returncode, run.stderr)
        assert "smtp_tcp_port = 2525: not supported by ringrelay: next hops name their port" in \
            run.stderr, run.stderr
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


EIGHT_BIT = ("Subject: 8bit\nFrom: s@example.org\nMIME-Version: 1.0\n"
             "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
             "Gr\u00fc\u00dfe aus K\u00f6ln\n")


def dumping_sink(w, address, name):
    """An smtp-sink on `address` that writes each message it takes to a file under w.dir/name."""
    dumps = os.path.join(w.dir, name)
    os.makedirs(dumps)
    os.chmod(dumps, 0o777)
    return Sink(w, ["-d", os.path.join(dumps, "%M.")], address=address), dumps


def dumped(dumps):
    wait_for(lambda: os.listdir(dumps), 10, f"a message in {dumps}")
    return open(os.path.join(dumps, os.listdir(dumps)[0]), encoding="utf-8",
                errors="replace").read()


def scenario_discard_ehlo_keyword_address_maps(ringrelay):
    """smtp_discard_ehlo_keyword_address_maps (cidr:, by server address): the server at 127.0.0.2
    has its 8BITMIME discarded, so the same 8-bit message reaches it converted to
    quoted-printable, while 127.0.0.1 (no entry: main.cf's empty list) gets the 8-bit original."""
    with World(ringrelay) as w:
        plain, plain_dumps = dumping_sink(w, "127.0.0.1", "dumps1")
        worked, worked_dumps = dumping_sink(w, "127.0.0.2", "dumps2")
        cidr = os.path.join(w.dir, "discard.cidr")
        with open(cidr, "w") as f:
            f.write("# per-server EHLO workarounds\n127.0.0.2/32  silent-discard, 8BITMIME\n")
        w.serve(transport_maps=f"inline:{{ one.example=smtp:[127.0.0.1]:{plain.port}, "
                               f"two.example=smtp:[127.0.0.2]:{worked.port} }}",
                smtp_discard_ehlo_keyword_address_maps=f"cidr:{cidr}")
        message = w.message(body=EIGHT_BIT)
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@one.example",
                                      "-r", "b@two.example", message)
        assert code == 0, (code, err)
        request = results[0]["id"]
        seen = one_result_per_recipient(results, [(request, "a@one.example"),
                                                  (request, "b@two.example")])
        assert len(results) == 2 and all(r["status"] == "sent" for r in seen.values()), results
        original, converted = dumped(plain_dumps), dumped(worked_dumps)
        assert "Gr\u00fc\u00dfe aus K\u00f6ln" in original, original
        assert "Content-Transfer-Encoding: 8bit" in original, original
        assert "Content-Transfer-Encoding: quoted-printable" in converted, converted
        assert "Gr=C3=BC=C3=9Fe aus K=C3=B6ln" in converted, converted


def scenario_reply_filter_rewrites_server_replies(ringrelay):
    """smtp_reply_filter (pcre:): a server that answers RCPT with "550 5.7.1" is, through the
    filter, a temporary refusal (450 4.7.1 with the server's text kept through $1); without the
    filter the same reply bounces. The filter sees every line, the greeting's too."""
    with World(ringrelay) as w:
        sink = Sink(w, ["-f", "RCPT", "-B", "550 5.7.1 Service unavailable; client blocked"])
        hop = f"[127.0.0.1]:{sink.port}"
        w.serve(relayhost=hop)
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com", w.message())
        assert len(results) == 1 and results[0]["status"] == "bounced", results
        assert results[0]["dsn"] == "5.7.1", results
        w.stop_serve()
        table = os.path.join(w.dir, "reply_filter")
        with open(table, "w") as f:
            f.write("/^550 5\\.7\\.1 (.*client blocked.*)$/  450 4.7.1 $1\n")
        w.serve(relayhost=hop, smtp_reply_filter=f"pcre:{table}")
        code, results, err = w.submit("-f", "s@example.org", "-r", "b@example.com", w.message())
        by_recipient = one_result_per_recipient(results, [(results[0]["id"], "b@example.com")])
        result = by_recipient[(results[0]["id"], "b@example.com")]
        assert result["status"] == "deferred" and result["dsn"] == "4.7.1", result
        assert "450 4.7.1 Service unavailable; client blocked" in result["text"], result


def scenario_per_request_deadline_against_a_trickling_server(ringrelay):
    """A server that sends its greeting one byte a second: with Postfix's default the 2s
    smtp_helo_timeout applies per read, so the greeting (7 bytes, 7s) gets through and the mail
    is sent; with smtp_per_request_deadline = yes (and with its pre-3.7 name,
    smtp_per_record_deadline) the whole greeting must come within 2s: deferred, in Postfix's
    words, exactly one result each time."""
    with World(ringrelay) as w:
        server = TricklingServer(w, greeting=b"220 t\r\n", pace=1.0)
        hop = f"[127.0.0.1]:{server.port}"
        w.serve(relayhost=hop, smtp_helo_timeout="2s")
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com", w.message())
        assert len(results) == 1 and results[0]["status"] == "sent", results
        assert server.messages == 1
        for parameter in ("smtp_per_request_deadline", "smtp_per_record_deadline"):
            w.stop_serve()
            w.serve(relayhost=hop, smtp_helo_timeout="2s", **{parameter: "yes"})
            code, results, err = w.submit("-f", "s@example.org", "-r", "b@example.com",
                                          w.message())
            assert len(results) == 1 and results[0]["status"] == "deferred", (parameter, results)
            assert "timed out while receiving the initial server greeting" in \
                results[0]["text"], results
            assert results[0]["delay"] < 5, results
        assert server.messages == 1


def scenario_tls_wrappermode_smtps(ringrelay):
    """smtp_tls_wrappermode = yes against a Postfix smtpd in SMTPS mode (smtpd_tls_wrappermode):
    TLS from the first byte, verified, no STARTTLS. With level may the server is skipped in
    Postfix's words; without wrappermode the same server never greets in plaintext."""
    needs_root()
    with World(ringrelay) as w:
        smtpd = tls_smtpd(w, smtpd_tls_wrappermode="yes", smtpd_tls_security_level="encrypt")
        hop = f"[mx.test.example]:{smtpd.port}"
        serve(w, [(hop, "verify")], smtp_tls_wrappermode="yes")
        first = deliver(w, hop)
        assert first["status"] == "sent", first
        assert first["tls"]["verification"] == "Verified", first
        assert "STARTTLS" not in open(w.log).read()
        w.stop_serve()
        serve(w, [(hop, "may")], smtp_tls_wrappermode="yes")
        refused = deliver(w, hop, "b@example.com")
        assert refused["status"] == "deferred", refused
        assert 'smtp_tls_wrappermode requires "smtp_tls_security_level = encrypt" (or ' \
            'stronger)' in refused["text"], refused
        w.stop_serve()
        serve(w, [(hop, "verify")], smtp_helo_timeout="2s")
        plaintext = deliver(w, hop, "c@example.com")
        assert plaintext["status"] == "deferred", plaintext
        assert "initial server greeting" in plaintext["text"], plaintext
        assert smtpd.log_text().count("TLS connection established from") == 1, smtpd.log_text()


def scenario_xforward_to_postfix_smtpd(ringrelay):
    """smtp_send_xforward_command = yes: a Postfix smtpd that trusts ringrelay's address
    (smtpd_authorized_xforward_hosts) logs each message with the client and queue id the queue
    manager named in the request ("client" attributes: orig_client=, orig_queue_id=); a request
    without attributes forwards nothing; without the parameter nothing is forwarded."""
    with World(ringrelay) as w:
        smtpd = PostfixServer(w, main_cf=[("smtpd_authorized_xforward_hosts", "127.0.0.0/8")])
        w.serve(relayhost=f"[127.0.0.1]:{smtpd.port}", smtp_send_xforward_command="yes")
        requests = [
            {"id": "fwd", "recipients": ["a@example.com"],
             "client": {"client_name": "mail.client.example", "client_address": "192.0.2.7",
                        "client_port": 40123, "helo": "client-helo.example",
                        "protocol": "ESMTP", "ident": "QM-77", "source": "remote"}},
            {"id": "plain", "recipients": ["b@example.com"]},
        ]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()))
        seen = one_result_per_recipient(results, [("fwd", "a@example.com"),
                                                  ("plain", "b@example.com")])
        assert all(r["status"] == "sent" for r in seen.values()), results
        wait_for(lambda: smtpd.log_text().count(": client=") >= 2, 10, "smtpd's client lines")
        clients = [line for line in smtpd.log_text().splitlines() if ": client=" in line]
        assert sum("orig_queue_id=QM-77, orig_client=mail.client.example[192.0.2.7]" in line
                   for line in clients) == 1, clients
        assert sum("orig_client=" not in line for line in clients) == 1, clients
        w.stop_serve()
        w.serve(relayhost=f"[127.0.0.1]:{smtpd.port}")
        code, results, err = w.submit("--batch", w.batch(requests[:1], w.message()))
        assert len(results) == 1 and results[0]["status"] == "sent", results
        wait_for(lambda: smtpd.log_text().count(": client=") >= 3, 10, "smtpd's client line")
        assert smtpd.log_text().count("orig_client=") == 1, smtpd.log_text()[-2000:]


def scenario_pix_workarounds(ringrelay):
    """A server greeting "220 ****..." (a Cisco PIX mailguard): with Postfix's default
    smtp_pix_workarounds ringrelay says HELO, not EHLO, and for a message queued longer than
    smtp_pix_workaround_threshold_time sends the final "." alone after the delay time; a young
    message goes at once; smtp_pix_workaround_maps with an empty list for the server turns both
    off."""
    with World(ringrelay) as w:
        server = TricklingServer(w, greeting=b"220 *************************\r\n", pace=0)
        hop = f"[127.0.0.1]:{server.port}"
        w.serve(relayhost=hop, smtp_pix_workaround_delay_time="2s",
                smtp_pix_workaround_threshold_time="100s")
        requests = [{"id": "old", "recipients": ["a@example.com"], "queued_seconds": 600}]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()))
        assert len(results) == 1 and results[0]["status"] == "sent", results
        assert not any(c.upper().startswith("EHLO") for c in server.commands), server.commands
        assert any(c.upper().startswith("HELO") for c in server.commands), server.commands
        assert server.dot_waits and server.dot_waits[-1] >= 1.9, server.dot_waits
        assert any("enabling PIX workarounds: disable_esmtp, delay_dotcrlf for "
                   "127.0.0.1[127.0.0.1]" in l for l in w.log_lines()), \
            w.log_lines()[-5:]
        requests = [{"id": "young", "recipients": ["b@example.com"], "queued_seconds": 5}]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()))
        assert len(results) == 1 and results[0]["status"] == "sent", results
        assert server.dot_waits[-1] < 1.5, server.dot_waits
        w.stop_serve()
        server.commands.clear()
        w.serve(relayhost=hop, smtp_pix_workaround_maps="inline:{ 127.0.0.1= }",
                smtp_pix_workaround_delay_time="2s", smtp_pix_workaround_threshold_time="100s")
        requests = [{"id": "off", "recipients": ["c@example.com"], "queued_seconds": 600}]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()))
        assert len(results) == 1 and results[0]["status"] == "sent", results
        assert server.commands[0].upper().startswith("EHLO"), server.commands
        assert server.dot_waits[-1] < 1.5, server.dot_waits


def scenario_dsn_success_action_and_lmtp_assume_final(ringrelay):
    """NOTIFY=SUCCESS through a server that offers no DSN (smtp-sink with DSN discarded): the
    result says "relayed" and that the queue manager owes the success notice (RFC 3461 5.2);
    with DSN offered, the server takes it over; an LMTP server (smtp-sink -L) without DSN and
    lmtp_assume_final = yes: "delivered"."""
    with World(ringrelay) as w:
        sink, lmtp = Sink(w), Sink(w, ["-L"])
        w.serve(smtp_discard_ehlo_keywords="dsn", lmtp_discard_lhlo_keywords="dsn",
                lmtp_assume_final="yes")
        notify = {"address": "a@example.com", "notify": "SUCCESS,FAILURE"}
        requests = [
            {"id": "smtp", "recipients": [notify, "b@example.com"],
             "nexthop": f"[127.0.0.1]:{sink.port}"},
            {"id": "lmtp", "recipients": [notify], "nexthop": f"lmtp:inet:127.0.0.1:{lmtp.port}"},
        ]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()))
        seen = one_result_per_recipient(results, [("smtp", "a@example.com"),
                                                  ("smtp", "b@example.com"),
                                                  ("lmtp", "a@example.com")])
        assert all(r["status"] == "sent" for r in seen.values()), results
        assert seen[("smtp", "a@example.com")]["action"] == "relayed", results
        assert seen[("smtp", "a@example.com")]["success_notice_due"] is True, results
        assert "success_notice_due" not in seen[("smtp", "b@example.com")], results
        assert seen[("lmtp", "a@example.com")]["action"] == "delivered", results
        assert seen[("lmtp", "a@example.com")]["success_notice_due"] is True, results
        w.stop_serve()
        w.serve()
        code, results, err = w.submit("--batch", w.batch(requests[:1], w.message()))
        seen = one_result_per_recipient(results, [("smtp", "a@example.com"),
                                                  ("smtp", "b@example.com")])
        assert seen[("smtp", "a@example.com")]["action"] == "relayed", results
        assert "success_notice_due" not in seen[("smtp", "a@example.com")], results


def scenario_reload_says_what_needs_a_restart(ringrelay):
    """SIGHUP with a changed shards (start-only) and a changed smtp_helo_name: the reload is
    applied, and the log says that shards takes effect at the next start."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", shards=1)
        with open(w.config) as f:
            text = f.read().replace("shards = 1", "shards = 2").replace(
                "smtp_helo_name = relay.test", "smtp_helo_name = relay2.test")
        with open(w.config, "w") as f:
            f.write(text)
        w.serve_process.send_signal(signal.SIGHUP)
        wait_for(lambda: any("configuration reloaded" in l for l in w.log_lines()), 10, "reload")
        assert any('warning: shards changed to "2": it takes effect at the next start' in l
                   for l in w.log_lines()), w.log_lines()[-5:]
        assert not any("smtp_helo_name changed" in l for l in w.log_lines())
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com", w.message())
        assert len(results) == 1 and results[0]["status"] == "sent", results


def scenario_smtp_header_checks(ringrelay):
    """smtp_header_checks (pcre:) at the last hop, seen in what smtp-sink received: Received
    headers dropped (IGNORE), the subject rewritten with the matched text (REPLACE), a header
    added (PREPEND), a warning logged (WARN); the body, whose lines look like headers, is
    untouched."""
    with World(ringrelay) as w:
        sink, dumps = dumping_sink(w, "127.0.0.1", "dumps")
        table = os.path.join(w.dir, "header_checks")
        with open(table, "w") as f:
            f.write("/^Received:/  IGNORE\n"
                    "/^Subject:\\s+(.*)$/  REPLACE Subject: [external] $1\n"
                    "/^X-Mailer:/  PREPEND X-Relayed-By: ringrelay\n"
                    "/^From:.*@spoofed\\.example/  WARN suspicious sender\n")
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", smtp_header_checks=f"pcre:{table}")
        body = ("Received: from client.example\n\tby relay.example; Thu, 3 Dec 2026\n"
                "Subject: quarterly report\nX-Mailer: qm 1.0\nFrom: boss@spoofed.example\n\n"
                "Received: this body line stays\nSubject: so does this one\n")
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com",
                                      w.message(body=body))
        assert len(results) == 1 and results[0]["status"] == "sent", results
        got = dumped(dumps).replace("\r\n", "\n")
        assert "Received: from client.example" not in got, got
        assert "Subject: [external] quarterly report" in got, got
        assert "X-Relayed-By: ringrelay\nX-Mailer: qm 1.0" in got, got
        assert "Received: this body line stays" in got and "Subject: so does this one" in got, got
        assert any("warning: header From: boss@spoofed.example: suspicious sender" in l
                   for l in w.log_lines()), w.log_lines()[-5:]


def scenario_smtp_mime_body_checks_and_generic_maps(ringrelay):
    """The rest of smtp(8)'s content rules on a multipart message with an attached message, seen in
    what smtp-sink received: smtp_mime_header_checks renames an attachment (REPLACE on its
    Content-Disposition), smtp_nested_header_checks drops the attached message's Received header,
    smtp_body_checks drops a body line and rewrites another (boundaries pass untouched), and
    smtp_generic_maps rewrites the envelope sender, a recipient and the From/To headers — not
    the Subject nor the body. One result per recipient, reported under the original address."""
    with World(ringrelay) as w:
        sink, dumps = dumping_sink(w, "127.0.0.1", "dumps")
        tables = {}
        for name, text in {
                "mime": "/^Content-Disposition:.*filename=\"?secret/"
                        "  REPLACE Content-Disposition: attachment; filename=\"renamed.txt\"\n",
                "nested": "/^Received:/  IGNORE\n",
                "body": "/^INTERNAL ONLY/  IGNORE\n/^see (.*)\\.internal$/  REPLACE see $1.example\n",
                "generic": "@internal.example  @example.com\n"}.items():
            tables[name] = os.path.join(w.dir, name)
            with open(tables[name], "w") as f:
                f.write(text)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}",
                smtp_mime_header_checks=f"regexp:{tables['mime']}",
                smtp_nested_header_checks=f"pcre:{tables['nested']}",
                smtp_body_checks=f"pcre:{tables['body']}",
                smtp_generic_maps=f"texthash:{tables['generic']}")
        body = ("From: Sam <sam@internal.example>\nTo: ann@internal.example, bob@other.example\n"
                "Subject: from sam@internal.example\nMIME-Version: 1.0\n"
                "Content-Type: multipart/mixed; boundary=\"b1\"\n\n"
                "--b1\nContent-Type: text/plain\n\nhello\nINTERNAL ONLY: drop me\n"
                "see wiki.internal\nsam@internal.example stays in the body\n"
                "--b1\nContent-Type: text/plain\n"
                "Content-Disposition: attachment; filename=\"secret-plan.txt\"\n\nplan\n"
                "--b1\nContent-Type: message/rfc822\n\n"
                "Received: from inner.example\nSubject: attached\n\nattached body\n"
                "--b1--\n")
        code, results, err = w.submit("-f", "sam@internal.example", "-r", "ann@internal.example",
                                      "-r", "bob@other.example", w.message(body=body))
        request = results[0]["id"]
        assert one_result_per_recipient(results, [(request, "ann@internal.example"),
                                                  (request, "bob@other.example")])
        assert all(r["status"] == "sent" for r in results), results
        got = dumped(dumps).replace("\r\n", "\n")
        assert "X-Mail-Args: <sam@example.com>" in got, got
        assert "X-Rcpt-Args: <ann@example.com>\nX-Rcpt-Args: <bob@other.example>\n" in got, got
        assert "From: Sam <sam@example.com>\nTo: ann@example.com, bob@other.example\n" in got, got
        assert "Subject: from sam@internal.example\n" in got, got
        assert "INTERNAL ONLY" not in got and "\nsee wiki.example\n" in got, got
        assert "sam@internal.example stays in the body" in got, got
        assert 'filename="renamed.txt"' in got and "secret-plan" not in got, got
        assert "Received: from inner.example" not in got and "Subject: attached" in got, got
        assert got.count("--b1\n") == 3 and "--b1--\n" in got, got


def scenario_lmtp_fallback_relay(ringrelay):
    """lmtp_fallback_relay: an LMTP next hop with nothing listening hands its mail to the LMTP
    fallback (smtp-sink -L, named "inet:host:port" as lmtp(8) names it), never to
    smtp_fallback_relay; an SMTP next hop with nothing listening goes to smtp_fallback_relay."""
    with World(ringrelay) as w:
        smtp_relay, lmtp_relay = Sink(w), Sink(w, ["-L"])
        dead = free_port()
        w.serve(smtp_fallback_relay=f"[127.0.0.1]:{smtp_relay.port}",
                lmtp_fallback_relay=f"inet:127.0.0.1:{lmtp_relay.port}")
        requests = [
            {"id": "lmtp", "recipients": ["a@example.com"],
             "nexthop": f"lmtp:inet:127.0.0.1:{dead}"},
            {"id": "smtp", "recipients": ["b@example.com"], "nexthop": f"[127.0.0.1]:{dead}"},
        ]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()))
        seen = one_result_per_recipient(results, [("lmtp", "a@example.com"),
                                                  ("smtp", "b@example.com")])
        assert all(r["status"] == "sent" for r in seen.values()), results
        assert seen[("lmtp", "a@example.com")]["relay"].endswith(f":{lmtp_relay.port}"), results
        assert seen[("smtp", "b@example.com")]["relay"].endswith(f":{smtp_relay.port}"), results
        w.stop_serve()
        assert lmtp_relay.counter("mesg") == 1 and smtp_relay.counter("mesg") == 1
