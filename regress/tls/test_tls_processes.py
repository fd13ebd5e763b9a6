"""tls processes N: the parent runs N tlsproxy instances.  With 2 there
are two smtpd-tlsproxy children (-i 0 and -i 1), each with the keys;
40 STARTTLS sessions are spread over both (each instance's own
handshake counter in show stats, its STARTTLS=server log lines under
its own name, show status lists both); a SIGKILL of one ends only the
session on it, new sessions work on the other at once, and the killed
one comes back with its keys and takes handshakes again.  A reload that
changes N starts or stops instances and says so."""
import hashlib
import os
import re
import signal

from lib import clients, free_port, wait_until
from lib.certs import TestCA, client_context, relay_tls_extra, starttls
from lib.daemon import Relay
from lib.sink import Sink


def _tls_pids(relay):
    """{instance: pid} of the relay's smtpd-tlsproxy children."""
    found = {}
    ppid = relay.proc.pid
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) != ppid or fields[0] == "Z":
                continue
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().decode().split("\0")
        except (OSError, IndexError, ValueError):
            continue
        if os.path.basename(argv[0]) == "smtpd-tlsproxy" and "-i" in argv:
            found[int(argv[argv.index("-i") + 1])] = int(entry)
    return found


def _wait_instances(relay, n):
    return wait_until(lambda: (lambda p: p if len(p) == n else None)(
        _tls_pids(relay)), 20, "%d tlsproxy instances" % n)


def _handshakes(relay):
    """{instance: tls.handshake.ok} from show stats."""
    out = {}
    for k, v in relay.stats().items():
        m = re.fullmatch(r"tlsproxy\[(\d+)\]\.tls\.handshake\.ok", k)
        if m:
            out[int(m.group(1))] = int(v)
    return out


def _session(ca, port):
    """One STARTTLS session that sends a message; the fingerprint."""
    with clients.Raw(port) as raw:
        raw.ehlo()
        starttls(raw, client_context(ca))
        raw.ehlo()
        assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
        assert raw.cmd("RCPT TO:<p@dest.test>")[0] == 250
        assert raw.cmd("DATA")[0] == 354
        assert raw.cmd("Subject: p\r\n\r\nx\r\n.")[0] == 250
        assert raw.cmd("QUIT")[0] == 221
        return hashlib.sha256(raw.sock.getpeercert(True)).hexdigest()


def _relay(sink, ca, port, n):
    srv = ca.issue("relay.test")
    return Relay(sink=sink, extra=relay_tls_extra(ca, srv, port) +
                 ["tls processes %d" % n])


def test_two_instances_share_the_handshakes():
    ca = TestCA()
    port = free_port()
    with Sink() as sink, _relay(sink, ca, port, 2) as relay:
        pids = _wait_instances(relay, 2)
        assert sorted(pids) == [0, 1], pids
        for i in (0, 1):
            relay.wait_for_log(r"tlsproxy\[%d\]: certificates loaded: 1"
                               % i, timeout=20)
        for _ in range(40):
            _session(ca, port)
        sink.wait_for(40, timeout=60)
        hs = _handshakes(relay)
        assert sorted(hs) == [0, 1], hs
        assert hs[0] + hs[1] == 40, hs
        assert hs[0] >= 10 and hs[1] >= 10, hs
        log = relay.log()
        for i in (0, 1):
            n = len(re.findall(r"tlsproxy\[%d\]: .*STARTTLS=server" % i,
                               log))
            assert n == hs[i], (i, n, hs)
        rc, out = relay.smtpctl("show", "status")
        assert rc == 0, out
        for i in (0, 1):
            assert re.search(r"^proc tlsproxy\[%d\] pid=%d uid=\d+ "
                             r"state=running" % (i, pids[i]), out, re.M), out
            assert "tlsproxy[%d].handshakes=%d" % (i, hs[i]) in out, out
        assert _tls_pids(relay) == pids, "an instance was restarted"


