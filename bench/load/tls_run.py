#!/usr/bin/env python3
"""TLS load benchmark: ringrelay delivering M messages of size S over STARTTLS connections that
the connection cache reuses, against the same run in plaintext, to the same sinks in one run.
The sinks are ringrelay_tls_sink processes (smtp-sink has no TLS) on 127.0.0.40+; the server
certificate is ECDSA P-256 from tests/tls/make-test-pki.sh. Prints msg/s and ringrelay's CPU per
message for both, their ratios, and how many handshakes (full and resumed) the TLS run made.

  python3 bench/load/tls_run.py [--messages 10000] [--size 10k] [--domains 20] [--sinks 4]
                                [--json results.json] [--build build/release]"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)
from harness import World, free_port, port_open, wait_for  # noqa: E402
from run import cpu_seconds, message_of, parse_size  # noqa: E402


def start_sinks(args, pki, port):
    sink = os.path.join(args.build, "bench", "ringrelay_tls_sink")
    sinks = [subprocess.Popen([sink, f"127.0.0.{40 + i}", str(port), f"{pki}/good.pem",
                               f"{pki}/good.key"], stdout=subprocess.PIPE, text=True)
             for i in range(args.sinks)]
    for i in range(args.sinks):
        wait_for(lambda i=i: port_open(port, f"127.0.0.{40 + i}"), 10, "the TLS sinks")
    return sinks


def one_run(args, level, port, size):
    """ringrelay serve at smtp_tls_security_level `level`, all messages through it."""
    ringrelay = os.path.join(args.build, "engine", "ringrelay")
    with World(ringrelay) as w:
        transport = os.path.join(w.dir, "transport")
        with open(transport, "w") as f:
            for d in range(args.domains):
                f.write(f"d{d}.bench.test smtp:[127.0.0.{40 + d % args.sinks}]:{port}\n")
        w.serve(transport_maps=f"texthash:{transport}", smtp_tls_security_level=level,
                smtp_connection_cache_time_limit="10s")
        message = w.message("bench.eml", message_of(size))
        batch = w.batch(({"id": f"b{i}", "recipients": [f"r{i}@d{i % args.domains}.bench.test"]}
                         for i in range(args.messages)), message)
        pid = w.serve_process.pid
        cpu0 = cpu_seconds(pid)
        started = time.monotonic()
        code, results, err = w.submit("--batch", batch, timeout=3600)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(pid) - cpu0
        sent = sum(1 for r in results if r["status"] == "sent")
        assert code == 0 and sent == args.messages, (code, sent, err[-500:])
        if level != "none":
            assert all(r.get("tls", {}).get("protocol") for r in results), results[:2]
        w.stop_serve()
        log = w.log_lines()
        handshakes = sum(1 for line in log if "TLS connection established to" in line)
        resumed = sum(1 for line in log if "TLS connection established to" in line
                      and line.endswith("(session resumed)"))
        connections = len({r["relay"] + str(i) for i, r in enumerate(results) if r["conn_use"] == 1})
    return {"level": level, "messages": sent, "seconds": elapsed,
            "messages_per_second": sent / elapsed, "cpu_seconds": cpu,
            "cpu_ms_per_message": 1000 * cpu / sent, "tls_handshakes": handshakes,
            "resumed_handshakes": resumed, "connections": connections}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--size", default="10k")
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--sinks", type=int, default=4)
    parser.add_argument("--json", default="")
    parser.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    args = parser.parse_args()
    pki = f"/tmp/ringrelay-bench-pki-{os.getuid()}"
    subprocess.run(["bash", os.path.join(ROOT, "tests", "tls", "make-test-pki.sh"), pki], check=True)
    port = free_port()
    sinks = start_sinks(args, pki, port)
    size = parse_size(args.size)
    try:
        sink_cpu0 = sum(cpu_seconds(s.pid) for s in sinks)
        plain = one_run(args, "none", port, size)
        sink_cpu1 = sum(cpu_seconds(s.pid) for s in sinks)
        tls = one_run(args, "encrypt", port, size)
        sink_cpu2 = sum(cpu_seconds(s.pid) for s in sinks)
    finally:
        for s in sinks:
            s.send_signal(signal.SIGTERM)
        counts = [int((s.communicate(timeout=10)[0] or "0").strip() or 0) for s in sinks]
    plain["sink_cpu_seconds"] = sink_cpu1 - sink_cpu0
    tls["sink_cpu_seconds"] = sink_cpu2 - sink_cpu1
    assert sum(counts) == 2 * args.messages, counts
    rate_ratio = tls["messages_per_second"] / plain["messages_per_second"]
    cpu_ratio = tls["cpu_ms_per_message"] / plain["cpu_ms_per_message"]
    print(f"{args.messages} messages of {size // 1024} KiB, {args.domains} domains, {args.sinks} "
          f"sinks, {os.cpu_count()} cores")
    print("run | msg/s | ringrelay CPU ms/msg | sink CPU s | connections | TLS handshakes (resumed)")
    for r in (plain, tls):
        print(f"{r['level']} | {r['messages_per_second']:.0f} | {r['cpu_ms_per_message']:.3f} | "
              f"{r['sink_cpu_seconds']:.1f} | {r['connections']} | {r['tls_handshakes']} "
              f"({r['resumed_handshakes']})")
    print(f"TLS/plaintext: rate {rate_ratio:.2f}x, ringrelay CPU per message {cpu_ratio:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"arguments": vars(args), "plaintext": plain, "tls": tls,
                       "rate_ratio": rate_ratio, "cpu_ratio": cpu_ratio}, f, indent=2)
    print("tls load harness: both runs measured, every result sent")


if __name__ == "__main__":
    main()
