"""LMTP delivery by smtpd-local to a real Dovecot (issue 12).

Each test creates a real system user (removed in a finally block) and
starts its own Dovecot LMTP server (lib/dovecot.py: a passwd-file of the
users it knows, their Maildirs in its directory), then sends mail over
SMTP to user@relay.test with `local delivery lmtp "unix:SOCKET"` (or
TCP), and reads the message back from the Maildir Dovecot wrote: our
Delivered-To header, one Return-Path (Dovecot's), the body with a dot-stuffed line intact, the
server's "Saved" reply in the log.  A system user Dovecot does not know
gets Dovecot's 550 5.1.1 bounced once, with Dovecot's text in the DSN.
With Dovecot stopped the message stays queued with a 4.4.1 naming the
socket, and is delivered once Dovecot runs and the queue is scheduled.
`rcpt address` gives Dovecot the address the mail was sent to (its
virtual users).  A message that carries our Delivered-To already is a
loop: bounced, never handed to Dovecot."""
import os

from lib import Skip, clients, dsn, wait_until
from lib.daemon import Relay
from lib.dovecot import DOVECOT, Dovecot
from lib.localmail import envelopes, system_user
from lib.sink import Sink

SENDER = "dave@client.test"


def _need_dovecot():
    if not os.path.exists(DOVECOT) or not os.path.exists(
            "/usr/lib/dovecot/lmtp"):
        raise Skip("dovecot-lmtpd is not installed (tools/deps.sh)")


def _relay(target, sink=None, rcpt=None):
    rule = 'lmtp "%s"' % target
    if rcpt is not None:
        rule += " rcpt %s" % rcpt
    return Relay(sink=sink, conf={"local delivery": rule})


def _send(relay, user, body="Hello.\r\n", headers=()):
    to = "%s@relay.test" % user
    msg, _ = clients.make_message(SENDER, [to], body=body, headers=headers)
    clients.send(relay.port, SENDER, [to], msg=msg)


def _delivered(dovecot, user, relay, name=None):
    """The one message of name's Maildir, the queue empty after it."""
    [m] = dovecot.wait_messages(name or user, 1)
    relay.wait_queue_empty(10)
    assert m["Delivered-To"] is not None, m.items()
    assert "%s@relay.test" % user in m.get_all("Delivered-To"), m.items()
    # Dovecot's own, from MAIL FROM; none of ours beside it
    assert m.get_all("Return-Path") == ["<%s>" % SENDER], m.items()
    return m


def test_lmtp_over_a_unix_socket_into_dovecots_maildir():
    _need_dovecot()
    with system_user("h4l") as user, Dovecot([(user, user)]) as dovecot, \
            _relay("unix:" + dovecot.socket) as relay:
        body = "First line.\r\n.A line with a leading dot.\r\nLast.\r\n"
        _send(relay, user, body=body, headers=["X-Seq: 1"])
        m = _delivered(dovecot, user, relay)
        assert m["X-Seq"] == "1", m.items()
        text = m.get_payload()
        assert "\n.A line with a leading dot.\n" in text, repr(text)
        assert "\n..A line" not in text, repr(text)
        log = relay.log()
        assert "to=<%s>" % user in log and "mailer=local" in log, log
        assert "Saved)" in log, log
        assert "stat=Sent (250 2.0.0 <%s>" % user in log, log


def test_lmtp_over_tcp_by_address_and_by_name():
    _need_dovecot()
    with system_user("h4l") as user, Dovecot([(user, user)]) as dovecot:
        for n, target in enumerate(("[127.0.0.1]:%d" % dovecot.port,
                                    "localhost:%d" % dovecot.port)):
            with _relay(target) as relay:
                _send(relay, user, headers=["X-Seq: %d" % n])
                msgs = dovecot.wait_messages(user, n + 1)
                relay.wait_queue_empty(10)
                assert sorted(m["X-Seq"] for m in msgs) == \
                    [str(i) for i in range(n + 1)], [m.items() for m in msgs]
        assert "Connect from 127.0.0.1" in open(dovecot.logpath).read()


def test_lmtp_user_unknown_to_dovecot_bounces_once_with_its_text():
    _need_dovecot()
    with system_user("h4l") as user, system_user("h4l") as other, \
            Dovecot([(other, other)]) as dovecot, Sink() as sink, \
            _relay("unix:" + dovecot.socket, sink=sink) as relay:
        _send(relay, user)
        [b] = sink.wait_for(1, timeout=30)
        relay.wait_queue_empty(10)
        assert b.rcpt_addrs == [SENDER], b.rcpt_addrs
        d = dsn.parse(b.data)
        assert d.recipients[0]["status"] == "5.1.1", d.recipients
        text = b.data.decode("utf-8", "replace")
        assert "User doesn't exist" in text, text
        assert "550 5.1.1" in text, text
        assert len(sink.messages) == 1, [m.rcpt_addrs for m in
                                         sink.messages]
        assert dovecot.messages(user) == []


def test_lmtp_server_down_keeps_the_mail_then_delivers_it():
    _need_dovecot()
    with system_user("h4l") as user, \
            Dovecot([(user, user)], start=False) as dovecot, \
            _relay("unix:" + dovecot.socket) as relay:
        _send(relay, user)

        def deferred():
            envs = envelopes(relay)
            return envs if envs and envs[0]["lasterror"] else None
        [e] = wait_until(deferred, 20, "a deferred envelope")
        assert e["lasterror"].startswith("4.4.1"), e
        assert "unix:" + dovecot.socket in e["lasterror"], e
        dovecot.start()
        relay.smtpctl("schedule", "all")
        _delivered(dovecot, user, relay)
        assert len(dovecot.messages(user)) == 1


def test_lmtp_rcpt_address_for_dovecots_virtual_users():
    _need_dovecot()
    with system_user("h4l") as user:
        address = "%s@relay.test" % user
        with Dovecot([(address, user)]) as dovecot, \
                _relay("unix:" + dovecot.socket, rcpt="address") as relay:
            _send(relay, user)
            _delivered(dovecot, user, relay, name=address)


def test_lmtp_loop_is_bounced_not_handed_to_dovecot():
    _need_dovecot()
    with system_user("h4l") as user, Dovecot([(user, user)]) as dovecot, \
            Sink() as sink, \
            _relay("unix:" + dovecot.socket, sink=sink) as relay:
        _send(relay, user, headers=["Delivered-To: %s@relay.test" % user])
        [b] = sink.wait_for(1, timeout=30)
        d = dsn.parse(b.data)
        assert d.recipients[0]["status"] == "5.4.6", d.recipients
        assert dovecot.messages(user) == []
        assert "saved mail" not in open(dovecot.logpath).read()
