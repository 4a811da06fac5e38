"""A small SMTP sink with the limits receivers set: by source address the way the big mailbox
providers throttle (each peer address may deliver `limit` messages per `window` seconds; beyond
that MAIL FROM gets `refusal`, by default Gmail's multi-line 421 4.7.28, and a 421 closes the
connection), per connection the way OpenSMTPD does (`per_connection` messages, then "452 4.5.3 Too
many recipients: Too many messages sent" to MAIL FROM) and per transaction as RFC 5321 says
(`per_transaction` recipients, then "452 4.5.3 Too many recipients" to RCPT TO). It records, per
peer address, the messages taken and when, the refusals, and the most messages on one connection
and recipients in one transaction, so scenarios check what ringrelay did from the receiver's side.
Pipelined commands are answered in order."""
import socketserver
import threading
import time

GMAIL_RATE_LIMITED = (
    "421-4.7.28 [{peer}] Gmail has detected an unusual rate of unsolicited mail originating\r\n"
    "421-4.7.28 from your IP address. To protect our users from spam, mail sent from your IP\r\n"
    "421 4.7.28 address has been temporarily rate limited. - gsmtp")


class ThrottlingSink:
    def __init__(self, port, limit=None, window=60, refusal=GMAIL_RATE_LIMITED,
                 per_connection=None, per_transaction=None, address="127.0.0.1"):
        self.limit, self.window, self.refusal = limit, window, refusal
        self.per_connection, self.per_transaction = per_connection, per_transaction
        self.most_on_a_connection = self.most_in_a_transaction = 0
        self.refused_messages = self.refused_recipients = 0
        self.lock = threading.Lock()
        self.taken = {}     # peer address -> [monotonic times of accepted messages]
        self.refused = {}   # peer address -> refusals
        self.sessions = {}  # peer address -> connections
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                sink.session(self)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer((address, port), Handler)
        self.server.daemon_threads = True
        self.port = port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def accepted(self, peer=None):
        with self.lock:
            return sum(len(v) for k, v in self.taken.items() if peer in (None, k))

    def refusals(self, peer=None):
        with self.lock:
            return sum(v for k, v in self.refused.items() if peer in (None, k))

    def over_limit(self, peer):
        """Whether `peer` has used its messages of the current window (a sliding one)."""
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self.taken.get(peer, []) if now - t < self.window]
            return self.limit is not None and len(recent) >= self.limit

    def session(self, handler):
        peer = handler.client_address[0]
        with self.lock:
            self.sessions[peer] = self.sessions.get(peer, 0) + 1

        def reply(text):
            handler.wfile.write((text + "\r\n").encode())

        reply("220 throttling.test ESMTP")
        mail, in_data, messages, recipients = False, False, 0, 0
        while True:
            line = handler.rfile.readline()
            if not line:
                return
            line = line.decode(errors="replace").rstrip("\r\n")
            if in_data:
                if line == ".":
                    in_data, mail = False, False
                    messages += 1
                    with self.lock:
                        self.taken.setdefault(peer, []).append(time.monotonic())
                        self.most_on_a_connection = max(self.most_on_a_connection, messages)
                        self.most_in_a_transaction = max(self.most_in_a_transaction, recipients)
                    reply("250 2.0.0 Ok: queued")
                continue
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                handler.wfile.write(b"250-throttling.test\r\n250-PIPELINING\r\n"
                                    b"250 ENHANCEDSTATUSCODES\r\n")
            elif verb == "MAIL":
                recipients = 0
                if self.per_connection is not None and messages >= self.per_connection:
                    with self.lock:
                        self.refused_messages += 1
                    reply("452 4.5.3 Too many recipients: Too many messages sent")
                    mail = False
                elif self.over_limit(peer):
                    with self.lock:
                        self.refused[peer] = self.refused.get(peer, 0) + 1
                    reply(self.refusal.format(peer=peer))
                    if self.refusal.startswith("421"):
                        return  # 421: the server closes the connection
                    mail = False
                else:
                    mail = True
                    reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                if not mail:
                    reply("503 5.5.1 Error: need MAIL command")
                elif self.per_transaction is not None and recipients >= self.per_transaction:
                    with self.lock:
                        self.refused_recipients += 1
                    reply("452 4.5.3 Too many recipients")
                else:
                    recipients += 1
                    reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if mail and recipients > 0:
                    in_data = True
                    reply("354 End data with <CR><LF>.<CR><LF>")
                else:
                    reply("554 5.5.1 Error: no valid recipients")
            elif verb == "RSET":
                mail = False
                reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                reply("221 2.0.0 Bye")
                return
            else:
                reply("502 5.5.2 Error: command not recognized")
