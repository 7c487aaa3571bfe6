"""Differential fuzz: seeded random command sequences, malformed arguments and error paths
included, run on the engine and on a real redis-server and compared reply by reply with the
harness's rules (tests/differential/harness.py).

Each sequence is 20 commands over a pool of five keys, so commands meet keys of every type
(WRONGTYPE paths), missing keys and each other's results.  Arguments are drawn from values
that reach validation branches: non-integers, ``" 1"``, ``1.5``, ``inf``, empty strings,
LLONG_MIN/MAX and their neighbours, negative counts, wrong arities and unknown options.
Counts that Redis would honour by streaming billions of elements (SRANDMEMBER -huge) are not
drawn: both servers would only run out of memory.  SORT is drawn with ALPHA (or as a syntax
error) only: Redis's sortCommand reads errno without clearing it, so an ERANGE left by any
earlier strtod (``1e309`` in another command) fails a valid numeric SORT there at random.

Long runs (``make fuzz``)::

    python -m tests.differential.fuzz --sequences 10000 --seed 1

prints the number of sequences and mismatches and exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable

from tests.differential.harness import Command, Mismatch, RawClient, compare

__all__ = ["generate_sequence", "run_fuzz", "FAMILIES"]

KEYS = [b"k0", b"k1", b"k2", b"k3", b"k4"]
INTS = [b"0", b"1", b"2", b"3", b"-1", b"-2", b"10", b"-10", b"100", b"9223372036854775807",
        b"-9223372036854775808", b"9223372036854775808", b"-9223372036854775809", b"4611686018427387904",
        b"2147483648", b"abc", b"", b" 1", b"1.5", b"01", b"+1", b"-0"]
FLOATS = [b"0", b"1.5", b"-2.25", b"inf", b"-inf", b"+inf", b"1e308", b"1e309", b"nan", b"abc", b"", b"3", b"-0",
          b".5", b"5.", b"1e-320"]
VALUES = [b"", b"a", b"b", b"c", b"hello", b"1", b"10", b"-5", b"3.5", b"x" * 70, b"\x00\xff", b"inf"]
SMALL_COUNTS = [b"0", b"1", b"2", b"3", b"5", b"-1", b"-3", b"abc", b"", b"1.5", b"9223372036854775807",
                b"-9223372036854775808"]
R = random.Random


def _k(r: R) -> bytes:
    return r.choice(KEYS)


def _i(r: R) -> bytes:
    return r.choice(INTS)


def _f(r: R) -> bytes:
    return r.choice(FLOATS)


def _v(r: R) -> bytes:
    return r.choice(VALUES)


def _strings(r: R) -> Command:
    k = _k(r)
    return r.choice([
        [b"SET", k, _v(r)], [b"GET", k], [b"APPEND", k, _v(r)], [b"STRLEN", k], [b"INCR", k], [b"DECR", k],
        [b"INCRBY", k, _i(r)], [b"DECRBY", k, _i(r)], [b"INCRBYFLOAT", k, _f(r)], [b"GETRANGE", k, _i(r), _i(r)],
        [b"SETRANGE", k, r.choice([b"0", b"1", b"5", b"-1", b"abc", b"536870912"]), _v(r)], [b"GETDEL", k],
        [b"SETNX", k, _v(r)], [b"MSET", k, _v(r), _k(r), _v(r)], [b"MGET", k, _k(r)], [b"GETSET", k, _v(r)],
        [b"SET", k, _v(r), r.choice([b"NX", b"XX", b"GET", b"KEEPTTL", b"BAD"])],
        [b"SET", k, _v(r), r.choice([b"EX", b"PX"]), r.choice([b"0", b"-1", b"abc", b"100000"])],
        [b"SET", k], [b"INCRBY", k], [b"MSETNX", k, _v(r), _k(r)], [b"LCS", k, _k(r)],
    ])


def _lists(r: R) -> Command:
    k = _k(r)
    return r.choice([
        [b"LPUSH", k, _v(r), _v(r)], [b"RPUSH", k, _v(r)], [b"LPUSHX", k, _v(r)], [b"RPUSHX", k, _v(r)],
        [b"LPOP", k], [b"RPOP", k, r.choice(SMALL_COUNTS)], [b"LPOP", k, r.choice(SMALL_COUNTS)],
        [b"LRANGE", k, _i(r), _i(r)], [b"LLEN", k], [b"LINDEX", k, _i(r)], [b"LSET", k, _i(r), _v(r)],
        [b"LREM", k, _i(r), _v(r)], [b"LTRIM", k, _i(r), _i(r)], [b"LINSERT", k, r.choice([b"BEFORE", b"AFTER", b"X"]), _v(r), _v(r)],
        [b"LPOS", k, _v(r), r.choice([b"RANK", b"COUNT", b"MAXLEN", b"BAD"]), _i(r)],
        [b"LMOVE", k, _k(r), r.choice([b"LEFT", b"RIGHT", b"UP"]), r.choice([b"LEFT", b"RIGHT"])],
        [b"RPOPLPUSH", k, _k(r)], [b"LMPOP", r.choice([b"1", b"2", b"0", b"-1", b"x"]), k, _k(r), r.choice([b"LEFT", b"RIGHT", b"MID"])],
        [b"LMPOP", b"1", k, b"LEFT", b"COUNT", r.choice(SMALL_COUNTS)],
        [b"BLPOP", k, b"0.01"], [b"BRPOP", k, _k(r), r.choice([b"0.01", b"-1", b"abc"])],
    ])


def _sets(r: R) -> Command:
    k = _k(r)
    return r.choice([
        [b"SADD", k, _v(r), _v(r)], [b"SREM", k, _v(r)], [b"SISMEMBER", k, _v(r)], [b"SMISMEMBER", k, _v(r), _v(r)],
        [b"SCARD", k], [b"SMEMBERS", k], [b"SPOP", k, r.choice(SMALL_COUNTS)], [b"SRANDMEMBER", k, r.choice(SMALL_COUNTS)],
        [b"SINTER", k, _k(r)], [b"SUNION", k, _k(r)], [b"SDIFF", k, _k(r)], [b"SINTERSTORE", _k(r), k, _k(r)],
        [b"SUNIONSTORE", _k(r), k], [b"SDIFFSTORE", _k(r), k, _k(r)], [b"SMOVE", k, _k(r), _v(r)],
        [b"SINTERCARD", r.choice([b"1", b"2", b"0", b"x"]), k, _k(r), b"LIMIT", _i(r)], [b"SADD", k, b"1", b"2", b"3"],
    ])


def _hashes(r: R) -> Command:
    k = _k(r)
    return r.choice([
        [b"HSET", k, _v(r), _v(r)], [b"HSET", k, _v(r)], [b"HGET", k, _v(r)], [b"HDEL", k, _v(r)], [b"HLEN", k],
        [b"HGETALL", k], [b"HKEYS", k], [b"HVALS", k], [b"HEXISTS", k, _v(r)], [b"HINCRBY", k, _v(r), _i(r)],
        [b"HINCRBYFLOAT", k, _v(r), _f(r)], [b"HSETNX", k, _v(r), _v(r)], [b"HMGET", k, _v(r), _v(r)],
        [b"HSTRLEN", k, _v(r)], [b"HRANDFIELD", k, r.choice(SMALL_COUNTS), b"WITHVALUES"],
        [b"HRANDFIELD", k, r.choice(SMALL_COUNTS)], [b"HMSET", k, _v(r), _v(r), _v(r)],
    ])


def _zsets(r: R) -> Command:
    k = _k(r)
    return r.choice([
        [b"ZADD", k, _f(r), _v(r)], [b"ZADD", k, r.choice([b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"]), _f(r), _v(r)],
        [b"ZADD", k, b"1", b"a", b"2", b"b", b"3", b"c"], [b"ZSCORE", k, _v(r)], [b"ZINCRBY", k, _f(r), _v(r)],
        [b"ZCARD", k], [b"ZRANGE", k, _i(r), _i(r)], [b"ZRANGE", k, _i(r), _i(r), b"WITHSCORES"],
        [b"ZRANGE", k, _f(r), _f(r), b"BYSCORE", b"LIMIT", _i(r), _i(r)], [b"ZRANGEBYSCORE", k, _f(r), _f(r)],
        [b"ZRANGEBYLEX", k, r.choice([b"-", b"[a", b"(b", b"x"]), r.choice([b"+", b"[c", b"(b"])],
        [b"ZREVRANGE", k, _i(r), _i(r)], [b"ZRANK", k, _v(r)], [b"ZREVRANK", k, _v(r)], [b"ZREM", k, _v(r)],
        [b"ZCOUNT", k, _f(r), _f(r)], [b"ZPOPMIN", k, r.choice(SMALL_COUNTS)], [b"ZPOPMAX", k],
        [b"ZRANDMEMBER", k, r.choice(SMALL_COUNTS), b"WITHSCORES"], [b"ZMSCORE", k, _v(r), _v(r)],
        [b"ZUNIONSTORE", _k(r), b"2", k, _k(r), b"WEIGHTS", _f(r), _f(r)], [b"ZINTER", b"2", k, _k(r), b"WITHSCORES"],
        [b"ZREMRANGEBYSCORE", k, _f(r), _f(r)], [b"ZREMRANGEBYRANK", k, _i(r), _i(r)], [b"ZLEXCOUNT", k, b"-", b"+"],
        [b"ZMPOP", b"1", k, r.choice([b"MIN", b"MAX", b"MID"]), b"COUNT", r.choice(SMALL_COUNTS)],
    ])


def _keys(r: R) -> Command:
    k = _k(r)
    return r.choice([
        [b"DEL", k, _k(r)], [b"EXISTS", k, k], [b"TYPE", k], [b"RENAME", k, _k(r)], [b"RENAMENX", k, _k(r)],
        [b"EXPIRE", k, r.choice([b"100", b"0", b"-1", b"abc", b"9223372036854775807"])], [b"PERSIST", k],
        [b"EXPIRE", k, b"100", r.choice([b"NX", b"XX", b"GT", b"LT", b"BAD"])], [b"TTL", k], [b"PTTL", k],
        [b"COPY", k, _k(r), r.choice([b"REPLACE", b"DB", b"BAD"])], [b"KEYS", r.choice([b"*", b"k[0-2]", b"k?", b"*[", b"\\k*"])],
        [b"DBSIZE"], [b"UNLINK", k], [b"TOUCH", k, _k(r)], [b"SORT", k, r.choice([b"ALPHA", b"LIMIT"])],
        [b"SORT", k, b"LIMIT", _i(r), _i(r), b"ALPHA"], [b"OBJECT", b"BADSUB", k], [b"EXPIRETIME", k],
    ])


def _bitmaps(r: R) -> Command:
    k = _k(r)
    return r.choice([
        [b"SETBIT", k, r.choice([b"0", b"7", b"100", b"-1", b"abc", b"4294967296"]), r.choice([b"0", b"1", b"2"])],
        [b"GETBIT", k, _i(r)], [b"BITCOUNT", k], [b"BITCOUNT", k, _i(r), _i(r)], [b"BITPOS", k, r.choice([b"0", b"1", b"2"])],
        [b"BITOP", r.choice([b"AND", b"OR", b"XOR", b"NOT", b"BAD"]), _k(r), k], [b"BITCOUNT", k, b"0", b"-1", b"BIT"],
    ])


def _misc(r: R) -> Command:
    return r.choice([
        [b"PING"], [b"ECHO", _v(r)], [b"PING", b"a", b"b"], [b"NOSUCHCOMMAND", _v(r)], [b"GET"], [b"SELECT", _i(r)],
        [b"MULTI"], [b"EXEC"], [b"DISCARD"], [b"ECHO"], [b"FLUSHDB", r.choice([b"ASYNC", b"SYNC", b"BAD"])],
    ])


FAMILIES: dict[str, Callable[[R], Command]] = {
    "strings": _strings, "lists": _lists, "sets": _sets, "hashes": _hashes, "zsets": _zsets,
    "keys": _keys, "bitmaps": _bitmaps, "misc": _misc,
}


def generate_sequence(r: R, length: int = 20) -> list[Command]:
    """One sequence; a MULTI it opens is closed by EXEC or DISCARD before it ends."""
    gens = list(FAMILIES.values())
    seq: list[Command] = []
    for _ in range(length):
        seq.append(r.choice(gens)(r))
    if any(c[0] == b"MULTI" for c in seq):
        seq.append([b"DISCARD"])
    return seq


def run_fuzz(engine_port: int, redis_port: int, sequences: int, seed: int, length: int = 20,
             time_budget_s: float | None = None) -> tuple[int, list[str]]:
    """Run up to ``sequences`` sequences (or until ``time_budget_s``); return (run, mismatches)."""
    r = random.Random(seed)
    mismatches: list[str] = []
    done = 0
    start = time.monotonic()
    e = RawClient(engine_port, timeout_s=10)
    x = RawClient(redis_port, timeout_s=10)
    try:
        for n in range(sequences):
            if time_budget_s is not None and time.monotonic() - start > time_budget_s:
                break
            resp = 3 if r.random() < 0.3 else 2
            for c in (e, x):
                c.call("HELLO", str(resp))
                c.resp = resp
                c.call("FLUSHALL")
            seq = generate_sequence(r, length)
            try:
                compare(e, x, seq, context=f"sequence {n} (seed {seed}): ")
            except Mismatch as m:
                mismatches.append(str(m))
                for c in (e, x):
                    c.close()
                e = RawClient(engine_port, timeout_s=10)
                x = RawClient(redis_port, timeout_s=10)
            done += 1
    finally:
        e.close()
        x.close()
    return done, mismatches


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Differential fuzz of the engine against redis-server.")
    p.add_argument("--sequences", type=int, default=10000)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--show", type=int, default=5, help="mismatches printed in full")
    args = p.parse_args(argv)
    from engine.server import EmbeddedServer
    from tests.support.redis_real import real_redis

    t0 = time.monotonic()
    with real_redis() as rr, EmbeddedServer() as srv:
        done, mismatches = run_fuzz(srv.port, rr.port, args.sequences, args.seed, args.length)
    for m in mismatches[: args.show]:
        print(m, "\n")
    print(f"fuzz: {done} sequences of {args.length} commands, seed {args.seed}, {len(mismatches)} mismatches, "
          f"{time.monotonic() - t0:.0f} s")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
