"""Memory accounting: what Redis 7.0 would allocate for the engine's data set.

The engine stores Python objects, whose sizes say nothing about a Redis server's footprint,
so ``used_memory`` is a *model* of Redis's allocations on 64-bit Linux with jemalloc
(Debian's redis-server 7.0 links the system jemalloc: 16-byte quantum, size classes 8, 16,
32, 48, ..., 128, then four classes per power of two).  Per key (object.c, db.c, dict.c):

* the main-dict ``dictEntry`` (24 B -> 32) and the key's ``sds`` (sdshdr5 below 32 bytes,
  sdshdr8/16/32 above: header + length + NUL, rounded to a size class);
* the value: an integer string is a bare ``robj`` (16 B; shared integers are not used when a
  maxmemory LRU/LFU policy is set, so we never count them as free); a string of at most 44
  bytes is ``embstr`` (robj + sdshdr8 + NUL in one allocation); longer ones are ``raw`` (robj
  + a separate sds);
* hashes and sorted sets below ``*-max-listpack-entries``/``-value`` are one listpack (6 B
  header, per entry encoding + data + backlen, 1 B terminator); larger ones a ``dict`` (64 B)
  with 8 B per bucket and one ``dictEntry`` + sds per field (hash: + value sds; zset: + a
  skiplist node of 24 + 16 * level bytes, the expected level under p = 1/4 is used, and the
  32-level header node);
* lists are Redis 7.0 quicklists (48 B) of listpack nodes (32 B each) of at most 8 KB
  (``list-max-listpack-size -2``);
* sets of integers up to ``set-max-intset-entries`` are an intset (8 B + n * width), others a
  dict as above;
* a key with a TTL adds one ``dictEntry`` (32 B) in ``expires``; every dict adds its bucket
  array (8 B times the power of two at or above its size).

``used_memory`` = :data:`USED_MEMORY_STARTUP_BYTES` (an idle redis-server 7.0.15, measured) +
:data:`CLIENT_BYTES` per connection + 24 688 B per command that has a latency histogram
(engine/latency.py; Redis allocates one per command on first call, and none for a command
7.0 lacks, such as CLIENT SETINFO, which it refuses) + the dicts' bucket
arrays + the per-key sum.  The model
is within a few percent of redis-server on the same data (tests/engine/test_memory.py checks
25 % for strings, hashes, lists, sets and sorted sets and records the measured gaps).

The estimate is kept incrementally and cheaply: every write already calls
``Database.signal_modified(key)``, which records the key in ``db.resized_keys``; the
per-key estimate of those keys is recomputed when ``used_memory`` is next needed (before a
``denyoom`` command under ``maxmemory``, INFO, MEMORY, the cron).  A removal subtracts the
key's cached estimate at once (:func:`key_removed`, which ``Server.on_key_removed`` calls).  Family modules therefore need no
call of their own beyond the ``signal_modified`` every write makes anyway.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import TYPE_CHECKING, Any

from engine.latency import HISTOGRAM_BYTES
from engine.objects import ZSet, is_hashtable

if TYPE_CHECKING:
    from collections.abc import Collection

    from engine.config import Config
    from engine.db import Database
    from engine.server import Server
    from engine.table import Command

__all__ = [
    "USED_MEMORY_STARTUP_BYTES",
    "CLIENT_BYTES",
    "jemalloc_size",
    "sds_alloc",
    "value_bytes",
    "key_bytes",
    "memory_usage",
    "MemoryState",
    "state",
    "used_memory",
    "refresh",
    "reconcile",
    "key_removed",
    "cron",
]

#: redis-server 7.0.15 (Debian), fresh: the first INFO over a raw socket reports
#: used_memory 914 656 with one client, minus CLIENT_BYTES (measured 2026-11-29).
USED_MEMORY_STARTUP_BYTES = 891_872
#: One client that has sent commands (struct, 16 KB reply buffer, query buffer):
#: ``mem_clients_normal`` of redis-server 7.0.15 with one idle client.
CLIENT_BYTES = 22_784

DICT_ENTRY = 32  # sizeof(dictEntry) = 24, jemalloc class 32
DICT_ENTRY_SIZEOF = 24  # what MEMORY USAGE adds for the key's entry (sizeof, object.c)
ROBJ = 16
DICT = 64  # struct dict (56 B) -> 64
QUICKLIST = 48
QUICKLIST_NODE = 32
QUICKLIST_NODE_MAX_BYTES = 8192
ZSET_HEADER = 16 + DICT + 32 + 640  # zset struct + dict + zskiplist + 32-level header node
ZSL_NODE_AVG = 53  # E[jemalloc(24 + 16 * level)] with P(level = l) = 0.75 * 0.25 ** (l - 1)
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
#: Collections past their compact encoding are estimated from this many elements after each
#: write, so a write into a large collection costs O(1) accounting, not O(n).
REFRESH_SAMPLES = 64


def jemalloc_size(n: int) -> int:
    """The jemalloc size class of an ``n``-byte request (16-byte quantum)."""
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) & ~15
    step = 1 << ((n - 1).bit_length() - 3)
    return (n + step - 1) & ~(step - 1)


def sds_alloc(length: int, type5: bool = True) -> int:
    """Bytes of an sds of ``length`` (sdsnewlen: sdshdr5 under 32 bytes for keys)."""
    if length < 32 and type5:
        hdr = 1
    elif length < 256:
        hdr = 3
    elif length < 65536:
        hdr = 5
    elif length < 1 << 32:
        hdr = 9
    else:
        hdr = 17
    return jemalloc_size(hdr + length + 1)


def _is_long(s: bytes | bytearray) -> bool:
    """string2l: a canonical decimal that fits a long (what tryObjectEncoding encodes as int)."""
    if not s or len(s) > 20:
        return False
    try:
        v = int(s)
    except ValueError:
        return False
    return LONG_MIN <= v <= LONG_MAX and str(v).encode() == bytes(s)


def _string_bytes(v: bytes | bytearray) -> int:
    n = len(v)
    if n <= 20 and type(v) is bytes and _is_long(v):
        return ROBJ
    if n <= 44 and type(v) is bytes:
        return jemalloc_size(ROBJ + 3 + n + 1)
    return ROBJ + sds_alloc(n, type5=False)


def _lp_entry(s: bytes) -> int:
    """One listpack entry: encoding + data + backlen (listpack.c)."""
    n = len(s)
    if n <= 20 and _is_long(s):
        v = int(s)
        if 0 <= v <= 127:
            e = 1
        elif -4096 <= v <= 4095:
            e = 2
        elif -32768 <= v <= 32767:
            e = 3
        elif -(1 << 23) <= v < 1 << 23:
            e = 4
        elif -(1 << 31) <= v < 1 << 31:
            e = 5
        else:
            e = 9
    elif n < 64:
        e = 1 + n
    elif n < 4096:
        e = 2 + n
    else:
        e = 5 + n
    return e + (1 if e < 128 else 2 if e < 16384 else 3 if e < 2097152 else 4 if e < 268435456 else 5)


def _buckets(n: int) -> int:
    """Bucket array of a dict holding ``n`` entries (next power of two, 8 B each)."""
    if n == 0:
        return 0
    return 8 * max(4, 1 << (n - 1).bit_length())


def _score_bytes(score: float) -> bytes:
    if abs(score) < 1 << 63 and score == int(score):  # inf first: int(inf) raises
        return str(int(score)).encode()
    return repr(score).encode()


class _Limits:
    """The encoding thresholds from the config (read once per estimate)."""

    __slots__ = ("hash_entries", "hash_value", "set_intset", "zset_entries", "zset_value")

    def __init__(self, config: Config) -> None:
        self.hash_entries = config["hash-max-listpack-entries"]
        self.hash_value = config["hash-max-listpack-value"]
        self.set_intset = config["set-max-intset-entries"]
        self.zset_entries = config["zset-max-listpack-entries"]
        self.zset_value = config["zset-max-listpack-value"]


def value_bytes(value: Any, limits: _Limits, samples: int = 0, sizeof: bool = False) -> int:
    """Redis's allocation for a value (robj included); ``samples`` > 0 estimates a large
    collection from its first ``samples`` elements, as MEMORY USAGE ... SAMPLES does.
    ``sizeof`` counts dictEntry and dict by ``sizeof`` (24, 56 B) as objectComputeSize
    does for MEMORY USAGE, instead of their jemalloc classes (32, 64 B)."""
    entry, dict_ = (DICT_ENTRY_SIZEOF, DICT - 8) if sizeof else (DICT_ENTRY, DICT)
    t = type(value)
    if t is bytes or t is bytearray:
        return _string_bytes(value)
    if t is dict:
        n = len(value)
        if n <= limits.hash_entries and not is_hashtable(value) and all(
            len(f) <= limits.hash_value and len(v) <= limits.hash_value for f, v in value.items()
        ):
            return ROBJ + jemalloc_size(7 + sum(_lp_entry(f) + _lp_entry(v) for f, v in value.items()))
        items = _sample(value.items(), n, samples)
        per = sum(entry + sds_alloc(len(f)) + sds_alloc(len(v)) for f, v in items)
        return ROBJ + dict_ + _buckets(n) + _scale(per, len(items), n)
    if t is deque:
        n = len(value)
        items = _sample(value, n, samples)
        lp = sum(_lp_entry(e) for e in items)
        lp = _scale(lp, len(items), n)
        nodes = max(1, -(-(lp + 7 * max(1, lp // QUICKLIST_NODE_MAX_BYTES)) // QUICKLIST_NODE_MAX_BYTES))
        per_node = jemalloc_size(min(QUICKLIST_NODE_MAX_BYTES, lp // nodes + 7)) if nodes > 1 else jemalloc_size(lp + 7)
        return ROBJ + QUICKLIST + nodes * (QUICKLIST_NODE + per_node)
    if t is set:
        n = len(value)
        if n <= limits.set_intset and not is_hashtable(value) and all(_is_long(m) for m in value):
            width = 2
            for m in value:
                v = int(m)
                if not -32768 <= v <= 32767:
                    width = 4 if -(1 << 31) <= v < 1 << 31 and width < 8 else 8
            return ROBJ + jemalloc_size(8 + n * width)
        items = _sample(value, n, samples)
        per = sum(entry + sds_alloc(len(m)) for m in items)
        return ROBJ + dict_ + _buckets(n) + _scale(per, len(items), n)
    if t is ZSet:
        d = value.dict
        n = len(d)
        if n <= limits.zset_entries and not value.skiplist and all(len(m) <= limits.zset_value for m in d):
            return ROBJ + jemalloc_size(7 + sum(_lp_entry(m) + _lp_entry(_score_bytes(s)) for m, s in d.items()))
        items = _sample(d, n, samples)
        per = sum(entry + ZSL_NODE_AVG + sds_alloc(len(m)) for m in items)
        return ROBJ + ZSET_HEADER - DICT + dict_ + _buckets(n) + _scale(per, len(items), n)
    return ROBJ + 64  # other types (streams, modules): a nominal object


def _sample(items: Any, n: int, samples: int) -> list[Any]:
    if samples <= 0 or n <= samples:
        return list(items)
    out = []
    for i, x in enumerate(items):
        if i >= samples:
            break
        out.append(x)
    return out


def _scale(total: int, seen: int, n: int) -> int:
    return total if seen >= n or seen == 0 else total * n // seen


_KEY_SDS = [sds_alloc(n) for n in range(256)]
_EMBSTR = [jemalloc_size(ROBJ + 3 + n + 1) for n in range(45)]
_RAW = [ROBJ + sds_alloc(n, type5=False) for n in range(4097)]


def key_bytes(db: Database, key: bytes, value: Any, limits: _Limits) -> int:
    """One key's share of used_memory: dictEntry + key sds + value (+ expires entry)."""
    k = len(key)
    size = DICT_ENTRY + (_KEY_SDS[k] if k < 256 else sds_alloc(k))
    n = len(value) if type(value) is bytes else -1
    if 20 < n <= 44:
        size += _EMBSTR[n]  # the common cases without the integer test
    elif 44 < n <= 4096:
        size += _RAW[n]
    else:
        size += value_bytes(value, limits, REFRESH_SAMPLES)
    if key in db.expires:
        size += DICT_ENTRY
    return size


