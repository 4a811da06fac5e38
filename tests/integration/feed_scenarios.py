"""The feed contract, tried as an operator would: results survive feeder disconnects (read or not),
a killed serve (the results journal), and hostile or broken input (spool files that change, FIFOs,
paths outside spool_directories, an unauthenticated TCP client, a peer not allowed, a second
instance). Every scenario asserts exactly one final result per recipient, or a flagged redelivery."""
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time

from harness import FeedClient, Sink, World, free_port, wait_for

BODY = "Subject: x\n\nbody\n"


def request(i, recipients=1, **more):
    r = {"type": "deliver", "id": f"r{i}", "sender": "s@example.org",
         "recipients": [f"u{i}-{k}@example.com" for k in range(recipients)], "body_inline": BODY}
    r.update(more)
    return r


def read_v2(client, expected, results, done, deadline_s=120, ack=True):
    """Reads records until every id in `expected` has its done record. Each (id, index) must have
    exactly one result, except resends flagged "redelivered". Acknowledges as it goes."""
    deadline = time.time() + deadline_s
    highest = 0
    while not expected <= done:
        assert time.time() < deadline, f"{len(expected - done)} requests without a done record"
        record = client.read()
        highest = max(highest, record.get("seq", 0))
        if record["type"] == "result":
            key = (record["id"], record["index"])
            if key in results:
                assert record.get("redelivered") is True, (record, results[key])
                assert record["status"] == results[key]["status"], (record, results[key])
            else:
                results[key] = record
        elif record["type"] == "done":
            done.add(record["id"])
        if ack and highest:
            try:
                client.send({"type": "ack", "upto": highest})
            except (BrokenPipeError, ConnectionResetError):
                pass  # a serve that is stopping may close first: the records still get read
    return highest


def assert_every_recipient(results, requests):
    want = {(r["id"], i) for r in requests for i in range(len(r["recipients"]))}
    assert set(results) == want, (len(want - set(results)), len(set(results) - want))


def scenario_feeder_disconnects_without_reading(ringrelay):
    """2,000 requests; the feeder stops reading for 2 s, then shuts down with results unread in
    its socket. Reconnecting under the same name brings every result, each exactly once (or a
    flagged resend)."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        requests = [request(i) for i in range(2000)]
        c = FeedClient(w, name="qm")
        for r in requests:
            c.send(r)
        time.sleep(2)
        c.socket.shutdown(socket.SHUT_RDWR)
        c.close()
        results, done = {}, set()
        again = FeedClient(w, name="qm")
        read_v2(again, {r["id"] for r in requests}, results, done)
        assert_every_recipient(results, requests)
        assert all(r["status"] == "sent" for r in results.values())
        again.close()
        # Acknowledged: a third connection gets nothing more than its "collected" marker.
        third = FeedClient(w, name="qm")
        record = third.read()
        assert record == {"type": "collected", "count": 0, "done": 0}, record


def scenario_feeder_crashes_with_results_in_flight(ringrelay):
    """A feeder killed while results are being written: the next connection of the same client
    receives what the first never acknowledged, flagged as redelivered."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        requests = [request(i, recipients=3) for i in range(300)]
        c = FeedClient(w, name="qm")
        for r in requests:
            c.send(r)
        results, done = {}, set()
        # Read (and acknowledge) a few, then vanish without a word.
        for _ in range(50):
            record = c.read()
            if record["type"] == "result":
                results[(record["id"], record["index"])] = record
            elif record["type"] == "done":
                done.add(record["id"])
        c.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
        again = FeedClient(w, name="qm")
        read_v2(again, {r["id"] for r in requests}, results, done)
        assert_every_recipient(results, requests)


def scenario_protocol1_collect_counts_and_push(ringrelay):
    """Protocol 1: results of a vanished client wait for "collect"; "collected" counts results and
    done records apart; results finishing after the collect are pushed to the collecting client."""
    with World(ringrelay) as w:
        sink = Sink(w, ["-w", "2"])
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        c = FeedClient(w)
        c.send(request(1, recipients=2))
        c.close()
        time.sleep(0.3)
        collector = FeedClient(w)
        collector.send({"type": "collect"})
        assert collector.read() == {"type": "collected", "count": 0, "done": 0}
        records = [collector.read() for _ in range(3)]  # pushed when they finish
        results = [r for r in records if r["type"] == "result"]
        assert len(results) == 2 and all(r["retained"] and r["status"] == "sent" for r in results), records
        assert any(r["type"] == "done" for r in records), records


