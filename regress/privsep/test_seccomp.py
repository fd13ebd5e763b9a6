"""Every child runs under its seccomp filter (common/sandbox.c): the
kernel reports mode 2 (filter) and no_new_privs for each of them, after
they served mail, and the root parent is the only process without one.
What each filter forbids is proven by bin/unit/test_sandbox."""
from lib import clients
from lib.daemon import Relay
from lib.sink import Sink

CHILDREN = {"smtp", "mta", "queue", "policyd", "tlsproxy", "auth"}


def _status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_every_child_is_filtered():
    with Sink() as sink, Relay(sink=sink) as relay:
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)
        kids = relay.children()
        missing = CHILDREN - set(kids)
        assert not missing, ("children not found", missing, kids)
        for name, pid in kids.items():
            st = _status(pid)
            assert st.get("Seccomp") == "2", (name, st.get("Seccomp"))
            assert st.get("NoNewPrivs") == "1", (name, st.get("NoNewPrivs"))
        assert _status(relay.proc.pid).get("Seccomp") == "0", \
            "the parent binds, forks and execs: it has no filter"
        # still serving after the filters were loaded
        clients.send(relay.port, "alice@client.test", ["carol@dest.test"])
        sink.wait_for(2)
        assert relay.children() == kids, "a child was restarted"
