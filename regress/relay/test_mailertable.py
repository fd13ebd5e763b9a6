"""Routes of spec 9.1 and mail that would loop back to the relay itself.

mailertable: `mailer:host` follows host's MX, `mailer:[host]` does not,
`mailer:user@host` sends RCPT TO:<user@host>, %1 and %2 take the labels
left of the matched key.  A next hop that is the relay itself (an MX, the
implicit MX or a static route reaching our own listener on the port the
mta uses) gives one bounce "553 5.3.5 config error: mail loops back to me
(MX problem?)" and never a connection to ourselves; an MX better than us
still gets the mail, and every MX from our preference on is dropped.  A
local domain is never routed, whatever the mailertable or route "*" say.

DNS is a dnsmasq fixture on loopback; the next hops are sinks on
127.0.0.2 and 127.0.0.3 at the port the mta uses.  Senders are in
sender.example.org, statically routed to a bounce sink on another port.
"""
from lib import clients, dsn, free_port, timeout, wait_until
from lib.daemon import Relay
from lib.dns import Dns
from lib.sink import Sink

SENDER = "alice@sender.example.org"
LOOP_TEXT = "553 5.3.5 config error: mail loops back to me (MX problem?)"


def _relay(bounces, dns=None, mta_port=None, port=None, routes=(),
           mailertable=None, local_names=None, sink=None):
    """A started relay: listening on port (default: a free one), its mta
    on mta_port (default: the relay's own port, so that 127.0.0.1 at
    that port is the relay itself), with the bounce route and the
    maps."""
    relay = Relay(sink=sink, start=False,
                  resolver_port=dns.port if dns is not None else None,
                  routes=[("sender.example.org", "[127.0.0.1]",
                           bounces.port)])
    if port is not None:
        relay.port = port
    relay.routes += [(d, h, p if p != "self" else relay.port)
                     for d, h, p in routes]
    if sink is None:
        relay.set("mta port", str(mta_port or relay.port))
    relay.write_conf()
    try:
        for table, text in (("mailertable", mailertable),
                            ("local-host-names", local_names)):
            if text is not None:
                rc, out = relay.makemap(table, text)
                assert rc == 0, out
        relay.start()
    except BaseException:
        relay.stop()
        raise
    return relay


def _count(relay, key):
    return int(relay.stats().get(key, "0"))


def _loop_bounces(bounces, relay, rcpts, sessions):
    """One bounce per recipient, each with the loop error; the relay never
    talked to itself: since the count sessions taken before the client
    sent, one session per message (the client's)."""
    got = bounces.wait_for(len(rcpts), timeout=30,
                           pred=lambda m: m.mail_from == "")
    relay.wait_queue_empty(15)
    finals = []
    for b in got:
        assert b.rcpt_addrs == [SENDER], b.rcpt_addrs
        d = dsn.parse(b.data)
        [r] = d.recipients
        assert r.get("action") == "failed" and r.get("status") == "5.3.5", r
        assert LOOP_TEXT in r.get("diagnostic-code", ""), r
        finals.append(r.get("final-recipient", "").split(";")[-1].strip())
    assert sorted(finals) == sorted(rcpts), finals
    assert len(bounces.bounces()) == len(rcpts), bounces.bounces()
    assert _count(relay, "smtp.session") - sessions == len(rcpts), \
        relay.stats()
    # the only outbound connections are the bounces'
    assert _count(relay, "mta.connection") == bounces.connections, \
        relay.stats()


def test_mailer_host_follows_mx_brackets_do_not():
    port = free_port(("127.0.0.2", "127.0.0.3"))
    mx = [("hub.example.net", "mx.hub.example.net", 10)]
    hosts = [("mx.hub.example.net", "127.0.0.2"),
             ("hub.example.net", "127.0.0.3")]
    with Dns(mx=mx, hosts=hosts) as dns, \
            Sink("127.0.0.2", port) as viamx, \
            Sink("127.0.0.3", port) as direct, Sink() as bounces, \
            _relay(bounces, dns, mta_port=port, mailertable=(
                "mx.example.org smtp:hub.example.net\n"
                "a.example.org esmtp:[hub.example.net]\n")) as relay:
        clients.send(relay.port, SENDER, ["bob@mx.example.org"])
        clients.send(relay.port, SENDER, ["carol@a.example.org"])
        [m] = viamx.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["bob@mx.example.org"], m.rcpt_addrs
        [m] = direct.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["carol@a.example.org"], m.rcpt_addrs
        relay.wait_queue_empty(10)
        assert len(viamx.messages) == 1 and len(direct.messages) == 1
        assert not bounces.messages, bounces.messages
        assert "query[MX] hub.example.net" in dns.log(), dns.log()[-2000:]


