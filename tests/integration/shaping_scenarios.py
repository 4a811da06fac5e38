"""Traffic-shaping scenarios against real peers on loopback: a message rate against smtp-sink, and
the starter reply rules (deploy/reply-rules.pcre) against a sink that throttles by source address
with Gmail's and Yahoo's words: backoff logged and recovered, blocklist refusals deferred and the
site suspended. Every recipient ends with exactly one result."""
import os
import re
import time

from harness import Sink, World, free_port, one_result_per_recipient
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
