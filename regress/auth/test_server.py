"""SMTP AUTH (RFC 4954) on the server side, through smtpd-auth and a real
Cyrus sasldb made with saslpasswd2: every mechanism the plugins offer
succeeds with the right password and fails with a wrong one; relaying is
granted only for a trusted mechanism; AUTH= on MAIL; the exchange's
errors (bad base64, "*", overlong lines, repeated failures); AUTH only
where a listener offers it and MAIL refused before it on an "auth"
listener; pipelined commands after AUTH are dropped."""
import re

from lib import clients, free_port
from lib.daemon import Relay
from lib.sasl import (RawFrom, SaslDB, auth_extra, auth_keywords, b64,
                      plain, scram, wait_auth_ready)
from lib.sink import Sink

USER, PASSWORD = "alice", "s3cret-pw"
ALL = "SCRAM-SHA-256 SCRAM-SHA-1 DIGEST-MD5 CRAM-MD5 PLAIN LOGIN"


def _relay(sink, options="auth-optional", **kw):
    db = SaslDB({USER: PASSWORD, "bob": "other-pw"})
    port = free_port()
    kw.setdefault("mechanisms", ALL)
    relay = Relay(sink=sink, extra=auth_extra(db, port, options, **kw))
    wait_auth_ready(port)
    return relay, port


def _swaks(port, mech, password, *more):
    r = clients.swaks(port, "--auth", mech, "--auth-user", USER,
                      "--auth-password", password, "--from",
                      "alice@client.test", "--to", "bob@dest.test",
                      "--local-interface", "127.0.0.2",
                      "--quit-after", "AUTH", *more)
    return r.stdout.decode("utf-8", "replace")


def test_swaks_each_mechanism_good_and_bad_password():
    with Sink() as sink:
        relay, port = _relay(sink)
        with relay:
            with RawFrom(port) as raw:
                assert auth_keywords(raw.ehlo()) == ALL.split()
            for mech in ("PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5"):
                mark = relay.mark()
                out = _swaks(port, mech, PASSWORD)
                assert "235 2.7.0 Authentication successful" in out, out
                relay.wait_for_log(r"AUTH=server, relay=\[127\.0\.0\.2\], "
                                   r"authid=alice, mech=%s, bits=0$" % mech,
                                   start=mark)
                out = _swaks(port, mech, "wrong")
                assert "535 5.7.8 Authentication credentials invalid" in \
                    out, out
                assert "235 " not in out, out


def test_scram_sha1_and_sha256():
    with Sink() as sink:
        relay, port = _relay(sink)
        with relay:
            for mech in ("SCRAM-SHA-1", "SCRAM-SHA-256"):
                with RawFrom(port) as raw:
                    raw.ehlo()
                    code, texts = scram(raw, mech, USER, PASSWORD)
                    assert code == 235, (mech, code, texts)
                with RawFrom(port) as raw:
                    raw.ehlo()
                    code, texts = scram(raw, mech, USER, "wrong")
                    assert code == 535, (mech, code, texts)


def _auth_plain(raw, user=USER, password=PASSWORD):
    raw.ehlo()
    return raw.cmd("AUTH PLAIN " + plain(user, password))


def test_relay_only_with_trusted_mechanism():
    with Sink() as sink:
        relay, port = _relay(sink, trust="PLAIN")
        with relay:
            with RawFrom(port) as raw:
                raw.ehlo()
                assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
                code, texts = raw.cmd("RCPT TO:<bob@dest.test>")
                assert (code, texts[0]) == (550, "5.7.1 <bob@dest.test>... "
                    "Relaying denied. Proper authentication required."), \
                    (code, texts)
            out = _swaks(port, "CRAM-MD5", PASSWORD, "--quit-after", "RCPT")
            assert "235 2.7.0" in out, out
            assert "550 5.7.1 <bob@dest.test>... Relaying denied" in out, out
            with RawFrom(port) as raw:
                assert _auth_plain(raw)[0] == 235
                assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
                assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
                assert raw.cmd("DATA")[0] == 354
                code, _ = raw.cmd("Subject: auth\r\n\r\nhi\r\n.")
                assert code == 250
            [m] = sink.wait_for(1)
            assert b"([127.0.0.2])\r\n\t(authenticated bits=0)\r\n\tby " \
                b"relay.test (smtpd) with ESMTPA id " in m.data, m.data[:400]


