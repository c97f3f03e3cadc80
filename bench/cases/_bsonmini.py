"""A minimal BSON encoder for the command documents the benchmarks send
(strings, ints, None, nested documents given as lists of pairs, arrays as
Array(...))."""
import struct


class Array(list):
    """A BSON array (a plain list is a document of pairs)."""


def _element(key, value):
    k = key.encode() + b"\x00"
    if value is None:
        return b"\x0a" + k
    if isinstance(value, bool):
        return b"\x08" + k + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if -2**31 <= value < 2**31:
            return b"\x10" + k + struct.pack("<i", value)
        return b"\x12" + k + struct.pack("<q", value)
    if isinstance(value, float):
        return b"\x01" + k + struct.pack("<d", value)
    if isinstance(value, str):
        s = value.encode() + b"\x00"
        return b"\x02" + k + struct.pack("<i", len(s)) + s
    if isinstance(value, Array):
        return b"\x04" + k + encode_command([(str(i), v) for i, v in enumerate(value)])
    if isinstance(value, list):
        return b"\x03" + k + encode_command(value)
    raise TypeError("cannot encode %r" % (value,))


def encode_command(pairs):
    body = b"".join(_element(k, v) for k, v in pairs) + b"\x00"
    return struct.pack("<i", len(body) + 4) + body
