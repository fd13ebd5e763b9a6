"""Descriptors passed to the root parent over the control socket are
closed, never kept: a client cannot exhaust the parent's descriptors."""
import array
import os
import socket
import struct
import time

from lib.daemon import Relay

IMSG_CTL_REQUEST = 8
CTL_SHOW_STATUS = 3


def _fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_passed_fds_are_closed_by_parent():
    with Relay() as relay:
        parent = relay.proc.pid
        before = _fd_count(parent)
        devnull = os.open("/dev/null", os.O_RDONLY)
        try:
            for _ in range(200):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(relay.control)
                payload = struct.pack("=I", CTL_SHOW_STATUS) + b"\0"
                hdr = struct.pack("=IIII", IMSG_CTL_REQUEST, len(payload),
                                  0, 1)
                fds = array.array("i", [devnull] * 4)
                s.sendmsg([hdr + payload],
                          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
                s.settimeout(5)
                try:
                    s.recv(65536)
                except OSError:
                    pass
                s.close()
        finally:
            os.close(devnull)
        # connections still being torn down may hold a few for a moment
        deadline = time.monotonic() + 5
        while _fd_count(parent) > before + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        after = _fd_count(parent)
        assert after <= before + 2, (before, after)
        rc, out = relay.smtpctl("show", "status")
        assert rc == 0, out
