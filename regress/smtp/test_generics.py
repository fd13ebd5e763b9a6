"""genericstable (issue 13, sendmail's FEATURE(genericstable)): `generics
domains`, `generics domains-file`, `generics entire-domain`.

A header sender of a generics domain, or an unqualified one, is looked up
in the genericstable (the whole address first, then the user alone) and
replaced by the map's value; a domain that is not a generics domain is
not looked up.  A value without a domain is qualified as an unqualified
address would be (the masquerade domain, or the hostname); a value with
one is not masqueraded again, as sendmail's ruleset 93 returns it.  The
front end asks policyd, and the field waits for the answer: BDAT chunks
cut inside it give the same bytes; with policyd unable to answer the
message ends with 451 and is not queued.  The envelope sender is looked
up with masquerade envelope, the recipient fields with masquerade
recipients.  smtpctl explain masquerade shows the
genericstable step."""
import contextlib
import os
import pwd
import signal
import smtplib
import subprocess
import time

from lib import BIN, test_dir
from lib.clients import Raw
from lib.daemon import Relay
from lib.sink import Sink, without_received

SENDMAIL = os.path.join(BIN, "sendmail")

MAP = """alice@gen.test alice.smith@corp.example
alice wrong@corp.example
bob bob.jones@corp.example
carol@other.test no@corp.example
dave dave.x
erin@gen.test erin.x@relay.test
"""

HEADERS_IN = (
    b"From: \"A. Smith\" (boss)\r\n"
    b"\t<alice@gen.test>\r\n"
    b"Sender: bob\r\n"
    b"Reply-To: carol@other.test, dave@gen.test\r\n"
    b"To: alice@gen.test\r\n"
    b"Subject: hello\r\n"
)

HEADERS_OUT = (
    b"From: \"A. Smith\" (boss)\r\n"
    b"\t<alice.smith@corp.example>\r\n"
    b"Sender: bob.jones@corp.example\r\n"
    b"Reply-To: carol@other.test, dave.x@relay.test\r\n"
    b"To: alice@gen.test\r\n"
    b"Subject: hello\r\n"
)

BODY = b"\r\nFrom: alice@gen.test stays in the body.\r\n"


def _conf(**over):
    conf = {"generics domains": '{ "gen.test" }'}
    conf.update(over)
    return conf


def _relay(sink, conf, text=MAP):
    relay = Relay(sink=sink, conf=conf, start=False)
    rc, out = relay.makemap("genericstable", text)
    assert rc == 0, out
    relay.start()
    return relay


def _send(relay, msg, sender="alice@gen.test"):
    with smtplib.SMTP("127.0.0.1", relay.port, local_hostname="client.test",
                      timeout=30) as s:
        s.sendmail(sender, ["carol@dest.example"], msg)


def test_header_senders_rewritten_full_address_first():
    with Sink() as sink, _relay(sink, _conf()) as relay:
        _send(relay, HEADERS_IN + BODY)
        [m] = sink.wait_for(1, timeout=30)
        assert without_received(m.data) == HEADERS_OUT + BODY, m.data
        assert m.mail_from == "alice@gen.test", m.mail_from


def test_no_generics_domains_nothing_looked_up():
    with Sink() as sink, _relay(sink, {}) as relay:
        _send(relay, HEADERS_IN + BODY)
        [m] = sink.wait_for(1, timeout=30)
        assert without_received(m.data) == HEADERS_IN + BODY, m.data


def test_entire_domain():
    msg = b"From: alice@sub.gen.test\r\nSubject: s\r\n" + BODY
    with Sink() as sink, _relay(sink, _conf()) as relay:
        _send(relay, msg)
        [m] = sink.wait_for(1, timeout=30)
        assert b"From: alice@sub.gen.test\r\n" in m.data, m.data
    with Sink() as sink:
        with _relay(sink, _conf(**{"generics entire-domain": "yes"})) \
                as relay:
            _send(relay, msg)
            [m] = sink.wait_for(1, timeout=30)
            # the user alone: the whole address has no entry
            assert b"From: wrong@corp.example\r\n" in m.data, m.data


def test_with_masquerading_generic_form_not_masqueraded_again():
    conf = _conf(**{"masquerade as": '"a.example"',
                    "masquerade domains": '{ "gen.test" }'})
    msg = (b"From: erin@gen.test\r\nSender: dave@gen.test\r\n"
           b"Reply-To: frank@gen.test\r\nSubject: s\r\n" + BODY)
    with Sink() as sink, _relay(sink, conf) as relay:
        _send(relay, msg)
        [m] = sink.wait_for(1, timeout=30)
        head = without_received(m.data)
        assert head.startswith(
            b"From: erin.x@relay.test\r\n"
            b"Sender: dave.x@a.example\r\n"
            b"Reply-To: frank@a.example\r\n"), head


