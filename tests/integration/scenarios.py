"""Delivery scenarios against real peers on loopback. Each scenario is one CTest test:
    python3 scenarios.py /path/to/ringrelay SCENARIO
Every scenario checks that each recipient ends with exactly one result."""
import json
import os
import signal
import subprocess
import sys
import time

from harness import FeedClient, PostfixServer, Sink, World, one_result_per_recipient, wait_for


def scenario_one_message_many_recipients(ringrelay):
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        recipients = [f"user{i}@example.com" for i in range(120)]
        args = ["-f", "sender@example.org"]
        for r in recipients:
            args += ["-r", r]
        code, results, err = w.submit(*args, w.message())
        assert code == 0, (code, err)
        assert len(results) == 120
        assert all(r["status"] == "sent" and r["dsn"] == "2.0.0" for r in results), results[:3]
        # smtp_destination_recipient_limit (50): 3 transactions.
        lines = [l for l in w.log_lines() if "status=sent" in l]
        assert len(lines) == 120
        assert "relay=127.0.0.1[127.0.0.1]:%d" % sink.port in lines[0], lines[0]
        assert ", dsn=2.0.0, status=sent (250 2.0.0 Ok)" in lines[0], lines[0]


def scenario_connection_reuse_many_messages(ringrelay):
    """10,000 messages to 50 destinations: connections, counted at the sinks, far below messages.
    Five sinks; each is reached through ten loopback addresses, so 50 distinct next hops."""
    with World(ringrelay) as w:
        sinks = [Sink(w, any_address=True) for _ in range(5)]
        # Each sink counts the harness's readiness probe as a session: not ours.
        wait_for(lambda: sum(s.sessions() for s in sinks) >= len(sinks), 10, "the probes' sessions")
        probes = sum(s.sessions() for s in sinks)
        hops = [f"[127.0.0.{a}]:{sink.port}" for sink in sinks for a in range(1, 11)]
        # Connections are counted here: none may close idle and be opened again during the run
        # (a lull on a loaded CI machine can outlast the 2s default), so the count shows the window.
        w.serve(smtp_connection_cache_time_limit="60s")
        batch = w.batch(({"id": f"m{i}", "recipients": [f"r{i}@example.com"], "nexthop": hops[i % 50]}
                         for i in range(10000)), w.message())
        code, results, err = w.submit("--batch", batch, timeout=150)
        assert code == 0, (code, err)
        one_result_per_recipient(results, [(f"m{i}", f"r{i}@example.com") for i in range(10000)])
        assert len({r["relay"] for r in results}) == 50
        w.stop_serve()
        wait_for(lambda: sum(s.counter("mesg") for s in sinks) == 10000, 10, "the sinks' counters")
        sessions = sum(s.sessions() for s in sinks) - probes
        # With a backlog each window grows toward smtp_destination_concurrency_limit (20): at most
        # 20 connections per destination, each carrying many messages.
        assert sessions <= 50 * 20, f"{sessions} connections for 10000 messages"
        # ...and a standing backlog grows them past initial_destination_concurrency (5).
        assert sessions > 50 * 10, f"{sessions} connections: the windows did not grow"
        print(f"10000 messages to 50 destinations over {sessions} connections")


def run_fault(ringrelay, sink_options, expect_status, expect_text, **serve):
    with World(ringrelay) as w:
        sink = Sink(w, sink_options)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", **serve)
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com",
                                      "-r", "b@example.com", w.message())
        one_result_per_recipient(results, [(results[0]["id"], "a@example.com"),
                                           (results[0]["id"], "b@example.com")])
        for r in results:
            assert r["status"] == expect_status, r
            assert expect_text in r["text"], (expect_text, r["text"])
        assert code == {"bounced": 69, "deferred": 75, "sent": 0}[expect_status], (code, err)
        return results


def scenario_greeting_5xx(ringrelay):
    # smtp_skip_5xx_greeting: a 5xx greeting defers (try later, elsewhere) instead of bouncing.
    r = run_fault(ringrelay, ["-f", "CONNECT"], "deferred", "refused to talk to me: 5")
    assert r[0]["dsn"].startswith("4."), r[0]


