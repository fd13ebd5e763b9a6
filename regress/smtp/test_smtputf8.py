"""SMTPUTF8 (RFC 6531, issue 13): UTF-8 addresses and headers are taken
when the client gives the SMTPUTF8 parameter and refused with 553 5.6.7
when it does not; the message goes on with SMTPUTF8 to a next hop that
offers it, with "with UTF8SMTP" in our Received: line.  To a next hop
that does not offer it, what needs it (a UTF-8 local part, a UTF-8
header) is returned with 5.6.7 and what does not goes without: an ASCII
message as it is, a U-label domain as its A-labels."""
from lib import clients, dsn, wait_until
from lib.daemon import Relay
from lib.localmail import relay_with_maps
from lib.sink import DEFAULT_KEYWORDS, Sink

JORG = "j\u00f6rg@client.test"
USER_CN = "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a"
BUCHER = "a@b\u00fccher.test"
BUCHER_A = "a@xn--bcher-kva.test"


def _transaction(port, sender, rcpts, data, params=" SMTPUTF8"):
    """One raw session; the reply to each command in turn."""
    replies = []
    with clients.Raw(port) as raw:
        raw.ehlo()
        replies.append(raw.cmd("MAIL FROM:<%s>%s" % (sender, params)))
        for r in rcpts:
            replies.append(raw.cmd("RCPT TO:<%s>" % r))
        replies.append(raw.cmd("DATA"))
        raw.send(data.encode("utf-8").replace(b"\n", b"\r\n") + b".\r\n")
        replies.append(raw.reply())
        raw.cmd("QUIT")
    return replies


def test_ehlo_offers_it_and_utf8_needs_the_parameter():
    with Relay() as relay, clients.Raw(relay.port) as raw:
        assert "SMTPUTF8" in raw.ehlo()
        code, texts = raw.cmd("MAIL FROM:<%s>" % JORG)
        assert (code, texts[0]) == (553, "5.6.7 Non-ASCII sender address "
                                    "needs the SMTPUTF8 parameter"), texts
        assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
        code, texts = raw.cmd("RCPT TO:<%s>" % USER_CN)
        assert (code, texts[0]) == (553, "5.6.7 Non-ASCII recipient "
                                    "address needs the SMTPUTF8 "
                                    "parameter"), texts
        assert raw.cmd("RSET")[0] == 250
        code, texts = raw.cmd("MAIL FROM:<a@client.test> SMTPUTF8=yes")
        assert code == 555, (code, texts)
        raw.send(b"MAIL FROM:<\xc3@client.test> SMTPUTF8\r\n")
        code, texts = raw.reply()
        assert code == 501, (code, texts)
        assert raw.cmd("MAIL FROM:<%s> SMTPUTF8" % JORG)[0] == 250


def test_relayed_with_smtputf8_to_a_next_hop_that_offers_it():
    keywords = list(DEFAULT_KEYWORDS) + ["SMTPUTF8"]
    with Sink(keywords=keywords) as sink, Relay(sink=sink) as relay:
        replies = _transaction(relay.port, JORG, [USER_CN, BUCHER],
                               "Subject: gr\u00fc\u00dfe\nFrom: <%s>\n\n"
                               "hello\n" % JORG)
        assert [c for c, _ in replies] == [250, 250, 250, 354, 250], replies
        msgs = sink.wait_for(2)
        assert sorted(a for m in msgs for a in m.rcpt_addrs) == \
            sorted([USER_CN, BUCHER]), msgs
        for m in msgs:
            assert m.mail_from == JORG, m.mail_from
            assert "SMTPUTF8" in m.mail_params, m.mail_params
            assert "Subject: gr\u00fc\u00dfe".encode() in m.data, m.data
            received = m.header("Received")
            assert "with UTF8SMTP id" in received, received


