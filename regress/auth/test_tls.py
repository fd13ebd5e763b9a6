"""AuthOptions p (spec 8): before STARTTLS the plaintext mechanisms are
not offered and AUTH PLAIN/LOGIN get 504 without smtpd-auth ever being
asked (no user lookup, no oracle); after STARTTLS they are offered and
work, the message says ESMTPSA, and relaying follows the trusted list."""
from lib import free_port
from lib.certs import TestCA, client_context, starttls, wait_tls_ready
from lib.daemon import Relay
from lib.sasl import (RawFrom, SaslDB, auth_keywords, plain,
                      wait_auth_ready)
from lib.sink import Sink

USER, PASSWORD = "carol", "tls-only-pw"


def _tls_auth_relay(sink):
    ca = TestCA()
    srv = ca.issue("relay.test")
    db = SaslDB({USER: PASSWORD})
    port = free_port()
    extra = ['pki %s cert "%s" key "%s"' % (srv.name, srv.chain, srv.key),
             'ca file "%s"' % ca.cert,
             "listen on 127.0.0.1 port %d tls auth-optional" % port,
             'auth sasldb "%s"' % db.path,
             'auth options "p,y"',
             'auth mechanisms "CRAM-MD5 PLAIN LOGIN"',
             'auth trust "PLAIN"']
    relay = Relay(sink=sink, extra=extra)
    wait_tls_ready(relay)
    wait_auth_ready(port)
    return ca, relay, port


def _exchanges(relay):
    return int(relay.stats().get("auth.exchange", "0"))


def test_plaintext_mechanisms_only_after_starttls():
    with Sink() as sink:
        ca, relay, port = _tls_auth_relay(sink)
        with relay:
            before = _exchanges(relay)
            with RawFrom(port) as raw:
                assert auth_keywords(raw.ehlo()) == ["CRAM-MD5"]
                for mech in ("PLAIN " + plain(USER, PASSWORD), "LOGIN"):
                    code, texts = raw.cmd("AUTH " + mech)
                    assert (code, texts[0]) == (504, "5.5.4 Unrecognized "
                                                "authentication type"), texts
                assert _exchanges(relay) == before
                starttls(raw, client_context(ca))
                assert auth_keywords(raw.ehlo()) == ["CRAM-MD5", "PLAIN",
                                                  "LOGIN"]
                code, texts = raw.cmd("AUTH PLAIN " + plain(USER, PASSWORD))
                assert code == 235, texts
                assert _exchanges(relay) == before + 1
                assert raw.cmd("MAIL FROM:<carol@client.test>")[0] == 250
                assert raw.cmd("RCPT TO:<dan@dest.test>")[0] == 250
                assert raw.cmd("DATA")[0] == 354
                assert raw.cmd("Subject: t\r\n\r\nhi\r\n.")[0] == 250
            [m] = sink.wait_for(1)
            assert b"(authenticated bits=0)\r\n\tby relay.test (smtpd) " \
                b"with ESMTPSA id " in m.data, m.data[:500]
