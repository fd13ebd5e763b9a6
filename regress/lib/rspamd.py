"""
rspamd.py: the real rspamd (Debian 12's 3.4) as a milter fixture.

    with Rspamd() as rs:
        'filter spam "%s"' % rs.spec              # inet:PORT@127.0.0.1

One proxy worker in milter mode scans by itself (self_scan: no normal
worker, no controller, no redis) on 127.0.0.1:PORT.  The configuration
is the fixture's own, not /etc/rspamd: no Lua rules and no C filters,
so what is left is rspamd's core, which rejects a message holding the
GTUBE pattern (XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-
EMAIL*C.34X) with its own reply, GTUBE_REPLY (an SMFIR_REPLYCODE of
"554 5.7.1 Gtube pattern", as Postfix 3.7 shows it to its client), and
lets every other message pass.  Its public-suffix
list is a file of four names in the fixture's directory: compiling the
shipped one costs rspamd about ten seconds at every start.  rspamd
refuses to run its workers as root, so they run as _rspamd (made by the
package) with -u/-g; its database, run and log files are in the
fixture's directory, which that user owns.  No DNS: its resolver points
at a closed port on 127.0.0.1.  The main process runs in the
foreground (-f), is registered for the runner's cleanup and stopped on
exit (its workers follow it).  `startup` is the seconds from exec to the
milter port accepting.
"""
import os
import pwd
import signal
import socket
import subprocess
import time

from . import (Skip, free_port, read_text, register_log, register_pid,
               stop_process, test_dir)

RSPAMD = "/usr/bin/rspamd"
USER = "_rspamd"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
GTUBE_REPLY = (554, "5.7.1 Gtube pattern")


class Rspamd:
    def __init__(self):
        if not os.access(RSPAMD, os.X_OK):
            raise Skip("rspamd not installed (run tools/deps.sh)")
        self.dir = test_dir("rspamd")
        self.port = None
        self.proc = None
        self.startup = None

    @property
    def spec(self):
        """The filter's socket as smtpd.conf and Postfix name it."""
        return "inet:%d@127.0.0.1" % self.port

    def _conf(self):
        tld = os.path.join(self.dir, "tld.dat")
        with open(tld, "w") as f:
            f.write("com\nnet\norg\ntest\n")
        path = os.path.join(self.dir, "rspamd.conf")
        with open(path, "w") as f:
            f.write("""options {
  pidfile = "%(d)s/rspamd.pid";
  dbdir = "%(d)s";
  hs_cache_dir = "%(d)s";
  tempdir = "%(d)s";
  url_tld = "%(tld)s";
  filters = "";
  dns { nameserver = ["127.0.0.1:1"]; }
}
logging { type = "file"; filename = "%(d)s/rspamd.log"; level = "info"; }
worker "rspamd_proxy" {
  bind_socket = "127.0.0.1:%(port)d";
  milter = yes;
  timeout = 60s;
  count = 1;
  upstream "local" { default = yes; self_scan = yes; }
}
""" % {"d": self.dir, "tld": tld, "port": self.port})
        return path

    def start(self):
        pw = pwd.getpwnam(USER)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.logpath = os.path.join(self.dir, "rspamd.log")
        self.outpath = os.path.join(self.dir, "rspamd.out")
        register_log("rspamd", self.logpath)
        for _ in range(3):
            self.port = free_port()
            conf = self._conf()
            t0 = time.monotonic()
            out = open(self.outpath, "ab")
            self.proc = subprocess.Popen(
                [RSPAMD, "-f", "-c", conf, "-u", USER, "-g", USER],
                stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                cwd=self.dir)
            out.close()
            register_pid(self.proc.pid)
            if self._wait_ready(30):
                self.startup = time.monotonic() - t0
                # the runner's cleanup must find the workers too
                for w in _children(self.proc.pid):
                    register_pid(w)
                return self
            self.stop()
        raise AssertionError("rspamd did not start: " + self.log()[-2000:])

    def _wait_ready(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def log(self):
        return read_text(self.outpath, self.logpath)

    def stop(self):
        """SIGTERM to the main process, which ends its workers; a worker
        still there after that (the main process had to be killed) is
        killed by the pid it had as the main process's child."""
        if self.proc is None:
            return
        workers = _children(self.proc.pid)
        stop_process(self.proc)
        self.proc = None
        for w in workers:
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _children(ppid):
    """The pids whose parent is ppid (the workers of a main process)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == ppid:
            out.append(int(name))
    return out
