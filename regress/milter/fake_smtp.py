#!/usr/bin/env python3
"""
fake_smtp.py: a front end (smtpd-smtp) that asks the parent for milter
sockets it should not, for test_milter_unix.py.

Linked into a test's libexec directory as smtpd-smtp, it is started by
the parent with its channel on fd 3.  Once it has applied the config it
asks IMSG_SMTP_MILTER_CONNECT for filter index 1 (the test's unix
filter) and appends "run N: index I error E fd yes|no" of the answer to
fake_smtp.results beside its link.  Then run 1 asks for index 0 (an inet
filter) and run 2 for index 7 (no filter): the parent must restart it
for each; run 3 and later ask nothing more.  It exits when the parent
channel closes.
"""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__)))))
from lib import imsg  # noqa: E402

HERE = os.path.dirname(os.path.abspath(sys.argv[0]))
RESULTS = os.path.join(HERE, "fake_smtp.results")
BAD = {1: 0, 2: 7}
IMSG_F_FD = 0x1


def _register():
    path = os.environ.get("REGRESS_PIDFILE")
    if path:
        with open(path, "a") as f:
            f.write("%d\n" % os.getpid())


def _run_number():
    try:
        with open(RESULTS) as f:
            return len(f.read().splitlines()) + 1
    except OSError:
        return 1


def _record(run, payload, fds):
    index, off = imsg.get_u32(payload)
    error, _ = imsg.get_u32(payload, off)
    with open(RESULTS, "a") as f:
        f.write("run %d: index %d error %d fd %s\n"
                % (run, index, error, "yes" if fds else "no"))
    for fd in fds:
        os.close(fd)


def _split(buf):
    """([(type, flags, payload)], rest of buf): imsg.split() with the
    flags, which say which message takes the next descriptor."""
    out = []
    while len(buf) >= imsg.HDR.size:
        mtype, length, _, flags = imsg.HDR.unpack_from(buf)
        if len(buf) < imsg.HDR.size + length:
            break
        out.append((mtype, flags, buf[imsg.HDR.size:imsg.HDR.size +
                                      length]))
        buf = buf[imsg.HDR.size + length:]
    return out, buf


def main():
    _register()
    sock = socket.socket(fileno=3)
    run = _run_number()
    buf, generation, asked, fifo = b"", 0, False, []
    while True:
        data, fds, _, _ = socket.recv_fds(sock, 65536, 16)
        if not data:
            return 0
        fifo += fds
        msgs, buf = _split(buf + data)
        for mtype, flags, payload in msgs:
            fds = [fifo.pop(0)] if flags & IMSG_F_FD and fifo else []
            if mtype == imsg.TYPES["IMSG_CONF_BEGIN"]:
                generation, _ = imsg.get_u32(payload)
            elif mtype == imsg.TYPES["IMSG_CONF_END"]:
                sock.sendall(imsg.encode("IMSG_CONF_APPLIED", 0,
                                         generation))
                if not asked:
                    asked = True
                    sock.sendall(imsg.encode("IMSG_SMTP_MILTER_CONNECT",
                                             1, 1))
            elif mtype == imsg.TYPES["IMSG_SMTP_MILTER_CONNECTED"]:
                _record(run, payload, fds)
                fds = []
                if run in BAD:
                    sock.sendall(imsg.encode("IMSG_SMTP_MILTER_CONNECT",
                                             2, BAD[run]))
            for fd in fds:
                os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
