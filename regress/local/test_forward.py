"""~user/.forward and :include: files (issue 11, spec 9.3), read by
smtpd-local with the file's user's rights when the mail comes due.

Each test makes real system users with a home under /home (useradd -m,
removed with it after the test) and, for includes, a root-owned scratch
directory under /var/lib: the checks of sendmail's DontBlameSendmail
defaults want every directory on the path owned by root or the user and
writable by nobody else, which the test directories under /tmp are not.
Remote addresses go to a Sink; local mailboxes are mbox files in a fresh
`local mailbox-dir`, read back with Python's mailbox module.  A
.forward's program runs as its user when it is in `local smrsh-dir`, and
one outside it bounces with 5.7.1 without running.
"""
import contextlib
import os
import pwd
import shutil
import subprocess
import uuid

from lib import BIN, clients, dsn, wait_until
from lib.daemon import Relay
from lib.localmail import (mail_spool, mbox_messages, relay_with_maps,
                           sink_rcpts, wait_sink_rcpts)
from lib.sink import Sink

SENDER = "dave@client.test"


@contextlib.contextmanager
def home_user():
    """A user of the system with a home directory, for one test."""
    name = "fw%s" % uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "-m", "-d", "/home/" + name, "-N", "-s",
                    "/bin/sh", name], check=True, timeout=30)
    try:
        yield name
    finally:
        subprocess.run(["userdel", "-r", "-f", name], timeout=30,
                       stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def root_dir():
    """A directory owned by root, mode 0755, on a safe path."""
    d = "/var/lib/smtpd-regress-%s" % uuid.uuid4().hex[:8]
    os.mkdir(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def forward(user, text, mode=0o644):
    """Write ~user/.forward, owned by the user."""
    pw = pwd.getpwnam(user)
    path = os.path.join(pw.pw_dir, ".forward")
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, mode)
    return path


def _relay(maildir, sink, aliases=None):
    return relay_with_maps({} if aliases is None else {"aliases": aliases},
                           sink=sink, libexec=BIN,
                           conf={"local mailbox-dir": '"%s"' % maildir})


def _send(relay, rcpt, headers=()):
    msg, _ = clients.make_message(SENDER, [rcpt], headers=headers)
    clients.send(relay.port, SENDER, [rcpt], msg=msg)


def _bounce(sink, timeout=30):
    """The one DSN the sink got for SENDER, parsed, and its text."""
    def got():
        ms = [m for m in sink.messages if m.rcpt_addrs == [SENDER]]
        return ms or None
    [m] = wait_until(got, timeout, "a DSN to %s" % SENDER, interval=0.3)
    return dsn.parse(m.data), m.data.decode("utf-8", "replace")


def test_forward_to_a_remote_address_and_the_own_mailbox():
    maildir = mail_spool()
    with home_user() as user, Sink() as sink, \
            _relay(maildir, sink) as relay:
        forward(user, "# keep a copy\n\\%s\nfriend@remote.test\n" % user)
        _send(relay, "%s@relay.test" % user, headers=["X-Tag: fw1"])
        wait_sink_rcpts(sink, ["friend@remote.test"])
        [m] = mbox_messages(maildir, user, 1)
        assert m["X-Tag"] == "fw1", m.items()
        relay.wait_queue_empty(15)
        assert sink_rcpts(sink) == ["friend@remote.test"], sink_rcpts(sink)
        log = relay.log()
        assert "the .forward of %s <%s> resolved: remote " \
            "<friend@remote.test>" % (user, user) in log, log
        assert "to=<\\%s>" % user in log, log


def test_forward_to_another_local_user_and_its_forward():
    maildir = mail_spool()
    with home_user() as a, home_user() as b, Sink() as sink, \
            _relay(maildir, sink) as relay:
        forward(a, "%s\n" % b)
        forward(b, "%s@relay.test, far@remote.test\n" % b)
        _send(relay, "%s@relay.test" % a)
        wait_sink_rcpts(sink, ["far@remote.test"])
        [m] = mbox_messages(maildir, b, 1)
        relay.wait_queue_empty(15)
        assert not os.path.exists(os.path.join(maildir, a))


def test_unsafe_forward_is_ignored_with_a_log_line():
    maildir = mail_spool()
    with home_user() as user, Sink() as sink, \
            _relay(maildir, sink) as relay:
        path = forward(user, "thief@remote.test\n", mode=0o666)
        _send(relay, "%s@relay.test" % user)
        mbox_messages(maildir, user, 1)
        relay.wait_queue_empty(15)
        assert sink_rcpts(sink) == [], sink_rcpts(sink)
        relay.wait_for_log(r"%s is unsafe \(owned by uid \d+, mode 666\); "
                           r"ignored" % path)


def test_forward_in_a_group_writable_home_is_ignored():
    maildir = mail_spool()
    with home_user() as user, Sink() as sink, \
            _relay(maildir, sink) as relay:
        forward(user, "thief@remote.test\n")
        os.chmod(pwd.getpwnam(user).pw_dir, 0o775)
        _send(relay, "%s@relay.test" % user)
        mbox_messages(maildir, user, 1)
        relay.wait_queue_empty(15)
        assert sink_rcpts(sink) == [], sink_rcpts(sink)
        relay.wait_for_log(r"directory /home/%s is unsafe" % user)


def test_symlinked_forward_is_ignored():
    maildir = mail_spool()
    with home_user() as user, Sink() as sink, \
            _relay(maildir, sink) as relay:
        pw = pwd.getpwnam(user)
        real = os.path.join(pw.pw_dir, "fwd")
        with open(real, "w") as f:
            f.write("thief@remote.test\n")
        os.chown(real, pw.pw_uid, pw.pw_gid)
        os.symlink(real, os.path.join(pw.pw_dir, ".forward"))
        _send(relay, "%s@relay.test" % user)
        mbox_messages(maildir, user, 1)
        relay.wait_queue_empty(15)
        assert sink_rcpts(sink) == [], sink_rcpts(sink)
        relay.wait_for_log(r"a symbolic link; ignored")


def test_forwarding_loop_is_broken_with_sendmails_reply():
    maildir = mail_spool()
    with home_user() as a, home_user() as b, Sink() as sink, \
            _relay(maildir, sink) as relay:
        forward(a, "%s\n" % b)
        forward(b, "%s\n" % a)
        _send(relay, "%s@relay.test" % a)
        d, text = _bounce(sink)
        assert d.recipients[0]["status"] == "5.4.6", d.recipients
        assert "aliasing/forwarding loop broken (11 aliases deep; 10 max)" \
            in text, text
        relay.wait_queue_empty(15)
        assert not os.path.exists(os.path.join(maildir, a))
        assert not os.path.exists(os.path.join(maildir, b))


def test_include_file_of_an_alias():
    maildir = mail_spool()
    with root_dir() as d, Sink() as sink:
        members = os.path.join(d, "members")
        with open(members, "w") as f:
            f.write("# the team\none@remote.test\n\ntwo@remote.test,\n")
        aliases = "team: :include:%s\n" % members
        with _relay(maildir, sink, aliases=aliases) as relay:
            _send(relay, "team@relay.test")
            wait_sink_rcpts(sink, ["one@remote.test", "two@remote.test"])
            relay.wait_queue_empty(15)
            log = relay.log()
            assert ":include:%s <:include:%s> resolved: remote " \
                "<one@remote.test>" % (members, members) in log, log


def test_unsafe_include_file_bounces():
    maildir = mail_spool()
    with root_dir() as d, Sink() as sink:
        members = os.path.join(d, "members")
        with open(members, "w") as f:
            f.write("one@remote.test\n")
        os.chmod(members, 0o666)
        aliases = "team: :include:%s\n" % members
        with _relay(maildir, sink, aliases=aliases) as relay:
            _send(relay, "team@relay.test")
            dd, text = _bounce(sink)
            assert dd.recipients[0]["status"] == "5.3.0", dd.recipients
            assert "%s is unsafe" % members in text, text
            assert dd.recipients[0]["final-recipient"].endswith(
                "team@relay.test"), dd.recipients
            relay.wait_queue_empty(15)
            assert [a for a in sink_rcpts(sink) if a != SENDER] == []


def test_missing_include_file_bounces():
    maildir = mail_spool()
    with root_dir() as d, Sink() as sink:
        aliases = "team: :include:%s/nothing\n" % d
        with _relay(maildir, sink, aliases=aliases) as relay:
            _send(relay, "team@relay.test")
            dd, text = _bounce(sink)
            assert dd.recipients[0]["status"] == "5.3.0", dd.recipients
            assert "No such file or directory" in text, text


def _smrsh_proof(home):
    """A smrsh directory (root's, on a safe path) whose program "proof"
    writes who it runs as and its input into HOME."""
    d = "/var/lib/smtpd-regress-smrsh-%s" % uuid.uuid4().hex[:8]
    os.mkdir(d, 0o755)
    prog = os.path.join(d, "proof")
    with open(prog, "w") as f:
        f.write("#!/bin/sh\nid -un > %s/proof.who\n"
                "grep NoNewPrivs /proc/$$/status > %s/proof.nnp\n"
                "cat > %s/proof.msg\n" % (home, home, home))
    os.chmod(prog, 0o755)
    return d


def test_forward_to_a_program_in_the_smrsh_dir_and_one_outside():
    maildir = mail_spool()
    with home_user() as user, Sink() as sink:
        home = pwd.getpwnam(user).pw_dir
        smrsh = _smrsh_proof(home)
        try:
            relay = Relay(sink=sink, conf={
                "local mailbox-dir": '"%s"' % maildir,
                "local smrsh-dir": '"%s"' % smrsh})
            with relay:
                forward(user, '"|/usr/bin/proof", "|/usr/bin/env"\n')
                _send(relay, "%s@relay.test" % user, headers=["X-Tag: p"])
                b, text = _bounce(sink)
                wait_until(lambda: os.path.exists(os.path.join(
                    home, "proof.msg")), 20, "the program's run")
                relay.wait_queue_empty(20)
            with open(os.path.join(home, "proof.who")) as f:
                assert f.read().strip() == user
            with open(os.path.join(home, "proof.msg")) as f:
                assert "X-Tag: p" in f.read()
            # a program gains no privilege by exec (no set-id bits)
            with open(os.path.join(home, "proof.nnp")) as f:
                assert f.read().split() == ["NoNewPrivs:", "1"]
            assert b.recipients[0]["status"] == "5.7.1", b.recipients
            assert "smrsh: %s/env not available for sendmail programs" % \
                smrsh in text, text
            assert not os.path.exists(os.path.join(maildir, user))
        finally:
            shutil.rmtree(smrsh, ignore_errors=True)
