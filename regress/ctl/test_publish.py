"""smtpctl tlsa and smtpctl mta-sts: the DANE TLSA records of our
certificates (3 1 1 for the key, 2 1 1 for each issuer in the file) and
the MTA-STS policy with its TXT records, as the admin publishes them;
certificate files only are read, and a bad one is a clear error."""
import os
import re
import subprocess
import tempfile

from lib import BIN, test_dir
from lib.certs import TestCA, spki_sha256


def _conf(lines):
    path = os.path.join(test_dir("publish"), "smtpd.conf")
    with open(path, "w") as f:
        f.write('hostname "mx.relay.test"\n' + "\n".join(lines) + "\n")
    return path


def _smtpctl(conf, *args):
    r = subprocess.run([os.path.join(BIN, "smtpctl"), "-f", conf] +
                       list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def _records(out):
    return re.findall(r"^(\S+) IN TLSA (\d) 1 1 ([0-9a-f]{64})$", out, re.M)


def test_tlsa_records_of_each_pki_and_its_chain():
    ca = TestCA()
    mx = ca.issue("mx.relay.test")
    other = ca.issue("other.test")
    conf = _conf(['pki mx.relay.test cert "%s" key "%s"' % (mx.chain,
                                                            mx.key),
                  'pki bench cert "%s" key "%s"' % (other.cert,
                                                    other.key)])
    rc, out, err = _smtpctl(conf, "tlsa")
    assert rc == 0, (out, err)
    # the chain file: the key's record, then the CA's; a pki whose name
    # is no host name stands for the hostname
    assert _records(out) == [
        ("_25._tcp.mx.relay.test.", "3", spki_sha256(mx.cert)),
        ("_25._tcp.mx.relay.test.", "2", spki_sha256(ca.cert)),
        ("_25._tcp.mx.relay.test.", "3", spki_sha256(other.cert))], out
    assert "; issuer: /O=Regress/CN=Regress Test CA" in out, out
    rc, out, err = _smtpctl(conf, "tlsa", "bench")
    assert rc == 0 and len(_records(out)) == 1, (out, err)
    # the key files are never read: one nobody can read changes nothing
    os.chmod(mx.key, 0)
    assert _smtpctl(conf, "tlsa", "mx.relay.test")[0] == 0


def test_tlsa_errors_are_clear():
    ca = TestCA()
    mx = ca.issue("mx.relay.test")
    junk = os.path.join(test_dir("publish"), "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    conf = _conf(['pki mx.relay.test cert "%s" key "%s"' % (junk, mx.key),
                  'pki gone.test cert "/nonexistent/c.pem" key "%s"'
                  % mx.key])
    rc, out, err = _smtpctl(conf, "tlsa", "mx.relay.test")
    assert rc == 1 and "no PEM certificate in %s" % junk in err, (out, err)
    rc, out, err = _smtpctl(conf, "tlsa", "gone.test")
    assert rc == 1 and "/nonexistent/c.pem: No such file" in err, err
    rc, out, err = _smtpctl(conf, "tlsa", "nosuch")
    assert rc == 1 and "no pki nosuch in the config" in err, err
    rc, out, err = _smtpctl(_conf([]), "tlsa")
    assert rc == 1 and "no pki in the config" in err, err
    assert _smtpctl(conf, "tlsa", "a", "b")[0] == 2


