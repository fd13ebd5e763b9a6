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
            # a refused client is greeted, then refused (spec 2.3)
            assert raw.greeting[0] == 220, raw.greeting
            raw.ehlo()
            code, texts = raw.cmd("MAIL FROM:<a@client.test>")
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


def _lines(lines, stage, what):
    """Every field list after `what` of one stage, in order."""
    return ["\t".join(l.split("\t")[2:]) for l in lines
            if l.split("\t")[0] == stage and l.split("\t")[1] == what]


def _stages(lines):
    """The stage names in the order they first appear."""
    seen = []
    for line in lines:
        s = line.split("\t")[0]
        if s not in seen:
            seen.append(s)
    return seen


def test_srv_features_stage():
    with Relay(start=False) as relay:
        rc, out = relay.makemap("access", "Srv_Features:192.0.2 S P v\n"
                                "Srv_Features:198.51.100 temp\n"
                                "Srv_Features:203.0.113 A l D X\n")
        assert rc == 0, out
        lines = _explain(relay, "addr", "192.0.2.5", "verify", "OK",
                         "bits", "256", "from", "a@b.test")
        assert _stages(lines) == ["database", "Connect", "Srv_Features",
                                  "Client limits",
                                  "TLS_Clt", "TLS_Clt at MAIL",
                                  "From <a@b.test>", "verdict"], lines
        assert not any("srv_features" in k
                       for k in _probes(lines, "Connect")), lines
        assert _probes(lines, "Srv_Features") == [
            "srv_features:[192.0.2.5]", "srv_features:[192.0.2]",
            "srv_features:[192.0]", "srv_features:[192]",
            "srv_features:192.0.2.5", "srv_features:192.0.2"], lines
        assert _field(lines, "Srv_Features", "match") == \
            "access\tsrv_features:192.0.2\tS P v", lines
        assert _field(lines, "Srv_Features", "features") == \
            "STARTTLS off, PIPELINING off, client certificate requested"
        # no STARTTLS offered: the client's verify cannot happen
        assert _field(lines, "TLS_Clt", "skipped") == \
            "Srv_Features S: STARTTLS is not offered, so ${verify} " \
            "stays empty", lines
        assert _field(lines, "TLS_Clt at MAIL", "facts").startswith(
            "verify= cipher_bits=0 "), lines

        lines = _explain(relay, "addr", "203.0.113.4", "from", "a@b.test")
        assert _field(lines, "Srv_Features", "features") == \
            "AUTH off, AUTH required before MAIL, DSN off, " \
            "EXPN and VRFY off", lines
        assert _field(lines, "From <a@b.test>", "reply") == \
            "530 5.7.0 Authentication required", lines
        assert lines[-1] == "verdict\trejected at MAIL: 530 5.7.0 " \
            "Authentication required", lines
        lines = _explain(relay, "addr", "203.0.113.4", "auth-mech", "PLAIN",
                         "from", "a@b.test")
        assert _field(lines, "From <a@b.test>", "reply") == "250 2.1.0 Ok"

        lines = _explain(relay, "addr", "198.51.100.1", "from", "a@b.test")
        assert _field(lines, "Connect", "reply") == \
            "220 relay.test ESMTP ready", lines
        assert _field(lines, "Srv_Features", "reply") == \
            "450 4.3.0 Please try again later.", lines
        assert "From <a@b.test>" not in _stages(lines), lines
        assert lines[-1] == "verdict\tdeferred by Srv_Features: " \
            "450 4.3.0 Please try again later.", lines

        lines = _explain(relay, "addr", "192.0.2.99", "name", "mx.b.test")
        assert _probes(lines, "Srv_Features")[0] == \
            "srv_features:mx.b.test", lines


