"""Slow senders (slowloris): a byte at a time does not keep a session
open.  A command line must be complete within timeout command of the
moment the session waits for it; a DATA body or a BDAT chunk starts with
timeout data of time and earns 1/limit data-rate s per octet, never more
than timeout data in hand.  Either ends with "421 4.4.2 HOSTNAME Error:
timeout exceeded", a log line, and no message."""
import socket
import time

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink

# a byte every TICK seconds: far below any rate, but each within the idle
# timeout, which every read restarts
TICK = 0.5


def _trickle(raw, data):
    """Send data one octet every TICK s until the relay answers: the
    answer (code, texts), or None if none came while the client was
    still sending (an idle timeout after the last octet does not count)."""
    for octet in data:
        try:
            raw.send(bytes([octet]))
        except OSError:
            break
        try:
            return raw.reply(timeout=TICK)
        except socket.timeout:
            continue
        except ConnectionError:
            return None
    return None


def _timed_out(answer):
    assert answer is not None, "no reply while the client trickled"
    code, texts = answer
    assert code == 421, answer
    assert texts[0].startswith("4.4.2 relay.test Error: timeout exceeded"), \
        answer


def test_command_line_deadline():
    with Sink() as sink, Relay(sink=sink, conf={
            "timeout command": "2s"}) as relay:
        mark = relay.mark()
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            # 40 octets at a TICK each: 20 s, ten times the deadline
            _timed_out(_trickle(raw, b"NOOP " + b"x" * 35))
            assert raw.closed(5), "still open after the 421"
        relay.wait_for_log(r"disconnect from .*timeout: command line not "
                           r"complete in 2s", start=mark)
        assert relay.stats().get("smtp.error.deadline") == "1", relay.stats()


def test_command_deadline_from_greeting():
    """Before HELO too: the greeting starts the clock."""
    with Sink() as sink, Relay(sink=sink, conf={
            "timeout command": "2s"}) as relay:
        with clients.Raw(relay.port) as raw:
            _timed_out(_trickle(raw, b"EHLO " + b"a" * 35))


def test_data_rate():
    with Sink() as sink, Relay(sink=sink, conf={
            "timeout data": "2s"}) as relay:
        mark = relay.mark()
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            assert raw.cmd("DATA")[0] == 354
            _timed_out(_trickle(raw, b"Subject: slow\r\n\r\n" + b"y" * 30))
            assert raw.closed(5), "still open after the 421"
        relay.wait_for_log(r"disconnect from .*timeout: \d+ octets of "
                           r"message data, below limit data-rate",
                           start=mark)
        assert relay.stats().get("smtp.error.data_rate") == "1", \
            relay.stats()
        time.sleep(1)
        assert sink.messages == [], "a timed-out message was delivered"


def test_bdat_chunk_rate():
    with Sink() as sink, Relay(sink=sink, conf={
            "timeout data": "2s"}) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            raw.send("BDAT 100 LAST\r\n")
            _timed_out(_trickle(raw, b"z" * 40))
        time.sleep(1)
        assert sink.messages == []


def test_data_rate_fast_client_passes():
    """A large body sent at once is far above the rate."""
    with Sink() as sink, Relay(sink=sink, conf={
            "timeout data": "2s", "timeout command": "2s"}) as relay:
        body = ("x" * 70 + "\r\n") * 6000
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"],
                     clients.make_message("alice@client.test",
                                          ["bob@dest.test"], body=body)[0])
        [m] = sink.wait_for(1)
        assert len(m.data) > 6000 * 72


def test_data_rate_off():
    """limit data-rate 0: timeout data is only the pause between reads."""
    with Sink() as sink, Relay(sink=sink, conf={
            "timeout data": "2s", "limit data-rate": "0"}) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            assert raw.cmd("DATA")[0] == 354
            # 17 octets over 8.5 s, with 2 s of credit and no rate
            assert _trickle(raw, b"Subject: slow\r\n\r\n") is None
            raw.send(b"body\r\n.\r\n")
            code, texts = raw.reply()
            assert code == 250, (code, texts)
        sink.wait_for(1)
