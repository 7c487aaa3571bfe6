"""HyperLogLog against a real redis-server 7.0: replies *and* the stored bytes (GET), so the
sparse opcodes, the promotion to dense, the cached cardinality and the estimator all agree.

Seeded inputs: small sets that stay sparse, a 3000-element set that goes dense through
``hll-sparse-max-bytes``, unions, PFMERGE of sparse and dense, and an HLL string written by
one server and counted by the other.
"""

from __future__ import annotations

import random

import redis

from engine.server import EmbeddedServer
from tests.differential.harness import RawClient, compare
from tests.support.redis_real import RealRedis


def _split(lines: str) -> list[list[str]]:
    return [line.split() for line in lines.strip().splitlines() if line.strip() and not line.startswith("#")]


BASIC = _split("""
pfadd h a b c d e f g
get h
pfadd h a
pfadd h
pfadd new
get new
pfcount new
pfcount h
get h
pfcount h nokey
pfcount nokey
pfadd h2 x y z a
pfcount h h2
pfmerge m h h2
pfcount m
get m
pfmerge m2 nokey
get m2
set str hello
pfadd str a
pfcount str
pfmerge m str
set int 123
pfcount int
rpush list a
pfadd list a
pfcount h list
setrange h 4 x
pfcount h
pfdebug encoding h2
pfdebug decode h2
""")


def test_hll_basic(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, BASIC)


def test_hll_growth_merge_and_bytes(raw_pair: tuple[RawClient, RawClient]) -> None:
    rng = random.Random(11)
    commands: list[list[str]] = []
    for key, n in (("small", 40), ("mid", 600), ("big", 3000)):
        elements = [f"e{rng.randrange(10**9)}" for _ in range(n)]
        for i in range(0, n, 100):
            commands.append(["pfadd", key, *elements[i:i + 100]])
            commands.append(["pfcount", key])
        commands.append(["get", key])
    commands += [
        ["pfdebug", "encoding", "mid"], ["pfdebug", "encoding", "big"],
        ["pfcount", "small", "mid", "big"],
        ["pfmerge", "u", "small", "mid"], ["get", "u"], ["pfcount", "u"],
        ["pfmerge", "u", "big"], ["get", "u"], ["pfcount", "u"],
        ["pfdebug", "todense", "small"], ["get", "small"], ["pfcount", "small"],
    ]
    compare(*raw_pair, commands)


def test_hll_sparse_one_element_at_a_time(raw_pair: tuple[RawClient, RawClient]) -> None:
    """PFADD one element per call, as redis-benchmark sends it, from empty through promotion to
    dense: every sparse edit (split, merge of VAL runs) must leave Redis's exact bytes, checked
    with GET every 50 adds (the engine walks the opcodes from sampled marks, engine/hll.py)."""
    rng = random.Random(17)
    commands: list[list[str]] = []
    for i in range(2600):
        commands.append(["pfadd", "one", f"e:{rng.randrange(100000):012d}"])
        if i % 50 == 49:
            commands += [["get", "one"], ["pfdebug", "encoding", "one"]]
    commands += [["pfcount", "one"], ["get", "one"]]
    compare(*raw_pair, commands)


def test_hll_strings_cross_servers(redis_real_shared: RealRedis, engine_shared: EmbeddedServer) -> None:
    r = redis_real_shared.client()
    e = redis.Redis(port=engine_shared.port)
    r.delete("x", "y")
    e.delete("x", "y")
    rng = random.Random(3)
    items = [f"i{rng.random()}" for _ in range(5000)]
    r.pfadd("x", *items[:2500])
    e.pfadd("y", *items[2500:])
    e.set("x", r.get("x"))
    r.set("y", e.get("y"))
    assert e.pfcount("x") == r.pfcount("x")
    assert r.pfcount("x", "y") == e.pfcount("x", "y")
    r.delete("x", "y")
    e.delete("x", "y")


def test_corrupt_sparse_tail_is_found_only_where_redis_finds_it(raw_pair: tuple[RawClient, RawClient]) -> None:
    """Found by the differential fuzz: garbage after a sparse HLL's last register (here a lone
    XZERO byte) is not an error for PFADD, which stops at the opcode it needs (Redis reads the
    string's NUL terminator for the missing byte); PFCOUNT and promotion to dense report it."""
    compare(*raw_pair, [
        [b"PFMERGE", b"k1", b"k1"], [b"SETRANGE", b"k1", b"15", b"\xff"], [b"SETRANGE", b"k1", b"20", b"Z"],
        [b"PFADD", b"k1", *[b"e%d" % i for i in range(74)]], [b"PFCOUNT", b"k1"],
        [b"PFADD", b"k1", *[b"f%d" % i for i in range(400)]], [b"PFCOUNT", b"k1"], [b"STRLEN", b"k1"],
        [b"PFADD", b"h", b"a"], [b"APPEND", b"h", b"Z"], [b"PFADD", b"h", b"b", b"c"], [b"PFCOUNT", b"h"],
        [b"PFADD", b"h", *[b"g%d" % i for i in range(1000)]], [b"PFCOUNT", b"h"],
    ])
