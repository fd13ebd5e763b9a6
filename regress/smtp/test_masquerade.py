"""Masquerading (issue 13, spec 9.5): `masquerade as`, domains (inline
and a file), entire-domain, envelope, exposed-users, exceptions,
recipients, limited.

The headers are rewritten once, as the front end writes the message to
the queue file; a message relayed to the sink must come out with exactly
the expected header bytes (the front end's Received: line aside): a
folded From: with a comment and an encoded word in its display name, a
group, an exposed user, an exception, a subdomain with entire-domain on
and off, an unqualified sender (the masquerade domain) and recipient
(the hostname, or with recipients the masquerade domain); an unrelated
domain and a field that is
not an address field untouched byte for byte.  The envelope sender
changes only with `masquerade envelope yes`.  BDAT chunks cut inside a
folded field give the same bytes; a local recipient's mbox has the
masqueraded From: too (rewritten at intake, not per mailer).  Over the sendmail command
the From: the command adds (user@hostname) is masqueraded too.  smtpctl
explain masquerade names the rule and the result; a missing
domains-file is a config error."""
import os
import pwd
import smtplib
import subprocess

from lib import BIN, test_dir
from lib.clients import Raw
from lib.daemon import Relay, RelayError
from lib.localmail import mail_spool, mbox_messages, system_user
from lib.sink import Sink, without_received

SENDMAIL = os.path.join(BIN, "sendmail")

HEADERS_IN = (
    b"From: =?utf-8?q?J=C3=B6rg?= (the boss)\r\n"
    b"\t<joerg@relay.test>\r\n"
    b"Sender: root@relay.test\r\n"
    b"Reply-To: team: ann@b.example, \"Bo, B\" <bo@x.b.example>;,\r\n"
    b" keep@keep.b.example, eve@other.example\r\n"
    b"To: carol@dest.example, dan@relay.test\r\n"
    b"Cc: frank (F)\r\n"
    b"Errors-To: alice\r\n"
    b"Disposition-Notification-To: alice@relay.test\r\n"
    b"Return-Receipt-To: alice@relay.test\r\n"
    b"X-Other: alice@relay.test\r\n"
    b"Resent-From: Broken <bob@relay.test\r\n"
    b"Subject: hello\r\n"
)

# entire-domain no, recipients no
HEADERS_PLAIN = (
    b"From: =?utf-8?q?J=C3=B6rg?= (the boss)\r\n"
    b"\t<joerg@a.example>\r\n"
    b"Sender: root@relay.test\r\n"
    b"Reply-To: team: ann@a.example, \"Bo, B\" <bo@x.b.example>;,\r\n"
    b" keep@keep.b.example, eve@other.example\r\n"
    b"To: carol@dest.example, dan@relay.test\r\n"
    b"Cc: frank@relay.test (F)\r\n"
    b"Errors-To: alice@a.example\r\n"
    b"Disposition-Notification-To: alice@a.example\r\n"
    b"Return-Receipt-To: alice@relay.test\r\n"
    b"X-Other: alice@relay.test\r\n"
    b"Resent-From: Broken <bob@relay.test\r\n"
    b"Subject: hello\r\n"
)

# entire-domain yes, recipients yes
HEADERS_ALL = (
    b"From: =?utf-8?q?J=C3=B6rg?= (the boss)\r\n"
    b"\t<joerg@a.example>\r\n"
    b"Sender: root@relay.test\r\n"
    b"Reply-To: team: ann@a.example, \"Bo, B\" <bo@a.example>;,\r\n"
    b" keep@keep.b.example, eve@other.example\r\n"
    b"To: carol@dest.example, dan@a.example\r\n"
    b"Cc: frank@a.example (F)\r\n"
    b"Errors-To: alice@a.example\r\n"
    b"Disposition-Notification-To: alice@a.example\r\n"
    b"Return-Receipt-To: alice@relay.test\r\n"
    b"X-Other: alice@relay.test\r\n"
    b"Resent-From: Broken <bob@relay.test\r\n"
    b"Subject: hello\r\n"
)

BODY = b"\r\nFrom: body@relay.test stays.\r\n"


