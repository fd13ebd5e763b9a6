"""dnsbl ZONE (spec 9.10): the client address looked up in DNS blocklists
served by a test DNS server on loopback (regress/lib/dnsbl.py).  A listing
refuses the session with sendmail's reply after a normal greeting (spec
2.3), or at each RCPT with delay-checks; a Connect: OK or RELAY skips the
lists; a failed lookup is ignored with a log line unless the zone says
tempfail; answer limits what counts as a listing; several zones in order;
IPv6 in nibble format; answers cached; quarantine and discard."""
import ipaddress

from lib import clients, free_port, wait_until
from lib.daemon import Relay
from lib.dnsbl import BlServer
from lib.sink import Sink

# the query names of the clients 127.0.0.1 and ::1 without the zone
V4 = "1.0.0.127"
V6 = ipaddress.ip_address("::1").reverse_pointer[:-len(".ip6.arpa")]


def _relay(dns, *zones, sink=None, conf=None, extra=()):
    return Relay(sink=sink, resolver_port=dns.port, conf=conf,
                 extra=["dnsbl %s" % z for z in zones] + list(extra))


def _line(reply):
    code, texts = reply
    return "%d %s" % (code, texts[-1])


def _session(port, host="127.0.0.1", rcpts=("bob@dest.test",)):
    """(greeting, MAIL reply, RCPT replies) of one session, as lines."""
    with clients.Raw(port, host=host, timeout=20) as c:
        greeting = _line(c.greeting)
        c.ehlo()
        mail = _line(c.cmd("MAIL FROM:<alice@client.test>"))
        got = [_line(c.cmd("RCPT TO:<%s>" % r)) for r in rcpts]
        c.cmd("QUIT")
    return greeting, mail, got


def test_listed_client_gets_sendmails_reply_after_the_greeting():
    with BlServer(zones=["bl.test", "clean.test"],
                  listed={V4 + ".bl.test": ["127.0.0.2"]}) as dns, \
            _relay(dns, "clean.test", "bl.test") as relay:
        greeting, mail, rcpts = _session(relay.port)
        assert greeting.startswith("220 "), greeting
        assert mail == "550 5.7.1 Rejected: 127.0.0.1 listed at bl.test", \
            mail
        assert rcpts == ["550 5.7.1 Rejected: 127.0.0.1 listed at "
                         "bl.test"], rcpts
        relay.wait_for_log(r"ruleset=check_relay, arg1=\S+, "
                           r"arg2=127\.0\.0\.1, relay=[^,]+, "
                           r"reject=550 5\.7\.1 Rejected: 127\.0\.0\.1 "
                           r"listed at bl\.test$")
        relay.wait_for_log(r"dnsbl bl\.test: 127\.0\.0\.1 listed "
                           r"\(127\.0\.0\.2\)")
        # both zones were asked, the clean one first in the file
        assert dns.asked(V4 + ".clean.test") == 1, dns.queries
        assert dns.asked(V4 + ".bl.test") == 1, dns.queries


def test_custom_message_and_the_first_listing_zone_decides():
    with BlServer(zones=["one.test", "two.test"],
                  listed={V4 + ".one.test": ["127.0.0.2"],
                          V4 + ".two.test": ["127.0.0.2"]}) as dns, \
            Relay(resolver_port=dns.port, extra=[
                'dnsbl one.test message "Go away, see one.test"',
                "dnsbl two.test"]) as relay:
        _, mail, _ = _session(relay.port)
        assert mail == "550 5.7.1 Go away, see one.test", mail


def test_not_listed_client_is_served():
    with Sink() as sink, BlServer(zones=["bl.test"]) as dns, \
            _relay(dns, "bl.test", sink=sink) as relay:
        code, text = clients.send(relay.port, "alice@client.test",
                                  ["bob@dest.test"])
        assert code == 250, (code, text)
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["bob@dest.test"], m.rcpt_addrs
        assert dns.asked(V4 + ".bl.test") == 1, dns.queries


def test_connect_ok_or_relay_skips_the_lists():
    with Sink() as sink, BlServer(
            zones=["bl.test"],
            listed={V4 + ".bl.test": ["127.0.0.2"]}) as dns, \
            _relay(dns, "bl.test", sink=sink) as relay:
        start = relay.mark()
        for rhs in ("OK", "RELAY"):
            rc, out = relay.smtpctl("access", "add", "Connect:127.0.0.1",
                                    rhs)
            assert rc == 0, out
            code, text = clients.send(relay.port, "alice@client.test",
                                      ["bob@dest.test"])
            assert code == 250, (rhs, code, text)
        sink.wait_for(2)
        assert " listed " not in relay.log(start), relay.log(start)