def test_recipient_fields_with_masquerade_recipients():
    conf = _conf(**{"masquerade recipients": "yes"})
    msg = b"To: alice@gen.test,\r\n bob\r\nSubject: s\r\n" + BODY
    with Sink() as sink, _relay(sink, conf) as relay:
        _send(relay, msg)
        [m] = sink.wait_for(1, timeout=30)
        assert without_received(m.data).startswith(
            b"To: alice.smith@corp.example,\r\n bob.jones@corp.example\r\n"
            b"Subject: s\r\n"), m.data
        assert m.rcpt_addrs == ["carol@dest.example"], m.rcpt_addrs


def test_bdat_chunks_cut_inside_the_waiting_field():
    msg = HEADERS_IN + BODY
    cut = msg.index(b"<alice@gen") + 6
    with Sink() as sink, _relay(sink, _conf()) as relay:
        with Raw(relay.port) as c:
            c.ehlo()
            assert c.cmd("MAIL FROM:<x@client.test>")[0] == 250
            assert c.cmd("RCPT TO:<carol@dest.example>")[0] == 250
            c.send(b"BDAT %d\r\n" % cut + msg[:cut])
            assert c.reply()[0] == 250
            rest = msg[cut:]
            c.send(b"BDAT 3\r\n" + rest[:3])
            assert c.reply()[0] == 250
            c.send(b"BDAT %d LAST\r\n" % (len(rest) - 3) + rest[3:])
            code, text = c.reply()
            assert code == 250, text
        [m] = sink.wait_for(1, timeout=30)
        assert without_received(m.data) == HEADERS_OUT + BODY, m.data


def test_bdat_last_field_waits_at_the_end():
    msg = b"Subject: s\r\nFrom: bob"
    with Sink() as sink, _relay(sink, _conf()) as relay:
        with Raw(relay.port) as c:
            c.ehlo()
            assert c.cmd("MAIL FROM:<x@client.test>")[0] == 250
            assert c.cmd("RCPT TO:<carol@dest.example>")[0] == 250
            c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
            code, text = c.reply()
            assert code == 250, text
        [m] = sink.wait_for(1, timeout=30)
        assert without_received(m.data) == \
            b"Subject: s\r\nFrom: bob.jones@corp.example\r\n", m.data


def test_envelope_with_masquerade_envelope():
    conf = _conf(**{"masquerade envelope": "yes"})
    with Sink() as sink, _relay(sink, conf) as relay:
        _send(relay, b"Subject: s\r\n" + BODY)
        [m] = sink.wait_for(1, timeout=30)
        assert m.mail_from == "alice.smith@corp.example", m.mail_from
    with Sink() as sink, _relay(sink, _conf()) as relay:
        _send(relay, b"Subject: s\r\n" + BODY)
        [m] = sink.wait_for(1, timeout=30)
        assert m.mail_from == "alice@gen.test", m.mail_from


