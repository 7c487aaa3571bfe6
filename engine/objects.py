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
from typing import Any

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
    "encoding",
    "register_type",
]


class ZSet:
    """A sorted set: ``dict`` for O(1) ZSCORE and a ``SortedList`` of ``(score, member)``
    for O(log n) ranks and ranges, ordered as Redis orders them (score, then member bytes)."""

    __slots__ = ("dict", "index", "skiplist")

    def __init__(self) -> None:
        self.dict: dict[bytes, float] = {}
        self.index: SortedList = SortedList()
        # Set once the set outgrew the listpack limits: Redis never converts a skiplist back.
        self.skiplist = False

    def __len__(self) -> int:
        return len(self.dict)

    def __contains__(self, member: object) -> bool:
        return member in self.dict

    def score(self, member: bytes) -> float | None:
        return self.dict.get(member)

    def add(self, member: bytes, score: float) -> bool:
        """Insert or update; return True when the member is new.  -0 is stored as 0, as
        Redis's listpack keeps scores as d2string text."""
        score += 0.0
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
        z.skiplist = self.skiplist
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


def register_type(cls: type, name: str) -> None:
    """Add a value class defined in its own module (streams) to the TYPE/OBJECT mapping."""
    _TYPE_NAMES[cls] = name


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


def encoding(value: object, config: Any) -> str:
    """The name OBJECT ENCODING prints, from Redis 7.0's conversion rules (object.c, t_*.c).

    Strings: ``int`` for canonical 64-bit integers, ``embstr`` up to 44 bytes, ``raw`` above or
    once modified in place.  Lists are always ``quicklist`` in 7.0 (the plain ``listpack`` list
    came in 7.2).  Sets are ``intset`` while every member is an integer and there are at most
    set-max-intset-entries of them (7.0 has no listpack sets), else ``hashtable``.  Hashes and
    sorted sets are ``listpack`` while within their *-max-listpack-entries/value limits, else
    ``hashtable`` / ``skiplist``.  Redis never converts back when a value shrinks: sorted sets
    remember it (``ZSet.skiplist``, set by the zset commands); for hashes and sets the answer
    is computed from the current contents, so it differs for one that grew past a limit and
    then shrank below it again.
    """
    t = type(value)
    if t is bytes:
        if is_int_string(value):  # type: ignore[arg-type]
            return "int"
        return "embstr" if len(value) <= 44 else "raw"  # type: ignore[arg-type]
    if t is bytearray:
        return "raw"
    if t is deque:
        return "quicklist"
    if t is set:
        if len(value) <= config["set-max-intset-entries"] and all(  # type: ignore[arg-type]
            is_int_string(m) for m in value  # type: ignore[attr-defined]
        ):
            return "intset"
        return "hashtable"
    if t is dict:
        limit = config["hash-max-listpack-value"]
        if len(value) <= config["hash-max-listpack-entries"] and all(  # type: ignore[arg-type]
            len(k) <= limit and len(v) <= limit for k, v in value.items()  # type: ignore[attr-defined]
        ):
            return "listpack"
        return "hashtable"
    if t is ZSet:
        if value.skiplist:  # type: ignore[attr-defined]
            return "skiplist"
        limit = config["zset-max-listpack-value"]
        if len(value) <= config["zset-max-listpack-entries"] and all(  # type: ignore[arg-type]
            len(m) <= limit for m in value.dict  # type: ignore[attr-defined]
        ):
            return "listpack"
        return "skiplist"
    return "stream" if _TYPE_NAMES.get(t) == "stream" else "raw"

