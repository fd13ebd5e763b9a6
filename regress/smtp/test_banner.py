"""smtp banner (sendmail's confSMTP_LOGIN_MSG): the greeting text with
$j (our hostname), $v (our version), $b (the date, RFC 5322) and $$;
ESMTP goes in as the second word of the first line, as sendmail puts
it; "\\n" splits the text into 220- continuation lines; an unknown macro
is a config error.  The default greeting does not give the version."""
import re
import time

from lib import clients
from lib.daemon import Relay, RelayError
from lib.sink import Sink

DATE = r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"


def test_default_greeting_hides_the_version():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            assert raw.greeting == (220, ["relay.test ESMTP ready"]), \
                raw.greeting


def test_banner_macros_and_lines():
    with Sink() as sink, Relay(sink=sink, conf={
            "smtp banner": r'"$j Mail $v; $b\\n costs $$0\\nbye"'}) as relay:
        with clients.Raw(relay.port) as raw:
            code, lines = raw.greeting
            assert code == 220, raw.greeting
            assert len(lines) == 3, lines
            assert re.fullmatch(r"relay\.test ESMTP Mail \d+\.\d+; " + DATE,
                                lines[0]), lines
            assert lines[1:] == ["costs $0", "bye"], lines
            raw.ehlo()
            assert raw.cmd("QUIT")[0] == 221
        # the bytes: "220-" lines, the space after each \n dropped
        with clients.Raw(relay.port, greeting=False) as raw:
            deadline = time.monotonic() + 10
            while raw.buf.count(b"\r\n") < 3 and time.monotonic() < deadline:
                raw._fill(deadline)
            assert raw.buf.startswith(b"220-relay.test ESMTP Mail "), raw.buf
            assert b"\r\n220- costs" not in raw.buf, raw.buf
            assert b"\r\n220-costs $0\r\n220 bye\r\n" in raw.buf, raw.buf


def test_unknown_macro_is_a_config_error():
    relay = Relay(conf={"smtp banner": '"$j on $w"'}, start=False)
    try:
        relay.check_conf()
        raise AssertionError("smtpd -n took $w in smtp banner")
    except RelayError as err:
        assert "smtp banner" in str(err) and "unknown macro" in str(err), \
            str(err)
