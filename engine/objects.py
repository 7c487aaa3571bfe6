"""The value model of the keyspace: which Python object holds which Redis type.

Redis keeps every value in a ``robj`` whose ``type`` is one of string, list, set, zset, hash
and whose ``encoding`` says how it is laid out (object.c).  The engine stores plain Python
objects instead, chosen so that the common commands are one C-level operation:

==========  ===============================  =============================================
Redis type  Python object                    notes
==========  ===============================  =============================================
string      ``bytes`` / ``bytearray``        ``bytearray`` once modified in place (APPEND,
                                             SETRANGE, SETBIT), as Redis turns it ``raw``
hash        ``dict[bytes, bytes]``
list        ``collections.deque[bytes]``
set         ``set[bytes]``
zset        :class:`ZSet`                    dict member->score plus a sorted index
==========  ===============================  =============================================

Anything that needs a value's Redis type name or encoding asks this module, so the mapping
lives in one place.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from sortedcontainers import SortedList

__all__ = [
    "STRING",
    "HASH",
    "LIST",
    "SET",
    "ZSET",
    "ZSet",
    "type_name",
    "is_int_string",
]


class ZSet:
    """A sorted set: ``dict`` for O(1) ZSCORE and a ``SortedList`` of ``(score, member)``
    for O(log n) ranks and ranges, ordered as Redis orders them (score, then member bytes)."""

    __slots__ = ("dict", "index")

    def __init__(self) -> None:
        self.dict: dict[bytes, float] = {}
        self.index: SortedList = SortedList()

    def __len__(self) -> int:
        return len(self.dict)

    def __contains__(self, member: object) -> bool:
        return member in self.dict

    def score(self, member: bytes) -> float | None:
        return self.dict.get(member)

    def add(self, member: bytes, score: float) -> bool:
        """Insert or update; return True when the member is new."""
        old = self.dict.get(member)
        if old is not None:
            if old == score:
                return False
            self.index.remove((old, member))
            self.dict[member] = score
            self.index.add((score, member))
            return False
        self.dict[member] = score
        self.index.add((score, member))
        return True

    def remove(self, member: bytes) -> bool:
        old = self.dict.pop(member, None)
        if old is None:
            return False
        self.index.remove((old, member))
        return True

    def rank(self, member: bytes) -> int | None:
        score = self.dict.get(member)
        if score is None:
            return None
        return self.index.bisect_left((score, member))

    def items(self) -> Iterator[tuple[bytes, float]]:
        """(member, score) pairs in ascending order."""
        for score, member in self.index:
            yield member, score

    def copy(self) -> ZSet:
        z = ZSet()
        z.dict = dict(self.dict)
        z.index = SortedList(self.index)
        return z

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZSet) and self.dict == other.dict

    def __repr__(self) -> str:
        return f"ZSet({list(self.items())!r})"


# Type tuples for ``type(value) in KIND`` checks (faster than isinstance chains).
STRING: tuple[type, ...] = (bytes, bytearray)
HASH: tuple[type, ...] = (dict,)
LIST: tuple[type, ...] = (deque,)
SET: tuple[type, ...] = (set,)
ZSET: tuple[type, ...] = (ZSet,)

_TYPE_NAMES: dict[type, str] = {
    bytes: "string",
    bytearray: "string",
    dict: "hash",
    deque: "list",
    set: "set",
    ZSet: "zset",
}


def type_name(value: object) -> str:
    """The name TYPE prints for a stored value."""
    return _TYPE_NAMES[type(value)]


def is_int_string(data: bytes | bytearray) -> bool:
    """True when Redis would store this string with the ``int`` encoding: a canonical
    signed 64-bit decimal of at most 20 characters (string2ll in util.c)."""
    if not data or len(data) > 20:
        return False
    try:
        n = int(data)
    except ValueError:
        return False
    return -(1 << 63) <= n < (1 << 63) and str(n).encode() == bytes(data)
