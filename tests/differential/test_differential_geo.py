"""Geo: the engine against a real redis-server 7.0, reply by reply (raw RESP2 and RESP3).

Covers the 52-bit scores (compared exactly through ZSCORE), GEOPOS's human-readable doubles,
``%.4f`` distances in every unit, GEOHASH strings, radius and box searches from a member and
from coordinates (including the unsorted reply order, which is the order Redis visits the nine
cells), COUNT [ANY], ASC/DESC, WITH* options, the STORE forms and the error texts.  A
generated case adds 300 seeded random points and runs seeded random searches.
"""

from __future__ import annotations

import random

from tests.differential.harness import RawClient, compare


def _split(lines: str) -> list[list[str]]:
    return [line.split() for line in lines.strip().splitlines() if line.strip() and not line.startswith("#")]


GEO = _split("""
geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
geoadd Sicily 13.583333 37.316667 Agrigento 12.758489 38.788135 edge1 17.241510 38.788135 edge2
geoadd Sicily nx 13.361389 38.115556 Palermo 14 37 New
geoadd Sicily xx ch 13.361389 38.2 Palermo 1 1 Nope
geoadd Sicily nx xx 1 1 a
geoadd Sicily 1 1
geoadd Sicily 200 1 bad
geoadd Sicily 1 86 bad
geoadd Sicily abc 1 bad
zscore Sicily Palermo
zscore Sicily Catania
zrange Sicily 0 -1 withscores
geopos Sicily Palermo Catania nonexist
geopos nokey a
geodist Sicily Palermo Catania
geodist Sicily Palermo Catania km
geodist Sicily Palermo Catania mi
geodist Sicily Palermo Catania ft
geodist Sicily Palermo Catania furlong
geodist Sicily Palermo nonexist
geodist nokey a b
geodist Sicily Palermo Catania km extra
geohash Sicily Palermo Catania nonexist
geohash nokey a
georadius Sicily 15 37 200 km
georadius Sicily 15 37 200 km withdist
georadius Sicily 15 37 200 km withcoord withdist withhash
georadius Sicily 15 37 200 km count 1
georadius Sicily 15 37 200 km count 2 desc
georadius Sicily 15 37 200 km count 1 any
georadius Sicily 15 37 200 km any
georadius Sicily 15 37 200 km count 0
georadius Sicily 15 37 -1 km
georadius Sicily 15 37 abc km
georadius Sicily 15 37 200 parsec
georadius Sicily 15 37 200 km store dst
zrange dst 0 -1 withscores
georadius Sicily 15 37 200 km storedist dst2
zrange dst2 0 -1 withscores
georadius Sicily 15 37 200 km store dst withdist
georadius Sicily 15 37 1 m store dst
exists dst
georadius_ro Sicily 15 37 200 km store dst
georadius nokey 15 37 200 km
georadius nokey 15 37 200 km store dst2
exists dst2
georadiusbymember Sicily Agrigento 100 km
georadiusbymember Sicily Agrigento 100 km withdist asc
georadiusbymember Sicily nonexist 100 km
georadiusbymember nokey nonexist 100 km
georadiusbymember_ro Sicily Agrigento 100 km desc withcoord
geosearch Sicily frommember Palermo byradius 200 km
geosearch Sicily fromlonlat 15 37 byradius 200 km asc withdist
geosearch Sicily fromlonlat 15 37 bybox 400 400 km asc withcoord withdist
geosearch Sicily fromlonlat 15 37 bybox 400 400 km
geosearch Sicily fromlonlat 15 37 bybox 100 100 km desc count 1
geosearch Sicily frommember Palermo fromlonlat 15 37 byradius 200 km
geosearch Sicily frommember Palermo byradius 200 km bybox 1 1 km
geosearch Sicily byradius 200 km
geosearch Sicily frommember Palermo
geosearch Sicily frommember nonexist byradius 10 km
geosearch Sicily fromlonlat 15 37 bybox -1 1 km
geosearch Sicily fromlonlat 15 37 bybox a 1 km
geosearch Sicily frommember Palermo byradius 200 km store dst
geosearch nokey frommember Palermo byradius 200 km
geosearchstore dst Sicily frommember Palermo byradius 200 km
zrange dst 0 -1 withscores
geosearchstore dst Sicily frommember Palermo byradius 200 km storedist
zrange dst 0 -1 withscores
geosearchstore dst Sicily frommember Palermo byradius 200 km withdist
geosearchstore dst nokey frommember Palermo byradius 200 km
exists dst
set str x
geoadd str 1 1 a
geopos str a
geosearch str fromlonlat 1 1 byradius 1 km
""")


