#!/usr/bin/python3
"""bench/bigqueue.py: a big deferred queue, ours beside Postfix ("make
bench-queue").

For each MTA (bench/mta-ours.sh, ../shared/bench/mta-postfix.sh), with
the sink down: inject --messages 1 KiB messages, one recipient each, to
user@dN.example for N < --domains (every domain takes the one smarthost
route), wait until all are deferred, then measure

  reload   restart -> queue loaded.  Ours: from the start of the daemon
           to its "queue loaded: N envelopes" log line (the queue process
           has read and checked every envelope and message file).
           Postfix: restart -> listening, and the time of `postsuper -s`
           (its queue structure check, the nearest thing to reading every
           queue file), since qmgr reads deferred mail only when a queue
           run brings it in (at most qmgr_message_active_limit at once).
  rss      the queue process's RSS once loaded and settled, minus an
           empty queue's, per message (ours: smtpd-queue; Postfix: qmgr),
           and its peak during the flush.
  show     `smtpctl show queue` against `postqueue -p`: wall time, octets.
  flush    sink started, `smtpctl schedule all` against `postqueue -f`:
           time until the sink has counted every message.

Prints a markdown table and writes it, with the raw figures as JSON, to
bench/results/bigqueue-TIMESTAMP/.  Run as root, under
`flock /tmp/bench.lock` (the cgroups are mtabench-q-*).  Scratch lives in
/var/tmp/bigqueue.PID and is removed at the end, unless --keep: removing
thousands of files just before the next MTA creates its own would slow
that one down (BENCHMARKS.md, "What limits us").
"""
import argparse
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.dirname(HERE)
SHARED = os.path.normpath(os.path.join(TREE, "..", "shared", "bench"))
if not os.path.isdir(SHARED):
    SHARED = "/work/shared/bench"

_spec = importlib.util.spec_from_file_location(
    "mtabench_runner", os.path.join(SHARED, "tools", "runner.py"))
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)

PLUGINS = {
    "ours": os.path.join(HERE, "mta-ours.sh"),
    "postfix": os.path.join(SHARED, "mta-postfix.sh"),
}
PF = os.path.join(runner.PEERS_PREFIX, "postfix")
PF_ENV = dict(os.environ, LD_LIBRARY_PATH=f"{PF}/usr/lib/postfix")
LDSO = "/lib64/ld-linux-x86-64.so.2"

TARGET_RELOAD_S = 10.0
TARGET_RSS_B = 300.0


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- injection
class Client:
    """A minimal pipelining SMTP client (MAIL, RCPT and DATA in one write)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.f = self.s.makefile("rb")
        self.reply(220)
        self.s.sendall(b"EHLO load.invalid\r\n")
        self.reply(250)

    def reply(self, want):
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("connection closed")
            if len(line) < 4 or line[3:4] != b"-":
                break
        code = int(line[:3])
        if code != want:
            raise RuntimeError(f"expected {want}, got {line!r}")

    def send(self, rcpt, body):
        self.s.sendall(b"MAIL FROM:<sender@load.invalid>\r\nRCPT TO:<" +
                       rcpt.encode() + b">\r\nDATA\r\n")
        self.reply(250)
        self.reply(250)
        self.reply(354)
        self.s.sendall(body)
        self.reply(250)

    def close(self):
        try:
            self.s.sendall(b"QUIT\r\n")
            self.s.close()
        except OSError:
            pass


def body_for(i):
    head = (f"From: <sender@load.invalid>\r\nTo: <u{i}@x.example>\r\n"
            f"Subject: bigqueue {i}\r\nMessage-ID: <bq{i}@load.invalid>\r\n"
            "\r\n")
    line = "x" * 62 + "\r\n"
    text = head + line * ((1024 - len(head)) // len(line))
    return text.encode() + b".\r\n"


def inject(port, n, domains, conc, per_conn=1000):
    """n messages over conc sessions; the number accepted."""
    done = [0] * conc
    errors = []

    def work(k):
        c = None
        try:
            for i in range(k, n, conc):
                if c is None:
                    c = Client(port)
                c.send(f"u{i}@d{i % domains}.example", body_for(i))
                done[k] += 1
                if done[k] % per_conn == 0:
                    c.close()
                    c = None
        except (OSError, RuntimeError) as e:
            errors.append(str(e))
        if c is not None:
            c.close()

    ts = [threading.Thread(target=work, args=(k,)) for k in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        log("inject errors:", errors[:3])
    return sum(done)


# ----------------------------------------------------------------- the MTAs
def proc_rss(cg, comm):
    """RSS in bytes of the cgroup's process named comm, or None."""
    for pid in cg.pids():
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != comm:
                    continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            continue
    return None