def scenario_greeting_4xx(ringrelay):
    run_fault(ringrelay, ["-r", "CONNECT"], "deferred", "refused to talk to me: 4")


def scenario_mail_5xx(ringrelay):
    run_fault(ringrelay, ["-f", "MAIL"], "bounced", "(in reply to MAIL FROM command)")


def scenario_mail_4xx(ringrelay):
    run_fault(ringrelay, ["-r", "MAIL"], "deferred", "(in reply to MAIL FROM command)")


def scenario_rcpt_5xx(ringrelay):
    run_fault(ringrelay, ["-f", "RCPT"], "bounced", "(in reply to RCPT TO command)")


def scenario_rcpt_4xx(ringrelay):
    run_fault(ringrelay, ["-r", "RCPT"], "deferred", "(in reply to RCPT TO command)")


def scenario_data_5xx(ringrelay):
    run_fault(ringrelay, ["-f", "DATA"], "bounced", "(in reply to DATA command)")


def scenario_data_4xx(ringrelay):
    run_fault(ringrelay, ["-r", "DATA"], "deferred", "(in reply to DATA command)")


def scenario_end_of_data_5xx(ringrelay):
    run_fault(ringrelay, ["-f", "."], "bounced", "(in reply to end of DATA command)")


def scenario_end_of_data_4xx(ringrelay):
    run_fault(ringrelay, ["-r", "."], "deferred", "(in reply to end of DATA command)")


def scenario_disconnect_after_end_of_data(ringrelay):
    results = run_fault(ringrelay, ["-q", "."], "deferred",
                        "while sending end of data -- message may be sent more than once")
    assert all(r.get("ambiguous") is True for r in results), results


def scenario_disconnect_at_rcpt(ringrelay):
    run_fault(ringrelay, ["-q", "RCPT"], "deferred", "lost connection with 127.0.0.1[127.0.0.1] while sending RCPT TO")


def scenario_421_at_mail(ringrelay):
    run_fault(ringrelay, ["-Q", "MAIL"], "deferred", "421")


def scenario_stall_past_greeting_timeout(ringrelay):
    run_fault(ringrelay, ["-W", "CONNECT:4"], "deferred",
              "conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting",
              smtp_helo_timeout="1s")


def scenario_stall_past_mail_timeout(ringrelay):
    run_fault(ringrelay, ["-p", "-W", "MAIL:4"], "deferred",
              "conversation with 127.0.0.1[127.0.0.1] timed out while sending MAIL FROM",
              smtp_mail_timeout="1s")


def scenario_disconnect_at_data(ringrelay):
    run_fault(ringrelay, ["-q", "DATA"], "deferred",
              "lost connection with 127.0.0.1[127.0.0.1] while sending DATA command")


def scenario_stall_past_data_init_timeout(ringrelay):
    # -p: no PIPELINING, so the only reply outstanding is DATA's (smtp-sink -w holds it).
    run_fault(ringrelay, ["-p", "-w", "4"], "deferred",
              "conversation with 127.0.0.1[127.0.0.1] timed out while sending DATA command",
              smtp_data_init_timeout="1s")


def scenario_stall_past_end_of_data_timeout(ringrelay):
    run_fault(ringrelay, ["-p", "-W", ".:4"], "deferred",
              "conversation with 127.0.0.1[127.0.0.1] timed out while sending end of data -- "
              "message may be sent more than once",
              smtp_data_done_timeout="1s")


def scenario_disconnect_at_rcpt_is_not_ambiguous(ringrelay):
    results = run_fault(ringrelay, ["-q", "RCPT"], "deferred", "while sending RCPT TO")
    assert not any(r.get("ambiguous") for r in results), results


def scenario_stall_past_rcpt_timeout(ringrelay):
    # Without -p, smtp-sink answers the pipelined DATA before the delayed RCPT (out of order).
    run_fault(ringrelay, ["-p", "-W", "RCPT:4"], "deferred",
              "conversation with 127.0.0.1[127.0.0.1] timed out while sending RCPT TO",
              smtp_rcpt_timeout="1s")