def test_next_hop_without_it_gets_what_needs_no_utf8():
    with Sink() as sink, Relay(sink=sink) as relay:
        replies = _transaction(relay.port, "alice@client.test",
                               ["plain@dest.test", "j\u00f6rg@dest.test",
                                BUCHER], "Subject: ascii\n\nhello\n")
        assert [c for c, _ in replies] == [250, 250, 250, 250, 354, 250], \
            replies

        def all_three():
            return len(sink.messages) >= 3 or None
        wait_until(all_three, 30, "two deliveries and a DSN")
        relay.wait_queue_empty(20)
        sent = [m for m in sink.messages if m.mail_from != ""]
        bounces = [m for m in sink.messages if m.mail_from == ""]
        assert len(sent) == 2 and len(bounces) == 1, sink.messages
        for m in sent:
            assert "SMTPUTF8" not in m.mail_params, m.mail_params
        assert sorted(a for m in sent for a in m.rcpt_addrs) == \
            sorted(["plain@dest.test", BUCHER_A]), sent
        d = dsn.parse(bounces[0].data)
        assert bounces[0].rcpt_addrs == ["alice@client.test"]
        assert [r["status"] for r in d.recipients] == ["5.6.7"], \
            d.recipients
        assert "SMTPUTF8 is required" in d.recipients[0]["diagnostic-code"]


def test_a_utf8_header_needs_it_for_every_recipient():
    with Sink() as sink, Relay(sink=sink) as relay:
        replies = _transaction(relay.port, "alice@client.test",
                               ["one@dest.test", "two@dest.test"],
                               "Subject: gr\u00fc\u00dfe\n\nhello\n")
        assert replies[-1][0] == 250, replies
        [b] = sink.wait_for(1, timeout=30)
        relay.wait_queue_empty(20)
        assert b.mail_from == "" and len(sink.messages) == 1, sink.messages
        d = dsn.parse(b.data)
        assert sorted(r["status"] for r in d.recipients) == \
            ["5.6.7", "5.6.7"], d.recipients
        # without SMTPUTF8 the same header goes as before (8-bit data)
        replies = _transaction(relay.port, "alice@client.test",
                               ["three@dest.test"],
                               "Subject: gr\u00fc\u00dfe\n\nhello\n",
                               params="")
        assert replies[-1][0] == 250, replies
        wait_until(lambda: len(sink.messages) >= 2 or None, 30,
                   "the message without SMTPUTF8")
        assert sink.messages[1].rcpt_addrs == ["three@dest.test"]


def test_a_domain_is_one_key_in_the_maps_as_u_labels_or_a_labels():
    """An access entry written with A-labels refuses the U-label form and
    one written with U-labels the A-label form; makemap stores both as
    A-labels, and `smtpctl map` shows them so."""
    access = ("To:xn--bcher-kva.test REJECT\n"
              "To:m\u00fcller.test REJECT\n")
    with relay_with_maps({"access": access}) as relay:
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<a@client.test> SMTPUTF8")[0] == 250
            for rcpt in (BUCHER, "b@xn--mller-kva.test",
                         "c@M\u00dcLLER.test"):
                code, texts = raw.cmd("RCPT TO:<%s>" % rcpt)
                assert code == 550 and "Mailbox disabled" in texts[0], \
                    (rcpt, code, texts)
            assert raw.cmd("RCPT TO:<d@other.test>")[0] == 250
        rc, out = relay.smtpctl("map", "show", "access")
        assert "to:xn--mller-kva.test" in out, out
        rc, out = relay.makemap("access", "To:\u2603.test REJECT\n")
        assert rc != 0 and "no valid IDN" in out, (rc, out)


