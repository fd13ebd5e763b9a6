"""The %-hack (sendmail's rulesets 3 and 0): RCPT TO:<user%host@local>
is judged as a RCPT of <user@host> would be (To: entries, relaying) and,
when accepted, queued and delivered as <user@host>, never as the address
given to the local domain.  Two sinks tell the next hops apart: a
route sends the local domain relay.test (the hostname) to one, which
must never be used (a local domain is not routed: bob@relay.test is the
local user bob), every other domain goes to the other.  The client is a
raw socket."""
from lib import clients, wait_until
from lib.daemon import Relay
from lib.localmail import libexec_without_delivery, local_envelopes
from lib.sink import Sink


def _relay(local, far):
    relay = Relay(sink=far, routes=[("relay.test", "[%s]" % local.addr,
                                      local.port)],
                  conf={"local users": "map"}, start=False,
                  libexec=libexec_without_delivery())
    for name, text in (("access", "To:blocked.test REJECT\n"),
                       ("local-users", "bob\n")):
        rc, out = relay.makemap(name, text)
        assert rc == 0, out
    relay.start()
    return relay


def test_relaying_client_percent_hack_is_rewritten_and_judged():
    with Sink() as local, Sink() as far, _relay(local, far) as relay:
        replies = clients.rcpt_replies(relay.port, "127.0.0.1", [
            "X%Dest.Test@relay.test", "y%blocked.test@relay.test",
            "z%@relay.test"])
        assert replies[0][0] == 250, replies
        assert replies[1] == (550, ["5.2.1 <y%blocked.test@relay.test>... "
                                    "Mailbox disabled for this recipient"]), \
            replies
        assert replies[2] == (501, ["5.1.3 Bad recipient address syntax"]), \
            replies
        [m] = far.wait_for(1)
        assert m.rcpt_addrs == ["X@Dest.Test"], m.rcpt_addrs
        assert local.messages == [], local.messages


def test_percent_hack_to_a_local_domain_from_any_client():
    with Sink() as local, Sink() as far, _relay(local, far) as relay:
        replies = clients.rcpt_replies(relay.port, "127.0.0.2", [
            "bob%relay.test@relay.test", "eve%dest.test@relay.test"])
        assert replies[0][0] == 250, replies
        assert replies[1] == (550, ["5.7.1 <eve%dest.test@relay.test>... "
                                    "Relaying denied"]), replies
        wait_until(lambda: local_envelopes(relay, "bob"), timeout=10,
                   what="bob queued for the local mailer")
        assert local.messages == [], local.messages
        assert far.messages == [], far.messages
