#!/usr/bin/python3
"""bench/extra.py: the scenarios of issue 14 that ../shared/bench lacks,
each run for ours and for Postfix in one run, so their ratio means
something on this shared machine.  "make bench-extra"; "make bench" runs
it after the shared harness (BENCH_EXTRA=0 skips it).

  idle-10000                10 000 connections, greeting + EHLO, held idle:
                            PSS and RSS per session over all the MTA's
                            processes, and how many were served
  accept-1k-s{1,10,50,200}  sink stopped, smtp-source -d -s N: acceptance
                            into the queue (the harness has s10 and s50)
  big-35m                   one 35 MB message relayed to the sink: the
                            RSS growth of each process (peak minus before)
  churn-tls-full-c50        bin/tls_churn (bench/tls_churn.c; the Python
                            bench/tls_churn.py where it is not built), 50
                            workers, one STARTTLS and one message per
                            connection, fresh sessions
  churn-tls-resumed-c50     the same, each worker offering its previous
                            session; prints the share actually resumed
  churn-tls-{full,resumed}-c50-nomsg
                            the same with STARTTLS and QUIT only, no
                            message: the handshakes without the commit
  tls-ceiling               openssl s_server + s_time -new and -reuse with
                            the same certificate (the raw handshake rate)

The harness's classes (Cgroup, MTA, Sink, Load, Runner, smtp_source_cmd)
are imported from its tools/runner.py by path; this file's cgroups are
named mtabench-x-* so they are not the harness's own.  Scratch
directories are kept until the end of the run: removing thousands of
queue files right before a scenario slows every file created after it
(BENCHMARKS.md, "What limits us").  Writes extra.jsonl and extra.md into
--results and prints the table.  Run it under flock /tmp/bench.lock.
"""
import argparse
import importlib.util
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.dirname(HERE)
HARNESS = os.path.abspath(os.environ.get(
    "BENCH_HARNESS", os.path.join(TREE, "..", "shared", "bench")))


