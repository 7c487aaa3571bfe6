"""The stream value (stream.h, t_stream.c): entries, IDs, consumer groups and their PELs.

Redis keeps a stream as a radix tree of listpack *nodes*, each holding up to
``stream-node-max-entries`` entries (and ``stream-node-max-bytes``).  The node layout is visible
to clients: ``MAXLEN ~``/``MINID ~`` only ever drop whole nodes, and a node whose entries were
all deleted disappears.  So the engine keeps the entries in a ``SortedDict`` (ID -> flat
field/value list, for O(log n) ranges) *and* a list of :class:`Node` records that mirror how
Redis would have packed them (first ID, live and deleted counts, approximate bytes), which is
all trimming needs.

IDs are ``(ms, seq)`` tuples of unsigned 64-bit integers, compared as Redis compares them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedDict, SortedList

from engine.objects import register_type

__all__ = [
    "StreamID",
    "MAX_ID",
    "MIN_ID",
    "U64",
    "INVALID_ENTRIES_READ",
    "Stream",
    "Group",
    "Consumer",
    "NACK",
    "PEL",
    "Node",
    "format_id",
    "set_in_order",
    "first_from",
]

StreamID = tuple[int, int]
U64 = (1 << 64) - 1
MIN_ID: StreamID = (0, 0)
MAX_ID: StreamID = (U64, U64)
#: SCG_INVALID_ENTRIES_READ: the group's read counter is unknown.
INVALID_ENTRIES_READ = -1
STREAM_LISTPACK_MAX_SIZE = 1 << 30
_dict_setitem = dict.__setitem__


def set_in_order(sd: SortedDict, key: StreamID, value: object) -> None:
    """``sd[key] = value``; a key above every other (a new entry, a fresh delivery into a PEL:
    the common case) goes at the end of the last sublist without SortedList.add's search and
    calls, and without ``_expand`` unless the sublist is due to split or the positional index
    exists (0.75 -> 0.35 us an insert).  Uses SortedList's layout (``_lists``, ``_maxes``,
    ``_len``, ``_load``, ``_index``, ``_expand``), as its own ``add`` does for that case."""
    sl = sd._list
    maxes = sl._maxes
    if maxes and key > maxes[-1]:
        sub = sl._lists[-1]
        sub.append(key)
        maxes[-1] = key
        sl._len += 1
        if sl._index or len(sub) > sl._load << 1:
            sl._expand(len(maxes) - 1)
        _dict_setitem(sd, key, value)
    else:
        sd[key] = value


def first_from(sd: SortedDict, key: StreamID) -> StreamID | None:
    """The smallest key ``>= key``, or None: SortedList.bisect_left's two bisections without
    ``peekitem``, which would build the positional index that every later append to ``sd``
    must then keep up to date (``_expand``)."""
    sl = sd._list
    maxes = sl._maxes
    pos = bisect_left(maxes, key)
    if pos == len(maxes):
        return None
    sub = sl._lists[pos]
    return sub[bisect_left(sub, key)]  # type: ignore[no-any-return]


def format_id(sid: StreamID) -> bytes:
    return b"%d-%d" % sid


def _lp_len(s: bytes) -> int:
    """Approximate listpack entry size of a string (encoding header + data + backlen)."""
    n = len(s)
    if n <= 63:
        return n + 2
    if n <= 4095:
        return n + 4
    return n + 10


@dataclass(eq=False, slots=True)
class Node:
    """One listpack node as Redis would have packed it: entries are added at the tail only."""

    master: StreamID
    last: StreamID
    live: int = 0
    deleted: int = 0
    bytes: int = 7


@dataclass(eq=False, slots=True)
class NACK:
    """streamNACK: one pending (delivered, not acknowledged) entry."""

    delivery_time: int
    delivery_count: int
    consumer: Consumer


class PEL(dict[StreamID, NACK]):
    """A pending entries list (a group's or a consumer's rax of streamNACKs): NACKs by ID, read
    in ID order.

    Why not a SortedDict: a delivery adds an ID and XACK removes one, and neither needs the order;
    only XPENDING, XCLAIM/XAUTOCLAIM, XINFO, the consumer's history and persistence read the IDs
    in order.  So the sorted index of the IDs (a SortedList) is built the first time one of those
    asks, and from then on kept by every insert and removal; a group whose PELs are only filled
    by XREADGROUP and emptied by XACK never pays for it (an insert: 0.35 us -> 0.1 us).  Lookups,
    ``in`` and ``len`` are the dict's own.  Not to be changed while it is being iterated."""

    __slots__ = ("_ids",)

    def __init__(self) -> None:
        super().__init__()
        self._ids: SortedList | None = None

    def _sorted(self) -> SortedList:
        ids = self._ids
        if ids is None:
            ids = self._ids = SortedList(dict.__iter__(self))
        return ids

    def __setitem__(self, sid: StreamID, nack: NACK) -> None:
        ids = self._ids
        if ids is not None and not dict.__contains__(self, sid):
            _sorted_add(ids, sid)
        dict.__setitem__(self, sid, nack)

    def __delitem__(self, sid: StreamID) -> None:
        dict.__delitem__(self, sid)
        if self._ids is not None:
            self._ids.remove(sid)

    def pop(self, sid: StreamID, *default: Any) -> Any:  # type: ignore[override]
        if self._ids is not None and dict.__contains__(self, sid):
            self._ids.remove(sid)
        return dict.pop(self, sid, *default)

    def clear(self) -> None:
        dict.clear(self)
        self._ids = None

    def __iter__(self) -> Iterator[StreamID]:
        return iter(self._sorted())

    def keys(self) -> Iterator[StreamID]:  # type: ignore[override]
        return iter(self._sorted())

    def items(self) -> Iterator[tuple[StreamID, NACK]]:  # type: ignore[override]
        get = dict.__getitem__
        return ((sid, get(self, sid)) for sid in self._sorted())

    def values(self) -> Iterator[NACK]:  # type: ignore[override]
        get = dict.__getitem__
        return (get(self, sid) for sid in self._sorted())

    def irange(self, start: StreamID | None = None, end: StreamID | None = None) -> Iterator[StreamID]:
        """The IDs from ``start`` to ``end`` (both included; None: unbounded), in order."""
        return self._sorted().irange(start, end)  # type: ignore[no-any-return]

    def peekitem(self, index: int) -> tuple[StreamID, NACK]:
        """The pending entry at ``index`` in ID order (0 the first, -1 the last)."""
        sid = self._sorted()[index]
        return sid, dict.__getitem__(self, sid)

    def __reduce__(self) -> Any:  # (a copy or pickle keeps the type and the entries, not the index)
        return (PEL, (), None, None, iter(dict.items(self)))