def test_mta_sts_policy_and_records():
    ca = TestCA()
    mx = ca.issue("mx.relay.test")
    conf = _conf(['pki mx.relay.test cert "%s" key "%s"' % (mx.chain,
                                                            mx.key),
                  'pki bench cert "%s" key "%s"' % (mx.cert, mx.key)])
    rc, out, err = _smtpctl(conf, "mta-sts", "relay.test")
    assert rc == 0, (out, err)
    assert re.search(r'^_mta-sts\.relay\.test\. IN TXT "v=STSv1; '
                     r'id=\d{14}"$', out, re.M), out
    assert ('_smtp._tls.relay.test. IN TXT "v=TLSRPTv1; '
            'rua=mailto:postmaster@relay.test"') in out, out
    policy = [x for x in out.splitlines() if not x.startswith(("; ", "_"))]
    # one mx line per host: both pkis stand for mx.relay.test
    assert policy == ["version: STSv1", "mode: testing",
                      "mx: mx.relay.test", "max_age: 604800"], out
    rc, out, err = _smtpctl(conf, "mta-sts", "relay.test", "enforce")
    assert rc == 0 and "mode: enforce" in out, (out, err)
    assert _smtpctl(conf, "mta-sts", "relay.test", "none")[0] == 2
    rc, out, err = _smtpctl(conf, "mta-sts", "bad_domain!")
    assert rc == 1 and "is not a domain name" in err, err
    rc, out, err = _smtpctl(_conf([]), "mta-sts", "relay.test")
    assert rc == 1 and "senders could not verify this host" in err, err


UNBOUND_HOST = "/usr/bin/unbound-host"


