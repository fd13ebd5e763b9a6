"""What a misbehaving TLS client can do to tlsproxy: each of garbage
instead of a ClientHello, a stalled handshake (ended by `timeout
tls-handshake`), an SNI with CR, LF and other invalid octets, and a
client-initiated renegotiation on TLS 1.2 costs only its own session:
a session already in TLS keeps working, a new TLS session works, the
tlsproxy pid does not change, and nothing raw reaches the log."""
import re
import subprocess
import time

from lib import clients, free_port
from lib.certs import (TestCA, client_context, relay_tls_extra,
                       starttls, wait_tls_ready)
from lib.daemon import Relay
from lib.sink import Sink


class TlsRelay:
    """A relay with a tls listener, a TLS session in progress, and the
    tlsproxy pid when the test began."""

    def __init__(self, sink, extra=()):
        self.ca = TestCA()
        self.srv = self.ca.issue("relay.test")
        self.port = free_port()
        self.relay = Relay(sink=sink, extra=relay_tls_extra(
            self.ca, self.srv, self.port) + list(extra))
        wait_tls_ready(self.relay)
        self.tlspid = self.relay.pid("tlsproxy")
        self.bystander = clients.Raw(self.port)
        self.bystander.ehlo()
        starttls(self.bystander, client_context(self.ca))
        self.bystander.ehlo()

    def check_unharmed(self, sink, rcpt):
        """The bystander and a new TLS session each deliver a message;
        tlsproxy was not restarted."""
        _deliver(self.bystander, rcpt + "-old")
        with clients.Raw(self.port) as raw:
            raw.ehlo()
            starttls(raw, client_context(self.ca))
            raw.ehlo()
            _deliver(raw, rcpt + "-new")
        sink.wait_for(2)
        for m in sink.messages:
            assert "with ESMTPS" in m.header("Received"), m.data[:300]
        assert self.relay.pid("tlsproxy") == self.tlspid, "tlsproxy restarted"
        assert self.relay.proc.poll() is None, "smtpd died"

    def stat(self, name):
        return int(self.relay.stats().get(name, 0))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bystander.close()
        self.relay.stop()


def _deliver(raw, rcpt):
    assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
    assert raw.cmd("RCPT TO:<%s@dest.test>" % rcpt)[0] == 250
    assert raw.cmd("DATA")[0] == 354
    code, texts = raw.cmd("Subject: neg\r\n\r\nbody\r\n.")
    assert code == 250, (code, texts)


def _starttls_raw(port):
    raw = clients.Raw(port)
    raw.ehlo()
    code, texts = raw.cmd("STARTTLS")
    assert code == 220, (code, texts)
    return raw


def test_garbage_instead_of_client_hello():
    with Sink() as sink, TlsRelay(sink) as t:
        mark = t.relay.mark()
        raw = _starttls_raw(t.port)
        raw.send("GET / HTTP/1.0\r\nHost: relay.test\r\n\r\n")
        assert raw.closed(timeout=10), "garbage session still open"
        raw.close()
        t.relay.wait_for_log(r"STARTTLS=server, error: .*"
                             r"not a TLS ClientHello, verify=PROTOCOL",
                             start=mark)
        assert t.stat("tls.handshake.garbage") >= 1
        t.check_unharmed(sink, "garbage")


def test_stalled_handshake_times_out():
    with Sink() as sink, TlsRelay(sink, ["timeout tls-handshake 2s"]) as t:
        mark = t.relay.mark()
        raw = _starttls_raw(t.port)
        started = time.monotonic()
        assert raw.closed(timeout=15), "stalled handshake never ended"
        took = time.monotonic() - started
        raw.close()
        assert 1.5 <= took <= 10, "ended after %.1fs, not ~2s" % took
        t.relay.wait_for_log(r"handshake timeout", start=mark)
        assert t.stat("tls.handshake.timeout") >= 1
        t.check_unharmed(sink, "stalled")


def test_invalid_sni_not_logged_raw():
    with Sink() as sink, TlsRelay(sink) as t:
        mark = t.relay.mark()
        sni = "evil.test\r\nINJECTED: forged line\x01\x7f"
        p = subprocess.run(
            ["openssl", "s_client", "-starttls", "smtp",
             "-connect", "127.0.0.1:%d" % t.port, "-servername", sni,
             "-CAfile", t.ca.cert, "-quiet"],
            input=b"EHLO client.test\r\nNOOP\r\nQUIT\r\n",
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode("utf-8", "replace")
        # documented: an invalid SNI is ignored and the handshake falls
        # back to the listener's pki
        assert "250 2.0.0 Ok" in out, out
        t.relay.wait_for_log(r"invalid SNI", start=mark)
        log = t.relay.log(mark)
        assert "INJECTED" not in log, log
        assert "\r" not in log, repr(log)
        assert "\x01" not in log and "\x7f" not in log, repr(log)
        assert not re.search(r"^INJECTED", log, re.M), log
        assert t.stat("tls.sni.invalid") >= 1
        t.check_unharmed(sink, "sni")


def test_client_renegotiation_ends_session():
    with Sink() as sink, TlsRelay(sink) as t:
        p = subprocess.Popen(
            ["openssl", "s_client", "-tls1_2", "-starttls", "smtp",
             "-crlf", "-connect", "127.0.0.1:%d" % t.port,
             "-CAfile", t.ca.cert],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        try:
            p.stdin.write(b"EHLO client.test\n")
            p.stdin.flush()
            time.sleep(1.5)
            p.stdin.write(b"R\n")
            p.stdin.flush()
            time.sleep(1.5)
            try:
                p.stdin.write(b"NOOP\n")
                p.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                out, _ = p.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
                raise AssertionError("renegotiated session still open: %s"
                                     % out.decode("utf-8", "replace"))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out = out.decode("utf-8", "replace")
        assert "Protocol  : TLSv1.2" in out or "TLSv1.2" in out, out
        assert "RENEGOTIATING" in out, out
        assert "250-PIPELINING" in out, out
        after = out.split("RENEGOTIATING", 1)[1]
        assert "250 2.0.0 Ok" not in after, "NOOP answered after " \
            "renegotiation: %s" % out
        t.check_unharmed(sink, "reneg")