def test_dsn_of_a_utf8_recipient_is_a_global_one():
    """RFC 6533: a UTF-8 recipient the next hop refuses comes back in a
    message/global-delivery-status naming it as "utf-8; ADDRESS", with
    the header as message/global-headers (RET=HDRS); the sender is ASCII,
    so the DSN goes without SMTPUTF8 but with BODY=8BITMIME."""
    keywords = list(DEFAULT_KEYWORDS) + ["SMTPUTF8"]
    with Sink(keywords=keywords) as sink, Relay(sink=sink) as relay:
        sink.reject_rcpt(USER_CN, 550, "5.1.1 No such user here")
        replies = _transaction(relay.port, "alice@client.test",
                               [USER_CN, "bob@dest.test"],
                               "Subject: gr\u00fc\u00dfe\n\nhello\n",
                               params=" SMTPUTF8 RET=HDRS")
        assert [c for c, _ in replies] == [250, 250, 250, 354, 250], replies

        def both():
            return len(sink.messages) >= 2 or None
        wait_until(both, 60, "a delivery and a DSN")
        relay.wait_queue_empty(30)
        [b] = [m for m in sink.messages if m.mail_from == ""]
        assert b.rcpt_addrs == ["alice@client.test"], b.rcpt_addrs
        assert "SMTPUTF8" not in b.mail_params, b.mail_params
        assert "BODY=8BITMIME" in b.mail_params, b.mail_params
        d = dsn.parse(b.data)
        assert d.report_type == "global-delivery-status", d.report_type
        assert d.status_type == "message/global-delivery-status", \
            d.status_type
        assert d.returned_type == "message/global-headers", d.returned_type
        [r] = d.recipients
        assert r["final-recipient"] == "utf-8; " + USER_CN, r
        assert "original-recipient" not in r, r
        assert (r["action"], r["status"]) == ("failed", "5.1.1"), r
        assert "Subject: gr\u00fc\u00dfe".encode() in d.returned, d.returned
        assert b"hello" not in d.returned, d.returned


def _rcpt_session(port, mail, rcpts, data="Subject: x\n\nhello\n"):
    """One raw session with RCPT lines as given; the reply to each."""
    replies = []
    with clients.Raw(port) as raw:
        raw.ehlo()
        replies.append(raw.cmd(mail))
        for line in rcpts:
            replies.append(raw.cmd(line))
        if any(c == 250 for c, _ in replies[1:]):
            replies.append(raw.cmd("DATA"))
            raw.send(data.encode().replace(b"\n", b"\r\n") + b".\r\n")
            replies.append(raw.reply())
        raw.cmd("QUIT")
    return replies


def test_utf8_orcpt_goes_7bit_to_a_next_hop_without_smtputf8():
    """ORCPT=utf-8; (RFC 6533 3): the 7-bit utf-8-addr-xtext form is taken
    without SMTPUTF8, the UTF-8 form only with it (555 5.6.7); a next hop
    without SMTPUTF8 gets the 7-bit form back."""
    with Sink() as sink, Relay(sink=sink) as relay:
        replies = _rcpt_session(
            relay.port, "MAIL FROM:<alice@client.test>",
            ["RCPT TO:<bob@dest.test> ORCPT=utf-8;j\\x{F6}rg@client.test",
             "RCPT TO:<carol@dest.test> ORCPT=utf-8;j\u00f6rg@client.test"])
        assert [c for c, _ in replies] == [250, 250, 555, 354, 250], replies
        assert replies[2][1][0] == ("5.6.7 Non-ASCII ORCPT needs the "
                                    "SMTPUTF8 parameter"), replies
        [m] = sink.wait_for(1, timeout=30)
        assert m.rcpts == [("bob@dest.test",
                            "ORCPT=utf-8;j\\x{F6}rg@client.test")], m.rcpts


