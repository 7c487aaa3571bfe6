"""Differential fuzz: seeded random command sequences, malformed arguments and error paths
included, run on the engine and on a real redis-server and compared reply by reply with the
harness's rules (tests/differential/harness.py).

Each sequence is 20 commands over a pool of five keys, so commands meet keys of every type
(WRONGTYPE paths), missing keys and each other's results.  The families (:data:`FAMILIES`)
cover strings, lists, sets, hashes, sorted sets, keys, bitmaps, MULTI, streams (consumer groups,
claims, XINFO), HyperLogLog, geo, BITFIELD/BITOP/BITPOS/BITCOUNT, scripts (EVAL/EVALSHA/EVAL_RO
of a fixed set of small scripts, FCALL of a fixed library) and the remaining keyspace commands
(GETEX, COPY, OBJECT, LCS, DUMP, the *STORE and MPOP forms, SCAN family).  Half the sequences
draw mostly from two families so that values live long enough to reach deeper paths.
Arguments are drawn from values that reach validation branches: non-integers, ``" 1"``,
``1.5``, ``inf``, empty strings, LLONG_MIN/MAX and their neighbours, negative counts, wrong
arities and unknown options.  Counts that Redis would honour by streaming billions of elements
(SRANDMEMBER -huge) are not drawn: both servers would only run out of memory.

Before each sequence both servers get the same reset (HELLO 2 or 3, SELECT 0, FLUSHALL,
SCRIPT FLUSH); the function library is loaded once per run.

What is not deterministic is normalised or kept out of the draw, each for a stated reason:

* SORT is drawn with ALPHA (or as a syntax error) only: Redis's sortCommand reads errno
  without clearing it, so an ERANGE left by any earlier strtod (``1e309`` in another command)
  fails a valid numeric SORT there at random.
* Stream IDs are explicit (``ms-seq``, ``ms``, ``ms-*``), never ``*``: an auto ID is the
  server's clock, which differs between the two servers.
* Idle times (XINFO CONSUMERS ``idle``, ``seen-time``/``active-time``/``inactive`` at any
  depth of XINFO, the third field of XPENDING's extended entries) and Unix-millisecond
  delivery times (XINFO STREAM FULL) are zeroed before comparing (:func:`_untimed`,
  :func:`_xpending`); so is ``radix-tree-nodes``, a memory-layout detail of Redis's rax.
  Min-idle-time arguments (XCLAIM, XAUTOCLAIM, XPENDING IDLE) are 0 or an hour, never close
  to a sequence's own duration, so which entries qualify does not depend on timing.
* Random replies (SRANDMEMBER, SPOP, HRANDFIELD, ZRANDMEMBER, RANDOMKEY) compare by shape
  (harness :data:`~tests.differential.harness.RANDOM`); after an SPOP the set Redis kept is
  written to both servers (:func:`_resync_after_spop`) so later commands see one state.
  TTL-like replies compare within the sequence's elapsed time (harness ``TIMED``).  OBJECT
  IDLETIME compares by reply type only: Redis shares the objects of the integers 0-9999
  between keys, so a key holding one reports the idle time of the last access to any key
  holding the same integer, which depends on earlier sequences (:func:`_kind_only`).  OBJECT
  FREQ is an error under the default (non-LFU) policy on both.
* EXPIRE's GT and LT are drawn with absolute times (EXPIREAT): two relative expiries of the
  same length (``EXPIRE k 100 GT`` after ``PSETEX k 100000 v``) compare the millisecond each
  command ran at, so the answer depends on whether a millisecond passed in between.
* DUMP of a hashtable set or hash compares decoded (:func:`_dump`): Redis's dict order is
  seeded at random per process.  Other payloads, LZF-compressed strings included, compare
  byte for byte.
* Lexicographical ranges with bounds go to one key (:data:`LEX_KEY`) that only ever holds
  equal scores: with mixed scores Redis documents the result as unspecified (its skiplist
  search depends on random node levels).  The five ordinary keys get ``-``/``+`` lex ranges.
* OBJECT ENCODING/REFCOUNT after an INCRBYFLOAT in the same sequence are drawn as TYPE: Redis
  keeps an integral INCRBYFLOAT result (``5``) as ``embstr`` where the engine, which stores
  strings as plain bytes, reports ``int`` (a known difference, not worth a string subclass).
* GEOSEARCH with ANY returns whichever matches it found first; both servers scan the same
  cells in the same order, so it is compared exactly.

Long runs (``make fuzz``)::

    python -m tests.differential.fuzz --sequences 10000 --seed 1

prints the number of sequences and mismatches and exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from engine.persistence.rdb import restore_payload
from tests.differential.harness import Command, Mismatch, RawClient, Reply, compare, normalize

__all__ = ["generate_sequence", "run_fuzz", "FAMILIES"]

KEYS = [b"k0", b"k1", b"k2", b"k3", b"k4"]
#: The key of lexicographical ranges with bounds: only ever a sorted set of equal scores.
LEX_KEY = b"lz"
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
        [b"ZRANGEBYLEX", LEX_KEY, r.choice([b"-", b"[a", b"(b", b"x"]), r.choice([b"+", b"[c", b"(b"])],
        [b"ZRANGEBYLEX", k, b"-", b"+", *r.choice([[], [b"LIMIT", b"1", b"2"]])],
        [b"ZADD", LEX_KEY, b"0", _v(r), b"0", _v(r)],
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
        [b"EXPIRE", k, b"100", r.choice([b"NX", b"XX", b"BAD"])],
        [b"EXPIREAT", k, r.choice([b"99999999999", b"99999999990"]), r.choice([b"GT", b"LT"])], [b"TTL", k], [b"PTTL", k],
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


# -- streams ---------------------------------------------------------------------------------
# Explicit IDs only ("ms-seq", "ms", "ms-*"): an auto-generated ``*`` ID depends on each
# server's clock, so it would differ between the two and poison every later reply.
SIDS = [b"0-0", b"0-1", b"1-0", b"1-1", b"1-*", b"2", b"2-*", b"3-0", b"5-5", b"7", b"10-1", b"abc", b"-1",
        b"18446744073709551615-18446744073709551615", b"18446744073709551615-*", b"1-18446744073709551616", b""]
RANGE_IDS = [b"-", b"+", b"0", b"1", b"1-1", b"(1-0", b"(2", b"3-0", b"(5-5", b"(-", b"(+", b"10", b"x", b"(0-0",
             b"(18446744073709551615-18446744073709551615"]
GROUP_IDS = [b"0", b"$", b"1-0", b"3-0", b"10", b"x", b"-", b"+"]
READ_IDS = [b">", b"0", b"0-0", b"1-1", b"3", b"$", b"x", b"+"]
GROUPS = [b"g1", b"g2"]
CONSUMERS = [b"c1", b"c2", b"c3"]
# min-idle-time and IDLE filters are 0 or an hour: never near the sequence's own duration.
IDLES = [b"0", b"3600000", b"-1", b"abc"]


def _trim(r: R) -> list[bytes]:
    how = [r.choice([b"MAXLEN", b"MINID", b"maxlen", b"BAD"])]
    if r.random() < 0.5:
        how.append(r.choice([b"=", b"~"]))
    how.append(r.choice([b"0", b"1", b"2", b"5", b"-1", b"abc", b"3-0", b"(1"]) if how[0].upper() != b"MINID"
               else r.choice(SIDS[:10] + [b"x"]))
    if r.random() < 0.2:
        how += [b"LIMIT", r.choice([b"0", b"1", b"10", b"-1", b"x"])]
    return how


def _streams(r: R) -> Command:
    k, g, c = _k(r), r.choice(GROUPS), r.choice(CONSUMERS)
    count = [b"COUNT", r.choice(SMALL_COUNTS)] if r.random() < 0.5 else []
    xadd: list[bytes] = [b"XADD", k]
    if r.random() < 0.15:
        xadd.append(b"NOMKSTREAM")
    if r.random() < 0.25:
        xadd += _trim(r)
    xadd += [r.choice(SIDS), r.choice([b"f", b"g", b"h"]), _v(r)]
    if r.random() < 0.3:
        xadd += r.choice([[b"f2", _v(r)], [b"odd"]])
    ids = [r.choice(SIDS[:10]) for _ in range(r.randint(1, 3))]
    return r.choice([
        xadd, xadd, xadd, [b"XADD", k, r.choice(SIDS)], [b"XLEN", k],
        [b"XRANGE", k, r.choice(RANGE_IDS), r.choice(RANGE_IDS), *count],
        [b"XREVRANGE", k, r.choice(RANGE_IDS), r.choice(RANGE_IDS), *count],
        [b"XRANGE", k, b"-", b"+", b"COUNT"], [b"XDEL", k, *ids], [b"XTRIM", k, *_trim(r)],
        [b"XGROUP", b"CREATE", k, g, r.choice(GROUP_IDS), *r.choice([[], [b"MKSTREAM"], [b"ENTRIESREAD", _i(r)]])],
        [b"XGROUP", b"SETID", k, g, r.choice(GROUP_IDS), *r.choice([[], [b"ENTRIESREAD", _i(r)]])],
        [b"XGROUP", b"DESTROY", k, g], [b"XGROUP", b"CREATECONSUMER", k, g, c], [b"XGROUP", b"DELCONSUMER", k, g, c],
        [b"XGROUP", r.choice([b"BAD", b"CREATE"]), k],
        [b"XREADGROUP", b"GROUP", g, c, *count, *r.choice([[], [b"NOACK"]]), b"STREAMS", k, r.choice(READ_IDS)],
        [b"XREADGROUP", b"GROUP", g, c, b"STREAMS", k, _k(r), r.choice(READ_IDS), r.choice(READ_IDS)],
        [b"XREADGROUP", b"GROUP", g, c, b"STREAMS", k], [b"XREADGROUP", b"GROUP", g],
        [b"XREAD", *count, b"STREAMS", k, r.choice(READ_IDS)], [b"XREAD", b"STREAMS", k, _k(r), b"0", b"1-1"],
        [b"XREAD", b"STREAMS", k, _k(r), b"0"], [b"XREAD", b"COUNT", b"x", b"STREAMS", k, b"0"],
        [b"XACK", k, g, *ids], [b"XPENDING", k, g],
        [b"XPENDING", k, g, r.choice(RANGE_IDS), r.choice(RANGE_IDS), r.choice(SMALL_COUNTS), *r.choice([[], [c]])],
        [b"XPENDING", k, g, b"IDLE", r.choice(IDLES), b"-", b"+", b"10"], [b"XPENDING", k, g, b"-", b"+"],
        [b"XCLAIM", k, g, c, r.choice(IDLES), *ids,
         *r.choice([[], [b"JUSTID"], [b"FORCE"], [b"RETRYCOUNT", r.choice(SMALL_COUNTS)], [b"IDLE", r.choice(IDLES)],
                    [b"TIME", r.choice([b"1000", b"-5", b"x"])], [b"LASTID", r.choice(SIDS[:10])], [b"BAD"]])],
        [b"XAUTOCLAIM", k, g, c, r.choice(IDLES), r.choice(RANGE_IDS[:10]), *count, *r.choice([[], [b"JUSTID"]])],
        [b"XINFO", b"STREAM", k], [b"XINFO", b"STREAM", k, b"FULL", *count], [b"XINFO", b"GROUPS", k],
        [b"XINFO", b"CONSUMERS", k, g], [b"XINFO", b"BAD", k],
        [b"XSETID", k, r.choice(SIDS[:12]), *r.choice([[], [b"ENTRIESADDED", _i(r)],
                                                        [b"ENTRIESADDED", b"20", b"MAXDELETEDID", r.choice(SIDS[:10])]])],
    ])


# -- HyperLogLog -----------------------------------------------------------------------------
def _hll(r: R) -> Command:
    k = _k(r)
    elems = [r.choice([b"a", b"b", b"c", b"x%d" % r.randint(0, 400), b""]) for _ in range(r.randint(0, 4))]
    return r.choice([
        [b"PFADD", k, *elems], [b"PFADD", k, *elems], [b"PFADD", k, *[b"e%d" % i for i in range(r.randint(50, 300))]],
        [b"PFCOUNT", k], [b"PFCOUNT", k, _k(r)], [b"PFCOUNT"], [b"PFMERGE", k, _k(r), _k(r)], [b"PFMERGE", k],
        [b"GET", k], [b"SETRANGE", k, r.choice([b"4", b"15", b"16", b"20"]), r.choice([b"\xff", b"\x00", b"Z"])],
    ])


# -- geo -------------------------------------------------------------------------------------
LONLATS = [(b"13.361389", b"38.115556"), (b"15.087269", b"37.502669"), (b"2.35", b"48.85"), (b"-122.4", b"37.7"),
           (b"0", b"0"), (b"180", b"85.05112878"), (b"-180", b"-85.05112878"), (b"181", b"0"), (b"0", b"86"),
           (b"abc", b"1"), (b"13.5", b"38"), (b"", b"1")]
UNITS = [b"m", b"km", b"ft", b"mi", b"KM", b"bad"]
RADII = [b"0", b"1", b"100", b"200", b"5000", b"-1", b"abc", b"inf"]


def _geo_opts(r: R, search: bool = True) -> list[bytes]:
    out: list[bytes] = []
    for opt in (b"WITHCOORD", b"WITHDIST", b"WITHHASH"):
        if search and r.random() < 0.3:
            out.append(opt)
    if r.random() < 0.4:
        out.append(r.choice([b"ASC", b"DESC"]))
    if r.random() < 0.4:
        out += [b"COUNT", r.choice([b"1", b"2", b"0", b"-1", b"x"])]
        if r.random() < 0.3:
            out.append(b"ANY")
    return out


def _geo(r: R) -> Command:
    k = _k(r)
    lon, lat = r.choice(LONLATS)
    m = r.choice([b"a", b"b", b"c", b"hello", b"nope"])
    add: list[bytes] = [b"GEOADD", k, *r.choice([[], [], [b"NX"], [b"XX"], [b"CH"], [b"NX", b"XX"], [b"XX", b"CH"]])]
    for _ in range(r.randint(1, 3)):
        add += [*r.choice(LONLATS[:7] if r.random() < 0.85 else LONLATS), r.choice([b"a", b"b", b"c", b"hello"])]
    frm = r.choice([[b"FROMMEMBER", m], [b"FROMLONLAT", lon, lat], [b"FROMLONLAT", lon], []])
    by = r.choice([[b"BYRADIUS", r.choice(RADII), r.choice(UNITS)],
                   [b"BYBOX", r.choice(RADII), r.choice(RADII[:5]), r.choice(UNITS)], [b"BYRADIUS", b"1"]])
    return r.choice([
        add, add, [b"GEOADD", k, lon, lat], [b"GEOPOS", k, m, r.choice([b"a", b"b", b"c"])], [b"GEOPOS", k],
        [b"GEODIST", k, m, r.choice([b"a", b"b", b"c"]), *r.choice([[], [r.choice(UNITS)], [b"m", b"x"]])],
        [b"GEOHASH", k, m, b"b"], [b"GEOSEARCH", k, *frm, *by, *_geo_opts(r)],
        [b"GEOSEARCHSTORE", _k(r), k, *frm, *by, *_geo_opts(r, False), *r.choice([[], [b"STOREDIST"]])],
        [b"GEORADIUS", k, lon, lat, r.choice(RADII), r.choice(UNITS), *_geo_opts(r)],
        [b"GEORADIUS_RO", k, lon, lat, r.choice(RADII), r.choice(UNITS), *_geo_opts(r)],
        [b"GEORADIUS", k, lon, lat, r.choice(RADII), r.choice(UNITS), *_geo_opts(r, False),
         r.choice([b"STORE", b"STOREDIST"]), _k(r)],
        [b"GEORADIUSBYMEMBER", k, m, r.choice(RADII), r.choice(UNITS), *_geo_opts(r)],
        [b"GEORADIUSBYMEMBER_RO", k, m, r.choice(RADII), r.choice(UNITS), *_geo_opts(r)],
        [b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"],
    ])


# -- BITFIELD, BITOP, BITPOS, BITCOUNT -------------------------------------------------------
BF_TYPES = [b"u1", b"i8", b"u8", b"i16", b"u16", b"i32", b"i64", b"u63", b"u64", b"i65", b"i0", b"x8", b"8"]
# SET/INCRBY offsets stay small: an offset near 2^32 bits makes both servers allocate 512 MB.
BF_OFFSETS = [b"0", b"1", b"5", b"8", b"13", b"100", b"#0", b"#1", b"#3", b"-1", b"abc", b"#-1", b"4294967296"]
BF_VALUES = [b"0", b"1", b"-1", b"127", b"128", b"-129", b"255", b"9223372036854775807",
             b"-9223372036854775808", b"abc", b"1.5"]


def _bitfield_ops(r: R, ro: bool = False) -> list[bytes]:
    ops: list[bytes] = []
    for _ in range(r.randint(0, 3)):
        kind = r.choice([b"GET"] if ro and r.random() < 0.85 else [b"GET", b"SET", b"INCRBY", b"OVERFLOW", b"BAD"])
        if kind == b"GET":
            ops += [b"GET", r.choice(BF_TYPES), r.choice(BF_OFFSETS + [b"4294967295", b"#536870911"])]
        elif kind in (b"SET", b"INCRBY"):
            ops += [kind, r.choice(BF_TYPES), r.choice(BF_OFFSETS), r.choice(BF_VALUES)]
        elif kind == b"OVERFLOW":
            ops += [b"OVERFLOW", r.choice([b"WRAP", b"SAT", b"FAIL", b"wrap", b"BAD"])]
        else:
            ops += [b"BAD"]
    return ops


def _bitfields(r: R) -> Command:
    k = _k(r)
    se = [r.choice([b"0", b"1", b"-1", b"2", b"-3", b"7", b"100", b"abc"]) for _ in range(2)]
    unit = r.choice([[], [b"BYTE"], [b"BIT"], [b"bit"], [b"BAD"]])
    return r.choice([
        [b"BITFIELD", k, *_bitfield_ops(r)], [b"BITFIELD", k, *_bitfield_ops(r)],
        [b"BITFIELD_RO", k, *_bitfield_ops(r, True)],
        [b"BITOP", r.choice([b"AND", b"OR", b"XOR", b"NOT", b"and"]), _k(r), k, _k(r)], [b"BITOP", b"NOT", _k(r)],
        [b"BITPOS", k, r.choice([b"0", b"1", b"2"]), *se[: r.randint(0, 2)]],
        [b"BITPOS", k, r.choice([b"0", b"1"]), se[0], se[1], *unit],
        [b"BITCOUNT", k, se[0], se[1], *unit], [b"BITCOUNT", k, se[0]],
        [b"SETBIT", k, r.choice([b"0", b"3", b"9", b"31"]), b"1"],
    ])


# -- scripts ---------------------------------------------------------------------------------
SCRIPTS = [
    b"return redis.call('GET', KEYS[1])",
    b"return redis.call('SET', KEYS[1], ARGV[1])",
    b"return redis.pcall('INCR', KEYS[1])",
    b"return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])",
    b"return redis.error_reply('my error')",
    b"return redis.error_reply('-ERR with dash')",
    b"return redis.status_reply('FINE')",
    b"return {1, 2, {3, 'x'}, 'y', true, false, 'z'}",
    b"return 3.99",
    b"return true",
    b"return false",
    b"return nil",
    b"return {err = 'my table error'}",
    b"return {ok = 'my status'}",
    b"return redis.call('LRANGE', KEYS[1], 0, -1)",
    b"return redis.call('TYPE', KEYS[1])",
    b"return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')",
    b"return redis.call('HGET', KEYS[1], ARGV[1])",
    b"local r = redis.pcall('LPUSH', KEYS[1], 'v') if type(r) == 'table' and r.err then return 'E:' .. r.err end "
    b"return r",
    b"return redis.call('NOSUCHCOMMAND')",
    b"return redis.call()",
    b"return redis.call('GET')",
    b"return #KEYS + 10 * #ARGV",
    b"return tonumber(ARGV[1])",
    b"return redis.sha1hex(ARGV[1] or '')",
    b"return redis.call('EXISTS', KEYS[1], KEYS[2] or KEYS[1])",
    b"redis.call('DEL', KEYS[1]) return redis.call('RPUSH', KEYS[1], ARGV[1] or 'a', 'b')",
    b"error('boom')",
    b"error({err = 'table boom'})",
    b"return (",
    b"retur 1",
    b"",
    b"#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])",
    b"#!lua flags=no-writes\nreturn redis.call('DEL', KEYS[1])",
    b"#!lua\nreturn redis.call('DEL', KEYS[1])",
    b"#!lua flags=bogus\nreturn 1",
    b"return redis.call('SELECT', 1)",
    b"return redis.call('PFADD', KEYS[1], 'a', 'b')",
    b"return cjson.encode({1, 'a'})",
    b"return redis.call('XADD', KEYS[1], '5-0', 'f', 'v')",
]
NUMKEYS = [b"0", b"1", b"1", b"1", b"2", b"-1", b"abc", b"9"]


def _sha(script: bytes) -> bytes:
    return hashlib.sha1(script).hexdigest().encode()


def _scripts(r: R) -> Command:
    script = r.choice(SCRIPTS)
    nk = r.choice(NUMKEYS)
    rest = [_k(r), _k(r), _v(r)][: r.choice([0, 1, 2, 3, 3, 3])]
    return r.choice([
        [b"EVAL", script, nk, *rest], [b"EVAL", script, nk, *rest], [b"EVAL_RO", script, nk, *rest],
        [b"EVALSHA", _sha(script), nk, *rest], [b"EVALSHA_RO", _sha(script), nk, *rest],
        [b"EVALSHA", r.choice([_sha(script).upper(), b"abc", b"0" * 40]), b"0"], [b"SCRIPT", b"LOAD", script],
        [b"SCRIPT", b"EXISTS", _sha(script), _sha(r.choice(SCRIPTS))], [b"EVAL", script], [b"EVAL"],
        [b"FCALL", r.choice([b"fz_get", b"fz_set", b"nope"]), nk, *rest],
        [b"FCALL_RO", r.choice([b"fz_get", b"fz_set"]), nk, *rest],
    ])


# -- the rest of the engine's keyspace commands ----------------------------------------------
def _others(r: R) -> Command:
    k, k2 = _k(r), _k(r)
    z2 = [b"2", k, k2]
    return r.choice([
        [b"GETEX", k, *r.choice([[], [b"PERSIST"], [b"EX", r.choice([b"100", b"0", b"-1", b"x"])],
                                 [b"PX", b"100000"], [b"EXAT", b"99999999999"], [b"PXAT", b"1"], [b"EX"],
                                 [b"EX", b"10", b"PX", b"10"], [b"BAD"]])],
        [b"SETEX", k, r.choice([b"100", b"0", b"-1", b"x"]), _v(r)], [b"PSETEX", k, b"100000", _v(r)],
        [b"SUBSTR", k, _i(r), _i(r)], [b"PEXPIRE", k, r.choice([b"100000", b"0", b"-5", b"x"])],
        [b"EXPIREAT", k, r.choice([b"99999999999", b"1", b"x"]), *r.choice([[], [b"NX"], [b"GT"]])],
        [b"PEXPIREAT", k, r.choice([b"99999999999000", b"1"])], [b"PEXPIRETIME", k],
        [b"MOVE", k, r.choice([b"1", b"0", b"16", b"x"])], [b"SWAPDB", b"0", r.choice([b"1", b"0", b"x", b"99"])],
        [b"COPY", k, k2, *r.choice([[], [b"REPLACE"], [b"DB", b"1"], [b"DB", b"1", b"REPLACE"], [b"DB", b"x"]])],
        [b"OBJECT", b"ENCODING", k], [b"OBJECT", b"ENCODING", k], [b"OBJECT", b"REFCOUNT", k], [b"OBJECT", b"FREQ", k],
        [b"OBJECT", b"IDLETIME", k], [b"OBJECT", b"ENCODING"], [b"RANDOMKEY"], [b"TYPE", k],
        [b"LCS", k, k2, *r.choice([[b"LEN"], [b"IDX"], [b"IDX", b"WITHMATCHLEN"], [b"IDX", b"MINMATCHLEN", _i(r)],
                                   [b"LEN", b"IDX"], [b"BAD"]])],
        [b"SINTERCARD", r.choice([b"1", b"2"]), k, k2][: 3 + (r.random() < 0.5)],
        [b"ZDIFF", *z2, *r.choice([[], [b"WITHSCORES"]])], [b"ZDIFFSTORE", k, *z2], [b"ZINTERCARD", *z2],
        [b"ZINTERCARD", *z2, b"LIMIT", r.choice(SMALL_COUNTS)],
        [b"ZINTERSTORE", k, *z2, *r.choice([[], [b"AGGREGATE", r.choice([b"SUM", b"MIN", b"MAX", b"X"])]])],
        [b"ZUNION", *z2, b"WITHSCORES"], [b"ZUNION", b"0", k],
        [b"ZRANGESTORE", k2, k, _i(r), _i(r), *r.choice([[], [b"REV"], [b"BYSCORE"], [b"BYLEX"], [b"WITHSCORES"]])],
        [b"ZRANGESTORE", k2, k, b"(1", b"+inf", b"BYSCORE", b"LIMIT", _i(r), _i(r)],
        [b"ZREMRANGEBYLEX", LEX_KEY, r.choice([b"-", b"[a", b"x"]), r.choice([b"+", b"(c"])],
        [b"ZREVRANGEBYLEX", LEX_KEY, r.choice([b"+", b"[c"]), r.choice([b"-", b"(a"])],
        [b"ZREVRANGEBYLEX", k, b"+", b"-"], [b"ZREMRANGEBYLEX", k, b"-", b"+"], [b"ZLEXCOUNT", LEX_KEY, b"[b", b"+"],
        [b"ZADD", LEX_KEY, b"0", _v(r)], [b"ZRANGE", LEX_KEY, b"[a", b"(c", b"BYLEX", *r.choice([[], [b"REV"]])],
        [b"ZRANGESTORE", k, LEX_KEY, b"-", b"[c", b"BYLEX"],
        [b"ZREVRANGEBYSCORE", k, _f(r), _f(r), *r.choice([[], [b"WITHSCORES"], [b"LIMIT", b"0", b"1"]])],
        [b"LMPOP", b"2", k, k2, r.choice([b"LEFT", b"RIGHT"]), b"COUNT", r.choice(SMALL_COUNTS)],
        [b"ZMPOP", b"2", k, k2, r.choice([b"MIN", b"MAX"]), *r.choice([[], [b"COUNT", r.choice(SMALL_COUNTS)]])],
        [b"SORT_RO", k, b"ALPHA", *r.choice([[], [b"DESC"], [b"STORE", k2]])],
        [b"SCAN", b"0", *r.choice([[], [b"MATCH", b"k[0-2]"], [b"TYPE", r.choice([b"string", b"list", b"stream"])],
                                   [b"COUNT", r.choice([b"1", b"0", b"x"])]])],
        [b"SSCAN", k, b"0", *r.choice([[], [b"MATCH", b"*a*"], [b"COUNT", b"2"]])], [b"HSCAN", k, b"0"],
        [b"ZSCAN", k, b"0", *r.choice([[], [b"COUNT", b"1"]])],
        [b"LPOS", k, _v(r), b"RANK", r.choice([b"1", b"-1", b"0", b"2"]), b"COUNT", r.choice([b"0", b"2"]),
         b"MAXLEN", r.choice([b"0", b"3"])],
        [b"DUMP", k],
    ])


def _misc(r: R) -> Command:
    return r.choice([
        [b"PING"], [b"ECHO", _v(r)], [b"PING", b"a", b"b"], [b"NOSUCHCOMMAND", _v(r)], [b"GET"], [b"SELECT", _i(r)],
        [b"MULTI"], [b"EXEC"], [b"DISCARD"], [b"ECHO"], [b"FLUSHDB", r.choice([b"ASYNC", b"SYNC", b"BAD"])],
    ])


FAMILIES: dict[str, Callable[[R], Command]] = {
    "strings": _strings, "lists": _lists, "sets": _sets, "hashes": _hashes, "zsets": _zsets,
    "keys": _keys, "bitmaps": _bitmaps, "misc": _misc, "streams": _streams, "hyperloglog": _hll, "geo": _geo,
    "bitfield": _bitfields, "scripts": _scripts, "others": _others,
}


def generate_sequence(r: R, length: int = 20) -> list[Command]:
    """One sequence; a MULTI it opens is closed by EXEC or DISCARD before it ends.

    Half the sequences draw from every family alike; the other half mostly from two families,
    so that streams with groups, geo sets and HLLs live long enough to reach their deeper
    paths before another family overwrites their key."""
    gens = list(FAMILIES.values())
    focus = r.sample(gens, 2) if r.random() < 0.5 else gens
    seq: list[Command] = []
    floats = False
    for _ in range(length):
        cmd = r.choice(focus if r.random() < 0.8 else gens)(r)
        floats = floats or any(b"INCRBYFLOAT" in a.upper() for a in cmd if isinstance(a, bytes))
        if floats and cmd[0] == b"OBJECT" and len(cmd) == 3 and cmd[1] in (b"ENCODING", b"REFCOUNT"):
            cmd = [b"TYPE", cmd[2]]
        seq.append(cmd)
    if any(c[0] == b"MULTI" for c in seq):
        seq.append([b"DISCARD"])
    return seq


# -- normalisers of the fuzz (time-dependent fields) -----------------------------------------
_TIME_FIELDS = {b"idle", b"seen-time", b"active-time", b"inactive"}
_RAX_NODES = b"radix-tree-nodes"
_ZERO = Reply(":", 0)
#: Unix-millisecond timestamps (delivery times in XINFO STREAM FULL) are above this.
_EPOCH_MS = 10**12


def _untimed(reply: Reply) -> Reply:
    """``reply`` with the values of time fields (and ``radix-tree-nodes``) zeroed, at any depth."""
    if reply.kind == ":" and reply.value >= _EPOCH_MS:
        return _ZERO
    if reply.kind in ("*", "~"):
        vals = [_untimed(v) for v in reply.value]
        for i in range(len(vals) - 1):
            if vals[i].kind in ("$", "+") and (vals[i].value in _TIME_FIELDS or vals[i].value == _RAX_NODES):
                vals[i + 1] = _ZERO
        return Reply(reply.kind, tuple(vals))
    if reply.kind == "%":
        return Reply("%", tuple((k, _ZERO if k.value in _TIME_FIELDS or k.value == _RAX_NODES else _untimed(v))
                                for k, v in reply.value))
    return reply


def _xinfo(cmd: Command, reply: Reply) -> Any:
    return normalize(cmd, _untimed(reply))


def _xpending(cmd: Command, reply: Reply) -> Any:
    """The extended form's entries are [id, consumer, idle ms, deliveries]: idle is zeroed."""
    if len(cmd) > 3 and reply.kind == "*":
        reply = Reply("*", tuple(Reply(e.kind, (*e.value[:2], _ZERO, *e.value[3:])) if e.kind == "*" else e
                                 for e in reply.value))
    return normalize(cmd, reply)


