"""REQUIRETLS (RFC 8689): offered only after STARTTLS and taken only
there; a message that asked for it goes only over TLS whose certificate
verified, to a server that offers REQUIRETLS (MAIL then carries it), and
is otherwise returned with 5.7.30, headers only.  The next hop with TLS
is a second relay, which enforces it again on its own way out."""
from lib import clients, free_port
from lib.certs import (TestCA, client_context, relay_tls_extra,
                       starttls, wait_tls_ready)
from lib.daemon import Relay
from lib.dns import Dns
from lib.sink import Sink

SECRET = "the body that wanted TLS all the way"


def _send(port, ca, requiretls=True, sender="alice@client.test",
          rcpt="far@dest.test"):
    """One message over STARTTLS to port; the 250 after the dot."""
    with clients.Raw(port) as raw:
        raw.ehlo()
        starttls(raw, client_context(ca))
        assert "REQUIRETLS" in raw.ehlo()
        code, texts = raw.cmd("MAIL FROM:<%s>%s" % (
            sender, " REQUIRETLS" if requiretls else ""))
        assert code == 250, (code, texts)
        code, texts = raw.cmd("RCPT TO:<%s>" % rcpt)
        assert code == 250, (code, texts)
        code, _ = raw.cmd("DATA")
        assert code == 354, code
        code, texts = raw.cmd("Subject: rt\r\n\r\n%s\r\n." % SECRET)
        assert code == 250, (code, texts)
        raw.cmd("QUIT")


def _bounce_text(m):
    return m.data.decode("utf-8", "replace")


def test_requiretls_offered_only_under_tls():
    ca = TestCA()
    cert = ca.issue("relay.test")
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=relay_tls_extra(
            ca, cert, port)) as relay:
        wait_tls_ready(relay)
        with clients.Raw(port) as raw:
            assert "REQUIRETLS" not in raw.ehlo()
            code, texts = raw.cmd("MAIL FROM:<a@client.test> REQUIRETLS")
            assert code == 530 and texts[0].startswith("5.7.10"), \
                (code, texts)
            starttls(raw, client_context(ca))
            assert "REQUIRETLS" in raw.ehlo()
            code, texts = raw.cmd("MAIL FROM:<a@client.test> REQUIRETLS=1")
            assert code == 555, (code, texts)
            code, texts = raw.cmd("MAIL FROM:<a@client.test> REQUIRETLS")
            assert code == 250, (code, texts)


DOMAIN = "rt.example.net"
MX = "mx1.rt.example.net"
MX_ADDR = "127.0.0.2"


def _mx_route(ca, hop_cert, sink, hop_port):
    """The MX of DOMAIN (dnsmasq) is a second relay with a tls listener
    on MX_ADDR and hop_cert, on to the sink."""
    dns = Dns(mx=[(DOMAIN, MX, 10)], hosts=[(MX, MX_ADDR)])
    hop = Relay(sink=sink, extra=[
        'pki %s cert "%s" key "%s"' % (hop_cert.name, hop_cert.chain,
                                       hop_cert.key),
        'ca file "%s"' % ca.cert,
        "listen on %s port %d tls" % (MX_ADDR, hop_port)])
    return dns, hop


def _first(dns, ca, hop_port, bounces, in_port):
    """The first relay: STARTTLS on in_port, the CA trusted, bounces for
    client.test to the bounces sink."""
    return Relay(resolver_port=dns.port, mta_port=hop_port,
                 routes=[("client.test", "[127.0.0.1]", bounces.port)],
                 extra=relay_tls_extra(ca, ca.issue("relay.test"), in_port))


