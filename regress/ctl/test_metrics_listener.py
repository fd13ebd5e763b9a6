"""listen ... metrics: show metrics over HTTP for a Prometheus scraper,
read back with the real parser (python3-prometheus-client); other
methods, paths and garbage get their HTTP errors; an idle or endless
request is closed; the listener takes no other option."""
import socket
import subprocess
import urllib.request

from lib import clients, free_port, smtpd_check
from lib.daemon import Relay
from lib.sink import Sink

PARSER = """
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        print(fam.type, s.name, s.labels.get("process"), s.value)
"""


def _relay(sink):
    port = free_port()
    relay = Relay(sink=sink, extra=["listen on 127.0.0.1 port %d metrics"
                                    % port])
    relay.metrics_port = port
    return relay


def test_metrics_over_http():
    with Sink() as sink, _relay(sink) as relay:
        clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        sink.wait_for(1)
        url = "http://127.0.0.1:%d/metrics" % relay.metrics_port
        with urllib.request.urlopen(url, timeout=20) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith(
                "text/plain; version=0.0.4"), r.headers
            text = r.read().decode()
        p = subprocess.run(["/usr/bin/python3", "-c", PARSER],
                           input=text.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        assert p.returncode == 0, p.stderr
        samples = p.stdout.decode().splitlines()
        assert ("counter smtpd_queue_message_committed_total queue 1.0"
                in samples), samples
        assert any(x.startswith("gauge smtpd_smtp_session_active smtp ")
                   for x in samples), samples
        # the families smtpctl prints a moment later (counters only
        # appear once used, so there may be more by then)
        rc, out = relay.smtpctl("show", "metrics")
        assert rc == 0
        types = [x for x in text.splitlines() if x.startswith("# TYPE ")]
        assert types and set(types) <= set(out.splitlines()), (out, text)


def test_http_errors_and_limits():
    with Sink() as sink, _relay(sink) as relay:
        port = relay.metrics_port
        for req, status in [
                (b"POST /metrics HTTP/1.1\r\n\r\n", b"405"),
                (b"GET /other HTTP/1.1\r\n\r\n", b"404"),
                (b"GET /metrics HTTP/2\r\n\r\n", b"400"),
                (b"EHLO client.test\r\n", b"400"),
                (b"\r\n", b"400"),
                (b"G" * 5000, b"400")]:
            got = clients.send_until_close(port, req)
            assert got.startswith(b"HTTP/1.0 " + status + b" "), (req, got)
        # a client that sends nothing is closed, and the relay is fine
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.settimeout(30)
        assert s.recv(100) == b""
        s.close()
        got = clients.send_until_close(port,
                                       b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        assert got.startswith(b"HTTP/1.0 200 OK"), got
        # SMTP is not spoken there, and the SMTP listener is unharmed
        assert clients.send(relay.port, "a@client.test",
                            ["b@dest.test"])[0] == 250


def test_metrics_listener_config():
    for text, err in [
            ("listen on 127.0.0.1 metrics\n", "metrics needs a port"),
            ("listen on 127.0.0.1 port 9465 metrics max-sessions 3\n",
             "metrics takes no other option"),
            ('listen on 127.0.0.1 port 9465 metrics proxy-protocol '
             '{ "::1" }\n', "metrics takes no other option")]:
        rc, out = smtpd_check(text)
        assert rc != 0 and err in out, (text, out)
