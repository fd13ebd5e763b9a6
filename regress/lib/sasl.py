"""
sasl.py: SMTP AUTH fixtures for the end-to-end tests.

 - SaslDB(users, realm): a real Cyrus sasldb made with saslpasswd2 in a
   fresh directory (mode 0750, group sasl, the file 0640), as smtpd-auth
   reads it; path is the file.
 - auth_extra(db, port, options, ...): smtpd.conf lines for a Relay: one
   more listener with the given listen options and the auth statements.
 - wait_auth_ready(port): until EHLO offers AUTH there (smtpd-auth sends
   its mechanisms to the front end a moment after the listener opens).
 - RawFrom(port): a clients.Raw session from 127.0.0.2, which may not
   relay by address (only 127.0.0.1 may, spec 2.4 Relay_ok 1).
 - auth_keywords(ehlo_texts): the mechanisms of EHLO's AUTH line or None.
 - plain(user, password), b64(text): initial responses.
 - scram(raw, mech, user, password): an RFC 5802/7677 client exchange on
   a clients.Raw session (swaks has no SCRAM); returns the final reply.
 - smarthost(sink, users, mechanisms, tls): for client AUTH tests, a
   second relay delivering to sink, whose listener requires AUTH (with
   STARTTLS unless tls is False) against a sasldb of users; (relay, port);
   relay.ca is the TestCA its certificate comes from.
 - authinfo_relay(port, value, plaintext, ca): the first relay, routing
   every domain to 127.0.0.1:port (auth-plaintext if asked), with value
   in its authinfo map for 127.0.0.1, trusting ca (a smarthost's, so
   that its certificate verifies; without it verify=FAIL); (relay,
   smtpctl's output).
"""
import base64
import grp
import hashlib
import hmac
import os
import socket
import subprocess

from . import Skip, clients, free_port, test_dir, wait_until
from .certs import TestCA, wait_tls_ready
from .daemon import Relay

SASLPASSWD2 = "/usr/sbin/saslpasswd2"
REALM = "relay.test"


class SaslDB:
    def __init__(self, users, realm=REALM):
        if not os.path.exists(SASLPASSWD2):
            raise Skip("saslpasswd2 not installed (run tools/deps.sh)")
        self.dir = os.path.join(test_dir("sasl"), "sasl")
        os.mkdir(self.dir, 0o750)
        self.path = os.path.join(self.dir, "sasldb2")
        for user, password in users.items():
            subprocess.run([SASLPASSWD2, "-c", "-p", "-f", self.path,
                            "-u", realm, user], input=password.encode(),
                           check=True, timeout=30)
        gid = grp.getgrnam("sasl").gr_gid
        os.chown(self.dir, 0, gid)
        os.chown(self.path, 0, gid)
        os.chmod(self.path, 0o640)


def auth_extra(db, port, options="auth-optional", mechanisms=None,
               trust=None, auth_options="", more=()):
    lines = ["listen on 127.0.0.1 port %d %s" % (port, options),
             'auth sasldb "%s"' % db.path,
             'auth options "%s"' % auth_options]
    if mechanisms is not None:
        lines.append('auth mechanisms "%s"' % mechanisms)
    if trust is not None:
        lines.append('auth trust "%s"' % trust)
    return lines + list(more)


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain(user, password):
    return b64("\0%s\0%s" % (user, password))


def _scram_attrs(msg):
    return dict(kv.split("=", 1) for kv in msg.split(","))


def scram(raw, mech, user, password):
    """Run AUTH SCRAM-SHA-1 or SCRAM-SHA-256 on raw; (code, texts)."""
    h = hashlib.sha256 if mech.endswith("256") else hashlib.sha1
    cnonce = b64(os.urandom(18))
    bare = "n=%s,r=%s" % (user, cnonce)
    code, texts = raw.cmd("AUTH %s %s" % (mech, b64("n,," + bare)))
    if code != 334:
        return code, texts
    first = base64.b64decode(texts[0]).decode()
    a = _scram_attrs(first)
    salted = hashlib.pbkdf2_hmac(h().name, password.encode(),
                                 base64.b64decode(a["s"]), int(a["i"]))
    ckey = hmac.new(salted, b"Client Key", h).digest()
    without_proof = "c=%s,r=%s" % (b64("n,,"), a["r"])
    authmsg = ",".join([bare, first, without_proof]).encode()
    sig = hmac.new(h(ckey).digest(), authmsg, h).digest()
    proof = bytes(x ^ y for x, y in zip(ckey, sig))
    final = "%s,p=%s" % (without_proof, b64(proof))
    code, texts = raw.cmd(b64(final))
    if code == 334:
        # the server's signature; an empty line completes the exchange
        code, texts = raw.cmd("")
    return code, texts


def wait_auth_ready(port, timeout=20):
    def offered():
        with clients.Raw(port) as raw:
            return any(t.upper().startswith("AUTH ") for t in raw.ehlo())
    wait_until(offered, timeout, "AUTH offered on port %d" % port,
               interval=0.2)


class RawFrom(clients.Raw):
    def __init__(self, port, source="127.0.0.2", timeout=10):
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout,
                                             source_address=(source, 0))
        self.buf = b""
        self.greeting = self.reply()


def auth_keywords(texts):
    for t in texts:
        if t.upper().startswith("AUTH "):
            return t.split()[1:]
    return None


def smarthost(sink, users, mechanisms, tls=True):
    ca = TestCA()
    srv = ca.issue("relay.test")
    db = SaslDB(users)
    port = free_port()
    extra = ['pki %s cert "%s" key "%s"' % (srv.name, srv.chain, srv.key),
             'ca file "%s"' % ca.cert,
             "listen on 127.0.0.1 port %d %s" % (port,
                                                 "tls auth" if tls else
                                                 "auth"),
             'auth sasldb "%s"' % db.path,
             'auth options ""',
             'auth mechanisms "%s"' % mechanisms,
             'auth trust "%s"' % mechanisms]
    hop = Relay(sink=sink, extra=extra)
    hop.ca = ca
    wait_tls_ready(hop)
    wait_auth_ready(port)
    return hop, port


def authinfo_relay(port, value, plaintext=False, ca=None):
    route = 'route "*" via "[127.0.0.1]" port %d' % port
    extra = [route + (" auth-plaintext" if plaintext else "")]
    if ca is not None:
        extra.append('ca file "%s"' % ca.cert)
    first = Relay(extra=extra)
    rc, out = first.smtpctl("authinfo", "add", "AuthInfo:127.0.0.1", value)
    assert rc == 0, out
    return first, out
