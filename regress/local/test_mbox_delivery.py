"""Local delivery into mbox by smtpd-local (issue 12, first increment).

Each test creates a real system user (useradd -M -N, a unique name,
removed in a finally block) and a relay whose `local mailbox-dir` is a
fresh directory like Debian's /var/mail (mode 2775, group mail).  Mail
for user@relay.test lands in DIR/user, read back with Python's mailbox
module: the Return-Path and Delivered-To headers, a body line "From
here" quoted as ">From here", two messages in order.  A user removed
before delivery bounces with 5.1.1; mail to root without an alias stays
queued with the 4.3.0 text; a message that carries our Delivered-To
already bounces with 5.4.6 and is not delivered; an mbox that is a
symbolic link or hard linked is not written (the mail waits with 4.3.0,
the file it points to stays as it was); kill -9 of smtpd-local
while a delivery waits for the mbox lock loses nothing and delivers the
message once after the restart."""
import fcntl
import mailbox
import os
import pwd

from lib import clients, dsn, test_dir, wait_until
from lib.daemon import Relay
from lib.localmail import envelopes, mail_spool, mbox_messages, system_user
from lib.sink import Sink

SENDER = "dave@client.test"


def _relay(maildir, sink=None):
    return Relay(sink=sink, conf={"local mailbox-dir": '"%s"' % maildir})


def _msg(user, body="Hello.\r\n", headers=()):
    msg, _ = clients.make_message(SENDER, ["%s@relay.test" % user],
                                  body=body, headers=headers)
    return msg


def test_delivered_into_the_mbox_with_headers_and_quoting():
    maildir = mail_spool()
    with system_user("h4t") as user, _relay(maildir) as relay:
        body = "First line.\r\nFrom here on, quoted.\r\nLast.\r\n"
        clients.send(relay.port, SENDER, ["%s@relay.test" % user],
                     msg=_msg(user, body=body, headers=["X-Seq: 1"]))
        clients.send(relay.port, SENDER, ["%s@relay.test" % user],
                     msg=_msg(user, headers=["X-Seq: 2"]))
        m1, m2 = mbox_messages(maildir, user, 2)
        relay.wait_queue_empty(10)
        assert m1["Return-Path"] == "<%s>" % SENDER, m1["Return-Path"]
        assert m1["Delivered-To"] == "%s@relay.test" % user, \
            m1["Delivered-To"]
        assert m1.get_from().startswith(SENDER + " "), m1.get_from()
        assert [m1["X-Seq"], m2["X-Seq"]] == ["1", "2"]
        text = m1.get_payload()
        assert ">From here on, quoted.\n" in text, text
        assert "\r" not in text, repr(text)
        st = os.stat(os.path.join(maildir, user))
        assert st.st_uid == pwd.getpwnam(user).pw_uid, st.st_uid
        assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
        assert not os.path.exists(os.path.join(maildir, user + ".lock"))
        log = relay.log()
        assert "to=<%s>" % user in log and "mailer=local" in log, log
        assert "stat=Sent (delivered to mailbox)" in log, log


def test_unknown_user_bounces_with_5_1_1():
    maildir = mail_spool()
    with Sink() as sink, _relay(maildir, sink=sink) as relay:
        # accepted while the user exists, delivered once it is gone
        relay.smtpctl("pause", "mta")
        with system_user("h4t") as user:
            clients.send(relay.port, SENDER, ["%s@relay.test" % user],
                         msg=_msg(user))
        relay.smtpctl("resume", "mta")
        [m] = sink.wait_for(1, timeout=30)
        assert m.rcpt_addrs == [SENDER], m.rcpt_addrs
        d = dsn.parse(m.data)
        assert d.recipients[0]["status"] == "5.1.1", d.recipients
        assert "User unknown" in m.data.decode("utf-8", "replace")
        assert not os.path.exists(os.path.join(maildir, user))


