"""MTA-STS (RFC 8461) in the outbound client, end to end: the policy is
fetched over HTTPS (a Python server with a certificate of the test CA on
ADDR:443, lib/mtasts.py) after the _mta-sts TXT record (dnsmasq), and
the MX is a second relay with a tls listener and a certificate for its
MX name.  Enforce with a matching MX delivers over verified TLS; an MX
the policy does not name is not used and the mail stays queued; a
certificate that does not verify defers; testing mode delivers and logs;
a failed refetch keeps the cached policy and an expired one is fetched
again; smtpctl tlsrpt prints the day's RFC 8460 report as JSON."""
import contextlib
import json
import os
import random
import re
import time

from lib import clients, free_port, wait_until
from lib.certs import TestCA
from lib.daemon import Relay
from lib.dns import Dns
from lib.mtasts import PolicyServer
from lib.sink import Sink

DOMAIN = "sts.example.net"
MX = "mx1.sts.example.net"
MX_ADDR = "127.0.0.2"
SENDER = "alice@sender.example.org"


def _policy(mode="enforce", mx=MX, max_age=86400):
    return ("version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: %d\r\n"
            % (mode, mx, max_age))


def _web_addr():
    # a loopback address of its own, so that port 443 is free
    return "127.0.3.%d" % random.randint(10, 250)


def _dns(web_addr, sts_id="20261207a"):
    return Dns(mx=[(DOMAIN, MX, 10)],
               hosts=[(MX, MX_ADDR), ("mta-sts." + DOMAIN, web_addr)],
               txt=[("_mta-sts." + DOMAIN, "v=STSv1; id=%s" % sts_id)])


def _hop(sink, cert, ca, port):
    """The MX: a relay with a tls listener on MX_ADDR, on to the sink."""
    return Relay(sink=sink, extra=[
        'pki %s cert "%s" key "%s"' % (cert.name, cert.chain, cert.key),
        'ca file "%s"' % ca.cert,
        "listen on %s port %d tls" % (MX_ADDR, port)])


def _first(dns, ca, port, bounces):
    return Relay(resolver_port=dns.port, mta_port=port,
                 routes=[("sender.example.org", "[127.0.0.1]",
                          bounces.port)],
                 extra=['ca file "%s"' % ca.cert, "mta mta-sts yes"])


def _run(mode="enforce", mx=MX, mx_cert_ca=None, max_age=86400):
    """The fixtures of one test, entered by the caller with ExitStack."""
    ca = TestCA()
    port = free_port(("127.0.0.1", MX_ADDR))
    web = PolicyServer(ca, DOMAIN, _web_addr(), _policy(mode, mx, max_age))
    cert = (mx_cert_ca or ca).issue(MX)
    return ca, port, web, cert


@contextlib.contextmanager
def _world(ca, port, web, cert, hop_ca):
    """The policy server, the DNS, the sink, the MX relay (with cert,
    trusting hop_ca) and the first relay, the MX ready for STARTTLS."""
    with web, _dns(web.addr) as dns, Sink() as sink, \
            _hop(sink, cert, hop_ca, port) as hop, Sink() as bounces, \
            _first(dns, ca, port, bounces) as relay:
        hop.wait_for_log(r"certificates loaded: [1-9]", 20)
        yield dns, sink, hop, bounces, relay


def test_enforce_matching_mx_delivers_verified():
    ca, port, web, cert = _run()
    with _world(ca, port, web, cert, ca) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["bob@" + DOMAIN])
        [m] = sink.wait_for(1, timeout=40)
        assert "with ESMTPS" in m.header("Received")
        relay.wait_for_log(r"MTA-STS: policy of %s fetched: id 20261207a, "
                           r"mode enforce" % DOMAIN, 20)
        relay.wait_for_log(r"MTA-STS enforce policy of %s: sts=ok"
                           % DOMAIN, 20)
        assert web.fetches == 1
        assert web.requests[0] == ("/.well-known/mta-sts.txt",
                                   "mta-sts." + DOMAIN)
        relay.wait_queue_empty(20)
        assert not bounces.messages


