"""Renders the Grafana dashboard's main panels (deploy/grafana/ringrelay-dashboard.json) with
matplotlib from a live run, because Grafana is not a Debian package: starts smtp-sink and
`ringrelay serve` with metrics_listen (through the integration harness), feeds it for a while
(one message in ten to a closed port, so some are deferred; one in twenty to an smtp-sink that
answers DATA after a second), scrapes /metrics every second,
computes what the panels' PromQL computes (rates, histogram quantiles) and writes a PNG.

    python3 deploy/grafana/render_panels.py build/release/engine/ringrelay docs/metrics-demo.png
"""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "integration"))
from harness import Sink, World, free_port  # noqa: E402

import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def scrape(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def total(samples, prefix):
    return sum(v for k, v in samples.items() if k.startswith(prefix))


def quantile(q, before, after, name):
    """histogram_quantile over the increase between two scrapes (linear within a bucket)."""
    buckets = []
    for k, v in after.items():
        if k.startswith(name + "_bucket{le="):
            le = k.split('"')[1]
            buckets.append((float("inf") if le == "+Inf" else float(le), v - before.get(k, 0)))
    buckets.sort()
    count = buckets[-1][1] if buckets else 0
    if count <= 0:
        return None
    rank, lower, below = q * count, 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1)
        lower, below = bound, cumulative
    return lower


def main():
    ringrelay, output = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    with World(ringrelay) as w:
        sink = Sink(w)
        slow = Sink(w, options=("-w", "1"))  # answers DATA after a second: a slow receiver
        closed = free_port()
        port = free_port()
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", shards=2, metrics_listen=f"127.0.0.1:{port}",
                smtp_connect_timeout="2s")
        message = w.message()
        stop = threading.Event()
        submitters = []

        def feed():
            n = 0
            while not stop.is_set():
                burst = 300 if (time.time() // 10) % 2 == 0 else 100  # a changing load
                requests = []
                for _ in range(burst):
                    r = {"id": f"demo{n}", "recipients": [f"r{n}@example.com"]}
                    if n % 10 == 0:
                        r["nexthop"] = f"[127.0.0.1]:{closed}"
                    elif n % 20 == 1:
                        r["nexthop"] = f"[127.0.0.1]:{slow.port}"
                    requests.append(r)
                    n += 1
                path = os.path.join(w.dir, f"batch{n}.jsonl")
                with open(path, "w") as f:
                    for r in requests:
                        r.update(sender="s@example.org",
                                 body={"path": message, "size": os.path.getsize(message)})
                        f.write(json.dumps(r) + "\n")
                submitters.append(subprocess.Popen([ringrelay, "submit", "--socket", w.feed,
                                                    "--batch", path],
                                                   stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL))
                time.sleep(0.5)

        feeder = threading.Thread(target=feed)
        feeder.start()
        scrapes = []
        started = time.time()
        while time.time() - started < seconds:
            scrapes.append((time.time() - started, scrape(port)))
            time.sleep(1)
        stop.set()
        feeder.join()
        for p in submitters:
            p.wait(timeout=120)

    t, series = [], {k: [] for k in ("sent", "deferred", "p50", "p99", "opened", "reused",
                                      "inflight", "shard0", "shard1", "rss")}
    for (t0, a), (t1, b) in zip(scrapes, scrapes[1:]):
        dt = t1 - t0
        t.append(t1)
        series["sent"].append((total(b, 'ringrelay_recipients_total{status="sent"')
                               - total(a, 'ringrelay_recipients_total{status="sent"')) / dt)
        series["deferred"].append((total(b, 'ringrelay_recipients_total{status="deferred"')
                                   - total(a, 'ringrelay_recipients_total{status="deferred"')) / dt)
        series["p50"].append(quantile(0.5, a, b, "ringrelay_delivery_seconds"))
        series["p99"].append(quantile(0.99, a, b, "ringrelay_delivery_seconds"))
        series["opened"].append((b["ringrelay_connections_opened_total"]
                                 - a["ringrelay_connections_opened_total"]) / dt)
        series["reused"].append((b["ringrelay_connections_reused_total"]
                                 - a["ringrelay_connections_reused_total"]) / dt)
        series["inflight"].append(b["ringrelay_feed_requests_in_flight"])
        for shard in (0, 1):
            key = f'ringrelay_shard_cpu_seconds_total{{shard="{shard}"}}'
            series[f"shard{shard}"].append((b[key] - a[key]) / dt)
        series["rss"].append(b["process_resident_memory_bytes"] / 2**20)

    fig, axes = plt.subplots(3, 2, figsize=(13, 10))
    fig.suptitle("ringrelay — the dashboard's panels from a live run (scraped every second)")
    panels = [
        ("Recipients per second by status", [("sent", "sent"), ("deferred", "deferred")], "/s"),
        ("Delivery latency, feed to result", [("p50", "p50"), ("p99", "p99")], "seconds"),
        ("Connections per second", [("opened", "opened"), ("reused", "reused")], "/s"),
        ("Feed: requests in flight", [("inflight", "in flight")], "requests"),
        ("Shard utilisation", [("shard0", "shard 0"), ("shard1", "shard 1")], "CPU cores"),
        ("Resident memory", [("rss", "resident")], "MiB"),
    ]
    for ax, (title, lines, unit) in zip(axes.flat, panels):
        for key, label in lines:
            ax.plot(t, [v if v is not None else float("nan") for v in series[key]], label=label)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.set_xlabel("seconds")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(output, dpi=80)
    print(f"wrote {output}: {len(scrapes)} scrapes")


if __name__ == "__main__":
    main()
