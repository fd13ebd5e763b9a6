#!/usr/bin/env python3
"""bench/auth_load.py: authenticated submissions per second through an MTA
on 127.0.0.1 (tools/bench_auth.sh, "make bench-auth").

  auth_load.py wait PORT              until STARTTLS then EHLO offers AUTH
                                      PLAIN (at most 30 s; exit 1 if not)
  auth_load.py probe PORT             one session with STARTTLS but no AUTH:
                                      exit 0 only if MAIL or RCPT is refused
  auth_load.py load PORT SECONDS CONNS PER_SESSION USER PASSWORD IDFILE

"load" runs CONNS worker processes.  Each loops until SECONDS have passed:
connect (from 127.0.0.2, so no MTA may relay by address), EHLO, STARTTLS
(a full handshake every time, no session reuse), EHLO, AUTH PLAIN with an
initial response, then PER_SESSION times MAIL, RCPT, DATA with a small
message carrying a unique X-Bench-Id header, then QUIT.  A submission is
counted only when the session's AUTH got 235 and its DATA got 250; the ids
of the counted ones go to IDFILE, one a line, so the caller can check the
sink got each exactly once.  Anything else is a failure (first one
reported).  Prints one line:
"submissions N seconds S per_second R sessions K client_cpu C failures F
first_error E" (C: CPU seconds of the workers).
"""
import base64
import multiprocessing
import resource
import socket
import ssl
import sys
import time

SOURCE = "127.0.0.2"
BODY = b"".join(b"line %02d of a small authenticated submission\r\n" % i
                for i in range(12))


class Session:
    """One SMTP connection; reply() returns (code, [texts])."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout,
                                             source_address=(SOURCE, 0))
        self.buf = b""

    def reply(self):
        texts = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            texts.append(line[4:].decode("ascii", "replace"))
            if line[3:4] != b"-":
                return int(line[:3]), texts

    def cmd(self, line):
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def expect(self, line, want):
        code, texts = self.cmd(line)
        if code != want:
            raise RuntimeError("%s -> %d %s" % (line.split(b" ")[0].decode(),
                                                code, texts[-1]))
        return texts

    def starttls(self, ctx):
        code, texts = self.reply()
        if code != 220:
            raise RuntimeError("greeting %d %s" % (code, texts[-1]))
        self.expect(b"EHLO client.bench.example", 250)
        self.expect(b"STARTTLS", 220)
        self.sock = ctx.wrap_socket(self.sock)
        return self.expect(b"EHLO client.bench.example", 250)

    def close(self):
        try:
            self.sock.sendall(b"QUIT\r\n")
            self.reply()
        except (OSError, ConnectionError):
            pass
        self.sock.close()


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(bench_id):
    return (b"From: <user@client.bench.example>\r\n"
            b"To: <rcpt@dest.bench.example>\r\n"
            b"Subject: authenticated submission\r\n"
            b"X-Bench-Id: " + bench_id + b"\r\n\r\n" + BODY + b".")


def submit(s, bench_id):
    s.expect(b"MAIL FROM:<user@client.bench.example>", 250)
    s.expect(b"RCPT TO:<rcpt@dest.bench.example>", 250)
    s.expect(b"DATA", 354)
    s.expect(message(bench_id), 250)


def worker(args):
    port, deadline, per_session, auth, n = args
    ctx = tls_context()
    done, sessions, failures, first = [], 0, 0, ""
    seq = 0
    while time.monotonic() < deadline:
        s = None
        try:
            s = Session(port)
            s.starttls(ctx)
            s.expect(b"AUTH PLAIN " + auth, 235)
            sessions += 1
            for _ in range(per_session):
                bench_id = b"%d-%d-%d" % (per_session, n, seq)
                seq += 1
                submit(s, bench_id)
                done.append(bench_id.decode())
        except (OSError, ConnectionError, RuntimeError) as e:
            failures += 1
            first = first or "%s: %s" % (type(e).__name__, e)
        if s is not None:
            s.close()
    return done, sessions, failures, first


def load(port, seconds, conns, per_session, user, password, idfile):
    auth = base64.b64encode(b"\0" + user.encode() + b"\0" +
                            password.encode())
    start = time.monotonic()
    jobs = [(port, start + seconds, per_session, auth, n)
            for n in range(conns)]
    pool = multiprocessing.Pool(conns)
    results = pool.map(worker, jobs)
    pool.close()
    pool.join()
    took = time.monotonic() - start
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    ids = [i for r in results for i in r[0]]
    with open(idfile, "w") as f:
        f.write("".join(i + "\n" for i in ids))
    errors = [r[3] for r in results if r[3]]
    print("submissions %d seconds %.1f per_second %.0f sessions %d "
          "client_cpu %.1f failures %d first_error %s"
          % (len(ids), took, len(ids) / took, sum(r[1] for r in results),
             ru.ru_utime + ru.ru_stime, sum(r[2] for r in results),
             errors[0] if errors else "-"))


def offers_plain(port):
    s = Session(port, timeout=5)
    try:
        texts = s.starttls(tls_context())
    finally:
        s.close()
    return any(t.upper().split()[:1] == ["AUTH"] and
               "PLAIN" in t.upper().split() for t in texts)


def wait(port):
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            if offers_plain(port):
                return 0
        except (OSError, ConnectionError, RuntimeError):
            pass
        time.sleep(0.2)
    print("AUTH PLAIN not offered after STARTTLS on port %d" % port)
    return 1


def probe(port):
    s = Session(port)
    try:
        s.starttls(tls_context())
        for line in (b"MAIL FROM:<user@client.bench.example>",
                     b"RCPT TO:<rcpt@dest.bench.example>"):
            code, texts = s.cmd(line)
            if code >= 500:
                print("without AUTH: %s -> %d %s"
                      % (line.split(b":")[0].decode(), code, texts[-1]))
                return 0
    finally:
        s.close()
    print("without AUTH the recipient was accepted")
    return 1


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "wait":
        return wait(port)
    if mode == "probe":
        return probe(port)
    seconds, conns, per_session = (int(a) for a in sys.argv[3:6])
    load(port, seconds, conns, per_session, *sys.argv[6:9])
    return 0


if __name__ == "__main__":
    sys.exit(main())