def test_answer_limits_what_counts_as_listed():
    with Sink() as sink, BlServer(
            zones=["enh.test", "net.test"],
            listed={V4 + ".enh.test": ["127.0.0.4"],
                    V4 + ".net.test": ["127.0.1.9", "127.0.0.10"]}) as dns:
        with Relay(sink=sink, resolver_port=dns.port, extra=[
                "dnsbl enh.test answer 127.0.0.2 answer 127.0.0.3"]) \
                as relay:
            code, text = clients.send(relay.port, "alice@client.test",
                                      ["bob@dest.test"])
            assert code == 250, (code, text)
            sink.wait_for(1)
        with Relay(resolver_port=dns.port, extra=[
                "dnsbl enh.test answer 127.0.0.2",
                "dnsbl net.test answer 127.0.0.8/29"]) as relay:
            _, mail, _ = _session(relay.port)
            assert mail == "550 5.7.1 Rejected: 127.0.0.1 listed at " \
                "net.test", mail
            relay.wait_for_log(r"dnsbl net\.test: 127\.0\.0\.1 listed "
                               r"\(127\.0\.0\.10\)")


def test_servfail_is_ignored_unless_tempfail():
    with Sink() as sink, BlServer(servfail=["broken.test"]) as dns:
        with _relay(dns, "broken.test", sink=sink) as relay:
            code, text = clients.send(relay.port, "alice@client.test",
                                      ["bob@dest.test"])
            assert code == 250, (code, text)
            relay.wait_for_log(r"dnsbl broken\.test: lookup of "
                               r"1\.0\.0\.127\.broken\.test failed "
                               r"\(server failure\), ignored$")
            sink.wait_for(1)
        with _relay(dns, "broken.test tempfail") as relay:
            greeting, mail, _ = _session(relay.port)
            assert greeting.startswith("220 "), greeting
            assert mail == "451 4.4.3 Temporary lookup failure of " \
                "127.0.0.1 at broken.test", mail


def test_slow_zone_times_out_and_blocks_no_other_session():
    """A zone that answers after 6 s with dns-timeout 2 s: the session
    waits for it at most the timeout, then goes on; meanwhile a client
    the Connect: map lets through is served."""
    with BlServer(slow={"slow.test": 6}) as dns, \
            _relay(dns, "slow.test",
                   conf={"smtp dns-timeout": "2s"}) as relay:
        rc, out = relay.smtpctl("access", "add", "Connect:127.0.0.2",
                                "RELAY")
        assert rc == 0, out
        with clients.Raw(relay.port, greeting=False) as slow:
            # while the first session waits, another one is served
            with clients.Raw(relay.port, source="127.0.0.2") as other:
                assert other.greeting[0] == 220, other.greeting
                other.ehlo()
                assert other.cmd("MAIL FROM:<a@client.test>")[0] == 250
                assert other.cmd("RCPT TO:<carol@dest.test>")[0] == 250
                other.cmd("QUIT")
            assert slow.reply(timeout=20)[0] == 220
            slow.ehlo()
            assert slow.cmd("MAIL FROM:<a@client.test>")[0] == 250
        relay.wait_for_log(r"dnsbl slow\.test: lookup of "
                           r"1\.0\.0\.127\.slow\.test failed \(timeout\), "
                           r"ignored$")


def test_delay_checks_refuses_each_rcpt_with_the_recipient():
    with BlServer(zones=["bl.test"],
                  listed={V4 + ".bl.test": ["127.0.0.2"]}) as dns, \
            _relay(dns, "bl.test",
                   conf={"policy delay-checks": "yes"}) as relay:
        greeting, mail, rcpts = _session(
            relay.port, rcpts=("bob@dest.test", "carol@dest.test"))
        assert greeting.startswith("220 ") and mail.startswith("250 "), \
            (greeting, mail)
        assert rcpts == [
            "550 5.7.1 <bob@dest.test>... Rejected: 127.0.0.1 listed at "
            "bl.test",
            "550 5.7.1 <carol@dest.test>... Rejected: 127.0.0.1 listed "
            "at bl.test"], rcpts
        relay.wait_for_log(r"ruleset=check_rcpt, arg1=<bob@dest\.test>, "
                           r"relay=[^,]+, reject=550 5\.7\.1 "
                           r"<bob@dest\.test>\.\.\. Rejected: 127\.0\.0\.1 "
                           r"listed at bl\.test$")
        rc, out = relay.smtpctl("explain", "addr", "127.0.0.1", "from",
                                "alice@client.test", "rcpt",
                                "bob@dest.test")
        lines = out.splitlines()
        assert rc == 0 and "DNSBL\twhen\tat each RCPT (policy " \
            "delay-checks), where check_relay runs" in lines, out
        assert "To <bob@dest.test>\treply\t" + rcpts[0] in lines, out
        assert "DNSBL\treply\t" not in out, out
        # a From: OK skips check_relay, and with it the lists (spec 1.8)
        rc, out = relay.smtpctl("access", "add", "From:alice@client.test",
                                "OK")
        assert rc == 0, out
        _, _, rcpts = _session(relay.port)
        assert rcpts[0].startswith("250 "), rcpts


