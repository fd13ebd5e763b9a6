"""Milters on unix sockets (issue 16), and the filters of local
submissions.  The front end cannot reach a unix socket from its chroot:
the parent connects it (IMSG_SMTP_MILTER_CONNECT, the filter's index)
and passes the descriptor.  The python3-milter test filter (filter.py)
listens on a unix socket named by `filter m "unix:/PATH"`; its reject
at RCPT is the reply, a missing socket costs the failure mode (451 4.3.5
by default, the mail goes on with on-failure accept), so does a full
backlog, at once (the parent never waits), and `sendmail
filter m` puts the filter before mail from the sendmail command: a
reject at connect (logged with arg1=localhost) or at MAIL fails the
command, a filter that lets everything pass leaves the mail flowing to
the sink.  A front end that asks for a filter
index that is not a unix filter is restarted and the parent lives on."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

from lib import BIN, clients, register_pid, test_dir, wait_until
from lib.daemon import CHILDREN, Relay
from lib.sink import Sink
from milter.test_milter_session import _session

REGRESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILTER = os.path.join(REGRESS, "milter/filter.py")
FAKE_SMTP = os.path.join(REGRESS, "milter/fake_smtp.py")
SENDMAIL = os.path.join(BIN, "sendmail")
EX_NOPERM = 77


class UnixRelay(Relay):
    """A relay with filter "m" on a unix socket (self.filter_line),
    named by the listener or by `sendmail filter` (self.local)."""

    filter_line = ""
    local = False

    def conf_text(self):
        text = Relay.conf_text(self)
        listen = "listen on 127.0.0.1 port %d\n" % self.port
        if self.local:
            return text.replace(listen, "%s\n%ssendmail filter m\n"
                                % (self.filter_line, listen))
        return text.replace(listen, "%s\nlisten on 127.0.0.1 port %d "
                            "filter m\n" % (self.filter_line, self.port))


def _sockdir():
    """A short directory for filter sockets (sun_path is 108 octets)."""
    return tempfile.mkdtemp(prefix="mu", dir="/tmp")


def _connectable(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _filter(path, mode):
    """The test filter on the unix socket path."""
    proc = subprocess.Popen(["/usr/bin/python3", FILTER, path, mode],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    register_pid(proc.pid)
    wait_until(lambda: _connectable(path), 30, "the filter's socket")
    return proc


def _stop(proc):
    proc.kill()
    proc.wait()


def _relay(path, sink, failure=None, local=False, start=True):
    line = 'filter m "unix:%s"' % path
    if failure:
        line += " on-failure " + failure
    UnixRelay.filter_line = line
    UnixRelay.local = local
    relay = UnixRelay(sink=sink, start=False)
    if local:
        relay.with_sendmail_socket()
    if start:
        try:
            relay.start()
        except BaseException:
            relay.stop()
            raise
    return relay


def test_unix_filter_passes_and_rejects_at_rcpt():
    d = _sockdir()
    path = os.path.join(d, "m.sock")
    try:
        proc = _filter(path, "none")
        try:
            with Sink() as sink, _relay(path, sink) as relay:
                clients.send(relay.port, "a@client.test", ["b@sink.test"])
                wait_until(lambda: sink.messages, 30,
                           "the message at the sink")
        finally:
            _stop(proc)
        os.unlink(path)
        proc = _filter(path, "reject-rcpt")
        try:
            with Sink() as sink, _relay(path, sink) as relay:
                replies = _session(relay)
        finally:
            _stop(proc)
        assert [r[0] for r in replies] == [220, 250, 250, 550], replies
        assert replies[3][1][-1].startswith("5.7.1 Command rejected"), \
            replies
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_unix_socket_missing_costs_the_failure_mode():
    d = _sockdir()
    path = os.path.join(d, "nobody.sock")
    try:
        with Sink() as sink, _relay(path, sink) as relay:
            replies = _session(relay)
            log = relay.log()
        # tempfail at connect: the greeting is a 421 4.3.5
        assert [r[0] for r in replies] == [421], replies
        assert replies[0][1][0].startswith("4.3.5"), replies
        assert "milter: filter m: connect: No such file or directory" \
            in log, log
        assert "milter: filter m failed at stage C, tempfail" in log, log
        with Sink() as sink, _relay(path, sink, "accept") as relay:
            clients.send(relay.port, "a@client.test", ["b@sink.test"])
            wait_until(lambda: sink.messages, 30, "the message at the sink")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _fill_backlog(path):
    """Connect to path until its backlog is full: the clients."""
    conns = []
    for _ in range(64):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(path)
        except BlockingIOError:
            c.close()
            return conns
        conns.append(c)
    raise AssertionError("the backlog of %s never filled" % path)


def test_full_backlog_fails_at_once():
    """A filter that accepts nothing with its backlog full: the parent's
    connect is EAGAIN at once (it never waits), the session gets the
    failure mode long before the 5 minutes of the connect timeout."""
    d = _sockdir()
    path = os.path.join(d, "full.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(0)
    waiting = _fill_backlog(path)
    try:
        with Sink() as sink, _relay(path, sink) as relay:
            start = time.monotonic()
            replies = _session(relay)
            took = time.monotonic() - start
            assert relay.alive()
            log = relay.log()
        assert [r[0] for r in replies] == [421], replies
        assert took < 10, took
        assert "milter: filter m: connect: Resource temporarily " \
            "unavailable" in log, log
    finally:
        for c in waiting:
            c.close()
        listener.close()
        shutil.rmtree(d, ignore_errors=True)


def _sendmail(relay, rcpt):
    """bin/sendmail -C CONF rcpt as root: (rc, stderr)."""
    r = subprocess.run([SENDMAIL, "-C", relay.confpath, rcpt],
                       input=b"Subject: local\n\nA body.\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return r.returncode, r.stderr.decode("utf-8", "replace")


def test_local_submission_goes_through_sendmail_filter():
    """A reject at connect (the session refuses every command) and at
    MAIL fail the command; a filter that lets all pass does not."""
    d = _sockdir()
    path = os.path.join(d, "m.sock")
    try:
        for mode in ("reject-connect", "reject-mail", "none"):
            proc = _filter(path, mode)
            try:
                with Sink() as sink, _relay(path, sink,
                                            local=True) as relay:
                    rc, err = _sendmail(relay, "bob@remote.test")
                    if mode == "none":
                        assert rc == 0, (rc, err)
                        [m] = sink.wait_for(1)
                        assert m.rcpt_addrs == ["bob@remote.test"], \
                            m.rcpt_addrs
                    log = relay.log()
            finally:
                _stop(proc)
            os.unlink(path)
            if mode == "none":
                continue
            # a refused connect greets, then refuses every transaction
            assert rc == EX_NOPERM, (mode, rc, err)
            assert "550 5.7.1 Command rejected" in err, (mode, err)
            arg1 = "localhost" if mode == "reject-connect" else \
                "<root@relay.test>"
            assert "ruleset=milter, arg1=%s," % arg1 in log, (mode, log)
            assert not sink.messages, mode
    finally:
        shutil.rmtree(d, ignore_errors=True)


class FakeSmtpRelay(UnixRelay):
    """smtpd-smtp replaced by fake_smtp.py, which greets nobody: ready
    once the control socket exists and the fake has made its first
    requests."""

    def wait_ready(self, timeout=20):
        wait_until(lambda: os.path.exists(self.control), timeout,
                   "the control socket", interval=0.2)


def _libexec_with_fake_smtp():
    d = test_dir("libexec")
    for child, exe in CHILDREN.items():
        target = FAKE_SMTP if child == "smtp" else os.path.join(BIN, exe)
        os.symlink(target, os.path.join(d, exe))
    return d


def _lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def test_bad_filter_index_restarts_the_front_end_not_the_parent():
    """The fake front end asks for filter 1 (the unix one: a descriptor
    comes back), then for 0 (inet), restarted, for 1 and 7 (none),
    restarted, and for 1 again: the parent answers each run."""
    d = _sockdir()
    path = os.path.join(d, "m.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    libexec = _libexec_with_fake_smtp()
    results = os.path.join(libexec, "fake_smtp.results")
    try:
        UnixRelay.filter_line = ('filter i "inet:9@127.0.0.1"\n'
                                 'filter m "unix:%s"' % path)
        UnixRelay.local = True
        with FakeSmtpRelay(libexec=libexec) as relay:
            wait_until(lambda: len(_lines(results)) >= 3, 60,
                       "three runs of the fake front end")
            assert relay.alive(), relay.log_tail()
            log = relay.log()
        assert _lines(results) == ["run %d: index 1 error 0 fd yes" % i
                                   for i in (1, 2, 3)], _lines(results)
        assert log.count("IMSG_SMTP_MILTER_CONNECT of a filter that is "
                         "not on a unix socket") == 2, log
        # the parent connected, and wrote nothing on the socket
        listener.settimeout(5)
        conn, _ = listener.accept()
        conn.settimeout(1)
        try:
            assert conn.recv(1) == b""
        except socket.timeout:
            pass
        conn.close()
    finally:
        listener.close()
        shutil.rmtree(d, ignore_errors=True)


def test_local_submission_gets_the_filters_changes():
    """Mail of the sendmail command goes through the message stages too
    (outbound signing): a header the filter adds at the end of the
    message reaches the next hop, and a reject there fails the command."""
    d = _sockdir()
    path = os.path.join(d, "m.sock")
    try:
        for mode in ("mod-addheader", "reject-eom"):
            proc = _filter(path, mode)
            try:
                with Sink() as sink, _relay(path, sink,
                                            local=True) as relay:
                    rc, err = _sendmail(relay, "bob@remote.test")
                    if mode == "mod-addheader":
                        assert rc == 0, (rc, err)
                        [m] = sink.wait_for(1)
                        assert b"X-Test-Milter: added\r\n\tfolded\r\n" in \
                            m.data, m.data
                        assert m.data.endswith(b"\r\n\r\nA body.\r\n"), \
                            m.data
                    else:
                        assert rc != 0, (rc, err)
                        assert "550 5.7.1 Message rejected" in err, err
                        assert not sink.messages
            finally:
                _stop(proc)
            os.unlink(path)
    finally:
        shutil.rmtree(d, ignore_errors=True)
