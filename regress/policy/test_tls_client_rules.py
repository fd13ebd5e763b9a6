"""The client-side TLS rulesets against real next hops (spec 3, 4.1):
TLS_Srv with each ${verify} the outbound client can meet (OK with the
CA configured, FAIL without it, NONE from a next hop without STARTTLS,
SOFTWARE from one that breaks it), TLS_Rcpt holding back the one
recipient whose requirement this connection does not meet, the two-MX
downgrade (mx1 without TLS, mx2 with it) fixed by TLS_Srv and by
TLS_Rcpt, and Try_TLS letting mail through a host that breaks STARTTLS.
Each checks the exact reply text in the delivery log line."""
import re

from lib import clients, free_port
from lib.certs import TestCA, relay_tls_extra, wait_tls_ready
from lib.daemon import Relay
from lib.dns import Dns
from lib.sink import DEFAULT_KEYWORDS, Sink

SENDER = "alice@client.test"


class _TlsHop:
    """A second relay with a STARTTLS listener, delivering to a sink."""

    def __init__(self, ca, addr="127.0.0.1", port=None):
        self.sink = Sink().__enter__()
        self.port = port or free_port()
        srv = ca.issue("relay.test")
        extra = relay_tls_extra(ca, srv, self.port)
        if addr != "127.0.0.1":
            extra[-1] = "listen on %s port %d tls" % (addr, self.port)
        self.relay = Relay(sink=self.sink, extra=extra)
        wait_tls_ready(self.relay)

    def close(self):
        self.relay.stop()
        self.sink.close()


def _first(access, port, ca=None, resolver=None):
    """The relay under test, routing everything to 127.0.0.1:port (or
    by MX through the DNS server), with access map text."""
    routes = []
    extra = ['ca file "%s"' % ca.cert] if ca is not None else []
    if resolver is None:
        routes.append(("*", "[127.0.0.1]", port))
        relay = Relay(routes=routes, extra=extra, start=False)
    else:
        relay = Relay(routes=routes, extra=extra, start=False,
                      resolver_port=resolver.port, mta_port=port)
    rc, out = relay.makemap("access", access)
    assert rc == 0, out
    relay.start()
    return relay


def _stat(relay, rcpt, stat, start=0):
    return relay.wait_for_log(r"to=<%s>.*stat=%s" % (re.escape(rcpt), stat),
                              timeout=20, start=start)


def test_tls_srv_verify_ok_and_fail():
    ca = TestCA()
    hop = _TlsHop(ca)
    try:
        with _first("TLS_Srv:127.0.0.1 VERIFY\n", hop.port, ca=ca) as relay:
            clients.send(relay.port, SENDER, ["ok@dest.test"])
            [m] = hop.sink.wait_for(1)
            _stat(relay, "ok@dest.test", "Sent")
        with _first("TLS_Srv:127.0.0.1 VERIFY\n", hop.port) as relay:
            clients.send(relay.port, SENDER, ["fail@dest.test"])
            _stat(relay, "fail@dest.test", re.escape(
                "Deferred: 403 4.7.0 authentication failed"))
            relay.wait_for_log(r"ruleset=tls_server, arg1=FAIL, "
                               r"relay=\S+, reject=403 4\.7\.0 "
                               r"authentication failed")
            assert hop.sink.messages_to("fail@dest.test") == []
            assert len(_queued(relay, "fail@dest.test")) == 1
    finally:
        hop.close()


def _queued(relay, rcpt):
    return [e for e in relay.show_queue() if e["rcpt"] == rcpt]


def test_tls_srv_perm_none_bounces():
    with Sink() as plain, _first("TLS_Srv: PERM+VERIFY\n",
                                 plain.port) as relay:
        clients.send(relay.port, SENDER, ["far@dest.test"])
        _stat(relay, "far@dest.test", re.escape(
            "Bounced: 503 5.7.0 other side does not support STARTTLS"))
        assert plain.messages == []
        assert _queued(relay, "far@dest.test") == []
        assert "STARTTLS" not in " ".join(
            c.decode() for _, c in plain.commands).upper()


