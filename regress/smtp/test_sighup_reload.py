"""SIGHUP to the parent reloads smtpd.conf: new sessions see a changed
limit, and mail already queued survives the reload."""
import os
import signal

from lib import clients, free_port, wait_until
from lib.daemon import Relay
from lib.sink import Sink


def _size_kw(port):
    with clients.Raw(port) as raw:
        for kw in raw.ehlo():
            if kw.upper().startswith("SIZE "):
                return kw.split()[1]
    return None


def test_sighup_reload():
    port = free_port()
    sink = Sink(port=port, autostart=False)
    try:
        with Relay(routes=[("*", "[127.0.0.1]", port)], mta_port=port,
                   conf={"limit message-size": "100K"}) as relay:
            assert _size_kw(relay.port) == "102400"
            code, text = clients.send(relay.port, "alice@client.test",
                                      ["queued@dest.test"])
            assert code == 250, text
            relay.wait_queue(lambda e: len(e) == 1, 10, "one envelope")
            # an open session from before the reload
            old = clients.Raw(relay.port)
            old.ehlo()
            relay.set("limit message-size", "10K")
            os.kill(relay.proc.pid, signal.SIGHUP)
            wait_until(lambda: _size_kw(relay.port) == "10240", 10,
                       "EHLO to advertise SIZE 10240")
            with clients.Raw(relay.port) as raw:
                raw.ehlo()
                code, texts = raw.cmd("MAIL FROM:<a@client.test> SIZE=20000")
                assert code == 552, (code, texts)
            # the session that predates the reload still works
            assert old.cmd("NOOP")[0] == 250
            old.close()
            assert relay.alive()
            assert set(relay.children()) >= {"smtp", "mta", "queue",
                                             "policyd"}
            assert [e["rcpt"] for e in relay.show_queue()] == \
                ["queued@dest.test"]
            sink.start()
            [m] = sink.wait_for(1, timeout=20)
            assert m.rcpt_addrs == ["queued@dest.test"]
            relay.wait_queue_empty(10)
    finally:
        sink.close()


def test_sighup_bad_config_keeps_running():
    with Sink() as sink, Relay(sink=sink) as relay:
        with open(relay.confpath, "a") as f:
            f.write("this is not a statement\n")
        mark = relay.mark()
        os.kill(relay.proc.pid, signal.SIGHUP)
        relay.wait_for_log(r"smtpd\.conf|config", timeout=10, start=mark)
        assert relay.alive(), "a bad config on SIGHUP killed smtpd"
        r = relay.smtpctl_run("-s", relay.control, "reload", conf=False)
        assert r.returncode == 1, "reload of a bad config: rc %d %s" % (
            r.returncode, r.stdout + r.stderr)
        assert relay.alive()
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)
