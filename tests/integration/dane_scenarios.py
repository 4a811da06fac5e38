"""DANE scenarios (RFC 7672): a zone signed in the test with ldns-keygen/ldns-signzone, served and
validated by a private unbound (auth-zone for upstream, the test's key as trust anchor), a real
Postfix smtpd with a certificate from the test PKI, and ringrelay at smtp_tls_security_level =
dane with smtp_dns_support_level = dnssec. Verified by DANE-EE and DANE-TA, behind a CNAME, after a
key rotation; fallbacks to encrypt and may where Postfix falls back; deferrals where it defers."""
import hashlib
import os
import shutil
import subprocess
import sys

from harness import World, free_udp_port, one_result_per_recipient, wait_for
from tls_scenarios import pki, tls_smtpd


def der(args):
    return subprocess.run(args, check=True, capture_output=True).stdout


def spki_sha256(pem):
    key = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-pubkey"], check=True,
                         capture_output=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=key, check=True,
                          capture_output=True).stdout
    return hashlib.sha256(spki).hexdigest()


def cert_sha256(pem):
    return hashlib.sha256(der(["openssl", "x509", "-in", pem, "-outform", "DER"])).hexdigest()


class SignedDns:
    """unbound on 127.0.0.1:PORT validating `dane.test` (signed here; the TLSA records of the
    hosts below name `port`) with its key as the only trust anchor, and serving `plain.test`
    unsigned (insecure: no anchor covers it). RRSIGs of the names in `corrupt` are spoilt, so
    that their answers are bogus (SERVFAIL from a validating resolver)."""

    def __init__(self, world, dane_records, plain_records, corrupt=()):
        if not shutil.which("ldns-signzone") or not shutil.which("unbound"):
            print("needs ldns-signzone (ldnsutils) and unbound")
            sys.exit(77)
        self.dir = os.path.join(world.dir, "dnssec")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        soa = "@ IN SOA ns admin 1 3600 600 86400 300\n@ IN NS ns\nns IN A 127.0.0.1\n"
        for zone, records in (("dane.test", dane_records), ("plain.test", plain_records)):
            with open(os.path.join(self.dir, zone), "w") as f:
                f.write(f"$ORIGIN {zone}.\n$TTL 300\n{soa}" + "".join(r + "\n" for r in records))

        def run(*args):
            return subprocess.run(args, cwd=self.dir, check=True, capture_output=True,
                                  text=True).stdout.strip()
        ksk = run("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.test")
        zsk = run("ldns-keygen", "-a", "ECDSAP256SHA256", "dane.test")
        run("ldns-signzone", "-o", "dane.test", "dane.test", zsk, ksk)
        shutil.copy(os.path.join(self.dir, ksk + ".key"), os.path.join(self.dir, "anchors"))
        signed = os.path.join(self.dir, "dane.test.signed")
        lines = []
        for line in open(signed).read().splitlines():
            fields = line.split()
            if len(fields) > 8 and fields[3] == "RRSIG" and fields[0].rstrip(".") in corrupt:
                signature = fields[-1]
                fields[-1] = ("A" if signature[0] != "A" else "B") + signature[1:]
                line = "\t".join(fields)
            lines.append(line)
        with open(signed, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.port = free_udp_port()
        self.log = os.path.join(self.dir, "unbound.log")
        zones = "".join(f"auth-zone:\n  name: \"{name}\"\n  zonefile: \"{self.dir}/{file}\"\n"
                        "  for-downstream: no\n  for-upstream: yes\n  fallback-enabled: no\n"
                        for name, file in (("dane.test", "dane.test.signed"),
                                           ("plain.test", "plain.test")))
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write(f"""server:
  interface: 127.0.0.1
  port: {self.port}
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{self.dir}"
  pidfile: ""
  use-syslog: no
  logfile: "{self.log}"
  verbosity: 1
  val-log-level: 2
  module-config: "validator iterator"
  trust-anchor-file: "{self.dir}/anchors"
  local-zone: "test." nodefault
  access-control: 127.0.0.0/8 allow
  qname-minimisation: no
  do-not-query-localhost: no
{zones}""")
        self.process = subprocess.Popen(["unbound", "-c", conf], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        world.cleanups.append(self.stop)
        wait_for(lambda: "start of service" in self.log_text() or self.process.poll() is not None,
                 10, "unbound")
        assert self.process.poll() is None, self.log_text()

    def log_text(self):
        return open(self.log).read() if os.path.exists(self.log) else ""

    def settings(self, **more):
        return {"dns_servers": f"127.0.0.1:{self.port}", "dns_timeout": "2s", "dns_tries": "1",
                "smtp_dns_support_level": "dnssec", "smtp_tls_security_level": "dane",
                "inet_protocols": "ipv4", **more}

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)


def zone_for(port):
    """The test zones: one mail domain per case, each with its MX host at 127.0.0.1."""
    p = pki()
    server_key = spki_sha256(f"{p}/dane.pem")
    other_key = spki_sha256(f"{p}/good.pem")
    ca = cert_sha256(f"{p}/ca.pem")
    tlsa = f"_{port}._tcp"
    dane = []

    def domain(name, *records):
        dane.extend([f"{name} IN MX 10 mx-{name}", f"mx-{name} IN A 127.0.0.1", *records])
    domain("ee", f"{tlsa}.mx-ee IN TLSA 3 1 1 {server_key}")
    domain("ta", f"{tlsa}.mx-ta IN TLSA 2 0 1 {ca}")
    domain("wrongname", f"{tlsa}.mx-wrongname IN TLSA 2 0 1 {ca}")
    domain("nomatch", f"{tlsa}.mx-nomatch IN TLSA 3 1 1 {'00' * 32}")
    domain("unusable", f"{tlsa}.mx-unusable IN TLSA 1 1 1 {server_key}",
           f"{tlsa}.mx-unusable IN TLSA 0 0 1 {ca}")
    domain("notlsa")
    domain("bogustlsa", f"{tlsa}.mx-bogustlsa IN TLSA 3 1 1 {server_key}")
    domain("bogusmx")
    # The certificate names cname-target, not mx-cname: DANE-TA checks the expanded name too.
    dane += ["cname IN MX 10 mx-cname", "mx-cname IN CNAME cname-target",
             "cname-target IN A 127.0.0.1", f"{tlsa}.cname-target IN TLSA 2 0 1 {ca}"]
    # A key rotation in progress: the old key's record first, the new key's second.
    dane += ["rotate IN MX 10 mx-rotate", "mx-rotate IN A 127.0.0.1",
             f"{tlsa}.mx-rotate IN TLSA 3 1 1 {other_key}",
             f"{tlsa}.mx-rotate IN TLSA 3 1 1 {server_key}"]
    plain = ["@ IN MX 10 mx", "mx IN A 127.0.0.1", f"{tlsa}.mx IN TLSA 3 1 1 {server_key}",
             # An insecure MX RRset naming a host of the signed zone, with TLSA records there.
             "insecure-mx IN MX 10 mx-ee.dane.test."]
    corrupt = [f"{tlsa}.mx-bogustlsa.dane.test", "bogusmx.dane.test"]
    return dane, plain, corrupt


def start(w, policies=(), **more):
    """Postfix smtpd with the DANE certificate (and the CA in its chain), the signed zones for its
    port, and ringrelay at dane; `policies`: smtp_tls_policy_maps entries (domain, policy), keyed
    by the domain with the server's port as the next hop is."""
    p = pki()
    smtpd = tls_smtpd(w, cert="dane", smtpd_tls_cert_file=f"{p}/dane-chain.pem")
    dane, plain, corrupt = zone_for(smtpd.port)
    dns = SignedDns(w, dane, plain, corrupt)
    table = os.path.join(w.dir, "tls_policy")
    with open(table, "w") as f:
        f.write("".join(f"{hop}:{smtpd.port} {policy}\n" for hop, policy in policies))
    w.serve(**dns.settings(smtp_tls_policy_maps=f"texthash:{table}", shards=1, **more))
    return smtpd, dns


def deliver_all(w, port, domains):
    """One message per mail domain (`name.dane.test:PORT`), one recipient each; their results."""
    results = {}
    for name in domains:
        code, lines, err = w.submit("-f", "s@example.org", "-r", f"user@{name}", "--nexthop",
                                    f"{name}:{port}", w.message())
        one_result_per_recipient(lines, [(lines[0]["id"] if lines else None, f"user@{name}")])
        results[name] = lines[0]
    return results


def scenario_dane_verified_and_fallbacks(ringrelay):
    """DANE-EE 3 1 1 and DANE-TA 2 0 1 (the test CA) verify the server, also behind a CNAME and
    while a key rotation publishes two records; usage 0/1 records only are unusable: TLS is
    required, not authenticated (encrypt); no TLSA records, or an unsigned zone: opportunistic
    TLS (may); an insecure MX RRset naming a host with TLSA records: DANE, logged "Trusted". The
    result's tls object says which policy applied and why. No connection cache:
    each case is its own handshake."""
    with World(ringrelay) as w:
        smtpd, _ = start(w, smtp_tls_loglevel="2", smtp_connection_cache_on_demand="no")
        domains = ["ee.dane.test", "ta.dane.test", "cname.dane.test", "rotate.dane.test",
                   "unusable.dane.test", "notlsa.dane.test", "plain.test", "insecure-mx.plain.test"]
        r = deliver_all(w, smtpd.port, domains)
        for name in domains:
            assert r[name]["status"] == "sent", (name, r[name])
        for name in ("ee.dane.test", "ta.dane.test", "cname.dane.test", "rotate.dane.test"):
            tls = r[name]["tls"]
            assert tls["verification"] == "Verified" and tls["authentication"] == "dane", (name, tls)
            assert tls["level"] == "dane" and tls["policy"] == "dane", (name, tls)
            assert "downgrade" not in tls, (name, tls)
        # smtp_tls_dane_insecure_mx_policy = dane: the host's records count, but the MX host name
        # could have been forged, so the server is "Trusted", not "Verified".
        tls = r["insecure-mx.plain.test"]["tls"]
        assert tls["verification"] == "Trusted" and tls["authentication"] == "dane", tls
        tls = r["unusable.dane.test"]["tls"]
        assert tls["level"] == "encrypt" and tls["authentication"] == "none", tls
        assert tls["downgrade"] == "TLSA records unusable", tls
        # plain.test: its MX RRset is insecure, but smtp_tls_dane_insecure_mx_policy = dane goes on
        # to the host, whose addresses are insecure: no TLSA lookup, so "no TLSA records found".
        for name, why in (("notlsa.dane.test", "no TLSA records found"),
                          ("plain.test", "no TLSA records found")):
            tls = r[name]["tls"]
            assert tls["level"] == "may" and tls["downgrade"] == why, (name, tls)
            assert tls["protocol"].startswith("TLSv1"), (name, tls)  # smtpd offers STARTTLS
        log = "\n".join(w.log_lines())
        assert (f"Verified TLS connection established to mx-ee.dane.test[127.0.0.1]:{smtpd.port}"
                in log), log
        assert "(DANE)" in log and "matched DANE-EE 3 1 1" in log, log
        assert "matched DANE-TA 2 0 1" in log and "name cname-target.dane.test" in log, log


def scenario_dane_failures_defer(ringrelay):
    """Never a silent downgrade: a DANE-TA match whose certificate does not name the MX host, TLSA
    records that match nothing, a TLSA RRset with a bad signature (SERVFAIL), a bogus MX RRset,
    and, at dane-only, an unsigned destination and one without TLSA records: each is deferred
    with 4.7.5 (4.4.3 for the MX lookup) and Postfix's words. All MX hosts are one server: the
    connection verified first for ee.dane.test stays cached, and must not carry the others'
    mail — each is judged by its own MX host's TLSA records."""
    with World(ringrelay) as w:
        smtpd, _ = start(w, policies=[("plain.test", "dane-only"),
                                      ("notlsa.dane.test", "dane-only")])
        domains = ["wrongname.dane.test", "nomatch.dane.test", "bogustlsa.dane.test",
                   "bogusmx.dane.test", "plain.test", "notlsa.dane.test"]
        r = deliver_all(w, smtpd.port, ["ee.dane.test"] + domains)
        assert r["ee.dane.test"]["status"] == "sent", r["ee.dane.test"]
        for name in domains:
            assert r[name]["status"] == "deferred", (name, r[name])
        port = smtpd.port
        expect = {
            "wrongname.dane.test": ("4.7.5", "Server certificate not verified"),
            "nomatch.dane.test": ("4.7.5", "Server certificate not verified"),
            "bogustlsa.dane.test": ("4.7.5",
                                    f"TLSA lookup error for mx-bogustlsa.dane.test:{port}"),
            "bogusmx.dane.test": ("4.4.3", "Host or domain name not found"),
            "plain.test": ("4.7.5", "non DNSSEC destination"),
            "notlsa.dane.test": ("4.7.5", "no TLSA records found"),
        }
        for name, (dsn, words) in expect.items():
            assert r[name]["dsn"] == dsn and words in r[name]["text"], (name, r[name])
        log = "\n".join(w.log_lines())
        assert "DANE: no TLSA record matches" in log, log
        assert "certificate names (mx-ta.dane.test" in log, log
        assert smtpd.log_text().count("message-id=") == 1, smtpd.log_text()  # ee.dane.test's
