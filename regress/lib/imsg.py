"""
imsg.py: the daemon's message framing (common/imsg.c), for fixtures that
speak it: a 16-octet header of four host-order u32 (type, payload
length, correlation id, flags), then the payload, written with
imsg_put_u32 (host-order u32) and imsg_put_str (NUL-terminated).

The numbers of the message types and control commands are read from the
enums of common/proto.h, so that they stay right when a type is added.
"""
import os
import re
import struct

from . import REPO

HDR = struct.Struct("=IIII")
U32 = struct.Struct("=I")


def _enum(name):
    """{member: value} of one enum of common/proto.h."""
    with open(os.path.join(REPO, "common", "proto.h")) as f:
        text = f.read()
    m = re.search(r"enum %s \{(.*?)\};" % name, text, re.S)
    if m is None:
        raise RuntimeError("no enum %s in common/proto.h" % name)
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    values, n = {}, -1
    for item in body.split(","):
        item = item.strip()
        if not item:
            continue
        key, _, value = item.partition("=")
        n = int(value, 0) if value else n + 1
        values[key.strip()] = n
    return values


TYPES = _enum("imsg_type")
CTL = _enum("ctl_cmd")


def encode(type_name, msg_id=0, *fields):
    """One message; fields are ints (u32) or strs (NUL-terminated)."""
    payload = b""
    for f in fields:
        if isinstance(f, int):
            payload += U32.pack(f)
        else:
            payload += f.encode("latin-1") + b"\0"
    return HDR.pack(TYPES[type_name], len(payload), msg_id, 0) + payload


def split(buf):
    """([(type, id, payload)], rest of buf) of the complete messages."""
    out = []
    while len(buf) >= HDR.size:
        mtype, length, msg_id, _ = HDR.unpack_from(buf)
        if len(buf) < HDR.size + length:
            break
        out.append((mtype, msg_id, buf[HDR.size:HDR.size + length]))
        buf = buf[HDR.size + length:]
    return out, buf


def get_u32(payload, off=0):
    return U32.unpack_from(payload, off)[0], off + U32.size


def get_str(payload, off=0):
    end = payload.index(b"\0", off)
    return payload[off:end].decode("latin-1"), end + 1
