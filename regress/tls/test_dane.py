"""DANE for SMTP (RFC 7672) in the outbound client: with "mta dane yes"
the MX answers and the TLSA records of the MX hosts come from a DNSSEC-
signed tree on loopback (nsd, lib/dnssec.py) validated with its trust
anchor; the next hop is a second relay with a tls listener and a
certificate of a test CA.  A matching DANE-EE or DANE-TA record delivers
with verify=TRUSTED, a mismatch, a bogus zone and a DANE server without
STARTTLS defer (the mail stays queued, the reason in show queue), an
insecure zone goes out with opportunistic TLS, and "mta dane no" ignores
the records."""
import json
import subprocess
import time

from lib import clients, free_port, wait_until
from lib.certs import TestCA, relay_tls_extra, spki_sha256, wait_tls_ready
from lib.daemon import Relay
from lib.sink import Sink


def _zone(tlsa, addr="127.0.0.1"):
    """Zone lines: one MX host "mx" at addr with the TLSA lines given."""
    return (["@ MX 10 mx", "mx A %s" % addr] +
            ["_25._tcp.mx TLSA %s" % t for t in tlsa])


class _World:
    """The signed DNS, the DANE hop (a relay with a tls listener on the
    mta port, delivering to a sink) and the relay under test."""

    def __init__(self, zones, dane="yes", conf=None):
        from lib.dnssec import SignedDns
        self.ca = TestCA()
        self.zones = zones
        self.dane = dane
        self.conf = dict(conf or {})
        self.dns = SignedDns()
        self.stack = []

    def __enter__(self):
        try:
            self.port = free_port()
            self.cert = self.ca.issue("mx.ta.example")
            for name, (lines, kind) in self.zones(self).items():
                self.dns.zone(name, lines, signed=kind != "insecure",
                              bogus=kind == "bogus")
            self.stack.append(self.dns.__enter__())
            self.dns.start()
            self.sink = Sink().__enter__()
            self.stack.append(self.sink)
            self.hop = Relay(sink=self.sink, extra=relay_tls_extra(
                self.ca, self.cert, self.port)).__enter__()
            self.stack.append(self.hop)
            wait_tls_ready(self.hop)
            self.conf.update({"mta dane": self.dane,
                              "dnssec trust-anchor":
                                  '"%s"' % self.dns.anchor})
            self.relay = Relay(resolver_port=self.dns.port,
                               mta_port=self.port,
                               conf=self.conf).__enter__()
            self.stack.append(self.relay)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        while self.stack:
            self.stack.pop().__exit__(None, None, None)

    def spki(self):
        return spki_sha256(self.cert.cert)


def _tlsrpt_today(relay):
    rc, out = relay.smtpctl("tlsrpt", time.strftime("%Y-%m-%d",
                                                    time.gmtime()))
    assert rc == 0, out
    return json.loads(out)["policies"]


def _deferred(relay, rcpt, text):
    """Until the envelope to rcpt is queued with a last error holding
    text; returns it."""
    envs = relay.wait_queue(
        lambda es: any(e["rcpt"] == rcpt and text in e["lasterror"]
                       for e in es), timeout=30, what="a DANE deferral")
    return [e for e in envs if e["rcpt"] == rcpt][0]


def test_dane_ee_match_is_trusted():
    with _World(lambda w: {"ee.example": (_zone(["3 1 1 " + w.spki()]),
                                          "secure")}) as w:
        clients.send(w.relay.port, "alice@client.test", "bob@ee.example")
        [m] = w.sink.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["bob@ee.example"], m.rcpt_addrs
        w.relay.wait_for_log(r"STARTTLS=client, relay=mx\.ee\.example, "
                             r".*verify=TRUSTED, .*dane=DANE-EE")
        w.relay.wait_queue_empty()
        assert w.relay.stats().get("mta.dane.trusted") == "1"
        # TLS-RPT (RFC 8460): a tlsa policy of the MX host, met once,
        # kept by policyd with DANE on (and MTA-STS off)
        [pol] = _tlsrpt_today(w.relay)
        assert pol["policy"] == {
            "policy-type": "tlsa",
            "policy-string": ["3 1 1 " + w.spki()],
            "policy-domain": "ee.example",
            "mx-host": ["mx.ee.example"]}, pol
        assert pol["summary"] == {"total-successful-session-count": 1,
                                  "total-failure-session-count": 0}, pol
        wait_until(lambda: int(w.relay.stats().get("policy.tlsrpt.put",
                                                   0)) >= 1,
                   20, "the TLS-RPT record kept by policyd")
        # a new mta reads it back under its key
        old = w.relay.pid("mta")
        w.relay.kill("mta")
        w.relay.wait_restarted("mta", old)
        [back] = wait_until(lambda: _tlsrpt_today(w.relay) or None, 20,
                            "the record read back")
        assert back == pol, (back, pol)


