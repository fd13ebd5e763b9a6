#!/usr/bin/env python3
"""
fake_child.py: a child of smtpd that is not what it should be, for the
tests of what the parent believes of its children (regress/ctl/).

Linked into a test's libexec directory under the name of a real child
(smtpd-mta, say), it is started by the parent like that child: its
parent channel on fd 3.  It applies every config, keeps every peer
channel it is given open without ever reading it, and:

  - when monitoring starts (IMSG_CTL_REQUEST CTL_MONITOR "on"), sends a
    monitor event and, for every control connection id from 1 to 64, an
    answer line that no one asked it for, all with terminal escapes
    ("FAKE-EVENT", "FAKE-LINE");
  - answers every other request it is routed with one line carrying
    terminal escapes ("fake.answer=") and a successful end.

It exits when the parent channel closes, or on SIGTERM.
"""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(
    __file__))))
from lib import imsg  # noqa: E402

ESCAPES = "\x1b[2J\x1b]0;owned\x07"
GUESSED_IDS = range(1, 65)


def _register():
    path = os.environ.get("REGRESS_PIDFILE")
    if path:
        with open(path, "a") as f:
            f.write("%d\n" % os.getpid())


def _ctl_request(sock, msg_id, payload):
    cmd, off = imsg.get_u32(payload)
    arg, _ = imsg.get_str(payload, off)
    if cmd == imsg.CTL["CTL_MONITOR"] and arg == "on":
        out = imsg.encode("IMSG_CTL_EVENT", 0, "FAKE-EVENT " + ESCAPES)
        for i in GUESSED_IDS:
            out += imsg.encode("IMSG_CTL_LINE", i,
                               "FAKE-LINE id=%d %s" % (i, ESCAPES))
    elif cmd == imsg.CTL["CTL_MONITOR"]:
        out = b""
    else:
        out = imsg.encode("IMSG_CTL_LINE", msg_id,
                          "fake.answer=\x1b[31mred\x1b[0m")
    out += imsg.encode("IMSG_CTL_END", msg_id, 0, "")
    sock.sendall(out)


def main():
    _register()
    sock = socket.socket(fileno=3)
    kept = []
    buf, generation = b"", 0
    while True:
        data, fds, _, _ = socket.recv_fds(sock, 65536, 16)
        if not data:
            return 0
        kept += fds
        msgs, buf = imsg.split(buf + data)
        for mtype, msg_id, payload in msgs:
            if mtype == imsg.TYPES["IMSG_CONF_BEGIN"]:
                generation, _ = imsg.get_u32(payload)
            elif mtype == imsg.TYPES["IMSG_CONF_END"]:
                sock.sendall(imsg.encode("IMSG_CONF_APPLIED", 0,
                                         generation))
            elif mtype == imsg.TYPES["IMSG_CTL_REQUEST"]:
                _ctl_request(sock, msg_id, payload)


if __name__ == "__main__":
    sys.exit(main())
