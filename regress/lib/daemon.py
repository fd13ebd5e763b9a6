"""
daemon.py: the relay under test, run for real as root on loopback.

    with Sink() as sink, Relay(sink=sink) as relay:
        clients.send(relay.port, ...)

Relay writes an smtpd.conf into a fresh directory under regress/tmp/ (spool,
control socket, database, a listener on 127.0.0.1 with a free port, the
routes, `resolver 127.0.0.1 port P` for a DNS fixture, and whatever
statements the test adds or overrides), checks it with `smtpd -n`, starts
`bin/smtpd -d -f CONF -x BIN` (or the test's libexec directory) in the
foreground with its stderr in smtpd.log (or, with log_pipe, in a pipe that
a cat(1) copies to smtpd.log: a log that is not a regular file, as under
syslog or journald, so the children get RLIMIT_FSIZE 0 as in production),
and waits until the listener accepts connections.  It offers
the log (wait_for_log), smtpctl and makemap, the pids of the children
(found through /proc by parent pid and executable name), kill(), stop()
(SIGTERM, then SIGKILL after a timeout) and restart() on the same spool.
As a context manager it always stops the daemon, even when the test
fails; the runner also kills whatever pid was registered if a test dies.
"""
import os
import re
import signal
import socket
import subprocess
import time

from . import (BIN, free_port, need_root, register_log, register_pid,
               test_dir, wait_until)

CHILDREN = {
    "smtp": "smtpd-smtp",
    "mta": "smtpd-mta",
    "queue": "smtpd-queue",
    "policyd": "smtpd-policyd",
    "tlsproxy": "smtpd-tlsproxy",
    "auth": "smtpd-auth",
    "local": "smtpd-local",
}

QUEUE_FIELDS = ("evpid", "msgid", "type", "state", "sender", "rcpt",
                "mailer", "created", "nexttry", "retries", "lasterror")

# Statements every test relay gets unless the test overrides them (a
# value of None removes one).  Short retry times keep the tests fast.
DEFAULTS = {
    "hostname": '"relay.test"',
    "queue retry-min": "1s",
    "queue retry-max": "2s",
    "mta timeout connect": "2s",
    "mta timeout idle": "10s",
    # the client stays "[127.0.0.1]" whatever the machine's resolver says;
    # tests of the reverse lookup set "yes" with a Dns fixture
    "smtp reverse-dns": "no",
}


# The conninfo of `database postgresql` for every Relay made while it is
# set (regress/pgsql/ runs policy tests of other areas against a
# PostgreSQL store this way); None: the SQLite file.
POSTGRESQL = None


class RelayError(AssertionError):
    pass


