"""smtpctl reload with a new certificate: a session already in TLS keeps
working (and delivers), new handshakes present the new certificate
(SHA-256 fingerprints compared), tlsproxy is not restarted; a reload
with a broken key file is refused (smtpctl exits 1 naming the key file)
and the keys in force stay."""
import hashlib
import os
import shutil

from lib import clients, free_port
from lib.certs import TestCA, client_context, starttls, wait_tls_ready
from lib.daemon import Relay
from lib.sink import Sink


def _install(cert, cert_path, key_path):
    shutil.copyfile(cert.chain, cert_path)
    shutil.copyfile(cert.key, key_path)
    os.chmod(key_path, 0o600)


def _fingerprint_pem(path):
    import ssl
    with open(path) as f:
        pem = f.read()
    first = pem[:pem.index("-----END CERTIFICATE-----") + 25]
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


def _tls_session(ca, port):
    raw = clients.Raw(port)
    raw.ehlo()
    starttls(raw, client_context(ca))
    raw.ehlo()
    fp = hashlib.sha256(raw.sock.getpeercert(binary_form=True)).hexdigest()
    return raw, fp


def _deliver(raw, rcpt):
    assert raw.cmd("MAIL FROM:<alice@client.test>")[0] == 250
    assert raw.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    assert raw.cmd("DATA")[0] == 354
    code, texts = raw.cmd("Subject: reload\r\n\r\nbody\r\n.")
    assert code == 250, (code, texts)


def test_reload_new_certificate():
    ca = TestCA()
    old = ca.issue("relay.test")
    port = free_port()
    with Sink() as sink:
        relay = Relay(sink=sink, start=False)
        cert_path = os.path.join(relay.dir, "relay.pem")
        key_path = os.path.join(relay.dir, "relay.key")
        _install(old, cert_path, key_path)
        relay.extra = ['pki relay.test cert "%s" key "%s"' % (cert_path,
                                                             key_path),
                       'ca file "%s"' % ca.cert,
                       "listen on 127.0.0.1 port %d tls" % port]
        relay.write_conf()
        relay.start()
        with relay:
            wait_tls_ready(relay)
            tlspid = relay.pid("tlsproxy")
            before, fp = _tls_session(ca, port)
            assert fp == _fingerprint_pem(old.chain)

            new = ca.issue("relay.test")
            assert _fingerprint_pem(new.chain) != fp
            _install(new, cert_path, key_path)
            mark = relay.mark()
            rc, out = relay.smtpctl("reload")
            assert rc == 0, (rc, out)
            relay.wait_for_log(r"tlsproxy: certificates loaded: 1",
                               start=mark)
            after, fp2 = _tls_session(ca, port)
            assert fp2 == _fingerprint_pem(new.chain), "old cert after reload"
            # the session that began before the reload goes on
            _deliver(before, "before@dest.test")
            _deliver(after, "after@dest.test")
            sink.wait_for(2)
            assert relay.pid("tlsproxy") == tlspid

            # a broken key file: refused, the new keys stay in force
            with open(key_path, "w") as f:
                f.write("this is not a key\n")
            r = relay.smtpctl_run("reload")
            msg = (r.stdout + r.stderr).decode("utf-8", "replace")
            assert r.returncode == 1, (r.returncode, msg)
            assert key_path in msg, msg
            raw, fp3 = _tls_session(ca, port)
            assert fp3 == fp2, "keys changed by a refused reload"
            _deliver(raw, "refused@dest.test")
            _deliver(before, "before2@dest.test")
            sink.wait_for(4)
            for m in sink.messages:
                assert "with ESMTPS" in m.header("Received")
            raw.close()
            before.close()
            after.close()
            assert relay.pid("tlsproxy") == tlspid
