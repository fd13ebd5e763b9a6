"""
Shared helpers of the end-to-end regress suite.

Everything here is standard library only.  The runner (regress/run.py) runs
each test function in its own process; a test asserts outcomes with plain
assert statements (or raises Skip), and the fixtures in daemon.py, sink.py
and dns.py clean up after themselves through context managers.  Every
long-lived process a fixture starts is recorded in the file named by
$REGRESS_PIDFILE, so the runner can end what a timed-out test left behind.
"""
import hashlib
import os
import random
import socket
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
BIN = os.path.join(REPO, "bin")
# A unix socket path holds at most 107 bytes, and fixtures keep their
# control sockets in their own directories: a checkout too deep for that
# keeps its fixtures under /tmp instead.
TMP = os.path.join(REPO, "regress", "tmp")
if len(TMP) > 40:
    TMP = "/tmp/smtpd-regress-%s" % hashlib.sha1(
        REPO.encode()).hexdigest()[:8]
POSTFIX = "/opt/relay-test/postfix"


class Skip(Exception):
    """Raised by a test (or a fixture) that cannot run here."""


# the user of each child (tools/deps.sh makes them)
CHILD_USERS = {"smtp": "_smtpd", "mta": "_smtpmta", "queue": "_smtpq",
               "policyd": "_smtppol", "tlsproxy": "_smtptls",
               "auth": "_smtpauth",
               # smtpd-local stays root: it takes the users' identities
               "local": "root"}


def proc_status(pid):
    """/proc/PID/status as {field: [words]}."""
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.split()
    return fields


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root")


def timeout(seconds):
    """Decorator: the per-test time limit the runner applies."""
    def mark(func):
        func.timeout = seconds
        return func
    return mark


def soak(func):
    """Decorator: run only with run.py --soak."""
    func.soak = True
    return func


def register_pid(pid):
    """Remember a process we started, for the runner's cleanup."""
    path = os.environ.get("REGRESS_PIDFILE")
    if path:
        with open(path, "a") as f:
            f.write("%d\n" % pid)


_LOGS = []


def register_log(label, path):
    """A log file whose tail the runner shows when the test fails."""
    _LOGS.append((label, path))


def log_tails(nbytes=3000):
    """The tails of every registered log, for a failure report."""
    out = []
    for label, path in _LOGS:
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - nbytes))
                text = f.read().decode("utf-8", "replace")
        except OSError as e:
            text = "(cannot read: %s)" % e
        out.append("--- tail of %s (%s) ---\n%s" % (label, path, text))
    return "\n".join(out)


def wait_until(pred, timeout, what, interval=0.05):
    """Poll pred() until it returns a true value (returned) or fail."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


# Ports are drawn below the kernel's ephemeral range (32768-60999 on
# Linux), so an outgoing connection can never take a port a fixture has
# chosen but not yet bound, and never twice within one test process, so
# two listeners of one test cannot be handed the same port.
_PORT_LOW, _PORT_HIGH = 20000, 32767
_ports_given = set()


def _port_bindable(port, addrs, kind):
    for a in addrs:
        family = socket.AF_INET6 if ":" in a else socket.AF_INET
        t = socket.socket(family, kind)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            t.bind((a, port))
        except OSError:
            return False
        finally:
            t.close()
    return True


def _pick_port(addrs, kinds):
    for _ in range(500):
        port = random.randint(_PORT_LOW, _PORT_HIGH)
        if port in _ports_given:
            continue
        if all(_port_bindable(port, addrs, k) for k in kinds):
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port")


def free_port(addrs=("127.0.0.1",)):
    """A TCP port free on every address of addrs, not given out before."""
    return _pick_port(addrs, (socket.SOCK_STREAM,))


def free_udp_port(tcp_too=False):
    """A UDP port free on 127.0.0.1, not given out before; with tcp_too
    free for TCP as well (a DNS server listens on both)."""
    kinds = (socket.SOCK_DGRAM,) + ((socket.SOCK_STREAM,) if tcp_too else ())
    return _pick_port(("127.0.0.1",), kinds)


def fixture_prefix(test):
    """The prefix of the fixture directories of one test, at most 40
    characters, so that <TMP>/<prefix>-relay-N/smtpd.sock fits a unix
    socket path."""
    base = test.replace("/", "-")
    if len(base) <= 40:
        return base
    return "%s~%s" % (base[:31], hashlib.sha1(base.encode()).hexdigest()[:8])


def test_dir(name):
    """A fresh directory under TMP for one fixture."""
    os.makedirs(TMP, exist_ok=True)
    os.chmod(TMP, 0o755)
    base = fixture_prefix(os.environ.get("REGRESS_TEST", "adhoc"))
    for i in range(1000):
        d = os.path.join(TMP, "%s-%s-%d" % (base, name, i))
        try:
            os.mkdir(d, 0o755)
            return d
        except FileExistsError:
            continue
    raise RuntimeError("cannot make a directory under %s" % TMP)


def stop_process(proc):
    """End a fixture's server: SIGTERM, then SIGKILL after 5 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def read_text(*paths):
    """The text of the files that exist among paths, joined (a log)."""
    text = ""
    for path in paths:
        try:
            with open(path, errors="replace") as f:
                text += f.read()
        except OSError:
            pass
    return text


def smtpd_check(text):
    """smtpd -n on a config of text: (exit status, what it printed)."""
    path = os.path.join(test_dir("conf"), "smtpd.conf")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([os.path.join(BIN, "smtpd"), "-n", "-f", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode, r.stdout.decode("utf-8", "replace")