def test_mailer_user_at_host_is_the_rcpt():
    port = free_port(("127.0.0.2",))
    mx = [("hub.example.net", "mx.hub.example.net", 10)]
    hosts = [("mx.hub.example.net", "127.0.0.2")]
    with Dns(mx=mx, hosts=hosts) as dns, \
            Sink("127.0.0.2", port) as hub, Sink() as bounces, \
            _relay(bounces, dns, mta_port=port, mailertable=(
                ".gw.example.org smtp:catch@hub.example.net\n")) as relay:
        clients.send(relay.port, SENDER, ["bob@x.gw.example.org"],
                     rcpt_options=["NOTIFY=FAILURE"])
        [m] = hub.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["catch@hub.example.net"], m.rcpt_addrs
        rcpt = [c.decode() for _, c in hub.commands
                if c.upper().startswith(b"RCPT")]
        assert len(rcpt) == 1 and \
            rcpt[0].startswith("RCPT TO:<catch@hub.example.net>"), rcpt
        relay.wait_queue_empty(10)
        assert not bounces.messages, bounces.messages


def test_mailer_percent_substitutions():
    port = free_port(("127.0.0.2", "127.0.0.3"))
    hosts = [("a.gw.example.net", "127.0.0.2"),
             ("b.gw.example.net", "127.0.0.3")]
    with Dns(hosts=hosts) as dns, \
            Sink("127.0.0.2", port) as a, Sink("127.0.0.3", port) as b, \
            Sink() as bounces, \
            _relay(bounces, dns, mta_port=port, mailertable=(
                ".dom.example.org smtp:%1.gw.example.net\n"
                ".deep.example.org relay:[%2.gw.example.net]\n")) as relay:
        clients.send(relay.port, SENDER, ["x@a.dom.example.org"])
        clients.send(relay.port, SENDER, ["y@z.b.deep.example.org"])
        [m] = a.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["x@a.dom.example.org"], m.rcpt_addrs
        [m] = b.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["y@z.b.deep.example.org"], m.rcpt_addrs
        relay.wait_queue_empty(10)
        assert not bounces.messages, bounces.messages


@timeout(60)
def test_mx_pointing_at_us_bounces_once():
    """The MX of a non-local domain, and the implicit MX of another, are
    127.0.0.1 at the port we listen on: one 553 bounce each."""
    mx = [("loop.example.net", "mx.loop.example.net", 10)]
    hosts = [("mx.loop.example.net", "127.0.0.1"),
             ("self.example.net", "127.0.0.1")]
    rcpts = ["bob@loop.example.net", "carol@self.example.net"]
    with Dns(mx=mx, hosts=hosts) as dns, Sink() as bounces, \
            _relay(bounces, dns) as relay:
        sessions = _count(relay, "smtp.session")
        for r in rcpts:
            clients.send(relay.port, SENDER, [r])
        _loop_bounces(bounces, relay, rcpts, sessions)
        relay.wait_for_log(r"loops back to me.*loop\.example\.net|"
                           r"loop\.example\.net.*loops back to me")


