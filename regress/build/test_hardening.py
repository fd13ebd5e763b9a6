"""The binaries in bin/ keep the hardening the Makefile builds them with:
position independent (ELF type DYN, so ASLR moves the program too), full
RELRO (a GNU_RELRO segment and BIND_NOW, so the GOT is read-only once the
program runs), stack canaries (__stack_chk_fail imported) and fortified
libc calls (_FORTIFY_SOURCE: the *_chk variants imported).  A sanitizer
build (make asan) leaves FORTIFY out by design, so there only the rest
is checked."""
import os
import re
import shutil
import subprocess

from lib import BIN, Skip

# the executables the Makefile builds (its BINS)
PROGRAMS = ("smtpd", "smtpd-smtp", "smtpd-mta", "smtpd-queue",
            "smtpd-policyd", "smtpd-tlsproxy", "smtpd-auth", "smtpd-local",
            "smtpctl")


def _readelf(*args):
    r = subprocess.run(["readelf", "-W"] + list(args), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def _programs():
    if shutil.which("readelf") is None:
        raise Skip("readelf not installed (binutils)")
    paths = [os.path.join(BIN, p) for p in PROGRAMS]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise Skip("not built: %s (run make)" % " ".join(missing))
    return paths


def _imports(path):
    """The undefined (imported) dynamic symbols, without versions."""
    names = set()
    for line in _readelf("--dyn-syms", path).splitlines():
        f = line.split()
        if len(f) >= 8 and f[6] == "UND":
            names.add(f[7].split("@")[0])
    return names


def test_every_binary_is_pie():
    for path in _programs():
        head = _readelf("-h", path)
        assert re.search(r"Type:\s+DYN\b", head), (path, "not PIE")
        assert re.search(r"Flags:.*\bPIE\b", _readelf("-d", path)), \
            (path, "no FLAGS_1 PIE")


def test_every_binary_has_full_relro():
    for path in _programs():
        assert re.search(r"^\s*GNU_RELRO\b", _readelf("-l", path), re.M), \
            (path, "no GNU_RELRO segment")
        dyn = _readelf("-d", path)
        assert re.search(r"\(FLAGS\)\s+BIND_NOW|\(FLAGS_1\).*\bNOW\b", dyn), \
            (path, "no BIND_NOW: RELRO is partial")


def test_every_binary_has_stack_canaries():
    for path in _programs():
        assert "__stack_chk_fail" in _imports(path), (path, "no canaries")


def test_every_binary_calls_fortified_libc():
    for path in _programs():
        imports = _imports(path)
        if any(n.startswith("__asan_") for n in imports):
            raise Skip("sanitizer build: FORTIFY is off by design")
        chk = sorted(n for n in imports if n.endswith("_chk") and
                     n != "__stack_chk_fail")
        assert chk, (path, "no fortified (_chk) libc call")
        # every program logs through log.c's vsnprintf and snprintf
        assert "__vsnprintf_chk" in chk and "__snprintf_chk" in chk, \
            (path, chk)
