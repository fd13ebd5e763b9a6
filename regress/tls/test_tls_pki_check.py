"""A pki whose key does not match its certificate, a key or certificate
in bad PEM, and an unreadable key file are refused where the admin sees
it: `smtpd -n` exits 1 with one line naming the pki and the reason;
`smtpctl reload` exits 1 with that line (and "old configuration kept"),
the daemon keeps serving with the old keys (a STARTTLS after it still
presents the old certificate); SIGHUP with the same config logs the same
line."""
import hashlib
import os
import shutil
import signal
import subprocess

from lib import BIN, clients, free_port
from lib.certs import TestCA, client_context, starttls, wait_tls_ready
from lib.daemon import Relay
from lib.sink import Sink

BAD_KEY = ("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n"
           "-----END PRIVATE KEY-----\n")
BAD_CERT = ("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
            "-----END CERTIFICATE-----\n")


def _setup(relay, ca, port):
    """The relay's pki files in its directory: (their good contents,
    cert path, key path).  (The CA writes every "relay.test" it issues
    to the same files, so the good ones are kept here.)"""
    issued = ca.issue("relay.test")
    cert_path = os.path.join(relay.dir, "relay.pem")
    key_path = os.path.join(relay.dir, "relay.key")
    shutil.copyfile(issued.chain, cert_path)
    shutil.copyfile(issued.key, key_path)
    os.chmod(key_path, 0o600)
    good = (_read(cert_path), _read(key_path))
    relay.extra = ['pki relay.test cert "%s" key "%s"' % (cert_path,
                                                         key_path),
                   'ca file "%s"' % ca.cert,
                   "listen on 127.0.0.1 port %d tls" % port]
    relay.write_conf()
    return good, cert_path, key_path


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _fingerprint(port, ca):
    with clients.Raw(port) as raw:
        raw.ehlo()
        starttls(raw, client_context(ca))
        raw.ehlo()
        assert raw.cmd("QUIT")[0] == 221
        return hashlib.sha256(raw.sock.getpeercert(True)).hexdigest()


def _pem_fingerprint(path):
    import ssl
    with open(path) as f:
        pem = f.read()
    first = pem[:pem.index("-----END CERTIFICATE-----") + 25]
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest()


def _check(relay):
    r = subprocess.run([os.path.join(BIN, "smtpd"), "-n", "-f",
                        relay.confpath], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       timeout=20)
    return r.returncode, r.stderr.decode().strip()


def _breakages(ca, cert_path, key_path):
    """(name, function that breaks the files, expected message)."""
    other_key = _read(ca.issue("relay.test").key)

    def mismatch():
        _write(key_path, other_key)

    def bad_key():
        with open(key_path, "w") as f:
            f.write(BAD_KEY)

    def bad_cert():
        with open(cert_path, "w") as f:
            f.write(BAD_CERT)

    def missing_key():
        os.unlink(key_path)

    def dir_key():
        os.unlink(key_path)
        os.mkdir(key_path)

    return [
        ("mismatch", mismatch, "pki relay.test: key %s does not match "
         "certificate %s" % (key_path, cert_path)),
        ("bad key", bad_key, "pki relay.test: key %s: bad PEM, no private "
         "key could be read (or it is encrypted)" % key_path),
        ("bad cert", bad_cert, "pki relay.test: certificate %s: bad PEM, "
         "no certificate could be read" % cert_path),
        ("missing key", missing_key, "pki relay.test: %s: No such file "
         "or directory" % key_path),
        ("key is a directory", dir_key, "pki relay.test: %s: not a "
         "regular file of 1 to" % key_path),
    ]


def _restore(good, cert_path, key_path):
    if os.path.isdir(key_path):
        os.rmdir(key_path)
    _write(cert_path, good[0])
    _write(key_path, good[1])


def test_smtpd_n_refuses_bad_pki():
    ca = TestCA()
    relay = Relay(start=False)
    good, cert_path, key_path = _setup(relay, ca, free_port())
    assert _check(relay) == (0, ""), _check(relay)
    for name, breakit, expect in _breakages(ca, cert_path, key_path):
        breakit()
        rc, err = _check(relay)
        assert rc == 1, (name, rc, err)
        assert err.startswith("smtpd: " + expect), (name, err)
        assert "\n" not in err, (name, err)
        _restore(good, cert_path, key_path)
        assert _check(relay)[0] == 0, name


def test_reload_and_sighup_refuse_bad_pki():
    ca = TestCA()
    port = free_port()
    with Sink() as sink:
        relay = Relay(sink=sink, start=False)
        good, cert_path, key_path = _setup(relay, ca, port)
        relay.start()
        with relay:
            wait_tls_ready(relay)
            tlspid = relay.pid("tlsproxy")
            old_fp = _pem_fingerprint(cert_path)
            fp = _fingerprint(port, ca)
            assert fp == old_fp, (fp, old_fp, _pem_fingerprint(cert_path))
            for name, breakit, expect in _breakages(ca, cert_path,
                                                    key_path):
                breakit()
                line = "smtpctl: %s" % expect
                r = relay.smtpctl_run("reload")
                err = r.stderr.decode().strip()
                assert r.returncode == 1, (name, r.returncode, err)
                assert err.startswith(line), (name, err)
                assert err.endswith("; old configuration kept"), (name, err)
                assert "\n" not in err, (name, err)
                assert _fingerprint(port, ca) == old_fp, name
                # SIGHUP: the same line in the log
                mark = relay.mark()
                os.kill(relay.proc.pid, signal.SIGHUP)
                relay.wait_for_log(r"parent: reload: " + _re(
                    err[len("smtpctl: "):]), start=mark)
                assert _fingerprint(port, ca) == old_fp, name
                _restore(good, cert_path, key_path)
            rc, out = relay.smtpctl("reload")
            assert rc == 0, out
            assert relay.pid("tlsproxy") == tlspid
            fp = _fingerprint(port, ca)
            assert fp == old_fp, (fp, old_fp, _pem_fingerprint(cert_path))


def _re(text):
    import re
    return re.escape(text)
