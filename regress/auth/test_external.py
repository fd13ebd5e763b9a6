"""SASL EXTERNAL on the server side (spec 8): after STARTTLS with a client
certificate that verified, EHLO offers EXTERNAL when "auth mechanisms"
lists it, and AUTH EXTERNAL authenticates ${cert_subject} (the TLS cipher
bits are the SSF); with "auth trust" naming EXTERNAL that grants
relaying.  Without a certificate, with one that did not verify, before
TLS, or when EXTERNAL is not listed, it is neither offered nor accepted
(504)."""
from lib import free_port
from lib.certs import TestCA, client_context, starttls, wait_tls_ready
from lib.daemon import Relay
from lib.sasl import RawFrom, SaslDB, auth_keywords, wait_auth_ready
from lib.sink import Sink


class _Setup:
    def __init__(self, sink, mechanisms="EXTERNAL PLAIN"):
        self.ca = TestCA()
        srv = self.ca.issue("relay.test")
        self.cli = self.ca.issue("client.test", client=True)
        db = SaslDB({"dave": "Ext-pw-1"})
        self.port = free_port()
        extra = ['pki %s cert "%s" key "%s"' % (srv.name, srv.chain,
                                                 srv.key),
                 'ca file "%s"' % self.ca.cert,
                 "listen on 127.0.0.1 port %d tls verify auth-optional" %
                 self.port,
                 'auth sasldb "%s"' % db.path,
                 'auth options "y"',
                 'auth mechanisms "%s"' % mechanisms,
                 'auth trust "EXTERNAL"']
        self.relay = Relay(sink=sink, extra=extra)
        wait_tls_ready(self.relay)
        wait_auth_ready(self.port)

    def session(self, cert):
        raw = RawFrom(self.port)
        raw.ehlo()
        starttls(raw, client_context(self.ca, cert))
        return raw


def _relay_to(raw, rcpt):
    assert raw.cmd("MAIL FROM:<dave@client.test>")[0] == 250
    return raw.cmd("RCPT TO:<%s>" % rcpt)


def test_external_with_a_verified_certificate_relays():
    with Sink() as sink:
        st = _Setup(sink)
        with st.relay:
            with st.session(st.cli) as raw:
                mechs = auth_keywords(raw.ehlo())
                assert mechs == ["EXTERNAL", "PLAIN"], mechs
                code, texts = raw.cmd("AUTH EXTERNAL =")
                assert code == 235, (code, texts)
                code, texts = _relay_to(raw, "far@dest.test")
                assert code == 250, (code, texts)
                assert raw.cmd("DATA")[0] == 354
                assert raw.cmd("Subject: x\r\n\r\nbody\r\n.")[0] == 250
            [m] = sink.wait_for(1)
            rec = m.header("Received")
            assert "with ESMTPSA" in rec, rec
            st.relay.wait_for_log(r"AUTH=server, relay=\[127\.0\.0\.2\], "
                                  r"authid=/O=Regress/CN=client\.test, "
                                  r"mech=EXTERNAL, bits=\d+")


def test_external_not_offered_without_verified_certificate():
    with Sink() as sink:
        st = _Setup(sink)
        other = TestCA().issue("stranger.test", client=True)
        with st.relay:
            with RawFrom(st.port) as raw:
                assert "EXTERNAL" not in (auth_keywords(raw.ehlo()) or [])
            for cert in (None, other):
                with st.session(cert) as raw:
                    mechs = auth_keywords(raw.ehlo())
                    assert mechs == ["PLAIN"], (cert, mechs)
                    code, texts = raw.cmd("AUTH EXTERNAL =")
                    assert code == 504, (code, texts)
                    code, texts = _relay_to(raw, "far@dest.test")
                    assert code == 550, (code, texts)
            assert "mech=EXTERNAL" not in st.relay.log()


def test_external_not_offered_unless_listed():
    with Sink() as sink:
        st = _Setup(sink, mechanisms="PLAIN")
        with st.relay:
            with st.session(st.cli) as raw:
                assert auth_keywords(raw.ehlo()) == ["PLAIN"]
                assert raw.cmd("AUTH EXTERNAL =")[0] == 504
