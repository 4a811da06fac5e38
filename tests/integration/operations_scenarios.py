"""Operations scenarios against real peers on loopback: the Prometheus endpoint (metrics_listen)
scraped while ringrelay delivers to smtp-sink and fails to reach a closed port (its counters equal
the results the feed client received; every scrape passes `promtool check metrics`), and the
systemd readiness protocol (sd_notify) seen by a listener on NOTIFY_SOCKET. Every recipient ends
with exactly one result."""
import os
import re
import shutil
import signal
import socket
import subprocess

from harness import FeedClient, Sink, World, free_port, one_result_per_recipient, wait_for


def http_get(port, path="/metrics", method="GET"):
    """One HTTP/1.1 request; returns (status code, headers text, body)."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:  # a server that answers before reading everything (busy, too long) may reset
            s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n"
                      .encode())
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
    if not data:
        return 0, "", ""  # reset before the answer could be read
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, _, headers = head.decode().partition("\r\n")
    return int(status_line.split()[1]), headers, body.decode()


def samples(text):
    """{'name{labels}': value} of every sample line."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found


def promtool_check(text):
    checked = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                             capture_output=True, timeout=30)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", \
        (checked.returncode, checked.stdout, checked.stderr)


def scenario_metrics_count_every_result(ringrelay):
    """Two shards, 40 messages to smtp-sink (sent), 5 to a closed port (deferred, category
    connection), one request refused for an unknown pool and one malformed line: the scrape's
    recipients_total, feed_requests_total and connection counters equal what the feed client got;
    the site gauges list the sink's site; promtool accepts every scrape; other paths get 404,
    POST 405, a head over 8 KiB 431, a 17th connection 503."""
    if shutil.which("promtool") is None:
        raise SystemExit(77)  # skipped: Debian's prometheus package brings promtool
    with World(ringrelay) as w:
        sink = Sink(w)
        closed = free_port()
        port = free_port()
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", shards=2, metrics_listen=f"127.0.0.1:{port}",
                smtp_connect_timeout="2s")
        status, headers, body = http_get(port)
        assert status == 200 and "text/plain; version=0.0.4" in headers, (status, headers)
        promtool_check(body)
        before = samples(body)
        assert before['ringrelay_recipients_total{status="sent",category="delivered"}'] == 0

        requests = [{"id": f"m{i}", "recipients": [f"r{i}@example.com"]} for i in range(40)]
        requests += [{"id": f"d{i}", "recipients": [f"d{i}@example.net"],
                      "nexthop": f"[127.0.0.1]:{closed}"} for i in range(5)]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=90)
        seen = one_result_per_recipient(results, [(r["id"], r["recipients"][0]) for r in requests])
        sent = sum(1 for r in seen.values() if r["status"] == "sent")
        deferred = sum(1 for r in seen.values() if r["status"] == "deferred")
        assert sent == 40 and deferred == 5, [r for r in seen.values() if r["status"] != "sent"]

        client = FeedClient(w)
        client.send({"type": "deliver", "id": "nopool", "pool": "nosuch", "sender": "a@b.example",
                     "recipients": [{"address": "x@example.com"}],
                     "body_inline": "Subject: x\r\n\r\nx\r\n"})
        assert client.read()["type"] == "error"
        client.send("{not json")
        assert client.read()["type"] == "error"

        status, headers, body = http_get(port)
        assert status == 200, status
        promtool_check(body)
        after = samples(body)
        got_sent = after['ringrelay_recipients_total{status="sent",category="delivered"}']
        got_deferred = sum(v for k, v in after.items()
                           if k.startswith('ringrelay_recipients_total{status="deferred"'))
        got_bounced = sum(v for k, v in after.items()
                          if k.startswith('ringrelay_recipients_total{status="bounced"'))
        assert (got_sent, got_deferred, got_bounced) == (40, 5, 0), (got_sent, got_deferred,
                                                                     got_bounced)
        assert after['ringrelay_recipients_total{status="deferred",category="connection"}'] == 5
        assert after['ringrelay_feed_requests_total{result="accepted"}'] == 45, after
        assert after['ringrelay_feed_requests_total{result="refused"}'] == 2, after
        assert after["ringrelay_feed_recipients_total"] == 45
        assert after["ringrelay_feed_requests_in_flight"] == 0
        assert after["ringrelay_delivery_seconds_count"] == 45
        assert after["ringrelay_transmission_seconds_count"] == 40
        opened = after["ringrelay_connections_opened_total"]
        reused = after["ringrelay_connections_reused_total"]
        assert opened >= 2 and opened + reused >= 41, (opened, reused)
        assert after['ringrelay_connection_failures_total{reason="connect"}'] >= 1, after
        # Connections that carried mail were counted as set up when their first transaction ended.
        setups = after["ringrelay_session_setup_seconds_count"]
        assert setups >= 1 and after["ringrelay_greeting_seconds_count"] == setups, after
        assert after["ringrelay_ehlo_seconds_count"] == setups
        assert after["ringrelay_tls_handshake_seconds_count"] == 0  # smtp-sink offers no TLS
        assert after["ringrelay_sites"] >= 1
        site = f'ringrelay_site_window{{site="[127.0.0.1]:{sink.port}",source=""}}'
        assert site in after, [k for k in after if k.startswith("ringrelay_site_window")]
        assert after["ringrelay_sites_partial"] == 0
        shards = {k: v for k, v in after.items() if k.startswith("ringrelay_shard_cpu_seconds")}
        assert len(shards) == 2 and all(v > 0 for v in shards.values()), shards
        assert after["process_resident_memory_bytes"] > 1e6
        # The sink saw what the counters say.
        wait_for(lambda: sink.counter("mesg") >= 40, 10, "the sink's counter")

        # Every metric the shipped dashboard and docs/metrics.md's alerts query is served.
        families = set(re.findall(r"^# TYPE (\S+)", body, re.M))
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        queried = set()
        for path in ("deploy/grafana/ringrelay-dashboard.json", "docs/metrics.md"):
            text = open(os.path.join(root, path)).read()
            queried |= set(re.findall(r"\b((?:ringrelay|process)_[a-z_]+)", text))
        queried = {re.sub(r"_(bucket|sum|count)$", "", name) for name in queried
                   if not name.endswith("_")}
        assert queried - families == set(), queried - families

        status, _, _ = http_get(port, "/nowhere")
        assert status == 404, status
        status, headers, _ = http_get(port, "/metrics", method="POST")
        assert status == 405 and "Allow: GET, HEAD" in headers, (status, headers)
        status, headers, body = http_get(port, "/metrics", method="HEAD")
        assert status == 200 and body == "" and "Content-Length:" in headers, (status, headers)
        # A client that sends nothing is cut off; the endpoint still answers others meanwhile.
        idle = socket.create_connection(("127.0.0.1", port), timeout=15)
        assert http_get(port)[0] == 200
        idle.close()
        # Bounded: a request head over 8 KiB gets 431; a 17th connection gets 503.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nX-Long: " + b"x" * 8300)  # no end of head
            assert s.recv(65536).startswith(b"HTTP/1.1 431 "), "no 431"
        idle = [socket.create_connection(("127.0.0.1", port), timeout=15) for _ in range(16)]
        wait_for(lambda: http_get(port)[0] == 503, 5, "a busy answer")
        for s in idle:
            s.close()
        wait_for(lambda: http_get(port)[0] == 200, 5, "the endpoint after the idle clients")
        w.stop_serve()
        assert "metrics on 127.0.0.1:%d" % port in open(w.log).read()