def scenario_serve_killed_and_restarted_with_the_journal(ringrelay):
    """kill -9 at random moments of a delivery, three times: after each restart, every recipient
    has a result; one the sink accepted (logged sent) is reported sent, or as ambiguous when the
    kill fell between the server's reply and the journal write."""
    with World(ringrelay) as w:
        sink = Sink(w)
        rng = random.Random(7)
        requests = [request(i, recipients=2) for i in range(1500)]
        results, done = {}, set()
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", smtp_data_init_timeout="10s")
        c = FeedClient(w, name="qm")
        for r in requests:
            c.send(r)
        for round_ in range(3):
            time.sleep(rng.uniform(0.05, 0.6))
            w.serve_process.kill()
            w.serve_process.wait(10)
            c.close()
            w.serve(relayhost=f"[127.0.0.1]:{sink.port}", smtp_data_init_timeout="10s")
            c = FeedClient(w, name="qm")
            # Requests the journal never saw were never started: the feeder sends them again.
            deadline = time.time() + 5
            while time.time() < deadline:
                try:
                    c.socket.settimeout(1)
                    record = c.read()
                except (socket.timeout, TimeoutError):
                    break
                finally:
                    c.socket.settimeout(30)
                if record["type"] == "result":
                    results.setdefault((record["id"], record["index"]), record)
                elif record["type"] == "done":
                    done.add(record["id"])
                if "seq" in record:
                    c.send({"type": "ack", "upto": record["seq"]})
            for r in requests:
                if r["id"] not in done:
                    c.send(r)  # refused as "already in flight" when the journal has it: fine
        read_v2(c, {r["id"] for r in requests}, results, done, deadline_s=120)
        assert_every_recipient(results, requests)
        sent_in_log = {line.split("to=<")[1].split(">")[0] for line in w.log_lines()
                       if "status=sent" in line}
        for (rid, index), r in results.items():
            if r["recipient"] in sent_in_log:
                assert r["status"] == "sent" or r.get("ambiguous") is True, r
        ambiguous = sum(1 for r in results.values() if r.get("ambiguous"))
        print(f"{len(results)} results after 3 kills: {len(sent_in_log)} logged sent, "
              f"{ambiguous} ambiguous")
        w.stop_serve()