def _cert_der_hex(pem):
    """The whole certificate in DER, hex: the data of a TLSA x 0 0."""
    der = subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER"],
                         check=True, stdout=subprocess.PIPE).stdout
    return der.hex()


def test_dane_ee_whole_certificate_is_trusted():
    """A record holding the whole certificate (matching type 0, longer
    than what rides in the hop) is checked by its SHA-512 digest."""
    with _World(lambda w: {"full.example": (_zone(
            ["3 0 0 " + _cert_der_hex(w.cert.cert)]), "secure")}) as w:
        clients.send(w.relay.port, "alice@client.test", "bob@full.example")
        [m] = w.sink.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["bob@full.example"], m.rcpt_addrs
        w.relay.wait_for_log(r"STARTTLS=client, relay=mx\.full\.example, "
                             r".*verify=TRUSTED, .*dane=DANE-EE")


def test_dane_follows_a_secure_cname():
    """RFC 7672 2.2.2: an MX host that is an alias has its TLSA records
    at the name it expands to; they are used (and those at the alias
    itself, which would not match, are not)."""
    with _World(lambda w: {"cn.example": ([
            "@ MX 10 mx", "mx CNAME real", "real A 127.0.0.1",
            "_25._tcp.mx TLSA 3 1 1 " + "00" * 32,
            "_25._tcp.real TLSA 3 1 1 " + w.spki()], "secure")}) as w:
        clients.send(w.relay.port, "alice@client.test", "bob@cn.example")
        [m] = w.sink.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["bob@cn.example"], m.rcpt_addrs
        w.relay.wait_for_log(r"STARTTLS=client, relay=mx\.cn\.example, "
                             r".*verify=TRUSTED, .*dane=DANE-EE")


def test_dane_ee_mismatch_defers():
    with _World(lambda w: {"bad.example": (_zone(["3 1 1 " + "00" * 32]),
                                           "secure")}) as w:
        clients.send(w.relay.port, "alice@client.test", "bob@bad.example")
        e = _deferred(w.relay, "bob@bad.example", "DANE")
        assert "mx.bad.example" in e["lasterror"], e
        assert "DANE_FAIL" in e["lasterror"], e
        w.relay.wait_for_log(r"verify=DANE_FAIL, .*dane=fail")
        assert w.sink.messages == []
        assert int(w.relay.stats().get("mta.dane.fail", "0")) >= 1
        [pol] = _tlsrpt_today(w.relay)
        assert pol["policy"]["policy-type"] == "tlsa", pol
        assert pol["summary"]["total-failure-session-count"] >= 1, pol
        [d] = pol["failure-details"]
        assert d["result-type"] == "validation-failure", d
        assert d["receiving-mx-hostname"] == "mx.bad.example", d
        assert d["receiving-ip"] == "127.0.0.1", d


def test_dane_tls_required_no_header_goes_opportunistic():
    """RFC 8689 5: with "TLS-Required: No" a TLSA mismatch does not hold
    the message: DANE is not applied, TLS still is."""
    with _World(lambda w: {"bad.example": (_zone(["3 1 1 " + "00" * 32]),
                                           "secure")}) as w:
        msg = ("From: <alice@client.test>\r\nTo: <bob@bad.example>\r\n"
               "Subject: optional\r\nTLS-Required: No\r\n\r\nbody\r\n")
        clients.send(w.relay.port, "alice@client.test", "bob@bad.example",
                     msg=msg)
        [m] = w.sink.wait_for(1, timeout=30)
        assert b"with ESMTPS" in m.data, m.data[:600]
        assert int(w.relay.stats().get("mta.dane.fail", "0")) == 0


def test_dane_ta_with_chain_is_trusted():
    # the hop's certificate is for mx.ta.example and its chain file
    # carries the test CA, whose key the 2 1 1 record names
    with _World(lambda w: {"ta.example": (
            _zone(["2 1 1 " + spki_sha256(w.ca.cert)]), "secure")}) as w:
        clients.send(w.relay.port, "alice@client.test", "bob@ta.example")
        w.sink.wait_for(1, timeout=30)
        w.relay.wait_for_log(r"STARTTLS=client, relay=mx\.ta\.example, "
                             r".*verify=TRUSTED, .*dane=DANE-TA")


