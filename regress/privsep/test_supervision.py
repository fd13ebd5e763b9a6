"""The parent's supervision of its children: a child killed with SIGKILL
is started again at once (the listener answers 220 within 2 seconds each
time, not after a growing backoff), and a child stopped with SIGSTOP is
noticed (logged), killed and restarted, so the service comes back."""
import signal
import socket
import time

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink

# what "at once" means here: a restart plus one greeting
BACK_WITHIN = 2.0
# how long a test waits before it calls the relay dead
WAIT_AT_MOST = 5.0


def _seconds_to_greeting(port, since):
    """Seconds from since until a new connection gets a 220, trying again
    while the dying front end drops connections; None after WAIT_AT_MOST."""
    deadline = since + WAIT_AT_MOST
    while time.monotonic() < deadline:
        try:
            with clients.Raw(port, timeout=deadline - time.monotonic()) \
                    as raw:
                if raw.greeting[0] == 220:
                    return time.monotonic() - since
        except (OSError, socket.timeout, ConnectionError):
            time.sleep(0.05)
    return None


def test_killed_front_end_answers_again_at_once():
    """Three kill -9 of smtpd-smtp a second apart: each time the
    listener greets again within BACK_WITHIN seconds."""
    with Sink() as sink, Relay(sink=sink) as relay:
        for i in range(3):
            old = relay.pid("smtp")
            t0 = time.monotonic()
            relay.kill("smtp", signal.SIGKILL)
            took = _seconds_to_greeting(relay.port, t0)
            assert took is not None and took <= BACK_WITHIN, \
                "kill %d: no 220 within %.1fs (took %s)" % (
                    i + 1, BACK_WITHIN, took)
            relay.wait_restarted("smtp", old, timeout=WAIT_AT_MOST)
            time.sleep(1)
        code, text = clients.send(relay.port, "alice@client.test",
                                  ["bob@dest.test"])
        assert code == 250, text
        sink.wait_for(1)


def test_stopped_front_end_is_restarted():
    """SIGSTOP on smtpd-smtp: the parent logs it, kills it and starts a
    new one, which greets."""
    with Sink() as sink, Relay(sink=sink) as relay:
        mark = relay.mark()
        old = relay.pid("smtp")
        t0 = time.monotonic()
        relay.kill("smtp", signal.SIGSTOP)
        relay.wait_for_log(r"smtp \(pid %d\) stopped by signal %d" %
                           (old, signal.SIGSTOP), timeout=WAIT_AT_MOST,
                           start=mark)
        new = relay.wait_restarted("smtp", old, timeout=WAIT_AT_MOST)
        assert new != old
        took = _seconds_to_greeting(relay.port, t0)
        assert took is not None, "no 220 after the front end was stopped"
        code, text = clients.send(relay.port, "alice@client.test",
                                  ["bob@dest.test"])
        assert code == 250, text
        sink.wait_for(1)


def test_stopped_mta_is_restarted_and_mail_relays():
    """SIGSTOP on smtpd-mta: the parent logs it and restarts it, and a
    message accepted afterwards still reaches the next hop."""
    with Sink() as sink, Relay(sink=sink) as relay:
        mark = relay.mark()
        old = relay.pid("mta")
        relay.kill("mta", signal.SIGSTOP)
        relay.wait_for_log(r"mta \(pid %d\) stopped by signal %d" %
                           (old, signal.SIGSTOP), timeout=WAIT_AT_MOST,
                           start=mark)
        relay.wait_restarted("mta", old, timeout=WAIT_AT_MOST)
        code, text = clients.send(relay.port, "alice@client.test",
                                  ["bob@dest.test"])
        assert code == 250, text
        [m] = sink.wait_for(1, timeout=20)
        assert m.rcpt_addrs == ["bob@dest.test"]
