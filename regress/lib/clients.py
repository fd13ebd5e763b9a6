"""
clients.py: the SMTP clients the end-to-end tests drive the relay with.

 - send(): one message with smtplib (EHLO, optional ESMTP parameters),
   returning the (code, text) of the final reply, raising on a rejection.
 - Raw: a raw socket session that sends exact bytes and reads replies with
   a timeout, for protocol tests (smuggling, limits, pipelining, BDAT).
 - swaks() and smtp_source(): the real external clients, as subprocesses
   with a time limit.
Every call has a timeout: nothing here waits forever.
"""
import os
import re
import smtplib
import socket
import subprocess
import time
import uuid

from . import POSTFIX, Skip

SMTP_SOURCE = os.path.join(POSTFIX, "usr/sbin/smtp-source")
SWAKS = "/usr/bin/swaks"


def make_message(mail_from, rcpts, subject="test", body=None, headers=()):
    """An RFC 5322 message (bytes, CRLF) with a unique Message-ID."""
    mid = "<%s@client.test>" % uuid.uuid4().hex
    lines = ["From: <%s>" % mail_from,
             "To: %s" % ", ".join("<%s>" % r for r in rcpts),
             "Subject: %s" % subject,
             "Message-ID: %s" % mid,
             "Date: Thu, 01 Jan 2026 00:00:00 +0000"]
    lines += list(headers)
    lines.append("")
    lines += (body if body is not None else "Hello from the test.\r\n"
              "Second line.").split("\r\n")
    return ("\r\n".join(lines) + "\r\n").encode(), mid


def send(port, mail_from, rcpts, msg=None, mail_options=(),
         rcpt_options=(), timeout=15, host="127.0.0.1"):
    """Send one message with smtplib; return (code, text) of the DATA
    reply.  Raises smtplib exceptions on a rejection."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    if msg is None:
        msg, _ = make_message(mail_from, rcpts)
    with smtplib.SMTP(host, port, local_hostname="client.test",
                      timeout=timeout) as s:
        s.ehlo()
        code, text = s.mail(mail_from, list(mail_options))
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, text, mail_from)
        refused = {}
        for r in rcpts:
            c, t = s.rcpt(r, list(rcpt_options))
            if c not in (250, 251):
                refused[r] = (c, t)
        if len(refused) == len(rcpts):
            raise smtplib.SMTPRecipientsRefused(refused)
        code, text = s.data(msg)
        if code != 250:
            raise smtplib.SMTPDataError(code, text)
        return code, text.decode("utf-8", "replace")


def queued_id(text):
    """The queue id in a "250 ... queued as ID" reply text, or None."""
    m = re.search(r"queued as\s+(\S+)", text)
    return m.group(1) if m else None


class Raw:
    """A raw SMTP session on a socket: exact bytes out, parsed replies in."""

    def __init__(self, port, host="127.0.0.1", timeout=10, greeting=True,
                 source=None):
        self.timeout = timeout
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""
        self.greeting = self.reply() if greeting else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no reply in %.1fs (have %r)"
                                 % (self.timeout, self.buf[-200:]))
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("connection closed by the relay "
                                       "(have %r)" % self.buf[-200:])
        self.buf += chunk

    def reply(self, timeout=None):
        """Read one (possibly multi-line) reply: (code, [texts])."""
        deadline = time.monotonic() + (timeout or self.timeout)
        texts = []
        while True:
            while b"\r\n" not in self.buf:
                self._fill(deadline)
            line, self.buf = self.buf.split(b"\r\n", 1)
            line = line.decode("utf-8", "replace")
            if len(line) < 3 or not line[:3].isdigit():
                raise AssertionError("malformed reply line %r" % line)
            texts.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return int(line[:3]), texts

    def cmd(self, line, timeout=None):
        """Send one command line (CRLF added) and read its reply."""
        self.send(line + "\r\n")
        return self.reply(timeout)

    def ehlo(self, name="client.test"):
        code, texts = self.cmd("EHLO " + name)
        assert code == 250, "EHLO: %d %s" % (code, texts)
        return texts[1:]

    def closed(self, timeout=5):
        """True if the relay closes the connection within timeout."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except ConnectionError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def rcpt_replies(port, source, rcpts, mail_from="alice@client.test"):
    """One raw session from source: MAIL, a RCPT per address, and the
    message if any was taken.  The RCPT replies, in order."""
    replies = []
    with Raw(port, source=source) as raw:
        raw.ehlo()
        assert raw.cmd("MAIL FROM:<%s>" % mail_from)[0] == 250
        for rcpt in rcpts:
            replies.append(raw.cmd("RCPT TO:<%s>" % rcpt))
        if any(code == 250 for code, _ in replies):
            assert raw.cmd("DATA")[0] == 354
            raw.send("Subject: t\r\n\r\nt\r\n.\r\n")
            assert raw.reply()[0] == 250
        raw.cmd("QUIT")
    return replies


def swaks(port, *args, timeout=30):
    """Run swaks against the relay; returns the CompletedProcess."""
    if not os.path.exists(SWAKS):
        raise Skip("swaks not installed (run tools/deps.sh)")
    cmd = [SWAKS, "--server", "127.0.0.1:%d" % port, "--helo", "client.test",
           "--timeout", "15"] + list(args)
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def smtp_source(port, sessions=10, messages=1000, size=1024,
                mail_from="from@client.test", to="to@dest.test",
                extra=(), timeout=120):
    """Run Postfix's smtp-source; returns the CompletedProcess."""
    if not os.path.exists(SMTP_SOURCE):
        raise Skip("smtp-source not unpacked (run tools/deps.sh)")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(POSTFIX, "usr/lib/postfix")
    cmd = [SMTP_SOURCE, "-c", "-d", "-s", str(sessions), "-m",
           str(messages), "-l", str(size), "-f", mail_from, "-t", to,
           "-M", "client.test"] + list(extra) + ["127.0.0.1:%d" % port]
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL)


def send_until_close(port, data, source=None, timeout=20):
    """Connect (from source), send data and return all the peer sends
    until it closes (a reset with our input unread counts as a close)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0) if source
                                 else None)
    try:
        if data:
            s.sendall(data)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return got
            if not chunk:
                return got
            got += chunk
    finally:
        s.close()