def memory_usage(server: Server, db: Database, key: bytes, samples: int = 5) -> int | None:
    """MEMORY USAGE key [SAMPLES n]: value + key sds + sizeof(dictEntry), as object.c counts."""
    value = db.peek(key)
    if value is None:
        return None
    return value_bytes(value, _Limits(server.config), samples, sizeof=True) + sds_alloc(len(key)) + DICT_ENTRY_SIZEOF


class MemoryState:
    """Per-server totals: the cached per-key estimates, their sum, and each database's
    bucket arrays (updated when its keys change), so a check under maxmemory is O(writes)."""

    __slots__ = ("dataset_bytes", "peak_bytes", "tables", "tables_bytes", "shapes", "limits", "active",
                 "hists_seen", "hists_70")

    def __init__(self, n_dbs: int) -> None:
        # Each key's cached estimate is kept in its database's key index (db.keys.sizes, by
        # slot), which SWAPDB moves with the data; dataset_bytes is their sum.
        self.dataset_bytes = 0
        self.peak_bytes = 0
        self.tables = [0] * n_dbs
        self.tables_bytes = 0
        self.shapes = [(0, 0)] * n_dbs  # (keys, expires) the tables were computed for
        self.limits: _Limits | None = None  # encoding thresholds, re-read by the cron
        # Databases refresh() visits: those holding keys, recomputed by the cron; a write
        # under maxmemory adds its client's database first (engine/evict.py).
        self.active: list[Database] = []
        # Latency histograms counted (see _histograms_70): the count of server.latency.hists
        # last looked at, and how many of those Redis 7.0 would hold.
        self.hists_seen = 0
        self.hists_70 = 0


