"""sendmail's load average limits against the real load (thresholds of
0, which any load reaches): limit load-refuse stops the listeners,
logged "rejecting connections on daemon NAME: load average: LA", until
a reload lifts it and the waiting client is greeted; limit load-queue
keeps accepted mail in the queue, logged "deferring deliveries: load
average: LA", until the limit is lifted; limit load-delay makes each
command wait a second and changes no reply.  The parent reads the load
and sends it to the front end and the queue (IMSG_LOAD_AVERAGE)."""
import time

from lib import clients
from lib.daemon import Relay
from lib.sink import Sink


def _reload(relay):
    rc, out = relay.smtpctl("reload")
    assert rc == 0, (rc, out)


def test_load_refuse_stops_accepting_until_lifted():
    with Sink() as sink, Relay(sink=sink) as relay:
        mark = relay.mark()
        relay.set("limit load-refuse", "0")
        _reload(relay)
        relay.wait_for_log(r"rejecting connections on daemon "
                           r"127\.0\.0\.1:%d: load average: \d+$"
                           % relay.port, start=mark)
        waiting = clients.Raw(relay.port, greeting=False, timeout=20)
        try:
            relay.set("limit load-refuse", None)
            _reload(relay)
            code, texts = waiting.reply()
            assert code == 220, (code, texts)
        finally:
            waiting.close()


def test_load_queue_holds_deliveries():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit load-queue": "0"}) as relay:
        relay.wait_for_log(r"queue: deferring deliveries: load average: "
                           r"\d+$")
        code, text = clients.send(relay.port, "alice@client.test",
                                  ["bob@dest.test"])
        assert code == 250, (code, text)
        envs = relay.show_queue()
        assert len(envs) == 1, envs
        assert relay.stats().get("queue.load_held") == "1", relay.stats()
        relay.set("limit load-queue", None)
        _reload(relay)
        relay.wait_for_log(r"queue: resuming deliveries: load average: "
                           r"\d+$")
        [m] = sink.wait_for(1, timeout=30)
        assert m.mail_from == "alice@client.test"


def test_load_delay_waits_per_command():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit load-delay": "0"}) as relay:
        with clients.Raw(relay.port, timeout=20) as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            assert raw.cmd("RCPT TO:<bob@dest.test>")[0] == 250
            assert raw.cmd("RSET")[0] == 250
        assert int(relay.stats().get("smtp.load.delayed", "0")) >= 4, \
            relay.stats()


def test_load_delay_is_once_per_line_however_it_arrives():
    """A command line sent in pieces waits its one second once, when it
    is complete, not once per read."""
    with Sink() as sink, Relay(sink=sink, conf={
            "limit load-delay": "0"}) as relay:
        with clients.Raw(relay.port, timeout=20) as raw:
            raw.ehlo()
            before = int(relay.stats().get("smtp.load.delayed", "0"))
            # each piece after the second a delay would take
            for piece in ("NO", "O", "P"):
                raw.send(piece)
                time.sleep(1.3)
            raw.send("\r\n")
            assert raw.reply()[0] == 250
            after = int(relay.stats().get("smtp.load.delayed", "0"))
            assert after - before == 1, (before, after)
