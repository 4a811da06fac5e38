#!/usr/bin/env python3
"""The end-to-end load harness: one command that measures ringrelay delivering M messages of size
S to D mail domains (MX records in a local dnsmasq pointing at N smtp-sink processes on loopback),
and, in the same run against the same sinks, Postfix's smtp-source sending the same messages with
the same number of connections, and a private Postfix instance (queue on tmpfs) relaying the
same messages to the same sinks, measured by its drain rate (bench/load/postfix_drain.py).
Prints a table with ratios and writes JSON.

  python3 bench/load/run.py [--messages 20000] [--sizes 1k,10k,100k] [--domains 20] [--sinks 4]
                            [--recipients 1] [--json results.json] [--ringrelay PATH]
                            [--journal sync|sync-every-turn|nosync|off] [--no-postfix]
                            [--operator] [--feeders 1] [--spool-dir /dev/shm] [--literal]
                            [--syslog]

Each message is its own spool file on tmpfs (/dev/shm), fed by reference through the feed socket.
--operator measures the set-up an operator runs instead: one destination `[127.0.0.40]:PORT`
(no MX lookups), one smtp-sink, spool files with LF endings on the disk (/var/tmp), four
`ringrelay submit` processes in parallel, smtp-source with 20 sessions.
Figures: delivered messages/s (counted at the sinks; every result checked "sent"), CPU seconds
(user+system) per 1,000 messages of ringrelay serve and of smtp-source, and of the sinks, peak RSS
of serve, p50/p99 time from submit to result, connections opened and messages per connection."""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)
from harness import DnsServer, Sink, World, free_port, wait_for  # noqa: E402
from postfix_drain import drain  # noqa: E402
import smtp_source  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds a live process has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def minor_faults(pid):
    """Page faults a live process has taken so far (each a page zeroed or mapped)."""
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[7])


def peak_rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def thread_cpu_seconds(pid):
    """CPU seconds of each thread of a live process by name: shard 0 is the main thread
    ("shard 0"), the other shards are "rr-shard-N", io_uring's kernel workers "iou-wrk-N"."""
    totals = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = "shard 0" if tid == str(pid) else open(
                f"/proc/{pid}/task/{tid}/comm").read().strip()
            fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        if name.startswith("iou-wrk"):
            name = "io_uring workers"
        totals[name] = totals.get(name, 0) + (int(fields[11]) + int(fields[12])) / TICKS
    return totals


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# The results journal as deployed (synced group commits, on the disk under /tmp), written without
# syncing, or off: bench/README.md reports what it costs.
JOURNAL_MODES = {
    "sync": lambda w: {},
    "sync-every-turn": lambda w: {"results_journal_commit_delay_ms": "0"},
    "nosync": lambda w: {"results_journal_sync": "no"},
    "off": lambda w: {"results_journal": ""},
}


def parse_size(text):
    text = text.lower()
    return int(text[:-1]) * 1024 if text.endswith("k") else int(text)


def message_of(size):
    """A plain-text message of about `size` bytes: headers, then 76-character lines."""
    head = "From: bench@example.org\nTo: readers@bench.test\nSubject: load test\n\n"
    line = ("The quick brown fox jumps over the lazy dog. 0123456789 " * 2)[:76] + "\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0


def serve_domains(w, dns_lines, domains, port, spool_dir="/dev/shm", literal=None, **more):
    """dnsmasq with `dns_lines` (MX and host records for d0..dN.bench.test), and ringrelay serve
    resolving through it, each domain routed to its MX hosts at the sinks' `port`, or with
    `literal(d)` to that address ([127.0.0.40]:PORT, no MX lookup)."""
    dns = DnsServer(w, dns_lines, ttl=3600)
    transport = os.path.join(w.dir, "transport")
    with open(transport, "w") as f:
        for d in range(domains):
            hop = f"[{literal(d)}]" if literal else f"d{d}.bench.test"
            f.write(f"d{d}.bench.test smtp:{hop}:{port}\n")
    settings = {"transport_maps": f"texthash:{transport}",
                "maillog_file": os.path.join(w.dir, "maillog"),
                "spool_directories": f"{w.dir} {spool_dir}"}
    settings.update(more)  # --set maillog_file= logs to syslog instead
    w.serve(**dns.settings(**settings))


