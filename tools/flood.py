#!/usr/bin/env python3
"""
tools/flood.py: "make flood".  Starts the relay of this tree (as the
regress tests do, so it needs root) and, for --seconds, runs at once:

  - a connection flood from one address (--flood-addr): --flood
    connections kept in flight, each opened again as soon as the relay
    closes it (the ones over limit sessions-per-address are told 421);
  - slowloris senders from --slow-addrs addresses, --slow-per each, that
    send one octet of a command line every --slow-gap seconds;
  - a probe from another address (--probe-addr) that connects every
    --probe-gap seconds and times the greeting.

It prints the probe's greeting latencies (count, min, median, 95th
percentile, max, how many took more than 1 s or failed) and what the
flood and the slowloris senders saw.  Not part of make check: it asserts
nothing; the issue's goal is that the probe is greeted within 1 s.
"""
import argparse
import asyncio
import os
import resource
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "regress"))

from lib.daemon import Relay  # noqa: E402
from lib.sink import Sink  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--flood", type=int, default=2000,
                   help="connections in flight from the flood address")
    p.add_argument("--flood-addr", default="127.0.0.10")
    p.add_argument("--slow-addrs", type=int, default=20)
    p.add_argument("--slow-per", type=int, default=10)
    p.add_argument("--slow-gap", type=float, default=5)
    p.add_argument("--probe-addr", default="127.0.0.2")
    p.add_argument("--probe-gap", type=float, default=0.2)
    return p.parse_args()


class Counts:
    def __init__(self):
        self.connects = 0
        self.greeted = 0
        self.refused_421 = 0
        self.errors = 0


async def greeted(port, addr, wait, retry, counts):
    """Connect from addr and read the first line: (reader, writer, line),
    or None after counting the error (and waiting retry seconds)."""
    try:
        r, w = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=(addr, 0))
    except OSError:
        counts.errors += 1
        await asyncio.sleep(retry)
        return None
    counts.connects += 1
    try:
        line = await asyncio.wait_for(r.readline(), wait)
    except (asyncio.TimeoutError, OSError):
        counts.errors += 1
        w.close()
        return None
    if line.startswith(b"220"):
        counts.greeted += 1
    elif line.startswith(b"421"):
        counts.refused_421 += 1
    return r, w, line


async def flood_one(port, addr, stop, counts):
    """Connect, read the first line, hang up; again until stop."""
    while not stop.is_set():
        got = await greeted(port, addr, 5, 0.05, counts)
        if got is not None:
            got[1].close()


async def slow_one(port, addr, gap, stop, counts):
    """A slowloris sender: one octet of "NOOP" every gap seconds."""
    while not stop.is_set():
        got = await greeted(port, addr, 10, 1, counts)
        if got is None:
            continue
        r, w, _ = got
        try:
            for octet in b"NOOP" * 1000:
                if stop.is_set() or r.at_eof():
                    break
                w.write(bytes([octet]))
                await w.drain()
                await asyncio.sleep(gap)
        except OSError:
            counts.errors += 1
        w.close()


def probe(port, addr, gap, stop, out):
    """Time from connect() to the greeting's line, or None on failure."""
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            s = socket.create_connection(("127.0.0.1", port), 10,
                                         source_address=(addr, 0))
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(512)
                if not chunk:
                    break
                buf += chunk
            ok = buf.startswith(b"220")
            s.sendall(b"QUIT\r\n")
            s.close()
            out.append(time.monotonic() - t0 if ok else None)
        except OSError:
            out.append(None)
        time.sleep(gap)


async def run_load(args, port, stop_evt):
    stop = asyncio.Event()
    flood, slow = Counts(), Counts()
    tasks = [asyncio.create_task(flood_one(port, args.flood_addr, stop,
                                           flood))
             for _ in range(args.flood)]
    for i in range(args.slow_addrs):
        addr = "127.0.1.%d" % (i + 1)
        tasks += [asyncio.create_task(slow_one(port, addr, args.slow_gap,
                                               stop, slow))
                  for _ in range(args.slow_per)]
    while not stop_evt.is_set():
        await asyncio.sleep(0.2)
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return flood, slow


def report(lat, flood, slow, seconds):
    ok = sorted(x for x in lat if x is not None)
    failed = len(lat) - len(ok)
    print("probe: %d connections, %d failed" % (len(lat), failed))
    if ok:
        p95 = ok[min(len(ok) - 1, int(len(ok) * 0.95))]
        print("probe greeting latency: min %.1f ms, median %.1f ms, "
              "p95 %.1f ms, max %.1f ms, over 1 s: %d"
              % (ok[0] * 1000, statistics.median(ok) * 1000, p95 * 1000,
                 ok[-1] * 1000, len([x for x in ok if x > 1.0])))
    print("flood: %d connections in %.0f s (%.0f/s), %d greeted, "
          "%d refused with 421, %d errors"
          % (flood.connects, seconds, flood.connects / seconds,
             flood.greeted, flood.refused_421, flood.errors))
    print("slowloris: %d connections, %d greeted, %d errors"
          % (slow.connects, slow.greeted, slow.errors))


def main():
    args = parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, args.flood + args.slow_addrs * args.slow_per + 1024)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    with Sink() as sink, Relay(sink=sink) as relay:
        stop = threading.Event()
        lat = []
        t = threading.Thread(target=probe, args=(relay.port,
                             args.probe_addr, args.probe_gap, stop, lat))
        timer = threading.Timer(args.seconds, stop.set)
        t0 = time.monotonic()
        t.start()
        timer.start()
        flood, slow = asyncio.run(run_load(args, relay.port, stop))
        t.join()
        report(lat, flood, slow, time.monotonic() - t0)
        stats = relay.stats()
        print("relay: %s" % ", ".join("%s=%s" % (k, stats[k])
                                      for k in sorted(stats)
                                      if k.startswith("smtp.session") or
                                      k.startswith("smtp.error")))


if __name__ == "__main__":
    main()
