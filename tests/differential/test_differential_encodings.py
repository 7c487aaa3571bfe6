"""OBJECT ENCODING transitions agree with real redis-server 7.0: encodings grow and never shrink
back (hash listpack -> hashtable, set intset -> hashtable, zset listpack -> skiplist, lists
always quicklist), the thresholds are changed with CONFIG SET under their listpack names and
their old ziplist aliases, and COPY keeps the encoding.  Every reply must be equal (no
tolerance: OBJECT ENCODING is deterministic for these sequences)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.differential.harness import RawClient, compare

pytestmark = pytest.mark.redis_server

THRESHOLDS = {
    "hash-max-listpack-entries": "512",
    "hash-max-listpack-value": "64",
    "set-max-intset-entries": "512",
    "zset-max-listpack-entries": "128",
    "zset-max-listpack-value": "64",
}


@pytest.fixture
def pair_defaults(raw_pair: tuple[RawClient, RawClient]) -> Iterator[tuple[RawClient, RawClient]]:
    """The raw pair, with the encoding thresholds put back to Redis's defaults afterwards."""
    yield raw_pair
    for c in raw_pair:
        for name, value in THRESHOLDS.items():
            c.call("config", "set", name, value)


def enc(key: str) -> tuple[str, str, str]:
    return ("object", "encoding", key)


def test_hash_stays_hashtable_after_shrinking(pair_defaults: tuple[RawClient, RawClient]) -> None:
    fields = [a for i in range(6) for a in (f"f{i}", str(i))]
    compare(*pair_defaults, [
        ("config", "set", "hash-max-ziplist-entries", "4"),
        ("config", "get", "hash-max-listpack-entries"),
        ("hset", "h", *fields[:8]), enc("h"),
        ("hset", "h", *fields[8:]), enc("h"),
        ("hdel", "h", "f0", "f1", "f2", "f3", "f4"), enc("h"), ("hlen", "h"),
        # a long value converts; writing a short one back does not convert back
        ("hset", "v", "a", "x" * 70), enc("v"), ("hset", "v", "a", "y"), enc("v"),
        ("hsetnx", "w", "a", "1"), enc("w"), ("hsetnx", "w", "b" * 70, "1"), enc("w"),
        ("hdel", "w", "b" * 70), enc("w"),
        ("hincrby", "n", "c", "5"), enc("n"),
        ("config", "set", "hash-max-listpack-value", "3"),
        ("hincrbyfloat", "n", "d", "1.5"), enc("n"),
        ("hincrby", "n", "longfield", "1"), enc("n"), ("hdel", "n", "longfield"), enc("n"),
        ("copy", "h", "h2"), enc("h2"),
    ])


def test_set_stays_hashtable_after_shrinking(pair_defaults: tuple[RawClient, RawClient]) -> None:
    compare(*pair_defaults, [
        ("config", "set", "set-max-intset-entries", "3"),
        ("sadd", "s", "1", "2", "3"), enc("s"),
        ("sadd", "s", "4"), enc("s"),
        ("srem", "s", "4", "3"), enc("s"),
        ("sadd", "t", "1", "2"), enc("t"),
        ("sadd", "t", "x"), enc("t"), ("srem", "t", "x"), enc("t"),
        ("sadd", "u", "a"), enc("u"), ("srem", "u", "a"), ("sadd", "u", "7"), enc("u"),
        ("sadd", "v", "007"), enc("v"),
        ("sadd", "src", "1", "y"), ("smove", "src", "dst", "y"), enc("dst"),
        ("smove", "src", "dst2", "1"), enc("dst2"),
        ("sadd", "dst2", "9"), ("smove", "dst", "dst2", "y"), enc("dst2"), ("srem", "dst2", "y"), enc("dst2"),
        ("copy", "t", "t2"), enc("t2"),
        ("sinterstore", "i", "s", "s"), enc("i"),
    ])


def test_zset_and_list_encodings(pair_defaults: tuple[RawClient, RawClient]) -> None:
    compare(*pair_defaults, [
        ("config", "set", "zset-max-ziplist-entries", "2"),
        ("config", "get", "zset-max-listpack-entries"),
        ("zadd", "z", "1", "a", "2", "b"), enc("z"),
        ("zadd", "z", "3", "c"), enc("z"),
        ("zrem", "z", "c", "b"), enc("z"),
        ("config", "set", "zset-max-ziplist-value", "2"),
        ("zadd", "y", "1", "abc"), enc("y"), ("zrem", "y", "abc"), ("zadd", "y", "1", "a"), enc("y"),
        ("rpush", "l", "a"), enc("l"), ("rpush", "l", *("x" * 9000)), enc("l"),
    ])


