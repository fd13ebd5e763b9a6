"""A recipient the next hop refuses with 550 is bounced to the sender with
a proper DSN (RFC 3464) from <>, honouring RET, ENVID, ORCPT and NOTIFY;
a bounce that itself fails is not bounced again (double bounce goes to
the configured address, or is dropped)."""
import time

from lib import clients, dsn, wait_until
from lib.daemon import Relay
from lib.sink import Sink

SENDER = "alice@sender.example.org"
RCPT = "bob@dest.test"


def _bounced_sink():
    sink = Sink()
    sink.reject_rcpt(RCPT, 550, "5.1.1 No such user here")
    return sink


def _one_bounce(sink, relay, to=SENDER):
    [b] = sink.wait_for(1, timeout=30, pred=lambda m: m.mail_from == "")
    relay.wait_queue_empty(15)
    time.sleep(0.5)
    assert len(sink.bounces()) == 1, sink.bounces()
    assert b.rcpt_addrs == [to], b.rcpt_addrs
    return b


def test_bounce_on_5xx_full_dsn():
    with _bounced_sink() as sink, Relay(sink=sink) as relay:
        msg, mid = clients.make_message(SENDER, [RCPT], subject="doomed",
                                        body="the body of the doomed one")
        clients.send(relay.port, SENDER, [RCPT], msg)
        b = _one_bounce(sink, relay)
        d = dsn.parse(b.data)
        assert d.content_type == "multipart/report", d.content_type
        assert d.report_type == "delivery-status", d.report_type
        assert "relay.test" in d.per_message.get("reporting-mta", ""), \
            d.per_message
        [r] = d.recipients
        assert r.get("action") == "failed", r
        assert r.get("status", "").startswith("5."), r
        assert r.get("status") == "5.1.1", r
        assert RCPT in r.get("final-recipient", ""), r
        diag = r.get("diagnostic-code", "")
        assert diag.lower().startswith("smtp;") and "550" in diag, r
        # no RET given: the whole message comes back
        assert d.returned is not None, "no returned content"
        assert b"the body of the doomed one" in d.returned, d.returned
        assert mid.encode() in d.returned
        assert not any(m.mail_from == SENDER for m in sink.messages)


def test_bounce_ret_hdrs_envid_orcpt():
    with _bounced_sink() as sink, Relay(sink=sink) as relay:
        msg, mid = clients.make_message(SENDER, [RCPT], subject="hdrs only",
                                        body="secret body text")
        clients.send(relay.port, SENDER, [RCPT], msg,
                     mail_options=["RET=HDRS", "ENVID=regress+2Denv42"],
                     rcpt_options=["NOTIFY=FAILURE",
                                   "ORCPT=rfc822;orig-bob@dest.test"])
        b = _one_bounce(sink, relay)
        d = dsn.parse(b.data)
        assert d.report_type == "delivery-status"
        assert d.per_message.get("original-envelope-id") in (
            "regress+2Denv42", "regress-env42"), d.per_message
        [r] = d.recipients
        assert r.get("action") == "failed", r
        assert r.get("original-recipient", "").replace(" ", "").lower() == \
            "rfc822;orig-bob@dest.test", r
        assert d.returned is not None, "no returned headers"
        assert d.returned_type in ("text/rfc822-headers",
                                   "message/global-headers"), d.returned_type
        assert mid.encode() in d.returned
        assert b"secret body text" not in b.data, "RET=HDRS returned the body"


def test_notify_never_gives_no_dsn():
    with _bounced_sink() as sink, Relay(sink=sink) as relay:
        clients.send(relay.port, SENDER, [RCPT],
                     rcpt_options=["NOTIFY=NEVER"])
        # the attempt happened (the sink saw the RCPT), then nothing
        wait_until(lambda: any(b"RCPT TO:<%s>" % RCPT.encode() in c
                               for _, c in sink.commands), 20,
                   "the delivery attempt")
        relay.wait_queue_empty(15)
        time.sleep(2)
        assert not sink.bounces(), sink.bounces()


def test_double_bounce_to_postmaster():
    bad = "bad@sender.example.org"
    with _bounced_sink() as sink, \
            Relay(sink=sink, conf={
                "bounce double-bounce": '"pm@postmaster.example.org"'}) \
            as relay:
        sink.reject_rcpt(bad, 550, "5.1.1 Sender gone")
        clients.send(relay.port, bad, [RCPT])
        [db] = sink.wait_for(1, timeout=40, pred=lambda m:
                             "pm@postmaster.example.org" in m.rcpt_addrs)
        relay.wait_queue_empty(20)
        time.sleep(2)
        # the failed bounce to bad@ was not bounced again to <> or bad@
        assert [m for m in sink.messages] == [db], sink.messages
        assert db.mail_from == "", db.mail_from
        assert b"bad@sender.example.org" in db.data
        prefix = b"RCPT TO:<" + bad.upper().encode()
        attempts = [c for _, c in sink.commands
                    if c.upper().startswith(prefix)]
        assert len(attempts) == 1, attempts


def test_double_bounce_drop():
    bad = "bad@sender.example.org"
    with _bounced_sink() as sink, \
            Relay(sink=sink, conf={"bounce double-bounce": "drop"}) as relay:
        sink.reject_rcpt(bad, 550, "5.1.1 Sender gone")
        clients.send(relay.port, bad, [RCPT])
        prefix = b"RCPT TO:<" + bad.upper().encode()
        wait_until(lambda: any(c.upper().startswith(prefix)
                               for _, c in sink.commands), 30,
                   "the bounce attempt to the sender")
        relay.wait_queue_empty(20)
        time.sleep(2)
        assert not sink.messages, sink.messages