def state(server: Server) -> MemoryState:
    return server.memory


CRON_REFRESH_BUDGET = 2000  # keys re-estimated per cron tick without maxmemory


def refresh(server: Server, budget: int | None = None) -> None:
    """Re-estimate the keys written since the last call (db.resized_keys): all of them, or
    at most ``budget`` (the cron's share when no maxmemory makes the total urgent)."""
    st = server.memory
    for db in st.active:
        if db.resized_keys:
            budget = _refresh_db(server, st, db, budget)
            if budget == 0:
                return


def _refresh_db(server: Server, st: MemoryState, db: Database, budget: int | None) -> int | None:
    """Re-estimate pending keys of one database; return the budget left (None: unlimited)."""
    dirty = db.resized_keys
    count = len(dirty) if budget is None else min(budget, len(dirty))
    limits = st.limits
    if limits is None:
        limits = st.limits = _Limits(server.config)
    pos = db.keys.pos
    sizes = db.keys.sizes
    data = db.data
    delta = 0
    for _ in range(count):
        key = dirty.pop()
        i = pos.get(key)
        if i is None:
            continue  # removed since: key_removed took its estimate off
        new = key_bytes(db, key, data[key], limits)
        delta += new - sizes[i]
        sizes[i] = new
    st.dataset_bytes += delta
    if not dirty and sys.getsizeof(dirty) > 65536:
        # Drained: a set keeps its largest table (pop never shrinks it); start a small one.
        db.resized_keys = set()
    _update_tables(st, db)
    return None if budget is None else budget - count


