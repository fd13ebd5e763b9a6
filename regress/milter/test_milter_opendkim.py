"""OpenDKIM (Debian 12's, regress/lib/opendkim.py) as a real filter of
the milter protocol (issue 16).

 - Protocol level: bin/unit/test_smtp_milter_proto in its live mode
   sends a message to a signing OpenDKIM on a unix socket; the
   DKIM-Signature it asks to insert (SMFIR_INSHEADER, decoded by the
   front end's code) verifies with python3-dkim, and a message changed
   after signing does not.
 - Through the relay, signing: a listener with `filter dkim` on a
   signing OpenDKIM relays a message to the sink with a DKIM-Signature
   for example.org that python3-dkim verifies with the selector's key.
 - Through the relay, verifying: a message signed by python3-dkim
   arrives at the sink with OpenDKIM's Authentication-Results, dkim=pass
   for header.d=example.org; the same message with its body changed
   after signing gets dkim=fail.  OpenDKIM looks the key up in the
   test's DNS server (dnsmasq serving the selector's TXT record).
 - Authenticated submissions: a client from 127.0.0.2 (not in
   OpenDKIM's InternalHosts) that logs in on a listener with `auth` and
   `filter dkim` gets its message signed (OpenDKIM signs when it is told
   {auth_type}).
 - Local submissions: with `sendmail filter dkim`, a message of
   bin/sendmail arrives signed with OpenDKIM's default InternalHosts
   (127.0.0.1): its connect stage is localhost [127.0.0.1], as
   smtpd.conf(5) says."""
import os
import re
import smtplib
import subprocess

from lib import BIN, clients, free_port, test_dir, timeout, wait_until
from lib.dns import Dns
from lib.milter import FilterRelay
from lib.opendkim import DkimKey, OpenDkim
from lib.sasl import SaslDB, auth_extra, wait_auth_ready
from lib.sink import Sink, headers_of

REGRESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(REGRESS)
DRIVER = os.path.join(REPO, "bin/unit/test_smtp_milter_proto")
MESSAGE = (b"From: Alice <a@example.org>\r\n"
           b"To: b@example.net\r\n"
           b"Subject: signed by OpenDKIM\r\n"
           b"Date: Mon, 07 Dec 2026 12:00:00 +0000\r\n"
           b"Message-ID: <dkim-test@example.org>\r\n"
           b"\r\n"
           b"Hello,\r\n"
           b"this body is signed.\r\n")


def test_opendkim_signs():
    key = DkimKey()
    with OpenDkim("s", key, unix=True) as signer:
        msgfile = os.path.join(test_dir("message"), "message")
        with open(msgfile, "wb") as f:
            f.write(MESSAGE)
        out = subprocess.run([DRIVER, signer.unix, msgfile],
                             capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    assert out.returncode == 0, (out.returncode, lines)
    assert lines[0] == "optneg version 6", lines
    sig = [ln for ln in lines if ln.startswith("reply i 0 DKIM-Signature: ")]
    assert len(sig) == 1, lines
    value = sig[0][len("reply i 0 DKIM-Signature: "):]
    value = value.replace("\\r", "\r").replace("\\n", "\n")
    value = re.sub(r"\r?\n", "\r\n", value)
    signed = b"DKIM-Signature: " + value.encode() + b"\r\n" + MESSAGE
    assert "d=example.org" in value and "s=test" in value, value
    assert key.verify(signed), signed
    assert not key.verify(signed.replace(b"is signed", b"is forged"))


def _relay_one(filters, message, sink):
    """message from a@example.org to b@sink.test through a relay with
    these filters: the message as the sink got it."""
    with FilterRelay(filters, sink=sink) as relay:
        code, _ = clients.send(relay.port, "a@example.org", ["b@sink.test"],
                               msg=message)
        assert code == 250, code
        wait_until(lambda: sink.messages, 30, "the message at the sink")
    return sink.messages[-1]


@timeout(120)
def test_relay_signs_with_opendkim():
    key = DkimKey()
    with OpenDkim("s", key) as signer, Sink() as sink:
        got = _relay_one([("dkim", signer.spec)], MESSAGE, sink)
    sig = headers_of(got.data).get("dkim-signature")
    assert sig and len(sig) == 1, got.data[:2000]
    assert "d=example.org" in sig[0] and "s=test" in sig[0], sig
    assert got.data.endswith(b"this body is signed.\r\n"), got.data
    assert key.verify(got.data), got.data[:2000]
    forged = got.data.replace(b"is signed", b"is forged")
    assert not key.verify(forged)


def _results(msg):
    """The Authentication-Results fields OpenDKIM added (authserv-id
    relay.test), unfolded."""
    return [v for v in headers_of(msg.data).get("authentication-results", [])
            if v.startswith("relay.test;")]


@timeout(120)
def test_relay_verifies_with_opendkim():
    key = DkimKey()
    signed = key.sign(MESSAGE)
    tampered = signed.replace(b"is signed", b"is forged")
    with Dns(txt=[key.record()]) as dns, \
            OpenDkim("v", key, resolver_port=dns.port) as verifier:
        with Sink() as sink:
            good = _relay_one([("dkim", verifier.spec)], signed, sink)
        with Sink() as sink:
            bad = _relay_one([("dkim", verifier.spec)], tampered, sink)
    res = _results(good)
    assert len(res) == 1, good.data[:3000]
    assert re.search(r"\bdkim=pass\b", res[0]), res
    assert "header.d=example.org" in res[0], res
    res = _results(bad)
    assert len(res) == 1, bad.data[:3000]
    assert re.search(r"\bdkim=fail\b", res[0]), res


@timeout(120)
def test_sendmail_signed_with_opendkim():
    key = DkimKey()
    with OpenDkim("s", key) as signer, Sink() as sink, \
            FilterRelay([("dkim", signer.spec)], local=True,
                        sink=sink) as relay:
        r = subprocess.run([os.path.join(BIN, "sendmail"), "-C",
                            relay.confpath, "b@sink.test"],
                           input=MESSAGE.replace(b"\r\n", b"\n"),
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        wait_until(lambda: sink.messages, 30, "the message at the sink")
    data = sink.messages[0].data
    sig = headers_of(data).get("dkim-signature")
    assert sig and "d=example.org" in sig[0], data[:2000]
    assert key.verify(data), data[:2000]


def _submit(port):
    """MESSAGE from 127.0.0.2, logged in, on the AUTH listener."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30,
                      source_address=("127.0.0.2", 0)) as c:
        c.ehlo("client.test")
        code, _ = c.login("alice", "secret")
        assert code == 235, code
        refused = c.sendmail("a@example.org", ["b@sink.test"], MESSAGE)
        assert refused == {}, refused


@timeout(120)
def test_authenticated_submission_signed_with_opendkim():
    key = DkimKey()
    db = SaslDB({"alice": "secret"})
    port = free_port()
    with OpenDkim("s", key) as signer, Sink() as sink:
        # the filter only on the AUTH listener (the relay's own has none)
        extra = ['filter dkim "%s"' % signer.spec] + auth_extra(
            db, port, options="auth-optional filter dkim",
            mechanisms="PLAIN", trust="PLAIN")
        with FilterRelay([], sink=sink, extra=extra) as relay:
            wait_auth_ready(port)
            _submit(port)
            wait_until(lambda: sink.messages, 30, "the message at the sink")
            assert relay.alive()
    data = sink.messages[0].data
    sig = headers_of(data).get("dkim-signature")
    assert sig and "d=example.org" in sig[0], data[:2000]
    assert key.verify(data), data[:2000]