def _dump(cmd: Command, reply: Reply) -> Any:
    """DUMP of a hashtable-encoded set (RDB type 2) or hash (type 4) lists the members in the
    order of Redis's dict, which is seeded at random when redis-server starts: such payloads
    compare as their decoded contents; every other payload compares byte for byte."""
    if reply.kind == "$" and reply.value[:1] in (b"\x02", b"\x04"):
        value = restore_payload(reply.value)
        items = value.items() if isinstance(value, dict) else value
        return ("dump", reply.value[:1], frozenset(items), reply.value[-10:-8])
    return normalize(cmd, reply)


def _kind_only(cmd: Command, reply: Reply) -> Any:
    return reply.kind


FUZZ_NORMALIZERS: dict[str, Callable[[Command, Reply], Any]] = {
    "xinfo": _xinfo, "xpending": _xpending, "dump": _dump, "object|idletime": _kind_only,
}


def _resync_after_spop(cmd: Command, engine: RawClient, redis: RawClient) -> None:
    """SPOP removes random members, so each server keeps a different rest: once both have run
    it, the set Redis kept is written to both (DEL + SADD) so later commands see one state."""
    if not cmd or not isinstance(cmd[0], bytes) or cmd[0].upper() != b"SPOP" or len(cmd) < 2:
        return
    key = cmd[1]
    kept = redis.call("TYPE", key)
    if kept.value != b"set":
        return
    members = [m.value for m in redis.call("SMEMBERS", key).value]
    for c in (engine, redis):
        c.call("DEL", key)
        c.call("SADD", key, *members)