def scenario_spool_files_truncated_in_a_loop(ringrelay):
    """Spool files truncated and rewritten while requests for them arrive: every request is refused
    with a reason or gets its results; the process never dies of SIGBUS."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        spool = os.path.join(w.dir, "spool")
        os.makedirs(spool)
        body = ("Subject: t\n\n" + "x" * 70 + "\n") * 1500  # ~107 KiB: large bodies too
        paths = [os.path.join(spool, f"m{i}") for i in range(20)]
        for p in paths:
            open(p, "w").write(body)
        stop = threading.Event()

        def vandal():
            rng = random.Random(3)
            while not stop.is_set():
                p = rng.choice(paths)
                with open(p, "r+") as f:
                    f.truncate(rng.randrange(0, len(body)))
                open(p, "w").write(body)

        thread = threading.Thread(target=vandal)
        thread.start()
        c = FeedClient(w, name="qm")
        ids = set()
        try:
            for i in range(400):
                c.send({"type": "deliver", "id": f"t{i}", "sender": "s@example.org",
                        "recipients": [f"a{i}@example.com"],
                        "body": {"path": paths[i % 20], "size": len(body)}})
                ids.add(f"t{i}")
        finally:
            stop.set()
            thread.join()
        answered, refused = set(), 0
        deadline = time.time() + 120
        while answered != ids:
            assert time.time() < deadline
            record = c.read()
            if record["type"] == "error":
                assert record["field"] in ("body", "body.path"), record
                refused += 1
                answered.add(record["id"])
            elif record["type"] == "done":
                answered.add(record["id"])
            if "seq" in record:
                c.send({"type": "ack", "upto": record["seq"]})
        assert w.serve_process.poll() is None, "serve died"
        print(f"{refused} of 400 refused as truncated, the rest delivered")


def scenario_spool_body_truncated_before_its_delivery(ringrelay):
    """A spool body is read when its delivery starts, not when the request is accepted: one
    truncated after acceptance, while its request waits behind a slow delivery, is deferred with
    4.3.0 and the reason; a large body left alone is delivered whole; nothing is lost."""
    with World(ringrelay) as w:
        sink = Sink(w, options=("-w", "2"))  # each DATA answered after 2 s: the queue waits
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", initial_destination_concurrency="1",
                default_destination_concurrency_limit="1")
        spool = os.path.join(w.dir, "spool")
        os.makedirs(spool)
        large = "Subject: large\n\n" + ("y" * 70 + "\n") * 1500  # ~105 KiB, bare LF endings
        files = {name: os.path.join(spool, name) for name in ("small", "doomed", "kept")}
        open(files["small"], "w").write(BODY)
        open(files["doomed"], "w").write(large)
        open(files["kept"], "w").write(large)
        c = FeedClient(w, name="qm")
        requests = []
        for name in ("small", "doomed", "kept"):
            size = os.path.getsize(files[name])
            requests.append({"type": "deliver", "id": name, "sender": "s@example.org",
                             "recipients": [f"{name}@example.com"],
                             "body": {"path": files[name], "size": size}})
            c.send(requests[-1])
        # Accepted (no error record comes), then, while "small" holds the only connection for
        # 2 s, the queue manager's file changes under us.
        time.sleep(0.5)
        with open(files["doomed"], "r+") as f:
            f.truncate(100)
        results, done = {}, set()
        read_v2(c, {"small", "doomed", "kept"}, results, done, deadline_s=60)
        assert_every_recipient(results, requests)
        assert results[("small", 0)]["status"] == "sent", results[("small", 0)]
        assert results[("kept", 0)]["status"] == "sent", results[("kept", 0)]
        doomed = results[("doomed", 0)]
        assert doomed["status"] == "deferred" and doomed["dsn"] == "4.3.0", doomed
        assert "cannot read the message body" in doomed["text"], doomed
        assert "ended early" in doomed["text"], doomed
        assert sink.counter("mesg") == 2, sink.counter("mesg")
        assert w.serve_process.poll() is None, "serve died"
        print("truncated after acceptance: deferred 4.3.0; the other large body sent")


def scenario_hostile_body_paths_are_refused(ringrelay):
    """/etc/shadow, a link to it inside the spool, a FIFO: each refused with a reason naming
    body.path, at once; another client is served meanwhile."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", feed_body_memory_limit=200_000)
        fifo = os.path.join(w.dir, "fifo")
        os.mkfifo(fifo)
        link = os.path.join(w.dir, "shadow-link")
        os.symlink("/etc/shadow", link)
        c = FeedClient(w)
        for i, (path, words) in enumerate([("/etc/shadow", "is not under spool_directories"),
                                           (link, "is a symbolic link"),
                                           (fifo, "is not a regular file"),
                                           (w.dir + "/../../etc/shadow", "resolves outside spool_directories")]):
            started = time.time()
            c.send({"type": "deliver", "id": f"h{i}", "sender": "s@example.org",
                    "recipients": ["a@example.com"], "body": {"path": path, "size": 10}})
            e = c.read()
            assert e["type"] == "error" and e["field"] == "body.path" and words in e["message"], e
            assert time.time() - started < 1, "a body path blocked the feed"
        other = FeedClient(w)  # its hello came at once
        other.close()
        # A body larger than feed_body_memory_limit (default 256 MiB; lowered here) is refused.
        big = os.path.join(w.dir, "big")
        with open(big, "w") as f:
            f.write("x" * 300_000)
        c.send({"type": "deliver", "id": "big", "sender": "s@example.org",
                "recipients": ["a@example.com"], "body": {"path": big, "size": 300_000}})
        e = c.read()
        assert e["field"] == "body.size" and "feed_body_memory_limit" in e["message"], e
        assert sink.counter("mesg") == 0