def test_tls_srv_software_when_starttls_breaks():
    kw = list(DEFAULT_KEYWORDS) + ["STARTTLS"]
    with Sink(keywords=kw) as broken, _first("", broken.port) as relay:
        broken.starttls = "break"
        clients.send(relay.port, SENDER, ["soft@dest.test"])
        _stat(relay, "soft@dest.test", re.escape(
            "Deferred: 403 4.7.0 TLS handshake failed."))
        assert broken.messages == []


def test_try_tls_no_skips_a_broken_starttls():
    kw = list(DEFAULT_KEYWORDS) + ["STARTTLS"]
    with Sink(keywords=kw) as broken, _first(
            "Try_TLS:127.0.0.1 NO\n", broken.port) as relay:
        broken.starttls = "break"
        clients.send(relay.port, SENDER, ["clear@dest.test"])
        [m] = broken.wait_for(1)
        assert m.rcpt_addrs == ["clear@dest.test"]
        relay.wait_for_log(r"ruleset=try_tls, arg1=\S+, relay=\S+, "
                           r"reject=550 5\.7\.1 do not try TLS with "
                           r"\S+ \[127\.0\.0\.1\]")
        cmds = " ".join(c.decode() for _, c in broken.commands).upper()
        assert "STARTTLS" not in cmds, cmds


def test_tls_rcpt_holds_back_one_recipient():
    ca = TestCA()
    hop = _TlsHop(ca)
    try:
        with _first("TLS_Rcpt:boss@ ENCR:1024\n", hop.port,
                    ca=ca) as relay:
            clients.send(relay.port, SENDER,
                         ["staff@dest.test", "boss@dest.test"])
            [m] = hop.sink.wait_for(1)
            assert m.rcpt_addrs == ["staff@dest.test"], m.rcpt_addrs
            _stat(relay, "boss@dest.test",
                  r"Deferred: 403 4\.7\.0 encryption too weak \d+ less "
                  r"than 1024")
            assert len(_queued(relay, "boss@dest.test")) == 1
    finally:
        hop.close()


def _two_mx(port):
    mx = [("two.example.net", "mx1.two.example.net", 10),
          ("two.example.net", "mx2.two.example.net", 20)]
    hosts = [("mx1.two.example.net", "127.0.0.2"),
             ("mx2.two.example.net", "127.0.0.3")]
    return Dns(mx=mx, hosts=hosts)


def _downgrade(access):
    """mx1 (preferred) has no TLS, mx2 has: where does the mail go?"""
    ca = TestCA()
    port = free_port(("127.0.0.1", "127.0.0.2", "127.0.0.3"))
    hop = _TlsHop(ca, addr="127.0.0.3", port=port)
    try:
        with _two_mx(port) as dns, Sink("127.0.0.2", port) as mx1, \
                _first(access, port, ca=ca, resolver=dns) as relay:
            clients.send(relay.port, SENDER, ["ceo@two.example.net",
                                              "news@two.example.net"])
            got = hop.sink.wait_for(1, timeout=30)
            return relay.log(), mx1, got
    finally:
        hop.close()


def test_two_mx_downgrade_tls_srv():
    log, mx1, [m] = _downgrade("TLS_Srv:two.example.net VERIFY\n")
    assert sorted(m.rcpt_addrs) == ["ceo@two.example.net",
                                    "news@two.example.net"], m.rcpt_addrs
    assert mx1.messages == [], "mail went to the MX without TLS"


def test_two_mx_downgrade_tls_rcpt():
    log, mx1, [m] = _downgrade("TLS_Rcpt:ceo@two.example.net VERIFY\n")
    assert m.rcpt_addrs == ["ceo@two.example.net"], m.rcpt_addrs
    assert [x.rcpt_addrs for x in mx1.messages] == [
        ["news@two.example.net"]], mx1.messages
    assert re.search(r"tls_rcpt: <ceo@two\.example\.net> not sent here: "
                     r"403 4\.7\.0 other side does not support STARTTLS",
                     log), log[-3000:]
