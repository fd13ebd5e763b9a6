"""Implicit TLS (smtps listener) and client certificates (verify): the
handshake comes before the greeting, and the Received: TLS clause says
verify=OK with a certificate of the trusted CA, verify=NO without one."""
import re
import socket

from lib import clients, free_port
from lib.certs import (TestCA, client_context, relay_tls_extra,
                       starttls, wait_tls_ready)
from lib.daemon import Relay
from lib.sink import Sink


def _deliver(raw, rcpt):
    raw.ehlo()
    assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
    assert raw.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    assert raw.cmd("DATA")[0] == 354
    code, texts = raw.cmd("Subject: tls\r\n\r\nbody\r\n.")
    assert code == 250, (code, texts)
    assert raw.cmd("QUIT")[0] == 221


def _verify_of(m):
    rec = m.header("Received")
    g = re.search(r"\(version=TLSv1\.[23] cipher=\S+ bits=\d+ "
                  r"verify=(\w+)\)", rec or "")
    assert g, rec
    return g.group(1)


def test_smtps_listener():
    ca = TestCA()
    srv = ca.issue("relay.test")
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=relay_tls_extra(
            ca, srv, port, "smtps")) as relay:
        wait_tls_ready(relay)
        raw = clients.Raw(port, greeting=False)
        with raw:
            raw.sock = client_context(ca).wrap_socket(
                raw.sock, server_hostname="relay.test")
            code, texts = raw.reply()
            assert code == 220, (code, texts)
            kw = [k.upper() for k in raw.ehlo()]
            assert "STARTTLS" not in kw, kw
            _deliver(raw, "s@dest.test")
        [m] = sink.wait_for(1)
        assert "with ESMTPS" in m.header("Received")
        assert _verify_of(m) == "NOT"
        # a plaintext client on the smtps port gets no greeting
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"EHLO client.test\r\n")
            s.settimeout(10)
            try:
                data = s.recv(1024)
            except (ConnectionError, socket.timeout):
                data = b""
            assert not data.startswith(b"220"), data
        relay.wait_for_log(r"TLS handshake failed|STARTTLS=server.*fail",
                           timeout=20)


def test_verify_client_certificate():
    ca = TestCA()
    srv = ca.issue("relay.test")
    cli = ca.issue("client.test", client=True)
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=relay_tls_extra(
            ca, srv, port, "tls verify")) as relay:
        wait_tls_ready(relay)
        with clients.Raw(port) as raw:
            raw.ehlo()
            starttls(raw, client_context(ca, cli))
            _deliver(raw, "with-cert@dest.test")
        with clients.Raw(port) as raw:
            raw.ehlo()
            starttls(raw, client_context(ca))
            _deliver(raw, "without-cert@dest.test")
        sink.wait_for(2)
        [a] = sink.messages_to("with-cert@dest.test")
        [b] = sink.messages_to("without-cert@dest.test")
        assert _verify_of(a) == "OK", a.header("Received")
        assert _verify_of(b) == "NO", b.header("Received")


def test_verify_expired_wrong_ca_and_not_requested():
    """${verify} FAIL for an expired certificate and for one from another
    CA; NOT on a listener that does not ask for a certificate."""
    ca = TestCA()
    srv = ca.issue("relay.test")
    expired = ca.issue("old.test", client=True, expired=True)
    stranger = TestCA("Other CA").issue("stranger.test", client=True)
    port, plain = free_port(), free_port()
    extra = relay_tls_extra(ca, srv, port, "tls verify") + [
        "listen on 127.0.0.1 port %d tls" % plain]
    with Sink() as sink, Relay(sink=sink, extra=extra) as relay:
        wait_tls_ready(relay)
        for p, cert, rcpt in ((port, expired, "expired@dest.test"),
                              (port, stranger, "stranger@dest.test"),
                              (plain, expired, "unasked@dest.test")):
            with clients.Raw(p) as raw:
                raw.ehlo()
                starttls(raw, client_context(ca, cert))
                _deliver(raw, rcpt)
        sink.wait_for(3)
        got = {r: _verify_of(sink.messages_to(r)[0]) for r in (
            "expired@dest.test", "stranger@dest.test", "unasked@dest.test")}
        assert got == {"expired@dest.test": "FAIL",
                       "stranger@dest.test": "FAIL",
                       "unasked@dest.test": "NOT"}, got
