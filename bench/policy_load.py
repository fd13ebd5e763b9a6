#!/usr/bin/env python3
"""bench/policy_load.py PORT SECONDS CONNECTIONS: access-map decisions per
second through the running relay.  Each connection says EHLO, then sends
MAIL, 100 RCPT and RSET in one write (PIPELINING) over and over, so that
every RCPT is one policy decision (To: checks, relay decision) and every
MAIL one more (tls_client, From: checks).  Prints one line:
"decisions N seconds S per_second R refused X".  With BENCH_POLICY_FRESH=1
in the environment every batch has recipients never seen before (the
local part carries the batch number), so a store that caches (the
PostgreSQL one) must ask its server for each of them."""
import os
import socket
import sys
import threading
import time

RCPTS = 100
FRESH = os.environ.get("BENCH_POLICY_FRESH") == "1"


class Conn(threading.Thread):
    def __init__(self, port, deadline, n):
        super().__init__(daemon=True)
        self.port, self.deadline, self.n = port, deadline, n
        self.decisions = 0
        self.refused = 0
        self.buf = b""

    def replies(self, sock, count):
        got = []
        while len(got) < count:
            while b"\r\n" not in self.buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line[3:4] != b"-":
                got.append(line[:3])
        return got

    def rcpt(self, i, batch=0):
        """The i-th recipient of this connection's batch."""
        local = "user%d" % i if batch == 0 else "user%d.%d" % (i, batch)
        return "%s@dest%d.example" % (local, (i * 7 + self.n) % 1000)

    def batch(self, number):
        cmds = [b"MAIL FROM:<sender%d@client.example>\r\n" % self.n]
        for i in range(RCPTS):
            cmds.append(b"RCPT TO:<%s>\r\n" % self.rcpt(i, number).encode())
        cmds.append(b"RSET\r\n")
        return b"".join(cmds)

    def run(self):
        sock = socket.create_connection(("127.0.0.1", self.port))
        self.replies(sock, 1)
        sock.sendall(b"EHLO bench.example\r\n")
        self.replies(sock, 1)
        batch = self.batch(0)
        number = 0
        while time.monotonic() < self.deadline:
            if FRESH:
                number += 1
                batch = self.batch(number)
            sock.sendall(batch)
            codes = self.replies(sock, RCPTS + 2)
            self.decisions += RCPTS + 1
            self.refused += sum(1 for c in codes[1:-1] if c[:1] != b"2")
        sock.sendall(b"QUIT\r\n")
        sock.close()


def main(conn=Conn):
    port, seconds, conns = (int(a) for a in sys.argv[1:4])
    start = time.monotonic()
    threads = [conn(port, start + seconds, n) for n in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    took = time.monotonic() - start
    total = sum(t.decisions for t in threads)
    print("decisions %d seconds %.1f per_second %.0f refused %d"
          % (total, took, total / took, sum(t.refused for t in threads)))


if __name__ == "__main__":
    main()