def test_no_trusted_mechanism_grants_nothing():
    with Sink() as sink:
        relay, port = _relay(sink)
        with relay:
            with RawFrom(port) as raw:
                assert _auth_plain(raw)[0] == 235
                assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
                code, texts = raw.cmd("RCPT TO:<bob@dest.test>")
                assert (code, texts[0]) == (550, "5.7.1 <bob@dest.test>... "
                                            "Relaying denied"), texts


def test_auth_listener_refuses_mail_before_auth():
    with Sink() as sink:
        relay, port = _relay(sink, options="auth", trust="PLAIN")
        with relay:
            with RawFrom(port) as raw:
                raw.ehlo()
                code, texts = raw.cmd("MAIL FROM:<alice@client.test>")
                assert (code, texts[0]) == (530, "5.7.0 Authentication "
                                            "required"), texts
                assert raw.cmd("AUTH PLAIN " + plain(USER, PASSWORD))[0] \
                    == 235
                assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            # the plain listener of the same relay neither offers nor takes it
            with RawFrom(relay.port) as raw:
                assert auth_keywords(raw.ehlo()) is None
                code, texts = raw.cmd("AUTH PLAIN " + plain(USER, PASSWORD))
                assert (code, texts[0]) == (503, "5.3.3 AUTH not available")
                assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250


def test_sequence_errors():
    with Sink() as sink:
        relay, port = _relay(sink)
        with relay:
            with RawFrom(port) as raw:
                raw.ehlo()
                assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
                code, texts = raw.cmd("AUTH PLAIN " + plain(USER, PASSWORD))
                assert (code, texts[0]) == (503, "5.5.1 AUTH not permitted "
                                            "during a mail transaction")
                assert raw.cmd("RSET")[0] == 250
                code, texts = raw.cmd("AUTH FOO-BAR")
                assert (code, texts[0]) == (504, "5.5.4 Unrecognized "
                                            "authentication type"), texts
                assert raw.cmd("AUTH PLAIN " + plain(USER, PASSWORD))[0] \
                    == 235
                code, texts = raw.cmd("AUTH PLAIN " + plain(USER, PASSWORD))
                assert (code, texts[0]) == (503, "5.5.1 Already "
                                            "authenticated")
                assert auth_keywords(raw.ehlo()) is None


def test_malformed_base64_cancel_and_overlong_line():
    with Sink() as sink:
        relay, port = _relay(sink)
        with relay:
            with RawFrom(port) as raw:
                raw.ehlo()
                code, texts = raw.cmd("AUTH PLAIN !!!notbase64")
                assert (code, texts[0]) == (501, "5.5.2 Invalid base64 "
                                            "data"), texts
                code, texts = raw.cmd("AUTH LOGIN")
                assert code == 334 and texts[0] == b64("Username:"), texts
                code, texts = raw.cmd("%%%")
                assert (code, texts[0]) == (501, "5.5.2 Invalid base64 "
                                            "data"), texts
                assert raw.cmd("AUTH LOGIN")[0] == 334
                code, texts = raw.cmd("*")
                assert (code, texts[0]) == (501, "5.0.0 AUTH aborted")
                assert raw.cmd("NOOP")[0] == 250
                assert raw.cmd("AUTH LOGIN")[0] == 334
                code, texts = raw.cmd("A" * 12289)
                assert (code, texts[0]) == (500, "5.5.6 Authentication "
                                            "Exchange line is too long")
                assert raw.cmd("NOOP")[0] == 250
                # at the limit it is still a response (a wrong one)
                assert raw.cmd("AUTH PLAIN")[0] == 334
                code, texts = raw.cmd("QUFB" * 3072)
                assert code == 535, (code, texts)