def submit_in_parallel(w, batch_lines, feeders):
    """`ringrelay submit --batch` from `feeders` processes at once, the requests dealt out in
    turn; returns (worst exit code, the files their results went to, stderr). The results go to
    files and are parsed after the clock stops: a harness reading pipes while the feeders run
    takes CPU from the run and, reading one pipe at a time, stalls the other feeders."""
    files, outputs = [], []
    for k in range(feeders):
        path = os.path.join(w.dir, f"batch{k}.jsonl")
        with open(path, "w") as f:
            f.writelines(batch_lines[k::feeders])
        files.append(path)
        outputs.append(os.path.join(w.dir, f"results{k}.jsonl"))
    clients = []
    for path, output in zip(files, outputs):
        with open(output, "w") as out:
            clients.append(subprocess.Popen(
                [w.ringrelay, "submit", "--socket", w.feed, "--batch", path], stdout=out,
                stderr=subprocess.PIPE, text=True))
    code, errors = 0, ""
    for client in clients:
        _, err = client.communicate(timeout=3600)
        code = max(code, client.returncode)
        errors += err
    return code, outputs, errors


def results_in(outputs):
    results = []
    for output in outputs:
        with open(output) as f:
            results += [json.loads(line) for line in f if line.strip()]
    return results


# A stand-in syslog daemon for --syslog on a machine without one: reads /dev/log and appends each
# line to the world's log file (where the harness sees serve start), counting them.
SYSLOG_DRAIN = """
import os, signal, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
log = open(sys.argv[1], "ab")
count = 0
signal.signal(signal.SIGTERM, lambda *a: (print(count, flush=True), os._exit(0)))
print("ready", flush=True)
while True:
    log.write(s.recv(65536) + b"\\n")
    log.flush()
    count += 1
"""


def syslog_daemon(w):
    """/dev/log as it is, or a drain bound there for the run (removed afterwards)."""
    if os.path.exists("/dev/log"):
        return
    drain = subprocess.Popen([sys.executable, "-c", SYSLOG_DRAIN, w.log], stdout=subprocess.PIPE,
                             text=True)
    assert drain.stdout.readline().strip() == "ready"

    def stop():
        drain.terminate()
        print(f"syslog drain: {drain.communicate()[0].strip()} lines")
        os.unlink("/dev/log")
    w.cleanups.append(stop)


