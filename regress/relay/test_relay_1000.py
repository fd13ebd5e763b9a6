"""1000 messages from smtp-source over 10 sessions all reach the next hop,
each once, and the queue is empty afterwards."""
from lib import clients, timeout
from lib.daemon import Relay
from lib.sink import Sink, headers_of


@timeout(240)
def test_relay_1000():
    with Sink() as sink, Relay(sink=sink) as relay:
        r = clients.smtp_source(relay.port, sessions=10, messages=1000,
                                size=1024, mail_from="from@client.test",
                                to="to@dest.test", timeout=150)
        out = r.stdout.decode("utf-8", "replace")
        assert r.returncode == 0, "smtp-source failed: " + out[-1500:]
        msgs = sink.wait_for(1000, timeout=120)
        # each queued message carries its own Received: line (queue id,
        # time); the same line twice means a message was delivered twice
        received = [(headers_of(m.data).get("received", [""])[0],
                     m.header("message-id")) for m in msgs]
        assert len(set(received)) == 1000, \
            "%d distinct of %d" % (len(set(received)), len(msgs))
        relay.wait_queue_empty(30)
        assert len(sink.messages) == 1000, len(sink.messages)
        for m in msgs:
            assert m.mail_from == "from@client.test"
            assert m.rcpt_addrs == ["to@dest.test"]
            assert len(m.data) >= 1024
