"""
pgsql.py: a real PostgreSQL 15 (Debian's) for the policy store tests.

    with Postgres() as pg:
        Relay(conf={"database postgresql": '"%s"' % pg.conninfo})
        pg.stop(); pg.start()       # an outage, on the same data
        pg.psql("SELECT ...")       # rows as lists of strings
    Postgres(tls=cert)              # ssl=on with a certs.Cert
    pg.add_password_role("smtpd", "secret", "maps")

initdb makes a cluster in a fresh directory owned by the unprivileged
"postgres" system user (Debian's package makes it), trust authentication,
and the server runs in the foreground as that user: TCP on 127.0.0.1 at a
free port (policyd is chrooted and reaches no unix socket outside it),
its unix socket in the test's own directory.  It is registered for the
runner's cleanup, and stopped (fast shutdown) and removed on exit.
"""
import os
import pwd
import shutil
import subprocess
import time

from . import (Skip, free_port, register_log, register_pid, stop_process,
               test_dir, wait_until)

PGBIN = "/usr/lib/postgresql/15/bin"
PGUSER = "postgres"


class Postgres:
    def __init__(self, start=True, tls=None):
        if not os.access(os.path.join(PGBIN, "postgres"), os.X_OK):
            raise Skip("postgresql-15 not installed (run tools/deps.sh)")
        try:
            self.pw = pwd.getpwnam(PGUSER)
        except KeyError:
            raise Skip("no %s user (run tools/deps.sh)" % PGUSER)
        self.dir = test_dir("pgsql")
        self.data = os.path.join(self.dir, "data")
        self.logpath = os.path.join(self.dir, "postgres.log")
        os.chown(self.dir, self.pw.pw_uid, self.pw.pw_gid)
        self.port = free_port()
        self.conninfo = ("host=127.0.0.1 port=%d dbname=postgres "
                         "user=postgres sslmode=disable" % self.port)
        self.proc = None
        self.tls_opts = []
        register_log("postgres", self.logpath)
        self._as_user([os.path.join(PGBIN, "initdb"), "-D", self.data,
                       "-A", "trust", "-U", PGUSER, "-E", "UTF8",
                       "--locale=C", "--no-sync"])
        if tls is not None:
            self._install_tls(tls)
        if start:
            self.start()

    def _install_tls(self, cert):
        """The server's certificate and key, readable by postgres only."""
        for name, src in (("server.crt", cert.chain), ("server.key",
                                                       cert.key)):
            dst = os.path.join(self.dir, name)
            shutil.copyfile(src, dst)
            os.chown(dst, self.pw.pw_uid, self.pw.pw_gid)
            os.chmod(dst, 0o600)
        self.tls_opts = ["-c", "ssl=on",
                         "-c", "ssl_cert_file=%s/server.crt" % self.dir,
                         "-c", "ssl_key_file=%s/server.key" % self.dir]

    def add_password_role(self, role, password, database):
        """A login role that must give its password (SCRAM) over TCP,
        owning a database of its own; the superuser stays trusted."""
        self.psql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, password))
        self.psql("CREATE DATABASE %s OWNER %s" % (database, role))
        hba = os.path.join(self.data, "pg_hba.conf")
        with open(hba, "w") as f:
            f.write("local all all trust\n"
                    "host all postgres 127.0.0.1/32 trust\n"
                    "host all %s 127.0.0.1/32 scram-sha-256\n" % role)
        self.psql("SELECT pg_reload_conf()")

    def _as_user(self, cmd, **kw):
        full = ["setpriv", "--reuid=%d" % self.pw.pw_uid,
                "--regid=%d" % self.pw.pw_gid, "--clear-groups"] + cmd
        r = subprocess.run(full, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, cwd=self.dir,
                           timeout=120, **kw)
        assert r.returncode == 0, "%s failed: %s" % (
            cmd[0], r.stdout.decode("utf-8", "replace"))
        return r.stdout.decode("utf-8", "replace")

    def start(self):
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid=%d" % self.pw.pw_uid,
             "--regid=%d" % self.pw.pw_gid, "--clear-groups",
             os.path.join(PGBIN, "postgres"), "-D", self.data,
             "-p", str(self.port), "-k", self.dir,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "max_connections=50"] + self.tls_opts,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.dir)
        log.close()
        register_pid(self.proc.pid)
        wait_until(self._ready, 60, "PostgreSQL to accept connections",
                   interval=0.1)

    def _ready(self):
        r = subprocess.run([os.path.join(PGBIN, "pg_isready"), "-q",
                            "-h", "127.0.0.1", "-p", str(self.port)],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def stop(self):
        """A fast shutdown: the server ends every session and exits."""
        if self.proc is None:
            return
        self.proc.send_signal(2)    # SIGINT: fast shutdown
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)
        self.proc = None

    def psql(self, sql):
        """Run sql as the superuser; the rows, each a list of fields."""
        out = self._as_user([os.path.join(PGBIN, "psql"), "-X", "-q",
                             "-A", "-t", "-F", "\t", "-v",
                             "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                             "-p", str(self.port), "-U", PGUSER,
                             "-d", "postgres", "-c", sql])
        return [line.split("\t") for line in out.splitlines() if line]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _notified(relay):
    if relay.proc is None:
        return None
    return int(relay.stats().get("policy.pgsql.notify", "0"))


def await_notify(relay, before, timeout=1.0):
    """Until policyd of relay has taken a NOTIFY after the count before
    (from notify_count()): a change reaches a relay within a second, not
    at once, as the notification is asynchronous.  Returns the seconds
    it took (None if the relay was not running)."""
    if before is None:
        return None
    start = time.monotonic()
    while _notified(relay) <= before:
        if time.monotonic() - start > timeout:
            raise AssertionError("no NOTIFY reached policyd within %.1fs"
                                 % timeout)
        time.sleep(0.01)
    return time.monotonic() - start


def notify_count(relay):
    """policyd's count of NOTIFYs taken (None if not running)."""
    return _notified(relay)


WRITES = {("access", "add"), ("access", "delete"), ("authinfo", "add"),
          ("authinfo", "delete"), ("map", "add"), ("map", "delete")}


def waiting_smtpctl_run(original):
    """Relay.smtpctl_run that, for a change of the maps made while the
    relay runs, returns once the relay's policyd has been notified."""
    def run(relay, *args, **kw):
        write = tuple(args[:2]) in WRITES or args[:1] == ("makemap",)
        before = notify_count(relay) if write else None
        r = original(relay, *args, **kw)
        if write and r.returncode == 0:
            await_notify(relay, before)
        return r
    return run
