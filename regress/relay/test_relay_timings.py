"""The timing counters of "smtpctl show stats" (smtpd(8), STATISTICS) say
where relay time goes: the queue's commit, the scheduler's wait, the
outbound latency and the set-up of outbound connections, each as a sum
in microseconds and a count, and the transactions per connection."""
from lib import clients, timeout, wait_until
from lib.daemon import Relay
from lib.sink import Sink


def _num(stats, name):
    return int(stats.get(name, "0"))


@timeout(120)
def test_relay_timings():
    n = 5
    with Sink() as sink, Relay(sink=sink) as relay:
        for i in range(n):
            clients.send(relay.port, "alice@client.test",
                         ["bob%d@dest.test" % i])
        sink.wait_for(n, timeout=60)
        relay.wait_queue_empty(30)

        def settled():
            s = relay.stats()
            return _num(s, "mta.latency.count") >= n and s
        stats = wait_until(settled, 30, "the mta's counters")
        # one commit and one first dispatch per message, each timed
        assert _num(stats, "queue.commit.count") == n, stats
        assert _num(stats, "queue.commit.us") > 0, stats
        assert _num(stats, "queue.dispatch.wait.count") == n, stats
        assert _num(stats, "queue.dispatch.wait.us") >= 0, stats
        # one batch per message, from IMSG_MTA_DELIVER to its last result
        assert _num(stats, "mta.latency.count") == n, stats
        assert _num(stats, "mta.latency.us") > 0, stats
        # every connection opened was timed once, up to its first MAIL
        conns = _num(stats, "mta.connection")
        assert conns >= 1, stats
        assert _num(stats, "mta.connect.count") == conns, stats
        assert _num(stats, "mta.connect.us") > 0, stats
        assert _num(stats, "mta.transaction") == n, stats