class Relay:
    def __init__(self, sink=None, routes=None, conf=None, extra=(),
                 resolver_port=None, mta_port=None, verbose=False,
                 start=True, libexec=None, log_pipe=False):
        """routes: [(domain, host, port or None)]; sink: shorthand for
        route "*" via "[sink.addr]" port sink.port; conf: {statement
        prefix: value} merged over DEFAULTS; extra: more lines; libexec:
        the directory of the children's executables (default bin/);
        log_pipe: the log through a pipe (see above)."""
        need_root()
        self.dir = test_dir("relay")
        self.confpath = os.path.join(self.dir, "smtpd.conf")
        self.logpath = os.path.join(self.dir, "smtpd.log")
        self.spool = os.path.join(self.dir, "spool")
        self.control = os.path.join(self.dir, "smtpd.sock")
        self.dbdir = os.path.join(self.dir, "db")
        self.database = os.path.join(self.dbdir, "maps.db")
        os.makedirs(self.dbdir, 0o755, exist_ok=True)
        self.port = free_port()
        self.routes = list(routes or [])
        if sink is not None:
            self.routes.append(("*", "[%s]" % sink.addr, sink.port))
            if mta_port is None:
                mta_port = sink.port
        self.settings = dict(DEFAULTS)
        if mta_port is not None:
            self.settings["mta port"] = str(mta_port)
        if resolver_port is not None:
            self.settings["resolver"] = "127.0.0.1 port %d" % resolver_port
        self.settings.update(conf or {})
        self.extra = list(extra)
        self.verbose = verbose
        self.libexec = libexec or BIN
        self.log_pipe = log_pipe
        self.copier = None
        self.proc = None
        self.known_pids = set()
        self.exit_status = None
        self.lingering = []
        register_log("smtpd", self.logpath)
        self.write_conf()
        if start:
            try:
                self.start()
            except BaseException:
                # no __exit__ runs when the constructor raises
                self.stop()
                raise

    # --- configuration ------------------------------------------------------
    def conf_text(self):
        lines = []
        for key, value in self.settings.items():
            if value is not None:
                lines.append("%s %s" % (key, value))
        lines += ['queue "%s"' % self.spool,
                  'control "%s"' % self.control,
                  'database "%s"' % self.database,
                  "listen on 127.0.0.1 port %d" % self.port]
        if POSTGRESQL is not None:
            lines.append('database postgresql "%s"' % POSTGRESQL)
        for domain, host, port in self.routes:
            line = 'route "%s" via "%s"' % (domain, host)
            if port:
                line += " port %d" % port
            lines.append(line)
        # the default socket is one path for every relay: two relays of
        # a test (or of two test runs) would take each other's
        if not any(x.startswith("sendmail socket") for x in self.extra):
            lines.append('sendmail socket "%s"'
                         % os.path.join(self.dir, "submit.sock"))
        lines += self.extra
        return "\n".join(lines) + "\n"

    def write_conf(self):
        with open(self.confpath, "w") as f:
            f.write(self.conf_text())

    def with_sendmail_socket(self):
        """The sendmail command's socket (self.submit) and drop directory
        (self.drop) in this relay's directory, written to its config."""
        self.submit = os.path.join(self.dir, "submit.sock")
        self.drop = os.path.join(self.dir, "offline")
        self.extra += ['sendmail socket "%s"' % self.submit,
                       'sendmail drop-dir "%s"' % self.drop]
        self.write_conf()
        return self

    def set(self, key, value):
        """Change one statement (written at once, applied on reload)."""
        self.settings[key] = value
        self.write_conf()

    def check_conf(self):
        r = subprocess.run([os.path.join(BIN, "smtpd"), "-n", "-f",
                            self.confpath], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RelayError("smtpd -n refuses the config (rc %d): %s\n%s"
                             % (r.returncode, r.stdout.decode(
                                 "utf-8", "replace")[-2000:],
                                self.conf_text()))

    # --- life cycle ---------------------------------------------------------
    def start(self, timeout=20):
        smtpd = os.path.join(BIN, "smtpd")
        if not os.access(smtpd, os.X_OK):
            raise RelayError("%s is missing (make all)" % smtpd)
        self.check_conf()
        args = [smtpd, "-d", "-f", self.confpath, "-x", self.libexec]
        if self.verbose:
            args.append("-v")
        log = open(self.logpath, "ab")
        log.write(b"=== regress: starting %s\n" % " ".join(args).encode())
        log.flush()
        out = log
        if self.log_pipe:
            self.copier = subprocess.Popen(["cat"], stdin=subprocess.PIPE,
                                           stdout=log)
            register_pid(self.copier.pid)
            out = self.copier.stdin
        self.proc = subprocess.Popen(args, stdout=out, stderr=out,
                                     stdin=subprocess.DEVNULL)
        log.close()
        if self.copier is not None:
            # the daemon and its children hold the only write ends now
            self.copier.stdin.close()
        self.exit_status = None
        register_pid(self.proc.pid)
        self.wait_ready(timeout)
        self.remember_children()
        return self

    def wait_ready(self, timeout=20):
        """Until the listener accepts and the control socket exists."""
        def ready():
            if self.proc.poll() is not None:
                raise RelayError("smtpd exited with status %s during "
                                 "startup; its log ends:\n%s"
                                 % (self.proc.returncode, self.log_tail()))
            if not os.path.exists(self.control):
                return False
            return _greets(self.port)
        wait_until(ready, timeout, "a greeting from port %d" % self.port,
                   interval=0.2)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM the parent, SIGKILL after timeout; reap the children.
        Returns the parent's exit status (negative: killed by signal)."""
        if self.proc is None:
            return self.exit_status
        self.remember_children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.exit_status = self.proc.returncode
        self.proc = None
        self.lingering = self.reap_children(timeout=5)
        self.wait_copier()
        return self.exit_status

    def wait_copier(self):
        """With log_pipe: until cat has copied the last line."""
        if self.copier is None:
            return
        try:
            self.copier.wait(5)
        except subprocess.TimeoutExpired:
            self.copier.kill()
            self.copier.wait(5)
        self.copier = None

    def crash(self, parent_only=False):
        """kill -9 the parent and every child at once (a power cut), or
        the parent alone.  Returns the children still running 5 seconds
        later (they were killed then)."""
        self.remember_children()
        # the parent first: alive for a moment after a child it would
        # start another, which nobody here knows of (and which could
        # still hold the spool when the next daemon starts)
        pids = [] if self.proc is None else [self.proc.pid]
        if not parent_only:
            pids += list(self.known_pids)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait(5)
            self.exit_status = self.proc.returncode
            self.proc = None
        return self.reap_children(timeout=5)

    def restart(self, timeout=20):
        self.stop()
        return self.start(timeout)

    def reap_children(self, timeout=5):
        """Children must follow their parent out; kill any that linger."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not [p for p in self.known_pids if _is_ours(p)]:
                break
            time.sleep(0.05)
        lingering = [p for p in self.known_pids if _is_ours(p)]
        for pid in lingering:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.known_pids.clear()
        return lingering

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- the children -------------------------------------------------------
    def children(self):
        """{name: pid} of the parent's current children."""
        if not self.alive():
            return {}
        ppid = self.proc.pid
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                with open("/proc/%d/stat" % pid) as f:
                    stat = f.read()
                # the command name is in parentheses and may hold spaces
                fields = stat.rsplit(")", 1)[1].split()
                if int(fields[1]) != ppid or fields[0] == "Z":
                    continue
                name = _child_name(pid)
            except (OSError, IndexError, ValueError):
                continue
            if name:
                found[name] = pid
        return found

    def remember_children(self):
        for pid in self.children().values():
            if pid not in self.known_pids:
                self.known_pids.add(pid)
                register_pid(pid)

    def pid(self, name, timeout=10):
        """The pid of one child, waiting for it to exist."""
        return wait_until(lambda: self.children().get(name), timeout,
                          "child %s of smtpd" % name)

    def kill(self, name, sig=signal.SIGKILL):
        pid = self.pid(name)
        os.kill(pid, sig)
        return pid

    def wait_restarted(self, name, old_pid, timeout=20):
        """Until a new process of that name runs; returns its pid."""
        def new():
            pid = self.children().get(name)
            return pid if pid and pid != old_pid else None
        pid = wait_until(new, timeout, "smtpd to restart %s" % name)
        self.remember_children()
        return pid

    # --- the log --------------------------------------------------------------
    def log(self, start=0):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=15):
        return "\n".join(self.log().splitlines()[-lines:])

    def mark(self):
        """An offset in the log: log lines after it are new."""
        try:
            return os.path.getsize(self.logpath)
        except OSError:
            return 0

    def wait_for_log(self, regex, timeout=10, start=0):
        """Until a log line after start matches regex; returns the match."""
        pat = re.compile(regex, re.M | re.I)
        return wait_until(lambda: pat.search(self.log(start)), timeout,
                          "log line /%s/" % regex, interval=0.1)

    # --- smtpctl --------------------------------------------------------------
    def smtpctl_run(self, *args, timeout=20, user=None, conf=True):
        """Run smtpctl; user="nobody" runs it as uid/gid 65534."""
        cmd = [os.path.join(BIN, "smtpctl")]
        if conf:
            cmd += ["-f", self.confpath]
        cmd += list(args)
        if user is not None:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534",
                   "--clear-groups"] + cmd
        return subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def smtpctl(self, *args, timeout=20):
        """(exit status, stdout text) of smtpctl -f CONF args..."""
        r = self.smtpctl_run(*args, timeout=timeout)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def makemap(self, table, text):
        """Write text to a file and load it with smtpctl makemap."""
        path = os.path.join(self.dir, "%s.map" % table)
        with open(path, "w") as f:
            f.write(text)
        r = self.smtpctl_run("makemap", table, path)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")

    def show_queue(self):
        """Envelopes of `smtpctl show queue` as dicts of QUEUE_FIELDS."""
        rc, out = self.smtpctl("show", "queue")
        assert rc == 0, "smtpctl show queue failed (%d): %s" % (rc, out)
        envs = []
        for line in out.splitlines():
            fields = line.split("|")
            if len(fields) >= len(QUEUE_FIELDS):
                head = fields[:len(QUEUE_FIELDS) - 1]
                last = "|".join(fields[len(QUEUE_FIELDS) - 1:])
                envs.append(dict(zip(QUEUE_FIELDS, head + [last])))
        return envs

    def stats(self):
        rc, out = self.smtpctl("show", "stats")
        assert rc == 0, "smtpctl show stats failed (%d): %s" % (rc, out)
        d = {}
        for line in out.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                d[k.strip()] = v.strip()
        return d

    def wait_queue_empty(self, timeout=30):
        wait_until(lambda: not self.show_queue(), timeout,
                   "the queue to empty", interval=0.5)

    def wait_queue(self, pred, timeout=20, what="a queue state"):
        """Until pred(envelopes) is true; returns the envelopes."""
        def check():
            envs = self.show_queue()
            return (envs,) if pred(envs) else None
        return wait_until(check, timeout, what, interval=0.3)[0]

    def spool_files(self):
        """Every regular file under the spool, relative paths."""
        out = []
        for root, _, files in os.walk(self.spool):
            for f in files:
                out.append(os.path.relpath(os.path.join(root, f),
                                           self.spool))
        return out


def _greets(port):
    """True if a connection to port gets a reply line (220, or 421 or 554
    from a relay that refuses us: it is up either way)."""
    try:
        s = socket.create_connection(("127.0.0.1", port), 1)
    except OSError:
        return False
    try:
        s.settimeout(3)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(512)
            if not chunk:
                return False
            buf += chunk
        if re.match(rb"^[2-5]\d\d[ -]", buf):
            s.sendall(b"QUIT\r\n")
            return True
        return False
    except OSError:
        return False
    finally:
        s.close()


def _child_name(pid):
    """Our name for a child process by its executable, or None."""
    names = []
    try:
        names.append(os.path.basename(os.readlink("/proc/%d/exe" % pid)))
    except OSError:
        pass
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv0 = f.read().split(b"\0", 1)[0].decode("utf-8", "replace")
        names.append(os.path.basename(argv0))
    except OSError:
        pass
    for name, exe in CHILDREN.items():
        for n in names:
            if n == exe or n.startswith(exe + " ") or n == exe + " (deleted)":
                return name
    return None


def _is_ours(pid):
    """pid still runs one of our child executables (not a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except (OSError, IndexError):
        return False
    return _child_name(pid) is not None
