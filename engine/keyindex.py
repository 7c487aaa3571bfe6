"""An insertion-ordered key index with O(1) random sampling and a SCAN cursor.

Redis samples keys for eviction (dictGetSomeKeys), RANDOMKEY and the active expire cycle in
O(1), and its SCAN cursor never misses a key that is present for the whole iteration.  A
Python ``dict`` offers neither, so each database keeps this index beside it: a list of keys
where deletions leave a hole (``None``) and a map key -> slot.  Holes keep slots stable, so a
cursor (a slot number) never skips a live key; when holes pass half the list it is
compacted and the *epoch* in the cursor's high bits changes, which restarts a cursor from
slot 0 — SCAN may then repeat keys, which Redis also allows, but never misses one.

Each slot also holds the key's access word (Redis's 24-bit ``robj.lru``: the LRU clock, or
the LFU minutes and counter) and its cached share of ``used_memory`` (engine/memory.py), so
a key costs one more list entry (8 bytes) for each instead of an entry in a dict of its own
(~50 bytes); :class:`AccessWords` is the mapping view of the words that ``Database.lru``
offers to eviction, OBJECT and RESTORE.
"""

from __future__ import annotations

import random as _random
from typing import overload

__all__ = ["KeyIndex", "AccessWords"]

_EPOCH_SHIFT = 40
_SLOT_MASK = (1 << _EPOCH_SHIFT) - 1


class KeyIndex:
    __slots__ = ("slots", "pos", "holes", "epoch", "words", "sizes")

    def __init__(self) -> None:
        self.slots: list[bytes | None] = []
        self.pos: dict[bytes, int] = {}
        self.holes = 0
        self.epoch = 0
        self.words: list[int | None] = []  # per slot: the access word, None until stamped
        self.sizes: list[int] = []  # per slot: the key's used_memory estimate, 0 until made

    def __len__(self) -> int:
        return len(self.pos)

    def add(self, key: bytes, word: int | None = None) -> None:
        """Add a key known not to be present, with its access word if known."""
        self.pos[key] = len(self.slots)
        self.slots.append(key)
        self.words.append(word)
        self.sizes.append(0)

    def discard(self, key: bytes) -> None:
        i = self.pos.pop(key, None)
        if i is None:
            return
        self.slots[i] = None
        self.words[i] = None
        self.sizes[i] = 0
        self.holes += 1
        if self.holes > 64 and self.holes * 2 > len(self.slots):
            self._compact()

    def clear(self) -> None:
        self.slots.clear()
        self.words.clear()
        self.sizes.clear()
        self.pos.clear()
        self.holes = 0
        self.epoch += 1

    def _compact(self) -> None:
        live = [k for k in self.slots if k is not None]
        self.words = [w for k, w in zip(self.slots, self.words, strict=True) if k is not None]
        self.sizes = [n for k, n in zip(self.slots, self.sizes, strict=True) if k is not None]
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


class AccessWords:
    """The access words of a :class:`KeyIndex`'s keys as a mapping key -> word (what a
    ``dict`` of them would offer): a key without a word reads as absent, setting the word of
    a key the index does not hold does nothing."""

    __slots__ = ("index",)

    def __init__(self, index: KeyIndex) -> None:
        self.index = index

    @overload
    def get(self, key: bytes) -> int | None: ...
    @overload
    def get(self, key: bytes, default: int) -> int: ...
    def get(self, key: bytes, default: int | None = None) -> int | None:
        i = self.index.pos.get(key)
        if i is None:
            return default
        w = self.index.words[i]
        return default if w is None else w

    def __getitem__(self, key: bytes) -> int:
        w = self.get(key)
        if w is None:
            raise KeyError(key)
        return w

    def __setitem__(self, key: bytes, word: int) -> None:
        i = self.index.pos.get(key)
        if i is not None:
            self.index.words[i] = word

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and self.get(key) is not None

    def pop(self, key: bytes, default: int | None = None) -> int | None:
        i = self.index.pos.get(key)
        if i is None:
            return default
        words = self.index.words
        w, words[i] = words[i], None
        return default if w is None else w

    def clear(self) -> None:
        """Forget every word (the keys stay): a policy change between LRU and LFU."""
        words = self.index.words
        words[:] = [None] * len(words)

    def __len__(self) -> int:
        return sum(w is not None for w in self.index.words)
