"""Supplementary groups and resource limits of the children, as the kernel
shows them in /proc/PID/status and /proc/PID/limits once mail has flowed
(so the threads exist: the resolver's in smtp and mta, the queue's sync
thread).  No child keeps its own gid as a supplementary group; smtpd-auth
alone has one (sasl).  Every child has RLIMIT_CORE 0; those that never
start a task (policyd, tlsproxy, auth) RLIMIT_NPROC 0; those that write no
file (mta, policyd, tlsproxy, auth) RLIMIT_FSIZE 0, unless their log is a
regular file.  The threaded ones keep a process limit that lets them
start their threads (Linux counts threads against RLIMIT_NPROC).
smtpd-local is root and keeps both (it forks a child per delivery, which
writes the mbox), with RLIMIT_CORE 0 too."""
import grp
import pwd

from lib import CHILD_USERS, clients, proc_status
from lib.daemon import Relay
from lib.dns import Dns
from lib.sink import Sink

NO_TASK = {"policyd", "tlsproxy", "auth"}
NO_WRITE = {"mta", "policyd", "tlsproxy", "auth"}
THREADED = {"smtp", "mta", "queue"}
DOMAIN = "limits.example.net"


def _limits(pid):
    """{"Max processes": ("soft", "hard"), ...} of /proc/PID/limits."""
    limits = {}
    with open("/proc/%d/limits" % pid) as f:
        next(f)
        for line in f:
            name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
            limits[name] = (soft, hard)
    return limits


def _groups(user):
    """The supplementary groups a child of user should have."""
    gid = pwd.getpwnam(user).pw_gid
    return sorted(str(g.gr_gid) for g in grp.getgrall()
                  if user in g.gr_mem and g.gr_gid != gid)


def _flow(log_pipe):
    """A relay whose front end and mta have resolved, with its children."""
    hosts = [("mx." + DOMAIN, "127.0.0.1")]
    mx = [(DOMAIN, "mx." + DOMAIN, 10)]
    with Dns(mx=mx, hosts=hosts) as dns, Sink() as sink, \
            Relay(resolver_port=dns.port, mta_port=sink.port,
                  conf={"smtp reverse-dns": "yes"},
                  log_pipe=log_pipe) as relay:
        clients.send(relay.port, "alice@sender.test", ["bob@" + DOMAIN])
        sink.wait_for(1, timeout=30)
        relay.wait_queue_empty(10)
        kids = relay.children()
        assert set(kids) == set(CHILD_USERS), "children: %r" % kids
        return {name: (proc_status(pid), _limits(pid))
                for name, pid in kids.items()}


def test_groups_and_limits():
    for name, (st, lim) in _flow(log_pipe=True).items():
        if name == "local":
            # root, forks a child per delivery, which writes the mbox
            assert lim["Max core file size"] == ("0", "0"), lim
            assert "0" not in lim["Max processes"], lim
            assert lim["Max file size"] == ("unlimited", "unlimited"), lim
            continue
        user = CHILD_USERS[name]
        gid = str(pwd.getpwnam(user).pw_gid)
        groups = sorted(st.get("Groups", []))
        assert gid not in groups, (name, "own gid kept", groups)
        assert groups == _groups(user), (name, groups)
        if name != "auth":
            assert groups == [], (name, groups)
        assert lim["Max core file size"] == ("0", "0"), (name, lim)
        nproc = lim["Max processes"]
        if name in NO_TASK:
            assert nproc == ("0", "0"), (name, nproc)
        else:
            assert "0" not in nproc, (name, nproc)
        fsize = lim["Max file size"]
        if name in NO_WRITE:
            assert fsize == ("0", "0"), (name, fsize)
        else:
            assert fsize == ("unlimited", "unlimited"), (name, fsize)
        if name in THREADED:
            assert int(st["Threads"][0]) >= 2, (name, st["Threads"])


def test_log_on_a_file_keeps_fsize():
    """smtpd -d 2>file: a child with RLIMIT_FSIZE 0 could not log."""
    for name, (st, lim) in _flow(log_pipe=False).items():
        assert lim["Max file size"] == ("unlimited", "unlimited"), \
            (name, lim["Max file size"])
        assert lim["Max core file size"] == ("0", "0"), (name, lim)
