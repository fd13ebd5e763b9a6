"""One address grammar in every process (issue 9, finding 1).

A quoted local part may hold '<' and '>' (RFC 5321 4.1.2).  The front
end accepted `"a>b"@relay.test` while policyd refused it and reported the
front end as a broken peer: the parent restarted smtpd-smtp and every
session in progress was dropped, so any client could take the listener
down.  Now policyd checks with the front end's grammar, the address is
relayed and delivered like any other (at the local domain it is a local
name, answered "User unknown" like any other that is no user), and what
a client chooses never restarts a process: the front end keeps its pid
and an unrelated session that was open all along still works."""
import smtplib

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink

QUOTED = '"a>b"@relay.test'
QUOTED_FAR = '"a>b"@dest.test'
QUOTED_LT = '"x<y"@client.test'


def _bystander(port):
    """An open session of another client, mid-transaction."""
    raw = clients.Raw(port)
    raw.ehlo()
    code, texts = raw.cmd("MAIL FROM:<carol@client.test>")
    assert code == 250, (code, texts)
    return raw


def _no_restart(relay, smtp_pid, bystander):
    """The front end is the same process; the other session goes on."""
    assert relay.children().get("smtp") == smtp_pid, \
        "the front end was restarted"
    assert "dropping" not in relay.log(), relay.log_tail()
    code, texts = bystander.cmd("RCPT TO:<dave@dest.test>")
    assert code == 250, ("bystander session", code, texts)
    assert bystander.cmd("RSET")[0] == 250


def test_quoted_gt_in_rcpt_is_relayed_without_restart():
    with Sink() as sink, Relay(sink=sink) as relay:
        smtp_pid = relay.pid("smtp")
        with _bystander(relay.port) as other:
            with clients.Raw(relay.port) as raw:
                raw.ehlo()
                assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
                code, texts = raw.cmd("RCPT TO:<%s>" % QUOTED)
                assert (code, texts) == (550, ["5.1.1 <%s>... User "
                                               "unknown" % QUOTED]), \
                    (code, texts)
                code, texts = raw.cmd("RCPT TO:<%s>" % QUOTED_FAR)
                assert code == 250, (code, texts)
                assert raw.cmd("RSET")[0] == 250
            _no_restart(relay, smtp_pid, other)
        clients.send(relay.port, "alice@client.test", [QUOTED_FAR])
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == [QUOTED_FAR], m.rcpt_addrs


def test_quoted_lt_in_mail_from_is_relayed_without_restart():
    with Sink() as sink, Relay(sink=sink) as relay:
        smtp_pid = relay.pid("smtp")
        with _bystander(relay.port) as other:
            clients.send(relay.port, QUOTED_LT, ["bob@dest.test"])
            _no_restart(relay, smtp_pid, other)
        [m] = sink.wait_for(1)
        assert m.mail_from == QUOTED_LT, m.mail_from


def test_quoted_rcpt_from_a_client_that_may_not_relay():
    """Relaying is still refused, per command, and nothing restarts."""
    with Sink() as sink, Relay(sink=sink) as relay:
        smtp_pid = relay.pid("smtp")
        with _bystander(relay.port) as other:
            try:
                s = smtplib.SMTP("127.0.0.1", relay.port, timeout=10,
                                 source_address=("127.0.0.2", 0))
                s.ehlo("client.test")
                assert s.mail("alice@client.test")[0] == 250
                code, text = s.rcpt(QUOTED_FAR)
                assert code == 550 and b"5.7.1" in text, (code, text)
                s.quit()
            finally:
                s.close()
            _no_restart(relay, smtp_pid, other)
