"""One message through the relay, by swaks and by smtplib: it reaches the
next hop unchanged but for one new Received: header naming the relay, and
the client's 250 says "queued as"."""
import re

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink, headers_of


def test_relay_one_swaks():
    with Sink() as sink, Relay(sink=sink) as relay:
        r = clients.swaks(relay.port, "--from", "alice@client.test",
                          "--to", "bob@dest.test",
                          "--header", "Subject: swaks one",
                          "--header", "X-Regress: intact",
                          "--body", "swaks body line")
        out = r.stdout.decode("utf-8", "replace")
        assert r.returncode == 0, "swaks failed:\n" + out[-2000:]
        assert re.search(r"<-\s+250 .*queued as \S+", out), \
            "no 250 ... queued as in:\n" + out[-2000:]
        [m] = sink.wait_for(1)
        assert m.mail_from == "alice@client.test", m.mail_from
        assert m.rcpt_addrs == ["bob@dest.test"], m.rcpt_addrs
        h = headers_of(m.data)
        assert h.get("subject") == ["swaks one"], h.get("subject")
        assert h.get("x-regress") == ["intact"], h.get("x-regress")
        assert h.get("received"), "no Received: header"
        assert "relay.test" in h["received"][0], h["received"][0]
        assert b"swaks body line" in m.data
        relay.wait_queue_empty(10)


def test_relay_one_smtplib():
    with Sink() as sink, Relay(sink=sink) as relay:
        msg, mid = clients.make_message(
            "alice@client.test", ["bob@dest.test"], subject="smtplib one",
            body="line one\r\n\r\n  indented line\r\n.leading dot\r\nend",
            headers=["X-Regress: intact"])
        code, text = clients.send(relay.port, "alice@client.test",
                                  ["bob@dest.test"], msg)
        assert code == 250 and clients.queued_id(text), text
        [m] = sink.wait_for(1)
        assert m.mail_from == "alice@client.test"
        assert m.rcpt_addrs == ["bob@dest.test"]
        # the original message, byte for byte, after the relay's header
        assert m.data.endswith(msg), \
            "message changed in transit:\n%r\nvs\n%r" % (m.data, msg)
        added = m.data[:-len(msg)]
        assert added.startswith(b"Received:"), added
        assert b"relay.test" in added, added
        assert headers_of(m.data)["message-id"] == [mid]
        # only one header was added: one Received: field
        assert len(headers_of(added + b"\r\n")) == 1, added
        relay.wait_queue_empty(10)
        # SIGTERM: a clean exit, and no child left behind
        assert relay.stop() == 0, "smtpd exit status %s" % relay.exit_status
        assert not relay.lingering, relay.lingering