def scenario_tcp_feed_requires_the_secret(ringrelay):
    with World(ringrelay) as w:
        sink = Sink(w)
        secret_file = os.path.join(w.dir, "feed.secret")
        with open(secret_file, "w") as f:
            f.write("correct horse battery staple\n")
        os.chmod(secret_file, 0o600)
        port = free_port()
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", feed_tcp_listen=f"127.0.0.1:{port}",
                feed_tcp_secret_file=secret_file)
        anonymous = FeedClient(w, address=("127.0.0.1", port))
        anonymous.send(request(1))
        e = anonymous.read()
        assert e["type"] == "error" and e["field"] == "secret", e
        try:
            extra = anonymous.read()
            raise AssertionError(f"connection stayed open: {extra}")
        except AssertionError as closed:
            assert "feed connection closed" in str(closed) or "stayed open" not in str(closed)
        wrong = FeedClient(w, address=("127.0.0.1", port), secret="not the secret at all")
        assert wrong.read()["message"] == "authentication failed"
        good = FeedClient(w, address=("127.0.0.1", port), name="tcp-qm",
                          secret="correct horse battery staple")
        assert good.read()["type"] == "collected"
        good.send(request(2))
        results, done = {}, set()
        read_v2(good, {"r2"}, results, done)
        assert results[("r2", 0)]["status"] == "sent"
        assert sink.counter("mesg") <= 1
        assert any("wrong or missing secret" in l for l in w.log_lines()), w.log_lines()[-5:]


def scenario_feed_settings_refused_at_start(ringrelay):
    """A TCP listener on all addresses, or without a secret, and a world-readable secret: exit 78."""
    with World(ringrelay) as w:
        loose = os.path.join(w.dir, "loose.secret")
        with open(loose, "w") as f:
            f.write("0123456789abcdef0123\n")
        os.chmod(loose, 0o644)
        for extra, words in [("feed_tcp_listen = 0.0.0.0:2526\nfeed_tcp_secret_file = " + loose,
                              "expected a loopback address and port"),
                             ("feed_tcp_listen = 127.0.0.1:2526", "needs feed_tcp_secret_file"),
                             ("feed_tcp_listen = 127.0.0.1:2526\nfeed_tcp_secret_file = " + loose,
                              "readable by it alone")]:
            with open(w.config, "w") as f:
                f.write(f"feed_socket = {w.feed}\nresults_journal = {w.journal}\n{extra}\n")
            run = subprocess.run([ringrelay, "serve", "-c", w.config], capture_output=True,
                                 text=True, timeout=30)
            assert run.returncode == 78 and words in run.stderr, (run.returncode, run.stderr)


def scenario_peer_not_allowed_is_refused(ringrelay):
    """feed_allowed_users: a local user not in it is refused (SO_PEERCRED), even when the socket's
    mode lets it connect."""
    if os.geteuid() != 0:
        return
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", feed_socket_mode="0666",
                feed_allowed_users="root", feed_socket_group="nogroup")
        import grp
        assert os.stat(w.feed).st_gid == grp.getgrnam("nogroup").gr_gid  # feed_socket_group
        probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(10); "
                 f"s.connect({w.feed!r}); print(s.recv(4096).decode())")
        run = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                              "python3", "-c", probe], capture_output=True, text=True, timeout=30)
        assert "not allowed" in run.stdout, (run.stdout, run.stderr)
        assert oct(os.stat(w.feed).st_mode & 0o777) == "0o666"
        assert any("refused a connection from uid" in l for l in w.log_lines())


