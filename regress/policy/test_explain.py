"""smtpctl explain: the probe sequences of the spec's worked examples
(/work/shared/spec/sendmail-policy.md 1.5), the entry that decided, the
reply exactly as the running daemon sends it, and the verdict line;
with and without the daemon."""
from lib import clients
from lib.daemon import Relay
from lib.sink import Sink


def _explain(relay, *args):
    rc, out = relay.smtpctl("explain", *args)
    assert rc == 0, (rc, out)
    return out.splitlines()


def _probes(lines, stage, tagged_only=False):
    """Keys probed in the access map at one stage, in order."""
    keys = []
    for line in lines:
        f = line.split("\t")
        if f[0] == stage and f[1] == "probe" and f[2] == "access":
            keys.append(f[3])
    return keys


def _field(lines, stage, what):
    for line in lines:
        f = line.split("\t")
        if f[0] == stage and f[1] == what:
            return "\t".join(f[2:])
    return None


def _pairs(*keys):
    out = []
    for k in keys:
        out += [k.lower(), k.split(":", 1)[1]]
    return out


def test_worked_examples_connect_and_mail():
    with Relay(start=False) as relay:
        lines = _explain(relay, "addr", "192.0.2.10", "name",
                         "mail.sub.example.com", "from",
                         "joe+list@mail.example.org")
        assert _probes(lines, "Connect") == _pairs(
            "Connect:mail.sub.example.com", "Connect:sub.example.com",
            "Connect:example.com", "Connect:com", "Connect:192.0.2.10",
            "Connect:192.0.2", "Connect:192.0", "Connect:192"), lines
        assert _field(lines, "Connect", "reply") == \
            "220 relay.test ESMTP ready"
        assert _probes(lines, "From <joe+list@mail.example.org>") == _pairs(
            "From:joe+list@mail.example.org", "From:joe+*@mail.example.org",
            "From:joe@mail.example.org", "From:joe+list@", "From:joe+*@",
            "From:joe@", "From:mail.example.org", "From:example.org",
            "From:org"), lines
        assert lines[-1] == "verdict\taccepted", lines

        lines = _explain(relay, "addr", "192.0.2.10")
        assert _probes(lines, "Connect") == _pairs(
            "Connect:[192.0.2.10]", "Connect:[192.0.2]", "Connect:[192.0]",
            "Connect:[192]", "Connect:192.0.2.10", "Connect:192.0.2",
            "Connect:192.0", "Connect:192"), lines

        lines = _explain(relay, "addr", "2001:db8::5")
        probes = _probes(lines, "Connect")
        tagged = [k for k in probes if k.startswith("connect:")]
        assert tagged[0] == "connect:[ipv6:2001:db8:0:0:0:0:0:5]", probes
        assert "connect:[ipv6:2001]" in tagged, probes
        assert tagged[tagged.index("connect:[ipv6:2001]") + 1] == \
            "connect:[ipv6]", probes
        assert "connect:ipv6:2001:db8:0:0:0:0:0:5" in tagged, probes
        assert tagged[-1] == "connect:ipv6", probes


def test_first_hit_decides_and_reply_matches_daemon():
    with Sink() as sink, Relay(sink=sink, start=False) as relay:
        rc, out = relay.makemap("access", "Connect:example.com OK\n"
                                "Connect:192.0.2 REJECT\n"
                                "Connect:127.0.0 REJECT\n"
                                "From:spam.test ERROR:5.7.1:550 Go away\n"
                                "To:partner.test RELAY\n")
        assert rc == 0, out
        lines = _explain(relay, "addr", "192.0.2.10", "name",
                         "mail.sub.example.com")
        assert _probes(lines, "Connect")[-1] == "connect:example.com"
        assert _field(lines, "Connect", "match") == \
            "access\tconnect:example.com\tOK", lines
        lines = _explain(relay, "addr", "192.0.2.10")
        assert _field(lines, "Connect", "match") == \
            "access\tconnect:192.0.2\tREJECT", lines
        assert _field(lines, "Connect", "reply") == "550 5.7.1 Access denied"
        assert lines[-1] == \
            "verdict\trejected at connect: 550 5.7.1 Access denied", lines

        lines = _explain(relay, "addr", "127.0.0.1")
        explained = _field(lines, "Connect", "reply")
        relay.start()
        with clients.Raw(relay.port) as raw:
            code, texts = raw.greeting
        assert explained == "%d %s" % (code, texts[0]), (explained, code,
                                                         texts)
        rc, out = relay.smtpctl("access", "delete", "Connect:127.0.0")
        assert rc == 0, out
        lines = _explain(relay, "addr", "127.0.0.2", "from",
                         "x@spam.test")
        explained = _field(lines, "From <x@spam.test>", "reply")
        assert explained == "550 5.7.1 <x@spam.test>... Go away", lines
        with clients.Raw(relay.port) as raw:
            raw.ehlo()
            code, texts = raw.cmd("MAIL FROM:<x@spam.test>")
        assert explained == "%d %s" % (code, texts[0]), (explained, code,
                                                         texts)