def test_tls_clt_stages():
    with Relay(start=False) as relay:
        rc, out = relay.makemap("access",
                                "TLS_Clt:client.example VERIFY:128\n"
                                "TLS_Clt:10.9 PERM+VERIFY+CN:mx.client.test\n")
        assert rc == 0, out
        lines = _explain(relay, "addr", "192.0.2.7", "name",
                         "mail.client.example", "verify", "no", "from",
                         "a@b.test")
        assert _probes(lines, "TLS_Clt") == [
            "tls_clt:mail.client.example", "tls_clt:client.example"], lines
        assert _field(lines, "TLS_Clt", "facts").startswith(
            "verify=NO cipher_bits=0 "), lines
        assert _field(lines, "TLS_Clt", "match") == \
            "access\ttls_clt:client.example\tVERIFY:128", lines
        assert _field(lines, "TLS_Clt", "reply") == \
            "403 4.7.0 not authenticated", lines
        assert "From <a@b.test>" not in _stages(lines), lines
        assert lines[-1] == "verdict\tdeferred by TLS_Clt after STARTTLS: " \
            "403 4.7.0 not authenticated", lines

        # no STARTTLS: TLS_Clt still runs first at MAIL, with verify empty
        lines = _explain(relay, "addr", "192.0.2.7", "name",
                         "mail.client.example", "from", "a@b.test")
        assert "TLS_Clt" not in _stages(lines), lines
        assert _probes(lines, "TLS_Clt at MAIL") == [
            "tls_clt:mail.client.example", "tls_clt:client.example"], lines
        assert _field(lines, "TLS_Clt at MAIL", "reply") == \
            "403 4.7.0 authentication required", lines
        assert _probes(lines, "From <a@b.test>") == [], lines
        assert lines[-1] == "verdict\tdeferred at MAIL by TLS_Clt: " \
            "403 4.7.0 authentication required", lines

        lines = _explain(relay, "addr", "192.0.2.7", "name",
                         "mail.client.example", "verify", "OK", "bits",
                         "256", "from", "a@b.test")
        assert _field(lines, "TLS_Clt", "result") == \
            "accepted: the session goes on", lines
        assert _field(lines, "TLS_Clt at MAIL", "result") == "accepted"
        assert _field(lines, "From <a@b.test>", "reply") == "250 2.1.0 Ok"
        assert lines[-1] == "verdict\taccepted", lines

        lines = _explain(relay, "addr", "10.9.1.1", "verify", "OK", "cn",
                         "other.test")
        assert _probes(lines, "TLS_Clt")[-1] == "tls_clt:10.9", lines
        assert _field(lines, "TLS_Clt", "reply") == \
            "503 5.7.0 CN other.test does not match mx.client.test", lines
        assert lines[-1] == "verdict\trejected by TLS_Clt after STARTTLS: " \
            "503 5.7.0 CN other.test does not match mx.client.test", lines


# spec 5.4: an issuer DN with spaces and parentheses, then SUBJECT
ISSUER = ("/C=US/ST=California/O=endmail.org/OU=private/CN=Darth Mail "
          "(Cert)/emailAddress=darth+cert@endmail.org")
SUBJECT = ("/C=US/ST=California/O=endmail.org/OU=private/CN=DeathStar/"
           "emailAddress=deathstar@endmail.org")
ISSUER_KEY = ("certissuer:/c=us/st=california/o=endmail.org/ou=private/"
              "cn=darth+20mail+20+28cert+29/emailaddress=darth+2bcert@"
              "endmail.org")
SUBJECT_KEY = ("certsubject:/c=us/st=california/o=endmail.org/ou=private/"
               "cn=deathstar/emailaddress=deathstar@endmail.org")