def scenario_second_instance_is_refused(ringrelay):
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        run = subprocess.run([ringrelay, "serve", "-c", w.config], capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 75, (run.returncode, run.stderr)
        assert f"already running (pid {w.serve_process.pid})" in run.stderr, run.stderr
        c = FeedClient(w)  # the first instance is still reachable
        c.send(request(1))
        assert c.read_until_done("r1")[0]["status"] == "sent"


def scenario_shutdown_cuts_off_end_of_data_in_its_own_words(ringrelay):
    """SIGTERM while the server holds its end-of-data reply: after the grace period the result says
    ringrelay cut the conversation off, is flagged ambiguous, and does not throttle anything."""
    with World(ringrelay) as w:
        sink = Sink(w, ["-p", "-W", ".:30"])
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        c = FeedClient(w, name="qm")
        c.send(request(1))
        time.sleep(1)
        w.serve_process.send_signal(signal.SIGTERM)
        results, done = {}, set()
        read_v2(c, {"r1"}, results, done, deadline_s=30)
        r = results[("r1", 0)]
        assert r["status"] == "deferred" and r["ambiguous"] is True, r
        assert "cut off by ringrelay (ringrelay is shutting down) while sending end of data" in r["text"], r
        assert w.serve_process.wait(30) == 0
        assert not any("throttl" in l for l in w.log_lines()), w.log_lines()


def journal_segments(w):
    """Each shard's results journal folder (shard 0's, then shard-N) and its segment files."""
    folders = [w.journal] + [os.path.join(w.journal, n) for n in sorted(os.listdir(w.journal))
                             if n.startswith("shard-")]
    return {f: sorted(n for n in os.listdir(f) if n.startswith("results.")) for f in folders}


def journal_text(folder):
    return b"".join(open(os.path.join(folder, n), "rb").read()
                    for n in os.listdir(folder) if n.startswith("results."))


def read_all(client, ids):
    """Reads until each id has its done record; returns the records in order (no acks)."""
    records, done = [], set()
    deadline = time.time() + 60
    while not ids <= done:
        assert time.time() < deadline
        record = client.read()
        records.append(record)
        if record["type"] == "done":
            done.add(record["id"])
    return records


def read_backlog(client):
    """What a protocol-2 hello handed over: the records before "collected", and that marker."""
    backlog = []
    while True:
        record = client.read()
        if record["type"] == "collected":
            return backlog, record
        backlog.append(record)


def scenario_journal_compacts_and_keeps_only_the_unacknowledged(ringrelay):
    """A tiny segment limit forces many compactions; after kill -9, exactly the records the client
    did not acknowledge come again (flagged), and the journal stayed small."""
    with World(ringrelay) as w:
        sink = Sink(w)
        serve = dict(relayhost=f"[127.0.0.1]:{sink.port}", results_journal_segment_limit="4096")
        w.serve(**serve)
        requests = [request(i, recipients=2) for i in range(300)]
        c = FeedClient(w, name="qm")
        for r in requests:
            c.send(r)
        records = read_all(c, {r["id"] for r in requests})
        seqs = [r["seq"] for r in records if "seq" in r]
        assert seqs == sorted(seqs) and len(seqs) == 900, len(seqs)
        acked = seqs[449]
        c.send({"type": "ack", "upto": acked})
        time.sleep(1)  # the acknowledgement reaches the journal
        # The journal of the shard that holds "qm": the one that compacted.
        folder, segments = max(journal_segments(w).items(),
                               key=lambda f: max([int(n.split(".")[1]) for n in f[1]] or [0]))
        size = sum(os.path.getsize(os.path.join(folder, n)) for n in segments)
        w.serve_process.kill()
        w.serve_process.wait(10)
        c.close()
        # Compacted several times (a segment index past 3), one or two segments left, and no more
        # than twice the live state (450 unacknowledged records) plus the segment limit.
        assert len(segments) <= 2 and max(int(n.split(".")[1]) for n in segments) >= 3, segments
        assert size < 2 * 450 * 700 + 4096, (segments, size)
        w.serve(**serve)
        again = FeedClient(w, name="qm")
        backlog, record = read_backlog(again)
        assert [r["seq"] for r in backlog] == seqs[450:], (len(backlog), backlog[:2])
        assert all(r["redelivered"] for r in backlog)
        assert record == {"type": "collected", "count": 300, "done": 150}, record


def scenario_newest_connection_of_a_client_takes_its_results(ringrelay):
    with World(ringrelay) as w:
        sink = Sink(w, ["-w", "1"])
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        first = FeedClient(w, name="qm")
        assert first.read()["type"] == "collected"
        for i in range(5):
            first.send(request(i))
        time.sleep(0.2)
        second = FeedClient(w, name="qm")
        assert second.read()["type"] == "collected"
        results, done = {}, set()
        read_v2(second, {f"r{i}" for i in range(5)}, results, done)
        assert len(results) == 5
        first.socket.settimeout(0.5)
        try:
            extra = first.read()
            raise AssertionError(f"the older connection still got {extra}")
        except (socket.timeout, TimeoutError):
            pass
        assert any("connected again" in l for l in w.log_lines())


def scenario_retention_limit_drops_the_oldest_and_logs_it(ringrelay):
    """A client that never acknowledges: past feed_result_retention_limit the oldest records are
    dropped, each logged in full; the rest wait for it."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", feed_result_retention_limit=10)
        c = FeedClient(w, name="qm")
        for i in range(30):
            c.send(request(i))
        read_all(c, {f"r{i}" for i in range(30)})
        c.close()
        again = FeedClient(w, name="qm")
        backlog, record = read_backlog(again)
        assert len(backlog) == 10 and record["count"] + record["done"] == 10, (backlog, record)
        dropped = [l for l in w.log_lines() if "result retention limit reached" in l]
        assert len(dropped) == 50, len(dropped)
        assert all('"id":"r' in line and '"seq":' in line for line in dropped), dropped[0]


def scenario_feed_clients_served_on_every_shard(ringrelay):
    """Three shards, nine named clients at once: each connection lands on any shard and moves to
    the shard that holds its client; requests are taken (and journaled) on several shards. Each
    client reconnects four times, leaving results unread; the last connection gets every result
    exactly once (or flagged redelivered). A protocol-1 client and "collect" still work."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", shards=3)
        names = [f"qm{k}" for k in range(9)]
        sent = {name: [] for name in names}
        failures = []

        def feeder(name):
            try:
                results, done = {}, set()
                for round_ in range(5):
                    c = FeedClient(w, name=name)
                    batch = [request(f"{name}-{round_}-{i}", recipients=2) for i in range(40)]
                    sent[name] += batch
                    for r in batch:
                        c.send(r)
                    if round_ < 4:
                        for _ in range(10):  # a few records, unacknowledged, then away
                            c.read()
                        c.close()
                read_v2(c, {r["id"] for r in sent[name]}, results, done)
                assert_every_recipient(results, sent[name])
                assert all(r["status"] == "sent" for r in results.values())
                c.close()
            except Exception as e:  # noqa: BLE001 (reported below, with the client's name)
                import traceback
                failures.append(f"{name}: {e!r} {traceback.format_exc()[-600:]}")

        threads = [threading.Thread(target=feeder, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert not failures, failures
        # Requests were taken on more than one shard: each journal names the clients it served.
        folders = journal_segments(w)
        assert len(folders) == 3, folders
        served = [sum(1 for n in names if f"Q\t{n}\tr{n}-".encode() in journal_text(f))
                  for f in folders]
        assert sum(1 for count in served if count > 0) >= 2, served
        assert sum(served) == len(names), served  # each client's requests on one shard only
        # Protocol 1 lives on shard 0, whichever shard accepts it.
        for _ in range(3):
            p1 = FeedClient(w)
            p1.send(request("p1", recipients=1))
            records = p1.read_until_done("rp1")
            assert [r["status"] for r in records if r["type"] == "result"] == ["sent"], records
            p1.close()
        collector = FeedClient(w)
        collector.send({"type": "collect"})
        assert collector.read()["type"] == "collected"
        w.stop_serve()


def scenario_journal_taken_over_when_the_shard_count_changes(ringrelay):
    """kill -9 of a three-shard serve with unacknowledged results and requests in flight in every
    shard's journal, restarted with one shard: the journals of shards 1 and 2 are taken over, each
    client gets every unacknowledged record again and an ambiguous deferral for what was in
    flight, exactly one result per recipient; then two shards: nothing comes twice."""
    with World(ringrelay) as w:
        sink = Sink(w, ["-w", "1"])  # slow: requests are in flight at the kill
        serve = dict(relayhost=f"[127.0.0.1]:{sink.port}", smtp_data_init_timeout="10s")
        w.serve(shards=3, **serve)
        names = [f"qm{k}" for k in range(6)]
        requests = {n: [request(f"{n}-{i}", recipients=2) for i in range(30)] for n in names}
        clients = {}
        for n in names:
            clients[n] = FeedClient(w, name=n)
            for r in requests[n]:
                clients[n].send(r)
        time.sleep(2.5)  # some delivered (unacknowledged), some in flight
        w.serve_process.kill()
        w.serve_process.wait(10)
        for c in clients.values():
            c.close()
        assert len(journal_segments(w)) == 3
        w.serve(shards=1, **serve)
        assert len(journal_segments(w)) == 1, journal_segments(w)  # taken over and removed
        assert sum(1 for l in w.log_lines() if "taken over by shard 0" in l) == 2, w.log_lines()
        for n in names:
            c = FeedClient(w, name=n)
            backlog, _ = read_backlog(c)
            results, done = {}, set()
            for r in backlog:
                if r["type"] == "result":
                    assert (r["id"], r["index"]) not in results, r
                    results[(r["id"], r["index"])] = r
                elif r["type"] == "done":
                    done.add(r["id"])
            seen = {r["id"] for r in backlog if "id" in r}
            if backlog:
                c.send({"type": "ack", "upto": max(r["seq"] for r in backlog)})
            for r in requests[n]:
                if r["id"] not in seen:
                    c.send(r)  # the journal never had it: it was never started
            read_v2(c, {r["id"] for r in requests[n]}, results, done)
            assert_every_recipient(results, requests[n])
            c.close()
        w.stop_serve()
        w.serve(shards=2, **serve)
        for n in names:
            c = FeedClient(w, name=n)
            record = c.read()
            assert record == {"type": "collected", "count": 0, "done": 0}, (n, record)
            c.close()
        w.stop_serve()


def scenario_submit_batch_shows_each_result_as_the_server_sent_it(ringrelay):
    """`ringrelay submit --batch` as a queue manager's script uses it: a line without "type" is a
    deliver request, a line with leading blanks is read as it is, a request the server refuses is
    named on stderr (exit 65) and the others still finish. Each recipient's result is printed once,
    as the server's record without "type" and "seq" (quotes and UTF-8 intact). A line that is not
    a JSON object with an "id" stops submit before it connects."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        message = w.message()
        body = {"path": message, "size": os.path.getsize(message)}
        quoted = '"quoted \\"name\\""@example.com'
        lines = [
            json.dumps({"id": "a", "sender": "s@example.org", "recipients": [quoted, "é@example.com"],
                        "body": body}),
            "  " + json.dumps({"type": "deliver", "id": "b", "sender": "s@example.org",
                               "recipients": ["x@example.com"], "body": body}),
            json.dumps({"id": "c", "sender": "s@example.org", "recipients": [], "body": body}),
        ]
        path = os.path.join(w.dir, "mixed.jsonl")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        code, results, err = w.submit("--batch", path)
        assert code == 65, (code, err)
        assert "request c refused: recipients: " in err, err
        assert sorted((r["id"], r["index"]) for r in results) == [("a", 0), ("a", 1), ("b", 0)]
        for r in results:
            assert "type" not in r and "seq" not in r, r
            assert r["status"] == "sent" and r["dsn"] == "2.0.0" and r["reply_code"] == 250, r
            assert isinstance(r["delay"], float) and r["relay"].endswith(f":{sink.port}"), r
        by_key = {(r["id"], r["index"]): r for r in results}
        assert by_key[("a", 0)]["recipient"] == quoted, by_key[("a", 0)]
        assert by_key[("a", 1)]["recipient"] == "é@example.com", by_key[("a", 1)]
        wait_for(lambda: sink.counter("mesg") == 2, 10, "two messages at the sink (a and b)")

        with open(path, "w") as f:
            f.write(lines[1] + "\n" + '["not", "an", "object"]\n')
        code, results, err = w.submit("--batch", path)
        assert code == 65 and results == [], (code, results, err)
        assert "line 2: expected a JSON object with a string \"id\"" in err, err
        time.sleep(0.5)
        assert sink.counter("mesg") == 2, "nothing of a refused batch was sent"
        w.stop_serve()
