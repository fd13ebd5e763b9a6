"""Only tlsproxy holds the TLS private key: with a pki configured, the key
file cannot be opened under the uid of any other child (_smtpd,
_smtpmta, _smtpq, _smtppol); no process of the daemon, the parent included (it reads the
file and closes it), has the key file open or mapped once the keys are
loaded; and tlsproxy is neither dumpable nor traceable, so the front
end's uid can neither read its /proc files nor ptrace it, and even its
own uid cannot attach to it."""
import ctypes
import os
import pwd
import subprocess
import sys

from lib import clients, free_port
from lib.certs import (TestCA, client_context, relay_tls_extra,
                       starttls, wait_tls_ready)
from lib.daemon import Relay
from lib.sink import Sink

OTHER_USERS = ("_smtpd", "_smtpmta", "_smtpq", "_smtppol")

# Run under setpriv: PTRACE_ATTACH to argv[1]; exit 0 only if it worked.
PTRACE_PROBE = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
if libc.ptrace(16, pid, None, None) == 0:
    os.waitpid(pid, 0)
    libc.ptrace(17, pid, None, None)
    sys.exit(0)
sys.exit(ctypes.get_errno() or 1)
"""


def _as_user(user, *argv):
    pw = pwd.getpwnam(user)
    return subprocess.run(
        ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
         "--clear-groups"] + list(argv), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=10)


def _open_files(pid):
    """Targets of every descriptor and every file mapping of pid."""
    out = set()
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            out.add(os.readlink(os.path.join(fddir, fd)))
        except OSError:
            pass
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6:
                out.add(parts[5].strip())
    return out


def _dumpable(pid):
    """PR_GET_DUMPABLE is per process and not in /proc/PID/status; the
    kernel shows it by giving the /proc files of a non-dumpable process
    to root."""
    return os.stat("/proc/%d/environ" % pid).st_uid != 0


def test_only_tlsproxy_has_the_key():
    ca = TestCA()
    srv = ca.issue("relay.test")
    port = free_port()
    key = os.path.realpath(srv.key)
    with Sink() as sink, Relay(sink=sink, extra=relay_tls_extra(
            ca, srv, port)) as relay:
        wait_tls_ready(relay)
        # a TLS session in progress: the key is in use right now
        raw = clients.Raw(port)
        raw.ehlo()
        starttls(raw, client_context(ca))
        raw.ehlo()
        for user in OTHER_USERS:
            r = _as_user(user, "cat", key)
            assert r.returncode != 0 and not r.stdout, \
                "%s can read the key: %r" % (user, r.stdout[:40])
            assert b"Permission denied" in r.stderr, (user, r.stderr)
        kids = relay.children()
        assert "tlsproxy" in kids, kids
        pids = dict(kids, parent=relay.proc.pid)
        for name, pid in pids.items():
            files = _open_files(pid)
            assert key not in files, "%s (%d) has %s open" % (name, pid, key)
            assert not [f for f in files if f.endswith(".key")], \
                (name, files)
        tls = kids["tlsproxy"]
        assert not _dumpable(tls), "tlsproxy is dumpable"
        with open("/proc/%d/status" % tls) as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        assert status["TracerPid"].strip() == "0", status["TracerPid"]
        assert status["NoNewPrivs"].strip() == "1", status["NoNewPrivs"]
        r = _as_user("_smtpd", "cat", "/proc/%d/environ" % tls)
        assert r.returncode != 0, "front end reads tlsproxy's environ"
        r = _as_user("_smtpd", "cat", "/proc/%d/mem" % tls)
        assert r.returncode != 0, "front end reads tlsproxy's memory"
        for user in ("_smtpd", "_smtptls"):
            r = _as_user(user, sys.executable, "-c", PTRACE_PROBE, str(tls))
            assert r.returncode != 0, "%s can ptrace tlsproxy" % user
        assert relay.pid("tlsproxy") == tls
        # the TLS session in progress was not disturbed
        assert raw.cmd("NOOP")[0] == 250
        assert raw.cmd("QUIT")[0] == 221
        raw.close()
