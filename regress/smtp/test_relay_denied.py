"""The access map (sendmail semantics, /work/shared/spec/sendmail-policy.md)
as seen by a client: relaying is denied to a client that is not loopback
127.0.0.1 and has no Connect: RELAY entry (we connect from 127.0.0.2),
and Connect:/From:/To: entries give their reply codes."""
import smtplib
import socket

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink


class FromAddr(clients.Raw):
    """A raw session whose source address is 127.0.0.2."""

    def __init__(self, port, source="127.0.0.2"):
        self.timeout = 10
        self.sock = socket.create_connection(("127.0.0.1", port), 10,
                                             source_address=(source, 0))
        self.buf = b""
        self.greeting = self.reply()


def _try_rcpt(port, rcpt, source="127.0.0.2"):
    with FromAddr(port, source) as raw:
        raw.ehlo()
        code, texts = raw.cmd("MAIL FROM:<alice@client.test>")
        assert code == 250, (code, texts)
        return raw.cmd("RCPT TO:<%s>" % rcpt)


def test_relay_denied_without_relay_right():
    with Sink() as sink, Relay(sink=sink) as relay:
        code, texts = _try_rcpt(relay.port, "bob@dest.test")
        assert code == 550, "relay from 127.0.0.2: %d %s" % (code, texts)
        assert texts[0].startswith("5.7.1"), texts
        assert "relaying denied" in texts[0].lower(), texts
        # the loopback address itself may relay
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["bob@dest.test"]


def test_connect_relay_entry_grants_relaying():
    with Sink() as sink, Relay(sink=sink, start=False) as relay:
        rc, out = relay.makemap("access", "Connect:127.0.0.2 RELAY\n")
        assert rc == 0, out
        relay.start()
        code, texts = _try_rcpt(relay.port, "bob@dest.test")
        assert code == 250, (code, texts)


def test_to_relay_entry_grants_relaying_to_domain():
    with Sink() as sink, Relay(sink=sink, start=False) as relay:
        rc, out = relay.makemap("access", "To:dest.test RELAY\n")
        assert rc == 0, out
        relay.start()
        assert _try_rcpt(relay.port, "bob@dest.test")[0] == 250
        code, texts = _try_rcpt(relay.port, "bob@other.test")
        assert code == 550 and texts[0].startswith("5.7.1"), (code, texts)


def test_connect_reject():
    with Sink() as sink, Relay(sink=sink, start=False) as relay:
        rc, out = relay.makemap("access", "Connect:127.0.0.1 REJECT\n")
        assert rc == 0, out
        relay.start()
        with clients.Raw(relay.port) as raw:
            # sendmail greets, then refuses every transaction command
            # (spec 2.3); EHLO lists only ENHANCEDSTATUSCODES
            assert raw.greeting[0] == 220, raw.greeting
            ext = raw.ehlo()
            assert ext == ["ENHANCEDSTATUSCODES"], ext
            for cmd in ("MAIL FROM:<alice@client.test>", "DATA",
                        "VRFY bob", "BDAT 0 LAST"):
                code, texts = raw.cmd(cmd)
                assert (code, texts) == (550, ["5.7.1 Access denied"]), \
                    (cmd, code, texts)
            assert raw.cmd("NOOP")[0] == 250
            assert raw.cmd("RSET")[0] == 250
        try:
            clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
            raise AssertionError("a rejected client could send")
        except (smtplib.SMTPException, ConnectionError):
            pass
        assert not sink.messages


def test_connect_error_421_closes():
    with Sink() as sink, Relay(sink=sink, start=False) as relay:
        rc, out = relay.makemap(
            "access", 'Connect:127.0.0.1 ERROR:421 4.7.0 go away\n')
        assert rc == 0, out
        relay.start()
        with clients.Raw(relay.port) as raw:
            assert raw.greeting[0] == 421, raw.greeting
            assert "go away" in raw.greeting[1][0], raw.greeting
            assert raw.closed(5)


def test_from_and_to_reject():
    with Sink() as sink, Relay(sink=sink, start=False) as relay:
        rc, out = relay.makemap(
            "access", "From:spammer@client.test REJECT\n"
                      "To:blocked.test REJECT\n"
                      "To:temp.test ERROR:450 4.2.0 later please\n")
        assert rc == 0, out
        relay.start()
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            code, texts = raw.cmd("MAIL FROM:<spammer@client.test>")
            assert code == 550 and texts[0].startswith("5.7.1"), (code, texts)
            assert "access denied" in texts[0].lower(), texts
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            code, texts = raw.cmd("RCPT TO:<x@blocked.test>")
            assert code == 550 and texts[0].startswith("5.2.1"), (code, texts)
            code, texts = raw.cmd("RCPT TO:<x@sub.blocked.test>")
            assert code == 550, ("subdomain of a To: entry", code, texts)
            code, texts = raw.cmd("RCPT TO:<x@temp.test>")
            assert code == 450 and "later please" in texts[0], (code, texts)
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            assert raw.cmd("DATA")[0] == 354
            raw.send("Subject: t\r\n\r\nt\r\n.\r\n")
            assert raw.reply()[0] == 250
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["bob@dest.test"]
