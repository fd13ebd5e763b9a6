"""Crash safety: every message the relay acknowledged with 250 "queued as"
is delivered at least once (duplicates allowed, losses not) while each
child in turn is killed with SIGKILL under load, and after the whole
daemon (parent included) is killed and started again on the same spool.
The parent restarts killed children (and says so in its log) and keeps
serving."""
import re
import signal
import smtplib
import threading
import time

from lib import clients, free_port, soak, timeout, wait_until
from lib.daemon import Relay
from lib.sink import Sink

VICTIMS = ("smtp", "queue", "mta", "policyd")


class Loader:
    """Threads sending numbered messages; records which ones got 250."""

    def __init__(self, port, total, threads=4):
        self.port = port
        self.total = total          # the most messages it will send
        self.stopping = False
        self.accepted = {}          # msgid -> queue id
        self.failures = 0
        self.lock = threading.Lock()
        self.next = 0
        self.threads = [threading.Thread(target=self.run, daemon=True)
                        for _ in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "loader hung"

    def take(self):
        with self.lock:
            if self.next >= self.total or self.stopping:
                return None
            self.next += 1
            return self.next

    def run(self):
        n = self.take()
        while n is not None:
            mid = "<load-%d@client.test>" % n
            msg = ("From: <load@client.test>\r\nTo: <to@dest.test>\r\n"
                   "Subject: load %d\r\nMessage-ID: %s\r\n\r\nmessage %d\r\n"
                   % (n, mid, n)).encode()
            try:
                code, text = clients.send(self.port, "load@client.test",
                                          ["to@dest.test"], msg, timeout=10)
                with self.lock:
                    self.accepted[mid] = clients.queued_id(text)
                n = self.take()
            except (smtplib.SMTPException, OSError):
                # refused or cut off while a child was down: not accepted,
                # so it may be lost; try the same number again
                with self.lock:
                    self.failures += 1
                    if self.failures > self.total:
                        return
                time.sleep(0.05)


def _delivered_ids(sink):
    ids = set()
    for m in sink.messages:
        mm = re.search(rb"^Message-ID: (<[^>]+>)", m.data, re.M | re.I)
        if mm:
            ids.add(mm.group(1).decode())
    return ids


@timeout(240)
def test_kill9_each_child_no_loss():
    with Sink() as sink, Relay(sink=sink) as relay:
        loader = Loader(relay.port, 50000)
        loader.start()
        during = {}
        for name in VICTIMS:
            time.sleep(0.5)
            before = len(loader.accepted)
            mark = relay.mark()
            old = relay.kill(name, signal.SIGKILL)
            new = relay.wait_restarted(name, old, timeout=30)
            assert new != old
            relay.wait_for_log(r"%s.*restart|restart.*\b%s\b" % (name, name),
                               timeout=10, start=mark)
            time.sleep(0.5)
            during[name] = len(loader.accepted) - before
        # load until at least 500 were offered, then stop
        wait_until(lambda: loader.next >= 500, 60, "500 messages offered")
        loader.stopping = True
        loader.join(60)
        assert loader.next < loader.total, "the loader never stopped"
        # the load went on across every kill
        for name, n in during.items():
            assert n > 0, "no message accepted around the %s kill: %r" % (
                name, during)
        assert relay.alive(), "smtpd parent died"
        accepted = set(loader.accepted)
        print("accepted %d, refused or cut %d, around each kill %r"
              % (len(accepted), loader.failures, during))
        assert len(accepted) >= 100, "only %d accepted" % len(accepted)

        def all_there():
            return accepted <= _delivered_ids(sink)
        deadline = time.monotonic() + 90
        while not all_there() and time.monotonic() < deadline:
            time.sleep(0.5)
        lost = accepted - _delivered_ids(sink)
        assert not lost, "%d of %d acknowledged messages lost, e.g. %s" % (
            len(lost), len(accepted), sorted(lost)[:5])
        print("delivered %d messages for %d accepted"
              % (len(sink.messages), len(accepted)))
        # still serving after all that
        clients.send(relay.port, "alice@client.test", ["after@dest.test"])
        sink.wait_for(1, pred=lambda m: m.rcpt_addrs == ["after@dest.test"])


@timeout(120)
def test_kill9_whole_daemon_then_restart():
    port = free_port()
    sink = Sink(port=port, autostart=False)
    try:
        with Relay(routes=[("*", "[127.0.0.1]", port)], mta_port=port) \
                as relay:
            ids = []
            for i in range(20):
                code, text = clients.send(relay.port, "alice@client.test",
                                          ["bob%d@dest.test" % i])
                assert code == 250, text
                ids.append(i)
            relay.wait_queue(lambda e: len(e) == 20, timeout=15,
                             what="20 envelopes in the queue")
            relay.crash()
            assert not relay.alive()
            # back on the same spool, still no next hop: all 20 are there
            relay.start()
            envs = relay.wait_queue(lambda e: len(e) == 20, timeout=15,
                                    what="20 envelopes after the restart")
            # the parent alone dies: its children must follow it out
            lingering = relay.crash(parent_only=True)
            assert not lingering, "children outlived a killed parent: %r" \
                % lingering
            sink.start()
            relay.start()
            msgs = sink.wait_for(20, timeout=60)
            got = {m.rcpt_addrs[0] for m in msgs}
            assert got == {"bob%d@dest.test" % i for i in ids}, got
            relay.wait_queue_empty(20)
            assert len({e["evpid"] for e in envs}) == 20
    finally:
        sink.close()


@soak
@timeout(900)
def test_soak_random_kills_no_loss():
    """make soak: 5 minutes of load with a random child killed every few
    seconds; no acknowledged message may be lost."""
    import random
    rng = random.Random(1)
    with Sink() as sink, Relay(sink=sink) as relay:
        loader = Loader(relay.port, 10 ** 6, threads=8)
        loader.start()
        end = time.monotonic() + 300
        kills = 0
        while time.monotonic() < end:
            time.sleep(rng.uniform(2, 8))
            name = rng.choice(VICTIMS)
            old = relay.kill(name, signal.SIGKILL)
            relay.wait_restarted(name, old, timeout=90)
            kills += 1
        loader.stopping = True
        loader.join(60)
        assert relay.alive(), "smtpd parent died"
        accepted = set(loader.accepted)
        deadline = time.monotonic() + 300
        while not accepted <= _delivered_ids(sink) and \
                time.monotonic() < deadline:
            time.sleep(1)
        lost = accepted - _delivered_ids(sink)
        print("soak: %d kills, %d accepted, %d delivered, %d lost"
              % (kills, len(accepted), len(sink.messages), len(lost)))
        assert not lost, sorted(lost)[:5]