def _reset(c: RawClient, resp: int) -> None:
    """A fresh start for one sequence: protocol, database 0, no data, no cached scripts."""
    c.call("HELLO", str(resp))
    c.resp = resp
    c.call("SELECT", "0")
    c.call("FLUSHALL")
    c.call("SCRIPT", "FLUSH")


LIBRARY = (b"#!lua name=fz\n"
           b"redis.register_function('fz_get', function(keys, args) return redis.call('GET', keys[1]) end)\n"
           b"redis.register_function('fz_set', function(keys, args) return redis.call('SET', keys[1], args[1]) end)\n")


def run_fuzz(engine_port: int, redis_port: int, sequences: int, seed: int, length: int = 20,
             time_budget_s: float | None = None) -> tuple[int, list[str]]:
    """Run up to ``sequences`` sequences (or until ``time_budget_s``); return (run, mismatches)."""
    r = random.Random(seed)
    mismatches: list[str] = []
    done = 0
    start = time.monotonic()
    e = RawClient(engine_port, timeout_s=10)
    x = RawClient(redis_port, timeout_s=10)
    for c in (e, x):
        c.call("FUNCTION", "LOAD", "REPLACE", LIBRARY)
    try:
        for n in range(sequences):
            if time_budget_s is not None and time.monotonic() - start > time_budget_s:
                break
            resp = 3 if r.random() < 0.3 else 2
            for c in (e, x):
                _reset(c, resp)
            seq = generate_sequence(r, length)
            try:
                compare(e, x, seq, context=f"sequence {n} (seed {seed}): ", normalizers=FUZZ_NORMALIZERS,
                        after=_resync_after_spop)
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
    p.add_argument("--only", action="append", choices=sorted(FAMILIES), help="draw from these families only")
    args = p.parse_args(argv)
    if args.only:
        for name in set(FAMILIES) - set(args.only):
            del FAMILIES[name]
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