def _masq_conf(**over):
    conf = {"masquerade as": '"a.example"',
            "masquerade domains": '{ "b.example" }',
            "masquerade exposed-users": "{ root }",
            "masquerade exceptions": '{ "keep.b.example" }'}
    conf.update(over)
    return conf


def _relay_one(sink, conf, sender="joerg@relay.test"):
    with Relay(sink=sink, conf=conf) as relay:
        with smtplib.SMTP("127.0.0.1", relay.port,
                          local_hostname="client.test", timeout=15) as s:
            s.sendmail(sender, ["carol@dest.example"], HEADERS_IN + BODY)
        [m] = sink.wait_for(1, timeout=30)
        return m


def test_sender_headers_masqueraded_rest_byte_for_byte():
    with Sink() as sink:
        m = _relay_one(sink, _masq_conf())
        assert without_received(m.data) == HEADERS_PLAIN + BODY, m.data
        assert m.mail_from == "joerg@relay.test", m.mail_from


def test_entire_domain_recipients_and_envelope():
    conf = _masq_conf(**{"masquerade entire-domain": "yes",
                         "masquerade recipients": "yes",
                         "masquerade envelope": "yes"})
    with Sink() as sink:
        m = _relay_one(sink, conf)
        assert without_received(m.data) == HEADERS_ALL + BODY, m.data
        assert m.mail_from == "joerg@a.example", m.mail_from
        assert m.rcpt_addrs == ["carol@dest.example"], m.rcpt_addrs


def test_envelope_exposed_user_kept():
    conf = _masq_conf(**{"masquerade envelope": "yes"})
    with Sink() as sink:
        m = _relay_one(sink, conf, sender="root@relay.test")
        assert m.mail_from == "root@relay.test", m.mail_from


def test_limited_keeps_our_own_names():
    conf = _masq_conf(**{"masquerade limited": "yes"})
    with Sink() as sink:
        m = _relay_one(sink, conf)
        head = without_received(m.data)
        assert b"\t<joerg@relay.test>\r\n" in head, head
        assert b"team: ann@a.example," in head, head


def test_no_masquerade_nothing_changes():
    with Sink() as sink:
        m = _relay_one(sink, {})
        assert without_received(m.data) == HEADERS_IN + BODY, m.data


def test_domains_file_and_missing_file():
    path = os.path.join(test_dir("masq"), "masquerade-domains")
    with open(path, "w") as f:
        f.write("# the hub's clients\nb.example\n")
    conf = _masq_conf(**{"masquerade domains": None,
                         "masquerade domains-file": '"%s"' % path})
    with Sink() as sink:
        m = _relay_one(sink, conf)
        assert without_received(m.data) == HEADERS_PLAIN + BODY, m.data
    relay = Relay(conf=_masq_conf(**{"masquerade domains-file":
                                     '"%s.missing"' % path}), start=False)
    try:
        relay.check_conf()
        raise AssertionError("a missing domains-file was accepted")
    except RelayError as e:
        assert "masquerade domains-file %s.missing: No such file" % path \
            in str(e), str(e)


def _sendmail_relay(sink, conf):
    r = Relay(sink=sink, conf=conf, start=False)
    r.with_sendmail_socket()
    r.start()
    return r


def test_sendmail_command_from_and_unqualified():
    conf = _masq_conf(**{"masquerade recipients": "yes"})
    with Sink() as sink, system_user("h13m") as user:
        relay = _sendmail_relay(sink, conf)
        try:
            cmd = ["setpriv", "--reuid", user, "--regid",
                   str(pwd.getpwnam(user).pw_gid), "--init-groups",
                   SENDMAIL, "-C", relay.confpath, "-F", "Us Er",
                   "carol@dest.example"]
            r = subprocess.run(cmd, input=b"Subject: local\nCc: bob\n\nHi.\n",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30)
            assert r.returncode == 0, r.stderr
            [m] = sink.wait_for(1, timeout=30)
        finally:
            relay.stop()
        head = without_received(m.data).split(b"\r\n\r\n")[0]
        assert b'From: "Us Er" <%s@a.example>\r\n' % user.encode() in \
            head + b"\r\n", head
        assert b"Cc: bob@a.example\r\n" in head + b"\r\n", head
        assert m.mail_from == "%s@relay.test" % user, m.mail_from


