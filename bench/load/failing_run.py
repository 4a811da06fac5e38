#!/usr/bin/env python3
"""Failing-destinations load benchmark: do healthy destinations keep their throughput while 20% of
the destinations fail? D domains (MX records in a local dnsmasq); 80% point at smtp-sink
processes, the other 20% half at a sink that refuses every RCPT with 4xx and half at an address
where nothing listens. Run A delivers only the healthy domains' messages; run B the same healthy
messages interleaved with the failing domains' ones. The figure is the healthy messages' rate in
B against A, each measured from submit to the last healthy result (target: >= 0.9).

  python3 bench/load/failing_run.py [--messages 10000] [--size 1k] [--domains 20] [--sinks 4]
                                    [--json results.json] [--ringrelay PATH]"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)
from harness import Sink, World, free_port  # noqa: E402
from run import cpu_seconds, message_of, parse_size, serve_domains  # noqa: E402


def healthy(domain, args):
    return domain < args.domains - args.domains // 5


def timed_submit(w, batch):
    """Runs `ringrelay submit --batch`; returns [(seconds since start, result)]."""
    started = time.monotonic()
    process = subprocess.Popen([w.ringrelay, "submit", "--socket", w.feed, "--batch", batch],
                               stdout=subprocess.PIPE, text=True)
    timed = [(time.monotonic() - started, json.loads(line)) for line in process.stdout
             if line.strip()]
    process.wait()
    return timed


def one_run(args, with_failing, size):
    with World(args.ringrelay) as w:
        port = free_port()
        sinks = [Sink(w, address=f"127.0.0.{40 + i}", port=port) for i in range(args.sinks)]
        refusing = Sink(w, ["-r", "rcpt"], address="127.0.0.60", port=port)
        lines = [f"host-record=mx{i}.bench.test,127.0.0.{40 + i}" for i in range(args.sinks)]
        lines += ["host-record=refuse.bench.test,127.0.0.60", "host-record=dead.bench.test,127.0.0.61"]
        failing = [d for d in range(args.domains) if not healthy(d, args)]
        for d in range(args.domains):
            if healthy(d, args):
                target = f"mx{d % args.sinks}.bench.test"
            else:
                target = "refuse.bench.test" if failing.index(d) % 2 == 0 else "dead.bench.test"
            lines.append(f"mx-host=d{d}.bench.test,{target},10")
        serve_domains(w, lines, args.domains, port)
        message = w.message("bench.eml", message_of(size))
        domains = [i % args.domains for i in range(args.messages)]
        chosen = [i for i, d in enumerate(domains) if with_failing or healthy(d, args)]
        batch = w.batch(({"id": f"b{i}", "recipients": [f"r{i}@d{domains[i]}.bench.test"]}
                         for i in chosen), message)
        pid = w.serve_process.pid
        cpu0 = cpu_seconds(pid)
        timed = timed_submit(w, batch)
        cpu = cpu_seconds(pid) - cpu0
        w.stop_serve()
        good, bad = [], []
        for t, r in timed:
            domain = int(r["recipient"].split("@d")[1].split(".")[0])
            if healthy(domain, args):
                good.append((t, r))
            else:
                bad.append(r)
        assert all(r["status"] == "sent" for _, r in good), [r for _, r in good if r["status"] != "sent"][:3]
        assert all(r["status"] == "deferred" for r in bad), bad[:3]
        last = max(t for t, _ in good)
        return {"failing_included": with_failing, "healthy_messages": len(good),
                "failing_messages": len(bad), "seconds_to_last_healthy": last,
                "healthy_messages_per_second": len(good) / last, "cpu_seconds": cpu,
                "failing_reasons": sorted({r["text"][:80] for r in bad})[:4]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--size", default="1k")
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--sinks", type=int, default=4)
    parser.add_argument("--json", default="")
    parser.add_argument("--ringrelay", default=os.path.join(ROOT, "build", "release", "engine",
                                                            "ringrelay"))
    args = parser.parse_args()
    for tool in ("/usr/sbin/smtp-sink", "/usr/sbin/dnsmasq"):
        if not os.path.exists(tool):
            print(f"{tool} is missing: bash deploy/setup-debian.sh")
            sys.exit(77)
    size = parse_size(args.size)
    alone = one_run(args, False, size)
    mixed = one_run(args, True, size)
    ratio = mixed["healthy_messages_per_second"] / alone["healthy_messages_per_second"]
    print(f"{args.messages} messages of {size // 1024} KiB to {args.domains} domains "
          f"({args.domains // 5} failing), {args.sinks} sinks, {os.cpu_count()} cores")
    print("run | healthy msg/s | healthy messages | failing messages (deferred) | ringrelay CPU s")
    for name, r in (("healthy only", alone), ("with 20% failing", mixed)):
        print(f"{name} | {r['healthy_messages_per_second']:.0f} | {r['healthy_messages']} | "
              f"{r['failing_messages']} | {r['cpu_seconds']:.2f}")
    print(f"healthy throughput with failing destinations: {ratio:.2f}x (target >= 0.9)")
    print("failing destinations said: " + "; ".join(mixed["failing_reasons"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"arguments": vars(args), "healthy_only": alone, "with_failing": mixed,
                       "ratio": ratio}, f, indent=2)
    print("failing harness: both runs measured, every healthy result sent")


if __name__ == "__main__":
    main()