def scenario_connection_refused(ringrelay):
    with World(ringrelay) as w:
        from harness import free_port
        port = free_port()  # nothing listens there
        w.serve(relayhost=f"[127.0.0.1]:{port}")
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com", w.message())
        assert code == 75, (code, err)
        assert results[0]["status"] == "deferred" and results[0]["dsn"] == "4.4.1", results
        assert results[0]["category"] == "connection", results
        assert results[0]["relay"] == "none"
        assert f"connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused" in results[0]["text"]


def scenario_throttled_destination(ringrelay):
    """After a failed cohort the destination is dead: new work is deferred at once, with the reason."""
    with World(ringrelay) as w:
        from harness import free_port
        port = free_port()
        w.serve(relayhost=f"[127.0.0.1]:{port}", initial_destination_concurrency=2)
        for _ in range(3):
            w.submit("-f", "s@example.org", "-r", "a@example.com", w.message())
        started = time.time()
        code, results, err = w.submit("-f", "s@example.org", "-r", "late@example.com", w.message())
        assert code == 75
        assert results[0]["text"].startswith("delivery temporarily suspended: connect to"), results
        assert time.time() - started < 2
        assert any("throttled" in l for l in w.log_lines()), w.log_lines()


def scenario_queue_manager_reconnects_for_results(ringrelay):
    """A queue manager that disconnects loses nothing: results wait for a later "collect"."""
    with World(ringrelay) as w:
        sink = Sink(w, ["-w", "2"])  # slow DATA reply: the client is gone before the result
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        client = FeedClient(w)
        client.send({"type": "deliver", "id": "gone-1", "sender": "s@example.org",
                     "recipients": ["a@example.com", "b@example.com"],
                     "body_inline": "Subject: x\n\nbody\n"})
        client.close()
        time.sleep(3.5)
        again = FeedClient(w)
        again.send({"type": "collect"})
        records = []
        while True:
            record = again.read()
            if record["type"] == "collected":
                break
            records.append(record)
        results = [r for r in records if r["type"] == "result"]
        assert {r["recipient"] for r in results} == {"a@example.com", "b@example.com"}, records
        assert all(r["status"] == "sent" and r.get("retained") for r in results), results
        assert any(r["type"] == "done" and r["id"] == "gone-1" for r in records), records


def scenario_malformed_requests_keep_the_connection(ringrelay):
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        c = FeedClient(w)
        c.send(b"this is not json")
        assert c.read() == {"type": "error", "id": None, "field": "", "message": "not a JSON object"}
        c.send({"type": "deliver", "id": "bad-1", "sender": "s@example.org", "recipients": [],
                "body_inline": "x"})
        e = c.read()
        assert e["field"] == "recipients" and e["id"] == "bad-1", e
        c.send({"type": "deliver", "id": "bad-2", "sender": "s@example.org",
                "recipients": [{"address": "a@example.com", "notify": "SOMETIMES"}], "body_inline": "x"})
        assert c.read()["field"] == "recipients[0].notify"
        c.send({"type": "deliver", "id": "bad-3", "sender": "s@example.org", "recipients": ["a@example.com"],
                "body": {"path": os.path.join(w.dir, "missing"), "size": 10}})
        e = c.read()
        assert e["field"] == "body" and "cannot open " + w.dir + "/missing" in e["message"], e
        c.send("x" * (1 << 20 + 1))
        assert "request longer than" in c.read()["message"]
        # Still usable: a good request after all that.
        c.send({"type": "deliver", "id": "good-1", "sender": "s@example.org",
                "recipients": ["a@example.com"], "body_inline": "Subject: x\n\nbody\n"})
        records = c.read_until_done("good-1")
        assert records[0]["status"] == "sent", records


