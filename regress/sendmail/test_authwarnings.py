"""privacy authwarnings (the default, as sendmail's cf): an untrusted
user's `sendmail -f` gets X-Authentication-Warning and a log line;
without the flag neither is written.  Over SMTP sendmail's one default
case, "didn't use HELO protocol", cannot happen here: MAIL always needs
a HELO/EHLO (test_privacy)."""
import email
import os
import pwd
import subprocess

from lib import BIN
from lib.daemon import Relay
from lib.localmail import system_user
from lib.sink import Sink


def _relay(sink, conf):
    r = Relay(sink=sink, conf=conf, start=False)
    r.with_sendmail_socket()
    try:
        r.start()
    except BaseException:
        r.stop()
        raise
    return r


def _submit_as(relay, user, sender, rcpt):
    cmd = ["setpriv", "--reuid", user, "--regid",
           str(pwd.getpwnam(user).pw_gid), "--init-groups",
           os.path.join(BIN, "sendmail"), "-C", relay.confpath,
           "-f", sender, rcpt]
    r = subprocess.run(cmd, input=b"Subject: f\n\nbody\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert r.returncode == 0, r.stderr


def test_authwarnings_on_and_off():
    for privacy, warned in (("authwarnings", True), ("public", False)):
        with Sink() as sink, system_user("haw") as user, \
                _relay(sink, {"privacy": privacy}) as relay:
            mark = relay.mark()
            _submit_as(relay, user, "boss@else.test", "x@remote.test")
            [m] = sink.wait_for(1)
            warn = email.message_from_bytes(m.data)[
                "X-Authentication-Warning"]
            logged = "set sender to <boss@else.test>" in relay.log(mark)
            if warned:
                assert warn == "relay.test: %s set sender to " \
                    "boss@else.test using -f" % user, warn
                assert logged
            else:
                assert warn is None, warn
                assert not logged
