"""smtpctl show metrics: every process's counters and gauges in the
Prometheus text format, read back by the real parser of Debian's
python3-prometheus-client: one TYPE per family, counters as _total,
gauges as levels, a label per process and per tlsproxy instance."""
import os
import subprocess

from lib import Skip, clients
from lib.certs import TestCA, client_context, relay_tls_extra, starttls
from lib.daemon import Relay
from lib.sink import Sink
from lib import free_port

PARSER = """
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    out[fam.name] = [fam.type, [[s.name, s.labels, s.value]
                                for s in fam.samples]]
print(json.dumps(out))
"""


def _parse(text):
    if not os.path.exists("/usr/lib/python3/dist-packages/prometheus_client"):
        raise Skip("python3-prometheus-client not installed "
                   "(run tools/deps.sh)")
    r = subprocess.run(["/usr/bin/python3", "-c", PARSER],
                       input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    import json
    return json.loads(r.stdout)


def test_show_metrics_is_prometheus_text():
    ca = TestCA()
    cert = ca.issue("relay.test")
    port = free_port()
    with Sink() as sink, Relay(sink=sink, conf={"tls processes": "2"},
                               extra=relay_tls_extra(ca, cert,
                                                     port)) as relay:
        for i in (0, 1):
            relay.wait_for_log(r"tlsproxy\[%d\]: certificates loaded: "
                               r"[1-9]" % i, timeout=20)
        for _ in range(2):
            clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        with clients.Raw(port) as raw:
            raw.ehlo()
            starttls(raw, client_context(ca))
            raw.ehlo()
            # a session open while the metrics are read: a gauge of 1
            rc, text = relay.smtpctl("show", "metrics")
        assert rc == 0, text
        sink.wait_for(2)
        fams = _parse(text)
        kind, samples = fams["smtpd_queue_message_committed"]
        assert kind == "counter", fams["smtpd_queue_message_committed"]
        assert samples == [["smtpd_queue_message_committed_total",
                            {"process": "queue"}, 2.0]], samples
        kind, samples = fams["smtpd_smtp_session_active"]
        assert kind == "gauge" and samples[0][2] == 1.0, samples
        kind, samples = fams["smtpd_queue_spool_free_mb"]
        assert kind == "gauge" and samples[0][2] > 0, samples
        # the two tlsproxy instances: one family, one sample each that
        # has counted anything, told apart by instance
        kind, samples = fams["smtpd_tls_handshake_ok"]
        assert kind == "counter", kind
        assert {s[1]["process"] for s in samples} == {"tlsproxy"}, samples
        assert all(s[1]["instance"] in ("0", "1") for s in samples), samples
        assert sum(s[2] for s in samples) == 1.0, samples
        # a counter every process keeps is one family with a sample each
        procs = {s[1]["process"] for f in fams.values() for s in f[1]}
        assert {"smtp", "queue", "mta", "policyd"} <= procs, procs
        # the text groups each family under exactly one TYPE line
        types = [line.split()[2] for line in text.splitlines()
                 if line.startswith("# TYPE ")]
        assert len(types) == len(set(types)) == len(fams), types