def test_geo(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, GEO)


def test_geo_generated(raw_pair: tuple[RawClient, RawClient]) -> None:
    """300 seeded random points around one city and 40 seeded searches of every shape, at radii
    from metres to thousands of km (where the nine cells overlap and repeats are skipped)."""
    rng = random.Random(13)
    commands: list[list[str]] = []
    for i in range(0, 300, 50):
        cmd = ["geoadd", "pts"]
        for j in range(i, i + 50):
            cmd += [f"{rng.uniform(-10, 30):.6f}", f"{rng.uniform(30, 60):.6f}", f"p{j}"]
        commands.append(cmd)
    for _ in range(40):
        lon, lat = f"{rng.uniform(-10, 30):.5f}", f"{rng.uniform(30, 60):.5f}"
        radius = str(rng.choice([1, 50, 300, 1000, 5000]))
        unit = rng.choice(["m", "km", "mi", "ft"])
        if unit in ("m", "ft"):
            radius = str(int(radius) * 1000)
        shape = rng.choice([["byradius", radius, unit], ["bybox", radius, str(rng.choice([1, 200, 3000])), unit]])
        extra = rng.choice([[], ["asc"], ["desc", "count", "5"], ["count", "3", "any"], ["withdist", "withhash"]])
        commands.append(["geosearch", "pts", "fromlonlat", lon, lat, *shape, *extra])
        commands.append(["geosearch", "pts", "frommember", f"p{rng.randrange(300)}", *shape, *extra])
    compare(*raw_pair, commands)


# Found by the differential fuzz (tests/differential/fuzz.py): an infinite radius or box side
# searches the whole world (C's cos(inf) is NaN where Python's raises), and GEOSEARCH's "exactly
# one of" errors name the command as the client sent it (upper-case from client libraries).
INFINITE = _split("""
geoadd g 13.361389 38.115556 a 15.087269 37.502669 b 2.35 48.85 c -122.4 37.7 d 0 0 e
geoadd g 180 85.05112878 f -180 -85.05112878 h
georadiusbymember_ro g c inf m
georadius g 15 37 inf m asc
geosearch g fromlonlat 15 37 bybox inf 1 m
geosearch g fromlonlat 15 37 bybox inf inf m withdist
geosearch g frommember h byradius inf km withdist count 3
geosearch g fromlonlat 15 37 byradius 1e308 m
GEOSEARCH g BYRADIUS 1 km ASC WITHDIST
GEOSEARCH g FROMLONLAT 1 1 ASC WITHDIST
GEOSEARCHSTORE d g FROMLONLAT 1 1 ASC COUNT 1
""")


def test_infinite_radius_and_error_names(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, INFINITE)


# Found by the differential fuzz: a member whose score is not a geohash (stored with ZADD:
# infinite, huge, negative) decodes as C's (uint64_t) cast makes it, not an internal error.
ODD_SCORES = _split("""
zadd g +inf c -inf d 1e20 e -1e20 f 4503599627370496 h -5 i
geoadd g 15 37 a
geopos g c d e f h i a
geohash g c d e f h i a
geodist g c a km
geodist g d e
georadiusbymember_ro g c 200 bad
georadiusbymember g c 200 km withcoord
georadiusbymember g d 20000 km withcoord withhash
geosearch g frommember e byradius 100 km withdist
geosearch g frommember i bybox 100 100 km withdist
""")


def test_members_with_non_geohash_scores(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, ODD_SCORES)
