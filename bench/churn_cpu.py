#!/usr/bin/python3
"""bench/churn_cpu.py: where the CPU of a STARTTLS churn goes, per
process.  Starts a regress Relay with a tls listener delivering to a
sink, runs bin/tls_churn against it (full handshakes, then resumed;
without a message per connection, then with one) and reads each
process's user+system time from /proc before and after: the relay's
children, the parent, and the client.  Prints microseconds of CPU per
connection for each, and the connection rate.  Run as root from the
tree, alone on the machine: python3 bench/churn_cpu.py [SECONDS] [rsa]
(rsa: an RSA-2048 server certificate, as the shared harness uses; by
default the regress CA's EC P-256 one)."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "regress"))

from lib import free_port  # noqa: E402
from lib.certs import TestCA, relay_tls_extra, wait_tls_ready  # noqa: E402
from lib.daemon import Relay  # noqa: E402
from lib.sink import Sink  # noqa: E402

CHURN = os.path.join(HERE, "..", "bin", "tls_churn")
TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    """utime + stime of pid and its waited-for children, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def run(relay, port, seconds, resume, per_conn):
    pids = dict(relay.children())
    pids["parent"] = relay.proc.pid
    before = {n: cpu(p) for n, p in pids.items()}
    t0 = os.times()
    cmd = [CHURN, "--port", str(port), "--conc", "20", "--time",
           str(seconds), "--messages", "1000000", "--per-conn",
           str(per_conn)] + (["--resume"] if resume else [])
    r = subprocess.run(["/usr/bin/time", "-f", "%U %S"] + cmd,
                       capture_output=True, text=True, timeout=seconds + 60)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    user, sys_ = (float(x) for x in r.stderr.strip().splitlines()[-1].split())
    conns = max(out["conns"], 1)
    per = {n: (cpu(p) - before[n]) * 1e6 / conns for n, p in pids.items()}
    per["client"] = (user + sys_) * 1e6 / conns
    t1 = os.times()
    # the sink's thread is this process's
    per["sink"] = (t1.user + t1.system - t0.user - t0.system) * 1e6 / conns
    return out["rate"], out.get("resumed_share", 0.0), per


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    ca = TestCA()
    cert = ca.issue("relay.test", rsa="rsa" in sys.argv[2:])
    port = free_port()
    rows = []
    with Sink() as sink, Relay(sink=sink, extra=relay_tls_extra(
            ca, cert, port)) as relay:
        wait_tls_ready(relay)
        for per_conn in (0, 1):
            for resume in (False, True):
                rows.append((per_conn, resume) +
                            run(relay, port, seconds, resume, per_conn))
    names = sorted({n for row in rows for n in row[4]} - {"client", "sink"})
    names += ["client", "sink"]
    print("| messages/conn | handshakes | conn/s | resumed | " +
          " | ".join(names) + " | total |")
    print("|---:|---|---:|---:|" + "---:|" * (len(names) + 1))
    for per_conn, resume, rate, share, per in rows:
        vals = [per.get(n, 0.0) for n in names]
        print("| %d | %s | %.1f | %.1f %% | %s | %.0f |" % (
            per_conn, "resumed" if resume else "full", rate, share * 100,
            " | ".join("%.0f" % v for v in vals), sum(per.values())))
    print("\nµs of CPU per connection (user+system), by process.")


if __name__ == "__main__":
    main()
