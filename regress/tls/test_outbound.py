"""Outbound STARTTLS: the mta upgrades when the next hop offers it (the
next hop is a second relay with a tls listener: its Received: says
ESMTPS), goes on in plaintext when STARTTLS is not offered or refused,
and a kill -9 of tlsproxy ends the TLS sessions it carried, after which
the restarted tlsproxy serves new ones."""
import os
import signal
import time

from lib import clients, free_port
from lib.certs import (TestCA, client_context, relay_tls_extra,
                       starttls, wait_tls_ready)
from lib.daemon import Relay
from lib.sink import DEFAULT_KEYWORDS, Sink


def test_outbound_starttls_to_second_relay():
    ca = TestCA()
    srv = ca.issue("relay.test")
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=relay_tls_extra(
            ca, srv, port)) as hop:
        wait_tls_ready(hop)
        with Relay(routes=[("*", "[127.0.0.1]", port)]) as first:
            clients.send(first.port, "alice@client.test", "far@dest.test")
            [m] = sink.wait_for(1)
            recs = [v for k, v in _fields(m.data) if k == "received"]
            assert len(recs) >= 2, recs
            # the hop's own Received: (first) shows TLS from the first relay
            assert "with ESMTPS" in recs[0], recs
            assert "(version=TLSv1." in recs[0], recs
            assert "with ESMTPS" not in recs[1], recs
            first.wait_for_log(r"STARTTLS=client")
            first.wait_for_log(r"TLS on, verify=")
            hop.wait_for_log(r"STARTTLS=server")


def test_outbound_plaintext_without_starttls():
    ca = TestCA()
    srv = ca.issue("relay.test")
    with Sink() as sink, Relay(sink=sink, extra=[
            'pki relay.test cert "%s" key "%s"' % (srv.chain,
                                                   srv.key)]) as relay:
        clients.send(relay.port, "alice@client.test", "p@dest.test")
        [m] = sink.wait_for(1)
        assert "STARTTLS" not in [c for _, c in sink.commands]
        relay.wait_queue_empty()


def test_outbound_starttls_refused_goes_plaintext():
    kw = list(DEFAULT_KEYWORDS) + ["STARTTLS"]
    with Sink(keywords=kw) as sink, Relay(sink=sink) as relay:
        clients.send(relay.port, "alice@client.test", "r@dest.test")
        [m] = sink.wait_for(1)
        cmds = [c.decode() if isinstance(c, bytes) else c
                for _, c in sink.commands]
        assert any(c.upper().startswith("STARTTLS") for c in cmds), cmds
        relay.wait_for_log(r"STARTTLS refused")


def test_tlsproxy_killed_mid_session():
    ca = TestCA()
    srv = ca.issue("relay.test")
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=relay_tls_extra(
            ca, srv, port)) as relay:
        wait_tls_ready(relay)
        raw = clients.Raw(port)
        raw.ehlo()
        starttls(raw, client_context(ca))
        raw.ehlo()
        old = relay.pid("tlsproxy")
        mark = relay.mark()
        os.kill(old, signal.SIGKILL)
        assert raw.closed(timeout=10), "session survived its tlsproxy"
        raw.close()
        relay.wait_restarted("tlsproxy", old)
        relay.wait_for_log(r"certificates loaded", timeout=20,
                           start=mark)
        for attempt in range(20):
            with clients.Raw(port) as raw:
                raw.ehlo()
                code, texts = raw.cmd("STARTTLS")
                if code == 454:
                    time.sleep(0.5)
                    continue
                assert code == 220, (code, texts)
                raw.sock = client_context(ca).wrap_socket(
                    raw.sock, server_hostname="relay.test")
                raw.ehlo()
                assert raw.cmd("MAIL FROM:<a@client.test>")[0] == 250
                assert raw.cmd("RCPT TO:<k@dest.test>")[0] == 250
                assert raw.cmd("DATA")[0] == 354
                assert raw.cmd("Subject: k\r\n\r\nx\r\n.")[0] == 250
                break
        else:
            raise AssertionError("STARTTLS never came back")
        [m] = sink.wait_for(1)
        assert "with ESMTPS" in m.header("Received")


def _fields(data):
    """(lowercase name, unfolded value) of every header field, in order."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    out = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
        elif ":" in line:
            k, v = line.split(":", 1)
            out.append((k.strip().lower(), v.strip()))
    return out
