"""The keyspace: one :class:`Database` per ``SELECT`` index, with lazy expiry and the hooks
every write must fire (WATCH invalidation, blocked-client wake-ups, keyspace events).

Mirrors Redis's db.c: values live in ``data``, absolute expiry times (unix ms) in a separate
``expires`` dict, and every lookup goes through :meth:`lookup_read` / :meth:`lookup_write`,
which delete a key whose time has passed before anyone sees it (expireIfNeeded).  Writers
call :meth:`signal_modified` (signalModifiedKey) so WATCH and blocking commands need no
knowledge of individual commands.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from engine.errors import WrongTypeError
from engine.keyindex import AccessWords, KeyIndex

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["Database", "now_ms"]

_NOTIFY_NEW = 1 << 14  # NOTIFY_NEW (engine/notify.py CLASSES["n"])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Database:
    """One numbered keyspace."""

    __slots__ = ("id", "server", "data", "expires", "lru", "keys", "volatile", "watched", "blocking", "avg_ttl",
                 "resized_keys")

    def __init__(self, db_id: int, server: Server) -> None:
        self.id = db_id
        self.server = server
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self.keys = KeyIndex()
        # Per-key access word: the 24-bit LRU clock, or LFU (minutes << 8 | counter) when the
        # maxmemory-policy is an LFU one (see engine/evict.py), as Redis keeps in robj.lru;
        # stored in the key's KeyIndex slot (keys.words), this is the mapping view of them.
        self.lru = AccessWords(self.keys)
        self.volatile = KeyIndex()
        self.watched: dict[bytes, set[Any]] = {}
        self.blocking: dict[bytes, Any] = {}
        self.avg_ttl = 0
        # Keys written since engine/memory.py last re-estimated their size (every write
        # passes signal_modified, so families need no memory-accounting call of their own).
        self.resized_keys: set[bytes] = set()

    def __len__(self) -> int:
        return len(self.data)

    # -- lookups ---------------------------------------------------------------------------
    def _expired(self, key: bytes) -> bool:
        when = self.expires.get(key)
        if when is None or when >= self.server.now_ms():
            return False
        self.server.expire_key(self, key)
        return True

    def lookup_read(self, key: bytes, kind: tuple[type, ...] | None = None) -> Any:
        """The value at ``key`` for a read: None when absent or expired (a keyspace miss),
        WrongTypeError when it is not of ``kind``.  Counts hits and misses like lookupKeyRead."""
        value = self.data.get(key)
        server = self.server
        if value is None or (self.expires and key in self.expires and self._expired(key)):
            server.stats.keyspace_misses += 1
            return None
        if kind is not None and type(value) not in kind:
            raise WrongTypeError()
        server.stats.keyspace_hits += 1
        if server.lfu:
            server.touch(self, key)
        else:  # Server.touch's LRU case inline
            keys = self.keys
            keys.words[keys.pos[key]] = server.lru_clock
        return value

    def lookup_write(self, key: bytes, kind: tuple[type, ...] | None = None) -> Any:
        """The value at ``key`` for a write (no hit/miss accounting), after lazy expiry."""
        value = self.data.get(key)
        if value is None or (self.expires and key in self.expires and self._expired(key)):
            return None
        if kind is not None and type(value) not in kind:
            raise WrongTypeError()
        server = self.server
        if server.lfu:
            server.touch(self, key)
        else:
            keys = self.keys
            keys.words[keys.pos[key]] = server.lru_clock
        return value

    def peek(self, key: bytes) -> Any:
        """The value without expiry, statistics or LRU update (OBJECT, DEBUG, persistence)."""
        return self.data.get(key)

    def exists(self, key: bytes) -> bool:
        return key in self.data and not (self.expires and key in self.expires and self._expired(key))

    # -- writes ----------------------------------------------------------------------------
    def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Store ``value`` (setKey): a new key or an overwrite that drops the TTL unless
        ``keep_ttl``.  Fires signal_modified."""
        data = self.data
        server = self.server
        keys = self.keys
        # Server.on_key_written and signal_modified, their common cases inline (no LFU, no
        # WATCHer, no blocked client): this runs for every write.
        if key not in data:
            keys.add(key, None if server.lfu else server.lru_clock)
            if server.notify_flags & _NOTIFY_NEW:  # dbAdd's "new" event (class n)
                server.notify("n", "new", key, self.id)
            data[key] = value
            if server.lfu:
                server.on_key_written(self, key, value)
        else:
            if not keep_ttl and self.expires and key in self.expires:
                del self.expires[key]
                self.volatile.discard(key)
            data[key] = value
            if server.lfu:
                server.on_key_written(self, key, value)
            else:
                keys.words[keys.pos[key]] = server.lru_clock
        if self.watched or self.blocking:
            self.signal_modified(key)
        else:
            self.resized_keys.add(key)

    def add(self, key: bytes, value: Any) -> None:
        """Store a value under a key known to be absent (dbAdd), e.g. the first LPUSH."""
        self.keys.add(key)
        if self.server.notify_flags & _NOTIFY_NEW:
            self.server.notify("n", "new", key, self.id)
        self.data[key] = value
        self.server.on_key_written(self, key, value)
        self.signal_modified(key)

    def delete(self, key: bytes) -> bool:
        """Remove a key and its TTL (dbDelete); True when it existed.  Fires signal_modified."""
        if key not in self.data:
            return False
        self._remove(key)
        self.signal_modified(key)
        return True

    def _remove(self, key: bytes) -> None:
        value = self.data.pop(key)
        self.server.on_key_removed(self, key, value)  # (reads the estimate in the key's slot)
        self.keys.discard(key)  # (its access word and estimate with it)
        if self.expires and self.expires.pop(key, None) is not None:
            self.volatile.discard(key)

    def load(self, data: dict[bytes, Any], expires: dict[bytes, int]) -> None:
        """Install keys read from an RDB/AOF file at start: no events, no WATCH, but the
        sampling indexes (eviction, RANDOMKEY, SCAN, active expiry) see every key."""
        for key, value in data.items():
            if key not in self.data:
                self.keys.add(key)
            self.data[key] = value
        self.resized_keys.update(data)
        for key, when in expires.items():
            if key not in self.expires:
                self.volatile.add(key)
            self.expires[key] = when

    def set_expire(self, key: bytes, when_ms: int) -> None:
        if key not in self.expires:
            self.volatile.add(key)
        self.expires[key] = when_ms

    def get_expire(self, key: bytes) -> int | None:
        return self.expires.get(key)

    def persist(self, key: bytes) -> bool:
        if self.expires.pop(key, None) is None:
            return False
        self.volatile.discard(key)
        return True

    def signal_modified(self, key: bytes) -> None:
        """signalModifiedKey: invalidate WATCHers and wake clients blocked on the key."""
        self.resized_keys.add(key)
        if self.watched:
            clients = self.watched.get(key)
            if clients:
                for c in clients:
                    c.dirty_cas = True
        if self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))

    def flush(self) -> int:
        """Drop every key (FLUSHDB); WATCHers of the keys that existed are invalidated (Redis 7.0
        touchAllWatchedKeysInDb: a WATCH on a missing key survives a flush). Returns the count."""
        removed = len(self.data)
        data = self.data
        for key, clients in self.watched.items():
            if key in data:
                for c in clients:
                    c.dirty_cas = True
        if self.data:
            for key in list(self.data):
                self.server.on_key_removed(self, key, None)
        self.data.clear()
        self.expires.clear()
        self.keys.clear()  # (the access words with it)
        self.volatile.clear()
        return removed

    def random_key(self) -> bytes | None:
        """RANDOMKEY: a random live key, expiring stale ones it happens to pick."""
        for _ in range(100):
            key = self.keys.random()
            if key is None:
                return None
            if not self._expired(key):
                return key
        return self.keys.random()