def test_enforce_non_matching_mx_not_used():
    ca, port, web, cert = _run(mx="mx9.other.example.net")
    with _world(ca, port, web, cert, ca) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["carol@" + DOMAIN])
        relay.wait_for_log(r"MTA-STS enforce: MX %s does not match the "
                           r"policy, not used" % MX, 30)
        envs = relay.wait_queue(
            lambda e: e and "4.7.5" in e[0]["lasterror"], 30,
            "a deferral naming MTA-STS")
        assert "MTA-STS" in envs[0]["lasterror"], envs
        assert not sink.messages
        assert not bounces.messages


def test_enforce_unverified_certificate_defers():
    other = TestCA(name="Another CA")
    ca, port, web, cert = _run(mx_cert_ca=other)
    with _world(ca, port, web, cert, other) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["dave@" + DOMAIN])
        relay.wait_for_log(r"MTA-STS enforce policy of %s: sts=fail "
                           r"\(validation-failure, verify=FAIL\)"
                           % DOMAIN, 40)
        envs = relay.wait_queue(
            lambda e: e and "4.7.5" in e[0]["lasterror"], 30,
            "a deferral naming MTA-STS")
        assert "MTA-STS policy of %s" % DOMAIN in envs[0]["lasterror"]
        assert not sink.messages
        assert not bounces.messages


def test_tls_required_no_header_is_not_held_by_the_policy():
    """RFC 8689 5: a message with "TLS-Required: No" goes to the MX whose
    certificate does not verify, which an enforce policy would defer;
    the same message without the header is deferred."""
    other = TestCA(name="Another CA")
    ca, port, web, cert = _run(mx_cert_ca=other)
    with _world(ca, port, web, cert, other) as (dns, sink, hop, bounces,
                                               relay):
        msg = ("From: <%s>\r\nTo: <erin@%s>\r\nSubject: optional\r\n"
               "TLS-Required:  no \r\n\r\nbody\r\n" % (SENDER, DOMAIN))
        clients.send(relay.port, SENDER, ["erin@" + DOMAIN], msg=msg)
        [m] = sink.wait_for(1, timeout=40)
        relay.wait_for_log(r"MTA-STS enforce policy of %s not applied: "
                           r"TLS-Required: No" % DOMAIN, 20)
        assert "with ESMTPS" in m.header("Received")
        clients.send(relay.port, SENDER, ["fred@" + DOMAIN])
        relay.wait_queue(lambda e: e and "4.7.5" in e[0]["lasterror"], 40,
                         "the message without the header deferred")
        assert len(sink.messages) == 1


def test_clt_features_m_turns_the_policy_off_for_a_server():
    """Clt_Features:HOST M in the access map (sendmail 8.17): the enforce
    policy is not applied to connections to that server."""
    other = TestCA(name="Another CA")
    ca, port, web, cert = _run(mx_cert_ca=other)
    with _world(ca, port, web, cert, other) as (dns, sink, hop, bounces,
                                               relay):
        rc, out = relay.makemap("access", "Clt_Features:%s M\n" % MX)
        assert rc == 0, out
        clients.send(relay.port, SENDER, ["gina@" + DOMAIN])
        sink.wait_for(1, timeout=40)
        relay.wait_for_log(r"MTA-STS enforce policy of %s not applied: "
                           r"Clt_Features M" % DOMAIN, 20)


