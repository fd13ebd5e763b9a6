"""
opendkim.py: the real OpenDKIM (Debian 12's 2.11) as a milter fixture.

    key = DkimKey("example.org", "test")          # opendkim-genkey
    with Dns(txt=[key.record()]) as dns, \\
            OpenDkim("s", key) as signer, \\
            OpenDkim("v", key, resolver_port=dns.port) as verifier:
        'filter dkim "%s"' % signer.spec         # inet:PORT@127.0.0.1
        key.verify(message)                       # python3-dkim

DkimKey makes an RSA key in a directory of its own with opendkim-genkey
and knows the selector's TXT record, both as opendkim wrote it and split
into strings of at most 255 bytes for a DNS server (regress/lib/dns.py
serves it); sign() signs a message with python3-dkim and verify() checks a message's DKIM-Signature with python3-dkim,
whose key lookup reads that same record.

OpenDkim runs `opendkim -f -x CONF` in the foreground as its own user
(UserID opendkim), with its configuration, pid file and key in the
fixture's directory, on inet:PORT@127.0.0.1.  Mode "s" signs every
message for the key's domain whose client is in InternalHosts
(`internal`, by default 127.0.0.1: every test client over TCP and
the sendmail command's mail, whose connect stage is localhost
[127.0.0.1]); mode "v" verifies, adds
Authentication-Results with authserv-id `authserv`, and looks keys up
through libunbound (OpenDKIM 2.11 is built with it) forwarded to the
test's DNS server on 127.0.0.1:resolver_port, so nothing leaves the
machine.  With unix=True it listens on a unix socket in its directory
instead (spec "unix:PATH").  Syslog is off, so its log file holds only
what it prints itself (configuration errors).  The process is
registered for the runner's cleanup and stopped on exit; `startup` is
the seconds from exec to its socket accepting.
"""
import os
import pwd
import re
import socket
import subprocess
import time

from . import (Skip, free_port, read_text, register_log, register_pid,
               stop_process, test_dir)

OPENDKIM = "/usr/sbin/opendkim"
GENKEY = "/usr/sbin/opendkim-genkey"
USER = "opendkim"

# python3-dkim is Debian's, for /usr/bin/python3 (the runner may be
# another python): exit 0 if the message on stdin verifies, 1 if not;
# the key lookup answers only the selector's name
VERIFY = """
import sys, dkim
name, txt = sys.argv[1].encode(), sys.argv[2].encode()
def dns(q, timeout=5):
    return txt if q == name else None
sys.exit(0 if dkim.verify(sys.stdin.buffer.read(), dnsfunc=dns) else 1)
"""
# the same python3-dkim signing the message on stdin with the key file
SIGN = """
import sys, dkim
sel, dom, keyfile = (a.encode() for a in sys.argv[1:4])
msg = sys.stdin.buffer.read()
with open(keyfile, "rb") as f:
    sig = dkim.sign(msg, sel, dom, f.read(),
                    canonicalize=(b"relaxed", b"relaxed"))
sys.stdout.buffer.write(sig + msg)
"""


class DkimKey:
    def __init__(self, domain="example.org", selector="test", bits=2048):
        if not os.access(GENKEY, os.X_OK):
            raise Skip("opendkim-tools not installed (run tools/deps.sh)")
        self.domain = domain
        self.selector = selector
        self.dir = test_dir("dkimkey")
        subprocess.run([GENKEY, "-D", self.dir, "-d", domain, "-s",
                        selector, "-b", str(bits)], check=True,
                       timeout=60)
        self.private = os.path.join(self.dir, selector + ".private")
        with open(os.path.join(self.dir, selector + ".txt")) as f:
            self.txt = "".join(re.findall(r'"([^"]*)"', f.read()))
        pw = pwd.getpwnam(USER)
        os.chown(self.private, pw.pw_uid, pw.pw_gid)

    @property
    def name(self):
        """The TXT record's name."""
        return "%s._domainkey.%s" % (self.selector, self.domain)

    def record(self):
        """(name, text) for Dns(txt=...): character-strings of at most
        255 bytes, separated by commas as dnsmasq's --txt-record wants."""
        parts = [self.txt[i:i + 255] for i in range(0, len(self.txt), 255)]
        return (self.name, ",".join(parts))

    def sign(self, message):
        """message (bytes) with a DKIM-Signature by this key, made by
        python3-dkim (so a verifier is not checked against itself)."""
        r = subprocess.run(["/usr/bin/python3", "-c", SIGN, self.selector,
                            self.domain, self.private], input=message,
                           capture_output=True, timeout=60, check=True)
        return r.stdout

    def verify(self, message):
        """True if message (bytes) carries a DKIM-Signature that verifies
        with this key."""
        r = subprocess.run(["/usr/bin/python3", "-c", VERIFY,
                            self.name + ".", self.txt], input=message,
                           capture_output=True, timeout=60)
        assert r.returncode in (0, 1), r.stderr
        return r.returncode == 0