def _update_tables(st: MemoryState, db: Database) -> None:
    """The bucket arrays of the database's dicts, when its key or expire count changed."""
    data = db.data
    shape = (len(data), len(db.expires))
    if shape != st.shapes[db.id]:
        st.shapes[db.id] = shape
        tables = _buckets(shape[0]) + _buckets(shape[1])
        st.tables_bytes += tables - st.tables[db.id]
        st.tables[db.id] = tables


def overhead_bytes(server: Server) -> int:
    """Startup memory, client structures, latency histograms and the dicts' bucket arrays."""
    st = server.memory
    histograms = HISTOGRAM_BYTES * _histograms_70(st, server.latency.hists)
    return USED_MEMORY_STARTUP_BYTES + CLIENT_BYTES * len(server.connections) + st.tables_bytes + histograms


def _histograms_70(st: MemoryState, hists: Collection[Command]) -> int:
    """How many of the engine's latency histograms Redis 7.0 would hold.  A command the engine
    takes from a later Redis (CLIENT SETINFO, 7.2, which redis-py sends on every connect) is
    refused by 7.0 before ``call()``, so it allocates no histogram there; counting ours would
    put 24,688 B (about 140 small keys) into used_memory that redis-server does not have."""
    n = len(hists)
    # Histograms are only added one at a time or all cleared (CONFIG RESETSTAT), so a change of
    # count says when to look again; the scan is O(commands run), not paid per write.
    if n != st.hists_seen:
        st.hists_seen = n
        st.hists_70 = sum(1 for cmd in hists if _since_tuple(cmd.since) < (7, 1))
    return st.hists_70