def scenario_duplicate_id_in_flight(ringrelay):
    with World(ringrelay) as w:
        sink = Sink(w, ["-w", "2"])
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        c = FeedClient(w)
        request = {"type": "deliver", "id": "dup-1", "sender": "s@example.org",
                   "recipients": ["a@example.com"], "body_inline": "Subject: x\n\nbody\n"}
        c.send(request)
        c.send(request)
        first = c.read()
        assert first == {"type": "error", "id": "dup-1", "field": "id",
                         "message": "a request with this id is already in flight"}, first
        records = c.read_until_done("dup-1")
        assert [r["status"] for r in records if r["type"] == "result"] == ["sent"], records


def scenario_sigterm_with_work_in_flight(ringrelay):
    """SIGTERM: every recipient still gets a result, and serve exits within a bounded time."""
    with World(ringrelay) as w:
        sink = Sink(w, ["-w", "30"])  # would hold the DATA reply for 30s
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        c = FeedClient(w)
        for i in range(3):
            c.send({"type": "deliver", "id": f"t{i}", "sender": "s@example.org",
                    "recipients": [f"a{i}@example.com"], "body_inline": "Subject: x\n\nbody\n"})
        time.sleep(0.5)
        started = time.time()
        w.serve_process.send_signal(signal.SIGTERM)
        results = []
        done = set()
        while len(done) < 3:
            record = c.read()
            if record["type"] == "result":
                results.append(record)
            if record["type"] == "done":
                done.add(record["id"])
        assert len(results) == 3 and all(r["status"] == "deferred" for r in results), results
        assert w.serve_process.wait(30) == 0
        assert time.time() - started < 20


def scenario_transport_map_routes_domains(ringrelay):
    with World(ringrelay) as w:
        a, b = Sink(w), Sink(w)
        transport = os.path.join(w.dir, "transport")
        with open(transport, "w") as f:
            f.write(f"# routes\nexample.com  smtp:[127.0.0.1]:{a.port}\n.example.net smtp:[127.0.0.1]:{b.port}\n")
        w.serve(transport_maps=f"texthash:{transport}")
        code, results, err = w.submit("-f", "s@example.org", "-r", "x@example.com",
                                      "-r", "y@sub.example.net", w.message())
        assert code == 0, (code, err, results)
        relays = {r["recipient"]: r["relay"] for r in results}
        assert relays["x@example.com"].endswith(f":{a.port}"), relays
        assert relays["y@sub.example.net"].endswith(f":{b.port}"), relays


def scenario_lmtp_unix_socket_refused(ringrelay):
    with World(ringrelay) as w:
        w.serve()
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com", "--nexthop",
                                      f"lmtp:unix:{w.dir}/no-such-lmtp", w.message())
        assert code == 75 and "No such file or directory" in results[0]["text"], results


def scenario_partial_rejection_real_smtpd(ringrelay):
    """A real Postfix smtpd refuses one recipient (5xx) and defers another (4xx): the others still
    get the message, and each result carries the server's words."""
    with World(ringrelay) as w:
        smtpd = PostfixServer(w, access=[("nobody@example.com", "REJECT no such user"),
                                         ("later@example.com", "DEFER_IF_PERMIT try again later")])
        w.serve(relayhost=f"[127.0.0.1]:{smtpd.port}")
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com", "-r", "nobody@example.com",
                                      "-r", "later@example.com", "-r", "b@example.com", w.message())
        by = {r["recipient"]: r for r in results}
        assert len(by) == 4, results
        assert by["a@example.com"]["status"] == "sent" and by["b@example.com"]["status"] == "sent", by
        reply = by["a@example.com"]["reply"]
        assert reply.startswith("250 2.0.0 Ok:") and "queued as" in reply, reply
        nobody = by["nobody@example.com"]
        assert nobody["status"] == "bounced" and nobody["dsn"] == "5.7.1", nobody
        assert nobody["text"] == ("host 127.0.0.1[127.0.0.1] said: 554 5.7.1 <nobody@example.com>: "
                                  "Recipient address rejected: no such user (in reply to RCPT TO command)"), nobody
        later = by["later@example.com"]
        assert later["status"] == "deferred" and later["dsn"] == "4.7.1", later
        assert "Recipient address rejected: try again later" in later["text"], later
        # An access-map rejection is a policy decision, whatever words it gives.
        assert (nobody["category"], later["category"]) == ("policy", "policy"), by
        assert by["a@example.com"]["category"] == "delivered", by
        assert code == 69, (code, err)  # a bounce among the results
        wait_for(lambda: smtpd.log_text().count("status=sent") >= 2, 20, "Postfix to accept the message")