class OpenDkim:
    def __init__(self, mode, key, resolver_port=None, authserv="relay.test",
                 unix=False, internal="127.0.0.1"):
        if not os.access(OPENDKIM, os.X_OK):
            raise Skip("opendkim not installed (run tools/deps.sh)")
        assert mode in ("s", "v"), mode
        assert mode == "s" or resolver_port, "a verifier needs a resolver"
        self.mode = mode
        self.key = key
        self.resolver_port = resolver_port
        self.authserv = authserv
        self.internal = internal
        self.dir = test_dir("opendkim-" + mode)
        self.unix = os.path.join(self.dir, "dkim.sock") if unix else None
        self.port = None
        self.proc = None
        self.startup = None

    @property
    def spec(self):
        """The filter's socket as smtpd.conf and Postfix name it."""
        if self.unix:
            return "unix:" + self.unix
        return "inet:%d@127.0.0.1" % self.port

    def _unbound_conf(self):
        """libunbound forwarding every query to the test's DNS server
        (localhost is on its do-not-query list unless told otherwise)."""
        path = os.path.join(self.dir, "unbound.conf")
        with open(path, "w") as f:
            f.write("server:\n  do-not-query-localhost: no\n"
                    "  module-config: \"iterator\"\n"
                    "forward-zone:\n  name: \".\"\n"
                    "  forward-addr: 127.0.0.1@%d\n" % self.resolver_port)
        return path

    def _conf(self):
        lines = ["Syslog no", "UserID %s" % USER,
                 "Socket " + ("local:" + self.unix if self.unix else
                              "inet:%d@127.0.0.1" % self.port),
                 "PidFile %s/opendkim.pid" % self.dir,
                 "Canonicalization relaxed/relaxed",
                 # the checkout may be under /tmp, whose mode OpenDKIM's
                 # key-safety check refuses
                 "RequireSafeKeys false"]
        if self.mode == "s":
            lines += ["Mode s", "Domain %s" % self.key.domain,
                      "Selector %s" % self.key.selector,
                      "KeyFile %s" % self.key.private,
                      "SignatureAlgorithm rsa-sha256",
                      "InternalHosts %s" % self.internal]
        else:
            lines += ["Mode v", "AuthservID %s" % self.authserv,
                      "ResolverConfiguration %s" % self._unbound_conf(),
                      # every test client is on loopback: with the default
                      # InternalHosts it would count as ours and be
                      # neither signed nor verified
                      "InternalHosts 192.0.2.1",
                      "AlwaysAddARHeader yes"]
        path = os.path.join(self.dir, "opendkim.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self):
        pw = pwd.getpwnam(USER)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.logpath = os.path.join(self.dir, "opendkim.log")
        register_log("opendkim-" + self.mode, self.logpath)
        for _ in range(3):
            self.port = free_port()
            conf = self._conf()
            t0 = time.monotonic()
            log = open(self.logpath, "ab")
            self.proc = subprocess.Popen([OPENDKIM, "-f", "-x", conf],
                                         stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
            log.close()
            register_pid(self.proc.pid)
            if self._wait_ready(10):
                self.startup = time.monotonic() - t0
                return self
            self.stop()
        raise AssertionError("opendkim did not start: " + self.log()[-2000:])

    def _wait_ready(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self._accepts():
                return True
            time.sleep(0.05)
        return False

    def _accepts(self):
        if self.unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr = self.unix
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            addr = ("127.0.0.1", self.port)
        s.settimeout(1)
        try:
            s.connect(addr)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def log(self):
        return read_text(self.logpath)

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
