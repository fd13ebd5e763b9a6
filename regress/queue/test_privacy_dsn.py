"""privacy nobodyreturn and noactualrecipient (sendmail's PrivacyOptions,
spec 9.7), applied by the queue to its DSNs: a bounce returns only the
headers of the message, and names no X-Actual-Recipient."""
import os
import signal

from lib import BIN, clients, dsn, free_port, wait_until
from lib.daemon import Relay
from lib.localmail import USERS_MAP, relay_with_maps
from lib.sink import Sink

SENDER = "dave@client.test"


def _bounce_of(sink):
    [b] = sink.wait_for(1, timeout=30, pred=lambda m: m.mail_from == "")
    return dsn.parse(b.data)


def test_nobodyreturn_returns_headers_only():
    for privacy, want in (("authwarnings", "message/rfc822"),
                          ("authwarnings, nobodyreturn",
                           "text/rfc822-headers")):
        with Sink() as sink, Relay(sink=sink,
                                   conf={"privacy": privacy}) as relay:
            sink.reject_rcpt("gone@remote.test")
            msg, _ = clients.make_message(SENDER, ["gone@remote.test"],
                                       body="the secret body\r\n")
            code, text = clients.send(relay.port, SENDER,
                                      ["gone@remote.test"], msg)
            assert code == 250, text
            d = _bounce_of(sink)
            assert d.returned_type == want, (privacy, d.returned_type)
            assert (b"the secret body" in d.returned) == \
                (want == "message/rfc822"), d.returned


def test_noactualrecipient():
    for privacy, actual in (("authwarnings", True),
                            ("noactualrecipient", False)):
        conf = dict(USERS_MAP, **{"queue lifetime": "2s",
                                  "privacy": privacy})
        with Sink() as sink, relay_with_maps(
                {"local-users": "alice\n",
                 "aliases": "prog: \"|/usr/bin/true -x\"\n"},
                sink=sink, conf=conf, libexec=BIN) as relay:
            r = clients.rcpt_replies(relay.port, "127.0.0.2",
                                     ["prog@relay.test"],
                                     mail_from=SENDER)[0]
            assert r[0] == 250, r
            [r] = _bounce_of(sink).recipients
            assert r.get("final-recipient") == "rfc822; prog@relay.test", r
            assert ("x-actual-recipient" in r) == actual, (privacy, r)


def _offers_dsn(port):
    with clients.Raw(port) as raw:
        return "DSN" in raw.ehlo()


def test_noreceipts_sends_no_success_dsn():
    """An envelope that asked for NOTIFY=SUCCESS before noreceipts was
    set gets no success DSN once it is (the next hop offers no DSN, so
    the relay itself would report)."""
    port = free_port()
    sink = Sink(port=port, autostart=False,
                keywords=("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"))
    try:
        with Relay(routes=[("*", "[127.0.0.1]", port)], mta_port=port,
                   conf={"queue retry-min": "1h",
                         "queue retry-max": "2h"}) as relay:
            with clients.Raw(relay.port) as raw:
                raw.ehlo()
                assert raw.cmd("MAIL FROM:<%s>" % SENDER)[0] == 250
                assert raw.cmd("RCPT TO:<x@dest.test> NOTIFY=SUCCESS")[0] \
                    == 250
                assert raw.cmd("DATA")[0] == 354
                raw.send("Subject: receipt\r\n\r\nbody\r\n.\r\n")
                assert raw.reply()[0] == 250
            relay.wait_queue(lambda e: len(e) == 1 and e[0]["lasterror"],
                             timeout=20, what="one deferred envelope")
            relay.set("privacy", "noreceipts")
            os.kill(relay.proc.pid, signal.SIGHUP)
            wait_until(lambda: not _offers_dsn(relay.port), 10,
                       "the reload of privacy noreceipts")
            sink.start()
            rc, out = relay.smtpctl("schedule", "all")
            assert rc == 0, out
            [m] = sink.wait_for(1, timeout=20)
            assert m.rcpt_addrs == ["x@dest.test"], m.rcpt_addrs
            # a success DSN would be an envelope of its own, queued
            # before the delivered one is gone
            relay.wait_queue_empty(20)
            assert sink.bounces() == [], sink.bounces()
    finally:
        sink.close()
