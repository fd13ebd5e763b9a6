"""limit junk-commands (Postfix's smtpd_junk_command_limit): commands
that move no mail (NOOP, RSET, VRFY, EXPN, HELP, an empty BDAT that is
not the last) are answered up to the limit, the next one gets
"421 4.7.0 HOSTNAME Error: too many junk commands" and the session is
closed; an accepted message starts the count over."""
from lib import clients
from lib.daemon import Relay
from lib.sink import Sink

JUNK = "too many junk commands"


def _burst(raw, lines, answered):
    """Send lines in one write; the first `answered` get 2xx/5xx replies,
    the next one 421, then the relay hangs up."""
    raw.send("".join(line + "\r\n" for line in lines))
    codes = [raw.reply()[0] for _ in range(answered)]
    code, texts = raw.reply()
    assert code == 421 and JUNK in texts[0].lower(), (code, texts)
    assert texts[0].startswith("4.7.0 relay.test "), texts
    assert raw.closed(5), "session still open after the 421"
    return codes


def test_default_limit_noop_burst():
    with Sink() as sink, Relay(sink=sink) as relay:
        mark = relay.mark()
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            codes = _burst(raw, ["NOOP"] * 101, 100)
            assert codes == [250] * 100, codes
        relay.wait_for_log(r"disconnect from .*\(too many junk commands\)",
                           start=mark)
        assert relay.stats().get("smtp.error.junk") == "1"


def test_configured_limit_mixed_verbs():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit junk-commands": "5"}) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            _burst(raw, ["NOOP"] * 6, 5)
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            codes = _burst(raw, ["RSET", "VRFY bob", "EXPN staff", "HELP",
                                 "BDAT 0", "NOOP"], 5)
            assert codes == [250, 252, 252, 214, 503], codes
        # other commands are no junk: MAIL, RCPT and EHLO do not count
        with clients.Raw(relay.port) as raw:
            for _ in range(3):
                raw.ehlo()
                assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
                assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
                assert raw.cmd("RSET")[0] == 250
            assert raw.cmd("NOOP")[0] == 250
            assert raw.cmd("QUIT")[0] == 221


def test_accepted_message_starts_over():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit junk-commands": "5"}) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            for _ in range(5):
                assert raw.cmd("NOOP")[0] == 250
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            assert raw.cmd("DATA")[0] == 354
            raw.send(b"Subject: between\r\n\r\nbody\r\n.\r\n")
            code, texts = raw.reply()
            assert code == 250 and "queued as" in " ".join(texts), texts
            _burst(raw, ["NOOP"] * 6, 5)
        sink.wait_for(1)
