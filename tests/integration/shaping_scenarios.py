"""Traffic-shaping scenarios against real peers on loopback: a message rate against smtp-sink, and
the starter reply rules (deploy/reply-rules.pcre) against a sink that throttles by source address
with Gmail's and Yahoo's words: backoff logged and recovered, blocklist refusals deferred and the
site suspended. Every recipient ends with exactly one result."""
import json
import os
import re
import stat
import subprocess
import time

from harness import Sink, World, free_port, one_result_per_recipient, wait_for
from throttling_sink import ThrottlingSink

STARTER_RULES = "pcre:" + os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                       "deploy", "reply-rules.pcre")


def throttling_sink(w, **kwargs):
    sink = ThrottlingSink(free_port(), **kwargs)
    w.cleanups.append(sink.close)
    return sink


def scenario_message_rate_paces_a_site(ringrelay):
    """smtp_destination_message_rate = 5/s against smtp-sink: 20 messages to one site take at
    least 3 s (a second's worth at once, then one every 200 ms); without it well under that."""
    with World(ringrelay) as w:
        sink = Sink(w)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", smtp_destination_message_rate="5/s")
        requests = [{"id": f"rated{i}", "recipients": [f"r{i}@example.com"]} for i in range(20)]
        started = time.time()
        code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=60)
        elapsed = time.time() - started
        seen = one_result_per_recipient(results, [(r["id"], r["recipients"][0]) for r in requests])
        assert all(r["status"] == "sent" for r in seen.values()), results
        assert elapsed >= 2.9, elapsed
        assert code == 0, (code, err)


def scenario_reply_rule_backs_off_and_recovers(ringrelay):
    """A receiver that takes 10 messages per 2 s from an address and answers beyond with Gmail's
    multi-line "421 4.7.28 ... rate limited": with the starter rules the site steps down (logged
    with the rule and the reply), the refused recipients are deferred with category reputation,
    and after reply_backoff_recovery_time without a refusal it climbs back to step 0."""
    with World(ringrelay) as w:
        sink = throttling_sink(w, limit=10, window=2)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", reply_rules=STARTER_RULES,
                reply_backoff_recovery_time="2s")
        requests = [{"id": f"t{i}", "recipients": [f"t{i}@example.com"]} for i in range(60)]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=60)
        seen = one_result_per_recipient(results, [(r["id"], r["recipients"][0]) for r in requests])
        sent = [r for r in seen.values() if r["status"] == "sent"]
        deferred = [r for r in seen.values() if r["status"] == "deferred"]
        assert len(sent) + len(deferred) == 60, results
        assert len(sent) == sink.accepted() and len(deferred) == sink.refusals(), (
            len(sent), len(deferred), sink.accepted(), sink.refusals())
        assert deferred, "the sink never throttled"
        assert all(r["dsn"] == "4.7.28" and r["category"] == "reputation" for r in deferred), \
            deferred[:2]
        time.sleep(3)  # the quiet period passes
        w.stop_serve()
        log = "\n".join(w.log_lines())
        assert re.search(r'site \[127\.0\.0\.1\]:\d+: reply rule "backoff" for "421-4\.7\.28 '
                         r'\[127\.0\.0\.1\] Gmail has detected .*": backoff step 1, at most 10 '
                         r'connections, [\d.]+ messages/min', log), log[-3000:]
        assert re.search(r"2s without a throttling reply: backoff step 0, at most 20 connections",
                         log), log[-3000:]
        assert code == 75, (code, err)  # submit: some recipients deferred (EX_TEMPFAIL)


def scenario_blocklist_refusal_suspends_the_site(ringrelay):
    """A receiver that refuses every MAIL FROM with Yahoo's "553 5.7.1 [BL21] ... in Spamhaus's
    list": the starter rule defers instead of bouncing (4.7.1, the sender's address is blocked,
    not the recipient) and suspends the site, so the other queued messages are deferred at once
    with the server's words, over that one connection, and none is bounced."""
    with World(ringrelay) as w:
        refusal = ("553 5.7.1 [BL21] Connections will not be accepted from {peer}, because the ip "
                   "is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes")
        sink = throttling_sink(w, limit=0, window=60, refusal=refusal)
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", reply_rules=STARTER_RULES,
                initial_destination_concurrency="1", default_destination_concurrency_limit="1")
        requests = [{"id": f"b{i}", "recipients": [f"b{i}@example.com"]} for i in range(10)]
        code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=60)
        seen = one_result_per_recipient(results, [(r["id"], r["recipients"][0]) for r in requests])
        assert all(r["status"] == "deferred" and r["dsn"] == "4.7.1" for r in seen.values()), results
        suspended = [r for r in seen.values() if "delivery temporarily suspended: 553 5.7.1 [BL21]"
                     in r["text"]]
        assert len(suspended) >= 8, results
        assert sink.refusals() <= 2, sink.refused
        w.stop_serve()
        log = "\n".join(w.log_lines())
        assert 'reply rule "defer suspend=1h"' in log and "suspended for 3600s" in log, log[-3000:]
        assert code == 75, (code, err)  # submit: deferred (EX_TEMPFAIL)


