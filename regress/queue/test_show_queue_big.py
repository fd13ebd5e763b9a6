"""smtpctl show queue on a big deferred queue lists every envelope once:
the queue sends the listing in slices paced by its channel to the parent,
so smtpctl gets all of it instead of being dropped by the parent as a
client that does not read (bench/bigqueue.py found 186 lines of 10 000)."""
import re

from lib import clients, free_port
from lib.daemon import Relay

MESSAGES = 8000


def test_show_queue_lists_a_big_queue():
    port = free_port()
    conf = {"queue retry-min": "1h", "queue retry-max": "2h",
            "limit messages": "100000"}
    with Relay(routes=[("*", "[127.0.0.1]", port)], mta_port=port,
               conf=conf) as relay:
        r = clients.smtp_source(relay.port, sessions=10, messages=MESSAGES,
                                timeout=300)
        assert r.returncode == 0, r.stdout[-500:]
        relay.wait_queue(lambda e: len(e) >= MESSAGES, timeout=120,
                         what="%d envelopes" % MESSAGES)
        rc, out = relay.smtpctl("show", "queue", timeout=120)
        assert rc == 0, out[-500:]
        ids = [line.split("|", 1)[0] for line in out.splitlines()]
        assert len(ids) == MESSAGES, (len(ids), out[-300:])
        assert len(set(ids)) == MESSAGES
        assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
        assert ids == sorted(ids), "not in id order"
        assert "does not read its answers" not in relay.log()
