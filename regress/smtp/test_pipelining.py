"""ESMTP extensions of the front end: the EHLO keywords, a pipelined
command burst answered in order, CHUNKING (BDAT), and the refusal of
pipelining after HELO, where PIPELINING was never offered."""
import time

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink, headers_of


def test_ehlo_keywords():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            assert raw.greeting[0] == 220, raw.greeting
            assert "relay.test" in raw.greeting[1][0], raw.greeting
            kw = [k.upper() for k in raw.ehlo()]
            words = {k.split()[0] for k in kw}
            for need in ("PIPELINING", "SIZE", "8BITMIME",
                         "ENHANCEDSTATUSCODES", "DSN", "CHUNKING"):
                assert need in words, "%s not in EHLO: %r" % (need, kw)


def test_pipelined_burst_in_order():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            raw.send("MAIL FROM:<alice@client.test>\r\n"
                     "RCPT TO:<a@dest.test>\r\n"
                     "RCPT TO:<no-domain-here>\r\n"
                     "RCPT TO:<b@dest.test>\r\n"
                     "DATA\r\n")
            replies = [raw.reply() for _ in range(5)]
            codes = [c for c, _ in replies]
            assert codes[0] == 250 and codes[1] == 250, replies
            assert 500 <= codes[2] < 600, replies
            assert codes[3] == 250 and codes[4] == 354, replies
            raw.send("Subject: burst\r\n\r\nbody\r\n.\r\nQUIT\r\n")
            code, texts = raw.reply()
            assert code == 250 and "queued as" in " ".join(texts), texts
            assert raw.reply()[0] == 221
        [m] = sink.wait_for(1)
        assert sorted(m.rcpt_addrs) == ["a@dest.test", "b@dest.test"]


def test_smtplib_pipelined_low_level():
    """The same burst through smtplib's putcmd/getreply."""
    import smtplib
    with Sink() as sink, Relay(sink=sink) as relay:
        s = smtplib.SMTP("127.0.0.1", relay.port, "client.test", timeout=10)
        try:
            s.ehlo()
            assert s.has_extn("pipelining")
            s.putcmd("MAIL", "FROM:<alice@client.test>")
            s.putcmd("RCPT", "TO:<c@dest.test>")
            s.putcmd("NOOP")
            s.putcmd("RSET")
            s.putcmd("MAIL", "FROM:<carol@client.test>")
            s.putcmd("RCPT", "TO:<d@dest.test>")
            codes = [s.getreply()[0] for _ in range(6)]
            assert codes == [250] * 6, codes
            code, text = s.data(b"Subject: after rset\r\n\r\nx\r\n")
            assert code == 250, text
        finally:
            s.close()
        [m] = sink.wait_for(1)
        assert m.mail_from == "carol@client.test"
        assert m.rcpt_addrs == ["d@dest.test"]


def test_bdat():
    with Sink() as sink, Relay(sink=sink) as relay:
        part1 = b"Subject: chunked\r\nX-Regress: bdat\r\n\r\nfirst chunk "
        part2 = b"second chunk\r\n.not stuffed\r\n"
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            raw.send(b"BDAT %d\r\n" % len(part1) + part1)
            code, texts = raw.reply()
            assert code == 250, ("BDAT", code, texts)
            raw.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
            code, texts = raw.reply()
            assert code == 250 and "queued as" in " ".join(texts), texts
            # pipelined: MAIL, RCPT, BDAT LAST in one write
            part3 = b"Subject: piped\r\n\r\npiped bdat\r\n"
            raw.send(b"MAIL FROM:<alice@client.test>\r\n"
                     b"RCPT TO:<carol@dest.test>\r\n"
                     b"BDAT %d LAST\r\n" % len(part3) + part3)
            codes = [raw.reply()[0] for _ in range(3)]
            assert codes == [250, 250, 250], codes
        msgs = sink.wait_for(2)
        by_rcpt = {m.rcpt_addrs[0]: m for m in msgs}
        assert by_rcpt["bob@dest.test"].data.endswith(part1 + part2), \
            by_rcpt["bob@dest.test"].data
        assert headers_of(by_rcpt["bob@dest.test"].data)["x-regress"] == \
            ["bdat"]
        assert by_rcpt["carol@dest.test"].data.endswith(part3)


