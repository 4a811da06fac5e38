"""Integration test harness: starts real peers on loopback (Postfix's smtp-sink), a ringrelay
`serve` with a private configuration, and a queue manager (`ringrelay submit` or a raw feed
client); everything is stopped at the end. Every wait is bounded."""
import json
import os
import re
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

SMTP_SINK = "/usr/sbin/smtp-sink"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def one_result_per_recipient(results, expected_ids_recipients):
    """Exactly one result for each (request id, recipient): none twice, none missing."""
    seen = {}
    for r in results:
        key = (r["id"], r["recipient"])
        assert key not in seen, f"two results for {key}"
        seen[key] = r
    missing = set(expected_ids_recipients) - set(seen)
    assert not missing, f"no result for {sorted(missing)[:5]}"
    return seen


class Sink:
    """A Postfix smtp-sink on 127.0.0.1 (or all addresses with any_address), with fault options."""

    def __init__(self, world, options=(), any_address=False, address="127.0.0.1", port=None):
        self.port = port or free_port()
        self.address = address
        host = f"[{address}]" if ":" in address else address
        listen = f":{self.port}" if any_address else f"{host}:{self.port}"
        self.counters = os.path.join(world.dir, f"sink-{address}-{self.port}.out")
        self.process = subprocess.Popen(
            [SMTP_SINK, "-u", "nobody", "-c", *options, listen, "256"],
            stdout=open(self.counters, "w"), stderr=subprocess.STDOUT)
        world.cleanups.append(self.stop)
        wait_for(lambda: port_open(self.port, "127.0.0.1" if any_address else address), 10,
                 f"smtp-sink on port {self.port}")

    def counter(self, name):
        """A counter from smtp-sink -c ("sess=6 quit=5 mesg=2000"), from its latest report."""
        reports = [line for line in open(self.counters).read().replace("\r", "\n").split("\n")
                   if "sess=" in line]
        if not reports:
            return 0
        fields = dict(word.split("=", 1) for word in reports[-1].split() if "=" in word)
        return int(fields.get(name, 0))

    def sessions(self):
        """Connections the sink saw."""
        return self.counter("sess")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


