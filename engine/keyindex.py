"""An insertion-ordered key index with O(1) random sampling and a SCAN cursor.

Redis samples keys for eviction (dictGetSomeKeys), RANDOMKEY and the active expire cycle in
O(1), and its SCAN cursor never misses a key that is present for the whole iteration.  A
Python ``dict`` offers neither, so each database keeps this index beside it: a list of keys
where deletions leave a hole (``None``) and a map key -> slot.  Holes keep slots stable, so a
cursor (a slot number) never skips a live key; when holes pass half the list it is
compacted and the *epoch* in the cursor's high bits changes, which restarts a cursor from
slot 0 — SCAN may then repeat keys, which Redis also allows, but never misses one.
"""

from __future__ import annotations

import random as _random

__all__ = ["KeyIndex"]

_EPOCH_SHIFT = 40
_SLOT_MASK = (1 << _EPOCH_SHIFT) - 1


class KeyIndex:
    __slots__ = ("slots", "pos", "holes", "epoch")

    def __init__(self) -> None:
        self.slots: list[bytes | None] = []
        self.pos: dict[bytes, int] = {}
        self.holes = 0
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.pos)

    def add(self, key: bytes) -> None:
        """Add a key known not to be present."""
        self.pos[key] = len(self.slots)
        self.slots.append(key)

    def discard(self, key: bytes) -> None:
        i = self.pos.pop(key, None)
        if i is None:
            return
        self.slots[i] = None
        self.holes += 1
        if self.holes > 64 and self.holes * 2 > len(self.slots):
            self._compact()

    def clear(self) -> None:
        self.slots.clear()
        self.pos.clear()
        self.holes = 0
        self.epoch += 1

    def _compact(self) -> None:
        live = [k for k in self.slots if k is not None]
        self.slots = live  # type: ignore[assignment]
        self.pos = {k: i for i, k in enumerate(live)}
        self.holes = 0
        self.epoch += 1

    def random(self, rng: _random.Random = _random._inst) -> bytes | None:  # type: ignore[attr-defined]
        """One uniformly random key, or None when empty."""
        if not self.pos:
            return None
        slots = self.slots
        n = len(slots)
        while True:
            k = slots[int(rng.random() * n)]
            if k is not None:
                return k

    def sample(self, count: int, rng: _random.Random = _random._inst) -> list[bytes]:  # type: ignore[attr-defined]
        """Up to ``count`` random keys (possibly repeated, as dictGetSomeKeys may)."""
        if not self.pos:
            return []
        if len(self.pos) <= count:
            return list(self.pos)
        return [self.random(rng) for _ in range(count)]  # type: ignore[misc]

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """Visit about ``count`` slots from ``cursor``; return (next cursor, keys seen)."""
        epoch, slot = cursor >> _EPOCH_SHIFT, cursor & _SLOT_MASK
        if epoch != (self.epoch & 0xFFFFFF):
            slot = 0
        slots = self.slots
        end = min(slot + max(count, 1), len(slots))
        keys = [k for k in slots[slot:end] if k is not None]
        if end >= len(slots):
            return 0, keys
        return ((self.epoch & 0xFFFFFF) << _EPOCH_SHIFT) | end, keys
