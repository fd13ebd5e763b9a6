"""A message for a next hop that is down is accepted and kept: show queue
lists it with its error, and it is delivered once the next hop is back."""
from lib import clients, free_port, timeout
from lib.daemon import Relay
from lib.sink import Sink


@timeout(90)
def test_retry_after_next_hop_returns():
    port = free_port()
    sink = Sink(port=port, autostart=False)
    try:
        with Relay(routes=[("*", "[127.0.0.1]", port)], mta_port=port) \
                as relay:
            code, text = clients.send(relay.port, "alice@client.test",
                                      ["bob@dest.test"])
            assert code == 250 and clients.queued_id(text), text

            def tried(envs):
                return len(envs) == 1 and envs[0]["lasterror"].strip() and \
                    envs[0]["retries"].strip() not in ("", "0")
            [env] = relay.wait_queue(tried, timeout=20,
                                     what="a failed attempt in show queue")
            assert env["rcpt"] == "bob@dest.test", env
            assert env["sender"] == "alice@client.test", env
            assert env["state"] == "pending", env
            assert env["type"] == "relay", env
            sink.start()
            [m] = sink.wait_for(1, timeout=30)
            assert m.rcpt_addrs == ["bob@dest.test"]
            relay.wait_queue_empty(10)
            assert len(sink.messages) == 1
    finally:
        sink.close()
