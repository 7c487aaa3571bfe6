"""engine.util: Redis's argument parsers (string2ll, strtod as getDoubleFromObject uses it)
and the glob matcher (stringmatchlen), checked against the acceptance rules of util.c."""

from __future__ import annotations

import math

import pytest

from engine.errors import CommandError
from engine.util import LLONG_MAX, LLONG_MIN, glob_match, parse_float, parse_int


@pytest.mark.parametrize("text,value", [
    (b"0", 0), (b"7", 7), (b"-7", -7), (b"9223372036854775807", LLONG_MAX), (b"-9223372036854775808", LLONG_MIN),
])
def test_parse_int_accepts_canonical_64_bit_decimals(text: bytes, value: int) -> None:
    assert parse_int(text) == value


@pytest.mark.parametrize("text", [
    b"", b" 1", b"1 ", b"+1", b"01", b"-0", b"1_000", b"1.0", b"0x10", b"9223372036854775808",
    b"-9223372036854775809", b"abc", b"--1",
])
def test_parse_int_rejects_what_string2ll_rejects(text: bytes) -> None:
    assert parse_int(text) is None


@pytest.mark.parametrize("text,value", [
    (b"1", 1.0), (b"-1.5", -1.5), (b".5", 0.5), (b"5.", 5.0), (b"1e3", 1000.0), (b"+2", 2.0),
    (b"inf", math.inf), (b"-inf", -math.inf), (b"+inf", math.inf), (b"Infinity", math.inf),
])
def test_parse_float_accepts_strtod_forms(text: bytes, value: float) -> None:
    assert parse_float(text) == value


@pytest.mark.parametrize("text", [b"", b"nan", b"NaN", b" 1", b"1 ", b"1_0", b"0x1p3", b"e5", b"."])
def test_parse_float_rejects_spaces_nan_and_garbage(text: bytes) -> None:
    with pytest.raises(CommandError, match="not a valid float"):
        parse_float(text)


@pytest.mark.parametrize("pattern,subject,match", [
    (b"*", b"anything", True),
    (b"h?llo", b"hello", True),
    (b"h?llo", b"hllo", False),
    (b"h*llo", b"heeeello", True),
    (b"h[ae]llo", b"hallo", True),
    (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hallo", True),
    (b"h[^e]llo", b"hello", False),
    (b"h[a-b]llo", b"hbllo", True),
    (b"h[b-a]llo", b"hbllo", True),  # reversed range, as stringmatchlen swaps ends
    (b"h\\*llo", b"h*llo", True),
    (b"h\\*llo", b"hello", False),
    (b"user:*", b"user:1", True),
    (b"user:*", b"users:1", False),
    (b"a", b"", False),
    (b"", b"", True),
])
def test_glob_match_follows_stringmatchlen(pattern: bytes, subject: bytes, match: bool) -> None:
    assert glob_match(pattern, subject) is match


def test_glob_match_nocase() -> None:
    assert glob_match(b"HELLO*", b"hello world", nocase=True)
    assert not glob_match(b"HELLO*", b"hello world")