@timeout(60)
def test_mx_better_than_us_is_used_worse_dropped():
    """We are MX 20 of two domains.  better.example.net: MX 10 is a sink
    that takes the mail.  down.example.net: MX 10 refuses connections and
    MX 30 is a working sink, which must not get the mail (sendmail drops
    every MX from our preference on): it waits in the queue."""
    port = free_port(("127.0.0.1", "127.0.0.2", "127.0.0.3"))
    mx = [("better.example.net", "mx1.example.net", 10),
          ("better.example.net", "me.example.net", 20),
          ("down.example.net", "dead.example.net", 10),
          ("down.example.net", "me.example.net", 20),
          ("down.example.net", "mx1.example.net", 30)]
    hosts = [("mx1.example.net", "127.0.0.2"),
             ("me.example.net", "127.0.0.1"),
             ("dead.example.net", "127.0.0.3")]
    with Dns(mx=mx, hosts=hosts) as dns, \
            Sink("127.0.0.2", port) as mx1, Sink() as bounces, \
            _relay(bounces, dns, port=port) as relay:
        sessions = _count(relay, "smtp.session")
        clients.send(relay.port, SENDER, ["bob@better.example.net"])
        [m] = mx1.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["bob@better.example.net"], m.rcpt_addrs
        clients.send(relay.port, SENDER, ["carol@down.example.net"])
        envs = relay.wait_queue(
            lambda e: len(e) == 1 and int(e[0]["retries"]) >= 2,
            timeout=40, what="two tries of down.example.net")
        assert envs[0]["rcpt"] == "carol@down.example.net", envs
        assert "127.0.0.3" in envs[0]["lasterror"] or \
            "dead.example.net" in envs[0]["lasterror"], envs
        assert not mx1.messages_to("carol@down.example.net"), mx1.messages
        assert not bounces.messages, bounces.messages
        assert _count(relay, "smtp.session") - sessions == 2, relay.stats()


@timeout(60)
def test_static_route_to_us_is_refused():
    """route to [127.0.0.1] and to "localhost" at our own port: 553 5.3.5
    at RCPT (the route is known there), so nothing is queued."""
    rcpts = ["bob@lit.example.net", "carol@name.example.net"]
    with Sink() as bounces, _relay(bounces, mta_port=25, routes=[
            ("lit.example.net", "[127.0.0.1]", "self"),
            ("name.example.net", "localhost", "self")]) as relay:
        replies = clients.rcpt_replies(relay.port, "127.0.0.1", rcpts)
        assert replies == [(553, ["5.3.5 <%s>... config error: mail loops "
                                  "back to me (MX problem?)" % r])
                           for r in rcpts], replies
        assert relay.show_queue() == [], relay.show_queue()
        assert not bounces.messages, bounces.messages


def test_static_route_elsewhere_on_loopback_is_not_us():
    """127.0.0.1 at another port, and 127.0.0.2 at our port, are not us."""
    port = free_port(("127.0.0.1", "127.0.0.2"))
    with Sink("127.0.0.2", port) as other, Sink() as bounces, \
            _relay(bounces, port=port, routes=[
                ("two.example.net", "[127.0.0.2]", None),
                ("one.example.net", "[127.0.0.1]", bounces.port)]) as relay:
        clients.send(relay.port, SENDER, ["bob@two.example.net"])
        clients.send(relay.port, SENDER, ["carol@one.example.net"])
        other.wait_for(1, timeout=30)
        bounces.wait_for(1, timeout=30,
                         pred=lambda m: m.rcpt_addrs == ["carol@one.example.net"])
        relay.wait_queue_empty(10)
        assert not bounces.bounces(), bounces.bounces()


@timeout(60)
def test_local_domain_is_never_routed():
    """The host name, localhost and a local-host-names entry, with a
    mailertable entry or only route "*": the mta never sends them; they
    are the local mailer's (root's mailbox)."""
    with Sink() as sink, Sink() as bounces, _relay(
            bounces, sink=sink, local_names="lhn.example\n",
            mailertable=("relay.test smtp:[127.0.0.1]:%d\n"
                         "localhost smtp:[127.0.0.1]:%d\n"
                         % (sink.port, sink.port))) as relay:
        clients.send(relay.port, SENDER, ["root@relay.test",
                                          "root@localhost",
                                          "postmaster@lhn.example",
                                          "erin@remote.example"])
        [m] = sink.wait_for(1, timeout=30)
        assert m.rcpt_addrs == ["erin@remote.example"], m.rcpt_addrs
        wait_until(lambda: len([e for e in relay.show_queue()
                                if e["mailer"] == "local" and
                                e["rcpt"] == "root"]) == 1, timeout=30,
                   what="one local envelope for root (duplicates dropped)")
        assert "reached the outbound client" not in relay.log()
        got = [a for m in sink.messages for a in m.rcpt_addrs]
        assert got == ["erin@remote.example"], got
        assert not bounces.messages, bounces.messages
