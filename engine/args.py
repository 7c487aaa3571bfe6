"""The arguments of commands, parsed as Redis parses them (mini-redis's ``parse.rs``; Redis's
``get*FromObjectOrReply`` family in object.c and the option loops the commands share).

A handler receives its arguments as bytes; everything that turns them into numbers, flags,
key lists and option values with Redis's acceptance rules and Redis's error texts is here, so
two commands that take the same option (``LIMIT offset count``, ``COUNT``, ``numkeys``, a
SCAN cursor, the ``LMPOP``/``ZMPOP`` tail) take it the same way.  The parsers raise
:class:`~engine.errors.CommandError` with the texts of engine/errors.py; an option's own
text (GEO's ``COUNT must be > 0``) is passed in by the caller when Redis words it per command.

Numbers: :func:`integer` is getLongLongFromObjectOrReply over ``string2ll`` (a canonical signed
64-bit decimal: no spaces, no ``+``, no leading zeros); :func:`parse_float` is
``getDoubleFromObject`` (``strtod`` without spaces or NaN).  The two primitives, ``parse_int``
and ``parse_float``, live in engine/util.py because the rest of the engine (config, ACL,
request parsing) shares them; commands take them from here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import (
    COUNT_NOT_POSITIVE,
    INVALID_CURSOR,
    LIMIT_NEGATIVE,
    NOT_INTEGER,
    NOT_POSITIVE,
    NUMKEYS_NOT_POSITIVE,
    SYNTAX,
    CommandError,
    value_not_in_range,
)
from engine.util import LLONG_MAX, LLONG_MIN, parse_float, parse_int

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "LLONG_MAX",
    "LLONG_MIN",
    "ULONG_MAX",
    "integer",
    "integer_in_range",
    "positive",
    "int32",
    "parse_int",
    "parse_float",
    "count_option",
    "limit_option",
    "leading_flags",
    "parse_numkeys",
    "intercard_limit",
    "keys_after_numkeys",
    "scan_cursor",
    "ScanOptions",
    "scan_options",
    "mpop",
]

INT_MAX = (1 << 31) - 1
INT_MIN = -(1 << 31)
ULONG_MAX = (1 << 64) - 1
_CURSOR_RE = re.compile(rb"[+-]?[0-9]+")


# -- numbers ----------------------------------------------------------------------------------

def integer(raw: bytes, error: str = NOT_INTEGER) -> int:
    """getLongLongFromObjectOrReply: a signed 64-bit integer, else ``error``."""
    n = parse_int(raw)
    if n is None:
        raise CommandError(error)
    return n


def integer_in_range(raw: bytes, lo: int, hi: int, error: str | None = None) -> int:
    """getRangeLongFromObjectOrReply: an integer in [lo, hi]; ``error``, when given, replaces
    both the "not an integer" and the "out of range" texts (Redis passes one message)."""
    n = parse_int(raw)
    if n is None:
        raise CommandError(error or NOT_INTEGER)
    if n < lo or n > hi:
        raise CommandError(error or value_not_in_range(lo, hi))
    return n


def positive(raw: bytes, error: str = NOT_POSITIVE) -> int:
    """getPositiveLongFromObjectOrReply: an integer >= 0; a negative number and a non-number
    are both ``error`` ("value is out of range, must be positive" unless the command words it)."""
    return integer_in_range(raw, 0, LLONG_MAX, error)


def int32(raw: bytes, error: str | None = None) -> int:
    """getIntFromObjectOrReply: a 64-bit parse that must also fit a C int."""
    return integer_in_range(raw, INT_MIN, INT_MAX, error)


# -- options ----------------------------------------------------------------------------------

def count_option(raw: bytes, error: str = COUNT_NOT_POSITIVE) -> int:
    """``COUNT n`` where n must be at least 1 (GEOSEARCH, GEORADIUS, XAUTOCLAIM): a
    non-number is "not an integer", zero or less is ``error``."""
    n = integer(raw)
    if n <= 0:
        raise CommandError(error)
    return n


def limit_option(raw_offset: bytes, raw_count: bytes) -> tuple[int, int]:
    """``LIMIT offset count`` (ZRANGE BYSCORE/BYLEX, ZRANGEBYSCORE, SORT): two integers, taken
    as they are (a negative count means all; a negative offset an empty reply)."""
    return integer(raw_offset), integer(raw_count)


def leading_flags(args: Sequence[bytes], words: frozenset[bytes]) -> tuple[frozenset[bytes], int]:
    """The flags (lower-cased, from ``words``) at the start of ``args`` and the index of the
    first argument that is not one: ZADD's ``NX|XX|GT|LT|CH|INCR`` and GEOADD's
    ``NX|XX|CH`` come before the score/member pairs.  Which combinations are allowed, and the
    text that refuses the others, are each command's own."""
    seen: set[bytes] = set()
    i = 0
    while i < len(args):
        word = args[i].lower()
        if word not in words:
            break
        seen.add(word)
        i += 1
    return frozenset(seen), i


