"""Listpack, the compact sequence Redis 7 uses for small hashes, sorted sets and list nodes.

Layout (``listpack.c``): a 6-byte header (total bytes ``uint32`` LE, element count
``uint16`` LE, 65535 meaning "count it"), the entries, and the terminator ``0xFF``.  Each
entry is ``<encoding+data><backlen>``; ``backlen`` is the length of ``encoding+data`` written
so it can be read right to left (``lpEncodeBacklen``).  Strings that are canonical 64-bit
integers are stored as integers (``lpStringToInt64``), in the smallest of the 7-bit unsigned,
13-, 16-, 24-, 32- or 64-bit signed forms; other strings take a 6-, 12- or 32-bit length.

RDB stores a listpack as one opaque string (``RDB_TYPE_HASH_LISTPACK``,
``RDB_TYPE_ZSET_LISTPACK`` and the ``PACKED`` nodes of ``RDB_TYPE_LIST_QUICKLIST_2``).
Integers decode to their decimal bytes, as ``lpGet`` does for the commands that read them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

__all__ = ["ListpackError", "decode", "encode", "string_to_int64"]

_EOF = 0xFF


class ListpackError(ValueError):
    """The bytes are not a well-formed listpack (the check ``lpValidateIntegrity`` makes)."""


def string_to_int64(s: bytes | bytearray) -> int | None:
    """The integer ``s`` spells when it is canonical and fits int64 (``string2ll``), else None."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    first = s[0]
    if not (48 <= first <= 57 or first == 45):  # digit or '-'
        return None
    try:
        v = int(s)
    except ValueError:
        return None
    if not -(1 << 63) <= v < (1 << 63):
        return None
    if str(v).encode() != bytes(s):
        return None
    return v


def _encode_int(v: int) -> bytes:
    if 0 <= v <= 127:
        return bytes((v,))
    if -4096 <= v <= 4095:
        if v < 0:
            v += 1 << 13
        return bytes(((v >> 8) | 0xC0, v & 0xFF))
    if -32768 <= v <= 32767:
        return b"\xf1" + struct.pack("<h", v)
    if -8388608 <= v <= 8388607:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little")
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + struct.pack("<i", v)
    return b"\xf4" + struct.pack("<q", v)


def _encode_str(s: bytes) -> bytes:
    n = len(s)
    if n < 64:
        return bytes((0x80 | n,)) + s
    if n < 4096:
        return bytes(((n >> 8) | 0xE0, n & 0xFF)) + s
    return b"\xf0" + struct.pack("<I", n) + s


def _backlen(n: int) -> bytes:
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes(
        (n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128)
    )


def encode(elements: Iterable[bytes | int]) -> bytes:
    """A listpack holding ``elements`` in order (``lpAppend`` for each)."""
    parts = []
    count = 0
    for e in elements:
        if isinstance(e, int):
            body = _encode_int(e)
        else:
            e = bytes(e)
            v = string_to_int64(e)
            body = _encode_int(v) if v is not None else _encode_str(e)
        parts.append(body)
        parts.append(_backlen(len(body)))
        count += 1
    payload = b"".join(parts)
    total = 6 + len(payload) + 1
    return struct.pack("<IH", total, count if count < 65535 else 65535) + payload + b"\xff"


def decode(lp: bytes | bytearray | memoryview) -> list[bytes]:
    """The elements of a listpack, integers as decimal bytes; raises :class:`ListpackError`."""
    buf = bytes(lp)
    if len(buf) < 7:
        raise ListpackError("listpack shorter than its header")
    total, count = struct.unpack_from("<IH", buf, 0)
    if total != len(buf):
        raise ListpackError(f"listpack header says {total} bytes, blob has {len(buf)}")
    out: list[bytes] = []
    p = 6
    end = len(buf) - 1
    while p < end:
        start = p
        b = buf[p]
        if b < 0x80:
            out.append(str(b).encode())
            p += 1
        elif b < 0xC0:
            n = b & 0x3F
            out.append(buf[p + 1 : p + 1 + n])
            p += 1 + n
        elif b < 0xE0:
            v = ((b & 0x1F) << 8) | buf[p + 1]
            if v >= 1 << 12:
                v -= 1 << 13
            out.append(str(v).encode())
            p += 2
        elif b < 0xF0:
            n = ((b & 0x0F) << 8) | buf[p + 1]
            out.append(buf[p + 2 : p + 2 + n])
            p += 2 + n
        elif b == 0xF0:
            (n,) = struct.unpack_from("<I", buf, p + 1)
            out.append(buf[p + 5 : p + 5 + n])
            p += 5 + n
        elif b == 0xF1:
            out.append(str(struct.unpack_from("<h", buf, p + 1)[0]).encode())
            p += 3
        elif b == 0xF2:
            v = int.from_bytes(buf[p + 1 : p + 4], "little", signed=True)
            out.append(str(v).encode())
            p += 4
        elif b == 0xF3:
            out.append(str(struct.unpack_from("<i", buf, p + 1)[0]).encode())
            p += 5
        elif b == 0xF4:
            out.append(str(struct.unpack_from("<q", buf, p + 1)[0]).encode())
            p += 9
        else:
            raise ListpackError(f"invalid listpack encoding byte 0x{b:02x} at offset {p}")
        if p > end:
            raise ListpackError("listpack entry runs past the end")
        want = _backlen(p - start)
        if buf[p : p + len(want)] != want:
            raise ListpackError(f"bad backlen at offset {p}")
        p += len(want)
    if p != end or buf[end] != _EOF:
        raise ListpackError("listpack not terminated by 0xFF")
    if count != 65535 and count != len(out):
        raise ListpackError(f"listpack header says {count} elements, found {len(out)}")
    return out
