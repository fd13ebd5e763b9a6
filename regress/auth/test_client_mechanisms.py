"""The mechanisms of the client side (spec 8: authinfo's M: and R:): the
mta's AUTH runs in smtpd-auth's Cyrus SASL client, so it authenticates
to a smarthost (a second instance of this relay, STARTTLS, a sasldb made
by saslpasswd2) that offers only CRAM-MD5, DIGEST-MD5, SCRAM-SHA-1 or
SCRAM-SHA-256; picks the strongest mechanism both allow; keeps to M:;
with no mechanism in common goes on without AUTH (and the smarthost's 530
defers the mail); and a wrong secret under a challenge-response mechanism
defers with the 535.  The mta maps no SASL library all along."""
from lib import clients
from lib.daemon import Relay
from lib.sasl import REALM, authinfo_relay, smarthost
from lib.sink import Sink

USER, SECRET = "carol", "Ch4llenge-pw"


def _smarthost(sink, mechanisms):
    return smarthost(sink, {USER: SECRET}, mechanisms)


def _first(hop, port, value):
    """The first relay, trusting the smarthost's CA (verify=OK)."""
    return authinfo_relay(port, value, ca=hop.ca)[0]


def _value(secret=SECRET, mechs=None, realm=None):
    v = '"U:%s" "I:%s" "P:%s"' % (USER, USER, secret)
    if realm is not None:
        v += ' "R:%s"' % realm
    if mechs is not None:
        v += ' "M:%s"' % mechs
    return v


def _delivered_with(mechanisms, value, mech):
    with Sink() as sink:
        hop, port = _smarthost(sink, mechanisms)
        with hop, _first(hop, port, value) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            [m] = sink.wait_for(1)
            assert "with ESMTPSA" in m.header("Received")
            first.wait_for_log(r"AUTH=client, relay=127\.0\.0\.1, "
                               r"mech=%s, bits=0$" % mech)
            hop.wait_for_log(r"AUTH=server, .*authid=carol(@\S+)?, "
                             r"mech=%s, " % mech)
            first.wait_queue_empty()
            assert SECRET not in first.log()
            with open("/proc/%d/maps" % first.pid("mta")) as f:
                assert "libsasl2" not in f.read()


def test_cram_md5_only():
    _delivered_with("CRAM-MD5", _value(), "CRAM-MD5")


def test_digest_md5_with_realm():
    _delivered_with("DIGEST-MD5", _value(realm=REALM), "DIGEST-MD5")


def test_scram_sha1_and_sha256():
    _delivered_with("SCRAM-SHA-1", _value(mechs="SCRAM-SHA-1"),
                    "SCRAM-SHA-1")
    _delivered_with("SCRAM-SHA-256", _value(), "SCRAM-SHA-256")


def test_strongest_common_mechanism_and_m_list():
    _delivered_with("PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256", _value(),
                    "SCRAM-SHA-256")
    _delivered_with("PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256",
                    _value(mechs="CRAM-MD5 LOGIN"), "CRAM-MD5")


def test_no_mechanism_in_common_goes_on_without_auth():
    with Sink() as sink:
        hop, port = _smarthost(sink, "CRAM-MD5")
        with hop, _first(hop, port, _value(mechs="PLAIN")) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            first.wait_queue(lambda e: e and "530" in
                             e[0].get("lasterror", ""),
                             what="a deferral saying 530")
            first.wait_for_log(r"AUTH=client, relay=127\.0\.0\.1: no "
                               r"mechanism in common .*CRAM-MD5")
            assert "AUTH=server" not in hop.log()
            assert not sink.messages


def test_wrong_secret_with_cram_md5_defers_with_535():
    with Sink() as sink:
        hop, port = _smarthost(sink, "CRAM-MD5")
        with hop, _first(hop, port, _value(secret="Wr0ng-pw")) as first:
            clients.send(first.port, "bob@client.test", "far@dest.test")
            envs = first.wait_queue(lambda e: e and "535" in
                                    e[0].get("lasterror", ""),
                                    what="a deferral saying 535")
            assert "5.7.8" in envs[0]["lasterror"], envs
            first.wait_for_log(r"AUTH=client, relay=127\.0\.0\.1, "
                               r"mech=CRAM-MD5, failed: 535 ")
            assert not sink.messages


def test_challenge_our_client_rejects_is_cancelled():
    """A server whose CRAM-MD5 challenge is not base64: our SASL client
    refuses it, the mta cancels with "*" and the hop is deferred with the
    reason; the next attempt goes the same way (nothing crashed)."""
    with Sink(keywords=["AUTH CRAM-MD5", "8BITMIME"]) as sink:
        sink.auth_script = [(334, "!!not*base64!!"),
                            (501, "5.7.0 Authentication cancelled")]
        route = 'route "*" via "[127.0.0.1]" port %d auth-plaintext' % \
            sink.port
        with Relay(extra=[route]) as first:
            rc, out = first.smtpctl("authinfo", "add", "AuthInfo:127.0.0.1",
                                    _value())
            assert rc == 0, out
            clients.send(first.port, "bob@client.test", "far@dest.test")
            envs = first.wait_queue(lambda e: e and "cancelled by the "
                                    "client" in e[0].get("lasterror", ""),
                                    what="a deferral saying cancelled")
            assert "AUTH CRAM-MD5" in envs[0]["lasterror"], envs
            lines = [c[1].rstrip(b"\r\n") for c in sink.commands]
            assert b"AUTH CRAM-MD5" in lines and b"*" in lines, lines
            assert not sink.messages
            first.wait_for_log(r"mech=CRAM-MD5, cancelled: .*base64")
            n = lines.count(b"*")
            first.smtpctl("schedule", "all")
            first.wait_queue(lambda e: [c for c in sink.commands
                                        if c[1] == b"*"][n:] != [],
                             what="a second cancelled attempt")
            assert int(first.stats().get("mta.auth.failed", 0)) >= 2
            assert first.alive()
