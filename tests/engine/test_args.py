"""engine/args.py: the argument parsers commands share, with Redis 7.0's acceptance rules and
error texts (object.c's get*FromObjectOrReply, db.c's parseScanCursorOrReply, t_list.c's
lmpopGenericCommand, t_set.c's sinterCardCommand).  The texts are exact: clients match them.

The same parsers are checked end to end against redis-server by tests/differential; these
tests pin the edge cases one by one.
"""

from __future__ import annotations

import pytest

from engine import args
from engine.errors import CommandError

NOT_INTEGER = "ERR value is not an integer or out of range"


def _error(fn, *a, **kw) -> str:
    with pytest.raises(CommandError) as info:
        fn(*a, **kw)
    return str(info.value)


def test_integer_is_string2ll_with_redis_text() -> None:
    assert args.integer(b"-9223372036854775808") == args.LLONG_MIN
    for bad in (b"+1", b" 1", b"01", b"9223372036854775808", b"1.0", b""):
        assert _error(args.integer, bad) == NOT_INTEGER
    assert _error(args.integer, b"x", "ERR timeout is not an integer or out of range") == \
        "ERR timeout is not an integer or out of range"


def test_integer_in_range_words_the_bounds() -> None:
    assert args.integer_in_range(b"5", 0, 5) == 5
    assert _error(args.integer_in_range, b"6", 0, 5) == "ERR value is out of range, value must between 0 and 5"
    assert _error(args.integer_in_range, b"x", 0, 5) == NOT_INTEGER
    # One message for both failures when the caller gives one (getRangeLongFromObjectOrReply).
    assert _error(args.integer_in_range, b"x", 1, 9, "ERR numkeys should be greater than 0") == \
        "ERR numkeys should be greater than 0"


def test_positive_and_int32() -> None:
    assert args.positive(b"0") == 0
    assert _error(args.positive, b"-1") == "ERR value is out of range, must be positive"
    assert _error(args.positive, b"abc") == "ERR value is out of range, must be positive"
    assert args.int32(b"2147483647") == 2147483647
    assert _error(args.int32, b"2147483648") == \
        "ERR value is out of range, value must between -2147483648 and 2147483647"


def test_count_option() -> None:
    assert args.count_option(b"3") == 3
    assert _error(args.count_option, b"0") == "ERR COUNT must be > 0"
    assert _error(args.count_option, b"x") == NOT_INTEGER


def test_leading_flags_stop_at_the_first_other_word() -> None:
    flags, i = args.leading_flags((b"NX", b"ch", b"1", b"nx"), frozenset((b"nx", b"xx", b"ch")))
    assert flags == {b"nx", b"ch"} and i == 2
    assert args.leading_flags((), frozenset((b"nx",))) == (frozenset(), 0)


def test_numkeys_texts_are_the_callers() -> None:
    kw = dict(minimum=1, below_minimum="ERR numkeys should be greater than 0",
              too_many="ERR Number of keys can't be greater than number of args")
    assert args.parse_numkeys(b"2", 2, **kw) == 2
    assert _error(args.parse_numkeys, b"0", 2, **kw) == "ERR numkeys should be greater than 0"
    assert _error(args.parse_numkeys, b"3", 2, **kw) == "ERR Number of keys can't be greater than number of args"
    assert _error(args.parse_numkeys, b"x", 2, **kw) == NOT_INTEGER
    assert _error(args.parse_numkeys, b"3", 2, minimum=0, below_minimum="-") == "ERR syntax error"


def test_intercard_limit() -> None:
    assert args.intercard_limit(()) == 0
    assert args.intercard_limit((b"LIMIT", b"0", b"limit", b"7")) == 7  # the last one wins, as in Redis
    assert _error(args.intercard_limit, (b"LIMIT", b"-1")) == "ERR LIMIT can't be negative"
    assert _error(args.intercard_limit, (b"LIMIT", b"x")) == "ERR LIMIT can't be negative"
    assert _error(args.intercard_limit, (b"LIMIT",)) == "ERR syntax error"


def test_keys_after_numkeys_for_getkeys() -> None:
    assert args.keys_after_numkeys([b"lmpop", b"2", b"a", b"b", b"left"]) == [2, 3]
    assert args.keys_after_numkeys([b"blmpop", b"0", b"2", b"a", b"b", b"left"], 2) == [3, 4]
    assert args.keys_after_numkeys([b"lmpop", b"-1", b"a"]) == []
    assert args.keys_after_numkeys([b"lmpop", b"5", b"a"]) == [2]


def test_scan_cursor_is_strtoul() -> None:
    assert args.scan_cursor(b"0") == 0
    assert args.scan_cursor(b"+7") == 7
    assert args.scan_cursor(b"-1") == args.ULONG_MAX  # a leading '-' wraps, as strtoul does
    assert args.scan_cursor(b"18446744073709551615") == args.ULONG_MAX
    for bad in (b"18446744073709551616", b" 1", b"1x", b""):
        assert _error(args.scan_cursor, bad) == "ERR invalid cursor"


def test_scan_options() -> None:
    o = args.scan_options((b"MATCH", b"k*", b"count", b"5", b"TYPE", b"HASH"), allow_type=True)
    assert (o.count, o.pattern, o.typename) == (5, b"k*", b"hash")
    assert args.scan_options((b"MATCH", b"*"), allow_type=False).pattern is None
    assert _error(args.scan_options, (b"TYPE", b"hash"), allow_type=False) == "ERR syntax error"
    assert _error(args.scan_options, (b"COUNT", b"0"), allow_type=False) == "ERR syntax error"
    assert _error(args.scan_options, (b"COUNT",), allow_type=False) == "ERR syntax error"


def test_mpop_forms() -> None:
    assert args.mpop((b"2", b"a", b"b", b"LEFT"), (b"left", b"right")) == ((b"a", b"b"), True, 1)
    assert args.mpop((b"1", b"z", b"max", b"COUNT", b"3"), (b"min", b"max")) == ((b"z",), False, 3)
    assert _error(args.mpop, (b"0", b"a", b"left"), (b"left", b"right")) == "ERR numkeys should be greater than 0"
    assert _error(args.mpop, (b"1", b"a", b"up"), (b"left", b"right")) == "ERR syntax error"
    assert _error(args.mpop, (b"2", b"a", b"left"), (b"left", b"right")) == "ERR syntax error"
    assert _error(args.mpop, (b"1", b"a", b"left", b"count", b"0"), (b"left", b"right")) == \
        "ERR count should be greater than 0"
    assert _error(args.mpop, (b"1", b"a", b"left", b"count", b"1", b"count", b"2"), (b"left", b"right")) == \
        "ERR syntax error"
