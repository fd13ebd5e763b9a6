"""newaliases: the file of `local aliases` into the aliases map, as
`smtpctl makemap aliases` does: continuation lines, comments, quoted
names, :include:, |program and /file items, sendmail's summary line, a
duplicate name as a warning, and a bad file refused with file:line and a
sysexits(3) status, the map left as it was."""
import os
import subprocess

from lib import BIN
from lib.daemon import Relay

ALIASES = """\
# the aliases of this host
Postmaster: root
root :  \\root, admin@example.org

staff: joe,
  ann, bob@x.example,
# a comment inside an entry
\t"|/usr/bin/filter -s staff", /var/log/staff,
  :INCLUDE:/etc/mail/staff.list
"John Smith": jsmith
joined: one,\\
two
prog: "|/bin/echo \\"hi\\""
"""

STORED = {
    "postmaster": "root",
    "root": "\\root, admin@example.org",
    "staff": 'joe, ann, bob@x.example, "|/usr/bin/filter -s staff", '
             '/var/log/staff, :include:/etc/mail/staff.list',
    "john smith": "jsmith",
    "joined": "one, two",
    "prog": '"|/bin/echo \\"hi\\""',
}

EX_DATAERR = 65
EX_NOINPUT = 66


class _Aliases:
    """A relay that is not started, whose `local aliases` is its own
    file; (relay, path of that file)."""

    def __enter__(self):
        self.relay = Relay(start=False)
        self.path = os.path.join(self.relay.dir, "aliases")
        self.relay.extra = ['local aliases "%s"' % self.path]
        self.relay.write_conf()
        return self.relay, self.path

    def __exit__(self, *exc):
        self.relay.stop()


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _newaliases(relay, *args):
    r = subprocess.run([os.path.join(BIN, "newaliases"), "-f",
                        relay.confpath] + list(args),
                       capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def _show(relay):
    rc, out = relay.smtpctl("map", "show", "aliases")
    assert rc == 0, out
    return dict(line.split("\t", 1) for line in out.splitlines())


def _summary(path, entries):
    keys = sum(len(k) for k in entries)
    values = [len(v) for v in entries.values()]
    return "%s: %d aliases, longest %d bytes, %d bytes total" % (
        path, len(entries), max(values), keys + sum(values))


def test_newaliases_loads_the_configured_file():
    with _Aliases() as (relay, path):
        _write(path, ALIASES)
        rc, out, err = _newaliases(relay)
        assert rc == 0, (out, err)
        assert out.strip() == _summary(path, STORED), out
        assert _show(relay) == STORED
        # -v prints each alias as stored, then the summary
        rc, out, err = _newaliases(relay, "-v")
        assert rc == 0, err
        lines = out.splitlines()
        assert lines[-1] == _summary(path, STORED), out
        assert sorted(lines[:-1]) == sorted(
            "%s: %s" % kv for kv in STORED.items()), out
        # smtpctl makemap aliases does the same, with the same summary
        rc, out = relay.smtpctl("makemap", "aliases", path)
        assert rc == 0, out
        assert _summary(path, STORED) in out.splitlines(), out
        assert _show(relay) == STORED


def test_newaliases_duplicate_name_warns_last_wins():
    with _Aliases() as (relay, path):
        _write(path, "a: one\nb: x\nA: two\n")
        rc, out, err = _newaliases(relay)
        assert rc == 0, (out, err)
        assert "newaliases: warning: %s:3: duplicate alias name a" % path \
            in err, err
        assert _show(relay) == {"a": "two", "b": "x"}
        assert out.strip() == "%s: 3 aliases, longest 3 bytes, " \
            "%d bytes total" % (path, 1 + 3 + 1 + 1 + 1 + 3), out


def test_newaliases_refuses_a_bad_file_with_its_line():
    with _Aliases() as (relay, path):
        _write(path, ALIASES)
        rc, out, err = _newaliases(relay)
        assert rc == 0, err
        _write(path, "good: a\n\nlist: a,\n  , b\nlater: c\n")
        rc, out, err = _newaliases(relay)
        assert rc == EX_DATAERR, (rc, out, err)
        assert "newaliases: %s:3: empty item" % path in err, err
        assert _show(relay) == STORED, "the map changed"
        for text, line, why in (
                ("a: b,\n  c\n\n  e\n", 4, "continues no entry"),
                ("a b\n", 1, "missing ':'"),
                ("x: :include:relative/path\n", 1, "absolute"),
                ("x: |\n", 1, "command")):
            _write(path, text)
            rc, out, err = _newaliases(relay)
            assert rc == EX_DATAERR, (text, rc, err)
            assert "%s:%d: " % (path, line) in err and why in err, \
                (text, err)
        assert _show(relay) == STORED, "the map changed"
        os.unlink(path)
        rc, out, err = _newaliases(relay)
        assert rc == EX_NOINPUT and path in err, (rc, err)


def test_newaliases_usage():
    with _Aliases() as (relay, path):
        rc, out, err = _newaliases(relay, "extra-argument")
        assert rc == 64 and "usage: newaliases" in err, (rc, err)


def test_map_add_aliases_stores_what_makemap_would():
    with _Aliases() as (relay, path):
        rc, out = relay.smtpctl("map", "add", "aliases", '"Jane Doe"',
                                'jane,"|/bin/x -y" ,  /tmp/f')
        assert rc == 0, out
        assert out == 'jane doe\tjane, "|/bin/x -y", /tmp/f\n', out
        assert _show(relay) == {"jane doe": 'jane, "|/bin/x -y", /tmp/f'}
        r = relay.smtpctl_run("map", "add", "aliases", "bad", "a,,b")
        assert r.returncode == 1 and b"empty item" in r.stderr, r
        rc, out = relay.smtpctl("map", "delete", "aliases", '"JANE DOE"')
        assert rc == 0, out
        assert _show(relay) == {}