def scenario_real_smtpd_without_pipelining_or_8bitmime(ringrelay):
    """Features switched off at a real smtpd: lock-step commands, and an 8-bit body converted.
    Postfix's own header and body checks report what arrived."""
    with World(ringrelay) as w:
        checks = os.path.join(w.dir, "checks")
        with open(checks, "w") as f:
            f.write("/^Content-Transfer-Encoding: *(.*)/ WARN arrived-cte=$1\n")
            f.write("/Gr=C3=BC=C3=9Fe/ WARN arrived-quoted-printable\n")
            f.write("/\\xc3/ WARN arrived-8bit\n")
        smtpd = PostfixServer(w, main_cf=[
            # SMTPUTF8 too: a server that offers it gets 8-bit mail even without 8BITMIME (Postfix).
            ("smtpd_discard_ehlo_keywords", "pipelining, 8bitmime, chunking, smtputf8"),
            ("header_checks", f"regexp:{checks}"), ("body_checks", f"regexp:{checks}")])
        w.serve(relayhost=f"[127.0.0.1]:{smtpd.port}")
        body = ("Subject: 8-bit\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n\nGr\u00fc\u00dfe\n")
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com", "--8bit",
                                      w.message("8bit.eml", body))
        assert code == 0 and results[0]["status"] == "sent", (code, results, err)
        wait_for(lambda: "status=sent" in smtpd.log_text(), 20, "Postfix to accept the message")
        log = smtpd.log_text()
        assert "arrived-cte=quoted-printable" in log, log
        assert "arrived-quoted-printable" in log, log
        assert "arrived-8bit" not in log, log


def scenario_many_destinations_across_shards(ringrelay):
    """Four shards, four destinations, requests whose recipients span all of them: every recipient
    gets one result, each request one "done", whichever shards carried it. Every other request has
    a large spool body, read by whichever of its shards starts a delivery first."""
    with World(ringrelay) as w:
        sinks = [Sink(w) for _ in range(4)]
        transport = os.path.join(w.dir, "transport")
        with open(transport, "w") as f:
            for i, sink in enumerate(sinks):
                f.write(f"d{i}.test smtp:[127.0.0.1]:{sink.port}\n")
        w.serve(transport_maps=f"texthash:{transport}", shards=4)
        assert any("4 shards" in l for l in w.log_lines()), w.log_lines()
        small = w.message()
        large = w.message("large.eml", "Subject: large\n\n" + ("z" * 78 + "\n") * 1000)
        batch = os.path.join(w.dir, "mixed.jsonl")
        with open(batch, "w") as f:
            for n in range(300):
                body = large if n % 2 else small
                f.write(json.dumps({"id": f"x{n}", "sender": "s@example.org",
                                    "recipients": [f"u{n}@d{i}.test" for i in range(4)],
                                    "body": {"path": body, "size": os.path.getsize(body)}}) + "\n")
        code, results, err = w.submit("--batch", batch, timeout=120)
        assert code == 0, (code, err)
        one_result_per_recipient(results, [(f"x{n}", f"u{n}@d{i}.test") for n in range(300) for i in range(4)])
        assert all(r["status"] == "sent" for r in results), [r for r in results if r["status"] != "sent"][:3]
        w.stop_serve()
        assert sum(s.counter("mesg") for s in sinks) == 1200