def test_pipelining_after_helo_refused():
    """After HELO no PIPELINING was offered: a burst gets the reply to its
    first command, then 554 5.5.0 and the connection closes (Postfix's
    smtpd_forbid_unauth_pipelining)."""
    with Sink() as sink, Relay(sink=sink) as relay:
        mark = relay.mark()
        with clients.Raw(relay.port) as raw:
            assert raw.cmd("HELO client.test")[0] == 250
            raw.send("MAIL FROM:<alice@client.test>\r\n"
                     "RCPT TO:<bob@dest.test>\r\n"
                     "DATA\r\n")
            assert raw.reply()[0] == 250
            code, texts = raw.reply()
            assert code == 554, (code, texts)
            assert texts == ["5.5.0 Error: SMTP protocol synchronization"], \
                texts
            assert raw.closed(5), "still open after the 554"
        relay.wait_for_log(r"improper command pipelining after MAIL from "
                           r"\[127\.0\.0\.1\]", start=mark)
        assert relay.stats().get("smtp.error.pipelining") == "1"
        # HELO and MAIL in one write: the HELO is answered, no more
        with clients.Raw(relay.port) as raw:
            raw.send("HELO client.test\r\nMAIL FROM:<alice@client.test>\r\n")
            assert raw.reply()[0] == 250
            assert raw.reply()[0] == 554
            assert raw.closed(5)
        # the DATA body before the 354
        with clients.Raw(relay.port) as raw:
            assert raw.cmd("HELO client.test")[0] == 250
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            raw.send("DATA\r\nSubject: early\r\n\r\nx\r\n.\r\n")
            assert raw.reply()[0] == 354
            assert raw.reply()[0] == 554
            assert raw.closed(5)
        time.sleep(1)
        assert sink.messages == []


def test_pipelining_after_helo_behind_a_bdat_chunk():
    """A BDAT chunk's octets follow its command by design, but what comes
    after them is checked once the chunk is answered: MAIL and RCPT
    pipelined behind a chunk after HELO get 554 too."""
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            assert raw.cmd("HELO client.test")[0] == 250
            raw.send("BDAT 1\r\nxMAIL FROM:<alice@client.test>\r\n"
                     "RCPT TO:<bob@dest.test>\r\n")
            assert raw.reply()[0] == 503
            code, texts = raw.reply()
            assert code == 554, (code, texts)
            assert raw.closed(5), "still open after the 554"
        time.sleep(0.5)
        assert sink.messages == []


def test_bdat_before_helo_does_not_stand_for_helo():
    """A chunk thrown away before HELO leaves the session waiting for
    HELO: MAIL still needs one (and so HELO's rules still apply)."""
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            raw.send("BDAT 1\r\nx")
            assert raw.reply()[0] == 503
            code, texts = raw.cmd("MAIL FROM:<alice@client.test>")
            assert code == 503, (code, texts)
            assert raw.cmd("HELO client.test")[0] == 250
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250


def test_lockstep_after_helo_accepted():
    """A HELO client that waits for each reply is served."""
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            assert raw.cmd("HELO client.test")[0] == 250
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            assert raw.cmd("DATA")[0] == 354
            raw.send("Subject: lockstep\r\n\r\nx\r\n.\r\nQUIT\r\n")
            assert raw.reply()[0] == 250
            assert raw.reply()[0] == 221
        sink.wait_for(1)


def test_pipelining_after_helo_allowed_when_off():
    with Sink() as sink, Relay(sink=sink, conf={
            "smtp forbid-unauth-pipelining": "no"}) as relay:
        with clients.Raw(relay.port) as raw:
            assert raw.cmd("HELO client.test")[0] == 250
            raw.send("MAIL FROM:<alice@client.test>\r\n"
                     "RCPT TO:<bob@dest.test>\r\n"
                     "DATA\r\n")
            codes = [raw.reply()[0] for _ in range(3)]
            assert codes == [250, 250, 354], codes
            raw.send("Subject: off\r\n\r\nx\r\n.\r\n")
            assert raw.reply()[0] == 250
        sink.wait_for(1)