def harness_runner():
    path = os.path.join(HARNESS, "tools", "runner.py")
    spec = importlib.util.spec_from_file_location("mtabench_runner", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


R = harness_runner()
PY = R.PY

PLUGINS = {
    "ours": os.path.join(HERE, "mta-ours.sh"),
    "postfix": os.path.join(HARNESS, "mta-postfix.sh"),
}
# (MTA, scenario) -> (another plugin or None, extra environment, what
# changed): where a scenario needs a setting the plugin does not have
VARIANTS = {
    ("ours", "idle-10000"): (None, {"OURS_LIMIT_SESSIONS": "10500"},
                             "limit sessions and sessions-per-address 10500 "
                             "(OURS_LIMIT_SESSIONS; plugin default 4096)"),
    ("postfix", "big-35m"): (os.path.join(HERE, "mta-postfix-big.sh"), {},
                             "message_size_limit 50000000 (shipped 10240000), "
                             "bench/mta-postfix-big.sh"),
}
# (MTA, scenario) -> what the report should say though nothing changed
NOTES = {
    ("postfix", "idle-10000"): "as shipped: default_process_limit 100, so "
                               "at most 100 sessions are served at once",
}
# the processes whose growth big-35m judges
FRONT = {"ours": "smtpd-smtp", "postfix": "smtpd"}
OUTBOUND = {"ours": "smtpd-mta", "postfix": "smtp"}

ACCEPT_STEPS = (1, 10, 50, 200)
BIG_SIZE = 35 * 1000 * 1000
IDLE_N = 10000


def log(*args):
    print("[extra]", *args, file=sys.stderr, flush=True)


def scenarios():
    """In running order: idle-10000 first, as it creates no files, which
    gives the file system time to forget the deletions of whatever ran
    before (make bench runs the harness first) before accept-1k creates
    thousands."""
    out = [dict(id="idle-10000", kind="idle", n=IDLE_N,
                desc=f"{IDLE_N} connections, greeting + EHLO, idle; "
                     "RSS/PSS of all the MTA's processes minus before")]
    for c in ACCEPT_STEPS:
        out.append(dict(id=f"accept-1k-s{c}", kind="accept", tool="smtp-source",
                        size=1024, conc=c, persistent=True,
                        desc=f"sink stopped; smtp-source -d -s {c}: "
                             "acceptance into the queue only"))
    out.append(dict(id="big-35m", kind="relay", tool="x-big", size=BIG_SIZE,
                    desc="one 35 000 000-byte message relayed to the sink; "
                         "RSS growth (peak minus before) per process"))
    for per_conn, suffix in ((1, ""), (0, "-nomsg")):
        for resume in (False, True):
            name = "resumed" if resume else "full"
            out.append(dict(id=f"churn-tls-{name}-c50{suffix}", kind="churn",
                            tool="x-tls", tls=True, resume=resume, conc=50,
                            size=1024, per_conn=per_conn,
                            desc="bench/tls_churn.c, 50 workers, STARTTLS and " +
                                 ("one message" if per_conn else "QUIT, no "
                                  "message,") + " per connection, " +
                                 ("offering the previous session" if resume
                                  else "fresh sessions")))
    return out



def churn_client():
    """The C churn client (make bench builds it), else the Python one,
    whose own CPU bounded the resumed rate here."""
    c = os.path.join(HERE, "..", "bin", "tls_churn")
    if os.access(c, os.X_OK):
        return [os.path.normpath(c)]
    return [PY, os.path.join(HERE, "tls_churn.py")]

class XMTA(R.MTA):
    """The harness's MTA, in a cgroup of this file's own."""

    def __init__(self, name, plugin, env):
        self.name, self.plugin = name, plugin
        self.env = dict(env)
        self.cg = R.Cgroup(f"x-mta-{name}")
        self.dir = None


def proc_status(pid):
    d = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Name", "VmRSS", "VmHWM"):
                    d[k] = v.split()[0] if k != "Name" else v.strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if "VmRSS" not in d:
        return None
    return d["Name"], int(d["VmRSS"]), int(d.get("VmHWM", 0))


class MemSampler(threading.Thread):
    """Samples VmRSS and VmHWM of every process of a cgroup every 10 ms."""

    def __init__(self, cg):
        super().__init__(daemon=True)
        self.cg = cg
        self.procs = {}
        self.halt = threading.Event()
        self.sample(new=False)

    def sample(self, new=True):
        for pid in self.cg.pids():
            st = proc_status(pid)
            if st is None:
                continue
            name, rss, hwm = st
            p = self.procs.get(pid)
            if p is None:
                self.procs[pid] = dict(name=name, rss0=rss, hwm0=hwm,
                                       rss_max=rss, hwm=hwm, new=new)
                continue
            p["rss_max"] = max(p["rss_max"], rss)
            p["hwm"] = hwm

    def run(self):
        while not self.halt.wait(0.01):
            self.sample()

    def stop(self):
        self.halt.set()
        self.join(2)
        self.sample()

    def growth(self):
        """Per process name: the largest peak-minus-before of its processes."""
        out, count = {}, {}
        for pid, p in self.procs.items():
            peak = p["rss_max"]
            if p["hwm"] > p["hwm0"]:
                peak = max(peak, p["hwm"])
            g = peak - p["rss0"]
            count[p["name"]] = count.get(p["name"], 0) + 1
            cur = out.get(p["name"])
            if cur is None or g > cur["growth_kib"]:
                out[p["name"]] = dict(growth_kib=g, rss_before_kib=p["rss0"],
                                      peak_kib=peak, pid=pid,
                                      started_during_load=p["new"])
        for name, n in count.items():
            out[name]["processes"] = n
        return out


def mem_by_name(cg):
    """Rss and Pss (KiB) of a cgroup's processes, summed per process name."""
    out = {}
    for pid in cg.pids():
        try:
            with open(f"/proc/{pid}/comm") as f:
                name = f.read().strip()
            rss = pss = 0
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss = int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss = int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        e = out.setdefault(name, dict(rss_kib=0, pss_kib=0, procs=0))
        e["rss_kib"] += rss
        e["pss_kib"] += pss
        e["procs"] += 1
    return out


def count_in_logs(d, pattern):
    rx = re.compile(pattern)
    n = 0
    for name in ("smtpd.log", "maillog"):
        try:
            with open(os.path.join(d, name), errors="replace") as f:
                n += sum(1 for line in f if rx.search(line))
        except FileNotFoundError:
            pass
    return n


class Extra(R.Runner):
    """The harness's Runner with this file's cgroups and scenarios."""

    def __init__(self, a):
        self.a = a
        self.port_in, self.port_sink = a.port_in, a.port_sink
        self.cg_load = R.Cgroup("x-load")
        self.cg_sink = R.Cgroup("x-sink")
        self.cg_ctl = R.Cgroup("x-ctl")
        self.cg_ctl.add_self()
        self.out = open(a.results, "a")
        self.budget_n = a.messages
        self.budget_t = a.time
        self.drain_t = a.drain

    def warmup(self, mta, sc, sink):
        # big-35m warms up with small messages, like every other scenario
        super().warmup(mta, dict(sc, size=1024), sink)

    def measure_load(self, mta, sc, sink):
        if sc["tool"] == "x-big":
            return self.measure_big(mta, sc, sink)
        if sc["tool"] == "x-tls":
            return self.measure_tls(mta, sc, sink)
        return super().measure_load(mta, sc, sink)

    def measure_idle(self, mta, sc):
        time.sleep(1.0)
        base = [mta.cg.mem() for _ in range(3)]
        base_by_name = mem_by_name(mta.cg)
        setup = self.a.idle_setup
        cmd = [PY, os.path.join(R.TOOLS, "idleconns.py"), "--port", str(self.port_in),
               "-n", str(sc["n"]), "--parallel", "200", "--timeout", "5",
               "--setup-time", str(setup), "--hold", "300"]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             preexec_fn=self.cg_load.add_self)
        ready = None
        try:
            end = time.monotonic() + setup + 30
            while time.monotonic() < end:
                line = p.stdout.readline()
                if not line:
                    break
                if line.startswith(b"READY "):
                    ready = json.loads(line[6:])
                    break
            time.sleep(2.0)
            loaded = [mta.cg.mem() for _ in range(3)]
            loaded_by_name = mem_by_name(mta.cg)
        finally:
            p.stdin.close()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if not ready:
            raise RuntimeError("idleconns did not report READY")
        med = lambda xs, k: statistics.median(x[k] for x in xs)
        served = ready["ehlo_ok"]
        d_rss = med(loaded, "rss_kib") - med(base, "rss_kib")
        d_pss = med(loaded, "pss_kib") - med(base, "pss_kib")
        per_name = {}
        for name, e in loaded_by_name.items():
            b = base_by_name.get(name, dict(rss_kib=0, pss_kib=0, procs=0))
            per_name[name] = dict(procs=e["procs"], procs_before=b["procs"],
                                  rss_kib=e["rss_kib"] - b["rss_kib"],
                                  pss_kib=e["pss_kib"] - b["pss_kib"])
        return dict(idle=ready, served=served, wanted=sc["n"],
                    base_rss_kib=med(base, "rss_kib"), base_pss_kib=med(base, "pss_kib"),
                    loaded_rss_kib=med(loaded, "rss_kib"), loaded_pss_kib=med(loaded, "pss_kib"),
                    nprocs_base=base[-1]["nprocs"], nprocs_loaded=loaded[-1]["nprocs"],
                    by_process=per_name,
                    # ours: "connection ... refused on L: too many sessions";
                    # Postfix: "service ... has reached its process limit"
                    refused_in_log=count_in_logs(mta.dir, r"refused on .*too many|"
                                                 r"reached its process limit"),
                    kib_per_conn_rss=round(d_rss / served, 2) if served else None,
                    kib_per_conn_pss=round(d_pss / served, 2) if served else None)

    def measure_big(self, mta, sc, sink):
        time.sleep(0.5)
        sampler = MemSampler(mta.cg)
        sampler.start()
        c0 = sink.count
        cmd = R.smtp_source_cmd(self.port_in, 1, 1, sc["size"], True)
        ld = R.Load(cmd, self.cg_load, "smtp-source")
        t0 = time.monotonic()
        ld.start()
        try:
            end = t0 + 120
            while ld.running() and time.monotonic() < end:
                time.sleep(0.05)
            ld.finish(5)
            t_load = time.monotonic()
            end = time.monotonic() + 120
            while sink.count - c0 < 1 and time.monotonic() < end:
                time.sleep(0.05)
            t_sink = time.monotonic()
            time.sleep(1.0)
        finally:
            sampler.stop()
        g = sampler.growth()
        front, out = g.get(FRONT[mta.name], {}), g.get(OUTBOUND[mta.name], {})
        return dict(size=sc["size"], accepted=ld.accepted, delivered=sink.count - c0,
                    load_s=round(t_load - t0, 2), e2e_s=round(t_sink - t0, 2),
                    client_stderr=(getattr(ld, "stderr", "") or "")[-300:],
                    by_process=g,
                    front_growth_kib=front.get("growth_kib"),
                    outbound_growth_kib=out.get("growth_kib"))

    def measure_tls(self, mta, sc, sink):
        cmd = churn_client() + ["--port", str(self.port_in),
               "--conc", str(sc["conc"]),
               # bounded by time: at this rate a message budget ends a run in
               # 2-3 s, too short for a machine this noisy
               "--messages", str(max(self.budget_n, int(self.budget_t * 2000))),
               "--time", str(self.budget_t), "--size", str(sc["size"]), "--progress",
               "--sender", R.SENDER, "--rcpt", R.RCPT,
               "--per-conn", str(sc.get("per_conn", 1))]
        if sc["resume"]:
            cmd.append("--resume")
        c0 = sink.count
        m0, l0 = mta.cg.cpu(), self.cg_load.cpu()
        ld = R.Load(cmd, self.cg_load, "py")
        t0 = time.monotonic()
        ld.start()
        end = t0 + self.budget_t + 45
        while ld.running() and time.monotonic() < end:
            time.sleep(0.05)
        if ld.running():
            ld.signal(signal.SIGTERM)
        ld.finish(10)
        m1, l1 = mta.cg.cpu(), self.cg_load.cpu()
        t_load = time.monotonic() - t0
        dend = time.monotonic() + self.drain_t
        while sink.count - c0 < ld.accepted and time.monotonic() < dend:
            time.sleep(0.05)
        fin = ld.final or {}
        cpu = sum(m1) - sum(m0)
        return dict(client=fin, accepted=ld.accepted, delivered=sink.count - c0,
                    rate=fin.get("rate"), resumed_share=fin.get("resumed_share"),
                    mta_cpu_s=round(cpu, 3),
                    load_cpu_util=round((sum(l1) - sum(l0)) / t_load, 2),
                    cpu_s_per_1000=round(cpu / ld.accepted * 1000, 3) if ld.accepted else None,
                    client_stderr=(getattr(ld, "stderr", "") or "")[-300:])

    def plugin_for(self, name, sc_id, env):
        plugin, extra, what = VARIANTS.get((name, sc_id), (None, {}, None))
        e = dict(env)
        e.update(extra)
        return XMTA(name, plugin or PLUGINS[name], e), what or NOTES.get((name, sc_id))

    def run_all(self, names, env, only):
        done = {}
        for name in names:
            info = XMTA(name, PLUGINS[name], env)
            self.emit(dict(type="mta", mta=name, **info.info()))
            info.cg.remove()
        for sc in scenarios():
            if only and sc["id"] not in only:
                continue
            for name in names:
                mta, change = self.plugin_for(name, sc["id"], env)
                # what the last run left dirty is written back now, not
                # during this run's measurement
                os.sync()
                t = time.monotonic()
                rec = self.run_scenario(mta, sc, 1, True)
                rec.update(type="result", wall_s=round(time.monotonic() - t, 1),
                           plugin=os.path.relpath(mta.plugin, TREE), change=change)
                self.emit(rec)
                mta.cg.kill_leftovers(1)
                mta.cg.remove()
                done[(sc["id"], name)] = rec
                log(f"{name}/{sc['id']} ({rec['wall_s']} s): {summary(rec)}")
        return done