def test_kill_one_instance():
    ca = TestCA()
    port = free_port()
    with Sink() as sink, _relay(sink, ca, port, 2) as relay:
        pids = _wait_instances(relay, 2)
        for i in (0, 1):
            relay.wait_for_log(r"tlsproxy\[%d\]: certificates loaded: 1"
                               % i, timeout=20)
        # two sessions in TLS, one on each instance (round robin)
        held = []
        for _ in range(2):
            raw = clients.Raw(port)
            raw.ehlo()
            starttls(raw, client_context(ca))
            raw.ehlo()
            held.append(raw)
        rc, out = relay.smtpctl("show", "status")
        assert "tlsproxy[0].sessions=1" in out, out
        assert "tlsproxy[1].sessions=1" in out, out
        mark = relay.mark()
        os.kill(pids[1], signal.SIGKILL)
        relay.wait_for_log(r"smtp: channel to tlsproxy\[1\] lost",
                           start=mark)
        # exactly one of the two sessions ends with its instance
        wait_until(lambda: sum(r.closed(timeout=0.2) for r in held) == 1,
                   10, "the session on the killed instance to end")
        alive = [r for r in held if not r.closed(timeout=0.2)]
        assert len(alive) == 1
        assert alive[0].cmd("NOOP")[0] == 250
        # new sessions work at once, on instance 0 or the new 1
        for _ in range(6):
            _session(ca, port)
        relay.wait_for_log(r"tlsproxy\[1\] restarted \(pid", start=mark,
                           timeout=20)
        relay.wait_for_log(r"tlsproxy\[1\]: certificates loaded: 1",
                           start=mark, timeout=20)
        new = _wait_instances(relay, 2)
        assert new[0] == pids[0], "instance 0 was restarted"
        assert new[1] != pids[1], "instance 1 was not restarted"
        before = _handshakes(relay).get(1, 0)
        for _ in range(4):
            _session(ca, port)
        assert _handshakes(relay)[1] > before, "instance 1 gets no work"
        sink.wait_for(10, timeout=30)
        assert alive[0].cmd("QUIT")[0] == 221
        for r in held:
            r.close()


def test_reload_changes_the_number():
    ca = TestCA()
    port = free_port()
    with Sink() as sink, _relay(sink, ca, port, 1) as relay:
        [pid0] = _wait_instances(relay, 1).values()
        relay.wait_for_log(r"tlsproxy: certificates loaded: 1", timeout=20)
        with open(relay.confpath) as f:
            text = f.read()
        with open(relay.confpath, "w") as f:
            f.write(text.replace("tls processes 1", "tls processes 3"))
        rc, out = relay.smtpctl("reload")
        assert rc == 0, out
        assert "tls processes 1 -> 3" in out, out
        pids = _wait_instances(relay, 3)
        assert pids[0] == pid0, "instance 0 was restarted"
        for i in (1, 2):
            relay.wait_for_log(r"tlsproxy\[%d\]: certificates loaded: 1"
                               % i, timeout=20)
        for _ in range(6):
            _session(ca, port)
        hs = _handshakes(relay)
        assert sorted(hs) == [0, 1, 2] and all(hs.values()), hs
        with open(relay.confpath, "w") as f:
            f.write(text.replace("tls processes 1", "tls processes 2"))
        rc, out = relay.smtpctl("reload")
        assert rc == 0, out
        assert "tls processes 3 -> 2" in out, out
        relay.wait_for_log(r"tlsproxy\[2\] \(pid %d\) stopped" % pids[2],
                           timeout=20)
        assert _wait_instances(relay, 2) == {0: pids[0], 1: pids[1]}
        for _ in range(4):
            _session(ca, port)
        sink.wait_for(10, timeout=30)
        rc, out = relay.smtpctl("show", "status")
        assert "tlsproxy[2]" not in out, out