def test_ipv6_client_is_asked_in_nibble_format():
    port6 = free_port(("::1",))
    with BlServer(zones=["bl.test"],
                  listed={V6 + ".bl.test": ["127.0.0.2"]}) as dns, \
            _relay(dns, "bl.test",
                   extra=['listen on "::1" port %d' % port6]) as relay:
        greeting, mail, _ = _session(port6, host="::1")
        assert greeting.startswith("220 "), greeting
        assert mail == "550 5.7.1 Rejected: ::1 listed at bl.test", mail
        assert dns.asked(V6 + ".bl.test") == 1, dns.queries
        # the IPv4 client is not listed
        _, mail, _ = _session(relay.port)
        assert mail.startswith("250 "), mail


def test_answers_are_cached_for_their_ttl():
    with BlServer(zones=["bl.test", "neg.test"], ttl=300, neg_ttl=300,
                  listed={V4 + ".bl.test": ["127.0.0.2"]}) as dns, \
            _relay(dns, "bl.test", "neg.test") as relay:
        before = relay.stats()
        for _ in range(2):
            _, mail, _ = _session(relay.port)
            assert mail.endswith("listed at bl.test"), mail
        after = relay.stats()

        def grew(name):
            return int(after.get(name, "0")) - int(before.get(name, "0"))
        # the readiness probe of the fixture asked first: every session
        # since had both answers, the listing and the NXDOMAIN, cached;
        # but the probe may hang up before its second answer, whose
        # question then goes (and is asked again by the first session)
        assert grew("smtp.dnsbl.lookup") <= 1, (before, after)
        assert grew("smtp.dnsbl.cached") + grew("smtp.dnsbl.lookup") == 4, \
            (before, after)
    with BlServer(zones=["bl.test"], ttl=1,
                  listed={V4 + ".bl.test": ["127.0.0.2"]}) as dns, \
            _relay(dns, "bl.test") as relay:
        relay.wait_for_log(r"dnsbl bl\.test: 127\.0\.0\.1 listed")
        asked = dns.asked(V4 + ".bl.test")
        wait_until(lambda: _session(relay.port) and
                   dns.asked(V4 + ".bl.test") > asked, timeout=20,
                   what="a new question once the TTL of 1 s ran out",
                   interval=0.5)


def test_quarantine_holds_and_discard_drops_the_sessions_mail():
    with Sink() as sink, BlServer(
            zones=["bl.test", "drop.test"],
            listed={V4 + ".bl.test": ["127.0.0.2"]}) as dns:
        with _relay(dns, "bl.test quarantine", sink=sink) as relay:
            code, text = clients.send(relay.port, "alice@client.test",
                                      ["bob@dest.test"])
            assert code == 250, (code, text)
            envs = relay.wait_queue(
                lambda e: [x["state"] for x in e] == ["quarantined"],
                what="the message held")
            assert envs[0]["lasterror"] == "listed at bl.test", envs
            relay.wait_for_log(r"ruleset=check_relay, arg1=\[127\.0\.0\.1\], "
                               r"quarantine=listed at bl\.test: every "
                               r"message of the session is held$")
        with _relay(dns, "bl.test discard", sink=sink) as relay:
            code, text = clients.send(relay.port, "alice@client.test",
                                      ["bob@dest.test"])
            assert code == 250, (code, text)
            relay.wait_for_log(r"ruleset=check_relay, arg1=\[127\.0\.0\.1\], "
                               r"discard: every message of the session is "
                               r"dropped$")
            relay.wait_queue_empty()
        with _relay(dns, "bl.test quarantine", sink=sink,
                    conf={"policy delay-checks": "yes"}) as relay:
            clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
            envs = relay.wait_queue(lambda e: len(e) == 1,
                                    what="the message held")
            assert envs[0]["state"] == "quarantined" and \
                envs[0]["lasterror"] == "listed at bl.test", envs
            relay.wait_for_log(r"ruleset=check_rcpt, arg1=<bob@dest\.test>, "
                               r"relay=[^,]+, quarantine=listed at "
                               r"bl\.test$")
        assert sink.messages == [], sink.messages


