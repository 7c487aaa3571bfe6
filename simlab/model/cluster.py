"""Redis Cluster key placement: hash slots (CRC16 mod 16384) with hash tags, slots to shards.

Redis Cluster maps a key to one of 16384 slots with CRC16 (the XMODEM variant: polynomial
0x1021, initial value 0, no reflection) of the key, or of its hash tag: the part between the
first `{` and the next `}` when that part is not empty (cluster spec, "Hash tags"). Slots are
given to shards in contiguous ranges, as `redis-cli --cluster create` does (16384 / shards
each, the remainder to the first ones).

The simulator's keys are integer ids; as keys they are named `key:<id>` (`KEY_FORMAT`), so
the slot of id i is `key_slot(b"key:%d" % i)`. `slots_of_ids` computes that for whole arrays
with numpy (byte columns of fixed width, one table lookup per byte position).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CLUSTER_SLOTS", "KEY_FORMAT", "crc16", "key_slot", "slot_owners", "slots_of_ids"]

CLUSTER_SLOTS = 16384
KEY_FORMAT = "key:%d"


def _table() -> np.ndarray:
    t = np.zeros(256, dtype=np.uint16)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t[i] = c & 0xFFFF
    return t


_CRC_TABLE = _table()
_TABLE_LIST = _CRC_TABLE.tolist()


def crc16(data: bytes) -> int:
    """CRC16-XMODEM as Redis's crc16.c (crc16(b"123456789") == 0x31C3)."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE_LIST[((crc >> 8) ^ b) & 0xFF]
    return crc


def key_slot(key: bytes) -> int:
    """The cluster slot of `key`, honouring a non-empty hash tag (cluster.c keyHashSlot)."""
    s = key.find(b"{")
    if s != -1:
        e = key.find(b"}", s + 1)
        if e != -1 and e != s + 1:
            key = key[s + 1 : e]
    return crc16(key) & (CLUSTER_SLOTS - 1)


def slots_of_ids(ids: np.ndarray) -> np.ndarray:
    """Slots of the keys `key:<id>` for an array of ids >= 0 (vectorised CRC16)."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.empty(len(ids), dtype=np.int64)
    if len(ids) == 0:
        return out
    digits = np.maximum(1, np.floor(np.log10(np.maximum(ids, 1))).astype(np.int64) + 1)
    prefix = KEY_FORMAT.split("%")[0].encode()
    crc = np.zeros(len(ids), dtype=np.int64)
    for b in prefix:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ b) & 0xFF].astype(np.int64)
    width = int(digits.max())
    for pos in range(width):
        # digit `pos` from the left for ids that have it
        has = digits > pos
        power = np.power(10, np.maximum(digits - 1 - pos, 0))
        d = (ids // power) % 10 + ord("0")
        nxt = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ d) & 0xFF].astype(np.int64)
        crc = np.where(has, nxt, crc)
    out[:] = crc & (CLUSTER_SLOTS - 1)
    return out


def slot_owners(shards: int) -> np.ndarray:
    """Shard of each slot: contiguous ranges, as `redis-cli --cluster create` assigns them."""
    base, extra = divmod(CLUSTER_SLOTS, shards)
    sizes = [base + (1 if i < extra else 0) for i in range(shards)]
    return np.repeat(np.arange(shards, dtype=np.int64), sizes)
