"""Ziplist, the compact sequence of Redis up to 6.2, still found in older RDB files.

Layout (``ziplist.c``): ``zlbytes`` (``uint32`` LE), ``zltail`` (offset of the last entry),
``zllen`` (``uint16``, 65535 meaning "count it"), the entries and the terminator ``0xFF``.
Each entry is ``<prevlen><encoding><data>``: ``prevlen`` is one byte when below 254, else
``0xFE`` and a ``uint32`` LE.  Encodings: ``00pppppp`` (6-bit string length),
``01pppppp qqqqqqqq`` (14-bit, big-endian), ``10000000`` + ``uint32`` big-endian length;
``0xC0`` int16, ``0xD0`` int32, ``0xE0`` int64, ``0xF0`` int24, ``0xFE`` int8 (all LE), and
``0xF1``..``0xFD`` an immediate 0..12.

Redis 7.0 reads ziplist-encoded RDB types (``RDB_TYPE_LIST_QUICKLIST``,
``RDB_TYPE_HASH_ZIPLIST``, ``RDB_TYPE_ZSET_ZIPLIST``, ``RDB_TYPE_LIST_ZIPLIST``) and converts
them to listpacks; so does the engine.  The encoder exists for tests and tools that need to
produce such files.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from engine.persistence.listpack import string_to_int64

__all__ = ["ZiplistError", "decode", "encode"]


class ZiplistError(ValueError):
    """The bytes are not a well-formed ziplist (``ziplistValidateIntegrity``)."""


def _encode_entry(prevlen: int, e: bytes) -> bytes:
    head = bytes((prevlen,)) if prevlen < 254 else b"\xfe" + struct.pack("<I", prevlen)
    v = string_to_int64(e) if len(e) <= 20 else None
    if v is not None:
        if 0 <= v <= 12:
            body = bytes((0xF1 + v,))
        elif -128 <= v <= 127:
            body = b"\xfe" + struct.pack("<b", v)
        elif -32768 <= v <= 32767:
            body = b"\xc0" + struct.pack("<h", v)
        elif -8388608 <= v <= 8388607:
            body = b"\xf0" + (v & 0xFFFFFF).to_bytes(3, "little")
        elif -(1 << 31) <= v < (1 << 31):
            body = b"\xd0" + struct.pack("<i", v)
        else:
            body = b"\xe0" + struct.pack("<q", v)
    else:
        n = len(e)
        if n <= 0x3F:
            body = bytes((n,)) + e
        elif n <= 0x3FFF:
            body = bytes((0x40 | (n >> 8), n & 0xFF)) + e
        else:
            body = b"\x80" + struct.pack(">I", n) + e
    return head + body


def encode(elements: Iterable[bytes]) -> bytes:
    """A ziplist holding ``elements`` in order."""
    parts: list[bytes] = []
    prevlen = 0
    tail = 10
    offset = 10
    for e in elements:
        entry = _encode_entry(prevlen, bytes(e))
        tail = offset
        offset += len(entry)
        prevlen = len(entry)
        parts.append(entry)
    payload = b"".join(parts)
    count = len(parts)
    return struct.pack("<IIH", 10 + len(payload) + 1, tail, min(count, 65535)) + payload + b"\xff"


def decode(zl: bytes | bytearray | memoryview) -> list[bytes]:
    """The elements of a ziplist, integers as decimal bytes; raises :class:`ZiplistError`."""
    buf = bytes(zl)
    if len(buf) < 11:
        raise ZiplistError("ziplist shorter than its header")
    total, _tail, count = struct.unpack_from("<IIH", buf, 0)
    if total != len(buf) or buf[-1] != 0xFF:
        raise ZiplistError("ziplist size or terminator wrong")
    out: list[bytes] = []
    p = 10
    end = len(buf) - 1
    try:
        while p < end:
            p += 5 if buf[p] == 0xFE else 1
            b = buf[p]
            top = b >> 6
            if top == 0:
                n = b & 0x3F
                out.append(buf[p + 1 : p + 1 + n])
                p += 1 + n
            elif top == 1:
                n = ((b & 0x3F) << 8) | buf[p + 1]
                out.append(buf[p + 2 : p + 2 + n])
                p += 2 + n
            elif b == 0x80:
                (n,) = struct.unpack_from(">I", buf, p + 1)
                out.append(buf[p + 5 : p + 5 + n])
                p += 5 + n
            elif b == 0xC0:
                out.append(str(struct.unpack_from("<h", buf, p + 1)[0]).encode())
                p += 3
            elif b == 0xD0:
                out.append(str(struct.unpack_from("<i", buf, p + 1)[0]).encode())
                p += 5
            elif b == 0xE0:
                out.append(str(struct.unpack_from("<q", buf, p + 1)[0]).encode())
                p += 9
            elif b == 0xF0:
                out.append(str(int.from_bytes(buf[p + 1 : p + 4], "little", signed=True)).encode())
                p += 4
            elif b == 0xFE:
                out.append(str(struct.unpack_from("<b", buf, p + 1)[0]).encode())
                p += 2
            elif 0xF1 <= b <= 0xFD:
                out.append(str(b - 0xF1).encode())
                p += 1
            else:
                raise ZiplistError(f"invalid ziplist encoding byte 0x{b:02x} at offset {p}")
    except struct.error as exc:
        raise ZiplistError(f"ziplist entry runs past the end: {exc}") from None
    if p != end:
        raise ZiplistError("ziplist entry runs past the end")
    if count != 65535 and count != len(out):
        raise ZiplistError(f"ziplist header says {count} entries, found {len(out)}")
    return out