def test_root_without_alias_stays_queued():
    maildir = mail_spool()
    with _relay(maildir) as relay:
        clients.send(relay.port, SENDER, ["root@relay.test"],
                     msg=_msg("root"))

        def tried():
            envs = [e for e in envelopes(relay) if e["rcpt"] == "root"]
            return envs if envs and "needs an alias" in \
                envs[0]["lasterror"] else None
        [env] = wait_until(tried, 20, "a try of the mail to root")
        assert "not delivered as root" in env["lasterror"], env
        assert not os.path.exists(os.path.join(maildir, "root"))
        relay.wait_for_log(r"mail for root \(uid 0\) not delivered")


def test_our_delivered_to_header_is_a_loop():
    maildir = mail_spool()
    with system_user("h4t") as user, Sink() as sink, \
            _relay(maildir, sink=sink) as relay:
        looped = _msg(user, headers=["Delivered-To: %s@relay.test" % user])
        clients.send(relay.port, SENDER, ["%s@relay.test" % user],
                     msg=looped)
        [m] = sink.wait_for(1, timeout=30)
        d = dsn.parse(m.data)
        assert d.recipients[0]["status"] == "5.4.6", d.recipients
        assert "mail loops back to me" in m.data.decode("utf-8", "replace")
        path = os.path.join(maildir, user)
        assert not os.path.exists(path) or os.path.getsize(path) == 0


def _unsafe_mbox_is_refused(make):
    """make(path, user) puts something unsafe at the mbox path; the mail
    waits with 4.3.0 and the target of the link is not written."""
    maildir = mail_spool()
    target = os.path.join(test_dir("target"), "victim")
    with open(target, "w") as f:
        f.write("untouched\n")
    with system_user("h4t") as user, _relay(maildir) as relay:
        pw = pwd.getpwnam(user)
        os.chown(target, pw.pw_uid, pw.pw_gid)
        make(target, os.path.join(maildir, user))
        clients.send(relay.port, SENDER, ["%s@relay.test" % user],
                     msg=_msg(user))

        def tried():
            envs = [e for e in envelopes(relay) if e["rcpt"] == user]
            return envs if envs and "safely" in envs[0]["lasterror"] \
                else None
        [env] = wait_until(tried, 20, "a refused try")
        assert "cannot open the mailbox safely" in env["lasterror"], env
        with open(target) as f:
            assert f.read() == "untouched\n"


def test_symlinked_mbox_is_not_written():
    _unsafe_mbox_is_refused(os.symlink)


def test_hard_linked_mbox_is_not_written():
    _unsafe_mbox_is_refused(os.link)


def test_kill_of_smtpd_local_during_a_delivery_loses_nothing():
    maildir = mail_spool()
    with system_user("h4t") as user, _relay(maildir) as relay:
        path = os.path.join(maildir, user)
        # an existing mbox the test holds locked: the delivery waits
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        pw = pwd.getpwnam(user)
        os.fchown(fd, pw.pw_uid, pw.pw_gid)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
            clients.send(relay.port, SENDER, ["%s@relay.test" % user],
                         msg=_msg(user, headers=["X-Once: yes"]))
            wait_until(lambda: os.path.exists(path + ".lock"), 20,
                       "the dot-lock of the waiting delivery")
            # smtpctl show queue shows the delivery in flight
            [e] = envelopes(relay)
            assert (e["state"], e["mailer"], e["rcpt"]) == \
                ("inflight", "local", user), e
            old = relay.pid("local")
            relay.kill("local")
            relay.wait_restarted("local", old)
            # the orphaned child undid its try: the dot-lock is gone
            wait_until(lambda: not os.path.exists(path + ".lock"), 10,
                       "the dot-lock removed")
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)
            os.close(fd)
        [m] = mbox_messages(maildir, user, 1, timeout=40)
        relay.wait_queue_empty(20)
        msgs = list(mailbox.mbox(path, create=False))
        assert len(msgs) == 1, [x["X-Once"] for x in msgs]
        assert m["X-Once"] == "yes"