def _since_tuple(since: str) -> tuple[int, ...]:
    return tuple(int(part) for part in since.split(".") if part.isdigit())


def used_memory(server: Server, full: bool = True) -> int:
    """The modelled ``used_memory`` (refreshes pending estimates first; ``full`` also looks
    at databases that received their first key since the last cron tick)."""
    st = state(server)
    if full:
        st.active = [db for db in server.dbs if db.data or db.resized_keys or st.tables[db.id]]
    refresh(server)
    used = overhead_bytes(server) + st.dataset_bytes
    if used > st.peak_bytes:
        st.peak_bytes = used
    return used


def key_removed(server: Server, db: Database, key: bytes) -> None:
    """A key left the keyspace (deleted, expired, evicted, flushed): drop its estimate."""
    i = db.keys.pos.get(key)  # (Database calls this before the key leaves its index)
    if i is not None:
        sizes = db.keys.sizes
        server.memory.dataset_bytes -= sizes[i]
        sizes[i] = 0
    db.resized_keys.add(key)  # FLUSHDB removes without signal_modified: refresh the tables


def reconcile(server: Server) -> None:
    """The bucket arrays after SWAPDB: the data moves with its key index, the estimates cached
    in it and its pending keys (so their sum, dataset_bytes, is unchanged), but each database's
    dicts now hold the other's counts.  RDB/AOF loads need nothing here: Database.load queues
    every key it installs in resized_keys."""
    st = server.memory
    for db in server.dbs:
        _update_tables(st, db)


def cron(server: Server) -> None:
    """The cron's share: re-read the encoding thresholds, repair the cache after bulk
    installs, and re-estimate the keys written since the last tick."""
    st = state(server)
    st.limits = None  # pick up CONFIG SET of the encoding thresholds
    reconcile(server)
    st.active = [db for db in server.dbs if db.data or db.resized_keys or st.tables[db.id]]
    # Under maxmemory the totals must be exact before each write (evict.py refreshes them);
    # otherwise only INFO/metrics read them, so the cron spreads the work out.
    refresh(server, None if server.maxmemory else CRON_REFRESH_BUDGET)