def scenario_concurrency_map_and_debug_peer_list(ringrelay):
    """A per-destination limit of 1 from smtp_destination_concurrency_maps: 30 messages over one
    connection; debug_peer_list logs its connection and cache events."""
    with World(ringrelay) as w:
        sink = Sink(w)
        limits = os.path.join(w.dir, "limits")
        with open(limits, "w") as f:
            f.write(f"# destination limit\n[127.0.0.1]:{sink.port} 1\n")
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", smtp_destination_concurrency_maps=f"texthash:{limits}",
                debug_peer_list="127.0.0.1")
        batch = w.batch(({"id": f"c{i}", "recipients": [f"r{i}@example.com"]} for i in range(30)),
                        w.message())
        code, results, err = w.submit("--batch", batch)
        assert code == 0 and len(results) == 30, (code, err)
        assert max(r["conn_use"] for r in results) == 30, sorted(r["conn_use"] for r in results)
        log = "\n".join(w.log_lines())
        assert log.count(": connecting for [127.0.0.1]:%d" % sink.port) == 1, log
        assert "reusing the connection for" in log and "cached for" in log, log
        w.stop_serve()
        assert sink.counter("mesg") == 30
        assert sink.sessions() <= 2, sink.sessions()  # ours, and the harness's readiness probe


def scenario_feed_pushes_back_at_the_request_limit(ringrelay):
    """With feed_request_limit = 3 and a slow server, the feed stops reading at three requests in
    flight and resumes as they finish: all nine complete, none is lost."""
    with World(ringrelay) as w:
        sink = Sink(w, ["-w", "1"])
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", feed_request_limit=3)
        batch = w.batch(({"id": f"p{i}", "recipients": [f"r{i}@example.com"]} for i in range(9)),
                        w.message())
        started = time.time()
        code, results, err = w.submit("--batch", batch, timeout=120)
        assert code == 0, (code, err)
        one_result_per_recipient(results, [(f"p{i}", f"r{i}@example.com") for i in range(9)])
        # Three at a time, each held 1s by the sink: at least three rounds.
        assert time.time() - started >= 3, time.time() - started


def scenario_dead_address_then_live_one(ringrelay):
    """A host with two addresses, the first dead: the recipient is delivered at the second, and
    only that final result is reported (the first attempt is not a result of its own)."""
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        print("needs root and mount namespaces for a private /etc/hosts")
        sys.exit(77)
    with World(ringrelay) as w:
        sink = Sink(w, address="127.0.0.9")  # nothing listens on 127.0.0.1 at this port
        w.serve(hosts="127.0.0.1 multi.test\n127.0.0.9 multi.test\n127.0.0.1 localhost\n",
                relayhost=f"[multi.test]:{sink.port}", debug_peer_list="multi.test",
                smtp_host_lookup="native", smtp_randomize_addresses="no")
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com", w.message())
        assert code == 0, (code, results, err)
        assert len(results) == 1 and results[0]["relay"] == f"multi.test[127.0.0.9]:{sink.port}", results
        lines = [l for l in w.log_lines() if "to=<a@example.com>" in l]
        assert len(lines) == 1 and "status=sent" in lines[0], lines
        log = "\n".join(w.log_lines())
        dead = log.find(f"multi.test[127.0.0.1]:{sink.port}: connecting")
        live = log.find(f"multi.test[127.0.0.9]:{sink.port}: connecting")
        assert 0 <= dead < live, log
        assert "Connection refused" in log, log