def _scan_all(c: RawClient, cmd: str, key: str, count: int, between: list[tuple[str, ...]] | None = None,
              max_calls: int = 10_000) -> tuple[list[bytes], int, list[int]]:
    """Iterate ``cmd key`` to cursor 0 with COUNT ``count``; returns the elements (members or
    fields, without values/scores), the number of calls and the batch sizes.  ``between``
    commands run one per call while the scan is in progress."""
    cursor, seen, calls, sizes = b"0", [], 0, []
    while True:
        reply = c.call(cmd, key, cursor, "count", count)
        cursor, items = reply.value[0].value, [r.value for r in reply.value[1].value]
        step = 1 if cmd == "sscan" else 2
        seen += items[::step]
        sizes.append(len(items) // step)
        if between and calls < len(between):
            c.call(*between[calls])
        calls += 1
        assert calls <= max_calls, "scan did not complete"
        if cursor == b"0":
            return seen, calls, sizes


@pytest.mark.parametrize("kind", ["sscan", "hscan", "zscan"])
def test_scan_count_on_large_and_small(raw_pair: tuple[RawClient, RawClient], kind: str) -> None:
    """A 1000-element (hashtable/skiplist) collection takes many calls with COUNT 10 on both
    servers, each call returning between 1 and 30 elements (Redis's dictScan visits whole
    buckets, so a call may return a few more than COUNT; 3x COUNT bounds it at load factor
    <= 1), and the calls together return every element; a 5-element one is answered in one
    call with cursor 0 on both (an intset for SSCAN: 7.0's small sets of strings are hashtables)."""
    make = {
        "sscan": lambda k, n: ("sadd", k, *[f"m{i}" for i in range(n)]),
        "hscan": lambda k, n: ("hset", k, *[a for i in range(n) for a in (f"m{i}", "v")]),
        "zscan": lambda k, n: ("zadd", k, *[a for i in range(n) for a in (str(i), f"m{i}")]),
    }[kind]
    for c in raw_pair:
        c.call(*make("big", 1000))
        c.call(*(("sadd", "small", *range(5)) if kind == "sscan" else make("small", 5)))  # intset, listpack
        seen, calls, sizes = _scan_all(c, kind, "big", 10)
        assert sorted(set(seen)) == sorted(f"m{i}".encode() for i in range(1000))
        assert calls >= 1000 // 30, (calls, sizes[:5])
        assert all(1 <= s <= 30 for s in sizes[:-1]), sizes
        seen, calls, _ = _scan_all(c, kind, "small", 1)
        prefix = "" if kind == "sscan" else "m"
        assert calls == 1 and sorted(seen) == sorted(f"{prefix}{i}".encode() for i in range(5))


def test_sscan_sees_every_member_present_throughout(raw_pair: tuple[RawClient, RawClient]) -> None:
    """Members deleted and added while the scan runs (seeded): every member present from the first
    call to the last is returned, on both servers."""
    import random

    rng = random.Random(13)
    members = [f"x{i}" for i in range(2000)]
    doomed = rng.sample(members, 300)
    between = [("srem", "s", m) for m in doomed] + [("sadd", "s", f"new{i}") for i in range(300)]
    rng.shuffle(between)
    stable = set(members) - set(doomed)
    for c in raw_pair:
        c.call("sadd", "s", *members)
        seen, _, _ = _scan_all(c, "sscan", "s", 5, between)
        assert {m.encode() for m in stable} <= set(seen)


def test_memory_usage_follows_the_sticky_encoding(pair_defaults: tuple[RawClient, RawClient]) -> None:
    """A hash and a set that shrank back under the thresholds keep their hashtable's size in
    MEMORY USAGE: on both servers they report more than a fresh listpack/intset value with the
    same contents (a dict with its entries is several times a small listpack)."""
    for c in pair_defaults:
        c.call("config", "set", "hash-max-listpack-entries", "4")
        c.call("config", "set", "set-max-intset-entries", "4")
        c.call("hset", "grown", *[a for i in range(8) for a in (f"f{i}", "v")])
        c.call("hdel", "grown", *[f"f{i}" for i in range(2, 8)])
        c.call("hset", "fresh", "f0", "v", "f1", "v")
        c.call("sadd", "sgrown", *range(8))
        c.call("srem", "sgrown", *range(2, 8))
        c.call("sadd", "sfresh", 0, 1)
        usage = {k: c.call("memory", "usage", k).value for k in ("grown", "fresh", "sgrown", "sfresh")}
        assert usage["grown"] > usage["fresh"] and usage["sgrown"] > usage["sfresh"], usage
