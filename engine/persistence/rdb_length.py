"""The RDB length encoding (rdbSaveLen), shared by the RDB writer and the stream encoder.

A module of its own so that :mod:`engine.persistence.rdb` and
:mod:`engine.persistence.rdb_stream` both import it and never each other in a cycle.
"""

from __future__ import annotations

import struct

__all__ = ["encode_length"]


def encode_length(n: int) -> bytes:
    """rdbSaveLen: 6-bit, 14-bit, 32-bit big-endian or 64-bit big-endian length."""
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)