def _sorted_add(sl: SortedList, key: StreamID) -> None:
    """``sl.add(key)``, a key above every other appended as :func:`set_in_order` does."""
    maxes = sl._maxes
    if maxes and key > maxes[-1]:
        sub = sl._lists[-1]
        sub.append(key)
        maxes[-1] = key
        sl._len += 1
        if sl._index or len(sub) > sl._load << 1:
            sl._expand(len(maxes) - 1)
    else:
        sl.add(key)


@dataclass(eq=False, slots=True)
class Consumer:
    """streamConsumer: a name, when it was last seen, and its own PEL."""

    name: bytes
    seen_time: int
    pel: PEL = field(default_factory=PEL)


@dataclass(eq=False, slots=True)
class Group:
    """streamCG: last delivered ID, logical read counter, global PEL and consumers."""

    name: bytes
    last_id: StreamID
    entries_read: int
    pel: PEL = field(default_factory=PEL)
    consumers: dict[bytes, Consumer] = field(default_factory=dict)


class Stream:
    """A stream value: entries in ID order plus the bookkeeping Redis 7.0 keeps."""

    __slots__ = ("entries", "nodes", "last_id", "first_id", "max_deleted_id", "entries_added", "groups")

    def __init__(self) -> None:
        self.entries: SortedDict = SortedDict()
        self.nodes: list[Node] = []
        self.last_id: StreamID = MIN_ID
        self.first_id: StreamID = MIN_ID
        self.max_deleted_id: StreamID = MIN_ID
        self.entries_added = 0
        self.groups: dict[bytes, Group] = {}

    def __len__(self) -> int:
        return len(self.entries)

    # -- appending -------------------------------------------------------------------------
    def append(self, sid: StreamID, fields: list[bytes], max_entries: int, max_bytes: int) -> None:
        """streamAppendItem with an ID already validated to exceed ``last_id``."""
        totlen = sum(map(len, fields))
        node = self.nodes[-1] if self.nodes else None
        if node is not None:
            limit = max_bytes if 0 < max_bytes <= STREAM_LISTPACK_MAX_SIZE else STREAM_LISTPACK_MAX_SIZE
            if node.bytes + totlen >= limit or (max_entries and node.live + node.deleted >= max_entries):
                node = None
        if node is None:
            node = Node(sid, sid, bytes=7 + 3 + sum(_lp_len(f) for f in fields[0::2]) + 1)
            self.nodes.append(node)
        node.live += 1
        node.last = sid
        # listpack growth: flags, ID deltas, count and lp-count, plus each string and its
        # header/backlen (2 bytes up to 63 bytes long, more beyond: an estimate, see _lp_len)
        node.bytes += 6 + totlen + 2 * len(fields) + (0 if totlen < 64 else sum(_lp_len(f) - len(f) - 2 for f in fields))
        entries = self.entries
        set_in_order(entries, sid, fields)
        if len(entries) == 1:
            self.first_id = sid
        self.last_id = sid
        self.entries_added += 1

    def next_id(self, now_ms: int) -> StreamID | None:
        """streamNextID: the auto ID after ``last_id``; None when the space is exhausted."""
        ms, seq = self.last_id
        if now_ms > ms:
            return (now_ms, 0)
        if seq == U64:
            if ms == U64:
                return None
            return (ms + 1, 0)
        return (ms, seq + 1)

    # -- deleting --------------------------------------------------------------------------
    def _node_of(self, sid: StreamID) -> int:
        i = bisect_right([n.master for n in self.nodes], sid) - 1
        return i

    def delete(self, sid: StreamID) -> bool:
        """streamDeleteItem: mark one entry deleted; drop its node once empty."""
        if self.entries.pop(sid, None) is None:
            return False
        i = self._node_of(sid)
        if 0 <= i < len(self.nodes):
            node = self.nodes[i]
            node.live -= 1
            node.deleted += 1
            if node.live <= 0:
                del self.nodes[i]
        return True

    def refresh_first(self) -> None:
        self.first_id = self.entries.peekitem(0)[0] if self.entries else MIN_ID

    def trim(self, maxlen: int | None, minid: StreamID | None, approx: bool, limit: int) -> int:
        """streamTrim: remove from the head while over ``maxlen`` / below ``minid``; with
        ``approx`` only whole nodes go, and at most ``limit`` entries (0 = no limit)."""
        deleted = 0
        entries = self.entries
        while self.nodes:
            if maxlen is not None and len(entries) <= maxlen:
                break
            node = self.nodes[0]
            if limit and deleted + node.live > limit:
                break
            if maxlen is not None:
                remove_node = len(entries) - node.live >= maxlen
            else:
                assert minid is not None
                remove_node = node.last < minid
            if remove_node:
                for sid in list(entries.irange(node.master, node.last)):
                    del entries[sid]
                deleted += node.live
                del self.nodes[0]
                continue
            if approx:
                break
            for sid in list(entries.irange(node.master, node.last)):
                if maxlen is not None:
                    if len(entries) <= maxlen:
                        break
                elif sid >= minid:  # type: ignore[operator]
                    break
                del entries[sid]
                node.live -= 1
                node.deleted += 1
                deleted += 1
            break
        self.refresh_first()
        return deleted

    # -- groups ----------------------------------------------------------------------------
    def estimate_distance(self, sid: StreamID) -> int:
        """streamEstimateDistanceFromFirstEverEntry: the logical read counter at ``sid``."""
        if not self.entries_added:
            return 0
        if not self.entries and sid <= self.last_id:
            return self.entries_added
        if sid == self.last_id:
            return self.entries_added
        if sid > self.last_id:
            return INVALID_ENTRIES_READ
        if self.max_deleted_id == MIN_ID or self.max_deleted_id < self.first_id:
            if sid < self.first_id:
                return self.entries_added - len(self.entries)
            if sid == self.first_id:
                return self.entries_added - len(self.entries) + 1
        return INVALID_ENTRIES_READ

    def range_has_tombstones(self, start: StreamID | None, end: StreamID | None) -> bool:
        """streamRangeHasTombstones."""
        if not self.entries or self.max_deleted_id == MIN_ID:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        lo = start if start is not None else MIN_ID
        hi = end if end is not None else MAX_ID
        return lo <= self.max_deleted_id <= hi

    def lag(self, group: Group) -> int | None:
        """streamReplyWithCGLag: entries the group has yet to read, or None when unknown."""
        if not self.entries_added:
            return 0
        if group.entries_read != INVALID_ENTRIES_READ and not self.range_has_tombstones(group.last_id, None):
            return self.entries_added - group.entries_read
        read = self.estimate_distance(group.last_id)
        if read != INVALID_ENTRIES_READ:
            return self.entries_added - read
        return None

    def copy(self) -> Stream:
        """A deep copy (COPY, DUMP round trips in tests)."""
        s = Stream()
        s.entries = SortedDict({k: list(v) for k, v in self.entries.items()})
        s.nodes = [Node(n.master, n.last, n.live, n.deleted, n.bytes) for n in self.nodes]
        s.last_id, s.first_id, s.max_deleted_id = self.last_id, self.first_id, self.max_deleted_id
        s.entries_added = self.entries_added
        for name, g in self.groups.items():
            ng = Group(name, g.last_id, g.entries_read)
            for cname, c in g.consumers.items():
                ng.consumers[cname] = Consumer(cname, c.seen_time)
            for sid, nack in g.pel.items():
                consumer = ng.consumers[nack.consumer.name]
                copy = NACK(nack.delivery_time, nack.delivery_count, consumer)
                ng.pel[sid] = copy
                consumer.pel[sid] = copy
            s.groups[name] = ng
        return s

    __copy__ = copy

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stream) and dict(self.entries) == dict(other.entries) and self.last_id == other.last_id

    def __repr__(self) -> str:
        return f"Stream(len={len(self.entries)}, last_id={self.last_id})"


register_type(Stream, "stream")