def scenario_systemd_readiness_protocol(ringrelay):
    """serve as a Type=notify unit runs it, with a listener on NOTIFY_SOCKET standing in for
    systemd: READY=1 comes once the feed socket takes connections; a SIGHUP brings RELOADING=1
    (with MONOTONIC_USEC) and READY=1 with the outcome in STATUS, also when the new configuration
    is refused; SIGTERM brings STOPPING=1. A delivery in between gets its one result."""
    with World(ringrelay) as w:
        sink = Sink(w)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = os.path.join(w.dir, "notify")
        listener.bind(path)
        listener.settimeout(20)
        w.cleanups.append(listener.close)

        def next_message():
            return dict(line.split("=", 1) for line in
                        listener.recv(4096).decode().splitlines() if "=" in line)

        os.environ["NOTIFY_SOCKET"] = path
        try:
            w.serve(relayhost=f"[127.0.0.1]:{sink.port}")
        finally:
            del os.environ["NOTIFY_SOCKET"]
        ready = next_message()
        assert ready.get("READY") == "1" and ready["STATUS"].startswith("delivering"), ready
        FeedClient(w).socket.close()  # the feed socket takes connections once READY is said

        code, results, err = w.submit("-f", "s@example.org", "-r", "one@example.com", w.message())
        assert code == 0 and [r["status"] for r in results] == ["sent"], (code, results, err)

        w.serve_process.send_signal(signal.SIGHUP)
        reloading = next_message()
        assert reloading.get("RELOADING") == "1" and int(reloading["MONOTONIC_USEC"]) > 0, reloading
        done = next_message()
        assert done.get("READY") == "1" and done["STATUS"].startswith("configuration reloaded"), done

        with open(w.config, "a") as f:
            f.write("smtp_tls_security_level = sometimes\n")
        w.serve_process.send_signal(signal.SIGHUP)
        assert next_message().get("RELOADING") == "1"
        refused = next_message()
        assert refused.get("READY") == "1" and "reload refused" in refused["STATUS"], refused
        assert "smtp_tls_security_level" in refused["STATUS"], refused

        w.serve_process.send_signal(signal.SIGTERM)
        stopping = next_message()
        assert stopping.get("STOPPING") == "1" and "stopping" in stopping["STATUS"], stopping
        w.serve_process.wait(timeout=30)
        assert w.serve_process.returncode == 0, w.serve_process.returncode


