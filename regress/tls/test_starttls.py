"""Inbound STARTTLS (RFC 3207) through tlsproxy: a message over TLS gets
"with ESMTPS" and sendmail's TLS clause in Received:, EHLO after the
handshake no longer offers STARTTLS, a second STARTTLS is refused,
commands pipelined after STARTTLS are never executed (CVE-2011-0411),
and tls-require refuses MAIL before STARTTLS."""
import re
import subprocess

from lib import Skip, clients, free_port
from lib.certs import (TestCA, client_context, relay_tls_extra,
                       starttls, wait_tls_ready)
from lib.daemon import Relay
from lib.sink import Sink

TLS_CLAUSE = re.compile(r"\(version=TLSv1\.[23] cipher=\S+ bits=\d+ "
                        r"verify=(\w+)\)")


def _tls_relay(sink, options="tls"):
    ca = TestCA()
    srv = ca.issue("relay.test")
    port = free_port()
    relay = Relay(sink=sink, extra=relay_tls_extra(ca, srv, port, options))
    wait_tls_ready(relay)
    return ca, relay, port


def _received(m):
    rec = m.header("Received")
    assert rec is not None, m.data[:500]
    return rec


def test_ehlo_offers_starttls_only_on_tls_listener():
    with Sink() as sink:
        ca, relay, port = _tls_relay(sink)
        with relay:
            with clients.Raw(relay.port) as raw:
                assert "STARTTLS" not in [k.upper() for k in raw.ehlo()]
                code, _ = raw.cmd("STARTTLS")
                assert code == 502, code
            with clients.Raw(port) as raw:
                assert "STARTTLS" in [k.upper() for k in raw.ehlo()]


