"""ETRN (RFC 1985): a message deferred to a dead next hop goes as soon
as a client says ETRN for its domain, long before its retry time;
sendmail's replies (250 2.0.0 Queuing for node D started, 500 5.5.2
Parameter required, 459 4.5.4 for a #queue, 502 5.7.0 with privacy
noetrn); 501 for a bad domain; a log line for each ETRN."""
from lib import clients, free_port
from lib.daemon import Relay
from lib.sink import Sink


def _down_relay(port, conf=None):
    """A relay whose next hop (port) is down, retrying in an hour."""
    c = {"queue retry-min": "1h", "queue retry-max": "2h"}
    c.update(conf or {})
    return Relay(routes=[("*", "[127.0.0.1]", port)], mta_port=port, conf=c)


def _deferred(relay, rcpts):
    for rcpt in rcpts:
        code, text = clients.send(relay.port, "alice@client.test", [rcpt])
        assert code == 250, text
    relay.wait_queue(lambda e: len(e) == len(rcpts) and
                     all(x["lasterror"] for x in e),
                     timeout=30, what="envelopes that failed once")


def test_etrn_runs_the_domain_now():
    port = free_port()
    sink = Sink(port=port, autostart=False)
    try:
        with _down_relay(port) as relay:
            _deferred(relay, ["a@dest.test", "b@sub.dest.test",
                              "c@other.test"])
            sink.start()
            mark = relay.mark()
            with clients.Raw(relay.port) as raw:
                assert "ETRN" in raw.ehlo()
                assert raw.cmd("ETRN dest.test") == (250, [
                    "2.0.0 Queuing for node dest.test started"])
                [m] = sink.wait_for(1, timeout=20)
                assert m.rcpt_addrs == ["a@dest.test"], m.rcpt_addrs
                relay.wait_for_log(r"ETRN dest\.test: 1 envelopes "
                                   r"scheduled", start=mark)
                # @domain: the domain and its subdomains
                assert raw.cmd("ETRN @DEST.test") == (250, [
                    "2.0.0 Queuing for node @DEST.test started"])
                msgs = sink.wait_for(2, timeout=20)
                assert msgs[1].rcpt_addrs == ["b@sub.dest.test"], msgs
            relay.wait_for_log(r"ETRN @DEST\.test from .*\[127\.0\.0\.1\]: "
                               r"queue run started", start=mark)
            left = [e["rcpt"] for e in relay.show_queue()]
            assert left == ["c@other.test"], left
    finally:
        sink.close()


def test_etrn_syntax_and_queues():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port) as raw:
            assert raw.cmd("ETRN dest.test") == (503, [
                "5.5.1 Send HELO/EHLO first"])
            raw.ehlo()
            assert raw.cmd("ETRN") == (500, ["5.5.2 Parameter required"])
            assert raw.cmd("ETRN bad_domain!") == (501, [
                "5.5.2 Syntax error in parameters"])
            assert raw.cmd("ETRN @") == (501, [
                "5.5.2 Syntax error in parameters"])
            assert raw.cmd("ETRN #slow") == (459, [
                "4.5.4 Queue slow unknown"])
            assert raw.cmd("ETRN nothing.test") == (250, [
                "2.0.0 Queuing for node nothing.test started"])
        relay.wait_for_log(r"ETRN nothing\.test: 0 envelopes scheduled")


def test_noetrn():
    with Sink() as sink, Relay(sink=sink,
                               conf={"privacy": "noetrn"}) as relay:
        mark = relay.mark()
        with clients.Raw(relay.port) as raw:
            assert "ETRN" not in raw.ehlo()
            assert raw.cmd("ETRN dest.test") == (502, [
                "5.7.0 Sorry, we do not allow this operation"])
        relay.wait_for_log(r"ETRN dest\.test from .*: rejected", start=mark)


def test_etrn_repeats_and_floods_do_not_rescan():
    """Each ETRN walks the whole queue: the same request within 30 s is
    not walked again, and no more than 10 walks are made in a second;
    the ones skipped are logged, the deferred mail stays queued."""
    port = free_port()
    with _down_relay(port) as relay:
        _deferred(relay, ["a@dest.test"])
        mark = relay.mark()
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            assert raw.cmd("ETRN dest.test")[0] == 250
            assert raw.cmd("ETRN dest.test")[0] == 250
            relay.wait_for_log(r"ETRN dest\.test: repeated within 30 s, "
                               r"not rescanned", start=mark)
            # pipelined in one write, so the queue reads them in the
            # same second or two, well past ten walks each
            raw.send("".join(f"ETRN d{i}.test\r\n" for i in range(60)))
            for _ in range(60):
                assert raw.reply()[0] == 250
        relay.wait_for_log(r"ETRN d\d+\.test: more than 10 in a second, "
                           r"skipped", start=mark)
        log = relay.log(mark)
        assert log.count("ETRN dest.test: 1 envelopes scheduled") == 1, log
        stats = relay.stats()
        assert int(stats.get("queue.etrn.repeated", 0)) == 1, stats
        assert int(stats.get("queue.etrn.skipped", 0)) >= 10, stats
        assert [e["rcpt"] for e in relay.show_queue()] == ["a@dest.test"]
