"""Recipients at one domain travel in one transaction, and the outbound
client reuses connections to the same next hop."""
import time

from lib import clients, timeout
from lib.daemon import Relay
from lib.sink import Sink


def test_multi_rcpt_one_transaction():
    rcpts = ["a@dest.test", "b@dest.test", "c@dest.test"]
    with Sink() as sink, Relay(sink=sink) as relay:
        clients.send(relay.port, "alice@client.test", rcpts)
        [m] = sink.wait_for(1)
        relay.wait_queue_empty(10)
        time.sleep(1)
        assert len(sink.messages) == 1, sink.messages
        assert sorted(m.rcpt_addrs) == rcpts, m.rcpt_addrs


@timeout(120)
def test_connection_reuse():
    with Sink() as sink, Relay(sink=sink) as relay:
        for i in range(20):
            clients.send(relay.port, "alice@client.test",
                         ["bob%d@dest.test" % i])
            time.sleep(0.05)
        sink.wait_for(20, timeout=60)
        assert sink.connections < 20, \
            "%d connections for 20 messages" % sink.connections
