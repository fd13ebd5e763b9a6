"""Mail to root (uid 0) and `local root-mail defer|bounce` (issue 12).

smtpd-local never delivers as uid 0: mail for root is meant to go
through an alias.  When no alias sent it elsewhere, `local root-mail`
says what happens: `defer` (the default, shown by `smtpd -nv`) keeps it
queued with a 4.3.0 text and a warning, until the queue's lifetime runs
out (test_mbox_delivery.py's test_root_without_alias_stays_queued);
`bounce` returns it at once to the sender with 5.7.1, the same text, a
log line, and nothing written.  An alias for root delivers to its target
whatever the setting.  Any other value is refused by `smtpd -n`."""
import os
import subprocess

from lib import BIN, clients, dsn, test_dir
from lib.daemon import Relay
from lib.localmail import mail_spool, mbox_messages, system_user
from lib.sink import Sink

SENDER = "dave@client.test"


def _msg(user):
    msg, _ = clients.make_message(SENDER, ["%s@relay.test" % user],
                                  body="Hello.\r\n")
    return msg


def _conf(maildir, root_mail=None):
    conf = {"local mailbox-dir": '"%s"' % maildir}
    if root_mail is not None:
        conf["local root-mail"] = root_mail
    return conf


def _check(text):
    """smtpd -n (or -nv with "-v") on a config: (exit status, output)."""
    path = os.path.join(test_dir("conf"), "smtpd.conf")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([os.path.join(BIN, "smtpd"), "-nv", "-f", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def test_defer_is_the_default_and_the_values_are_checked():
    rc, out = _check("hostname relay.test\n")
    assert rc == 0 and "local root-mail defer\n" in out, out
    rc, out = _check("hostname relay.test\nlocal root-mail bounce\n")
    assert rc == 0 and "local root-mail bounce\n" in out, out
    rc, out = _check('hostname relay.test\nlocal root-mail "defer"\n')
    assert rc == 0 and "local root-mail defer\n" in out, out
    rc, out = _check("hostname relay.test\nlocal root-mail deliver\n")
    assert rc != 0, out
    assert 'local root-mail "deliver": expected defer or bounce' in out, out


def test_bounce_returns_mail_to_root_at_once():
    maildir = mail_spool()
    with Sink() as sink, Relay(sink=sink,
                               conf=_conf(maildir, "bounce")) as relay:
        clients.send(relay.port, SENDER, ["root@relay.test"],
                     msg=_msg("root"))
        [m] = sink.wait_for(1, timeout=30)
        relay.wait_queue_empty(20)
        assert m.rcpt_addrs == [SENDER], m.rcpt_addrs
        d = dsn.parse(m.data)
        assert d.recipients[0]["status"] == "5.7.1", d.recipients
        assert d.recipients[0]["action"] == "failed", d.recipients
        text = m.data.decode("utf-8", "replace")
        assert "mail to root needs an alias" in text, text
        assert not os.path.exists(os.path.join(maildir, "root"))
        relay.wait_for_log(r"mail for root \(uid 0\) bounced: it needs an "
                           r"alias")
        relay.wait_for_log(r"to=<root>, .*mailer=local, dsn=5\.7\.1, "
                           r"stat=Bounced")


def test_an_alias_for_root_delivers_whatever_the_setting():
    maildir = mail_spool()
    with system_user() as user, \
            Relay(conf=_conf(maildir, "bounce")) as relay:
        rc, out = relay.makemap("aliases", "root: %s\n" % user)
        assert rc == 0, out
        clients.send(relay.port, SENDER, ["root@relay.test"],
                     msg=_msg("root"))
        [m] = mbox_messages(maildir, user, 1)
        relay.wait_queue_empty(20)
        assert m["Delivered-To"] == "%s@relay.test" % user, m["Delivered-To"]
        assert not os.path.exists(os.path.join(maildir, "root"))
        assert "uid 0" not in relay.log()
