"""policy blacklist-recipients (FEATURE(blacklist_recipients)): on by
default, To: entries with a refusing value refuse the recipient; with
"no" the To: checks are not made at all, as in sendmail without the
feature, and only a To: RELAY of the domain still counts (for relaying).
The daemon is asked over a raw socket, smtpctl explain with the same
config."""
from lib import clients, wait_until
from lib.daemon import Relay
from lib.localmail import libexec_without_delivery, local_envelopes
from lib.sink import Sink

ACCESS = ("To:gone@relay.test REJECT\n"
          "To:blocked.test ERROR:5.7.1:550 No mail for them\n"
          "To:partner.test RELAY\n")


def _relay(sink, setting):
    # gone is a local user: the To: entries, not the user check, decide
    conf = {"local users": "map"}
    if setting is not None:
        conf["policy blacklist-recipients"] = setting
    relay = Relay(sink=sink, conf=conf, start=False,
                  libexec=libexec_without_delivery())
    for name, text in (("access", ACCESS), ("local-users", "gone\n")):
        rc, out = relay.makemap(name, text)
        assert rc == 0, out
    relay.start()
    return relay


def _explain_rcpt(relay, addr, rcpt):
    rc, out = relay.smtpctl("explain", "addr", addr, "from",
                            "alice@client.test", "rcpt", rcpt)
    assert rc == 0, (rc, out)
    stage = "To <%s>" % rcpt
    lines = [l.split("\t") for l in out.splitlines()]
    reply = [f[2] for f in lines if f[0] == stage and f[1] == "reply"]
    steps = [f[2] for f in lines if f[0] == stage and f[1] == "step"]
    return reply[0], steps


def test_default_applies_to_entries():
    with Sink() as sink, _relay(sink, None) as relay:
        replies = clients.rcpt_replies(relay.port, "127.0.0.1", [
            "gone@relay.test", "y@blocked.test"])
        assert replies == [
            (550, ["5.2.1 <gone@relay.test>... Mailbox disabled for this "
                   "recipient"]),
            (550, ["5.7.1 <y@blocked.test>... No mail for them"])], replies
        reply, steps = _explain_rcpt(relay, "127.0.0.1", "gone@relay.test")
        assert reply.startswith("550 5.2.1"), reply
        assert "To: checks on <gone@relay.test>" in steps, steps


def test_off_ignores_refusing_to_entries_keeps_relay():
    with Sink() as sink, _relay(sink, "no") as relay:
        assert clients.rcpt_replies(relay.port, "127.0.0.1", [
            "gone@relay.test", "y@blocked.test"]) == \
            [(250, ["2.1.5 Ok"]), (250, ["2.1.5 Ok"])]
        # a client that may not relay: To: RELAY still lets it reach
        # partner.test, a REJECT entry refuses nothing, relaying does
        assert clients.rcpt_replies(relay.port, "127.0.0.2", [
            "x@partner.test", "z@blocked.test"]) == [
            (250, ["2.1.5 Ok"]),
            (550, ["5.7.1 <z@blocked.test>... Relaying denied"])]
        got = sorted(a for m in sink.wait_for(2) for a in m.rcpt_addrs)
        assert got == ["x@partner.test", "y@blocked.test"], got
        wait_until(lambda: local_envelopes(relay, "gone"), timeout=10,
                   what="gone@relay.test queued for the local mailer")
        reply, steps = _explain_rcpt(relay, "127.0.0.1", "gone@relay.test")
        assert reply == "250 2.1.5 Ok", reply
        assert "blacklist-recipients no: no To: checks on " \
            "<gone@relay.test>" in steps, steps
