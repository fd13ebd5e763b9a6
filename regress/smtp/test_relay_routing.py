"""Routing in a local part (Postfix's allow_untrusted_routing = no): a
client that may not relay (we connect from 127.0.0.2) gets the relay
denial for "x@evil"@dom, evil!x@dom and x%evil@dom even when dom is ours
(the hostname) or one we relay to, while a client that may relay
(127.0.0.1) sends those of a relayed domain on untouched (at the local
domain the local part is a local name, here no user).  An RFC 5321
source route is not routing of this kind: it is dropped and the mailbox
judged alone.  The client is swaks."""
from lib import clients, wait_until
from lib.daemon import Relay
from lib.localmail import libexec_without_delivery, local_envelopes
from lib.sink import Sink

ROUTED = ['"x@evil.test"@relay.test', '"x\\@evil.test"@relay.test',
          "evil.test!x@relay.test", "x%evil.test@dest.test"]
ROUTED_RELAYED = ['"x@evil.test"@dest.test', '"x\\@evil.test"@dest.test',
                  "evil.test!x@dest.test", "x%evil.test@dest.test"]


def _swaks(relay, rcpt, source, *args):
    r = clients.swaks(relay.port, "--from", "alice@client.test", "--to",
                      rcpt, "--local-interface", source, *args)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def _relay(sink):
    """A relay that relays to dest.test for anyone (relay-domains), with
    the local user bob."""
    relay = Relay(sink=sink, conf={"local users": "map"}, start=False,
                  libexec=libexec_without_delivery())
    for name, text in (("relay-domains", "dest.test\n"),
                       ("local-users", "bob\n")):
        rc, out = relay.makemap(name, text)
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
        [m] = sink.wait_for(1)
        assert m.rcpt_addrs == ["bob@dest.test"], m.rcpt_addrs
        wait_until(lambda: local_envelopes(relay, "bob"), timeout=10,
                   what="bob@relay.test queued for the local mailer")


def test_relaying_client_may_route_in_local_part():
    with Sink() as sink, _relay(sink) as relay:
        for rcpt in ROUTED_RELAYED:
            rc, out = _swaks(relay, rcpt, "127.0.0.1")
            assert rc == 0, (rcpt, out)
        got = sorted(a for m in sink.wait_for(len(ROUTED_RELAYED))
                     for a in m.rcpt_addrs)
        assert got == sorted(ROUTED_RELAYED), got
        _, out = _swaks(relay, ROUTED[0], "127.0.0.1", "--quit-after",
                        "RCPT")
        assert ("<** 550 5.1.1 <%s>... User unknown" % ROUTED[0]) in out, \
            out


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
        wait_until(lambda: local_envelopes(relay, "bob"), timeout=10,
                   what="bob@relay.test queued for the local mailer")
        assert sink.messages == [], sink.messages
