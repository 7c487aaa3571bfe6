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

import sys
from collections import deque
from collections.abc import Iterable, Iterator
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
    "is_hashtable",
    "mark_hashtable",
    "hash_grew",
    "set_grew",
    "sweep_hashtables",
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
        """Insert or update; return True when the member is new.  -0 is stored as 0 while the
        set is a listpack, whose scores read back as 0; Redis's skiplist keeps -0 as a double
        (so callers mark ``skiplist`` before adding the member that converts the set)."""
        if not self.skiplist:
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


# -- sticky hashtable encodings -------------------------------------------------------------
#
# Redis converts a listpack hash or an intset set to a hashtable when it outgrows the
# thresholds, and never converts back (t_hash.c hashTypeConvert, t_set.c setTypeConvert).  The
# engine keeps hashes and sets as plain ``dict``/``set`` (their commands are one C call), so the
# converted ones are remembered here: id -> the value itself, which keeps the id from being
# reused while the entry exists.  Values that are gone from every keyspace (only this table
# still refers to them) are dropped whenever the table doubles, so its size stays within twice
# the number of live converted values plus a constant, and a few at a time by
# :func:`sweep_hashtables` from the server cron, so a deleted value is not kept for long.

_HASHTABLE: dict[int, object] = {}
_sweep_at = 256


def is_hashtable(value: object) -> bool:
    """True once ``value`` (a hash or set) was converted to Redis's hashtable encoding."""
    return id(value) in _HASHTABLE


def mark_hashtable(value: object) -> None:
    """Record the conversion of a hash or set to ``hashtable``: it stays so when it shrinks."""
    global _sweep_at
    _HASHTABLE[id(value)] = value
    if len(_HASHTABLE) >= _sweep_at:
        for k in list(_HASHTABLE):
            v = _HASHTABLE[k]
            if sys.getrefcount(v) <= 3:  # this table, ``v`` and getrefcount's argument
                del _HASHTABLE[k]
        _sweep_at = max(256, 2 * len(_HASHTABLE))


def sweep_hashtables(budget: int) -> int:
    """Look at up to ``budget`` entries, oldest first (those alive go to the back); drop the
    ones only this table refers to.  Returns how many were dropped."""
    dropped = 0
    for _ in range(min(budget, len(_HASHTABLE))):
        k = next(iter(_HASHTABLE))
        v = _HASHTABLE.pop(k)
        if sys.getrefcount(v) > 2:  # more than ``v`` and getrefcount's argument: still stored
            _HASHTABLE[k] = v
        else:
            dropped += 1
    return dropped


def hash_grew(h: dict[bytes, bytes], written: Iterable[bytes], config: Any) -> None:
    """hashTypeTryConversion + hashTypeSet: after a write of ``written`` (fields and values) to
    ``h``, convert it when a written string is longer than hash-max-listpack-value or it holds
    more than hash-max-listpack-entries fields.  Callers skip this once ``is_hashtable(h)``."""
    values = config.values
    limit = values["hash-max-listpack-value"]
    if len(h) > values["hash-max-listpack-entries"] or any(len(x) > limit for x in written):
        mark_hashtable(h)


def set_grew(s: set[bytes], added: Iterable[bytes], config: Any) -> None:
    """setTypeAdd: an intset set becomes a hashtable when a member that is not an integer is
    added or it holds more than set-max-intset-entries members.  Callers skip this once
    ``is_hashtable(s)``."""
    if len(s) > config.values["set-max-intset-entries"] or not all(is_int_string(m) for m in added):
        mark_hashtable(s)


def encoding(value: object, config: Any) -> str:
    """The name OBJECT ENCODING prints, from Redis 7.0's conversion rules (object.c, t_*.c).

    Strings: ``int`` for canonical 64-bit integers, ``embstr`` up to 44 bytes, ``raw`` above or
    once modified in place.  Lists are always ``quicklist`` in 7.0 (the plain ``listpack`` list
    came in 7.2).  Sets are ``intset`` while every member is an integer and there are at most
    set-max-intset-entries of them (7.0 has no listpack sets), else ``hashtable``.  Hashes and
    sorted sets are ``listpack`` while within their *-max-listpack-entries/value limits, else
    ``hashtable`` / ``skiplist``.  Redis never converts back when a value shrinks: sorted sets
    remember it (``ZSet.skiplist``, set by the zset commands), hashes and sets in the table of
    :func:`mark_hashtable` (set by the commands that add to them).  A value not marked is judged
    from its contents with today's thresholds (and marked when it is over them), so lowering a
    threshold with CONFIG SET shows on a value at once, where Redis waits for its next write.
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
    if (t is set or t is dict) and id(value) in _HASHTABLE:
        return "hashtable"
    if t is set:
        if len(value) <= config["set-max-intset-entries"] and all(  # type: ignore[arg-type]
            is_int_string(m) for m in value  # type: ignore[attr-defined]
        ):
            return "intset"
        mark_hashtable(value)
        return "hashtable"
    if t is dict:
        limit = config["hash-max-listpack-value"]
        if len(value) <= config["hash-max-listpack-entries"] and all(  # type: ignore[arg-type]
            len(k) <= limit and len(v) <= limit for k, v in value.items()  # type: ignore[attr-defined]
        ):
            return "listpack"
        mark_hashtable(value)
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