@contextlib.contextmanager
def _policyd_stopped(relay, c):
    """A transaction in DATA on c, then policyd (and the parent, so that
    it does not replace policyd meanwhile) stopped for the block."""
    c.ehlo()
    assert c.cmd("MAIL FROM:<x@client.test>")[0] == 250
    assert c.cmd("RCPT TO:<carol@dest.example>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    parent = relay.proc.pid
    os.kill(parent, signal.SIGSTOP)
    policyd = relay.kill("policyd", signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(policyd, signal.SIGCONT)
        os.kill(parent, signal.SIGCONT)


def test_policyd_stopped_gives_451_not_queued():
    """policyd stops once the body has begun: no answer within timeout
    command, and the message is refused, not sent unrewritten."""
    conf = _conf(**{"timeout command": "2s"})
    with Sink() as sink, _relay(sink, conf) as relay:
        with Raw(relay.port) as c:
            with _policyd_stopped(relay, c):
                c.send(HEADERS_IN + BODY + b".\r\n")
                code, text = c.reply(timeout=30)
            assert code == 451 and "4.3.0" in " ".join(text), (code, text)
        relay.wait_for_log(r"genericstable lookup failed: no answer from "
                           r"policyd", timeout=10)
        assert relay.show_queue() == [], relay.show_queue()
        assert sink.messages == []


def test_a_slow_answer_does_not_use_up_the_clients_data_time():
    """While a field waits for policyd the front end reads nothing, so
    the client cannot send: the body's clock (timeout data, limit
    data-rate) stops meanwhile.  policyd answers after 4 s, twice timeout
    data; the message still goes."""
    conf = _conf(**{"timeout data": "2s", "timeout command": "30s"})
    with Sink() as sink, _relay(sink, conf) as relay:
        with Raw(relay.port) as c:
            with _policyd_stopped(relay, c):
                c.send(HEADERS_IN)
                time.sleep(4)
            c.send(BODY + b".\r\n")
            code, text = c.reply(timeout=30)
            assert code == 250, (code, text)
        [m] = sink.wait_for(1, timeout=30)
        assert without_received(m.data) == HEADERS_OUT + BODY, m.data


def test_sendmail_command():
    from lib.localmail import system_user
    conf = _conf(**{"generics domains": '{ "relay.test" }'})
    with Sink() as sink, system_user("h13g") as user:
        r = Relay(sink=sink, conf=conf, start=False)
        r.with_sendmail_socket()
        rc, out = r.makemap("genericstable", "%s us.er@corp.example\n"
                            % user)
        assert rc == 0, out
        r.start()
        try:
            cmd = ["setpriv", "--reuid", user, "--regid",
                   str(pwd.getpwnam(user).pw_gid), "--init-groups",
                   SENDMAIL, "-C", r.confpath, "carol@dest.example"]
            p = subprocess.run(cmd, input=b"Subject: local\n\nHi.\n",
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            assert p.returncode == 0, p.stderr
            [m] = sink.wait_for(1, timeout=30)
        finally:
            r.stop()
        head = without_received(m.data).split(b"\r\n\r\n")[0]
        assert b"From: us.er@corp.example" in head, head


def test_domains_file():
    path = os.path.join(test_dir("generics"), "generics-domains")
    with open(path, "w") as f:
        f.write("# ours\ngen.test\n")
    conf = {"generics domains-file": '"%s"' % path}
    with Sink() as sink, _relay(sink, conf) as relay:
        _send(relay, HEADERS_IN + BODY)
        [m] = sink.wait_for(1, timeout=30)
        assert without_received(m.data) == HEADERS_OUT + BODY, m.data


def test_explain_masquerade_shows_generics():
    conf = _conf(**{"masquerade as": '"a.example"',
                    "masquerade domains": '{ "gen.test" }'})
    relay = Relay(conf=conf, start=False)
    rc, out = relay.makemap("genericstable", MAP)
    assert rc == 0, out
    rc, out = relay.smtpctl("map", "add", "genericstable", "zed",
                            "zed.x@corp.example")
    assert rc == 0, out
    rc, out = relay.smtpctl("map", "add", "genericstable", "@gen.test",
                            "x@corp.example")
    assert rc != 0, out
    cases = [
        ("zed@gen.test", "zed@gen.test -> zed.x@corp.example "
         "(genericstable zed)"),
        ("alice@gen.test", "alice@gen.test -> alice.smith@corp.example "
         "(genericstable alice@gen.test)"),
        ("dave@gen.test", "dave@gen.test -> dave.x@a.example "
         "(genericstable dave"),
        ("frank@gen.test", "frank@gen.test -> frank@a.example "
         "(masquerade domain"),
        ("carol@other.test", "carol@other.test -> carol@other.test "
         "(not a masqueraded domain)"),
    ]
    for addr, want in cases:
        rc, out = relay.smtpctl("explain", "masquerade", addr)
        assert rc == 0 and want in out, (addr, rc, out)


def test_a_utf8_value_only_with_smtputf8():
    """A UTF-8 genericstable value would put UTF-8 into a message the
    client sent without SMTPUTF8: it is not used there (logged), and is
    with SMTPUTF8 (the header may then hold UTF-8, RFC 6532)."""
    text = "alice@gen.test \u00fcser@corp.example\n"
    msg = b"From: alice@gen.test\r\nSubject: u\r\n" + BODY
    conf = _conf(**{"masquerade envelope": "yes"})
    with Sink(keywords=("PIPELINING", "8BITMIME", "SMTPUTF8")) as sink, \
            _relay(sink, conf, text=text) as relay:
        _send(relay, msg)
        [m] = sink.wait_for(1, timeout=30)
        assert b"From: alice@gen.test\r\n" in m.data, m.data
        assert m.mail_from == "alice@gen.test", m.mail_from
        relay.wait_for_log(r"genericstable value <\u00fcser@corp\.example> "
                           r"not used: UTF-8 in a transaction without "
                           r"SMTPUTF8")
        with smtplib.SMTP("127.0.0.1", relay.port,
                          local_hostname="client.test", timeout=30) as s:
            s.sendmail("alice@gen.test", ["carol@dest.example"], msg,
                       mail_options=["SMTPUTF8"])
        m = sink.wait_for(2, timeout=30)[1]
        assert "From: \u00fcser@corp.example\r\n".encode() in m.data, m.data
        assert m.mail_from == "\u00fcser@corp.example", m.mail_from
