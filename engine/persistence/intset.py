"""Intset, Redis's sorted array of integers for small all-integer sets (``intset.c``).

Layout: ``encoding`` (``uint32`` LE: 2, 4 or 8, the byte width of every element), ``length``
(``uint32`` LE), then the elements as signed little-endian integers in ascending order.  The
encoding is the smallest width that holds every member (``_intsetValueEncoding``).  Redis
keeps a set in this form while all members are integers and there are at most
``set-max-intset-entries`` (512) of them; RDB stores it as ``RDB_TYPE_SET_INTSET``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

__all__ = ["IntsetError", "decode", "encode"]

_FORMATS = {2: "h", 4: "i", 8: "q"}


class IntsetError(ValueError):
    """The bytes are not a well-formed intset (``intsetValidateIntegrity``)."""


def encode(values: Iterable[int]) -> bytes:
    """An intset of ``values`` (duplicates removed, sorted)."""
    vals = sorted(set(values))
    width = 2
    for v in (vals[0], vals[-1]) if vals else ():
        if not -32768 <= v <= 32767:
            width = max(width, 4 if -(1 << 31) <= v < (1 << 31) else 8)
    return struct.pack(f"<II{len(vals)}{_FORMATS[width]}", width, len(vals), *vals)


def decode(blob: bytes | bytearray | memoryview) -> list[int]:
    """The members of an intset, ascending; raises :class:`IntsetError`."""
    buf = bytes(blob)
    if len(buf) < 8:
        raise IntsetError("intset shorter than its header")
    width, length = struct.unpack_from("<II", buf, 0)
    if width not in _FORMATS:
        raise IntsetError(f"invalid intset encoding {width}")
    if 8 + width * length != len(buf):
        raise IntsetError("intset length does not match its size")
    vals = list(struct.unpack_from(f"<{length}{_FORMATS[width]}", buf, 8))
    if any(a >= b for a, b in zip(vals, vals[1:], strict=False)):
        raise IntsetError("intset members are not strictly ascending")
    return vals
