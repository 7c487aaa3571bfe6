"""Keyspace notifications end to end: the engine publishes __keyspace@N__:<key> and
__keyevent@N__:<event> messages with Redis's event names for common commands, for keys
that expire (lazily on access and from the active expiry cycle) and for evicted keys, and
only for the classes notify-keyspace-events enables (set at start or with CONFIG SET)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from engine.server import EmbeddedServer


@pytest.fixture(scope="module")
def srv() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(**{"notify-keyspace-events": "KEA"}) as s:
        yield s


class Listener:
    def __init__(self, url: str, pattern: str = "__key*__:*") -> None:
        self.client = redis.Redis.from_url(url)
        self.ps = self.client.pubsub()
        self.ps.psubscribe(pattern)
        assert self._get(2.0)["type"] == "psubscribe"

    def _get(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.ps.get_message(timeout=0.1)
            if m is not None:
                return m  # type: ignore[no-any-return]
        return {}

    def events(self, quiet_s: float = 0.2) -> list[tuple[bytes, bytes]]:
        """(channel, data) of every message until none arrives for ``quiet_s``."""
        out = []
        while (m := self._get(quiet_s)):
            out.append((m["channel"], m["data"]))
        return out

    def close(self) -> None:
        self.ps.close()
        self.client.close()


@pytest.fixture
def listen(srv: EmbeddedServer) -> Iterator[tuple[redis.Redis, Listener]]:
    r = redis.Redis.from_url(srv.url)
    r.flushall()
    lst = Listener(srv.url)
    lst.events(0.1)
    yield r, lst
    lst.close()
    r.close()


def _pair(key: str, event: str) -> list[tuple[bytes, bytes]]:
    return [(f"__keyspace@0__:{key}".encode(), event.encode()), (f"__keyevent@0__:{event}".encode(), key.encode())]


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        ([("SET", "k", "v")], _pair("k", "set")),
        ([("SET", "k", "v"), ("DEL", "k")], _pair("k", "set") + _pair("k", "del")),
        ([("SET", "k", "v"), ("EXPIRE", "k", "100")], _pair("k", "set") + _pair("k", "expire")),
        ([("HSET", "h", "f", "v")], _pair("h", "hset")),
        ([("LPUSH", "l", "a")], _pair("l", "lpush")),
        ([("ZADD", "z", "1", "m")], _pair("z", "zadd")),
        ([("SADD", "s", "m")], _pair("s", "sadd")),
        ([("SET", "a", "1"), ("RENAME", "a", "b")], _pair("a", "set") + _pair("a", "rename_from") + _pair("b", "rename_to")),
        ([("INCR", "n")], _pair("n", "incrby")),
        ([("DEL", "missing")], []),
        ([("BITFIELD", "b", "INCRBY", "u8", "0", "1"), ("BITFIELD", "b", "INCRBY", "u8", "0", "1", "GET", "u4", "0"),
          ("BITFIELD", "b", "GET", "u8", "0")], _pair("b", "setbit") * 2),
        ([("XADD", "x", "*", "f", "v"), ("XGROUP", "CREATE", "x", "g", "0"),
          ("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "x", ">")],
         _pair("x", "xadd") + _pair("x", "xgroup-create") + _pair("x", "xgroup-createconsumer")),
    ],
    ids=["set", "del", "expire", "hset", "lpush", "zadd", "sadd", "rename", "incr", "del-missing", "bitfield",
         "xreadgroup"],
)
def test_events_of_common_commands(listen: tuple[redis.Redis, Listener], commands: list[tuple[str, ...]],
                                   expected: list[tuple[bytes, bytes]]) -> None:
    r, lst = listen
    for cmd in commands:
        r.execute_command(*cmd)
    assert lst.events() == expected


def test_expired_event_on_lazy_access() -> None:
    """GET of a key past its TTL deletes it and fires 'expired' before answering nil.  On a
    server of its own whose cron is parked (hz set to 0.01 -> the next cycle is 100 s away),
    so only the lazy path can fire."""
    with EmbeddedServer(**{"notify-keyspace-events": "KEA"}) as own:
        server = own.server
        assert server is not None
        server.hz = 0.01  # type: ignore[assignment]
        time.sleep(0.25)  # the cron sleep in progress (100 ms at hz 10) ends; the next is long
        r = redis.Redis.from_url(own.url)
        lst = Listener(own.url)
        r.set("lazy", "v", px=30)
        time.sleep(0.1)
        assert lst.events(0.05) == _pair("lazy", "set") + _pair("lazy", "expire")
        assert r.get("lazy") is None
        assert lst.events() == _pair("lazy", "expired")
        lst.close()
        r.close()


def test_expired_event_from_active_cycle(listen: tuple[redis.Redis, Listener]) -> None:
    """Nobody touches the key: the hz cron finds it (Redis's activeExpireCycle), so the
    event comes within a few cron periods (hz 10 -> 100 ms each; 3 s allowed)."""
    r, lst = listen
    r.set("active", "v", px=50)
    deadline = time.monotonic() + 3
    seen: list[tuple[bytes, bytes]] = []
    while time.monotonic() < deadline and _pair("active", "expired")[1] not in seen:
        seen += lst.events(0.1)
    assert _pair("active", "expired")[1] in seen


def test_evicted_event(srv: EmbeddedServer) -> None:
    with EmbeddedServer(**{"notify-keyspace-events": "Ee", "maxmemory": "2mb",
                           "maxmemory-policy": "allkeys-lru"}) as small:
        r = redis.Redis.from_url(small.url)
        lst = Listener(small.url, "__keyevent@0__:evicted")
        for i in range(400):
            r.set(f"big:{i}", "x" * 10_000)
        events = lst.events(0.3)
        assert events, "writing 4 MB under maxmemory 2mb must evict"
        assert all(ch == b"__keyevent@0__:evicted" and data.startswith(b"big:") for ch, data in events)
        lst.close()
        r.close()


def test_flags_select_classes_and_config_set(listen: tuple[redis.Redis, Listener]) -> None:
    r, lst = listen
    try:
        r.config_set("notify-keyspace-events", "Eg")  # key-event channel, generic class only
        assert r.config_get("notify-keyspace-events")["notify-keyspace-events"] in ("gE", "Eg")
        r.set("k", "v")
        r.delete("k")
        assert lst.events() == [(b"__keyevent@0__:del", b"k")]
        r.config_set("notify-keyspace-events", "")
        r.set("k", "v")
        assert lst.events() == []
        with pytest.raises(redis.ResponseError):
            r.config_set("notify-keyspace-events", "Q")
    finally:
        r.config_set("notify-keyspace-events", "KEA")


def test_events_inside_multi_and_scripts(listen: tuple[redis.Redis, Listener]) -> None:
    r, lst = listen
    p = r.pipeline()
    p.set("t", "1").incr("t")
    p.execute()
    r.eval("redis.call('del', KEYS[1])", 1, "t")
    assert lst.events() == _pair("t", "set") + _pair("t", "incrby") + _pair("t", "del")
