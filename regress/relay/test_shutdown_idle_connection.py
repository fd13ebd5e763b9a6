"""An idle outbound connection when the daemon stops, or when the queue
dies: smtpd-mta closes it and every process ends cleanly.  (Closing the
last idle connection of a next hop frees that hop's record; the loop over
the idle connections read it afterwards: a use-after-free that an ASan
build reports, and the parent logs as a child exiting with status 1.)"""
import re

from lib import clients, wait_until
from lib.daemon import Relay
from lib.sink import Sink

# what a child's crash leaves in the log: a sanitizer's report on its
# stderr, or the parent's line for a child that did not exit with 0
SANITIZER = r"AddressSanitizer|LeakSanitizer|runtime error:"
DIED = (r"%s(\[\d+\])? \(pid \d+\) "
        r"(killed by signal|exited with status [1-9])")


def _one_idle_connection(relay, sink):
    """Relay one message and wait until the mta keeps its connection."""
    code, text = clients.send(relay.port, "alice@client.test",
                              ["bob@dest.test"])
    assert code == 250, text
    sink.wait_for(1)

    def idle():
        rc, out = relay.smtpctl("show", "status")
        return rc == 0 and re.search(r"\bmta\.idle=1\b", out)
    wait_until(idle, 10, "mta.idle=1 in show status", interval=0.2)
    assert sink.connections == 1, sink.connections


def _assert_no_crash(relay, start, who=r"\w+"):
    """No sanitizer report, and no child named by who died, after start."""
    log = relay.log(start)
    m = re.search(r"%s|%s" % (SANITIZER, DIED % who), log)
    assert not m, "a process crashed (%r):\n%s" % (m.group(0), log[-3000:])


def test_sigterm_with_idle_connection():
    with Sink() as sink, Relay(sink=sink) as relay:
        _one_idle_connection(relay, sink)
        start = relay.mark()
        status = relay.stop()
        _assert_no_crash(relay, start)
        assert status == 0, "smtpd exit status %s" % status
        assert not relay.lingering, relay.lingering


def test_queue_death_with_idle_connection():
    with Sink() as sink, Relay(sink=sink) as relay:
        _one_idle_connection(relay, sink)
        mta = relay.pid("mta")
        start = relay.mark()
        old = relay.kill("queue")
        relay.wait_restarted("queue", old)
        relay.wait_for_log(r"queue gone", start=start)
        # a second message proves the mta still works after the flush
        code, text = clients.send(relay.port, "alice@client.test",
                                  ["carol@dest.test"])
        assert code == 250, text
        sink.wait_for(2)
        _assert_no_crash(relay, start, "mta")
        assert relay.pid("mta") == mta, "smtpd-mta was restarted"
        start = relay.mark()
        assert relay.stop() == 0, "smtpd exit status %s" % relay.exit_status
        _assert_no_crash(relay, start)
