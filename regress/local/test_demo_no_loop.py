"""The README's demo hint on the configuration tools/demo.sh writes
(issue 11): a pki and a listener on 127.0.0.1 with STARTTLS, everything
else at its defaults (delivery by MX, bounces that cannot be returned
dropped), and the client line "swaks --tls --to you@example.org" with
--from me@localhost.  The DNS fixture gives example.org an MX at
127.0.0.1 and the relay's mta port is its own listening port: the MX
points back at us, the worst case.  The mail is refused or bounces once
with sendmail's "553 5.3.5 ... config error: mail loops back to me (MX
problem?)", the bounce to me@localhost is resolved locally (me is no
local user: dropped, or a local envelope for the double-bounce address),
and nothing loops: no "Too many hops", the message is received once, and
the queue settles with nothing for the mta."""
import re
import time

from lib import clients, free_port, timeout, wait_until
from lib.certs import TestCA, wait_tls_ready
from lib.daemon import Relay
from lib.dns import Dns
from lib.localmail import envelopes, mta_envelopes

LOOPS_BACK = (r"553 5\.3\.5 (\S+ )?config error: mail loops back to me "
              r"\(MX problem\?\)")


def _demo_relay(dns, port, cert):
    extra = ['pki demo cert "%s" key "%s"' % (cert.chain, cert.key),
             "listen on 127.0.0.1 port %d tls" % port]
    return Relay(resolver_port=dns.port, mta_port=port, extra=extra)


def _settled(relay, wait=30):
    """Until no envelope is left for the mta; then the queue must stay
    as it is.  Returns the envelopes left (local ones only)."""
    seen = []

    def no_mta():
        seen[:] = envelopes(relay)
        return not mta_envelopes(relay)
    try:
        wait_until(no_mta, wait, "no envelope for the mta", interval=0.5)
    except AssertionError as e:
        raise AssertionError("%s; the queue holds %r" % (e, seen)) from None
    before = sorted(e["evpid"] for e in envelopes(relay))
    time.sleep(3)
    after = envelopes(relay)
    assert sorted(e["evpid"] for e in after) == before, (before, after)
    return after


@timeout(150)
def test_readme_swaks_line_on_the_demo_config_does_not_loop():
    ca = TestCA()
    cert = ca.issue("relay.test")
    port = free_port()
    with Dns(mx=[("example.org", "mx.example.org", 10)],
             hosts=[("mx.example.org", "127.0.0.1")]) as dns, \
            _demo_relay(dns, port, cert) as relay:
        wait_tls_ready(relay)
        r = clients.swaks(port, "--tls", "--to", "you@example.org",
                          "--from", "me@localhost")
        out = r.stdout.decode("utf-8", "replace")
        accepted = r.returncode == 0
        if accepted:
            # a bounce, at the one delivery attempt (or the old loop)
            relay.wait_for_log(r"to=<you@example\.org>.*%s|Too many hops"
                               % LOOPS_BACK, timeout=60)
            assert "Too many hops" not in relay.log(), \
                "looped: %d messages received" % len(re.findall(
                    r": from=<[^>]*>, size=", relay.log()))
        else:
            # refused where the relay can know it
            assert re.search(LOOPS_BACK, out), out[-2000:]
        left = _settled(relay, wait=60)
        log = relay.log()
        assert "Too many hops" not in log, relay.log_tail(40)
        # received once: from swaks, never again from our own mta
        received = re.findall(r"from=<me@localhost>, size=", log)
        assert len(received) == (1 if accepted else 0), received
        attempts = re.findall(r"to=<you@example\.org>.*stat=", log)
        assert len(attempts) == (1 if accepted else 0), attempts
        # the bounce to me@localhost: dropped (no double-bounce address)
        assert left == [], left
