#!/usr/bin/env python3
"""Memory per open session: holds N plaintext SMTP sessions open at once against a slow
smtp-sink (-w: it sits on the reply after DATA), and reads ringrelay's resident memory before and
during. Prints a table and writes JSON. Loopback only; everything stops at the end.
    python3 bench/load/idle_sessions.py [--sessions 10000] [--ringrelay build/release/engine/ringrelay]"""
import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
from harness import free_port, port_open, wait_for  # noqa: E402


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(n, soft), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--ringrelay", default="build/release/engine/ringrelay")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    n = args.sessions
    raise_fd_limit(n * 2 + 1000)
    work = tempfile.mkdtemp(prefix="ringrelay-idle-")
    os.chmod(work, 0o755)
    port = free_port()
    sink = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "-m", str(n + 100), "-w", "120",
                             f"127.0.0.1:{port}", "4096"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: raise_fd_limit(n * 2 + 1000))
    wait_for(lambda: port_open(port), 10, "smtp-sink")
    feed = os.path.join(work, "feed")
    with open(os.path.join(work, "main.cf"), "w") as f:
        f.write(f"feed_socket = {feed}\nspool_directories = {work}\nresults_journal = {work}/journal\n"
                f"relayhost = [127.0.0.1]:{port}\nmaillog_file = {work}/maillog\n"
                f"shards = 1\ninitial_destination_concurrency = {n}\n"
                f"smtp_destination_concurrency_limit = {n}\nshard_session_limit = {n + 10}\n"
                f"smtp_data_done_timeout = 600s\nsmtp_data_init_timeout = 600s\n")
    serve = subprocess.Popen([args.ringrelay, "serve", "-c", os.path.join(work, "main.cf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             preexec_fn=lambda: raise_fd_limit(n * 2 + 1000))
    try:
        wait_for(lambda: os.path.exists(feed), 10, "the feed socket")
        client = socket.socket(socket.AF_UNIX)
        client.connect(feed)
        client.recv(4096)  # hello
        time.sleep(0.5)
        baseline_rss, baseline_fds = rss_kib(serve.pid), open_fds(serve.pid)
        body = "Subject: held\\n\\n" + "x" * 1000 + "\\n"
        batch = "".join(json.dumps({"type": "deliver", "id": f"h{i}", "sender": "s@example.org",
                                    "recipients": [f"r{i}@example.com"], "body_inline": body}) + "\n"
                        for i in range(n))
        client.sendall(batch.encode())
        started = time.time()
        wait_for(lambda: open_fds(serve.pid) - baseline_fds >= n, 120, f"{n} open sessions")
        time.sleep(2)  # let every session reach its wait
        loaded_rss, loaded_fds = rss_kib(serve.pid), open_fds(serve.pid)
        sessions = loaded_fds - baseline_fds
        per_session = (loaded_rss - baseline_rss) * 1024 / max(1, sessions)
        result = {"sessions": sessions, "seconds_to_open": round(time.time() - started, 2),
                  "ringrelay_rss_baseline_kib": baseline_rss, "ringrelay_rss_loaded_kib": loaded_rss,
                  "bytes_per_session": round(per_session), "sink_rss_kib": rss_kib(sink.pid),
                  "includes": "the request (1 KiB inline body, recipients), its job, the connection, "
                              "its 4 KiB receive buffer and the protocol session"}
        print(f"{sessions} sessions open at once (reached in {result['seconds_to_open']}s)")
        print(f"ringrelay RSS: {baseline_rss} KiB before, {loaded_rss} KiB with them open")
        print(f"memory per session: {per_session / 1024:.1f} KiB ({round(per_session)} bytes), "
              f"including the request and its 1 KiB inline body")
        print(f"smtp-sink RSS: {result['sink_rss_kib']} KiB")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        client.close()
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
        sink.kill()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
