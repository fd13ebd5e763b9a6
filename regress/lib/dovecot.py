"""
dovecot.py: a real Dovecot LMTP server (dovecot-lmtpd) for one test.

Dovecot(users) writes a minimal configuration in a fresh directory:
base_dir DIR/run (the LMTP socket DIR/run/lmtp, mode 0666, so that a
delivery child running as the recipient can connect), an LMTP listener
on 127.0.0.1 at a free port, the log in DIR/dovecot.log, and a
passwd-file of the users it knows (names, or full addresses for virtual
users, each with the uid and gid of a system user), whose mail goes to
DIR/mail/NAME/Maildir.  A system user left out of users is one Dovecot
does not know (550 5.1.1).  start() runs `dovecot -c CONF` (as root: the
master forks and stays), stop() ends that master and waits until it is
gone; the context manager does both.  messages(name) reads the Maildir
Dovecot wrote with Python's mailbox module.
"""
import mailbox
import os
import pwd
import signal
import socket
import subprocess
import time

from . import free_port, register_log, register_pid, test_dir, wait_until

DOVECOT = "/usr/sbin/dovecot"


class Dovecot:
    def __init__(self, users, start=True):
        """users: [(name, system user)]: name is what RCPT TO gives
        (a user name, or an address), delivered as that system user."""
        self.dir = test_dir("dovecot")
        self.run = os.path.join(self.dir, "run")
        self.maildirs = os.path.join(self.dir, "mail")
        self.socket = os.path.join(self.run, "lmtp")
        self.confpath = os.path.join(self.dir, "dovecot.conf")
        self.logpath = os.path.join(self.dir, "dovecot.log")
        self.port = free_port()
        self.pid = None
        for d in (self.run, self.maildirs, os.path.join(self.dir, "state")):
            os.mkdir(d, 0o755)
        # each user's Maildir is made by Dovecot, as that user
        os.chmod(self.maildirs, 0o1777)
        self._write_users(users)
        self._write_conf()
        register_log("dovecot", self.logpath)
        if start:
            self.start()

    def _write_users(self, users):
        lines = []
        for name, system in users:
            pw = pwd.getpwnam(system)
            lines.append("%s::%d:%d::%s::" % (
                name, pw.pw_uid, pw.pw_gid,
                os.path.join(self.maildirs, name)))
        with open(os.path.join(self.dir, "users"), "w") as f:
            f.write("".join(line + "\n" for line in lines))

    def _write_conf(self):
        text = """\
base_dir = {run}
state_dir = {dir}/state
log_path = {log}
protocols = lmtp
ssl = no
listen = 127.0.0.1
first_valid_uid = 1
mail_location = maildir:~/Maildir
auth_username_format = %u
passdb {{
  driver = passwd-file
  args = {dir}/users
}}
userdb {{
  driver = passwd-file
  args = {dir}/users
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
}}
""".format(run=self.run, dir=self.dir, log=self.logpath, port=self.port)
        with open(self.confpath, "w") as f:
            f.write(text)

    def _answers(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(self.socket)
                return s.recv(512).startswith(b"220 ")
        except OSError:
            return False

    def start(self):
        subprocess.run([DOVECOT, "-c", self.confpath], check=True,
                       timeout=30)
        pidfile = os.path.join(self.run, "master.pid")

        def pid():
            # dovecot creates the file, then writes it: wait for the number
            try:
                with open(pidfile) as f:
                    text = f.read().strip()
            except FileNotFoundError:
                return None
            return int(text) if text.isdigit() else None
        self.pid = wait_until(pid, 10, "dovecot's pid file")
        register_pid(self.pid)
        wait_until(self._answers, 10, "dovecot's LMTP greeting")

    def stop(self):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        self.pid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def maildir(self, name):
        return os.path.join(self.maildirs, name, "Maildir")

    def messages(self, name):
        """The messages of name's Maildir (none if it is not there)."""
        path = self.maildir(name)
        if not os.path.isdir(path):
            return []
        return list(mailbox.Maildir(path, create=False))

    def wait_messages(self, name, n, timeout=20):
        return wait_until(
            lambda: (lambda m: m if len(m) >= n else None)(
                self.messages(name)),
            timeout, "%d message(s) in %s" % (n, self.maildir(name)),
            interval=0.2)
