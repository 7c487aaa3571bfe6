"""Cursors of HSCAN, SSCAN and ZSCAN over large (hashtable/skiplist-encoded) collections.

Redis walks a large collection's hash table a few buckets per call (dictScan), so COUNT bounds
the work of one call and an element present from the first call to the last is returned at
least once.  The engine's hashes and sets are Python ``dict``/``set`` objects, which have no
stable bucket positions, so the first call takes a snapshot of the element order (one list
copy, paid once per scan and not per call) and the cursor names the snapshot and a position in
it.  Each call returns the next COUNT positions whose element is still in the collection: an
element present throughout is returned exactly once, one added during the scan may not be
(as in Redis), one deleted is not returned after its deletion.

Snapshots live on the server, at most :data:`MAX_SCANS` of them (the oldest is dropped first),
and go away when their scan completes.  A cursor whose snapshot is gone (dropped, or the key
now holds another value) continues over a fresh snapshot from the same position, which can
skip elements: the guarantee holds for up to :data:`MAX_SCANS` scans in progress at once.

Small (listpack/intset) collections are answered whole with cursor 0 by the commands
themselves, as Redis does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_SCANS", "scan_step"]

#: Scans in progress kept per server (each holds one list of the collection's elements).
MAX_SCANS = 64

_POS_BITS = 32
_POS_MASK = (1 << _POS_BITS) - 1


class _Scans:
    __slots__ = ("snapshots", "next_id")

    def __init__(self) -> None:
        self.snapshots: dict[int, tuple[object, list[Any]]] = {}
        self.next_id = 1

    def new(self, value: object, elements: list[Any]) -> int:
        sid = self.next_id
        self.next_id = sid + 1 if sid < _POS_MASK else 1
        if len(self.snapshots) >= MAX_SCANS:
            del self.snapshots[next(iter(self.snapshots))]
        self.snapshots[sid] = (value, elements)
        return sid


def _scans(server: Any) -> _Scans:
    scans: _Scans | None = getattr(server, "collection_scans", None)
    if scans is None:
        scans = _Scans()
        server.collection_scans = scans
    return scans


def scan_step(server: Any, value: Any, cursor: int, count: int) -> tuple[int, list[Any]]:
    """One HSCAN/SSCAN/ZSCAN call over ``value`` (a dict, set or ``ZSet.dict``): the next
    cursor (0 when done) and the elements of the next ``count`` positions still present."""
    scans = _scans(server)
    cursor &= (1 << 64) - 1  # strtoul: "-1" wraps
    sid, pos = cursor >> _POS_BITS, cursor & _POS_MASK
    entry = scans.snapshots.get(sid) if cursor else None
    if entry is None or entry[0] is not value:
        elements = list(value)
        sid = scans.new(value, elements)
        if not cursor:
            pos = 0
    else:
        elements = entry[1]
    end = pos + max(count, 1)
    chunk = [e for e in elements[pos:end] if e in value]
    if end >= len(elements):
        scans.snapshots.pop(sid, None)
        return 0, chunk
    return (sid << _POS_BITS) | end, chunk
