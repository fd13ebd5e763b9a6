"""BDAT edge cases (RFC 3030): a chunk whose octets the relay will not
read (a size that does not parse or overflows: 501; one over limit
message-size, alone or with the chunks before it: 552) is refused at
once, and since the client sends the octets anyway the session is
closed with "421 4.5.0 HOSTNAME Lost BDAT framing, closing connection";
the octets are never taken as commands.  Normal BDAT still works."""
from lib import clients
from lib.daemon import Relay
from lib.sink import Sink

LIMIT = 10240
# what a client sends after the BDAT line: if any of it were read as
# commands, the NOOPs would be answered
OCTETS = b"Subject: x\r\n\r\nNOOP\r\nNOOP\r\n"

CASES = [
    (b"BDAT 18446744073709551615", 552),
    (b"BDAT 18446744073709551615 LAST", 552),
    (b"BDAT %d LAST" % (LIMIT + 1), 552),
    (b"BDAT 18446744073709551616", 501),
    (b"BDAT 99999999999999999999999", 501),
    (b"BDAT", 501),
    (b"BDAT x", 501),
    (b"BDAT 10 FOO", 501),
    (b"BDAT -1", 501),
    (b"BDAT +5", 501),
]


def _open_tx(raw):
    raw.ehlo()
    assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
    assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250


def _refused_and_closed(raw, line, want):
    raw.send(line + b"\r\n" + OCTETS)
    code, texts = raw.reply(timeout=5)
    assert code == want, (line, code, texts)
    code, texts = raw.reply(timeout=5)
    assert code == 421 and texts[0] == ("4.5.0 relay.test Lost BDAT "
                                        "framing, closing connection"), \
        (line, code, texts)
    assert raw.closed(5), "%r: session still open" % line
    assert b"250" not in raw.buf, (line, raw.buf)


def test_bdat_unframed_closes():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit message-size": "10K"}) as relay:
        mark = relay.mark()
        for line, want in CASES:
            with clients.Raw(relay.port) as raw:
                _open_tx(raw)
                _refused_and_closed(raw, line, want)
        relay.wait_for_log(r"disconnect from .*\(BDAT syntax error\)",
                           start=mark)
        relay.wait_for_log(r"disconnect from .*\(BDAT chunk over limit "
                           r"message-size\)", start=mark)
        assert relay.stats().get("smtp.error.bdat") == str(len(CASES))
        assert not sink.messages


def test_bdat_total_over_limit():
    """The second chunk alone fits, with the first it does not."""
    with Sink() as sink, Relay(sink=sink, conf={
            "limit message-size": "10K"}) as relay:
        with clients.Raw(relay.port) as raw:
            _open_tx(raw)
            first = b"Subject: big\r\n\r\n" + (b"a" * 98 + b"\r\n") * 60
            raw.send(b"BDAT %d\r\n" % len(first) + first)
            assert raw.reply()[0] == 250
            _refused_and_closed(raw, b"BDAT %d LAST" % (LIMIT - 5000), 552)
        # outside a transaction (its chunk would only be discarded) too
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            _refused_and_closed(raw, b"BDAT 18446744073709551615", 552)
        assert not sink.messages


def test_bdat_up_to_the_limit():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit message-size": "10K"}) as relay:
        part1 = b"Subject: fits\r\n\r\n" + (b"b" * 98 + b"\r\n") * 40
        # a last line of 1000 octets at most, with its CRLF
        part2 = (b"c" * 98 + b"\r\n") * 55
        part2 += b"d" * (LIMIT - len(part1) - len(part2) - 2) + b"\r\n"
        with clients.Raw(relay.port) as raw:
            _open_tx(raw)
            raw.send(b"BDAT %d\r\n" % len(part1) + part1)
            assert raw.reply()[0] == 250
            raw.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
            code, texts = raw.reply()
            assert code == 250 and "queued as" in " ".join(texts), texts
            assert raw.cmd("NOOP")[0] == 250
        [m] = sink.wait_for(1)
        assert m.data.endswith(part1 + part2)