def parse_numkeys(raw: bytes, available: int, *, minimum: int, below_minimum: str, not_integer: str = NOT_INTEGER,
            too_many: str = SYNTAX) -> int:
    """A ``numkeys`` argument followed by ``available`` more arguments: an integer (else
    ``not_integer``) of at least ``minimum`` (else ``below_minimum``) and at most
    ``available`` (else ``too_many``).  The three texts differ between EVAL, SINTERCARD and
    ZUNION/ZINTERCARD, so each caller names its own."""
    n = integer(raw, not_integer)
    if n < minimum:
        raise CommandError(below_minimum)
    if n > available:
        raise CommandError(too_many)
    return n


def intercard_limit(opts: Sequence[bytes]) -> int:
    """The ``[LIMIT limit]`` tail of SINTERCARD and ZINTERCARD: 0 (no limit) or more."""
    limit = 0
    i = 0
    while i < len(opts):
        if opts[i].lower() == b"limit" and i + 1 < len(opts):
            limit = integer_in_range(opts[i + 1], 0, LLONG_MAX, LIMIT_NEGATIVE)
            i += 2
        else:
            raise CommandError(SYNTAX)
    return limit


def keys_after_numkeys(argv: list[bytes], numkeys_index: int = 1) -> list[int]:
    """Key positions of a command whose keys follow a ``numkeys`` argument (COMMAND GETKEYS,
    ACL key checks): nothing when numkeys is not a positive integer."""
    n = parse_int(argv[numkeys_index]) if len(argv) > numkeys_index else None
    if n is None or n <= 0:
        return []
    return list(range(numkeys_index + 1, min(numkeys_index + 1 + n, len(argv))))


# -- SCAN, SSCAN, HSCAN, ZSCAN ----------------------------------------------------------------

def scan_cursor(raw: bytes) -> int:
    """parseScanCursorOrReply: strtoul's rules (a leading ``-`` wraps modulo 2**64, ``+`` is
    allowed, no spaces), else "invalid cursor"."""
    if _CURSOR_RE.fullmatch(raw) is None:
        raise CommandError(INVALID_CURSOR)
    n = int(raw)
    if abs(n) > ULONG_MAX:
        raise CommandError(INVALID_CURSOR)
    return n & ULONG_MAX


@dataclass(frozen=True, slots=True)
class ScanOptions:
    count: int
    pattern: bytes | None  # None for no MATCH, or MATCH *
    typename: bytes | None  # SCAN's TYPE, lower-cased


def scan_options(args: Sequence[bytes], allow_type: bool) -> ScanOptions:
    """The COUNT / MATCH / TYPE options of the SCAN family (scanGenericCommand): a COUNT below
    1 is a syntax error, as Redis words it."""
    count = 10
    pattern: bytes | None = None
    typename: bytes | None = None
    i = 0
    while i < len(args):
        opt = args[i].lower()
        left = len(args) - i
        if opt == b"count" and left >= 2:
            count = integer(args[i + 1])
            if count < 1:
                raise CommandError(SYNTAX)
        elif opt == b"match" and left >= 2:
            pattern = args[i + 1]
            if pattern == b"*":
                pattern = None
        elif opt == b"type" and allow_type and left >= 2:
            typename = args[i + 1].lower()
        else:
            raise CommandError(SYNTAX)
        i += 2
    return ScanOptions(count, pattern, typename)


# -- LMPOP, BLMPOP, ZMPOP, BZMPOP ---------------------------------------------------------------

def mpop(args: Sequence[bytes], where_words: tuple[bytes, bytes]) -> tuple[tuple[bytes, ...], bool, int]:
    """``numkeys key... LEFT|RIGHT [COUNT n]`` (or ``MIN|MAX``), as lmpopGenericCommand and
    zmpopGenericCommand parse it: numkeys and COUNT are at least 1, COUNT at most once.
    Returns (keys, whether the first of ``where_words`` was given, count)."""
    n = integer_in_range(args[0], 1, LLONG_MAX, NUMKEYS_NOT_POSITIVE)
    where_idx = 1 + n
    if where_idx >= len(args):
        raise CommandError(SYNTAX)
    where = args[where_idx].lower()
    if where not in where_words:
        raise CommandError(SYNTAX)
    count = -1
    j = where_idx + 1
    while j < len(args):
        if count == -1 and args[j].lower() == b"count" and j + 1 < len(args):
            count = integer_in_range(args[j + 1], 1, LLONG_MAX, "ERR count should be greater than 0")
            j += 2
        else:
            raise CommandError(SYNTAX)
    return tuple(args[1:where_idx]), where == where_words[0], 1 if count == -1 else count