def test_openssl_starttls_delivers_with_esmtps():
    with Sink() as sink:
        ca, relay, port = _tls_relay(sink)
        with relay:
            script = (b"EHLO client.test\r\nMAIL FROM:<alice@client.test>\r\n"
                      b"RCPT TO:<bob@dest.test>\r\nDATA\r\n"
                      b"Subject: over tls\r\n\r\nhello\r\n.\r\nQUIT\r\n")
            r = subprocess.run(["openssl", "s_client", "-starttls", "smtp",
                                "-connect", "127.0.0.1:%d" % port,
                                "-CAfile", ca.cert, "-quiet"], input=script,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            out = r.stdout.decode("utf-8", "replace")
            assert "queued as" in out, out
            [m] = sink.wait_for(1)
            rec = _received(m)
            assert "with ESMTPS" in rec, rec
            g = TLS_CLAUSE.search(rec)
            assert g and g.group(1) == "NOT", rec
            relay.wait_for_log(r"STARTTLS=server.*verify=NOT")


def test_swaks_tls_delivers():
    with Sink() as sink:
        ca, relay, port = _tls_relay(sink)
        with relay:
            r = clients.swaks(port, "--tls", "--from", "alice@client.test",
                              "--to", "carol@dest.test")
            out = r.stdout.decode("utf-8", "replace")
            if "requires Net::SSLeay" in out:
                raise Skip("swaks without TLS support (libnet-ssleay-perl)")
            assert r.returncode == 0, out
            assert "TLS started" in out, out
            [m] = sink.wait_for(1)
            rec = _received(m)
            assert "with ESMTPS" in rec and TLS_CLAUSE.search(rec), rec


def test_after_tls_state_is_reset():
    with Sink() as sink:
        ca, relay, port = _tls_relay(sink)
        with relay:
            with clients.Raw(port) as raw:
                raw.ehlo()
                starttls(raw, client_context(ca))
                # RFC 3207 4.2: HELO/EHLO forgotten
                code, _ = raw.cmd("MAIL FROM:<a@client.test>")
                assert code == 503, code
                kw = [k.upper() for k in raw.ehlo()]
                assert "STARTTLS" not in kw, kw
                assert "PIPELINING" in kw, kw
                code, texts = raw.cmd("STARTTLS")
                assert code == 503 and "already" in texts[0], (code, texts)
                assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
                assert raw.cmd("RCPT TO:<d@dest.test>")[0] == 250
                assert raw.cmd("DATA")[0] == 354
                code, _ = raw.cmd("Subject: x\r\n\r\nbody\r\n.")
                assert code == 250, code
                assert raw.cmd("QUIT")[0] == 221
            [m] = sink.wait_for(1)
            assert "with ESMTPS" in _received(m)


def test_pipelined_after_starttls_not_executed():
    with Sink() as sink:
        ca, relay, port = _tls_relay(sink)
        with relay:
            with clients.Raw(port) as raw:
                raw.ehlo()
                raw.send("STARTTLS\r\nMAIL FROM:<evil@client.test>\r\n"
                         "RCPT TO:<evil@dest.test>\r\n")
                code, texts = raw.reply()
                assert code == 220, (code, texts)
                assert raw.buf == b"", raw.buf
                raw.sock = client_context(ca).wrap_socket(
                    raw.sock, server_hostname="relay.test")
                raw.ehlo()
                # the injected MAIL must not have been executed
                code, _ = raw.cmd("RCPT TO:<x@dest.test>")
                assert code == 503, code
                assert raw.cmd("QUIT")[0] == 221
            relay.wait_for_log(r"octets after STARTTLS discarded")
            assert sink.messages == [], sink.messages


def test_tls_require_refuses_mail_before_starttls():
    with Sink() as sink:
        ca, relay, port = _tls_relay(sink, "tls-require")
        with relay:
            with clients.Raw(port) as raw:
                kw = [k.upper() for k in raw.ehlo()]
                assert "STARTTLS" in kw, kw
                code, texts = raw.cmd("MAIL FROM:<a@client.test>")
                assert code == 530, (code, texts)
                assert texts[0].startswith("5.7.0"), texts
                raw.ehlo()
                starttls(raw, client_context(ca))
                raw.ehlo()
                assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
            # the plain listener still takes mail without TLS
            clients.send(relay.port, "a@client.test", "b@dest.test")
            sink.wait_for(1)


def test_tls_require_refuses_all_but_noop_ehlo_starttls_quit():
    """RFC 3207 4: 530 5.7.0 to every command but NOOP, EHLO, STARTTLS
    and QUIT before TLS (HELO too: its client never sees STARTTLS); a
    refused BDAT chunk is read and discarded, not taken as commands."""
    refused = ["HELO client.test", "MAIL FROM:<a@client.test>",
               "RCPT TO:<b@dest.test>", "DATA", "RSET", "VRFY postmaster",
               "EXPN staff", "HELP", "AUTH PLAIN", "FOOBAR"]
    with Sink() as sink:
        ca, relay, port = _tls_relay(sink, "tls-require")
        with relay:
            # two sessions, to stay under the error limit (10)
            for lines in (refused[:5], refused[5:]):
                with clients.Raw(port) as raw:
                    assert raw.cmd("NOOP")[0] == 250
                    raw.ehlo()
                    for line in lines:
                        code, texts = raw.cmd(line)
                        assert code == 530, (line, code, texts)
                        assert texts[0].startswith("5.7.0"), (line, texts)
                    assert raw.cmd("NOOP")[0] == 250
            with clients.Raw(port) as raw:
                raw.ehlo()
                raw.send("BDAT 12 LAST\r\nNOOP\r\nQUIT\r\n")
                code, texts = raw.reply()
                assert code == 530, ("BDAT", code, texts)
                assert raw.buf == b"", raw.buf
                assert raw.cmd("NOOP")[0] == 250
            with clients.Raw(port) as raw:
                raw.ehlo()
                assert raw.cmd("HELP")[0] == 530
                starttls(raw, client_context(ca))
                assert raw.cmd("HELO client.test")[0] == 250
                raw.ehlo()
                assert raw.cmd("HELP")[0] == 214
                assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
                assert raw.cmd("RCPT TO:<b@dest.test>")[0] == 250
                assert raw.cmd("DATA")[0] == 354
                assert raw.cmd("Subject: r\r\n\r\nx\r\n.")[0] == 250
                assert raw.cmd("QUIT")[0] == 221
            [m] = sink.wait_for(1)
            assert "with ESMTPS" in _received(m)