def test_dane_ta_name_mismatch_defers():
    # the same CA, but the leaf does not name the MX host mx.tb.example
    with _World(lambda w: {"tb.example": (
            _zone(["2 1 1 " + spki_sha256(w.ca.cert)]), "secure")}) as w:
        clients.send(w.relay.port, "alice@client.test", "bob@tb.example")
        _deferred(w.relay, "bob@tb.example", "DANE_FAIL")
        assert w.sink.messages == []


def test_dane_bogus_zone_defers_without_connecting():
    with _World(lambda w: {"bogus.example": (_zone(["3 1 1 " + w.spki()]),
                                             "bogus")}) as w:
        clients.send(w.relay.port, "alice@client.test",
                     "bob@bogus.example")
        _deferred(w.relay, "bob@bogus.example", "DNS")
        w.relay.wait_for_log(r"DNSSEC validation failed")
        # no cleartext (nor any) attempt at the hop
        assert w.sink.messages == []
        assert "STARTTLS=server" not in w.hop.log()
        assert "relay=mx.bogus.example" not in w.relay.log()


def test_dane_bogus_mx_host_defers():
    # a secure MX whose host is in a bogus zone: never tried
    with _World(lambda w: {
            "mxb.example": (["@ MX 10 mx.bogus.example."], "secure"),
            "bogus.example": (_zone(["3 1 1 " + w.spki()]), "bogus")}) as w:
        clients.send(w.relay.port, "alice@client.test", "bob@mxb.example")
        _deferred(w.relay, "bob@mxb.example", "mx.bogus.example")
        assert w.sink.messages == []
        assert "STARTTLS=server" not in w.hop.log()


def test_dane_insecure_zone_is_opportunistic():
    # the TLSA record would not match, but the zone is unsigned
    with _World(lambda w: {"plain.example": (
            _zone(["3 1 1 " + "00" * 32]), "insecure")}) as w:
        clients.send(w.relay.port, "alice@client.test",
                     "bob@plain.example")
        w.sink.wait_for(1, timeout=30)
        line = w.relay.wait_for_log(
            r"STARTTLS=client, relay=mx\.plain\.example, [^\n]*")
        assert "TRUSTED" not in line.group(0), line.group(0)
        assert "dane=" not in line.group(0), line.group(0)


def test_dane_unusable_records_want_tls_not_authentication():
    """Secure TLSA records that are all unusable (PKIX-EE): STARTTLS is
    mandatory, the certificate is not checked (RFC 7672 2.2); a server
    without STARTTLS is deferred."""
    with _World(lambda w: {"unus.example": (
            _zone(["1 1 1 " + "cd" * 32]), "secure")}) as w:
        clients.send(w.relay.port, "alice@client.test", "bob@unus.example")
        [m] = w.sink.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["bob@unus.example"], m.rcpt_addrs
        line = w.relay.wait_for_log(
            r"STARTTLS=client, relay=mx\.unus\.example, [^\n]*")
        assert "TRUSTED" not in line.group(0), line.group(0)
        w.relay.wait_for_log(r"mx\.unus\.example has no usable TLSA "
                             r"record, TLS without authentication")
    with _World(lambda w: {"unus2.example": (
            _zone(["1 1 1 " + "cd" * 32], addr="127.0.0.2"),
            "secure")}) as w, Sink(addr="127.0.0.2", port=w.port) as plain:
        clients.send(w.relay.port, "alice@client.test",
                     "bob@unus2.example")
        e = _deferred(w.relay, "bob@unus2.example", "DANE_NOTLS")
        assert "STARTTLS not offered" in e["lasterror"], e
        assert plain.messages == []


def test_dane_no_starttls_defers():
    # the DANE host is a sink on 127.0.0.2 without STARTTLS
    with _World(lambda w: {"notls.example": (
            _zone(["3 1 1 " + w.spki()], addr="127.0.0.2"),
            "secure")}) as w, Sink(addr="127.0.0.2", port=w.port) as plain:
        clients.send(w.relay.port, "alice@client.test",
                     "bob@notls.example")
        e = _deferred(w.relay, "bob@notls.example", "DANE_NOTLS")
        assert "STARTTLS not offered" in e["lasterror"], e
        assert plain.messages == []
        assert "MAIL" not in " ".join(str(c) for _, c in plain.commands)