def _validate(dns, name, qtype="TLSA"):
    """unbound-host's answer for name, validated from dns's anchor."""
    # not in the fixture directory: libunbound's config reader expands a
    # file name with glob(3), and the runner's directory names have a "~"
    fd, conf = tempfile.mkstemp(prefix="regress-unbound-", suffix=".conf")
    try:
        with os.fdopen(fd, "w") as f:
            f.write("server:\n  do-not-query-localhost: no\n"
                    "forward-zone:\n  name: \".\"\n"
                    "  forward-addr: 127.0.0.1@%d\n" % dns.port)
        r = subprocess.run([UNBOUND_HOST, "-C", conf, "-f", dns.anchor,
                            "-v", "-t", qtype, name], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
    finally:
        os.unlink(conf)
    assert r.returncode == 0, (r.returncode, r.stdout)
    return r.stdout.decode()


def test_tlsa_record_validates_in_a_signed_zone():
    """What smtpctl tlsa prints is a zone file line a real signer (ldns)
    and a real validator (unbound-host) take: in a signed zone it is
    secure and carries our key's digest; the same record in an unsigned
    zone is insecure and in one with expired signatures bogus, the three
    cases of RFC 7672 2.2 that the DANE tests rely on."""
    from lib.dnssec import SignedDns
    if not os.access(UNBOUND_HOST, os.X_OK):
        from lib import Skip
        raise Skip("unbound-host not installed (run tools/deps.sh)")
    ca = TestCA()
    certs = {z: ca.issue("mx.%s.example" % z)
             for z in ("secure", "plain", "broken")}
    with SignedDns() as dns:
        for z, cert in certs.items():
            conf = _conf(['pki %s cert "%s" key "%s"' % (cert.name,
                                                         cert.cert,
                                                         cert.key)])
            rc, out, err = _smtpctl(conf, "tlsa")
            assert rc == 0, err
            records = [x for x in out.splitlines() if " IN TLSA " in x]
            assert len(records) == 1, out
            dns.zone("%s.example" % z, ["@ MX 10 mx", "mx A 127.0.0.1"] +
                     records, signed=z != "plain", bogus=z == "broken")
        dns.start()
        out = _validate(dns, "_25._tcp.mx.secure.example")
        digest = spki_sha256(certs["secure"].cert)
        assert "(secure)" in out, out
        assert re.sub(r"\s", "", out).lower().count(digest) == 1, out
        out = _validate(dns, "_25._tcp.mx.plain.example")
        assert "(insecure)" in out, out
        out = _validate(dns, "_25._tcp.mx.broken.example")
        assert "(BOGUS (security failure))" in out, out


def _policy(text):
    path = os.path.join(test_dir("publish"), "mta-sts.txt")
    with open(path, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    return path


def test_mta_sts_check_reads_a_policy_as_a_sender_would():
    ca = TestCA()
    mx = ca.issue("mx.relay.test")
    conf = _conf(['pki mx.relay.test cert "%s" key "%s"' % (mx.cert,
                                                            mx.key)])
    # what smtpctl mta-sts prints is a policy its own check takes
    rc, out, err = _smtpctl(conf, "mta-sts", "relay.test", "enforce")
    body = "\r\n".join(x for x in out.splitlines()
                       if not x.startswith(("; ", "_"))) + "\r\n"
    rc, out, err = _smtpctl(conf, "mta-sts", "check", _policy(body))
    assert rc == 0, (out, err)
    assert "valid, mode enforce, max_age 604800 s, 1 mx pattern\n" in out
    assert "mx.relay.test: matches" in out, out
    # a wildcard is one label, no more, no less; case and a final dot
    # do not count; unknown fields are skipped; first mode wins
    path = _policy("version: STSv1\nmode: testing\nmode: enforce\n"
                   "mx: *.Relay.test\nmx: mail.other.test.\n"
                   "future_field: 1\nmax_age: 86400\n")
    rc, out, err = _smtpctl(conf, "mta-sts", "check", path, "a.relay.test",
                            "MAIL.OTHER.TEST.", "relay.test",
                            "a.b.relay.test")
    assert rc == 1, (out, err)
    assert out.splitlines() == [
        "%s: valid, mode testing, max_age 86400 s, 2 mx patterns" % path,
        "a.relay.test: matches", "MAIL.OTHER.TEST.: matches",
        "relay.test: does not match", "a.b.relay.test: does not match"], out
    # what a sender refuses
    for text, why in [
            ("mode: enforce\nmx: a.test\nmax_age: 1\n", "no version"),
            ("version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
             "the version is not STSv1"),
            ("version: STSv1\nmode: Enforce\nmx: a.test\nmax_age: 1\n",
             "mode is not enforce, testing or none"),
            ("version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx"),
            ("version: STSv1\nmode: enforce\nmx: a.test\n", "no max_age"),
            ("version: STSv1\nmode: enforce\nmx: a.test\n"
             "max_age: 31557601\n", "max_age is not a number"),
            ("version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 1\n",
             "an mx pattern is not a host name"),
            ("version: STSv1\nmode: enforce\nmx: *.*.test\nmax_age: 1\n",
             "an mx pattern is not a host name"),
            ("version: STSv1\nmode: enforce\nmax_age: 1\nmx: *." +
             ".".join(["a" * 63] * 4) + "\n",
             "an mx pattern is not a host name"),
            ("version: STSv1\nmode enforce\n", "a line without a colon"),
            (b"version: STSv1\x00\n", "a NUL octet"),
            ("version: STSv1\n" + "x: y\n" * 20000, "longer than 64 KiB")]:
        rc, out, err = _smtpctl(conf, "mta-sts", "check", _policy(text))
        assert rc == 1 and "not a valid policy: " + why in err, (text[:80],
                                                                 err)
    # mode none needs no mx
    path = _policy("version: STSv1\nmode: none\nmax_age: 0\n")
    rc, out, err = _smtpctl(conf, "mta-sts", "check", path)
    assert "valid, mode none, max_age 0 s, 0 mx patterns" in out, (out, err)
    assert rc == 1 and "mx.relay.test: does not match" in out, out
    rc, out, err = _smtpctl(conf, "mta-sts", "check", "/nonexistent/p.txt")
    assert rc == 1 and "No such file" in err, err


def _other_forms(cert, ee):
    """TLSA lines for cert beside the 3 1 1 one smtpctl printed: the whole
    certificate by SHA-256 and as it is, the key by SHA-512, a matching
    type that does not exist and a PKIX usage."""
    import hashlib
    owner = ee.split()[0]
    der = subprocess.run(["openssl", "x509", "-in", cert.cert, "-outform",
                          "DER"], check=True, stdout=subprocess.PIPE).stdout
    pub = subprocess.run(["openssl", "x509", "-in", cert.cert, "-noout",
                          "-pubkey"], check=True, stdout=subprocess.PIPE)
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                          input=pub.stdout, check=True,
                          stdout=subprocess.PIPE).stdout
    forms = [("3 0 1", hashlib.sha256(der).hexdigest()),
             ("3 1 2", hashlib.sha512(spki).hexdigest()),
             ("3 0 0", der.hex()),
             ("3 1 3", hashlib.sha256(spki).hexdigest()),
             ("1 1 1", hashlib.sha256(spki).hexdigest())]
    return ["%s IN TLSA %s %s" % (owner, f, d) for f, d in forms]


def test_tlsa_check_against_a_signed_zone():
    """smtpctl tlsa check looks the TLSA records of each host up through
    the resolver, validated from dnssec trust-anchor, and says what a
    sender doing DANE would conclude: a record of ours in a signed zone
    verifies (0), one that matches nothing or a bogus zone does not (1),
    an unsigned zone or no record means DANE does not apply (0)."""
    from lib.dnssec import SignedDns
    ca = TestCA()
    certs = {z: ca.issue("mx.%s.example" % z)
             for z in ("good", "wrong", "ta", "plain", "broken", "none")}
    other = ca.issue("other.example")
    with SignedDns() as dns:
        for z, cert in certs.items():
            conf = _conf(['pki %s cert "%s" key "%s"' % (
                cert.name, (other if z == "wrong" else cert).chain,
                cert.key)])
            rc, out, err = _smtpctl(conf, "tlsa")
            ee, ta = [x for x in out.splitlines() if " IN TLSA " in x]
            records = {"good": [ee] + _other_forms(cert, ee),
                       "wrong": [ee], "ta": [ta], "plain": [ee],
                       "broken": [ee], "none": []}[z]
            dns.zone("%s.example" % z, ["@ MX 10 mx", "mx A 127.0.0.1"] +
                     records, signed=z != "plain", bogus=z == "broken")
        dns.start()
        lines = ['resolver "127.0.0.1" port %d' % dns.port,
                 'dnssec trust-anchor "%s"' % dns.anchor]

        def check(z):
            conf = _conf(lines + ['pki %s cert "%s" key "%s"' % (
                certs[z].name, certs[z].chain, certs[z].key)])
            return _smtpctl(conf, "tlsa", "check")

        rc, out, err = check("good")
        assert rc == 0, (out, err)
        assert "_25._tcp.mx.good.example: secure\n" in out, out
        assert re.search(r"  3 1 1 [0-9a-f]{64}: DANE-EE, matches the "
                         r"certificate\n", out), out
        assert "senders that use DANE can verify this host" in out, out
        # the other selectors and matching types, and what is not used
        for form in ("3 0 1", "3 1 2", "3 0 0"):
            assert re.search(r"  %s [0-9a-f]{64}(\.\.\.)?: DANE-EE, matches "
                             r"the certificate\n" % form, out), (form, out)
        assert re.search(r"  3 1 3 [0-9a-f]+: DANE-EE, unusable", out), out
        assert re.search(r"  1 1 1 [0-9a-f]+: PKIX-EE, not used for SMTP",
                         out), out
        rc, out, err = check("ta")
        assert rc == 0 and "DANE-TA, matches an issuer in the file" in out, \
            (out, err)
        rc, out, err = check("wrong")
        assert rc == 1 and "DANE-EE, matches no certificate" in out, out
        assert "no record matches: senders that use DANE will not " \
            "deliver here" in out, out
        rc, out, err = check("plain")
        assert rc == 0 and "insecure (not signed): DANE does not apply" \
            in out, out
        rc, out, err = check("broken")
        assert rc == 1 and ": bogus (" in out, out
        rc, out, err = check("none")
        assert rc == 0 and "secure, no TLSA record: DANE does not apply" \
            in out, out
        # an anchor that cannot be read is an error, not "insecure"
        conf = _conf(['resolver "127.0.0.1" port %d' % dns.port,
                      'dnssec trust-anchor "/nonexistent/root.key"',
                      'pki %s cert "%s" key "%s"' % (
                          certs["good"].name, certs["good"].chain,
                          certs["good"].key)])
        rc, out, err = _smtpctl(conf, "tlsa", "check")
        assert rc == 1 and "dnssec trust-anchor /nonexistent/root.key" \
            in err, err
