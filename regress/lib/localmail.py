"""
localmail.py: helpers of the tests of mail for this host (regress/local/).

 - relay_with_maps(): a Relay started once its maps are loaded, so the
   first RCPT already sees them, and whose smtpd-local takes the local
   deliveries and never answers (lib/fake_child.py), so that the local
   envelopes these tests of resolution look at stay in the queue (the
   users of their local-users map are no users of the system, whom the
   real smtpd-local would bounce); regress/local/test_mbox_delivery.py
   tests the delivery;
 - envelopes(), local_envelopes(), mta_envelopes(): `smtpctl show queue`
   with its %XX fields decoded, split by the mailer that will deliver
   them ("local": kept for local delivery; anything else goes out);
 - rcpt_attempts(): how often a sink was offered one recipient, refused
   or not (Sink.messages keeps only the transactions it accepted);
 - system_user(): a real user of the system for one test (no home),
   removed after it; home_user(): one with a home directory of its own; mail_spool(): a mailbox directory as Debian's
   /var/mail, for `local mailbox-dir`; mbox_messages(): the messages of
   a user's mbox there, once it holds enough.
"""
import contextlib
import grp
import mailbox
import os
import pwd
import re
import shutil
import subprocess
import uuid

from . import BIN, REPO, test_dir, wait_until
from .daemon import CHILDREN, Relay

# the local users of most tests: a map, not the machine's passwd
USERS_MAP = {"local users": "map"}


def libexec_without_delivery():
    """A libexec directory of the real children, but smtpd-local is
    lib/fake_child.py: local envelopes are handed over and stay in
    flight, in the queue."""
    d = test_dir("libexec")
    for child, exe in CHILDREN.items():
        target = os.path.join(BIN, exe)
        if child == "local":
            target = os.path.join(REPO, "regress", "lib", "fake_child.py")
        os.symlink(target, os.path.join(d, exe))
    return d


def relay_with_maps(maps, **kwargs):
    """Relay(**kwargs) started after `smtpctl makemap NAME` of each
    {name: text} of maps (text may be a function of the relay, for paths
    in its directory); a map the relay refuses fails the test.  Local
    envelopes are not delivered (libexec_without_delivery), unless the
    caller gives its own libexec."""
    kwargs.setdefault("libexec", libexec_without_delivery())
    relay = Relay(start=False, **kwargs)
    try:
        for name, text in maps.items():
            if callable(text):
                text = text(relay)
            rc, out = relay.makemap(name, text)
            assert rc == 0, "makemap %s refused (exit %d): %s" % (
                name, rc, out.strip())
        relay.start()
        # policyd answers 451 until it has opened the maps it was given
        if maps:
            relay.wait_for_log(r"policyd: database .* (opened|connected)",
                               20)
    except BaseException:
        relay.stop()
        raise
    return relay


def _unquote(field):
    """A show-queue field with its %XX escapes (of '|', '%' and controls)
    turned back into octets."""
    return re.sub(r"%([0-9A-Fa-f]{2})",
                  lambda m: chr(int(m.group(1), 16)), field)


def envelopes(relay):
    """The queue's envelopes, sender, rcpt and lasterror decoded."""
    envs = relay.show_queue()
    for e in envs:
        for k in ("sender", "rcpt", "lasterror"):
            e[k] = _unquote(e[k])
    return envs


def local_envelopes(relay, rcpt=None):
    """Envelopes for the local mailer (to rcpt only, if given)."""
    return [e for e in envelopes(relay) if e.get("mailer") == "local" and
            (rcpt is None or e["rcpt"] == rcpt)]


def mta_envelopes(relay):
    """Envelopes some other mailer than "local" would deliver."""
    return [e for e in envelopes(relay) if e.get("mailer") != "local"]


def wait_local(relay, n, rcpt=None, timeout=15):
    """Until at least n local envelopes (to rcpt) are queued; returns
    them.  On a timeout the failure shows what the queue held."""
    seen = []

    def enough():
        seen[:] = envelopes(relay)
        got = [e for e in seen if e.get("mailer") == "local" and
               (rcpt is None or e["rcpt"] == rcpt)]
        return got if len(got) >= n else None
    try:
        return wait_until(enough, timeout, "%d local envelope(s)%s" % (
            n, " to %s" % rcpt if rcpt else ""), interval=0.3)
    except AssertionError as e:
        raise AssertionError("%s; the queue holds %r" % (e, seen)) from None


def rcpt_attempts(sink, addr):
    """The RCPT TO:<addr> commands a sink received (case-insensitive)."""
    want = ("RCPT TO:<%s>" % addr).lower().encode()
    return [c for _, c in sink.commands if c.lower().startswith(want)]


def sink_rcpts(sink):
    """Every recipient of every message the sink accepted, in order."""
    return [a for m in sink.messages for a in m.rcpt_addrs]


def wait_sink_rcpts(sink, addrs, timeout=20):
    """Until the sink accepted a message for each of addrs (any case);
    returns sink_rcpts()."""
    want = {a.lower() for a in addrs}
    try:
        return wait_until(
            lambda: (lambda got: got if want <= {a.lower() for a in got}
                     else None)(sink_rcpts(sink)), timeout,
            "the sink to get %s" % ", ".join(sorted(want)), interval=0.2)
    except AssertionError as e:
        raise AssertionError("%s; it got %r" % (e, sink_rcpts(sink))) \
            from None


@contextlib.contextmanager
def system_user(prefix="rgu"):
    """A user of the system made for one test, and removed after it."""
    name = "%s%s" % (prefix, uuid.uuid4().hex[:8])
    subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin",
                    name], check=True, timeout=30)
    try:
        yield name
    finally:
        subprocess.run(["userdel", "-f", name], timeout=30)


@contextlib.contextmanager
def home_user(prefix="h4m"):
    """A user of the system with a home directory, made for one test and
    removed after it: (name, home)."""
    name = "%s%s" % (prefix, uuid.uuid4().hex[:8])
    home = os.path.join(test_dir("home"), name)
    subprocess.run(["useradd", "-M", "-N", "-d", home, "-s",
                    "/usr/sbin/nologin", name], check=True, timeout=30)
    try:
        pw = pwd.getpwnam(name)
        os.mkdir(home, 0o755)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        yield name, home
    finally:
        subprocess.run(["userdel", "-f", name], timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def mail_spool():
    """A mailbox directory as Debian's /var/mail: 2775 root:mail."""
    d = os.path.join(test_dir("mail"), "mail")
    os.mkdir(d)
    os.chown(d, 0, grp.getgrnam("mail").gr_gid)
    os.chmod(d, 0o2775)
    return d


def mbox_messages(spool, user, n, timeout=20):
    """The messages of SPOOL/user once it holds at least n."""
    path = os.path.join(spool, user)

    def enough():
        if not os.path.exists(path):
            return None
        msgs = list(mailbox.mbox(path, create=False))
        return msgs if len(msgs) >= n else None
    return wait_until(enough, timeout, "%d message(s) in %s" % (n, path),
                      interval=0.2)
