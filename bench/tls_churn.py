#!/usr/bin/python3
"""bench/tls_churn.py: STARTTLS connection churn, with or without session
resumption (bench/extra.py, scenarios churn-tls-full-c50 and
churn-tls-resumed-c50).

Each of --conc worker threads loops: connect, greeting, EHLO, STARTTLS,
TLS handshake, EHLO, --per-conn messages (MAIL, RCPT, DATA), QUIT, close.
With --resume a worker offers the session of its own previous connection
(Python's ssl `session=`); the session is taken only after QUIT's reply
was read, because TLS 1.3 sends its tickets after the handshake, so a
session saved right after it would carry none.  Whether the server
resumed is `session_reused` of each connection; the share of resumed
handshakes is printed so that a server that never resumes cannot pass
for one that does.

The TLS work runs in OpenSSL with the GIL released, so threads, not
asyncio (whose start_tls cannot offer a session).  Bounded by --messages
sessions and --time seconds, whichever comes first; each socket step has
--timeout.  Prints "P <sessions done>" every 0.1 s with --progress, and one
JSON line at the end: ok (sessions that got their 250s and QUIT), fail,
conns, tls, resumed, resumed_share, elapsed, rate (ok per second),
errors.  Only loopback targets are accepted.
"""
import argparse
import ipaddress
import json
import socket
import ssl
import sys
import threading
import time


class Session:
    """One SMTP connection, plain first, TLS after starttls()."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def reply(self):
        last = b""
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed by server")
                self.buf += chunk
            last, self.buf = self.buf.split(b"\r\n", 1)
            if last[3:4] != b"-":
                return int(last[:3]), last.decode("ascii", "replace")

    def cmd(self, data, expect):
        self.sock.sendall(data)
        code, text = self.reply()
        if code // 100 != expect:
            verb = data.split(b" ")[0].strip().decode("ascii", "replace")
            raise RuntimeError(f"{verb[:20]} -> {text[:80]}")
        return text

    def starttls(self, ctx, session):
        self.cmd(b"STARTTLS\r\n", 2)
        self.sock = ctx.wrap_socket(self.sock, session=session)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Shared:
    """Budget and counters of all workers, under one lock."""

    def __init__(self, sessions, deadline):
        self.lock = threading.Lock()
        self.left = sessions
        self.deadline = deadline
        self.ok = self.fail = self.conns = self.tls = self.resumed = 0
        self.errors = {}

    def take(self):
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True

    def count(self, field):
        with self.lock:
            setattr(self, field, getattr(self, field) + 1)

    def failed(self, what):
        with self.lock:
            self.fail += 1
            self.left += 1
            key = what[:120]
            self.errors[key] = self.errors.get(key, 0) + 1


def message(a, seq):
    body = (b"x" * 78 + b"\r\n") * max(1, a.size // 80)
    head = (f"From: <{a.sender}>\r\nTo: <{a.rcpt}>\r\n"
            f"Subject: tls churn {seq}\r\n\r\n").encode()
    return head + body + b".\r\n"


def one_session(a, ctx, session, sh, payload):
    """One connection; returns its TLS session for the next one."""
    s = Session(a.host, a.port, a.timeout)
    try:
        sh.count("conns")
        code, text = s.reply()
        if code != 220:
            raise RuntimeError(f"greeting {text[:80]}")
        ehlo = f"EHLO {a.helo}\r\n".encode()
        s.cmd(ehlo, 2)
        s.starttls(ctx, session)
        sh.count("tls")
        if s.sock.session_reused:
            sh.count("resumed")
        s.cmd(ehlo, 2)
        for _ in range(a.per_conn):
            s.cmd(f"MAIL FROM:<{a.sender}>\r\n".encode(), 2)
            s.cmd(f"RCPT TO:<{a.rcpt}>\r\n".encode(), 2)
            s.cmd(b"DATA\r\n", 3)
            s.cmd(payload, 2)
        s.cmd(b"QUIT\r\n", 2)
        return s.sock.session
    finally:
        s.close()


def worker(a, ctx, sh, payload):
    session = None
    backoff = 0.05
    while sh.take():
        try:
            got = one_session(a, ctx, session if a.resume else None, sh,
                              payload)
        except Exception as e:
            text = str(e) if isinstance(e, RuntimeError) else repr(e)
            sh.failed(text)
            time.sleep(backoff)
            backoff = min(backoff * 2, 1.0)
            continue
        session = got
        backoff = 0.05
        sh.count("ok")


def progress(sh, stop):
    while not stop.wait(0.1):
        print(f"P {sh.ok}", flush=True)


def client_context(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if a.tls_max == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def run(a):
    ctx = client_context(a)
    payload = message(a, 0)
    t0 = time.monotonic()
    sh = Shared(a.messages, t0 + a.time)
    stop = threading.Event()
    if a.progress:
        threading.Thread(target=progress, args=(sh, stop), daemon=True).start()
    workers = [threading.Thread(target=worker, args=(a, ctx, sh, payload),
                                daemon=True) for _ in range(a.conc)]
    for w in workers:
        w.start()
    end = t0 + a.time + a.timeout + 5
    for w in workers:
        w.join(max(0.0, end - time.monotonic()))
    stop.set()
    elapsed = time.monotonic() - t0
    with sh.lock:
        out = dict(ok=sh.ok, fail=sh.fail, conns=sh.conns, tls=sh.tls,
                   resumed=sh.resumed,
                   resumed_share=round(sh.resumed / sh.tls, 3) if sh.tls else 0.0,
                   resume_asked=a.resume, elapsed=round(elapsed, 3),
                   rate=round(sh.ok / elapsed, 1) if elapsed > 0 else 0.0,
                   errors=dict(sorted(sh.errors.items(),
                                      key=lambda kv: -kv[1])[:8]))
    print(json.dumps(out), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conc", type=int, default=50)
    p.add_argument("--messages", type=int, default=1000,
                   help="sessions in all")
    p.add_argument("--time", type=float, default=60.0)
    p.add_argument("--per-conn", type=int, default=1,
                   help="messages per connection (0: STARTTLS and QUIT only)")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--resume", action="store_true",
                   help="offer each worker's previous session")
    p.add_argument("--tls-max", choices=["1.2", "1.3"], default="1.3")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--progress", action="store_true")
    p.add_argument("--helo", default="churn.invalid")
    p.add_argument("--sender", default="sender@load.invalid")
    p.add_argument("--rcpt", default="rcpt@example.net")
    a = p.parse_args()
    if not ipaddress.ip_address(a.host).is_loopback:
        sys.exit("refusing a non-loopback target")
    a.time = min(a.time, 600.0)
    run(a)


if __name__ == "__main__":
    main()
