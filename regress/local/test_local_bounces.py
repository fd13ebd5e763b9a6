"""Bounces to local senders (issue 11): a DSN for a sender in a local
domain is resolved like any local recipient and never routed out.  A
known local sender gets a local bounce envelope; an unknown one (the
README demo's me@localhost) cannot get its bounce, which then goes to the
double-bounce address or is dropped, as configured, and never travels
the network: no "Too many hops", one attempt at the next hop, no
envelope left for the mta."""
import re
import time

from lib import clients
from lib.localmail import (USERS_MAP, envelopes, local_envelopes,
                           mta_envelopes, rcpt_attempts, relay_with_maps,
                           wait_local)
from lib.sink import Sink

USERS = "alice\nbob\n"
RCPT = "x@remote.test"


def _refusing_sink():
    sink = Sink()
    sink.reject_rcpt(RCPT, 550, "5.1.1 No such user here")
    return sink


def _relay(sink, conf=None):
    return relay_with_maps({"local-users": USERS}, sink=sink,
                           conf=dict(USERS_MAP, **(conf or {})))


def _sent_once_and_never_looped(sink, relay, sender):
    """After the refusal: one attempt for RCPT, nothing for the sender
    at the sink, no hop-count loop in the log, nothing for the mta."""
    time.sleep(3)
    assert len(rcpt_attempts(sink, RCPT)) == 1, sink.commands
    assert rcpt_attempts(sink, sender) == [], sink.commands
    assert sink.bounces() == [], sink.bounces()
    assert "Too many hops" not in relay.log(), relay.log_tail(30)
    assert mta_envelopes(relay) == [], mta_envelopes(relay)


def test_bounce_to_a_local_sender_is_a_local_envelope():
    with _refusing_sink() as sink, _relay(sink) as relay:
        clients.send(relay.port, "alice@relay.test", [RCPT])
        [b] = wait_local(relay, 1, rcpt="alice", timeout=30)
        assert b["type"] == "bounce" and b["sender"] == "", b
        _sent_once_and_never_looped(sink, relay, "alice@relay.test")
        assert [e["evpid"] for e in local_envelopes(relay)] == \
            [b["evpid"]], envelopes(relay)


def test_bounce_to_an_unknown_local_sender_is_dropped():
    with _refusing_sink() as sink, _relay(sink) as relay:
        clients.send(relay.port, "nosuch@localhost", [RCPT])
        relay.wait_for_log(r"to=<%s>.*stat=" % re.escape(RCPT), timeout=30)
        # no double-bounce address (the default): nothing is left
        relay.wait_queue_empty(30)
        _sent_once_and_never_looped(sink, relay, "nosuch@localhost")
        assert envelopes(relay) == [], envelopes(relay)


def test_bounce_to_an_unknown_local_sender_goes_to_the_double_bounce():
    conf = {"bounce double-bounce": '"postmaster@relay.test"'}
    with _refusing_sink() as sink, _relay(sink, conf) as relay:
        clients.send(relay.port, "nosuch@localhost", [RCPT])
        envs = wait_local(relay, 1, timeout=30)
        # postmaster without an alias is root's mailbox
        assert [e["rcpt"] for e in envs] == ["root"], envs
        assert envs[0]["type"] == "bounce", envs
        _sent_once_and_never_looped(sink, relay, "nosuch@localhost")
        assert rcpt_attempts(sink, "postmaster@relay.test") == [], \
            sink.commands
        assert len(local_envelopes(relay)) == 1, envelopes(relay)


def test_bounce_to_a_sender_whose_alias_loops_is_dropped():
    """A sender that is an alias loop (a: b, b: a) resolves to nothing:
    its bounce fails at once and is dropped (no double-bounce address),
    instead of being asked about every few seconds for ever."""
    with _refusing_sink() as sink, relay_with_maps(
            {"local-users": USERS, "aliases": "a: b\nb: a\n"}, sink=sink,
            conf=USERS_MAP) as relay:
        clients.send(relay.port, "a@relay.test", [RCPT])
        relay.wait_for_log(r"DSN to <a@relay\.test> resolved: failed",
                           timeout=30)
        relay.wait_for_log(r"failed bounce dropped", timeout=30)
        relay.wait_queue_empty(20)
        _sent_once_and_never_looped(sink, relay, "a@relay.test")
