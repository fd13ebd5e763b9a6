"""The front end's limits: command line length (512), text line length
(1000), message size (552), recipients per message (452), errors per
session (421 and close), and early talkers under a greeting delay."""
import time

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink


def test_command_line_limit():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            # 512 octets with CRLF is the most RFC 5321 allows: accepted
            line = "NOOP " + "x" * (512 - 7)
            assert len(line) + 2 == 512
            code, texts = raw.cmd(line)
            assert code == 250, "512-octet NOOP: %d %s" % (code, texts)
            code, texts = raw.cmd("NOOP " + "x" * 600)
            assert code == 500, "613-octet command: %d %s" % (code, texts)
            # the session goes on
            assert raw.cmd("NOOP")[0] == 250
            code, texts = raw.cmd("MAIL FROM:<%s@client.test>" % ("a" * 700))
            assert 500 <= code < 600, "long MAIL: %d %s" % (code, texts)


def test_text_line_limit():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            assert raw.cmd("DATA")[0] == 354
            raw.send(b"Subject: long\r\n\r\n" + b"y" * 1100 + b"\r\n.\r\n")
            code, texts = raw.reply(timeout=10)
            assert 500 <= code < 600, "1102-octet line: %d %s" % (code, texts)
        # a 998-character line (1000 with CRLF) is fine
        body = "z" * 998
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"],
                     clients.make_message("alice@client.test",
                                          ["bob@dest.test"], body=body)[0])
        [m] = sink.wait_for(1)
        assert body.encode() + b"\r\n" in m.data
        time.sleep(0.5)
        assert len(sink.messages) == 1


def test_message_size_limit():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit message-size": "10K"}) as relay:
        with clients.Raw(relay.port) as raw:
            kw = raw.ehlo()
            assert "SIZE 10240" in kw, kw
            code, texts = raw.cmd("MAIL FROM:<alice@client.test> SIZE=20000")
            assert code == 552, "SIZE=20000: %d %s" % (code, texts)
            assert raw.cmd("MAIL FROM:<alice@client.test> SIZE=5000")[0] \
                == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            assert raw.cmd("DATA")[0] == 354
            raw.send(b"Subject: big\r\n\r\n" + (b"x" * 78 + b"\r\n") * 300 +
                     b".\r\n")
            code, texts = raw.reply(timeout=10)
            assert code == 552, "24000 octets in DATA: %d %s" % (code, texts)
            # and the session is still good for a message that fits
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            assert raw.cmd("DATA")[0] == 354
            raw.send(b"Subject: small\r\n\r\nsmall\r\n.\r\n")
            assert raw.reply(timeout=10)[0] == 250
        [m] = sink.wait_for(1)
        assert b"Subject: small" in m.data
        time.sleep(0.5)
        assert len(sink.messages) == 1


def test_recipient_limit():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit recipients": "5"}) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            for i in range(5):
                code, texts = raw.cmd("RCPT TO:<r%d@dest.test>" % i)
                assert code == 250, (i, code, texts)
            code, texts = raw.cmd("RCPT TO:<r5@dest.test>")
            assert code == 452, "6th recipient: %d %s" % (code, texts)
            assert raw.cmd("DATA")[0] == 354
            raw.send(b"Subject: five\r\n\r\nfive\r\n.\r\n")
            assert raw.reply(timeout=10)[0] == 250
        [m] = sink.wait_for(1)
        assert sorted(m.rcpt_addrs) == ["r%d@dest.test" % i
                                        for i in range(5)], m.rcpt_addrs


def test_error_limit():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit errors": "3"}) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            codes = []
            for _ in range(10):
                try:
                    code, _ = raw.cmd("BOGUS command")
                except (ConnectionError, OSError):
                    break
                codes.append(code)
                if code == 421:
                    break
            assert 421 in codes, "no 421 after errors: %r" % codes
            assert len(codes) <= 4, "421 only after %d errors" % len(codes)
            assert all(500 <= c < 600 for c in codes[:-1]), codes
            assert raw.closed(5), "connection still open after 421"


def test_early_talker_rejected():
    with Sink() as sink, Relay(sink=sink, conf={
            "smtp greeting-delay": "1s"}) as relay:
        with clients.Raw(relay.port, greeting=False) as raw:
            raw.send("EHLO early.test\r\n")
            code, texts = raw.reply(timeout=10)
            assert 500 <= code < 600, "early talker got %d %s" % (code,
                                                                  texts)
            try:
                extra = raw.reply(timeout=3)
            except (ConnectionError, OSError):
                extra = None
            assert extra is None or extra[0] >= 400, extra
            assert raw.closed(5), "early talker not disconnected"
        t0 = time.monotonic()
        with clients.Raw(relay.port) as raw:
            waited = time.monotonic() - t0
            assert raw.greeting[0] == 220, raw.greeting
            assert waited >= 0.9, "greeting after %.2fs" % waited
            raw.ehlo()
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)


def test_session_limit():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit sessions": "2"}) as relay:
        a = clients.Raw(relay.port)
        b = clients.Raw(relay.port)
        try:
            assert a.greeting[0] == 220 and b.greeting[0] == 220
            refused = False
            try:
                with clients.Raw(relay.port, timeout=5) as c:
                    refused = c.greeting[0] == 421 and c.closed(5)
            except (ConnectionError, OSError):
                refused = True
            assert refused, "a third session was served"
        finally:
            a.close()
            b.close()
        # the slots come back
        from lib import wait_until
        from lib.daemon import _greets
        wait_until(lambda: _greets(relay.port), 10, "a free session slot")


def test_messages_per_session_limit():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit messages": "2"}) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            for i in range(2):
                assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
                assert raw.cmd("RCPT TO:<m%d@dest.test>" % i)[0] == 250
                assert raw.cmd("DATA")[0] == 354
                raw.send("Subject: %d\r\n\r\nx\r\n.\r\n" % i)
                assert raw.reply()[0] == 250
            code, texts = raw.cmd("MAIL FROM:<alice@client.test>")
            assert code in (421, 452), "third message: %d %s" % (code, texts)
        sink.wait_for(2)


def test_command_timeout():
    with Sink() as sink, Relay(sink=sink, conf={
            "timeout command": "1s"}) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            t0 = time.monotonic()
            code, texts = raw.reply(timeout=10)
            waited = time.monotonic() - t0
            assert code == 421, (code, texts)
            assert 0.5 <= waited <= 5, "timed out after %.1fs" % waited
            assert raw.closed(5)
