"""
certs.py: a throw-away test CA and certificates, made with the openssl
command line at test time (nothing is checked in).

    ca = TestCA()                      # a fresh CA under regress/tmp/
    srv = ca.issue("relay.test")       # Cert: .cert, .key, .chain paths
    cli = ca.issue("client.test", client=True)
    ca.cert                            # the CA certificate (PEM path)
    relay_tls_extra(ca, srv, port)     # conf lines: pki, ca, a tls listener
    starttls(raw, client_context(ca))  # STARTTLS on a clients.Raw

Every certificate is an EC P-256 key (RSA 2048 with rsa=True) signed by
the CA, valid for a day, with the name as CN and as a DNS subjectAltName.
"""
import os
import subprocess

from . import Skip, test_dir

OPENSSL = "/usr/bin/openssl"


def _run(*args):
    r = subprocess.run([OPENSSL] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError("openssl %s: %s" % (
            " ".join(args), r.stdout.decode("utf-8", "replace")))


class Cert:
    def __init__(self, name, cert, key, chain):
        self.name = name
        self.cert = cert
        self.key = key
        self.chain = chain


class TestCA:
    def __init__(self, name="Regress Test CA", subject=None):
        if not os.access(OPENSSL, os.X_OK):
            raise Skip("openssl not installed")
        self.dir = test_dir("ca")
        self.cert = os.path.join(self.dir, "ca.pem")
        self.key = os.path.join(self.dir, "ca.key")
        self.serial = 1
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", subject or "/O=Regress/CN=%s" % name,
             "-keyout", self.key,
             "-out", self.cert,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _sign_expired(self, csr, ext, cert):
        """Sign with a validity that ended long ago (openssl ca can set
        past dates, openssl x509 cannot)."""
        _run("ca", "-batch", "-config", _ca_conf(self), "-cert", self.cert,
             "-keyfile", self.key, "-in", csr, "-out", cert, "-extfile", ext,
             "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
             "-notext")

    def issue(self, name, client=False, subject=None, expired=False,
              rsa=False):
        """A certificate for name signed by this CA (server or client),
        with an EC P-256 key, or an RSA 2048 one if rsa."""
        base = os.path.join(self.dir, name)
        key, csr, cert = base + ".key", base + ".csr", base + ".pem"
        ext = base + ".ext"
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=%s\n"
                    "subjectAltName=DNS:%s\n"
                    % ("clientAuth" if client else "serverAuth,clientAuth",
                       name))
        keyopts = (["-newkey", "rsa:2048"] if rsa else
                   ["-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1"])
        _run("req", "-new", *keyopts, "-nodes", "-subj",
             subject or "/O=Regress/CN=%s" % name, "-keyout", key,
             "-out", csr)
        self.serial += 1
        if expired:
            self._sign_expired(csr, ext, cert)
        else:
            _run("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey",
                 self.key, "-set_serial", str(self.serial), "-days", "1",
                 "-extfile", ext, "-out", cert)
        os.chmod(key, 0o600)
        chain = base + ".chain.pem"
        with open(chain, "w") as out:
            for path in (cert, self.cert):
                with open(path) as f:
                    out.write(f.read())
        return Cert(name, cert, key, chain)


def _ca_conf(ca):
    """A minimal "openssl ca" setup in the CA's directory."""
    conf = os.path.join(ca.dir, "ca.cnf")
    db = os.path.join(ca.dir, "index.txt")
    serial = os.path.join(ca.dir, "serial")
    if not os.path.exists(conf):
        open(db, "w").close()
        with open(serial, "w") as f:
            f.write("1000\n")
        with open(conf, "w") as f:
            f.write("[ca]\ndefault_ca = test\n[test]\n"
                    "database = %s\nnew_certs_dir = %s\nserial = %s\n"
                    "default_md = sha256\npolicy = any\n"
                    "unique_subject = no\n"
                    "[any]\ncommonName = supplied\n" % (db, ca.dir,
                                                           serial))
    return conf


def relay_tls_extra(ca, cert, port, options="tls"):
    """smtpd.conf lines for a Relay: the pki and CA of this test CA and
    one more listener on 127.0.0.1 port with the given listen options."""
    return ['pki %s cert "%s" key "%s"' % (cert.name, cert.chain, cert.key),
            'ca file "%s"' % ca.cert,
            "listen on 127.0.0.1 port %d %s" % (port, options)]


def client_context(ca, cert=None):
    """A Python ssl client context trusting the test CA, with an
    optional client certificate."""
    import ssl
    ctx = ssl.create_default_context(cafile=ca.cert)
    if cert is not None:
        ctx.load_cert_chain(cert.cert, cert.key)
    return ctx


def starttls(raw, ctx, server_hostname="relay.test"):
    """STARTTLS on a clients.Raw session: 220, then the handshake."""
    code, texts = raw.cmd("STARTTLS")
    assert code == 220, ("STARTTLS", code, texts)
    assert raw.buf == b"", raw.buf
    raw.sock = ctx.wrap_socket(raw.sock, server_hostname=server_hostname)
    return code


def wait_tls_ready(relay, timeout=20):
    """Until tlsproxy has its keys (before that STARTTLS gets 454)."""
    relay.wait_for_log(r"tlsproxy: certificates loaded: [1-9]", timeout)
    return relay


def spki_sha256(pem):
    """SHA-256 of a certificate's SubjectPublicKeyInfo, by openssl(1):
    the data of a TLSA x 1 1 record."""
    pub = subprocess.run(["openssl", "x509", "-in", pem, "-noout",
                          "-pubkey"], check=True, stdout=subprocess.PIPE)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub.stdout, check=True,
                         stdout=subprocess.PIPE)
    dgst = subprocess.run(["openssl", "dgst", "-sha256", "-r"],
                          input=der.stdout, check=True,
                          stdout=subprocess.PIPE)
    return dgst.stdout.split()[0].decode()