def test_certissuer_subject_chain():
    with Relay(start=False) as relay:
        rc, out = relay.makemap("access", "CERTISSUER:/C=US/ST=California/"
                                "O=endmail.org/OU=private/CN=Darth+20Mail+20"
                                "+28Cert+29/emailAddress=darth+2Bcert@"
                                "endmail.org SUBJECT\n"
                                "CERTSUBJECT:" + SUBJECT + " RELAY\n")
        assert rc == 0, out
        lines = _explain(relay, "addr", "192.0.2.9", "verify", "OK",
                         "cert-issuer", "issuer=" + ISSUER, "cert-subject",
                         SUBJECT, "rcpt", "x@far.test")
        facts = _field(lines, "TLS_Clt", "facts")
        assert "cert_issuer=/C=US/ST=California/O=endmail.org/OU=private/" \
            "CN=Darth+20Mail+20+28Cert+29/emailAddress=darth+2Bcert@" \
            "endmail.org" in facts, facts
        stage = "To <x@far.test>"
        assert _probes(lines, stage) == _pairs(
            "To:x@far.test", "To:far.test", "To:test") + [
            ISSUER_KEY, SUBJECT_KEY], lines
        assert "RelayTLS: CERTISSUER of a verified certificate" in \
            _lines(lines, stage, "step"), lines
        assert _field(lines, stage, "match") == \
            "access\t%s\tRELAY" % SUBJECT_KEY, lines
        assert _field(lines, stage, "relay") == \
            "the client's verified certificate may relay (%s)" % \
            SUBJECT_KEY, lines
        assert _field(lines, stage, "reply") == "250 2.1.5 Ok", lines

        # an unverified certificate grants nothing: no CERTISSUER probe
        lines = _explain(relay, "addr", "192.0.2.9", "verify", "FAIL",
                         "cert-issuer", ISSUER, "rcpt", "x@far.test")
        assert not [k for k in _probes(lines, stage)
                    if k.startswith("cert")], lines
        assert _field(lines, stage, "reply") == \
            "550 5.7.1 <x@far.test>... Relaying denied", lines


def test_try_tls_no_and_tls_srv():
    with Relay(start=False) as relay:
        lines = _explain(relay, "server", "mx1.secure.example",
                         "server-addr", "198.51.100.7", "server-verify", "OK")
        # spec 1.5: no untagged probes, then the bare tag
        assert _probes(lines, "TLS_Srv") == [
            "tls_srv:mx1.secure.example", "tls_srv:secure.example",
            "tls_srv:example", "tls_srv:198.51.100.7", "tls_srv:198.51.100",
            "tls_srv:198.51", "tls_srv:198", "tls_srv:"], lines
        assert lines[-1] == "verdict\tto mx1.secure.example " \
            "[198.51.100.7]: the connection may be used", lines

        rc, out = relay.makemap("access", "Try_TLS:broken.example NO\n"
                                "TLS_Srv:secure.example VERIFY\n"
                                "TLS_Srv: VERIFY\n")
        assert rc == 0, out
        lines = _explain(relay, "server", "mx.broken.example", "server-addr",
                         "198.51.100.9", "server-verify", "OK", "rcpt",
                         "a@b.test")
        assert _stages(lines) == ["database", "Try_TLS", "TLS_Srv",
                                  "verdict"], lines
        assert _probes(lines, "Try_TLS") == [
            "try_tls:mx.broken.example", "try_tls:broken.example"], lines
        assert _field(lines, "Try_TLS", "reply") == \
            "550 5.7.1 do not try TLS with mx.broken.example " \
            "[198.51.100.9]", lines
        assert _field(lines, "Try_TLS", "result") == \
            "STARTTLS is not sent: ${verify} is NONE (server-verify is " \
            "not used)", lines
        assert _field(lines, "TLS_Srv", "match") == \
            "access\ttls_srv:\tVERIFY", lines
        assert _field(lines, "TLS_Srv", "reply") == \
            "403 4.7.0 other side does not support STARTTLS", lines

        lines = _explain(relay, "server", "mx1.secure.example",
                         "server-addr", "198.51.100.7", "server-verify", "NO",
                         "rcpt", "a@b.test")
        assert _field(lines, "Try_TLS", "result") == "STARTTLS is sent"
        assert _probes(lines, "TLS_Srv") == [
            "tls_srv:mx1.secure.example", "tls_srv:secure.example"], lines
        assert _field(lines, "TLS_Srv", "reply") == \
            "403 4.7.0 not authenticated", lines
        assert _field(lines, "TLS_Srv", "result") == \
            "QUIT is sent; every recipient of the connection is deferred"
        assert "TLS_Rcpt <a@b.test>" not in _stages(lines), lines
        assert lines[-1] == "verdict\tto mx1.secure.example " \
            "[198.51.100.7]: refused by TLS_Srv: 403 4.7.0 not " \
            "authenticated: every recipient deferred", lines


