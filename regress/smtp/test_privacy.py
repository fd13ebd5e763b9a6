"""privacy FLAGS (sendmail's PrivacyOptions, spec 9.7): the flags by
sendmail's names, comma or space separated, with sendmail's exact
replies; the default is authwarnings (sendmail's cf default); smtp
vrfy/expn no are other spellings of novrfy/noexpn; an unknown flag is a
config error naming it."""
from lib import clients
from lib.daemon import Relay, RelayError
from lib.sink import Sink

NOVRFY = (252, ["2.5.2 Cannot VRFY user; try RCPT to attempt delivery "
                "(or try finger)"])
NOEXPN = (502, ["5.7.0 Sorry, we do not allow this operation"])
DEMAND = (503, ["5.0.0 I demand that you introduce yourself first"])


def test_default_answers_vrfy_expn_verb():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            ext = raw.ehlo()
            assert "VRFY" in ext and "ETRN" in ext and "DSN" in ext, ext
            assert raw.cmd("VRFY bob") == (252, [
                "2.5.2 Cannot VRFY user, but will accept message and "
                "attempt delivery"])
            assert raw.cmd("EXPN staff") == (252, [
                "2.5.2 Cannot EXPN list, but will accept message and "
                "attempt delivery"])
            assert raw.cmd("VERB") == (250, ["2.0.0 Verbose mode"])


def test_goaway():
    with Sink() as sink, Relay(sink=sink,
                               conf={"privacy": "goaway"}) as relay:
        mark = relay.mark()
        with clients.Raw(relay.port) as raw:
            assert raw.cmd("MAIL FROM:<a@client.test>") == (503, [
                "5.0.0 Polite people say HELO first"])
            # novrfy and noexpn answer before the HELO checks, as in
            # sendmail
            assert raw.cmd("VRFY bob") == NOVRFY
            assert raw.cmd("EXPN staff") == NOEXPN
            ext = raw.ehlo()
            assert "VRFY" not in ext, ext
            assert "ETRN" in ext, ext
            assert raw.cmd("VRFY bob") == NOVRFY
            assert raw.cmd("EXPN staff") == NOEXPN
            assert raw.cmd("VERB") == (502, ["5.7.0 Verbose unavailable"])
            assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
        relay.wait_for_log(r"EXPN from .*\[127\.0\.0\.1\] \[rejected\]",
                           start=mark)


def test_need_helo_flags():
    with Sink() as sink, Relay(sink=sink, conf={
            "privacy": "needvrfyhelo needexpnhelo"}) as relay:
        with clients.Raw(relay.port) as raw:
            assert raw.cmd("VRFY bob") == DEMAND
            assert raw.cmd("EXPN staff") == DEMAND
            # MAIL without needmailhelo: the server still wants a HELO
            assert raw.cmd("MAIL FROM:<a@client.test>") == (503, [
                "5.5.1 Send HELO/EHLO first"])
            raw.ehlo()
            assert raw.cmd("VRFY bob")[0] == 252
            assert raw.cmd("EXPN staff")[0] == 252
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            # without them, VRFY and EXPN need no HELO (sendmail)
            assert raw.cmd("VRFY bob")[0] == 252
            assert raw.cmd("EXPN staff")[0] == 252


def test_smtp_vrfy_expn_no_are_novrfy_noexpn():
    with Sink() as sink, Relay(sink=sink, conf={
            "smtp vrfy": "no", "smtp expn": "no"}) as relay:
        with clients.Raw(relay.port) as raw:
            ext = raw.ehlo()
            assert "VRFY" not in ext, ext
            assert raw.cmd("VRFY bob") == NOVRFY
            assert raw.cmd("EXPN staff") == NOEXPN
            # noexpn implies noverb
            assert raw.cmd("VERB") == (502, ["5.7.0 Verbose unavailable"])


def test_noreceipts_refuses_dsn():
    with Sink() as sink, Relay(sink=sink, conf={
            "privacy": "noreceipts"}) as relay:
        with clients.Raw(relay.port) as raw:
            ext = raw.ehlo()
            assert "DSN" not in ext, ext
            for line, word in (("MAIL FROM:<a@client.test> RET=HDRS", "RET"),
                               ("MAIL FROM:<a@client.test> ENVID=x1",
                                "ENVID")):
                assert raw.cmd(line) == (504, [
                    "5.7.0 Sorry, %s not supported, we do not allow DSN"
                    % word]), line
            assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
            for line, word in (("RCPT TO:<b@dest.test> NOTIFY=SUCCESS",
                                "NOTIFY"),
                               ("RCPT TO:<b@dest.test> ORCPT=rfc822;b@x.test",
                                "ORCPT")):
                assert raw.cmd(line) == (504, [
                    "5.7.0 Sorry, %s not supported, we do not allow DSN"
                    % word]), line
            assert raw.cmd("RCPT TO:<b@dest.test>")[0] == 250


def test_unknown_flag_is_a_config_error():
    relay = Relay(conf={"privacy": "noexpn, nosuchflag"}, start=False)
    try:
        relay.check_conf()
        raise AssertionError("smtpd -n took an unknown privacy flag")
    except RelayError as err:
        assert 'privacy: unknown flag "nosuchflag"' in str(err), str(err)