def test_dane_off_ignores_tlsa():
    with _World(lambda w: {"off.example": (_zone(["3 1 1 " + "00" * 32]),
                                           "secure")}, dane="no") as w:
        clients.send(w.relay.port, "alice@client.test", "bob@off.example")
        w.sink.wait_for(1, timeout=30)
        line = w.relay.wait_for_log(
            r"STARTTLS=client, relay=mx\.off\.example, [^\n]*")
        assert "dane=" not in line.group(0), line.group(0)


def test_dane_clt_features_d_turns_it_off():
    # the record does not match, but the access map says D for the
    # domain of the MX host (D !Clt_Features on the name)
    with _World(lambda w: {"cf.example": (_zone(["3 1 1 " + "00" * 32]),
                                          "secure")}) as w:
        rc, out = w.relay.makemap("access", "Clt_Features:cf.example D\n")
        assert rc == 0, out
        clients.send(w.relay.port, "alice@client.test", "bob@cf.example")
        w.sink.wait_for(1, timeout=30)
        w.relay.wait_for_log(r"mx\.cf\.example .*DANE not applied: "
                             r"Clt_Features D")
        line = w.relay.wait_for_log(
            r"STARTTLS=client, relay=mx\.cf\.example, [^\n]*")
        assert "dane=" not in line.group(0), line.group(0)


def test_explain_tls_srv_shows_records_and_verdict():
    import os
    from lib import BIN, test_dir
    from lib.dnssec import SignedDns
    with SignedDns() as dns:
        dns.zone("ee.example", _zone(["3 1 1 " + "ab" * 32,
                                      "1 1 1 " + "cd" * 32]))
        dns.zone("bogus.example", _zone(["3 1 1 " + "ab" * 32]),
                 bogus=True)
        dns.zone("plain.example", _zone(["3 1 1 " + "ab" * 32]),
                 signed=False)
        dns.start()
        conf = os.path.join(test_dir("explain-dane"), "smtpd.conf")
        with open(conf, "w") as f:
            f.write('hostname "relay.test"\nmta dane yes\n'
                    'resolver 127.0.0.1 port %d\n'
                    'dnssec trust-anchor "%s"\n' % (dns.port, dns.anchor))

        def explain(domain):
            r = subprocess.run([os.path.join(BIN, "smtpctl"), "-f", conf,
                                "explain", "tls-srv", domain],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            return r.returncode, r.stdout.decode() + r.stderr.decode()

        rc, out = explain("ee.example")
        assert rc == 0, out
        assert "ee.example MX: found, secure" in out, out
        assert "_25._tcp.mx.ee.example: records, secure" in out, out
        assert "3 1 1 " + "ab" * 32 + ": DANE-EE, usable" in out, out
        assert "1 1 1 " + "cd" * 32 + ": PKIX-EE, unusable" in out, out
        assert ("mx.ee.example: verdict: DANE required: STARTTLS, and "
                "the certificate must match one of 1 usable") in out, out
        rc, out = explain("bogus.example")
        assert rc == 1 and "bogus" in out, out
        assert "verdict: deferred" in out, out
        rc, out = explain("plain.example")
        assert rc == 0, out
        assert ("mx.plain.example: verdict: no DANE (MX answer not "
                "secure), opportunistic TLS") in out, out


def test_dane_wins_over_mta_sts_enforce():
    # an enforce policy that names another MX: the DANE host is used all
    # the same (RFC 8461 2), authenticated by its TLSA record
    import random
    from lib.mtasts import PolicyServer
    web_addr = "127.0.3.%d" % random.randint(10, 250)
    w = _World(lambda w: {"both.example": (_zone(["3 1 1 " + w.spki()]) + [
        '_mta-sts TXT "v=STSv1; id=20261207a"',
        "mta-sts A %s" % web_addr], "secure")},
        conf={"mta mta-sts": "yes"})
    w.conf["ca file"] = '"%s"' % w.ca.cert
    policy = ("version: STSv1\r\nmode: enforce\r\nmx: mx9.other.example"
              "\r\nmax_age: 86400\r\n")
    with PolicyServer(w.ca, "both.example", web_addr, policy) as web, w:
        clients.send(w.relay.port, "alice@client.test", "bob@both.example")
        w.sink.wait_for(1, timeout=40)
        w.relay.wait_for_log(r"STARTTLS=client, relay=mx\.both\.example, "
                             r".*verify=TRUSTED, .*dane=DANE-EE")
        assert web.fetches == 1
        assert "does not match the policy" not in w.relay.log()
