"""Geo commands (geo.c): GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH[STORE], GEORADIUS*.

Positions live in an ordinary sorted set whose scores are 52-bit geohashes
(engine/geohash.py), so ZRANGE, ZREM and friends work on them as in Redis.  Argument parsing,
replies (``%.4f`` distances, GEOPOS's human-readable doubles, the unsorted reply order of the
searched cells) and error texts follow georadiusGeneric and friends in Redis 7.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import geohash
from engine.args import count_option, leading_flags, parse_float
from engine.client import Client
from engine.commands.zsets import _check_skiplist, _zadd
from engine.errors import (
    NEED_NUMERIC_RADIUS,
    RADIUS_NEGATIVE,
    SYNTAX,
    CommandError,
    TypedNameError,
)
from engine.objects import ZSET, ZSet
from engine.protocol import NULL_ARRAY, DoubleText, Reply
from engine.table import command

__all__ = ["geoadd", "geopos", "geodist", "geohash_cmd", "geosearch", "geosearchstore", "georadius",
           "georadiusbymember", "georadius_ro", "georadiusbymember_ro"]

_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}

RADIUS_COORDS = 1
RADIUS_MEMBER = 2
RADIUS_NOSTORE = 4
GEOSEARCH = 8
GEOSEARCHSTORE = 16


def _human(d: float) -> DoubleText:
    """ld2string(LD_STR_HUMAN): ``%.17Lf`` with trailing zeros removed."""
    s = b"%.17f" % d
    if b"." in s:
        s = s.rstrip(b"0").rstrip(b".")
    if s == b"-0":
        s = b"0"
    return DoubleText(s)


def _dist(d: float) -> bytes:
    return b"%.4f" % d


def _lonlat(raw_lon: bytes, raw_lat: bytes) -> tuple[float, float]:
    """extractLongLatOrReply."""
    lon = parse_float(raw_lon)
    lat = parse_float(raw_lat)
    if not (geohash.LONG_MIN <= lon <= geohash.LONG_MAX and geohash.LAT_MIN <= lat <= geohash.LAT_MAX):
        raise CommandError(f"ERR invalid longitude,latitude pair {lon:f},{lat:f}")
    return lon, lat


def _unit(raw: bytes) -> float:
    u = _UNITS.get(raw.lower())
    if u is None:
        raise CommandError("ERR unsupported unit provided. please use M, KM, FT, MI")
    return u


_GEOADD_FLAGS = frozenset((b"nx", b"xx", b"ch"))


@command("geoadd", arity=-5, flags="write denyoom", keys=(1, 1, 1), acl="@geo", group="geo", since="3.2.0",
         summary="Add one or more geospatial items in the geospatial index represented using a sorted set")
def geoadd(ctx: Client, key: bytes, *args: bytes) -> Reply:
    if len(args) == 3 and args[0].lower() not in _GEOADD_FLAGS:
        return _geoadd_one(ctx, key, *args)  # one place, no flags: what leading_flags would find
    flags, i = leading_flags(args, _GEOADD_FLAGS)
    opts = args[:i]
    rest = args[i:]
    if len(rest) % 3 or (b"nx" in flags and b"xx" in flags):
        raise CommandError(SYNTAX)
    if not opts and len(rest) == 3:
        return _geoadd_one(ctx, key, *rest)
    zargs: list[bytes] = list(opts)
    for j in range(0, len(rest), 3):
        lon, lat = _lonlat(rest[j], rest[j + 1])
        zargs += [b"%d" % geohash.score_of(lon, lat), rest[j + 2]]
    return _zadd(ctx, key, tuple(zargs), incr_only=False)


#: (longitude text, latitude text) -> geohash score of the coordinates GEOADD parsed cleanly:
#: places are re-added with the same coordinates (a fleet's depots, a shop's branches), and the
#: parse and interleave are most of GEOADD's own work.  Emptied when it reaches its bound.
_SCORES: dict[tuple[bytes, bytes], float] = {}
_SCORES_MAX = 4096


def _geoadd_one(ctx: Client, key: bytes, raw_lon: bytes, raw_lat: bytes, member: bytes) -> Reply:
    """GEOADD key lon lat member, the common form: what ZADD does for one new score, without
    formatting the score and parsing it back."""
    score = _SCORES.get((raw_lon, raw_lat))
    if score is None:
        lon, lat = _lonlat(raw_lon, raw_lat)
        score = float(geohash.score_of(lon, lat))
        if len(_SCORES) >= _SCORES_MAX:
            _SCORES.clear()
        _SCORES[(raw_lon, raw_lat)] = score
    db = ctx.db
    server = ctx.server
    z = db.lookup_write(key, ZSET)
    created = z is None
    if created:
        z = ZSet()
        db.add(key, z)
    cur = z.dict.get(member)
    if cur == score:
        return 0
    if cur is None:  # ZSet.add's new-member case, its lookup already made
        z.dict[member] = score
        z.index.add((score, member))
        if not z.skiplist:
            _check_skiplist(server.config, z, (b"", member))
    else:
        z.add(member, score)
    server.dirty += 1
    if created:
        db.set(key, z, keep_ttl=True)  # signalModifiedKey and the LRU stamp, inline there
    else:  # the set stored there changed in place: lookup_write stamped it, signal it
        db.signal_modified(key)
    if server.notify_flags:
        server.notify("z", "zadd", key, db.id)
    return 1 if cur is None else 0


@command("geopos", arity=-2, flags="readonly", keys=(1, 1, 1), acl="@geo", group="geo", since="3.2.0",
         summary="Returns longitude and latitude of members of a geospatial index")
def geopos(ctx: Client, key: bytes, *members: bytes) -> Reply:
    z = ctx.db.lookup_read(key, ZSET)
    out: list[Any] = []
    for m in members:
        score = z.score(m) if z is not None else None
        if score is None:
            out.append(NULL_ARRAY)
            continue
        lon, lat = geohash.position_of(score)
        out.append([_human(lon), _human(lat)])
    return out


@command("geodist", arity=-4, flags="readonly", keys=(1, 1, 1), acl="@geo", group="geo", since="3.2.0",
         summary="Returns the distance between two members of a geospatial index")
def geodist(ctx: Client, key: bytes, m1: bytes, m2: bytes, *unit: bytes) -> Reply:
    to_meter = 1.0
    if len(unit) == 1:
        to_meter = _unit(unit[0])
    elif len(unit) > 1:
        raise CommandError(SYNTAX)
    z = ctx.db.lookup_read(key, ZSET)
    if z is None:
        return None
    s1, s2 = z.score(m1), z.score(m2)
    if s1 is None or s2 is None:
        return None
    a = geohash.position_of(s1)
    b = geohash.position_of(s2)
    return _dist(geohash.distance(a[0], a[1], b[0], b[1]) / to_meter)


@command("geohash", arity=-2, flags="readonly", keys=(1, 1, 1), acl="@geo", group="geo", since="3.2.0",
         summary="Returns members of a geospatial index as standard geohash strings")
def geohash_cmd(ctx: Client, key: bytes, *members: bytes) -> Reply:
    z = ctx.db.lookup_read(key, ZSET)
    out: list[Any] = []
    for m in members:
        score = z.score(m) if z is not None else None
        out.append(None if score is None else geohash.geohash_string(score))
    return out


def _member_position(z: ZSet, member: bytes) -> tuple[float, float]:
    score = z.score(member)
    if score is None:
        raise CommandError("ERR could not decode requested zset member")
    return geohash.position_of(score)


@dataclass
class _Options:
    """What georadiusGeneric reads from the options of GEORADIUS*, GEOSEARCH and GEOSEARCHSTORE."""

    storekey: bytes | None = None
    storedist: bool = False
    withdist: bool = False
    withhash: bool = False
    withcoord: bool = False
    any_: bool = False
    sort: int = 0  # 1 ASC, -1 DESC, 0 unsorted
    count: int = 0
    frommember: bool = False
    fromloc: bool = False
    byradius: bool = False
    bybox: bool = False


def _parse_options(args: tuple[bytes, ...], flags: int, z: ZSet | None, shape: geohash.Shape,
                   storekey: bytes | None) -> _Options:
    """georadiusGeneric's option loop, one for all the commands: FROMMEMBER/FROMLONLAT,
    BYRADIUS/BYBOX and STOREDIST after the key are GEOSEARCH's (they fill ``shape``); STORE and
    STOREDIST with a key are GEORADIUS's (not its _RO forms)."""
    o = _Options(storekey=storekey)
    i = 0
    n = len(args)
    while i < n:
        low = args[i].lower()
        rem = n - i - 1
        if low == b"withdist":
            o.withdist = True
        elif low == b"withhash":
            o.withhash = True
        elif low == b"withcoord":
            o.withcoord = True
        elif low == b"any":
            o.any_ = True
        elif low == b"asc":
            o.sort = 1
        elif low == b"desc":
            o.sort = -1
        elif low == b"count" and rem >= 1:
            o.count = count_option(args[i + 1])
            i += 1
        elif low in (b"store", b"storedist") and rem >= 1 and not flags & (RADIUS_NOSTORE | GEOSEARCH):
            o.storekey = args[i + 1]
            o.storedist = low == b"storedist"
            i += 1
        elif low == b"storedist" and flags & GEOSEARCH and flags & GEOSEARCHSTORE:
            o.storedist = True
        elif low == b"frommember" and rem >= 1 and flags & GEOSEARCH and not o.fromloc:
            if z is not None:
                shape.lon, shape.lat = _member_position(z, args[i + 1])
            o.frommember = True
            i += 1
        elif low == b"fromlonlat" and rem >= 2 and flags & GEOSEARCH and not o.frommember:
            shape.lon, shape.lat = _lonlat(args[i + 1], args[i + 2])
            o.fromloc = True
            i += 2
        elif low == b"byradius" and rem >= 2 and flags & GEOSEARCH and not o.bybox:
            shape.radius = parse_float(args[i + 1], NEED_NUMERIC_RADIUS)
            if shape.radius < 0:
                raise CommandError(RADIUS_NEGATIVE)
            shape.conversion = _unit(args[i + 2])
            o.byradius = True
            i += 2
        elif low == b"bybox" and rem >= 3 and flags & GEOSEARCH and not o.byradius:
            shape.width = parse_float(args[i + 1], "ERR need numeric width")
            shape.height = parse_float(args[i + 2], "ERR need numeric height")
            if shape.width < 0 or shape.height < 0:
                raise CommandError("ERR height or width cannot be negative")
            shape.conversion = _unit(args[i + 3])
            shape.box = True
            o.bybox = True
            i += 3
        else:
            raise CommandError(SYNTAX)
        i += 1
    if not flags & GEOSEARCH:  # GEORADIUS*: the centre and the radius are fixed arguments
        o.fromloc = o.byradius = True
    return o


def _search(ctx: Client, name: str, args: tuple[bytes, ...], src: bytes, flags: int,
            storekey: bytes | None) -> Reply:
    """GEOSEARCH / GEOSEARCHSTORE; ``args`` are the arguments after the key(s)."""
    z = ctx.db.lookup_read(src, ZSET)
    shape = geohash.Shape(0.0, 0.0, 1.0)
    return _run_search(ctx, name, z, shape, flags, _parse_options(args, flags, z, shape, storekey))


def _run_search(ctx: Client, name: str, z: ZSet | None, shape: geohash.Shape, flags: int, o: _Options) -> Reply:
    db = ctx.db
    server = ctx.server
    storekey, storedist, sort, count, any_ = o.storekey, o.storedist, o.sort, o.count, o.any_
    withdist, withhash, withcoord = o.withdist, o.withhash, o.withcoord
    has_from, has_by = o.frommember or o.fromloc, o.byradius or o.bybox
    if storekey is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if flags & GEOSEARCHSTORE else "STORE option in GEORADIUS"
        raise CommandError(f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    # Redis names the command as the client typed it (argv[0]).
    if flags & GEOSEARCH and not has_from:
        raise TypedNameError("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {argv0}")
    if flags & GEOSEARCH and not has_by:
        raise TypedNameError("ERR exactly one of BYRADIUS and BYBOX can be specified for {argv0}")
    if any_ and not count:
        raise CommandError("ERR the ANY argument requires COUNT argument")
    if z is None:
        if storekey is not None:
            if db.delete(storekey):
                server.notify("g", "del", storekey, db.id)
                server.dirty += 1
            return 0
        return []
    if count and not sort and not any_:
        sort = 1
    limit = count if any_ else 0
    found: list[tuple[float, bytes, float, float, float]] = []  # dist, member, score, lon, lat
    for lo, hi in geohash.search_cells(shape):
        if found and limit and len(found) >= limit:
            break
        for score, member in z.index.irange((float(lo),), (float(hi),), inclusive=(True, False)):
            lon, lat = geohash.position_of(score)
            d = shape.contains(lon, lat)
            if d is None:
                continue
            found.append((d, member, score, lon, lat))
            if limit and len(found) >= limit:
                break
    if sort:
        found.sort(key=lambda t: t[0], reverse=sort < 0)
    if count:
        found = found[:count]
    if storekey is None:
        out: list[Any] = []
        for d, member, score, lon, lat in found:
            if not (withdist or withhash or withcoord):
                out.append(member)
                continue
            item: list[Any] = [member]
            if withdist:
                item.append(_dist(d / shape.conversion))
            if withhash:
                item.append(int(score))
            if withcoord:
                item.append([_human(lon), _human(lat)])
            out.append(item)
        return out
    if found:
        dst = ZSet()
        pairs: list[bytes] = []
        for d, member, score, _, _ in found:
            dst.add(member, d / shape.conversion if storedist else score)
            pairs += [b"", member]
        _check_skiplist(server.config, dst, tuple(pairs))
        db.set(storekey, dst)
        server.notify("z", "geosearchstore" if flags & GEOSEARCH else "georadiusstore", storekey, db.id)
        server.dirty += len(found)
    elif db.delete(storekey):
        server.notify("g", "del", storekey, db.id)
        server.dirty += 1
    return len(found)


def _radius(ctx: Client, name: str, key: bytes, fixed: tuple[bytes, ...], args: tuple[bytes, ...], flags: int
            ) -> Reply:
    """GEORADIUS / GEORADIUSBYMEMBER: the centre and radius come first."""
    z = ctx.db.lookup_read(key, ZSET)
    shape = geohash.Shape(0.0, 0.0, 1.0)
    if flags & RADIUS_COORDS:
        shape.lon, shape.lat = _lonlat(fixed[0], fixed[1])
        radius_raw, unit_raw = fixed[2], fixed[3]
    else:
        radius_raw, unit_raw = fixed[1], fixed[2]
    if not (flags & RADIUS_MEMBER and z is None):  # no key: parse the options, then reply empty
        if flags & RADIUS_MEMBER:
            assert z is not None
            shape.lon, shape.lat = _member_position(z, fixed[0])
        shape.radius = parse_float(radius_raw, NEED_NUMERIC_RADIUS)
        if shape.radius < 0:
            raise CommandError(RADIUS_NEGATIVE)
        shape.conversion = _unit(unit_raw)
    return _run_search(ctx, name, z, shape, flags, _parse_options(args, flags, z, shape, None))


def _radius_keys(argv: list[bytes]) -> list[int]:
    """The source key and, after STORE/STOREDIST, the destination (georadiusGetKeys)."""
    keys = [1]
    for i in range(2, len(argv) - 1):
        if argv[i].lower() in (b"store", b"storedist"):
            keys.append(i + 1)
            break
    return keys


@command("geosearch", arity=-7, flags="readonly", keys=(1, 1, 1), acl="@geo", group="geo", since="6.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members inside an area of a box or a "
                 "circle.")
def geosearch(ctx: Client, key: bytes, *args: bytes) -> Reply:
    return _search(ctx, "geosearch", args, key, GEOSEARCH, None)


@command("geosearchstore", arity=-8, flags="write denyoom", keys=(1, 2, 1), acl="@geo", group="geo", since="6.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members inside an area of a box or a "
                 "circle, and store the result in another key.")
def geosearchstore(ctx: Client, dst: bytes, src: bytes, *args: bytes) -> Reply:
    return _search(ctx, "geosearchstore", args, src, GEOSEARCH | GEOSEARCHSTORE, dst)


@command("georadius", arity=-6, flags="write denyoom", keys=(1, 1, 1), acl="@geo", group="geo", since="3.2.0",
         key_extractor=_radius_keys,
         summary="Query a sorted set representing a geospatial index to fetch members matching a given maximum "
                 "distance from a point")
def georadius(ctx: Client, key: bytes, lon: bytes, lat: bytes, radius: bytes, unit: bytes, *args: bytes) -> Reply:
    return _radius(ctx, "georadius", key, (lon, lat, radius, unit), args, RADIUS_COORDS)


@command("georadius_ro", arity=-6, flags="readonly", keys=(1, 1, 1), acl="@geo", group="geo", since="3.2.10",
         summary="A read-only variant for GEORADIUS")
def georadius_ro(ctx: Client, key: bytes, lon: bytes, lat: bytes, radius: bytes, unit: bytes, *args: bytes) -> Reply:
    return _radius(ctx, "georadius_ro", key, (lon, lat, radius, unit), args, RADIUS_COORDS | RADIUS_NOSTORE)


@command("georadiusbymember", arity=-5, flags="write denyoom", keys=(1, 1, 1), acl="@geo", group="geo",
         since="3.2.0", key_extractor=_radius_keys,
         summary="Query a sorted set representing a geospatial index to fetch members matching a given maximum "
                 "distance from a member")
def georadiusbymember(ctx: Client, key: bytes, member: bytes, radius: bytes, unit: bytes, *args: bytes) -> Reply:
    return _radius(ctx, "georadiusbymember", key, (member, radius, unit), args, RADIUS_MEMBER)


@command("georadiusbymember_ro", arity=-5, flags="readonly", keys=(1, 1, 1), acl="@geo", group="geo",
         since="3.2.10", summary="A read-only variant for GEORADIUSBYMEMBER")
def georadiusbymember_ro(ctx: Client, key: bytes, member: bytes, radius: bytes, unit: bytes, *args: bytes) -> Reply:
    return _radius(ctx, "georadiusbymember_ro", key, (member, radius, unit), args, RADIUS_MEMBER | RADIUS_NOSTORE)
