"""MAIL's AUTH= (RFC 4954 5, spec 8) kept in the queue and sent on: a
client authenticated through a real sasldb (saslpasswd2) submits with
smtplib; the sink, as next hop, records the MAIL parameters the relay
sends.  The trusted AUTH= value, the authentication id when the client
gave none, and <> for anyone else reach a next hop that offers AUTH, as
xtext; a next hop without AUTH gets no parameter; AuthOptions A without
client AUTH by the relay sends none; the value is in the envelope file
and survives a restart of the relay."""
import os
import smtplib

from lib import free_port
from lib.daemon import Relay
from lib.sasl import SaslDB, auth_extra, wait_auth_ready
from lib.sink import DEFAULT_KEYWORDS, Sink

USER, PASSWORD = "alice", "s3cret-pw"
# an authentication id that needs xtext: '+' and '=' are encoded
ODD, ODD_XTEXT = "al+ce=x", "al+2Bce+3Dx"
# one that looks like xtext already and must still be encoded
LOOKS, LOOKS_XTEXT = "bo+40b", "bo+2B40b"
WITH_AUTH = DEFAULT_KEYWORDS + ("AUTH PLAIN LOGIN",)
MSG = b"Subject: auth param\r\n\r\nhello\r\n"
# smtplib prefers CRAM-MD5, which AuthOptions p leaves offered without TLS
MECHS = "CRAM-MD5 PLAIN LOGIN"


def _relay(sink, auth_options="", start=True):
    db = SaslDB({USER: PASSWORD, ODD: PASSWORD, LOOKS: PASSWORD})
    port = free_port()
    relay = Relay(sink=sink, start=start,
                  extra=auth_extra(db, port, mechanisms=MECHS, trust=MECHS,
                                   auth_options=auth_options))
    if start:
        wait_auth_ready(port)
    return relay, port


def _submit(port, user=USER, mail_options=(), source="127.0.0.2",
            rcpt="bob@dest.test"):
    """One message through the AUTH listener; logs in when user is set.
    From 127.0.0.2 only the login grants relaying; 127.0.0.1 may relay
    by its address (spec 2.4)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=20,
                      source_address=(source, 0)) as c:
        c.ehlo("client.test")
        if user is not None:
            code, _ = c.login(user, PASSWORD)
            assert code == 235, code
        refused = c.sendmail("sender@client.test", [rcpt], MSG,
                             mail_options=list(mail_options))
        assert refused == {}, refused


def _params(msg):
    """The MAIL parameters the sink got, as {KEYWORD: value}."""
    out = {}
    for p in msg.mail_params.split():
        key, _, value = p.partition("=")
        assert key.upper() not in out, "repeated %s: %r" % (key,
                                                             msg.mail_params)
        out[key.upper()] = value
    return out


def _auth_sent(sink, rcpt):
    [m] = sink.wait_for(1, pred=lambda m: rcpt in m.rcpt_addrs)
    return _params(m).get("AUTH")


def test_authenticated_client_auth_param_passed_on():
    with Sink(keywords=WITH_AUTH) as sink:
        relay, port = _relay(sink)
        with relay:
            _submit(port, mail_options=["AUTH=alice"], rcpt="a1@dest.test")
            assert _auth_sent(sink, "a1@dest.test") == "alice"
            # with angle brackets it is trusted too, and kept as the id
            _submit(port, mail_options=["AUTH=<alice>"], rcpt="a2@dest.test")
            assert _auth_sent(sink, "a2@dest.test") == "alice"
            # an authenticated client naming someone else: <>
            _submit(port, mail_options=["AUTH=mallory+40evil.test"],
                    rcpt="a3@dest.test")
            assert _auth_sent(sink, "a3@dest.test") == "<>"
            relay.wait_for_log(r"from=<sender@client\.test>, .*"
                               r"relay=\[127\.0\.0\.2\], auth=alice$")


def test_authenticated_without_auth_param_sends_authid():
    with Sink(keywords=WITH_AUTH) as sink:
        relay, port = _relay(sink)
        with relay:
            _submit(port, rcpt="b1@dest.test")
            assert _auth_sent(sink, "b1@dest.test") == USER


def test_unauthenticated_auth_param_becomes_null():
    with Sink(keywords=WITH_AUTH) as sink:
        relay, port = _relay(sink)
        with relay:
            _submit(port, user=None, source="127.0.0.1",
                    mail_options=["AUTH=alice"], rcpt="c1@dest.test")
            assert _auth_sent(sink, "c1@dest.test") == "<>"
            _submit(port, user=None, source="127.0.0.1",
                    rcpt="c2@dest.test")
            assert _auth_sent(sink, "c2@dest.test") == "<>"


def test_next_hop_without_auth_gets_no_param():
    with Sink() as sink:
        relay, port = _relay(sink)
        with relay:
            _submit(port, mail_options=["AUTH=alice"], rcpt="d1@dest.test")
            [m] = sink.wait_for(1)
            params = _params(m)
            assert "AUTH" not in params, m.mail_params
            assert "SIZE" in params, m.mail_params


def test_auth_option_A_without_client_auth_sends_none():
    with Sink(keywords=WITH_AUTH) as sink:
        relay, port = _relay(sink, auth_options="p,y,A")
        with relay:
            _submit(port, mail_options=["AUTH=alice"], rcpt="e1@dest.test")
            [m] = sink.wait_for(1)
            params = _params(m)
            assert "AUTH" not in params, m.mail_params
            assert "SIZE" in params, m.mail_params


def test_auth_value_sent_as_xtext():
    with Sink(keywords=WITH_AUTH) as sink:
        relay, port = _relay(sink)
        with relay:
            _submit(port, user=ODD, mail_options=["AUTH=" + ODD_XTEXT],
                    rcpt="f1@dest.test")
            assert _auth_sent(sink, "f1@dest.test") == ODD_XTEXT
            _submit(port, user=ODD, rcpt="f2@dest.test")
            assert _auth_sent(sink, "f2@dest.test") == ODD_XTEXT
            _submit(port, user=LOOKS, mail_options=["AUTH=" + LOOKS_XTEXT],
                    rcpt="f3@dest.test")
            assert _auth_sent(sink, "f3@dest.test") == LOOKS_XTEXT


def _envelope_texts(relay):
    texts = []
    for f in relay.spool_files():
        if f.startswith("envelope/"):
            with open(os.path.join(relay.spool, f)) as fp:
                texts.append(fp.read())
    return texts


def test_auth_value_survives_restart():
    sink = Sink(keywords=WITH_AUTH)
    with sink:
        sink.stop()
        relay, port = _relay(sink)
        with relay:
            _submit(port, user=ODD, rcpt="g1@dest.test")
            relay.wait_queue(lambda e: len(e) == 1 and
                             int(e[0]["retries"]) >= 1, 20,
                             "one envelope tried once")
            texts = _envelope_texts(relay)
            assert len(texts) == 1 and "\nauth: %s\n" % ODD in texts[0], \
                texts
            relay.restart()
            wait_auth_ready(port)
            sink.start()
            assert _auth_sent(sink, "g1@dest.test") == ODD_XTEXT
            relay.wait_queue_empty()
