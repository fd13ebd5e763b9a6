#!/usr/bin/env python3
"""bench/deliver_run.py: one load of local deliveries and the time until
the last one is in its mailbox (tools/bench_deliver.sh, "make
bench-deliver").

  deliver_run.py SMTPLOAD PORT DOMAIN MESSAGES CONNS SECONDS DRAIN \
      USER=KIND:PATH ...

For each USER (KIND mbox: PATH is the user's mbox file; maildir: PATH is
the Maildir) one SMTPLOAD process (the shared harness's smtpload.py)
sends its share of MESSAGES to USER@DOMAIN on 127.0.0.1:PORT over
CONNS / number of users persistent sessions, for at most SECONDS.  While
they run and then for at most DRAIN seconds more, the mailboxes are
counted every 50 ms (an mbox by its "From " lines, read from where the
last look ended; a Maildir by the files in new/ and cur/), until they
hold every accepted message.  Then each is counted once more in full
(Python's mailbox module).  Prints one line:

  accepted A delivered D seconds S accept_seconds T failures F errors E

S is from the start of the load to the look that saw the last message,
T until the last load process ended.  Exit 1 if D is not A (too few or
too many), if a message transaction failed, or if nothing was accepted.
"""
import json
import mailbox
import os
import subprocess
import sys
import time

POLL = 0.05


class Mbox:
    """The number of messages of an mbox file that only grows."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.count = 0
        self.last = b"\n"

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.count
        if data:
            # a From_ line starts the file or follows a newline; ">From "
            # quoting keeps body lines from looking like one
            self.count += (self.last + data).count(b"\nFrom ")
            self.offset += len(data)
            self.last = data[-1:]
        return self.count

    def final(self):
        if not os.path.exists(self.path):
            return 0
        box = mailbox.mbox(self.path, create=False)
        try:
            return len(box.keys())
        finally:
            box.close()


class Maildir:
    def __init__(self, path):
        self.path = path

    def poll(self):
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(self.path, sub)))
            except FileNotFoundError:
                pass
        return n

    def final(self):
        if not os.path.isdir(self.path):
            return 0
        return len(mailbox.Maildir(self.path, create=False).keys())


def boxes_of(specs):
    out = []
    for spec in specs:
        user, _, target = spec.partition("=")
        kind, _, path = target.partition(":")
        if kind not in ("mbox", "maildir") or not user or not path:
            sys.exit("deliver_run: bad target %r" % spec)
        out.append((user, Mbox(path) if kind == "mbox" else Maildir(path)))
    return out


def start_loads(smtpload, port, domain, total, conns, seconds, users):
    procs = []
    per_user_conns = max(1, conns // len(users))
    for i, user in enumerate(users):
        share = total // len(users) + (1 if i < total % len(users) else 0)
        procs.append(subprocess.Popen(
            [sys.executable, smtpload, "--port", str(port),
             "--conc", str(per_user_conns), "--messages", str(share),
             "--time", str(seconds), "--per-conn", "0", "--size", "1024",
             "--sender", "bench@load.invalid",
             "--rcpt", "%s@%s" % (user, domain)],
            stdout=subprocess.PIPE, text=True))
    return procs


def load_result(proc):
    """The counts of a load process's last line; one that printed none
    (it died) is a failure."""
    lines = proc.stdout.read().strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"ok": 0, "fail": 1,
                "errors": {"load exited %d without counts" % proc.returncode:
                           1}}


def main():
    if len(sys.argv) < 9:
        sys.exit(__doc__)
    smtpload, port, domain = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    total, conns = int(sys.argv[4]), int(sys.argv[5])
    seconds, drain = float(sys.argv[6]), float(sys.argv[7])
    boxes = boxes_of(sys.argv[8:])
    t0 = time.monotonic()
    procs = start_loads(smtpload, port, domain, total, conns, seconds,
                        [u for u, _ in boxes])
    accepted = failures = None
    errors = {}
    t_accept = t_last = None
    deadline = None
    seen = 0
    while True:
        n = sum(b.poll() for _, b in boxes)
        now = time.monotonic()
        if n != seen:
            seen, t_last = n, now
        if accepted is None and all(p.poll() is not None for p in procs):
            t_accept = now
            accepted = failures = 0
            for p in procs:
                r = load_result(p)
                accepted += r["ok"]
                failures += r["fail"]
                errors.update(r["errors"])
            deadline = now + drain
        if accepted is not None and (seen >= accepted or now >= deadline):
            break
        time.sleep(POLL)
    delivered = sum(b.final() for _, b in boxes)
    print("accepted %d delivered %d seconds %.3f accept_seconds %.3f "
          "failures %d errors %s" % (
              accepted, delivered, (t_last or now) - t0, t_accept - t0,
              failures, json.dumps(errors, separators=(",", ":")) or "{}"))
    sys.exit(0 if accepted and delivered == accepted and not failures
             else 1)


if __name__ == "__main__":
    main()
