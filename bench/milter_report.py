#!/usr/bin/python3
"""bench/milter_report.py RESULTS WORK: the table of "make bench-milter"
(tools/bench_milter.sh): relay-1k-s10 with OpenDKIM signing, ours beside
Postfix, from the harness's RESULTS/results.jsonl and the scratch
directories it kept in WORK.

OpenDKIM runs in a cgroup of its own (bench/opendkim.sh), so the
harness's CPU-s per 1000 is the MTA's alone; each scratch directory's
opendkim.cpu holds OpenDKIM's own CPU over its whole life, which also
signed the harness's 20 warm-up messages, so its CPU-s per 1000 is that
over (delivered + 20).
Prints markdown; writes it to RESULTS/milter.md too."""
import json
import os
import statistics
import sys

WARMUP = 20


def opendkim_cpu(work, rec):
    """OpenDKIM's user+system seconds in that run's directory, or None."""
    for run in sorted(os.listdir(work)):
        path = os.path.join(work, run, "%s-%s-%d" % (
            rec["mta"], rec["scenario"], rec["rep"]), "opendkim.cpu")
        try:
            with open(path) as f:
                return sum(float(x) for x in f.read().split())
        except OSError:
            continue
    return None


def rows(results, work):
    out = {}
    with open(os.path.join(results, "results.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("status") != "ok" or not rec.get("delivered"):
                continue
            dk = opendkim_cpu(work, rec)
            if dk is None:
                continue
            dkim = dk / (rec["delivered"] + WARMUP) * 1000
            out.setdefault(rec["mta"], []).append(
                (rec["rate"], rec["cpu_s_per_1000"], dkim))
    return out


def main():
    results, work = sys.argv[1], sys.argv[2]
    lines = ["| MTA | runs | msgs/s (median) | CPU-s/1000, MTA |"
             " CPU-s/1000, its OpenDKIM |",
             "|---|---:|---:|---:|---:|"]
    for mta, runs in sorted(rows(results, work).items()):
        med = [statistics.median(c) for c in zip(*runs)]
        lines.append("| %s | %d | %.0f | %.3f | %.3f |"
                     % (mta, len(runs), *med))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(results, "milter.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