def test_utf8_orcpt_in_the_dsn_and_to_a_next_hop_with_smtputf8():
    """With SMTPUTF8 both forms are taken and kept decoded: the next hop
    that offers it gets the UTF-8 form, and the DSN of the one it refuses
    names it in Original-Recipient as "utf-8;ADDRESS"."""
    keywords = list(DEFAULT_KEYWORDS) + ["SMTPUTF8"]
    with Sink(keywords=keywords) as sink, Relay(sink=sink) as relay:
        sink.reject_rcpt(USER_CN, 550, "5.1.1 No such user here")
        replies = _rcpt_session(
            relay.port, "MAIL FROM:<alice@client.test> SMTPUTF8",
            ["RCPT TO:<%s> ORCPT=utf-8;%s" % (USER_CN, USER_CN),
             "RCPT TO:<bob@dest.test> ORCPT=utf-8;a\\x{2B}\\x{7528}@x.test"])
        assert [c for c, _ in replies] == [250, 250, 250, 354, 250], replies
        wait_until(lambda: len(sink.messages) >= 2 or None, 60,
                   "a delivery and a DSN")
        relay.wait_queue_empty(30)
        [m] = [m for m in sink.messages if m.mail_from != ""]
        assert m.rcpts == [("bob@dest.test",
                            "ORCPT=utf-8;a\\x{2B}\u7528@x.test")], m.rcpts
        [b] = [m for m in sink.messages if m.mail_from == ""]
        d = dsn.parse(b.data)
        [r] = d.recipients
        assert r["original-recipient"] == "utf-8;" + USER_CN, r
        assert r["final-recipient"] == "utf-8; " + USER_CN, r


def test_dsn_to_a_utf8_sender_asks_for_smtputf8():
    """The DSN to a UTF-8 sender names it in its own To: header, so it
    goes with SMTPUTF8 to a next hop that offers it."""
    keywords = list(DEFAULT_KEYWORDS) + ["SMTPUTF8"]
    with Sink(keywords=keywords) as sink, Relay(sink=sink) as relay:
        sink.reject_rcpt("bob@dest.test", 550, "5.1.1 No such user here")
        replies = _transaction(relay.port, JORG, ["bob@dest.test"],
                               "Subject: ascii\n\nhello\n")
        assert replies[-1][0] == 250, replies
        [b] = sink.wait_for(1, timeout=30)
        relay.wait_queue_empty(30)
        assert b.mail_from == "" and b.rcpt_addrs == [JORG], b
        assert "SMTPUTF8" in b.mail_params, b.mail_params
        assert b.header("To") == "<%s>" % JORG, b.header("To")
        d = dsn.parse(b.data)
        assert d.status_type == "message/global-delivery-status", d
        assert d.returned_type == "message/global", d.returned_type
        assert d.recipients[0]["final-recipient"] == \
            "rfc822; bob@dest.test", d.recipients


def test_a_utf8_alias_target_makes_the_message_need_smtputf8():
    """A transaction without SMTPUTF8 whose recipient the virtusertable
    turns into a UTF-8 address: to a next hop that offers SMTPUTF8 it goes
    with the parameter (RFC 6531 3.4), to one that does not it is
    returned with 5.6.7, not sent raw."""
    vut = "joe@relay.test j\u00f6rg@remote.test\n"
    keywords = list(DEFAULT_KEYWORDS) + ["SMTPUTF8"]
    for offered in (True, False):
        with Sink(keywords=keywords if offered else DEFAULT_KEYWORDS) \
                as sink, relay_with_maps({"virtusertable": vut},
                                         sink=sink) as relay:
            replies = _transaction(relay.port, "alice@client.test",
                                   ["joe@relay.test"],
                                   "Subject: v\n\nhello\n", params="")
            assert replies[-1][0] == 250, replies
            [m] = sink.wait_for(1, timeout=30)
            if offered:
                assert m.rcpt_addrs == ["j\u00f6rg@remote.test"], m
                assert "SMTPUTF8" in m.mail_params, m.mail_params
            else:
                assert m.mail_from == "" and \
                    m.rcpt_addrs == ["alice@client.test"], m
                d = dsn.parse(m.data)
                assert d.recipients[0]["status"] == "5.6.7", d.recipients