def test_explain_tls_srv_shows_the_kept_policy():
    """smtpctl explain tls-srv DOMAIN: after a delivery the policy kept
    for the domain, and for each MX host whether the policy names it."""
    ca, port, web, cert = _run()
    with _world(ca, port, web, cert, ca) as (dns, sink, hop, bounces,
                                               relay):
        rc, out = relay.smtpctl("explain", "tls-srv", DOMAIN)
        assert "MTA-STS: no policy kept for %s" % DOMAIN in out, out
        hop.wait_for_log(r"certificates loaded: [1-9]", 20)
        clients.send(relay.port, SENDER, ["hank@" + DOMAIN])
        sink.wait_for(1, timeout=40)
        relay.wait_for_log(r"sts=ok", 20)
        out = wait_until(lambda: (lambda r: r[1] if "id 20261207a" in r[1]
                                  else None)(relay.smtpctl(
                                      "explain", "tls-srv", DOMAIN)),
                         20, "the kept policy explained")
        assert "mta mta-sts yes" in out, out
        assert ("MTA-STS: policy of %s, id 20261207a, mode enforce, "
                "max_age 86400, in force" % DOMAIN) in out, out
        assert "  mx: %s" % MX in out, out
        assert "%s: MTA-STS: named: TLS verified for this name required" \
            % MX in out, out


def test_enforce_certificate_of_another_name_defers():
    """A certificate of the test CA, but not for the MX name: tlsproxy's
    name check (TLS_F_VERIFY_NAME) fails it."""
    ca, port, web, _ = _run()
    cert = ca.issue("mx1.elsewhere.example.net")
    with _world(ca, port, web, cert, ca) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["hank@" + DOMAIN])
        relay.wait_for_log(r"relay=%s, .*verify=FAIL" % MX, 40)
        relay.wait_for_log(r"verifymsg=hostname mismatch", 20)
        envs = relay.wait_queue(
            lambda e: e and "4.7.5" in e[0]["lasterror"], 30,
            "a deferral naming MTA-STS")
        assert "MTA-STS" in envs[0]["lasterror"], envs
        assert not sink.messages


def test_testing_mode_delivers_and_logs():
    other = TestCA(name="Another CA")
    ca, port, web, cert = _run(mode="testing", mx_cert_ca=other)
    with _world(ca, port, web, cert, other) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["erin@" + DOMAIN])
        sink.wait_for(1, timeout=40)
        relay.wait_for_log(r"MTA-STS testing policy of %s: sts=fail "
                           r"\(validation-failure, verify=FAIL\), "
                           r"delivered anyway" % DOMAIN, 20)
        relay.wait_queue_empty(20)


def test_refetch_failure_keeps_cache_then_expiry_refetches():
    # max_age 24: fetched again from 18 s on (the last quarter), gone
    # at 24 s
    ca, port, web, cert = _run(max_age=24)
    with _world(ca, port, web, cert, ca) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["f1@" + DOMAIN])
        sink.wait_for(1, timeout=40)
        fetched = time.monotonic()
        assert web.fetches == 1
        web.status = 404
        time.sleep(max(0, fetched + 19 - time.monotonic()))
        mark = relay.mark()
        clients.send(relay.port, SENDER, ["f2@" + DOMAIN])
        sink.wait_for(2, timeout=40)
        relay.wait_for_log(r"MTA-STS: policy fetch for %s failed: status "
                           r"not 200.*the cached policy is kept" % DOMAIN,
                           20, start=mark)
        relay.wait_for_log(r"sts=ok", 20, start=mark)
        web.status = 200
        time.sleep(max(0, fetched + 25 - time.monotonic()))
        mark = relay.mark()
        clients.send(relay.port, SENDER, ["f3@" + DOMAIN])
        sink.wait_for(3, timeout=40)
        relay.wait_for_log(r"the policy of %s expired" % DOMAIN, 20,
                           start=mark)
        relay.wait_for_log(r"policy of %s fetched" % DOMAIN, 20, start=mark)
        assert web.fetches == 2


def test_fetch_fails_at_once_when_tlsproxy_goes():
    """A policy fetch in its TLS handshake when tlsproxy dies ends then
    (it does not wait for the fetch's 60 s limit)."""
    ca, port, _, cert = _run()
    web = PolicyServer(ca, DOMAIN, _web_addr(), "", hang=True)
    with _world(ca, port, web, cert, ca) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["h1@" + DOMAIN])
        # the TXT lookup, the connect and the hello: the handshake hangs
        time.sleep(2)
        old = relay.pid("tlsproxy")
        relay.kill("tlsproxy")
        # well within the fetch's own 60 s limit
        relay.wait_for_log(r"MTA-STS: policy fetch for %s failed: TLS "
                           r"proxy lost" % re.escape(DOMAIN), 15)
        relay.wait_restarted("tlsproxy", old)