class TricklingServer:
    """A hostile or odd SMTP server on 127.0.0.1 that sends its greeting one byte every `pace`
    seconds, then answers like a plain server (EHLO refused, no extensions) and takes every
    message. `greetings` counts the greetings it finished sending, `messages` the messages it
    took, `commands` the command lines it read, `dot_waits` the seconds between its 354 and each
    message's final "." (a PIX firewall's greeting and the delay_dotcrlf workaround)."""

    def __init__(self, world, greeting=b"220 trickle\r\n", pace=1.0):
        self.greeting, self.pace = greeting, pace
        self.greetings = self.messages = 0
        self.commands, self.dot_waits = [], []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()
        world.cleanups.append(self.stop)

    def _accept(self):
        while not self.stopping:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(connection,), daemon=True).start()

    def _session(self, connection):
        connection.settimeout(30)
        try:
            for i in range(len(self.greeting)):
                connection.sendall(self.greeting[i:i + 1])
                time.sleep(self.pace)
            self.greetings += 1
            buffered, in_data = b"", False
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                buffered += chunk
                if in_data:
                    if b"\r\n.\r\n" not in buffered:
                        continue
                    buffered = buffered.split(b"\r\n.\r\n", 1)[1]
                    in_data = False
                    self.messages += 1
                    self.dot_waits.append(time.monotonic() - data_started)
                    connection.sendall(b"250 2.0.0 taken\r\n")
                while b"\r\n" in buffered and not in_data:
                    line, buffered = buffered.split(b"\r\n", 1)
                    self.commands.append(line.decode("latin-1"))
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        in_data = True
                        data_started = time.monotonic()
                        connection.sendall(b"354 go ahead\r\n")
                    elif verb == b"QUIT":
                        connection.sendall(b"221 bye\r\n")
                        return
                    elif verb == b"EHLO":
                        connection.sendall(b"502 5.5.2 no ESMTP here\r\n")
                    else:
                        connection.sendall(b"250 ok\r\n")
                if in_data and b"\r\n.\r\n" in buffered:
                    buffered = buffered.split(b"\r\n.\r\n", 1)[1]
                    in_data = False
                    self.messages += 1
                    self.dot_waits.append(time.monotonic() - data_started)
                    connection.sendall(b"250 2.0.0 taken\r\n")
        except OSError:
            pass
        finally:
            connection.close()

    def stop(self):
        self.stopping = True
        self.listener.close()


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DnsServer:
    """dnsmasq on 127.0.0.1:PORT, answering for `.test` from the configuration lines given (mx-host=,
    host-record=, cname=, ...) and from a hosts file that set_hosts() rewrites (a SIGHUP makes
    dnsmasq read it again and forget its cache). Other `.test` names are NXDOMAIN. Every query is
    logged, so that tests can count what reached the server."""

    def __init__(self, world, lines=(), ttl=0):
        # The free port is found, then dnsmasq binds it: a test running beside this one may take
        # it in between, and dnsmasq then exits at once. Another port is tried then.
        for attempt in range(5):
            self.port = free_udp_port()
            self.dir = os.path.join(world.dir, f"dns-{self.port}")
            os.makedirs(self.dir)
            os.chmod(self.dir, 0o755)
            self.hosts = os.path.join(self.dir, "hosts")
            self.log = os.path.join(self.dir, "queries.log")
            open(self.hosts, "w").close()
            config = [f"port={self.port}", "listen-address=127.0.0.1", "bind-interfaces",
                      "no-resolv", "no-hosts", "local=/test/", "log-queries",
                      f"log-facility={self.log}", f"addn-hosts={self.hosts}", f"local-ttl={ttl}",
                      f"user={pwd.getpwuid(os.geteuid()).pw_name}", *lines]
            conf = os.path.join(self.dir, "dnsmasq.conf")
            with open(conf, "w") as f:
                f.write("\n".join(config) + "\n")
            errors = os.path.join(self.dir, "stderr")
            self.process = subprocess.Popen(["dnsmasq", "--keep-in-foreground", "-C", conf],
                                            stdout=subprocess.DEVNULL,
                                            stderr=open(errors, "w"))
            wait_for(lambda: "started" in self.log_text() or self.process.poll() is not None, 10,
                     f"dnsmasq on port {self.port}")
            if self.process.poll() is None:
                break
            print(f"dnsmasq on port {self.port} did not start ({open(errors).read().strip()}); "
                  "trying another port")
        assert self.process.poll() is None, self.log_text()
        world.cleanups.append(self.stop)

    def settings(self, **more):
        """serve() parameters that send ringrelay's lookups here, with short timeouts."""
        return {"dns_servers": f"127.0.0.1:{self.port}", "dns_timeout": "1s", "dns_tries": "1",
                **more}

    def set_hosts(self, text):
        with open(self.hosts, "w") as f:
            f.write(text)
        self.process.send_signal(signal.SIGHUP)
        wait_for(lambda: self.log_text().count(f"read {self.hosts}") >= 2, 10, "dnsmasq's reload")

    def log_text(self):
        return open(self.log).read() if os.path.exists(self.log) else ""

    def queries(self, name, qtype):
        """How many queries for `name` of type `qtype` ("MX", "A", "AAAA") arrived."""
        return sum(1 for line in self.log_text().splitlines()
                   if f"query[{qtype}] {name} from" in line)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)


