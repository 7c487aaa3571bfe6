"""Random members of a set in O(count) for SPOP and SRANDMEMBER.

Redis picks a random bucket of the set's hash table (dictGetFairRandomKey), O(1) per member.
A Python ``set`` has no random access, so the members of a large set are copied once to a
tuple that is kept between calls; a pick is a random index into that tuple, accepted when the
member is still in the set (rejection sampling, so the pick stays uniform over the set's
current members).  Removals (SREM, SPOP, SMOVE's source) leave the tuple a superset of the set
and keep it usable; an addition makes it stale, so SADD and SMOVE's destination call
:func:`forget`.  The tuple is rebuilt once fewer than half its members remain, so a pick takes
at most two tries on average and a run of SPOPs costs O(n) copies in all, not O(n) per call.

Sets of at most :data:`SMALL` members are copied per call (that is O(1) for them).  The cache
holds at most :data:`MAX_CACHED` members over all sets, the oldest entries dropped first; an
entry keeps its set alive (so ids are never reused while cached), so the server cron drops the
entries of sets no longer stored anywhere, a few per tick, and sweeps the sticky-encoding table
of engine/objects.py the same way.
"""

from __future__ import annotations

import random
import sys

from engine.objects import is_hashtable, sweep_hashtables

__all__ = ["SMALL", "MAX_CACHED", "SWEEP_BUDGET", "forget", "random_member", "sample", "choices", "sweep", "cron"]

#: Entries of each side table looked at per cron tick.
SWEEP_BUDGET = 64

#: Sets up to this size are copied per call instead of cached.
SMALL = 128
#: Members kept over all cached tuples.
MAX_CACHED = 1 << 22

_CACHE: dict[int, tuple[set[bytes], tuple[bytes, ...]]] = {}
_cached = 0


def forget(s: set[bytes]) -> None:
    """Members were added to ``s``: its cached tuple no longer covers it."""
    global _cached
    if _CACHE:
        entry = _CACHE.pop(id(s), None)
        if entry is not None:
            _cached -= len(entry[1])


def sweep(budget: int) -> int:
    """Look at up to ``budget`` cached entries, oldest first (live ones go to the back); drop
    those whose set only this cache refers to.  Returns how many were dropped."""
    global _cached
    dropped = 0
    for _ in range(min(budget, len(_CACHE))):
        k = next(iter(_CACHE))
        entry = _CACHE.pop(k)
        s = entry[0]
        # references besides this entry, ``s``, getrefcount's argument and the sticky-encoding
        # table's: the set is still stored somewhere
        if sys.getrefcount(s) - is_hashtable(s) > 3:
            _CACHE[k] = entry
        else:
            _cached -= len(entry[1])
            dropped += 1
    return dropped


def cron() -> None:
    """The server cron's share: drop the member snapshots of sets that are gone."""
    sweep(SWEEP_BUDGET)
    sweep_hashtables(SWEEP_BUDGET)


def _members(s: set[bytes]) -> tuple[bytes, ...]:
    global _cached
    key = id(s)
    entry = _CACHE.get(key)
    if entry is not None and entry[0] is s and 2 * len(s) >= len(entry[1]):
        return entry[1]
    if entry is not None:
        del _CACHE[key]
        _cached -= len(entry[1])
    members = tuple(s)
    while _CACHE and _cached + len(members) > MAX_CACHED:
        oldest = next(iter(_CACHE))
        _cached -= len(_CACHE.pop(oldest)[1])
    if len(members) <= MAX_CACHED:
        _CACHE[key] = (s, members)
        _cached += len(members)
    return members


def random_member(s: set[bytes], rng: random.Random) -> bytes:
    """One uniformly random member of the non-empty set ``s``."""
    if len(s) <= SMALL:
        return rng.choice(tuple(s))
    members = _members(s)
    n = len(members)
    rand = rng.random
    while True:
        m = members[int(rand() * n)]
        if m in s:
            return m


def choices(s: set[bytes], count: int, rng: random.Random) -> list[bytes]:
    """``count`` independent uniform picks (SRANDMEMBER with a negative count)."""
    if len(s) <= SMALL:
        members = tuple(s)
        n = len(members)
        rand = rng.random
        return [members[int(rand() * n)] for _ in range(count)]
    return [random_member(s, rng) for _ in range(count)]


def sample(s: set[bytes], count: int, rng: random.Random) -> list[bytes]:
    """``count`` distinct uniform members, ``count`` < len(s).  O(count) when ``count`` is at
    most a third of the set (Redis's SRANDMEMBER case 4); above that the set is copied and
    sampled, O(n), as Redis copies it too (case 3)."""
    if len(s) <= SMALL or 3 * count > len(s):
        return rng.sample(tuple(s), count)
    members = _members(s)
    n = len(members)
    rand = rng.random
    chosen: set[bytes] = set()
    out: list[bytes] = []
    while len(out) < count:
        m = members[int(rand() * n)]
        if m in s and m not in chosen:
            chosen.add(m)
            out.append(m)
    return out
