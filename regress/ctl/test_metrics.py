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


def _samples(fams, family, suffix=""):
    kind, samples = fams[family]
    return kind, [s for s in samples if s[0] == family + suffix]


def test_show_metrics_labels_and_histograms():
    """Per-listener sessions, TLS failures by ${verify}, envelopes by
    state, decisions by verdict, and latency histograms whose buckets
    add up; "show stats" shows the same samples as name[label]."""
    ca = TestCA()
    cert = ca.issue("relay.test")
    port = free_port()
    with Sink() as sink, Relay(sink=sink, extra=relay_tls_extra(
            ca, cert, port)) as relay:
        relay.wait_for_log(r"certificates loaded: [1-9]", timeout=20)
        for _ in range(3):
            clients.send(relay.port, "alice@client.test", ["bob@dest.test"])
        clients.send(port, "alice@client.test", ["bob@dest.test"])
        with clients.Raw(port) as raw:
            raw.ehlo()
            code, _ = raw.cmd("STARTTLS")
            assert code == 220, code
            raw.send(b"this is not a ClientHello\r\n" * 4)
            try:
                raw.reply(timeout=5)
            except Exception:
                pass
        sink.wait_for(4)
        relay.wait_for_log(r"not a TLS ClientHello", timeout=10)
        relay.wait_queue_empty()
        rc, text = relay.smtpctl("show", "metrics")
        assert rc == 0, text
        fams = _parse(text)

        kind, samples = fams["smtpd_smtp_listener_session"]
        assert kind == "counter", kind
        by = {s[1]["listener"]: s[2] for s in samples}
        # the fixture's readiness probe is a session too
        assert by.get("127.0.0.1:%d" % relay.port, 0) >= 3.0, by
        assert by.get("127.0.0.1:%d" % port) == 2.0, by
        kind, samples = fams["smtpd_smtp_listener_active"]
        assert kind == "gauge" and all(s[2] == 0 for s in samples), samples

        kind, samples = fams["smtpd_tls_server_failed"]
        assert kind == "counter", kind
        assert [(s[1]["verify"], s[2]) for s in samples] == \
            [("PROTOCOL", 1.0)], samples

        kind, samples = fams["smtpd_queue_envelope_state"]
        assert kind == "gauge", kind
        states = {s[1]["state"]: s[2] for s in samples}
        assert set(states) == {"pending", "inflight", "held",
                               "quarantined", "resolving"}, states
        assert all(v == 0 for v in states.values()), states

        kind, samples = fams["smtpd_policy_decision"]
        assert kind == "counter", kind
        verdicts = {s[1]["verdict"]: s[2] for s in samples}
        assert verdicts.get("accept", 0) >= 4, verdicts

        for fam, n in (("smtpd_queue_commit_seconds", 4),
                       ("smtpd_queue_delivery_delay_seconds", 4),
                       ("smtpd_mta_batch_seconds", None)):
            kind, buckets = _samples(fams, fam, "_bucket")
            assert kind == "histogram", (fam, kind)
            _, count = _samples(fams, fam, "_count")
            _, total = _samples(fams, fam, "_sum")
            les = [b[1]["le"] for b in buckets]
            assert les[-1] == "+Inf" and len(les) == 14, les
            values = [b[2] for b in buckets]
            assert values == sorted(values), values
            assert values[-1] == count[0][2] and total[0][2] >= 0, \
                (fam, buckets, count, total)
            if n is not None:
                assert count[0][2] == n, (fam, count)
            else:
                assert count[0][2] >= 1, (fam, count)

        stats = relay.stats()
        assert stats.get("smtp.listener.session[127.0.0.1:%d]" % port) \
            == "2", stats
        assert stats.get("queue.commit.seconds.le[+Inf]") == "4", stats
        assert stats.get("queue.commit.seconds.count") == "4", stats
        assert stats.get("policy.decision[accept]") is not None, stats
