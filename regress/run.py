#!/usr/bin/env python3
"""
run.py: the one test runner of the relay (what `make check` calls).

    python3 regress/run.py [--soak] [-k PATTERN] [--keep] [--list]

It runs
 (a) every C unit test binary bin/unit/test_*: its last "N passed, N
     failed" line counts as N passes and N failures (a binary that dies
     without that line counts as one failure);
 (b) every Python test function test_* of regress/<area>/test_*.py (every
     directory but unit/, lib/ and tmp/), each in a process of its own with
     a time limit (default 90 s, or the function's @timeout(N)); functions
     marked @soak run only with --soak.
Each test prints "ok   area/name (1.2s)", "skip area/name: why" or
"FAIL area/name: reason" followed by the tail of the daemon log, and the
run ends with one line "N passed, N failed[, N skipped]".  The exit status
is non-zero if anything failed.  -k keeps the tests whose "area/name" or
file path (area/test_file.py) matches PATTERN, a regular expression.

A test passes by returning, fails by raising (AssertionError or anything
else), and skips by raising lib.Skip (tests that need root do so when not
run as root).  After each test the runner ends every process the test
registered in its pid file that still runs, so a hung test cannot leave a
daemon behind; the scratch directories of a passing test are removed
(--keep keeps them), those of a failing one are kept under regress/tmp/.
"""
import argparse
import ast
import glob
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback

REGRESS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(REGRESS)
sys.path.insert(0, REGRESS)
import lib  # noqa: E402

TMP = lib.TMP
NOT_AREAS = {"unit", "lib", "tmp", "__pycache__"}
DEFAULT_TIMEOUT = 90
UNIT_TIMEOUT = 120
SKIP_STATUS = 77


