"""A full mailbox (issue 12): the mbox spool, or the user's Maildir, on a
small tmpfs the test mounts (unmounted after it) and fills, so that the
delivery's write fails with ENOSPC.

The mail is deferred with the reason in the log (stat=Deferred) and in
the queue; the mbox is truncated back to the bytes it had (no partial
message), the Maildir keeps nothing in new/ or tmp/; once the filler is
removed the next try delivers the message once."""
import contextlib
import grp
import mailbox
import os
import pwd
import subprocess

from lib import clients, test_dir, wait_until
from lib.daemon import Relay
from lib.localmail import envelopes, home_user, system_user

SENDER = "dave@client.test"
# the tmpfs, and what the filler leaves free: less than the message
TMPFS_SIZE = 256 * 1024
FREE = 48 * 1024
BODY = ("x" * 76 + "\r\n") * 1600


@contextlib.contextmanager
def tmpfs(path, options):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o",
                    "size=%d,%s" % (TMPFS_SIZE, options), "tmpfs", path],
                   check=True, timeout=30)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], timeout=30)


def _fill(d):
    path = os.path.join(d, "filler")
    st = os.statvfs(d)
    free = st.f_bavail * st.f_frsize
    with open(path, "wb") as f:
        f.write(b"\0" * max(0, free - FREE))
    return path


def _send(relay, user):
    rcpt = "%s@relay.test" % user
    msg, _ = clients.make_message(SENDER, [rcpt], body=BODY,
                                  headers=["X-Once: yes"])
    clients.send(relay.port, SENDER, [rcpt], msg=msg)


def _deferred(relay, user, text):
    def tried():
        envs = [e for e in envelopes(relay) if e["rcpt"] == user]
        return envs if envs and text in envs[0]["lasterror"] else None
    wait_until(tried, 20, "a deferred try (%s)" % text)
    relay.wait_for_log(r"to=<%s>.*mailer=local.*stat=Deferred" % user)


def test_full_mbox_spool_is_truncated_back_and_retried():
    gid = grp.getgrnam("mail").gr_gid
    spool = os.path.join(test_dir("spool"), "mail")
    with system_user("h8f") as user, \
            tmpfs(spool, "mode=2775,gid=%d" % gid):
        pw = pwd.getpwnam(user)
        path = os.path.join(spool, user)
        old = b"From someone@old.test Mon Dec  7 10:00:00 2026\n\nold\n\n"
        with open(path, "wb") as f:
            f.write(old)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, 0o600)
        filler = _fill(spool)
        with Relay(conf={"local mailbox-dir": '"%s"' % spool}) as relay:
            _send(relay, user)
            _deferred(relay, user, "write error on the mailbox")
            with open(path, "rb") as f:
                assert f.read() == old, "a partial message in the mbox"
            os.unlink(filler)
            wait_until(lambda: len(mailbox.mbox(path, create=False)) == 2,
                       20, "the message delivered after space was freed")
            relay.wait_queue_empty(20)
        msgs = list(mailbox.mbox(path, create=False))
        assert [m["X-Once"] for m in msgs] == [None, "yes"], msgs


def test_full_maildir_keeps_nothing_and_is_retried():
    with home_user("h8g") as (user, home):
        pw = pwd.getpwnam(user)
        md = os.path.join(home, "Maildir")
        with tmpfs(md, "mode=0700,uid=%d,gid=%d" % (pw.pw_uid, pw.pw_gid)):
            filler = _fill(md)
            with Relay(extra=["local delivery maildir"]) as relay:
                _send(relay, user)
                _deferred(relay, user, "write error in the Maildir")
                assert os.listdir(os.path.join(md, "new")) == []
                assert os.listdir(os.path.join(md, "tmp")) == []
                os.unlink(filler)
                wait_until(lambda: os.listdir(os.path.join(md, "new")), 20,
                           "the message delivered after space was freed")
                relay.wait_queue_empty(20)
            [m] = mailbox.Maildir(md, create=False)
            assert m["X-Once"] == "yes"
            assert os.listdir(os.path.join(md, "tmp")) == []
