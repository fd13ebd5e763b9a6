"""A recipient that fails temporarily for longer than the queue lifetime
is bounced (Action: failed); past delay-warning the sender is told the
message is delayed (Action: delayed) while it stays queued."""
from lib import clients, dsn, timeout
from lib.daemon import Relay
from lib.sink import Sink

SENDER = "alice@sender.example.org"
RCPT = "bob@dest.test"


@timeout(90)
def test_queue_lifetime_bounce():
    with Sink() as sink, Relay(sink=sink, conf={
            "queue lifetime": "5s"}) as relay:
        sink.reject_rcpt(RCPT, 451, "4.3.0 Try again later")
        clients.send(relay.port, SENDER, [RCPT])
        [b] = sink.wait_for(1, timeout=40, pred=lambda m: m.mail_from == "")
        assert b.rcpt_addrs == [SENDER], b.rcpt_addrs
        d = dsn.parse(b.data)
        assert d.report_type == "delivery-status", d.content_type
        [r] = d.recipients
        assert r.get("action") == "failed", r
        assert r.get("status", "")[:2] in ("4.", "5."), r
        assert RCPT in r.get("final-recipient", ""), r
        relay.wait_queue_empty(15)
        assert not [m for m in sink.messages if m.mail_from == SENDER]


@timeout(90)
def test_delay_warning():
    with Sink() as sink, Relay(sink=sink, conf={
            "queue lifetime": "1m", "queue delay-warning": "3s"}) as relay:
        sink.reject_rcpt(RCPT, 451, "4.3.0 Try again later")
        clients.send(relay.port, SENDER, [RCPT])
        [b] = sink.wait_for(1, timeout=40, pred=lambda m: m.mail_from == "")
        assert b.rcpt_addrs == [SENDER], b.rcpt_addrs
        d = dsn.parse(b.data)
        [r] = d.recipients
        assert r.get("action") == "delayed", r
        assert r.get("status", "").startswith("4."), r
        envs = relay.show_queue()
        assert [e for e in envs if e["rcpt"] == RCPT], \
            "message left the queue after a delay warning: %r" % envs