def test_explain_shows_each_zone_its_query_answer_and_verdict():
    with BlServer(zones=["clean.test", "bl.test", "after.test"],
                  servfail=["broken.test"],
                  listed={V4 + ".bl.test": ["127.0.0.2"],
                          V4 + ".after.test": ["127.0.0.2"]}) as dns, \
            _relay(dns, "clean.test", "broken.test", "bl.test",
                   "after.test") as relay:
        rc, out = relay.smtpctl("explain", "addr", "127.0.0.1", "from",
                                "alice@client.test", "rcpt",
                                "bob@dest.test")
        assert rc == 0, (rc, out)
        lines = out.splitlines()
        dnsbl = [x for x in lines if x.startswith("DNSBL")]
        assert dnsbl == [
            "DNSBL clean.test\tquery\t%s.clean.test A" % V4,
            "DNSBL clean.test\tanswer\tnone (NXDOMAIN or no A record)",
            "DNSBL clean.test\tverdict\tnot listed",
            "DNSBL broken.test\tquery\t%s.broken.test A" % V4,
            "DNSBL broken.test\tanswer\tfailed (server failure)",
            "DNSBL broken.test\tverdict\tignored (no tempfail)",
            "DNSBL bl.test\tquery\t%s.bl.test A" % V4,
            "DNSBL bl.test\tanswer\t127.0.0.2",
            "DNSBL bl.test\tverdict\tlisted (127.0.0.2)",
            "DNSBL after.test\tskipped\tan earlier zone decided",
            "DNSBL\treply\t550 5.7.1 Rejected: 127.0.0.1 listed at bl.test",
        ], dnsbl
        assert lines[-1] == "verdict\trejected at connect by dnsbl bl.test: "\
            "550 5.7.1 Rejected: 127.0.0.1 listed at bl.test", lines
        # the daemon says the same
        _, mail, _ = _session(relay.port)
        assert mail == "550 5.7.1 Rejected: 127.0.0.1 listed at bl.test", \
            mail
        rc, out = relay.smtpctl("access", "add", "Connect:127.0.0.1", "OK")
        assert rc == 0, out
        rc, out = relay.smtpctl("explain", "addr", "127.0.0.1")
        assert rc == 0 and "DNSBL" not in out, out


def test_held_mail_is_removed_past_the_quarantine_lifetime():
    with Sink() as sink, BlServer(
            zones=["bl.test"],
            listed={V4 + ".bl.test": ["127.0.0.2"]}) as dns, \
            _relay(dns, "bl.test quarantine", sink=sink,
                   conf={"queue quarantine-lifetime": "3s"}) as relay:
        code, text = clients.send(relay.port, "alice@client.test",
                                  ["bob@dest.test"])
        assert code == 250, (code, text)
        evpid = relay.wait_queue(
            lambda e: [x["state"] for x in e] == ["quarantined"],
            what="the message held")[0]["evpid"]
        relay.wait_for_log(r"%s: held in quarantine for [0-9:]+, past queue "
                           r"quarantine-lifetime: removed$" % evpid,
                           timeout=20)
        relay.wait_queue_empty()
        assert relay.stats()["queue.envelope.quarantine_expired"] == "1", \
            relay.stats()
        assert sink.messages == [], sink.messages


def test_a_slow_zone_first_in_the_file_is_awaited():
    """The zones decide in file order: the first one's late listing wins
    over the second one's early one; once the first says "not listed"
    (late too), the second decides."""
    with BlServer(zones=["bl.test"], slow={"late.test": 2},
                  listed={V4 + ".bl.test": ["127.0.0.2"],
                          V4 + ".late.test": ["127.0.0.3"]}) as dns:
        with _relay(dns, "late.test", "bl.test",
                    conf={"smtp dns-timeout": "10s"}) as relay:
            greeting, mail, _ = _session(relay.port)
            assert greeting.startswith("220 "), greeting
            assert mail == "550 5.7.1 Rejected: 127.0.0.1 listed at " \
                "late.test", mail
        with _relay(dns, "late.test answer 127.0.0.2", "bl.test",
                    conf={"smtp dns-timeout": "10s"}) as relay:
            _, mail, _ = _session(relay.port)
            assert mail == "550 5.7.1 Rejected: 127.0.0.1 listed at " \
                "bl.test", mail
            assert "late.test: lookup" not in relay.log(), \
                relay.log_tail()