def scenario_sighup_reloads_without_dropping_work(ringrelay):
    """SIGHUP: new requests follow the new relayhost; a bad file is refused and the running
    configuration kept; nothing in flight is lost."""
    with World(ringrelay) as w:
        first, second = Sink(w), Sink(w, ["-w", "2"])
        w.serve(relayhost=f"[127.0.0.1]:{first.port}")
        code, results, _ = w.submit("-f", "s@example.org", "-r", "a@example.com", w.message())
        assert results[0]["relay"].endswith(f":{first.port}"), results
        with open(w.config, "a") as f:
            f.write(f"relayhost = [127.0.0.1]:{second.port}\n")
        w.serve_process.send_signal(signal.SIGHUP)
        wait_for(lambda: any("configuration reloaded" in l for l in w.log_lines()), 10, "the reload")
        client = FeedClient(w)
        client.send({"type": "deliver", "id": "during", "sender": "s@example.org",
                     "recipients": ["b@example.com"], "body_inline": "Subject: x\n\nbody\n"})
        time.sleep(0.5)  # in flight at the slow second sink while we reload a broken file
        with open(w.config, "a") as f:
            f.write("smtp_connect_timeout = soon\n")
        w.serve_process.send_signal(signal.SIGHUP)
        wait_for(lambda: any("reload refused" in l for l in w.log_lines()), 10, "the refusal")
        records = client.read_until_done("during")
        assert records[0]["status"] == "sent" and records[0]["relay"].endswith(f":{second.port}"), records
        refused = [l for l in w.log_lines() if "reload refused" in l][0]
        assert "bad value: smtp_connect_timeout = soon" in refused, refused


def scenario_cache_reuse_by_endpoint(ringrelay):
    """Two next hops, one server: [127.0.0.1]:P and [localhost]:P. The second request reuses the
    connection the first one left in the cache (found by endpoint, not by next hop)."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(shards=1, smtp_connection_cache_time_limit="10s", debug_peer_list="127.0.0.1",
                smtp_host_lookup="native", inet_protocols="ipv4")
        first = w.submit("-f", "s@example.org", "-r", "a@example.com", "--nexthop",
                         f"[127.0.0.1]:{sink.port}", w.message())
        second = w.submit("-f", "s@example.org", "-r", "b@example.com", "--nexthop",
                          f"[localhost]:{sink.port}", w.message())
        assert first[0] == 0 and second[0] == 0, (first, second)
        assert first[1][0]["conn_use"] == 1
        assert second[1][0]["conn_use"] == 2, second[1]
        w.stop_serve()
        assert sink.counter("mesg") == 2 and sink.sessions() <= 2, sink.sessions()


def scenario_bind_address(ringrelay):
    """smtp_bind_address: connections leave from 127.0.0.5; the sink records the client address."""
    with World(ringrelay) as w:
        dumps = os.path.join(w.dir, "dumps")
        os.makedirs(dumps)
        os.chmod(dumps, 0o777)
        sink = Sink(w, ["-d", os.path.join(dumps, "%M.")])
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", smtp_bind_address="127.0.0.5")
        code, results, err = w.submit("-f", "s@example.org", "-r", "a@example.com", w.message())
        assert code == 0, (code, err)
        wait_for(lambda: os.listdir(dumps), 10, "the sink's dump")
        dump = open(os.path.join(dumps, os.listdir(dumps)[0])).read()
        assert "X-Client-Addr: 127.0.0.5" in dump, dump[:300]


from dns_scenarios import *  # noqa: E402,F401,F403 (the DNS scenarios join the list)
from tls_scenarios import *  # noqa: E402,F401,F403 (and the TLS ones)
from feed_scenarios import *  # noqa: E402,F401,F403 (and the feed contract's)
from site_scenarios import *  # noqa: E402,F401,F403 (and the MX sites')
from sasl_scenarios import *  # noqa: E402,F401,F403 (and SASL's)
from config_scenarios import *  # noqa: E402,F401,F403 (and the parameters')
from dane_scenarios import *  # noqa: E402,F401,F403 (and DANE's)
from shaping_scenarios import *  # noqa: E402,F401,F403 (and traffic shaping's)
from operations_scenarios import *  # noqa: E402,F401,F403 (and operations')

SCENARIOS = {name[len("scenario_"):]: f for name, f in globals().items() if name.startswith("scenario_")}

if __name__ == "__main__":
    ringrelay, name = sys.argv[1], sys.argv[2]
    if name == "--list":
        print(";".join(sorted(SCENARIOS)))
        sys.exit(0)
    if not os.path.exists("/usr/sbin/smtp-sink"):
        print("smtp-sink is not installed (deploy/setup-debian.sh installs postfix)")
        sys.exit(77)
    SCENARIOS[name](ringrelay)
    print(f"scenario {name}: passed")