def test_tls_rcpt_encryption_too_weak():
    with Relay(start=False) as relay:
        rc, out = relay.makemap("access", "TLS_Rcpt:strong.example ENCR:256\n"
                                "TLS_Rcpt:boss@ PERM+VERIFY\n")
        assert rc == 0, out
        lines = _explain(relay, "addr", "127.0.0.1", "from", "a@b.test",
                         "rcpt", "a@strong.example", "rcpt", "b@other.test",
                         "rcpt", "boss@other.test", "server", "mx.example",
                         "server-addr", "192.0.2.25", "server-verify", "FAIL",
                         "server-bits", "128")
        stage = "TLS_Rcpt <a@strong.example>"
        assert _probes(lines, stage) == [
            "tls_rcpt:a@strong.example", "tls_rcpt:a@",
            "tls_rcpt:strong.example"], lines
        assert _field(lines, stage, "reply") == \
            "403 4.7.0 encryption too weak 128 less than 256", lines
        assert _field(lines, stage, "result") == \
            "not sent over this connection: the recipient is tried at " \
            "the next MX host, and deferred if none takes it"
        assert _probes(lines, "TLS_Rcpt <b@other.test>") == [
            "tls_rcpt:b@other.test", "tls_rcpt:b@", "tls_rcpt:other.test",
            "tls_rcpt:test", "tls_rcpt:"], lines
        assert _field(lines, "TLS_Rcpt <b@other.test>", "result") == \
            "RCPT TO is sent", lines
        assert _field(lines, "TLS_Rcpt <boss@other.test>", "reply") == \
            "503 5.7.0 authentication failed", lines
        assert lines[-1] == "verdict\taccepted for 3 of 3 recipients; to " \
            "mx.example [192.0.2.25]: 1 of 3 recipients sent (last: " \
            "<boss@other.test> bounced: 503 5.7.0 authentication failed)", \
            lines


def test_bad_tls_input():
    with Relay(start=False) as relay:
        base = ["addr", "192.0.2.1"]
        out = ["server-addr", "192.0.2.25"]
        for args, why in (
                (base + ["verify", "MAYBE"],
                 "verify MAYBE: not a ${verify} value of this side "
                 "(expected OK, NO, NOT, FAIL)"),
                (base + ["verify", "NONE"], "verify NONE: not a ${verify}"),
                (out + ["server-verify", "YES"],
                 "server-verify YES: not a ${verify} value"),
                (base + ["verify", "OK", "cert-subject", "/CN=" + "a" * 300],
                 "cert-subject: DN longer than 255 octets"),
                (base + ["verify", "OK", "cert-issuer", "/CN=" + " " * 100],
                 "cert-issuer: +XX encoded it is 304 octets, more than the "
                 "255 a policy query carries"),
                (base + ["verify", "OK", "cert-issuer", "C=US, O=Example"],
                 "cert-issuer C=US, O=Example: not a DN in the classic form"),
                (base + ["verify", "OK", "cn", "x" * 255],
                 "cn: 255 octets or more"),
                (base + ["verify", "NO", "cn", "x"],
                 "verify NO: no certificate was presented"),
                (base + ["bits", "256"], "bits, cn, cert-subject and "
                 "cert-issuer describe a TLS session: give verify too"),
                (base + ["verify", "OK", "bits", "lots"],
                 "bits lots: not a number of bits"),
                (base + ["auth-mech", "PL AIN"], "auth-mech PL AIN: not a "
                 "SASL mechanism name"),
                (base + ["server", "mx.example"],
                 "the next hop needs server-addr"),
                (out + ["server", "bad name"], "next hop: bad client name"),
                (["from", "a@b"] + out, "the client needs addr")):
            r = relay.smtpctl_run("explain", *args)
            assert r.returncode == 1 and r.stdout == b"", (args, r)
            assert r.stderr.decode().startswith("smtpctl: explain: " + why), \
                (args, r.stderr)
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
