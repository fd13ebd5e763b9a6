#!/usr/bin/env python3
"""bench/timings.py: where relay time goes, from the kept scratch directories.

Usage: bench/timings.py WORK

WORK is the work directory of one run of tools/bench.sh (BENCH_WORK); the
harness keeps each scenario's directory there (run-*/ours-SCENARIO-N/),
and bench/mta-ours.sh's mta_stop leaves `smtpctl show stats` in its
stats.txt.  For every relay scenario the repeats are added up and the
means printed: the queue's commit (COMMIT received to COMMITTED sent,
the group commit's sync included), the scheduler's wait (commit durable
to IMSG_MTA_DELIVER sent), the outbound latency (IMSG_MTA_DELIVER to the
batch's last result), the wait for a connection slot, the set-up of an
outbound connection (connect to ready for MAIL), and messages per
outbound connection.  Counters are described in smtpd(8), STATISTICS.
"""
import glob
import os
import re
import sys

# (label, sum counter in microseconds, count counter)
MEANS = [
    ("queue commit", "queue.commit.us", "queue.commit.count"),
    ("scheduler wait", "queue.dispatch.wait.us", "queue.dispatch.wait.count"),
    ("outbound latency", "mta.latency.us", "mta.latency.count"),
    ("connection slot wait", "mta.pool.wait.us", "mta.pool.wait.count"),
    ("connection set-up", "mta.connect.us", "mta.connect.count"),
]


def read_stats(path):
    """name -> value of one stats.txt; lines that are not name=int are
    skipped (a process that did not answer, an error text)."""
    stats = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"^([A-Za-z0-9_.\-]+)=(-?\d+)$", line.strip())
            if m:
                stats[m.group(1)] = stats.get(m.group(1), 0) + int(m.group(2))
    return stats


def scenarios(work):
    """scenario id -> list of stats dicts, for ours' relay scenarios."""
    found = {}
    pattern = os.path.join(work, "run-*", "ours-relay-*", "stats.txt")
    for path in sorted(glob.glob(pattern)):
        name = os.path.basename(os.path.dirname(path))
        m = re.match(r"^ours-(relay-.+)-(\d+)$", name)
        if not m:
            continue
        found.setdefault(m.group(1), []).append(read_stats(path))
    return found


def total(runs, name):
    return sum(r.get(name, 0) for r in runs)


def mean_ms(runs, us, count):
    n = total(runs, count)
    if n == 0:
        return "-"
    return "%.2f ms (n=%d)" % (total(runs, us) / n / 1000.0, n)


def report(found):
    lines = ["Where relay time goes (ours; means over the scenario's runs)"]
    for scen in sorted(found):
        runs = found[scen]
        lines.append("  %s (%d run%s):" % (scen, len(runs),
                                            "" if len(runs) == 1 else "s"))
        for label, us, count in MEANS:
            lines.append("    %-22s %s" % (label, mean_ms(runs, us, count)))
        conns = total(runs, "mta.connection")
        tx = total(runs, "mta.transaction")
        per = "%.1f" % (tx / conns) if conns else "-"
        lines.append("    %-22s %s (%d transactions, %d connections)" %
                     ("messages/connection", per, tx, conns))
        batches = total(runs, "queue.commit.batch")
        commits = total(runs, "queue.commit.count")
        if batches:
            lines.append("    %-22s %.1f" % ("commits per sync",
                                            commits / batches))
    return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        print("usage: bench/timings.py WORK", file=sys.stderr)
        return 2
    found = scenarios(sys.argv[1])
    if not found:
        print("timings: no stats.txt of a relay scenario under %s" %
              sys.argv[1], file=sys.stderr)
        return 0
    print(report(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