def run_size(ringrelay, size, args):
    """One message size: ringrelay, then smtp-source, against the same sinks."""
    with World(ringrelay) as w:
        if args.syslog:
            syslog_daemon(w)
        port = free_port()
        sinks = [Sink(w, address=f"127.0.0.{40 + i}", port=port) for i in range(args.sinks)]
        lines = []
        for d in range(args.domains):
            lines.append(f"mx-host=d{d}.bench.test,mx{d % args.sinks}.bench.test,10")
        for i in range(args.sinks):
            lines.append(f"host-record=mx{i}.bench.test,127.0.0.{40 + i}")
        extra = dict(setting.split("=", 1) for setting in args.set)
        if args.syslog:
            extra["maillog_file"] = ""  # Postfix's default: the log goes to syslog
        literal = (lambda d: f"127.0.0.{40 + d % args.sinks}") if args.literal else None
        serve_domains(w, lines, args.domains, port, spool_dir=args.spool_dir, literal=literal,
                      **JOURNAL_MODES[args.journal](w), **extra)
        serve_pid = w.serve_process.pid
        # One spool file per message (LF line endings), as a queue manager's queue would be.
        spool = tempfile.mkdtemp(prefix="ringrelay-spool-", dir=args.spool_dir)
        w.cleanups.append(lambda: shutil.rmtree(spool, ignore_errors=True))
        text = message_of(size).encode()
        batch = []
        for i in range(args.messages):
            path = os.path.join(spool, f"m{i}")
            with open(path, "wb") as m:
                m.write(text)
            batch.append(json.dumps({
                "id": f"b{i}", "sender": "s@example.org",
                "recipients": [f"r{i}.{j}@d{i % args.domains}.bench.test"
                               for j in range(args.recipients)],
                "body": {"path": path, "size": len(text)}}) + "\n")
        os.sync()  # the spool files are on the disk before the clock starts, as a queue's are
        threads0, faults0 = thread_cpu_seconds(serve_pid), minor_faults(serve_pid)
        probes = sum(s.sessions() for s in sinks)
        sink_cpu0 = sum(cpu_seconds(s.process.pid) for s in sinks)
        serve_cpu0, client_cpu0 = cpu_seconds(serve_pid), children_cpu()
        started = time.monotonic()
        code, outputs, err = submit_in_parallel(w, batch, args.feeders)
        wait_for(lambda: sum(s.counter("mesg") for s in sinks) >= args.messages, 60,
                 "the sinks' message counters")
        elapsed = time.monotonic() - started
        serve_cpu = cpu_seconds(serve_pid) - serve_cpu0
        faults = minor_faults(serve_pid) - faults0
        threads = {name: seconds - threads0.get(name, 0)
                   for name, seconds in thread_cpu_seconds(serve_pid).items()}
        client_cpu = children_cpu() - client_cpu0
        sink_cpu = sum(cpu_seconds(s.process.pid) for s in sinks) - sink_cpu0
        rss = peak_rss_kib(serve_pid)
        results = results_in(outputs)
        sent = sum(1 for r in results if r["status"] == "sent")
        expected = args.messages * args.recipients
        assert code == 0 and sent == expected, (code, sent, expected, err[-500:])
        delivered = sum(s.counter("mesg") for s in sinks)
        delays = [r["delay"] for r in results]
        w.stop_serve()  # smtp-sink counts a session when it ends: close the cached ones
        wait_for(lambda: sum(s.counter("quit") for s in sinks) >= 1, 10, "the sessions to end")
        time.sleep(0.2)
        connections = sum(s.sessions() for s in sinks) - probes
        ours = {
            "messages": delivered, "seconds": elapsed, "messages_per_second": delivered / elapsed,
            "cpu_seconds": serve_cpu, "cpu_ms_per_message": 1000 * serve_cpu / delivered,
            "thread_cpu_ms_per_message": {name: 1000 * seconds / delivered
                                          for name, seconds in sorted(threads.items())},
            "page_faults_per_message": faults / delivered,
            "submit_client_cpu_seconds": client_cpu, "sink_cpu_seconds": sink_cpu,
            "peak_rss_kib": rss, "p50_seconds": percentile(delays, 0.5),
            "p99_seconds": percentile(delays, 0.99), "connections": connections,
            "messages_per_connection": delivered / max(1, connections),
        }

        # smtp-source: the same messages to the same sinks, as many connections as we opened
        # (at least one per sink), each kept open for the next message (-d).
        per_sink = [args.messages // args.sinks + (1 if i < args.messages % args.sinks else 0)
                    for i in range(args.sinks)]
        sessions = args.source_sessions or max(1, min(connections, args.messages) // args.sinks)
        before = [s.counter("mesg") for s in sinks]
        sink_cpu0 = sum(cpu_seconds(s.process.pid) for s in sinks)
        cpu0 = children_cpu()
        started = time.monotonic()
        sources = smtp_source.run_all(
            ["-d", "-s", str(min(sessions, max(1, n))), "-m", str(n), "-l", str(size),
             "-r", str(args.recipients), "-f", "bench@example.org", "-t", "r@bench.test",
             f"127.0.0.{40 + i}:{port}"]
            for i, n in enumerate(per_sink) if n > 0)
        wait_for(lambda: sum(s.counter("mesg") for s in sinks) - sum(before) >= args.messages, 60,
                 "the sinks' message counters (smtp-source)")
        elapsed = time.monotonic() - started
        source_cpu = children_cpu() - cpu0
        sink_cpu = sum(cpu_seconds(s.process.pid) for s in sinks) - sink_cpu0
        delivered = sum(s.counter("mesg") for s in sinks) - sum(before)
        reference = {
            "messages": delivered, "seconds": elapsed, "messages_per_second": delivered / elapsed,
            "cpu_seconds": source_cpu, "cpu_ms_per_message": 1000 * source_cpu / delivered,
            "sink_cpu_seconds": sink_cpu, "connections": sessions * sources,
        }
        # A real Postfix relaying the same messages to the same sinks: its drain rate.
        postfix = None
        if not args.no_postfix:
            postfix = drain(w, sinks, port, args.domains, args.messages, size,
                            lambda d: f"127.0.0.{40 + d % args.sinks}")
    row = {"size": size, "ringrelay": ours, "smtp_source": reference,
           "cpu_ratio": ours["cpu_ms_per_message"] / reference["cpu_ms_per_message"],
           "rate_ratio": ours["messages_per_second"] / reference["messages_per_second"]}
    if postfix:
        row["postfix_drain"] = postfix
        row["postfix_rate_ratio"] = ours["messages_per_second"] / postfix["messages_per_second"]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--sizes", default="1k,10k,100k")
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--sinks", type=int, default=4)
    parser.add_argument("--recipients", type=int, default=1)
    parser.add_argument("--json", default="")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a main.cf parameter for ringrelay (e.g. smtp_header_checks=pcre:F)")
    parser.add_argument("--journal", choices=sorted(JOURNAL_MODES), default="sync",
                        help="the results journal: synced (as deployed), not synced, or off")
    parser.add_argument("--no-postfix", action="store_true",
                        help="skip the Postfix drain reference (it needs root)")
    parser.add_argument("--ringrelay", default=os.path.join(ROOT, "build", "release", "engine",
                                                            "ringrelay"))
    parser.add_argument("--operator", action="store_true",
                        help="one literal destination, one sink, spool on disk, four feeders, "
                             "smtp-source -s 20 (the set-up of issue #18)")
    parser.add_argument("--feeders", type=int, default=1,
                        help="parallel `ringrelay submit` processes sharing the messages")
    parser.add_argument("--spool-dir", default="/dev/shm",
                        help="where the message files are written (tmpfs by default)")
    parser.add_argument("--literal", action="store_true",
                        help="route each domain to its sink's address, [127.0.0.40]:PORT")
    parser.add_argument("--syslog", action="store_true",
                        help="log to syslog (maillog_file empty, the default) instead of a file; "
                             "without a daemon on /dev/log, a drain is bound there for the run")
    parser.add_argument("--source-sessions", type=int, default=0,
                        help="smtp-source sessions per sink (default: as many as ringrelay used)")
    args = parser.parse_args()
    if args.operator:
        args.domains, args.sinks, args.feeders, args.literal = 1, 1, 4, True
        args.spool_dir = "/var/tmp" if args.spool_dir == "/dev/shm" else args.spool_dir
        args.source_sessions = args.source_sessions or 20
    for tool in (smtp_source.SMTP_SOURCE, "/usr/sbin/smtp-sink", "/usr/sbin/dnsmasq"):
        if not os.path.exists(tool):
            print(f"{tool} is missing: bash deploy/setup-debian.sh")
            sys.exit(77)
    rows = [run_size(args.ringrelay, parse_size(s), args) for s in args.sizes.split(",")]
    print(f"{args.messages} messages x {args.recipients} recipient(s), {args.domains} domains"
          f"{' (literal next hops)' if args.literal else ''}, {args.sinks} smtp-sink processes, "
          f"{args.feeders} feeder(s), spool in {args.spool_dir}, {os.cpu_count()} cores, "
          f"results journal {args.journal}")
    header = ("size", "ringrelay msg/s", "smtp-source msg/s", "rate ×", "ringrelay CPU ms/msg",
              "smtp-source CPU ms/msg", "CPU ×", "sink CPU s (ours/ref)", "conns", "msg/conn",
              "p50/p99 s", "peak RSS MiB", "Postfix drain msg/s", "rate × Postfix")
    print(" | ".join(header))
    for r in rows:
        o, ref = r["ringrelay"], r["smtp_source"]
        print(" | ".join([
            f"{r['size'] // 1024} KiB", f"{o['messages_per_second']:.0f}",
            f"{ref['messages_per_second']:.0f}", f"{r['rate_ratio']:.2f}",
            f"{o['cpu_ms_per_message']:.3f}", f"{ref['cpu_ms_per_message']:.3f}",
            f"{r['cpu_ratio']:.2f}", f"{o['sink_cpu_seconds']:.1f}/{ref['sink_cpu_seconds']:.1f}",
            str(o["connections"]), f"{o['messages_per_connection']:.0f}",
            f"{o['p50_seconds']:.3f}/{o['p99_seconds']:.3f}", f"{o['peak_rss_kib'] / 1024:.1f}",
            f"{r['postfix_drain']['messages_per_second']:.0f}" if "postfix_drain" in r else "-",
            f"{r['postfix_rate_ratio']:.1f}" if "postfix_drain" in r else "-"]))
    for r in rows:
        shares = r["ringrelay"]["thread_cpu_ms_per_message"]
        total = sum(shares.values()) or 1
        print(f"{r['size'] // 1024} KiB, serve CPU ms/msg by thread: " + ", ".join(
            f"{name} {ms:.4f} ({100 * ms / total:.0f}%)" for name, ms in shares.items())
            + f"; page faults/msg {r['ringrelay']['page_faults_per_message']:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"arguments": vars(args), "rows": rows}, f, indent=2)
    print(f"load harness: {len(rows)} sizes measured, every result sent")


if __name__ == "__main__":
    main()
