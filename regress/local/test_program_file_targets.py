"""|program and /file targets of aliases, delivered by smtpd-local
(issue 12), as sendmail with smrsh and SafeFileEnvironment.

A real system user with a home (made and removed by each test) is
`local default-user`, the user aliases' programs and files run as.
A program in `local smrsh-dir` (a fresh directory) runs as that user,
by its name in the directory whatever path the alias gives, with the
message and its From_ line on stdin, and writes its proof into the
user's home; "|/bin/sh -c ..." (metacharacters) and a program that is
not in the directory are refused, the reason in the bounce, and run
nothing.  A /file target is appended in the mbox format (read back by
Python's mailbox.mbox); a file that is a symbolic link is refused, the
file it points to stays as it was; with `local safe-file-dir` a file
outside it is refused."""
import mailbox
import os
import pwd
import time

from lib import BIN, dsn, test_dir, wait_until
from lib.clients import make_message, send
from lib.localmail import home_user, relay_with_maps
from lib.sink import Sink

SENDER = "dave@client.test"


def _smrsh(home):
    """A smrsh directory with the program "proof": it writes who it runs
    as, its arguments and its input into the home."""
    d = test_dir("smrsh")
    prog = os.path.join(d, "proof")
    with open(prog, "w") as f:
        f.write("#!/bin/sh\nid -un > %s/proof.who\necho \"$@\" > "
                "%s/proof.args\ncat > %s/proof.msg\n" % (home, home, home))
    os.chmod(prog, 0o755)
    return d


def _relay(user, aliases, sink=None, extra=()):
    return relay_with_maps({"aliases": aliases}, sink=sink, libexec=BIN,
                           conf={"local default-user": user},
                           extra=list(extra))


def _send(relay, rcpt):
    msg, _ = make_message(SENDER, [rcpt], body="From here.\r\nBye.\r\n")
    send(relay.port, SENDER, [rcpt], msg=msg)


def _bounce(sink):
    [b] = sink.wait_for(1, timeout=30, pred=lambda m: m.mail_from == "")
    return dsn.parse(b.data), b.data.decode("utf-8", "replace")


def test_program_in_smrsh_dir_runs_as_the_default_user():
    with home_user("h4p") as (user, home):
        smrsh = _smrsh(home)
        with _relay(user, 'prog: "|/usr/local/bin/proof one two"\n',
                    extra=['local smrsh-dir "%s"' % smrsh]) as relay:
            _send(relay, "prog@relay.test")
            wait_until(lambda: os.path.exists(os.path.join(
                home, "proof.msg")) and relay.log().count(
                "delivered to a program") > 0, 20, "the program's run")
            with open(os.path.join(home, "proof.who")) as f:
                assert f.read().strip() == user
            with open(os.path.join(home, "proof.args")) as f:
                assert f.read().strip() == "one two"
            with open(os.path.join(home, "proof.msg")) as f:
                text = f.read()
            assert text.startswith("From %s " % SENDER), text[:80]
            assert "\nDelivered-To: prog@relay.test\n" in text, text
            assert "\nFrom here.\n" in text and "\r" not in text, text
            log = relay.log()
            assert "mailer=prog" in log and \
                "stat=Sent (delivered to a program)" in log, log


def test_shell_metacharacters_and_programs_elsewhere_are_refused():
    with home_user("h4p") as (user, home), Sink() as sink:
        smrsh = _smrsh(home)
        aliases = ('sh: "|/bin/sh -c \\"id > %s/ran\\""\n'
                   'other: "|/usr/bin/env"\n' % home)
        with _relay(user, aliases, sink=sink,
                    extra=['local smrsh-dir "%s"' % smrsh]) as relay:
            _send(relay, "sh@relay.test")
            _send(relay, "other@relay.test")
            bounces = sink.wait_for(2, timeout=30,
                                    pred=lambda m: m.mail_from == "")
            texts = " ".join(b.data.decode("utf-8", "replace")
                             for b in bounces)
            for b in bounces:
                d = dsn.parse(b.data)
                assert d.recipients[0]["status"] == "5.7.1", d.recipients
            assert "shell metacharacters" in texts, texts
            assert "smrsh: %s/env not available for sendmail programs" % \
                smrsh in texts, texts
            time.sleep(1)
            assert not os.path.exists(os.path.join(home, "ran"))
            assert not os.path.exists(os.path.join(home, "proof.msg"))


def test_file_target_is_appended_in_mbox_format():
    with home_user("h4p") as (user, home):
        path = os.path.join(home, "archive")
        with _relay(user, "log: %s\n" % path) as relay:
            _send(relay, "log@relay.test")
            _send(relay, "log@relay.test")

            def two():
                if not os.path.exists(path):
                    return None
                msgs = list(mailbox.mbox(path, create=False))
                return msgs if len(msgs) >= 2 else None
            m1, _ = wait_until(two, 20, "two messages in the file")
            assert m1["Delivered-To"] == "log@relay.test", m1["Delivered-To"]
            assert ">From here." in m1.get_payload(), m1.get_payload()
            st = os.stat(path)
            assert st.st_uid == pwd.getpwnam(user).pw_uid
            assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
            assert "mailer=*file*" in relay.log(), relay.log()


def test_symlinked_file_target_is_refused():
    with home_user("h4p") as (user, home), Sink() as sink:
        pw = pwd.getpwnam(user)
        victim = os.path.join(home, "victim")
        with open(victim, "w") as f:
            f.write("untouched\n")
        os.chown(victim, pw.pw_uid, pw.pw_gid)
        link = os.path.join(home, "link")
        os.symlink(victim, link)
        with _relay(user, "log: %s\n" % link, sink=sink) as relay:
            _send(relay, "log@relay.test")
            d, text = _bounce(sink)
            assert d.recipients[0]["status"] == "5.7.1", d.recipients
            assert "refused: %s" % link in text, text
            with open(victim) as f:
                assert f.read() == "untouched\n"


def test_file_outside_safe_file_dir_is_refused():
    with home_user("h4p") as (user, home), Sink() as sink:
        safe = os.path.join(home, "safe")
        os.mkdir(safe)
        path = os.path.join(home, "outside")
        with _relay(user, "log: %s\n" % path, sink=sink,
                    extra=['local safe-file-dir "%s"' % safe]) as relay:
            _send(relay, "log@relay.test")
            d, text = _bounce(sink)
            assert d.recipients[0]["status"] == "5.7.1", d.recipients
            assert "under local safe-file-dir" in text, text
            assert not os.path.exists(path)
