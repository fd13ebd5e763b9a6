"""Limits that keep one client or a full disk from taking the relay
down: limit sessions-per-address (421 to the address over it, while
other addresses are still served) and queue min-free (MAIL gets
452 4.3.1 while the spool's file system is short of space)."""
from lib import clients, wait_until
from lib.daemon import Relay
from lib.sink import Sink

TOO_MANY = "Too many connections from your address"


def _greeting(port, source):
    """The greeting's code, or 421 if the relay hangs up at once."""
    try:
        with clients.Raw(port, source=source, timeout=5) as raw:
            if raw.greeting[0] == 421:
                assert TOO_MANY in raw.greeting[1][0], raw.greeting
                assert raw.closed(5), "a refused client stays connected"
            return raw.greeting[0]
    except ConnectionError:
        return 421


def test_sessions_per_address_limit():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit sessions-per-address": "3"}) as relay:
        held = [clients.Raw(relay.port) for _ in range(3)]
        try:
            assert all(r.greeting[0] == 220 for r in held), \
                [r.greeting for r in held]
            assert _greeting(relay.port, "127.0.0.1") == 421
            relay.wait_for_log(r"connection from 127\.0\.0\.1 refused on "
                               r"\S+: too many sessions from that address "
                               r"\(3\)")
            # another address still gets in, and may send
            assert _greeting(relay.port, "127.0.0.2") == 220
            assert relay.stats().get("smtp.session.refused_address") == "1"
        finally:
            for r in held:
                r.close()
        # the slots of the address come back once its sessions end
        wait_until(lambda: _greeting(relay.port, "127.0.0.1") == 220, 10,
                   "a free session slot for 127.0.0.1")
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)


def _mail_reply(port):
    with clients.Raw(port) as raw:
        raw.ehlo()
        return raw.cmd("MAIL FROM:<alice@client.test>")


def test_spool_short_of_space_refuses_mail():
    # more than any test machine has free
    with Sink() as sink, Relay(sink=sink, conf={
            "queue min-free": "1048576G"}) as relay:
        code, texts = wait_until(
            lambda: (lambda r: r if r[0] != 250 else None)(
                _mail_reply(relay.port)), 10, "MAIL to be refused")
        assert (code, texts) == (452, ["4.3.1 Insufficient system storage"]), \
            (code, texts)
        relay.wait_for_log(r"MAIL refused: \d+ octets free in the spool, "
                           r"1125899906842624 wanted")
        assert not sink.messages


def test_spool_with_room_takes_mail():
    with Sink() as sink, Relay(sink=sink, conf={
            "queue min-free": "1M"}) as relay:
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            # a declared SIZE counts on top of min-free
            code, texts = raw.cmd("MAIL FROM:<alice@client.test> "
                                  "SIZE=1000")
            assert code == 250, (code, texts)
