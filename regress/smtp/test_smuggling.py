"""SMTP smuggling: a message whose DATA holds a bare-LF or bare-CR end of
data lookalike followed by a second transaction is rejected with 5xx and
nothing is delivered, least of all the smuggled message.  Bare LF in a
command and NUL octets are rejected too."""
import time

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink

SMUGGLED = (b"MAIL FROM:<evil@client.test>\r\n"
            b"RCPT TO:<victim@dest.test>\r\n"
            b"DATA\r\n"
            b"Subject: smuggled\r\n\r\nsmuggled body\r\n")

TERMINATORS = [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r"]


def _open_data(raw):
    raw.ehlo()
    assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
    assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
    assert raw.cmd("DATA")[0] == 354


def _after_reject(raw):
    """After the 5xx: the session is usable (NOOP 250) or closed, and no
    reply of the smuggled commands ever shows up."""
    try:
        code, texts = raw.cmd("NOOP", timeout=5)
    except (ConnectionError, OSError):
        return
    assert code in (250, 421), "after the rejection: %d %s" % (code, texts)


def test_smuggling_bare_terminators():
    with Sink() as sink, Relay(sink=sink) as relay:
        for term in TERMINATORS:
            with clients.Raw(relay.port) as raw:
                _open_data(raw)
                raw.send(b"Subject: legit\r\n\r\nlegit body" + term +
                         SMUGGLED + b".\r\n")
                code, texts = raw.reply(timeout=10)
                assert 500 <= code < 600, \
                    "DATA with %r ended by %d %s" % (term, code, texts)
                _after_reject(raw)
        time.sleep(2)
        assert not sink.messages, "delivered: %r" % [
            (m.mail_from, m.data[:200]) for m in sink.messages]
        assert not relay.show_queue()
        assert b"smuggled" not in b"".join(m.data for m in sink.messages)


def test_bare_lf_in_command_rejected():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            raw.send(b"MAIL FROM:<alice@client.test>\n")
            code, texts = raw.reply(timeout=10)
            assert 500 <= code < 600, "bare LF command got %d %s" % (
                code, texts)
        with clients.Raw(relay.port) as raw:
            raw.send(b"EHLO client.test\n")
            code, texts = raw.reply(timeout=10)
            assert 500 <= code < 600, "bare LF EHLO got %d %s" % (
                code, texts)
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            raw.send(b"NOOP\rMAIL FROM:<alice@client.test>\r\n")
            code, texts = raw.reply(timeout=10)
            assert 500 <= code < 600, "bare CR command got %d %s" % (
                code, texts)
        time.sleep(1)
        assert not sink.messages


def test_nul_rejected():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            code, texts = raw.cmd("MAIL FROM:<ali\0ce@client.test>")
            assert 500 <= code < 600, "NUL in MAIL got %d %s" % (code, texts)
        with clients.Raw(relay.port) as raw:
            _open_data(raw)
            raw.send(b"Subject: nul\r\n\r\nbefore\0after\r\n.\r\n")
            code, texts = raw.reply(timeout=10)
            assert 500 <= code < 600, "NUL in DATA got %d %s" % (code, texts)
        time.sleep(1)
        assert not sink.messages, sink.messages


def test_proper_dot_stuffing_still_works():
    """The strictness above must not break legitimate lines that start
    with a dot or contain a lone dot after stuffing."""
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            _open_data(raw)
            raw.send(b"Subject: dots\r\n\r\n..\r\n..leading\r\nend\r\n.\r\n")
            code, texts = raw.reply(timeout=10)
            assert code == 250, (code, texts)
        [m] = sink.wait_for(1)
        assert m.data.endswith(b"\r\n\r\n.\r\n.leading\r\nend\r\n"), m.data
