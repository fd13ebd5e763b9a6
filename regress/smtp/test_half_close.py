"""Half-close: a client that sends commands and then shuts down its
sending side (shutdown(SHUT_WR)) still gets the reply to every command it
sent, including those that wait for smtpd-policyd (MAIL, RCPT) or the
queue (the end of DATA), before the session ends."""
import socket
import time

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink


def _replies_until_eof(raw, timeout=15):
    """Read until the relay closes: the reply codes, one per reply."""
    deadline = time.monotonic() + timeout
    data = raw.buf
    eof = False
    while time.monotonic() < deadline:
        raw.sock.settimeout(deadline - time.monotonic())
        try:
            chunk = raw.sock.recv(65536)
        except (socket.timeout, ConnectionError):
            break
        if not chunk:
            eof = True
            break
        data += chunk
    assert eof, "the relay did not close after the client's FIN: %r" % data
    codes = []
    for line in data.split(b"\r\n"):
        if len(line) >= 4 and line[3:4] == b" ":
            codes.append(int(line[:3]))
    return codes, data


def _half_close(raw, data):
    """Send data and the FIN in one segment (TCP_CORK holds the data until
    the shutdown), so that the relay reads the EOF right after the
    commands, while the first of them still waits for a peer."""
    raw.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    raw.send(data)
    raw.sock.shutdown(socket.SHUT_WR)


def test_mail_then_fin():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            _half_close(raw, "MAIL FROM:<a@b.test>\r\n")
            codes, data = _replies_until_eof(raw)
            assert codes == [250], data


def test_rcpt_then_fin():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@b.test>")[0] == 250
            _half_close(raw, "RCPT TO:<bob@dest.test>\r\n")
            codes, data = _replies_until_eof(raw)
            assert codes == [250], data


def test_many_commands_then_fin():
    """The FIN is read while the first commands still wait for
    smtpd-policyd: the later ones are answered all the same."""
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            _half_close(raw, "MAIL FROM:<a@b.test>\r\nRSET\r\n" * 10)
            codes, data = _replies_until_eof(raw)
            assert codes == [250] * 20, data
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@b.test>")[0] == 250
            _half_close(raw, "".join("RCPT TO:<r%d@dest.test>\r\n" % i
                                     for i in range(20)))
            codes, data = _replies_until_eof(raw)
            assert codes == [250] * 20, data


def test_ehlo_mail_in_one_write_then_fin():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            _half_close(raw, "EHLO x\r\nMAIL FROM:<a@b.test>\r\n")
            codes, data = _replies_until_eof(raw)
            assert codes == [250, 250], data


def test_whole_message_then_fin():
    """The 250 of the end of data waits for the queue's commit; the
    message is delivered."""
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            _half_close(raw, "MAIL FROM:<alice@client.test>\r\n"
                        "RCPT TO:<bob@dest.test>\r\n"
                        "DATA\r\n"
                        "Subject: half-close\r\n\r\nbody\r\n.\r\n")
            codes, data = _replies_until_eof(raw)
            assert codes == [250, 250, 354, 250], data
            assert b"queued as" in data, data
        [m] = sink.wait_for(1)
        assert b"Subject: half-close" in m.data


def test_partial_line_then_fin():
    """An incomplete line before the FIN is dropped; the session ends."""
    with Sink() as sink, Relay(sink=sink) as relay:
        mark = relay.mark()
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            _half_close(raw, "NOOP\r\nNOO")
            codes, data = _replies_until_eof(raw)
            assert codes == [250], data
        relay.wait_for_log(r"disconnect from .*client closed connection",
                           start=mark)