def scenario_egress_pool_spreads_sources_and_sets_aside_a_missing_one(ringrelay):
    """A pool of three sources: 127.0.0.2 (weight 2), 127.0.0.3, and 192.0.2.1, an address this
    host does not have. The sink sees the mail from .2 and .3 only, two to one; the missing source
    is set aside with one warning and its share goes to the others (nothing deferred); each result
    names its source; a request naming one source leaves from it alone; a request naming a pool
    that does not exist is refused with the field."""
    with World(ringrelay) as w:
        sink = throttling_sink(w)
        sources = os.path.join(w.dir, "sources")
        with open(sources, "w") as f:
            f.write("a address=127.0.0.2 helo=a.relay.test\nb address=127.0.0.3\n"
                    "missing address=192.0.2.1\n")
        pools = os.path.join(w.dir, "pools")
        with open(pools, "w") as f:
            f.write("bulk a:2 b missing\n")
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", egress_source_maps=f"texthash:{sources}",
                egress_pool_maps=f"texthash:{pools}", default_egress_pool="bulk")
        requests = [{"id": f"p{i}", "recipients": [f"p{i}@example.com"]} for i in range(30)]
        requests.append({"id": "only-b", "recipients": ["b@example.com"], "pool": "B"})
        code, results, err = w.submit("--batch", w.batch(requests, w.message()), timeout=60)
        seen = one_result_per_recipient(results, [(r["id"], r["recipients"][0]) for r in requests])
        assert all(r["status"] == "sent" for r in seen.values()), results
        assert code == 0, (code, err)
        assert set(sink.sessions) <= {"127.0.0.2", "127.0.0.3"}, sink.sessions
        by_source = {}
        for (rid, _), r in seen.items():
            by_source.setdefault(r.get("source"), []).append(rid)
        assert by_source.get("b", []).count("only-b") == 1, by_source
        assert set(by_source) == {"a", "b"}, by_source
        assert sink.accepted("127.0.0.2") == len(by_source["a"]), (sink.taken.keys(), by_source)
        assert sink.accepted("127.0.0.3") == len(by_source["b"]), by_source
        # a has twice b's weight; missing's first pick went elsewhere once it failed to bind.
        assert len(by_source["a"]) >= 18, by_source
        code, results, err = w.submit("--batch", w.batch(
            [{"id": "nopool", "recipients": ["n@example.com"], "pool": "nosuch"}], w.message()))
        assert code != 0 and not any(r.get("status") == "sent" for r in results), (code, results)
        assert "pool" in err + str(results), (err, results)
        w.stop_serve()
        log = "\n".join(w.log_lines())
        assert log.count("warning: egress source missing: cannot bind 192.0.2.1") == 1, log
        assert ", source=a," in log, log


def ctl(w, *args):
    """Runs `ringrelay ctl` against the world's serve; returns (exit code, stdout, stderr)."""
    run = subprocess.run([w.ringrelay, "ctl", "-c", w.config, *args], capture_output=True,
                         text=True, timeout=30)
    return run.returncode, run.stdout, run.stderr


def ctl_json(w, *args):
    code, out, err = ctl(w, "--json", *args)
    assert code == 0, (args, code, out, err)
    return json.loads(out)


def held(w, site):
    return sum(s["held"] for s in ctl_json(w, "sites", site)["sites"])


