"""Local delivery into a Maildir by smtpd-local (issue 12): the rule
`local delivery maildir` for everyone, for one user, for one domain.

Each test creates real system users with a home directory of their own
(useradd -M -d HOME, the home made by the test, all removed in a
finally block).  Mail for user@relay.test lands in HOME/Maildir, read
back with Python's mailbox.Maildir: our Return-Path and Delivered-To,
no From_ line and no ">From" quoting, LF line ends, two messages under
two unique names in new/, nothing left in tmp/, the directories made
0700 and owned by the user.  A rule for one user or one domain leaves
the others in their mbox.  A Maildir that is a symbolic link is not
written (the mail waits with 4.3.0, the directory it points to stays
empty), and our own Delivered-To is a loop, bounced with 5.4.6."""
import contextlib
import mailbox
import os
import pwd
import signal
import subprocess

from lib import clients, dsn, wait_until
from lib.daemon import Relay
from lib.localmail import envelopes, home_user, mail_spool
from lib.sink import Sink

SENDER = "dave@client.test"


def _relay(rules, sink=None):
    return Relay(sink=sink, conf={"local mailbox-dir": '"%s"' % mail_spool()},
                 extra=["local delivery %s" % r for r in rules])


def _send(relay, user, body="Hello.\r\n", headers=()):
    msg, _ = clients.make_message(SENDER, ["%s@relay.test" % user],
                                  body=body, headers=headers)
    clients.send(relay.port, SENDER, ["%s@relay.test" % user], msg=msg)


def _maildir_msgs(home, n, timeout=20):
    path = os.path.join(home, "Maildir")

    def enough():
        if not os.path.isdir(os.path.join(path, "new")):
            return None
        msgs = sorted(os.listdir(os.path.join(path, "new")))
        return msgs if len(msgs) >= n else None
    names = wait_until(enough, timeout, "%d message(s) in %s" % (n, path),
                       interval=0.2)
    md = mailbox.Maildir(path, create=False)
    return names, md


def test_delivered_into_the_maildir_under_unique_names():
    with home_user() as (user, home), _relay(["maildir"]) as relay:
        body = "First line.\r\nFrom here on, not quoted.\r\nLast.\r\n"
        _send(relay, user, body=body, headers=["X-Seq: 1"])
        _send(relay, user, headers=["X-Seq: 2"])
        names, md = _maildir_msgs(home, 2)
        relay.wait_queue_empty(10)
        assert len(set(n.split(",")[0] for n in names)) == 2, names
        for n in names:
            assert ",S=" in n and n.endswith(
                ",S=%d" % os.path.getsize(os.path.join(home, "Maildir",
                                                       "new", n))), n
        msgs = sorted(md, key=lambda m: m["X-Seq"])
        assert [m["X-Seq"] for m in msgs] == ["1", "2"]
        m1 = msgs[0]
        assert m1["Return-Path"] == "<%s>" % SENDER, m1["Return-Path"]
        assert m1["Delivered-To"] == "%s@relay.test" % user
        text = m1.get_payload()
        assert "\nFrom here on, not quoted.\n" in "\n" + text, text
        assert ">From" not in text and "\r" not in text, repr(text)
        with open(os.path.join(home, "Maildir", "new", names[0]), "rb") as f:
            assert not f.read().startswith(b"From "), "a From_ line"
        uid = pwd.getpwnam(user).pw_uid
        for d in ("", "tmp", "new", "cur"):
            st = os.stat(os.path.join(home, "Maildir", d))
            assert st.st_uid == uid and st.st_mode & 0o777 == 0o700, \
                (d, st.st_uid, oct(st.st_mode))
        assert os.listdir(os.path.join(home, "Maildir", "tmp")) == []
        assert "stat=Sent (delivered to maildir)" in relay.log()


def test_rule_per_user_leaves_the_others_in_mbox():
    mboxdir = mail_spool()
    with home_user() as (u1, h1), home_user() as (u2, h2), \
            Relay(conf={"local mailbox-dir": '"%s"' % mboxdir},
                  extra=['local delivery maildir "~/Mail/box/" for user %s'
                         % u1]) as relay:
        _send(relay, u1)
        _send(relay, u2)
        path = os.path.join(h1, "Mail", "box", "new")
        wait_until(lambda: os.path.isdir(path) and os.listdir(path), 20,
                   "the Maildir of %s" % u1)
        wait_until(lambda: os.path.exists(os.path.join(mboxdir, u2)), 20,
                   "the mbox of %s" % u2)
        relay.wait_queue_empty(10)
        assert not os.path.exists(os.path.join(mboxdir, u1))
        assert not os.path.exists(os.path.join(h2, "Maildir"))
        [m] = list(mailbox.mbox(os.path.join(mboxdir, u2), create=False))
        assert m["Delivered-To"] == "%s@relay.test" % u2