def test_sendmail_command_needs_no_readable_domains_file():
    """A domains-file only root can read: the daemon (which reads it as
    root) masquerades, and a user's sendmail command, which does not read
    it, still submits."""
    path = os.path.join(test_dir("masq"), "masquerade-domains")
    with open(path, "w") as f:
        f.write("relay.test\n")
    os.chmod(path, 0o600)
    conf = _masq_conf(**{"masquerade domains": None,
                         "masquerade domains-file": '"%s"' % path})
    with Sink() as sink, system_user("h13m") as user:
        relay = _sendmail_relay(sink, conf)
        try:
            cmd = ["setpriv", "--reuid", user, "--regid",
                   str(pwd.getpwnam(user).pw_gid), "--init-groups",
                   SENDMAIL, "-C", relay.confpath, "carol@dest.example"]
            r = subprocess.run(cmd, input=b"Subject: local\n\nHi.\n",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=30)
            assert r.returncode == 0, r.stderr
            [m] = sink.wait_for(1, timeout=30)
        finally:
            relay.stop()
        head = without_received(m.data).split(b"\r\n\r\n")[0]
        assert b"From: %s@a.example" % user.encode() in head, head


def test_explain_masquerade():
    conf = _masq_conf(**{"masquerade entire-domain": "yes"})
    relay = Relay(conf=conf, start=False)
    cases = [
        ("alice@x.b.example",
         "alice@x.b.example -> alice@a.example (masquerade domain "
         "b.example, entire-domain)"),
        ("alice@relay.test",
         "alice@relay.test -> alice@a.example (local host name)"),
        ("root@relay.test",
         "root@relay.test -> root@relay.test (exposed user)"),
        ("bo@keep.b.example",
         "bo@keep.b.example -> bo@keep.b.example (masquerade exception "
         "keep.b.example)"),
        ("alice", "alice -> alice@a.example (unqualified)"),
        ("eve@other.example", "eve@other.example -> eve@other.example "
         "(not a masqueraded domain)"),
    ]
    for addr, want in cases:
        rc, out = relay.smtpctl("explain", "masquerade", addr)
        assert rc == 0 and want in out, (addr, rc, out)


def test_bdat_chunks_split_inside_a_folded_field():
    msg = HEADERS_IN + BODY
    cut = msg.index(b"\t<joerg@relay") + 5
    with Sink() as sink, Relay(sink=sink, conf=_masq_conf()) as relay:
        with Raw(relay.port) as c:
            c.ehlo()
            assert c.cmd("MAIL FROM:<joerg@relay.test>")[0] == 250
            assert c.cmd("RCPT TO:<carol@dest.example>")[0] == 250
            c.send(b"BDAT %d\r\n" % cut + msg[:cut])
            assert c.reply()[0] == 250
            c.send(b"BDAT %d LAST\r\n" % (len(msg) - cut) + msg[cut:])
            code, text = c.reply()
            assert code == 250, text
        [m] = sink.wait_for(1, timeout=30)
        assert without_received(m.data) == HEADERS_PLAIN + BODY, m.data


def test_local_recipients_see_the_masqueraded_header():
    spool = mail_spool()
    conf = _masq_conf(**{"local mailbox-dir": '"%s"' % spool})
    with system_user("h13l") as user, Relay(conf=conf) as relay:
        with smtplib.SMTP("127.0.0.1", relay.port,
                          local_hostname="client.test", timeout=15) as s:
            s.sendmail("joerg@relay.test", ["%s@relay.test" % user],
                       HEADERS_IN + BODY)
        [m] = mbox_messages(spool, user, 1)
        assert m["From"] == ("=?utf-8?q?J=C3=B6rg?= (the boss)\n"
                             "\t<joerg@a.example>"), repr(m["From"])
        assert m["Return-Path"] == "<joerg@relay.test>", m["Return-Path"]