def test_tlsrpt_json_report():
    ca, port, web, cert = _run()
    with _world(ca, port, web, cert, ca) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["g1@" + DOMAIN])
        sink.wait_for(1, timeout=40)
        relay.wait_for_log(r"sts=ok", 20)
        day = time.strftime("%Y-%m-%d", time.gmtime())
        rc, out = relay.smtpctl("tlsrpt", day)
        assert rc == 0, out
        report = json.loads(out)
        assert report["date-range"]["start-datetime"] == day + "T00:00:00Z"
        [pol] = report["policies"]
        assert pol["policy"]["policy-type"] == "sts"
        assert pol["policy"]["policy-domain"] == DOMAIN
        assert pol["policy"]["mx-host"] == [MX]
        assert "mode: enforce" in pol["policy"]["policy-string"]
        assert pol["summary"]["total-successful-session-count"] == 1
        assert pol["summary"]["total-failure-session-count"] == 0
        rc, out = relay.smtpctl("tlsrpt", "2020-01-01")
        assert rc == 0 and json.loads(out)["policies"] == [], out
        rc, out = relay.smtpctl("tlsrpt", "yesterday")
        assert rc != 0


def _tlsrpt_today(relay):
    day = time.strftime("%Y-%m-%d", time.gmtime())
    rc, out = relay.smtpctl("tlsrpt", day)
    assert rc == 0, out
    return json.loads(out)["policies"]


def test_tlsrpt_counts_kept_across_mta_restart():
    """The day's TLS-RPT counts are kept by policyd: after a kill -9 of
    the mta the new one reads them back and counts on from there."""
    ca, port, web, cert = _run()
    with _world(ca, port, web, cert, ca) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["r1@" + DOMAIN])
        sink.wait_for(1, timeout=40)
        relay.wait_for_log(r"sts=ok", 20)
        # one flush (every 5 s) has written it
        wait_until(lambda: int(relay.stats().get("policy.tlsrpt.put", 0)),
                   20, "the TLS-RPT record written")
        old = relay.pid("mta")
        relay.kill("mta")
        relay.wait_restarted("mta", old)
        [pol] = wait_until(lambda: _tlsrpt_today(relay) or None, 20,
                           "the record read back")
        assert pol["policy"]["policy-domain"] == DOMAIN, pol
        assert pol["policy"]["mx-host"] == [MX], pol
        assert pol["summary"]["total-successful-session-count"] == 1, pol
        clients.send(relay.port, SENDER, ["r2@" + DOMAIN])
        sink.wait_for(2, timeout=40)
        wait_until(lambda: _tlsrpt_today(relay)[0]["summary"][
            "total-successful-session-count"] == 2, 20, "counted on")


def test_policy_kept_across_mta_restart():
    """policyd keeps the fetched policy in its own database: a new mta
    reads it back, sees the same TXT id and fetches nothing."""
    ca, port, web, cert = _run()
    with _world(ca, port, web, cert, ca) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["k1@" + DOMAIN])
        sink.wait_for(1, timeout=40)
        relay.wait_for_log(r"policyd: MTA-STS policy of %s stored" % DOMAIN
                           if relay.verbose else r"sts=ok", 20)
        assert os.path.exists(os.path.join(relay.dbdir, "mta-sts",
                                           "policies.db"))
        web.status = 404
        old = relay.pid("mta")
        relay.kill("mta")
        relay.wait_restarted("mta", old)
        mark = relay.mark()
        clients.send(relay.port, SENDER, ["k2@" + DOMAIN])
        sink.wait_for(2, timeout=40)
        relay.wait_for_log(r"MTA-STS: policy of %s read from the database: "
                           r"id 20261207a, mode enforce" % DOMAIN, 20,
                           start=mark)
        relay.wait_for_log(r"MTA-STS enforce policy of %s: sts=ok" % DOMAIN,
                           20, start=mark)
        assert web.fetches == 1
        assert "policy fetch for" not in relay.log(mark)