class World:
    """A temporary directory, a ringrelay serve, and what it talks to."""

    def __init__(self, ringrelay):
        self.ringrelay = ringrelay
        self.dir = tempfile.mkdtemp(prefix="ringrelay-it-")
        os.chmod(self.dir, 0o755)
        self.cleanups = []
        self.serve_process = None
        self.feed = os.path.join(self.dir, "feed")
        self.log = os.path.join(self.dir, "maillog")
        self.config = os.path.join(self.dir, "main.cf")
        self.journal = os.path.join(self.dir, "journal")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.stop_serve(expect_clean=exc[0] is None)
        except AssertionError:
            if exc[0] is None:
                raise
        for cleanup in reversed(self.cleanups):
            cleanup()
        if exc[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print(f"(kept {self.dir} for inspection)")
            if os.path.exists(self.log):
                print(open(self.log).read()[-4000:])
        return False

    def serve(self, hosts=None, **parameters):
        """Starts ringrelay serve. `hosts`: /etc/hosts lines it sees instead of the machine's (in a
        private mount namespace; the machine's file is untouched)."""
        settings = {"feed_socket": self.feed, "maillog_file": self.log,
                    "smtp_helo_name": "relay.test", "smtp_connect_timeout": "5s",
                    "spool_directories": self.dir, "results_journal": self.journal}
        settings.update({k: str(v) for k, v in parameters.items()})
        with open(self.config, "w") as f:
            for name, value in settings.items():
                f.write(f"{name} = {value}\n")
        self.serve_output = open(os.path.join(self.dir, "serve.out"), "w")
        command = [self.ringrelay, "serve", "-c", self.config]
        if hosts is not None:
            hosts_file = os.path.join(self.dir, "hosts")
            with open(hosts_file, "w") as f:
                f.write(hosts)
            command = ["unshare", "-m", "sh", "-c",
                       f"mount --bind {hosts_file} /etc/hosts && exec {' '.join(command)}"]
        starts_before = self.starts()
        self.serve_process = subprocess.Popen(command, stdout=self.serve_output, stderr=subprocess.STDOUT)
        # Ready when this process says it started (after a kill -9 the old socket can still take
        # connections for a moment, until the kernel has torn down the dead process's ring).
        wait_for(lambda: self.serve_process.poll() is not None or self.starts() > starts_before,
                 30, "the feed socket")
        assert self.serve_process.poll() is None, open(os.path.join(self.dir, "serve.out")).read()

    def stop_serve(self, expect_clean=True):
        if self.serve_process is None or self.serve_process.poll() is not None:
            return
        self.serve_process.send_signal(signal.SIGTERM)
        try:
            code = self.serve_process.wait(30)
        except subprocess.TimeoutExpired:
            self.serve_process.kill()
            raise AssertionError("ringrelay serve did not stop within 30s of SIGTERM")
        output = open(os.path.join(self.dir, "serve.out")).read()
        if expect_clean:
            assert code == 0, f"serve exited {code}:\n{output}"
            for report in ("ERROR: AddressSanitizer", "runtime error", "WARNING: ThreadSanitizer"):
                assert report not in output, output

    def message(self, name="msg.eml", body="Subject: test\nFrom: sender@example.org\n\nHello.\n"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(body)
        return path

    def batch(self, requests, message):
        """Writes a JSONL batch for `submit --batch`: each request (a dict with id, recipients and
        optionally nexthop) gets the sender s@example.org and `message` by reference."""
        path = os.path.join(self.dir, "batch.jsonl")
        size = os.path.getsize(message)
        with open(path, "w") as f:
            for request in requests:
                line = {"sender": "s@example.org", "body": {"path": message, "size": size}}
                line.update(request)
                f.write(json.dumps(line) + "\n")
        return path

    def submit(self, *args, timeout=60):
        """Runs `ringrelay submit`; returns (exit code, list of result objects, stderr)."""
        run = subprocess.run([self.ringrelay, "submit", "--socket", self.feed, *args],
                             capture_output=True, text=True, timeout=timeout)
        results = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
        return run.returncode, results, run.stderr

    def starts(self):
        """How many times a serve has said it started, in this world's log (Postfix or JSON)."""
        return sum(1 for line in self.log_lines() if " started: feed on " in line)

    def log_lines(self):
        return open(self.log).read().splitlines() if os.path.exists(self.log) else []


class FeedClient:
    """A raw feed-protocol client, for what `submit` does not do (disconnect, collect, errors).
    With `name`, it speaks protocol 2 under that client identity."""

    def __init__(self, world, name=None, address=None, secret=None):
        if address is None:
            self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.socket.settimeout(30)
            self.socket.connect(world.feed)
        else:
            self.socket = socket.create_connection(address, timeout=30)
        self.buffer = b""
        hello = self.read()
        assert hello["type"] == "hello" and hello["protocol"] == 1, hello
        assert hello["protocols"] == [1, 2], hello
        if name is not None or secret is not None:
            greeting = {"type": "hello", "protocol": 2 if name else 1}
            if name:
                greeting["client"] = name
            if secret is not None:
                greeting["secret"] = secret
            self.send(greeting)
            if name:
                welcome = self.read()
                assert welcome["type"] == "welcome" and welcome["client"] == name, welcome

    def send(self, obj):
        data = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        if isinstance(data, str):
            data = data.encode()
        self.socket.sendall(data + b"\n")

    def read(self):
        while b"\n" not in self.buffer:
            chunk = self.socket.recv(65536)
            if not chunk:
                raise AssertionError("feed connection closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def read_until_done(self, request_id):
        records = []
        while True:
            record = self.read()
            records.append(record)
            if record["type"] in ("done", "error") and record.get("id") == request_id:
                return records

    def close(self):
        self.socket.close()


class PostfixServer:
    """A private Postfix instance whose smtpd listens on 127.0.0.1:PORT: recipients are accepted or
    refused through an access map, accepted mail is discarded. The system's Postfix is untouched."""

    def __init__(self, world, access=(), main_cf=(), chroot=True, before_start=None):
        self.port = free_port()
        self.dir = os.path.join(world.dir, f"postfix-{self.port}")
        conf = os.path.join(self.dir, "etc")
        os.makedirs(conf)
        for d in ("queue", "data"):
            os.makedirs(os.path.join(self.dir, d))
        os.chmod(self.dir, 0o755)
        subprocess.run(["chown", "postfix", os.path.join(self.dir, "data")], check=True)
        access_map = os.path.join(conf, "access")
        with open(access_map, "w") as f:
            for address, action in access:
                f.write(f"{address} {action}\n")
        self.log = os.path.join(self.dir, "maillog")
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": os.path.join(self.dir, "queue"),
            "data_directory": os.path.join(self.dir, "data"),
            "mail_owner": "postfix", "setgid_group": "postdrop",
            "myhostname": "smtpd.test", "mydomain": "test", "mydestination": "",
            "inet_interfaces": "127.0.0.1", "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8", "relay_domains": "example.com",
            "smtpd_recipient_restrictions": f"check_recipient_access texthash:{access_map}, permit_mynetworks, reject",
            "default_transport": "discard:", "relay_transport": "discard:",
            "smtpd_tls_security_level": "none", "alias_maps": "", "alias_database": "",
            "maillog_file": self.log, "maillog_file_prefixes": "/tmp",
        }
        settings.update(dict(main_cf))
        with open(os.path.join(conf, "main.cf"), "w") as f:
            for name, value in settings.items():
                f.write(f"{name} = {value}\n")
        master = open("/etc/postfix/master.cf").read().replace(
            "\nsmtp      inet", f"\n127.0.0.1:{self.port} inet", 1)
        if not chroot:  # files smtpd opens per session (a sasldb) stay at their own paths
            master = re.sub(rf"(\n127\.0\.0\.1:{self.port} inet\s+\S+\s+\S+\s+)y", r"\1n", master, 1)
        with open(os.path.join(conf, "master.cf"), "w") as f:
            f.write(master)
        self.conf = conf
        if before_start is not None:
            before_start(self)
        started = subprocess.run(["postfix", "-c", conf, "start"], capture_output=True, text=True)
        assert started.returncode == 0, started.stdout + started.stderr
        world.cleanups.append(self.stop)
        wait_for(lambda: port_open(self.port), 20, f"Postfix smtpd on port {self.port}")

    def log_text(self):
        return open(self.log).read() if os.path.exists(self.log) else ""

    def stop(self):
        subprocess.run(["postfix", "-c", self.conf, "stop"], capture_output=True)
