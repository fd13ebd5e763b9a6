"""How the outbound client reacts to what the next hop says: per-recipient
outcomes in one transaction, tempfail at the end of DATA, a slow next hop,
ESMTP parameters (BODY, DSN) carried over, and one transaction per
destination domain."""
import time

from lib import clients, dsn, timeout
from lib.daemon import Relay
from lib.sink import Sink, DEFAULT_KEYWORDS

SENDER = "alice@sender.example.org"


def test_partial_rcpt_failure_bounces_only_the_failed():
    with Sink() as sink, Relay(sink=sink) as relay:
        sink.reject_rcpt("bad@dest.test", 550, "5.1.1 No such user")
        clients.send(relay.port, SENDER, ["good@dest.test", "bad@dest.test"])
        [b] = sink.wait_for(1, timeout=20, pred=lambda m: m.mail_from == "")
        [m] = sink.wait_for(1, pred=lambda m: m.mail_from == SENDER)
        assert m.rcpt_addrs == ["good@dest.test"], m.rcpt_addrs
        d = dsn.parse(b.data)
        assert [r.get("action") for r in d.recipients] == ["failed"], \
            d.recipients
        assert "bad@dest.test" in d.recipients[0].get("final-recipient", "")
        relay.wait_queue_empty(10)
        time.sleep(1)
        assert len(sink.messages) == 2, sink.messages


@timeout(60)
def test_tempfail_at_data_end_is_retried():
    with Sink() as sink, Relay(sink=sink) as relay:
        sink.data_reply = (451, "4.3.0 Not now")
        clients.send(relay.port, SENDER, ["bob@dest.test"])
        relay.wait_queue(lambda e: len(e) == 1 and "451" in e[0]["lasterror"],
                         timeout=20, what="the 451 in show queue")
        sink.data_reply = None
        [m] = sink.wait_for(1, timeout=20)
        assert m.rcpt_addrs == ["bob@dest.test"]
        relay.wait_queue_empty(10)
        assert not sink.bounces()


def test_permfail_at_data_end_bounces():
    with Sink() as sink, Relay(sink=sink) as relay:
        sink.data_replies[SENDER] = (554, "5.6.0 Content rejected")
        clients.send(relay.port, SENDER, ["bob@dest.test"])
        [b] = sink.wait_for(1, timeout=20, pred=lambda m: m.mail_from == "")
        relay.wait_queue_empty(10)
        assert not [m for m in sink.messages if m.mail_from == SENDER]
        [r] = dsn.parse(b.data).recipients
        assert r.get("action") == "failed" and r.get("status") == "5.6.0", r


@timeout(60)
def test_slow_next_hop_times_out_then_delivers():
    with Sink() as sink, Relay(sink=sink, conf={
            "mta timeout command": "1s"}) as relay:
        sink.delay = 3
        clients.send(relay.port, SENDER, ["bob@dest.test"])
        relay.wait_queue(lambda e: len(e) == 1 and e[0]["lasterror"],
                         timeout=20, what="a timeout in show queue")
        assert not sink.messages
        sink.delay = 0
        sink.wait_for(1, timeout=20)
        relay.wait_queue_empty(10)


def test_esmtp_parameters_carried_over():
    with Sink() as sink, Relay(sink=sink) as relay:
        clients.send(relay.port, SENDER, ["bob@dest.test"],
                     b"Subject: 8bit\r\n\r\ncaf\xc3\xa9\r\n",
                     mail_options=["BODY=8BITMIME", "RET=HDRS",
                                   "ENVID=env1+2B41"],
                     rcpt_options=["NOTIFY=SUCCESS,FAILURE",
                                   "ORCPT=rfc822;bob+2B42@dest.test"])
        [m] = sink.wait_for(1)
        params = m.mail_params.upper().split()
        assert "BODY=8BITMIME" in params, m.mail_params
        assert "RET=HDRS" in params, m.mail_params
        # kept decoded ("env1+41"), so encoded again on the way out
        assert "ENVID=ENV1+2B41" in params, m.mail_params
        rparams = m.rcpts[0][1].upper().split()
        assert "NOTIFY=SUCCESS,FAILURE" in rparams, m.rcpts
        assert "ORCPT=RFC822;BOB+2B42@DEST.TEST" in rparams, m.rcpts
        assert b"caf\xc3\xa9" in m.data
        relay.wait_queue_empty(10)
        time.sleep(1)
        # the next hop took NOTIFY=SUCCESS over: no DSN from this relay
        assert not sink.bounces(), sink.bounces()


def test_relayed_dsn_for_non_dsn_next_hop():
    """RFC 3461 4.1: NOTIFY=SUCCESS and a next hop without DSN: the relay
    tells the sender the message was relayed."""
    kw = [k for k in DEFAULT_KEYWORDS if k != "DSN"]
    with Sink(keywords=kw) as sink, Relay(sink=sink) as relay:
        clients.send(relay.port, SENDER, ["bob@dest.test"],
                     rcpt_options=["NOTIFY=SUCCESS"])
        [m] = sink.wait_for(1, pred=lambda m: m.mail_from == SENDER)
        assert "NOTIFY" not in m.rcpts[0][1].upper(), m.rcpts
        [b] = sink.wait_for(1, timeout=20, pred=lambda m: m.mail_from == "")
        [r] = dsn.parse(b.data).recipients
        assert r.get("action") == "relayed", r
        assert r.get("status", "").startswith("2."), r


def test_one_transaction_per_domain():
    with Sink() as sink, Relay(sink=sink) as relay:
        clients.send(relay.port, SENDER, ["a@dest.test", "b@other.test",
                                          "c@dest.test"])
        msgs = sink.wait_for(2)
        relay.wait_queue_empty(10)
        time.sleep(0.5)
        got = sorted(sorted(m.rcpt_addrs) for m in sink.messages)
        assert got == [["a@dest.test", "c@dest.test"], ["b@other.test"]], got
        assert msgs[0].data.split(b"\r\n\r\n", 1)[1] == \
            msgs[1].data.split(b"\r\n\r\n", 1)[1]
