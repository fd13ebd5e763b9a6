"""Next hops found in DNS (dnsmasq on loopback): MX preference order with
fallback to the next MX when the first refuses connections, the A record
when a domain has no MX, and a 5.1.2 bounce for a domain that does not
exist.  Senders are in sender.example.org, statically routed to a sink on
127.0.0.1, so bounces can be collected."""
from lib import clients, free_port, dsn
from lib.daemon import Relay
from lib.dns import Dns
from lib.sink import Sink

SENDER = "alice@sender.example.org"


def _relay(dns, port, bounce_sink):
    return Relay(resolver_port=dns.port, mta_port=port,
                 routes=[("sender.example.org", "[127.0.0.1]",
                          bounce_sink.port)])


def test_mx_preference_and_fallback():
    port = free_port(("127.0.0.1", "127.0.0.2", "127.0.0.3"))
    mx = [("pref.example.net", "mx1.pref.example.net", 10),
          ("pref.example.net", "mx2.pref.example.net", 20)]
    hosts = [("mx1.pref.example.net", "127.0.0.2"),
             ("mx2.pref.example.net", "127.0.0.3")]
    with Dns(mx=mx, hosts=hosts) as dns, \
            Sink("127.0.0.3", port) as mx2, Sink() as bounces, \
            _relay(dns, port, bounces) as relay:
        clients.send(relay.port, SENDER, ["bob@pref.example.net"])
        [m] = mx2.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["bob@pref.example.net"]
        assert m.mail_from == SENDER
        relay.wait_queue_empty(10)
        assert not bounces.messages, bounces.messages
        # the relay asked for the MX and for mx1 before it fell back
        log = dns.log()
        assert "query[MX] pref.example.net" in log, log[-2000:]


def test_mx_preference_order():
    """Both MX hosts up: the lower preference value wins."""
    port = free_port(("127.0.0.1", "127.0.0.2", "127.0.0.3"))
    mx = [("order.example.net", "mxb.order.example.net", 20),
          ("order.example.net", "mxa.order.example.net", 10)]
    hosts = [("mxa.order.example.net", "127.0.0.2"),
             ("mxb.order.example.net", "127.0.0.3")]
    with Dns(mx=mx, hosts=hosts) as dns, \
            Sink("127.0.0.2", port) as mxa, Sink("127.0.0.3", port) as mxb, \
            Sink() as bounces, _relay(dns, port, bounces) as relay:
        for i in range(3):
            clients.send(relay.port, SENDER, ["u%d@order.example.net" % i])
        mxa.wait_for(3, timeout=30)
        relay.wait_queue_empty(10)
        assert not mxb.messages, mxb.messages


def test_no_mx_falls_back_to_a():
    port = free_port(("127.0.0.1", "127.0.0.3"))
    with Dns(hosts=[("amx.example.net", "127.0.0.3")]) as dns, \
            Sink("127.0.0.3", port) as host, Sink() as bounces, \
            _relay(dns, port, bounces) as relay:
        clients.send(relay.port, SENDER, ["carol@amx.example.net"])
        [m] = host.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["carol@amx.example.net"]
        relay.wait_queue_empty(10)
        assert not bounces.messages, bounces.messages


def test_nxdomain_bounces_5_1_2():
    port = free_port()
    with Dns() as dns, Sink() as bounces, \
            _relay(dns, port, bounces) as relay:
        clients.send(relay.port, SENDER, ["dave@nx.example.net"])
        [b] = bounces.wait_for(1, timeout=30)
        assert b.mail_from == "", "bounce sender <%s>" % b.mail_from
        assert b.rcpt_addrs == [SENDER], b.rcpt_addrs
        d = dsn.parse(b.data)
        assert d.report_type == "delivery-status", d.content_type
        [r] = d.recipients
        assert r.get("action") == "failed", r
        assert r.get("status") == "5.1.2", r
        assert "dave@nx.example.net" in r.get("final-recipient", ""), r
        relay.wait_queue_empty(10)
