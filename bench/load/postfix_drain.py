"""The Postfix reference of the load harness: a private Postfix instance, its queue on tmpfs,
relaying to the same sinks through a transport map. Messages are injected with smtp-source into
its smtpd while delivery is held (defer_transports = smtp), then released; the figure is the drain
rate, from release to an empty queue, with the messages counted at the sinks."""
import os
import shutil
import subprocess
import tempfile
import time

import smtp_source
from harness import PostfixServer, wait_for


def queue_files(queue):
    return sum(len(files) for sub in ("maildrop", "incoming", "active", "deferred", "hold")
               for _, _, files in os.walk(os.path.join(queue, sub)))


def drain(world, sinks, port, domains, messages, size, sink_address):
    """Runs the reference; returns its figures. `sink_address(d)` is the sink of domain d."""
    queue = tempfile.mkdtemp(prefix="ringrelay-drain-", dir="/dev/shm")
    os.chmod(queue, 0o755)
    world.cleanups.append(lambda: shutil.rmtree(queue, ignore_errors=True))
    transport = os.path.join(world.dir, "postfix-transport")
    with open(transport, "w") as f:
        for d in range(domains):
            f.write(f"d{d}.bench.test smtp:[{sink_address(d)}]:{port}\n")
    postfix = PostfixServer(world, main_cf={
        "queue_directory": queue, "relay_domains": "bench.test",
        "default_transport": "smtp", "relay_transport": "smtp",
        "transport_maps": f"texthash:{transport}", "defer_transports": "smtp",
        "smtpd_recipient_restrictions": "permit_mynetworks, reject",
        "smtp_helo_name": "drain.test", "smtp_connect_timeout": "5s",
    }.items())
    # Inject: one smtp-source per domain, the domain's share of the messages.
    shares = [messages // domains + (1 if d < messages % domains else 0) for d in range(domains)]
    smtp_source.run_all(["-s", "5", "-m", str(n), "-l", str(size), "-f", "bench@example.org",
                         "-t", f"r@d{d}.bench.test", f"127.0.0.1:{postfix.port}"]
                        for d, n in enumerate(shares) if n > 0)
    deferred = os.path.join(queue, "deferred")
    wait_for(lambda: sum(len(files) for _, _, files in os.walk(deferred)) >= messages, 300,
             "Postfix to hold every message")
    before = sum(s.counter("mesg") for s in sinks)
    # Release: deliver everything now.
    for command in (["postconf", "-c", postfix.conf, "-e", "defer_transports="],
                    ["postfix", "-c", postfix.conf, "reload"],
                    ["postqueue", "-c", postfix.conf, "-f"]):
        subprocess.run(command, check=True, capture_output=True)
    started = time.monotonic()
    wait_for(lambda: queue_files(queue) == 0, 3600, "Postfix's queue to drain")
    elapsed = time.monotonic() - started
    wait_for(lambda: sum(s.counter("mesg") for s in sinks) - before >= messages, 60,
             "the sinks' message counters (Postfix)")
    delivered = sum(s.counter("mesg") for s in sinks) - before
    postfix.stop()
    return {"messages": delivered, "seconds": elapsed, "messages_per_second": delivered / elapsed}