def test_rule_per_domain_and_the_default():
    mboxdir = mail_spool()
    with home_user() as (user, home), \
            Relay(conf={"local mailbox-dir": '"%s"' % mboxdir},
                  extra=["local delivery maildir for domain RELAY.test",
                         "local delivery mbox"]) as relay:
        _send(relay, user)
        _maildir_msgs(home, 1)
        relay.wait_queue_empty(10)
        assert not os.path.exists(os.path.join(mboxdir, user))


def test_symlinked_maildir_is_not_written():
    with home_user() as (user, home), _relay(["maildir"]) as relay:
        pw = pwd.getpwnam(user)
        target = os.path.join(home, "elsewhere")
        os.mkdir(target, 0o700)
        os.chown(target, pw.pw_uid, pw.pw_gid)
        os.symlink(target, os.path.join(home, "Maildir"))
        _send(relay, user)

        def tried():
            envs = [e for e in envelopes(relay) if e["rcpt"] == user]
            return envs if envs and "safely" in envs[0]["lasterror"] \
                else None
        [env] = wait_until(tried, 20, "a refused try")
        assert "cannot use the Maildir safely" in env["lasterror"], env
        assert os.listdir(target) == []


def test_our_delivered_to_header_is_a_loop_in_a_maildir_too():
    with home_user() as (user, home), Sink() as sink, \
            _relay(["maildir"], sink=sink) as relay:
        _send(relay, user, headers=["Delivered-To: %s@relay.test" % user])
        [m] = sink.wait_for(1, timeout=30)
        d = dsn.parse(m.data)
        assert d.recipients[0]["status"] == "5.4.6", d.recipients
        new = os.path.join(home, "Maildir", "new")
        assert not os.path.isdir(new) or os.listdir(new) == []


def _children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


@contextlib.contextmanager
def _stalled_fsyncs(pid):
    """strace on smtpd-local and the children it forks from now on, each
    fsync(2) held 3 seconds when it returns: a Maildir child is caught
    between its link into new/ and its result."""
    tracer = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", "/dev/null", "-p", str(pid),
         "-e", "trace=fsync", "-e", "inject=fsync:delay_exit=3000000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def traced():
        with open("/proc/%d/status" % pid) as f:
            return "TracerPid:\t0\n" not in f.read()
    try:
        wait_until(traced, 10, "strace attached to smtpd-local")
        yield
    finally:
        tracer.kill()
        tracer.wait(10)


def _files(home, sub):
    return sorted(os.listdir(os.path.join(home, "Maildir", sub)))


def _kill9_after_the_link(what):
    """A power cut (kill -9 of every process) or a kill -9 of smtpd-local
    and its child, after the message is in new/ but before the queue has
    the result: the next try finds the file by its envelope's mark and
    writes no second copy."""
    with home_user() as (user, home), _relay(["maildir"]) as relay:
        local = relay.pid("local")
        mark = relay.mark()
        with _stalled_fsyncs(local):
            _send(relay, user, headers=["X-Once: yes"])
            wait_until(lambda: os.path.isdir(os.path.join(
                home, "Maildir", "new")) and _files(home, "new"), 20,
                "the message linked into new/", interval=0.05)
            for child in _children_of(local):
                os.kill(child, signal.SIGKILL)
            if what == "daemon":
                relay.crash()
            else:
                os.kill(local, signal.SIGKILL)
        if what == "daemon":
            relay.start()
        else:
            relay.wait_restarted("local", local)
        relay.wait_for_log(r"delivered to maildir already", 30, start=mark)
        relay.wait_queue_empty(20)
        [name] = _files(home, "new")
        assert _files(home, "tmp") == [] and _files(home, "cur") == []
        [m] = mailbox.Maildir(os.path.join(home, "Maildir"), create=False)
        assert m["X-Once"] == "yes"
        [line] = [x for x in relay.log(mark).splitlines()
                  if "mailer=local" in x and "stat=Sent" in x]
        assert "already" in line, line


def test_power_cut_after_the_link_delivers_once():
    _kill9_after_the_link("daemon")


def test_kill9_of_smtpd_local_after_the_link_delivers_once():
    _kill9_after_the_link("local")