def test_fetch_failure_without_cache_delivers_and_reports():
    """No policy could be had (the host answers 404): mail goes as
    without MTA-STS, and the day's report has the fetch error."""
    ca, port, web, cert = _run()
    web.status = 404
    with _world(ca, port, web, cert, ca) as (dns, sink, hop, bounces,
                                               relay):
        clients.send(relay.port, SENDER, ["m1@" + DOMAIN])
        sink.wait_for(1, timeout=40)
        relay.wait_for_log(r"MTA-STS: policy fetch for %s failed: status "
                           r"not 200" % DOMAIN, 20)
        assert "sts=" not in relay.log()
        rc, out = relay.smtpctl("tlsrpt", time.strftime("%Y-%m-%d",
                                                        time.gmtime()))
        assert rc == 0, out
        [pol] = json.loads(out)["policies"]
        assert pol["policy"] == {"policy-type": "no-policy-found",
                                 "policy-domain": DOMAIN}
        assert pol["summary"]["total-failure-session-count"] == 1
        [d] = pol["failure-details"]
        assert d["result-type"] == "sts-policy-fetch-error"
        assert "200" in d["failure-reason-code"]


def test_policy_host_with_ipv6_only():
    """mta-sts.DOMAIN has no A record: the fetch goes to its AAAA."""
    ca = TestCA()
    port = free_port(("127.0.0.1", MX_ADDR))
    web = PolicyServer(ca, DOMAIN, "::1", _policy())
    cert = ca.issue(MX)
    dns = Dns(mx=[(DOMAIN, MX, 10)],
              hosts=[(MX, MX_ADDR), ("mta-sts." + DOMAIN, "::1")],
              txt=[("_mta-sts." + DOMAIN, "v=STSv1; id=v6a")])
    with web, dns, Sink() as sink, _hop(sink, cert, ca, port) as hop, \
            Sink() as bounces, _first(dns, ca, port, bounces) as relay:
        hop.wait_for_log(r"certificates loaded: [1-9]", 20)
        clients.send(relay.port, SENDER, ["n1@" + DOMAIN])
        sink.wait_for(1, timeout=40)
        relay.wait_for_log(r"MTA-STS: policy of %s fetched: id v6a"
                           % DOMAIN, 20)
        relay.wait_for_log(r"sts=ok", 20)
        assert web.fetches == 1


def test_enforce_does_not_reuse_an_unchecked_connection():
    """An idle connection opened for a domain without a policy was not
    verified for the MX name: a batch under enforce opens its own."""
    ca, port, web, cert = _run()
    plain = "plain.example.net"
    dns = Dns(mx=[(DOMAIN, MX, 10), (plain, MX, 10)],
              hosts=[(MX, MX_ADDR), ("mta-sts." + DOMAIN, web.addr)],
              txt=[("_mta-sts." + DOMAIN, "v=STSv1; id=reuse1")])
    with web, dns, Sink() as sink, _hop(sink, cert, ca, port) as hop, \
            Sink() as bounces, _first(dns, ca, port, bounces) as relay:
        hop.wait_for_log(r"certificates loaded: [1-9]", 20)
        clients.send(relay.port, SENDER, ["p1@" + plain])
        sink.wait_for(1, timeout=40)
        relay.wait_queue_empty(20)
        clients.send(relay.port, SENDER, ["p2@" + DOMAIN])
        sink.wait_for(2, timeout=40)
        relay.wait_for_log(r"MTA-STS enforce policy of %s: sts=ok" % DOMAIN,
                           20)
        opened = re.findall(r"connected to %s " % re.escape(MX),
                            relay.log())
        assert len(opened) == 2, opened
