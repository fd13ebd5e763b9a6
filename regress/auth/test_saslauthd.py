"""saslauthd as the password source (`auth saslauthd PATH`): a real
saslauthd (-a shadow) checks a throwaway system account's password for
AUTH PLAIN and LOGIN through smtpd-auth; a wrong password gets 535, and a
trusted mechanism lets the client relay.  The account is removed at the
end."""
import os
import shutil
import signal
import subprocess

from lib import Skip, free_port, need_root, register_pid, test_dir, wait_until
from lib.daemon import Relay
from lib.sasl import RawFrom, b64, plain, wait_auth_ready
from lib.sink import Sink

USER, PASSWORD = "smtptestauth", "Sekrit-99-pw"
SASLAUTHD = "/usr/sbin/saslauthd"


class _Saslauthd:
    """saslauthd -a shadow on a mux socket in a fresh directory, and the
    system account it checks."""

    def __init__(self):
        need_root()
        if not os.access(SASLAUTHD, os.X_OK):
            raise Skip("saslauthd not installed (sasl2-bin)")
        self.dir = test_dir("saslauthd")
        os.chmod(self.dir, 0o755)
        self.mux = os.path.join(self.dir, "mux")
        subprocess.run(["userdel", USER], stderr=subprocess.DEVNULL)
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", USER],
                       check=True)
        subprocess.run(["chpasswd"], input=("%s:%s\n" % (USER, PASSWORD))
                       .encode(), check=True)
        self.proc = subprocess.Popen(
            [SASLAUTHD, "-a", "shadow", "-m", self.dir, "-n", "1", "-d"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            # it signals its whole process group when it stops
            start_new_session=True)
        register_pid(self.proc.pid)
        wait_until(lambda: os.path.exists(self.mux), 10, "saslauthd mux")

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        subprocess.run(["userdel", USER], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def test_saslauthd_plain_and_login():
    sad = _Saslauthd()
    try:
        port = free_port()
        extra = ["listen on 127.0.0.1 port %d auth-optional" % port,
                 'auth saslauthd "%s"' % sad.mux,
                 'auth mechanisms "PLAIN LOGIN"', 'auth trust "PLAIN LOGIN"',
                 'auth options ""']
        with Sink() as sink, Relay(sink=sink, extra=extra) as relay:
            wait_auth_ready(port)
            with RawFrom(port) as raw:
                raw.ehlo()
                assert raw.cmd("AUTH PLAIN " + plain(USER, "wrong"))[0] == 535
            with RawFrom(port) as raw:
                raw.ehlo()
                assert raw.cmd("AUTH PLAIN " + plain(USER, PASSWORD)) == (
                    235, ["2.7.0 Authentication successful"])
                assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
                assert raw.cmd("RCPT TO:<far@remote.test>")[0] == 250
            with RawFrom(port) as raw:
                raw.ehlo()
                assert raw.cmd("AUTH LOGIN")[0] == 334
                assert raw.cmd(b64(USER))[0] == 334
                assert raw.cmd(b64(PASSWORD))[0] == 235
            relay.wait_for_log(r"AUTH=server, relay=\[127\.0\.0\.2\], "
                               r"authid=%s, mech=LOGIN" % USER)
    finally:
        sad.close()