def proc_status(pid):
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return fields


def scenario_privilege_drop_to_ringrelay_user(ringrelay):
    """Started as root with ringrelay_user = nobody: /proc shows every user and group id changed
    and no capability left once serve says it started; it still delivers (spool files read, the
    journal written, results back on the root-owned feed socket). A control_state_file whose
    directory the user cannot write to stops the start with an error naming it."""
    import pwd
    if os.geteuid() != 0:
        raise SystemExit(77)  # skipped: dropping root needs root
    nobody = pwd.getpwnam("nobody")
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", ringrelay_user="nobody", shards=2)
        status = proc_status(w.serve_process.pid)
        assert status["Uid"] == [str(nobody.pw_uid)] * 4, status["Uid"]
        assert status["Gid"] == [str(nobody.pw_gid)] * 4, status["Gid"]
        assert status["CapEff"] == ["0000000000000000"], status["CapEff"]
        assert status["CapPrm"] == ["0000000000000000"], status["CapPrm"]
        for task in os.listdir(f"/proc/{w.serve_process.pid}/task"):  # every shard's thread too
            assert proc_status(f"{w.serve_process.pid}/task/{task}")["Uid"][0] == str(nobody.pw_uid)
        message = w.message()
        os.chmod(message, 0o644)
        requests = [{"id": f"p{i}", "recipients": [f"p{i}@example.com"]} for i in range(5)]
        code, results, err = w.submit("--batch", w.batch(requests, message))
        seen = one_result_per_recipient(results, [(r["id"], r["recipients"][0]) for r in requests])
        assert code == 0 and all(r["status"] == "sent" for r in seen.values()), (results, err)
        w.stop_serve()
        log = open(w.log).read()
        assert f"running as nobody (uid {nobody.pw_uid}" in log, log[-2000:]

        # The journal root created is handed to the user; a holds file where it cannot write
        # stops the start.
        private = os.path.join(w.dir, "private")
        os.mkdir(private, 0o700)
        with open(w.config, "a") as f:
            f.write(f"control_state_file = {private}/holds\n")
        run = subprocess.run([ringrelay, "serve", "-c", w.config], capture_output=True, text=True,
                             timeout=30)
        assert run.returncode != 0, run
        assert f"the directory {private} is not writable" in run.stderr, run.stderr
        assert os.stat(w.journal).st_uid == nobody.pw_uid
