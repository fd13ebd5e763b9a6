"""Every child runs under its seccomp filter (common/sandbox.c): the
kernel reports mode 2 (filter) and no_new_privs for each of them, after
they served mail, and the root parent is the only process without one.
Each real child dies of a call outside its list (the bin/probe build),
and what each filter forbids in detail is bin/unit/test_sandbox's."""
import os
import signal

from lib import BIN, CHILD_USERS, clients, proc_status, wait_until
from lib.daemon import Relay
from lib.sink import Sink

CHILDREN = set(CHILD_USERS)


def test_every_child_is_filtered():
    with Sink() as sink, Relay(sink=sink) as relay:
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)
        kids = relay.children()
        missing = CHILDREN - set(kids)
        assert not missing, ("children not found", missing, kids)
        for name, pid in kids.items():
            st = proc_status(pid)
            assert st.get("Seccomp") == ["2"], (name, st.get("Seccomp"))
            assert st.get("NoNewPrivs") == ["1"], (name, st.get("NoNewPrivs"))
        assert proc_status(relay.proc.pid).get("Seccomp") == ["0"], \
            "the parent binds, forks and execs: it has no filter"
        # still serving after the filters were loaded
        clients.send(relay.port, "alice@client.test", ["carol@dest.test"])
        sink.wait_for(2)
        assert relay.children() == kids, "a child was restarted"


PROBE = os.path.join(BIN, "probe")


def test_each_real_child_dies_of_a_forbidden_call():
    """The test build (make probe): SIGUSR2 makes a child call ptrace(2).
    Each real, running child must be killed by its filter, say so in the
    log, and be restarted by the parent; mail flows again afterwards."""
    if not os.path.exists(os.path.join(PROBE, "smtpd-smtp")):
        raise AssertionError("bin/probe is missing (make probe)")
    with Sink() as sink, Relay(sink=sink, libexec=PROBE) as relay:
        for name in sorted(CHILDREN):
            # the probe's SIGUSR2 handler comes with the filter, which a
            # child loads once it has its config: a slow start (ASan) may
            # not be there yet when the relay answers
            first = relay.pid(name)
            wait_until(lambda: proc_status(first).get("Seccomp") == ["2"],
                       10, "%s filtered" % name)
            mark = relay.mark()
            pid = relay.kill(name, signal.SIGUSR2)
            relay.wait_for_log(r"seccomp: forbidden system call ptrace",
                               start=mark)
            relay.wait_for_log(r"\(pid %d\) killed by signal %d"
                               % (pid, signal.SIGSYS), start=mark)
            new = relay.wait_restarted(name, pid)
            # the new process confines itself once it has its config
            wait_until(lambda: proc_status(new).get("Seccomp") == ["2"], 10,
                       "%s filtered again" % name)
        relay.wait_ready()
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)