def test_requiretls_over_verified_tls_to_a_requiretls_server():
    """The MX's certificate verifies for its name: MAIL carries
    REQUIRETLS; the MX, whose next hop (the sink) has no TLS, returns it
    with 5.7.30 and headers only."""
    ca = TestCA()
    hop_port, in_port = free_port(("127.0.0.1", MX_ADDR)), free_port()
    with Sink() as sink, Sink() as bounces:
        dns, hop = _mx_route(ca, ca.issue(MX), sink, hop_port)
        with dns, hop, _first(dns, ca, hop_port, bounces, in_port) as first:
            wait_tls_ready(hop)
            wait_tls_ready(first)
            _send(in_port, ca, rcpt="bob@" + DOMAIN)
            first.wait_for_log(r"stat=Sent")
            hop.wait_for_log(r"REQUIRETLS message \S+ not sent here: "
                             r"no TLS with")
            [b] = sink.wait_for(1, pred=lambda m: m.mail_from == "")
            text = _bounce_text(b)
            assert "5.7.30" in text and "REQUIRETLS support required" \
                in text, text
            assert "Subject: rt" in text, text
            assert SECRET not in text, text
            hop.wait_queue_empty()
            first.wait_queue_empty()
            assert not bounces.messages, bounces.messages


def test_requiretls_refused_for_a_certificate_of_another_name():
    """The MX's certificate is of the CA but names another host: not
    sent, returned by the first relay."""
    ca = TestCA()
    hop_port, in_port = free_port(("127.0.0.1", MX_ADDR)), free_port()
    with Sink() as sink, Sink() as bounces:
        dns, hop = _mx_route(ca, ca.issue("other.example.net"), sink,
                             hop_port)
        with dns, hop, _first(dns, ca, hop_port, bounces, in_port) as first:
            wait_tls_ready(hop)
            wait_tls_ready(first)
            _send(in_port, ca, rcpt="bob@" + DOMAIN)
            first.wait_for_log(r"not sent here: the certificate of .* was "
                               r"not verified for %s \(verify=FAIL\)"
                               % MX.replace(".", r"\."))
            [b] = bounces.wait_for(1)
            text = _bounce_text(b)
            assert "5.7.30" in text and SECRET not in text, text
            first.wait_queue_empty()
            assert not sink.messages, sink.messages


def test_requiretls_refused_when_certificate_not_verified():
    """Without the hop's CA the first relay gets verify=FAIL: the message
    is returned by the first relay, never sent."""
    ca = TestCA()
    srv = ca.issue("relay.test")
    hop_port, in_port = free_port(), free_port()
    with Sink() as sink, Relay(sink=sink, extra=relay_tls_extra(
            ca, srv, hop_port)) as hop:
        wait_tls_ready(hop)
        other = TestCA()
        with Relay(routes=[("*", "[127.0.0.1]", hop_port)],
                   extra=relay_tls_extra(other, other.issue("relay.test"),
                                         in_port)) as first:
            wait_tls_ready(first)
            _send(in_port, other)
            first.wait_for_log(r"not sent here: the certificate of .* was "
                               r"not verified for \S+ \(verify=FAIL\)")
            [b] = sink.wait_for(1, pred=lambda m: m.mail_from == "")
            text = _bounce_text(b)
            assert "5.7.30" in text and SECRET not in text, text
            first.wait_queue_empty()
            assert not [m for m in sink.messages if m.mail_from != ""]


def test_requiretls_without_tls_returned_others_delivered():
    ca = TestCA()
    srv = ca.issue("relay.test")
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=relay_tls_extra(
            ca, srv, port)) as relay:
        wait_tls_ready(relay)
        _send(port, ca, requiretls=False)
        [m] = sink.wait_for(1)
        assert m.mail_from == "alice@client.test"
        assert "REQUIRETLS" not in m.mail_params.upper(), m.mail_params
        _send(port, ca)
        [b] = sink.wait_for(1, pred=lambda m: m.mail_from == "")
        text = _bounce_text(b)
        assert "REQUIRETLS support required: no TLS with" in text, text
        assert SECRET not in text, text
        relay.wait_queue_empty()
        stats = relay.stats()
        assert stats.get("mta.requiretls.held") == "1", stats
        # a bounce has no sender: REQUIRETLS does not bind it
        assert len(sink.messages) == 2, sink.messages
