"""CRC-64/Jones, the checksum Redis appends to every RDB file and DUMP payload.

Redis's ``crc64.c`` uses the Jones polynomial ``0xad93d23594c935a9`` in its reflected form,
initial value 0 and no final xor; ``crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca`` is the
self-test in that file.  RDB files store the result little-endian after the EOF opcode
(``rdbSaveRio`` in rdb.c); a stored checksum of 0 means "not computed" (``rdbchecksum no``).

The byte loop is table driven (one lookup per byte).  It runs in the BGSAVE child or in SAVE,
never on the per-command path.
"""

from __future__ import annotations

__all__ = ["POLY", "crc64"]

#: The Jones polynomial, bit-reflected (crc64.c: ``POLY UINT64_C(0xad93d23594c935a9)``).
POLY = 0xAD93D23594C935A9
_REFLECTED = int(f"{POLY:064b}"[::-1], 2)


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _make_table()


def crc64(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """Continue ``crc`` over ``data`` (``crc64(crc, s, l)`` in crc64.c)."""
    table = _TABLE
    for b in bytes(data):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc
