"""Sorted-set commands (t_zset.c), blocking forms included.

A sorted set is :class:`engine.objects.ZSet`: a dict member -> score and a ``SortedList`` of
``(score, member)``, so ranks and score ranges are bisections (O(log n)) as on Redis's
skiplist.  Scores are replied as doubles (``%.17g``, RESP3 ``,``), and WITHSCORES pairs are
flat in RESP2 and nested ``[member, score]`` arrays in RESP3, as Redis 7.0 answers the ZRANGE
family.  Range syntax follows zslParseRange / zslParseLexRange: ``(1`` exclusive, ``inf``,
``-inf``; ``[a`` ``(a`` ``-`` ``+`` for lex ranges.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any

from engine import blocking
from engine.args import (
    LLONG_MAX,
    integer,
    intercard_limit,
    keys_after_numkeys,
    leading_flags,
    limit_option,
    mpop,
    parse_float,
    parse_numkeys,
    positive,
    scan_cursor,
    scan_options,
)
from engine.client import Client
from engine.collscan import scan_step
from engine.db import Database
from engine.errors import (
    LEX_RANGE_INVALID,
    MIN_MAX_NOT_FLOAT,
    SCORE_NAN,
    SYNTAX,
    VALUE_OUT_OF_RANGE,
    CommandError,
    WrongTypeError,
    value_not_in_range,
)
from engine.objects import SET, ZSET, ZSet, encoding
from engine.protocol import NULL_ARRAY, Reply, format_double
from engine.table import command
from engine.util import glob_match

__all__ = ["zadd", "zrange", "zunionstore", "zpopmin", "bzpopmin", "zmpop", "bzmpop", "parse_score_range",
           "parse_lex_range"]

_INF = math.inf
_rng = random.Random()


def _numkeys(raw: bytes, available: int, name: str) -> int:
    """The numkeys of ZUNION/ZINTER/ZDIFF(STORE) and ZINTERCARD (zunionInterDiffGenericCommand)."""
    return parse_numkeys(raw, available, minimum=1,
                       below_minimum=f"ERR at least 1 input key is needed for '{name}' command")


# -- ranges -----------------------------------------------------------------------------------


def _score_bound(raw: bytes) -> tuple[float, bool]:
    exclusive = raw[:1] == b"("
    text = raw[1:] if exclusive else raw
    # zslParseRange calls strtod without getDoubleFromObject's checks: "" is 0, leading
    # whitespace is skipped, and an overflow (1e309) is +-inf.
    if not text:
        return 0.0, exclusive
    stripped = text.lstrip(b" \t\n\v\f\r")
    if not stripped:
        raise CommandError(MIN_MAX_NOT_FLOAT)
    value = parse_float(stripped, MIN_MAX_NOT_FLOAT, strict_range=False)
    return value, exclusive


def parse_score_range(raw_min: bytes, raw_max: bytes) -> tuple[float, bool, float, bool]:
    """zslParseRange: (min, min exclusive, max, max exclusive)."""
    lo, lo_ex = _score_bound(raw_min)
    hi, hi_ex = _score_bound(raw_max)
    return lo, lo_ex, hi, hi_ex


def _score_span(z: ZSet, lo: float, lo_ex: bool, hi: float, hi_ex: bool) -> tuple[int, int]:
    """[start, end) positions of the index within the score range."""
    idx = z.index
    n = len(idx)
    if lo_ex:
        start = n if lo == _INF else idx.bisect_left((math.nextafter(lo, _INF),))
    else:
        start = idx.bisect_left((lo,))
    if hi_ex:
        end = idx.bisect_left((hi,))
    else:
        end = n if hi == _INF else idx.bisect_left((math.nextafter(hi, _INF),))
    return start, max(start, end)


def parse_lex_range(raw_min: bytes, raw_max: bytes) -> tuple[Any, Any]:
    """zslParseLexRange: each bound is (member, exclusive), or "-"/"+" as the strings themselves."""
    return _lex_item(raw_min), _lex_item(raw_max)


def _lex_item(raw: bytes) -> Any:
    c = raw[:1]
    if c == b"+" and len(raw) == 1:
        return "+"
    if c == b"-" and len(raw) == 1:
        return "-"
    if c == b"(":
        return (raw[1:], True)
    if c == b"[":
        return (raw[1:], False)
    raise CommandError(LEX_RANGE_INVALID)


def _lex_first_ge(z: ZSet, member: bytes, strict: bool) -> int:
    """First position whose member is >= member (> when strict), by member bytes only, as
    zslFirstInLexRange walks the skiplist (exact when all scores are equal, as Redis requires)."""
    idx = z.index
    lo, hi = 0, len(idx)
    while lo < hi:
        mid = (lo + hi) // 2
        m = idx[mid][1]
        if m < member or (strict and m == member):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _lex_span(z: ZSet, lo: Any, hi: Any) -> tuple[int, int]:
    n = len(z.index)
    if lo == "+" or hi == "-":
        return 0, 0
    start = 0 if lo == "-" else _lex_first_ge(z, lo[0], lo[1])
    if hi == "+":
        end = n
    else:
        end = _lex_first_ge(z, hi[0], not hi[1])
    return start, max(start, end)


def _rank_span(n: int, start: int, stop: int) -> tuple[int, int]:
    if start < 0:
        start += n
    if stop < 0:
        stop += n
    if start < 0:
        start = 0
    if start > stop or start >= n:
        return 0, 0
    if stop >= n:
        stop = n - 1
    return start, stop + 1


def _with_scores(ctx: Client, items: list[tuple[float, bytes]], withscores: bool) -> Reply:
    if not withscores:
        return [m for _s, m in items]
    if ctx.resp == 3:
        return [[m, s] for s, m in items]
    out: list[Any] = []
    for s, m in items:
        out.append(m)
        out.append(s)
    return out


def _delete_if_empty(ctx: Client, db: Database, key: bytes, z: ZSet) -> None:
    if z:
        db.signal_modified(key)
        ctx.server.on_key_written(db, key, z)
    else:
        db.delete(key)
        ctx.server.notify("g", "del", key, db.id)


# -- ZADD / ZINCRBY ---------------------------------------------------------------------------


def _check_skiplist(config: Any, z: ZSet, pairs: tuple[bytes, ...]) -> None:
    """zsetTypeMaybeConvert / zsetAdd: past zset-max-listpack-entries members or a member
    longer than zset-max-listpack-value, the set becomes a skiplist for good."""
    limit = config["zset-max-listpack-value"]
    if len(z) > config["zset-max-listpack-entries"] or any(len(pairs[j]) > limit for j in range(1, len(pairs), 2)):
        z.skiplist = True



def _check_new_member(config: Any, z: ZSet, member: bytes) -> None:
    if len(z) + 1 > config["zset-max-listpack-entries"] or len(member) > config["zset-max-listpack-value"]:
        z.skiplist = True


@command("zadd", arity=-4, flags="write denyoom fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="1.2.0", summary="Add one or more members to a sorted set, or update its score if it already exists")
def zadd(ctx: Client, key: bytes, *args: bytes) -> Reply:
    return _zadd(ctx, key, args, incr_only=False)


_ZADD_FLAGS = frozenset((b"nx", b"xx", b"gt", b"lt", b"ch", b"incr"))


def _zadd(ctx: Client, key: bytes, args: tuple[bytes, ...], incr_only: bool) -> Reply:
    flags, i = leading_flags(args, _ZADD_FLAGS)
    nx, xx, gt, lt, ch = b"nx" in flags, b"xx" in flags, b"gt" in flags, b"lt" in flags, b"ch" in flags
    incr = incr_only or b"incr" in flags
    pairs = args[i:]
    if not pairs or len(pairs) % 2:
        raise CommandError(SYNTAX)
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and len(pairs) > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    scores = [parse_float(pairs[j]) for j in range(0, len(pairs), 2)]
    db = ctx.db
    z = db.lookup_write(key, ZSET)
    if z is None:
        if xx:
            return None if incr else 0
        z = ZSet()
        db.add(key, z)
    added = updated = processed = 0
    result: float | None = None
    for j, score in enumerate(scores):
        member = pairs[2 * j + 1]
        cur = z.dict.get(member)
        if cur is not None:
            if nx:
                continue
            new = cur + score if incr else score
            if incr and math.isnan(new):
                if not z:
                    db.delete(key)
                raise CommandError(SCORE_NAN)
            if (gt and new <= cur) or (lt and new >= cur):
                continue
            result = new
            processed += 1
            if new != cur:
                z.add(member, new)
                updated += 1
        else:
            if xx:
                continue
            if not z.skiplist:
                # zsetAdd converts before inserting the member that does not fit a listpack,
                # so that member goes into the skiplist with its score as given (-0 kept).
                _check_new_member(ctx.server.config, z, member)
            z.add(member, score)
            result = score
            added += 1
            processed += 1
    server = ctx.server
    if added and not z.skiplist:
        _check_skiplist(server.config, z, pairs)
    if added or updated:
        server.dirty += added + updated
        db.signal_modified(key)
        server.on_key_written(db, key, z)
        server.notify("z", "zincr" if incr else "zadd", key, db.id)
    elif not z:
        db.delete(key)
    if incr:
        return result if processed else None
    return added + updated if ch else added


@command("zincrby", arity=4, flags="write denyoom fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="1.2.0", summary="Increment the score of a member in a sorted set")
def zincrby(ctx: Client, key: bytes, increment: bytes, member: bytes) -> Reply:
    return _zadd(ctx, key, (b"incr", increment, member), incr_only=True)


# -- reads ------------------------------------------------------------------------------------


@command("zcard", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="1.2.0", summary="Get the number of members in a sorted set")
def zcard(ctx: Client, key: bytes) -> Reply:
    z = ctx.db.lookup_read(key, ZSET)
    return 0 if z is None else len(z)


@command("zscore", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="1.2.0", summary="Get the score associated with the given member in a sorted set")
def zscore(ctx: Client, key: bytes, member: bytes) -> Reply:
    z = ctx.db.lookup_read(key, ZSET)
    return None if z is None else z.dict.get(member)


@command("zmscore", arity=-3, flags="readonly fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="6.2.0", summary="Get the score associated with the given members in a sorted set")
def zmscore(ctx: Client, key: bytes, *members: bytes) -> Reply:
    z = ctx.db.lookup_read(key, ZSET)
    d = {} if z is None else z.dict
    return [d.get(m) for m in members]


def _rank(ctx: Client, key: bytes, member: bytes, rev: bool) -> Reply:
    z = ctx.db.lookup_read(key, ZSET)
    if z is None:
        return None
    r = z.rank(member)
    if r is None:
        return None
    return len(z) - 1 - r if rev else r


@command("zrank", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="2.0.0", summary="Determine the index of a member in a sorted set")
def zrank(ctx: Client, key: bytes, member: bytes) -> Reply:
    return _rank(ctx, key, member, False)


@command("zrevrank", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="2.0.0", summary="Determine the index of a member in a sorted set, with scores ordered from high to low")
def zrevrank(ctx: Client, key: bytes, member: bytes) -> Reply:
    return _rank(ctx, key, member, True)


@command("zcount", arity=4, flags="readonly fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="2.0.0", summary="Count the members in a sorted set with scores within the given values")
def zcount(ctx: Client, key: bytes, raw_min: bytes, raw_max: bytes) -> Reply:
    rng = parse_score_range(raw_min, raw_max)
    z = ctx.db.lookup_read(key, ZSET)
    if z is None:
        return 0
    start, end = _score_span(z, *rng)
    return end - start


@command("zlexcount", arity=4, flags="readonly fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="2.8.9", summary="Count the number of members in a sorted set between a given lexicographical range")
def zlexcount(ctx: Client, key: bytes, raw_min: bytes, raw_max: bytes) -> Reply:
    lo, hi = parse_lex_range(raw_min, raw_max)
    z = ctx.db.lookup_read(key, ZSET)
    if z is None:
        return 0
    start, end = _lex_span(z, lo, hi)
    return end - start


def _select(z: ZSet, by: str, a: bytes, b: bytes, rev: bool, offset: int, count: int) -> list[tuple[float, bytes]]:
    """The (score, member) items a ZRANGE-family request selects, in reply order."""
    idx = z.index
    if by == "rank":
        start, end = _rank_span(len(idx), integer(a), integer(b))
        if rev:
            n = len(idx)
            start, end = n - end, n - start
            return list(reversed(idx[start:end]))
        return list(idx[start:end])
    if by == "score":
        lo_raw, hi_raw = (b, a) if rev else (a, b)
        start, end = _score_span(z, *parse_score_range(lo_raw, hi_raw))
    else:
        lo_raw, hi_raw = (b, a) if rev else (a, b)
        lo, hi = parse_lex_range(lo_raw, hi_raw)
        start, end = _lex_span(z, lo, hi)
    if offset < 0:
        return []
    if rev:
        stop = end - offset
        first = start if count < 0 else max(start, stop - count)
        return list(reversed(idx[first:stop])) if stop > first else []
    first = start + offset
    stop = end if count < 0 else min(end, first + count)
    return list(idx[first:stop]) if stop > first else []


def _zrange_generic(ctx: Client, key: bytes, a: bytes, b: bytes, opts: tuple[bytes, ...], by: str, rev: bool,
                    store: bytes | None, allow_by: bool) -> Reply:
    withscores = False
    offset, count = 0, -1
    has_limit = False
    i = 0
    while i < len(opts):
        opt = opts[i].lower()
        left = len(opts) - 1 - i
        if opt == b"withscores" and store is None:
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset, count = limit_option(opts[i + 1], opts[i + 2])
            has_limit = True
            i += 2
        elif allow_by and opt == b"rev":
            rev = True
        elif allow_by and opt == b"byscore" and by == "rank":
            by = "score"
        elif allow_by and opt == b"bylex" and by == "rank":
            by = "lex"
        else:
            raise CommandError(SYNTAX)
        i += 1
    if has_limit and by == "rank":
        raise CommandError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    if withscores and by == "lex":
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    db = ctx.db
    if by == "score":
        parse_score_range(a, b)
    elif by == "lex":
        parse_lex_range(a, b)
    else:
        integer(a), integer(b)
    z = db.lookup_write(key, ZSET) if store is not None else db.lookup_read(key, ZSET)
    items = [] if z is None else _select(z, by, a, b, rev, offset, count)
    if store is None:
        return _with_scores(ctx, items, withscores)
    server = ctx.server
    if items:
        out = ZSet()
        for s, m in items:
            out.add(m, s)
        db.set(store, out)
        server.notify("z", "zrangestore", store, db.id)
    elif db.delete(store):
        server.notify("g", "del", store, db.id)
    server.dirty += 1
    return len(items)


@command("zrange", arity=-4, flags="readonly", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="1.2.0", summary="Return a range of members in a sorted set")
def zrange(ctx: Client, key: bytes, a: bytes, b: bytes, *opts: bytes) -> Reply:
    return _zrange_generic(ctx, key, a, b, opts, "rank", False, None, True)


@command("zrangestore", arity=-5, flags="write denyoom", keys=(1, 2, 1), acl="@sortedset", group="sorted_set",
         since="6.2.0", summary="Store a range of members from sorted set into another key")
def zrangestore(ctx: Client, dst: bytes, src: bytes, a: bytes, b: bytes, *opts: bytes) -> Reply:
    return _zrange_generic(ctx, src, a, b, opts, "rank", False, dst, True)


@command("zrevrange", arity=-4, flags="readonly", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="1.2.0", summary="Return a range of members in a sorted set, by index, with scores ordered from high to low")
def zrevrange(ctx: Client, key: bytes, a: bytes, b: bytes, *opts: bytes) -> Reply:
    return _zrange_generic(ctx, key, a, b, opts, "rank", True, None, False)


@command("zrangebyscore", arity=-4, flags="readonly", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="1.0.5", summary="Return a range of members in a sorted set, by score")
def zrangebyscore(ctx: Client, key: bytes, a: bytes, b: bytes, *opts: bytes) -> Reply:
    return _zrange_generic(ctx, key, a, b, opts, "score", False, None, False)


@command("zrevrangebyscore", arity=-4, flags="readonly", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="2.2.0", summary="Return a range of members in a sorted set, by score, with scores ordered from high to low")
def zrevrangebyscore(ctx: Client, key: bytes, a: bytes, b: bytes, *opts: bytes) -> Reply:
    return _zrange_generic(ctx, key, a, b, opts, "score", True, None, False)


@command("zrangebylex", arity=-4, flags="readonly", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="2.8.9", summary="Return a range of members in a sorted set, by lexicographical range")
def zrangebylex(ctx: Client, key: bytes, a: bytes, b: bytes, *opts: bytes) -> Reply:
    return _zrange_generic(ctx, key, a, b, opts, "lex", False, None, False)


@command("zrevrangebylex", arity=-4, flags="readonly", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="2.8.9", summary="Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings")
def zrevrangebylex(ctx: Client, key: bytes, a: bytes, b: bytes, *opts: bytes) -> Reply:
    return _zrange_generic(ctx, key, a, b, opts, "lex", True, None, False)


# -- removals ---------------------------------------------------------------------------------


@command("zrem", arity=-3, flags="write fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="1.2.0", summary="Remove one or more members from a sorted set")
def zrem(ctx: Client, key: bytes, *members: bytes) -> Reply:
    db = ctx.db
    z = db.lookup_write(key, ZSET)
    if z is None:
        return 0
    removed = sum(1 for m in members if z.remove(m))
    if removed:
        ctx.server.dirty += removed
        ctx.server.notify("z", "zrem", key, db.id)
        _delete_if_empty(ctx, db, key, z)
    return removed


def _zremrange(ctx: Client, key: bytes, a: bytes, b: bytes, by: str) -> Reply:
    if by == "score":
        rng = parse_score_range(a, b)
    elif by == "lex":
        lex = parse_lex_range(a, b)
    else:
        ra, rb = integer(a), integer(b)
    db = ctx.db
    z = db.lookup_write(key, ZSET)
    if z is None:
        return 0
    if by == "score":
        start, end = _score_span(z, *rng)
    elif by == "lex":
        start, end = _lex_span(z, *lex)
    else:
        start, end = _rank_span(len(z), ra, rb)
    if end <= start:
        return 0
    victims = list(z.index[start:end])
    del z.index[start:end]
    for _s, m in victims:
        del z.dict[m]
    server = ctx.server
    server.dirty += len(victims)
    server.notify("z", "zremrangeby" + by, key, db.id)
    _delete_if_empty(ctx, db, key, z)
    return len(victims)


@command("zremrangebyscore", arity=4, flags="write", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="1.2.0", summary="Remove all members in a sorted set within the given scores")
def zremrangebyscore(ctx: Client, key: bytes, a: bytes, b: bytes) -> Reply:
    return _zremrange(ctx, key, a, b, "score")


@command("zremrangebyrank", arity=4, flags="write", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="2.0.0", summary="Remove all members in a sorted set within the given indexes")
def zremrangebyrank(ctx: Client, key: bytes, a: bytes, b: bytes) -> Reply:
    return _zremrange(ctx, key, a, b, "rank")


@command("zremrangebylex", arity=4, flags="write", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="2.8.9", summary="Remove all members in a sorted set between the given lexicographical range")
def zremrangebylex(ctx: Client, key: bytes, a: bytes, b: bytes) -> Reply:
    return _zremrange(ctx, key, a, b, "lex")


# -- pops -------------------------------------------------------------------------------------


def pop_items(ctx: Client, db: Database, key: bytes, z: ZSet, maximum: bool, count: int) -> list[tuple[bytes, float]]:
    """Pop up to ``count`` lowest (highest) members, fire zpopmin/zpopmax, drop an empty key."""
    n = min(count, len(z))
    idx = z.index
    taken = [idx.pop(-1 if maximum else 0) for _ in range(n)]
    for _s, m in taken:
        del z.dict[m]
    server = ctx.server
    server.dirty += 1
    server.notify("z", "zpopmax" if maximum else "zpopmin", key, db.id)
    _delete_if_empty(ctx, db, key, z)
    return [(m, s) for s, m in taken]


def _zpop(ctx: Client, key: bytes, rest: tuple[bytes, ...], maximum: bool) -> Reply:
    if len(rest) > 1:
        raise CommandError(SYNTAX)
    count = 1
    if rest:
        count = positive(rest[0])
    db = ctx.db
    z = db.lookup_write(key, ZSET)
    if z is None or count == 0:
        return []
    items = pop_items(ctx, db, key, z, maximum, count)
    if ctx.resp == 3 and rest:
        return [[m, s] for m, s in items]
    return [x for pair in items for x in pair]


@command("zpopmin", arity=-2, flags="write fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="5.0.0", summary="Remove and return members with the lowest scores in a sorted set")
def zpopmin(ctx: Client, key: bytes, *rest: bytes) -> Reply:
    return _zpop(ctx, key, rest, False)


@command("zpopmax", arity=-2, flags="write fast", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="5.0.0", summary="Remove and return members with the highest scores in a sorted set")
def zpopmax(ctx: Client, key: bytes, *rest: bytes) -> Reply:
    return _zpop(ctx, key, rest, True)


def _first_zset(ctx: Client, keys: Iterable[bytes]) -> tuple[bytes, ZSet] | None:
    for key in keys:
        z = ctx.db.lookup_write(key, ZSET)
        if z is not None:
            return key, z
    return None


def _ready_zset(client: Client, key: bytes) -> ZSet | None:
    state = client.blocked
    db = state.db if state is not None else client.db
    value = db.lookup_write(key)
    return value if type(value) is ZSet else None


def _bzpop(ctx: Client, args: tuple[bytes, ...], maximum: bool, name: str) -> Reply:
    timeout = blocking.parse_timeout(args[-1], ctx.server.now_ms())
    keys = args[:-1]
    twin = b"ZPOPMAX" if maximum else b"ZPOPMIN"
    found = _first_zset(ctx, keys)
    if found is not None:
        key, z = found
        blocking.propagate_as(ctx, [twin, key])
        m, s = pop_items(ctx, ctx.db, key, z, maximum, 1)[0]
        return [key, m, s]
    if not blocking.can_block(ctx):
        return NULL_ARRAY

    def serve(client: Client, key: bytes) -> Reply:
        z = _ready_zset(client, key)
        if z is None:
            return blocking.NOT_READY
        blocking.propagate_as(client, [twin, key])
        m, s = pop_items(client, blocking.blocked_db(client), key, z, maximum, 1)[0]
        return [key, m, s]

    blocking.block(ctx, keys, timeout, NULL_ARRAY, serve, name)
    return None


@command("bzpopmin", arity=-3, flags="write fast noscript blocking", keys=(1, -2, 1), acl="@sortedset", group="sorted_set",
         since="5.0.0", summary="Remove and return the member with the lowest score from one or more sorted sets, or block until one is available")
def bzpopmin(ctx: Client, *args: bytes) -> Reply:
    return _bzpop(ctx, args, False, "bzpopmin")


@command("bzpopmax", arity=-3, flags="write fast noscript blocking", keys=(1, -2, 1), acl="@sortedset", group="sorted_set",
         since="5.0.0", summary="Remove and return the member with the highest score from one or more sorted sets, or block until one is available")
def bzpopmax(ctx: Client, *args: bytes) -> Reply:
    return _bzpop(ctx, args, True, "bzpopmax")


def _mpop_reply(key: bytes, items: list[tuple[bytes, float]]) -> Reply:
    return [key, [[m, s] for m, s in items]]


@command("zmpop", arity=-4, flags="write", keys=(0, 0, 0), acl="@sortedset", group="sorted_set", since="7.0.0",
         summary="Remove and return members with scores in a sorted set", key_extractor=keys_after_numkeys)
def zmpop(ctx: Client, *args: bytes) -> Reply:
    keys, minimum, count = mpop(args, (b"min", b"max"))
    found = _first_zset(ctx, keys)
    if found is None:
        return NULL_ARRAY
    key, z = found
    return _mpop_reply(key, pop_items(ctx, ctx.db, key, z, not minimum, count))


@command("bzmpop", arity=-5, flags="write blocking", keys=(0, 0, 0), acl="@sortedset", group="sorted_set",
         since="7.0.0", summary="Remove and return members with scores in a sorted set or block until one is available",
         key_extractor=lambda argv: keys_after_numkeys(argv, 2))
def bzmpop(ctx: Client, raw_timeout: bytes, *args: bytes) -> Reply:
    timeout = blocking.parse_timeout(raw_timeout, ctx.server.now_ms())
    keys, minimum, count = mpop(args, (b"min", b"max"))
    twin = b"ZPOPMIN" if minimum else b"ZPOPMAX"
    found = _first_zset(ctx, keys)
    if found is not None:
        key, z = found
        blocking.propagate_as(ctx, [twin, key, b"%d" % count])
        return _mpop_reply(key, pop_items(ctx, ctx.db, key, z, not minimum, count))
    if not blocking.can_block(ctx):
        return NULL_ARRAY

    def serve(client: Client, key: bytes) -> Reply:
        z = _ready_zset(client, key)
        if z is None:
            return blocking.NOT_READY
        blocking.propagate_as(client, [twin, key, b"%d" % count])
        return _mpop_reply(key, pop_items(client, blocking.blocked_db(client), key, z, not minimum, count))

    blocking.block(ctx, keys, timeout, NULL_ARRAY, serve, "bzmpop")
    return None


# -- set algebra ------------------------------------------------------------------------------


def _input(db: Database, key: bytes, write: bool) -> dict[bytes, float] | None:
    value = db.lookup_write(key) if write else db.lookup_read(key)
    if value is None:
        return None
    if type(value) is ZSet:
        return value.dict
    if type(value) in SET:
        return dict.fromkeys(value, 1.0)
    raise WrongTypeError()


def _aggregate(op: str, a: float, b: float) -> float:
    if op == "sum":
        r = a + b
        return 0.0 if math.isnan(r) else r
    return min(a, b) if op == "min" else max(a, b)


def _setop(ctx: Client, kind: str, name: str, args: tuple[bytes, ...], store: bytes | None) -> Reply:
    numkeys = _numkeys(args[0], len(args) - 1, name)
    keys = args[1:1 + numkeys]
    opts = args[1 + numkeys:]
    db = ctx.db
    inputs = [_input(db, k, store is not None) for k in keys]  # WRONGTYPE before the options, as Redis
    weights = [1.0] * numkeys
    agg = "sum"
    withscores = False
    i = 0
    while i < len(opts):
        opt = opts[i].lower()
        left = len(opts) - 1 - i
        if kind != "diff" and opt == b"weights" and left >= numkeys:
            weights = [parse_float(w, "ERR weight value is not a float") for w in opts[i + 1:i + 1 + numkeys]]
            i += numkeys
        elif kind != "diff" and opt == b"aggregate" and left >= 1:
            a = opts[i + 1].lower()
            if a not in (b"sum", b"min", b"max"):
                raise CommandError(SYNTAX)
            agg = a.decode()
            i += 1
        elif opt == b"withscores" and store is None:
            withscores = True
        else:
            raise CommandError(SYNTAX)
        i += 1
    result: dict[bytes, float] = {}
    if kind == "union":
        for src, w in zip(inputs, weights, strict=True):
            if not src:
                continue
            for m, s in src.items():
                v = s * w
                if math.isnan(v):
                    v = 0.0
                old = result.get(m)
                result[m] = v if old is None else _aggregate(agg, old, v)
    elif kind == "inter":
        if all(src for src in inputs):
            order = sorted(range(numkeys), key=lambda j: len(inputs[j]))  # type: ignore[arg-type]
            first = order[0]
            for m, s in inputs[first].items():  # type: ignore[union-attr]
                v = s * weights[first]
                if math.isnan(v):
                    v = 0.0
                for j in order[1:]:
                    other = inputs[j].get(m)  # type: ignore[union-attr]
                    if other is None:
                        break
                    ov = other * weights[j]
                    if math.isnan(ov):
                        ov = 0.0
                    v = _aggregate(agg, v, ov)
                else:
                    result[m] = v
    else:
        first_src = inputs[0]
        if first_src:
            others = [src for src in inputs[1:] if src]
            result = {m: s for m, s in first_src.items() if not any(m in o for o in others)}
    out = ZSet()
    for m, s in result.items():
        out.add(m, s)
    if store is None:
        return _with_scores(ctx, list(out.index), withscores)
    server = ctx.server
    if out:
        db.set(store, out)
        server.notify("z", name, store, db.id)
    elif db.delete(store):
        server.notify("g", "del", store, db.id)
    server.dirty += 1
    return len(out)


def _numkeys_at(pos: int) -> Any:
    def extract(argv: list[bytes]) -> list[int]:
        keys = keys_after_numkeys(argv, pos)
        return ([1] if pos == 2 else []) + keys

    return extract


for _kind in ("union", "inter", "diff"):
    def _make(kind: str) -> None:
        def plain(ctx: Client, *args: bytes) -> Reply:
            return _setop(ctx, kind, f"z{kind}", args, None)

        def store(ctx: Client, dst: bytes, *args: bytes) -> Reply:
            return _setop(ctx, kind, f"z{kind}store", args, dst)

        plain.__name__ = f"z{kind}"
        store.__name__ = f"z{kind}store"
        command(f"z{kind}", arity=-3, flags="readonly", acl="@sortedset", group="sorted_set", since="6.2.0",
                summary=f"Compute the {kind} of multiple sorted sets", key_extractor=_numkeys_at(1))(plain)
        command(f"z{kind}store", arity=-4, flags="write denyoom", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
                since="2.0.0" if kind != "diff" else "6.2.0",
                summary=f"Compute the {kind} of multiple sorted sets and store the result in a key",
                key_extractor=_numkeys_at(2))(store)

    _make(_kind)


def zunionstore(ctx: Client, dst: bytes, *args: bytes) -> Reply:
    return _setop(ctx, "union", "zunionstore", args, dst)


@command("zintercard", arity=-3, flags="readonly", keys=(0, 0, 0), acl="@sortedset", group="sorted_set",
         since="7.0.0", summary="Intersect multiple sorted sets and return the cardinality of the result",
         key_extractor=keys_after_numkeys)
def zintercard(ctx: Client, numkeys: bytes, *rest: bytes) -> Reply:
    n = _numkeys(numkeys, len(rest), "zintercard")
    keys = rest[:n]
    # zunionInterDiffGenericCommand checks every key's type before it parses LIMIT.
    inputs = [_input(ctx.db, k, False) for k in keys]
    limit = intercard_limit(rest[n:])
    if not all(inputs):
        return 0
    ordered = sorted(inputs, key=len)  # type: ignore[arg-type]
    count = 0
    for m in ordered[0]:  # type: ignore[union-attr]
        if all(m in o for o in ordered[1:]):  # type: ignore[operator]
            count += 1
            if limit and count >= limit:
                break
    return count


# -- random and scan ---------------------------------------------------------------------------


@command("zrandmember", arity=-2, flags="readonly", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="6.2.0", summary="Get one or multiple random elements from a sorted set")
def zrandmember(ctx: Client, key: bytes, *rest: bytes) -> Reply:
    if not rest:
        z = ctx.db.lookup_read(key, ZSET)
        if z is None:
            return None
        return z.index[int(_rng.random() * len(z))][1]
    # zrandmemberCommand's order: the count (-LONG_MAX..LONG_MAX), then the syntax, then with
    # WITHSCORES a count within +-LONG_MAX/2 (C's division truncates toward zero).
    count = integer(rest[0])
    if count < -LLONG_MAX:
        raise CommandError(value_not_in_range(-LLONG_MAX, LLONG_MAX))
    withscores = False
    if len(rest) == 2 and rest[1].lower() == b"withscores":
        withscores = True
        if count < -(LLONG_MAX // 2) or count > LLONG_MAX // 2:
            raise CommandError(VALUE_OUT_OF_RANGE)
    elif len(rest) > 1:
        raise CommandError(SYNTAX)
    z = ctx.db.lookup_read(key, ZSET)
    if z is None or count == 0:
        return []
    idx = z.index
    n = len(idx)
    if count < 0:
        picks = [idx[int(_rng.random() * n)] for _ in range(-count)]
    elif count >= n:
        picks = list(idx)
    else:
        picks = [idx[i] for i in sorted(_rng.sample(range(n), count))]
        _rng.shuffle(picks)
    return _with_scores(ctx, picks, withscores)


@command("zscan", arity=-3, flags="readonly", keys=(1, 1, 1), acl="@sortedset", group="sorted_set",
         since="2.8.0", summary="Incrementally iterate sorted sets elements and associated scores")
def zscan(ctx: Client, key: bytes, cursor: bytes, *opts: bytes) -> Reply:
    """One call returns every member with its score and cursor 0, as Redis does for a
    listpack-encoded sorted set (a skiplist-encoded one is walked COUNT members per call,
    engine/collscan.py); scores are bulk strings in both protocols."""
    c = scan_cursor(cursor)
    scan = scan_options(opts, allow_type=False)
    pattern, count = scan.pattern, scan.count
    z = ctx.db.lookup_read(key, ZSET)
    if z is None:
        return [b"0", []]
    out: list[bytes] = []
    if encoding(z, ctx.server.config) == "skiplist":
        nxt, members = scan_step(ctx.server, z.dict, c, count)
        scores = z.dict
        for m in members:
            if pattern is None or glob_match(pattern, m):
                out.append(m)
                out.append(format_double(scores[m]))
        return [b"%d" % nxt, out]
    for s, m in z.index:
        if pattern is None or glob_match(pattern, m):
            out.append(m)
            out.append(format_double(s))
    return [b"0", out]

