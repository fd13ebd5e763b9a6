"""Privilege separation as the kernel sees it: each child runs as its own
unprivileged user (six distinct uids, so that no child can signal or
trace another; smtpd-auth alone is also in group sasl, to read the sasldb), chrooted where the architecture
says, with no_new_privs set and not dumpable (its /proc files belong to
root and even its own uid cannot read its environment); the parent and
smtpd-local (which takes the users' identities, unchrooted, with
no_new_privs and not dumpable either) alone stay root.  Spooled mail is not readable by other users."""
import grp
import os
import pwd
import subprocess

from lib import CHILD_USERS, free_port, proc_status
from lib.daemon import Relay
from lib import clients

EMPTY = "/var/lib/smtpd/empty"


def _check_local(pid):
    """smtpd-local: root, not chrooted, no_new_privs, not dumpable."""
    st = proc_status(pid)
    assert st["Uid"] == ["0"] * 4, st["Uid"]
    assert st["NoNewPrivs"] == ["1"], st["NoNewPrivs"]
    assert os.readlink("/proc/%d/root" % pid) == "/"
    assert os.stat("/proc/%d/environ" % pid).st_uid == 0


def test_privsep():
    port = free_port()
    with Relay(routes=[("*", "[127.0.0.1]", port)], mta_port=port) as relay:
        kids = relay.children()
        assert set(kids) == set(CHILD_USERS), "children: %r" % kids
        roots = {"smtp": EMPTY, "mta": EMPTY, "tlsproxy": EMPTY,
                 "auth": EMPTY,
                 "queue": os.path.realpath(relay.spool),
                 "policyd": os.path.realpath(relay.dbdir)}
        uids = set()
        for name, pid in kids.items():
            if name == "local":
                _check_local(pid)
                continue
            pw = pwd.getpwnam(CHILD_USERS[name])
            st = proc_status(pid)
            assert st["Uid"] == [str(pw.pw_uid)] * 4, (name, st["Uid"])
            assert st["Gid"] == [str(pw.pw_gid)] * 4, (name, st["Gid"])
            # its own gid is no supplementary group (test_limits.py)
            groups = []
            if name == "auth":
                groups.append(str(grp.getgrnam("sasl").gr_gid))
            assert st.get("Groups", []) == groups, (name, st.get("Groups"))
            assert st["NoNewPrivs"] == ["1"], (name, st["NoNewPrivs"])
            assert st["CapEff"] == ["0000000000000000"], (name, st["CapEff"])
            root = os.readlink("/proc/%d/root" % pid)
            assert root == roots[name], "%s chroot %s, not %s" % (
                name, root, roots[name])
            # not dumpable: the kernel gives its /proc files to root
            assert os.stat("/proc/%d/environ" % pid).st_uid == 0, name
            r = subprocess.run(
                ["setpriv", "--reuid=%d" % pw.pw_uid,
                 "--regid=%d" % pw.pw_gid, "--clear-groups", "cat",
                 "/proc/%d/environ" % pid], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, timeout=10)
            assert r.returncode != 0, "%s environ readable by its uid" % name
            uids.add(int(st["Uid"][0]))
        # no two unprivileged children share a uid, and none is root's
        assert len(uids) == len(kids) - 1 and 0 not in uids, uids
        # the parent alone is root
        assert proc_status(relay.proc.pid)["Uid"][0] == "0"
        # the shared chroot is root's and nobody else can write in it
        st = os.stat(EMPTY)
        assert st.st_uid == 0 and not st.st_mode & 0o022, oct(st.st_mode)
        assert os.listdir(EMPTY) == [], os.listdir(EMPTY)


def test_spool_not_readable_by_others():
    port = free_port()
    with Relay(routes=[("*", "[127.0.0.1]", port)], mta_port=port) as relay:
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        relay.wait_queue(lambda e: len(e) == 1, timeout=10,
                         what="one envelope")
        files = relay.spool_files()
        assert files, "nothing in the spool"
        st = os.stat(relay.spool)
        assert not st.st_mode & 0o002, oct(st.st_mode)
        for f in files:
            mode = os.stat(os.path.join(relay.spool, f)).st_mode
            assert not mode & 0o007, "%s is mode %o" % (f, mode & 0o777)
        r = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "find", relay.spool, "-type", "f"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=10)
        assert not r.stdout.strip(), "nobody can list spooled files: %s" % \
            r.stdout[:300]