def scenario_ctl_suspends_inspects_resumes_and_bounces(ringrelay):
    """`ringrelay ctl` against a running serve with two shards: the admin socket is owner-only; a
    suspended site keeps its mail without a single connection (ctl sites shows it held, ctl holds
    the hold) and a resume delivers all of it; a tenant suspended for 2s is delivered once the
    time is up (logged); bounce gives a held site's mail its results at once with the operator's
    reason; mistakes are refused with a reason and exit 1. One result per recipient throughout."""
    with World(ringrelay) as w:
        sink = throttling_sink(w)
        state = os.path.join(w.dir, "holds")
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", shards=2, control_state_file=state)
        site = f"[127.0.0.1]:{sink.port}"
        control = w.feed + ".control"
        assert stat.S_IMODE(os.stat(control).st_mode) == 0o600, oct(os.stat(control).st_mode)
        assert ctl_json(w, "holds")["holds"] == []

        code, out, err = ctl(w, "suspend", "site", site, "reason", "checking", "a", "complaint")
        assert code == 0 and "suspended until resumed" in out, (code, out, err)
        requests = [{"id": f"h{i}", "recipients": [f"h{i}@example.com"]} for i in range(10)]
        submit = subprocess.Popen([ringrelay, "submit", "--socket", w.feed, "--batch",
                                   w.batch(requests, w.message())],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: held(w, site) == 10, 20, "ten held messages")
        code, out, err = ctl(w, "sites")
        assert code == 0 and site in out and "held" in out, (out, err)
        holds = ctl_json(w, "holds")["holds"]
        assert holds == [{"kind": "site", "name": site, "until": None, "defer": False,
                          "reason": "checking a complaint"}], holds
        time.sleep(1)
        assert sink.sessions == {} and sink.accepted() == 0, sink.sessions
        code, out, err = ctl(w, "resume", "site", site)
        assert code == 0 and "resumed" in out, (code, out, err)
        out, err = submit.communicate(timeout=60)
        results = [json.loads(line) for line in out.splitlines() if line.strip()]
        seen = one_result_per_recipient(results, [(r["id"], r["recipients"][0]) for r in requests])
        assert all(r["status"] == "sent" for r in seen.values()), results
        assert submit.returncode == 0 and sink.accepted() == 10, (submit.returncode, err)

        # A tenant's hold for 2s ends by itself.
        code, out, err = ctl(w, "suspend", "tenant", "Campaigns", "for", "2s")
        assert code == 0 and "until 20" in out, (code, out, err)
        started = time.time()
        code, results, err = w.submit("--batch", w.batch(
            [{"id": "t1", "recipients": ["t1@example.com"], "tenant": "campaigns"}], w.message()))
        one_result_per_recipient(results, [("t1", "t1@example.com")])
        assert code == 0 and results[0]["status"] == "sent", (code, results, err)
        assert time.time() - started >= 1.5, time.time() - started
        assert ctl_json(w, "holds")["holds"] == []

        # Bounce everything held for the site.
        assert ctl(w, "suspend", "site", site)[0] == 0
        requests = [{"id": f"b{i}", "recipients": [f"b{i}@example.com"]} for i in range(5)]
        submit = subprocess.Popen([ringrelay, "submit", "--socket", w.feed, "--batch",
                                   w.batch(requests, w.message())],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: held(w, site) == 5, 20, "five held messages")
        code, out, err = ctl(w, "bounce", site, "reason", "list withdrawn")
        assert code == 0 and out.startswith("5 recipients queued for site"), (code, out, err)
        out, err = submit.communicate(timeout=60)
        results = [json.loads(line) for line in out.splitlines() if line.strip()]
        seen = one_result_per_recipient(results, [(r["id"], r["recipients"][0]) for r in requests])
        assert all(r["status"] == "bounced" and "bounced by the operator: list withdrawn" in r["text"]
                   for r in seen.values()), results
        assert sink.accepted() == 11, sink.accepted()

        # Mistakes: refused, with the reason.
        code, out, err = ctl(w, "resume", "site", "nosuch.example")
        assert code == 1 and "no site nosuch.example is suspended" in err, (code, err)
        code, out, err = ctl(w, "suspend", "source", "nosuch")
        assert code == 1 and "no egress source named nosuch" in err, (code, err)
        code, out, err = ctl(w, "suspend", "planet", "x")
        assert code == 1 and "expected site, source, domain, pool or tenant" in err, (code, err)
        assert ctl(w, "resume", "site", site)[0] == 0

        # control_state_file: a hold outlives a restart.
        assert ctl(w, "suspend", "domain", "kept.example", "defer", "reason", "persisted")[0] == 0
        w.stop_serve()
        w.serve(relayhost=f"[127.0.0.1]:{sink.port}", shards=2, control_state_file=state)
        assert ctl_json(w, "holds")["holds"] == [{"kind": "domain", "name": "kept.example",
                                                  "until": None, "defer": True,
                                                  "reason": "persisted"}]
        code, results, err = w.submit("--batch", w.batch(
            [{"id": "k1", "recipients": ["k1@kept.example"]}], w.message()))
        one_result_per_recipient(results, [("k1", "k1@kept.example")])
        assert results[0]["status"] == "deferred" and "persisted" in results[0]["text"], results
        assert ctl(w, "resume", "domain", "kept.example")[0] == 0
        w.stop_serve()
        log = "\n".join(w.log_lines())
        assert "control: 1 holds restored from " + state in log, log
        assert re.search(r"control: uid \d+ pid \d+: site \S+ suspended until resumed", log), log
        assert "control: tenant campaigns resumed: its suspension ended" in log, log
        assert "control: 5 recipients queued for site" in log, log
