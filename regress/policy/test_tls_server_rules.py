"""The server-side TLS rulesets against real TLS clients (spec 3, 4.2, 5):
TLS_Clt requirements with and without client certificates (a nullserver
after a failed check, the check again at MAIL), Srv_Features turning off
STARTTLS and PIPELINING, asking or not for a client certificate and
making a session a temporary failure, and CERTISSUER/CERTSUBJECT relay
rights for a test CA whose DN has spaces and parentheses, judged from
an untrusted source address (127.0.0.2)."""
import re

from lib import clients, free_port
from lib.certs import (TestCA, client_context, relay_tls_extra,
                       starttls, wait_tls_ready)
from lib.daemon import Relay
from lib.sink import Sink

VERIFY = re.compile(r"verify=(\w+)\)")


def _encode(value):
    """Spec 5.2: the +XX encoding of a certificate macro."""
    out = []
    for b in value.encode():
        if b < 0x21 or b > 0x7e or chr(b) in '+\\()<>"':
            out.append("+%02X" % b)
        else:
            out.append(chr(b))
    return "".join(out)


class _Setup:
    def __init__(self, access, options="tls verify", ca=None):
        self.ca = ca or TestCA()
        self.srv = self.ca.issue("relay.test")
        self.port = free_port()
        self.sink = Sink().__enter__()
        self.relay = Relay(sink=self.sink, start=False, extra=relay_tls_extra(
            self.ca, self.srv, self.port, options))
        rc, out = self.relay.makemap("access", access)
        assert rc == 0, out
        self.relay.start()
        wait_tls_ready(self.relay)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.relay.stop()
        self.sink.close()

    def session(self, cert=None, source=None, tls=True):
        raw = clients.Raw(self.port, source=source)
        raw.ehlo()
        if tls:
            starttls(raw, client_context(self.ca, cert))
        return raw


def test_tls_clt_verify_with_and_without_certificate():
    with _Setup("TLS_Clt:[127.0.0.1] VERIFY\n") as t:
        cli = t.ca.issue("client.test", client=True)
        with t.session(cli) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
        mark = t.relay.mark()
        with t.session() as raw:
            ext = raw.ehlo()
            assert ext == ["ENHANCEDSTATUSCODES"], ext
            for cmd in ("MAIL FROM:<a@client.test>", "RCPT TO:<b@x.test>",
                        "DATA"):
                assert raw.cmd(cmd) == (403, ["4.7.0 not authenticated"])
            assert raw.cmd("NOOP")[0] == 250
            assert raw.cmd("RSET")[0] == 250
            t.relay.wait_for_log(r"ruleset=tls_client, arg1=NO, "
                                 r"arg2=STARTTLS, relay=.*reject=403 "
                                 r"4\.7\.0 not authenticated", start=mark)
        other = TestCA("Other CA").issue("stranger.test", client=True)
        with t.session(other) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@client.test>") == (
                403, ["4.7.0 authentication failed"])


def test_tls_clt_at_mail_without_starttls():
    with _Setup("TLS_Clt:[127.0.0.1] PERM+VERIFY\n") as t:
        with t.session(tls=False) as raw:
            assert raw.cmd("MAIL FROM:<>") == (
                503, ["5.7.0 authentication required"])
        with clients.Raw(t.relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 503


def test_tls_clt_encryption_too_weak_and_not_requested():
    with _Setup("TLS_Clt: ENCR:1024\n", options="tls") as t:
        with t.session() as raw:
            raw.ehlo()
            code, texts = raw.cmd("MAIL FROM:<a@client.test>")
            assert code == 403 and re.fullmatch(
                r"4\.7\.0 encryption too weak \d+ less than 1024",
                texts[0]), (code, texts)
    with _Setup("TLS_Clt:127.0.0.1 VERIFY\n", options="tls") as t:
        with t.session() as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@client.test>") == (
                403, ["4.7.0 no authentication requested"])


def _received_verify(sink, rcpt):
    [m] = sink.messages_to(rcpt)
    return VERIFY.search(m.header("Received")).group(1)


def _deliver(raw, rcpt):
    raw.ehlo()
    assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
    assert raw.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    assert raw.cmd("DATA")[0] == 354
    assert raw.cmd("Subject: t\r\n\r\nbody\r\n.")[0] == 250


def test_srv_features_starttls_pipelining_and_cert_request():
    with _Setup("Srv_Features:[127.0.0.2] S P\n"
                "Srv_Features:127.0.0.3 V\nSrv_Features: v\n"
                "Connect:127.0.0.3 RELAY\n",
                options="tls") as t:
        with clients.Raw(t.port, source="127.0.0.2") as raw:
            ext = [e.upper() for e in raw.ehlo()]
            assert "STARTTLS" not in ext and "PIPELINING" not in ext, ext
            assert "SIZE" in " ".join(ext), ext
            assert raw.cmd("STARTTLS") == (503, ["5.5.0 TLS not available"])
        cli = t.ca.issue("client.test", client=True)
        with t.session(cli, source="127.0.0.3") as raw:
            _deliver(raw, "not-asked@dest.test")
        with t.session(cli) as raw:
            ext = [e.upper() for e in raw.ehlo()]
            assert "PIPELINING" in ext, ext
            _deliver(raw, "asked@dest.test")
        t.sink.wait_for(2)
        assert _received_verify(t.sink, "not-asked@dest.test") == "NOT"
        assert _received_verify(t.sink, "asked@dest.test") == "OK"


def test_srv_features_temp_defers_the_session():
    with _Setup("Srv_Features:127.0.0.1 tempfail\n", options="tls") as t:
        with clients.Raw(t.port) as raw:
            assert raw.greeting[0] == 220
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@client.test>") == (
                450, ["4.3.0 Please try again later."])
            assert raw.cmd("QUIT")[0] == 221


def test_certissuer_subject_chain_grants_relaying():
    ca_dn = "/C=US/O=Darth Mail (Cert)/CN=Regress CA <test>"
    ca = TestCA(subject=ca_dn)
    good_dn = "/C=US/O=endmail.org/CN=DeathStar"
    access = ("CERTISSUER:%s SUBJECT\nCERTSUBJECT:%s RELAY\n"
              % (_encode(ca_dn), _encode(good_dn)))
    with _Setup(access, options="tls verify", ca=ca) as t:
        good = ca.issue("deathstar", client=True, subject=good_dn)
        other = ca.issue("xwing", client=True,
                         subject="/C=US/O=rebels/CN=X Wing")
        with t.session(good, source="127.0.0.2") as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<far@remote.test>")[0] == 250
        with t.session(other, source="127.0.0.2") as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<far@remote.test>") == (
                550, ["5.7.1 <far@remote.test>... Relaying denied"])
        with t.session(source="127.0.0.2") as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<far@remote.test>")[0] == 550


def test_certissuer_long_dn_survives_encoding():
    """A DN whose +XX form is far longer than 256 octets still matches:
    the facts travel whole from tlsproxy to policyd."""
    ca_dn = "".join("/OU=Unit (%d) of the Long Name Group" % i
                    for i in range(5)) + "/CN=Wide CA"
    assert len(ca_dn) < 256
    ca = TestCA(subject=ca_dn)
    assert len(_encode(ca_dn)) > 256
    with _Setup("CERTISSUER:%s RELAY\n" % _encode(ca_dn),
                options="tls verify", ca=ca) as t:
        cli = ca.issue("client.test", client=True)
        with t.session(cli, source="127.0.0.2") as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<far@remote.test>")[0] == 250
