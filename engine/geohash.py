"""Redis's geohash (geohash.c, geohash_helper.c): 52-bit interleaved cells and the search areas.

A position is stored as a sorted-set score: latitude (in -85.05112878..85.05112878, the
Web-Mercator range) and longitude (-180..180) are each scaled to 26 bits and interleaved,
latitude in the even bits.  A radius or box search covers the query with the cell holding the
centre and its eight neighbours at a step chosen from the radius, then filters by distance;
the order in which those cells are visited is the order of an unsorted GEOSEARCH reply, so it
is reproduced exactly.  Distances use Redis's haversine on a sphere of 6372797.560856 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "LONG_MIN", "LONG_MAX", "LAT_MIN", "LAT_MAX", "STEP_MAX",
    "encode", "decode", "score_of", "position_of", "distance", "lat_distance", "search_cells",
    "geohash_string", "Shape",
]

LONG_MIN, LONG_MAX = -180.0, 180.0
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
STEP_MAX = 26
EARTH_RADIUS_IN_METERS = 6372797.560856
MERCATOR_MAX = 20037726.37
_D_R = math.pi / 180.0
_M64 = (1 << 64) - 1
_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def _spread(v: int) -> int:
    """The 32 bits of ``v`` moved to the even bit positions (interleave64's magic numbers)."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    v = (v | (v << 1)) & 0x5555555555555555
    return v


def _squash(v: int) -> int:
    """Inverse of :func:`_spread`: the even bits of ``v`` packed into 32 bits."""
    v &= 0x5555555555555555
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    v = (v | (v >> 16)) & 0x00000000FFFFFFFF
    return v


def encode(lon: float, lat: float, step: int = STEP_MAX, lat_range: tuple[float, float] = (LAT_MIN, LAT_MAX),
           lon_range: tuple[float, float] = (LONG_MIN, LONG_MAX)) -> int | None:
    """geohashEncode: the ``2*step``-bit cell of (lon, lat), or None outside the ranges."""
    if lon > LONG_MAX or lon < LONG_MIN or lat > LAT_MAX or lat < LAT_MIN:
        return None
    if not (lat_range[0] <= lat <= lat_range[1] and lon_range[0] <= lon <= lon_range[1]):
        return None
    lat_offset = (lat - lat_range[0]) / (lat_range[1] - lat_range[0]) * (1 << step)
    lon_offset = (lon - lon_range[0]) / (lon_range[1] - lon_range[0]) * (1 << step)
    return _spread(int(lat_offset)) | (_spread(int(lon_offset)) << 1)


def decode(bits: int, step: int = STEP_MAX) -> tuple[float, float, float, float]:
    """geohashDecode: the cell's (lon_min, lon_max, lat_min, lat_max)."""
    ilat = _squash(bits)
    ilon = _squash(bits >> 1)
    lat_scale = LAT_MAX - LAT_MIN
    lon_scale = LONG_MAX - LONG_MIN
    div = float(1 << step)
    return (
        LONG_MIN + (ilon * 1.0 / div) * lon_scale,
        LONG_MIN + ((ilon + 1) * 1.0 / div) * lon_scale,
        LAT_MIN + (ilat * 1.0 / div) * lat_scale,
        LAT_MIN + ((ilat + 1) * 1.0 / div) * lat_scale,
    )


def _c_uint64(x: float) -> int:
    """``(uint64_t)x`` as gcc compiles it on x86-64 (decodeGeohash's cast): below 2^63 a signed
    conversion, else 2^63 is subtracted first and put back; what does not fit (an infinite score
    a client stored with ZADD) gives the indefinite integer 0x8000000000000000."""
    if x < 9223372036854775808.0:
        return int(x) & _M64 if x >= -9223372036854775808.0 else 1 << 63
    y = x - 9223372036854775808.0
    return (int(y) if y < 9223372036854775808.0 else 1 << 63) ^ (1 << 63)


def position_of(score: float) -> tuple[float, float]:
    """decodeGeohash: the (lon, lat) a sorted-set score stands for (the centre of its cell)."""
    bits = _c_uint64(score)
    lon_min, lon_max, lat_min, lat_max = decode(bits)
    lon = min(max((lon_min + lon_max) / 2, LONG_MIN), LONG_MAX)
    lat = min(max((lat_min + lat_max) / 2, LAT_MIN), LAT_MAX)
    return lon, lat


def score_of(lon: float, lat: float) -> int:
    """The GEOADD score: the 52-bit cell (geohashAlign52Bits at step 26)."""
    bits = encode(lon, lat)
    assert bits is not None
    return bits


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS_IN_METERS * abs(lat2 * _D_R - lat1 * _D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """geohashGetDistance: haversine, with the same-longitude shortcut of Redis 7."""
    lon1r = lon1 * _D_R
    lon2r = lon2 * _D_R
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = lat1 * _D_R
    lat2r = lat2 * _D_R
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * math.asin(math.sqrt(a))


def geohash_string(score: float) -> bytes:
    """GEOHASH: the position re-encoded on the standard -90..90 latitude range, 11 characters."""
    lon, lat = position_of(score)
    bits = encode(lon, lat, STEP_MAX, (-90.0, 90.0), (-180.0, 180.0)) or 0
    out = bytearray()
    for i in range(11):
        idx = 0 if i == 10 else (bits >> (52 - (i + 1) * 5)) & 0x1F
        out.append(_ALPHABET[idx])
    return bytes(out)


@dataclass
class Shape:
    """GeoShape: a circle (radius) or a box (width, height) around (lon, lat), in the
    request's unit; ``conversion`` turns that unit into metres."""

    lon: float
    lat: float
    conversion: float
    radius: float = 0.0
    width: float = 0.0
    height: float = 0.0
    box: bool = False

    def contains(self, lon: float, lat: float) -> float | None:
        """geoWithinShape: the distance in metres when (lon, lat) is inside, else None."""
        if not self.box:
            d = distance(self.lon, self.lat, lon, lat)
            return d if d <= self.radius * self.conversion else None
        if lat_distance(lat, self.lat) > self.height * self.conversion / 2:
            return None
        if distance(lon, lat, self.lon, lat) > self.width * self.conversion / 2:
            return None
        return distance(self.lon, self.lat, lon, lat)


def _estimate_steps(range_meters: float, lat: float) -> int:
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return max(1, min(26, step))


def _move_x(bits: int, step: int, d: int) -> int:
    x = bits & 0xAAAAAAAAAAAAAAAA
    y = bits & 0x5555555555555555
    zz = 0x5555555555555555 >> (64 - step * 2)
    if d > 0:
        x = x + (zz + 1)
    else:
        x = x | zz
        x = x - (zz + 1)
    x &= 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
    return (x | y) & _M64


def _move_y(bits: int, step: int, d: int) -> int:
    x = bits & 0xAAAAAAAAAAAAAAAA
    y = bits & 0x5555555555555555
    zz = 0xAAAAAAAAAAAAAAAA >> (64 - step * 2)
    if d > 0:
        y = y + (zz + 1)
    else:
        y = y | zz
        y = y - (zz + 1)
    y &= 0x5555555555555555 >> (64 - step * 2)
    return (x | y) & _M64


def _neighbors(bits: int, step: int) -> dict[str, int]:
    """geohashNeighbors."""
    def mv(dx: int, dy: int) -> int:
        b = bits
        if dx:
            b = _move_x(b, step, dx)
        if dy:
            b = _move_y(b, step, dy)
        return b

    return {
        "north": mv(0, 1), "south": mv(0, -1), "east": mv(1, 0), "west": mv(-1, 0),
        "north_east": mv(1, 1), "north_west": mv(-1, 1), "south_east": mv(1, -1), "south_west": mv(-1, -1),
    }


def _cos(x: float) -> float:
    """C's cos: NaN for an infinite angle (an ``inf`` radius), where math.cos raises."""
    return math.cos(x) if math.isfinite(x) else math.nan


def _bounding_box(shape: Shape) -> tuple[float, float, float, float]:
    """geohashBoundingBox: (min_lon, min_lat, max_lon, max_lat)."""
    height = shape.conversion * (shape.height / 2 if shape.box else shape.radius)
    width = shape.conversion * (shape.width / 2 if shape.box else shape.radius)
    lat_delta = math.degrees(height / EARTH_RADIUS_IN_METERS)
    long_delta_top = math.degrees(width / EARTH_RADIUS_IN_METERS / _cos((shape.lat + lat_delta) * _D_R))
    long_delta_bottom = math.degrees(width / EARTH_RADIUS_IN_METERS / _cos((shape.lat - lat_delta) * _D_R))
    south = shape.lat < 0
    min_lon = shape.lon - long_delta_bottom if south else shape.lon - long_delta_top
    max_lon = shape.lon + long_delta_bottom if south else shape.lon + long_delta_top
    return min_lon, shape.lat - lat_delta, max_lon, shape.lat + lat_delta


def search_cells(shape: Shape) -> list[tuple[int, int]]:
    """geohashCalculateAreasByShapeWGS84 + membersOfAllNeighbors: the score ranges
    ``[min, max)`` to scan, in Redis's visiting order (centre, N, S, E, W, NE, NW, SE, SW),
    with useless and repeated cells dropped as Redis drops them."""
    min_lon, min_lat, max_lon, max_lat = _bounding_box(shape)
    if shape.box:
        radius_m = math.sqrt((shape.width / 2) ** 2 + (shape.height / 2) ** 2)
    else:
        radius_m = shape.radius
    radius_m *= shape.conversion
    steps = _estimate_steps(radius_m, shape.lat)
    bits = encode(shape.lon, shape.lat, steps) or 0
    nb = _neighbors(bits, steps)
    north = decode(nb["north"], steps)
    south = decode(nb["south"], steps)
    east = decode(nb["east"], steps)
    west = decode(nb["west"], steps)
    decrease = north[3] < max_lat or south[2] > min_lat or east[1] < max_lon or west[0] > min_lon
    if steps > 1 and decrease:
        steps -= 1
        bits = encode(shape.lon, shape.lat, steps) or 0
        nb = _neighbors(bits, steps)
    area = decode(bits, steps)
    zero: set[str] = set()
    if steps >= 2:
        if area[2] < min_lat:
            zero |= {"south", "south_west", "south_east"}
        if area[3] > max_lat:
            zero |= {"north", "north_east", "north_west"}
        if area[0] < min_lon:
            zero |= {"west", "south_west", "north_west"}
        if area[1] > max_lon:
            zero |= {"east", "south_east", "north_east"}
    order = ["north", "south", "east", "west", "north_east", "north_west", "south_east", "south_west"]
    cells: list[tuple[int, int] | None] = [(bits, steps)]
    cells += [None if name in zero else (nb[name], steps) for name in order]
    out: list[tuple[int, int]] = []
    last_processed = 0  # as in Redis, a repeat of the centre cell (index 0) is not skipped
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        if last_processed and cell == cells[last_processed]:
            continue
        shift = 52 - cell[1] * 2
        out.append((cell[0] << shift, (cell[0] + 1) << shift))
        last_processed = i
    return out