def summary(rec):
    keys = ("status", "rate", "served", "kib_per_conn_pss", "front_growth_kib",
            "outbound_growth_kib", "resumed_share", "reason")
    return {k: rec[k] for k in keys if rec.get(k) is not None}


# ----------------------------------------------------------------------------- ceiling
def s_time(port, mode, secs, parallel):
    """parallel openssl s_time clients; handshakes per second and resumed share."""
    args = ["-new"] if mode == "new" else ["-reuse", "-www", "/"]
    t0 = time.monotonic()
    procs = [subprocess.Popen(["openssl", "s_time", "-connect", f"127.0.0.1:{port}", *args,
                               "-time", str(secs)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for _ in range(parallel)]
    total = 0.0
    reused = marks = 0
    for p in procs:
        out, _ = p.communicate(timeout=secs + 60)
        wall = time.monotonic() - t0
        m = re.search(r"(\d+) connections in [\d.]+ real seconds", out)
        if m:
            total += int(m.group(1)) / wall
        # s_time prints one mark per connection: 'r' when it was resumed
        progress = "".join(l for l in out.splitlines() if re.fullmatch(r"[*rt3]+", l.strip()))
        reused += progress.count("r")
        marks += len(progress)
    return dict(per_s=round(total, 1), parallel=parallel, seconds=secs,
                resumed_share=round(reused / marks, 3) if marks else None)


def tls_ceiling(cert, key, port, secs):
    srv = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", cert,
                            "-key", key, "-www", "-quiet", "-naccept", "1000000"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.7)
        par = os.cpu_count() or 2
        return dict(new=s_time(port, "new", secs, par), reuse=s_time(port, "reuse", secs, par))
    finally:
        srv.terminate()
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


# ----------------------------------------------------------------------------- report
def fmt(v, nd=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def ratio(a, b):
    return float(f"{a / b:.3g}") if a is not None and b else None


def met(ok):
    return "–" if ok is None else ("yes" if ok else "**no**")


def get(done, sc, name, key):
    rec = done.get((sc, name))
    if rec is None or rec.get("status") != "ok":
        return None
    return rec.get(key)


def accept_rows(done):
    rows = []
    prev = None
    for c in ACCEPT_STEPS:
        sc = f"accept-1k-s{c}"
        o, p = get(done, sc, "ours", "rate"), get(done, sc, "postfix", "rate")
        if (sc, "ours") not in done:
            prev = None
            continue
        targets, oks = [], []
        if c in (10, 50):
            targets.append("≥ 4x Postfix")
            r = ratio(o, p)
            oks.append(None if r is None else r >= 4)
        if prev is not None:
            targets.append(f"≥ 0.9x s{prev[0]}")
            oks.append(None if o is None or prev[1] is None else o >= 0.9 * prev[1])
        ok = None if not oks or None in oks else all(oks)
        rows.append((sc, "msgs/s accepted", o, p, ratio(o, p), "; ".join(targets) or "–", met(ok)))
        prev = (c, o)
    return rows


def idle_rows(done):
    sc = "idle-10000"
    if (sc, "ours") not in done:
        return []
    so, sp = get(done, sc, "ours", "served"), get(done, sc, "postfix", "served")
    po, pp = get(done, sc, "ours", "kib_per_conn_pss"), get(done, sc, "postfix", "kib_per_conn_pss")
    ro, rp = get(done, sc, "ours", "kib_per_conn_rss"), get(done, sc, "postfix", "kib_per_conn_rss")
    return [
        (sc, f"sessions served of {IDLE_N}", so, sp, ratio(so, sp), f"ours {IDLE_N}",
         met(None if so is None else so >= IDLE_N)),
        (sc, "PSS KiB per session", po, pp, ratio(po, pp), "ours ≤ 4",
         met(None if po is None else po <= 4)),
        (sc, "RSS KiB per session", ro, rp, ratio(ro, rp), "–", "–"),
    ]


def big_rows(done):
    sc = "big-35m"
    if (sc, "ours") not in done:
        return []
    rows = []
    for what, key, procs in (("front end", "front_growth_kib", FRONT),
                             ("outbound client", "outbound_growth_kib", OUTBOUND)):
        o, p = get(done, sc, "ours", key), get(done, sc, "postfix", key)
        rows.append((sc, f"{what} RSS growth KiB ({procs['ours']} / {procs['postfix']})",
                     o, p, ratio(o, p), "ours < 1024", met(None if o is None else o < 1024)))
    do, dp = get(done, sc, "ours", "delivered"), get(done, sc, "postfix", "delivered")
    rows.append((sc, "delivered to the sink", do, dp, None, "1", met(None if do is None else do == 1)))
    return rows


def tls_rows(done, ceil):
    return tls_rows_of(done, ceil, "") + tls_rows_of(done, ceil, "-nomsg")


def tls_rows_of(done, ceil, suffix):
    rows = []
    full = "churn-tls-full-c50" + suffix
    res = "churn-tls-resumed-c50" + suffix
    new_ceiling = ceil["new"]["per_s"] if ceil else None
    if (full, "ours") in done:
        o, p = get(done, full, "ours", "rate"), get(done, full, "postfix", "rate")
        share = ratio(o, new_ceiling)
        rows.append((full, "sessions/s (full handshakes)", o, p, ratio(o, p),
                     f"≥ 90 % of s_time -new ({fmt(new_ceiling)}/s): ours "
                     f"{fmt(None if share is None else share * 100, 0)} %",
                     met(None if share is None else share >= 0.9)))
    if (res, "ours") in done:
        o, p = get(done, res, "ours", "rate"), get(done, res, "postfix", "rate")
        fo = get(done, full, "ours", "rate")
        so, sp = get(done, res, "ours", "resumed_share"), get(done, res, "postfix", "resumed_share")
        gain = ratio(o, fo)
        ok = None if gain is None or so is None else gain >= 2 and so >= 0.9
        rows.append((res, "sessions/s (resumption offered)", o, p, ratio(o, p),
                     f"≥ 2x full, ≥ 90 % resumed: ours {fmt(gain, 2)}x", met(ok)))
        pct = lambda v: None if v is None else round(v * 100, 1)
        rows.append((res, "% of handshakes resumed", pct(so), pct(sp), None, "≥ 90",
                     met(None if so is None else so >= 0.9)))
    return rows


def report(done, ceil, meta):
    lines = [f"## bench/extra.py ({meta['date']}, {meta['budget']})", "",
             "Ours and Postfix in one run on this shared machine; compare only "
             "within the run.", "",
             "| scenario | metric | ours | Postfix | ours / Postfix | target | met? |",
             "|---|---|---:|---:|---:|---|---|"]
    rows = accept_rows(done) + idle_rows(done) + big_rows(done) + tls_rows(done, ceil)
    for sc, metric, o, p, r, target, ok in rows:
        rs = "–" if r is None else f"{r:g}"
        lines.append(f"| {sc} | {metric} | {fmt(o)} | {fmt(p)} | {rs} | {target} | {ok} |")
    if ceil:
        lines += ["", f"TLS ceiling (openssl s_server, same certificate, {ceil['new']['parallel']} "
                  f"s_time clients, {ceil['new']['seconds']} s each): -new "
                  f"{fmt(ceil['new']['per_s'])} handshakes/s; -reuse -www / "
                  f"{fmt(ceil['reuse']['per_s'])}/s with {fmt(ceil['reuse']['resumed_share'], 3)} "
                  "resumed (-www makes s_time read a reply, so TLS 1.3 tickets arrive before "
                  "the session is saved)."]
    churn = [(k, v) for k, v in sorted(done.items())
             if k[0].startswith("churn-tls") and v.get("load_cpu_util") is not None]
    if churn:
        lines += ["", "CPU of the TLS client (" + " ".join(churn_client()[-1:]) +
                  ", cores; near 1.0 it, not the "
                  "MTA, may bound the rate): " +
                  ", ".join(f"{k[0]} {k[1]} {v['load_cpu_util']}" for k, v in churn) + "."]
    noisy = [(k, v["other_cpu_util"]) for k, v in done.items()
             if v.get("other_cpu_util") is not None]
    if noisy:
        lines += ["", "CPU taken by other tenants of the machine during each accept run (cores "
                  f"of {os.cpu_count()}; above ~0.3 the row is noise-bound): " +
                  ", ".join(f"{k[0]} {k[1]} {u}" for k, u in noisy) + "."]
    lines += ["", "Changed from the plugins' settings:"]
    changes = sorted({(k[1], k[0], v.get("change")) for k, v in done.items() if v.get("change")})
    lines += [f"- {sc}, {name}: {c}" for sc, name, c in changes] or ["- nothing"]
    lines += ["", "Details (versions, CPU-s per 1000, errors, per-process figures): extra.jsonl."]
    bad = [(k, v.get("reason")) for k, v in sorted(done.items()) if v.get("status") != "ok"]
    if bad:
        lines += ["", "Failed runs:"] + [f"- {k[0]}, {k[1]}: {r}" for k, r in bad]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main
def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7",
                    "-subj", "/CN=mta-bench.invalid", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < IDLE_N + 1000:
        log(f"RLIMIT_NOFILE hard limit {hard}: idle-10000 may run short of descriptors")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", help="results directory (default bench/results/extra-TIMESTAMP)")
    p.add_argument("--workdir", help="scratch directory (default /var/tmp/mtabench-extra.PID)")
    p.add_argument("--only", default="", help="comma-separated scenario ids, or tls-ceiling")
    p.add_argument("--mta", action="append", choices=sorted(PLUGINS),
                   help="only this MTA (repeatable); default ours and postfix")
    p.add_argument("--quick", action="store_true", help="1500 messages / 8 s per run, 12 s drain")
    p.add_argument("--messages", type=int)
    p.add_argument("--time", type=float)
    p.add_argument("--drain", type=float)
    p.add_argument("--idle-setup", type=float,
                   help="seconds to open the idle connections (60, --quick 30)")
    p.add_argument("--port-in", type=int, default=int(os.environ.get("PORT_IN", 24045)))
    p.add_argument("--port-sink", type=int, default=int(os.environ.get("PORT_SINK", 24046)))
    p.add_argument("--port-tls", type=int, default=int(os.environ.get("PORT_TLS", 24047)))
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    a = p.parse_args()
    a.only = set(x for x in a.only.split(",") if x)
    unknown = a.only - {s["id"] for s in scenarios()} - {"tls-ceiling"}
    if unknown:
        p.error(f"unknown scenario {', '.join(sorted(unknown))}")
    a.messages = a.messages or (1500 if a.quick else 20000)
    a.time = a.time or (8.0 if a.quick else 60.0)
    a.drain = a.drain or (12.0 if a.quick else 30.0)
    a.idle_setup = a.idle_setup or (30.0 if a.quick else 60.0)
    return a


def on_term(sig, frame):
    raise KeyboardInterrupt


def main():
    a = parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (cgroups, the MTAs' users)")
    if not os.path.exists(R.SMTP_SOURCE):
        subprocess.run([os.path.join(HARNESS, "setup.sh")], check=True)
    raise_nofile()
    ts = time.strftime("%Y%m%d-%H%M%S")
    resdir = a.results or os.path.join(TREE, "bench", "results", f"extra-{ts}")
    os.makedirs(resdir, exist_ok=True)
    work = a.workdir or f"/var/tmp/mtabench-extra.{os.getpid()}"
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    a.keep_requested, a.workdir, a.keep = a.keep, work, True
    a.results = os.path.join(resdir, "extra.jsonl")
    only = a.only
    names = a.mta or ["ours", "postfix"]
    R.become_subreaper()
    cert, key = make_cert(work)
    env = dict(PORT_IN=str(a.port_in), PORT_SINK=str(a.port_sink), CERT=cert, KEY=key,
               PEERS_PREFIX=os.environ.get("PEERS_PREFIX", "/opt/mtabench"))
    x = Extra(a)
    signal.signal(signal.SIGTERM, on_term)
    done, ceil = {}, None
    try:
        done = x.run_all(names, env, only)
        if not only or "tls-ceiling" in only or any(s.startswith("churn-tls") for s in only):
            log("TLS ceiling (s_server / s_time)")
            ceil = tls_ceiling(cert, key, a.port_tls, 3 if a.quick else 10)
            x.emit(dict(type="tls-ceiling", **ceil))
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
    finally:
        for cg in (x.cg_load, x.cg_sink):
            cg.kill_leftovers(1)
            cg.remove()
        try:
            with open(os.path.join(os.path.dirname(x.cg_ctl.path), "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError:
            pass
        x.cg_ctl.remove()
        R.reap_orphans()
    budget = f"{a.messages} msgs / {a.time:g} s per run" + (", --quick" if a.quick else "")
    md = report(done, ceil, dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                 budget=budget))
    with open(os.path.join(resdir, "extra.md"), "w") as f:
        f.write(md)
    print(md, end="")
    log(f"results in {resdir}")
    if not a.keep_requested:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"scratch directories kept in {work}")


if __name__ == "__main__":
    main()
