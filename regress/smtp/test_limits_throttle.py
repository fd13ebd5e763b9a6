"""limit bad-rcpt-throttle (sendmail's BadRcptThrottle): once a session
has had that many RCPTs refused, each further RCPT waits a second
before it is looked at, logged once with sendmail's "Possible SMTP RCPT
flood, throttling."; the replies themselves do not change, and other
sessions are served meanwhile."""
from lib import clients
from lib.daemon import Relay
from lib.sink import Sink

FLOOD = r"[0-9a-f]{8}: \[127\.0\.0\.2\] \[127\.0\.0\.2\]: Possible SMTP " \
    r"RCPT flood, throttling\.$"


def test_rcpts_after_the_refused_ones_are_throttled():
    with Sink() as sink, Relay(sink=sink, conf={
            "limit bad-rcpt-throttle": "2"}) as relay:
        with clients.Raw(relay.port, source="127.0.0.2") as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            # not ours to relay from 127.0.0.2: refused
            for n in range(2):
                code, texts = raw.cmd("RCPT TO:<bob%d@dest.test>" % n)
                assert code == 550, (code, texts)
            assert relay.stats().get("smtp.rcpt.throttled") is None
            # the third waits, and another session goes on meanwhile
            raw.send("RCPT TO:<bob2@dest.test>\r\n")
            with clients.Raw(relay.port) as other:
                other.ehlo()
                assert other.cmd("MAIL FROM:<a@client.test>")[0] == 250
                assert other.cmd("RCPT TO:<b@dest.test>")[0] == 250
            code, texts = raw.reply()
            assert code == 550 and texts[0].startswith("5.7.1"), \
                (code, texts)
            code, texts = raw.cmd("RCPT TO:<bob3@dest.test>")
            assert code == 550, (code, texts)
            assert raw.cmd("QUIT")[0] == 221
        relay.wait_for_log(FLOOD)
        log = relay.log()
        assert len([l for l in log.splitlines()
                    if "Possible SMTP RCPT flood" in l]) == 1, log
        assert relay.stats().get("smtp.rcpt.throttled") == "2", \
            relay.stats()


def test_no_throttle_by_default():
    with Sink() as sink, Relay(sink=sink) as relay:
        with clients.Raw(relay.port, source="127.0.0.2") as raw:
            raw.ehlo()
            assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
            for n in range(5):
                assert raw.cmd("RCPT TO:<bob%d@dest.test>" % n)[0] == 550
        assert relay.stats().get("smtp.rcpt.throttled") is None
        assert "Possible SMTP RCPT flood" not in relay.log()