def wait_for(pred, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


class Bench:
    """One MTA through the whole sequence; figures in self.r."""

    queue_comm = None

    def __init__(self, name, a, env, d):
        self.name, self.a, self.d = name, a, d
        self.env = dict(env, DIR=d)
        self.cg = runner.Cgroup(f"q-mta-{name}")
        self.r = {"mta": name}

    def sh(self, func, in_cgroup=False, timeout=120):
        e = dict(os.environ)
        e.update(self.env)
        script = f'set -e; source "$1"; {func}'
        return subprocess.run(["bash", "-c", script, "bq", PLUGINS[self.name]],
                              env=e, capture_output=True, text=True,
                              timeout=timeout,
                              preexec_fn=self.cg.add_self if in_cgroup else None)

    def start(self, n):
        """Start; (seconds to listening, seconds to the queue loaded)."""
        os.makedirs(self.d, exist_ok=True)
        os.chmod(self.d, 0o755)
        t0 = time.monotonic()
        p = self.sh("mta_start", in_cgroup=True)
        if p.returncode != 0:
            raise RuntimeError(f"{self.name}: mta_start: {p.stderr[-500:]}")
        loaded = self.loaded(n, t0)
        if not runner.wait_listening(int(self.env["PORT_IN"]), 120):
            raise RuntimeError(f"{self.name}: not listening")
        listen = time.monotonic() - t0
        return listen, listen if loaded is None else loaded

    def stop(self):
        self.sh("mta_stop", timeout=120)
        wait_for(lambda: not self.cg.pids(), 60)
        self.cg.kill_leftovers()

    def run(self, sink):
        n, domains = self.a.messages, self.a.domains
        self.start(0)
        time.sleep(1)
        empty = proc_rss(self.cg, self.queue_comm)
        self.r["rss_empty"] = empty
        log(self.name, f"injecting {n} messages to {domains} domains")
        t0 = time.monotonic()
        got = inject(int(self.env["PORT_IN"]), n, domains, self.a.conc)
        self.r["inject_s"] = time.monotonic() - t0
        self.r["accepted"] = got
        log(self.name, f"accepted {got} in {self.r['inject_s']:.1f} s")
        if not wait_for(lambda: self.deferred() >= got, self.a.timeout, 1):
            log(self.name, "not everything deferred in time")
        self.settle()
        self.stop()
        log(self.name, "restarting")
        self.r["listen_s"], self.r["reload_s"] = self.start(got)
        self.settle()
        rss = proc_rss(self.cg, self.queue_comm)
        self.r["rss_loaded"] = rss
        if rss is not None and empty is not None and got:
            self.r["rss_per_msg"] = (rss - empty) / got
        self.extra()
        t0 = time.monotonic()
        out = self.show()
        self.r["show_s"] = time.monotonic() - t0
        self.r["show_bytes"] = len(out)
        self.r["show_lines"] = out.count(b"\n")
        log(self.name, f"show queue: {self.r['show_s']:.2f} s")
        sink.start()
        base = sink.count
        peak = [rss or 0]

        def flushed():
            v = proc_rss(self.cg, self.queue_comm)
            if v is not None and v > peak[0]:
                peak[0] = v
            return sink.count - base >= got
        t0 = time.monotonic()
        self.flush()
        ok = wait_for(flushed, self.a.timeout, 0.1)
        self.r["flush_s"] = time.monotonic() - t0 if ok else None
        self.r["flushed"] = sink.count - base
        self.r["rss_peak_flush"] = peak[0]
        log(self.name, f"flush: {self.r['flushed']} at the sink, "
            f"{self.r['flush_s']} s")
        self.stop()
        sink.stop()
        return self.r

    def settle(self):
        pass

    def extra(self):
        pass


class Ours(Bench):
    queue_comm = "smtpd-queue"

    def ctl(self, *args, timeout=600):
        return subprocess.run([os.path.join(TREE, "bin", "smtpctl"), "-s",
                               os.path.join(self.d, "smtpd.sock"), *args],
                              capture_output=True, timeout=timeout)

    def status(self):
        p = self.ctl("show", "status", timeout=60)
        return dict(re.findall(r"^([\w.]+)=(\S+)$", p.stdout.decode(), re.M))

    def deferred(self):
        st = self.status()
        if st.get("queue.envelope.inflight") != "0":
            return 0
        return int(st.get("queue.envelope.count", 0))

    def settle(self):
        # every domain's probe has failed and nothing is in flight twice
        # in a row, a second apart
        quiet = 0
        end = time.monotonic() + self.a.timeout
        while quiet < 2 and time.monotonic() < end:
            quiet = quiet + 1 if self.status().get(
                "queue.envelope.inflight") == "0" else 0
            time.sleep(1)

    def loaded(self, n, t0):
        """Seconds from t0 to the queue's "queue loaded" line (mta_start
        has truncated the log)."""
        rx = re.compile(r"queue loaded: (\d+) envelopes")
        logf = os.path.join(self.d, "smtpd.log")

        def found():
            with open(logf, errors="replace") as f:
                m = rx.search(f.read())
            return time.monotonic() if m and int(m.group(1)) >= n else None
        t = wait_for(found, self.a.timeout, 0.02)
        return t - t0 if t else None

    def show(self):
        return self.ctl("show", "queue").stdout

    def flush(self):
        self.ctl("schedule", "all")


class Postfix(Bench):
    queue_comm = "qmgr"

    def pf(self, prog, *args, timeout=600):
        # postqueue is setgid postdrop, so the loader would ignore
        # LD_LIBRARY_PATH: run it through the loader (as root)
        return subprocess.run([LDSO, "--library-path", f"{PF}/usr/lib/postfix",
                               f"{PF}/usr/sbin/{prog}", "-c",
                               os.path.join(self.d, "etc"), *args],
                              capture_output=True, env=PF_ENV, timeout=timeout)

    def count(self, q):
        return sum(len(fs) for _, _, fs in
                   os.walk(os.path.join(self.d, "spool", q)))

    def deferred(self):
        if self.count("incoming") or self.count("active"):
            return 0
        return self.count("deferred")

    def loaded(self, n, t0):
        return None

    def extra(self):
        t0 = time.monotonic()
        self.pf("postsuper", "-s")
        self.r["postsuper_s"] = time.monotonic() - t0

    def show(self):
        return self.pf("postqueue", "-p").stdout

    def flush(self):
        self.pf("postqueue", "-f")


# ----------------------------------------------------------------- report
def fmt(v, spec="{:.2f}"):
    return "-" if v is None else spec.format(v)


def table(res, a):
    o, p = res.get("ours", {}), res.get("postfix", {})

    def met(v, target):
        return "-" if v is None else ("yes" if v <= target else "no")
    rows = [
        "| measure | ours | Postfix | target (ours) | met? |",
        "|---|---|---|---|---|",
        f"| messages accepted (inject s) | {o.get('accepted', '-')} "
        f"({fmt(o.get('inject_s'), '{:.1f}')}) | {p.get('accepted', '-')} "
        f"({fmt(p.get('inject_s'), '{:.1f}')}) | | |",
        f"| restart -> listening, s | {fmt(o.get('listen_s'))} | "
        f"{fmt(p.get('listen_s'))} | | |",
        f"| restart -> queue loaded, s | {fmt(o.get('reload_s'))} | "
        f"{fmt(p.get('reload_s'))} (postsuper -s {fmt(p.get('postsuper_s'))}) | <= {TARGET_RELOAD_S:g} | "
        f"{met(o.get('reload_s'), TARGET_RELOAD_S)} |",
        f"| queue RSS empty, KiB | {fmt((o.get('rss_empty') or 0) / 1024, '{:.0f}')} | "
        f"{fmt((p.get('rss_empty') or 0) / 1024, '{:.0f}')} | | |",
        f"| queue RSS loaded, KiB | {fmt((o.get('rss_loaded') or 0) / 1024, '{:.0f}')} | "
        f"{fmt((p.get('rss_loaded') or 0) / 1024, '{:.0f}')} | | |",
        f"| (loaded - empty) / message, B | {fmt(o.get('rss_per_msg'), '{:.0f}')} | "
        f"{fmt(p.get('rss_per_msg'), '{:.0f}')} | <= {TARGET_RSS_B:g} | "
        f"{met(o.get('rss_per_msg'), TARGET_RSS_B)} |",
        f"| queue RSS peak in the flush, KiB | "
        f"{fmt((o.get('rss_peak_flush') or 0) / 1024, '{:.0f}')} | "
        f"{fmt((p.get('rss_peak_flush') or 0) / 1024, '{:.0f}')} | | |",
        f"| show queue / postqueue -p, s | {fmt(o.get('show_s'))} | "
        f"{fmt(p.get('show_s'))} | | |",
        f"| ... output, lines / KiB | {o.get('show_lines', '-')} / "
        f"{fmt((o.get('show_bytes') or 0) / 1024, '{:.0f}')} | "
        f"{p.get('show_lines', '-')} / "
        f"{fmt((p.get('show_bytes') or 0) / 1024, '{:.0f}')} | | |",
        f"| schedule all / postqueue -f -> all at the sink, s | "
        f"{fmt(o.get('flush_s'))} | {fmt(p.get('flush_s'))} | | |",
        f"| ... at the sink | {o.get('flushed', '-')} | "
        f"{p.get('flushed', '-')} | | |",
    ]
    head = (f"{a.messages} messages of 1 KiB to {a.domains} domains, "
            f"{a.conc} injecting sessions; one run, shared 2-core machine "
            f"(noisy: compare within the run)\n\n")
    return head + "\n".join(rows) + "\n"


def make_cert(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-days", "2", "-subj", "/CN=bigqueue.invalid",
                    "-keyout", os.path.join(d, "key.pem"),
                    "-out", os.path.join(d, "cert.pem")],
                   check=True, capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--domains", type=int, default=10000)
    ap.add_argument("--conc", type=int, default=10)
    ap.add_argument("--mta", default="ours,postfix")
    ap.add_argument("--port-in", type=int, default=24125)
    ap.add_argument("--port-sink", type=int, default=24126)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--results", default=os.path.join(TREE, "bench",
                                                       "results"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bigqueue: run as root")
    runner.become_subreaper()
    work = f"/var/tmp/bigqueue.{os.getpid()}"
    os.makedirs(work)
    make_cert(work)
    env = dict(PORT_IN=str(a.port_in), PORT_SINK=str(a.port_sink),
               CERT=os.path.join(work, "cert.pem"),
               KEY=os.path.join(work, "key.pem"))
    res = {}
    classes = {"ours": Ours, "postfix": Postfix}
    try:
        for name in a.mta.split(","):
            sink = runner.Sink(a.port_sink, runner.Cgroup("q-sink"),
                               os.path.join(work, f"sink-{name}.log"))
            b = classes[name](name, a, env, os.path.join(work, name))
            try:
                res[name] = b.run(sink)
            finally:
                b.stop()
                sink.stop()
                b.cg.remove()
                sink.cg.remove()
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log("scratch kept in", work)
    out = table(res, a)
    print(out)
    rd = os.path.join(a.results, "bigqueue-" + time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(rd, exist_ok=True)
    with open(os.path.join(rd, "report.md"), "w") as f:
        f.write(out)
    with open(os.path.join(rd, "results.json"), "w") as f:
        json.dump({"args": vars(a), "results": res}, f, indent=1)
    log("results in", rd)


if __name__ == "__main__":
    main()
