"""Routing in a local part (Postfix's allow_untrusted_routing = no): a
client that may not relay (we connect from 127.0.0.2) gets the relay
denial for "x@evil"@dom, evil!x@dom and x%evil@dom even when dom is ours
(the hostname) or one we relay to, while a client that may relay
(127.0.0.1) sends them on untouched.  An RFC 5321 source route is not
routing of this kind: it is dropped and the mailbox judged alone.
The client is swaks."""
from lib import clients
from lib.daemon import Relay
from lib.sink import Sink

ROUTED = ['"x@evil.test"@relay.test', '"x\\@evil.test"@relay.test',
          "evil.test!x@relay.test", "x%evil.test@dest.test"]


def _swaks(relay, rcpt, source, *args):
    r = clients.swaks(relay.port, "--from", "alice@client.test", "--to",
                      rcpt, "--local-interface", source, *args)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def _relay(sink):
    """A relay that relays to dest.test for anyone (relay-domains)."""
    relay = Relay(sink=sink, start=False)
    rc, out = relay.makemap("relay-domains", "dest.test\n")
    assert rc == 0, out
    relay.start()
    return relay


def test_routing_in_local_part_needs_relay_rights():
    with Sink() as sink, _relay(sink) as relay:
        for rcpt in ROUTED:
            _, out = _swaks(relay, rcpt, "127.0.0.2", "--quit-after", "RCPT")
            assert ("<** 550 5.7.1 <%s>... Relaying denied" % rcpt) in out, \
                (rcpt, out)
        relay.wait_for_log(r"ruleset=check_rcpt, arg1=<evil\.test!x@"
                           r"relay\.test>.*reject=550 5\.7\.1")
        # the domains themselves still take mail from that client
        for rcpt in ("bob@relay.test", "bob@dest.test"):
            rc, out = _swaks(relay, rcpt, "127.0.0.2")
            assert rc == 0, (rcpt, out)
        got = sorted(a for m in sink.wait_for(2) for a in m.rcpt_addrs)
        assert got == ["bob@dest.test", "bob@relay.test"], got


def test_relaying_client_may_route_in_local_part():
    with Sink() as sink, _relay(sink) as relay:
        for rcpt in ROUTED:
            rc, out = _swaks(relay, rcpt, "127.0.0.1")
            assert rc == 0, (rcpt, out)
        got = sorted(a for m in sink.wait_for(len(ROUTED))
                     for a in m.rcpt_addrs)
        assert got == sorted(ROUTED), got


def test_source_route_is_dropped_not_refused():
    with Sink() as sink, _relay(sink) as relay:
        with clients.Raw(relay.port, source="127.0.0.2") as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            code, texts = raw.cmd("RCPT TO:<@a.test,@evil.test:"
                                  "bob@relay.test>")
            assert code == 250, (code, texts)
            code, texts = raw.cmd("RCPT TO:<@relay.test:bob@evil.test>")
            assert code == 550 and "Relaying denied" in texts[0], \
                (code, texts)
            assert raw.cmd("DATA")[0] == 354
            raw.send("Subject: t\r\n\r\nt\r\n.\r\n")
            assert raw.reply()[0] == 250
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["bob@relay.test"], m.rcpt_addrs
