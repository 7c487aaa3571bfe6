"""Redis's argument parsers and glob matcher (util.c), with its exact acceptance rules.

Python's ``int()`` and ``float()`` accept spaces, underscores and ``+`` signs that Redis
rejects, so arguments are parsed here instead: :func:`parse_int` is ``string2ll``,
:func:`parse_float` is ``getDoubleFromObject``/``strtod`` without spaces or ``nan``, and
:func:`glob_match` is ``stringmatchlen`` (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET, ACL).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from engine.errors import NOT_FLOAT, CommandError
from engine.glob import stringmatch

__all__ = ["parse_int", "parse_float", "glob_match", "compile_glob", "LLONG_MIN", "LLONG_MAX"]

LLONG_MIN = -(1 << 63)
LLONG_MAX = (1 << 63) - 1
_INT_RE = re.compile(rb"-?[1-9][0-9]{0,19}|0")
_FLOAT_RE = re.compile(rb"[+-]?(?:inf|infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)", re.I)


def parse_int(data: bytes | bytearray) -> int | None:
    """string2ll: a canonical signed 64-bit decimal, else None."""
    if _INT_RE.fullmatch(data) is None:
        return None
    n = int(data)
    return n if LLONG_MIN <= n <= LLONG_MAX else None


def parse_float(data: bytes | bytearray, error: str = NOT_FLOAT, strict_range: bool = True) -> float:
    """A double as Redis accepts it (strtod, no spaces, no NaN).  With ``strict_range``, as
    getDoubleFromObject: an overflow (``1e309``) or an underflow to zero (``1e-400``) is an
    error (strtod's ERANGE), while ``inf`` spelled out is accepted."""
    if not data or _FLOAT_RE.fullmatch(data) is None:
        raise CommandError(error)
    value = float(data)
    if math.isnan(value):
        raise CommandError(error)
    if strict_range:
        if math.isinf(value) and b"n" not in data.lower():
            raise CommandError(error)
        if value == 0.0 and any(48 < c <= 57 for c in data.lower().split(b"e")[0]):
            raise CommandError(error)
    return value


@lru_cache(maxsize=1024)
def compile_glob(pattern: bytes, nocase: bool = False) -> re.Pattern[bytes]:
    """Translate a Redis glob (``* ? [a-z] [^x] \\x``) into a compiled regex."""
    out = bytearray()
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i : i + 1]
        if c == b"*":
            out += b".*"
        elif c == b"?":
            out += b"."
        elif c == b"[":
            i += 1
            negate = i < n and pattern[i : i + 1] == b"^"
            if negate:
                i += 1
            items = bytearray()
            while i < n and pattern[i : i + 1] != b"]":
                ch = pattern[i : i + 1]
                if ch == b"\\" and i + 1 < n:
                    i += 1
                    items += re.escape(pattern[i : i + 1])
                elif i + 2 < n and pattern[i + 1 : i + 2] == b"-":  # "[--]" is the range '-'..']'
                    lo, hi = pattern[i], pattern[i + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    items += re.escape(bytes([lo])) + b"-" + re.escape(bytes([hi]))
                    i += 2
                else:
                    items += re.escape(ch)
                i += 1
            if not items:
                out += b"(?!)" if not negate else b"."
            else:
                out += b"[" + (b"^" if negate else b"") + bytes(items) + b"]"
        elif c == b"\\" and i + 1 < n:
            i += 1
            out += re.escape(pattern[i : i + 1])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(bytes(out), re.DOTALL | (re.IGNORECASE if nocase else 0))


def glob_match(pattern: bytes, subject: bytes, nocase: bool = False) -> bool:
    """stringmatchlen in bounded time (engine/glob.py); ``*`` alone matches everything, as the
    KEYS/SCAN callers special-case it."""
    if pattern == b"*":
        return True
    return stringmatch(pattern, subject, nocase)
