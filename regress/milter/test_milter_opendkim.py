"""OpenDKIM (from apt) as a real filter of the milter protocol (issue
16, first increment): bin/unit/test_smtp_milter_proto in its live mode
sends a message from a client in OpenDKIM's InternalHosts, OpenDKIM
signs it for example.org with a key made for the test, and the
DKIM-Signature it asks to insert (SMFIR_INSHEADER, decoded by the front
end's code) verifies with python3-dkim against that key; a message
changed after signing does not.  OpenDKIM runs as its own unprivileged
user with its own configuration in a temporary directory."""
import os
import pwd
import re
import subprocess

from lib import register_pid, test_dir, wait_until

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


def _opendkim(d):
    """Start OpenDKIM on a unix socket in d; (process, socket, dns)."""
    pw = pwd.getpwnam("opendkim")
    subprocess.run(["opendkim-genkey", "-D", d, "-d", "example.org",
                    "-s", "test", "-b", "2048"], check=True)
    os.chown(d, pw.pw_uid, pw.pw_gid)
    os.chown(os.path.join(d, "test.private"), pw.pw_uid, pw.pw_gid)
    with open(os.path.join(d, "test.txt")) as f:
        txt = "".join(re.findall(r'"([^"]*)"', f.read()))
    sock = os.path.join(d, "dkim.sock")
    conf = os.path.join(d, "opendkim.conf")
    with open(conf, "w") as f:
        f.write("Syslog no\nMode s\nDomain example.org\nSelector test\n"
                "KeyFile %s/test.private\nCanonicalization relaxed/relaxed\n"
                "InternalHosts 127.0.0.1\nUserID opendkim\n"
                "Socket local:%s\nPidFile %s/opendkim.pid\n"
                "SignatureAlgorithm rsa-sha256\n"
                # the checkout may be under /tmp, whose mode OpenDKIM's
                # key-safety check refuses
                "RequireSafeKeys false\n" % (d, sock, d))
    proc = subprocess.Popen(["opendkim", "-f", "-x", conf],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    register_pid(proc.pid)
    wait_until(lambda: os.path.exists(sock), 30, "OpenDKIM's socket")
    return proc, sock, txt


# python3-dkim is Debian's, for /usr/bin/python3 (the runner may be
# another python); exit 0 if the message verifies
VERIFY = """
import sys, dkim
txt = sys.argv[1].encode()
def dns(name, timeout=5):
    return txt if name == b"test._domainkey.example.org." else None
sys.exit(0 if dkim.verify(sys.stdin.buffer.read(), dnsfunc=dns) else 1)
"""


def _verify(msg, txt):
    r = subprocess.run(["/usr/bin/python3", "-c", VERIFY, txt], input=msg,
                       capture_output=True, timeout=60)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode == 0


def test_opendkim_signs():
    d = test_dir("opendkim")
    proc, sock, txt = _opendkim(d)
    try:
        msgfile = os.path.join(d, "message")
        with open(msgfile, "wb") as f:
            f.write(MESSAGE)
        out = subprocess.run([DRIVER, sock, msgfile], capture_output=True,
                             text=True, timeout=60)
    finally:
        proc.kill()
        proc.wait()
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
    assert _verify(signed, txt), signed
    assert not _verify(signed.replace(b"is signed", b"is forged"), txt)