def test_repeated_failures_end_the_session():
    with Sink() as sink:
        relay, port = _relay(sink, more=["auth max-failures 2"])
        with relay:
            with RawFrom(port) as raw:
                raw.ehlo()
                code, texts = raw.cmd("AUTH PLAIN " + plain(USER, "x"))
                assert (code, texts[0]) == (535, "5.7.8 Authentication "
                                            "credentials invalid")
                code, texts = raw.cmd("AUTH PLAIN " + plain("nobody", "x"))
                assert code == 535, texts
                code, texts = raw.reply()
                assert code == 421 and "Too many authentication failures" \
                    in texts[0], texts
                assert raw.closed()
            relay.wait_for_log(r"AUTH failed: relay=\[127\.0\.0\.2\], "
                               r"mech=PLAIN")


def test_mail_auth_parameter():
    with Sink() as sink:
        relay, port = _relay(sink, trust="PLAIN")
        with relay:
            with RawFrom(port) as raw:
                raw.ehlo()
                for param, reply in (
                        ("AUTH=", "501 5.5.2 AUTH= requires a value"),
                        ("AUTH", "501 5.5.2 AUTH= requires a value"),
                        ("AUTH=<> AUTH=<>",
                         "501 5.5.0 Duplicate AUTH parameter"),
                        ("AUTH=a=b", "501 5.5.4 Syntax error in AUTH "
                         "parameter value")):
                    code, texts = raw.cmd("MAIL FROM:<a@client.test> "
                                          + param)
                    assert "%d %s" % (code, texts[0]) == reply, (param, texts)
                # untrusted (not authenticated): accepted, replaced by <>
                code, _ = raw.cmd("MAIL FROM:<a@client.test> "
                                  "AUTH=alice+40client.test")
                assert code == 250


def test_commands_pipelined_after_auth_are_dropped():
    with Sink() as sink:
        relay, port = _relay(sink, trust="PLAIN")
        with relay:
            with RawFrom(port) as raw:
                raw.ehlo()
                mark = relay.mark()
                raw.send("AUTH PLAIN %s\r\nMAIL FROM:<a@client.test>\r\n"
                         % plain(USER, PASSWORD))
                assert raw.reply()[0] == 235
                relay.wait_for_log(r"\d+ octets after AUTH discarded",
                                   start=mark)
                code, texts = raw.cmd("NOOP")
                assert code == 250, (code, texts)
                assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
            assert re.search(r"smtp\.auth\.pipelined=1",
                             relay.smtpctl("show", "stats")[1])


def test_srv_features_auth_letters():
    """Srv_Features (spec 4.2): A hides AUTH (503 5.3.3), l requires it
    before MAIL (530 5.7.0), c drops PLAIN and LOGIN before TLS."""
    with Sink() as sink:
        relay, port = _relay(sink)
        with relay:
            rc, out = relay.makemap("access", "Srv_Features:127.0.0.3 A\n"
                                    "Srv_Features:127.0.0.4 l c\n")
            assert rc == 0, out
            with RawFrom(port, source="127.0.0.3") as raw:
                assert auth_keywords(raw.ehlo()) is None, "AUTH offered"
                assert raw.cmd("AUTH PLAIN " + plain(USER, PASSWORD)) == \
                    (503, ["5.3.3 AUTH not available"])
                assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
            with RawFrom(port, source="127.0.0.4") as raw:
                offered = auth_keywords(raw.ehlo())
                assert offered == [m for m in ALL.split()
                                   if m not in ("PLAIN", "LOGIN")], offered
                assert raw.cmd("MAIL FROM:<a@client.test>") == \
                    (530, ["5.7.0 Authentication required"])
                code, texts = raw.cmd("AUTH PLAIN " + plain(USER, PASSWORD))
                assert code == 504, (code, texts)
            with RawFrom(port) as raw:
                assert auth_keywords(raw.ehlo()) == ALL.split()