def test_rcpt_relay_decision():
    with Relay(start=False) as relay:
        rc, out = relay.makemap("access", "To:partner.test RELAY\n"
                                "Connect:10.1 RELAY\n")
        assert rc == 0, out
        lines = _explain(relay, "addr", "192.0.2.9", "from", "a@b.test",
                         "rcpt", "x@partner.test", "rcpt", "y@other.test",
                         "rcpt", "postmaster@relay.test")
        assert _field(lines, "To <x@partner.test>", "relay").startswith(
            "the domain may be relayed to (to:partner.test)"), lines
        assert _field(lines, "To <y@other.test>", "reply") == \
            "550 5.7.1 <y@other.test>... Relaying denied", lines
        steps = [l.split("\t")[2] for l in lines
                 if l.startswith("To <y@other.test>\tstep")]
        assert any(s.startswith("Relay_ok") for s in steps), steps
        assert _field(lines, "To <postmaster@relay.test>", "relay") == \
            "local recipient", lines
        assert lines[-1] == "verdict\taccepted for 2 of 3 recipients", lines
        lines = _explain(relay, "addr", "10.1.2.3", "rcpt", "y@other.test")
        assert _field(lines, "To <y@other.test>", "relay") == \
            "the client may relay (connect:10.1)", lines


def test_bad_input():
    with Relay(start=False) as relay:
        for args in (["addr", "not-an-address"],
                     ["addr", "192.0.2.1", "name", "bad name"],
                     ["addr", "192.0.2.1", "rcpt", "<a@b>c"]):
            r = relay.smtpctl_run("explain", *args)
            assert r.returncode == 1 and r.stdout == b"", (args, r)
            assert r.stderr.startswith(b"smtpctl: explain:"), r.stderr
        for args in ([], ["name", "x"], ["addr"], ["addr", "1.2.3.4", "to"],
                     ["addr", "1.2.3.4", "bogus", "x"]):
            assert relay.smtpctl_run("explain", *args).returncode == 2, args


def test_client_resolve_refuses_relaying():
    # Relay_ok step 6: the outcome of the name lookup, after the address
    with Relay(start=False) as relay:
        rc, out = relay.makemap("access", "Connect:192.0.2.77 RELAY\n"
                                          "Connect:example.net RELAY\n")
        assert rc == 0, out
        want = {
            "TEMP": "450 4.4.0 <a@far.example>... Relaying temporarily "
                    "denied. Cannot resolve PTR record for 192.0.2.9",
            "FORGED": "550 5.7.1 <a@far.example>... Relaying denied. IP "
                      "name possibly forged [192.0.2.9]",
            "FAIL": "550 5.7.1 <a@far.example>... Relaying denied. IP name "
                    "lookup failed [192.0.2.9]",
        }
        for word, reply in want.items():
            lines = _explain(relay, "addr", "192.0.2.9", "rcpt",
                             "a@far.example", "resolve", word)
            assert _field(lines, "To <a@far.example>", "reply") == reply, \
                (word, lines)
        lines = _explain(relay, "addr", "192.0.2.77", "rcpt",
                         "a@far.example", "resolve", "FAIL")
        assert _field(lines, "To <a@far.example>", "relay") != "refused", \
            lines
        lines = _explain(relay, "addr", "192.0.2.9", "name", "h.example.net",
                         "rcpt", "a@far.example", "resolve", "OK")
        assert _field(lines, "To <a@far.example>", "relay") != "refused", \
            lines
        r = relay.smtpctl_run("explain", "addr", "192.0.2.9", "resolve",
                              "MAYBE")
        assert r.returncode != 0 and b"resolve is OK, FAIL, FORGED or " \
            b"TEMP" in r.stderr, (r.returncode, r.stderr)
