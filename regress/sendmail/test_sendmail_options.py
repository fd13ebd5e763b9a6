"""The sendmail command's options one by one, as sendmail 8 parses them
(issue 12): plain getopt(3) over its option letters, so flags without a
value cluster in any order ("-ti", "-it") and the option letters end at
the first recipient; newaliases, by that name or as -bi, passes -v on
and takes no -f sender.  Helpers are those of test_sendmail.py."""
import importlib.util
import os

from lib import BIN
from lib.localmail import system_user
from lib.sink import Sink

_spec = importlib.util.spec_from_file_location(
    "sendmail_helpers", os.path.join(os.path.dirname(__file__),
                                     "test_sendmail.py"))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
_relay = _helpers._relay
sendmail = _helpers.sendmail
SENDMAIL = _helpers.SENDMAIL
EX_NOUSER = _helpers.EX_NOUSER


def _aliases(relay):
    path = os.path.join(relay.dir, "aliases")
    with open(path, "w") as f:
        f.write("postmaster: root\nwebmaster: root\n")
    relay.set("local aliases", '"%s"' % path)


def _newaliases_link(relay):
    """newaliases as a link to bin/sendmail (how a site installs it)."""
    link = os.path.join(relay.dir, "newaliases")
    if not os.path.lexists(link):
        os.symlink(SENDMAIL, link)
    return link


def _run(argv):
    import subprocess
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_newaliases_link_and_bi_pass_v_on():
    with Sink() as sink, _relay(sink) as relay:
        _aliases(relay)
        link = _newaliases_link(relay)
        for argv in ([link, "-C", relay.confpath, "-v"],
                     [SENDMAIL, "-C", relay.confpath, "-bi", "-v"],
                     [SENDMAIL, "-C", relay.confpath, "-vbi"]):
            rc, out, err = _run(argv)
            assert rc == 0, (argv, rc, out, err)
            assert "2 aliases" in out, (argv, out, err)
            assert "postmaster: root" in out, (argv, out, err)
            assert "webmaster: root" in out, (argv, out, err)


def test_newaliases_takes_no_sender():
    with Sink() as sink, _relay(sink) as relay:
        _aliases(relay)
        link = _newaliases_link(relay)
        for argv in ([link, "-C", relay.confpath, "-f", "/etc/aliases"],
                     [SENDMAIL, "-C", relay.confpath, "-bi", "-f",
                      "list@else.test"]):
            rc, out, err = _run(argv)
            assert rc == 0, (argv, rc, out, err)
            assert "2 aliases" in out, (argv, out, err)
            assert "-f ignored" in err, (argv, err)


def test_clustered_flags_are_getopts():
    text = b"To: x@remote.test\nSubject: c\n\nbefore\n.\nafter\n"
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        for args in (["-ti"], ["-it"], ["-itf", "list@else.test"]):
            rc, _, err = sendmail(relay, user, args, text)
            assert rc == 0, (args, rc, err)
        msgs = sink.wait_for(3)
        for m in msgs:
            assert m.rcpt_addrs == ["x@remote.test"], m.rcpt_addrs
            assert b"before\r\n.\r\nafter" in m.data, m.data
        assert sorted(m.mail_from for m in msgs) == sorted(
            ["%s@relay.test" % user] * 2 + ["list@else.test"])


def test_options_end_at_the_first_recipient():
    with Sink() as sink, system_user("hbs") as user, _relay(sink) as relay:
        rc, _, err = sendmail(relay, user, ["bob@remote.test", "-v"],
                              b"Subject: v\n\nv\n")
        assert rc == EX_NOUSER, (rc, err)
        assert "-v... " in err and "options come before" in err, err
        assert "-v@" not in err, err
        rc, _, err = sendmail(relay, user, ["-v", "bob@remote.test"],
                              b"Subject: v\n\nv\n")
        assert rc == 0, (rc, err)
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["bob@remote.test"], m.rcpt_addrs