# --- one test, in its own process ---------------------------------------------
def run_one(path, func):
    """Child mode: run one test function; write the result as JSON."""
    result = {"status": "fail", "reason": ""}
    try:
        spec = importlib.util.spec_from_file_location(
            "regress_" + os.path.basename(path)[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        getattr(mod, func)()
        result["status"] = "ok"
    except lib.Skip as e:
        result = {"status": "skip", "reason": str(e)}
    except BaseException as e:
        tb = traceback.format_exc()
        where = ""
        for fr in reversed(traceback.extract_tb(e.__traceback__)):
            if fr.filename == os.path.abspath(path):
                where = " [%s:%d]" % (os.path.basename(fr.filename),
                                      fr.lineno)
                break
        msg = str(e) or type(e).__name__
        if not isinstance(e, AssertionError):
            msg = "%s: %s" % (type(e).__name__, msg)
        first = msg.strip().splitlines()[0] if msg.strip() else msg
        if len(first) > 300:
            first = first[:300] + "..."
        if first != msg.strip():
            first += " (...)"
        result = {"status": "fail", "reason": first + where,
                  "traceback": tb, "logs": lib.log_tails()}
    with open(os.environ["REGRESS_RESULT"], "w") as f:
        json.dump(result, f)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# --- discovery ----------------------------------------------------------------
def decorator_info(fn):
    """(timeout, soak) from @timeout(N) / @soak decorators, read by ast."""
    limit, soak = DEFAULT_TIMEOUT, False
    for d in fn.decorator_list:
        name = d.func if isinstance(d, ast.Call) else d
        name = getattr(name, "attr", None) or getattr(name, "id", None)
        if name == "timeout" and isinstance(d, ast.Call) and d.args and \
                isinstance(d.args[0], ast.Constant):
            limit = d.args[0].value
        elif name == "soak":
            soak = True
    return limit, soak


def discover():
    """[(area/name, path, func, timeout, soak)] in a stable order."""
    tests = []
    for area in sorted(os.listdir(REGRESS)):
        adir = os.path.join(REGRESS, area)
        if area in NOT_AREAS or not os.path.isdir(adir):
            continue
        for path in sorted(glob.glob(os.path.join(adir, "test_*.py"))):
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and \
                        node.name.startswith("test_"):
                    limit, soak = decorator_info(node)
                    tests.append(("%s/%s" % (area, node.name), path,
                                  node.name, limit, soak))
    return tests


# --- process cleanup ------------------------------------------------------------
def proc_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_registered(pidfile):
    """End every still-running process a test registered, by pid."""
    try:
        with open(pidfile) as f:
            pids = {int(x) for x in f.read().split() if x.isdigit()}
    except OSError:
        return []
    left = [p for p in pids if proc_alive(p)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in left:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            left = [p for p in left if proc_alive(p)]
            if not left:
                break
            time.sleep(0.05)
    return sorted(pids)


def end_group(proc):
    """SIGTERM the test's process group, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


# --- the suite ------------------------------------------------------------------
def indent(text, n=200):
    lines = text.rstrip("\n").splitlines()[-n:]
    return "".join("    %s\n" % l for l in lines)


def run_units(pattern, counts):
    for binpath in sorted(glob.glob(os.path.join(REPO, "bin/unit/test_*"))):
        name = "unit/" + os.path.basename(binpath)
        if not os.access(binpath, os.X_OK) or \
                (pattern and not re.search(pattern, name)):
            continue
        t0 = time.monotonic()
        try:
            r = subprocess.run([binpath], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=UNIT_TIMEOUT,
                               stdin=subprocess.DEVNULL)
            out, rc = r.stdout.decode("utf-8", "replace"), r.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode("utf-8", "replace")
            rc = "timeout after %ds" % UNIT_TIMEOUT
        dt = time.monotonic() - t0
        m = None
        for line in out.splitlines()[::-1]:
            m = re.match(r"^(\d+) passed, (\d+) failed", line.strip())
            if m:
                break
        if m is None:
            counts["failed"] += 1
            print("FAIL %s: no summary line (exit %s)" % (name, rc))
            print(indent(out, 40), end="")
            continue
        p, f = int(m.group(1)), int(m.group(2))
        counts["passed"] += p
        counts["failed"] += f
        if f or rc != 0:
            if not f:
                counts["failed"] += 1
            print("FAIL %s: %d passed, %d failed, exit %s" % (name, p, f, rc))
            print(indent("\n".join(l for l in out.splitlines()
                                   if not l.startswith("ok ")), 60), end="")
        else:
            print("ok   %s (%d checks, %.1fs)" % (name, p, dt))
        sys.stdout.flush()


def run_test(name, path, func, limit, keep, counts):
    os.makedirs(TMP, exist_ok=True)
    base = lib.fixture_prefix(name)
    for old in glob.glob(os.path.join(TMP, base + "-*")):
        shutil.rmtree(old, ignore_errors=True)
    result_path = os.path.join(TMP, base + ".result")
    pidfile = os.path.join(TMP, base + ".pids")
    outpath = os.path.join(TMP, base + ".out")
    for p in (result_path, pidfile):
        if os.path.exists(p):
            os.unlink(p)
    env = dict(os.environ, REGRESS_RESULT=result_path,
               REGRESS_PIDFILE=pidfile, REGRESS_TEST=name,
               PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    t0 = time.monotonic()
    with open(outpath, "wb") as out:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                                 "--one", path, func], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True)
        timed_out = False
        try:
            proc.wait(limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            end_group(proc)
    kill_registered(pidfile)
    dt = time.monotonic() - t0
    try:
        with open(result_path) as f:
            res = json.load(f)
    except (OSError, ValueError):
        res = {"status": "fail",
               "reason": ("timed out after %ds" % limit) if timed_out else
               "test process died (exit %s)" % proc.returncode}
    if timed_out and res["status"] != "fail":
        res = {"status": "fail", "reason": "timed out after %ds" % limit}
    with open(outpath, "rb") as f:
        output = f.read().decode("utf-8", "replace")
    status = res["status"]
    if status == "ok":
        counts["passed"] += 1
        print("ok   %s (%.1fs)" % (name, dt))
    elif status == "skip":
        counts["skipped"] += 1
        print("skip %s: %s" % (name, res["reason"]))
    else:
        counts["failed"] += 1
        print("FAIL %s: %s (%.1fs)" % (name, res["reason"], dt))
        if res.get("traceback"):
            print(indent(res["traceback"], 40), end="")
        if output.strip():
            print("    --- test output ---")
            print(indent(output, 20), end="")
        if res.get("logs"):
            print(indent(res["logs"], 60), end="")
        elif timed_out:
            for log in glob.glob(os.path.join(TMP, base + "-*/smtpd.log")):
                with open(log, errors="replace") as f:
                    print(indent("--- tail of %s ---\n%s" % (log,
                                 f.read()[-3000:]), 60), end="")
    sys.stdout.flush()
    if status != "fail" and not keep:
        for p in glob.glob(os.path.join(TMP, base + "-*")):
            shutil.rmtree(p, ignore_errors=True)
        for p in (result_path, pidfile, outpath):
            if os.path.exists(p):
                os.unlink(p)


def main():
    ap = argparse.ArgumentParser(description="run the relay's tests")
    ap.add_argument("--soak", action="store_true",
                    help="also run the long tests marked @soak")
    ap.add_argument("-k", dest="pattern", help="only tests matching this")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch directories of passing tests")
    ap.add_argument("--list", action="store_true", help="list, do not run")
    ap.add_argument("--no-units", action="store_true",
                    help="skip the C unit test binaries")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        run_one(*args.one)
        return 0
    tests = [t for t in discover()
             if (args.soak or not t[4]) and
             (not args.pattern or re.search(args.pattern, t[0]) or
              re.search(args.pattern, os.path.relpath(t[1], REGRESS)))]
    if args.list:
        for t in tests:
            print("%s (timeout %ds%s)" % (t[0], t[3], ", soak" if t[4] else ""))
        return 0
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    t0 = time.monotonic()
    if not args.no_units:
        run_units(args.pattern, counts)
    for name, path, func, limit, _ in tests:
        run_test(name, path, func, limit, args.keep, counts)
    sys.stderr.write("regress: %.0fs in all\n" % (time.monotonic() - t0))
    line = "%d passed, %d failed" % (counts["passed"], counts["failed"])
    if counts["skipped"]:
        line += ", %d skipped" % counts["skipped"]
    print(line)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
